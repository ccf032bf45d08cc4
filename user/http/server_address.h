/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who an exchange's server is, as OpenTelemetry names it (server.address,
 * server.port): the Host header's name and port; for a client that named
 * none, its peer's IP and port.
 */
#ifndef PODTAP_HTTP_SERVER_ADDRESS_H
#define PODTAP_HTTP_SERVER_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "http/conn_table.h"
#include "http/http_parser.h"

/* Formats `addr`, one of the addresses of `addrs`, as text ("" when the
 * socket is not an IP one). */
void sock_addr_format(const struct podtap_sock_addrs *addrs,
		      const uint8_t *addr, char *out, size_t size);

/* The server of exchange `ex` on connection `c`: its name into addr and its
 * port (0 when not known). A client that names no port used 80 (443 over
 * TLS). */
void server_address_of(const struct conn *c, const struct http_exchange *ex,
		       char *addr, size_t size, unsigned int *port);

#endif /* PODTAP_HTTP_SERVER_ADDRESS_H */
