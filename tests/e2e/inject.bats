#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# --inject-trace-context: podtap itself puts a traceparent (and, asked,
# a b3 header) into outgoing HTTP/1.x requests that carry none, naming the
# CLIENT span it reports for the request, so that a callee on another node
# continues the trace. Here the callee is on this node too, and what it
# received is what it echoes: GET /relay/<n>?to=BACK&echo=1 makes the front
# end call BACK/headers/<n>, which answers with the trace headers it got and
# its body's length and SHA-256. No app sends a trace header.
#
#   pod inject/gthread-1  gunicorn -w 1 --threads 8   GET /relay/<n>
#   pod inject/gevent-1   gunicorn -k gevent -w 1     GET /relay/<n>
#   pod inject/eventlet-1 gunicorn -k eventlet -w 1   GET /relay/<n>
#   pod inject/asyncio-1  uvicorn, httpx.AsyncClient  GET /relay/<n>
#   pod inject/back-1     gunicorn -w 4 (sync)        GET /headers/<n>, /users/<n>
#   pod inject/proxy-1    nginx in front of back-1 (upstream keep-alive)

load 'lib/common'
load 'lib/otlp'

NS=inject
N=200

setup_file() {
	local p
	pt_podtap_setup
	pt_otlp_require
	pt_otlp_clear_env
	for p in gthread gevent eventlet asyncio back proxy; do
		pt_pod_create "$NS" "$p-1" "$p"
		export "SCOPE_$p=$PT_POD_SCOPE"
	done
	pt_gunicorn_app GTHREAD gthread --cgroup "$SCOPE_gthread" -- -w 1 \
		--threads 8
	pt_gunicorn_app GEVENT gevent --cgroup "$SCOPE_gevent" -- -w 1 \
		-k gevent --worker-connections 64
	pt_gunicorn_app EVENTLET eventlet --cgroup "$SCOPE_eventlet" -- -w 1 \
		-k eventlet --worker-connections 64
	pt_gunicorn_app BACK back --cgroup "$SCOPE_back" -- -w 4
	ASYNCIO_PORT=$(pt_free_port)
	ASYNCIO_PID=$(pt_spawn "$PT_TMP/logs/asyncio.log" --cgroup "$SCOPE_asyncio" \
		-- /usr/bin/python3 -m uvicorn --app-dir "$PT_FIXTURES" asgi_app:app \
		--host 127.0.0.1 --port "$ASYNCIO_PORT" --log-level warning)
	pt_wait_port "$ASYNCIO_PORT" 20 "$ASYNCIO_PID"
	export ASYNCIO_PORT ASYNCIO_PID ASYNCIO="http://127.0.0.1:$ASYNCIO_PORT"
	PROXY_PORT=$(pt_free_port)
	mkdir -p "$PT_TMP/nginx"
	cat >"$PT_TMP/nginx/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $PT_TMP/nginx/nginx.pid;
		events { worker_connections 64; }
		http {
			access_log off;
			client_body_temp_path $PT_TMP/nginx/body;
			proxy_temp_path $PT_TMP/nginx/proxy;
			fastcgi_temp_path $PT_TMP/nginx/fastcgi;
			uwsgi_temp_path $PT_TMP/nginx/uwsgi;
			scgi_temp_path $PT_TMP/nginx/scgi;
			upstream back { server 127.0.0.1:$BACK_PORT; keepalive 4; }
			server {
				listen 127.0.0.1:$PROXY_PORT;
				location / {
					proxy_pass http://back;
					proxy_http_version 1.1;
					proxy_set_header Connection "";
				}
			}
		}
	EOF
	PROXY_PID=$(pt_spawn "$PT_TMP/logs/nginx.log" --cgroup "$SCOPE_proxy" -- \
		/usr/sbin/nginx -p "$PT_TMP/nginx" -e "$PT_TMP/nginx/error.log" \
		-c "$PT_TMP/nginx/nginx.conf")
	pt_wait_port "$PROXY_PORT" 20 "$PROXY_PID"
	export PROXY_PORT PROXY_PID PROXY="http://127.0.0.1:$PROXY_PORT"
}

teardown_file() {
	pt_cleanup
}

setup() {
	pt_test_mark
	PODTAP_PID=""
	OTLP_PID=""
}

teardown() {
	pt_test_stop
}

# podtap_inject [ARGS...]: podtap exporting to the test's receiver, with
# injection on unless ARGS say otherwise.
podtap_inject() {
	pt_otlp_start
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		OTEL_TRACES_SAMPLER=always_on -- "$@"
}

