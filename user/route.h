/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Route normaliser: turns a request-target into a low-cardinality
 * http_route. User patterns (--route) are tried first, in the order given;
 * otherwise each path segment that looks like an identifier (a number, a
 * UUID, a hex hash, a long token with digits) becomes "{id}".
 */
#ifndef PODTAP_ROUTE_H
#define PODTAP_ROUTE_H

#include <stddef.h>

#define ROUTE_MAX 256       /* bytes incl. NUL of a normalised route */
#define ROUTE_SEGMENTS_MAX 16 /* deeper paths end in "/{rest}" */

struct route_table;

/* Returns NULL on allocation failure. */
struct route_table *route_table_new(void);
void route_table_free(struct route_table *rt); /* accepts NULL */

/*
 * Adds a user pattern such as "/users/{id}" or "/static/" + "*". A "{name}"
 * segment matches exactly one non-empty segment; a final "*" segment matches
 * the rest of the path (zero or more segments). Other segments match
 * literally. Returns 0, or -EINVAL with *err set to a static message for a
 * pattern that does not start with '/', has an unclosed '{', a '*' that is
 * not the last segment, or is longer than ROUTE_MAX - 1.
 */
int route_table_add(struct route_table *rt, const char *pattern,
		    const char **err);

/*
 * Writes the route for `target` (path with optional ?query / #fragment, or
 * an absolute-form "http://host/path") into out[out_size]:
 * the first matching user pattern verbatim, else the heuristic form.
 * Query and fragment are dropped; an empty path or "*" (OPTIONS *) is kept
 * as "/" or "*". A target that is neither origin-form ("/path"),
 * absolute-form ("scheme://authority[/path]") nor "*" (e.g. CONNECT's
 * "host:port", or ""), or whose path has a byte outside visible ASCII,
 * yields "{invalid}". Otherwise the result always starts with '/' (or is
 * "*") and is cut at a segment boundary to fit. Returns the length written.
 */
size_t route_normalise(const struct route_table *rt, const char *target,
		       char *out, size_t out_size);

#endif /* PODTAP_ROUTE_H */
