# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The OTLP/HTTP test receiver (tests/otlp/receiver.js, decoding with the
# official OTLP schema) and reading the spans it wrote. Load after common:
#   load 'lib/common'
#   load 'lib/otlp'
#
# The receiver appends one JSON line per span to a spans file:
#   {resource: {k: v}, scope, traceId, spanId, parentSpanId (hex, "" if
#    none), name, kind ("SPAN_KIND_SERVER", ...), startTimeUnixNano,
#    endTimeUnixNano (decimal strings), attributes: {k: v} (ints as
#    numbers), status: {code: "STATUS_CODE_UNSET"|"..._OK"|"..._ERROR",
#    message}}
# one JSON line per metric data point to a points file (flatPoints in
# tests/otlp/otlp.js: {seq, resource, scope, name, unit, type, temporality,
# attributes, startTimeUnixNano, timeUnixNano, count, sum, bucketCounts,
# explicitBounds}), and, per POST, one line to a requests file: {seq,
# method, path, headers, bodyBytes, spans, points, status}.
#
# Spans are selected with jq boolean expressions over one span, with these
# shorthands (pt_otlp_defs): server, client, pod("NAME"), host (no pod),
# ua("UA"), trace("HEX"), route("R"), a("ATTR") (= .attributes["ATTR"]),
# r("ATTR") (= .resource["ATTR"]); jq options such as --arg x V may follow
# the expression. Reads skip a last line still being written.

PT_OTLP_DIR="$PT_REPO/tests/otlp"
PT_NODE=${PT_NODE:-node}

pt_otlp_defs='
def server: .kind == "SPAN_KIND_SERVER";
def client: .kind == "SPAN_KIND_CLIENT";
def pod($p): .resource["k8s.pod.name"] == $p;
def host: (.resource["k8s.pod.name"] // "") == "";
def ua($u): .attributes["user_agent.original"] == $u;
def trace($t): .traceId == $t;
def route($r): .attributes["http.route"] == $r;
def a($k): .attributes[$k];
def r($k): .resource[$k];
'

# pt_otlp_require: node and the receiver with its npm dependencies. Installs
# them (npm ci, from package-lock.json) when node_modules is missing.
pt_otlp_require() {
	if ! command -v "$PT_NODE" >/dev/null; then
		pt_fail "node is not installed (Debian package nodejs)"
		return 1
	fi
	if ! command -v jq >/dev/null; then
		pt_fail "jq is not installed (Debian package jq)"
		return 1
	fi
	if [ ! -f "$PT_OTLP_DIR/receiver.js" ]; then
		pt_fail "$PT_OTLP_DIR/receiver.js is missing"
		return 1
	fi
	if [ ! -d "$PT_OTLP_DIR/node_modules/@opentelemetry/otlp-transformer" ]; then
		pt_log "installing the receiver's npm dependencies (npm ci)"
		if ! npm ci --prefix "$PT_OTLP_DIR" --no-audit --no-fund >&2; then
			pt_fail "npm ci --prefix $PT_OTLP_DIR failed"
			return 1
		fi
	fi
}

# pt_otlp_start [--port P] [RECEIVER ARGS...]: starts a receiver on
# 127.0.0.1:P (default: a free port from pt_free_port), with a fresh spans
# file and requests file, plus RECEIVER ARGS (--fail-first N, --hang, ...).
# Waits (bounded) for its pid file, written once it listens. Sets and
# exports OTLP_PID, OTLP_PORT, OTLP_URL (http://127.0.0.1:P), OTLP_SPANS,
# OTLP_POINTS, OTLP_REQS, OTLP_LOG. Call it directly, not in $(...).
pt_otlp_start() {
	local port="" tag pidf pid i
	if [ "${1:-}" = --port ]; then port=$2; shift 2; fi
	[ -n "$port" ] || port=$(pt_free_port) || return 1
	tag="$port.$(pt_rand_hex 6)"
	pidf="$PT_TMP/otlp.$tag.pid"
	OTLP_SPANS="$PT_TMP/otlp.$tag.spans.jsonl"
	OTLP_REQS="$PT_TMP/otlp.$tag.requests.jsonl"
	OTLP_POINTS="$PT_TMP/otlp.$tag.points.jsonl"
	OTLP_LOG="$PT_TMP/logs/otlp.$tag.log"
	: >"$OTLP_REQS"
	pid=$(pt_spawn "$OTLP_LOG" -- "$PT_NODE" "$PT_OTLP_DIR/receiver.js" \
		"$port" --out "$OTLP_SPANS" --metrics-out "$OTLP_POINTS" \
		--requests "$OTLP_REQS" \
		--pid-file "$pidf" "$@") || return 1
	for i in $(seq 1 300); do
		[ -s "$pidf" ] && break
		if ! pt_alive "$pid"; then
			pt_fail "the OTLP receiver exited before listening"
			cat "$OTLP_LOG" >&2
			return 1
		fi
		sleep 0.05
	done
	if [ ! -s "$pidf" ]; then
		pt_fail "the OTLP receiver did not listen within 15 s"
		cat "$OTLP_LOG" >&2
		return 1
	fi
	if [ "$port" = 0 ]; then
		port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$OTLP_LOG")
	fi
	OTLP_PID=$pid
	OTLP_PORT=$port
	OTLP_URL="http://127.0.0.1:$port"
	export OTLP_PID OTLP_PORT OTLP_URL OTLP_SPANS OTLP_POINTS OTLP_REQS \
		OTLP_LOG
}

# pt_otlp_stop [PID]: stops the receiver (default $OTLP_PID) by pid.
pt_otlp_stop() {
	local pid=${1:-${OTLP_PID:-}}
	[ -n "$pid" ] || return 0
	pt_stop_pid "$pid" 5
	[ "$pid" = "${OTLP_PID:-}" ] && OTLP_PID=""
	return 0
}

# pt_otlp_clear_env: unsets every OTEL_* variable of this shell (what the
# suite was started with must not reach podtap or the apps).
pt_otlp_clear_env() {
	local v
	for v in $(compgen -e | grep -E '^OTEL_' || true); do unset "$v"; done
}

# pt_otlp_podtap_start [K=V...] [-- PODTAP FLAGS...]: pt_podtap_start with
# the environment K=V... (OTEL_*, NODE_NAME, PODTAP_*). Any OTEL_* variable
# of the calling environment is left out, and none of K=V stays set in the
# test's shell afterwards (the clients a test runs must not carry them: the
# daemon reads OTEL_SERVICE_NAME from the applications' environments).
pt_otlp_podtap_start() {
	local kv rc=0 v
	local -a names=()
	pt_otlp_clear_env
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		kv=$1
		shift
		case $kv in
		*=*) ;;
		*) pt_fail "pt_otlp_podtap_start: not K=V: $kv"; return 1 ;;
		esac
		export "${kv%%=*}=${kv#*=}"
		names+=("${kv%%=*}")
	done
	[ "${1:-}" = -- ] && shift
	pt_podtap_start "$@" || rc=$?
	for v in "${names[@]}"; do unset "$v"; done
	return $rc
}

