/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A node's pod cgroups and pod log directory, made in a temporary directory
 * for tests of what resolves pods (test_pod_resolver.c, test_agent.c):
 * root plays the cgroup v2 mount (a directory's inode number is its cgroup
 * id), logs the kubelet's <namespace>_<pod>_<uid>/<container>/ tree.
 */
#ifndef PODTAP_TEST_POD_FIXTURE_H
#define PODTAP_TEST_POD_FIXTURE_H

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char root[256]; /* the cgroup root */
static char logs[300]; /* the pod log directory */

/* Makes root and logs afresh; false (after a failed CHECK) if it cannot. */
static bool fixture_make(void)
{
	snprintf(root, sizeof(root), "/tmp/podtap-unit-XXXXXX");
	if (!mkdtemp(root)) {
		CHECK(!"mkdtemp");
		return false;
	}
	snprintf(logs, sizeof(logs), "%s/logs", root);
	mkdir(logs, 0755);
	return true;
}

static int fixture_rm_one(const char *path, const struct stat *st, int type,
			  struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void fixture_remove(void)
{
	nftw(root, fixture_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The cgroup rel (below root), with its parents. */
static void mkdirs(const char *rel)
{
	char path[1024], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

/* Removes the cgroup rel and `levels - 1` of its parents. */
static void rmdirs(const char *rel, int levels)
{
	char path[1024], *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (int i = 0; i < levels; i++) {
		CHECK_INT(rmdir(path), 0);
		slash = strrchr(path, '/');
		*slash = '\0';
	}
}

/* The cgroup id of a fixture cgroup: its directory's inode number. */
static uint64_t cgid(const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (stat(path, &st)) {
		fprintf(stderr, "  no %s\n", path);
		return 0;
	}
	return st.st_ino;
}

/* The pod's log directory and its container's, as the kubelet makes them. */
static void log_dir(const char *ns, const char *pod, const char *uid,
		    const char *container)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s_%s_%s", logs, ns, pod, uid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s_%s_%s/%s", logs, ns, pod, uid,
		 container);
	mkdir(path, 0755);
}

#endif /* PODTAP_TEST_POD_FIXTURE_H */
