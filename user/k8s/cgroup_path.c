// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup path -> pod UID and container id.
 *
 * The kubelet nests cgroups as kubepods / [QoS class /] pod / container.
 * With the systemd driver every level is a slice whose name repeats its
 * parent's ("kubepods-burstable.slice" holds "kubepods-burstable-pod<uid>
 * .slice"), and a custom cgroup root adds its own prefix
 * ("kubelet-kubepods.slice"); with cgroupfs the levels are plain names.
 * So: find a kubepods component anywhere in the path, then read each level
 * as a child of the one before. What lies below the container's cgroup
 * (runtimes and init systems create sub-cgroups there) is ignored.
 */
#include <string.h>

#include "k8s/cgroup_path.h"

#define UUID_LEN 36

struct comp {
	const char *s;
	size_t n;
};

/* Next non-empty '/'-separated component of *p. */
static bool next_comp(const char **p, struct comp *c)
{
	const char *s = *p + strspn(*p, "/");
	size_t n = strcspn(s, "/");

	if (n == 0)
		return false;
	c->s = s;
	c->n = n;
	*p = s + n;
	return true;
}

static bool has_prefix(const struct comp *c, const char *prefix)
{
	size_t n = strlen(prefix);

	return c->n >= n && memcmp(c->s, prefix, n) == 0;
}

static bool has_suffix(const struct comp *c, const char *suffix)
{
	size_t n = strlen(suffix);

	return c->n >= n && memcmp(c->s + c->n - n, suffix, n) == 0;
}

static bool comp_is(const struct comp *c, const char *s)
{
	return c->n == strlen(s) && memcmp(c->s, s, c->n) == 0;
}

static void strip_prefix(struct comp *c, const char *prefix)
{
	c->s += strlen(prefix);
	c->n -= strlen(prefix);
}

static void strip_suffix(struct comp *c, const char *suffix)
{
	c->n -= strlen(suffix);
}

/* "kubepods" (cgroupfs) or "kubepods.slice" / "<root>-kubepods.slice"
 * (systemd). */
static bool is_kubepods(const struct comp *c, bool *systemd)
{
	*systemd = comp_is(c, "kubepods.slice") ||
		   has_suffix(c, "-kubepods.slice");
	return *systemd || comp_is(c, "kubepods");
}

/*
 * The name a level gives its child `c`: with systemd, "<parent stem>-<name>
 * .slice", where the stem is the parent's name without ".slice"; with
 * cgroupfs, the component itself.
 */
static bool child_name(const struct comp *parent, bool systemd,
		       const struct comp *c, struct comp *name)
{
	size_t stem = parent->n - strlen(".slice");

	*name = *c;
	if (!systemd)
		return true;
	if (c->n <= stem + 1 + strlen(".slice") ||
	    memcmp(c->s, parent->s, stem) != 0 || c->s[stem] != '-' ||
	    !has_suffix(c, ".slice"))
		return false;
	name->s += stem + 1;
	name->n -= stem + 1 + strlen(".slice");
	return true;
}

static bool is_qos(const struct comp *name)
{
	return comp_is(name, "burstable") || comp_is(name, "besteffort");
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Static pods (manifests on the node) are named by the kubelet with the
 * manifest's hash, 32 hex digits, instead of a UUID. */
#define STATIC_POD_UID_LEN 32

static bool parse_static_pod(const char *s, char uid[POD_UID_LEN])
{
	for (size_t i = 0; i < STATIC_POD_UID_LEN; i++) {
		if (!is_hex(s[i]))
			return false;
		uid[i] = to_lower(s[i]);
	}
	uid[STATIC_POD_UID_LEN] = '\0';
	return true;
}

/* "pod" + a UUID whose dashes systemd spells '_' (a '-' would read as a
 * slice level); either separator is taken, the result is dashed and lower
 * case. */
static bool parse_pod(const struct comp *name, char uid[POD_UID_LEN])
{
	const char *s = name->s + strlen("pod");

	if (!has_prefix(name, "pod"))
		return false;
	if (name->n == strlen("pod") + STATIC_POD_UID_LEN)
		return parse_static_pod(s, uid);
	if (name->n != strlen("pod") + UUID_LEN)
		return false;
	for (size_t i = 0; i < UUID_LEN; i++) {
		bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash_pos ? s[i] != '-' && s[i] != '_' : !is_hex(s[i]))
			return false;
		uid[i] = dash_pos ? '-' : to_lower(s[i]);
	}
	uid[UUID_LEN] = '\0';
	return true;
}

