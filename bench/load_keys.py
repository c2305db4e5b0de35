#!/usr/bin/env python3
"""Load N string keys into a server with pipelined SETs over a raw socket.

  load_keys.py PORT N [KEYLEN VALLEN]

Keys are "k" + zero-padded decimal to KEYLEN bytes, values VALLEN bytes.
Bounded: exactly N commands, every reply checked.
"""
import socket
import sys


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    klen = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    vlen = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    s = socket.create_connection(("127.0.0.1", port))
    batch = 1000
    sent = 0
    while sent < n:
        m = min(batch, n - sent)
        out = []
        for i in range(sent, sent + m):
            k = ("k%0*d" % (klen - 1, i)).encode()
            v = (b"v%0*d" % (vlen - 1, i))[:vlen]
            out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        s.sendall(b"".join(out))
        expect = b"+OK\r\n" * m
        got = b""
        while len(got) < len(expect):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise SystemExit("connection closed")
            got += chunk
            if not expect.startswith(got[:len(expect)]):
                raise SystemExit("unexpected reply: %r" % got[:200])
        sent += m


if __name__ == "__main__":
    main()
