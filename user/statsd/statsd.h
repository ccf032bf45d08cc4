/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What gunicorn's --statsd-host sends, per pod, from podtap's server
 * requests: for each request
 *
 *   <prefix>gunicorn.request.duration:<ms>|ms
 *   <prefix>gunicorn.requests:1|c
 *   <prefix>gunicorn.request.status.<code>:1|c
 *
 * with the prefix a template of the pod's names ("{namespace}.{pod}"),
 * ended by a '.' as gunicorn ends its --statsd-prefix. Timers go one per
 * request, as gunicorn sends them; counters are summed between flushes
 * (statsd adds them up alike). Lines are batched into UDP datagrams of at
 * most STATSD_DATAGRAM_MAX bytes, sent when one is full and at every
 * statsd_flush. The host may be a name: it is resolved without blocking
 * (getaddrinfo_a), and again every STATSD_RESOLVE_S seconds. Nothing is
 * lost silently: every line not sent is counted by reason.
 *
 * Used from one thread (the event loop); statsd_get_stats from any.
 */
#ifndef PODTAP_STATSD_H
#define PODTAP_STATSD_H

#include <stdbool.h>
#include <stdint.h>

#include "k8s/pod_resolver.h"

/* A datagram's payload: within a 1,460-byte MTU (GKE's) after IPv4 and
 * UDP headers; statsd's own advice for such links. */
#define STATSD_DATAGRAM_MAX 1432
#define STATSD_RESOLVE_S 30
#define STATSD_PREFIX_MAX 512 /* bytes of an expanded prefix */

/* Why a line was not sent: podtap_statsd_lines_dropped_total{reason}. */
enum statsd_drop {
	STATSD_DROP_UNRESOLVED = 0, /* "unresolved": no address (yet) */
	STATSD_DROP_SEND,           /* "send_failed": the socket refused it */
	STATSD_DROP_NO_MEMORY,      /* "no_memory": a counter not kept */
	STATSD_DROP__COUNT,
};

struct statsd_stats {
	uint64_t datagrams;  /* sent */
	uint64_t lines;      /* in the datagrams sent */
	uint64_t dropped[STATSD_DROP__COUNT];
	bool resolved;       /* an address is known */
};

struct statsd;

/* NULL when template is not one statsd_prefix_check accepts. */
const char *statsd_prefix_check(const char *template);

/* host_port: HOST:PORT ([v6]:PORT). Returns NULL (reason logged) on a bad
 * address or template, or no memory. */
struct statsd *statsd_new(const char *host_port, const char *prefix_template);
void statsd_free(struct statsd *s); /* flushes first; accepts NULL */

/* One server request of w, answered `status` after `seconds`. */
void statsd_request(struct statsd *s, const struct workload *w, int status,
		    double seconds);

/* Sends what is batched (counters included); takes a finished lookup and
 * starts the next one when due. */
void statsd_flush(struct statsd *s, uint64_t now_ns);

void statsd_get_stats(struct statsd *s, struct statsd_stats *out);
const char *statsd_drop_name(enum statsd_drop d);

#endif /* PODTAP_STATSD_H */
