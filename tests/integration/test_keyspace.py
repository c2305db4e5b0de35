"""Generic key commands (DEL UNLINK EXISTS TYPE TOUCH KEYS SCAN RANDOMKEY RENAME
RENAMENX COPY MOVE SWAPDB OBJECT WAIT) and DEBUG: replies, errors, WATCH,
keyspace notifications, multi-database behaviour; exact bytes where it
matters (raw client), redis-py for the rest."""
import threading
import time

import pytest
import redis

from conftest import RespError, Raw, Server


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes", "--databases", "16")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


def err(msg):
    return RespError(msg)


NOT_INT = err("ERR value is not an integer or out of range")
SYNTAX = err("ERR syntax error")
DB_RANGE = err("ERR DB index is out of range")
SAME = err("ERR source and destination objects are the same")


def arity(name):
    return err("ERR wrong number of arguments for '%s' command" % name)


# ---- arity ----------------------------------------------------------------------------


@pytest.mark.parametrize("cmd,name", [
    (["DEL"], "del"), (["UNLINK"], "unlink"), (["EXISTS"], "exists"), (["TYPE"], "type"),
    (["TYPE", "a", "b"], "type"), (["TOUCH"], "touch"), (["EXPIRE", "k"], "expire"),
    (["PEXPIRE", "k"], "pexpire"), (["EXPIREAT", "k"], "expireat"), (["PEXPIREAT", "k"], "pexpireat"),
    (["TTL"], "ttl"), (["TTL", "a", "b"], "ttl"), (["PTTL"], "pttl"), (["EXPIRETIME"], "expiretime"),
    (["PEXPIRETIME", "a", "b"], "pexpiretime"), (["PERSIST"], "persist"), (["KEYS"], "keys"),
    (["KEYS", "a", "b"], "keys"), (["SCAN"], "scan"), (["RANDOMKEY", "x"], "randomkey"),
    (["RENAME", "a"], "rename"), (["RENAME", "a", "b", "c"], "rename"), (["RENAMENX", "a"], "renamenx"),
    (["COPY", "a"], "copy"), (["MOVE", "a"], "move"), (["MOVE", "a", "1", "2"], "move"),
    (["SWAPDB", "0"], "swapdb"), (["OBJECT"], "object"), (["OBJECT", "ENCODING"], "object|encoding"),
    (["OBJECT", "ENCODING", "a", "b"], "object|encoding"), (["OBJECT", "FREQ"], "object|freq"),
    (["OBJECT", "IDLETIME"], "object|idletime"), (["OBJECT", "REFCOUNT"], "object|refcount"),
    (["OBJECT", "HELP", "x"], "object|help"), (["WAIT", "0"], "wait"), (["DEBUG"], "debug"),
])
def test_arity(raw, cmd, name):
    assert raw.cmd(*cmd) == arity(name)


# ---- DEL UNLINK EXISTS TYPE TOUCH ----------------------------------------------------------


def test_del_unlink(r, raw):
    for k in ("a", "b", "c", "d"):
        r.set(k, "v")
    assert raw.cmd("DEL", "a", "b", "nokey") == 2
    assert raw.cmd("UNLINK", "c", "c", "nokey") == 1
    assert r.exists("a", "b", "c") == 0
    assert r.exists("d") == 1
    big = "x" * 200000
    r.set("big", big)
    assert r.unlink("big") == 1
    assert r.get("big") is None


def test_exists_counts_repeats(r, raw):
    r.set("a", "1")
    assert raw.cmd("EXISTS", "a", "a", "b", "a") == 3
    assert raw.cmd("EXISTS", "nokey") == 0


def test_type(r, raw):
    r.set("s", "x")
    r.set("i", "12")
    assert raw.cmd("TYPE", "s") == b"string"
    assert raw.cmd("TYPE", "i") == b"string"
    assert raw.cmd("TYPE", "nokey") == b"none"
    raw.send(b"*2\r\n$4\r\nTYPE\r\n$1\r\ns\r\n")
    assert raw.read_line() == b"+string"


def test_touch(r, raw):
    r.set("a", "1")
    r.set("b", "2")
    assert raw.cmd("TOUCH", "a", "b", "c") == 2
    assert raw.cmd("TOUCH", "nokey") == 0


def test_empty_and_binary_keys(r, raw):
    assert raw.cmd("SET", "", "empty") == b"OK"
    assert raw.cmd("EXISTS", "") == 1
    key = b"bin\x00\r\n\xff"
    r.set(key, "v")
    assert r.exists(key) == 1
    assert key in r.keys("*")
    assert r.rename(key, b"bin2\x00") is True
    assert r.get(b"bin2\x00") == b"v"


# ---- KEYS ------------------------------------------------------------------------------------


