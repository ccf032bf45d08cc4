#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Pod metadata from the kubelet, and series expiry, end to end: the real
# daemon with --kubelet against a kubelet fixture (tests/fixtures/kubelet.py:
# GET /pods over HTTPS with a certificate from a CA made here with openssl,
# 401 unless the bearer token matches) serving a PodList that names the
# simulated pods below; servers (rawserver.py) in those pods' cgroups.
#
#   shop/web-5f7d8c9b6-q2x7z  container web    Deployment web (ReplicaSet
#                                                web-5f7d8c9b6)
#   data/db-0                 container db     StatefulSet db
#   kube-system/agent-x7k2p   container agent  DaemonSet agent
#   default/debug             container debug  no owner
#
# Each test starts its own podtap (NODE_NAME=$NODE) and stops it, checking
# it exits 0; figures are exact: requests counted per label set, kubelet
# requests and errors by reason against the fixture's own log. The last
# tests make pods of their own and remove their cgroups, for --series-ttl.
#
# Simulated pods of other tests running on this machine at the same time
# are unknown to the fixture and make podtap ask for refreshes too: the
# refreshes one pod asks for are counted in podtap's debug log instead, and
# a test that needs podtap's list to be older than a new pod makes another
# pod when such a refresh came in between. podtap cannot name those pods
# (they are in no list and in no log directory of this file): they count as
# host traffic, named by their comm.

load 'lib/common'

setup_file() {
	local d
	pt_podtap_setup
	d="$PT_TMP/kubelet"
	mkdir -p "$d/pods.d"
	# A CA, the kubelet's serving certificate for 127.0.0.1, and an
	# unrelated CA.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
		-subj "/CN=podtap-e2e kubelet CA" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/kubelet.key" -out "$d/kubelet.csr" \
		-subj "/CN=e2e-node" 2>/dev/null
	printf '%s\n' subjectAltName=IP:127.0.0.1 extendedKeyUsage=serverAuth \
		>"$d/ext.cnf"
	openssl x509 -req -in "$d/kubelet.csr" -CA "$d/ca.crt" \
		-CAkey "$d/ca.key" -CAcreateserial -out "$d/kubelet.crt" \
		-days 2 -extfile "$d/ext.cnf" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$d/other.key" -out "$d/other.crt" -days 2 \
		-subj "/CN=someone else's CA" 2>/dev/null
	export KDIR=$d CA="$d/ca.crt" OTHER_CA="$d/other.crt"
	# podtap's token file (tests write wrong tokens into it) and the one
	# the fixture accepts.
	export TOKEN_FILE="$d/token" ACCEPTED="$d/accepted-token"
	export PODS="$d/pods.json" KLOG="$d/requests.log"
	export MODE="$d/mode"
	TOKEN="e2e.$(pt_rand_hex 40)"
	export TOKEN
	echo "$TOKEN" >"$TOKEN_FILE"
	echo "$TOKEN" >"$ACCEPTED"
	: >"$KLOG"

	NODE="e2e-node-$(pt_rand_hex 6)"
	export NODE NODE_NAME=$NODE
	make_pod web shop web-5f7d8c9b6-q2x7z web ReplicaSet web-5f7d8c9b6 5f7d8c9b6
	make_pod db data db-0 db StatefulSet db
	make_pod agent kube-system agent-x7k2p agent DaemonSet agent
	make_pod bare default debug debug
	write_list

	KUBELET_PORT=$(pt_free_port)
	KUBELET_PID=$(pt_spawn "$PT_TMP/logs/kubelet.log" -- "$PT_PY" \
		"$PT_FIXTURES/kubelet.py" "$KUBELET_PORT" --cert "$d/kubelet.crt" \
		--key "$d/kubelet.key" --pods "$PODS" --token "$ACCEPTED" \
		--log "$KLOG" --mode "$MODE")
	pt_wait_port "$KUBELET_PORT" 10 "$KUBELET_PID"
	export KUBELET_PID KUBELET_URL="https://127.0.0.1:$KUBELET_PORT"
}

teardown_file() {
	pt_cleanup
}

