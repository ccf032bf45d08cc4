#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Traces end to end: the real daemon exporting OTLP/HTTP to the test receiver
# (tests/otlp/receiver.js, which decodes with the official OTLP schema), real
# gunicorn + Flask apps in three simulated pods, real clients (curl, hey, and
# python requests inside a Flask handler).
#
#   pod trace-shop/front-1, container "front": gunicorn -w 2 (sync), no
#       OTEL_SERVICE_NAME (service.name = the container name); its GET /call
#       handler calls pod B with requests
#   pod trace-shop/back-2, container "back": gunicorn -w 2 (sync), started
#       with OTEL_SERVICE_NAME=backend-svc in its environment
#   pod trace-shop/mid-3, container "mid": gunicorn -w 1 --threads 4
#       (gthread: keep-alive, concurrent requests on threads of one process)
#
# Each test starts its own receiver and its own podtap (so the receiver's
# file holds only what that podtap exported during the test) and stops both
# by pid. Every process on the machine is traced, other suites' included:
# spans are picked by pod (named from this file's log directory only), by
# port, User-Agent or trace id.
# Tests are independent of each other: tests/run.sh runs the ones tagged
# second-half (every other one) in a second bats run beside the first
# (bats --filter-tags), halving the file's time.
# Spans are selected with jq (lib/otlp.bash); "SA" below is "a SERVER span
# of pod A for a request of this test's curl" (each test has its own
# User-Agent). curl and hey run on the host, outside any pod: the daemon
# exports their CLIENT spans too, with a resource that names no pod.

load 'lib/common'
load 'lib/otlp'

NS=trace-shop

setup_file() {
	pt_podtap_setup
	pt_otlp_require
	# The apps must not inherit OTEL_* from whoever runs the tests.
	pt_otlp_clear_env

	pt_pod_create "$NS" front-1 front
	export A_SCOPE=$PT_POD_SCOPE A_UID=$PT_POD_UID
	pt_pod_create "$NS" back-2 back
	export B_SCOPE=$PT_POD_SCOPE B_UID=$PT_POD_UID
	pt_pod_create "$NS" mid-3 mid
	export C_SCOPE=$PT_POD_SCOPE C_UID=$PT_POD_UID
	pt_gunicorn_app A front --cgroup "$A_SCOPE" -- -w 2
	pt_gunicorn_app B back --cgroup "$B_SCOPE" \
		--env OTEL_SERVICE_NAME=backend-svc -- -w 2
	pt_gunicorn_app C mid --cgroup "$C_SCOPE" -- -w 1 --threads 4 \
		--keep-alive 10
	NODE="e2e-node-$(pt_rand_hex 6)"
	export NODE
}

teardown_file() {
	pt_cleanup
}

setup() {
	# Processes recorded from here on are this test's (podtap, receivers,
	# hey); teardown stops them, whatever the outcome.
	pt_test_mark
	UA="podtap-e2e-traces/$BATS_TEST_NUMBER-$(pt_rand_hex 8)"
	SA="server and pod(\"front-1\") and ua(\"$UA\")"
	PODTAP_PID=""
	OTLP_PID=""
}

teardown() {
	pt_test_stop
}

# podtap_otlp [K=V...] [-- FLAGS...]: podtap exporting to the current
# receiver, on node $NODE, with the extra environment K=V...
podtap_otlp() {
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		"NODE_NAME=$NODE" "$@"
}

# req URL [CURL ARGS...]: one request with this test's User-Agent; prints
# the status.
req() {
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 15 -A "$UA" "$@" \
		"$url" || true
}

# expect_req STATUS URL [CURL ARGS...]
expect_req() {
	local want=$1 got
	shift
	got=$(req "$@")
	pt_expect_eq "status of $*" "$want" "$got"
}

# one EXPR: the one span matching EXPR (fails unless there is exactly one).
one() {
	local out n
	out=$(pt_otlp_spans "$1") || return 1
	n=$(printf '%s' "$out" | grep -c . || true)
	if [ "$n" != 1 ]; then
		pt_fail "expected exactly one span matching $1, found $n"
		pt_otlp_dump "$1"
		return 1
	fi
	printf '%s\n' "$out"
}

# field SPAN JQ_PATH: the field, jq -r.
field() {
	jq -r "$2" <<<"$1"
}

# in_list WORD LIST...: WORD is one of LIST.
in_list() {
	local w=$1
	shift
	case " $* " in *" $w "*) return 0 ;; esac
	return 1
}

# check_resource SPAN POD UID CONTAINER SERVICE MASTER_PID: the resource of
# a span from a gunicorn worker of MASTER_PID in that pod.
check_resource() {
	local s=$1 pid
	pt_otlp_expect_fields "$s" \
		".resource[\"service.name\"]=$5" \
		".resource[\"k8s.namespace.name\"]=$NS" \
		".resource[\"k8s.pod.name\"]=$2" \
		".resource[\"k8s.pod.uid\"]=$3" \
		".resource[\"k8s.container.name\"]=$4" \
		".resource[\"k8s.node.name\"]=$NODE" \
		'.resource["telemetry.sdk.name"]=podtap' || return 1
	pt_otlp_expect_true "$s" '.resource["process.pid"] | type == "number"' \
		"process.pid as an int" || return 1
	pid=$(field "$s" '.resource["process.pid"]')
	if ! in_list "$pid" $(pt_worker_pids "$6"); then
		pt_fail "process.pid $pid is not a worker of gunicorn $6 ($(pt_worker_pids "$6" | tr '\n' ' '))"
		return 1
	fi
}

# check_ids SPAN: W3C-shaped, non-zero trace and span ids.
check_ids() {
	pt_otlp_expect_true "$1" \
		'(.traceId | test("^[0-9a-f]{32}$") and (test("^0+$") | not)) and
		 (.spanId | test("^[0-9a-f]{16}$") and (test("^0+$") | not)) and
		 (.parentSpanId | test("^([0-9a-f]{16})?$"))' \
		"32/16 hex digit non-zero trace/span ids"
}

# check_times SPAN T0 T1: start <= end, both within [T0 - 1 s, T1 + 1 s]
# (epoch nanoseconds).
check_times() {
	pt_otlp_expect_true "$1" \
		'(.startTimeUnixNano | tonumber) as $s |
		 (.endTimeUnixNano | tonumber) as $e |
		 $s <= $e and $s >= $t0 - 1e9 and $e <= $t1 + 1e9' \
		"start <= end within the test's wall-clock window" \
		--argjson t0 "$2" --argjson t1 "$3"
}

# check_caller SPAN: a SERVER span of a request the host's curl sent, which
# carried no valid trace context: the child of curl's CLIENT span for it,
# in its trace (same-node stitching: podtap sees both ends).
check_caller() {
	local s=$1 c
	c=$(one "client and host and .spanId == \"$(field "$s" .parentSpanId)\"") ||
		return 1
	pt_otlp_expect_fields "$c" ".traceId=$(field "$s" .traceId)" \
		".attributes[\"url.path\"]=$(field "$s" '.attributes["url.path"]')" \
		".attributes[\"server.port\"]=#$(field "$s" '.attributes["server.port"]')"
}

# check_a_server SPAN METHOD PATH ROUTE STATUS CODE: a SERVER span of pod A
# for a request of this test's curl.
check_a_server() {
	local s=$1
	pt_otlp_expect_fields "$s" \
		.kind=SPAN_KIND_SERVER \
		".name=$2 $4" \
		".attributes[\"http.request.method\"]=$2" \
		".attributes[\"url.path\"]=$3" \
		'.attributes["url.scheme"]=http' \
		".attributes[\"http.route\"]=$4" \
		".attributes[\"http.response.status_code\"]=#$5" \
		'.attributes["server.address"]=127.0.0.1' \
		".attributes[\"server.port\"]=#$A_PORT" \
		'.attributes["client.address"]=127.0.0.1' \
		'.attributes["network.peer.address"]=127.0.0.1' \
		".attributes[\"user_agent.original\"]=$UA" \
		".status.code=STATUS_CODE_$6" || return 1
	check_ids "$s" || return 1
	check_resource "$s" front-1 "$A_UID" front front "$A_PID"
}

# a_client_labels STATUS ROUTE: the full label set of pod A's client series
# towards pod B.
a_client_labels() {
	pt_client_labels "$NS" front-1 front GET "$1" "$2" http 127.0.0.1 "$B_PORT"
}

# ---------------------------------------------------------------------------
# SERVER spans

