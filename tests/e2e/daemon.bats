#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The daemon's own contract: flags and their environment twins, refusals
# with a clear message and a non-zero exit, health endpoints, pinning, clean
# SIGTERM, its own traffic ignored, the per-pod series cap. Each test starts
# its own podtap.

load 'lib/common'

setup() {
	pt_podtap_setup
}

teardown() {
	pt_podtap_teardown
}

@test "an unknown flag: non-zero exit and a message naming it" {
	run timeout 10 "$PODTAP_BIN" --no-such-flag
	echo "$output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$output" == *no-such-flag* ]]
}

@test "a metrics port in use: non-zero exit and a clear message" {
	local port pid
	port=$(pt_free_port)
	pid=$(pt_hold_port "$port" 60)
	run timeout 30 "$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" --no-pin \
		--pod-log-dir "$PT_TMP/pods"
	echo "$output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	echo "$output" | grep -Eiq "in use|$port"
	pt_stop_pid "$pid"
}

@test "not root: non-zero exit and a message saying so" {
	local port
	port=$(pt_free_port)
	run timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all \
		"$PODTAP_BIN" --metrics-listen "127.0.0.1:$port" --no-pin
	echo "$output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	echo "$output" | grep -Eiq 'root|privilege|capabilit|permission'
}

@test "/healthz and /readyz answer 200; /metrics is Prometheus text" {
	local ct
	pt_podtap_start --no-pin
	[ "$(pt_curl_status "$PODTAP_URL/healthz")" = 200 ]
	[ "$(pt_curl_status "$PODTAP_URL/readyz")" = 200 ]
	ct=$(curl -sS -o /dev/null -w '%{content_type}' "$PODTAP_URL/metrics")
	[[ "$ct" == text/plain* ]] || { pt_fail "Content-Type $ct"; return 1; }
	[ -n "$(pt_mq series "$(pt_scrape)" podtap_events_total)" ]
}

@test "pins BPF objects under --pin-path while running, removes them on SIGTERM" {
	local n
	pt_podtap_start
	[ -n "$PODTAP_PIN" ]
	n=$(find "$PODTAP_PIN" -mindepth 1 | wc -l)
	[ "$n" -gt 0 ] || { pt_fail "nothing pinned under $PODTAP_PIN"; return 1; }
	# pt_podtap_stop asserts exit status 0 and an empty pin dir.
	pt_podtap_stop
	[ -z "$(find "$PODTAP_PIN" -mindepth 1 2>/dev/null)" ]
}

