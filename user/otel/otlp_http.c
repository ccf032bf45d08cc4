// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
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
#include "lib/version.h"
#include "otlp.pb-c.h"

/*
 * Retry schedule. The OTLP specification asks for exponential backoff with
 * jitter and leaves the numbers open. As in the OpenTelemetry SDKs the
 * first wait is up to 1 s and grows 1.5 times per attempt; as in the
 * collector's exporters (retry_on_failure) it is capped at 30 s.
 * Full jitter, a wait uniform in [0, cap], spreads the retries of many
 * nodes best.
 */
#define RETRY_INITIAL_MS 1000.0
#define RETRY_MULTIPLIER 1.5
#define RETRY_MAX_MS 30000.0

/* Bounds connecting even when the request timeout is 0 (no limit), so an
 * unreachable collector turns into a retry. */
#define CONNECT_TIMEOUT_MS 10000

/* The OTLP specification's recommended limit on a response body. */
#define RESPONSE_MAX (4u << 20)

/* Wakeups and the deadline end a wait; this caps one all the same. */
#define IDLE_WAIT_MS 1000

/* How long a join waits past the deadline for the thread to end. A
 * transfer is aborted at the deadline, but libcurl can still block in it:
 * removing a handle whose name lookup runs waits for the lookup (a DNS
 * server that does not answer). The thread is then left behind, and the
 * process exits without it. */
#define STOP_GRACE_NS (250 * NSEC_PER_MSEC)

enum post_result { POST_OK, POST_RETRY, POST_PERMANENT, POST_ABORTED };

struct otlp_http {
	char url[OTEL_URL_MAX];
	char shown_url[OTEL_URL_MAX]; /* url without user:password@ */
	const char *items;
	bool gzip;
	uint64_t retry_max_elapsed_ns;
	otlp_http_idle_fn idle;
	void *ctx;

	/* the sender's */
	bool curl_ready;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	uint8_t *resp;
	size_t resp_len, resp_cap;
	const char *resp_err; /* why on_body refused the response */
	long retry_after_s;
	unsigned short rng[3];
	bool failing; /* the last request failed: log the recovery */

	_Atomic bool stopping;
	_Atomic uint64_t deadline_ns; /* set before stopping */

	_Atomic uint64_t requests[OTLP_REQ__COUNT], retries;
	pthread_mutex_t err_lock;
	char last_error[sizeof(((struct otlp_http_stats *)0)->last_error)];
};

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- errors and logs -------------------------------------------------- */

static void vnote_failure(struct otlp_http *h, const char *fmt, va_list ap)
{
	char msg[sizeof(h->last_error)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&h->err_lock);
	memcpy(h->last_error, msg, sizeof(msg));
	pthread_mutex_unlock(&h->err_lock);
	if (!h->failing)
		log_warn("OTLP export failing: %s", msg);
	else
		log_debug("OTLP export: %s", msg);
	h->failing = true;
}

/*
 * Every failure becomes the last error; the log gets the first of a run of
 * failures and the recovery, not every retry.
 */
void otlp_http_note_failure(struct otlp_http *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote_failure(h, fmt, ap);
	va_end(ap);
}

static void note_success(struct otlp_http *h)
{
	if (h->failing)
		log_info("OTLP export to %s works again", h->shown_url);
	h->failing = false;
}

/* ---- waiting ---------------------------------------------------------- */

bool otlp_http_stopping(const struct otlp_http *h)
{
	return atomic_load(&h->stopping);
}

uint64_t otlp_http_deadline(const struct otlp_http *h)
{
	return atomic_load(&h->deadline_ns);
}

bool otlp_http_past_deadline(const struct otlp_http *h, uint64_t now)
{
	return otlp_http_stopping(h) && now >= otlp_http_deadline(h);
}

/* Caps a wait by the shutdown deadline, once there is one. */
static uint64_t cap_ms(const struct otlp_http *h, uint64_t ms, uint64_t now)
{
	uint64_t left;

	if (otlp_http_stopping(h)) {
		left = ms_until(otlp_http_deadline(h), now);
		if (left < ms)
			ms = left ? left : 1;
	}
	return ms > INT_MAX ? INT_MAX : ms;
}

/*
 * The sender sleeps in curl_multi_poll, which curl_multi_wakeup ends
 * early: a wakeup sent while it is not waiting ends its next wait at once,
 * so none is lost.
 */
void otlp_http_wait(struct otlp_http *h, uint64_t ms)
{
	curl_multi_poll(h->multi, NULL, 0, (int)cap_ms(h, ms, monotonic_ns()),
			NULL);
	if (h->idle)
		h->idle(h->ctx);
}

