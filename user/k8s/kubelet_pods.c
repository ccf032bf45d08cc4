// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/kubelet_pods.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* managedFields nest a dozen levels deep; this leaves room and still
 * refuses pathological nesting before it costs anything. */
#define MAX_DEPTH 64

static json_object *member(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v = member(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* Copies src if it fits; false (dst untouched) if it is missing or not. */
static bool copy(char *dst, size_t size, const char *src)
{
	if (!src || strlen(src) >= size)
		return false;
	strcpy(dst, src);
	return true;
}

const char *kubelet_pod_label(const struct kubelet_pod *p, const char *key)
{
	for (size_t i = 0; i < p->nlabels; i++)
		if (!strcmp(p->labels[i].key, key))
			return p->labels[i].value;
	return NULL;
}

static void pod_free(struct kubelet_pod *p)
{
	for (size_t i = 0; i < p->nlabels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	free(p->containers);
}

void kubelet_pod_list_free(struct kubelet_pod_list *l)
{
	for (size_t i = 0; i < l->npods; i++)
		pod_free(&l->pods[i]);
	free(l->pods);
	memset(l, 0, sizeof(*l));
}

/* --- metadata ----------------------------------------------------------- */

static int parse_labels(json_object *meta, struct kubelet_pod *p)
{
	json_object *labels = member(meta, "labels", json_type_object);
	size_t n;

	if (!labels)
		return 0;
	n = (size_t)json_object_object_length(labels);
	p->labels = calloc(n ? n : 1, sizeof(*p->labels));
	if (!p->labels)
		return -1;
	json_object_object_foreach(labels, key, val) {
		struct kubelet_label *l = &p->labels[p->nlabels];

		if (!json_object_is_type(val, json_type_string))
			continue;
		l->key = strdup(key);
		l->value = strdup(json_object_get_string(val));
		p->nlabels++;
		if (!l->key || !l->value)
			return -1;
	}
	return 0;
}

static bool uid_of(json_object *meta, struct kubelet_pod *p)
{
	if (!copy(p->uid, sizeof(p->uid), str_member(meta, "uid")) || !p->uid[0])
		return false;
	for (char *c = p->uid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return true;
}

/* Kubernetes allows one controller reference at most. */
static void owner_of(json_object *meta, struct kubelet_pod *p)
{
	json_object *refs = member(meta, "ownerReferences", json_type_array);
	size_t n = refs ? json_object_array_length(refs) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *ref = json_object_array_get_idx(refs, i);
		json_object *ctl = member(ref, "controller", json_type_boolean);

		if (!ctl || !json_object_get_boolean(ctl))
			continue;
		if (!copy(p->owner_kind, sizeof(p->owner_kind),
			  str_member(ref, "kind")) ||
		    !copy(p->owner_name, sizeof(p->owner_name),
			  str_member(ref, "name"))) {
			p->owner_kind[0] = p->owner_name[0] = '\0';
			continue;
		}
		return;
	}
}

/*
 * The workload behind the owner. A Deployment's ReplicaSets are named
 * "<deployment>-<pod-template-hash>"; a ReplicaSet made by hand (or one
 * whose pods lack the label) names no Deployment.
 */
static void workload_of(struct kubelet_pod *p)
{
	if (!strcmp(p->owner_kind, "ReplicaSet")) {
		const char *hash = kubelet_pod_label(p, "pod-template-hash");
		size_t n = strlen(p->owner_name), h = hash ? strlen(hash) : 0;

		if (h && n > h + 1 && p->owner_name[n - h - 1] == '-' &&
		    !strcmp(p->owner_name + n - h, hash))
			snprintf(p->deployment, sizeof(p->deployment), "%.*s",
				 (int)(n - h - 1), p->owner_name);
	} else if (!strcmp(p->owner_kind, "StatefulSet")) {
		strcpy(p->statefulset, p->owner_name);
	} else if (!strcmp(p->owner_kind, "DaemonSet")) {
		strcpy(p->daemonset, p->owner_name);
	}
}

/* --- containers --------------------------------------------------------- */

static const struct {
	const char *spec;
	const char *status;
} container_lists[] = {
	[KUBELET_CONTAINER] = { "containers", "containerStatuses" },
	[KUBELET_INIT_CONTAINER] = { "initContainers",
				     "initContainerStatuses" },
	[KUBELET_EPHEMERAL_CONTAINER] = { "ephemeralContainers",
					  "ephemeralContainerStatuses" },
};
#define NLISTS (sizeof(container_lists) / sizeof(container_lists[0]))

static size_t array_len(json_object *parent, const char *key)
{
	json_object *a = member(parent, key, json_type_array);

	return a ? json_object_array_length(a) : 0;
}

static struct kubelet_container *find_container(struct kubelet_pod *p,
						const char *name,
						enum kubelet_container_kind k)
{
	for (size_t i = 0; i < p->ncontainers; i++)
		if (p->containers[i].kind == k &&
		    !strcmp(p->containers[i].name, name))
			return &p->containers[i];
	return NULL;
}

/* "containerd://<id>" -> runtime and id; ids podtap could never match
 * against a cgroup path (not hex, too long) are left empty. */
static void set_container_id(struct kubelet_container *c, const char *s)
{
	const char *sep = s ? strstr(s, "://") : NULL;
	size_t n;

	if (!sep || (size_t)(sep - s) >= sizeof(c->runtime))
		return;
	n = strlen(sep + 3);
	if (n == 0 || n >= sizeof(c->id) ||
	    strspn(sep + 3, "0123456789abcdefABCDEF") != n)
		return;
	snprintf(c->runtime, sizeof(c->runtime), "%.*s", (int)(sep - s), s);
	strcpy(c->id, sep + 3);
}

static struct kubelet_container *add_container(struct kubelet_pod *p,
					       const char *name,
					       enum kubelet_container_kind k)
{
	struct kubelet_container *c;

	if (!name || strlen(name) >= sizeof(c->name) || !name[0])
		return NULL;
	c = &p->containers[p->ncontainers++];
	memset(c, 0, sizeof(*c));
	strcpy(c->name, name);
	c->kind = k;
	return c;
}

/* Containers as the spec declares them, with the ids their statuses give
 * (a status without a spec entry is kept too). */
static int parse_containers(json_object *spec, json_object *status,
			    struct kubelet_pod *p)
{
	size_t cap = 0;

	for (size_t k = 0; k < NLISTS; k++)
		cap += array_len(spec, container_lists[k].spec) +
		       array_len(status, container_lists[k].status);
	if (!cap)
		return 0;
	p->containers = calloc(cap, sizeof(*p->containers));
	if (!p->containers)
		return -1;
	for (size_t k = 0; k < NLISTS; k++) {
		json_object *a = member(spec, container_lists[k].spec,
					json_type_array);
		size_t n = a ? json_object_array_length(a) : 0;

		for (size_t i = 0; i < n; i++) {
			const char *name = str_member(
				json_object_array_get_idx(a, i), "name");

			if (name && !find_container(p, name, k))
				add_container(p, name, k);
		}
		a = member(status, container_lists[k].status, json_type_array);
		n = a ? json_object_array_length(a) : 0;
		for (size_t i = 0; i < n; i++) {
			json_object *st = json_object_array_get_idx(a, i);
			const char *name = str_member(st, "name");
			struct kubelet_container *c;

			if (!name)
				continue;
			c = find_container(p, name, k);
			if (!c)
				c = add_container(p, name, k);
			if (c)
				set_container_id(c, str_member(st, "containerID"));
		}
	}
	return 0;
}

/* --- the list ----------------------------------------------------------- */

/* Returns 1 for a pod, 0 for an item to skip, -1 when memory ran out. */
static int parse_pod(json_object *item, struct kubelet_pod *p)
{
	json_object *meta = member(item, "metadata", json_type_object);

	memset(p, 0, sizeof(*p));
	if (!meta || !uid_of(meta, p) ||
	    !copy(p->namespace, sizeof(p->namespace),
		  str_member(meta, "namespace")) || !p->namespace[0] ||
	    !copy(p->name, sizeof(p->name), str_member(meta, "name")) ||
	    !p->name[0])
		return 0;
	if (parse_labels(meta, p) ||
	    parse_containers(member(item, "spec", json_type_object),
			     member(item, "status", json_type_object), p)) {
		pod_free(p);
		return -1;
	}
	owner_of(meta, p);
	workload_of(p);
	return 1;
}

static json_object *parse_json(const char *json, size_t len, char *err,
			       size_t errsize)
{
	struct json_tokener *tok;
	json_object *root;
	enum json_tokener_error jerr;
	size_t end;

	if (len > KUBELET_PODLIST_MAX) {
		snprintf(err, errsize, "%zu bytes, more than the %u accepted",
			 len, KUBELET_PODLIST_MAX);
		return NULL;
	}
	tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root) {
		snprintf(err, errsize, "not JSON: %s",
			 jerr == json_tokener_continue
				 ? "unexpected end of input"
				 : json_tokener_error_desc(jerr));
		return NULL;
	}
	while (end < len && isspace((unsigned char)json[end]))
		end++;
	if (end < len) {
		snprintf(err, errsize, "not JSON: data after the document");
		json_object_put(root);
		return NULL;
	}
	return root;
}

int kubelet_pods_parse(const char *json, size_t len,
		       struct kubelet_pod_list *out, char *err, size_t errsize)
{
	json_object *root = parse_json(json, len, err, errsize);
	json_object *items = NULL;
	const char *kind;
	bool has_items;
	size_t n;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!root)
		return -1;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errsize, "not a PodList: not a JSON object");
		goto cleanup;
	}
	kind = str_member(root, "kind");
	if (kind && strcmp(kind, "PodList")) {
		snprintf(err, errsize, "not a PodList: kind \"%.64s\"", kind);
		goto cleanup;
	}
	/* An empty PodList may say "items": null, or leave it out. */
	has_items = json_object_object_get_ex(root, "items", &items);
	if (!json_object_is_type(items, json_type_array) &&
	    !(kind && (!has_items || json_object_is_type(items, json_type_null)))) {
		snprintf(err, errsize, "not a PodList: no \"items\" array");
		goto cleanup;
	}
	n = items ? json_object_array_length(items) : 0;
	out->pods = calloc(n ? n : 1, sizeof(*out->pods));
	if (!out->pods) {
		snprintf(err, errsize, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		int r = parse_pod(json_object_array_get_idx(items, i),
				  &out->pods[out->npods]);

		if (r < 0) {
			snprintf(err, errsize, "out of memory");
			kubelet_pod_list_free(out);
			goto cleanup;
		}
		if (r)
			out->npods++;
		else
			out->skipped++;
	}
	ret = 0;
cleanup:
	json_object_put(root);
	return ret;
}
