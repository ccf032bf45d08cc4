/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Serves /metrics, /healthz and /readyz with libmicrohttpd on its own
 * thread. The listening socket is bound first, on the caller's thread, so
 * that "address in use" is reported before anything is loaded. */
#ifndef PODTAP_METRICS_SERVER_H
#define PODTAP_METRICS_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "prometheus/prom_writer.h"

struct metrics_server;

typedef void (*render_fn)(void *ctx, struct prom_writer *out);

struct metrics_server_opts {
	render_fn render;
	void *ctx;
	const atomic_bool *ready;          /* /readyz: programs attached */
	const _Atomic uint64_t *heartbeat_s; /* /healthz: event loop alive */
};

/* Binds HOST:PORT ("0.0.0.0:9464", "[::]:9464", "localhost:9464"). Returns
 * the listening fd or -1 after logging why. */
int metrics_server_bind(const char *listen_addr);

/* Takes ownership of fd. Returns NULL after logging why. */
struct metrics_server *metrics_server_start(int fd,
					    const struct metrics_server_opts *o);
void metrics_server_stop(struct metrics_server *s); /* accepts NULL */

#endif /* PODTAP_METRICS_SERVER_H */
