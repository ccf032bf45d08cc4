#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Traces that connect with no help from the apps: the right parent on
# servers where one OS thread serves many requests (gevent and eventlet
# greenlets), none rather than a wrong one where podtap cannot tell (an
# asyncio loop), and one trace across the pods of this node (same-node
# stitching: the SERVER span of a request is the child of the CLIENT span
# that sent it, matched on the client's address and port and the request's
# byte offset on the connection). No app here sends a traceparent.
#
#   pod relay/gevent-1   gunicorn -k gevent -w 1    GET /relay/<n>?to=B
#   pod relay/eventlet-1 gunicorn -k eventlet -w 1  GET /relay/<n>?to=B
#   pod relay/gthread-1  gunicorn -w 1 --threads 8  GET /relay/<n>?to=B[&via=C]
#   pod relay/asyncio-1  uvicorn, httpx.AsyncClient GET /relay/<n>?to=B
#   pod relay/aiohttp-1  aiohttp server and client  GET /relay/<n>?to=B
#   pod relay/back-1     gunicorn -w 4 (sync)       GET /users/<n>, and
#                        /relay/<n>?to=C for the chain
#   pod relay/leaf-1     gunicorn -w 2 (sync)       GET /users/<n>
#
# Each front end gets 200 requests at 16 in flight from curl on the host,
# each request's id in its path (/relay/<n>), and its handler calls the
# back end with the same id (/users/<n>): a span's id says which request it
# belongs to. curl is traced too (a CLIENT span per request, no pod).

load 'lib/common'
load 'lib/otlp'

NS=relay
N=200

setup_file() {
	local p
	pt_podtap_setup
	pt_otlp_require
	pt_otlp_clear_env
	for p in gevent eventlet gthread asyncio aiohttp back leaf; do
		pt_pod_create "$NS" "$p-1" "$p"
		export "SCOPE_$p=$PT_POD_SCOPE"
	done
	pt_gunicorn_app GEVENT gevent --cgroup "$SCOPE_gevent" -- -w 1 \
		-k gevent --worker-connections 64
	pt_gunicorn_app EVENTLET eventlet --cgroup "$SCOPE_eventlet" -- -w 1 \
		-k eventlet --worker-connections 64
	pt_gunicorn_app GTHREAD gthread --cgroup "$SCOPE_gthread" -- -w 1 \
		--threads 8
	pt_gunicorn_app BACK back --cgroup "$SCOPE_back" -- -w 4
	pt_gunicorn_app LEAF leaf --cgroup "$SCOPE_leaf" -- -w 2
	ASYNCIO_PORT=$(pt_free_port)
	ASYNCIO_PID=$(pt_spawn "$PT_TMP/logs/asyncio.log" --cgroup "$SCOPE_asyncio" \
		-- /usr/bin/python3 -m uvicorn --app-dir "$PT_FIXTURES" asgi_app:app \
		--host 127.0.0.1 --port "$ASYNCIO_PORT" --log-level warning)
	pt_wait_port "$ASYNCIO_PORT" 20 "$ASYNCIO_PID"
	export ASYNCIO_PORT ASYNCIO_PID ASYNCIO="http://127.0.0.1:$ASYNCIO_PORT"
	AIOHTTP_PORT=$(pt_free_port)
	AIOHTTP_PID=$(pt_spawn "$PT_TMP/logs/aiohttp.log" --cgroup "$SCOPE_aiohttp" \
		-- /usr/bin/python3 "$PT_FIXTURES/aiohttp_app.py" "$AIOHTTP_PORT")
	pt_wait_port "$AIOHTTP_PORT" 20 "$AIOHTTP_PID"
	export AIOHTTP_PORT AIOHTTP_PID AIOHTTP="http://127.0.0.1:$AIOHTTP_PORT"
}

teardown_file() {
	pt_cleanup
}

setup() {
	pt_test_mark
	PODTAP_PID=""
	OTLP_PID=""
	NETNS=""
}

