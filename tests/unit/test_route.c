// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/route.h"

static const char *norm(const struct route_table *rt, const char *target)
{
	static char out[ROUTE_MAX];
	size_t n = route_normalise(rt, target, out, sizeof(out));

	CHECK_INT(n, strlen(out));
	return out;
}

/* "/s/s/.../s" with `n` copies of segment `s`, plus `tail`. */
static const char *repeat_path(int n, const char *s, const char *tail)
{
	static char buf[4096];

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		strcat(buf, "/");
		strcat(buf, s);
	}
	strcat(buf, tail);
	return buf;
}

static void test_heuristic_ids(void)
{
	CHECK_STR(norm(NULL, "/users/123"), "/users/{id}");
	CHECK_STR(norm(NULL, "/api/v1/users/42/orders/7"),
		  "/api/v1/users/{id}/orders/{id}");
	CHECK_STR(norm(NULL, "/0"), "/{id}");
	/* UUIDs, either case, digits or not */
	CHECK_STR(norm(NULL, "/o/123e4567-e89b-12d3-a456-426614174000"),
		  "/o/{id}");
	CHECK_STR(norm(NULL, "/o/123E4567-E89B-12D3-A456-426614174000/x"),
		  "/o/{id}/x");
	CHECK_STR(norm(NULL, "/o/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
		  "/o/{id}");
	CHECK_STR(norm(NULL, "/o/123e4567-e89b-12d3-a456-42661417400g"),
		  "/o/{id}"); /* not a UUID, but a long token with digits */
	CHECK_STR(norm(NULL, "/o/123e4567_e89b_12d3"), "/o/123e4567_e89b_12d3");
	/* hex hashes and Mongo ids: >= 8 hex chars with a digit */
	CHECK_STR(norm(NULL, "/c/507f1f77bcf86cd799439011"), "/c/{id}");
	CHECK_STR(norm(NULL, "/c/deadbeef1"), "/c/{id}");
	CHECK_STR(norm(NULL, "/c/DEADBEEF01"), "/c/{id}");
	CHECK_STR(norm(NULL, "/c/abc12345"), "/c/{id}");
	CHECK_STR(norm(NULL, "/c/abc1234"), "/c/abc1234");   /* 7 chars */
	CHECK_STR(norm(NULL, "/c/deadbeef"), "/c/deadbeef"); /* no digit */
	CHECK_STR(norm(NULL, "/c/facade"), "/c/facade");
	/* long tokens with a digit */
	CHECK_STR(norm(NULL, "/t/eyJhbGciOiJIUzI1NiJ9"), "/t/{id}");
	CHECK_STR(norm(NULL, "/t/my-post-about-things-2"), "/t/{id}");
	CHECK_STR(norm(NULL, "/t/abcdefghijklmnopqr1"), /* 19 chars */
		  "/t/abcdefghijklmnopqr1");
	CHECK_STR(norm(NULL, "/t/abcdefghijklmnopqrs1"), "/t/{id}");
	CHECK_STR(norm(NULL, "/t/a_very_long_word_without_digits"),
		  "/t/a_very_long_word_without_digits");
	CHECK_STR(norm(NULL, "/t/abcdefghijklmnopqrs1.json"),
		  "/t/abcdefghijklmnopqrs1.json"); /* '.' is not a token char */
	/* words stay */
	CHECK_STR(norm(NULL, "/api/v1/2fa/oauth2/index.html"),
		  "/api/v1/2fa/oauth2/index.html");
	CHECK_STR(norm(NULL, "/items/123.json"), "/items/123.json");
	CHECK_STR(norm(NULL, "/-1"), "/-1");
	/* percent-encoding is left alone */
	CHECK_STR(norm(NULL, "/a%20b/caf%C3%A9/1%2F2"), "/a%20b/caf%C3%A9/1%2F2");
	/* "{id}" itself is not an id: normalising a route changes nothing */
	CHECK_STR(norm(NULL, "/users/{id}"), "/users/{id}");
}

static void test_slashes_query_fragment(void)
{
	CHECK_STR(norm(NULL, "/"), "/");
	CHECK_STR(norm(NULL, "//"), "/");
	CHECK_STR(norm(NULL, "/a//b"), "/a/b");
	CHECK_STR(norm(NULL, "///a///"), "/a/");
	CHECK_STR(norm(NULL, "/users/1/"), "/users/{id}/");
	CHECK_STR(norm(NULL, "/users/1?x=2&y=/3"), "/users/{id}");
	CHECK_STR(norm(NULL, "/users/1/?x"), "/users/{id}/");
	CHECK_STR(norm(NULL, "/a#frag/1"), "/a");
	CHECK_STR(norm(NULL, "/?q=1"), "/");
	CHECK_STR(norm(NULL, "/#f"), "/");
	/* only the path's bytes are checked; the query is dropped anyway */
	CHECK_STR(norm(NULL, "/ok?q=\xff \x01"), "/ok");
}

static void test_target_forms(void)
{
	CHECK_STR(norm(NULL, "http://example.com:8080/p?q=1"), "/p");
	CHECK_STR(norm(NULL, "https://user@h/users/9/x#f"), "/users/{id}/x");
	CHECK_STR(norm(NULL, "HTTP://h/A"), "/A");
	CHECK_STR(norm(NULL, "http://h"), "/");
	CHECK_STR(norm(NULL, "http://h?x=/1"), "/");
	CHECK_STR(norm(NULL, "http://h#/1"), "/");
	CHECK_STR(norm(NULL, "*"), "*");
	CHECK_STR(norm(NULL, "*x"), "{invalid}");
	CHECK_STR(norm(NULL, ""), "{invalid}");
	CHECK_STR(norm(NULL, "example.com:443"), "{invalid}"); /* CONNECT */
	CHECK_STR(norm(NULL, "users/1"), "{invalid}");
	CHECK_STR(norm(NULL, "http:/x"), "{invalid}");
	CHECK_STR(norm(NULL, "1http://h/x"), "{invalid}");
	CHECK_STR(norm(NULL, "?q"), "{invalid}");
	/* bytes a request-target cannot hold */
	CHECK_STR(norm(NULL, "/a b"), "{invalid}");
	CHECK_STR(norm(NULL, "/a\tb"), "{invalid}");
	CHECK_STR(norm(NULL, "/caf\xc3\xa9"), "{invalid}");
	CHECK_STR(norm(NULL, "/a\x7f"), "{invalid}");
	CHECK_STR(norm(NULL, "http://h/\x01"), "{invalid}");
}

static void test_depth(void)
{
	char want[512];

	/* 16 segments are kept, trailing slash included */
	strcpy(want, repeat_path(16, "a", ""));
	CHECK_STR(norm(NULL, repeat_path(16, "a", "")), want);
	strcpy(want, repeat_path(16, "a", "/"));
	CHECK_STR(norm(NULL, repeat_path(16, "a", "/")), want);
	CHECK_STR(norm(NULL, repeat_path(16, "1", "?x")),
		  repeat_path(16, "{id}", ""));
	/* the 17th and later become "{rest}" */
	strcpy(want, repeat_path(16, "a", "/{rest}"));
	CHECK_STR(norm(NULL, repeat_path(17, "a", "")), want);
	CHECK_STR(norm(NULL, repeat_path(17, "a", "/")), want);
	CHECK_STR(norm(NULL, repeat_path(40, "a", "")), want);
	/* empty segments do not count */
	CHECK_STR(norm(NULL, repeat_path(16, "/b", "//")),
		  repeat_path(16, "b", "/"));
}

static void test_length(void)
{
	char target[1024], out[16];
	size_t n;

	/* a segment that cannot fit is summarised, not silently dropped */
	strcpy(target, "/static/");
	memset(target + 8, 'a', 300);
	target[308] = '\0';
	CHECK_STR(norm(NULL, target), "/static/{rest}");

	/* exactly ROUTE_MAX - 1 bytes fit */
	target[0] = '/';
	memset(target + 1, 'a', ROUTE_MAX - 2);
	target[ROUTE_MAX - 1] = '\0';
	CHECK_INT(strlen(norm(NULL, target)), ROUTE_MAX - 1);
	CHECK_STR(norm(NULL, target), target);
	strcat(target, "a");
	CHECK_STR(norm(NULL, target), "/{rest}");

	/* small buffers: whole segments are dropped until "/{rest}" fits */
	n = route_normalise(NULL, "/abc/defg/hij", out, 14);
	CHECK_STR(out, "/abc/defg/hij");
	CHECK_INT(n, 13);
	n = route_normalise(NULL, "/abc/defg/hij", out, 13);
	CHECK_STR(out, "/abc/{rest}");
	CHECK_INT(n, 11);
	n = route_normalise(NULL, "/abc/defg/hij", out, 11);
	CHECK_STR(out, "/{rest}");
	n = route_normalise(NULL, "/abc/defg/hij", out, 7);
	CHECK_STR(out, "/");
	CHECK_INT(n, 1);
	n = route_normalise(NULL, "/abc", out, 1);
	CHECK_STR(out, "");
	CHECK_INT(n, 0);
	out[0] = 'x';
	CHECK_INT(route_normalise(NULL, "/abc", out, 0), 0);
	CHECK_INT(out[0], 'x');
	/* fixed words are all or nothing */
	n = route_normalise(NULL, "bad", out, 9);
	CHECK_STR(out, "");
	CHECK_INT(n, 0);
	n = route_normalise(NULL, "bad", out, 10);
	CHECK_STR(out, "{invalid}");
	CHECK_INT(n, 9);
	n = route_normalise(NULL, "*", out, 2);
	CHECK_STR(out, "*");
}

static void test_patterns(void)
{
	struct route_table *rt = route_table_new();
	const char *err = "unset";

	CHECK(rt != NULL);
	CHECK_INT(route_table_add(rt, "/users/{id}/profile", &err), 0);
	CHECK(err == NULL);
	CHECK_INT(route_table_add(rt, "/users/{user_id}/", &err), 0);
	CHECK_INT(route_table_add(rt, "/static/*", &err), 0);
	CHECK_INT(route_table_add(rt, "/files/{name}", &err), 0);
	CHECK_INT(route_table_add(rt, "/files/*", &err), 0);
	CHECK_INT(route_table_add(rt, "/a{b}c", &err), 0); /* literal */
	CHECK_INT(route_table_add(rt, "//health", &err), 0);

	CHECK_STR(norm(rt, "/users/alice/profile?tab=1"),
		  "/users/{id}/profile");
	CHECK_STR(norm(rt, "http://h/users/alice/profile"),
		  "/users/{id}/profile");
	/* segments must match exactly, trailing slash included */
	CHECK_STR(norm(rt, "/users/alice/profile/"), "/users/alice/profile/");
	CHECK_STR(norm(rt, "/users/alice"), "/users/alice");
	CHECK_STR(norm(rt, "/users/alice/"), "/users/{user_id}/");
	CHECK_STR(norm(rt, "/users//alice//"), "/users/{user_id}/");
	CHECK_STR(norm(rt, "/users/"), "/users/"); /* "{x}" needs a segment */
	CHECK_STR(norm(rt, "/Users/alice/profile"), "/Users/alice/profile");
	/* "*" matches zero or more segments, however deep */
	CHECK_STR(norm(rt, "/static"), "/static/*");
	CHECK_STR(norm(rt, "/static/"), "/static/*");
	CHECK_STR(norm(rt, "/static/js/app.1234abcd.js"), "/static/*");
	CHECK_STR(norm(rt, repeat_path(30, "static", "")), "/static/*");
	CHECK_STR(norm(rt, "/staticx/1"), "/staticx/{id}");
	/* first match wins */
	CHECK_STR(norm(rt, "/files/a"), "/files/{name}");
	CHECK_STR(norm(rt, "/files/a/b"), "/files/*");
	CHECK_STR(norm(rt, "/files"), "/files/*");
	CHECK_STR(norm(rt, "/a{b}c"), "/a{b}c");
	CHECK_STR(norm(rt, "/aXc"), "/aXc");
	/* output is the pattern verbatim; matching collapses slashes */
	CHECK_STR(norm(rt, "/health"), "//health");
	/* invalid targets never reach the patterns */
	CHECK_STR(norm(rt, "/static/a b"), "{invalid}");
	CHECK_STR(norm(rt, "*"), "*");
	route_table_free(rt);
	route_table_free(NULL);
}

static void test_pattern_root_and_cut(void)
{
	struct route_table *rt = route_table_new();
	const char *err;
	char out[13];
	size_t n;

	CHECK_INT(route_table_add(rt, "/", &err), 0);
	CHECK_INT(route_table_add(rt, "/abcd/efgh/{x}", &err), 0);
	CHECK_STR(norm(rt, "/"), "/");
	CHECK_STR(norm(rt, "//?q"), "/");
	CHECK_STR(norm(rt, "http://h"), "/");
	CHECK_STR(norm(rt, "/a"), "/a");
	n = route_normalise(rt, "/abcd/efgh/1", out, sizeof(out));
	CHECK_STR(out, "/abcd/{rest}");
	CHECK_INT(n, 12);
	route_table_free(rt);
}

static void test_pattern_errors(void)
{
	struct route_table *rt = route_table_new();
	const char *bad[] = { "", "users", "*", "/a/{id", "/a/{id/b}",
			      "/a/{x}{y", "/a/*/b", "/*/", "/{x}/*/*" };
	char longp[ROUTE_MAX + 1];
	const char *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		CHECK_INT(route_table_add(rt, bad[i], &err), -EINVAL);
		CHECK(err != NULL && err[0] != '\0');
	}
	memset(longp, 'a', ROUTE_MAX);
	longp[0] = '/';
	longp[ROUTE_MAX] = '\0';
	CHECK_INT(route_table_add(rt, longp, &err), -EINVAL);
	longp[ROUTE_MAX - 1] = '\0';
	CHECK_INT(route_table_add(rt, longp, &err), 0);
	CHECK_STR(norm(rt, longp), longp);
	CHECK_INT(route_table_add(rt, "/x/*", &err), 0);
	CHECK_INT(route_table_add(rt, "/{a}/{b}", &err), 0);
	/* a rejected pattern left nothing behind */
	CHECK_STR(norm(rt, "/a/b"), "/{a}/{b}");
	CHECK_STR(norm(rt, "/users"), "/users");
	route_table_free(rt);
}

