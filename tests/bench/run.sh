#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# podtap overhead benchmark (make bench; not part of make test).
#
# Each section measures a workload without and with podtap, side by side in
# one run (modes alternated, ratios per round, median over the rounds):
#   gunicorn.sh  gunicorn + Flask hello: podtap, in-process
#                prometheus_client, spans at always_on, HTTPS
#   event_loop.sh  gunicorn -k gevent (greenlet hooks on) and uvicorn
#   nginx.sh     nginx at wrk's maximum rate, 5 B and 16 KiB bodies, with
#                podtap's in-kernel time per request (bpf_stats)
#   non_http.sh  file I/O (dd bs=64) and a small-send TCP stream (iperf3)
# Then the figures, and PASS/MISS per target. Exits non-zero only when a
# tool fails, never on a missed target. Run it on a quiet machine: other
# work on the same cores moves the figures.
#
# Environment: BENCH_DURATION (default 6s), BENCH_ROUNDS (5),
# BENCH_SECTIONS ("gunicorn event_loop nginx non_http"), BENCH_CONCURRENCY (16, hey),
# BENCH_WORKERS (2, gunicorn), BENCH_NGINX_CONNECTIONS (32, wrk),
# BENCH_DD_BLOCKS (1000000), BENCH_IPERF_SECONDS (3), PODTAP_BIN, FLOOR_BIN
# (build/podtap).

set -u -o pipefail

DURATION=${BENCH_DURATION:-6s}
ROUNDS=${BENCH_ROUNDS:-5}
SECTIONS=${BENCH_SECTIONS:-gunicorn event_loop nginx non_http}

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# The e2e helpers: temp dir, pods, gunicorn and podtap start/stop, cleanup.
# shellcheck source=../e2e/lib/common.bash
source "$BENCH_DIR/../e2e/lib/common.bash"
# shellcheck source=lib.sh
source "$BENCH_DIR/lib.sh"
for section in $SECTIONS; do
	[ -f "$BENCH_DIR/$section.sh" ] || die "no section $section"
	# shellcheck disable=SC1090
	source "$BENCH_DIR/$section.sh"
done

pt_init || die "setup failed"
trap 'bpf_stats off; [ "$(type -t stop_receiver)" = function ] && stop_receiver; pt_cleanup' EXIT
trap 'exit 130' INT TERM
pt_require_podtap || die "build podtap first (make)"
command -v bpftool >/dev/null && command -v jq >/dev/null ||
	die "bpftool and jq are needed"

echo "podtap bench: $ROUNDS rounds of each section ($SECTIONS)"
echo "(load average now: $(cut -d' ' -f1-3 /proc/loadavg); other work skews the figures)"
for section in $SECTIONS; do
	echo
	"bench_$section"
done

echo
for section in $SECTIONS; do
	"${section}_report"
	echo
done
RSS_MIB=$(awk -v k="$HWM_KB" 'BEGIN { printf "%.1f", k / 1024 }')
echo "podtap peak RSS (VmHWM) over every podtap run: $RSS_MIB MiB"
echo
case " $SECTIONS " in *" gunicorn "*)
	target "gunicorn b/a (Python hooks on) >= 0.99" "$TP_B >= 0.99" "$TP_B"
	target "gunicorn https f/e >= 0.97" "$TP_F >= 0.97" "$TP_F"
	target "gunicorn counted == sent, 0 drops" \
		"$COUNTED == $SENT && $DROPS == 0 && $TLS_COUNTED == $TLS_SENT && $TLS_DROPS == 0" \
		"$COUNTED/$SENT, https $TLS_COUNTED/$TLS_SENT, $DROPS+$TLS_DROPS drops"
	target "podtap <= 0.02 CPU-s per 10k requests" "$CPU_10K <= 0.02" \
		"gunicorn $CPU_10K"
	target "podtap <= 0.03 CPU-s per 10k spans" "$SPAN_CPU_10K <= 0.03" \
		"$SPAN_CPU_10K; $SPAN_DROPS dropped"
	;;
esac
case " $SECTIONS " in *" event_loop "*)
	target "gevent h/g (greenlet hooks on) >= 0.99" "$TP_GEVENT >= 0.99" "$TP_GEVENT"
	target "uvicorn v/u >= 0.99" "$TP_UVICORN >= 0.99" "$TP_UVICORN"
	;;
esac
case " $SECTIONS " in *" nginx "*)
	target "nginx 5 B >= 0.90" "$NGINX_RATIO_5 >= 0.90" "$NGINX_RATIO_5"
	target "nginx 16 KiB >= 0.90" "$NGINX_RATIO_16384 >= 0.90" "$NGINX_RATIO_16384"
	target "in-kernel <= 1500 ns per request (5 B)" "$NGINX_NS_5 <= 1500" \
		"$NGINX_NS_5 ns"
	target "in-kernel <= 2500 ns per request (16 KiB)" "$NGINX_NS_16384 <= 2500" \
		"$NGINX_NS_16384 ns"
	target "nginx: podtap <= 0.02 CPU-s per 10k requests" \
		"$NGINX_CPU_5 <= 0.02 && $NGINX_CPU_16384 <= 0.02" \
		"5 B $NGINX_CPU_5, 16 KiB $NGINX_CPU_16384"
	target "nginx: every request counted, 0 drops" \
		"$NGINX_COUNTED_5 == $NGINX_SENT_5 && $NGINX_COUNTED_16384 == $NGINX_SENT_16384 && $NGINX_DROPS_5 + $NGINX_DROPS_16384 == 0" \
		"5 B $NGINX_COUNTED_5/$NGINX_SENT_5, 16 KiB $NGINX_COUNTED_16384/$NGINX_SENT_16384, $((NGINX_DROPS_5 + NGINX_DROPS_16384)) drops"
	;;
esac
case " $SECTIONS " in *" non_http "*)
	target "file I/O (dd) >= 0.80" "$DD_RATIO >= 0.80" "$DD_RATIO"
	target "non-HTTP TCP (iperf3) >= 0.97" "$IPERF_RATIO >= 0.97" "$IPERF_RATIO"
	;;
esac
target "peak RSS <= 15 MiB" "$HWM_KB <= 15 * 1024" "$RSS_MIB MiB"
exit 0
