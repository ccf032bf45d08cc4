/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How long an accepted connection waited in its listener's accept queue:
 * from the kernel completing the handshake (the child socket going from
 * SYN_RECV to ESTABLISHED, the final ACK read) to the accept() that took
 * it. The wait of a request an app cannot see: it has not reached Python.
 *
 * podtap_handshakes holds each passive connection's handshake time until
 * it is accepted. An LRU map: a connection never accepted (its listener
 * closed, the client gone) is pushed out by newer ones, and one pushed out
 * before its accept is reported without a wait (the daemon counts it).
 */
#ifndef PODTAP_ACCEPT_WAIT_BPF_H
#define PODTAP_ACCEPT_WAIT_BPF_H

#include "contract.h"

/* include/net/tcp_states.h: an enum without a name, so not in every BTF. */
#define PODTAP_TCP_ESTABLISHED 1
#define PODTAP_TCP_SYN_RECV 3

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_HANDSHAKES);
	__type(key, __u64);   /* the child's struct sock */
	__type(value, __u64); /* CLOCK_MONOTONIC at ESTABLISHED */
} podtap_handshakes SEC(".maps");

/* A state change of any socket: keeps the passive handshakes that end. */
static __always_inline void handshake_state(const struct sock *sk,
					    int oldstate, int newstate)
{
	__u64 key = (__u64)sk, now;

	if (oldstate != PODTAP_TCP_SYN_RECV ||
	    newstate != PODTAP_TCP_ESTABLISHED ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&podtap_handshakes, &key, &now, BPF_ANY);
}

/* The accepted socket sk (0: unknown) waited this long; 0 when its
 * handshake time is not known. Its entry goes. */
static __always_inline __u64 accept_wait_ns(__u64 sk)
{
	__u64 *at, wait;

	if (!sk)
		return 0;
	at = bpf_map_lookup_elem(&podtap_handshakes, &sk);
	if (!at)
		return 0;
	wait = bpf_ktime_get_ns() - *at;
	bpf_map_delete_elem(&podtap_handshakes, &sk);
	return wait ? wait : 1; /* measured, however short */
}

#endif /* PODTAP_ACCEPT_WAIT_BPF_H */
