"""BITMAP family: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO
with Redis 7.0's exact replies, errors, events and change counting."""
import random

import pytest

from conftest import RespError


def E(msg):
    return RespError(msg)


def arity(name):
    return E("ERR wrong number of arguments for '%s' command" % name)


SYNTAX = E("ERR syntax error")
NOT_INT = E("ERR value is not an integer or out of range")
BAD_OFFSET = E("ERR bit offset is not an integer or out of range")
BAD_BIT = E("ERR bit is not an integer or out of range")
BAD_TYPE = E("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")


@pytest.fixture(autouse=True)
def flushed(server):
    c = server.client()
    c.flushall()
    c.close()


def dirty(raw):
    text = raw.cmd("INFO", "persistence").decode()
    for line in text.split("\r\n"):
        if line.startswith("rdb_changes_since_last_save:"):
            return int(line.split(":", 1)[1])
    raise KeyError


def bits_of(data):
    return "".join(format(b, "08b") for b in data)


def count_bits(data, start=None, end=None):
    s = bits_of(data)
    if start is not None:
        s = s[start:end + 1]
    return s.count("1")


# ---- SETBIT / GETBIT ------------------------------------------------------------------------------


def test_setbit_basics(raw):
    assert raw.cmd("SETBIT", "mykey", "1", "1") == 0
    assert raw.cmd("GET", "mykey") == b"\x40"
    raw.cmd("SET", "mykey", "@")
    assert raw.cmd("SETBIT", "mykey", "2", "1") == 0
    assert raw.cmd("GET", "mykey") == bytes([0b01100000])
    assert raw.cmd("SETBIT", "mykey", "1", "0") == 1
    assert raw.cmd("GET", "mykey") == bytes([0b00100000])
    # Integer-encoded value: "1" is 0x31 = 00110001.
    raw.cmd("SET", "mykey", "1")
    assert raw.cmd("SETBIT", "mykey", "6", "1") == 0
    assert raw.cmd("GET", "mykey") == bytes([0b00110011])
    assert raw.cmd("SETBIT", "mykey", "2", "0") == 1
    assert raw.cmd("GET", "mykey") == bytes([0b00010011])
    raw.cmd("SET", "n", "12")
    assert raw.cmd("SETBIT", "n", "20", "1") == 0
    assert raw.cmd("GET", "n") == b"12\x08"


def test_setbit_errors(raw):
    assert raw.cmd("SETBIT", "k", str(4 * 1024 * 1024 * 1024), "1") == BAD_OFFSET
    assert raw.cmd("SETBIT", "k", "-1", "1") == BAD_OFFSET
    assert raw.cmd("SETBIT", "k", "abc", "1") == BAD_OFFSET
    assert raw.cmd("SETBIT", "k", "#1", "1") == BAD_OFFSET
    for v in ("-1", "2", "10", "20", "a", "", "1.0"):
        assert raw.cmd("SETBIT", "k", "0", v) == BAD_BIT, v
    # The offset is checked first.
    assert raw.cmd("SETBIT", "k", "-1", "5") == BAD_OFFSET
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("SETBIT", "k", "0") == arity("setbit")
    assert raw.cmd("GETBIT", "k", "-1") == BAD_OFFSET
    assert raw.cmd("GETBIT", "k", "4294967296") == BAD_OFFSET
    assert raw.cmd("GETBIT", "k") == arity("getbit")


def test_setbit_offset_limit_follows_proto_max_bulk_len(raw):
    raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        assert raw.cmd("SETBIT", "k", str(8 * 1048576), "1") == BAD_OFFSET
        assert raw.cmd("SETBIT", "k", str(8 * 1048576 - 1), "1") == 0
        assert raw.cmd("STRLEN", "k") == 1048576
        assert raw.cmd("GETBIT", "k", str(8 * 1048576 - 1)) == 1
        assert raw.cmd("BITCOUNT", "k") == 1
        assert raw.cmd("BITPOS", "k", "1") == 8 * 1048576 - 1
    finally:
        raw.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912")
    # Default: 512 MB strings, offsets below 2^32.
    assert raw.cmd("SETBIT", "k", "4294967296", "1") == BAD_OFFSET
    assert raw.cmd("GETBIT", "k", "4294967295") == 0


