/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Route normaliser: turns a request-target into a low-cardinality
 * http_route, and into the url.path that spans carry. User patterns
 * (--route) are tried first, in the order given; otherwise each path
 * segment that looks like an identifier (a number, a UUID, a hex hash, a
 * long token with digits, a JSON Web Token, anything with an '@' such as an
 * e-mail address) becomes "{id}".
 *
 * What may identify a user or grant access stays on the node: neither a
 * route nor a url.path holds the userinfo or host of an absolute-form
 * target, a path parameter (";jsessionid=..."), the query or the fragment.
 */
#ifndef PODTAP_ROUTE_H
#define PODTAP_ROUTE_H

#include <stddef.h>

#define ROUTE_MAX 256       /* bytes incl. NUL of a normalised route */
#define ROUTE_SEGMENTS_MAX 16 /* deeper paths end in "/{rest}" */
#define URL_PATH_REDACTED "REDACTED" /* OpenTelemetry's word for it */

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
 * Query, fragment and each segment's parameters (from its first ';') are
 * dropped before matching, a segment that was only parameters is no
 * segment; an empty path or "*" (OPTIONS *) is kept as "/" or "*". A target that is neither origin-form ("/path"),
 * absolute-form ("scheme://authority[/path]") nor "*" (e.g. CONNECT's
 * "host:port", or ""), or whose path has a byte outside visible ASCII,
 * yields "{invalid}". Otherwise the result always starts with '/' (or is
 * "*") and is cut at a segment boundary to fit. Returns the length written.
 */
size_t route_normalise(const struct route_table *rt, const char *target,
		       char *out, size_t out_size);

/*
 * Writes url.path for `target` into out[out_size]: the path of an
 * origin-form or absolute-form target (not its scheme, userinfo or host)
 * up to its query or fragment, slashes as sent, each segment without its
 * parameters, and each segment with an '@' (e-mail addresses), a long
 * token (20 or more letters, digits, '-' or '_' with a digit: also UUIDs
 * and long hashes) or a JSON Web Token replaced by URL_PATH_REDACTED.
 * "http://host" is "/", "*" is "*", other forms (CONNECT's "host:port")
 * have none: "". Bytes are otherwise copied (the writers sanitise); a path
 * too long for out is cut before the first piece (a segment or a '/') that
 * does not fit. Returns the length written.
 */
size_t route_url_path(const char *target, char *out, size_t out_size);

#endif /* PODTAP_ROUTE_H */
