/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kubelet's latest good pod list, indexed by pod UID: the fetch thread
 * (kubelet.c) replaces it, the event loop (pod_resolver.c) asks it about a
 * pod UID and container id, and asks for a refresh when a pod or container
 * it has just met is not in the list (the fetcher rate-limits them).
 * Thread-safe; lookups copy what they return.
 */
#ifndef PODTAP_KUBELET_CACHE_H
#define PODTAP_KUBELET_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/kubelet_pods.h"

struct kubelet_cache;

typedef void (*kubelet_refresh_fn)(void *ctx);

/* want_refresh (may be NULL) is what kubelet_cache_want_refresh calls. */
struct kubelet_cache *kubelet_cache_new(kubelet_refresh_fn want_refresh,
					void *ctx);
void kubelet_cache_free(struct kubelet_cache *c); /* accepts NULL */

/* Asks the fetcher for a new list soon; never blocks. */
void kubelet_cache_want_refresh(struct kubelet_cache *c);

/* Takes the list over (leaving *list empty) as the current one. Returns 0,
 * or -ENOMEM with the old list kept and *list untouched. */
int kubelet_cache_replace(struct kubelet_cache *c,
			  struct kubelet_pod_list *list);

/* Counts replacements: 0 until the first list, then changes with every
 * new one, so a caller can tell when asking again may help. */
uint64_t kubelet_cache_generation(struct kubelet_cache *c);
/* Pods in the current list. */
size_t kubelet_cache_pods(struct kubelet_cache *c);

/* What a pod's series and spans take from the kubelet. */
struct kubelet_pod_meta {
	char namespace[KUBELET_NAMESPACE_MAX];
	char pod[KUBELET_NAME_MAX];
	char container[KUBELET_NAME_MAX]; /* "" unless KUBELET_FOUND */
	char deployment[KUBELET_NAME_MAX];
	char statefulset[KUBELET_NAME_MAX];
	char daemonset[KUBELET_NAME_MAX];
	unsigned int compat; /* its podtap.io/compat label (lib/compat.h) */
};

enum kubelet_answer {
	KUBELET_NO_LIST = 0,       /* no good list yet: *out untouched */
	KUBELET_UNKNOWN_POD,       /* not in the list: *out untouched */
	KUBELET_UNKNOWN_CONTAINER, /* the pod's fields filled, container "" */
	KUBELET_FOUND,             /* all of *out filled */
};

/*
 * The pod `uid` and, in it, the container with `container_id` (as its
 * cgroup names it; "" for the pod's own cgroup, which names its only
 * regular container if it has one).
 */
enum kubelet_answer kubelet_cache_find(struct kubelet_cache *c,
				       const char *uid,
				       const char *container_id,
				       struct kubelet_pod_meta *out);

#endif /* PODTAP_KUBELET_CACHE_H */
