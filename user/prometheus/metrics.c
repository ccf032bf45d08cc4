// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "prometheus/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_method.h"
#include "lib/clock.h"
#include "lib/hashmap.h"
#include "lib/sanitize.h"
#include "prometheus/workload_labels.h"

const double metrics_duration_bounds[METRICS_NBOUNDS] = {
	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
	0.5,   0.75, 1,     2.5,  5,     7.5, 10,
};

/* What metrics keeps per workload: its series, for the cap and for
 * forgetting them when the resolver frees the workload. */
struct workload_series {
	struct hnode node; /* by workload address */
	const struct workload *w;
	struct series *list;          /* its series, by next_of_workload */
	unsigned int nseries;         /* route series, the overflow one not */
	uint64_t dropped;             /* requests past the cap */
	const struct series *overflow; /* its overflow series, once made */
};

struct series {
	struct hnode node;
	struct series *next_of_workload; /* the workload's list */
	enum metrics_side side;
	unsigned int server_port;
	char *server_address; /* points into route[]'s allocation */
	const struct workload *w;
	const char *method; /* static string from http_method_label */
	const char *scheme; /* static string */
	int status;
	uint64_t start_unix_ns; /* when it was made: OTLP's start time */
	uint64_t buckets[METRICS_NBOUNDS + 1];
	uint64_t count;
	double sum;
	char route[]; /* NUL-terminated */
};

struct series_key {
	enum metrics_side side;
	const char *server_address;
	unsigned int server_port;
	const struct workload *w;
	const char *method;
	const char *scheme;
	const char *route;
	int status;
};

struct metrics {
	pthread_mutex_t lock;
	struct hmap series;
	struct hmap workloads; /* struct workload_series */
	unsigned int max_series;
	char node_name[254];
};

struct metrics *metrics_new(unsigned int max_series_per_workload,
			    const char *node_name)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (hmap_init(&m->series) || hmap_init(&m->workloads)) {
		hmap_free(&m->series);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->max_series = max_series_per_workload;
	snprintf(m->node_name, sizeof(m->node_name), "%s",
		 node_name ? node_name : "");
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	hmap_for_each(it, &m->series) {
		free(hmap_entry(it.node, struct series, node));
	}
	hmap_for_each(it, &m->workloads) {
		free(hmap_entry(it.node, struct workload_series, node));
	}
	hmap_free(&m->series);
	hmap_free(&m->workloads);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static uint64_t key_hash(const struct series_key *k)
{
	uint64_t h = hash_u64((uintptr_t)k->w ^ ((uint64_t)k->status << 48) ^
			      ((uint64_t)k->side << 40) ^
			      ((uint64_t)k->server_port << 16));

	h = hash_bytes(k->method, strlen(k->method), h);
	h = hash_bytes(k->scheme, strlen(k->scheme), h);
	h = hash_bytes(k->server_address, strlen(k->server_address), h);
	return hash_bytes(k->route, strlen(k->route), h);
}

static bool key_eq(const struct hnode *n, const void *key)
{
	const struct series *s = hmap_entry(n, struct series, node);
	const struct series_key *k = key;

	return s->w == k->w && s->side == k->side && s->status == k->status &&
	       s->method == k->method && s->scheme == k->scheme &&
	       s->server_port == k->server_port &&
	       !strcmp(s->route, k->route) &&
	       !strcmp(s->server_address, k->server_address);
}

static bool workload_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct workload_series, node)->w == key;
}

/* w's entry, made on first use; NULL when out of memory. */
static struct workload_series *workload_series_of(struct metrics *m,
						  const struct workload *w)
{
	uint64_t h = hash_u64((uintptr_t)w);
	struct hnode *n = hmap_find(&m->workloads, h, w, workload_eq);
	struct workload_series *ws;

	if (n)
		return hmap_entry(n, struct workload_series, node);
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return NULL;
	ws->w = w;
	hmap_insert(&m->workloads, &ws->node, h);
	return ws;
}

static struct series *series_get(struct metrics *m, struct series_key *k)
{
	uint64_t h = key_hash(k);
	struct hnode *n = hmap_find(&m->series, h, k, key_eq);
	size_t route_len = strlen(k->route);
	struct workload_series *w;
	struct series *s;
	bool overflow;

	if (n)
		return hmap_entry(n, struct series, node);
	w = workload_series_of(m, k->w);
	if (!w)
		return NULL;
	/* A new series: past the cap, fold it into the overflow route (which
	 * itself does not count against the cap). */
	overflow = !strcmp(k->route, METRICS_OVERFLOW_ROUTE);
	if (!overflow && w->nseries >= m->max_series) {
		w->dropped++;
		k->route = METRICS_OVERFLOW_ROUTE;
		k->server_address = "";
		k->server_port = 0;
		return series_get(m, k);
	}
	s = calloc(1, sizeof(*s) + route_len + 1 +
			      strlen(k->server_address) + 1);
	if (!s)
		return NULL;
	s->side = k->side;
	s->w = k->w;
	s->method = k->method;
	s->scheme = k->scheme;
	s->status = k->status;
	s->server_port = k->server_port;
	s->start_unix_ns = realtime_ns();
	strcpy(s->route, k->route);
	s->server_address = s->route + route_len + 1;
	strcpy(s->server_address, k->server_address);
	hmap_insert(&m->series, &s->node, h);
	s->next_of_workload = w->list;
	w->list = s;
	if (!overflow)
		w->nseries++;
	else if (!w->overflow)
		w->overflow = s;
	return s;
}