static bool is_container_id(const struct comp *id)
{
	if (id->n == 0 || id->n >= CONTAINER_ID_MAX)
		return false;
	for (size_t i = 0; i < id->n; i++)
		if (!is_hex(id->s[i]))
			return false;
	return true;
}

static const struct {
	const char *prefix;
	const char *runtime;
	bool container; /* false: a helper process living in the pod's cgroup */
} scope_kinds[] = {
	{ "cri-containerd-", "containerd", true },
	{ "crio-conmon-", "cri-o", false }, /* before "crio-" */
	{ "crio-", "cri-o", true },
	{ "docker-", "docker", true },
};

/*
 * The pod's child cgroup: "<runtime prefix>-<id>[.scope]", or a bare
 * "<id>" (cgroupfs, runtime unknown). Anything else leaves the reference
 * at the pod itself.
 */
static void parse_container(const struct comp *c, struct cgroup_pod_ref *ref)
{
	struct comp id = *c;
	const char *runtime = "";
	bool container = true;

	for (size_t i = 0; i < sizeof(scope_kinds) / sizeof(scope_kinds[0]);
	     i++) {
		if (has_prefix(&id, scope_kinds[i].prefix)) {
			strip_prefix(&id, scope_kinds[i].prefix);
			if (has_suffix(&id, ".scope"))
				strip_suffix(&id, ".scope");
			runtime = scope_kinds[i].runtime;
			container = scope_kinds[i].container;
			break;
		}
	}
	if (!is_container_id(&id))
		return;
	strcpy(ref->runtime, runtime);
	if (container) {
		memcpy(ref->container_id, id.s, id.n);
		ref->container_id[id.n] = '\0';
	}
}

/* Reads [QoS /] pod [/ container] after the kubepods component. */
static bool parse_below_kubepods(const char *path, const struct comp *kubepods,
				 bool systemd, const char *rest,
				 struct cgroup_pod_ref *ref)
{
	struct comp parent = *kubepods, c, name;

	if (!next_comp(&rest, &c) || !child_name(&parent, systemd, &c, &name))
		return false;
	if (is_qos(&name)) {
		parent = c;
		if (!next_comp(&rest, &c) ||
		    !child_name(&parent, systemd, &c, &name))
			return false;
	}
	if (!parse_pod(&name, ref->pod_uid))
		return false;
	ref->pod_path_len = (size_t)(c.s + c.n - path);
	if (next_comp(&rest, &c))
		parse_container(&c, ref);
	return true;
}

bool cgroup_path_parse(const char *path, struct cgroup_pod_ref *ref)
{
	const char *p = path;
	struct comp c;
	bool systemd;

	while (next_comp(&p, &c)) {
		struct cgroup_pod_ref found = { 0 };

		if (is_kubepods(&c, &systemd) &&
		    parse_below_kubepods(path, &c, systemd, p, &found)) {
			*ref = found;
			return true;
		}
	}
	return false;
}

/* Appends each component of `path` to out[0, *len), resolving "." and
 * "..". */
static bool join_components(const char *path, char *out, size_t size,
			    size_t *len)
{
	while (*path) {
		size_t n;

		while (*path == '/')
			path++;
		n = strcspn(path, "/");
		if (n == 0)
			break;
		if (n == 2 && !strncmp(path, "..", 2)) {
			if (*len == 0)
				return false; /* above the root */
			while (*len > 0 && out[*len - 1] != '/')
				(*len)--;
			(*len)--; /* the slash */
		} else if (!(n == 1 && path[0] == '.')) {
			if (*len + 1 + n + 1 > size)
				return false;
			out[(*len)++] = '/';
			memcpy(out + *len, path, n);
			*len += n;
		}
		path += n;
	}
	return true;
}

bool cgroup_path_join(const char *base, const char *rel, char *out,
		      size_t size)
{
	size_t len = 0;

	if (size < 2 || !join_components(base, out, size, &len) ||
	    !join_components(rel, out, size, &len))
		return false;
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return true;
}
