// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* OpenTelemetry's recommended buckets for HTTP durations, in seconds. */
static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.075,
					   0.1,   0.25, 0.5,   0.75, 1,
					   2.5,   5,    7.5,   10 };
#define NBOUNDS (sizeof(duration_bounds) / sizeof(duration_bounds[0]))

struct series {
	struct hnode node;
	const struct workload *w;
	const char *method; /* static string from http_method_label */
	const char *scheme; /* static string */
	int status;
	uint64_t buckets[NBOUNDS + 1];
	uint64_t count;
	double sum;
	char route[]; /* NUL-terminated */
};

struct series_key {
	const struct workload *w;
	const char *method;
	const char *scheme;
	const char *route;
	int status;
};

struct metrics {
	pthread_mutex_t lock;
	struct hmap series;
	unsigned int max_series;
	uint64_t series_dropped;
};

const char *http_method_label(const char *method)
{
	static const char *const known[] = { "GET",    "HEAD",    "POST",
					     "PUT",    "DELETE",  "CONNECT",
					     "OPTIONS", "TRACE",  "PATCH" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(method, known[i]))
			return known[i];
	return "_OTHER";
}

struct metrics *metrics_new(unsigned int max_series_per_workload)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (hmap_init(&m->series)) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->max_series = max_series_per_workload;
	return m;
}

void metrics_free(struct metrics *m)
{
	size_t b;
	struct hnode *n, *next;

	if (!m)
		return;
	for (n = hmap_first(&m->series, &b); n; n = next) {
		next = hmap_next(&m->series, n, &b);
		free(hmap_entry(n, struct series, node));
	}
	hmap_free(&m->series);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static uint64_t key_hash(const struct series_key *k)
{
	uint64_t h = hash_u64((uintptr_t)k->w ^ ((uint64_t)k->status << 48));

	h = hash_bytes(k->method, strlen(k->method), h);
	h = hash_bytes(k->scheme, strlen(k->scheme), h);
	return hash_bytes(k->route, strlen(k->route), h);
}

static bool key_eq(const struct hnode *n, const void *key)
{
	const struct series *s = hmap_entry(n, struct series, node);
	const struct series_key *k = key;

	return s->w == k->w && s->status == k->status &&
	       s->method == k->method && s->scheme == k->scheme &&
	       !strcmp(s->route, k->route);
}

static struct series *series_get(struct metrics *m, struct series_key *k)
{
	uint64_t h = key_hash(k);
	struct hnode *n = hmap_find(&m->series, h, k, key_eq);
	struct workload *w = (struct workload *)k->w;
	struct series *s;
	bool overflow;

	if (n)
		return hmap_entry(n, struct series, node);
	/* A new route series: past the cap, fold it into the overflow route
	 * (which itself does not count against the cap). */
	overflow = !strcmp(k->route, METRICS_OVERFLOW_ROUTE);
	if (!overflow && w->nseries >= m->max_series) {
		m->series_dropped++;
		k->route = METRICS_OVERFLOW_ROUTE;
		return series_get(m, k);
	}
	s = calloc(1, sizeof(*s) + strlen(k->route) + 1);
	if (!s)
		return NULL;
	s->w = k->w;
	s->method = k->method;
	s->scheme = k->scheme;
	s->status = k->status;
	strcpy(s->route, k->route);
	hmap_insert(&m->series, &s->node, h);
	if (!overflow)
		w->nseries++;
	return s;
}

void metrics_record_server(struct metrics *m, const struct workload *w,
			   const char *method, const char *route, int status,
			   const char *scheme, double seconds)
{
	struct series_key k = { .w = w, .method = http_method_label(method),
				.scheme = scheme, .route = route,
				.status = status };
	struct series *s;
	size_t b = 0;

	while (b < NBOUNDS && seconds > duration_bounds[b])
		b++;
	pthread_mutex_lock(&m->lock);
	s = series_get(m, &k);
	if (s) {
		s->buckets[b]++;
		s->count++;
		s->sum += seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_render(struct metrics *m, struct prom_writer *out)
{
	static const char name[] = "http_server_request_duration_seconds";
	size_t b;
	struct hnode *n;

	prom_family(out, name, "histogram",
		    "Duration of HTTP server requests, from the read of the "
		    "request's first byte to the write of the response's last "
		    "byte, as seen by podtap from the kernel.");
	pthread_mutex_lock(&m->lock);
	for (n = hmap_first(&m->series, &b); n; n = hmap_next(&m->series, n, &b)) {
		const struct series *s = hmap_entry(n, struct series, node);
		char status[16];
		struct prom_label labels[] = {
			{ "http_request_method", s->method },
			{ "http_response_status_code", status },
			{ "http_route", s->route },
			{ "url_scheme", s->scheme },
			{ "k8s_namespace_name", s->w->namespace },
			{ "k8s_pod_name", s->w->pod },
			{ "k8s_container_name", s->w->container },
			{ "service_name", s->w->service },
		};

		snprintf(status, sizeof(status), "%d", s->status);
		prom_histogram(out, name, labels,
			       sizeof(labels) / sizeof(labels[0]),
			       duration_bounds, NBOUNDS, s->buckets, s->sum);
	}
	pthread_mutex_unlock(&m->lock);
}

uint64_t metrics_series_dropped(struct metrics *m)
{
	uint64_t v;

	pthread_mutex_lock(&m->lock);
	v = m->series_dropped;
	pthread_mutex_unlock(&m->lock);
	return v;
}

uint64_t metrics_series_count(struct metrics *m)
{
	uint64_t v;

	pthread_mutex_lock(&m->lock);
	v = m->series.count;
	pthread_mutex_unlock(&m->lock);
	return v;
}
