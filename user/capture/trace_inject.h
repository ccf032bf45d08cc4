/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --inject-trace-context: loads bpf/podtap_inject.bpf.c beside the
 * capture (sharing its maps), attaches its sock_ops program to the cgroup
 * v2 root and its sk_msg program to the socket map, and keeps the kernel's
 * copy of which server request each thread or greenlet serves
 * (podtap_trace_ctx), written as the tracer places requests.
 */
#ifndef PODTAP_USER_TRACE_INJECT_H
#define PODTAP_USER_TRACE_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/contract.h"

struct capture;
struct trace_inject;
struct bpf_load_observer;

struct trace_inject_opts {
	bool w3c;                   /* traceparent */
	bool b3;                    /* b3 (single header) */
	struct trace_ctx_config trace_ctx; /* as the capture's */
	const char *cgroup_root;    /* the cgroup v2 mount */
	const struct bpf_load_observer *observer; /* NULL: none */
};

/* Returns 0 or a negative errno after logging what failed and what it
 * needs (CAP_NET_ADMIN, Linux 5.17 for bpf_loop). */
int trace_inject_open(struct trace_inject **out, struct capture *cap,
		      const struct trace_inject_opts *opts);

/* The unit (tid, greenlet) serves the request ctx describes from now on. */
void trace_inject_set(struct trace_inject *ti, uint32_t tid, uint64_t unit,
		      const struct trace_ctx *ctx);
/* ... no longer serves the request whose server span is span_id (NULL:
 * whatever it was said to serve): its calls name none. */
void trace_inject_done(struct trace_inject *ti, uint32_t tid, uint64_t unit,
		       const uint8_t *span_id);
/* ... serves that request in another trace now (a same-node caller seen
 * late adopted it). */
void trace_inject_retrace(struct trace_inject *ti, uint32_t tid,
			  uint64_t unit, const uint8_t *span_id,
			  const uint8_t *trace_id, bool sampled);

/* Sums the per-CPU results into out[PODTAP_INJECT__COUNT]. */
int trace_inject_read_stats(struct trace_inject *ti, uint64_t *out);

const char *trace_inject_result_name(int result);

/* Detaches and frees; accepts NULL. Sockets already in the map leave it
 * with the map. */
void trace_inject_close(struct trace_inject *ti);

#endif /* PODTAP_USER_TRACE_INJECT_H */
