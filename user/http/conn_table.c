// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "http/conn_table.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "lib/spares.h"

struct pid_entry {
	struct hnode node;
	uint32_t pid;
	unsigned int nconns;
};

struct conn_table {
	struct hmap conns; /* socket -> conn */
	struct hmap pids;  /* pid -> pid_entry, pids with connections */
	unsigned int max_conns;
	conn_end_fn on_end;
	void *ctx;
	/* Freed connections and pid entries, for the next (lib/spares.h):
	 * gunicorn's sync workers make one of each per request. */
	struct spares spare_conns, spare_pids;
};

static bool conn_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct conn, node)->sock_id ==
	       *(const uint64_t *)key;
}

static bool pid_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct pid_entry, node)->pid ==
	       *(const uint32_t *)key;
}

struct conn_table *conn_table_new(unsigned int max_conns, conn_end_fn on_end,
				  void *ctx)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (hmap_init(&t->conns) || hmap_init(&t->pids)) {
		hmap_free(&t->conns);
		free(t);
		return NULL;
	}
	t->max_conns = max_conns;
	t->on_end = on_end;
	t->ctx = ctx;
	return t;
}

static struct pid_entry *pid_find(struct conn_table *t, uint32_t pid)
{
	struct hnode *n = hmap_find(&t->pids, hash_u64(pid), &pid, pid_eq);

	return n ? hmap_entry(n, struct pid_entry, node) : NULL;
}

static int pid_ref(struct conn_table *t, uint32_t pid)
{
	struct pid_entry *p = pid_find(t, pid);

	if (!p) {
		p = spares_take_zeroed(&t->spare_pids, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->pid = pid;
		hmap_insert(&t->pids, &p->node, hash_u64(pid));
	}
	p->nconns++;
	return 0;
}

static void pid_unref(struct conn_table *t, uint32_t pid)
{
	struct pid_entry *p = pid_find(t, pid);

	if (p && --p->nconns == 0) {
		hmap_remove(&t->pids, &p->node);
		spares_give(&t->spare_pids, p);
	}
}

static void end_conn(struct conn_table *t, struct conn *c, enum conn_end why,
		     uint64_t ts_ns)
{
	if (t->on_end)
		t->on_end(t->ctx, c, why, conn_end_seen(why) ? ts_ns : 0);
	hmap_remove(&t->conns, &c->node);
	pid_unref(t, c->pid);
	http_conn_free(c->http);
	spares_give(&t->spare_conns, c);
}

void conn_table_end(struct conn_table *t, struct conn *c, uint64_t ts_ns)
{
	end_conn(t, c, CONN_END_CLOSED, ts_ns);
}

void conn_table_free(struct conn_table *t)
{
	if (!t)
		return;
	hmap_for_each(it, &t->conns) {
		end_conn(t, hmap_entry(it.node, struct conn, node),
			 CONN_END_SHUTDOWN, 0);
	}
	hmap_free(&t->conns);
	hmap_free(&t->pids);
	spares_drain(&t->spare_conns);
	spares_drain(&t->spare_pids);
	free(t);
}

struct conn *conn_table_find(struct conn_table *t, uint64_t sock_id,
			     uint64_t gen)
{
	struct hnode *n = hmap_find(&t->conns, hash_u64(sock_id), &sock_id,
				    conn_eq);
	struct conn *c = n ? hmap_entry(n, struct conn, node) : NULL;

	return c && c->gen == gen ? c : NULL;
}

/* The socket is now used by process pid (a forked child serving what its
 * parent accepted): its exit is what ends the connection. */
static int move_to_pid(struct conn_table *t, struct conn *c, uint32_t pid)
{
	if (c->pid == pid)
		return 0;
	if (pid_ref(t, pid))
		return -ENOMEM;
	pid_unref(t, c->pid);
	c->pid = pid;
	return 0;
}

struct conn *conn_table_get(struct conn_table *t, uint64_t sock_id,
			    uint64_t gen, uint32_t pid, enum http_role role,
			    bool *full)
{
	uint64_t h = hash_u64(sock_id);
	struct hnode *n = hmap_find(&t->conns, h, &sock_id, conn_eq);
	struct conn *c;

	*full = false;
	if (n) {
		c = hmap_entry(n, struct conn, node);
		if (c->gen == gen)
			return move_to_pid(t, c, pid) ? NULL : c;
		end_conn(t, c, CONN_END_REPLACED, 0);
	}
	if (t->conns.count >= t->max_conns) {
		*full = true;
		return NULL;
	}
	c = spares_take_zeroed(&t->spare_conns, sizeof(*c));
	if (!c)
		return NULL;
	c->http = http_conn_new(role);
	if (!c->http || pid_ref(t, pid)) {
		http_conn_free(c->http);
		spares_give(&t->spare_conns, c);
		return NULL;
	}
	c->pid = pid;
	c->sock_id = sock_id;
	c->gen = gen;
	hmap_insert(&t->conns, &c->node, h);
	return c;
}

void conn_table_end_pid(struct conn_table *t, uint32_t pid, uint64_t ts_ns)
{
	if (!pid_find(t, pid))
		return;
	hmap_for_each(it, &t->conns) {
		struct conn *c = hmap_entry(it.node, struct conn, node);

		if (c->pid == pid)
			end_conn(t, c, CONN_END_EXITED, ts_ns);
	}
}

unsigned int conn_table_sweep(struct conn_table *t, uint64_t idle_before_ns)
{
	unsigned int ended = 0;

	hmap_for_each(it, &t->conns) {
		struct conn *c = hmap_entry(it.node, struct conn, node);

		if (c->last_seen_ns >= idle_before_ns)
			continue;
		if (kill(c->pid, 0) == 0 || errno != ESRCH)
			continue;
		end_conn(t, c, CONN_END_SWEPT, 0);
		ended++;
	}
	return ended;
}

unsigned int conn_table_count(const struct conn_table *t)
{
	return t->conns.count;
}
