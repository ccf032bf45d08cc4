// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture.h"
#include "version.h"

#define DEFAULT_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define DEFAULT_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
#define TTL_MAX (366u * 86400u)
#define REFRESH_MAX 86400u

static char *env_routes_copy; /* PODTAP_ROUTES, split in place */

static const char usage[] =
	"Usage: podtap [OPTIONS]\n"
	"\n"
	"Captures the HTTP/1.x traffic of every process on this node with eBPF\n"
	"syscall tracepoints and serves per-pod Prometheus metrics.\n"
	"\n"
	"Options (environment twin in brackets):\n"
	"  --metrics-listen HOST:PORT  where /metrics, /healthz, /readyz are\n"
	"                              served [PODTAP_METRICS_LISTEN]\n"
	"                              (default 0.0.0.0:9464)\n"
	"  --pod-log-dir DIR           kubelet pod log directory, for pod names\n"
	"                              [PODTAP_POD_LOG_DIR] (default /var/log/pods)\n"
	"  --route PATTERN             route pattern such as '/users/{id}';\n"
	"                              repeatable [PODTAP_ROUTES, comma-separated]\n"
	"  --pin-path DIR              pin BPF programs and maps here while running\n"
	"                              [PODTAP_PIN_PATH] (default /sys/fs/bpf/podtap)\n"
	"  --no-pin                    do not pin anything\n"
	"  --payload-size BYTES        bytes copied per socket syscall, 256..16384\n"
	"                              [PODTAP_PAYLOAD_SIZE] (default 8192)\n"
	"  --ringbuf-size BYTES        kernel ring buffer, power of two >= 64 KiB\n"
	"                              [PODTAP_RINGBUF_SIZE] (default 4194304)\n"
	"  --max-series-per-pod N      route series per pod before the {overflow}\n"
	"                              route is used [PODTAP_MAX_SERIES_PER_POD]\n"
	"                              (default 1000)\n"
	"  --series-ttl SECONDS        series of a pod that is gone (and of a host\n"
	"                              process) are dropped this long after their\n"
	"                              last request [PODTAP_SERIES_TTL] (default 300)\n"
	"  --kubelet                   pod names, labels and owners (Deployment,\n"
	"                              StatefulSet, DaemonSet) from the kubelet's\n"
	"                              /pods [PODTAP_KUBELET=1]\n"
	"  --kubelet-url URL           the kubelet's API [PODTAP_KUBELET_URL]\n"
	"                              (default https://$NODE_IP:10250)\n"
	"  --kubelet-token-file FILE   bearer token, read for every request; ''\n"
	"                              sends none [PODTAP_KUBELET_TOKEN_FILE] (default\n"
	"                              " DEFAULT_TOKEN_FILE ")\n"
	"  --kubelet-ca-file FILE      CA of the kubelet's certificate; '' for the\n"
	"                              system store [PODTAP_KUBELET_CA_FILE] (default\n"
	"                              " DEFAULT_CA_FILE ")\n"
	"  --kubelet-insecure-skip-verify  do not check the kubelet's certificate\n"
	"                              [PODTAP_KUBELET_INSECURE_SKIP_VERIFY=1]\n"
	"  --kubelet-refresh SECONDS   how often the pod list is fetched (also when\n"
	"                              an unknown pod appears, at most once a\n"
	"                              second) [PODTAP_KUBELET_REFRESH] (default 30)\n"
	"  --otlp-queue-size N         spans queued for export before drops\n"
	"                              [PODTAP_OTLP_QUEUE_SIZE] (default 8192)\n"
	"  --otlp-batch-size N         spans per export request\n"
	"                              [PODTAP_OTLP_BATCH_SIZE] (default 8192)\n"
	"  --otlp-batch-timeout MS     longest wait before a partial batch is sent\n"
	"                              [PODTAP_OTLP_BATCH_TIMEOUT] (default 200)\n"
	"  --no-python-hooks           do not hook Python processes (HTTPS\n"
	"                              plaintext, GC metrics)\n"
	"                              [PODTAP_PYTHON_HOOKS=0]\n"
	"  -v, --verbose               debug logging, libbpf's included\n"
	"                              [PODTAP_VERBOSE=1]\n"
	"  -h, --help                  this text\n"
	"  -V, --version               version\n"
	"\n"
	"Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) to export\n"
	"a span per HTTP exchange over OTLP/HTTP; OTEL_EXPORTER_OTLP_HEADERS,\n"
	"OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TIMEOUT,\n"
	"OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG and OTEL_RESOURCE_ATTRIBUTES\n"
	"mean what the OpenTelemetry specification says.\n"
	"\n"
	"NODE_NAME names the node (k8s_node_name, k8s.node.name); NODE_IP is the\n"
	"kubelet's address by default.\n";

