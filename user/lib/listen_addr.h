/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HOST:PORT as --metrics-listen takes it: checked by the flags (config.c)
 * before anything starts, and split again to bind (metrics_server.c). */
#ifndef PODTAP_LISTEN_ADDR_H
#define PODTAP_LISTEN_ADDR_H

#include <stddef.h>

/* Buffers for the parts, NUL included. */
#define LISTEN_ADDR_HOST_MAX 256
#define LISTEN_ADDR_PORT_MAX 16

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port. Returns -1 when
 * addr is neither, the port is not a number in 1..65535, or a part does
 * not fit its buffer. */
int listen_addr_split(const char *addr, char *host, size_t hsize, char *port,
		      size_t psize);

#endif /* PODTAP_LISTEN_ADDR_H */
