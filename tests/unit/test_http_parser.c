// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tests of the sparse-stream HTTP/1.x parser.
 *
 * A test case is a script of items: what one syscall moved in one direction
 * (its captured bytes, how many more bytes were not captured, whether the
 * kernel lost it), or a close. Positive cases run three ways -- each item in
 * one event, one byte per event, and random splits under several seeds --
 * and must give the very same exchanges and errors. All events of an item
 * carry the item's timestamp, so timings are comparable across splits.
 *
 * Every event's captured bytes are copied into a buffer of exactly that
 * size, so ASan flags any read past `captured`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http_parser.h"

#define IN HTTP_DIR_INGRESS
#define OUT HTTP_DIR_EGRESS
#define CLOSE 2
#define MAX_EX 128
#define SEEDS 6

/* ---- scripts ---- */

struct item {
	int dir;           /* IN, OUT or CLOSE */
	uint64_t ts;
	const char *data;  /* captured bytes */
	size_t len;        /* of data; 0: strlen(data) */
	size_t uncaptured; /* bytes after data known only by count */
	bool dropped;      /* the kernel lost it: only the position moves */
	bool whole;        /* never split (the case is about its boundary) */
	uint64_t rewind;   /* sent this far behind the stream position, which
			    * then does not move (a reordered event) */
};

/* I(dir, ts, data[, .field = value...]) */
#define I(d, t, ...) ((struct item){ .dir = (d), .ts = (t), .data = __VA_ARGS__ })
/* An item whose data holds NUL bytes. */
#define BIN(d, t, s) I(d, t, s, .len = sizeof(s) - 1)

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

struct result {
	int n;
	struct http_exchange ex[MAX_EX];
	/* what ex[i].method and .target point to: the parser's own copies
	 * live during the callback only */
	char method[MAX_EX][HTTP_METHOD_MAX];
	char target[MAX_EX][HTTP_PATH_MAX];
	int errs[HTTP_ERR__COUNT];
	int unmeasured[HTTP_UNMEASURED__COUNT]; /* checked where asked */
	enum http_conn_protocol proto;
	enum http_role role;
};

static void on_exchange(void *ctx, const struct http_exchange *ex)
{
	struct result *r = ctx;

	if (r->n < MAX_EX) {
		r->ex[r->n] = *ex;
		snprintf(r->method[r->n], HTTP_METHOD_MAX, "%s", ex->method);
		snprintf(r->target[r->n], HTTP_PATH_MAX, "%s", ex->target);
		r->ex[r->n].method = r->method[r->n];
		r->ex[r->n].target = r->target[r->n];
		r->ex[r->n].request = NULL;
	}
	r->n++;
}

static void on_error(void *ctx, enum http_parse_error err)
{
	struct result *r = ctx;

	r->errs[err]++;
}

static void on_unmeasured(void *ctx, enum http_unmeasured why)
{
	struct result *r = ctx;

	r->unmeasured[why]++;
}

static const struct http_conn_callbacks cbs = {
	.on_exchange = on_exchange,
	.on_error = on_error,
	.on_unmeasured = on_unmeasured,
};

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void seed(uint64_t s)
{
	rng = s * 0x9E3779B97F4A7C15ULL + 1;
}

static size_t item_len(const struct item *it)
{
	return it->len ? it->len : (it->data ? strlen(it->data) : 0);
}

static size_t piece_len(enum split mode, size_t left)
{
	size_t n = left;

	if (mode == SPLIT_BYTES) {
		n = 1;
	} else if (mode == SPLIT_RANDOM) {
		switch (rnd() % 4) {
		case 0: n = 1; break;
		case 1: n = 1 + rnd() % 8; break;
		case 2: n = 1 + rnd() % 64; break;
		default: break;
		}
	}
	return n < left ? n : left;
}

/* Hands one event to the parser from a buffer of exactly `n` bytes. */
static void send_event(struct http_conn *c, int dir, uint64_t pos,
		       const char *p, size_t n, size_t total, uint64_t ts,
		       const struct http_conn_callbacks *cb, void *ctx)
{
	uint8_t *copy = n ? malloc(n) : NULL;

	if (n)
		memcpy(copy, p, n);
	http_conn_data(c, dir, pos, copy, n, total, ts, cb, ctx);
	free(copy);
}

static void feed_item(struct http_conn *c, const struct item *it,
		      uint64_t pos[2], enum split mode,
		      const struct http_conn_callbacks *cb, void *ctx)
{
	size_t len = item_len(it), off = 0;

	if (it->dir == CLOSE) {
		http_conn_close(c, it->ts, cb, ctx);
		return;
	}
	if (it->dropped) {
		pos[it->dir] += len + it->uncaptured;
		return;
	}
	if (it->rewind) {
		send_event(c, it->dir, pos[it->dir] - it->rewind, it->data,
			   len, len + it->uncaptured, it->ts, cb, ctx);
		return;
	}
	if (it->whole)
		mode = SPLIT_WHOLE;
	do {
		size_t n = piece_len(mode, len - off);
		/* uncaptured bytes trail the syscall's captured ones */
		size_t total = off + n == len ? n + it->uncaptured : n;

		send_event(c, it->dir, pos[it->dir], it->data + off, n, total,
			   it->ts, cb, ctx);
		pos[it->dir] += total;
		off += n;
	} while (off < len);
}

static void run(enum http_role role, const struct item *items, size_t n,
		enum split mode, uint64_t s, struct result *r)
{
	struct http_conn *c = http_conn_new(role);
	uint64_t pos[2] = { 0, 0 };

	memset(r, 0, sizeof(*r));
	seed(s);
	for (size_t i = 0; i < n; i++)
		feed_item(c, &items[i], pos, mode, &cbs, r);
	r->proto = http_conn_protocol(c);
	r->role = http_conn_role(c);
	http_conn_free(c);
}

/* ---- expectations ---- */

struct want_ex {
	const char *method, *target;
	int status;
	uint64_t start, end;
	uint64_t req_body, rsp_body;
};

struct want {
	enum http_role role;
	enum http_conn_protocol proto;
	int n;
	const struct want_ex *ex;
	int errs[HTTP_ERR__COUNT];
};

static void compare(const char *name, const char *how, uint64_t s,
		    const struct result *r, const struct want *w)
{
	int failed_before = check_case_failed;

	check_case_failed = 0;
	CHECK_INT(r->proto, w->proto);
	CHECK_INT(r->role, w->role);
	CHECK_INT(r->n, w->n);
	for (int i = 0; i < w->n && i < r->n && i < MAX_EX; i++) {
		const struct http_exchange *g = &r->ex[i];
		const struct want_ex *x = &w->ex[i];

		CHECK_INT(g->role, w->role);
		CHECK_STR(g->method, x->method);
		CHECK_STR(g->target, x->target);
		CHECK_INT(g->status, x->status);
		CHECK_INT(g->start_ns, x->start);
		CHECK_INT(g->end_ns, x->end);
		CHECK_INT(g->request_body_bytes, x->req_body);
		CHECK_INT(g->response_body_bytes, x->rsp_body);
		if (check_case_failed) {
			fprintf(stderr, "  ^ exchange %d\n", i);
			break;
		}
	}
	for (int e = 0; e < HTTP_ERR__COUNT; e++) {
		if (r->errs[e] != w->errs[e]) {
			fprintf(stderr, "  %s: %d errors, want %d\n",
				http_parse_error_name(e), r->errs[e],
				w->errs[e]);
			check_case_failed = 1;
		}
	}
	if (check_case_failed)
		fprintf(stderr, "  ^ in %s, %s split (seed %llu)\n", name, how,
			(unsigned long long)s);
	check_case_failed |= failed_before;
}

/* Runs a case whole, byte by byte and in random splits. */
static void check_splits(const char *name, enum http_role role,
			 const struct item *items, size_t n,
			 const struct want *w)
{
	struct result *r = malloc(sizeof(*r));

	run(role, items, n, SPLIT_WHOLE, 0, r);
	compare(name, "whole", 0, r, w);
	run(role, items, n, SPLIT_BYTES, 0, r);
	compare(name, "byte", 0, r, w);
	for (uint64_t s = 1; s <= SEEDS; s++) {
		run(role, items, n, SPLIT_RANDOM, s, r);
		compare(name, "random", s, r, w);
	}
	free(r);
}

#define CASE(name, role, items, w)                                           \
	check_splits(name, role, items, sizeof(items) / sizeof(items[0]), w)

/* A malloc'd string: prefix, n copies of c, suffix. */
static char *build(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	char *s = malloc(a + n + b + 1);

	memcpy(s, prefix, a);
	memset(s + a, c, n);
	memcpy(s + a + n, suffix, b + 1);
	return s;
}

static const char GET_A[] = "GET /a HTTP/1.1\r\nHost: example\r\n\r\n";
static const char OK_2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char OK_0[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/* ---- basic exchanges ---- */

static void test_simple_get(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /index.html?x=1&y=%20 HTTP/1.1\r\n"
			   "Host: example\r\nUser-Agent: t/1\r\n"
			   "Accept: */*\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "content-length: 5\r\n\r\nhello"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/index.html?x=1&y=%20", 200, 100, 200, 0, 5 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("simple GET", HTTP_ROLE_SERVER, items, &w);
}

static void test_keep_alive(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 110, OK_2),
		I(IN, 200, "GET /b HTTP/1.1\r\nHost: example\r\n\r\n"),
		I(OUT, 210, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n"
			    "\r\nnot found"),
		I(IN, 300, "DELETE /c/7 HTTP/1.1\r\nHost: example\r\n\r\n"),
		I(OUT, 310, "HTTP/1.1 204 No Content\r\n\r\n"),
		I(IN, 400, "OPTIONS * HTTP/1.1\r\nHost: example\r\n\r\n"),
		I(OUT, 410, "HTTP/1.1 200 OK\r\nAllow: GET\r\n"
			    "Content-Length: 0\r\n\r\n"),
		I(CLOSE, 500, NULL),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 110, 0, 2 },
		{ "GET", "/b", 404, 200, 210, 0, 9 },
		{ "DELETE", "/c/7", 204, 300, 310, 0, 0 },
		{ "OPTIONS", "*", 200, 400, 410, 0, 0 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 4, ex, {0} };

	CASE("keep-alive", HTTP_ROLE_SERVER, items, &w);
}

static void test_pipelining(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\nHost: e\r\n\r\n"
			   "GET /2 HTTP/1.1\r\nHost: e\r\n\r\n"
			   "POST /3 HTTP/1.1\r\nHost: e\r\n"
			   "Content-Length: 3\r\n\r\nabc"
			   "GET /4 HTTP/1.1\r\nHost: e\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
			    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n1\r\nb\r\n0\r\n\r\n"
			    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
			    "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n"
			    "\r\nnope"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 1 },
		{ "GET", "/2", 200, 100, 200, 0, 1 },
		{ "POST", "/3", 201, 100, 200, 3, 0 },
		{ "GET", "/4", 404, 100, 200, 0, 4 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 4, ex, {0} };

	CASE("pipelining", HTTP_ROLE_SERVER, items, &w);
}

