// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/kubelet_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/compat.h"
#include "lib/hashmap.h"

struct pod_ref {
	struct hnode node;
	const struct kubelet_pod *pod;
};

/* A list and its index, replaced as one. */
struct snapshot {
	struct kubelet_pod_list list;
	struct pod_ref *refs; /* one per pod */
	struct hmap by_uid;
};

struct kubelet_cache {
	pthread_mutex_t lock; /* guards current */
	struct snapshot *current;
	_Atomic uint64_t generation;
	_Atomic size_t npods;
	kubelet_refresh_fn want_refresh;
	void *ctx;
};

static void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	kubelet_pod_list_free(&s->list);
	hmap_free(&s->by_uid);
	free(s->refs);
	free(s);
}

struct kubelet_cache *kubelet_cache_new(kubelet_refresh_fn want_refresh,
					void *ctx)
{
	struct kubelet_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->want_refresh = want_refresh;
	c->ctx = ctx;
	return c;
}

void kubelet_cache_free(struct kubelet_cache *c)
{
	if (!c)
		return;
	snapshot_free(c->current);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void kubelet_cache_want_refresh(struct kubelet_cache *c)
{
	if (c->want_refresh)
		c->want_refresh(c->ctx);
}

static uint64_t uid_hash(const char *uid)
{
	return hash_bytes(uid, strlen(uid), 0);
}

static bool uid_eq(const struct hnode *n, const void *key)
{
	return !strcmp(hmap_entry(n, struct pod_ref, node)->pod->uid, key);
}

int kubelet_cache_replace(struct kubelet_cache *c,
			  struct kubelet_pod_list *list)
{
	struct snapshot *s = calloc(1, sizeof(*s)), *old;

	if (!s)
		return -ENOMEM;
	s->refs = calloc(list->npods ? list->npods : 1, sizeof(*s->refs));
	if (!s->refs || hmap_init(&s->by_uid)) {
		free(s->refs);
		free(s);
		return -ENOMEM;
	}
	s->list = *list;
	memset(list, 0, sizeof(*list));
	/* A UID listed twice (never, from a kubelet): the first one wins. */
	for (size_t i = 0; i < s->list.npods; i++) {
		const struct kubelet_pod *p = &s->list.pods[i];
		uint64_t h = uid_hash(p->uid);

		if (hmap_find(&s->by_uid, h, p->uid, uid_eq))
			continue;
		s->refs[i].pod = p;
		hmap_insert(&s->by_uid, &s->refs[i].node, h);
	}
	pthread_mutex_lock(&c->lock);
	old = c->current;
	c->current = s;
	atomic_store(&c->npods, s->list.npods);
	atomic_fetch_add(&c->generation, 1);
	pthread_mutex_unlock(&c->lock);
	snapshot_free(old);
	return 0;
}

uint64_t kubelet_cache_generation(struct kubelet_cache *c)
{
	return atomic_load(&c->generation);
}

size_t kubelet_cache_pods(struct kubelet_cache *c)
{
	return atomic_load(&c->npods);
}

/* A label value holds one mode's name (no commas in label values); an
 * unknown one turns nothing on. */
static unsigned int compat_of_label(const char *value)
{
	return value ? compat_mode_of(value, strlen(value)) : 0;
}

/* The container a cgroup names: by id, or for the pod's own cgroup its
 * only regular container. */
static const struct kubelet_container *
container_of(const struct kubelet_pod *p, const char *container_id)
{
	const struct kubelet_container *only = NULL;
	size_t regular = 0;

	for (size_t i = 0; i < p->ncontainers; i++) {
		const struct kubelet_container *k = &p->containers[i];

		if (container_id[0] && k->id[0] &&
		    !strcasecmp(k->id, container_id))
			return k;
		if (k->kind == KUBELET_CONTAINER) {
			only = k;
			regular++;
		}
	}
	return !container_id[0] && regular == 1 ? only : NULL;
}

enum kubelet_answer kubelet_cache_find(struct kubelet_cache *c,
				       const char *uid,
				       const char *container_id,
				       struct kubelet_pod_meta *out)
{
	enum kubelet_answer a = KUBELET_NO_LIST;
	const struct kubelet_container *k;
	const struct kubelet_pod *p;
	struct hnode *n;

	pthread_mutex_lock(&c->lock);
	if (!c->current)
		goto unlock;
	n = hmap_find(&c->current->by_uid, uid_hash(uid), uid, uid_eq);
	if (!n) {
		a = KUBELET_UNKNOWN_POD;
		goto unlock;
	}
	p = hmap_entry(n, struct pod_ref, node)->pod;
	strcpy(out->namespace, p->namespace);
	strcpy(out->pod, p->name);
	strcpy(out->deployment, p->deployment);
	strcpy(out->statefulset, p->statefulset);
	strcpy(out->daemonset, p->daemonset);
	out->compat = compat_of_label(kubelet_pod_label(p, COMPAT_POD_LABEL));
	k = container_of(p, container_id);
	strcpy(out->container, k ? k->name : "");
	a = k ? KUBELET_FOUND : KUBELET_UNKNOWN_CONTAINER;
unlock:
	pthread_mutex_unlock(&c->lock);
	return a;
}
