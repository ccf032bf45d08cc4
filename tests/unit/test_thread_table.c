// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests of the per-thread server-request table: bounded, and emptied by
 * exchange ends, process exits, gone threads and age; a unit serving more
 * than one request is ambiguous, never a guess. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "otel/thread_table.h"

#define SEC 1000000000ULL

/* Threads with tid >= dead_from are gone. */
static uint32_t dead_from = UINT32_MAX;
static unsigned int alive_calls;

static bool fake_alive(uint32_t pid, uint32_t tid)
{
	(void)pid;
	alive_calls++;
	return tid < dead_from;
}

static uint64_t removed(struct thread_table *t, enum thread_removal r)
{
	struct thread_table_stats s;

	thread_table_get_stats(t, &s);
	return s.removed[r];
}

static void set(struct thread_table *t, uint32_t tid, uint32_t pid,
		uint64_t now, uint64_t key)
{
	thread_table_set(t, tid, 0, pid, now, key, &key, sizeof(key));
}

static uint64_t get(struct thread_table *t, uint32_t tid, uint32_t pid,
		    uint64_t now)
{
	bool ambiguous;
	const uint64_t *k = thread_table_get(t, tid, 0, pid, now, &ambiguous);

	CHECK(!k || !ambiguous);
	return k ? *k : ambiguous ? 1000000 : 0;
}

static void test_set_get_clear(void)
{
	struct thread_table *t = thread_table_new(16, 300 * SEC, fake_alive);

	set(t, 10, 1, SEC, 111);
	CHECK_INT(get(t, 10, 1, 2 * SEC), 111);
	CHECK_INT(get(t, 10, 2, 2 * SEC), 0); /* another process's tid */
	CHECK_INT(get(t, 11, 1, 2 * SEC), 0);
	thread_table_clear(t, 10, 0, 111);
	CHECK_INT(get(t, 10, 1, 2 * SEC), 0);
	CHECK_INT(thread_table_count(t), 0);
	set(t, 10, 1, 3 * SEC, 222); /* the thread's next request */
	CHECK_INT(get(t, 10, 1, 4 * SEC), 222);
	thread_table_clear(t, 10, 0, 222);
	CHECK_INT(thread_table_count(t), 0);
	for (int r = 0; r < THREAD_RM__COUNT; r++)
		CHECK_INT(removed(t, r), 0);
	thread_table_free(t);
	thread_table_free(NULL);
}

/* The old bug: a full table refused every new thread, for good. */
static void test_full_evicts_oldest(void)
{
	struct thread_table *t = thread_table_new(100, 300 * SEC, fake_alive);
	struct thread_table_stats s;

	for (uint32_t i = 0; i < 20000; i++)
		set(t, 1000 + i, 7, SEC + i, 1 + i);
	CHECK_INT(thread_table_count(t), 100);
	CHECK_INT(removed(t, THREAD_RM_FULL), 20000 - 100);
	CHECK_INT(get(t, 1000, 7, 2 * SEC), 0);
	CHECK_INT(get(t, 1000 + 19999, 7, 2 * SEC), 20000);
	set(t, 5, 8, 3 * SEC, 42);
	CHECK_INT(get(t, 5, 8, 3 * SEC), 42);
	thread_table_get_stats(t, &s);
	CHECK_INT(s.entries, 100);
	thread_table_free(t);
}

static void test_process_exit(void)
{
	struct thread_table *t = thread_table_new(1000, 300 * SEC, fake_alive);

	for (uint32_t i = 0; i < 300; i++)
		set(t, 100 + i, i % 3 ? 50 : 60, SEC, 1 + i);
	CHECK_INT(thread_table_count(t), 300);
	thread_table_process_exit(t, 50);
	CHECK_INT(thread_table_count(t), 100);
	CHECK_INT(removed(t, THREAD_RM_PROCESS_EXIT), 200);
	CHECK_INT(get(t, 100, 60, SEC), 1);
	thread_table_process_exit(t, 50); /* nothing left */
	thread_table_process_exit(t, 99); /* never had any */
	thread_table_process_exit(t, 60);
	CHECK_INT(thread_table_count(t), 0);
	CHECK_INT(removed(t, THREAD_RM_PROCESS_EXIT), 300);
	/* a tid reused by another process moves to it */
	set(t, 9, 70, SEC, 1);
	set(t, 9, 71, SEC, 2);
	thread_table_process_exit(t, 70);
	CHECK_INT(get(t, 9, 71, SEC), 2);
	thread_table_process_exit(t, 71);
	CHECK_INT(thread_table_count(t), 0);
	thread_table_free(t);
}