def test_setbit_fuzzing(r):
    rnd = random.Random(7)
    bits = ["0"] * 0
    for _ in range(1500):
        n = rnd.randrange(256 * 8)
        v = rnd.randrange(2)
        if n >= len(bits):
            bits += ["0"] * (((n // 8) + 1) * 8 - len(bits))
        bits[n] = str(v)
        r.setbit("mykey", n, v)
    want = bytes(int("".join(bits[i:i + 8]), 2) for i in range(0, len(bits), 8))
    assert r.get("mykey") == want


def test_getbit(raw):
    assert raw.cmd("GETBIT", "mykey", "0") == 0
    raw.cmd("SET", "mykey", "`")
    assert [raw.cmd("GETBIT", "mykey", str(i)) for i in (0, 1, 2, 3, 8, 100, 10000)] == [0, 1, 1, 0, 0, 0, 0]
    raw.cmd("SET", "mykey", "1")
    assert [raw.cmd("GETBIT", "mykey", str(i)) for i in (0, 1, 2, 3, 7, 8, 100)] == [0, 0, 1, 1, 1, 0, 0]


def test_setbit_grows_inline_to_blob(r):
    r.set("k", "abc")
    assert r.setbit("k", 8 * 700 + 3, 1) == 0
    v = r.get("k")
    assert len(v) == 701 and v[:3] == b"abc" and v[700] == 0x10 and v[3:700] == b"\x00" * 697
    assert r.setbit("k", 8 * 700 + 3, 0) == 1
    assert r.bitcount("k") == count_bits(b"abc")


# ---- BITCOUNT -------------------------------------------------------------------------------------


def test_bitcount_missing_and_ranges(raw):
    assert raw.cmd("BITCOUNT", "no-key") == 0
    assert raw.cmd("BITCOUNT", "no-key", "0", "1000", "bit") == 0
    # Nothing is parsed for a missing key.
    assert raw.cmd("BITCOUNT", "no-key", "x") == 0
    raw.cmd("SET", "str", "xxxx")
    assert raw.cmd("BITCOUNT", "str", "4", "10") == 0
    assert raw.cmd("BITCOUNT", "str", "32", "87", "bit") == 0
    assert raw.cmd("BITCOUNT", "str", "-6", "-7") == 0
    assert raw.cmd("BITCOUNT", "str", "-6", "-15", "bit") == 0
    # Negative start > end is answered before the unit is parsed.
    assert raw.cmd("BITCOUNT", "str", "-6", "-7", "junk") == 0


@pytest.mark.parametrize("vec", [b"", b"\xaa", b"\x00\x00\xff", b"foobar", b"123"])
def test_bitcount_vectors(raw, vec):
    raw.cmd("SET", "str", vec)
    assert raw.cmd("BITCOUNT", "str") == count_bits(vec)
    assert raw.cmd("BITCOUNT", "str", "0", "-1", "bit") == count_bits(vec)
    assert raw.cmd("BITCOUNT", "str", "0", "-1", "BYTE") == count_bits(vec)


def test_bitcount_with_start_end(raw):
    s = b"foobar"
    raw.cmd("SET", "s", s)
    assert raw.cmd("BITCOUNT", "s", "0", "-1") == count_bits(s)
    assert raw.cmd("BITCOUNT", "s", "1", "-2") == count_bits(b"ooba")
    assert raw.cmd("BITCOUNT", "s", "-2", "1") == 0
    assert raw.cmd("BITCOUNT", "s", "0", "1000") == count_bits(s)
    for (a, b), (x, y) in (((10, 14), (10, 14)), ((3, 14), (3, 14)), ((3, 29), (3, 29)), ((10, -34), (10, 14)),
                           ((3, -34), (3, 14)), ((3, -19), (3, 29))):
        assert raw.cmd("BITCOUNT", "s", str(a), str(b), "bit") == count_bits(s, x, y)
    assert raw.cmd("BITCOUNT", "s", "-2", "1", "bit") == 0
    assert raw.cmd("BITCOUNT", "s", "0", "1000", "bit") == count_bits(s)
    raw.cmd("SET", "a", "ab")
    assert raw.cmd("BITCOUNT", "a", "1", "-1") == 3
    raw.cmd("SET", "w", "__PPxxxxxxxxxxxxxxxxRR__")
    assert raw.cmd("BITCOUNT", "w", "2", "-3") == 74
    raw.cmd("SETBIT", "foo", "0", "1")
    assert raw.cmd("BITCOUNT", "foo", "0", "4294967296") == 1
    assert raw.cmd("BITCOUNT", "foo", "-9223372036854775808", "9223372036854775807", "bit") == 1


def test_bitcount_errors(raw):
    raw.cmd("SET", "s", "foobar")
    assert raw.cmd("BITCOUNT", "s", "0") == SYNTAX
    assert raw.cmd("BITCOUNT", "s", "0", "1", "hello") == SYNTAX
    assert raw.cmd("BITCOUNT", "s", "0", "1", "bit", "x") == SYNTAX
    assert raw.cmd("BITCOUNT", "s", "a", "1") == NOT_INT
    assert raw.cmd("BITCOUNT", "s", "0", "1.5") == NOT_INT
    assert raw.cmd("BITCOUNT") == arity("bitcount")


def test_bitcount_fuzzing(r):
    rnd = random.Random(3)
    for _ in range(100):
        s = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 3000)))
        r.set("str", s)
        assert r.bitcount("str") == count_bits(s)
        if not s:
            continue
        a, b = sorted((rnd.randrange(len(s)), rnd.randrange(len(s))))
        assert r.execute_command("BITCOUNT", "str", a, b) == count_bits(s[a:b + 1])
        a, b = sorted((rnd.randrange(len(s) * 8), rnd.randrange(len(s) * 8)))
        assert r.execute_command("BITCOUNT", "str", a, b, "BIT") == count_bits(s, a, b)


