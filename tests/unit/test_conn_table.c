// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests of the connection table: why and when each connection leaves it.
 * Only a close or an exit seen by the kernel carries a time; what podtap
 * ends itself (replacement, sweep, shutdown) carries none. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "http/conn_table.h"

#define MAX_ENDS 16

struct ends {
	int n;
	uint64_t sock[MAX_ENDS], gen[MAX_ENDS], ts[MAX_ENDS];
	enum conn_end why[MAX_ENDS];
};

static void on_end(void *ctx, struct conn *c, enum conn_end why,
		   uint64_t ts_ns)
{
	struct ends *e = ctx;

	if (e->n < MAX_ENDS) {
		e->sock[e->n] = c->sock_id;
		e->gen[e->n] = c->gen;
		e->why[e->n] = why;
		e->ts[e->n] = ts_ns;
	}
	e->n++;
}

static struct conn *get(struct conn_table *t, uint64_t sock, uint64_t gen,
			uint32_t pid)
{
	bool full;

	return conn_table_get(t, sock, gen, pid, HTTP_ROLE_SERVER, &full);
}

static void test_end_reasons(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	/* a pid that is surely gone: above pid_max (at most 2^22) */
	uint32_t gone = 1u << 23, me = (uint32_t)getpid();
	struct conn *c;

	c = get(t, 1, 1, me);
	CHECK(c != NULL);
	conn_table_end(t, c, 500);
	CHECK_INT(e.n, 1);
	CHECK_INT(e.why[0], CONN_END_CLOSED);
	CHECK_INT(e.ts[0], 500);

	get(t, 2, 1, me);
	get(t, 2, 2, me); /* a new generation: the old one's close was lost */
	CHECK_INT(e.n, 2);
	CHECK_INT(e.why[1], CONN_END_REPLACED);
	CHECK_INT(e.gen[1], 1);
	CHECK_INT(e.ts[1], 0);

	get(t, 3, 1, 4242);
	conn_table_end_pid(t, 4242, 700);
	CHECK_INT(e.n, 3);
	CHECK_INT(e.why[2], CONN_END_EXITED);
	CHECK_INT(e.ts[2], 700);

	c = get(t, 4, 1, gone);
	c->last_seen_ns = 10;
	c = get(t, 5, 1, me);
	c->last_seen_ns = 10;
	CHECK_INT(conn_table_sweep(t, 100), 1); /* only the gone process's */
	CHECK_INT(e.n, 4);
	CHECK_INT(e.why[3], CONN_END_SWEPT);
	CHECK_INT(e.sock[3], 4);
	CHECK_INT(e.ts[3], 0);

	CHECK_INT(conn_table_count(t), 2); /* sockets 2 (gen 2) and 5 */
	conn_table_free(t);
	CHECK_INT(e.n, 6);
	CHECK_INT(e.why[4], CONN_END_SHUTDOWN);
	CHECK_INT(e.why[5], CONN_END_SHUTDOWN);
	CHECK_INT(e.ts[4], 0);
	CHECK_INT(e.ts[5], 0);
	CHECK(conn_end_seen(CONN_END_CLOSED) && conn_end_seen(CONN_END_EXITED));
	CHECK(!conn_end_seen(CONN_END_REPLACED) &&
	      !conn_end_seen(CONN_END_SWEPT) &&
	      !conn_end_seen(CONN_END_SHUTDOWN));
}

/* get creates once and then finds; find needs the generation too; the
 * parser of a new connection plays the role it was opened with. */
static void test_get_and_find(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	struct conn *c, *k, *u;
	bool full = true;

	c = conn_table_get(t, 10, 3, 100, HTTP_ROLE_CLIENT, &full);
	CHECK(c != NULL);
	CHECK(!full);
	if (!c)
		goto out;
	CHECK_INT(c->sock_id, 10);
	CHECK_INT(c->gen, 3);
	CHECK_INT(c->pid, 100);
	CHECK(c->http != NULL);
	CHECK_INT(http_conn_role(c->http), HTTP_ROLE_CLIENT);
	CHECK(!c->ignored && !c->tls && !c->counted_http);
	CHECK_INT(c->last_seen_ns, 0);
	CHECK_INT(c->addrs.family, 0);
	/* the same connection again, whatever role the event says */
	CHECK(conn_table_get(t, 10, 3, 100, HTTP_ROLE_SERVER, &full) == c);
	CHECK_INT(http_conn_role(c->http), HTTP_ROLE_CLIENT);
	CHECK(conn_table_find(t, 10, 3) == c);
	CHECK(conn_table_find(t, 10, 2) == NULL);
	CHECK(conn_table_find(t, 10, 4) == NULL);
	CHECK(conn_table_find(t, 11, 3) == NULL);
	/* a socket first seen mid-stream: the parser decides the role */
	u = conn_table_get(t, 12, 1, 100, HTTP_ROLE_UNKNOWN, &full);
	CHECK(u != NULL && http_conn_role(u->http) == HTTP_ROLE_UNKNOWN);
	k = get(t, 13, 1, 100);
	CHECK(k != NULL && http_conn_role(k->http) == HTTP_ROLE_SERVER);
	CHECK_INT(conn_table_count(t), 3);
	CHECK_INT(e.n, 0);
	/* a close ends exactly that connection */
	conn_table_end(t, u, 42);
	CHECK_INT(e.n, 1);
	CHECK_INT(e.sock[0], 12);
	CHECK(conn_table_find(t, 12, 1) == NULL);
	CHECK(conn_table_find(t, 10, 3) == c);
	CHECK_INT(conn_table_count(t), 2);
out:
	conn_table_free(t);
	CHECK_INT(e.n, 3);
}