teardown() {
	local ns
	pt_test_stop
	for ns in ${NETNS:-}; do ip netns del "$ns" 2>/dev/null || true; done
}

podtap_otlp() {
	pt_otlp_podtap_start "OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL" \
		OTEL_TRACES_SAMPLER=always_on "$@"
}

# fire BASE QUERY: GET BASE/relay/<n>?QUERY for n = 1..N, 16 at a time;
# fails unless every answer is 200.
fire() {
	local base=$1 query=$2 bad
	bad=$(seq 1 "$N" | xargs -P 16 -I{} curl -sS -o /dev/null \
		-w '%{http_code}\n' --max-time 60 "$base/relay/{}?$query" |
		grep -cvx 200 || true)
	pt_expect_eq "answers other than 200 of $N" 0 "$bad"
}

# check_family POD: for every id n, pod POD's SERVER span for /relay/n is
# the child of curl's CLIENT span for it; POD's CLIENT span for /users/n is
# the child of that SERVER span; back-1's SERVER span for /users/n is the
# child of that CLIENT span: exactly one of each, all in one trace. Prints
# the ids that are not so (none: passes).
check_family() {
	local out
	out=$(jq -r -s --arg pod "$1" --argjson n "$N" '
		def path: .attributes["url.path"];
		def podof: .resource["k8s.pod.name"] // "";
		[ .[] | select(path | test("^/(relay|users)/[0-9]+$")) ] as $s |
		range(1; $n + 1) as $i |
		[ $s[] | select(path == "/relay/\($i)") ] as $r |
		[ $r[] | select(.kind == "SPAN_KIND_CLIENT" and podof == "") ] as $c0 |
		[ $r[] | select(.kind == "SPAN_KIND_SERVER" and podof == $pod) ] as $sa |
		[ $s[] | select(path == "/users/\($i)" and .kind == "SPAN_KIND_CLIENT" and podof == $pod) ] as $ca |
		[ $s[] | select(path == "/users/\($i)" and .kind == "SPAN_KIND_SERVER" and podof == "back-1") ] as $sb |
		def child($c; $p): $c.traceId == $p.traceId and $c.parentSpanId == $p.spanId;
		if ([$c0, $sa, $ca, $sb] | map(length)) != [1, 1, 1, 1] then
			"\($i): spans curl/\($pod)/\($pod) client/back-1: \([$c0, $sa, $ca, $sb] | map(length))"
		elif (child($sa[0]; $c0[0]) | not) then "\($i): \($pod) SERVER not under curl"
		elif (child($ca[0]; $sa[0]) | not) then "\($i): \($pod) CLIENT not under its SERVER span"
		elif (child($sb[0]; $ca[0]) | not) then "\($i): back-1 SERVER not under \($pod) CLIENT"
		else empty end' "$OTLP_SPANS")
	printf '%s\n' "$out" | head -20
	[ -z "$out" ]
}

# front_end_test POD BASE: the whole check for one front end.
front_end_test() {
	local pod=$1 base=$2 bad
	pt_otlp_start
	podtap_otlp
	fire "$base" "to=$BACK"
	pt_otlp_wait_count "$N" "server and pod(\"back-1\")"
	pt_otlp_wait_count "$N" "client and pod(\"$pod\")"
	pt_otlp_wait_count "$N" "server and pod(\"$pod\")"
	pt_otlp_settle 1 15 true >/dev/null
	if ! bad=$(check_family "$pod"); then
		pt_fail "ids whose spans are not one chain: $bad"
		return 1
	fi
	pt_expect_eq "CLIENT spans of $pod without a parent" 0 \
		"$(pt_otlp_count "client and pod(\"$pod\") and .parentSpanId == \"\"")"
	pt_podtap_stop
}

@test "gevent (one OS thread, a greenlet per request): every CLIENT span is the child of the SERVER span with the same id; the back end's SERVER span the child of that CLIENT span" {
	front_end_test gevent-1 "$GEVENT"
}

@test "eventlet: every CLIENT span is the child of the SERVER span with the same id, and so on across pods" {
	front_end_test eventlet-1 "$EVENTLET"
}

@test "gthread (8 threads): every CLIENT span is the child of the SERVER span with the same id, and so on across pods" {
	front_end_test gthread-1 "$GTHREAD"
}

# asyncio_test POD BASE: an asyncio front end (no task hooks yet): no CLIENT
# span under a wrong SERVER span; those podtap cannot place have none, and
# are counted.
asyncio_test() {
	local pod=$1 base=$2 wrong unparented amb
	pt_otlp_start
	podtap_otlp
	fire "$base" "to=$BACK"
	pt_otlp_wait_count "$N" "server and pod(\"back-1\")"
	pt_otlp_wait_count "$N" "client and pod(\"$pod\")"
	pt_otlp_wait_count "$N" "server and pod(\"$pod\")"
	pt_otlp_settle 1 15 true >/dev/null
	# A CLIENT span for /users/n may only be under the SERVER span for
	# /relay/n, or under none.
	wrong=$(jq -r -s --arg pod "$pod" '
		def path: .attributes["url.path"];
		[ .[] | select(.resource["k8s.pod.name"] == $pod) ] as $s |
		($s | map(select(.kind == "SPAN_KIND_SERVER")) |
		 map({ key: .spanId, value: (path | ltrimstr("/relay/")) }) |
		 from_entries) as $srv |
		[ $s[] | select(.kind == "SPAN_KIND_CLIENT" and .parentSpanId != "") |
		  select($srv[.parentSpanId] != (path | ltrimstr("/users/"))) ] |
		length' "$OTLP_SPANS")
	pt_expect_eq "CLIENT spans under a wrong SERVER span" 0 "$wrong"
	unparented=$(pt_otlp_count "client and pod(\"$pod\") and .parentSpanId == \"\"")
	amb=$(pt_metric podtap_trace_ambiguous_parents_total)
	# Other processes on the node may be counted too: at least these.
	if ! awk -v a="$amb" -v u="$unparented" 'BEGIN { exit !(a + 0 >= u + 0) }'; then
		pt_fail "podtap_trace_ambiguous_parents_total $amb < $unparented unparented CLIENT spans"
		return 1
	fi
	# The back end's spans are still the children of the calls.
	pt_expect_eq "back-1 SERVER spans not under $pod's CLIENT span" 0 "$(jq -r -s --arg pod "$pod" '
		[ .[] | select(.kind == "SPAN_KIND_CLIENT" and .resource["k8s.pod.name"] == $pod) | .spanId ] as $c |
		[ .[] | select(.kind == "SPAN_KIND_SERVER" and .resource["k8s.pod.name"] == "back-1" and
		  (.attributes["url.path"] | startswith("/users/"))) | select(.parentSpanId as $p | $c | index($p) | not) ] |
		length' "$OTLP_SPANS")"
	pt_log "$pod: $unparented of $N CLIENT spans without a parent"
	pt_podtap_stop
}

@test "asyncio: uvicorn + httpx.AsyncClient (no task hooks yet): no CLIENT span under a wrong SERVER span; those podtap cannot place have none, counted" {
	asyncio_test asyncio-1 "$ASYNCIO"
}

@test "asyncio: aiohttp server and client (no task hooks yet): no CLIENT span under a wrong SERVER span; those podtap cannot place have none, counted" {
	asyncio_test aiohttp-1 "$AIOHTTP"
}

@test "a chain of three pods (gthread -> back -> leaf), apps propagating nothing: one trace of five pod spans per request, each the child of the one before" {
	local out
	N=50
	pt_otlp_start
	podtap_otlp
	fire "$GTHREAD" "to=$BACK&via=$LEAF"
	pt_otlp_wait_count "$N" 'server and pod("leaf-1")'
	pt_otlp_wait_count "$N" 'client and pod("back-1")'
	pt_otlp_settle 1 15 true >/dev/null
	out=$(jq -r -s --argjson n "$N" '
		def path: .attributes["url.path"];
		def podof: .resource["k8s.pod.name"] // "";
		def one($p; $k; $u): [ .[] | select(podof == $p and .kind == $k and path == $u) ];
		. as $all | range(1; $n + 1) as $i |
		[ ($all | one("gthread-1"; "SPAN_KIND_SERVER"; "/relay/\($i)")),
		  ($all | one("gthread-1"; "SPAN_KIND_CLIENT"; "/relay/\($i)")),
		  ($all | one("back-1"; "SPAN_KIND_SERVER"; "/relay/\($i)")),
		  ($all | one("back-1"; "SPAN_KIND_CLIENT"; "/users/\($i)")),
		  ($all | one("leaf-1"; "SPAN_KIND_SERVER"; "/users/\($i)")) ] as $c |
		if ($c | map(length)) != [1, 1, 1, 1, 1] then "\($i): \($c | map(length))"
		else ($c | map(.[0])) as $x |
		  if ($x | map(.traceId) | unique | length) != 1 then "\($i): \($x | map(.traceId) | unique | length) traces"
		  elif [range(1; 5) as $k | $x[$k].parentSpanId == $x[$k - 1].spanId] | all | not
		  then "\($i): a span not under the one before"
		  else empty end
		end' "$OTLP_SPANS")
	if [ -n "$out" ]; then
		pt_fail "requests whose five spans are not one chain: $(printf '%s\n' "$out" | head -10)"
		return 1
	fi
	pt_expect_eq "same-node links of the chain's hops (and curl's)" "" \
		"$(awk -v m="$(pt_metric podtap_trace_peer_links_total result=linked)" \
			-v n="$N" 'BEGIN { if (m + 0 < 3 * n) print m }')"
	pt_podtap_stop
}

@test "a minute at 16 in flight, a new connection per request (gevent front end, back end on the node): podtap's memory and its parenting tables stay flat" {
	local rss0 rss1 threads waiting url
	pt_otlp_start
	# A queue the warm-up fills whole (8192 spans would take the machine
	# more than 10 s): its slots are touched once, before rss0.
	podtap_otlp PODTAP_OTLP_QUEUE_SIZE=1024
	url="$GEVENT/relay/7?to=$BACK"
	hey -z 10s -c 16 -disable-keepalive "$url" >/dev/null 2>&1
	rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PODTAP_PID/status")
	hey -z 50s -c 16 -disable-keepalive "$url" >"$PT_TMP/hey-churn.txt" 2>&1
	rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PODTAP_PID/status")
	threads=$(pt_metric podtap_trace_threads)
	waiting=$(pt_metric podtap_trace_peer_links_waiting)
	pt_log "RSS $rss0 kB after 10 s, $rss1 kB after 60 s; $(grep 'Requests/sec' "$PT_TMP/hey-churn.txt"); podtap_trace_threads $threads, podtap_trace_peer_links_waiting $waiting"
	# Spans of the whole node are queued and sent meanwhile: a few MiB of
	# slack, not the growth of a table per request (tens of thousands).
	if [ $((rss1 - rss0)) -gt 4096 ]; then
		pt_fail "podtap's RSS grew from $rss0 to $rss1 kB"
		return 1
	fi
	pt_num_gt 64 "$threads" || { pt_fail "podtap_trace_threads $threads"; return 1; }
	pt_num_gt 64 "$waiting" || { pt_fail "podtap_trace_peer_links_waiting $waiting"; return 1; }
	pt_expect_eq "forgotten for room" 0 \
		"$(pt_metric podtap_trace_peer_links_removed_total reason=full)"
	pt_expect_eq "spans dropped by the queue" 0 \
		"$(pt_metric podtap_spans_dropped_total reason=queue_full)"
	pt_podtap_stop
}

@test "through a Service address (DNAT in the caller's network namespace, as kube-proxy does): the callee's SERVER span is the child of the caller's CLIENT span" {
	local nsa nsb ua pid i out
	nsa=pt-a-$(pt_rand_hex 4)
	nsb=pt-b-$(pt_rand_hex 4)
	ua="podtap-e2e-dnat/$(pt_rand_hex 6)"
	NETNS="$nsa $nsb"
	# Two network namespaces on a veth pair: the caller at 10.201.0.2, the
	# back end's pod at 10.201.0.3:8080, reached as 10.96.0.10:80.
	ip netns add "$nsa"
	ip netns add "$nsb"
	ip link add "v$nsa" type veth peer name "v$nsb"
	ip link set "v$nsa" netns "$nsa"
	ip link set "v$nsb" netns "$nsb"
	ip -n "$nsa" addr add 10.201.0.2/24 dev "v$nsa"
	ip -n "$nsb" addr add 10.201.0.3/24 dev "v$nsb"
	for i in "$nsa" "$nsb"; do
		ip -n "$i" link set lo up
		ip -n "$i" link set "v$i" up
	done
	ip -n "$nsa" route add 10.96.0.0/16 dev "v$nsa"
	ip netns exec "$nsa" nft -f - <<'NFT'
table ip nat {
	chain output {
		type nat hook output priority -100;
		ip daddr 10.96.0.10 tcp dport 80 dnat to 10.201.0.3:8080
	}
}
NFT
	pid=$(pt_spawn "$PT_TMP/logs/dnat-back.log" --cgroup "$SCOPE_back" -- \
		ip netns exec "$nsb" "$PT_GUNICORN" --chdir "$PT_FIXTURES" \
		-b 10.201.0.3:8080 -w 1 app:app)
	for i in $(seq 1 100); do
		out=$(ip netns exec "$nsa" curl -s --max-time 2 http://10.96.0.10/users/0) || true
		[ "$out" = '{"id":0}' ] && break
		sleep 0.1
	done
	pt_expect_eq "the back end through the Service address" '{"id":0}' "$out"
	pt_otlp_start
	podtap_otlp
	for i in $(seq 1 20); do
		out=$(ip netns exec "$nsa" curl -sS --max-time 10 -A "$ua" \
			"http://10.96.0.10/users/$i")
		pt_expect_eq "answer $i" "{\"id\":$i}" "$out"
	done
	pt_otlp_wait_count 20 "server and pod(\"back-1\") and ua(\"$ua\")"
	pt_otlp_wait_count 20 "client and host and ua(\"$ua\")"
	out=$(jq -r -s --arg ua "$ua" '
		def path: .attributes["url.path"];
		[ .[] | select(.attributes["user_agent.original"] == $ua) ] as $s |
		range(1; 21) as $i |
		[ $s[] | select(path == "/users/\($i)" and .kind == "SPAN_KIND_CLIENT") ] as $c |
		[ $s[] | select(path == "/users/\($i)" and .kind == "SPAN_KIND_SERVER") ] as $v |
		if ([$c, $v] | map(length)) != [1, 1] then "\($i): \([$c, $v] | map(length))"
		elif $c[0].attributes["server.address"] != "10.96.0.10" then "\($i): client saw \($c[0].attributes["server.address"])"
		elif $v[0].attributes["client.address"] != "10.201.0.2" then "\($i): server saw \($v[0].attributes["client.address"])"
		elif ($v[0].traceId != $c[0].traceId or $v[0].parentSpanId != $c[0].spanId) then "\($i): not the child"
		else empty end' "$OTLP_SPANS")
	if [ -n "$out" ]; then
		pt_fail "requests through the Service address not linked: $out"
		return 1
	fi
	pt_podtap_stop
}
