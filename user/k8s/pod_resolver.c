// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/pod_resolver.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/proc_cgroup.h"
#include "lib/clock.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/sanitize.h"

/* A pod whose names are not known yet is looked up again after this long
 * (kubelets create the log directory before starting containers, so this
 * is short lived); a host process is never re-resolved (its cgroup id
 * would change). */
#define RETRY_NS NSEC_PER_SEC
/* Bounds on what the resolver keeps; past them the cgroup cache is
 * cleared, and new workloads share one "other" workload. */
#define MAX_CGROUPS 8192
#define MAX_WORKLOADS 4096
/* Host workloads (by comm) remembered per cgroup. */
#define HOST_COMMS 4

struct workload_entry {
	struct hnode node;
	struct workload w;
	uint64_t last_used_ns;
	char *pod_cgroup; /* its latest pod's cgroup, under the root; host:
			   * NULL */
	unsigned int holds; /* pod_resolver_hold */
	bool superseded;  /* a cgroup of it now resolves to other names */
	bool expiring;    /* being freed by pod_resolver_expire */
};

struct cgroup_entry {
	struct hnode node;
	uint64_t cgroup_id;
	struct workload_entry *pod; /* NULL: host */
	char pod_uid[POD_UID_LEN];  /* "" unless the path names a pod */
	uint64_t retry_at_ns;       /* 0: no retry after a time */
	bool await_kubelet;         /* resolve again on a new kubelet list */
	uint64_t kubelet_gen;       /* the list it was resolved with */
	char *path;                 /* from its mkdir, else NULL: found from
				     * its processes or the tree */
	bool ahead;                 /* resolved at mkdir, not yet looked up */
	/* A host cgroup's workload is named by the process's comm: those
	 * of the last few comms looked up, so that each exchange does not
	 * build and sanitise a workload's names again, also when several
	 * programs share the cgroup (a client and a server, both on the
	 * host). w NULL: a free slot. */
	struct {
		struct workload_entry *w;
		char comm[16]; /* the kernel's TASK_COMM_LEN */
	} host[HOST_COMMS];
	unsigned int next_host; /* the slot a new comm takes */
};

static void cgroup_entry_free(struct cgroup_entry *e)
{
	free(e->path);
	free(e);
}

struct pod_resolver {
	char pod_log_dir[512];
	char cgroup_root[512];
	struct kubelet_cache *kubelet; /* NULL: log directory only */
	struct hmap cgroups;   /* cgroup id -> cgroup_entry */
	struct hmap workloads; /* identity -> workload_entry */
	struct workload_entry overflow; /* past MAX_WORKLOADS; never freed */
};

struct pod_resolver *pod_resolver_new(const char *pod_log_dir,
				      const char *cgroup_root,
				      struct kubelet_cache *kubelet)
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
	r->kubelet = kubelet;
	snprintf(r->overflow.w.service, sizeof(r->overflow.w.service), "other");
	log_info("cgroup v2 at %s, pod names from %s%s", r->cgroup_root,
		 kubelet ? "the kubelet, else " : "", r->pod_log_dir);
	return r;
}

static void clear_cgroups(struct pod_resolver *r)
{
	hmap_for_each(it, &r->cgroups) {
		hmap_remove(&r->cgroups, it.node);
		cgroup_entry_free(hmap_entry(it.node, struct cgroup_entry, node));
	}
}

static void workload_entry_free(struct workload_entry *we)
{
	free(we->pod_cgroup);
	free(we);
}

void pod_resolver_free(struct pod_resolver *r)
{
	if (!r)
		return;
	if (r->cgroups.buckets)
		clear_cgroups(r);
	if (r->workloads.buckets) {
		hmap_for_each(it, &r->workloads) {
			workload_entry_free(
				hmap_entry(it.node, struct workload_entry, node));
		}
	}
	hmap_free(&r->cgroups);
	hmap_free(&r->workloads);
	free(r);
}

/* --- interning ---------------------------------------------------------- */

