#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The options without starting anything: docs/flags.md's table and
# `podtap --help` list the same flags, twins and defaults; every switch's
# twin takes its words; every bad value, as a flag and as its twin, is
# refused by name (exit 2) before podtap starts anything. Needs no root: as
# root, podtap runs as nobody here, so that even a value it wrongly took
# could not start it.

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
: "${PODTAP_BIN:=$REPO/build/podtap}"

setup() {
	[ -x "$PODTAP_BIN" ] || { echo "$PODTAP_BIN: not built (run make)"; return 1; }
}

# podtap [NAME=value...] [ARGS...]: podtap with ARGS in an environment of
# just those variables, unprivileged.
podtap() {
	local -a vars=() cmd
	while [ $# -gt 0 ] && [[ "$1" =~ ^[A-Z_]+= ]]; do
		vars+=("$1")
		shift
	done
	cmd=(env -i PATH=/usr/bin:/bin "${vars[@]}" "$PODTAP_BIN" "$@")
	if [ "$(id -u)" = 0 ]; then
		cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups
			--inh-caps=-all --bounding-set=-all "${cmd[@]}")
	fi
	timeout 10 "${cmd[@]}"
}

# help_options: --help's options, one line each (wrapped lines joined).
help_options() {
	"$PODTAP_BIN" --help | awk '
		/^Options/ { on = 1; next }
		on && /^$/ { exit }
		on && /^  -/ { if (b != "") print b; b = $0; next }
		on { sub(/^ +/, " "); b = b $0 }
		END { if (b != "") print b }'
}

# The exit status and message of a value podtap's options took: it got as
# far as the privilege check, which nobody fails.
accepted() {
	echo "status $status: $output"
	[ "$status" -eq 1 ] && [[ "$output" == *"needs root"* ]]
}

# ...and of one they refused: status 2 (a configuration error), one line
# naming what was wrong, nothing else attempted.
refused() {
	local name=$1
	echo "status $status: $output"
	[ "$status" -eq 2 ] && [ "${#lines[@]}" -eq 1 ] &&
		[[ "$output" == *"$name"* ]]
}

@test "--help: exit 0, on stdout" {
	run --separate-stderr "$PODTAP_BIN" --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == "Usage: podtap"* ]]
}

@test "docs/flags.md's table and --help: the same flags, environment twins and defaults" {
	help_options >"$BATS_TEST_TMPDIR/help"
	run python3 - "$REPO/docs/flags.md" "$BATS_TEST_TMPDIR/help" <<'PY'
import re, sys

NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
FLAG = re.compile(r"(?<!\S)--?[A-Za-z][a-z-]*")
page, help_lines = open(sys.argv[1]).read(), open(sys.argv[2]).read().splitlines()

def ticked(cell):
    return re.findall(r"`([^`]*)`", cell)

# docs/flags.md, the table under "# Flags" (up to the first "## "):
# | `--flag ARG` ... | `TWIN` (or `OTHER`) | `default` or words | meaning |
section = page.split("# Flags\n", 1)[1].split("\n## ", 1)[0]
doc = {}
for row in section.splitlines():
    if not row.startswith("| `"):
        continue
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    flags = {t.split()[0] for t in ticked(cells[0])}
    envs = set(NAME.findall(" ".join(ticked(cells[1]))))
    m = re.fullmatch(r"`([^`]*)`", cells[2])
    long = next(f for f in flags if f.startswith("--"))
    doc[long] = (flags, envs, m.group(1) if m else None)

# --help: "  -v, --verbose   text [TWIN=1] (default X)", one line each.
shown = {}
for block in help_lines:
    head = re.split(r"\s{2,}", block.strip(), maxsplit=1)[0]
    flags = set(FLAG.findall(head))
    long = next(f for f in flags if f.startswith("--"))
    envs = set()
    for bracket in re.findall(r"\[([^\]]*)\]", block):
        envs |= set(NAME.findall(bracket))
    m = re.search(r"\(default (\S+)\)", block)
    shown[long] = (flags, envs, m.group(1) if m else None)
for own in ("--help", "--version"):  # podtap's own, no twin: not in the table
    shown.pop(own, None)

bad = []
for f in sorted(set(doc) - set(shown)):
    bad.append(f"{f}: in docs/flags.md, not in --help")
for f in sorted(set(shown) - set(doc)):
    bad.append(f"{f}: in --help, not in docs/flags.md")
for f in sorted(set(doc) & set(shown)):
    for what, d, s in zip(("flags", "environment", "default"), doc[f], shown[f]):
        if d != s:
            bad.append(f"{f}: {what}: docs/flags.md {d!r}, --help {s!r}")
print("\n".join(bad) or f"{len(doc)} options agree")
sys.exit(1 if bad else 0)
PY
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every switch's twin takes 1/true/yes/on and 0/false/no/off in any case (and ''), nothing else" {
	local twin v n=0
	local -a twins
	mapfile -t twins < <(help_options | grep -oE '\[[A-Z_]+=[01]\]' | tr -d '[]' | cut -d= -f1)
	echo "switch twins: ${twins[*]}"
	[ "${#twins[@]}" -eq 5 ]
	for twin in "${twins[@]}"; do
		for v in 1 true yes on TRUE Yes On 0 false no off FALSE No OFF ''; do
			# NODE_IP: PODTAP_KUBELET=1 makes the kubelet's URL from it.
			run podtap NODE_IP=192.0.2.1 "$twin=$v"
			accepted || { echo "FAIL: $twin='$v' refused"; return 1; }
			n=$((n + 1))
		done
		for v in maybe 2 y enabled; do
			run podtap "$twin=$v"
			refused "$twin must be 1 or 0 (true or false), got '$v'" ||
				{ echo "FAIL: $twin='$v' not refused by name"; return 1; }
		done
	done
	echo "$n values accepted"
}

