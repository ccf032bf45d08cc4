// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "otel/trace_context.h"

static const char *hex(const uint8_t *b, size_t n)
{
	static char out[2][64];
	static int which;
	char *o = out[which ^= 1];

	for (size_t i = 0; i < n; i++)
		sprintf(o + 2 * i, "%02x", b[i]);
	o[2 * n] = '\0';
	return o;
}

#define TRACE_HEX(tc) hex((tc).trace_id, TRACE_ID_SIZE)
#define SPAN_HEX(tc) hex((tc).span_id, TRACE_SPAN_ID_SIZE)

/* Parsers get an exact-size heap copy with no NUL, so that ASan catches a
 * read past the length. */
static int parse_exact(int (*parse)(const char *, size_t,
				    struct trace_context *),
		       const char *v, struct trace_context *tc)
{
	size_t len = strlen(v);
	char *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, v, len);
	ret = parse(copy, len, tc);
	free(copy);
	return ret;
}

static int tp(const char *v, struct trace_context *tc)
{
	return parse_exact(trace_parse_traceparent, v, tc);
}

static int b3(const char *v, struct trace_context *tc)
{
	return parse_exact(trace_parse_b3, v, tc);
}

static struct trace_header hdr(const char *v)
{
	return (struct trace_header){ v, v ? strlen(v) : 0 };
}

static int b3m(const char *trace_id, const char *span_id,
	       const char *sampled, const char *flags,
	       struct trace_context *tc)
{
	struct b3_headers h = {
		.trace_id = hdr(trace_id),
		.span_id = hdr(span_id),
		.sampled = hdr(sampled),
		.flags = hdr(flags),
	};

	return trace_parse_b3_headers(&h, tc);
}

