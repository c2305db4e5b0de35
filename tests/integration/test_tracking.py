"""Client-side caching: CLIENT TRACKING (default, OPTIN/OPTOUT, BCAST,
NOLOOP, REDIRECT), CLIENT CACHING / GETREDIR / TRACKINGINFO, invalidation
pushes in RESP3 and __redis__:invalidate messages in RESP2, across worker
threads; checked byte for byte against what Redis 7.0 sends."""
import time

import pytest

from conftest import Raw, RespError, Server
from test_blocking import pair_on_one_worker, pair_on_two_workers, send


def E(msg):
    return RespError(msg)


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
    c.cmd("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    yield make
    for c in made:
        c.close()


def resp3(c):
    c.cmd("HELLO", "3")
    return c


def info_field(c, name):
    text = c.cmd("INFO").decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def test_resp3_invalidation_from_another_worker(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    assert a.cmd("CLIENT", "TRACKING", "on") == b"OK"
    b.cmd("SET", "k", "1")
    assert a.cmd("GET", "k") == b"1"
    assert b.cmd("SET", "k", "2") == b"OK"
    # The invalidation was posted before b's reply: a sees it before its reply.
    send(a, "PING")
    a.sock.settimeout(5)
    raw = a.read_exactly(len(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"))
    assert raw == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    assert a.read_reply() == b"PONG"
    # The key is forgotten once invalidated: a second write sends nothing.
    b.cmd("SET", "k", "3")
    assert a.cmd("PING") == b"PONG"


def test_invalidation_always_precedes_the_next_reply(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on")
    for i in range(200):
        key = "order:%d" % i
        assert a.cmd("GET", key) is None
        assert b.cmd("SET", key, "x") == b"OK"
        assert a.cmd("PING") == [b"invalidate", [key.encode()]], i
        assert a.read_reply() == b"PONG"


def test_only_read_keys_are_tracked_and_writes_by_self_are_seen(conns):
    a = resp3(conns())
    a.cmd("CLIENT", "TRACKING", "on")
    a.cmd("MSET", "x", "1", "y", "2")
    assert a.cmd("MGET", "x", "y") == [b"1", b"2"]
    # The client's own write: the invalidation comes after the reply.
    assert a.cmd("INCR", "x") == 2
    assert a.read_reply() == [b"invalidate", [b"x"]]
    a.cmd("HSET", "h", "f", "1")
    assert a.cmd("HGET", "h", "f") == b"1"
    assert a.cmd("HDEL", "h", "f") == 1
    assert a.read_reply() == [b"invalidate", [b"h"]]
    # Transactions: the push follows the whole EXEC reply.
    assert a.cmd("GET", "t") is None
    a.cmd("MULTI")
    a.cmd("SET", "t", "1")
    a.cmd("GET", "y")
    assert a.cmd("EXEC") == [b"OK", b"2"]
    assert a.read_reply() == [b"invalidate", [b"t"]]


def test_noloop(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on", "NOLOOP")
    a.cmd("MGET", "mine", "theirs")
    a.cmd("SET", "mine", "1")
    b.cmd("SET", "theirs", "1")
    assert a.cmd("PING") == [b"invalidate", [b"theirs"]]
    assert a.read_reply() == b"PONG"


def test_redirect_to_resp2_subscriber(conns):
    a, b = pair_on_two_workers(conns)
    sub = conns()
    redir = sub.cmd("CLIENT", "ID")
    assert sub.cmd("SUBSCRIBE", "__redis__:invalidate") == [b"subscribe", b"__redis__:invalidate", 1]
    assert a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", redir) == b"OK"
    assert a.cmd("CLIENT", "GETREDIR") == redir
    a.cmd("GET", "rk")
    b.cmd("SET", "rk", "v")
    expect = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nrk\r\n"
    assert sub.read_exactly(len(expect)) == expect
    # FLUSHALL: "all keys" is a null, here RESP2's.
    b.cmd("FLUSHALL")
    expect = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    assert sub.read_exactly(len(expect)) == expect
    # A RESP2 connection not subscribed gets nothing, a RESP2 tracker
    # without redirection gets nothing either.
    a.cmd("CLIENT", "TRACKING", "off")
    assert a.cmd("CLIENT", "GETREDIR") == -1
    assert a.cmd("CLIENT", "TRACKING", "on") == b"OK"
    a.cmd("GET", "rk2")
    b.cmd("SET", "rk2", "v")
    assert a.cmd("PING") == b"PONG"


def test_redirect_broken(conns):
    a, b = pair_on_two_workers(conns)
    target = conns()
    tid = target.cmd("CLIENT", "ID")
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", tid)
    a.cmd("GET", "bk")
    assert target.cmd("QUIT") == b"OK"
    assert target.closed()
    b.cmd("SET", "bk", "1")
    deadline = time.time() + 5
    got = None
    while time.time() < deadline:
        reply = a.cmd("PING")
        if reply == b"PONG":
            time.sleep(0.01)
            continue
        got = reply
        assert a.read_reply() == b"PONG"
        break
    assert got == [b"tracking-redir-broken", tid]
    info = a.cmd("CLIENT", "TRACKINGINFO")
    assert info[b"flags"] == [b"on", b"broken_redirect"]
    assert info[b"redirect"] == tid
    line = a.cmd("CLIENT", "INFO").decode()
    assert " flags=tR " in line and (" redir=%d " % tid) in line


def test_bcast_prefixes(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:") == b"OK"
    b.cmd("MULTI")
    for k in ("a:2", "a:1", "b:1", "c:1", "a:1"):
        b.cmd("INCR", k)
    b.cmd("EXEC")
    got = [a.cmd("PING"), a.read_reply()]
    got += [a.read_reply()] if got[1] != b"PONG" else []
    pushes = sorted(x[1] for x in got if x != b"PONG")
    assert pushes == [[b"a:1", b"a:2"], [b"b:1"]]
    # Adding a prefix; an overlapping one is refused.
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:") == b"OK"
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a") == E(
        "ERR Prefix 'a' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap.")
    info = a.cmd("CLIENT", "TRACKINGINFO")
    assert info[b"flags"] == [b"on", b"bcast"] and sorted(info[b"prefixes"]) == [b"a:", b"b:", b"c:"]
    assert info_field(b, "tracking_total_prefixes") == 3
    a.cmd("CLIENT", "TRACKING", "off")
    assert info_field(b, "tracking_total_prefixes") == 0


def test_bcast_empty_prefix_and_noloop_and_expiry(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")
    a.cmd("SET", "own", "1")
    b.cmd("MSET", "k1", "1", "k2", "2")
    assert a.cmd("PING") == [b"invalidate", [b"k1", b"k2"]]
    assert a.read_reply() == b"PONG"
    # Expiry is not the client's own change, even for its own key.
    a.cmd("SET", "short", "1", "PX", "1")
    deadline = time.time() + 5
    while time.time() < deadline:
        reply = a.cmd("PING")
        if reply != b"PONG":
            assert reply == [b"invalidate", [b"short"]]
            assert a.read_reply() == b"PONG"
            break
        time.sleep(0.02)
    else:
        raise AssertionError("no invalidation for the expired key")


def test_optin_optout(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on", "OPTIN")
    a.cmd("GET", "not-cached")
    assert a.cmd("CLIENT", "CACHING", "yes") == b"OK"
    assert a.cmd("CLIENT", "TRACKINGINFO")[b"flags"] == [b"on", b"optin", b"caching-yes"]
    a.cmd("GET", "cached")  # CLIENT commands keep the flag; this GET uses it
    assert a.cmd("CLIENT", "TRACKINGINFO")[b"flags"] == [b"on", b"optin"]
    b.cmd("SET", "not-cached", "1")
    b.cmd("SET", "cached", "1")
    assert a.cmd("PING") == [b"invalidate", [b"cached"]]
    assert a.read_reply() == b"PONG"
    assert a.cmd("CLIENT", "CACHING", "no") == E(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    a.cmd("CLIENT", "TRACKING", "off")
    a.cmd("CLIENT", "TRACKING", "on", "OPTOUT")
    assert a.cmd("CLIENT", "CACHING", "no") == b"OK"
    a.cmd("GET", "skip")
    a.cmd("GET", "keep")
    b.cmd("SET", "skip", "1")
    b.cmd("SET", "keep", "1")
    assert a.cmd("PING") == [b"invalidate", [b"keep"]]
    assert a.read_reply() == b"PONG"


def test_errors(conns):
    a = conns()
    assert a.cmd("CLIENT", "CACHING", "yes") == E(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
    assert a.cmd("CLIENT", "TRACKING", "on", "PREFIX", "x") == E(
        "ERR PREFIX option requires BCAST mode to be enabled")
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST", "OPTIN") == E(
        "ERR OPTIN and OPTOUT are not compatible with BCAST")
    assert a.cmd("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT") == E(
        "ERR You can't specify both OPTIN mode and OPTOUT mode")
    assert a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "999999") == E(
        "ERR The client ID you want redirect to does not exist")
    me = a.cmd("CLIENT", "ID")
    assert a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", me, "REDIRECT", me) == E(
        "ERR A client can only redirect to a single other client")
    assert a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "abc") == E("ERR value is not an integer or out of range")
    assert a.cmd("CLIENT", "TRACKING", "maybe") == E("ERR syntax error")
    assert a.cmd("CLIENT", "TRACKING", "on", "BOGUS") == E("ERR syntax error")
    assert a.cmd("CLIENT", "TRACKING") == E("ERR wrong number of arguments for 'client|tracking' command")
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a") == E(
        "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.")
    # Nothing was enabled by the failed attempts.
    assert a.cmd("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]
    assert a.cmd("CLIENT", "TRACKING", "on", "OPTIN") == b"OK"
    assert a.cmd("CLIENT", "TRACKING", "on", "BCAST") == E(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling "
        "it with a different mode.")
    assert a.cmd("CLIENT", "TRACKING", "on", "OPTOUT") == E(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling "
        "it with a different mode.")
    assert a.cmd("CLIENT", "CACHING", "maybe") == E("ERR syntax error")


def test_flush_and_info_and_table_limit(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on")
    for i in range(10):
        a.cmd("GET", "lim:%d" % i)
    c2 = resp3(conns())
    c2.cmd("CLIENT", "TRACKING", "on")
    c2.cmd("GET", "lim:0")
    assert info_field(b, "tracking_total_keys") == 10
    assert info_field(b, "tracking_total_items") == 11
    assert info_field(b, "tracking_clients") == 2
    assert "flags=t " in a.cmd("CLIENT", "INFO").decode()
    # Over the limit: keys are dropped, their trackers told (no command needed).
    b.cmd("CONFIG", "SET", "tracking-table-max-keys", "4")
    seen = set()
    deadline = time.time() + 5
    while len(seen) < 6 and time.time() < deadline:
        reply = a.cmd("PING")
        while reply != b"PONG":
            seen.add(reply[1][0])
            reply = a.read_reply()
        time.sleep(0.01)
    assert len(seen) == 6
    assert info_field(b, "tracking_total_keys") == 4
    b.cmd("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    # FLUSHDB (any db) invalidates everything, for every tracking client.
    b.cmd("SELECT", "3")
    b.cmd("FLUSHDB")
    for c in (a, c2):
        reply = c.cmd("PING")
        while reply != b"PONG" and reply != [b"invalidate", None]:
            reply = c.read_reply()
        if reply != b"PONG":
            assert c.read_reply() == b"PONG"
    assert info_field(b, "tracking_total_keys") == 0
    c2.close()
    time.sleep(0.05)
    assert info_field(b, "tracking_clients") == 1


def test_pushes_ignore_client_reply_off(conns):
    a, b = pair_on_two_workers(conns)
    resp3(a)
    a.cmd("CLIENT", "TRACKING", "on")
    a.cmd("GET", "quiet")
    send(a, "CLIENT", "REPLY", "OFF")
    time.sleep(0.05)
    b.cmd("SET", "quiet", "1")
    assert a.read_reply() == [b"invalidate", [b"quiet"]]
    assert a.cmd("CLIENT", "REPLY", "ON") == b"OK"


def test_same_worker_blocked_client_gets_reply_first(conns):
    a = conns()
    b = pair_on_one_worker(conns, a)
    resp3(a)
    b.cmd("RPUSH", "dst", "x")
    a.cmd("CLIENT", "TRACKING", "on")
    a.cmd("LRANGE", "dst", "0", "-1")
    send(a, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
    time.sleep(0.1)
    b.cmd("RPUSH", "src", "foo")
    assert a.read_reply() == b"foo"
    assert a.read_reply() == [b"invalidate", [b"dst"]]


def test_evicted_keys_announced_before_the_reply(conns):
    a = resp3(conns())
    a.cmd("CLIENT", "TRACKING", "on")
    used = info_field(a, "used_memory")
    a.cmd("CONFIG", "SET", "maxmemory-policy", "volatile-random")
    a.cmd("SETEX", "vol", "10000", "x")
    a.cmd("GET", "vol")
    a.cmd("CONFIG", "SET", "maxmemory", str(used + 100 * 1024))
    try:
        a.cmd("SETBIT", "big", "1600000", "0")
        assert a.cmd("GETBIT", "big", "0") == [b"invalidate", [b"vol"]]
        assert a.read_reply() == 0
    finally:
        a.cmd("CONFIG", "SET", "maxmemory", "0")
        a.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")


@pytest.mark.stress
def test_stress_tracking_across_workers(srv):
    """Readers tracking keys (default and BCAST modes, RESP3) while writers
    on both workers change them and clients come and go: every invalidation
    names a key of the test, nothing crashes, the tables drain at the end.
    Bounded in time (about 2 s) and count."""
    import threading

    stop = time.time() + 2.0
    errors = []
    keys = ["sk:{%d}" % i for i in range(32)]

    def reader(bcast):
        try:
            c = resp3(Raw(srv.port))
            if bcast:
                c.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "sk:")
            else:
                c.cmd("CLIENT", "TRACKING", "on", "NOLOOP")
            n = 0
            while time.time() < stop and n < 20000:
                send(c, "MGET", keys[n % 32], keys[(n * 7) % 32])
                while True:
                    reply = c.read_reply()
                    if isinstance(reply, list) and reply and reply[0] == b"invalidate":
                        for k in reply[1]:
                            if k.decode() not in keys:
                                errors.append("unexpected key %r" % k)
                        continue
                    break
                n += 1
            c.close()
        except Exception as e:  # noqa: BLE001 - surfaced below
            errors.append(repr(e))

    def writer():
        try:
            c = Raw(srv.port)
            n = 0
            while time.time() < stop and n < 20000:
                c.cmd("INCR", keys[n % 32])
                if n % 97 == 0:
                    c.cmd("DEL", keys[(n * 3) % 32])
                n += 1
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=reader, args=(i % 2 == 0,)) for i in range(4)]
    threads += [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    c = Raw(srv.port)
    deadline = time.time() + 5
    while time.time() < deadline and (info_field(c, "tracking_clients") or info_field(c, "tracking_total_prefixes")):
        time.sleep(0.02)
    assert info_field(c, "tracking_clients") == 0
    assert info_field(c, "tracking_total_prefixes") == 0
    c.cmd("FLUSHALL")
    assert info_field(c, "tracking_total_keys") == 0
    c.close()


def test_reset_turns_tracking_off(conns):
    a = resp3(conns())
    a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "r:")
    assert a.cmd("RESET") == b"RESET"
    assert a.cmd("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]
    assert " flags=N " in a.cmd("CLIENT", "INFO").decode()
    assert info_field(a, "tracking_total_prefixes") == 0
