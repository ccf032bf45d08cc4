/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Same-node stitching: a request between two processes on this node is
 * seen twice, written by the client and read by the server. Both ends name
 * it alike:
 *
 *   - the connection, by the client's own address and port: the server's
 *     peer address and port. DNAT to a Service rewrites where the client
 *     sent it (its peer address), never its own; on loopback, where several
 *     network namespaces may use the same address, the server's port (the
 *     client's peer port: no DNAT there) is part of the name too;
 *   - the request, by the offset of its first byte in the client's send
 *     stream, which TCP delivers in order and exactly once: the same offset
 *     in the server's receive stream. Lost events do not shift it, as a
 *     count of requests would be.
 *
 * Whichever end is seen first waits here for the other, briefly and within
 * a bound; the oldest makes room for the newest (counted).
 *
 * A second table of the same kind holds the trace headers server requests
 * came with, by thread and span id (peer_link_key_of_header), so that a
 * proxy's request that forwards one is told from an app's own.
 *
 * Used from one thread (the event loop); stats from any thread.
 */
#ifndef PODTAP_PEER_LINKS_H
#define PODTAP_PEER_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/contract.h"

#define PEER_LINK_DATA 48 /* bytes of context per entry */

/* Which end an entry is: the one waiting for the other. */
enum peer_end {
	PEER_CLIENT = 0,
	PEER_SERVER = 1,
};

struct peer_link_key {
	uint8_t addr[16]; /* the client's address; IPv4 (mapped or not) in
			   * the first 4 bytes */
	uint16_t family;  /* AF_INET or AF_INET6 */
	uint16_t port;    /* the client's port */
	uint16_t loopback_port; /* on loopback, the server's; else 0 */
	uint16_t pad;
	uint64_t pos;     /* the request's offset in the stream */
};

struct peer_links_stats {
	uint64_t entries;
	uint64_t expired; /* the other end never came */
	uint64_t evicted; /* made room for a newer one */
};

struct peer_links;

struct peer_links *peer_links_new(unsigned int max_entries, uint64_t ttl_ns);
void peer_links_free(struct peer_links *pl); /* accepts NULL */

/* The key of a request at one end of a TCP connection; false when the
 * connection cannot be named (not TCP over IP). */
bool peer_link_key_of(enum peer_end end, const struct podtap_sock_addrs *a,
		      uint64_t pos, struct peer_link_key *out);

/* The key of a trace header's span id as received on thread tid. */
void peer_link_key_of_header(uint32_t tid, const uint8_t span_id[8],
			     struct peer_link_key *out);

/* This end's context, left for the other end. */
void peer_links_put(struct peer_links *pl, enum peer_end end,
		    const struct peer_link_key *k, uint64_t now_ns,
		    const void *data, size_t len);
/* The other end's context, if it is waiting: copied to out and forgotten. */
bool peer_links_take(struct peer_links *pl, enum peer_end end,
		     const struct peer_link_key *k, void *out, size_t len);
/* Forgets what waited longer than the TTL. */
void peer_links_tick(struct peer_links *pl, uint64_t now_ns);

unsigned int peer_links_count(const struct peer_links *pl);
void peer_links_get_stats(const struct peer_links *pl,
			  struct peer_links_stats *out);

#endif /* PODTAP_PEER_LINKS_H */
