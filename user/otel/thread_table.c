// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/thread_table.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/hashmap.h"
#include "lib/list.h"

/* The threads of one process that have an entry. */
struct pid_entry {
	struct hnode node;
	uint32_t pid;
	struct link threads;
};

struct entry {
	struct hnode node; /* by (tid, unit) */
	struct link age;   /* in t->by_age, oldest first */
	struct link sibling; /* in its pid_entry's threads */
	struct pid_entry *proc;
	uint32_t tid;
	uint64_t unit;
	uint64_t since_ns;
	/* Requests set and not yet cleared: more than one is an event loop
	 * serving several at once, whose calls cannot be told apart. */
	unsigned int open;
	bool has_data;     /* data is the latest one's, still open */
	uint64_t key;      /* the latest one's */
	uint8_t data[THREAD_TABLE_DATA];
};

struct unit_key {
	uint32_t tid;
	uint64_t unit;
};

struct thread_table {
	struct hmap threads; /* tid -> entry */
	struct hmap pids;    /* pid -> pid_entry */
	struct link by_age;
	struct link *cursor; /* next entry to check for a gone thread */
	unsigned int max;
	uint64_t ttl_ns;
	thread_alive_fn alive;
	_Atomic uint64_t entries;
	_Atomic uint64_t removed[THREAD_RM__COUNT];
};

bool thread_table_thread_alive(uint32_t pid, uint32_t tid)
{
	return syscall(SYS_tgkill, (pid_t)pid, (pid_t)tid, 0) == 0 ||
	       errno != ESRCH;
}

struct thread_table *thread_table_new(unsigned int max_entries,
				      uint64_t ttl_ns, thread_alive_fn alive)
{
	struct thread_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (hmap_init(&t->threads) || hmap_init(&t->pids)) {
		hmap_free(&t->threads);
		free(t);
		return NULL;
	}
	list_init(&t->by_age);
	t->cursor = &t->by_age;
	t->max = max_entries ? max_entries : 1;
	t->ttl_ns = ttl_ns;
	t->alive = alive ? alive : thread_table_thread_alive;
	return t;
}

void thread_table_free(struct thread_table *t)
{
	if (!t)
		return;
	hmap_for_each(it, &t->threads) {
		free(hmap_entry(it.node, struct entry, node));
	}
	hmap_for_each(it, &t->pids) {
		free(hmap_entry(it.node, struct pid_entry, node));
	}
	hmap_free(&t->threads);
	hmap_free(&t->pids);
	free(t);
}

static bool unit_eq(const struct hnode *n, const void *key)
{
	const struct entry *e = hmap_entry(n, struct entry, node);
	const struct unit_key *k = key;

	return e->tid == k->tid && e->unit == k->unit;
}

static uint64_t unit_hash(const struct unit_key *k)
{
	return hash_u64(k->unit * 0x9e3779b97f4a7c15ULL ^ k->tid);
}

static bool pid_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct pid_entry, node)->pid ==
	       *(const uint32_t *)key;
}

static struct entry *find(const struct thread_table *t, uint32_t tid,
			  uint64_t unit)
{
	struct unit_key k = { tid, unit };
	struct hnode *n = hmap_find(&t->threads, unit_hash(&k), &k, unit_eq);

	return n ? hmap_entry(n, struct entry, node) : NULL;
}

static struct pid_entry *find_pid(const struct thread_table *t, uint32_t pid)
{
	struct hnode *n = hmap_find(&t->pids, hash_u64(pid), &pid, pid_eq);

	return n ? hmap_entry(n, struct pid_entry, node) : NULL;
}

static void unlink_age(struct thread_table *t, struct entry *e)
{
	if (t->cursor == &e->age)
		t->cursor = e->age.next;
	list_del(&e->age);
}

/* Leaves its process's list, dropping the process once it has none. */
static void unlink_proc(struct thread_table *t, struct entry *e)
{
	struct pid_entry *p = e->proc;

	list_del(&e->sibling);
	e->proc = NULL;
	if (p && p->threads.next == &p->threads) {
		hmap_remove(&t->pids, &p->node);
		free(p);
	}
}

static int link_proc(struct thread_table *t, struct entry *e, uint32_t pid)
{
	struct pid_entry *p = find_pid(t, pid);

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->pid = pid;
		list_init(&p->threads);
		hmap_insert(&t->pids, &p->node, hash_u64(pid));
	}
	list_add_tail(&p->threads, &e->sibling);
	e->proc = p;
	return 0;
}

static void publish_count(struct thread_table *t)
{
	atomic_store_explicit(&t->entries, t->threads.count,
			      memory_order_relaxed);
}

/* why THREAD_RM__COUNT: its exchange ended, nothing to count. */
static void remove_entry(struct thread_table *t, struct entry *e,
			 enum thread_removal why)
{
	unlink_age(t, e);
	unlink_proc(t, e);
	hmap_remove(&t->threads, &e->node);
	free(e);
	if (why < THREAD_RM__COUNT)
		atomic_fetch_add_explicit(&t->removed[why], 1,
					  memory_order_relaxed);
	publish_count(t);
}

