# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# gunicorn + Flask hello (sourced by run.sh).
#
# A hello-world Flask app under Debian's gunicorn (sync workers) in a
# simulated pod is loaded with hey over loopback, six ways:
#   a  no probe
#   b  podtap running (the app itself unchanged; the Python hooks on)
#   c  in-process prometheus_client instrumentation (before/after_request
#      Histogram, multiprocess mode, as prometheus-flask-exporter does), no
#      podtap
#   d  podtap exporting every exchange as a span (OTEL_TRACES_SAMPLER=
#      always_on) over OTLP/HTTP to the local test receiver (Node,
#      tests/otlp/receiver.js, decoding with the official schema); spans
#      include hey's own CLIENT spans, so about two per request
#   e  the same app served over HTTPS by gunicorn itself (--certfile,
#      certificate made at run time), no probe
#   f  e with podtap running: requests seen in plaintext through its
#      SSL_read/SSL_write uprobes
# The modes are interleaved (order rotated each round) and each ratio is the
# median over the rounds of that round's own ratio (b/a, c/a measured
# seconds apart), so a machine that speeds up or slows down during the run
# moves a and b alike.

WORKERS=${BENCH_WORKERS:-2}

gunicorn_setup() {
	for tool in hey curl "$PT_GUNICORN" "$PT_PY"; do
		command -v "$tool" >/dev/null || die "$tool not found"
	done
	pt_pod_create bench hello-0 hello || die "cannot create the pod cgroup"
	SCOPE=$PT_POD_SCOPE
	LABELS=(k8s_namespace_name=bench k8s_pod_name=hello-0 k8s_container_name=hello service_name=hello)
	PORT_PLAIN=$(pt_free_port) || die "no port"
	PORT_PROM=$(pt_free_port) || die "no port"
	PORT_TLS=$(pt_free_port) || die "no port"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-keyout "$PT_TMP/key.pem" -out "$PT_TMP/cert.pem" 2>/dev/null ||
		die "openssl could not make a certificate"
	mkdir -p "$PT_TMP/prom-multiproc"

	pt_gunicorn_start "$PT_TMP/logs/plain.log" "$PORT_PLAIN" \
		--cgroup "$SCOPE" --env PODTAP_APP_MODE=hello -- -w "$WORKERS" >/dev/null ||
		die "gunicorn (plain) did not start"
	pt_gunicorn_start "$PT_TMP/logs/prom.log" "$PORT_PROM" \
		--cgroup "$SCOPE" --env PODTAP_APP_MODE=hello --env PODTAP_APP_PROM=1 \
		--env "PROMETHEUS_MULTIPROC_DIR=$PT_TMP/prom-multiproc" \
		-- -w "$WORKERS" >/dev/null || die "gunicorn (prometheus_client) did not start"
	pt_gunicorn_start "$PT_TMP/logs/tls.log" "$PORT_TLS" \
		--cgroup "$SCOPE" --env PODTAP_APP_MODE=hello -- -w "$WORKERS" \
		--certfile "$PT_TMP/cert.pem" --keyfile "$PT_TMP/key.pem" >/dev/null ||
		die "gunicorn (TLS) did not start"

	# Sanity: both apps answer, the instrumented one exposes its histogram.
	[ "$(curl -s "http://127.0.0.1:$PORT_PLAIN/")" = "Hello, World!" ] ||
		die "hello app does not answer"
	[ "$(curl -s "http://127.0.0.1:$PORT_PROM/")" = "Hello, World!" ] ||
		die "instrumented hello app does not answer"
	[ "$(curl -sk "https://127.0.0.1:$PORT_TLS/")" = "Hello, World!" ] ||
		die "TLS hello app does not answer"
	curl -s "http://127.0.0.1:$PORT_PROM/metrics" |
		grep -q '^flask_http_request_duration_seconds_count' ||
		die "instrumented app exposes no histogram"
}

SENT=0 COUNTED=0 DROPS=0 CPU_TICKS=0 ERRORS=0
# The same figures for f (HTTPS through uprobes).
TLS_SENT=0 TLS_COUNTED=0 TLS_DROPS=0 TLS_CPU_TICKS=0
SPANS=0 SPAN_CPU_TICKS=0 SPAN_DROPS=0 RECV_PID="" RECV_TICKS=0

# The OTLP receiver for mode d: started once, stopped by pid at exit.
start_receiver() {
	local port
	port=$(pt_free_port) || die "no port"
	node "$PT_REPO/tests/otlp/receiver.js" "$port" --out /dev/null \
		--pid-file "$PT_TMP/receiver.pid" >"$PT_TMP/logs/receiver.log" 2>&1 &
	for _ in $(seq 1 50); do
		[ -s "$PT_TMP/receiver.pid" ] && break
		sleep 0.1
	done
	[ -s "$PT_TMP/receiver.pid" ] || die "OTLP receiver did not start"
	RECV_PID=$(cat "$PT_TMP/receiver.pid")
	RECV_URL="http://127.0.0.1:$port"
}
stop_receiver() {
	[ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null && wait "$RECV_PID" 2>/dev/null
	RECV_PID=""
}
gunicorn_mode() {
	local mode=$1 url res c0 c1 d0 d1 t0 t1 s0 s1 r0
	case $mode in
	a) url="http://127.0.0.1:$PORT_PLAIN/" ;;
	b) url="http://127.0.0.1:$PORT_PLAIN/"
	   pt_podtap_start --no-pin || die "podtap did not start"
	   ;;
	c) url="http://127.0.0.1:$PORT_PROM/" ;;
	d) url="http://127.0.0.1:$PORT_PLAIN/"
	   OTEL_EXPORTER_OTLP_ENDPOINT=$RECV_URL OTEL_TRACES_SAMPLER=always_on \
		pt_podtap_start --no-pin || die "podtap did not start"
	   ;;
	e) url="https://127.0.0.1:$PORT_TLS/" ;;
	f) url="https://127.0.0.1:$PORT_TLS/"
	   pt_podtap_start --no-pin || die "podtap did not start"
	   ;;
	esac
	local scheme=http
	[ "$mode" = f ] && scheme=https
	# Warm-up (before podtap's counters are read, so it is not counted).
	hey -n 200 -c 4 "$url" >/dev/null 2>&1 || die "hey failed"
	if [ "$mode" = d ]; then
		sleep 0.5
		s0=$(pt_metric_sum podtap_spans_exported_total) || die "scrape failed"
		t0=$(cpu_ticks "$PODTAP_PID")
		r0=$(cpu_ticks "$RECV_PID")
	fi
	if [ "$mode" = b ] || [ "$mode" = f ]; then
		sleep 0.3
		c0=$(pt_metric_sum "${PT_HIST}_count" "${LABELS[@]}" "url_scheme=$scheme") || die "scrape failed"
		d0=$(pt_metric_sum podtap_kernel_drops_total) || die "scrape failed"
		t0=$(cpu_ticks "$PODTAP_PID")
	fi
	res=$(hey_run "$url" "$PT_TMP/hey.$mode.out") ||
		{ cat "$PT_TMP/hey.$mode.out" >&2; die "hey failed"; }
	echo "$res" >>"$PT_TMP/$mode"
	if [ "$mode" = d ]; then
		t1=$(cpu_ticks "$PODTAP_PID")
		sleep 1 # the last batch (200 ms batching) reaches the receiver
		RECV_TICKS=$((RECV_TICKS + $(cpu_ticks "$RECV_PID") - r0))
		s1=$(pt_metric_sum podtap_spans_exported_total) || die "scrape failed"
		SPANS=$((SPANS + s1 - s0))
		SPAN_CPU_TICKS=$((SPAN_CPU_TICKS + t1 - t0))
		SPAN_DROPS=$((SPAN_DROPS + $(pt_metric_sum podtap_spans_dropped_total)))
		pt_podtap_stop || die "podtap did not stop cleanly"
	fi
	if [ "$mode" = b ] || [ "$mode" = f ]; then
		t1=$(cpu_ticks "$PODTAP_PID")
		# Let the last events through, then read the counters.
		local want _
		want=$(( c0 + $(echo "$res" | awk '{ print $3 }') ))
		for _ in $(seq 1 30); do
			c1=$(pt_metric_sum "${PT_HIST}_count" "${LABELS[@]}" "url_scheme=$scheme") || die "scrape failed"
			[ "$c1" -ge "$want" ] && break
			sleep 0.1
		done
		sleep 0.3
		c1=$(pt_metric_sum "${PT_HIST}_count" "${LABELS[@]}" "url_scheme=$scheme") || die "scrape failed"
		d1=$(pt_metric_sum podtap_kernel_drops_total) || die "scrape failed"
		note_rss
		if [ "$mode" = b ]; then
			SENT=$((SENT + $(echo "$res" | awk '{ print $3 }')))
			COUNTED=$((COUNTED + c1 - c0))
			DROPS=$((DROPS + d1 - d0))
			CPU_TICKS=$((CPU_TICKS + t1 - t0))
		else
			TLS_SENT=$((TLS_SENT + $(echo "$res" | awk '{ print $3 }')))
			TLS_COUNTED=$((TLS_COUNTED + c1 - c0))
			TLS_DROPS=$((TLS_DROPS + d1 - d0))
			TLS_CPU_TICKS=$((TLS_CPU_TICKS + t1 - t0))
		fi
		pt_podtap_stop || die "podtap did not stop cleanly"
	fi
	ERRORS=$((ERRORS + $(echo "$res" | awk '{ print $4 }')))
	printf '  %s  %8.0f req/s  p99 %7.2f ms  (%d responses)\n' "$mode" \
		"$(echo "$res" | awk '{ print $1 }')" \
		"$(echo "$res" | awk '{ print $2 * 1000 }')" \
		"$(echo "$res" | awk '{ print $3 }')"
}

