/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The OTLP metrics push: a periodic reader on a thread of its own. Every
 * export_interval_ms it reads every HTTP duration series (metrics_visit),
 * encodes them (otlp_metrics_encoder) and sends them with otlp_http,
 * retries included, within export_timeout_ms; at stop it pushes once more,
 * within shutdown_timeout_ms. The figures are cumulative, so a push that
 * fails loses no request, only that point in time: the next one carries
 * the same totals and more.
 *
 * Threads: start, stop and destroy from the owner; stats from any thread.
 * The metrics store must outlive the exporter.
 */
#ifndef PODTAP_OTLP_METRICS_EXPORTER_H
#define PODTAP_OTLP_METRICS_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "otel/otel_env.h"
#include "otel/otlp_http.h"
#include "prometheus/metrics.h"

struct otlp_metrics_exporter_stats {
	uint64_t exports;         /* pushes with something to send */
	uint64_t exports_failed;  /* of them, those that did not get in */
	uint64_t points_exported; /* data points the collector took */
	uint64_t points_rejected; /* refused, or rejected by a partial
				   * success */
	struct otlp_http_stats http;
};

struct otlp_metrics_exporter;

/* For an enabled cfg (copied), reading m; node_name: k8s.node.name of
 * every resource. Returns NULL after logging why. */
struct otlp_metrics_exporter *
otlp_metrics_exporter_start(const struct otel_config *cfg, struct metrics *m,
			    const char *node_name);

/* Pushes once more, waiting no more than shutdown_timeout_ms, and ends the
 * thread. Idempotent; accepts NULL. */
void otlp_metrics_exporter_stop(struct otlp_metrics_exporter *e);

/* Stops if needed, then frees. Returns false, freeing nothing, when the
 * thread did not end by the deadline (stuck in libcurl): the caller then
 * keeps the metrics store and exits. Accepts NULL. */
bool otlp_metrics_exporter_destroy(struct otlp_metrics_exporter *e);

void otlp_metrics_exporter_get_stats(struct otlp_metrics_exporter *e,
				     struct otlp_metrics_exporter_stats *out);

#endif /* PODTAP_OTLP_METRICS_EXPORTER_H */