/* Path parameters never reach a route: each segment ends at its ';'. */
static void test_path_parameters(void)
{
	struct route_table *rt = route_table_new();
	const char *err;

	CHECK_STR(norm(NULL, "/app/page;jsessionid=SECRET"), "/app/page");
	CHECK_STR(norm(NULL, "/app/page;jsessionid=SECRET?x=1"), "/app/page");
	CHECK_STR(norm(NULL, "/a;x=1/b;y"), "/a/b");
	CHECK_STR(norm(NULL, "/a/;x/b"), "/a/b");  /* only parameters: none */
	CHECK_STR(norm(NULL, "/a/;x"), "/a/");     /* ... as a trailing slash */
	CHECK_STR(norm(NULL, "/;x"), "/");
	CHECK_STR(norm(NULL, "/users/1;v=2/x"), "/users/{id}/x");
	CHECK_STR(norm(NULL, "http://u:SECRET@h/p;s=SECRET"), "/p");
	CHECK_STR(norm(NULL, "/a%3Bb"), "/a%3Bb"); /* an encoded ';' is data */
	CHECK_INT(route_table_add(rt, "/users/{id}/profile", &err), 0);
	CHECK_INT(route_table_add(rt, "/login", &err), 0);
	CHECK_STR(norm(rt, "/users/7;s=SECRET/profile;t=1"),
		  "/users/{id}/profile");
	CHECK_STR(norm(rt, "/login;jsessionid=SECRET"), "/login");
	CHECK_STR(norm(rt, "/;x/login"), "/login");
	route_table_free(rt);
}

