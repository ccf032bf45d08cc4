/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sparse-stream HTTP/1.x parser for one connection.
 *
 * The kernel hands us, per syscall, the first `captured` bytes of what was
 * read or written and the total byte count; the rest of the syscall's bytes
 * are known only by length. Lost events show up as a jump in the stream
 * position. The parser therefore tracks message bodies by counting
 * (Content-Length, chunk sizes) and only needs content for message heads and
 * chunk-size lines. When it cannot follow the stream (a head it cannot see,
 * garbage), it resynchronises at the next syscall boundary that starts a
 * message, and never reports an exchange it did not see both ends of.
 *
 * Plain C with no kernel in the way: unit-tested in tests/unit.
 */
#ifndef PODTAP_HTTP_PARSER_H
#define PODTAP_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_MAX 16   /* bytes incl. NUL */
#define HTTP_PATH_MAX 1024   /* bytes incl. NUL; longer targets are cut */
#define HTTP_HEAD_MAX 16384  /* a head larger than this is an error */
#define HTTP_PIPELINE_MAX 32 /* requests awaiting a response per conn */

enum http_role {
	HTTP_ROLE_UNKNOWN = 0, /* decided by the first request line seen */
	HTTP_ROLE_SERVER = 1,  /* requests are read, responses written */
	HTTP_ROLE_CLIENT = 2,  /* requests are written, responses read */
};

enum http_dir {
	HTTP_DIR_INGRESS = 0, /* bytes the process read */
	HTTP_DIR_EGRESS = 1,  /* bytes the process wrote */
};

enum http_conn_protocol {
	HTTP_PROTO_UNKNOWN = 0, /* nothing decisive seen yet */
	HTTP_PROTO_HTTP = 1,    /* a request line was parsed */
	HTTP_PROTO_OTHER = 2,   /* not HTTP/1.x (TLS, binary, other protocol) or
				 * switched away (101 Switching Protocols) */
};

/* Why a message was not turned into an exchange. Each is counted by the
 * daemon as podtap_http_parse_errors_total{reason}. */
enum http_parse_error {
	HTTP_ERR_MALFORMED_REQUEST = 0,  /* bad request line or header */
	HTTP_ERR_MALFORMED_RESPONSE,     /* bad status line or header */
	HTTP_ERR_HEAD_TOO_LARGE,         /* head over HTTP_HEAD_MAX */
	HTTP_ERR_HEAD_NOT_CAPTURED,      /* head bytes missing (beyond the
					  * capture size, or lost) */
	HTTP_ERR_BAD_CHUNK,              /* malformed chunked encoding */
	HTTP_ERR_UNMATCHED_RESPONSE,     /* response with no pending request */
	HTTP_ERR_PIPELINE_OVERFLOW,      /* > HTTP_PIPELINE_MAX pending */
	HTTP_ERR_GAP,                    /* lost bytes forced a resync */
	HTTP_ERR_INCOMPLETE,             /* connection ended mid-exchange,
					  * or a response ended before its
					  * request began (event times) */
	HTTP_ERR__COUNT,
};

/*
 * Why a request that was sent will not be measured, once the parser knows
 * it (one call per request): what podtap_http_requests_unmeasured_total
 * counts beside the incomplete exchanges (HTTP_ERR_INCOMPLETE) and the
 * requests in events the kernel lost.
 */
enum http_unmeasured {
	HTTP_UNMEASURED_FORGOTTEN = 0, /* waiting for its answer when the
					* stream lost its place: answers can
					* no longer be matched */
	HTTP_UNMEASURED_HEAD,          /* its head not captured, lost after
					* its start line, or unparsable */
	HTTP_UNMEASURED_OVERFLOW,      /* > HTTP_PIPELINE_MAX waiting */
	HTTP_UNMEASURED__COUNT,
};

/* Request headers podtap reads for traces, NUL-terminated and cut to fit;
 * "" when absent. */
struct http_request_headers {
	char host[256];
	char user_agent[512];
	char traceparent[64]; /* "" also when sent more than once (W3C) */
	char b3[128];
	char x_b3_traceid[40];
	char x_b3_spanid[24];
	char x_b3_sampled[8];
	char x_b3_flags[8];
};

