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

int main(void)
{
	RUN(test_end_reasons);
	return check_summary("conn_table");
}
