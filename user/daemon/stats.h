/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* podtap's own health counters: written by the event loop, read by the
 * metrics thread (hence atomics), exported as podtap_* metrics. */
#ifndef PODTAP_STATS_H
#define PODTAP_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "http/http_parser.h"
#include "k8s/kubelet.h"
#include "otel/otlp_exporter.h"
#include "otel/otlp_metrics_exporter.h"
#include "otel/tracer.h"
#include "prometheus/server_load.h"
#include "prometheus/prom_writer.h"
#include "python/python_hooks.h"
#include "statsd/statsd.h"

#define STATS_EVENT_KINDS PODTAP_EV__COUNT /* index = enum podtap_event_kind */

/* Why an exchange podtap saw begin never completed: label values of
 * podtap_http_exchanges_incomplete_total{reason}. */
enum stats_incomplete {
	INCOMPLETE_CLOSED = 0, /* "closed": closed (or its process exited)
				* before the response ended */
	INCOMPLETE_CLOSE_LOST, /* "close_lost": its socket came back as a new
				* connection, the close unseen */
	INCOMPLETE_EXIT_LOST,  /* "exit_lost": its process was found gone,
				* the exit unseen */
	INCOMPLETE_SHUTDOWN,   /* "shutdown": in flight when podtap stopped */
	INCOMPLETE_MISORDERED, /* "misordered": its end was stamped before
				* its start */
	INCOMPLETE__COUNT,
};

#define STATS_SIDES 2 /* 0: server, 1: client */

struct stats {
	_Atomic uint64_t events[STATS_EVENT_KINDS];
	_Atomic uint64_t event_bytes;
	_Atomic uint64_t parse_errors[HTTP_ERR__COUNT];
	_Atomic uint64_t conns_http;      /* connections that spoke HTTP */
	_Atomic uint64_t conns_other;     /* connections ignored: not HTTP */
	_Atomic uint64_t conns_untracked; /* table full */
	_Atomic uint64_t conns_tracked;   /* gauge */
	_Atomic uint64_t exchanges_server;
	_Atomic uint64_t exchanges_client;
	_Atomic uint64_t incomplete[STATS_SIDES][INCOMPLETE__COUNT];
	_Atomic uint64_t unmeasured[STATS_SIDES][HTTP_UNMEASURED__COUNT];
	_Atomic uint64_t series_expired_pod;  /* series of gone pods */
	_Atomic uint64_t series_expired_host; /* of host processes */
	_Atomic uint64_t start_time_s;
};

/* Values gathered at scrape time from the other modules. */
struct stats_snapshot {
	uint64_t kernel_drops[PODTAP_DROP__COUNT];
	uint64_t series;
	bool traces;                      /* an exporter runs */
	struct otlp_exporter_stats spans; /* when traces */
	struct tracer_stats tracer; /* when traces */
	bool metric_push;                 /* the OTLP metrics push runs */
	struct otlp_metrics_exporter_stats metric_push_stats;
	bool inject;                      /* --inject-trace-context runs */
	uint64_t injects[PODTAP_INJECT__COUNT]; /* when inject */
	bool python;                      /* Python hooks run */
	const struct python_hooks_stats *hooks; /* when python */
	bool kubelet;                     /* the kubelet source is on */
	struct kubelet_stats pods;        /* when kubelet */
	struct server_load_stats load;
	bool statsd;                      /* --statsd-host is set */
	struct statsd_stats statsd_stats; /* when statsd */
};

/*
 * The event loop is the only writer of struct stats, so a counter needs no
 * locked read-modify-write: a relaxed load and store (plain moves on
 * x86-64) cannot lose an update, and the metrics thread still reads whole
 * values. At nginx's rate the locked forms were three serialising
 * instructions per event.
 */
static inline void stats_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void stats_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

void stats_render(const struct stats *s, const struct stats_snapshot *snap,
		  struct prom_writer *out);

#endif /* PODTAP_STATS_H */