void thread_table_set(struct thread_table *t, uint32_t tid, uint64_t unit,
		      uint32_t pid, uint64_t now_ns, uint64_t key,
		      const void *data, size_t len)
{
	struct unit_key k = { tid, unit };
	struct entry *e = find(t, tid, unit);

	if (len > THREAD_TABLE_DATA)
		len = THREAD_TABLE_DATA;
	if (e && e->proc && e->proc->pid != pid) {
		/* the tid now belongs to another process */
		unlink_proc(t, e);
		e->open = 0;
	}
	if (!e) {
		/* Full: the oldest goes; a thread serving one request that
		 * long is rarer than a new one starting. */
		if (t->threads.count >= t->max &&
		    t->by_age.next != &t->by_age)
			remove_entry(t, list_entry(t->by_age.next,
						   struct entry, age),
				     THREAD_RM_FULL);
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->tid = tid;
		e->unit = unit;
		list_init(&e->sibling);
		list_init(&e->age);
		hmap_insert(&t->threads, &e->node, unit_hash(&k));
	} else {
		unlink_age(t, e);
	}
	if (!e->proc && link_proc(t, e, pid)) {
		hmap_remove(&t->threads, &e->node);
		free(e);
		publish_count(t);
		return;
	}
	e->since_ns = now_ns;
	e->open++;
	e->has_data = true;
	e->key = key;
	memset(e->data, 0, sizeof(e->data));
	memcpy(e->data, data, len);
	list_add_tail(&t->by_age, &e->age);
	publish_count(t);
}

void *thread_table_get(struct thread_table *t, uint32_t tid, uint64_t unit,
		       uint32_t pid, uint64_t now_ns, bool *ambiguous)
{
	struct entry *e = find(t, tid, unit);

	*ambiguous = false;
	if (!e || e->proc->pid != pid ||
	    (now_ns > e->since_ns && now_ns - e->since_ns > t->ttl_ns))
		return NULL;
	if (e->open != 1 || !e->has_data) {
		*ambiguous = true;
		return NULL;
	}
	return e->data;
}

void *thread_table_find(struct thread_table *t, uint32_t tid, uint64_t unit,
			uint64_t key)
{
	struct entry *e = find(t, tid, unit);

	return e && e->has_data && e->key == key ? e->data : NULL;
}

void thread_table_clear(struct thread_table *t, uint32_t tid, uint64_t unit,
			uint64_t key)
{
	struct entry *e = find(t, tid, unit);

	if (!e)
		return;
	if (e->key == key)
		e->has_data = false;
	if (--e->open == 0)
		remove_entry(t, e, THREAD_RM__COUNT);
}

void thread_table_process_exit(struct thread_table *t, uint32_t pid)
{
	struct pid_entry *p = find_pid(t, pid);

	/* Removing the last thread frees p: stop before touching it again. */
	while (p) {
		struct link *l = p->threads.next;
		bool last = l->next == &p->threads;

		remove_entry(t, list_entry(l, struct entry, sibling),
			     THREAD_RM_PROCESS_EXIT);
		if (last)
			break;
	}
}

void thread_table_tick(struct thread_table *t, uint64_t now_ns,
		       unsigned int budget)
{
	struct link *l;

	while ((l = t->by_age.next) != &t->by_age) {
		struct entry *e = list_entry(l, struct entry, age);

		if (now_ns <= e->since_ns || now_ns - e->since_ns <= t->ttl_ns)
			break;
		remove_entry(t, e, THREAD_RM_EXPIRED);
	}
	/* Never more than one round per tick. */
	if (budget > t->threads.count)
		budget = t->threads.count;
	while (budget--) {
		struct entry *e;

		if (t->cursor == &t->by_age)
			t->cursor = t->by_age.next;
		if (t->cursor == &t->by_age)
			break;
		e = list_entry(t->cursor, struct entry, age);
		t->cursor = e->age.next;
		if (!t->alive(e->proc->pid, e->tid))
			remove_entry(t, e, THREAD_RM_THREAD_EXIT);
	}
}

unsigned int thread_table_count(const struct thread_table *t)
{
	return t->threads.count;
}

void thread_table_get_stats(const struct thread_table *t,
			    struct thread_table_stats *out)
{
	out->entries = atomic_load_explicit(&t->entries, memory_order_relaxed);
	for (int i = 0; i < THREAD_RM__COUNT; i++)
		out->removed[i] = atomic_load_explicit(&t->removed[i],
						       memory_order_relaxed);
}

const char *thread_removal_name(enum thread_removal r)
{
	static const char *const names[THREAD_RM__COUNT] = {
		[THREAD_RM_FULL] = "full",
		[THREAD_RM_EXPIRED] = "expired",
		[THREAD_RM_THREAD_EXIT] = "thread_exit",
		[THREAD_RM_PROCESS_EXIT] = "process_exit",
	};

	return (unsigned int)r < THREAD_RM__COUNT ? names[r] : "unknown";
}
