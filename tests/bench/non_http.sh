# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Work that is not HTTP (sourced by run.sh).
#
# Every read and write of every process on the node runs podtap's
# sys_exit program, which must tell that the fd is no socket, or that the
# socket was set aside as not HTTP. Two such workloads, each timed without
# and with podtap, round by round:
#   dd     64-byte blocks from /dev/zero to /dev/null (file I/O, two
#          syscalls per block)
#   iperf3 a TCP stream of 64-byte sends over loopback (-l 64), client and
#          server on this node: a database's or a cache's traffic
# and, between the two, with the floor (build/tests/bench_floor): an empty
# program on sys_exit, what any syscall tracepoint costs before podtap's
# own code runs.

DD_BLOCKS=${BENCH_DD_BLOCKS:-1000000}
IPERF_SECONDS=${BENCH_IPERF_SECONDS:-3}

# dd_rate: 64-byte blocks per second.
dd_rate() {
	local t0 t1
	t0=$(date +%s%N)
	dd if=/dev/zero of=/dev/null bs=64 count="$DD_BLOCKS" 2>/dev/null ||
		die "dd failed"
	t1=$(date +%s%N)
	awk -v n="$DD_BLOCKS" -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.0f\n", n / ((b - a) / 1e9) }'
}

# iperf_rate: bits per second the client sent.
iperf_rate() {
	iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -l 64 -t "$IPERF_SECONDS" -J \
		>"$PT_TMP/iperf.json" 2>&1 || { cat "$PT_TMP/iperf.json" >&2; die "iperf3 failed"; }
	jq '.end.sum_sent.bits_per_second | floor' "$PT_TMP/iperf.json"
}

# floor_start: attaches the empty sys_exit program; FLOOR_PID.
floor_start() {
	local log=$PT_TMP/logs/floor.log _
	FLOOR_PID=$(pt_spawn "$log" -- "$FLOOR_BIN") || die "bench_floor did not start"
	for _ in $(seq 1 50); do
		grep -q '^attached' "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$log" >&2
	die "bench_floor did not attach"
}

bench_non_http() {
	local r dd0 dd1 ddf ip0 ip1 ipf
	FLOOR_BIN=${FLOOR_BIN:-$PT_REPO/build/tests/bench_floor}
	[ -x "$FLOOR_BIN" ] || die "$FLOOR_BIN not built (make bench builds it)"
	command -v iperf3 >/dev/null || die "iperf3 not found (make bench installs it)"
	IPERF_PORT=$(pt_free_port) || die "no port"
	IPERF_PID=$(pt_spawn "$PT_TMP/logs/iperf3.log" -- iperf3 -s -p "$IPERF_PORT") ||
		die "iperf3 server did not start"
	pt_wait_port "$IPERF_PORT" 20 "$IPERF_PID" || die "iperf3 server does not listen"
	: >"$PT_TMP/dd.pairs"
	: >"$PT_TMP/iperf.pairs"
	: >"$PT_TMP/dd.floor.pairs"
	: >"$PT_TMP/iperf.floor.pairs"
	echo "non-HTTP work (dd bs=64, $DD_BLOCKS blocks; iperf3 -l 64 -t $IPERF_SECONDS):"
	echo "  (no probe -> empty sys_exit program -> podtap)"
	for r in $(seq 1 "$ROUNDS"); do
		dd0=$(dd_rate)
		ip0=$(iperf_rate)
		floor_start
		ddf=$(dd_rate)
		ipf=$(iperf_rate)
		pt_stop_pid "$FLOOR_PID"
		pt_podtap_start --no-pin || die "podtap did not start"
		dd1=$(dd_rate)
		ip1=$(iperf_rate)
		note_rss
		pt_podtap_stop || die "podtap did not stop cleanly"
		echo "$dd1 $dd0" >>"$PT_TMP/dd.pairs"
		echo "$ip1 $ip0" >>"$PT_TMP/iperf.pairs"
		echo "$ddf $dd0" >>"$PT_TMP/dd.floor.pairs"
		echo "$ipf $ip0" >>"$PT_TMP/iperf.floor.pairs"
		awk -v r="$r" -v a="$dd0" -v f="$ddf" -v b="$dd1" -v c="$ip0" \
			-v g="$ipf" -v d="$ip1" 'BEGIN {
			printf "  round %d: dd %d -> %d -> %d blocks/s, iperf3 %.0f -> %.0f -> %.0f Mbit/s\n",
				r, a, f, b, c / 1e6, g / 1e6, d / 1e6 }'
	done
	pt_stop_pid "$IPERF_PID"
}

non_http_report() {
	DD_RATIO=$(pair_ratios "$PT_TMP/dd.pairs" | median | xargs printf '%.3f')
	IPERF_RATIO=$(pair_ratios "$PT_TMP/iperf.pairs" | median | xargs printf '%.3f')
	echo "file I/O (dd bs=64) with podtap / without: $DD_RATIO (per round:" \
		"$(pair_ratios "$PT_TMP/dd.pairs" | xargs))"
	echo "non-HTTP TCP (iperf3 -l 64) with podtap / without: $IPERF_RATIO (per round:" \
		"$(pair_ratios "$PT_TMP/iperf.pairs" | xargs))"
	echo "the floor, an empty sys_exit program / without: dd" \
		"$(pair_ratios "$PT_TMP/dd.floor.pairs" | median | xargs printf '%.3f')," \
		"iperf3 $(pair_ratios "$PT_TMP/iperf.floor.pairs" | median | xargs printf '%.3f')" \
		"(per round: dd $(pair_ratios "$PT_TMP/dd.floor.pairs" | xargs);" \
		"iperf3 $(pair_ratios "$PT_TMP/iperf.floor.pairs" | xargs))"
}
