#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The OTLP exporter (user/otel/otlp_exporter.c, settings from user/otel/otel_env.c)
# against the test receiver (tests/otlp/receiver.js), which decodes what it
# gets with the official OTLP schema. build/tests/exporter_driver enqueues N
# spans known from their index (see tests/otlp/exporter_driver.c), stops
# the exporter and prints its stats as JSON. No kernel, no daemon: runs as
# root or not. Needs `npm ci --prefix tests/otlp` once.
#
# Each test starts its own receiver and stops it by pid in teardown.

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
: "${EXPORTER_DRIVER:=$REPO/build/tests/exporter_driver}"
RECEIVER="$REPO/tests/otlp/receiver.js"

setup() {
	if [ ! -x "$EXPORTER_DRIVER" ]; then
		echo "$EXPORTER_DRIVER is missing (make)" >&2
		return 1
	fi
	if [ ! -d "$REPO/tests/otlp/node_modules/@opentelemetry/otlp-transformer" ]; then
		echo "the receiver's packages are missing (npm ci --prefix tests/otlp)" >&2
		return 1
	fi
	# Only what a test sets reaches the driver; and no proxy in between.
	# shellcheck disable=SC2046
	unset $(compgen -e | grep -E '^(OTEL_|PODTAP_OTLP_)') \
		http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	TMP="$(mktemp -d /tmp/podtap-otlp.XXXXXX)"
	RECV_PID=""
	DRIVER_PID=""
}

