/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus text exposition format (version 0.0.4) writer. The one place
 * that knows escaping, number formatting and histogram rules.
 */
#ifndef PODTAP_PROM_WRITER_H
#define PODTAP_PROM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_HISTOGRAM_BOUNDS_MAX 32

struct prom_label {
	const char *name;
	const char *value; /* any bytes: sanitised (sanitize.h) and escaped by
			    * the writer; NULL is written as "" */
};

/* A growable output buffer. On allocation failure `failed` is set and
 * further writes are ignored. */
struct prom_writer {
	char *buf;
	size_t len;
	size_t cap;
	bool failed;
};

void prom_writer_init(struct prom_writer *w);
void prom_writer_free(struct prom_writer *w);

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge",
 * "histogram" or "untyped". Help text is escaped (\\ and \n). */
void prom_family(struct prom_writer *w, const char *name, const char *type,
		 const char *help);

/* One sample line: name{labels} value. Label values are sanitised
 * (sanitize.h: valid UTF-8, no control characters, at most SANITIZE_MAX
 * bytes), then escaped (\\, \");
 * value formatted so that integers print without exponent or fraction
 * ("42"), others with enough digits to round-trip, and +Inf/-Inf/NaN as
 * Prometheus spells them. */
void prom_sample(struct prom_writer *w, const char *name,
		 const struct prom_label *labels, size_t nlabels, double value);

/*
 * A histogram's samples for one label set: name_bucket{...,le="b"} with
 * cumulative counts for each upper bound in `bounds` (ascending) and
 * le="+Inf", then name_sum and name_count. `bucket_counts` has nbounds + 1
 * non-cumulative entries, the last one for values above the last bound.
 * Bounds are printed in shortest round-trip form ("0.005", "1", "10"); at
 * most PROM_HISTOGRAM_BOUNDS_MAX of them (more fails the writer).
 */
void prom_histogram(struct prom_writer *w, const char *name,
		    const struct prom_label *labels, size_t nlabels,
		    const double *bounds, size_t nbounds,
		    const uint64_t *bucket_counts, double sum);

/* The same, with each bound's le value as the caller spells it (le[i] for
 * bounds[i]): another exporter's own spelling ("1.0"), which a dashboard
 * may match on. */
void prom_histogram_spelled(struct prom_writer *w, const char *name,
			    const struct prom_label *labels, size_t nlabels,
			    const char *const *le, size_t nbounds,
			    const uint64_t *bucket_counts, double sum);

#endif /* PODTAP_PROM_WRITER_H */
