# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# nginx at wrk's maximum rate (sourced by run.sh).
#
# nginx (one worker, keep-alive, sendfile off: bodies go through user
# memory as a proxy's would) in a simulated pod serves a 5-byte and a
# 16 KiB file to wrk -t2 over loopback, so both the server and the client
# side of every request are on this node. Per size and round: no probe,
# then podtap (order alternated). Requests served are nginx's own count
# (stub_status, on a port of its own); podtap's count is the pod's _count
# series of that route. Then one more podtap run per size with the kernel's
# bpf_stats on: podtap's in-kernel nanoseconds per request.

NGINX_CONNS=${BENCH_NGINX_CONNECTIONS:-32}
NGINX_SIZES=(5 16384)
NGINX_LABELS=(k8s_namespace_name=bench k8s_pod_name=nginx-0
	k8s_container_name=nginx service_name=nginx)

nginx_setup() {
	local dir=$PT_TMP/nginx size
	command -v wrk >/dev/null || die "wrk not found"
	pt_pod_create bench nginx-0 nginx || die "cannot create the nginx pod"
	NGINX_PORT=$(pt_free_port) || die "no port"
	NGINX_STATUS_PORT=$(pt_free_port) || die "no port"
	mkdir -p "$dir/html"
	for size in "${NGINX_SIZES[@]}"; do
		head -c "$size" /dev/zero | tr '\0' x >"$dir/html/b$size"
	done
	cat >"$dir/nginx.conf" <<-CONF
		daemon off;
		user root; # the files are in the private temp dir
		worker_processes 1;
		pid $dir/nginx.pid;
		events { worker_connections 1024; }
		http {
			access_log off;
			sendfile off;
			keepalive_requests 100000000;
			client_body_temp_path $dir/body;
			proxy_temp_path $dir/proxy;
			fastcgi_temp_path $dir/fastcgi;
			uwsgi_temp_path $dir/uwsgi;
			scgi_temp_path $dir/scgi;
			server {
				listen 127.0.0.1:$NGINX_PORT;
				root $dir/html;
			}
			server {
				listen 127.0.0.1:$NGINX_STATUS_PORT;
				location / { stub_status; }
			}
		}
	CONF
	NGINX_PID=$(pt_spawn "$PT_TMP/logs/nginx.log" --cgroup "$PT_POD_SCOPE" -- \
		/usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf") ||
		die "nginx did not start"
	pt_wait_port "$NGINX_PORT" 20 "$NGINX_PID" || die "nginx does not listen"
	[ "$(curl -s "http://127.0.0.1:$NGINX_PORT/b5")" = xxxxx ] || { cat "$dir/error.log" >&2; false; } ||
		die "nginx does not serve its file"
}

# nginx_served: requests nginx has handled so far, this reading included.
nginx_served() {
	curl -s "http://127.0.0.1:$NGINX_STATUS_PORT/" |
		awk 'NR == 3 { print $3 }'
}

# nginx_counted SIZE: podtap's count of the pod's GET 200 /bSIZE requests.
nginx_counted() {
	pt_metric_sum "${PT_HIST}_count" "${NGINX_LABELS[@]}" \
		"http_route=/b$1" http_response_status_code=200
}

# wrk_run SIZE OUT: prints "req/s requests" of one measured run.
wrk_run() {
	wrk -t2 -c"$NGINX_CONNS" -d"$DURATION" "http://127.0.0.1:$NGINX_PORT/b$1" \
		>"$2" 2>&1 || return 1
	awk '/requests in/ { n = $1 } /^Requests\/sec:/ { rps = $2 }
		/Non-2xx/ { bad = $NF }
		END { if (rps == "" || bad > 0) exit 1; printf "%s %s\n", rps, n }' "$2"
}

# nginx_mode SIZE none|podtap|stats: one run; appends "req/s" to
# $PT_TMP/nginx.SIZE.MODE and adds to the NGINX_* totals.
nginx_mode() {
	local size=$1 mode=$2 out res s0 s1 c0 c1 t0 t1 d0 d1 n0 n1 served f _
	out=$PT_TMP/wrk.$size.$mode
	if [ "$mode" != none ]; then
		pt_podtap_start --no-pin || die "podtap did not start"
	fi
	wrk -t2 -c4 -d1s "http://127.0.0.1:$NGINX_PORT/b$size" >/dev/null 2>&1 ||
		die "wrk failed"
	if [ "$mode" != none ]; then
		sleep 0.3
		c0=$(nginx_counted "$size") || die "scrape failed"
		d0=$(pt_metric_sum podtap_kernel_drops_total) || die "scrape failed"
		t0=$(cpu_ticks "$PODTAP_PID")
		[ "$mode" = stats ] && { bpf_stats on; n0=$(podtap_prog_ns); }
	fi
	s0=$(nginx_served)
	res=$(wrk_run "$size" "$out") || { cat "$out" >&2; die "wrk failed"; }
	s1=$(nginx_served)
	served=$((s1 - s0 - 1))
	printf '  %-6s %-6s %8.0f req/s  (%d requests)\n' "b$size" "$mode" \
		"${res%% *}" "$served"
	if [ "$mode" = none ]; then
		echo "${res%% *}" >>"$PT_TMP/nginx.$size.none"
		return 0
	fi
	[ "$mode" = stats ] && { n1=$(podtap_prog_ns); bpf_stats off; }
	t1=$(cpu_ticks "$PODTAP_PID")
	# Let the last events through, then read the count.
	for _ in $(seq 1 30); do
		c1=$(nginx_counted "$size") || die "scrape failed"
		[ "$c1" -ge $((c0 + served)) ] && break
		sleep 0.1
	done
	sleep 0.3
	c1=$(nginx_counted "$size") || die "scrape failed"
	d1=$(pt_metric_sum podtap_kernel_drops_total) || die "scrape failed"
	if [ "$d1" -gt "$d0" ]; then
		# Which ones: since podtap started (the warm-up's are few).
		f=$(pt_scrape) || die "scrape failed"
		grep '^podtap_kernel_drops_total' "$f" | grep -v ' 0$' |
			sed 's/^/           drops: /'
	fi
	note_rss
	pt_podtap_stop || die "podtap did not stop cleanly"
	if [ "$mode" = stats ]; then
		echo "$(( (n1 - n0) / (served > 0 ? served : 1) ))" >"$PT_TMP/nginx.$size.ns"
		return 0
	fi
	echo "${res%% *}" >>"$PT_TMP/nginx.$size.podtap"
	add_to "NGINX_SENT_$size" "$served"
	add_to "NGINX_COUNTED_$size" $((c1 - c0))
	add_to "NGINX_DROPS_$size" $((d1 - d0))
	add_to "NGINX_TICKS_$size" $((t1 - t0))
}

bench_nginx() {
	local r size
	echo "nginx, wrk -t2 -c$NGINX_CONNS -d$DURATION, keep-alive, $ROUNDS rounds:"
	nginx_setup
	for size in "${NGINX_SIZES[@]}"; do
		: >"$PT_TMP/nginx.$size.none"
		: >"$PT_TMP/nginx.$size.podtap"
		printf -v "NGINX_SENT_$size" 0
		printf -v "NGINX_COUNTED_$size" 0
		printf -v "NGINX_DROPS_$size" 0
		printf -v "NGINX_TICKS_$size" 0
	done
	for r in $(seq 1 "$ROUNDS"); do
		echo " round $r:"
		for size in "${NGINX_SIZES[@]}"; do
			if [ $((r % 2)) = 1 ]; then
				nginx_mode "$size" none
				nginx_mode "$size" podtap
			else
				nginx_mode "$size" podtap
				nginx_mode "$size" none
			fi
		done
	done
	echo " with bpf_stats on (in-kernel time):"
	for size in "${NGINX_SIZES[@]}"; do
		nginx_mode "$size" stats
	done
	pt_stop_pid "$NGINX_PID"
}

# nginx_report: the figures, and NGINX_RATIO_SIZE, NGINX_NS_SIZE,
# NGINX_CPU_SIZE, NGINX_SENT_SIZE, NGINX_COUNTED_SIZE, NGINX_DROPS_SIZE for
# the targets.
nginx_report() {
	local size sent counted drops ticks ratio ns cpu
	for size in "${NGINX_SIZES[@]}"; do
		paste -d ' ' "$PT_TMP/nginx.$size.podtap" "$PT_TMP/nginx.$size.none" \
			>"$PT_TMP/nginx.$size.pairs"
		ratio=$(pair_ratios "$PT_TMP/nginx.$size.pairs" | median |
			xargs printf '%.3f')
		ns=$(cat "$PT_TMP/nginx.$size.ns")
		sent=NGINX_SENT_$size counted=NGINX_COUNTED_$size
		drops=NGINX_DROPS_$size ticks=NGINX_TICKS_$size
		cpu=$(per_10k "${!ticks}" "${!sent}")
		printf -v "NGINX_RATIO_$size" %s "$ratio"
		printf -v "NGINX_NS_$size" %s "$ns"
		printf -v "NGINX_CPU_$size" %s "$cpu"
		echo "nginx $size B body: podtap / no probe $ratio (per round:" \
			"$(pair_ratios "$PT_TMP/nginx.$size.pairs" | xargs));" \
			"$ns ns in the kernel per request; podtap $cpu CPU-s per 10k" \
			"requests; nginx served ${!sent}, podtap counted ${!counted}," \
			"kernel drops ${!drops}"
	done
}
