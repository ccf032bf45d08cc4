// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* config_parse on argv and environments of its own: defaults, twins,
 * precedence, every switch word, every bad value refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "daemon/config.h"
#include "otel/otel_env.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ENV(...) ((const char *[]){ __VA_ARGS__, NULL })
#define ARGS(...) ((const char *[]){ "podtap", __VA_ARGS__, NULL })
#define NO_ENV ((const char *[]){ NULL })
#define NO_ARGS ((const char *[]){ "podtap", NULL })

static struct config cfg;
static char out[16384], err[4096]; /* what the last parse printed */

/* Reads fd's file, from its start, into buf. */
static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Parses args in an environment holding exactly env's NAME=value entries;
 * what config_parse prints lands in out and err. */
static int parse(const char **env, const char **args)
{
	FILE *o = tmpfile(), *e = tmpfile();
	int saved_out = dup(1), saved_err = dup(2), argc = 0, ret;
	static char *argv[2 * CONFIG_ROUTES_MAX + 8];
	char name[256];
	const char *eq;

	clearenv();
	for (; *env; env++) {
		eq = strchr(*env, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *env), *env);
		setenv(name, eq + 1, 1);
	}
	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;

	config_free(&cfg);
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(o), 1);
	dup2(fileno(e), 2);
	ret = config_parse(&cfg, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(o, out, sizeof(out));
	slurp(e, err, sizeof(err));
	return ret;
}

/* Refused, with a message naming what was wrong. */
#define CHECK_REFUSED(ret, name)                                             \
	do {                                                                 \
		CHECK_INT(ret, -1);                                          \
		if (!strstr(err, name)) {                                    \
			fprintf(stderr, "  %s:%d: message does not name %s: %s", \
				__FILE__, __LINE__, name, err);              \
			check_case_failed = 1;                               \
		}                                                            \
	} while (0)

