/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one rule for every string podtap writes out: Prometheus label values
 * and span names, attribute and resource keys and values, whatever their
 * bytes came from (the wire, comm, cgroup and pod log directory names, the
 * kubelet's JSON, flags, the environment). The sanitised form of a byte
 * string is:
 *
 *  - its well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
 *    U+10FFFF) kept as is, and each maximal ill-formed subpart (Unicode
 *    3.9, "U+FFFD substitution of maximal subparts", as the WHATWG and
 *    Python decoders do) replaced by U+FFFD;
 *  - with control characters (U+0000..U+001F, U+007F..U+009F), the line
 *    and paragraph separators (U+2028, U+2029) and the bidirectional
 *    formatting characters (U+061C, U+200E, U+200F, U+202A..U+202E,
 *    U+2066..U+2069) written as "\u" and four lowercase hex digits (an ESC
 *    is "\u001b", a tab "\u0009");
 *  - cut to at most SANITIZE_MAX bytes, before the first character or
 *    escape that would not fit whole.
 *
 * Everything else, backslashes included, is copied. The form is a fixed
 * point: sanitising a sanitised string changes nothing, so text may be
 * sanitised where it is keyed (series, workloads) and again by the writers.
 * Escaping for the output format (Prometheus' \\ \" \n) is the writers'.
 */
#ifndef PODTAP_SANITIZE_H
#define PODTAP_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#define SANITIZE_MAX 1024 /* bytes, NUL excluded */

/* True when s[0..len) is its own sanitised form (and so at most
 * SANITIZE_MAX bytes). */
bool sanitize_is_clean(const char *s, size_t len);

/*
 * Writes the sanitised form of in[0..len) (a NUL among them is U+0000) to
 * out, NUL-terminated, cut further to fit out_size (the same way: never
 * inside a character or an escape). Returns its length; with out_size 0
 * nothing is written and 0 returned.
 */
size_t sanitize_text(const char *in, size_t len, char *out, size_t out_size);

/* Sanitises the NUL-terminated string in buf[size] in place. */
void sanitize_field(char *buf, size_t size);

#endif /* PODTAP_SANITIZE_H */
