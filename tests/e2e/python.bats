#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Python runtime hooks, end to end: HTTPS seen in plaintext through uprobes
# on OpenSSL (a gunicorn serving TLS itself, Flask handlers and scripts
# calling https:// services), and CPython's garbage collector per pod from
# both interpreters here (Debian's python3.11 with USDT probes, the pyenv
# build with a shared libpython and no USDT). One podtap, exporting spans to
# the test OTLP receiver, serves the whole file; every figure is exact.

load 'lib/common'
load 'lib/otlp'

PYENV_PY=/root/.pyenv/versions/3.11.7/bin/python3.11
WORKLOAD="$PT_FIXTURES/pyworkload.py"

setup_file() {
	pt_podtap_setup
	pt_otlp_require
	if [ ! -x "$PYENV_PY" ]; then
		pt_fail "the pyenv Python $PYENV_PY is missing"
		return 1
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-keyout "$PT_TMP/key.pem" -out "$PT_TMP/cert.pem" 2>/dev/null

	pt_pod_create secure tls-1 web
	export TLS_SCOPE=$PT_POD_SCOPE
	pt_who tls secure tls-1 web
	pt_pod_create calls caller-1 caller
	export CALLER_SCOPE=$PT_POD_SCOPE

	pt_otlp_start
	# Files no process maps keep their uprobes 2 s (the default is a
	# minute), so that letting go is seen within a test.
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		NODE_NAME=python-node -- --uprobe-linger 2

	pt_gunicorn_app TLS tls --cgroup "$TLS_SCOPE" -- -w 2 \
		--certfile "$PT_TMP/cert.pem" --keyfile "$PT_TMP/key.pem"
	pt_gunicorn_app CALLER caller --cgroup "$CALLER_SCOPE" -- -w 1 --threads 2
}

teardown_file() {
	pt_podtap_teardown
}

# expect_cli N NS POD CONTAINER STATUS ROUTE ADDRESS PORT: a client series
# (GET, https) has exactly N requests.
expect_cli() {
	local -a l
	mapfile -t l < <(pt_client_labels "$2" "$3" "$4" GET "$5" "$6" https "$7" "$8")
	pt_wait_metric "$1" http_client_request_duration_seconds_count "${l[@]}"
}

parse_errors() { pt_metric_sum podtap_http_parse_errors_total; }

# run_workload LOG [--cgroup DIR] -- CMD...: spawns a workload that prints
# "ready" and waits for $PT_TMP/go.<n>; prints "<pid> <go file>".
run_workload() {
	local log=$1 pid go i
	shift
	go="$PT_TMP/go.$(pt_rand_hex 8)"
	pid=$(pt_spawn "$log" "$@" "$go") || return 1
	for i in $(seq 1 200); do
		grep -qx ready "$log" 2>/dev/null && break
		sleep 0.05
	done
	if ! grep -qx ready "$log"; then
		pt_fail "workload $pid not ready:"
		cat "$log" >&2
		return 1
	fi
	echo "$pid $go"
}

# wait_done LOG: the workload printed "done" (bounded).
wait_done() {
	local i
	for i in $(seq 1 300); do
		grep -qx done "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	pt_fail "workload did not finish:"
	cat "$1" >&2
	return 1
}

# expect_hooked POD: python_info shows a Python process of pod POD (within
# a second or two of its start; up to 10 s on a loaded machine, where
# podtap's event loop runs behind every process's traffic).
expect_hooked() {
	PT_WAIT_S=10 pt_wait_ge_info "$1"
}

pt_wait_ge_info() {
	pt_wait_metric_ge 1 python_info "k8s_pod_name=$1"
}

