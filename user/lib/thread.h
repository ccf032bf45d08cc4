/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's helper threads (kubelet fetcher, OTLP exporter, link reaper)
 * start with every signal blocked: SIGTERM and SIGINT are for the main
 * thread's handlers, which end the event loop.
 */
#ifndef PODTAP_LIB_THREAD_H
#define PODTAP_LIB_THREAD_H

#include <pthread.h>

/* pthread_create with all signals blocked in the new thread, named `name`
 * (at most 15 bytes, as ps and top show it). Returns 0 or a negative
 * errno. */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
		 const char *name);

#endif /* PODTAP_LIB_THREAD_H */
