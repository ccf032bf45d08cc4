#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The pin directory and the file systems podtap needs: it pins at exactly
# the path asked for, mounts bpffs and tracefs only at their standard places
# when nothing is mounted there (as on a new machine, simulated in a private
# mount namespace with both unmounted), refuses any other path that is not
# on bpffs without mounting anything, undoes its mounts when it fails to
# start, and a second podtap on one pin path changes nothing.

load 'lib/common'

setup() {
	pt_podtap_setup
}

teardown() {
	pt_podtap_teardown
}

# private_bpffs DIR: mounts a bpf file system of its own at DIR (made with
# its parents), unmounted by pt_cleanup.
private_bpffs() {
	mkdir -p "$1" && mount -t bpf bpf "$1" && echo "$1" >>"$PT_TMP/mounts"
}

# mounts_under DIR: the mount points at or below DIR, one per line.
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' \
		/proc/self/mountinfo
}

# refused WHAT: the last `run` exited non-zero (not by timeout) and printed.
refused() {
	echo "$1 -> status $status: $output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
		{ pt_fail "podtap did not refuse $1"; return 1; }
}

# As on a new machine: the script runs in a mount namespace of its own with
# neither bpffs at /sys/fs/bpf nor tracefs mounted (both may be stacked).
NEW_MACHINE_PRELUDE='
set -eu
for m in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug/tracing; do
	while mountpoint -q "$m"; do umount "$m"; done
done
[ "$(stat -f -c %T /sys/fs/bpf)" != bpf_fs ]
[ "$(stat -f -c %T /sys/kernel/tracing)" != tracefs ]
'

