// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/hashmap.h"

#include <errno.h>
#include <stdlib.h>

#define INITIAL_BUCKETS 64

int hmap_init(struct hmap *m)
{
	m->buckets = calloc(INITIAL_BUCKETS, sizeof(*m->buckets));
	m->nbuckets = INITIAL_BUCKETS;
	m->count = 0;
	return m->buckets ? 0 : -ENOMEM;
}

void hmap_free(struct hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

struct hnode *hmap_find(const struct hmap *m, uint64_t hash, const void *key,
			hmap_eq_fn eq)
{
	struct hnode *n = m->buckets[hash & (m->nbuckets - 1)];

	for (; n; n = n->next)
		if (n->hash == hash && eq(n, key))
			return n;
	return NULL;
}

static void grow(struct hmap *m)
{
	size_t nb = m->nbuckets * 2;
	struct hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hnode *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

void hmap_insert(struct hmap *m, struct hnode *node, uint64_t hash)
{
	struct hnode **head;

	if (m->count >= m->nbuckets)
		grow(m);
	head = &m->buckets[hash & (m->nbuckets - 1)];
	node->hash = hash;
	node->next = *head;
	*head = node;
	m->count++;
}

void hmap_remove(struct hmap *m, struct hnode *node)
{
	struct hnode **p = &m->buckets[node->hash & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			m->count--;
			return;
		}
	}
}

static struct hnode *scan(const struct hmap *m, size_t *bucket)
{
	for (; *bucket < m->nbuckets; (*bucket)++)
		if (m->buckets[*bucket])
			return m->buckets[*bucket];
	return NULL;
}

/* The node after it->node, with it->bucket its bucket. */
static struct hnode *after(const struct hmap *m, struct hmap_iter *it)
{
	if (it->node->next)
		return it->node->next;
	it->bucket++;
	return scan(m, &it->bucket);
}

struct hmap_iter hmap_iter_first(const struct hmap *m)
{
	struct hmap_iter it = { 0 };

	it.node = scan(m, &it.bucket);
	if (it.node)
		it.next = after(m, &it);
	return it;
}

void hmap_iter_next(const struct hmap *m, struct hmap_iter *it)
{
	it->node = it->next;
	if (it->node)
		it->next = after(m, it);
}

/* FNV-1a, then a final mix so low bits (bucket index) are well spread. */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return hash_u64(h);
}

uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb3fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}