def test_keys_patterns(r):
    for k in ("key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c", "h?llo", "hello", "hallo", "hxllo"):
        r.set(k, "v")
    assert sorted(r.keys("foo*")) == [b"foo_a", b"foo_b", b"foo_c"]
    assert len(r.keys("*")) == 10
    assert sorted(r.keys("h?llo")) == [b"h?llo", b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(r.keys("h[^e]llo")) == [b"h?llo", b"hallo", b"hxllo"]
    assert sorted(r.keys("h[a-b]llo")) == [b"hallo"]
    assert r.keys("h\\?llo") == [b"h?llo"]
    assert r.keys("nomatch*") == []
    assert r.keys("key_[xyz]") != []


def test_keys_empty_db_and_raw(r, raw):
    assert raw.cmd("KEYS", "*") == []
    r.set("dlskeriewrioeuwqoirueioqwrueoqwrueqw", "test")
    assert raw.cmd("KEYS", "*") == [b"dlskeriewrioeuwqoirueioqwrueoqwrueqw"]
    assert raw.cmd("KEYS", "*") == [b"dlskeriewrioeuwqoirueioqwrueoqwrueqw"]


def test_keys_pathological_pattern_is_fast(r):
    r.set("a" * 40, "1")
    start = time.time()
    assert r.keys("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b") == []
    assert time.time() - start < 1.0


def test_keys_many_slots(r):
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("k:%d" % i, i)
    pipe.execute()
    keys = r.keys("k:*")
    assert len(keys) == 3000
    assert len(set(keys)) == 3000
    assert len(r.keys("k:1??")) == 100


def test_keys_and_scan_big_names(r):
    names = {b"k" * 20000, b"m" * 16380, b"small"}
    names |= {b"n%05d" % i + b"x" * 3000 for i in range(50)}
    for n in names:
        r.set(n, "v")
    assert set(r.keys("*")) == names
    assert len(r.keys("*")) == len(names)
    assert set(full_scan(r, count=1000)[0]) == names


def test_keys_in_selected_db(server):
    c = server.client(db=3)
    c.flushall()
    c.set("only3", "v")
    assert c.keys("*") == [b"only3"]
    c0 = server.client()
    assert c0.keys("*") == []
    c.close()
    c0.close()


# ---- SCAN ------------------------------------------------------------------------------------


def full_scan(r, **kw):
    cur = 0
    out = []
    calls = 0
    while True:
        cur, keys = r.scan(cur, **kw)
        out.extend(keys)
        calls += 1
        if cur == 0:
            return out, calls


def test_scan_basic_count_match(r):
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("key:%d" % i, "v")
    pipe.execute()
    keys, _ = full_scan(r)
    assert len(set(keys)) == 1000
    keys, calls = full_scan(r, count=5)
    assert len(set(keys)) == 1000
    assert calls > 10
    keys, _ = full_scan(r, match="key:1??")
    assert len(set(keys)) == 100
    keys, calls = full_scan(r, count=100000)
    assert len(set(keys)) == 1000
    assert calls == 1


def test_scan_type(r):
    for i in range(50):
        r.set("s%d" % i, "v")
    assert full_scan(r, _type="list")[0] == []
    assert len(set(full_scan(r, _type="string")[0])) == 50
    assert len(set(full_scan(r, _type="STRING")[0])) == 50
    assert full_scan(r, _type="nosuchtype")[0] == []
    assert len(set(full_scan(r, _type="string", match="s1*", count=10)[0])) == 11


def test_scan_reply_shape(r, raw):
    assert raw.cmd("SCAN", "0") == [b"0", []]
    r.set("only", "v")
    assert raw.cmd("SCAN", "0", "COUNT", "100") == [b"0", [b"only"]]
    raw.send(b"*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n")
    assert raw.read_line() == b"*2"
    assert raw.read_line() == b"$1"
    assert raw.read_line() == b"0"
    assert raw.read_reply() == [b"only"]


def test_scan_cursor_parsing(r, raw):
    r.set("k", "v")
    bad = err("ERR invalid cursor")
    for cur in ("abc", " 1", "1 ", "1.5", "0x10", "-", "+", "18446744073709551616", "\t0"):
        assert raw.cmd("SCAN", cur) == bad, cur
    # strtoul() semantics, as Redis: empty is 0, signs are accepted.
    for cur in ("", "+0", "-0", "00000000000000000000000000000000"):
        reply = raw.cmd("SCAN", cur)
        assert isinstance(reply, list) and reply[0] == b"0", cur
    for cur in ("-1", "18446744073709551615", "12345678"):
        reply = raw.cmd("SCAN", cur)
        assert isinstance(reply, list), cur


def test_scan_option_errors(r, raw):
    assert raw.cmd("SCAN", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd("SCAN", "0", "COUNT", "-5") == SYNTAX
    assert raw.cmd("SCAN", "0", "COUNT", "abc") == NOT_INT
    assert raw.cmd("SCAN", "0", "COUNT", "99999999999999999999") == NOT_INT
    assert raw.cmd("SCAN", "0", "COUNT") == SYNTAX
    assert raw.cmd("SCAN", "0", "MATCH") == SYNTAX
    assert raw.cmd("SCAN", "0", "TYPE") == SYNTAX
    assert raw.cmd("SCAN", "0", "FOO", "bar") == SYNTAX
    assert raw.cmd("SCAN", "0", "match", "*", "count", "10", "type", "string") == [b"0", []]


def test_scan_guarantees_under_writes(server, r):
    """Every key present for the whole scan is returned, while other keys
    are added and removed concurrently (and the tables grow)."""
    for i in range(500):
        r.set("stay:%d" % i, "v")
    stop = threading.Event()

    def writer():
        c = server.client()
        i = 0
        while not stop.is_set():
            c.set("churn:%d" % (i % 5000), "x")
            if i % 3 == 0:
                c.delete("churn:%d" % ((i * 7) % 5000))
            i += 1
        c.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        cur = 0
        seen = set()
        while True:
            cur, keys = r.scan(cur, count=20)
            seen.update(keys)
            if cur == 0:
                break
    finally:
        stop.set()
        t.join()
    stay = {k for k in seen if k.startswith(b"stay:")}
    assert len(stay) == 500


def test_scan_skips_expired_keys(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("live", "v")
        r.set("dead", "v", px=1)
        time.sleep(0.01)
        assert r.dbsize() == 2
        keys, _ = full_scan(r)
        assert keys == [b"live"]
        # SCAN deletes the expired keys it meets, as Redis does.
        assert r.dbsize() == 1
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---- RANDOMKEY ---------------------------------------------------------------------------------


def test_randomkey(r, raw):
    assert raw.cmd("RANDOMKEY") is None
    raw.send(b"*1\r\n$9\r\nRANDOMKEY\r\n")
    assert raw.read_line() == b"$-1"
    r.set("foo", "x")
    r.set("bar", "y")
    seen = {r.randomkey() for _ in range(100)}
    assert seen == {b"foo", b"bar"}
    r.set("x", "10")
    r.delete("x", "foo", "bar")
    assert r.randomkey() is None


def test_randomkey_resp3_null(make_raw):
    c = make_raw()
    c.cmd("HELLO", "3")
    c.cmd("FLUSHALL")
    c.send(b"*1\r\n$9\r\nRANDOMKEY\r\n")
    assert c.read_line() == b"_"


def test_randomkey_skips_expired(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("foo1", "bar", px=1)
        r.set("foo2", "bar", px=1)
        time.sleep(0.01)
        assert r.randomkey() is None
        assert r.dbsize() == 0
        r.set("alive", "v")
        r.set("foo3", "bar", px=1)
        time.sleep(0.01)
        assert {r.randomkey() for _ in range(20)} == {b"alive"}
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_randomkey_large_key(r):
    key = "k" * 1000
    r.set(key, "v")
    assert r.randomkey() == key.encode()


# ---- RENAME RENAMENX -----------------------------------------------------------------------------


def test_rename_basic(r, raw):
    r.set("mykey", "hello")
    assert raw.cmd("RENAME", "mykey", "mykey1") == b"OK"
    assert raw.cmd("RENAME", "mykey1", "mykey2") == b"OK"
    assert r.get("mykey2") == b"hello"
    assert r.exists("mykey", "mykey1") == 0


def test_rename_overwrites(r):
    r.set("a", "A")
    r.set("b", "B")
    assert r.rename("b", "a") is True
    assert r.get("a") == b"B"
    assert r.exists("b") == 0


def test_rename_errors_and_same_key(r, raw):
    assert raw.cmd("RENAME", "nokey", "foo") == err("ERR no such key")
    assert raw.cmd("RENAMENX", "nokey", "foo") == err("ERR no such key")
    assert raw.cmd("RENAME", "nokey", "nokey") == err("ERR no such key")
    r.set("same", "v")
    assert raw.cmd("RENAME", "same", "same") == b"OK"
    assert raw.cmd("RENAMENX", "same", "same") == 0
    assert r.get("same") == b"v"


def test_renamenx(r, raw):
    r.set("mykey", "foobar")
    assert raw.cmd("RENAMENX", "mykey", "mykey2") == 1
    assert r.get("mykey2") == b"foobar"
    assert r.exists("mykey") == 0
    r.set("mykey", "foo")
    assert raw.cmd("RENAMENX", "mykey", "mykey2") == 0
    assert r.get("mykey") == b"foo"
    assert r.get("mykey2") == b"foobar"


def test_rename_moves_ttl_not_target_ttl(r):
    r.set("src", "foo")
    r.expire("src", 100)
    r.rename("src", "dst")
    assert 95 < r.ttl("dst") <= 100
    r.set("src", "foo")
    r.set("dst", "bar")
    r.expire("dst", 100)
    r.rename("src", "dst")
    assert r.ttl("dst") == -1
    assert r.get("dst") == b"foo"


def test_rename_same_and_different_slots(r):
    # {t} keys share a slot table; plain keys land in different stripes.
    r.set("a{t}", "1")
    r.set("b{t}", "2")
    r.rename("a{t}", "b{t}")
    assert r.get("b{t}") == b"1"
    r.set("plain-one", "x")
    r.rename("plain-one", "other-two")
    assert r.get("other-two") == b"x"


def test_rename_keeps_value_encoding(r):
    big = b"z" * 100000
    r.set("big", big)
    r.set("num", "12345")
    r.set("emb", "hello")
    r.rename("big", "big2")
    r.rename("num", "num2")
    r.rename("emb", "emb2")
    assert r.get("big2") == big
    assert r.object("encoding", "big2") == b"raw"
    assert r.object("encoding", "num2") == b"int"
    assert r.object("encoding", "emb2") == b"embstr"
    assert r.get("num2") == b"12345"


def test_rename_expired_source(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("gone", "v", px=1)
        time.sleep(0.01)
        with pytest.raises(redis.ResponseError, match="no such key"):
            r.rename("gone", "x")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---- COPY -------------------------------------------------------------------------------------------


def test_copy_basic_and_db(server, r, raw):
    r.set("mykey", "foobar")
    assert raw.cmd("COPY", "mykey", "mynewkey") == 1
    assert r.get("mynewkey") == b"foobar"
    assert r.dbsize() == 2
    assert raw.cmd("COPY", "mykey", "mynewkey", "DB", "10") == 1
    c10 = server.client(db=10)
    assert c10.get("mynewkey") == b"foobar"
    assert c10.dbsize() == 1
    # Exists in the target: 0 without REPLACE.
    r.set("mykey2", "hello")
    assert raw.cmd("COPY", "mykey2", "mynewkey", "DB", "10") == 0
    assert raw.cmd("COPY", "mykey2", "mynewkey", "DB", "10", "REPLACE") == 1
    assert c10.get("mynewkey") == b"hello"
    assert raw.cmd("COPY", "mykey2", "mynewkey", "replace", "db", "10") == 1
    # The same key in another database is not "the same object".
    assert raw.cmd("COPY", "mykey", "mykey", "DB", "10") == 1
    assert c10.get("mykey") == b"foobar"
    c10.close()


def test_copy_errors(r, raw):
    r.set("k", "v")
    assert raw.cmd("COPY", "k", "k") == SAME
    assert raw.cmd("COPY", "k", "k", "DB", "0") == SAME
    assert raw.cmd("COPY", "k", "x", "DB", "notanumber") == NOT_INT
    assert raw.cmd("COPY", "k", "x", "DB", "16") == DB_RANGE
    assert raw.cmd("COPY", "k", "x", "DB", "-1") == DB_RANGE
    assert raw.cmd("COPY", "k", "x", "DB", "99999999999") == err(
        "ERR value is out of range, value must between -2147483648 and 2147483647")
    assert raw.cmd("COPY", "k", "x", "DB") == SYNTAX
    assert raw.cmd("COPY", "k", "x", "FOO") == SYNTAX
    assert raw.cmd("COPY", "nokey", "x") == 0
    assert r.exists("x") == 0


def test_copy_independent_and_ttl(r):
    big = b"q" * 70000
    r.set("src", big)
    r.copy("src", "dst")
    r.set("dst", "changed")
    assert r.get("src") == big
    r.set("t", "foobar", ex=100)
    r.copy("t", "t2", replace=True)
    assert 0 < r.ttl("t2") <= 100
    r.set("nt", "x")
    r.copy("nt", "nt2")
    assert r.ttl("nt2") == -1
    r.set("i", "42")
    r.copy("i", "i2")
    assert r.object("encoding", "i2") == b"int"
    assert r.get("i2") == b"42"


def test_copy_digest_equal(r):
    r.set("orig", "some value")
    r.copy("orig", "dup")
    d = r.execute_command("DEBUG", "DIGEST-VALUE", "orig", "dup")
    assert d[0] == d[1]
    r.delete("orig")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "dup") == [d[0]]


# ---- MOVE ---------------------------------------------------------------------------------------------


def test_move(server, r, raw):
    c10 = server.client(db=10)
    r.set("mykey", "foobar")
    assert raw.cmd("MOVE", "mykey", "10") == 1
    assert r.exists("mykey") == 0
    assert r.dbsize() == 0
    assert c10.get("mykey") == b"foobar"
    assert c10.dbsize() == 1
    r.set("mykey", "hello")
    assert raw.cmd("MOVE", "mykey", "10") == 0
    assert r.get("mykey") == b"hello"
    assert raw.cmd("MOVE", "nokey", "10") == 0
    assert raw.cmd("MOVE", "mykey", "notanumber") == NOT_INT
    assert raw.cmd("MOVE", "mykey", "0") == SAME
    assert raw.cmd("MOVE", "mykey", "16") == DB_RANGE
    assert raw.cmd("MOVE", "mykey", "-1") == DB_RANGE
    assert raw.cmd("MOVE", "nokey", "0") == SAME
    c10.close()


def test_move_ttl(server, r):
    c10 = server.client(db=10)
    r.set("mykey", "foo", ex=100)
    assert r.move("mykey", 10) is True
    assert r.ttl("mykey") == -2
    assert 0 < c10.ttl("mykey") <= 100
    assert c10.get("mykey") == b"foo"
    r.set("plain", "foo")
    r.move("plain", 10)
    assert c10.ttl("plain") == -1
    c10.close()


def test_move_onto_expired_target(server, r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        c10 = server.client(db=10)
        c10.set("k", "old", px=1)
        time.sleep(0.01)
        r.set("k", "new")
        assert r.move("k", 10) is True
        assert c10.get("k") == b"new"
        assert c10.ttl("k") == -1
        c10.close()
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_move_then_active_expiry_in_target(server, r):
    c10 = server.client(db=10)
    r.set("soon", "v", px=200)
    r.move("soon", 10)
    deadline = time.time() + 5
    while c10.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert c10.dbsize() == 0
    c10.close()


# ---- SWAPDB ----------------------------------------------------------------------------------------------


def test_swapdb(server, r, raw):
    c1 = server.client(db=1)
    r.set("a", "db0")
    r.set("t", "v", ex=100)
    c1.set("b", "db1")
    assert raw.cmd("SWAPDB", "0", "1") == b"OK"
    assert r.get("b") == b"db1"
    assert r.exists("a") == 0
    assert c1.get("a") == b"db0"
    assert 0 < c1.ttl("t") <= 100
    assert raw.cmd("SWAPDB", "1", "1") == b"OK"
    assert raw.cmd("SWAPDB", "x", "1") == err("ERR invalid first DB index")
    assert raw.cmd("SWAPDB", "1", "x") == err("ERR invalid second DB index")
    assert raw.cmd("SWAPDB", "99999999999", "1") == err("ERR invalid first DB index")
    assert raw.cmd("SWAPDB", "0", "16") == DB_RANGE
    assert raw.cmd("SWAPDB", "-1", "0") == DB_RANGE
    c1.close()


def test_swapdb_in_multi(server, r):
    c2 = server.client(db=2)
    c2.set("x", "2")
    p = r.pipeline(transaction=True)
    p.swapdb(0, 2)
    p.get("x")
    p.keys("*")
    assert p.execute() == [True, b"2", [b"x"]]
    c2.close()


# ---- OBJECT --------------------------------------------------------------------------------------------------


def test_object_encoding(r, raw):
    r.set("i", "12345")
    r.set("e", "hello")
    r.set("r", "x" * 100)
    r.set("neg", "-5")
    assert raw.cmd("OBJECT", "ENCODING", "i") == b"int"
    assert raw.cmd("OBJECT", "ENCODING", "neg") == b"int"
    assert raw.cmd("OBJECT", "ENCODING", "e") == b"embstr"
    assert raw.cmd("OBJECT", "encoding", "r") == b"raw"
    assert raw.cmd("OBJECT", "ENCODING", "nokey") is None
    raw.send(b"*3\r\n$6\r\nOBJECT\r\n$8\r\nENCODING\r\n$5\r\nnokey\r\n")
    assert raw.read_line() == b"$-1"


def test_object_refcount(r, raw):
    r.set("shared", "100")
    r.set("notshared", "20000")
    r.set("s", "abc")
    assert raw.cmd("OBJECT", "REFCOUNT", "shared") == 2147483647
    assert raw.cmd("OBJECT", "REFCOUNT", "notshared") == 1
    assert raw.cmd("OBJECT", "REFCOUNT", "s") == 1
    assert raw.cmd("OBJECT", "REFCOUNT", "nokey") is None


def test_object_idletime_freq_and_policy(r, raw):
    r.set("k", "v")
    assert raw.cmd("OBJECT", "IDLETIME", "k") == 0
    assert raw.cmd("OBJECT", "IDLETIME", "nokey") is None
    assert raw.cmd("OBJECT", "FREQ", "k") == err(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.")
    old = r.config_get("maxmemory-policy")["maxmemory-policy"]
    r.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        r.set("f", "v")
        assert isinstance(raw.cmd("OBJECT", "FREQ", "f"), int)
        assert raw.cmd("OBJECT", "FREQ", "nokey") is None
        assert raw.cmd("OBJECT", "IDLETIME", "f") == err(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
            "between policies at runtime LRU and LFU data will take some time to adjust.")
        for _ in range(200):
            r.get("f")
        assert raw.cmd("OBJECT", "FREQ", "f") > 5
    finally:
        r.config_set("maxmemory-policy", old)


def test_object_does_not_touch(r):
    r.set("k", "v")
    time.sleep(2.2)
    assert r.object("idletime", "k") >= 1
    r.type("k")
    r.exists("k")
    r.ttl("k")
    r.object("encoding", "k")
    assert r.object("idletime", "k") >= 1
    r.touch("k")
    assert r.object("idletime", "k") == 0


def test_object_help_and_unknown(raw):
    help_ = raw.cmd("OBJECT", "HELP")
    assert help_[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_[-2:] == [b"HELP", b"    Prints this help."]
    assert b"REFCOUNT <key>" in help_
    assert len(help_) == 15
    assert raw.cmd("object", "help")[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert raw.cmd("OBJECT", "FOO", "k") == err("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")


# ---- WAIT -------------------------------------------------------------------------------------------------------


def test_wait(r, raw):
    assert raw.cmd("WAIT", "0", "0") == 0
    assert raw.cmd("WAIT", "1", "10") == 0
    assert raw.cmd("WAIT", "x", "0") == NOT_INT
    assert raw.cmd("WAIT", "0", "x") == err("ERR timeout is not an integer or out of range")
    assert raw.cmd("WAIT", "0", "1.5") == err("ERR timeout is not an integer or out of range")
    assert raw.cmd("WAIT", "0", "-1") == err("ERR timeout is negative")


# ---- WATCH and notifications ------------------------------------------------------------------------------------------


def watched_exec(server, key, action, db=0):
    """WATCH key (in db), run `action` from a client of db 0, return EXEC's result."""
    a = server.client(db=db)
    b = server.client()
    try:
        p = a.pipeline(transaction=True)
        p.watch(key)
        action(b)
        p.multi()
        p.ping()
        try:
            return p.execute()
        except redis.WatchError:
            return None
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("action,aborts", [
    (lambda c: c.expire("w", 100), True),
    (lambda c: c.pexpireat("w", int(time.time() * 1000) + 100000), True),
    (lambda c: c.expire("w", 0), True),
    (lambda c: c.persist("w"), True),
    (lambda c: c.rename("w", "w2"), True),
    (lambda c: c.rename("o", "w"), True),
    (lambda c: c.move("w", 5), True),
    (lambda c: c.copy("o", "w", replace=True), True),
    (lambda c: c.delete("w"), True),
    (lambda c: c.unlink("w"), True),
    (lambda c: c.swapdb(0, 4), True),
    (lambda c: c.exists("w"), False),
    (lambda c: c.touch("w"), False),
    (lambda c: c.ttl("w"), False),
    (lambda c: c.type("w"), False),
    (lambda c: c.object("encoding", "w"), False),
    (lambda c: c.persist("o"), False),
    (lambda c: c.expire("nokey", 10), False),
    (lambda c: c.copy("w", "w3"), False),
    (lambda c: c.keys("*"), False),
    (lambda c: c.scan(0), False),
])
def test_watch_signals(server, r, action, aborts):
    r.set("w", "v", ex=1000)
    r.set("o", "other")
    res = watched_exec(server, "w", action)
    assert (res is None) == aborts


def test_watch_move_and_copy_into_other_db(server, r):
    c5 = server.client(db=5)
    r.set("k", "v")
    assert watched_exec(server, "k", lambda c: c.move("k", 5), db=5) is None
    assert c5.get("k") == b"v"
    r.set("k", "v")
    assert watched_exec(server, "k", lambda c: c.copy("k", "k", destination_db=5, replace=True), db=5) is None
    c5.close()


def collect_events(server, pattern, action, n, config="KEA"):
    cfg = server.client()
    cfg.config_set("notify-keyspace-events", config)
    sub = server.client()
    ps = sub.pubsub()
    ps.psubscribe(pattern)
    assert ps.get_message(timeout=2)["type"] == "psubscribe"
    try:
        action()
        got = []
        deadline = time.time() + 5
        while len(got) < n and time.time() < deadline:
            m = ps.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                got.append((m["channel"], m["data"]))
        time.sleep(0.05)
        m = ps.get_message(timeout=0.1)
        assert m is None or m["type"] != "pmessage", "unexpected extra event %r" % (m,)
        return got
    finally:
        cfg.config_set("notify-keyspace-events", "")
        ps.close()
        sub.close()
        cfg.close()


def test_notifications_rename_move_copy(server, r):
    r.set("a", "1")
    r.set("b", "2")

    def act():
        r.rename("a", "c")
        r.move("c", 3)
        r.copy("b", "d", destination_db=4)
        r.expire("b", 100)
        r.persist("b")
        r.delete("b")

    got = collect_events(server, "__keyevent@*", act, 8, config="Eg")
    assert got == [
        (b"__keyevent@0__:rename_from", b"a"), (b"__keyevent@0__:rename_to", b"c"),
        (b"__keyevent@0__:move_from", b"c"), (b"__keyevent@3__:move_to", b"c"),
        (b"__keyevent@4__:copy_to", b"d"),
        (b"__keyevent@0__:expire", b"b"), (b"__keyevent@0__:persist", b"b"), (b"__keyevent@0__:del", b"b"),
    ]


def test_notifications_new(server, r):
    r.set("a", "1")

    def act():
        r.rename("a", "b")
        r.copy("b", "c")
        r.move("c", 2)

    got = collect_events(server, "__keyevent@*__:new", act, 3, config="En")
    assert got == [(b"__keyevent@0__:new", b"b"), (b"__keyevent@0__:new", b"c"), (b"__keyevent@2__:new", b"c")]


def test_no_notification_when_nothing_changes(server, r):
    r.set("x", "1")

    def act():
        r.expire("nokey", 10)
        r.persist("x")
        r.renamenx("x", "x")
        r.move("nokey", 1)
        r.copy("nokey", "y")
        r.execute_command("EXPIRE", "x", "100", "GT")

    assert collect_events(server, "*", act, 0) == []


# ---- transactions with keyless commands ----------------------------------------------------------------------------


def test_multi_with_keyless_commands(r):
    r.set("a", "1")
    p = r.pipeline(transaction=True)
    p.keys("*")
    p.scan(0)
    p.randomkey()
    p.rename("a", "b")
    p.execute_command("DEBUG", "DIGEST")
    res = p.execute()
    assert res[0] == [b"a"]
    assert tuple(res[1]) == (0, [b"a"])
    assert res[2] == b"a"
    assert res[3] is True
    assert len(res[4]) == 40


# ---- DEBUG --------------------------------------------------------------------------------------------------------------


def dbg(r, *args):
    return r.execute_command("DEBUG", *args)


def test_debug_help_and_errors(raw):
    h = raw.cmd("DEBUG", "HELP")
    assert h[0] == b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert h[-2:] == [b"HELP", b"    Prints this help."]
    assert b"DIGEST-VALUE <key> [<key> ...]" in h
    assert raw.cmd("DEBUG", "nosuch") == err(
        "ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.")
    assert raw.cmd("debug", "object") == err(
        "ERR unknown subcommand or wrong number of arguments for 'object'. Try DEBUG HELP.")
    assert raw.cmd("DEBUG", "HELP", "x") == err(
        "ERR unknown subcommand or wrong number of arguments for 'HELP'. Try DEBUG HELP.")


def test_debug_digest_matches_redis(r, raw):
    """Values computed by Redis 7.0.15 for the same datasets."""
    assert raw.cmd("DEBUG", "DIGEST") == b"0" * 40
    r.set("foo", "bar")
    assert raw.cmd("DEBUG", "DIGEST") == b"d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a"
    assert raw.cmd("DEBUG", "DIGEST-VALUE", "foo", "nokey") == [
        b"68467c70ae30376e7ce005bcc8827f5ba7fd67dc", b"0" * 40]
    r.set("n", "20000")
    r.expire("n", 100)
    r.execute_command("SELECT", "3")
    r.set("x", "5")
    r.execute_command("SELECT", "0")
    assert raw.cmd("DEBUG", "DIGEST") == b"48c71aabf77092d9ba8dfdf17e2d26fe6efd8d04"
    assert raw.cmd("DEBUG", "DIGEST-VALUE") == []


def test_debug_digest_order_independent(r):
    for i in range(100):
        r.set("k%d" % i, i)
    d1 = dbg(r, "DIGEST")
    r.flushall()
    for i in reversed(range(100)):
        r.set("k%d" % i, i)
    assert dbg(r, "DIGEST") == d1
    r.expire("k1", 1000)
    assert dbg(r, "DIGEST") != d1
    r.persist("k1")
    assert dbg(r, "DIGEST") == d1


def test_debug_object(r, raw):
    r.set("foo", "20000")
    line = raw.cmd("DEBUG", "OBJECT", "foo")
    assert line.startswith(b"Value at:0x")
    assert b" refcount:1 encoding:int serializedlength:3 lru:" in line
    assert b"lru_seconds_idle:" in line
    r.set("s", "hello")
    assert b"encoding:embstr serializedlength:6" in raw.cmd("DEBUG", "OBJECT", "s")
    r.set("small", "7")
    assert b"refcount:2147483647 encoding:int serializedlength:2" in raw.cmd("DEBUG", "OBJECT", "small")
    assert raw.cmd("DEBUG", "OBJECT", "nokey") == err("ERR no such key")


def test_debug_sleep(r):
    start = time.time()
    assert dbg(r, "SLEEP", "0.2") == b"OK"
    assert time.time() - start >= 0.19
    assert dbg(r, "SLEEP", "0") == b"OK"
    assert dbg(r, "SLEEP", "garbage") == b"OK"


def test_debug_sleep_blocks_only_its_worker(server):
    """Two connections on different workers: one sleeps, the other is served."""
    conns = [server.client() for _ in range(4)]
    try:
        t = threading.Thread(target=lambda: conns[0].execute_command("DEBUG", "SLEEP", "1"))
        start = time.time()
        t.start()
        time.sleep(0.1)
        fast = []
        for c in conns[1:]:
            s = time.time()
            c.ping()
            fast.append(time.time() - s)
        t.join()
        assert time.time() - start >= 0.99
        assert min(fast) < 0.5
    finally:
        for c in conns:
            c.close()


def test_debug_set_active_expire(r):
    assert dbg(r, "SET-ACTIVE-EXPIRE", "0") == b"OK"
    try:
        r.set("a", "v", px=50)
        time.sleep(0.5)
        assert r.dbsize() == 1
        assert dbg(r, "SET-ACTIVE-EXPIRE", "1") == b"OK"
        deadline = time.time() + 5
        while r.dbsize() and time.time() < deadline:
            time.sleep(0.05)
        assert r.dbsize() == 0
    finally:
        dbg(r, "SET-ACTIVE-EXPIRE", "1")


def test_debug_protocol_resp2(raw):
    def exact(typ, expected):
        raw.send(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$%d\r\n%s\r\n" % (len(typ), typ))
        assert raw.read_exactly(len(expected)) == expected, typ

    exact(b"string", b"$11\r\nHello World\r\n")
    exact(b"integer", b":12345\r\n")
    exact(b"double", b"$5\r\n3.141\r\n")
    exact(b"bignum", b"$37\r\n1234567999999999999999999999999999999\r\n")
    exact(b"null", b"$-1\r\n")
    exact(b"array", b"*3\r\n:0\r\n:1\r\n:2\r\n")
    exact(b"set", b"*3\r\n:0\r\n:1\r\n:2\r\n")
    exact(b"map", b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n")
    exact(b"attrib", b"$39\r\nSome real reply following the attribute\r\n")
    exact(b"push", b"-ERR RESP2 is not supported by this command\r\n")
    exact(b"true", b":1\r\n")
    exact(b"false", b":0\r\n")
    exact(b"verbatim", b"$25\r\nThis is a verbatim\nstring\r\n")
    assert raw.cmd("DEBUG", "PROTOCOL", "nope") == err(
        "ERR Wrong protocol type name. Please use one of the following: "
        "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


def test_debug_protocol_resp3(make_raw):
    raw = make_raw()
    raw.cmd("HELLO", "3")

    def exact(typ, expected):
        raw.send(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$%d\r\n%s\r\n" % (len(typ), typ))
        assert raw.read_exactly(len(expected)) == expected, typ

    exact(b"string", b"$11\r\nHello World\r\n")
    exact(b"double", b",3.141\r\n")
    exact(b"bignum", b"(1234567999999999999999999999999999999\r\n")
    exact(b"null", b"_\r\n")
    exact(b"set", b"~3\r\n:0\r\n:1\r\n:2\r\n")
    exact(b"map", b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n")
    exact(b"attrib", b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
                     b"$39\r\nSome real reply following the attribute\r\n")
    exact(b"push", b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n")
    exact(b"true", b"#t\r\n")
    exact(b"false", b"#f\r\n")
    exact(b"verbatim", b"=29\r\ntxt:This is a verbatim\nstring\r\n")


def test_debug_htstats(r, raw):
    empty = raw.cmd("DEBUG", "HTSTATS", "0")
    assert b"[Dictionary HT]" in empty and b"[Expires HT]" in empty
    assert b"No stats available for empty dictionaries" in empty
    for i in range(100):
        r.set("k%d" % i, "v")
    r.expire("k1", 100)
    out = raw.cmd("DEBUG", "HTSTATS", "0")
    assert b"number of elements: 100\n" in out
    assert b"table size: " in out
    assert b"1 keys with an expiry" in out
    assert raw.cmd("DEBUG", "HTSTATS", "16") == err("ERR Out of range database")
    assert raw.cmd("DEBUG", "HTSTATS", "-1") == err("ERR Out of range database")
    assert raw.cmd("DEBUG", "HTSTATS", "x") == NOT_INT
    assert raw.cmd("DEBUG", "HTSTATS-KEY", "nokey") == err("ERR no such key")
    assert raw.cmd("DEBUG", "HTSTATS-KEY", "k1") == err(
        "ERR The value stored at the specified key is not represented using an hash table")


def test_debug_populate(r, raw):
    r.set("key:5", "mine")
    assert raw.cmd("DEBUG", "POPULATE", "10") == b"OK"
    assert r.dbsize() == 10
    assert r.get("key:0") == b"value:0"
    assert r.get("key:5") == b"mine"
    assert raw.cmd("DEBUG", "POPULATE", "3", "p") == b"OK"
    assert r.get("p:2") == b"value:2"
    assert raw.cmd("DEBUG", "POPULATE", "2", "sz", "3") == b"OK"
    assert r.get("sz:1") == b"val"
    assert raw.cmd("DEBUG", "POPULATE", "1", "pad", "10") == b"OK"
    assert r.get("pad:0") == b"value:0\x00\x00\x00"
    assert raw.cmd("DEBUG", "POPULATE", "-1") == err("ERR value is out of range, must be positive")
    assert raw.cmd("DEBUG", "POPULATE", "x") == err("ERR value is out of range, must be positive")
    assert raw.cmd("DEBUG", "POPULATE", "0") == b"OK"
    assert raw.cmd("DEBUG", "POPULATE", "1", "a", "1", "extra") == err(
        "ERR unknown subcommand or wrong number of arguments for 'POPULATE'. Try DEBUG HELP.")


def test_debug_misc(raw):
    assert raw.cmd("DEBUG", "CHANGE-REPL-ID") == b"OK"
    assert raw.cmd("DEBUG", "LOG", "hello from the tests") == b"OK"
    assert raw.cmd("DEBUG", "ERROR", "MYERR something\r\nbad") == err("MYERR something  bad")
    assert raw.cmd("DEBUG", "STRINGMATCH-TEST") == b"Apparently Redis did not crash: test passed"
    assert raw.cmd("DEBUG", "STRUCTSIZE").startswith(b"bits:64 ")


def test_debug_in_multi_needs_its_stripes(r):
    r.set("k", "v")
    p = r.pipeline(transaction=True)
    p.execute_command("DEBUG", "OBJECT", "k")
    p.get("k")
    p.execute_command("DEBUG", "DIGEST-VALUE", "k")
    res = p.execute(raise_on_error=False)
    assert res[0].startswith(b"Value at:")
    assert res[1] == b"v"
    assert len(res[2][0]) == 40
    # Alone in a transaction too: EXEC holds the stripes a keyless
    # command may reach, so DEBUG answers as Redis does.
    p = r.pipeline(transaction=True)
    p.execute_command("DEBUG", "OBJECT", "k")
    res = p.execute(raise_on_error=False)
    assert res[0].startswith(b"Value at:")
    p = r.pipeline(transaction=True)
    p.execute_command("DEBUG", "HTSTATS", "0")
    res = p.execute(raise_on_error=False)
    assert res[0].startswith(b"[Dictionary HT]\n")


DEBUG_REFUSED = err(
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it "
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server.")


@pytest.mark.parametrize("value,allowed", [(None, False), ("no", False), ("local", True), ("yes", True)])
def test_enable_debug_command(value, allowed):
    args = ["--enable-debug-command", value] if value else []
    s = Server(*args)
    try:
        c = Raw(s.port)
        reply = c.cmd("DEBUG", "HELP")
        if allowed:
            assert isinstance(reply, list)
        else:
            assert reply == DEBUG_REFUSED
        assert c.cmd("DEBUG") == arity("debug")
        assert c.cmd("CONFIG", "GET", "enable-debug-command") == [b"enable-debug-command", (value or "no").encode()]
        assert c.cmd("CONFIG", "SET", "enable-debug-command", "yes") == err(
            "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable "
            "config")
        c.close()
    finally:
        s.stop()


def test_enable_debug_command_bad_value():
    with pytest.raises(RuntimeError):
        Server("--enable-debug-command", "maybe")