static void test_post_content_length(void)
{
	const struct item items[] = {
		I(IN, 100, "POST /users HTTP/1.1\r\nHost: e\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: 12\r\n\r\n{\"name\":\"x\"}"),
		I(OUT, 200, "HTTP/1.1 201 Created\r\nLocation: /users/7\r\n"
			    "Content-Length: 8\r\n\r\n{\"id\":7}"),
		/* the body in its own syscall, duplicated equal lengths */
		I(IN, 300, "PUT /users/7 HTTP/1.1\r\nContent-Length: 4\r\n"
			   "Content-Length: 4\r\n\r\n"),
		I(IN, 310, "abcd"),
		I(OUT, 400, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	const struct want_ex ex[] = {
		{ "POST", "/users", 201, 100, 200, 12, 8 },
		{ "PUT", "/users/7", 200, 300, 400, 4, 0 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex, {0} };

	CASE("POST with Content-Length", HTTP_ROLE_SERVER, items, &w);
}

static void test_chunked(void)
{
	const struct item items[] = {
		I(IN, 100, "POST /upload HTTP/1.1\r\nHost: e\r\n"
			   "Transfer-Encoding: gzip, Chunked\r\n\r\n"
			   "5;name=val\r\nhello\r\n"
			   "6 ; ext=\"q;x\"\r\n world\r\n"
			   "0\r\nX-Checksum: abc\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "Content-Length: 999\r\n\r\n"
			    "a\r\n0123456789\r\n"
			    "1A;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n"
			    "0;end\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n"),
		/* bare LF framing, multi-line TE */
		I(IN, 300, "POST /lf HTTP/1.1\nTransfer-Encoding: gzip\n"
			   "Transfer-Encoding: chunked\n\n3\nabc\n0\n\n"),
		I(OUT, 400, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n0\r\n\r\n"),
		I(IN, 500, "GET /after HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_2),
	};
	const struct want_ex ex[] = {
		{ "POST", "/upload", 200, 100, 200, 11, 36 },
		{ "POST", "/lf", 200, 300, 400, 3, 0 },
		{ "GET", "/after", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	CASE("chunked", HTTP_ROLE_SERVER, items, &w);
}

static void test_head_request(void)
{
	const struct item items[] = {
		I(IN, 100, "HEAD /file HTTP/1.1\r\nHost: e\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n"
			    "\r\n"),
		I(IN, 300, "HEAD /chunky HTTP/1.1\r\n\r\n"),
		I(OUT, 400, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n"),
		I(IN, 500, "GET /x HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_2),
	};
	const struct want_ex ex[] = {
		{ "HEAD", "/file", 200, 100, 200, 0, 0 },
		{ "HEAD", "/chunky", 200, 300, 400, 0, 0 },
		{ "GET", "/x", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	CASE("HEAD", HTTP_ROLE_SERVER, items, &w);
}

static void test_204_304(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /a HTTP/1.1\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n"
			    "\r\n"),
		I(IN, 300, "GET /b HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"),
		I(OUT, 400, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n"
			    "Content-Length: 500\r\n\r\n"),
		I(IN, 500, "GET /c HTTP/1.1\r\n\r\n"),
		I(OUT, 600, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 204, 100, 200, 0, 0 },
		{ "GET", "/b", 304, 300, 400, 0, 0 },
		{ "GET", "/c", 200, 500, 600, 0, 3 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	CASE("204 and 304", HTTP_ROLE_SERVER, items, &w);
}

static void test_100_continue(void)
{
	const struct item items[] = {
		I(IN, 100, "PUT /big HTTP/1.1\r\nHost: e\r\n"
			   "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"),
		I(OUT, 150, "HTTP/1.1 100 Continue\r\n\r\n"),
		I(IN, 160, "0123456789"),
		I(OUT, 200, OK_2),
	};
	const struct want_ex ex[] = {
		{ "PUT", "/big", 200, 100, 200, 10, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("100-continue", HTTP_ROLE_SERVER, items, &w);
}

static void test_103_then_200(void)
{
	const struct item items[] = {
		I(IN, 100, "GET / HTTP/1.1\r\n\r\n"),
		I(OUT, 150, "HTTP/1.1 103 Early Hints\r\n"
			    "Link: </style.css>; rel=preload\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"),
		/* two interims and the final answer in one syscall */
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 400, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
			    "HTTP/1.1 103 Early Hints\r\nLink: </b>\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/", 200, 100, 200, 0, 4 },
		{ "GET", "/2", 200, 300, 400, 0, 1 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex, {0} };

	CASE("103 then 200", HTTP_ROLE_SERVER, items, &w);
}

static void test_101_upgrade(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /chat HTTP/1.1\r\nHost: e\r\nUpgrade: websocket"
			   "\r\nConnection: Upgrade\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
		BIN(IN, 300, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		/* what looks like HTTP afterwards is websocket payload */
		I(IN, 310, "GET /fake HTTP/1.1\r\n\r\n"),
		I(OUT, 320, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		BIN(OUT, 330, "\x81\x05Hello\x00\xff"),
		I(CLOSE, 400, NULL),
	};
	const struct want_ex ex[] = {
		{ "GET", "/chat", 101, 100, 200, 0, 0 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_OTHER, 1, ex, {0} };

	CASE("101 upgrade", HTTP_ROLE_SERVER, items, &w);
}

static void test_connect_tunnel(void)
{
	const struct item items[] = {
		I(OUT, 100, "CONNECT example.com:443 HTTP/1.1\r\n"
			    "Host: example.com:443\r\n\r\n"),
		I(IN, 200, "HTTP/1.1 200 Connection Established\r\n\r\n"),
		BIN(OUT, 300, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
		BIN(IN, 310, "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"),
		I(CLOSE, 400, NULL),
	};
	const struct want_ex ex[] = {
		{ "CONNECT", "example.com:443", 200, 100, 200, 0, 0 },
	};
	const struct want w = { HTTP_ROLE_CLIENT, HTTP_PROTO_OTHER, 1, ex, {0} };

	CASE("CONNECT tunnel", HTTP_ROLE_CLIENT, items, &w);
}

static void test_http10_until_close(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /old HTTP/1.0\r\n\r\n"),
		I(OUT, 200, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
			    "\r\n<html>"),
		I(OUT, 300, "</html>", .uncaptured = 1000),
		I(CLOSE, 400, NULL),
	};
	/* its last byte went with the write at 300, not the close */
	const struct want_ex ex[] = {
		{ "GET", "/old", 200, 100, 300, 0, 1013 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("HTTP/1.0 until close", HTTP_ROLE_SERVER, items, &w);
}

static void test_connection_close(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /a HTTP/1.1\r\nConnection: keep-alive, Close"
			   "\r\n\r\n"),
		/* the client promised to send nothing more */
		I(IN, 110, "\x01\x02 junk"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
			    "Content-Length: 2\r\n\r\nok"),
		I(OUT, 210, "\x02 more junk"),
		I(CLOSE, 300, NULL),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 200, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("Connection: close", HTTP_ROLE_SERVER, items, &w);
}

static void test_bare_lf_and_limits(void)
{
	char method[HTTP_METHOD_MAX + 1], *req, want_target[HTTP_PATH_MAX];
	struct want_ex ex[3];
	struct item items[6];
	struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	/* 15-byte method: the longest allowed */
	memcpy(method, "ABCDEFGHIJKLMNO", HTTP_METHOD_MAX);
	/* a 2000-byte target is cut to fit */
	req = build("GET /", 't', 1999, " HTTP/1.1\r\n\r\n");
	memset(want_target, 't', sizeof(want_target));
	want_target[0] = '/';
	want_target[HTTP_PATH_MAX - 1] = '\0';

	items[0] = I(IN, 100, "GET / HTTP/1.1\nHost: e\n\n");
	items[1] = I(OUT, 200, "HTTP/1.1 200\nContent-Length: 2"
					    "\n\nok");
	items[2] = I(IN, 300, "ABCDEFGHIJKLMNO /m HTTP/1.0\r\n"
					   "\r\n");
	items[3] = I(OUT, 400, "HTTP/1.0 501 \r\n"
					    "Content-Length: 0\r\n\r\n");
	items[4] = I(IN, 500, req);
	items[5] = I(OUT, 600, OK_0);
	ex[0] = (struct want_ex){ "GET", "/", 200, 100, 200, 0, 2 };
	ex[1] = (struct want_ex){ method, "/m", 501, 300, 400, 0, 0 };
	ex[2] = (struct want_ex){ "GET", want_target, 200, 500, 600, 0, 0 };
	CASE("bare LF, long method and target", HTTP_ROLE_SERVER, items, &w);
	free(req);
}

static void test_timestamps(void)
{
	/* items are not split: each one is a syscall with its own time */
	const struct item items[] = {
		I(IN, 10, "GET /t HTT", .whole = true),
		I(IN, 11, "P/1.1\r\nHost: e\r\n\r\n", .whole = true),
		I(OUT, 20, "HTTP/1.1 200 OK\r\nContent-Len", .whole = true),
		I(OUT, 21, "gth: 6\r\n\r\nabc", .whole = true),
		I(OUT, 22, "def", .whole = true),
		I(IN, 30, "GET /c HTTP/1.1\r\n\r\n", .whole = true),
		I(OUT, 40, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			   "\r\n3\r\nabc\r\n", .whole = true),
		I(OUT, 41, "0\r\n", .whole = true),
		I(OUT, 42, "\r\n", .whole = true),
	};
	const struct want_ex ex[] = {
		{ "GET", "/t", 200, 10, 22, 0, 6 },
		{ "GET", "/c", 200, 30, 42, 0, 3 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex, {0} };

	CASE("timestamps", HTTP_ROLE_SERVER, items, &w);
}

static void test_big_cookie(void)
{
	char *req = build("POST /c HTTP/1.1\r\nHost: e\r\nCookie: ", 'a', 7168,
			  "\r\nContent-Length: 5\r\n\r\nhello");
	const struct item items[] = {
		I(IN, 100, req),
		I(OUT, 200, OK_0),
	};
	const struct want_ex ex[] = {
		{ "POST", "/c", 200, 100, 200, 5, 0 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("7 KiB cookie, Content-Length last", HTTP_ROLE_SERVER, items, &w);
	free(req);
}

/* A head of exactly HTTP_HEAD_MAX bytes is fine; one byte more is not. */
static void test_head_max(void)
{
	const char *pre = "GET /max HTTP/1.1\r\nCookie: ", *post = "\r\n\r\n";
	size_t fill = HTTP_HEAD_MAX - strlen(pre) - strlen(post);
	char *fits = build(pre, 'a', fill, post);
	char *over = build("GET /over HTTP/1.1\r\nCookie: ", 'a', fill, post);
	const char *rpre = "HTTP/1.1 200 OK\r\nX-Big: ";
	const char *rpost = "\r\nContent-Length: 0\r\n\r\n";
	char *rsp = build(rpre, 'b',
			  HTTP_HEAD_MAX + 1 - strlen(rpre) - strlen(rpost),
			  rpost);
	const struct item items[] = {
		I(IN, 100, fits),
		I(OUT, 200, OK_0),
		I(IN, 300, over),
		/* its answer has nothing to pair with */
		I(OUT, 400, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			    "Content-Length: 0\r\n\r\n"),
		I(IN, 500, "GET /after HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_2),
		I(IN, 700, "GET /bigrsp HTTP/1.1\r\n\r\n"),
		I(OUT, 800, rsp),
		I(IN, 900, "GET /last HTTP/1.1\r\n\r\n"),
		I(OUT, 1000, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/max", 200, 100, 200, 0, 0 },
		{ "GET", "/after", 200, 500, 600, 0, 2 },
		{ "GET", "/last", 200, 900, 1000, 0, 2 },
	};
	const struct want w = {
		HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex,
		{ [HTTP_ERR_HEAD_TOO_LARGE] = 2,
		  [HTTP_ERR_UNMATCHED_RESPONSE] = 1 },
	};

	CHECK_INT(strlen(fits), HTTP_HEAD_MAX);
	CHECK_INT(strlen(over), HTTP_HEAD_MAX + 1);
	CHECK_INT(strlen(rsp), HTTP_HEAD_MAX + 1);
	CASE("head size limit", HTTP_ROLE_SERVER, items, &w);
	free(fits);
	free(over);
	free(rsp);
}

static void test_client_role(void)
{
	const struct item items[] = {
		I(OUT, 100, "GET /api/v1/items?page=2 HTTP/1.1\r\n"
			    "Host: svc\r\nAccept: application/json\r\n\r\n"),
		I(IN, 200, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"),
		I(OUT, 300, "POST /api/v1/items HTTP/1.1\r\nHost: svc\r\n"
			    "Content-Length: 2\r\n\r\n{}"),
		I(IN, 400, "HTTP/1.1 500 Internal Server Error\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"
			   "5\r\nerror\r\n0\r\n\r\n"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/api/v1/items?page=2", 200, 100, 200, 0, 2 },
		{ "POST", "/api/v1/items", 500, 300, 400, 2, 5 },
	};
	const struct want w = { HTTP_ROLE_CLIENT, HTTP_PROTO_HTTP, 2, ex, {0} };

	CASE("client role", HTTP_ROLE_CLIENT, items, &w);
}

/* The request body still flows while its answer is being read. */
static void test_full_duplex(void)
{
	const struct item items[] = {
		I(IN, 100, "POST /stream HTTP/1.1\r\nContent-Length: 6\r\n\r\n"
			   "abc"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nxy"),
		I(IN, 210, "def"),
		I(OUT, 220, "zw"),
		/* an early answer: body bytes after it are only skipped */
		I(IN, 300, "PUT /big HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
			   "0123"),
		I(OUT, 400, "HTTP/1.1 413 Content Too Large\r\n"
			    "Content-Length: 0\r\n\r\n"),
		I(IN, 410, "456789"),
		I(IN, 500, GET_A),
		I(OUT, 600, OK_2),
	};
	const struct want_ex ex[] = {
		{ "POST", "/stream", 200, 100, 220, 6, 4 },
		{ "PUT", "/big", 413, 300, 400, 4, 0 },
		{ "GET", "/a", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	CASE("full duplex", HTTP_ROLE_SERVER, items, &w);
}

/* ---- connections first seen mid-stream ---- */

static void test_mid_stream(void)
{
	const struct item items[] = {
		/* first seen in the middle of a request body and of the
		 * response before; neither starts a request */
		I(IN, 10, "\"k\":[1,2,3],\"v\":{\"a\":true}}", .whole = true),
		I(OUT, 20, "<td>4</td></tr></table></body></html>",
		  .uncaptured = 4000, .whole = true),
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		I(IN, 300, "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"),
		I(OUT, 400, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	};
	struct item shifted[sizeof(items) / sizeof(items[0])];
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 200, 0, 2 },
		{ "POST", "/b", 201, 300, 400, 3, 0 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex, {0} };

	CASE("mid-stream, server", HTTP_ROLE_UNKNOWN, items, &w);

	/* the same with the directions swapped is a client, at any offset */
	memcpy(shifted, items, sizeof(items));
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		shifted[i].dir = items[i].dir == IN ? OUT : IN;
	{
		const struct want wc = { HTTP_ROLE_CLIENT, HTTP_PROTO_HTTP, 2,
					 ex, {0} };

		CASE("mid-stream, client", HTTP_ROLE_UNKNOWN, shifted, &wc);
	}
}

static void test_mid_stream_positions(void)
{
	/* the first event of each direction sets its position: a stream
	 * seen from byte 5000 on is not a loss */
	struct http_conn *c = http_conn_new(HTTP_ROLE_UNKNOWN);
	struct result *r = calloc(1, sizeof(*r));
	const char *tail = "Host: e\r\n\r\n"; /* end of an unseen head */

	http_conn_data(c, IN, 5000, (const uint8_t *)tail, strlen(tail),
		       strlen(tail), 1, &cbs, r);
	http_conn_data(c, OUT, 9000, (const uint8_t *)"abc", 3, 3, 2, &cbs, r);
	CHECK_INT(http_conn_role(c), HTTP_ROLE_UNKNOWN);
	CHECK_INT(http_conn_protocol(c), HTTP_PROTO_UNKNOWN);
	http_conn_data(c, IN, 5000 + strlen(tail), (const uint8_t *)GET_A,
		       strlen(GET_A), strlen(GET_A), 3, &cbs, r);
	CHECK_INT(http_conn_role(c), HTTP_ROLE_SERVER);
	CHECK_INT(http_conn_protocol(c), HTTP_PROTO_HTTP);
	http_conn_data(c, OUT, 9003, (const uint8_t *)OK_2, strlen(OK_2),
		       strlen(OK_2), 4, &cbs, r);
	CHECK_INT(r->n, 1);
	CHECK_INT(r->ex[0].start_ns, 3);
	CHECK_INT(r->ex[0].end_ns, 4);
	CHECK_INT(r->ex[0].role, HTTP_ROLE_SERVER);
	http_conn_close(c, 5, &cbs, r);
	for (int e = 0; e < HTTP_ERR__COUNT; e++)
		CHECK_INT(r->errs[e], 0);
	http_conn_free(c);
	free(r);
}

/* Each direction held a guess when the role was decided; the response
 * direction's guess at a request line must not become a response. */
static void test_role_decided_mid_guess(void)
{
	const struct item items[] = {
		I(OUT, 10, "GET /x HT", .whole = true),
		I(IN, 20, GET_A, .whole = true),
		I(OUT, 30, "TP/1.1\r\n\r\n", .whole = true),
		I(OUT, 40, OK_2, .whole = true),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 20, 40, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("role decided mid-guess", HTTP_ROLE_UNKNOWN, items, &w);
}

static void test_unknown_role_gives_up(void)
{
	char *junk = build("", 'x', 40000, "");
	const struct item items[] = {
		I(IN, 10, junk),
		I(OUT, 20, junk),
		/* 80000 bytes without a request line: not HTTP */
		I(IN, 30, GET_A),
		I(OUT, 40, OK_2),
		I(CLOSE, 50, NULL),
	};
	const struct want w = { HTTP_ROLE_UNKNOWN, HTTP_PROTO_OTHER, 0, NULL,
				{0} };

	CASE("UNKNOWN role gives up", HTTP_ROLE_UNKNOWN, items, &w);
	free(junk);
}

/* ---- what is not HTTP/1.x ---- */

static void check_other(const char *name, enum http_role role, int dir,
			const char *first, size_t len)
{
	const struct item items[] = {
		I(dir, 10, first, len),
		I(!dir, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		I(dir, 30, GET_A),
		I(!dir, 40, OK_2),
		I(CLOSE, 50, NULL),
	};
	const struct want w = { role, HTTP_PROTO_OTHER, 0, NULL, {0} };

	check_splits(name, role, items, 5, &w);
}

static void test_not_http(void)
{
	static const char hello[] =
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x6b\x1e\x00\x00"
		"\x20GET / HTTP/1.1\r\n";
	static const char smtp_client[] = "EHLO mail.example\r\n";
	uint8_t bin[512];

	check_other("TLS ClientHello", HTTP_ROLE_SERVER, IN, hello,
		    sizeof(hello) - 1);
	check_other("TLS ClientHello (client)", HTTP_ROLE_CLIENT, OUT, hello,
		    sizeof(hello) - 1);
	check_other("SSH", HTTP_ROLE_SERVER, IN,
		    "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 0);
	check_other("redis", HTTP_ROLE_SERVER, IN,
		    "*1\r\n$4\r\nPING\r\n", 0);
	check_other("HTTP/2 preface", HTTP_ROLE_SERVER, IN,
		    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0);
	check_other("postgres", HTTP_ROLE_CLIENT, OUT,
		    "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
	check_other("SMTP client", HTTP_ROLE_SERVER, IN, smtp_client, 0);
	for (int s = 1; s <= 20; s++) {
		seed(1000 + s);
		for (size_t i = 0; i < sizeof(bin); i++)
			bin[i] = rnd();
		check_other("random binary", HTTP_ROLE_SERVER, IN,
			    (const char *)bin, sizeof(bin));
	}
}

/* A server that speaks first (an SMTP banner) is not taken for an answer. */
static void test_server_speaks_first(void)
{
	const struct item items[] = {
		I(OUT, 10, "220 mail.example ESMTP\r\n"),
		I(IN, 20, "HELO client\r\n"),
		I(OUT, 30, "250 hello\r\n"),
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_OTHER, 0, NULL,
				{0} };

	CASE("server speaks first", HTTP_ROLE_SERVER, items, &w);
}

/* ---- errors and recovery ---- */

static void test_garbage_after_exchange(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		BIN(IN, 300, "\x00\x01\x02garbage\xff\xfe more garbage"),
		I(IN, 400, "GET /next HTTP/1.1\r\n\r\n"),
		I(OUT, 500, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 200, 0, 2 },
		{ "GET", "/next", 200, 400, 500, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_MALFORMED_REQUEST] = 1 } };

	CASE("garbage after an exchange", HTTP_ROLE_SERVER, items, &w);
}

static void test_malformed_requests(void)
{
	static const char *const bad[] = {
		"GET /a HTTP/2.0\r\nHost: e\r\n\r\n",      /* version */
		"GET /a HTTP/1.2\r\n\r\n",
		"GET /a\r\nHost: e\r\n\r\n",               /* no version */
		"GET /a http/1.1\r\n\r\n",
		"G@T /a HTTP/1.1\r\n\r\n",                  /* not a token */
		"GET /a b HTTP/1.1\r\n\r\n",                /* space in target */
		"GET /a\tb HTTP/1.1\r\n\r\n",               /* control char */
		"GET /a\x7f HTTP/1.1\r\n\r\n",
		"GET  /a HTTP/1.1\r\n\r\n",                 /* empty target */
		" FOO /a HTTP/1.1\r\n\r\n",                 /* empty method */
		"ABCDEFGHIJKLMNOP /a HTTP/1.1\r\n\r\n",     /* 16-byte method */
		"GET /a HTTP/1.1\rX\r\n\r\n",               /* CR without LF */
		"GET /a HTTP/1.1\r\nbad header\r\n\r\n",    /* no colon */
		"GET /a HTTP/1.1\r\n: empty\r\n\r\n",       /* empty name */
		"GET /a HTTP/1.1\r\nHost : e\r\n\r\n",      /* space before : */
		"GET /a HTTP/1.1\r\nHost: e\r\n folded\r\n\r\n", /* obs-fold */
		"GET /a HTTP/1.1\r\n\tfolded: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nX: a\x01z\r\n\r\n",     /* control in value */
		"GET /a HTTP/1.1\r\n\rX\r\n\r\n",           /* CR in empty line */
		"POST /a HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: \r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
		("POST /a HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n"
		 "\r\n"),
		("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6"
		 "\r\n\r\nhello"),                          /* conflicting */
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	};
	const struct want_ex ex[] = {
		{ "GET", "/ok", 200, 100, 200, 0, 2 },
		{ "GET", "/after", 200, 500, 600, 0, 2 },
	};
	/* the server's 400 answers a request that was not understood */
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_MALFORMED_REQUEST] = 1,
				  [HTTP_ERR_UNMATCHED_RESPONSE] = 1 } };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct item items[] = {
			I(IN, 100, "GET /ok HTTP/1.1\r\n\r\n"),
			I(OUT, 200, OK_2),
			I(IN, 300, bad[i]),
			I(OUT, 400, "HTTP/1.1 400 Bad Request\r\n"
				    "Content-Length: 0\r\n\r\n"),
			I(IN, 500, "GET /after HTTP/1.1\r\n\r\n"),
			I(OUT, 600, OK_2),
		};
		char name[64];

		snprintf(name, sizeof(name), "malformed request #%zu", i);
		CASE(name, HTTP_ROLE_SERVER, items, &w);
	}
}

/* Field values are checked for control bytes eight at a time: a control
 * byte (0x01, 0x1f, 0x7f, a bare CR) at every offset of a 40-byte value is
 * found, and HTAB and UTF-8 bytes anywhere pass. */
static void test_control_bytes_in_values(void)
{
	static const uint8_t ctl[] = { 0x01, 0x1f, 0x7f, '\r', 0x00 };
	static const uint8_t fine[] = { '\t', 0x80, 0xc3, 0xff, ' ' };
	const struct want_ex ok_ex[] = { { "GET", "/v", 200, 100, 200, 0, 2 } };
	const struct want ok = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ok_ex,
				 {} };
	/* the 200 then answers a request that was not understood */
	const struct want bad = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 0, NULL,
				  { [HTTP_ERR_MALFORMED_REQUEST] = 1,
				    [HTTP_ERR_UNMATCHED_RESPONSE] = 1 } };

	for (size_t k = 0; k < 2 * sizeof(ctl); k++) {
		bool is_bad = k < sizeof(ctl);
		uint8_t b = is_bad ? ctl[k] : fine[k - sizeof(ctl)];

		for (size_t at = 0; at < 40; at++) {
			static const char pre[] = "GET /v HTTP/1.1\r\nX-Long: ";
			const size_t n = sizeof(pre) - 1;
			char req[128], name[64];
			struct item items[2];

			/* given by length: 0x00 is one of the bytes */
			memcpy(req, pre, n);
			memset(req + n, 'v', 40);
			req[n + at] = (char)b;
			memcpy(req + n + 40, "\r\n\r\n", 5);
			items[0] = I(IN, 100, req, .len = n + 44);
			items[1] = I(OUT, 200, OK_2);
			snprintf(name, sizeof(name), "value byte 0x%02x at %zu", b,
				 at);
			CASE(name, HTTP_ROLE_SERVER, items, is_bad ? &bad : &ok);
		}
	}
}

/* A head that fails in a later syscall than it began: that syscall starts
 * at a boundary too, and may begin a request of its own. */
static void test_failure_in_later_syscall(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		I(IN, 300, "GET /cut", .whole = true),
		I(IN, 310, "GET /b HTTP/1.1\r\n\r\n", .whole = true),
		I(OUT, 400, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 200, 0, 2 },
		{ "GET", "/b", 200, 310, 400, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_MALFORMED_REQUEST] = 1 } };

	CASE("failure in a later syscall", HTTP_ROLE_SERVER, items, &w);
}

/* A request-side error while an answer's body is flowing: that answer
 * (to a request seen before) completes, then the response side resyncs. */
static void test_error_during_response_body(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			    "01234"),
		I(IN, 210, "\x01\x02\x03"),
		/* the rest, then an answer to the unreadable request: skipped
		 * without an error, since it does not start the syscall */
		I(OUT, 220, "56789HTTP/1.1 400 Bad Request\r\n"
			    "Content-Length: 0\r\n\r\n", .whole = true),
		I(IN, 300, "GET /b HTTP/1.1\r\n\r\n"),
		I(OUT, 400, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 220, 0, 10 },
		{ "GET", "/b", 200, 300, 400, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_MALFORMED_REQUEST] = 1 } };

	CASE("error during a response body", HTTP_ROLE_SERVER, items, &w);
}

/* At stream start, a bad request line means "not HTTP"; a good request
 * line makes the connection HTTP even if a header is bad. */
static void test_malformed_first_request(void)
{
	const struct item bad_line[] = {
		I(IN, 100, "GET /a b HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_0),
	};
	const struct item bad_header[] = {
		I(IN, 100, "GET /a HTTP/1.1\r\nHost : e\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0"
			    "\r\n\r\n"),
		I(IN, 300, GET_A),
		I(OUT, 400, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 300, 400, 0, 2 },
	};
	const struct want w_line = { HTTP_ROLE_SERVER, HTTP_PROTO_OTHER, 0,
				     NULL, {0} };
	const struct want w_header = {
		HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex,
		{ [HTTP_ERR_MALFORMED_REQUEST] = 1,
		  [HTTP_ERR_UNMATCHED_RESPONSE] = 1 },
	};

	CASE("bad first request line", HTTP_ROLE_SERVER, bad_line, &w_line);
	CASE("bad first header", HTTP_ROLE_SERVER, bad_header, &w_header);
}

static void test_malformed_responses(void)
{
	static const char *const bad[] = {
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 600 Weird\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2"
		 "\r\n\r\n"),
		"HTTP/1.1 200 OK\r\nServer : x\r\n\r\n",
	};
	const struct want_ex ex[] = {
		{ "GET", "/ok", 200, 100, 200, 0, 2 },
		{ "GET", "/after", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_MALFORMED_RESPONSE] = 1 } };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct item items[] = {
			I(IN, 100, "GET /ok HTTP/1.1\r\n\r\n"),
			I(OUT, 200, OK_2),
			I(IN, 300, "GET /lost HTTP/1.1\r\n\r\n"),
			I(OUT, 400, bad[i]),
			I(IN, 500, "GET /after HTTP/1.1\r\n\r\n"),
			I(OUT, 600, OK_2),
		};
		char name[64];

		snprintf(name, sizeof(name), "malformed response #%zu", i);
		CASE(name, HTTP_ROLE_SERVER, items, &w);
	}
}

static const struct item head_not_captured[] = {
	I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
	I(OUT, 200, OK_0),
	/* the head goes on past the capture size */
	I(IN, 300, "GET /2 HTTP/1.1\r\nHost: e\r\nCookie: abc",
	  .uncaptured = 5000),
	I(OUT, 400, OK_0),
	I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
	I(OUT, 600, OK_2),
	/* a request that starts in uncaptured bytes, after a body */
	I(IN, 700, "POST /4 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	  .uncaptured = 300),
	I(OUT, 800, OK_0),
	I(IN, 900, "GET /5 HTTP/1.1\r\n\r\n"),
	I(OUT, 1000, OK_2),
};

static void test_head_not_captured(void)
{
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 0 },
		{ "GET", "/3", 200, 500, 600, 0, 2 },
		/* the queue was cleared when the next head went unseen */
		{ "GET", "/5", 200, 900, 1000, 0, 2 },
	};
	const struct want w = {
		HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex,
		{ [HTTP_ERR_HEAD_NOT_CAPTURED] = 2,
		  [HTTP_ERR_UNMATCHED_RESPONSE] = 2 },
	};

	CASE("head not captured", HTTP_ROLE_SERVER, head_not_captured, &w);
}

static void test_body_not_captured(void)
{
	const struct item items[] = {
		I(IN, 100, "POST /up HTTP/1.1\r\nContent-Length: 50000\r\n\r\n"
			   "0123456789", .uncaptured = 49990),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
			    "abc", .uncaptured = 99997),
		/* a whole syscall of body bytes with none captured */
		I(IN, 300, "GET /big HTTP/1.1\r\n\r\n"),
		I(OUT, 400, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n2710\r\n", .whole = true),
		I(OUT, 410, "", .uncaptured = 10000),
		I(OUT, 420, "\r\n0\r\n\r\n"),
		I(IN, 500, GET_A),
		I(OUT, 600, OK_2),
	};
	const struct want_ex ex[] = {
		{ "POST", "/up", 200, 100, 200, 50000, 100000 },
		{ "GET", "/big", 200, 300, 420, 0, 10000 },
		{ "GET", "/a", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 3, ex, {0} };

	CASE("body not captured", HTTP_ROLE_SERVER, items, &w);
}

static void test_loss_inside_body(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n"
			    "abcd", .uncaptured = 996),
		I(OUT, 250, "lost", .uncaptured = 4996, .dropped = true),
		I(OUT, 300, "tail", .uncaptured = 3996),
		/* lost inside chunk data */
		I(IN, 400, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 500, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n1000\r\nab", .whole = true),
		I(OUT, 550, "cd", .uncaptured = 1000, .dropped = true),
		I(OUT, 600, "ef", .uncaptured = 3090, .whole = true),
		I(OUT, 610, "\r\n0\r\n\r\n"),
		/* a body ending inside lost bytes ends with the syscall that
		 * revealed the loss */
		I(IN, 700, "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 800, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n"
			    "abc", .uncaptured = 997),
		I(OUT, 850, "x", .uncaptured = 1999, .dropped = true),
		I(IN, 900, "GET /4 HTTP/1.1\r\n\r\n"),
		I(OUT, 1000, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 300, 0, 10000 },
		{ "GET", "/2", 200, 400, 610, 0, 4096 },
		{ "GET", "/3", 200, 700, 1000, 0, 3000 },
		{ "GET", "/4", 200, 900, 1000, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 4, ex, {0} };

	CASE("loss inside a body", HTTP_ROLE_SERVER, items, &w);
}

static void test_loss_covering_request(void)
{
	/* the answer comes before the loss shows */
	const struct item answer_first[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_0),
		I(IN, 300, "GET /2 HTTP/1.1\r\nHost: e\r\n\r\n", .dropped = true),
		I(OUT, 400, OK_2),
		I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_0),
	};
	/* the loss shows (mid-head) before the answer */
	const struct item loss_first[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_0),
		I(IN, 300, "GET /2 HTTP/1.1\r\n", .dropped = true),
		I(IN, 310, "Host: e\r\n\r\n"),
		I(OUT, 400, OK_2),
		I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_0),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 0 },
		{ "GET", "/3", 200, 500, 600, 0, 0 },
	};
	const struct want w = {
		HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
		{ [HTTP_ERR_GAP] = 1, [HTTP_ERR_UNMATCHED_RESPONSE] = 1 },
	};

	CASE("loss of a request, answer first", HTTP_ROLE_SERVER,
	     answer_first, &w);
	CASE("loss of a request, loss first", HTTP_ROLE_SERVER, loss_first,
	     &w);
}

/* Losing the answer must not pair the next answer with the old request. */
static void test_loss_covering_response(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_0),
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 400, OK_2, .dropped = true),
		I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 600, OK_0),
		I(IN, 700, "GET /4 HTTP/1.1\r\n\r\n"),
		I(OUT, 800, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 0 },
		{ "GET", "/4", 200, 700, 800, 0, 2 },
	};
	/* /3's answer arrives after the loss, with /2 and /3 forgotten */
	const struct want w = {
		HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
		{ [HTTP_ERR_GAP] = 1, [HTTP_ERR_UNMATCHED_RESPONSE] = 1 },
	};

	CASE("loss of a response", HTTP_ROLE_SERVER, items, &w);
}

static void test_loss_at_stream_start(void)
{
	/* a known-role connection whose first bytes were lost is not
	 * classified from its middle; it resyncs quietly, and the answer
	 * to the lost request answers nothing known */
	const struct item items[] = {
		I(IN, 100, "GET /0 HTTP/1.1\r\n\r\n", .dropped = true),
		I(OUT, 105, OK_0),
		I(IN, 110, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 210, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 110, 210, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex, {0} };

	CASE("loss at stream start", HTTP_ROLE_SERVER, items, &w);
}

static void test_reordered(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		/* a stale copy of bytes already seen */
		I(IN, 250, "GET /x HTTP/1.1\r\n\r\n", .rewind = 10),
		I(OUT, 260, OK_0, .rewind = 40),
		I(IN, 300, "GET /b HTTP/1.1\r\n\r\n"),
		I(OUT, 400, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 200, 0, 2 },
		{ "GET", "/b", 200, 300, 400, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_GAP] = 2 } };

	CASE("reordered events", HTTP_ROLE_SERVER, items, &w);
}

static void test_chunk_errors(void)
{
	static const char *const bad[] = {
		"zz\r\nab\r\n0\r\n\r\n",                 /* not hex */
		"\r\n0\r\n\r\n",                         /* no size */
		"2\r\nabXY0\r\n\r\n",                    /* no CRLF after data */
		"2x\r\nab\r\n0\r\n\r\n",
		"1000000000000000\r\n",                  /* 16 hex digits */
		"2;a\x01\r\nab\r\n0\r\n\r\n",            /* control in ext */
		"2\r\nab\r\n0\r\n\rX",                   /* bad final line */
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 0 },
		{ "GET", "/3", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_BAD_CHUNK] = 1 } };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *rsp = build("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
				  "chunked\r\n\r\n", 'x', 0, bad[i]);
		const struct item items[] = {
			I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
			I(OUT, 200, OK_0),
			I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
			I(OUT, 400, rsp),
			I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
			I(OUT, 600, OK_2),
		};
		char name[64];

		snprintf(name, sizeof(name), "bad chunk #%zu", i);
		CASE(name, HTTP_ROLE_SERVER, items, &w);
		free(rsp);
	}
}

static void test_chunk_framing_unseen(void)
{
	/* A chunk-size line past the capture, and one in lost bytes: the
	 * bodies are counted through to their ends (the next request; the
	 * last chunk, seen), each exchange ending with its last write. */
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n3\r\nabc\r\n", .uncaptured = 20),
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 400, OK_2),
		I(IN, 500, "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 600, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n3\r\nabc\r\n"),
		I(OUT, 610, "3\r\nabc\r\n", .dropped = true),
		I(OUT, 620, "0\r\n\r\n"),
		I(IN, 700, "GET /4 HTTP/1.1\r\n\r\n"),
		I(OUT, 800, OK_2),
	};
	/* body bytes: chunk data, then all bytes once the framing is lost */
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 3 + 20 },
		{ "GET", "/2", 200, 300, 400, 0, 2 },
		{ "GET", "/3", 200, 500, 620, 0, 3 + 8 + 5 },
		{ "GET", "/4", 200, 700, 800, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 4, ex,
				{ 0 } };

	CASE("chunk framing not seen", HTTP_ROLE_SERVER, items, &w);
}

