"""memcached meta protocol: mg ms md ma mn me with every flag of memcached
1.6 (base64 keys, opaque, CAS, TTL, vivify/stale/win, return flags, q),
their errors, and what they do to the connection.

Byte-exact expectations are memcached 1.6.18's (MC_REFERENCE=1 runs them
against the real memcached); CAS values are compared, not spelled out.
"""
import re
import time

import pytest

from memcache_support import McServer, REFERENCE, stash_only, stats

FORMAT = b"CLIENT_ERROR bad command line format\r\n"


@pytest.fixture(scope="module")
def srv():
    s = McServer()
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def raw(srv):
    r = srv.raw()
    r.send(b"flush_all\r\n")
    r.expect(b"OK\r\n")
    yield r
    r.close()


def cas_of(raw, key):
    line = raw.cmd(b"mg " + key + b" c\r\n")
    m = re.match(rb"HD c(\d+)\r\n", line)
    assert m, line
    return int(m.group(1))


# ---- mg -----------------------------------------------------------------------------------------------

def test_mg_hit_miss_and_value(raw):
    assert raw.cmd(b"mg a\r\n") == b"EN\r\n"
    assert raw.cmd(b"mg a v\r\n") == b"EN\r\n"
    assert raw.cmd(b"ms a 2\r\nhi\r\n") == b"HD\r\n"
    assert raw.cmd(b"mg a\r\n") == b"HD\r\n"
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 2\r\nhi\r\n")


def test_mg_return_flags_in_request_order(raw):
    raw.cmd(b"ms foo 3 F5 T100\r\nbar\r\n")
    raw.send(b"mg foo s t v f k O123 q h l\r\n")
    raw.expect(b"VA 3 s3 t100 f5 kfoo O123 h0 l0\r\nbar\r\n")
    raw.send(b"mg foo O9 k f s\r\n")
    raw.expect(b"HD O9 kfoo f5 s3\r\n")
    # h and l describe the item before this access: fetched now
    assert raw.cmd(b"mg foo h\r\n") == b"HD h1\r\n"
    # u does not bump the item nor mark it fetched
    raw.cmd(b"ms u 1\r\nx\r\n")
    assert raw.cmd(b"mg u u h\r\n") == b"HD h0\r\n"
    assert raw.cmd(b"mg u h\r\n") == b"HD h0\r\n"
    assert raw.cmd(b"mg u h\r\n") == b"HD h1\r\n"


def test_mg_miss_flags_and_q(raw):
    assert raw.cmd(b"mg missing O1 k\r\n") == b"EN O1 kmissing\r\n"
    raw.send(b"mg missing q\r\nmg missing q O2 k\r\nmn\r\n")
    raw.expect(b"MN\r\n")
    raw.cmd(b"ms a 1\r\nx\r\n")
    # q hides only misses
    raw.send(b"mg a q v\r\nmn\r\n")
    raw.expect(b"VA 1\r\nx\r\nMN\r\n")


def test_mg_ttl_flags(raw):
    raw.cmd(b"ms a 2 T0\r\nhi\r\n")
    assert raw.cmd(b"mg a t\r\n") == b"HD t-1\r\n"
    assert raw.cmd(b"mg a T0 t\r\n") == b"HD t-1\r\n"
    assert raw.cmd(b"mg a t T50\r\n") == b"HD t-1\r\n"  # t reports before T applies
    assert raw.cmd(b"mg a t\r\n") == b"HD t50\r\n"
    # T counts as a touch in the statistics
    before = stats(raw)
    raw.cmd(b"mg a T60\r\n")
    after = stats(raw)
    assert int(after[b"cmd_touch"]) == int(before[b"cmd_touch"]) + 1
    assert int(after[b"touch_hits"]) == int(before[b"touch_hits"]) + 1


def test_mg_cas(raw):
    raw.cmd(b"ms a 1\r\nx\r\n")
    c1 = cas_of(raw, b"a")
    assert c1 == cas_of(raw, b"a")
    raw.cmd(b"ms a 1\r\ny\r\n")
    assert cas_of(raw, b"a") != c1


def test_mg_vivify_and_win_tokens(raw):
    # N: the first miss creates an empty item and wins, later callers see Z
    raw.send(b"mg a N30 s t v\r\n")
    raw.expect(b"VA 0 s0 t30 W\r\n\r\n")
    raw.send(b"mg a N30 s t v\r\n")
    raw.expect(b"VA 0 s0 t30 Z\r\n\r\n")
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 0 Z\r\n\r\n")
    # the recache clears the token state
    assert raw.cmd(b"ms a 3 T30\r\nnew\r\n") == b"HD\r\n"
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 3\r\nnew\r\n")


