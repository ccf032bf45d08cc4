// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The aggregator: exact series, buckets and labels for server and client
 * exchanges, method normalisation, and the per-workload series cap. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static struct workload web = { .in_pod = true, .namespace = "shop",
			       .pod = "web-1", .container = "web",
			       .service = "web" };

static char *render(struct metrics *m)
{
	struct prom_writer w;

	prom_writer_init(&w);
	metrics_render(m, &w);
	CHECK(!w.failed);
	return w.buf;
}

static int occurrences(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static void record(struct metrics *m, enum metrics_side side,
		   const char *method, const char *route, int status,
		   const char *server, unsigned int port, double seconds)
{
	struct metrics_exchange x = { .side = side, .w = &web,
				      .method = method, .route = route,
				      .status = status, .scheme = "http",
				      .server_address = server,
				      .server_port = port, .seconds = seconds };

	metrics_record(m, &x);
}

static void test_server_and_client_series(void)
{
	struct metrics *m = metrics_new(100);
	char *text;

	web.nseries = 0;
	web.first_overflow = NULL;
	record(m, METRICS_SERVER, "GET", "/users/{id}", 200, NULL, 0, 0.003);
	record(m, METRICS_SERVER, "GET", "/users/{id}", 200, NULL, 0, 0.2);
	record(m, METRICS_SERVER, "BREW", "/pot", 418, NULL, 0, 0.01);
	record(m, METRICS_CLIENT, "POST", "/v1/pay", 503, "pay.svc", 8080, 1.5);
	text = render(m);
	CHECK(strstr(text, "# TYPE http_server_request_duration_seconds histogram\n"));
	CHECK(strstr(text, "# TYPE http_client_request_duration_seconds histogram\n"));
	CHECK(strstr(text,
		"http_server_request_duration_seconds_count{http_request_method=\"GET\","
		"http_response_status_code=\"200\",http_route=\"/users/{id}\","
		"url_scheme=\"http\",k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\","
		"k8s_container_name=\"web\",service_name=\"web\"} 2\n"));
	/* 0.003 s in le=0.005; 0.2 s in le=0.25 but not le=0.1 */
	CHECK(strstr(text, "http_route=\"/users/{id}\",url_scheme=\"http\","
			   "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\","
			   "k8s_container_name=\"web\",service_name=\"web\","
			   "le=\"0.005\"} 1\n"));
	CHECK(strstr(text, "service_name=\"web\",le=\"0.1\"} 1\n"));
	CHECK(strstr(text, "service_name=\"web\",le=\"0.25\"} 2\n"));
	/* unknown methods are _OTHER */
	CHECK(strstr(text, "{http_request_method=\"_OTHER\",http_response_status_code=\"418\""));
	CHECK(!strstr(text, "BREW"));
	/* clients carry server_address and server_port; servers do not */
	CHECK(strstr(text,
		"http_client_request_duration_seconds_count{http_request_method=\"POST\","
		"http_response_status_code=\"503\",http_route=\"/v1/pay\","
		"url_scheme=\"http\",k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\","
		"k8s_container_name=\"web\",service_name=\"web\","
		"server_address=\"pay.svc\",server_port=\"8080\"} 1\n"));
	CHECK(!strstr(text, "http_server_request_duration_seconds_count{http_request_method=\"POST\""));
	CHECK_INT(metrics_series_count(m), 3);
	free(text);
	metrics_free(m);
}

static void test_series_cap(void)
{
	struct metrics *m = metrics_new(2);
	char *text;

	web.nseries = 0;
	web.series_dropped = 0;
	web.first_overflow = NULL;
	record(m, METRICS_SERVER, "GET", "/a", 200, NULL, 0, 0.001);
	record(m, METRICS_SERVER, "GET", "/b", 200, NULL, 0, 0.001);
	/* over the cap: folded into {overflow}, counted per request */
	record(m, METRICS_SERVER, "GET", "/c", 200, NULL, 0, 0.001);
	record(m, METRICS_SERVER, "GET", "/d", 200, NULL, 0, 0.001);
	record(m, METRICS_CLIENT, "GET", "/e", 200, "x", 1, 0.001);
	/* existing series still count normally */
	record(m, METRICS_SERVER, "GET", "/a", 200, NULL, 0, 0.001);
	text = render(m);
	CHECK_INT(web.series_dropped, 3);
	/* one sample for the workload, however many overflow series it has */
	CHECK(strstr(text, "podtap_series_dropped_total{k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\","
			   "service_name=\"web\"} 3\n"));
	CHECK_INT(occurrences(text, "podtap_series_dropped_total{"), 1);
	CHECK(strstr(text, "http_server_request_duration_seconds_count{http_request_method=\"GET\","
			   "http_response_status_code=\"200\",http_route=\"{overflow}\""));
	CHECK(strstr(text, "http_route=\"{overflow}\",url_scheme=\"http\",k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\",service_name=\"web\"} 2\n"));
	CHECK(strstr(text, "service_name=\"web\",server_address=\"\",server_port=\"0\"} 1\n"));
	CHECK(strstr(text, "http_route=\"/a\",url_scheme=\"http\",k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\",service_name=\"web\"} 2\n"));
	CHECK(!strstr(text, "\"/c\""));
	free(text);
	metrics_free(m);
}

int main(void)
{
	RUN(test_server_and_client_series);
	RUN(test_series_cap);
	return check_summary("metrics");
}
