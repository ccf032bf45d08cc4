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

/* Drops every series of `w` (it is about to be freed). Returns how many. */
unsigned int metrics_forget_workload(struct metrics *m,
				     const struct workload *w);

#endif /* PODTAP_METRICS_H */