static uint64_t workload_hash(const struct workload *w)
{
	const char *const fields[] = { w->namespace, w->pod, w->container,
				       w->service, w->deployment,
				       w->statefulset, w->daemonset };
	uint64_t h = w->in_pod;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		h = hash_bytes(fields[i], strlen(fields[i]), h);
	return h;
}

static bool workload_eq(const struct hnode *n, const void *key)
{
	const struct workload *a = &hmap_entry(n, struct workload_entry, node)->w;
	const struct workload *b = key;

	return a->in_pod == b->in_pod && !strcmp(a->namespace, b->namespace) &&
	       !strcmp(a->pod, b->pod) && !strcmp(a->container, b->container) &&
	       !strcmp(a->service, b->service) &&
	       !strcmp(a->deployment, b->deployment) &&
	       !strcmp(a->statefulset, b->statefulset) &&
	       !strcmp(a->daemonset, b->daemonset);
}

/* The workload with w's names, sanitised first (sanitize.h) so that names
 * that only differ where sanitising replaces bytes (a comm of "a\xff" and
 * one of "a\xfe") are one workload, not two with the same labels; a pod's
 * remembers the cgroup of the pod that last resolved to it (pod_cgroup:
 * NULL for the host). */
static struct workload_entry *intern(struct pod_resolver *r,
				     struct workload *w,
				     const char *pod_cgroup)
{
	char *const names[] = { w->namespace, w->pod, w->container,
				w->service, w->deployment, w->statefulset,
				w->daemonset };
	const size_t sizes[] = { sizeof(w->namespace), sizeof(w->pod),
				 sizeof(w->container), sizeof(w->service),
				 sizeof(w->deployment), sizeof(w->statefulset),
				 sizeof(w->daemonset) };
	uint64_t h;
	struct hnode *n;
	struct workload_entry *e;
	char *path = NULL;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		sanitize_field(names[i], sizes[i]);
	h = workload_hash(w);
	n = hmap_find(&r->workloads, h, w, workload_eq);
	if (n) {
		e = hmap_entry(n, struct workload_entry, node);
		e->superseded = false;
		/* The pod's latest label; read by the metrics thread. */
		__atomic_store_n(&e->w.compat, w->compat, __ATOMIC_RELAXED);
		if (pod_cgroup && (!e->pod_cgroup ||
				   strcmp(e->pod_cgroup, pod_cgroup)) &&
		    (path = strdup(pod_cgroup))) {
			free(e->pod_cgroup);
			e->pod_cgroup = path;
		}
		return e;
	}
	if (r->workloads.count >= MAX_WORKLOADS)
		return &r->overflow;
	e = calloc(1, sizeof(*e));
	if (!e || (pod_cgroup && !(e->pod_cgroup = strdup(pod_cgroup)))) {
		free(e);
		return &r->overflow;
	}
	e->w = *w;
	hmap_insert(&r->workloads, &e->node, h);
	return e;
}

/* --- cgroup id -> path -------------------------------------------------- */

static bool path_has_id(const char *root, const char *path, uint64_t id)
{
	char full[4608];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return stat(full, &st) == 0 && (uint64_t)st.st_ino == id;
}

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

static int cgroup_path_of(struct pod_resolver *r, const struct cgroup_entry *e,
			  uint32_t pid, char *out, size_t size)
{
	uint64_t id = e->cgroup_id;

	/* Learned when it was made: still right when it and its processes
	 * are gone. */
	if (e->path)
		return snprintf(out, size, "%s", e->path) < (int)size ? 0
								 : -ENAMETOOLONG;
	if (cgroup_path_of_pid(r->cgroup_root, pid, out, size) == 0 &&
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

/* Finds <log dir>/<ns>_<pod>_<uid>/: fills w's namespace and pod, and
 * the directory's path. */
static bool find_log_dir(const struct pod_resolver *r, const char *uid,
			 struct workload *w, char *pod_dir, size_t size)
{
	char suffix[POD_UID_LEN + 1];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(r->pod_log_dir);

	if (!d)
		return false;
	snprintf(suffix, sizeof(suffix), "_%s", uid);
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
		snprintf(pod_dir, size, "%s/%s", r->pod_log_dir, de->d_name);
		found = true;
	}
	closedir(d);
	return found;
}

/* --- lookup ------------------------------------------------------------- */

static bool cgroup_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct cgroup_entry, node)->cgroup_id ==
	       *(const uint64_t *)key;
}

