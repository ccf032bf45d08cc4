#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The traffic shapes past the easy path, end to end, every figure exact:
# streamed (chunked) bodies of any chunk size, whose framing the kernel does
# not copy (it copies a bounded prefix of each syscall); a Node server
# writing many chunks in one writev; nginx as a reverse proxy in front of a
# chunked upstream (its server side, its client side and the upstream);
# chunked uploads; and HTTPS on asyncio (TLS on memory BIOs: uvicorn
# --ssl-*, httpx.AsyncClient, aiohttp), whose SSL calls make no syscall.
#
#   pod stream/web-1 "web"     gunicorn gthread (keep-alive), the Flask app
#   pod edge/proxy-1 "nginx"   nginx, proxy_http_version 1.1 to web-1
#   pod edge/hap-1 "haproxy"   haproxy, keep-alive to web-1
#   pod js/node-1 "node"       tests/fixtures/node_chunks.js
#   pod asgi/uv-1 "uvicorn"    uvicorn, plain HTTP
#   pod asgi/uvs-1 "uvicorn"   uvicorn --ssl-keyfile/--ssl-certfile
#   pod tls/gu-1 "web"         gunicorn serving HTTPS itself
#   pod calls/caller-1 "caller"  the asyncio clients
#   pod files/splice-1 "files"   tests/fixtures/splice_server.py: bodies by
#                                splice(2)

load 'lib/common'

UVICORN=(/usr/bin/python3 -m uvicorn --app-dir "$PT_FIXTURES" asgi_app:app
	--host 127.0.0.1 --log-level warning)

