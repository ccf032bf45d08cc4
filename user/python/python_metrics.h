/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What each workload's Python interpreters do, as prometheus_client names
 * it for a process: python_info{implementation,version} (1 while a process
 * of that version runs), python_gc_collections_total{generation} and a
 * python_gc_duration_seconds{generation} histogram. Thread-safe: the event
 * loop records, the HTTP thread renders.
 */
#ifndef PODTAP_PYTHON_METRICS_H
#define PODTAP_PYTHON_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "k8s/pod_resolver.h"
#include "prometheus/prom_writer.h"
#include "python/runtime_info.h"

struct python_metrics;

/* node_name: the k8s_node_name label of every series ("" or NULL: none). */
struct python_metrics *python_metrics_new(const char *node_name);
void python_metrics_free(struct python_metrics *pm); /* accepts NULL */

/* A process of this workload and interpreter started; it ends against the
 * series it started on even if its cgroup has been given new names since.
 * Returns true when it is counted now (not when told twice, or out of
 * memory): the caller then holds w (pod_resolver_hold) until
 * python_metrics_process_end returns it, so that an interpreter that
 * serves no traffic keeps its python_info. */
bool python_metrics_process_start(struct python_metrics *pm, uint32_t pid,
				  const struct workload *w,
				  const struct runtime_info *info);
/* Returns the workload the process was counted under, or NULL when it was
 * not counted. */
const struct workload *python_metrics_process_end(struct python_metrics *pm,
						  uint32_t pid);

/* One collection of `generation` (0..2) that took `seconds`. */
void python_metrics_gc(struct python_metrics *pm, const struct workload *w,
		       unsigned int generation, double seconds);

/* Drops w's series; called before the resolver frees w. */
void python_metrics_forget_workload(struct python_metrics *pm,
				    const struct workload *w);

void python_metrics_render(struct python_metrics *pm, struct prom_writer *out);

#endif /* PODTAP_PYTHON_METRICS_H */
