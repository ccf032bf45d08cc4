// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives the OTLP exporter for tests/e2e/otlp_exporter.bats (built as
 * build/tests/exporter_driver):
 *
 *   exporter_driver --spans N [--resources R] [--interval-us U]
 *                   [--wait-ms MS] [--rss-mark M]
 *
 * Reads the trace settings from the environment (OTEL_*, PODTAP_OTLP_*),
 * starts the exporter, enqueues N spans, round-robin over R resources
 * (default 1), as fast as it can or U microseconds apart, then waits up to
 * MS (default 0) for every queued span to be exported or dropped, and
 * stops the exporter.
 *
 * Span i (0-based) is known from i alone, so a test can check what
 * arrived: span id = i + 1 as 8 big-endian bytes; trace id = a random
 * 8-byte run id, then the span id; every odd span is the child of the span
 * before it; every third span is a CLIENT "POST /orders", the others SERVER
 * "GET /items/{id}" with url.path /items/<i>; every tenth answered 503
 * (status ERROR), the others 200. Resource r = i % R: service.name
 * OTEL_SERVICE_NAME or "svc-<r>", k8s.pod.name "pod-<r>", process.pid
 * 1000 + r, and OTEL_RESOURCE_ATTRIBUTES.
 *
 * Prints one JSON object on stdout: the exporter's stats; enqueue_max_us
 * (the longest otlp_exporter_enqueue call); settled_ms (from the first
 * enqueue until nothing was left in flight, -1 if --wait-ms ran out);
 * stop_ms (how long otlp_exporter_stop took); rss_kb_mark and
 * rss_kb_end (VmRSS after M and after all N enqueues); releases (resource
 * hand-backs) and release_errors (resources handed back more often than
 * given). Exit status: 0; 1 if resources were not handed back exactly once
 * per span; 2 for bad usage or settings; 3 when the settings turn traces
 * off.
 */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "otel/otel_env.h"
#include "otel/otlp_exporter.h"

#define RESOURCES_MAX 64

extern char **environ;

static struct span_resource resources[RESOURCES_MAX];
static _Atomic long refs[RESOURCES_MAX];
static _Atomic long releases, release_errors;
static struct otel_config cfg;

