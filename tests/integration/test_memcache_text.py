"""memcached text protocol: every classic command, its errors and where the
connection stays open or closes, noreply, exptime rules, limits, stats,
watchers, eviction, and the keyspace shared with Redis.

Byte-exact expectations are memcached 1.6.18's (run with MC_REFERENCE=1 to
check them against the real memcached).
"""
import os
import re
import socket
import time

import pytest

from memcache_support import McServer, REFERENCE, stash_only, stats


@pytest.fixture(scope="module")
def srv():
    s = McServer("-o", "idle_timeout=0")
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


def value_line(key, flags, data, cas=None):
    head = b"VALUE %s %d %d" % (key, flags, len(data))
    if cas is not None:
        head += b" %d" % cas
    return head + b"\r\n" + data + b"\r\n"


def gets_cas(raw, key):
    raw.send(b"gets " + key + b"\r\n")
    line = raw.readline()
    m = re.match(rb"VALUE \S+ \d+ (\d+) (\d+)\r\n", line)
    assert m, line
    raw.read(int(m.group(1)) + 2)
    raw.expect(b"END\r\n")
    return int(m.group(2))


# ---- storage and retrieval ---------------------------------------------------------------------------

def test_set_get(raw):
    assert raw.cmd(b"set k 0 0 5\r\nhello\r\n") == b"STORED\r\n"
    raw.send(b"get k\r\n")
    raw.expect(value_line(b"k", 0, b"hello") + b"END\r\n")