# ---- BITPOS ---------------------------------------------------------------------------------------------


def test_bitpos_missing_and_errors(raw):
    assert raw.cmd("BITPOS", "str", "0") == 0
    assert raw.cmd("BITPOS", "str", "1") == -1
    assert raw.cmd("BITPOS", "str", "0", "0", "-1", "bit") == 0
    assert raw.cmd("BITPOS", "str", "1", "junk") == -1  # missing: nothing else parsed
    assert raw.cmd("BITPOS", "str", "2") == E("ERR The bit argument must be 1 or 0.")
    assert raw.cmd("BITPOS", "str", "x") == NOT_INT
    raw.cmd("SET", "str", "\xff")
    assert raw.cmd("BITPOS", "str", "0", "x") == NOT_INT
    assert raw.cmd("BITPOS", "str", "0", "0", "x") == NOT_INT
    assert raw.cmd("BITPOS", "str", "0", "0", "1", "bits") == SYNTAX
    assert raw.cmd("BITPOS", "str", "0", "0", "x", "bits") == SYNTAX  # unit before end
    assert raw.cmd("BITPOS", "str", "0", "0", "1", "bit", "x") == SYNTAX
    assert raw.cmd("BITPOS", "str") == arity("bitpos")


def test_bitpos_cases(r):
    def bp(*args):
        return r.execute_command("BITPOS", "str", *args)
    r.set("str", b"\xff\xf0\x00")
    assert bp(0) == 12 and bp(0, 0, -1, "bit") == 12 and bp(0, 1) == 12 and bp(0, 1, -1, "bit") == 12
    r.set("str", b"\x00\x0f\x00")
    assert bp(1) == 12 and bp(1, 0, -1, "bit") == 12
    r.set("str", b"\x00\x0f\xff")
    assert bp(1, 1) == 12 and bp(1, 1, -1, "bit") == 12
    r.set("str", b"\xff" * 27 + b"\x0f")
    for i in range(9):
        assert bp(0, i) == 216
        assert bp(0, 1 + 8 * i, -1, "bit") == 216
    r.set("str", b"\x00" * 27 + b"\xf0")
    for i in range(9):
        assert bp(1, i) == 216
        assert bp(1, 1 + 8 * i, -1, "bit") == 216
    r.set("str", b"")
    assert bp(1) == -1 and bp(0) == -1
    for _ in range(20):
        r.append("str", b"\x00")
        assert bp(1) == -1 and bp(1, 0, -1, "bit") == -1
    r.set("str", b"\x00\xff\x00")
    assert [bp(0, 0, -1), bp(0, 1, -1), bp(0, 2, -1), bp(0, 2, 200), bp(0, 1, 1)] == [0, 16, 16, 16, -1]
    assert [bp(0, 0, -1, "bit"), bp(0, 8, -1, "bit"), bp(0, 16, -1, "bit"), bp(0, 16, 200, "bit"),
            bp(0, 8, 8, "bit")] == [0, 16, 16, 16, -1]
    assert [bp(1, 0, -1), bp(1, 1, -1), bp(1, 2, -1), bp(1, 2, 200), bp(1, 1, 1)] == [8, 8, -1, -1, 8]
    assert [bp(1, 0, -1, "bit"), bp(1, 8, -1, "bit"), bp(1, 16, -1, "bit"), bp(1, 16, 200, "bit"),
            bp(1, 8, 8, "bit")] == [8, 8, -1, -1, 8]
    r.set("str", b"\xff\xff\xff")
    assert [bp(0), bp(0, 0), bp(0, 0, -1), bp(0, 0, -1, "bit"), bp(0, 5), bp(0, -1)] == [24, 24, -1, -1, -1, 24]
    r.set("str", "1")  # integer-encoded "1" = 00110001
    assert [bp(1), bp(0), bp(1, 0, 0, "bit"), bp(1, 3, 6, "bit")] == [2, 0, -1, 3]


