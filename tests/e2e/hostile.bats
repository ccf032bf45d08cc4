#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Hostile bytes: whatever bytes reach podtap (request lines, headers, comm,
# pod log directory names, --route patterns, the environment), /metrics
# stays valid for Prometheus and every span decodes, each string in its
# sanitised form (user/lib/sanitize.h), and nothing that identifies a user or
# grants access (userinfo, path parameters, queries, fragments, e-mail
# addresses, tokens) leaves the node.
#
#   pod $NS/<random bytes>, container <random bytes>: tests/fixtures/
#       hostile.py serve (answers anything, keep-alive), with random bytes
#       as its OTEL_SERVICE_NAME and as its comm
#   host: hostile.py serve, renamed to random bytes (its series' service_name)
#   pod $NS/<random bytes>, container <random bytes>: the client
#       (hostile.py send, or rawhttp.py), renamed to random bytes
#   host: hostile.py send, renamed to random bytes
#
# podtap runs with random --route patterns (all of them ones it accepts)
# and exports spans to the test receiver, which decodes with the official
# schema and refuses any string field that is not UTF-8, as the Collector
# does. hostile.py check is the oracle: it knows the rule and the
# redaction independently of the daemon and checks every exported string,
# then the spans of each request and the series of these workloads
# exactly. Other traffic on the node reaches this podtap too: exactness is
# asserted on this file's pods, comms and User-Agents only, validity on all.

load 'lib/common'
load 'lib/otlp'

HOSTILE="$PT_FIXTURES/hostile.py"

# unhex HEX: the bytes (no NUL among them) into $REPLY.
unhex() {
	REPLY=$("$PT_PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]) + b"x")' "$1")
	REPLY=${REPLY%x}
}

# name KEY: the hex of KEY in the names file.
name() {
	jq -r --arg k "$1" '.[$k]' "$PT_TMP/names.json"
}

setup_file() {
	local i
	local -a routes flags=()
	pt_podtap_setup
	pt_otlp_require
	pt_otlp_clear_env
	SEED=$(( (RANDOM << 15) | RANDOM ))
	NS="hostile-$(pt_rand_hex 6)"
	export SEED NS
	pt_log "seed $SEED (hostile.py names $SEED FILE makes the same names)"
	"$PT_PY" "$HOSTILE" names "$SEED" "$PT_TMP/names.json"

	unhex "$(name server_pod)"; local spod=$REPLY
	unhex "$(name server_container)"; local scont=$REPLY
	unhex "$(name client_pod)"; local cpod=$REPLY
	unhex "$(name client_container)"; local ccont=$REPLY
	pt_pod_create "$NS" "$spod" "$scont"
	export S_SCOPE=$PT_POD_SCOPE
	pt_pod_create "$NS" "$cpod" "$ccont"
	export C_SCOPE=$PT_POD_SCOPE

	mapfile -d '' -t routes <"$PT_TMP/names.json.routes"
	for i in "${!routes[@]}"; do flags+=(--route "${routes[$i]}"); done
	pt_otlp_start
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		"NODE_NAME=hostile-node" -- "${flags[@]}"

	S_PORT=$(pt_free_port)
	H_PORT=$(pt_free_port)
	export S_PORT H_PORT
	local spid hpid
	spid=$(pt_spawn "$PT_TMP/logs/server.log" --cgroup "$S_SCOPE" -- \
		"$PT_PY" "$HOSTILE" serve "$S_PORT" --info "$PT_TMP/server.json" \
		--comm "$(name server_comm)" --service-name "$(name service_name)")
	hpid=$(pt_spawn "$PT_TMP/logs/host-server.log" -- \
		"$PT_PY" "$HOSTILE" serve "$H_PORT" --info "$PT_TMP/host-server.json" \
		--comm "$(name host_server_comm)")
	pt_wait_port "$S_PORT" 15 "$spid"
	pt_wait_port "$H_PORT" 15 "$hpid"
	for i in $(seq 1 100); do
		[ -s "$PT_TMP/server.json" ] && [ -s "$PT_TMP/host-server.json" ] && break
		sleep 0.05
	done
}

teardown_file() {
	pt_podtap_teardown
}

teardown() {
	pt_podtap_alive
}

# expect_json: the oracle's map of ports and seeds to who served and sent.
expect_json() {
	jq -cn --arg ns "$NS" --arg s "$S_PORT" --arg h "$H_PORT" \
		--arg c1 "$((SEED + 1))" --arg c2 "$((SEED + 2))" --arg d "$((SEED + 3))" \
		'{ns: $ns, servers: {($s): "pod", ($h): "host"},
		  clients: {($c1): "pod", ($c2): "pod", ($d): "host"}}'
}