static struct workload_entry *host_workload(struct pod_resolver *r,
					    const char *comm)
{
	struct workload w = { 0 };

	snprintf(w.service, sizeof(w.service), "%s", comm[0] ? comm : "unknown");
	return intern(r, &w, NULL);
}

static struct workload_entry *cached_host_workload(struct pod_resolver *r,
						   struct cgroup_entry *e,
						   const char *comm)
{
	unsigned int i;

	for (i = 0; i < HOST_COMMS; i++)
		if (e->host[i].w &&
		    !strncmp(e->host[i].comm, comm, sizeof(e->host[i].comm)))
			return e->host[i].w;
	i = e->next_host++ % HOST_COMMS;
	e->host[i].w = host_workload(r, comm);
	strncpy(e->host[i].comm, comm, sizeof(e->host[i].comm) - 1);
	e->host[i].comm[sizeof(e->host[i].comm) - 1] = '\0';
	return e->host[i].w;
}

static void names_from_kubelet(const struct kubelet_pod_meta *m,
			       struct workload *w)
{
	snprintf(w->namespace, sizeof(w->namespace), "%s", m->namespace);
	snprintf(w->pod, sizeof(w->pod), "%s", m->pod);
	snprintf(w->container, sizeof(w->container), "%s", m->container);
	snprintf(w->deployment, sizeof(w->deployment), "%s", m->deployment);
	snprintf(w->statefulset, sizeof(w->statefulset), "%s", m->statefulset);
	snprintf(w->daemonset, sizeof(w->daemonset), "%s", m->daemonset);
	w->compat = m->compat;
}

/*
 * The kubelet's answer for a pod (when it is on). A pod or container this
 * cgroup entry meets for the first time and the list lacks asks for a
 * refresh: a later answer without it asks no more (the periodic refresh
 * still comes), so a pod the kubelet never lists costs no extra requests.
 */
static enum kubelet_answer ask_kubelet(struct pod_resolver *r,
				       struct cgroup_entry *e, bool first,
				       const struct cgroup_pod_ref *ref,
				       struct kubelet_pod_meta *meta)
{
	enum kubelet_answer a;
	bool newer_helps;

	if (!r->kubelet)
		return KUBELET_NO_LIST;
	/* Read before asking: a list that lands meanwhile is asked again. */
	e->kubelet_gen = kubelet_cache_generation(r->kubelet);
	a = kubelet_cache_find(r->kubelet, ref->pod_uid, ref->container_id,
			       meta);
	/* A pod's own cgroup in a pod of several containers names none of
	 * them, whatever the list says. */
	newer_helps = a == KUBELET_NO_LIST || a == KUBELET_UNKNOWN_POD ||
		      (a == KUBELET_UNKNOWN_CONTAINER && ref->container_id[0]);
	e->await_kubelet = newer_helps;
	if (first && newer_helps && a != KUBELET_NO_LIST) {
		log_debug("pod %s%s%s is not in the kubelet's list: asking for "
			  "a new one", ref->pod_uid,
			  a == KUBELET_UNKNOWN_CONTAINER ? ", container " : "",
			  a == KUBELET_UNKNOWN_CONTAINER ? ref->container_id
							 : "");
		kubelet_cache_want_refresh(r->kubelet);
	}
	return a;
}

/* Resolves entry e: its pod workload and UID, or NULL for the host; sets
 * when to resolve it again. */