def test_mg_recache_win(raw):
    raw.cmd(b"ms a 2 T100\r\nhi\r\n")
    raw.send(b"mg a R30 v\r\n")
    raw.expect(b"VA 2\r\nhi\r\n")  # 100s left is not below 30
    raw.send(b"mg a R200 v\r\n")
    raw.expect(b"VA 2 W\r\nhi\r\n")  # below 200: this one wins
    raw.send(b"mg a R200 v\r\n")
    raw.expect(b"VA 2 Z\r\nhi\r\n")  # already won


def test_mg_errors(raw):
    assert raw.cmd(b"mg\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"mg " + b"k" * 251 + b" v\r\n") == FORMAT
    assert raw.cmd(b"mg a v v\r\n") == b"CLIENT_ERROR duplicate flag\r\n"
    assert raw.cmd(b"mg a z\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert raw.cmd(b"mg a ~\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert raw.cmd(b"mg a \x80\r\n") == b"CLIENT_ERROR duplicate flag\r\n"  # bytes >= 127
    assert raw.cmd(b"mg a Nx v\r\n") == b"CLIENT_ERROR bad token in command line format\r\n"
    assert raw.cmd(b"mg a T\r\n") == b"CLIENT_ERROR bad token in command line format\r\n"
    assert raw.cmd(b"mg a R\r\n") == b"CLIENT_ERROR bad token in command line format\r\n"
    assert raw.cmd(b"mg a Cx\r\n") == b"CLIENT_ERROR bad token in command line format\r\n"
    assert raw.cmd(b"mg a O" + b"x" * 33 + b"\r\n") == b"CLIENT_ERROR opaque token too long\r\n"
    assert raw.cmd(b"mg a " + b" ".join(b"%d" % i for i in range(18)) + b"\r\n") == \
        b"CLIENT_ERROR options flags are too long\r\n"
    # errors are never silenced by q
    assert raw.cmd(b"mg a q z\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert raw.cmd(b"mn\r\n") == b"MN\r\n"


# ---- ms -----------------------------------------------------------------------------------------------

def test_ms_basic_flags_ttl(raw):
    assert raw.cmd(b"ms a 2 F5 T0\r\nhi\r\n") == b"HD\r\n"
    raw.send(b"mg a f v t\r\n")
    raw.expect(b"VA 2 f5 t-1\r\nhi\r\n")
    raw.send(b"get a\r\n")
    raw.expect(b"VALUE a 5 2\r\nhi\r\nEND\r\n")
    assert raw.cmd(b"ms a 1 F4294967295\r\nx\r\n") == b"HD\r\n"
    assert raw.cmd(b"mg a f\r\n") == b"HD f4294967295\r\n"
    assert raw.cmd(b"ms e 0\r\n\r\n") == b"HD\r\n"
    raw.send(b"mg e v s\r\n")
    raw.expect(b"VA 0 s0\r\n\r\n")


def test_ms_modes(raw):
    raw.send(b"ms a 5 MP\r\nhello\r\nms a 5 ME\r\nhello\r\nms a 5 ME\r\nhello\r\nms a 5 MR\r\nworld\r\n"
             b"ms a 1 MA\r\n!\r\nms a 1 MP\r\n>\r\nms a 1 MS\r\nz\r\nmg a v\r\n")
    raw.expect(b"NS\r\nHD\r\nNS\r\nHD\r\nHD\r\nHD\r\nHD\r\nVA 1\r\nz\r\n")
    raw.send(b"ms b 1 MA\r\nx\r\nms b 1 MP\r\nx\r\nms b 1 MR\r\nx\r\n")
    raw.expect(b"NS\r\nNS\r\nNS\r\n")
    assert raw.cmd(b"ms a 1 MX\r\nx\r\n") == b"CLIENT_ERROR invalid mode for ms M token\r\n"
    assert raw.cmd(b"ms a 1 M\r\nx\r\n") == b"CLIENT_ERROR incorrect length for M token\r\n"
    assert raw.cmd(b"ms a 1 MEE\r\nx\r\n") == b"CLIENT_ERROR incorrect length for M token\r\n"
    assert raw.cmd(b"mn\r\n") == b"MN\r\n"  # the data of refused ms commands was skipped


def test_ms_cas_and_return_flags(raw):
    assert raw.cmd(b"ms a 1 C1\r\nx\r\n") == b"NF\r\n"
    line = raw.cmd(b"ms a 1 c O7 k\r\nx\r\n")
    m = re.match(rb"HD c(\d+) O7 ka\r\n", line)
    assert m, line
    cas = int(m.group(1))
    assert cas == cas_of(raw, b"a")
    assert raw.cmd(b"ms a 1 C%d\r\ny\r\n" % (cas + 1)) == b"EX\r\n"
    line = raw.cmd(b"ms a 1 C%d c\r\ny\r\n" % cas)
    m = re.match(rb"HD c(\d+)\r\n", line)
    assert m and int(m.group(1)) != cas, line
    # append with a CAS that does not match
    assert raw.cmd(b"ms a 1 MA C%d\r\nz\r\n" % cas) == b"EX\r\n"
    # a failed ms returns c0
    assert raw.cmd(b"ms nope 1 MR c\r\nx\r\n") == b"NS c0\r\n"


def test_ms_invalidate_with_older_cas(raw):
    raw.cmd(b"ms a 1\r\nx\r\n")
    cas = cas_of(raw, b"a")
    raw.cmd(b"ms a 1\r\nx\r\n")  # the CAS moves on
    # I: an older CAS is accepted, the item is stored stale
    assert raw.cmd(b"ms a 1 C%d I\r\ny\r\n" % cas) == b"HD\r\n"
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 1 X W\r\ny\r\n")
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 1 Z X\r\ny\r\n")


def test_ms_q(raw):
    raw.send(b"ms a 1 q\r\nx\r\nms a 1 ME q\r\nx\r\nms a 1 C99 q\r\nx\r\nmn\r\n")
    raw.expect(b"NS\r\nEX\r\nMN\r\n")  # q hides only HD


def test_ms_errors_and_swallow(raw):
    assert raw.cmd(b"ms\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"ms a\r\n") == FORMAT
    assert raw.cmd(b"ms a b\r\n") == FORMAT
    assert raw.cmd(b"ms a -1\r\n") == FORMAT
    assert raw.cmd(b"ms a 2147483647\r\n") == FORMAT
    assert raw.cmd(b"ms " + b"k" * 251 + b" 1\r\n") == FORMAT
    # flag errors skip the value that follows
    for line, err in ((b"ms a 1 T", b"CLIENT_ERROR bad token in command line format"),
                      (b"ms a 1 Tx", b"CLIENT_ERROR bad token in command line format"),
                      (b"ms a 1 Fx", b"CLIENT_ERROR bad command line format"),
                      (b"ms a 1 F-1", b"CLIENT_ERROR bad command line format"),
                      (b"ms a 1 C", b"CLIENT_ERROR bad token in command line format"),
                      (b"ms a 1 v v", b"CLIENT_ERROR duplicate flag"),
                      (b"ms a 1 ~", b"CLIENT_ERROR invalid flag"),
                      (b"ms a 1 O" + b"x" * 33, b"CLIENT_ERROR opaque token too long"),
                      (b"ms a 1 " + b" ".join(b"%d" % i for i in range(17)), b"CLIENT_ERROR options flags too long")):
        assert raw.cmd(line + b"\r\nx\r\n") == err + b"\r\n", line
        if b"too long" in err and b"flags" in err:
            raw.expect(b"ERROR\r\n")  # refused before the length was known: "x" was a command
    raw.send(b"ms a 2000000 T0\r\n" + b"x" * 2000000 + b"\r\nmn\r\n")
    raw.expect(b"SERVER_ERROR object too large for cache\r\nMN\r\n")
    raw.send(b"ms a 1\r\nxyz\r\n")
    raw.expect(b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
    # bad data chunk is not silenced by q
    raw.send(b"ms a 1 q\r\nxyz\r\n")
    raw.expect(b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")


# ---- md -----------------------------------------------------------------------------------------------

def test_md(raw):
    assert raw.cmd(b"md a\r\n") == b"NF\r\n"
    raw.cmd(b"ms a 2\r\nhi\r\n")
    assert raw.cmd(b"md a O5 k\r\n") == b"HD O5 ka\r\n"
    assert raw.cmd(b"md a O5 k\r\n") == b"NF O5 ka\r\n"
    raw.cmd(b"ms a 2\r\nhi\r\n")
    cas = cas_of(raw, b"a")
    assert raw.cmd(b"md a C%d\r\n" % (cas + 1)) == b"EX\r\n"
    assert raw.cmd(b"md a C0 q\r\n") == b"EX\r\n"  # q hides only HD
    raw.send(b"md a C%d q\r\nmn\r\n" % cas)
    raw.expect(b"MN\r\n")
    assert raw.cmd(b"mg a\r\n") == b"EN\r\n"


def test_md_invalidate(raw):
    raw.cmd(b"ms a 2\r\nhi\r\n")
    cas = cas_of(raw, b"a")
    assert raw.cmd(b"md a I T30\r\n") == b"HD\r\n"
    raw.send(b"mg a v t c\r\n")
    line = raw.readline()
    m = re.match(rb"VA 2 t30 c(\d+) X W\r\n", line)
    assert m and int(m.group(1)) != cas, line  # a new CAS
    raw.expect(b"hi\r\n")
    raw.send(b"mg a v\r\n")
    raw.expect(b"VA 2 Z X\r\nhi\r\n")
    raw.send(b"ms a 3\r\nnew\r\nmg a v\r\n")
    raw.expect(b"HD\r\nVA 3\r\nnew\r\n")


def test_md_errors(raw):
    assert raw.cmd(b"md\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"md " + b"k" * 251 + b"\r\n") == FORMAT
    assert raw.cmd(b"md a x\r\n") == b"CLIENT_ERROR invalid or duplicate flag\r\n"
    assert raw.cmd(b"md a q q\r\n") == b"CLIENT_ERROR invalid or duplicate flag\r\n"
    assert raw.cmd(b"md a Cx\r\n") == b"CLIENT_ERROR invalid or duplicate flag\r\n"
    assert raw.cmd(b"md a O" + b"x" * 33 + b"\r\n") == b"CLIENT_ERROR opaque token too long\r\n"


# ---- ma -----------------------------------------------------------------------------------------------

def test_ma(raw):
    assert raw.cmd(b"ma n\r\n") == b"NF\r\n"
    raw.cmd(b"ms n 2\r\n10\r\n")
    raw.send(b"ma n D5 v t\r\nma n MD D100 v\r\nma n M- v\r\nma n M+ v\r\nma n MI D2 v\r\nma n\r\n")
    raw.expect(b"VA 2 t-1\r\n15\r\nVA 1\r\n0\r\nVA 1\r\n0\r\nVA 1\r\n1\r\nVA 1\r\n3\r\nHD\r\n")
    raw.cmd(b"ms s 3\r\nabc\r\n")
    assert raw.cmd(b"ma s\r\n") == b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    assert raw.cmd(b"ma n O2 k\r\n") == b"HD O2 kn\r\n"
    assert raw.cmd(b"ma nope O2 k\r\n") == b"NF O2 knope\r\n"


def test_ma_vivify_cas_ttl(raw):
    raw.send(b"ma x N0 J5 v\r\nma x v\r\n")
    raw.expect(b"VA 1\r\n5\r\nVA 1\r\n6\r\n")
    raw.send(b"ma a N100 J5 t v\r\nma b t N100 J5 v\r\nma c T100 N50 J1 t v\r\n")
    raw.expect(b"VA 1 t100\r\n5\r\nVA 1 t-1\r\n5\r\nVA 1 t50\r\n1\r\n")
    assert raw.cmd(b"mg b t\r\n") == b"HD t100\r\n"
    line = raw.cmd(b"ma x c\r\n")
    m = re.match(rb"HD c(\d+)\r\n", line)
    assert m, line
    cas = int(m.group(1))
    assert raw.cmd(b"ma x C%d\r\n" % (cas + 1)) == b"EX\r\n"
    assert raw.cmd(b"ma x C%d v\r\n" % cas, 2) == b"VA 1\r\n8\r\n"
    raw.send(b"ma x T10 q\r\nma y N0 J5 q\r\nma z q\r\nmn\r\n")
    raw.expect(b"HD\r\nNF\r\nMN\r\n")  # q hides HD of an update, not of a creation
    assert raw.cmd(b"mg x t\r\n") == b"HD t10\r\n"


def test_ma_errors(raw):
    assert raw.cmd(b"ma\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"ma a Mx\r\n") == b"CLIENT_ERROR invalid mode for ma M token\r\n"
    for line in (b"ma a M", b"ma a MEE", b"ma a Dx", b"ma a Jx", b"ma a C", b"ma a ~", b"ma a q q"):
        assert raw.cmd(line + b"\r\n") == b"CLIENT_ERROR invalid or duplicate flag\r\n", line
    assert raw.cmd(b"ma " + b"k" * 251 + b"\r\n") == FORMAT


# ---- base64 keys, mn, me ----------------------------------------------------------------------------------

def test_base64_keys(raw):
    assert raw.cmd(b"mg YW== b v\r\n") == b"EN\r\n"
    assert raw.cmd(b"mg @@@@ b v\r\n") == b"CLIENT_ERROR error decoding key\r\n"
    assert raw.cmd(b"ms YQ== 1 b\r\nx\r\n") == b"HD\r\n"
    # the decoded key is the item's key, for every protocol
    raw.send(b"get a\r\n")
    raw.expect(b"VALUE a 0 1\r\nx\r\nEND\r\n")
    raw.send(b"mg YQ== b v k\r\n")
    raw.expect(b"VA 1 kYQ== b\r\nx\r\n")
    # a key stored as binary is returned in base64
    raw.send(b"mg a v k\r\n")
    raw.expect(b"VA 1 kYQ== b\r\nx\r\n")
    assert raw.cmd(b"ms YWJj 1 k O123 b\r\nx\r\n") == b"HD kYWJj b O123\r\n"
    assert raw.cmd(b"md YWJj b k O8\r\n") == b"HD kYWJj b O8\r\n"
    line = raw.cmd(b"me YQ== b\r\n")
    assert re.match(rb"ME YQ== exp=-1 la=\d+ cas=\d+ fetch=yes cls=\d+ size=\d+\r\n", line), line
    assert raw.cmd(b"me YQ b\r\n") == FORMAT


def test_mn(raw):
    assert raw.cmd(b"mn\r\n") == b"MN\r\n"
    assert raw.cmd(b"mn extra\r\n") == b"MN\r\n"


def test_me(raw):
    assert raw.cmd(b"me a\r\n") == b"EN\r\n"
    raw.cmd(b"ms a 3 T100\r\nabc\r\n")
    line = raw.cmd(b"me a\r\n")
    assert re.match(rb"ME a exp=-(99|100) la=\d+ cas=\d+ fetch=no cls=\d+ size=\d+\r\n", line), line
    raw.cmd(b"mg a v\r\n", 2)
    assert b"fetch=yes" in raw.cmd(b"me a\r\n")
    assert raw.cmd(b"me\r\n") == FORMAT
    assert raw.cmd(b"me " + b"k" * 251 + b"\r\n") == FORMAT
    before = int(stats(raw)[b"cmd_meta"])
    raw.cmd(b"me a\r\n")
    assert int(stats(raw)[b"cmd_meta"]) == before + 1


def test_meta_mixes_with_classic_commands(raw):
    raw.send(b"ms a 2\r\nhi\r\nmg a s v\r\nset a 0 0 3\r\nabc\r\nmg a s v\r\nms a 1 MA\r\nd\r\nget a\r\n")
    raw.expect(b"HD\r\nVA 2 s2\r\nhi\r\nSTORED\r\nVA 3 s3\r\nabc\r\nHD\r\nVALUE a 0 4\r\nabcd\r\nEND\r\n")


def test_meta_pipeline_with_opaques(raw):
    raw.send(b"ms k1 1\r\n1\r\nms k3 1\r\n3\r\n")
    raw.expect(b"HD\r\nHD\r\n")
    raw.send(b"mg k1 v q O1\r\nmg k2 v q O2\r\nmg k3 v q O3\r\nmn\r\n")
    raw.expect(b"VA 1 O1\r\n1\r\nVA 1 O3\r\n3\r\nMN\r\n")


@stash_only
def test_meta_items_are_redis_strings():
    from conftest import Server, free_port
    from memcache_support import McRaw
    import socket

    port = free_port()
    s = Server("--memcached-port", str(port))
    try:
        r = s.client()
        m = McRaw(socket.create_connection(("127.0.0.1", port), timeout=10))
        assert m.cmd(b"ms k 5 T60 F3\r\nhello\r\n") == b"HD\r\n"
        assert r.get("k") == b"hello" and 59 <= r.ttl("k") <= 60
        r.set("k2", "v")
        m.send(b"mg k2 v f c\r\n")
        assert re.match(rb"VA 1 f0 c\d+\r\n", m.readline())
        m.expect(b"v\r\n")
        assert m.cmd(b"ma cnt N0 J41 v\r\n", 2) == b"VA 2\r\n41\r\n"
        assert r.incr("cnt") == 42
    finally:
        s.stop()
