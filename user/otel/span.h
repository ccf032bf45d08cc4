/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's span: one HTTP exchange as an OpenTelemetry span, with the
 * attributes of the OpenTelemetry HTTP semantic conventions, and the
 * resource (the workload) it belongs to. Fixed-size and pointer-free apart
 * from `resource`, so spans can be copied into a bounded queue as they are.
 *
 * Strings are NUL-terminated; an empty string or a zero number means "not
 * known", and the encoder leaves that attribute out.
 */
#ifndef PODTAP_SPAN_H
#define PODTAP_SPAN_H

#include <stdint.h>

#define SPAN_TRACE_ID_SIZE 16
#define SPAN_ID_SIZE 8

#define SPAN_NAME_MAX 288   /* "METHOD route": method + ' ' + route */
#define SPAN_METHOD_MAX 16
#define SPAN_PATH_MAX 1024  /* as much as the HTTP parser keeps */
#define SPAN_SCHEME_MAX 8
#define SPAN_ROUTE_MAX 256
#define SPAN_HOST_MAX 256   /* a DNS name is at most 253 characters */
#define SPAN_ADDR_MAX 48    /* INET6_ADDRSTRLEN (46), rounded up */
#define SPAN_UA_MAX 512

enum span_kind {
	SPAN_KIND_SERVER = 0,
	SPAN_KIND_CLIENT = 1,
};

/* OK is never set: the HTTP conventions leave server 4xx and everything
 * below 400 unset. */
enum span_status {
	SPAN_STATUS_UNSET = 0,
	SPAN_STATUS_ERROR = 1,
};

struct span_resource;

struct span {
	uint8_t trace_id[SPAN_TRACE_ID_SIZE];
	uint8_t span_id[SPAN_ID_SIZE];
	uint8_t parent_span_id[SPAN_ID_SIZE]; /* all zero: a root span */
	char name[SPAN_NAME_MAX];
	enum span_kind kind;
	enum span_status status;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;

	char http_request_method[SPAN_METHOD_MAX];   /* http.request.method */
	char url_path[SPAN_PATH_MAX];                /* url.path */
	char url_scheme[SPAN_SCHEME_MAX];            /* url.scheme */
	char http_route[SPAN_ROUTE_MAX];             /* http.route */
	uint16_t http_response_status_code;    /* http.response.status_code */
	char server_address[SPAN_HOST_MAX];          /* server.address */
	uint16_t server_port;                        /* server.port */
	char client_address[SPAN_ADDR_MAX];          /* client.address */
	char network_peer_address[SPAN_ADDR_MAX];    /* network.peer.address */
	char user_agent_original[SPAN_UA_MAX];       /* user_agent.original */

	/* Shared by all spans of one workload; whoever queues the span keeps
	 * it alive and unchanged until the span has been encoded. NULL is
	 * taken as a resource with nothing known. */
	const struct span_resource *resource;
};

#define SPAN_RESOURCE_EXTRA_MAX 32
#define SPAN_RESOURCE_KEY_MAX 128
#define SPAN_RESOURCE_VALUE_MAX 256

/* One OTEL_RESOURCE_ATTRIBUTES entry, already percent-decoded. */
struct span_resource_attr {
	char key[SPAN_RESOURCE_KEY_MAX];
	char value[SPAN_RESOURCE_VALUE_MAX];
};

struct span_resource {
	char service_name[254];            /* service.name */
	char k8s_namespace_name[64];       /* k8s.namespace.name */
	char k8s_pod_name[254];            /* k8s.pod.name */
	char k8s_pod_uid[40];              /* k8s.pod.uid */
	char k8s_container_name[254];      /* k8s.container.name */
	char k8s_node_name[254];           /* k8s.node.name */
	char k8s_deployment_name[254];     /* k8s.deployment.name */
	char k8s_statefulset_name[254];    /* k8s.statefulset.name */
	char k8s_daemonset_name[254];      /* k8s.daemonset.name */
	uint32_t process_pid;              /* process.pid */
	char process_runtime_name[32];     /* process.runtime.name */
	char process_runtime_version[32];  /* process.runtime.version */

	/* Added after the attributes above, whose keys win on a clash; within
	 * `extra` the first occurrence of a key wins. */
	unsigned int n_extra;
	struct span_resource_attr extra[SPAN_RESOURCE_EXTRA_MAX];
};

#endif /* PODTAP_SPAN_H */