static void resolve(struct pod_resolver *r, struct cgroup_entry *e,
		    bool first, uint32_t pid, const char *comm,
		    uint64_t now_ns)
{
	char path[4096], pod_dir[1024];
	struct cgroup_pod_ref ref;
	struct kubelet_pod_meta meta;
	struct workload w = { .in_pod = true };
	struct workload_entry *known = e->pod;
	enum kubelet_answer a;
	bool named, log_dir;

	e->pod = NULL;
	e->retry_at_ns = 0;
	e->await_kubelet = false;
	/* Names once known stay when their sources are gone (a pod that
	 * ended: its cgroup, log directory and kubelet entry removed). */
	if (cgroup_path_of(r, e, pid, path, sizeof(path)) ||
	    !cgroup_path_parse(path, &ref)) {
		e->pod = known;
		if (!known)
			e->pod_uid[0] = '\0';
		return;
	}
	strcpy(e->pod_uid, ref.pod_uid);
	a = ask_kubelet(r, e, first, &ref, &meta);
	named = a >= KUBELET_UNKNOWN_CONTAINER;
	if (named)
		names_from_kubelet(&meta, &w);
	/* The log directory names what the kubelet did not. */
	if (a != KUBELET_FOUND) {
		struct workload from_dir = w;

		log_dir = find_log_dir(r, ref.pod_uid, &from_dir, pod_dir,
				       sizeof(pod_dir));
		if (log_dir && !named)
			w = from_dir;
		if (log_dir)
			container_name(r, pod_dir, ref.container_id,
				       w.container, sizeof(w.container));
		named = named || log_dir;
	}
	if (!named) {
		/* Counted as host traffic (named by its process) until its
		 * names are known: a pod without names would export the very
		 * label set of host traffic as a second series. */
		if (known) {
			e->pod = known;
			return;
		}
		log_debug("pod %s (cgroup %s) has no names yet", ref.pod_uid,
			  path);
		/* Ahead of its processes (at mkdir), the first lookup tries
		 * again: the kubelet may be a step behind its runtime. */
		e->retry_at_ns = comm[0] ? now_ns + RETRY_NS : now_ns;
		return;
	}
	if (!w.container[0] && !comm[0]) {
		/* Resolved ahead of its processes (at mkdir), but its service
		 * is named by their comm: at the first lookup. */
		e->retry_at_ns = now_ns;
		return;
	}
	snprintf(w.service, sizeof(w.service), "%s",
		 w.container[0] ? w.container : comm);
	path[ref.pod_path_len] = '\0';
	e->pod = intern(r, &w, path);
}

/* Whether what entry e says may have changed. */
static bool stale(const struct pod_resolver *r, const struct cgroup_entry *e,
		  uint64_t now_ns)
{
	return (e->retry_at_ns && now_ns >= e->retry_at_ns) ||
	       (e->await_kubelet &&
		kubelet_cache_generation(r->kubelet) != e->kubelet_gen);
}

const struct workload *pod_resolver_lookup(struct pod_resolver *r,
					   uint64_t cgroup_id, uint32_t pid,
					   const char *comm, uint64_t now_ns,
					   const char **pod_uid)
{
	uint64_t h = hash_u64(cgroup_id);
	struct hnode *n = hmap_find(&r->cgroups, h, &cgroup_id, cgroup_eq);
	struct workload_entry *we, *old;
	struct cgroup_entry *e;
	bool first;

	if (n) {
		e = hmap_entry(n, struct cgroup_entry, node);
		/* The first lookup of a cgroup resolved at mkdir is the one
		 * that may ask the kubelet for a newer list, as for any
		 * cgroup first seen by its traffic. */
		first = e->ahead && (e->await_kubelet || !e->pod);
		e->ahead = false;
		if (first || stale(r, e, now_ns)) {
			old = e->pod;
			resolve(r, e, first, pid, comm, now_ns);
			/* Its series stop growing: they may go once unused. */
			if (old && old != e->pod)
				old->superseded = true;
		}
	} else {
		if (r->cgroups.count >= MAX_CGROUPS)
			clear_cgroups(r);
		e = calloc(1, sizeof(*e));
		if (!e) {
			if (pod_uid)
				*pod_uid = "";
			we = host_workload(r, comm);
			we->last_used_ns = now_ns;
			return &we->w;
		}
		e->cgroup_id = cgroup_id;
		resolve(r, e, true, pid, comm, now_ns);
		hmap_insert(&r->cgroups, &e->node, h);
	}
	we = e->pod ? e->pod : cached_host_workload(r, e, comm);
	we->last_used_ns = now_ns;
	if (pod_uid)
		*pod_uid = e->pod_uid;
	return &we->w;
}

