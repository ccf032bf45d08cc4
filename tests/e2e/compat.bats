#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# prometheus-flask-exporter's names (docs/compat.md), end to end: gunicorn +
# Flask apps in two simulated pods, named by a kubelet fixture
# (tests/fixtures/kubelet.py); one pod carries the label
# podtap.io/compat=flask-exporter. Known load, exact counts per method,
# path and status on /metrics; then a real Prometheus scraping podtap with
# the chart's own metric relabeling (read from the rendered ServiceMonitor)
# answers the queries of prometheus-flask-exporter's example dashboard,
# with namespace, pod and container the app's.

load 'lib/common'

setup_file() {
	local d
	pt_podtap_setup
	d="$PT_TMP/kubelet"
	mkdir -p "$d/pods.d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$d/kubelet.key" -out "$d/kubelet.crt" -days 2 \
		-subj "/CN=compat-e2e kubelet" 2>/dev/null
	TOKEN="compat.$(pt_rand_hex 32)"
	echo "$TOKEN" >"$d/token"
	export KDIR=$d
	NODE_NAME="compat-node-$(pt_rand_hex 4)"
	export NODE_NAME

	make_pod WEB shop web-1 web flask-exporter
	make_pod OTHER shop other-1 other ""
	jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}' \
		"$d"/pods.d/*.json >"$d/pods.json"
	KUBELET_PORT=$(pt_free_port)
	KUBELET_PID=$(pt_spawn "$PT_TMP/logs/kubelet.log" -- "$PT_PY" \
		"$PT_FIXTURES/kubelet.py" "$KUBELET_PORT" --cert "$d/kubelet.crt" \
		--key "$d/kubelet.key" --pods "$d/pods.json" --token "$d/token" \
		--log "$d/requests.log")
	pt_wait_port "$KUBELET_PORT" 10 "$KUBELET_PID"
	export KUBELET_PID KUBELET_PORT
}

teardown_file() {
	pt_cleanup
}

setup() {
	pt_test_mark
}

teardown() {
	pt_test_stop
}

# make_pod VAR NS POD CONTAINER COMPAT: a simulated pod running the Flask
# fixture app under gunicorn (2 sync workers), and its PodList entry,
# labelled podtap.io/compat=COMPAT unless COMPAT is "". Exports VAR_PORT.
make_pod() {
	local var=$1 ns=$2 pod=$3 c=$4 compat=$5
	pt_pod_create "$ns" "$pod" "$c"
	jq -n --arg ns "$ns" --arg name "$pod" --arg uid "$PT_POD_UID" \
		--arg c "$c" --arg cid "$PT_POD_CID" --arg compat "$compat" '
	{metadata: {name: $name, namespace: $ns, uid: $uid,
		labels: ({app: $c} + (if $compat == "" then {} else
			{"podtap.io/compat": $compat} end))},
	 spec: {containers: [{name: $c}]},
	 status: {phase: "Running", containerStatuses: [{name: $c,
		containerID: ("containerd://" + $cid),
		state: {running: {}}}]}}' >"$KDIR/pods.d/$pod.json"
	pt_gunicorn_app "$var" "$pod" --cgroup "$PT_POD_SCOPE"
}

start() {
	pt_podtap_start --kubelet --kubelet-url "https://127.0.0.1:$KUBELET_PORT" \
		--kubelet-insecure-skip-verify \
		--kubelet-token-file "$KDIR/token" "$@"
}

# load PORT: the known load, each request answered as named.
load_app() {
	local port=$1 out="$PT_TMP/hey.out"
	hey -n 40 -c 4 "http://127.0.0.1:$port/users/7" >"$out"
	pt_hey_ok 40 "$out" 200
	hey -n 12 -c 3 -m POST -d '{"a":1}' "http://127.0.0.1:$port/items" >"$out"
	pt_hey_ok 12 "$out" 201
	hey -n 6 -c 2 -m POST "http://127.0.0.1:$port/raise" >"$out"
	pt_hey_ok 6 "$out" 500
	hey -n 5 -c 1 "http://127.0.0.1:$port/nope" >"$out"
	pt_hey_ok 5 "$out" 404
}

# flask_labels POD: the workload labels podtap puts on POD's families.
flask_labels() {
	pt_pod_labels shop "$1" "${1%-1}"
}

@test "a pod labelled podtap.io/compat=flask-exporter gets the exporter's families with exact counts; another pod none" {
	start
	load_app "$WEB_PORT"
	load_app "$OTHER_PORT"
	# podtap's own families count both pods
	pt_wait_sum 63 "${PT_HIST}_count" k8s_pod_name=other-1
	pt_wait_sum 63 "${PT_HIST}_count" k8s_pod_name=web-1
	local f
	f=$(pt_scrape)
	expect() {
		local want=$1 got
		shift
		got=$(pt_mq sum "$f" "$@")
		[ "$got" = "$want" ] || { pt_fail "$*: $got, want $want"; return 1; }
	}
	expect 40 flask_http_request_total method=GET status=200 $(flask_labels web-1)
	expect 12 flask_http_request_total method=POST status=201 $(flask_labels web-1)
	expect 6 flask_http_request_total method=POST status=500 $(flask_labels web-1)
	expect 5 flask_http_request_total method=GET status=404 $(flask_labels web-1)
	expect 63 flask_http_request_total
	expect 40 flask_http_request_duration_seconds_count method=GET \
		path=/users/{id} status=200 $(flask_labels web-1)
	expect 12 flask_http_request_duration_seconds_count path=/items status=201
	expect 6 flask_http_request_duration_seconds_count path=/raise status=500
	expect 40 flask_http_request_duration_seconds_bucket path=/users/{id} le=+Inf
	expect 6 flask_http_request_exceptions_total method=POST status=500 $(flask_labels web-1)
	expect 6 flask_http_request_exceptions_total
	expect 1 flask_exporter_info $(flask_labels web-1)
	expect 1 flask_exporter_info
	# the exporter's bucket bounds, as prometheus_client spells them
	local les
	les=$(grep -o 'flask_http_request_duration_seconds_bucket{[^}]*path="/items"[^}]*le="[^"]*"' "$f" |
		sed 's/.*le="//; s/"$//' | tr '\n' ' ')
	[ "$les" = "0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1.0 2.5 5.0 7.5 10.0 +Inf " ] ||
		{ pt_fail "le values: $les"; return 1; }
	# the unlabelled pod has none of them
	! grep -q 'flask_.*k8s_pod_name="other-1"' "$f"
	promtool check metrics <"$f" 2>&1 | { ! grep -i "error"; }
	pt_podtap_stop
}