def test_flags_are_32_bit_and_truncated_like_memcached(raw):
    for flags in (0, 1, 65535, 4294967295):
        assert raw.cmd(b"set f 0 0 1\r\nx\r\n".replace(b"0 0 1", b"%d 0 1" % flags)) == b"STORED\r\n"
        raw.send(b"get f\r\n")
        raw.expect(value_line(b"f", flags, b"x") + b"END\r\n")
    # 2**32 parses as a 64-bit number and is kept in 32 bits: 0
    assert raw.cmd(b"set f 4294967296 0 1\r\nx\r\n") == b"STORED\r\n"
    raw.send(b"get f\r\n")
    raw.expect(value_line(b"f", 0, b"x") + b"END\r\n")
    assert raw.cmd(b"set f -1 0 1\r\nx\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    raw.expect(b"ERROR\r\n")  # the data line "x" is read as a command


def test_empty_and_binary_values(raw):
    assert raw.cmd(b"set e 0 0 0\r\n\r\n") == b"STORED\r\n"
    data = bytes(range(256)) + b"\r\nEND\r\n\x00"
    assert raw.cmd(b"set b 3 0 %d\r\n" % len(data) + data + b"\r\n") == b"STORED\r\n"
    raw.send(b"get e b\r\n")
    raw.expect(value_line(b"e", 0, b"") + value_line(b"b", 3, data) + b"END\r\n")


def test_multiget_keeps_order_and_skips_misses(raw):
    raw.send(b"set a 0 0 1\r\n1\r\nset c 0 0 1\r\n3\r\n")
    raw.expect(b"STORED\r\nSTORED\r\n")
    raw.send(b"get a b c a\r\n")
    raw.expect(value_line(b"a", 0, b"1") + value_line(b"c", 0, b"3") + value_line(b"a", 0, b"1") + b"END\r\n")
    raw.send(b"bget a\r\n")
    raw.expect(value_line(b"a", 0, b"1") + b"END\r\n")


def test_multiget_beyond_one_token_window(raw):
    keys = [b"key%03d" % i for i in range(100)]
    for k in keys[::2]:
        raw.send(b"set " + k + b" 0 0 3\r\n" + k[-3:] + b"\r\n")
    for _ in keys[::2]:
        raw.expect(b"STORED\r\n")
    raw.send(b"get " + b" ".join(keys) + b"\r\n")
    raw.expect(b"".join(value_line(k, 0, k[-3:]) for k in keys[::2]) + b"END\r\n")
    # a multiget line longer than 2048 bytes is fine
    long_keys = [b"k" * 200 + b"%03d" % i for i in range(30)]
    raw.send(b"get " + b" ".join(long_keys) + b"\r\n")
    raw.expect(b"END\r\n")


def test_gets_and_cas(raw):
    raw.cmd(b"set k 0 0 1\r\na\r\n")
    cas = gets_cas(raw, b"k")
    assert cas > 0
    assert gets_cas(raw, b"k") == cas  # reading does not change it
    assert raw.cmd(b"cas k 0 0 1 %d\r\nb\r\n" % (cas + 1)) == b"EXISTS\r\n"
    assert raw.cmd(b"cas k 0 0 1 %d\r\nb\r\n" % cas) == b"STORED\r\n"
    assert raw.cmd(b"cas k 0 0 1 %d\r\nc\r\n" % cas) == b"EXISTS\r\n"
    assert raw.cmd(b"cas k 0 0 1 0\r\nc\r\n") == b"EXISTS\r\n"
    assert raw.cmd(b"cas missing 0 0 1 1\r\nc\r\n") == b"NOT_FOUND\r\n"
    raw.send(b"get k\r\n")
    raw.expect(value_line(b"k", 0, b"b") + b"END\r\n")
    assert raw.cmd(b"cas k 0 0 1\r\nc\r\n") == b"ERROR\r\n"
    raw.expect(b"ERROR\r\n")


def test_every_write_changes_the_cas(raw):
    raw.cmd(b"set k 0 0 1\r\n5\r\n")
    seen = {gets_cas(raw, b"k")}
    for cmd in (b"append k 0 0 1\r\n0\r\n", b"prepend k 0 0 1\r\n1\r\n", b"incr k 1\r\n", b"decr k 1\r\n",
                b"set k 0 0 2\r\n10\r\n", b"replace k 0 0 2\r\n11\r\n"):
        raw.cmd(cmd)
        cas = gets_cas(raw, b"k")
        assert cas not in seen, cmd
        seen.add(cas)
    # touch changes the expiry, not the value: same CAS
    before = gets_cas(raw, b"k")
    assert raw.cmd(b"touch k 100\r\n") == b"TOUCHED\r\n"
    assert gets_cas(raw, b"k") == before


def test_add_replace_append_prepend(raw):
    assert raw.cmd(b"add k 5 0 1\r\na\r\n") == b"STORED\r\n"
    assert raw.cmd(b"add k 0 0 1\r\nb\r\n") == b"NOT_STORED\r\n"
    assert raw.cmd(b"replace nope 0 0 1\r\nb\r\n") == b"NOT_STORED\r\n"
    assert raw.cmd(b"replace k 6 0 1\r\nc\r\n") == b"STORED\r\n"
    # append/prepend keep the item's flags; their own flags and exptime are ignored
    assert raw.cmd(b"append k 9 1 2\r\nde\r\n") == b"STORED\r\n"
    assert raw.cmd(b"prepend k 9 1 2\r\nab\r\n") == b"STORED\r\n"
    raw.send(b"get k\r\n")
    raw.expect(value_line(b"k", 6, b"abcde") + b"END\r\n")
    assert raw.cmd(b"append nope 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
    assert raw.cmd(b"prepend nope 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
    time.sleep(1.2)  # the ignored exptime of 1 did not apply
    raw.send(b"get k\r\n")
    raw.expect(value_line(b"k", 6, b"abcde") + b"END\r\n")


def test_append_beyond_item_size_is_not_stored(srv):
    s = McServer("-I", "1m")
    try:
        r = s.raw()
        big = b"x" * 1000000
        assert r.cmd(b"set k 0 0 %d\r\n" % len(big) + big + b"\r\n") == b"STORED\r\n"
        assert r.cmd(b"append k 0 0 %d\r\n" % len(big) + big + b"\r\n") == b"NOT_STORED\r\n"
    finally:
        s.stop()


def test_incr_decr(raw):
    assert raw.cmd(b"incr n 1\r\n") == b"NOT_FOUND\r\n"
    assert raw.cmd(b"decr n 1\r\n") == b"NOT_FOUND\r\n"
    raw.cmd(b"set n 3 0 2\r\n10\r\n")
    assert raw.cmd(b"incr n 5\r\n") == b"15\r\n"
    assert raw.cmd(b"decr n 100\r\n") == b"0\r\n"  # floors at 0
    assert raw.cmd(b"incr n 18446744073709551615\r\n") == b"18446744073709551615\r\n"
    assert raw.cmd(b"incr n 2\r\n") == b"1\r\n"  # wraps at 2**64
    raw.send(b"mg n f\r\n")
    raw.expect(b"HD f3\r\n")  # flags kept
    assert raw.cmd(b"incr n -1\r\n") == b"CLIENT_ERROR invalid numeric delta argument\r\n"
    assert raw.cmd(b"incr n x\r\n") == b"CLIENT_ERROR invalid numeric delta argument\r\n"
    assert raw.cmd(b"incr n 18446744073709551616\r\n") == b"CLIENT_ERROR invalid numeric delta argument\r\n"
    raw.cmd(b"set s 0 0 3\r\nabc\r\n")
    assert raw.cmd(b"incr s 1\r\n") == b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    raw.cmd(b"set e 0 0 0\r\n\r\n")
    assert raw.cmd(b"incr e 1\r\n") == b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    raw.cmd(b"set sp 0 0 2\r\n 7\r\n")  # leading white space parses, as strtoull does
    assert raw.cmd(b"incr sp 1\r\n") == b"8\r\n"
    assert raw.cmd(b"incr\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"incr n 1 2 3\r\n") == b"ERROR\r\n"


@stash_only
def test_decr_value_is_not_space_padded(raw):
    # memcached may pad a shrinking number with spaces ("9 "); the protocol
    # lets servers choose, and Stash keeps the plain number (so Redis INCR works too).
    raw.cmd(b"set n 0 0 2\r\n10\r\n")
    assert raw.cmd(b"decr n 1\r\n") == b"9\r\n"
    raw.send(b"get n\r\n")
    raw.expect(value_line(b"n", 0, b"9") + b"END\r\n")


def test_delete_forms(raw):
    raw.cmd(b"set k 0 0 1\r\nx\r\n")
    assert raw.cmd(b"delete k\r\n") == b"DELETED\r\n"
    assert raw.cmd(b"delete k\r\n") == b"NOT_FOUND\r\n"
    raw.cmd(b"set k 0 0 1\r\nx\r\n")
    assert raw.cmd(b"delete k 0\r\n") == b"DELETED\r\n"
    usage = b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    assert raw.cmd(b"delete k 5\r\n") == usage
    assert raw.cmd(b"delete k 0 0\r\n") == usage
    assert raw.cmd(b"delete\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"delete a b c d\r\n") == b"ERROR\r\n"
    raw.cmd(b"set k 0 0 1\r\nx\r\n")
    raw.send(b"delete k noreply\r\ndelete k 0 noreply\r\nmn\r\n")
    raw.expect(b"MN\r\n")


def test_touch_gat_gats(raw):
    assert raw.cmd(b"touch k 10\r\n") == b"NOT_FOUND\r\n"
    raw.cmd(b"set k 4 0 1\r\nv\r\n")
    assert raw.cmd(b"touch k 1\r\n") == b"TOUCHED\r\n"
    assert raw.cmd(b"touch k x\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"
    raw.send(b"gat 100 k missing\r\n")
    raw.expect(value_line(b"k", 4, b"v") + b"END\r\n")
    time.sleep(1.3)  # gat's 100 replaced touch's 1
    raw.send(b"gats 0 k\r\n")
    line = raw.readline()
    assert re.match(rb"VALUE k 4 1 \d+\r\n", line), line
    raw.expect(b"v\r\nEND\r\n")
    assert raw.cmd(b"gat x k\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"
    assert raw.cmd(b"gat 1\r\n") == b"END\r\n"
    assert raw.cmd(b"gat\r\n") == b"ERROR\r\n"
    # a negative exptime returns the item once, then it is gone
    raw.send(b"gat -1 k\r\n")
    raw.expect(value_line(b"k", 4, b"v") + b"END\r\n")
    raw.send(b"get k\r\n")
    raw.expect(b"END\r\n")


def test_exptime_rules(raw):
    now = int(time.time())
    raw.send(b"set never 0 0 1\r\na\r\nset neg 0 -1 1\r\na\r\nset rel 0 1 1\r\na\r\n"
             b"set past 0 %d 1\r\na\r\nset future 0 %d 1\r\na\r\n" % (now - 10, now + 100))
    raw.expect(b"STORED\r\n" * 5)
    raw.send(b"get never neg rel past future\r\n")
    raw.expect(value_line(b"never", 0, b"a") + value_line(b"rel", 0, b"a") + value_line(b"future", 0, b"a") +
               b"END\r\n")
    raw.send(b"mg future t\r\n")
    ttl = int(raw.readline()[4:-2])
    assert 97 <= ttl <= 100
    time.sleep(2.1)
    raw.send(b"get never rel\r\n")
    raw.expect(value_line(b"never", 0, b"a") + b"END\r\n")
    # a negative exptime on an existing item makes it disappear (it is replaced)
    raw.send(b"set never 0 -1 1\r\nb\r\nget never\r\n")
    raw.expect(b"STORED\r\nEND\r\n")
    # 30 days is still relative, more is an absolute time
    raw.send(b"set d30 0 2592000 1\r\na\r\nset d30p 0 2592001 1\r\na\r\nget d30 d30p\r\n")
    raw.expect(b"STORED\r\nSTORED\r\n" + value_line(b"d30", 0, b"a") + b"END\r\n")


def test_key_length_limit(raw):
    k250, k251 = b"k" * 250, b"k" * 251
    assert raw.cmd(b"set " + k250 + b" 0 0 1\r\nx\r\n") == b"STORED\r\n"
    raw.send(b"get " + k250 + b"\r\n")
    raw.expect(value_line(k250, 0, b"x") + b"END\r\n")
    assert raw.cmd(b"set " + k251 + b" 0 0 1\r\nx\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    raw.expect(b"ERROR\r\n")  # the data line was read as a command
    # a multiget with one bad key answers only the error
    raw.send(b"get " + k250 + b" " + k251 + b"\r\n")
    raw.expect(b"CLIENT_ERROR bad command line format\r\n")
    for cmd in (b"delete ", b"incr ", b"touch "):
        arg = b" 1" if cmd != b"delete " else b""
        assert raw.cmd(cmd + k251 + arg + b"\r\n") == b"CLIENT_ERROR bad command line format\r\n", cmd
    assert raw.nothing()


@stash_only
def test_keys_with_control_characters_are_refused(raw):
    assert raw.cmd(b"set a\x01b 0 0 1\r\nx\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    raw.expect(b"ERROR\r\n")
    assert raw.cmd(b"get a\tb\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    assert raw.cmd(b"delete a\x7fb\r\n") == b"CLIENT_ERROR bad command line format\r\n"


def test_item_size_max_and_swallow(raw):
    # memcached's rule: 48 + key + 1 + value + 2 + 8 (CAS) <= 1 MiB, plus 4 with flags
    fit = 1048576 - 48 - 1 - 1 - 2 - 8
    big = b"x" * fit
    assert raw.cmd(b"set a 0 0 %d\r\n" % fit + big + b"\r\n") == b"STORED\r\n"
    assert raw.cmd(b"set a 1 0 %d\r\n" % (fit - 4) + big[4:] + b"\r\n") == b"STORED\r\n"
    assert raw.cmd(b"set a 1 0 %d\r\n" % (fit - 3) + big[3:] + b"\r\n") == \
        b"SERVER_ERROR object too large for cache\r\n"
    # the refused value was skipped, and the failed set removed the old value
    raw.send(b"get a\r\n")
    raw.expect(b"END\r\n")
    too_big = b"y" * 2000000
    raw.send(b"set b 0 0 %d\r\n" % len(too_big) + too_big + b"\r\nget b\r\n")
    raw.expect(b"SERVER_ERROR object too large for cache\r\nEND\r\n")
    # noreply silences the error, the value is still skipped
    raw.send(b"set b 0 0 %d noreply\r\n" % len(too_big) + too_big + b"\r\nmn\r\n")
    raw.expect(b"MN\r\n")


def test_bad_data_chunk(raw):
    raw.send(b"set k 0 0 1\r\nxyz\r\n")
    raw.expect(b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
    raw.send(b"set k 0 0 1 noreply\r\nxyz\r\n")
    raw.expect(b"ERROR\r\n")
    raw.send(b"get k\r\n")
    raw.expect(b"END\r\n")


def test_errors_and_token_counts(raw):
    for line in (b"", b"   ", b"x", b"foo", b"GET k", b"getx k", b"set k", b"set k 0 0", b"set k 0 0 1 2 3",
                 b"add k 0", b"cas k 0 0 1", b"get", b"gets", b"touch k", b"verbosity", b"mx k", b"m"):
        assert raw.cmd(line + b"\r\n") == b"ERROR\r\n", line
    for line in (b"set k x 0 1", b"set k 0 x 1", b"set k 0 0 x", b"set k 0 0 -1", b"cas k 0 0 1 x",
                 b"set k 0 0 2147483647"):
        assert raw.cmd(line + b"\r\n") == b"CLIENT_ERROR bad command line format\r\n", line
    assert raw.cmd(b"verbosity x\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    # the connection survives all of that
    assert raw.cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_noreply_everywhere(raw):
    raw.send(b"set k 0 0 1 noreply\r\n1\r\nadd k2 0 0 1 noreply\r\n2\r\nreplace k 0 0 1 noreply\r\n3\r\n"
             b"append k 0 0 1 noreply\r\n4\r\nprepend k 0 0 1 noreply\r\n5\r\nincr k 1 noreply\r\n"
             b"decr k 2 noreply\r\ntouch k 100 noreply\r\ncas k 0 0 1 1 noreply\r\n6\r\n"
             b"verbosity 0 noreply\r\ndelete k2 noreply\r\nadd k 0 0 1 noreply\r\n7\r\n"
             b"incr nope 1 noreply\r\nset k 0 0 x noreply\r\nmn\r\n")
    # "set k 0 0 x noreply" answers nothing either; everything is silent up to mn
    raw.expect(b"MN\r\n")
    raw.send(b"get k k2\r\n")
    raw.expect(value_line(b"k", 0, b"533") + b"END\r\n")
    raw.send(b"flush_all noreply\r\nget k\r\n")
    raw.expect(b"END\r\n")


def test_line_without_newline_closes_the_connection(srv):
    r = srv.raw()
    r.send(b"get a\r\n" + b"x" * 3000)
    r.expect(b"END\r\n")
    assert r.closed()


def test_http_request_closes_the_connection(srv):
    r = srv.raw()
    r.send(b"get a\r\nGET / HTTP/1.1\r\n")
    r.expect(b"END\r\n")
    assert r.closed()


def test_quit(srv):
    r = srv.raw()
    r.send(b"set q 0 0 1\r\nx\r\nquit\r\nget q\r\n")
    r.expect(b"STORED\r\n")
    assert r.closed()
    assert r.buf == b""


def test_version_and_verbosity(raw):
    assert raw.cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"
    assert raw.cmd(b"version extra\r\n") == b"VERSION 1.6.18\r\n"
    assert raw.cmd(b"verbosity 1\r\n") == b"OK\r\n"
    assert raw.cmd(b"verbosity 0\r\n") == b"OK\r\n"
    assert raw.cmd(b"verbosity 1 2 3\r\n") == b"ERROR\r\n"


def test_flush_all(raw):
    raw.cmd(b"set a 0 0 1\r\n1\r\n")
    assert raw.cmd(b"flush_all\r\n") == b"OK\r\n"
    raw.send(b"get a\r\n")
    raw.expect(b"END\r\n")
    assert raw.cmd(b"flush_all x\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"
    assert raw.cmd(b"flush_all 1 2 3\r\n") == b"ERROR\r\n"
    assert raw.cmd(b"flush_all 0 noreply\r\nmn\r\n") == b"MN\r\n"
    # delayed: items stay until the delay is over
    raw.cmd(b"set a 0 0 1\r\n1\r\n")
    assert raw.cmd(b"flush_all 2\r\n") == b"OK\r\n"
    raw.send(b"get a\r\n")
    raw.expect(value_line(b"a", 0, b"1") + b"END\r\n")
    time.sleep(3.2)
    raw.send(b"get a\r\n")
    raw.expect(b"END\r\n")
    # a later flush_all replaces a pending one
    raw.cmd(b"set a 0 0 1\r\n1\r\n")
    assert raw.cmd(b"flush_all 1\r\n") == b"OK\r\n"
    assert raw.cmd(b"flush_all 100\r\n") == b"OK\r\n"
    time.sleep(2.2)
    raw.send(b"get a\r\n")
    raw.expect(value_line(b"a", 0, b"1") + b"END\r\n")
    assert raw.cmd(b"flush_all 0\r\n") == b"OK\r\n"


def test_flush_all_disabled():
    s = McServer("-F")
    try:
        r = s.raw()
        assert r.cmd(b"flush_all\r\n") == b"CLIENT_ERROR flush_all not allowed\r\n"
        assert stats(r)[b"cmd_flush"] == b"1"
    finally:
        s.stop()


def test_large_values_and_pipelining(raw):
    big = os.urandom(1000000)
    raw.send(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n")
    raw.expect(b"STORED\r\n")
    raw.send(b"get big big\r\n")
    raw.expect(value_line(b"big", 0, big) * 2 + b"END\r\n")
    batch = b"".join(b"set p%d 0 0 %d\r\n%d\r\n" % (i, len(b"%d" % i), i) for i in range(2000))
    raw.send(batch)
    raw.expect(b"STORED\r\n" * 2000)
    raw.send(b"".join(b"get p%d\r\n" % i for i in range(2000)))
    raw.expect(b"".join(value_line(b"p%d" % i, 0, b"%d" % i) + b"END\r\n" for i in range(2000)))


def test_value_arriving_in_pieces(raw):
    raw.send(b"set slow 0 0 10\r\n01234")
    time.sleep(0.1)
    raw.send(b"56789\r")
    time.sleep(0.1)
    raw.send(b"\nget slow\r\n")
    raw.expect(b"STORED\r\n" + value_line(b"slow", 0, b"0123456789") + b"END\r\n")


# ---- stats -----------------------------------------------------------------------------------------------

GENERAL = [b"pid", b"uptime", b"time", b"version", b"libevent", b"pointer_size", b"rusage_user", b"rusage_system",
           b"max_connections", b"curr_connections", b"total_connections", b"rejected_connections",
           b"connection_structures", b"response_obj_oom", b"response_obj_count", b"response_obj_bytes",
           b"read_buf_count", b"read_buf_bytes", b"read_buf_bytes_free", b"read_buf_oom", b"reserved_fds",
           b"cmd_get", b"cmd_set", b"cmd_flush", b"cmd_touch", b"cmd_meta", b"get_hits", b"get_misses",
           b"get_expired", b"get_flushed", b"delete_misses", b"delete_hits", b"incr_misses", b"incr_hits",
           b"decr_misses", b"decr_hits", b"cas_misses", b"cas_hits", b"cas_badval", b"touch_hits",
           b"touch_misses", b"store_too_large", b"store_no_memory", b"auth_cmds", b"auth_errors", b"bytes_read",
           b"bytes_written", b"limit_maxbytes", b"accepting_conns", b"listen_disabled_num",
           b"time_in_listen_disabled_us", b"threads", b"conn_yields", b"hash_power_level", b"hash_bytes",
           b"hash_is_expanding", b"slab_reassign_rescues", b"slab_reassign_chunk_rescues",
           b"slab_reassign_evictions_nomem", b"slab_reassign_inline_reclaim", b"slab_reassign_busy_items",
           b"slab_reassign_busy_deletes", b"slab_reassign_running", b"slabs_moved", b"lru_crawler_running",
           b"lru_crawler_starts", b"lru_maintainer_juggles", b"malloc_fails", b"log_worker_dropped",
           b"log_worker_written", b"log_watcher_skipped", b"log_watcher_sent", b"log_watchers",
           b"unexpected_napi_ids", b"round_robin_fallback", b"bytes", b"curr_items", b"total_items",
           b"slab_global_page_pool", b"expired_unfetched", b"evicted_unfetched", b"evicted_active", b"evictions",
           b"reclaimed", b"crawler_reclaimed", b"crawler_items_checked", b"lrutail_reflocked", b"moves_to_cold",
           b"moves_to_warm", b"moves_within_lru", b"direct_reclaims", b"lru_bumps_dropped"]


def test_stats_general_names_and_counters():
    s = McServer()
    try:
        r = s.raw()
        st = stats(r)
        assert list(st.keys()) == GENERAL
        assert st[b"version"] == b"1.6.18"
        assert st[b"threads"] == b"2"
        assert st[b"limit_maxbytes"] == b"67108864"
        assert st[b"max_connections"] == b"1024"
        assert st[b"curr_items"] == b"0"
        r.send(b"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a c\r\nincr a 1\r\nincr z 1\r\ndecr a 1\r\n"
               b"delete b\r\ndelete b\r\ntouch a 10\r\ntouch z 10\r\ncas a 0 0 1 1\r\n5\r\ncas z 0 0 1 1\r\n5\r\n")
        r.expect(b"STORED\r\nSTORED\r\n" + value_line(b"a", 0, b"1") + b"END\r\n2\r\nNOT_FOUND\r\n1\r\n"
                 b"DELETED\r\nNOT_FOUND\r\nTOUCHED\r\nNOT_FOUND\r\nEXISTS\r\nNOT_FOUND\r\n")
        st = stats(r)
        expect = {b"curr_items": 1, b"total_items": 2, b"cmd_get": 2, b"get_hits": 1, b"get_misses": 1,
                  b"cmd_set": 4, b"incr_hits": 1, b"incr_misses": 1, b"decr_hits": 1, b"delete_hits": 1,
                  b"delete_misses": 1, b"cmd_touch": 2, b"touch_hits": 1, b"touch_misses": 1,
                  b"cas_badval": 1, b"cas_misses": 1, b"curr_connections": 1}
        for k, v in expect.items():
            assert int(st[k]) == v, (k, st[k])
        assert int(st[b"bytes_read"]) > 0 and int(st[b"bytes_written"]) > 0
        assert r.cmd(b"stats reset\r\n") == b"RESET\r\n"
        st = stats(r)
        assert st[b"cmd_get"] == b"0" and st[b"total_items"] == b"0"
        assert r.cmd(b"stats bogus\r\n") == b"ERROR\r\n"
    finally:
        s.stop()


def test_stats_settings(srv):
    r = srv.raw()
    st = stats(r, b"settings")
    assert st[b"maxbytes"] == b"67108864"
    assert st[b"maxconns"] == b"1024"
    assert st[b"tcpport"] == b"%d" % srv.port
    assert st[b"udpport"] == b"0"
    assert st[b"item_size_max"] == b"1048576"
    assert st[b"cas_enabled"] == b"yes"
    assert st[b"evictions"] == b"on"
    assert st[b"binding_protocol"] == b"auto-negotiate"
    assert st[b"num_threads"] == b"2"
    assert st[b"stat_key_prefix"] == b":"
    assert st[b"flush_enabled"] == b"yes"
    assert st[b"growth_factor"] == b"1.25"
    assert list(st.keys())[:4] == [b"maxbytes", b"maxconns", b"tcpport", b"udpport"]


def test_stats_items_slabs_sizes(raw):
    if not REFERENCE:
        assert stats(raw, b"items") == {}  # memcached keeps flushed items until they are reused
    raw.cmd(b"set a 0 0 3\r\nabc\r\n")
    items = stats(raw, b"items")
    assert int(items[b"items:1:number"]) >= 1
    assert b"items:1:evicted" in items and b"items:1:outofmemory" in items
    slabs = stats(raw, b"slabs")
    assert b"active_slabs" in slabs and b"total_malloced" in slabs
    assert int(slabs[b"1:used_chunks"]) >= 1
    assert raw.cmd(b"stats sizes\r\n", 2) == b"STAT sizes_status disabled\r\nEND\r\n"
    # memcached answers the switches without END
    assert raw.cmd(b"stats sizes_enable\r\n") == b"STAT sizes_status enabled\r\n"
    sizes = stats(raw, b"sizes")
    if not REFERENCE:  # memcached counts only items stored after the switch
        assert sum(int(v) for v in sizes.values()) >= 1
    assert raw.cmd(b"stats sizes_disable\r\n") == b"STAT sizes_status disabled\r\n"


def test_stats_detail(raw):
    assert raw.cmd(b"stats detail\r\n") == b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"
    assert raw.cmd(b"stats detail on\r\n") == b"OK\r\n"
    raw.send(b"set user:1 0 0 1\r\nx\r\nget user:1 user:2\r\ndelete user:1\r\nget plain\r\n")
    raw.expect(b"STORED\r\n" + value_line(b"user:1", 0, b"x") + b"END\r\nDELETED\r\nEND\r\n")
    raw.send(b"stats detail dump\r\n")
    dump = raw.until()
    assert b"PREFIX user get 2 hit 1 set 1 del 1\r\n" in dump
    assert b"plain" not in dump
    assert raw.cmd(b"stats detail off\r\n") == b"OK\r\n"


def test_stats_conns(srv):
    r, other = srv.raw(), srv.raw()
    other.send(b"version\r\n")
    other.readline()
    conns = stats(r, b"conns")
    states = [v for k, v in conns.items() if k.endswith(b":state")]
    assert b"conn_parse_cmd" in states
    assert len([k for k in conns if k.endswith(b":addr") and conns[k].startswith(b"tcp:127.0.0.1:")]) >= 2


def test_stats_cachedump_and_metadump(raw):
    raw.cmd(b"set dumped 5 0 3\r\nabc\r\n")
    raw.send(b"stats cachedump 1 0\r\n")
    dump = raw.until()
    assert re.match(rb"(ITEM \S+ \[\d+ b; \d+ s\]\r\n)*END\r\n$", dump), dump
    if not REFERENCE:
        assert b"ITEM dumped [3 b; 0 s]\r\n" in dump
    assert raw.cmd(b"stats cachedump\r\n") == b"CLIENT_ERROR bad command line\r\n"
    assert raw.cmd(b"stats cachedump 100 1\r\n") == b"CLIENT_ERROR Illegal slab id\r\n"
    raw.send(b"lru_crawler metadump all\r\n")
    dump = raw.until()
    assert re.search(rb"key=dumped exp=-1 la=\d+ cas=\d+ fetch=no cls=\d+ size=\d+\n", dump), dump


def test_tuning_commands(raw):
    cases = [
        (b"slabs automove 1", b"OK"), (b"slabs automove 3", b"ERROR"),
        (b"slabs automove x", b"CLIENT_ERROR bad command line format"),
        (b"slabs reassign 1 1", b"SAME src and dst class are identical"), (b"slabs", b"ERROR"),
        (b"lru tune 10 25 0.1 2.0", b"OK"), (b"lru tune 50 50 0.1 2.0", b"ERROR hot and warm pcts must not exceed 80"),
        (b"lru mode flat", b"OK"), (b"lru mode segmented", b"OK"), (b"lru temp_ttl 5", b"OK"), (b"lru bogus", b"ERROR"),
        (b"lru_crawler crawl all", b"OK"), (b"lru_crawler sleep 5000000", b"CLIENT_ERROR sleep must be one second or less"),
        (b"lru_crawler tocrawl 5", b"OK"), (b"lru_crawler bogus", b"ERROR"),
        (b"cache_memlimit 4", b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"), (b"cache_memlimit x", b"ERROR"),
        (b"cache_memlimit 64", b"OK"), (b"extstore item_size 5", b"OK"), (b"extstore", b"ERROR"),
    ]
    for line, want in cases:
        assert raw.cmd(line + b"\r\n") == want + b"\r\n", line


def test_shutdown_needs_dash_A():
    s = McServer()
    try:
        r = s.raw()
        assert r.cmd(b"shutdown\r\n") == b"ERROR: shutdown not enabled\r\n"
    finally:
        s.stop()
    s = McServer("-A")
    r = s.raw()
    assert r.cmd(b"shutdown bogus\r\n") == b"CLIENT_ERROR invalid shutdown mode\r\n"
    r.send(b"shutdown\r\n")
    assert r.closed()
    s.proc.wait(timeout=10)
    s.stop(expect_clean=False)


# ---- watchers -----------------------------------------------------------------------------------------------

def test_watch_fetchers_and_mutations(srv):
    w = srv.raw()
    assert w.cmd(b"watch fetchers mutations\r\n") == b"OK\r\n"
    r = srv.raw()
    r.send(b"set watched 0 0 2\r\nhi\r\nget watched\r\nget nothere\r\n")
    r.expect(b"STORED\r\n" + value_line(b"watched", 0, b"hi") + b"END\r\nEND\r\n")
    # log lines end with "\n" alone, as memcached's
    while w.buf.count(b"\n") < 4:
        w._fill()
    lines = w.buf.split(b"\n")[:4]
    # a set looks the key up first (memcached logs that fetch too)
    assert re.match(rb"ts=\d+\.\d+ gid=\d+ type=item_get key=watched status=not_found clsid=0 cfd=\d+ size=0$",
                    lines[0]), lines
    assert re.match(rb"ts=\d+\.\d+ gid=\d+ type=item_store key=watched status=stored cmd=set ttl=0 clsid=\d+ "
                    rb"cfd=\d+ size=2$", lines[1]), lines
    assert re.match(rb"ts=\d+\.\d+ gid=\d+ type=item_get key=watched status=found clsid=\d+ cfd=\d+ size=2$",
                    lines[2]), lines
    assert re.match(rb"ts=\d+\.\d+ gid=\d+ type=item_get key=nothere status=not_found", lines[3]), lines


def test_watch_errors(srv):
    r = srv.raw()
    assert r.cmd(b"watch bogus\r\n") == b"ERROR\r\n"
    r.send(b"version\r\nwatch\r\n")
    r.expect(b"VERSION 1.6.18\r\nERROR cannot pipeline other commands before watch\r\n")
    s = McServer("-W")
    try:
        assert s.raw().cmd(b"watch\r\n") == b"CLIENT_ERROR watch commands not allowed\r\n"
    finally:
        s.stop()


# ---- memory limit and eviction ---------------------------------------------------------------------------------

def fill(r, n, size=10000):
    val = b"v" * size
    for i in range(n):
        r.send(b"set fill%d 0 0 %d noreply\r\n" % (i, size) + val + b"\r\n")
    r.send(b"mn\r\n")
    r.until(b"MN\r\n")


def test_lru_eviction_under_memory_limit():
    s = McServer("-m", "8", "-I", "1m")
    try:
        r = s.raw()
        fill(r, 3000)  # 30 MB into 8 MB
        st = stats(r)
        assert int(st[b"evictions"]) > 0
        assert int(st[b"curr_items"]) < 3000
        # the most recent items are there
        r.send(b"get fill2999\r\n")
        assert r.readline().startswith(b"VALUE fill2999 0 10000")
    finally:
        s.stop()


def test_watch_evictions():
    s = McServer("-m", "8", "-I", "1m")
    try:
        w = s.raw()
        assert w.cmd(b"watch evictions\r\n") == b"OK\r\n"
        fill(s.raw(), 3000)
        while b"\n" not in w.buf:
            w._fill()
        line = w.buf.split(b"\n")[0]
        assert re.match(rb"ts=\d+\.\d+ gid=\d+ type=eviction key=fill\d+ fetch=(yes|no) ttl=-?\d+ la=\d+ "
                        rb"clsid=\d+ size=\d+$", line), line
    finally:
        s.stop()


def test_dash_M_answers_out_of_memory():
    s = McServer("-m", "8", "-M", "-I", "1m")
    try:
        r = s.raw()
        val = b"v" * 10000
        answers = set()
        for i in range(3000):
            r.send(b"set m%d 0 0 %d\r\n" % (i, len(val)) + val + b"\r\n")
            answers.add(r.readline())
        assert b"SERVER_ERROR out of memory storing object\r\n" in answers
        st = stats(r)
        assert int(st[b"store_no_memory"]) > 0
        assert st[b"evictions"] == b"0"
        assert stats(r, b"settings")[b"evictions"] == b"off"
    finally:
        s.stop()


# ---- clients -------------------------------------------------------------------------------------------------

def test_pymemcache_client(srv):
    c = srv.client()
    c.flush_all()
    assert c.set("a", b"1", noreply=False)
    assert c.get("a") == b"1"
    assert c.add("a", b"2", noreply=False) is False
    assert c.replace("a", b"3", noreply=False)
    assert c.append("a", b"4", noreply=False) and c.prepend("a", b"0", noreply=False)
    assert c.get("a") == b"034"
    assert c.incr("a", 6) == 40 and c.decr("a", 50) == 0
    v, cas = c.gets("a")
    assert c.cas("a", b"x", cas, noreply=False) is True
    assert c.cas("a", b"y", cas, noreply=False) is False
    c.set_many({"m1": b"1", "m2": b"2"})
    assert c.get_many(["m1", "m2", "m3"]) == {"m1": b"1", "m2": b"2"}
    assert c.touch("m1", 100, noreply=False) is True
    assert c.delete("m1", noreply=False) is True and c.delete("m1", noreply=False) is False
    assert c.version() == b"1.6.18"
    assert int(c.stats()[b"threads"]) == 2
    c.close()


def test_many_connections_share_the_data(srv):
    clients = [srv.client() for _ in range(20)]
    for i, c in enumerate(clients):
        c.set("shared%d" % i, str(i).encode(), noreply=False)
    for c in clients:
        assert c.get_many(["shared%d" % i for i in range(20)]) == {"shared%d" % i: str(i).encode()
                                                                   for i in range(20)}
        c.close()


@stash_only
def test_max_connections_are_refused_with_memcached_message():
    s = McServer("-c", "3")
    try:
        # wait until the start-up probe connection is gone
        first = s.raw()
        deadline = time.time() + 5
        while stats(first)[b"curr_connections"] != b"1":
            assert time.time() < deadline
            time.sleep(0.05)
        keep = [first] + [s.raw() for _ in range(2)]
        for k in keep:
            assert k.cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"
        extra = s.raw()
        extra.expect(b"ERROR Too many open connections\r\n")
        assert extra.closed()
    finally:
        s.stop()


# ---- one keyspace with Redis -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def node():
    """A Redis node with a memcached listener (--memcached-port)."""
    from conftest import Server, free_port

    port = free_port()
    s = Server("--memcached-port", str(port))
    s.mc_port = port
    yield s
    s.stop()


@stash_only
def test_memcached_port_on_a_redis_node(node):
    from memcache_support import McRaw

    r = node.client(decode_responses=False)
    r.flushall()
    m = McRaw(socket.create_connection(("127.0.0.1", node.mc_port), timeout=10))
    # memcached -> Redis
    assert m.cmd(b"set mk 7 100 5\r\nhello\r\n") == b"STORED\r\n"
    assert r.get("mk") == b"hello"
    assert 99 <= r.ttl("mk") <= 100
    assert r.type("mk") == b"string"
    # Redis -> memcached (flags 0)
    r.set("rk", "world")
    m.send(b"get rk\r\n")
    m.expect(value_line(b"rk", 0, b"world") + b"END\r\n")
    r.set("rn", 41)
    assert m.cmd(b"incr rn 1\r\n") == b"42\r\n"
    assert r.incr("rn") == 43
    # a CAS for a key Redis wrote, and any Redis write changes it
    cas = gets_cas(m, b"rk")
    r.append("rk", "!")
    assert m.cmd(b"cas rk 0 0 1 %d\r\nx\r\n" % cas) == b"EXISTS\r\n"
    cas = gets_cas(m, b"rk")
    assert m.cmd(b"cas rk 0 0 1 %d\r\nx\r\n" % cas) == b"STORED\r\n"
    assert r.get("rk") == b"x"
    # client flags are invisible to Redis, kept by in-place Redis changes, reset by a new value
    m.cmd(b"set fl 42 0 3\r\nabc\r\n")
    r.append("fl", "d")
    m.send(b"get fl\r\n")
    m.expect(value_line(b"fl", 42, b"abcd") + b"END\r\n")
    r.set("fl", "new")
    m.send(b"get fl\r\n")
    m.expect(value_line(b"fl", 0, b"new") + b"END\r\n")
    # deletes and expiry on either side
    r.delete("mk")
    m.send(b"get mk\r\n")
    m.expect(b"END\r\n")
    assert m.cmd(b"delete rn\r\n") == b"DELETED\r\n"
    assert r.get("rn") is None
    r.set("ex", "v", ex=50)
    m.send(b"mg ex t v\r\n")
    line = m.readline()
    assert re.match(rb"VA 1 t(49|50)\r\n", line), line
    m.expect(b"v\r\n")
    assert m.cmd(b"touch ex 0\r\n") == b"TOUCHED\r\n"
    assert r.ttl("ex") == -1
    # memcached keys live in database 0 only
    r.execute_command("SELECT", 1)
    assert r.get("ex") is None
    r.execute_command("SELECT", 0)
    assert m.cmd(b"flush_all\r\n") == b"OK\r\n"
    assert r.dbsize() == 0
    # WATCH sees memcached writes
    r.set("w", "1")
    p = r.pipeline()
    p.watch("w")
    m.cmd(b"set w 0 0 1\r\n2\r\n")
    p.multi()
    p.set("w", "3")
    import redis
    with pytest.raises(redis.WatchError):
        p.execute()
    # a key of another Redis type exists for memcached but has no readable value
    r.rpush("lst", "a")
    r.hset("h", "f", "v")
    m.send(b"get lst h\r\n")
    m.expect(b"END\r\n")
    assert m.cmd(b"add lst 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
    assert m.cmd(b"append lst 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
    assert m.cmd(b"incr lst 1\r\n") == b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    assert m.cmd(b"mg lst v\r\n") == b"EN\r\n"
    assert r.type("lst") == b"list"
    assert m.cmd(b"delete lst\r\n") == b"DELETED\r\n"
    assert r.exists("lst") == 0
    assert m.cmd(b"set h 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert r.type("h") == b"string" and r.get("h") == b"x"
    # memcached commands are not Redis commands
    from conftest import Raw

    resp = Raw(node.port)
    names = resp.cmd("COMMAND", "LIST")
    for name in (b"gets", b"mg", b"ms", b"cas", b"gat", b"flush_all"):
        assert name not in names
    assert resp.cmd("COMMAND", "INFO", "mg") == [None]
