/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Time in nanoseconds. Events carry CLOCK_MONOTONIC (the kernel's
 * bpf_ktime_get_ns), so every deadline and age in the daemon counts on
 * that clock; only spans, metric start times and the start time are
 * wall-clock.
 */
#ifndef PODTAP_LIB_CLOCK_H
#define PODTAP_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

static inline uint64_t timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

/* Milliseconds from now_ns to when_ns, rounded up (a wait that ends
 * early only wakes to wait again); 0 once it has passed. */
static inline uint64_t ms_until(uint64_t when_ns, uint64_t now_ns)
{
	return when_ns > now_ns ?
		       (when_ns - now_ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC :
		       0;
}

/* CLOCK_REALTIME: the wall clock of spans and metric start times. */
static inline uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return timespec_ns(&ts);
}

/* CLOCK_MONOTONIC, the events' clock. */
static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return timespec_ns(&ts);
}

/* What to add to a CLOCK_MONOTONIC time to get Unix time: re-read now and
 * then, so that steps of the wall clock are followed. */
static inline uint64_t monotonic_to_unix_ns(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return timespec_ns(&real) - timespec_ns(&mono);
}

#endif /* PODTAP_LIB_CLOCK_H */