# The parse errors, the SSL calls without a socket and the connections set
# aside as not HTTP are node-wide counters: other processes on the machine
# (other suites running at the same time) move them too, and nothing says
# whose a count was. So this traffic is sent in short windows (4 requests at
# a time), up to 5; the pod's series are exact after each, and the node-wide
# figures must come out right in one: none of either kind of error, 13..25
# connections set aside. Should other traffic leave no window clean, one
# window must still have fewer errors of each kind than this traffic has
# exchanges (13), which ciphertext reaching the parser (an error or a
# connection set aside per exchange) could not.
@test "gunicorn serving HTTPS itself: exact counts with url_scheme=https, no parse errors from ciphertext" {
	local err0 drop0 other0 derr ddrop dother try bounded=""
	for try in 1 2 3 4 5; do
		err0=$(parse_errors)
		drop0=$(pt_metric podtap_kernel_drops_total reason=tls_socket_unknown)
		other0=$(pt_metric podtap_connections_total protocol=other)
		printf '%s\n' / / / / / / /users/11 /users/12 /users/13 /error /error \
			/nothing-here |
			xargs -P 4 -I{} curl -sS -k -o /dev/null -w '%{http_code}\n' \
				--max-time 10 "$TLS{}" >"$PT_TMP/tls.codes"
		[ "$(pt_curl_status "$TLS/items" -k -d x=1)" = 201 ]
		pt_expect_eq "statuses" "200 x9, 404 x1, 500 x2" \
			"$(sort "$PT_TMP/tls.codes" | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')"

		pt_expect_count $((6 * try)) tls GET 200 / https
		pt_expect_count $((3 * try)) tls GET 200 '/users/{id}' https
		pt_expect_count $((2 * try)) tls GET 500 /error https
		pt_expect_count "$try" tls POST 201 /items https
		pt_expect_count "$try" tls GET 404 /nothing-here https
		# Nothing of this pod is counted as plain http.
		pt_expect_eq "http series of the TLS pod" 0 \
			"$(pt_metric_sum "${PT_HIST}_count" k8s_pod_name=tls-1 url_scheme=http)"
		derr=$(( $(parse_errors) - err0 ))
		ddrop=$(( $(pt_metric podtap_kernel_drops_total reason=tls_socket_unknown) - drop0 ))
		# curl is no Python process: its 13 client connections carry
		# ciphertext and are set aside as not HTTP. The server side's
		# handshakes never reach the parser, so they add nothing: 13
		# here, 26 if they did.
		dother=$(( $(pt_metric podtap_connections_total protocol=other) - other0 ))
		if [ "$dother" -lt 13 ]; then
			# Fewer than curl's own: no other process can cause that.
			pt_fail "connections set aside as not HTTP: +$dother, want 13 (curl's)"
			return 1
		fi
		[ "$derr" = 0 ] && [ "$ddrop" = 0 ] && [ "$dother" -lt 26 ] && return 0
		pt_log "window $try: parse errors +$derr, SSL calls without a socket +$ddrop," \
			"connections set aside as not HTTP +$dother (want 0, 0, 13..25)"
		[ "$derr" -lt 13 ] && [ "$ddrop" -lt 13 ] && [ "$dother" -lt 26 ] &&
			bounded=${bounded:-$try}
	done
	if [ -n "$bounded" ]; then
		pt_log "no window without other traffic's errors; window $bounded had fewer than one per exchange"
		return 0
	fi
	pt_fail "parse errors, SSL calls without a socket or connections not HTTP off in each of 5 windows (last: +$derr, +$ddrop, +$dother)"
	return 1
}

