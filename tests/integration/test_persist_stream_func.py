"""Streams and function libraries in RDB files and DUMP payloads, checked
against redis-server 7.0: DUMP/RESTORE of streams both ways (byte for byte),
snapshots with streams and libraries loaded by Redis and by Stash (and
Redis's loaded by Stash), DEBUG RELOAD, the Redis 7.2 (type 21) and <= 6.2
(type 15) stream forms, libraries at start-up, and hostile stream payloads
from Redis's own corrupt-dump tests (refused, server alive)."""
import os
import shutil
import struct

import pytest
import redis

from conftest import Server
from test_persist import CHECK, REDIS, RedisPeer, check_rdb, crc64

needs_redis = pytest.mark.skipif(not REDIS or not CHECK, reason="redis-server / redis-check-rdb missing")

LIB = "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 'one ' .. ('x'):rep(40) end)"
LIB2 = "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function() return 2 end, " \
       "flags={'no-writes'}}"


def build_streams(c, prefix=""):
    """Streams of every shape: several nodes, tombstones, a trimmed one,
    an empty one with a group (MKSTREAM), groups with PELs and consumers."""
    c.config_set("stream-node-max-entries", "10")
    p = c.pipeline(transaction=False)
    for i in range(1, 120):
        p.xadd(prefix + "s:big", {"f": "v%d" % i, "n": i} if i % 5 else {"other": "x" * i}, id="%d-%d" % (i, i % 3))
    for i in range(1, 30):
        p.xadd(prefix + "s:trim", {"a": i}, id="%d-1" % i)
    p.execute()
    c.xdel(prefix + "s:big", "5-2", "10-1", "11-2", "119-2")
    c.xtrim(prefix + "s:trim", maxlen=7)
    c.xgroup_create(prefix + "s:big", "g1", "0")
    c.xgroup_create(prefix + "s:big", "g2", "$")
    c.xgroup_create(prefix + "s:big", "12345", "50-0")  # a name RDB writes as an integer
    c.xreadgroup("g1", "alice", {prefix + "s:big": ">"}, count=10)
    c.xreadgroup("g1", "bob", {prefix + "s:big": ">"}, count=5)
    c.xreadgroup("12345", "7", {prefix + "s:big": ">"}, count=3)
    c.xack(prefix + "s:big", "g1", "1-1", "3-0")
    c.xclaim(prefix + "s:big", "g1", "bob", 0, ["2-2"])
    c.xgroup_createconsumer(prefix + "s:big", "g2", "idle")
    c.xgroup_create(prefix + "s:empty", "g", "$", mkstream=True)
    c.xadd(prefix + "s:gone", {"x": 1}, id="5-5")
    c.xdel(prefix + "s:gone", "5-5")  # an empty stream with a last ID and a max deleted ID
    c.config_set("stream-node-max-entries", "100")


def xinfo_full(c, key):
    """XINFO STREAM FULL without the radix tree's node count (each
    implementation's tree has its own shape)."""
    x = c.xinfo_stream(key, full=True)
    x.pop("radix-tree-nodes", None)
    return x


STREAM_KEYS = ["s:big", "s:trim", "s:empty", "s:gone"]


def same_streams(a, b, keys=STREAM_KEYS):
    for k in keys:
        assert xinfo_full(a, k) == xinfo_full(b, k), k
        assert a.xrange(k) == b.xrange(k), k


@pytest.fixture
def srv():
    s = Server("--save", "", "--enable-debug-command", "yes")
    yield s
    s.stop()


