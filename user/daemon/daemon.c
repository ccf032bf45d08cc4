// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's life, start to stop, in one place. Start-up order: checks
 * (privileges, BTF; tracefs and bpffs mounted where missing) -> lock the
 * pin directory -> bind the metrics port -> the event path (agent) ->
 * traces (tracer, exporter) -> OTLP metrics push -> serve /metrics (not
 * ready) -> load, attach and pin BPF -> Python hooks -> ready -> event
 * loop. Whatever fails before ready undoes what came before it, mounts
 * included; the lock comes first so that a second podtap on the same pin
 * path changes nothing. Shutdown runs the same steps backwards.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/pins.h"
#include "capture/preflight.h"
#include "capture/trace_inject.h"
#include "daemon/agent.h"
#include "k8s/proc_cgroup.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/version.h"
#include "otel/otel_env.h"
#include "otel/otlp_exporter.h"
#include "otel/otlp_metrics_exporter.h"
#include "otel/sampler.h"
#include "otel/tracer.h"
#include "prometheus/metrics_server.h"

/* Poll timeout: kernel wakeups are batched, so this bounds how stale an
 * event can get when traffic is light. */
#define POLL_MS 50

/*
 * Traces, from the standard OpenTelemetry variables, the --otlp-* flags
 * winning over them: a tracer always (its sampler decides nothing without
 * an exporter), and an exporter when an endpoint is set. Returns -1 for
 * settings that cannot be honoured.
 */
static int start_traces(const struct config *cfg, struct tracer **tracer,
			struct otlp_exporter **exp)
{
	static struct otel_config ocfg; /* large: headers and attributes */
	struct sampler sampler;
	char msg[256] = "";

	*tracer = NULL;
	*exp = NULL;
	if (otel_config_from_env(&ocfg, environ, msg, sizeof(msg))) {
		log_error("%s", msg);
		return -1;
	}
	otel_config_override_batching(&ocfg,
				      maybe_u32_get(&cfg->otlp_queue_size),
				      maybe_u32_get(&cfg->otlp_batch_size),
				      maybe_u32_get(&cfg->otlp_batch_timeout_ms));
	for (unsigned int i = 0; i < ocfg.n_warnings; i++)
		log_warn("%s", ocfg.warnings[i]);
	/* The specification: an unknown sampler is a warning, and the
	 * default is used. */
	msg[0] = '\0';
	sampler_parse(&sampler, getenv("OTEL_TRACES_SAMPLER"),
		      getenv("OTEL_TRACES_SAMPLER_ARG"), msg, sizeof(msg));
	if (msg[0])
		log_warn("%s", msg);
	if (!ocfg.enabled) {
		log_info("%s", ocfg.disabled_reason);
		return 0;
	}
	if (ocfg.service_name[0])
		log_warn("OTEL_SERVICE_NAME/service.name set for podtap is not "
			 "applied: each workload's service.name comes from its "
			 "own OTEL_SERVICE_NAME, its container or executable");
	*tracer = tracer_new(&sampler, cfg->node_name,
			     ocfg.resource_attrs, ocfg.n_resource_attrs);
	if (!*tracer)
		return -1;
	*exp = otlp_exporter_start(&ocfg, tracer_release_resource, *tracer);
	if (!*exp) {
		tracer_free(*tracer);
		*tracer = NULL;
		return -1;
	}
	tracer_set_exporter(*tracer, *exp);
	sampler_describe(&sampler, msg, sizeof(msg));
	log_info("trace sampler: %s", msg);
	return 0;
}

/*
 * The OTLP metrics push, from the standard variables; off unless asked for
 * by name (otel_env.h). Returns -1 for settings that cannot be honoured.
 */
static int start_metric_push(const struct config *cfg, struct agent *agent)
{
	static struct otel_config ocfg; /* large: headers and attributes */
	char msg[256] = "";

	if (otel_metrics_config_from_env(&ocfg, environ, msg, sizeof(msg))) {
		log_error("%s", msg);
		return -1;
	}
	if (!ocfg.enabled) {
		log_info("%s", ocfg.disabled_reason);
		return 0;
	}
	/* A bad variable both signals read is reported by each. */
	for (unsigned int i = 0; i < ocfg.n_warnings; i++)
		log_warn("%s", ocfg.warnings[i]);
	agent->metric_push = otlp_metrics_exporter_start(&ocfg, agent->metrics,
							 cfg->node_name);
	return agent->metric_push ? 0 : -1;
}

/* The tracer's word on which request each unit serves, to the kernel. */
static void serving_serve(void *ctx, uint32_t tid, uint64_t unit,
			  const struct trace_ctx *c)
{
	trace_inject_set(ctx, tid, unit, c);
}

static void serving_done(void *ctx, uint32_t tid, uint64_t unit,
			 const uint8_t *span_id)
{
	trace_inject_done(ctx, tid, unit, span_id);
}

static void serving_retrace(void *ctx, uint32_t tid, uint64_t unit,
			    const uint8_t *span_id, const uint8_t *trace_id,
			    bool sampled)
{
	trace_inject_retrace(ctx, tid, unit, span_id, trace_id, sampled);
}

/* --inject-trace-context, once the capture and the Python hooks (whose
 * greenlet switches name the units) are loaded. */