setup_file() {
	pt_podtap_setup
	local cg
	for cmd in node /usr/sbin/nginx /usr/sbin/haproxy; do
		command -v "$cmd" >/dev/null || {
			pt_fail "$cmd is missing (make deps)"
			return 1
		}
	done
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-keyout "$PT_TMP/key.pem" -out "$PT_TMP/cert.pem" 2>/dev/null
	head -c 300000 /dev/urandom >"$PT_TMP/body.bin"

	pt_pod_create stream web-1 web
	export WEB_SCOPE=$PT_POD_SCOPE
	pt_who web stream web-1 web
	pt_pod_create edge proxy-1 nginx
	export PROXY_SCOPE=$PT_POD_SCOPE
	pt_who proxy edge proxy-1 nginx
	pt_pod_create edge hap-1 haproxy
	export HAP_SCOPE=$PT_POD_SCOPE
	pt_who hap edge hap-1 haproxy
	pt_pod_create js node-1 node
	export NODE_SCOPE=$PT_POD_SCOPE
	pt_who node js node-1 node
	pt_pod_create asgi uv-1 uvicorn
	export UV_SCOPE=$PT_POD_SCOPE
	pt_who uv asgi uv-1 uvicorn
	pt_pod_create asgi uvs-1 uvicorn
	export UVS_SCOPE=$PT_POD_SCOPE
	pt_who uvs asgi uvs-1 uvicorn
	pt_pod_create tls gu-1 web
	export GU_SCOPE=$PT_POD_SCOPE
	pt_who gu tls gu-1 web
	pt_pod_create calls caller-1 caller
	export CALLER_SCOPE=$PT_POD_SCOPE
	pt_pod_create files splice-1 files
	export SPLICE_SCOPE=$PT_POD_SCOPE
	pt_who splice files splice-1 files

	pt_podtap_start

	pt_gunicorn_app WEB web --cgroup "$WEB_SCOPE" -- -w 2 --threads 4 \
		--keep-alive 10
	pt_gunicorn_app GU gu --cgroup "$GU_SCOPE" -- -w 1 --threads 2 \
		--certfile "$PT_TMP/cert.pem" --keyfile "$PT_TMP/key.pem"

	PROXY_PORT=$(pt_free_port)
	mkdir -p "$PT_TMP/nginx"
	cat >"$PT_TMP/nginx/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $PT_TMP/nginx/nginx.pid;
		events { worker_connections 64; }
		http {
			access_log $PT_TMP/nginx/access.log;
			client_body_temp_path $PT_TMP/nginx/body;
			proxy_temp_path $PT_TMP/nginx/proxy;
			fastcgi_temp_path $PT_TMP/nginx/fastcgi;
			uwsgi_temp_path $PT_TMP/nginx/uwsgi;
			scgi_temp_path $PT_TMP/nginx/scgi;
			upstream web { server 127.0.0.1:$WEB_PORT; keepalive 4; }
			server {
				listen 127.0.0.1:$PROXY_PORT;
				location / {
					proxy_pass http://web;
					proxy_http_version 1.1;
					proxy_set_header Connection "";
					proxy_set_header Host 127.0.0.1:$WEB_PORT;
				}
			}
		}
	EOF
	PROXY_PID=$(pt_spawn "$PT_TMP/logs/nginx.log" --cgroup "$PROXY_SCOPE" -- \
		/usr/sbin/nginx -p "$PT_TMP/nginx" -e "$PT_TMP/nginx/error.log" \
		-c "$PT_TMP/nginx/nginx.conf") || return 1
	pt_wait_port "$PROXY_PORT" 20 "$PROXY_PID" || {
		cat "$PT_TMP/nginx/error.log" >&2
		return 1
	}
	export PROXY="http://127.0.0.1:$PROXY_PORT" PROXY_PID

	HAP_PORT=$(pt_free_port)
	cat >"$PT_TMP/haproxy.cfg" <<-EOF
		global
			maxconn 64
		defaults
			mode http
			timeout connect 5s
			timeout client 30s
			timeout server 30s
			option http-keep-alive
		frontend fe
			bind 127.0.0.1:$HAP_PORT
			default_backend web
		backend web
			server web 127.0.0.1:$WEB_PORT
	EOF
	cg=$(pt_spawn "$PT_TMP/logs/haproxy.log" --cgroup "$HAP_SCOPE" -- \
		/usr/sbin/haproxy -db -f "$PT_TMP/haproxy.cfg") || return 1
	pt_wait_port "$HAP_PORT" 20 "$cg" || return 1
	export HAP="http://127.0.0.1:$HAP_PORT" HAP_PORT

	NODE_PORT=$(pt_free_port)
	NODE_PID=$(pt_spawn "$PT_TMP/logs/node.log" --cgroup "$NODE_SCOPE" -- \
		node "$PT_FIXTURES/node_chunks.js" "$NODE_PORT") || return 1
	pt_wait_port "$NODE_PORT" 20 "$NODE_PID" || return 1
	export NODE="http://127.0.0.1:$NODE_PORT"

	UV_PORT=$(pt_free_port)
	pt_spawn "$PT_TMP/logs/uv.log" --cgroup "$UV_SCOPE" -- \
		"${UVICORN[@]}" --port "$UV_PORT" >/dev/null || return 1
	UVS_PORT=$(pt_free_port)
	cg=$(pt_spawn "$PT_TMP/logs/uvs.log" --cgroup "$UVS_SCOPE" -- \
		"${UVICORN[@]}" --port "$UVS_PORT" \
		--ssl-keyfile "$PT_TMP/key.pem" --ssl-certfile "$PT_TMP/cert.pem") ||
		return 1
	pt_wait_port "$UV_PORT" 20 || return 1
	pt_wait_port "$UVS_PORT" 20 "$cg" || return 1
	export UV="http://127.0.0.1:$UV_PORT" UVS="https://127.0.0.1:$UVS_PORT"
	export UVS_PORT

	SPLICE_PORT=$(pt_free_port)
	cg=$(pt_spawn "$PT_TMP/logs/splice.log" --cgroup "$SPLICE_SCOPE" -- \
		/usr/bin/python3 "$PT_FIXTURES/splice_server.py" "$SPLICE_PORT") ||
		return 1
	pt_wait_port "$SPLICE_PORT" 20 "$cg" || return 1
	export SPLICE="http://127.0.0.1:$SPLICE_PORT"
}

teardown_file() {
	pt_podtap_teardown
}