/* A new generation on a socket: the old connection ends (REPLACED, no
 * time) before the new one exists, with its own fields intact. */
static void test_replaced(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	struct conn *c;

	c = get(t, 7, 1, 100);
	if (!c)
		goto out;
	c->last_seen_ns = 99;
	c = get(t, 7, 2, 200);
	CHECK(c != NULL);
	CHECK_INT(e.n, 1);
	CHECK_INT(e.sock[0], 7);
	CHECK_INT(e.gen[0], 1);
	CHECK_INT(e.why[0], CONN_END_REPLACED);
	CHECK_INT(e.ts[0], 0);
	CHECK_INT(conn_table_count(t), 1);
	CHECK(conn_table_find(t, 7, 1) == NULL);
	CHECK(conn_table_find(t, 7, 2) == c);
	if (c) {
		CHECK_INT(c->pid, 200);
		CHECK_INT(c->last_seen_ns, 0); /* a new connection */
	}
	/* the old generation's process no longer owns anything */
	conn_table_end_pid(t, 100, 5);
	CHECK_INT(e.n, 1);
	/* an older generation arriving late replaces too: generations are
	 * told apart, not ordered */
	c = get(t, 7, 1, 200);
	CHECK_INT(e.n, 2);
	CHECK_INT(e.gen[1], 2);
	CHECK_INT(e.why[1], CONN_END_REPLACED);
out:
	conn_table_free(t);
}

/* A process exit ends its connections only, each once, at the exit's
 * time; a pid without connections costs nothing. */
static void test_end_pid(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	bool seen[4] = { false };

	get(t, 1, 1, 100);
	get(t, 2, 1, 100);
	get(t, 3, 1, 100);
	get(t, 4, 1, 200);
	conn_table_end_pid(t, 300, 10); /* no connections */
	CHECK_INT(e.n, 0);
	conn_table_end_pid(t, 100, 20);
	CHECK_INT(e.n, 3);
	for (int i = 0; i < 3 && i < e.n; i++) {
		CHECK_INT(e.why[i], CONN_END_EXITED);
		CHECK_INT(e.ts[i], 20);
		if (e.sock[i] >= 1 && e.sock[i] <= 3)
			seen[e.sock[i]] = true;
	}
	CHECK(seen[1] && seen[2] && seen[3]);
	CHECK_INT(conn_table_count(t), 1);
	conn_table_end_pid(t, 100, 30); /* again: nothing left */
	CHECK_INT(e.n, 3);
	CHECK(conn_table_find(t, 4, 1) != NULL);
	conn_table_end_pid(t, 200, 40);
	CHECK_INT(e.n, 4);
	CHECK_INT(e.sock[3], 4);
	CHECK_INT(conn_table_count(t), 0);
	conn_table_free(t);
	CHECK_INT(e.n, 4);
}

/* A socket used by another process (a forked child serving what its
 * parent accepted) belongs to it: the parent's exit leaves it, the
 * child's ends it. */
static void test_move_between_pids(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	struct conn *c;

	c = get(t, 1, 1, 100);
	get(t, 2, 1, 100);
	CHECK(get(t, 1, 1, 101) == c);
	if (c)
		CHECK_INT(c->pid, 101);
	conn_table_end_pid(t, 100, 10);
	CHECK_INT(e.n, 1);
	CHECK_INT(e.sock[0], 2);
	CHECK(conn_table_find(t, 1, 1) == c);
	/* and back to the parent: the child's exit now leaves it */
	CHECK(get(t, 1, 1, 100) == c);
	conn_table_end_pid(t, 101, 20);
	CHECK_INT(e.n, 1);
	conn_table_end_pid(t, 100, 30);
	CHECK_INT(e.n, 2);
	CHECK_INT(e.sock[1], 1);
	CHECK_INT(e.why[1], CONN_END_EXITED);
	CHECK_INT(e.ts[1], 30);
	CHECK_INT(conn_table_count(t), 0);
	conn_table_free(t);
}

