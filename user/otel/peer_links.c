// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/peer_links.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/hashmap.h"
#include "lib/list.h"

struct entry {
	struct hnode node;
	struct link age; /* oldest first */
	enum peer_end end;
	struct peer_link_key key;
	uint64_t since_ns;
	uint8_t data[PEER_LINK_DATA];
};

struct peer_links {
	struct hmap entries;
	struct link by_age;
	unsigned int max;
	uint64_t ttl_ns;
	_Atomic uint64_t count, expired, evicted;
};

struct lookup {
	enum peer_end end;
	const struct peer_link_key *key;
};

struct peer_links *peer_links_new(unsigned int max_entries, uint64_t ttl_ns)
{
	struct peer_links *pl = calloc(1, sizeof(*pl));

	if (!pl)
		return NULL;
	if (hmap_init(&pl->entries)) {
		free(pl);
		return NULL;
	}
	list_init(&pl->by_age);
	pl->max = max_entries ? max_entries : 1;
	pl->ttl_ns = ttl_ns;
	return pl;
}

void peer_links_free(struct peer_links *pl)
{
	if (!pl)
		return;
	hmap_for_each(it, &pl->entries) {
		free(hmap_entry(it.node, struct entry, node));
	}
	hmap_free(&pl->entries);
	free(pl);
}

static bool is_loopback(uint16_t family, const uint8_t *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	return family == AF_INET ? addr[0] == 127
				 : !memcmp(addr, v6_loopback, 16);
}

/* An IPv4-mapped IPv6 address (a dual-stack listener's peer) is the IPv4
 * address the other end used. */
static void normalise(uint16_t family, const uint8_t *addr,
		      uint16_t *out_family, uint8_t *out)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, 16);
	if (family == AF_INET6 && !memcmp(addr, mapped, sizeof(mapped))) {
		*out_family = AF_INET;
		memcpy(out, addr + 12, 4);
	} else if (family == AF_INET) {
		*out_family = AF_INET;
		memcpy(out, addr, 4);
	} else {
		*out_family = AF_INET6;
		memcpy(out, addr, 16);
	}
}

bool peer_link_key_of(enum peer_end end, const struct podtap_sock_addrs *a,
		      uint64_t pos, struct peer_link_key *out)
{
	/* The client's end of the connection: its own at the client, the
	 * peer at the server. */
	const uint8_t *addr = end == PEER_CLIENT ? a->local_addr
						 : a->remote_addr;
	uint16_t port = end == PEER_CLIENT ? a->local_port : a->remote_port;
	uint16_t server_port = end == PEER_CLIENT ? a->remote_port
						  : a->local_port;

	if ((a->family != AF_INET && a->family != AF_INET6) || !port)
		return false;
	memset(out, 0, sizeof(*out));
	normalise(a->family, addr, &out->family, out->addr);
	out->port = port;
	if (is_loopback(out->family, out->addr))
		out->loopback_port = server_port;
	out->pos = pos;
	return true;
}

void peer_link_key_of_header(uint32_t tid, const uint8_t span_id[8],
			     struct peer_link_key *out)
{
	/* No address family: never a connection's key. */
	memset(out, 0, sizeof(*out));
	memcpy(out->addr, &tid, sizeof(tid));
	memcpy(&out->pos, span_id, sizeof(out->pos));
}

static uint64_t key_hash(const struct peer_link_key *k)
{
	return hash_bytes(k, sizeof(*k), 0x70656572);
}

static bool entry_eq(const struct hnode *n, const void *arg)
{
	const struct entry *e = hmap_entry(n, struct entry, node);
	const struct lookup *l = arg;

	return e->end == l->end && !memcmp(&e->key, l->key, sizeof(e->key));
}

static void remove_entry(struct peer_links *pl, struct entry *e,
			 _Atomic uint64_t *counter)
{
	list_del(&e->age);
	hmap_remove(&pl->entries, &e->node);
	free(e);
	if (counter)
		atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	atomic_store_explicit(&pl->count, pl->entries.count,
			      memory_order_relaxed);
}

void peer_links_put(struct peer_links *pl, enum peer_end end,
		    const struct peer_link_key *k, uint64_t now_ns,
		    const void *data, size_t len)
{
	struct lookup l = { end, k };
	uint64_t h = key_hash(k);
	struct hnode *n = hmap_find(&pl->entries, h, &l, entry_eq);
	struct entry *e;

	if (len > PEER_LINK_DATA)
		len = PEER_LINK_DATA;
	if (n) {
		/* The same place again: a connection's tuple reused while
		 * the old one's waited. The newer is the live one. */
		e = hmap_entry(n, struct entry, node);
		list_del(&e->age);
	} else {
		if (pl->entries.count >= pl->max && !list_empty(&pl->by_age))
			remove_entry(pl, list_entry(pl->by_age.next,
						    struct entry, age),
				     &pl->evicted);
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->end = end;
		e->key = *k;
		hmap_insert(&pl->entries, &e->node, h);
	}
	e->since_ns = now_ns;
	memset(e->data, 0, sizeof(e->data));
	memcpy(e->data, data, len);
	list_add_tail(&pl->by_age, &e->age);
	atomic_store_explicit(&pl->count, pl->entries.count,
			      memory_order_relaxed);
}

bool peer_links_take(struct peer_links *pl, enum peer_end end,
		     const struct peer_link_key *k, void *out, size_t len)
{
	struct lookup l = { end, k };
	struct hnode *n = hmap_find(&pl->entries, key_hash(k), &l, entry_eq);
	struct entry *e;

	if (!n)
		return false;
	e = hmap_entry(n, struct entry, node);
	memcpy(out, e->data, len < PEER_LINK_DATA ? len : PEER_LINK_DATA);
	remove_entry(pl, e, NULL);
	return true;
}

void peer_links_tick(struct peer_links *pl, uint64_t now_ns)
{
	while (!list_empty(&pl->by_age)) {
		struct entry *e = list_entry(pl->by_age.next, struct entry, age);

		if (now_ns <= e->since_ns || now_ns - e->since_ns <= pl->ttl_ns)
			break;
		remove_entry(pl, e, &pl->expired);
	}
}

unsigned int peer_links_count(const struct peer_links *pl)
{
	return pl->entries.count;
}

void peer_links_get_stats(const struct peer_links *pl,
			  struct peer_links_stats *out)
{
	out->entries = atomic_load_explicit(&pl->count, memory_order_relaxed);
	out->expired = atomic_load_explicit(&pl->expired, memory_order_relaxed);
	out->evicted = atomic_load_explicit(&pl->evicted, memory_order_relaxed);
}
