#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# podtap end to end: the real daemon, real gunicorn + Flask servers in two
# simulated pods and one on the host, real clients (curl, hey, Python
# sockets); every figure read back from /metrics is exact.
#
#   pod shop/web-1, container "web": gunicorn -w 2, sync workers (one
#       request per connection: gunicorn's sync worker closes after each)
#   pod blog/api-7, container "api": gunicorn -w 2 --threads 4 (gthread
#       workers: HTTP keep-alive, so several requests per connection), on
#       127.0.0.1 and [::1]
#   host: gunicorn -w 2 sync, in no pod (empty k8s labels, service_name =
#       the workers' comm), started through a symlink of a name of its own
#       (pt_unique_exec), so that its comm is this file's alone: podtap sees
#       every process of the machine, and any other gunicorn (another
#       suite's pods, which this podtap cannot name, count as host traffic
#       named by their comm too) would add to a "gunicorn" host series
#
# Counts are deltas around each test's own traffic, so tests are independent
# of each other's order, and are read from series of this file's own apps
# only (its pods, its host app's comm), so other processes on the machine
# (other suites running at the same time) cannot change them. podtap runs
# with --route '/orders/{order}'.

load 'lib/common'

setup_file() {
	pt_podtap_setup

	pt_pod_create shop web-1 web
	export WEB_SCOPE=$PT_POD_SCOPE
	pt_who web shop web-1 web
	pt_pod_create blog api-7 api
	export API_SCOPE=$PT_POD_SCOPE
	pt_who api blog api-7 api

	pt_podtap_start --route '/orders/{order}'

	pt_gunicorn_app WEB web --cgroup "$WEB_SCOPE" -- -w 2
	API_PORT=$(pt_free_port)
	pt_gunicorn_app API api --port "$API_PORT" --cgroup "$API_SCOPE" -- \
		-w 2 --threads 4 --keep-alive 10 -b "[::1]:$API_PORT"
	PT_GUNICORN=$(pt_unique_exec gu "$PT_GUNICORN") \
		pt_gunicorn_app HOST host -- -w 2
	HOST_COMM=$(cat "/proc/$(pt_worker_pids "$HOST_PID" | head -n 1)/comm")
	export HOST_COMM
	pt_who host --host "$HOST_COMM"
	# The kernel drops (node-wide) before this file's traffic.
	DROPS0=$(pt_metric_sum podtap_kernel_drops_total)
	export DROPS0
}

teardown_file() {
	pt_podtap_teardown
}

@test "the apps' workers run inside their pods' cgroups, the host app outside" {
	local root w
	root=$(pt_cgroup2_root)
	[ "$(pt_worker_pids "$WEB_PID" | wc -l)" -eq 2 ]
	for w in $(pt_worker_pids "$WEB_PID"); do
		pt_expect_eq "cgroup of web worker $w" "${WEB_SCOPE#"$root"}" "$(pt_cgroup_of "$w")"
	done
	for w in $(pt_worker_pids "$API_PID"); do
		pt_expect_eq "cgroup of api worker $w" "${API_SCOPE#"$root"}" "$(pt_cgroup_of "$w")"
	done
	for w in $(pt_worker_pids "$HOST_PID"); do
		case $(pt_cgroup_of "$w") in
		*kubepods*) pt_fail "host worker $w is in a pod cgroup"; return 1 ;;
		esac
	done
	pt_podtap_alive
}

@test "GET / from separate curl processes: exact count per pod" {
	local web0 api0 i
	web0=$(pt_count web GET 200 /)
	api0=$(pt_count api GET 200 /)
	for i in 1 2 3 4 5; do
		[ "$(pt_curl_status "$WEB/")" = 200 ]
	done
	for i in 1 2 3; do
		[ "$(pt_curl_status "$API/")" = 200 ]
	done
	pt_expect_count $((web0 + 5)) web GET 200 /
	pt_expect_count $((api0 + 3)) api GET 200 /
}

@test "one curl, several URLs on one keep-alive connection: each request counted" {
	local root0 user0 nope0 head0 conns
	root0=$(pt_count api GET 200 /)
	user0=$(pt_count api GET 200 '/users/{id}')
	nope0=$(pt_count api GET 404 /nope)
	head0=$(pt_count api HEAD 200 /)
	conns=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
		-w '%{num_connects}' "$API/" "$API/users/1" "$API/" "$API/nope" \
		--next -sS -o /dev/null -I -w '%{num_connects}' "$API/" \
		--next -sS -o /dev/null -w '%{num_connects}' "$API/")
	# The client really reused one connection (gthread keeps it alive).
	pt_expect_eq "curl connects per request" 100000 "$conns"
	pt_expect_count $((root0 + 3)) api GET 200 /
	pt_expect_count $((user0 + 1)) api GET 200 '/users/{id}'
	pt_expect_count $((nope0 + 1)) api GET 404 /nope
	pt_expect_count $((head0 + 1)) api HEAD 200 /
}

