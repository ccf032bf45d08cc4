/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace and metric export settings from the environment: the OpenTelemetry
 * SDK variables, read as the specification defines them (configuration/
 * sdk-environment-variables.md, configuration/common.md,
 * protocol/exporter.md, resource/sdk.md), and podtap's batching knobs.
 *
 *   OTEL_SDK_DISABLED                     "true": traces off
 *   OTEL_TRACES_EXPORTER                  "otlp" (default) or "none"
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT    the URL to POST to, as is
 *   OTEL_EXPORTER_OTLP_ENDPOINT           base URL: + "v1/traces"
 *   OTEL_EXPORTER_OTLP_[TRACES_]HEADERS   "k=v,k2=v2", values %-encoded
 *   OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION  "gzip" or "none"
 *   OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT   ms per request, 0 = no limit
 *   OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL  "http/protobuf" only
 *   OTEL_RESOURCE_ATTRIBUTES              "k=v,k2=v2", keys, values %-encoded
 *   OTEL_SERVICE_NAME                     service.name (wins over the above)
 *
 *   PODTAP_OTLP_BATCH_SIZE     | OTEL_BSP_MAX_EXPORT_BATCH_SIZE  (8192)
 *   PODTAP_OTLP_BATCH_TIMEOUT  | OTEL_BSP_SCHEDULE_DELAY  ms     (200)
 *   PODTAP_OTLP_QUEUE_SIZE     | OTEL_BSP_MAX_QUEUE_SIZE         (8192)
 *   PODTAP_OTLP_SHUTDOWN_TIMEOUT  ms to flush at exit, 0: none   (5000)
 *   PODTAP_OTLP_RETRY_MAX_ELAPSED ms before a batch is given up,
 *                                 0: no retries                  (300000)
 *
 * Metrics (otel_metrics_config_from_env) read the same with METRICS_ for
 * TRACES_ and "v1/metrics" for "v1/traces", and:
 *
 *   OTEL_METRICS_EXPORTER                 "otlp": push to the general
 *                                         endpoint; "none": off
 *   OTEL_METRIC_EXPORT_INTERVAL           ms between pushes      (60000)
 *   OTEL_METRIC_EXPORT_TIMEOUT            ms an export may take, retries
 *                                         included, at most the interval
 *                                         (30000)
 *   OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE  cumulative only
 *   PODTAP_OTLP_SHUTDOWN_TIMEOUT          ms for the last push at exit
 *
 * Unlike traces, metrics are pushed only when asked for by name (their
 * own endpoint, or OTEL_METRICS_EXPORTER=otlp): an OTLP endpoint set for
 * traces does not by itself send every HTTP histogram a second way, next
 * to /metrics that Prometheus already scrapes.
 *
 * OTEL_BSP_EXPORT_TIMEOUT is not read: the request timeout bounds each
 * attempt and PODTAP_OTLP_RETRY_MAX_ELAPSED a batch's retries.
 *
 * A TRACES_ variable wins over its general twin and a PODTAP_ one over its
 * OTEL_BSP_ twin. An empty variable counts as unset. As the specification
 * asks, a value that cannot be used is reported and then treated as unset
 * (so its twin or the default applies); the exceptions are settings that
 * cannot be honoured at all (a malformed endpoint, a protocol other than
 * http/protobuf), which are errors. The daemon itself refuses a bad
 * PODTAP_OTLP_BATCH_SIZE, _BATCH_TIMEOUT or _QUEUE_SIZE before this is read:
 * they are the twins of its --otlp-* flags (config.c).
 *
 * Unlike an SDK, podtap does not default the endpoint to
 * http://localhost:4318: a node agent with no collector configured exports
 * nothing rather than retrying a port nobody listens on.
 */
#ifndef PODTAP_OTEL_ENV_H
#define PODTAP_OTEL_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"

#define OTEL_URL_MAX 2048
#define OTEL_HEADERS_MAX 16
#define OTEL_HEADER_NAME_MAX 128
#define OTEL_HEADER_VALUE_MAX 4096
#define OTEL_SERVICE_NAME_MAX 254 /* = span_resource.service_name */
#define OTEL_WARNINGS_MAX 16
#define OTEL_MSG_MAX 256

