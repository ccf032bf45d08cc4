# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Starting and stopping the daemon under test. Sourced by common.bash.

# pt_bpffs_dir: a fresh directory for pins on a bpf file system: under
# /sys/fs/bpf when that is bpffs, else on a private bpffs mounted in PT_TMP
# (unmounted by pt_cleanup). Recorded for removal. Prints its path.
pt_bpffs_dir() {
	local base d
	if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then
		base=/sys/fs/bpf
	else
		base="$PT_TMP/bpffs"
		if [ ! -d "$base" ]; then
			mkdir -p "$base" || return 1
			mount -t bpf bpf "$base" || return 1
			echo "$base" >>"$PT_TMP/mounts"
		fi
	fi
	d="$base/podtap-e2e-$(pt_rand_hex 8)"
	echo "$d" >>"$PT_TMP/rmpaths"
	echo "$d"
}

# pt_podtap_start [EXTRA FLAGS...]: starts $PODTAP_BIN on a free loopback
# port with --pod-log-dir $PT_TMP/pods and a pin dir on a bpf fs (or the
# caller's --pin-path / --no-pin among EXTRA FLAGS), waits (bounded) for
# /readyz = 200, and exports PODTAP_PID, PODTAP_PORT, PODTAP_URL, PODTAP_LOG,
# PODTAP_RC (file that receives the exit status), PODTAP_PIN (pin dir, or
# "" with --no-pin), PODTAP_NODE_NAME (the NODE_NAME podtap got: its
# series' k8s_node_name).
pt_podtap_start() {
	local port log rcf pidf wrapper i pin="" code flag
	local -a pinflags=()
	pt_require_podtap || return 1
	for flag in "$@"; do
		case $flag in --pin-path*|--no-pin) pin=given ;; esac
	done
	if [ -z "$pin" ]; then
		pin=$(pt_bpffs_dir) || return 1
		pinflags=(--pin-path "$pin")
	else
		pin=""
	fi
	port=$(pt_free_port) || return 1
	log="$PT_TMP/logs/podtap.$port.log"
	rcf="$PT_TMP/podtap.$port.rc"
	pidf="$PT_TMP/podtap.$port.pid"
	local -a cmd=("$PODTAP_BIN" --metrics-listen "127.0.0.1:$port"
		--pod-log-dir "$PT_TMP/pods" "${pinflags[@]}" "$@")
	if [ "${PT_PODTAP_ENV_ONLY:-}" = 1 ]; then
		# The same settings through the flags' environment twins.
		cmd=(env "PODTAP_METRICS_LISTEN=127.0.0.1:$port"
			"PODTAP_POD_LOG_DIR=$PT_TMP/pods" "$PODTAP_BIN" "$@")
		[ -n "$pin" ] && cmd=(env "PODTAP_PIN_PATH=$pin" "${cmd[@]}")
	fi
	if [ -n "${PODTAP_TEST_CAPS:-}" ]; then
		# Run as the Helm chart's container would (lib/as-pod.sh):
		# only these capabilities, PODTAP_TEST_RO_PATHS read-only (the
		# pod log dir standing in for /var/log/pods), no_new_privs, in
		# a cgroup (and cgroup namespace) of its own.
		local agent_cg
		agent_cg="$(pt_cgroup2_root)/podtap-e2e-agent-$port-$(pt_rand_hex 6)"
		pt_mkcgroup "$agent_cg" || return 1
		cmd=(env "PT_AS_POD_LOG_DIR=$PT_TMP/pods" "PT_AS_POD_CGROUP=$agent_cg"
			bash "$PT_LIB_DIR/as-pod.sh" "${cmd[@]}")
	fi
	# The wrapper shell outlives podtap only to record its exit status.
	wrapper=$(pt_spawn "$log" -- bash -c \
		'p=$1 r=$2; shift 2; "$@" & echo $! >"$p.tmp"; mv "$p.tmp" "$p";
		 wait $!; echo $? >"$r.tmp"; mv "$r.tmp" "$r"' \
		pt-podtap "$pidf" "$rcf" "${cmd[@]}") || return 1
	for i in $(seq 1 100); do
		[ -s "$pidf" ] && break
		sleep 0.02
	done
	PODTAP_PID=$(cat "$pidf" 2>/dev/null)
	if [ -z "$PODTAP_PID" ]; then
		pt_fail "podtap did not start"
		return 1
	fi
	echo "$PODTAP_PID" >>"$PT_TMP/pids"
	export PODTAP_PID PODTAP_PORT=$port PODTAP_URL="http://127.0.0.1:$port"
	export PODTAP_LOG=$log PODTAP_RC=$rcf PODTAP_PIN=$pin
	export PODTAP_NODE_NAME=${NODE_NAME:-}
	# BPF load and attach may take a few seconds on a busy machine.
	for i in $(seq 1 300); do
		if [ -s "$rcf" ]; then
			pt_fail "podtap exited with status $(cat "$rcf") before ready"
			cat "$log" >&2
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"$PODTAP_URL/readyz" 2>/dev/null) || true
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	pt_fail "podtap /readyz not 200 after 30 s (last: $code)"
	tail -n 50 "$log" >&2
	return 1
}

