/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Destroys BPF links on a thread of its own. Closing a uprobe link waits
 * for an RCU grace period in the kernel, about 0.1 s here: the dozen links
 * of a Python file took the event loop away from the ring buffer for over
 * a second, long enough at a busy node's rate for the ring to fill. Links
 * handed over are destroyed in order; a ticket says when a batch is gone.
 */
#ifndef PODTAP_LINK_REAPER_H
#define PODTAP_LINK_REAPER_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_link;
struct link_reaper;

/* links_gauge: decremented by one for each link destroyed (may be NULL).
 * Returns NULL (errno set) when the thread cannot start. */
struct link_reaper *link_reaper_new(_Atomic uint64_t *links_gauge);

/* Takes links[0, n) to destroy; the caller forgets them. Returns the
 * batch's ticket; 0 when they were destroyed here (no memory to queue
 * them), which is done at once. */
uint64_t link_reaper_put(struct link_reaper *r, struct bpf_link **links,
			 unsigned int n);

/* Whether every link of the batch `ticket` is destroyed. */
bool link_reaper_done(struct link_reaper *r, uint64_t ticket);

/* Waits until it is. */
void link_reaper_wait(struct link_reaper *r, uint64_t ticket);

/* Destroys what is still queued, then stops the thread; accepts NULL. */
void link_reaper_free(struct link_reaper *r);

#endif /* PODTAP_LINK_REAPER_H */
