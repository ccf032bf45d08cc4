// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_attrs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sanitize.h"
#include "lib/version.h"

struct str_copy {
	struct str_copy *next;
	char s[];
};

int attr_pool_init(struct attr_pool *p, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->cap = n ? n : 1;
	p->kv = calloc(p->cap, sizeof(*p->kv));
	p->val = calloc(p->cap, sizeof(*p->val));
	p->ptr = calloc(p->cap, sizeof(*p->ptr));
	return p->kv && p->val && p->ptr ? 0 : -ENOMEM;
}

void attr_pool_fini(struct attr_pool *p)
{
	struct str_copy *c, *next;

	for (c = p->copies; c; c = next) {
		next = c->next;
		free(c);
	}
	free(p->kv);
	free(p->val);
	free(p->ptr);
	memset(p, 0, sizeof(*p));
}

/* Its comment is in the header: the why of sanitising. */
char *pb_str(struct attr_pool *p, const char *s)
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

void attr_list_start(struct attr_pool *p, struct attr_list *l)
{
	l->ptr = p->ptr + p->used;
	l->n = 0;
}

/* key: a literal of ours (clean UTF-8 already) unless `from_user`, as the
 * keys of OTEL_RESOURCE_ATTRIBUTES are. NULL past the pool's room, which
 * the encoders size exactly: a miscount fails the request, not memory. */
static Podtap__Otlp__AnyValue *attr_add(struct attr_pool *p,
					struct attr_list *l, const char *key,
					bool from_user)
{
	Podtap__Otlp__KeyValue *kv;
	Podtap__Otlp__AnyValue *v;

	if (p->used >= p->cap) {
		p->oom = true;
		return NULL;
	}
	kv = &p->kv[p->used];
	v = &p->val[p->used];
	p->used++;
	podtap__otlp__key_value__init(kv);
	podtap__otlp__any_value__init(v);
	kv->key = from_user ? pb_str(p, key) : (char *)key;
	kv->value = v;
	l->ptr[l->n++] = kv;
	return v;
}

/* A string attribute; its key is sanitised when it comes from the user
 * (OTEL_RESOURCE_ATTRIBUTES). */
static void attr_str_key(struct attr_pool *p, struct attr_list *l,
			 const char *key, bool key_from_user, const char *val)
{
	Podtap__Otlp__AnyValue *v;

	if (!val[0])
		return;
	v = attr_add(p, l, key, key_from_user);
	if (!v)
		return;
	v->value_case = PODTAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = pb_str(p, val);
}

void attr_str(struct attr_pool *p, struct attr_list *l, const char *key,
	      const char *val)
{
	attr_str_key(p, l, key, false, val);
}

void attr_int(struct attr_pool *p, struct attr_list *l, const char *key,
	      int64_t val)
{
	Podtap__Otlp__AnyValue *v;

	if (!val)
		return;
	v = attr_add(p, l, key, false);
	if (!v)
		return;
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

unsigned int resource_n_extra(const struct span_resource *r)
{
	return r->n_extra < SPAN_RESOURCE_EXTRA_MAX ? r->n_extra
						     : SPAN_RESOURCE_EXTRA_MAX;
}

void fill_resource(struct attr_pool *p, Podtap__Otlp__Resource *pr,
		   const struct span_resource *r,
		   const struct span_resource_attr *extra, unsigned int n_extra)
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
	for (unsigned int i = 0; i < n_extra; i++)
		if (extra[i].key[0] && !attr_has(&l, extra[i].key))
			attr_str_key(p, &l, extra[i].key, true,
				     extra[i].value);

	podtap__otlp__resource__init(pr);
	pr->attributes = l.ptr;
	pr->n_attributes = l.n;
}

void fill_scope(struct attr_pool *p, Podtap__Otlp__InstrumentationScope *s)
{
	podtap__otlp__instrumentation_scope__init(s);
	s->name = pb_str(p, OTLP_SCOPE_NAME);
	s->version = pb_str(p, PODTAP_VERSION);
}
