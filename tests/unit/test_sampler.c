// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "otel/sampler.h"

static struct sampler make(const char *name, const char *arg)
{
	struct sampler s;
	char msg[256];

	CHECK_INT(sampler_parse(&s, name, arg, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "");
	return s;
}

struct id {
	uint8_t b[16];
};

/* A trace id whose first 8 bytes are `hi` and last 8 bytes `lo`. */
static struct id tid(uint64_t hi, uint64_t lo)
{
	struct id id;

	for (int i = 0; i < 8; i++) {
		id.b[i] = hi >> (56 - 8 * i);
		id.b[8 + i] = lo >> (56 - 8 * i);
	}
	return id;
}

/* Root decision of traceidratio at `ratio` for the id ...lo. */
static bool at(const char *ratio, uint64_t lo)
{
	struct sampler s = make("traceidratio", ratio);

	return sampler_should_sample(&s, tid(0x0123456789abcdefULL, lo).b,
				     SAMPLER_PARENT_NONE);
}

/*
 * Expected values are those of the Go and Rust SDKs ((lo >> 1) < ratio *
 * 2^63), which equal Python's (lo < round(ratio * 2^64)) at these ratios.
 */
static void test_ratio_known_ids(void)
{
	/* ratio 0 samples nothing, not even the smallest id */
	CHECK(!at("0", 0));
	CHECK(!at("0", 1));
	CHECK(!at("0", 0x3fffffffffffffffULL));

	/* ratio 0.25: the bound is 2^62 on lo */
	CHECK(at("0.25", 0));
	CHECK(at("0.25", 0x3ffffffffffffffeULL));
	CHECK(at("0.25", 0x3fffffffffffffffULL));
	CHECK(!at("0.25", 0x4000000000000000ULL));
	CHECK(!at("0.25", 0x4000000000000001ULL));
	CHECK(!at("0.25", 0x7fffffffffffffffULL));
	CHECK(!at("0.25", 0x8000000000000000ULL));
	CHECK(!at("0.25", 0xffffffffffffffffULL));

	/* ratio 0.5: the bound is 2^63; the top bit of lo is not ignored */
	CHECK(at("0.5", 0x4000000000000000ULL));
	CHECK(at("0.5", 0x7fffffffffffffffULL));
	CHECK(!at("0.5", 0x8000000000000000ULL));
	CHECK(!at("0.5", 0x8000000000000001ULL));
	CHECK(!at("0.5", 0xffffffffffffffffULL));

	/* ratio 1 samples everything, the largest id included */
	CHECK(at("1", 0));
	CHECK(at("1", 0x8000000000000000ULL));
	CHECK(at("1", 0xffffffffffffffffULL));
	CHECK(at("1.0", 0xffffffffffffffffULL));
}

/* The W3C example trace id: its last 8 bytes are 0.63987... of 2^64. */
static void test_ratio_w3c_example(void)
{
	static const uint8_t id[16] = {
		0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
		0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
	};
	struct sampler s;

	s = make("traceidratio", "0.5");
	CHECK(!sampler_should_sample(&s, id, SAMPLER_PARENT_NONE));
	s = make("traceidratio", "0.6398");
	CHECK(!sampler_should_sample(&s, id, SAMPLER_PARENT_NONE));
	s = make("traceidratio", "0.6399");
	CHECK(sampler_should_sample(&s, id, SAMPLER_PARENT_NONE));
	s = make("traceidratio", "1");
	CHECK(sampler_should_sample(&s, id, SAMPLER_PARENT_NONE));
}

/* Only the last 8 bytes count: 64-bit b3 ids padded with zeros decide as
 * their 128-bit form would. */
static void test_ratio_ignores_high_bytes(void)
{
	struct sampler s = make("traceidratio", "0.25");

	CHECK(sampler_should_sample(&s, tid(0, 1).b, SAMPLER_PARENT_NONE));
	CHECK(sampler_should_sample(&s, tid(~0ULL, 1).b, SAMPLER_PARENT_NONE));
	CHECK(!sampler_should_sample(&s, tid(0, ~0ULL).b, SAMPLER_PARENT_NONE));
	CHECK(!sampler_should_sample(&s, tid(1, ~0ULL).b, SAMPLER_PARENT_NONE));
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Over 100000 pseudo-random ids the share is the ratio, and a trace kept at
 * one ratio is kept at every higher one (the spec's requirement). */
static void test_ratio_share_and_monotone(void)
{
	struct sampler q = make("traceidratio", "0.25");
	struct sampler h = make("traceidratio", "0.5");
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int nq = 0, nh = 0, broken = 0;
	bool sq, sh;

	for (int i = 0; i < 100000; i++) {
		uint64_t hi = xorshift(&x), lo = xorshift(&x);
		struct id id = tid(hi, lo);

		sq = sampler_should_sample(&q, id.b, SAMPLER_PARENT_NONE);
		sh = sampler_should_sample(&h, id.b, SAMPLER_PARENT_NONE);
		nq += sq;
		nh += sh;
		broken += sq && !sh;
	}
	/* 4.5 standard deviations (137 and 158) either side */
	CHECK(nq > 25000 - 620 && nq < 25000 + 620);
	CHECK(nh > 50000 - 715 && nh < 50000 + 715);
	CHECK_INT(broken, 0);
}

static void test_always_on_off_ignore_parent(void)
{
	struct sampler on = make("always_on", NULL);
	struct sampler off = make("always_off", NULL);
	struct id id = tid(1, 2);

	CHECK(sampler_should_sample(&on, id.b, SAMPLER_PARENT_NONE));
	CHECK(sampler_should_sample(&on, id.b, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(!sampler_should_sample(&off, id.b, SAMPLER_PARENT_NONE));
	CHECK(!sampler_should_sample(&off, id.b, SAMPLER_PARENT_SAMPLED));
}

/* TraceIdRatioBased on its own MUST ignore the parent's flag. */
static void test_ratio_ignores_parent(void)
{
	struct sampler s = make("traceidratio", "0.25");

	CHECK(!sampler_should_sample(&s, tid(0, ~0ULL).b,
				     SAMPLER_PARENT_SAMPLED));
	CHECK(sampler_should_sample(&s, tid(0, 1).b,
				    SAMPLER_PARENT_NOT_SAMPLED));
}

static void test_parent_based(void)
{
	struct sampler on = make("parentbased_always_on", NULL);
	struct sampler off = make("parentbased_always_off", NULL);
	struct sampler r = make("parentbased_traceidratio", "0.25");
	struct id lo = tid(0, 1), hi = tid(0, ~0ULL);
	const uint8_t *low = lo.b, *high = hi.b;

	/* no parent: the root sampler */
	CHECK(sampler_should_sample(&on, high, SAMPLER_PARENT_NONE));
	CHECK(!sampler_should_sample(&off, low, SAMPLER_PARENT_NONE));
	CHECK(sampler_should_sample(&r, low, SAMPLER_PARENT_NONE));
	CHECK(!sampler_should_sample(&r, high, SAMPLER_PARENT_NONE));

	/* a parent: its flag, whatever the root would say */
	CHECK(sampler_should_sample(&on, low, SAMPLER_PARENT_SAMPLED));
	CHECK(!sampler_should_sample(&on, low, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(sampler_should_sample(&off, low, SAMPLER_PARENT_SAMPLED));
	CHECK(!sampler_should_sample(&off, low, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(sampler_should_sample(&r, high, SAMPLER_PARENT_SAMPLED));
	CHECK(!sampler_should_sample(&r, low, SAMPLER_PARENT_NOT_SAMPLED));
}

static void test_parse_names(void)
{
	struct sampler s;
	char msg[256];

	/* unset or empty: parentbased_always_on */
	CHECK_INT(sampler_parse(&s, NULL, NULL, msg, sizeof(msg)), 0);
	CHECK_INT(s.root, SAMPLER_ALWAYS_ON);
	CHECK(s.parent_based);
	CHECK_STR(msg, "");
	CHECK_INT(sampler_parse(&s, "", "0.5", msg, sizeof(msg)), 0);
	CHECK_INT(s.root, SAMPLER_ALWAYS_ON);
	CHECK(s.parent_based);
	CHECK_INT(sampler_parse(&s, " \t", NULL, msg, sizeof(msg)), 0);
	CHECK_INT(s.root, SAMPLER_ALWAYS_ON);
	CHECK(s.parent_based);

	/* case and surrounding blanks do not matter */
	CHECK_INT(sampler_parse(&s, " TraceIdRatio\n", "0.25", msg,
				sizeof(msg)), 0);
	CHECK_INT(s.root, SAMPLER_TRACEIDRATIO);
	CHECK(!s.parent_based);
	CHECK(s.ratio == 0.25);
	CHECK_STR(msg, "");
	CHECK_INT(sampler_parse(&s, "PARENTBASED_ALWAYS_OFF", NULL, msg,
				sizeof(msg)), 0);
	CHECK_INT(s.root, SAMPLER_ALWAYS_OFF);
	CHECK(s.parent_based);

	/* the arg only matters to ratio samplers */
	CHECK_INT(sampler_parse(&s, "always_off", "junk", msg, sizeof(msg)),
		  0);
	CHECK_INT(s.root, SAMPLER_ALWAYS_OFF);
	CHECK(!s.parent_based);
	CHECK_STR(msg, "");
}

static void test_parse_unknown_names(void)
{
	struct sampler s;
	char msg[256];
	char long_name[100];

	s = make("always_off", NULL);
	CHECK_INT(sampler_parse(&s, "jaeger_remote", NULL, msg, sizeof(msg)),
		  -EINVAL);
	CHECK_STR(msg, "OTEL_TRACES_SAMPLER=jaeger_remote is not supported "
		       "(podtap knows always_on, always_off, traceidratio, "
		       "parentbased_always_on, parentbased_always_off, "
		       "parentbased_traceidratio)");
	/* left at the default, for a caller that goes on */
	CHECK_INT(s.root, SAMPLER_ALWAYS_ON);
	CHECK(s.parent_based);

	CHECK_INT(sampler_parse(&s, "parentbased_jaeger_remote", NULL, msg,
				sizeof(msg)), -EINVAL);
	CHECK_INT(sampler_parse(&s, "xray", NULL, msg, sizeof(msg)), -EINVAL);
	CHECK_INT(sampler_parse(&s, "always on", NULL, msg, sizeof(msg)),
		  -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_INT(sampler_parse(&s, long_name, NULL, msg, sizeof(msg)),
		  -EINVAL);
}

/* A missing or bad arg is a warning, and the ratio is 1.0. */
static void test_parse_bad_args(void)
{
	static const char *const bad[] = {
		"1.5", "-0.1", "abc", "0.5x", "nan", "inf", "0,5", " ",
	};
	struct sampler s;
	char msg[256], want[256];

	CHECK_INT(sampler_parse(&s, "traceidratio", NULL, msg, sizeof(msg)),
		  0);
	CHECK(s.ratio == 1.0);
	CHECK_STR(msg, "OTEL_TRACES_SAMPLER_ARG is not set: traceidratio "
		       "samples with ratio 1.0");
	CHECK_INT(sampler_parse(&s, "parentbased_traceidratio", "", msg,
				sizeof(msg)), 0);
	CHECK_STR(msg, "OTEL_TRACES_SAMPLER_ARG is not set: "
		       "parentbased_traceidratio samples with ratio 1.0");
	CHECK(s.parent_based);
	CHECK(s.ratio == 1.0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(sampler_parse(&s, "traceidratio", bad[i], msg,
					sizeof(msg)), 0);
		CHECK(s.ratio == 1.0);
		CHECK(sampler_should_sample(&s, tid(0, ~0ULL).b,
					    SAMPLER_PARENT_NONE));
		snprintf(want, sizeof(want), "OTEL_TRACES_SAMPLER_ARG=%s is "
			 "not a number in [0, 1]: traceidratio samples with "
			 "ratio 1.0", bad[i]);
		CHECK_STR(msg, want);
	}
}

static void test_parse_good_args(void)
{
	struct sampler s;

	s = make("traceidratio", " 0.5 ");
	CHECK(s.ratio == 0.5);
	s = make("traceidratio", "0");
	CHECK(s.ratio == 0.0);
	s = make("traceidratio", "1");
	CHECK(s.ratio == 1.0);
	s = make("traceidratio", "2.5e-1");
	CHECK(s.ratio == 0.25);
}

static void test_describe(void)
{
	struct sampler s;
	char out[128];

	s = make(NULL, NULL);
	sampler_describe(&s, out, sizeof(out));
	CHECK_STR(out, "ParentBased{root:AlwaysOnSampler}");
	s = make("always_off", NULL);
	sampler_describe(&s, out, sizeof(out));
	CHECK_STR(out, "AlwaysOffSampler");
	s = make("traceidratio", "0.25");
	sampler_describe(&s, out, sizeof(out));
	CHECK_STR(out, "TraceIdRatioBased{0.25}");
	s = make("parentbased_traceidratio", "0.0001");
	sampler_describe(&s, out, sizeof(out));
	CHECK_STR(out, "ParentBased{root:TraceIdRatioBased{0.0001}}");
}

int main(void)
{
	RUN(test_ratio_known_ids);
	RUN(test_ratio_w3c_example);
	RUN(test_ratio_ignores_high_bytes);
	RUN(test_ratio_share_and_monotone);
	RUN(test_always_on_off_ignore_parent);
	RUN(test_ratio_ignores_parent);
	RUN(test_parent_based);
	RUN(test_parse_names);
	RUN(test_parse_unknown_names);
	RUN(test_parse_bad_args);
	RUN(test_parse_good_args);
	RUN(test_describe);
	return check_summary("sampler");
}
