// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The aggregator: exact series, buckets and labels for server and client
 * exchanges, method normalisation, and the per-workload series cap. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prometheus/metrics.h"

static struct workload web = { .in_pod = true, .namespace = "shop",
			       .pod = "web-1", .container = "web",
			       .service = "web" };

/* The owner and node labels of a workload the kubelet did not name, on a
 * node without NODE_NAME. */
#define NO_OWNER "k8s_deployment_name=\"\",k8s_statefulset_name=\"\"," \
		 "k8s_daemonset_name=\"\",k8s_node_name=\"\","

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
	struct metrics *m = metrics_new(100, NULL);
	char *text;

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
		"k8s_container_name=\"web\"," NO_OWNER "service_name=\"web\"} 2\n"));
	/* 0.003 s in le=0.005; 0.2 s in le=0.25 but not le=0.1 */
	CHECK(strstr(text, "http_route=\"/users/{id}\",url_scheme=\"http\","
			   "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\","
			   "k8s_container_name=\"web\"," NO_OWNER "service_name=\"web\","
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
		"k8s_container_name=\"web\"," NO_OWNER "service_name=\"web\","
		"server_address=\"pay.svc\",server_port=\"8080\"} 1\n"));
	CHECK(!strstr(text, "http_server_request_duration_seconds_count{http_request_method=\"POST\""));
	CHECK_INT(metrics_series_count(m), 3);
	free(text);
	metrics_free(m);
}

static void test_series_cap(void)
{
	struct metrics *m = metrics_new(2, "");
	char *text;

	record(m, METRICS_SERVER, "GET", "/a", 200, NULL, 0, 0.001);
	record(m, METRICS_SERVER, "GET", "/b", 200, NULL, 0, 0.001);
	/* over the cap: folded into {overflow}, counted per request */
	record(m, METRICS_SERVER, "GET", "/c", 200, NULL, 0, 0.001);
	record(m, METRICS_SERVER, "GET", "/d", 200, NULL, 0, 0.001);
	record(m, METRICS_CLIENT, "GET", "/e", 200, "x", 1, 0.001);
	/* existing series still count normally */
	record(m, METRICS_SERVER, "GET", "/a", 200, NULL, 0, 0.001);
	text = render(m);
	/* one sample for the workload, however many overflow series it has */
	CHECK(strstr(text, "podtap_series_dropped_total{k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\","
			   NO_OWNER "service_name=\"web\"} 3\n"));
	CHECK_INT(occurrences(text, "podtap_series_dropped_total{"), 1);
	CHECK(strstr(text, "http_server_request_duration_seconds_count{http_request_method=\"GET\","
			   "http_response_status_code=\"200\",http_route=\"{overflow}\""));
	CHECK(strstr(text, "http_route=\"{overflow}\",url_scheme=\"http\",k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\"," NO_OWNER "service_name=\"web\"} 2\n"));
	CHECK(strstr(text, "service_name=\"web\",server_address=\"\",server_port=\"0\"} 1\n"));
	CHECK(strstr(text, "http_route=\"/a\",url_scheme=\"http\",k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_container_name=\"web\"," NO_OWNER "service_name=\"web\"} 2\n"));
	CHECK(!strstr(text, "\"/c\""));
	free(text);
	metrics_free(m);
}

/* Owner labels from the workload, the node's name on every series. */
static void test_owner_and_node_labels(void)
{
	struct workload db = { .in_pod = true, .namespace = "data",
			       .pod = "postgres-0", .container = "pg",
			       .service = "pg", .statefulset = "postgres" };
	struct metrics *m = metrics_new(1, "gke-node-7");
	struct metrics_exchange x = { .side = METRICS_SERVER, .w = &db,
				      .method = "GET", .route = "/a",
				      .status = 200, .scheme = "http",
				      .seconds = 0.001 };
	char *text;

	metrics_record(m, &x);
	x.route = "/b"; /* past the cap of 1 */
	metrics_record(m, &x);
	text = render(m);
	CHECK(strstr(text,
		"http_server_request_duration_seconds_count{http_request_method=\"GET\","
		"http_response_status_code=\"200\",http_route=\"/a\",url_scheme=\"http\","
		"k8s_namespace_name=\"data\",k8s_pod_name=\"postgres-0\","
		"k8s_container_name=\"pg\",k8s_deployment_name=\"\","
		"k8s_statefulset_name=\"postgres\",k8s_daemonset_name=\"\","
		"k8s_node_name=\"gke-node-7\",service_name=\"pg\"} 1\n"));
	CHECK(strstr(text,
		"podtap_series_dropped_total{k8s_namespace_name=\"data\","
		"k8s_pod_name=\"postgres-0\",k8s_container_name=\"pg\","
		"k8s_deployment_name=\"\",k8s_statefulset_name=\"postgres\","
		"k8s_daemonset_name=\"\",k8s_node_name=\"gke-node-7\","
		"service_name=\"pg\"} 1\n"));
	free(text);
	metrics_free(m);
}

