/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line flags and their PODTAP_* environment twins. Flags win over
 * the environment; the environment wins over defaults. */
#ifndef PODTAP_CONFIG_H
#define PODTAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ROUTES_MAX 256

/* A number that may be left unset, so that a layer below keeps its own
 * default. */
struct maybe_u32 {
	bool set;
	uint32_t value;
};

/* Its value, or NULL when unset. */
static inline const uint32_t *maybe_u32_get(const struct maybe_u32 *v)
{
	return v->set ? &v->value : NULL;
}

struct config {
	char metrics_listen[128]; /* HOST:PORT */
	char pod_log_dir[512];
	char pin_path[512];       /* "" = do not pin */
	const char *routes[CONFIG_ROUTES_MAX];
	size_t nroutes;
	char *routes_env;         /* PODTAP_ROUTES split in place, for routes[] */
	uint32_t payload_size;    /* bytes copied per syscall */
	uint32_t ringbuf_size;    /* bytes, power of two */
	uint32_t max_series_per_pod;
	char compat[64];          /* lib/compat.h modes for every pod */
	char statsd_host[320];    /* HOST:PORT; "" = no statsd */
	char statsd_prefix[256];  /* statsd/statsd.h template */
	bool python_hooks;        /* SSL and GC uprobes in Python processes */
	/* Trace context put into outgoing requests (capture/trace_inject.h):
	 * the headers named in inject_trace_format ("w3c", "b3", "w3c,b3"). */
	bool inject_trace_context;
	char inject_trace_format[16];
	uint32_t uprobe_linger_s; /* a file's uprobes kept after its last
				   * Python process */
	uint32_t series_ttl_s;    /* series of gone pods, unused host ones */
	bool verbose;
	char node_name[254];      /* NODE_NAME: k8s_node_name, k8s.node.name */
	/* The cgroup v2 mount; "" (the default: no flag sets it) means the
	 * one in /proc/self/mountinfo. Tests point it at a fixture tree. */
	char cgroup_root[512];

	/* Pod metadata from the kubelet's /pods (kubelet.h). */
	bool kubelet;
	char kubelet_url[512];    /* default https://$NODE_IP:10250 */
	char kubelet_token_file[512]; /* "": send none */
	char kubelet_ca_file[512];    /* "": the system CA store */
	bool kubelet_insecure_skip_verify;
	uint32_t kubelet_refresh_s;

	/* Span batching: set by --otlp-* or their PODTAP_OTLP_* twins, they
	 * win over the OTEL_BSP_* variables and the defaults (otel_env.h). */
	struct maybe_u32 otlp_queue_size;
	struct maybe_u32 otlp_batch_size;
	struct maybe_u32 otlp_batch_timeout_ms;
};

/* Fills *cfg from defaults, environment, then argv; every value is checked
 * here, before anything starts. Returns
 * 0 to run, 1 when --help or --version was printed (exit 0), -1 on bad input
 * (the message, naming the flag or variable, is already printed). Route
 * strings point into argv or are owned by the config (config_free). */
int config_parse(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);

#endif /* PODTAP_CONFIG_H */
