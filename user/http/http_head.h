/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syntax of one HTTP/1.x message head (RFC 9112): its start line, its
 * fields, and the blank line that ends it. Two readers share one set of
 * rules:
 *
 *  - head_parse_whole reads a head that starts and ends in one buffer in a
 *    single pass: the common case (a head in one syscall), and the fast one.
 *    It answers only "here is a valid head, this long"; for anything else
 *    (a head cut short, a bad byte) it returns 0 and the caller falls back
 *    to the second reader, which then gives the exact verdict.
 *  - head_scan_byte checks a head a byte at a time, so that a head split
 *    across syscalls at any byte is checked as it arrives; once it reports
 *    the end, head_parse reads the whole head's fields.
 *
 * What head_parse_whole accepts, the scanner and head_parse accept too,
 * with the same head_info: tests/unit/test_http_head.c holds them to that.
 * The stream around heads (bodies, pipelining, resync) is http_parser.c's.
 */
#ifndef PODTAP_HTTP_HEAD_H
#define PODTAP_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_parser.h"

/* Start line and end-of-head scanner, fed one byte at a time so that heads
 * split at any byte are checked as they arrive, without rescanning. */
enum scan_phase {
	SC_METHOD,      /* request: method */
	SC_TARGET,      /* request: request-target */
	SC_VERSION,     /* request: version; status line: version */
	SC_CODE,        /* status line: status code */
	SC_REASON,      /* status line: reason phrase */
	SC_LINE_LF,     /* CR ended the start line, LF must follow */
	SC_FIELD_START, /* at the start of a header line */
	SC_FIELD,       /* inside a header line */
	SC_END_LF,      /* CR of the empty line, LF must follow */
};

enum scan_result {
	SCAN_MORE, /* keep feeding */
	SCAN_LINE, /* the start line just ended, and is valid */
	SCAN_DONE, /* the head just ended */
	SCAN_BAD,  /* not a valid head */
};

struct head_scan {
	enum scan_phase phase;
	bool request;    /* request line, else status line */
	bool known_only; /* only common methods may start a request */
	uint16_t n;      /* bytes read of the current start-line field */
	uint16_t methods; /* common methods still matching (known_only) */
};

/* A header value, pointing into the head bytes. */
struct head_value {
	const uint8_t *p;
	size_t len;
};

/* Headers kept for traces, in struct http_request_headers order. */
enum trace_header {
	TH_HOST, TH_USER_AGENT, TH_TRACEPARENT, TH_B3, TH_X_B3_TRACEID,
	TH_X_B3_SPANID, TH_X_B3_SAMPLED, TH_X_B3_FLAGS, TRACE_HEADERS,
};

/* What a head says, pointing into the head bytes. */
struct head_info {
	const uint8_t *method, *target;
	size_t method_len, target_len;
	int status;
	bool has_length;
	uint64_t length;
	bool has_te;  /* Transfer-Encoding present */
	bool chunked; /* ... with chunked as its last coding */
	bool close;   /* Connection: close */
	struct head_value headers[TRACE_HEADERS];
	unsigned int traceparent_count;
};

/* A fresh scanner for a request head (else a response head); known_only:
 * only a common method may start the request (a guess at resync). */
void head_scan_begin(struct head_scan *s, bool request, bool known_only);
enum scan_result head_scan_byte(struct head_scan *s, uint8_t c);

/* Inside a field line, whose bytes the scanner need not see (head_parse
 * checks them once the head is whole): a caller may skip to its LF. */
static inline bool head_scan_in_field(const struct head_scan *s)
{
	return s->phase == SC_FIELD;
}

/* The head h[0, len) that the scanner found whole: false if a field is
 * malformed. */
bool head_parse(const uint8_t *h, size_t len, bool request,
		struct head_info *hi);

/* The length of the valid head at the start of p[0, n), its fields in *hi;
 * 0 when p does not start with a whole, valid head whose method (request)
 * could start any request: then the scanner must judge. */
size_t head_parse_whole(const uint8_t *p, size_t n, bool request,
			struct head_info *hi);

/* A control byte other than HTAB: never in a field value or a reason. */
bool head_is_value_ctl(uint8_t c);

/* p[0, n) starts with a common method and a space (resync guesses). */
bool head_starts_common_method(const uint8_t *p, size_t n);

#endif /* PODTAP_HTTP_HEAD_H */
