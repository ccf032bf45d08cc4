// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otel/otlp_encoder.h"
#include "otel/otlp_attrs.h"
#include "otlp.pb-c.h"

#define SPAN_ATTRS_MAX 10     /* the HTTP attributes of struct span */

/* Spans of one resource: a window of the request's span pointers. */
struct group {
	const struct span_resource *res;
	size_t n;
	Podtap__Otlp__Span **spans;
	size_t filled;
};

/* Everything a request is built from; protobuf-c only points into it. */
struct request {
	struct group *groups;
	size_t ngroups;
	size_t *group_of; /* span index -> group */
	Podtap__Otlp__Span *spans;
	Podtap__Otlp__Span **span_ptrs;
	Podtap__Otlp__Status *statuses;
	Podtap__Otlp__ResourceSpans *rs;
	Podtap__Otlp__ResourceSpans **rs_ptrs;
	Podtap__Otlp__ScopeSpans *ss;
	Podtap__Otlp__ScopeSpans **ss_ptrs;
	Podtap__Otlp__Resource *resources;
	Podtap__Otlp__InstrumentationScope scope;
	struct attr_pool pool;
};

static const struct span_resource no_resource;

static bool resource_equal(const struct span_resource *a,
			   const struct span_resource *b)
{
	unsigned int n = resource_n_extra(a);

	if (a == b)
		return true;
	if (strcmp(a->service_name, b->service_name) ||
	    strcmp(a->k8s_namespace_name, b->k8s_namespace_name) ||
	    strcmp(a->k8s_pod_name, b->k8s_pod_name) ||
	    strcmp(a->k8s_pod_uid, b->k8s_pod_uid) ||
	    strcmp(a->k8s_container_name, b->k8s_container_name) ||
	    strcmp(a->k8s_node_name, b->k8s_node_name) ||
	    strcmp(a->k8s_deployment_name, b->k8s_deployment_name) ||
	    strcmp(a->k8s_statefulset_name, b->k8s_statefulset_name) ||
	    strcmp(a->k8s_daemonset_name, b->k8s_daemonset_name) ||
	    a->process_pid != b->process_pid ||
	    strcmp(a->process_runtime_name, b->process_runtime_name) ||
	    strcmp(a->process_runtime_version, b->process_runtime_version) ||
	    n != resource_n_extra(b))
		return false;
	for (unsigned int i = 0; i < n; i++)
		if (strcmp(a->extra[i].key, b->extra[i].key) ||
		    strcmp(a->extra[i].value, b->extra[i].value))
			return false;
	return true;
}

static bool id_is_zero(const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (id[i])
			return false;
	return true;
}

static void fill_span(struct attr_pool *p, Podtap__Otlp__Span *ps,
		      Podtap__Otlp__Status *st, const struct span *s)
{
	struct attr_list l;

	podtap__otlp__span__init(ps);
	/* protobuf-c only reads through these */
	ps->trace_id.data = (uint8_t *)s->trace_id;
	ps->trace_id.len = sizeof(s->trace_id);
	ps->span_id.data = (uint8_t *)s->span_id;
	ps->span_id.len = sizeof(s->span_id);
	/* A root span has no parent_span_id at all, not eight zero bytes. */
	if (!id_is_zero(s->parent_span_id, sizeof(s->parent_span_id))) {
		ps->parent_span_id.data = (uint8_t *)s->parent_span_id;
		ps->parent_span_id.len = sizeof(s->parent_span_id);
	}
	ps->name = pb_str(p, s->name);
	ps->kind = s->kind == SPAN_KIND_CLIENT ?
			   PODTAP__OTLP__SPAN__SPAN_KIND__SPAN_KIND_CLIENT :
			   PODTAP__OTLP__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
	ps->start_time_unix_nano = s->start_unix_ns;
	ps->end_time_unix_nano = s->end_unix_ns;

	podtap__otlp__status__init(st);
	st->code = s->status == SPAN_STATUS_ERROR ?
			   PODTAP__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR :
			   PODTAP__OTLP__STATUS__STATUS_CODE__STATUS_CODE_UNSET;
	ps->status = st;

	attr_list_start(p, &l);
	attr_str(p, &l, "http.request.method", s->http_request_method);
	attr_str(p, &l, "url.path", s->url_path);
	attr_str(p, &l, "url.scheme", s->url_scheme);
	attr_str(p, &l, "http.route", s->http_route);
	attr_int(p, &l, "http.response.status_code",
		 s->http_response_status_code);
	attr_str(p, &l, "server.address", s->server_address);
	attr_int(p, &l, "server.port", s->server_port);
	attr_str(p, &l, "client.address", s->client_address);
	attr_str(p, &l, "network.peer.address", s->network_peer_address);
	attr_str(p, &l, "user_agent.original", s->user_agent_original);
	ps->attributes = l.ptr;
	ps->n_attributes = l.n;
}

static const struct span_resource *span_res(const struct span *s)
{
	return s->resource ? s->resource : &no_resource;
}

