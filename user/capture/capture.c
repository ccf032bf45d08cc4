// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "capture/capture.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/kernel_btf.h"
#include "capture/pins.h"
#include "lib/array_size.h"
#include "lib/log.h"
#include "podtap.skel.h"

struct capture {
	struct podtap *skel;
	struct ring_buffer *ring;
	capture_event_fn fn;
	void *ctx;
	int ncpus;
	uint64_t wakeup_min_bytes;
};

const char *capture_drop_reason_name(int reason)
{
	switch (reason) {
	case PODTAP_DROP_RINGBUF_FULL: return "ringbuf_full";
	case PODTAP_DROP_CONNS_FULL: return "conn_table_full";
	case PODTAP_DROP_READ_FAILED: return "user_read_failed";
	case PODTAP_DROP_IOV_TRUNCATED: return "iov_truncated";
	case PODTAP_DROP_TLS_NO_SOCKET: return "tls_socket_unknown";
	case PODTAP_DROP_TLS_CALLS_FULL: return "tls_call_table_full";
	case PODTAP_DROP_PY_PROCS_FULL: return "python_process_table_full";
	case PODTAP_DROP_REQUEST_SERVER: return "request_lost_server";
	case PODTAP_DROP_REQUEST_CLIENT: return "request_lost_client";
	default: return "unknown";
	}
}

static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct capture *cap = ctx;
	const struct podtap_event *ev = data;

	if (size < sizeof(*ev) || size < sizeof(*ev) + ev->captured)
		return 0; /* cannot happen with our BPF side; never trust it */
	cap->fn(cap->ctx, ev, size);
	return 0;
}

static int configure(struct capture *cap, const struct capture_opts *opts)
{
	struct podtap *skel = cap->skel;
	int err;

	skel->rodata->self_tgid = getpid();
	skel->rodata->payload_size = opts->payload_size;
	/* Wake the reader per 1/16 of the ring: few wakeups under load, and
	 * still far from full when it wakes. */
	cap->wakeup_min_bytes = opts->ringbuf_size / 16;
	skel->rodata->wakeup_min_bytes = cap->wakeup_min_bytes;
	skel->rodata->trace_ctx_on = opts->trace_ctx.on;
	skel->rodata->sampler_parent_based = opts->trace_ctx.parent_based;
	skel->rodata->root_sample_bound = opts->trace_ctx.root_sample_bound;
	err = bpf_map__set_max_entries(skel->maps.podtap_events, opts->ringbuf_size);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.podtap_scratch, cap->ncpus);
	if (!opts->trace_ctx.on) {
		struct bpf_map *unused[] = { skel->maps.podtap_units,
					     skel->maps.podtap_serving,
					     skel->maps.podtap_trace_ctx };

		for (size_t i = 0; !err && i < ARRAY_SIZE(unused); i++)
			err = bpf_map__set_max_entries(unused[i], 1);
	}
	return err;
}

/* open -> configure -> load, with one of the two sys_exit programs
 * (fd_walk_cast: podtap_sys_exit_cast). */
static int load(struct capture *cap, const struct capture_opts *opts,
		bool fd_walk_cast)
{
	struct bpf_program *unused;
	int err;

	cap->skel = podtap__open();
	if (!cap->skel) {
		err = -errno;
		log_error("cannot open BPF object: %s", strerror(-err));
		return err;
	}
	err = configure(cap, opts);
	unused = fd_walk_cast ? cap->skel->progs.podtap_sys_exit
				   : cap->skel->progs.podtap_sys_exit_cast;
	if (!err)
		err = bpf_program__set_autoload(unused, false);
	if (err) {
		log_error("cannot configure BPF object: %s", strerror(-err));
		return err;
	}
	if (opts->observer && opts->observer->before)
		opts->observer->before(opts->observer->ctx, cap->skel->obj);
	err = podtap__load(cap->skel);
	if (opts->observer && opts->observer->after)
		opts->observer->after(opts->observer->ctx, cap->skel->obj, err);
	if (err)
		log_error("cannot load BPF programs: %s (rerun with --verbose "
			  "for the verifier's log)", strerror(-err));
	return err;
}

