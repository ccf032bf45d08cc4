#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The OTLP metrics push end to end: the real daemon pushing OTLP/HTTP
# metrics (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_METRIC_EXPORT_INTERVAL)
# to the test receiver (tests/otlp/receiver.js, which decodes with the
# official OTLP schema and writes one JSON line per data point), for a real
# gunicorn + Flask app in a simulated pod, shop/web-1, driven by curl on
# the host.
#
# Each test starts its own receiver and podtap and stops both by pid. Every
# process on the machine is traced, other suites' included: points are
# picked by pod (web-1) or, for curl's client side, by the app's port.

load 'lib/common'
load 'lib/otlp'

NS=metrics-shop

setup_file() {
	pt_podtap_setup
	pt_otlp_require
	pt_otlp_clear_env
	pt_pod_create "$NS" web-1 web
	pt_gunicorn_app WEB web --cgroup "$PT_POD_SCOPE" -- -w 2
	pt_who web "$NS" web-1 web
	NODE="e2e-node-$(pt_rand_hex 6)"
	export NODE
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

# push_podtap INTERVAL_MS [K=V...]: podtap pushing metrics to the current
# receiver every INTERVAL_MS, on node $NODE, nothing else over OTLP.
push_podtap() {
	local interval=$1
	shift
	pt_otlp_podtap_start \
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=$OTLP_URL/v1/metrics" \
		"OTEL_METRIC_EXPORT_INTERVAL=$interval" "NODE_NAME=$NODE" "$@"
}

# send N METHOD PATH [STATUS]: N requests from curl, each checked for its
# status (default 200).
send() {
	local n=$1 method=$2 path=$3 want=${4:-200} i got
	for i in $(seq 1 "$n"); do
		got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 15 \
			-X "$method" "$WEB$path") || true
		pt_expect_eq "$method $path" "$want" "$got" || return 1
	done
}

# points [JQ OPTIONS...] JQ_FILTER: jq -s over every point received, with
# $last the seq of the latest request that carried any.
points() {
	local filter=${*: -1}
	jq -c -s "(map(.seq) | max) as \$last | $filter" "${@:1:$#-1}" \
		"$OTLP_POINTS"
}

# The latest push's server points of web-1, one "METHOD ROUTE STATUS
# COUNT" line each, sorted.
web_server_counts() {
	points -r '.[] | select(.seq == $last and
		.name == "http.server.request.duration" and
		.resource["k8s.pod.name"] == "web-1") |
		"\(.attributes["http.request.method"]) \(.attributes["http.route"]) \(.attributes["http.response.status_code"]) \(.count)"' |
		sort
}

# wait_counts WANT [FN]: polls (up to 20 s) until FN (default
# web_server_counts) prints exactly WANT.
wait_counts() {
	local want=$1 fn=${2:-web_server_counts} got="" i
	for i in $(seq 1 100); do
		got=$($fn 2>/dev/null) || true
		[ "$got" = "$want" ] && return 0
		sleep 0.2
	done
	pt_fail "$fn: want
$want
got
$got"
	tail -n 5 "$OTLP_REQS" | cut -c 1-300 >&2
	return 1
}

@test "pushed histograms count exactly per method, route and status, with the pod as their resource" {
	pt_otlp_start
	push_podtap 500 OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	send 7 GET /
	send 3 POST /items 201
	send 1 GET /users/1
	send 1 GET /users/22
	send 4 GET /error 500
	wait_counts "GET / 200 7
GET /error 500 4
GET /users/{id} 200 2
POST /items 201 3"

	# One of them in full: the semantic conventions' instrument, a
	# cumulative histogram in seconds with /metrics' buckets, and the pod.
	run points -e '[.[] | select(.seq == $last and
		.resource["k8s.pod.name"] == "web-1" and
		.attributes["http.route"] == "/")][0] |
		.name == "http.server.request.duration" and .unit == "s" and
		.type == "histogram" and
		.temporality == "AGGREGATION_TEMPORALITY_CUMULATIVE" and
		.explicitBounds == [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
			0.5, 0.75, 1, 2.5, 5, 7.5, 10] and
		(.bucketCounts | length) == 15 and
		(.bucketCounts | add) == 7 and .sum > 0 and .sum < 7 * 15 and
		.attributes["url.scheme"] == "http" and
		(.attributes["http.response.status_code"] | type) == "number" and
		.resource["service.name"] == "web" and
		.resource["k8s.namespace.name"] == "'"$NS"'" and
		.resource["k8s.container.name"] == "web" and
		.resource["k8s.node.name"] == "'"$NODE"'" and
		.resource["telemetry.sdk.name"] == "podtap" and
		.scope.name == "podtap" and
		(.startTimeUnixNano | tonumber) <= (.timeUnixNano | tonumber)'
	[ "$status" -eq 0 ] || { echo "$output"; points '.[-1]'; false; }

	# curl's side of the same requests: client points of the host, towards
	# the app's port.
	client_counts() {
		points -r '[.[] | select(.seq == $last and
			.name == "http.client.request.duration" and
			(.resource["k8s.pod.name"] // "") == "" and
			.attributes["server.port"] == '"$WEB_PORT"')] |
			map(.count) | add'
	}
	wait_counts 16 client_counts

	# Cumulative: later pushes carry the totals so far, from the same start.
	start=$(points -r '.[] | select(.seq == $last and
		.resource["k8s.pod.name"] == "web-1" and
		.attributes["http.route"] == "/") | .startTimeUnixNano')
	send 5 GET /
	wait_counts "GET / 200 12