static void test_defaults(void)
{
	CHECK_INT(parse(NO_ENV, NO_ARGS), 0);
	CHECK_STR(cfg.metrics_listen, "0.0.0.0:9464");
	CHECK_STR(cfg.pod_log_dir, "/var/log/pods");
	CHECK_STR(cfg.pin_path, "/sys/fs/bpf/podtap");
	CHECK_INT(cfg.nroutes, 0);
	CHECK_INT(cfg.payload_size, 8192);
	CHECK_INT(cfg.ringbuf_size, 4194304);
	CHECK_INT(cfg.max_series_per_pod, 1000);
	CHECK_INT(cfg.python_hooks, 1);
	CHECK_INT(cfg.series_ttl_s, 300);
	CHECK_INT(cfg.verbose, 0);
	CHECK_STR(cfg.node_name, "");
	CHECK_INT(cfg.kubelet, 0);
	CHECK_STR(cfg.kubelet_url, "");
	CHECK_STR(cfg.kubelet_token_file,
		  "/var/run/secrets/kubernetes.io/serviceaccount/token");
	CHECK_STR(cfg.kubelet_ca_file,
		  "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	CHECK_INT(cfg.kubelet_insecure_skip_verify, 0);
	CHECK_INT(cfg.kubelet_refresh_s, 30);
	CHECK(!cfg.otlp_queue_size.set && !cfg.otlp_batch_size.set &&
	      !cfg.otlp_batch_timeout_ms.set);
	/* no option sets it: the cgroup v2 mount is found at start */
	CHECK_STR(cfg.cgroup_root, "");
}

#define ALL_TWINS                                                            \
	"PODTAP_METRICS_LISTEN=127.0.0.1:1000", "PODTAP_POD_LOG_DIR=/logs",  \
	"PODTAP_ROUTES=/a/{id}", "PODTAP_PIN_PATH=/sys/fs/bpf/x",            \
	"PODTAP_PAYLOAD_SIZE=512", "PODTAP_RINGBUF_SIZE=65536",              \
	"PODTAP_MAX_SERIES_PER_POD=7", "PODTAP_SERIES_TTL=9",                \
	"PODTAP_KUBELET=1", "PODTAP_KUBELET_URL=http://k:1",                 \
	"PODTAP_KUBELET_TOKEN_FILE=/t", "PODTAP_KUBELET_CA_FILE=/c",         \
	"PODTAP_KUBELET_INSECURE_SKIP_VERIFY=yes",                           \
	"PODTAP_KUBELET_REFRESH=11", "PODTAP_OTLP_QUEUE_SIZE=100",           \
	"PODTAP_OTLP_BATCH_SIZE=10", "PODTAP_OTLP_BATCH_TIMEOUT=5",          \
	"PODTAP_PYTHON_HOOKS=0", "PODTAP_VERBOSE=1", "NODE_NAME=node-1"

static void test_twins(void)
{
	CHECK_INT(parse(ENV(ALL_TWINS), NO_ARGS), 0);
	CHECK_STR(cfg.metrics_listen, "127.0.0.1:1000");
	CHECK_STR(cfg.pod_log_dir, "/logs");
	CHECK_INT(cfg.nroutes, 1);
	CHECK_STR(cfg.routes[0], "/a/{id}");
	CHECK_STR(cfg.pin_path, "/sys/fs/bpf/x");
	CHECK_INT(cfg.payload_size, 512);
	CHECK_INT(cfg.ringbuf_size, 65536);
	CHECK_INT(cfg.max_series_per_pod, 7);
	CHECK_INT(cfg.series_ttl_s, 9);
	CHECK_INT(cfg.kubelet, 1);
	CHECK_STR(cfg.kubelet_url, "http://k:1");
	CHECK_STR(cfg.kubelet_token_file, "/t");
	CHECK_STR(cfg.kubelet_ca_file, "/c");
	CHECK_INT(cfg.kubelet_insecure_skip_verify, 1);
	CHECK_INT(cfg.kubelet_refresh_s, 11);
	CHECK_INT(cfg.python_hooks, 0);
	CHECK_INT(cfg.verbose, 1);
	CHECK_STR(cfg.node_name, "node-1");
}

static void test_flags_win(void)
{
	CHECK_INT(parse(ENV(ALL_TWINS, "PODTAP_KUBELET=0",
			    "PODTAP_KUBELET_INSECURE_SKIP_VERIFY=0",
			    "PODTAP_PYTHON_HOOKS=1", "PODTAP_VERBOSE=0"),
			ARGS("--metrics-listen", "[::1]:2000",
			     "--pod-log-dir", "/l2", "--pin-path", "/p2",
			     "--payload-size", "1024", "--ringbuf-size", "131072",
			     "--max-series-per-pod", "8", "--series-ttl", "10",
			     "--kubelet", "--kubelet-url", "https://k:2",
			     "--kubelet-token-file", "/t2", "--kubelet-ca-file",
			     "/c2", "--kubelet-insecure-skip-verify",
			     "--kubelet-refresh", "12", "--otlp-queue-size", "200",
			     "--otlp-batch-size", "20", "--otlp-batch-timeout", "0",
			     "--no-python-hooks", "-v")),
		  0);
	CHECK_STR(cfg.metrics_listen, "[::1]:2000");
	CHECK_STR(cfg.pod_log_dir, "/l2");
	CHECK_STR(cfg.pin_path, "/p2");
	CHECK_INT(cfg.payload_size, 1024);
	CHECK_INT(cfg.ringbuf_size, 131072);
	CHECK_INT(cfg.max_series_per_pod, 8);
	CHECK_INT(cfg.series_ttl_s, 10);
	CHECK_INT(cfg.kubelet, 1);
	CHECK_STR(cfg.kubelet_url, "https://k:2");
	CHECK_STR(cfg.kubelet_token_file, "/t2");
	CHECK_STR(cfg.kubelet_ca_file, "/c2");
	CHECK_INT(cfg.kubelet_insecure_skip_verify, 1);
	CHECK_INT(cfg.kubelet_refresh_s, 12);
	CHECK(cfg.otlp_queue_size.set && cfg.otlp_queue_size.value == 200);
	CHECK(cfg.otlp_batch_size.set && cfg.otlp_batch_size.value == 20);
	CHECK(cfg.otlp_batch_timeout_ms.set &&
	      cfg.otlp_batch_timeout_ms.value == 0);
	/* Carried in the config, not put in the environment. */
	CHECK(!getenv("PODTAP_OTLP_QUEUE_SIZE") ||
	      strcmp(getenv("PODTAP_OTLP_QUEUE_SIZE"), "200"));
	CHECK_INT(cfg.python_hooks, 0);
	CHECK_INT(cfg.verbose, 1);
	/* The last of a repeated flag wins. */
	CHECK_INT(parse(NO_ENV, ARGS("--series-ttl", "1", "--series-ttl", "2")),
		  0);
	CHECK_INT(cfg.series_ttl_s, 2);
}

struct switch_case {
	const char *twin;
	const char *flag;
	size_t offset;
	bool flag_sets; /* what the flag sets the field to */
};

static const struct switch_case switches[] = {
	{ "PODTAP_KUBELET", "--kubelet", offsetof(struct config, kubelet),
	  true },
	{ "PODTAP_KUBELET_INSECURE_SKIP_VERIFY",
	  "--kubelet-insecure-skip-verify",
	  offsetof(struct config, kubelet_insecure_skip_verify), true },
	{ "PODTAP_PYTHON_HOOKS", "--no-python-hooks",
	  offsetof(struct config, python_hooks), false },
	{ "PODTAP_VERBOSE", "--verbose", offsetof(struct config, verbose),
	  true },
};

static bool switch_of(const struct switch_case *s)
{
	return *(bool *)((char *)&cfg + s->offset);
}

static void test_switch_twins(void)
{
	static const char *const on[] = { "1", "true", "TRUE", "True", "yes",
					  "Yes", "on", "ON" };
	static const char *const off[] = { "0", "false", "FALSE", "no", "No",
					   "off", "OFF", "" };
	static const char *const bad[] = { "maybe", "2", "y", "enabled",
					   " 1" };
	char var[128];

	for (size_t s = 0; s < ARRAY_SIZE(switches); s++) {
		for (size_t i = 0; i < ARRAY_SIZE(on); i++) {
			snprintf(var, sizeof(var), "%s=%s", switches[s].twin,
				 on[i]);
			CHECK_INT(parse(ENV(var, "NODE_IP=192.0.2.1"), NO_ARGS),
				  0);
			if (!switch_of(&switches[s]))
				fprintf(stderr, "  %s is off\n", var);
			CHECK(switch_of(&switches[s]));
		}
		for (size_t i = 0; i < ARRAY_SIZE(off); i++) {
			snprintf(var, sizeof(var), "%s=%s", switches[s].twin,
				 off[i]);
			CHECK_INT(parse(ENV(var), NO_ARGS), 0);
			if (switch_of(&switches[s]))
				fprintf(stderr, "  %s is on\n", var);
			CHECK(!switch_of(&switches[s]));
		}
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			snprintf(var, sizeof(var), "%s=%s", switches[s].twin,
				 bad[i]);
			CHECK_REFUSED(parse(ENV(var), NO_ARGS),
				      switches[s].twin);
		}
	}
}

