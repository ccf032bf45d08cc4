// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "otel/otlp_encoder.h"
#include "otel/otlp_http.h"

/* Enqueues and stop wake the thread; this caps a wait all the same. */
#define IDLE_WAIT_MS 1000

/* Drops are counted where they happen (queue-full ones on the event loop,
 * which must not log) and reported by the export thread, at most this
 * often, so a collector that is down or refusing cannot flood the log. */
#define DROP_LOG_INTERVAL_NS (60 * NSEC_PER_SEC)

struct otlp_exporter {
	/* settings */
	uint32_t batch_size;
	uint64_t batch_timeout_ns;
	uint64_t shutdown_timeout_ns;
	otlp_release_fn release;
	void *ctx;

	/* The ring: slots [tail, head), counted from 0 and taken mod cap.
	 * Only enqueue moves head, only the export thread moves tail. */
	struct span *ring;
	uint64_t cap;
	_Atomic uint64_t head;
	_Atomic uint64_t tail;

	/* the export thread's */
	struct otlp_http *http;
	pthread_t thread;
	bool thread_started;
	bool stopped;
	bool left_behind; /* the thread did not end by the deadline */
	const struct span **batch; /* batch_size pointers into the ring */
	uint64_t drops_logged, drops_log_ns;

	/* stats */
	_Atomic uint64_t enqueued, exported;
	_Atomic uint64_t dropped[OTLP_DROP__COUNT];
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
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

/* otlp_http's idle callback: drops counted meanwhile reach the log. */
static void on_idle(void *ctx)
{
	log_drops(ctx, monotonic_ns());
}

/* ---- one batch -------------------------------------------------------- */

static void drop(struct otlp_exporter *e, enum otlp_drop_reason why,
		 uint64_t n)
{
	count(&e->dropped[why], n);
	log_drops(e, monotonic_ns());
}

/* POSTs body (n spans) and counts what became of them. */
static void send_batch(struct otlp_exporter *e, const uint8_t *body,
		       size_t len, uint64_t n)
{
	uint64_t rejected;

	switch (otlp_http_send(e->http, body, len, n, &rejected)) {
	case OTLP_SENT:
		if (rejected)
			drop(e, OTLP_DROP_REJECTED, rejected);
		count(&e->exported, n - rejected);
		break;
	case OTLP_REFUSED:
		drop(e, OTLP_DROP_REJECTED, n);
		break;
	case OTLP_GAVE_UP:
		drop(e, OTLP_DROP_EXPORT_FAILED, n);
		break;
	case OTLP_SHUTDOWN:
		drop(e, OTLP_DROP_SHUTDOWN, n);
		break;
	}
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
	uint8_t *body = NULL;
	size_t len;
	int err;

	for (uint64_t i = 0; i < n; i++)
		e->batch[i] = &e->ring[(tail + i) % e->cap];
	err = otlp_encode_traces(e->batch, n, &body, &len);
	/* The body holds all it needs: the slots can take new spans while
	 * it is sent and retried. */
	release_slots(e, tail, n);
	if (err) {
		otlp_http_note_failure(e->http, "cannot encode %llu spans: %s",
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

	while ((n = queued(e)) &&
	       !otlp_http_past_deadline(e->http, monotonic_ns()))
		export_batch(e, batch_of(e, n));
}

static void *export_main(void *arg)
{
	struct otlp_exporter *e = arg;
	uint64_t n, now, first = 0; /* when the batch's first span was seen */

	while (!otlp_http_stopping(e->http)) {
		n = queued(e);
		now = monotonic_ns();
		if (!n) {
			first = 0;
			otlp_http_wait(e->http, IDLE_WAIT_MS);
			continue;
		}
		if (!first)
			first = now;
		if (n < e->batch_size && now < first + e->batch_timeout_ns) {
			otlp_http_wait(e->http,
				       ms_until(first + e->batch_timeout_ns, now));
			continue;
		}
		export_batch(e, batch_of(e, n));
		first = 0;
	}
	flush(e);
	return NULL;
}

/* ---- setup ------------------------------------------------------------ */

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
	e->cap = cfg->queue_size;
	e->batch_size = cfg->batch_size < cfg->queue_size ? cfg->batch_size
							  : cfg->queue_size;
	e->batch_timeout_ns = cfg->batch_timeout_ms * NSEC_PER_MSEC;
	e->shutdown_timeout_ns = cfg->shutdown_timeout_ms * NSEC_PER_MSEC;
	e->release = release;
	e->ctx = ctx;

	/* Left to the kernel to back as it fills: the pages of a queue that
	 * never fills are never touched. */
	e->ring = calloc(e->cap, sizeof(*e->ring));
	e->batch = calloc(e->batch_size, sizeof(*e->batch));
	if (!e->ring || !e->batch)
		goto fail;
	e->http = otlp_http_new(cfg, "spans", on_idle, e);
	if (!e->http) {
		otlp_exporter_destroy(e);
		return NULL;
	}
	err = thread_start(&e->thread, export_main, e, "podtap-otlp");
	if (err)
		goto fail;
	e->thread_started = true;
	log_info("OTLP export to %s: batches of up to %u spans every %u ms, queue of %llu spans%s",
		 otlp_http_shown_url(e->http), e->batch_size,
		 cfg->batch_timeout_ms, (unsigned long long)e->cap,
		 cfg->gzip ? ", gzip" : "");
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
		otlp_http_wakeup(e->http);
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
	if (!e || !e->thread_started)
		return;
	otlp_http_shutdown(e->http, monotonic_ns() + e->shutdown_timeout_ns);
}

void otlp_exporter_stop(struct otlp_exporter *e)
{
	uint64_t tail, n;

	if (!e || !e->thread_started || e->stopped)
		return;
	e->stopped = true;
	otlp_exporter_flush_begin(e);
	if (!otlp_http_join_by(e->thread, otlp_http_deadline(e->http))) {
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
	otlp_http_free(e->http);
	free(e->ring);
	free(e->batch);
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
	otlp_http_get_stats(e->http, &out->http);
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
