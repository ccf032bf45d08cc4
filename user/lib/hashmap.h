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

/* Iteration that tolerates removing the current node:
 *   for (it = hmap_first(m, &b); it; it = next) { next = hmap_next(m, it, &b); ... } */
struct hnode *hmap_first(const struct hmap *m, size_t *bucket);
struct hnode *hmap_next(const struct hmap *m, const struct hnode *node,
			size_t *bucket);

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t hash_u64(uint64_t x);

#define hmap_entry(node, type, member) \
	((type *)((char *)(node) - offsetof(type, member)))

#endif /* PODTAP_HASHMAP_H */
