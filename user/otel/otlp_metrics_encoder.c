// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otlp_metrics_encoder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otel/otlp_attrs.h"
#include "otlp.pb-c.h"

#define POINT_ATTRS_MAX 6 /* method, status, route, scheme, address, port */
#define SIDES 2

/* The semantic conventions' instruments (http-metrics.md). */
static const struct {
	const char *name, *description;
} instrument[SIDES] = {
	[METRICS_SERVER] = { "http.server.request.duration",
			     "Duration of HTTP server requests." },
	[METRICS_CLIENT] = { "http.client.request.duration",
			     "Duration of HTTP client requests." },
};

/* Everything a request is built from; protobuf-c only points into it. */
struct request {
	const struct metrics_series_view **order; /* by workload, side */
	size_t ngroups;   /* workloads */
	size_t nmetrics;  /* (workload, side) runs */
	struct span_resource *res;
	Podtap__Otlp__Resource *resources;
	Podtap__Otlp__ResourceMetrics *rm, **rm_ptrs;
	Podtap__Otlp__ScopeMetrics *sm, **sm_ptrs;
	Podtap__Otlp__Metric *metrics, **metric_ptrs;
	Podtap__Otlp__Histogram *hists;
	Podtap__Otlp__HistogramDataPoint *points, **point_ptrs;
	Podtap__Otlp__InstrumentationScope scope;
	struct attr_pool pool;
};

static int by_workload_side(const void *a, const void *b)
{
	const struct metrics_series_view *x = *(const void *const *)a;
	const struct metrics_series_view *y = *(const void *const *)b;

	if (x->w != y->w)
		return (uintptr_t)x->w < (uintptr_t)y->w ? -1 : 1;
	return (int)x->side - (int)y->side;
}

static void request_free(struct request *req)
{
	attr_pool_fini(&req->pool);
	free(req->order);
	free(req->res);
	free(req->resources);
	free(req->rm);
	free(req->rm_ptrs);
	free(req->sm);
	free(req->sm_ptrs);
	free(req->metrics);
	free(req->metric_ptrs);
	free(req->hists);
	free(req->points);
	free(req->point_ptrs);
}

