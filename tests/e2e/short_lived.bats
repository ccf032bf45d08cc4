#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Pods that are gone by the time their events are read (Jobs, CronJobs,
# init containers): their requests keep their pod's labels. podtap learns
# each pod cgroup's path when it is made (the cgroup_mkdir tracepoint) and
# its names then, so neither /proc/PID, nor the cgroup, nor the log
# directory needs to be there when the traffic is attributed.

load 'lib/common'

setup_file() {
	pt_podtap_setup
	pt_podtap_start --no-python-hooks
	SERVER_PORT=$(pt_free_port)
	SERVER_PID=$(pt_spawn "$PT_TMP/logs/server.log" -- "$PT_PY" -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$SERVER_PORT")
	pt_wait_port "$SERVER_PORT" 10 "$SERVER_PID"
	export SERVER_PORT SERVER_PID
}

teardown_file() {
	pt_podtap_teardown
}

@test "50 pods each run a client for 3 requests, then their cgroup and log directory go, all before podtap reads an event: 150 of 150 keep their pod" {
	local i pod m0 s0 f
	local -a pods=() cgs=() logdirs=()
	m0=$(pt_metric podtap_events_total kind=cgroup_mkdir)
	for i in $(seq 1 50); do
		pod="job-$i-$(pt_rand_hex 5)"
		pt_pod_create batch "$pod" job
		pods+=("$pod") cgs+=("$PT_POD_SCOPE") logdirs+=("$PT_POD_LOGDIR")
	done
	# podtap has read those mkdirs before it is stopped: events are read
	# in order, so once a request made after them is counted, they were.
	s0=$(pt_metric_sum "${PT_HIST}_count" http_route=/sentinel)
	[ "$(pt_curl_status "http://127.0.0.1:$SERVER_PORT/sentinel")" = 200 ]
	pt_wait_sum $((s0 + 1)) "${PT_HIST}_count" http_route=/sentinel
	pt_num_gt "$(pt_metric podtap_events_total kind=cgroup_mkdir)" $((m0 + 99))
	# A daemon that reads late: everything below is gone (the client
	# processes, their cgroups, their log directories) before podtap
	# reads its first event of it.
	kill -STOP "$PODTAP_PID"
	for i in "${!pods[@]}"; do
		bash "$PT_LIB_DIR/in-cgroup.sh" "${cgs[$i]}" curl -sS -o /dev/null \
			--max-time 5 "http://127.0.0.1:$SERVER_PORT/job" \
			"http://127.0.0.1:$SERVER_PORT/job" \
			"http://127.0.0.1:$SERVER_PORT/job" || { kill -CONT "$PODTAP_PID"; return 1; }
		rmdir "${cgs[$i]}"
		rm -rf "${logdirs[$i]}"
	done
	kill -CONT "$PODTAP_PID"
	pt_wait_sum 150 http_client_request_duration_seconds_count \
		k8s_namespace_name=batch "server_port=$SERVER_PORT"
	f=$(pt_scrape)
	for pod in "${pods[@]}"; do
		pt_expect_eq "requests of batch/$pod" 3 \
			"$(pt_mq get "$f" http_client_request_duration_seconds_count \
				$(pt_client_labels batch "$pod" job GET 200 /job http \
					127.0.0.1 "$SERVER_PORT"))"
	done
	# And none of it went to a host series named by the client's comm.
	pt_wait_metric 0 http_client_request_duration_seconds_count \
		$(pt_host_labels curl) http_request_method=GET \
		http_response_status_code=200 http_route=/job url_scheme=http \
		server_address=127.0.0.1 "server_port=$SERVER_PORT"
}