/*
 * Chunked bodies whose framing falls past what the kernel copied, at every
 * offset: a response of three chunks and trailers written in two syscalls
 * split at each byte, each syscall copied up to a bound; then a request
 * dropped whole by the kernel inside the body. Every answer is counted
 * once and ends with its last write, and the next exchange is counted too.
 */
static void framing_case(enum http_role role, const char *rsp, size_t split,
			 size_t cap1, size_t cap2, bool drop_middle)
{
	int req = role == HTTP_ROLE_SERVER ? IN : OUT;
	int out = role == HTTP_ROLE_SERVER ? OUT : IN;
	size_t len = strlen(rsp);
	size_t c1 = split < cap1 ? split : cap1;
	size_t c2 = len - split < cap2 ? len - split : cap2;
	struct item items[5];
	size_t n = 0;
	struct result *r = malloc(sizeof(*r));

	items[n++] = I(req, 100, GET_A);
	items[n++] = I(out, 200, rsp, .len = c1, .uncaptured = split - c1);
	/* (data NULL: nothing of it captured) */
	items[n++] = I(out, 300, c2 ? rsp + split : NULL, .len = c2,
		       .uncaptured = len - split - c2, .dropped = drop_middle);
	items[n++] = I(req, 400, "GET /2 HTTP/1.1\r\n\r\n");
	items[n++] = I(out, 500, OK_2);
	run(role, items, n, SPLIT_WHOLE, 0, r);
	CHECK_INT(r->n, 2);
	if (r->n == 2) {
		CHECK_STR(r->ex[0].target, "/a");
		CHECK_INT(r->ex[0].status, 200);
		CHECK_INT(r->ex[0].start_ns, 100);
		/* a last write the kernel lost is not known: the last one
		 * seen is the end (and the gap is counted) */
		CHECK_INT(r->ex[0].end_ns, drop_middle ? 200 : 300);
		CHECK_STR(r->ex[1].target, "/2");
		CHECK_INT(r->ex[1].end_ns, 500);
	}
	for (int e = 0; e < HTTP_ERR__COUNT; e++)
		if (r->errs[e] && !(drop_middle && e == HTTP_ERR_GAP)) {
			fprintf(stderr, "  %s: %d\n", http_parse_error_name(e),
				r->errs[e]);
			check_case_failed = 1;
		}
	if (check_case_failed)
		fprintf(stderr, "  ^ %s, split %zu, caps %zu/%zu%s\n",
			role == HTTP_ROLE_SERVER ? "server" : "client", split,
			cap1, cap2, drop_middle ? ", middle lost" : "");
	free(r);
}

