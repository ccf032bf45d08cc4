// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text that leaves podtap: valid UTF-8, no control or bidirectional
 * formatting characters, bounded. See sanitize.h for the rule.
 */
#include <stdint.h>
#include <string.h>

#include "lib/sanitize.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define ESCAPE_LEN 6               /* "\u001b" */

/*
 * Decodes the character at s[0..n) (n >= 1). Returns its length and sets
 * *cp, or returns the length of the maximal ill-formed subpart there (the
 * longest prefix of a well-formed sequence, at least one byte) and sets
 * *cp to -1.
 */
static size_t decode(const unsigned char *s, size_t n, int32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;
	int32_t c;

	*cp = -1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 1; /* a continuation byte, C0, C1 or F5..FF */
	}
	for (i = 1; i < len; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return i;
		c = (c << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	return len;
}

static bool must_escape(int32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

bool sanitize_is_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	int32_t cp;

	if (len > SANITIZE_MAX)
		return false;
	while (i < len) {
		/* Printable ASCII, the common case, one byte at a time. */
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			i++;
			continue;
		}
		n = decode(p + i, len - i, &cp);
		if (cp < 0 || must_escape(cp))
			return false;
		i += n;
	}
	return true;
}

size_t sanitize_text(const char *in, size_t len, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, n, cap;
	int32_t cp;

	if (out_size == 0)
		return 0;
	cap = out_size - 1 < SANITIZE_MAX ? out_size - 1 : SANITIZE_MAX;
	while (i < len) {
		/* A run of printable ASCII, the common case (every route and
		 * host of every exchange goes through here), in one copy. */
		for (n = 0; i + n < len && p[i + n] >= 0x20 && p[i + n] < 0x7f;)
			n++;
		if (n) {
			if (o + n > cap)
				n = cap - o;
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			if (o == cap)
				break;
			continue;
		}
		n = decode(p + i, len - i, &cp);
		if (cp < 0) {
			if (o + 3 > cap)
				break;
			memcpy(out + o, REPLACEMENT, 3);
			o += 3;
		} else if (must_escape(cp)) {
			if (o + ESCAPE_LEN > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = hex[(cp >> 12) & 0xf];
			out[o++] = hex[(cp >> 8) & 0xf];
			out[o++] = hex[(cp >> 4) & 0xf];
			out[o++] = hex[cp & 0xf];
		} else {
			if (o + n > cap)
				break;
			memcpy(out + o, p + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return o;
}

void sanitize_field(char *buf, size_t size)
{
	char tmp[SANITIZE_MAX + 1];
	size_t len, n;

	if (!size)
		return;
	len = strnlen(buf, size - 1);
	buf[len] = '\0';
	if (sanitize_is_clean(buf, len))
		return;
	n = sanitize_text(buf, len, tmp, size < sizeof(tmp) ? size : sizeof(tmp));
	memcpy(buf, tmp, n + 1);
}
