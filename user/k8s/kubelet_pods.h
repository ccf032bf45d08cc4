/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kubelet's PodList (GET /pods on its port 10250) -> what podtap needs
 * of each pod: UID, namespace, name, labels, containers with their ids, and
 * the workload that owns it. Pure parsing with json-c; no I/O.
 *
 * The owner is the controller ownerReference: a ReplicaSet whose name is
 * "<deployment>-<pod-template-hash>" (the pod's own pod-template-hash label
 * says where the suffix starts) names a Deployment; a StatefulSet or
 * DaemonSet names itself. Static pods (their UID is the manifest's hash,
 * their owner the Node) and bare pods have no workload.
 */
#ifndef PODTAP_KUBELET_PODS_H
#define PODTAP_KUBELET_PODS_H

#include <stddef.h>

#include "k8s/cgroup_path.h"

#define KUBELET_NAMESPACE_MAX 64 /* a DNS label (63) + NUL */
#define KUBELET_NAME_MAX 254     /* a DNS subdomain (253) + NUL */
#define KUBELET_KIND_MAX 64
#define KUBELET_RUNTIME_MAX 16

/* Inputs past this many bytes are refused before parsing. */
#define KUBELET_PODLIST_MAX (64u << 20)

enum kubelet_container_kind {
	KUBELET_CONTAINER = 0,  /* spec.containers */
	KUBELET_INIT_CONTAINER, /* spec.initContainers (sidecars included) */
	KUBELET_EPHEMERAL_CONTAINER,
};

struct kubelet_container {
	char name[KUBELET_NAME_MAX];
	/* status.*ContainerStatuses[].containerID without its
	 * "<runtime>://": "" until the container has started */
	char id[CONTAINER_ID_MAX];
	char runtime[KUBELET_RUNTIME_MAX]; /* "containerd", "cri-o", ... */
	enum kubelet_container_kind kind;
};

struct kubelet_label {
	char *key;
	char *value;
};

struct kubelet_pod {
	char uid[POD_UID_LEN]; /* lower case, as cgroup paths give it */
	char namespace[KUBELET_NAMESPACE_MAX];
	char name[KUBELET_NAME_MAX];
	char owner_kind[KUBELET_KIND_MAX]; /* the controller; "" if none */
	char owner_name[KUBELET_NAME_MAX];
	char deployment[KUBELET_NAME_MAX];  /* "" unless owned through one */
	char statefulset[KUBELET_NAME_MAX];
	char daemonset[KUBELET_NAME_MAX];
	struct kubelet_label *labels;
	size_t nlabels;
	struct kubelet_container *containers;
	size_t ncontainers;
};

struct kubelet_pod_list {
	struct kubelet_pod *pods;
	size_t npods;
	size_t skipped; /* items without a usable uid, namespace or name */
};

/*
 * Parses a PodList. Returns 0 and fills *out (free with
 * kubelet_pod_list_free), or -1 with *out empty and the reason in err:
 * not JSON, too deep, too large, or not a PodList. Items that are not
 * pods podtap can use are skipped and counted, not fatal.
 */
int kubelet_pods_parse(const char *json, size_t len,
		       struct kubelet_pod_list *out, char *err, size_t errsize);
void kubelet_pod_list_free(struct kubelet_pod_list *l); /* accepts empty */

/* The value of label `key`, or NULL. */
const char *kubelet_pod_label(const struct kubelet_pod *p, const char *key);

#endif /* PODTAP_KUBELET_PODS_H */