@test "--compat flask-exporter: every pod's families" {
	start --compat flask-exporter
	load_app "$OTHER_PORT"
	pt_wait_sum 63 "${PT_HIST}_count" k8s_pod_name=other-1
	[ "$(pt_metric_sum flask_http_request_total $(flask_labels other-1))" = 63 ]
	[ "$(pt_metric_sum flask_http_request_exceptions_total $(flask_labels other-1))" = 6 ]
	pt_podtap_stop
}

# The chart's ServiceMonitor metricRelabelings as Prometheus'
# metric_relabel_configs (the same rules, in the file's own spelling).
chart_relabel_configs() {
	"$PT_REPO/tests/helm/render.sh" podtap --namespace obs \
		--set serviceMonitor.enabled=true |
		"$PT_PY" -c '
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
rules = sm["spec"]["endpoints"][0]["metricRelabelings"]
snake = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
out = [{snake.get(k, k): v for k, v in r.items()} for r in rules]
print(json.dumps(out))'
}

@test "a real Prometheus with the chart's relabeling answers the exporter's dashboard queries, as the app's pod" {
	start
	local port prom pid rules
	port=$(pt_free_port)
	prom="http://127.0.0.1:$port"
	rules=$(chart_relabel_configs)
	cat >"$PT_TMP/prometheus-compat.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: podtap
    static_configs:
      - targets: ['127.0.0.1:$PODTAP_PORT']
        labels: {namespace: obs, pod: podtap-x7k2p}
    metric_relabel_configs: $rules
EOF
	promtool check config "$PT_TMP/prometheus-compat.yml" >&2
	pid=$(pt_spawn "$PT_TMP/logs/prometheus-compat.log" -- \
		"$(pt_unique_exec pc "$(command -v prometheus)")" \
		--config.file="$PT_TMP/prometheus-compat.yml" \
		--storage.tsdb.path="$PT_TMP/prom-compat" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn)
	pt_wait_port "$port" 30 "$pid"
	load_app "$WEB_PORT"
	pt_wait_sum 63 "${PT_HIST}_count" k8s_pod_name=web-1
	q() {
		curl -sS --max-time 5 -G --data-urlencode "query=$1" \
			"$prom/api/v1/query" | jq -c '.data.result'
	}
	# Counts: once a scrape after the load has landed.
	local i got=""
	for i in $(seq 1 60); do
		got=$(q 'sum(flask_http_request_total{namespace="shop",pod="web-1",container="web"})' |
			jq -r '.[0].value[1] // ""')
		[ "$got" = 63 ] && break
		sleep 0.5
	done
	[ "$got" = 63 ] || { pt_fail "flask_http_request_total in Prometheus: '$got'"; return 1; }
	# The series' labels: the exporter's, the app's pod, none of podtap's.
	[ "$(q 'flask_http_request_total{status="201"}' | jq -c '.[0].metric')" = \
		'{"__name__":"flask_http_request_total","container":"web","instance":"127.0.0.1:'"$PODTAP_PORT"'","job":"podtap","method":"POST","namespace":"shop","pod":"web-1","status":"201"}' ]
	# podtap's own families keep podtap's target labels
	[ "$(q 'count(http_server_request_duration_seconds_count{k8s_pod_name="web-1",pod="podtap-x7k2p",namespace="obs"})' |
		jq -r '.[0].value[1]')" = 4 ]
	[ "$(q 'sum(flask_http_request_exceptions_total{pod="web-1"})' | jq -r '.[0].value[1]')" = 6 ]
	# The example dashboard's panels (prometheus-flask-exporter's
	# examples/sample-signals): rates and a quantile, over a second round
	# of load (a rate needs an increase between two scrapes).
	load_app "$WEB_PORT"
	for i in $(seq 1 60); do
		got=$(q 'sum(flask_http_request_total{pod="web-1"})' |
			jq -r '.[0].value[1] // ""')
		[ "$got" = 126 ] && break
		sleep 0.5
	done
	[ "$got" = 126 ] || { pt_fail "second round in Prometheus: '$got'"; return 1; }
	got=$(q 'sum(rate(flask_http_request_duration_seconds_count{status="200"}[30s]))' | jq -r '.[0].value[1]')
	pt_num_gt "$got" 0
	got=$(q 'histogram_quantile(0.9, sum by (le) (rate(flask_http_request_duration_seconds_bucket{pod="web-1"}[1m])))' |
		jq -r '.[0].value[1]')
	pt_num_gt "$got" 0
	"$PT_PY" -c "import sys; v = float('$got'); sys.exit(0 if v <= 10 else 1)"
	got=$(q 'sum by (path) (increase(flask_http_request_duration_seconds_count{status="200"}[1m]))' |
		jq -r '.[].metric.path')
	[ "$got" = "/users/{id}" ] || { pt_fail "paths of 200s: $got"; return 1; }
	pt_stop_pid "$pid" 15
	pt_podtap_stop
}
