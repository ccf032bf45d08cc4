// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_metrics_exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "otel/otlp_metrics_encoder.h"

struct otlp_metrics_exporter {
	struct metrics *metrics;
	struct otlp_http *http;
	uint64_t interval_ns;
	uint64_t shutdown_timeout_ns;
	char node_name[254];
	unsigned int n_extra;
	struct span_resource_attr extra[SPAN_RESOURCE_EXTRA_MAX];

	pthread_t thread;
	bool thread_started;
	bool stopped;
	bool left_behind; /* the thread did not end by the deadline */

	_Atomic uint64_t exports, exports_failed;
	_Atomic uint64_t points_exported, points_rejected;
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* What one push encoded, from within metrics_visit. */
struct snapshot {
	const struct otlp_metrics_exporter *e;
	uint8_t *body;
	size_t len;
	size_t points;
	int err;
};

/* Runs under the metrics lock: the views' strings are the series' own,
 * so the body is packed before the lock is let go. */
static void encode(void *arg, const struct metrics_series_view *series,
		   size_t n)
{
	struct snapshot *snap = arg;
	struct otlp_metrics_resource res = {
		.node_name = snap->e->node_name,
		.extra = snap->e->extra,
		.n_extra = snap->e->n_extra,
	};

	snap->points = n;
	if (!series) {
		snap->err = -ENOMEM;
		return;
	}
	if (n)
		snap->err = otlp_encode_metrics(series, n, &res, realtime_ns(),
						&snap->body, &snap->len);
}

static void push(struct otlp_metrics_exporter *e)
{
	struct snapshot snap = { .e = e };
	uint64_t rejected, n;

	metrics_visit(e->metrics, encode, &snap);
	n = snap.points;
	if (!n && !snap.err)
		return; /* no request seen yet: nothing to say */
	count(&e->exports, 1);
	if (snap.err) {
		otlp_http_note_failure(e->http, "cannot encode %llu data points: %s",
				       (unsigned long long)n,
				       strerror(-snap.err));
		count(&e->exports_failed, 1);
		return;
	}
	switch (otlp_http_send(e->http, snap.body, snap.len, n, &rejected)) {
	case OTLP_SENT:
		count(&e->points_exported, n - rejected);
		count(&e->points_rejected, rejected);
		break;
	case OTLP_REFUSED:
		count(&e->points_rejected, n);
		count(&e->exports_failed, 1);
		break;
	case OTLP_GAVE_UP:
	case OTLP_SHUTDOWN:
		count(&e->exports_failed, 1);
		break;
	}
	free(snap.body);
}

static void *export_main(void *arg)
{
	struct otlp_metrics_exporter *e = arg;
	uint64_t next = monotonic_ns() + e->interval_ns, now;

	while (!otlp_http_stopping(e->http)) {
		now = monotonic_ns();
		if (now < next) {
			otlp_http_wait(e->http, ms_until(next, now));
			continue;
		}
		push(e);
		/* A push that outlived its interval (retries) does not make
		 * the next ones come in a burst. */
		next += e->interval_ns;
		if (next <= monotonic_ns())
			next = monotonic_ns() + e->interval_ns;
	}
	/* The totals up to the end, unless a push cut short by the deadline
	 * has just used it up. */
	if (!otlp_http_past_deadline(e->http, monotonic_ns()))
		push(e);
	return NULL;
}

struct otlp_metrics_exporter *
otlp_metrics_exporter_start(const struct otel_config *cfg, struct metrics *m,
			    const char *node_name)
{
	struct otlp_metrics_exporter *e;
	int err;

	if (!cfg->enabled || !cfg->export_interval_ms) {
		log_error("OTLP metrics push: no endpoint or no interval");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		log_error("OTLP metrics push: out of memory");
		return NULL;
	}
	e->metrics = m;
	e->interval_ns = cfg->export_interval_ms * NSEC_PER_MSEC;
	e->shutdown_timeout_ns = cfg->shutdown_timeout_ms * NSEC_PER_MSEC;
	snprintf(e->node_name, sizeof(e->node_name), "%s",
		 node_name ? node_name : "");
	e->n_extra = cfg->n_resource_attrs;
	memcpy(e->extra, cfg->resource_attrs,
	       e->n_extra * sizeof(e->extra[0]));
	e->http = otlp_http_new(cfg, "data points", NULL, NULL);
	if (!e->http) {
		free(e);
		return NULL;
	}
	err = thread_start(&e->thread, export_main, e, "podtap-otlp-met");
	if (err) {
		log_error("OTLP metrics push: cannot start its thread: %s",
			  strerror(-err));
		otlp_metrics_exporter_destroy(e);
		return NULL;
	}
	e->thread_started = true;
	log_info("OTLP metrics push to %s every %u ms (timeout %u ms)%s",
		 otlp_http_shown_url(e->http), cfg->export_interval_ms,
		 cfg->export_timeout_ms, cfg->gzip ? ", gzip" : "");
	return e;
}

void otlp_metrics_exporter_stop(struct otlp_metrics_exporter *e)
{
	if (!e || !e->thread_started || e->stopped)
		return;
	e->stopped = true;
	otlp_http_shutdown(e->http, monotonic_ns() + e->shutdown_timeout_ns);
	if (!otlp_http_join_by(e->thread, otlp_http_deadline(e->http))) {
		e->left_behind = true;
		log_warn("OTLP metrics push still busy at the shutdown deadline "
			 "(a name lookup or a connection that does not end): "
			 "left behind");
		return;
	}
	log_debug("OTLP metrics push stopped: %llu data points exported",
		  (unsigned long long)atomic_load(&e->points_exported));
}

bool otlp_metrics_exporter_destroy(struct otlp_metrics_exporter *e)
{
	if (!e)
		return true;
	otlp_metrics_exporter_stop(e);
	if (e->left_behind)
		return false;
	otlp_http_free(e->http);
	free(e);
	return true;
}

void otlp_metrics_exporter_get_stats(struct otlp_metrics_exporter *e,
				     struct otlp_metrics_exporter_stats *out)
{
	out->exports = atomic_load_explicit(&e->exports, memory_order_relaxed);
	out->exports_failed = atomic_load_explicit(&e->exports_failed,
						   memory_order_relaxed);
	out->points_exported = atomic_load_explicit(&e->points_exported,
						    memory_order_relaxed);
	out->points_rejected = atomic_load_explicit(&e->points_rejected,
						    memory_order_relaxed);
	otlp_http_get_stats(e->http, &out->http);
}
