/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One OTLP/HTTP (protobuf) endpoint, as the span and the metric exporters
 * both POST to it: libcurl on the caller's thread, gzip if configured, and
 * the specification's retry rules. Transient failures (no connection,
 * timeout, 429/502/503/504) are retried with exponential backoff and full
 * jitter, or after the server's Retry-After, until retry_max_elapsed_ms
 * from the first attempt; other answers refuse the body. A 2xx with a
 * partial_success says how many items the collector still rejected.
 *
 * Threads: one exporter thread sends and waits; any thread may read the
 * stats, and the owner may wake the sender or set its shutdown deadline.
 */
#ifndef PODTAP_OTLP_HTTP_H
#define PODTAP_OTLP_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/otel_env.h"

/* Outcomes of export requests (HTTP POSTs), podtap_*_export_requests_total's
 * outcome label. */
enum otlp_request_outcome {
	OTLP_REQ_SUCCESS = 0, /* "success": 2xx */
	OTLP_REQ_RETRYABLE,   /* "retryable": no answer, 429/502/503/504 */
	OTLP_REQ_PERMANENT,   /* "permanent": any other answer */
	OTLP_REQ__COUNT,
};

/* What became of one body. */
enum otlp_send_result {
	OTLP_SENT,     /* a 2xx: its items are in, but for *rejected */
	OTLP_REFUSED,  /* a permanent error answer */
	OTLP_GAVE_UP,  /* retried until retry_max_elapsed_ms, or not sendable */
	OTLP_SHUTDOWN, /* the shutdown deadline came first */
};

struct otlp_http_stats {
	uint64_t requests[OTLP_REQ__COUNT];
	uint64_t retries;     /* requests that were a body's retry */
	char last_error[256]; /* "" until something fails */
};

struct otlp_http;

/* Called while the sender waits (between retries, and in otlp_http_wait),
 * so its owner can report what it counted meanwhile. */
typedef void (*otlp_http_idle_fn)(void *ctx);

/*
 * For an enabled cfg: its url, headers, gzip, timeout_ms and
 * retry_max_elapsed_ms. `items` names what a body holds in messages
 * ("spans", "data points"). Calls curl_global_init. Returns NULL, having
 * logged why, when libcurl cannot be set up.
 */
struct otlp_http *otlp_http_new(const struct otel_config *cfg,
				const char *items, otlp_http_idle_fn idle,
				void *ctx);
void otlp_http_free(struct otlp_http *h); /* accepts NULL */

/* The URL without user:password@, for logs. */
const char *otlp_http_shown_url(const struct otlp_http *h);

/*
 * Sends body (n items; gzipped here when configured) until it is taken,
 * refused, or given up. *rejected: items of a 2xx the collector's
 * partial_success turned away (at most n). Exporter thread only.
 */
enum otlp_send_result otlp_http_send(struct otlp_http *h, const uint8_t *body,
				     size_t len, uint64_t n,
				     uint64_t *rejected);

/* Waits up to ms, less if woken or the shutdown deadline comes. Exporter
 * thread only. */
void otlp_http_wait(struct otlp_http *h, uint64_t ms);

/* Ends the sender's wait, or its next one. Any thread. */
void otlp_http_wakeup(struct otlp_http *h);

/* From now on sending and waiting end by deadline_ns (CLOCK_MONOTONIC):
 * a transfer still running then is aborted. Any thread; the first call
 * wins. */
void otlp_http_shutdown(struct otlp_http *h, uint64_t deadline_ns);
bool otlp_http_stopping(const struct otlp_http *h);
bool otlp_http_past_deadline(const struct otlp_http *h, uint64_t now_ns);
uint64_t otlp_http_deadline(const struct otlp_http *h); /* once stopping */

/* Records a failure that is not a request's (say, a body that cannot be
 * encoded) as the last error, and logs it as the first of a run. */
__attribute__((format(printf, 2, 3)))
void otlp_http_note_failure(struct otlp_http *h, const char *fmt, ...);

void otlp_http_get_stats(struct otlp_http *h, struct otlp_http_stats *out);

/* Joins `thread` by deadline_ns and a short grace; false if it still runs
 * then (stuck in libcurl: a name lookup that does not answer). */
bool otlp_http_join_by(pthread_t thread, uint64_t deadline_ns);

/*
 * Decodes an Export{Trace,Metrics}ServiceResponse: the two are the same on
 * the wire (partial_success {int64 rejected = 1; string error_message =
 * 2}). *rejected gets the rejected count (0 when the server took
 * everything) and msg its error_message, cut to msg_size. Returns 0, or
 * -EINVAL for bytes that are not a response.
 */
int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected,
			 char *msg, size_t msg_size);

const char *otlp_request_outcome_name(enum otlp_request_outcome o);

#endif /* PODTAP_OTLP_HTTP_H */
