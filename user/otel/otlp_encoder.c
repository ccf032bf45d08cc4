// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sanitize.h"
#include "lib/version.h"
#include "otel/otlp_encoder.h"
#include "otlp.pb-c.h"

#define SPAN_ATTRS_MAX 10     /* the HTTP attributes of struct span */
#define RESOURCE_ATTRS_MAX 15 /* the fields of span_resource + sdk trio */

/* Sanitised copies of strings that were not in their sanitised form,
 * freed with the request. */
struct str_copy {
	struct str_copy *next;
	char s[];
};

/*
 * Every KeyValue of a request, its AnyValue, and the pointer arrays
 * protobuf-c wants, carved from arrays sized up front. An attribute list is
 * a window of `ptr` that starts at `used`: kv, val and ptr advance together.
 */
struct attr_pool {
	Podtap__Otlp__KeyValue *kv;
	Podtap__Otlp__AnyValue *val;
	Podtap__Otlp__KeyValue **ptr;
	size_t used;
	struct str_copy *copies;
	bool oom;
};

struct attr_list {
	Podtap__Otlp__KeyValue **ptr;
	size_t n;
};

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

/*
 * protobuf string fields must hold UTF-8 and strict decoders (the
 * collector's) reject the whole request otherwise, but paths, user agents
 * and names come from anywhere as any bytes. Returns s when it is already
 * in its sanitised form (sanitize.h), else a sanitised copy.
 */
static char *pb_str(struct attr_pool *p, const char *s)
{
	size_t n = strlen(s);
	struct str_copy *c;

	if (sanitize_is_clean(s, n))
		return (char *)s; /* protobuf-c only reads it */
	c = malloc(sizeof(*c) + SANITIZE_MAX + 1);
	if (!c) {
		p->oom = true;
		return "";
	}
	c->next = p->copies;
	p->copies = c;
	sanitize_text(s, n, c->s, SANITIZE_MAX + 1);
	return c->s;
}

static void attr_list_start(struct attr_pool *p, struct attr_list *l)
{
	l->ptr = p->ptr + p->used;
	l->n = 0;
}

/* key: a literal of ours (clean UTF-8 already) unless `from_user`, as the
 * keys of OTEL_RESOURCE_ATTRIBUTES are. */
static Podtap__Otlp__AnyValue *attr_add(struct attr_pool *p,
					struct attr_list *l, const char *key,
					bool from_user)
{
	Podtap__Otlp__KeyValue *kv = &p->kv[p->used];
	Podtap__Otlp__AnyValue *v = &p->val[p->used];

	p->used++;
	podtap__otlp__key_value__init(kv);
	podtap__otlp__any_value__init(v);
	kv->key = from_user ? pb_str(p, key) : (char *)key;
	kv->value = v;
	l->ptr[l->n++] = kv;
	return v;
}

static void attr_str_key(struct attr_pool *p, struct attr_list *l,
			 const char *key, bool key_from_user, const char *val)
{
	Podtap__Otlp__AnyValue *v;

	if (!val[0])
		return;
	v = attr_add(p, l, key, key_from_user);
	v->value_case = PODTAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = pb_str(p, val);
}

/* An attribute under one of our own keys. */
static void attr_str(struct attr_pool *p, struct attr_list *l,
		     const char *key, const char *val)
{
	attr_str_key(p, l, key, false, val);
}

static void attr_int(struct attr_pool *p, struct attr_list *l,
		     const char *key, int64_t val)
{
	Podtap__Otlp__AnyValue *v;

	if (!val)
		return;
	v = attr_add(p, l, key, false);
	v->value_case = PODTAP__OTLP__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = val;
}

static bool attr_has(const struct attr_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->ptr[i]->key, key))
			return true;
	return false;
}

static unsigned int resource_n_extra(const struct span_resource *r)
{
	return r->n_extra < SPAN_RESOURCE_EXTRA_MAX ? r->n_extra
						     : SPAN_RESOURCE_EXTRA_MAX;
}

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

