// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Queueing and saturation: accept-queue waits into the histogram, busy
 * time and active requests per worker, the saturation window, process
 * exit; a pod's listen figures read from a /proc tree made here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "k8s/pod_netns.h"
#include "lib/clock.h"
#include "prometheus/server_load.h"

static struct workload web = { .in_pod = true, .namespace = "shop",
			       .pod = "web-1", .container = "web",
			       .service = "web" };

#define WEB "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-1\"," \
	    "k8s_container_name=\"web\",k8s_deployment_name=\"\"," \
	    "k8s_statefulset_name=\"\",k8s_daemonset_name=\"\"," \
	    "k8s_node_name=\"n1\",service_name=\"web\""
#define S NSEC_PER_SEC

static char *render(struct server_load *l)
{
	struct prom_writer w;

	prom_writer_init(&w);
	server_load_render(l, &w);
	CHECK(!w.failed);
	return w.buf;
}

static void test_waits(void)
{
	struct server_load *l = server_load_new("/nonexistent", "n1");
	struct server_load_stats st;
	char *text;

	server_load_accepted(l, &web, 0, 50000);        /* 50 us */
	server_load_accepted(l, &web, 0, 1800 * NSEC_PER_MSEC);
	server_load_accepted(l, &web, 0, 0);             /* not known */
	text = render(l);
	CHECK(strstr(text, "tcp_listen_queue_wait_seconds_bucket{" WEB
			   ",le=\"0.0001\"} 1\n"));
	CHECK(strstr(text, "tcp_listen_queue_wait_seconds_bucket{" WEB
			   ",le=\"1\"} 1\n"));
	CHECK(strstr(text, "tcp_listen_queue_wait_seconds_bucket{" WEB
			   ",le=\"2.5\"} 2\n"));
	CHECK(strstr(text, "tcp_listen_queue_wait_seconds_count{" WEB "} 2\n"));
	CHECK(strstr(text, "tcp_listen_queue_wait_seconds_sum{" WEB "} 1.80005"));
	/* no worker yet: no worker families' samples */
	CHECK(!strstr(text, "http_server_workers{"));
	server_load_get_stats(l, &st);
	CHECK_INT(st.waits_unmeasured, 1);
	free(text);
	server_load_free(l);
}

/* Two workers: one busy for 1 s with two requests overlapping, one idle
 * after a request of 0.5 s. */
static void test_busy_and_active(void)
{
	struct server_load *l = server_load_new("/nonexistent", "n1");
	uint64_t t = 1000 * S;
	char *text;

	server_load_request_start(l, &web, 10, 10, t);
	server_load_request_start(l, &web, 10, 10, t + S / 2); /* pipelined */
	server_load_request_end(l, 10, 10, t + S / 2 + 1);
	server_load_request_start(l, &web, 11, 11, t);
	server_load_request_end(l, 11, 11, t + S / 2);
	server_load_request_end(l, 10, 10, t + S);
	server_load_request_end(l, 10, 10, t + 2 * S); /* once too often */
	server_load_request_start(l, &web, 10, 10, t + 3 * S); /* open */
	text = render(l);
	CHECK(strstr(text, "http_server_active_requests{" WEB "} 1\n"));
	CHECK(strstr(text, "http_server_workers{" WEB "} 2\n"));
	free(text);
	/* The open request ends with its process: busy 1 + 0.5 + 2 s. */
	server_load_process_exit(l, 10, t + 5 * S);
	text = render(l);
	CHECK(strstr(text, "http_server_active_requests{" WEB "} 0\n"));
	CHECK(strstr(text, "http_server_workers{" WEB "} 1\n"));
	CHECK(strstr(text, "http_server_worker_busy_seconds_total{" WEB "} 3.5\n"));
	free(text);
	server_load_forget_workload(l, &web);
	text = render(l);
	CHECK(!strstr(text, "web-1"));
	free(text);
	server_load_free(l);
}

/* One of two workers busy the whole window, the other never: 0.5. */
static void test_saturation_window(void)
{
	struct server_load *l = server_load_new("/nonexistent", "n1");
	uint64_t t = 2000 * S;
	char *text;

	server_load_request_start(l, &web, 20, 21, t);
	server_load_request_end(l, 20, 21, t + 1);
	server_load_request_start(l, &web, 20, 22, t + 1);
	for (int i = 1; i <= 12; i++)
		server_load_tick(l, t + (uint64_t)i * S);
	text = render(l);
	CHECK(strstr(text, "http_server_worker_saturation{" WEB "} 0.5\n"));
	free(text);
	server_load_free(l);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_pod_netns(void)
{
	char root[] = "/tmp/podtap-unit-netns-XXXXXX", path[256];
	struct pod_netns_tcp t;

	CHECK(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/42", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/42/net", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/42/ns", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/42/ns/net", root);
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/42/net/netstat", root);
	write_file(path,
		   "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\n"
		   "TcpExt: 0 17 19 5\n"
		   "IpExt: InNoRoutes\nIpExt: 0\n");
	snprintf(path, sizeof(path), "%s/42/net/tcp", root);
	write_file(path,
		   "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		   "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
		   "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000300 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n");
	/* no tcp6: a kernel without IPv6 */
	CHECK_INT(pod_netns_tcp_read(root, 42, &t), 0);
	CHECK_INT(t.listen_overflows, 17);
	CHECK_INT(t.listen_drops, 19);
	CHECK_INT(t.accept_queued, 5); /* the LISTEN socket's only */
	CHECK(t.netns != 0);
	CHECK(pod_netns_tcp_read(root, 43, &t) < 0); /* gone */
	snprintf(path, sizeof(path), "%s/42/net/netstat", root);
	write_file(path, "IpExt: InNoRoutes\nIpExt: 0\n");
	CHECK(pod_netns_tcp_read(root, 42, &t) < 0); /* not parsed */
	snprintf(path, sizeof(path), "rm -rf %s", root);
	CHECK_INT(system(path), 0);
}

/* A pod whose namespace is the node's (hostNetwork: the same as pid 1's)
 * has none of the pod families. */
static void test_host_network_pod(void)
{
	char root[] = "/tmp/podtap-unit-hostnet-XXXXXX", path[256], one[256];
	struct server_load *l;
	char *text;

	CHECK(mkdtemp(root) != NULL);
	const char *dirs[] = { "7", "7/net", "7/ns", "1", "1/ns" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/7/net/netstat", root);
	write_file(path, "TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\n");
	snprintf(path, sizeof(path), "%s/7/net/tcp", root);
	write_file(path, "  sl  local_address\n");
	snprintf(path, sizeof(path), "%s/7/ns/net", root);
	write_file(path, "");
	snprintf(one, sizeof(one), "%s/1/ns/net", root);
	l = server_load_new(root, "n1");
	server_load_request_start(l, &web, 7, 7, 1);
	text = render(l);
	CHECK(strstr(text, "tcp_listen_overflows_total{k8s_namespace_name=\"shop\","
			   "k8s_pod_name=\"web-1\",k8s_node_name=\"n1\"} 3\n"));
	free(text);
	CHECK_INT(link(path, one), 0);
	text = render(l);
	CHECK(!strstr(text, "tcp_listen_overflows_total{"));
	free(text);
	server_load_free(l);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	CHECK_INT(system(path), 0);
}

int main(void)
{
	RUN(test_waits);
	RUN(test_busy_and_active);
	RUN(test_saturation_window);
	RUN(test_pod_netns);
	RUN(test_host_network_pod);
	return check_summary("server_load");
}
