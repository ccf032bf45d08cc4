// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "prometheus/server_load.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s/pod_netns.h"
#include "lib/clock.h"
#include "lib/hashmap.h"
#include "prometheus/workload_labels.h"

/* Waits in the accept queue: from none to a saturated worker's seconds. */
static const double wait_bounds[] = { 0.0001, 0.0005, 0.001, 0.005, 0.01,
				      0.025,  0.05,   0.1,   0.25,  0.5,
				      1,      2.5,    5,     10 };
#define NWAIT (sizeof(wait_bounds) / sizeof(wait_bounds[0]))
#define MAX_WORKERS 65536
#define RING (SERVER_LOAD_WINDOW_S + 1) /* a sample a second, both ends */

/* One workload's figures. */
struct load {
	struct hnode node; /* by workload address */
	const struct workload *w;
	uint64_t waits[NWAIT + 1];
	double wait_sum;
	bool has_waits;
	int64_t active;         /* requests open */
	uint64_t busy_done_ns;  /* busy intervals that ended */
	unsigned int workers;
	uint32_t pid;           /* a process of it: its network namespace */
	/* Cumulative busy time a second apart, for the saturation. */
	uint64_t ring_ts[RING], ring_busy[RING];
	unsigned int ring_len, ring_next;
	double saturation;      /* < 0: not known yet */
};

/* A thread that serves requests. */
struct worker {
	struct hnode node; /* by (pid, tid) */
	uint32_t pid, tid;
	struct load *load;
	unsigned int open;  /* its requests open */
	uint64_t busy_since;
};

struct server_load {
	pthread_mutex_t lock;
	struct hmap loads, workers;
	char proc_root[256];
	char node_name[254];
	struct server_load_stats stats;
};

struct server_load *server_load_new(const char *proc_root,
				    const char *node_name)
{
	struct server_load *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (hmap_init(&l->loads) || hmap_init(&l->workers)) {
		hmap_free(&l->loads);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	snprintf(l->proc_root, sizeof(l->proc_root), "%s", proc_root);
	snprintf(l->node_name, sizeof(l->node_name), "%s",
		 node_name ? node_name : "");
	return l;
}

void server_load_free(struct server_load *l)
{
	if (!l)
		return;
	hmap_for_each(it, &l->workers) {
		free(hmap_entry(it.node, struct worker, node));
	}
	hmap_for_each(it, &l->loads) {
		free(hmap_entry(it.node, struct load, node));
	}
	hmap_free(&l->workers);
	hmap_free(&l->loads);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static bool load_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct load, node)->w == key;
}

static struct load *load_of(struct server_load *l, const struct workload *w)
{
	uint64_t h = hash_u64((uintptr_t)w);
	struct hnode *n = hmap_find(&l->loads, h, w, load_eq);
	struct load *d;

	if (n)
		return hmap_entry(n, struct load, node);
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->w = w;
	d->saturation = -1;
	hmap_insert(&l->loads, &d->node, h);
	return d;
}

struct worker_key {
	uint32_t pid, tid;
};

static uint64_t worker_hash(uint32_t pid, uint32_t tid)
{
	return hash_u64((uint64_t)pid << 32 | tid);
}

static bool worker_eq(const struct hnode *n, const void *key)
{
	const struct worker *k = hmap_entry(n, struct worker, node);
	const struct worker_key *x = key;

	return k->pid == x->pid && k->tid == x->tid;
}

static struct worker *worker_find(struct server_load *l, uint32_t pid,
				  uint32_t tid)
{
	struct worker_key k = { pid, tid };
	struct hnode *n = hmap_find(&l->workers, worker_hash(pid, tid), &k,
				    worker_eq);

	return n ? hmap_entry(n, struct worker, node) : NULL;
}

/* The worker's open requests end at ts_ns (its process ended, or its
 * workload is going). */