setup() {
	# Processes recorded from here on are this test's; teardown stops
	# them whatever the outcome.
	pt_test_mark
	KLOG_MARK=$(wc -l <"$KLOG")
	PODTAP_PID=""
	echo ok >"$MODE"
	echo "$TOKEN" >"$TOKEN_FILE"
	# The four pods of setup_file only.
	for f in "$KDIR"/pods.d/*.json; do
		case ${f##*/} in
		web.json | db.json | agent.json | bare.json) ;;
		*) rm -f "$f" ;;
		esac
	done
	write_list
}

teardown() {
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${PODTAP_LOG:-}" ]; then :; else
		echo "--- podtap log:" >&2
		tail -n 30 "$PODTAP_LOG" >&2
	fi
	pt_test_stop
}

# make_pod KEY NS POD CONTAINER [OWNER_KIND OWNER [POD_TEMPLATE_HASH]]: a
# simulated pod running rawserver.py, and its entry for the PodList (as a
# kubelet writes it: labels, owner, spec, a running container status with
# the containerd id of its cgroup). Exports <KEY>_NS, _POD, _C, _PORT, _UID,
# _SCOPE, _OWNER (the workload label, e.g. k8s_deployment_name=web). With
# LIST_FIRST=1 the fixture's list has the pod (write_list) before its
# server starts, as a kubelet lists a pod before its containers run.
make_pod() {
	local key=$1 ns=$2 pod=$3 c=$4 kind=${5:-} owner=${6:-} hash=${7:-}
	local port pid label=""
	pt_pod_create "$ns" "$pod" "$c"
	port=$(pt_free_port)
	case $kind in
	ReplicaSet) label=k8s_deployment_name=${owner%-"$hash"} ;;
	StatefulSet) label=k8s_statefulset_name=$owner ;;
	DaemonSet) label=k8s_daemonset_name=$owner ;;
	esac
	jq -n --arg ns "$ns" --arg name "$pod" --arg uid "$PT_POD_UID" \
		--arg c "$c" --arg cid "$PT_POD_CID" --arg kind "$kind" \
		--arg owner "$owner" --arg hash "$hash" --arg node "$NODE" '
	{metadata: ({name: $name, namespace: $ns, uid: $uid,
		resourceVersion: "48213377",
		creationTimestamp: "2024-05-02T09:14:30Z",
		labels: ({app: $c} + (if $hash != "" then
			{"pod-template-hash": $hash} else {} end)),
		annotations: {"kubernetes.io/config.source": "api"}}
		+ (if $kind == "" then {} else {ownerReferences: [{
			apiVersion: "apps/v1", kind: $kind, name: $owner,
			uid: "7d0c5a53-1f0e-4c2b-9a8e-3b4c5d6e7f80",
			controller: true, blockOwnerDeletion: true}]} end)),
	 spec: {containers: [{name: $c, image: ("registry.example/" + $c + ":1.0"),
		ports: [{containerPort: 8080, protocol: "TCP"}],
		imagePullPolicy: "IfNotPresent"}],
		restartPolicy: "Always", nodeName: $node,
		serviceAccountName: "default"},
	 status: {phase: "Running", hostIP: "127.0.0.1", podIP: "10.8.0.9",
		qosClass: "Burstable", startTime: "2024-05-02T09:14:31Z",
		containerStatuses: [{name: $c, ready: true, restartCount: 0,
			started: true, image: ("registry.example/" + $c + ":1.0"),
			imageID: "registry.example/x@sha256:0123",
			containerID: ("containerd://" + $cid),
			state: {running: {startedAt: "2024-05-02T09:14:40Z"}}}]}}' \
		>"$KDIR/pods.d/$key.json"
	[ "${LIST_FIRST:-}" = 1 ] && write_list
	pid=$(pt_spawn "$PT_TMP/logs/$key.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" "$PT_FIXTURES/rawserver.py" "$port")
	pt_wait_port "$port" 10 "$pid"
	local v=${key^^}
	export "${v}_NS=$ns" "${v}_POD=$pod" "${v}_C=$c" "${v}_PORT=$port"
	export "${v}_UID=$PT_POD_UID" "${v}_SCOPE=$PT_POD_SCOPE"
	export "${v}_OWNER=$label"
}