void otlp_http_wakeup(struct otlp_http *h)
{
	curl_multi_wakeup(h->multi);
}

void otlp_http_shutdown(struct otlp_http *h, uint64_t deadline_ns)
{
	if (atomic_load(&h->stopping))
		return;
	atomic_store(&h->deadline_ns, deadline_ns);
	atomic_store(&h->stopping, true);
	curl_multi_wakeup(h->multi);
}

/* Sleeps until `until`; returns false, at once, when the shutdown deadline
 * comes first. */
static bool sleep_until(struct otlp_http *h, uint64_t until)
{
	uint64_t now;

	while ((now = monotonic_ns()) < until) {
		if (otlp_http_stopping(h) && until > otlp_http_deadline(h))
			return false;
		otlp_http_wait(h, ms_until(until, now));
	}
	return true;
}

/* Full jitter: uniform in [0, min(max, initial * multiplier^attempt)]. */
static uint64_t backoff_ns(struct otlp_http *h, unsigned int attempt)
{
	double cap = RETRY_INITIAL_MS;

	for (unsigned int i = 0; i < attempt && cap < RETRY_MAX_MS; i++)
		cap *= RETRY_MULTIPLIER;
	if (cap > RETRY_MAX_MS)
		cap = RETRY_MAX_MS;
	return (uint64_t)(erand48(h->rng) * cap * (double)NSEC_PER_MSEC);
}

bool otlp_http_join_by(pthread_t thread, uint64_t deadline_ns)
{
	uint64_t until = deadline_ns + STOP_GRACE_NS;
	uint64_t now = monotonic_ns(), left = until > now ? until - now : 0;
	struct timespec real;

	/* pthread_timedjoin_np counts in CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &real);
	left += (uint64_t)real.tv_nsec;
	real.tv_sec += (time_t)(left / NSEC_PER_SEC);
	real.tv_nsec = (long)(left % NSEC_PER_SEC);
	return pthread_timedjoin_np(thread, NULL, &real) == 0;
}

/* ---- one request ------------------------------------------------------ */

/* CURLOPT_WRITEFUNCTION: keeps the response body, up to RESPONSE_MAX. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct otlp_http *h = arg;
	size_t n = size * nmemb, cap;
	uint8_t *buf;

	if (h->resp_len + n > RESPONSE_MAX) {
		h->resp_err = "response body over 4 MiB";
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (h->resp_len + n > h->resp_cap) {
		cap = h->resp_cap ? h->resp_cap * 2 : 4096;
		while (cap < h->resp_len + n)
			cap *= 2;
		buf = realloc(h->resp, cap);
		if (!buf) {
			h->resp_err = "out of memory for the response";
			return 0;
		}
		h->resp = buf;
		h->resp_cap = cap;
	}
	memcpy(h->resp + h->resp_len, p, n);
	h->resp_len += n;
	return n;
}

/* A text/plain error body's first line, as collectors and proxies send. */
static void body_text(struct otlp_http *h, char *out, size_t size)
{
	char *type = NULL;
	size_t n = 0;

	curl_easy_getinfo(h->easy, CURLINFO_CONTENT_TYPE, &type);
	out[0] = '\0';
	if (!type || strncasecmp(type, "text/", 5) || !h->resp_len)
		return;
	while (n < h->resp_len && n + 3 < size && h->resp[n] != '\n' &&
	       h->resp[n] != '\r')
		n++;
	snprintf(out, size, ": %.*s", (int)n, (const char *)h->resp);
}

static enum post_result classify(struct otlp_http *h, CURLcode res)
{
	char text[128];
	curl_off_t retry_after = 0;
	long code = 0;

	h->retry_after_s = 0;
	if (res == CURLE_WRITE_ERROR && h->resp_err) {
		/* The specification: a response over the limit is a
		 * non-retryable error. */
		otlp_http_note_failure(h, "POST %s: %s", h->shown_url,
				       h->resp_err);
		return POST_PERMANENT;
	}
	if (res != CURLE_OK) {
		/* No answer (refused, reset, timed out, TLS): transient. */
		otlp_http_note_failure(h, "POST %s: %s", h->shown_url,
				       h->curl_err[0] ? h->curl_err
						      : curl_easy_strerror(res));
		return POST_RETRY;
	}
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return POST_OK;
	body_text(h, text, sizeof(text));
	otlp_http_note_failure(h, "POST %s: HTTP %ld%s", h->shown_url, code,
			       text);
	if (code == 429 || code == 502 || code == 503 || code == 504) {
		/* Either form of Retry-After: curl turns a date into
		 * seconds from now. */
		curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &retry_after);
		h->retry_after_s = retry_after > 0 ? (long)retry_after : 0;
		return POST_RETRY;
	}
	return POST_PERMANENT;
}