#define OTEL_DEFAULT_TIMEOUT_MS 10000            /* the specification's */
#define OTEL_DEFAULT_BATCH_SIZE 8192             /* the collector's batch */
#define OTEL_DEFAULT_BATCH_TIMEOUT_MS 200        /* processor's defaults */
#define OTEL_DEFAULT_QUEUE_SIZE 8192 /* ~20 MiB of spans when full */
#define OTEL_DEFAULT_SHUTDOWN_TIMEOUT_MS 5000
#define OTEL_DEFAULT_RETRY_MAX_ELAPSED_MS 300000 /* the collector's */
#define OTEL_DEFAULT_METRIC_INTERVAL_MS 60000   /* the specification's */
#define OTEL_DEFAULT_METRIC_TIMEOUT_MS 30000
/* Bounds of the batching settings; their flags (config.c) check the same. */
#define OTEL_INT_MAX 2147483647u /* the OpenTelemetry Integer type's range */
#define OTEL_QUEUE_SIZE_MIN 1u
/* Each queued span is a struct span copy (about 2.5 KiB). */
#define OTEL_QUEUE_SIZE_MAX (1u << 20)
#define OTEL_BATCH_SIZE_MIN 1u
#define OTEL_BATCH_SIZE_MAX OTEL_INT_MAX
#define OTEL_BATCH_TIMEOUT_MIN_MS 0u
#define OTEL_BATCH_TIMEOUT_MAX_MS OTEL_INT_MAX

struct otel_header {
	char name[OTEL_HEADER_NAME_MAX];
	char value[OTEL_HEADER_VALUE_MAX]; /* percent-decoded */
};

struct otel_config {
	bool enabled;
	char disabled_reason[OTEL_MSG_MAX]; /* why not, when !enabled */

	/* The rest is only filled in when enabled. */
	char url[OTEL_URL_MAX]; /* where to POST this signal */
	unsigned int n_headers;
	struct otel_header headers[OTEL_HEADERS_MAX]; /* names unique */
	bool gzip;
	uint32_t timeout_ms; /* per request; 0: no limit */

	/* service.name: OTEL_SERVICE_NAME, else the service.name entry of
	 * OTEL_RESOURCE_ATTRIBUTES, else "". */
	char service_name[OTEL_SERVICE_NAME_MAX];
	/* OTEL_RESOURCE_ATTRIBUTES but service.name, keys unique (the last
	 * occurrence wins), percent-decoded. */
	unsigned int n_resource_attrs;
	struct span_resource_attr resource_attrs[SPAN_RESOURCE_EXTRA_MAX];

	/* Traces: the batch span processor. */
	uint32_t batch_size; /* <= queue_size */
	uint32_t batch_timeout_ms;
	uint32_t queue_size;
	uint32_t shutdown_timeout_ms;
	uint32_t retry_max_elapsed_ms; /* metrics: export_timeout_ms */

	/* Metrics: the periodic reader. */
	uint32_t export_interval_ms;
	uint32_t export_timeout_ms; /* <= export_interval_ms */

	/* Values that were reported and ignored, one message each, to log. */
	unsigned int n_warnings;
	char warnings[OTEL_WARNINGS_MAX][OTEL_MSG_MAX];
};

/*
 * Fills *cfg from envp, a NULL-terminated array of "NAME=value" strings
 * (environ, or a test's own). Returns 0, with cfg->enabled false and the
 * reason in cfg->disabled_reason when traces are off (no endpoint,
 * OTEL_TRACES_EXPORTER=none, OTEL_SDK_DISABLED=true). Returns -EINVAL with
 * the reason in err for a setting that cannot be honoured.
 */
int otel_config_from_env(struct otel_config *cfg, char *const *envp,
			 char *err, size_t err_size);

/* The same for pushing metrics: enabled only with
 * OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or with OTEL_METRICS_EXPORTER=otlp
 * and OTEL_EXPORTER_OTLP_ENDPOINT. */
int otel_metrics_config_from_env(struct otel_config *cfg, char *const *envp,
				 char *err, size_t err_size);

/* Settings that win over the environment's (the daemon's --otlp-* flags);
 * NULL leaves one as the environment made it. The batch size is kept
 * within the queue size again (with a warning when batch_size is given). */
void otel_config_override_batching(struct otel_config *cfg,
				   const uint32_t *queue_size,
				   const uint32_t *batch_size,
				   const uint32_t *batch_timeout_ms);

#endif /* PODTAP_OTEL_ENV_H */