# write_list: the PodList the fixture serves, from pods.d (renamed into
# place: the fixture never reads half a file).
write_list() {
	jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}' \
		"$KDIR"/pods.d/*.json >"$PODS.tmp"
	mv "$PODS.tmp" "$PODS"
}

# start [FLAGS...]: podtap reading the fixture with the right CA and token.
start() {
	pt_podtap_start --kubelet --kubelet-url "$KUBELET_URL" \
		--kubelet-ca-file "$CA" --kubelet-token-file "$TOKEN_FILE" "$@"
}

# req KEY N [PATH]: N requests (default GET /ok, 200) to KEY's server.
req() {
	local port=${1^^}_PORT i
	for i in $(seq 1 "$2"); do
		printf 'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' "${3:-/ok}" |
			pt_raw "${!port}" --expect 200 >/dev/null
	done
}

# labels KEY [named|dir]: the full label set of KEY's GET /ok series, as
# the kubelet names it (with its owner) or as the log directory does.
labels() {
	local v=${1^^}
	local ns=${v}_NS pod=${v}_POD c=${v}_C owner=${v}_OWNER
	pt_pod_labels "${!ns}" "${!pod}" "${!c}"
	[ "${2:-named}" = named ] && [ -n "${!owner}" ] && echo "${!owner}"
	printf '%s\n' http_request_method=GET http_response_status_code=200 \
		http_route=/ok url_scheme=http
}

# expect N KEY [named|dir]: KEY's series counts exactly N.
expect() {
	local -a l
	mapfile -t l < <(labels "$2" "${3:-named}")
	pt_wait_metric "$1" "${PT_HIST}_count" "${l[@]}"
}

# klog [JQ_FILTER]: this test's requests to the fixture matching the filter.
klog() {
	tail -n +"$((KLOG_MARK + 1))" "$KLOG" | jq -c "select(${1:-true})" | wc -l
}

# wait_klog N [JQ_FILTER]: until the fixture has seen exactly N such requests.
wait_klog() {
	local i got
	for i in $(seq 1 100); do
		got=$(klog "${2:-true}")
		[ "$got" -ge "$1" ] && break
		sleep 0.1
	done
	pt_expect_eq "kubelet fixture requests (${2:-all})" "$1" "$got"
}

# wait_klog_ge N [JQ_FILTER]: until the fixture has seen at least N such
# requests (bounded: PT_WAIT_S, default 5 s).
wait_klog_ge() {
	local i got
	for i in $(seq 1 $((${PT_WAIT_S:-5} * 10))); do
		got=$(klog "${2:-true}")
		[ "$got" -ge "$1" ] && return 0
		sleep 0.1
	done
	pt_fail "kubelet fixture requests (${2:-all}): expected >= $1, got $got"
	return 1
}

# requests_agree: podtap_kubelet_requests_total equals the requests the
# fixture saw, at a moment when none is in flight (the fixture logs a
# request as it comes, podtap counts it once it has ended).
requests_agree() {
	local i a b1 b2
	for i in $(seq 1 50); do
		b1=$(klog)
		a=$(pt_metric podtap_kubelet_requests_total)
		b2=$(klog)
		[ "$a" = "$b1" ] && [ "$b1" = "$b2" ] && return 0
		sleep 0.1
	done
	pt_fail "podtap_kubelet_requests_total $a, fixture requests $b1..$b2"
	return 1
}

# errors_other_than REASON: the sum of podtap_kubelet_errors_total without it.
errors_other_than() {
	local f
	f=$(pt_scrape) || return 1
	echo $(( $(pt_mq sum "$f" podtap_kubelet_errors_total) -
		$(pt_mq sum "$f" podtap_kubelet_errors_total "reason=$1") ))
}

