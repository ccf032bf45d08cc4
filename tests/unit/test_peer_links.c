// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests of same-node stitching's table: both ends of a connection name a
 * request alike (through DNAT, dual-stack listeners, loopback in many
 * network namespaces), whichever end comes first waits, bounded and aged. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "otel/peer_links.h"

#define SEC 1000000000ULL

static void v4(uint8_t *a, int b0, int b1, int b2, int b3)
{
	memset(a, 0, 16);
	a[0] = b0, a[1] = b1, a[2] = b2, a[3] = b3;
}

static void mapped(uint8_t *a, int b0, int b1, int b2, int b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0, a[13] = b1, a[14] = b2, a[15] = b3;
}

/* The client's own address and port are the server's peer: a Service's
 * DNAT (the client's peer) and a dual-stack listener change nothing. */
static void test_keys(void)
{
	struct podtap_sock_addrs client = { .family = AF_INET,
					    .local_port = 41000,
					    .remote_port = 80 };
	struct podtap_sock_addrs server = { .family = AF_INET6,
					    .local_port = 8080,
					    .remote_port = 41000 };
	struct podtap_sock_addrs unix_sock = { .family = AF_UNIX };
	struct peer_link_key kc, ks;

	v4(client.local_addr, 10, 4, 0, 7);
	v4(client.remote_addr, 10, 96, 0, 1);
	mapped(server.remote_addr, 10, 4, 0, 7);
	mapped(server.local_addr, 10, 4, 1, 9);
	CHECK(peer_link_key_of(PEER_CLIENT, &client, 512, &kc));
	CHECK(peer_link_key_of(PEER_SERVER, &server, 512, &ks));
	CHECK(!memcmp(&kc, &ks, sizeof(kc)));
	CHECK_INT(kc.family, AF_INET);
	CHECK_INT(kc.loopback_port, 0);
	CHECK(peer_link_key_of(PEER_SERVER, &server, 513, &ks));
	CHECK(memcmp(&kc, &ks, sizeof(kc)));
	CHECK(!peer_link_key_of(PEER_CLIENT, &unix_sock, 0, &kc));

	/* loopback: the server's port is part of the name */
	v4(client.local_addr, 127, 0, 0, 1);
	v4(client.remote_addr, 127, 0, 0, 1);
	client.remote_port = 8080;
	server.family = AF_INET;
	v4(server.remote_addr, 127, 0, 0, 1);
	v4(server.local_addr, 127, 0, 0, 1);
	CHECK(peer_link_key_of(PEER_CLIENT, &client, 0, &kc));
	CHECK(peer_link_key_of(PEER_SERVER, &server, 0, &ks));
	CHECK(!memcmp(&kc, &ks, sizeof(kc)));
	CHECK_INT(kc.loopback_port, 8080);
	server.local_port = 9090; /* another namespace's server */
	CHECK(peer_link_key_of(PEER_SERVER, &server, 0, &ks));
	CHECK(memcmp(&kc, &ks, sizeof(kc)));
}

static struct peer_link_key key(uint16_t port, uint64_t pos)
{
	struct peer_link_key k;

	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.addr[0] = 10;
	k.port = port;
	k.pos = pos;
	return k;
}

static void test_wait_take_age(void)
{
	struct peer_links *pl = peer_links_new(4, 30 * SEC);
	struct peer_links_stats s;
	struct peer_link_key k = key(1000, 0);
	uint64_t v = 42, out = 0;

	peer_links_put(pl, PEER_CLIENT, &k, SEC, &v, sizeof(v));
	/* only the other end takes it */
	CHECK(!peer_links_take(pl, PEER_SERVER, &k, &out, sizeof(out)));
	CHECK(peer_links_take(pl, PEER_CLIENT, &k, &out, sizeof(out)));
	CHECK_INT(out, 42);
	CHECK(!peer_links_take(pl, PEER_CLIENT, &k, &out, sizeof(out)));
	CHECK_INT(peer_links_count(pl), 0);

	/* full: the oldest makes room */
	for (uint64_t i = 0; i < 6; i++) {
		struct peer_link_key ki = key(2000 + i, i);

		peer_links_put(pl, PEER_SERVER, &ki, SEC + i, &i, sizeof(i));
	}
	peer_links_get_stats(pl, &s);
	CHECK_INT(s.entries, 4);
	CHECK_INT(s.evicted, 2);
	k = key(2000, 0);
	CHECK(!peer_links_take(pl, PEER_SERVER, &k, &out, sizeof(out)));
	k = key(2005, 5);
	CHECK(peer_links_take(pl, PEER_SERVER, &k, &out, sizeof(out)));
	CHECK_INT(out, 5);

	/* aged out after the TTL */
	peer_links_tick(pl, 20 * SEC);
	CHECK_INT(peer_links_count(pl), 3);
	peer_links_tick(pl, 40 * SEC);
	peer_links_get_stats(pl, &s);
	CHECK_INT(s.entries, 0);
	CHECK_INT(s.expired, 3);
	peer_links_free(pl);
	peer_links_free(NULL);
}

int main(void)
{
	RUN(test_keys);
	RUN(test_wait_take_age);
	return check_summary("peer_links");
}
