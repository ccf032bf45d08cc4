// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/python_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hashmap.h"
#include "prometheus/workload_labels.h"

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

/* A live process and the python_info series it counts in. */
struct py_process {
	struct hnode node;
	uint32_t pid;
	struct py_series *series;
};

struct python_metrics {
	pthread_mutex_t lock;
	struct hmap series;
	struct hmap processes; /* pid -> py_process */
	char node_name[254];
};

struct series_key {
	const struct workload *w;
	const char *version;
};

struct python_metrics *python_metrics_new(const char *node_name)
{
	struct python_metrics *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	snprintf(pm->node_name, sizeof(pm->node_name), "%s",
		 node_name ? node_name : "");
	pthread_mutex_init(&pm->lock, NULL);
	if (hmap_init(&pm->series) || hmap_init(&pm->processes)) {
		hmap_free(&pm->series);
		free(pm);
		return NULL;
	}
	return pm;
}

void python_metrics_free(struct python_metrics *pm)
{
	if (!pm)
		return;
	hmap_for_each(it, &pm->series) {
		free(hmap_entry(it.node, struct py_series, node));
	}
	hmap_for_each(it, &pm->processes) {
		free(hmap_entry(it.node, struct py_process, node));
	}
	hmap_free(&pm->series);
	hmap_free(&pm->processes);
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

static bool pid_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct py_process, node)->pid ==
	       *(const uint32_t *)key;
}

bool python_metrics_process_start(struct python_metrics *pm, uint32_t pid,
				  const struct workload *w,
				  const struct runtime_info *info)
{
	/* An unreadable version still is a Python: "" would collide with
	 * the workload's GC series. */
	const char *version = info->version[0] ? info->version : "unknown";
	struct py_process *p = calloc(1, sizeof(*p));

	pthread_mutex_lock(&pm->lock);
	if (hmap_find(&pm->processes, hash_u64(pid), &pid, pid_eq)) {
		/* Told twice: it is counted once. */
		pthread_mutex_unlock(&pm->lock);
		free(p);
		return false;
	}
	if (p)
		p->series = series_get(pm, w, version);
	if (!p || !p->series) {
		pthread_mutex_unlock(&pm->lock);
		free(p);
		return false;
	}
	p->pid = pid;
	p->series->processes++;
	hmap_insert(&pm->processes, &p->node, hash_u64(pid));
	pthread_mutex_unlock(&pm->lock);
	return true;
}

const struct workload *python_metrics_process_end(struct python_metrics *pm,
						  uint32_t pid)
{
	const struct workload *w = NULL;
	struct hnode *n;
	struct py_process *p;

	pthread_mutex_lock(&pm->lock);
	n = hmap_find(&pm->processes, hash_u64(pid), &pid, pid_eq);
	if (n) {
		p = hmap_entry(n, struct py_process, node);
		p->series->processes--;
		w = p->series->w;
		hmap_remove(&pm->processes, n);
		free(p);
	}
	pthread_mutex_unlock(&pm->lock);
	return w;
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

/* Held workloads are never freed, so no live process points into the
 * series dropped here. */
void python_metrics_forget_workload(struct python_metrics *pm,
				    const struct workload *w)
{
	pthread_mutex_lock(&pm->lock);
	hmap_for_each(it, &pm->series) {
		struct py_series *s = hmap_entry(it.node, struct py_series, node);

		if (s->w == w) {
			hmap_remove(&pm->series, it.node);
			free(s);
		}
	}
	pthread_mutex_unlock(&pm->lock);
}

static void render_info(struct python_metrics *pm, struct prom_writer *out)
{
	prom_family(out, "python_info", "gauge",
		    "Python interpreters running in the workload (1 per "
		    "version), found by podtap.");
	hmap_for_each(it, &pm->series) {
		const struct py_series *s = hmap_entry(it.node, struct py_series, node);
		struct prom_label labels[WORKLOAD_NLABELS + 2] = {
			[WORKLOAD_NLABELS] = { "implementation", "CPython" },
			[WORKLOAD_NLABELS + 1] = { "version", s->version },
		};

		if (!s->version[0] || !s->processes)
			continue;
		workload_labels(s->w, pm->node_name, labels);
		prom_sample(out, "python_info", labels, WORKLOAD_NLABELS + 2,
			    1);
	}
}

/* The GC series of s for generation g: the workload's labels, then
 * generation. */
static void gc_labels(const struct python_metrics *pm,
		      const struct py_series *s, int g,
		      struct prom_label labels[WORKLOAD_NLABELS + 1])
{
	static const char *const gen_names[GENERATIONS] = { "0", "1", "2" };

	workload_labels(s->w, pm->node_name, labels);
	labels[WORKLOAD_NLABELS] = (struct prom_label){ "generation",
							gen_names[g] };
}

static void render_gc(struct python_metrics *pm, struct prom_writer *out)
{
	struct prom_label labels[WORKLOAD_NLABELS + 1];

	prom_family(out, "python_gc_collections_total", "counter",
		    "Collections run by CPython's garbage collector, per "
		    "generation, from its USDT probes or collector function.");
	hmap_for_each(it, &pm->series) {
		const struct py_series *s = hmap_entry(it.node, struct py_series, node);

		for (int g = 0; !s->version[0] && g < GENERATIONS; g++) {
			gc_labels(pm, s, g, labels);
			prom_sample(out, "python_gc_collections_total", labels,
				    WORKLOAD_NLABELS + 1,
				    (double)s->gc[g].count);
		}
	}
	prom_family(out, "python_gc_duration_seconds", "histogram",
		    "Time CPython's garbage collector paused the thread that "
		    "ran it, per generation.");
	hmap_for_each(it, &pm->series) {
		const struct py_series *s = hmap_entry(it.node, struct py_series, node);

		for (int g = 0; !s->version[0] && g < GENERATIONS; g++) {
			gc_labels(pm, s, g, labels);
			prom_histogram(out, "python_gc_duration_seconds",
				       labels, WORKLOAD_NLABELS + 1,
				       pause_bounds, NBOUNDS, s->gc[g].buckets,
				       s->gc[g].sum);
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