@needs_redis
def test_stream_dump_restore_both_ways_byte_exact(srv, tmp_path):
    c = srv.client()
    build_streams(c)
    peer = RedisPeer(str(tmp_path))
    try:
        rc = peer.client()
        for compression in ("yes", "no"):
            c.config_set("rdbcompression", compression)
            rc.config_set("rdbcompression", compression)
            for k in STREAM_KEYS:
                ours = c.dump(k)
                rc.restore(k, 0, ours, replace=True)
                assert rc.dump(k) == ours, k  # Redis writes back the very same bytes
            same_streams(c, rc)
            # and Redis's own streams into Stash
            build_streams(rc, prefix="r:")
            for k in STREAM_KEYS:
                theirs = rc.dump("r:" + k)
                c.restore("r:" + k, 0, theirs, replace=True)
                assert c.dump("r:" + k) == theirs, k
            same_streams(c, rc, ["r:" + k for k in STREAM_KEYS])
            rc.delete(*["r:" + k for k in STREAM_KEYS])
            c.delete(*["r:" + k for k in STREAM_KEYS])
    finally:
        peer.stop()


@needs_redis
def test_snapshot_with_streams_and_functions_both_ways(srv, tmp_path):
    c = srv.client()
    build_streams(c)
    c.function_load(LIB)
    c.function_load(LIB2)
    c.set("plain", "value")
    assert c.save() in (True, b"OK")
    path = os.path.join(srv.dir, "dump.rdb")
    check_rdb(path)
    d = str(tmp_path / "r")
    os.mkdir(d)
    shutil.copy(path, d)
    peer = RedisPeer(d)
    try:
        rc = peer.client()
        same_streams(c, rc)
        assert sorted(rc.function_list()) == sorted(c.function_list())
        assert rc.fcall("f1", 0) == b"one " + b"x" * 40
        # Redis saves it again: Stash starts on Redis's file
        build_streams(rc, prefix="r:")
        rc.save()
    finally:
        peer.stop()
    d2 = str(tmp_path / "s")
    os.mkdir(d2)
    shutil.copy(os.path.join(d, "dump.rdb"), d2)
    s2 = Server("--save", "", "--dir", d2)
    try:
        c2 = s2.client()
        same_streams(c, c2)
        assert sorted(c2.function_list()) == sorted(c.function_list())
        assert c2.fcall("f1", 0) == b"one " + b"x" * 40
        assert c2.fcall_ro("f2", 0) == 2
        assert c2.xinfo_stream("r:s:big")["length"] == c.xinfo_stream("s:big")["length"]
        assert c2.get("plain") == b"value"
    finally:
        s2.stop()


def test_debug_reload_keeps_streams_and_libraries(srv):
    c = srv.client()
    build_streams(c)
    c.function_load(LIB)
    before = {k: xinfo_full(c, k) for k in STREAM_KEYS}
    assert c.execute_command("DEBUG", "RELOAD") == b"OK"
    assert {k: xinfo_full(c, k) for k in STREAM_KEYS} == before
    assert c.fcall("f1", 0).startswith(b"one ")
    # NOFLUSH without MERGE: the library (and keys) clash -> the reload fails
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB"):
        c.execute_command("DEBUG", "RELOAD", "NOFLUSH")
    assert "Library 'lib1' already exists" in srv.log()
    assert c.execute_command("DEBUG", "RELOAD", "NOFLUSH", "MERGE") == b"OK"
    # A library dropped after the save comes back; one added after it goes
    c.function_delete("lib1")
    c.function_load(LIB2)
    assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert c.fcall("f1", 0).startswith(b"one ")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        c.fcall("f2", 0)


def test_libraries_load_at_startup(tmp_path):
    s = Server("--save", "", "--dir", str(tmp_path))
    try:
        c = s.client()
        c.function_load(LIB)
        c.function_load(LIB2)
        c.save()
    finally:
        s.stop()
    s = Server("--save", "", "--dir", str(tmp_path))
    try:
        c = s.client()
        assert c.fcall("f1", 0).startswith(b"one ")
        assert len(c.function_list()) == 2
        stats = c.execute_command("FUNCTION", "STATS")
        assert stats[3] == [b"LUA", [b"libraries_count", 2, b"functions_count", 2]]
    finally:
        s.stop()


# ---- other writers' stream forms ----------------------------------------------------------------


