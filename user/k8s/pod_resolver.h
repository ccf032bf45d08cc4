/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup id -> workload. The cgroup path of the event's process (from
 * /proc/PID/cgroup, checked against the id, or found by walking the cgroup
 * v2 tree) names the pod UID and container id (cgroup_path.h); the kubelet
 * (kubelet_cache.h, when on) or else the kubelet's pod log directory
 * <dir>/<namespace>_<pod>_<uid>/<container>/ names the rest. Processes
 * outside any pod are host workloads named by their comm.
 *
 * A workload is what a series is labelled with, so two pods of one name
 * (a StatefulSet's pod deleted and made again) share one: the pod UID is
 * handed out beside it, for spans. Workloads live until
 * pod_resolver_expire frees them: a pod's once it is gone (its cgroup
 * removed, or its names replaced by better ones) and unused for the TTL,
 * a host one once unused for the TTL.
 */
#ifndef PODTAP_POD_RESOLVER_H
#define PODTAP_POD_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/cgroup_path.h"
#include "k8s/kubelet_cache.h"

/* The resolver owns workloads and never moves them, so pointers can be
 * used as identities until pod_resolver_expire hands one to its release
 * function. */
struct workload {
	bool in_pod;
	char namespace[64];
	char pod[254];
	char container[254];
	char service[254]; /* container name in a pod, else the comm */
	char deployment[254];  /* from the kubelet; "" when not known */
	char statefulset[254];
	char daemonset[254];
	/* lib/compat.h modes its pod's podtap.io/compat label turns on (from
	 * the kubelet); not part of its identity: a relabelled pod keeps its
	 * series. Read with __atomic_load_n (set from the event loop). */
	unsigned int compat;
};

struct pod_resolver;

/* cgroup_root: the cgroup v2 mount, or NULL to find it in mountinfo.
 * kubelet: NULL, or where pod names come from first. Returns NULL (with
 * a logged reason) when no cgroup v2 mount exists or memory runs out. */
struct pod_resolver *pod_resolver_new(const char *pod_log_dir,
				      const char *cgroup_root,
				      struct kubelet_cache *kubelet);
void pod_resolver_free(struct pod_resolver *r);

/* Never NULL: unknown cgroups resolve to the host workload for `comm`.
 * now_ns (CLOCK_MONOTONIC) marks the workload as used. *pod_uid (when
 * pod_uid is not NULL) is the pod's UID ("" for the host), valid until the
 * next call into the resolver. */
const struct workload *pod_resolver_lookup(struct pod_resolver *r,
					   uint64_t cgroup_id, uint32_t pid,
					   const char *comm, uint64_t now_ns,
					   const char **pod_uid);

/* A cgroup was made (the kernel's cgroup_mkdir, path from the cgroup v2
 * root): a pod's is remembered with its path and resolved now, so that its
 * traffic keeps its pod when the cgroup and its processes are gone by the
 * time their events are read. */
void pod_resolver_cgroup_made(struct pod_resolver *r, uint64_t cgroup_id,
			      const char *path, uint64_t now_ns);

/* A live process keeps w from expiring, however long it is unused, until
 * it lets go: python_info must last as long as its interpreter does. Holds
 * are counted. */
void pod_resolver_hold(struct pod_resolver *r, const struct workload *w);
void pod_resolver_unhold(struct pod_resolver *r, const struct workload *w);

/* Called for each workload pod_resolver_expire frees, before it is freed:
 * whoever keeps pointers to it drops them. */
typedef void (*workload_release_fn)(void *ctx, const struct workload *w);

/* Frees the workloads unused for ttl_ns whose pod is gone (host workloads:
 * unused for ttl_ns) and that no live process holds, handing each to
 * `release` first. Returns how many. */
unsigned int pod_resolver_expire(struct pod_resolver *r, uint64_t now_ns,
				 uint64_t ttl_ns, workload_release_fn release,
				 void *ctx);

#endif /* PODTAP_POD_RESOLVER_H */
