// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/greenlets.h"

#include <stdbool.h>
#include <stdlib.h>

#include "lib/hashmap.h"
#include "lib/list.h"

struct thread {
	struct hnode node; /* by tid */
	struct link age;   /* oldest switch first */
	uint32_t tid;
	uint32_t pid;
	uint64_t unit;
};

struct greenlets {
	struct hmap threads;
	struct link by_age;
	unsigned int max;
};

struct greenlets *greenlets_new(unsigned int max_threads)
{
	struct greenlets *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if (hmap_init(&g->threads)) {
		free(g);
		return NULL;
	}
	list_init(&g->by_age);
	g->max = max_threads ? max_threads : 1;
	return g;
}

void greenlets_free(struct greenlets *g)
{
	if (!g)
		return;
	hmap_for_each(it, &g->threads) {
		free(hmap_entry(it.node, struct thread, node));
	}
	hmap_free(&g->threads);
	free(g);
}

static bool tid_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct thread, node)->tid ==
	       *(const uint32_t *)key;
}

static struct thread *find(const struct greenlets *g, uint32_t tid)
{
	struct hnode *n = hmap_find(&g->threads, hash_u64(tid), &tid, tid_eq);

	return n ? hmap_entry(n, struct thread, node) : NULL;
}

static void remove_thread(struct greenlets *g, struct thread *t)
{
	list_del(&t->age);
	hmap_remove(&g->threads, &t->node);
	free(t);
}

void greenlets_switch(struct greenlets *g, uint32_t pid, uint32_t tid,
		      uint64_t unit)
{
	struct thread *t = find(g, tid);

	if (t) {
		list_del(&t->age);
	} else {
		if (g->threads.count >= g->max && !list_empty(&g->by_age))
			remove_thread(g, list_entry(g->by_age.next,
						    struct thread, age));
		t = calloc(1, sizeof(*t));
		if (!t)
			return;
		t->tid = tid;
		hmap_insert(&g->threads, &t->node, hash_u64(tid));
	}
	t->pid = pid;
	t->unit = unit;
	list_add_tail(&g->by_age, &t->age);
}

uint64_t greenlets_current(const struct greenlets *g, uint32_t pid,
			   uint32_t tid)
{
	const struct thread *t;

	if (!g->threads.count)
		return 0;
	t = find(g, tid);
	return t && t->pid == pid ? t->unit : 0;
}

void greenlets_process_exit(struct greenlets *g, uint32_t pid)
{
	if (!g->threads.count)
		return;
	hmap_for_each(it, &g->threads) {
		struct thread *t = hmap_entry(it.node, struct thread, node);

		if (t->pid == pid)
			remove_thread(g, t);
	}
}

unsigned int greenlets_count(const struct greenlets *g)
{
	return g->threads.count;
}
