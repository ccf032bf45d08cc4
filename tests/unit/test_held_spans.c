// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests of the server spans held for a caller read late: each leaves once,
 * linked (taken), when its hold is over, or oldest first to make room
 * (counted); what leaves untaken is released in the order it came. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "otel/held_spans.h"

#define MS 1000000ULL

static uint8_t released[16];
static int nreleased;

static void on_release(void *ctx, const struct span *s)
{
	(void)ctx;
	if (nreleased < (int)sizeof(released))
		released[nreleased] = s->span_id[0];
	nreleased++;
}

/* Holds a span whose id is `id` in its first byte. */
static void add(struct held_spans *h, uint8_t id, uint64_t now_ns)
{
	struct span *s = held_spans_add(h, now_ns);

	memset(s->span_id, 0, sizeof(s->span_id));
	s->span_id[0] = id;
}

static const uint8_t *id_of(uint8_t id)
{
	static uint8_t b[SPAN_ID_SIZE];

	memset(b, 0, sizeof(b));
	b[0] = id;
	return b;
}

static void test_hold_take_release(void)
{
	struct held_spans *h = held_spans_new(3, 200 * MS, on_release, NULL);
	struct held_spans_stats st;
	struct span *s;

	CHECK(h != NULL);
	if (!h)
		return;
	nreleased = 0;
	add(h, 1, 0);
	add(h, 2, 10 * MS);
	add(h, 3, 20 * MS);
	held_spans_get_stats(h, &st);
	CHECK_INT(st.held, 3);

	/* linked: taken out, never released */
	s = held_spans_take(h, id_of(2));
	CHECK(s && s->span_id[0] == 2);
	CHECK(held_spans_take(h, id_of(2)) == NULL);
	CHECK(held_spans_take(h, id_of(9)) == NULL);

	/* nothing is due before its 200 ms */
	held_spans_release_due(h, 199 * MS);
	CHECK_INT(nreleased, 0);
	held_spans_release_due(h, 200 * MS);
	CHECK_INT(nreleased, 1);
	CHECK_INT(released[0], 1);
	/* 2 was taken: 3 is next, at 220 ms */
	held_spans_release_due(h, 219 * MS);
	CHECK_INT(nreleased, 1);

	/* full (3 with the taken slot of 2 still in the ring): adding makes
	 * room by letting the oldest go; a taken one is no eviction */
	add(h, 4, 30 * MS);
	add(h, 5, 40 * MS);
	held_spans_get_stats(h, &st);
	CHECK_INT(st.held, 3);
	CHECK_INT(st.evicted, 0);
	add(h, 6, 50 * MS);
	held_spans_get_stats(h, &st);
	CHECK_INT(st.evicted, 1);
	CHECK_INT(nreleased, 2);
	CHECK_INT(released[1], 3);

	/* at stop: everything, oldest first */
	held_spans_release_all(h);
	CHECK_INT(nreleased, 5);
	CHECK_INT(released[2], 4);
	CHECK_INT(released[3], 5);
	CHECK_INT(released[4], 6);
	held_spans_get_stats(h, &st);
	CHECK_INT(st.held, 0);
	held_spans_free(h);
	held_spans_free(NULL);
}

/* Freed with spans in it: dropped, not released (the queue may be gone). */
static void test_free_drops(void)
{
	struct held_spans *h = held_spans_new(2, 200 * MS, on_release, NULL);

	CHECK(h != NULL);
	if (!h)
		return;
	nreleased = 0;
	add(h, 1, 0);
	held_spans_free(h);
	CHECK_INT(nreleased, 0);
}

int main(void)
{
	RUN(test_hold_take_release);
	RUN(test_free_drops);
	return check_summary("held_spans");
}
