// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every option is one row of opts[]: its flag, its environment twin, how
 * its value is read and checked, its default and its help. Defaults, the
 * environment, argv, getopt_long's table and --help all come from there.
 */
#include "daemon/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/capture.h"
#include "http/route.h"
#include "lib/array_size.h"
#include "lib/compat.h"
#include "lib/listen_addr.h"
#include "lib/version.h"
#include "otel/otel_env.h"
#include "statsd/statsd.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define DEFAULT_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define DEFAULT_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
#define TTL_MAX (366u * 86400u)
#define REFRESH_MAX 86400u

/* getopt_long's value for opts[i] without a short flag: 256 + i. */
#define LONG_ONLY_BASE 256

enum opt_kind {
	OPT_STRING,	  /* char[size] at offset */
	OPT_U32,	  /* uint32_t at offset, in min..max */
	OPT_SWITCH,	  /* bool at offset; the flag sets it (clears if negated) */
	OPT_ROUTES,	  /* --route, repeatable; the twin a comma-separated list */
	OPT_CLEAR,	  /* empties the string at offset; its twin is that
			   * string's own, set empty */
	OPT_MAYBE_U32,	  /* struct maybe_u32 at offset, in min..max: set
			   * only by the flag or the twin (else a layer
			   * below has its own default: otel_env.h) */
	OPT_HELP,
	OPT_VERSION,
};

struct opt {
	const char *flag;	/* long flag, without "--" */
	char short_flag;	/* 0: none */
	const char *env;	/* the environment twin */
	const char *env_else;	/* OPT_MAYBE_U32: read by that layer when
				 * neither flag nor twin is set */
	enum opt_kind kind;
	size_t offset;		/* of the field in struct config */
	size_t size;		/* OPT_STRING: of the field, NUL included */
	uint32_t min, max;	/* OPT_U32, OPT_MAYBE_U32 */
	bool power_of_two;	/* OPT_U32 */
	bool negated;		/* OPT_SWITCH: the flag turns it off */
	/* OPT_STRING: NULL, or what is wrong with value ("must be ..."). */
	const char *(*check)(const char *value);
	const char *def;	/* default, written as the twin would be */
	const char *def_shown;	/* --help's default where def does not say */
	const char *arg;	/* --help's name for the value */
	const char *help;
};

#define FIELD(f) .offset = offsetof(struct config, f)
#define STRING(f) .kind = OPT_STRING, FIELD(f), \
	.size = sizeof(((struct config *)0)->f)
#define U32(f, lo, hi) .kind = OPT_U32, FIELD(f), .min = (lo), .max = (hi)
#define SWITCH(f) .kind = OPT_SWITCH, FIELD(f)
#define MAYBE_U32(f, lo, hi) .kind = OPT_MAYBE_U32, FIELD(f), .min = (lo), \
	.max = (hi)

static const char *check_listen(const char *value)
{
	char host[LISTEN_ADDR_HOST_MAX], port[LISTEN_ADDR_PORT_MAX];

	if (listen_addr_split(value, host, sizeof(host), port, sizeof(port)))
		return "must be HOST:PORT with a port in 1..65535 (for example 0.0.0.0:9464 or [::]:9464)";
	return NULL;
}

/* "" is the default URL, made from NODE_IP (kubelet_url). */
static const char *check_http_url(const char *value)
{
	if (value[0] && strncmp(value, "https://", 8) &&
	    strncmp(value, "http://", 7))
		return "must be an http:// or https:// URL";
	return NULL;
}

static const char *check_trace_format(const char *value)
{
	if (strcmp(value, "w3c") && strcmp(value, "b3") &&
	    strcmp(value, "w3c,b3") && strcmp(value, "b3,w3c"))
		return "must be w3c, b3 or w3c,b3";
	return NULL;
}

/* "" is off. */
static const char *check_statsd_host(const char *value)
{
	char host[LISTEN_ADDR_HOST_MAX], port[LISTEN_ADDR_PORT_MAX];

	if (value[0] && listen_addr_split(value, host, sizeof(host), port,
					  sizeof(port)))
		return "must be HOST:PORT with a port in 1..65535 (for example statsd-exporter.monitoring:9125), or empty for none";
	return NULL;
}