@test "N requests to a pod (200/404/500, POST 201, /users/<id>): exactly N SERVER spans with the right names, attributes, status and resource" {
	local t0 t1 s names path rc=0 i
	pt_otlp_start
	podtap_otlp
	t0=$(date +%s%N)
	for i in 1 2 3; do expect_req 200 "$A/"; done
	expect_req 200 "$A/users/7"
	expect_req 200 "$A/users/12345"
	expect_req 404 "$A/nope"
	expect_req 404 "$A/nope"
	expect_req 500 "$A/error"
	expect_req 500 "$A/error"
	expect_req 201 "$A/items" -d abc
	expect_req 201 "$A/items" -d abcdef
	expect_req 200 "$A/slow"
	pt_otlp_wait_count 12 "$SA"
	t1=$(date +%s%N)
	# Nothing else from the pod: no other SERVER span, no CLIENT span.
	pt_expect_eq "spans of pod front-1 (all kinds)" 12 \
		"$(pt_otlp_count 'pod("front-1")')"
	names=$(pt_otlp_jq '[.[] | select(server and pod("front-1")) | .name] |
		group_by(.) | map("\(.[0]) x\(length)") | join(", ")' -r)
	pt_expect_eq "span names" \
		"GET / x3, GET /error x2, GET /nope x2, GET /slow x1, GET /users/{id} x2, POST /items x2" \
		"$names"
	while IFS= read -r s; do
		path=$(field "$s" '.attributes["url.path"]')
		case $path in
		/) check_a_server "$s" GET / / 200 UNSET || rc=1 ;;
		/users/7 | /users/12345)
			check_a_server "$s" GET "$path" '/users/{id}' 200 UNSET || rc=1 ;;
		/nope) check_a_server "$s" GET /nope /nope 404 UNSET || rc=1 ;;
		/error) check_a_server "$s" GET /error /error 500 ERROR || rc=1 ;;
		/items) check_a_server "$s" POST /items /items 201 UNSET || rc=1 ;;
		/slow)
			check_a_server "$s" GET /slow /slow 200 UNSET || rc=1
			pt_otlp_expect_true "$s" \
				'((.endTimeUnixNano | tonumber) - (.startTimeUnixNano | tonumber)) as $d |
				 $d >= 1e8 and $d < 5e9' \
				"a duration of at least the handler's 100 ms sleep" || rc=1
			;;
		*) pt_fail "unexpected url.path '$path' in $s"; rc=1 ;;
		esac
		check_times "$s" "$t0" "$t1" || rc=1
		check_caller "$s" || rc=1
	done < <(pt_otlp_spans "$SA")
	[ "$rc" = 0 ]
	# A trace per request (curl's), and a span id of their own.
	pt_expect_eq "distinct trace ids" 12 \
		"$(pt_otlp_jq "[.[] | select($SA) | .traceId] | unique | length")"
	pt_expect_eq "distinct span ids" 12 \
		"$(pt_otlp_jq "[.[] | select($SA) | .spanId] | unique | length")"
	# Metrics are unaffected by tracing.
	pt_wait_sum 12 "${PT_HIST}_count" k8s_pod_name=front-1
	pt_podtap_stop
}

# bats test_tags=second-half
@test "url.path is the path without the query string" {
	local s
	pt_otlp_start
	podtap_otlp
	expect_req 200 "$A/users/7?x=1&y=two"
	pt_otlp_wait_count 1 "$SA"
	s=$(one "$SA")
	pt_otlp_expect_fields "$s" '.attributes["url.path"]=/users/7' \
		'.name=GET /users/{id}' '.attributes["http.route"]=/users/{id}'
	pt_podtap_stop
}

# ---------------------------------------------------------------------------
# CLIENT spans and trace context across pods

@test "a handler in pod A calls pod B with requests: the CLIENT span is the child of A's SERVER span, and B's SERVER span the child of that CLIENT span, with no trace header sent" {
	local body sa ca sb
	pt_otlp_start
	podtap_otlp
	body=$(curl -sS --max-time 15 -A "$UA" "$A/call?url=$B/users/42")
	pt_expect_eq "body of /call" '{"id":42}' "$body"
	pt_otlp_wait_count 1 "$SA"
	pt_otlp_wait_count 1 'client and pod("front-1")'
	pt_otlp_wait_count 1 'server and pod("back-2")'
	pt_expect_eq "spans of the pods (all kinds)" 3 \
		"$(pt_otlp_count 'pod("front-1") or pod("back-2")')"
	sa=$(one "$SA")
	ca=$(one 'client and pod("front-1")')
	sb=$(one 'server and pod("back-2")')
	check_a_server "$sa" GET /call /call 200 UNSET
	check_caller "$sa"

	# The CLIENT span: A's process, child of A's SERVER span, inside it.
	pt_otlp_expect_fields "$ca" \
		.kind=SPAN_KIND_CLIENT \
		'.name=GET /users/{id}' \
		".traceId=$(field "$sa" .traceId)" \
		".parentSpanId=$(field "$sa" .spanId)" \
		'.attributes["http.request.method"]=GET' \
		'.attributes["url.path"]=/users/42' \
		'.attributes["url.scheme"]=http' \
		'.attributes["http.route"]=/users/{id}' \
		'.attributes["http.response.status_code"]=#200' \
		'.attributes["server.address"]=127.0.0.1' \
		".attributes[\"server.port\"]=#$B_PORT" \
		'.attributes["network.peer.address"]=127.0.0.1' \
		'.status.code=STATUS_CODE_UNSET' \
		".resource[\"process.pid\"]=#$(field "$sa" '.resource["process.pid"]')"
	check_ids "$ca"
	check_resource "$ca" front-1 "$A_UID" front front "$A_PID"
	pt_otlp_expect_true "$ca" \
		'.attributes["user_agent.original"] | startswith("python-requests/")' \
		"user_agent.original python-requests/..."
	pt_otlp_expect_true "$ca" \
		'(.startTimeUnixNano | tonumber) >= ($sa.startTimeUnixNano | tonumber) and
		 (.endTimeUnixNano | tonumber) <= ($sa.endTimeUnixNano | tonumber)' \
		"the CLIENT span within its parent SERVER span" --argjson sa "$sa"
	if [ "$(field "$ca" .spanId)" = "$(field "$sa" .spanId)" ]; then
		pt_fail "the CLIENT span reuses the SERVER span's id"
		return 1
	fi

	# B's SERVER span: the call carried no trace context; podtap saw both
	# ends of the connection.
	pt_otlp_expect_fields "$sb" \
		.kind=SPAN_KIND_SERVER \
		'.name=GET /users/{id}' \
		".traceId=$(field "$sa" .traceId)" \
		".parentSpanId=$(field "$ca" .spanId)" \
		'.attributes["url.path"]=/users/42' \
		'.attributes["http.response.status_code"]=#200' \
		".attributes[\"server.port\"]=#$B_PORT" \
		'.attributes["client.address"]=127.0.0.1' \
		'.status.code=STATUS_CODE_UNSET'
	check_ids "$sb"
	check_resource "$sb" back-2 "$B_UID" back backend-svc "$B_PID"
	pt_otlp_expect_true "$sb" \
		'.attributes["user_agent.original"] | startswith("python-requests/")' \
		"user_agent.original python-requests/..."
	pt_podtap_stop
}

# bats test_tags=second-half
@test "?propagate=1 with an incoming traceparent: A and B in that trace; B's parent is the CLIENT span (X-Sent-Span-Id)" {
	local t p hdrs code sent sa ca sb
	pt_otlp_start
	podtap_otlp
	t=$(pt_rand_hex 32)
	p=$(pt_rand_hex 16)
	hdrs="$PT_TMP/call.headers"
	code=$(curl -sS -o /dev/null -D "$hdrs" -w '%{http_code}' --max-time 15 \
		-A "$UA" -H "traceparent: 00-$t-$p-01" \
		"$A/call?propagate=1&url=$B/users/42")
	pt_expect_eq "status of /call" 200 "$code"
	sent=$(tr -d '\r' <"$hdrs" | awk -F': *' 'tolower($1) == "x-sent-span-id" { print $2 }')
	[[ "$sent" =~ ^[0-9a-f]{16}$ ]] || { pt_fail "no X-Sent-Span-Id: $(cat "$hdrs")"; return 1; }

	pt_otlp_wait_count 3 "trace(\"$t\") and (pod(\"front-1\") or pod(\"back-2\"))"
	pt_expect_eq "spans of the pods (all kinds)" 3 \
		"$(pt_otlp_count 'pod("front-1") or pod("back-2")')"
	sa=$(one "$SA")
	ca=$(one 'client and pod("front-1")')
	sb=$(one 'server and pod("back-2")')
	check_a_server "$sa" GET /call /call 200 UNSET
	pt_otlp_expect_fields "$sa" ".traceId=$t" ".parentSpanId=$p"
	# The outgoing traceparent names the CLIENT span; its parent is still
	# the SERVER span the thread was serving.
	pt_otlp_expect_fields "$ca" .kind=SPAN_KIND_CLIENT ".traceId=$t" \
		".spanId=$sent" ".parentSpanId=$(field "$sa" .spanId)" \
		'.attributes["url.path"]=/users/42' \
		".attributes[\"server.port\"]=#$B_PORT"
	pt_otlp_expect_fields "$sb" .kind=SPAN_KIND_SERVER ".traceId=$t" \
		".parentSpanId=$sent" '.attributes["url.path"]=/users/42'
	check_resource "$sb" back-2 "$B_UID" back backend-svc "$B_PID"
	pt_podtap_stop
}