teardown() {
	stop_receiver
	if [ -n "$DRIVER_PID" ]; then
		kill "$DRIVER_PID" 2>/dev/null || true
		wait "$DRIVER_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}

# free_port: a TCP port on 127.0.0.1 that no socket uses right now, below
# the ephemeral range (so that no client's source port takes it before the
# test binds it).
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_receiver PORT [ARGS...]: starts the receiver (PORT 0: any), waits
# until it listens; sets RECV_PID and PORT.
start_receiver() {
	local port=$1 i
	shift
	rm -f "$TMP/receiver.pid"
	node "$RECEIVER" "$port" --out "$TMP/spans.jsonl" \
		--requests "$TMP/requests.jsonl" --pid-file "$TMP/receiver.pid" \
		"$@" >"$TMP/receiver.out" 2>"$TMP/receiver.err" 3>&- &
	RECV_PID=$!
	for i in $(seq 1 100); do
		[ -s "$TMP/receiver.pid" ] && break
		if ! kill -0 "$RECV_PID" 2>/dev/null; then
			cat "$TMP/receiver.err" >&2
			return 1
		fi
		sleep 0.1
	done
	PORT=$(sed -n 's/^listening 127\.0\.0\.1://p' "$TMP/receiver.out")
	[ -n "$PORT" ]
}

stop_receiver() {
	[ -n "$RECV_PID" ] || return 0
	kill -TERM "$RECV_PID" 2>/dev/null || true
	wait "$RECV_PID" 2>/dev/null || true
	RECV_PID=""
}

# drive_bg ARGS...: starts the driver with the caller's OTEL_* and
# PODTAP_OTLP_* variables, its JSON result to $TMP/result.json; sets
# DRIVER_PID (timeout's, which passes a SIGTERM on to the driver).
drive_bg() {
	timeout 30 "$EXPORTER_DRIVER" "$@" >"$TMP/result.json" \
		2>"$TMP/driver.err" 3>&- &
	DRIVER_PID=$!
}

# drive_wait: waits for the driver, shows what it said, returns its status.
drive_wait() {
	local rc=0
	wait "$DRIVER_PID" || rc=$?
	DRIVER_PID=""
	sed 's/^/# driver: /' "$TMP/driver.err" >&2
	sed 's/^/# result: /' "$TMP/result.json" >&2
	return $rc
}

# drive ARGS...: drive_bg, then drive_wait.
drive() {
	drive_bg "$@"
	drive_wait
}

# res JQ: a field of the driver's result.
res() {
	jq -r "$1" "$TMP/result.json"
}

spans_count() {
	if [ -f "$TMP/spans.jsonl" ]; then wc -l <"$TMP/spans.jsonl"; else echo 0; fi
}

unique_span_ids() {
	jq -r .spanId "$TMP/spans.jsonl" | sort -u | wc -l
}

# check_equal WHAT GOT WANT: a readable failure.
check_equal() {
	if [ "$2" != "$3" ]; then
		echo "$1: got '$2', want '$3'" >&2
		return 1
	fi
}

@test "N spans arrive exactly once, with their attributes and resource, by the official schema" {
	local version want
	start_receiver 0
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT/" \
		OTEL_RESOURCE_ATTRIBUTES='deployment.environment.name=staging, team=a%2Cb' \
		PODTAP_OTLP_BATCH_SIZE=500 \
		drive --spans 2000 --resources 3 --wait-ms 10000

	check_equal exported "$(res .exported)" 2000
	check_equal drops "$(res '[.dropped[]] | add')" 0
	check_equal requests "$(res '.requests | "\(.success) \(.retryable) \(.permanent)"')" "4 0 0"
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "2000 0"
	check_equal "spans received" "$(spans_count)" 2000
	check_equal "unique span ids" "$(unique_span_ids)" 2000
	check_equal "first and last span id" \
		"$(jq -r .spanId "$TMP/spans.jsonl" | sort | sed -n '1p;$p' | tr '\n' ' ')" \
		"0000000000000001 00000000000007d0 "
	check_equal "spans per pod" \
		"$(jq -r '.resource["k8s.pod.name"]' "$TMP/spans.jsonl" | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" \
		"pod-0=667 pod-1=667 pod-2=666 "

	# every request: POST /v1/traces, protobuf, podtap's User-Agent, no gzip
	check_equal "request shape" \
		"$(jq -r '[.method, .path, .status, .headers["content-type"], .headers["content-encoding"] // "-", (.headers["user-agent"] | sub("/.*"; ""))] | join(" ")' \
			"$TMP/requests.jsonl" | sort | uniq -c | sed 's/^ *//')" \
		"4 POST /v1/traces 200 application/x-protobuf - podtap"
	version=$(jq -r '.headers["user-agent"] | sub("^podtap/"; "")' "$TMP/requests.jsonl" | head -1)

	want=$(jq -nc --arg v "$version" '{
		"service.name": "svc-1", "k8s.namespace.name": "shop",
		"k8s.pod.name": "pod-1", "k8s.container.name": "web",
		"k8s.node.name": "node-1", "process.pid": 1001,
		"process.runtime.name": "cpython",
		"process.runtime.version": "3.11.2",
		"telemetry.sdk.name": "podtap", "telemetry.sdk.language": "cpp",
		"telemetry.sdk.version": $v,
		"deployment.environment.name": "staging", "team": "a,b"}')
	check_equal "resource of pod-1" \
		"$(jq -c 'select(.resource["k8s.pod.name"] == "pod-1") | .resource' "$TMP/spans.jsonl" | sort -u)" \
		"$want"

	# span 44 (index 43): a SERVER child of span 43, status unset
	want=$(jq -nc --arg v "$version" '{
		scope: {name: "podtap", version: $v},
		spanId: "000000000000002c", parentSpanId: "000000000000002b",
		name: "GET /items/{id}", kind: "SPAN_KIND_SERVER",
		startTimeUnixNano: "1700000000000043000",
		endTimeUnixNano: "1700000000001543000",
		attributes: {"http.request.method": "GET", "url.path": "/items/43",
			"url.scheme": "http", "http.route": "/items/{id}",
			"http.response.status_code": 200,
			"server.address": "shop.prod.svc", "server.port": 8080,
			"client.address": "10.0.0.44",
			"network.peer.address": "10.0.0.44",
			"user_agent.original": "driver/1.0"},
		status: {code: "STATUS_CODE_UNSET", message: ""}}')
	check_equal "span 44" \
		"$(jq -c 'select(.spanId == "000000000000002c") | del(.resource, .traceId)' "$TMP/spans.jsonl")" \
		"$want"
	# span 10: a 503, so ERROR; span 3: a root CLIENT span
	check_equal "span 10" \
		"$(jq -r 'select(.spanId == "000000000000000a") | "\(.status.code) \(.attributes["http.response.status_code"])"' "$TMP/spans.jsonl")" \
		"STATUS_CODE_ERROR 503"
	check_equal "span 3" \
		"$(jq -r 'select(.spanId == "0000000000000003") | "\(.kind) \(.name) \(.parentSpanId == "")"' "$TMP/spans.jsonl")" \
		"SPAN_KIND_CLIENT POST /orders true"
	# trace id = run id + span id, one run id
	check_equal "trace ids" \
		"$(jq -r 'select(.traceId[16:] != .spanId)' "$TMP/spans.jsonl" | wc -l) $(jq -r '.traceId[:16]' "$TMP/spans.jsonl" | sort -u | wc -l)" \
		"0 1"
}

@test "gzip: Content-Encoding gzip, the same spans, a fraction of the bytes" {
	local plain gz
	start_receiver 0
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		drive --spans 1000 --wait-ms 10000
	plain=$(jq -s 'map(.bodyBytes) | add' "$TMP/requests.jsonl")
	mv "$TMP/requests.jsonl" "$TMP/plain.jsonl"
	: >"$TMP/spans.jsonl"

	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
		drive --spans 1000 --wait-ms 10000
	gz=$(jq -s 'map(.bodyBytes) | add' "$TMP/requests.jsonl")
	echo "# body bytes: plain $plain, gzip $gz" >&2

	check_equal exported "$(res .exported)" 1000
	check_equal "spans received" "$(spans_count)" 1000
	check_equal "unique span ids" "$(unique_span_ids)" 1000
	check_equal "content encodings" \
		"$(jq -r '"\(.status) \(.headers["content-encoding"])"' "$TMP/requests.jsonl" | sort -u)" \
		"200 gzip"
	[ $((gz * 4)) -lt "$plain" ]
}

@test "headers from OTEL_EXPORTER_OTLP_HEADERS arrive decoded; TRACES_ENDPOINT is used as is" {
	start_receiver 0
	# The base endpoint would fail: the per-signal one must win.
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1" \
		OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$PORT/v1/traces" \
		OTEL_EXPORTER_OTLP_HEADERS='authorization=Bearer%20abc%2Cdef , x-tenant = acme,bad key=1,x-empty=' \
		drive --spans 100 --wait-ms 10000

	check_equal exported "$(res .exported)" 100
	check_equal "spans received" "$(spans_count)" 100
	check_equal headers \
		"$(jq -c '.headers | {authorization, "x-tenant", "x-empty"}' "$TMP/requests.jsonl" | sort -u)" \
		'{"authorization":"Bearer abc,def","x-tenant":"acme","x-empty":""}'
	grep -q "entry 3 ignored: 'bad key' is not a header name" "$TMP/driver.err"
	# the secret is never logged
	if grep -q abc "$TMP/driver.err"; then return 1; fi
}

@test "receiver down at start, then up: spans arrive after backoff, each span id once" {
	local port
	port=$(free_port)
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" \
		PODTAP_OTLP_BATCH_SIZE=200 \
		drive_bg --spans 600 --wait-ms 20000
	sleep 2
	start_receiver "$port"
	drive_wait

	check_equal exported "$(res .exported)" 600
	check_equal drops "$(res '[.dropped[]] | add')" 0
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "600 0"
	# at least once: a retried request may have been seen twice
	[ "$(spans_count)" -ge 600 ]
	check_equal "unique span ids" "$(unique_span_ids)" 600
	[ "$(res .requests.retryable)" -ge 1 ]
	[ "$(res .retries)" -ge 1 ]
	[ "$(res .settled_ms)" -ge 2000 ]
	[[ "$(res .last_error)" == *"Couldn't connect"* ]]
}

@test "503 with Retry-After: the retry waits that long, then 200" {
	start_receiver 0 --fail-first 1 --fail-status 503 --retry-after 3
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		drive --spans 500 --wait-ms 20000

	check_equal exported "$(res .exported)" 500
	check_equal requests "$(res '.requests | "\(.success) \(.retryable) \(.permanent)"')" "1 1 0"
	check_equal retries "$(res .retries)" 1
	check_equal "receiver's answers" \
		"$(jq -r '"\(.status):\(.spans)"' "$TMP/requests.jsonl" | tr '\n' ' ')" \
		"503:500 200:500 "
	check_equal "spans received" "$(spans_count)" 500
	check_equal "unique span ids" "$(unique_span_ids)" 500
	# 200 ms of batching, 3 s of Retry-After; a backoff alone would be
	# under 1 s
	[ "$(res .settled_ms)" -ge 3000 ]
	[ "$(res .settled_ms)" -lt 5000 ]
}

@test "429 with an HTTP-date Retry-After is honoured" {
	# A receiver of its own: 429 with a date 3 s ahead, then 200.
	node -e '
		const http = require("http");
		let n = 0;
		const s = http.createServer((req, res) => {
			req.resume();
			req.on("end", () => {
				if (n++ === 0) {
					const when = new Date(Date.now() + 3000).toUTCString();
					res.writeHead(429, { "Retry-After": when });
					return res.end();
				}
				res.writeHead(200, { "Content-Type": "application/x-protobuf" });
				res.end();
			});
		});
		s.listen(0, "127.0.0.1", () => console.log(s.address().port));
	' >"$TMP/date.out" 3>&- &
	RECV_PID=$!
	for _ in $(seq 1 100); do [ -s "$TMP/date.out" ] && break; sleep 0.1; done
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$TMP/date.out")" \
		drive --spans 100 --wait-ms 20000

	check_equal exported "$(res .exported)" 100
	check_equal requests "$(res '.requests | "\(.success) \(.retryable)"')" "1 1"
	# the date has whole seconds: 2 to 3 s from the answer
	[ "$(res .settled_ms)" -ge 2000 ]
	[ "$(res .settled_ms)" -lt 5000 ]
}

@test "400: the batch is dropped as rejected, not retried; the next one goes through" {
	start_receiver 0 --fail-first 1 --fail-status 400
	# credentials in the URL: sent, never shown
	OTEL_EXPORTER_OTLP_ENDPOINT="http://podtap:s3cret@127.0.0.1:$PORT" \
		PODTAP_OTLP_BATCH_SIZE=200 \
		drive --spans 400 --wait-ms 10000

	check_equal exported "$(res .exported)" 200
	check_equal "dropped as rejected" "$(res .dropped.rejected)" 200
	check_equal requests "$(res '.requests | "\(.success) \(.retryable) \(.permanent)"')" "1 0 1"
	check_equal retries "$(res .retries)" 0
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "400 0"
	# the first batch (spans 1..200) is the one refused
	check_equal "span ids received" \
		"$(jq -r .spanId "$TMP/spans.jsonl" | sort -u | sed -n '1p;$p' | tr '\n' ' ')" \
		"00000000000000c9 0000000000000190 "
	check_equal "last error" "$(res .last_error)" \
		"POST http://127.0.0.1:$PORT/v1/traces: HTTP 400: injected failure"
	check_equal "basic auth" \
		"$(jq -r '.headers.authorization' "$TMP/requests.jsonl" | sort -u)" \
		"Basic $(printf podtap:s3cret | base64)"
	if grep -q s3cret "$TMP/driver.err"; then return 1; fi
}

@test "a hanging receiver: requests time out, stop returns by the shutdown deadline" {
	start_receiver 0 --hang
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		OTEL_EXPORTER_OTLP_TIMEOUT=1000 \
		PODTAP_OTLP_SHUTDOWN_TIMEOUT=3000 \
		drive --spans 300

	check_equal exported "$(res .exported)" 0
	check_equal "dropped at shutdown" "$(res .dropped.shutdown)" 300
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "300 0"
	[ "$(res .requests.retryable)" -ge 1 ]
	# the first request timed out; the last one may have been aborted
	grep -q "failing: POST .*: Operation timed out after 10[0-9][0-9] milliseconds" \
		"$TMP/driver.err"
	[ "$(res .stop_ms)" -le 3300 ]

	# With no request timeout at all, stop still ends the transfer.
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		OTEL_EXPORTER_OTLP_TIMEOUT=0 \
		PODTAP_OTLP_SHUTDOWN_TIMEOUT=2000 \
		drive --spans 300 --wait-ms 1000

	check_equal "dropped at shutdown" "$(res .dropped.shutdown)" 300
	[[ "$(res .last_error)" == *"aborted at the shutdown deadline"* ]]
	[ "$(res .stop_ms)" -ge 1900 ]
	[ "$(res .stop_ms)" -le 2300 ]
}

@test "a hanging receiver: a batch is given up after the retry budget (export_failed)" {
	start_receiver 0 --hang
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		OTEL_EXPORTER_OTLP_TIMEOUT=500 \
		PODTAP_OTLP_RETRY_MAX_ELAPSED=2000 \
		drive --spans 300 --wait-ms 10000

	check_equal "given up" "$(res .dropped.export_failed)" 300
	check_equal exported "$(res .exported)" 0
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "300 0"
	[ "$(res .settled_ms)" -ge 1000 ]
	[ "$(res .settled_ms)" -le 3500 ]
	[ "$(res .stop_ms)" -le 300 ]
	grep -q "300 given up" "$TMP/driver.err"
}

@test "queue overflow: drops counted, all else exported, memory flat over 10x more spans" {
	start_receiver 0
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		PODTAP_OTLP_QUEUE_SIZE=1000 PODTAP_OTLP_BATCH_SIZE=200 \
		drive --spans 220000 --rss-mark 20000 --wait-ms 20000
	echo "# VmRSS after 20000 spans: $(res .rss_kb_mark) kB, after 220000: $(res .rss_kb_end) kB" >&2

	check_equal "offered" "$(res '.enqueued + .dropped.queue_full')" 220000
	[ "$(res .dropped.queue_full)" -gt 0 ]
	check_equal exported "$(res .exported)" "$(res .enqueued)"
	check_equal "other drops" "$(res '.dropped.rejected + .dropped.export_failed + .dropped.shutdown')" 0
	check_equal "spans received" "$(spans_count)" "$(res .exported)"
	check_equal "unique span ids" "$(unique_span_ids)" "$(res .exported)"
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "220000 0"
	[ "$(res .rss_kb_end)" -gt 0 ]
	[ $(( $(res .rss_kb_end) - $(res .rss_kb_mark) )) -lt 1024 ]
	grep -q "queue full (1000 spans)" "$TMP/driver.err"
}

@test "a batch stuck retrying: new spans queue up to the queue size, the rest are dropped, enqueue never waits" {
	start_receiver 0 --fail-first 1000000 --fail-status 503
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
		PODTAP_OTLP_QUEUE_SIZE=500 PODTAP_OTLP_BATCH_SIZE=100 \
		PODTAP_OTLP_SHUTDOWN_TIMEOUT=1000 \
		drive --spans 3000 --interval-us 500 --rss-mark 1000

	# one batch of 100 in flight, 500 queued behind it
	check_equal enqueued "$(res .enqueued)" 600
	check_equal "dropped, queue full" "$(res .dropped.queue_full)" 2400
	check_equal "dropped at shutdown" "$(res .dropped.shutdown)" 600
	check_equal exported "$(res .exported)" 0
	check_equal "resource releases" "$(res .releases) $(res .release_errors)" "3000 0"
	[ "$(res .requests.retryable)" -ge 2 ]
	[ "$(res .stop_ms)" -le 1300 ]
	# an enqueue is a copy and at most a wakeup, never a wait on the
	# exporter (whose retries take seconds)
	[ "$(res .enqueue_max_us)" -lt 100000 ]
	[ $(( $(res .rss_kb_end) - $(res .rss_kb_mark) )) -lt 1024 ]
}

@test "settings: no endpoint turns traces off; grpc is refused with a clear message" {
	run timeout 10 "$EXPORTER_DRIVER" --spans 1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"traces off: no OTLP endpoint"* ]]

	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
		run timeout 10 "$EXPORTER_DRIVER" --spans 1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"* ]]
}