static void test_chunked_framing_sweep(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char *const bodies[] = {
		"5\r\nhello\r\n6\r\n world\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
		"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Trailer: a\r\nY: b\r\n\r\n",
	};
	static const size_t caps[] = { 0, 1, 3, 7, 12, 4096 };
	char rsp[256];

	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		size_t len;

		snprintf(rsp, sizeof(rsp), "%s%s", head, bodies[b]);
		len = strlen(rsp);
		for (size_t split = sizeof(head) - 1; split < len; split++)
			for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]);
			     i++)
				for (size_t j = 0;
				     j < sizeof(caps) / sizeof(caps[0]); j++) {
					size_t cap1 = sizeof(head) - 1 + caps[i];

					framing_case(HTTP_ROLE_SERVER, rsp, split,
						     cap1, caps[j], false);
					framing_case(HTTP_ROLE_CLIENT, rsp, split,
						     cap1, caps[j], false);
				}
		/* the kernel lost the second write */
		for (size_t split = sizeof(head) - 1; split < len; split++) {
			framing_case(HTTP_ROLE_SERVER, rsp, split, 4096, 4096,
				     true);
			framing_case(HTTP_ROLE_CLIENT, rsp, split, 4096, 4096,
				     true);
		}
	}
}

/* The last chunk seen ends the body at once, trailers and all: nothing
 * waits for the next request or the close. The framing is lost in the
 * first write: the next chunk-size line is in its uncopied bytes. */
