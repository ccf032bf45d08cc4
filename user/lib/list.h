/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Circular doubly linked list with a sentinel, embedded in its entries: the
 * age order of the tables that forget their oldest entries first.
 */
#ifndef PODTAP_LIST_H
#define PODTAP_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct link {
	struct link *prev, *next;
};

static inline void list_init(struct link *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct link *head)
{
	return head->next == head;
}

static inline void list_add_tail(struct link *head, struct link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static inline void list_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

#define list_entry(l, type, member) \
	((type *)((char *)(l) - offsetof(type, member)))

#endif /* PODTAP_LIST_H */
