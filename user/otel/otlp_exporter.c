// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_exporter.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "lib/version.h"
#include "otel/otlp_encoder.h"

/*
 * Retry schedule. The OTLP specification asks for exponential backoff with
 * jitter and leaves the numbers open. As in the OpenTelemetry SDKs the
 * first wait is up to 1 s and grows 1.5 times per attempt; as in the
 * collector's exporters (retry_on_failure) it is capped at 30 s and a
 * batch is given up after 5 minutes (retry_max_elapsed_ms). Full jitter,
 * a wait uniform in [0, cap], spreads the retries of many nodes best.
 */
#define RETRY_INITIAL_MS 1000.0
#define RETRY_MULTIPLIER 1.5
#define RETRY_MAX_MS 30000.0

/* Bounds connecting even when the request timeout is 0 (no limit), so an
 * unreachable collector turns into a retry. */
#define CONNECT_TIMEOUT_MS 10000

/* The OTLP specification's recommended limit on a response body. */
#define RESPONSE_MAX (4u << 20)

/* Enqueues and stop wake the thread; this caps a wait all the same. */
#define IDLE_WAIT_MS 1000

/* How long stop waits past the deadline for the thread to end. A transfer
 * is aborted at the deadline, but libcurl can still block in it: removing a
 * handle whose name lookup runs waits for the lookup (a DNS server that
 * does not answer). The thread is then left behind, and the process exits
 * without it. */
#define STOP_GRACE_NS (250 * NSEC_PER_MSEC)

/* Drops are counted where they happen (queue-full ones on the event loop,
 * which must not log) and reported by the export thread, at most this
 * often, so a collector that is down or refusing cannot flood the log. */
#define DROP_LOG_INTERVAL_NS (60 * NSEC_PER_SEC)

enum send_result { SEND_OK, SEND_RETRY, SEND_PERMANENT, SEND_ABORTED };

struct otlp_exporter {
	/* settings */
	char url[OTEL_URL_MAX];
	char shown_url[OTEL_URL_MAX]; /* url without user:password@ */
	bool gzip;
	uint32_t batch_size;
	uint64_t batch_timeout_ns;
	uint64_t shutdown_timeout_ns;
	uint64_t retry_max_elapsed_ns;
	otlp_release_fn release;
	void *ctx;

	/* The ring: slots [tail, head), counted from 0 and taken mod cap.
	 * Only enqueue moves head, only the export thread moves tail. */
	struct span *ring;
	uint64_t cap;
	_Atomic uint64_t head;
	_Atomic uint64_t tail;

	/* the export thread's */
	pthread_t thread;
	bool thread_started;
	bool stopped;
	bool left_behind; /* the thread did not end by the deadline */
	bool curl_ready;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	const struct span **batch; /* batch_size pointers into the ring */
	uint8_t *resp;
	size_t resp_len, resp_cap;
	const char *resp_err; /* why on_body refused the response */
	long retry_after_s;
	unsigned short rng[3];
	bool failing; /* the last request failed: log the recovery */
	uint64_t drops_logged, drops_log_ns;

	_Atomic bool stopping;
	_Atomic uint64_t deadline_ns; /* set before stopping */