/* Each switch flag wins over its twin saying the opposite. */
static void test_switch_flags(void)
{
	char var[128];

	for (size_t s = 0; s < ARRAY_SIZE(switches); s++) {
		snprintf(var, sizeof(var), "%s=%d", switches[s].twin,
			 !switches[s].flag_sets);
		CHECK_INT(parse(ENV(var, "NODE_IP=192.0.2.1"),
				ARGS(switches[s].flag)),
			  0);
		CHECK_INT(switch_of(&switches[s]), switches[s].flag_sets);
	}
	CHECK_INT(parse(NO_ENV, ARGS("-v")), 0);
	CHECK_INT(cfg.verbose, 1);
}

/* Every option that takes a value, refused by name as a flag and as its
 * twin. */
static void test_bad_values(void)
{
	static char long_value[600];
	static const struct {
		const char *flag, *twin, *bad;
	} cases[] = {
		{ "--metrics-listen", "PODTAP_METRICS_LISTEN", "nonsense" },
		{ "--metrics-listen", "PODTAP_METRICS_LISTEN", "127.0.0.1:" },
		{ "--metrics-listen", "PODTAP_METRICS_LISTEN", "127.0.0.1:http" },
		{ "--metrics-listen", "PODTAP_METRICS_LISTEN", "127.0.0.1:65536" },
		{ "--metrics-listen", "PODTAP_METRICS_LISTEN", long_value },
		{ "--pod-log-dir", "PODTAP_POD_LOG_DIR", long_value },
		{ "--route", "PODTAP_ROUTES", "nope" },
		{ "--route", "PODTAP_ROUTES", "/a/{b" },
		{ "--route", "PODTAP_ROUTES", "/*/a" },
		{ "--pin-path", "PODTAP_PIN_PATH", long_value },
		{ "--payload-size", "PODTAP_PAYLOAD_SIZE", "255" },
		{ "--payload-size", "PODTAP_PAYLOAD_SIZE", "16385" },
		{ "--payload-size", "PODTAP_PAYLOAD_SIZE", "8k" },
		{ "--ringbuf-size", "PODTAP_RINGBUF_SIZE", "100000" },
		{ "--ringbuf-size", "PODTAP_RINGBUF_SIZE", "32768" },
		{ "--ringbuf-size", "PODTAP_RINGBUF_SIZE", "2147483648" },
		{ "--max-series-per-pod", "PODTAP_MAX_SERIES_PER_POD", "0" },
		{ "--max-series-per-pod", "PODTAP_MAX_SERIES_PER_POD", "-1" },
		{ "--max-series-per-pod", "PODTAP_MAX_SERIES_PER_POD", "1000001" },
		{ "--series-ttl", "PODTAP_SERIES_TTL", "0" },
		{ "--series-ttl", "PODTAP_SERIES_TTL", "31622401" },
		{ "--series-ttl", "PODTAP_SERIES_TTL", "5m" },
		{ "--kubelet-url", "PODTAP_KUBELET_URL", "ftp://node:10250" },
		{ "--kubelet-url", "PODTAP_KUBELET_URL", long_value },
		{ "--kubelet-token-file", "PODTAP_KUBELET_TOKEN_FILE", long_value },
		{ "--kubelet-ca-file", "PODTAP_KUBELET_CA_FILE", long_value },
		{ "--kubelet-refresh", "PODTAP_KUBELET_REFRESH", "0" },
		{ "--kubelet-refresh", "PODTAP_KUBELET_REFRESH", "86401" },
		{ "--otlp-queue-size", "PODTAP_OTLP_QUEUE_SIZE", "abc" },
		{ "--otlp-queue-size", "PODTAP_OTLP_QUEUE_SIZE", "0" },
		{ "--otlp-queue-size", "PODTAP_OTLP_QUEUE_SIZE", "1048577" },
		{ "--otlp-batch-size", "PODTAP_OTLP_BATCH_SIZE", "0" },
		{ "--otlp-batch-size", "PODTAP_OTLP_BATCH_SIZE", "2147483648" },
		{ "--otlp-batch-size", "PODTAP_OTLP_BATCH_SIZE", "1e3" },
		{ "--otlp-batch-timeout", "PODTAP_OTLP_BATCH_TIMEOUT", "-1" },
		{ "--otlp-batch-timeout", "PODTAP_OTLP_BATCH_TIMEOUT", "2147483648" },
		{ "--otlp-batch-timeout", "PODTAP_OTLP_BATCH_TIMEOUT", "soon" },
	};
	char var[1024];

	memset(long_value, 'a', sizeof(long_value) - 1);
	long_value[0] = '/';
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_REFUSED(parse(NO_ENV, ARGS(cases[i].flag, cases[i].bad)),
			      cases[i].flag);
		snprintf(var, sizeof(var), "%s=%s", cases[i].twin, cases[i].bad);
		CHECK_REFUSED(parse(ENV(var), NO_ARGS), cases[i].twin);
	}
	/* A flag's value is not optional; an empty number twin is unset. */
	CHECK_REFUSED(parse(NO_ENV, ARGS("--payload-size")), "--payload-size");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--payload-size", "")),
		      "--payload-size");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--otlp-queue-size", "")),
		      "--otlp-queue-size");
}

