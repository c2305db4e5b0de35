"""Sets: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE
SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN with
Redis 7.0's replies and errors; WRONGTYPE everywhere; intset -> hashtable
conversions (non-integer member, set-max-intset-entries, CONFIG SET);
OBJECT ENCODING; SSCAN guarantees; RESP3 set replies; keyspace events and
WATCH; STORE variants atomic across stripes; DEBUG DIGEST-VALUE equal to a
real redis-server's."""
import os
import shutil
import subprocess
import tempfile
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
def cfg(raw):
    yield raw
    raw.cmd("CONFIG", "SET", "set-max-intset-entries", "512")
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def err(msg):
    return RespError(msg)


WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT = err("ERR value is not an integer or out of range")
SYNTAX = err("ERR syntax error")


def enc(raw, key):
    return raw.cmd("OBJECT", "ENCODING", key)


def members(raw, key):
    return sorted(raw.cmd("SMEMBERS", key))


# ---- basics -----------------------------------------------------------------------------

def test_sadd_srem_scard(raw):
    assert raw.cmd("SADD", "s", "a", "b", "a") == 2
    assert raw.cmd("SADD", "s", "b", "c") == 1
    assert raw.cmd("SCARD", "s") == 3
    assert raw.cmd("SCARD", "nokey") == 0
    assert raw.cmd("TYPE", "s") == b"set"
    assert raw.cmd("SREM", "s", "a", "nope", "a") == 1
    assert raw.cmd("SREM", "nokey", "a") == 0
    assert members(raw, "s") == [b"b", b"c"]
    assert raw.cmd("SREM", "s", "b", "c") == 2
    assert raw.cmd("EXISTS", "s") == 0
    assert raw.cmd("SADD", "s") == err("ERR wrong number of arguments for 'sadd' command")


def test_sismember_smismember(raw):
    raw.cmd("SADD", "s", "1", "x", "")
    assert raw.cmd("SISMEMBER", "s", "1") == 1
    assert raw.cmd("SISMEMBER", "s", "01") == 0
    assert raw.cmd("SISMEMBER", "s", "") == 1
    assert raw.cmd("SISMEMBER", "nokey", "1") == 0
    assert raw.cmd("SMISMEMBER", "s", "1", "y", "x") == [1, 0, 1]
    assert raw.cmd("SMISMEMBER", "nokey", "1", "2") == [0, 0]
    assert raw.cmd("SMISMEMBER", "s") == err("ERR wrong number of arguments for 'smismember' command")


def test_smembers(raw):
    assert raw.cmd("SMEMBERS", "nokey") == []
    raw.cmd("SADD", "s", "3", "1", "2")
    assert raw.cmd("SMEMBERS", "s") == [b"1", b"2", b"3"]  # an intset is sorted


@pytest.mark.parametrize("args", [
    ["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"], ["SISMEMBER", "str", "a"],
    ["SMISMEMBER", "str", "a"], ["SCARD", "str"], ["SPOP", "str"], ["SPOP", "str", "2"],
    ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"],
    ["SINTER", "str"], ["SINTER", "s", "str"], ["SINTER", "nokey", "str"], ["SINTERSTORE", "d", "str"],
    ["SINTERCARD", "1", "str"], ["SUNION", "s", "str"], ["SUNIONSTORE", "d", "s", "str"], ["SDIFF", "str", "s"],
    ["SDIFF", "s", "str"], ["SDIFFSTORE", "d", "s", "str"], ["SSCAN", "str", "0"],
])
def test_wrongtype(raw, args):
    raw.cmd("SET", "str", "x")
    raw.cmd("SADD", "s", "a")
    assert raw.cmd(*args) == WRONGTYPE
    assert raw.cmd("GET", "str") == b"x"
    assert raw.cmd("SMEMBERS", "s") == [b"a"]
    assert raw.cmd("EXISTS", "d") == 0


# ---- encodings ---------------------------------------------------------------------------

def test_intset_until_a_string(raw):
    raw.cmd("SADD", "s", "1", "2", "-9223372036854775808", "9223372036854775807")
    assert enc(raw, "s") == b"intset"
    raw.cmd("SADD", "s", "9223372036854775808")  # too big: a string
    assert enc(raw, "s") == b"hashtable"
    raw.cmd("SADD", "t", "01")
    assert enc(raw, "t") == b"hashtable"
    raw.cmd("SADD", "u", "-0", "+1", " 1")
    assert enc(raw, "u") == b"hashtable"
    assert members(raw, "u") == [b" 1", b"+1", b"-0"]
    raw.cmd("SADD", "v", "x")
    assert enc(raw, "v") == b"hashtable"


