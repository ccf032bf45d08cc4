// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.x head syntax (model in http_head.h). */
#include "http/http_head.h"

#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the word-at-a-time scans read bytes in little-endian order");

/* Decimal digits in a Content-Length: 18 keep it below 10^18. */
#define LENGTH_DIGITS_MAX 18

#define TRACE_HEADER(name) { name, sizeof(name) - 1 }
static const struct {
	const char *name;
	size_t len;
} trace_header_names[TRACE_HEADERS] = {
	TRACE_HEADER("host"), TRACE_HEADER("user-agent"),
	TRACE_HEADER("traceparent"), TRACE_HEADER("b3"),
	TRACE_HEADER("x-b3-traceid"), TRACE_HEADER("x-b3-spanid"),
	TRACE_HEADER("x-b3-sampled"), TRACE_HEADER("x-b3-flags"),
};


/* ---- characters ---- */

/* RFC 9110 tchar: the bytes of a method and of a field name. */
static const bool tchar[256] = {
	['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true,
	['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true,
	['\''] = true, ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true,
	['^'] = true, ['_'] = true, ['`'] = true, ['|'] = true, ['~'] = true,
};

static bool is_tchar(uint8_t c)
{
	return tchar[c];
}

static bool is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

bool head_is_value_ctl(uint8_t c)
{
	return is_ctl(c) && c != '\t';
}

/*
 * The first byte of [p, e) below 0x20 or 0x7f, or e. Eight bytes at a
 * time (values are most of a head's bytes), by the classic "has a byte
 * less than n" and "has a zero byte" tests.
 */
static const uint8_t *next_ctl(const uint8_t *p, const uint8_t *e)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;

	for (; e - p >= 8; p += 8) {
		uint64_t x, del, hit;

		memcpy(&x, p, sizeof(x));
		del = x ^ (0x7f * ones);
		/* Borrows only run upwards: the lowest flagged byte is a
		 * real one (little endian: the first in memory). */
		hit = ((x - 0x20 * ones) & ~x & highs) |
		      ((del - ones) & ~del & highs);
		if (hit)
			return p + (__builtin_ctzll(hit) >> 3);
	}
	for (; p < e; p++)
		if (is_ctl(*p))
			return p;
	return e;
}

/* The first control byte of [p, e) other than HTAB, or e. */
static const uint8_t *next_value_ctl(const uint8_t *p, const uint8_t *e)
{
	p = next_ctl(p, e);
	while (p < e && *p == '\t')
		p = next_ctl(p + 1, e);
	return p;
}

static bool has_ctl(const uint8_t *p, const uint8_t *e)
{
	return next_value_ctl(p, e) < e;
}

/*
 * s[0, n) is lit (of length n, made of a-z, 0-9 and '-'), in any case.
 * Setting bit 5 lowers a letter and keeps a digit or '-'; the only other
 * bytes it maps onto those are control bytes (0x0d to '-', 0x10..0x19 to
 * digits), and s is a field name (tchars) or a value without control
 * bytes. Eight bytes at a time.
 */
static bool eq_nocase_n(const uint8_t *s, size_t n, const char *lit)
{
	const uint64_t bit5 = 0x2020202020202020ULL;
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t a, b;

		memcpy(&a, s + i, sizeof(a));
		memcpy(&b, lit + i, sizeof(b));
		if ((a | bit5) != b)
			return false;
	}
	for (; i < n; i++)
		if ((s[i] | 0x20) != (uint8_t)lit[i])
			return false;
	return true;
}

/* s[0, n) is the string literal lit, in any case. */
#define eq_nocase(s, n, lit) \
	((n) == sizeof(lit) - 1 && eq_nocase_n((s), (n), (lit)))

/* ---- start-line scanner ---- */

/*
 * A resync guess must start with one of these. Body bytes at a syscall
 * boundary ("hello world ...") are then not taken for a request, and a
 * guess that began on body bytes ("xy" + "GET / ...") fails at its first
 * byte instead of swallowing the real request that follows.
 */
static const char *const common_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE",
	"CONNECT", "OPTIONS", "TRACE", "PATCH",
};
#define N_COMMON (sizeof(common_methods) / sizeof(common_methods[0]))
#define ALL_COMMON ((1u << N_COMMON) - 1)

/* Keeps the common methods whose byte i is c. A method still in the set
 * matched bytes 0..i-1, so it has at least i bytes and [i] is in bounds. */