static int request_alloc(struct request *req,
			 const struct metrics_series_view *series, size_t n,
			 const struct otlp_metrics_resource *res)
{
	size_t g, m;

	req->order = calloc(n, sizeof(*req->order));
	if (!req->order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		req->order[i] = &series[i];
	qsort(req->order, n, sizeof(*req->order), by_workload_side);
	g = m = 1;
	for (size_t i = 1; i < n; i++) {
		if (req->order[i]->w != req->order[i - 1]->w)
			g++, m++;
		else if (req->order[i]->side != req->order[i - 1]->side)
			m++;
	}
	req->ngroups = g;
	req->nmetrics = m;
	req->res = calloc(g, sizeof(*req->res));
	req->resources = calloc(g, sizeof(*req->resources));
	req->rm = calloc(g, sizeof(*req->rm));
	req->rm_ptrs = calloc(g, sizeof(*req->rm_ptrs));
	req->sm = calloc(g, sizeof(*req->sm));
	req->sm_ptrs = calloc(g, sizeof(*req->sm_ptrs));
	req->metrics = calloc(m, sizeof(*req->metrics));
	req->metric_ptrs = calloc(m, sizeof(*req->metric_ptrs));
	req->hists = calloc(m, sizeof(*req->hists));
	req->points = calloc(n, sizeof(*req->points));
	req->point_ptrs = calloc(n, sizeof(*req->point_ptrs));
	if (!req->res || !req->resources || !req->rm || !req->rm_ptrs ||
	    !req->sm || !req->sm_ptrs || !req->metrics || !req->metric_ptrs ||
	    !req->hists || !req->points || !req->point_ptrs)
		return -ENOMEM;
	return attr_pool_init(&req->pool,
			      g * (OTLP_RESOURCE_ATTRS_MAX + res->n_extra) +
				      n * POINT_ATTRS_MAX);
}

/* A workload as a resource: what /metrics shows as its labels. */
static void workload_resource(struct span_resource *r,
			      const struct workload *w, const char *node)
{
	snprintf(r->service_name, sizeof(r->service_name), "%s", w->service);
	snprintf(r->k8s_namespace_name, sizeof(r->k8s_namespace_name), "%s",
		 w->namespace);
	snprintf(r->k8s_pod_name, sizeof(r->k8s_pod_name), "%s", w->pod);
	snprintf(r->k8s_container_name, sizeof(r->k8s_container_name), "%s",
		 w->container);
	snprintf(r->k8s_node_name, sizeof(r->k8s_node_name), "%s",
		 node ? node : "");
	snprintf(r->k8s_deployment_name, sizeof(r->k8s_deployment_name), "%s",
		 w->deployment);
	snprintf(r->k8s_statefulset_name, sizeof(r->k8s_statefulset_name),
		 "%s", w->statefulset);
	snprintf(r->k8s_daemonset_name, sizeof(r->k8s_daemonset_name), "%s",
		 w->daemonset);
}

static void fill_point(struct attr_pool *p, Podtap__Otlp__HistogramDataPoint *pt,
		       const struct metrics_series_view *s, uint64_t now)
{
	struct attr_list l;

	podtap__otlp__histogram_data_point__init(pt);
	attr_list_start(p, &l);
	attr_str(p, &l, "http.request.method", s->method);
	attr_int(p, &l, "http.response.status_code", s->status);
	attr_str(p, &l, "http.route", s->route);
	attr_str(p, &l, "url.scheme", s->scheme);
	if (s->side == METRICS_CLIENT) {
		attr_str(p, &l, "server.address", s->server_address);
		attr_int(p, &l, "server.port", s->server_port);
	}
	pt->attributes = l.ptr;
	pt->n_attributes = l.n;
	pt->start_time_unix_nano = s->start_unix_ns;
	/* A series made after `now` was read still starts no later. */
	pt->time_unix_nano = now > s->start_unix_ns ? now : s->start_unix_ns;
	pt->count = s->count;
	pt->sum_present_case = PODTAP__OTLP__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM;
	pt->sum = s->sum;
	/* protobuf-c only reads through these */
	pt->bucket_counts = (uint64_t *)s->buckets;
	pt->n_bucket_counts = METRICS_NBOUNDS + 1;
	pt->explicit_bounds = (double *)metrics_duration_bounds;
	pt->n_explicit_bounds = METRICS_NBOUNDS;
}

static void fill_metric(Podtap__Otlp__Metric *m, Podtap__Otlp__Histogram *h,
			enum metrics_side side,
			Podtap__Otlp__HistogramDataPoint **points, size_t n)
{
	podtap__otlp__metric__init(m);
	podtap__otlp__histogram__init(h);
	m->name = (char *)instrument[side].name;
	m->description = (char *)instrument[side].description;
	m->unit = "s";
	m->data_case = PODTAP__OTLP__METRIC__DATA_HISTOGRAM;
	m->histogram = h;
	h->aggregation_temporality =
		PODTAP__OTLP__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
	h->data_points = points;
	h->n_data_points = n;
}

/* ResourceMetrics g: workload w, with metrics [first_metric, +nmetrics). */
static void fill_group(struct request *req, size_t g, size_t first_metric,
		       size_t nmetrics, const struct workload *w,
		       const struct otlp_metrics_resource *res)
{
	Podtap__Otlp__ScopeMetrics *sm = &req->sm[g];
	Podtap__Otlp__ResourceMetrics *rm = &req->rm[g];

	workload_resource(&req->res[g], w, res->node_name);
	fill_resource(&req->pool, &req->resources[g], &req->res[g],
		      res->extra, res->n_extra);
	podtap__otlp__scope_metrics__init(sm);
	sm->scope = &req->scope;
	sm->metrics = &req->metric_ptrs[first_metric];
	sm->n_metrics = nmetrics;
	req->sm_ptrs[g] = sm;
	podtap__otlp__resource_metrics__init(rm);
	rm->resource = &req->resources[g];
	rm->scope_metrics = &req->sm_ptrs[g];
	rm->n_scope_metrics = 1;
	req->rm_ptrs[g] = rm;
}

static void request_fill(struct request *req, size_t n,
			 const struct otlp_metrics_resource *res,
			 uint64_t now)
{
	size_t g = 0, m = 0, group_metric = 0, run = 0;
	const struct metrics_series_view *s;

	fill_scope(&req->pool, &req->scope);
	for (size_t i = 0; i < n; i++) {
		s = req->order[i];
		fill_point(&req->pool, &req->points[i], s, now);
		req->point_ptrs[i] = &req->points[i];
		if (i + 1 < n && req->order[i + 1]->w == s->w &&
		    req->order[i + 1]->side == s->side)
			continue;
		/* The last point of a (workload, side) run. */
		fill_metric(&req->metrics[m], &req->hists[m], s->side,
			    &req->point_ptrs[run], i + 1 - run);
		req->metric_ptrs[m] = &req->metrics[m];
		m++;
		run = i + 1;
		if (i + 1 < n && req->order[i + 1]->w == s->w)
			continue;
		fill_group(req, g++, group_metric, m - group_metric, s->w, res);
		group_metric = m;
	}
}

int otlp_encode_metrics(const struct metrics_series_view *series, size_t n,
			const struct otlp_metrics_resource *res,
			uint64_t now_unix_ns, uint8_t **out, size_t *out_len)
{
	Podtap__Otlp__ExportMetricsServiceRequest msg;
	struct request req = { 0 };
	uint8_t *buf;
	size_t len;
	int err;

	if (!n)
		return -EINVAL;
	err = request_alloc(&req, series, n, res);
	if (err)
		goto cleanup;
	request_fill(&req, n, res, now_unix_ns);
	if (req.pool.oom) {
		err = -ENOMEM;
		goto cleanup;
	}
	podtap__otlp__export_metrics_service_request__init(&msg);
	msg.resource_metrics = req.rm_ptrs;
	msg.n_resource_metrics = req.ngroups;
	len = podtap__otlp__export_metrics_service_request__get_packed_size(&msg);
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	podtap__otlp__export_metrics_service_request__pack(&msg, buf);
	*out = buf;
	*out_len = len;
cleanup:
	request_free(&req);
	return err;
}
