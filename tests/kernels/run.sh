#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The kernel check on other kernels: each one is a Debian kernel package
# booted in qemu (TCG) with an initramfs holding podtap, bpf_load, Debian's
# python3.11 and busybox; the VM runs tests/kernels/check.sh and powers
# off. Older verifiers track bounds less well than this machine's kernel,
# so a program that loads here can be rejected on a GKE node's kernel.
#
#   tests/kernels/run.sh [KERNEL...]
#
# A KERNEL is a Debian package name (linux-image-6.1.0-57-cloud-amd64) or a
# glob over package names, which picks the newest one the configured apt
# sources have (linux-image-6.1.0-*-cloud-amd64); "host" runs the check on
# this machine's own kernel instead. Default: $KCHECK_KERNELS, else the
# newest 6.1 cloud kernel.
#
# Downloads are cached in build/kernels/debs (apt-get download; an offline
# run uses the newest cached package that matches). Each VM's console goes
# to build/kernels/<package>.log and to stdout. Ends with one line
#   "test-kernels: N passed, N failed"
# and exits non-zero on any failure, including a VM that did not finish
# within KCHECK_TIMEOUT seconds (default 300; a check takes 30 here) twice
# (a VM that hangs is booted once more, its first console kept).
#
# Environment: KCHECK_KERNELS, KCHECK_TIMEOUT, KCHECK_MEM (qemu -m, 1536M),
# KCHECK_SMP (2), KCHECK_CACHE (build/kernels), KCHECK_PYTHON
# (/usr/bin/python3.11), KCHECK_LOGLEVEL (the guest console's loglevel, 4;
# 7 shows the stacks of a soft lockup or a BPF warning).
set -u
cd "$(dirname "$0")/../.." || exit 1