@test "kubelet names: pod, container and the owning Deployment, StatefulSet, DaemonSet; node name on every series; the token is sent" {
	local f
	start
	pt_wait_metric 4 podtap_kubelet_pods
	req web 3
	req db 2
	req agent 1
	req bare 1
	expect 3 web
	expect 2 db
	expect 1 agent
	expect 1 bare
	# The owners are really there: none of it under log-directory names.
	[ "$WEB_OWNER" = k8s_deployment_name=web ]
	pt_expect_metric 0 "${PT_HIST}_count" $(labels web dir)
	pt_expect_metric 0 "${PT_HIST}_count" $(labels db dir)
	f=$(pt_scrape)
	# The pods' series carry the node name (host series do too: other
	# suites' pods on the machine count as host traffic here).
	pt_expect_eq "pod series of this node" 4 \
		"$(pt_mq keys "$f" "${PT_HIST}_count" "k8s_node_name=$NODE" http_route=/ok |
			grep -c 'k8s_pod_name="[^"]')"
	pt_expect_eq "pod series without the node name" 0 \
		"$(pt_mq keys "$f" "${PT_HIST}_count" |
			grep 'k8s_pod_name="[^"]' | grep -vcF "k8s_node_name=\"$NODE\"")"
	# GET /pods with the bearer token, every time (pods of other tests
	# running on this machine may ask for refreshes too); no errors.
	pt_num_gt "$(klog)" 0
	pt_expect_eq "requests without the token" 0 "$(klog '.path != "/pods" or .auth != "ok" or .status != 200')"
	requests_agree
	pt_expect_eq "errors" 0 "$(pt_mq sum "$f" podtap_kubelet_errors_total)"
	promtool check metrics <"$f"
	pt_podtap_alive
	pt_podtap_stop
}

@test "a token the kubelet refuses: 401 counted as unauthorized, log-directory names; the file is read again, and the right token works" {
	local n
	echo "not-the-token" >"$TOKEN_FILE"
	start --kubelet-refresh 1
	PT_WAIT_S=10 pt_wait_metric_ge 2 podtap_kubelet_errors_total reason=unauthorized
	pt_expect_metric 0 podtap_kubelet_pods
	req web 2
	expect 2 web dir
	echo "$TOKEN" >"$TOKEN_FILE"
	PT_WAIT_S=10 pt_wait_metric 4 podtap_kubelet_pods
	req web 3
	expect 3 web
	expect 2 web dir
	# Exactly the fixture's 401s, every request counted, no other error.
	n=$(klog '.status == 401')
	pt_num_gt "$n" 1
	pt_expect_eq "all 401s were for a bad token" "$n" "$(klog '.status == 401 and .auth == "bad"')"
	pt_expect_metric "$n" podtap_kubelet_errors_total reason=unauthorized
	requests_agree
	pt_expect_eq "other errors" 0 "$(errors_other_than unauthorized)"
	# Logged once when it started failing and once when it recovered,
	# not at every refresh.
	pt_expect_eq "401 log lines" 1 "$(grep -c '401 Unauthorized' "$PODTAP_LOG")"
	pt_expect_eq "recovery log lines" 1 "$(grep -c 'answers again' "$PODTAP_LOG")"
	pt_podtap_alive
	pt_podtap_stop
}

@test "a token file that cannot be read: counted as token, and nothing is sent" {
	start --kubelet-token-file "$KDIR/no-such-token" --kubelet-refresh 3600
	pt_wait_metric 1 podtap_kubelet_errors_total reason=token
	pt_wait_metric 1 podtap_kubelet_requests_total
	pt_expect_eq "other errors" 0 "$(errors_other_than token)"
	pt_expect_eq "requests the fixture saw" 0 "$(klog)"
	grep -q "cannot read a token from $KDIR/no-such-token: No such file or directory" "$PODTAP_LOG"
	pt_podtap_stop
}

@test "kubelet down: connection refused counted as connect, log-directory names, no crash" {
	local port
	port=$(pt_free_port)
	start --kubelet-url "https://127.0.0.1:$port" --kubelet-refresh 3600
	pt_wait_metric 1 podtap_kubelet_errors_total reason=connect
	req db 2
	req web 1
	expect 2 db dir
	expect 1 web dir
	pt_expect_metric 0 podtap_kubelet_pods
	# One attempt (the next is an hour away): unknown pods ask no more
	# while there is no list at all.
	pt_wait_metric 1 podtap_kubelet_requests_total
	pt_expect_metric 1 podtap_kubelet_errors_total reason=connect
	pt_expect_eq "other errors" 0 "$(errors_other_than connect)"
	grep -q "kubelet https://127.0.0.1:$port/pods: .*pod names come from the pod log directory" "$PODTAP_LOG"
	pt_podtap_alive
	pt_podtap_stop
}