bench_gunicorn() {
	local r k
	local -a modes=(a b c d e f)
	echo "gunicorn + Flask hello: hey -z $DURATION -c $CONC, gunicorn -w $WORKERS sync, $ROUNDS rounds:"
	for k in "${modes[@]}"; do
		: >"$PT_TMP/$k" # one line per round: req/s p99 responses errors
	done
	gunicorn_setup
	start_receiver
	for r in $(seq 0 $((ROUNDS - 1))); do
		echo " round $((r + 1)):"
		for k in 0 1 2 3 4 5; do
			gunicorn_mode "${modes[$(( (r + k) % 6 ))]}"
		done
	done
	stop_receiver
}

# gunicorn_report: the table and figures; sets TP_B, TP_F, CPU_10K,
# SPAN_CPU_10K, ... for the targets.
gunicorn_report() {
	col_median() { awk -v c="$2" '{ print $c }' "$PT_TMP/$1" | median; }
	RPS_a=$(col_median a 1) RPS_b=$(col_median b 1) RPS_c=$(col_median c 1)
	P99_a=$(col_median a 2) P99_b=$(col_median b 2) P99_c=$(col_median c 2)
	# round_ratios MODE COL [BASE]: that mode's figure over BASE's (default
	# a), round by round.
	round_ratios() {
		paste -d ' ' "$PT_TMP/$1" "$PT_TMP/${3:-a}" |
			awk -v c="$2" '{ printf "%.3f\n", ($(c + 4) > 0) ? $c / $(c + 4) : 0 }'
	}
	TP_B=$(round_ratios b 1 | median | xargs printf '%.3f')
	TP_C=$(round_ratios c 1 | median | xargs printf '%.3f')
	TP_D=$(round_ratios d 1 | median | xargs printf '%.3f')
	TP_F=$(round_ratios f 1 e | median | xargs printf '%.3f')
	P99R_F=$(round_ratios f 2 e | median | xargs printf '%.3f')
	RPS_e=$(col_median e 1) P99_e=$(col_median e 2)
	RPS_f=$(col_median f 1) P99_f=$(col_median f 2)
	RPS_d=$(col_median d 1) P99_d=$(col_median d 2)
	P99R_D=$(round_ratios d 2 | median | xargs printf '%.3f')
	P99R_B=$(round_ratios b 2 | median | xargs printf '%.3f')
	P99R_C=$(round_ratios c 2 | median | xargs printf '%.3f')
	CPU_S=$(awk -v t="$CPU_TICKS" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
	CPU_10K=$(per_10k "$CPU_TICKS" "$SENT")
	

	# spread MODE: (max - min) / median of that mode's req/s, in percent: how
	# much the machine's noise alone moves a figure in this run.
	spread() {
		awk '{ print $1 }' "$PT_TMP/$1" | sort -g | awk '{ v[NR] = $1 } END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
			printf "%.1f%%", (m > 0) ? (v[NR] - v[1]) / m * 100 : 0 }'
	}

	echo
	printf '%-22s %10s %8s %10s %8s %10s\n' "mode (median)" "req/s" "ratio" "p99 ms" "ratio" "spread"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "a no probe" "$RPS_a" 1.000 \
		"$(awk -v v="$P99_a" 'BEGIN { print v * 1000 }')" 1.000 "$(spread a)"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "b podtap" "$RPS_b" "$TP_B" \
		"$(awk -v v="$P99_b" 'BEGIN { print v * 1000 }')" "$P99R_B" "$(spread b)"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "c prometheus_client" "$RPS_c" "$TP_C" \
		"$(awk -v v="$P99_c" 'BEGIN { print v * 1000 }')" "$P99R_C" "$(spread c)"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "d podtap + spans" "$RPS_d" "$TP_D" \
		"$(awk -v v="$P99_d" 'BEGIN { print v * 1000 }')" "$P99R_D" "$(spread d)"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "e https, no probe" "$RPS_e" "(base)" \
		"$(awk -v v="$P99_e" 'BEGIN { print v * 1000 }')" "(base)" "$(spread e)"
	printf '%-22s %10.0f %8s %10.2f %8s %10s\n' "f https + podtap" "$RPS_f" "$TP_F" \
		"$(awk -v v="$P99_f" 'BEGIN { print v * 1000 }')" "$P99R_F" "$(spread f)"
	echo "(f's ratios are to e, the same HTTPS app without podtap)"
	# shellcheck disable=SC2046 # one line of figures
	echo "ratios: median of per-round ratios to a; throughput b/a per round:" \
		$(round_ratios b 1) "; c/a:" $(round_ratios c 1)
	echo "spread: (max - min) / median req/s of a mode over the rounds (drift and"
	echo "noise of this machine during the run)"
	echo
	echo "podtap CPU: ${CPU_S} s over $SENT requests = ${CPU_10K} s per 10k requests"

	echo "requests sent (hey): $SENT   counted by podtap: $COUNTED   kernel drops: $DROPS"
	SPAN_CPU_10K=$(per_10k "$SPAN_CPU_TICKS" "$SPANS")
	RECV_CPU_10K=$(per_10k "$RECV_TICKS" "$SPANS")
	echo "spans (d, always_on): $SPANS exported, $SPAN_DROPS dropped; podtap CPU ${SPAN_CPU_10K} s per 10k spans"
	echo "  (the local test receiver, on the same 2 cores, used ${RECV_CPU_10K} s per 10k spans)"
	echo "throughput with spans exported, d/a: $TP_D"
	TLS_CPU_10K=$(per_10k "$TLS_CPU_TICKS" "$TLS_SENT")
	echo "https (f): podtap CPU ${TLS_CPU_10K} s per 10k requests; sent $TLS_SENT, counted $TLS_COUNTED, kernel drops $TLS_DROPS"
	echo "throughput over HTTPS with podtap, f/e: $TP_F"
	if [ "$ERRORS" -gt 0 ]; then
		echo "note: hey reported $ERRORS client errors over all runs"
	fi
}