@test "POST /items 201 (small, 64 KiB and chunked bodies), 404 and 500 per status" {
	local post0 nope0 err0 api_post0 api_err0 body out
	post0=$(pt_count web POST 201 /items)
	nope0=$(pt_count web GET 404 /nope)
	err0=$(pt_count web GET 500 /error)
	api_post0=$(pt_count api POST 201 /items)
	api_err0=$(pt_count api GET 500 /error)
	body="$PT_TMP/body.64k"
	head -c 65536 /dev/urandom >"$body"
	out=$(curl -sS -d 'name=x' "$WEB/items")
	pt_expect_eq "small POST reply" '{"length":6}' "$out"
	out=$(curl -sS --data-binary @"$body" "$WEB/items")
	pt_expect_eq "64 KiB POST reply" '{"length":65536}' "$out"
	out=$(curl -sS -H 'Transfer-Encoding: chunked' --data-binary @"$body" "$WEB/items")
	pt_expect_eq "chunked POST reply" '{"length":65536}' "$out"
	[ "$(pt_curl_status "$WEB/nope")" = 404 ]
	[ "$(pt_curl_status "$WEB/nope")" = 404 ]
	[ "$(pt_curl_status "$WEB/error")" = 500 ]
	[ "$(pt_curl_status "$WEB/error")" = 500 ]
	# Bodies tracked by length on a keep-alive connection: the GET after
	# a chunked and a Content-Length body must still be seen.
	out=$(curl -sS -o /dev/null -w '%{num_connects}' \
		-H 'Transfer-Encoding: chunked' --data-binary @"$body" "$API/items" \
		--next -sS -o /dev/null -w '%{num_connects}' --data-binary @"$body" "$API/items" \
		--next -sS -o /dev/null -w '%{num_connects}' "$API/error")
	pt_expect_eq "curl connects per request" 100 "$out"
	pt_expect_count $((post0 + 3)) web POST 201 /items
	pt_expect_count $((nope0 + 2)) web GET 404 /nope
	pt_expect_count $((err0 + 2)) web GET 500 /error
	pt_expect_count $((api_post0 + 2)) api POST 201 /items
	pt_expect_count $((api_err0 + 1)) api GET 500 /error
}

@test "Expect: 100-continue: one exchange with the final status, no 100 series" {
	local p0 out f
	p0=$(pt_count web POST 201 /items)
	head -c 20000 /dev/urandom >"$PT_TMP/body.20k"
	out=$(curl -sS -H 'Expect: 100-continue' --data-binary @"$PT_TMP/body.20k" \
		-o "$PT_TMP/reply" -w '%{http_code}' "$WEB/items")
	pt_expect_eq "status" 201 "$out"
	pt_expect_eq "reply" '{"length":20000}' "$(cat "$PT_TMP/reply")"
	pt_expect_count $((p0 + 1)) web POST 201 /items
	f=$(pt_scrape)
	if pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 | grep -F 'http_response_status_code="100"'; then
		pt_fail "the interim 100 Continue was counted as a response"
		return 1
	fi
}

@test "1 MiB and 204 responses on one keep-alive connection, then more requests" {
	local b0 e0 r0 conns
	b0=$(pt_count api GET 200 '/bytes/{id}')
	e0=$(pt_count api GET 204 /empty)
	r0=$(pt_count api GET 200 /)
	conns=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
		-w '%{num_connects}' "$API/bytes/1048576" "$API/empty" "$API/" \
		"$API/bytes/100" "$API/empty")
	pt_expect_eq "curl connects per request" 10000 "$conns"
	pt_expect_count $((b0 + 2)) api GET 200 '/bytes/{id}'
	pt_expect_count $((e0 + 2)) api GET 204 /empty
	pt_expect_count $((r0 + 1)) api GET 200 /
}

@test "file responses (gunicorn's sendfile) and a 304, keep-alive and not" {
	local f0 n0 r0 w0 conns lm
	f0=$(pt_count api GET 200 /file)
	n0=$(pt_count api GET 304 /file)
	r0=$(pt_count api GET 200 /)
	w0=$(pt_count web GET 200 /file)
	conns=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' \
		"$API/file" "$API/file" "$API/")
	pt_expect_eq "curl connects per request" 100 "$conns"
	[ "$(pt_curl_status "$WEB/file")" = 200 ]
	lm=$(curl -sS -o /dev/null -w '%header{last-modified}' "$WEB/file")
	[ -n "$lm" ]
	[ "$(pt_curl_status "$API/file" -H "If-Modified-Since: $lm")" = 304 ]
	pt_expect_count $((f0 + 2)) api GET 200 /file
	pt_expect_count $((n0 + 1)) api GET 304 /file
	pt_expect_count $((r0 + 1)) api GET 200 /
	pt_expect_count $((w0 + 2)) web GET 200 /file
}

