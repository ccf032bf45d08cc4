#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Each capability of the Helm chart's default container is needed: podtap
# is started as that container (lib/as-pod.sh: the capabilities, read-only
# mounts and no_new_privs read from the rendered chart), then with one
# capability taken away, and what it is needed for is checked both ways.
# (tests/run.sh shows the set is enough: core.bats passes with it.)
#
#   CAP_BPF, CAP_PERFMON   podtap refuses to start without either, naming
#                          it; the kernel itself refuses the BPF load
#                          (build/tests/bpf_load, which has no such check)
#   CAP_SYS_PTRACE         /proc/PID/exe and /proc/PID/root of a root
#                          process: a Python server's spans carry
#                          process.runtime.name only with it
#   CAP_DAC_READ_SEARCH    /proc/PID/environ of a process of another user:
#                          its OTEL_SERVICE_NAME becomes service.name only
#                          with it
#   CAP_SYS_ADMIN          uprobes (the Python hooks): the kernel creates
#                          them only for it; without it each Python file
#                          counts a `permission` failure and none is hooked
#
# Two /usr/bin/python3 tests/fixtures/rawserver.py servers on the host: one
# as root, one as uid 65534 with OTEL_SERVICE_NAME=nobody-svc; spans come
# back through the OTLP test receiver.

load 'lib/common'
load 'lib/otlp'

setup_file() {
	pt_podtap_setup
	pt_otlp_require
	local chart
	chart="$PT_TMP/chart.yaml"
	"$PT_REPO/tests/helm/render.sh" podtap --namespace podtap >"$chart"
	CHART_ENV=$(node "$PT_REPO/tests/helm/chart.mjs" pod-env "$chart")
	# PODTAP_TEST_CAPS, PODTAP_TEST_RO_PATHS, PODTAP_TEST_NO_NEW_PRIVS
	eval "$(sed 's/^/export /' <<<"$CHART_ENV")"
	export CHART_CAPS=$PODTAP_TEST_CAPS
	case ",$CHART_CAPS," in
	*,BPF,*PERFMON*SYS_PTRACE*DAC_READ_SEARCH*SYS_ADMIN*) ;;
	*) echo "unexpected chart capabilities: $CHART_CAPS" >&2; return 1 ;;
	esac

	pt_otlp_start
	ROOT_PORT=$(pt_free_port)
	NOBODY_PORT=$(pt_free_port)
	ROOT_PID=$(pt_spawn "$PT_TMP/logs/root-py.log" -- \
		"$PT_PY" "$PT_FIXTURES/rawserver.py" "$ROOT_PORT")
	NOBODY_PID=$(pt_spawn "$PT_TMP/logs/nobody-py.log" -- \
		env OTEL_SERVICE_NAME=nobody-svc setpriv --reuid=65534 \
		--regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$PT_PY" "$PT_FIXTURES/rawserver.py" "$NOBODY_PORT")
	pt_wait_port "$ROOT_PORT" 10 "$ROOT_PID"
	pt_wait_port "$NOBODY_PORT" 10 "$NOBODY_PID"
	# A Python process of a pod, running before podtap starts.
	pt_pod_create caps early-1 app
	EARLY_PID=$(pt_spawn "$PT_TMP/logs/early.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" -c 'import time; time.sleep(600)')
	export ROOT_PORT NOBODY_PORT ROOT_PID NOBODY_PID EARLY_PID
}

teardown() {
	pt_podtap_stop || true
}

teardown_file() {
	pt_cleanup
}

# without CAP...: the chart's capabilities less each CAP.
without() {
	local -a drop=()
	local c
	for c in "$@"; do drop+=(-e "$c"); done
	tr ',' '\n' <<<"$CHART_CAPS" | grep -vx "${drop[@]}" | paste -sd, -
}

# start_with CAPS: podtap as the chart's container, holding CAPS, exporting
# every span to the receiver.
start_with() {
	PODTAP_TEST_CAPS=$1 pt_otlp_podtap_start \
		"OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" OTEL_TRACES_SAMPLER=always_on \
		NODE_NAME=caps-node -- --no-pin
	pt_expect_eq "podtap's capabilities" "$(pt_caps_norm "$1")" \
		"$(pt_caps_of "$PODTAP_PID" CapEff)"
}

# one_request PORT PID: one GET /ok to the server on PORT, then waits for
# its span (of process PID) and prints it.
one_request() {
	local port=$1 pid=$2 ua
	ua="podtap-caps/$(pt_rand_hex 8)"
	printf 'GET /ok HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\n\r\n' "$ua" |
		pt_raw "$port" --expect 200 >/dev/null
	pt_otlp_wait_count 1 'server and ua($u) and r("process.pid") == ($p | tonumber)' \
		--arg u "$ua" --arg p "$pid" >&2 || return 1
	pt_otlp_spans 'server and ua($u)' --arg u "$ua"
}

