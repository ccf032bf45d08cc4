# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Servers, clients and /metrics reading for tests/kernels/check.sh.

Standard library only: it runs on Debian's python3.11 inside the test VM's
initramfs (where nothing else is installed) as well as on the host.

  traffic.py serve http|https PORTFILE [CERT KEY]
      An HTTP/1.1 server (keep-alive) on 127.0.0.1, an ephemeral port that it
      writes to PORTFILE once it listens (after the ssl module is loaded, so
      podtap can hook libssl before the first request). GET answers 200 with
      a short body. Runs until killed.

  traffic.py client URL N GO [CAFILE]
      Loads ssl, prints "ready", waits (at most 120 s) for the file GO, then
      makes N GETs of URL on one keep-alive connection (the certificate
      checked against CAFILE), and prints "done N" when every answer was 200
      and the connection was never reopened; exits 1 otherwise.

  traffic.py get URL
      Prints the status and body of one GET (exit 1 when it fails).

  traffic.py sum URL NAME [label=value...]
      Prints the sum of the samples of NAME whose labels include every
      label=value given (0 when there is none), from one scrape of URL.

  traffic.py expect URL WANT SECONDS NAME [label=value...]
      Polls `sum` until it equals WANT (at most SECONDS), then checks it
      still does half a second later: N sent means N counted, not N then
      N+1. Prints the last value; exits 1 unless it held WANT.
"""
import http.client
import http.server
import os
import re
import ssl
import sys
import time
import urllib.parse

BODY = b"kernel check\n"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, fmt, *args):
        pass


def serve(scheme, portfile, cert=None, key=None):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if scheme == "https":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    srv.serve_forever()


def connection(url, cafile=None, timeout=30):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                           timeout=timeout), u
    return http.client.HTTPConnection(u.hostname, u.port,
                                      timeout=timeout), u


def client(url, n, go, cafile=None):
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("no go file after 120 s", flush=True)
            return 1
        time.sleep(0.02)
    conn, u = connection(url, cafile)
    connects = 0
    real_connect = conn.connect

    def counting_connect():
        nonlocal connects
        connects += 1
        real_connect()

    conn.connect = counting_connect
    path = u.path or "/"
    for i in range(n):
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or body != BODY:
            print("request %d: status %d, %d bytes" % (i, resp.status,
                                                       len(body)), flush=True)
            return 1
    conn.close()
    if connects != 1:
        print("%d connections for %d requests" % (connects, n), flush=True)
        return 1
    print("done %d" % n, flush=True)
    return 0


def get(url):
    conn, u = connection(url, timeout=5)
    conn.request("GET", u.path or "/")
    resp = conn.getresponse()
    return resp.status, resp.read().decode("utf-8", "replace")


LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


def samples(text):
    """(name, {label: value}, value) for each sample line."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        if brace < 0:
            name, _, rest = line.partition(" ")
            labels = {}
        else:
            name = line[:brace]
            end = line.rfind("}")
            inner, rest = line[brace + 1:end], line[end + 1:]
            labels, pos = {}, 0
            while pos < len(inner):
                m = LABEL.match(inner, pos)
                if not m:
                    break
                labels[m.group(1)] = unescape(m.group(2))
                pos = m.end()
        try:
            yield name, labels, float(rest.split()[0])
        except (IndexError, ValueError):
            continue


def metric_sum(url, name, want):
    status, text = get(url)
    if status != 200:
        raise RuntimeError("GET %s: %d" % (url, status))
    total = 0.0
    for n, labels, v in samples(text):
        if n == name and all(labels.get(k, "") == val
                             for k, val in want.items()):
            total += v
    return total


def fmt(v):
    return str(int(v)) if v == int(v) else str(v)


def parse_labels(args):
    want = {}
    for a in args:
        k, _, v = a.partition("=")
        want[k] = v
    return want


def expect(url, want, seconds, name, labels):
    deadline = time.monotonic() + seconds
    got = None
    while True:
        try:
            got = metric_sum(url, name, labels)
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            got = None
            print("scrape: %s" % e, file=sys.stderr)
        if got == want:
            time.sleep(0.5)
            got = metric_sum(url, name, labels)
            print(fmt(got))
            return 0 if got == want else 1
        if (got is not None and got > want) or time.monotonic() > deadline:
            print(fmt(got) if got is not None else "none")
            return 1
        time.sleep(0.2)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "serve" and len(argv) in (4, 6):
        serve(argv[2], argv[3], *argv[4:])
        return 0
    if cmd == "client" and len(argv) in (5, 6):
        return client(argv[2], int(argv[3]), argv[4],
                      argv[5] if len(argv) == 6 else None)
    if cmd == "get" and len(argv) == 3:
        try:
            status, body = get(argv[2])
        except (OSError, http.client.HTTPException) as e:
            print(e)
            return 1
        print(status)
        sys.stdout.write(body)
        return 0 if status == 200 else 1
    if cmd == "sum" and len(argv) >= 4:
        print(fmt(metric_sum(argv[2], argv[3], parse_labels(argv[4:]))))
        return 0
    if cmd == "expect" and len(argv) >= 6:
        return expect(argv[2], float(argv[3]), float(argv[4]), argv[5],
                      parse_labels(argv[6:]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
