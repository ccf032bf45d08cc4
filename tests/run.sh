#!/usr/bin/env bash
# Runs every test podtap has and ends with one summary line:
#   "podtap: N passed, N failed[, N skipped]"
#   1. unit tests (plain C: parser, routes, exposition, cgroup paths, ...)
#   2. the root BPF test: load + attach every program, check recorded events
#   3. the bats end-to-end suites in tests/e2e (real podtap, gunicorn, ...)
# Each part's own output is shown as it runs.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0

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

echo "== bats tests/e2e"
tap=$(mktemp)
bats --tap tests/e2e | tee "$tap"
bats_status=${PIPESTATUS[0]}
p=$(grep -cE '^ok [0-9]+' "$tap" | tr -d ' ')
s=$(grep -cE '^ok [0-9]+ .*# skip' "$tap" | tr -d ' ')
f=$(grep -cE '^not ok [0-9]+' "$tap" | tr -d ' ')
rm -f "$tap"
passed=$((passed + p - s))
skipped=$((skipped + s))
failed=$((failed + f))
if [ "$bats_status" -ne 0 ] && [ "$f" -eq 0 ]; then
	echo "   bats exited $bats_status with no failing test: counted as 1 failure"
	failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
	echo "podtap: $passed passed, $failed failed, $skipped skipped"
else
	echo "podtap: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
