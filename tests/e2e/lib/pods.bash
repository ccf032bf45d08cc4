# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Simulated Kubernetes pods: the cgroup a kubelet (systemd driver, containerd)
# makes for a container, plus the /var/log/pods-style directory that names it.
# Sourced by common.bash.

# pt_cgroup2_root: mount point of the cgroup v2 hierarchy (from mountinfo:
# /sys/fs/cgroup/unified in hybrid mode, /sys/fs/cgroup on GKE).
pt_cgroup2_root() {
	local mp
	mp=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
		    if ($(i + 1) == "cgroup2") { print $5; exit } }' \
		/proc/self/mountinfo)
	if [ -z "$mp" ]; then
		pt_fail "no cgroup2 file system is mounted"
		return 1
	fi
	printf '%s\n' "$mp"
}

# pt_mkcgroup DIR: mkdir DIR unless it exists; records it for cleanup when it
# was made here. For a cgroup of this suite's own (a unique name); the
# parents pods share go through pt_mkcgroup_shared.
pt_mkcgroup() {
	[ -d "$1" ] && return 0
	mkdir "$1" || return 1
	echo "$1" >>"$PT_TMP/cgroups"
}

# pt_mkcgroup_shared DIR (under pt_locked): a parent that the pods of
# suites running at the same time share (kubepods.slice,
# kubepods-burstable.slice, kubepods/burstable, ...): made unless it exists,
# and when made by a suite, recorded machine-wide in $PT_SHARED/cgroups, so
# that whichever suite finds it unused at its cleanup removes it
# (pt_cgroup_prune_shared). One that existed already (a real kubelet's, or
# one a suite of an older checkout made) is never removed.
pt_mkcgroup_shared() {
	[ -d "$1" ] && return 0
	# (A suite of an older checkout, which takes no lock, may be making
	# it at this very moment.)
	mkdir "$1" 2>/dev/null || { [ -d "$1" ] && return 0; mkdir "$1"; } || return 1
	grep -qxF -- "$1" "$PT_SHARED/cgroups" 2>/dev/null ||
		echo "$1" >>"$PT_SHARED/cgroups"
}

# pt_cgroup_prune_shared (under pt_locked; pt_cleanup calls it): removes the
# shared parents recorded in $PT_SHARED/cgroups that no pod uses any more,
# deepest first; the ones still in use (another suite's pods in them) stay
# recorded for the last suite to leave. Removing under the lock means no
# suite is between making a parent and making its pod in it.
pt_cgroup_prune_shared() {
	local f="$PT_SHARED/cgroups" cg
	[ -s "$f" ] || return 0
	while IFS= read -r cg; do
		[ -d "$cg" ] || continue
		# rmdir refuses while there are children or processes.
		rmdir "$cg" 2>/dev/null || echo "$cg"
	done < <(awk -F/ '{ print NF "\t" $0 }' "$f" | sort -rn | cut -f2-) \
		>"$f.new"
	mv "$f.new" "$f"
}

# pt_pod_dirs PARENT... POD_DIR (under pt_locked): the shared parents, then
# the pod's own directory.
pt_pod_dirs() {
	local d
	while [ $# -gt 1 ]; do
		pt_mkcgroup_shared "$1" || return 1
		shift
	done
	pt_mkcgroup "$1"
}

# pt_pod_create NS POD CONTAINER: makes a pod with one container, by default
# as a kubelet with the systemd cgroup driver and containerd does for a
# burstable pod:
#   <cg2>/kubepods.slice/kubepods-burstable.slice/
#        kubepods-burstable-pod<uid_with_underscores>.slice/
#        cri-containerd-<64 hex>.scope
#   $PT_TMP/pods/<NS>_<POD>_<uid>/<CONTAINER>/0.log
# Other shapes through the environment:
#   PT_POD_QOS=burstable|besteffort|guaranteed
#   PT_POD_DRIVER=systemd|cgroupfs   (cgroupfs: kubepods/burstable/pod<uid>/<id>)
#   PT_POD_RUNTIME=containerd|crio|docker   (scope prefix, systemd driver)
# Sets PT_POD_UID, PT_POD_CID (container id), PT_POD_SCOPE (the container's
# cgroup dir) and PT_POD_LOGDIR. Call it directly, not in $(...).
pt_pod_create() {
	local ns=$1 pod=$2 container=$3 root uid cid d qos driver prefix
	qos=${PT_POD_QOS:-burstable}
	driver=${PT_POD_DRIVER:-systemd}
	case ${PT_POD_RUNTIME:-containerd} in
	containerd) prefix=cri-containerd ;;
	crio) prefix=crio ;;
	docker) prefix=docker ;;
	*) pt_fail "unknown PT_POD_RUNTIME"; return 1 ;;
	esac
	root=$(pt_cgroup2_root) || return 1
	uid=$(cat /proc/sys/kernel/random/uuid)
	cid=$(pt_rand_hex 64)
	# The log directory first, as a kubelet makes it before the runtime
	# makes the container's cgroup.
	PT_POD_LOGDIR="$PT_TMP/pods/${ns}_${pod}_${uid}"
	mkdir -p "$PT_POD_LOGDIR/$container" || return 1
	: >"$PT_POD_LOGDIR/$container/0.log"
	local -a dirs
	if [ "$driver" = systemd ]; then
		d="$root/kubepods.slice"
		dirs=("$d")
		if [ "$qos" = guaranteed ]; then
			d="$d/kubepods-pod${uid//-/_}.slice"
		else
			d="$d/kubepods-$qos.slice"
			dirs+=("$d")
			d="$d/kubepods-$qos-pod${uid//-/_}.slice"
		fi
		dirs+=("$d")
		d="$d/$prefix-$cid.scope"
	else
		d="$root/kubepods"
		dirs=("$d")
		if [ "$qos" != guaranteed ]; then
			d="$d/$qos"
			dirs+=("$d")
		fi
		d="$d/pod$uid"
		dirs+=("$d")
		d="$d/$cid"
	fi
	# The shared parents and the pod's own directory in one go under the
	# lock (a suite that is leaving cannot remove a parent in between);
	# once the pod's directory is in it, no one can. Tried again if a
	# suite not using the lock (an older checkout's) removed a parent
	# meanwhile.
	local i
	for i in 1 2 3; do
		pt_locked pt_pod_dirs "${dirs[@]}" && break
		[ "$i" = 3 ] && { pt_fail "cannot make the pod cgroup ${dirs[-1]}"; return 1; }
		sleep 0.2
	done
	pt_mkcgroup "$d" || return 1
	PT_POD_UID=$uid
	PT_POD_CID=$cid
	PT_POD_SCOPE=$d
}