# pt_otlp_spans [EXPR [JQ OPTIONS...]]: the spans (one compact JSON line
# each) in $PT_OTLP_FILE (default $OTLP_SPANS) for which EXPR is true.
pt_otlp_spans() {
	local expr=${1:-true}
	[ $# -gt 0 ] && shift
	jq -c -R "$pt_otlp_defs fromjson? | select($expr)" "$@" \
		"${PT_OTLP_FILE:-$OTLP_SPANS}"
}

# pt_otlp_count EXPR [JQ OPTIONS...]: how many spans match.
pt_otlp_count() {
	local n
	n=$(pt_otlp_spans "$@" | wc -l) || return 1
	echo "$n"
}

# pt_otlp_jq JQ_PROGRAM [JQ OPTIONS...]: runs JQ_PROGRAM over the array of
# all spans (jq -s; the shorthands are defined), e.g.
#   pt_otlp_jq '[.[] | select(server) | .spanId] | unique | length'
pt_otlp_jq() {
	local prog=$1
	shift
	jq -c -R "$pt_otlp_defs fromjson?" "${PT_OTLP_FILE:-$OTLP_SPANS}" |
		jq -c -s "$pt_otlp_defs $prog" "$@"
}

# pt_otlp_dump [EXPR [JQ OPTIONS...]]: on failure, show what arrived
# (matching EXPR; default all), briefly, on stderr.
pt_otlp_dump() {
	local expr=${1:-true} n
	[ $# -gt 0 ] && shift
	n=$(pt_otlp_count "$expr" "$@" 2>/dev/null || echo "?")
	{
		echo "--- $n span(s) in ${PT_OTLP_FILE:-$OTLP_SPANS} matching $expr" \
			"(first 20; kind, name, pod, trace, span, parent, status, attributes):"
		pt_otlp_spans "$expr" "$@" 2>/dev/null | head -n 20 |
			jq -c '[.kind, .name, .resource["k8s.pod.name"],
				.resource["service.name"], .traceId, .spanId,
				.parentSpanId, .status.code, .attributes]' 2>/dev/null
		echo "--- receiver requests (last 5):"
		tail -n 5 "$OTLP_REQS" 2>/dev/null | cut -c 1-400
	} >&2
}

# pt_otlp_wait_count N EXPR [JQ OPTIONS...]: polls (up to PT_OTLP_WAIT_S,
# default 20 s) until exactly N spans match EXPR, then checks that still
# holds PT_OTLP_HOLD_S (default 1 s: several batch timeouts) later. More
# than N fails at once (after the same settling look).
pt_otlp_wait_count() {
	local want=$1 got="" deadline
	shift
	deadline=$(( $(date +%s%N) + ${PT_OTLP_WAIT_S:-20} * 1000000000 ))
	while :; do
		got=$(pt_otlp_count "$@") || return 1
		if [ "$got" -eq "$want" ]; then
			sleep "${PT_OTLP_HOLD_S:-1}"
			got=$(pt_otlp_count "$@") || return 1
			[ "$got" -eq "$want" ] && return 0
			pt_fail "spans matching $1: reached $want, then became $got"
			pt_otlp_dump "$@"
			return 1
		fi
		[ "$got" -gt "$want" ] && break
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.1
	done
	sleep 0.3
	got=$(pt_otlp_count "$@") || true
	pt_fail "spans matching $1: expected $want, got $got (waited up to ${PT_OTLP_WAIT_S:-20}s)"
	pt_otlp_dump "$@"
	return 1
}

# pt_otlp_wait_ge N EXPR [JQ OPTIONS...]: polls (up to PT_OTLP_WAIT_S) until
# at least N spans match EXPR.
pt_otlp_wait_ge() {
	local want=$1 got="" deadline
	shift
	deadline=$(( $(date +%s%N) + ${PT_OTLP_WAIT_S:-20} * 1000000000 ))
	while :; do
		got=$(pt_otlp_count "$@") || return 1
		[ "$got" -ge "$want" ] && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && break
		sleep 0.1
	done
	pt_fail "spans matching $1: expected >= $want, got $got after ${PT_OTLP_WAIT_S:-20}s"
	pt_otlp_dump "$@"
	return 1
}

# pt_otlp_settle QUIET_S TIMEOUT_S EXPR [JQ OPTIONS...]: waits until the
# number of spans matching EXPR has not changed for QUIET_S seconds (at most
# TIMEOUT_S in all) and prints it. For figures that are not known exactly
# in advance (sampled shares).
pt_otlp_settle() {
	local quiet=$1 timeout=$2 n last=-1 since deadline now
	shift 2
	deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
	since=$(date +%s%N)
	while :; do
		n=$(pt_otlp_count "$@") || return 1
		now=$(date +%s%N)
		if [ "$n" != "$last" ]; then
			last=$n
			since=$now
		elif [ $(( now - since )) -ge $(( quiet * 1000000000 )) ]; then
			break
		fi
		if [ "$now" -ge "$deadline" ]; then
			pt_log "span count still changing after ${timeout}s (now $n)"
			break
		fi
		sleep 0.2
	done
	echo "$n"
}

# pt_otlp_requests [EXPR [JQ OPTIONS...]]: the receiver's request records
# (compact JSON lines) for which EXPR is true.
pt_otlp_requests() {
	local expr=${1:-true}
	[ $# -gt 0 ] && shift
	jq -c -R "fromjson? | select($expr)" "$@" "$OTLP_REQS"
}

# pt_otlp_expect_fields JSON_SPAN K=V...: checks fields of one span
# given as jq paths relative to the span (e.g. '.name=GET /',
# '.attributes["server.port"]=8080', '.resource["k8s.pod.name"]=web-1').
# V is compared with the field printed by jq -r (numbers as digits, null
# for absent); a leading "#" on V asks for a number (so "200" the string
# does not pass for the integer 200).
pt_otlp_expect_fields() {
	local span=$1 kv path want got type rc=0
	shift
	for kv in "$@"; do
		path=${kv%%=*}
		want=${kv#*=}
		got=$(jq -r "$path" <<<"$span") || { rc=1; continue; }
		if [ "${want:0:1}" = "#" ]; then
			want=${want:1}
			type=$(jq -r "$path | type" <<<"$span")
			if [ "$type" != number ]; then
				pt_fail "span $path: expected the number $want, got $type $got"
				rc=1
				continue
			fi
		fi
		if [ "$got" != "$want" ]; then
			pt_fail "span $path: expected '$want', got '$got'"
			rc=1
		fi
	done
	if [ $rc != 0 ]; then
		echo "--- the span: $span" >&2
	fi
	return $rc
}

# pt_otlp_expect_true JSON_SPAN JQ_EXPR WHAT [JQ OPTIONS...]: JQ_EXPR
# (shorthands defined) is true of the span, else WHAT is reported.
pt_otlp_expect_true() {
	local span=$1 expr=$2 what=$3
	shift 3
	if ! jq -e "$pt_otlp_defs $expr" "$@" <<<"$span" >/dev/null; then
		pt_fail "span: expected $what ($expr)"
		echo "--- the span: $span" >&2
		return 1
	fi
}