static void test_lost_framing_ends_at_last_chunk(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n2000\r\n", .uncaptured = 8194 + 6),
		I(OUT, 300, "2000\r\n", .uncaptured = 8194),
		I(OUT, 400, "0\r\nServer-Timing: total;dur=1\r\n\r\n",
		  .whole = true),
	};
	const struct want_ex ex[] = {
		/* chunk data, then all bytes once the framing is lost */
		{ "GET", "/a", 200, 100, 400, 0, 0x2000 + 6 + 6 + 8194 + 33 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1, ex,
				{ 0 } };

	CASE("lost framing, last chunk seen", HTTP_ROLE_SERVER, items, &w);
}

/* A chunked body written a chunk per syscall, of which the kernel copied
 * only each syscall's first bytes: the CRLF after each chunk's data is in
 * bytes not copied, and taken as read, so every chunk-size line is seen
 * and the body is parsed exactly. */
static void test_chunk_end_not_copied(void)
{
	const struct item items[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n2000\r\n", .uncaptured = 8194),
		I(OUT, 300, "2000\r\n", .uncaptured = 8194),
		I(OUT, 400, "0\r\n\r\n", .whole = true),
		I(IN, 500, GET_A),
		I(OUT, 600, OK_2),
	};
	const struct want_ex ex[] = {
		{ "GET", "/a", 200, 100, 400, 0, 0x4000 },
		{ "GET", "/a", 200, 500, 600, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ 0 } };

	CASE("chunk end not copied", HTTP_ROLE_SERVER, items, &w);
}

/* A lost-framing body followed by the next response in one direction
 * (pipelined requests): the status line at a syscall's start ends it. */
static void test_lost_framing_then_next_response(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n10\r\n", .uncaptured = 5000),
		I(OUT, 300, OK_2, .whole = true),
	};
	const struct want_ex ex[] = {
		/* 16 bytes of chunk data and its CRLF, then 4982 lost */
		{ "GET", "/1", 200, 100, 200, 0, 16 + 4982 },
		{ "GET", "/2", 200, 100, 300, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ 0 } };

	CASE("lost framing, next response", HTTP_ROLE_SERVER, items, &w);
}

/* A chunked upload whose framing was not seen: the request ends when its
 * answer starts, and the exchange is counted. */
static void test_lost_framing_upload(void)
{
	const struct item items[] = {
		I(IN, 100, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			   "\r\n40000\r\n", .uncaptured = 262144),
		I(IN, 110, "", .uncaptured = 10),
		I(OUT, 200, OK_2, .whole = true),
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 400, OK_2),
	};
	const struct want_ex ex[] = {
		/* chunk data; its CRLF; 8 bytes with the framing lost */
		{ "POST", "/up", 200, 100, 200, 262144 + 8, 2 },
		{ "GET", "/2", 200, 300, 400, 0, 2 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ 0 } };

	CASE("lost framing, upload", HTTP_ROLE_SERVER, items, &w);
}

/* Every request sent is measured or accounted for: the requests of the
 * cases above that were not measured, by reason, in every split. */
static void check_unmeasured(const char *name, const struct item *items,
			     size_t n, int measured, int forgotten, int head,
			     int overflow)
{
	struct result *r = malloc(sizeof(*r));

	for (uint64_t s = 0; s <= SEEDS; s++) {
		run(HTTP_ROLE_SERVER, items, n, s ? SPLIT_RANDOM : SPLIT_WHOLE,
		    s, r);
		CHECK_INT(r->n, measured);
		CHECK_INT(r->unmeasured[HTTP_UNMEASURED_FORGOTTEN], forgotten);
		CHECK_INT(r->unmeasured[HTTP_UNMEASURED_HEAD], head);
		CHECK_INT(r->unmeasured[HTTP_UNMEASURED_OVERFLOW], overflow);
		if (check_case_failed) {
			fprintf(stderr, "  ^ in %s, seed %llu\n", name,
				(unsigned long long)s);
			break;
		}
	}
	free(r);
}

static void test_unmeasured_accounting(void)
{
	/* 3 pipelined, then a malformed header in the 4th: all 4 lost */
	const struct item malformed[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
			   "GET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n"
			   "Bad Header\r\n\r\n"),
		I(OUT, 200, OK_2),
		I(IN, 300, "GET /5 HTTP/1.1\r\n\r\n", .whole = true),
		I(OUT, 400, OK_2, .whole = true),
	};
	/* a request the kernel lost whole: the kernel's count, not ours */
	const struct item lost[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n", .dropped = true),
		I(OUT, 200, OK_2),
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n", .whole = true),
		I(OUT, 400, OK_2, .whole = true),
	};

	/* test_head_not_captured's 6 requests: /1 /3 /5 measured; /2's head
	 * past the capture; /4 waiting when the head after it went unseen;
	 * that head */
	check_unmeasured("head not captured", head_not_captured,
			 sizeof(head_not_captured) / sizeof(head_not_captured[0]),
			 3, 1, 2, 0);
	check_unmeasured("malformed", malformed,
			 sizeof(malformed) / sizeof(malformed[0]), 1, 3, 1, 0);
	check_unmeasured("lost", lost, sizeof(lost) / sizeof(lost[0]), 1, 0, 0,
			 0);
}

static void test_unmatched_response(void)
{
	const struct item items[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_0),
		/* /2's answer, an answer to nothing and a stray interim in
		 * one syscall: the bodies ("HTTP/") are skipped by length */
		I(IN, 300, "GET /2 HTTP/1.1\r\n\r\n"),
		I(OUT, 400, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/"
			    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/"
			    "HTTP/1.1 100 Continue\r\n\r\n"),
	};
	const struct want_ex ex[] = {
		{ "GET", "/1", 200, 100, 200, 0, 0 },
		{ "GET", "/2", 200, 300, 400, 0, 5 },
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 2, ex,
				{ [HTTP_ERR_UNMATCHED_RESPONSE] = 1 } };

	CASE("unmatched response", HTTP_ROLE_SERVER, items, &w);
}

static void test_pipeline_overflow(void)
{
	enum { N = HTTP_PIPELINE_MAX + 1 };
	static char reqs[N * 32], rsps[N * 64 + N * N], targets[N][8];
	struct want_ex ex[N];
	size_t r = 0, s = 0;

	for (int k = 0; k < N; k++) {
		snprintf(targets[k], sizeof(targets[k]), "/%d", k);
		r += sprintf(reqs + r, "GET /%d HTTP/1.1\r\n\r\n", k);
		s += sprintf(rsps + s, "HTTP/1.1 200 OK\r\nContent-Length: %d"
			     "\r\n\r\n", k);
		memset(rsps + s, 'x', k);
		s += k;
		rsps[s] = '\0';
		ex[k] = (struct want_ex){ "GET", targets[k], 200, 100, 200, 0,
					  (uint64_t)k };
	}
	/* the request that did not fit is answered, and skipped */
	ex[N - 1] = (struct want_ex){ "GET", "/after", 200, 300, 400, 0, 2 };
	{
		const struct item items[] = {
			I(IN, 100, reqs),
			I(OUT, 200, rsps),
			I(IN, 300, "GET /after HTTP/1.1\r\n\r\n"),
			I(OUT, 400, OK_2),
		};
		const struct want w = {
			HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, N, ex,
			{ [HTTP_ERR_PIPELINE_OVERFLOW] = 1 },
		};

		CASE("pipeline overflow", HTTP_ROLE_SERVER, items, &w);
	}
}

/* ---- closing ---- */