@test "CLIENT span status is ERROR for 4xx and 5xx answers; SERVER spans only for 5xx" {
	local c
	pt_otlp_start
	podtap_otlp
	# /call answers with the downstream status.
	expect_req 404 "$A/call?url=$B/nope"
	expect_req 500 "$A/call?url=$B/error"
	pt_otlp_wait_count 2 'client and pod("front-1")'
	pt_otlp_wait_count 2 'server and pod("back-2")'
	pt_otlp_wait_count 2 "$SA"
	c=$(one 'client and pod("front-1") and a("url.path") == "/nope"')
	pt_otlp_expect_fields "$c" '.name=GET /nope' \
		'.attributes["http.response.status_code"]=#404' \
		.status.code=STATUS_CODE_ERROR
	c=$(one 'client and pod("front-1") and a("url.path") == "/error"')
	pt_otlp_expect_fields "$c" '.name=GET /error' \
		'.attributes["http.response.status_code"]=#500' \
		.status.code=STATUS_CODE_ERROR
	c=$(one 'server and pod("back-2") and a("url.path") == "/nope"')
	pt_otlp_expect_fields "$c" '.attributes["http.response.status_code"]=#404' \
		.status.code=STATUS_CODE_UNSET
	c=$(one 'server and pod("back-2") and a("url.path") == "/error"')
	pt_otlp_expect_fields "$c" '.attributes["http.response.status_code"]=#500' \
		.status.code=STATUS_CODE_ERROR
	c=$(one "$SA and a(\"http.response.status_code\") == 404")
	pt_otlp_expect_fields "$c" .status.code=STATUS_CODE_UNSET
	c=$(one "$SA and a(\"http.response.status_code\") == 500")
	pt_otlp_expect_fields "$c" .status.code=STATUS_CODE_ERROR
	pt_podtap_stop
}

# bats test_tags=second-half
@test "client metrics: http_client_request_duration_seconds for pod A's calls to pod B, with server_address and server_port" {
	local -a l404 l200
	local i sum
	pt_otlp_start
	podtap_otlp
	for i in 1 2 3; do expect_req 200 "$A/call?url=$B/users/$i"; done
	expect_req 404 "$A/call?url=$B/nope"
	mapfile -t l200 < <(a_client_labels 200 '/users/{id}')
	mapfile -t l404 < <(a_client_labels 404 /nope)
	pt_wait_metric 3 http_client_request_duration_seconds_count "${l200[@]}"
	pt_wait_metric 1 http_client_request_duration_seconds_count "${l404[@]}"
	pt_expect_metric 3 http_client_request_duration_seconds_bucket "${l200[@]}" 'le=+Inf'
	sum=$(pt_metric http_client_request_duration_seconds_sum "${l200[@]}")
	pt_num_gt "$sum" 0 || { pt_fail "client _sum is $sum"; return 1; }
	# All of pod A's client traffic is these 4 calls.
	pt_wait_sum 4 http_client_request_duration_seconds_count k8s_pod_name=front-1
	# The server side of the same exchanges, and no client traffic in the
	# server histogram.
	pt_wait_sum 4 "${PT_HIST}_count" k8s_pod_name=back-2
	pt_wait_sum 4 "${PT_HIST}_count" k8s_pod_name=front-1 http_route=/call
	pt_expect_eq "pod A server series for /users/{id}" 0 \
		"$(pt_metric_sum "${PT_HIST}_count" k8s_pod_name=front-1 'http_route=/users/{id}')"
	# curl on the host is a client too.
	pt_wait_sum 4 http_client_request_duration_seconds_count k8s_pod_name= \
		service_name=curl server_address=127.0.0.1 "server_port=$A_PORT"
	pt_podtap_stop
}

@test "concurrent calls on a threaded worker (gthread): each CLIENT span is the child of its own request's SERVER span" {
	local -a t p pids
	local i s c
	pt_otlp_start
	podtap_otlp
	# 8 requests at once on 4 threads of one process, each calling B for
	# ~300 ms: the calls overlap.
	for i in 1 2 3 4 5 6 7 8; do
		t[i]=$(pt_rand_hex 32)
		p[i]=$(pt_rand_hex 16)
		curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -A "$UA" \
			-H "traceparent: 00-${t[i]}-${p[i]}-01" \
			"$C/call?url=$B/sleep/$((300 + i))" >"$PT_TMP/conc.$i" 2>&1 &
		pids[i]=$!
	done
	for i in 1 2 3 4 5 6 7 8; do
		wait "${pids[i]}" || true
		pt_expect_eq "status of call $i" 200 "$(cat "$PT_TMP/conc.$i")"
	done
	pt_otlp_wait_count 8 'server and pod("mid-3")'
	pt_otlp_wait_count 8 'client and pod("mid-3")'
	for i in 1 2 3 4 5 6 7 8; do
		s=$(one "server and pod(\"mid-3\") and trace(\"${t[i]}\")")
		pt_otlp_expect_fields "$s" ".parentSpanId=${p[i]}" '.attributes["url.path"]=/call'
		c=$(one "client and pod(\"mid-3\") and a(\"url.path\") == \"/sleep/$((300 + i))\"")
		pt_otlp_expect_fields "$c" ".traceId=${t[i]}" \
			".parentSpanId=$(field "$s" .spanId)" '.name=GET /sleep/{id}'
		check_resource "$c" mid-3 "$C_UID" mid mid "$C_PID"
	done
	pt_podtap_stop
}

# bats test_tags=second-half
@test "keep-alive (gthread pod): trace context is per request, not per connection" {
	local t1 p1 t3 p3 out s
	pt_otlp_start
	podtap_otlp
	t1=$(pt_rand_hex 32)
	p1=$(pt_rand_hex 16)
	t3=$(pt_rand_hex 32)
	p3=$(pt_rand_hex 16)
	# Three requests on one connection: with a traceparent, without, with
	# another one.
	out=$(curl -sS --max-time 15 \
		-A "$UA" -o /dev/null -w '%{http_code} %{num_connects}\n' \
		-H "traceparent: 00-$t1-$p1-01" "$C/users/1" --next \
		-A "$UA" -o /dev/null -w '%{http_code} %{num_connects}\n' \
		"$C/users/2" --next \
		-A "$UA" -o /dev/null -w '%{http_code} %{num_connects}\n' \
		-H "traceparent: 00-$t3-$p3-01" "$C/users/3")
	pt_expect_eq "statuses and new connections" "200 1 200 0 200 0" "$(echo $out)"
	pt_otlp_wait_count 3 "server and pod(\"mid-3\") and ua(\"$UA\")"
	s=$(one 'server and pod("mid-3") and a("url.path") == "/users/1"')
	pt_otlp_expect_fields "$s" ".traceId=$t1" ".parentSpanId=$p1"
	s=$(one 'server and pod("mid-3") and a("url.path") == "/users/2"')
	check_caller "$s"
	if [ "$(field "$s" .traceId)" = "$t1" ]; then
		pt_fail "the 2nd request on the connection inherited the 1st one's trace"
		return 1
	fi
	s=$(one 'server and pod("mid-3") and a("url.path") == "/users/3"')
	pt_otlp_expect_fields "$s" ".traceId=$t3" ".parentSpanId=$p3"
	pt_podtap_stop
}

