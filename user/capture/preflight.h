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
/* Mounts tracefs at /sys/kernel/tracing when nothing is mounted there. */
int preflight_tracefs(void);
/* The pin path must be on bpffs (its deepest existing directory is); for a
 * path under /sys/fs/bpf, bpffs is mounted there when nothing is. Any
 * other path on another file system is refused: podtap never mounts over a
 * directory. */
int preflight_bpffs(const char *pin_path);
/* Unmounts what the checks above mounted: for a start that failed. After a
 * good start the mounts stay (they are the standard ones, and others may
 * pin or trace there by then). */
void preflight_undo_mounts(void);

#endif /* PODTAP_PREFLIGHT_H */