static void test_number_bounds(void)
{
	CHECK_INT(parse(ENV("PODTAP_PAYLOAD_SIZE=256"),
			ARGS("--ringbuf-size", "1073741824")),
		  0);
	CHECK_INT(cfg.payload_size, 256);
	CHECK_INT(cfg.ringbuf_size, 1u << 30);
	CHECK_INT(parse(NO_ENV, ARGS("--payload-size", "16384",
				     "--series-ttl", "31622400",
				     "--kubelet-refresh", "86400",
				     "--max-series-per-pod", "1000000")),
		  0);
	CHECK_INT(cfg.payload_size, 16384);
	CHECK_INT(cfg.series_ttl_s, 31622400);
	CHECK_INT(cfg.kubelet_refresh_s, 86400);
	CHECK_INT(cfg.max_series_per_pod, 1000000);
	/* Blanks around a number are let through, as the exporter does. */
	CHECK_INT(parse(ENV("PODTAP_SERIES_TTL= 60 "), NO_ARGS), 0);
	CHECK_INT(cfg.series_ttl_s, 60);
	CHECK_INT(parse(ENV("PODTAP_PAYLOAD_SIZE=", "PODTAP_OTLP_QUEUE_SIZE="),
			NO_ARGS),
		  0);
	CHECK_INT(cfg.payload_size, 8192);
}

