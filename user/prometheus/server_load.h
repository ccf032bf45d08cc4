/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Queueing and saturation per workload: what in-process instrumentation
 * cannot see, since a request waiting in the listen queue has not reached
 * the app yet.
 *
 *   tcp_listen_queue_wait_seconds         histogram  an accepted connection's
 *                                                    wait in the accept queue
 *   http_server_active_requests           gauge      requests read, not yet
 *                                                    answered
 *   http_server_worker_busy_seconds_total counter    time its serving
 *                                                    threads spent inside a
 *                                                    request
 *   http_server_workers                   gauge      those threads
 *   http_server_worker_saturation         gauge      the share of the last
 *                                                    10 s they were busy
 *
 * and per pod, from its network namespace (k8s/pod_netns.h):
 * tcp_listen_overflows_total, tcp_listen_drops_total and
 * tcp_listen_queue_length.
 *
 * A serving thread (a "worker": a gunicorn sync worker's one thread, a
 * gthread worker's threads, an event loop's thread) is one that has read
 * a request; it is busy while at least one of its requests is open, and
 * leaves with its process. Thread-safe: the event loop records, the
 * metrics thread renders.
 */
#ifndef PODTAP_SERVER_LOAD_H
#define PODTAP_SERVER_LOAD_H

#include <stdint.h>

#include "k8s/pod_resolver.h"
#include "prometheus/prom_writer.h"

#define SERVER_LOAD_WINDOW_S 10 /* of http_server_worker_saturation */

struct server_load;

struct server_load_stats {
	uint64_t waits_unmeasured; /* accepted, handshake time not known */
	uint64_t workers_dropped;  /* threads not followed: table full */
};

/* proc_root: "/proc" (tests point it elsewhere); node_name: the
 * k8s_node_name label ("" or NULL: none). */
struct server_load *server_load_new(const char *proc_root,
				    const char *node_name);
void server_load_free(struct server_load *l); /* accepts NULL */

/* A connection of w accepted by process pid, after wait_ns in its accept
 * queue (0: not known). */
void server_load_accepted(struct server_load *l, const struct workload *w,
			  uint32_t pid, uint64_t wait_ns);

/* A server request's head read at ts_ns by thread tid of pid (of w), and
 * its end (answered or not) at ts_ns. */
void server_load_request_start(struct server_load *l,
			       const struct workload *w, uint32_t pid,
			       uint32_t tid, uint64_t ts_ns);
void server_load_request_end(struct server_load *l, uint32_t pid,
			     uint32_t tid, uint64_t ts_ns);

/* Its threads are no workers any more. */
void server_load_process_exit(struct server_load *l, uint32_t pid,
			      uint64_t ts_ns);
/* Once a second: the saturation window moves on. */
void server_load_tick(struct server_load *l, uint64_t now_ns);
/* Drops w's series and workers (it is about to be freed). */
void server_load_forget_workload(struct server_load *l,
				 const struct workload *w);

void server_load_render(struct server_load *l, struct prom_writer *out);
void server_load_get_stats(struct server_load *l,
			   struct server_load_stats *out);

#endif /* PODTAP_SERVER_LOAD_H */
