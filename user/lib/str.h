/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bounded string copies for the per-exchange paths, where snprintf's
 * "%s" (a format parse and a strlen of the whole source) showed up in
 * profiles.
 */
#ifndef PODTAP_STR_H
#define PODTAP_STR_H

#include <stddef.h>
#include <string.h>

/* src[0, len) into dst (size > 0), cut to fit, NUL-terminated. Returns the
 * bytes copied. */
static inline size_t str_copy_n(char *dst, size_t size, const char *src,
				size_t len)
{
	if (len > size - 1)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}

/* The string src into dst (size > 0), cut to fit. */
static inline size_t str_copy(char *dst, size_t size, const char *src)
{
	return str_copy_n(dst, size, src, strnlen(src, size - 1));
}

#endif /* PODTAP_STR_H */