static void worker_close(struct worker *k, uint64_t ts_ns)
{
	struct load *d = k->load;

	if (k->open) {
		d->active -= k->open;
		if (ts_ns > k->busy_since)
			d->busy_done_ns += ts_ns - k->busy_since;
		k->open = 0;
	}
}

static void worker_remove(struct server_load *l, struct worker *k,
			  uint64_t ts_ns)
{
	worker_close(k, ts_ns);
	k->load->workers--;
	hmap_remove(&l->workers, &k->node);
	free(k);
}

void server_load_accepted(struct server_load *l, const struct workload *w,
			  uint32_t pid, uint64_t wait_ns)
{
	double seconds = (double)wait_ns / 1e9;
	struct load *d;
	size_t b = 0;

	pthread_mutex_lock(&l->lock);
	if (!wait_ns) {
		l->stats.waits_unmeasured++;
		goto unlock;
	}
	d = load_of(l, w);
	if (!d)
		goto unlock;
	while (b < NWAIT && seconds > wait_bounds[b])
		b++;
	d->waits[b]++;
	d->wait_sum += seconds;
	d->has_waits = true;
	d->pid = pid;
unlock:
	pthread_mutex_unlock(&l->lock);
}

void server_load_request_start(struct server_load *l,
			       const struct workload *w, uint32_t pid,
			       uint32_t tid, uint64_t ts_ns)
{
	struct worker *k;
	struct load *d;

	pthread_mutex_lock(&l->lock);
	d = load_of(l, w);
	if (!d)
		goto unlock;
	k = worker_find(l, pid, tid);
	if (k && k->load != d && !k->open) {
		/* Its process was given other names: it moves. */
		k->load->workers--;
		k->load = d;
		d->workers++;
	}
	if (!k) {
		if (l->workers.count >= MAX_WORKERS ||
		    !(k = calloc(1, sizeof(*k)))) {
			l->stats.workers_dropped++;
			goto unlock;
		}
		k->pid = pid;
		k->tid = tid;
		k->load = d;
		d->workers++;
		hmap_insert(&l->workers, &k->node, worker_hash(pid, tid));
	}
	if (!k->open++)
		k->busy_since = ts_ns;
	k->load->active++;
	d->pid = pid;
unlock:
	pthread_mutex_unlock(&l->lock);
}

void server_load_request_end(struct server_load *l, uint32_t pid,
			     uint32_t tid, uint64_t ts_ns)
{
	struct worker *k;

	pthread_mutex_lock(&l->lock);
	k = worker_find(l, pid, tid);
	if (k && k->open) {
		k->load->active--;
		if (!--k->open && ts_ns > k->busy_since)
			k->load->busy_done_ns += ts_ns - k->busy_since;
	}
	pthread_mutex_unlock(&l->lock);
}

void server_load_process_exit(struct server_load *l, uint32_t pid,
			      uint64_t ts_ns)
{
	pthread_mutex_lock(&l->lock);
	hmap_for_each(it, &l->workers) {
		struct worker *k = hmap_entry(it.node, struct worker, node);

		if (k->pid == pid)
			worker_remove(l, k, ts_ns);
	}
	pthread_mutex_unlock(&l->lock);
}

void server_load_forget_workload(struct server_load *l,
				 const struct workload *w)
{
	struct hnode *n;

	pthread_mutex_lock(&l->lock);
	n = hmap_find(&l->loads, hash_u64((uintptr_t)w), w, load_eq);
	if (n) {
		struct load *d = hmap_entry(n, struct load, node);

		hmap_for_each(it, &l->workers) {
			struct worker *k =
				hmap_entry(it.node, struct worker, node);

			if (k->load == d)
				worker_remove(l, k, 0);
		}
		hmap_remove(&l->loads, n);
		free(d);
	}
	pthread_mutex_unlock(&l->lock);
}

/* Busy time of every workload until now_ns, the open intervals included,
 * into each load's ring_busy at its ring_next: the slot the next tick
 * writes, no longer part of the window (the tick moves it on). */