#define HTTP_USER_DATA_SIZE 64

/* A request, from its head being parsed until its exchange is reported. */
struct http_request {
	char method[HTTP_METHOD_MAX];
	char target[HTTP_PATH_MAX];
	struct http_request_headers headers;
	uint64_t start_ns;
	/* Where its first byte is in the stream of its direction: on a
	 * connection seen from its start (a known role), the TCP stream's own
	 * offset, the same at both ends of the connection. */
	uint64_t stream_pos;
	/* Where the byte after its body is, when its head says (a
	 * Content-Length, or no body); 0 when it does not (chunked). */
	uint64_t end_pos;
	/* The caller's: zeroed, filled by on_request if it likes, and handed
	 * back with the exchange (ex->request->user). */
	uint8_t user[HTTP_USER_DATA_SIZE];
};

struct http_exchange {
	enum http_role role;        /* SERVER or CLIENT, never UNKNOWN */
	const char *method;         /* as sent, NUL-terminated, cut past
				     * HTTP_METHOD_MAX - 1 bytes */
	const char *target;         /* request-target as sent (query
				     * included), NUL-terminated, cut past
				     * HTTP_PATH_MAX - 1 bytes */
	int status;                 /* final status code (100..599) */
	uint64_t start_ns;          /* ts of the event that carried the
				     * request's first byte */
	uint64_t end_ns;            /* ts of the event that carried the
				     * response's last byte */
	uint64_t request_body_bytes;
	uint64_t response_body_bytes;
	const struct http_request *request;
	/* method, target and request point into the parser's memory: valid
	 * during the callback only. */
};

struct http_conn_callbacks {
	void (*on_exchange)(void *ctx, const struct http_exchange *ex);
	void (*on_error)(void *ctx, enum http_parse_error err);
	/* A request head was parsed (in the call that delivered its last
	 * head byte): the time to note what only the caller knows then, such
	 * as the thread that read or wrote it. Optional. */
	void (*on_request)(void *ctx, struct http_request *req);
	/* The parser lets go of a request that on_request saw: after its
	 * exchange, or unanswered (connection closed or abandoned). Each
	 * on_request is followed by exactly one of these. Optional. */
	void (*on_request_end)(void *ctx, const struct http_request *req);
	/* A request will not be measured, and why. Optional. */
	void (*on_unmeasured)(void *ctx, enum http_unmeasured why);
};

struct http_conn;

/* Returns NULL on allocation failure. */
struct http_conn *http_conn_new(enum http_role role);
void http_conn_free(struct http_conn *conn); /* accepts NULL */

/*
 * One syscall's bytes in direction `dir`. `pos` is the stream position (bytes
 * in this direction before this call); `data` holds the first `captured`
 * bytes, and `total - captured` more bytes followed whose content is unknown.
 * A `pos` beyond the expected position means bytes were lost in between;
 * a `pos` before it (reordered or duplicate) is counted as HTTP_ERR_GAP and
 * the event is ignored. `ts_ns` is the event's timestamp.
 */
void http_conn_data(struct http_conn *conn, enum http_dir dir, uint64_t pos,
		    const uint8_t *data, size_t captured, size_t total,
		    uint64_t ts_ns, const struct http_conn_callbacks *cb,
		    void *ctx);

/* The connection was closed at `ts_ns`: completes a response delimited by
 * close, and counts pending requests as HTTP_ERR_INCOMPLETE. */
void http_conn_close(struct http_conn *conn, uint64_t ts_ns,
		     const struct http_conn_callbacks *cb, void *ctx);
/* The connection leaves the caller's view without its close being seen
 * (the caller stops, evicts or replaces it): nothing in flight completes,
 * not even a response delimited by close, whose end is unknown; the
 * response being read and pending requests count as HTTP_ERR_INCOMPLETE. */
void http_conn_abandon(struct http_conn *conn,
		       const struct http_conn_callbacks *cb, void *ctx);

enum http_conn_protocol http_conn_protocol(const struct http_conn *conn);
enum http_role http_conn_role(const struct http_conn *conn);

const char *http_parse_error_name(enum http_parse_error err);
const char *http_unmeasured_name(enum http_unmeasured why);

#endif /* PODTAP_HTTP_PARSER_H */