inject_count() {
	pt_metric podtap_trace_inject_total "result=$1"
}

# echo_of JSON FIELD: a field of what /headers answered ("" for null).
echo_of() {
	jq -r --arg f "$2" '.[$f] // ""' <<<"$1"
}

# fire BASE QUERY OUT: GET BASE/relay/<n>?QUERY for n = 1..N, 16 at a time;
# the answers, one per line, in OUT; fails unless every answer is 200.
fire() {
	local base=$1 query=$2 out=$3 bad
	bad=$(seq 1 "$N" | xargs -P 16 -I{} curl -sS -o "$out.{}" \
		-w '%{http_code}\n' --max-time 60 "$base/relay/{}?$query" |
		grep -cvx 200 || true)
	pt_expect_eq "answers other than 200 of $N" 0 "$bad"
	cat "$out".* >"$out" && rm -f "$out".*
}

# check_echoes POD ECHOES: every traceparent back-1 received for /headers/n
# names POD's CLIENT span for /headers/n (its trace id and span id), whose
# parent is POD's SERVER span for /relay/n, whose parent is curl's CLIENT
# span for it; and back-1's SERVER span is that CLIENT span's child. Prints
# what is not so; the number of headers received goes to $PT_TMP/received.
check_echoes() {
	local pod=$1 echoes=$2
	jq -r -s --arg pod "$pod" --slurpfile e "$echoes" '
		def path: .attributes["url.path"];
		def podof: .resource["k8s.pod.name"] // "";
		[ .[] | select(path | test("^/(relay|headers)/[0-9]+$")) ] as $s |
		$e[] | select(.traceparent != null) |
		(.traceparent | split("-")) as $tp | .n as $i |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_CLIENT" and podof == $pod) ] as $c |
		[ $s[] | select(path == "/relay/\($i)" and .kind == "SPAN_KIND_SERVER" and podof == $pod) ] as $srv |
		[ $s[] | select(path == "/relay/\($i)" and .kind == "SPAN_KIND_CLIENT" and podof == "") ] as $c0 |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_SERVER" and podof == "back-1") ] as $b |
		def child($x; $p): $x.traceId == $p.traceId and $x.parentSpanId == $p.spanId;
		if ([$c, $srv, $c0, $b] | map(length)) != [1, 1, 1, 1] then
			"\($i): spans \($pod) client/server, curl, back-1: \([$c, $srv, $c0, $b] | map(length))"
		elif $tp[0] != "00" or $tp[1] != $c[0].traceId or $tp[2] != $c[0].spanId then
			"\($i): received \(.traceparent), the CLIENT span is \($c[0].traceId)/\($c[0].spanId)"
		elif (child($c[0]; $srv[0]) | not) then "\($i): CLIENT not under its SERVER span"
		elif (child($srv[0]; $c0[0]) | not) then "\($i): SERVER not under curl"
		elif (child($b[0]; $c[0]) | not) then "\($i): back-1 SERVER not under the CLIENT span"
		else empty end' "$OTLP_SPANS" | head -20
	jq -s '[ .[] | select(.traceparent != null) ] | length' "$echoes" \
		>"$PT_TMP/received"
}

# front_end_test POD BASE: N calls through POD, each injected or counted.
front_end_test() {
	local pod=$1 base=$2 bad
	podtap_inject --inject-trace-context
	fire "$base" "to=$BACK&echo=1" "$PT_TMP/echoes"
	pt_otlp_wait_count "$N" "server and pod(\"back-1\")"
	pt_otlp_wait_count "$N" "client and pod(\"$pod\")"
	pt_otlp_settle 1 15 true >/dev/null
	bad=$(check_echoes "$pod" "$PT_TMP/echoes")
	if [ -n "$bad" ]; then
		pt_fail "headers that do not name the call's CLIENT span: $bad"
		return 1
	fi
	# The kernel named each request as its head was read: every call
	# carried it, whatever the daemon's delay.
	pt_expect_eq "calls whose callee received a traceparent" "$N" \
		"$(cat "$PT_TMP/received")"
	pt_expect_eq "calls injected with a parent" "$N" "$(inject_count child)"
	pt_expect_eq "calls left alone" 0 "$(inject_count no_context)"
	pt_podtap_stop
}

@test "gthread (8 threads): the callee receives a traceparent naming the caller's CLIENT span, itself under the caller's SERVER span" {
	front_end_test gthread-1 "$GTHREAD"
}

@test "gevent (a greenlet per request): the callee receives a traceparent naming the caller's CLIENT span" {
	front_end_test gevent-1 "$GEVENT"
}

