# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Reading podtap's /metrics. Sourced by common.bash.
#
# Label sets are given as l=v arguments; order does not matter, and "l=" is
# the empty string (= an absent label, as in Prometheus). Parsing is done by
# lib/promq.py with prometheus_client's parser.

PT_HIST=http_server_request_duration_seconds

# pt_scrape [URL]: GETs /metrics (default podtap's) into a new file and
# prints its path; fails unless the status is 200.
pt_scrape() {
	local url=${1:-$PODTAP_URL/metrics} f code
	f=$(mktemp "$PT_TMP/scrapes/m.XXXXXX") || return 1
	code=$(curl -s -o "$f" -w '%{http_code}' --max-time 5 "$url") || true
	if [ "$code" != 200 ]; then
		pt_fail "GET $url: status $code"
		return 1
	fi
	echo "$f"
}

# pt_mq CMD FILE NAME [l=v...]: runs promq.py (see there).
pt_mq() {
	"$PT_PY" "$PT_LIB_DIR/promq.py" "$@"
}

# pt_metric NAME [l=v...]: value of the sample with exactly these labels in a
# fresh scrape, or "0" when there is no such sample.
pt_metric() {
	local f v rc
	f=$(pt_scrape) || return 1
	v=$(pt_mq get "$f" "$@") && rc=0 || rc=$?
	case $rc in
	0) echo "$v" ;;
	3) echo 0 ;;
	*) return 1 ;;
	esac
}

# pt_metric_sum NAME [l=v...]: sum over samples whose labels include l=v...
pt_metric_sum() {
	local f
	f=$(pt_scrape) || return 1
	pt_mq sum "$f" "$@"
}

# Label sets, printed one label a line (for mapfile, or $(...) word
# splitting where no value has a space), with the node name podtap was
# started with (pt_podtap_start) and no owning workload (a test that has
# the kubelet name one adds it).
# pt_pod_labels NS POD CONTAINER -> k8s labels + service_name (one per line)
pt_pod_labels() {
	printf '%s\n' "k8s_namespace_name=$1" "k8s_pod_name=$2" \
		"k8s_container_name=$3" "service_name=$3" \
		"k8s_node_name=${PODTAP_NODE_NAME:-}"
}

# pt_host_labels COMM -> labels of a process outside any pod
pt_host_labels() {
	printf '%s\n' "k8s_namespace_name=" "k8s_pod_name=" \
		"k8s_container_name=" "service_name=$1" \
		"k8s_node_name=${PODTAP_NODE_NAME:-}"
}

# pt_req_labels METHOD STATUS ROUTE SCHEME -> the request's labels
pt_req_labels() {
	printf '%s\n' "http_request_method=$1" "http_response_status_code=$2" \
		"http_route=$3" "url_scheme=$4"
}

# pt_srv_labels NS POD CONTAINER METHOD STATUS ROUTE [SCHEME] -> the full
# label set of a pod's server series (SCHEME: default http)
pt_srv_labels() {
	pt_pod_labels "$1" "$2" "$3"
	pt_req_labels "$4" "$5" "$6" "${7:-http}"
}

# pt_client_labels NS POD CONTAINER METHOD STATUS ROUTE SCHEME ADDRESS PORT
# -> the full label set of a pod's client series towards ADDRESS:PORT
pt_client_labels() {
	pt_pod_labels "$1" "$2" "$3"
	pt_req_labels "$4" "$5" "$6" "$7"
	printf '%s\n' "server_address=$8" "server_port=$9"
}

# The apps of a suite, by a short name of its own (WHO: web, api, host, ...)
# given once, in setup_file, and kept in $PT_TMP/who (so every test sees
# it); the node name is read when a series is asked for.
#   pt_who WHO NS POD CONTAINER      pod NS/POD's container CONTAINER
#   pt_who WHO --host COMM           a process in no pod, of comm COMM
pt_who() {
	mkdir -p "$PT_TMP/who" || return 1
	printf '%s\n' "${@:2}" >"$PT_TMP/who/$1"
}

# pt_sel WHO METHOD STATUS ROUTE [SCHEME] -> the full label set of WHO's
# server series (SCHEME: default http)
pt_sel() {
	local -a w
	if [ ! -s "$PT_TMP/who/$1" ]; then
		pt_fail "pt_sel: no app $1 (pt_who)"
		return 1
	fi
	mapfile -t w <"$PT_TMP/who/$1"
	if [ "${w[0]}" = --host ]; then
		pt_host_labels "${w[1]}"
		pt_req_labels "$2" "$3" "$4" "${5:-http}"
	else
		pt_srv_labels "${w[@]}" "$2" "$3" "$4" "${5:-http}"
	fi
}

# pt_count WHO METHOD STATUS ROUTE [SCHEME]: the _count of that server
# series now (0 if there is none).
pt_count() {
	local sel
	local -a l
	sel=$(pt_sel "$@") || return 1
	mapfile -t l <<<"$sel"
	pt_metric "${PT_HIST}_count" "${l[@]}"
}

# pt_expect_count N WHO METHOD STATUS ROUTE [SCHEME]: waits until its
# _count is exactly N and stays there (pt_wait_metric).
pt_expect_count() {
	local n=$1 sel
	local -a l
	shift
	sel=$(pt_sel "$@") || return 1
	mapfile -t l <<<"$sel"
	pt_wait_metric "$n" "${PT_HIST}_count" "${l[@]}"
}

