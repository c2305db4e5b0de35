"""Blocking list operations (BLPOP BRPOP BLMPOP BLMOVE BRPOPLPUSH) across
worker threads: wake-ups by pushes from connections on the other worker,
FIFO fairness, timeouts, disconnects, CLIENT UNBLOCK, MULTI, and a stress
run that checks no element is lost or duplicated."""
import random
import socket
import threading
import time

import pytest

from conftest import Raw, RespError, Server


def E(msg):
    return RespError(msg)


WRONGTYPE = E("WRONGTYPE Operation against a key holding the wrong kind of value")


@pytest.fixture(scope="module")
def srv():
    s = Server("--enable-debug-command", "yes", threads=2)
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def conns(srv):
    made = []

    def make():
        c = Raw(srv.port)
        made.append(c)
        return c

    c = make()
    c.cmd("FLUSHALL")
    yield make
    for c in made:
        c.close()


def info_blocked(c):
    text = c.cmd("INFO", "clients").decode()
    return int(text.split("blocked_clients:")[1].split("\r\n")[0])


def wait_blocked(c, n, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if info_blocked(c) == n:
            return
        time.sleep(0.005)
    raise AssertionError("blocked_clients never reached %d (now %d)" % (n, info_blocked(c)))


def same_worker(make, a, b):
    """Are connections a and b served by the same worker thread? (DEBUG
    SLEEP on a stalls only a's worker.)"""
    t = threading.Thread(target=lambda: a.cmd("DEBUG", "SLEEP", "0.4"))
    t.start()
    time.sleep(0.1)
    start = time.time()
    b.cmd("PING")
    slow = time.time() - start > 0.15
    t.join()
    return slow


def pair_on_two_workers(make):
    """Two connections known to live on different workers."""
    a = make()
    for _ in range(8):
        b = make()
        if not same_worker(make, a, b):
            return a, b
    raise AssertionError("no second worker found")


def pair_on_one_worker(make, a):
    for _ in range(8):
        b = make()
        if same_worker(make, a, b):
            return b
    raise AssertionError("no connection on the same worker")


def send(c, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    c.send(out)


# ---- basics ---------------------------------------------------------------------------------------


def test_blpop_woken_from_another_worker(conns):
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    assert pusher.cmd("RPUSH", "q", "x", "y") == 2
    assert waiter.read_reply() == [b"q", b"x"]
    assert pusher.cmd("LRANGE", "q", 0, -1) == [b"y"]
    assert info_blocked(pusher) == 0


def test_all_blocking_forms_across_workers(conns):
    waiter, pusher = pair_on_two_workers(conns)
    cases = [
        (["BRPOP", "a", "b", 0], ["RPUSH", "b", "1", "2"], [b"b", b"2"]),
        (["BLMPOP", 0, 2, "a", "c", "RIGHT", "COUNT", 5], ["RPUSH", "c", "1", "2", "3"], [b"c", [b"3", b"2", b"1"]]),
        (["BLMPOP", 0, 1, "d", "LEFT"], ["RPUSH", "d", "1", "2"], [b"d", [b"1"]]),
        (["BLMOVE", "e", "f", "RIGHT", "LEFT", 0], ["RPUSH", "e", "1", "2"], b"2"),
        (["BRPOPLPUSH", "g", "h", 0], ["RPUSH", "g", "1"], b"1"),
    ]
    for block, push, want in cases:
        send(waiter, *block)
        wait_blocked(pusher, 1)
        pusher.cmd(*push)
        assert waiter.read_reply() == want, block
    assert pusher.cmd("LRANGE", "f", 0, -1) == [b"2"]
    assert pusher.cmd("LRANGE", "h", 0, -1) == [b"1"]
    assert pusher.cmd("EXISTS", "g") == 0


def test_resp3_replies(conns):
    waiter, pusher = pair_on_two_workers(conns)
    waiter.cmd("HELLO", "3")
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "q", "x")
    assert waiter.read_reply() == [b"q", b"x"]
    send(waiter, "BLPOP", "q", "0.05")
    assert waiter.read_line() == b"_"
    send(waiter, "BLMOVE", "q", "r", "LEFT", "LEFT", "0.05")
    assert waiter.read_line() == b"_"


def test_served_at_once_when_data_is_there(conns):
    c = conns()
    c.cmd("RPUSH", "{x}a", "1")
    c.cmd("RPUSH", "{x}b", "2", "3")
    assert c.cmd("BLPOP", "{x}missing", "{x}b", "{x}a", 0) == [b"{x}b", b"2"]
    assert c.cmd("BLMPOP", 1, 2, "{x}a", "{x}b", "RIGHT", "COUNT", 9) == [b"{x}a", [b"1"]]
    assert c.cmd("BRPOPLPUSH", "{x}b", "{x}c", 1) == b"3"
    assert c.cmd("LRANGE", "{x}c", 0, -1) == [b"3"]
    assert c.cmd("EXISTS", "{x}a", "{x}b") == 0


def test_timeouts_and_errors(conns):
    c = conns()
    start = time.time()
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$3\r\n0.2\r\n")
    assert c.read_line() == b"*-1"
    assert 0.15 < time.time() - start < 2
    send(c, "BRPOPLPUSH", "q", "d", "0.01")
    assert c.read_line() == b"*-1"  # Redis 7.0: a null array on timeout, for every list command
    assert c.cmd("BLPOP", "q", -1) == E("ERR timeout is negative")
    assert c.cmd("BLPOP", "q", "abc") == E("ERR timeout is not a float or out of range")
    assert c.cmd("BLPOP", "q", "inf") == E("ERR timeout is negative")
    assert c.cmd("BLMOVE", "q", "d", "LEFT", "LEFT", "x") == E("ERR timeout is not a float or out of range")
    assert c.cmd("BLMOVE", "q", "d", "UP", "LEFT", "x") == E("ERR syntax error")
    assert c.cmd("BLMPOP", "x", 1, "q", "LEFT") == E("ERR timeout is not a float or out of range")
    assert c.cmd("BLMPOP", "x", 0, "q", "LEFT") == E("ERR numkeys should be greater than 0")
    assert c.cmd("BLMPOP", 0, 1, "q", "LEFT", "COUNT", 0) == E("ERR count should be greater than 0")
    assert c.cmd("BLPOP", "q") == E("ERR wrong number of arguments for 'blpop' command")
    assert info_blocked(c) == 0


def test_zero_timeout_waits(conns):
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    time.sleep(0.5)
    assert info_blocked(pusher) == 1
    pusher.cmd("LPUSH", "q", "late")
    assert waiter.read_reply() == [b"q", b"late"]


def test_wrongtype_and_same_key_twice(conns):
    waiter, pusher = pair_on_two_workers(conns)
    pusher.cmd("SET", "{k}s", "v")
    assert waiter.cmd("BLPOP", "{k}missing", "{k}s", 0) == WRONGTYPE
    # The same key twice: one place in the queue, served once.
    send(waiter, "BLPOP", "k", "k", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "k", "a", "b")
    assert waiter.read_reply() == [b"k", b"a"]
    assert pusher.cmd("LRANGE", "k", 0, -1) == [b"b"]


# ---- fairness --------------------------------------------------------------------------------------


def test_fifo_fairness_across_workers(conns):
    pusher = conns()
    waiters = []
    for i in range(6):
        w = conns()
        send(w, "BLPOP", "q", 0)
        wait_blocked(pusher, i + 1)
        waiters.append(w)
    # One push of 6: served after the command, first blocked first.
    pusher.cmd("LPUSH", "q", "a", "b", "c", "d", "e", "f")
    got = [w.read_reply()[1] for w in waiters]
    assert got == [b"f", b"e", b"d", b"c", b"b", b"a"]
    # Fewer elements than waiters: the first ones get them.
    for i, w in enumerate(waiters[:3]):
        send(w, "BRPOP", "q", 0)
        wait_blocked(pusher, i + 1)
    pusher.cmd("RPUSH", "q", "x", "y")
    assert waiters[0].read_reply() == [b"q", b"y"]
    assert waiters[1].read_reply() == [b"q", b"x"]
    assert info_blocked(pusher) == 1
    pusher.cmd("RPUSH", "q", "z")
    assert waiters[2].read_reply() == [b"q", b"z"]


def test_multi_key_waiter_served_once(conns):
    pusher = conns()
    w1, w2 = conns(), conns()
    send(w1, "BLPOP", "a", "b", 0)
    wait_blocked(pusher, 1)
    send(w2, "BLPOP", "b", 0)
    wait_blocked(pusher, 2)
    pusher.cmd("RPUSH", "b", "1")
    pusher.cmd("RPUSH", "a", "2")
    assert w1.read_reply() == [b"b", b"1"]
    assert pusher.cmd("LRANGE", "a", 0, -1) == [b"2"]
    pusher.cmd("RPUSH", "b", "3")
    assert w2.read_reply() == [b"b", b"3"]


def test_transaction_serves_after_exec(conns):
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("MULTI")
    pusher.cmd("LPUSH", "q", "a")
    pusher.cmd("LPUSH", "q", "b")
    pusher.cmd("LPOP", "q")
    assert pusher.cmd("EXEC") == [1, 2, b"b"]
    assert waiter.read_reply() == [b"q", b"a"]
    # Pushed and removed inside one transaction: nobody is woken.
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("MULTI")
    pusher.cmd("LPUSH", "q", "a")
    pusher.cmd("DEL", "q")
    pusher.cmd("SET", "q", "str")
    pusher.cmd("EXEC")
    time.sleep(0.1)
    assert info_blocked(pusher) == 1
    pusher.cmd("DEL", "q")
    pusher.cmd("RPUSH", "q", "z")
    assert waiter.read_reply() == [b"q", b"z"]


def test_key_created_by_rename_and_copy_wakes(conns):
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLPOP", "{t}foo", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "{t}bob", "abc", "def")
    pusher.cmd("RENAME", "{t}bob", "{t}foo")
    assert waiter.read_reply() == [b"{t}foo", b"abc"]
    pusher.cmd("DEL", "{t}foo")
    send(waiter, "BLPOP", "{t}foo", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "{t}src", "x")
    pusher.cmd("COPY", "{t}src", "{t}foo")
    assert waiter.read_reply() == [b"{t}foo", b"x"]


def test_swapdb_wakes(conns):
    waiter, pusher = pair_on_two_workers(conns)
    waiter.cmd("SELECT", 9)
    send(waiter, "BRPOP", "k", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("SELECT", 1)
    pusher.cmd("RPUSH", "k", "hello")
    pusher.cmd("SWAPDB", 1, 9)
    assert waiter.read_reply() == [b"k", b"hello"]
    pusher.cmd("FLUSHALL")


def test_expired_key_does_not_wake(conns):
    waiter, pusher = pair_on_two_workers(conns)
    pusher.cmd("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    try:
        wid = waiter.cmd("CLIENT", "ID")
        # SWAPDB brings in a key that expired meanwhile.
        waiter.cmd("SELECT", 9)
        pusher.cmd("SELECT", 1)
        pusher.cmd("RPUSH", "k", "hello")
        pusher.cmd("PEXPIRE", "k", 100)
        send(waiter, "BRPOP", "k", 0)
        wait_blocked(pusher, 1)
        time.sleep(0.12)
        pusher.cmd("SWAPDB", 1, 9)
        assert "flags=b" in pusher.cmd("CLIENT", "LIST", "ID", wid).decode()
        pusher.cmd("SELECT", 9)
        assert pusher.cmd("EXISTS", "k") == 0
        # A key that expires during the transaction that filled it.
        pusher.cmd("MULTI")
        pusher.cmd("RPUSH", "k", "hello")
        pusher.cmd("PEXPIRE", "k", 100)
        pusher.cmd("DEBUG", "SLEEP", "0.2")
        pusher.cmd("EXEC")
        assert "flags=b" in pusher.cmd("CLIENT", "LIST", "ID", wid).decode()
        assert pusher.cmd("CLIENT", "UNBLOCK", wid) == 1
        assert waiter.read_reply() is None
    finally:
        pusher.cmd("DEBUG", "SET-ACTIVE-EXPIRE", 1)
        pusher.cmd("FLUSHALL")


# ---- BLMOVE ------------------------------------------------------------------------------------------


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def stripe(key):
    return (crc16(key.encode()) % 16384) % 1024


def test_blmove_across_stripes_from_another_worker(conns):
    src, dst = "a", "b"
    assert stripe(src) != stripe(dst)
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLMOVE", src, dst, "LEFT", "RIGHT", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", src, "1", "2")
    assert waiter.read_reply() == b"1"
    assert pusher.cmd("LRANGE", src, 0, -1) == [b"2"]
    assert pusher.cmd("LRANGE", dst, 0, -1) == [b"1"]


def test_blmove_chain_wakes_the_next_waiter(conns):
    pusher = conns()
    w1, w2 = conns(), conns()
    send(w2, "BLPOP", "b", 0)
    wait_blocked(pusher, 1)
    send(w1, "BLMOVE", "a", "b", "LEFT", "LEFT", 0)
    wait_blocked(pusher, 2)
    pusher.cmd("RPUSH", "a", "x")
    assert w1.read_reply() == b"x"
    assert w2.read_reply() == [b"b", b"x"]
    assert pusher.cmd("EXISTS", "a", "b") == 0


def test_circular_blmove(conns):
    pusher = conns()
    w1, w2 = conns(), conns()
    send(w1, "BRPOPLPUSH", "a", "b", 0)
    wait_blocked(pusher, 1)
    send(w2, "BRPOPLPUSH", "b", "a", 0)
    wait_blocked(pusher, 2)
    pusher.cmd("RPUSH", "a", "foo")
    assert w1.read_reply() == b"foo"
    assert w2.read_reply() == b"foo"
    assert pusher.cmd("LRANGE", "a", 0, -1) == [b"foo"]
    assert pusher.cmd("EXISTS", "b") == 0


def test_blmove_wrong_destination(conns):
    waiter, pusher = pair_on_two_workers(conns)
    pusher.cmd("SET", "dst", "nolist")
    send(waiter, "BRPOPLPUSH", "src", "dst", 0)
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "src", "a", "b", "c")
    assert waiter.read_reply() == WRONGTYPE
    assert pusher.cmd("LRANGE", "src", 0, -1) == [b"a", b"b", b"c"]
    assert info_blocked(pusher) == 0


def test_blmove_watch(conns):
    waiter, pusher = pair_on_two_workers(conns)
    watcher = conns()
    send(waiter, "BLMOVE", "s", "d", "LEFT", "LEFT", 0)
    wait_blocked(pusher, 1)
    # Still blocked: d is untouched.
    watcher.cmd("WATCH", "d")
    watcher.cmd("MULTI")
    watcher.cmd("PING")
    assert watcher.cmd("EXEC") == [b"PONG"]
    watcher.cmd("WATCH", "d")
    pusher.cmd("RPUSH", "s", "v")
    assert waiter.read_reply() == b"v"
    watcher.cmd("MULTI")
    watcher.cmd("PING")
    assert watcher.cmd("EXEC") is None


# ---- transactions --------------------------------------------------------------------------------


def test_blocking_commands_in_multi_do_not_block(conns):
    c = conns()
    c.cmd("RPUSH", "x", "a", "b")
    c.cmd("MULTI")
    for cmd in (["BLPOP", "x", 0], ["BLPOP", "x", 0], ["BLPOP", "x", 0], ["BRPOP", "e", 0],
                ["BRPOPLPUSH", "e", "f", 0], ["BLMOVE", "e", "f", "LEFT", "LEFT", 0], ["BLMPOP", 0, 1, "e", "LEFT"]):
        assert c.cmd(*cmd) == b"QUEUED"
    assert c.cmd("EXEC") == [[b"x", b"a"], [b"x", b"b"], None, None, None, None, None]
    # The exact nulls: a null array for the pops, a null bulk for BLMOVE.
    c.cmd("MULTI")
    send(c, "BLPOP", "e", 0)
    c.read_reply()
    send(c, "BLMOVE", "e", "f", "LEFT", "LEFT", 0)
    c.read_reply()
    send(c, "EXEC")
    assert c.read_line() == b"*2"
    assert c.read_line() == b"*-1"
    assert c.read_line() == b"$-1"
    assert info_blocked(c) == 0


# ---- CLIENT UNBLOCK, INFO, CLIENT LIST -------------------------------------------------------------


def test_client_unblock_across_workers(conns):
    waiter, admin = pair_on_two_workers(conns)
    wid = waiter.cmd("CLIENT", "ID")
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(admin, 1)
    line = admin.cmd("CLIENT", "LIST", "ID", wid).decode()
    assert "flags=b " in line and "cmd=blpop" in line
    assert admin.cmd("CLIENT", "UNBLOCK", wid) == 1
    assert waiter.read_reply() is None
    assert admin.cmd("CLIENT", "UNBLOCK", wid) == 0
    send(waiter, "BLMOVE", "q", "d", "LEFT", "LEFT", 0)
    wait_blocked(admin, 1)
    assert admin.cmd("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    assert waiter.read_reply() == E("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert admin.cmd("CLIENT", "UNBLOCK", wid, "TIMEOUT") == 0
    assert admin.cmd("CLIENT", "UNBLOCK", wid, "FOO") == E("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    assert admin.cmd("CLIENT", "UNBLOCK", "x") == E("ERR value is not an integer or out of range")
    assert admin.cmd("CLIENT", "UNBLOCK", 999999) == 0
    # The unblocked client goes on with its pipeline.
    send(waiter, "BLPOP", "q", 0)
    send(waiter, "PING")
    wait_blocked(admin, 1)
    admin.cmd("CLIENT", "UNBLOCK", wid)
    assert waiter.read_reply() is None
    assert waiter.read_reply() == b"PONG"
    # Nothing was left behind in the registry: a push now stays.
    admin.cmd("RPUSH", "q", "kept")
    assert admin.cmd("LRANGE", "q", 0, -1) == [b"kept"]


def test_client_unblock_same_worker(conns):
    admin = conns()
    waiter = pair_on_one_worker(conns, admin)
    wid = waiter.cmd("CLIENT", "ID")
    send(waiter, "BRPOP", "q", 0)
    wait_blocked(admin, 1)
    assert admin.cmd("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    assert waiter.read_reply() == E("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert info_blocked(admin) == 0


def test_unblock_error_counts(conns):
    waiter, admin = pair_on_two_workers(conns)
    admin.cmd("CONFIG", "RESETSTAT")
    wid = waiter.cmd("CLIENT", "ID")
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(admin, 1)
    admin.cmd("CLIENT", "UNBLOCK", wid, "ERROR")
    waiter.read_reply()
    text = admin.cmd("INFO", "all").decode()
    assert "errorstat_UNBLOCKED:count=1" in text
    stat = [l for l in text.split("\r\n") if l.startswith("cmdstat_blpop:")][0]
    assert "calls=1," in stat and "failed_calls=1" in stat


# ---- disconnects --------------------------------------------------------------------------------------


def test_disconnected_waiter_loses_nothing(conns):
    waiter, pusher = pair_on_two_workers(conns)
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    waiter.close()
    wait_blocked(pusher, 0)
    pusher.cmd("RPUSH", "q", "a")
    assert pusher.cmd("LRANGE", "q", 0, -1) == [b"a"]


def test_waiter_gone_after_the_claim_gets_its_element_back(conns):
    """The push claims the waiter while its worker is busy; the waiter
    disconnects before its worker delivers: the element goes back."""
    busy, pusher = pair_on_two_workers(conns)
    waiter = pair_on_one_worker(conns, busy)
    send(waiter, "BLPOP", "q", 0)
    wait_blocked(pusher, 1)
    t = threading.Thread(target=lambda: busy.cmd("DEBUG", "SLEEP", "0.5"))
    t.start()
    time.sleep(0.1)
    waiter.sock.shutdown(socket.SHUT_RDWR)
    waiter.close()
    pusher.cmd("RPUSH", "q", "a", "b")  # claims the waiter, pops "a" for it
    t.join()
    deadline = time.time() + 3
    while time.time() < deadline and pusher.cmd("LLEN", "q") != 2:
        time.sleep(0.01)
    assert pusher.cmd("LRANGE", "q", 0, -1) == [b"a", b"b"]
    assert info_blocked(pusher) == 0


def test_timeout_racing_a_push(conns):
    """A timeout that loses the race never replies nil on top of an element:
    every pushed element is either received once or still in the list."""
    pusher = conns()
    received = []
    for i in range(30):
        w = conns()
        send(w, "BLPOP", "race", "0.02")
        time.sleep(0.015 + random.random() * 0.01)
        pusher.cmd("RPUSH", "race", "v%d" % i)
        r = w.read_reply()
        if r is not None:
            assert r[0] == b"race"
            received.append(r[1])
        w.close()
    everything = received + pusher.cmd("LRANGE", "race", 0, -1)
    assert sorted(everything) == sorted(b"v%d" % i for i in range(30))


def test_pipelined_blocking(conns):
    waiter, pusher = pair_on_two_workers(conns)
    waiter.send(b"*3\r\n$5\r\nBLPOP\r\n$6\r\nnolist\r\n$1\r\n0\r\n" * 2 + b"*1\r\n$4\r\nPING\r\n")
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "nolist", "a")
    assert waiter.read_reply() == [b"nolist", b"a"]
    wait_blocked(pusher, 1)
    pusher.cmd("RPUSH", "nolist", "b")
    assert waiter.read_reply() == [b"nolist", b"b"]
    assert waiter.read_reply() == b"PONG"


# ---- stress -------------------------------------------------------------------------------------------


@pytest.mark.stress
def test_stress_no_element_lost_or_duplicated(srv):
    """Pushers and blocking poppers on both workers, several keys, BLMOVE
    hops between keys of different stripes, timeouts and CLIENT UNBLOCK:
    every pushed element ends up popped exactly once or still in a list."""
    admin = Raw(srv.port)
    admin.cmd("FLUSHALL")
    keys = ["s:a", "s:b", "s:c", "s:d"]
    npush, per_pusher = 4, 300
    stop = threading.Event()
    received, errors = [], []
    lock = threading.Lock()
    ids = []

    def pusher(n):
        try:
            c = Raw(srv.port)
            rnd = random.Random(n)
            for i in range(per_pusher):
                k = rnd.choice(keys)
                if rnd.random() < 0.5:
                    c.cmd("RPUSH", k, "%d:%d" % (n, i))
                else:
                    c.cmd("LPUSH", k, "%d:%d" % (n, i))
            c.close()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    def popper(n):
        try:
            c = Raw(srv.port)
            with lock:
                ids.append(c.cmd("CLIENT", "ID"))
            rnd = random.Random(100 + n)
            while not stop.is_set():
                op = rnd.random()
                if op < 0.6:
                    r = c.cmd("BLPOP", *rnd.sample(keys, 2), "0.05")
                    if isinstance(r, list):
                        with lock:
                            received.append(r[1])
                elif op < 0.8:
                    r = c.cmd("BLMPOP", "0.05", 2, *rnd.sample(keys, 2), "RIGHT", "COUNT", 3)
                    if isinstance(r, list):
                        with lock:
                            received.extend(r[1])
                else:
                    src, dst = rnd.sample(keys, 2)
                    c.cmd("BLMOVE", src, dst, "LEFT", "RIGHT", "0.05")  # moves stay in the lists
            c.close()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    def unblocker():
        c = Raw(srv.port)
        rnd = random.Random(7)
        while not stop.is_set():
            with lock:
                target = rnd.choice(ids) if ids else None
            if target is not None:
                c.cmd("CLIENT", "UNBLOCK", target)
            time.sleep(0.01)
        c.close()

    poppers = [threading.Thread(target=popper, args=(i,)) for i in range(6)]
    pushers = [threading.Thread(target=pusher, args=(i,)) for i in range(npush)]
    ub = threading.Thread(target=unblocker)
    for t in poppers + [ub]:
        t.start()
    for t in pushers:
        t.start()
    for t in pushers:
        t.join(120)
    time.sleep(0.3)
    stop.set()
    for t in poppers + [ub]:
        t.join(30)
        assert not t.is_alive()
    assert not errors, errors
    left = []
    for k in keys:
        left.extend(admin.cmd("LRANGE", k, 0, -1))
    everything = received + left
    assert len(everything) == npush * per_pusher, (len(received), len(left))
    assert len(set(everything)) == len(everything)
    assert info_blocked(admin) == 0
    admin.close()
