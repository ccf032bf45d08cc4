// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Interpreter metrics: python_info counts live processes per workload and
 * version with the same workload labels as the HTTP series; processes hold
 * their workload and end against the series they started on; GC series are
 * exact per generation; forgetting a workload drops its series. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "python/python_metrics.h"

static struct workload api = { .in_pod = true, .namespace = "shop",
			       .pod = "api-7d9f-x2", .container = "api",
			       .service = "api", .deployment = "api" };
static struct workload api_renamed = { .in_pod = true, .namespace = "shop",
				       .pod = "api-7d9f-x2",
				       .container = "api", .service = "api" };

static const struct runtime_info py311 = { .version = "3.11.2" };
static const struct runtime_info unknown = { .version = "" };

#define API_LABELS                                                       \
	"k8s_namespace_name=\"shop\",k8s_pod_name=\"api-7d9f-x2\","      \
	"k8s_container_name=\"api\",k8s_deployment_name=\"api\","        \
	"k8s_statefulset_name=\"\",k8s_daemonset_name=\"\","             \
	"k8s_node_name=\"node-a\",service_name=\"api\""

static char *render(struct python_metrics *pm)
{
	struct prom_writer w;

	prom_writer_init(&w);
	python_metrics_render(pm, &w);
	CHECK(!w.failed);
	return w.buf;
}

static void test_info_counts_processes(void)
{
	struct python_metrics *pm = python_metrics_new("node-a");
	char *text;

	/* Each process counted holds its workload. */
	CHECK(python_metrics_process_start(pm, 10, &api, &py311));
	CHECK(python_metrics_process_start(pm, 11, &api, &py311));
	CHECK(!python_metrics_process_start(pm, 11, &api, &py311)); /* twice */
	CHECK(python_metrics_process_start(pm, 12, &api, &unknown));
	text = render(pm);
	CHECK(strstr(text, "python_info{" API_LABELS ",implementation=\"CPython\","
			   "version=\"3.11.2\"} 1\n"));
	CHECK(strstr(text, "version=\"unknown\"} 1\n"));
	free(text);

	/* The pod gets new names (the kubelet's list came): its processes
	 * still end against the series they started on. */
	CHECK(python_metrics_process_end(pm, 10) == &api);
	CHECK(!python_metrics_process_end(pm, 10)); /* an unknown pid */
	CHECK(!python_metrics_process_end(pm, 99));
	CHECK(python_metrics_process_end(pm, 11) == &api);
	CHECK(python_metrics_process_end(pm, 12) == &api);
	text = render(pm);
	CHECK(!strstr(text, "python_info{"));
	free(text);
	python_metrics_free(pm);
}

static void test_gc_per_generation(void)
{
	struct python_metrics *pm = python_metrics_new("node-a");
	char *text;

	for (int i = 0; i < 7; i++)
		python_metrics_gc(pm, &api, 0, 0.0002);
	for (int i = 0; i < 5; i++)
		python_metrics_gc(pm, &api, 1, 0.003);
	for (int i = 0; i < 3; i++)
		python_metrics_gc(pm, &api, 2, 0.3);
	python_metrics_gc(pm, &api, 3, 0.1); /* no such generation */
	text = render(pm);
	CHECK(strstr(text, "python_gc_collections_total{" API_LABELS
			   ",generation=\"0\"} 7\n"));
	CHECK(strstr(text, "python_gc_collections_total{" API_LABELS
			   ",generation=\"1\"} 5\n"));
	CHECK(strstr(text, "python_gc_collections_total{" API_LABELS
			   ",generation=\"2\"} 3\n"));
	CHECK(!strstr(text, "generation=\"3\""));
	CHECK(strstr(text, "python_gc_duration_seconds_bucket{" API_LABELS
			   ",generation=\"0\",le=\"0.0001\"} 0\n"));
	CHECK(strstr(text, "python_gc_duration_seconds_bucket{" API_LABELS
			   ",generation=\"0\",le=\"0.0005\"} 7\n"));
	CHECK(strstr(text, "python_gc_duration_seconds_bucket{" API_LABELS
			   ",generation=\"2\",le=\"0.25\"} 0\n"));
	CHECK(strstr(text, "python_gc_duration_seconds_bucket{" API_LABELS
			   ",generation=\"2\",le=\"0.5\"} 3\n"));
	CHECK(strstr(text, "python_gc_duration_seconds_count{" API_LABELS
			   ",generation=\"1\"} 5\n"));
	free(text);
	python_metrics_free(pm);
}

static void test_forget_workload(void)
{
	struct python_metrics *pm = python_metrics_new(NULL);
	char *text;

	python_metrics_gc(pm, &api, 0, 0.001);
	python_metrics_gc(pm, &api_renamed, 0, 0.001);
	python_metrics_forget_workload(pm, &api);
	text = render(pm);
	CHECK(!strstr(text, "k8s_deployment_name=\"api\""));
	CHECK(strstr(text, "python_gc_collections_total{k8s_namespace_name="
			   "\"shop\",k8s_pod_name=\"api-7d9f-x2\","
			   "k8s_container_name=\"api\",k8s_deployment_name="
			   "\"\",k8s_statefulset_name=\"\",k8s_daemonset_name="
			   "\"\",k8s_node_name=\"\",service_name=\"api\","
			   "generation=\"0\"} 1\n"));
	free(text);
	python_metrics_free(pm);
}

int main(void)
{
	RUN(test_info_counts_processes);
	RUN(test_gc_per_generation);
	RUN(test_forget_workload);
	return check_summary("python_metrics");
}
