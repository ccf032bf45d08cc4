# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Helpers of the benchmark's sections (sourced by run.sh).

die() {
	echo "bench: $*" >&2
	exit 2
}

CLK_TCK=$(getconf CLK_TCK)
CONC=${BENCH_CONCURRENCY:-16}

# cpu_ticks PID: utime + stime in clock ticks.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# per_10k TICKS N: CPU seconds per 10k of N.
per_10k() {
	awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" \
		'BEGIN { printf "%.3f", (n > 0) ? t / hz / (n / 10000) : 0 }'
}

# median: of the numbers on stdin, one a line ("nan" if none).
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio X Y: X / Y to three places (0 when Y is 0).
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", (y > 0) ? x / y : 0 }'; }

# pair_ratios FILE: "x y" per line -> x / y per line.
pair_ratios() {
	awk '{ printf "%.3f\n", ($2 > 0) ? $1 / $2 : 0 }' "$1"
}

# podtap_prog_ns: nanoseconds podtap's BPF programs have run so far, summed
# (kernel.bpf_stats_enabled must be 1 while they run).
podtap_prog_ns() {
	bpftool prog show -j | jq '[.[] | select(.name | startswith("podtap_"))
		| .run_time_ns // 0] | add // 0'
}

# bpf_stats on|off: the kernel's per-program run time accounting (it costs
# two clock reads per program run, so it is on only while measuring it).
bpf_stats() {
	sysctl -qw "kernel.bpf_stats_enabled=$([ "$1" = on ] && echo 1 || echo 0)"
}

# add_to VAR N: VAR += N, for variables named at run time.
add_to() {
	printf -v "$1" %d $(( ${!1:-0} + $2 ))
}

# target NAME OK DETAIL: one PASS/MISS line. OK is an awk condition.
target() {
	local verdict=MISS
	awk "BEGIN { exit !($2) }" && verdict=PASS
	printf 'target %-44s %s (%s)\n' "$1:" "$verdict" "$3"
}

# note_rss: podtap's peak RSS so far (VmHWM), kept in HWM_KB if larger.
HWM_KB=0
note_rss() {
	local hwm
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PODTAP_PID/status")
	[ "${hwm:-0}" -gt "$HWM_KB" ] && HWM_KB=$hwm
	return 0
}

# hey_run URL OUT: the measured load run; prints "rps p99_s responses errors".
hey_run() {
	hey -z "$DURATION" -c "$CONC" "$1" >"$2" 2>&1 || return 1
	awk '
		/Requests\/sec:/ { rps = $2 }
		/^ *99% in / { p99 = $3 }
		/^ *\[[0-9]+\][ \t]+[0-9]+ responses/ { resp += $2 }
		/^Error distribution:/ { inerr = 1; next }
		inerr && /^ *\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); err += $1 }
		END { if (rps == "" || p99 == "") exit 1;
		      printf "%s %s %d %d\n", rps, p99, resp, err }' "$2"
}