@test "routes: uuid and hash segments, absolute-form target, deep and long paths" {
	local i0 u0 f n0 long
	i0=$(pt_count web GET 404 '/nope/{id}')
	u0=$(pt_count web GET 200 '/users/{id}')
	[ "$(pt_curl_status "$WEB/nope/550e8400-e29b-41d4-a716-446655440000")" = 404 ]
	[ "$(pt_curl_status "$WEB/nope/d41d8cd98f00b204e9800998ecf8427e")" = 404 ]
	printf 'GET http://example.com/users/5?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n' |
		pt_raw "$WEB_PORT" --expect 200
	pt_expect_count $((i0 + 2)) web GET 404 '/nope/{id}'
	pt_expect_count $((u0 + 1)) web GET 200 '/users/{id}'
	# 20 segments: route.h keeps 16, then "/{rest}".
	n0=$(pt_count web GET 404 '/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/{rest}')
	[ "$(pt_curl_status "$WEB/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t")" = 404 ]
	pt_expect_count $((n0 + 1)) web GET 404 '/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/{rest}'
	# A 3000-byte segment: one 404 under some route of at most 255 bytes
	# that starts with /long/.
	f=$(pt_scrape)
	n0=$(pt_mq sum "$f" "${PT_HIST}_count" k8s_pod_name=web-1 http_response_status_code=404)
	long=$(head -c 3000 /dev/zero | tr '\0' a)
	[ "$(pt_curl_status "$WEB/long/$long/x")" = 404 ]
	pt_wait_sum $((n0 + 1)) "${PT_HIST}_count" k8s_pod_name=web-1 http_response_status_code=404
	f=$(pt_scrape)
	pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 |
		sed -n 's/.*http_route="\([^"]*\)".*/\1/p' | grep '^/long/' |
		awk '{ if (length($0) > 255) { print "route too long: " length($0); exit 1 } n++ }
		     END { exit n != 1 }'
}

