#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Traffic no parser should trust: malformed requests, heads over the limit,
# requests trickled one byte at a time, binary garbage, clients and server
# workers that die mid-exchange. podtap must stay up and healthy, invent no
# request (the pods' series stay exactly as they were, or grow by exactly
# what was really served), and count what it could not parse in
# podtap_http_parse_errors_total{reason}.
#
# Parse-error counters are node-wide (other processes on the machine may add
# to them), so they are checked with ">= delta"; per-pod series are exact.
# Leaks are looked for in podtap's kernel connection table by process: the
# node-wide podtap_connections_tracked goes up and down with whatever else
# runs on the machine.
#
#   pod shop/web-1 "web": gunicorn -w 2 sync (closes after each response)
#   pod blog/api-7 "api": gunicorn -w 2 --threads 4 (keep-alive)
#   pod edge/raw-0 "raw": tests/fixtures/rawserver.py, canned bad responses

load 'lib/common'

setup_file() {
	pt_podtap_setup
	pt_pod_create shop web-1 web
	export WEB_SCOPE=$PT_POD_SCOPE
	pt_who web shop web-1 web
	pt_pod_create blog api-7 api
	export API_SCOPE=$PT_POD_SCOPE
	pt_who api blog api-7 api
	pt_podtap_start
	pt_gunicorn_app WEB web --cgroup "$WEB_SCOPE" -- -w 2
	pt_gunicorn_app API api --cgroup "$API_SCOPE" -- -w 2 --threads 4 \
		--keep-alive 10
	pt_pod_create edge raw-0 raw
	pt_who raw edge raw-0 raw
	RAW_PORT=$(pt_free_port)
	RAW_PID=$(pt_spawn "$PT_TMP/logs/raw.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" "$PT_FIXTURES/rawserver.py" "$RAW_PORT")
	export RAW_PORT RAW_PID
	pt_wait_port "$RAW_PORT" 10 "$RAW_PID"
	# Processes of this file that are killed mid-exchange, one pid a line.
	: >"$PT_TMP/killed"
}

teardown_file() {
	pt_podtap_teardown
}

teardown() {
	# Whatever a test did, podtap must still be up.
	pt_podtap_alive
}

perr() {
	pt_metric podtap_http_parse_errors_total "reason=$1"
}

# raw_dies PORT: a client that sends the bytes on stdin and SIGKILLs itself;
# its pid is recorded in $PT_TMP/killed. Prints its exit status.
raw_dies() {
	local pid rc=0
	# (<&0: a background command's stdin would be /dev/null.)
	"$PT_PY" "$PT_FIXTURES/rawhttp.py" "$1" --die <&0 3>&- &
	pid=$!
	echo "$pid" >>"$PT_TMP/killed"
	wait "$pid" || rc=$?
	echo "$rc"
}

# same_series BEFORE WHO: the pod's series are exactly BEFORE (after a
# settling pause: podtap's events arrive within ~100 ms).
same_series() {
	local after
	sleep 0.5
	after=$(pt_series "$2")
	if [ "$1" != "$after" ]; then
		pt_fail "series of $2 changed:"
		diff <(echo "$1") <(echo "$after") >&2
		return 1
	fi
}