static void test_expiry(void)
{
	struct thread_table *t = thread_table_new(1000, 10 * SEC, fake_alive);

	set(t, 1, 1, 1 * SEC, 1);
	set(t, 2, 1, 5 * SEC, 2);
	set(t, 3, 1, 9 * SEC, 3);
	CHECK_INT(get(t, 1, 1, 12 * SEC), 0); /* too old to parent */
	thread_table_tick(t, 12 * SEC, 0);
	CHECK_INT(thread_table_count(t), 2);
	CHECK_INT(removed(t, THREAD_RM_EXPIRED), 1);
	thread_table_clear(t, 2, 0, 2);
	set(t, 2, 1, 13 * SEC, 4); /* renewed: young again */
	thread_table_tick(t, 20 * SEC, 0);
	CHECK_INT(thread_table_count(t), 1);
	CHECK_INT(get(t, 2, 1, 20 * SEC), 4);
	thread_table_free(t);
}

static void test_thread_exit(void)
{
	struct thread_table *t = thread_table_new(10000, 300 * SEC, fake_alive);

	for (uint32_t i = 0; i < 5000; i++)
		set(t, 1 + i, 1, SEC, 1 + i);
	dead_from = 2001; /* threads 2001.. are gone */
	alive_calls = 0;
	thread_table_tick(t, 2 * SEC, 1000);
	CHECK_INT(alive_calls, 1000);
	CHECK_INT(thread_table_count(t), 5000);
	for (int i = 0; i < 10; i++)
		thread_table_tick(t, 2 * SEC, 1000);
	CHECK_INT(thread_table_count(t), 2000);
	CHECK_INT(removed(t, THREAD_RM_THREAD_EXIT), 3000);
	CHECK_INT(get(t, 2000, 1, 2 * SEC), 2000);
	/* removals while the cursor is on the entry removed */
	dead_from = 0;
	thread_table_clear(t, 1, 0, 1);
	thread_table_process_exit(t, 1);
	thread_table_tick(t, 2 * SEC, 1000);
	CHECK_INT(thread_table_count(t), 0);
	dead_from = UINT32_MAX;
	thread_table_free(t);
}

/* An event loop: one unit serving two requests at once cannot say which
 * one a call belongs to, whichever ends first; greenlets of one thread are
 * units of their own. */
static void test_ambiguous_and_units(void)
{
	struct thread_table *t = thread_table_new(16, 300 * SEC, fake_alive);
	uint64_t a = 11, b = 22, c = 33;
	bool amb;
	uint64_t *d;

	set(t, 5, 1, SEC, a);
	set(t, 5, 1, SEC, b);
	CHECK_INT(get(t, 5, 1, SEC), 1000000);
	thread_table_clear(t, 5, 0, b); /* the latest ends: a's context is
					 * not held, still ambiguous */
	CHECK_INT(get(t, 5, 1, SEC), 1000000);
	thread_table_clear(t, 5, 0, a);
	CHECK_INT(get(t, 5, 1, SEC), 0);
	set(t, 5, 1, SEC, a);
	set(t, 5, 1, SEC, b);
	thread_table_clear(t, 5, 0, a); /* the older ends: b is the one */
	CHECK_INT(get(t, 5, 1, SEC), b);
	thread_table_clear(t, 5, 0, b);
	CHECK_INT(thread_table_count(t), 0);

	/* two greenlets of thread 5 and the thread itself */
	thread_table_set(t, 5, 0x7f0001, 1, SEC, a, &a, sizeof(a));
	thread_table_set(t, 5, 0x7f0002, 1, SEC, b, &b, sizeof(b));
	set(t, 5, 1, SEC, c);
	CHECK_INT(thread_table_count(t), 3);
	d = thread_table_get(t, 5, 0x7f0001, 1, SEC, &amb);
	CHECK(d && *d == a && !amb);
	d = thread_table_get(t, 5, 0x7f0002, 1, SEC, &amb);
	CHECK(d && *d == b && !amb);
	CHECK_INT(get(t, 5, 1, SEC), c);
	CHECK(!thread_table_get(t, 6, 0x7f0001, 1, SEC, &amb) && !amb);
	CHECK(thread_table_find(t, 5, 0x7f0002, b) != NULL);
	CHECK(thread_table_find(t, 5, 0x7f0002, a) == NULL);
	thread_table_process_exit(t, 1);
	CHECK_INT(thread_table_count(t), 0);
	thread_table_free(t);
}

static void test_real_alive(void)
{
	CHECK(thread_table_thread_alive((uint32_t)getpid(),
					(uint32_t)getpid()));
	/* pid_max is at most 2^22 */
	CHECK(!thread_table_thread_alive((uint32_t)getpid(), 1u << 23));
	CHECK_STR(thread_removal_name(THREAD_RM_FULL), "full");
	CHECK_STR(thread_removal_name(THREAD_RM__COUNT), "unknown");
}

int main(void)
{
	RUN(test_set_get_clear);
	RUN(test_full_evicts_oldest);
	RUN(test_process_exit);
	RUN(test_expiry);
	RUN(test_thread_exit);
	RUN(test_ambiguous_and_units);
	RUN(test_real_alive);
	return check_summary("thread_table");
}