static void busy_until(struct server_load *l, uint64_t now_ns)
{
	hmap_for_each(it, &l->loads) {
		struct load *d = hmap_entry(it.node, struct load, node);

		d->ring_busy[d->ring_next] = d->busy_done_ns;
	}
	hmap_for_each(it, &l->workers) {
		struct worker *k = hmap_entry(it.node, struct worker, node);

		if (k->open && now_ns > k->busy_since)
			k->load->ring_busy[k->load->ring_next] +=
				now_ns - k->busy_since;
	}
}

void server_load_tick(struct server_load *l, uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	busy_until(l, now_ns);
	hmap_for_each(it, &l->loads) {
		struct load *d = hmap_entry(it.node, struct load, node);
		unsigned int oldest;
		uint64_t span;

		d->ring_ts[d->ring_next] = now_ns;
		if (d->ring_len < RING)
			d->ring_len++;
		oldest = (d->ring_next + RING - (d->ring_len - 1)) % RING;
		span = now_ns - d->ring_ts[oldest];
		if (span && d->workers) {
			double s = (double)(d->ring_busy[d->ring_next] -
					    d->ring_busy[oldest]) /
				   ((double)span * d->workers);

			/* Request times are the kernel's, the window's
			 * ends this clock read's: a hair over 1 is 1. */
			d->saturation = s > 1 ? 1 : s;
		}
		d->ring_next = (d->ring_next + 1) % RING;
	}
	pthread_mutex_unlock(&l->lock);
}

/* --- rendering ---------------------------------------------------------- */

/* A pod whose network namespace is read after the lock is let go. */
struct pod_ref {
	char namespace[64];
	char pod[254];
	uint32_t pid;
};

static void render_loads(struct server_load *l, struct prom_writer *out,
			 uint64_t now_ns)
{
	struct prom_label labels[WORKLOAD_NLABELS];

	prom_family(out, "tcp_listen_queue_wait_seconds", "histogram",
		    "Time accepted connections waited in their listener's "
		    "accept queue, from the kernel completing the handshake "
		    "to the app's accept().");
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);

		if (!d->has_waits)
			continue;
		workload_labels(d->w, l->node_name, labels);
		prom_histogram(out, "tcp_listen_queue_wait_seconds", labels,
			       WORKLOAD_NLABELS, wait_bounds, NWAIT, d->waits,
			       d->wait_sum);
	}
	prom_family(out, "http_server_active_requests", "gauge",
		    "Server requests whose head was read and that are not "
		    "answered yet.");
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);

		if (!d->workers)
			continue;
		workload_labels(d->w, l->node_name, labels);
		prom_sample(out, "http_server_active_requests", labels,
			    WORKLOAD_NLABELS, (double)d->active);
	}
	/* Until now, the open intervals included. */
	busy_until(l, now_ns);
	prom_family(out, "http_server_worker_busy_seconds_total", "counter",
		    "Time the workload's serving threads spent inside a "
		    "request (a thread with one or more requests open is "
		    "busy), summed over them.");
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);

		if (!d->workers && !d->busy_done_ns)
			continue;
		workload_labels(d->w, l->node_name, labels);
		prom_sample(out, "http_server_worker_busy_seconds_total",
			    labels, WORKLOAD_NLABELS,
			    (double)d->ring_busy[d->ring_next] / 1e9);
	}
	prom_family(out, "http_server_workers", "gauge",
		    "Threads of live processes of the workload that have "
		    "served a request.");
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);

		if (!d->workers)
			continue;
		workload_labels(d->w, l->node_name, labels);
		prom_sample(out, "http_server_workers", labels,
			    WORKLOAD_NLABELS, d->workers);
	}
	prom_family(out, "http_server_worker_saturation", "gauge",
		    "Share of the last 10 s the workload's serving threads "
		    "spent inside a request: 1 is every one of them busy all "
		    "the time.");
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);

		if (!d->workers || d->saturation < 0)
			continue;
		workload_labels(d->w, l->node_name, labels);
		prom_sample(out, "http_server_worker_saturation", labels,
			    WORKLOAD_NLABELS, d->saturation);
	}
}