@test "HTTP/1.0 requests and the IPv6 loopback are counted" {
	local r0 a0
	r0=$(pt_count web GET 200 /)
	a0=$(pt_count api GET 200 '/users/{id}')
	[ "$(pt_curl_status "$WEB/" -0)" = 200 ]
	[ "$(pt_curl_status "$WEB/" --http1.0 -H 'Connection: keep-alive')" = 200 ]
	[ "$(pt_curl_status "http://[::1]:$API_PORT/users/3" -g)" = 200 ]
	[ "$(pt_curl_status "http://[::1]:$API_PORT/users/4" -g)" = 200 ]
	pt_expect_count $((r0 + 2)) web GET 200 /
	pt_expect_count $((a0 + 2)) api GET 200 '/users/{id}'
}

@test "a pod created while podtap runs is resolved" {
	local port pid
	local -a l
	pt_pod_create late late-0 worker
	port=$(pt_free_port)
	pid=$(pt_gunicorn_start "$PT_TMP/logs/late.log" "$port" --cgroup "$PT_POD_SCOPE" -- -w 1)
	[ "$(pt_curl_status "http://127.0.0.1:$port/")" = 200 ]
	[ "$(pt_curl_status "http://127.0.0.1:$port/error")" = 500 ]
	mapfile -t l < <(pt_pod_labels late late-0 worker)
	pt_wait_metric 1 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/ url_scheme=http
	pt_wait_metric 1 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=500 http_route=/error url_scheme=http
	pt_stop_pid "$pid"
}

@test "every read/write syscall flavour: recvfrom/sendto, read/write, readv/writev, recvmsg/sendmsg" {
	local io port pid ok0 nc0 n=0
	local -a l
	pt_pod_create io io-0 io
	mapfile -t l < <(pt_pod_labels io io-0 io)
	for io in recv read readv recvmsg; do
		port=$(pt_free_port)
		pid=$(pt_spawn "$PT_TMP/logs/raw-$io.log" --cgroup "$PT_POD_SCOPE" -- \
			"$PT_PY" "$PT_FIXTURES/rawserver.py" "$port" --io "$io")
		pt_wait_port "$port" 10 "$pid"
		printf 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' | pt_raw "$port" --expect 200
		printf 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' | pt_raw "$port" --expect 200
		printf 'GET /noclen HTTP/1.1\r\nHost: x\r\n\r\n' | pt_raw "$port" --expect 200
		n=$((n + 1))
		echo "# --io $io" >&2
		pt_wait_metric $((2 * n)) "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
			http_response_status_code=200 http_route=/ok url_scheme=http
		pt_wait_metric "$n" "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
			http_response_status_code=200 http_route=/noclen url_scheme=http
		pt_stop_pid "$pid"
	done
}

@test "pod cgroup shapes: QoS classes, cgroupfs driver, CRI-O and docker scopes" {
	local shape qos driver rt port pid i=0
	local -a l
	for shape in guaranteed:systemd:containerd besteffort:systemd:crio \
		burstable:systemd:docker burstable:cgroupfs:containerd \
		guaranteed:cgroupfs:containerd; do
		IFS=: read -r qos driver rt <<<"$shape"
		i=$((i + 1))
		PT_POD_QOS=$qos PT_POD_DRIVER=$driver PT_POD_RUNTIME=$rt \
			pt_pod_create "shape$i" "pod-$qos-$driver-$rt" "c$i"
		port=$(pt_free_port)
		pid=$(pt_spawn "$PT_TMP/logs/shape$i.log" --cgroup "$PT_POD_SCOPE" -- \
			"$PT_PY" "$PT_FIXTURES/rawserver.py" "$port")
		pt_wait_port "$port" 10 "$pid"
		printf 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' |
			pt_raw "$port" --expect 200
		mapfile -t l < <(pt_pod_labels "shape$i" "pod-$qos-$driver-$rt" "c$i")
		echo "# $shape: ${PT_POD_SCOPE#"$(pt_cgroup2_root)"}" >&2
		pt_wait_metric 1 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
			http_response_status_code=200 http_route=/ok url_scheme=http
		pt_stop_pid "$pid"
	done
}

@test "label values: quotes and backslashes escaped, invalid UTF-8 never exported" {
	local f n0
	f=$(pt_scrape)
	n0=$(pt_mq sum "$f" "${PT_HIST}_count" k8s_pod_name=web-1 http_response_status_code=404)
	printf 'GET /q"uo\\te HTTP/1.1\r\nHost: x\r\n\r\n' |
		pt_raw "$WEB_PORT" --expect 404
	printf 'GET /caf\xe9/x HTTP/1.1\r\nHost: x\r\n\r\n' |
		pt_raw "$WEB_PORT" --expect 404
	printf 'GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n' |
		pt_raw "$WEB_PORT" --expect 404
	pt_wait_sum $((n0 + 3)) "${PT_HIST}_count" k8s_pod_name=web-1 http_response_status_code=404
	f=$(pt_scrape)
	# The route came back through a real parser with the exact bytes sent.
	pt_expect_metric 1 "${PT_HIST}_count" $(pt_pod_labels shop web-1 web) \
		http_request_method=GET http_response_status_code=404 \
		'http_route=/q"uo\te' url_scheme=http
	iconv -f UTF-8 -t UTF-8 "$f" >/dev/null ||
		{ pt_fail "/metrics is not valid UTF-8"; return 1; }
	promtool check metrics <"$f"
}

@test "/users/<id> for several ids is one /users/{id} series" {
	local u0 id f
	u0=$(pt_count web GET 200 '/users/{id}')
	for id in 1 42 9000 123456789; do
		[ "$(pt_curl_status "$WEB/users/$id")" = 200 ]
	done
	pt_expect_count $((u0 + 4)) web GET 200 '/users/{id}'
	f=$(pt_scrape)
	if pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 | grep -E 'http_route="/users/[0-9]'; then
		pt_fail "raw user ids leaked into http_route"
		return 1
	fi
}

@test "/slow (100 ms) lands in le=0.25 but not in le=0.1" {
	local -a l
	local le f n sum0
	local -A b0
	mapfile -t l < <(pt_sel api GET 200 /slow)
	f=$(pt_scrape)
	for le in 0.05 0.075 0.1 0.25 0.5 1 10 +Inf; do
		n=$(pt_mq get "$f" "${PT_HIST}_bucket" "${l[@]}" "le=$le") || n=0
		b0[$le]=$n
	done
	sum0=$(pt_mq get "$f" "${PT_HIST}_sum" "${l[@]}") || sum0=0
	for n in 1 2 3; do
		[ "$(pt_curl_status "$API/slow")" = 200 ]
	done
	pt_expect_count "$(( $(pt_mq get "$f" "${PT_HIST}_count" "${l[@]}" || echo 0) + 3 ))" \
		api GET 200 /slow
	f=$(pt_scrape)
	for le in 0.05 0.075 0.1; do
		n=$(pt_mq get "$f" "${PT_HIST}_bucket" "${l[@]}" "le=$le") || n=0
		pt_expect_eq "bucket le=$le delta" 0 $((n - ${b0[$le]}))
	done
	for le in 0.25 0.5 1 10 +Inf; do
		n=$(pt_mq get "$f" "${PT_HIST}_bucket" "${l[@]}" "le=$le") || n=0
		pt_expect_eq "bucket le=$le delta" 3 $((n - ${b0[$le]}))
	done
	n=$(pt_mq get "$f" "${PT_HIST}_sum" "${l[@]}")
	# Three requests of 0.1 s .. 0.25 s each.
	awk -v a="$n" -v b="$sum0" 'BEGIN { d = a - b; exit !(d >= 0.3 && d <= 0.75) }' ||
		{ pt_fail "_sum grew by $n - $sum0, want 0.3 .. 0.75"; return 1; }
}

@test "latency starts at the request's first byte (slow upload); idle keep-alive reused" {
	local -a l
	local le f n u0
	local -A b0
	mapfile -t l < <(pt_sel api POST 201 /items)
	f=$(pt_scrape)
	for le in 0.25 0.5 +Inf; do
		n=$(pt_mq get "$f" "${PT_HIST}_bucket" "${l[@]}" "le=$le") || n=0
		b0[$le]=$n
	done
	u0=$(pt_count api GET 200 '/users/{id}')
	# Head, 0.3 s pause, body; the app answers at once. Then 2 s idle on
	# the same keep-alive connection and one more request.
	"$PT_PY" - "$API_PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def response():
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)
    return status.split()[1]
s.sendall(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
time.sleep(0.3)
s.sendall(b"hello")
assert response() == b"201"
time.sleep(2)
s.sendall(b"GET /users/8 HTTP/1.1\r\nHost: x\r\n\r\n")
assert response() == b"200"
s.close()
EOF
	pt_expect_count $((u0 + 1)) api GET 200 '/users/{id}'
	f=$(pt_scrape)
	for le in 0.25 0.5 +Inf; do
		n=$(pt_mq get "$f" "${PT_HIST}_bucket" "${l[@]}" "le=$le") || n=0
		b0[$le]=$((n - ${b0[$le]}))
	done
	pt_expect_eq "POST /items deltas in le=0.25 le=0.5 le=+Inf" "0 1 1" \
		"${b0[0.25]} ${b0[0.5]} ${b0[+Inf]}"
}

@test "hey: keep-alive (gthread pod) and -disable-keepalive (sync pod)" {
	local r0 u0
	r0=$(pt_count api GET 200 /)
	u0=$(pt_count web GET 200 '/users/{id}')
	hey -n 400 -c 8 "$API/" >"$PT_TMP/hey1.txt"
	pt_hey_ok 400 "$PT_TMP/hey1.txt" 200
	hey -n 200 -c 8 -disable-keepalive "$WEB/users/7" >"$PT_TMP/hey2.txt"
	pt_hey_ok 200 "$PT_TMP/hey2.txt" 200
	pt_expect_count $((r0 + 400)) api GET 200 /
	pt_expect_count $((u0 + 200)) web GET 200 '/users/{id}'
}

@test "host gunicorn outside any pod: empty k8s labels, service_name is its comm" {
	local r0 e0 i w
	[[ "$HOST_COMM" == pt-gu-* ]]
	for w in $(pt_worker_pids "$HOST_PID"); do
		pt_expect_eq "comm of host worker $w" "$HOST_COMM" "$(cat "/proc/$w/comm")"
	done
	r0=$(pt_count host GET 200 /)
	e0=$(pt_count host GET 500 /error)
	for i in 1 2 3; do
		[ "$(pt_curl_status "$HOST/")" = 200 ]
	done
	hey -n 20 -c 2 "$HOST/error" >"$PT_TMP/hey3.txt"
	pt_hey_ok 20 "$PT_TMP/hey3.txt" 500
	pt_expect_count $((r0 + 3)) host GET 200 /
	pt_expect_count $((e0 + 20)) host GET 500 /error
}

@test "a process in a non-pod cgroup (a systemd service) is host traffic" {
	local root d port pid c0
	local -a l
	root=$(pt_cgroup2_root)
	pt_mkcgroup "$root/podtap-e2e-$(pt_rand_hex 8).slice"
	d=$(tail -n 1 "$PT_TMP/cgroups")
	pt_mkcgroup "$d/web-$(pt_rand_hex 8).service"
	d=$(tail -n 1 "$PT_TMP/cgroups")
	port=$(pt_free_port)
	# Under a comm of its own: every other python3 of the machine serving
	# GET /ok (rawserver.py in other suites' pods) would be a python3 host
	# series too.
	pid=$(pt_spawn "$PT_TMP/logs/svc.log" --cgroup "$d" -- \
		"$(pt_unique_exec py "$PT_PY")" "$PT_FIXTURES/rawserver.py" "$port")
	pt_wait_port "$port" 10 "$pid"
	[[ "$(cat "/proc/$pid/comm")" == pt-py-* ]]
	mapfile -t l < <(pt_host_labels "$(cat "/proc/$pid/comm")")
	l+=(http_request_method=GET http_response_status_code=200 http_route=/ok url_scheme=http)
	c0=$(pt_metric "${PT_HIST}_count" "${l[@]}")
	printf 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' |
		pt_raw "$port" --expect 200
	pt_wait_metric $((c0 + 1)) "${PT_HIST}_count" "${l[@]}"
	pt_stop_pid "$pid"
}

@test "~7 KiB Cookie header with Content-Length as the last header" {
	local w0 a0 g0
	w0=$(pt_count web POST 201 /items)
	a0=$(pt_count api POST 201 /items)
	g0=$(pt_count api GET 200 /)
	# One request per connection (sync), then two + a GET on one
	# keep-alive connection (gthread).
	"$PT_PY" - "$WEB_PORT" "$API_PORT" <<'EOF'
import http.client, sys

def post(conn):
    conn.putrequest("POST", "/items", skip_accept_encoding=True)
    conn.putheader("User-Agent", "podtap-e2e")
    conn.putheader("Cookie", "session=" + "c" * 7160)
    conn.putheader("Content-Type", "text/plain")
    conn.putheader("Content-Length", "11")
    conn.endheaders(b"hello world")  # head + body in one send
    r = conn.getresponse()
    body = r.read()
    assert r.status == 201 and body.strip() == b'{"length":11}', (r.status, body)

web = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
post(web)
web.close()
api = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
post(api)
post(api)
api.request("GET", "/")
r = api.getresponse()
assert r.status == 200 and r.read() == b"ok"
api.close()
EOF
	pt_expect_count $((w0 + 1)) web POST 201 /items
	pt_expect_count $((a0 + 2)) api POST 201 /items
	pt_expect_count $((g0 + 1)) api GET 200 /
}

@test "unknown method is _OTHER; DELETE keeps its name" {
	local o0 d0
	o0=$(pt_count web _OTHER 405 /)
	d0=$(pt_count api DELETE 405 /items)
	[ "$(pt_curl_status "$WEB/" -X FOO)" = 405 ]
	[ "$(pt_curl_status "$WEB/" -X BREW)" = 405 ]
	[ "$(pt_curl_status "$API/items" -X DELETE)" = 405 ]
	pt_expect_count $((o0 + 2)) web _OTHER 405 /
	pt_expect_count $((d0 + 1)) api DELETE 405 /items
}

@test "--route pattern wins over the heuristic; other paths still use it" {
	local o0 u0 f
	o0=$(pt_count web GET 404 '/orders/{order}')
	u0=$(pt_count web GET 200 '/users/{id}')
	[ "$(pt_curl_status "$WEB/orders/A-17")" = 404 ]
	[ "$(pt_curl_status "$WEB/orders/555?x=1")" = 404 ]
	[ "$(pt_curl_status "$WEB/users/5?page=2")" = 200 ]
	pt_expect_count $((o0 + 2)) web GET 404 '/orders/{order}'
	pt_expect_count $((u0 + 1)) web GET 200 '/users/{id}'
	f=$(pt_scrape)
	if pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 | grep -F -e '/orders/{id}' -e 'A-17' -e '?'; then
		pt_fail "route pattern or query handling wrong"
		return 1
	fi
}

@test "random bytes and TLS handshakes to the apps: no new series, no count changes" {
	local before after other0 port
	before=$(pt_series web api host)
	other0=$(pt_metric podtap_connections_total protocol=other)
	for port in "$WEB_PORT" "$API_PORT" "$HOST_PORT"; do
		"$PT_PY" - "$port" <<'EOF'
import os, socket, sys
data = bytearray(os.urandom(4096))
data[0] |= 0x80  # never an ASCII method's first letter
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(bytes(data))
s.shutdown(socket.SHUT_WR)
try:
    while s.recv(65536):
        pass
except OSError:
    pass
s.close()
EOF
	done
	# head -c | bash's /dev/tcp: a writer that closes without reading.
	head -c 4096 /dev/urandom >"/dev/tcp/127.0.0.1/$WEB_PORT" || true
	timeout 10 openssl s_client -connect "127.0.0.1:$WEB_PORT" </dev/null >/dev/null 2>&1 || true
	timeout 10 openssl s_client -connect "127.0.0.1:$HOST_PORT" </dev/null >/dev/null 2>&1 || true
	curl -sS --max-time 2 -o /dev/null "https://127.0.0.1:$API_PORT/" 2>/dev/null || true
	# 7 connections carried no HTTP request; wait until podtap has seen
	# them close (bounded), then compare.
	PT_WAIT_S=8 pt_wait_metric_ge $((other0 + 7)) podtap_connections_total protocol=other || true
	sleep 0.5
	after=$(pt_series web api host)
	if [ "$before" != "$after" ]; then
		pt_fail "series changed by non-HTTP traffic:"
		diff <(echo "$before") <(echo "$after") >&2
		return 1
	fi
	PT_WAIT_S=1 pt_wait_metric_ge $((other0 + 7)) podtap_connections_total protocol=other
	pt_podtap_alive
}

@test "clients' own side is not a server series; labels and buckets as specified" {
	local f bad les c0
	c0=$(pt_count web GET 200 /)
	[ "$(pt_curl_status "$WEB/")" = 200 ]
	pt_expect_count $((c0 + 1)) web GET 200 /
	f=$(pt_scrape)
	bad=$(pt_mq keys "$f" "${PT_HIST}_count" | grep -E 'service_name="(curl|hey)"' || true)
	pt_expect_eq "server series of client processes" "" "$bad"
	bad=$(pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=web-1 | grep -v 'url_scheme="http"' || true)
	pt_expect_eq "series without url_scheme=\"http\"" "" "$bad"
	# Exactly the contract's buckets, in order, then +Inf.
	les=$(grep -E "^${PT_HIST}_bucket\{" "$f" | grep 'k8s_pod_name="web-1"' |
		grep 'http_route="/"' | grep 'http_response_status_code="200"' |
		grep 'http_request_method="GET"' | sed -E 's/.*le="([^"]*)".*/\1/' | tr '\n' ' ')
	pt_expect_eq "le values" "0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10 +Inf " "$les"
	grep -qx "# TYPE ${PT_HIST} histogram" "$f"
}

@test "podtap's own metrics are exported" {
	local f m
	f=$(pt_scrape)
	for m in podtap_connections_tracked podtap_series; do
		pt_mq get "$f" "$m" >/dev/null ||
			{ pt_fail "no unlabelled sample $m"; return 1; }
	done
	# Per workload, present once a workload reaches the series cap.
	grep -qx "# TYPE podtap_series_dropped_total counter" "$f"
	# Both sides' histograms are declared.
	grep -qx "# TYPE http_client_request_duration_seconds histogram" "$f"
	# podtap_events_total may be split by a label (kind).
	for m in podtap_events_total podtap_kernel_drops_total podtap_build_info; do
		[ -n "$(pt_mq series "$f" "$m")" ] ||
			{ pt_fail "no sample $m"; return 1; }
	done
	for m in http other; do
		pt_mq get "$f" podtap_connections_total "protocol=$m" >/dev/null ||
			{ pt_fail "no podtap_connections_total{protocol=\"$m\"}"; return 1; }
	done
	for m in malformed_request malformed_response head_too_large \
		head_not_captured bad_chunk unmatched_response pipeline_overflow gap incomplete; do
		pt_mq get "$f" podtap_http_parse_errors_total "reason=$m" >/dev/null ||
			{ pt_fail "no podtap_http_parse_errors_total{reason=\"$m\"}"; return 1; }
	done
	pt_num_gt "$(pt_mq sum "$f" podtap_events_total)" 0
	no_kernel_drops "$f"
}

# no_kernel_drops SCRAPE: the kernel lost nothing of this file's modest
# traffic. podtap_kernel_drops_total is node-wide (every process of the
# machine goes through podtap's ring buffer and tables) and says nothing of
# whose data it was: when it has not moved since setup_file, nothing was
# lost at all; when it has (other processes' traffic, a loaded machine),
# a fixed modest mix of this file's own traffic (keep-alive and not, a
# 1 MiB body, sendfile) is sent in windows of its own, and one of three
# must lose nothing: drops this traffic causes show in every window.
no_kernel_drops() {
	local d d0 try r0 u0 b0 f0
	d=$(( $(pt_mq sum "$1" podtap_kernel_drops_total) - DROPS0 ))
	[ "$d" = 0 ] && return 0
	pt_log "kernel drops since setup_file: +$d (node-wide):" \
		"$(pt_mq series "$1" podtap_kernel_drops_total | grep -v ' 0$' | tr '\n' ' ')"
	for try in 1 2 3; do
		d0=$(pt_metric_sum podtap_kernel_drops_total)
		r0=$(pt_count api GET 200 /)
		u0=$(pt_count web GET 200 '/users/{id}')
		b0=$(pt_count api GET 200 '/bytes/{id}')
		f0=$(pt_count web GET 200 /file)
		hey -n 200 -c 8 "$API/" >"$PT_TMP/hey-drops.txt"
		pt_hey_ok 200 "$PT_TMP/hey-drops.txt" 200
		hey -n 40 -c 4 -disable-keepalive "$WEB/users/7" >"$PT_TMP/hey-drops.txt"
		pt_hey_ok 40 "$PT_TMP/hey-drops.txt" 200
		[ "$(pt_curl_status "$API/bytes/1048576")" = 200 ]
		[ "$(pt_curl_status "$WEB/file")" = 200 ]
		pt_expect_count $((r0 + 200)) api GET 200 /
		pt_expect_count $((u0 + 40)) web GET 200 '/users/{id}'
		pt_expect_count $((b0 + 1)) api GET 200 '/bytes/{id}'
		pt_expect_count $((f0 + 1)) web GET 200 /file
		d=$(( $(pt_metric_sum podtap_kernel_drops_total) - d0 ))
		[ "$d" = 0 ] && return 0
		pt_log "window $try of this file's traffic: +$d kernel drops"
	done
	pt_fail "podtap_kernel_drops_total grew in each of 3 windows of modest traffic"
	pt_mq series "$(pt_scrape)" podtap_kernel_drops_total >&2
	return 1
}

@test "promtool check metrics accepts /metrics" {
	local f
	f=$(pt_scrape)
	run promtool check metrics <"$f"
	echo "$output"
	[ "$status" -eq 0 ]
}

# tests/run.sh runs this file a second time with podtap started as the Helm
# chart's default container (PODTAP_TEST_CAPS etc., read from the rendered
# chart; see lib/as-pod.sh): then every test above has passed with exactly
# that capability set, and this one proves the set was exactly that.
@test "podtap runs with exactly the capabilities it was given (the chart's, under run.sh)" {
	local want p m opts
	if [ -n "${PODTAP_TEST_CAPS:-}" ]; then
		want=$(pt_caps_norm "$PODTAP_TEST_CAPS")
	else
		# Started by root with nothing dropped: what this shell may have.
		want=$(pt_caps_of "$BASHPID" CapBnd)
	fi
	[ -n "$want" ] || [ -n "${PODTAP_TEST_CAPS:-}" ]
	pt_expect_eq "podtap's effective capabilities" "$want" "$(pt_caps_of "$PODTAP_PID" CapEff)"
	pt_expect_eq "podtap's permitted capabilities" "$want" "$(pt_caps_of "$PODTAP_PID" CapPrm)"
	pt_expect_eq "podtap's ambient capabilities" "" "$(pt_caps_of "$PODTAP_PID" CapAmb)"
	pt_expect_eq "podtap's inheritable capabilities" "" "$(pt_caps_of "$PODTAP_PID" CapInh)"
	if [ -n "${PODTAP_TEST_CAPS:-}" ]; then
		pt_expect_eq "podtap's bounding set" "$want" "$(pt_caps_of "$PODTAP_PID" CapBnd)"
	fi
	if [ "${PODTAP_TEST_NO_NEW_PRIVS:-0}" = 1 ]; then
		pt_expect_eq "podtap's NoNewPrivs" 1 \
			"$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$PODTAP_PID/status")"
	fi
	# The chart's read-only mounts are read-only for podtap (the pod log
	# dir stands in for /var/log/pods).
	for p in ${PODTAP_TEST_RO_PATHS//,/ }; do
		case $p in
		/var/log/pods) p=$PT_TMP/pods ;;
		/var/log/containers) continue ;; # none in this test
		esac
		[ -e "$p" ] || continue
		# The last-listed mount with the longest mount point above p is
		# the one podtap sees p through; field 6: its options.
		m=$(awk -v p="$p" '{ mp = $5; if (p == mp || mp == "/" ||
			index(p, mp "/") == 1) if (length(mp) >= length(best)) {
			best = mp; opts = $6 } } END { print best, opts }' \
			"/proc/$PODTAP_PID/mountinfo")
		[[ ",${m#* }," == *,ro,* ]] ||
			{ pt_fail "$p is writable for podtap (mount, options: $m)"; return 1; }
	done
	pt_podtap_alive
}
