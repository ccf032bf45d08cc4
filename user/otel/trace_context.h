/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace context carried by HTTP requests: W3C `traceparent` (Trace Context
 * Level 1, future versions included) and Zipkin B3 (`b3` and the X-B3-*
 * headers); and new trace and span ids.
 *
 * Header values are (pointer, length) slices, as a parser finds them in a
 * buffer; they need not be NUL-terminated. Any malformed value is ignored
 * as a whole (-EINVAL), as both specifications require: the caller then
 * starts a new trace.
 */
#ifndef PODTAP_TRACE_CONTEXT_H
#define PODTAP_TRACE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_SIZE 16
#define TRACE_SPAN_ID_SIZE 8
#define TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

enum trace_sampling {
	TRACE_NOT_SAMPLED = 0,
	TRACE_SAMPLED,
	TRACE_DEFERRED, /* b3 ids with no sampling state: ours to decide */
};

struct trace_context {
	/* All zero when the header carried only a sampling decision (b3 "0",
	 * "1" or "d"): a new trace that keeps that decision. */
	uint8_t trace_id[TRACE_ID_SIZE];
	uint8_t span_id[TRACE_SPAN_ID_SIZE]; /* the sender's: our parent */
	enum trace_sampling sampling;
};

/* A header value: p == NULL when the header is absent. */
struct trace_header {
	const char *p;
	size_t len;
};

/* The X-B3-* headers of one request (X-B3-ParentSpanId is not needed). */
struct b3_headers {
	struct trace_header trace_id; /* X-B3-TraceId */
	struct trace_header span_id;  /* X-B3-SpanId */
	struct trace_header sampled;  /* X-B3-Sampled */
	struct trace_header flags;    /* X-B3-Flags */
};

/* `traceparent`. Returns 0 and fills *tc (never TRACE_DEFERRED), or
 * -EINVAL. */
int trace_parse_traceparent(const char *v, size_t len,
			    struct trace_context *tc);

/* `b3: {trace id}-{span id}[-{sampling}[-{parent span id}]]` or
 * `b3: {sampling}`. 64-bit trace ids are widened with zeros on the left.
 * Returns 0 and fills *tc, or -EINVAL. */
int trace_parse_b3(const char *v, size_t len, struct trace_context *tc);

/* X-B3-*: the same rules. Returns 0 and fills *tc, -ENOENT when none of the
 * headers is present, or -EINVAL. */
int trace_parse_b3_headers(const struct b3_headers *h,
			   struct trace_context *tc);

/* Random, non-zero ids from getrandom(2). Return 0 or -errno. */
int trace_new_trace_id(uint8_t id[TRACE_ID_SIZE]);
int trace_new_span_id(uint8_t id[TRACE_SPAN_ID_SIZE]);

/* "00-{trace id}-{span id}-{01|00}" and a NUL into out, which must hold
 * TRACEPARENT_LEN + 1 bytes. */
void trace_format_traceparent(const uint8_t trace_id[TRACE_ID_SIZE],
			      const uint8_t span_id[TRACE_SPAN_ID_SIZE],
			      bool sampled, char *out);

#endif /* PODTAP_TRACE_CONTEXT_H */