# fetch N URL...: curl fetches the URLs in order over one kept-alive
# connection; every answer must be status N.
fetch() {
	local want=$1 url codes
	local -a args=()
	shift
	for url in "$@"; do args+=(-o /dev/null "$url"); done
	codes=$(curl -sS -w '%{http_code}\n' --max-time 60 "${args[@]}" |
		sort -u | tr '\n' ' ')
	pt_expect_eq "statuses of $*" "$want " "$codes"
}

# bucket WHO ROUTE LE: the server histogram's bucket le=LE for WHO's GET
# 200 ROUTE.
bucket() {
	local -a l
	mapfile -t l < <(pt_sel "$1" GET 200 "$2")
	pt_metric "${PT_HIST}_bucket" "${l[@]}" "le=$3"
}

@test "Flask streamed responses, chunks of 1 B to 1 MiB, two per connection: each counted once" {
	local size n k=0 before
	before=$(pt_count web GET 200 '/chunks/{id}')
	for size in 1 100 1000 4000 8000 8300 16000 16400 65536 1048576; do
		n=8
		[ "$size" -ge 65536 ] && n=4
		[ "$size" -ge 1048576 ] && n=2
		fetch 200 "$WEB/chunks/$size?n=$n" "$WEB/chunks/$size?n=$n"
		k=$((k + 2))
		pt_expect_count $((before + k)) web GET 200 '/chunks/{id}' ||
			{ echo "after chunks of $size B" >&2; return 1; }
	done
}

@test "a slow streamed response of 64 KiB chunks ends with its last write: its latency bucket" {
	local b25 b50 total
	b25=$(bucket web '/chunks/{id}' 0.25)
	b50=$(bucket web '/chunks/{id}' 0.5)
	total=$(pt_count web GET 200 '/chunks/{id}')
	# 4 chunks 100 ms apart: 0.3 s from the request to the last chunk.
	fetch 200 "$WEB/chunks/65536?n=4&ms=100"
	pt_expect_count $((total + 1)) web GET 200 '/chunks/{id}'
	pt_expect_eq "requests under 0.25 s" "$b25" "$(bucket web '/chunks/{id}' 0.25)"
	pt_expect_eq "requests under 0.5 s" $((b50 + 1)) "$(bucket web '/chunks/{id}' 0.5)"
}

@test "a Node server writing 192 buffers in one writev, and 8 chunks of 20 kB: counted" {
	fetch 200 "$NODE/many/64/1000" "$NODE/many/64/1000" "$NODE/many/8/20000"
	pt_expect_count 3 node GET 200 '/many/{id}/{id}'
}

@test "nginx proxying a chunked upstream: nginx's server side, its client side and the upstream, each exact" {
	local size up0
	local -a cli
	up0=$(pt_count web GET 200 '/chunks/{id}')
	for size in 1000 65536 1048576; do
		fetch 200 "$PROXY/chunks/$size?n=3" "$PROXY/chunks/$size?n=3"
	done
	pt_expect_count 6 proxy GET 200 '/chunks/{id}'
	mapfile -t cli < <(pt_client_labels edge proxy-1 nginx GET 200 \
		'/chunks/{id}' http 127.0.0.1 "$WEB_PORT")
	pt_wait_metric 6 http_client_request_duration_seconds_count "${cli[@]}"
	pt_expect_count $((up0 + 6)) web GET 200 '/chunks/{id}'
}

@test "bodies sent with splice(2), three on one connection: counted, the stream in step" {
	fetch 200 "$SPLICE/spliced/100000" "$SPLICE/spliced/5" "$SPLICE/spliced/300000"
	pt_expect_count 3 splice GET 200 '/spliced/{id}'
}

