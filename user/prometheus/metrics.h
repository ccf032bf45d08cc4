/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Aggregates exchanges into the http_server_request_duration_seconds and
 * http_client_request_duration_seconds histograms per workload, method,
 * route, status and scheme (and, for clients, server address and port),
 * with a per-workload cap on series. Thread-safe: the event loop records,
 * the HTTP thread renders.
 */
#ifndef PODTAP_METRICS_H
#define PODTAP_METRICS_H

#include <stdint.h>

#include "k8s/pod_resolver.h"
#include "prometheus/prom_writer.h"

#define METRICS_OVERFLOW_ROUTE "{overflow}"

/* The histograms' upper bounds, in seconds: OpenTelemetry's recommended
 * ones for HTTP durations (also prometheus_client's defaults). */
#define METRICS_NBOUNDS 14
extern const double metrics_duration_bounds[METRICS_NBOUNDS];

struct metrics;

/* node_name: the k8s_node_name label of every series ("" or NULL: none). */
struct metrics *metrics_new(unsigned int max_series_per_workload,
			    const char *node_name);
void metrics_free(struct metrics *m); /* accepts NULL */

enum metrics_side { METRICS_SERVER = 0, METRICS_CLIENT = 1 };

/* One exchange, as its labels. */
struct metrics_exchange {
	enum metrics_side side;
	const struct workload *w;
	const char *method;         /* as sent; normalised here */
	const char *route;          /* already normalised */
	int status;
	const char *scheme;         /* static string: "http", "https" */
	const char *server_address; /* client side only */
	unsigned int server_port;   /* client side only */
	double seconds;
};

void metrics_record(struct metrics *m, const struct metrics_exchange *x);

/* Appends the HTTP families, and podtap_series_dropped_total per workload
 * (requests folded into the overflow route by the cap), to `out`. */
void metrics_render(struct metrics *m, struct prom_writer *out);

uint64_t metrics_series_count(struct metrics *m);

/* The k8s_node_name of every series ("" when none). */
const char *metrics_node_name(const struct metrics *m);

/* One series as /metrics shows it, for renderers of other names. */
struct metrics_series_view {
	enum metrics_side side;
	const struct workload *w;
	const char *method; /* http_method_label's */
	const char *route;
	const char *scheme;
	int status;
	const char *server_address; /* client side; "" when not known */
	unsigned int server_port;   /* client side; 0 when not known */
	uint64_t start_unix_ns;     /* when the series began counting */
	const uint64_t *buckets; /* METRICS_NBOUNDS + 1, not cumulative */
	uint64_t count;
	double sum;
};

/* Calls fn once with every series (n of them; NULL when out of memory),
 * under the lock that recording and forgetting take: the views, and the
 * workloads they point to, are valid until fn returns. fn must not call
 * back into m. */
typedef void (*metrics_visit_fn)(void *ctx,
				 const struct metrics_series_view *series,
				 size_t n);
void metrics_visit(struct metrics *m, metrics_visit_fn fn, void *ctx);

/* Drops every series of `w` (it is about to be freed). Returns how many. */
unsigned int metrics_forget_workload(struct metrics *m,
				     const struct workload *w);

#endif /* PODTAP_METRICS_H */
