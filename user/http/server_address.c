// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "http/server_address.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/str.h"

void sock_addr_format(const struct podtap_sock_addrs *addrs,
		      const uint8_t *addr, char *out, size_t size)
{
	out[0] = '\0';
	if (addrs->family == AF_INET)
		inet_ntop(AF_INET, addr, out, size);
	else if (addrs->family == AF_INET6)
		inet_ntop(AF_INET6, addr, out, size);
}

/* A Host header, "name[:port]" or "[v6][:port]": the name into addr and
 * the port, or default_port when it names none. False when it names no
 * host (empty, or ":80"). A Host has no userinfo, but one that came with
 * some ("user:password@name") leaves it on the node. */
static bool split_host(const char *host, char *addr, size_t size,
		       unsigned int default_port, unsigned int *port)
{
	const char *at = strrchr(host, '@');
	const char *end, *colon;

	if (at)
		host = at + 1;
	end = host[0] == '[' ? strchr(host, ']') : NULL;
	colon = strrchr(end ? end : host, ':');
	if (end)
		str_copy_n(addr, size, host + 1, end - host - 1);
	else
		str_copy_n(addr, size, host,
			 colon ? (size_t)(colon - host) : strlen(host));
	if (!addr[0])
		return false;
	*port = colon ? (unsigned int)atoi(colon + 1) : default_port;
	if (*port > 65535)
		*port = 0;
	return true;
}

/*
 * The server of an exchange, as OpenTelemetry names it: the Host header's
 * name and port. A client that named none went to its peer's IP and port,
 * and one that names no port used 80.
 */
void server_address_of(const struct conn *c, const struct http_exchange *ex,
		       char *addr, size_t size, unsigned int *port)
{
	const char *host = ex->request ? ex->request->headers.host : "";
	bool client = ex->role == HTTP_ROLE_CLIENT;

	*port = 0;
	if (split_host(host, addr, size, client ? (c->tls ? 443 : 80) : 0,
		       port) || !client)
		return;
	sock_addr_format(&c->addrs, c->addrs.remote_addr, addr, size);
	*port = c->addrs.remote_port;
}
