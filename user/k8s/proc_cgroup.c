// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/proc_cgroup.h"

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/cgroup_path.h"
#include "lib/log.h"

int cgroup2_mount_point(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype src opts */
		char mnt[1024], fstype[64];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash, " - %63s", fstype) != 1 ||
		    strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
			continue;
		if (strlen(mnt) < size) {
			strcpy(out, mnt);
			err = 0;
		}
		break;
	}
	fclose(f);
	return err;
}

/* The cgroup v2 line of /proc/PID/cgroup ("0::/path"), as the reader's
 * cgroup namespace shows it. */
static int read_proc_cgroup(const char *pid, char *out, size_t size)
{
	char file[64], line[4096];
	FILE *f;
	int err = -ENOENT;

	snprintf(file, sizeof(file), "/proc/%s/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) < size) {
			strcpy(out, line + 3);
			err = 0;
		}
		break;
	}
	fclose(f);
	return err;
}

/* nftw has no context argument: walks are single-threaded (the event
 * loop's), so file statics carry the search. */
static struct {
	pid_t pid;
	size_t root_len;
	char *out;
	size_t size;
	bool found;
} procs_walk;

static int procs_walk_visit(const char *path, const struct stat *st,
			    int type, struct FTW *ftw)
{
	char file[4200], line[32];
	bool found = false;
	FILE *f;

	(void)st;
	(void)ftw;
	if (type != FTW_D)
		return 0;
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	f = fopen(file, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = atoi(line) == procs_walk.pid;
	fclose(f);
	if (!found)
		return 0;
	snprintf(procs_walk.out, procs_walk.size, "%s",
		 path[procs_walk.root_len] ? path + procs_walk.root_len : "/");
	procs_walk.found = true;
	return 1;
}

/*
 * Where podtap's own cgroup namespace is rooted in the tree at root. In a
 * pod's container it has a namespace of its own, so /proc/PID/cgroup
 * paths are relative to it ("/../../kubepods-besteffort.slice/..."); the
 * tree (the node's /sys/fs/cgroup) is whole. Found once, the first time a
 * relative path is read: podtap's cgroup is the directory whose
 * cgroup.procs holds its pid, and its own /proc/self/cgroup path is that
 * directory's path below the namespace root.
 */
static const char *namespace_base(const char *root)
{
	static char base[4096];
	static int state; /* 0: not looked for, 1: found, -1: not found */
	char self[4096], abs[4096];
	size_t al, sl;

	if (state)
		return state > 0 ? base : NULL;
	state = -1;
	if (read_proc_cgroup("self", self, sizeof(self)))
		return NULL;
	procs_walk.pid = getpid();
	procs_walk.root_len = strlen(root);
	procs_walk.out = abs;
	procs_walk.size = sizeof(abs);
	procs_walk.found = false;
	nftw(root, procs_walk_visit, 16, FTW_PHYS | FTW_MOUNT);
	if (!procs_walk.found) {
		log_warn("podtap's own cgroup is not in the tree at %s: pod "
			 "cgroups are found by searching the tree", root);
		return NULL;
	}
	/* abs = base + self (self "/" when podtap is at the namespace root) */
	al = strlen(abs);
	sl = strcmp(self, "/") ? strlen(self) : 0;
	if (sl > al || (sl && strcmp(abs + al - sl, self)))
		return NULL;
	snprintf(base, sizeof(base), "%.*s", (int)(al - sl), abs);
	state = 1;
	log_info("podtap runs in a cgroup namespace rooted at %s",
		 base[0] ? base : "/");
	return base;
}

int cgroup_path_of_pid(const char *root, uint32_t pid, char *out,
		       size_t size)
{
	char pidstr[16], rel[4096];
	const char *base = "";
	int err;

	snprintf(pidstr, sizeof(pidstr), "%u", pid);
	err = read_proc_cgroup(pidstr, rel, sizeof(rel));
	if (err)
		return err;
	if (!strncmp(rel, "/..", 3) && !(base = namespace_base(root)))
		return -ENOENT;
	return cgroup_path_join(base, rel, out, size) ? 0 : -ENAMETOOLONG;
}
