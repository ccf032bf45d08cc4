/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Leveled logging to stderr, one line per message, "podtap: level: ...". */
#ifndef PODTAP_LOG_H
#define PODTAP_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_verbose(bool verbose);
bool log_verbose(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* PODTAP_LOG_H */