static uint16_t narrow_methods(uint16_t set, size_t i, uint8_t c)
{
	for (size_t m = 0; m < N_COMMON; m++)
		if ((set & (1u << m)) && (uint8_t)common_methods[m][i] != c)
			set &= ~(1u << m);
	return set;
}

static bool common_method_is(uint16_t set, size_t len)
{
	for (size_t m = 0; m < N_COMMON; m++)
		if ((set & (1u << m)) && strlen(common_methods[m]) == len)
			return true;
	return false;
}

void head_scan_begin(struct head_scan *s, bool request, bool known_only)
{
	*s = (struct head_scan){
		.phase = request ? SC_METHOD : SC_VERSION,
		.request = request,
		.known_only = known_only,
		.methods = ALL_COMMON,
	};
}

bool head_starts_common_method(const uint8_t *p, size_t n)
{
	for (size_t m = 0; m < N_COMMON; m++) {
		size_t len = strlen(common_methods[m]);

		if (n > len && !memcmp(p, common_methods[m], len) &&
		    p[len] == ' ')
			return true;
	}
	return false;
}

static enum scan_result next_field(struct head_scan *s, enum scan_phase phase)
{
	s->phase = phase;
	s->n = 0;
	return SCAN_MORE;
}

/* CRLF or a bare LF ends the start line. */
static enum scan_result end_of_line(struct head_scan *s, uint8_t c)
{
	if (c == '\r') {
		s->phase = SC_LINE_LF;
		return SCAN_MORE;
	}
	if (c != '\n')
		return SCAN_BAD;
	s->phase = SC_FIELD_START;
	return SCAN_LINE;
}

static enum scan_result scan_method(struct head_scan *s, uint8_t c)
{
	if (c == ' ') {
		if (!s->n || (s->known_only && !common_method_is(s->methods, s->n)))
			return SCAN_BAD;
		return next_field(s, SC_TARGET);
	}
	if (!is_tchar(c) || s->n == HTTP_METHOD_MAX - 1)
		return SCAN_BAD;
	if (s->known_only) {
		s->methods = narrow_methods(s->methods, s->n, c);
		if (!s->methods)
			return SCAN_BAD;
	}
	s->n++;
	return SCAN_MORE;
}

/* "HTTP/1.0" or "HTTP/1.1", then the end of a request line or the space
 * before a status code. */
static enum scan_result scan_version(struct head_scan *s, uint8_t c)
{
	static const char prefix[] = "HTTP/1.";

	if (s->n < sizeof(prefix) - 1) {
		if (c != (uint8_t)prefix[s->n])
			return SCAN_BAD;
		s->n++;
		return SCAN_MORE;
	}
	if (s->n == sizeof(prefix) - 1) {
		if (c != '0' && c != '1')
			return SCAN_BAD;
		s->n++;
		return SCAN_MORE;
	}
	if (s->request)
		return end_of_line(s, c);
	return c == ' ' ? next_field(s, SC_CODE) : SCAN_BAD;
}

enum scan_result head_scan_byte(struct head_scan *s, uint8_t c)
{
	switch (s->phase) {
	case SC_METHOD:
		return scan_method(s, c);
	case SC_TARGET:
		if (c == ' ' && s->n)
			return next_field(s, SC_VERSION);
		if (c <= ' ' || c == 0x7f)
			return SCAN_BAD;
		s->n = 1; /* not empty */
		return SCAN_MORE;
	case SC_VERSION:
		return scan_version(s, c);
	case SC_CODE:
		if (s->n < 3) {
			/* 100..599 */
			if (c < (s->n ? '0' : '1') || c > (s->n ? '9' : '5'))
				return SCAN_BAD;
			s->n++;
			return SCAN_MORE;
		}
		return c == ' ' ? next_field(s, SC_REASON) : end_of_line(s, c);
	case SC_REASON:
		if (c == '\r' || c == '\n')
			return end_of_line(s, c);
		return head_is_value_ctl(c) ? SCAN_BAD : SCAN_MORE;
	case SC_LINE_LF:
		return c == '\n' ? end_of_line(s, c) : SCAN_BAD;
	case SC_FIELD_START:
		if (c == '\n')
			return SCAN_DONE;
		s->phase = c == '\r' ? SC_END_LF : SC_FIELD;
		return SCAN_MORE;
	case SC_FIELD:
		if (c == '\n')
			s->phase = SC_FIELD_START;
		return SCAN_MORE;
	case SC_END_LF:
		return c == '\n' ? SCAN_DONE : SCAN_BAD;
	}
	return SCAN_BAD;
}

