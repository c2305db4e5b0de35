"""MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis 7.0's semantics (the
`multi` unit of the Redis test suite, plus the atomicity of EXEC across
stripes on a multi-threaded server)."""
import threading
import time

import pytest

from conftest import RespError

ARITY = "ERR wrong number of arguments for '%s' command"


def test_basics(r, raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "a", "1") == b"QUEUED"
    assert raw.cmd("SET", "b{x}", "2") == b"QUEUED"
    assert raw.cmd("GET", "a") == b"QUEUED"
    assert raw.cmd("DEL", "a", "b{x}", "missing") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK", b"OK", b"1", 2]
    assert raw.cmd("EXEC") == RespError("ERR EXEC without MULTI")


def test_empty_transaction(raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []


def test_discard(r, raw):
    r.set("d", "orig")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "d", "new") == b"QUEUED"
    assert raw.cmd("DISCARD") == b"OK"
    assert r.get("d") == b"orig"
    assert raw.cmd("DISCARD") == RespError("ERR DISCARD without MULTI")
    assert raw.cmd("GET", "d") == b"orig"


def test_nested_multi_and_watch_inside_multi_do_not_abort(raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("MULTI") == RespError("ERR MULTI calls can not be nested")
    assert raw.cmd("WATCH", "x") == RespError("ERR WATCH inside MULTI is not allowed")
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"PONG"]


@pytest.mark.parametrize("bad,err", [
    (("NOSUCHCMD", "a"), "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' "),
    (("GET",), ARITY % "get"),
    (("SET", "k"), ARITY % "set"),
    (("PUBSUB", "nope"), "ERR unknown subcommand 'nope'. Try PUBSUB HELP."),
])
def test_queueing_errors_abort_exec(r, raw, bad, err):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "q1", "v") == b"QUEUED"
    assert raw.cmd(*bad) == RespError(err)
    assert raw.cmd("SET", "q2", "v") == b"QUEUED"
    assert raw.cmd("EXEC") == RespError("EXECABORT Transaction discarded because of previous errors.")
    assert r.get("q1") is None and r.get("q2") is None
    # the MULTI state is cleared
    assert raw.cmd("EXEC") == RespError("ERR EXEC without MULTI")
    assert raw.cmd("PING") == b"PONG"


def test_runtime_errors_do_not_stop_the_transaction(r, raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "r1", "1") == b"QUEUED"
    assert raw.cmd("SET", "r2", "2", "BADOPT") == b"QUEUED"
    assert raw.cmd("SELECT", "99") == b"QUEUED"
    assert raw.cmd("SET", "r3", "3") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK", RespError("ERR syntax error"), RespError("ERR DB index is out of range"),
                               b"OK"]
    assert r.get("r1") == b"1" and r.get("r2") is None and r.get("r3") == b"3"


def test_exec_arity_error_is_execabort(raw):
    assert raw.cmd("EXEC", "x") == RespError(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "k", "v") == b"QUEUED"
    assert raw.cmd("EXEC", "x") == RespError(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    assert raw.cmd("EXEC") == RespError("ERR EXEC without MULTI")


def test_select_inside_multi(r, raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SELECT", "5") == b"QUEUED"
    assert raw.cmd("SET", "s5", "x") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK", b"OK"]
    assert raw.cmd("GET", "s5") == b"x"  # the SELECT stays in effect
    assert raw.cmd("DEL", "s5") == 1
    assert raw.cmd("SELECT", "0") == b"OK"


def test_pipelined_transaction(r, raw):
    raw.send(b"MULTI\r\nSET p 1\r\nGET p\r\nEXEC\r\nGET p\r\n")
    assert [raw.read_reply() for _ in range(5)] == [b"OK", b"QUEUED", b"QUEUED", [b"OK", b"1"], b"1"]


# ---- WATCH ---------------------------------------------------------------------------------------------

def test_watch_unmodified_key(r, raw):
    r.set("w", "1")
    assert raw.cmd("WATCH", "w") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "w", "2") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK"]


@pytest.mark.parametrize("watched", [["w"], ["a", "b", "w", "c", "d"]])
def test_watch_modified_key_fails_exec(r, raw, watched):
    r.set("w", "1")
    assert raw.cmd("WATCH", *watched) == b"OK"
    r.set("w", "other")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "w", "2") == b"QUEUED"
    assert raw.cmd("EXEC") is None
    assert r.get("w") == b"other"


