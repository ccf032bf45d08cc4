/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the span and the metric encoders build alike: attribute lists
 * (KeyValue/AnyValue) carved from one pool per request, protobuf strings
 * in their sanitised form, and a Resource from a struct span_resource.
 */
#ifndef PODTAP_OTLP_ATTRS_H
#define PODTAP_OTLP_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"
#include "otlp.pb-c.h"

#define OTLP_SCOPE_NAME "podtap"
#define OTLP_SDK_NAME "podtap"
/*
 * telemetry.sdk.language is an enum whose well-known values name the
 * languages OpenTelemetry has SDKs for; C has neither an SDK nor a value.
 * C programs instrument themselves through the C++ SDK (opentelemetry-cpp),
 * so "cpp" is the value that stands for native code, and the one backends
 * know, where a custom "c" would show up as unknown.
 */
#define OTLP_SDK_LANGUAGE "cpp"

/* The attributes fill_resource adds before the extra ones: the fields of
 * span_resource and the telemetry.sdk trio. */
#define OTLP_RESOURCE_ATTRS_MAX 15

/* Sanitised copies of strings that were not in their sanitised form,
 * freed with the pool. */
struct str_copy;

/*
 * Every KeyValue of a request, its AnyValue, and the pointer arrays
 * protobuf-c wants, carved from arrays sized up front. An attribute list is
 * a window of `ptr` that starts at `used`: kv, val and ptr advance together.
 */
struct attr_pool {
	Podtap__Otlp__KeyValue *kv;
	Podtap__Otlp__AnyValue *val;
	Podtap__Otlp__KeyValue **ptr;
	size_t used, cap;
	struct str_copy *copies;
	bool oom; /* a copy could not be made: the request is not sent */
};

struct attr_list {
	Podtap__Otlp__KeyValue **ptr;
	size_t n;
};

/* Room for n attributes. Returns 0 or -ENOMEM. */
int attr_pool_init(struct attr_pool *p, size_t n);
void attr_pool_fini(struct attr_pool *p);

/*
 * protobuf string fields must hold UTF-8 and strict decoders (the
 * collector's) reject the whole request otherwise, but paths, user agents
 * and names come from anywhere as any bytes. Returns s when it is already
 * in its sanitised form (sanitize.h), else a sanitised copy.
 */
char *pb_str(struct attr_pool *p, const char *s);

void attr_list_start(struct attr_pool *p, struct attr_list *l);

/* A string attribute under one of our own keys; "" adds nothing. */
void attr_str(struct attr_pool *p, struct attr_list *l, const char *key,
	      const char *val);
/* An int attribute; 0 adds nothing. */
void attr_int(struct attr_pool *p, struct attr_list *l, const char *key,
	      int64_t val);

unsigned int resource_n_extra(const struct span_resource *r);

/* service.name ("unknown_service" when empty), the k8s.* and process.*
 * attributes of r that are known, telemetry.sdk.*, then those of
 * extra[0..n_extra) whose keys are not taken (r's own, or shared ones).
 * Needs OTLP_RESOURCE_ATTRS_MAX + n_extra attributes of room. */
void fill_resource(struct attr_pool *p, Podtap__Otlp__Resource *pr,
		   const struct span_resource *r,
		   const struct span_resource_attr *extra, unsigned int n_extra);

/* The instrumentation scope of everything podtap sends. */
void fill_scope(struct attr_pool *p, Podtap__Otlp__InstrumentationScope *s);

#endif /* PODTAP_OTLP_ATTRS_H */
