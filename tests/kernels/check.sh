#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The kernel check: what must work on every kernel podtap supports. Runs as
# root inside the test VM (tests/kernels/init.sh, under busybox sh) and on
# any host directly:
#
#   tests/kernels/check.sh          # after make build/podtap build/tests/bpf_load
#
#   1. build/tests/bpf_load: every BPF program loads and attaches, with the
#      verifier's statistics per program (its log for a rejected one), and
#      the events of each traced syscall are right;
#   2. podtap starts, and a keep-alive HTTP exchange and an HTTPS one
#      (KCHECK_REQUESTS requests on one connection each, Python servers
#      and clients: HTTPS is seen through the SSL uprobes) are counted
#      exactly, server and client side;
#      and busybox httpd (inetd style: request read on fd 0, response
#      written on its dup fd 1) serves 25 requests counted as 25;
#   3. podtap stops cleanly on SIGTERM.
#
# Prints TAP lines ("ok N - ...", "not ok N - ..."), comments ("# ..."),
# and last "kernel-check <release>: N passed, N failed"; exits 1 on any
# failure. Every wait is bounded.
#
# Environment: KCHECK_PODTAP, KCHECK_BPF_LOAD, KCHECK_PYTHON (Debian's
# /usr/bin/python3.11), KCHECK_CERT and KCHECK_KEY (a certificate for
# 127.0.0.1; made with openssl when unset), KCHECK_REQUESTS (10),
# KCHECK_WAIT (seconds for podtap to start or count, 60).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PODTAP=${KCHECK_PODTAP:-$repo/build/podtap}
BPF_LOAD=${KCHECK_BPF_LOAD:-$repo/build/tests/bpf_load}
PY=${KCHECK_PYTHON:-/usr/bin/python3.11}
N=${KCHECK_REQUESTS:-10}
WAIT=${KCHECK_WAIT:-60}
TRAFFIC="$here/traffic.py"

num=0 passed=0 failed=0
ok() { num=$((num + 1)) passed=$((passed + 1)); echo "ok $num - $*"; }
not_ok() { num=$((num + 1)) failed=$((failed + 1)); echo "not ok $num - $*"; }
# check WHAT CMD...: ok/not ok as CMD succeeds.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
comment() { sed 's/^/# /'; }

tmp=$(mktemp -d /tmp/podtap-kcheck.XXXXXX) || exit 1
pids=""
podtap_pid=""
pin=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -n "$podtap_pid" ] && kill "$podtap_pid" 2>/dev/null
	for p in $pids $podtap_pid; do wait "$p" 2>/dev/null; done
	[ -n "$pin" ] && rm -rf "$pin"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

py() { "$PY" -I "$TRAFFIC" "$@"; }

summary() {
	echo "kernel-check $(uname -r): $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

if [ "$(id -u)" != 0 ]; then
	not_ok "runs as root"
	summary
	exit 1
fi
echo "# kernel $(uname -r), $(nproc) CPUs"

# --- 1. bpf_load -----------------------------------------------------------

# Its own "ok - NAME" / "not ok - NAME" lines become numbered ones here; the
# rest (verifier statistics, logs, CHECK failures) comments.
"$BPF_LOAD" >"$tmp/bpf_load.out" 2>&1
bpf_load_status=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "bpf_load: ${line#ok - }" ;;
	"not ok - "*) not_ok "bpf_load: ${line#not ok - }" ;;
	*" passed, "*" failed"*) ;;
	*) echo "# $line" ;;
	esac
done <"$tmp/bpf_load.out"
if ! grep -q ' passed, .* failed' "$tmp/bpf_load.out"; then
	not_ok "bpf_load ran to its summary (exit $bpf_load_status)"
fi

# --- 2. podtap and Python HTTP/HTTPS traffic --------------------------------

if [ -z "${KCHECK_CERT:-}" ]; then
	KCHECK_CERT=$tmp/cert.pem KCHECK_KEY=$tmp/key.pem
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$KCHECK_KEY" \
		-out "$KCHECK_CERT" 2>/dev/null
