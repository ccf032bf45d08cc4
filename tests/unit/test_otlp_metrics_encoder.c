// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics body, decoded back with protobuf-c over podtap's own schema
 * (tests/e2e/otlp_metrics.bats decodes it with the official one). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "k8s/pod_resolver.h"
#include "lib/version.h"
#include "otel/otlp_metrics_encoder.h"
#include "otlp.pb-c.h"

#define KV_STRING PODTAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE
#define KV_INT PODTAP__OTLP__ANY_VALUE__VALUE_INT_VALUE
#define NOW 1800000000000000000ULL

static const struct workload web = {
	.in_pod = true, .namespace = "shop", .pod = "web-1",
	.container = "web", .service = "web", .deployment = "web",
};
static const struct workload host = { .service = "curl" };

static const uint64_t buckets_a[METRICS_NBOUNDS + 1] = { 3, 1, 0, 0, 0, 0,
							 0, 0, 0, 0, 0, 0,
							 0, 0, 1 };
static const uint64_t buckets_b[METRICS_NBOUNDS + 1] = { 0, 2 };

static const struct span_resource_attr extra[] = {
	{ "deployment.environment.name", "staging" },
	{ "service.name", "must-not-win" },
};

static const struct otlp_metrics_resource res = {
	.node_name = "node-1", .extra = extra, .n_extra = 2,
};

/* Views as metrics_visit gives them: in no particular order. */
static void views(struct metrics_series_view v[4])
{
	v[0] = (struct metrics_series_view){
		.side = METRICS_SERVER, .w = &web, .method = "GET",
		.route = "/users/{id}", .scheme = "http", .status = 200,
		.server_address = "", .start_unix_ns = NOW - 5,
		.buckets = buckets_a, .count = 5, .sum = 12.5,
	};
	v[1] = (struct metrics_series_view){
		.side = METRICS_CLIENT, .w = &host, .method = "POST",
		.route = "/items", .scheme = "http", .status = 201,
		.server_address = "127.0.0.1", .server_port = 8080,
		.start_unix_ns = NOW - 9, .buckets = buckets_b, .count = 2,
		.sum = 0.02,
	};
	v[2] = (struct metrics_series_view){
		.side = METRICS_CLIENT, .w = &web, .method = "GET",
		.route = "/\xff\xfe", .scheme = "https", .status = 502,
		.server_address = "api.example", .server_port = 443,
		.start_unix_ns = NOW - 1, .buckets = buckets_b, .count = 2,
		.sum = 0.03,
	};
	v[3] = (struct metrics_series_view){
		.side = METRICS_SERVER, .w = &web, .method = "_OTHER",
		.route = "/", .scheme = "http", .status = 404,
		.server_address = "", .start_unix_ns = NOW + 7, /* made late */
		.buckets = buckets_b, .count = 2, .sum = 0.01,
	};
}

static const Podtap__Otlp__AnyValue *attr(Podtap__Otlp__KeyValue **kv,
					  size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

static const char *attr_s(Podtap__Otlp__KeyValue **kv, size_t n,
			  const char *key)
{
	const Podtap__Otlp__AnyValue *v = attr(kv, n, key);

	return v && v->value_case == KV_STRING ? v->string_value : NULL;
}

static int64_t attr_i(Podtap__Otlp__KeyValue **kv, size_t n, const char *key)
{
	const Podtap__Otlp__AnyValue *v = attr(kv, n, key);

	return v && v->value_case == KV_INT ? v->int_value : -1;
}

static Podtap__Otlp__ExportMetricsServiceRequest *encode_decode(void)
{
	struct metrics_series_view v[4];
	uint8_t *buf = NULL;
	size_t len = 0;
	Podtap__Otlp__ExportMetricsServiceRequest *req;

	views(v);
	CHECK_INT(otlp_encode_metrics(v, 4, &res, NOW, &buf, &len), 0);
	req = podtap__otlp__export_metrics_service_request__unpack(NULL, len,
								    buf);
	free(buf);
	CHECK(req != NULL);
	return req;
}

static const Podtap__Otlp__ResourceMetrics *
resource_of(const Podtap__Otlp__ExportMetricsServiceRequest *req,
	    const char *service)
{
	for (size_t i = 0; i < req->n_resource_metrics; i++) {
		const Podtap__Otlp__Resource *r = req->resource_metrics[i]->resource;
		const char *s = attr_s(r->attributes, r->n_attributes,
				       "service.name");

		if (s && !strcmp(s, service))
			return req->resource_metrics[i];
	}
	return NULL;
}

static void test_grouping_and_resources(void)
{
	Podtap__Otlp__ExportMetricsServiceRequest *req = encode_decode();
	const Podtap__Otlp__ResourceMetrics *w, *h;
	const Podtap__Otlp__Resource *r;

	if (!req)
		return;
	CHECK_INT(req->n_resource_metrics, 2);
	w = resource_of(req, "web");
	h = resource_of(req, "curl");
	CHECK(w && h);
	if (!w || !h)
		goto out;
	r = w->resource;
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.namespace.name"), "shop");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.pod.name"), "web-1");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.container.name"), "web");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.deployment.name"), "web");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.node.name"), "node-1");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "telemetry.sdk.name"), "podtap");
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "deployment.environment.name"), "staging");
	/* A workload is no process: no process.pid. */
	CHECK(attr(r->attributes, r->n_attributes, "process.pid") == NULL);
	CHECK(attr(r->attributes, r->n_attributes, "k8s.pod.uid") == NULL);
	r = h->resource;
	CHECK(attr(r->attributes, r->n_attributes, "k8s.pod.name") == NULL);
	CHECK_STR(attr_s(r->attributes, r->n_attributes, "k8s.node.name"), "node-1");

	/* web: server and client, one histogram each; curl: client only */
	CHECK_INT(w->n_scope_metrics, 1);
	CHECK_STR(w->scope_metrics[0]->scope->name, "podtap");
	CHECK_STR(w->scope_metrics[0]->scope->version, PODTAP_VERSION);
	CHECK_INT(w->scope_metrics[0]->n_metrics, 2);
	CHECK_STR(w->scope_metrics[0]->metrics[0]->name, "http.server.request.duration");
	CHECK_STR(w->scope_metrics[0]->metrics[1]->name, "http.client.request.duration");
	CHECK_INT(w->scope_metrics[0]->metrics[0]->histogram->n_data_points, 2);
	CHECK_INT(h->scope_metrics[0]->n_metrics, 1);
	CHECK_STR(h->scope_metrics[0]->metrics[0]->name, "http.client.request.duration");