def test_bitpos_fuzzing(r):
    rnd = random.Random(11)
    for _ in range(200):
        s = bytes(rnd.choice([0, 0xff, rnd.randrange(256)]) for _ in range(rnd.randrange(1, 40)))
        r.set("str", s)
        bits = bits_of(s)
        n = len(bits)
        a, b = sorted((rnd.randrange(n), rnd.randrange(n)))
        for bit in (0, 1):
            want = bits.find(str(bit), a, b + 1)
            assert r.execute_command("BITPOS", "str", bit, a, b, "BIT") == want
            ab, bb = a // 8, b // 8
            want = bits.find(str(bit), ab * 8, bb * 8 + 8)
            assert r.execute_command("BITPOS", "str", bit, ab, bb) == want
            want = bits.find(str(bit), ab * 8)
            if want < 0 and bit == 0:
                want = n
            assert r.execute_command("BITPOS", "str", bit, ab) == want


# ---- BITOP -----------------------------------------------------------------------------------------------


def simulate(op, *vals):
    n = max(len(v) for v in vals)
    pad = [v + b"\x00" * (n - len(v)) for v in vals]
    out = bytearray(pad[0])
    if op == "not":
        return bytes(~b & 0xff for b in out)
    for v in pad[1:]:
        for i in range(n):
            if op == "and":
                out[i] &= v[i]
            elif op == "or":
                out[i] |= v[i]
            else:
                out[i] ^= v[i]
    return bytes(out)


def test_bitop_basics(raw):
    raw.cmd("SET", "s{t}", "")
    assert raw.cmd("BITOP", "not", "dest{t}", "s{t}") == 0
    assert raw.cmd("GET", "dest{t}") is None
    raw.cmd("SET", "s{t}", b"\xaa\x00\xff\x55")
    assert raw.cmd("BITOP", "not", "dest{t}", "s{t}") == 4
    assert raw.cmd("GET", "dest{t}") == b"\x55\xff\x00\xaa"
    raw.cmd("SET", "s", b"\xaa\x00\xff\x55")
    assert raw.cmd("BITOP", "NOT", "s", "s") == 4
    assert raw.cmd("GET", "s") == b"\x55\xff\x00\xaa"
    raw.cmd("SET", "a{t}", b"\x01\x02\xff")
    for op in ("and", "or", "xor"):
        assert raw.cmd("BITOP", op, "res{t}", "a{t}") == 3
        assert raw.cmd("GET", "res{t}") == b"\x01\x02\xff"
    raw.cmd("BITOP", "and", "r1{t}", "no-such{t}", "a{t}")
    raw.cmd("BITOP", "or", "r2{t}", "no-such{t}", "a{t}", "no-such2{t}")
    raw.cmd("BITOP", "xor", "r3{t}", "no-such{t}", "a{t}")
    assert raw.cmd("MGET", "r1{t}", "r2{t}", "r3{t}") == [b"\x00\x00\x00", b"\x01\x02\xff", b"\x01\x02\xff"]
    raw.cmd("SET", "a{t}", b"\x01\x02\xff\xff")
    raw.cmd("SET", "b{t}", b"\x01\x02\xff")
    raw.cmd("BITOP", "and", "r1{t}", "a{t}", "b{t}")
    raw.cmd("BITOP", "or", "r2{t}", "a{t}", "b{t}")
    raw.cmd("BITOP", "xor", "r3{t}", "a{t}", "b{t}")
    assert raw.cmd("MGET", "r1{t}", "r2{t}", "r3{t}") == [b"\x01\x02\xff\x00", b"\x01\x02\xff\xff",
                                                           b"\x00\x00\x00\xff"]
    raw.cmd("SET", "i{t}", "1")
    raw.cmd("SET", "j{t}", "2")
    assert raw.cmd("BITOP", "xor", "d{t}", "i{t}", "j{t}", "i{t}") == 1
    assert raw.cmd("GET", "d{t}") == b"2"
    raw.cmd("SET", "z{t}", b"\x00" * 32)
    assert raw.cmd("BITOP", "or", "x{t}", "z{t}", "nokey{t}") == 32