@test "random bytes in request lines, headers, comms, pod names and --route patterns: valid, sanitised, exact" {
	local log="$PT_TMP/sent.jsonl" n f want
	: >"$log"
	# The client pod to the pod and to the host server; a host client
	# (renamed to random bytes) to the pod.
	bash "$PT_LIB_DIR/in-cgroup.sh" "$C_SCOPE" "$PT_PY" "$HOSTILE" send \
		"$S_PORT" --seed $((SEED + 1)) --count 300 --log "$log" \
		--names "$PT_TMP/names.json" --comm "$(name client_comm)"
	bash "$PT_LIB_DIR/in-cgroup.sh" "$C_SCOPE" "$PT_PY" "$HOSTILE" send \
		"$H_PORT" --seed $((SEED + 2)) --count 100 --log "$log" \
		--names "$PT_TMP/names.json" --comm "$(name client_comm)"
	"$PT_PY" "$HOSTILE" send "$S_PORT" --seed $((SEED + 3)) --count 100 \
		--log "$log" --names "$PT_TMP/names.json" \
		--comm "$(name host_client_comm)"
	n=$(jq -s '[.[] | select(.status != null)] | length' "$log")
	pt_log "$n of $(wc -l <"$log") requests answered"
	[ "$n" -ge 450 ]
	# Two spans (CLIENT and SERVER) for each answered request.
	want="a(\"user_agent.original\") // \"\" | test(\"^hostile/($((SEED + 1))|$((SEED + 2))|$((SEED + 3)))/\")"
	if ! PT_OTLP_WAIT_S=20 pt_otlp_wait_count $((2 * n)) "$want"; then
		echo "--- requests the receiver refused:" >&2
		pt_otlp_requests '.status != 200' | head -n 5 >&2
		return 1
	fi
	f=$(pt_scrape)
	run promtool check metrics <"$f"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$PT_PY" "$HOSTILE" check --metrics "$f" --spans "$OTLP_SPANS" \
		--names "$PT_TMP/names.json" --sent "$log" --expect "$(expect_json)" \
		--min-answered 450
	echo "$output"
	[ "$status" -eq 0 ]
	echo "# $output" >&3
	# The receiver refused nothing, and podtap dropped nothing as rejected.
	[ "$(pt_otlp_requests '.status != 200' | wc -l)" = 0 ]
	[ "$(pt_mq get "$f" podtap_spans_dropped_total reason=rejected)" = 0 ]
}

# secret N REQUEST_BYTES (printf format): one request from the client pod to
# the pod server, with User-Agent secret/SEED/N; waits for its answer.
secret() {
	local n=$1 fmt=$2
	# shellcheck disable=SC2059
	printf "$fmt" "secret/$SEED/$n" |
		bash "$PT_LIB_DIR/in-cgroup.sh" "$C_SCOPE" \
			"$PT_PY" "$PT_FIXTURES/rawhttp.py" "$S_PORT" --expect 200
}