@test "the chart's set: runtime of a root Python (SYS_PTRACE), a non-root app's OTEL_SERVICE_NAME (DAC_READ_SEARCH), Python hooks (SYS_ADMIN)" {
	local s
	start_with "$CHART_CAPS"
	if grep 'warning: no CAP_' "$PODTAP_LOG"; then
		pt_fail "podtap misses a capability with the chart's set"
		return 1
	fi
	# Both servers' interpreters are hooked (Debian's python3 has USDT GC
	# probes), with no failure for want of a privilege.
	pt_wait_metric_ge 1 podtap_uprobe_links
	pt_expect_eq "permission failures" 0 \
		"$(pt_metric podtap_uprobe_attach_failures_total reason=permission)"
	# In its own cgroup namespace (as in a pod), podtap reads other
	# processes' cgroups as relative paths and places them in the node's
	# tree: the pod's Python process found at start has its pod's labels.
	pt_wait_metric 1 python_info k8s_namespace_name=caps k8s_pod_name=early-1 \
		k8s_container_name=app service_name=app k8s_node_name=caps-node \
		implementation=CPython version=3.11.2
	grep -q "podtap runs in a cgroup namespace rooted at /podtap-e2e-agent-" "$PODTAP_LOG"
	s=$(one_request "$ROOT_PORT" "$ROOT_PID")
	pt_expect_eq "root server's process.runtime.name" cpython \
		"$(jq -r '.resource["process.runtime.name"] // ""' <<<"$s")"
	s=$(one_request "$NOBODY_PORT" "$NOBODY_PID")
	pt_expect_eq "uid 65534 server's service.name" nobody-svc \
		"$(jq -r '.resource["service.name"]' <<<"$s")"
}

@test "without CAP_SYS_PTRACE: no process.runtime.* (/proc/PID/exe, /proc/PID/root unreadable), and a warning" {
	local s
	start_with "$(without SYS_PTRACE)"
	grep -q 'warning: no CAP_SYS_PTRACE' "$PODTAP_LOG"
	s=$(one_request "$ROOT_PORT" "$ROOT_PID")
	pt_expect_eq "root server's process.runtime.name" "" \
		"$(jq -r '.resource["process.runtime.name"] // ""' <<<"$s")"
	# Still counted and traced: the capability only enriches spans.
	pt_expect_eq "span status" STATUS_CODE_UNSET "$(jq -r '.status.code' <<<"$s")"
}

@test "without CAP_DAC_READ_SEARCH: another user's /proc/PID/environ is unreadable (no OTEL_SERVICE_NAME), and a warning" {
	local s
	start_with "$(without DAC_READ_SEARCH)"
	grep -q 'warning: no CAP_DAC_READ_SEARCH' "$PODTAP_LOG"
	s=$(one_request "$NOBODY_PORT" "$NOBODY_PID")
	[ "$(jq -r '.resource["service.name"]' <<<"$s")" != nobody-svc ] ||
		{ pt_fail "service.name came from the environment without CAP_DAC_READ_SEARCH"; return 1; }
	# Root's own processes are still read in full.
	s=$(one_request "$ROOT_PORT" "$ROOT_PID")
	pt_expect_eq "root server's process.runtime.name" cpython \
		"$(jq -r '.resource["process.runtime.name"] // ""' <<<"$s")"
}

@test "without CAP_SYS_ADMIN: the kernel refuses uprobes (counted as permission, a warning); HTTP is still measured" {
	local s
	start_with "$(without SYS_ADMIN)"
	grep -q 'warning: no CAP_SYS_ADMIN' "$PODTAP_LOG"
	pt_wait_metric_ge 1 podtap_uprobe_attach_failures_total reason=permission
	grep -q 'Permission denied' "$PODTAP_LOG"
	pt_expect_eq "uprobe links" 0 "$(pt_metric podtap_uprobe_links)"
	s=$(one_request "$ROOT_PORT" "$ROOT_PID")
	pt_expect_eq "root server's process.runtime.name" cpython \
		"$(jq -r '.resource["process.runtime.name"] // ""' <<<"$s")"
}

# CAP_SYS_ADMIN (there for the uprobes) also stands in for CAP_BPF and
# CAP_PERFMON, so it goes with each of them.
@test "without CAP_BPF or CAP_PERFMON podtap refuses to start, naming the capability" {
	local cap port
	for cap in BPF PERFMON; do
		port=$(pt_free_port)
		run env PT_AS_POD_LOG_DIR="$PT_TMP/pods" PODTAP_TEST_CAPS="$(without $cap SYS_ADMIN)" \
			timeout 20 bash "$PT_LIB_DIR/as-pod.sh" "$PODTAP_BIN" \
			--metrics-listen "127.0.0.1:$port" --pod-log-dir "$PT_TMP/pods" --no-pin
		echo "without $cap: status $status: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"missing: CAP_$cap."* ]]
	done
}

@test "the kernel itself needs CAP_BPF and CAP_PERFMON: bpf_load (no capability check of its own)" {
	local bin="$PT_REPO/build/tests/bpf_load" cap
	[ -x "$bin" ] || { pt_fail "$bin is missing (make build/tests/bpf_load)"; return 1; }
	# Capabilities only: bpf_load (not podtap) writes a temp file in /tmp,
	# which the chart's read-only root would refuse.
	export PODTAP_TEST_RO_PATHS=
	run env PT_AS_POD_LOG_DIR="$PT_TMP/pods" PODTAP_TEST_CAPS="$CHART_CAPS" \
		timeout 60 bash "$PT_LIB_DIR/as-pod.sh" "$bin"
	echo "chart's set: status $status: $output" | tail -n 5
	[ "$status" -eq 0 ]
	for cap in BPF PERFMON; do
		run env PT_AS_POD_LOG_DIR="$PT_TMP/pods" PODTAP_TEST_CAPS="$(without $cap SYS_ADMIN)" \
			timeout 60 bash "$PT_LIB_DIR/as-pod.sh" "$bin"
		echo "without $cap: status $status: $output" | tail -n 5
		[ "$status" -ne 0 ]
		[[ "$output" == *"load_and_attach (Operation not permitted)"* ]]
	done
}