static void fill_resource(struct attr_pool *p, Podtap__Otlp__Resource *pr,
			  const struct span_resource *r)
{
	struct attr_list l;

	attr_list_start(p, &l);
	/* The resource conventions require service.name; this is the SDKs'
	 * fallback. */
	attr_str(p, &l, "service.name",
		 r->service_name[0] ? r->service_name : "unknown_service");
	attr_str(p, &l, "k8s.namespace.name", r->k8s_namespace_name);
	attr_str(p, &l, "k8s.pod.name", r->k8s_pod_name);
	attr_str(p, &l, "k8s.pod.uid", r->k8s_pod_uid);
	attr_str(p, &l, "k8s.container.name", r->k8s_container_name);
	attr_str(p, &l, "k8s.node.name", r->k8s_node_name);
	attr_str(p, &l, "k8s.deployment.name", r->k8s_deployment_name);
	attr_str(p, &l, "k8s.statefulset.name", r->k8s_statefulset_name);
	attr_str(p, &l, "k8s.daemonset.name", r->k8s_daemonset_name);
	attr_int(p, &l, "process.pid", r->process_pid);
	attr_str(p, &l, "process.runtime.name", r->process_runtime_name);
	attr_str(p, &l, "process.runtime.version", r->process_runtime_version);
	attr_str(p, &l, "telemetry.sdk.name", OTLP_SDK_NAME);
	attr_str(p, &l, "telemetry.sdk.language", OTLP_SDK_LANGUAGE);
	attr_str(p, &l, "telemetry.sdk.version", PODTAP_VERSION);
	/* OTLP wants keys unique within a resource. */
	for (unsigned int i = 0; i < resource_n_extra(r); i++)
		if (r->extra[i].key[0] && !attr_has(&l, r->extra[i].key))
			attr_str_key(p, &l, r->extra[i].key, true,
				     r->extra[i].value);

	podtap__otlp__resource__init(pr);
	pr->attributes = l.ptr;
	pr->n_attributes = l.n;
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
		n += RESOURCE_ATTRS_MAX + resource_n_extra(req->groups[g].res);
	return n;
}

static void request_free(struct request *req)
{
	struct str_copy *c, *next;

	for (c = req->pool.copies; c; c = next) {
		next = c->next;
		free(c);
	}
	free(req->pool.kv);
	free(req->pool.val);
	free(req->pool.ptr);
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
	req->pool.kv = calloc(nattrs, sizeof(*req->pool.kv));
	req->pool.val = calloc(nattrs, sizeof(*req->pool.val));
	req->pool.ptr = calloc(nattrs, sizeof(*req->pool.ptr));
	req->spans = calloc(n, sizeof(*req->spans));
	req->span_ptrs = calloc(n, sizeof(*req->span_ptrs));
	req->statuses = calloc(n, sizeof(*req->statuses));
	req->rs = calloc(req->ngroups, sizeof(*req->rs));
	req->rs_ptrs = calloc(req->ngroups, sizeof(*req->rs_ptrs));
	req->ss = calloc(req->ngroups, sizeof(*req->ss));
	req->ss_ptrs = calloc(req->ngroups, sizeof(*req->ss_ptrs));
	req->resources = calloc(req->ngroups, sizeof(*req->resources));
	if (!req->pool.kv || !req->pool.val || !req->pool.ptr || !req->spans ||
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

	podtap__otlp__instrumentation_scope__init(&req->scope);
	req->scope.name = pb_str(&req->pool, OTLP_SCOPE_NAME);
	req->scope.version = pb_str(&req->pool, PODTAP_VERSION);

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

		fill_resource(&req->pool, &req->resources[g], grp->res);
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

int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected,
			 char *msg, size_t msg_size)
{
	Podtap__Otlp__ExportTraceServiceResponse *resp;
	const Podtap__Otlp__ExportTracePartialSuccess *ps;

	resp = podtap__otlp__export_trace_service_response__unpack(NULL, len,
								    buf);
	if (!resp)
		return -EINVAL;
	ps = resp->partial_success;
	*rejected = ps ? ps->rejected_spans : 0;
	if (msg_size)
		snprintf(msg, msg_size, "%s",
			 ps && ps->error_message ? ps->error_message : "");
	podtap__otlp__export_trace_service_response__free_unpacked(resp, NULL);
	return 0;
}