static void on_release(void *ctx, const struct span_resource *res)
{
	long r = res - resources;

	(void)ctx;
	if (r < 0 || r >= RESOURCES_MAX || atomic_fetch_sub(&refs[r], 1) <= 0)
		atomic_fetch_add(&release_errors, 1);
	atomic_fetch_add(&releases, 1);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void make_resources(unsigned int n)
{
	struct span_resource *r;

	for (unsigned int i = 0; i < n; i++) {
		r = &resources[i];
		if (cfg.service_name[0])
			snprintf(r->service_name, sizeof(r->service_name),
				 "%s", cfg.service_name);
		else
			snprintf(r->service_name, sizeof(r->service_name),
				 "svc-%u", i);
		snprintf(r->k8s_namespace_name, sizeof(r->k8s_namespace_name),
			 "shop");
		snprintf(r->k8s_pod_name, sizeof(r->k8s_pod_name), "pod-%u", i);
		snprintf(r->k8s_container_name, sizeof(r->k8s_container_name),
			 "web");
		snprintf(r->k8s_node_name, sizeof(r->k8s_node_name), "node-1");
		r->process_pid = 1000 + i;
		snprintf(r->process_runtime_name,
			 sizeof(r->process_runtime_name), "cpython");
		snprintf(r->process_runtime_version,
			 sizeof(r->process_runtime_version), "3.11.2");
		r->n_extra = cfg.n_resource_attrs;
		memcpy(r->extra, cfg.resource_attrs,
		       cfg.n_resource_attrs * sizeof(r->extra[0]));
	}
}

static void make_span(struct span *s, const uint8_t run[8], uint64_t i,
		      unsigned int nres)
{
	bool client = i % 3 == 2;

	memset(s, 0, sizeof(*s));
	memcpy(s->trace_id, run, 8);
	put_be64(s->trace_id + 8, i + 1);
	put_be64(s->span_id, i + 1);
	if (i % 2)
		put_be64(s->parent_span_id, i);
	s->kind = client ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	s->start_unix_ns = 1700000000000000000ull + i * 1000;
	s->end_unix_ns = s->start_unix_ns + 1500000;
	s->http_response_status_code = i % 10 == 9 ? 503 : 200;
	s->status = i % 10 == 9 ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
	snprintf(s->name, sizeof(s->name), "%s",
		 client ? "POST /orders" : "GET /items/{id}");
	snprintf(s->http_request_method, sizeof(s->http_request_method), "%s",
		 client ? "POST" : "GET");
	if (client)
		snprintf(s->url_path, sizeof(s->url_path), "/orders");
	else
		snprintf(s->url_path, sizeof(s->url_path), "/items/%llu",
			 (unsigned long long)i);
	snprintf(s->url_scheme, sizeof(s->url_scheme), "http");
	snprintf(s->http_route, sizeof(s->http_route), "%s",
		 client ? "/orders" : "/items/{id}");
	snprintf(s->server_address, sizeof(s->server_address),
		 "shop.prod.svc");
	s->server_port = 8080;
	snprintf(s->client_address, sizeof(s->client_address), "10.0.0.%llu",
		 (unsigned long long)(i % 250 + 1));
	snprintf(s->network_peer_address, sizeof(s->network_peer_address),
		 "%s", s->client_address);
	snprintf(s->user_agent_original, sizeof(s->user_agent_original),
		 "driver/1.0");
	s->resource = &resources[i % nres];
}

/* Nothing queued or in flight: every enqueued span exported or dropped. */
static bool settled(struct otlp_exporter *e)
{
	struct otlp_exporter_stats st;
	uint64_t done;

	otlp_exporter_get_stats(e, &st);
	done = st.spans_exported;
	for (int i = OTLP_DROP_REJECTED; i < OTLP_DROP__COUNT; i++)
		done += st.spans_dropped[i];
	return done == st.spans_enqueued;
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

struct result {
	uint64_t enqueue_max_us;
	long settled_ms, stop_ms, rss_mark, rss_end;
};

static void print_result(struct otlp_exporter *e, const struct result *r)
{
	struct otlp_exporter_stats st;

	otlp_exporter_get_stats(e, &st);
	printf("{\"enqueued\":%llu,\"exported\":%llu,\"dropped\":{",
	       (unsigned long long)st.spans_enqueued,
	       (unsigned long long)st.spans_exported);
	for (int i = 0; i < OTLP_DROP__COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", otlp_drop_reason_name(i),
		       (unsigned long long)st.spans_dropped[i]);
	printf("},\"requests\":{");
	for (int i = 0; i < OTLP_REQ__COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "",
		       otlp_request_outcome_name(i),
		       (unsigned long long)st.http.requests[i]);
	printf("},\"retries\":%llu,\"queue_length\":%llu,"
	       "\"enqueue_max_us\":%llu,\"settled_ms\":%ld,\"stop_ms\":%ld,"
	       "\"rss_kb_mark\":%ld,\"rss_kb_end\":%ld,\"releases\":%ld,"
	       "\"release_errors\":%ld,\"last_error\":",
	       (unsigned long long)st.http.retries,
	       (unsigned long long)st.queue_length,
	       (unsigned long long)r->enqueue_max_us, r->settled_ms,
	       r->stop_ms, r->rss_mark, r->rss_end, atomic_load(&releases),
	       atomic_load(&release_errors));
	print_json_string(st.http.last_error);
	printf("}\n");
}

static int usage(void)
{
	fprintf(stderr, "usage: exporter_driver --spans N [--resources R] [--interval-us U] [--wait-ms MS] [--rss-mark M]\n");
	return 2;
}

static bool parse_num(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spans", required_argument, NULL, 'n' },
		{ "resources", required_argument, NULL, 'r' },
		{ "interval-us", required_argument, NULL, 'i' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "rss-mark", required_argument, NULL, 'm' },
		{ 0 },
	};
	unsigned long long nspans = 0, nres = 1, interval = 0, wait_ms = 0;
	unsigned long long mark = 0, v;
	struct result res = { .settled_ms = -1, .rss_mark = -1 };
	struct otlp_exporter *e;
	uint64_t t0, t, deadline;
	uint8_t run[8];
	struct span s;
	char err[512];
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (!optarg || !parse_num(optarg, &v))
			return usage();
		switch (opt) {
		case 'n': nspans = v; break;
		case 'r': nres = v; break;
		case 'i': interval = v; break;
		case 'w': wait_ms = v; break;
		case 'm': mark = v; break;
		default: return usage();
		}
	}
	if (optind != argc || !nspans || !nres || nres > RESOURCES_MAX)
		return usage();

	log_set_verbose(getenv("DRIVER_VERBOSE") != NULL);
	if (otel_config_from_env(&cfg, environ, err, sizeof(err))) {
		fprintf(stderr, "exporter_driver: %s\n", err);
		return 2;
	}
	for (unsigned int i = 0; i < cfg.n_warnings; i++)
		log_warn("%s", cfg.warnings[i]);
	if (!cfg.enabled) {
		fprintf(stderr, "exporter_driver: %s\n", cfg.disabled_reason);
		return 3;
	}
	if (getrandom(run, sizeof(run), 0) != sizeof(run))
		return 2;
	make_resources((unsigned int)nres);
	e = otlp_exporter_start(&cfg, on_release, NULL);
	if (!e)
		return 2;

	t0 = now_ms();
	for (uint64_t i = 0; i < nspans; i++) {
		make_span(&s, run, i, (unsigned int)nres);
		atomic_fetch_add(&refs[i % nres], 1);
		t = now_us();
		otlp_exporter_enqueue(e, &s);
		t = now_us() - t;
		if (t > res.enqueue_max_us)
			res.enqueue_max_us = t;
		if (i + 1 == mark)
			res.rss_mark = rss_kb();
		if (interval)
			usleep((useconds_t)interval);
	}
	res.rss_end = rss_kb();
	deadline = t0 + wait_ms;
	do {
		if (settled(e)) {
			res.settled_ms = (long)(now_ms() - t0);
			break;
		}
		usleep(5000);
	} while (now_ms() < deadline);

	t = now_ms();
	otlp_exporter_stop(e);
	res.stop_ms = (long)(now_ms() - t);
	print_result(e, &res);
	otlp_exporter_destroy(e);

	for (unsigned int r = 0; r < nres; r++)
		if (atomic_load(&refs[r]))
			atomic_fetch_add(&release_errors, 1);
	return atomic_load(&releases) == (long)nspans &&
			       !atomic_load(&release_errors) ?
		       0 :
		       1;
}