# pt_cgroup_of PID: the process's cgroup v2 path ("0::" line).
pt_cgroup_of() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}

# pt_gunicorn_start LOG PORT [--cgroup DIR] [--env K=V]... [-- GUNICORN ARGS]
# Starts the fixture app under Debian's gunicorn on 127.0.0.1:PORT (default
# -w 2 sync workers unless -w is given after --), optionally inside cgroup
# DIR; waits for the listening socket and the workers (without sending a
# request: that would be traffic) and prints the master's pid.
pt_gunicorn_start() {
	local log=$1 port=$2 cg="" pid n i want=2
	local -a envs=() extra=()
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--cgroup) cg=$2; shift 2 ;;
		--env) envs+=("$2"); shift 2 ;;
		--) shift; extra=("$@"); break ;;
		*) pt_fail "pt_gunicorn_start: bad argument $1"; return 1 ;;
		esac
	done
	for i in "${!extra[@]}"; do
		[ "${extra[$i]}" = -w ] && want=${extra[$((i + 1))]}
	done
	[ "${#extra[@]}" -gt 0 ] && printf '%s\n' "${extra[@]}" | grep -qx -- -w ||
		extra+=(-w 2)
	pid=$(pt_spawn "$log" ${cg:+--cgroup "$cg"} -- env "${envs[@]}" \
		"$PT_GUNICORN" --chdir "$PT_FIXTURES" -b "127.0.0.1:$port" \
		--graceful-timeout 2 --timeout 30 "${extra[@]}" app:app) || return 1
	if ! pt_wait_port "$port" 20 "$pid"; then
		cat "$log" >&2
		return 1
	fi
	for i in $(seq 1 200); do
		n=$(pt_children "$pid" | wc -l)
		[ "$n" -ge "$want" ] && break
		sleep 0.05
	done
	if [ "$n" -lt "$want" ]; then
		pt_fail "gunicorn $pid has $n of $want workers"
		cat "$log" >&2
		return 1
	fi
	# Give the workers a moment to reach accept() after "Booting worker".
	for i in $(seq 1 100); do
		[ "$(grep -c 'Booting worker' "$log")" -ge "$want" ] && break
		sleep 0.05
	done
	echo "$pid"
}

# pt_gunicorn_app VAR NAME [--port P] [--cgroup DIR] [--env K=V]...
#     [-- GUNICORN ARGS]:
# the fixture app on 127.0.0.1:P (default: a free port from pt_free_port;
# pt_gunicorn_start with the other arguments, log $PT_TMP/logs/NAME.log);
# exports VAR_PORT, VAR_PID (the master's) and VAR, its URL:
# https://127.0.0.1:P when GUNICORN ARGS have --certfile (gunicorn serves
# TLS itself), else http://127.0.0.1:P.
pt_gunicorn_app() {
	local var=$1 name=$2 port="" pid a scheme=http
	shift 2
	if [ "${1:-}" = --port ]; then port=$2; shift 2; fi
	for a in "$@"; do
		[ "$a" = --certfile ] && scheme=https
	done
	[ -n "$port" ] || port=$(pt_free_port) || return 1
	pid=$(pt_gunicorn_start "$PT_TMP/logs/$name.log" "$port" "$@") || return 1
	export "${var}_PORT=$port" "${var}_PID=$pid" "$var=$scheme://127.0.0.1:$port"
}

# pt_worker_pids MASTER: the gunicorn master's workers.
pt_worker_pids() {
	pt_children "$1"
}
