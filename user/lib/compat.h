/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compatibility modes: metric families under the names a hand-made stack
 * used, so that its dashboards keep working on podtap's /metrics. On for a
 * whole node (--compat) or for one pod (its podtap.io/compat label).
 */
#ifndef PODTAP_COMPAT_H
#define PODTAP_COMPAT_H

#include <stdbool.h>
#include <string.h>

/* The pod label that turns modes on for that pod alone. */
#define COMPAT_POD_LABEL "podtap.io/compat"

enum compat_mode {
	COMPAT_FLASK_EXPORTER = 1u << 0, /* prometheus-flask-exporter */
};

/* The mode named name[0..len), or 0 when there is none of that name. */
static inline unsigned int compat_mode_of(const char *name, size_t len)
{
	if (len == strlen("flask-exporter") &&
	    !strncmp(name, "flask-exporter", len))
		return COMPAT_FLASK_EXPORTER;
	return 0;
}

/* The modes of a comma-separated list ("" is none). False when a name in
 * it is unknown (or empty), *modes then untouched. */
static inline bool compat_parse(const char *list, unsigned int *modes)
{
	unsigned int all = 0;

	while (*list) {
		size_t len = strcspn(list, ",");
		unsigned int m = compat_mode_of(list, len);

		if (!m)
			return false;
		all |= m;
		list += len;
		if (*list == ',' && !*++list)
			return false; /* a trailing comma */
	}
	*modes = all;
	return true;
}

#endif /* PODTAP_COMPAT_H */