/* ---- head parsing (once the scanner found its end) ---- */

static void trim_ows(const uint8_t **b, const uint8_t **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* Next element of a comma-separated value, without OWS or ";" parameters;
 * false when none is left. */
static bool list_next(const uint8_t **p, const uint8_t *end,
		      const uint8_t **el, size_t *len)
{
	while (*p < end) {
		const uint8_t *b = *p;
		const uint8_t *stop = memchr(b, ',', end - b);
		const uint8_t *e;

		if (!stop)
			stop = end;
		*p = stop < end ? stop + 1 : end;
		e = memchr(b, ';', stop - b);
		if (!e)
			e = stop;
		trim_ows(&b, &e);
		if (b < e) {
			*el = b;
			*len = e - b;
			return true;
		}
	}
	return false;
}

static bool parse_length(const uint8_t *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (!n || n > LENGTH_DIGITS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

/* The first value of each trace header wins (B3's rule); a repeated
 * traceparent is counted, since W3C says to ignore it then. */
static void keep_trace_header(struct head_info *hi, const uint8_t *name,
			      size_t name_len, const uint8_t *v,
			      const uint8_t *ve)
{
	for (int h = 0; h < TRACE_HEADERS; h++) {
		if (name_len != trace_header_names[h].len ||
		    !eq_nocase_n(name, name_len, trace_header_names[h].name))
			continue;
		if (h == TH_TRACEPARENT)
			hi->traceparent_count++;
		if (!hi->headers[h].p) {
			hi->headers[h].p = v;
			hi->headers[h].len = ve - v;
		}
		return;
	}
}

/* What the field named name[0, name_len) with the value [v, ve) (OWS
 * trimmed, no control byte but HTAB) says; false if it cannot be right.
 * The headers traces read are kept from requests only. */
static bool field_value(struct head_info *hi, bool request,
			const uint8_t *name, size_t name_len, const uint8_t *v,
			const uint8_t *ve)
{
	const uint8_t *el;
	size_t len;
	uint64_t n;

	if (eq_nocase(name, name_len, "content-length")) {
		if (!parse_length(v, ve - v, &n) ||
		    (hi->has_length && hi->length != n))
			return false;
		hi->has_length = true;
		hi->length = n;
	} else if (eq_nocase(name, name_len, "transfer-encoding")) {
		hi->has_te = true;
		while (list_next(&v, ve, &el, &len))
			hi->chunked = eq_nocase(el, len, "chunked");
	} else if (eq_nocase(name, name_len, "connection")) {
		while (list_next(&v, ve, &el, &len))
			if (eq_nocase(el, len, "close"))
				hi->close = true;
	} else if (request) {
		keep_trace_header(hi, name, name_len, v, ve);
	}
	return true;
}

/* The end of a field name that starts at line: tchars up to the colon,
 * which it returns; NULL if there is no such name before e. That also
 * rejects obsolete line folding (a line starting with SP or HTAB) and
 * "Name : value", which RFC 9112 says to reject. */
static const uint8_t *field_colon(const uint8_t *line, const uint8_t *e)
{
	const uint8_t *colon = line;

	while (colon < e && is_tchar(*colon))
		colon++;
	return colon < e && *colon == ':' && colon > line ? colon : NULL;
}

/* One "name: value" line, eol excluded. */
static bool parse_field(const uint8_t *line, const uint8_t *eol,
			bool request, struct head_info *hi)
{
	const uint8_t *colon = field_colon(line, eol);
	const uint8_t *v, *ve;

	if (!colon)
		return false;
	v = colon + 1;
	ve = eol;
	trim_ows(&v, &ve);
	if (has_ctl(v, ve))
		return false;
	return field_value(hi, request, line, colon - line, v, ve);
}

/*
 * Parses a complete head. The scanner already checked the start line, and
 * that every line, the last one empty, ends in LF.
 */
bool head_parse(const uint8_t *h, size_t len, bool request,
		struct head_info *hi)
{
	const uint8_t *end = h + len;
	const uint8_t *p = (const uint8_t *)memchr(h, '\n', len) + 1;

	memset(hi, 0, sizeof(*hi));
	if (request) {
		const uint8_t *sp1 = memchr(h, ' ', len);
		const uint8_t *sp2 = memchr(sp1 + 1, ' ', end - sp1 - 1);

		hi->method = h;
		hi->method_len = sp1 - h;
		hi->target = sp1 + 1;
		hi->target_len = sp2 - sp1 - 1;
	} else {
		/* "HTTP/1.x NNN" */
		hi->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 +
			     (h[11] - '0');
	}
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', end - p);
		const uint8_t *eol = nl > p && nl[-1] == '\r' ? nl - 1 : nl;

		if (eol == p)
			break; /* the empty line */
		if (!parse_field(p, eol, request, hi))
			return false;
		p = nl + 1;
	}
	/* A request whose last coding is not chunked has no knowable
	 * length (RFC 9112 6.3); a response then runs until close. */
	return !(request && hi->has_te && !hi->chunked);
}

/* ---- a whole head in one pass ---- */

/* The end of the line whose remaining bytes start at p: the byte after its
 * LF, if only CRLF or LF follows; else NULL. */
static const uint8_t *line_end(const uint8_t *p, const uint8_t *e)
{
	if (p < e && *p == '\n')
		return p + 1;
	if (e - p >= 2 && p[0] == '\r' && p[1] == '\n')
		return p + 2;
	return NULL;
}

/* "HTTP/1.0" or "HTTP/1.1" at p: the byte after it, or NULL. */
static const uint8_t *version(const uint8_t *p, const uint8_t *e)
{
	static const char prefix[] = "HTTP/1.";

	if (e - p < (ptrdiff_t)sizeof(prefix) ||
	    memcmp(p, prefix, sizeof(prefix) - 1))
		return NULL;
	p += sizeof(prefix) - 1;
	return *p == '0' || *p == '1' ? p + 1 : NULL;
}

/* The request line at p (the scanner's rules): the byte after its LF. */
static const uint8_t *request_line(const uint8_t *p, const uint8_t *e,
				   struct head_info *hi)
{
	const uint8_t *q = p, *t;

	while (q < e && is_tchar(*q))
		q++;
	if (q == e || *q != ' ' || q == p || q - p > HTTP_METHOD_MAX - 1)
		return NULL;
	hi->method = p;
	hi->method_len = q - p;
	t = ++q;
	while (q < e && *q > ' ' && *q != 0x7f)
		q++;
	if (q == e || *q != ' ' || q == t)
		return NULL;
	hi->target = t;
	hi->target_len = q - t;
	q = version(q + 1, e);
	return q ? line_end(q, e) : NULL;
}

/* The status line at p: "HTTP/1.x NNN", a reason or none, the line end. */
static const uint8_t *status_line(const uint8_t *p, const uint8_t *e,
				  struct head_info *hi)
{
	const uint8_t *q = version(p, e);

	if (!q || e - q < 4 || q[0] != ' ' || q[1] < '1' || q[1] > '5' ||
	    q[2] < '0' || q[2] > '9' || q[3] < '0' || q[3] > '9')
		return NULL;
	hi->status = (q[1] - '0') * 100 + (q[2] - '0') * 10 + (q[3] - '0');
	q += 4;
	if (q < e && *q == ' ')
		q = next_value_ctl(q + 1, e);
	return line_end(q, e);
}

size_t head_parse_whole(const uint8_t *p, size_t n, bool request,
			struct head_info *hi)
{
	const uint8_t *e = p + n, *line, *end;

	memset(hi, 0, sizeof(*hi));
	line = request ? request_line(p, e, hi) : status_line(p, e, hi);
	if (!line)
		return 0;
	/* Each field line is read once: its name, then its value up to the
	 * first control byte but HTAB, which must end the line. */
	while (!(end = line_end(line, e))) {
		const uint8_t *colon = field_colon(line, e);
		const uint8_t *v, *ve, *next;

		if (!colon)
			return 0;
		v = colon + 1;
		ve = next_value_ctl(v, e);
		next = line_end(ve, e);
		if (!next)
			return 0;
		trim_ows(&v, &ve);
		if (!field_value(hi, request, line, colon - line, v, ve))
			return 0;
		line = next;
	}
	/* As head_parse: a request whose last coding is not chunked. */
	if (request && hi->has_te && !hi->chunked)
		return 0;
	return end - p;
}
