// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Route normaliser. A path is handled as a list of segments: runs of '/'
 * collapse, and a path ending in '/' (or "/" itself) has one final empty
 * segment, so "/users/1/" is [users, 1, ""] and does not match
 * "/users/{id}", while the heuristic form keeps its trailing slash.
 *
 * Matching and the heuristic read the target in place; nothing is allocated
 * per request.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http/route.h"

#define ROUTE_REST "/{rest}"
#define ROUTE_ID "{id}"
#define ROUTE_INVALID "{invalid}"

struct route_table {
	char **patterns; /* in the order given */
	size_t n;
	size_t cap;
};

/* --- character classes (ASCII only: ctype depends on the locale) --- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_token_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || c == '-';
}

/* --- segments --- */

struct seg_iter {
	const char *p;   /* at a '/' or at end */
	const char *end;
	bool params;     /* a target's: segments end at ';' */
};

struct seg {
	const char *s;
	size_t n;
};

/* A segment's path parameters (";jsessionid=...", RFC 3986 3.3) never
 * leave the node: the segment ends at its first ';'. */
static size_t without_params(const char *s, size_t n)
{
	const char *semi = memchr(s, ';', n);

	return semi ? (size_t)(semi - s) : n;
}

/*
 * Yields the next segment of a path that starts with '/'. Empty segments
 * between slashes are skipped; trailing slashes yield one empty segment.
 * In a target, a segment's parameters are dropped, and a segment that is
 * all parameters counts as empty.
 */
static bool seg_next(struct seg_iter *it, struct seg *seg)
{
	const char *q = it->p, *e;

	for (;;) {
		if (q >= it->end)
			return false;
		while (q < it->end && *q == '/')
			q++;
		for (e = q; e < it->end && *e != '/'; e++)
			;
		seg->s = q;
		seg->n = (size_t)(e - q);
		if (it->params)
			seg->n = without_params(seg->s, seg->n);
		it->p = e;
		if (seg->n > 0 || e == it->end)
			return true;
		q = e; /* "/a/;x/b": an empty segment in the middle */
	}
}

static struct seg_iter seg_iter_init(const char *path, const char *end)
{
	return (struct seg_iter){ .p = path, .end = end };
}

static struct seg_iter target_iter_init(const char *path, const char *end)
{
	return (struct seg_iter){ .p = path, .end = end, .params = true };
}

static bool seg_is(const struct seg *seg, const char *lit)
{
	return seg->n == strlen(lit) && memcmp(seg->s, lit, seg->n) == 0;
}

static bool seg_is_placeholder(const struct seg *seg)
{
	return seg->n >= 2 && seg->s[0] == '{' && seg->s[seg->n - 1] == '}';
}

/* A "{name}" pattern segment matches one non-empty segment; others match
 * byte for byte. */
static bool seg_matches(const struct seg *pseg, const struct seg *seg)
{
	if (seg_is_placeholder(pseg))
		return seg->n > 0;
	return pseg->n == seg->n && memcmp(pseg->s, seg->s, seg->n) == 0;
}

/* --- heuristic --- */

static bool all_digits(const struct seg *seg)
{
	for (size_t i = 0; i < seg->n; i++)
		if (!is_digit(seg->s[i]))
			return false;
	return seg->n > 0;
}

static bool has_digit(const struct seg *seg)
{
	for (size_t i = 0; i < seg->n; i++)
		if (is_digit(seg->s[i]))
			return true;
	return false;
}

/* 8-4-4-4-12 hex digits, either case. */
static bool is_uuid(const struct seg *seg)
{
	if (seg->n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash_pos ? seg->s[i] != '-' : !is_hex(seg->s[i]))
			return false;
	}
	return true;
}

/* Hashes and Mongo ObjectIds; the digit keeps words like "deadbeef" or
 * "facade" literal. */
static bool is_hex_hash(const struct seg *seg)
{
	if (seg->n < 8)
		return false;
	for (size_t i = 0; i < seg->n; i++)
		if (!is_hex(seg->s[i]))
			return false;
	return has_digit(seg);
}

/* Opaque tokens (base64url ids, slugs with ids); long enough that words
 * and short versioned names ("v1", "2fa", "oauth2") stay literal. */
static bool is_long_token(const struct seg *seg)
{
	if (seg->n < 20)
		return false;
	for (size_t i = 0; i < seg->n; i++)
		if (!is_token_char(seg->s[i]))
			return false;
	return has_digit(seg);
}