static const char *check_compat(const char *value)
{
	unsigned int modes;

	if (!compat_parse(value, &modes))
		return "must be flask-exporter, or empty for none";
	return NULL;
}

static const struct opt opts[] = {
	{ .flag = "metrics-listen", .env = "PODTAP_METRICS_LISTEN",
	  STRING(metrics_listen), .check = check_listen,
	  .def = "0.0.0.0:9464", .arg = "HOST:PORT",
	  .help = "where /metrics, /healthz, /readyz are served ([::]:9464 for IPv6)" },
	{ .flag = "pod-log-dir", .env = "PODTAP_POD_LOG_DIR",
	  STRING(pod_log_dir), .def = "/var/log/pods", .arg = "DIR",
	  .help = "kubelet pod log directory, for pod names" },
	{ .flag = "route", .env = "PODTAP_ROUTES", .kind = OPT_ROUTES,
	  .arg = "PATTERN",
	  .help = "route pattern such as '/users/{id}' or '/static/*', tried before the heuristic; repeatable" },
	{ .flag = "pin-path", .env = "PODTAP_PIN_PATH", STRING(pin_path),
	  .def = "/sys/fs/bpf/podtap", .arg = "DIR",
	  .help = "pin BPF programs and maps here while running" },
	{ .flag = "no-pin", .env = "PODTAP_PIN_PATH", .kind = OPT_CLEAR,
	  FIELD(pin_path), .help = "do not pin anything" },
	{ .flag = "payload-size", .env = "PODTAP_PAYLOAD_SIZE",
	  U32(payload_size, 256, PODTAP_PAYLOAD_MAX), .def = "8192",
	  .arg = "BYTES", .help = "most bytes copied per socket syscall" },
	{ .flag = "ringbuf-size", .env = "PODTAP_RINGBUF_SIZE",
	  U32(ringbuf_size, 65536, 1u << 30), .power_of_two = true,
	  .def = "4194304", .arg = "BYTES", .help = "kernel ring buffer size" },
	{ .flag = "max-series-per-pod", .env = "PODTAP_MAX_SERIES_PER_POD",
	  U32(max_series_per_pod, 1, 1000000), .def = "1000", .arg = "N",
	  .help = "route series per pod before the {overflow} route is used" },
	{ .flag = "compat", .env = "PODTAP_COMPAT", STRING(compat),
	  .check = check_compat, .def = "", .arg = "MODES",
	  .help = "also serve every pod's server requests under another stack's names: flask-exporter (prometheus-flask-exporter's flask_http_request_*); one pod alone: its podtap.io/compat label" },
	{ .flag = "statsd-host", .env = "PODTAP_STATSD_HOST",
	  STRING(statsd_host), .check = check_statsd_host, .def = "",
	  .arg = "HOST:PORT",
	  .help = "send every pod's server requests as gunicorn's --statsd-host does (gunicorn.requests, gunicorn.request.duration, gunicorn.request.status.<code>) to this statsd" },
	{ .flag = "statsd-prefix", .env = "PODTAP_STATSD_PREFIX",
	  STRING(statsd_prefix), .check = statsd_prefix_check, .def = "",
	  .arg = "TEMPLATE",
	  .help = "each pod's prefix for those names, from {namespace}, {pod}, {container}, {service}, {deployment}, {statefulset}, {daemonset} (e.g. '{namespace}.{pod}'); a '.' is put after it, as gunicorn does" },
	{ .flag = "series-ttl", .env = "PODTAP_SERIES_TTL",
	  U32(series_ttl_s, 1, TTL_MAX), .def = "300", .arg = "SECONDS",
	  .help = "series of a pod that is gone (and of a host process) are dropped this long after their last request" },
	{ .flag = "kubelet", .env = "PODTAP_KUBELET", SWITCH(kubelet),
	  .def = "off",
	  .help = "pod names, labels and owners (Deployment, StatefulSet, DaemonSet) from the kubelet's /pods" },
	{ .flag = "kubelet-url", .env = "PODTAP_KUBELET_URL",
	  STRING(kubelet_url), .check = check_http_url,
	  .def_shown = "https://$NODE_IP:10250", .arg = "URL",
	  .help = "the kubelet's API" },
	{ .flag = "kubelet-token-file", .env = "PODTAP_KUBELET_TOKEN_FILE",
	  STRING(kubelet_token_file), .def = DEFAULT_TOKEN_FILE, .arg = "FILE",
	  .help = "bearer token, read for every request; '' sends none" },
	{ .flag = "kubelet-ca-file", .env = "PODTAP_KUBELET_CA_FILE",
	  STRING(kubelet_ca_file), .def = DEFAULT_CA_FILE, .arg = "FILE",
	  .help = "CA of the kubelet's certificate; '' for the system store" },
	{ .flag = "kubelet-insecure-skip-verify",
	  .env = "PODTAP_KUBELET_INSECURE_SKIP_VERIFY",
	  SWITCH(kubelet_insecure_skip_verify), .def = "off",
	  .help = "do not check the kubelet's certificate" },
	{ .flag = "kubelet-refresh", .env = "PODTAP_KUBELET_REFRESH",
	  U32(kubelet_refresh_s, 1, REFRESH_MAX), .def = "30",
	  .arg = "SECONDS",
	  .help = "how often the pod list is fetched (also when an unknown pod appears, at most once a second)" },
	{ .flag = "otlp-queue-size", .env = "PODTAP_OTLP_QUEUE_SIZE",
	  .env_else = "OTEL_BSP_MAX_QUEUE_SIZE",
	  MAYBE_U32(otlp_queue_size, OTEL_QUEUE_SIZE_MIN, OTEL_QUEUE_SIZE_MAX),
	  .def_shown = STR(OTEL_DEFAULT_QUEUE_SIZE), .arg = "N",
	  .help = "spans queued for export before new ones are dropped" },
	{ .flag = "otlp-batch-size", .env = "PODTAP_OTLP_BATCH_SIZE",
	  .env_else = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	  MAYBE_U32(otlp_batch_size, OTEL_BATCH_SIZE_MIN, OTEL_BATCH_SIZE_MAX),
	  .def_shown = STR(OTEL_DEFAULT_BATCH_SIZE), .arg = "N",
	  .help = "spans per export request" },
	{ .flag = "otlp-batch-timeout", .env = "PODTAP_OTLP_BATCH_TIMEOUT",
	  .env_else = "OTEL_BSP_SCHEDULE_DELAY",
	  MAYBE_U32(otlp_batch_timeout_ms, OTEL_BATCH_TIMEOUT_MIN_MS,
		    OTEL_BATCH_TIMEOUT_MAX_MS),
	  .def_shown = STR(OTEL_DEFAULT_BATCH_TIMEOUT_MS), .arg = "MS",
	  .help = "longest wait before a partial batch is sent" },
	{ .flag = "no-python-hooks", .env = "PODTAP_PYTHON_HOOKS",
	  SWITCH(python_hooks), .negated = true, .def = "on",
	  .help = "do not hook Python processes (HTTPS plaintext, GC metrics)" },
	{ .flag = "inject-trace-context", .env = "PODTAP_INJECT_TRACE_CONTEXT",
	  SWITCH(inject_trace_context), .def = "off",
	  .help = "put a traceparent naming podtap's client span into outgoing plain-HTTP/1.x requests that carry no trace header, so that callees on other nodes join the trace (needs traces on, and CAP_NET_ADMIN)" },
	{ .flag = "inject-trace-format", .env = "PODTAP_INJECT_TRACE_FORMAT",
	  STRING(inject_trace_format), .check = check_trace_format,
	  .def = "w3c", .arg = "FORMATS",
	  .help = "the headers injected: w3c (traceparent), b3 (single b3 header) or w3c,b3" },
	{ .flag = "uprobe-linger", .env = "PODTAP_UPROBE_LINGER",
	  U32(uprobe_linger_s, 0, TTL_MAX), .def = "60", .arg = "SECONDS",
	  .help = "a file's uprobes stay this long after its last Python process exits, for the next one to use" },
	{ .flag = "verbose", .short_flag = 'v', .env = "PODTAP_VERBOSE",
	  SWITCH(verbose), .def = "off",
	  .help = "debug logging, libbpf's included" },
	{ .flag = "help", .short_flag = 'h', .kind = OPT_HELP,
	  .help = "this text" },
	{ .flag = "version", .short_flag = 'V', .kind = OPT_VERSION,
	  .help = "version" },
};

