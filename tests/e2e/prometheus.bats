#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A real Prometheus server (Debian's) scrapes podtap every second; what it
# stores must be what was sent. Also: Prometheus' own HTTP API is a Go
# server on the host, a different syscall pattern than gunicorn's; it runs
# under a name of its own (pt_unique_exec), so that its host series
# (service_name=<comm>) are not those of any other Prometheus on the machine
# (another suite's, running at the same time).

load 'lib/common'

setup_file() {
	pt_podtap_setup
	pt_pod_create shop web-1 web
	export WEB_SCOPE=$PT_POD_SCOPE
	pt_podtap_start
	pt_gunicorn_app WEB web --cgroup "$WEB_SCOPE" -- -w 2

	PROM_PORT=$(pt_free_port)
	export PROM_PORT PROM="http://127.0.0.1:$PROM_PORT"
	cat >"$PT_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: podtap
    static_configs:
      - targets: ['127.0.0.1:$PODTAP_PORT']
EOF
	promtool check config "$PT_TMP/prometheus.yml" >&2
	PROM_PID=$(pt_spawn "$PT_TMP/logs/prometheus.log" -- \
		"$(pt_unique_exec pr "$(command -v prometheus)")" \
		--config.file="$PT_TMP/prometheus.yml" \
		--storage.tsdb.path="$PT_TMP/prom-data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" \
		--log.level=warn)
	export PROM_PID
	pt_wait_port "$PROM_PORT" 30 "$PROM_PID" || {
		cat "$PT_TMP/logs/prometheus.log" >&2
		return 1
	}
	PROM_COMM=$(cat "/proc/$PROM_PID/comm")
	export PROM_COMM
	pt_who prom --host "$PROM_COMM"
	local i
	for i in $(seq 1 150); do
		[ "$(pt_curl_status "$PROM/-/ready")" = 200 ] && break
		sleep 0.2
	done
	[ "$(pt_curl_status "$PROM/-/ready")" = 200 ]
}

teardown_file() {
	[ -n "${PROM_PID:-}" ] && pt_stop_pid "$PROM_PID" 15
	pt_podtap_teardown
}

# promql QUERY: the single value of an instant query ("" when no series).
promql() {
	curl -sS --max-time 5 -G --data-urlencode "query=$1" "$PROM/api/v1/query" |
		"$PT_PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
r = d["data"]["result"]
assert len(r) <= 1, r
v = float(r[0]["value"][1]) if r else None
print("" if v is None else (int(v) if v == int(v) else v))'
}

# wait_promql EXPECTED QUERY: polls (up to 30 s: scrapes are 1 s apart)
# until the query returns EXPECTED; a query that fails (a loaded machine:
# Prometheus slower than curl's 5 s) is asked again.
wait_promql() {
	local want=$1 q=$2 got="" deadline
	deadline=$(( $(date +%s) + 30 ))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if got=$(promql "$q" 2>"$PT_TMP/promql.err"); then
			[ "$got" = "$want" ] && return 0
		else
			got="(query failed)"
		fi
		sleep 0.2
	done
	cat "$PT_TMP/promql.err" >&2
	pt_fail "$q: expected $want, got '$got'"
	return 1
}

@test "Prometheus scrapes podtap: target is up" {
	wait_promql 1 'up{job="podtap"}'
}

@test "Prometheus stores exactly the requests sent to the pod" {
	local i q
	for i in 1 2 3 4 5; do
		[ "$(pt_curl_status "$WEB/users/$i")" = 200 ]
	done
	hey -n 20 -c 4 "$WEB/" >"$PT_TMP/hey.txt"
	grep -Eq '^\s*\[200\]\s+20 responses' "$PT_TMP/hey.txt"
	[ "$(pt_curl_status "$WEB/error")" = 500 ]
	[ "$(pt_curl_status "$WEB/error")" = 500 ]
	# podtap itself first (exact and stable), then what Prometheus holds.
	pt_wait_sum 27 "${PT_HIST}_count" k8s_pod_name=web-1
	q='sum(http_server_request_duration_seconds_count{k8s_pod_name="web-1"})'
	wait_promql 27 "$q"
	wait_promql 5 'sum(http_server_request_duration_seconds_count{k8s_namespace_name="shop",k8s_pod_name="web-1",k8s_container_name="web",service_name="web",http_route="/users/{id}",http_request_method="GET",http_response_status_code="200",url_scheme="http"})'
	wait_promql 20 'sum(http_server_request_duration_seconds_count{k8s_pod_name="web-1",http_route="/",http_response_status_code="200"})'
	wait_promql 2 'sum(http_server_request_duration_seconds_count{k8s_pod_name="web-1",http_route="/error",http_response_status_code="500"})'
	wait_promql 3 'count(http_server_request_duration_seconds_count{k8s_pod_name="web-1"})'
	# Histogram buckets are usable by PromQL.
	wait_promql 27 'sum(http_server_request_duration_seconds_bucket{k8s_pod_name="web-1",le="+Inf"})'
	[ -n "$(promql 'histogram_quantile(0.99, sum by (le) (http_server_request_duration_seconds_bucket{k8s_pod_name="web-1"}))')" ]
	# Stays at 27 over further scrapes.
	sleep 2.5
	wait_promql 27 "$q"
}

@test "Prometheus' own Go HTTP server is seen as a host series" {
	local c0 c1 i
	[[ "$PROM_COMM" == pt-pr-* ]]
	# The earlier tests' queries may still be on their way through the
	# ring buffer: start from a count that has settled.
	c0=$(pt_count prom GET 200 /api/v1/query)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.5
		c1=$(pt_count prom GET 200 /api/v1/query)
		[ "$c1" = "$c0" ] && break
		c0=$c1
	done
	for i in 1 2 3 4; do
		promql 'vector(1)' >/dev/null
	done
	pt_expect_count $((c0 + 4)) prom GET 200 /api/v1/query
}
