#!/usr/bin/env bash
# Runs every test podtap has and ends with one summary line:
#   "podtap: N passed, N failed[, N skipped]"
#   1. unit tests (plain C: parser, routes, exposition, cgroup paths, ...)
#   2. the root BPF test: load + attach every program, check recorded events
#   3. the bats end-to-end suites in tests/e2e (real podtap, gunicorn, ...,
#      and the Helm chart's rendering checks)
#   4. tests/e2e/core.bats again, podtap holding only the Helm chart's
#      capabilities
#   5. daemon.bats as on a new machine (bpffs and tracefs unmounted)
#   6. the kernel check here and on other kernels in qemu (tests/kernels)
#   7. the HTTP parser fuzzer for a minute
# Each part's own output is shown as it runs.
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

# run_bats WHAT CMD...: runs a bats command with --tap output and adds its
# counts.
run_bats() {
	local what=$1 tap bats_status p s f
	shift
	tap=$(mktemp)
	"$@" | tee "$tap"
	bats_status=${PIPESTATUS[0]}
	p=$(grep -cE '^ok [0-9]+' "$tap" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+ .*# skip' "$tap" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$tap" | tr -d ' ')
	rm -f "$tap"
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f))
	if [ "$bats_status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   $what exited $bats_status with no failing test: counted as 1 failure"
		failed=$((failed + 1))
	fi
}

echo "== bats tests/e2e"
run_bats "bats" bats --tap tests/e2e

# 4. The core and Python-hook end-to-end tests again, with podtap started
#    as the Helm chart's default container runs it: exactly the
#    capabilities the rendered chart adds (nothing else), its read-only
#    mounts read-only, no_new_privs (tests/e2e/lib/as-pod.sh). The settings
#    are read from the chart as rendered, so the chart and this test cannot
#    drift apart.
echo "== bats core.bats and python.bats as the Helm chart's container"
chart_yaml=$(mktemp)
if tests/helm/render.sh podtap --namespace podtap >"$chart_yaml" &&
	chart_env=$(node tests/helm/chart.mjs pod-env "$chart_yaml"); then
	# shellcheck disable=SC2086 # KEY=VALUE words, no spaces (chart.mjs)
	printf '   %s\n' $chart_env
	# shellcheck disable=SC2086
	run_bats "bats core.bats python.bats (chart's container)" \
		env $chart_env bats --tap tests/e2e/core.bats tests/e2e/python.bats
else
	echo "   cannot read the container's settings from the rendered chart: counted as 1 failure"
	failed=$((failed + 1))
fi
rm -f "$chart_yaml"

# 5. As on a new machine: daemon.bats in a mount namespace of its own with
#    neither bpffs at /sys/fs/bpf nor tracefs mounted (podtap mounts what
#    it needs; its tests pin on a private bpffs under a dotted temp path).
echo "== bats daemon.bats with bpffs and tracefs unmounted (a new machine)"
run_bats "bats daemon.bats (new machine)" unshare -m --propagation private \
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
