"""Expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT), TTL PTTL EXPIRETIME
PEXPIRETIME PERSIST; past times delete; overflow errors; lazy expiry (on
access) and active expiry (background cycle); expiry across RENAME, MOVE,
COPY, SWAPDB and transactions; keyspace events of each path."""
import time

import pytest
import redis

from conftest import RespError, Server


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def no_active_expire(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def err(msg):
    return RespError(msg)


NOT_INT = err("ERR value is not an integer or out of range")


def now_ms():
    return int(time.time() * 1000)


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# ---- setting expiries ------------------------------------------------------------------------


def test_expire_set_multiple_times(r, raw):
    r.set("x", "foobar")
    assert raw.cmd("EXPIRE", "x", "5") == 1
    assert raw.cmd("TTL", "x") in (4, 5)
    assert raw.cmd("EXPIRE", "x", "10") == 1
    assert raw.cmd("TTL", "x") == 10
    assert r.get("x") == b"foobar"


def test_expire_missing_key(r, raw):
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert raw.cmd(cmd, "nokey", "100") == 0
        assert raw.cmd(cmd, "nokey", "100", "NX") == 0
        assert raw.cmd(cmd, "nokey", "100", "XX") == 0
        assert raw.cmd(cmd, "nokey", "100", "GT") == 0
        assert raw.cmd(cmd, "nokey", "100", "LT") == 0
        assert raw.cmd(cmd, "nokey", "-100") == 0
    assert r.dbsize() == 0


def test_pexpire_expireat_pexpireat(r):
    r.set("a", "v")
    assert r.pexpire("a", 100000) is True
    assert 99000 < r.pttl("a") <= 100000
    assert r.expireat("a", int(time.time()) + 15) is True
    assert r.ttl("a") in (14, 15)
    at = now_ms() + 200000
    assert r.pexpireat("a", at) is True
    assert r.pexpiretime("a") == at
    assert r.expiretime("a") == (at + 500) // 1000  # rounded, as Redis


def test_expire_key_actually_expires(r):
    r.set("x", "v")
    r.pexpire("x", 100)
    assert r.get("x") == b"v"
    time.sleep(0.15)
    assert r.get("x") is None
    assert r.exists("x") == 0


def test_expiretime_exact(r):
    at = int(time.time()) + 100
    r.set("x", "v", exat=at)
    assert r.expiretime("x") == at
    atms = now_ms() + 100000
    r.set("y", "v", pxat=atms)
    assert r.pexpiretime("y") == atms
    assert r.expiretime("y") == (atms + 500) // 1000  # rounded, as Redis


def test_ttl_family_missing_and_persistent(r, raw):
    r.set("x", "hello")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert raw.cmd(cmd, "x") == -1
        assert raw.cmd(cmd, "nokey") == -2


def test_ttl_rounding(r):
    r.set("x", "v", px=1499)
    assert r.ttl("x") == 1
    r.set("x", "v", px=1600)
    assert r.ttl("x") == 2
    r.set("x", "v", px=10000)
    assert 9 <= r.ttl("x") <= 10
    assert 9000 < r.pttl("x") <= 10000


# ---- NX XX GT LT ----------------------------------------------------------------------------------


@pytest.mark.parametrize("initial,seconds,opts,ret,ttl_range", [
    (100, 200, ["NX"], 0, (50, 100)),
    (None, 200, ["NX"], 1, (100, 200)),
    (100, 200, ["XX"], 1, (100, 200)),
    (None, 200, ["XX"], 0, None),
    (100, 200, ["GT"], 1, (100, 200)),
    (200, 100, ["GT"], 0, (100, 200)),
    (None, 200, ["GT"], 0, None),
    (100, 200, ["LT"], 0, (50, 100)),
    (200, 100, ["LT"], 1, (50, 100)),
    (None, 100, ["LT"], 1, (50, 100)),
    (200, 100, ["LT", "XX"], 1, (50, 100)),
    (None, 200, ["LT", "XX"], 0, None),
    (100, 200, ["gt", "gt"], 1, (100, 200)),
    (200, 100, ["xx", "lt"], 1, (50, 100)),
])
def test_expire_conditions(r, raw, initial, seconds, opts, ret, ttl_range):
    if initial is None:
        r.set("foo", "bar")
    else:
        r.set("foo", "bar", ex=initial)
    assert raw.cmd("EXPIRE", "foo", str(seconds), *opts) == ret
    ttl = r.ttl("foo")
    if ttl_range is None:
        assert ttl == -1
    else:
        assert ttl_range[0] <= ttl <= ttl_range[1]


def test_expire_conditions_ms(r, raw):
    r.set("foo", "bar", px=100000)
    assert raw.cmd("PEXPIRE", "foo", "100001", "GT") == 1
    assert raw.cmd("PEXPIRE", "foo", "100000", "GT") == 0
    at = r.pexpiretime("foo")
    assert raw.cmd("PEXPIREAT", "foo", str(at), "GT") == 0
    assert raw.cmd("PEXPIREAT", "foo", str(at), "LT") == 0
    assert raw.cmd("PEXPIREAT", "foo", str(at - 1), "LT") == 1
    assert r.pexpiretime("foo") == at - 1
    assert raw.cmd("EXPIREAT", "foo", str(at // 1000 + 1000), "XX", "GT") == 1


def test_expire_option_errors(r, raw):
    r.set("foo", "bar")
    both = err("ERR NX and XX, GT or LT options at the same time are not compatible")
    assert raw.cmd("EXPIRE", "foo", "200", "LT", "GT") == err(
        "ERR GT and LT options at the same time are not compatible")
    assert raw.cmd("EXPIRE", "foo", "200", "NX", "GT") == both
    assert raw.cmd("EXPIRE", "foo", "200", "NX", "LT") == both
    assert raw.cmd("EXPIRE", "foo", "200", "NX", "XX") == both
    assert raw.cmd("PEXPIREAT", "foo", "200", "xx", "nx") == both
    assert raw.cmd("EXPIRE", "foo", "200", "AB") == err("ERR Unsupported option AB")
    assert raw.cmd("EXPIRE", "foo", "200", "XX", "ab") == err("ERR Unsupported option ab")
    # Options are checked before the time argument, as Redis does.
    assert raw.cmd("EXPIRE", "foo", "notanumber", "AB") == err("ERR Unsupported option AB")
    assert raw.cmd("EXPIRE", "nokey", "200", "NX", "XX") == both
    assert r.ttl("foo") == -1


def test_expire_time_argument_errors(r, raw):
    r.set("foo", "bar")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert raw.cmd(cmd, "foo", "") == NOT_INT
        assert raw.cmd(cmd, "foo", "1.5") == NOT_INT
        assert raw.cmd(cmd, "foo", "abc") == NOT_INT
        assert raw.cmd(cmd, "foo", " 10") == NOT_INT
        assert raw.cmd(cmd, "foo", "99999999999999999999") == NOT_INT
    assert r.ttl("foo") == -1


def test_expire_overflow(r, raw):
    r.set("foo", "bar")

    def bad(cmd):
        return err("ERR invalid expire time in '%s' command" % cmd)

    # when > LLONG_MAX - basetime
    assert raw.cmd("EXPIRE", "foo", "9223370399119966") == bad("expire")
    # when > LLONG_MAX / 1000
    assert raw.cmd("EXPIRE", "foo", "9223372036854776") == bad("expire")
    assert raw.cmd("EXPIRE", "foo", "10000000000000000") == bad("expire")
    assert raw.cmd("EXPIRE", "foo", "18446744073709561") == bad("expire")
    # when < LLONG_MIN / 1000
    assert raw.cmd("EXPIRE", "foo", "-9223372036854776") == bad("expire")
    assert raw.cmd("EXPIRE", "foo", "-9999999999999999") == bad("expire")
    assert raw.cmd("EXPIREAT", "foo", "9223372036854776") == bad("expireat")
    assert raw.cmd("PEXPIRE", "foo", "9223372036854770000") == bad("pexpire")
    assert raw.cmd("PEXPIRE", "foo", "9223372036854775807") == bad("pexpire")
    # Overflow is reported even for a missing key (checked first).
    assert raw.cmd("EXPIRE", "nokey", "9223372036854776") == bad("expire")
    assert r.ttl("foo") == -1
    # The largest absolute times are fine.
    assert raw.cmd("PEXPIREAT", "foo", "9223372036854770000") == 1
    assert raw.cmd("PEXPIRETIME", "foo") == 9223372036854770000
    assert raw.cmd("EXPIREAT", "foo", "9223372036854775") == 1
    assert raw.cmd("PEXPIRETIME", "foo") == 9223372036854775000


# ---- past times delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd,arg", [
    ("EXPIRE", "0"), ("EXPIRE", "-10"), ("PEXPIRE", "0"), ("PEXPIRE", "-1"), ("EXPIREAT", "0"),
    ("EXPIREAT", "1"), ("PEXPIREAT", "1000"), ("PEXPIREAT", "-9223372036854770000"),
])
def test_past_time_deletes(r, raw, cmd, arg):
    r.set("foo", "bar", ex=100)
    assert raw.cmd(cmd, "foo", arg) == 1
    assert raw.cmd("TTL", "foo") == -2
    assert r.exists("foo") == 0
    r.set("foo", "bar")
    assert raw.cmd(cmd, "foo", arg, "LT") == 1
    assert r.exists("foo") == 0


def test_past_time_respects_conditions(r, raw):
    r.set("foo", "bar", ex=100)
    assert raw.cmd("EXPIRE", "foo", "-10", "GT") == 0
    assert raw.cmd("EXPIRE", "foo", "-10", "NX") == 0
    assert r.exists("foo") == 1
    assert raw.cmd("EXPIRE", "foo", "-10", "XX") == 1
    assert r.exists("foo") == 0


def test_past_time_events(server, r):
    """An explicit past time is a deletion ("del"), not an expiry."""
    events = []
    r.config_set("notify-keyspace-events", "Egx")
    sub = server.client()
    ps = sub.pubsub()
    ps.psubscribe("__keyevent@0__:*")
    ps.get_message(timeout=2)
    try:
        r.set("foo", "bar")
        r.expire("foo", -1)
        r.set("bar", "x")
        r.pexpire("bar", 100000)
        deadline = time.time() + 3
        while len(events) < 2 and time.time() < deadline:
            m = ps.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                events.append((m["channel"], m["data"]))
        assert events == [(b"__keyevent@0__:del", b"foo"), (b"__keyevent@0__:expire", b"bar")]
    finally:
        r.config_set("notify-keyspace-events", "")
        ps.close()
        sub.close()


# ---- PERSIST ------------------------------------------------------------------------------------------------


def test_persist(r, raw):
    r.set("x", "foo")
    r.expire("x", 50)
    assert raw.cmd("TTL", "x") == 50
    assert raw.cmd("PERSIST", "x") == 1
    assert raw.cmd("TTL", "x") == -1
    assert r.get("x") == b"foo"
    assert raw.cmd("PERSIST", "x") == 0
    assert raw.cmd("PERSIST", "nokey") == 0


def test_persist_expired_key(r, raw, no_active_expire):
    r.set("x", "v", px=1)
    time.sleep(0.01)
    assert raw.cmd("PERSIST", "x") == 0
    assert r.dbsize() == 0


# ---- lazy and active expiry -----------------------------------------------------------------------------------


def test_lazy_expire(r, no_active_expire):
    for k in ("key1{t}", "key2{t}", "key3{t}"):
        r.set(k, "a", px=100)
    assert r.dbsize() == 3
    time.sleep(0.3)
    assert r.dbsize() == 3  # nobody touched them
    assert r.get("key1{t}") is None
    assert r.exists("key2{t}") == 0
    assert r.ttl("key3{t}") == -2
    assert r.dbsize() == 0


@pytest.mark.parametrize("probe", [
    lambda r: r.get("k"), lambda r: r.exists("k"), lambda r: r.ttl("k"), lambda r: r.pttl("k"),
    lambda r: r.type("k"), lambda r: r.touch("k"), lambda r: r.persist("k"), lambda r: r.expire("k", 100),
    lambda r: r.delete("k"), lambda r: r.object("encoding", "k"), lambda r: r.expiretime("k"),
])
def test_lazy_expire_on_every_access(r, no_active_expire, probe):
    r.set("k", "v", px=1)
    r.set("other", "v")
    time.sleep(0.01)
    assert r.dbsize() == 2
    probe(r)
    assert r.dbsize() == 1
    assert r.keys("*") == [b"other"]


def test_expired_keys_invisible_to_keys_and_scan(r, no_active_expire):
    r.set("live", "v")
    for i in range(20):
        r.set("dead%d" % i, "v", px=1)
    time.sleep(0.01)
    assert r.keys("*") == [b"live"]
    assert r.dbsize() == 21  # KEYS does not delete
    cur, keys = r.scan(0, count=1000)
    assert cur == 0 and keys == [b"live"]
    assert r.dbsize() == 1  # SCAN deletes what it meets


def test_expired_key_is_not_resurrected(r, raw, no_active_expire):
    r.set("foo", "bar")
    r.pexpire("foo", 100)
    time.sleep(0.2)
    assert raw.cmd("EXPIRE", "foo", "10") == 0
    assert r.exists("foo") == 0
    r.set("foo", "bar", px=1)
    time.sleep(0.01)
    assert raw.cmd("DEL", "foo") == 0


def test_active_expire(r):
    for i in range(3):
        r.set("key%d" % i, "a", px=300)
    assert r.dbsize() == 3
    assert wait_for(lambda: r.dbsize() == 0, 5)


def test_active_expire_many_keys_many_dbs(server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set("k%d" % i, "v", px=200)
    for i in range(100):
        pipe.set("keep%d" % i, "v")
    pipe.execute()
    c7 = server.client(db=7)
    p7 = c7.pipeline(transaction=False)
    for i in range(500):
        p7.set("z%d" % i, "v", px=200)
    p7.execute()
    assert wait_for(lambda: r.dbsize() == 100 and c7.dbsize() == 0, 10)
    c7.close()


def test_active_expire_disabled_and_enabled(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("a", "v", px=50)
        time.sleep(0.4)
        assert r.dbsize() == 1
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    assert wait_for(lambda: r.dbsize() == 0, 5)


def test_expired_event_lazy_and_active(server, r):
    r.config_set("notify-keyspace-events", "Ex")
    sub = server.client()
    ps = sub.pubsub()
    ps.psubscribe("__keyevent@0__:expired")
    ps.get_message(timeout=2)
    got = []
    try:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r.set("lazy", "v", px=1)
        time.sleep(0.01)
        assert r.get("lazy") is None
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        r.set("active", "v", px=50)
        deadline = time.time() + 5
        while len(got) < 2 and time.time() < deadline:
            m = ps.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                got.append(m["data"])
        assert got == [b"lazy", b"active"]
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        r.config_set("notify-keyspace-events", "")
        ps.close()
        sub.close()


def test_expired_keys_stat(r):
    before = r.info("stats")["expired_keys"]
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("a", "v", px=1)
        time.sleep(0.01)
        r.get("a")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    assert r.info("stats")["expired_keys"] == before + 1


# ---- expiry carried by key moves ----------------------------------------------------------------------------------


def test_rename_carries_expiry(r):
    r.set("a", "v", px=100000)
    at = r.pexpiretime("a")
    r.rename("a", "b")
    assert r.pexpiretime("b") == at
    r.set("c", "v")
    r.set("d", "v", ex=100)
    r.rename("c", "d")
    assert r.ttl("d") == -1


def test_renamenx_carries_expiry(r):
    r.set("a", "v", px=100000)
    at = r.pexpiretime("a")
    assert r.renamenx("a", "b") is True
    assert r.pexpiretime("b") == at


def test_renamed_key_still_expires(r):
    r.set("a", "v", px=100)
    r.rename("a", "b")
    time.sleep(0.15)
    assert r.get("b") is None
    assert wait_for(lambda: r.dbsize() == 0)


def test_move_and_copy_carry_expiry(server, r):
    c3 = server.client(db=3)
    r.set("m", "v", px=100000)
    at = r.pexpiretime("m")
    r.move("m", 3)
    assert c3.pexpiretime("m") == at
    r.set("c", "v", px=100000)
    at = r.pexpiretime("c")
    r.copy("c", "c2")
    r.copy("c", "c3", destination_db=3)
    assert r.pexpiretime("c2") == at
    assert c3.pexpiretime("c3") == at
    c3.close()


def test_swapdb_carries_expiry(server, r):
    c5 = server.client(db=5)
    r.set("x", "v", px=300)
    r.swapdb(0, 5)
    assert c5.pttl("x") > 0
    assert r.exists("x") == 0
    assert wait_for(lambda: c5.dbsize() == 0, 5)
    c5.close()


# ---- transactions ---------------------------------------------------------------------------------------------------


def test_expire_in_multi(r):
    r.set("a", "v")
    p = r.pipeline(transaction=True)
    p.expire("a", 100)
    p.pttl("a")
    p.persist("a")
    p.ttl("a")
    p.expire("a", 0)
    p.exists("a")
    res = p.execute()
    assert res[0] is True
    assert res[1] == 100000  # the clock is frozen inside EXEC
    assert res[2] is True
    assert res[3] == -1
    assert res[4] is True
    assert res[5] == 0


def test_watch_expire_aborts(server, r):
    r.set("w", "v")
    a = server.client()
    p = a.pipeline(transaction=True)
    p.watch("w")
    r.pexpire("w", 100000)
    p.multi()
    p.get("w")
    with pytest.raises(redis.WatchError):
        p.execute()
    a.close()


def test_arity_errors(raw):
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert raw.cmd(cmd, "k") == err("ERR wrong number of arguments for '%s' command" % cmd.lower())
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        assert raw.cmd(cmd) == err("ERR wrong number of arguments for '%s' command" % cmd.lower())
        assert raw.cmd(cmd, "a", "b") == err("ERR wrong number of arguments for '%s' command" % cmd.lower())


def test_many_volatile_keys_update_and_persist(r):
    """Volatile bookkeeping stays right through many set/change/remove cycles."""
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("v%d" % i, "x", ex=1000)
    pipe.execute()
    pipe = r.pipeline(transaction=False)
    for i in range(0, 1000, 2):
        pipe.persist("v%d" % i)
    for i in range(1, 1000, 4):
        pipe.pexpire("v%d" % i, 1)
    pipe.execute()
    time.sleep(0.05)
    assert wait_for(lambda: r.dbsize() == 750)
    info = r.info("keyspace")["db0"]
    assert info["keys"] == 750
    assert info["expires"] == 250
    assert all(r.ttl("v%d" % i) == -1 for i in range(0, 1000, 2))
    assert all(r.ttl("v%d" % i) > 0 for i in range(3, 1000, 4))
