// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "pod_resolver.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hashmap.h"
#include "log.h"

/* A pod whose log directory is not there yet is looked up again after this
 * long (kubelets create it before starting containers, so this is short
 * lived); a host process is never re-resolved (its cgroup id would change). */
#define RETRY_NS (1ULL * 1000000000ULL)
/* Bounds on what the resolver keeps; past them the caches are cleared. */
#define MAX_CGROUPS 8192
#define MAX_WORKLOADS 4096

struct cgroup_entry {
	struct hnode node;
	uint64_t cgroup_id;
	const struct workload *pod; /* NULL: host */
	uint64_t retry_at_ns;       /* 0: final */
};

struct workload_entry {
	struct hnode node;
	struct workload w;
};

struct pod_resolver {
	char pod_log_dir[512];
	char cgroup_root[512];
	struct hmap cgroups;   /* cgroup id -> cgroup_entry */
	struct hmap workloads; /* identity -> workload_entry */
	struct workload overflow; /* used when MAX_WORKLOADS is reached */
};

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

struct pod_resolver *pod_resolver_new(const char *pod_log_dir,
				      const char *cgroup_root)
{
	struct pod_resolver *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return NULL;
	snprintf(r->pod_log_dir, sizeof(r->pod_log_dir), "%s", pod_log_dir);
	if (cgroup_root) {
		snprintf(r->cgroup_root, sizeof(r->cgroup_root), "%s",
			 cgroup_root);
	} else if ((err = cgroup2_mount_point(r->cgroup_root,
					      sizeof(r->cgroup_root)))) {
		log_error("no cgroup v2 mount found in /proc/self/mountinfo "
			  "(%s); podtap needs cgroup v2 (unified or hybrid) to "
			  "tell pods apart", strerror(-err));
		free(r);
		return NULL;
	}
	if (hmap_init(&r->cgroups) || hmap_init(&r->workloads)) {
		pod_resolver_free(r);
		return NULL;
	}
	snprintf(r->overflow.service, sizeof(r->overflow.service), "other");
	log_info("cgroup v2 at %s, pod names from %s", r->cgroup_root,
		 r->pod_log_dir);
	return r;
}

static void clear_cgroups(struct pod_resolver *r)
{
	size_t b;
	struct hnode *n, *next;

	for (n = hmap_first(&r->cgroups, &b); n; n = next) {
		next = hmap_next(&r->cgroups, n, &b);
		hmap_remove(&r->cgroups, n);
		free(hmap_entry(n, struct cgroup_entry, node));
	}
}

void pod_resolver_free(struct pod_resolver *r)
{
	size_t b;
	struct hnode *n, *next;

	if (!r)
		return;
	if (r->cgroups.buckets)
		clear_cgroups(r);
	if (r->workloads.buckets) {
		for (n = hmap_first(&r->workloads, &b); n; n = next) {
			next = hmap_next(&r->workloads, n, &b);
			free(hmap_entry(n, struct workload_entry, node));
		}
	}
	hmap_free(&r->cgroups);
	hmap_free(&r->workloads);
	free(r);
}

/* --- interning ---------------------------------------------------------- */

static uint64_t workload_hash(const struct workload *w)
{
	uint64_t h = hash_bytes(w->namespace, strlen(w->namespace), w->in_pod);

	h = hash_bytes(w->pod, strlen(w->pod), h);
	h = hash_bytes(w->container, strlen(w->container), h);
	h = hash_bytes(w->pod_uid, strlen(w->pod_uid), h);
	return hash_bytes(w->service, strlen(w->service), h);
}

static bool workload_eq(const struct hnode *n, const void *key)
{
	const struct workload *a = &hmap_entry(n, struct workload_entry, node)->w;
	const struct workload *b = key;

	return a->in_pod == b->in_pod && !strcmp(a->namespace, b->namespace) &&
	       !strcmp(a->pod, b->pod) && !strcmp(a->container, b->container) &&
	       !strcmp(a->pod_uid, b->pod_uid) &&
	       !strcmp(a->service, b->service);
}

