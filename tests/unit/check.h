/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Minimal unit-test harness: CHECK* record a failure and go on; each test
 * binary ends with check_summary(), which prints "N passed, N failed" and
 * returns the exit code. A test case is a function run with RUN(fn). */
#ifndef PODTAP_CHECK_H
#define PODTAP_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_case_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                  \
			check_case_failed = 1;                               \
		}                                                            \
	} while (0)

#define CHECK_INT(got, want)                                                 \
	do {                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);     \
		if (g_ != w_) {                                              \
			fprintf(stderr, "  %s:%d: %s == %lld, want %lld\n",  \
				__FILE__, __LINE__, #got, g_, w_);           \
			check_case_failed = 1;                               \
		}                                                            \
	} while (0)

#define CHECK_STR(got, want)                                                 \
	do {                                                                 \
		const char *g_ = (got), *w_ = (want);                        \
		if (!g_ || strcmp(g_, w_) != 0) {                            \
			fprintf(stderr, "  %s:%d: %s == \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)", \
				w_);                                         \
			check_case_failed = 1;                               \
		}                                                            \
	} while (0)

#define RUN(fn)                                                              \
	do {                                                                 \
		check_case_failed = 0;                                       \
		fn();                                                        \
		if (check_case_failed) {                                     \
			check_failed++;                                      \
			printf("not ok - %s\n", #fn);                        \
		} else {                                                     \
			check_passed++;                                      \
			printf("ok - %s\n", #fn);                            \
		}                                                            \
	} while (0)

static inline int check_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif /* PODTAP_CHECK_H */
