/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup id -> workload. The cgroup path of the event's process (from
 * /proc/PID/cgroup, checked against the id, or found by walking the cgroup
 * v2 tree) names the pod UID and container id (cgroup_path.h); the kubelet's
 * pod log directory <dir>/<namespace>_<pod>_<uid>/<container>/ names the
 * rest. Processes outside any pod are host workloads named by their comm.
 */
#ifndef PODTAP_POD_RESOLVER_H
#define PODTAP_POD_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup_path.h"

/* Interned: the resolver owns workloads and never moves or frees them
 * before pod_resolver_free, so pointers can be used as identities. */
struct workload {
	bool in_pod;
	char namespace[64];
	char pod[254];
	char container[254];
	char service[254]; /* container name in a pod, else the comm */
	char pod_uid[POD_UID_LEN];
	unsigned int nseries; /* route series so far; owned by metrics.c */
	uint64_t series_dropped; /* requests past the cap; owned by metrics.c */
	const void *first_overflow; /* its first overflow series; metrics.c */
};

struct pod_resolver;

/* cgroup_root: the cgroup v2 mount, or NULL to find it in mountinfo.
 * Returns NULL (with a logged reason) when no cgroup v2 mount exists or
 * memory runs out. */
struct pod_resolver *pod_resolver_new(const char *pod_log_dir,
				      const char *cgroup_root);
void pod_resolver_free(struct pod_resolver *r);

/* Never NULL: unknown cgroups resolve to the host workload for `comm`. */
const struct workload *pod_resolver_lookup(struct pod_resolver *r,
					   uint64_t cgroup_id, uint32_t pid,
					   const char *comm, uint64_t now_ns);

/* Finds the cgroup v2 mount point in /proc/self/mountinfo. */
int cgroup2_mount_point(char *out, size_t size);

#endif /* PODTAP_POD_RESOLVER_H */