fi

# Names unique to this run (comm, so service_name): on a busy host other
# Python traffic is never counted as ours.
tag=$("$PY" -I -c 'import os; print(os.urandom(2).hex())')
mkdir -p "$tmp/bin" "$tmp/pods"
for role in hs ss hc sc; do
	ln -s "$PY" "$tmp/bin/kc$tag-$role"
done

# Free ports, from the kernel: a listener is bound to port 0 and closed.
mport=$("$PY" -I -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metrics="http://127.0.0.1:$mport"
if awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { found = 1 } END { exit !found }' \
	/proc/mounts; then
	pin=/sys/fs/bpf/podtap-kcheck-$tag
	pinflags="--pin-path $pin"
else
	pinflags="--no-pin"
fi
# shellcheck disable=SC2086 # pinflags: two words or one
"$PODTAP" --metrics-listen "127.0.0.1:$mport" --pod-log-dir "$tmp/pods" \
	$pinflags >"$tmp/podtap.log" 2>&1 &
podtap_pid=$!

# wait_for SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
	w_end=$(( $(date +%s) + $1 ))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$w_end" ] && return 1
		kill -0 "$podtap_pid" 2>/dev/null || return 1
		sleep 0.2
	done
}
podtap_log() { comment <"$tmp/podtap.log"; }

if wait_for "$WAIT" py get "$metrics/readyz"; then
	ok "podtap starts and is ready ($(grep -c . "$tmp/podtap.log") log lines)"
else
	not_ok "podtap starts and is ready"
	podtap_log
	podtap_pid=""
	summary
	exit 1
fi
if [ -n "$pin" ]; then
	check "podtap pins its maps and programs" \
		test -e "$pin/maps/podtap_events" -a \( -e "$pin/progs/podtap_sys_exit" \
		-o -e "$pin/progs/podtap_sys_exit_cast" \)
fi

# The servers: each writes its port once it listens.
"$tmp/bin/kc$tag-hs" -I "$TRAFFIC" serve http "$tmp/http.port" \
	>"$tmp/hs.log" 2>&1 &
pids="$pids $!"
"$tmp/bin/kc$tag-ss" -I "$TRAFFIC" serve https "$tmp/https.port" \
	"$KCHECK_CERT" "$KCHECK_KEY" >"$tmp/ss.log" 2>&1 &
pids="$pids $!"
if ! wait_for "$WAIT" test -s "$tmp/http.port" -a -s "$tmp/https.port"; then
	not_ok "Python servers listen"
	comment <"$tmp/hs.log"
	comment <"$tmp/ss.log"
	summary
	exit 1
fi
http_port=$(cat "$tmp/http.port")
https_port=$(cat "$tmp/https.port")

# The clients load ssl, say "ready" and wait for their go file.
"$tmp/bin/kc$tag-hc" -I "$TRAFFIC" client \
	"http://127.0.0.1:$http_port/kernel/check" "$N" "$tmp/go" \
	>"$tmp/hc.log" 2>&1 &
hc=$!
"$tmp/bin/kc$tag-sc" -I "$TRAFFIC" client \
	"https://127.0.0.1:$https_port/kernel/check" "$N" "$tmp/go" \
	"$KCHECK_CERT" >"$tmp/sc.log" 2>&1 &
sc=$!
pids="$pids $hc $sc"

# podtap has found all four as Python processes (and so hooked their
# libssl) before the first byte is sent.
hooked() {
	for role in hs ss hc sc; do
		[ "$(py sum "$metrics/metrics" python_info \
			"service_name=kc$tag-$role")" = 1 ] || return 1
	done
	grep -qx ready "$tmp/hc.log" && grep -qx ready "$tmp/sc.log"
}
check "podtap finds the Python servers and clients" wait_for "$WAIT" hooked
touch "$tmp/go"

