/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Runs podtap: starts every part in order, runs the event loop until *stop
 * is set (by a signal handler), stops every part in reverse order. */
#ifndef PODTAP_DAEMON_H
#define PODTAP_DAEMON_H

#include <signal.h>

#include "daemon/config.h"

/* Returns the exit status: 0 after a clean stop, 1 when something could
 * not start or the event loop failed (the reason is logged). */
int daemon_run(const struct config *cfg, volatile sig_atomic_t *stop);

#endif /* PODTAP_DAEMON_H */
