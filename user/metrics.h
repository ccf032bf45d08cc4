/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Aggregates exchanges into http_server_request_duration_seconds histograms
 * per workload, method, route, status and scheme, with a per-workload cap on
 * route series. Thread-safe: the event loop records, the HTTP thread renders.
 */
#ifndef PODTAP_METRICS_H
#define PODTAP_METRICS_H

#include <stdint.h>

#include "pod_resolver.h"
#include "prom_writer.h"

#define METRICS_OVERFLOW_ROUTE "{overflow}"

struct metrics;

struct metrics *metrics_new(unsigned int max_series_per_workload);
void metrics_free(struct metrics *m); /* accepts NULL */

/* Records one server exchange. `method` as sent (normalised here to the
 * OpenTelemetry set or "_OTHER"); `route` already normalised. */
void metrics_record_server(struct metrics *m, const struct workload *w,
			   const char *method, const char *route, int status,
			   const char *scheme, double seconds);

/* Appends the HTTP families to `out`. */
void metrics_render(struct metrics *m, struct prom_writer *out);

/* Requests folded into the overflow route because of the series cap. */
uint64_t metrics_series_dropped(struct metrics *m);
uint64_t metrics_series_count(struct metrics *m);

/* The OpenTelemetry method set, else "_OTHER". */
const char *http_method_label(const char *method);

#endif /* PODTAP_METRICS_H */
