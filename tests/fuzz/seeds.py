#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes the HTTP parser fuzzer's seed corpus: real conversations in its
input format (fuzz_http_parser.c), so mutation starts from valid traffic.
Usage: seeds.py DIR"""
import os
import struct
import sys

IN, OUT = 0, 1
CONVERSATIONS = {
    "keepalive": [
        (IN, b"GET /a?x=1 HTTP/1.1\r\nHost: e\r\nCookie: k=v\r\n\r\n"),
        (OUT, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        (IN, b"GET /b HTTP/1.1\r\nHost: e\r\n\r\n"),
        (OUT, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ],
    "chunked": [
        (IN, b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"4;x=y\r\nbody\r\n0\r\nT: 1\r\n\r\n"),
        (OUT, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    ],
    "pipelined": [
        (IN, b"HEAD /h HTTP/1.1\r\n\r\nGET /p1 HTTP/1.1\r\n\r\n"
             b"DELETE /p2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"),
        (OUT, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
              b"HTTP/1.1 304 Not Modified\r\n\r\n"
              b"HTTP/1.1 204 No Content\r\n\r\n"),
    ],
    "upgrade": [
        (IN, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
        (OUT, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x01x"),
    ],
    "close_delimited": [
        (IN, b"GET /stream HTTP/1.0\r\n\r\n"),
        (OUT, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nabc"),
        (OUT, b"def"),
    ],
    "client": [
        (OUT, b"GET /c HTTP/1.1\r\nHost: api:8080\r\ntraceparent: "
              b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"),
        (IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ],
}


def record(direction, data, flags=0):
    return struct.pack("<BH", direction | flags, len(data)) + data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, events in CONVERSATIONS.items():
        for role in (0, 1, 2):
            body = bytes([role]) + b"".join(record(d, b) for d, b in events)
            with open(os.path.join(out, "%s-%d" % (name, role)), "wb") as f:
                f.write(body)


main()
