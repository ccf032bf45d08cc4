// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "version.h"

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
	"mean what the OpenTelemetry specification says.\n";

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
	if ((v = getenv("PODTAP_VERBOSE")) && strcmp(v, "") && strcmp(v, "0"))
		cfg->verbose = true;
	if ((v = getenv("PODTAP_PYTHON_HOOKS")) && !strcmp(v, "0"))
		cfg->python_hooks = false;
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

int config_parse(struct config *cfg, int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_LOGDIR, OPT_ROUTE, OPT_PIN, OPT_NOPIN,
	       OPT_PAYLOAD, OPT_RINGBUF, OPT_SERIES, OPT_OTLP_QUEUE,
	       OPT_OTLP_BATCH, OPT_OTLP_TIMEOUT, OPT_NO_PYTHON };
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
	return 0;
}

void config_free(struct config *cfg)
{
	(void)cfg;
	free(env_routes_copy);
	env_routes_copy = NULL;
}
