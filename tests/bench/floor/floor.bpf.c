// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: a program on sys_exit that does nothing. Any
 * program on a syscall tracepoint runs at the end of every syscall of
 * every process on the node, and puts every task on the kernel's slow
 * syscall path; what this one costs is what podtap's sys_exit program
 * costs before any of its own code runs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
