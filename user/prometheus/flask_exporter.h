/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prometheus-flask-exporter's families, made from podtap's server series
 * for the pods whose compatibility mode is on (lib/compat.h), so that the
 * dashboards and alerts of a Flask shop work on podtap's /metrics:
 *
 *   flask_http_request_duration_seconds  histogram  method, path, status
 *   flask_http_request_total             counter    method, status
 *   flask_http_request_exceptions_total  counter    method, status
 *   flask_exporter_info                  gauge      version
 *
 * each also with podtap's workload labels (workload_labels.h), which the
 * chart's metric relabeling turns into namespace, pod and container
 * (docs/compat.md). path is podtap's route; the buckets are the
 * exporter's defaults, spelled as prometheus_client spells them ("1.0").
 * The exporter counts an exception when a view raises: Flask answers 500,
 * and podtap, which sees the answer, counts every 500.
 */
#ifndef PODTAP_FLASK_EXPORTER_H
#define PODTAP_FLASK_EXPORTER_H

#include "prometheus/metrics.h"
#include "prometheus/prom_writer.h"

/* node_modes: the modes on for every pod (--compat). */
void flask_exporter_render(struct metrics *m, unsigned int node_modes,
			   struct prom_writer *out);

#endif /* PODTAP_FLASK_EXPORTER_H */
