/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the running kernel's BTF names, without parsing it. */
#ifndef PODTAP_KERNEL_BTF_H
#define PODTAP_KERNEL_BTF_H

#include <stdbool.h>

/* Whether `name` is one of the strings of the kernel's BTF
 * (/sys/kernel/btf/vmlinux): a kfunc the kernel has, for one. Reads the
 * string section in small pieces (libbpf's parse of the whole BTF costs
 * megabytes). False when the BTF cannot be read. */
bool kernel_btf_has_name(const char *name);

#endif /* PODTAP_KERNEL_BTF_H */
