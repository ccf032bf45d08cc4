// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/sanitize.h"

#define FFFD "\xef\xbf\xbd"

/* The sanitised form of in[0..len), into a buffer as large as any. */
static const char *san_n(const char *in, size_t len)
{
	static char out[SANITIZE_MAX + 1];
	size_t n = sanitize_text(in, len, out, sizeof(out));

	CHECK_INT(n, strlen(out));
	return out;
}

static const char *san(const char *in)
{
	return san_n(in, strlen(in));
}

static bool clean(const char *s)
{
	return sanitize_is_clean(s, strlen(s));
}

static void test_kept(void)
{
	CHECK_STR(san(""), "");
	CHECK_STR(san("GET /users/{id}"), "GET /users/{id}");
	CHECK_STR(san("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
	/* backslashes, quotes and text that looks like an escape are text */
	CHECK_STR(san("a\\b \"c\" \\u001b"), "a\\b \"c\" \\u001b");
	/* format characters that are not bidirectional controls stay:
	 * U+200B, U+FEFF, and a noncharacter U+FFFF; U+00A0 is no control */
	CHECK_STR(san("\xe2\x80\x8b\xef\xbb\xbf\xef\xbf\xbf\xc2\xa0"),
		  "\xe2\x80\x8b\xef\xbb\xbf\xef\xbf\xbf\xc2\xa0");
	CHECK(clean("caf\xc3\xa9 \xf0\x9d\x84\x9e \\u0000"));
	CHECK(clean(""));
}

/* Each maximal ill-formed subpart is one U+FFFD (Unicode 3.9, table 3-8
 * and the examples around it). */
static void test_invalid_utf8(void)
{
	CHECK_STR(san("\xff"), FFFD);
	CHECK_STR(san("a\x80" "b"), "a" FFFD "b");
	CHECK_STR(san("caf\xe9.example"), "caf" FFFD ".example");
	CHECK_STR(san("\xc0\xaf"), FFFD FFFD);            /* overlong '/' */
	CHECK_STR(san("\xe0\x80\xaf"), FFFD FFFD FFFD);    /* overlong */
	CHECK_STR(san("\xed\xa0\x80"), FFFD FFFD FFFD);    /* surrogate */
	CHECK_STR(san("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD); /* >10FFFF */
	CHECK_STR(san("\xf5\xf8\xfe"), FFFD FFFD FFFD);
	/* a sequence cut short is one subpart */
	CHECK_STR(san("\xe2\x82"), FFFD);
	CHECK_STR(san("\xe2\x82" "A"), FFFD "A");
	CHECK_STR(san("\xf0\x9f\x98"), FFFD);
	CHECK_STR(san("\xf0\x9f\x98\xc3\xa9"), FFFD "\xc3\xa9");
	CHECK_STR(san("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64"),
		  "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
	CHECK(!clean("\xff"));
	CHECK(!clean("\xe2\x82"));
	CHECK(!clean("ok\xc0\xaf"));
}

static void test_controls(void)
{
	CHECK_STR(san_n("a\0b", 3), "a\\u0000b");
	CHECK_STR(san("\x01\t\n\r\x1b[31m\x7f"),
		  "\\u0001\\u0009\\u000a\\u000d\\u001b[31m\\u007f");
	CHECK_STR(san("\xc2\x85\xc2\x9f"), "\\u0085\\u009f"); /* C1 */
	/* line and paragraph separators, bidirectional controls */
	CHECK_STR(san("\xe2\x80\xa8\xe2\x80\xa9"), "\\u2028\\u2029");
	CHECK_STR(san("a\xe2\x80\xaeinnocent.txt"), "a\\u202einnocent.txt");
	CHECK_STR(san("\xd8\x9c\xe2\x80\x8e\xe2\x80\x8f\xe2\x80\xaa\xe2\x81\xa6"
		      "\xe2\x81\xa9"),
		  "\\u061c\\u200e\\u200f\\u202a\\u2066\\u2069");
	CHECK(!clean("a\tb"));
	CHECK(!clean("\xe2\x80\xae"));
	CHECK(!sanitize_is_clean("a\0b", 3));
}

static void test_length(void)
{
	char in[3 * SANITIZE_MAX], out[SANITIZE_MAX + 1], small[8];
	size_t n;

	memset(in, 'a', sizeof(in));
	CHECK_INT(strlen(san_n(in, sizeof(in))), SANITIZE_MAX);
	CHECK(sanitize_is_clean(in, SANITIZE_MAX));
	CHECK(!sanitize_is_clean(in, SANITIZE_MAX + 1));
	/* never cut inside a character, a U+FFFD or an escape */
	memcpy(in + SANITIZE_MAX - 1, "\xc3\xa9", 2);
	CHECK_INT(strlen(san_n(in, SANITIZE_MAX + 1)), SANITIZE_MAX - 1);
	memcpy(in + SANITIZE_MAX - 2, "\xff", 1);
	CHECK_INT(strlen(san_n(in, SANITIZE_MAX + 1)), SANITIZE_MAX - 2);
	memset(in, 'a', sizeof(in));
	in[SANITIZE_MAX - 3] = '\xff';
	CHECK_INT(strlen(san_n(in, SANITIZE_MAX + 1)), SANITIZE_MAX);
	in[SANITIZE_MAX - 5] = '\x1b';
	n = sanitize_text(in, SANITIZE_MAX + 1, out, sizeof(out));
	CHECK_INT(n, SANITIZE_MAX - 5);
	/* a smaller buffer cuts the same way */
	n = sanitize_text("ab\xc3\xa9", 4, small, 4);
	CHECK_STR(small, "ab");
	CHECK_INT(n, 2);
	n = sanitize_text("ab\xc3\xa9", 4, small, 5);
	CHECK_STR(small, "ab\xc3\xa9");
	n = sanitize_text("a\x01", 2, small, 7);
	CHECK_STR(small, "a");
	n = sanitize_text("a\x01", 2, small, 8);
	CHECK_STR(small, "a\\u0001");
	n = sanitize_text("abc", 3, small, 1);
	CHECK_STR(small, "");
	CHECK_INT(n, 0);
	small[0] = 'x';
	CHECK_INT(sanitize_text("abc", 3, small, 0), 0);
	CHECK_INT(small[0], 'x');
}

static void test_field(void)
{
	char comm[16] = "a\xff" "b\x1b";
	char name[8] = "ab\xe2\x80\xae";
	char full[4] = { 'a', 'b', 'c', 'd' }; /* no NUL in it */
	char ok[16] = "web-1";

	sanitize_field(comm, sizeof(comm));
	CHECK_STR(comm, "a" FFFD "b\\u001b");
	sanitize_field(name, sizeof(name)); /* "ab\u202e" needs 9 bytes */
	CHECK_STR(name, "ab");
	sanitize_field(full, sizeof(full));
	CHECK_STR(full, "abc");
	sanitize_field(ok, sizeof(ok));
	CHECK_STR(ok, "web-1");
	sanitize_field(ok, 0); /* nothing to do, nothing touched */
	CHECK_STR(ok, "web-1");
}

/* An independent reading of the rule's output: well-formed UTF-8 (decoded
 * the slow way, by ranges of code points), none of the escaped characters,
 * at most `cap` bytes. */
static bool well_formed(const unsigned char *s, size_t len, size_t cap)
{
	size_t i = 0;

	if (len > cap)
		return false;
	while (i < len) {
		uint32_t cp, min;
		size_t n;

		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
			min = 0;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			n = 2;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			n = 3;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07;
			n = 4;
			min = 0x10000;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x61c ||
		    cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
		    cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return false;
		i += n;
	}
	return true;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes biased toward UTF-8 lead and continuation bytes, controls
 * and the three-byte controls' leads. */
static size_t random_bytes(unsigned char *buf, size_t cap)
{
	static const unsigned char pool[] = {
		'a', '\\', 'u', '0', 0x00, 0x01, 0x1b, 0x7f, 0x80, 0x85, 0x9f,
		0xa0, 0xa8, 0xae, 0xbf, 0xc2, 0xc3, 0xd8, 0x9c, 0xe0, 0xe2,
		0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	size_t len = rng() % cap;

	for (size_t i = 0; i < len; i++)
		buf[i] = rng() % 3 ? pool[rng() % sizeof(pool)]
				   : (unsigned char)rng();
	return len;
}

static void test_fuzz(void)
{
	unsigned char in[3000];
	char full[SANITIZE_MAX + 1], again[SANITIZE_MAX + 1];
	int bad = 0, unclean = 0, not_fixed = 0, not_prefix = 0, overflow = 0;
	int cut = 0, escaped = 0, replaced = 0; /* the fuzz reaches each */

	for (int i = 0; i < 100000; i++) {
		size_t len = random_bytes(in, i % 64 ? 80 : sizeof(in));
		size_t size = rng() % 4 ? sizeof(full) : rng() % 40;
		char *out = malloc(size + 1);
		size_t n, m;

		n = sanitize_text((const char *)in, len, full, sizeof(full));
		if (!well_formed((const unsigned char *)full, n, SANITIZE_MAX))
			bad++;
		if (!sanitize_is_clean(full, n))
			unclean++;
		m = sanitize_text(full, n, again, sizeof(again));
		if (m != n || memcmp(full, again, n))
			not_fixed++;
		/* a smaller buffer holds a prefix of the same form */
		out[size] = '\x5a';
		m = sanitize_text((const char *)in, len, out, size);
		if (out[size] != '\x5a')
			overflow++;
		if (size && (m > n || memcmp(out, full, m) || out[m] != '\0'))
			not_prefix++;
		cut += size && m < n;
		escaped += strstr(full, "\\u00") != NULL;
		replaced += strstr(full, FFFD) != NULL;
		free(out);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(unclean, 0);
	CHECK_INT(not_fixed, 0);
	CHECK_INT(not_prefix, 0);
	CHECK_INT(overflow, 0);
	CHECK(cut > 1000 && escaped > 10000 && replaced > 10000);
}

int main(void)
{
	RUN(test_kept);
	RUN(test_invalid_utf8);
	RUN(test_controls);
	RUN(test_length);
	RUN(test_field);
	RUN(test_fuzz);
	return check_summary("sanitize");
}
