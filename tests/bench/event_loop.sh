# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Python servers with one OS thread for many requests (sourced by run.sh).
#
# The fixture app in a simulated pod, loaded with hey over loopback:
#   g  gunicorn -k gevent -w 1, Flask hello, no probe
#   h  g with podtap, traces on (so greenlet switches are hooked:
#      OTEL_TRACES_SAMPLER=always_off, nothing exported)
#   u  uvicorn (asyncio), the bare ASGI app, no probe
#   v  u with podtap, traces on as in h
#   i  h with --inject-trace-context: every request head named in the
#      kernel, and hey's own requests (a client on the node) injected
# Modes alternate, order rotated each round; each ratio is the median of
# the rounds' own ratios (h/g, v/u, i/g). In h, bpf_stats gives the greenlet
# hook's in-kernel nanoseconds per switch, and podtap's events the switches
# per request (the uprobe's trap into the kernel and back is not in it:
# h/g is the whole cost).

event_loop_setup() {
	pt_pod_create bench loop-0 loop || die "cannot create the pod cgroup"
	EL_SCOPE=$PT_POD_SCOPE
	EL_GEVENT_PORT=$(pt_free_port) || die "no port"
	EL_UV_PORT=$(pt_free_port) || die "no port"
	pt_gunicorn_start "$PT_TMP/logs/gevent.log" "$EL_GEVENT_PORT" \
		--cgroup "$EL_SCOPE" --env PODTAP_APP_MODE=hello -- -w 1 \
		-k gevent --worker-connections 256 >/dev/null ||
		die "gunicorn (gevent) did not start"
	EL_UV_PID=$(pt_spawn "$PT_TMP/logs/uvicorn.log" --cgroup "$EL_SCOPE" -- \
		"$PT_PY" -m uvicorn --app-dir "$PT_FIXTURES" asgi_app:app \
		--host 127.0.0.1 --port "$EL_UV_PORT" --log-level warning) ||
		die "uvicorn did not start"
	pt_wait_port "$EL_UV_PORT" 20 "$EL_UV_PID" || die "uvicorn did not start"
	[ "$(curl -s "http://127.0.0.1:$EL_GEVENT_PORT/")" = "Hello, World!" ] ||
		die "gevent app does not answer"
	[ "$(curl -s "http://127.0.0.1:$EL_UV_PORT/")" = "ok 0" ] ||
		die "uvicorn app does not answer"
}

EL_SWITCHES=0 EL_SWITCH_NS=0 EL_SWITCH_RUNS=0 EL_SENT=0 EL_INJECTED=0

# switch_prog_stats: "run_time_ns run_cnt" of the greenlet hook.
switch_prog_stats() {
	bpftool prog show -j | jq -r '[.[] | select(.name == "podtap_greenlet_switch")] |
		"\(map(.run_time_ns // 0) | add // 0) \(map(.run_cnt // 0) | add // 0)"'
}

event_loop_mode() {
	local mode=$1 url res e0 e1 s0 s1
	case $mode in
	g | h | i) url="http://127.0.0.1:$EL_GEVENT_PORT/" ;;
	u | v) url="http://127.0.0.1:$EL_UV_PORT/" ;;
	esac
	if [ "$mode" = h ] || [ "$mode" = v ]; then
		# Traces on with nothing sent: the tracer and its hooks run.
		OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 \
			OTEL_TRACES_SAMPLER=always_off \
			pt_podtap_start --no-pin || die "podtap did not start"
	elif [ "$mode" = i ]; then
		OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 \
			OTEL_TRACES_SAMPLER=always_off \
			pt_podtap_start --no-pin --inject-trace-context ||
			die "podtap did not start"
	fi
	hey -n 200 -c 4 "$url" >/dev/null 2>&1 || die "hey failed"
	if [ "$mode" = h ]; then
		sleep 0.3
		e0=$(pt_metric_sum podtap_events_total kind=greenlet_switch) ||
			die "scrape failed"
		bpf_stats on
		s0=$(switch_prog_stats)
	fi
	res=$(hey_run "$url" "$PT_TMP/hey.$mode.out") ||
		{ cat "$PT_TMP/hey.$mode.out" >&2; die "hey failed"; }
	echo "$res" >>"$PT_TMP/$mode"
	if [ "$mode" = h ]; then
		s1=$(switch_prog_stats)
		bpf_stats off
		sleep 0.3
		e1=$(pt_metric_sum podtap_events_total kind=greenlet_switch) ||
			die "scrape failed"
		EL_SWITCHES=$((EL_SWITCHES + e1 - e0))
		EL_SENT=$((EL_SENT + $(echo "$res" | awk '{ print $3 }')))
		EL_SWITCH_NS=$((EL_SWITCH_NS + ${s1% *} - ${s0% *}))
		EL_SWITCH_RUNS=$((EL_SWITCH_RUNS + ${s1#* } - ${s0#* }))
	fi
	if [ "$mode" = i ]; then
		EL_INJECTED=$(( EL_INJECTED + $(pt_metric podtap_trace_inject_total result=root) ))
	fi
	if [ "$mode" = h ] || [ "$mode" = v ] || [ "$mode" = i ]; then
		note_rss
		pt_podtap_stop || die "podtap did not stop cleanly"
	fi
	printf '  %s  %8.0f req/s  p99 %7.2f ms  (%d responses)\n' "$mode" \
		"$(echo "$res" | awk '{ print $1 }')" \
		"$(echo "$res" | awk '{ print $2 * 1000 }')" \
		"$(echo "$res" | awk '{ print $3 }')"
}

bench_event_loop() {
	local r k
	local -a modes=(g h u v i)
	echo "event-loop Python servers: hey -z $DURATION -c $CONC, gunicorn -k gevent -w 1 and uvicorn, $ROUNDS rounds:"
	for k in "${modes[@]}"; do
		: >"$PT_TMP/$k"
	done
	event_loop_setup
	for r in $(seq 0 $((ROUNDS - 1))); do
		echo " round $((r + 1)):"
		for k in "${!modes[@]}"; do
			event_loop_mode "${modes[$(( (r + k) % ${#modes[@]} ))]}"
		done
	done
}

event_loop_report() {
	el_ratios() {
		paste -d ' ' "$PT_TMP/$1" "$PT_TMP/$2" |
			awk '{ printf "%.3f\n", ($5 > 0) ? $1 / $5 : 0 }'
	}
	TP_GEVENT=$(el_ratios h g | median | xargs printf '%.3f')
	TP_UVICORN=$(el_ratios v u | median | xargs printf '%.3f')
	TP_INJECT=$(el_ratios i g | median | xargs printf '%.3f')
	# shellcheck disable=SC2046 # one line of figures
	echo "gevent with podtap and its greenlet hooks, h/g: $TP_GEVENT (per round:" \
		$(el_ratios h g) ")"
	# shellcheck disable=SC2046
	echo "uvicorn with podtap, v/u: $TP_UVICORN (per round:" $(el_ratios v u) ")"
	# shellcheck disable=SC2046
	echo "gevent with podtap injecting trace context, i/g: $TP_INJECT (per round:" \
		$(el_ratios i g) "); $EL_INJECTED requests injected"
	echo "greenlet switches: $EL_SWITCHES over $EL_SENT requests" \
		"($(ratio "$EL_SWITCHES" "$EL_SENT") per request);" \
		"in-kernel $(ratio "$EL_SWITCH_NS" "$EL_SWITCH_RUNS") ns per switch (bpf_stats)"
}