def test_intset_until_max_entries(cfg, raw):
    raw.cmd("SADD", "s", *range(512))
    assert enc(raw, "s") == b"intset"
    raw.cmd("SADD", "s", "511")
    assert enc(raw, "s") == b"intset"
    raw.cmd("SADD", "s", "512")
    assert enc(raw, "s") == b"hashtable"
    assert raw.cmd("SCARD", "s") == 513
    assert raw.cmd("SISMEMBER", "s", "100") == 1
    raw.cmd("CONFIG", "SET", "set-max-intset-entries", "3")
    raw.cmd("SADD", "t", "1", "2", "3")
    assert enc(raw, "t") == b"intset"
    raw.cmd("SADD", "t", "4")
    assert enc(raw, "t") == b"hashtable"
    assert raw.cmd("CONFIG", "GET", "set-max-intset-entries") == [b"set-max-intset-entries", b"3"]


def test_hashtable_never_goes_back(raw):
    raw.cmd("SADD", "s", "1", "x")
    raw.cmd("SREM", "s", "x")
    assert enc(raw, "s") == b"hashtable"
    assert raw.cmd("SMEMBERS", "s") == [b"1"]


def test_store_results_get_redis_encodings(cfg, raw):
    raw.cmd("SADD", "a{t}", "1", "2", "3")
    raw.cmd("SADD", "b{t}", "3", "4", "x")
    raw.cmd("SREM", "b{t}", "x")  # a hashtable holding only integers
    assert enc(raw, "b{t}") == b"hashtable"
    assert raw.cmd("SUNIONSTORE", "d{t}", "a{t}", "b{t}") == 4
    assert enc(raw, "d{t}") == b"intset"
    assert raw.cmd("SINTERSTORE", "d{t}", "b{t}", "a{t}") == 1
    assert enc(raw, "d{t}") == b"intset"
    assert raw.cmd("SDIFFSTORE", "d{t}", "b{t}", "a{t}") == 1
    assert enc(raw, "d{t}") == b"intset"


# ---- SPOP SRANDMEMBER ------------------------------------------------------------------------

def test_spop_single(raw):
    assert raw.cmd("SPOP", "nokey") is None
    raw.cmd("SADD", "s", "a", "b", "c")
    got = {raw.cmd("SPOP", "s") for _ in range(3)}
    assert got == {b"a", b"b", b"c"}
    assert raw.cmd("EXISTS", "s") == 0
    assert raw.cmd("SPOP", "s", "1", "2") == SYNTAX


def test_spop_count_errors(raw):
    raw.cmd("SADD", "s", "a")
    assert raw.cmd("SPOP", "s", "-1") == err("ERR value is out of range, must be positive")
    assert raw.cmd("SPOP", "s", "x") == err("ERR value is out of range, must be positive")
    assert raw.cmd("SPOP", "nokey", "3") == []
    assert raw.cmd("SPOP", "s", "0") == []
    assert raw.cmd("SCARD", "s") == 1


@pytest.mark.parametrize("kind", ["intset", "hashtable"])
@pytest.mark.parametrize("count", [1, 3, 10, 40, 49, 50, 80])
def test_spop_count(raw, kind, count):
    base = [str(i) for i in range(50)] if kind == "intset" else ["m%d" % i for i in range(50)]
    raw.cmd("SADD", "s", *base)
    assert enc(raw, "s") == kind.encode()
    got = raw.cmd("SPOP", "s", count)
    assert len(got) == min(count, 50) and len(set(got)) == len(got)
    assert set(got) <= {b.encode() for b in base}
    left = set(raw.cmd("SMEMBERS", "s"))
    assert not (left & set(got))
    assert left | set(got) == {b.encode() for b in base}
    assert raw.cmd("EXISTS", "s") == (0 if count >= 50 else 1)


def test_srandmember(raw):
    assert raw.cmd("SRANDMEMBER", "nokey") is None
    assert raw.cmd("SRANDMEMBER", "nokey", "3") == []
    raw.cmd("SADD", "s", "a", "b", "c")
    assert raw.cmd("SRANDMEMBER", "s", "0") == []
    assert raw.cmd("SRANDMEMBER", "s", "x") == NOT_INT
    assert raw.cmd("SRANDMEMBER", "s", "1", "2") == SYNTAX
    assert raw.cmd("SRANDMEMBER", "s", "-9223372036854775808") == err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert raw.cmd("SRANDMEMBER", "s") in (b"a", b"b", b"c")
    assert raw.cmd("SCARD", "s") == 3