static const struct workload *intern(struct pod_resolver *r,
				     const struct workload *w)
{
	uint64_t h = workload_hash(w);
	struct hnode *n = hmap_find(&r->workloads, h, w, workload_eq);
	struct workload_entry *e;

	if (n)
		return &hmap_entry(n, struct workload_entry, node)->w;
	if (r->workloads.count >= MAX_WORKLOADS)
		return &r->overflow;
	e = calloc(1, sizeof(*e));
	if (!e)
		return &r->overflow;
	e->w = *w;
	e->w.nseries = 0;
	e->w.series_dropped = 0;
	e->w.first_overflow = NULL;
	hmap_insert(&r->workloads, &e->node, h);
	return &e->w;
}

/* --- cgroup id -> path -------------------------------------------------- */

static int proc_cgroup_path(uint32_t pid, char *out, size_t size)
{
	char file[64], line[4096];
	FILE *f;
	int err = -ENOENT;

	snprintf(file, sizeof(file), "/proc/%u/cgroup", pid);
	f = fopen(file, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* The cgroup v2 line is "0::/path". */
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

static bool path_has_id(const char *root, const char *path, uint64_t id)
{
	char full[4608];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return stat(full, &st) == 0 && (uint64_t)st.st_ino == id;
}

/* nftw has no context argument: the walk is single-threaded, so a file
 * static carries the search. */
static struct {
	uint64_t id;
	size_t root_len;
	char *out;
	size_t size;
	bool found;
} walk;

static int walk_visit(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D || (uint64_t)st->st_ino != walk.id)
		return 0;
	snprintf(walk.out, walk.size, "%s", path[walk.root_len] ? path + walk.root_len : "/");
	walk.found = true;
	return 1;
}

static int cgroup_path_of(struct pod_resolver *r, uint64_t id, uint32_t pid,
			  char *out, size_t size)
{
	if (proc_cgroup_path(pid, out, size) == 0 &&
	    path_has_id(r->cgroup_root, out, id))
		return 0;
	/* The process is gone or moved: search the tree by inode number (the
	 * cgroup v2 id is its directory's inode number). */
	walk.id = id;
	walk.root_len = strlen(r->cgroup_root);
	walk.out = out;
	walk.size = size;
	walk.found = false;
	nftw(r->cgroup_root, walk_visit, 16, FTW_PHYS | FTW_MOUNT);
	return walk.found ? 0 : -ENOENT;
}

/* --- pod UID -> names --------------------------------------------------- */

/* Container name from <log dir>/../containers/<pod>_<ns>_<name>-<id>.log,
 * for pods with several containers. */
static bool container_from_symlinks(const struct pod_resolver *r,
				    const char *container_id, char *out,
				    size_t size)
{
	char dir[600], suffix[160];
	struct dirent *de;
	DIR *d;
	bool found = false;

	snprintf(dir, sizeof(dir), "%s/../containers", r->pod_log_dir);
	snprintf(suffix, sizeof(suffix), "-%s.log", container_id);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		size_t len = strlen(de->d_name), slen = strlen(suffix);
		char *name, *end;

		if (len <= slen || strcmp(de->d_name + len - slen, suffix))
			continue;
		de->d_name[len - slen] = '\0';
		name = strchr(de->d_name, '_');
		name = name ? strchr(name + 1, '_') : NULL;
		if (!name)
			continue;
		end = de->d_name + len - slen;
		if ((size_t)(end - name - 1) < size) {
			snprintf(out, size, "%s", name + 1);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void container_name(const struct pod_resolver *r, const char *pod_dir,
			   const char *container_id, char *out, size_t size)
{
	struct dirent *de;
	DIR *d = opendir(pod_dir);
	int n = 0;

	out[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		if (n++ == 0)
			snprintf(out, size, "%s", de->d_name);
	}
	closedir(d);
	if (n > 1 && !(container_id[0] &&
		       container_from_symlinks(r, container_id, out, size)))
		out[0] = '\0'; /* several containers and no way to tell */
}

/* Fills namespace/pod/container from <log dir>/<ns>_<pod>_<uid>/. */
static bool names_from_log_dir(const struct pod_resolver *r,
			       const struct cgroup_pod_ref *ref,
			       struct workload *w)
{
	char suffix[POD_UID_LEN + 1], pod_dir[1024];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(r->pod_log_dir);

	if (!d)
		return false;
	snprintf(suffix, sizeof(suffix), "_%s", ref->pod_uid);
	while (!found && (de = readdir(d))) {
		size_t len = strlen(de->d_name), slen = strlen(suffix);
		char *sep;

		if (len <= slen || strcmp(de->d_name + len - slen, suffix))
			continue;
		de->d_name[len - slen] = '\0';
		/* Namespaces and pod names are DNS labels: no '_' inside. */
		sep = strchr(de->d_name, '_');
		if (!sep)
			continue;
		*sep = '\0';
		snprintf(w->namespace, sizeof(w->namespace), "%s", de->d_name);
		snprintf(w->pod, sizeof(w->pod), "%s", sep + 1);
		*sep = '_';
		de->d_name[len - slen] = '_';
		snprintf(pod_dir, sizeof(pod_dir), "%s/%s", r->pod_log_dir,
			 de->d_name);
		found = true;
	}
	closedir(d);
	if (found)
		container_name(r, pod_dir, ref->container_id, w->container,
			       sizeof(w->container));
	return found;
}

/* --- lookup ------------------------------------------------------------- */

static bool cgroup_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct cgroup_entry, node)->cgroup_id ==
	       *(const uint64_t *)key;
}

static const struct workload *host_workload(struct pod_resolver *r,
					    const char *comm)
{
	struct workload w = { 0 };

	snprintf(w.service, sizeof(w.service), "%s", comm[0] ? comm : "unknown");
	return intern(r, &w);
}

/* Resolves a cgroup: a pod workload, NULL for the host, with *final false
 * when a pod's names are not known yet. */
static const struct workload *resolve(struct pod_resolver *r, uint64_t id,
				      uint32_t pid, const char *comm,
				      bool *final)
{
	char path[4096];
	struct cgroup_pod_ref ref;
	struct workload w = { .in_pod = true };

	*final = true;
	if (cgroup_path_of(r, id, pid, path, sizeof(path)) ||
	    !cgroup_path_parse(path, &ref))
		return NULL;
	snprintf(w.pod_uid, sizeof(w.pod_uid), "%s", ref.pod_uid);
	if (!names_from_log_dir(r, &ref, &w)) {
		/* Counted as host traffic (named by its process) until its
		 * names are known: a pod without names would export the very
		 * label set of host traffic as a second series. */
		log_debug("pod %s (cgroup %s) has no log directory under %s yet",
			  ref.pod_uid, path, r->pod_log_dir);
		*final = false;
		return NULL;
	}
	snprintf(w.service, sizeof(w.service), "%s",
		 w.container[0] ? w.container : comm);
	return intern(r, &w);
}

const struct workload *pod_resolver_lookup(struct pod_resolver *r,
					   uint64_t cgroup_id, uint32_t pid,
					   const char *comm, uint64_t now_ns)
{
	uint64_t h = hash_u64(cgroup_id);
	struct hnode *n = hmap_find(&r->cgroups, h, &cgroup_id, cgroup_eq);
	struct cgroup_entry *e;
	bool final;

	if (n) {
		e = hmap_entry(n, struct cgroup_entry, node);
		if (!e->retry_at_ns || now_ns < e->retry_at_ns)
			return e->pod ? e->pod : host_workload(r, comm);
		hmap_remove(&r->cgroups, n);
		free(e);
	}
	if (r->cgroups.count >= MAX_CGROUPS)
		clear_cgroups(r);
	e = calloc(1, sizeof(*e));
	if (!e)
		return host_workload(r, comm);
	e->cgroup_id = cgroup_id;
	e->pod = resolve(r, cgroup_id, pid, comm, &final);
	e->retry_at_ns = final ? 0 : now_ns + RETRY_NS;
	hmap_insert(&r->cgroups, &e->node, h);
	return e->pod ? e->pod : host_workload(r, comm);
}
