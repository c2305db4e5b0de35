"""GEO family on sorted sets: GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH
GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER and the _RO forms, errors,
events; scores, hashes, positions, distances and search results compared
with a real redis-server 7.0.15 for the same inputs (skipped when
/usr/bin/redis-server is absent)."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Raw, RespError, Server, free_port


def E(msg):
    return RespError(msg)


SYNTAX = E("ERR syntax error")
WRONGTYPE = E("WRONGTYPE Operation against a key holding the wrong kind of value")


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
    c.close()


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def ref():
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


SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]


def test_geoadd_is_zadd_with_geohash_scores(raw):
    assert raw.cmd("GEOADD", "Sicily", *SICILY) == 2
    assert raw.cmd("ZRANGE", "Sicily", "0", "-1", "WITHSCORES") == \
        [b"Palermo", b"3479099956230698", b"Catania", b"3479447370796909"]
    assert raw.cmd("TYPE", "Sicily") == b"zset"
    assert raw.cmd("GEOADD", "Sicily", "NX", "13.5", "38.1", "Palermo") == 0
    assert raw.cmd("GEOADD", "Sicily", "XX", "CH", "13.5", "38.1", "Palermo", "1", "1", "New") == 1
    assert raw.cmd("ZSCORE", "Sicily", "New") is None
    assert raw.cmd("GEOADD", "Sicily", "NX", "XX", "1", "1", "a") == SYNTAX
    assert raw.cmd("GEOADD", "Sicily", "1", "1") == E("ERR wrong number of arguments for 'geoadd' command")
    assert raw.cmd("GEOADD", "Sicily", "1", "1", "a", "2") == SYNTAX
    assert raw.cmd("GEOADD", "Sicily", "200", "1", "a") == \
        E("ERR invalid longitude,latitude pair 200.000000,1.000000")
    assert raw.cmd("GEOADD", "Sicily", "1", "86", "a") == E("ERR invalid longitude,latitude pair 1.000000,86.000000")
    assert raw.cmd("GEOADD", "Sicily", "x", "1", "a") == E("ERR value is not a valid float")
    raw.cmd("SET", "s", "x")
    assert raw.cmd("GEOADD", "s", "1", "1", "a") == WRONGTYPE


def test_geopos_geohash_geodist(raw):
    raw.cmd("GEOADD", "Sicily", *SICILY)
    assert raw.cmd("GEOPOS", "Sicily", "Palermo", "nope") == \
        [[b"13.36138933897018433", b"38.11555639549629859"], None]
    assert raw.cmd("GEOHASH", "Sicily", "Palermo", "Catania", "nope") == [b"sqc8b49rny0", b"sqdtr74hyu0", None]
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "Catania", "MI") == b"103.3182"
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "Palermo") == b"0.0000"
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "nope") is None
    assert raw.cmd("GEODIST", "nokey", "a", "b") is None
    assert raw.cmd("GEODIST", "Sicily", "Palermo", "Catania", "yd") == \
        E("ERR unsupported unit provided. please use M, KM, FT, MI")
    assert raw.cmd("GEODIST", "Sicily", "a", "b", "m", "x") == SYNTAX
    assert raw.cmd("GEOPOS", "nokey", "a") == [None]
    assert raw.cmd("GEOHASH", "nokey", "a") == [None]


def test_geopos_resp3_doubles(make_raw):
    c = make_raw()
    c.cmd("HELLO", "3")
    c.cmd("GEOADD", "Sicily", *SICILY)
    assert c.cmd("GEOPOS", "Sicily", "Palermo") == [[13.36138933897018433, 38.11555639549629859]]
    assert c.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC",
                 "WITHDIST", "WITHCOORD") == \
        [[b"Catania", b"56.4413", [15.08726745843887329, 37.50266842333162032]],
         [b"Palermo", b"190.4424", [13.36138933897018433, 38.11555639549629859]]]


def test_geosearch_and_georadius(raw):
    raw.cmd("GEOADD", "Sicily", *SICILY)
    assert raw.cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC") == \
        [[b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]]
    assert raw.cmd("GEORADIUS", "Sicily", "15", "37", "100", "km") == [b"Catania"]
    assert raw.cmd("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "COUNT", "1") == [b"Catania"]
    assert raw.cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "DESC", "WITHHASH") == \
        [[b"Catania", 3479447370796909], [b"Palermo", 3479099956230698]]
    assert raw.cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "ASC") == \
        [b"Palermo", b"Catania"]
    assert raw.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "ANY") \
        in ([b"Palermo"], [b"Catania"])
    assert raw.cmd("GEOSEARCH", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km") == []
    assert raw.cmd("GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km") == E("ERR could not decode requested zset member")


def test_search_errors(raw):
    raw.cmd("GEOADD", "Sicily", *SICILY)
    g = ["GEOSEARCH", "Sicily"]
    assert raw.cmd(*g, "BYRADIUS", "10", "km", "ASC", "WITHDIST") == \
        E("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH")
    assert raw.cmd("geosearch", "Sicily", "FROMLONLAT", "1", "1", "ASC", "WITHDIST") == \
        E("ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km") == SYNTAX
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km") == SYNTAX
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "-1", "km") == E("ERR radius cannot be negative")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "x", "km") == E("ERR need numeric radius")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYBOX", "x", "1", "km") == E("ERR need numeric width")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYBOX", "1", "x", "km") == E("ERR need numeric height")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYBOX", "-1", "1", "km") == E("ERR height or width cannot be negative")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "COUNT", "0") == E("ERR COUNT must be > 0")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "ANY") == \
        E("ERR the ANY argument requires COUNT argument")
    assert raw.cmd(*g, "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "x") == SYNTAX
    assert raw.cmd("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "WITHDIST") == \
        E("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    assert raw.cmd("GEORADIUS", "Sicily", "1", "1", "1", "km", "STORE", "d", "WITHCOORD") == \
        E("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    assert raw.cmd("GEORADIUS_RO", "Sicily", "1", "1", "1", "km", "STORE", "d") == SYNTAX
    assert raw.cmd("GEORADIUS", "Sicily", "1", "1", "1", "yd") == \
        E("ERR unsupported unit provided. please use M, KM, FT, MI")
    raw.cmd("SET", "s", "x")
    assert raw.cmd("GEOSEARCH", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km") == WRONGTYPE
    assert raw.cmd("GEOPOS", "s", "a") == WRONGTYPE


def test_store_variants_and_events(raw, make_raw):
    raw.cmd("GEOADD", "Sicily", *SICILY)
    assert raw.cmd("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km") == 2
    assert raw.cmd("ZRANGE", "d", "0", "-1", "WITHSCORES") == \
        [b"Palermo", b"3479099956230698", b"Catania", b"3479447370796909"]
    assert raw.cmd("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                   "STOREDIST", "ASC", "COUNT", "1") == 1
    assert raw.cmd("ZRANGE", "d", "0", "-1", "WITHSCORES") == [b"Catania", b"56.441257870158204"]
    assert raw.cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d2") == 2
    assert raw.cmd("OBJECT", "ENCODING", "d2") == b"listpack"
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "KEAn")
    sub = make_raw()
    sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
    raw.cmd("GEOADD", "g", "1", "1", "a")
    raw.cmd("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km")
    raw.cmd("GEORADIUS", "g", "1", "1", "1", "km", "STORE", "d3")
    raw.cmd("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "50", "50", "BYRADIUS", "1", "km")
    raw.cmd("PUBLISH", "__keyevent@0__:end", "x")
    got = []
    while True:
        m = sub.read_reply()
        ev = m[2].decode().split(":", 1)[1]
        if ev == "end":
            break
        got.append((ev, m[3]))
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    assert got == [("new", b"g"), ("zadd", b"g"), ("geosearchstore", b"d"), ("new", b"d3"),
                   ("georadiusstore", b"d3"), ("del", b"d")]


def random_geo_commands(rnd, n):
    cx, cy = rnd.uniform(-170, 170), rnd.uniform(-80, 80)
    spread = rnd.choice([0.01, 1, 20])

    def lon():
        return "%.6f" % max(-180, min(180, cx + rnd.uniform(-spread, spread)))

    def lat():
        return "%.6f" % max(-85, min(85, cy + rnd.uniform(-spread, spread)))

    def mem():
        return "p%d" % rnd.randint(0, 100)

    def unit():
        return rnd.choice(["m", "km", "mi", "ft"])

    def rad():
        return str(rnd.choice([0, 1, 100, 1000, 50000, 500000, 5000000]))

    out = []
    for _ in range(n):
        c = rnd.randint(0, 9)
        if c < 3:
            cmd = ["GEOADD", "g"]
            for _ in range(rnd.randint(1, 4)):
                cmd += [lon(), lat(), mem()]
        elif c == 3:
            cmd = ["GEODIST", "g", mem(), mem(), unit()]
        elif c == 4:
            cmd = ["GEOHASH", "g", mem(), mem()]
        elif c == 5:
            cmd = ["GEOPOS", "g", mem()]
        elif c in (6, 7):
            cmd = ["GEOSEARCH", "g"]
            cmd += ["FROMMEMBER", mem()] if rnd.random() < .5 else ["FROMLONLAT", lon(), lat()]
            cmd += ["BYRADIUS", rad(), unit()] if rnd.random() < .5 else ["BYBOX", rad(), rad(), unit()]
            cmd += [rnd.choice(["ASC", "DESC"]), "WITHDIST", "WITHHASH", "WITHCOORD"]
            if rnd.random() < 0.4:
                cmd += ["COUNT", str(rnd.randint(1, 5))]
        elif c == 8:
            cmd = ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", lon(), lat(), "BYRADIUS", rad(), unit(), "STOREDIST"]
        else:
            cmd = ["GEORADIUSBYMEMBER", "g", mem(), rad(), unit(), "WITHDIST", "COUNT", "3", "DESC"]
        out.append(cmd)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_same_results_as_redis(raw, ref, seed):
    red = Raw(ref)
    red.cmd("FLUSHALL")
    for cmd in random_geo_commands(random.Random(seed), 800):
        assert raw.cmd(*cmd) == red.cmd(*cmd), cmd
    for k in ("g", "d"):
        assert raw.cmd("DEBUG", "DIGEST-VALUE", k) == red.cmd("DEBUG", "DIGEST-VALUE", k)
    red.close()


def test_geohash_and_distance_grid_against_redis(raw, ref):
    red = Raw(ref)
    red.cmd("FLUSHALL")
    rnd = random.Random(9)
    args = []
    for i in range(300):
        args += ["%.7f" % rnd.uniform(-180, 180), "%.7f" % rnd.uniform(-85.05112878, 85.05112878), "m%d" % i]
    args += ["-180", "-85.05112878", "corner1", "180", "85.05112878", "corner2", "0", "0", "origin"]
    for c in (raw, red):
        c.cmd("GEOADD", "w", *args)
    names = ["m%d" % i for i in range(300)] + ["corner1", "corner2", "origin"]
    assert raw.cmd("GEOHASH", "w", *names) == red.cmd("GEOHASH", "w", *names)
    assert raw.cmd("GEOPOS", "w", *names) == red.cmd("GEOPOS", "w", *names)
    for i in range(0, 300, 7):
        for u in ("m", "km", "mi", "ft"):
            cmd = ["GEODIST", "w", names[i], names[(i * 13) % len(names)], u]
            assert raw.cmd(*cmd) == red.cmd(*cmd), cmd
    red.close()