/* Assigns each span to the group of the first span with an equal resource. */
static void group_spans(struct request *req, const struct span *const *spans,
			size_t n)
{
	const struct span_resource *res;
	size_t g;

	for (size_t i = 0; i < n; i++) {
		res = span_res(spans[i]);
		for (g = 0; g < req->ngroups; g++)
			if (resource_equal(req->groups[g].res, res))
				break;
		if (g == req->ngroups)
			req->groups[req->ngroups++].res = res;
		req->groups[g].n++;
		req->group_of[i] = g;
	}
}

static size_t attrs_needed(const struct request *req, size_t nspans)
{
	size_t n = nspans * SPAN_ATTRS_MAX;

	for (size_t g = 0; g < req->ngroups; g++)
		n += OTLP_RESOURCE_ATTRS_MAX + resource_n_extra(req->groups[g].res);
	return n;
}

static void request_free(struct request *req)
{
	attr_pool_fini(&req->pool);
	free(req->groups);
	free(req->group_of);
	free(req->spans);
	free(req->span_ptrs);
	free(req->statuses);
	free(req->rs);
	free(req->rs_ptrs);
	free(req->ss);
	free(req->ss_ptrs);
	free(req->resources);
}

static int request_alloc(struct request *req, const struct span *const *spans,
			 size_t n)
{
	size_t nattrs;

	req->groups = calloc(n, sizeof(*req->groups));
	req->group_of = calloc(n, sizeof(*req->group_of));
	if (!req->groups || !req->group_of)
		return -ENOMEM;
	group_spans(req, spans, n);

	nattrs = attrs_needed(req, n);
	if (attr_pool_init(&req->pool, nattrs))
		return -ENOMEM;
	req->spans = calloc(n, sizeof(*req->spans));
	req->span_ptrs = calloc(n, sizeof(*req->span_ptrs));
	req->statuses = calloc(n, sizeof(*req->statuses));
	req->rs = calloc(req->ngroups, sizeof(*req->rs));
	req->rs_ptrs = calloc(req->ngroups, sizeof(*req->rs_ptrs));
	req->ss = calloc(req->ngroups, sizeof(*req->ss));
	req->ss_ptrs = calloc(req->ngroups, sizeof(*req->ss_ptrs));
	req->resources = calloc(req->ngroups, sizeof(*req->resources));
	if (!req->spans ||
	    !req->span_ptrs || !req->statuses || !req->rs || !req->rs_ptrs ||
	    !req->ss || !req->ss_ptrs || !req->resources)
		return -ENOMEM;
	return 0;
}

static void request_fill(struct request *req, const struct span *const *spans,
			 size_t n)
{
	Podtap__Otlp__ScopeSpans *ss;
	Podtap__Otlp__ResourceSpans *rs;
	struct group *grp;
	size_t off = 0;

	fill_scope(&req->pool, &req->scope);

	for (size_t g = 0; g < req->ngroups; g++) {
		grp = &req->groups[g];
		grp->spans = req->span_ptrs + off;
		off += grp->n;

		ss = &req->ss[g];
		podtap__otlp__scope_spans__init(ss);
		ss->scope = &req->scope;
		ss->spans = grp->spans;
		ss->n_spans = grp->n;
		req->ss_ptrs[g] = ss;

		fill_resource(&req->pool, &req->resources[g], grp->res,
			      grp->res->extra, resource_n_extra(grp->res));
		rs = &req->rs[g];
		podtap__otlp__resource_spans__init(rs);
		rs->resource = &req->resources[g];
		rs->scope_spans = &req->ss_ptrs[g];
		rs->n_scope_spans = 1;
		req->rs_ptrs[g] = rs;
	}
	for (size_t i = 0; i < n; i++) {
		grp = &req->groups[req->group_of[i]];
		fill_span(&req->pool, &req->spans[i], &req->statuses[i],
			  spans[i]);
		grp->spans[grp->filled++] = &req->spans[i];
	}
}

int otlp_encode_traces(const struct span *const *spans, size_t n,
		       uint8_t **out, size_t *out_len)
{
	Podtap__Otlp__ExportTraceServiceRequest msg;
	struct request req = {0};
	uint8_t *buf = NULL;
	size_t len;
	int err;

	if (!n)
		return -EINVAL;
	err = request_alloc(&req, spans, n);
	if (err)
		goto cleanup;
	request_fill(&req, spans, n);
	if (req.pool.oom) {
		err = -ENOMEM;
		goto cleanup;
	}

	podtap__otlp__export_trace_service_request__init(&msg);
	msg.resource_spans = req.rs_ptrs;
	msg.n_resource_spans = req.ngroups;
	len = podtap__otlp__export_trace_service_request__get_packed_size(&msg);
	buf = malloc(len);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	podtap__otlp__export_trace_service_request__pack(&msg, buf);
	*out = buf;
	*out_len = len;
cleanup:
	request_free(&req);
	return err;
}
