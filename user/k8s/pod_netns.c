// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/pod_netns.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TCP_LISTEN_STATE 0x0A /* st of a LISTEN socket in /proc/net/tcp */

/* /proc/net/netstat: a "TcpExt:" line of names, then one of values. */
static int read_netstat(const char *path, struct pod_netns_tcp *out)
{
	char names[8192], values[8192];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(names, sizeof(names), f)) {
		char *n, *v, *ns, *vs;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		if (!fgets(values, sizeof(values), f) ||
		    strncmp(values, "TcpExt:", 7))
			break;
		n = strtok_r(names + 7, " \n", &ns);
		v = strtok_r(values + 7, " \n", &vs);
		for (; n && v; n = strtok_r(NULL, " \n", &ns),
			       v = strtok_r(NULL, " \n", &vs)) {
			if (!strcmp(n, "ListenOverflows"))
				out->listen_overflows = strtoull(v, NULL, 10);
			else if (!strcmp(n, "ListenDrops"))
				out->listen_drops = strtoull(v, NULL, 10);
		}
		found = true;
		break;
	}
	fclose(f);
	return found ? 0 : -EPROTO;
}

/* Adds the rx_queue of every LISTEN socket in a /proc/net/tcp{,6} file:
 * for a listener the kernel shows its accept queue's length there. */
static int add_accept_queued(const char *path, uint64_t *queued)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6: no tcp6 */
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return -EPROTO;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int st;
		unsigned long tx, rx;

		/* sl local rem st tx_queue:rx_queue ... */
		if (sscanf(line, " %*s %*s %*s %x %lx:%lx", &st, &tx, &rx) == 3 &&
		    st == TCP_LISTEN_STATE)
			*queued += rx;
	}
	fclose(f);
	return 0;
}

int pod_netns_tcp_read(const char *root, uint32_t pid,
		       struct pod_netns_tcp *out)
{
	char path[512];
	struct stat st;
	int err;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%u/ns/net", root, pid);
	if (stat(path, &st))
		return -errno;
	out->netns = st.st_ino;
	snprintf(path, sizeof(path), "%s/%u/net/netstat", root, pid);
	err = read_netstat(path, out);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%u/net/tcp", root, pid);
	err = add_accept_queued(path, &out->accept_queued);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%u/net/tcp6", root, pid);
	return add_accept_queued(path, &out->accept_queued);
}
