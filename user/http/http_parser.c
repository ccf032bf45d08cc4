// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sparse-stream HTTP/1.x parser (model in http_parser.h).
 *
 * Each direction of a connection runs its own state machine over one
 * syscall's bytes at a time. Message heads (their syntax: http_head.h) and
 * chunked framing must be seen: a head within one syscall is read in one
 * pass, one split across syscalls and chunked framing byte by byte as they
 * arrive. Bodies are consumed by count, so bytes whose content is unknown
 * (past the capture size, or lost) flow through them unharmed. Requests wait in a FIFO until the response direction reads the
 * final response that answers them.
 *
 * When a direction loses its place, it waits for a syscall that begins with
 * a start line ("resync"). Only syscall boundaries are trusted: inside a
 * syscall, body bytes can look like anything.
 */
#include "http/http_parser.h"

#include <stdlib.h>
#include <string.h>

#include "http/http_head.h"
#include "lib/hex.h"
#include "lib/spares.h"

/* An UNKNOWN-role connection showing no request line in this many bytes is
 * taken for another protocol. */
#define UNDECIDED_MAX (64 * 1024)
/* A chunk-size line (extensions included) longer than this is garbage. */
#define CHUNK_LINE_MAX 4096
/* Hex digits in a chunk size: 15 keep it below 2^60. */
#define CHUNK_DIGITS_MAX 15
/* First size of a head buffer; it doubles up to HTTP_HEAD_MAX. */
#define HEAD_BUF_MIN 512

enum dir_state {
	ST_IDLE,       /* in sync, between messages */
	ST_SKIP,       /* lost: wait for a syscall that starts a message */
	ST_HEAD,       /* reading a message head */
	ST_LENGTH,     /* counting a Content-Length body */
	ST_CHUNK_SIZE, /* reading a chunk-size line */
	ST_CHUNK_DATA, /* counting chunk data */
	ST_CHUNK_END,  /* reading the CRLF after chunk data */
	ST_TRAILERS,   /* reading the trailer section after the last chunk */
	ST_CLOSE,      /* counting a response body that ends at close */
	ST_LOST,       /* a chunked body whose framing fell in bytes not
			* seen: counted through to its end, which a boundary
			* shows (see read_lost) */
	ST_DONE,       /* the sender said Connection: close: nothing follows */
};

/* How far a head is trusted before its start line proved valid. */
enum head_origin {
	HO_FIRST,     /* first bytes of the request direction: its failure
		       * means the connection does not speak HTTP/1.x */
	HO_SYNC,      /* where the previous message ended: failures are errors */
	HO_CANDIDATE, /* a guess at a syscall boundary: failures are silent */
};


/* Chunked framing phases, in dir.line_phase. */
enum { CS_DIGITS, CS_EXT, CS_LF };          /* ST_CHUNK_SIZE */
enum { CE_CR, CE_LF };                      /* ST_CHUNK_END */
enum { TR_LINE_START, TR_LINE, TR_END_LF }; /* ST_TRAILERS */

enum frame_result { FR_MORE, FR_BAD, FR_END };


/* A request waiting for its final response. */
struct pending {
	char method[HTTP_METHOD_MAX];
	struct http_request *req; /* what the exchange will report */
	uint64_t seq;           /* names the request for body accounting */
	uint64_t start_ns;
	uint64_t body_bytes;
	uint64_t dropped_after; /* requests not held, sent right after it */
};

struct dir {
	enum dir_state st;
	bool pos_known;    /* next_pos is set (UNKNOWN role: by the 1st event) */
	bool first;        /* known role, nothing read yet */
	bool close_after;  /* the message being read has Connection: close */
	bool resync_after; /* resync when the message being read ends */
	uint64_t next_pos;
	uint64_t events;   /* syscalls seen: tells where a head began */
	uint64_t last_ts;  /* of the last syscall seen in this direction */

	/* ST_HEAD */
	enum head_origin origin;
	bool committed;    /* its start line was valid */
	struct head_scan scan;
	uint64_t head_ts;
	uint64_t head_pos;   /* stream position of its first byte */
	uint64_t head_end;   /* ... and of the byte after it, once whole */
	uint64_t head_event;
	size_t head_len;   /* bytes read in earlier syscalls, kept in buf */
	uint8_t *buf;
	size_t buf_cap;

	/* bodies and chunked framing */
	uint64_t left;     /* Content-Length or chunk bytes still due */
	uint64_t body_bytes;
	uint32_t line_len;
	uint8_t line_phase;
};

struct http_conn {
	enum http_role role;
	enum http_conn_protocol proto;
	bool closed;
	uint64_t undecided_bytes; /* seen while the role is UNKNOWN */
	struct dir dir[2];

	struct pending queue[HTTP_PIPELINE_MAX];
	unsigned int q_first, q_len;
	uint64_t next_seq;
	uint64_t body_seq;   /* request whose body is being read, 0: none */
	uint64_t unpaired;   /* final responses due to requests not held */
	bool answering;      /* the response being read answers `answer` */
	struct pending answer;
	int status;

	/* callbacks of the call in progress */
	const struct http_conn_callbacks *cb;
	void *ctx;
};

/* One syscall's bytes, or a run of lost bytes (data NULL, lost set). */
struct event {
	const uint8_t *data;
	uint64_t captured, total, off;
	uint64_t pos; /* stream position of its byte 0 */
	uint64_t ts;
	bool lost;
};

