# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared helpers for podtap's end-to-end tests (bats). Load with
#   load 'lib/common'
# from a .bats file in tests/e2e; it pulls in the other lib/*.bash files.
#
# Everything a test starts or creates is recorded under $PT_TMP (a temp dir
# made by pt_init and exported, so setup_file, the tests and teardown_file
# all see it); pt_cleanup undoes it all by pid / path, deepest first.
#
# Helpers print what went wrong on stderr and return non-zero; bats shows
# that output when a test fails.

PT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PT_REPO="$(cd "$PT_LIB_DIR/../../.." && pwd)"
PT_PY=/usr/bin/python3          # Debian's: has flask, prometheus_client
PT_GUNICORN=/usr/bin/gunicorn
PT_FIXTURES="$PT_REPO/tests/fixtures"
: "${PODTAP_BIN:=$PT_REPO/build/podtap}"

pt_log() { printf '# %s\n' "$*" >&2; }
# pt_fail MSG: prints MSG; the caller returns 1 (bats runs with set -e, so a
# helper that printed and then failed would skip the diagnostics after it).
pt_fail() { printf 'FAIL: %s\n' "$*" >&2; }

# pt_init: makes and exports PT_TMP and the registry files in it.
pt_init() {
	if [ "$(id -u)" != 0 ]; then
		pt_fail "podtap's end-to-end tests must run as root"
		return 1
	fi
	PT_TMP="$(mktemp -d /tmp/podtap-e2e.XXXXXX)" || return 1
	export PT_TMP
	: >"$PT_TMP/pids"      # "pid" per line: processes to stop
	: >"$PT_TMP/cgroups"   # cgroup dirs we created, parents first
	: >"$PT_TMP/mounts"    # mount points we mounted
	: >"$PT_TMP/rmpaths"   # extra paths to remove (pin dirs)
	: >"$PT_TMP/ports"     # ports handed out (not handed out twice)
	mkdir -p "$PT_TMP/pods" "$PT_TMP/logs" "$PT_TMP/scrapes"
}

pt_require_podtap() {
	if [ ! -x "$PODTAP_BIN" ]; then
		pt_fail "$PODTAP_BIN does not exist or is not executable (run make)"
		return 1
	fi
}

# pt_rand_hex N: N random hex characters.
pt_rand_hex() {
	od -An -tx1 -N "$(( ($1 + 1) / 2 ))" /dev/urandom | tr -d ' \n' |
		cut -c "1-$1"
}

# pt_free_port: prints a TCP port on 127.0.0.1 nobody listens on, below the
# ephemeral range (so a client's source port cannot take it meanwhile), never
# the same twice in one PT_TMP.
pt_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		grep -qx "$p" "$PT_TMP/ports" 2>/dev/null && continue
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			echo "$p" >>"$PT_TMP/ports"
			echo "$p"
			return 0
		fi
	done
	pt_fail "no free port found"
	return 1
}

# pt_wait_port PORT [TIMEOUT_S] [PID]: waits until a socket listens on TCP
# port PORT; gives up early when PID (the server) has died.
pt_wait_port() {
	local port=$1 timeout=${2:-15} pid=${3:-} deadline
	deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		# Look, don't connect: a probe connection would be traffic that
		# the daemon under test sees.
		if [ -n "$(ss -Htln "( sport = :$port )" 2>/dev/null)" ]; then
			return 0
		fi
		if [ -n "$pid" ] && ! pt_alive "$pid"; then
			pt_fail "process $pid died before listening on port $port"
			return 1
		fi
		sleep 0.05
	done
	pt_fail "nothing listens on 127.0.0.1:$port after ${timeout}s"
	return 1
}

# pt_alive PID: true while PID exists and is not a zombie.
pt_alive() {
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) ||
		return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pt_children PID: direct children's pids.
pt_children() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}

# pt_descendants PID: all descendants' pids, children first.
pt_descendants() {
	local c
	for c in $(pt_children "$1"); do
		echo "$c"
		pt_descendants "$c"
	done
}