def test_bitop_errors(raw):
    assert raw.cmd("BITOP", "nand", "d", "a") == SYNTAX
    assert raw.cmd("BITOP", "not", "d", "a", "b") == E("ERR BITOP NOT must be called with a single source key.")
    assert raw.cmd("BITOP", "and", "d") == arity("bitop")


def test_bitop_empty_result_deletes_destination(raw, make_raw):
    raw.cmd("SET", "dest{t}", "old")
    raw.cmd("SET", "e{t}", "")
    assert raw.cmd("BITOP", "or", "dest{t}", "nokey{t}", "e{t}") == 0
    assert raw.cmd("GET", "dest{t}") is None
    assert raw.cmd("BITOP", "or", "dest{t}", "nokey{t}") == 0


@pytest.mark.parametrize("op", ["and", "or", "xor", "not"])
def test_bitop_fuzzing(r, op):
    rnd = random.Random(hash(op) & 0xffff)
    for _ in range(20):
        n = 1 if op == "not" else rnd.randrange(1, 11)
        vals = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 1500))) for _ in range(n)]
        keys = ["v%d{t}" % i for i in range(n)]
        for k, v in zip(keys, vals):
            r.set(k, v)
        got = r.execute_command("BITOP", op, "target{t}", *keys)
        want = simulate(op, *vals)
        assert got == len(want)
        assert (r.get("target{t}") or b"") == want


def test_bitop_big_result_and_ttl(raw, r):
    big = bytes(range(256)) * 400
    r.set("a{t}", big)
    r.set("dst{t}", "x", px=100000)
    assert r.execute_command("BITOP", "NOT", "dst{t}", "a{t}") == len(big)
    assert r.get("dst{t}") == bytes(~b & 0xff for b in big)
    # BITOP stores like SET: no TTL is kept (it outlives a short one).
    r.set("dst2{t}", "x", px=100)
    r.execute_command("BITOP", "AND", "dst2{t}", "a{t}")
    import time
    time.sleep(0.25)
    assert r.get("dst2{t}") == big


# ---- BITFIELD --------------------------------------------------------------------------------------------


def test_bitfield_basics(raw):
    assert raw.cmd("BITFIELD", "bits", "set", "i8", "0", "-100") == [0]
    assert raw.cmd("BITFIELD", "bits", "set", "i8", "0", "101") == [-100]
    assert raw.cmd("BITFIELD", "bits", "get", "i8", "0") == [101]
    raw.cmd("DEL", "bits")
    assert raw.cmd("BITFIELD", "bits", "set", "u8", "0", "255") == [0]
    assert raw.cmd("BITFIELD", "bits", "set", "u8", "0", "100") == [255]
    assert raw.cmd("BITFIELD", "bits", "get", "u8", "0") == [100]
    raw.cmd("DEL", "bits")
    assert raw.cmd("BITFIELD", "bits", "set", "i8", "0", "255", "set", "i8", "0", "100", "get", "i8", "0") == \
        [0, -1, 100]
    raw.cmd("DEL", "bits")
    assert raw.cmd("BITFIELD", "bits", "set", "u8", "0", "255", "incrby", "u8", "0", "100", "get", "u8", "0") == \
        [0, 99, 99]
    assert raw.cmd("BITFIELD", "nokey") == []
    assert raw.cmd("GET", "nokey") is None
    raw.cmd("DEL", "bits")
    for i, ch in enumerate("ABC"):
        raw.cmd("BITFIELD", "bits", "set", "u8", "#%d" % i, str(ord(ch)))
    assert raw.cmd("GET", "bits") == b"ABC"
    raw.cmd("DEL", "bits")
    raw.cmd("BITFIELD", "bits", "set", "u8", "#0", "10")
    assert raw.cmd("BITFIELD", "bits", "incrby", "u8", "#0", "100", "incrby", "u8", "#0", "100") == [110, 210]
    raw.cmd("SET", "bits", "1")
    assert raw.cmd("BITFIELD", "bits", "get", "u1", "0") == [0]
    assert raw.cmd("BITFIELD", "bits", "get", "u8", "0", "get", "i4", "4", "get", "u16", "#1") == [49, 1, 0]
    for _ in range(3):
        raw.cmd("DEL", "mystring")
        assert raw.cmd("BITFIELD", "mystring", "SET", "i8", "0", "10", "SET", "i8", "64", "10",
                       "INCRBY", "i8", "10", "99900") == [0, 0, 60]