static struct otel_config ocfg; /* big */

/* The exporter's settings after config_parse, as the daemon makes them:
 * the environment's (otel_env.c), the flags winning. */
static void exporter_settings(void)
{
	char msg[256];

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
	CHECK_INT(otel_config_from_env(&ocfg, environ, msg, sizeof(msg)), 0);
	otel_config_override_batching(&ocfg,
				      maybe_u32_get(&cfg.otlp_queue_size),
				      maybe_u32_get(&cfg.otlp_batch_size),
				      maybe_u32_get(&cfg.otlp_batch_timeout_ms));
	CHECK_INT(ocfg.n_warnings, 0);
}

static void test_otlp_flags_reach_the_exporter(void)
{
	CHECK_INT(parse(ENV("PODTAP_OTLP_QUEUE_SIZE=1000",
			    "PODTAP_OTLP_BATCH_SIZE=100"),
			ARGS("--otlp-queue-size", "1048576",
			     "--otlp-batch-timeout", "0")),
		  0);
	exporter_settings();
	CHECK_INT(ocfg.queue_size, 1048576);
	CHECK_INT(ocfg.batch_size, 100);
	CHECK_INT(ocfg.batch_timeout_ms, 0);
	/* With neither flag nor PODTAP_ twin, the OTEL_BSP_ ones apply. */
	CHECK_INT(parse(ENV("OTEL_BSP_MAX_QUEUE_SIZE=300",
			    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=30",
			    "OTEL_BSP_SCHEDULE_DELAY=3"),
			NO_ARGS),
		  0);
	exporter_settings();
	CHECK_INT(ocfg.queue_size, 300);
	CHECK_INT(ocfg.batch_size, 30);
	CHECK_INT(ocfg.batch_timeout_ms, 3);
	/* A flag wins over both. */
	CHECK_INT(parse(ENV("OTEL_BSP_MAX_QUEUE_SIZE=300",
			    "PODTAP_OTLP_QUEUE_SIZE=400"),
			ARGS("--otlp-queue-size", "500")),
		  0);
	exporter_settings();
	CHECK_INT(ocfg.queue_size, 500);
}

