# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared helpers for podtap's end-to-end tests (bats). Load with
#   load 'lib/common'
# from a .bats file in tests/e2e; it pulls in the other lib/*.bash files.
#
# Everything a test starts or creates is recorded under $PT_TMP (a temp dir
# made by pt_init and exported, so setup_file, the tests and teardown_file
# all see it); pt_cleanup undoes it all by pid / path, deepest first.
#
# Suites may run at the same time (tests/run.sh runs them in parallel, and
# other checkouts on the machine run theirs): what they share is kept in
# $PT_SHARED under a lock (pt_locked): the ports handed out, and the cgroup
# parents their pods share (kubepods.slice, ...).
#
# Helpers print what went wrong on stderr and return non-zero; bats shows
# that output when a test fails.

PT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PT_REPO="$(cd "$PT_LIB_DIR/../../.." && pwd)"
PT_PY=/usr/bin/python3          # Debian's: has flask, prometheus_client
PT_GUNICORN=/usr/bin/gunicorn
PT_FIXTURES="$PT_REPO/tests/fixtures"
: "${PODTAP_BIN:=$PT_REPO/build/podtap}"
# Machine-wide, for every suite of every checkout (see pt_locked).
: "${PT_SHARED:=/run/podtap-e2e}"

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
	mkdir -p "$PT_SHARED/ports" || return 1
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

# pt_locked CMD...: runs CMD (a function or command) holding the machine-wide
# lock of $PT_SHARED, so that suites running at the same time do not race
# for a port or a shared cgroup parent. Keep CMD short: everyone waits.
pt_locked() {
	(
		flock -w 60 9 || { pt_fail "$PT_SHARED/lock still held after 60 s"; exit 1; }
		"$@"
	) 9>>"$PT_SHARED/lock"
}

# pt_free_port: prints a TCP port on 127.0.0.1 nobody listens on, below the
# ephemeral range (so a client's source port cannot take it meanwhile),
# reserved machine-wide until pt_cleanup ($PT_SHARED/ports/PORT holds the
# owner's PT_TMP; a reservation whose PT_TMP is gone is stale): another
# suite running at the same time cannot be handed it between the check and
# the bind, nor bind it while this one expects it to be free.
pt_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		grep -qx "$p" "$PT_TMP/ports" 2>/dev/null && continue
		pt_locked pt_port_claim "$p" || continue
		echo "$p" >>"$PT_TMP/ports"
		echo "$p"
		return 0
	done
	pt_fail "no free port found"
	return 1
}

# pt_port_claim PORT (under pt_locked): reserves PORT for $PT_TMP unless a
# live suite holds it or a socket uses it.
pt_port_claim() {
	local f="$PT_SHARED/ports/$1" owner
	if [ -e "$f" ]; then
		owner=$(cat "$f" 2>/dev/null) || owner=""
		[ -n "$owner" ] && [ -d "$owner" ] && return 1
	fi
	[ -z "$(ss -Htan "( sport = :$1 or dport = :$1 )" 2>/dev/null)" ] || return 1
	echo "$PT_TMP" >"$f"
}

# pt_unique_exec NAME PATH: a symlink to the executable (or script) PATH
# under a name of this suite's own, pt-NAME-<8 hex> (NAME: 2 to 4
# characters), printed. What is started through it has that name as its
# comm (the kernel's comm is the base name of the file executed, at most 15
# characters; a script's interpreter keeps it, and forks inherit it), so
# its host series (service_name=<comm>) cannot be those of another process
# of the machine running PATH under its usual name.
pt_unique_exec() {
	local link
	mkdir -p "$PT_TMP/bin" || return 1
	link="$PT_TMP/bin/pt-$1-$(pt_rand_hex 8)"
	ln -s "$2" "$link" || return 1
	echo "$link"
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

# pt_hold_port PORT SECONDS: a process (recorded, log holder.log) that
# listens on 127.0.0.1:PORT, accepting nothing, for SECONDS: a port in
# use. Waits until it listens; prints its pid.
pt_hold_port() {
	local pid
	pid=$(pt_spawn "$PT_TMP/logs/holder.log" -- "$PT_PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(int(sys.argv[2]))' "$1" "$2") || return 1
	pt_wait_port "$1" 10 "$pid" || return 1
	echo "$pid"
}

# pt_alive PID: true while PID exists and is not a zombie.
pt_alive() {
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) ||
		return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pt_vmrss_kib PID: resident set size of PID in KiB.
pt_vmrss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
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

# pt_test_mark (in setup) and pt_test_stop (in teardown): for suites that
# share what setup_file starts and start more per test (a podtap, a
# receiver, clients): pt_test_stop stops the processes recorded since
# pt_test_mark, last started first, whatever the test's outcome.
pt_test_mark() {
	PT_MARK=$(wc -l <"$PT_TMP/pids")
}

pt_test_stop() {
	local p
	for p in $(tail -n +"$((PT_MARK + 1))" "$PT_TMP/pids" | tac); do
		pt_stop_pid "$p" 8
	done
}

# pt_cleanup: stops every recorded process (last started first), empties and
# removes recorded cgroups (deepest first) and then the shared parents no
# suite uses any more, unmounts, releases the ports, removes PT_TMP.
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
	pt_locked pt_cgroup_prune_shared || true
	if [ -s "$PT_TMP/rmpaths" ]; then
		for p in $(tac "$PT_TMP/rmpaths"); do rm -rf -- "$p"; done
	fi
	if [ -s "$PT_TMP/mounts" ]; then
		for m in $(tac "$PT_TMP/mounts"); do umount "$m" 2>/dev/null ||
			umount -l "$m"; done
	fi
	if [ -s "$PT_TMP/ports" ]; then
		for p in $(cat "$PT_TMP/ports"); do
			[ "$(cat "$PT_SHARED/ports/$p" 2>/dev/null)" = "$PT_TMP" ] &&
				rm -f "$PT_SHARED/ports/$p"
		done
	fi
	rm -rf -- "$PT_TMP"
	unset PT_TMP
	return 0
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
source "$PT_LIB_DIR/clients.bash"
