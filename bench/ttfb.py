#!/usr/bin/python3
# Copyright (C) llmgw authors
#
# bench/ttfb.py N BODY LABEL:PORT:PATH:HEADER...: the time to the first
# streamed body byte of each target, N requests each, interleaved: the
# targets take turns request by request, the first of each turn moving
# one place on, so that a slow moment of the machine falls on all of
# them alike and none is always the first after a pause.
#
# A request is a POST of BODY on a new connection to 127.0.0.1:PORT,
# with HEADER ("name: value"), `x-mock-events: 3` and `x-mock-delay-ms:
# 10` (the first event comes while the mock still holds the rest), and
# `Connection: close`.  The time runs from before connect() to the
# arrival of the first byte of the body's content (after the header and,
# when chunked, the chunk-size line): the header alone is not the stream.
# Prints p50, p90 and p99 of each target in ms, then, for each "A-B"
# pair named in LLMGW_TTFB_PAIRS (e.g. "on-off gateway-direct"), B's
# percentiles subtracted from A's.

import os
import socket
import sys
import time


def first_body_byte(port, path, header, body):
    """Seconds from connect() to the first content byte; reads to EOF."""
    req = ('POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
           'Content-Type: application/json\r\n'
           'Content-Length: %d\r\n%s\r\n'
           'x-mock-events: 3\r\nx-mock-delay-ms: 10\r\n'
           'Connection: close\r\n\r\n'
           % (path, len(body), header)).encode() + body

    t0 = time.perf_counter()
    s = socket.create_connection(('127.0.0.1', port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(req)

    buf = b''
    first = None
    head = None

    while first is None:
        data = s.recv(65536)
        if not data:
            sys.exit('ttfb: %s closed before the first body byte' % path)
        buf += data

        if head is None:
            end = buf.find(b'\r\n\r\n')
            if end < 0:
                continue
            head = buf[:end].decode('latin-1').lower()
            if not head.startswith('http/1.1 200'):
                sys.exit('ttfb: %s answered %s'
                         % (path, head.split('\r\n')[0]))
            buf = buf[end + 4:]

        if 'transfer-encoding: chunked' in head:
            eol = buf.find(b'\r\n')
            if eol < 0 or len(buf) <= eol + 2:
                continue
        elif not buf:
            continue

        first = time.perf_counter() - t0

    while s.recv(65536):
        pass

    s.close()
    return first


def pct(sorted_ms, p):
    i = max(1, int(len(sorted_ms) * p / 100 + 0.999))
    return sorted_ms[i - 1]


def main():
    n = int(sys.argv[1])
    body = sys.argv[2].encode()
    targets = []

    for arg in sys.argv[3:]:
        label, port, path, header = arg.split(':', 3)
        targets.append((label, int(port), path, header))

    ms = {t[0]: [] for t in targets}

    for i in range(n):
        k = i % len(targets)
        for label, port, path, header in targets[k:] + targets[:k]:
            ms[label].append(
                first_body_byte(port, path, header, body) * 1000)

    for v in ms.values():
        v.sort()

    print('%-12s %8s %8s %8s' % ('', 'p50', 'p90', 'p99'))
    for label, _, _, _ in targets:
        v = ms[label]
        print('%-12s %8.3f %8.3f %8.3f'
              % (label, pct(v, 50), pct(v, 90), pct(v, 99)))

    for pair in os.environ.get('LLMGW_TTFB_PAIRS', '').split():
        a, b = pair.split('-')
        print('%-12s %8.3f %8.3f %8.3f'
              % (a + ' - ' + b,
                 pct(ms[a], 50) - pct(ms[b], 50),
                 pct(ms[a], 90) - pct(ms[b], 90),
                 pct(ms[a], 99) - pct(ms[b], 99)))


if __name__ == '__main__':
    main()
