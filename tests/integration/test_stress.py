"""Concurrency stress (also run under ThreadSanitizer by scripts/test.sh):
several connections on a server with 2 worker threads hammer SET/GET/DEL,
MULTI/EXEC with WATCH, FLUSHDB, PUBLISH/SUBSCRIBE and keyspace
notifications for a bounded few seconds, checking invariants:

- transfers between keys inside MULTI keep the total (no lost update, no
  transaction seen half-done by a reader's MULTI);
- each connection reads its own writes in pipelines;
- every subscriber gets every message of every publisher, in order;
- keyspace events of one writer arrive in order;
- connections that subscribe and vanish leave nothing behind.
"""
import os
import random
import socket
import threading
import time

import pytest

from conftest import Raw, RespError

pytestmark = pytest.mark.stress

SECONDS = float(os.environ.get("STASH_STRESS_SECONDS", "4"))
ACCOUNTS = ["acct:{%d}" % i for i in range(24)]  # hash tags: spread over slots and stripes
START = 1000


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Ctx:
    def __init__(self, server):
        self.server = server
        self.stop = time.time() + SECONDS
        self.errors = []
        self.lock = threading.Lock()
        self.stats = {}

    def running(self):
        return time.time() < self.stop and not self.errors

    def fail(self, msg):
        with self.lock:
            self.errors.append(msg)

    def count(self, name, n=1):
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def raw(self):
        return Raw(self.server.port)


def guarded(fn):
    def run(ctx, *a):
        try:
            fn(ctx, *a)
        except Exception as e:  # surface any failure in the main thread
            ctx.fail("%s: %r" % (fn.__name__, e))
    return run


@guarded
def transfers(ctx, seed):
    rnd = random.Random(seed)
    c = ctx.raw()
    while ctx.running():
        a, b = rnd.sample(ACCOUNTS, 2)
        c.send(encode("WATCH", a, b) + encode("GET", a) + encode("GET", b))
        assert c.read_reply() == b"OK"
        va, vb = int(c.read_reply()), int(c.read_reply())
        amount = rnd.randint(1, 20)
        c.send(encode("MULTI") + encode("SET", a, va - amount) + encode("SET", b, vb + amount) + encode("EXEC"))
        assert c.read_reply() == b"OK"
        assert c.read_reply() == b"QUEUED"
        assert c.read_reply() == b"QUEUED"
        res = c.read_reply()
        if res is None:
            ctx.count("transfer_conflicts")
        else:
            assert res == [b"OK", b"OK"], res
            ctx.count("transfers")
    c.close()


@guarded
def auditor(ctx):
    c = ctx.raw()
    while ctx.running():
        c.send(encode("MULTI") + b"".join(encode("GET", k) for k in ACCOUNTS) + encode("EXEC"))
        assert c.read_reply() == b"OK"
        for _ in ACCOUNTS:
            assert c.read_reply() == b"QUEUED"
        vals = c.read_reply()
        total = sum(int(v) for v in vals)
        if total != START * len(ACCOUNTS):
            ctx.fail("auditor saw total %d: %r" % (total, vals))
        ctx.count("audits")
    c.close()


@guarded
def churn(ctx, seed):
    """Pipelines of SET/GET/DEL in db 1 on this thread's own keys."""
    rnd = random.Random(seed)
    c = ctx.raw()
    assert c.cmd("SELECT", "1") == b"OK"
    while ctx.running():
        batch, expect = [], []
        for _ in range(50):
            k = "c%d:%d" % (seed, rnd.randint(0, 200))
            v = b"%d" % rnd.randint(0, 10 ** 9)
            if rnd.random() < 0.02:
                v = v * 5000  # sometimes big values (referenced replies)
            batch += [encode("SET", k, v), encode("GET", k), encode("DEL", k, k + "x")]
            expect += [b"OK", v, 1]
        c.send(b"".join(batch))
        for e in expect:
            got = c.read_reply()
            if got != e:
                # a concurrent FLUSHDB may run between SET and GET
                if not (e != b"OK" and got in (None, 0)):
                    raise AssertionError("churn: expected %r got %r" % (e[:40] if isinstance(e, bytes) else e,
                                                                         got[:40] if isinstance(got, bytes) else got))
        ctx.count("churn_batches")
    c.close()


@guarded
def flusher(ctx):
    """FLUSHDB and DBSIZE in db 1 (every stripe) and big transactions."""
    c = ctx.raw()
    assert c.cmd("SELECT", "1") == b"OK"
    while ctx.running():
        assert c.cmd("FLUSHDB") == b"OK"
        assert isinstance(c.cmd("DBSIZE"), int)
        c.send(encode("MULTI") + b"".join(encode("SET", "f%d" % i, i) for i in range(40)) +
               encode("DBSIZE") + encode("EXEC"))
        assert c.read_reply() == b"OK"
        for _ in range(41):
            assert c.read_reply() == b"QUEUED"
        res = c.read_reply()
        assert res[:40] == [b"OK"] * 40 and res[40] >= 40
        time.sleep(0.05)
    c.close()


N_PUBLISHERS = 3


@guarded
def publisher(ctx, idx, sent):
    c = ctx.raw()
    seq = 0
    while ctx.running() and seq < 30000:
        batch = b"".join(encode("PUBLISH", "stress:%d" % (seq % 3), "%d:%d" % (idx, seq + i)) for i in range(20))
        c.send(batch)
        for _ in range(20):
            n = c.read_reply()
            assert isinstance(n, int)
        seq += 20
    sent[idx] = seq
    c.close()


