// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "prometheus/flask_exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compat.h"
#include "lib/hashmap.h"
#include "lib/version.h"
#include "prometheus/workload_labels.h"

/* metrics_duration_bounds as prometheus_client writes them. */
static const char *const le_spelled[METRICS_NBOUNDS] = {
	"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25",
	"0.5",	 "0.75", "1.0",	  "2.5",  "5.0",   "7.5", "10.0",
};

/*
 * podtap's series of one (workload, method, route, status) differ by
 * scheme only; the exporter's do not: they are summed. path_less: the
 * (method, status) sums for flask_http_request_total.
 */
struct flask_series {
	struct hnode node;
	const struct workload *w;
	const char *method; /* static: http_method_label's */
	const char *route;  /* NULL: summed over paths */
	int status;
	uint64_t buckets[METRICS_NBOUNDS + 1];
	uint64_t count;
	double sum;
};

struct flask_render {
	unsigned int node_modes;
	const char *node_name;
	struct prom_writer *out;
};

static uint64_t flask_hash(const struct flask_series *k)
{
	uint64_t h = hash_u64((uintptr_t)k->w ^ (uintptr_t)k->method ^
			      ((uint64_t)k->status << 40));

	return k->route ? hash_bytes(k->route, strlen(k->route), h) : h;
}

static bool flask_eq(const struct hnode *n, const void *key)
{
	const struct flask_series *a = hmap_entry(n, struct flask_series, node);
	const struct flask_series *b = key;

	return a->w == b->w && a->method == b->method &&
	       a->status == b->status && !a->route == !b->route &&
	       (!a->route || !strcmp(a->route, b->route));
}

/* Adds series v to the sum of its key in m; false when out of memory. */
static bool add(struct hmap *m, const struct metrics_series_view *v,
		bool by_path)
{
	struct flask_series k = { .w = v->w, .method = v->method,
				  .route = by_path ? v->route : NULL,
				  .status = v->status };
	uint64_t h = flask_hash(&k);
	struct hnode *n = hmap_find(m, h, &k, flask_eq);
	struct flask_series *s;

	if (n) {
		s = hmap_entry(n, struct flask_series, node);
	} else {
		s = malloc(sizeof(*s));
		if (!s)
			return false;
		*s = k;
		hmap_insert(m, &s->node, h);
	}
	for (size_t i = 0; i <= METRICS_NBOUNDS; i++)
		s->buckets[i] += v->buckets[i];
	s->count += v->count;
	s->sum += v->sum;
	return true;
}

static void labels_of(const struct flask_render *r,
		      const struct flask_series *s, char *status,
		      struct prom_label *labels, size_t *n)
{
	size_t i = 0;

	snprintf(status, 16, "%d", s->status);
	labels[i++] = (struct prom_label){ "method", s->method };
	if (s->route)
		labels[i++] = (struct prom_label){ "path", s->route };
	labels[i++] = (struct prom_label){ "status", status };
	workload_labels(s->w, r->node_name, &labels[i]);
	*n = i + WORKLOAD_NLABELS;
}

static void render_duration(const struct flask_render *r, struct hmap *m)
{
	static const char name[] = "flask_http_request_duration_seconds";

	prom_family(r->out, name, "histogram",
		    "Flask HTTP request duration in seconds (podtap: from the "
		    "request's first byte read to the response's last byte "
		    "written)");
	hmap_for_each(it, m) {
		const struct flask_series *s =
			hmap_entry(it.node, struct flask_series, node);
		struct prom_label labels[3 + WORKLOAD_NLABELS];
		char status[16];
		size_t n;

		labels_of(r, s, status, labels, &n);
		prom_histogram_spelled(r->out, name, labels, n, le_spelled,
				       METRICS_NBOUNDS, s->buckets, s->sum);
	}
}

/* flask_http_request_total, and the 500s as
 * flask_http_request_exceptions_total (which the exporter only has once
 * one came). */