/* One POST, run to its end or, once stopping, to the deadline. */
static enum post_result post(struct otlp_http *h, const uint8_t *body,
			     size_t len)
{
	CURLcode res = CURLE_OK;
	bool done = false;
	int running, left;
	CURLMsg *msg;

	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)len);
	h->resp_len = 0;
	h->resp_err = NULL;
	h->curl_err[0] = '\0';
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
		otlp_http_note_failure(h, "POST %s: curl_multi_add_handle failed",
				       h->shown_url);
		return POST_RETRY;
	}
	for (;;) {
		curl_multi_perform(h->multi, &running);
		while ((msg = curl_multi_info_read(h->multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				res = msg->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (otlp_http_past_deadline(h, monotonic_ns())) {
			curl_multi_remove_handle(h->multi, h->easy);
			otlp_http_note_failure(h, "POST %s: aborted at the shutdown deadline",
					       h->shown_url);
			return POST_ABORTED;
		}
		curl_multi_poll(h->multi, NULL, 0,
				(int)cap_ms(h, IDLE_WAIT_MS, monotonic_ns()),
				NULL);
	}
	curl_multi_remove_handle(h->multi, h->easy);
	return classify(h, res);
}

/* A 2xx: how many of the n items a partial success still rejected. */
static uint64_t rejected_of(struct otlp_http *h, uint64_t n)
{
	int64_t rejected = 0;
	char msg[128];

	/* An empty or undecodable body still says "accepted". */
	if (!h->resp_len ||
	    otlp_decode_response(h->resp, h->resp_len, &rejected, msg,
				 sizeof(msg)))
		return 0;
	if (rejected < 0)
		rejected = 0;
	if ((uint64_t)rejected > n)
		rejected = (int64_t)n;
	if (rejected)
		otlp_http_note_failure(h, "the collector rejected %lld of %llu %s: %s",
				       (long long)rejected,
				       (unsigned long long)n, h->items, msg);
	else if (msg[0])
		log_debug("OTLP export: the collector says: %s", msg);
	return (uint64_t)rejected;
}

/* Content-Encoding: gzip, i.e. a gzip wrapper (windowBits 15 + 16). Bodies
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

static enum otlp_send_result send_retrying(struct otlp_http *h,
					   const uint8_t *body, size_t len,
					   uint64_t n, uint64_t *rejected)
{
	uint64_t start = monotonic_ns(), wait, until;
	unsigned int attempt = 0;

	for (;;) {
		switch (post(h, body, len)) {
		case POST_OK:
			count(&h->requests[OTLP_REQ_SUCCESS]);
			*rejected = rejected_of(h, n);
			if (!*rejected)
				note_success(h);
			return OTLP_SENT;
		case POST_PERMANENT:
			count(&h->requests[OTLP_REQ_PERMANENT]);
			return OTLP_REFUSED;
		case POST_ABORTED:
			count(&h->requests[OTLP_REQ_RETRYABLE]);
			return OTLP_SHUTDOWN;
		case POST_RETRY:
			count(&h->requests[OTLP_REQ_RETRYABLE]);
			break;
		}
		wait = h->retry_after_s ?
			       (uint64_t)h->retry_after_s * NSEC_PER_SEC :
			       backoff_ns(h, attempt);
		attempt++;
		until = monotonic_ns() + wait;
		if (until - start > h->retry_max_elapsed_ns)
			return OTLP_GAVE_UP;
		if (!sleep_until(h, until))
			return OTLP_SHUTDOWN;
		count(&h->retries);
	}
}

enum otlp_send_result otlp_http_send(struct otlp_http *h, const uint8_t *body,
				     size_t len, uint64_t n,
				     uint64_t *rejected)
{
	enum otlp_send_result r;
	uint8_t *gz = NULL;
	int err;

	*rejected = 0;
	if (h->gzip) {
		err = gzip_body(body, len, &gz, &len);
		if (err) {
			otlp_http_note_failure(h, "cannot gzip %llu %s: %s",
					       (unsigned long long)n, h->items,
					       strerror(-err));
			return OTLP_GAVE_UP;
		}
		body = gz;
	}
	r = send_retrying(h, body, len, n, rejected);
	free(gz);
	return r;
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

static int build_headers(struct otlp_http *h, const struct otel_config *cfg)
{
	char line[OTEL_HEADER_NAME_MAX + OTEL_HEADER_VALUE_MAX + 2];

	if (add_header(&h->headers, "Content-Type: application/x-protobuf") ||
	    (h->gzip && add_header(&h->headers, "Content-Encoding: gzip")) ||
	    /* curl would ask for 100-continue on bodies over 1 MiB and wait
	     * up to a second for it; collectors take the body anyway. */
	    add_header(&h->headers, "Expect:"))
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
		if (add_header(&h->headers, line))
			return -ENOMEM;
	}
	return 0;
}