static void test_client_dies(void)
{
	const struct item mid_head[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		I(IN, 300, "POST /up HTTP/1.1\r\nHost: e\r\nContent-Le"),
		I(CLOSE, 400, NULL),
	};
	const struct item mid_line[] = {
		I(IN, 300, "POST /up HT"),
		I(CLOSE, 400, NULL),
	};
	const struct item mid_body[] = {
		I(IN, 300, "POST /up HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
			   "0123456789"),
		I(CLOSE, 400, NULL),
	};
	const struct item pipelined[] = {
		I(IN, 100, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
			   "GET /3 HTTP/1.1\r\n\r\n"),
		I(OUT, 200, OK_2),
		I(CLOSE, 400, NULL),
	};
	const struct item quiet[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, OK_2),
		I(CLOSE, 300, NULL),
	};
	const struct want_ex ex_a[] = { { "GET", "/a", 200, 100, 200, 0, 2 } };
	const struct want_ex ex_1[] = { { "GET", "/1", 200, 100, 200, 0, 2 } };
	const struct want w_head = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1,
				     ex_a, { [HTTP_ERR_INCOMPLETE] = 1 } };
	/* not even a request line yet: nothing says it is HTTP */
	const struct want w_line = { HTTP_ROLE_SERVER, HTTP_PROTO_UNKNOWN, 0,
				     NULL, {0} };
	const struct want w_body = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 0,
				     NULL, { [HTTP_ERR_INCOMPLETE] = 1 } };
	const struct want w_pipe = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1,
				     ex_1, { [HTTP_ERR_INCOMPLETE] = 2 } };
	const struct want w_quiet = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 1,
				      ex_a, {0} };

	CASE("client dies mid-head", HTTP_ROLE_SERVER, mid_head, &w_head);
	CASE("client dies mid-line", HTTP_ROLE_SERVER, mid_line, &w_line);
	CASE("client dies mid-body", HTTP_ROLE_SERVER, mid_body, &w_body);
	CASE("client dies, pipelined", HTTP_ROLE_SERVER, pipelined, &w_pipe);
	CASE("clean close", HTTP_ROLE_SERVER, quiet, &w_quiet);
}

static void test_server_dies(void)
{
	const struct item mid_body[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
			    "0123456789"),
		I(CLOSE, 300, NULL),
	};
	const struct item mid_chunks[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "\r\n5\r\nhello\r\n"),
		I(CLOSE, 300, NULL),
	};
	const struct item mid_head[] = {
		I(IN, 100, GET_A),
		I(OUT, 200, "HTTP/1.1 200 OK\r\nContent-Le"),
		I(CLOSE, 300, NULL),
	};
	const struct item after_100[] = {
		I(IN, 100, "POST /p HTTP/1.1\r\nExpect: 100-continue\r\n"
			   "Content-Length: 2\r\n\r\n"),
		I(OUT, 150, "HTTP/1.1 100 Continue\r\n\r\n"),
		I(IN, 160, "hi"),
		I(CLOSE, 300, NULL),
	};
	const struct want w = { HTTP_ROLE_SERVER, HTTP_PROTO_HTTP, 0, NULL,
				{ [HTTP_ERR_INCOMPLETE] = 1 } };

	CASE("server dies mid-body", HTTP_ROLE_SERVER, mid_body, &w);
	CASE("server dies mid-chunks", HTTP_ROLE_SERVER, mid_chunks, &w);
	CASE("server dies mid-head", HTTP_ROLE_SERVER, mid_head, &w);
	CASE("server dies after 100", HTTP_ROLE_SERVER, after_100, &w);
}

static void test_after_close(void)
{
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct result *r = calloc(1, sizeof(*r));

	http_conn_data(c, IN, 0, (const uint8_t *)GET_A, strlen(GET_A),
		       strlen(GET_A), 1, &cbs, r);
	http_conn_close(c, 2, &cbs, r);
	http_conn_close(c, 3, &cbs, r); /* counted once */
	http_conn_data(c, OUT, 0, (const uint8_t *)OK_2, strlen(OK_2),
		       strlen(OK_2), 4, &cbs, r);
	CHECK_INT(r->n, 0);
	CHECK_INT(r->errs[HTTP_ERR_INCOMPLETE], 1);
	http_conn_free(c);
	free(r);
}

/* The connection leaves the caller's view without its close (podtap
 * stopping, the entry replaced or swept): a response delimited by close
 * has no known end, so nothing is reported and it is counted. */
static void test_abandon(void)
{
	static const char *const rsp = "HTTP/1.1 200 OK\r\n\r\nstreaming...";
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct result *r = calloc(1, sizeof(*r));

	http_conn_data(c, IN, 0, (const uint8_t *)GET_A, strlen(GET_A),
		       strlen(GET_A), 100, &cbs, r);
	http_conn_data(c, OUT, 0, (const uint8_t *)rsp, strlen(rsp),
		       strlen(rsp) + 5000, 200, &cbs, r);
	http_conn_abandon(c, &cbs, r);
	http_conn_abandon(c, &cbs, r); /* counted once */
	http_conn_close(c, 300, &cbs, r);
	CHECK_INT(r->n, 0);
	CHECK_INT(r->errs[HTTP_ERR_INCOMPLETE], 1);
	http_conn_free(c);

	/* ... while the close itself ends it, with its last write */
	memset(r, 0, sizeof(*r));
	c = http_conn_new(HTTP_ROLE_SERVER);
	http_conn_data(c, IN, 0, (const uint8_t *)GET_A, strlen(GET_A),
		       strlen(GET_A), 100, &cbs, r);
	http_conn_data(c, OUT, 0, (const uint8_t *)rsp, strlen(rsp),
		       strlen(rsp), 200, &cbs, r);
	http_conn_close(c, 300, &cbs, r);
	CHECK_INT(r->n, 1);
	CHECK_INT(r->ex[0].start_ns, 100);
	CHECK_INT(r->ex[0].end_ns, 200);
	CHECK_INT(r->errs[HTTP_ERR_INCOMPLETE], 0);
	http_conn_free(c);

	/* pending requests of an abandoned client connection */
	memset(r, 0, sizeof(*r));
	c = http_conn_new(HTTP_ROLE_CLIENT);
	http_conn_data(c, OUT, 0, (const uint8_t *)GET_A, strlen(GET_A),
		       strlen(GET_A), 100, &cbs, r);
	http_conn_data(c, OUT, strlen(GET_A), (const uint8_t *)GET_A,
		       strlen(GET_A), strlen(GET_A), 110, &cbs, r);
	http_conn_abandon(c, &cbs, r);
	CHECK_INT(r->n, 0);
	CHECK_INT(r->errs[HTTP_ERR_INCOMPLETE], 2);
	http_conn_free(c);
	http_conn_abandon(NULL, &cbs, NULL);
	free(r);
}

/* An end stamped before the start (events of two CPUs whose clocks
 * disagree) makes no exchange. */
static void test_end_before_start(void)
{
	static const char *const rsp = "HTTP/1.1 200 OK\r\n\r\nbody";
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct result *r = calloc(1, sizeof(*r));

	http_conn_data(c, IN, 0, (const uint8_t *)GET_A, strlen(GET_A),
		       strlen(GET_A), 1000, &cbs, r);
	http_conn_data(c, OUT, 0, (const uint8_t *)rsp, strlen(rsp),
		       strlen(rsp), 500, &cbs, r);
	http_conn_close(c, 3000, &cbs, r);
	CHECK_INT(r->n, 0);
	CHECK_INT(r->errs[HTTP_ERR_INCOMPLETE], 1);
	http_conn_free(c);
	free(r);
}

/* ---- API edges ---- */

static void test_null_callbacks(void)
{
	const struct http_conn_callbacks empty = { 0 };
	const struct http_conn_callbacks *cbsets[] = { NULL, &empty };

	for (int k = 0; k < 2; k++) {
		struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
		uint64_t pos[2] = { 0, 0 };
		const struct item items[] = {
			I(IN, 1, GET_A),
			I(OUT, 2, OK_2),
			I(IN, 3, "GET /x HTTP/1.1\r\n\r\n", .rewind = 5),
			I(IN, 4, "junk\r\n"),
			I(OUT, 5, OK_2),
			I(IN, 6, "GET /b HTTP/1.1\r\n\r\n"),
			I(CLOSE, 7, NULL),
		};

		for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			feed_item(c, &items[i], pos, SPLIT_BYTES, cbsets[k],
				  NULL);
		CHECK_INT(http_conn_protocol(c), HTTP_PROTO_HTTP);
		http_conn_free(c);
	}
	http_conn_free(NULL);
	http_conn_data(NULL, IN, 0, (const uint8_t *)"x", 1, 1, 0, &cbs, NULL);
	http_conn_close(NULL, 0, &cbs, NULL);
	CHECK_INT(http_conn_protocol(NULL), HTTP_PROTO_UNKNOWN);
	CHECK_INT(http_conn_role(NULL), HTTP_ROLE_UNKNOWN);
}

static void test_odd_arguments(void)
{
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct result *r = calloc(1, sizeof(*r));
	size_t n = strlen(GET_A);

	/* captured beyond total is clamped; NULL data is all unknown */
	http_conn_data(c, IN, 0, (const uint8_t *)GET_A, n + 100, n, 1, &cbs,
		       r);
	http_conn_data(c, OUT, 0, NULL, 5, 5, 2, &cbs, r);
	http_conn_data(c, IN, n, (const uint8_t *)"", 0, 0, 3, &cbs, r);
	http_conn_data(c, (enum http_dir)7, 0, (const uint8_t *)"x", 1, 1, 4,
		       &cbs, r);
	CHECK_INT(r->n, 0);
	/* the answer's head was not seen */
	CHECK_INT(r->errs[HTTP_ERR_HEAD_NOT_CAPTURED], 1);
	CHECK_INT(http_conn_protocol(c), HTTP_PROTO_HTTP);
	http_conn_free(c);
	free(r);

	c = http_conn_new((enum http_role)9);
	CHECK_INT(http_conn_role(c), HTTP_ROLE_UNKNOWN);
	http_conn_free(c);
}

static void test_error_names(void)
{
	CHECK_STR(http_parse_error_name(HTTP_ERR_MALFORMED_REQUEST),
		  "malformed_request");
	CHECK_STR(http_parse_error_name(HTTP_ERR_MALFORMED_RESPONSE),
		  "malformed_response");
	CHECK_STR(http_parse_error_name(HTTP_ERR_HEAD_TOO_LARGE),
		  "head_too_large");
	CHECK_STR(http_parse_error_name(HTTP_ERR_HEAD_NOT_CAPTURED),
		  "head_not_captured");
	CHECK_STR(http_parse_error_name(HTTP_ERR_BAD_CHUNK), "bad_chunk");
	CHECK_STR(http_parse_error_name(HTTP_ERR_UNMATCHED_RESPONSE),
		  "unmatched_response");
	CHECK_STR(http_parse_error_name(HTTP_ERR_PIPELINE_OVERFLOW),
		  "pipeline_overflow");
	CHECK_STR(http_parse_error_name(HTTP_ERR_GAP), "gap");
	CHECK_STR(http_parse_error_name(HTTP_ERR_INCOMPLETE), "incomplete");
	CHECK_STR(http_parse_error_name(HTTP_ERR__COUNT), "unknown");
	CHECK_STR(http_parse_error_name((enum http_parse_error)-1), "unknown");
}

/* ---- random valid conversations ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, unsigned long long v)
{
	char tmp[128];

	sb_add(b, tmp, snprintf(tmp, sizeof(tmp), fmt, v));
}

/* n body bytes of any value: counted, never parsed */
static void sb_body(struct sbuf *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = (char)rnd();

		sb_add(b, &c, 1);
	}
}

/* A chunked body of `total` bytes, with extensions and trailers. */
static void sb_chunked(struct sbuf *b, size_t total)
{
	while (total) {
		size_t n = 1 + rnd() % (total < 90 ? total : 90);

		sb_printf(b, rnd() % 2 ? "%llx" : "%llX", n);
		if (rnd() % 3 == 0)
			sb_add(b, ";ext=\"v\"", 8);
		sb_add(b, "\r\n", 2);
		sb_body(b, n);
		sb_add(b, "\r\n", 2);
		total -= n;
	}
	sb_add(b, "0\r\n", 3);
	if (rnd() % 2)
		sb_add(b, "Trailer-X: 1\r\n", 14);
	sb_add(b, "\r\n", 2);
}