@pytest.mark.parametrize("n,kind", [(20, "intset"), (20, "hashtable"), (600, "hashtable"), (400, "intset")])
def test_srandmember_counts(raw, n, kind):
    base = {(str(i) if kind == "intset" else "m%d" % i).encode() for i in range(n)}
    raw.cmd("SADD", "s", *base)
    assert enc(raw, "s") == kind.encode()
    for count in (1, 2, n // 4, n // 3 + 1, n - 1, n, n + 5):
        got = raw.cmd("SRANDMEMBER", "s", count)
        assert len(got) == min(count, n) and len(set(got)) == len(got) and set(got) <= base
    got = raw.cmd("SRANDMEMBER", "s", -3 * n)
    assert len(got) == 3 * n and set(got) <= base
    assert len(set(got)) > n // 3


def test_srandmember_distribution_is_fair(raw):
    raw.cmd("SADD", "s", *["m%d" % i for i in range(10)])
    got = raw.cmd("SRANDMEMBER", "s", -10000)
    counts = {m: got.count(m) for m in set(got)}
    assert len(counts) == 10
    assert all(700 < c < 1300 for c in counts.values()), counts


# ---- SMOVE ------------------------------------------------------------------------------------

def test_smove(raw):
    raw.cmd("SADD", "a{t}", "1", "x")
    raw.cmd("SADD", "b{t}", "2")
    assert raw.cmd("SMOVE", "a{t}", "b{t}", "x") == 1
    assert members(raw, "b{t}") == [b"2", b"x"]
    assert enc(raw, "b{t}") == b"hashtable"
    assert raw.cmd("SMOVE", "a{t}", "b{t}", "nope") == 0
    assert raw.cmd("SMOVE", "nokey{t}", "b{t}", "x") == 0
    assert raw.cmd("SMOVE", "a{t}", "a{t}", "1") == 1
    assert raw.cmd("SMOVE", "a{t}", "a{t}", "9") == 0
    assert raw.cmd("SMOVE", "a{t}", "new{t}", "1") == 1
    assert raw.cmd("EXISTS", "a{t}") == 0
    assert members(raw, "new{t}") == [b"1"]
    assert enc(raw, "new{t}") == b"intset"
    raw.cmd("SADD", "c{t}", "2")
    assert raw.cmd("SMOVE", "c{t}", "b{t}", "2") == 1  # already there: only removed from c
    assert members(raw, "b{t}") == [b"2", b"x"]
    assert raw.cmd("EXISTS", "c{t}") == 0


def test_smove_across_stripes(raw):
    # Keys in different slots (and stripes): still one atomic command.
    raw.cmd("SADD", "src", "m")
    assert raw.cmd("SMOVE", "src", "dst", "m") == 1
    assert raw.cmd("SMEMBERS", "dst") == [b"m"]
    assert raw.cmd("EXISTS", "src") == 0


# ---- SINTER SUNION SDIFF and STORE ---------------------------------------------------------------

@pytest.fixture
def three(raw):
    raw.cmd("SADD", "a", "1", "2", "3", "4", "x", "y")
    raw.cmd("SADD", "b", "3", "4", "5", "y", "z")
    raw.cmd("SADD", "c", "4", "y", "q")
    raw.cmd("SADD", "i", "4", "5", "6")
    return raw


def test_sinter(three):
    raw = three
    assert sorted(raw.cmd("SINTER", "a", "b", "c")) == [b"4", b"y"]
    assert sorted(raw.cmd("SINTER", "a", "b")) == [b"3", b"4", b"y"]
    assert sorted(raw.cmd("SINTER", "a", "a")) == members(raw, "a")
    assert sorted(raw.cmd("SINTER", "i", "b")) == [b"4", b"5"]
    assert raw.cmd("SINTER", "a", "nokey", "b") == []
    assert raw.cmd("SINTER", "nokey") == []


def test_sunion(three):
    raw = three
    assert sorted(raw.cmd("SUNION", "a", "b", "c")) == sorted(
        {b"1", b"2", b"3", b"4", b"5", b"x", b"y", b"z", b"q"})
    assert sorted(raw.cmd("SUNION", "a", "nokey")) == members(raw, "a")
    assert sorted(raw.cmd("SUNION", "a", "a", "i")) == sorted({b"1", b"2", b"3", b"4", b"5", b"6", b"x", b"y"})
    assert raw.cmd("SUNION", "nokey", "nokey2") == []
    # Many sources: a temporary set.
    for j in range(12):
        raw.cmd("SADD", "u%d" % j, "m%d" % j, "shared")
    got = raw.cmd("SUNION", *["u%d" % j for j in range(12)])
    assert sorted(got) == sorted([b"m%d" % j for j in range(12)] + [b"shared"])


def test_sdiff(three):
    raw = three
    assert sorted(raw.cmd("SDIFF", "a", "b")) == [b"1", b"2", b"x"]
    assert sorted(raw.cmd("SDIFF", "a", "b", "c")) == [b"1", b"2", b"x"]
    assert raw.cmd("SDIFF", "a", "a") == []
    assert raw.cmd("SDIFF", "a", "b", "a") == []
    assert sorted(raw.cmd("SDIFF", "a", "nokey")) == members(raw, "a")
    assert raw.cmd("SDIFF", "nokey", "a") == []


def test_store_variants(three):
    raw = three
    raw.cmd("SET", "d", "string")  # replaced whatever its type
    raw.cmd("EXPIRE", "d", "100")
    assert raw.cmd("SINTERSTORE", "d", "a", "b") == 3
    assert members(raw, "d") == [b"3", b"4", b"y"]
    assert raw.cmd("TTL", "d") == -1
    assert raw.cmd("SUNIONSTORE", "d", "c", "i") == 5
    assert members(raw, "d") == [b"4", b"5", b"6", b"q", b"y"]
    assert raw.cmd("SDIFFSTORE", "d", "a", "b") == 3
    assert members(raw, "d") == [b"1", b"2", b"x"]
    # Empty results delete the destination.
    assert raw.cmd("SINTERSTORE", "d", "a", "nokey") == 0
    assert raw.cmd("EXISTS", "d") == 0
    raw.cmd("SADD", "d", "z")
    assert raw.cmd("SDIFFSTORE", "d", "a", "a") == 0
    assert raw.cmd("EXISTS", "d") == 0
    raw.cmd("SADD", "d", "z")
    assert raw.cmd("SUNIONSTORE", "d", "nokey") == 0
    assert raw.cmd("EXISTS", "d") == 0
    # The destination among the sources.
    assert raw.cmd("SUNIONSTORE", "a", "a", "b") == 8
    assert raw.cmd("SINTERSTORE", "b", "b", "c") == 2
    assert members(raw, "b") == [b"4", b"y"]
    assert raw.cmd("SDIFFSTORE", "c", "c", "b") == 1
    assert members(raw, "c") == [b"q"]


def test_sintercard(three):
    raw = three
    assert raw.cmd("SINTERCARD", "2", "a", "b") == 3
    assert raw.cmd("SINTERCARD", "3", "a", "b", "c") == 2
    assert raw.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert raw.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "0") == 3
    assert raw.cmd("SINTERCARD", "2", "a", "nokey") == 0
    assert raw.cmd("SINTERCARD", "1", "a", "limit", "100") == 6
    assert raw.cmd("SINTERCARD", "0", "a") == err("ERR numkeys should be greater than 0")
    assert raw.cmd("SINTERCARD", "x", "a") == err("ERR numkeys should be greater than 0")
    assert raw.cmd("SINTERCARD", "3", "a", "b") == err("ERR Number of keys can't be greater than number of args")
    assert raw.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "-1") == err("ERR LIMIT can't be negative")
    assert raw.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "x") == err("ERR LIMIT can't be negative")
    assert raw.cmd("SINTERCARD", "2", "a", "b", "LIMIT") == SYNTAX
    assert raw.cmd("SINTERCARD", "2", "a", "b", "FOO", "1") == SYNTAX