GET /error 500 4
GET /users/{id} 200 2
POST /items 201 3"
	run points -r '.[] | select(.seq == $last and
		.resource["k8s.pod.name"] == "web-1" and
		.attributes["http.route"] == "/") | .startTimeUnixNano'
	pt_expect_eq "start time of GET / across pushes" "$start" "$output"

	# What was pushed is what /metrics shows.
	pt_expect_count 12 web GET 200 /
	pt_expect_count 4 web GET 500 /error
	pt_wait_metric_ge 4 podtap_metric_points_exported_total
	pt_expect_eq "points rejected" 0 "$(pt_metric podtap_metric_points_rejected_total)"
	pt_expect_eq "failed pushes" 0 "$(pt_metric podtap_metric_exports_failed_total)"
	[ "$(pt_metric podtap_metric_export_requests_total outcome=success)" -ge 2 ]
	# Nothing else over OTLP: no traces were asked for. Every push gzipped.
	[ "$(pt_otlp_requests '.path != "/v1/metrics"' | wc -l)" -eq 0 ]
	[ "$(pt_otlp_requests '.headers["content-encoding"] != "gzip"' | wc -l)" -eq 0 ]
}

@test "a collector that is down costs pushes, not requests: the next push that gets in has them all" {
	port=$(pt_free_port)
	OTLP_URL="http://127.0.0.1:$port"
	push_podtap 300 OTEL_METRIC_EXPORT_TIMEOUT=200
	send 3 GET /users/5
	pt_wait_metric_ge 2 podtap_metric_exports_failed_total
	pt_wait_metric_ge 2 podtap_metric_export_requests_total outcome=retryable
	pt_expect_eq "points exported while down" 0 \
		"$(pt_metric podtap_metric_points_exported_total)"

	# Back up, and turning one point of each push away (a partial success).
	pt_otlp_start --port "$port" --reject-points 1
	send 2 GET /users/6
	wait_counts "GET /users/{id} 200 5"
	pt_wait_metric_ge 1 podtap_metric_points_rejected_total
	pt_podtap_alive
}

@test "metrics are pushed only when asked for: a traces endpoint alone sends none; OTEL_METRICS_EXPORTER=otlp sends them there" {
	pt_otlp_start
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		"OTEL_METRIC_EXPORT_INTERVAL=200" "NODE_NAME=$NODE"
	grep -q 'OTLP metrics push off: set OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or OTEL_METRICS_EXPORTER=otlp' "$PODTAP_LOG"
	send 2 GET /
	PT_OTLP_WAIT_S=20 pt_otlp_wait_ge 2 'server and pod("web-1")'
	sleep 1
	[ "$(pt_otlp_requests '.path == "/v1/metrics"' | wc -l)" -eq 0 ]
	[ "$(pt_metric podtap_metric_exports_total)" = 0 ]
	pt_podtap_stop

	: >"$OTLP_POINTS"
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		OTEL_METRICS_EXPORTER=otlp,prometheus OTEL_TRACES_EXPORTER=none \
		"OTEL_METRIC_EXPORT_INTERVAL=200" "NODE_NAME=$NODE"
	send 3 GET /
	wait_counts "GET / 200 3"
	! grep -q "'prometheus' ignored" "$PODTAP_LOG"
}

@test "the last push at shutdown carries every request, however long the interval" {
	pt_otlp_start
	# The default interval, 60 s: only the push at exit can carry them.
	pt_otlp_podtap_start \
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=$OTLP_URL/v1/metrics" \
		"NODE_NAME=$NODE"
	grep -q "OTLP metrics push to $OTLP_URL/v1/metrics every 60000 ms" "$PODTAP_LOG"
	send 4 GET /users/9
	send 2 POST /items 201
	# Every event read before the stop (the exchanges are counted).
	pt_wait_sum 6 http_server_request_duration_seconds_count k8s_pod_name=web-1
	pt_podtap_stop
	[ "$(pt_otlp_requests '.path == "/v1/metrics"' | wc -l)" -eq 1 ]
	run web_server_counts
	pt_expect_eq "the push at exit" "GET /users/{id} 200 4
POST /items 201 2" "$output"
}

@test "a collector that never answers: each push ends at its timeout, and podtap still stops cleanly" {
	pt_otlp_start --hang
	push_podtap 300 OTEL_METRIC_EXPORT_TIMEOUT=250 PODTAP_OTLP_SHUTDOWN_TIMEOUT=1000
	send 2 GET /
	pt_wait_metric_ge 2 podtap_metric_exports_failed_total
	pt_wait_metric_ge 2 podtap_metric_export_requests_total outcome=retryable
	pt_expect_eq "points exported" 0 "$(pt_metric podtap_metric_points_exported_total)"
	t0=$(date +%s%N)
	pt_podtap_stop 15
	elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	pt_log "stopped in $elapsed_ms ms"
	grep -q 'OTLP export failing: POST http://127.0.0.1:[0-9]*/v1/metrics' "$PODTAP_LOG"
	! grep -q 'left behind' "$PODTAP_LOG"
}