static void test_routes(void)
{
	CHECK_INT(parse(ENV("PODTAP_ROUTES= /a/{x} ,/b/*,,"),
			ARGS("--route", "/c", "--route", "", "--route",
			     "/d/{y},/e")),
		  0);
	CHECK_INT(cfg.nroutes, 4);
	CHECK_STR(cfg.routes[0], "/a/{x}");
	CHECK_STR(cfg.routes[1], "/b/*");
	CHECK_STR(cfg.routes[2], "/c");
	/* A flag's pattern is one pattern, commas and all. */
	CHECK_STR(cfg.routes[3], "/d/{y},/e");
}

static void test_route_limit(void)
{
	const char *args[2 * CONFIG_ROUTES_MAX + 4] = { "podtap" };
	size_t n = 1;

	for (int i = 0; i <= CONFIG_ROUTES_MAX; i++) {
		args[n++] = "--route";
		args[n++] = "/r";
	}
	args[n] = NULL;
	CHECK_REFUSED(parse(NO_ENV, args), "route patterns");
	args[n - 2] = NULL;
	CHECK_INT(parse(NO_ENV, args), 0);
	CHECK_INT(cfg.nroutes, CONFIG_ROUTES_MAX);
}

static void test_no_pin(void)
{
	CHECK_INT(parse(ENV("PODTAP_PIN_PATH=/sys/fs/bpf/x"), ARGS("--no-pin")),
		  0);
	CHECK_STR(cfg.pin_path, "");
	CHECK_INT(parse(ENV("PODTAP_PIN_PATH="), NO_ARGS), 0);
	CHECK_STR(cfg.pin_path, "");
	CHECK_INT(parse(NO_ENV, ARGS("--no-pin", "--pin-path", "/p")), 0);
	CHECK_STR(cfg.pin_path, "/p");
}

static void test_kubelet_url(void)
{
	CHECK_INT(parse(ENV("NODE_IP=10.0.0.1"), ARGS("--kubelet")), 0);
	CHECK_STR(cfg.kubelet_url, "https://10.0.0.1:10250");
	CHECK_INT(parse(ENV("NODE_IP=fd00::1"), ARGS("--kubelet")), 0);
	CHECK_STR(cfg.kubelet_url, "https://[fd00::1]:10250");
	CHECK_INT(parse(ENV("NODE_IP=10.0.0.1"),
			ARGS("--kubelet", "--kubelet-url", "http://k:1")),
		  0);
	CHECK_STR(cfg.kubelet_url, "http://k:1");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--kubelet")), "NODE_IP");
	CHECK_REFUSED(parse(ENV("NODE_IP="), ARGS("--kubelet")), "NODE_IP");
	/* Without --kubelet the URL is not needed. */
	CHECK_INT(parse(NO_ENV, NO_ARGS), 0);
}

static void test_node_name(void)
{
	static char var[300] = "NODE_NAME=";

	memset(var + strlen(var), 'n', sizeof(var) - strlen(var) - 1);
	CHECK_REFUSED(parse(ENV(var), NO_ARGS), "NODE_NAME");
}