@test "a Flask handler calling an HTTPS service with requests: client metrics and a CLIENT span" {
	local i err0
	err0=$(pt_count tls GET 500 /error https)
	for i in 1 2 3; do
		[ "$(pt_curl_status "$CALLER/call?url=$TLS/users/$i&verify=0" -A "py-call-$BATS_TEST_NUMBER")" = 200 ]
	done
	[ "$(pt_curl_status "$CALLER/call?url=https://localhost:$TLS_PORT/error&verify=0")" = 500 ]
	expect_cli 3 calls caller-1 caller 200 '/users/{id}' 127.0.0.1 "$TLS_PORT"
	expect_cli 1 calls caller-1 caller 500 /error localhost "$TLS_PORT"
	# Both ends: the TLS pod served it too.
	pt_expect_count "$((err0 + 1))" tls GET 500 /error https
	# One CLIENT span per call, https, each the child of the SERVER span of
	# the request that made it.
	pt_otlp_wait_count 3 "client and pod(\"caller-1\") and a(\"server.port\") == $TLS_PORT and a(\"http.response.status_code\") == 200" || {
		pt_otlp_dump 'pod("caller-1")'
		return 1
	}
	pt_expect_eq "CLIENT spans with url.scheme https" 0 \
		"$(pt_otlp_count "client and pod(\"caller-1\") and (a(\"url.scheme\") != \"https\")")"
	pt_expect_eq "CLIENT spans whose parent is the caller's SERVER span" 3 \
		"$(pt_otlp_jq '[.[] | select(server and pod("caller-1") and ua("py-call-'"$BATS_TEST_NUMBER"'"))] as $s
			| [.[] | select(client and pod("caller-1") and a("http.response.status_code") == 200)
			| select(.parentSpanId as $p | $s | any(.spanId == $p))] | length')"
}

# gc_count POD GENERATION: python_gc_collections_total of that pod now.
gc_count() {
	pt_metric python_gc_collections_total k8s_namespace_name=py \
		"k8s_pod_name=$1" k8s_container_name=gc service_name=gc \
		"k8s_node_name=$PODTAP_NODE_NAME" "generation=$2"
}

@test "GC collections per generation, exact: Debian python3.11 through USDT, pyenv 3.11 through gc_collect_main" {
	local who py pod pid go rest g want
	local -a before
	for who in debian pyenv; do
		case $who in
		debian) py=/usr/bin/python3.11 ;;
		pyenv) py=$PYENV_PY ;;
		esac
		pod="gc-$who"
		pt_pod_create py "$pod" gc
		read -r pid go rest < <(run_workload "$PT_TMP/logs/$pod.log" \
			--cgroup "$PT_POD_SCOPE" -- "$py" "$WORKLOAD" gc)
		expect_hooked "$pod"
		# Interpreter start-up collects before the script disables
		# automatic collection: count from here.
		sleep 0.3
		for g in 0 1 2; do
			before[g]=$(gc_count "$pod" "$g")
		done
		touch "$go"
		wait_done "$PT_TMP/logs/$pod.log"
		g=0
		for want in 7 5 3; do
			pt_wait_metric "$((before[g] + want))" python_gc_collections_total \
				k8s_namespace_name=py "k8s_pod_name=$pod" \
				k8s_container_name=gc service_name=gc \
				"k8s_node_name=$PODTAP_NODE_NAME" "generation=$g"
			pt_wait_metric "$((before[g] + want))" python_gc_duration_seconds_count \
				k8s_namespace_name=py "k8s_pod_name=$pod" \
				k8s_container_name=gc service_name=gc \
				"k8s_node_name=$PODTAP_NODE_NAME" "generation=$g"
			g=$((g + 1))
		done
		pt_stop_pid "$pid" 5
	done
	# The interpreters' versions: the Debian build carries its full
	# PY_VERSION; the pyenv libpython only names its minor version.
	wait_no_info gc-debian
	grep -q 'hooked through its USDT probes' "$PODTAP_LOG"
	grep -q 'hooked through a uprobe on gc_collect_main' "$PODTAP_LOG"
}

# wait_no_info POD: python_info of POD drops to nothing (bounded).
wait_no_info() {
	local i
	for i in $(seq 1 50); do
		[ "$(pt_metric_sum python_info "k8s_pod_name=$1")" = 0 ] && return 0
		sleep 0.1
	done
	pt_fail "python_info of $1 still there 5 s after its process ended"
	return 1
}

@test "python_info per pod, for each interpreter, while its process runs" {
	local pid go rest
	pt_pod_create py info-deb app
	read -r pid go rest < <(run_workload "$PT_TMP/logs/info.log" \
		--cgroup "$PT_POD_SCOPE" -- /usr/bin/python3.11 "$WORKLOAD" gc)
	pt_wait_metric 1 python_info k8s_namespace_name=py k8s_pod_name=info-deb \
		k8s_container_name=app service_name=app "k8s_node_name=$PODTAP_NODE_NAME" implementation=CPython \
		version=3.11.2
	pt_stop_pid "$pid" 5
	wait_no_info info-deb
	pt_pod_create py info-pyenv app
	read -r pid go rest < <(run_workload "$PT_TMP/logs/info2.log" \
		--cgroup "$PT_POD_SCOPE" -- "$PYENV_PY" "$WORKLOAD" gc)
	pt_wait_metric 1 python_info k8s_namespace_name=py k8s_pod_name=info-pyenv \
		k8s_container_name=app service_name=app "k8s_node_name=$PODTAP_NODE_NAME" implementation=CPython \
		version=3.11
	pt_stop_pid "$pid" 5
}

# A copy of libssl (so a new file: device + inode) that no process has
# mapped yet.
fresh_libssl() {
	local dir=$1 lib
	lib=$(ldconfig -p | awk '/libssl\.so\.3 .*x86-64/ { print $NF; exit }')
	mkdir -p "$dir"
	cp "$lib" "$dir/libssl.so.3"
}