/* E-mail addresses and handles: an '@', or its percent-encoding. */
static bool has_at(const struct seg *seg)
{
	for (size_t i = 0; i < seg->n; i++)
		if (seg->s[i] == '@' ||
		    (seg->s[i] == '%' && i + 2 < seg->n && seg->s[i + 1] == '4' &&
		     seg->s[i + 2] == '0'))
			return true;
	return false;
}

/* A JSON Web Token (JWS or JWE compact form): base64url parts joined by
 * '.', the first an encoded JSON object, so starting "eyJ" ('{"'). */
static bool is_jwt(const struct seg *seg)
{
	size_t dots = 0;

	if (seg->n < 20 || memcmp(seg->s, "eyJ", 3) != 0)
		return false;
	for (size_t i = 0; i < seg->n; i++) {
		if (seg->s[i] == '.')
			dots++;
		else if (!is_token_char(seg->s[i]))
			return false;
	}
	return dots >= 2;
}

/* What may identify a user or grant access: replaced in url.path too. */
static bool looks_secret(const struct seg *seg)
{
	return has_at(seg) || is_long_token(seg) || is_jwt(seg);
}

static bool looks_like_id(const struct seg *seg)
{
	return all_digits(seg) || is_uuid(seg) || is_hex_hash(seg) ||
	       looks_secret(seg);
}

/* --- output --- */

struct route_out {
	char *s;
	size_t size; /* of s, NUL included */
	size_t len;
};

/* Appends "/" + piece; leaves the output untouched if it does not fit. */
static bool out_piece(struct route_out *o, const char *piece, size_t n)
{
	if (o->len + 1 + n >= o->size)
		return false;
	o->s[o->len] = '/';
	memcpy(o->s + o->len + 1, piece, n);
	o->len += 1 + n;
	o->s[o->len] = '\0';
	return true;
}

/*
 * The route was cut (too deep, or too long for the output): drop whole
 * segments from the end until "/{rest}" fits after them, so a cut route
 * never passes for a shorter real one. With no room even for that, "/".
 */
static void out_rest(struct route_out *o)
{
	size_t rest_len = strlen(ROUTE_REST);

	while (o->len > 0 && o->len + rest_len >= o->size) {
		while (o->s[--o->len] != '/')
			;
	}
	if (o->len + rest_len < o->size)
		memcpy(o->s + o->len, ROUTE_REST, rest_len + 1);
	else if (o->size >= 2)
		memcpy(o->s, "/", 2);
	else
		o->s[0] = '\0';
	o->len = strlen(o->s);
}

/* A fixed route ("*", "{invalid}"): all or nothing. */
static size_t out_word(char *out, size_t out_size, const char *word)
{
	size_t n = strlen(word);

	if (n >= out_size) {
		out[0] = '\0';
		return 0;
	}
	memcpy(out, word, n + 1);
	return n;
}

/* A matched pattern, verbatim; cut at one of its own '/' if too long. */
static void out_pattern(struct route_out *o, const char *pattern)
{
	const char *p = pattern + 1; /* patterns start with '/' */

	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (!out_piece(o, p, n)) {
			out_rest(o);
			return;
		}
		if (!e)
			return;
		p = e + 1;
	}
}

static void out_heuristic(struct route_out *o, const char *path,
			  const char *end)
{
	struct seg_iter it = target_iter_init(path, end);
	struct seg seg;
	size_t depth = 0;

	while (seg_next(&it, &seg)) {
		if (seg.n > 0 && depth++ == ROUTE_SEGMENTS_MAX) {
			out_rest(o);
			return;
		}
		if (looks_like_id(&seg)) {
			seg.s = ROUTE_ID;
			seg.n = strlen(ROUTE_ID);
		}
		if (!out_piece(o, seg.s, seg.n)) {
			out_rest(o);
			return;
		}
	}
}

/* --- patterns --- */

static bool pattern_matches(const char *pattern, const char *path,
			    const char *end)
{
	struct seg_iter pit = seg_iter_init(pattern, pattern + strlen(pattern));
	struct seg_iter sit = target_iter_init(path, end);
	struct seg pseg, seg;

	while (seg_next(&pit, &pseg)) {
		if (seg_is(&pseg, "*")) /* validated to be the last segment */
			return true;
		if (!seg_next(&sit, &seg) || !seg_matches(&pseg, &seg))
			return false;
	}
	return !seg_next(&sit, &seg);
}

static bool has_unclosed_brace(const struct seg *seg)
{
	bool open = false;

	for (size_t i = 0; i < seg->n; i++) {
		if (seg->s[i] == '{')
			open = true;
		else if (seg->s[i] == '}')
			open = false;
	}
	return open;
}

