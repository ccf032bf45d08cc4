/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loads and attaches the socket-capture BPF programs (bpf/podtap.bpf.c),
 * pins them for bpftool, and delivers their ring-buffer events. */
#ifndef PODTAP_USER_CAPTURE_H
#define PODTAP_USER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/contract.h"

struct capture;
struct pins;
struct bpf_object;

/* Sees a BPF object around its load: before() may set per-program log
 * levels and buffers (the root test asks for the verifier's statistics),
 * after() gets the load's result before anything is attached or freed.
 * The daemon passes none. */
struct bpf_load_observer {
	void (*before)(void *ctx, struct bpf_object *obj);
	void (*after)(void *ctx, struct bpf_object *obj, int err);
	void *ctx;
};

struct capture_opts {
	uint32_t payload_size;
	uint32_t ringbuf_size;
	struct pins *pins;    /* NULL: no pinning */
	/* Keep the record trace context injection checks against, and name
	 * server requests (bpf/trace_ctx.bpf.h); off: its maps have one
	 * entry each. */
	struct trace_ctx_config trace_ctx;
	const struct bpf_load_observer *observer; /* NULL: none */
};

/* Called for each event; `size` is the record's size in the ring. */
typedef void (*capture_event_fn)(void *ctx, const struct podtap_event *ev,
				 size_t size);

/* open -> configure -> load -> attach -> pin. Returns 0 or a negative errno
 * after logging what failed (with the verifier's log on rejection). */
int capture_open(struct capture **out, const struct capture_opts *opts,
		 capture_event_fn fn, void *ctx);

/* Maps the ring buffer for capture_poll. Apart from capture_open so that
 * the mapping (twice the ring's size in RSS: the kernel maps its pages
 * twice) comes after every BPF object is loaded, not on top of libbpf's
 * transient copy of the kernel's BTF. Events wait in the ring meanwhile. */
int capture_start_reading(struct capture *cap);

/* Waits up to timeout_ms, then drains what is in the ring (wakeups are
 * batched, so a timeout does not mean the ring is empty). Returns the
 * number of events handled or a negative errno. */
int capture_poll(struct capture *cap, int timeout_ms);

/* Sums the per-CPU kernel drop counters into out[PODTAP_DROP__COUNT]. */
int capture_read_drops(struct capture *cap, uint64_t *out);

/* Tells the kernel to stop sending data for this connection (not HTTP). */
void capture_ignore_conn(struct capture *cap, uint64_t sock_id, uint64_t gen);
/* Drops the kernel's entry for a connection of an exited process. */
void capture_forget_conn(struct capture *cap, uint64_t sock_id, uint64_t gen);

/* For BPF objects that share the capture's maps (python_hooks.c,
 * trace_inject.c): the fd of its map `name`, or -1; every map of obj that
 * the capture has too made that one (before obj is loaded; 0 or a
 * negative errno); and its ring-buffer wakeup threshold. */
int capture_map_fd(struct capture *cap, const char *name);
int capture_share_maps(struct capture *cap, struct bpf_object *obj);
uint64_t capture_wakeup_min_bytes(struct capture *cap);

/* Detaches and frees (the pins stay with their struct pins); accepts
 * NULL. */
void capture_close(struct capture *cap);

const char *capture_drop_reason_name(int reason);

#endif /* PODTAP_USER_CAPTURE_H */
