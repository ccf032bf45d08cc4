// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/link_reaper.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "lib/thread.h"

/* One batch of links, queued in ticket order. */
struct batch {
	struct batch *next;
	uint64_t ticket;
	unsigned int n;
	struct bpf_link *links[];
};

struct link_reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a batch was queued, or stop */
	pthread_cond_t gone; /* a batch was destroyed */
	struct batch *head, *tail;
	uint64_t last_ticket; /* handed out */
	uint64_t done_ticket; /* every batch up to it destroyed */
	bool stop;
	_Atomic uint64_t *links_gauge;
};

static void destroy_links(struct link_reaper *r, struct bpf_link **links,
			  unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		bpf_link__destroy(links[i]);
		if (r->links_gauge)
			atomic_fetch_sub(r->links_gauge, 1);
	}
}

static void *reap(void *arg)
{
	struct link_reaper *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct batch *b = r->head;

		if (!b) {
			if (r->stop)
				break;
			pthread_cond_wait(&r->work, &r->lock);
			continue;
		}
		r->head = b->next;
		if (!r->head)
			r->tail = NULL;
		pthread_mutex_unlock(&r->lock);
		destroy_links(r, b->links, b->n);
		pthread_mutex_lock(&r->lock);
		r->done_ticket = b->ticket;
		free(b);
		pthread_cond_broadcast(&r->gone);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct link_reaper *link_reaper_new(_Atomic uint64_t *links_gauge)
{
	struct link_reaper *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return NULL;
	r->links_gauge = links_gauge;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->gone, NULL);
	err = -thread_start(&r->thread, reap, r, "link-reaper");
	if (err) {
		pthread_cond_destroy(&r->gone);
		pthread_cond_destroy(&r->work);
		pthread_mutex_destroy(&r->lock);
		free(r);
		errno = err;
		return NULL;
	}
	return r;
}

uint64_t link_reaper_put(struct link_reaper *r, struct bpf_link **links,
			 unsigned int n)
{
	struct batch *b = malloc(sizeof(*b) + n * sizeof(b->links[0]));
	uint64_t ticket;

	if (!b) {
		/* Slow, but nothing is kept. */
		destroy_links(r, links, n);
		return 0;
	}
	b->next = NULL;
	b->n = n;
	memcpy(b->links, links, n * sizeof(b->links[0]));
	pthread_mutex_lock(&r->lock);
	ticket = b->ticket = ++r->last_ticket;
	if (r->tail)
		r->tail->next = b;
	else
		r->head = b;
	r->tail = b;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	return ticket; /* b may be gone already */
}

bool link_reaper_done(struct link_reaper *r, uint64_t ticket)
{
	bool done;

	pthread_mutex_lock(&r->lock);
	done = ticket <= r->done_ticket;
	pthread_mutex_unlock(&r->lock);
	return done;
}

void link_reaper_wait(struct link_reaper *r, uint64_t ticket)
{
	pthread_mutex_lock(&r->lock);
	while (ticket > r->done_ticket)
		pthread_cond_wait(&r->gone, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

void link_reaper_free(struct link_reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->gone);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