int capture_open(struct capture **out, const struct capture_opts *opts,
		 capture_event_fn fn, void *ctx)
{
	struct capture *cap;
	bool fd_walk_cast;
	int err;

	*out = NULL;
	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return -ENOMEM;
	cap->fn = fn;
	cap->ctx = ctx;
	cap->ncpus = libbpf_num_possible_cpus();
	if (cap->ncpus <= 0) {
		err = cap->ncpus ? cap->ncpus : -EINVAL;
		log_error("cannot count CPUs: %s", strerror(-err));
		goto cleanup;
	}

	/* The fd walk without helper calls needs bpf_rdonly_cast (6.2 and
	 * later); where the kernel has it but rejects the program anyway,
	 * the helper-call walk is loaded instead. */
	fd_walk_cast = kernel_btf_has_name("bpf_rdonly_cast");
	err = load(cap, opts, fd_walk_cast);
	if (err && fd_walk_cast) {
		log_info("the fd walk by bpf_rdonly_cast did not load; using "
			 "the one by helper calls");
		podtap__destroy(cap->skel);
		cap->skel = NULL;
		err = load(cap, opts, false);
	}
	if (err)
		goto cleanup;
	err = podtap__attach(cap->skel);
	if (err) {
		log_error("cannot attach BPF programs to tracepoints: %s",
			  strerror(-err));
		goto cleanup;
	}
	if (opts->pins) {
		err = pins_add_object(opts->pins, cap->skel->obj);
		if (err)
			goto cleanup;
	}
	*out = cap;
	return 0;

cleanup:
	capture_close(cap);
	return err;
}

int capture_start_reading(struct capture *cap)
{
	cap->ring = ring_buffer__new(bpf_map__fd(cap->skel->maps.podtap_events),
				     on_ring_event, cap, NULL);
	if (!cap->ring) {
		int err = -errno;

		log_error("cannot open ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

int capture_poll(struct capture *cap, int timeout_ms)
{
	int n = ring_buffer__poll(cap->ring, timeout_ms);
	int m;

	if (n < 0 && n != -EINTR)
		return n;
	m = ring_buffer__consume(cap->ring);
	if (m < 0)
		return m;
	return (n > 0 ? n : 0) + m;
}

int capture_read_drops(struct capture *cap, uint64_t *out)
{
	uint64_t *percpu = calloc(cap->ncpus, sizeof(*percpu));
	int fd = bpf_map__fd(cap->skel->maps.podtap_drops);
	int err = 0;

	if (!percpu)
		return -ENOMEM;
	for (uint32_t r = 0; r < PODTAP_DROP__COUNT; r++) {
		out[r] = 0;
		if (bpf_map_lookup_elem(fd, &r, percpu)) {
			err = -errno;
			continue;
		}
		for (int c = 0; c < cap->ncpus; c++)
			out[r] += percpu[c];
	}
	free(percpu);
	return err;
}

/* The kernel's entry for the socket if it still is generation `gen`. */
static bool find_conn(struct capture *cap, const struct conn_key *key,
		      uint64_t gen, struct conn_state *st)
{
	int map = bpf_map__fd(cap->skel->maps.podtap_conns);

	return !bpf_map_lookup_elem(map, key, st) && st->gen == gen;
}

void capture_ignore_conn(struct capture *cap, uint64_t sock_id, uint64_t gen)
{
	struct conn_key key = { .sock_id = sock_id };
	struct conn_state st;

	if (!find_conn(cap, &key, gen, &st))
		return;
	st.ignored = 1;
	bpf_map_update_elem(bpf_map__fd(cap->skel->maps.podtap_conns), &key,
			    &st, BPF_EXIST);
}

void capture_forget_conn(struct capture *cap, uint64_t sock_id, uint64_t gen)
{
	struct conn_key key = { .sock_id = sock_id };
	struct conn_state st;

	if (find_conn(cap, &key, gen, &st))
		bpf_map_delete_elem(bpf_map__fd(cap->skel->maps.podtap_conns),
				    &key);
}

int capture_map_fd(struct capture *cap, const char *name)
{
	struct bpf_map *map =
		bpf_object__find_map_by_name(cap->skel->obj, name);

	return map ? bpf_map__fd(map) : -1;
}

int capture_share_maps(struct capture *cap, struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		int fd = capture_map_fd(cap, bpf_map__name(map));

		if (fd >= 0 && bpf_map__reuse_fd(map, fd))
			return -errno;
	}
	return 0;
}

uint64_t capture_wakeup_min_bytes(struct capture *cap)
{
	return cap->wakeup_min_bytes;
}

void capture_close(struct capture *cap)
{
	if (!cap)
		return;
	ring_buffer__free(cap->ring);
	podtap__destroy(cap->skel);
	free(cap);
}
