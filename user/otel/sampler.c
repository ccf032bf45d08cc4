// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otel/sampler.h"

static const struct {
	const char *name;
	enum sampler_root root;
	bool parent_based;
} samplers[] = {
	{ "always_on", SAMPLER_ALWAYS_ON, false },
	{ "always_off", SAMPLER_ALWAYS_OFF, false },
	{ "traceidratio", SAMPLER_TRACEIDRATIO, false },
	{ "parentbased_always_on", SAMPLER_ALWAYS_ON, true },
	{ "parentbased_always_off", SAMPLER_ALWAYS_OFF, true },
	{ "parentbased_traceidratio", SAMPLER_TRACEIDRATIO, true },
};

/* Copies s without surrounding blanks into out; false if it does not fit. */
static bool trim(const char *s, char *out, size_t size)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= size)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* A probability in [0, 1], the whole string, nothing else. */
static bool parse_ratio(const char *arg, double *ratio)
{
	char buf[64], *end;
	double v;

	if (!trim(arg, buf, sizeof(buf)) || !buf[0])
		return false;
	errno = 0;
	v = strtod(buf, &end);
	/* !(0 <= v <= 1) also turns away NaN; strtod takes "nan" */
	if (errno || *end || !(v >= 0.0 && v <= 1.0))
		return false;
	*ratio = v;
	return true;
}

/*
 * The spec leaves TraceIdRatioBased's exact rule open, so this follows the
 * Go and Rust SDKs bit for bit, and Python's up to rounding (it compares
 * the 64 bits against round(ratio * 2^64)): sample when the trace id's
 * last 8 bytes, big-endian, shifted right by one, are below ratio * 2^63.
 * The last bytes are the random ones for W3C (level 2 guarantees 7) and
 * for 64-bit b3 ids padded to 128. Ratio 1 gives 2^63, above every
 * shifted value, so it samples all.
 */
static uint64_t ratio_bound(double ratio)
{
	return (uint64_t)(ratio * 9223372036854775808.0 /* 2^63 */);
}

static void set(struct sampler *s, enum sampler_root root, bool parent_based,
		double ratio)
{
	s->root = root;
	s->parent_based = parent_based;
	s->ratio = ratio;
	s->bound = ratio_bound(ratio);
}

#define NSAMPLERS (sizeof(samplers) / sizeof(samplers[0]))

static size_t find_sampler(const char *name)
{
	size_t i;

	for (i = 0; i < NSAMPLERS; i++)
		if (!strcasecmp(name, samplers[i].name))
			break;
	return i;
}

int sampler_parse(struct sampler *s, const char *name, const char *arg,
		  char *msg, size_t msg_size)
{
	char want[64];
	double ratio = 1.0;
	bool fits;
	size_t i;

	snprintf(msg, msg_size, "%s", "");
	fits = trim(name ? name : "", want, sizeof(want));
	if (fits && !want[0])
		snprintf(want, sizeof(want), "%s", SAMPLER_DEFAULT);
	i = fits ? find_sampler(want) : NSAMPLERS;
	if (i == NSAMPLERS) {
		snprintf(msg, msg_size,
			 "OTEL_TRACES_SAMPLER=%s is not supported (podtap knows "
			 "always_on, always_off, traceidratio, "
			 "parentbased_always_on, parentbased_always_off, "
			 "parentbased_traceidratio)", name);
		set(s, SAMPLER_ALWAYS_ON, true, 1.0);
		return -EINVAL;
	}

	if (samplers[i].root == SAMPLER_TRACEIDRATIO) {
		if (!arg || !arg[0])
			snprintf(msg, msg_size,
				 "OTEL_TRACES_SAMPLER_ARG is not set: %s "
				 "samples with ratio 1.0", samplers[i].name);
		else if (!parse_ratio(arg, &ratio))
			snprintf(msg, msg_size,
				 "OTEL_TRACES_SAMPLER_ARG=%s is not a number "
				 "in [0, 1]: %s samples with ratio 1.0", arg,
				 samplers[i].name);
	}
	set(s, samplers[i].root, samplers[i].parent_based, ratio);
	return 0;
}

static bool root_decision(const struct sampler *s, const uint8_t *trace_id)
{
	uint64_t x = 0;

	switch (s->root) {
	case SAMPLER_ALWAYS_ON:
		return true;
	case SAMPLER_ALWAYS_OFF:
		return false;
	case SAMPLER_TRACEIDRATIO:
		for (int i = 8; i < 16; i++)
			x = x << 8 | trace_id[i];
		return x >> 1 < s->bound;
	}
	return false;
}

uint64_t sampler_root_bound(const struct sampler *s)
{
	switch (s->root) {
	case SAMPLER_ALWAYS_ON:
		return 1ULL << 63;
	case SAMPLER_TRACEIDRATIO:
		return s->bound;
	default:
		return 0;
	}
}

bool sampler_should_sample(const struct sampler *s, const uint8_t *trace_id,
			   enum sampler_parent parent)
{
	if (s->parent_based && parent != SAMPLER_PARENT_NONE)
		return parent == SAMPLER_PARENT_SAMPLED;
	return root_decision(s, trace_id);
}

void sampler_describe(const struct sampler *s, char *out, size_t size)
{
	char root[64];

	switch (s->root) {
	case SAMPLER_ALWAYS_ON:
		snprintf(root, sizeof(root), "AlwaysOnSampler");
		break;
	case SAMPLER_ALWAYS_OFF:
		snprintf(root, sizeof(root), "AlwaysOffSampler");
		break;
	case SAMPLER_TRACEIDRATIO:
		snprintf(root, sizeof(root), "TraceIdRatioBased{%g}", s->ratio);
		break;
	}
	if (s->parent_based)
		snprintf(out, size, "ParentBased{root:%s}", root);
	else
		snprintf(out, size, "%s", root);
}