def test_watch_deleted_key_fails_exec(r, raw):
    r.set("w", "1")
    assert raw.cmd("WATCH", "w") == b"OK"
    r.delete("w")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("GET", "w") == b"QUEUED"
    assert raw.cmd("EXEC") is None


def test_watch_missing_key_then_created(r, raw):
    assert raw.cmd("WATCH", "nokey") == b"OK"
    r.set("nokey", "1")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") is None


def test_failed_exec_in_resp3_is_a_null(r, raw):
    raw.cmd("HELLO", "3")
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "1")
    assert raw.cmd("MULTI") == b"OK"
    raw.send(b"EXEC\r\n")
    assert raw.read_line() == b"_"
    raw.cmd("HELLO", "2")


def test_after_exec_keys_are_no_longer_watched(r, raw):
    assert raw.cmd("WATCH", "x") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []
    r.set("x", "1")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"PONG"]
    # after a failed EXEC too
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "2")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") is None
    r.set("x", "3")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []


def test_unwatch(r, raw):
    assert raw.cmd("UNWATCH") == b"OK"  # nothing watched
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "1")
    assert raw.cmd("UNWATCH") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []


def test_discard_clears_the_dirty_watch(r, raw):
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "1")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("DISCARD") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []
    # and unwatches everything
    assert raw.cmd("WATCH", "y") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("DISCARD") == b"OK"
    r.set("y", "1")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") == []


def test_watch_remembers_the_db(r, raw):
    assert raw.cmd("SELECT", "3") == b"OK"
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "db0")  # another db: not a change of the watched key
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"PONG"]
    assert raw.cmd("SELECT", "0") == b"OK"


def test_watch_stale_key_does_not_fail_exec(r, raw):
    r.set("stale", "v", px=1)
    time.sleep(0.05)
    assert raw.cmd("WATCH", "stale") == b"OK"
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"PONG"]


def test_watched_key_that_expires_fails_exec(r, raw):
    r.set("exp", "v", px=100)
    assert raw.cmd("WATCH", "exp") == b"OK"
    time.sleep(0.3)
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") is None


def test_set_with_expire_touches_watched_key(r, raw):
    r.set("x", "v")
    assert raw.cmd("WATCH", "x") == b"OK"
    r.set("x", "v", ex=100)
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") is None


@pytest.mark.parametrize("flush", ["FLUSHALL", "FLUSHDB"])
def test_flush_touches_watched_keys(r, raw, flush):
    r.set("x", "v")
    assert raw.cmd("WATCH", "x") == b"OK"
    r.execute_command(flush)
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") is None


@pytest.mark.parametrize("flush", ["FLUSHALL", "FLUSHDB"])
def test_flush_does_not_touch_missing_watched_keys(r, raw, flush):
    assert raw.cmd("WATCH", "x") == b"OK"
    r.execute_command(flush)
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"PONG"]


def test_flushall_while_watching_several_keys(r, raw):
    r.set("a", "1")
    r.set("b{z}", "2")
    assert raw.cmd("WATCH", "a", "b{z}", "c") == b"OK"
    r.flushall()
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("PING") == b"QUEUED"
    assert raw.cmd("EXEC") is None


def test_flushdb_inside_multi_is_atomic(r, raw):
    r.set("a", "1")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "b", "2") == b"QUEUED"
    assert raw.cmd("FLUSHDB") == b"QUEUED"
    assert raw.cmd("SET", "c", "3") == b"QUEUED"
    assert raw.cmd("DBSIZE") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"OK", b"OK", b"OK", 1]