@test "403 from the kubelet (RBAC): counted as forbidden, log-directory names" {
	echo 403 >"$MODE"
	start --kubelet-refresh 3600
	pt_wait_metric 1 podtap_kubelet_errors_total reason=forbidden
	req agent 2
	expect 2 agent dir
	pt_expect_metric 0 podtap_kubelet_pods
	pt_expect_eq "requests (token sent, 403)" 1 "$(klog '.auth == "ok" and .status == 403')"
	pt_expect_eq "requests" 1 "$(klog)"
	pt_expect_eq "other errors" 0 "$(errors_other_than forbidden)"
	grep -q "403 Forbidden: the service account needs get on nodes/proxy" "$PODTAP_LOG"
	pt_podtap_alive
	pt_podtap_stop
}

@test "a body that is not a PodList: counted as parse, a 500 as http_status; the last good list stays in use" {
	start --kubelet-refresh 1
	pt_wait_metric 4 podtap_kubelet_pods
	echo garbage >"$MODE"
	PT_WAIT_S=10 pt_wait_metric_ge 1 podtap_kubelet_errors_total reason=parse
	echo 500 >"$MODE"
	PT_WAIT_S=10 pt_wait_metric_ge 1 podtap_kubelet_errors_total reason=http_status
	pt_expect_metric 4 podtap_kubelet_pods
	req web 2
	expect 2 web
	pt_expect_metric 0 "${PT_HIST}_count" $(labels web dir)
	echo ok >"$MODE"
	# Answered again (with --kubelet-refresh 1 and refreshes other pods
	# on the machine ask for, how many by now depends on timing).
	PT_WAIT_S=10 wait_klog_ge 2 '.status == 200'
	# Every failed request counted under its reason, nothing else.
	pt_wait_metric "$(klog '.status == "garbage"')" podtap_kubelet_errors_total reason=parse
	pt_wait_metric "$(klog '.status == 500')" podtap_kubelet_errors_total reason=http_status
	pt_expect_eq "other errors" 0 "$(( $(errors_other_than parse) - $(klog '.status == 500') ))"
	grep -q 'bad PodList: not JSON' "$PODTAP_LOG"
	pt_podtap_alive
	pt_podtap_stop
}

@test "TLS: a kubelet certificate from another CA is refused (tls); --kubelet-insecure-skip-verify accepts it; the environment twins" {
	start --kubelet-ca-file "$OTHER_CA" --kubelet-refresh 3600
	pt_wait_metric 1 podtap_kubelet_errors_total reason=tls
	pt_expect_metric 0 podtap_kubelet_pods
	pt_expect_eq "requests the fixture answered" 0 "$(klog)"
	pt_podtap_stop
	# The same through PODTAP_* (and a chart's "true"), certificate not
	# checked.
	PODTAP_KUBELET=true PODTAP_KUBELET_URL=$KUBELET_URL \
		PODTAP_KUBELET_CA_FILE=$OTHER_CA \
		PODTAP_KUBELET_INSECURE_SKIP_VERIFY=1 \
		PODTAP_KUBELET_TOKEN_FILE=$TOKEN_FILE PODTAP_KUBELET_REFRESH=3600 \
		PODTAP_SERIES_TTL=60 pt_podtap_start
	pt_wait_metric 4 podtap_kubelet_pods
	pt_expect_metric 0 podtap_kubelet_errors_total reason=tls
	req db 1
	expect 1 db
	pt_num_gt "$(klog '.auth == "ok" and .status == 200')" 0
	pt_expect_eq "requests not answered" 0 "$(klog '.status != 200')"
	pt_podtap_stop
}

# asked_for UID: how often podtap asked for a refresh because of pod UID
# (needs -v); other pods of other tests on this machine may ask too, so
# kubelet requests are not counted for this.
asked_for() {
	grep -c "pod $1.* is not in the kubelet's list" "$PODTAP_LOG" || true
}

