#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Queueing and saturation (docs/metrics.md, "Queueing and saturation"):
# gunicorn sync apps in simulated pods that each have a network namespace
# of their own, as on a node, loaded by hey inside it. What the app's own
# instrumentation cannot see: the wait in the accept queue, the listen
# queue overflowing, the workers busy.
#
#   -w 1, /sleep/200, 10 clients: waits up to ~1.8 s, saturation 1, one
#       request active;
#   -w 4, /sleep/200, 2 clients: no wait, saturation 0.5;
#   -w 1 --backlog 4, 40 clients at once: overflows counted.

load 'lib/common'

setup_file() {
	pt_podtap_setup
	pt_podtap_start
}

teardown_file() {
	pt_cleanup
	local ns
	for ns in $(cat "$PT_TMP/netns" 2>/dev/null); do
		ip netns del "$ns" 2>/dev/null || true
	done
}

setup() {
	pt_test_mark
}

teardown() {
	pt_test_stop
}

# app POD WORKERS [GUNICORN ARGS...]: gunicorn (sync) in pod shop/POD, in a
# network namespace of its own (NS_<POD> names it), on 127.0.0.1:8080.
app() {
	local pod=$1 workers=$2 ns i
	shift 2
	ns=pt-sat-$(pt_rand_hex 4)
	echo "$ns" >>"$PT_TMP/netns"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	pt_pod_create shop "$pod" web
	pt_spawn "$PT_TMP/logs/$pod.log" --cgroup "$PT_POD_SCOPE" -- \
		ip netns exec "$ns" "$PT_GUNICORN" --chdir "$PT_FIXTURES" \
		-b 127.0.0.1:8080 -w "$workers" --timeout 30 "$@" app:app >/dev/null
	for i in $(seq 1 100); do
		[ "$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' \
			--max-time 2 http://127.0.0.1:8080/)" = 200 ] && break
		sleep 0.1
	done
	export "NS_${pod//-/_}=$ns"
	# the probes counted before the test reads its base
	pt_wait_metric_ge 1 tcp_listen_queue_wait_seconds_count $(labels "$pod")
	sleep 0.5
}

# in POD CMD...: runs CMD in POD's network namespace.
in_pod() {
	local v="NS_${1//-/_}"
	shift
	ip netns exec "${!v}" "$@"
}

labels() {
	pt_pod_labels shop "$1" web
}

# bucket POD LE: the queue-wait histogram's count at or below LE.
bucket() {
	pt_metric tcp_listen_queue_wait_seconds_bucket $(labels "$1") le="$2"
}

@test "-w 1, 200 ms a request, 10 clients: waits up to ~1.8 s in the accept queue; saturation 1, one request active" {
	app one-1 1
	local base
	base=$(pt_metric tcp_listen_queue_wait_seconds_count $(labels one-1))
	in_pod one-1 hey -n 80 -c 10 -disable-keepalive \
		http://127.0.0.1:8080/sleep/200 >"$PT_TMP/hey-one.out" &
	local hey=$!
	# 12 s in: the saturation window (10 s) is all load
	sleep 12
	local sat active workers
	sat=$(pt_metric http_server_worker_saturation $(labels one-1))
	active=$(pt_metric http_server_active_requests $(labels one-1))
	workers=$(pt_metric http_server_workers $(labels one-1))
	wait "$hey"
	pt_hey_ok 80 "$PT_TMP/hey-one.out" 200
	echo "saturation $sat, active $active, workers $workers"
	awk -v s="$sat" 'BEGIN { exit !(s >= 0.95 && s <= 1) }' ||
		{ pt_fail "saturation $sat, want 1 +- 0.05"; return 1; }
	[ "$active" = 1 ] || { pt_fail "active requests $active, want 1"; return 1; }
	[ "$workers" = 1 ] || { pt_fail "workers $workers, want 1"; return 1; }
	# every request a connection, each waited in the queue (base: the
	# readiness probe's, which waited for nothing)
	pt_wait_metric $((base + 80)) tcp_listen_queue_wait_seconds_count $(labels one-1)
	local over1 upto25 mean
	over1=$(( base + 80 - $(bucket one-1 1) ))
	upto25=$(( $(bucket one-1 2.5) - base ))
	mean=$(awk -v s="$(pt_metric tcp_listen_queue_wait_seconds_sum $(labels one-1))" \
		'BEGIN { printf "%.3f", s / 80 }')
	echo "waits over 1 s: $over1 of 80; mean $mean s"
	# in the steady state each waits for the 9 ahead of it: 1.8 s
	[ "$upto25" = 80 ] || { pt_fail "waits over 2.5 s: $((80 - upto25))"; return 1; }
	[ "$over1" -ge 50 ] || { pt_fail "only $over1 waits over 1 s"; return 1; }
	awk -v m="$mean" 'BEGIN { exit !(m >= 1.2 && m <= 2.0) }' ||
		{ pt_fail "mean wait $mean s"; return 1; }
	# after the load: nothing active
	pt_wait_metric 0 http_server_active_requests $(labels one-1)
}

