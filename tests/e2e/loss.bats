#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Loss you can count: a ring buffer far too small for a burst of requests
# with 6 kB heads (each read event is that large) loses events by the
# thousand, and still every request sent is either counted or accounted
# for, on each side: sent = counted + podtap_http_exchanges_incomplete_total
# + podtap_http_requests_unmeasured_total. Both ends are in pods:
# gunicorn's sync workers (one request per connection) and hey.

load 'lib/common'

N=2048 # a multiple of hey -c: hey sends N / c per worker

setup_file() {
	pt_podtap_setup
	pt_pod_create loss web-1 web
	export WEB_SCOPE=$PT_POD_SCOPE
	pt_who web loss web-1 web
	pt_pod_create loss hey-1 hey
	export HEY_SCOPE=$PT_POD_SCOPE
	# The smallest ring podtap takes: 64 KiB, some ten of these events.
	pt_podtap_start --ringbuf-size 65536
	pt_gunicorn_app WEB web --cgroup "$WEB_SCOPE" -- -w 2
}

teardown_file() {
	pt_podtap_teardown
}

# side_total SIDE: what podtap says of the requests of SIDE: counted, plus
# incomplete, plus unmeasured (node-wide: this file's traffic alone).
side_total() {
	local counted
	if [ "$1" = server ]; then
		counted=$(pt_count web GET 200 /)
	else
		local -a l
		mapfile -t l < <(pt_client_labels loss hey-1 hey GET 200 / http \
			127.0.0.1 "$WEB_PORT")
		counted=$(pt_metric http_client_request_duration_seconds_count "${l[@]}")
	fi
	echo $((counted +
		$(pt_metric_sum podtap_http_exchanges_incomplete_total "side=$1") +
		$(pt_metric_sum podtap_http_requests_unmeasured_total "side=$1")))
}

@test "a burst through a ring far too small: every request counted or accounted for, on both sides" {
	local cookie ok server client lost
	cookie=$(head -c 3000 /dev/zero | tr '\0' a)
	bash "$PT_LIB_DIR/in-cgroup.sh" "$HEY_SCOPE" hey -n "$N" -c 32 \
		-H "Cookie: a=$cookie" -H "X-Padding: $cookie" "$WEB/" \
		>"$PT_TMP/hey.out" 2>&1
	ok=$(awk '/\[200\]/ { print $2 }' "$PT_TMP/hey.out")
	pt_expect_eq "requests answered 200 (hey)" "$N" "${ok:-0}" ||
		{ cat "$PT_TMP/hey.out" >&2; return 1; }
	# Exchanges cut short by lost events end when their connections do:
	# gunicorn's workers and hey have closed them, and the workers exit
	# now (an exit ends what is left of its process's connections).
	pt_stop_pid "$WEB_PID"
	server=0 client=0
	for _ in $(seq 1 100); do
		server=$(side_total server)
		client=$(side_total client)
		[ "$server" = "$N" ] && [ "$client" = "$N" ] && break
		sleep 0.2
	done
	lost=$(pt_metric podtap_kernel_drops_total reason=ringbuf_full)
	echo "ring buffer full: $lost events lost; server side $server" \
		"($(pt_count web GET 200 /) counted), client side $client of $N" >&3
	[ "$lost" -gt 0 ] || { pt_fail "no event was lost: the test proves nothing"; return 1; }
	pt_expect_eq "server side: counted + incomplete + unmeasured" "$N" "$server"
	pt_expect_eq "client side: counted + incomplete + unmeasured" "$N" "$client"
}
