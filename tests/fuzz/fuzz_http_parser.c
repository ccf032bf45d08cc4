// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the sparse-stream HTTP parser. The input is a
 * conversation: records of [flags:1][length:2, little endian][bytes], each
 * one event. flags bit 0 is the direction; bit 1 makes the kernel capture
 * only a prefix (bits 4-7 in sixteenths of the event); bit 2 loses bytes
 * before the event (a gap of 1 + bits 4-7 bytes); bit 3 of the last record
 * ends the connection with a close, else podtap abandons it (shutdown,
 * eviction). The first byte picks the role.
 *
 * Whatever the bytes, the parser must not crash (ASan/UBSan) and every
 * exchange it reports must be well formed; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parser.h"

struct run {
	uint64_t last_ts;
};

static void on_exchange(void *ctx, const struct http_exchange *ex)
{
	const struct run *r = ctx;
	size_t mlen = strnlen(ex->method, HTTP_METHOD_MAX);

	if ((ex->role != HTTP_ROLE_SERVER && ex->role != HTTP_ROLE_CLIENT) ||
	    mlen == 0 || mlen == HTTP_METHOD_MAX ||
	    strnlen(ex->target, HTTP_PATH_MAX) == HTTP_PATH_MAX ||
	    ex->status < 100 || ex->status > 599 || ex->start_ns == 0 ||
	    ex->end_ns < ex->start_ns || ex->end_ns > r->last_ts)
		abort();
}

static void on_error(void *ctx, enum http_parse_error err)
{
	(void)ctx;
	if ((unsigned int)err >= HTTP_ERR__COUNT)
		abort();
}

static const struct http_conn_callbacks callbacks = {
	.on_exchange = on_exchange,
	.on_error = on_error,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	uint64_t pos[2] = { 0, 0 };
	struct http_conn *c;
	size_t off = 1;
	int close_it = 0;

	if (size < 1)
		return 0;
	c = http_conn_new((enum http_role)(data[0] % 3));
	if (!c)
		return 0;
	while (off + 3 <= size) {
		uint8_t flags = data[off];
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;
		size_t captured;
		int dir = flags & 1;

		off += 3;
		if (len > size - off)
			len = size - off;
		captured = len;
		if (flags & 2)
			captured = len * (flags >> 4) / 16;
		if (flags & 4)
			pos[dir] += 1 + (flags >> 4);
		close_it = flags & 8;
		r.last_ts++;
		http_conn_data(c, dir ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS,
			       pos[dir], data + off, captured, len, r.last_ts,
			       &callbacks, &r);
		pos[dir] += len;
		off += len;
	}
	r.last_ts++;
	if (close_it)
		http_conn_close(c, r.last_ts, &callbacks, &r);
	else
		http_conn_abandon(c, &callbacks, &r);
	http_conn_free(c);
	return 0;
}