def test_store_is_atomic_under_concurrent_writers(raw, make_raw):
    """SUNIONSTORE across stripes never sees half of another client's
    SMOVE between its sources."""
    raw.cmd("SADD", "x", *["m%d" % i for i in range(100)])
    mover = make_raw()
    for i in range(100):
        mover.send(b"*4\r\n$5\r\nSMOVE\r\n$1\r\nx\r\n$1\r\ny\r\n$%d\r\nm%d\r\n" % (len(str(i)) + 1, i))
        assert raw.cmd("SUNIONSTORE", "u", "x", "y") == 100
    for _ in range(100):
        assert mover.read_reply() == 1


# ---- SSCAN --------------------------------------------------------------------------------------

def test_sscan_errors_and_small(raw):
    raw.cmd("SADD", "s", "3", "1", "2")
    assert raw.cmd("SSCAN", "s", "0", "COUNT", "1") == [b"0", [b"1", b"2", b"3"]]
    assert raw.cmd("SSCAN", "s", "0", "MATCH", "1*") == [b"0", [b"1"]]
    assert raw.cmd("SSCAN", "s", "x") == err("ERR invalid cursor")
    assert raw.cmd("SSCAN", "s", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd("SSCAN", "s", "0", "MATCH") == SYNTAX
    assert raw.cmd("SSCAN", "nokey", "0") == [b"0", []]


def test_sscan_hashtable_full_iteration(raw):
    n = 2000
    raw.cmd("SADD", "s", *["m%d" % i for i in range(n)])
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, items = raw.cmd("SSCAN", "s", cursor, "COUNT", "50")
        seen += items
        calls += 1
        if cursor == b"0":
            break
    assert calls > 10
    assert set(seen) == {b"m%d" % i for i in range(n)}
    cursor, seen = b"0", []
    while True:
        cursor, items = raw.cmd("SSCAN", "s", cursor, "MATCH", "m1?")
        seen += items
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(b"m1%d" % i for i in range(10))


def test_sscan_survives_shrinking(raw):
    n = 1000
    raw.cmd("SADD", "s", *["k%d" % i for i in range(n)])
    keep = {b"k%d" % i for i in range(0, n, 10)}
    cursor, seen, removing = b"0", set(), iter(range(n))
    while True:
        cursor, items = raw.cmd("SSCAN", "s", cursor, "COUNT", "25")
        seen |= set(items)
        batch = []
        for i in removing:
            if i % 10:
                batch.append("k%d" % i)
            if len(batch) == 40:
                break
        if batch:
            raw.cmd("SREM", "s", *batch)
        if cursor == b"0":
            break
    assert keep <= seen


# ---- RESP3, events, WATCH ------------------------------------------------------------------------

def first_line(c, *args):
    c.send(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
    line = c.read_line()
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
    raw.cmd("SADD", "a{t}", "1", "2")
    raw.cmd("SADD", "b{t}", "2", "3")
    c = make_raw()
    c.cmd("HELLO", "3")
    for args, want in [(("SMEMBERS", "a{t}"), b"~2"), (("SMEMBERS", "nokey"), b"~0"),
                       (("SINTER", "a{t}", "b{t}"), b"~1"), (("SINTER", "a{t}", "nokey{t}"), b"~0"),
                       (("SUNION", "a{t}", "b{t}"), b"~3"), (("SDIFF", "a{t}", "b{t}"), b"~1"),
                       (("SRANDMEMBER", "a{t}", "5"), b"*2"), (("SRANDMEMBER", "a{t}", "-5"), b"*5"),
                       (("SRANDMEMBER", "nokey", "5"), b"*0"), (("SRANDMEMBER", "nokey"), b"_"),
                       (("SPOP", "nokey"), b"_"), (("SPOP", "nokey", "2"), b"~0"),
                       (("SMISMEMBER", "a{t}", "1"), b"*1"), (("SSCAN", "a{t}", "0"), b"*2")]:
        assert first_line(c, *args) == want, args
    assert first_line(c, "SPOP", "b{t}", "1") == b"~1"
    assert first_line(c, "SPOP", "a{t}", "5") == b"~2"


def psub(c):
    c.send(b"PSUBSCRIBE __keyevent@0__:*\r\n")
    assert c.read_reply()[0] == b"psubscribe"


def next_events(c, n):
    return [(m[2].split(b":", 1)[1], m[3]) for m in (c.read_reply() for _ in range(n))]


def no_more(c, wait=0.2):
    c.sock.settimeout(wait)
    try:
        c.buf += c.sock.recv(65536)
    except OSError:
        pass
    c.sock.settimeout(10)
    return c.buf == b""


def test_keyspace_events(cfg, raw, make_raw):
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "Esgn")
    sub = make_raw()
    psub(sub)
    raw.cmd("SADD", "s{t}", "a", "b", "c")
    raw.cmd("SADD", "s{t}", "a")            # nothing added: no event
    raw.cmd("SREM", "s{t}", "nope")         # nothing removed: no event
    raw.cmd("SREM", "s{t}", "a")
    raw.cmd("SMOVE", "s{t}", "d{t}", "b")
    raw.cmd("SPOP", "s{t}")                 # the last one
    assert next_events(sub, 8) == [
        (b"new", b"s{t}"), (b"sadd", b"s{t}"), (b"srem", b"s{t}"), (b"srem", b"s{t}"), (b"new", b"d{t}"),
        (b"sadd", b"d{t}"), (b"spop", b"s{t}"), (b"del", b"s{t}")]
    assert no_more(sub)


def test_store_events(cfg, raw, make_raw):
    raw.cmd("SADD", "a{t}", "1", "2")
    raw.cmd("SADD", "b{t}", "2", "3")
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "Esgn")
    sub = make_raw()
    psub(sub)
    raw.cmd("SINTERSTORE", "d{t}", "a{t}", "b{t}")
    raw.cmd("SUNIONSTORE", "d{t}", "a{t}", "b{t}")
    raw.cmd("SDIFFSTORE", "d{t}", "a{t}", "b{t}")
    raw.cmd("SINTERSTORE", "d{t}", "a{t}", "nokey{t}")
    raw.cmd("SINTERSTORE", "d{t}", "a{t}", "nokey{t}")  # nothing to delete: no event
    raw.cmd("SPOP", "a{t}", "5")
    assert next_events(sub, 7) == [
        (b"new", b"d{t}"), (b"sinterstore", b"d{t}"), (b"sunionstore", b"d{t}"), (b"sdiffstore", b"d{t}"),
        (b"del", b"d{t}"), (b"spop", b"a{t}"), (b"del", b"a{t}")]
    assert no_more(sub)


