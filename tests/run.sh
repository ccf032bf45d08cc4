#!/usr/bin/env bash
# Runs every test podtap has and ends with one summary line:
#   "podtap: N passed, N failed[, N skipped]"
#   1. unit tests (plain C: parser, routes, exposition, cgroup paths, ...)
#   2. the root BPF test: load + attach every program, check recorded events
#   3. the bats end-to-end suites in tests/e2e (real podtap, gunicorn, ...,
#      and the Helm chart's rendering checks), side by side where that is
#      safe
#   4. tests/e2e/core.bats and python.bats again, podtap holding only the
#      Helm chart's capabilities
# Each part's own output is shown as it runs (a bats file's once it is
# done: files run side by side). PODTAP_TEST_JOBS=N: up to N bats files at a
# time (default 1, one after another: every suite's podtap processes all of
# the node's traffic, so on a 2-core machine four side by side overflow
# their ring buffers; 2 or more on a bigger one).
#   5. daemon.bats as on a new machine (bpffs and tracefs unmounted)
#   6. the kernel check here and on other kernels in qemu (tests/kernels)
#   7. the HTTP parser fuzzer for a minute
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
: "${KERNEL_PKGS:=linux-image-6.1.0-*-cloud-amd64 linux-image-6.12.*-cloud-amd64}"

# Adds the counts from a "N passed, N failed" line of a C test binary.
count_c_summary() {
	local line=$1 p f
	p=$(sed -n 's/.* \([0-9]\+\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]\+\) failed.*/\1/p' <<<"$line")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
}

run_c_test() {
	local bin=$1 out status
	echo "== $bin"
	out=$("$bin" 2>&1)
	status=$?
	printf '%s\n' "$out" | grep -v '^ok - ' || true
	local summary
	summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -z "$summary" ]; then
		echo "   $bin printed no summary (exit $status): counted as 1 failure"
		failed=$((failed + 1))
		return
	fi
	count_c_summary "$summary"
	if [ "$status" -ne 0 ] && ! grep -qE ' [1-9][0-9]* failed' <<<"$summary"; then
		echo "   $bin exited $status: counted as 1 failure"
		failed=$((failed + 1))
	fi
}

for t in build/tests/test_*; do
	[ -x "$t" ] && run_c_test "$t"
done
run_c_test build/tests/bpf_load

# count_tap WHAT TAP STATUS: adds the counts of a bats --tap output (TAP, a
# file) of a bats that exited with STATUS.
count_tap() {
	local what=$1 tap=$2 status=$3 p s f
	p=$(grep -cE '^ok [0-9]+' "$tap")
	s=$(grep -cE '^ok [0-9]+ .*# skip' "$tap")
	f=$(grep -cE '^not ok [0-9]+' "$tap")
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f))
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   $what exited $status with no failing test: counted as 1 failure"
		failed=$((failed + 1))
	fi
}

# 3. and 4. Every end-to-end suite starts its own podtap, apps and pods and
#    reads only the figures of its own apps (its pods, comms of its own,
#    ports reserved machine-wide: tests/e2e/README.md), so that what else
#    runs on the machine cannot change them; they run side by side, up to
#    JOBS bats runs at a time, the tests of a file in order, the longest
#    first:
#    - HALVES run as two bats runs beside each other, the tests tagged
#      second-half (bats --filter-tags) and the others: their tests are
#      independent of each other (traces.bats: a podtap and a receiver
#      each);
#    - SERIAL files are timing-sensitive and run alone, one after another,
#      once the others are done: otlp_exporter.bats bounds the exporter's
#      stop and enqueue times to a few hundred milliseconds; python.bats
#      has Python processes hooked within a second of mapping a library,
#      and its churn (2000 forks, 400 interpreters) loads the machine for
#      any other; loss.bats overflows its podtap's ring on purpose and
#      reads node-wide counters that any other traffic would move;
#      inject.bats's podtap writes into every outgoing HTTP request of the
#      node, and counts them node-wide; saturation.bats measures workers
#      busy to +-0.05 and accept-queue waits, which a loaded machine's
#      clients would stretch.
#    4. is core.bats and python.bats again, with podtap started as the Helm
#    chart's default container runs it: exactly the capabilities the
#    rendered chart adds (nothing else), its read-only mounts read-only,
#    no_new_privs (tests/e2e/lib/as-pod.sh). The settings are read from the
#    chart as rendered, so the chart and this test cannot drift apart.
SERIAL="tests/e2e/python.bats tests/e2e/otlp_exporter.bats tests/e2e/flood.bats
	tests/e2e/loss.bats tests/e2e/inject.bats tests/e2e/saturation.bats"