static const char usage_head[] =
	"Usage: podtap [OPTIONS]\n"
	"\n"
	"Captures the HTTP/1.x traffic of every process on this node with eBPF\n"
	"syscall tracepoints and serves per-pod Prometheus metrics.\n"
	"\n"
	"Options (environment twin in brackets):\n";

static const char usage_tail[] =
	"\n"
	"A switch's twin takes 1, true, yes or on, and 0, false, no, off or ''\n"
	"(in any case). An empty number counts as unset.\n"
	"\n"
	"Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) to export\n"
	"a span per HTTP exchange over OTLP/HTTP; OTEL_EXPORTER_OTLP_HEADERS,\n"
	"OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TIMEOUT,\n"
	"OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG and OTEL_RESOURCE_ATTRIBUTES\n"
	"mean what the OpenTelemetry specification says.\n"
	"\n"
	"NODE_NAME names the node (k8s_node_name, k8s.node.name); NODE_IP is the\n"
	"kubelet's address by default.\n";

#define USAGE_INDENT 30 /* where the help of each option starts */
#define USAGE_WIDTH 79

static bool takes_value(const struct opt *o)
{
	return o->kind == OPT_STRING || o->kind == OPT_U32 ||
	       o->kind == OPT_ROUTES || o->kind == OPT_MAYBE_U32;
}