def test_watch(raw, make_raw):
    raw.cmd("SADD", "s", "a")
    other = make_raw()
    raw.cmd("WATCH", "s")
    other.cmd("SADD", "s", "a")   # no change
    other.cmd("SREM", "s", "zz")  # no change
    raw.cmd("MULTI")
    raw.cmd("SCARD", "s")
    assert raw.cmd("EXEC") == [1]
    raw.cmd("WATCH", "s")
    other.cmd("SPOP", "s")
    raw.cmd("MULTI")
    raw.cmd("SCARD", "s")
    assert raw.cmd("EXEC") is None
    raw.cmd("SADD", "d", "1")
    raw.cmd("WATCH", "d")
    other.cmd("SINTERSTORE", "d", "nokey")  # deletes d
    raw.cmd("MULTI")
    raw.cmd("PING")
    assert raw.cmd("EXEC") is None


def test_copy_and_memory_usage(raw):
    raw.cmd("SADD", "s", *range(100))
    assert raw.cmd("COPY", "s", "s2") == 1
    raw.cmd("SADD", "s", "x")
    assert enc(raw, "s2") == b"intset"
    assert raw.cmd("SCARD", "s2") == 100
    assert 200 <= raw.cmd("MEMORY", "USAGE", "s2") < 1000
    raw.cmd("SADD", "h", *["m%d" % i for i in range(1000)])
    assert raw.cmd("COPY", "h", "h2") == 1
    assert raw.cmd("SCARD", "h2") == 1000
    assert 1000 * 10 < raw.cmd("MEMORY", "USAGE", "h2") < 1000 * 100


# ---- DEBUG DIGEST-VALUE against a real Redis -----------------------------------------------------

REDIS = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_port():
    if not REDIS:
        pytest.skip("no redis-server binary")
    import socket
    port = free_port()
    d = tempfile.mkdtemp(prefix="stash-redis-")
    p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", d, "--enable-debug-command", "yes"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
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


@pytest.mark.parametrize("elems", [
    ["1"], ["1", "2", "-3", "9223372036854775807"], [str(i) for i in range(600)], ["a", "b", ""],
    ["x%d" % i for i in range(300)] + ["1", "2"],
])
def test_digest_value_matches_redis(raw, redis_port, elems):
    rr = Raw(redis_port)
    try:
        rr.cmd("DEL", "s")
        rr.cmd("SADD", "s", *elems)
        raw.cmd("SADD", "s", *reversed(elems))
        assert raw.cmd("OBJECT", "ENCODING", "s") == rr.cmd("OBJECT", "ENCODING", "s")
        assert raw.cmd("DEBUG", "DIGEST-VALUE", "s") == rr.cmd("DEBUG", "DIGEST-VALUE", "s")
    finally:
        rr.close()
