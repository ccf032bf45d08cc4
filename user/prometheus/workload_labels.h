/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The labels that say whose a series is, the same on every per-workload
 * family (HTTP histograms, python_*, podtap_series_dropped_total), so that
 * one PromQL join works across all of them.
 */
#ifndef PODTAP_WORKLOAD_LABELS_H
#define PODTAP_WORKLOAD_LABELS_H

#include "k8s/pod_resolver.h"
#include "prometheus/prom_writer.h"

#define WORKLOAD_NLABELS 8

/* Fills out[0..WORKLOAD_NLABELS); the strings are w's and node_name's. */
static inline void workload_labels(const struct workload *w,
				   const char *node_name,
				   struct prom_label out[WORKLOAD_NLABELS])
{
	out[0] = (struct prom_label){ "k8s_namespace_name", w->namespace };
	out[1] = (struct prom_label){ "k8s_pod_name", w->pod };
	out[2] = (struct prom_label){ "k8s_container_name", w->container };
	out[3] = (struct prom_label){ "k8s_deployment_name", w->deployment };
	out[4] = (struct prom_label){ "k8s_statefulset_name", w->statefulset };
	out[5] = (struct prom_label){ "k8s_daemonset_name", w->daemonset };
	out[6] = (struct prom_label){ "k8s_node_name", node_name };
	out[7] = (struct prom_label){ "service_name", w->service };
}

#endif /* PODTAP_WORKLOAD_LABELS_H */