/* Only connections idle since before the mark whose process is gone are
 * swept; a live process's, however idle, and a recent one stay. */
static void test_sweep(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(16, on_end, &e);
	uint32_t gone = 1u << 23, me = (uint32_t)getpid();
	struct conn *c;

	c = get(t, 1, 1, gone);
	if (c)
		c->last_seen_ns = 99;	/* idle */
	c = get(t, 2, 1, gone);
	if (c)
		c->last_seen_ns = 100;	/* at the mark: not idle "before" it */
	c = get(t, 3, 1, gone + 1);
	if (c)
		c->last_seen_ns = 0;	/* idle */
	c = get(t, 4, 1, me);
	if (c)
		c->last_seen_ns = 0;	/* idle, but its process lives */
	c = get(t, 5, 1, 1);
	if (c)
		c->last_seen_ns = 0;	/* init: alive */
	CHECK_INT(conn_table_sweep(t, 100), 2);
	CHECK_INT(e.n, 2);
	for (int i = 0; i < 2; i++) {
		CHECK_INT(e.why[i], CONN_END_SWEPT);
		CHECK_INT(e.ts[i], 0);
		CHECK(e.sock[i] == 1 || e.sock[i] == 3);
	}
	CHECK_INT(conn_table_count(t), 3);
	CHECK(conn_table_find(t, 2, 1) != NULL);
	CHECK_INT(conn_table_sweep(t, 100), 0);
	CHECK_INT(conn_table_sweep(t, 101), 1); /* now socket 2 is idle */
	CHECK_INT(e.sock[2], 2);
	/* the gone pids' index entries went with them */
	conn_table_end_pid(t, gone, 5);
	CHECK_INT(e.n, 3);
	conn_table_free(t);
	CHECK_INT(e.n, 5);
}

/* The bound: past max_conns a new connection is refused with *full set
 * (and nothing ended), while known ones are still found; room made by an
 * end is taken again. A replacement at the bound fits: the old goes first. */
static void test_capacity(void)
{
	struct ends e = { 0 };
	struct conn_table *t = conn_table_new(3, on_end, &e);
	struct conn *c;
	bool full;

	for (uint64_t s = 1; s <= 3; s++) {
		full = true;
		CHECK(conn_table_get(t, s, 1, 100, HTTP_ROLE_SERVER, &full));
		CHECK(!full);
	}
	full = false;
	CHECK(conn_table_get(t, 4, 1, 100, HTTP_ROLE_SERVER, &full) == NULL);
	CHECK(full);
	CHECK_INT(conn_table_count(t), 3);
	CHECK_INT(e.n, 0);
	c = conn_table_get(t, 2, 1, 100, HTTP_ROLE_SERVER, &full);
	CHECK(c != NULL);
	CHECK(!full);
	/* a new generation of socket 3 at the bound */
	c = conn_table_get(t, 3, 2, 100, HTTP_ROLE_SERVER, &full);
	CHECK(c != NULL);
	CHECK(!full);
	CHECK_INT(e.n, 1);
	CHECK_INT(e.why[0], CONN_END_REPLACED);
	CHECK_INT(conn_table_count(t), 3);
	conn_table_end(t, conn_table_find(t, 1, 1), 7);
	c = conn_table_get(t, 4, 1, 100, HTTP_ROLE_SERVER, &full);
	CHECK(c != NULL);
	CHECK(!full);
	CHECK_INT(conn_table_count(t), 3);
	conn_table_free(t);
	CHECK_INT(e.n, 5);
}

/* No callback is needed; freeing NULL is nothing. */
static void test_no_callback(void)
{
	struct conn_table *t = conn_table_new(4, NULL, NULL);

	CHECK(get(t, 1, 1, 100) != NULL);
	CHECK(get(t, 1, 2, 100) != NULL);
	conn_table_end_pid(t, 100, 1);
	CHECK_INT(conn_table_count(t), 0);
	CHECK(get(t, 2, 1, 100) != NULL);
	conn_table_free(t);
	conn_table_free(NULL);
}

int main(void)
{
	RUN(test_end_reasons);
	RUN(test_get_and_find);
	RUN(test_replaced);
	RUN(test_end_pid);
	RUN(test_move_between_pids);
	RUN(test_sweep);
	RUN(test_capacity);
	RUN(test_no_callback);
	return check_summary("conn_table");
}
