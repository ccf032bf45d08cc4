/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pin directory (--pin-path): where podtap's BPF programs and maps are
 * pinned for bpftool while it runs, as <dir>/maps/<name> and
 * <dir>/progs/<name>, each at exactly the path asked for (libbpf's
 * bpf_object__pin_* would rewrite every '.' of the whole path to '_').
 *
 * podtap touches only what it owns: it creates the missing directories of
 * the path (and removes just those at the end), takes an exclusive lock on
 * the directory before anything else starts, replaces pins named podtap*
 * left by a podtap that died (the lock proves none runs), and unpins
 * exactly what it pinned.
 */
#ifndef PODTAP_PINS_H
#define PODTAP_PINS_H

struct bpf_object;
struct pins;

/* Creates the directory (its file system must be bpffs: see
 * preflight_bpffs) and locks it. Returns 0 or a negative errno after
 * logging what to do (another podtap holds it, a name bpffs refuses). */
int pins_open(struct pins **out, const char *path);

/* Pins every map and program of obj not pinned yet under the same name (a
 * map shared by two objects is pinned once). Returns 0 or a negative errno
 * after logging the pin that failed. */
int pins_add_object(struct pins *p, struct bpf_object *obj);

/* Unpins what was pinned, removes the directories pins_open and
 * pins_add_object created, releases the lock; accepts NULL. */
void pins_close(struct pins *p);

#endif /* PODTAP_PINS_H */
