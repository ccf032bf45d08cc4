/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Intrusive chained hash table: entries embed a struct hnode; the caller
 * computes hashes and compares keys. One mechanism for every table in the
 * daemon (connections, pods, series).
 */
#ifndef PODTAP_HASHMAP_H
#define PODTAP_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct hmap {
	struct hnode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

/* Returns true if the entry behind `node` has the key `key`. */
typedef bool (*hmap_eq_fn)(const struct hnode *node, const void *key);

int hmap_init(struct hmap *m);
void hmap_free(struct hmap *m); /* frees the table, not the entries */

struct hnode *hmap_find(const struct hmap *m, uint64_t hash, const void *key,
			hmap_eq_fn eq);
/* Grows when needed; on allocation failure of the growth the entry is still
 * inserted (chains just get longer). */
void hmap_insert(struct hmap *m, struct hnode *node, uint64_t hash);
void hmap_remove(struct hmap *m, struct hnode *node);

/* Iteration; the body may remove (and free) the current node, it.node:
 *   hmap_for_each(it, &t->conns) {
 *           struct conn *c = hmap_entry(it.node, struct conn, node);
 *           ...
 *   } */
struct hmap_iter {
	struct hnode *node; /* the current node; NULL at the end */
	struct hnode *next; /* found before the body runs */
	size_t bucket;      /* next's bucket */
};

struct hmap_iter hmap_iter_first(const struct hmap *m);
void hmap_iter_next(const struct hmap *m, struct hmap_iter *it);

#define hmap_for_each(it, m) \
	for (struct hmap_iter it = hmap_iter_first(m); it.node; \
	     hmap_iter_next((m), &it))

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t hash_u64(uint64_t x);

#define hmap_entry(node, type, member) \
	((type *)((char *)(node) - offsetof(type, member)))

#endif /* PODTAP_HASHMAP_H */
