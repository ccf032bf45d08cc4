/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parses a cgroup path into the Kubernetes pod UID and container id it
 * names, for the shapes kubelets create:
 *   systemd driver: /kubepods.slice/kubepods-burstable.slice/
 *                   kubepods-burstable-pod<uid_with_underscores>.slice/
 *                   cri-containerd-<id>.scope | crio-<id>.scope |
 *                   docker-<id>.scope
 *                   (guaranteed pods: /kubepods.slice/kubepods-pod<uid>.slice/)
 *   cgroupfs driver: /kubepods/burstable/pod<uid>/<id>
 *                   (guaranteed: /kubepods/pod<uid>/<id>)
 * with any prefix before the kubepods part (nested cgroup namespaces,
 * "/system.slice/containerd.service/..." is not a pod). Pure string work.
 */
#ifndef PODTAP_CGROUP_PATH_H
#define PODTAP_CGROUP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define POD_UID_LEN 37       /* 36 chars + NUL, canonical dashed form */
#define CONTAINER_ID_MAX 129 /* 64 hex chars usually; + NUL */

struct cgroup_pod_ref {
	char pod_uid[POD_UID_LEN];          /* dashed, lower case */
	char container_id[CONTAINER_ID_MAX];/* "" when the path is the pod's
					     * own cgroup (no container) */
	char runtime[16];                   /* "containerd", "cri-o",
					     * "docker" or "" if unknown */
	size_t pod_path_len;                /* path[0, pod_path_len) is the
					     * pod's own cgroup */
};

/* Returns true and fills *ref when `path` is inside a pod's cgroup. */
bool cgroup_path_parse(const char *path, struct cgroup_pod_ref *ref);

/* base + rel as one absolute path with "." and ".." resolved: the path in
 * the whole tree of a /proc/PID/cgroup path read inside a cgroup
 * namespace rooted at base ("/../../kubepods.slice/..." when the reader's
 * namespace is two levels below their common ancestor). base "" or "/":
 * the tree's root. Returns false when it does not fit in size, or climbs
 * above the root. */
bool cgroup_path_join(const char *base, const char *rel, char *out,
		      size_t size);

#endif /* PODTAP_CGROUP_PATH_H */
