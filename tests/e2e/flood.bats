#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The agent stays up: /metrics, /healthz and /readyz keep answering while
# floods of idle and slow clients hold connections to the metrics port
# (tests/fixtures/flood.py, which reopens whatever the server closes). The
# kubelet's liveness probe fails after 1 s by default: every poll must be
# answered within that. Flood and scrapes all come from 127.0.0.1 here, so
# no per-address limit may stand in the scrape's way either.

load 'lib/common'

setup() {
	pt_podtap_setup
}

teardown() {
	pt_podtap_teardown
}

# flood_start LOG FLOOD ARGS...: flood.py against podtap's port; waits until
# it reports holding what it was asked to hold (bounded). Sets FLOOD_PID.
flood_start() {
	local log=$1 i
	shift
	FLOOD_PID=$(pt_spawn "$log" -- "$PT_PY" "$PT_FIXTURES/flood.py" \
		127.0.0.1 "$PODTAP_PORT" "$@") || return 1
	for i in $(seq 1 200); do
		grep -q '^held' "$log" && return 0
		pt_alive "$FLOOD_PID" || break
		sleep 0.1
	done
	pt_fail "flood.py did not start holding connections"
	cat "$log" >&2
	return 1
}

# poll_for SECONDS: GET /metrics, /healthz and /readyz in turn, every
# 0.2 s, each with a 1 s limit; fails on any answer that is not a 200
# within it. Logs the count and the slowest.
poll_for() {
	local end out code tt n=0 bad=0 max=0 path
	end=$(( $(date +%s%N) + $1 * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		for path in /metrics /healthz /readyz; do
			out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' \
				--max-time 1 "$PODTAP_URL$path" 2>/dev/null) || true
			code=${out%% *}
			tt=${out#* }
			n=$((n + 1))
			if [ "$code" != 200 ]; then
				bad=$((bad + 1))
				pt_log "GET $path at $(date +%T.%N): '$out'"
			fi
			max=$(awk -v a="$max" -v b="${tt:-0}" 'BEGIN { print (b > a ? b : a) }')
		done
		sleep 0.2
	done
	pt_log "$n requests in $1 s, $bad not answered 200 within 1 s; slowest ${max} s"
	[ "$bad" = 0 ]
}

@test "1000 idle and 50 slow connections held for 30 s: /metrics, /healthz and /readyz answer within 1 s throughout" {
	pt_podtap_start
	# 30 s: three times the idle timeout, so connections the server
	# closes are reopened (and the slow ones keep sending a byte every 3 s,
	# so they never time out).
	flood_start "$PT_TMP/logs/flood.log" --idle 1000 --slow 50 \
		--interval 3 --duration 40
	poll_for 30
	pt_log "flood: $(tail -n 1 "$PT_TMP/logs/flood.log")"
	# It really held them (the old limit was 64): 900 or more in most of
	# its once-a-second reports; fewer just after the idle timeout closed
	# a batch, until they are reopened a second later.
	awk '/^held/ { n++; if ($2 + $4 >= 900) full++ }
	     END { exit !(n >= 25 && full >= n * 2 / 3) }' "$PT_TMP/logs/flood.log" || {
		pt_fail "the flood did not hold 900+ connections most of the time"
		cat "$PT_TMP/logs/flood.log" >&2
		return 1
	}
	pt_stop_pid "$FLOOD_PID"
	pt_podtap_alive
}

@test "a flood larger than the connection limit (3000 idle from 127.0.0.2) never starves a scrape" {
	pt_podtap_start
	flood_start "$PT_TMP/logs/flood.log" --idle 3000 --source 127.0.0.2 \
		--duration 30
	poll_for 20
	pt_log "flood: $(tail -n 1 "$PT_TMP/logs/flood.log")"
	pt_stop_pid "$FLOOD_PID"
	pt_podtap_alive
}

@test "a scraper's keep-alive connection outlives a flood from another address" {
	local out
	pt_podtap_start
	flood_start "$PT_TMP/logs/flood.log" --idle 2000 --source 127.0.0.2 \
		--duration 30
	# One connection, a request every 2 s for 12 s, as a scraper keeps
	# one: the flood's newcomers close the flood's own idle connections
	# first, never the scraper's. Prints the local port of each request's
	# connection and its status.
	out=$(timeout 30 "$PT_PY" -c '
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
for i in range(7):
    if i:
        time.sleep(2)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        print(c.sock.getsockname()[1], r.status)
    except Exception as e:
        print("error", type(e).__name__)
        c.close()
' "$PODTAP_PORT") || true
	pt_log "local port and status per request: $(echo $out)"
	pt_log "flood: $(tail -n 1 "$PT_TMP/logs/flood.log")"
	pt_expect_eq "requests answered 200" 7 "$(grep -c ' 200$' <<<"$out")"
	pt_expect_eq "connections used" 1 "$(awk '{ print $1 }' <<<"$out" | sort -u | wc -l)"
	pt_stop_pid "$FLOOD_PID"
}
