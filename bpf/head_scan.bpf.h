/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's own look at an HTTP/1.x request head, for trace context
 * (trace_ctx.bpf.h, podtap_inject.bpf.c): where its request line and its
 * head end, how long its body is, and whether it carries a trace header.
 * One LF per bpf_loop step, so that the verifier walks a line's work once,
 * whatever the head's length (Linux 5.17+). Anything it cannot follow (a
 * bare LF, a request line without HTTP/1.x, a Transfer-Encoding, two
 * Content-Lengths) is `unframed`: the caller leaves the request alone.
 */
#ifndef PODTAP_HEAD_SCAN_BPF_H
#define PODTAP_HEAD_SCAN_BPF_H

/* At most this many bytes of a head are looked at; the buffer holds at
 * least HEAD_SCAN_BUF (indexes are masked with the first, and words of 8
 * bytes read from them). Power of two. */
#define HEAD_SCAN_MAX_BYTES 4096
#define HEAD_SCAN_BUF (HEAD_SCAN_MAX_BYTES + 8)

/* Eight bytes as one little-endian word, to compare a field name 8 bytes
 * at a time: the verifier walks one branch, not one per letter. */
#define W8(a, b, c, d, e, f, g, h)                                          \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |             \
	 (__u64)(h) << 56)
/* ASCII letters to lower case; ':', '-', '/', '.', ' ' and digits stay. */
#define LOWER8 0x2020202020202020ULL

struct head_scan {
	const __u8 *buf;  /* the head's first bytes (HEAD_SCAN_BUF of room) */
	__u32 n;          /* how many */
	__u32 line;       /* start of the current line */
	__u32 first_end;  /* after the request line's CRLF; 0: not yet */
	__u32 head_end;   /* after the blank line; 0: not found */
	__u64 length;     /* Content-Length */
	/* Flags as bytes, not bool: the callback must be seen to return 0
	 * or 1, and a bool's byte would be returned as loaded. */
	__u8 has_length;
	__u8 unframed;    /* Transfer-Encoding, or two Content-Lengths */
	__u8 has_context; /* traceparent, b3 or X-B3-TraceId */
	__u8 traceparents;/* how many traceparent fields */
	__u8 lengths;     /* how many Content-Length fields */
	__u32 tp_at;      /* the (last) traceparent's value, after its colon */
	__u32 tp_end;     /* ... to its line's LF */
	__u32 cl_at;      /* the Content-Length's value, likewise */
	__u32 cl_end;
};

static __always_inline __u8 at(const __u8 *h, __u32 i)
{
	return h[i & (HEAD_SCAN_MAX_BYTES - 1)];
}

/* The 8 bytes at h[i], letters in lower case; `keep` bytes of them. */
static __always_inline __u64 word(const __u8 *h, __u32 i, int keep)
{
	__u64 w = *(const __u64 *)(h + (i & (HEAD_SCAN_MAX_BYTES - 1)));

	w |= LOWER8;
	return keep >= 8 ? w : w & ((1ULL << (8 * keep)) - 1);
}

/* The value of a Content-Length field from h[i] to the line's end: spaces,
 * then its digits (two loops, one path through each: the verifier walks
 * them in a line rather than in every combination). */
static __always_inline void content_length(struct head_scan *s)
{
	const __u8 *h = s->buf;
	__u32 i = s->cl_at, end = s->cl_end;
	__u64 v = 0;
	__u32 d;

	if (s->lengths > 1) {
		s->unframed = 1;
		return;
	}
	for (__u32 k = 0; k < 8 && i < end; k++) {
		__u8 c = at(h, i);

		if (c != ' ' && c != '\t')
			break;
		i++;
	}
	for (d = 0; d < 19 && i + d < end; d++) {
		__u8 c = at(h, i + d);

		if (c < '0' || c > '9')
			break;
		v = v * 10 + (c - '0');
	}
	if (!d || d == 19) {
		s->unframed = 1;
		return;
	}
	s->length = v;
	s->has_length = 1;
}

/* The request line ends in " HTTP/1.x" before its CR at cr. */
static __always_inline bool http1_line(const __u8 *h, __u32 cr)
{
	return cr >= 10 &&
	       word(h, cr - 9, 8) == W8(' ', 'h', 't', 't', 'p', '/', '1', '.') &&
	       (at(h, cr - 1) == '0' || at(h, cr - 1) == '1');
}

