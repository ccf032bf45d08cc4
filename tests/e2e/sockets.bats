#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A connection is the socket, not the fd: servers that read a request on one
# fd and answer on another copy of the same socket, or in another process,
# are counted exactly, each in a simulated pod of its own.
#
#   busybox httpd: the listener forks and re-executes itself inetd-style
#       (the socket on fd 0, dup2'd to fd 1; request read on 0, response
#       written on 1)
#   a forking server (Python socketserver.ForkingMixIn): the parent
#       accepts, closes its copy; the child serves
#   an fd passed over a unix socket (SCM_RIGHTS): the acceptor hands each
#       connection to a worker process that serves it
#   a dup()'d fd that outlives its original: close() of one copy does not
#       end the connection
#   a server that peeks (MSG_PEEK, as proxies' protocol sniffers do) before
#       each read: peeked bytes are not data

load 'lib/common'

setup_file() {
	pt_podtap_setup
	pt_podtap_start --no-python-hooks
}

teardown_file() {
	pt_podtap_teardown
}

# curl_n N URL: N requests, one connection each; all must answer 200.
curl_n() {
	local i code
	for i in $(seq 1 "$1"); do
		code=$(pt_curl_status "$2")
		[ "$code" = 200 ] || { pt_fail "request $i to $2: status $code"; return 1; }
	done
}

@test "busybox httpd (inetd style: request on fd 0, response on its dup fd 1): 25 of 25" {
	local port pid www
	www="$PT_TMP/www"
	mkdir -p "$www"
	echo hello >"$www/index.html"
	pt_pod_create static bb-1 httpd
	port=$(pt_free_port)
	pid=$(pt_spawn "$PT_TMP/logs/busybox.log" --cgroup "$PT_POD_SCOPE" -- \
		busybox httpd -f -p "127.0.0.1:$port" -h "$www")
	pt_wait_port "$port" 10 "$pid"
	curl_n 25 "http://127.0.0.1:$port/index.html"
	pt_wait_metric 25 "${PT_HIST}_count" \
		$(pt_srv_labels static bb-1 httpd GET 200 /index.html)
	pt_stop_pid "$pid"
}

@test "a forking server: the parent accepts and closes its copy, the child serves: 20 of 20" {
	local port pid
	pt_pod_create fork srv-1 forking
	port=$(pt_free_port)
	pid=$(pt_spawn "$PT_TMP/logs/forking.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" -c '
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ForkingMixIn, http.server.HTTPServer):
    pass
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$port")
	pt_wait_port "$port" 10 "$pid"
	curl_n 20 "http://127.0.0.1:$port/forked"
	pt_wait_metric 20 "${PT_HIST}_count" \
		$(pt_srv_labels fork srv-1 forking GET 200 /forked)
	pt_stop_pid "$pid"
}

@test "an fd passed over a unix socket (SCM_RIGHTS) to a worker process: 15 of 15" {
	local port pid
	pt_pod_create pass fd-1 passer
	port=$(pt_free_port)
	pid=$(pt_spawn "$PT_TMP/logs/passer.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" -c '
import os, socket, sys
parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
if os.fork() == 0:
    # The worker: receives each connection, reads the request, answers.
    parent.close()
    while True:
        _, fds, _, _ = socket.recv_fds(child, 1, 1)
        if not fds:
            os._exit(0)
        c = socket.socket(fileno=fds[0])
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        c.close()
child.close()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
while True:
    c, _ = l.accept()
    socket.send_fds(parent, [b"x"], [c.fileno()])
    c.close()' "$port")
	pt_wait_port "$port" 10 "$pid"
	curl_n 15 "http://127.0.0.1:$port/passed"
	pt_wait_metric 15 "${PT_HIST}_count" \
		$(pt_srv_labels pass fd-1 passer GET 200 /passed)
	pt_stop_pid "$pid"
}

@test "close() of one dup of a socket does not end the connection: keep-alive on the copy, 10 of 10" {
	local port pid
	pt_pod_create dup dup-1 dupper
	port=$(pt_free_port)
	# Each connection: the request read on the accepted fd, which is then
	# dup()ed and closed; the response and every later exchange on the
	# connection go through the copy.
	pid=$(pt_spawn "$PT_TMP/logs/dupper.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" -c '
import os, socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
while True:
    c, _ = l.accept()
    fd = c.fileno()
    while True:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        if not data:
            break
        copy = os.dup(fd)
        os.close(fd)
        c.detach()
        os.write(copy, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        fd = copy
    os.close(fd)' "$port")
	pt_wait_port "$port" 10 "$pid"
	# One keep-alive connection, ten requests.
	local -a urls=()
	for i in $(seq 1 10); do urls+=("http://127.0.0.1:$port/dup"); done
	curl -sS -o /dev/null --max-time 10 "${urls[@]}"
	pt_wait_metric 10 "${PT_HIST}_count" \
		$(pt_srv_labels dup dup-1 dupper GET 200 /dup)
	pt_stop_pid "$pid"
}

@test "a server that peeks (recv MSG_PEEK, recvmsg MSG_PEEK) before it reads: /a /b /c once each, latencies of their own" {
	local port pid i
	pt_pod_create peek pk-1 peeker
	port=$(pt_free_port)
	# Before each request: a recv(MSG_PEEK) of the whole head, a
	# recvmsg(MSG_PEEK) of its first bytes, then the real read. /b is
	# answered 0.3 s late, so a latency that ran from the peek of /a or to
	# the next request would show.
	pid=$(pt_spawn "$PT_TMP/logs/peeker.log" --cgroup "$PT_POD_SCOPE" -- \
		"$PT_PY" -c '
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
while True:
    c, _ = l.accept()
    while True:
        head = c.recv(4096, socket.MSG_PEEK)
        if not head:
            break
        while b"\r\n\r\n" not in head:
            time.sleep(0.01)
            head = c.recv(4096, socket.MSG_PEEK)
        c.recvmsg(4, 0, socket.MSG_PEEK)
        n = head.index(b"\r\n\r\n") + 4
        req = c.recv(n)
        if req.startswith(b"GET /b "):
            time.sleep(0.3)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()' "$port")
	pt_wait_port "$port" 10 "$pid"
	curl -sS -o /dev/null --max-time 10 "http://127.0.0.1:$port/a" \
		"http://127.0.0.1:$port/b" "http://127.0.0.1:$port/c"
	for i in a b c; do
		pt_wait_metric 1 "${PT_HIST}_count" \
			$(pt_srv_labels peek pk-1 peeker GET 200 "/$i")
	done
	# /a and /c well under 0.25 s, /b over it (and under 1 s).
	pt_expect_metric 1 "${PT_HIST}_bucket" $(pt_srv_labels peek pk-1 peeker GET 200 /a) le=0.25
	pt_expect_metric 1 "${PT_HIST}_bucket" $(pt_srv_labels peek pk-1 peeker GET 200 /c) le=0.25
	pt_expect_metric 0 "${PT_HIST}_bucket" $(pt_srv_labels peek pk-1 peeker GET 200 /b) le=0.25
	pt_expect_metric 1 "${PT_HIST}_bucket" $(pt_srv_labels peek pk-1 peeker GET 200 /b) le=1
	pt_stop_pid "$pid"
}