static void render_counts(const struct flask_render *r, struct hmap *m,
			  bool exceptions)
{
	const char *name = exceptions ? "flask_http_request_exceptions_total"
				      : "flask_http_request_total";

	prom_family(r->out, name, "counter",
		    exceptions ? "Total number of HTTP requests which "
				 "resulted in an exception (podtap: answered "
				 "500)"
			       : "Total number of HTTP requests");
	hmap_for_each(it, m) {
		const struct flask_series *s =
			hmap_entry(it.node, struct flask_series, node);
		struct prom_label labels[2 + WORKLOAD_NLABELS];
		char status[16];
		size_t n;

		if (exceptions && s->status != 500)
			continue;
		labels_of(r, s, status, labels, &n);
		prom_sample(r->out, name, labels, n, (double)s->count);
	}
}

/* One per workload: the first (method, status) sum of each names it. */
static void render_info(const struct flask_render *r, struct hmap *m)
{
	static const char name[] = "flask_exporter_info";
	struct hmap seen;

	if (hmap_init(&seen)) {
		r->out->failed = true;
		return;
	}
	prom_family(r->out, name, "gauge",
		    "Information about the Prometheus Flask exporter (podtap "
		    "serves its families)");
	hmap_for_each(it, m) {
		const struct flask_series *s =
			hmap_entry(it.node, struct flask_series, node);
		struct flask_series k = { .w = s->w };
		uint64_t h = flask_hash(&k);
		struct prom_label labels[1 + WORKLOAD_NLABELS] = {
			{ "version", "podtap-" PODTAP_VERSION },
		};
		struct flask_series *mark;

		if (hmap_find(&seen, h, &k, flask_eq))
			continue;
		mark = malloc(sizeof(*mark));
		if (!mark) {
			r->out->failed = true;
			break;
		}
		*mark = k;
		hmap_insert(&seen, &mark->node, h);
		workload_labels(s->w, r->node_name, &labels[1]);
		prom_sample(r->out, name, labels, 1 + WORKLOAD_NLABELS, 1);
	}
	hmap_for_each(it, &seen) {
		free(hmap_entry(it.node, struct flask_series, node));
	}
	hmap_free(&seen);
}

static void free_sums(struct hmap *m)
{
	hmap_for_each(it, m) {
		free(hmap_entry(it.node, struct flask_series, node));
	}
	hmap_free(m);
}

static void render_visit(void *ctx, const struct metrics_series_view *v,
			 size_t n)
{
	const struct flask_render *r = ctx;
	struct hmap by_path, by_status;
	bool ok;

	if (!v) {
		r->out->failed = true;
		return;
	}
	ok = !hmap_init(&by_path);
	if (ok && hmap_init(&by_status)) {
		hmap_free(&by_path);
		ok = false;
	}
	if (!ok) {
		r->out->failed = true;
		return;
	}
	for (size_t i = 0; i < n && ok; i++) {
		unsigned int modes =
			r->node_modes |
			__atomic_load_n(&v[i].w->compat, __ATOMIC_RELAXED);

		if (v[i].side != METRICS_SERVER ||
		    !(modes & COMPAT_FLASK_EXPORTER))
			continue;
		ok = add(&by_path, &v[i], true) && add(&by_status, &v[i], false);
	}
	if (!ok)
		r->out->failed = true;
	else if (by_status.count) {
		render_duration(r, &by_path);
		render_counts(r, &by_status, false);
		render_counts(r, &by_status, true);
		render_info(r, &by_status);
	}
	free_sums(&by_path);
	free_sums(&by_status);
}

void flask_exporter_render(struct metrics *m, unsigned int node_modes,
			   struct prom_writer *out)
{
	struct flask_render r = { .node_modes = node_modes,
				  .node_name = metrics_node_name(m),
				  .out = out };

	metrics_visit(m, render_visit, &r);
}