struct conv {
	struct item items[64];
	size_t n;
	struct sbuf data[64];
	struct want_ex ex[16];
	char targets[16][32];
	int nex;
};

static struct item *conv_item(struct conv *cv, int dir, uint64_t ts)
{
	struct item *it = &cv->items[cv->n];

	*it = I(dir, ts, NULL);
	memset(&cv->data[cv->n], 0, sizeof(cv->data[0]));
	cv->n++;
	return it;
}

/* Moves the last `n` bytes of an item past its capture. */
static void conv_uncapture(struct conv *cv, struct item *it, size_t n)
{
	struct sbuf *b = &cv->data[it - cv->items];

	b->len -= n;
	b->p[b->len] = '\0';
	it->uncaptured = n;
}

static void gen_request(struct sbuf *b, struct want_ex *x, char *target,
			size_t *body_len, bool *chunked)
{
	static const char *const methods[] = {
		"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS",
		"PROPFIND",
	};
	const char *m = methods[rnd() % 8];
	bool lf = rnd() % 8 == 0;
	const char *eol = lf ? "\n" : "\r\n";

	snprintf(target, 32, "/r/%llu?q=%llu",
		 (unsigned long long)(rnd() % 1000),
		 (unsigned long long)(rnd() % 100));
	x->method = m;
	x->target = target;
	sb_add(b, m, strlen(m));
	sb_add(b, " ", 1);
	sb_add(b, target, strlen(target));
	sb_add(b, rnd() % 4 ? " HTTP/1.1" : " HTTP/1.0", 9);
	sb_add(b, eol, strlen(eol));
	sb_add(b, "Host: svc", 9);
	sb_add(b, eol, strlen(eol));
	if (rnd() % 2) {
		sb_printf(b, "X-Pad: %llu", rnd());
		sb_add(b, eol, strlen(eol));
	}
	*chunked = false;
	*body_len = 0;
	if (rnd() % 2) {
		*body_len = rnd() % 400;
		*chunked = *body_len && rnd() % 2;
		if (*chunked)
			sb_add(b, "Transfer-Encoding: chunked", 26);
		else
			sb_printf(b, "Content-Length: %llu", *body_len);
		sb_add(b, eol, strlen(eol));
	}
	sb_add(b, eol, strlen(eol));
}