static const char *pattern_check(const char *pattern)
{
	size_t len = strlen(pattern);
	struct seg_iter it = seg_iter_init(pattern, pattern + len);
	struct seg seg;
	bool star_seen = false;

	if (pattern[0] != '/')
		return "route pattern must start with '/'";
	if (len > ROUTE_MAX - 1)
		return "route pattern is too long";
	while (seg_next(&it, &seg)) {
		if (star_seen)
			return "'*' must be the last segment of a route pattern";
		star_seen = seg_is(&seg, "*");
		if (has_unclosed_brace(&seg))
			return "unclosed '{' in route pattern";
	}
	return NULL;
}

struct route_table *route_table_new(void)
{
	return calloc(1, sizeof(struct route_table));
}

void route_table_free(struct route_table *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		free(rt->patterns[i]);
	free(rt->patterns);
	free(rt);
}

int route_table_add(struct route_table *rt, const char *pattern,
		    const char **err)
{
	char *copy;

	*err = pattern_check(pattern);
	if (*err)
		return -EINVAL;
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? rt->cap * 2 : 8;
		char **p = realloc(rt->patterns, cap * sizeof(*p));

		if (!p)
			goto nomem;
		rt->patterns = p;
		rt->cap = cap;
	}
	copy = strdup(pattern);
	if (!copy)
		goto nomem;
	rt->patterns[rt->n++] = copy;
	return 0;
nomem:
	*err = "out of memory";
	return -ENOMEM;
}

/* --- targets --- */

/* Skips "scheme://authority" of an absolute-form target (RFC 9112 3.2.2);
 * returns where the path starts, or NULL if target is not absolute-form. */
static const char *skip_scheme_authority(const char *target)
{
	const char *p = target;

	if (!is_alpha(*p))
		return NULL;
	while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' ||
	       *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return NULL;
	return p + 3 + strcspn(p + 3, "/?#");
}

/* Request-targets are visible ASCII (RFC 9112 3.2); anything else would
 * also make an invalid (non-UTF-8, or control-character) label value. */
static bool path_bytes_ok(const char *path, const char *end)
{
	for (const char *p = path; p < end; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* The path of a target: origin-form as is, absolute-form after its scheme
 * and authority (userinfo included); NULL for any other form. */
static const char *target_path(const char *target)
{
	return target[0] == '/' ? target : skip_scheme_authority(target);
}

size_t route_url_path(const char *target, char *out, size_t out_size)
{
	const char *path, *end, *p, *e;
	struct seg seg;
	size_t len = 0, n;

	if (out_size == 0)
		return 0;
	out[0] = '\0';
	if (strcmp(target, "*") == 0)
		return out_word(out, out_size, "*");
	path = target_path(target);
	if (!path)
		return 0;
	end = path + strcspn(path, "?#");
	if (path == end) /* "http://host": the path is "/" (RFC 9110 4.2.3) */
		return out_word(out, out_size, "/");
	for (p = path; p < end; p = e) {
		if (*p == '/') {
			seg.s = "/";
			seg.n = 1;
			e = p + 1;
		} else {
			e = memchr(p, '/', (size_t)(end - p));
			if (!e)
				e = end;
			seg.s = p;
			seg.n = without_params(p, (size_t)(e - p));
			if (looks_secret(&seg)) {
				seg.s = URL_PATH_REDACTED;
				seg.n = strlen(URL_PATH_REDACTED);
			}
		}
		n = seg.n;
		if (len + n >= out_size)
			break; /* whole pieces only */
		memcpy(out + len, seg.s, n);
		len += n;
	}
	out[len] = '\0';
	return len;
}

/* rt may be NULL: no user patterns. An out_size too small for the route
 * leaves "/" (or "" when even that, "*" or "{invalid}" does not fit). */
size_t route_normalise(const struct route_table *rt, const char *target,
		       char *out, size_t out_size)
{
	struct route_out o = { .s = out, .size = out_size };
	const char *path, *end;

	if (out_size == 0)
		return 0;
	if (strcmp(target, "*") == 0)
		return out_word(out, out_size, "*");
	path = target_path(target);
	if (!path)
		return out_word(out, out_size, ROUTE_INVALID);
	end = path + strcspn(path, "?#");
	if (!path_bytes_ok(path, end))
		return out_word(out, out_size, ROUTE_INVALID);
	if (path == end) { /* "http://host" or "http://host?q" */
		path = "/";
		end = path + 1;
	}

	out[0] = '\0';
	for (size_t i = 0; rt && i < rt->n; i++) {
		if (pattern_matches(rt->patterns[i], path, end)) {
			out_pattern(&o, rt->patterns[i]);
			return o.len;
		}
	}
	out_heuristic(&o, path, end);
	return o.len;
}