HALVES="tests/e2e/traces.bats"
LONGEST_FIRST="tests/e2e/traces.bats tests/e2e/core.bats tests/e2e/kubelet.bats
	tests/e2e/bad_input.bats tests/e2e/prometheus.bats"
jobs=${PODTAP_TEST_JOBS:-1}

chart_env="" chart_ok=1
chart_yaml=$(mktemp)
if tests/helm/render.sh podtap --namespace podtap >"$chart_yaml" &&
	chart_env=$(node tests/helm/chart.mjs pod-env "$chart_yaml"); then
	chart_ok=0
	# shellcheck disable=SC2086 # KEY=VALUE words, no spaces (chart.mjs)
	echo "== the Helm chart's container:" $chart_env
else
	echo "== cannot read the container's settings from the rendered chart: counted as 1 failure"
	failed=$((failed + 1))
fi
rm -f "$chart_yaml"

# The bats runs: "NAME|CHART|FILE|TAGS" (CHART 1: as the chart's container;
# TAGS: for bats --filter-tags).
runs=() serial_runs=()
declare -A listed=()
for f in $SERIAL; do listed[$f]=1; done
for f in $LONGEST_FIRST tests/e2e/*.bats; do
	[ -n "${listed[$f]:-}" ] && continue
	listed[$f]=1
	case " $HALVES " in
	*" $f "*)
		runs+=("${f##*/} (1 of 2)|0|$f|!second-half" "${f##*/} (2 of 2)|0|$f|second-half")
		continue ;;
	esac
	runs+=("${f##*/}|0|$f")
	[ "$f" = tests/e2e/core.bats ] && [ "$chart_ok" = 0 ] &&
		runs+=("core.bats as the chart's container|1|$f")
done
for f in $SERIAL; do
	[ "$f" = tests/e2e/python.bats ] && [ "$chart_ok" = 0 ] &&
		serial_runs+=("python.bats as the chart's container|1|$f")
	serial_runs+=("${f##*/}|0|$f")
done

# A pool of background bats runs; each one's output is shown, and counted,
# when it ends.
pool=$(mktemp -d)
declare -A pool_name=() pool_start=()
pool_running=0

# pool_run RUN: starts RUN ("NAME|CHART|FILE|TAGS"), once fewer than $jobs
# run.
pool_run() {
	local name chart file tags out
	local -a cmd=(bats --tap --timing)
	IFS='|' read -r name chart file tags <<<"$1"
	while [ "$pool_running" -ge "$jobs" ]; do pool_reap; done
	out="$pool/${#pool_start[@]}.tap"
	[ -n "$tags" ] && cmd+=(--filter-tags "$tags")
	# shellcheck disable=SC2206 # KEY=VALUE words, no spaces (chart.mjs)
	[ "$chart" = 1 ] && cmd=(env $chart_env "${cmd[@]}")
	"${cmd[@]}" "$file" >"$out" 2>&1 </dev/null &
	pool_name[$!]="$name|$out"
	pool_start[$!]=$(date +%s)
	pool_running=$((pool_running + 1))
}

# pool_reap: waits for a run to end, shows its output and counts it.
pool_reap() {
	local pid status name out
	wait -n -p pid
	status=$?
	IFS='|' read -r name out <<<"${pool_name[$pid]}"
	echo "== bats $name ($(( $(date +%s) - ${pool_start[$pid]} )) s)"
	cat "$out"
	count_tap "bats $name" "$out" "$status"
	unset "pool_name[$pid]"
	pool_running=$((pool_running - 1))
}

e2e_start=$(date +%s)
echo "== bats tests/e2e: ${#runs[@]} runs, $jobs at a time; then, one at a time: ${#serial_runs[@]} runs"
for r in "${runs[@]}"; do pool_run "$r"; done
while [ "$pool_running" -gt 0 ]; do pool_reap; done
t_pool=$(( $(date +%s) - e2e_start ))
jobs=1
for r in "${serial_runs[@]}"; do pool_run "$r"; done
while [ "$pool_running" -gt 0 ]; do pool_reap; done
rm -rf "$pool"
echo "   end-to-end suites: $(( $(date +%s) - e2e_start )) s ($t_pool s side by side)"

# run_bats WHAT CMD...: runs a bats command with --tap output, shows it and
# adds its counts.
run_bats() {
	local what=$1 tap status
	shift
	tap=$(mktemp)
	"$@" | tee "$tap"
	status=${PIPESTATUS[0]}
	count_tap "bats $what" "$tap" "$status"
	rm -f "$tap"
}

# 5. As on a new machine: daemon.bats in a mount namespace of its own with
#    neither bpffs at /sys/fs/bpf nor tracefs mounted (podtap mounts what
#    it needs; its tests pin on a private bpffs under a dotted temp path).
echo "== bats daemon.bats with bpffs and tracefs unmounted (a new machine)"
run_bats "daemon.bats (new machine)" unshare -m --propagation private \
	bash -c 'for m in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug/tracing; do
		while mountpoint -q "$m"; do umount "$m" || exit 1; done
	done
	exec bats --tap tests/e2e/daemon.bats'

# 6. The kernel check (tests/kernels) on this machine's kernel, and in qemu
#    on Debian's 6.1 and 6.12 cloud kernels (GKE's lines): every program
#    loads (the verifier's statistics printed), HTTP, HTTPS and busybox
#    httpd counted exactly.
echo "== kernel check: this kernel, and $KERNEL_PKGS in qemu"
kcheck_out=$(mktemp)
KCHECK_KERNELS="host $KERNEL_PKGS" tests/kernels/run.sh 2>&1 | tee "$kcheck_out"
kcheck_status=${PIPESTATUS[0]}
kcheck_summary=$(grep -E '^test-kernels: [0-9]+ passed, [0-9]+ failed' "$kcheck_out" | tail -1)
rm -f "$kcheck_out"
if [ -z "$kcheck_summary" ]; then
	echo "   the kernel check printed no summary (exit $kcheck_status): counted as 1 failure"
	failed=$((failed + 1))
else
	count_c_summary "$kcheck_summary"
	if [ "$kcheck_status" -ne 0 ] && ! grep -qE ' [1-9][0-9]* failed' <<<"$kcheck_summary"; then
		echo "   the kernel check exited $kcheck_status: counted as 1 failure"
		failed=$((failed + 1))
	fi
fi

# 7. The HTTP parser under libFuzzer for a bounded time (FUZZ_SECONDS, 60):
#    any crash, sanitizer report or malformed exchange fails.
echo "== fuzz: the HTTP parser for ${FUZZ_SECONDS:-60} s"
fuzz_out=$(mktemp)
make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >"$fuzz_out" 2>&1
fuzz_status=$?
grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|^Done' "$fuzz_out"
[ "$fuzz_status" -eq 0 ] || tail -n 40 "$fuzz_out"
rm -f "$fuzz_out"
if [ "$fuzz_status" -eq 0 ]; then
	passed=$((passed + 1))
else
	echo "   the fuzzer found an input that fails (saved under build/tests/)"
	failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
	echo "podtap: $passed passed, $failed failed, $skipped skipped"
else
	echo "podtap: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
