"""memcached binary protocol: every opcode memcached 1.6 answers, the quiet
forms, status codes and messages, CAS and opaque echo, malformed frames and
where the connection closes.

Expectations are memcached 1.6.18's (MC_REFERENCE=1 runs them against it).
"""
import struct

import pytest

from memcache_support import McServer, bin_read, bin_req, stash_only

GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION, GETK, GETKQ, APPEND, PREPEND, \
    STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ = \
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, \
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a
TOUCH, GAT, GATQ, SASL_LIST, SASL_AUTH, SASL_STEP, GATK, GATKQ = 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x22, 0x23, 0x24
OK, ENOENT, EEXISTS, E2BIG, EINVAL, NOT_STORED, BADVAL, UNKNOWN = 0, 1, 2, 3, 4, 5, 6, 0x81


@pytest.fixture(scope="module")
def srv():
    s = McServer()
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def raw(srv):
    r = srv.raw()
    r.send(bin_req(FLUSH))
    assert bin_read(r)["status"] == OK
    yield r
    r.close()


def setx(op, key, val, flags=0, exp=0, cas=0, opaque=0):
    return bin_req(op, key, val, struct.pack(">II", flags, exp), cas, opaque)


def arith(op, key, delta, initial=0, exp=0, cas=0):
    return bin_req(op, key, b"", struct.pack(">QQI", delta, initial, exp), cas)


def one(raw, data):
    raw.send(data)
    return bin_read(raw)


def test_set_get_getk_with_opaque_and_cas(raw):
    p = one(raw, setx(SET, b"a", b"hello", flags=7, opaque=0x11223344))
    assert (p["magic"], p["op"], p["status"], p["opaque"], p["value"]) == (0x81, SET, OK, 0x11223344, b"")
    assert p["cas"] != 0
    g = one(raw, bin_req(GET, b"a", opaque=9))
    assert (g["status"], g["ext"], g["key"], g["value"], g["opaque"]) == (OK, struct.pack(">I", 7), b"", b"hello", 9)
    assert g["cas"] == p["cas"]
    k = one(raw, bin_req(GETK, b"a"))
    assert (k["key"], k["value"]) == (b"a", b"hello")


def test_get_misses(raw):
    g = one(raw, bin_req(GET, b"nope"))
    assert (g["status"], g["key"], g["value"]) == (ENOENT, b"", b"Not found")
    k = one(raw, bin_req(GETK, b"nope"))
    assert (k["status"], k["key"], k["value"]) == (ENOENT, b"nope", b"")


def test_quiet_gets_answer_only_hits(raw):
    one(raw, setx(SET, b"a", b"1"))
    raw.send(bin_req(GETQ, b"nope") + bin_req(GETQ, b"a") + bin_req(GETKQ, b"a") + bin_req(GETKQ, b"x") +
             bin_req(NOOP))
    g, k, n = bin_read(raw), bin_read(raw), bin_read(raw)
    assert (g["op"], g["value"]) == (GETQ, b"1")
    assert (k["op"], k["key"], k["value"]) == (GETKQ, b"a", b"1")
    assert n["op"] == NOOP


def test_add_replace_and_quiet_updates(raw):
    assert one(raw, setx(ADD, b"a", b"x"))["status"] == OK
    e = one(raw, setx(ADD, b"a", b"y"))
    assert (e["status"], e["value"]) == (EEXISTS, b"Data exists for key.")
    r = one(raw, setx(REPLACE, b"b", b"y"))
    assert (r["status"], r["value"]) == (ENOENT, b"Not found")
    # quiet forms: silent on success, errors still answered
    raw.send(setx(SETQ, b"q", b"1") + setx(ADDQ, b"q", b"2") + setx(REPLACEQ, b"q", b"3") +
             setx(REPLACEQ, b"zz", b"3") + bin_req(NOOP))
    a, r2, n = bin_read(raw), bin_read(raw), bin_read(raw)
    assert (a["op"], a["status"]) == (ADDQ, EEXISTS)
    assert (r2["op"], r2["status"]) == (REPLACEQ, ENOENT)
    assert n["op"] == NOOP
    assert one(raw, bin_req(GET, b"q"))["value"] == b"3"


def test_cas(raw):
    cas = one(raw, setx(SET, b"a", b"x"))["cas"]
    assert one(raw, setx(SET, b"a", b"y", cas=cas + 1))["status"] == EEXISTS
    p = one(raw, setx(SET, b"a", b"y", cas=cas))
    assert p["status"] == OK and p["cas"] not in (0, cas)
    assert one(raw, setx(REPLACE, b"b", b"y", cas=12345))["status"] == ENOENT
    assert one(raw, bin_req(DELETE, b"a", cas=cas))["status"] == EEXISTS
    assert one(raw, bin_req(DELETE, b"a", cas=p["cas"]))["status"] == OK


