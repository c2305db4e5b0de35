"""RESP parsing and the client I/O driver: Redis 7.0's exact protocol errors
(followed by closing the connection), inline commands and their quoting,
pipelining, big arguments, limits (proto-max-bulk-len, query buffer, output
buffers), RESP3 encodings, and the HTTP cross-protocol guard."""
import socket
import time

import pytest

from conftest import Raw, RespError


def proto_error(raw, payload, expected):
    """Send payload; expect exactly one error reply, then a closed connection."""
    raw.send(payload)
    assert raw.read_reply() == RespError("ERR Protocol error: " + expected)
    assert raw.closed()
    assert raw.buf == b""


# ---- empty requests -----------------------------------------------------------------------

def test_empty_lines_and_empty_multibulk_are_skipped(raw):
    raw.send(b"\r\n\n  \r\n*0\r\n*-10\r\n*-1\r\nPING\r\n")
    assert raw.read_reply() == b"PONG"


# ---- protocol errors ------------------------------------------------------------------------

@pytest.mark.parametrize("payload,expected", [
    (b"*3000000000\r\n", "invalid multibulk length"),
    (b"*abc\r\n", "invalid multibulk length"),
    (b"*+3\r\n", "invalid multibulk length"),
    (b"*03\r\n", "invalid multibulk length"),
    (b"*\r\n", "invalid multibulk length"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"),
    (b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "invalid bulk length"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "invalid bulk length"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", "invalid bulk length"),
    (b"*1\r\n$\r\n", "invalid bulk length"),
    (b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n", "unbalanced quotes in request"),
    (b"set \"a\"b c\r\n", "unbalanced quotes in request"),
    (b"set 'a\r\n", "unbalanced quotes in request"),
])
def test_protocol_errors_close_the_connection(raw, payload, expected):
    proto_error(raw, payload, expected)


def test_too_big_inline_request(raw):
    proto_error(raw, b"a" * (64 * 1024 + 100), "too big inline request")


def test_too_big_count_strings(make_raw):
    proto_error(make_raw(), b"*" + b"1" * (64 * 1024 + 100), "too big mbulk count string")
    proto_error(make_raw(), b"*1\r\n$" + b"1" * (64 * 1024 + 100), "too big bulk count string")


def test_commands_before_a_protocol_error_run_and_bytes_after_are_ignored(r, raw):
    raw.send(b"SET before 1\r\n*1\r\n$3\r\nGET\r\n*x\r\nSET after 1\r\n")
    assert raw.read_reply() == b"OK"
    # "$3 GET" was a complete 1-argument request
    assert raw.read_reply() == RespError("ERR wrong number of arguments for 'get' command")
    assert raw.read_reply() == RespError("ERR Protocol error: invalid multibulk length")
    assert raw.closed()
    assert r.get("before") == b"1"
    assert r.get("after") is None


def test_protocol_desync_binary_garbage(make_raw):
    # Redis's regression test: garbage with no line end must end in a
    # protocol error and a closed connection, never in an endless read.
    for seq in (b"\x00", b"*\x00", b"$\x00"):
        raw = make_raw()
        raw.sock.settimeout(5)
        raw.send(seq)
        deadline = time.time() + 10
        try:
            while time.time() < deadline:
                raw.sock.sendall(b"payload" * 1024)
        except OSError:
            pass
        data = b""
        try:
            while True:
                chunk = raw.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        assert data.startswith(b"-ERR Protocol error: too big")


def test_proto_max_bulk_len(r, raw):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "1048576"}
        ok = Raw(raw.sock.getpeername()[1])
        ok.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n" + b"x" * 1048576 + b"\r\n")
        assert ok.read_reply() == b"OK"
        ok.close()
        proto_error(raw, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", "invalid bulk length")
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


# ---- inline commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("line,args", [
    (b"SET k v", [b"k", b"v"]),
    (b"SET   k\t v  ", [b"k", b"v"]),
    (b"SET k \"a b\"", [b"k", b"a b"]),
    (b"SET k \"\\x41\\x4a\\n\\r\\t\\b\\a\\z\\\\\\\"\"", [b"k", b"AJ\n\r\t\b\a" + b"z\\\""]),
    (b"SET k 'it\\'s \"raw\" \\n'", [b"k", b"it's \"raw\" \\n"]),
    (b"SET k a\"b c\"d", None),  # closing quote followed by a non-space: error
    (b"SET k a\"b c\"", [b"k", b"ab c"]),  # quotes may start mid-argument
    (b"SET k a'b c'", [b"k", b"ab c"]),
    (b"SET k \"\"", [b"k", b""]),
    (b"SET k a\x0bb", [b"k", b"a\x0bb"]),  # \v ends no argument (only space, \t, \r, \n)
    (b"SET k \"\\x4\"", [b"k", b"x4"]),  # not a full hex escape: the letter itself
])
def test_inline_quoting_follows_sdssplitargs(r, raw, line, args):
    raw.send(line + b"\r\n")
    reply = raw.read_reply()
    if args is None:
        assert reply == RespError("ERR Protocol error: unbalanced quotes in request")
        assert raw.closed()
        return
    assert reply == b"OK"
    assert r.get(args[0]) == args[1]


def test_inline_newline_variants_and_pipelining(raw):
    raw.send(b"SET a 1\nSET b 2\r\nGET a\nGET b\r\n")
    assert [raw.read_reply() for _ in range(4)] == [b"OK", b"OK", b"1", b"2"]


def test_inline_nul_ends_the_line(raw):
    raw.send(b"ECHO hello\x00 world\r\n")
    assert raw.read_reply() == b"hello"


def test_inline_and_multibulk_mixed_byte_by_byte(raw):
    data = (b"SET mixed \"x y\"\r\n*2\r\n$3\r\nGET\r\n$5\r\nmixed\r\n"
            b"*1\r\n$4\r\nECHO\r\n")  # the last is an arity error
    for i in range(len(data)):
        raw.send(data[i:i + 1])
    assert raw.read_reply() == b"OK"
    assert raw.read_reply() == b"x y"
    assert raw.read_reply() == RespError("ERR wrong number of arguments for 'echo' command")


def test_unknown_command_error_text(raw):
    assert raw.cmd("NOSUCH") == RespError("ERR unknown command 'NOSUCH', with args beginning with: ")
    long_arg = "x" * 300
    err = raw.cmd("nosuch", long_arg, "b")
    assert err == RespError("ERR unknown command 'nosuch', with args beginning with: '%s' " % ("x" * 128))
    # newlines in arguments never break the protocol
    assert raw.cmd("bad\r\ncmd", "a\nb") == RespError(
        "ERR unknown command 'bad  cmd', with args beginning with: 'a b' ")
    assert raw.cmd("PING") == b"PONG"


def test_unknown_subcommand(raw):
    assert raw.cmd("PUBSUB", "nope") == RespError("ERR unknown subcommand 'nope'. Try PUBSUB HELP.")
    assert raw.cmd("CONFIG") == RespError("ERR wrong number of arguments for 'config' command")


# ---- pipelining and big arguments -------------------------------------------------------------------

def test_deep_pipeline_with_mixed_sizes(r, raw):
    cmds = []
    for i in range(3000):
        v = b"v" * (i % 70000 if i % 500 == 0 else i % 50)
        cmds.append(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n" % (len(b"k%d" % i), i, len(v), v))
        cmds.append(b"*2\r\n$3\r\nGET\r\n$%d\r\nk%d\r\n" % (len(b"k%d" % i), i))
    raw.send(b"".join(cmds))
    for i in range(3000):
        v = b"v" * (i % 70000 if i % 500 == 0 else i % 50)
        assert raw.read_reply() == b"OK"
        assert raw.read_reply() == v


@pytest.mark.parametrize("size", [32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 1024 * 1024, 20 * 1024 * 1024])
def test_big_arguments(r, raw, size):
    value = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    raw.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size + value + b"\r\nGET big\r\n")
    assert raw.read_reply() == b"OK"
    assert raw.read_reply() == value


def test_big_argument_sent_slowly_in_pieces(r, raw):
    size = 3 * 1024 * 1024 + 7
    value = b"q" * size
    raw.send(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$%d\r\n" % size)
    for off in range(0, size, 100000):
        raw.send(value[off:off + 100000])
    raw.send(b"\r\n")
    assert raw.read_reply() == b"OK"
    assert r.get("slow") == value


def test_many_big_arguments_in_one_request(r, raw):
    n, size = 12, 2 * 1024 * 1024
    args = [b"DEL"] + [b"%d" % i + b"k" * size for i in range(n)]
    raw.send(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    t0 = time.time()
    assert raw.read_reply() == 0
    assert time.time() - t0 < 20


def test_many_arguments(r, raw):
    n = 200000
    args = [b"DEL"] + [b"key%d" % i for i in range(n)]
    raw.send(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    assert raw.read_reply() == 0
    assert raw.cmd("PING") == b"PONG"


def rss_kb(pid):
    return int(open("/proc/%d/status" % pid).read().split("VmRSS:")[1].split()[0])


def test_huge_announced_sizes_do_not_allocate(server, make_raw, r):
    # Announce the biggest allowed bulks and huge multibulks, then stall:
    # memory follows what is sent, not what is announced.
    before = rss_kb(server.pid)
    for _ in range(8):
        make_raw().send(b"*2\r\n$3\r\nGET\r\n$536870912\r\n" + b"x" * 100000)
        make_raw().send(b"*2147483647\r\n$4\r\nPING\r\n")
    time.sleep(0.3)
    assert r.ping()
    assert rss_kb(server.pid) - before < 128 * 1024


def test_query_buffer_limit_closes_the_client(r, make_raw):
    r.config_set("client-query-buffer-limit", "1mb")
    try:
        assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": "1048576"}
        before = r.info("stats")["client_query_buffer_limit_disconnections"]
        raw = make_raw()
        raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            for _ in range(30):
                raw.send(b"x" * 100000)
        except OSError:
            pass
        assert raw.closed()
        assert raw.buf == b""  # no reply: Redis just closes
        assert r.info("stats")["client_query_buffer_limit_disconnections"] == before + 1
        # a big pipeline of small complete commands is not a big query buffer
        ok = make_raw()
        ok.send(b"PING\r\n" * 300000)
        for _ in range(300000):
            assert ok.read_reply() == b"PONG"
    finally:
        r.config_set("client-query-buffer-limit", "1gb")


# ---- output buffer limits (normal class) ---------------------------------------------------------

def test_normal_class_hard_limit_drops_the_client_without_reply(r, make_raw):
    r.set("bigval", b"x" * (2 * 1024 * 1024))
    r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    try:
        raw = make_raw()
        raw.send(b"GET bigval\r\n")
        assert raw.closed()
        assert raw.buf == b""
        assert r.info("stats")["client_output_buffer_limit_disconnections"] >= 1
    finally:
        r.config_set("client-output-buffer-limit", "normal 0 0 0")
    raw = make_raw()
    raw.send(b"GET bigval\r\n")
    assert len(raw.read_reply()) == 2 * 1024 * 1024


def test_client_output_buffer_limit_config(r):
    assert r.config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"}
    r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 5")
    try:
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"].endswith(
            "pubsub 1048576 524288 5")
        with pytest.raises(Exception) as e:
            r.config_set("client-output-buffer-limit", "bogus 1 2 3")
        assert "Invalid client class" in str(e.value)
        with pytest.raises(Exception):
            r.config_set("client-output-buffer-limit", "normal 1 2")
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_slow_reader_of_a_big_pipeline_is_not_dropped(r, make_raw):
    r.set("v", b"y" * 100000)
    raw = make_raw()
    raw.send(b"GET v\r\n" * 300)  # ~30 MB of replies, not read for a while
    time.sleep(0.5)
    for _ in range(300):
        assert len(raw.read_reply()) == 100000


# ---- RESP3 -------------------------------------------------------------------------------------------

def test_resp3_encodings(r, raw):
    hello = raw.cmd("HELLO", "3")
    assert hello[b"proto"] == 3
    raw.send(b"GET nokey\r\n")
    assert raw.read_line() == b"_"
    raw.send(b"CONFIG GET maxmemory\r\n")
    assert raw.read_line() == b"%1"
    assert raw.read_reply() == b"maxmemory"
    raw.read_reply()
    raw.send(b"HELLO 2\r\n")
    assert raw.read_line() == b"*14"
    for _ in range(14):
        raw.read_reply()
    raw.send(b"GET nokey\r\n")
    assert raw.read_line() == b"$-1"


# ---- security ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("req", [b"POST / HTTP/1.1\r\n", b"Host: example.com\r\n", b"post\r\n"])
def test_http_requests_are_dropped_without_reply(server, make_raw, req):
    raw = make_raw()
    raw.send(req + b"PING\r\n")
    assert raw.closed()
    assert raw.buf == b""
    assert "Possible SECURITY ATTACK" in server.log()


def test_quit_discards_the_rest_of_the_pipeline(r, raw):
    raw.send(b"SET q1 1\r\nQUIT\r\nSET q2 2\r\n")
    assert raw.read_reply() == b"OK"
    assert raw.read_reply() == b"OK"
    assert raw.closed()
    assert r.get("q1") == b"1" and r.get("q2") is None


def test_server_survives_abrupt_disconnects_mid_request(server, r):
    for payload in (b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$3\r\nGET\r\n$100000\r\nabc", b"SET k \"unterminated"):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(payload)
        s.close()
    assert r.ping()
