/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The server request each thread is serving, so that the client calls the
 * thread makes meanwhile can be its children. Keyed by thread id and, where
 * one thread runs many pieces of work in turn (greenlets), by the unit of
 * work within it; with the caller's fixed-size context per entry.
 *
 * A unit serving more than one request at once (an event loop on one
 * thread) cannot say which of them a call belongs to: lookups then answer
 * "ambiguous", never a guess.
 *
 * Bounded and self-cleaning: an entry leaves when its exchange ends
 * (thread_table_clear), when its process exits, when its thread is found
 * gone, when it is older than the TTL, and, on a full table, the oldest
 * makes room for the newest. Each removal but the first is counted by
 * reason, so a full table shows, and never stays full.
 *
 * Used from one thread (the event loop); stats from any thread.
 */
#ifndef PODTAP_THREAD_TABLE_H
#define PODTAP_THREAD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THREAD_TABLE_DATA 48 /* bytes of context per entry */

/* Label values of podtap_trace_threads_removed_total{reason}. */
enum thread_removal {
	THREAD_RM_FULL = 0,     /* "full": the oldest entry made room */
	THREAD_RM_EXPIRED,      /* "expired": older than the TTL */
	THREAD_RM_THREAD_EXIT,  /* "thread_exit": its thread is gone */
	THREAD_RM_PROCESS_EXIT, /* "process_exit": its process exited */
	THREAD_RM__COUNT,
};

struct thread_table_stats {
	uint64_t entries;
	uint64_t removed[THREAD_RM__COUNT];
};

/* Whether thread tid of process pid still runs. */
typedef bool (*thread_alive_fn)(uint32_t pid, uint32_t tid);

struct thread_table;

/* alive NULL: thread_table_thread_alive. Returns NULL without memory. */
struct thread_table *thread_table_new(unsigned int max_entries,
				      uint64_t ttl_ns, thread_alive_fn alive);
void thread_table_free(struct thread_table *t); /* accepts NULL */

/* Unit `unit` (0: the thread itself) of thread tid (of pid) serves, since
 * now_ns, the request named `key` with context data (len <=
 * THREAD_TABLE_DATA), besides any it still serves. */
void thread_table_set(struct thread_table *t, uint32_t tid, uint64_t unit,
		      uint32_t pid, uint64_t now_ns, uint64_t key,
		      const void *data, size_t len);
/* The context of the one request the unit serves; NULL when none, older
 * than the TTL, the entry is another process's (its tid reused), or, with
 * *ambiguous set, the unit serves more than one. The caller may change the
 * data in place. */
void *thread_table_get(struct thread_table *t, uint32_t tid, uint64_t unit,
		       uint32_t pid, uint64_t now_ns, bool *ambiguous);
/* The context of request `key` if it is the unit's latest, still open. */
void *thread_table_find(struct thread_table *t, uint32_t tid, uint64_t unit,
			uint64_t key);
/* The request `key` of the unit ended (answered or not): every set is
 * cleared once. */
void thread_table_clear(struct thread_table *t, uint32_t tid, uint64_t unit,
			uint64_t key);
void thread_table_process_exit(struct thread_table *t, uint32_t pid);
/* Removes entries older than the TTL, and checks up to `budget` entries,
 * round robin, for threads that are gone. */
void thread_table_tick(struct thread_table *t, uint64_t now_ns,
		       unsigned int budget);

unsigned int thread_table_count(const struct thread_table *t);
void thread_table_get_stats(const struct thread_table *t,
			    struct thread_table_stats *out);
const char *thread_removal_name(enum thread_removal r);

/* tgkill(pid, tid, 0): false only when no such thread (ESRCH). */
bool thread_table_thread_alive(uint32_t pid, uint32_t tid);

#endif /* PODTAP_THREAD_TABLE_H */