/* ---- connection helpers ---- */

static void emit_error(struct http_conn *c, enum http_parse_error err)
{
	if (c->cb && c->cb->on_error)
		c->cb->on_error(c->ctx, err);
}

static void emit_unmeasured(struct http_conn *c, enum http_unmeasured why,
			    unsigned int n)
{
	for (unsigned int i = 0; c->cb && c->cb->on_unmeasured && i < n; i++)
		c->cb->on_unmeasured(c->ctx, why);
}

static struct dir *request_dir(struct http_conn *c)
{
	return &c->dir[c->role == HTTP_ROLE_SERVER ? HTTP_DIR_INGRESS
						   : HTTP_DIR_EGRESS];
}

static struct dir *response_dir(struct http_conn *c)
{
	return &c->dir[c->role == HTTP_ROLE_SERVER ? HTTP_DIR_EGRESS
						   : HTTP_DIR_INGRESS];
}

/* Until the role is known, either direction may carry the requests. */
static bool is_request_dir(struct http_conn *c, const struct dir *d)
{
	return c->role == HTTP_ROLE_UNKNOWN || d == request_dir(c);
}

static enum http_parse_error malformed(struct http_conn *c,
				       const struct dir *d)
{
	return is_request_dir(c, d) ? HTTP_ERR_MALFORMED_REQUEST
				    : HTTP_ERR_MALFORMED_RESPONSE;
}

/*
 * A request is allocated when its head is read and freed at its answer,
 * and a connection's parser state with the connection: freed ones are
 * kept for the next (lib/spares.h), since glibc's malloc and free of a
 * request cost about 500 instructions per exchange (callgrind), a tenth of
 * the parser. Per thread, as a thread's connections are parsed on it
 * alone.
 */
static _Thread_local struct spares spare_requests, spare_conns;

static struct http_request *request_alloc(void)
{
	return spares_take(&spare_requests, sizeof(struct http_request));
}

/* Every queued request was seen by on_request: it hears of the end too. */
static void request_free(struct http_conn *c, struct http_request *r)
{
	if (c->cb && c->cb->on_request_end)
		c->cb->on_request_end(c->ctx, r);
	spares_give(&spare_requests, r);
}

static struct pending *queue_at(struct http_conn *c, unsigned int i)
{
	return &c->queue[(c->q_first + i) % HTTP_PIPELINE_MAX];
}

static void queue_clear(struct http_conn *c)
{
	for (unsigned int i = 0; i < c->q_len; i++)
		request_free(c, queue_at(c, i)->req);
	c->q_first = c->q_len = 0;
	c->unpaired = 0;
}

static void unbind(struct http_conn *c)
{
	if (c->answering)
		request_free(c, c->answer.req);
	c->answer.req = NULL;
	c->answering = false;
}

/*
 * Holds a request until its answer comes. One that cannot be held (queue
 * full, or no memory for its target) is counted, and remembered only as an
 * answer to skip, so that later answers still meet their own requests.
 */