	/* stats */
	_Atomic uint64_t enqueued, exported, retries;
	_Atomic uint64_t dropped[OTLP_DROP__COUNT];
	_Atomic uint64_t requests[OTLP_REQ__COUNT];
	pthread_mutex_t err_lock;
	char last_error[sizeof(((struct otlp_exporter_stats *)0)->last_error)];
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- errors and logs -------------------------------------------------- */

/*
 * Every failure becomes the last error; the log gets the first of a run of
 * failures and the recovery, not every retry.
 */
__attribute__((format(printf, 2, 3)))
static void note_failure(struct otlp_exporter *e, const char *fmt, ...)
{
	char msg[sizeof(e->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&e->err_lock);
	memcpy(e->last_error, msg, sizeof(msg));
	pthread_mutex_unlock(&e->err_lock);
	if (!e->failing)
		log_warn("OTLP export failing: %s", msg);
	else
		log_debug("OTLP export: %s", msg);
	e->failing = true;
}

static void note_success(struct otlp_exporter *e)
{
	if (e->failing)
		log_info("OTLP export to %s works again", e->shown_url);
	e->failing = false;
}

/* The reasons before OTLP_DROP_SHUTDOWN: stop reports that one. */
static void log_drops(struct otlp_exporter *e, uint64_t now)
{
	uint64_t d[OTLP_DROP_SHUTDOWN], total = 0;

	for (int i = 0; i < OTLP_DROP_SHUTDOWN; i++) {
		d[i] = atomic_load_explicit(&e->dropped[i],
					    memory_order_relaxed);
		total += d[i];
	}
	if (total == e->drops_logged ||
	    (e->drops_log_ns && now - e->drops_log_ns < DROP_LOG_INTERVAL_NS))
		return;
	log_warn("OTLP export: spans dropped so far: %llu queue full (%llu spans), %llu rejected, %llu given up",
		 (unsigned long long)d[OTLP_DROP_QUEUE_FULL],
		 (unsigned long long)e->cap,
		 (unsigned long long)d[OTLP_DROP_REJECTED],
		 (unsigned long long)d[OTLP_DROP_EXPORT_FAILED]);
	e->drops_logged = total;
	e->drops_log_ns = now;
}

/* ---- waiting ---------------------------------------------------------- */

/*
 * The export thread sleeps in curl_multi_poll, which curl_multi_wakeup
 * (from enqueue or stop) ends early: a wakeup sent while the thread is not
 * waiting ends its next wait at once, so none is lost.
 */
static void wait_ms(struct otlp_exporter *e, uint64_t ms)
{
	curl_multi_poll(e->multi, NULL, 0, ms > INT_MAX ? INT_MAX : (int)ms,
			NULL);
	log_drops(e, monotonic_ns());
}

static uint64_t ms_until(uint64_t when, uint64_t now)
{
	return when > now ? (when - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC
			  : 0;
}

static bool stopping(struct otlp_exporter *e)
{
	return atomic_load(&e->stopping);
}

/* Once stopping: whether the flush deadline has passed. */
static bool past_deadline(struct otlp_exporter *e, uint64_t now)
{
	return stopping(e) && now >= atomic_load(&e->deadline_ns);
}

/* Sleeps until `until`; returns false, at once, when the stop deadline
 * comes first. */
static bool sleep_until(struct otlp_exporter *e, uint64_t until)
{
	uint64_t now;

	while ((now = monotonic_ns()) < until) {
		if (stopping(e) && until > atomic_load(&e->deadline_ns))
			return false;
		wait_ms(e, ms_until(until, now));
	}
	return true;
}

/* Full jitter: uniform in [0, min(max, initial * multiplier^attempt)]. */
static uint64_t backoff_ns(struct otlp_exporter *e, unsigned int attempt)
{
	double cap = RETRY_INITIAL_MS;

	for (unsigned int i = 0; i < attempt && cap < RETRY_MAX_MS; i++)
		cap *= RETRY_MULTIPLIER;
	if (cap > RETRY_MAX_MS)
		cap = RETRY_MAX_MS;
	return (uint64_t)(erand48(e->rng) * cap * (double)NSEC_PER_MSEC);
}

/* ---- one request ------------------------------------------------------ */

/* CURLOPT_WRITEFUNCTION: keeps the response body, up to RESPONSE_MAX. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct otlp_exporter *e = arg;
	size_t n = size * nmemb, cap;
	uint8_t *buf;

	if (e->resp_len + n > RESPONSE_MAX) {
		e->resp_err = "response body over 4 MiB";
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (e->resp_len + n > e->resp_cap) {
		cap = e->resp_cap ? e->resp_cap * 2 : 4096;
		while (cap < e->resp_len + n)
			cap *= 2;
		buf = realloc(e->resp, cap);
		if (!buf) {
			e->resp_err = "out of memory for the response";
			return 0;
		}
		e->resp = buf;
		e->resp_cap = cap;
	}
	memcpy(e->resp + e->resp_len, p, n);
	e->resp_len += n;
	return n;
}

/* A text/plain error body's first line, as collectors and proxies send. */
static void body_text(struct otlp_exporter *e, char *out, size_t size)
{
	char *type = NULL;
	size_t n = 0;

	curl_easy_getinfo(e->easy, CURLINFO_CONTENT_TYPE, &type);
	out[0] = '\0';
	if (!type || strncasecmp(type, "text/", 5) || !e->resp_len)
		return;
	while (n < e->resp_len && n + 3 < size && e->resp[n] != '\n' &&
	       e->resp[n] != '\r')
		n++;
	snprintf(out, size, ": %.*s", (int)n, (const char *)e->resp);
}

static enum send_result classify(struct otlp_exporter *e, CURLcode res)
{
	char text[128];
	curl_off_t retry_after = 0;
	long code = 0;

	e->retry_after_s = 0;
	if (res == CURLE_WRITE_ERROR && e->resp_err) {
		/* The specification: a response over the limit is a
		 * non-retryable error. */
		note_failure(e, "POST %s: %s", e->shown_url, e->resp_err);
		return SEND_PERMANENT;
	}
	if (res != CURLE_OK) {
		/* No answer (refused, reset, timed out, TLS): transient. */
		note_failure(e, "POST %s: %s", e->shown_url,
			     e->curl_err[0] ? e->curl_err
					    : curl_easy_strerror(res));
		return SEND_RETRY;
	}
	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return SEND_OK;
	body_text(e, text, sizeof(text));
	note_failure(e, "POST %s: HTTP %ld%s", e->shown_url, code, text);
	if (code == 429 || code == 502 || code == 503 || code == 504) {
		/* Either form of Retry-After: curl turns a date into
		 * seconds from now. */
		curl_easy_getinfo(e->easy, CURLINFO_RETRY_AFTER, &retry_after);
		e->retry_after_s = retry_after > 0 ? (long)retry_after : 0;
		return SEND_RETRY;
	}
	return SEND_PERMANENT;
}

/* Caps a wait in curl_multi_poll by the stop deadline, once there is one. */
static uint64_t poll_ms(struct otlp_exporter *e, uint64_t now)
{
	uint64_t ms = IDLE_WAIT_MS, left;

	if (stopping(e)) {
		left = ms_until(atomic_load(&e->deadline_ns), now);
		if (left < ms)
			ms = left ? left : 1;
	}
	return ms;
}

/* One POST, run to its end or, once stopping, to the deadline. */
static enum send_result post(struct otlp_exporter *e, const uint8_t *body,
			     size_t len)
{
	CURLcode res = CURLE_OK;
	bool done = false;
	int running, left;
	CURLMsg *msg;

	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)len);
	e->resp_len = 0;
	e->resp_err = NULL;
	e->curl_err[0] = '\0';
	if (curl_multi_add_handle(e->multi, e->easy) != CURLM_OK) {
		note_failure(e, "POST %s: curl_multi_add_handle failed",
			     e->shown_url);
		return SEND_RETRY;
	}
	for (;;) {
		curl_multi_perform(e->multi, &running);
		while ((msg = curl_multi_info_read(e->multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				res = msg->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (past_deadline(e, monotonic_ns())) {
			curl_multi_remove_handle(e->multi, e->easy);
			note_failure(e, "POST %s: aborted at the shutdown deadline",
				     e->shown_url);
			return SEND_ABORTED;
		}
		curl_multi_poll(e->multi, NULL, 0, (int)poll_ms(e, monotonic_ns()),
				NULL);
	}
	curl_multi_remove_handle(e->multi, e->easy);
	return classify(e, res);
}

/* ---- one batch -------------------------------------------------------- */

static void drop(struct otlp_exporter *e, enum otlp_drop_reason why,
		 uint64_t n)
{
	count(&e->dropped[why], n);
	log_drops(e, monotonic_ns());
}

/* A 2xx: the spans are in, but for those a partial success rejected. */
static void accepted(struct otlp_exporter *e, uint64_t n)
{
	int64_t rejected = 0;
	char msg[128];

	count(&e->requests[OTLP_REQ_SUCCESS], 1);
	/* An empty or undecodable body still says "accepted". */
	if (e->resp_len &&
	    !otlp_decode_response(e->resp, e->resp_len, &rejected, msg,
				  sizeof(msg))) {
		if (rejected < 0)
			rejected = 0;
		if ((uint64_t)rejected > n)
			rejected = (int64_t)n;
		if (rejected) {
			note_failure(e, "the collector rejected %lld of %llu spans: %s",
				     (long long)rejected,
				     (unsigned long long)n, msg);
			drop(e, OTLP_DROP_REJECTED, (uint64_t)rejected);
		} else if (msg[0]) {
			log_debug("OTLP export: the collector says: %s", msg);
		}
	}
	if (!rejected)
		note_success(e);
	count(&e->exported, n - (uint64_t)rejected);
}

/* POSTs body (n spans) until it is taken, refused, or given up. */
static void send_batch(struct otlp_exporter *e, const uint8_t *body,
		       size_t len, uint64_t n)
{
	uint64_t start = monotonic_ns(), wait, until;
	unsigned int attempt = 0;

	for (;;) {
		switch (post(e, body, len)) {
		case SEND_OK:
			accepted(e, n);
			return;
		case SEND_PERMANENT:
			count(&e->requests[OTLP_REQ_PERMANENT], 1);
			drop(e, OTLP_DROP_REJECTED, n);
			return;
		case SEND_ABORTED:
			count(&e->requests[OTLP_REQ_RETRYABLE], 1);
			drop(e, OTLP_DROP_SHUTDOWN, n);
			return;
		case SEND_RETRY:
			count(&e->requests[OTLP_REQ_RETRYABLE], 1);
			break;
		}
		wait = e->retry_after_s ?
			       (uint64_t)e->retry_after_s * NSEC_PER_SEC :
			       backoff_ns(e, attempt);
		attempt++;
		until = monotonic_ns() + wait;
		if (until - start > e->retry_max_elapsed_ns) {
			drop(e, OTLP_DROP_EXPORT_FAILED, n);
			return;
		}
		if (!sleep_until(e, until)) {
			drop(e, OTLP_DROP_SHUTDOWN, n);
			return;
		}
		count(&e->retries, 1);
	}
}

/* Content-Encoding: gzip, i.e. a gzip wrapper (windowBits 15 + 16). Spans
 * repeat their keys and resources, so the fastest level gets most of the
 * gain for a fraction of the CPU. */
static int gzip_body(const uint8_t *in, size_t len, uint8_t **out,
		     size_t *out_len)
{
	z_stream zs = { 0 };
	uint8_t *buf;
	uLong bound;
	int ret;

	if (len > UINT_MAX)
		return -E2BIG;
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, len);
	buf = malloc(bound);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	ret = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* Hands back the resources of slots [tail, tail + n) and frees them. */
static void release_slots(struct otlp_exporter *e, uint64_t tail, uint64_t n)
{
	const struct span_resource *res;

	for (uint64_t i = 0; i < n; i++) {
		res = e->ring[(tail + i) % e->cap].resource;
		if (res && e->release)
			e->release(e->ctx, res);
	}
	atomic_store(&e->tail, tail + n);
}

/* Takes the n oldest spans off the ring and sends them. */
static void export_batch(struct otlp_exporter *e, uint64_t n)
{
	uint64_t tail = atomic_load_explicit(&e->tail, memory_order_relaxed);
	uint8_t *body = NULL, *gz;
	size_t len;
	int err;

	for (uint64_t i = 0; i < n; i++)
		e->batch[i] = &e->ring[(tail + i) % e->cap];
	err = otlp_encode_traces(e->batch, n, &body, &len);
	/* The body holds all it needs: the slots can take new spans while
	 * it is sent and retried. */
	release_slots(e, tail, n);
	if (!err && e->gzip) {
		err = gzip_body(body, len, &gz, &len);
		free(body);
		body = err ? NULL : gz;
	}
	if (err) {
		note_failure(e, "cannot encode %llu spans: %s",
			     (unsigned long long)n, strerror(-err));
		drop(e, OTLP_DROP_EXPORT_FAILED, n);
		return;
	}
	send_batch(e, body, len, n);
	free(body);
}

/* ---- the thread ------------------------------------------------------- */

static uint64_t queued(struct otlp_exporter *e)
{
	/* tail after the export thread's own store, head as enqueue
	 * published it: both seq_cst, see otlp_exporter_enqueue. */
	return atomic_load(&e->head) - atomic_load(&e->tail);
}

static uint64_t batch_of(struct otlp_exporter *e, uint64_t n)
{
	return n < e->batch_size ? n : e->batch_size;
}

/* Once stopping: send what is queued, full batches at once, until the
 * queue is empty or the deadline has passed. */
static void flush(struct otlp_exporter *e)
{
	uint64_t n;

	while ((n = queued(e)) && !past_deadline(e, monotonic_ns()))
		export_batch(e, batch_of(e, n));
}

static void *export_main(void *arg)
{
	struct otlp_exporter *e = arg;
	uint64_t n, now, first = 0; /* when the batch's first span was seen */

	while (!stopping(e)) {
		n = queued(e);
		now = monotonic_ns();
		if (!n) {
			first = 0;
			wait_ms(e, IDLE_WAIT_MS);
			continue;
		}
		if (!first)
			first = now;
		if (n < e->batch_size && now < first + e->batch_timeout_ns) {
			wait_ms(e, ms_until(first + e->batch_timeout_ns, now));
			continue;
		}
		export_batch(e, batch_of(e, n));
		first = 0;
	}
	flush(e);
	return NULL;
}

/* ---- setup ------------------------------------------------------------ */

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

static int build_headers(struct otlp_exporter *e, const struct otel_config *cfg)
{
	char line[OTEL_HEADER_NAME_MAX + OTEL_HEADER_VALUE_MAX + 2];

	if (add_header(&e->headers, "Content-Type: application/x-protobuf") ||
	    (e->gzip && add_header(&e->headers, "Content-Encoding: gzip")) ||
	    /* curl would ask for 100-continue on bodies over 1 MiB and wait
	     * up to a second for it; collectors take the body anyway. */
	    add_header(&e->headers, "Expect:"))
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->n_headers; i++) {
		/* "Name;" is curl's way to send a header with no value
		 * ("Name:" would remove it). */
		if (cfg->headers[i].value[0])
			snprintf(line, sizeof(line), "%s: %s",
				 cfg->headers[i].name, cfg->headers[i].value);
		else
			snprintf(line, sizeof(line), "%s;",
				 cfg->headers[i].name);
		if (add_header(&e->headers, line))
			return -ENOMEM;
	}
	return 0;
}

static int curl_setup(struct otlp_exporter *e, const struct otel_config *cfg)
{
	long connect_ms = CONNECT_TIMEOUT_MS;
	CURL *c;

	if (cfg->timeout_ms && cfg->timeout_ms < CONNECT_TIMEOUT_MS)
		connect_ms = (long)cfg->timeout_ms;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	e->curl_ready = true;
	e->multi = curl_multi_init();
	e->easy = c = curl_easy_init();
	if (!e->multi || !c || build_headers(e, cfg))
		return -ENOMEM;
	/* https verifies the server against the system CA store, which is
	 * libcurl's default. NOSIGNAL: curl must not use signals (alarm for
	 * DNS timeouts) in a threaded program. */
	if (curl_easy_setopt(c, CURLOPT_URL, e->url) ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "podtap/" PODTAP_VERSION) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, e) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->curl_err))
		return -EINVAL;
	return 0;
}

