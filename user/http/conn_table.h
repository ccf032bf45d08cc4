/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connections seen by the kernel side, keyed by socket (bpf/contract.h:
 * struct conn_key) and told apart by generation: a new generation on the
 * same socket key means the old connection ended unseen. Each belongs to
 * the process that used it last, whose exit ends it. Bounded; indexed by
 * pid so an exit of a process without connections costs nothing.
 */
#ifndef PODTAP_CONN_TABLE_H
#define PODTAP_CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "http/http_parser.h"
#include "lib/hashmap.h"

struct conn {
	struct hnode node;
	uint64_t sock_id;
	uint64_t gen;
	uint32_t pid;            /* the process that used it last */
	uint64_t cgroup_id;
	uint64_t last_seen_ns;
	char comm[16];
	struct podtap_sock_addrs addrs; /* from the OPEN event; zero if none */
	struct http_conn *http; /* NULL once ignored (not HTTP) */
	bool ignored;
	bool tls;                /* plaintext of SSL calls: https */
	bool counted_http;       /* protocol HTTP already counted */
	bool whole_stream;       /* seen from accept/connect, not mid-stream */
	uint32_t serving_tid;    /* the thread that read its last request's
				  * head (a server's): its worker */
	/* Trace context injection: the ids put into the request that starts
	 * at injected_pos (awaiting its head), and the bytes inserted into
	 * the stream before the next request. */
	bool has_injected;
	uint64_t injected_pos;
	struct podtap_injected injected;
	uint64_t inject_shift;
	/* ... and the server span ids the kernel chose for the request that
	 * starts at serving_pos (awaiting its head). */
	bool has_serving;
	uint64_t serving_pos;
	struct podtap_serving_ids serving;
};

struct conn_table;

/* Why a connection leaves the table. Only the first two are its real end,
 * seen at ts_ns; the others are podtap's doing, with no time of their own. */
enum conn_end {
	CONN_END_CLOSED = 0, /* its last close */
	CONN_END_EXITED,     /* the exit of the process that used it last */
	CONN_END_REPLACED,   /* a new generation on its socket: close lost */
	CONN_END_SWEPT,      /* idle, its process gone: exit lost */
	CONN_END_SHUTDOWN,   /* the table is freed */
	CONN_END__COUNT,
};

static inline bool conn_end_seen(enum conn_end why)
{
	return why == CONN_END_CLOSED || why == CONN_END_EXITED;
}

/* Called for each connection leaving the table, before it is freed;
 * ts_ns is 0 unless conn_end_seen(why). */
typedef void (*conn_end_fn)(void *ctx, struct conn *c, enum conn_end why,
			    uint64_t ts_ns);

struct conn_table *conn_table_new(unsigned int max_conns, conn_end_fn on_end,
				  void *ctx);
void conn_table_free(struct conn_table *t); /* ends every connection */

/*
 * The connection for (sock_id, gen), now used by process pid: found, or
 * created with a new http_conn of `role`. An entry with another generation
 * is ended first. Returns NULL when the table is full (*full set) or memory
 * runs out.
 */
struct conn *conn_table_get(struct conn_table *t, uint64_t sock_id,
			    uint64_t gen, uint32_t pid, enum http_role role,
			    bool *full);
/* The connection if it is there with this generation. */
struct conn *conn_table_find(struct conn_table *t, uint64_t sock_id,
			     uint64_t gen);
/* The connection's last close, at ts_ns. */
void conn_table_end(struct conn_table *t, struct conn *c, uint64_t ts_ns);
/* Ends every connection of process `pid`, which exited at ts_ns. */
void conn_table_end_pid(struct conn_table *t, uint32_t pid, uint64_t ts_ns);
/* Ends connections idle since before `idle_before_ns` whose process is
 * gone (an exit event may have been lost). Returns how many. */
unsigned int conn_table_sweep(struct conn_table *t, uint64_t idle_before_ns);
unsigned int conn_table_count(const struct conn_table *t);

#endif /* PODTAP_CONN_TABLE_H */