@test "-w 4, 200 ms a request, 2 clients: no wait; saturation 0.5" {
	app four-1 4
	local base
	base=$(pt_metric tcp_listen_queue_wait_seconds_count $(labels four-1))
	# every worker serves one first
	in_pod four-1 hey -n 8 -c 8 -disable-keepalive \
		http://127.0.0.1:8080/sleep/200 >/dev/null
	pt_wait_metric 4 http_server_workers $(labels four-1)
	in_pod four-1 hey -n 120 -c 2 -disable-keepalive \
		http://127.0.0.1:8080/sleep/200 >"$PT_TMP/hey-four.out" &
	local hey=$!
	sleep 12
	local sat active
	sat=$(pt_metric http_server_worker_saturation $(labels four-1))
	active=$(pt_metric http_server_active_requests $(labels four-1))
	wait "$hey"
	pt_hey_ok 120 "$PT_TMP/hey-four.out" 200
	echo "saturation $sat, active $active"
	awk -v s="$sat" 'BEGIN { exit !(s >= 0.42 && s <= 0.58) }' ||
		{ pt_fail "saturation $sat, want 0.5"; return 1; }
	[ "$active" -le 2 ] || { pt_fail "active requests $active"; return 1; }
	pt_wait_metric $((base + 128)) tcp_listen_queue_wait_seconds_count $(labels four-1)
	local slow
	slow=$(( base + 128 - $(bucket four-1 0.1) ))
	[ "$slow" -le 8 ] || { pt_fail "$slow of 128 waited over 100 ms"; return 1; }
	# busy time: 128 requests of 200 ms
	local busy
	busy=$(pt_metric http_server_worker_busy_seconds_total $(labels four-1))
	awk -v b="$busy" 'BEGIN { exit !(b >= 25.6 && b <= 30.5) }' ||
		{ pt_fail "busy seconds $busy, want ~25.6"; return 1; }
}

@test "--backlog 4 and 40 clients at once: listen overflows counted for the pod, in its own network namespace" {
	app small-1 1 --backlog 4
	in_pod small-1 hey -n 40 -c 40 -disable-keepalive -t 30 \
		http://127.0.0.1:8080/sleep/500 >"$PT_TMP/hey-small.out" || true
	local over drops netstat
	over=$(pt_metric tcp_listen_overflows_total k8s_namespace_name=shop \
		k8s_pod_name=small-1 "k8s_node_name=${PODTAP_NODE_NAME:-}")
	drops=$(pt_metric tcp_listen_drops_total k8s_namespace_name=shop \
		k8s_pod_name=small-1 "k8s_node_name=${PODTAP_NODE_NAME:-}")
	# the kernel's own figure for that namespace
	netstat=$(in_pod small-1 awk '/^TcpExt:/ { if (!n) { for (i = 2; i <= NF; i++) if ($i == "ListenOverflows") c = i; n = 1 } else print $c }' /proc/net/netstat)
	echo "overflows $over (kernel $netstat), drops $drops"
	pt_num_gt "$over" 0
	[ "$over" = "$netstat" ]
	[ "$drops" -ge "$over" ]
}
