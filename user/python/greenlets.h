/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The greenlet each thread runs, from the switch events of the greenlet
 * hooks (PODTAP_EV_UNIT): a thread's socket events that follow a switch
 * in the ring are that greenlet's, since one thread's events are reserved
 * in the order it made them. Bounded (a full table forgets the oldest
 * thread), and emptied as processes exit.
 *
 * Used from one thread (the event loop).
 */
#ifndef PODTAP_GREENLETS_H
#define PODTAP_GREENLETS_H

#include <stdint.h>

struct greenlets;

struct greenlets *greenlets_new(unsigned int max_threads);
void greenlets_free(struct greenlets *g); /* accepts NULL */

/* Thread tid of pid runs greenlet `unit` from now on. */
void greenlets_switch(struct greenlets *g, uint32_t pid, uint32_t tid,
		      uint64_t unit);
/* The greenlet thread tid of pid runs; 0 when it never switched. */
uint64_t greenlets_current(const struct greenlets *g, uint32_t pid,
			   uint32_t tid);
void greenlets_process_exit(struct greenlets *g, uint32_t pid);
unsigned int greenlets_count(const struct greenlets *g);

#endif /* PODTAP_GREENLETS_H */