@test "a new machine: podtap mounts bpffs and tracefs where nothing is mounted, pins under /sys/fs/bpf/podtap, leaves no pins" {
	local port before after
	port=$(pt_free_port)
	before=$(mounts_under /sys/fs/bpf)
	run timeout 60 unshare -m --propagation private bash -c "$NEW_MACHINE_PRELUDE"'
podtap=$1 port=$2 logs=$3 pods=$4
"$podtap" --metrics-listen "127.0.0.1:$port" --pod-log-dir "$pods" \
	--no-python-hooks >"$logs/new.log" 2>&1 &
pid=$!
for i in $(seq 1 300); do
	[ "$(curl -s --max-time 1 "http://127.0.0.1:$port/readyz")" = ready ] && break
	kill -0 $pid || { cat "$logs/new.log"; exit 1; }
	sleep 0.1
done
echo "fs: $(stat -f -c %T /sys/fs/bpf) $(stat -f -c %T /sys/kernel/tracing)"
echo "pins: $(ls /sys/fs/bpf/podtap/maps | grep -c .) maps $(ls /sys/fs/bpf/podtap/progs | grep -c .) progs"
bpftool map show pinned /sys/fs/bpf/podtap/maps/podtap_conns | head -1
kill -TERM $pid
wait $pid && echo "exit 0"
[ -e /sys/fs/bpf/podtap ] && echo "left: $(find /sys/fs/bpf/podtap)" || echo "left: nothing"
cat "$logs/new.log"
' new-machine "$PODTAP_BIN" "$port" "$PT_TMP/logs" "$PT_TMP/pods"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'fs: bpf_fs tracefs' <<<"$output"
	grep -Eq '^pins: [1-9][0-9]* maps [1-9][0-9]* progs$' <<<"$output"
	grep -q 'name podtap_conns' <<<"$output"
	grep -qx 'exit 0' <<<"$output"
	grep -qx 'left: nothing' <<<"$output"
	grep -q 'mounted bpf at /sys/fs/bpf (nothing was mounted there)' <<<"$output"
	grep -q 'mounted tracefs at /sys/kernel/tracing (nothing was mounted there)' <<<"$output"
	# Nothing of it reached the machine's own mount table.
	pt_expect_eq "mounts at /sys/fs/bpf outside the namespace" "$before" \
		"$(mounts_under /sys/fs/bpf)"
}

@test "a start that fails after mounting (port in use) unmounts what it mounted" {
	local port holder
	port=$(pt_free_port)
	holder=$(pt_hold_port "$port" 120)
	run timeout 60 unshare -m --propagation private bash -c "$NEW_MACHINE_PRELUDE"'
"$1" --metrics-listen "127.0.0.1:$2" --pod-log-dir "$3" --no-python-hooks && exit 1
echo "after: $(stat -f -c %T /sys/fs/bpf) $(stat -f -c %T /sys/kernel/tracing)"
[ -e /sys/fs/bpf/podtap ] && echo "pin dir left" || true
' fails "$PODTAP_BIN" "$port" "$PT_TMP/pods"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'mounted bpf at /sys/fs/bpf' <<<"$output"
	grep -q 'unmounted /sys/fs/bpf, which podtap had mounted' <<<"$output"
	grep -q 'unmounted /sys/kernel/tracing, which podtap had mounted' <<<"$output"
	grep -qx 'after: sysfs sysfs' <<<"$output"
	pt_stop_pid "$holder"
	# (bats does not fail on a negated command that is not the last)
	if grep -q 'pin dir left' <<<"$output"; then
		pt_fail "podtap left its pin directory behind"
		return 1
	fi
}

@test "pin paths with dots in several components: every pin at exactly the path asked for" {
	local fs pin n before
	fs="$PT_TMP/node.a/run.d/bpf"
	private_bpffs "$fs"
	before=$(ls -A "$fs") # the kernel's own maps.debug and progs.debug
	pin="$fs/podtap/v2/pins"
	pt_podtap_start --pin-path "$pin"
	for n in podtap_conns podtap_events podtap_drops podtap_rodata; do
		[ -e "$pin/maps/$n" ] || { pt_fail "no pin $pin/maps/$n"; ls -R "$fs" >&2; return 1; }
	done
	# One of the two sys_exit programs, as the kernel allows (6.2 and
	# later: the one without helper calls).
	local prog=podtap_sys_exit
	[ -e "$pin/progs/podtap_sys_exit_cast" ] && prog=podtap_sys_exit_cast
	[ -e "$pin/progs/$prog" ]
	bpftool map show pinned "$pin/maps/podtap_conns" | grep -q 'name podtap_conns'
	bpftool prog show pinned "$pin/progs/$prog" | grep -q "name $prog"
	PODTAP_PIN=$pin pt_podtap_stop
	# The three directories podtap made are gone; the mount point stays.
	[ -d "$fs" ]
	pt_expect_eq "under $fs" "$before" "$(ls -A "$fs")"
}

@test "a '.' in a pin path below the bpffs mount: refused, saying bpffs refuses it, nothing made" {
	local fs port before
	fs="$PT_TMP/bpf"
	private_bpffs "$fs"
	before=$(ls -A "$fs")
	port=$(pt_free_port)
	run timeout 30 "$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" \
		--pod-log-dir "$PT_TMP/pods" --pin-path "$fs/podtap.v2"
	refused "--pin-path $fs/podtap.v2"
	grep -q "bpffs refuses names with a '.'" <<<"$output"
	pt_expect_eq "under $fs" "$before" "$(ls -A "$fs")"
}

@test "a pin path on another file system: refused with what to mount, nothing mounted, nothing hidden or made" {
	local plain port before
	plain="$PT_TMP/plain"
	mkdir -p "$plain"
	echo keep >"$plain/visible"
	port=$(pt_free_port)
	before=$(mounts_under "$PT_TMP")
	run timeout 30 "$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" \
		--pod-log-dir "$PT_TMP/pods" --pin-path "$plain/pins"
	refused "--pin-path $plain/pins"
	grep -q "is not on a bpf file system" <<<"$output"
	grep -q "mount -t bpf bpf" <<<"$output"
	pt_expect_eq "mounts under $PT_TMP" "$before" "$(mounts_under "$PT_TMP")"
	pt_expect_eq "$plain/visible" keep "$(cat "$plain/visible")"
	[ ! -e "$plain/pins" ]
	# The typo the issue feared: a pin path under /var/run.
	before=$(mounts_under /var/run; mounts_under /run)
	run timeout 30 "$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" \
		--pod-log-dir "$PT_TMP/pods" --pin-path "/var/run/podtap-e2e-$(pt_rand_hex 8)"
	refused "--pin-path /var/run/..."
	pt_expect_eq "mounts under /run" "$before" "$(mounts_under /var/run; mounts_under /run)"
	[ -z "$(find /run -maxdepth 1 -name 'podtap-e2e-*')" ]
	# Relative paths mean nothing to a daemon.
	run timeout 30 "$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" \
		--pod-log-dir "$PT_TMP/pods" --pin-path podtap
	refused "--pin-path podtap"
	grep -q "absolute path" <<<"$output"
}

@test "a second podtap on the same pin path changes nothing: no port bound, no BPF call, pins intact" {
	local port2 before
	pt_podtap_start --no-python-hooks
	before=$(find "$PODTAP_PIN" | sort)
	port2=$(pt_free_port)
	run timeout 30 strace -f -qq -o "$PT_TMP/second.strace" -e trace=bind,bpf \
		"$PODTAP_BIN" --metrics-listen "127.0.0.1:$port2" \
		--pod-log-dir "$PT_TMP/pods" --pin-path "$PODTAP_PIN"
	refused "a second podtap on $PODTAP_PIN"
	grep -q "another podtap is running with pin path $PODTAP_PIN" <<<"$output"
	if grep -E 'bind\(|bpf\(' "$PT_TMP/second.strace"; then
		pt_fail "the second podtap bound a socket or made BPF calls"
		return 1
	fi
	[ -z "$(ss -Htln "( sport = :$port2 )")" ]
	pt_expect_eq "pins of the first" "$before" "$(find "$PODTAP_PIN" | sort)"
	pt_podtap_alive
	[ "$(pt_curl_status "$PODTAP_URL/readyz")" = 200 ]
}

@test "pins left by a killed podtap are replaced; pins that are not podtap's are left alone" {
	local pin fs
	fs="$PT_TMP/bpf"
	private_bpffs "$fs"
	pin="$fs/podtap"
	# With the Python hooks: libbpf's own USDT maps are pinned too.
	pt_podtap_start --pin-path "$pin"
	[ -e "$pin/maps/__bpf_usdt_specs" ]
	kill -KILL "$PODTAP_PID"
	# Reaped (all its threads gone, so its lock too) once its exit status
	# is written.
	for _ in $(seq 1 100); do [ -s "$PODTAP_RC" ] && break; sleep 0.1; done
	[ -s "$PODTAP_RC" ]
	PODTAP_PID=""
	[ -e "$pin/maps/podtap_conns" ]
	# Someone else's map pinned in the same directory.
	bpftool map create "$pin/maps/other" type array key 4 value 4 entries 1 name other
	pt_podtap_start --pin-path "$pin"
	grep -Eq "removed [1-9][0-9]* pins under $pin left by a podtap" "$PODTAP_LOG"
	if grep -E "cannot pin|not all pinned" "$PODTAP_LOG"; then
		pt_fail "a pin left by the killed podtap was not replaced"
		return 1
	fi
	bpftool map show pinned "$pin/maps/podtap_conns" | grep -q 'name podtap_conns'
	# Stopped by hand: pt_podtap_stop wants an empty pin dir.
	kill -TERM "$PODTAP_PID"
	for _ in $(seq 1 150); do [ -s "$PODTAP_RC" ] && break; sleep 0.1; done
	pt_expect_eq "exit status" 0 "$(cat "$PODTAP_RC")"
	PODTAP_PID=""
	pt_expect_eq "left in $pin/maps" other "$(ls "$pin/maps")"
	[ ! -e "$pin/progs" ]
	bpftool map show pinned "$pin/maps/other" | grep -q 'name other'
}
