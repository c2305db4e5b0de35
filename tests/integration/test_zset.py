"""SORTED SET family: exact replies and errors, encodings and conversions,
RESP3 doubles, keyspace events, WATCH, blocking pops across workers, and
replies / DEBUG DIGEST-VALUE compared with a real redis-server 7.0.15 for
the same commands (skipped when /usr/bin/redis-server is absent)."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Raw, RespError, Server, free_port


def E(msg):
    return RespError(msg)


def arity(name):
    return E("ERR wrong number of arguments for '%s' command" % name)


SYNTAX = E("ERR syntax error")
NOT_INT = E("ERR value is not an integer or out of range")
NOT_FLOAT = E("ERR value is not a valid float")
WRONGTYPE = E("WRONGTYPE Operation against a key holding the wrong kind of value")
RANGE_FLOAT = E("ERR min or max is not a float")
RANGE_LEX = E("ERR min or max not valid string range item")
NAN = E("ERR resulting score is not a number (NaN)")


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes", threads=2)
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture(autouse=True)
def flushed(server):
    c = Raw(server.port)
    c.cmd("FLUSHALL")
    c.cmd("CONFIG", "SET", "zset-max-listpack-entries", "128")
    c.cmd("CONFIG", "SET", "zset-max-listpack-value", "64")
    c.close()


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def ref():
    """A real redis-server 7.0 on a free loopback port, for comparisons."""
    if not os.path.exists(REDIS):
        pytest.skip("no redis-server")
    port = free_port()
    d = tempfile.mkdtemp(prefix="stash-ref-")
    p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--enable-debug-command", "yes", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    yield port
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def zr(raw, key):
    return raw.cmd("ZRANGE", key, "0", "-1", "WITHSCORES")


def enc(raw, key):
    return raw.cmd("OBJECT", "ENCODING", key)


# ---- ZADD / ZINCRBY ------------------------------------------------------------------------------


def test_zadd_basics_and_reply(raw):
    assert raw.cmd("ZADD", "z", "10", "a", "20", "b", "30", "c") == 3
    assert zr(raw, "z") == [b"a", b"10", b"b", b"20", b"c", b"30"]
    assert raw.cmd("ZADD", "z", "5", "x", "20", "b", "31", "c") == 1
    assert zr(raw, "z") == [b"x", b"5", b"a", b"10", b"b", b"20", b"c", b"31"]
    assert raw.cmd("ZADD", "z", "CH", "5", "x", "1", "b", "2", "new") == 2
    assert raw.cmd("ZADD", "z") == arity("zadd")
    assert raw.cmd("ZADD", "z", "1") == arity("zadd")
    assert raw.cmd("ZADD", "z", "1", "a", "2") == SYNTAX
    assert raw.cmd("ZADD", "z", "NX") == arity("zadd")
    assert raw.cmd("ZADD", "z", "NX", "1") == SYNTAX


def test_zadd_options(raw):
    assert raw.cmd("ZADD", "z", "XX", "1", "a") == 0
    assert raw.cmd("EXISTS", "z") == 0  # XX on a missing key creates nothing
    assert raw.cmd("ZADD", "z", "NX", "1", "a") == 1
    assert raw.cmd("ZADD", "z", "NX", "5", "a", "2", "b") == 1
    assert raw.cmd("ZSCORE", "z", "a") == b"1"
    assert raw.cmd("ZADD", "z", "XX", "CH", "7", "a", "3", "c") == 1
    assert raw.cmd("ZSCORE", "z", "c") is None
    assert raw.cmd("ZADD", "z", "GT", "CH", "6", "a", "8", "b") == 1
    assert raw.cmd("ZSCORE", "z", "a") == b"7"
    assert raw.cmd("ZSCORE", "z", "b") == b"8"
    assert raw.cmd("ZADD", "z", "LT", "CH", "9", "a", "1", "b") == 1
    assert raw.cmd("ZSCORE", "z", "b") == b"1"
    assert raw.cmd("ZADD", "z", "GT", "10", "new") == 1  # GT/LT still add new members
    assert raw.cmd("ZADD", "z", "INCR", "5", "a") == b"12"
    assert raw.cmd("ZADD", "z", "INCR", "NX", "5", "a") is None
    assert raw.cmd("ZADD", "z", "INCR", "XX", "5", "nope") is None
    assert raw.cmd("ZADD", "z", "INCR", "LT", "5", "a") is None
    assert raw.cmd("ZADD", "z", "INCR", "GT", "-5", "a") is None
    assert raw.cmd("ZADD", "z", "INCR", "GT", "1", "a") == b"13"


def test_zadd_errors(raw):
    assert raw.cmd("ZADD", "z", "NX", "XX", "1", "a") == E("ERR XX and NX options at the same time are not compatible")
    for opts in (["GT", "LT"], ["GT", "NX"], ["LT", "NX"]):
        assert raw.cmd("ZADD", "z", *opts, "1", "a") == \
            E("ERR GT, LT, and/or NX options at the same time are not compatible")
    assert raw.cmd("ZADD", "z", "INCR", "1", "a", "2", "b") == \
        E("ERR INCR option supports a single increment-element pair")
    for bad in ("abc", "nan", "1e400", "", " 1", "1 "):
        assert raw.cmd("ZADD", "z", "1", "a", bad, "b") == NOT_FLOAT, bad
    assert raw.cmd("EXISTS", "z") == 0  # nothing added on a parse error
    assert raw.cmd("ZADD", "z", "inf", "a") == 1
    assert raw.cmd("ZADD", "z", "INCR", "-inf", "a") == NAN
    assert raw.cmd("ZINCRBY", "z", "-inf", "a") == NAN
    assert raw.cmd("ZSCORE", "z", "a") == b"inf"
    raw.cmd("SET", "s", "x")
    assert raw.cmd("ZADD", "s", "1", "a") == WRONGTYPE


def test_zincrby(raw):
    assert raw.cmd("ZINCRBY", "z", "1", "foo") == b"1"
    assert raw.cmd("ZINCRBY", "z", "-5", "foo") == b"-4"
    assert raw.cmd("ZINCRBY", "z", "0.5", "foo") == b"-3.5"
    assert raw.cmd("ZINCRBY", "z", "abc", "foo") == NOT_FLOAT
    assert raw.cmd("ZINCRBY", "z", "1") == arity("zincrby")
    # ZINCRBY shares ZADD's parser: an option word in the increment's place
    assert raw.cmd("ZINCRBY", "z", "nx", "foo") == SYNTAX


def test_score_formatting(raw):
    raw.cmd("ZADD", "z", "1.5", "a", "0.1", "b", "1e20", "c", "-0", "d", "3.0", "e", "-inf", "f", "+inf", "g")
    assert zr(raw, "z") == [b"f", b"-inf", b"d", b"0", b"b", b"0.10000000000000001", b"a", b"1.5", b"e", b"3",
                            b"c", b"1e+20", b"g", b"inf"]
    assert raw.cmd("ZSCORE", "z", "b") == b"0.10000000000000001"
    assert raw.cmd("ZINCRBY", "z", "0", "x") == b"0"
    assert raw.cmd("ZADD", "z", "0x10", "hex") == 1  # strtod accepts hex, as Redis
    assert raw.cmd("ZSCORE", "z", "hex") == b"16"


# ---- ZREM ZCARD ZSCORE ZMSCORE ZRANK ---------------------------------------------------------------


def test_zrem_and_key_deletion(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("ZREM", "z", "a", "x", "b") == 2
    assert raw.cmd("ZCARD", "z") == 1
    assert raw.cmd("ZREM", "z", "c", "c") == 1
    assert raw.cmd("EXISTS", "z") == 0
    assert raw.cmd("ZREM", "z", "a") == 0
    assert raw.cmd("ZREM", "z") == arity("zrem")


def test_zcard_zscore_zmscore_zrank(raw):
    assert raw.cmd("ZCARD", "z") == 0
    assert raw.cmd("ZSCORE", "z", "a") is None
    assert raw.cmd("ZMSCORE", "z", "a", "b") == [None, None]
    assert raw.cmd("ZRANK", "z", "a") is None
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("ZCARD", "z") == 3
    assert raw.cmd("ZMSCORE", "z", "a", "x", "c") == [b"1", None, b"3"]
    assert raw.cmd("ZRANK", "z", "a") == 0
    assert raw.cmd("ZRANK", "z", "c") == 2
    assert raw.cmd("ZREVRANK", "z", "a") == 2
    assert raw.cmd("ZREVRANK", "z", "x") is None
    assert raw.cmd("ZMSCORE", "z") == arity("zmscore")
    raw.cmd("SET", "s", "x")
    for cmd in (["ZCARD", "s"], ["ZSCORE", "s", "a"], ["ZMSCORE", "s", "a"], ["ZRANK", "s", "a"],
                ["ZREVRANK", "s", "a"], ["ZREM", "s", "a"], ["ZINCRBY", "s", "1", "a"]):
        assert raw.cmd(*cmd) == WRONGTYPE, cmd


# ---- ranges -----------------------------------------------------------------------------------------


@pytest.fixture(params=["listpack", "skiplist"])
def encoding(request, raw):
    if request.param == "skiplist":
        raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0")
    return request.param


def test_zrange_by_rank(raw, encoding):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert enc(raw, "z") == encoding.encode()
    assert raw.cmd("ZRANGE", "z", "0", "-1") == [b"a", b"b", b"c", b"d"]
    assert raw.cmd("ZRANGE", "z", "1", "2", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert raw.cmd("ZRANGE", "z", "-2", "-1") == [b"c", b"d"]
    assert raw.cmd("ZRANGE", "z", "5", "10") == []
    assert raw.cmd("ZRANGE", "z", "2", "1") == []
    assert raw.cmd("ZRANGE", "z", "-100", "100") == [b"a", b"b", b"c", b"d"]
    assert raw.cmd("ZRANGE", "z", "0", "1", "REV") == [b"d", b"c"]
    assert raw.cmd("ZREVRANGE", "z", "0", "-1", "WITHSCORES") == [b"d", b"4", b"c", b"3", b"b", b"2", b"a", b"1"]
    assert raw.cmd("ZRANGE", "z", "0", "1", "LIMIT", "0", "1") == \
        E("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    assert raw.cmd("ZRANGE", "z", "a", "1") == NOT_INT
    assert raw.cmd("ZRANGE", "z", "0", "1", "FOO") == SYNTAX
    assert raw.cmd("ZRANGE", "nokey", "0", "-1") == []


def test_zrange_by_score(raw, encoding):
    raw.cmd("ZADD", "z", "-inf", "ninf", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "inf", "pinf")
    assert raw.cmd("ZRANGEBYSCORE", "z", "2", "4") == [b"b", b"c", b"d"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "(2", "(4") == [b"c"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "-inf", "+inf") == [b"ninf", b"a", b"b", b"c", b"d", b"e", b"pinf"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "(-inf", "(inf") == [b"a", b"b", b"c", b"d", b"e"]
    assert raw.cmd("ZREVRANGEBYSCORE", "z", "4", "2", "WITHSCORES") == [b"d", b"4", b"c", b"3", b"b", b"2"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "1", "2") == [b"b", b"c"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "1", "-1") == [b"b", b"c", b"d", b"e"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "-1", "2") == []
    assert raw.cmd("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "10", "2") == []
    assert raw.cmd("ZRANGE", "z", "(4", "2", "BYSCORE", "REV", "LIMIT", "0", "2") == [b"c", b"b"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "5", "2") == []
    assert raw.cmd("ZRANGEBYSCORE", "z", "(3", "3") == []
    for bad in (["a", "1"], ["1", "b"], ["(", "x"], ["nan", "1"], ["((1", "2"]):
        assert raw.cmd("ZRANGEBYSCORE", "z", *bad) == RANGE_FLOAT, bad
    assert raw.cmd("ZCOUNT", "z", "2", "4") == 3
    assert raw.cmd("ZCOUNT", "z", "(2", "+inf") == 4
    assert raw.cmd("ZCOUNT", "z", "x", "1") == RANGE_FLOAT
    assert raw.cmd("ZCOUNT", "nokey", "0", "1") == 0


def test_zrange_by_lex(raw, encoding):
    raw.cmd("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ee", "0", "f")
    assert raw.cmd("ZRANGEBYLEX", "z", "-", "+") == [b"a", b"b", b"c", b"d", b"e", b"ee", b"f"]
    assert raw.cmd("ZRANGEBYLEX", "z", "[b", "(e") == [b"b", b"c", b"d"]
    assert raw.cmd("ZRANGEBYLEX", "z", "(b", "[e") == [b"c", b"d", b"e"]
    assert raw.cmd("ZREVRANGEBYLEX", "z", "[e", "(b") == [b"e", b"d", b"c"]
    assert raw.cmd("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "2", "3") == [b"c", b"d", b"e"]
    assert raw.cmd("ZRANGE", "z", "+", "(d", "BYLEX", "REV", "LIMIT", "1", "2") == [b"ee", b"e"]
    assert raw.cmd("ZRANGEBYLEX", "z", "+", "-") == []
    assert raw.cmd("ZRANGEBYLEX", "z", "-", "-") == []
    for bad in (["a", "+"], ["[a", "b"], ["--", "+"], ["", "+"]):
        assert raw.cmd("ZRANGEBYLEX", "z", *bad) == RANGE_LEX, bad
    assert raw.cmd("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES") == \
        E("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    assert raw.cmd("ZLEXCOUNT", "z", "[b", "[ee") == 5
    assert raw.cmd("ZLEXCOUNT", "z", "(a", "+") == 6
    assert raw.cmd("ZLEXCOUNT", "z", "a", "+") == RANGE_LEX


def test_zrangestore(raw, encoding):
    raw.cmd("ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d")
    assert raw.cmd("ZRANGESTORE", "dst", "src", "1", "2") == 2
    assert zr(raw, "dst") == [b"b", b"2", b"c", b"3"]
    assert raw.cmd("ZRANGESTORE", "dst", "src", "(1", "3", "BYSCORE", "LIMIT", "0", "1") == 1
    assert zr(raw, "dst") == [b"b", b"2"]
    assert raw.cmd("ZRANGESTORE", "dst", "src", "[c", "-", "BYLEX", "REV") == 3
    assert raw.cmd("ZRANGESTORE", "dst", "src", "(a", "(a", "BYLEX") == 0
    assert raw.cmd("EXISTS", "dst") == 0  # an empty result deletes the destination
    assert raw.cmd("ZRANGESTORE", "dst", "nokey", "0", "-1") == 0
    assert raw.cmd("ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES") == SYNTAX
    raw.cmd("SET", "s", "x")
    assert raw.cmd("ZRANGESTORE", "dst", "s", "0", "-1") == WRONGTYPE
    # The destination may be the source; any value it held is replaced.
    assert raw.cmd("ZRANGESTORE", "s", "src", "0", "0") == 1
    assert zr(raw, "s") == [b"a", b"1"]
    assert raw.cmd("ZRANGESTORE", "src", "src", "-1", "-1") == 1
    assert zr(raw, "src") == [b"d", b"4"]


def test_zremrange(raw, encoding):
    def fresh():
        raw.cmd("DEL", "z")
        raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    fresh()
    assert raw.cmd("ZREMRANGEBYRANK", "z", "1", "2") == 2
    assert raw.cmd("ZRANGE", "z", "0", "-1") == [b"a", b"d", b"e"]
    assert raw.cmd("ZREMRANGEBYRANK", "z", "5", "10") == 0
    assert raw.cmd("ZREMRANGEBYRANK", "z", "0", "-1") == 3
    assert raw.cmd("EXISTS", "z") == 0
    fresh()
    assert raw.cmd("ZREMRANGEBYSCORE", "z", "(1", "4") == 3
    assert raw.cmd("ZRANGE", "z", "0", "-1") == [b"a", b"e"]
    assert raw.cmd("ZREMRANGEBYSCORE", "z", "x", "1") == RANGE_FLOAT
    raw.cmd("DEL", "z")
    raw.cmd("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d")
    assert raw.cmd("ZREMRANGEBYLEX", "z", "(a", "[c") == 2
    assert raw.cmd("ZRANGE", "z", "0", "-1") == [b"a", b"d"]
    assert raw.cmd("ZREMRANGEBYLEX", "z", "a", "c") == RANGE_LEX
    assert raw.cmd("ZREMRANGEBYRANK", "z", "x", "1") == NOT_INT
    assert raw.cmd("ZREMRANGEBYRANK", "nokey", "0", "1") == 0


# ---- pops ----------------------------------------------------------------------------------------------


def test_zpop(raw, encoding):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert raw.cmd("ZPOPMIN", "z") == [b"a", b"1"]
    assert raw.cmd("ZPOPMAX", "z", "2") == [b"d", b"4", b"c", b"3"]
    assert raw.cmd("ZPOPMIN", "z", "0") == []
    assert raw.cmd("ZPOPMIN", "z", "10") == [b"b", b"2"]
    assert raw.cmd("EXISTS", "z") == 0
    assert raw.cmd("ZPOPMIN", "z") == []
    assert raw.cmd("ZPOPMIN", "z", "-1") == E("ERR value is out of range, must be positive")
    assert raw.cmd("ZPOPMIN", "z", "x") == E("ERR value is out of range, must be positive")
    assert raw.cmd("ZPOPMIN", "z", "1", "2") == SYNTAX


def test_zmpop(raw):
    raw.cmd("ZADD", "z2", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("ZMPOP", "2", "z1", "z2", "MIN") == [b"z2", [[b"a", b"1"]]]
    assert raw.cmd("ZMPOP", "2", "z1", "z2", "MAX", "COUNT", "5") == [b"z2", [[b"c", b"3"], [b"b", b"2"]]]
    assert raw.cmd("ZMPOP", "1", "z2", "MIN") is None
    assert raw.cmd("ZMPOP", "0", "z", "MIN") == E("ERR numkeys should be greater than 0")
    assert raw.cmd("ZMPOP", "x", "z", "MIN") == E("ERR numkeys should be greater than 0")
    assert raw.cmd("ZMPOP", "1", "z", "MID") == SYNTAX
    assert raw.cmd("ZMPOP", "2", "z", "MIN") == SYNTAX
    assert raw.cmd("ZMPOP", "1", "z", "MIN", "COUNT", "0") == E("ERR count should be greater than 0")
    assert raw.cmd("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1") == SYNTAX
    raw.cmd("SET", "s", "x")
    assert raw.cmd("ZMPOP", "2", "nokey", "s", "MIN") == WRONGTYPE


# ---- RESP3 ----------------------------------------------------------------------------------------------


def test_resp3_scores_are_doubles(make_raw):
    c = make_raw()
    c.cmd("HELLO", "3")
    c.cmd("ZADD", "z", "1.5", "a", "2", "b")
    assert c.cmd("ZSCORE", "z", "a") == 1.5
    assert c.cmd("ZMSCORE", "z", "a", "x") == [1.5, None]
    assert c.cmd("ZINCRBY", "z", "1", "b") == 3.0
    assert c.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES") == [[b"a", 1.5], [b"b", 3.0]]
    assert c.cmd("ZRANGE", "z", "0", "-1") == [b"a", b"b"]
    assert c.cmd("ZPOPMIN", "z") == [b"a", 1.5]
    c.cmd("ZADD", "z", "inf", "i")
    assert c.cmd("ZPOPMIN", "z", "5") == [[b"b", 3.0], [b"i", float("inf")]]
    c.send(b"*3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$1\r\nq\r\n")
    assert c.read_line() == b"_"
    c.cmd("ZADD", "z", "-inf", "m")
    c.send(b"*3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$1\r\nm\r\n")
    assert c.read_line() == b",-inf"


def test_zrandmember(raw, encoding):
    raw.cmd("ZADD", "z", *sum([[str(i), "m%d" % i] for i in range(10)], []))
    members = {b"m%d" % i for i in range(10)}
    assert raw.cmd("ZRANDMEMBER", "z") in members
    got = raw.cmd("ZRANDMEMBER", "z", "5")
    assert len(got) == 5 and len(set(got)) == 5 and set(got) <= members
    got = raw.cmd("ZRANDMEMBER", "z", "20")
    assert sorted(got) == sorted(members)
    got = raw.cmd("ZRANDMEMBER", "z", "-30")
    assert len(got) == 30 and set(got) <= members
    got = raw.cmd("ZRANDMEMBER", "z", "3", "WITHSCORES")
    assert len(got) == 6 and all(got[i + 1] == got[i][1:] for i in range(0, 6, 2))
    assert raw.cmd("ZRANDMEMBER", "z", "0") == []
    assert raw.cmd("ZRANDMEMBER", "nokey") is None
    assert raw.cmd("ZRANDMEMBER", "nokey", "3") == []
    assert raw.cmd("ZRANDMEMBER", "z", "1", "FOO") == SYNTAX
    assert raw.cmd("ZRANDMEMBER", "z", "x") == NOT_INT
    assert raw.cmd("ZRANDMEMBER", "z", "-9223372036854775808") == \
        E("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert raw.cmd("ZRANDMEMBER", "z", "-9223372036854770000", "WITHSCORES") == E("ERR value is out of range")


def test_zrandmember_is_uniform(raw):
    raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0")
    raw.cmd("ZADD", "z", *sum([["1", "m%d" % i] for i in range(20)], []))
    counts = {}
    for m in raw.cmd("ZRANDMEMBER", "z", "-20000"):
        counts[m] = counts.get(m, 0) + 1
    assert len(counts) == 20
    assert min(counts.values()) > 800 and max(counts.values()) < 1200


# ---- set operations ---------------------------------------------------------------------------------------


def test_zunion_zinter_zdiff(raw, encoding):
    raw.cmd("ZADD", "a", "1", "x", "2", "y", "3", "z")
    raw.cmd("ZADD", "b", "10", "y", "20", "z", "30", "w")
    assert raw.cmd("ZUNION", "2", "a", "b", "WITHSCORES") == [b"x", b"1", b"y", b"12", b"z", b"23", b"w", b"30"]
    assert raw.cmd("ZINTER", "2", "a", "b", "WITHSCORES") == [b"y", b"12", b"z", b"23"]
    assert raw.cmd("ZDIFF", "2", "a", "b", "WITHSCORES") == [b"x", b"1"]
    assert raw.cmd("ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES") == \
        [b"x", b"2", b"y", b"9", b"w", b"15", b"z", b"16"]
    assert raw.cmd("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES") == \
        [b"x", b"1", b"y", b"2", b"z", b"3", b"w", b"30"]
    assert raw.cmd("ZINTER", "2", "a", "b", "AGGREGATE", "MAX") == [b"y", b"z"]
    assert raw.cmd("ZINTERCARD", "2", "a", "b") == 2
    assert raw.cmd("ZINTERCARD", "2", "a", "b", "LIMIT", "1") == 1
    assert raw.cmd("ZINTERCARD", "2", "a", "b", "LIMIT", "-1") == E("ERR LIMIT can't be negative")
    assert raw.cmd("ZUNIONSTORE", "d", "2", "a", "b") == 4
    assert zr(raw, "d") == [b"x", b"1", b"y", b"12", b"z", b"23", b"w", b"30"]
    assert raw.cmd("ZINTERSTORE", "d", "2", "a", "nokey") == 0
    assert raw.cmd("EXISTS", "d") == 0
    assert raw.cmd("ZDIFFSTORE", "d", "1", "a") == 3
    assert raw.cmd("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x") == E("ERR weight value is not a float")
    assert raw.cmd("ZUNION", "2", "a", "b", "WEIGHTS", "1") == SYNTAX
    assert raw.cmd("ZUNION", "2", "a", "b", "AGGREGATE", "AVG") == SYNTAX
    assert raw.cmd("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1") == SYNTAX
    assert raw.cmd("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES") == SYNTAX
    assert raw.cmd("ZUNION", "0", "a") == E("ERR at least 1 input key is needed for 'zunion' command")
    assert raw.cmd("ZINTERSTORE", "d", "0", "a") == E("ERR at least 1 input key is needed for 'zinterstore' command")
    assert raw.cmd("ZUNION", "3", "a", "b") == SYNTAX
    assert raw.cmd("ZUNION", "x", "a") == NOT_INT
    raw.cmd("SET", "s", "str")
    assert raw.cmd("ZUNION", "2", "a", "s") == WRONGTYPE


def test_set_inputs_count_as_score_one(raw):
    raw.cmd("ZADD", "z", "5", "a", "6", "b")
    raw.cmd("SADD", "s", "a", "c")
    raw.cmd("SADD", "i", "1", "2")
    assert raw.cmd("ZUNION", "2", "z", "s", "WITHSCORES") == [b"c", b"1", b"a", b"6", b"b", b"6"]
    assert raw.cmd("ZINTER", "2", "s", "z", "WEIGHTS", "3", "1", "WITHSCORES") == [b"a", b"8"]
    assert raw.cmd("ZDIFF", "2", "s", "z") == [b"c"]
    assert raw.cmd("ZUNIONSTORE", "d", "2", "i", "s") == 4
    assert zr(raw, "d") == [b"1", b"1", b"2", b"1", b"a", b"1", b"c", b"1"]


def test_union_result_encoding(raw):
    raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0")
    raw.cmd("ZADD", "a", "1", "x", "2", "y")
    assert enc(raw, "a") == b"skiplist"
    raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "128")
    raw.cmd("ZUNIONSTORE", "d", "1", "a")
    assert enc(raw, "d") == b"listpack"  # small results convert back (Redis 7.0)
    raw.cmd("ZADD", "b", "1", "x" * 65)
    raw.cmd("ZUNIONSTORE", "d", "2", "a", "b")
    assert enc(raw, "d") == b"skiplist"


# ---- encodings ---------------------------------------------------------------------------------------------


def test_encoding_conversions(raw):
    raw.cmd("CONFIG", "SET", "zset-max-ziplist-entries", "4")  # the old name is an alias
    assert raw.cmd("CONFIG", "GET", "zset-max-listpack-entries") == [b"zset-max-listpack-entries", b"4"]
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert enc(raw, "z") == b"listpack"
    raw.cmd("ZADD", "z", "5", "e")
    assert enc(raw, "z") == b"skiplist"
    raw.cmd("ZREM", "z", "a", "b", "c", "d")
    assert enc(raw, "z") == b"skiplist"  # never converts back by itself
    raw.cmd("ZADD", "v", "1", "x" * 64)
    assert enc(raw, "v") == b"listpack"
    raw.cmd("ZADD", "v", "1", "y" * 65)
    assert enc(raw, "v") == b"skiplist"
    raw.cmd("ZADD", "w", "1", "y" * 65)
    assert enc(raw, "w") == b"skiplist"  # created big when the first member is too long
    raw.cmd("CONFIG", "SET", "zset-max-listpack-value", "1kb")
    assert raw.cmd("CONFIG", "GET", "zset-max-listpack-value") == [b"zset-max-listpack-value", b"1024"]
    raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0")
    raw.cmd("ZADD", "e0", "1", "a")
    assert enc(raw, "e0") == b"skiplist"


def test_big_sets_keep_order_and_ranks(raw):
    rnd = random.Random(7)
    members = {}
    for chunk in range(10):
        args = []
        for _ in range(200):
            m = "m%d" % rnd.randint(0, 3000)
            s = rnd.randint(-1000, 1000)
            members[m] = s
            args += [str(s), m]
        raw.cmd("ZADD", "z", *args)
    assert enc(raw, "z") == b"skiplist"
    want = sorted(members.items(), key=lambda kv: (kv[1], kv[0].encode()))
    got = raw.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES")
    assert [(got[i].decode(), int(got[i + 1])) for i in range(0, len(got), 2)] == want
    for i in range(0, len(want), 97):
        assert raw.cmd("ZRANK", "z", want[i][0]) == i
        assert raw.cmd("ZREVRANK", "z", want[i][0]) == len(want) - 1 - i
    # ZSCAN with a cursor visits every member once at least
    seen, cursor = {}, b"0"
    while True:
        cursor, items = raw.cmd("ZSCAN", "z", cursor, "COUNT", "50")
        for i in range(0, len(items), 2):
            seen[items[i].decode()] = int(items[i + 1])
        if cursor == b"0":
            break
    assert seen == members


def test_zscan(raw):
    raw.cmd("ZADD", "z", "1", "a", "2.5", "b", "3", "ab")
    cursor, items = raw.cmd("ZSCAN", "z", "0")
    assert cursor == b"0" and items == [b"a", b"1", b"b", b"2.5", b"ab", b"3"]
    assert raw.cmd("ZSCAN", "z", "0", "MATCH", "a*") == [b"0", [b"a", b"1", b"ab", b"3"]]
    assert raw.cmd("ZSCAN", "z", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd("ZSCAN", "z", "0", "FOO", "1") == SYNTAX
    assert raw.cmd("ZSCAN", "z", "x") == E("ERR invalid cursor")
    assert raw.cmd("ZSCAN", "nokey", "0") == [b"0", []]
    raw.cmd("SET", "s", "x")
    assert raw.cmd("ZSCAN", "s", "0") == WRONGTYPE


def test_memory_usage_copy_digest(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b")
    small = raw.cmd("MEMORY", "USAGE", "z")
    raw.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0")
    raw.cmd("ZADD", "big", *sum([[str(i), "member:%d" % i] for i in range(1000)], []))
    big = raw.cmd("MEMORY", "USAGE", "big")
    assert 0 < small < 200 and 50000 < big < 150000
    assert raw.cmd("COPY", "big", "big2") == 1
    assert raw.cmd("DEBUG", "DIGEST-VALUE", "big") == raw.cmd("DEBUG", "DIGEST-VALUE", "big2")
    raw.cmd("ZADD", "big2", "5", "member:1")
    assert raw.cmd("ZSCORE", "big", "member:1") == b"1"
    assert raw.cmd("DEBUG", "DIGEST-VALUE", "big") != raw.cmd("DEBUG", "DIGEST-VALUE", "big2")
    assert raw.cmd("TYPE", "big") == b"zset"


# ---- events and WATCH --------------------------------------------------------------------------------------


@pytest.fixture
def events(raw, make_raw):
    def run(cmds):
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", "KEAn")
        sub = make_raw()
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        for c in cmds:
            raw.cmd(*c)
        raw.cmd("PUBLISH", "__keyevent@0__:zz-end", "x")
        out = []
        while True:
            m = sub.read_reply()
            ev = m[2].decode().split(":", 1)[1]
            if ev == "zz-end":
                break
            out.append((ev, m[3].decode()))
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        return out
    return run


def test_keyspace_events(events):
    got = events([
        ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        ["ZADD", "z", "1", "a"],  # no change: no event
        ["ZINCRBY", "z", "1", "a"],
        ["ZREM", "z", "nope"],
        ["ZREM", "z", "a"],
        ["ZREMRANGEBYSCORE", "z", "0", "2"],
        ["ZPOPMAX", "z"],
        ["ZADD", "y", "1", "a"],
        ["ZUNIONSTORE", "u", "1", "y"],
        ["ZRANGESTORE", "r", "y", "0", "-1"],
        ["ZINTERSTORE", "u", "1", "nokey"],
        ["ZADD", "y", "2", "b"],
        ["ZMPOP", "1", "y", "MIN", "COUNT", "5"],
    ])
    assert got == [("new", "z"), ("zadd", "z"), ("zincr", "z"), ("zrem", "z"), ("zremrangebyscore", "z"),
                   ("zpopmax", "z"), ("del", "z"), ("new", "y"), ("zadd", "y"), ("new", "u"),
                   ("zunionstore", "u"), ("new", "r"), ("zrangestore", "r"), ("del", "u"), ("zadd", "y"),
                   ("zpopmin", "y"), ("del", "y")]


def test_watch_is_signalled(raw, make_raw):
    raw.cmd("ZADD", "k", "1", "a")
    for cmd, fires in ((["ZADD", "k", "1", "a"], False), (["ZADD", "k", "2", "a"], True),
                       (["ZREM", "k", "x"], False), (["ZINCRBY", "k", "1", "b"], True),
                       (["ZPOPMIN", "k", "0"], False), (["ZRANGESTORE", "k", "nokey", "0", "1"], True)):
        raw.cmd("DEL", "k")
        raw.cmd("ZADD", "k", "1", "a")
        w = make_raw()
        assert w.cmd("WATCH", "k") == b"OK"
        raw.cmd(*cmd)
        w.cmd("MULTI")
        w.cmd("PING")
        assert (w.cmd("EXEC") is None) == fires, cmd


# ---- blocking pops -------------------------------------------------------------------------------------------


def test_bzpop_served_at_once(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b")
    assert raw.cmd("BZPOPMIN", "nokey", "z", "0") == [b"z", b"a", b"1"]
    assert raw.cmd("BZPOPMAX", "z", "0") == [b"z", b"b", b"2"]
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("BZMPOP", "0", "1", "z", "MAX", "COUNT", "2") == [b"z", [[b"c", b"3"], [b"b", b"2"]]]
    assert raw.cmd("BZPOPMIN", "z", "-1") == E("ERR timeout is negative")
    assert raw.cmd("BZPOPMIN", "z", "x") == E("ERR timeout is not a float or out of range")
    assert raw.cmd("BZMPOP", "0", "0", "z", "MIN") == E("ERR numkeys should be greater than 0")
    raw.cmd("SET", "s", "x")
    assert raw.cmd("BZPOPMIN", "s", "0") == WRONGTYPE


def test_bzpop_timeout_and_multi(raw):
    t = time.time()
    assert raw.cmd("BZPOPMIN", "nokey", "0.2") is None
    assert time.time() - t >= 0.15
    assert raw.cmd("BZMPOP", "0.1", "1", "nokey", "MIN") is None
    raw.cmd("MULTI")
    raw.cmd("BZPOPMAX", "nokey", "0")
    assert raw.cmd("EXEC") == [None]


def test_bzpop_woken_from_another_worker(make_raw):
    # Connections alternate between the 2 workers: a and b are on different ones.
    a, b = make_raw(), make_raw()
    for waiter, pusher in ((a, b), (b, a)):
        waiter.send(b"*4\r\n$8\r\nBZPOPMIN\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        assert pusher.cmd("ZADD", "k2", "5", "m", "7", "n") == 2
        assert waiter.read_reply() == [b"k2", b"m", b"5"]
        assert pusher.cmd("ZRANGE", "k2", "0", "-1") == [b"n"]
        pusher.cmd("DEL", "k2")


def test_bzpop_fairness_and_bzmpop(make_raw):
    c1, c2, p = make_raw(), make_raw(), make_raw()
    c1.send(b"*7\r\n$6\r\nBZMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\nq\r\n$3\r\nMAX\r\n$5\r\nCOUNT\r\n")
    c1.send(b"$1\r\n2\r\n")
    time.sleep(0.1)
    c2.send(b"*3\r\n$8\r\nBZPOPMIN\r\n$1\r\nq\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    p.cmd("ZADD", "q", "1", "a", "2", "b", "3", "c")
    assert c1.read_reply() == [b"q", [[b"c", b"3"], [b"b", b"2"]]]  # first blocked, first served
    assert c2.read_reply() == [b"q", b"a", b"1"]
    assert p.cmd("EXISTS", "q") == 0


# ---- against redis-server 7.0 ------------------------------------------------------------------------------------


def random_commands(rnd, n):
    keys = ["z1", "z2", "z3"]

    def mem():
        return rnd.choice(["a", "b", "c", "aa", "1", "10", "-1", "x" * rnd.randint(1, 80), "m%d" % rnd.randint(0, 40)])

    def score():
        return rnd.choice(["0", "1", "-1", "2.5", "1e3", "inf", "-inf", "0.1", "-0", "%.3f" % rnd.uniform(-9, 9)])

    def rng():
        return rnd.choice(["-inf", "+inf", "(1", "1", "(2.5", "-1", "5", "(0"])

    out = []
    for _ in range(n):
        k, k2 = rnd.choice(keys), rnd.choice(keys)
        c = rnd.randint(0, 11)
        if c < 4:
            args = []
            for _ in range(rnd.randint(1, 5)):
                args += [score(), mem()]
            out.append(["ZADD", k] + rnd.sample(["NX", "XX", "GT", "LT", "CH"], rnd.randint(0, 1)) + args)
        elif c == 4:
            out.append(["ZINCRBY", k, score(), mem()])
        elif c == 5:
            out.append(["ZREM", k, mem(), mem()])
        elif c == 6:
            out.append(["ZRANGEBYSCORE", k, rng(), rng(), "WITHSCORES"])
        elif c == 7:
            out.append(["ZREMRANGEBYSCORE", k, rng(), rng()])
        elif c == 8:
            op = rnd.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
            w = ["WEIGHTS", "2", "0.5"] if op != "ZDIFFSTORE" and rnd.random() < 0.5 else []
            out.append([op, k, "2", k, k2] + w)
        elif c == 9:
            out.append([rnd.choice(["ZPOPMIN", "ZPOPMAX"]), k, str(rnd.randint(1, 3))])
        elif c == 10:
            out.append(["ZRANGESTORE", k2, k, str(rnd.randint(-3, 3)), str(rnd.randint(-3, 3))])
        else:
            out.append(["ZRANK", k, mem()])
    return out


@pytest.mark.parametrize("seed,entries", [(1, "128"), (2, "4"), (3, "0"), (4, "16")])
def test_same_replies_and_digests_as_redis(raw, ref, seed, entries):
    red = Raw(ref)
    red.cmd("FLUSHALL")
    for c in (raw, red):
        c.cmd("CONFIG", "SET", "zset-max-listpack-entries", entries)
    rnd = random.Random(seed)
    for i, cmd in enumerate(random_commands(rnd, 1500)):
        assert raw.cmd(*cmd) == red.cmd(*cmd), cmd
        if i % 100 == 99:
            for k in ("z1", "z2", "z3"):
                assert raw.cmd("DEBUG", "DIGEST-VALUE", k) == red.cmd("DEBUG", "DIGEST-VALUE", k), (cmd, k)
                assert enc(raw, k) == enc(red, k) or raw.cmd("EXISTS", k) == 0
    assert raw.cmd("DEBUG", "DIGEST") == red.cmd("DEBUG", "DIGEST")
    red.close()


def test_client_unblock(make_raw):
    a, b = make_raw(), make_raw()
    cid = a.cmd("CLIENT", "ID")
    a.send(b"*3\r\n$8\r\nBZPOPMIN\r\n$2\r\nqq\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    assert b.cmd("CLIENT", "UNBLOCK", str(cid)) == 1
    assert a.read_reply() is None
    a.send(b"*5\r\n$6\r\nBZMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\nqq\r\n$3\r\nMIN\r\n")
    time.sleep(0.1)
    assert b.cmd("CLIENT", "UNBLOCK", str(cid), "ERROR") == 1
    assert a.read_reply() == E("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert b.cmd("ZADD", "qq", "1", "a") == 1
    assert b.cmd("ZCARD", "qq") == 1  # nobody waits any more
