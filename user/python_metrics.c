// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

#define GENERATIONS 3 /* CPython's young, middle and old generations */

/* Collector pauses are microseconds to a few hundred milliseconds. */
static const double pause_bounds[] = { 0.0001, 0.0005, 0.001, 0.0025,
				       0.005,  0.01,   0.025, 0.05,
				       0.1,    0.25,   0.5,   1 };
#define NBOUNDS (sizeof(pause_bounds) / sizeof(pause_bounds[0]))

struct gc_stats {
	uint64_t buckets[NBOUNDS + 1];
	uint64_t count;
	double sum;
};

/* A workload, or a workload's interpreter version (python_info). */
struct py_series {
	struct hnode node;
	const struct workload *w;
	char version[32];       /* "" for the GC series */
	unsigned int processes; /* python_info: live processes */
	struct gc_stats gc[GENERATIONS];
};

struct python_metrics {
	pthread_mutex_t lock;
	struct hmap series;
};

struct series_key {
	const struct workload *w;
	const char *version;
};

struct python_metrics *python_metrics_new(void)
{
	struct python_metrics *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pthread_mutex_init(&pm->lock, NULL);
	if (hmap_init(&pm->series)) {
		free(pm);
		return NULL;
	}
	return pm;
}

void python_metrics_free(struct python_metrics *pm)
{
	struct hnode *n, *next;
	size_t b;

	if (!pm)
		return;
	for (n = hmap_first(&pm->series, &b); n; n = next) {
		next = hmap_next(&pm->series, n, &b);
		free(hmap_entry(n, struct py_series, node));
	}
	hmap_free(&pm->series);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static uint64_t key_hash(const struct series_key *k)
{
	return hash_bytes(k->version, strlen(k->version),
			  hash_u64((uintptr_t)k->w));
}

static bool key_eq(const struct hnode *n, const void *key)
{
	const struct py_series *s = hmap_entry(n, struct py_series, node);
	const struct series_key *k = key;

	return s->w == k->w && !strcmp(s->version, k->version);
}

static struct py_series *series_get(struct python_metrics *pm,
				    const struct workload *w,
				    const char *version)
{
	struct series_key k = { w, version };
	uint64_t h = key_hash(&k);
	struct hnode *n = hmap_find(&pm->series, h, &k, key_eq);
	struct py_series *s;

	if (n)
		return hmap_entry(n, struct py_series, node);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->w = w;
	snprintf(s->version, sizeof(s->version), "%s", version);
	hmap_insert(&pm->series, &s->node, h);
	return s;
}

void python_metrics_process(struct python_metrics *pm,
			    const struct workload *w,
			    const struct runtime_info *info, bool alive)
{
	/* An unreadable version still is a Python: "" would collide with
	 * the workload's GC series. */
	const char *version = info->version[0] ? info->version : "unknown";
	struct py_series *s;

	pthread_mutex_lock(&pm->lock);
	s = series_get(pm, w, version);
	if (s) {
		if (alive)
			s->processes++;
		else if (s->processes)
			s->processes--;
	}
	pthread_mutex_unlock(&pm->lock);
}

void python_metrics_gc(struct python_metrics *pm, const struct workload *w,
		       unsigned int generation, double seconds)
{
	struct py_series *s;
	size_t b = 0;

	if (generation >= GENERATIONS)
		return;
	while (b < NBOUNDS && seconds > pause_bounds[b])
		b++;
	pthread_mutex_lock(&pm->lock);
	s = series_get(pm, w, "");
	if (s) {
		s->gc[generation].buckets[b]++;
		s->gc[generation].count++;
		s->gc[generation].sum += seconds;
	}
	pthread_mutex_unlock(&pm->lock);
}

#define WORKLOAD_LABELS(w)                                  \
	{ "k8s_namespace_name", (w)->namespace },           \
	{ "k8s_pod_name", (w)->pod },                       \
	{ "k8s_container_name", (w)->container },           \
	{ "service_name", (w)->service }

static void render_info(struct python_metrics *pm, struct prom_writer *out)
{
	struct hnode *n;
	size_t b;

	prom_family(out, "python_info", "gauge",
		    "Python interpreters running in the workload (1 per "
		    "version), found by podtap.");
	for (n = hmap_first(&pm->series, &b); n; n = hmap_next(&pm->series, n, &b)) {
		const struct py_series *s = hmap_entry(n, struct py_series, node);
		struct prom_label labels[] = {
			WORKLOAD_LABELS(s->w),
			{ "implementation", "CPython" },
			{ "version", s->version },
		};

		if (s->version[0] && s->processes)
			prom_sample(out, "python_info", labels, 6, 1);
	}
}

static void render_gc(struct python_metrics *pm, struct prom_writer *out)
{
	static const char *const gen_names[GENERATIONS] = { "0", "1", "2" };
	struct hnode *n;
	size_t b;

	prom_family(out, "python_gc_collections_total", "counter",
		    "Collections run by CPython's garbage collector, per "
		    "generation, from its USDT probes or collector function.");
	for (n = hmap_first(&pm->series, &b); n; n = hmap_next(&pm->series, n, &b)) {
		const struct py_series *s = hmap_entry(n, struct py_series, node);

		for (int g = 0; !s->version[0] && g < GENERATIONS; g++) {
			struct prom_label labels[] = {
				WORKLOAD_LABELS(s->w),
				{ "generation", gen_names[g] },
			};

			prom_sample(out, "python_gc_collections_total", labels,
				    5, (double)s->gc[g].count);
		}
	}
	prom_family(out, "python_gc_duration_seconds", "histogram",
		    "Time CPython's garbage collector paused the thread that "
		    "ran it, per generation.");
	for (n = hmap_first(&pm->series, &b); n; n = hmap_next(&pm->series, n, &b)) {
		const struct py_series *s = hmap_entry(n, struct py_series, node);

		for (int g = 0; !s->version[0] && g < GENERATIONS; g++) {
			struct prom_label labels[] = {
				WORKLOAD_LABELS(s->w),
				{ "generation", gen_names[g] },
			};

			prom_histogram(out, "python_gc_duration_seconds",
				       labels, 5, pause_bounds, NBOUNDS,
				       s->gc[g].buckets, s->gc[g].sum);
		}
	}
}

void python_metrics_render(struct python_metrics *pm, struct prom_writer *out)
{
	pthread_mutex_lock(&pm->lock);
	render_info(pm, out);
	render_gc(pm, out);
	pthread_mutex_unlock(&pm->lock);
}