/*
 * A workload about to be freed takes its series with it, and only its
 * own; a workload of the same names made afterwards counts from zero,
 * with a fresh series cap.
 */
static void test_forget_workload(void)
{
	struct workload a = { .in_pod = true, .namespace = "shop",
			      .pod = "web-1", .container = "web",
			      .service = "web" };
	struct workload b = { .in_pod = true, .namespace = "shop",
			      .pod = "api-1", .container = "api",
			      .service = "api" };
	struct workload *again = calloc(1, sizeof(*again));
	struct metrics *m = metrics_new(2, NULL);
	struct metrics_exchange x = { .side = METRICS_SERVER, .method = "GET",
				      .route = "/", .status = 200,
				      .scheme = "http", .seconds = 0.001 };
	char *text;

	CHECK(again != NULL);
	if (!again)
		return;
	x.w = &a;
	for (int i = 0; i < 3; i++)
		metrics_record(m, &x);
	x.route = "/x";
	metrics_record(m, &x);
	x.route = "/y"; /* over the cap: {overflow} */
	metrics_record(m, &x);
	x.w = &b;
	metrics_record(m, &x);
	CHECK_INT(metrics_series_count(m), 4);
	CHECK_INT(metrics_forget_workload(m, &a), 3);
	CHECK_INT(metrics_forget_workload(m, &a), 0);
	CHECK_INT(metrics_series_count(m), 1);
	text = render(m);
	CHECK(!strstr(text, "web-1"));
	CHECK_INT(occurrences(text, "_count{"), 1);
	CHECK(strstr(text, "k8s_pod_name=\"api-1\""));
	CHECK(!strstr(text, "podtap_series_dropped_total{"));
	free(text);

	*again = a;
	x.w = again;
	x.route = "/";
	metrics_record(m, &x);
	metrics_record(m, &x);
	text = render(m);
	CHECK(strstr(text, "http_route=\"/\",url_scheme=\"http\","
			   "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\","
			   "k8s_container_name=\"web\"," NO_OWNER
			   "service_name=\"web\"} 2\n"));
	CHECK_INT(occurrences(text, "k8s_pod_name=\"web-1\",k8s_container_name=\"web\","
			      NO_OWNER "service_name=\"web\"} "), 2); /* _sum, _count */
	free(text);
	CHECK_INT(metrics_forget_workload(m, again), 1);
	free(again);
	CHECK_INT(metrics_forget_workload(m, &b), 1);
	CHECK_INT(metrics_series_count(m), 0);
	metrics_free(m);
}

/* Series are keyed by their sanitised labels (sanitize.h): routes and
 * hosts that differ only in bytes sanitising replaces are one series. */
static void test_hostile_labels(void)
{
	struct metrics *m = metrics_new(100, NULL);
	char *text;

	record(m, METRICS_CLIENT, "GET", "/{\x01}", 200, "caf\xe9", 80, 0.001);
	record(m, METRICS_CLIENT, "GET", "/{\x01}", 200, "caf\xea", 80, 0.001);
	record(m, METRICS_CLIENT, "GET", "/{\x01}", 200, "caf\xc3\xa9", 80,
	       0.001);
	text = render(m);
	CHECK_INT(occurrences(text, "http_client_request_duration_seconds_count{"),
		  2);
	CHECK(strstr(text, "http_route=\"/{\\\\u0001}\""));
	CHECK(strstr(text, "server_address=\"caf\xef\xbf\xbd\",server_port=\"80\"} 2\n"));
	CHECK(strstr(text, "server_address=\"caf\xc3\xa9\",server_port=\"80\"} 1\n"));
	CHECK(!strstr(text, "\xe9\""));
	free(text);
	metrics_forget_workload(m, &web);
	metrics_free(m);
}

int main(void)
{
	RUN(test_server_and_client_series);
	RUN(test_series_cap);
	RUN(test_owner_and_node_labels);
	RUN(test_forget_workload);
	RUN(test_hostile_labels);
	return check_summary("metrics");
}