out:
	podtap__otlp__export_metrics_service_request__free_unpacked(req, NULL);
}

static void test_points(void)
{
	Podtap__Otlp__ExportMetricsServiceRequest *req = encode_decode();
	const Podtap__Otlp__ResourceMetrics *w, *h;
	const Podtap__Otlp__Metric *m;
	const Podtap__Otlp__HistogramDataPoint *p = NULL, *late = NULL;

	if (!req)
		return;
	w = resource_of(req, "web");
	h = resource_of(req, "curl");
	if (!w || !h)
		goto out;
	m = w->scope_metrics[0]->metrics[0];
	CHECK_STR(m->unit, "s");
	CHECK_INT(m->data_case, PODTAP__OTLP__METRIC__DATA_HISTOGRAM);
	CHECK_INT(m->histogram->aggregation_temporality,
		  PODTAP__OTLP__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
	for (size_t i = 0; i < m->histogram->n_data_points; i++) {
		const Podtap__Otlp__HistogramDataPoint *d = m->histogram->data_points[i];

		if (attr_i(d->attributes, d->n_attributes, "http.response.status_code") == 200)
			p = d;
		else
			late = d;
	}
	CHECK(p && late);
	if (!p || !late)
		goto out;
	CHECK_STR(attr_s(p->attributes, p->n_attributes, "http.request.method"), "GET");
	CHECK_STR(attr_s(p->attributes, p->n_attributes, "http.route"), "/users/{id}");
	CHECK_STR(attr_s(p->attributes, p->n_attributes, "url.scheme"), "http");
	CHECK(attr(p->attributes, p->n_attributes, "server.address") == NULL);
	CHECK_INT(p->n_attributes, 4);
	CHECK_INT(p->count, 5);
	CHECK_INT(p->sum_present_case, PODTAP__OTLP__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM);
	CHECK(p->sum == 12.5);
	CHECK_INT(p->start_time_unix_nano, NOW - 5);
	CHECK_INT(p->time_unix_nano, NOW);
	CHECK_INT(p->n_bucket_counts, METRICS_NBOUNDS + 1);
	CHECK_INT(p->n_explicit_bounds, METRICS_NBOUNDS);
	CHECK_INT(p->bucket_counts[0], 3);
	CHECK_INT(p->bucket_counts[METRICS_NBOUNDS], 1);
	CHECK(p->explicit_bounds[0] == 0.005 &&
	      p->explicit_bounds[METRICS_NBOUNDS - 1] == 10);
	/* A series made after `now` was read: its time is not before it. */
	CHECK_INT(late->time_unix_nano, NOW + 7);
	CHECK_STR(attr_s(late->attributes, late->n_attributes, "http.request.method"), "_OTHER");

	/* client points: the server they went to; any bytes made UTF-8 */
	m = w->scope_metrics[0]->metrics[1];
	p = m->histogram->data_points[0];
	CHECK_STR(attr_s(p->attributes, p->n_attributes, "server.address"), "api.example");
	CHECK_INT(attr_i(p->attributes, p->n_attributes, "server.port"), 443);
	CHECK_INT(attr_i(p->attributes, p->n_attributes, "http.response.status_code"), 502);
	CHECK_STR(attr_s(p->attributes, p->n_attributes, "http.route"),
		  "/\xef\xbf\xbd\xef\xbf\xbd"); /* U+FFFD each */
	p = h->scope_metrics[0]->metrics[0]->histogram->data_points[0];
	CHECK_INT(attr_i(p->attributes, p->n_attributes, "server.port"), 8080);
	CHECK_INT(p->n_attributes, 6);
out:
	podtap__otlp__export_metrics_service_request__free_unpacked(req, NULL);
}

static void test_empty(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK_INT(otlp_encode_metrics(NULL, 0, &res, NOW, &buf, &len), -EINVAL);
	CHECK(buf == NULL);
}

int main(void)
{
	RUN(test_grouping_and_resources);
	RUN(test_points);
	RUN(test_empty);
	return check_summary("otlp_metrics_encoder");
}