class Payload:
    """Walks a type-19 stream DUMP payload and re-emits it in another form."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def length(self):
        b = self.d[self.i]
        kind = b >> 6
        if kind == 0:
            self.i += 1
            return b & 0x3F, False
        if kind == 1:
            v = ((b & 0x3F) << 8) | self.d[self.i + 1]
            self.i += 2
            return v, False
        if kind == 3:
            self.i += 1
            return b & 0x3F, True
        n = 4 if b == 0x80 else 8
        v = int.from_bytes(self.d[self.i + 1:self.i + 1 + n], "big")
        self.i += 1 + n
        return v, False

    def take(self, fn):
        start = self.i
        fn()
        return self.d[start:self.i]

    def string(self):
        v, enc = self.length()
        if not enc:
            self.i += v
        elif v == 3:  # LZF: compressed length, original length, data
            clen, _ = self.length()
            self.length()
            self.i += clen
        else:
            self.i += 1 << v

    def plain(self):
        self.length()

    def raw(self, n):
        self.i += n


def convert(payload, to_type):
    """A type-19 stream payload as type 21 (Redis 7.2: consumers' active
    time) or type 15 (Redis <= 6.2: no first/max-deleted ID, entries added
    or entries read)."""
    p = Payload(payload[:-10])
    assert p.d[0] == 19
    p.i = 1
    out = bytes([to_type])
    nodes, _ = p.length()
    out += p.d[1:p.i]
    for _ in range(nodes):
        out += p.take(p.string) + p.take(p.string)
    out += b"".join(p.take(p.plain) for _ in range(3))        # length, last ID
    extra = b"".join(p.take(p.plain) for _ in range(5))       # first, max deleted, entries added
    if to_type != 15:
        out += extra
    groups = p.take(p.plain)
    out += groups
    for _ in range(Payload(groups).length()[0]):
        out += p.take(p.string) + p.take(p.plain) + p.take(p.plain)  # name, last ID
        entries_read = p.take(p.plain)
        if to_type != 15:
            out += entries_read
        pel = p.take(p.plain)
        out += pel
        for _ in range(Payload(pel).length()[0]):
            out += p.take(lambda: p.raw(16)) + p.take(lambda: p.raw(8)) + p.take(p.plain)
        consumers = p.take(p.plain)
        out += consumers
        for _ in range(Payload(consumers).length()[0]):
            out += p.take(p.string)
            seen = p.take(lambda: p.raw(8))
            out += seen
            if to_type == 21:
                out += struct.pack("<q", struct.unpack("<q", seen)[0] + 1)  # active time
            cpel = p.take(p.plain)
            out += cpel + p.take(lambda: p.raw(16 * Payload(cpel).length()[0]))
    assert p.i == len(p.d)
    out += struct.pack("<H", 11 if to_type == 21 else 9)
    return out + struct.pack("<Q", crc64(out))


def test_redis72_and_legacy_stream_forms(srv):
    c = srv.client()
    build_streams(c)
    for k in STREAM_KEYS:
        want = xinfo_full(c, k)
        c.restore("v21", 0, convert(c.dump(k), 21), replace=True)
        assert xinfo_full(c, "v21") == want  # active times dropped: Redis 7.0 keeps one seen time
        c.restore("v15", 0, convert(c.dump(k), 15), replace=True)
        got = xinfo_full(c, "v15")
        assert got["entries"] == want["entries"] and got["length"] == want["length"]
        assert got["max-deleted-entry-id"] == b"0-0" and got["entries-added"] == want["length"]
        for g, w in zip(got["groups"], want["groups"]):
            assert g["pending"] == w["pending"] and g["consumers"] == w["consumers"]


# ---- hostile payloads -------------------------------------------------------------------------------

# Stream payloads of Redis's tests/integration/corrupt-dump.tcl (fuzzer
# findings and hand-made cases; their test names above each), footers
# recomputed here. Redis refuses some only with sanitize-dump-payload yes
# and crashes on others later (an assertion): Stash always checks deeply,
# so each is refused with "Bad data format", or loads a stream that every
# stream command then handles.
CORRUPT_BODIES = [
    # listpack invalid size header
    "0f01100000000000000002000000000000000240555f0000000f0001010001020188310000000000000009883200000000000000"
    "09000100010001000102028831000000000000000988610000000000000009883200000000000000098862000000000000000908"
    "01ff0a010000",
    # listpack too long entry len
    "0f0110000000000000000200000000000000024055550000000f0001010001020188310000000000000009883200000000000000"
    "09000100010001000102028931000000000000000988610000000000000009883200000000000000098862000000000000000908"
    "01ff0a010000",
    # listpack very long entry len
    "0f0110000000000000000200000000000000024055550000000f0001010001020188310000000000000009883200000000000000"
    "09000100010001000102028831000000000000000988610000000000000009883200000000000000099c62000000000000000908"
    "01ff0a010000",
    # listpack too long entry prev len
    "0f0110000000000000000200000000000000024055550000000f0001010015020188310000000000000009883200000000000000"
    "09000100010001000102028831000000000000000988610000000000000009883200000000000000098862000000000000000908"
    "01ff0a010000",
    # stream with duplicate consumers
    "0f0000000001076d7967726f757000000002046e616d652a4caa9a7d01000000046e616d652b4caa9a7d01000000",
    # fuzzer findings - NPD in streamIteratorGetID
    "0f011000000173bd68487100000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "00010101000105010201000101010101825f31030501020100010201010102014801ff038100000173bd6848710201076d796772"
    "6f75708100000173bd684871000100000173bd6848710000000000000000724868bd73010000010105416c696365724868bd7301"
    "00000100000173bd6848710000000000000000",
    # fuzzer findings - listpack NPD on invalid stream
    "0f011000000173dcb66bf100000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "000101010001050102011f01000101016d5f31030501020129010001010102010501ff038100000173dcb66c1a0001076d796772"
    "6f75708100000173dcb66bf1000100000173dcb66bf100000000000000004b6cb6dc73010000010105416c6963653d6cb6dc7301"
    "00000100000173dcb66bf10000000000000000",
    # fuzzer findings - lzf decompression fails, avoid valgrind invalid read
    "0f021000000173ddaa2ab90000000000000000c3404b405c185c0000002400050100010201846974656d058576616c7565064010"
    "00002001000120030005201c4007050101825f3103800d4000000260194027401900336019402902010104201900ff1000000173"
    "ddaa2abc0000000000000000c3404d405e185e0000002400050100010201846974656d058576616c756506401000002001060101"
    "825f350305201e170b0301010601400b0001600d02825f376019800000086019802702825f39201900ff0a8100000173ddaa2abe"
    "0000",
    # fuzzer findings - stream bad lp_count
    "0f011000000173dedf7d9b00000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "00010101000156010201220100010101825f3103050102012c010001010102010501ff038100000173dedf7dc70001076d796772"
    "6f75708100000173dedf7d9b000100000173dedf7d9b0000000000000000f97ddfde73010000010105416c696365eb7ddfde7301"
    "00000100000173dedf7d9b0000000000000000",
    # fuzzer findings - stream bad lp_count - unsanitized
    "0f011000000173dedf7d9b00000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "00010101000156010201220100010101825f3103050102012c010001010102010501ff038100000173dedf7dc70001076d796772"
    "6f75708100000173dedf7d9b000100000173dedf7d9b0000000000000000f97ddfde73010000010105416c696365eb7ddfde7301"
    "00000100000173dedf7d9b0000000000000000",
    # fuzzer findings - stream integrity check issue
    "0f0210000001752da290670000000000000000c3404f405c185c0000002400050100014a01846974656d058576616c7565064010"
    "00002001000120030005201c4009050101825f3103800d0002200d0002a0190003200b02825f33a0190004200d0004201900ff10"
    "000001752da290670000000000000005c34056406018600000002400050100010201846974656d058576616c7565064010000020"
    "01060101825f350305201e400b0301010601800b0002200b02825f376019030101dffb20050008601a200c00fc200502825f3920"
    "1b00ff0a81000001752da290680100",
    # fuzzer findings - infinite loop
    "0f0110000001753aa6d09300000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "00010101000105010201000101010101825f3103fd01020100010201010102010501ff0381000001753aa6d0930201076d796772"
    "6f757081000001753aa6d0930001000001753aa6d093000000000000000094d0a63a75010000010105416c69636594d0a63a7501"
    "000001000001753aa6d0930000000000000000",
    # fuzzer findings - negative reply length
    "0f011000000175cfa116a700000000000000004042420000001800030100010201846974656d058576616c756506000102010001"
    "00010101000105010201000101010101145f31030501020100010201010102010501ff038100000175cfa116a70201076d796772"
    "6f75708100000175cfa116a7010100000175cfa116a70000000000000001a716a1cf75010000010105416c696365a716a1cf7501"
    "00000100000175cfa116a70000000000000001",
    # fuzzer findings - stream with no records
    "0f0110000001784d55680900000000000000004042420000001800020101010201846974656d058576616c756506000102010001"
    "000101010001050103013e0100010101825f31030501020150010001010102010523ff0281000001784d5568590001076d796772"
    "6f757081000001784d5568470001000001784d55684700000000000000009f68554d78010000010105416c6963658568554d7801"
    "000001000001784d5568470000000000000000",
    # fuzzer findings - stream PEL without consumer
    "0f01100000017b08f0b2340000000000000000c33b404219420000001800020101010201846974656d058576616c756506002010"
    "0000200100012003020501032005400004825f31030560198032020501ff02810000017b08f0b2340201076d7967726f75708100"
    "00017b08f0b23401010000017b08f0b234000000000000000135b2f0087b010000010113416c69636535b2f0087b010000010000"
    "017b08f0b2340000000000000001",
    # fuzzer findings - stream listpack valgrind issue
    "0f01100000017b095e94ff00000000000000004042420000001800020101010201846974656d058576616c756506000102010001"
    "00010101000105010301250100010101825f3103050102013201000101010201f001ff02810000017b095e95310001076d796772"
    "6f7570810000017b095e952400010000017b095e952400000000000000005c955e097b010000010105416c6963654b955e097b01"
    "0000010000017b095e95240000000000000000",
    # fuzzer findings - stream with bad lpFirst
    "0f01100000017b0e52d2ec0000000000000000404242000000180002f701010201846974656d058576616c756506000102010001"
    "00010101000105010301010100010101825f31030501020101010101010102010501ff02810000017b0e52d2ed0101076d796772"
    "6f7570810000017b0e52d2ed00010000017b0e52d2ed0000000000000000edd2520e7b010000010105416c696365edd2520e7b01"
    "0000010000017b0e52d2ed0000000000000000",
    # fuzzer findings - stream listpack lpPrev valgrind issue
    "0f01100000017b0eae663600000000000000004042420000001800020101010201846974656d058576616c756506000102010001"
    "0001010100011d010301240100010169825f31030501020133010001010102010501ff02810000017b0eae66690001076d796772"
    "6f7570810000017b0eae665a00010000017b0eae665a00000000000000009466ae0e7b010000010105416c6963658366ae0e7b01"
    "0000010000017b0eae665a0000000000000000",
    # fuzzer findings - stream with non-integer entry id
    "0f03100000017b1334c3b20000000000000000c3404f405c185c0000002400050100010201846974656d058576616c7565064010"
    "00802001000120030005201c4009050101825f3103800d0002200d0002a0190003200b02825f33a0190004200d0004201900ff10"
    "0000017b1334c3b20000000000000005c34056406118610000002400050100010201846974656d058576616c7565064010000020"
    "01060101825f350305201e400b0301010601400b030101dffb200502825f37601a200e00fc20050008c01b00fd200c02825f3920"
    "1b00ff100000017b1334c3b30000000000000003c33d404a184a0000001500020100010201846974656d058576616c7565064010"
    "0000200140000005600702dffd02c02309010186756e6971756507a02d020801ff0c810000017b1334c3b40000",
    # fuzzer findings - stream double free listpack when insert dup node to rax returns 0
    "0f03100000017b605a23790000000000000000c3404f405c185c0000002400050100010201846974656d058576616c7565064010"
    "00002001000120030005201c4009050101825f3103800d0002200d0002a0190003200b02825f33a0190004200d0004201900ff10"
    "0000017b605a23790000000000000005c34051405e185e0000002400050100010201846974656d058576616c7565064010000020"
    "01060101825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008a0190004200b02825f39201900ff1000"
    "00017b605a23790000000000000000c33b404918490000001500020100010201846974656d058576616c75650640100000200140"
    "00000520074009c02209010186756e6971756507a02c020801ff0c810000017b605a237a0100",
    # fuzzer findings - streamLastValidID panic
    "13c010000001802048a0330000000000000000c3404f405c185c0000002400050100010201846974656d058576616c7565064010"
    "00002001000120030005201c4009050101825f3103800d0002200d0002a0190003200b02825f336019402f02010104201900ff10"
    "000001802048a0340000000000000001c34051405e185e0000002400050100010201846974656d058576616c7565064010000020"
    "01060101825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008a0190004200b02825f39201900ff1000"
    "0001802048a0340000000000000006c33d404a184a0000001500020100010201846974656d058576616c75650640100000200140"
    "000005600702dffa02c02309010186756e6971756507a02d020801ff0c81000001802048a0350081000001802048a0330000000c"
    "00",
    # fuzzer findings - valgrind fishy value warning
    "13011000000181cc07dcf200000000000000004042420000001800020101010201846974656d058576616c756506000102010001"
    "000101010001050103012c0100010101825f3103050102013c010001010102010501ff02d000000181cc07dd2e008100000181cc"
    "07dcf2008100000181cc07dd1e000301076d7967726f75708100000181cc07dd1e00020100000181cc07dd1e0000000000000000"
    "71dd07cc81010000010105416c69636558dd07cc810100000100000181cc07dd1e0000000000000000",
]


def _hex(s):
    return bytes.fromhex(s.replace(" ", ""))


def _with_footer(body):
    body = body + b"\x09\x00"
    return body + struct.pack("<Q", crc64(body))


def exercise(c, key):
    """Every read and a few writes on a stream that was accepted."""
    c.xinfo_stream(key, full=True)
    c.xrange(key)
    c.xrevrange(key)
    c.xrange(key, "725", "233")
    c.xrevrange(key, "725", "233")
    c.xlen(key)
    for g in c.xinfo_groups(key):
        name = g["name"]
        c.xpending_range(key, name, "-", "+", 100)
        c.xinfo_consumers(key, name)
        c.xautoclaim(key, name, "fresh", 0, "0-0", count=100)
        c.xreadgroup(name, "fresh", {key: ">"}, count=100)
        c.xreadgroup(name, "fresh", {key: "0"}, count=100)
        c.xgroup_setid(key, name, "0")
        c.xreadgroup(name, "fresh", {key: ">"}, count=100)
    c.xadd(key, {"a": 1})
    c.xtrim(key, maxlen=1)
    c.xdel(key, *[i for i, _ in c.xrange(key)])


def test_corrupt_stream_payloads_refused(srv):
    c = srv.client()
    refused = 0
    for body in CORRUPT_BODIES:
        try:
            c.restore("bad", 0, _with_footer(_hex(body)), replace=True)
        except redis.ResponseError as e:
            assert str(e) == "Bad data format"
            assert c.exists("bad") == 0
            refused += 1
            continue
        try:
            exercise(c, "bad")
        except redis.ResponseError:
            pass
        assert c.ping()
    assert refused >= len(CORRUPT_BODIES) - 2
    # A valid payload with each byte flipped in turn: refused or a stream
    # that reads back, never a crash.
    build_streams(c)
    good = c.dump("s:trim")[:-10]
    for i in range(1, len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x41
        try:
            c.restore("flip", 0, _with_footer(bytes(bad)), replace=True)
            exercise(c, "flip")
        except redis.ResponseError:
            pass
    assert c.ping()
