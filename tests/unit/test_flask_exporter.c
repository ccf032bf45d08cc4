// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* prometheus-flask-exporter's families from podtap's series: exact names,
 * labels, buckets (as prometheus_client spells them) and sums; only for
 * the pods whose mode is on, by node or by pod label; servers only. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/compat.h"
#include "lib/version.h"
#include "prometheus/flask_exporter.h"

static struct workload web = { .in_pod = true, .namespace = "shop",
			       .pod = "web-1", .container = "web",
			       .service = "web" };
static struct workload api = { .in_pod = true, .namespace = "shop",
			       .pod = "api-1", .container = "api",
			       .service = "api",
			       .compat = COMPAT_FLASK_EXPORTER };

#define WEB "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\"," \
	    "k8s_container_name=\"web\",k8s_deployment_name=\"\"," \
	    "k8s_statefulset_name=\"\",k8s_daemonset_name=\"\"," \
	    "k8s_node_name=\"node-a\",service_name=\"web\""
#define API "k8s_namespace_name=\"shop\",k8s_pod_name=\"api-1\"," \
	    "k8s_container_name=\"api\",k8s_deployment_name=\"\"," \
	    "k8s_statefulset_name=\"\",k8s_daemonset_name=\"\"," \
	    "k8s_node_name=\"node-a\",service_name=\"api\""

static void record(struct metrics *m, const struct workload *w,
		   enum metrics_side side, const char *method,
		   const char *route, int status, const char *scheme,
		   double seconds)
{
	struct metrics_exchange x = { .side = side, .w = w, .method = method,
				      .route = route, .status = status,
				      .scheme = scheme, .server_address = "",
				      .seconds = seconds };

	metrics_record(m, &x);
}

static char *render(struct metrics *m, unsigned int node_modes)
{
	struct prom_writer w;

	prom_writer_init(&w);
	flask_exporter_render(m, node_modes, &w);
	CHECK(!w.failed);
	return w.buf ? w.buf : strdup("");
}

/* Every mode off: nothing, not even the families' headers. */
static void test_off(void)
{
	struct metrics *m = metrics_new(100, "node-a");
	char *text;

	record(m, &web, METRICS_SERVER, "GET", "/", 200, "http", 0.01);
	text = render(m, 0);
	CHECK_STR(text, "");
	free(text);
	metrics_free(m);
}

static void test_node_wide(void)
{
	struct metrics *m = metrics_new(100, "node-a");
	char *text;

	/* http and https of one route are one exporter series */
	record(m, &web, METRICS_SERVER, "GET", "/users/{id}", 200, "http", 0.003);
	record(m, &web, METRICS_SERVER, "GET", "/users/{id}", 200, "https", 0.2);
	record(m, &web, METRICS_SERVER, "GET", "/", 200, "http", 1.0);
	record(m, &web, METRICS_SERVER, "POST", "/pay", 500, "http", 12);
	record(m, &web, METRICS_CLIENT, "GET", "/elsewhere", 200, "http", 0.1);
	text = render(m, COMPAT_FLASK_EXPORTER);
	CHECK(strstr(text, "# TYPE flask_http_request_duration_seconds histogram\n"));
	CHECK(strstr(text, "flask_http_request_duration_seconds_bucket{method=\"GET\","
			   "path=\"/users/{id}\",status=\"200\"," WEB
			   ",le=\"0.005\"} 1\n"));
	CHECK(strstr(text, "flask_http_request_duration_seconds_bucket{method=\"GET\","
			   "path=\"/users/{id}\",status=\"200\"," WEB
			   ",le=\"0.25\"} 2\n"));
	/* 1 s is in le="1.0" (bounds are upper, inclusive) */
	CHECK(strstr(text, "path=\"/\",status=\"200\"," WEB ",le=\"0.75\"} 0\n"));
	CHECK(strstr(text, "path=\"/\",status=\"200\"," WEB ",le=\"1.0\"} 1\n"));
	CHECK(strstr(text, "path=\"/pay\",status=\"500\"," WEB ",le=\"10.0\"} 0\n"));
	CHECK(strstr(text, "path=\"/pay\",status=\"500\"," WEB ",le=\"+Inf\"} 1\n"));
	CHECK(strstr(text, "flask_http_request_duration_seconds_sum{method=\"GET\","
			   "path=\"/users/{id}\",status=\"200\"," WEB "} 0.203\n"));
	CHECK(strstr(text, "flask_http_request_duration_seconds_count{method=\"GET\","
			   "path=\"/users/{id}\",status=\"200\"," WEB "} 2\n"));
	/* totals: by method and status, over paths */
	CHECK(strstr(text, "# TYPE flask_http_request_total counter\n"));
	CHECK(strstr(text, "flask_http_request_total{method=\"GET\",status=\"200\","
			   WEB "} 3\n"));
	CHECK(strstr(text, "flask_http_request_total{method=\"POST\",status=\"500\","
			   WEB "} 1\n"));
	CHECK(strstr(text, "flask_http_request_exceptions_total{method=\"POST\","
			   "status=\"500\"," WEB "} 1\n"));
	CHECK(!strstr(text, "flask_http_request_exceptions_total{method=\"GET\""));
	CHECK(strstr(text, "flask_exporter_info{version=\"podtap-" PODTAP_VERSION
			   "\"," WEB "} 1\n"));
	/* clients are not Flask's */
	CHECK(!strstr(text, "/elsewhere"));
	free(text);
	metrics_free(m);
}

/* A pod's own label turns it on for that pod alone. */
static void test_per_pod(void)
{
	struct metrics *m = metrics_new(100, "node-a");
	char *text;

	record(m, &web, METRICS_SERVER, "GET", "/", 200, "http", 0.01);
	record(m, &api, METRICS_SERVER, "GET", "/", 404, "http", 0.01);
	text = render(m, 0);
	CHECK(strstr(text, "flask_http_request_total{method=\"GET\",status=\"404\","
			   API "} 1\n"));
	CHECK(!strstr(text, "web-1"));
	CHECK(!strstr(text, "flask_http_request_exceptions_total{"));
	free(text);
	metrics_free(m);
}

int main(void)
{
	RUN(test_off);
	RUN(test_node_wide);
	RUN(test_per_pod);
	return check_summary("flask_exporter");
}