@test "eventlet: the callee receives a traceparent naming the caller's CLIENT span" {
	front_end_test eventlet-1 "$EVENTLET"
}

@test "one call at a time: every call is injected, after a caller request that was injected itself (curl's, a new trace)" {
	local i out tp
	podtap_inject --inject-trace-context
	for i in $(seq 1 20); do
		out=$(curl -sS --max-time 30 "$GTHREAD/relay/$i?to=$BACK&echo=1")
		tp=$(echo_of "$out" traceparent)
		if [ -z "$tp" ]; then
			pt_fail "call $i carried no traceparent: $out"
			return 1
		fi
	done
	pt_expect_eq "calls injected with a parent" 20 "$(inject_count child)"
	pt_expect_eq "calls left alone" 0 "$(inject_count no_context)"
}

@test "asyncio (uvicorn + httpx.AsyncClient): no call names a wrong parent; the callee's SERVER span is always under the CLIENT span" {
	local wrong bad
	podtap_inject --inject-trace-context
	bad=$(seq 1 "$N" | xargs -P 16 -I{} curl -sS -o /dev/null \
		-w '%{http_code}\n' --max-time 60 "$ASYNCIO/relay/{}?to=$BACK" |
		grep -cvx 200 || true)
	pt_expect_eq "answers other than 200 of $N" 0 "$bad"
	pt_otlp_wait_count "$N" "server and pod(\"back-1\")"
	pt_otlp_wait_count "$N" "client and pod(\"asyncio-1\")"
	pt_otlp_settle 1 15 true >/dev/null
	wrong=$(jq -r -s '
		def path: .attributes["url.path"];
		[ .[] | select(.resource["k8s.pod.name"] == "asyncio-1") ] as $s |
		($s | map(select(.kind == "SPAN_KIND_SERVER")) |
		 map({ key: .spanId, value: (path | ltrimstr("/relay/")) }) |
		 from_entries) as $srv |
		[ $s[] | select(.kind == "SPAN_KIND_CLIENT" and .parentSpanId != "") |
		  select($srv[.parentSpanId] != (path | ltrimstr("/users/"))) ] |
		length' "$OTLP_SPANS")
	pt_expect_eq "CLIENT spans under a wrong SERVER span" 0 "$wrong"
	pt_expect_eq "back-1 SERVER spans not under asyncio-1's CLIENT span" 0 "$(jq -r -s '
		[ .[] | select(.kind == "SPAN_KIND_CLIENT" and .resource["k8s.pod.name"] == "asyncio-1") ] as $c |
		[ .[] | select(.kind == "SPAN_KIND_SERVER" and .resource["k8s.pod.name"] == "back-1" and
		  (.attributes["url.path"] | startswith("/users/"))) |
		  select(. as $b | [ $c[] | select(.spanId == $b.parentSpanId and .traceId == $b.traceId) ] | length != 1) ] |
		length' "$OTLP_SPANS")"
	pt_log "asyncio-1: child $(inject_count child), multiplexed $(inject_count multiplexed), no_context $(inject_count no_context)"
}

@test "through nginx: the callee gets the header curl's request carried; nginx's CLIENT span is its own, under its SERVER span; no span id twice" {
	local n=50 bad
	podtap_inject --inject-trace-context
	bad=$(seq 1 "$n" | xargs -P 8 -I{} curl -sS -o "$PT_TMP/px.{}" \
		-w '%{http_code}\n' --max-time 30 "$PROXY/headers/{}" |
		grep -cvx 200 || true)
	pt_expect_eq "answers other than 200 of $n" 0 "$bad"
	cat "$PT_TMP"/px.* >"$PT_TMP/px"
	pt_otlp_wait_count "$n" "server and pod(\"back-1\")"
	pt_otlp_wait_count "$n" "client and pod(\"proxy-1\")"
	pt_otlp_settle 1 15 true >/dev/null
	bad=$(jq -r -s --slurpfile e "$PT_TMP/px" '
		def path: .attributes["url.path"];
		def podof: .resource["k8s.pod.name"] // "";
		[ .[] | select(path | test("^/headers/[0-9]+$")) ] as $s |
		$e[] | .n as $i | (.traceparent // "" | split("-")) as $tp |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_CLIENT" and podof == "") ] as $c0 |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_SERVER" and podof == "proxy-1") ] as $ps |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_CLIENT" and podof == "proxy-1") ] as $pc |
		[ $s[] | select(path == "/headers/\($i)" and .kind == "SPAN_KIND_SERVER" and podof == "back-1") ] as $b |
		def child($x; $p): $x.traceId == $p.traceId and $x.parentSpanId == $p.spanId;
		if ([$c0, $ps, $pc, $b] | map(length)) != [1, 1, 1, 1] then
			"\($i): spans curl, proxy server/client, back-1: \([$c0, $ps, $pc, $b] | map(length))"
		elif $tp[1] != $c0[0].traceId or $tp[2] != $c0[0].spanId then
			"\($i): back-1 received \(.traceparent), curl sent \($c0[0].spanId)"
		elif (child($ps[0]; $c0[0]) | not) then "\($i): proxy SERVER not under curl"
		elif (child($pc[0]; $ps[0]) | not) then "\($i): proxy CLIENT not under its SERVER span"
		elif $pc[0].spanId == $c0[0].spanId then "\($i): proxy CLIENT repeats curl'"'"'s span id"
		elif (child($b[0]; $c0[0]) | not) then "\($i): back-1 SERVER not under the header'"'"'s span"
		else empty end' "$OTLP_SPANS" | head -10)
	if [ -n "$bad" ]; then
		pt_fail "$bad"
		return 1
	fi
	pt_expect_eq "span ids that appear twice" 0 "$(jq -r .spanId "$OTLP_SPANS" | sort | uniq -d | wc -l)"
	pt_expect_eq "forwarded headers" "$n" "$(pt_metric podtap_trace_forwarded_headers_total)"
}

@test "a request that already carries a traceparent or b3 header is left byte for byte as it was" {
	local tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 out
	local b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1
	podtap_inject --inject-trace-context --inject-trace-format w3c,b3
	out=$(curl -sS -H "traceparent: $tp" "$BACK/headers/1")
	pt_expect_eq "traceparent received" "$tp" "$(echo_of "$out" traceparent)"
	pt_expect_eq "b3 added beside it" "" "$(echo_of "$out" b3)"
	out=$(curl -sS -H "b3: $b3" "$BACK/headers/2")
	pt_expect_eq "b3 received" "$b3" "$(echo_of "$out" b3)"
	pt_expect_eq "traceparent added beside b3" "" "$(echo_of "$out" traceparent)"
	out=$(curl -sS -H "X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7" \
		-H "X-B3-SpanId: e457b5a2e4d86bd1" "$BACK/headers/3")
	pt_expect_eq "traceparent added beside X-B3-*" "" "$(echo_of "$out" traceparent)"
	pt_wait_metric 3 podtap_trace_inject_total result=has_context
	# curl's own CLIENT span is named by the header it sent.
	pt_otlp_wait_count 1 "client and .traceId == \"0af7651916cd43dd8448eb211c80319c\" and .spanId == \"b7ad6b7169203331\""
}

@test "bodies arrive byte for byte: Content-Length bodies of 0 B to 1 MiB, one after another on one connection, each request injected" {
	local body=$PT_TMP/body out i=0 size sum tp prev=""
	podtap_inject --inject-trace-context --inject-trace-format w3c,b3
	# One curl, one connection (gthread keeps it open): POSTs of each
	# size, then a GET.
	local -a args=()
	for size in 0 1 100 65536 1048576; do
		head -c "$size" /dev/urandom >"$body.$size"
		args+=(--next -sS -X POST --data-binary "@$body.$size"
			-w '\n%{num_connects}\n' "$GTHREAD/headers/$size")
	done
	args+=(--next -sS -w '\n%{num_connects}\n' "$GTHREAD/headers/9")
	curl "${args[@]:1}" >"$PT_TMP/curl.out"
	# Only the first transfer made a connection.
	pt_expect_eq "connections made" "1 0 0 0 0 0" \
		"$(grep -vx '{.*}' "$PT_TMP/curl.out" | grep -v '^$' | tr '\n' ' ' | sed 's/ $//')"
	grep -x '{.*}' "$PT_TMP/curl.out" | jq -c . >"$PT_TMP/answers"
	pt_expect_eq "answers" 6 "$(wc -l <"$PT_TMP/answers")"
	while IFS= read -r out; do
		size=$(echo_of "$out" n)
		if [ "$size" != 9 ]; then
			sum=$(sha256sum <"$body.$size" | cut -d' ' -f1)
			pt_expect_eq "length of the $size-byte body" "$size" "$(echo_of "$out" body_length)"
			pt_expect_eq "SHA-256 of the $size-byte body" "$sum" "$(echo_of "$out" body_sha256)"
		fi
		tp=$(echo_of "$out" traceparent)
		[[ $tp =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]] || {
			pt_fail "request $size: traceparent '$tp'"
			return 1
		}
		# The b3 header names the same ids.
		pt_expect_eq "b3 of request $size" \
			"$(cut -d- -f2 <<<"$tp")-$(cut -d- -f3 <<<"$tp")-1" "$(echo_of "$out" b3)"
		[ "$tp" != "$prev" ] || { pt_fail "two requests, one traceparent"; return 1; }
		prev=$tp
	done <"$PT_TMP/answers"
}

@test "a chunked body goes untouched, and so does the rest of its connection; the connection is counted" {
	# gthread keeps the connection open (the sync back end closes it).
	local port=${GTHREAD##*:} out
	podtap_inject --inject-trace-context
	out=$(/usr/bin/python3 - "$port" <<'EOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/headers/1", body=iter([b"chunky", b" body"]),
          encode_chunked=True)
first = json.loads(c.getresponse().read())
port = c.sock.getsockname()[1]
c.request("GET", "/headers/2")
second = json.loads(c.getresponse().read())
same = "one connection" if c.sock.getsockname()[1] == port else "two"
print(first["body_length"], first["traceparent"], second["traceparent"], same)
EOF
)
	pt_expect_eq "chunked body length, then the headers received" \
		"11 None None one connection" "$out"
	pt_wait_metric 1 podtap_trace_inject_total result=unframed
}

@test "bytes that are not HTTP go through unchanged, and the connection is counted" {
	local port pid got
	port=$(pt_free_port)
	pid=$(pt_spawn "$PT_TMP/logs/sink.log" -- /usr/bin/python3 -c '
import socket, sys, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); data = b""
while True:
    b = c.recv(65536)
    if not b: break
    data += b
c.sendall(hashlib.sha256(data).hexdigest().encode()); c.close()' "$port")
	pt_wait_port "$port" 10 "$pid"
	podtap_inject --inject-trace-context
	got=$(/usr/bin/python3 -c '
import socket, sys, hashlib
payload = b"\x16\x03\x01binary GET / HTTP/1.1\r\n\r\n" * 64
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(payload); s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.shutdown(socket.SHUT_WR)
answer = s.recv(100).decode()
whole = payload + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
print("same" if answer == hashlib.sha256(whole).hexdigest() else "changed")' "$port")
	pt_expect_eq "the bytes the server got" same "$got"
	pt_wait_metric 1 podtap_trace_inject_total result=not_http
	pt_stop_pid "$pid"
}

@test "without the flag no byte of any request changes, and nothing is loaded" {
	local out
	podtap_inject
	out=$(curl -sS -d 'plain' "$BACK/headers/1")
	pt_expect_eq "traceparent received" "" "$(echo_of "$out" traceparent)"
	pt_expect_eq "body received" 5 "$(echo_of "$out" body_length)"
	pt_expect_eq "podtap_trace_inject_total series" 0 \
		"$(grep -c '^podtap_trace_inject_total' "$(pt_scrape)" || true)"
	pt_expect_eq "sk_msg programs loaded" 0 \
		"$(bpftool prog show 2>/dev/null | grep -c 'podtap_inject' || true)"
}

@test "once podtap is gone (even SIGKILL), connections it injected into carry no more headers" {
	local port
	podtap_inject --inject-trace-context
	port=${BACK##*:}
	/usr/bin/python3 - "$port" "$PODTAP_PID" >"$PT_TMP/kill.out" 2>&1 <<'EOF'
import http.client, json, os, signal, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def get(n):
    c.request("GET", "/headers/%d" % n)
    return json.loads(c.getresponse().read())["traceparent"]
before = get(1)
os.kill(pid, signal.SIGKILL)
for _ in range(100):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.05)
time.sleep(0.5)
print("before", before)
print("after", get(2))
EOF
	pt_log "$(cat "$PT_TMP/kill.out")"
	grep -qE '^before 00-[0-9a-f]{32}-' "$PT_TMP/kill.out" ||
		{ pt_fail "the first request was not injected"; return 1; }
	pt_expect_eq "header after podtap died" "after None" "$(grep '^after' "$PT_TMP/kill.out")"
	PODTAP_PID=""
}

@test "--inject-trace-context without traces on is refused with a reason" {
	run env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
		timeout 20 "$PODTAP_BIN" --no-pin --metrics-listen "127.0.0.1:$(pt_free_port)" \
		--pod-log-dir "$PT_TMP/pods" --inject-trace-context
	[ "$status" -ne 0 ]
	[[ $output == *"needs traces on"* ]]
	run "$PODTAP_BIN" --inject-trace-format zipkin
	[ "$status" -ne 0 ]
	[[ $output == *"must be w3c, b3 or w3c,b3"* ]]
}
