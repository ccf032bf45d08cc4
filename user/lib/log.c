// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>

static bool verbose;

void log_set_verbose(bool on)
{
	verbose = on;
}

bool log_verbose(void)
{
	return verbose;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	va_list ap;

	if (level == LOG_DEBUG && !verbose)
		return;
	flockfile(stderr);
	fprintf(stderr, "podtap: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
