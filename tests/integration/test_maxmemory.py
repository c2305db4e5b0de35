"""maxmemory and the eight eviction policies, through the real server."""
import pytest
import redis

from conftest import RespError

VAL = "x" * 200


def used(r):
    return r.info("memory")["used_memory"]


def fill(r, prefix, n, ttl=None):
    p = r.pipeline(transaction=False)
    for i in range(n):
        if ttl:
            p.set("%s:%d" % (prefix, i), VAL, ex=ttl)
        else:
            p.set("%s:%d" % (prefix, i), VAL)
    p.execute()


@pytest.fixture
def mm(r):
    yield r
    r.config_set("maxmemory", 0)
    r.config_set("maxmemory-policy", "noeviction")


def test_noeviction_refuses_writes_with_redis_error(mm, raw):
    r = mm
    fill(r, "a", 2000)
    r.config_set("maxmemory", used(r) - 100 * 1024)
    r.config_set("maxmemory-policy", "noeviction")
    assert raw.cmd("SET", "new", "v") == RespError("OOM command not allowed when used memory > 'maxmemory'.")
    # Reads and deletes still work.
    assert raw.cmd("GET", "a:1") == VAL.encode()
    assert raw.cmd("DEL", "a:1") == 1
    assert r.info("stats")["evicted_keys"] == 0


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_keep_memory_under_limit(mm, policy):
    r = mm
    r.config_set("maxmemory-policy", policy)
    base = used(r)
    limit = base + 1024 * 1024
    r.config_set("maxmemory", limit)
    fill(r, "k", 20000)
    # Writes never fail: keys are evicted instead.
    assert used(r) <= limit + 512 * 1024
    assert r.info("stats")["evicted_keys"] > 0
    assert r.dbsize() < 20000


def test_volatile_policies_only_evict_keys_with_ttl(mm):
    r = mm
    r.config_set("maxmemory-policy", "volatile-lru")
    fill(r, "keep", 500)
    fill(r, "tmp", 3000, ttl=1000)
    r.config_set("maxmemory", used(r) - 256 * 1024)
    fill(r, "more", 200)
    evicted = r.info("stats")["evicted_keys"]
    assert evicted > 0
    assert all(r.exists("keep:%d" % i) for i in range(500))


def test_volatile_without_candidates_is_oom(mm, raw):
    r = mm
    r.config_set("maxmemory-policy", "volatile-random")
    fill(r, "p", 2000)
    r.config_set("maxmemory", used(r) - 100 * 1024)
    assert raw.cmd("SET", "new", "v") == RespError("OOM command not allowed when used memory > 'maxmemory'.")


def test_volatile_ttl_prefers_shortest_ttl(mm):
    r = mm
    r.config_set("maxmemory-policy", "volatile-ttl")
    fill(r, "long", 1000, ttl=100000)
    fill(r, "short", 1000, ttl=1000)
    r.config_set("maxmemory", used(r) - 128 * 1024)
    fill(r, "x", 100)
    short_left = sum(r.exists("short:%d" % i) for i in range(1000))
    long_left = sum(r.exists("long:%d" % i) for i in range(1000))
    assert short_left < long_left


def test_lru_keeps_recently_used_keys(mm):
    r = mm
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory-samples", 10)
    fill(r, "old", 3000)
    hot = ["old:%d" % i for i in range(100)]
    # Age the rest, then touch the hot keys (LRU clock has 1 s resolution).
    import time
    time.sleep(2.2)
    for k in hot:
        r.get(k)
    r.config_set("maxmemory", used(r) - 256 * 1024)
    fill(r, "new", 500)
    hot_left = sum(r.exists(k) for k in hot)
    cold_left = sum(r.exists("old:%d" % i) for i in range(1000, 1100))
    assert hot_left > cold_left


def test_object_freq_and_idletime_follow_policy(mm, raw):
    r = mm
    r.set("f", "v")
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.set("f", "v")
    for _ in range(50):
        r.get("f")
    assert raw.cmd("OBJECT", "FREQ", "f") > 1
    err = raw.cmd("OBJECT", "IDLETIME", "f")
    assert isinstance(err, RespError)
    r.config_set("maxmemory-policy", "allkeys-lru")
    assert raw.cmd("OBJECT", "IDLETIME", "f") >= 0


def test_bad_policy_is_rejected(r, raw):
    reply = raw.cmd("CONFIG", "SET", "maxmemory-policy", "nope")
    assert str(reply).startswith("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
                                 "argument(s) must be one of the following:")
    assert raw.cmd("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"noeviction"]


def test_lowering_maxmemory_evicts_at_once(mm):
    r = mm
    r.config_set("maxmemory-policy", "allkeys-random")
    fill(r, "z", 2000)
    r.config_set("maxmemory", used(r) - 200 * 1024)
    # No write needed: CONFIG SET itself made room.
    assert r.info("stats")["evicted_keys"] > 0
    assert r.dbsize() < 2000