static int start_injection(const struct config *cfg, struct agent *agent)
{
	struct trace_inject_opts o = {
		.w3c = strstr(cfg->inject_trace_format, "w3c") != NULL,
		.b3 = strstr(cfg->inject_trace_format, "b3") != NULL,
		.cgroup_root = cfg->cgroup_root,
	};
	char root[512];
	struct tracer_serving_ops ops = { serving_serve, serving_done,
					  serving_retrace, NULL };

	tracer_trace_ctx_config(agent->tracer, &o.trace_ctx);
	if (!cfg->cgroup_root[0]) {
		if (cgroup2_mount_point(root, sizeof(root))) {
			log_error("--inject-trace-context: no cgroup v2 mount "
				  "to attach to");
			return -1;
		}
		o.cgroup_root = root;
	}
	if (trace_inject_open(&agent->inject, agent->capture, &o))
		return -1;
	ops.ctx = agent->inject;
	tracer_set_serving_ops(agent->tracer, &ops);
	return 0;
}

int daemon_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	static struct agent agent;
	static atomic_bool ready;
	static _Atomic uint64_t heartbeat_s;
	struct metrics_server_opts sopts = { .render = agent_render,
					     .ctx = &agent,
					     .ready = &ready,
					     .heartbeat_s = &heartbeat_s };
	struct capture_opts copts = { .payload_size = cfg->payload_size,
				      .ringbuf_size = cfg->ringbuf_size };
	struct metrics_server *server = NULL;
	struct pins *pins = NULL;
	struct capture *cap = NULL;
	struct otlp_exporter *exporter = NULL;
	struct tracer *tracer = NULL;
	uint64_t last_tick = 0;
	bool started = false;
	int fd, err = 1;

	if (preflight_privileges(cfg->python_hooks) || preflight_btf() ||
	    preflight_tracefs() ||
	    (cfg->pin_path[0] && (preflight_bpffs(cfg->pin_path) ||
				  pins_open(&pins, cfg->pin_path))))
		goto cleanup;
	copts.pins = pins;
	fd = metrics_server_bind(cfg->metrics_listen);
	if (fd < 0)
		goto cleanup;
	if (agent_init(&agent, cfg)) {
		close(fd);
		goto cleanup;
	}
	if (start_traces(cfg, &tracer, &exporter))
		goto cleanup;
	if (cfg->inject_trace_context && !tracer) {
		log_error("--inject-trace-context names podtap's client spans: "
			  "it needs traces on (set OTEL_EXPORTER_OTLP_ENDPOINT)");
		goto cleanup;
	}
	if (cfg->inject_trace_context)
		tracer_trace_ctx_config(tracer, &copts.trace_ctx);
	agent.tracer = tracer;
	agent.exporter = exporter;
	if (start_metric_push(cfg, &agent))
		goto cleanup;
	heartbeat_s = monotonic_ns() / NSEC_PER_SEC;
	server = metrics_server_start(fd, &sopts);
	if (!server)
		goto cleanup;
	log_info("serving /metrics, /healthz, /readyz on %s",
		 cfg->metrics_listen);

	if (capture_open(&cap, &copts, agent_handle_event, &agent))
		goto cleanup;
	agent.capture = cap;
	if (cfg->python_hooks) {
		struct python_hooks_opts popts = {
			.payload_size = cfg->payload_size,
			.linger_ns = (uint64_t)cfg->uprobe_linger_s *
				     NSEC_PER_SEC,
			.pins = pins,
			.greenlets = tracer != NULL,
			.trace_ctx = copts.trace_ctx,
			.on_process = agent_python_process,
			.ctx = &agent,
		};

		/* HTTP capture goes on without them (the reason is logged). */
		if (python_hooks_open(&agent.python, cap, &popts))
			log_warn("Python hooks off: no HTTPS plaintext and no "
				 "python_* metrics");
	}
	if (cfg->inject_trace_context && start_injection(cfg, &agent))
		goto cleanup;
	/* libbpf parsed the kernel's BTF (megabytes) for each object and freed
	 * it; give that back before the ring's mapping adds to the RSS. */
	malloc_trim(0);
	if (capture_start_reading(cap))
		goto cleanup;
	atomic_store(&ready, true);
	started = true;
	log_info("podtap %s attached; capturing HTTP on this node",
		 PODTAP_VERSION);

	while (!*stop) {
		uint64_t now;
		int n = capture_poll(cap, POLL_MS);

		if (n < 0) {
			log_error("reading the ring buffer failed: %s",
				  strerror(-n));
			goto cleanup;
		}
		now = monotonic_ns();
		heartbeat_s = now / NSEC_PER_SEC;
		if (agent.python)
			python_hooks_tick(agent.python, now);
		if (now - last_tick >= NSEC_PER_SEC) {
			agent_tick(&agent, now);
			last_tick = now;
		}
	}
	log_info("stopping");
	err = 0;
cleanup:
	atomic_store(&ready, false);
	/* The shutdown deadline counts from here: spans are flushed while
	 * the rest stops (detaching takes seconds). Connections still open
	 * make no spans as they end: what was in flight is incomplete. */
	if (tracer)
		tracer_release_held(tracer);
	otlp_exporter_flush_begin(exporter);
	metrics_server_stop(server);
	if (agent.inject) /* requests still ending must not reach it */
		tracer_set_serving_ops(tracer, &(struct tracer_serving_ops){ 0 });
	trace_inject_close(agent.inject);
	agent.inject = NULL;
	python_hooks_close(agent.python);
	agent.python = NULL;
	agent.capture = NULL;
	capture_close(cap);
	/* The last push, with every event read; the series stay if its
	 * thread was left behind, stuck in libcurl. */
	if (otlp_metrics_exporter_destroy(agent.metric_push))
		agent_fini(&agent);
	agent.metric_push = NULL;
	/* Waits for the flush, until the deadline at most; the tracer goes
	 * last, since the exporter hands resources back to it (and stays if
	 * the export thread was left behind, stuck in libcurl). */
	if (otlp_exporter_destroy(exporter))
		tracer_free(tracer);
	pins_close(pins);
	if (!started)
		preflight_undo_mounts();
	return err;
}