def test_watch_and_modify_in_own_transaction(r, raw):
    r.set("x", "1")
    assert raw.cmd("WATCH", "x") == b"OK"
    assert raw.cmd("SET", "x", "2") == b"OK"  # our own change also counts
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("EXEC") is None


# ---- OOM ------------------------------------------------------------------------------------------------

def test_exec_with_oom(r, raw):
    r.set("x", "1")
    r.config_set("maxmemory-policy", "noeviction")
    try:
        # queued while memory was fine; OOM at EXEC time
        assert raw.cmd("MULTI") == b"OK"
        assert raw.cmd("GET", "x") == b"QUEUED"
        r.config_set("maxmemory", "1")
        assert raw.cmd("EXEC") == [b"1"]  # only reads: not rejected
        r.config_set("maxmemory", "0")
        assert raw.cmd("MULTI") == b"OK"
        assert raw.cmd("SET", "x", "2") == b"QUEUED"
        r.config_set("maxmemory", "1")
        err = raw.cmd("EXEC")
        assert err == RespError(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.")
        # queueing is refused under OOM, leaving the transaction is not
        assert raw.cmd("MULTI") == b"OK"
        assert raw.cmd("GET", "x") == RespError("OOM command not allowed when used memory > 'maxmemory'.")
        assert raw.cmd("DISCARD") == b"OK"
    finally:
        r.config_set("maxmemory", "0")
    assert r.get("x") == b"1"


# ---- pub/sub context and transactions -----------------------------------------------------------------

def test_publish_inside_multi_is_delivered_after_exec_in_order(r, make_raw):
    sub = make_raw()
    sub.send(b"SUBSCRIBE ch\r\n")
    assert sub.read_reply() == [b"subscribe", b"ch", 1]
    pub = make_raw()
    assert pub.cmd("MULTI") == b"OK"
    for i in range(5):
        assert pub.cmd("PUBLISH", "ch", str(i)) == b"QUEUED"
    assert pub.cmd("EXEC") == [1] * 5
    for i in range(5):
        assert sub.read_reply() == [b"message", b"ch", str(i).encode()]


def test_subscribe_inside_multi(r, make_raw):
    c = make_raw()
    assert c.cmd("MULTI") == b"OK"
    assert c.cmd("SUBSCRIBE", "mch") == b"QUEUED"
    assert c.cmd("EXEC") == [[b"subscribe", b"mch", 1]]
    assert r.publish("mch", "hi") == 1
    assert c.read_reply() == [b"message", b"mch", b"hi"]


def test_ssubscribe_inside_multi_is_refused(raw):
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SSUBSCRIBE", "s") == b"QUEUED"
    assert raw.cmd("EXEC") == [RespError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")]


# ---- atomicity across stripes and workers ---------------------------------------------------------------

def test_other_clients_never_see_half_a_transaction(server):
    """Writers move units between keys in many slots inside MULTI; readers
    read all keys in one MULTI and must always see the same total."""
    keys = ["acct:%d" % i for i in range(16)]  # different slots and stripes
    setup = server.client()
    for k in keys:
        setup.set(k, 100)
    stop = time.time() + 2.0
    errors = []

    def writer(seed):
        c = server.client()
        i = seed
        while time.time() < stop:
            a, b = keys[i % 16], keys[(i * 7 + 3) % 16]
            i += 1
            if a == b:
                continue
            # a transfer: read both under WATCH, write both in MULTI
            c.execute_command("WATCH", a, b)
            va, vb = int(c.get(a)), int(c.get(b))
            p = c.pipeline(transaction=True)
            p.set(a, va - 1)
            p.set(b, vb + 1)
            try:
                p.execute()
            except Exception as e:  # WatchError: someone else moved first
                if "Watched variable changed" not in str(e):
                    errors.append(e)

    def reader():
        c = server.client()
        while time.time() < stop:
            p = c.pipeline(transaction=True)
            for k in keys:
                p.get(k)
            vals = p.execute()
            total = sum(int(v) for v in vals)
            if total != 1600:
                errors.append("saw total %d: %r" % (total, vals))
                return

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)] + \
              [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(int(setup.get(k)) for k in keys) == 1600
