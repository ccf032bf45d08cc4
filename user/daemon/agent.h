/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event path: kernel event -> connection -> HTTP parser -> exchange ->
 * pod -> route -> metrics. Owns the modules it ties together; runs on the
 * event-loop thread, except agent_render (metrics thread).
 */
#ifndef PODTAP_AGENT_H
#define PODTAP_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "capture/trace_inject.h"
#include "daemon/config.h"
#include "daemon/stats.h"
#include "http/conn_table.h"
#include "http/route.h"
#include "k8s/kubelet.h"
#include "k8s/pod_resolver.h"
#include "otel/tracer.h"
#include "prometheus/metrics.h"
#include "prometheus/prom_writer.h"
#include "prometheus/server_load.h"
#include "python/greenlets.h"
#include "python/python_hooks.h"
#include "python/python_metrics.h"
#include "statsd/statsd.h"

struct agent {
	struct capture *capture; /* set once attached; may be NULL before */
	struct conn_table *conns;
	struct kubelet *kubelet; /* NULL: pod names from the log directory */
	struct pod_resolver *pods;
	struct route_table *routes;
	struct metrics *metrics;
	struct tracer *tracer;   /* NULL: traces off */
	struct python_hooks *python; /* set once attached; NULL: off */
	struct trace_inject *inject; /* set once attached; NULL: off */
	struct python_metrics *python_metrics;
	struct server_load *load; /* queueing and saturation */
	struct greenlets *greenlets; /* which greenlet each thread runs */
	struct otlp_exporter *exporter; /* for its stats; NULL: off */
	struct otlp_metrics_exporter *metric_push; /* the same */
	struct statsd *statsd;   /* NULL: no --statsd-host */
	uint64_t mono_to_unix_ns; /* event clock -> wall clock, for spans */
	uint64_t series_ttl_ns;
	unsigned int compat_modes; /* lib/compat.h, on for every pod */
	uint64_t next_expiry_ns;  /* when agent_tick next looks for it */
	struct stats stats;
	bool ending_process; /* connections end because their process did */
};

/* Returns 0, or -1 after logging why (bad --route pattern, no cgroup v2,
 * the kubelet source not starting, out of memory). */
int agent_init(struct agent *a, const struct config *cfg);
void agent_fini(struct agent *a);

/* capture_event_fn */
void agent_handle_event(void *ctx, const struct podtap_event *ev, size_t size);

/* python_process_fn: python_info per workload. */
void agent_python_process(void *ctx, const struct python_process *p,
			  bool alive);

/* Periodic upkeep: ends connections of processes that vanished unseen;
 * expires the series of pods that are gone. */
void agent_tick(struct agent *a, uint64_t now_ns);

/* render_fn: the whole /metrics page. */
void agent_render(void *ctx, struct prom_writer *out);

#endif /* PODTAP_AGENT_H */