CACHE=${KCHECK_CACHE:-build/kernels}
TIMEOUT=${KCHECK_TIMEOUT:-300}
MEM=${KCHECK_MEM:-1536M}
SMP=${KCHECK_SMP:-2}
PY=${KCHECK_PYTHON:-/usr/bin/python3.11}
if [ $# -gt 0 ]; then
	kernels=("$@")
else
	read -r -a kernels <<<"${KCHECK_KERNELS:-linux-image-6.1.0-*-cloud-amd64}"
fi

passed=0 failed=0
fail() { echo "not ok - $*"; failed=$((failed + 1)); }
die() {
	echo "test-kernels: $*" >&2
	echo "test-kernels: $passed passed, $((failed + 1)) failed"
	exit 1
}

# --- what the VM is made of -------------------------------------------------

need_vm=0
for k in "${kernels[@]}"; do [ "$k" != host ] && need_vm=1; done
for f in build/podtap build/tests/bpf_load; do
	[ -x "$f" ] || die "$f is missing (make build/podtap build/tests/bpf_load)"
done
if [ "$need_vm" = 1 ]; then
	for t in qemu-system-x86_64 cpio dpkg-deb apt-get apt-cache openssl ldd \
		ldconfig; do
		command -v "$t" >/dev/null || die "$t is missing (make deps-test)"
	done
	[ -x "$PY" ] || die "$PY is missing (Debian's python3.11)"
fi

mkdir -p "$CACHE/debs" || die "cannot create $CACHE"

# copy_libs ROOT FILE...: every shared library FILE loads (ldd), at the
# same path under ROOT.
copy_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		ldd "$f" >/dev/null 2>&1 || continue # static
		for lib in $(ldd "$f" 2>/dev/null |
			awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib" || return 1
		done
	done
}

# build_initramfs OUT: an uncompressed cpio (the kernel unpacks it faster
# than a compressed one under TCG).
build_initramfs() {
	local out=$1 root="$CACHE/rootfs" stdlib a
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root} \
		"$root/kcheck/build/tests" "$root/kcheck/tests/kernels" || return 1
	busybox=$(guest_busybox) || return 1
	cp "$busybox" "$root/bin/busybox" && copy_libs "$root" "$busybox" ||
		return 1
	for a in $("$busybox" --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	cp tests/kernels/init.sh "$root/init" && chmod 0755 "$root/init" &&
		cp tests/kernels/check.sh tests/kernels/traffic.py \
			"$root/kcheck/tests/kernels/" || return 1
	mkdir -p "$root$(dirname "$PY")"
	cp build/podtap "$root/kcheck/build/" &&
		cp build/tests/bpf_load "$root/kcheck/build/tests/" &&
		cp -L "$PY" "$root$PY" &&
		copy_libs "$root" build/podtap build/tests/bpf_load "$PY" ||
		return 1
	# Python's standard library, less what a server and a client never
	# import; the extension modules bring their libraries (libssl, ...).
	stdlib=$("$PY" -I -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
	mkdir -p "$root$stdlib"
	tar -C "$stdlib" -cf - --exclude=./test --exclude=./idlelib \
		--exclude=./tkinter --exclude=./turtledemo --exclude=./ensurepip \
		--exclude=./lib2to3 --exclude=./pydoc_data --exclude='./config-*' \
		--exclude=./distutils --exclude=./site-packages \
		--exclude=./dist-packages . | tar -C "$root$stdlib" -xf - ||
		return 1
	copy_libs "$root" "$stdlib"/lib-dynload/*.so || return 1
	printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu \
		>"$root/etc/ld.so.conf"
	ldconfig -r "$root" 2>/dev/null
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	echo '127.0.0.1 localhost kernel-check' >"$root/etc/hosts"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 \
		-keyout "$root/kcheck/key.pem" -out "$root/kcheck/cert.pem" \
		2>/dev/null || return 1
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) \
		>"$out.tmp" && mv "$out.tmp" "$out"
}

# --- kernels ------------------------------------------------------------------

# apt-get update runs at most once a run (subshells too: a marker file).
apt_mark="$CACHE/.apt-updated.$$"
trap 'rm -f "$apt_mark"' EXIT
apt_update() {
	[ -e "$apt_mark" ] || [ "$(id -u)" != 0 ] && return 1
	echo "# apt-get update ($*)" >&2
	apt-get update -qq >/dev/null 2>&1
	: >"$apt_mark"
}

# candidates GLOB: package names apt knows that match, newest last (the
# name up to the first wildcard is the prefix apt lists).
candidates() {
	local glob=$1 p
	apt-cache pkgnames "${glob%%[*?[]*}" 2>/dev/null | while read -r p; do
		# shellcheck disable=SC2053 # a glob, on purpose
		[[ $p == $glob ]] && echo "$p"
	done | sort -V
}

# resolve PACKAGE-OR-GLOB: prints "PACKAGE VERSION", the newest match in
# the apt sources (after apt-get update when they know none), else in the
# cache.
resolve() {
	local k=$1 p v deb
	for _ in 1 2; do
		for p in $(candidates "$k" | tac); do
			v=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
			if [ -n "$v" ] && [ "$v" != "(none)" ]; then
				echo "$p $v"
				return 0
			fi
		done
		apt_update "no package matches $k yet" || break
	done
	# Offline: the newest cached package that matches.
	deb=$(for deb in "$CACHE"/debs/*.deb; do
		p=$(basename "$deb" | cut -d_ -f1)
		# shellcheck disable=SC2053
		[[ -e $deb && $p == $k ]] && echo "$deb"
	done | sort -V | tail -1)
	[ -n "$deb" ] || return 1
	echo "$(basename "$deb" | cut -d_ -f1) $(basename "$deb" | cut -d_ -f2 | sed 's/%3a/:/')"
}

# fetch_deb PACKAGE VERSION: prints the path of the package in the cache,
# downloading it (apt-get download) when it is not there.
fetch_deb() {
	local p=$1 v=$2 deb tmp
	deb="$CACHE/debs/${p}_${v//:/%3a}_amd64.deb"
	if [ ! -s "$deb" ]; then
		echo "# apt-get download $p=$v" >&2
		tmp=$(mktemp -d "$CACHE/debs/.dl.XXXXXX") || return 1
		# As root into our own directory: apt's sandbox user could not
		# write there.
		(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root \
			"$p=$v" >&2) && mv "$tmp"/*.deb "$deb"
		rm -rf "$tmp"
		[ -s "$deb" ] || return 1
	fi
	echo "$deb"
}

# extract DEB MEMBER OUT: one file of a package.
extract() {
	dpkg-deb --fsys-tarfile "$1" | tar -xO --wildcards "$2" >"$3.tmp" &&
		[ -s "$3.tmp" ] && mv "$3.tmp" "$3"
}

# kernel_image PACKAGE VERSION: prints the path of its vmlinuz, downloading
# and extracting it when it is not cached.
kernel_image() {
	local p=$1 v=$2 deb dir="$CACHE/$1-$2"
	if [ ! -s "$dir/vmlinuz" ]; then
		deb=$(fetch_deb "$p" "$v") && mkdir -p "$dir" &&
			extract "$deb" './boot/vmlinuz-*' "$dir/vmlinuz" || return 1
	fi
	echo "$dir/vmlinuz"
}

# guest_busybox: prints the path of a static busybox for the guest, from
# Debian's busybox-static (downloaded, not installed: it conflicts with
# the busybox package a host may need), else the host's own busybox.
guest_busybox() {
	local pv deb out="$CACHE/busybox"
	if [ ! -x "$out" ]; then
		if read -r -a pv < <(resolve busybox-static) &&
			[ "${#pv[@]}" = 2 ] &&
			deb=$(fetch_deb "${pv[0]}" "${pv[1]}") &&
			extract "$deb" ./bin/busybox "$out"; then
			chmod 0755 "$out"
		elif command -v busybox >/dev/null; then
			echo "# busybox-static cannot be had: the host's busybox" >&2
			command -v busybox
			return 0
		else
			return 1
		fi
	fi
	echo "$out"
}

# count LOG WHAT: adds the summary line of a check's output in LOG.
count() {
	local log=$1 what=$2 line p f
	line=$(grep -aE '^kernel-check .*: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		fail "$what: the check printed no summary (see $log)"
		return
	fi
	p=$(sed -n 's/.*: \([0-9]\+\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]\+\) failed.*/\1/p' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
}

# boot VMLINUZ LOG LOGLEVEL: one VM running the check; its console goes to
# LOG and stdout. Returns qemu's status (124: it did not finish in time).
boot() {
	local start=$(date +%s) status
	# -no-reboot: the guest's poweroff (or a panic, panic=-1) ends qemu.
	# thread=single: with a host thread per vCPU, TCG can run a stale
	# translation of code the guest kernel is live-patching (a tracepoint's
	# static key, at attach): the other vCPU hits a breakpoint the kernel
	# has already removed, "Oops: int3" (seen once on 6.12 in this check).
	# One thread for both vCPUs sees every write before it runs the code.
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=single -m "$MEM" \
		-smp "$SMP" -nographic -no-reboot -kernel "$1" -initrd "$initramfs" \
		-append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=$3 mitigations=off" \
		</dev/null 2>&1 | tr -d '\r' | tee "$2"
	status=${PIPESTATUS[0]}
	echo "# $(basename "$2" .log): $(($(date +%s) - start)) s"
	return "$status"
}

initramfs="$CACHE/initramfs.cpio"
if [ "$need_vm" = 1 ]; then
	echo "# building $initramfs"
	build_initramfs "$initramfs" || die "cannot build the initramfs"
	echo "# $(du -h "$initramfs" | cut -f1) initramfs"
fi

for k in "${kernels[@]}"; do
	pkg="" ver="" vmlinuz=""
	if [ "$k" = host ]; then
		log="$CACHE/host.log"
		echo "== kernel check on this machine's kernel ($(uname -r))"
		start=$(date +%s)
		timeout -k 10 "$TIMEOUT" sh tests/kernels/check.sh 2>&1 | tee "$log"
		echo "# host: $(($(date +%s) - start)) s"
		count "$log" "host $(uname -r)"
		continue
	fi
	if ! read -r pkg ver < <(resolve "$k"); then
		fail "$k: no such kernel package in the apt sources or $CACHE/debs"
		continue
	fi
	# Old package lists can name a version the archive has dropped.
	if ! vmlinuz=$(kernel_image "$pkg" "$ver") &&
		apt_update "cannot download $pkg $ver"; then
		read -r pkg ver < <(resolve "$k") &&
			vmlinuz=$(kernel_image "$pkg" "$ver")
	fi
	if [ ! -s "${vmlinuz:-}" ]; then
		fail "$k: cannot download or extract ${pkg:-it} ${ver:-}"
		continue
	fi
	log="$CACHE/$pkg.log"
	echo "== kernel check on $pkg $ver (qemu, TCG)"
	boot "$vmlinuz" "$log" "${KCHECK_LOGLEVEL:-4}"
	status=$?
	# A hang may be TCG's (one was seen, never reproduced: see
	# README.md) or a real deadlock. One more boot tells them apart, at
	# loglevel 7, so a second hang's log holds the stacks; the first log
	# is kept.
	if [ "$status" = 124 ]; then
		mv "$log" "$log.hung"
		echo "# $pkg: the VM did not finish within $TIMEOUT s (console: $log.hung); booting it once more, loglevel=7"
		boot "$vmlinuz" "$log" 7
		status=$?
	fi
	[ "$status" = 124 ] && fail "$pkg: the VM did not finish within $TIMEOUT s, twice"
	count "$log" "$pkg"
done

echo "test-kernels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