# listed_after_ask UID: waits until podtap's log (-v) shows a pod list
# fetched after it asked for one for pod UID: the refresh that pod asked
# for (or one another pod asked for: either lists it).
listed_after_ask() {
	local i
	for i in $(seq 1 100); do
		awk -v u="pod $1" 'index($0, u) && /is not in the kubelet.s list/ { a = 1; next }
			a && /kubelet .*: [0-9]+ pods/ { f = 1; exit } END { exit !f }' \
			"$PODTAP_LOG" && return 0
		sleep 0.1
	done
	pt_fail "no pod list fetched after podtap asked for one for pod $1"
	return 1
}

# stray_refresh KEY SINCE: podtap asked nothing for KEY's pod, and the fixture
# answered a request since its request count was SINCE: a refresh another
# pod on the machine asked for listed KEY's pod before podtap first looked
# it up.
stray_refresh() {
	local uid=${1^^}_UID
	[ "$(asked_for "${!uid}")" = 0 ] && [ "$(klog)" -gt "$2" ]
}

# named_first KEY SINCE [NAMED]: after KEY's first request (GET /ok), until
# it is counted (its series under the kubelet's names had NAMED, default 0;
# under log-directory names none): 0 when under its log directory's names
# (podtap's list was older than the pod, as the test wants), 1 when under
# the kubelet's because of a stray refresh (stray_refresh: the test tries
# again with another pod), 2 (and a failure) otherwise.
named_first() {
	local i d n n0=${3:-0}
	for i in $(seq 1 50); do
		d=$(count_of "$1" dir)
		n=$(count_of "$1" named)
		[ "$d" = 1 ] && [ "$n" = "$n0" ] && return 0
		[ "$n" = $((n0 + 1)) ] && [ "$d" = 0 ] && break
		sleep 0.1
	done
	if [ "$n" = $((n0 + 1)) ] && [ "$d" = 0 ] && stray_refresh "$1" "$2"; then
		pt_log "a refresh another pod asked for listed $1 first: again, with another pod"
		return 1
	fi
	pt_fail "$1's first request: $d counted under log-directory names, $((n - n0)) under the kubelet's"
	return 2
}

# count_of KEY named|dir: KEY's GET /ok count under those names now.
count_of() {
	local -a l
	mapfile -t l < <(labels "$1" "$2")
	pt_metric "${PT_HIST}_count" "${l[@]}"
}

# Pod name suffixes for another try of a pod that appears.
SUFFIXES=(k2k2k m7x9q p4t8w)

# The Python hooks stay off where a test needs the pod's first request to be
# the first time podtap looks its cgroup up: with them, the pod's gunicorn
# is looked up at exec, before any request, and asks for the refresh then.
@test "a pod that appears after start: its unknown UID asks for one refresh, and it is named by the kubelet from then on" {
	local try since rc
	start --kubelet-refresh 3600 -v --no-python-hooks
	pt_wait_metric 4 podtap_kubelet_pods
	for try in 0 1 2; do
		since=$(klog)
		make_pod late shop "late-6c8b9d7f5-${SUFFIXES[try]}" late ReplicaSet late-6c8b9d7f5 6c8b9d7f5
		write_list
		# Its first request: named by its log directory, and a refresh.
		req late 1
		rc=0
		named_first late "$since" || rc=$?
		[ "$rc" = 0 ] && break
		[ "$rc" = 1 ] && [ "$try" != 2 ] || return 1
	done
	listed_after_ask "$LATE_UID"
	pt_expect_metric 5 podtap_kubelet_pods
	req late 3
	expect 3 late
	expect 1 late dir
	# One refresh for it, not one per request.
	pt_expect_eq "refreshes asked for $LATE_UID" 1 "$(asked_for "$LATE_UID")"
	pt_expect_eq "requests not answered" 0 "$(klog '.status != 200')"
	pt_podtap_alive
	pt_podtap_stop
}

