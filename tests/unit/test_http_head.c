// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The two readers of a head (http_head.h) agree: for every input, the
 * one-pass head_parse_whole and the byte scanner followed by head_parse
 * accept the same heads, of the same length, and say the same of them.
 * The inputs are real heads, each byte of them replaced in turn by bytes
 * that matter to the grammar, each cut at every length, and seeded random
 * rewrites of several bytes at once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http_head.h"

/* The scanner's verdict on p[0, n), fed whole from its first byte, as
 * http_parser.c reads a head split across syscalls. */
static size_t scan_whole(const uint8_t *p, size_t n, bool request,
			 struct head_info *hi)
{
	struct head_scan s;

	memset(hi, 0, sizeof(*hi));
	head_scan_begin(&s, request, false);
	for (size_t i = 0; i < n; i++) {
		switch (head_scan_byte(&s, p[i])) {
		case SCAN_BAD:
			return 0;
		case SCAN_DONE:
			return head_parse(p, i + 1, request, hi) ? i + 1 : 0;
		default:
			break;
		}
	}
	return 0;
}

static bool same_info(const struct head_info *a, const struct head_info *b,
		      bool request)
{
	if (request && (a->method != b->method ||
			a->method_len != b->method_len ||
			a->target != b->target || a->target_len != b->target_len))
		return false;
	if (!request && a->status != b->status)
		return false;
	if (a->has_length != b->has_length ||
	    (a->has_length && a->length != b->length) ||
	    a->has_te != b->has_te || a->chunked != b->chunked ||
	    a->close != b->close || a->traceparent_count != b->traceparent_count)
		return false;
	for (int h = 0; h < TRACE_HEADERS; h++)
		if (a->headers[h].p != b->headers[h].p ||
		    a->headers[h].len != b->headers[h].len)
			return false;
	return true;
}

static unsigned long compared, accepted;

/* Both readers on p[0, n); one failure report per kind of input. */
static bool agree(const uint8_t *p, size_t n, bool request)
{
	struct head_info fast, slow;
	size_t lf = head_parse_whole(p, n, request, &fast);
	size_t ls = scan_whole(p, n, request, &slow);

	compared++;
	if (lf != ls || (lf && !same_info(&fast, &slow, request))) {
		fprintf(stderr, "  readers disagree (one pass %zu, scanner %zu) "
				"on %zu bytes: \"%.*s\"\n",
			lf, ls, n, (int)n, (const char *)p);
		return false;
	}
	accepted += lf != 0;
	return true;
}

static const char *const requests[] = {
	"GET /b5 HTTP/1.1\r\nHost: 127.0.0.1:18090\r\n\r\n",
	"POST /users/42?x=1 HTTP/1.1\r\nHost: api\r\nContent-Length: 12\r\n"
	"Content-Type: application/json\r\nUser-Agent: python-requests/2.28\r\n"
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	"\r\n\r\n{\"a\": 1}",
	"PUT /x HTTP/1.0\nTransfer-Encoding: gzip, chunked\nConnection: "
	"keep-alive, close\n\n",
	"DELETE /a HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad\r\n"
	"X-B3-SpanId: a2fb4a1d1a96d312\r\nX-B3-Sampled: 1\r\nX-B3-Flags: 0\r\n"
	"b3: 463ac35c9f6413ad-a2fb4a1d1a96d312-1\r\n\r\n",
	"PATCH /t HTTP/1.1\r\nTransfer-Encoding: chunked ; q=1\r\n"
	"Content-Length: 3\r\nContent-Length: 3\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nA:\r\nB: \t v \t \r\ntraceparent: a\r\n"
	"traceparent: b\r\n\r\n",
	"M-SEARCH /caf\xc3\xa9 HTTP/1.1\r\nX: \x80\xff\r\n\r\n",
	/* the longest method; an insertion makes it one too long */
	"ABCDEFGHIJKLMNO / HTTP/1.1\r\n\r\n",
};

static const char *const responses[] = {
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 "
	"07:10:00 GMT\r\nContent-Type: application/octet-stream\r\n"
	"Content-Length: 5\r\nLast-Modified: Thu, 03 Dec 2026 06:21:01 GMT\r\n"
	"Connection: keep-alive\r\nETag: \"692fd69d-5\"\r\n"
	"Accept-Ranges: bytes\r\n\r\nxxxxx",
	"HTTP/1.0 404 Not\tFound\nContent-Length: 0\nConnection: close\n\n",
	"HTTP/1.1 204\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	"Connection: Upgrade\r\n\r\n",
	"HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
	"HTTP/1.1 599 x\xe9y\r\nContent-Length: 18446744073709551615\r\n\r\n",
};