/* The pods to read, one process each; NULL (and *n 0) without memory. */
static struct pod_ref *pods_of(struct server_load *l, size_t *n)
{
	struct pod_ref *pods = calloc(l->loads.count ? l->loads.count : 1,
				      sizeof(*pods));

	*n = 0;
	if (!pods)
		return NULL;
	hmap_for_each(it, &l->loads) {
		const struct load *d = hmap_entry(it.node, struct load, node);
		bool seen = false;

		if (!d->w->in_pod || !d->pid)
			continue;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = !strcmp(pods[i].namespace, d->w->namespace) &&
			       !strcmp(pods[i].pod, d->w->pod);
		if (seen)
			continue;
		snprintf(pods[*n].namespace, sizeof(pods[*n].namespace), "%s",
			 d->w->namespace);
		snprintf(pods[*n].pod, sizeof(pods[*n].pod), "%s", d->w->pod);
		pods[(*n)++].pid = d->pid;
	}
	return pods;
}

/* The network namespace of process pid (0: not known). */
static uint64_t netns_of(const char *proc_root, uint32_t pid)
{
	char path[320];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%u/ns/net", proc_root, pid);
	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static void render_pods(struct server_load *l, struct prom_writer *out,
			const struct pod_ref *pods, size_t n)
{
	static const char *const names[] = { "tcp_listen_overflows_total",
					     "tcp_listen_drops_total",
					     "tcp_listen_queue_length" };
	static const char *const helps[] = {
		"Handshakes completed while a listener's accept queue was "
		"full, in the pod's network namespace (the kernel's TcpExt "
		"ListenOverflows).",
		"Connections to a listener dropped, in the pod's network "
		"namespace, overflows included (the kernel's TcpExt "
		"ListenDrops).",
		"Connections waiting in the accept queues of the pod's "
		"listeners now.",
	};
	struct pod_netns_tcp *t = calloc(n ? n : 1, sizeof(*t));
	bool *ok = calloc(n ? n : 1, sizeof(*ok));
	uint64_t host = netns_of(l->proc_root, 1); /* the node's init */

	if (!t || !ok) {
		out->failed = true;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		ok[i] = !pod_netns_tcp_read(l->proc_root, pods[i].pid, &t[i]);
		/* A pod with hostNetwork has the node's figures, no pod's
		 * own; two pods cannot share one otherwise. */
		if (ok[i] && host && t[i].netns == host)
			ok[i] = false;
		for (size_t j = 0; ok[i] && j < i; j++)
			ok[i] = !(ok[j] && t[j].netns == t[i].netns);
	}
	for (size_t f = 0; f < 3; f++) {
		prom_family(out, names[f], f < 2 ? "counter" : "gauge",
			    helps[f]);
		for (size_t i = 0; i < n; i++) {
			const uint64_t v[] = { t[i].listen_overflows,
					       t[i].listen_drops,
					       t[i].accept_queued };
			struct prom_label labels[] = {
				{ "k8s_namespace_name", pods[i].namespace },
				{ "k8s_pod_name", pods[i].pod },
				{ "k8s_node_name", l->node_name },
			};

			if (ok[i])
				prom_sample(out, names[f], labels, 3,
					    (double)v[f]);
		}
	}
done:
	free(t);
	free(ok);
}

void server_load_render(struct server_load *l, struct prom_writer *out)
{
	struct pod_ref *pods;
	size_t n;

	pthread_mutex_lock(&l->lock);
	render_loads(l, out, monotonic_ns());
	pods = pods_of(l, &n);
	pthread_mutex_unlock(&l->lock);
	/* /proc is read with the lock let go: recording never waits on it. */
	render_pods(l, out, pods, n);
	free(pods);
}

void server_load_get_stats(struct server_load *l,
			   struct server_load_stats *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->stats;
	pthread_mutex_unlock(&l->lock);
}
