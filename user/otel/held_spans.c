// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/held_spans.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint64_t due_ns;
	bool taken; /* linked while held: skipped as the FIFO drains */
	struct span span;
};

/* A ring: slots[tail % max] is the oldest, head - tail are in it (taken or
 * not). Holds are all as long, so the oldest is always the first due. */
struct held_spans {
	struct slot *slots;
	unsigned int max;
	uint64_t head, tail;
	uint64_t hold_ns;
	held_spans_release_fn release;
	void *ctx;
	_Atomic uint64_t held, evicted;
};

struct held_spans *held_spans_new(unsigned int max_spans, uint64_t hold_ns,
				  held_spans_release_fn release, void *ctx)
{
	struct held_spans *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->max = max_spans ? max_spans : 1;
	/* Untouched pages cost no memory: the ring is as big as its busiest
	 * moment. */
	h->slots = calloc(h->max, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	h->hold_ns = hold_ns;
	h->release = release;
	h->ctx = ctx;
	return h;
}

void held_spans_free(struct held_spans *h)
{
	if (!h)
		return;
	free(h->slots);
	free(h);
}

/* Lets the oldest go: released, unless it was taken (false). */
static bool pop_oldest(struct held_spans *h)
{
	struct slot *s = &h->slots[h->tail % h->max];

	/* Empty: start again at the first slot, so that the pages touched
	 * are as many as were ever held at once, not the whole ring. */
	if (++h->tail == h->head)
		h->head = h->tail = 0;
	if (s->taken)
		return false;
	atomic_fetch_sub_explicit(&h->held, 1, memory_order_relaxed);
	h->release(h->ctx, &s->span);
	return true;
}

struct span *held_spans_add(struct held_spans *h, uint64_t now_ns)
{
	struct slot *s;

	if (h->head - h->tail == h->max && pop_oldest(h))
		atomic_fetch_add_explicit(&h->evicted, 1, memory_order_relaxed);
	s = &h->slots[h->head++ % h->max];
	s->due_ns = now_ns + h->hold_ns;
	s->taken = false;
	atomic_fetch_add_explicit(&h->held, 1, memory_order_relaxed);
	return &s->span;
}

struct span *held_spans_take(struct held_spans *h,
			     const uint8_t span_id[SPAN_ID_SIZE])
{
	/* Newest first: a caller late by a few events finds its server at
	 * once. Only late callers look, which are rare. */
	for (uint64_t i = h->head; i-- > h->tail;) {
		struct slot *s = &h->slots[i % h->max];

		if (s->taken || memcmp(s->span.span_id, span_id, SPAN_ID_SIZE))
			continue;
		s->taken = true;
		atomic_fetch_sub_explicit(&h->held, 1, memory_order_relaxed);
		/* Its slot is not reused before the next add. */
		return &s->span;
	}
	return NULL;
}

void held_spans_release_due(struct held_spans *h, uint64_t now_ns)
{
	while (h->head != h->tail &&
	       h->slots[h->tail % h->max].due_ns <= now_ns)
		pop_oldest(h);
}

void held_spans_release_all(struct held_spans *h)
{
	while (h->head != h->tail)
		pop_oldest(h);
}

void held_spans_get_stats(const struct held_spans *h,
			  struct held_spans_stats *out)
{
	out->held = atomic_load_explicit(&h->held, memory_order_relaxed);
	out->evicted = atomic_load_explicit(&h->evicted, memory_order_relaxed);
}