/* Bytes the grammar treats apart. */
static const uint8_t special[] = {
	' ', '\t', '\r', '\n', ':', ',', ';', '/', '.', '0', '1', '9', 'A',
	'a', 'H', 'P', 'T', '-', 0x00, 0x0b, 0x1f, 0x7f, 0x80, 0xff,
};

static void each_input(const char *const *heads, size_t count, bool request,
		       bool *ok)
{
	uint8_t buf[1024];

	for (size_t k = 0; k < count; k++) {
		size_t n = strlen(heads[k]);

		memcpy(buf, heads[k], n);
		/* Cut at every length: a head not yet whole. */
		for (size_t len = 0; len <= n; len++)
			*ok &= agree(buf, len, request);
		/* Every byte replaced by each special one. */
		for (size_t i = 0; i < n; i++) {
			uint8_t was = buf[i];

			for (size_t s = 0; s < sizeof(special); s++) {
				buf[i] = special[s];
				*ok &= agree(buf, n, request);
			}
			buf[i] = was;
		}
		/* Bytes inserted where lines and fields meet. */
		for (size_t i = 0; i < n && n + 1 < sizeof(buf); i++) {
			for (size_t s = 0; s < sizeof(special); s++) {
				memmove(buf + i + 1, buf + i, n - i);
				buf[i] = special[s];
				*ok &= agree(buf, n + 1, request);
				memmove(buf + i, buf + i + 1, n - i);
			}
		}
	}
}

static void test_readers_agree_on_each_byte(void)
{
	bool ok = true;

	each_input(requests, sizeof(requests) / sizeof(requests[0]), true, &ok);
	each_input(responses, sizeof(responses) / sizeof(responses[0]), false,
		   &ok);
	CHECK(ok);
	/* The inputs reach both verdicts, many times. */
	CHECK(accepted > 1000);
	CHECK(compared - accepted > 1000);
}

/* A fixed xorshift: the same rewrites on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_readers_agree_on_random_rewrites(void)
{
	uint8_t buf[1024];
	bool ok = true;

	for (int round = 0; round < 200000; round++) {
		bool request = next_rand() & 1;
		const char *head =
			request ? requests[next_rand() % (sizeof(requests) /
							  sizeof(requests[0]))]
				: responses[next_rand() % (sizeof(responses) /
							   sizeof(responses[0]))];
		size_t n = strlen(head);
		int edits = 1 + next_rand() % 4;

		memcpy(buf, head, n);
		for (int e = 0; e < edits; e++) {
			size_t at = next_rand() % n;
			uint64_t r = next_rand();

			buf[at] = r & 1 ? special[(r >> 1) % sizeof(special)]
					: (uint8_t)(r >> 8);
		}
		ok &= agree(buf, n, request);
		if (!ok)
			break;
	}
	CHECK(ok);
}

/* The values each reader gives, spelled out once (the comparisons above
 * only hold them to each other). */
static void test_what_a_head_says(void)
{
	const char *r = requests[2];
	struct head_info hi;
	size_t n = head_parse_whole((const uint8_t *)r, strlen(r), true, &hi);

	CHECK_INT(n, strlen(r));
	CHECK_INT(hi.method_len, 3);
	CHECK(!memcmp(hi.method, "PUT", 3));
	CHECK_INT(hi.target_len, 2);
	CHECK(hi.has_te && hi.chunked && hi.close && !hi.has_length);

	r = requests[1];
	n = head_parse_whole((const uint8_t *)r, strlen(r), true, &hi);
	CHECK_INT(n, strlen(r) - strlen("{\"a\": 1}"));
	CHECK(hi.has_length && hi.length == 12);
	CHECK_INT(hi.headers[TH_HOST].len, 3);
	CHECK_INT(hi.headers[TH_TRACEPARENT].len, 55);
	CHECK_INT(hi.traceparent_count, 1);

	r = responses[1];
	n = head_parse_whole((const uint8_t *)r, strlen(r), false, &hi);
	CHECK_INT(n, strlen(r));
	CHECK_INT(hi.status, 404);
	CHECK(hi.close && hi.has_length && hi.length == 0);

	/* A request whose last coding is not chunked has no length. */
	r = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
	CHECK_INT(head_parse_whole((const uint8_t *)r, strlen(r), true, &hi), 0);
	/* Content-Lengths that disagree. */
	r = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
	CHECK_INT(head_parse_whole((const uint8_t *)r, strlen(r), false, &hi), 0);
}

int main(void)
{
	RUN(test_readers_agree_on_each_byte);
	RUN(test_readers_agree_on_random_rewrites);
	RUN(test_what_a_head_says);
	return check_summary("http_head");
}
