/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Spans -> OTLP/HTTP (protobuf) on a thread of its own, with libcurl.
 *
 * The event loop hands spans over with otlp_exporter_enqueue, which copies
 * them into a ring preallocated at start (queue_size spans), or fills a
 * slot of it in place (otlp_exporter_reserve); neither blocks nor
 * allocates: when the ring is full the span is dropped and
 * counted. The export thread takes batches of up to batch_size spans off
 * the ring, when a batch is full or batch_timeout_ms after its first span
 * arrived, encodes them (otlp_encoder), frees their slots and sends the
 * body with otlp_http (gzip, retries until retry_max_elapsed_ms); what is
 * refused or given up is dropped and counted. Memory is the ring plus the
 * batch in flight,
 * whatever the collector does.
 *
 * Threads: enqueue from one thread at a time (the event loop); stats from
 * any thread; start, flush_begin, stop and destroy from the thread that
 * owns the exporter, with no enqueue running or to come once stop is
 * called.
 */
#ifndef PODTAP_OTLP_EXPORTER_H
#define PODTAP_OTLP_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "otel/otel_env.h"
#include "otel/otlp_http.h"
#include "otel/span.h"

/*
 * Hands back the resource of a span given to otlp_exporter_enqueue, once
 * per such span with a non-NULL resource, when the span has been encoded
 * or dropped: from within enqueue (queue full), on the export thread, or in
 * otlp_exporter_stop. So the caller can refcount its resources.
 */
typedef void (*otlp_release_fn)(void *ctx, const struct span_resource *res);

/* Label values of podtap_spans_dropped_total{reason}. */
enum otlp_drop_reason {
	OTLP_DROP_QUEUE_FULL = 0, /* "queue_full": the ring was full */
	OTLP_DROP_REJECTED,      /* "rejected": the collector refused them */
	OTLP_DROP_EXPORT_FAILED, /* "export_failed": retried in vain, or
				  * could not be encoded */
	OTLP_DROP_SHUTDOWN,      /* "shutdown": not sent by the deadline */
	OTLP_DROP__COUNT,
};

struct otlp_exporter_stats {
	uint64_t spans_enqueued; /* taken into the queue */
	uint64_t spans_exported; /* accepted by the collector */
	uint64_t spans_dropped[OTLP_DROP__COUNT];
	uint64_t queue_length;   /* spans waiting in the ring now */
	struct otlp_http_stats http; /* requests, retries, last error */
};

struct otlp_exporter;

/*
 * Starts the export thread for an enabled cfg (which is copied). Returns
 * NULL after logging why (no memory, libcurl or thread setup failed).
 * Calls curl_global_init: start exporters before other threads use curl.
 */
struct otlp_exporter *otlp_exporter_start(const struct otel_config *cfg,
					  otlp_release_fn release, void *ctx);

/*
 * Queues a copy of *s. Returns false when the queue is full: the span is
 * then dropped, counted, and its resource released before returning.
 */
bool otlp_exporter_enqueue(struct otlp_exporter *e, const struct span *s);

/*
 * The same without the copy (a span is 2.5 KiB): the queue's next slot to
 * fill in place, then otlp_exporter_commit to queue it. NULL when the
 * queue is full: the drop is counted, and the caller keeps the resource it
 * would have handed over. One caller thread, as for enqueue.
 */
struct span *otlp_exporter_reserve(struct otlp_exporter *e);
void otlp_exporter_commit(struct otlp_exporter *e);

/*
 * Starts the shutdown flush without waiting for it: the export thread
 * sends what is queued (and what is still enqueued) until
 * shutdown_timeout_ms from now, so the caller can stop other things
 * meanwhile. Idempotent; accepts NULL.
 */
void otlp_exporter_flush_begin(struct otlp_exporter *e);

/*
 * Sends what is queued, waiting no more than shutdown_timeout_ms in all
 * from flush_begin, or from now if that was not called (a transfer still
 * running then is aborted), drops the rest and ends the thread; a thread
 * still stuck in libcurl shortly after the deadline is left behind. Stats
 * stay readable until destroy. Idempotent; accepts NULL.
 */
void otlp_exporter_stop(struct otlp_exporter *e);

/* Stops if needed, then frees. Returns false, freeing nothing, when the
 * export thread did not end by the deadline (stuck in libcurl): it may
 * still use the exporter and hand resources back, so the caller keeps what
 * release needs and exits. Accepts NULL. */
bool otlp_exporter_destroy(struct otlp_exporter *e);

void otlp_exporter_get_stats(struct otlp_exporter *e,
			     struct otlp_exporter_stats *out);

const char *otlp_drop_reason_name(enum otlp_drop_reason r);

#endif /* PODTAP_OTLP_EXPORTER_H */