# both N K=V...: the SERVER and the CLIENT span of secret request N have
# these fields.
both() {
	local n=$1 s c
	shift
	pt_otlp_wait_count 2 "ua(\"secret/$SEED/$n\")"
	s=$(pt_otlp_spans "server and ua(\"secret/$SEED/$n\")")
	c=$(pt_otlp_spans "client and ua(\"secret/$SEED/$n\")")
	pt_otlp_expect_fields "$s" "$@"
	pt_otlp_expect_fields "$c" "$@"
	if grep -F SECRET <<<"$s$c"; then
		pt_fail "SECRET left the node in a span of request $n"
		return 1
	fi
}

@test "userinfo, path parameters, queries, fragments, e-mail addresses and tokens never leave the node" {
	local f r h='Host: api.example\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n'
	secret 1 "GET http://user:SECRET@host.example/abs HTTP/1.1\r\nHost: host.example\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n"
	secret 2 "GET /app/page;jsessionid=SECRET?token=SECRET#SECRET HTTP/1.1\r\n$h"
	secret 3 "GET /users/SECRET.alice@example.com/profile HTTP/1.1\r\n$h"
	secret 4 "GET /users/alice%%40SECRET.example HTTP/1.1\r\n$h"
	secret 5 "GET /reset/SECRETtoken1234567890abcdef HTTP/1.1\r\n$h"
	secret 6 "GET /jwt/eyJhbGciOiJIUzI1NiJ9.eyJTRUNSRVQiOjF9.SECRETsig HTTP/1.1\r\n$h"
	secret 7 "POST /a;p=SECRET/b;q=SECRET HTTP/1.1\r\n$h"
	secret 8 "GET https://SECRET@h.example/x?SECRET HTTP/1.1\r\nHost: user:SECRET@api.example:8080\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n"

	both 1 '.name=GET /abs' '.attributes["url.path"]=/abs' \
		'.attributes["http.route"]=/abs' \
		'.attributes["server.address"]=host.example'
	both 2 '.name=GET /app/page' '.attributes["url.path"]=/app/page' \
		'.attributes["http.route"]=/app/page'
	both 3 '.name=GET /users/{id}/profile' \
		'.attributes["url.path"]=/users/REDACTED/profile' \
		'.attributes["http.route"]=/users/{id}/profile'
	both 4 '.name=GET /users/{id}' '.attributes["url.path"]=/users/REDACTED'
	both 5 '.name=GET /reset/{id}' '.attributes["url.path"]=/reset/REDACTED'
	both 6 '.name=GET /jwt/{id}' '.attributes["url.path"]=/jwt/REDACTED'
	both 7 '.name=POST /a/b' '.attributes["url.path"]=/a/b' \
		'.attributes["http.route"]=/a/b'
	both 8 '.name=GET /x' '.attributes["url.path"]=/x' \
		'.attributes["server.address"]=api.example' \
		'.attributes["server.port"]=#8080'
	# No query or full URL attribute at all.
	[ "$(pt_otlp_count "(a(\"user_agent.original\") // \"\" | startswith(\"secret/$SEED/\")) and (.attributes | has(\"url.query\") or has(\"url.full\"))")" = 0 ]

	# /metrics: the same routes and hosts, and no SECRET in the pods' series.
	f=$(pt_scrape)
	for r in /abs /app/page '/users/{id}/profile' '/users/{id}' '/reset/{id}' '/jwt/{id}'; do
		[ "$(pt_mq sum "$f" "${PT_HIST}_count" "k8s_namespace_name=$NS" \
			http_route="$r")" -ge 1 ] ||
			{ pt_fail "no server series with http_route=$r"; return 1; }
	done
	[ "$(pt_mq sum "$f" http_client_request_duration_seconds_count \
		"k8s_namespace_name=$NS" server_address=api.example server_port=8080 \
		http_route=/x)" = 1 ]
	if pt_mq series "$f" "${PT_HIST}_count" "k8s_namespace_name=$NS" | grep -F SECRET ||
		pt_mq series "$f" http_client_request_duration_seconds_count \
			"k8s_namespace_name=$NS" | grep -F SECRET; then
		pt_fail "SECRET left the node on /metrics"
		return 1
	fi
	promtool check metrics <"$f"
}