# pt_podtap_stop [TIMEOUT_S]: SIGTERM to podtap, waits for it to exit
# (bounded: default 20 s; a stop detaches every tracepoint and uprobe, each
# waiting for the kernel, 3 to 5 s on an idle machine, more on a loaded one)
# and checks that it exited with status 0 and removed its pins. Tests of a
# prompt stop give their own bound.
pt_podtap_stop() {
	local timeout=${1:-20} i rc
	[ -n "${PODTAP_PID:-}" ] || return 0
	kill -TERM "$PODTAP_PID" 2>/dev/null || true
	for i in $(seq 1 $((timeout * 20))); do
		[ -s "$PODTAP_RC" ] && break
		sleep 0.05
	done
	if [ ! -s "$PODTAP_RC" ]; then
		pt_fail "podtap (pid $PODTAP_PID) still running ${timeout}s after SIGTERM"
		kill -KILL "$PODTAP_PID" 2>/dev/null || true
		tail -n 30 "$PODTAP_LOG" >&2
		return 1
	fi
	rc=$(cat "$PODTAP_RC")
	if [ "$rc" != 0 ]; then
		pt_fail "podtap exited with status $rc after SIGTERM (want 0)"
		tail -n 30 "$PODTAP_LOG" >&2
		return 1
	fi
	if [ -n "$PODTAP_PIN" ] && [ -e "$PODTAP_PIN" ] &&
		[ -n "$(ls -A "$PODTAP_PIN" 2>/dev/null)" ]; then
		pt_fail "podtap left pinned objects in $PODTAP_PIN: $(ls -A "$PODTAP_PIN" | tr '\n' ' ')"
		return 1
	fi
	PODTAP_PID=""
}

# pt_podtap_setup: the start of a suite's setup_file (or of setup, for a
# suite whose tests each make their own): pt_init, and a built podtap.
pt_podtap_setup() {
	pt_init || return 1
	pt_require_podtap
}

# pt_podtap_teardown: the end of teardown_file (or teardown): stops podtap
# if it runs (pt_podtap_stop: exit status 0, pins removed), then removes
# everything recorded (pt_cleanup) whatever the stop said; fails if the
# stop did.
pt_podtap_teardown() {
	local rc=0
	pt_podtap_stop || rc=1
	pt_cleanup
	return $rc
}

# pt_podtap_alive: podtap still runs and answers /healthz with 200.
pt_podtap_alive() {
	if ! pt_alive "$PODTAP_PID"; then
		pt_fail "podtap (pid $PODTAP_PID) is not running"
		tail -n 30 "$PODTAP_LOG" >&2
		return 1
	fi
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
		"$PODTAP_URL/healthz") || true
	pt_expect_eq "/healthz status" 200 "$code"
}

# pt_caps_norm LIST: capability names (comma or space separated, any case,
# with or without the CAP_ prefix, as in a pod's securityContext) as
# lowercase cap_* names, sorted, one per line.
pt_caps_norm() {
	tr ', ' '\n\n' <<<"$1" | sed '/^$/d' | tr '[:upper:]' '[:lower:]' |
		sed 's/^\(cap_\)\?/cap_/' | sort -u
}

# pt_caps_of PID [FIELD]: the process's capability set FIELD (default
# CapEff) from /proc/PID/status, as sorted cap_* names one per line.
pt_caps_of() {
	local hex
	hex=$(awk -v f="${2:-CapEff}:" '$1 == f { print $2 }' "/proc/$1/status") ||
		return 1
	[ -n "$hex" ] || return 1
	capsh --decode="$hex" | sed 's/^[^=]*=//' | tr ',' '\n' |
		sed '/^$/d' | sort -u
}

# pt_podtap_map NAME: the id of the BPF map NAME of this suite's podtap
# (PODTAP_PID), found through the programs it holds attached (bpftool perf
# list names their owner) rather than by name or pin path: every podtap on
# the machine has its own map of that name.
pt_podtap_map() {
	local prog m
	for prog in $(bpftool -j perf list |
		jq -r --argjson p "$PODTAP_PID" '.[] | select(.pid == $p) | .prog_id' |
		sort -un); do
		for m in $(bpftool -j prog show id "$prog" | jq -r '.map_ids[]?'); do
			if [ "$(bpftool -j map show id "$m" | jq -r .name)" = "$1" ]; then
				echo "$m"
				return 0
			fi
		done
	done
	pt_fail "podtap $PODTAP_PID holds no BPF map $1"
	return 1
}

# pt_podtap_conn_tgids: the processes (tgid, one per entry, sorted) of the
# connections podtap's kernel side tracks now (map podtap_conns).
pt_podtap_conn_tgids() {
	local m
	m=$(pt_podtap_map podtap_conns) || return 1
	bpftool -j map dump id "$m" | jq -r '.[].formatted.key.tgid' | sort -n
}
