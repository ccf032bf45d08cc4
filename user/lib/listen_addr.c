// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/listen_addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int listen_addr_split(const char *addr, char *host, size_t hsize, char *port,
		      size_t psize)
{
	const char *colon;

	if (addr[0] == '[') { /* [v6]:port */
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= hsize)
			return -1;
		snprintf(host, hsize, "%.*s", (int)(end - addr - 1), addr + 1);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= hsize)
			return -1;
		snprintf(host, hsize, "%.*s", (int)(colon - addr), addr);
	}
	if (!colon[1] || strlen(colon + 1) >= psize ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return -1;
	snprintf(port, psize, "%s", colon + 1);
	return 0;
}