def test_delete(raw):
    one(raw, setx(SET, b"a", b"x"))
    assert one(raw, bin_req(DELETE, b"a"))["status"] == OK
    d = one(raw, bin_req(DELETE, b"a"))
    assert (d["status"], d["value"]) == (ENOENT, b"Not found")
    raw.send(bin_req(DELETEQ, b"a") + bin_req(NOOP))
    assert bin_read(raw)["status"] == ENOENT  # errors of quiet forms are answered
    assert bin_read(raw)["op"] == NOOP


def test_incr_decr(raw):
    p = one(raw, arith(INCR, b"n", 5, initial=10))  # created with the initial value
    assert (p["status"], p["value"]) == (OK, struct.pack(">Q", 10)) and p["cas"] != 0
    assert one(raw, arith(INCR, b"n", 5))["value"] == struct.pack(">Q", 15)
    assert one(raw, arith(DECR, b"n", 100))["value"] == struct.pack(">Q", 0)
    m = one(raw, arith(INCR, b"m", 1, exp=0xffffffff))  # no creation
    assert (m["status"], m["value"]) == (ENOENT, b"Not found")
    one(raw, setx(SET, b"s", b"x"))
    b = one(raw, arith(INCR, b"s", 1))
    assert (b["status"], b["value"]) == (BADVAL, b"Non-numeric server-side value for incr or decr")
    raw.send(arith(INCRQ, b"n", 1) + arith(DECRQ, b"n", 1) + bin_req(NOOP))
    assert bin_read(raw)["op"] == NOOP
    g = one(raw, bin_req(GET, b"n"))
    assert g["value"].rstrip() == b"0"
    cas = g["cas"]
    assert one(raw, arith(INCR, b"n", 1, cas=cas + 1))["status"] == EEXISTS
    assert one(raw, arith(INCR, b"n", 1, cas=cas))["status"] == OK


def test_append_prepend(raw):
    one(raw, setx(SET, b"a", b"x", flags=3))
    assert one(raw, bin_req(APPEND, b"a", b"yz"))["status"] == OK
    assert one(raw, bin_req(PREPEND, b"a", b"w"))["status"] == OK
    g = one(raw, bin_req(GET, b"a"))
    assert (g["value"], g["ext"]) == (b"wxyz", struct.pack(">I", 3))
    n = one(raw, bin_req(APPEND, b"b", b"q"))
    assert (n["status"], n["value"]) == (NOT_STORED, b"Not stored.")
    raw.send(bin_req(APPENDQ, b"a", b"1") + bin_req(PREPENDQ, b"a", b"0") + bin_req(NOOP))
    assert bin_read(raw)["op"] == NOOP
    assert one(raw, bin_req(GET, b"a"))["value"] == b"0wxyz1"


def test_touch_gat(raw):
    one(raw, setx(SET, b"a", b"x", flags=3))
    t = one(raw, bin_req(TOUCH, b"a", ext=struct.pack(">I", 100)))
    assert (t["status"], t["ext"], t["value"]) == (OK, struct.pack(">I", 3), b"")
    g = one(raw, bin_req(GAT, b"a", ext=struct.pack(">I", 100)))
    assert (g["ext"], g["key"], g["value"]) == (struct.pack(">I", 3), b"", b"x")
    k = one(raw, bin_req(GATK, b"a", ext=struct.pack(">I", 100)))
    assert (k["key"], k["value"]) == (b"a", b"x")
    assert one(raw, bin_req(TOUCH, b"b", ext=struct.pack(">I", 1)))["status"] == ENOENT
    mk = one(raw, bin_req(GATK, b"b", ext=struct.pack(">I", 1)))
    assert (mk["status"], mk["key"]) == (ENOENT, b"b")
    raw.send(bin_req(GATQ, b"b", ext=struct.pack(">I", 1)) + bin_req(GATKQ, b"b", ext=struct.pack(">I", 1)) +
             bin_req(GATQ, b"a", ext=struct.pack(">I", 1)) + bin_req(NOOP))
    hit, n = bin_read(raw), bin_read(raw)
    assert (hit["op"], hit["value"]) == (GATQ, b"x")
    assert n["op"] == NOOP


def test_version_noop_flush(raw):
    v = one(raw, bin_req(VERSION))
    assert (v["status"], v["value"]) == (OK, b"1.6.18")
    assert one(raw, bin_req(NOOP))["status"] == OK
    one(raw, setx(SET, b"a", b"x"))
    assert one(raw, bin_req(FLUSH, ext=struct.pack(">I", 0)))["status"] == OK
    assert one(raw, bin_req(GET, b"a"))["status"] == ENOENT
    raw.send(bin_req(FLUSHQ) + bin_req(NOOP))
    assert bin_read(raw)["op"] == NOOP