# None of this traffic's spans is dropped: the pod's 2000 SERVER spans and
# hey's 2000 CLIENT spans all arrive, each once. podtap_spans_dropped_total
# counts the whole machine's spans (every process's exchanges are traced),
# so a queue_full drop there may be another process's span; rejected and
# export_failed are not (the receiver takes every request).
@test "2000 requests (hey, default settings): exactly 2000 SERVER spans, each once, none dropped" {
	local d
	pt_otlp_start
	podtap_otlp
	hey -n 2000 -c 8 "$A/users/9" >"$PT_TMP/hey.txt"
	pt_hey_ok 2000 "$PT_TMP/hey.txt" 200
	PT_OTLP_WAIT_S=30 pt_otlp_wait_count 2000 'server and pod("front-1")'
	PT_OTLP_WAIT_S=30 pt_otlp_wait_count 2000 "client and host and a(\"server.port\") == $A_PORT"
	pt_expect_eq "distinct span ids" 2000 \
		"$(pt_otlp_jq '[.[] | select(server and pod("front-1")) | .spanId] | unique | length')"
	pt_expect_eq "distinct span ids of hey's CLIENT spans" 2000 \
		"$(pt_otlp_jq "[.[] | select(client and host and a(\"server.port\") == $A_PORT) | .spanId] | unique | length")"
	pt_expect_eq "span names" "GET /users/{id}" \
		"$(pt_otlp_jq '[.[] | select(server and pod("front-1")) | .name] | unique | join(",")' -r)"
	for d in rejected export_failed; do
		pt_expect_metric 0 podtap_spans_dropped_total "reason=$d"
	done
	d=$(pt_metric podtap_spans_dropped_total reason=queue_full)
	[ "$d" = 0 ] || pt_log "queue_full drops (node-wide, none of this test's spans): $d"
	pt_podtap_stop
}

# bats test_tags=second-half
@test "Python workloads carry process.runtime.name and process.runtime.version" {
	local s v
	pt_otlp_start
	podtap_otlp
	expect_req 200 "$A/"
	pt_otlp_wait_count 1 "$SA"
	s=$(one "$SA")
	v=$("$PT_PY" -c 'import platform; print(platform.python_version())')
	pt_otlp_expect_true "$s" '.resource["process.runtime.name"] // "" | ascii_downcase | test("python")' \
		"process.runtime.name naming (C)Python"
	pt_otlp_expect_fields "$s" ".resource[\"process.runtime.version\"]=$v"
	pt_podtap_stop
}

# ---------------------------------------------------------------------------
# Incoming trace context

@test "an incoming traceparent is honoured: trace id and parent span id" {
	local -a t p
	local i s
	pt_otlp_start
	podtap_otlp
	for i in 1 2 3; do
		t[i]=$(pt_rand_hex 32)
		p[i]=$(pt_rand_hex 16)
		expect_req 200 "$A/users/$i" -H "traceparent: 00-${t[i]}-${p[i]}-01"
	done
	pt_otlp_wait_count 3 "$SA"
	for i in 1 2 3; do
		s=$(one "$SA and trace(\"${t[i]}\")")
		pt_otlp_expect_fields "$s" ".parentSpanId=${p[i]}" \
			".attributes[\"url.path\"]=/users/$i"
		if [ "$(field "$s" .spanId)" = "${p[i]}" ]; then
			pt_fail "the SERVER span took its parent's span id"
			return 1
		fi
	done
	pt_podtap_stop
}

# bats test_tags=second-half
@test "curl on the host sending a traceparent: its CLIENT span has that trace id and span id, and is the parent of the pod's SERVER span" {
	local t p c s
	pt_otlp_start
	podtap_otlp
	t=$(pt_rand_hex 32)
	p=$(pt_rand_hex 16)
	expect_req 200 "$A/users/5" -H "traceparent: 00-$t-$p-01"
	pt_otlp_wait_count 1 "client and host and trace(\"$t\")"
	c=$(one "client and host and trace(\"$t\")")
	pt_otlp_expect_fields "$c" .kind=SPAN_KIND_CLIENT ".spanId=$p" \
		'.parentSpanId=' '.name=GET /users/{id}' \
		'.resource["service.name"]=curl' \
		'.attributes["url.path"]=/users/5' \
		'.attributes["server.address"]=127.0.0.1' \
		".attributes[\"server.port\"]=#$A_PORT" \
		'.attributes["http.response.status_code"]=#200' \
		".attributes[\"user_agent.original\"]=$UA" \
		'.resource["telemetry.sdk.name"]=podtap' \
		".resource[\"k8s.node.name\"]=$NODE"
	s=$(one "$SA")
	pt_otlp_expect_fields "$s" ".traceId=$t" ".parentSpanId=$p"
	pt_podtap_stop
}

@test "b3 single header honoured: trace id and parent span id" {
	local t1 s1 t2 s2 x
	pt_otlp_start
	podtap_otlp
	t1=$(pt_rand_hex 32)
	s1=$(pt_rand_hex 16)
	t2=$(pt_rand_hex 32)
	s2=$(pt_rand_hex 16)
	expect_req 200 "$A/users/1" -H "b3: $t1-$s1-1"
	# With the parent's parent as the 4th field.
	expect_req 200 "$A/users/2" -H "b3: $t2-$s2-1-$(pt_rand_hex 16)"
	pt_otlp_wait_count 2 "$SA"
	x=$(one "$SA and trace(\"$t1\")")
	pt_otlp_expect_fields "$x" ".parentSpanId=$s1" '.attributes["url.path"]=/users/1'
	x=$(one "$SA and trace(\"$t2\")")
	pt_otlp_expect_fields "$x" ".parentSpanId=$s2" '.attributes["url.path"]=/users/2'
	pt_podtap_stop
}

# bats test_tags=second-half
@test "X-B3-* headers honoured; a 64-bit b3 trace id is left-padded to 128 bits" {
	local t1 s1 t2 s2 x
	pt_otlp_start
	podtap_otlp
	t1=$(pt_rand_hex 32)
	s1=$(pt_rand_hex 16)
	t2=$(pt_rand_hex 16)
	s2=$(pt_rand_hex 16)
	expect_req 200 "$A/users/1" -H "X-B3-TraceId: $t1" -H "X-B3-SpanId: $s1" \
		-H "X-B3-Sampled: 1"
	expect_req 200 "$A/users/2" -H "b3: $t2-$s2-1"
	pt_otlp_wait_count 2 "$SA"
	x=$(one "$SA and trace(\"$t1\")")
	pt_otlp_expect_fields "$x" ".parentSpanId=$s1"
	x=$(one "$SA and trace(\"0000000000000000$t2\")")
	pt_otlp_expect_fields "$x" ".parentSpanId=$s2"
	pt_podtap_stop
}

@test "an invalid traceparent (zero trace id, version ff, zero parent id) is ignored: the SERVER span is in curl's new trace" {
	local t s x
	pt_otlp_start
	podtap_otlp
	t=$(pt_rand_hex 32)
	s=$(pt_rand_hex 16)
	expect_req 200 "$A/users/1" -H "traceparent: 00-00000000000000000000000000000000-$s-01"
	expect_req 200 "$A/users/2" -H "traceparent: ff-$t-$s-01"
	expect_req 200 "$A/users/3" -H "traceparent: 00-$t-0000000000000000-01"
	pt_otlp_wait_count 3 "$SA"
	while IFS= read -r x; do
		check_ids "$x"
		check_caller "$x"
		if [ "$(field "$x" .traceId)" = "$t" ]; then
			pt_fail "an invalid traceparent's trace id was used: $x"
			return 1
		fi
	done < <(pt_otlp_spans "$SA")
	pt_podtap_stop
}

# ---------------------------------------------------------------------------
# Sampling

# bats test_tags=second-half
@test "traceidratio 0.25 over 4000 requests: 1000 +- 110 SERVER spans exported, /metrics counts exactly 4000" {
	local n u hostn
	local -a l
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.25
	hey -n 4000 -c 8 "$A/users/5" >"$PT_TMP/hey.txt"
	pt_hey_ok 4000 "$PT_TMP/hey.txt" 200
	mapfile -t l < <(pt_pod_labels "$NS" front-1 front)
	PT_WAIT_S=30 pt_wait_metric 4000 "${PT_HIST}_count" "${l[@]}" \
		http_request_method=GET http_response_status_code=200 \
		'http_route=/users/{id}' url_scheme=http
	n=$(pt_otlp_settle 2 30 'server and pod("front-1")')
	hostn=$(pt_otlp_count "client and host and a(\"server.port\") == $A_PORT")
	pt_log "exported: $n of 4000 SERVER spans of pod A; $hostn of hey's 4000 CLIENT spans"
	# Binomial(4000, 0.25): mean 1000, sigma 27.4; 4 sigma = 110.
	if [ "$n" -lt 890 ] || [ "$n" -gt 1110 ]; then
		pt_fail "sampled SERVER spans: $n, not within 1000 +- 110"
		return 1
	fi
	u=$(pt_otlp_jq '[.[] | select(server and pod("front-1")) | .spanId] | unique | length')
	pt_expect_eq "distinct span ids among the sampled" "$n" "$u"
	u=$(pt_otlp_jq '[.[] | select(server and pod("front-1")) | .traceId] | unique | length')
	pt_expect_eq "distinct trace ids among the sampled (each request a root)" "$n" "$u"
	# Metrics are never sampled: still exactly 4000.
	pt_expect_metric 4000 "${PT_HIST}_count" "${l[@]}" \
		http_request_method=GET http_response_status_code=200 \
		'http_route=/users/{id}' url_scheme=http
	pt_podtap_stop
}

@test "traceidratio decides by trace id alone: the same trace id always gets the same decision, whatever the parent's flag" {
	local -a t
	local i n pairs bad
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.5
	for i in $(seq 1 40); do
		t[i]=$(pt_rand_hex 32)
		expect_req 200 "$A/users/$i" -H "traceparent: 00-${t[i]}-$(pt_rand_hex 16)-00"
		expect_req 200 "$A/users/$i" -H "traceparent: 00-${t[i]}-$(pt_rand_hex 16)-01"
	done
	n=$(pt_otlp_settle 2 15 "$SA")
	pairs=$(pt_otlp_jq "[.[] | select($SA) | .traceId] | group_by(.) | map(length)" )
	bad=$(jq '[.[] | select(. != 2)] | length' <<<"$pairs")
	pt_log "sampled: $n spans; per trace id: $pairs"
	pt_expect_eq "trace ids with one of their two requests sampled" 0 "$bad"
	# Binomial(40, 0.5) trace ids: 20 +- 4 sigma (12.6).
	if [ "$n" -lt 16 ] || [ "$n" -gt 64 ]; then
		pt_fail "$((n / 2)) of 40 trace ids sampled, not within 20 +- 12"
		return 1
	fi
	pt_podtap_stop
}

# send_flagged FLAG COUNT FIRST_ID: COUNT requests to A's /users/<id> with a
# traceparent of sampled flag FLAG; their trace ids in the array FLAGGED.
send_flagged() {
	local i t
	FLAGGED=()
	for i in $(seq "$3" $(($3 + $2 - 1))); do
		t=$(pt_rand_hex 32)
		expect_req 200 "$A/users/$i" -H "traceparent: 00-$t-$(pt_rand_hex 16)-$1" ||
			return 1
		FLAGGED+=("$t")
	done
}

# json_list WORD...: a JSON array of strings.
json_list() {
	printf '%s\n' "$@" | jq -R . | jq -cs .
}

# bats test_tags=second-half
@test "parentbased_always_on follows the incoming sampled flag (traceparent and b3); an unsampled trace stays unsampled down the call chain" {
	local -a neg pos
	local t s b1 b2 tc negs
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=parentbased_always_on
	# Not sampled first, so that once the sampled ones are all in, the
	# others have had their chance to show up too.
	send_flagged 00 4 1
	neg=("${FLAGGED[@]}")
	b1=$(pt_rand_hex 32)
	b2=$(pt_rand_hex 32)
	expect_req 200 "$A/users/20" -H "b3: $b1-$(pt_rand_hex 16)-0"
	expect_req 200 "$A/users/21" -H "X-B3-TraceId: $b2" \
		-H "X-B3-SpanId: $(pt_rand_hex 16)" -H "X-B3-Sampled: 0"
	tc=$(pt_rand_hex 32)
	expect_req 200 "$A/call?propagate=1&url=$B/users/22" \
		-H "traceparent: 00-$tc-$(pt_rand_hex 16)-00"
	send_flagged 01 4 30
	pos=("${FLAGGED[@]}")
	expect_req 200 "$A/"
	expect_req 200 "$A/"
	expect_req 200 "$A/"
	# 4 sampled parents + 3 of curl's (always_on).
	pt_otlp_wait_count 7 "$SA"
	for t in "${pos[@]}"; do
		s=$(one "$SA and trace(\"$t\")")
	done
	# The 3 without context: children of curl's own (sampled) spans.
	while IFS= read -r s; do
		check_caller "$s" || return 1
	done < <(pt_otlp_spans "$SA and a(\"url.path\") == \"/\"")
	pt_expect_eq "SERVER spans for /" 3 \
		"$(pt_otlp_count "$SA and a(\"url.path\") == \"/\"")"
	negs=$(json_list "${neg[@]}" "$b1" "$b2" "$tc")
	pt_expect_eq "pod spans in unsampled traces" 0 \
		"$(pt_otlp_count '(pod("front-1") or pod("back-2")) and (.traceId as $t | any($negs[]; . == $t))' --argjson negs "$negs")"
	pt_expect_eq "CLIENT spans of pod A (its one call was unsampled)" 0 \
		"$(pt_otlp_count 'client and pod("front-1")')"
	pt_expect_eq "spans of pod B (its one request was unsampled)" 0 \
		"$(pt_otlp_count 'pod("back-2")')"
	pt_podtap_stop
}

@test "parentbased_traceidratio at ratio 0: spans only under a sampled parent, across the call chain" {
	local -a neg pos
	local t hdrs sent code n
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0
	send_flagged 00 3 1
	neg=("${FLAGGED[@]}")
	for n in 1 2 3 4 5; do expect_req 200 "$A/"; done
	expect_req 200 "$A/call?url=$B/users/9"
	send_flagged 01 3 10
	pos=("${FLAGGED[@]}")
	t=$(pt_rand_hex 32)
	hdrs="$PT_TMP/call.headers"
	code=$(curl -sS -o /dev/null -D "$hdrs" -w '%{http_code}' --max-time 15 \
		-A "$UA" -H "traceparent: 00-$t-$(pt_rand_hex 16)-01" \
		"$A/call?propagate=1&url=$B/users/42")
	pt_expect_eq "status of /call" 200 "$code"
	sent=$(tr -d '\r' <"$hdrs" | awk -F': *' 'tolower($1) == "x-sent-span-id" { print $2 }')
	# 3 sampled parents + the sampled /call: A SERVER, A CLIENT, B SERVER.
	pt_otlp_wait_count 6 'pod("front-1") or pod("back-2")'
	pt_otlp_wait_count 4 "$SA"
	for n in "${pos[@]}" "$t"; do
		one "$SA and trace(\"$n\")" >/dev/null
	done
	one "client and pod(\"front-1\") and trace(\"$t\") and .spanId == \"$sent\"" >/dev/null
	one "server and pod(\"back-2\") and trace(\"$t\") and .parentSpanId == \"$sent\"" >/dev/null
	pt_podtap_stop
}

# bats test_tags=second-half
@test "always_on samples even under an unsampled parent, keeping its trace id and parent" {
	local t p s
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=always_on
	t=$(pt_rand_hex 32)
	p=$(pt_rand_hex 16)
	expect_req 200 "$A/users/1" -H "traceparent: 00-$t-$p-00"
	expect_req 200 "$A/"
	pt_otlp_wait_count 2 "$SA"
	s=$(one "$SA and trace(\"$t\")")
	pt_otlp_expect_fields "$s" ".parentSpanId=$p"
	pt_podtap_stop
}

@test "always_off: no span at all, /metrics counts stay exact" {
	local i
	local -a l
	pt_otlp_start
	podtap_otlp OTEL_TRACES_SAMPLER=always_off
	for i in 1 2 3 4 5 6 7 8 9 10; do expect_req 200 "$A/"; done
	for i in 1 2 3; do
		expect_req 200 "$A/users/$i" -H "traceparent: 00-$(pt_rand_hex 32)-$(pt_rand_hex 16)-01"
	done
	expect_req 500 "$A/error"
	expect_req 500 "$A/error"
	expect_req 200 "$A/call?propagate=1&url=$B/users/4" \
		-H "traceparent: 00-$(pt_rand_hex 32)-$(pt_rand_hex 16)-01"
	expect_req 200 "$A/call?url=$B/users/5"
	mapfile -t l < <(pt_pod_labels "$NS" front-1 front)
	pt_wait_metric 10 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/ url_scheme=http
	pt_wait_metric 3 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 'http_route=/users/{id}' url_scheme=http
	pt_wait_metric 2 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=500 http_route=/error url_scheme=http
	pt_wait_metric 2 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/call url_scheme=http
	pt_wait_sum 2 "${PT_HIST}_count" k8s_pod_name=back-2
	mapfile -t l < <(a_client_labels 200 '/users/{id}')
	pt_wait_metric 2 http_client_request_duration_seconds_count "${l[@]}"
	sleep 1.5
	pt_log "receiver requests: $(wc -l <"$OTLP_REQS")"
	if [ "$(pt_otlp_count true)" != 0 ]; then
		pt_fail "always_off exported spans"
		pt_otlp_dump
		return 1
	fi
	pt_podtap_stop
}

# ---------------------------------------------------------------------------
# Export: resource, headers, compression, endpoints

# bats test_tags=second-half
@test "OTEL_RESOURCE_ATTRIBUTES is merged into every resource; OTEL_EXPORTER_OTLP_HEADERS are sent" {
	local bad n
	pt_otlp_start
	podtap_otlp OTEL_RESOURCE_ATTRIBUTES=deployment.environment=e2e,k8s.cluster.name=lab-1 \
		OTEL_EXPORTER_OTLP_HEADERS=x-podtap-e2e=token-123,x-tenant=shop
	expect_req 200 "$A/"
	expect_req 200 "$A/users/3"
	expect_req 200 "$A/call?url=$B/users/4"
	pt_otlp_wait_count 3 "$SA"
	pt_otlp_wait_count 1 'server and pod("back-2")'
	pt_otlp_wait_count 1 'client and pod("front-1")'
	bad=$(pt_otlp_count '(pod("front-1") or pod("back-2")) and
		(r("deployment.environment") != "e2e" or r("k8s.cluster.name") != "lab-1"
		 or r("telemetry.sdk.name") != "podtap" or r("k8s.namespace.name") != "trace-shop")')
	if [ "$bad" != 0 ]; then
		pt_fail "$bad pod spans without the merged resource attributes"
		pt_otlp_dump 'pod("front-1") or pod("back-2")'
		pt_otlp_spans 'pod("front-1") or pod("back-2")' | jq -c .resource | sort -u >&2
		return 1
	fi
	one 'server and pod("back-2") and r("service.name") == "backend-svc"' >/dev/null
	n=$(pt_otlp_requests '.path == "/v1/traces"' | wc -l)
	[ "$n" -ge 1 ]
	bad=$(pt_otlp_requests '.headers["x-podtap-e2e"] != "token-123" or .headers["x-tenant"] != "shop"' | wc -l)
	if [ "$bad" != 0 ]; then
		pt_fail "$bad of $n export requests without the configured headers"
		head -n 3 "$OTLP_REQS" >&2
		return 1
	fi
	pt_podtap_stop
}

@test "OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS values are percent-decoded" {
	local s
	pt_otlp_start
	podtap_otlp 'OTEL_RESOURCE_ATTRIBUTES=team=obs%20core,note=a%2Cb' \
		'OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20abc%3D'
	expect_req 200 "$A/"
	pt_otlp_wait_count 1 "$SA"
	s=$(one "$SA")
	pt_otlp_expect_fields "$s" '.resource["team"]=obs core' '.resource["note"]=a,b'
	pt_expect_eq "authorization header received" "Bearer abc=" \
		"$(pt_otlp_requests '.path == "/v1/traces"' | head -n 1 | jq -r '.headers.authorization')"
	pt_podtap_stop
}

# bats test_tags=second-half
@test "OTEL_EXPORTER_OTLP_COMPRESSION=gzip: every export is gzip and decodes; without it, none is compressed" {
	local n bad
	pt_otlp_start
	podtap_otlp OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	expect_req 200 "$A/"
	expect_req 200 "$A/users/1"
	pt_otlp_wait_count 2 "$SA"
	n=$(pt_otlp_requests | wc -l)
	[ "$n" -ge 1 ]
	bad=$(pt_otlp_requests '.method != "POST" or .path != "/v1/traces" or .status != 200
		or .headers["content-encoding"] != "gzip"
		or (.headers["content-type"] | split(";")[0]) != "application/x-protobuf"' | wc -l)
	if [ "$bad" != 0 ]; then
		pt_fail "$bad of $n export requests not gzip-encoded protobuf answered 200"
		head -n 5 "$OTLP_REQS" >&2
		return 1
	fi
	pt_podtap_stop
	pt_otlp_stop

	pt_otlp_start
	podtap_otlp
	expect_req 200 "$A/"
	pt_otlp_wait_count 1 "$SA"
	n=$(pt_otlp_requests | wc -l)
	bad=$(pt_otlp_requests '.status != 200 or ((.headers["content-encoding"] // "identity") != "identity")' | wc -l)
	if [ "$bad" != 0 ]; then
		pt_fail "$bad of $n export requests compressed or refused without OTEL_EXPORTER_OTLP_COMPRESSION"
		head -n 5 "$OTLP_REQS" >&2
		return 1
	fi
	pt_podtap_stop
}

@test "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as-is and wins over OTEL_EXPORTER_OTLP_ENDPOINT" {
	local dead bad
	pt_otlp_start
	dead=$(pt_free_port)
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$dead" \
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=$OTLP_URL/v1/traces" "NODE_NAME=$NODE"
	expect_req 200 "$A/"
	expect_req 200 "$A/users/2"
	pt_otlp_wait_count 2 "$SA"
	bad=$(pt_otlp_requests '.path != "/v1/traces" or .method != "POST"' | wc -l)
	if [ "$bad" != 0 ]; then
		pt_fail "export requests to other paths than /v1/traces:"
		cat "$OTLP_REQS" >&2
		return 1
	fi
	pt_podtap_stop
}

# bats test_tags=second-half
@test "podtap's own export traffic makes no spans (no feedback loop through the receiver)" {
	pt_otlp_start
	podtap_otlp
	expect_req 200 "$A/"
	expect_req 200 "$A/users/8"
	pt_otlp_wait_count 2 "$SA"
	# Several batch timeouts: an exported export would have shown up.
	sleep 2
	# Either end of an export request: the receiver's SERVER span or
	# podtap's CLIENT span (other processes on the machine may export to
	# other ports; they are not this test's business).
	if [ "$(pt_otlp_count "a(\"server.port\") == $OTLP_PORT")" != 0 ]; then
		pt_fail "spans of the export traffic itself (to the receiver, port $OTLP_PORT)"
		pt_otlp_dump "a(\"server.port\") == $OTLP_PORT"
		return 1
	fi
	pt_log "receiver requests in ~3 s: $(wc -l <"$OTLP_REQS")"
	pt_podtap_stop
}

@test "SIGTERM flushes the spans still queued before podtap exits" {
	local i
	local -a l
	pt_otlp_start
	# A long batch delay (the OTel batch processor's variable), if podtap
	# honours it, keeps the spans queued until shutdown.
	podtap_otlp OTEL_BSP_SCHEDULE_DELAY=30000
	for i in 1 2 3 4 5; do expect_req 200 "$A/users/$i"; done
	mapfile -t l < <(pt_pod_labels "$NS" front-1 front)
	pt_wait_metric 5 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 'http_route=/users/{id}' url_scheme=http
	pt_log "spans before SIGTERM: $(pt_otlp_count "$SA")"
	pt_podtap_stop 10
	pt_expect_eq "spans received once podtap has exited" 5 "$(pt_otlp_count "$SA")"
}

# ---------------------------------------------------------------------------
# Faults

# bats test_tags=second-half
@test "receiver down at start, then up: the spans arrive after backoff, each span id once" {
	local port i n u
	port=$(pt_free_port)
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port" \
		"NODE_NAME=$NODE"
	for i in 1 2 3 4 5 6 7 8; do expect_req 200 "$A/users/$i"; done
	expect_req 404 "$A/nope"
	expect_req 500 "$A/error"
	pt_wait_sum 10 "${PT_HIST}_count" k8s_pod_name=front-1
	# Let podtap fail and back off a few times.
	sleep 3
	pt_podtap_alive
	pt_otlp_start --port "$port"
	PT_OTLP_WAIT_S=60 pt_otlp_wait_ge 10 "$SA"
	n=$(pt_otlp_settle 2 15 "$SA")
	u=$(pt_otlp_jq "[.[] | select($SA) | .spanId] | unique | length")
	pt_log "spans received: $n, distinct: $u, receiver requests: $(wc -l <"$OTLP_REQS")"
	pt_expect_eq "distinct span ids" 10 "$u"
	[ "$n" -ge 10 ]
	pt_podtap_alive
	pt_podtap_stop
}

@test "receiver answering 503 with Retry-After twice, then 200: all spans arrive, once" {
	local i t1 t3 wpid
	pt_otlp_start --fail-first 2 --fail-status 503 --retry-after 1
	# Notes when the receiver's request count changes ("COUNT EPOCH_NS",
	# polled every 20 ms), from before podtap starts.
	wpid=$(pt_spawn "$PT_TMP/reqtimes" -- bash -c '
		last=0
		while :; do
			n=$(wc -l <"$1")
			if [ "$n" != "$last" ]; then echo "$n $(date +%s%N)"; last=$n; fi
			sleep 0.02
		done' watch "$OTLP_REQS")
	podtap_otlp
	for i in 1 2 3 4 5 6 7 8 9 10; do expect_req 200 "$A/users/$i"; done
	PT_OTLP_WAIT_S=30 pt_otlp_wait_count 10 "$SA"
	pt_expect_eq "distinct span ids" 10 \
		"$(pt_otlp_jq "[.[] | select($SA) | .spanId] | unique | length")"
	pt_expect_eq "statuses of the first 3 export requests" "503 503 200" \
		"$(head -n 3 "$OTLP_REQS" | jq -r .status | tr '\n' ' ' | sed 's/ $//')"
	pt_stop_pid "$wpid"
	t1=$(awk '$1 >= 1 { print $2; exit }' "$PT_TMP/reqtimes")
	t3=$(awk '$1 >= 3 { print $2; exit }' "$PT_TMP/reqtimes")
	pt_log "1st to 3rd export request: $(( (t3 - t1) / 1000000 )) ms"
	# Retry-After: 1 honoured: at least one full second without a retry.
	if [ $(( t3 - t1 )) -lt 900000000 ]; then
		pt_fail "3 export requests within $(( (t3 - t1) / 1000000 )) ms despite Retry-After: 1"
		return 1
	fi
	pt_podtap_stop
}

# bats test_tags=second-half
@test "receiver hanging: /metrics answers within 1 s throughout, counts exact, SIGTERM exits 0 within the 5 s flush deadline" {
	local hpid slow=0 polls=0 out code tt t0 ms deadline
	local -a l
	pt_otlp_start --hang
	podtap_otlp
	# ~10 s of traffic (4 x 40 requests/s): longer than an export timeout.
	hpid=$(pt_spawn "$PT_TMP/logs/hey.log" -- hey -n 1500 -c 4 -q 40 "$A/")
	deadline=$(( $(date +%s%N) + 90 * 1000000000 ))
	# While hey runs and 3 s after.
	t0=""
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		if ! pt_alive "$hpid"; then
			[ -z "$t0" ] && t0=$(date +%s%N)
			[ $(( $(date +%s%N) - t0 )) -ge 3000000000 ] && break
		fi
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 \
			"$PODTAP_URL/metrics" 2>/dev/null) || true
		code=${out%% *}
		tt=${out#* }
		polls=$((polls + 1))
		if [ "$code" != 200 ]; then
			slow=$((slow + 1))
			pt_log "GET /metrics: '$out'"
		fi
		sleep 0.2
	done
	pt_log "/metrics polled $polls times, $slow not answered within 1 s"
	pt_alive "$hpid" && { pt_fail "hey still running after 90 s"; return 1; }
	pt_hey_ok 1500 "$PT_TMP/logs/hey.log" 200
	[ "$slow" = 0 ]
	mapfile -t l < <(pt_pod_labels "$NS" front-1 front)
	pt_wait_metric 1500 "${PT_HIST}_count" "${l[@]}" http_request_method=GET \
		http_response_status_code=200 http_route=/ url_scheme=http
	[ "$(wc -l <"$OTLP_REQS")" -ge 1 ] || { pt_fail "podtap never tried to export"; return 1; }
	# The flush on shutdown gives up at its deadline (5 s by default),
	# counted from SIGTERM; the rest of podtap's stop (2 to 4 s here: the
	# kernel synchronises once per detached tracepoint and uprobe) runs
	# meanwhile. 5 s and a margin of 0.6 s for the event loop to see the
	# signal, the exit and this loop's 50 ms polls.
	t0=$(date +%s%N)
	pt_podtap_stop 8
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	pt_log "exit after SIGTERM with a hanging receiver: $ms ms"
	if [ "$ms" -gt 5600 ]; then
		pt_fail "podtap took $ms ms to exit after SIGTERM (the deadline is 5 s)"
		return 1
	fi
}

@test "a collector name that never resolves (DNS not answering): SIGTERM exits 0 within the 5 s deadline all the same" {
	local ns bh wrapper t0 ms i
	# podtap in a private mount namespace whose resolv.conf names a DNS
	# server on loopback that reads queries and never answers (no query
	# leaves this machine). libcurl aborts a transfer at the deadline, but
	# cannot stop a name lookup: the export thread is left behind.
	ns=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))
	printf 'nameserver %s\noptions timeout:30 attempts:1\n' "$ns" >"$PT_TMP/resolv.conf"
	bh=$(pt_spawn "$PT_TMP/logs/dns.log" -- "$PT_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("listening", flush=True)
while True:
    s.recvfrom(4096)
    print("query", flush=True)' "$ns")
	wrapper="$PT_TMP/podtap-private-dns"
	printf '%s\n' '#!/bin/bash' \
		"exec unshare -m --propagation private bash -c 'mount --bind \"\$0\" /etc/resolv.conf && exec \"\$@\"' \"$PT_TMP/resolv.conf\" \"$PODTAP_BIN\" \"\$@\"" \
		>"$wrapper"
	chmod +x "$wrapper"
	for i in $(seq 1 50); do grep -q listening "$PT_TMP/logs/dns.log" && break; sleep 0.1; done
	PODTAP_BIN=$wrapper pt_otlp_podtap_start \
		OTEL_EXPORTER_OTLP_ENDPOINT=http://collector.invalid:4318 "NODE_NAME=$NODE"
	expect_req 200 "$A/"
	for i in $(seq 1 100); do grep -q query "$PT_TMP/logs/dns.log" && break; sleep 0.1; done
	grep -q query "$PT_TMP/logs/dns.log" || { pt_fail "podtap never looked the collector up"; return 1; }
	t0=$(date +%s%N)
	pt_podtap_stop 8
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	pt_log "exit after SIGTERM with a name lookup hanging: $ms ms"
	grep 'left behind' "$PODTAP_LOG" >&2
	if [ "$ms" -gt 5600 ]; then
		pt_fail "podtap took $ms ms to exit after SIGTERM (the deadline is 5 s)"
		return 1
	fi
	pt_stop_pid "$bh"
}

@test "queue overflow (--otlp-queue-size 64, hanging receiver, 2000 requests): drops counted, RSS flat, /metrics exact" {
	local r1 r2 d
	local -a l
	pt_otlp_start --hang
	podtap_otlp -- --otlp-queue-size 64
	mapfile -t l < <(pt_pod_labels "$NS" front-1 front)
	hey -n 1000 -c 4 "$A/" >"$PT_TMP/hey1.txt"
	pt_hey_ok 1000 "$PT_TMP/hey1.txt" 200
	PT_WAIT_S=20 pt_wait_metric 1000 "${PT_HIST}_count" "${l[@]}" \
		http_request_method=GET http_response_status_code=200 http_route=/ \
		url_scheme=http
	sleep 1
	r1=$(pt_vmrss_kib "$PODTAP_PID")
	hey -n 1000 -c 4 "$A/" >"$PT_TMP/hey2.txt"
	pt_hey_ok 1000 "$PT_TMP/hey2.txt" 200
	PT_WAIT_S=20 pt_wait_metric 2000 "${PT_HIST}_count" "${l[@]}" \
		http_request_method=GET http_response_status_code=200 http_route=/ \
		url_scheme=http
	sleep 1
	r2=$(pt_vmrss_kib "$PODTAP_PID")
	d=$(pt_metric podtap_spans_dropped_total reason=queue_full)
	pt_log "VmRSS after 1000: $r1 KiB, after 2000: $r2 KiB; dropped (queue_full): $d"
	pt_num_gt "$d" 0 || { pt_fail "podtap_spans_dropped_total{reason=\"queue_full\"} is $d"; return 1; }
	if [ $((r2 - r1)) -gt 2048 ]; then
		pt_fail "VmRSS grew by $((r2 - r1)) KiB between 1000 and 2000 requests"
		return 1
	fi
	pt_podtap_alive
	pt_podtap_stop 10
}

# ---------------------------------------------------------------------------
# Bounded state, exchanges podtap never saw end

# own_metric NAME [LABELS]: the value of podtap's own sample NAME{LABELS}
# (LABELS as rendered, e.g. 'reason="full"'), read without parsing the
# whole page: other tests on this node may put any bytes into the host
# series meanwhile. Sums the samples of NAME when LABELS is "*".
own_metric() {
	local f
	f=$(pt_scrape) || return 1
	awk -v name="$1" -v labels="${2:-}" '
		labels == "*" && index($1, name "{") == 1 { sum += $2; found = 1 }
		labels != "*" && $1 == (labels == "" ? name : name "{" labels "}") {
			sum = $2; found = 1 }
		END { print found ? sum : 0 }' "$f"
}

# own_metrics_dump: podtap's own non-zero samples, on stderr (on failure).
own_metrics_dump() {
	local f
	f=$(pt_scrape) || return 0
	grep -a "^podtap_" "$f" | grep -av " 0$" >&2 || true
}

# trace_threads_removed: podtap_trace_threads_removed_total, all reasons.
trace_threads_removed() {
	own_metric podtap_trace_threads_removed_total '*'
}

# trace_threads_gone: entries removed because their thread is gone. When a
# process exits, the periodic check can find some of its threads gone
# before the exit event is read: either reason is right.
trace_threads_gone() {
	echo $(($(own_metric podtap_trace_threads_removed_total 'reason="process_exit"') +
		$(own_metric podtap_trace_threads_removed_total 'reason="thread_exit"')))
}

@test "20,000 requests left unanswered, each on a thread of its own: the per-thread table stays bounded and empties, and a handler's call out is still parented" {
	local port spid fpid out peak=0 n r0 r1 s ca sids i
	pt_otlp_start
	podtap_otlp
	pt_pod_create "$NS" drop-4 drop
	port=$(pt_free_port)
	spid=$(pt_spawn "$PT_TMP/logs/unanswered.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" "$PT_FIXTURES/unanswered.py" serve "$port")
	pt_wait_port "$port" 10 "$spid"
	r0=$(trace_threads_removed)
	# Each request's handler thread reads it, drops the connection without
	# an answer and ends: 20,000 server spans that never complete, on
	# 20,000 threads (more than the table's 16,384 entries).
	fpid=$(pt_spawn "$PT_TMP/logs/flood.log" -- "$PT_PY" \
		"$PT_FIXTURES/unanswered.py" flood 127.0.0.1 "$port" /drop 20000 8)
	while pt_alive "$fpid"; do
		n=$(own_metric podtap_trace_threads) || n=0
		pt_num_gt "$n" "$peak" && peak=$n
		sleep 0.5
	done
	out=$(cat "$PT_TMP/logs/flood.log")
	pt_log "flood: $out; podtap_trace_threads peaked at $peak"
	pt_expect_eq "flood result" "sent 20000, unanswered 20000" "$out"
	# Each entry goes when its connection closes unanswered (the parser
	# lets go of the request): the table never fills.
	if pt_num_gt "$peak" 2000; then
		pt_fail "podtap_trace_threads reached $peak: unanswered requests' entries stayed"
		return 1
	fi
	# A handler that calls out, on a thread of its own: each CLIENT span is
	# the child of its SERVER span.
	for i in 1 2 3; do
		out=$(curl -sS --max-time 15 -A "$UA" \
			"http://127.0.0.1:$port/call?url=$B/users/42") || true
		pt_expect_eq "body of /call" 200 "$out"
	done
	pt_otlp_wait_count 3 'server and pod("drop-4") and ua($ua)' --arg ua "$UA" || { own_metrics_dump; return 1; }
	pt_otlp_wait_count 3 'client and pod("drop-4")' || { own_metrics_dump; return 1; }
	sids=$(pt_otlp_jq '[.[] | select(server and pod("drop-4") and ua($ua)) |
		"\(.traceId)/\(.spanId)"]' --arg ua "$UA")
	while IFS= read -r ca; do
		pt_otlp_expect_true "$ca" '"\(.traceId)/\(.parentSpanId)" as $p |
			$sids | index($p) != null' \
			"the CLIENT span is the child of a /call SERVER span" \
			--argjson sids "$sids"
	done < <(pt_otlp_spans 'client and pod("drop-4")')
	# Back to normal while the server still runs, none forgotten for want
	# of room. Other tests' traffic on this node holds a few.
	for i in $(seq 1 40); do
		n=$(own_metric podtap_trace_threads)
		[ "$n" -lt 200 ] && break
		sleep 0.5
	done
	r1=$(trace_threads_removed)
	pt_log "podtap_trace_threads now $n; entries removed (not ended) since the flood: $((r1 - r0)) (full: $(own_metric podtap_trace_threads_removed_total 'reason="full"'), thread_exit: $(own_metric podtap_trace_threads_removed_total 'reason="thread_exit"'))"
	[ "$n" -lt 200 ] || { pt_fail "podtap_trace_threads still $n"; return 1; }
	pt_expect_eq "entries forgotten for room" 0 \
		"$(own_metric podtap_trace_threads_removed_total 'reason="full"')" || return 1
	# 2,000 more whose threads stay alive, stuck (this machine's pid_max
	# of 32768 allows no more without starving its other users): their
	# entries stay until the process exits, and go then.
	out=$("$PT_PY" "$PT_FIXTURES/unanswered.py" flood 127.0.0.1 "$port" /hang 2000 8)
	pt_expect_eq "flood result" "sent 2000, unanswered 2000" "$out"
	sleep 2
	n=$(own_metric podtap_trace_threads)
	pt_log "podtap_trace_threads with 2000 stuck threads: $n"
	[ "$n" -ge 2000 ] || { pt_fail "podtap_trace_threads is $n with 2000 stuck threads"; return 1; }
	r0=$(trace_threads_gone)
	pt_stop_pid "$spid"
	for i in $(seq 1 40); do
		n=$(own_metric podtap_trace_threads)
		r1=$(trace_threads_gone)
		[ "$n" -lt 200 ] && break
		sleep 0.25
	done
	# Their connections end with the process, and with them the requests.
	pt_log "after the server's exit: podtap_trace_threads $n, removed as their threads or process went $((r1 - r0)) (process_exit: $(own_metric podtap_trace_threads_removed_total 'reason="process_exit"'))"
	[ "$n" -lt 200 ]
	pt_podtap_stop
}

@test "SIGTERM with a close-delimited response still streaming: no span, no made-up duration; counted as incomplete (shutdown)" {
	local port spid cpid i bad f
	pt_otlp_start
	podtap_otlp
	pt_pod_create "$NS" stream-5 stream
	port=$(pt_free_port)
	spid=$(pt_spawn "$PT_TMP/logs/stream.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" "$PT_FIXTURES/unanswered.py" serve "$port")
	pt_wait_port "$port" 10 "$spid"
	# A finished exchange first, so that the export works and the pod is
	# known; then a response without Content-Length or chunked framing,
	# whose body ends only at close, still streaming at SIGTERM.
	pt_expect_eq "status of /nope" 404 "$(req "http://127.0.0.1:$port/nope")"
	pt_otlp_wait_count 1 'server and pod("stream-5")'
	cpid=$(pt_spawn "$PT_TMP/logs/stream-client.log" -- curl -sS -N \
		--max-time 60 -A "$UA" -o "$PT_TMP/stream.out" \
		"http://127.0.0.1:$port/stream")
	for i in $(seq 1 50); do
		[ "$(cat "$PT_TMP/stream.out" 2>/dev/null | wc -l)" -ge 3 ] && break
		sleep 0.1
	done
	# Not counted while it streams (grep, not a parse of the whole page:
	# other tests on this node may put any bytes into the host series).
	f=$(pt_scrape)
	pt_expect_eq "/stream samples before SIGTERM" 0 \
		"$(grep -a '^http_server_request_duration_seconds_count{.*k8s_pod_name="stream-5"' "$f" |
			grep -c 'http_route="/stream"' || true)"
	pt_expect_eq "podtap_http_exchanges_incomplete_total{side=server,reason=shutdown} before SIGTERM" 0 \
		"$(own_metric podtap_http_exchanges_incomplete_total 'side="server",reason="shutdown"')"
	pt_podtap_stop 8
	pt_alive "$cpid" || { pt_fail "the stream ended before podtap stopped"; return 1; }
	grep -E 'exchanges in flight at shutdown: counted as incomplete' "$PODTAP_LOG" ||
		{ pt_fail "podtap's log does not count the exchange in flight"; tail -n 20 "$PODTAP_LOG" >&2; return 1; }
	# Flushed at shutdown: no span for /stream (its end is unknown), and
	# no span of this test with an end before its start, or a zero length.
	pt_expect_eq "spans of /stream" 0 \
		"$(pt_otlp_count 'pod("stream-5") and a("url.path") == "/stream"')"
	bad=$(pt_otlp_count '(.endTimeUnixNano | tonumber) <= (.startTimeUnixNano | tonumber)')
	pt_expect_eq "spans whose end is not after their start" 0 "$bad"
	pt_expect_eq "spans of pod stream-5" 1 "$(pt_otlp_count 'pod("stream-5")')"
	pt_stop_pid "$cpid"
	pt_stop_pid "$spid"
}