@test "with the Python hooks, a pod that appears after start is looked up at exec: one refresh, and every request named by the kubelet" {
	local try since
	start --kubelet-refresh 3600 -v
	pt_wait_metric 4 podtap_kubelet_pods
	for try in 0 1 2; do
		since=$(klog)
		# Listed first (a kubelet lists a pod before its containers
		# run), then its server starts: its interpreter, hooked ~50 ms
		# after exec, is looked up then, and asks for the pod's names;
		# the refresh is in before the first request is sent.
		LIST_FIRST=1 make_pod late shop "late-6c8b9d7f5-${SUFFIXES[try]}" late ReplicaSet late-6c8b9d7f5 6c8b9d7f5
		pt_wait_metric_ge 1 python_info "k8s_pod_name=$LATE_POD"
		[ "$(asked_for "$LATE_UID")" != 0 ] && break
		stray_refresh late "$since" && [ "$try" != 2 ] ||
			{ pt_fail "podtap asked for no refresh for $LATE_UID"; return 1; }
		pt_log "a refresh another pod asked for listed late first: again, with another pod"
	done
	listed_after_ask "$LATE_UID"
	pt_wait_metric 5 podtap_kubelet_pods
	req late 3
	expect 3 late
	expect 0 late dir
	pt_expect_eq "refreshes asked for $LATE_UID" 1 "$(asked_for "$LATE_UID")"
	pt_podtap_alive
	pt_podtap_stop
}

@test "a kubelet that never answers holds up nothing: requests are counted meanwhile, and podtap stops at once" {
	local t0
	echo hang >"$MODE"
	# No hooks: their uprobes' detach adds ~2 s of kernel synchronisation
	# to any stop (traces.bats bounds that); this bounds the kubelet's.
	# A stop that waited for the hanging request would take its timeout
	# (20 s from its start, some 17 s from here); a stop that does not
	# wait takes 1 or 2 s, more on a loaded machine (detaching each
	# tracepoint waits for the kernel): the bound is half the timeout.
	start --kubelet-refresh 3600 --no-python-hooks
	wait_klog 1 '.status == "hang"'
	req web 2
	req bare 1
	expect 2 web dir
	expect 1 bare dir
	pt_expect_metric 0 podtap_kubelet_pods
	# still waiting for its answer
	pt_expect_metric 0 podtap_kubelet_requests_total
	t0=$(date +%s)
	pt_podtap_stop 10
	pt_log "stopped in $(( $(date +%s) - t0 )) s"
	pt_num_gt 10 $(( $(date +%s) - t0 ))
}

# wait_no_series TIMEOUT_S l=v...: until no server series has those labels.
wait_no_series() {
	local timeout=$1 i n
	shift
	for i in $(seq 1 $((timeout * 10))); do
		n=$(pt_series_keys "$@" | wc -l)
		[ "$n" = 0 ] && return 0
		sleep 0.1
	done
	pt_fail "series with $* still there after ${timeout}s"
	pt_series_keys "$@" >&2
	return 1
}

# pod_gone KEY: its server stopped, its cgroup (container and pod) removed,
# as when the kubelet deletes a pod; the log directory stays.
pod_gone() {
	local v=${1^^}
	local scope=${v}_SCOPE pids
	pids=$(cat "${!scope}/cgroup.procs")
	for p in $pids; do pt_stop_pid "$p" 5; done
	rmdir "${!scope}" "$(dirname "${!scope}")"
}

@test "series expiry: a pod whose cgroup is gone drops out --series-ttl after its last request; a live idle pod stays; a new pod of the old name starts afresh" {
	local e0 f
	pt_podtap_start --series-ttl 2
	make_pod gone shop gone-0 app
	make_pod stay shop stay-0 app
	e0=$(pt_metric podtap_series_expired_total workload=pod)
	req gone 3
	req gone 1 /noclen
	req stay 1
	expect 3 gone dir
	expect 1 stay dir
	pod_gone gone
	# Both its series go (its GET /ok and GET /noclen), counted.
	wait_no_series 10 k8s_pod_name=gone-0
	pt_expect_metric $((e0 + 2)) podtap_series_expired_total workload=pod
	# The live pod, idle as long, keeps its series.
	sleep 3
	expect 1 stay dir
	pt_expect_metric $((e0 + 2)) podtap_series_expired_total workload=pod
	# The same names again, a new UID: counts from zero.
	make_pod gone shop gone-0 app
	req gone 2
	expect 2 gone dir
	f=$(pt_scrape)
	pt_expect_eq "series of gone-0" 1 \
		"$(pt_mq series "$f" "${PT_HIST}_count" k8s_pod_name=gone-0 | wc -l)"
	pt_podtap_alive
	pt_podtap_stop
}

