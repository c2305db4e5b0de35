"""STRING family: exact replies, errors, keyspace events and WATCH signals as
Redis 7.0 gives them.

Only string keys exist in this branch, so WRONGTYPE paths are left to the
suites of the other types (the code checks the type everywhere)."""
import time

import pytest
import redis

from conftest import RespError


def E(msg):
    return RespError(msg)


def arity(name):
    return E("ERR wrong number of arguments for '%s' command" % name)


SYNTAX = E("ERR syntax error")
NOT_INT = E("ERR value is not an integer or out of range")
NOT_FLOAT = E("ERR value is not a valid float")
TOO_BIG = E("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def info_field(raw, field):
    text = raw.cmd("INFO", "persistence").decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


@pytest.fixture(autouse=True)
def flushed(server):
    """Every test starts from an empty keyspace (raw does not flush)."""
    c = server.client()
    c.flushall()
    c.close()


@pytest.fixture
def events(raw, make_raw):
    """events(flags, [cmd, ...]) -> [(event, key), ...] of keyevent
    notifications the commands produced, in order."""

    def run(flags, cmds):
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", flags)
        sub = make_raw()
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        for c in cmds:
            raw.cmd(*c)
        raw.cmd("PUBLISH", "__keyevent@0__:zz-end", "zz-end")
        out = []
        while True:
            m = sub.read_reply()
            ev = m[2].decode().split(":", 1)[1]
            if ev == "zz-end":
                break
            out.append((ev, m[3]))
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        return out

    yield run
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def watch_fires(make_raw, raw, setup, cmd):
    """Run setup, WATCH k from another client, run cmd: does EXEC abort?"""
    for c in setup:
        raw.cmd(*c)
    w = make_raw()
    assert w.cmd("WATCH", "k") == b"OK"
    raw.cmd(*cmd)
    assert w.cmd("MULTI") == b"OK"
    assert w.cmd("PING") == b"QUEUED"
    return w.cmd("EXEC") is None


# ---- GET / SET ---------------------------------------------------------------------------


def test_set_get_basic(raw):
    assert raw.cmd("SET", "x", "foobar") == b"OK"
    assert raw.cmd("GET", "x") == b"foobar"
    assert raw.cmd("SET", "x", "") == b"OK"
    assert raw.cmd("GET", "x") == b""
    assert raw.cmd("GET", "missing") is None
    assert raw.cmd("SET", "x") == arity("set")
    assert raw.cmd("GET", "x", "y") == arity("get")


def test_set_binary_and_big_values(r):
    big = b"abcd" * 1000000
    assert r.set("big", big)
    assert r.get("big") == big
    binv = bytes(range(256)) * 3
    r.set("bin", binv)
    assert r.get("bin") == binv


@pytest.mark.parametrize("v", [b"0", b"1", b"-1", b"123", b"9223372036854775807", b"-9223372036854775808",
                               b"01", b"-0", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1.0", b"00"])
def test_integer_like_values_round_trip(r, v):
    r.set("k", v)
    assert r.get("k") == v
    assert r.strlen("k") == len(v)
    assert r.getrange("k", 0, -1) == v


def test_set_options_syntax(raw):
    bad = [
        ["NX", "XX"], ["XX", "NX"], ["EX", "10", "KEEPTTL"], ["KEEPTTL", "EX", "10"], ["EX", "10", "PX", "10"],
        ["PX", "10", "EX", "10"], ["EXAT", "10", "PXAT", "10"], ["PXAT", "10", "EX", "10"], ["EX"], ["PX"],
        ["EXAT"], ["PXAT"], ["PERSIST"], ["FOO"], ["NX", "NX", "XX"], ["KEEPTTL", "PXAT", "1"], ["EX", "10", "EXAT", "10"],
    ]
    for opts in bad:
        assert raw.cmd("SET", "k", "v", *opts) == SYNTAX, opts
    assert raw.cmd("GET", "k") is None
    # The same expire option may repeat: the last one wins.
    assert raw.cmd("SET", "k", "v", "EX", "100", "EX", "200") == b"OK"
    assert raw.cmd("SET", "k", "v", "nx", "NX") is None
    assert raw.cmd("SET", "k", "v2", "xx", "XX", "get", "GET") == b"v"
    assert raw.cmd("SET", "k", "v3", "KEEPTTL", "KEEPTTL") == b"OK"


def test_set_expire_errors(raw):
    for cmd, name in (("SET", "set"),):
        for opt, val in (("EX", "0"), ("EX", "-1"), ("PX", "0"), ("PX", "-5"), ("EXAT", "0"), ("PXAT", "-1"),
                         ("EX", "9223372036854775807"), ("PX", "9223372036854775807"),
                         ("EXAT", "9223372036854776")):
            assert raw.cmd(cmd, "k", "v", opt, val) == E("ERR invalid expire time in '%s' command" % name), (opt, val)
        assert raw.cmd(cmd, "k", "v", "EX", "abc") == NOT_INT
        assert raw.cmd(cmd, "k", "v", "PX", "1.5") == NOT_INT
    # The expire is validated before GET and NX/XX are looked at.
    raw.cmd("SET", "k", "old")
    assert raw.cmd("SET", "k", "v", "GET", "EX", "0") == E("ERR invalid expire time in 'set' command")
    assert raw.cmd("GET", "k") == b"old"
    # Big but valid absolute times.
    assert raw.cmd("SET", "k", "v", "EXAT", "9223372036854775") == b"OK"
    assert raw.cmd("SET", "k", "v", "PXAT", "9223372036854775807") == b"OK"
    assert raw.cmd("GET", "k") == b"v"


def test_set_nx_xx_get(raw):
    assert raw.cmd("SET", "foo", "1", "NX") == b"OK"
    assert raw.cmd("SET", "foo", "2", "NX") is None
    assert raw.cmd("GET", "foo") == b"1"
    assert raw.cmd("SET", "bar", "1", "XX") is None
    assert raw.cmd("GET", "bar") is None
    assert raw.cmd("SET", "foo", "2", "XX") == b"OK"
    assert raw.cmd("GET", "foo") == b"2"
    assert raw.cmd("SET", "foo", "3", "GET") == b"2"
    assert raw.cmd("SET", "new", "x", "GET") is None
    assert raw.cmd("GET", "new") == b"x"
    assert raw.cmd("SET", "none", "x", "GET", "XX") is None
    assert raw.cmd("GET", "none") is None
    assert raw.cmd("SET", "none", "x", "GET", "NX") is None
    assert raw.cmd("GET", "none") == b"x"
    assert raw.cmd("SET", "none", "y", "GET", "NX") == b"x"
    assert raw.cmd("GET", "none") == b"x"
    raw.cmd("SET", "n", "12345")
    assert raw.cmd("SET", "n", "v", "GET") == b"12345"


def test_set_expiry_and_keepttl(raw):
    assert raw.cmd("SET", "a", "1", "PX", "150") == b"OK"
    assert raw.cmd("SET", "b", "1", "PX", "150") == b"OK"
    assert raw.cmd("SET", "b", "2", "KEEPTTL") == b"OK"
    assert raw.cmd("SET", "c", "1", "PX", "150") == b"OK"
    assert raw.cmd("SET", "c", "2") == b"OK"  # no KEEPTTL: persistent again
    assert raw.cmd("SET", "d", "1", "PXAT", str(int(time.time() * 1000) + 150)) == b"OK"
    assert raw.cmd("SET", "e", "1", "EXAT", "1") == b"OK"  # already in the past
    assert raw.cmd("GET", "e") is None
    assert raw.cmd("GET", "b") == b"2"
    time.sleep(0.3)
    assert raw.cmd("GET", "a") is None
    assert raw.cmd("GET", "b") is None
    assert raw.cmd("GET", "c") == b"2"
    assert raw.cmd("GET", "d") is None


def test_setnx_setex_psetex(raw):
    assert raw.cmd("SETNX", "k", "a") == 1
    assert raw.cmd("SETNX", "k", "b") == 0
    assert raw.cmd("GET", "k") == b"a"
    assert raw.cmd("SETNX", "k") == arity("setnx")
    assert raw.cmd("SETEX", "k", "100", "v") == b"OK"
    assert raw.cmd("GET", "k") == b"v"
    assert raw.cmd("SETEX", "k", "0", "v") == E("ERR invalid expire time in 'setex' command")
    assert raw.cmd("SETEX", "k", "-10", "v") == E("ERR invalid expire time in 'setex' command")
    assert raw.cmd("SETEX", "k", "x", "v") == NOT_INT
    assert raw.cmd("SETEX", "k", "10") == arity("setex")
    assert raw.cmd("PSETEX", "k", "0", "v") == E("ERR invalid expire time in 'psetex' command")
    assert raw.cmd("PSETEX", "k", "9223372036854775807", "v") == E("ERR invalid expire time in 'psetex' command")
    assert raw.cmd("PSETEX", "k", "100", "w") == b"OK"
    assert raw.cmd("GET", "k") == b"w"
    time.sleep(0.25)
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("PSETEX", "k", "100") == arity("psetex")


def test_resp3_nulls(make_raw):
    c3 = make_raw()
    c3.cmd("HELLO", "3")
    c3.send(b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n*2\r\n$5\r\nGETEX\r\n$7\r\nmissing\r\n"
            b"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n")
    assert c3.read_exactly(3 + 3 + 4 + 3 + 3) == b"_\r\n_\r\n*2\r\n_\r\n_\r\n"


# ---- GETEX / GETDEL / GETSET ---------------------------------------------------------------


def test_getex_basic_and_errors(raw):
    assert raw.cmd("GETEX") == arity("getex")
    assert raw.cmd("GETEX", "missing") is None
    # A missing key answers nil before the expire is even looked at.
    assert raw.cmd("GETEX", "missing", "EX", "-1") is None
    assert raw.cmd("GETEX", "missing", "EX", "abc") is None
    raw.cmd("SET", "foo", "bar")
    assert raw.cmd("GETEX", "foo") == b"bar"
    for opts in (["NX"], ["EX"], ["KEEPTTL"], ["GET"], ["PERSIST", "EX", "10"], ["EX", "10", "PERSIST"],
                 ["EX", "10", "PX", "10"], ["non-existent-option"], ["PXAT"]):
        assert raw.cmd("GETEX", "foo", *opts) == SYNTAX, opts
    # Syntax is checked before the key.
    assert raw.cmd("GETEX", "missing", "FOO") == SYNTAX
    assert raw.cmd("GETEX", "foo", "EX", "0") == E("ERR invalid expire time in 'getex' command")
    assert raw.cmd("GETEX", "foo", "PX", "x") == NOT_INT
    assert raw.cmd("GETEX", "foo", "EX", "10", "EX", "20") == b"bar"
    assert raw.cmd("GETEX", "foo", "PERSIST", "PERSIST") == b"bar"


def test_getex_expire_and_persist(raw):
    raw.cmd("SET", "a", "1")
    assert raw.cmd("GETEX", "a", "PX", "150") == b"1"
    raw.cmd("SET", "b", "2")
    assert raw.cmd("GETEX", "b", "PX", "150") == b"2"
    assert raw.cmd("GETEX", "b", "PERSIST") == b"2"
    raw.cmd("SET", "c", "3")
    assert raw.cmd("GETEX", "c", "PXAT", str(int(time.time() * 1000) + 150)) == b"3"
    raw.cmd("SET", "d", "4")
    assert raw.cmd("GETEX", "d", "EXAT", "1") == b"4"  # in the past: deleted now
    assert raw.cmd("GET", "d") is None
    raw.cmd("SET", "e", "5", "EX", "100")
    assert raw.cmd("GETEX", "e", "EX", "1000") == b"5"
    time.sleep(0.3)
    assert raw.cmd("GET", "a") is None
    assert raw.cmd("GET", "b") == b"2"
    assert raw.cmd("GET", "c") is None
    assert raw.cmd("GET", "e") == b"5"


def test_getex_events(events):
    ev = events("KEA", [["SET", "k", "v"], ["GETEX", "k"], ["GETEX", "k", "PERSIST"], ["GETEX", "k", "EX", "100"],
                        ["GETEX", "k", "PERSIST"], ["GETEX", "k", "PXAT", "1"], ["GETEX", "k", "EX", "10"]])
    assert ev == [("set", b"k"), ("expire", b"k"), ("persist", b"k"), ("del", b"k")]


def test_getdel(raw, events):
    raw.cmd("SET", "foo", "bar")
    assert raw.cmd("GETDEL", "foo") == b"bar"
    assert raw.cmd("GETDEL", "foo") is None
    assert raw.cmd("GETDEL") == arity("getdel")
    assert raw.cmd("GETDEL", "a", "b") == arity("getdel")
    raw.cmd("SET", "n", "42")
    assert raw.cmd("GETDEL", "n") == b"42"
    assert events("KEA", [["SET", "x", "1"], ["GETDEL", "x"], ["GETDEL", "x"]]) == [("set", b"x"), ("del", b"x")]


def test_getset(raw, events):
    assert raw.cmd("GETSET", "foo", "xyz") is None
    assert raw.cmd("GET", "foo") == b"xyz"
    raw.cmd("SET", "foo", "bar", "PX", "100")
    assert raw.cmd("GETSET", "foo", "baz") == b"bar"
    time.sleep(0.2)
    assert raw.cmd("GET", "foo") == b"baz"  # GETSET drops the TTL
    assert raw.cmd("GETSET", "foo") == arity("getset")
    assert events("KEA", [["GETSET", "g", "1"]]) == [("set", b"g")]


# ---- MGET / MSET / MSETNX ----------------------------------------------------------------------


def test_mget(raw, r):
    raw.cmd("SET", "foo{t}", "BAR")
    raw.cmd("SET", "bar{t}", "FOO")
    raw.cmd("SET", "n{t}", "17")
    assert raw.cmd("MGET", "foo{t}", "bar{t}") == [b"BAR", b"FOO"]
    assert raw.cmd("MGET", "foo{t}", "baazz{t}", "bar{t}", "n{t}") == [b"BAR", None, b"FOO", b"17"]
    assert raw.cmd("MGET") == arity("mget")
    keys = ["key:%d" % i for i in range(300)]
    for i, k in enumerate(keys[::2]):
        r.set(k, "v%d" % i)
    got = r.mget(keys)
    assert got == [(b"v%d" % (i // 2)) if i % 2 == 0 else None for i in range(300)]
    big = b"x" * 100000
    r.set("big", big)
    assert r.mget("big", "none", "big") == [big, None, big]


def test_mset_msetnx(raw):
    assert raw.cmd("MSET", "x{t}", "10", "y{t}", "foo bar", "z{t}", "x x x x x x x\n\n\r\n") == b"OK"
    assert raw.cmd("MGET", "x{t}", "y{t}", "z{t}") == [b"10", b"foo bar", b"x x x x x x x\n\n\r\n"]
    assert raw.cmd("MSET", "x{t}", "10", "y{t}", "foo bar", "z{t}") == arity("mset")
    assert raw.cmd("MSETNX", "x{t}", "20", "y{t}", "foo bar", "z{t}") == arity("msetnx")
    assert raw.cmd("MSET", "x") == arity("mset")
    assert raw.cmd("MSETNX", "x1{t}", "xxx", "y2{t}", "yyy", "x{t}", "20") == 0
    assert raw.cmd("MGET", "x1{t}", "y2{t}", "x{t}") == [None, None, b"10"]
    assert raw.cmd("MSETNX", "x1{t}", "xxx", "y2{t}", "yyy") == 1
    assert raw.cmd("MGET", "x1{t}", "y2{t}") == [b"xxx", b"yyy"]
    assert raw.cmd("MSETNX", "n1{t}", "xxx", "n1{t}", "yyy") == 1
    assert raw.cmd("GET", "n1{t}") == b"yyy"
    assert raw.cmd("MSETNX", "n1{t}", "aaa", "n1{t}", "bbb") == 0
    assert raw.cmd("GET", "n1{t}") == b"yyy"
    # MSET clears TTLs like SET.
    raw.cmd("SET", "t{t}", "1", "PX", "100")
    raw.cmd("MSET", "t{t}", "2")
    time.sleep(0.2)
    assert raw.cmd("GET", "t{t}") == b"2"


def test_mset_events_and_dirty(raw, events):
    before = info_field(raw, "rdb_changes_since_last_save")
    raw.cmd("MSET", "a{t}", "1", "b{t}", "2", "a{t}", "3")
    assert info_field(raw, "rdb_changes_since_last_save") == before + 3
    assert events("KEA", [["MSET", "a{t}", "1", "c{t}", "2"], ["MSETNX", "a{t}", "1", "d{t}", "2"],
                          ["MSETNX", "e{t}", "1", "f{t}", "2"]]) == \
        [("set", b"a{t}"), ("set", b"c{t}"), ("set", b"e{t}"), ("set", b"f{t}")]


# ---- APPEND / STRLEN ---------------------------------------------------------------------------------


def test_append(raw, r):
    assert raw.cmd("APPEND", "foo", "bar") == 3
    assert raw.cmd("APPEND", "foo", "100") == 6
    assert raw.cmd("GET", "foo") == b"bar100"
    raw.cmd("SET", "n", "12")
    assert raw.cmd("APPEND", "n", "34") == 4
    assert raw.cmd("GET", "n") == b"1234"
    assert raw.cmd("INCR", "n") == 1235
    assert raw.cmd("APPEND", "n", "") == 4
    assert raw.cmd("APPEND", "e", "") == 0
    assert raw.cmd("GET", "e") == b""
    assert raw.cmd("APPEND", "foo") == arity("append")
    # Grow across the inline/blob boundary and far beyond, byte-exact.
    expect = b""
    for i in range(2000):
        piece = (b"%d," % i) * (1 + i % 7)
        expect += piece
        assert r.append("grow", piece) == len(expect)
    assert r.get("grow") == expect


def test_append_proto_max_bulk_len(raw):
    raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        raw.cmd("SET", "k", "x" * 1048000)
        assert raw.cmd("APPEND", "k", "y" * 576) == 1048576
        assert raw.cmd("APPEND", "k", "z") == TOO_BIG
        assert raw.cmd("STRLEN", "k") == 1048576
        assert raw.cmd("SETRANGE", "k", "1048575", "ab") == TOO_BIG
        assert raw.cmd("SETRANGE", "k", "1048575", "a") == 1048576
        assert raw.cmd("SETRANGE", "new", "1048576", "a") == TOO_BIG
        assert raw.cmd("GET", "new") is None
    finally:
        raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_strlen(raw):
    assert raw.cmd("STRLEN", "notakey") == 0
    raw.cmd("SET", "myinteger", "-555")
    assert raw.cmd("STRLEN", "myinteger") == 4
    raw.cmd("SET", "mystring", "foozzz0123456789 baz")
    assert raw.cmd("STRLEN", "mystring") == 20
    raw.cmd("SET", "big", "x" * 70000)
    assert raw.cmd("STRLEN", "big") == 70000
    assert raw.cmd("STRLEN") == arity("strlen")


# ---- GETRANGE / SUBSTR / SETRANGE ------------------------------------------------------------


def test_getrange(raw):
    assert raw.cmd("GETRANGE", "mykey", "0", "-1") == b""
    raw.cmd("SET", "mykey", "Hello World")
    cases = [((0, 3), b"Hell"), ((0, -1), b"Hello World"), ((-4, -1), b"orld"), ((5, 3), b""),
             ((5, 5000), b" World"), ((-5000, 10000), b"Hello World"), ((-1, -5), b""), ((-5, -1), b"World"),
             ((0, 4294967297), b"Hello World"), ((11, 20), b""), ((-100, -50), b"H"), ((10, 10), b"d"),
             ((-9223372036854775808, 9223372036854775807), b"Hello World")]
    for (s, e), want in cases:
        assert raw.cmd("GETRANGE", "mykey", str(s), str(e)) == want, (s, e)
        assert raw.cmd("SUBSTR", "mykey", str(s), str(e)) == want, (s, e)
    raw.cmd("SET", "n", "1234")
    assert raw.cmd("GETRANGE", "n", "0", "2") == b"123"
    assert raw.cmd("GETRANGE", "n", "-3", "-1") == b"234"
    assert raw.cmd("GETRANGE", "n", "3", "5000") == b"4"
    raw.cmd("SET", "empty", "")
    assert raw.cmd("GETRANGE", "empty", "0", "-1") == b""
    assert raw.cmd("GETRANGE", "mykey", "a", "1") == NOT_INT
    assert raw.cmd("GETRANGE", "missing", "0", "1.5") == NOT_INT
    assert raw.cmd("GETRANGE", "mykey", "0") == arity("getrange")
    assert raw.cmd("SUBSTR", "mykey", "0") == arity("substr")


def test_getrange_big_value(r):
    big = bytes(range(256)) * 1000
    r.set("big", big)
    assert r.getrange("big", 0, -1) == big
    assert r.getrange("big", 1000, 200000) == big[1000:200001]
    assert r.getrange("big", -50000, -2) == big[-50000:-1]
    assert r.getrange("big", 3, 9) == big[3:10]


def test_setrange(raw):
    assert raw.cmd("SETRANGE", "mykey", "0", "foo") == 3
    assert raw.cmd("GET", "mykey") == b"foo"
    raw.cmd("DEL", "mykey")
    assert raw.cmd("SETRANGE", "mykey", "0", "") == 0
    assert raw.cmd("GET", "mykey") is None
    assert raw.cmd("SETRANGE", "mykey", "1", "foo") == 4
    assert raw.cmd("GET", "mykey") == b"\x00foo"
    for off, val, rep, want in ((0, "b", 3, b"boo"), (0, "", 3, b"foo"), (1, "b", 3, b"fbo"),
                                (4, "bar", 7, b"foo\x00bar"), (2, "oooo", 6, b"fooooo")):
        raw.cmd("SET", "mykey", "foo")
        assert raw.cmd("SETRANGE", "mykey", str(off), val) == rep
        assert raw.cmd("GET", "mykey") == want
    for off, val, rep, want in ((0, "2", 4, b"2234"), (0, "", 4, b"1234"), (1, "3", 4, b"1334"),
                                (5, "2", 6, b"1234\x002")):
        raw.cmd("SET", "mykey", "1234")
        assert raw.cmd("SETRANGE", "mykey", str(off), val) == rep
        assert raw.cmd("GET", "mykey") == want
    raw.cmd("SET", "mykey", "hello")
    assert raw.cmd("SETRANGE", "mykey", "-1", "world") == E("ERR offset is out of range")
    assert raw.cmd("SETRANGE", "mykey", "x", "world") == NOT_INT
    assert raw.cmd("SETRANGE", "mykey", str(512 * 1024 * 1024 - 4), "world") == TOO_BIG
    assert raw.cmd("SETRANGE", "nokey", str(512 * 1024 * 1024 - 4), "world") == TOO_BIG
    for huge in ("9223372036854775807", "2147483647", "536870912"):
        assert raw.cmd("SETRANGE", "K", huge, "A") == TOO_BIG
    assert raw.cmd("SETRANGE", "K", "99999999999999999999", "A") == NOT_INT
    assert raw.cmd("SETRANGE", "K", "0") == arity("setrange")
    assert raw.cmd("GET", "mykey") == b"hello"


def test_setrange_big(r):
    assert r.setrange("b", 100000, b"end") == 100003
    v = r.get("b")
    assert v == b"\x00" * 100000 + b"end"
    assert r.setrange("b", 5, b"xyz") == 100003
    assert r.getrange("b", 0, 9) == b"\x00" * 5 + b"xyz\x00\x00"
    # Growth of an inline value into a blob.
    r.set("s", "abc")
    assert r.setrange("s", 1000, b"Z") == 1001
    assert r.get("s") == b"abc" + b"\x00" * 997 + b"Z"


def test_setrange_events(events):
    assert events("KEA", [["SETRANGE", "k", "0", ""], ["SETRANGE", "k", "2", "ab"], ["SETRANGE", "k", "0", ""],
                          ["APPEND", "k", "c"]]) == [("setrange", b"k"), ("append", b"k")]


# ---- INCR family ---------------------------------------------------------------------------------


def test_incr_decr(raw):
    assert raw.cmd("INCR", "novar") == 1
    assert raw.cmd("GET", "novar") == b"1"
    assert raw.cmd("INCR", "novar") == 2
    raw.cmd("SET", "novar", "100")
    assert raw.cmd("INCR", "novar") == 101
    raw.cmd("SET", "novar", "17179869184")
    assert raw.cmd("INCR", "novar") == 17179869185
    assert raw.cmd("INCRBY", "novar", "17179869184") == 34359738369
    assert raw.cmd("DECR", "novar") == 34359738368
    assert raw.cmd("DECRBY", "novar", "34359738369") == -1
    assert raw.cmd("DECRBY", "fresh", "5") == -5
    assert raw.cmd("INCRBY", "fresh", "-5") == -10
    assert raw.cmd("INCR") == arity("incr")
    assert raw.cmd("INCRBY", "k") == arity("incrby")
    assert raw.cmd("DECRBY", "k", "1", "2") == arity("decrby")


def test_incr_errors(raw):
    for v in ("    11", "11    ", "    11    ", "1.5", "abc", "", "01", "+1", "9223372036854775808", "1e3",
              "12345678901234567890123"):
        raw.cmd("SET", "novar", v)
        assert raw.cmd("INCR", "novar") == NOT_INT, v
        assert raw.cmd("DECRBY", "novar", "1") == NOT_INT, v
        assert raw.cmd("GET", "novar") == v.encode()
    raw.cmd("SET", "x", "0")
    assert raw.cmd("INCRBY", "x", "abc") == NOT_INT
    assert raw.cmd("INCRBY", "x", "1.0") == NOT_INT
    assert raw.cmd("INCRBY", "x", "9223372036854775808") == NOT_INT
    assert raw.cmd("DECRBY", "x", "-9223372036854775808") == E("ERR decrement would overflow")
    raw.cmd("SET", "x", "9223372036854775807")
    assert raw.cmd("INCR", "x") == E("ERR increment or decrement would overflow")
    assert raw.cmd("INCRBY", "x", "0") == 9223372036854775807
    raw.cmd("SET", "x", "-9223372036854775808")
    assert raw.cmd("DECR", "x") == E("ERR increment or decrement would overflow")
    assert raw.cmd("INCRBY", "x", "-1") == E("ERR increment or decrement would overflow")
    assert raw.cmd("INCRBY", "x", "9223372036854775807") == -1
    raw.cmd("SET", "x", "1")
    assert raw.cmd("INCRBY", "x", "9223372036854775807") == E("ERR increment or decrement would overflow")
    assert raw.cmd("DECRBY", "x", "9223372036854775807") == -9223372036854775806
    assert raw.cmd("GET", "x") == b"-9223372036854775806"


def test_incr_after_string_edits(raw):
    raw.cmd("SET", "k", "1")
    raw.cmd("APPEND", "k", "0")
    assert raw.cmd("INCR", "k") == 11
    raw.cmd("SETRANGE", "k", "0", "2")
    assert raw.cmd("INCRBY", "k", "5") == 26
    raw.cmd("SET", "k", "x" * 600)
    assert raw.cmd("INCR", "k") == NOT_INT


def test_incr_keeps_ttl(raw):
    raw.cmd("SET", "k", "5", "PX", "150")
    assert raw.cmd("INCR", "k") == 6
    raw.cmd("SET", "f", "5", "PX", "150")
    assert raw.cmd("INCRBYFLOAT", "f", "0.5") == b"5.5"
    time.sleep(0.3)
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("GET", "f") is None


def test_incr_events_and_dirty(raw, events):
    assert events("KEA", [["INCR", "a"], ["DECR", "a"], ["INCRBY", "a", "5"], ["DECRBY", "a", "5"],
                          ["INCRBYFLOAT", "a", "1.5"], ["SET", "s", "x"], ["INCR", "s"]]) == \
        [("incrby", b"a")] * 4 + [("incrbyfloat", b"a"), ("set", b"s")]
    before = info_field(raw, "rdb_changes_since_last_save")
    raw.cmd("INCR", "i")
    raw.cmd("INCR", "s")
    assert info_field(raw, "rdb_changes_since_last_save") == before + 1


def test_incrbyfloat(raw):
    assert raw.cmd("INCRBYFLOAT", "novar", "1") == b"1"
    assert raw.cmd("GET", "novar") == b"1"
    assert raw.cmd("INCRBYFLOAT", "novar", "0.25") == b"1.25"
    raw.cmd("SET", "novar", "1.5")
    assert raw.cmd("INCRBYFLOAT", "novar", "1.5") == b"3"
    raw.cmd("SET", "novar", "17179869184")
    assert raw.cmd("INCRBYFLOAT", "novar", "1.5") == b"17179869185.5"
    raw.cmd("SET", "novar", "17179869184")
    assert raw.cmd("INCRBYFLOAT", "novar", "17179869184") == b"34359738368"
    raw.cmd("SET", "foo", "1")
    assert raw.cmd("INCRBYFLOAT", "foo", "-1.1") == b"-0.1"
    raw.cmd("SET", "foo", "10.50")
    assert raw.cmd("INCRBYFLOAT", "foo", "0.1") == b"10.6"
    raw.cmd("SET", "foo", "5.0e3")
    assert raw.cmd("INCRBYFLOAT", "foo", "2.0e2") == b"5200"
    assert raw.cmd("INCRBYFLOAT", "foo", "1e-5") == b"5200.00001000000000007"
    raw.cmd("SET", "foo", "0")
    assert raw.cmd("INCRBYFLOAT", "foo", "3.0") == b"3"
    raw.cmd("DEL", "z")
    raw.cmd("INCRBYFLOAT", "z", repr(1 / 41))
    assert raw.cmd("INCRBYFLOAT", "z", repr(-1 / 41)) == b"0"
    assert raw.cmd("INCRBYFLOAT", "big", "1e20") == b"100000000000000000000"
    assert raw.cmd("INCRBYFLOAT", "big", "abc") == NOT_FLOAT
    assert raw.cmd("INCRBYFLOAT", "big") == arity("incrbyfloat")


def test_incrbyfloat_errors(raw):
    for v in ("    11", "11    ", " 11 ", "abc", "", "1.5.5"):
        raw.cmd("SET", "novar", v)
        assert raw.cmd("INCRBYFLOAT", "novar", "1.0") == NOT_FLOAT, v
    raw.cmd("SET", "foo", "0")
    assert raw.cmd("INCRBYFLOAT", "foo", "+inf") == E("ERR increment would produce NaN or Infinity")
    assert raw.cmd("INCRBYFLOAT", "foo", "-inf") == E("ERR increment would produce NaN or Infinity")
    assert raw.cmd("INCRBYFLOAT", "foo", "nan") == NOT_FLOAT
    assert raw.cmd("INCRBYFLOAT", "foo", " 1") == NOT_FLOAT
    assert raw.cmd("INCRBYFLOAT", "foo", "1e5000") == NOT_FLOAT
    assert raw.cmd("GET", "foo") == b"0"
    # A NUL inside the value.
    raw.cmd("SET", "foo", "1")
    raw.cmd("SETRANGE", "foo", "2", "2")
    assert raw.cmd("INCRBYFLOAT", "foo", "1") == NOT_FLOAT


# ---- LCS ------------------------------------------------------------------------------------------------

RNA1 = ("CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAG"
        "TGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAG"
        "CCGATCATCAGCACATCTAGGTTTCGTCCGGGTGTG")
RNA2 = ("ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGG"
        "CTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCG"
        "TCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTT")
RNALCS = ("ACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGT"
          "GCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCC"
          "GATCATCAGCACATCTAGGTTT")


def test_lcs_rna(raw):
    raw.cmd("SET", "virus1{t}", RNA1)
    raw.cmd("SET", "virus2{t}", RNA2)
    assert raw.cmd("LCS", "virus1{t}", "virus2{t}") == RNALCS.encode()
    assert raw.cmd("LCS", "virus1{t}", "virus2{t}", "LEN") == len(RNALCS)
    assert raw.cmd("LCS", "virus1{t}", "virus2{t}", "IDX") == [
        b"matches", [[[238, 238], [239, 239]], [[236, 236], [238, 238]], [[229, 230], [236, 237]],
                     [[224, 224], [235, 235]], [[1, 222], [13, 234]]],
        b"len", 227]
    assert raw.cmd("LCS", "virus1{t}", "virus2{t}", "IDX", "WITHMATCHLEN")[1] == [
        [[238, 238], [239, 239], 1], [[236, 236], [238, 238], 1], [[229, 230], [236, 237], 2],
        [[224, 224], [235, 235], 1], [[1, 222], [13, 234], 222]]
    assert raw.cmd("LCS", "virus1{t}", "virus2{t}", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "5") == [
        b"matches", [[[1, 222], [13, 234], 222]], b"len", 227]


def test_lcs_small_and_options(raw, make_raw):
    raw.cmd("MSET", "a{t}", "ohmytext", "b{t}", "mynewtext")
    assert raw.cmd("LCS", "a{t}", "b{t}") == b"mytext"
    assert raw.cmd("LCS", "a{t}", "b{t}", "LEN") == 6
    assert raw.cmd("LCS", "a{t}", "b{t}", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert raw.cmd("LCS", "a{t}", "b{t}", "idx") == [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert raw.cmd("LCS", "a{t}", "b{t}", "IDX", "MINMATCHLEN", "-5") == \
        [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert raw.cmd("LCS", "a{t}", "nokey{t}") == b""
    assert raw.cmd("LCS", "x{t}", "y{t}", "LEN") == 0
    assert raw.cmd("LCS", "x{t}", "y{t}", "IDX") == [b"matches", [], b"len", 0]
    raw.cmd("MSET", "n1{t}", "12345", "n2{t}", "1359")
    assert raw.cmd("LCS", "n1{t}", "n2{t}") == b"135"
    assert raw.cmd("LCS", "a{t}", "b{t}", "LEN", "IDX") == \
        E("ERR If you want both the length and indexes, please just use IDX.")
    assert raw.cmd("LCS", "a{t}", "b{t}", "FOO") == SYNTAX
    assert raw.cmd("LCS", "a{t}", "b{t}", "MINMATCHLEN") == SYNTAX
    assert raw.cmd("LCS", "a{t}", "b{t}", "MINMATCHLEN", "x") == NOT_INT
    assert raw.cmd("LCS", "a{t}") == arity("lcs")
    c3 = make_raw()
    c3.cmd("HELLO", "3")
    assert c3.cmd("LCS", "a{t}", "b{t}", "IDX") == {b"matches": [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len": 6}


def test_lcs_memory_limit(raw):
    raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        raw.cmd("SET", "a{t}", "a" * 1000)
        raw.cmd("SET", "b{t}", "b" * 1000)
        assert raw.cmd("LCS", "a{t}", "b{t}") == \
            E("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        assert raw.cmd("LCS", "a{t}", "b{t}", "LEN") == \
            E("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    finally:
        raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912")
    assert raw.cmd("LCS", "a{t}", "b{t}", "LEN") == 0


# ---- keyspace events, WATCH, dirty ------------------------------------------------------------------


def test_set_family_events(events):
    got = events("KEA", [["SET", "k", "v"], ["SET", "k", "v", "EX", "100"], ["SET", "k", "v", "NX"],
                         ["SETNX", "k", "v"], ["SETEX", "k", "100", "v"], ["PSETEX", "k", "100", "v"],
                         ["SET", "k", "w", "GET"], ["SET", "k", "v", "EXAT", "1"]])
    assert got == [("set", b"k"), ("set", b"k"), ("expire", b"k"), ("set", b"k"), ("expire", b"k"),
                   ("set", b"k"), ("expire", b"k"), ("set", b"k"), ("set", b"k"), ("expire", b"k")]


def test_new_key_events(events):
    got = events("En$g", [["SET", "a", "1"], ["SET", "a", "2"], ["INCR", "b"], ["APPEND", "c", "x"],
                          ["SETRANGE", "d", "1", "x"], ["MSET", "a", "1", "e", "2"], ["INCRBYFLOAT", "f", "1"]])
    assert got == [("new", b"a"), ("set", b"a"), ("set", b"a"), ("new", b"b"), ("incrby", b"b"),
                   ("new", b"c"), ("append", b"c"), ("new", b"d"), ("setrange", b"d"), ("set", b"a"),
                   ("new", b"e"), ("set", b"e"), ("new", b"f"), ("incrbyfloat", b"f")]


@pytest.mark.parametrize("setup,cmd,fires", [
    ([], ["SET", "k", "v"], True),
    ([["SET", "k", "v"]], ["SET", "k", "v", "NX"], False),
    ([], ["SET", "k", "v", "XX"], False),
    ([["SET", "k", "v"]], ["GET", "k"], False),
    ([["SET", "k", "v"]], ["GETEX", "k"], False),
    ([["SET", "k", "v"]], ["GETEX", "k", "PERSIST"], False),
    ([["SET", "k", "v", "EX", "100"]], ["GETEX", "k", "PERSIST"], True),
    ([["SET", "k", "v"]], ["GETEX", "k", "EX", "100"], True),
    ([["SET", "k", "v"]], ["GETDEL", "k"], True),
    ([], ["GETDEL", "k"], False),
    ([], ["GETSET", "k", "v"], True),
    ([], ["MSET", "k", "v"], True),
    ([["SET", "k", "v"]], ["MSETNX", "k", "v", "j", "w"], False),
    ([], ["APPEND", "k", ""], True),
    ([["SET", "k", "v"]], ["SETRANGE", "k", "0", ""], False),
    ([["SET", "k", "v"]], ["SETRANGE", "k", "0", "v"], True),
    ([], ["INCR", "k"], True),
    ([["SET", "k", "x"]], ["INCR", "k"], False),
    ([], ["INCRBYFLOAT", "k", "1"], True),
    ([["SET", "k", "v"]], ["SETNX", "k", "w"], False),
    ([], ["SETEX", "k", "10", "w"], True),
    ([], ["SETEX", "k", "0", "w"], False),
    ([["SET", "k", "v"]], ["STRLEN", "k"], False),
    ([["SET", "k", "v"]], ["LCS", "k", "k"], False),
])
def test_watch_signals(make_raw, raw, setup, cmd, fires):
    assert watch_fires(make_raw, raw, setup, cmd) is fires


def test_dirty_counts(raw):
    before = info_field(raw, "rdb_changes_since_last_save")
    raw.cmd("SET", "k", "v")                  # +1
    raw.cmd("SET", "k", "v", "NX")            # 0
    raw.cmd("GETEX", "k")                     # 0
    raw.cmd("GETEX", "k", "PERSIST")          # 0 (no TTL)
    raw.cmd("GETEX", "k", "EX", "100")        # +1
    raw.cmd("SETRANGE", "k", "0", "")         # 0
    raw.cmd("APPEND", "k", "")                # +1
    raw.cmd("GETDEL", "k")                    # +1
    raw.cmd("GETDEL", "k")                    # 0
    assert info_field(raw, "rdb_changes_since_last_save") == before + 4


def test_commands_inside_multi(raw):
    assert raw.cmd("MULTI") == b"OK"
    for c in (["SET", "k", "1"], ["INCRBY", "k", "9"], ["APPEND", "k", "x"], ["GETRANGE", "k", "0", "-1"],
              ["INCR", "k"], ["GETDEL", "k"]):
        assert raw.cmd(*c) == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK", 10, 3, b"10x", NOT_INT, b"10x"]


def test_pipelined_incr_is_exact(make_raw):
    conns = [make_raw() for _ in range(4)]
    n = 500
    for c in conns:
        c.send(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n" * n)
    for c in conns:
        for _ in range(n):
            assert isinstance(c.read_reply(), int)
    assert conns[0].cmd("GET", "ctr") == str(4 * n).encode()


def test_redis_py_client_api(r):
    assert r.set("a", 1, ex=100)
    assert r.set("a", 2, nx=True) is None
    assert r.set("a", 3, xx=True, get=True) == b"1"
    assert r.getex("a", persist=True) == b"3"
    assert r.incrbyfloat("f", 2.5) == 2.5
    assert r.mset({"m1": "x", "m2": "y"}) is True
    assert r.msetnx({"m1": "z", "m3": "w"}) is False
    assert r.getdel("m1") == b"x"
    assert r.lcs("m2", "m2") == b"y"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", "a", "b", "NX", "XX")


def test_set_same_length_overwrite_keeps_redis_semantics(r, raw):
    """SET over a value of the same length is done in place: nothing a
    client can see may differ from a fresh SET."""
    r.set("ow", "abcdef")
    r.append("ow", "")  # still "raw" after APPEND in Redis terms
    assert r.set("ow", "uvwxyz") is True
    assert r.get("ow") == b"uvwxyz"
    assert raw.cmd("OBJECT", "ENCODING", "ow") == b"embstr"
    # Without KEEPTTL a SET drops the TTL; with it the TTL stays.
    r.set("ow", "aaaaaa", ex=100)
    r.set("ow", "bbbbbb", keepttl=True)
    assert 0 < r.ttl("ow") <= 100
    r.set("ow", "cccccc")
    assert r.ttl("ow") == -1
    # A new EX on a key that has a TTL replaces it.
    r.set("ow", "dddddd", ex=100)
    r.set("ow", "eeeeee", ex=5000)
    assert 100 < r.ttl("ow") <= 5000
    # Integer-looking values still become integers.
    r.set("ow2", "abcd")
    r.set("ow2", "1234")
    assert raw.cmd("OBJECT", "ENCODING", "ow2") == b"int"
    assert r.get("ow2") == b"1234"


def test_set_in_place_still_touches_watchers(r, server):
    r.set("wk", "xxxx")
    other = server.client()
    p = r.pipeline(transaction=True)
    p.watch("wk")
    other.set("wk", "yyyy")
    p.multi()
    p.get("wk")
    import redis as redis_mod
    try:
        p.execute()
        assert False, "EXEC should have failed"
    except redis_mod.WatchError:
        pass
    other.close()
