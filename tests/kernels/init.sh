#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# /init of the test VM's initramfs (tests/kernels/run.sh builds it): mounts
# what a node has, runs the kernel check (/kcheck/tests/kernels/check.sh)
# with its output on the serial console, and powers the VM off. busybox sh.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /tmp /run /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf
# cgroup v2 where GKE has it; tracefs is left to podtap (it mounts it
# itself) and to bpf_load.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname kernel-check

echo "kernel-check: booted $(uname -r) in $(cut -d' ' -f1 /proc/uptime) s"
KCHECK_QUIET_MACHINE=1 KCHECK_WAIT=120 \
	KCHECK_CERT=/kcheck/cert.pem KCHECK_KEY=/kcheck/key.pem \
	KCHECK_PODTAP=/kcheck/build/podtap \
	KCHECK_BPF_LOAD=/kcheck/build/tests/bpf_load \
	sh /kcheck/tests/kernels/check.sh
echo "kernel-check: exit $? after $(cut -d' ' -f1 /proc/uptime) s"
sync
poweroff -f