@test "a Python process started after podtap that imports ssl late is hooked within a second" {
	local pid go rest log="$PT_TMP/logs/late.log"
	local hooked="SSL uprobes attached to /proc/[0-9]*/root$PT_TMP/late-lib/libssl.so.3"
	fresh_libssl "$PT_TMP/late-lib"
	pt_pod_create py late-1 script
	read -r pid go rest < <(run_workload "$log" --cgroup "$PT_POD_SCOPE" -- \
		env LD_LIBRARY_PATH="$PT_TMP/late-lib" "$PYENV_PY" "$WORKLOAD" \
		https "$TLS/users/77" 4 late)
	expect_hooked late-1
	# Not mapped yet, so not hooked yet: the import below maps it.
	if grep -q "libssl.so.3" "/proc/$pid/maps"; then
		pt_fail "libssl mapped before the import:"
		grep "libssl" "/proc/$pid/maps" >&2
		return 1
	fi
	grep -q "$hooked" "$PODTAP_LOG" && { pt_fail "the fresh libssl was hooked before any process mapped it"; return 1; }
	touch "$go"
	wait_done "$log"
	pt_expect_eq "statuses" "200 200 200 200" "$(grep -x '[0-9]*' "$log" | tr '\n' ' ' | sed 's/ $//')"
	expect_cli 4 py late-1 script 200 '/users/{id}' 127.0.0.1 "$TLS_PORT"
	grep -q "$hooked" "$PODTAP_LOG"
}

@test "a Python process in its own mount namespace is hooked through /proc/PID/root" {
	local pid go rest log="$PT_TMP/logs/mntns.log" nsdir="$PT_TMP/nsonly"
	# The library exists only inside the process's mount namespace: a
	# tmpfs mounted there, on a directory that is empty outside it.
	fresh_libssl "$PT_TMP/ns-src"
	mkdir -p "$nsdir"
	pt_pod_create py mntns-1 script
	read -r pid go rest < <(run_workload "$log" --cgroup "$PT_POD_SCOPE" -- \
		unshare -m --propagation private bash -c \
		'mount -t tmpfs none "$1" && cp "$2/libssl.so.3" "$1/" &&
		 LD_LIBRARY_PATH="$1" exec "$3" "$4" https "$5" 3 early "$6"' \
		ns "$nsdir" "$PT_TMP/ns-src" /usr/bin/python3.11 "$WORKLOAD" \
		"$TLS/users/5")
	expect_hooked mntns-1
	[ -z "$(ls -A "$nsdir")" ] # outside the namespace, nothing is there
	touch "$go"
	wait_done "$log"
	expect_cli 3 py mntns-1 script 200 '/users/{id}' 127.0.0.1 "$TLS_PORT"
	grep -q "SSL uprobes attached to /proc/$pid/root$nsdir/libssl.so.3" "$PODTAP_LOG"
}

# no_symbol_as_logged: podtap_uprobe_attach_failures_total{reason="no_symbol"}
# equals the no_symbol warnings in podtap's log (compared when neither moved
# in between: the count is taken just before the warning is written).
no_symbol_as_logged() {
	local i l1 l2 n
	local -a w=(-e "has neither CPython's USDT probes nor a" -e "defines no SSL_read/SSL_write")
	for i in $(seq 1 30); do
		l1=$(grep -c "${w[@]}" "$PODTAP_LOG" || true)
		n=$(pt_metric podtap_uprobe_attach_failures_total reason=no_symbol)
		l2=$(grep -c "${w[@]}" "$PODTAP_LOG" || true)
		[ "$l1" = "$n" ] && [ "$n" = "$l2" ] && return 0
		sleep 0.1
	done
	pt_fail "no_symbol failures: $n counted, $l1..$l2 logged"
	grep "${w[@]}" "$PODTAP_LOG" >&2
	return 1
}

@test "bad binaries: a stripped libpython is counted as no_symbol and keeps python_info; a fake python is ignored" {
	local pid go rest f0 lib
	lib=$(ldd "$PYENV_PY" | awk '/libpython/ { print $3 }')
	mkdir -p "$PT_TMP/stripped"
	strip --strip-all -o "$PT_TMP/stripped/$(basename "$lib")" "$lib"
	pt_pod_create py stripped-1 app
	read -r pid go rest < <(run_workload "$PT_TMP/logs/stripped.log" \
		--cgroup "$PT_POD_SCOPE" -- env LD_LIBRARY_PATH="$PT_TMP/stripped" \
		"$PYENV_PY" "$WORKLOAD" gc)
	grep -q "$PT_TMP/stripped/libpython" "/proc/$pid/maps"
	pt_wait_metric 1 python_info k8s_pod_name=stripped-1 k8s_namespace_name=py \
		k8s_container_name=app service_name=app "k8s_node_name=$PODTAP_NODE_NAME" implementation=CPython version=3.11
	# One failure for the stripped copy, and the counter agrees with the
	# warnings: podtap logs every no_symbol failure, the stripped copy's
	# once (the counter is node-wide: other stripped libraries on the
	# machine count too).
	pt_expect_eq "warnings naming the stripped copy" 1 \
		"$(grep -c "$PT_TMP/stripped/libpython.*neither CPython's USDT probes nor a gc_collect_main symbol" "$PODTAP_LOG")"
	no_symbol_as_logged
	touch "$go"
	wait_done "$PT_TMP/logs/stripped.log"
	sleep 0.5
	pt_expect_eq "GC series of the stripped build" 0 \
		"$(pt_metric_sum python_gc_collections_total k8s_pod_name=stripped-1)"
	pt_stop_pid "$pid" 5

	# Named like a python, but no interpreter inside.
	mkdir -p "$PT_TMP/fake"
	cp /bin/sleep "$PT_TMP/fake/python3.11"
	pt_pod_create py fake-1 app
	pid=$(pt_spawn "$PT_TMP/logs/fake.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_TMP/fake/python3.11" 30)
	sleep 1
	pt_expect_eq "python_info of a fake python" 0 \
		"$(pt_metric_sum python_info k8s_pod_name=fake-1)"
	pt_stop_pid "$pid" 5
	pt_podtap_alive
}

# py_procs: the pids in the kernel's Python process table, one a line.
py_procs() {
	bpftool map dump pinned "$PODTAP_PIN/maps/podtap_py_procs" -j |
		jq -r '.[].formatted.key // empty'
}

# uprobe_files: the files this suite's podtap holds uprobes on (bpftool perf
# list; podtap names them through /proc/PID/root of a process that maps
# them), as paths, sorted.
uprobe_files() {
	bpftool -j perf list | jq -r --argjson p "$PODTAP_PID" '.[] | select(.pid == $p)
		| select(.fd_type == "uprobe" or .fd_type == "uretprobe") | .filename' |
		sed 's#^/proc/[0-9]*/root##' | sort -u
}

# uprobes_on PATH: podtap's uprobe and uretprobe links on PATH.
uprobes_on() {
	bpftool -j perf list | jq --arg f "$1" --argjson p "$PODTAP_PID" '[.[]
		| select(.pid == $p and (.fd_type == "uprobe" or .fd_type == "uretprobe"))
		| select(.filename | sub("^/proc/[0-9]+/root"; "") == $f)] | length'
}