static bool is_number(const struct opt *o)
{
	return o->kind == OPT_U32 || o->kind == OPT_MAYBE_U32;
}

static void *field(struct config *cfg, const struct opt *o)
{
	return (char *)cfg + o->offset;
}

/* Prints text from column col on, words wrapped at USAGE_WIDTH, further
 * lines starting at USAGE_INDENT. */
static void print_wrapped(int col, const char *text)
{
	bool line_start = true;
	size_t len;

	if (col > USAGE_INDENT - 2) {
		col += printf("  ");
	} else {
		printf("%*s", USAGE_INDENT - col, "");
		col = USAGE_INDENT;
	}
	for (text += strspn(text, " "); *text; text += strspn(text, " ")) {
		len = strcspn(text, " ");
		if (!line_start && col + 1 + (int)len > USAGE_WIDTH) {
			printf("\n%*s", USAGE_INDENT, "");
			col = USAGE_INDENT;
			line_start = true;
		}
		if (!line_start)
			col += printf(" ");
		col += printf("%.*s", (int)len, text);
		line_start = false;
		text += len;
	}
	putchar('\n');
}

static void print_opt(const struct opt *o)
{
	const char *def = o->def_shown;
	char *text = NULL;
	size_t size;
	FILE *m;
	int col;

	if (!def && (o->kind == OPT_STRING || o->kind == OPT_U32) && o->def &&
	    o->def[0])
		def = o->def;
	m = open_memstream(&text, &size);
	if (!m)
		return;
	fputs(o->help, m);
	if (is_number(o))
		fprintf(m, ", %s%u..%u",
			o->power_of_two ? "a power of two in " : "", o->min,
			o->max);
	switch (o->kind) {
	case OPT_SWITCH:
		fprintf(m, " [%s=%d]", o->env, !o->negated);
		break;
	case OPT_CLEAR:
		fprintf(m, " [%s=]", o->env);
		break;
	case OPT_ROUTES:
		fprintf(m, " [%s, comma-separated]", o->env);
		break;
	case OPT_MAYBE_U32:
		fprintf(m, " [%s or %s]", o->env, o->env_else);
		break;
	case OPT_STRING:
	case OPT_U32:
		fprintf(m, " [%s]", o->env);
		break;
	case OPT_HELP:
	case OPT_VERSION:
		break;
	}
	if (def)
		fprintf(m, " (default %s)", def);
	if (fclose(m)) {
		free(text);
		return;
	}
	if (o->short_flag)
		col = printf("  -%c, --%s", o->short_flag, o->flag);
	else
		col = printf("  --%s", o->flag);
	if (o->arg)
		col += printf(" %s", o->arg);
	print_wrapped(col, text);
	free(text);
}

static void print_usage(void)
{
	fputs(usage_head, stdout);
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		print_opt(&opts[i]);
	fputs(usage_tail, stdout);
}

