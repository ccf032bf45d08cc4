/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What --inject-trace-context needs to know at the moment a unit of work
 * (a thread, or the greenlet it runs) sends a request: which server
 * request it is serving. The daemon knows that only once it has parsed
 * the request's head, later than the app may call out; so the kernel names
 * each server request itself as its head is read (conn.bpf.h's
 * serving_record: podtap_trace_ctx), keeps its own record of each unit's
 * last read of a server connection (podtap_serving), and uses a context
 * (its own, or one the daemon wrote for a head it does not parse) only
 * while that record still points inside its request. Included by
 * conn.bpf.h: the syscall and SSL paths both stamp reads here, and the
 * greenlet hook keeps podtap_units. Off (and the maps one entry each)
 * unless the daemon injects.
 */
#ifndef PODTAP_TRACE_CTX_BPF_H
#define PODTAP_TRACE_CTX_BPF_H

#include "contract.h"

const volatile bool trace_ctx_on = false; /* --inject-trace-context */
/* A new trace is sampled when the low 63 bits of its id's last 8 bytes
 * are below this (otel/sampler.c's TraceIdRatioBased; 2^63: always). */
const volatile __u64 root_sample_bound = 1ULL << 63;
/* A span whose parent said is sampled as the parent was (ParentBased). */
const volatile bool sampler_parent_based = true;

/* The greenlet a thread runs now (pid_tgid's low half -> unit). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_TRACE_UNITS);
	__type(key, __u32);
	__type(value, __u64);
} podtap_units SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_TRACE_UNITS);
	__type(key, struct unit_key);
	__type(value, struct serving_state);
} podtap_serving SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_TRACE_UNITS);
	__type(key, struct unit_key);
	__type(value, struct trace_ctx);
} podtap_trace_ctx SEC(".maps");

static __always_inline void random_bytes(__u8 *p, __u32 words)
{
	for (__u32 i = 0; i < words; i++) {
		__u32 r = bpf_get_prandom_u32();

		__builtin_memcpy(p + 4 * i, &r, 4);
	}
}

static __always_inline bool root_sampled(const __u8 *trace_id)
{
	__u64 x = 0;

	for (int i = 8; i < 16; i++)
		x = x << 8 | trace_id[i];
	return (x >> 1) < root_sample_bound;
}

/* Where PODTAP_EV_SERVING is built (the syscall program's stack is full). */
struct serving_event {
	__u8 buf[sizeof(struct podtap_event) + sizeof(struct podtap_serving_ids)];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct serving_event);
} podtap_serving_scratch SEC(".maps");

static __always_inline struct unit_key current_unit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct unit_key k = { .tid = tid };
	__u64 *unit = bpf_map_lookup_elem(&podtap_units, &tid);

	if (unit)
		k.unit = *unit;
	return k;
}

/*
 * A unit moved `dir` bytes of a server connection, up to read position
 * pos_end. Reading another connection than the last before writing to
 * that one is what event loops do (threads and greenlets answer one
 * request before taking the next): such a unit is marked for good.
 */
static __always_inline void stamp_serving(__u64 sock_id, __u64 gen, __u8 dir,
					  __u64 pos_end)
{
	struct unit_key k;
	struct serving_state *s, fresh = {};

	if (!trace_ctx_on)
		return;
	k = current_unit();
	s = bpf_map_lookup_elem(&podtap_serving, &k);
	if (dir == PODTAP_DIR_EGRESS) {
		if (s && s->sock_id == sock_id && s->gen == gen)
			s->flags |= SERVING_WROTE;
		return;
	}
	if (!s) {
		fresh.sock_id = sock_id;
		fresh.gen = gen;
		fresh.pos_end = pos_end;
		bpf_map_update_elem(&podtap_serving, &k, &fresh, BPF_ANY);
		return;
	}
	if ((s->sock_id != sock_id || s->gen != gen) &&
	    !(s->flags & SERVING_WROTE))
		s->flags |= SERVING_MULTIPLEXED;
	s->sock_id = sock_id;
	s->gen = gen;
	s->pos_end = pos_end;
	s->flags &= ~SERVING_WROTE;
}

#endif /* PODTAP_TRACE_CTX_BPF_H */