@test "a StatefulSet's pod made again within --series-ttl continues its series: one series, counts added" {
	local try since rc named=3
	make_pod again data again-0 again StatefulSet again
	write_list
	start --kubelet-refresh 3600 --series-ttl 300 -v --no-python-hooks
	pt_wait_metric 5 podtap_kubelet_pods
	req again 3
	expect 3 again
	for try in 0 1 2; do
		pod_gone again
		since=$(klog)
		make_pod again data again-0 again StatefulSet again
		write_list
		# Its first request goes by the log directory's names while the
		# refresh its new UID asked for runs; then the kubelet's, the
		# very series of the pod before it.
		req again 1
		rc=0
		named_first again "$since" "$named" || rc=$?
		[ "$rc" = 0 ] && break
		[ "$rc" = 1 ] && [ "$try" != 2 ] || return 1
		# That request went to the pod's series: made again once more.
		named=$((named + 1))
	done
	listed_after_ask "$AGAIN_UID"
	req again 2
	expect $((named + 2)) again
	expect 1 again dir
	pt_expect_eq "refreshes asked for $AGAIN_UID" 1 "$(asked_for "$AGAIN_UID")"
	pt_expect_metric 0 podtap_series_expired_total workload=pod
	pt_podtap_alive
	pt_podtap_stop
}

@test "flags: --kubelet needs a URL or NODE_IP, which makes the default one (IPv6 in brackets); bad values are refused" {
	run env -u NODE_IP timeout 10 "$PODTAP_BIN" --kubelet --no-pin
	[ "$status" -eq 2 ]
	[[ "$output" == *"--kubelet needs --kubelet-url (PODTAP_KUBELET_URL) or NODE_IP"* ]]
	run timeout 10 "$PODTAP_BIN" --kubelet --kubelet-url ftp://node:10250
	[ "$status" -eq 2 ]
	[[ "$output" == *"--kubelet-url must be an http:// or https:// URL"* ]]
	run timeout 10 "$PODTAP_BIN" --series-ttl 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--series-ttl must be a number in 1.."* ]]
	run timeout 10 "$PODTAP_BIN" --kubelet-refresh 0
	[ "$status" -eq 2 ]
	run env PODTAP_KUBELET=sometimes timeout 10 "$PODTAP_BIN"
	[ "$status" -eq 2 ]
	[[ "$output" == *"PODTAP_KUBELET must be 1 or 0 (true or false), got 'sometimes'"* ]]
	run env PODTAP_SERIES_TTL=soon timeout 10 "$PODTAP_BIN"
	[ "$status" -eq 2 ]
	run timeout 10 "$PODTAP_BIN" --help
	[ "$status" -eq 0 ]
	for f in --kubelet --kubelet-url --kubelet-token-file --kubelet-ca-file \
		--kubelet-insecure-skip-verify --kubelet-refresh --series-ttl \
		PODTAP_KUBELET_INSECURE_SKIP_VERIFY PODTAP_SERIES_TTL NODE_NAME NODE_IP; do
		[[ "$output" == *"$f"* ]] || { pt_fail "--help does not mention $f"; return 1; }
	done
	# PODTAP_KUBELET=0 is off: no kubelet metrics.
	PODTAP_KUBELET=0 pt_podtap_start
	[ -z "$(pt_mq series "$(pt_scrape)" podtap_kubelet_pods)" ]
	pt_podtap_stop
	NODE_IP=::1 pt_podtap_start --kubelet --kubelet-refresh 3600
	pt_wait_metric 1 podtap_kubelet_requests_total
	grep -q "pod metadata from the kubelet at https://\[::1\]:10250/pods every 3600 s" "$PODTAP_LOG"
	pt_podtap_stop
}