def test_bitfield_unaligned_and_wide(raw):
    assert raw.cmd("BITFIELD", "b", "SET", "u5", "7", "23") == [0]
    assert raw.cmd("GET", "b") == bytes([0b00000001, 0b01110000])
    assert raw.cmd("BITFIELD", "w", "SET", "i64", "3", "-2") == [0]
    assert raw.cmd("BITFIELD", "w", "GET", "i64", "3", "GET", "u63", "4", "GET", "u63", "3") == \
        [-2, 9223372036854775806, 9223372036854775807]
    assert raw.cmd("BITFIELD", "w", "SET", "i64", "3", "-9223372036854775808") == [-2]
    assert raw.cmd("BITFIELD", "w", "GET", "i64", "3") == [-9223372036854775808]
    assert raw.cmd("STRLEN", "w") == 9
    assert raw.cmd("BITFIELD", "b", "GET", "i64", "3") == [828662331436171264]


def test_bitfield_overflow(raw):
    def run(*args):
        return raw.cmd("BITFIELD", "bits", *args)
    raw.cmd("BITFIELD", "bits", "set", "u8", "#0", "100")
    assert run("overflow", "wrap", "incrby", "u8", "#0", "257") == [101]
    assert run("get", "u8", "#0") == [101]
    assert run("overflow", "wrap", "incrby", "u8", "#0", "255") == [100]
    raw.cmd("DEL", "bits")
    raw.cmd("BITFIELD", "bits", "set", "u8", "#0", "100")
    assert run("overflow", "sat", "incrby", "u8", "#0", "257") == [255]
    assert run("overflow", "sat", "incrby", "u8", "#0", "-255") == [0]
    raw.cmd("DEL", "bits")
    raw.cmd("BITFIELD", "bits", "set", "i8", "#0", "100")
    assert run("overflow", "wrap", "incrby", "i8", "#0", "257") == [101]
    assert run("overflow", "wrap", "incrby", "i8", "#0", "255") == [100]
    raw.cmd("DEL", "bits")
    raw.cmd("BITFIELD", "bits", "set", "u8", "#0", "100")
    assert run("overflow", "sat", "incrby", "i8", "#0", "257") == [127]
    assert run("overflow", "sat", "incrby", "i8", "#0", "-255") == [-128]
    assert run("OVERFLOW", "FAIL", "incrby", "i8", "#0", "-1", "get", "i8", "#0") == [None, -128]
    assert run("OVERFLOW", "FAIL", "set", "u8", "0", "256", "set", "u8", "0", "-1") == [None, None]
    assert run("OVERFLOW", "SAT", "set", "u8", "0", "-1", "set", "i4", "0", "-100") == [128, -1]
    assert run("OVERFLOW", "WRAP", "set", "u8", "0", "-1", "set", "i4", "0", "9") == [0x8f, -1]
    assert run("get", "u8", "0", "get", "i4", "0") == [0x9f, -7]
    # The overflow mode applies to the steps after it, and can change.
    assert run("set", "u8", "0", "250", "incrby", "u8", "0", "10", "overflow", "sat", "incrby", "u8", "0", "250",
               "overflow", "fail", "incrby", "u8", "0", "2", "incrby", "u8", "0", "1") == [0x9f, 4, 254, None, 255]


