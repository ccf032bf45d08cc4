/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the cgroup v2 tree is mounted, and which cgroup in it a process is
 * in (from /proc/PID/cgroup), also when podtap runs in a cgroup namespace
 * of its own.
 */
#ifndef PODTAP_K8S_PROC_CGROUP_H
#define PODTAP_K8S_PROC_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* The cgroup of process pid as a path in the cgroup v2 tree mounted at
 * root, also when podtap runs in a cgroup namespace of its own (a pod's
 * container), where /proc/PID/cgroup shows paths relative to it. */
int cgroup_path_of_pid(const char *root, uint32_t pid, char *out,
		       size_t size);

/* Finds the cgroup v2 mount point in /proc/self/mountinfo. */
int cgroup2_mount_point(char *out, size_t size);

#endif /* PODTAP_K8S_PROC_CGROUP_H */
