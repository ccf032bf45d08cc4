/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What language runtime a process runs, from outside: CPython is known by
 * its executable (python3.11) or a mapped libpython3.11*.so, and its full
 * version by the PY_VERSION string compiled into that file.
 */
#ifndef PODTAP_RUNTIME_INFO_H
#define PODTAP_RUNTIME_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct runtime_info {
	char name[32];    /* process.runtime.name: "cpython", or "" */
	char version[32]; /* process.runtime.version: "3.11.2", or "" */
};

/* Fills *info for process `pid`; returns false when it is no Python
 * (or is gone). */
bool runtime_info_read(uint32_t pid, struct runtime_info *info);

#endif /* PODTAP_RUNTIME_INFO_H */