@test "the switch flags are taken, --no-python-hooks over PODTAP_PYTHON_HOOKS=1 too" {
	local f
	for f in --kubelet --kubelet-insecure-skip-verify --no-python-hooks \
		--inject-trace-context -v --verbose; do
		run podtap NODE_IP=192.0.2.1 PODTAP_PYTHON_HOOKS=1 "$f"
		accepted || { echo "FAIL: $f refused"; return 1; }
	done
}

@test "every option taking a value: a bad one, as the flag and as its twin, exits 2 naming it, nothing started" {
	local long block flag twin bad n=0
	long="/$(printf '%0600d' 0)"
	declare -A bad_value=(
		[--metrics-listen]=127.0.0.1:65536
		[--pod-log-dir]=$long
		[--route]=nope
		[--pin-path]=$long
		[--payload-size]=100
		[--ringbuf-size]=100000
		[--max-series-per-pod]=x
		[--series-ttl]=0
		[--kubelet-url]=ftp://node:10250
		[--kubelet-token-file]=$long
		[--kubelet-ca-file]=$long
		[--kubelet-refresh]=0
		[--otlp-queue-size]=abc
		[--otlp-batch-size]=0
		[--otlp-batch-timeout]=-1
		[--inject-trace-format]=zipkin
		[--compat]=flask-exporter,django
		[--statsd-host]=statsd:0
		[--statsd-prefix]={namespace}:{pod}
		[--uprobe-linger]=soon
	)
	# The options come from --help, so that a new one without a case
	# here fails this test.
	while read -r block; do
		[[ "$block" =~ ^(-[a-zA-Z],\ )?(--[a-z-]+)\ [A-Z:]+\  ]] || continue
		flag=${BASH_REMATCH[2]}
		[[ "$block" =~ \[([A-Z][A-Z0-9]*(_[A-Z0-9]+)+) ]] ||
			{ echo "FAIL: $flag has no twin in --help"; return 1; }
		twin=${BASH_REMATCH[1]}
		bad=${bad_value[$flag]:-}
		[ -n "$bad" ] || { echo "FAIL: no bad value here for $flag"; return 1; }
		run podtap "$flag" "$bad"
		refused "$flag" || { echo "FAIL: $flag '$bad'"; return 1; }
		run podtap "$twin=$bad"
		refused "$twin" || { echo "FAIL: $twin='$bad'"; return 1; }
		n=$((n + 1))
	done < <(help_options)
	echo "$n options"
	[ "$n" -eq "${#bad_value[@]}" ]
}

@test "the --otlp-* flags are checked with the exporter's bounds" {
	run podtap --otlp-queue-size abc
	refused "podtap: --otlp-queue-size must be a number in 1..1048576, got 'abc'"
	run podtap --otlp-queue-size 1048577
	refused "--otlp-queue-size"
	run podtap --otlp-queue-size 1048576 --otlp-batch-size 2147483647 \
		--otlp-batch-timeout 0
	accepted
	run podtap PODTAP_OTLP_BATCH_TIMEOUT=2147483648
	refused "PODTAP_OTLP_BATCH_TIMEOUT must be a number in 0..2147483647"
	# The exporter's fallbacks are its own: it reports a bad one and goes
	# on without it, so they are not refused here.
	run podtap OTEL_BSP_MAX_QUEUE_SIZE=abc
	accepted
}

@test "a flag without its value, an unknown flag, a stray argument: exit 2 naming it" {
	run podtap --payload-size
	[ "$status" -eq 2 ] && [[ "$output" == *"--payload-size"* ]]
	run podtap --no-such-flag
	[ "$status" -eq 2 ] && [[ "$output" == *"--no-such-flag"* ]]
	run podtap stray
	[ "$status" -eq 2 ] && [[ "$output" == *"'stray'"* ]]
}