static void copy_value(char *dst, size_t size, const uint8_t *src,
		       size_t len)
{
	if (len > size - 1)
		len = size - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Every field of r is set: a request is allocated per request, and
 * clearing its 2 KiB was a sixth of the daemon's time per exchange. */
static void fill_request(struct http_request *r, const struct head_info *hi,
			 uint64_t start_ns, uint64_t stream_pos)
{
	struct http_request_headers *h = &r->headers;
	char *const dst[TRACE_HEADERS] = {
		h->host, h->user_agent, h->traceparent, h->b3,
		h->x_b3_traceid, h->x_b3_spanid, h->x_b3_sampled, h->x_b3_flags,
	};
	const size_t size[TRACE_HEADERS] = {
		sizeof(h->host), sizeof(h->user_agent), sizeof(h->traceparent),
		sizeof(h->b3), sizeof(h->x_b3_traceid), sizeof(h->x_b3_spanid),
		sizeof(h->x_b3_sampled), sizeof(h->x_b3_flags),
	};

	copy_value(r->method, sizeof(r->method), hi->method, hi->method_len);
	copy_value(r->target, sizeof(r->target), hi->target, hi->target_len);
	for (int i = 0; i < TRACE_HEADERS; i++)
		copy_value(dst[i], size[i], hi->headers[i].p,
			   hi->headers[i].len);
	if (hi->traceparent_count > 1)
		h->traceparent[0] = '\0';
	r->start_ns = start_ns;
	r->stream_pos = stream_pos;
	r->end_pos = 0;
	memset(r->user, 0, sizeof(r->user));
}

/*
 * Holds a request until its answer comes. One that cannot be held (queue
 * full, or no memory for it) is counted, and remembered only as an answer
 * to skip, so that later answers still meet their own requests.
 */
static void queue_request(struct http_conn *c, const struct dir *d,
			  const struct head_info *hi)
{
	struct http_request *req = NULL;
	struct pending *p;

	c->body_seq = 0;
	if (c->q_len < HTTP_PIPELINE_MAX)
		req = request_alloc();
	if (!req) {
		emit_error(c, HTTP_ERR_PIPELINE_OVERFLOW);
		emit_unmeasured(c, HTTP_UNMEASURED_OVERFLOW, 1);
		if (c->q_len)
			queue_at(c, c->q_len - 1)->dropped_after++;
		else
			c->unpaired++;
		return;
	}
	fill_request(req, hi, d->head_ts, d->head_pos);
	if (!hi->has_te)
		req->end_pos = d->head_end + (hi->has_length ? hi->length : 0);
	p = queue_at(c, c->q_len++);
	memset(p, 0, sizeof(*p));
	memcpy(p->method, hi->method, hi->method_len); /* < HTTP_METHOD_MAX */
	p->req = req;
	p->seq = c->next_seq++;
	p->start_ns = d->head_ts;
	c->body_seq = p->seq;
	if (c->cb && c->cb->on_request)
		c->cb->on_request(c->ctx, req);
}

/* Pairs a final response with the oldest waiting request, if any. */
static bool bind_answer(struct http_conn *c)
{
	if (c->unpaired) {
		c->unpaired--; /* answers a request counted as not held */
		return false;
	}
	if (!c->q_len) {
		emit_error(c, HTTP_ERR_UNMATCHED_RESPONSE);
		return false;
	}
	c->answer = *queue_at(c, 0);
	c->q_first = (c->q_first + 1) % HTTP_PIPELINE_MAX;
	c->q_len--;
	c->unpaired = c->answer.dropped_after;
	c->answering = true;
	return true;
}

/* A request body may still flow while its answer is being read (100
 * Continue, or an early answer), so follow the request wherever it is. */
static void request_body_add(struct http_conn *c, uint64_t n)
{
	struct pending *tail = c->q_len ? queue_at(c, c->q_len - 1) : NULL;

	if (tail && tail->seq == c->body_seq)
		tail->body_bytes += n;
	else if (c->answering && c->answer.seq == c->body_seq)
		c->answer.body_bytes += n;
}

static void report(struct http_conn *c, const struct dir *rsp,
		   uint64_t end_ns)
{
	struct http_exchange ex;

	if (!c->cb || !c->cb->on_exchange)
		return;
	if (end_ns < c->answer.start_ns) {
		/* Its times cannot both be right: no made-up latency. */
		emit_error(c, HTTP_ERR_INCOMPLETE);
		return;
	}
	ex = (struct http_exchange){
		.role = c->role,
		.method = c->answer.method,
		.target = c->answer.req->target, /* cut when queued */
		.status = c->status,
		.start_ns = c->answer.start_ns,
		.end_ns = end_ns,
		.request_body_bytes = c->answer.body_bytes,
		.response_body_bytes = rsp->body_bytes,
		.request = c->answer.req,
	};
	c->cb->on_exchange(c->ctx, &ex);
}

/* ---- state changes ---- */

static void drop_head(struct dir *d)
{
	free(d->buf);
	d->buf = NULL;
	d->buf_cap = 0;
	d->head_len = 0;
}

/* Keeps head bytes that continue in a later syscall. The caller checked
 * that the head stays within HTTP_HEAD_MAX. */
static bool head_append(struct dir *d, const uint8_t *p, size_t n)
{
	size_t need = d->head_len + n;

	if (need > d->buf_cap) {
		size_t cap = d->buf_cap ? d->buf_cap : HEAD_BUF_MIN;
		uint8_t *buf;

		while (cap < need)
			cap *= 2;
		if (cap > HTTP_HEAD_MAX)
			cap = HTTP_HEAD_MAX;
		buf = realloc(d->buf, cap);
		if (!buf)
			return false;
		d->buf = buf;
		d->buf_cap = cap;
	}
	memcpy(d->buf + d->head_len, p, n);
	d->head_len = need;
	return true;
}

/* This direction no longer knows where messages start. */
static void resync(struct dir *d)
{
	drop_head(d);
	if (d->st != ST_DONE)
		d->st = ST_SKIP;
	d->resync_after = false;
}

static bool in_body(const struct dir *d)
{
	switch (d->st) {
	case ST_LENGTH:
	case ST_CHUNK_SIZE:
	case ST_CHUNK_DATA:
	case ST_CHUNK_END:
	case ST_TRAILERS:
	case ST_CLOSE:
	case ST_LOST:
		return true;
	default:
		return false;
	}
}

/*
 * Direction d lost its place, for reason err. Answers can no longer be
 * matched to waiting requests with confidence, so those are forgotten and
 * the response direction resyncs too: at once, or after the body it is
 * reading when d is the request direction, since that body's framing is
 * still known and it answers a request seen before the loss.
 */
static void desync(struct http_conn *c, struct dir *d,
		   enum http_parse_error err)
{
	struct dir *rsp = response_dir(c);

	emit_error(c, err);
	resync(d);
	emit_unmeasured(c, HTTP_UNMEASURED_FORGOTTEN, c->q_len);
	queue_clear(c);
	if (rsp != d && in_body(rsp)) {
		rsp->resync_after = true;
	} else {
		resync(rsp);
		emit_unmeasured(c, HTTP_UNMEASURED_FORGOTTEN, c->answering);
		unbind(c);
	}
}

/* Not (or no longer) HTTP/1.x: let everything go. */
static void become_other(struct http_conn *c)
{
	c->proto = HTTP_PROTO_OTHER;
	drop_head(&c->dir[HTTP_DIR_INGRESS]);
	drop_head(&c->dir[HTTP_DIR_EGRESS]);
	queue_clear(c);
	unbind(c);
}

static void message_done(struct http_conn *c, struct dir *d)
{
	if (is_request_dir(c, d))
		c->body_seq = 0;
	if (d->close_after)
		d->st = ST_DONE;
	else if (d->resync_after)
		d->st = ST_SKIP;
	else
		d->st = ST_IDLE;
	d->close_after = d->resync_after = false;
}

static void response_done(struct http_conn *c, struct dir *d, uint64_t ts)
{
	if (c->answering)
		report(c, d, ts);
	unbind(c);
	message_done(c, d);
}

static void message_end(struct http_conn *c, struct dir *d, uint64_t ts)
{
	if (is_request_dir(c, d))
		message_done(c, d);
	else
		response_done(c, d, ts);
}

static void start_length(struct dir *d, uint64_t n)
{
	d->st = ST_LENGTH;
	d->left = n;
}

static void start_chunk_size(struct dir *d)
{
	d->st = ST_CHUNK_SIZE;
	d->left = 0;
	d->line_len = 0;
	d->line_phase = CS_DIGITS;
}

static void request_head(struct http_conn *c, struct dir *d,
			 const struct head_info *hi)
{
	struct dir *rsp = response_dir(c);

	/* A client sends its next request once the answer is in: a response
	 * whose end was not seen ended with its last syscall before this. */
	if (rsp->st == ST_LOST && c->role != HTTP_ROLE_UNKNOWN)
		response_done(c, rsp, rsp->last_ts);
	queue_request(c, d, hi);
	d->close_after = hi->close;
	d->body_bytes = 0;
	if (hi->chunked)
		start_chunk_size(d);
	else if (hi->length)
		start_length(d, hi->length);
	else
		message_done(c, d);
}

static void response_head(struct http_conn *c, struct dir *d,
			  const struct head_info *hi, uint64_t ts)
{
	bool bound, head, tunnel;
	struct dir *req = request_dir(c);

	/* An answer is written once its request is read: a request body
	 * whose end was not seen has ended. */
	if (req->st == ST_LOST)
		message_done(c, req);
	d->body_bytes = 0;
	if (hi->status < 200 && hi->status != 101) {
		/* 100 Continue, 103 Early Hints: the final answer follows */
		message_done(c, d);
		return;
	}
	c->status = hi->status;
	bound = bind_answer(c);
	d->close_after = hi->close;
	head = bound && !strcmp(c->answer.method, "HEAD");
	/* RFC 9110 9.3.6: after a 2xx to CONNECT the bytes are a tunnel's */
	tunnel = hi->status == 101 ||
		 (bound && !strcmp(c->answer.method, "CONNECT") &&
		  hi->status / 100 == 2);
	if (tunnel) {
		response_done(c, d, ts);
		become_other(c);
	} else if (head || hi->status == 204 || hi->status == 304) {
		response_done(c, d, ts);
	} else if (hi->chunked) {
		start_chunk_size(d);
	} else if (hi->has_te || !hi->has_length) {
		d->st = ST_CLOSE;
	} else if (hi->length) {
		start_length(d, hi->length);
	} else {
		response_done(c, d, ts);
	}
}

/* ---- reading heads ---- */

static void begin_head(struct http_conn *c, struct dir *d,
		       const struct event *ev, enum head_origin origin)
{
	bool request = is_request_dir(c, d);

	d->st = ST_HEAD;
	d->origin = origin;
	d->committed = false;
	d->first = false;
	d->head_ts = ev->ts;
	d->head_pos = ev->pos + ev->off;
	d->head_event = d->events;
	d->head_len = 0;
	head_scan_begin(&d->scan, request, origin == HO_CANDIDATE);
}

/* The start line is valid: a request line makes the connection HTTP and,
 * when the role was unknown, says who is the server. */
static void commit(struct http_conn *c, struct dir *d)
{
	d->committed = true;
	if (!is_request_dir(c, d))
		return;
	c->proto = HTTP_PROTO_HTTP;
	if (c->role == HTTP_ROLE_UNKNOWN) {
		c->role = d == &c->dir[HTTP_DIR_INGRESS] ? HTTP_ROLE_SERVER
							 : HTTP_ROLE_CLIENT;
		resync(response_dir(c)); /* drops a request-line guess */
	}
}

/*
 * The head being read cannot become a message. Only heads known to be HTTP
 * count an error; a failed guess goes quietly. The syscall where it failed
 * starts at a boundary too: if the head began in an earlier one, this one
 * gets its own chance from its first byte.
 */
static void head_failed(struct http_conn *c, struct dir *d,
			struct event *ev, enum http_parse_error err)
{
	bool began_earlier = d->head_event != d->events;

	/* A request was there: its start line was read, or the bytes where
	 * one starts were not copied (a lost start is the kernel's count). */
	if (is_request_dir(c, d) && c->role != HTTP_ROLE_UNKNOWN &&
	    (d->committed || err == HTTP_ERR_HEAD_NOT_CAPTURED ||
	     (err == HTTP_ERR_HEAD_TOO_LARGE && d->origin == HO_SYNC)))
		emit_unmeasured(c, HTTP_UNMEASURED_HEAD, 1);
	if (d->committed || d->origin == HO_SYNC)
		desync(c, d, err);
	else
		resync(d);
	ev->off = began_earlier ? 0 : ev->total;
}

/* The head just read, whole and valid (hi), becomes a message. */
static void head_done(struct http_conn *c, struct dir *d,
		      const struct head_info *hi, uint64_t ts)
{
	if (is_request_dir(c, d))
		request_head(c, d, hi);
	else
		response_head(c, d, hi, ts);
	drop_head(d);
}

static void head_complete(struct http_conn *c, struct dir *d,
			  struct event *ev, size_t n)
{
	const uint8_t *head = ev->data + ev->off;
	size_t len = n;
	struct head_info hi;

	/* Zero copy when the whole head came in this syscall. */
	if (d->head_len) {
		if (!head_append(d, head, n)) {
			head_failed(c, d, ev, HTTP_ERR_HEAD_TOO_LARGE);
			return;
		}
		head = d->buf;
		len = d->head_len;
	}
	ev->off += n;
	d->head_end = ev->pos + ev->off;
	if (!head_parse(head, len, is_request_dir(c, d), &hi)) {
		head_failed(c, d, ev, malformed(c, d));
		return;
	}
	head_done(c, d, &hi, ev->ts);
}

/*
 * A head that starts in this syscall and ends in it, valid, is read in one
 * pass (http_head.h): most heads. True if it was; else the scanner reads
 * the bytes and judges them. Not for resync guesses (known_only), which
 * are rare.
 */
static bool read_whole_head(struct http_conn *c, struct dir *d,
			    struct event *ev)
{
	struct head_info hi;
	size_t len;

	if (d->head_len || d->scan.known_only)
		return false;
	len = head_parse_whole(ev->data + ev->off, ev->captured - ev->off,
			       d->scan.request, &hi);
	if (!len || len > HTTP_HEAD_MAX)
		return false;
	commit(c, d);
	ev->off += len;
	d->head_end = ev->pos + ev->off;
	head_done(c, d, &hi, ev->ts);
	return true;
}

static void read_head(struct http_conn *c, struct dir *d, struct event *ev)
{
	const uint8_t *p = ev->data + ev->off;
	size_t n = ev->captured - ev->off;
	/* The head may not pass HTTP_HEAD_MAX: of this event, bytes [0, room)
	 * fit (head_len, the bytes kept from earlier events, does not change
	 * in the loop; a local, or it is reloaded at every byte). */
	size_t room = d->head_len < HTTP_HEAD_MAX ? HTTP_HEAD_MAX - d->head_len
						  : 0;

	if (read_whole_head(c, d, ev))
		return;
	for (size_t i = 0; i < n; i++) {
		/* A field line's bytes are not checked one by one (the head
		 * parser reads the fields once the head is whole): on to the
		 * line's end. Most of a head is field lines. */
		if (head_scan_in_field(&d->scan)) {
			const uint8_t *lf = memchr(p + i, '\n', n - i);

			i = lf ? (size_t)(lf - p) : n;
		}
		/* Byte i would be past the bound, or (no line end here) the
		 * bytes kept would. */
		if (i < n ? i >= room : n > room) {
			head_failed(c, d, ev, HTTP_ERR_HEAD_TOO_LARGE);
			return;
		}
		if (i == n)
			break;
		switch (head_scan_byte(&d->scan, p[i])) {
		case SCAN_MORE:
			break;
		case SCAN_LINE:
			commit(c, d);
			break;
		case SCAN_DONE:
			head_complete(c, d, ev, i + 1);
			return;
		case SCAN_BAD:
			if (!d->committed && d->origin == HO_FIRST)
				become_other(c); /* TLS, SSH, binary, ... */
			else
				head_failed(c, d, ev, malformed(c, d));
			return;
		}
	}
	if (!head_append(d, p, n)) {
		head_failed(c, d, ev, HTTP_ERR_HEAD_TOO_LARGE);
		return;
	}
	ev->off += n;
}

/* ---- reading bodies ---- */

/* Bodies are counted: their bytes may be known or not. */
static void consume_body(struct http_conn *c, struct dir *d,
			 struct event *ev)
{
	uint64_t take = ev->total - ev->off;

	if (d->st != ST_CLOSE && d->left < take)
		take = d->left;
	ev->off += take;
	d->body_bytes += take;
	if (is_request_dir(c, d))
		request_body_add(c, take);
	if (d->st == ST_CLOSE)
		return;
	d->left -= take;
	if (d->left)
		return;
	if (d->st == ST_CHUNK_DATA) {
		d->st = ST_CHUNK_END;
		d->line_phase = CE_CR;
	} else {
		message_end(c, d, ev->ts);
	}
}

static enum frame_result chunk_size_done(struct dir *d)
{
	if (d->left) {
		d->st = ST_CHUNK_DATA;
	} else {
		d->st = ST_TRAILERS;
		d->line_len = 0;
		d->line_phase = TR_LINE_START;
	}
	return FR_MORE;
}

static enum frame_result chunk_size_eol(struct dir *d, uint8_t c)
{
	if (c == '\n')
		return chunk_size_done(d);
	if (c != '\r')
		return FR_BAD;
	d->line_phase = CS_LF;
	return FR_MORE;
}

/* chunk-size [ chunk-ext ] CRLF; extensions are not interpreted. */
static enum frame_result chunk_size_byte(struct dir *d, uint8_t c)
{
	int v = hex_value(c);

	if (++d->line_len > CHUNK_LINE_MAX)
		return FR_BAD;
	switch (d->line_phase) {
	case CS_DIGITS:
		if (v >= 0) {
			if (d->line_len > CHUNK_DIGITS_MAX)
				return FR_BAD;
			d->left = d->left * 16 + v;
			return FR_MORE;
		}
		if (d->line_len == 1)
			return FR_BAD; /* no digits */
		if (c == ';' || c == ' ' || c == '\t') {
			d->line_phase = CS_EXT;
			return FR_MORE;
		}
		return chunk_size_eol(d, c);
	case CS_EXT:
		if (c == '\r' || c == '\n')
			return chunk_size_eol(d, c);
		return head_is_value_ctl(c) ? FR_BAD : FR_MORE;
	case CS_LF:
		return c == '\n' ? chunk_size_done(d) : FR_BAD;
	}
	return FR_BAD;
}

static enum frame_result chunk_end_byte(struct dir *d, uint8_t c)
{
	if (d->line_phase == CE_CR && c == '\r') {
		d->line_phase = CE_LF;
		return FR_MORE;
	}
	if (c != '\n')
		return FR_BAD;
	start_chunk_size(d);
	return FR_MORE;
}

/* Trailer fields are skipped: only the empty line that ends them counts. */
static enum frame_result trailer_byte(struct dir *d, uint8_t c)
{
	if (++d->line_len > HTTP_HEAD_MAX)
		return FR_BAD;
	switch (d->line_phase) {
	case TR_LINE_START:
		if (c == '\n')
			return FR_END;
		d->line_phase = c == '\r' ? TR_END_LF : TR_LINE;
		return FR_MORE;
	case TR_LINE:
		if (c == '\n')
			d->line_phase = TR_LINE_START;
		return FR_MORE;
	case TR_END_LF:
		return c == '\n' ? FR_END : FR_BAD;
	}
	return FR_BAD;
}

static bool in_framing(const struct dir *d)
{
	return d->st == ST_CHUNK_SIZE || d->st == ST_CHUNK_END ||
	       d->st == ST_TRAILERS;
}

static void read_chunk_framing(struct http_conn *c, struct dir *d,
			       struct event *ev)
{
	while (ev->off < ev->captured && in_framing(d)) {
		uint8_t ch = ev->data[ev->off++];
		enum frame_result r;

		if (d->st == ST_CHUNK_SIZE)
			r = chunk_size_byte(d, ch);
		else if (d->st == ST_CHUNK_END)
			r = chunk_end_byte(d, ch);
		else
			r = trailer_byte(d, ch);
		if (r == FR_BAD) {
			desync(c, d, HTTP_ERR_BAD_CHUNK);
			return;
		}
		if (r == FR_END) {
			message_end(c, d, ev->ts);
			return;
		}
	}
}

/* The CRLF after chunk data, in bytes of a syscall that were not copied
 * (the kernel copies a body's first bytes only): nothing else may stand
 * there, so it is taken as read. The next chunk-size line is then often
 * the first bytes of the next syscall, which are copied. */
static void skip_chunk_end(struct dir *d, struct event *ev)
{
	uint64_t due = d->line_phase == CE_CR ? 2 : 1;
	uint64_t take = ev->total - ev->off < due ? ev->total - ev->off : due;

	ev->off += take;
	if (take == due)
		start_chunk_size(d);
	else
		d->line_phase = CE_LF;
}

/* ---- chunked bodies whose framing was not seen ---- */

/*
 * The kernel copies only the first bytes of each syscall, and may lose
 * events: a chunk-size line there is not seen, so the body's end cannot be
 * counted. The message is still one: it runs on until a boundary shows its
 * end, and its bytes are counted (not parsed) till then:
 *  - a syscall whose captured bytes end with the last chunk (and trailers):
 *    the message ends with it (read_lost);
 *  - a syscall that starts the next message in this direction (a status
 *    line, a request line): it ended with the syscall before (read_lost);
 *  - for a response, the next request (request_head): clients wait for an
 *    answer before they ask again; for a request, its answer
 *    (response_head);
 *  - the close, as a close-delimited body ends (conn_end).
 * So it is counted once, and its end is a syscall that carried its bytes.
 * A response that answers nothing gains nothing from this: it resyncs.
 */
static void lose_framing(struct http_conn *c, struct dir *d)
{
	if (is_request_dir(c, d) ? c->role != HTTP_ROLE_UNKNOWN
				 : c->answering)
		d->st = ST_LOST;
	else
		desync(c, d, HTTP_ERR_GAP);
}

/* The last chunk, "0[;ext]" CRLF, trailer lines, CRLF, exactly p[0, n). */
static bool is_last_chunk(const uint8_t *p, size_t n)
{
	struct dir t = { .st = ST_CHUNK_SIZE, .line_phase = CS_DIGITS };

	for (size_t i = 0; i < n; i++) {
		enum frame_result r = t.st == ST_CHUNK_SIZE
					      ? chunk_size_byte(&t, p[i])
					      : trailer_byte(&t, p[i]);

		if (r == FR_BAD || (t.st == ST_CHUNK_DATA) ||
		    (r == FR_END && i + 1 != n))
			return false;
		if (r == FR_END)
			return true;
	}
	return false;
}

/* Trailers are a few fields at most: the last chunk is looked for this
 * far from a syscall's end. */
#define LAST_CHUNK_MAX 512

/* The bytes ev->data[from, captured) end the chunked body: the last chunk
 * starts at a syscall's first byte or after a CRLF, and runs to the end. */
static bool ends_chunked(const struct event *ev, uint64_t from)
{
	uint64_t p = ev->captured > LAST_CHUNK_MAX ? ev->captured - LAST_CHUNK_MAX
						   : 0;

	for (p = p > from ? p : from; p < ev->captured; p++) {
		if (ev->data[p] != '0')
			continue;
		/* at the syscall's first byte, or after a CRLF */
		if (p && (p < 2 || ev->data[p - 2] != '\r' ||
			  ev->data[p - 1] != '\n'))
			continue;
		if (is_last_chunk(ev->data + p, ev->captured - p))
			return true;
	}
	return false;
}

/* The captured bytes of ev, from its first, start a message in d. */
static bool starts_message(struct http_conn *c, const struct dir *d,
			   const struct event *ev)
{
	static const char status[] = "HTTP/1.";
	size_t n = ev->captured;

	if (!is_request_dir(c, d))
		return n >= sizeof(status) - 1 &&
		       !memcmp(ev->data, status, sizeof(status) - 1);
	return head_starts_common_method(ev->data, n);
}

static void lost_message_end(struct http_conn *c, struct dir *d, uint64_t ts)
{
	if (is_request_dir(c, d))
		message_done(c, d);
	else
		response_done(c, d, ts);
}

/* The rest of ev is body bytes of the lost message. */
static void count_lost(struct http_conn *c, struct dir *d, struct event *ev)
{
	uint64_t n = ev->total - ev->off;

	ev->off = ev->total;
	d->body_bytes += n;
	if (is_request_dir(c, d))
		request_body_add(c, n);
}

static void read_lost(struct http_conn *c, struct dir *d, struct event *ev)
{
	bool seen = !ev->lost && ev->captured;

	if (seen && ev->off == 0 && starts_message(c, d, ev)) {
		lost_message_end(c, d, d->last_ts);
		if (d->st == ST_IDLE)
			begin_head(c, d, ev, HO_CANDIDATE);
		return;
	}
	/* Only a syscall seen to its end can show where the body ends. */
	if (seen && ev->captured == ev->total && ends_chunked(ev, ev->off)) {
		count_lost(c, d, ev);
		lost_message_end(c, d, ev->ts);
		return;
	}
	count_lost(c, d, ev);
}

/* ---- driving ---- */

/* Moves ev->off forward by one state's worth of bytes. */
static void step(struct http_conn *c, struct dir *d, struct event *ev)
{
	bool known = ev->off < ev->captured;

	if (!is_request_dir(c, d) && c->proto != HTTP_PROTO_HTTP) {
		/* No request was seen yet, so this answers nothing. */
		d->st = ST_SKIP;
		ev->off = ev->total;
		return;
	}
	switch (d->st) {
	case ST_IDLE:
		begin_head(c, d, ev,
			   is_request_dir(c, d) && d->first ? HO_FIRST
							    : HO_SYNC);
		return;
	case ST_SKIP:
		if (ev->off == 0 && known)
			begin_head(c, d, ev, HO_CANDIDATE);
		else
			ev->off = ev->total;
		return;
	case ST_DONE:
		ev->off = ev->total;
		return;
	case ST_HEAD:
		if (known)
			read_head(c, d, ev);
		else
			head_failed(c, d, ev,
				    ev->lost ? HTTP_ERR_GAP
					     : HTTP_ERR_HEAD_NOT_CAPTURED);
		return;
	case ST_LENGTH:
	case ST_CHUNK_DATA:
	case ST_CLOSE:
		consume_body(c, d, ev);
		return;
	case ST_CHUNK_SIZE:
	case ST_CHUNK_END:
	case ST_TRAILERS:
		if (known)
			read_chunk_framing(c, d, ev);
		else if (d->st == ST_CHUNK_END && !ev->lost)
			skip_chunk_end(d, ev);
		else
			lose_framing(c, d);
		return;
	case ST_LOST:
		read_lost(c, d, ev);
		return;
	}
}

static void feed(struct http_conn *c, struct dir *d, struct event *ev)
{
	while (ev->off < ev->total && c->proto != HTTP_PROTO_OTHER)
		step(c, d, ev);
}

struct http_conn *http_conn_new(enum http_role role)
{
	struct http_conn *c = spares_take_zeroed(&spare_conns, sizeof(*c));

	if (!c)
		return NULL;
	if (role != HTTP_ROLE_SERVER && role != HTTP_ROLE_CLIENT)
		role = HTTP_ROLE_UNKNOWN;
	c->role = role;
	c->next_seq = 1;
	for (int i = 0; i < 2; i++) {
		struct dir *d = &c->dir[i];

		if (role == HTTP_ROLE_UNKNOWN) {
			/* first seen mid-stream: only boundaries can tell */
			d->st = ST_SKIP;
		} else {
			d->st = ST_IDLE;
			d->pos_known = true;
			d->first = true;
		}
	}
	return c;
}

/* Releases what only parsing needs; the connection stays answerable. */
static void release(struct http_conn *c)
{
	drop_head(&c->dir[HTTP_DIR_INGRESS]);
	drop_head(&c->dir[HTTP_DIR_EGRESS]);
	queue_clear(c);
	unbind(c);
}

void http_conn_free(struct http_conn *conn)
{
	if (!conn)
		return;
	release(conn);
	spares_give(&spare_conns, conn);
}

void http_conn_data(struct http_conn *conn, enum http_dir dir, uint64_t pos,
		    const uint8_t *data, size_t captured, size_t total,
		    uint64_t ts_ns, const struct http_conn_callbacks *cb,
		    void *ctx)
{
	struct event ev = { .ts = ts_ns, .total = total };
	struct dir *d;
	uint64_t lost;

	if (!conn || conn->closed || conn->proto == HTTP_PROTO_OTHER ||
	    (dir != HTTP_DIR_INGRESS && dir != HTTP_DIR_EGRESS))
		return;
	d = &conn->dir[dir];
	conn->cb = cb;
	conn->ctx = ctx;
	if (!d->pos_known) {
		d->next_pos = pos;
		d->pos_known = true;
	}
	if (pos < d->next_pos) {
		/* reordered or repeated: these bytes were accounted for */
		if (conn->role != HTTP_ROLE_UNKNOWN)
			emit_error(conn, HTTP_ERR_GAP);
		goto out;
	}
	lost = pos - d->next_pos;
	d->next_pos = pos + total;
	d->events++;
	if (lost) {
		struct event gap = { .total = lost, .pos = pos - lost,
				     .ts = ts_ns, .lost = true };

		feed(conn, d, &gap);
	}
	ev.pos = pos;
	ev.data = data;
	ev.captured = data ? (captured < total ? captured : total) : 0;
	feed(conn, d, &ev);
	d->last_ts = ts_ns;
	if (conn->role == HTTP_ROLE_UNKNOWN &&
	    conn->proto != HTTP_PROTO_OTHER) {
		conn->undecided_bytes += total;
		if (conn->undecided_bytes >= UNDECIDED_MAX)
			become_other(conn);
	}
out:
	conn->cb = NULL;
	conn->ctx = NULL;
}

/* The connection's end: seen (a close at ts_ns), or not (abandoned). */
static void conn_end(struct http_conn *conn, bool seen_close, uint64_t ts_ns,
		     const struct http_conn_callbacks *cb, void *ctx)
{
	struct dir *req, *rsp;

	if (!conn || conn->closed)
		return;
	conn->closed = true;
	conn->cb = cb;
	conn->ctx = ctx;
	if (conn->proto != HTTP_PROTO_OTHER &&
	    conn->role != HTTP_ROLE_UNKNOWN) {
		req = request_dir(conn);
		rsp = response_dir(conn);
		if (conn->answering) {
			/* Only the close itself ends a close-delimited body
			 * (without it, its end is unknown); the last byte was
			 * handed over by the last syscall before it. */
			if (seen_close &&
			    (rsp->st == ST_CLOSE || rsp->st == ST_LOST))
				response_done(conn, rsp, rsp->last_ts);
			else
				emit_error(conn, HTTP_ERR_INCOMPLETE);
		}
		for (unsigned int i = 0; i < conn->q_len; i++)
			emit_error(conn, HTTP_ERR_INCOMPLETE);
		/* a request cut inside its head was never queued */
		if (req->st == ST_HEAD &&
		    (req->committed || req->origin == HO_SYNC))
			emit_error(conn, HTTP_ERR_INCOMPLETE);
	}
	release(conn);
	conn->cb = NULL;
	conn->ctx = NULL;
}

void http_conn_close(struct http_conn *conn, uint64_t ts_ns,
		     const struct http_conn_callbacks *cb, void *ctx)
{
	conn_end(conn, true, ts_ns, cb, ctx);
}

void http_conn_abandon(struct http_conn *conn,
		       const struct http_conn_callbacks *cb, void *ctx)
{
	conn_end(conn, false, 0, cb, ctx);
}

enum http_conn_protocol http_conn_protocol(const struct http_conn *conn)
{
	return conn ? conn->proto : HTTP_PROTO_UNKNOWN;
}

enum http_role http_conn_role(const struct http_conn *conn)
{
	return conn ? conn->role : HTTP_ROLE_UNKNOWN;
}

const char *http_unmeasured_name(enum http_unmeasured why)
{
	static const char *const names[HTTP_UNMEASURED__COUNT] = {
		[HTTP_UNMEASURED_FORGOTTEN] = "forgotten",
		[HTTP_UNMEASURED_HEAD] = "head_unreadable",
		[HTTP_UNMEASURED_OVERFLOW] = "pipeline_overflow",
	};

	if ((unsigned int)why >= HTTP_UNMEASURED__COUNT)
		return "unknown";
	return names[why];
}

const char *http_parse_error_name(enum http_parse_error err)
{
	static const char *const names[HTTP_ERR__COUNT] = {
		[HTTP_ERR_MALFORMED_REQUEST] = "malformed_request",
		[HTTP_ERR_MALFORMED_RESPONSE] = "malformed_response",
		[HTTP_ERR_HEAD_TOO_LARGE] = "head_too_large",
		[HTTP_ERR_HEAD_NOT_CAPTURED] = "head_not_captured",
		[HTTP_ERR_BAD_CHUNK] = "bad_chunk",
		[HTTP_ERR_UNMATCHED_RESPONSE] = "unmatched_response",
		[HTTP_ERR_PIPELINE_OVERFLOW] = "pipeline_overflow",
		[HTTP_ERR_GAP] = "gap",
		[HTTP_ERR_INCOMPLETE] = "incomplete",
	};

	if ((unsigned int)err >= HTTP_ERR__COUNT)
		return "unknown";
	return names[err];
}
