/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the kernel side lost, counted per reason (enum podtap_drop_reason)
 * for the daemon to export as podtap_kernel_drops_total. */
#ifndef PODTAP_DROPS_BPF_H
#define PODTAP_DROPS_BPF_H

#include "contract.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PODTAP_DROP__COUNT);
	__type(key, __u32); /* enum podtap_drop_reason: arrays need int keys */
	__type(value, __u64);
} podtap_drops SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&podtap_drops, &reason);

	if (n)
		*n += 1;
}

#endif /* PODTAP_DROPS_BPF_H */