void pod_resolver_cgroup_made(struct pod_resolver *r, uint64_t cgroup_id,
			      const char *path, uint64_t now_ns)
{
	uint64_t h = hash_u64(cgroup_id);
	struct hnode *n = hmap_find(&r->cgroups, h, &cgroup_id, cgroup_eq);
	struct cgroup_pod_ref ref;
	struct cgroup_entry *e;
	char *copy;

	/* Only a container's cgroup is where a pod's processes run; the rest
	 * stay host traffic (or are learned from their processes). */
	if (!cgroup_path_parse(path, &ref) || !ref.container_id[0] ||
	    !(copy = strdup(path)))
		return;
	if (n) {
		/* An id the kernel hands out again is a new cgroup. */
		e = hmap_entry(n, struct cgroup_entry, node);
		free(e->path);
	} else {
		if (r->cgroups.count >= MAX_CGROUPS)
			clear_cgroups(r);
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(copy);
			return;
		}
		e->cgroup_id = cgroup_id;
		hmap_insert(&r->cgroups, &e->node, h);
	}
	e->path = copy;
	e->ahead = true;
	/* Its names now, while its log directory surely exists; the kubelet
	 * is asked for a newer list at its first lookup, if need be. */
	resolve(r, e, false, 0, "", now_ns);
}

/* --- expiry ------------------------------------------------------------- */

static bool pod_alive(const struct pod_resolver *r,
		      const struct workload_entry *we)
{
	char path[4608];
	struct stat st;

	if (!we->pod_cgroup)
		return false;
	snprintf(path, sizeof(path), "%s%s", r->cgroup_root, we->pod_cgroup);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Workloads handed out are the w of their entry. */
static struct workload_entry *entry_of(const struct workload *w)
{
	return (struct workload_entry *)((char *)w -
					 offsetof(struct workload_entry, w));
}

void pod_resolver_hold(struct pod_resolver *r, const struct workload *w)
{
	entry_of(w)->holds++;
}

void pod_resolver_unhold(struct pod_resolver *r, const struct workload *w)
{
	if (entry_of(w)->holds)
		entry_of(w)->holds--;
}

unsigned int pod_resolver_expire(struct pod_resolver *r, uint64_t now_ns,
				 uint64_t ttl_ns, workload_release_fn release,
				 void *ctx)
{
	unsigned int n = 0;

	hmap_for_each(it, &r->workloads) {
		struct workload_entry *we =
			hmap_entry(it.node, struct workload_entry, node);

		if (we->last_used_ns + ttl_ns > now_ns || we->holds ||
		    (we->w.in_pod && !we->superseded && pod_alive(r, we)))
			continue;
		we->expiring = true;
		n++;
	}
	if (!n)
		return 0;
	/* Their cgroups resolve afresh if they are ever seen again. */
	hmap_for_each(it, &r->cgroups) {
		struct cgroup_entry *e = hmap_entry(it.node, struct cgroup_entry, node);

		if (e->pod && e->pod->expiring) {
			hmap_remove(&r->cgroups, it.node);
			cgroup_entry_free(e);
		} else {
			for (unsigned int i = 0; i < HOST_COMMS; i++)
				if (e->host[i].w && e->host[i].w->expiring)
					e->host[i].w = NULL;
		}
	}
	hmap_for_each(it, &r->workloads) {
		struct workload_entry *we =
			hmap_entry(it.node, struct workload_entry, node);
		if (!we->expiring)
			continue;
		release(ctx, &we->w);
		hmap_remove(&r->workloads, it.node);
		workload_entry_free(we);
	}
	return n;
}