# pt_wait_gone TIMEOUT_S PID...: waits until none of the PIDs is alive.
pt_wait_gone() {
	local timeout=$1 p left deadline
	shift
	deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
	while :; do
		left=""
		for p in "$@"; do pt_alive "$p" && left="$left $p"; done
		[ -z "$left" ] && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.05
	done
	pt_log "still alive after ${timeout}s:$left"
	return 1
}

# pt_stop_pid PID [TIMEOUT_S]: SIGTERM to PID, wait, then SIGKILL to it and
# to the descendants it had (gunicorn workers) if any remain.
pt_stop_pid() {
	local pid=$1 timeout=${2:-8} kids
	pt_alive "$pid" || return 0
	kids=$(pt_descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	# shellcheck disable=SC2086
	if ! pt_wait_gone "$timeout" "$pid" $kids; then
		# shellcheck disable=SC2086
		kill -KILL "$pid" $kids 2>/dev/null || true
		# shellcheck disable=SC2086
		pt_wait_gone 5 "$pid" $kids
	fi
	return 0
}

# pt_spawn LOGFILE [--cgroup DIR] -- CMD...: starts CMD in the background
# (optionally inside cgroup DIR, by the in-cgroup wrapper), records its pid
# for cleanup and prints it. fd 3 is closed so bats does not wait on it.
pt_spawn() {
	local log=$1 cg="" pid
	shift
	if [ "${1:-}" = --cgroup ]; then cg=$2; shift 2; fi
	[ "${1:-}" = -- ] && shift
	if [ -n "$cg" ]; then
		bash "$PT_LIB_DIR/in-cgroup.sh" "$cg" "$@" </dev/null >"$log" 2>&1 3>&- &
	else
		"$@" </dev/null >"$log" 2>&1 3>&- &
	fi
	pid=$!
	echo "$pid" >>"$PT_TMP/pids"
	echo "$pid"
}

# pt_cleanup: stops every recorded process (last started first), empties and
# removes recorded cgroups (deepest first), unmounts, removes PT_TMP.
# Safe to call more than once and with nothing recorded.
pt_cleanup() {
	[ -n "${PT_TMP:-}" ] && [ -d "$PT_TMP" ] || return 0
	local pid cg p i m
	if [ -s "$PT_TMP/pids" ]; then
		for pid in $(tac "$PT_TMP/pids"); do pt_stop_pid "$pid" 8; done
	fi
	if [ -s "$PT_TMP/cgroups" ]; then
		for cg in $(tac "$PT_TMP/cgroups"); do
			[ -d "$cg" ] || continue
			# Anything still inside was started by this test.
			for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
				kill -KILL "$p" 2>/dev/null || true
			done
			for i in $(seq 1 50); do
				rmdir "$cg" 2>/dev/null && break
				sleep 0.1
			done
			if [ -d "$cg" ]; then pt_log "could not remove cgroup $cg"; fi
		done
	fi
	if [ -s "$PT_TMP/rmpaths" ]; then
		for p in $(tac "$PT_TMP/rmpaths"); do rm -rf -- "$p"; done
	fi
	if [ -s "$PT_TMP/mounts" ]; then
		for m in $(tac "$PT_TMP/mounts"); do umount "$m" 2>/dev/null ||
			umount -l "$m"; done
	fi
	rm -rf -- "$PT_TMP"
	unset PT_TMP
	return 0
}

# pt_curl_status URL [curl args...]: prints the HTTP status of one request.
pt_curl_status() {
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# pt_expect_eq WHAT EXPECTED GOT
pt_expect_eq() {
	if [ "$2" != "$3" ]; then
		pt_fail "$1: expected '$2', got '$3'"
		return 1
	fi
}

source "$PT_LIB_DIR/pods.bash"
source "$PT_LIB_DIR/podtap.bash"
source "$PT_LIB_DIR/metrics.bash"