/* Blanks around the digits are let through, as otel_env.c does. */
static int parse_u32(const struct opt *o, const char *name,
		     const char *value, uint32_t *out)
{
	const char *p = value + strspn(value, " \t");
	size_t digits = strspn(p, "0123456789");
	bool ok = digits && !p[digits + strspn(p + digits, " \t")];
	uint64_t n = 0;

	for (size_t i = 0; ok && i < digits; i++) {
		n = n * 10 + (uint64_t)(p[i] - '0');
		ok = n <= o->max;
	}
	ok = ok && n >= o->min && (!o->power_of_two || !(n & (n - 1)));
	if (!ok) {
		fprintf(stderr, "podtap: %s must be %s in %u..%u, got '%s'\n",
			name, o->power_of_two ? "a power of two" : "a number",
			o->min, o->max, value);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/* So that a chart can write a switch either way; "" is off. */
static int parse_switch(bool *dst, const char *name, const char *value)
{
	static const char *const on[] = { "1", "true", "yes", "on" };
	static const char *const off[] = { "", "0", "false", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(on); i++)
		if (!strcasecmp(value, on[i])) {
			*dst = true;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(off); i++)
		if (!strcasecmp(value, off[i])) {
			*dst = false;
			return 0;
		}
	fprintf(stderr, "podtap: %s must be 1 or 0 (true or false), got '%s'\n",
		name, value);
	return -1;
}

static int add_route(struct config *cfg, const char *name,
		     const char *pattern)
{
	struct route_table *rt;
	const char *why = "out of memory";

	if (!*pattern) /* "a,,b", a trailing comma, --route '' */
		return 0;
	if (cfg->nroutes == CONFIG_ROUTES_MAX) {
		fprintf(stderr, "podtap: at most %d route patterns (--route, PODTAP_ROUTES)\n",
			CONFIG_ROUTES_MAX);
		return -1;
	}
	/* The route module judges the pattern, here already, so that a bad
	 * one is refused before anything starts. */
	rt = route_table_new();
	if (!rt || route_table_add(rt, pattern, &why)) {
		fprintf(stderr, "podtap: bad %s '%s': %s\n", name, pattern, why);
		route_table_free(rt);
		return -1;
	}
	route_table_free(rt);
	cfg->routes[cfg->nroutes++] = pattern;
	return 0;
}

/* "a, b" is as natural in an environment variable as "a,b". */
static char *trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int add_routes_list(struct config *cfg, const char *name,
			   const char *list)
{
	char *save, *tok;

	cfg->routes_env = strdup(list);
	if (!cfg->routes_env) {
		fprintf(stderr, "podtap: %s: out of memory\n", name);
		return -1;
	}
	for (tok = strtok_r(cfg->routes_env, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (add_route(cfg, name, trim(tok)))
			return -1;
	return 0;
}

/* Sets o from value written as its twin would be (a default or the twin
 * itself); name is what to call it in a message. */
static int set_value(struct config *cfg, const struct opt *o,
		     const char *name, const char *value)
{
	const char *why;
	uint32_t n;

	switch (o->kind) {
	case OPT_STRING:
		if (strlen(value) >= o->size) {
			fprintf(stderr, "podtap: %s is too long (max %zu bytes)\n",
				name, o->size - 1);
			return -1;
		}
		why = o->check ? o->check(value) : NULL;
		if (why) {
			fprintf(stderr, "podtap: %s %s, got '%s'\n", name, why,
				value);
			return -1;
		}
		strcpy(field(cfg, o), value);
		return 0;
	case OPT_U32:
		if (parse_u32(o, name, value, &n))
			return -1;
		*(uint32_t *)field(cfg, o) = n;
		return 0;
	case OPT_MAYBE_U32:
		if (parse_u32(o, name, value, &n))
			return -1;
		*(struct maybe_u32 *)field(cfg, o) =
			(struct maybe_u32){ .set = true, .value = n };
		return 0;
	case OPT_SWITCH:
		return parse_switch(field(cfg, o), name, value);
	case OPT_ROUTES:
		return add_routes_list(cfg, name, value);
	case OPT_CLEAR:
	case OPT_HELP:
	case OPT_VERSION:
		break;
	}
	return 0;
}

static void flag_name(const struct opt *o, char *buf, size_t size)
{
	snprintf(buf, size, "--%s", o->flag);
}

static int apply_defaults(struct config *cfg)
{
	char name[64];

	for (const struct opt *o = opts; o < opts + ARRAY_SIZE(opts); o++) {
		if (!o->def)
			continue;
		flag_name(o, name, sizeof(name));
		if (set_value(cfg, o, name, o->def))
			return -1;
	}
	return 0;
}

static int apply_env(struct config *cfg)
{
	const char *v;

	for (const struct opt *o = opts; o < opts + ARRAY_SIZE(opts); o++) {
		/* --no-pin's twin is read as --pin-path's. */
		if (!o->env || o->kind == OPT_CLEAR)
			continue;
		v = getenv(o->env);
		/* As in OpenTelemetry's variables: an empty number is unset. */
		if (!v || (!v[0] && is_number(o)))
			continue;
		if (set_value(cfg, o, o->env, v))
			return -1;
	}
	v = getenv("NODE_NAME");
	if (v && strlen(v) >= sizeof(cfg->node_name)) {
		fprintf(stderr, "podtap: NODE_NAME is too long (max %zu bytes)\n",
			sizeof(cfg->node_name) - 1);
		return -1;
	}
	if (v)
		strcpy(cfg->node_name, v);
	return 0;
}

static int apply_flag(struct config *cfg, const struct opt *o,
		      const char *arg)
{
	char name[64];

	flag_name(o, name, sizeof(name));
	switch (o->kind) {
	case OPT_SWITCH:
		*(bool *)field(cfg, o) = !o->negated;
		return 0;
	case OPT_CLEAR:
		*(char *)field(cfg, o) = '\0';
		return 0;
	case OPT_ROUTES:
		return add_route(cfg, name, arg);
	default:
		return set_value(cfg, o, name, arg);
	}
}

/* The kubelet's URL: as given, else https://$NODE_IP:10250 (the node's
 * address from the downward API: status.hostIP). */
static int kubelet_url(struct config *cfg)
{
	const char *ip = getenv("NODE_IP");

	if (cfg->kubelet_url[0])
		return 0;
	if (!ip || !ip[0]) {
		fprintf(stderr, "podtap: --kubelet needs --kubelet-url "
			"(PODTAP_KUBELET_URL) or NODE_IP, the node's address\n");
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

/* getopt_long's view of opts[]. */
static void getopt_tables(struct option *longopts, char *shortopts)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];

		longopts[i] = (struct option){
			.name = o->flag,
			.has_arg = takes_value(o) ? required_argument
						  : no_argument,
			.val = o->short_flag ? o->short_flag
					     : LONG_ONLY_BASE + (int)i,
		};
		if (o->short_flag) {
			*shortopts++ = o->short_flag;
			if (takes_value(o))
				*shortopts++ = ':';
		}
	}
	longopts[ARRAY_SIZE(opts)] = (struct option){ 0 };
	*shortopts = '\0';
}

static const struct opt *opt_of(int val)
{
	if (val >= LONG_ONLY_BASE &&
	    (size_t)(val - LONG_ONLY_BASE) < ARRAY_SIZE(opts))
		return &opts[val - LONG_ONLY_BASE];
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (opts[i].short_flag == val)
			return &opts[i];
	return NULL;
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	struct option longopts[ARRAY_SIZE(opts) + 1];
	char shortopts[2 * ARRAY_SIZE(opts) + 1];
	const struct opt *o;
	int val;

	memset(cfg, 0, sizeof(*cfg));
	if (apply_defaults(cfg) || apply_env(cfg))
		return -1;

	getopt_tables(longopts, shortopts);
	/* 0, not 1: glibc's getopt then starts afresh, should it have
	 * parsed another argv before (the unit tests do). */
	optind = 0;
	while ((val = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		o = opt_of(val);
		if (!o) { /* getopt_long said what is wrong */
			fputs("Try 'podtap --help'.\n", stderr);
			return -1;
		}
		if (o->kind == OPT_HELP) {
			print_usage();
			return 1;
		}
		if (o->kind == OPT_VERSION) {
			printf("podtap %s\n", PODTAP_VERSION);
			return 1;
		}
		if (apply_flag(cfg, o, optarg))
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "podtap: unexpected argument '%s'\nTry 'podtap --help'.\n",
			argv[optind]);
		return -1;
	}
	return cfg->kubelet ? kubelet_url(cfg) : 0;
}

void config_free(struct config *cfg)
{
	free(cfg->routes_env);
	cfg->routes_env = NULL;
}
