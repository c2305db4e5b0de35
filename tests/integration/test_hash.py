"""Hashes: HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS
HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN with Redis 7.0's replies and
errors; WRONGTYPE everywhere; listpack -> hashtable conversions at the
thresholds (and after CONFIG SET); OBJECT ENCODING; HSCAN guarantees; RESP3
reply types; keyspace events and WATCH; DEBUG DIGEST-VALUE equal to a real
redis-server's for the same content."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import Raw, RespError, Server, free_port


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def raw(server):
    """A raw connection to an emptied server."""
    c = Raw(server.port)
    c.cmd("FLUSHALL")
    yield c
    c.close()


@pytest.fixture
def cfg(r):
    """Restores the hash thresholds after a test that changes them."""
    yield r
    r.config_set("hash-max-listpack-entries", 512)
    r.config_set("hash-max-listpack-value", 64)
    r.config_set("notify-keyspace-events", "")


def err(msg):
    return RespError(msg)


WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT = err("ERR value is not an integer or out of range")
SYNTAX = err("ERR syntax error")


def arity(cmd):
    return err("ERR wrong number of arguments for '%s' command" % cmd)


def enc(raw, key):
    return raw.cmd("OBJECT", "ENCODING", key)


# ---- basic commands ------------------------------------------------------------------

def test_hset_hget_counts_new_fields(raw):
    assert raw.cmd("HSET", "h", "a", "1", "b", "2") == 2
    assert raw.cmd("HSET", "h", "a", "3", "c", "4") == 1
    assert raw.cmd("HGET", "h", "a") == b"3"
    assert raw.cmd("HGET", "h", "nope") is None
    assert raw.cmd("HGET", "nokey", "a") is None
    assert raw.cmd("TYPE", "h") == b"hash"
    assert raw.cmd("HSET", "h", "a", "a", "a", "b") == 0  # the last value wins
    assert raw.cmd("HGET", "h", "a") == b"b"


def test_hset_arity(raw):
    assert raw.cmd("HSET", "h") == arity("hset")
    assert raw.cmd("HSET", "h", "a") == arity("hset")
    assert raw.cmd("HSET", "h", "a", "1", "b") == arity("hset")
    assert raw.cmd("HMSET", "h", "a", "1", "b") == arity("hmset")
    assert raw.cmd("EXISTS", "h") == 0


def test_hmset_and_hsetnx(raw):
    assert raw.cmd("HMSET", "h", "a", "1", "b", "2") == b"OK"
    assert raw.cmd("HSETNX", "h", "a", "9") == 0
    assert raw.cmd("HSETNX", "h", "z", "9") == 1
    assert raw.cmd("HSETNX", "new", "f", "v") == 1
    assert raw.cmd("HMGET", "h", "a", "z", "nope") == [b"1", b"9", None]
    assert raw.cmd("HMGET", "nokey", "a", "b") == [None, None]


def test_empty_field_and_value(raw):
    assert raw.cmd("HSET", "h", "", "") == 1
    assert raw.cmd("HGET", "h", "") == b""
    assert raw.cmd("HEXISTS", "h", "") == 1
    assert raw.cmd("HSTRLEN", "h", "") == 0


def test_hlen_hstrlen_hexists(raw):
    raw.cmd("HSET", "h", "s", "hello", "i", "-123456789012", "z", "0")
    assert raw.cmd("HLEN", "h") == 3
    assert raw.cmd("HLEN", "nokey") == 0
    assert raw.cmd("HSTRLEN", "h", "s") == 5
    assert raw.cmd("HSTRLEN", "h", "i") == 13  # stored as an integer, measured as text
    assert raw.cmd("HSTRLEN", "h", "nope") == 0
    assert raw.cmd("HSTRLEN", "nokey", "s") == 0
    assert raw.cmd("HEXISTS", "h", "z") == 1
    assert raw.cmd("HEXISTS", "h", "q") == 0
    assert raw.cmd("HEXISTS", "nokey", "q") == 0


def test_integers_keep_their_text(raw):
    vals = ["0", "127", "128", "-1", "4095", "-4096", "32767", "-32768", "8388607", "-8388609",
            "2147483647", "-2147483648", "9223372036854775807", "-9223372036854775808",
            "9223372036854775808", "01", "-0", "+1", " 1", "1.0"]
    for i, v in enumerate(vals):
        raw.cmd("HSET", "h", "f%d" % i, v)
    assert raw.cmd("HMGET", "h", *["f%d" % i for i in range(len(vals))]) == [v.encode() for v in vals]
    # Integer-looking field names too.
    raw.cmd("HSET", "h", "12", "x", "-7", "y")
    assert raw.cmd("HGET", "h", "12") == b"x"
    assert raw.cmd("HGET", "h", "-7") == b"y"
    assert raw.cmd("HGET", "h", "012") is None


def test_hkeys_hvals_hgetall(raw):
    assert raw.cmd("HKEYS", "nokey") == []
    assert raw.cmd("HVALS", "nokey") == []
    assert raw.cmd("HGETALL", "nokey") == []
    raw.cmd("HSET", "h", "a", "1", "b", "2", "c", "3")
    # A listpack keeps insertion order.
    assert raw.cmd("HKEYS", "h") == [b"a", b"b", b"c"]
    assert raw.cmd("HVALS", "h") == [b"1", b"2", b"3"]
    assert raw.cmd("HGETALL", "h") == [b"a", b"1", b"b", b"2", b"c", b"3"]


def test_hdel_removes_key_when_empty(raw):
    raw.cmd("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert raw.cmd("HDEL", "h", "a", "nope", "a") == 1
    assert raw.cmd("HDEL", "nokey", "a") == 0
    assert raw.cmd("HDEL", "h", "b", "c", "x") == 2
    assert raw.cmd("EXISTS", "h") == 0
    assert raw.cmd("HDEL", "h") == arity("hdel")


def test_hdel_on_hashtable(raw):
    raw.cmd("HSET", "h", "big", "x" * 100)
    raw.cmd("HSET", "h", *[x for i in range(200) for x in ("f%d" % i, i)])
    assert enc(raw, "h") == b"hashtable"
    assert raw.cmd("HDEL", "h", *["f%d" % i for i in range(200)]) == 200
    assert raw.cmd("HLEN", "h") == 1
    assert enc(raw, "h") == b"hashtable"  # never converted back
    assert raw.cmd("HDEL", "h", "big") == 1
    assert raw.cmd("EXISTS", "h") == 0


@pytest.mark.parametrize("args", [
    ["HSET", "s", "a", "1"], ["HSETNX", "s", "a", "1"], ["HMSET", "s", "a", "1"], ["HGET", "s", "a"],
    ["HMGET", "s", "a"], ["HDEL", "s", "a"], ["HLEN", "s"], ["HSTRLEN", "s", "a"], ["HEXISTS", "s", "a"],
    ["HKEYS", "s"], ["HVALS", "s"], ["HGETALL", "s"], ["HINCRBY", "s", "a", "1"],
    ["HINCRBYFLOAT", "s", "a", "1"], ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"],
    ["HRANDFIELD", "s", "-2", "WITHVALUES"], ["HSCAN", "s", "0"],
])
def test_wrongtype(raw, args):
    raw.cmd("SET", "s", "x")
    assert raw.cmd(*args) == WRONGTYPE
    assert raw.cmd("GET", "s") == b"x"


# ---- HINCRBY HINCRBYFLOAT ------------------------------------------------------------------

def test_hincrby(raw):
    assert raw.cmd("HINCRBY", "h", "n", "5") == 5
    assert raw.cmd("HINCRBY", "h", "n", "-10") == -5
    assert raw.cmd("HINCRBY", "new", "n", "3") == 3
    assert raw.cmd("HINCRBY", "h", "n", "x") == NOT_INT
    assert raw.cmd("HINCRBY", "h", "n", "1.5") == NOT_INT
    raw.cmd("HSET", "h", "s", "hello", "sp", " 1", "max", "9223372036854775807", "min", "-9223372036854775808")
    assert raw.cmd("HINCRBY", "h", "s", "1") == err("ERR hash value is not an integer")
    assert raw.cmd("HINCRBY", "h", "sp", "1") == err("ERR hash value is not an integer")
    assert raw.cmd("HINCRBY", "h", "max", "1") == err("ERR increment or decrement would overflow")
    assert raw.cmd("HINCRBY", "h", "min", "-1") == err("ERR increment or decrement would overflow")
    assert raw.cmd("HINCRBY", "h", "max", "-1") == 9223372036854775806
    assert raw.cmd("HGET", "h", "max") == b"9223372036854775806"
    # Errors on a missing key create nothing.
    assert raw.cmd("HINCRBY", "nokey", "n", "x") == NOT_INT
    assert raw.cmd("EXISTS", "nokey") == 0


def test_hincrbyfloat(raw):
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "1.5") == b"1.5"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "1e10") == b"10000000001.5"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "-1e10") == b"1.5"
    assert raw.cmd("HINCRBYFLOAT", "h", "g", "10.50") == b"10.5"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "abc") == err("ERR value is not a valid float")
    for bad in ("inf", "-inf", "+inf"):
        assert raw.cmd("HINCRBYFLOAT", "h", "f", bad) == err("ERR value is NaN or Infinity")
    raw.cmd("HSET", "h", "s", "hello", "i", "7", "e", "5.0e3", "huge", "1e308")
    assert raw.cmd("HINCRBYFLOAT", "h", "s", "1") == err("ERR hash value is not a float")
    assert raw.cmd("HINCRBYFLOAT", "h", "i", "0.25") == b"7.25"
    assert raw.cmd("HINCRBYFLOAT", "h", "e", "0") == b"5000"
    # Long doubles do not overflow here (as in Redis): the sum is exact text.
    assert raw.cmd("HINCRBYFLOAT", "h", "huge", "1e308").startswith(b"1999999999999999")


def test_hincrby_converts_long_fields(cfg, raw):
    field = "f" * 65
    assert raw.cmd("HINCRBY", "h", field, "1") == 1
    assert enc(raw, "h") == b"hashtable"
    assert raw.cmd("HINCRBYFLOAT", "h2", "x" * 70, "1.5") == b"1.5"
    assert enc(raw, "h2") == b"hashtable"


# ---- encodings --------------------------------------------------------------------------

def test_listpack_to_hashtable_by_entries(cfg, raw):
    # Redis 7.0's default is 512 fields.
    raw.cmd("HSET", "h", *[x for i in range(512) for x in ("f%d" % i, i)])
    assert enc(raw, "h") == b"listpack"
    raw.cmd("HSET", "h", "f511", "again")  # an update is not an insert
    assert enc(raw, "h") == b"listpack"
    raw.cmd("HSET", "h", "f512", "x")
    assert enc(raw, "h") == b"hashtable"
    assert raw.cmd("HLEN", "h") == 513
    assert raw.cmd("HGET", "h", "f5") == b"5"
    assert raw.cmd("HGET", "h", "f511") == b"again"


def test_listpack_to_hashtable_by_value_length(cfg, raw):
    raw.cmd("HSET", "h", "a", "x" * 64)
    assert enc(raw, "h") == b"listpack"
    raw.cmd("HSET", "h", "b", "x" * 65)
    assert enc(raw, "h") == b"hashtable"
    raw.cmd("HSET", "h2", "y" * 65, "1")
    assert enc(raw, "h2") == b"hashtable"
    # HSETNX with a long value, and the whole argument list is checked first.
    raw.cmd("HSETNX", "h3", "a", "x" * 65)
    assert enc(raw, "h3") == b"hashtable"
    raw.cmd("HSET", "h4", "a", "1", "b", "x" * 65)
    assert enc(raw, "h4") == b"hashtable"


def test_config_set_changes_thresholds(cfg, raw):
    raw.cmd("CONFIG", "SET", "hash-max-listpack-entries", "4")
    for i in range(4):
        raw.cmd("HSET", "h", "f%d" % i, i)
    assert enc(raw, "h") == b"listpack"
    raw.cmd("HSET", "h", "f4", "4")
    assert enc(raw, "h") == b"hashtable"
    raw.cmd("CONFIG", "SET", "hash-max-listpack-value", "3")
    raw.cmd("HSET", "v", "abc", "def")
    assert enc(raw, "v") == b"listpack"
    raw.cmd("HSET", "v", "abcd", "1")
    assert enc(raw, "v") == b"hashtable"
    raw.cmd("CONFIG", "SET", "hash-max-listpack-entries", "0")
    raw.cmd("HSET", "z", "a", "1")
    assert enc(raw, "z") == b"hashtable"


def test_config_names_and_aliases(cfg, raw):
    assert raw.cmd("CONFIG", "GET", "hash-max-listpack-entries") == [b"hash-max-listpack-entries", b"512"]
    assert raw.cmd("CONFIG", "GET", "hash-max-listpack-value") == [b"hash-max-listpack-value", b"64"]
    assert raw.cmd("CONFIG", "SET", "hash-max-listpack-value", "1kb") == b"OK"
    assert raw.cmd("CONFIG", "GET", "hash-max-listpack-value") == [b"hash-max-listpack-value", b"1024"]
    assert raw.cmd("CONFIG", "SET", "hash-max-ziplist-entries", "7") == b"OK"
    assert raw.cmd("CONFIG", "GET", "hash-max-listpack-entries") == [b"hash-max-listpack-entries", b"7"]
    assert raw.cmd("CONFIG", "SET", "hash-max-ziplist-value", "9") == b"OK"
    assert raw.cmd("CONFIG", "GET", "hash-max-listpack-value") == [b"hash-max-listpack-value", b"9"]
    got = raw.cmd("CONFIG", "SET", "hash-max-listpack-entries", "-1")
    assert isinstance(got, RespError)


def test_hashtable_keeps_all_operations(cfg, raw):
    raw.cmd("CONFIG", "SET", "hash-max-listpack-entries", "0")
    raw.cmd("HSET", "h", "a", "1", "b", "2", "n", "10")
    assert enc(raw, "h") == b"hashtable"
    assert sorted(raw.cmd("HKEYS", "h")) == [b"a", b"b", b"n"]
    assert raw.cmd("HINCRBY", "h", "n", "5") == 15
    assert raw.cmd("HINCRBYFLOAT", "h", "n", "0.5") == b"15.5"
    assert raw.cmd("HSTRLEN", "h", "n") == 4
    raw.cmd("HSET", "h", "a", "x" * 1000)  # grows the node
    raw.cmd("HSET", "h", "a", "y")          # shrinks it
    assert raw.cmd("HGET", "h", "a") == b"y"
    assert raw.cmd("HSETNX", "h", "a", "z") == 0


# ---- HRANDFIELD --------------------------------------------------------------------------

def test_hrandfield_errors_and_missing(raw):
    assert raw.cmd("HRANDFIELD", "nokey") is None
    assert raw.cmd("HRANDFIELD", "nokey", "5") == []
    assert raw.cmd("HRANDFIELD", "nokey", "5", "WITHVALUES") == []
    raw.cmd("HSET", "h", "a", "1")
    assert raw.cmd("HRANDFIELD", "h", "0") == []
    assert raw.cmd("HRANDFIELD", "h", "x") == NOT_INT
    assert raw.cmd("HRANDFIELD", "h", "1", "WITHVALUE") == SYNTAX
    assert raw.cmd("HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX
    assert raw.cmd("HRANDFIELD", "h", "-9223372036854775808") == err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert raw.cmd("HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES") == err("ERR value is out of range")
    assert raw.cmd("HRANDFIELD", "h", "9223372036854770000", "withvalues") == err("ERR value is out of range")


@pytest.mark.parametrize("big", [False, True])
def test_hrandfield_counts(raw, big):
    n = 700 if big else 20
    fields = {b"f%d" % i: b"v%d" % i for i in range(n)}
    raw.cmd("HSET", "h", *[x for kv in fields.items() for x in kv])
    assert enc(raw, "h") == (b"hashtable" if big else b"listpack")
    assert raw.cmd("HRANDFIELD", "h") in fields
    for count in (1, 5, n // 3, n // 2, n - 1, n, n + 10):
        got = raw.cmd("HRANDFIELD", "h", count)
        assert len(got) == min(count, n)
        assert len(set(got)) == len(got)
        assert set(got) <= set(fields)
        pairs = raw.cmd("HRANDFIELD", "h", count, "WITHVALUES")
        assert len(pairs) == 2 * min(count, n)
        for f, v in zip(pairs[::2], pairs[1::2]):
            assert fields[f] == v
    got = raw.cmd("HRANDFIELD", "h", -(3 * n))
    assert len(got) == 3 * n and set(got) <= set(fields)
    assert len(set(got)) > 1
    pairs = raw.cmd("HRANDFIELD", "h", -7, "WITHVALUES")
    assert len(pairs) == 14
    for f, v in zip(pairs[::2], pairs[1::2]):
        assert fields[f] == v


def test_hrandfield_covers_every_field(raw):
    fields = [b"f%d" % i for i in range(10)]
    raw.cmd("HSET", "h", *[x for f in fields for x in (f, "v")])
    seen = set(raw.cmd("HRANDFIELD", "h", -500))
    assert seen == set(fields)


# ---- HSCAN ---------------------------------------------------------------------------------

def test_hscan_errors(raw):
    raw.cmd("HSET", "h", "a", "1")
    assert raw.cmd("HSCAN", "h", "x") == err("ERR invalid cursor")
    assert raw.cmd("HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd("HSCAN", "h", "0", "COUNT", "x") == NOT_INT
    assert raw.cmd("HSCAN", "h", "0", "COUNT") == SYNTAX
    assert raw.cmd("HSCAN", "h", "0", "TYPE", "string") == SYNTAX
    assert raw.cmd("HSCAN", "nokey", "0") == [b"0", []]
    assert raw.cmd("HSCAN", "nokey", "0", "BADOPT") == [b"0", []]  # Redis answers before parsing
    assert raw.cmd("HSCAN", "nokey", "x") == err("ERR invalid cursor")


def test_hscan_listpack_returns_everything_at_once(raw):
    raw.cmd("HSET", "h", "a", "1", "b", "2", "ab", "3")
    assert raw.cmd("HSCAN", "h", "0", "COUNT", "1") == [b"0", [b"a", b"1", b"b", b"2", b"ab", b"3"]]
    assert raw.cmd("HSCAN", "h", "12345") == [b"0", [b"a", b"1", b"b", b"2", b"ab", b"3"]]
    assert raw.cmd("HSCAN", "h", "0", "MATCH", "a*") == [b"0", [b"a", b"1", b"ab", b"3"]]


def full_hscan(raw, key, *opts):
    cursor, got, calls = b"0", [], 0
    while True:
        cursor, items = raw.cmd("HSCAN", key, cursor, *opts)
        got += items
        calls += 1
        if cursor == b"0":
            return got, calls


def test_hscan_hashtable_guarantees(raw):
    n = 1000
    raw.cmd("HSET", "h", *[x for i in range(n) for x in ("f%d" % i, "v%d" % i)])
    assert enc(raw, "h") == b"hashtable"
    got, calls = full_hscan(raw, "h")
    assert calls > 1
    pairs = dict(zip(got[::2], got[1::2]))
    assert pairs == {b"f%d" % i: b"v%d" % i for i in range(n)}
    got, _ = full_hscan(raw, "h", "MATCH", "f1*", "COUNT", "100")
    assert set(got[::2]) == {b"f%d" % i for i in range(n) if str(i).startswith("1")}


def test_hscan_elements_present_all_along_are_returned_despite_changes(raw):
    n = 600
    raw.cmd("HSET", "h", *[x for i in range(n) for x in ("k%d" % i, "v")])
    assert enc(raw, "h") == b"hashtable"
    cursor, seen, extra = b"0", set(), 0
    while True:
        cursor, items = raw.cmd("HSCAN", "h", cursor, "COUNT", "20")
        seen |= set(items[::2])
        # Grow the table while scanning (forces rehashing).
        for _ in range(30):
            raw.cmd("HSET", "h", "extra%d" % extra, "v")
            extra += 1
        if cursor == b"0":
            break
    assert {b"k%d" % i for i in range(n)} <= seen


# ---- RESP3 ----------------------------------------------------------------------------------

def resp3(make_raw):
    c = make_raw()
    c.cmd("HELLO", "3")
    return c


def first_line(c, *args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    c.send(out)
    line = c.read_line()
    c.buf = b""
    time.sleep(0.05)
    c.sock.settimeout(0.2)
    try:
        while c.sock.recv(65536):
            pass
    except OSError:
        pass
    c.sock.settimeout(10)
    c.buf = b""
    return line


def test_resp3_reply_types(raw, make_raw):
    raw.cmd("HSET", "h", "a", "1", "b", "2")
    c = resp3(make_raw)
    assert c.cmd("HGETALL", "h") == {b"a": b"1", b"b": b"2"}
    assert first_line(c, "HGETALL", "h") == b"%2"
    assert first_line(c, "HGETALL", "nokey") == b"%0"
    assert first_line(c, "HKEYS", "h") == b"*2"
    assert first_line(c, "HGET", "h", "nope") == b"_"
    assert first_line(c, "HRANDFIELD", "nokey") == b"_"
    pairs = c.cmd("HRANDFIELD", "h", "2", "WITHVALUES")
    assert sorted(pairs) == [[b"a", b"1"], [b"b", b"2"]]
    pairs = c.cmd("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert len(pairs) == 3 and all(p in ([b"a", b"1"], [b"b", b"2"]) for p in pairs)
    assert first_line(c, "HSCAN", "h", "0") == b"*2"


# ---- events, WATCH, keyspace ----------------------------------------------------------------

def psub(c):
    c.send(b"PSUBSCRIBE __keyevent@0__:*\r\n")
    assert c.read_reply()[0] == b"psubscribe"


def next_events(c, n):
    return [(m[2].split(b":", 1)[1], m[3]) for m in (c.read_reply() for _ in range(n))]


def test_keyspace_events(cfg, raw, make_raw):
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "Ehgn")
    sub = make_raw()
    psub(sub)
    raw.cmd("HSET", "h", "a", "1", "b", "2")
    raw.cmd("HSET", "h", "a", "1")
    raw.cmd("HSETNX", "h", "a", "1")  # no change, no event
    raw.cmd("HINCRBY", "h", "n", "1")
    raw.cmd("HINCRBYFLOAT", "h", "n", "1.5")
    raw.cmd("HDEL", "h", "nope")      # no change, no event
    raw.cmd("HDEL", "h", "a", "b")
    raw.cmd("HDEL", "h", "n")
    assert next_events(sub, 8) == [
        (b"new", b"h"), (b"hset", b"h"), (b"hset", b"h"), (b"hincrby", b"h"), (b"hincrbyfloat", b"h"),
        (b"hdel", b"h"), (b"hdel", b"h"), (b"del", b"h")]


def test_watch_sees_hash_changes(raw, make_raw):
    raw.cmd("HSET", "h", "a", "1")
    other = make_raw()
    assert raw.cmd("WATCH", "h") == b"OK"
    other.cmd("HDEL", "h", "nope")  # no change
    raw.cmd("MULTI")
    raw.cmd("HGET", "h", "a")
    assert raw.cmd("EXEC") == [b"1"]
    assert raw.cmd("WATCH", "h") == b"OK"
    other.cmd("HINCRBY", "h", "a", "1")
    raw.cmd("MULTI")
    raw.cmd("HGET", "h", "a")
    assert raw.cmd("EXEC") is None


def test_copy_and_memory_usage(cfg, raw):
    raw.cmd("HSET", "h", "a", "1", "b", "x" * 50)
    assert raw.cmd("COPY", "h", "h2") == 1
    raw.cmd("HSET", "h", "a", "changed")
    assert raw.cmd("HGETALL", "h2") == [b"a", b"1", b"b", b"x" * 50]
    raw.cmd("HSET", "big", *[x for i in range(600) for x in ("f%d" % i, "v" * 20)])
    assert raw.cmd("COPY", "big", "big2") == 1
    assert raw.cmd("HLEN", "big2") == 600
    assert enc(raw, "big2") == b"hashtable"
    small = raw.cmd("MEMORY", "USAGE", "h2")
    big = raw.cmd("MEMORY", "USAGE", "big2")
    assert 0 < small < 300
    assert 600 * 20 < big < 600 * 200


def test_hincrbyfloat_inside_multi(raw):
    raw.cmd("MULTI")
    raw.cmd("HINCRBYFLOAT", "h", "f", "0.1")
    raw.cmd("HINCRBYFLOAT", "h", "f", "0.2")
    assert raw.cmd("EXEC") == [b"0.1", b"0.3"]


def test_big_values(raw):
    v = b"z" * 200000
    raw.cmd("HSET", "h", "big", v)
    assert raw.cmd("HGET", "h", "big") == v
    assert raw.cmd("HSTRLEN", "h", "big") == len(v)
    raw.cmd("DEL", "h")


# ---- DEBUG DIGEST-VALUE against a real Redis ----------------------------------------------------

REDIS = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_port():
    if not REDIS:
        pytest.skip("no redis-server binary")
    port = free_port()
    d = __import__("tempfile").mkdtemp(prefix="stash-redis-")
    p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", d, "--enable-debug-command", "yes"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    import socket
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    os.kill(p.pid, 15)
    p.wait(timeout=10)
    shutil.rmtree(d, ignore_errors=True)


DIGEST_CASES = [
    [("a", "1")],
    [("a", "1"), ("b", "hello"), ("c", "-9223372036854775808"), ("", "")],
    [("f%d" % i, "v%d" % i) for i in range(200)],              # listpack
    [("f%d" % i, "v%d" % i) for i in range(600)],              # hashtable
    [("long", "x" * 100), ("n", "12345678901")],              # hashtable by value length
    [("12", "34"), ("-1", "01"), ("x" * 64, "y" * 64)],
]


@pytest.mark.parametrize("pairs", DIGEST_CASES)
def test_digest_value_matches_redis(raw, redis_port, pairs):
    rr = Raw(redis_port)
    try:
        rr.cmd("DEL", "h")
        flat = [x for kv in pairs for x in kv]
        rr.cmd("HSET", "h", *flat)
        raw.cmd("HSET", "h", *flat)
        assert raw.cmd("OBJECT", "ENCODING", "h") == rr.cmd("OBJECT", "ENCODING", "h")
        assert raw.cmd("DEBUG", "DIGEST-VALUE", "h") == rr.cmd("DEBUG", "DIGEST-VALUE", "h")
        # Order does not matter (fields inserted in reverse).
        raw.cmd("DEL", "h")
        rev = [x for kv in reversed(pairs) for x in kv]
        raw.cmd("HSET", "h", *rev)
        assert raw.cmd("DEBUG", "DIGEST-VALUE", "h") == rr.cmd("DEBUG", "DIGEST-VALUE", "h")
        rr.cmd("EXPIRE", "h", "100")
        raw.cmd("EXPIRE", "h", "100")
        assert raw.cmd("DEBUG", "DIGEST") != b"0" * 40
    finally:
        rr.close()