# then_counted WHO PORT: a normal request after the bad ones is counted
# exactly once (the daemon resynchronised and is still attributing).
then_counted() {
	local c0
	c0=$(pt_count "$1" GET 200 '/users/{id}')
	[ "$(pt_curl_status "http://127.0.0.1:$2/users/31")" = 200 ]
	pt_expect_count $((c0 + 1)) "$1" GET 200 '/users/{id}'
}

@test "malformed requests (bad request line, header, Content-Length) are not counted" {
	local before m0
	before=$(pt_series web)
	m0=$(perr malformed_request)
	printf 'GET /bad-line HTTP/1.1 junk\r\nHost: x\r\n\r\n' | pt_raw "$WEB_PORT" --expect 400
	printf 'GET /bad-header HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n' | pt_raw "$WEB_PORT" --expect 400
	printf 'POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello' | pt_raw "$WEB_PORT" --expect 400
	printf 'POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello' | pt_raw "$WEB_PORT" --expect 400
	pt_wait_metric_ge $((m0 + 4)) podtap_http_parse_errors_total reason=malformed_request
	same_series "$before" web
	then_counted web "$WEB_PORT"
}

@test "a head over 16 KiB is not counted; the next request on the connection is" {
	local r0 big0 before
	before=$(pt_series api)
	r0=$(pt_count api GET 200 /)
	big0=$(( $(perr head_too_large) + $(perr head_not_captured) ))
	# gunicorn serves it (40 headers of 1000 bytes are within its limits),
	# then a normal GET on the same keep-alive connection.
	"$PT_PY" - "$API_PORT" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.putrequest("GET", "/huge", skip_accept_encoding=True)
for i in range(40):
    c.putheader("X-Filler-%02d" % i, "f" * 1000)
c.endheaders()
r = c.getresponse()
r.read()
assert r.status == 404, r.status
c.request("GET", "/")
r = c.getresponse()
assert r.status == 200 and r.read() == b"ok"
c.close()
EOF
	pt_expect_count $((r0 + 1)) api GET 200 /
	PT_WAIT_S=10 pt_wait_metric_ge $((big0 + 1)) podtap_http_parse_errors_total reason=head_too_large ||
		PT_WAIT_S=2 pt_wait_metric_ge $((big0 + 1)) podtap_http_parse_errors_total reason=head_not_captured
	local after
	after=$(pt_series api)
	if grep -F 'http_route="/huge"' <<<"$after"; then
		pt_fail "the oversized request was counted"
		return 1
	fi
}

@test "a request sent one byte at a time is counted exactly once" {
	local u0 p0
	u0=$(pt_count web GET 200 '/users/{id}')
	p0=$(pt_count web POST 201 /items)
	printf 'GET /users/77 HTTP/1.1\r\nHost: x\r\nUser-Agent: trickle\r\n\r\n' |
		pt_raw "$WEB_PORT" --bytewise 0.005 --expect 200
	printf 'POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde' |
		pt_raw "$WEB_PORT" --bytewise 0.005 --expect 201
	pt_expect_count $((u0 + 1)) web GET 200 '/users/{id}'
	pt_expect_count $((p0 + 1)) web POST 201 /items
}

@test "binary garbage in several writes: no series, connections counted as other" {
	local bw ba o0
	bw=$(pt_series web)
	ba=$(pt_series api)
	o0=$(pt_metric podtap_connections_total protocol=other)
	head -c 65536 /dev/urandom | tr '\000-\037' '\200-\237' |
		pt_raw "$WEB_PORT" --chunks 8 --timeout 3 >/dev/null
	head -c 65536 /dev/urandom | tr 'A-Z' '\200-\231' |
		pt_raw "$API_PORT" --chunks 8 --timeout 3 >/dev/null
	PT_WAIT_S=8 pt_wait_metric_ge $((o0 + 2)) podtap_connections_total protocol=other
	same_series "$bw" web
	same_series "$ba" api
	then_counted api "$API_PORT"
}

@test "a client killed half-way through a head: nothing counted" {
	local before rc
	before=$(pt_series web)
	rc=$(printf 'POST /items HTTP/1.1\r\nHost: x\r\nContent-Len' |
		raw_dies "$WEB_PORT")
	pt_expect_eq "client exit status (SIGKILL)" 137 "$rc"
	rc=$(printf 'GET /users/5 HTTP/1.1\r\nHo' | raw_dies "$API_PORT")
	pt_expect_eq "client exit status (SIGKILL)" 137 "$rc"
	same_series "$before" web
	then_counted web "$WEB_PORT"
}

@test "pipelined requests gunicorn answers once: one counted" {
	local r0 u0 i0
	r0=$(pt_count web GET 200 /)
	u0=$(pt_count web GET 200 '/users/{id}')
	i0=$(perr incomplete)
	# The sync worker answers the first and closes the connection.
	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /users/3 HTTP/1.1\r\nHost: x\r\n\r\n' |
		pt_raw "$WEB_PORT" --expect 200
	pt_expect_count $((r0 + 1)) web GET 200 /
	pt_expect_count "$u0" web GET 200 '/users/{id}'
	pt_wait_metric_ge $((i0 + 1)) podtap_http_parse_errors_total reason=incomplete
}

@test "a worker SIGKILLed mid-response (chunked stream): not counted, incomplete" {
	local i0 out pid i cpid
	i0=$(perr incomplete)
	out="$PT_TMP/stream.out"
	: >"$out"
	curl -sS -N --max-time 20 "$WEB/stream" >"$out" 2>"$PT_TMP/stream.err" 3>&- &
	cpid=$!
	for i in $(seq 1 100); do
		grep -q '^chunk 1$' "$out" && break
		sleep 0.05
	done
	pid=$(sed -n 's/^pid=//p' "$out")
	[ -n "$pid" ] || { pt_fail "no pid in /stream output"; return 1; }
	grep -qx "$pid" < <(pt_worker_pids "$WEB_PID")
	echo "$pid" >>"$PT_TMP/killed"
	kill -KILL "$pid"
	if wait "$cpid"; then
		pt_fail "curl finished a stream whose server died"
		return 1
	fi
	grep -q '^chunk 1$' "$out"
	if grep -q '^chunk 49$' "$out"; then
		pt_fail "the stream was not cut"
		return 1
	fi
	pt_wait_metric_ge $((i0 + 1)) podtap_http_parse_errors_total reason=incomplete
	sleep 0.3
	if pt_series web | grep -F 'http_route="/stream"'; then
		pt_fail "a response that never finished was counted"
		return 1
	fi
	# gunicorn replaces the worker; the pod is served and counted again.
	for i in $(seq 1 100); do
		[ "$(pt_worker_pids "$WEB_PID" | wc -l)" -ge 2 ] &&
			! pt_worker_pids "$WEB_PID" | grep -qx "$pid" && break
		sleep 0.05
	done
	then_counted web "$WEB_PORT"
}

@test "a finished /stream response is counted once" {
	local s0
	s0=$(pt_count api GET 200 /stream)
	[ "$(curl -sS --max-time 20 "$API/stream?n=5" | grep -c '^chunk')" = 5 ]
	pt_expect_count $((s0 + 1)) api GET 200 /stream
}

# get PATH: one request to the bad server; prints the status lines it got.
get_raw() {
	printf 'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' "$1" | pt_raw "$RAW_PORT" --timeout 3
}

@test "a bad server: well-formed answers counted, bad ones counted as errors only" {
	local ok0 noclen0 twice0 chunk0 status0 unm0 inc0 f
	ok0=$(pt_count raw GET 200 /ok)
	noclen0=$(pt_count raw GET 200 /noclen)
	twice0=$(pt_count raw GET 200 /twice)
	chunk0=$(perr bad_chunk)
	status0=$(perr malformed_response)
	unm0=$(perr unmatched_response)
	inc0=$(perr incomplete)
	[ "$(get_raw /ok)" = 200 ]
	[ "$(get_raw /noclen)" = 200 ]
	get_raw /badchunk >/dev/null
	get_raw /badstatus >/dev/null
	[ "$(get_raw /twice | tr '\n' ' ')" = "200 200 " ]
	get_raw /short >/dev/null
	# A body delimited by the server closing is a complete response.
	pt_expect_count $((ok0 + 1)) raw GET 200 /ok
	pt_expect_count $((noclen0 + 1)) raw GET 200 /noclen
	# The first answer to /twice is right; the second matches nothing.
	pt_expect_count $((twice0 + 1)) raw GET 200 /twice
	pt_wait_metric_ge $((chunk0 + 1)) podtap_http_parse_errors_total reason=bad_chunk
	pt_wait_metric_ge $((status0 + 1)) podtap_http_parse_errors_total reason=malformed_response
	pt_wait_metric_ge $((unm0 + 1)) podtap_http_parse_errors_total reason=unmatched_response
	pt_wait_metric_ge $((inc0 + 1)) podtap_http_parse_errors_total reason=incomplete
	f=$(pt_scrape)
	if pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=raw-0 |
		grep -E 'http_route="/(badchunk|badstatus|short)"'; then
		pt_fail "a broken response was counted as an exchange"
		return 1
	fi
	pt_expect_eq "series of raw-0" 3 \
		"$(pt_mq keys "$f" "${PT_HIST}_count" k8s_pod_name=raw-0 | wc -l)"
}

@test "after 101 Switching Protocols, HTTP-looking bytes in the tunnel are not counted" {
	local up0 ok0 f
	ok0=$(pt_count raw GET 200 /ok)
	up0=$(pt_count raw GET 101 /upgrade)
	"$PT_PY" - "$RAW_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: x-tunnel\r\n"
          b"Connection: Upgrade\r\n\r\n")
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(4096)
assert got.startswith(b"HTTP/1.1 101 "), got
s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")   # inside the tunnel
got = b""
while b"ok" not in got:
    got += s.recv(4096)
s.close()
EOF
	# The upgrade exchange itself is one request (status 101).
	pt_expect_count $((up0 + 1)) raw GET 101 /upgrade
	sleep 0.3
	pt_expect_count "$ok0" raw GET 200 /ok
}

# Runs last: after clients and workers were killed mid-exchange above, no
# connection of this file's processes stays tracked: not of the dead ones
# (entries of dead processes are dropped: podtap ends them in its own table
# and deletes them from the kernel's), nor of the servers, idle now.
@test "no tracked connection leaks after all of the above" {
	local i got ours
	ours="$PT_TMP/our-pids"
	{
		cat "$PT_TMP/killed"
		echo "$WEB_PID"
		echo "$API_PID"
		echo "$RAW_PID"
		pt_worker_pids "$WEB_PID"
		pt_worker_pids "$API_PID"
	} | sort -un >"$ours"
	[ "$(wc -l <"$PT_TMP/killed")" -ge 3 ]
	for i in $(seq 1 150); do
		got=$(pt_podtap_conn_tgids | grep -xFf "$ours" | sort -u | tr '\n' ' ') || true
		[ -z "$got" ] && break
		sleep 0.1
	done
	pt_log "podtap_connections_tracked (node-wide): $(pt_metric podtap_connections_tracked)"
	if [ -n "$got" ]; then
		pt_fail "connections still tracked in the kernel for pids $got (this file's: $(tr '\n' ' ' <"$ours"))"
		return 1
	fi
}