static void test_help_and_version(void)
{
	static const char *const flags[] = {
		"--metrics-listen HOST:PORT", "--pod-log-dir DIR",
		"--route PATTERN", "--pin-path DIR", "--no-pin",
		"--payload-size BYTES", "--ringbuf-size BYTES",
		"--max-series-per-pod N", "--series-ttl SECONDS", "--kubelet ",
		"--kubelet-url URL", "--kubelet-token-file FILE",
		"--kubelet-ca-file FILE", "--kubelet-insecure-skip-verify",
		"--kubelet-refresh SECONDS", "--otlp-queue-size N",
		"--otlp-batch-size N", "--otlp-batch-timeout MS",
		"--no-python-hooks", "-v, --verbose", "-h, --help",
		"-V, --version",
	};

	CHECK_INT(parse(NO_ENV, ARGS("--help")), 1);
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (!strstr(out, flags[i])) {
			fprintf(stderr, "  --help lacks %s\n", flags[i]);
			check_case_failed = 1;
		}
	CHECK(strstr(out, "[PODTAP_PYTHON_HOOKS=0]"));
	CHECK(strstr(out, "(default 0.0.0.0:9464)"));
	CHECK_INT(parse(NO_ENV, ARGS("-h")), 1);
	CHECK_INT(parse(NO_ENV, ARGS("-V")), 1);
	CHECK(!strncmp(out, "podtap ", 7));
	CHECK_INT(parse(NO_ENV, ARGS("--version")), 1);
}

static void test_not_flags(void)
{
	CHECK_REFUSED(parse(NO_ENV, ARGS("--no-such-flag")), "no-such-flag");
	CHECK_REFUSED(parse(NO_ENV, ARGS("-x")), "x");
	CHECK_REFUSED(parse(NO_ENV, ARGS("stray")), "stray");
}

/* getopt_long's other spellings: --flag=value, a value glued to a short
 * flag that takes none refused, "--" ending the options. */
static void test_value_forms(void)
{
	CHECK_INT(parse(NO_ENV, ARGS("--series-ttl=60", "--route=/a/{x}",
				     "--metrics-listen=[::]:9000")),
		  0);
	CHECK_INT(cfg.series_ttl_s, 60);
	CHECK_INT(cfg.nroutes, 1);
	CHECK_STR(cfg.routes[0], "/a/{x}");
	CHECK_STR(cfg.metrics_listen, "[::]:9000");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--series-ttl=")), "--series-ttl");
	/* a switch takes no value */
	CHECK_REFUSED(parse(NO_ENV, ARGS("--no-pin=yes")), "no-pin");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--verbose=1")), "verbose");
	CHECK_REFUSED(parse(NO_ENV, ARGS("-vx")), "x");
	/* after "--" nothing is a flag, and podtap takes no arguments */
	CHECK_REFUSED(parse(NO_ENV, ARGS("--", "--verbose")), "--verbose");
	CHECK_INT(parse(NO_ENV, ARGS("-v", "--")), 0);
	CHECK_INT(cfg.verbose, 1);
	/* a prefix of two flags names neither */
	CHECK_REFUSED(parse(NO_ENV, ARGS("--no")), "--no");
	CHECK_REFUSED(parse(NO_ENV, ARGS("--kubelet-", "5")), "--kubelet-");
}

/* A string at its field's size less the NUL fits; one byte more is
 * refused, flag and twin alike. */
static void test_length_bounds(void)
{
	static char fits[sizeof(cfg.pod_log_dir)];
	static char over[sizeof(cfg.pod_log_dir) + 1];
	static char var[sizeof(over) + 64];

	memset(fits, 'd', sizeof(fits) - 1);
	memset(over, 'd', sizeof(over) - 1);
	fits[0] = over[0] = '/';
	CHECK_INT(parse(NO_ENV, ARGS("--pod-log-dir", fits)), 0);
	CHECK_INT(strlen(cfg.pod_log_dir), sizeof(cfg.pod_log_dir) - 1);
	CHECK_REFUSED(parse(NO_ENV, ARGS("--pod-log-dir", over)),
		      "--pod-log-dir");
	snprintf(var, sizeof(var), "PODTAP_PIN_PATH=%s", fits);
	CHECK_INT(parse(ENV(var), NO_ARGS), 0);
	CHECK_INT(strlen(cfg.pin_path), sizeof(cfg.pin_path) - 1);
	snprintf(var, sizeof(var), "PODTAP_PIN_PATH=%s", over);
	CHECK_REFUSED(parse(ENV(var), NO_ARGS), "PODTAP_PIN_PATH");
}