static int curl_setup(struct otlp_http *h, const struct otel_config *cfg)
{
	long connect_ms = CONNECT_TIMEOUT_MS;
	CURL *c;

	if (cfg->timeout_ms && cfg->timeout_ms < CONNECT_TIMEOUT_MS)
		connect_ms = (long)cfg->timeout_ms;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	h->curl_ready = true;
	h->multi = curl_multi_init();
	h->easy = c = curl_easy_init();
	if (!h->multi || !c || build_headers(h, cfg))
		return -ENOMEM;
	/* https verifies the server against the system CA store, which is
	 * libcurl's default. NOSIGNAL: curl must not use signals (alarm for
	 * DNS timeouts) in a threaded program. */
	if (curl_easy_setopt(c, CURLOPT_URL, h->url) ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "podtap/" PODTAP_VERSION) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, h) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err))
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

static void seed_rng(struct otlp_http *h)
{
	uint64_t t;

	if (getrandom(h->rng, sizeof(h->rng), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(h->rng))
		return;
	t = monotonic_ns() ^ (uint64_t)getpid() << 32;
	memcpy(h->rng, &t, sizeof(h->rng));
}

struct otlp_http *otlp_http_new(const struct otel_config *cfg,
				const char *items, otlp_http_idle_fn idle,
				void *ctx)
{
	struct otlp_http *h = calloc(1, sizeof(*h));
	int err;

	if (!h) {
		log_error("OTLP export: out of memory");
		return NULL;
	}
	pthread_mutex_init(&h->err_lock, NULL);
	snprintf(h->url, sizeof(h->url), "%s", cfg->url);
	hide_userinfo(h->url, h->shown_url, sizeof(h->shown_url));
	h->items = items;
	h->gzip = cfg->gzip;
	h->retry_max_elapsed_ns = cfg->retry_max_elapsed_ms * NSEC_PER_MSEC;
	h->idle = idle;
	h->ctx = ctx;
	seed_rng(h);
	err = curl_setup(h, cfg);
	if (err) {
		log_error("OTLP export to %s: cannot set up libcurl: %s",
			  h->shown_url, strerror(-err));
		otlp_http_free(h);
		return NULL;
	}
	return h;
}

void otlp_http_free(struct otlp_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->easy);
	curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->headers);
	if (h->curl_ready)
		curl_global_cleanup();
	free(h->resp);
	pthread_mutex_destroy(&h->err_lock);
	free(h);
}

const char *otlp_http_shown_url(const struct otlp_http *h)
{
	return h->shown_url;
}

void otlp_http_get_stats(struct otlp_http *h, struct otlp_http_stats *out)
{
	for (int i = 0; i < OTLP_REQ__COUNT; i++)
		out->requests[i] = atomic_load_explicit(&h->requests[i],
							memory_order_relaxed);
	out->retries = atomic_load_explicit(&h->retries, memory_order_relaxed);
	pthread_mutex_lock(&h->err_lock);
	memcpy(out->last_error, h->last_error, sizeof(out->last_error));
	pthread_mutex_unlock(&h->err_lock);
}

/* ---- the response ----------------------------------------------------- */

int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected,
			 char *msg, size_t msg_size)
{
	Podtap__Otlp__ExportTraceServiceResponse *resp;
	const Podtap__Otlp__ExportTracePartialSuccess *ps;

	/* The trace message stands for both signals' (see the header). */
	resp = podtap__otlp__export_trace_service_response__unpack(NULL, len,
								    buf);
	if (!resp)
		return -EINVAL;
	ps = resp->partial_success;
	*rejected = ps ? ps->rejected_spans : 0;
	if (msg_size)
		snprintf(msg, msg_size, "%s",
			 ps && ps->error_message ? ps->error_message : "");
	podtap__otlp__export_trace_service_response__free_unpacked(resp, NULL);
	return 0;
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