# mapped PID WORD: the path of the first file mapped by PID whose name
# contains WORD.
mapped() {
	awk -v w="$2" '$6 ~ w { print $6; exit }' "/proc/$1/maps"
}

# is_mapped PATH: some live process maps PATH.
is_mapped() {
	local re
	re=$(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
	grep -qsE -- "[[:space:]]$re( \(deleted\))?\$" /proc/[0-9]*/maps
}

# wait_no_unused_uprobes: every file with uprobes of this podtap is mapped by
# a live process (bounded: podtap lets a file go once it has seen the exit
# of its last process).
wait_no_unused_uprobes() {
	local i f unused
	# The linger time, then the reaper: each link takes the kernel about
	# 0.1 s to destroy, a dozen per file.
	for i in $(seq 1 300); do
		unused=""
		for f in $(uprobe_files); do
			is_mapped "$f" || unused="$unused $f"
		done
		[ -z "$unused" ] && return 0
		sleep 0.1
	done
	pt_fail "uprobes left on files no process maps:$unused"
	return 1
}

@test "a Python binary's uprobes outlive its last process for the linger time, then go; the next process meanwhile finds them" {
	local copy=$PT_TMP/linger/python3.11 pid i links
	# A binary of its own (a new inode), which no other process maps.
	mkdir -p "$PT_TMP/linger"
	cp /usr/bin/python3.11 "$copy"
	"$copy" -c 'import time; time.sleep(1)' &
	pid=$!
	for i in $(seq 1 50); do
		uprobe_files | grep -qxF -- "$copy" && break
		sleep 0.1
	done
	uprobe_files | grep -qxF -- "$copy" ||
		{ pt_fail "$copy was not hooked while it ran"; return 1; }
	links=$(uprobes_on "$copy")
	wait "$pid"
	# Its process gone 1.5 s, the file keeps its links (--uprobe-linger
	# 2; without, they go within 1.2 s), and the next process of it is
	# hooked with those, not a second set.
	sleep 1.5
	pt_expect_eq "uprobes on $copy 1.5 s after its process ended" \
		"$links" "$(uprobes_on "$copy")"
	"$copy" -c 'import time; time.sleep(1)'
	pt_expect_eq "uprobes on $copy after a second process" "$links" \
		"$(uprobes_on "$copy")"
	for i in $(seq 1 200); do
		uprobe_files | grep -qxF -- "$copy" || break
		sleep 0.1
	done
	if uprobe_files | grep -qxF -- "$copy"; then
		pt_fail "$copy still has uprobes 20 s after its last process"
		return 1
	fi
	pt_podtap_alive
}

@test "thousands of short-lived Python processes, and processes dying while hooked: no leak of links, table entries or memory" {
	local links0 rss0 rss1 pid go rest pids p tracked dead=0 w f n
	links0=$(pt_metric podtap_uprobe_links)
	rss0=$(pt_vmrss_kib "$PODTAP_PID")
	# 2000 forks of a tracked process (kernel-side inheritance and exit).
	pt_pod_create py churn-1 app
	read -r pid go rest < <(run_workload "$PT_TMP/logs/churn.log" \
		--cgroup "$PT_POD_SCOPE" -- /usr/bin/python3.11 "$WORKLOAD" forks 2000)
	expect_hooked churn-1
	touch "$go"
	wait_done "$PT_TMP/logs/churn.log"
	# 300 interpreters that exec and exit at once, several at a time:
	# most die before or while podtap looks at them.
	seq 1 300 | xargs -P 6 -I{} /usr/bin/python3.11 -c 'import ssl'
	seq 1 100 | xargs -P 6 -I{} "$PYENV_PY" -c 'pass'
	pt_stop_pid "$pid" 5
	sleep 1.5
	pt_podtap_alive
	pt_expect_eq "Python processes of the churned pod still tracked" 0 \
		"$(pt_metric_sum python_info k8s_pod_name=churn-1)"
	# No uprobe left on a file no process maps any more (the churned
	# processes' files that nothing else uses are let go), and the files
	# this file's long-lived Python processes map are still hooked (the
	# churn did not take what they share away). podtap_uprobe_links
	# counts the whole machine's Python files, which other processes
	# start and stop using meanwhile: shown only.
	pt_log "podtap_uprobe_links (node-wide): $links0 before, $(pt_metric podtap_uprobe_links) after"
	wait_no_unused_uprobes
	w=$(pt_worker_pids "$TLS_PID" | head -n 1)
	for f in "$(readlink "/proc/$w/exe")" "$(mapped "$w" libssl)"; do
		uprobe_files | grep -qxF -- "$f" ||
			{ pt_fail "$f (mapped by TLS worker $w) has no uprobe any more"; return 1; }
	done
	# ... and still seen in plaintext.
	n=$(pt_count tls GET 200 / https)
	[ "$(pt_curl_status "$TLS/" -k)" = 200 ]
	pt_expect_count $((n + 1)) tls GET 200 / https
	# Every entry of the kernel's Python process table is a live process,
	# and the daemon tracks as many. Other Python processes on the node may
	# start or end between the two reads, so they are compared until they
	# agree (a leak never would); likewise an entry of a process that has
	# just ended (another suite's) is there until podtap has seen the exit:
	# a dead process whose entry is still there 10 s later is a leak.
	for _ in $(seq 1 20); do
		tracked=$(pt_metric podtap_python_processes)
		pids=$(py_procs)
		[ "$tracked" = "$(echo "$pids" | grep -c . || true)" ] &&
			[ "$tracked" = "$(pt_metric podtap_python_processes)" ] && break
		sleep 0.5
	done
	pt_expect_eq "entries in podtap_py_procs vs tracked processes" \
		"$tracked" "$(echo "$pids" | grep -c . || true)"
	for _ in $(seq 1 10); do
		dead=""
		for p in $pids; do
			[ -d "/proc/$p" ] || dead="$dead $p"
		done
		[ -z "$dead" ] && break
		sleep 1
		# Those of them still in the table.
		pids=$(py_procs | grep -xF -f <(printf '%s\n' $dead) || true)
		dead=$pids
		[ -z "$dead" ] && break
	done
	pt_expect_eq "dead processes left in podtap_py_procs" "" "$(echo $dead)"
	rss1=$(pt_vmrss_kib "$PODTAP_PID")
	pt_log "podtap RSS: $rss0 KiB before, $rss1 KiB after"
	[ "$rss1" -lt $((rss0 + 8192)) ]
}
