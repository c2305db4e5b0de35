"""Pub/sub with Redis 7.0's exact replies in RESP2 and RESP3, the RESP2
subscriber context, delivery across worker threads with per-publisher
ordering, output buffer limits of the pubsub class, clean-up on disconnect,
and sharded pub/sub (standalone semantics)."""
import threading
import time

import pytest

from conftest import RespError


def subscribe(c, *chans, cmd="SUBSCRIBE"):
    c.send(b"*%d\r\n" % (len(chans) + 1) + b"".join(
        b"$%d\r\n%s\r\n" % (len(x), x) for x in [cmd.encode()] + [ch.encode() for ch in chans]))
    return [c.read_reply() for _ in chans]


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.01)
    return False


# ---- replies, RESP2 -----------------------------------------------------------------------------------

def test_subscribe_publish_resp2_bytes(r, raw):
    raw.send(b"SUBSCRIBE chan1 chan2\r\n")
    assert raw.read_exactly(len(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n")) == \
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n"
    assert raw.read_reply() == [b"subscribe", b"chan2", 2]
    assert r.publish("chan1", "hello") == 1
    assert raw.read_exactly(len(b"*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$5\r\nhello\r\n")) == \
        b"*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$5\r\nhello\r\n"
    assert r.publish("nobody", "x") == 0


def test_subscribe_same_channel_more_than_once(r, raw):
    assert subscribe(raw, "c1", "c1", "c1") == [[b"subscribe", b"c1", 1]] * 3
    assert r.publish("c1", "m") == 1
    assert raw.read_reply() == [b"message", b"c1", b"m"]


def test_unsubscribe(r, raw):
    assert subscribe(raw, "a", "b", "c") == [[b"subscribe", b"a", 1], [b"subscribe", b"b", 2],
                                             [b"subscribe", b"c", 3]]
    assert subscribe(raw, "b", "zz", cmd="UNSUBSCRIBE") == [[b"unsubscribe", b"b", 2], [b"unsubscribe", b"zz", 2]]
    assert r.publish("b", "x") == 0
    raw.send(b"UNSUBSCRIBE\r\n")
    got = sorted([raw.read_reply() for _ in range(2)], key=lambda x: x[2], reverse=True)
    assert [g[2] for g in got] == [1, 0]
    assert sorted(g[1] for g in got) == [b"a", b"c"]
    assert r.publish("a", "x") == 0
    # out of the subscriber context
    assert raw.cmd("PING") == b"PONG"


def test_unsubscribe_without_subscriptions_always_replies(raw):
    assert raw.cmd("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert raw.cmd("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
    assert raw.cmd("SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
    assert subscribe(raw, "foo", "bar", cmd="UNSUBSCRIBE") == [[b"unsubscribe", b"foo", 0],
                                                               [b"unsubscribe", b"bar", 0]]
    assert subscribe(raw, "f*", cmd="PUNSUBSCRIBE") == [[b"punsubscribe", b"f*", 0]]


def test_psubscribe(r, raw):
    assert subscribe(raw, "foo.*", "bar.*", cmd="PSUBSCRIBE") == [[b"psubscribe", b"foo.*", 1],
                                                                  [b"psubscribe", b"bar.*", 2]]
    assert r.publish("foo.1", "hello") == 1
    assert r.publish("bar.1", "hello") == 1
    assert r.publish("foo1", "hello") == 0
    assert r.publish("barfoo.1", "hello") == 0
    assert raw.read_reply() == [b"pmessage", b"foo.*", b"foo.1", b"hello"]
    assert raw.read_reply() == [b"pmessage", b"bar.*", b"bar.1", b"hello"]
    assert subscribe(raw, "foo.*", cmd="PUNSUBSCRIBE") == [[b"punsubscribe", b"foo.*", 1]]
    assert r.publish("foo.1", "x") == 0
    # PUNSUBSCRIBE without arguments: in subscription order
    subscribe(raw, "p1*", "p2*", "p3*", cmd="PSUBSCRIBE")
    raw.send(b"PUNSUBSCRIBE\r\n")
    assert [raw.read_reply() for _ in range(4)] == [[b"punsubscribe", b"bar.*", 3], [b"punsubscribe", b"p1*", 2],
                                                    [b"punsubscribe", b"p2*", 1], [b"punsubscribe", b"p3*", 0]]


def test_mixed_channel_and_pattern_delivery_order(r, raw):
    assert subscribe(raw, "foo.bar") == [[b"subscribe", b"foo.bar", 1]]
    assert subscribe(raw, "foo.*", "*", cmd="PSUBSCRIBE") == [[b"psubscribe", b"foo.*", 2],
                                                              [b"psubscribe", b"*", 3]]
    assert r.publish("foo.bar", "hello") == 3
    assert raw.read_reply() == [b"message", b"foo.bar", b"hello"]
    assert raw.read_reply() == [b"pmessage", b"foo.*", b"foo.bar", b"hello"]
    assert raw.read_reply() == [b"pmessage", b"*", b"foo.bar", b"hello"]


def test_binary_channels_and_messages(r, raw):
    ch = "bin\x00\r\n\xffch"
    assert subscribe(raw, ch) == [[b"subscribe", ch.encode(), 1]]
    assert r.publish(ch.encode(), b"\x00\r\nmsg") == 1
    assert raw.read_reply() == [b"message", ch.encode(), b"\x00\r\nmsg"]
    assert r.publish("", "") == 0


def test_pattern_glob_features(r, raw):
    subscribe(raw, "h?llo", "h[ae]y", "n[^o]*", "esc\\*", cmd="PSUBSCRIBE")
    assert r.publish("hello", "1") == 1
    assert r.publish("hay", "2") == 1
    assert r.publish("hoy", "x") == 0
    assert r.publish("nx", "3") == 1
    assert r.publish("no", "x") == 0
    assert r.publish("esc*", "4") == 1
    assert r.publish("escX", "x") == 0
    assert [raw.read_reply()[3] for _ in range(4)] == [b"1", b"2", b"3", b"4"]


# ---- the RESP2 subscriber context ----------------------------------------------------------------------

def test_resp2_subscriber_context(raw):
    subscribe(raw, "ctx")
    assert raw.cmd("GET", "x") == RespError(
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
        "this context")
    assert raw.cmd("CONFIG", "GET", "x") == RespError(
        "ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
        "allowed in this context")
    assert raw.cmd("PING") == [b"pong", b""]
    assert raw.cmd("PING", "foo") == [b"pong", b"foo"]
    assert raw.cmd("PSUBSCRIBE", "x*") == [b"psubscribe", b"x*", 2]
    assert raw.cmd("SSUBSCRIBE", "s") == [b"ssubscribe", b"s", 1]
    assert raw.cmd("UNSUBSCRIBE", "ctx") == [b"unsubscribe", b"ctx", 1]
    assert raw.cmd("PUNSUBSCRIBE", "x*") == [b"punsubscribe", b"x*", 0]
    # still subscribed to a shard channel: still the subscriber context
    assert isinstance(raw.cmd("GET", "x"), RespError)
    assert raw.cmd("SUNSUBSCRIBE") == [b"sunsubscribe", b"s", 0]
    assert raw.cmd("GET", "x") is None
    assert raw.cmd("PING") == b"PONG"


def test_resp2_subscriber_can_quit(raw):
    subscribe(raw, "q")
    assert raw.cmd("QUIT") == b"OK"
    assert raw.closed()


def test_resp3_subscriber_has_no_restrictions(r, raw):
    raw.cmd("HELLO", "3")
    raw.send(b"SUBSCRIBE r3\r\n")
    assert raw.read_line() == b">3"
    assert raw.read_reply() == b"subscribe"
    assert raw.read_reply() == b"r3"
    assert raw.read_reply() == 1
    assert raw.cmd("SET", "k", "v") == b"OK"
    assert raw.cmd("GET", "k") == b"v"
    assert raw.cmd("PING") == b"PONG"
    assert r.publish("r3", "hi") == 1
    raw.send(b"GET k\r\n")
    # the push arrived before the GET reply
    assert raw.read_line() == b">3"
    assert [raw.read_reply() for _ in range(3)] == [b"message", b"r3", b"hi"]
    assert raw.read_reply() == b"v"
    raw.send(b"PSUBSCRIBE r*\r\n")
    assert raw.read_line() == b">3"
    assert [raw.read_reply() for _ in range(3)] == [b"psubscribe", b"r*", 2]
    assert r.publish("r3", "x") == 2
    assert raw.read_line() == b">3"
    [raw.read_reply() for _ in range(3)]
    assert raw.read_line() == b">4"
    assert [raw.read_reply() for _ in range(4)] == [b"pmessage", b"r*", b"r3", b"x"]
    raw.send(b"UNSUBSCRIBE\r\n")
    assert raw.read_line() == b">3"
    assert [raw.read_reply() for _ in range(3)] == [b"unsubscribe", b"r3", 1]
    raw.send(b"PUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n")
    assert raw.read_line() == b">3"
    assert [raw.read_reply() for _ in range(3)] == [b"punsubscribe", b"r*", 0]
    assert raw.read_line() == b">3"
    assert raw.read_reply() == b"unsubscribe"
    assert raw.read_line() == b"_"
    assert raw.read_reply() == 0


def test_redis_py_pubsub(r, server):
    p = server.client().pubsub()
    p.subscribe("pych")
    assert p.get_message(timeout=2) == {"type": "subscribe", "pattern": None, "channel": b"pych", "data": 1}
    assert r.publish("pych", "data") == 1
    assert p.get_message(timeout=2) == {"type": "message", "pattern": None, "channel": b"pych", "data": b"data"}
    p.close()


# ---- PUBSUB introspection ------------------------------------------------------------------------------

def test_pubsub_channels_numsub_numpat(r, make_raw):
    a, b = make_raw(), make_raw()
    subscribe(a, "news.tech", "news.art", "other")
    subscribe(b, "news.tech")
    subscribe(a, "foo*", "bar*", cmd="PSUBSCRIBE")
    subscribe(b, "foo*", "baz*", cmd="PSUBSCRIBE")
    assert sorted(r.pubsub_channels()) == [b"news.art", b"news.tech", b"other"]
    assert sorted(r.pubsub_channels("news.*")) == [b"news.art", b"news.tech"]
    assert r.execute_command("PUBSUB", "NUMSUB", "news.tech", "other", "none") == \
        [b"news.tech", 2, b"other", 1, b"none", 0]
    assert r.execute_command("PUBSUB", "NUMSUB") == []
    assert r.pubsub_numpat() == 3
    assert r.info("stats")["pubsub_channels"] == 3
    assert r.info("stats")["pubsub_patterns"] == 3
    with pytest.raises(Exception) as e:
        r.execute_command("PUBSUB", "CHANNELS", "a", "b")
    assert str(e.value) == "unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    with pytest.raises(Exception) as e:
        r.execute_command("PUBSUB", "NUMPAT", "x")
    assert str(e.value) == "wrong number of arguments for 'pubsub|numpat' command"
    a.close()
    b.close()
    assert wait_for(lambda: r.pubsub_numpat() == 0 and r.pubsub_channels() == [])


def test_pubsub_numsub_is_an_array_in_resp3(r, raw):
    raw.cmd("HELLO", "3")
    raw.send(b"PUBSUB NUMSUB a b\r\n")
    assert raw.read_line() == b"*4"


def test_pubsub_help(r):
    lines = r.execute_command("PUBSUB", "HELP")
    assert lines[0] == b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"SHARDNUMSUB [<shardchannel> ...]" in lines
    assert lines[-2:] == [b"HELP", b"    Prints this help."]


def test_pubsub_arity(raw):
    assert raw.cmd("SUBSCRIBE") == RespError("ERR wrong number of arguments for 'subscribe' command")
    assert raw.cmd("PSUBSCRIBE") == RespError("ERR wrong number of arguments for 'psubscribe' command")
    assert raw.cmd("PUBLISH", "a") == RespError("ERR wrong number of arguments for 'publish' command")
    assert raw.cmd("PUBSUB") == RespError("ERR wrong number of arguments for 'pubsub' command")


# ---- sharded pub/sub ----------------------------------------------------------------------------------

def test_sharded_pubsub(r, make_raw):
    a = make_raw()
    assert subscribe(a, "s1", "s2", "s1", cmd="SSUBSCRIBE") == [[b"ssubscribe", b"s1", 1],
                                                                [b"ssubscribe", b"s2", 2],
                                                                [b"ssubscribe", b"s1", 2]]
    # its own namespace: PUBLISH does not reach it, patterns never match it
    p = make_raw()
    subscribe(p, "*", cmd="PSUBSCRIBE")
    assert r.publish("s1", "x") == 1  # only the pattern subscriber
    assert p.read_reply() == [b"pmessage", b"*", b"s1", b"x"]
    assert r.execute_command("SPUBLISH", "s1", "hello") == 1
    assert a.read_reply() == [b"smessage", b"s1", b"hello"]
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") in ([b"s1", b"s2"], [b"s2", b"s1"])
    assert r.execute_command("PUBSUB", "SHARDCHANNELS", "*1") == [b"s1"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "s1", "nope") == [b"s1", 1, b"nope", 0]
    assert r.pubsub_channels() == []
    assert subscribe(a, "s1", cmd="SUNSUBSCRIBE") == [[b"sunsubscribe", b"s1", 1]]
    assert r.execute_command("SPUBLISH", "s1", "x") == 0
    # the count of a (P)SUBSCRIBE reply does not include shard channels
    assert subscribe(a, "plain") == [[b"subscribe", b"plain", 1]]
    a.send(b"SUNSUBSCRIBE\r\n")
    assert a.read_reply() == [b"sunsubscribe", b"s2", 0]


# ---- delivery across workers --------------------------------------------------------------------------

def test_delivery_across_workers_keeps_per_publisher_order(server, make_raw):
    """8 subscribers and 4 publishers spread over the server's 2 workers;
    every subscriber gets every message, each publisher's in order."""
    subs = [make_raw() for _ in range(8)]
    for s in subs:
        assert subscribe(s, "xw") == [[b"subscribe", b"xw", 1]]
        assert subscribe(s, "x*", cmd="PSUBSCRIBE") == [[b"psubscribe", b"x*", 2]]
    pubs = [make_raw() for _ in range(4)]
    n = 300

    def publish(idx):
        c = pubs[idx]
        c.send(b"".join(b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nxw\r\n$%d\r\n%s\r\n" % (len(m), m)
                        for m in (b"%d:%d" % (idx, i) for i in range(n))))
        for _ in range(n):
            assert c.read_reply() == 16

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in subs:
        last_direct = {i: -1 for i in range(4)}
        last_pattern = {i: -1 for i in range(4)}
        for _ in range(2 * 4 * n):
            m = s.read_reply()
            pub, seq = (int(x) for x in m[-1].split(b":"))
            last = last_direct if m[0] == b"message" else last_pattern
            assert seq == last[pub] + 1, (m, last)
            last[pub] = seq
        assert all(v == n - 1 for v in last_direct.values())
        assert all(v == n - 1 for v in last_pattern.values())


def test_disconnect_cleans_up_subscriptions(r, make_raw):
    conns = [make_raw() for _ in range(6)]
    for i, c in enumerate(conns):
        subscribe(c, "gone", "gone%d" % i)
        subscribe(c, "g*", cmd="PSUBSCRIBE")
        subscribe(c, "sg", cmd="SSUBSCRIBE")
    assert r.execute_command("PUBSUB", "NUMSUB", "gone") == [b"gone", 6]
    for c in conns:
        c.close()
    assert wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "gone") == [b"gone", 0])
    assert wait_for(lambda: r.pubsub_numpat() == 0)
    assert wait_for(lambda: r.execute_command("PUBSUB", "SHARDNUMSUB", "sg") == [b"sg", 0])
    assert r.publish("gone", "x") == 0
    assert r.pubsub_channels() == []


# ---- output buffer limits of the pubsub class --------------------------------------------------------------

def test_pubsub_hard_limit_disconnects_slow_subscriber(r, make_raw):
    r.config_set("client-output-buffer-limit", "pubsub 200kb 0 0")
    try:
        sub = make_raw()
        subscribe(sub, "slow")
        # a normal client is not in the pubsub class
        normal = make_raw()
        assert normal.cmd("PING") == b"PONG"
        big = b"x" * 10000
        deadline = time.time() + 10
        while r.publish("slow", big) == 1 and time.time() < deadline:
            pass
        assert r.publish("slow", big) == 0
        assert sub.closed()
        assert normal.cmd("PING") == b"PONG"
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_pubsub_soft_limit_needs_the_time_limit(r, make_raw):
    """Over the soft limit, a subscriber is dropped only after staying over
    it for more than soft_seconds (whole seconds, as Redis counts)."""
    r.config_set("client-output-buffer-limit", "pubsub 0 100kb 2")
    try:
        sub = make_raw()
        subscribe(sub, "soft")
        big = b"y" * 10000
        # fill the socket buffers and go well over the soft limit at once
        for _ in range(1500):
            assert r.publish("soft", big) == 1
        t0 = time.time()
        killed_after = None
        while time.time() - t0 < 10:
            if r.publish("soft", b"tick") == 0:
                killed_after = time.time() - t0
                break
            time.sleep(0.02)
        assert killed_after is not None
        assert 1.5 < killed_after < 6
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
