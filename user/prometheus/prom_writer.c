// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus text format 0.0.4 writer. The buffer is kept NUL-terminated so
 * it can be handed to string functions as well as sent as (buf, len).
 *
 * Numbers go through snprintf/strtod, which follow LC_NUMERIC: the daemon
 * must stay in the "C" locale (it never calls setlocale) or decimal points
 * would turn into commas.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus/prom_writer.h"
#include "lib/sanitize.h"

/* Big enough for "%.17g" of any double ("-2.2250738585072014e-308") and
 * for any int64/uint64. */
#define NUM_MAX 32

void prom_writer_init(struct prom_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void prom_writer_free(struct prom_writer *w)
{
	free(w->buf);
	prom_writer_init(w);
}

/* Makes room for n more bytes plus the NUL. */
static bool reserve(struct prom_writer *w, size_t n)
{
	size_t need, cap;
	char *buf;

	if (w->failed)
		return false;
	if (n > SIZE_MAX / 2 - w->len)
		goto fail;
	need = w->len + n + 1;
	if (need <= w->cap)
		return true;
	for (cap = w->cap ? w->cap : 4096; cap < need; cap *= 2)
		;
	buf = realloc(w->buf, cap);
	if (!buf)
		goto fail;
	w->buf = buf;
	w->cap = cap;
	return true;
fail:
	w->failed = true;
	return false;
}

static void put_mem(struct prom_writer *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void put(struct prom_writer *w, const char *s)
{
	put_mem(w, s, strlen(s));
}

/* Writes s with '\\' and '\n' escaped, and '"' too when `quote`
 * (label values escape all three, HELP text only the first two). */
static void put_escaped(struct prom_writer *w, const char *s, bool quote)
{
	for (;;) {
		size_t n = strcspn(s, quote ? "\\\n\"" : "\\\n");

		put_mem(w, s, n);
		s += n;
		switch (*s) {
		case '\0':
			return;
		case '\n':
			put(w, "\\n");
			break;
		case '\\':
			put(w, "\\\\");
			break;
		default:
			put(w, "\\\"");
			break;
		}
		s++;
	}
}

/*
 * Integers below 2^53 (all exactly representable) print as integers; other
 * finite values with the fewest significant digits that read back as the
 * same double, so 0.1 is "0.1" and not "0.10000000000000001". The range
 * test comes before the cast, which is undefined out of int64 range; math.h
 * is used for macros only, so no libm.
 */
static void format_double(char *out, double v)
{
	if (isnan(v)) {
		strcpy(out, "NaN");
	} else if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
	} else if (v > -0x1p53 && v < 0x1p53 && v == (double)(int64_t)v) {
		snprintf(out, NUM_MAX, "%" PRId64, (int64_t)v);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(out, NUM_MAX, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
}

/* A label value: its sanitised form (sanitize.h), escaped. */
static void put_label_value(struct prom_writer *w, const char *s)
{
	char clean[SANITIZE_MAX + 1];
	size_t n = strlen(s);

	if (!sanitize_is_clean(s, n)) {
		sanitize_text(s, n, clean, sizeof(clean));
		s = clean;
	}
	put_escaped(w, s, true);
}

static void put_labels(struct prom_writer *w, const struct prom_label *labels,
		       size_t nlabels, const char *le)
{
	if (nlabels == 0 && !le)
		return;
	put(w, "{");
	for (size_t i = 0; i < nlabels; i++) {
		if (i > 0)
			put(w, ",");
		put(w, labels[i].name);
		put(w, "=\"");
		put_label_value(w, labels[i].value ? labels[i].value : "");
		put(w, "\"");
	}
	if (le) {
		put(w, nlabels > 0 ? ",le=\"" : "le=\"");
		put(w, le);
		put(w, "\"");
	}
	put(w, "}");
}

/* name+suffix{labels[,le="le"]} value */
static void put_sample(struct prom_writer *w, const char *name,
		       const char *suffix, const struct prom_label *labels,
		       size_t nlabels, const char *le, const char *value)
{
	put(w, name);
	put(w, suffix);
	put_labels(w, labels, nlabels, le);
	put(w, " ");
	put(w, value);
	put(w, "\n");
}

void prom_family(struct prom_writer *w, const char *name, const char *type,
		 const char *help)
{
	put(w, "# HELP ");
	put(w, name);
	put(w, " ");
	put_escaped(w, help, false);
	put(w, "\n# TYPE ");
	put(w, name);
	put(w, " ");
	put(w, type);
	put(w, "\n");
}

void prom_sample(struct prom_writer *w, const char *name,
		 const struct prom_label *labels, size_t nlabels, double value)
{
	char num[NUM_MAX];

	format_double(num, value);
	put_sample(w, name, "", labels, nlabels, NULL, num);
}

/* Counts are written from the integers, not through a double, so they stay
 * exact past 2^53. */
void prom_histogram_spelled(struct prom_writer *w, const char *name,
			    const struct prom_label *labels, size_t nlabels,
			    const char *const *le, size_t nbounds,
			    const uint64_t *bucket_counts, double sum)
{
	char num[NUM_MAX];
	uint64_t cumulative = 0;

	for (size_t i = 0; i <= nbounds; i++) {
		cumulative += bucket_counts[i];
		snprintf(num, sizeof(num), "%" PRIu64, cumulative);
		put_sample(w, name, "_bucket", labels, nlabels,
			   i < nbounds ? le[i] : "+Inf", num);
	}
	format_double(num, sum);
	put_sample(w, name, "_sum", labels, nlabels, NULL, num);
	snprintf(num, sizeof(num), "%" PRIu64, cumulative);
	put_sample(w, name, "_count", labels, nlabels, NULL, num);
}

void prom_histogram(struct prom_writer *w, const char *name,
		    const struct prom_label *labels, size_t nlabels,
		    const double *bounds, size_t nbounds,
		    const uint64_t *bucket_counts, double sum)
{
	char text[PROM_HISTOGRAM_BOUNDS_MAX][NUM_MAX];
	const char *le[PROM_HISTOGRAM_BOUNDS_MAX];

	if (nbounds > PROM_HISTOGRAM_BOUNDS_MAX) {
		w->failed = true;
		return;
	}
	for (size_t i = 0; i < nbounds; i++) {
		format_double(text[i], bounds[i]);
		le[i] = text[i];
	}
	prom_histogram_spelled(w, name, labels, nlabels, le, nbounds,
			       bucket_counts, sum);
}