static int set_string(char *dst, size_t size, const char *value,
		      const char *what)
{
	if (strlen(value) >= size) {
		fprintf(stderr, "podtap: %s is too long (max %zu bytes)\n", what,
			size - 1);
		return -1;
	}
	strcpy(dst, value);
	return 0;
}

static int set_u32(uint32_t *dst, const char *value, uint32_t min,
		   uint32_t max, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max) {
		fprintf(stderr, "podtap: %s must be a number in %u..%u, got '%s'\n",
			what, min, max, value);
		return -1;
	}
	*dst = (uint32_t)v;
	return 0;
}

/* A switch in the environment: 1/true/yes/on or 0/false/no/off ("" is
 * off), so that a chart can set it either way. */
static int set_bool_env(bool *dst, const char *value, const char *what)
{
	static const char *const on[] = { "1", "true", "yes", "on" };
	static const char *const off[] = { "", "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (!strcasecmp(value, on[i])) {
			*dst = true;
			return 0;
		}
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (!strcasecmp(value, off[i])) {
			*dst = false;
			return 0;
		}
	fprintf(stderr, "podtap: %s must be 1 or 0 (true or false), got '%s'\n",
		what, value);
	return -1;
}

static int add_route(struct config *cfg, const char *pattern)
{
	if (!*pattern)
		return 0;
	if (cfg->nroutes == CONFIG_ROUTES_MAX) {
		fprintf(stderr, "podtap: at most %d --route patterns\n",
			CONFIG_ROUTES_MAX);
		return -1;
	}
	cfg->routes[cfg->nroutes++] = pattern;
	return 0;
}

