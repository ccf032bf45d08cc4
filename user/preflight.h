/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Start-up checks that turn the kernel's terse failures into messages that
 * say exactly what is missing: privileges, BTF, tracefs, bpffs. Each returns
 * 0 or -1 after logging the problem and what to do about it. */
#ifndef PODTAP_PREFLIGHT_H
#define PODTAP_PREFLIGHT_H

#include <stdbool.h>

/* python_hooks: also warn when the uprobes they need will be refused. */
int preflight_privileges(bool python_hooks);
int preflight_btf(void);
/* Mounts tracefs at /sys/kernel/tracing when it is not mounted. */
int preflight_tracefs(void);
/* Mounts bpffs on the filesystem that will hold `pin_path` when needed. */
int preflight_bpffs(const char *pin_path);

#endif /* PODTAP_PREFLIGHT_H */