# pt_series WHO...: every _count series of each WHO, with values, from one
# scrape: a pod's by its pod name, a host process's by its comm.
pt_series() {
	local f who
	local -a w
	f=$(pt_scrape) || return 1
	for who in "$@"; do
		if [ ! -s "$PT_TMP/who/$who" ]; then
			pt_fail "pt_series: no app $who (pt_who)"
			return 1
		fi
		mapfile -t w <"$PT_TMP/who/$who"
		if [ "${w[0]}" = --host ]; then
			pt_mq series "$f" "${PT_HIST}_count" k8s_pod_name= "service_name=${w[1]}"
		else
			pt_mq series "$f" "${PT_HIST}_count" "k8s_pod_name=${w[1]}"
		fi
	done
}

# pt_wait_metric EXPECTED NAME [l=v...]: polls (up to PT_WAIT_S, default
# 15 s: on a loaded machine podtap's event loop runs seconds behind, with
# every process's traffic to read) until the exact-label sample equals
# EXPECTED, then checks it still does PT_HOLD_S (default 0.4 s) later: N
# requests sent means N counted, not N then N+1. A value above EXPECTED
# fails at once. Absent counts as 0.
pt_wait_metric() {
	local want=$1 got="" deadline f
	shift
	deadline=$(( $(date +%s%N) + ${PT_WAIT_S:-15} * 1000000000 ))
	while :; do
		got=$(pt_metric "$@") || return 1
		if [ "$got" = "$want" ]; then
			sleep "${PT_HOLD_S:-0.4}"
			got=$(pt_metric "$@") || return 1
			if [ "$got" = "$want" ]; then
				return 0
			fi
			pt_fail "$(pt_fmt_sel "$@"): reached $want, then became $got"
			pt_dump_near "$@"
			return 1
		fi
		if pt_num_gt "$got" "$want"; then
			# It may still be climbing: take a last look for the message.
			sleep 0.2
			got=$(pt_metric "$@") || true
			pt_fail "$(pt_fmt_sel "$@"): expected $want, got $got"
			pt_dump_near "$@"
			return 1
		fi
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.1
	done
	pt_fail "$(pt_fmt_sel "$@"): expected $want, got $got after ${PT_WAIT_S:-15}s"
	pt_dump_near "$@"
	return 1
}

# pt_expect_metric EXPECTED NAME [l=v...]: one scrape, exact value now.
pt_expect_metric() {
	local want=$1 got
	shift
	got=$(pt_metric "$@") || return 1
	if [ "$got" != "$want" ]; then
		pt_fail "$(pt_fmt_sel "$@"): expected $want, got $got"
		pt_dump_near "$@"
		return 1
	fi
}

# pt_wait_metric_ge MIN NAME [l=v...]: polls until a subset-sum >= MIN.
pt_wait_metric_ge() {
	local want=$1 got="" deadline
	shift
	deadline=$(( $(date +%s%N) + ${PT_WAIT_S:-15} * 1000000000 ))
	while :; do
		got=$(pt_metric_sum "$@") || return 1
		pt_num_gt "$want" "$got" || return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.1
	done
	pt_fail "$(pt_fmt_sel "$@") (summed): expected >= $want, got $got after ${PT_WAIT_S:-15}s"
	return 1
}

# pt_wait_sum EXPECTED NAME [l=v...]: like pt_wait_metric, for the sum of
# the samples whose labels include l=v...
pt_wait_sum() {
	local want=$1 got="" deadline
	shift
	deadline=$(( $(date +%s%N) + ${PT_WAIT_S:-15} * 1000000000 ))
	while :; do
		got=$(pt_metric_sum "$@") || return 1
		if [ "$got" = "$want" ]; then
			sleep "${PT_HOLD_S:-0.4}"
			got=$(pt_metric_sum "$@") || return 1
			[ "$got" = "$want" ] && return 0
			break
		fi
		pt_num_gt "$got" "$want" && break
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.1
	done
	pt_fail "$(pt_fmt_sel "$@") (summed): expected $want, got $got"
	pt_dump_near "$@"
	return 1
}

# pt_num_gt A B: A > B numerically.
pt_num_gt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

pt_fmt_sel() {
	local name=$1
	shift
	local IFS=,
	printf '%s{%s}' "$name" "$*"
}

# pt_dump_near NAME [l=v...]: on failure, print what there is for this name
# with the same k8s/service labels (to see what the daemon counted instead).
pt_dump_near() {
	local name=$1 f a
	local -a keep=()
	shift
	for a in "$@"; do
		case $a in k8s_*|service_name=*) keep+=("$a") ;; esac
	done
	f=$(pt_scrape 2>/dev/null) || return 0
	echo "--- $name samples with ${keep[*]:-any labels}:" >&2
	pt_mq series "$f" "$name" "${keep[@]}" | head -n 60 >&2
}

# pt_series_keys [l=v...]: the sorted label sets of all
# http_server_request_duration_seconds_count series that include l=v...
pt_series_keys() {
	local f
	f=$(pt_scrape) || return 1
	pt_mq keys "$f" "${PT_HIST}_count" "$@"
}