static void test_node_name_bound(void)
{
	static char var[sizeof(cfg.node_name) + 16];
	size_t n = snprintf(var, sizeof(var), "NODE_NAME=");

	/* 253 bytes, a DNS name's most, fit; 254 do not */
	memset(var + n, 'n', sizeof(cfg.node_name) - 1);
	var[n + sizeof(cfg.node_name) - 1] = '\0';
	CHECK_INT(parse(ENV(var), NO_ARGS), 0);
	CHECK_INT(strlen(cfg.node_name), 253);
	var[n + sizeof(cfg.node_name) - 1] = 'n';
	var[n + sizeof(cfg.node_name)] = '\0';
	CHECK_REFUSED(parse(ENV(var), NO_ARGS), "NODE_NAME");
}

/* The kubelet URL made from NODE_IP must fit; one too long is refused by
 * name, not cut. */
static void test_kubelet_url_too_long(void)
{
	/* "https://" NODE_IP ":10250": 14 bytes around the address */
	static char var[sizeof(cfg.kubelet_url) + 16];
	size_t n = snprintf(var, sizeof(var), "NODE_IP=");
	size_t fits = sizeof(cfg.kubelet_url) - 1 - 14;

	memset(var + n, '1', fits);
	CHECK_INT(parse(ENV(var), ARGS("--kubelet")), 0);
	CHECK_INT(strlen(cfg.kubelet_url), sizeof(cfg.kubelet_url) - 1);
	var[n + fits] = '1';
	CHECK_REFUSED(parse(ENV(var), ARGS("--kubelet")), "NODE_IP");
}

/* An empty string twin is a value, unlike an empty number: the listen
 * address is then refused by name; an empty kubelet URL is the default. */
static void test_empty_string_twins(void)
{
	CHECK_REFUSED(parse(ENV("PODTAP_METRICS_LISTEN="), NO_ARGS),
		      "PODTAP_METRICS_LISTEN");
	CHECK_INT(parse(ENV("PODTAP_KUBELET_URL=", "NODE_IP=10.0.0.2"),
			ARGS("--kubelet")),
		  0);
	CHECK_STR(cfg.kubelet_url, "https://10.0.0.2:10250");
	CHECK_INT(parse(ENV("PODTAP_KUBELET_TOKEN_FILE=",
			    "PODTAP_KUBELET_CA_FILE="),
			NO_ARGS),
		  0);
	CHECK_STR(cfg.kubelet_token_file, "");
	CHECK_STR(cfg.kubelet_ca_file, "");
	CHECK_INT(parse(ENV("PODTAP_ROUTES="), NO_ARGS), 0);
	CHECK_INT(cfg.nroutes, 0);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_twins);
	RUN(test_flags_win);
	RUN(test_switch_twins);
	RUN(test_switch_flags);
	RUN(test_bad_values);
	RUN(test_number_bounds);
	RUN(test_otlp_flags_reach_the_exporter);
	RUN(test_routes);
	RUN(test_route_limit);
	RUN(test_no_pin);
	RUN(test_kubelet_url);
	RUN(test_node_name);
	RUN(test_help_and_version);
	RUN(test_not_flags);
	RUN(test_value_forms);
	RUN(test_length_bounds);
	RUN(test_node_name_bound);
	RUN(test_kubelet_url_too_long);
	RUN(test_empty_string_twins);
	config_free(&cfg);
	return check_summary("config");
}