/* One line of the head per LF: the request line, a field, or the end. */
static long scan_byte(__u64 i, void *ctx)
{
	struct head_scan *s = ctx;
	__u32 ls = s->line, end = (__u32)i;
	const __u8 *h = s->buf;

	if (i >= s->n)
		return 1;
	if (at(h, end) != '\n')
		return 0;
	s->line = end + 1;
	if (end == ls || at(h, end - 1) != '\r') {
		s->unframed = 1; /* a bare LF: not ours to judge */
		return 1;
	}
	if (!s->first_end) {
		if (!http1_line(h, end - 1)) {
			s->unframed = 1;
			return 1;
		}
		s->first_end = end + 1;
		return 0;
	}
	if (end == ls + 1) {
		s->head_end = end + 1;
		return 1;
	}
	switch (at(h, ls) | 0x20) {
	case 't':
		if (word(h, ls, 8) == W8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r') &&
		    word(h, ls + 8, 4) == W8('e', 'n', 't', ':', 0, 0, 0, 0)) {
			s->has_context = 1;
			s->traceparents++;
			s->tp_at = ls + 12;
			s->tp_end = end;
		} else if (word(h, ls, 8) == W8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
			   word(h, ls + 8, 8) == W8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
			   word(h, ls + 16, 2) == W8('g', ':', 0, 0, 0, 0, 0, 0)) {
			s->unframed = 1;
		}
		break;
	case 'b':
		if (word(h, ls, 3) == W8('b', '3', ':', 0, 0, 0, 0, 0))
			s->has_context = 1;
		break;
	case 'x':
		if (word(h, ls, 8) == W8('x', '-', 'b', '3', '-', 't', 'r', 'a') &&
		    word(h, ls + 8, 5) == W8('c', 'e', 'i', 'd', ':', 0, 0, 0))
			s->has_context = 1;
		break;
	case 'c':
		if (word(h, ls, 8) == W8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
		    word(h, ls + 8, 7) == W8('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
			s->lengths++;
			s->cl_at = ls + 15;
			s->cl_end = end;
		}
		break;
	}
	return s->unframed ? 1 : 0;
}

static __always_inline int hex_value(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from the 2n lower-case hex digits at h[i]; false if any is not
 * one. */
static __always_inline bool hex_bytes(const __u8 *h, __u32 i, __u8 *out,
				      __u32 n)
{
	for (__u32 b = 0; b < n; b++) {
		int hi = hex_value(at(h, i + 2 * b));
		int lo = hex_value(at(h, i + 2 * b + 1));

		if (hi < 0 || lo < 0)
			return false;
		out[b] = hi << 4 | lo;
	}
	return true;
}

/*
 * The one traceparent field the head has, if it is a version-00 value the
 * way W3C writes it ("00-" 32 hex "-" 16 hex "-" 2 hex, lower case, ids
 * not all zero), into trace_id, span_id and *flags. Anything else (another
 * version, two fields) is left to the daemon's parser.
 */
static __always_inline bool head_traceparent(const struct head_scan *s,
					     __u8 trace_id[16], __u8 span_id[8],
					     __u8 *flags)
{
	const __u8 *h = s->buf;
	__u32 i = s->tp_at;
	__u8 f[1], c;
	__u64 any = 0;

	if (s->traceparents != 1)
		return false;
	for (__u32 k = 0; k < 8 && i < s->tp_end; k++) {
		c = at(h, i);
		if (c != ' ' && c != '\t')
			break;
		i++;
	}
	if (i + 56 > s->tp_end || at(h, i) != '0' || at(h, i + 1) != '0' ||
	    at(h, i + 2) != '-' || at(h, i + 35) != '-' ||
	    at(h, i + 52) != '-')
		return false;
	c = at(h, i + 55);
	if (c != '\r' && c != ' ' && c != '\t')
		return false;
	if (!hex_bytes(h, i + 3, trace_id, 16) ||
	    !hex_bytes(h, i + 36, span_id, 8) || !hex_bytes(h, i + 53, f, 1))
		return false;
	for (int b = 0; b < 16; b++)
		any |= trace_id[b];
	if (!any)
		return false;
	any = 0;
	for (int b = 0; b < 8; b++)
		any |= span_id[b];
	*flags = f[0];
	return any != 0;
}

/* Scans buf[0, n) (n <= HEAD_SCAN_MAX_BYTES) into *s. */
static __always_inline void head_scan(struct head_scan *s, const __u8 *buf,
				      __u32 n)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->buf = buf;
	s->n = n;
	bpf_loop(n, scan_byte, s, 0);
	if (s->lengths && !s->unframed)
		content_length(s);
}

/* The whole head was there and its body's length is known. */
static __always_inline bool head_framed(const struct head_scan *s)
{
	return !s->unframed && s->head_end && s->first_end;
}

#endif /* PODTAP_HEAD_SCAN_BPF_H */