/* What identifies a user or grants access is an id in a route. */
static void test_secret_segments(void)
{
	CHECK_STR(norm(NULL, "/users/alice@example.com/profile"),
		  "/users/{id}/profile");
	CHECK_STR(norm(NULL, "/users/alice%40example.com"), "/users/{id}");
	CHECK_STR(norm(NULL, "/@alice"), "/{id}");
	CHECK_STR(norm(NULL, "/a%4"), "/a%4");
	CHECK_STR(norm(NULL, "/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."
			     "c2lnbmF0dXJl-_x"),
		  "/reset/{id}");
	/* JWT-like but too short, one dot, or not base64url */
	CHECK_STR(norm(NULL, "/eyJ.a.b"), "/eyJ.a.b");
	CHECK_STR(norm(NULL, "/eyJhbGciOiJIUzI1NiJ9x.json"),
		  "/eyJhbGciOiJIUzI1NiJ9x.json");
	CHECK_STR(norm(NULL, "/t/SECRETtoken1234567890abcdef"), "/t/{id}");
}

static const char *url_path(const char *target)
{
	static char out[1024];
	size_t n = route_url_path(target, out, sizeof(out));

	CHECK_INT(n, strlen(out));
	return out;
}

static void test_url_path(void)
{
	char out[8];
	size_t n;

	CHECK_STR(url_path("/users/42"), "/users/42");
	CHECK_STR(url_path("/users/42?token=SECRET#frag"), "/users/42");
	CHECK_STR(url_path("http://user:SECRET@host/abs"), "/abs");
	CHECK_STR(url_path("https://user@host:8443/a/b?c"), "/a/b");
	CHECK_STR(url_path("http://host"), "/");
	CHECK_STR(url_path("http://host?x=/1"), "/");
	CHECK_STR(url_path("*"), "*");
	CHECK_STR(url_path("example.com:443"), ""); /* CONNECT */
	CHECK_STR(url_path(""), "");
	CHECK_STR(url_path("?q=1"), "");
	CHECK_STR(url_path("users/1"), "");
	/* slashes as sent; parameters dropped */
	CHECK_STR(url_path("/a//b/"), "/a//b/");
	CHECK_STR(url_path("/"), "/");
	CHECK_STR(url_path("/a;jsessionid=SECRET/b;x?q#f"), "/a/b");
	CHECK_STR(url_path("/;x"), "/");
	/* e-mail addresses, tokens, JWTs: redacted; ids and words stay */
	CHECK_STR(url_path("/u/alice@example.com/x"), "/u/REDACTED/x");
	CHECK_STR(url_path("/u/alice%40example.com"), "/u/REDACTED");
	CHECK_STR(url_path("/@/@"), "/REDACTED/REDACTED");
	CHECK_STR(url_path("/t/abcdefghijklmnopqrs1"), "/t/REDACTED");
	CHECK_STR(url_path("/o/550e8400-e29b-41d4-a716-446655440000"),
		  "/o/REDACTED");
	CHECK_STR(url_path("/r/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"),
		  "/r/REDACTED");
	CHECK_STR(url_path("/users/123/c/deadbeef1/index.html"),
		  "/users/123/c/deadbeef1/index.html");
	CHECK_STR(url_path("/t/abcdefghijklmnopqr1"), "/t/abcdefghijklmnopqr1");
	/* other bytes are the writers' to sanitise */
	CHECK_STR(url_path("/caf\xc3\xa9/\xff"), "/caf\xc3\xa9/\xff");
	/* cut before the first piece that does not fit */
	n = route_url_path("/abc/defg", out, 6);
	CHECK_STR(out, "/abc/");
	CHECK_INT(n, 5);
	n = route_url_path("/abc/defg", out, 5);
	CHECK_STR(out, "/abc");
	n = route_url_path("/a@b", out, 8);
	CHECK_STR(out, "/");
	CHECK_INT(n, 1);
	n = route_url_path("/abc", out, 1);
	CHECK_STR(out, "");
	CHECK_INT(n, 0);
	out[0] = 'x';
	CHECK_INT(route_url_path("/abc", out, 0), 0);
	CHECK_INT(out[0], 'x');
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random targets biased toward the bytes the normaliser cares about;
 * `noisy` ones also hold any other byte. */
static void random_target(char *buf, size_t cap, bool noisy)
{
	static const char alphabet[] =
		"//////??##**:.-_{}%aAfF0123456789xyz;;@@";
	size_t len = rng() % cap;

	for (size_t i = 0; i < len; i++) {
		if (noisy && rng() % 4 == 0)
			buf[i] = (char)(1 + rng() % 255);
		else
			buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
	}
	buf[len] = '\0';
	if (len > 0 && rng() % 2)
		buf[0] = '/';
	if (len > 8 && rng() % 8 == 0)
		memcpy(buf, "http://", 7);
}

static bool route_shape_ok(const char *r)
{
	return r[0] == '/' || strcmp(r, "*") == 0 ||
	       strcmp(r, "{invalid}") == 0;
}

/* Nothing after '?', '#' or ';', and no '@' (nor "%40"), leaves in a
 * route or a url.path. */
static bool leaks(const char *s)
{
	return strpbrk(s, "?#;@") != NULL || strstr(s, "%40") != NULL;
}

static void test_fuzz(void)
{
	struct route_table *rt = route_table_new();
	const char *err;
	char target[2048], again[ROUTE_MAX];
	int bad_shape = 0, bad_len = 0, not_idempotent = 0, overflow = 0;
	int leaked = 0, path_overflow = 0, path_bad_len = 0, path_leaked = 0;
	int paths = 0, invalid = 0, rest = 0; /* the fuzz reaches each case */

	route_table_add(rt, "/1/{x}/*", &err);
	route_table_add(rt, "/a/b", &err);
	for (int i = 0; i < 200000; i++) {
		/* exact-size heap buffer: ASan flags any write past it */
		size_t size = rng() % 3 ? ROUTE_MAX : rng() % (ROUTE_MAX + 1);
		char *out = malloc(size + 1);
		const struct route_table *t = i % 2 ? rt : NULL;
		size_t n;

		random_target(target, i % 16 ? 64 : sizeof(target), i % 4 == 0);
		out[size] = '\x5a'; /* canary for the non-ASan build */
		n = route_normalise(t, target, out, size);
		if (out[size] != '\x5a')
			overflow++;
		if (size > 0 && n != strlen(out))
			bad_len++;
		if (size == ROUTE_MAX && !route_shape_ok(out))
			bad_shape++;
		paths += out[0] == '/';
		invalid += out[0] == '{';
		rest += size > 0 && strstr(out, "{rest}") != NULL;
		if (size == ROUTE_MAX && !t && out[0] == '/') {
			route_normalise(NULL, out, again, sizeof(again));
			if (strcmp(out, again) != 0)
				not_idempotent++;
		}
		if (size > 0 && leaks(out))
			leaked++;
		out[size] = '\x5a';
		n = route_url_path(target, out, size);
		if (out[size] != '\x5a')
			path_overflow++;
		if (size > 0 && n != strlen(out))
			path_bad_len++;
		if (size > 0 && leaks(out))
			path_leaked++;
		free(out);
	}
	CHECK_INT(leaked, 0);
	CHECK_INT(path_overflow, 0);
	CHECK_INT(path_bad_len, 0);
	CHECK_INT(path_leaked, 0);
	CHECK_INT(overflow, 0);
	CHECK_INT(bad_len, 0);
	CHECK_INT(bad_shape, 0);
	CHECK_INT(not_idempotent, 0);
	CHECK(paths > 10000 && invalid > 10000 && rest > 100);
	route_table_free(rt);
}

int main(void)
{
	RUN(test_heuristic_ids);
	RUN(test_slashes_query_fragment);
	RUN(test_target_forms);
	RUN(test_depth);
	RUN(test_length);
	RUN(test_patterns);
	RUN(test_pattern_root_and_cut);
	RUN(test_pattern_errors);
	RUN(test_path_parameters);
	RUN(test_secret_segments);
	RUN(test_url_path);
	RUN(test_fuzz);
	return check_summary("route");
}