/* Adds the final response; returns its body length. */
static size_t gen_response(struct sbuf *b, const char *method, int *status,
			   bool until_close, bool *length_body)
{
	static const int statuses[] = { 200, 201, 204, 304, 404, 500, 503 };
	size_t n = rnd() % 500;
	bool head = !strcmp(method, "HEAD");

	*status = head ? 200 : statuses[rnd() % 7];
	*length_body = false;
	if (until_close && !head) {
		*status = 200;
		sb_add(b, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", 30);
		sb_body(b, n);
		return n;
	}
	sb_printf(b, "HTTP/1.1 %llu Whatever\r\n", *status);
	if (head || *status == 204 || *status == 304) {
		if (rnd() % 2)
			sb_printf(b, "Content-Length: %llu\r\n", n);
		sb_add(b, "\r\n", 2);
		return 0;
	}
	if (rnd() % 2) {
		sb_add(b, "Transfer-Encoding: chunked\r\n\r\n", 30);
		sb_chunked(b, n);
	} else {
		sb_printf(b, "Content-Length: %llu\r\n\r\n", n);
		sb_body(b, n);
		*length_body = true;
	}
	return n;
}

/* A server conversation: pipelined groups, interim answers, bodies of
 * all kinds, uncaptured body tails, an HTTP/1.0 answer to end. */
static void gen_conversation(struct conv *cv)
{
	int total = 1 + rnd() % 8;
	uint64_t ts = 100;
	bool close_last = rnd() % 3 == 0;

	cv->n = 0;
	cv->nex = 0;
	while (cv->nex < total) {
		int group = rnd() % 3 ? 1 : 1 + rnd() % 3, first = cv->nex;
		struct item *req = conv_item(cv, IN, ts);
		struct item *rsp = NULL;
		bool expect = false;
		size_t last_body = 0;
		bool last_chunked = false;

		if (group > total - first)
			group = total - first;
		for (int j = 0; j < group; j++) {
			struct want_ex *x = &cv->ex[cv->nex];
			struct sbuf *b = &cv->data[req - cv->items];
			size_t body;
			bool chunked;

			gen_request(b, x, cv->targets[cv->nex], &body, &chunked);
			x->start = ts;
			x->req_body = body;
			/* 100-continue: the body waits for the interim */
			expect = group == 1 && body && !chunked &&
				 rnd() % 3 == 0;
			if (expect) {
				rsp = conv_item(cv, OUT, ++ts);
				sb_add(&cv->data[rsp - cv->items],
				       "HTTP/1.1 100 Continue\r\n\r\n", 25);
				req = conv_item(cv, IN, ++ts);
				b = &cv->data[req - cv->items];
			}
			if (chunked)
				sb_chunked(b, body);
			else
				sb_body(b, body);
			last_body = body;
			last_chunked = chunked;
			cv->nex++;
		}
		if (last_body && !last_chunked && rnd() % 3 == 0)
			conv_uncapture(cv, req, 1 + rnd() % last_body);
		rsp = NULL;
		for (int j = first; j < cv->nex; j++) {
			struct want_ex *x = &cv->ex[j];
			bool until_close = close_last && j == total - 1;
			bool length_body;
			size_t body;

			if (!rsp || rnd() % 2)
				rsp = conv_item(cv, OUT, ++ts);
			if (rnd() % 5 == 0)
				sb_add(&cv->data[rsp - cv->items],
				       "HTTP/1.1 103 Early Hints\r\n"
				       "Link: </s.css>\r\n\r\n", 44);
			body = gen_response(&cv->data[rsp - cv->items],
					    x->method, &x->status, until_close,
					    &length_body);
			x->rsp_body = body;
			x->end = ts;
			/* HEAD answers have no body, even an HTTP/1.0 one */
			if (length_body && body && j == cv->nex - 1 &&
			    rnd() % 3 == 0)
				conv_uncapture(cv, rsp, 1 + rnd() % body);
		}
		ts += 10;
	}
	/* A body that ends at the close ended with its last write. */
	if (close_last)
		conv_item(cv, CLOSE, ++ts);
	for (size_t i = 0; i < cv->n; i++) {
		cv->items[i].data = cv->data[i].p;
		cv->items[i].len = cv->data[i].len;
	}
}

static void test_random_conversations(void)
{
	struct conv *cv = calloc(1, sizeof(*cv));

	for (uint64_t s = 1; s <= 150; s++) {
		bool client = s % 2;
		struct want w = {
			client ? HTTP_ROLE_CLIENT : HTTP_ROLE_SERVER,
			HTTP_PROTO_HTTP, 0, cv->ex, {0},
		};
		char name[64];

		seed(s * 7919);
		gen_conversation(cv);
		w.n = cv->nex;
		if (client)
			for (size_t i = 0; i < cv->n; i++)
				if (cv->items[i].dir != CLOSE)
					cv->items[i].dir = !cv->items[i].dir;
		snprintf(name, sizeof(name), "random conversation %llu",
			 (unsigned long long)s);
		check_splits(name, w.role, cv->items, cv->n, &w);
		for (size_t i = 0; i < cv->n; i++)
			free(cv->data[i].p);
	}
	free(cv);
}

/* ---- fuzzing ---- */

struct fuzz_result {
	int n, errs;
	bool bad;
	uint64_t max_ts;
};

/* Whatever the input, an exchange must be well formed. */
static void fuzz_exchange(void *ctx, const struct http_exchange *ex)
{
	struct fuzz_result *f = ctx;
	size_t mlen = strnlen(ex->method, HTTP_METHOD_MAX);

	f->n++;
	if ((ex->role != HTTP_ROLE_SERVER && ex->role != HTTP_ROLE_CLIENT) ||
	    mlen == 0 || mlen == HTTP_METHOD_MAX ||
	    strnlen(ex->target, HTTP_PATH_MAX) == HTTP_PATH_MAX ||
	    ex->status < 100 || ex->status > 599 ||
	    ex->end_ns < ex->start_ns || ex->end_ns > f->max_ts)
		f->bad = true;
}

static void fuzz_error(void *ctx, enum http_parse_error err)
{
	struct fuzz_result *f = ctx;

	if ((unsigned int)err >= HTTP_ERR__COUNT)
		f->bad = true;
	f->errs++;
}

static const struct http_conn_callbacks fuzz_cbs = { .on_exchange = fuzz_exchange, .on_error = fuzz_error };

/* Feeds bytes as random events in random directions. */
static void fuzz_feed(struct http_conn *c, int dir, const uint8_t *p,
		      size_t len, uint64_t pos[2], uint64_t *ts,
		      bool losses, struct fuzz_result *f)
{
	size_t off = 0;

	while (off < len) {
		size_t n = piece_len(SPLIT_RANDOM, len - off);
		size_t captured = n;

		if (losses && rnd() % 8 == 0)
			captured = rnd() % (n + 1);
		if (losses && rnd() % 16 == 0)
			pos[dir] += rnd() % 64; /* lost bytes */
		f->max_ts = ++*ts;
		send_event(c, dir, pos[dir], (const char *)p + off, captured, n,
			   *ts, &fuzz_cbs, f);
		pos[dir] += n;
		off += n;
	}
}

static void test_fuzz_random_bytes(void)
{
	uint8_t buf[600];
	int exchanges = 0, errors = 0, bad = 0;

	seed(42);
	for (int iter = 0; iter < 4000; iter++) {
		struct http_conn *c = http_conn_new(rnd() % 3);
		struct fuzz_result f = {0};
		uint64_t pos[2] = { 0, 0 }, ts = 0;
		int events = 1 + rnd() % 12;

		for (int e = 0; e < events; e++) {
			size_t len = rnd() % sizeof(buf);
			bool text = rnd() % 2;

			for (size_t i = 0; i < len; i++)
				/* half the runs in printable ASCII with line
				 * breaks, which gets further into heads */
				buf[i] = text ? (rnd() % 10 ? 32 + rnd() % 95
							    : (uint8_t)"\r\n :"[rnd() % 4])
					      : rnd();
			fuzz_feed(c, rnd() % 2, buf, len, pos, &ts, true, &f);
		}
		f.max_ts = ++ts;
		http_conn_close(c, ts, &fuzz_cbs, &f);
		http_conn_free(c);
		exchanges += f.n;
		errors += f.errs;
		bad += f.bad;
	}
	CHECK_INT(exchanges, 0);
	CHECK_INT(errors, 0);
	CHECK_INT(bad, 0);
}

/* Valid traffic to mutate, per direction, in order. */
static const struct {
	int dir;
	const char *s;
} fuzz_base[] = {
	{ IN, "GET /a?x=1 HTTP/1.1\r\nHost: e\r\nCookie: k=v\r\n\r\n" },
	{ OUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" },
	{ IN, "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "4;x=y\r\nbody\r\n0\r\nT: 1\r\n\r\n" },
	{ OUT, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" },
	{ IN, "HEAD /h HTTP/1.1\r\n\r\nGET /p1 HTTP/1.1\r\n\r\n"
	      "DELETE /p2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy" },
	{ OUT, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
	       "HTTP/1.1 304 Not Modified\r\n\r\n"
	       "HTTP/1.1 204 No Content\r\n\r\n" },
	{ IN, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n" },
	{ OUT, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x01x" },
};

static void test_fuzz_mutations(void)
{
	uint8_t buf[1024];
	int bad = 0, exchanges = 0;

	seed(7);
	for (int iter = 0; iter < 4000; iter++) {
		struct http_conn *c = http_conn_new(rnd() % 3);
		struct fuzz_result f = {0};
		uint64_t pos[2] = { 0, 0 }, ts = 0;
		bool losses = rnd() % 2;

		for (size_t k = 0; k < sizeof(fuzz_base) / sizeof(fuzz_base[0]);
		     k++) {
			size_t len = strlen(fuzz_base[k].s);
			int mutations = rnd() % 4;

			memcpy(buf, fuzz_base[k].s, len);
			while (mutations--) {
				size_t at = rnd() % (len + 1);
				size_t n = 1 + rnd() % 8;

				switch (rnd() % 4) {
				case 0: /* change a byte */
					if (at < len)
						buf[at] = rnd();
					break;
				case 1: /* delete bytes */
					if (at + n <= len) {
						memmove(buf + at, buf + at + n,
							len - at - n);
						len -= n;
					}
					break;
				case 2: /* insert bytes */
					if (len + n <= sizeof(buf)) {
						memmove(buf + at + n, buf + at,
							len - at);
						for (size_t i = 0; i < n; i++)
							buf[at + i] = rnd();
						len += n;
					}
					break;
				default: /* cut the tail */
					len = at;
					break;
				}
			}
			fuzz_feed(c, fuzz_base[k].dir, buf, len, pos, &ts,
				  losses, &f);
		}
		f.max_ts = ++ts;
		http_conn_close(c, ts, &fuzz_cbs, &f);
		http_conn_free(c);
		bad += f.bad;
		exchanges += f.n;
	}
	CHECK_INT(bad, 0);
	CHECK(exchanges > 0); /* the mutations left some traffic intact */
}

/* ---- request headers and on_request ---- */

struct seen_requests {
	int requests, exchanges;
	char targets[4][64];
	struct http_request_headers headers[4];
	uint8_t user0[4];
};

static void hdr_on_request(void *ctx, struct http_request *req)
{
	struct seen_requests *s = ctx;

	/* The caller's area comes zeroed and is handed back with the
	 * exchange. */
	CHECK_INT(req->user[0], 0);
	req->user[0] = (uint8_t)(0xa0 + s->requests);
	if (s->requests < 4)
		snprintf(s->targets[s->requests], sizeof(s->targets[0]), "%s",
			 req->target);
	s->requests++;
}

static void hdr_on_exchange(void *ctx, const struct http_exchange *ex)
{
	struct seen_requests *s = ctx;

	CHECK(ex->request != NULL);
	if (ex->request && s->exchanges < 4) {
		s->headers[s->exchanges] = ex->request->headers;
		s->user0[s->exchanges] = ex->request->user[0];
		CHECK_STR(ex->request->target, ex->target);
	}
	/* on_request came first, for this very request */
	CHECK(s->requests > s->exchanges);
	s->exchanges++;
}

static const struct http_conn_callbacks hdr_cbs = {
	.on_exchange = hdr_on_exchange,
	.on_request = hdr_on_request,
};

static const char hdr_request[] =
	"GET /a?q=1 HTTP/1.1\r\n"
	"Host: svc.shop:8080\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	"B3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n"
	"x-b3-traceid: 463ac35c9f6413ad\r\n"
	"X-B3-SpanId: a2fb4a1d1a96d312\r\n"
	"X-B3-Sampled: 1\r\n"
	"X-B3-Flags: 0\r\n"
	"Host: second.example\r\n"
	"\r\n"
	"GET /b HTTP/1.1\r\n"
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	"\r\n";
static const char hdr_response[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	"HTTP/1.1 204 No Content\r\n\r\n";

static void check_trace_headers(size_t step)
{
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct seen_requests s = { 0 };
	size_t n = sizeof(hdr_request) - 1, m = sizeof(hdr_response) - 1;

	for (size_t off = 0; off < n; off += step) {
		size_t len = off + step <= n ? step : n - off;

		send_event(c, HTTP_DIR_INGRESS, off, hdr_request + off, len, len,
			   10 + off, &hdr_cbs, &s);
	}
	/* Both heads were parsed before any answer: on_request ran for
	 * each, in order. */
	CHECK_INT(s.requests, 2);
	CHECK_STR(s.targets[0], "/a?q=1");
	CHECK_STR(s.targets[1], "/b");
	send_event(c, HTTP_DIR_EGRESS, 0, hdr_response, m, m, 5000, &hdr_cbs, &s);
	CHECK_INT(s.exchanges, 2);
	/* the first value of a header wins; names are case-insensitive */
	CHECK_STR(s.headers[0].host, "svc.shop:8080");
	CHECK_STR(s.headers[0].user_agent, "curl/7.88.1");
	CHECK_STR(s.headers[0].traceparent,
		  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	CHECK_STR(s.headers[0].b3,
		  "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
	CHECK_STR(s.headers[0].x_b3_traceid, "463ac35c9f6413ad");
	CHECK_STR(s.headers[0].x_b3_spanid, "a2fb4a1d1a96d312");
	CHECK_STR(s.headers[0].x_b3_sampled, "1");
	CHECK_STR(s.headers[0].x_b3_flags, "0");
	CHECK_INT(s.user0[0], 0xa0);
	/* two traceparent headers: W3C says to ignore both */
	CHECK_STR(s.headers[1].traceparent, "");
	CHECK_STR(s.headers[1].host, "");
	CHECK_INT(s.user0[1], 0xa1);
	http_conn_free(c);
}

static void test_trace_headers(void)
{
	check_trace_headers(sizeof(hdr_request)); /* whole */
	check_trace_headers(1);                   /* one byte at a time */
	check_trace_headers(7);
}

/* A header value longer than its field is cut, never overflows. */
static void test_trace_header_cut(void)
{
	char req[4096];
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	struct seen_requests s = { 0 };
	const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	int n;

	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nUser-Agent: %0900d\r\n"
		     "b3: %0300d\r\n\r\n", 7, 8);
	send_event(c, HTTP_DIR_INGRESS, 0, req, n, n, 1, &hdr_cbs, &s);
	send_event(c, HTTP_DIR_EGRESS, 0, rsp, sizeof(rsp) - 1, sizeof(rsp) - 1,
		   2, &hdr_cbs, &s);
	CHECK_INT(s.exchanges, 1);
	CHECK_INT(strlen(s.headers[0].user_agent),
		  sizeof(s.headers[0].user_agent) - 1);
	CHECK_INT(strlen(s.headers[0].b3), sizeof(s.headers[0].b3) - 1);
	http_conn_free(c);
}

/* ---- request offsets and ends (what same-node stitching matches on) ---- */

struct request_log {
	uint64_t pos[8];
	uint64_t end_pos[8];
	int started, ended;
};

static void log_request(void *ctx, struct http_request *req)
{
	struct request_log *l = ctx;

	if (l->started < 8) {
		l->pos[l->started] = req->stream_pos;
		l->end_pos[l->started] = req->end_pos;
	}
	l->started++;
}

static void log_request_end(void *ctx, const struct http_request *req)
{
	(void)req;
	((struct request_log *)ctx)->ended++;
}

static void ignore_exchange(void *ctx, const struct http_exchange *ex)
{
	(void)ctx;
	(void)ex;
}

/*
 * Each request's offset is where its first byte is in the stream: after a
 * body, after another request in the same syscall (pipelined), after bytes
 * lost to the parser; and every request seen ends once, answered or not.
 */
static void test_request_offsets_and_ends(void)
{
	static const char post[] = "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	static const char two[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
	static const char last[] = "GET /3 HTTP/1.1\r\n\r\n";
	const struct http_conn_callbacks cb = {
		.on_exchange = ignore_exchange,
		.on_request = log_request,
		.on_request_end = log_request_end,
	};
	struct request_log l = { 0 };
	struct http_conn *c = http_conn_new(HTTP_ROLE_SERVER);
	uint64_t pos = 0, lost_at;

#define SEND(dir, s) (http_conn_data(c, dir, pos, (const uint8_t *)(s), \
				     strlen(s), strlen(s), 10, &cb, &l), \
		      pos += strlen(s))
	SEND(HTTP_DIR_INGRESS, post);
	http_conn_data(c, HTTP_DIR_EGRESS, 0, (const uint8_t *)OK_0,
		       strlen(OK_0), strlen(OK_0), 11, &cb, &l);
	SEND(HTTP_DIR_INGRESS, two);
	CHECK_INT(l.started, 3);
	CHECK_INT(l.pos[0], 0);
	CHECK_INT(l.pos[1], strlen(post));
	CHECK_INT(l.pos[2], strlen(post) + strlen(two) / 2);
	/* Where each ends, as its head says: after its 5-byte body, or its
	 * head (no body). */
	CHECK_INT(l.end_pos[0], strlen(post));
	CHECK_INT(l.end_pos[1], strlen(post) + strlen(two) / 2);
	CHECK_INT(l.end_pos[2], strlen(post) + strlen(two));
	CHECK_INT(l.ended, 1);
	http_conn_data(c, HTTP_DIR_EGRESS, strlen(OK_0), (const uint8_t *)OK_0,
		       strlen(OK_0), strlen(OK_0), 12, &cb, &l);
	http_conn_data(c, HTTP_DIR_EGRESS, 2 * strlen(OK_0),
		       (const uint8_t *)OK_0, strlen(OK_0), strlen(OK_0), 13,
		       &cb, &l);
	CHECK_INT(l.ended, 3);
	/* 100 bytes the parser never got (a lost event), then a request */
	pos += 100;
	lost_at = pos;
	SEND(HTTP_DIR_INGRESS, last);
	CHECK_INT(l.started, 4);
	CHECK_INT(l.pos[3], lost_at);
	CHECK_INT(l.ended, 3);
	/* closed unanswered: it ends all the same */
	http_conn_close(c, 20, &cb, &l);
	CHECK_INT(l.ended, 4);
	http_conn_free(c);
	/* A chunked body's end is not in its head. */
	c = http_conn_new(HTTP_ROLE_SERVER);
	pos = 0;
	SEND(HTTP_DIR_INGRESS, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	CHECK_INT(l.started, 5);
	CHECK_INT(l.end_pos[4], 0);
	http_conn_close(c, 30, &cb, &l);
	http_conn_free(c);
#undef SEND
}

int main(void)
{
	RUN(test_trace_headers);
	RUN(test_abandon);
	RUN(test_end_before_start);
	RUN(test_trace_header_cut);
	RUN(test_simple_get);
	RUN(test_keep_alive);
	RUN(test_pipelining);
	RUN(test_post_content_length);
	RUN(test_chunked);
	RUN(test_head_request);
	RUN(test_204_304);
	RUN(test_100_continue);
	RUN(test_103_then_200);
	RUN(test_101_upgrade);
	RUN(test_connect_tunnel);
	RUN(test_http10_until_close);
	RUN(test_connection_close);
	RUN(test_bare_lf_and_limits);
	RUN(test_timestamps);
	RUN(test_big_cookie);
	RUN(test_head_max);
	RUN(test_client_role);
	RUN(test_full_duplex);
	RUN(test_mid_stream);
	RUN(test_mid_stream_positions);
	RUN(test_role_decided_mid_guess);
	RUN(test_unknown_role_gives_up);
	RUN(test_not_http);
	RUN(test_server_speaks_first);
	RUN(test_garbage_after_exchange);
	RUN(test_malformed_requests);
	RUN(test_control_bytes_in_values);
	RUN(test_failure_in_later_syscall);
	RUN(test_error_during_response_body);
	RUN(test_malformed_first_request);
	RUN(test_malformed_responses);
	RUN(test_head_not_captured);
	RUN(test_body_not_captured);
	RUN(test_loss_inside_body);
	RUN(test_loss_covering_request);
	RUN(test_loss_covering_response);
	RUN(test_loss_at_stream_start);
	RUN(test_reordered);
	RUN(test_chunk_errors);
	RUN(test_request_offsets_and_ends);
	RUN(test_chunk_framing_unseen);
	RUN(test_chunked_framing_sweep);
	RUN(test_unmeasured_accounting);
	RUN(test_lost_framing_ends_at_last_chunk);
	RUN(test_chunk_end_not_copied);
	RUN(test_lost_framing_then_next_response);
	RUN(test_lost_framing_upload);
	RUN(test_unmatched_response);
	RUN(test_pipeline_overflow);
	RUN(test_client_dies);
	RUN(test_server_dies);
	RUN(test_after_close);
	RUN(test_null_callbacks);
	RUN(test_odd_arguments);
	RUN(test_error_names);
	RUN(test_random_conversations);
	RUN(test_fuzz_random_bytes);
	RUN(test_fuzz_mutations);
	return check_summary("http_parser");
}
