/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kubelet as a source of pod metadata: GET <url>/pods with the service
 * account's bearer token (read again for every request: bound tokens
 * rotate), over TLS checked against the given CA, on a thread of its own
 * so a slow or absent kubelet never holds up capture. The list is fetched
 * at start, every refresh_s seconds, and when a lookup names a pod or
 * container it does not have (at most once a second). A good list replaces
 * the previous one in the cache (kubelet_cache.h); a failed request keeps
 * it, is counted by reason and logged once per change of state.
 */
#ifndef PODTAP_KUBELET_H
#define PODTAP_KUBELET_H

#include <stdbool.h>
#include <stdint.h>

#include "k8s/kubelet_cache.h"

struct kubelet_opts {
	const char *url;        /* base URL: https://NODE_IP:10250 */
	const char *token_file; /* "": send no token */
	const char *ca_file;    /* "": the system CA store */
	bool insecure_skip_verify;
	unsigned int refresh_s;
};

/* Label values of podtap_kubelet_errors_total{reason}. */
enum kubelet_error {
	KUBELET_ERR_CONNECT = 0, /* "connect": no connection */
	KUBELET_ERR_TIMEOUT,     /* "timeout": no complete answer in time */
	KUBELET_ERR_TLS,         /* "tls": handshake or certificate check */
	KUBELET_ERR_UNAUTHORIZED, /* "unauthorized": 401, token refused */
	KUBELET_ERR_FORBIDDEN,   /* "forbidden": 403, RBAC */
	KUBELET_ERR_HTTP_STATUS, /* "http_status": any other non-200 */
	KUBELET_ERR_TOO_LARGE,   /* "too_large": over KUBELET_PODLIST_MAX */
	KUBELET_ERR_PARSE,       /* "parse": not a PodList */
	KUBELET_ERR_TOKEN,       /* "token": the token file is unreadable */
	KUBELET_ERR_OTHER,       /* "other": any other transfer failure */
	KUBELET_ERR__COUNT,
};

struct kubelet_stats {
	uint64_t requests; /* GET /pods requests done, failed ones (an
			    * unreadable token included) too */
	uint64_t errors[KUBELET_ERR__COUNT];
	uint64_t pods;     /* in the last good list */
};

struct kubelet;

/* Starts the fetch thread (the first request goes out at once). Returns
 * NULL after logging why. */
struct kubelet *kubelet_start(const struct kubelet_opts *opts);
/* Stops the thread (aborting a request in flight) and frees everything. */
void kubelet_stop(struct kubelet *k); /* accepts NULL */

struct kubelet_cache *kubelet_cache_of(struct kubelet *k);
void kubelet_get_stats(struct kubelet *k, struct kubelet_stats *out);
const char *kubelet_error_name(enum kubelet_error e);

#endif /* PODTAP_KUBELET_H */