/* "a, b" is as natural in an environment variable as "a,b". */
static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int apply_env(struct config *cfg)
{
	const char *v;
	char *save, *tok;

	if ((v = getenv("PODTAP_METRICS_LISTEN")) &&
	    set_string(cfg->metrics_listen, sizeof(cfg->metrics_listen), v,
		       "PODTAP_METRICS_LISTEN"))
		return -1;
	if ((v = getenv("PODTAP_POD_LOG_DIR")) &&
	    set_string(cfg->pod_log_dir, sizeof(cfg->pod_log_dir), v,
		       "PODTAP_POD_LOG_DIR"))
		return -1;
	if ((v = getenv("PODTAP_PIN_PATH")) &&
	    set_string(cfg->pin_path, sizeof(cfg->pin_path), v,
		       "PODTAP_PIN_PATH"))
		return -1;
	if ((v = getenv("PODTAP_PAYLOAD_SIZE")) &&
	    set_u32(&cfg->payload_size, v, 256, PODTAP_PAYLOAD_MAX,
		    "PODTAP_PAYLOAD_SIZE"))
		return -1;
	if ((v = getenv("PODTAP_RINGBUF_SIZE")) &&
	    set_u32(&cfg->ringbuf_size, v, 65536, 1u << 30,
		    "PODTAP_RINGBUF_SIZE"))
		return -1;
	if ((v = getenv("PODTAP_MAX_SERIES_PER_POD")) &&
	    set_u32(&cfg->max_series_per_pod, v, 1, 1000000,
		    "PODTAP_MAX_SERIES_PER_POD"))
		return -1;
	if ((v = getenv("PODTAP_SERIES_TTL")) &&
	    set_u32(&cfg->series_ttl_s, v, 1, TTL_MAX, "PODTAP_SERIES_TTL"))
		return -1;
	if ((v = getenv("PODTAP_VERBOSE")) && strcmp(v, "") && strcmp(v, "0"))
		cfg->verbose = true;
	if ((v = getenv("PODTAP_PYTHON_HOOKS")) && !strcmp(v, "0"))
		cfg->python_hooks = false;
	if ((v = getenv("NODE_NAME")) &&
	    set_string(cfg->node_name, sizeof(cfg->node_name), v, "NODE_NAME"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET")) &&
	    set_bool_env(&cfg->kubelet, v, "PODTAP_KUBELET"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET_URL")) &&
	    set_string(cfg->kubelet_url, sizeof(cfg->kubelet_url), v,
		       "PODTAP_KUBELET_URL"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET_TOKEN_FILE")) &&
	    set_string(cfg->kubelet_token_file, sizeof(cfg->kubelet_token_file),
		       v, "PODTAP_KUBELET_TOKEN_FILE"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET_CA_FILE")) &&
	    set_string(cfg->kubelet_ca_file, sizeof(cfg->kubelet_ca_file), v,
		       "PODTAP_KUBELET_CA_FILE"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET_INSECURE_SKIP_VERIFY")) &&
	    set_bool_env(&cfg->kubelet_insecure_skip_verify, v,
			 "PODTAP_KUBELET_INSECURE_SKIP_VERIFY"))
		return -1;
	if ((v = getenv("PODTAP_KUBELET_REFRESH")) &&
	    set_u32(&cfg->kubelet_refresh_s, v, 1, REFRESH_MAX,
		    "PODTAP_KUBELET_REFRESH"))
		return -1;
	if ((v = getenv("PODTAP_ROUTES"))) {
		env_routes_copy = strdup(v);
		if (!env_routes_copy)
			return -1;
		for (tok = strtok_r(env_routes_copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (add_route(cfg, trim(tok)))
				return -1;
	}
	return 0;
}

/* The kubelet's URL: as given, else https://$NODE_IP:10250 (the node's
 * address from the downward API: status.hostIP). */
static int kubelet_url(struct config *cfg)
{
	const char *ip = getenv("NODE_IP");
	const char *u = cfg->kubelet_url;

	if (!u[0]) {
		if (!ip || !ip[0]) {
			fprintf(stderr, "podtap: --kubelet needs --kubelet-url "
				"(PODTAP_KUBELET_URL) or NODE_IP, the node's "
				"address\n");
			return -1;
		}
		/* An IPv6 address goes in brackets. */
		if ((size_t)snprintf(cfg->kubelet_url, sizeof(cfg->kubelet_url),
				     strchr(ip, ':') ? "https://[%s]:10250"
						     : "https://%s:10250",
				     ip) >= sizeof(cfg->kubelet_url)) {
			fprintf(stderr, "podtap: NODE_IP is too long\n");
			return -1;
		}
		return 0;
	}
	if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) {
		fprintf(stderr, "podtap: --kubelet-url must be an http:// or "
			"https:// URL, got '%s'\n", u);
		return -1;
	}
	return 0;
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_LOGDIR, OPT_ROUTE, OPT_PIN, OPT_NOPIN,
	       OPT_PAYLOAD, OPT_RINGBUF, OPT_SERIES, OPT_OTLP_QUEUE,
	       OPT_OTLP_BATCH, OPT_OTLP_TIMEOUT, OPT_NO_PYTHON, OPT_TTL,
	       OPT_KUBELET, OPT_KUBELET_URL, OPT_KUBELET_TOKEN, OPT_KUBELET_CA,
	       OPT_KUBELET_INSECURE, OPT_KUBELET_REFRESH };
	static const struct option opts[] = {
		{ "metrics-listen", required_argument, NULL, OPT_LISTEN },
		{ "pod-log-dir", required_argument, NULL, OPT_LOGDIR },
		{ "route", required_argument, NULL, OPT_ROUTE },
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "no-pin", no_argument, NULL, OPT_NOPIN },
		{ "payload-size", required_argument, NULL, OPT_PAYLOAD },
		{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
		{ "max-series-per-pod", required_argument, NULL, OPT_SERIES },
		{ "otlp-queue-size", required_argument, NULL, OPT_OTLP_QUEUE },
		{ "otlp-batch-size", required_argument, NULL, OPT_OTLP_BATCH },
		{ "otlp-batch-timeout", required_argument, NULL, OPT_OTLP_TIMEOUT },
		{ "no-python-hooks", no_argument, NULL, OPT_NO_PYTHON },
		{ "series-ttl", required_argument, NULL, OPT_TTL },
		{ "kubelet", no_argument, NULL, OPT_KUBELET },
		{ "kubelet-url", required_argument, NULL, OPT_KUBELET_URL },
		{ "kubelet-token-file", required_argument, NULL, OPT_KUBELET_TOKEN },
		{ "kubelet-ca-file", required_argument, NULL, OPT_KUBELET_CA },
		{ "kubelet-insecure-skip-verify", no_argument, NULL,
		  OPT_KUBELET_INSECURE },
		{ "kubelet-refresh", required_argument, NULL, OPT_KUBELET_REFRESH },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int opt;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->metrics_listen, "0.0.0.0:9464");
	strcpy(cfg->pod_log_dir, "/var/log/pods");
	strcpy(cfg->pin_path, "/sys/fs/bpf/podtap");
	cfg->payload_size = 8192;
	cfg->ringbuf_size = 4u << 20;
	cfg->max_series_per_pod = 1000;
	cfg->python_hooks = true;
	cfg->series_ttl_s = 300;
	strcpy(cfg->kubelet_token_file, DEFAULT_TOKEN_FILE);
	strcpy(cfg->kubelet_ca_file, DEFAULT_CA_FILE);
	cfg->kubelet_refresh_s = 30;

	if (apply_env(cfg))
		return -1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			if (set_string(cfg->metrics_listen,
				       sizeof(cfg->metrics_listen), optarg,
				       "--metrics-listen"))
				return -1;
			break;
		case OPT_LOGDIR:
			if (set_string(cfg->pod_log_dir, sizeof(cfg->pod_log_dir),
				       optarg, "--pod-log-dir"))
				return -1;
			break;
		case OPT_ROUTE:
			if (add_route(cfg, optarg))
				return -1;
			break;
		case OPT_PIN:
			if (set_string(cfg->pin_path, sizeof(cfg->pin_path),
				       optarg, "--pin-path"))
				return -1;
			break;
		case OPT_NOPIN:
			cfg->pin_path[0] = '\0';
			break;
		case OPT_PAYLOAD:
			if (set_u32(&cfg->payload_size, optarg, 256,
				    PODTAP_PAYLOAD_MAX, "--payload-size"))
				return -1;
			break;
		case OPT_RINGBUF:
			if (set_u32(&cfg->ringbuf_size, optarg, 65536, 1u << 30,
				    "--ringbuf-size"))
				return -1;
			break;
		case OPT_SERIES:
			if (set_u32(&cfg->max_series_per_pod, optarg, 1, 1000000,
				    "--max-series-per-pod"))
				return -1;
			break;
		case OPT_TTL:
			if (set_u32(&cfg->series_ttl_s, optarg, 1, TTL_MAX,
				    "--series-ttl"))
				return -1;
			break;
		case OPT_KUBELET:
			cfg->kubelet = true;
			break;
		case OPT_KUBELET_URL:
			if (set_string(cfg->kubelet_url, sizeof(cfg->kubelet_url),
				       optarg, "--kubelet-url"))
				return -1;
			break;
		case OPT_KUBELET_TOKEN:
			if (set_string(cfg->kubelet_token_file,
				       sizeof(cfg->kubelet_token_file), optarg,
				       "--kubelet-token-file"))
				return -1;
			break;
		case OPT_KUBELET_CA:
			if (set_string(cfg->kubelet_ca_file,
				       sizeof(cfg->kubelet_ca_file), optarg,
				       "--kubelet-ca-file"))
				return -1;
			break;
		case OPT_KUBELET_INSECURE:
			cfg->kubelet_insecure_skip_verify = true;
			break;
		case OPT_KUBELET_REFRESH:
			if (set_u32(&cfg->kubelet_refresh_s, optarg, 1,
				    REFRESH_MAX, "--kubelet-refresh"))
				return -1;
			break;
		/* The exporter reads its settings from the environment
		 * (otel_env.c), so these flags set their twins there. */
		case OPT_OTLP_QUEUE:
			setenv("PODTAP_OTLP_QUEUE_SIZE", optarg, 1);
			break;
		case OPT_OTLP_BATCH:
			setenv("PODTAP_OTLP_BATCH_SIZE", optarg, 1);
			break;
		case OPT_OTLP_TIMEOUT:
			setenv("PODTAP_OTLP_BATCH_TIMEOUT", optarg, 1);
			break;
		case OPT_NO_PYTHON:
			cfg->python_hooks = false;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("podtap %s\n", PODTAP_VERSION);
			return 1;
		default:
			fputs("Try 'podtap --help'.\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podtap: unexpected argument '%s'\nTry 'podtap --help'.\n",
			argv[optind]);
		return -1;
	}
	if (cfg->ringbuf_size & (cfg->ringbuf_size - 1)) {
		fprintf(stderr, "podtap: --ringbuf-size must be a power of two, got %u\n",
			cfg->ringbuf_size);
		return -1;
	}
	return cfg->kubelet ? kubelet_url(cfg) : 0;
}

void config_free(struct config *cfg)
{
	(void)cfg;
	free(env_routes_copy);
	env_routes_copy = NULL;
}