def test_stat(raw):
    raw.send(bin_req(STAT))
    names = []
    while True:
        p = bin_read(raw)
        assert p["op"] == STAT and p["status"] == OK
        if not p["key"]:
            assert p["value"] == b""
            break
        names.append(p["key"])
    assert names[:4] == [b"pid", b"uptime", b"time", b"version"]
    assert b"curr_items" in names and b"evictions" in names
    raw.send(bin_req(STAT, b"settings"))
    first = bin_read(raw)
    assert first["key"] == b"maxbytes"
    while bin_read(raw)["key"]:
        pass
    u = one(raw, bin_req(STAT, b"bogus"))
    assert (u["status"], u["value"]) == (ENOENT, b"Not found")
    assert one(raw, bin_req(STAT, b"detail x"))["status"] == ENOENT
    r = one(raw, bin_req(STAT, b"reset"))
    assert (r["status"], r["key"], r["value"]) == (OK, b"", b"")


def test_unknown_opcode_and_sasl(raw):
    u = one(raw, bin_req(0x50, b"", b"xyz"))
    assert (u["status"], u["value"]) == (UNKNOWN, b"Unknown command")
    assert one(raw, bin_req(SASL_LIST))["status"] == UNKNOWN
    assert one(raw, bin_req(SASL_AUTH, b"PLAIN", b"\x00u\x00p"))["status"] == UNKNOWN
    assert one(raw, bin_req(NOOP))["op"] == NOOP  # the connection stays


def test_too_large_value_is_skipped(raw):
    big = b"x" * 2000000
    raw.send(setx(SET, b"a", big) + bin_req(NOOP))
    e = bin_read(raw)
    assert (e["status"], e["value"]) == (E2BIG, b"Too large.")
    assert bin_read(raw)["op"] == NOOP
    fit = 1048576 - 48 - 1 - 1 - 2 - 8
    assert one(raw, setx(SET, b"a", b"y" * fit))["status"] == OK
    assert one(raw, setx(SET, b"a", b"y" * (fit + 1)))["status"] == E2BIG
    assert one(raw, bin_req(GET, b"a"))["status"] == ENOENT  # a failed set removed the old value


def test_malformed_packets_close_the_connection(srv):
    cases = [
        bin_req(GET, b"a", b"extra"),                      # get with a value
        bin_req(SET, b"a", b"v"),                          # set without extras
        bin_req(GET, b"k" * 251),                          # key too long
        bin_req(VERSION, b"k"),
        bin_req(DELETE, b"", b""),
        bin_req(INCR, b"a", b"", b"short"),
    ]
    for data in cases:
        r = srv.raw()
        r.send(data)
        p = bin_read(r)
        assert (p["status"], p["value"]) == (EINVAL, b"Invalid arguments"), data
        assert r.closed()
    # a key longer than the body: "Unknown command", then closed
    r = srv.raw()
    r.send(struct.pack(">BBHBBHIIQ", 0x80, GET, 10, 0, 0, 0, 2, 0, 0) + b"abcdefghij")
    p = bin_read(r)
    assert p["status"] == UNKNOWN
    assert r.closed()
    # a bad magic byte: closed at once
    r = srv.raw()
    r.send(bin_req(NOOP) + bin_req(GET, b"a", magic=0x81))
    assert r.closed()


def test_quit(srv):
    r = srv.raw()
    r.send(bin_req(QUIT) + bin_req(NOOP))
    assert bin_read(r)["op"] == QUIT
    assert r.closed() and r.buf == b""
    r = srv.raw()
    r.send(bin_req(QUITQ) + bin_req(NOOP))
    assert r.closed() and r.buf == b""


def test_binary_and_text_share_items(srv):
    r = srv.raw()
    r.send(setx(SET, b"shared", b"bin", flags=9))
    bin_read(r)
    t = srv.raw()
    t.send(b"get shared\r\n")
    t.expect(b"VALUE shared 9 3\r\nbin\r\nEND\r\n")
    t.send(b"set shared2 4 0 4\r\ntext\r\n")
    t.expect(b"STORED\r\n")
    g = one(r, bin_req(GET, b"shared2"))
    assert (g["ext"], g["value"]) == (struct.pack(">I", 4), b"text")


def test_dash_B_binds_one_protocol():
    s = McServer("-B", "ascii")
    try:
        r = s.raw()
        r.send(bin_req(NOOP))
        # read as a text line: not a command memcached knows
        assert r.closed(1.0) or r.buf.startswith(b"ERROR")
    finally:
        s.stop()
    s = McServer("-B", "binary")
    try:
        r = s.raw()
        assert one(r, bin_req(NOOP))["op"] == NOOP
        r = s.raw()
        r.send(b"version\r\n" + b" " * 20)  # 24 bytes: not a binary request
        assert r.closed()
    finally:
        s.stop()


def test_pymemcache_is_text_only_but_sees_binary_writes(srv):
    r = srv.raw()
    r.send(setx(SET, b"pm", b"v"))
    bin_read(r)
    c = srv.client()
    assert c.get("pm") == b"v"
    c.close()