def subscriber_conn(ctx):
    c = ctx.raw()
    c.send(encode("SUBSCRIBE", "stress:0", "stress:1", "stress:2") + encode("PSUBSCRIBE", "stress:*"))
    for _ in range(4):
        assert c.read_reply()[0] in (b"subscribe", b"psubscribe")
    return c


def check_subscriber(ctx, c, sent):
    last = {"message": {}, "pmessage": {}}
    expected = sum(sent.values()) * 2
    got = 0
    c.sock.settimeout(30)
    while got < expected:
        m = c.read_reply()
        kind = m[0].decode()
        pub, seq = (int(x) for x in m[-1].split(b":"))
        prev = last[kind].get(pub, -1)
        if seq != prev + 1:
            ctx.fail("subscriber: %s from %d: %d after %d" % (kind, pub, seq, prev))
            return
        last[kind][pub] = seq
        got += 1
    c.close()


@guarded
def sub_churn(ctx):
    """Subscribe and disconnect without unsubscribing, over and over."""
    while ctx.running():
        c = ctx.raw()
        c.send(encode("SUBSCRIBE", "stress:0", "tmp") + encode("PSUBSCRIBE", "stress:*", "tmp*") +
               encode("SSUBSCRIBE", "stmp"))
        c.read_reply()
        c.close()
        ctx.count("sub_churn")


@guarded
def keyspace_writer_and_listener(ctx):
    listener = ctx.raw()
    listener.send(encode("SUBSCRIBE", "__keyevent@2__:set"))
    assert listener.read_reply() == [b"subscribe", b"__keyevent@2__:set", 1]
    w = ctx.raw()
    assert w.cmd("SELECT", "2") == b"OK"
    i = 0
    while ctx.running():
        w.send(b"".join(encode("SET", "ev:%d" % (i + j), "v") for j in range(20)))
        for _ in range(20):
            assert w.read_reply() == b"OK"
        for j in range(20):
            m = listener.read_reply()
            assert m == [b"message", b"__keyevent@2__:set", b"ev:%d" % (i + j)], m
        i += 20
    ctx.count("key_events", i)
    w.close()
    listener.close()


def test_stress(server, r):
    r.flushall()
    for k in ACCOUNTS:
        r.set(k, START)
    r.config_set("notify-keyspace-events", "E$")
    # the subscribers read only at the end: no output limit meanwhile
    r.config_set("client-output-buffer-limit", "pubsub 0 0 0")
    ctx = Ctx(server)
    subs = [subscriber_conn(ctx) for _ in range(3)]
    sent = {}
    threads = [threading.Thread(target=transfers, args=(ctx, s)) for s in range(4)]
    threads += [threading.Thread(target=auditor, args=(ctx,)) for _ in range(2)]
    threads += [threading.Thread(target=churn, args=(ctx, s)) for s in range(2)]
    threads += [threading.Thread(target=flusher, args=(ctx,))]
    threads += [threading.Thread(target=publisher, args=(ctx, i, sent)) for i in range(N_PUBLISHERS)]
    threads += [threading.Thread(target=sub_churn, args=(ctx,))]
    threads += [threading.Thread(target=keyspace_writer_and_listener, args=(ctx,))]
    readers = []
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 120)
            assert not t.is_alive(), "a stress thread hung"
        assert ctx.errors == []
        readers = [threading.Thread(target=guarded(check_subscriber), args=(ctx, c, sent)) for c in subs]
        for t in readers:
            t.start()
        for t in readers:
            t.join(timeout=120)
            assert not t.is_alive(), "a subscriber hung"
    finally:
        r.config_set("notify-keyspace-events", "")
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
    assert ctx.errors == []
    # the invariant, and progress was made
    assert sum(int(r.get(k)) for k in ACCOUNTS) == START * len(ACCOUNTS)
    assert ctx.stats.get("transfers", 0) > 0 and ctx.stats.get("audits", 0) > 0
    assert ctx.stats.get("churn_batches", 0) > 0 and ctx.stats.get("sub_churn", 0) > 0
    assert sum(sent.values()) > 0
    # nothing left behind by vanished subscribers
    deadline = time.time() + 10
    while time.time() < deadline:
        if (r.execute_command("PUBSUB", "NUMSUB", "tmp") == [b"tmp", 0] and r.pubsub_numpat() == 0 and
                r.execute_command("PUBSUB", "SHARDNUMSUB", "stmp") == [b"stmp", 0]):
            break
        time.sleep(0.05)
    assert r.execute_command("PUBSUB", "NUMSUB", "tmp", "stress:0") == [b"tmp", 0, b"stress:0", 0]
    assert r.pubsub_numpat() == 0
    assert server.alive()


def test_many_connections_across_workers(server, r):
    """Open and close many connections concurrently, each doing a little
    work, with abrupt disconnects in the middle of requests."""
    ctx = Ctx(server)

    @guarded
    def worker(ctx, seed):
        rnd = random.Random(seed)
        while ctx.running():
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if rnd.random() < 0.3:
                s.sendall(encode("SET", "half", "x")[:rnd.randint(1, 20)])
                s.close()
                continue
            c = Raw.__new__(Raw)
            c.sock, c.buf = s, b""
            k = "conn:%d" % seed
            c.send(encode("SET", k, seed) + encode("GET", k) + encode("PING"))
            assert c.read_reply() == b"OK"
            assert c.read_reply() == b"%d" % seed
            assert c.read_reply() == b"PONG"
            s.close()
            ctx.count("conns")

    threads = [threading.Thread(target=worker, args=(ctx, s)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert ctx.errors == []
    assert ctx.stats.get("conns", 0) > 0
    assert r.ping()
