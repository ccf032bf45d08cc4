/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which functions an ELF file defines, from its dynamic and full symbol
 * tables (libelf). Decides what can be hooked in a library before asking
 * libbpf to attach, so a stripped or foreign file is a counted reason, not
 * an attach error.
 */
#ifndef PODTAP_ELF_SYMBOLS_H
#define PODTAP_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>

/* Sets found[i] for each names[i] defined as a function in `path`.
 * Returns 0, or a negative errno: -ENOEXEC when it is no ELF file. */
int elf_defines(const char *path, const char *const *names, size_t n,
		bool *found);

/* True if `path` has SDT (USDT) notes for every `provider`:names[i]. */
bool elf_has_usdt(const char *path, const char *provider,
		  const char *const *names, size_t n);

#endif /* PODTAP_ELF_SYMBOLS_H */