/* Credentials in the URL (http://user:password@host/) stay out of logs
 * and stats. */
static void hide_userinfo(const char *url, char *out, size_t size)
{
	const char *host = strstr(url, "://");
	size_t auth_len;
	const char *at;

	host = host ? host + 3 : url;
	auth_len = strcspn(host, "/?#");
	at = memrchr(host, '@', auth_len);
	if (at)
		snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, size, "%s", url);
}

static void seed_rng(struct otlp_exporter *e)
{
	uint64_t t;

	if (getrandom(e->rng, sizeof(e->rng), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(e->rng))
		return;
	t = monotonic_ns() ^ (uint64_t)getpid() << 32;
	memcpy(e->rng, &t, sizeof(e->rng));
}

struct otlp_exporter *otlp_exporter_start(const struct otel_config *cfg,
					  otlp_release_fn release, void *ctx)
{
	struct otlp_exporter *e;
	int err = -ENOMEM;

	if (!cfg->enabled || !cfg->queue_size || !cfg->batch_size) {
		log_error("OTLP exporter: no endpoint or an empty queue");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		goto fail;
	pthread_mutex_init(&e->err_lock, NULL);
	snprintf(e->url, sizeof(e->url), "%s", cfg->traces_url);
	hide_userinfo(e->url, e->shown_url, sizeof(e->shown_url));
	e->gzip = cfg->gzip;
	e->cap = cfg->queue_size;
	e->batch_size = cfg->batch_size < cfg->queue_size ? cfg->batch_size
							  : cfg->queue_size;
	e->batch_timeout_ns = cfg->batch_timeout_ms * NSEC_PER_MSEC;
	e->shutdown_timeout_ns = cfg->shutdown_timeout_ms * NSEC_PER_MSEC;
	e->retry_max_elapsed_ns = cfg->retry_max_elapsed_ms * NSEC_PER_MSEC;
	e->release = release;
	e->ctx = ctx;
	seed_rng(e);

	/* Left to the kernel to back as it fills: the pages of a queue that
	 * never fills are never touched. */
	e->ring = calloc(e->cap, sizeof(*e->ring));
	e->batch = calloc(e->batch_size, sizeof(*e->batch));
	if (!e->ring || !e->batch)
		goto fail;
	err = curl_setup(e, cfg);
	if (err)
		goto fail;
	err = thread_start(&e->thread, export_main, e, "podtap-otlp");
	if (err)
		goto fail;
	e->thread_started = true;
	log_info("OTLP export to %s: batches of up to %u spans every %u ms, queue of %llu spans%s",
		 e->shown_url, e->batch_size, cfg->batch_timeout_ms,
		 (unsigned long long)e->cap, e->gzip ? ", gzip" : "");
	return e;
fail:
	log_error("OTLP exporter: cannot start: %s", strerror(-err));
	otlp_exporter_destroy(e);
	return NULL;
}

/* ---- the event loop's side -------------------------------------------- */

struct span *otlp_exporter_reserve(struct otlp_exporter *e)
{
	uint64_t head = atomic_load_explicit(&e->head, memory_order_relaxed);

	if (head - atomic_load(&e->tail) >= e->cap) {
		count(&e->dropped[OTLP_DROP_QUEUE_FULL], 1);
		return NULL;
	}
	return &e->ring[head % e->cap];
}

void otlp_exporter_commit(struct otlp_exporter *e)
{
	uint64_t head = atomic_load_explicit(&e->head, memory_order_relaxed);
	uint64_t n;

	atomic_store(&e->head, head + 1);
	count(&e->enqueued, 1);
	/*
	 * Wake the thread for the first span of a batch (it may be waiting
	 * with nothing queued) and for a full batch. head is stored and
	 * tail loaded after it, seq_cst, as the thread stores tail and then
	 * loads head: either it sees this span or this sees its new tail,
	 * so it cannot sleep on a span nobody woke it for.
	 */
	n = head + 1 - atomic_load(&e->tail);
	if (n == 1 || n == e->batch_size)
		curl_multi_wakeup(e->multi);
}

bool otlp_exporter_enqueue(struct otlp_exporter *e, const struct span *s)
{
	struct span *slot = otlp_exporter_reserve(e);

	if (!slot) {
		if (s->resource && e->release)
			e->release(e->ctx, s->resource);
		return false;
	}
	*slot = *s;
	otlp_exporter_commit(e);
	return true;
}

/* ---- stop, stats ------------------------------------------------------ */

void otlp_exporter_flush_begin(struct otlp_exporter *e)
{
	if (!e || !e->thread_started || atomic_load(&e->stopping))
		return;
	atomic_store(&e->deadline_ns, monotonic_ns() + e->shutdown_timeout_ns);
	atomic_store(&e->stopping, true);
	curl_multi_wakeup(e->multi);
}

/* Joins the export thread by the deadline and a grace; false if it is
 * still running then. */
static bool join_by_deadline(struct otlp_exporter *e)
{
	uint64_t until = atomic_load(&e->deadline_ns) + STOP_GRACE_NS;
	uint64_t now = monotonic_ns(), left = until > now ? until - now : 0;
	struct timespec real;

	/* pthread_timedjoin_np counts in CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &real);
	left += (uint64_t)real.tv_nsec;
	real.tv_sec += (time_t)(left / NSEC_PER_SEC);
	real.tv_nsec = (long)(left % NSEC_PER_SEC);
	return pthread_timedjoin_np(e->thread, NULL, &real) == 0;
}

void otlp_exporter_stop(struct otlp_exporter *e)
{
	uint64_t tail, n;

	if (!e || !e->thread_started || e->stopped)
		return;
	e->stopped = true;
	otlp_exporter_flush_begin(e);
	if (!join_by_deadline(e)) {
		/* Stuck in libcurl: the ring is still the thread's. */
		e->left_behind = true;
		n = queued(e);
		count(&e->dropped[OTLP_DROP_SHUTDOWN], n);
		log_warn("OTLP export still busy at the shutdown deadline (a "
			 "name lookup or a connection that does not end): "
			 "left behind; %llu queued spans dropped",
			 (unsigned long long)n);
		return;
	}

	tail = atomic_load(&e->tail);
	n = atomic_load(&e->head) - tail;
	release_slots(e, tail, n);
	count(&e->dropped[OTLP_DROP_SHUTDOWN], n);
	log_debug("OTLP export stopped: %llu spans exported, %llu dropped at shutdown",
		  (unsigned long long)atomic_load(&e->exported),
		  (unsigned long long)atomic_load(
			  &e->dropped[OTLP_DROP_SHUTDOWN]));
}

bool otlp_exporter_destroy(struct otlp_exporter *e)
{
	if (!e)
		return true;
	otlp_exporter_stop(e);
	if (e->left_behind)
		return false; /* the thread may still use it */
	curl_easy_cleanup(e->easy);
	curl_multi_cleanup(e->multi);
	curl_slist_free_all(e->headers);
	if (e->curl_ready)
		curl_global_cleanup();
	free(e->ring);
	free(e->batch);
	free(e->resp);
	pthread_mutex_destroy(&e->err_lock);
	free(e);
	return true;
}

void otlp_exporter_get_stats(struct otlp_exporter *e,
			     struct otlp_exporter_stats *out)
{
	/* tail first: head only grows, so the difference is never negative */
	uint64_t tail = atomic_load(&e->tail);

	out->queue_length = atomic_load(&e->head) - tail;
	out->spans_enqueued = atomic_load_explicit(&e->enqueued,
						   memory_order_relaxed);
	out->spans_exported = atomic_load_explicit(&e->exported,
						   memory_order_relaxed);
	for (int i = 0; i < OTLP_DROP__COUNT; i++)
		out->spans_dropped[i] = atomic_load_explicit(
			&e->dropped[i], memory_order_relaxed);
	for (int i = 0; i < OTLP_REQ__COUNT; i++)
		out->requests[i] = atomic_load_explicit(&e->requests[i],
							memory_order_relaxed);
	out->retries = atomic_load_explicit(&e->retries, memory_order_relaxed);
	pthread_mutex_lock(&e->err_lock);
	memcpy(out->last_error, e->last_error, sizeof(out->last_error));
	pthread_mutex_unlock(&e->err_lock);
}

const char *otlp_drop_reason_name(enum otlp_drop_reason r)
{
	static const char *const names[OTLP_DROP__COUNT] = {
		[OTLP_DROP_QUEUE_FULL] = "queue_full",
		[OTLP_DROP_REJECTED] = "rejected",
		[OTLP_DROP_EXPORT_FAILED] = "export_failed",
		[OTLP_DROP_SHUTDOWN] = "shutdown",
	};

	return (unsigned int)r < OTLP_DROP__COUNT ? names[r] : "unknown";
}

const char *otlp_request_outcome_name(enum otlp_request_outcome o)
{
	static const char *const names[OTLP_REQ__COUNT] = {
		[OTLP_REQ_SUCCESS] = "success",
		[OTLP_REQ_RETRYABLE] = "retryable",
		[OTLP_REQ_PERMANENT] = "permanent",
	};

	return (unsigned int)o < OTLP_REQ__COUNT ? names[o] : "unknown";
}
