#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# gunicorn's statsd lines from podtap (--statsd-host), against a real statsd
# daemon (etsy's, tests/statsd) whose backend writes what it received. The
# gunicorn of pod shop/web-1 sends its own lines to the same daemon
# (--statsd-host, prefix own.web): podtap's, under the pod's prefix, must
# count exactly what gunicorn counts for the same requests, timers
# included.

load 'lib/common'

setup_file() {
	pt_podtap_setup
	STATSD_PORT=$(pt_free_port)
	export STATSD_PORT CAPTURE="$PT_TMP/statsd.jsonl"
	: >"$CAPTURE"
	cat >"$PT_TMP/statsd-config.js" <<EOF
{ port: $STATSD_PORT, address: "127.0.0.1", mgmt_address: "127.0.0.1",
  mgmt_port: $(pt_free_port), flushInterval: 300, deleteIdleStats: true,
  backends: ["$PT_REPO/tests/statsd/capture_backend.js"],
  captureFile: "$CAPTURE" }
EOF
	STATSD_PID=$(pt_spawn "$PT_TMP/logs/statsd.log" -- node \
		"$PT_REPO/tests/statsd/node_modules/statsd/stats.js" \
		"$PT_TMP/statsd-config.js")
	export STATSD_PID
	local i
	for i in $(seq 1 100); do
		ss -Hlun "sport = :$STATSD_PORT" | grep -q . && break
		sleep 0.1
	done
	ss -Hlun "sport = :$STATSD_PORT" | grep -q .

	pt_pod_create shop web-1 web
	pt_gunicorn_app WEB web --cgroup "$PT_POD_SCOPE" -- -w 2 \
		--statsd-host "127.0.0.1:$STATSD_PORT" --statsd-prefix own.web
	pt_pod_create shop api-1 api
	pt_gunicorn_app API api --cgroup "$PT_POD_SCOPE" -- -w 1
}

teardown_file() {
	pt_cleanup
}

setup() {
	pt_test_mark
	: >"$CAPTURE"
}

teardown() {
	pt_test_stop
}

# received NAME: what statsd got for NAME over all flushes so far: a
# counter's sum, or a timer's number of values.
received() {
	jq -rs --arg n "$1" '[.[] | ((.counters[$n] // 0) + ((.timers[$n] // []) | length))] | add // 0' "$CAPTURE"
}

# wait_received WANT NAME: until statsd has WANT for NAME (10 s), then
# holds a flush longer to see it stays there.
wait_received() {
	local want=$1 got="" i
	for i in $(seq 1 100); do
		got=$(received "$2")
		[ "$got" = "$want" ] && { sleep 0.8; got=$(received "$2"); break; }
		sleep 0.1
	done
	[ "$got" = "$want" ] || { pt_fail "statsd $2: $got, want $want"; return 1; }
}

load_web() {
	local out="$PT_TMP/hey.out"
	hey -n 50 -c 5 "$WEB/users/1" >"$out"
	pt_hey_ok 50 "$out" 200
	hey -n 10 -c 2 "$WEB/nope" >"$out"
	pt_hey_ok 10 "$out" 404
	hey -n 5 -c 1 -m POST "$WEB/raise" >"$out"
	pt_hey_ok 5 "$out" 500
}

@test "podtap sends per pod exactly what gunicorn sends for the same requests, batched within the MTU" {
	pt_podtap_start --statsd-host "127.0.0.1:$STATSD_PORT" \
		--statsd-prefix '{namespace}.{pod}'
	load_web
	hey -n 20 -c 2 "$API/" >"$PT_TMP/hey.out"
	pt_hey_ok 20 "$PT_TMP/hey.out" 200
	wait_received 65 own.web.gunicorn.requests
	wait_received 65 shop.web-1.gunicorn.requests
	local suffix
	for suffix in requests request.duration request.status.200 \
		request.status.404 request.status.500; do
		[ "$(received "shop.web-1.gunicorn.$suffix")" = \
			"$(received "own.web.gunicorn.$suffix")" ] ||
			{ pt_fail "$suffix: podtap $(received "shop.web-1.gunicorn.$suffix"), gunicorn $(received "own.web.gunicorn.$suffix")"; return 1; }
	done
	[ "$(received shop.web-1.gunicorn.request.duration)" = 65 ]
	[ "$(received shop.web-1.gunicorn.request.status.200)" = 50 ]
	[ "$(received shop.web-1.gunicorn.request.status.404)" = 10 ]
	[ "$(received shop.web-1.gunicorn.request.status.500)" = 5 ]
	# the other pod, under its own prefix; its gunicorn sends nothing
	wait_received 20 shop.api-1.gunicorn.requests
	[ "$(received shop.api-1.gunicorn.request.duration)" = 20 ]
	[ "$(received shop.api-1.gunicorn.request.status.200)" = 20 ]
	# nothing else under podtap's prefixes (no client requests, no host)
	[ "$(jq -rs '[.[] | select(.counters) | (.counters, .timers) | keys[] | select(startswith("own.") | not)] | unique | length' "$CAPTURE")" = 8 ]
	# timer values are milliseconds: a request here takes well under 5 s
	jq -es '[.[] | .timers["shop.web-1.gunicorn.request.duration"] // [] | .[]] | all(. > 0 and . < 5000)' "$CAPTURE" >/dev/null
	# every datagram within the MTU; podtap's carry many lines
	[ "$(jq -s '[.[] | .packet // 0] | max' "$CAPTURE")" -le 1432 ]
	pt_num_gt "$(jq -s '[.[] | .lines // 0] | max' "$CAPTURE")" 10
	pt_expect_metric 0 podtap_statsd_lines_dropped_total reason=unresolved
	pt_expect_metric 0 podtap_statsd_lines_dropped_total reason=send_failed
	pt_expect_metric 1 podtap_statsd_resolved
	pt_podtap_stop
}

@test "a host name is resolved without blocking; one that does not resolve: requests still measured, every line counted as dropped" {
	pt_podtap_start --statsd-host "localhost:$STATSD_PORT" \
		--statsd-prefix 'x.{container}'
	local i
	for i in $(seq 1 50); do
		[ "$(pt_metric podtap_statsd_resolved)" = 1 ] && break
		sleep 0.1
	done
	hey -n 10 -c 2 "$API/" >"$PT_TMP/hey.out"
	pt_hey_ok 10 "$PT_TMP/hey.out" 200
	wait_received 10 x.api.gunicorn.requests
	pt_podtap_stop

	pt_podtap_start --statsd-host "no-such-host.invalid:$STATSD_PORT"
	hey -n 10 -c 2 "$API/" >"$PT_TMP/hey.out"
	pt_hey_ok 10 "$PT_TMP/hey.out" 200
	pt_wait_sum 10 "${PT_HIST}_count" k8s_pod_name=api-1
	# a timer a request, and the two counters (requests, status 200) of
	# each flush that had requests: 10 + 2k lines, k flushes of 1..10
	pt_wait_metric_ge 12 podtap_statsd_lines_dropped_total reason=unresolved
	sleep 1.5
	local dropped
	dropped=$(pt_metric podtap_statsd_lines_dropped_total reason=unresolved)
	[ $(( (dropped - 10) % 2 )) = 0 ] && [ "$dropped" -ge 12 ] && [ "$dropped" -le 30 ] ||
		{ pt_fail "dropped lines: $dropped"; return 1; }
	pt_expect_metric 0 podtap_statsd_resolved
	pt_expect_metric 0 podtap_statsd_datagrams_total
	grep -q "statsd: cannot resolve no-such-host.invalid" "$PODTAP_LOG"
	pt_podtap_stop
}