@test "environment twins: PODTAP_METRICS_LISTEN, PODTAP_POD_LOG_DIR, PODTAP_ROUTES, PODTAP_PIN_PATH" {
	local port gpid
	pt_pod_create shop web-1 web
	PT_PODTAP_ENV_ONLY=1 PODTAP_ROUTES='/users/{uid},/static/*' pt_podtap_start
	port=$(pt_free_port)
	gpid=$(pt_gunicorn_start "$PT_TMP/logs/web.log" "$port" --cgroup "$PT_POD_SCOPE")
	[ "$(pt_curl_status "http://127.0.0.1:$port/users/9")" = 200 ]
	[ "$(pt_curl_status "http://127.0.0.1:$port/users/10")" = 200 ]
	[ "$(pt_curl_status "http://127.0.0.1:$port/static/css/a.css")" = 404 ]
	pt_wait_metric 2 "${PT_HIST}_count" $(pt_pod_labels shop web-1 web) \
		http_request_method=GET http_response_status_code=200 \
		'http_route=/users/{uid}' url_scheme=http
	pt_wait_metric 1 "${PT_HIST}_count" $(pt_pod_labels shop web-1 web) \
		http_request_method=GET http_response_status_code=404 \
		'http_route=/static/*' url_scheme=http
	[ -n "$(find "$PODTAP_PIN" -mindepth 1)" ]
	pt_stop_pid "$gpid"
}

# Every other podtap on the machine (other suites' running at the same time)
# is a host process serving /metrics to its own clients, which this one
# rightly counts (named by the comm of the thread that serves: "MHD-single"
# for podtap's HTTP server): so besides /metrics, this podtap is asked for
# paths no other process serves, and none of them may be a series.
@test "podtap's own /metrics traffic is not a series" {
	local i f w
	pt_podtap_start --no-pin
	w="pt-own-$(tr -dc 'a-z' </dev/urandom | head -c 10)"
	for i in $(seq 1 20); do pt_scrape >/dev/null; done
	for i in 1 2 3; do
		[ "$(pt_curl_status "$PODTAP_URL/$w")" = 404 ]
	done
	sleep 0.5
	f=$(pt_scrape)
	if pt_mq keys "$f" "${PT_HIST}_count" | grep -F "$w"; then
		pt_fail "podtap counted its own traffic"
		return 1
	fi
}

@test "--max-series-per-pod: routes past the cap fold into {overflow}, counted" {
	local port gpid f n sum r
	pt_pod_create shop web-1 web
	pt_podtap_start --no-pin --max-series-per-pod 3
	port=$(pt_free_port)
	gpid=$(pt_gunicorn_start "$PT_TMP/logs/web.log" "$port" --cgroup "$PT_POD_SCOPE")
	for r in alpha beta gamma delta epsilon zeta eta theta; do
		[ "$(pt_curl_status "http://127.0.0.1:$port/$r")" = 404 ]
	done
	# 8 routes, cap 3: the first 3 keep their route, 5 requests fold into
	# http_route="{overflow}" and are counted for the pod; none is lost.
	pt_wait_metric 5 podtap_series_dropped_total $(pt_pod_labels shop web-1 web)
	pt_wait_metric 5 "${PT_HIST}_count" $(pt_pod_labels shop web-1 web) \
		http_request_method=GET http_response_status_code=404 \
		'http_route={overflow}' url_scheme=http
	f=$(pt_scrape)
	pt_mq series "$f" "${PT_HIST}_count" k8s_pod_name=web-1
	n=$(pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 | wc -l)
	sum=$(pt_mq sum "$f" "${PT_HIST}_count" k8s_pod_name=web-1)
	pt_expect_eq "series of the pod (3 + overflow)" 4 "$n"
	pt_expect_eq "requests counted" 8 "$sum"
	for r in alpha beta gamma; do
		pt_mq get "$f" "${PT_HIST}_count" $(pt_pod_labels shop web-1 web) \
			http_request_method=GET http_response_status_code=404 \
			"http_route=/$r" url_scheme=http >/dev/null ||
			{ pt_fail "no series for /$r"; return 1; }
	done
	pt_stop_pid "$gpid"
}

@test "a keep-alive connection opened before podtap started: later requests counted" {
	local port gpid cpid i
	local -a l
	pt_pod_create shop web-1 web
	port=$(pt_free_port)
	gpid=$(pt_gunicorn_start "$PT_TMP/logs/web.log" "$port" --cgroup "$PT_POD_SCOPE" \
		-- -w 1 --threads 2 --keep-alive 60)
	cpid=$(pt_spawn "$PT_TMP/logs/client.log" -- "$PT_PY" -c '
import http.client, os, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def get(path):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    return r.status
s = [get("/users/1")]
open(flag + ".ready", "w").close()
for _ in range(600):
    if os.path.exists(flag + ".go"):
        break
    time.sleep(0.05)
s += [get("/"), get("/"), get("/users/2")]
with open(flag + ".done", "w") as f:
    f.write(" ".join(map(str, s)))
' "$port" "$PT_TMP/flag")
	for i in $(seq 1 100); do [ -e "$PT_TMP/flag.ready" ] && break; sleep 0.05; done
	[ -e "$PT_TMP/flag.ready" ]
	pt_podtap_start --no-pin
	touch "$PT_TMP/flag.go"
	for i in $(seq 1 200); do [ -s "$PT_TMP/flag.done" ] && break; sleep 0.05; done
	pt_expect_eq "client statuses" "200 200 200 200" "$(cat "$PT_TMP/flag.done")"
	mapfile -t l < <(pt_pod_labels shop web-1 web)
	pt_wait_metric 2 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/ url_scheme=http
	# Only the one sent after podtap started.
	pt_wait_metric 1 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 'http_route=/users/{id}' url_scheme=http
	pt_stop_pid "$cpid"
	pt_stop_pid "$gpid"
}

@test "--payload-size 256: a head beyond the capture is not counted, the next one is" {
	local port gpid nc0
	local -a l
	pt_pod_create shop web-1 web
	pt_podtap_start --no-pin --payload-size 256
	port=$(pt_free_port)
	gpid=$(pt_gunicorn_start "$PT_TMP/logs/web.log" "$port" --cgroup "$PT_POD_SCOPE")
	mapfile -t l < <(pt_pod_labels shop web-1 web)
	nc0=$(pt_metric podtap_http_parse_errors_total reason=head_not_captured)
	[ "$(pt_curl_status "http://127.0.0.1:$port/")" = 200 ]
	[ "$(pt_curl_status "http://127.0.0.1:$port/users/5" \
		-H "X-Padding: $(head -c 1000 /dev/zero | tr '\0' p)")" = 200 ]
	[ "$(pt_curl_status "http://127.0.0.1:$port/")" = 200 ]
	pt_wait_metric 2 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/ url_scheme=http
	pt_wait_metric_ge $((nc0 + 1)) podtap_http_parse_errors_total reason=head_not_captured
	pt_expect_metric 0 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 'http_route=/users/{id}' url_scheme=http
	pt_stop_pid "$gpid"
}

@test "SIGTERM under load: podtap exits 0 promptly" {
	local port gpid hpid
	pt_podtap_start --no-pin
	port=$(pt_free_port)
	gpid=$(pt_gunicorn_start "$PT_TMP/logs/web.log" "$port")
	hpid=$(pt_spawn "$PT_TMP/logs/hey.log" -- hey -z 4s -c 8 "http://127.0.0.1:$port/")
	sleep 1
	# pt_podtap_stop: exit status 0 within 10 s.
	pt_podtap_stop 10
	pt_wait_gone 10 "$hpid"
	pt_stop_pid "$gpid"
}

@test "bad flag values: non-zero exit and a message, nothing started" {
	local port args
	port=$(pt_free_port)
	for args in "--route nope" "--route /a/{b" "--payload-size 100" \
		"--payload-size 99999" "--max-series-per-pod -1" \
		"--max-series-per-pod x" "--metrics-listen nonsense" \
		"--metrics-listen 127.0.0.1:" "--metrics-listen 127.0.0.1:http"; do
		# shellcheck disable=SC2086 # word splitting wanted
		run timeout 10 "$PODTAP_BIN" --no-pin --metrics-listen "127.0.0.1:$port" \
			--pod-log-dir "$PT_TMP/pods" $args
		echo "$args -> status $status: $output"
		[ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
			{ pt_fail "podtap accepted $args"; return 1; }
		[ -n "$output" ]
	done
}

@test "--metrics-listen with a port above 65535 is refused" {
	local port out
	port=$(pt_free_port)
	# 65536 + port would wrap around to port if taken modulo 2^16.
	run timeout 5 "$PODTAP_BIN" --no-pin --pod-log-dir "$PT_TMP/pods" \
		--metrics-listen "127.0.0.1:$((65536 + port))"
	echo "status $status: $output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
		{ pt_fail "podtap accepted port $((65536 + port)) (and ran until killed)"; return 1; }
}

@test "a process that exits with open sockets leaves no kernel connection entries" {
	local pid ino out dump
	pt_podtap_start
	# A client that connects, sends a request head, and exits without
	# close(): the kernel closes its fds, no close tracepoint fires. It
	# says its socket's inode (the map's "ino"), then waits to be told to
	# exit.
	out="$PT_TMP/client.out"
	mkfifo "$PT_TMP/go"
	pid=$(pt_spawn "$PT_TMP/logs/client.log" -- "$PT_PY" -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1024)
with open(sys.argv[2], "w") as f:
    f.write("%d\n" % os.fstat(s.fileno()).st_ino)
open(sys.argv[3]).read()
os._exit(0)' "$PODTAP_PORT" "$out" "$PT_TMP/go")
	for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.05; done
	ino=$(cat "$out")
	[ -n "$ino" ]
	# Not our own traffic: podtap ignores its own pid, not the client's.
	dump=$(bpftool map dump pinned "$PODTAP_PIN/maps/podtap_conns")
	grep -q "\"ino\": $ino," <<<"$dump" ||
		{ pt_fail "the client's socket (ino $ino) is not in podtap_conns"; return 1; }
	echo go >"$PT_TMP/go"
	pt_wait_gone 10 "$pid"
	for _ in $(seq 1 50); do
		dump=$(bpftool map dump pinned "$PODTAP_PIN/maps/podtap_conns")
		grep -q "\"ino\": $ino," <<<"$dump" || return 0
		sleep 0.1
	done
	pt_fail "kernel still tracks the socket (ino $ino) of exited pid $pid"
	return 1
}
