/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Freed blocks of one kind kept for the next allocation of that kind. The
 * event loop makes and frees a connection, its parser state and its
 * process entry for every connection, and a request for every request:
 * with a connection per request (gunicorn's sync workers) glibc's malloc
 * and free were 17% of podtap's CPU (perf). A spares list holds up to
 * SPARES_MAX blocks; one thread uses it (the structure that owns it is
 * the thread's, or it is _Thread_local). Not under AddressSanitizer,
 * which must see every free to catch a use after it.
 */
#ifndef PODTAP_SPARES_H
#define PODTAP_SPARES_H

#include <stdlib.h>
#include <string.h>

#define SPARES_MAX 16

#if defined(__SANITIZE_ADDRESS__)
#define SPARES_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARES_KEEP 0
#endif
#endif
#ifndef SPARES_KEEP
#define SPARES_KEEP 1
#endif

struct spares {
	void *block[SPARES_MAX];
	unsigned int n;
};

/* A block of `size` bytes (every block of one list has the same size):
 * a kept one, else malloc's. */
static inline void *spares_take(struct spares *s, size_t size)
{
	return s->n ? s->block[--s->n] : malloc(size);
}

/* The same, zeroed. */
static inline void *spares_take_zeroed(struct spares *s, size_t size)
{
	void *p;

	if (!s->n)
		return calloc(1, size);
	p = s->block[--s->n];
	memset(p, 0, size);
	return p;
}

/* Keeps p for the next take, or frees it. Accepts NULL. */
static inline void spares_give(struct spares *s, void *p)
{
	if (SPARES_KEEP && p && s->n < SPARES_MAX)
		s->block[s->n++] = p;
	else
		free(p);
}

/* Frees the kept blocks (a list owned by a structure being freed). */
static inline void spares_drain(struct spares *s)
{
	while (s->n)
		free(s->block[--s->n]);
}

#endif /* PODTAP_SPARES_H */
