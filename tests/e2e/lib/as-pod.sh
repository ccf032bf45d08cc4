#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# as-pod.sh CMD [ARGS...]: execs CMD (as root) the way a container runtime
# runs the Helm chart's podtap container, so the end-to-end tests can show
# that the chart's privileges are enough. Set by the environment (tests/
# run.sh reads the values from the rendered chart: tests/helm/chart.mjs
# pod-env):
#
#   PODTAP_TEST_CAPS          "BPF,PERFMON,..." (a container's
#                             "capabilities: {drop: [ALL], add: [...]}"):
#                             the bounding set is cut to exactly these
#                             before exec, so uid 0 gets permitted =
#                             effective = these, inheritable and ambient
#                             empty. An unknown name is an error.
#   PODTAP_TEST_RO_PATHS      "/,/sys/kernel/tracing,...": made read-only
#                             (recursively, except "/", which stands for
#                             readOnlyRootFilesystem: the root mount only)
#                             in a private mount namespace that ends with
#                             CMD; nothing changes outside it. /var/log/pods
#                             means the test's pod log dir
#                             (PT_AS_POD_LOG_DIR) and /var/log/containers
#                             its sibling "containers"; paths missing here
#                             are skipped.
#   PODTAP_TEST_NO_NEW_PRIVS  1: set no_new_privs (allowPrivilegeEscalation:
#                             false).
#   PT_AS_POD_CGROUP          a cgroup v2 directory (made by the caller, who
#                             removes it): CMD runs in it, in a cgroup
#                             namespace of its own rooted there, as a
#                             container does on a cgroup v2 node (where
#                             /proc/PID/cgroup of other pods' processes
#                             reads "/../../kubepods-...").
#
# Every step execs, so CMD keeps this script's pid (the caller's pid file
# names the daemon itself).
set -euo pipefail

die() { echo "as-pod.sh: $*" >&2; exit 126; }

[ $# -ge 1 ] || die "usage: as-pod.sh CMD [ARGS...]"
[ "$(id -u)" = 0 ] || die "must run as root"
command -v capsh >/dev/null || die "capsh is not installed (Debian package libcap2-bin)"

# Stage 1: into a private mount namespace, and a cgroup namespace rooted at
# PT_AS_POD_CGROUP (unshare without --fork execs).
if { [ -n "${PODTAP_TEST_RO_PATHS:-}" ] || [ -n "${PT_AS_POD_CGROUP:-}" ]; } &&
	[ -z "${PT_AS_POD_IN_NS:-}" ]; then
	export PT_AS_POD_IN_NS=1
	ns=(--mount --propagation private)
	if [ -n "${PT_AS_POD_CGROUP:-}" ]; then
		echo $$ >"$PT_AS_POD_CGROUP/cgroup.procs" ||
			die "cannot move into cgroup $PT_AS_POD_CGROUP"
		ns+=(--cgroup)
	fi
	exec unshare "${ns[@]}" bash "$0" "$@"
fi

# Stage 2: read-only mounts.
ro_one() { # ro_one PATH: PATH and (unless it is /) every mount below it
	local p=$1 m
	if ! mountpoint -q "$p"; then
		mount --bind "$p" "$p" || die "cannot bind $p"
	fi
	mount -o remount,bind,ro "$p" || die "cannot make $p read-only"
	[ "$p" = / ] && return 0
	# Mount points below p (field 5 of mountinfo; octal escapes aside,
	# test paths have no spaces).
	awk -v p="$p/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo |
		while read -r m; do
			mount -o remount,bind,ro "$m" 2>/dev/null ||
				echo "as-pod.sh: note: $m stays writable" >&2
		done
}
if [ -n "${PODTAP_TEST_RO_PATHS:-}" ]; then
	IFS=, read -r -a ro <<<"$PODTAP_TEST_RO_PATHS"
	for p in "${ro[@]}"; do
		case $p in
		/var/log/pods) p=${PT_AS_POD_LOG_DIR:-$p} ;;
		/var/log/containers) [ -n "${PT_AS_POD_LOG_DIR:-}" ] &&
			p="$(dirname "$PT_AS_POD_LOG_DIR")/containers" ;;
		esac
		[ -e "$p" ] || continue
		ro_one "$p"
	done
fi

# Stage 3: the capabilities. Names as in a pod spec ("BPF", "CAP_BPF").
last=$(cat /proc/sys/kernel/cap_last_cap)
all=$(capsh --decode="$(printf '%x' $(( (1 << (last + 1)) - 1 )))" |
	sed 's/^[^=]*=//' | tr ',' '\n')
want=$(tr ', ' '\n\n' <<<"${PODTAP_TEST_CAPS:-}" | sed '/^$/d' |
	tr '[:upper:]' '[:lower:]' | sed 's/^\(cap_\)\?/cap_/' | sort -u)
for c in $want; do
	grep -qx "$c" <<<"$all" || die "unknown capability '$c' in PODTAP_TEST_CAPS"
done
drop=$(grep -vxF -f <(printf '%s\n' "$want") <<<"$all" | paste -sd, -)
nnp=()
[ "${PODTAP_TEST_NO_NEW_PRIVS:-0}" = 1 ] && nnp=(--no-new-privs)
unset PT_AS_POD_IN_NS PT_AS_POD_LOG_DIR PT_AS_POD_CGROUP
exec capsh --drop="$drop" "${nnp[@]}" -- -c 'exec "$@"' as-pod "$@"