void metrics_record(struct metrics *m, const struct metrics_exchange *x)
{
	/* Series are keyed by what /metrics will show: two routes or hosts
	 * whose bytes differ only where sanitising replaces them are one
	 * series, not two with the same labels. */
	char route[SANITIZE_MAX + 1], server[SANITIZE_MAX + 1];
	struct series_key k = {
		.side = x->side,
		.w = x->w,
		.method = http_method_label(x->method),
		.scheme = x->scheme,
		.route = route,
		.status = x->status,
		.server_address = server,
		.server_port = x->side == METRICS_CLIENT ? x->server_port : 0,
	};
	struct series *s;
	size_t b = 0;

	server[0] = '\0';
	sanitize_text(x->route, strlen(x->route), route, sizeof(route));
	if (x->side == METRICS_CLIENT && x->server_address)
		sanitize_text(x->server_address, strlen(x->server_address),
			      server, sizeof(server));

	while (b < METRICS_NBOUNDS && x->seconds > metrics_duration_bounds[b])
		b++;
	pthread_mutex_lock(&m->lock);
	s = series_get(m, &k);
	if (s) {
		s->buckets[b]++;
		s->count++;
		s->sum += x->seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

static void render_side(struct metrics *m, enum metrics_side side,
			struct prom_writer *out)
{
	static const char *const names[] = {
		"http_server_request_duration_seconds",
		"http_client_request_duration_seconds",
	};
	static const char *const helps[] = {
		"Duration of HTTP server requests, from the read of the "
		"request's first byte to the write of the response's last "
		"byte, as seen by podtap from the kernel.",
		"Duration of HTTP client requests, from the write of the "
		"request's first byte to the read of the response's last "
		"byte, as seen by podtap from the kernel.",
	};
	size_t nlabels = 4 + WORKLOAD_NLABELS +
				  (side == METRICS_CLIENT ? 2 : 0);

	prom_family(out, names[side], "histogram", helps[side]);
	hmap_for_each(it, &m->series) {
		const struct series *s = hmap_entry(it.node, struct series, node);
		char status[16], port[16];
		struct prom_label labels[4 + WORKLOAD_NLABELS + 2] = {
			{ "http_request_method", s->method },
			{ "http_response_status_code", status },
			{ "http_route", s->route },
			{ "url_scheme", s->scheme },
		};

		if (s->side != side)
			continue;
		workload_labels(s->w, m->node_name, &labels[4]);
		labels[4 + WORKLOAD_NLABELS] =
			(struct prom_label){ "server_address", s->server_address };
		labels[4 + WORKLOAD_NLABELS + 1] =
			(struct prom_label){ "server_port", port };
		snprintf(status, sizeof(status), "%d", s->status);
		snprintf(port, sizeof(port), "%u", s->server_port);
		prom_histogram(out, names[side], labels, nlabels,
			       metrics_duration_bounds, METRICS_NBOUNDS,
			       s->buckets, s->sum);
	}
}

/* Once per workload that hit the cap. */
static void render_dropped(struct metrics *m, struct prom_writer *out)
{
	static const char name[] = "podtap_series_dropped_total";

	prom_family(out, name, "counter",
		    "Requests folded into http_route=\"{overflow}\" because "
		    "their workload reached --max-series-per-pod.");
	hmap_for_each(it, &m->workloads) {
		const struct workload_series *w =
			hmap_entry(it.node, struct workload_series, node);
		struct prom_label labels[WORKLOAD_NLABELS];

		if (!w->overflow)
			continue;
		workload_labels(w->w, m->node_name, labels);
		prom_sample(out, name, labels, WORKLOAD_NLABELS,
			    (double)w->dropped);
	}
}

void metrics_render(struct metrics *m, struct prom_writer *out)
{
	pthread_mutex_lock(&m->lock);
	render_side(m, METRICS_SERVER, out);
	render_side(m, METRICS_CLIENT, out);
	render_dropped(m, out);
	pthread_mutex_unlock(&m->lock);
}

void metrics_visit(struct metrics *m, metrics_visit_fn fn, void *ctx)
{
	struct metrics_series_view *v;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	v = calloc(m->series.count ? m->series.count : 1, sizeof(*v));
	if (v) {
		hmap_for_each(it, &m->series) {
			const struct series *s =
				hmap_entry(it.node, struct series, node);

			v[n++] = (struct metrics_series_view){
				.side = s->side, .w = s->w,
				.method = s->method, .route = s->route,
				.scheme = s->scheme, .status = s->status,
				.server_address = s->server_address,
				.server_port = s->server_port,
				.start_unix_ns = s->start_unix_ns,
				.buckets = s->buckets, .count = s->count,
				.sum = s->sum,
			};
		}
	}
	fn(ctx, v, n);
	pthread_mutex_unlock(&m->lock);
	free(v);
}

const char *metrics_node_name(const struct metrics *m)
{
	return m->node_name;
}

uint64_t metrics_series_count(struct metrics *m)
{
	uint64_t v;

	pthread_mutex_lock(&m->lock);
	v = m->series.count;
	pthread_mutex_unlock(&m->lock);
	return v;
}

unsigned int metrics_forget_workload(struct metrics *m,
				     const struct workload *w)
{
	uint64_t h = hash_u64((uintptr_t)w);
	struct workload_series *ws;
	struct series *s, *next;
	struct hnode *node;
	unsigned int n = 0;

	pthread_mutex_lock(&m->lock);
	node = hmap_find(&m->workloads, h, w, workload_eq);
	if (node) {
		ws = hmap_entry(node, struct workload_series, node);
		for (s = ws->list; s; s = next) {
			next = s->next_of_workload;
			hmap_remove(&m->series, &s->node);
			free(s);
			n++;
		}
		hmap_remove(&m->workloads, node);
		free(ws);
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}