# finished PID LOG: the client exited 0 after "done N".
finished() {
	wait "$1"
	f_status=$?
	grep -qx "done $N" "$2" && [ "$f_status" -eq 0 ] && return 0
	comment <"$2"
	return 1
}
check "$N HTTP requests on one keep-alive connection" finished "$hc" "$tmp/hc.log"
check "$N HTTPS requests on one keep-alive connection" finished "$sc" "$tmp/sc.log"

# expect_count WHAT NAME LABELS...: the count is exactly $N, and stays.
expect_count() {
	e_what=$1
	shift
	if e_got=$(py expect "$metrics/metrics" "$N" "$WAIT" "$@"); then
		ok "$e_what: $e_got"
	else
		not_ok "$e_what: $e_got, want $N"
	fi
}
expect_count "HTTP server count" http_server_request_duration_seconds_count \
	"service_name=kc$tag-hs" url_scheme=http http_request_method=GET \
	http_response_status_code=200
expect_count "HTTP client count" http_client_request_duration_seconds_count \
	"service_name=kc$tag-hc" url_scheme=http http_request_method=GET \
	http_response_status_code=200 server_address=127.0.0.1 \
	"server_port=$http_port"
expect_count "HTTPS server count (SSL uprobes)" \
	http_server_request_duration_seconds_count "service_name=kc$tag-ss" \
	url_scheme=https http_request_method=GET http_response_status_code=200
expect_count "HTTPS client count (SSL uprobes)" \
	http_client_request_duration_seconds_count "service_name=kc$tag-sc" \
	url_scheme=https http_request_method=GET http_response_status_code=200 \
	server_address=127.0.0.1 "server_port=$https_port"

# An inetd-style server: busybox httpd re-executes itself for each
# connection with the socket on fd 0 and a dup2 of it on fd 1, reading the
# request on one and writing the response on the other: one connection,
# since a connection is its socket.
BB_N=25
mkdir -p "$tmp/www"
echo kernel check >"$tmp/www/bb$tag.html"
bb_port=$("$PY" -I -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
busybox httpd -f -p "127.0.0.1:$bb_port" -h "$tmp/www" >"$tmp/bb.log" 2>&1 &
pids="$pids $!"
bb_get() { py get "http://127.0.0.1:$bb_port/bb$tag.html"; }
if wait_for "$WAIT" bb_get; then
	# That probe was one exchange; BB_N - 1 more make BB_N.
	i=1
	while [ "$i" -lt "$BB_N" ] && bb_get >/dev/null; do i=$((i + 1)); done
	if bb_got=$(py expect "$metrics/metrics" "$BB_N" "$WAIT" \
		http_server_request_duration_seconds_count \
		"http_route=/bb$tag.html" http_request_method=GET \
		http_response_status_code=200); then
		ok "busybox httpd (inetd style, fd 0 and its dup fd 1): $bb_got of $BB_N"
	else
		not_ok "busybox httpd (inetd style, fd 0 and its dup fd 1): $bb_got, want $BB_N"
	fi
else
	not_ok "busybox httpd listens"
	comment <"$tmp/bb.log"
fi

# Nothing lost in the kernel on a quiet machine (only checked in the VM:
# a busy host may fill the ring buffer with other traffic).
if [ "${KCHECK_QUIET_MACHINE:-0}" = 1 ]; then
	drops=$(py sum "$metrics/metrics" podtap_kernel_drops_total)
	check "no kernel-side drops ($drops)" test "$drops" = 0
fi

# --- 3. SIGTERM --------------------------------------------------------------

kill "$podtap_pid"
wait "$podtap_pid"
status=$?
podtap_pid=""
if [ "$status" -eq 0 ]; then
	ok "podtap exits 0 on SIGTERM"
else
	not_ok "podtap exits 0 on SIGTERM (status $status)"
fi
if [ "$failed" -gt 0 ]; then
	echo "# podtap's log:"
	podtap_log
fi
summary
