// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/types.h>

#include "otel/trace_context.h"

static const char hexdigits[] = "0123456789abcdef";

/* Both specifications allow lowercase hex only. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 2 * n hex digits at s into out[0..n). */
static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
	int hi, lo;

	for (size_t i = 0; i < n; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = hi << 4 | lo;
	}
	return true;
}

static void format_hex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* HTTP optional whitespace around a field value is not part of it. */
static void trim_ows(const char **v, size_t *len)
{
	while (*len && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * version "-" trace-id "-" parent-id "-" trace-flags. Version 00 is exactly
 * that; a later version (ff excepted) may only append "-" and more fields,
 * which are skipped, as the spec's versioning rules say.
 */
int trace_parse_traceparent(const char *v, size_t len,
			    struct trace_context *tc)
{
	struct trace_context t = {0};
	uint8_t version, flags;

	trim_ows(&v, &len);
	if (len < TRACEPARENT_LEN || !parse_hex(v, &version, 1) ||
	    version == 0xff || v[2] != '-')
		return -EINVAL;
	if (version == 0 && len != TRACEPARENT_LEN)
		return -EINVAL;
	if (len > TRACEPARENT_LEN && v[TRACEPARENT_LEN] != '-')
		return -EINVAL;
	if (!parse_hex(v + 3, t.trace_id, TRACE_ID_SIZE) || v[35] != '-' ||
	    !parse_hex(v + 36, t.span_id, TRACE_SPAN_ID_SIZE) ||
	    v[52] != '-' || !parse_hex(v + 53, &flags, 1))
		return -EINVAL;
	if (is_zero(t.trace_id, TRACE_ID_SIZE) ||
	    is_zero(t.span_id, TRACE_SPAN_ID_SIZE))
		return -EINVAL;
	t.sampling = flags & 0x01 ? TRACE_SAMPLED : TRACE_NOT_SAMPLED;
	*tc = t;
	return 0;
}

/* A 16- or 32-digit trace id; a 64-bit one fills the right-hand half. */
static bool parse_b3_trace_id(const char *s, size_t len, uint8_t *id)
{
	memset(id, 0, TRACE_ID_SIZE);
	if (len == 16)
		return parse_hex(s, id + 8, 8);
	return len == 32 && parse_hex(s, id, TRACE_ID_SIZE);
}

static bool parse_b3_span_id(const char *s, size_t len, uint8_t *id)
{
	return len == 16 && parse_hex(s, id, TRACE_SPAN_ID_SIZE);
}

/* The single header's sampling state: accept, deny, or debug (an
 * emphasised accept). */
static bool parse_b3_sampling(const char *s, size_t len,
			      enum trace_sampling *sampling)
{
	if (len != 1)
		return false;
	if (s[0] == '1' || s[0] == 'd')
		*sampling = TRACE_SAMPLED;
	else if (s[0] == '0')
		*sampling = TRACE_NOT_SAMPLED;
	else
		return false;
	return true;
}

static bool ids_valid(const struct trace_context *t)
{
	return !is_zero(t->trace_id, TRACE_ID_SIZE) &&
	       !is_zero(t->span_id, TRACE_SPAN_ID_SIZE);
}

#define B3_FIELDS_MAX 4

/* Splits v at dashes; returns the number of fields, or 0 if over max. */
static size_t split_dashes(const char *v, size_t len,
			   struct trace_header *f)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != '-')
			continue;
		if (n == B3_FIELDS_MAX)
			return 0;
		f[n].p = v + start;
		f[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

int trace_parse_b3(const char *v, size_t len, struct trace_context *tc)
{
	struct trace_header f[B3_FIELDS_MAX];
	struct trace_context t = { .sampling = TRACE_DEFERRED };
	uint8_t parent[TRACE_SPAN_ID_SIZE];
	size_t n;

	trim_ows(&v, &len);
	n = split_dashes(v, len, f);
	if (n == 1) {
		if (!parse_b3_sampling(f[0].p, f[0].len, &t.sampling))
			return -EINVAL;
		*tc = t;
		return 0;
	}
	if (n < 2 || !parse_b3_trace_id(f[0].p, f[0].len, t.trace_id) ||
	    !parse_b3_span_id(f[1].p, f[1].len, t.span_id) || !ids_valid(&t))
		return -EINVAL;
	if (n > 2 && !parse_b3_sampling(f[2].p, f[2].len, &t.sampling))
		return -EINVAL;
	/* the sender's parent is of no use, but must be well-formed */
	if (n > 3 && !parse_b3_span_id(f[3].p, f[3].len, parent))
		return -EINVAL;
	*tc = t;
	return 0;
}

static bool header_is(struct trace_header h, const char *s)
{
	trim_ows(&h.p, &h.len);
	return h.len == strlen(s) && !strncasecmp(h.p, s, h.len);
}

/* X-B3-Sampled: 1 or 0, and the true or false of older tracers. */
static bool parse_b3_sampled(struct trace_header h,
			     enum trace_sampling *sampling)
{
	if (header_is(h, "1") || header_is(h, "true"))
		*sampling = TRACE_SAMPLED;
	else if (header_is(h, "0") || header_is(h, "false"))
		*sampling = TRACE_NOT_SAMPLED;
	else
		return false;
	return true;
}

int trace_parse_b3_headers(const struct b3_headers *h,
			   struct trace_context *tc)
{
	struct trace_context t = { .sampling = TRACE_DEFERRED };
	struct trace_header tid = h->trace_id, sid = h->span_id;

	if (h->sampled.p && !parse_b3_sampled(h->sampled, &t.sampling))
		return -EINVAL;
	/* Debug implies accept; other X-B3-Flags values mean nothing. */
	if (h->flags.p && header_is(h->flags, "1"))
		t.sampling = TRACE_SAMPLED;

	if (!tid.p && !sid.p) {
		if (t.sampling == TRACE_DEFERRED)
			return -ENOENT;
		*tc = t; /* a decision without ids */
		return 0;
	}
	if (!tid.p || !sid.p)
		return -EINVAL;
	trim_ows(&tid.p, &tid.len);
	trim_ows(&sid.p, &sid.len);
	if (!parse_b3_trace_id(tid.p, tid.len, t.trace_id) ||
	    !parse_b3_span_id(sid.p, sid.len, t.span_id) || !ids_valid(&t))
		return -EINVAL;
	*tc = t;
	return 0;
}

/*
 * getrandom(2) for every id would cost two syscalls a span; ids are drawn
 * from a per-thread pool instead, refilled 256 bytes at a time (the most
 * getrandom always returns whole).
 */
static __thread uint8_t pool[256];
static __thread size_t pool_left;

static int random_bytes(uint8_t *out, size_t n)
{
	size_t got = 0;
	ssize_t r;

	if (pool_left < n) {
		while (got < sizeof(pool)) {
			r = getrandom(pool + got, sizeof(pool) - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			got += r;
		}
		pool_left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - pool_left, n);
	pool_left -= n;
	return 0;
}

/* All zero is the invalid id in both W3C and OTLP: draw again. */
static int random_id(uint8_t *id, size_t n)
{
	int err;

	do {
		err = random_bytes(id, n);
		if (err)
			return err;
	} while (is_zero(id, n));
	return 0;
}

int trace_new_trace_id(uint8_t id[TRACE_ID_SIZE])
{
	return random_id(id, TRACE_ID_SIZE);
}

int trace_new_span_id(uint8_t id[TRACE_SPAN_ID_SIZE])
{
	return random_id(id, TRACE_SPAN_ID_SIZE);
}

void trace_format_traceparent(const uint8_t trace_id[TRACE_ID_SIZE],
			      const uint8_t span_id[TRACE_SPAN_ID_SIZE],
			      bool sampled, char *out)
{
	memcpy(out, "00-", 3);
	format_hex(trace_id, TRACE_ID_SIZE, out + 3);
	out[35] = '-';
	format_hex(span_id, TRACE_SPAN_ID_SIZE, out + 36);
	out[52] = '-';
	out[53] = '0';
	out[54] = sampled ? '1' : '0';
	out[TRACEPARENT_LEN] = '\0';
}