@test "haproxy proxying a chunked upstream: its server side, its client side and the upstream, each exact, in their latency buckets" {
	local size up0
	local -a cli
	up0=$(pt_count web GET 200 '/chunks/{id}')
	for size in 1000 65536 1048576; do
		fetch 200 "$HAP/chunks/$size?n=3" "$HAP/chunks/$size?n=3"
	done
	pt_expect_count 6 hap GET 200 '/chunks/{id}'
	pt_expect_count $((up0 + 6)) web GET 200 '/chunks/{id}'
	# haproxy reads its upstream 16 KiB at a time: the last chunk of a
	# large answer ends a read larger than podtap copies, so that answer
	# ends at the next request on the kept-alive upstream connection, or
	# at its close (gunicorn's --keep-alive 10): counted late, timed
	# right (docs/metrics.md).
	mapfile -t cli < <(pt_client_labels edge hap-1 haproxy GET 200 \
		'/chunks/{id}' http 127.0.0.1 "$HAP_PORT")
	PT_WAIT_S=30 pt_wait_metric 6 http_client_request_duration_seconds_count "${cli[@]}"
	pt_expect_eq "haproxy's client requests under 1 s" 6 \
		"$(pt_metric http_client_request_duration_seconds_bucket "${cli[@]}" le=1)"
}

# upload URL STATUS: POSTs the 300 kB body chunked (curl sends it in
# chunks of its read size); the answer must be STATUS.
upload() {
	pt_expect_eq "status of a chunked upload to $1" "$2" \
		"$(pt_curl_status "$1" -H 'Transfer-Encoding: chunked' \
			--data-binary @"$PT_TMP/body.bin")"
}

@test "chunked uploads of 300 kB to gunicorn and to uvicorn: counted" {
	for _ in 1 2 3; do
		upload "$WEB/upload" 201
		upload "$UV/upload" 200
	done
	pt_expect_count 3 web POST 201 /upload
	pt_expect_count 3 uv POST 200 /upload
}

@test "HTTPS on asyncio: uvicorn --ssl-* called by httpx.AsyncClient and aiohttp, gunicorn HTTPS by aiohttp: both sides exact, https" {
	local drop0 kind
	local -a paths cli
	drop0=$(pt_metric podtap_kernel_drops_total reason=tls_socket_unknown)
	paths=(/items/1 /items/2 /items/3 /items/4 /items/5 /missing/1)
	for kind in httpx aiohttp; do
		bash "$PT_LIB_DIR/in-cgroup.sh" "$CALLER_SCOPE" /usr/bin/python3 \
			"$PT_FIXTURES/async_client.py" "$kind" "$UVS" "${paths[@]}" \
			>"$PT_TMP/$kind.out" 2>&1 || { cat "$PT_TMP/$kind.out" >&2; return 1; }
		pt_expect_eq "$kind statuses" "200 200 200 200 200 404" \
			"$(tr '\n' ' ' <"$PT_TMP/$kind.out" | sed 's/ $//')"
	done
	bash "$PT_LIB_DIR/in-cgroup.sh" "$CALLER_SCOPE" /usr/bin/python3 \
		"$PT_FIXTURES/async_client.py" aiohttp "$GU" /users/1 /users/2 / \
		>"$PT_TMP/gu.out" 2>&1 || { cat "$PT_TMP/gu.out" >&2; return 1; }
	pt_expect_count 10 uvs GET 200 '/items/{id}' https
	pt_expect_count 2 uvs GET 404 '/missing/{id}' https
	pt_expect_count 2 gu GET 200 '/users/{id}' https
	pt_expect_count 1 gu GET 200 / https
	mapfile -t cli < <(pt_client_labels calls caller-1 caller GET 200 \
		'/items/{id}' https 127.0.0.1 "$UVS_PORT")
	pt_wait_metric 10 http_client_request_duration_seconds_count "${cli[@]}"
	mapfile -t cli < <(pt_client_labels calls caller-1 caller GET 200 \
		'/users/{id}' https 127.0.0.1 "$GU_PORT")
	pt_wait_metric 2 http_client_request_duration_seconds_count "${cli[@]}"
	# Nothing of the TLS pods is plain http (ciphertext parsed).
	pt_expect_eq "http series of uvs-1" 0 \
		"$(pt_metric_sum "${PT_HIST}_count" k8s_pod_name=uvs-1 url_scheme=http)"
	pt_expect_eq "SSL calls without a socket" "$drop0" \
		"$(pt_metric podtap_kernel_drops_total reason=tls_socket_unknown)"
}