/* The examples of the W3C Trace Context recommendation. */
static void test_traceparent_spec_examples(void)
{
	struct trace_context tc;

	CHECK_INT(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		     &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_STR(SPAN_HEX(tc), "00f067aa0ba902b7");
	CHECK_INT(tc.sampling, TRACE_SAMPLED);

	CHECK_INT(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
}

/* The sampled flag is one bit: 03 is sampled (+ random), 02 is not. */
static void test_traceparent_flags_are_bits(void)
{
	struct trace_context tc;

	CHECK_INT(tp("00-12345678901234567890123456789012-1234567890123456-03",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	CHECK_INT(tp("00-12345678901234567890123456789012-1234567890123456-02",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
	CHECK_INT(tp("00-12345678901234567890123456789012-1234567890123456-ff",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
}

/* The W3C test suite's (test/test.py) valid headers. */
static void test_traceparent_valid_vectors(void)
{
	static const char *const ok[] = {
		/* leading and trailing OWS */
		" 00-12345678901234567890123456789012-1234567890123456-01",
		"\t00-12345678901234567890123456789012-1234567890123456-01",
		"00-12345678901234567890123456789012-1234567890123456-01 ",
		"00-12345678901234567890123456789012-1234567890123456-01\t",
		"\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
		/* a future version, alone or with more fields */
		"cc-12345678901234567890123456789012-1234567890123456-01",
		"cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
	};
	struct trace_context tc;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&tc, 0, sizeof(tc));
		CHECK_INT(tp(ok[i], &tc), 0);
		CHECK_STR(TRACE_HEX(tc), "12345678901234567890123456789012");
		CHECK_STR(SPAN_HEX(tc), "1234567890123456");
		CHECK_INT(tc.sampling, TRACE_SAMPLED);
	}
}

/* The W3C test suite's invalid headers, and uppercase hex. */
static void test_traceparent_invalid_vectors(void)
{
	static const char *const bad[] = {
		"",
		/* version 00 with anything after the flags */
		"00-12345678901234567890123456789012-1234567890123456-01.",
		"00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
		/* future version followed by something other than a dash */
		"cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
		"ff-12345678901234567890123456789012-1234567890123456-01",
		".0-12345678901234567890123456789012-1234567890123456-01",
		"0.-12345678901234567890123456789012-1234567890123456-01",
		"000-12345678901234567890123456789012-1234567890123456-01",
		"0000-12345678901234567890123456789012-1234567890123456-01",
		"0-12345678901234567890123456789012-1234567890123456-01",
		"00-00000000000000000000000000000000-1234567890123456-01",
		"00-.2345678901234567890123456789012-1234567890123456-01",
		"00-1234567890123456789012345678901.-1234567890123456-01",
		"00-123456789012345678901234567890123-1234567890123456-01",
		"00-1234567890123456789012345678901-1234567890123456-01",
		"00-12345678901234567890123456789012-0000000000000000-01",
		"00-12345678901234567890123456789012-.234567890123456-01",
		"00-12345678901234567890123456789012-123456789012345.-01",
		"00-12345678901234567890123456789012-12345678901234567-01",
		"00-12345678901234567890123456789012-123456789012345-01",
		"00-12345678901234567890123456789012-1234567890123456-.0",
		"00-12345678901234567890123456789012-1234567890123456-0.",
		"00-12345678901234567890123456789012-1234567890123456-001",
		"00-12345678901234567890123456789012-1234567890123456-1",
		/* HEXDIGLC: uppercase is not hex here */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"CC-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* future versions keep the zero-id rule and the field shapes */
		"cc-00000000000000000000000000000000-1234567890123456-01",
		"cc-12345678901234567890123456789012-0000000000000000-01",
		"cc-12345678901234567890123456789012-1234567890123456-0",
		/* wrong delimiters */
		"00_12345678901234567890123456789012-1234567890123456-01",
		"00-12345678901234567890123456789012_1234567890123456-01",
		"00-12345678901234567890123456789012-1234567890123456_01",
	};
	struct trace_context tc = { .sampling = TRACE_DEFERRED };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tp(bad[i], &tc) != -EINVAL)
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		CHECK_INT(tp(bad[i], &tc), -EINVAL);
	}
	/* *tc is left alone */
	CHECK_INT(tc.sampling, TRACE_DEFERRED);
}

/* The length bounds the parse: a valid header cut short is not read
 * beyond its end. */
static void test_traceparent_uses_length(void)
{
	const char *v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			"garbage";
	struct trace_context tc;

	CHECK_INT(trace_parse_traceparent(v, TRACEPARENT_LEN, &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_INT(trace_parse_traceparent(v, TRACEPARENT_LEN - 1, &tc),
		  -EINVAL);
}

static void test_format_roundtrip(void)
{
	static const uint8_t tid[16] = {
		0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
		0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
	};
	static const uint8_t sid[8] = { 0x00, 0xf0, 0x67, 0xaa,
					0x0b, 0xa9, 0x02, 0xb7 };
	char out[TRACEPARENT_LEN + 1];
	struct trace_context tc;

	trace_format_traceparent(tid, sid, true, out);
	CHECK_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	trace_format_traceparent(tid, sid, false, out);
	CHECK_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
	CHECK_INT(tp(out, &tc), 0);
	CHECK(memcmp(tc.trace_id, tid, 16) == 0);
	CHECK(memcmp(tc.span_id, sid, 8) == 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
}

/* The b3-propagation README's single-header examples. */
static void test_b3_single(void)
{
	struct trace_context tc;

	CHECK_INT(b3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-"
		     "05e3ac9a4f6e3b90", &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_STR(SPAN_HEX(tc), "e457b5a2e4d86bd1");
	CHECK_INT(tc.sampling, TRACE_SAMPLED);

	CHECK_INT(b3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);

	CHECK_INT(b3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0",
		     &tc), 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);

	/* no sampling state: deferred to us */
	CHECK_INT(b3(" 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1 ",
		     &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_INT(tc.sampling, TRACE_DEFERRED);

	/* a 64-bit trace id is the right-hand half of a 128-bit one */
	CHECK_INT(b3("a3ce929d0e0e4736-00f067aa0ba902b7-1", &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "0000000000000000a3ce929d0e0e4736");
	CHECK_STR(SPAN_HEX(tc), "00f067aa0ba902b7");
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
}

/* A decision without ids: a new trace that keeps it. */
static void test_b3_single_sampling_only(void)
{
	struct trace_context tc;

	CHECK_INT(b3("0", &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "00000000000000000000000000000000");
	CHECK_STR(SPAN_HEX(tc), "0000000000000000");
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
	CHECK_INT(b3("1", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	CHECK_INT(b3("d", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
}

static void test_b3_single_invalid(void)
{
	static const char *const bad[] = {
		"", "2", "true", "D", "-",
		"80f198ee56343ba864fe8b2a57d3eff7",
		"80f198ee56343ba864fe8b2a57d3eff7-",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
		/* trace ids of 16 or 32 digits only */
		"f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
		"80f198ee56343ba864fe8b2a57d3eff70-e457b5a2e4d86bd1-1",
		"80f198ee56343ba-e457b5a2e4d86bd1-1",
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd-1",
		/* lower-hex only */
		"80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
		"80f198ee56343ba864fe8b2a57d3eff7-E457B5A2E4D86BD1-1",
		/* all-zero ids */
		"00000000000000000000000000000000-e457b5a2e4d86bd1-1",
		"0000000000000000-e457b5a2e4d86bd1-1",
		"80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
	};
	struct trace_context tc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b3(bad[i], &tc) != -EINVAL)
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		CHECK_INT(b3(bad[i], &tc), -EINVAL);
	}
}

static void test_b3_multi(void)
{
	struct trace_context tc;

	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "1", NULL, &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "463ac35c9f6413ad48485a3953bb6124");
	CHECK_STR(SPAN_HEX(tc), "a2fb4a1d1a96d312");
	CHECK_INT(tc.sampling, TRACE_SAMPLED);

	CHECK_INT(b3m("48485a3953bb6124", "a2fb4a1d1a96d312", "0", NULL, &tc),
		  0);
	CHECK_STR(TRACE_HEX(tc), "000000000000000048485a3953bb6124");
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);

	/* no X-B3-Sampled: deferred */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      NULL, NULL, &tc), 0);
	CHECK_INT(tc.sampling, TRACE_DEFERRED);

	/* the true/false of older tracers, any case, OWS around */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      " True ", NULL, &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "false", NULL, &tc), 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);

	/* X-B3-Flags: 1 is debug, an accept whatever X-B3-Sampled says;
	 * other flag values are ignored */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      NULL, "1", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "0", "1", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "0", "2", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
}

static void test_b3_multi_sampling_only(void)
{
	struct trace_context tc;

	CHECK_INT(b3m(NULL, NULL, "0", NULL, &tc), 0);
	CHECK_STR(TRACE_HEX(tc), "00000000000000000000000000000000");
	CHECK_INT(tc.sampling, TRACE_NOT_SAMPLED);
	CHECK_INT(b3m(NULL, NULL, NULL, "1", &tc), 0);
	CHECK_INT(tc.sampling, TRACE_SAMPLED);
	/* nothing usable */
	CHECK_INT(b3m(NULL, NULL, NULL, NULL, &tc), -ENOENT);
	CHECK_INT(b3m(NULL, NULL, NULL, "0", &tc), -ENOENT);
}

static void test_b3_multi_invalid(void)
{
	struct trace_context tc;

	/* one id without the other */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", NULL, "1", NULL, &tc),
		  -EINVAL);
	CHECK_INT(b3m(NULL, "a2fb4a1d1a96d312", "1", NULL, &tc), -EINVAL);
	/* an empty or nonsense X-B3-Sampled is malformed, not absent */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "", NULL, &tc), -EINVAL);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
		      "d", NULL, &tc), -EINVAL);
	CHECK_INT(b3m(NULL, NULL, "yes", NULL, &tc), -EINVAL);
	/* id shapes as in the single header */
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb612", "a2fb4a1d1a96d312",
		      "1", NULL, &tc), -EINVAL);
	CHECK_INT(b3m("463AC35C9F6413AD48485A3953BB6124", "a2fb4a1d1a96d312",
		      "1", NULL, &tc), -EINVAL);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d31",
		      "1", NULL, &tc), -EINVAL);
	CHECK_INT(b3m("0000000000000000", "a2fb4a1d1a96d312", "1", NULL, &tc),
		  -EINVAL);
	CHECK_INT(b3m("463ac35c9f6413ad48485a3953bb6124", "0000000000000000",
		      "1", NULL, &tc), -EINVAL);
}

