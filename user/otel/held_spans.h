/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Server spans held back briefly before export, so that a same-node caller
 * whose request is read after the server's whole exchange can still make
 * the span its child (otel/peer_links.h). The two ends' events reach the
 * ring buffer in either order: a client preempted between delivering its
 * request on loopback and its syscall's exit can be read after the server
 * has read, served and answered it.
 *
 * A FIFO of copies, bounded: a span leaves when it is linked (taken), when
 * its hold is over, or early, as the oldest, to make room (counted). What
 * leaves untaken is handed to the release callback (the export queue).
 *
 * Used from one thread (the event loop); stats from any thread.
 */
#ifndef PODTAP_HELD_SPANS_H
#define PODTAP_HELD_SPANS_H

#include <stdint.h>

#include "otel/span.h"

struct held_spans_stats {
	uint64_t held;    /* now */
	uint64_t evicted; /* let go before their hold was over: full */
};

typedef void (*held_spans_release_fn)(void *ctx, const struct span *s);

struct held_spans;

struct held_spans *held_spans_new(unsigned int max_spans, uint64_t hold_ns,
				  held_spans_release_fn release, void *ctx);
/* Drops what is still held, unreleased (the export queue may be gone).
 * Accepts NULL. */
void held_spans_free(struct held_spans *h);

/* A slot to fill with a span held until now_ns + the hold; valid until the
 * next call. The oldest is released first when the FIFO is full. */
struct span *held_spans_add(struct held_spans *h, uint64_t now_ns);
/* The held span with this id, taken out (NULL: none); valid until the next
 * call. */
struct span *held_spans_take(struct held_spans *h,
			     const uint8_t span_id[SPAN_ID_SIZE]);
/* Releases the spans whose hold is over by now_ns. */
void held_spans_release_due(struct held_spans *h, uint64_t now_ns);
/* Releases every span held. */
void held_spans_release_all(struct held_spans *h);

void held_spans_get_stats(const struct held_spans *h,
			  struct held_spans_stats *out);

#endif /* PODTAP_HELD_SPANS_H */
