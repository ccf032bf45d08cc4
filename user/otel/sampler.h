/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Head sampling as the OpenTelemetry SDK specification defines it for
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: AlwaysOn, AlwaysOff,
 * TraceIdRatioBased, each optionally wrapped in ParentBased. Only spans are
 * sampled; metrics never are.
 */
#ifndef PODTAP_SAMPLER_H
#define PODTAP_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sampler_root {
	SAMPLER_ALWAYS_ON = 0,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_TRACEIDRATIO,
};

struct sampler {
	enum sampler_root root;
	bool parent_based;
	double ratio;     /* TRACEIDRATIO only */
	uint64_t bound;   /* ratio * 2^63 */
};

/*
 * What the span's parent decided. With ParentBased's default delegates a
 * remote and a local parent are treated alike, so the two are not told
 * apart. A context whose sampling was deferred (b3 without a sampling
 * state) has made no decision: pass SAMPLER_PARENT_NONE with its trace id.
 */
enum sampler_parent {
	SAMPLER_PARENT_NONE = 0,
	SAMPLER_PARENT_SAMPLED,
	SAMPLER_PARENT_NOT_SAMPLED,
};

#define SAMPLER_DEFAULT "parentbased_always_on"

/*
 * Sets up *s from the values of OTEL_TRACES_SAMPLER (`name`) and
 * OTEL_TRACES_SAMPLER_ARG (`arg`); NULL or empty means unset, and an unset
 * name means SAMPLER_DEFAULT. Names are matched ignoring case and
 * surrounding blanks.
 *
 * Returns 0, with a warning in msg (else msg is "") when a ratio sampler's
 * arg is missing or not a number in [0, 1]: the ratio is then 1.0, as if
 * the arg were unset. Returns -EINVAL, with the reason in msg and *s set to
 * SAMPLER_DEFAULT, for a name podtap does not implement; the caller decides
 * whether to go on with that.
 */
int sampler_parse(struct sampler *s, const char *name, const char *arg,
		  char *msg, size_t msg_size);

/* A new trace is sampled when the low 63 bits of its id's last 8 bytes are
 * below this (for a decision made elsewhere, such as the kernel's). */
uint64_t sampler_root_bound(const struct sampler *s);

/*
 * The decision for a new span in the trace `trace_id` (16 bytes): true to
 * record and export it.
 */
bool sampler_should_sample(const struct sampler *s, const uint8_t *trace_id,
			   enum sampler_parent parent);

/* The spec's description, e.g. "ParentBased{root:TraceIdRatioBased{0.25}}",
 * for the startup log. */
void sampler_describe(const struct sampler *s, char *out, size_t size);

#endif /* PODTAP_SAMPLER_H */
