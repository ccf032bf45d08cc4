/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP duration histograms -> the protobuf body of an OTLP/HTTP POST
 * to /v1/metrics (an ExportMetricsServiceRequest), as the OpenTelemetry
 * HTTP semantic conventions name them: http.server.request.duration and
 * http.client.request.duration, in seconds, cumulative, with the buckets
 * /metrics shows.
 */
#ifndef PODTAP_OTLP_METRICS_ENCODER_H
#define PODTAP_OTLP_METRICS_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"
#include "prometheus/metrics.h"

/* What every resource gets besides its workload's own attributes. */
struct otlp_metrics_resource {
	const char *node_name; /* k8s.node.name; "" or NULL: none */
	const struct span_resource_attr *extra; /* OTEL_RESOURCE_ATTRIBUTES */
	unsigned int n_extra;
};

/*
 * Encodes series[0..n) (metrics_visit's views, read under its lock) as one
 * request: one ResourceMetrics per workload (service.name, the k8s.*
 * names it has, k8s.node.name, telemetry.sdk.*, then res->extra), each
 * with one ScopeMetrics (scope "podtap") holding a histogram per side
 * that has series. A series is one data point: http.request.method,
 * http.response.status_code, http.route, url.scheme and, on the client
 * side, server.address and server.port; its start time is when the
 * series began, its time now_unix_ns.
 *
 * Returns 0 and a malloc'd buffer in *out (the caller frees it) of
 * *out_len bytes; -EINVAL if n is 0, -ENOMEM.
 */
int otlp_encode_metrics(const struct metrics_series_view *series, size_t n,
			const struct otlp_metrics_resource *res,
			uint64_t now_unix_ns, uint8_t **out, size_t *out_len);

#endif /* PODTAP_OTLP_METRICS_ENCODER_H */