def test_bitfield_overflow_fuzzing(r):
    rnd = random.Random(5)
    for _ in range(600):
        bits = rnd.randrange(1, 65)
        sign = 1 if bits == 64 else rnd.randrange(2)
        rng = 2 ** bits
        lo = -(rng // 2) if sign else 0
        hi = lo + rng - 1
        t = ("i%d" if sign else "u%d") % bits
        value = max(min(lo * 2 + rnd.randrange(rng * 2), 2 ** 63 - 1), -2 ** 63)
        incr = max(min(lo * 2 + rnd.randrange(rng * 2), 2 ** 63 - 1), -2 ** 63)
        over = value > hi or value < lo or value + incr > hi or value + incr < lo
        r.delete("bits")
        r1 = r.execute_command("BITFIELD", "bits", "OVERFLOW", "FAIL", "SET", t, 0, value)
        r2 = r.execute_command("BITFIELD", "bits", "OVERFLOW", "FAIL", "INCRBY", t, 0, incr)
        if over:
            assert r1[0] is None or r2[0] is None, (t, value, incr)
        else:
            assert r1[0] is not None and r2[0] == value + incr, (t, value, incr)
        r.delete("bits")
        r.execute_command("BITFIELD", "bits", "OVERFLOW", "WRAP", "SET", t, 0, value)
        r.execute_command("BITFIELD", "bits", "OVERFLOW", "WRAP", "INCRBY", t, 0, incr)
        got = r.execute_command("BITFIELD", "bits", "GET", t, 0)[0]
        want = (value + incr - lo) % rng + lo
        assert got == want, (t, value, incr)
        r.delete("bits")
        r.execute_command("BITFIELD", "bits", "OVERFLOW", "SAT", "SET", t, 0, min(max(value, lo), hi))
        got = r.execute_command("BITFIELD", "bits", "OVERFLOW", "SAT", "INCRBY", t, 0, incr)[0]
        assert got == min(max(min(max(value, lo), hi) + incr, lo), hi), (t, value, incr)


def test_bitfield_errors(raw):
    cases = [
        (["BITFIELD", "k", "get", "u64", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "i65", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "i0", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "I8", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "x8", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "i", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "i08", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "", "0"], BAD_TYPE),
        (["BITFIELD", "k", "get", "i8", "-1"], BAD_OFFSET),
        (["BITFIELD", "k", "get", "i8", "#-1"], BAD_OFFSET),
        (["BITFIELD", "k", "get", "i8", "abc"], BAD_OFFSET),
        (["BITFIELD", "k", "get", "i8", "4294967296"], BAD_OFFSET),
        (["BITFIELD", "k", "get", "i8", "#536870912"], BAD_OFFSET),
        (["BITFIELD", "k", "get", "i64", "#144115188075855872"], BAD_OFFSET),  # 2^63 wraps negative
        (["BITFIELD", "k", "set", "i8", "0", "x"], NOT_INT),
        (["BITFIELD", "k", "incrby", "i8", "0", "1.5"], NOT_INT),
        (["BITFIELD", "k", "get", "i8"], SYNTAX),
        (["BITFIELD", "k", "set", "i8", "0"], SYNTAX),
        (["BITFIELD", "k", "foo", "i8", "0"], SYNTAX),
        (["BITFIELD", "k", "overflow"], SYNTAX),
        (["BITFIELD", "k", "overflow", "bad"], E("ERR Invalid OVERFLOW type specified")),
        (["BITFIELD", "k", "get", "i8", "0", "set", "u8", "0", "1", "bad"], SYNTAX),
        (["BITFIELD_RO", "k", "set", "u8", "0", "100", "get", "u8", "0"],
         E("ERR BITFIELD_RO only supports the GET subcommand")),
        (["BITFIELD_RO", "k", "incrby", "u8", "0", "1"], E("ERR BITFIELD_RO only supports the GET subcommand")),
        (["BITFIELD_RO", "k", "overflow", "sat", "get", "u8", "x"], BAD_OFFSET),
        (["BITFIELD"], arity("bitfield")),
        (["BITFIELD_RO"], arity("bitfield_ro")),
    ]
    # Redis multiplies "#N" by the width with wrapping arithmetic.
    assert raw.cmd("BITFIELD", "k", "get", "i64", "#1152921504606846976") == [0]
    for args, want in cases:
        assert raw.cmd(*args) == want, args
    assert raw.cmd("GET", "k") is None


def test_bitfield_ro(raw):
    assert raw.cmd("BITFIELD_RO", "bits") == []
    raw.cmd("BITFIELD", "bits", "set", "u8", "0", "255")
    assert raw.cmd("BITFIELD_RO", "bits", "get", "u8", "0", "get", "i8", "0", "get", "u4", "#1",
                   "get", "u8", "1000") == [255, -1, 15, 0]
    assert raw.cmd("BITFIELD_RO", "bits", "overflow", "fail", "get", "u2", "6") == [3]


# ---- change counting, events, WATCH ------------------------------------------------------------------


def test_setbit_bitfield_dirty_only_on_change(raw):
    d = dirty(raw)
    raw.cmd("SETBIT", "foo{t}", "0", "0")
    raw.cmd("BITFIELD", "foo2{t}", "set", "i5", "0", "0")
    assert dirty(raw) == d + 2
    raw.cmd("SETBIT", "foo{t}", "0", "0")
    raw.cmd("BITFIELD", "foo2{t}", "set", "i5", "0", "0")
    assert dirty(raw) == d + 2
    for v in ("1", "1", "0", "0"):
        raw.cmd("SETBIT", "foo{t}", "0", v)
        raw.cmd("BITFIELD", "foo2{t}", "set", "i5", "0", v)
    assert dirty(raw) == d + 6
    raw.cmd("BITFIELD", "foo3{t}", "incrby", "i5", "0", "1")
    raw.cmd("BITFIELD", "foo3{t}", "incrby", "i5", "0", "1")
    assert dirty(raw) == d + 8
    raw.cmd("SETBIT", "foo{t}", "90", "0")
    raw.cmd("BITFIELD", "foo2{t}", "set", "i5", "90", "0")
    assert dirty(raw) == d + 10
    raw.cmd("BITFIELD", "foo2{t}", "get", "i5", "0", "set", "u8", "0", "0", "set", "u8", "8", "7")
    assert dirty(raw) == d + 11
    raw.cmd("BITFIELD", "foo2{t}", "overflow", "fail", "incrby", "u2", "0", "9")
    assert dirty(raw) == d + 11
    raw.cmd("BITOP", "or", "foo4{t}", "foo{t}")
    raw.cmd("BITOP", "or", "foo4{t}", "none{t}")
    raw.cmd("BITOP", "or", "foo4{t}", "none{t}")
    assert dirty(raw) == d + 13


def test_bitmap_events(raw, make_raw):
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        sub = make_raw()
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        for c in (["SETBIT", "k{t}", "3", "1"], ["SETBIT", "k{t}", "3", "1"], ["BITFIELD", "k{t}", "get", "u8", "0"],
                  ["BITFIELD", "k{t}", "set", "u8", "0", "1", "set", "u8", "8", "1"],
                  ["BITOP", "not", "d{t}", "k{t}"], ["BITOP", "and", "d{t}", "none{t}"], ["GETBIT", "k{t}", "0"],
                  ["BITCOUNT", "k{t}"]):
            raw.cmd(*c)
        raw.cmd("PUBLISH", "__keyevent@0__:end", "end")
        got = []
        while True:
            m = sub.read_reply()
            ev = m[2].decode().split(":", 1)[1]
            if ev == "end":
                break
            got.append((ev, m[3]))
        assert got == [("setbit", b"k{t}"), ("setbit", b"k{t}"), ("set", b"d{t}"), ("del", b"d{t}")]
    finally:
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")


@pytest.mark.parametrize("setup,cmd,fires", [
    ([], ["SETBIT", "k", "0", "0"], True),
    ([["SETBIT", "k", "0", "1"]], ["SETBIT", "k", "0", "1"], False),
    ([["SETBIT", "k", "0", "1"]], ["SETBIT", "k", "0", "0"], True),
    ([["SETBIT", "k", "0", "1"]], ["SETBIT", "k", "100", "0"], True),
    ([["SET", "k", "x"]], ["BITFIELD", "k", "get", "u8", "0"], False),
    ([["SET", "k", "x"]], ["BITFIELD", "k", "set", "u8", "0", "120"], False),
    ([["SET", "k", "x"]], ["BITFIELD", "k", "set", "u8", "0", "121"], True),
    ([["SET", "k", "x"]], ["BITFIELD", "k", "overflow", "fail", "incrby", "u8", "0", "200"], False),
    ([["SET", "k", "x"]], ["BITOP", "not", "k", "k"], True),
    ([["SET", "k", "x"]], ["BITOP", "or", "k", "nokey"], True),
    ([], ["BITOP", "or", "k", "nokey"], False),
    ([["SET", "k", "x"]], ["GETBIT", "k", "1"], False),
])
def test_watch_signals(make_raw, raw, setup, cmd, fires):
    for c in setup:
        raw.cmd(*c)
    w = make_raw()
    w.cmd("WATCH", "k")
    raw.cmd(*cmd)
    w.cmd("MULTI")
    w.cmd("PING")
    assert (w.cmd("EXEC") is None) is fires