static void test_new_ids(void)
{
	uint8_t a[TRACE_ID_SIZE], b[TRACE_ID_SIZE], s[TRACE_SPAN_ID_SIZE];
	static const uint8_t zero[TRACE_ID_SIZE];
	int differ = 0;

	CHECK_INT(trace_new_trace_id(a), 0);
	CHECK_INT(trace_new_trace_id(b), 0);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	/* 1000 span ids: the pool refills, none is zero, all differ from
	 * the last (a 2^-64 chance of a false failure) */
	for (int i = 0; i < 1000; i++) {
		uint8_t prev[TRACE_SPAN_ID_SIZE];

		memcpy(prev, s, sizeof(s));
		CHECK_INT(trace_new_span_id(s), 0);
		CHECK(memcmp(s, zero, sizeof(s)) != 0);
		differ += i && memcmp(s, prev, sizeof(s)) != 0;
	}
	CHECK_INT(differ, 999);
}

int main(void)
{
	RUN(test_traceparent_spec_examples);
	RUN(test_traceparent_flags_are_bits);
	RUN(test_traceparent_valid_vectors);
	RUN(test_traceparent_invalid_vectors);
	RUN(test_traceparent_uses_length);
	RUN(test_format_roundtrip);
	RUN(test_b3_single);
	RUN(test_b3_single_sampling_only);
	RUN(test_b3_single_invalid);
	RUN(test_b3_multi);
	RUN(test_b3_multi_sampling_only);
	RUN(test_b3_multi_invalid);
	RUN(test_new_ids);
	return check_summary("trace_context");
}
