/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A pod's TCP listen figures, read through one of its processes from the
 * network namespace the pod's containers share (/proc/PID/net/...):
 * the kernel's TcpExt ListenOverflows and ListenDrops (a handshake done
 * while the accept queue was full; any drop of a connection to a
 * listener), and the connections waiting in its listeners' accept queues
 * now (the rx_queue of LISTEN sockets in /proc/PID/net/tcp and tcp6).
 */
#ifndef PODTAP_POD_NETNS_H
#define PODTAP_POD_NETNS_H

#include <stdint.h>

struct pod_netns_tcp {
	uint64_t netns;          /* the namespace's inode (/proc/PID/ns/net) */
	uint64_t listen_overflows;
	uint64_t listen_drops;
	uint64_t accept_queued;  /* connections waiting to be accepted */
};

/* Reads them through process pid; root is "/proc" (tests point it
 * elsewhere). Returns 0, or a negative errno (the process is gone: -ENOENT;
 * a file it could not parse: -EPROTO). */
int pod_netns_tcp_read(const char *root, uint32_t pid,
		       struct pod_netns_tcp *out);

#endif /* PODTAP_POD_NETNS_H */
