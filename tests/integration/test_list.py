"""LIST family: exact replies, errors, encodings, keyspace events, WATCH and
propagation-relevant behaviour, as Redis 7.0 gives them (checked against
redis-server 7.0.15 where Redis has the same behaviour; OBJECT ENCODING
follows Stash's listpack/quicklist rule, see types/list.h)."""
import pytest

from conftest import RespError, Server


def E(msg):
    return RespError(msg)


def arity(name):
    return E("ERR wrong number of arguments for '%s' command" % name)


SYNTAX = E("ERR syntax error")
NOT_INT = E("ERR value is not an integer or out of range")
WRONGTYPE = E("WRONGTYPE Operation against a key holding the wrong kind of value")
NO_KEY = E("ERR no such key")
POSITIVE = E("ERR value is out of range, must be positive")


@pytest.fixture(scope="module")
def server():
    """DEBUG enabled (DIGEST-VALUE, QUICKLIST-PACKED-THRESHOLD)."""
    s = Server("--enable-debug-command", "yes")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture(autouse=True)
def flushed(server):
    c = server.client()
    c.flushall()
    c.config_set("list-max-listpack-size", -2)
    c.close()


@pytest.fixture
def events(raw, make_raw):
    """events([cmd, ...]) -> [(event, key), ...] keyevent notifications."""

    def run(cmds, flags="KEA"):
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", flags)
        sub = make_raw()
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        for c in cmds:
            raw.cmd(*c)
        raw.cmd("PUBLISH", "__keyevent@0__:zz-end", "zz-end")
        out = []
        while True:
            m = sub.read_reply()
            ev = m[2].decode().split(":", 1)[1]
            if ev == "zz-end":
                break
            out.append((ev, m[3]))
        raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        return out

    yield run
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def lrange(raw, k):
    return raw.cmd("LRANGE", k, 0, -1)


# ---- push / len / range -------------------------------------------------------------------


def test_push_and_len(raw):
    assert raw.cmd("LPUSH", "l", "a", "b", "c") == 3
    assert lrange(raw, "l") == [b"c", b"b", b"a"]
    assert raw.cmd("RPUSH", "l", "d", "e") == 5
    assert lrange(raw, "l") == [b"c", b"b", b"a", b"d", b"e"]
    assert raw.cmd("LLEN", "l") == 5
    assert raw.cmd("LLEN", "missing") == 0
    assert raw.cmd("LPUSH", "l") == arity("lpush")
    assert raw.cmd("RPUSH") == arity("rpush")


def test_pushx(raw):
    assert raw.cmd("LPUSHX", "l", "a") == 0
    assert raw.cmd("RPUSHX", "l", "a", "b") == 0
    assert raw.cmd("EXISTS", "l") == 0
    raw.cmd("RPUSH", "l", "x")
    assert raw.cmd("LPUSHX", "l", "a", "b") == 3
    assert raw.cmd("RPUSHX", "l", "c") == 4
    assert lrange(raw, "l") == [b"b", b"a", b"x", b"c"]
    raw.cmd("SET", "s", "v")
    assert raw.cmd("LPUSHX", "s", "a") == WRONGTYPE
    assert raw.cmd("RPUSHX", "s", "a") == WRONGTYPE


def test_integers_keep_their_text(raw):
    vals = ["0", "-1", "127", "128", "-4096", "4095", "32767", "-32768", "8388607", "2147483647",
            "-2147483648", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "01", "+1", "1.5", " 1", "-0", ""]
    raw.cmd("RPUSH", "l", *vals)
    assert lrange(raw, "l") == [v.encode() for v in vals]
    assert raw.cmd("LINDEX", "l", 1) == b"-1"
    assert raw.cmd("LPOS", "l", "2147483647") == 9
    assert raw.cmd("LREM", "l", 0, "-0") == 1


def test_lrange_ranges(raw):
    raw.cmd("RPUSH", "l", *[str(i) for i in range(10)])
    assert raw.cmd("LRANGE", "l", 0, 2) == [b"0", b"1", b"2"]
    assert raw.cmd("LRANGE", "l", -3, -1) == [b"7", b"8", b"9"]
    assert raw.cmd("LRANGE", "l", -100, 1) == [b"0", b"1"]
    assert raw.cmd("LRANGE", "l", 8, 100) == [b"8", b"9"]
    assert raw.cmd("LRANGE", "l", 5, 2) == []
    assert raw.cmd("LRANGE", "l", 10, 20) == []
    assert raw.cmd("LRANGE", "l", 0, -11) == []
    assert raw.cmd("LRANGE", "missing", 0, -1) == []
    assert raw.cmd("LRANGE", "l", "a", 1) == NOT_INT
    assert raw.cmd("LRANGE", "missing", 0, "x") == NOT_INT
    raw.cmd("SET", "s", "v")
    assert raw.cmd("LRANGE", "s", 0, -1) == WRONGTYPE


def test_wrongtype_everywhere(raw):
    raw.cmd("SET", "s", "v")
    for cmd in (["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPOP", "s"], ["RPOP", "s", 2], ["LLEN", "s"],
                ["LINDEX", "s", 0], ["LSET", "s", 0, "x"], ["LINSERT", "s", "BEFORE", "a", "b"],
                ["LREM", "s", 0, "a"], ["LTRIM", "s", 0, 1], ["LPOS", "s", "a"], ["LMOVE", "s", "d", "LEFT", "LEFT"],
                ["RPOPLPUSH", "s", "d"], ["LMPOP", 1, "s", "LEFT"], ["BLPOP", "s", 0], ["BRPOP", "s", 0],
                ["BLMPOP", 0, 1, "s", "LEFT"], ["BLMOVE", "s", "d", "LEFT", "LEFT", 0], ["BRPOPLPUSH", "s", "d", 0]):
        assert raw.cmd(*cmd) == WRONGTYPE, cmd
    assert raw.cmd("GET", "s") == b"v"


# ---- pops ----------------------------------------------------------------------------------------


def test_pop_single(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("LPOP", "l") == b"a"
    assert raw.cmd("RPOP", "l") == b"c"
    assert raw.cmd("LPOP", "l") == b"b"
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("LPOP", "l") is None
    assert raw.cmd("RPOP", "l") is None


def test_pop_count(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c", "d", "e")
    assert raw.cmd("LPOP", "l", 2) == [b"a", b"b"]
    assert raw.cmd("RPOP", "l", 2) == [b"e", b"d"]
    assert raw.cmd("LPOP", "l", 0) == []
    assert raw.cmd("RPOP", "l", 10) == [b"c"]
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("LPOP", "l", -1) == POSITIVE
    assert raw.cmd("LPOP", "l", "x") == POSITIVE
    assert raw.cmd("LPOP", "l", 1, 2) == arity("lpop")
    assert raw.cmd("RPOP", "l", 1, 2) == arity("rpop")


def test_pop_null_rules(raw, make_raw):
    # RESP2: null bulk without count, null array with count (even 0).
    raw.send(b"*2\r\n$4\r\nLPOP\r\n$1\r\nx\r\n")
    assert raw.read_line() == b"$-1"
    raw.send(b"*3\r\n$4\r\nRPOP\r\n$1\r\nx\r\n$1\r\n1\r\n")
    assert raw.read_line() == b"*-1"
    raw.send(b"*3\r\n$4\r\nRPOP\r\n$1\r\nx\r\n$1\r\n0\r\n")
    assert raw.read_line() == b"*-1"
    raw.cmd("RPUSH", "x", "a")
    raw.send(b"*3\r\n$4\r\nRPOP\r\n$1\r\nx\r\n$1\r\n0\r\n")
    assert raw.read_line() == b"*0"
    r3 = make_raw()
    r3.cmd("HELLO", "3")
    r3.send(b"*2\r\n$4\r\nLPOP\r\n$2\r\nnx\r\n")
    assert r3.read_line() == b"_"
    r3.send(b"*3\r\n$4\r\nLPOP\r\n$2\r\nnx\r\n$1\r\n2\r\n")
    assert r3.read_line() == b"_"


# ---- index / set / insert / rem / trim / pos -----------------------------------------------------


def test_lindex(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("LINDEX", "l", 0) == b"a"
    assert raw.cmd("LINDEX", "l", -1) == b"c"
    assert raw.cmd("LINDEX", "l", 3) is None
    assert raw.cmd("LINDEX", "l", -4) is None
    assert raw.cmd("LINDEX", "l", "x") == NOT_INT
    # The key is looked up before the index is parsed (Redis).
    assert raw.cmd("LINDEX", "missing", "x") is None


def test_lset(raw):
    assert raw.cmd("LSET", "l", 0, "x") == NO_KEY
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("LSET", "l", 1, "B") == b"OK"
    assert raw.cmd("LSET", "l", -1, "C") == b"OK"
    assert lrange(raw, "l") == [b"a", b"B", b"C"]
    assert raw.cmd("LSET", "l", 3, "x") == E("ERR index out of range")
    assert raw.cmd("LSET", "l", -4, "x") == E("ERR index out of range")
    assert raw.cmd("LSET", "l", "i", "x") == NOT_INT


def test_linsert(raw):
    assert raw.cmd("LINSERT", "l", "BEFORE", "a", "x") == 0
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("LINSERT", "l", "before", "b", "x") == 4
    assert raw.cmd("LINSERT", "l", "AFTER", "c", "y") == 5
    assert raw.cmd("LINSERT", "l", "AFTER", "zz", "y") == -1
    assert lrange(raw, "l") == [b"a", b"x", b"b", b"c", b"y"]
    # The syntax is checked before the key.
    assert raw.cmd("LINSERT", "missing", "MIDDLE", "a", "b") == SYNTAX
    assert raw.cmd("LINSERT", "l", "MIDDLE", "a", "b") == SYNTAX


def test_lrem(raw):
    raw.cmd("RPUSH", "l", "a", "b", "a", "c", "a", "b")
    assert raw.cmd("LREM", "l", 1, "a") == 1
    assert lrange(raw, "l") == [b"b", b"a", b"c", b"a", b"b"]
    assert raw.cmd("LREM", "l", -1, "b") == 1
    assert lrange(raw, "l") == [b"b", b"a", b"c", b"a"]
    assert raw.cmd("LREM", "l", 0, "a") == 2
    assert raw.cmd("LREM", "l", 0, "zz") == 0
    assert raw.cmd("LREM", "l", 0, "b") == 1
    assert raw.cmd("LREM", "l", 0, "c") == 1
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("LREM", "l", 0, "c") == 0
    assert raw.cmd("LREM", "l", "x", "c") == NOT_INT


def test_ltrim(raw):
    raw.cmd("RPUSH", "l", *"abcdefg")
    assert raw.cmd("LTRIM", "l", 1, -2) == b"OK"
    assert lrange(raw, "l") == [b"b", b"c", b"d", b"e", b"f"]
    assert raw.cmd("LTRIM", "l", -100, 2) == b"OK"
    assert lrange(raw, "l") == [b"b", b"c", b"d"]
    assert raw.cmd("LTRIM", "l", 0, 100) == b"OK"
    assert lrange(raw, "l") == [b"b", b"c", b"d"]
    assert raw.cmd("LTRIM", "l", 2, 1) == b"OK"
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("LTRIM", "missing", 0, 1) == b"OK"
    assert raw.cmd("LTRIM", "missing", "a", 1) == NOT_INT


def test_lpos(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert raw.cmd("LPOS", "l", "c") == 2
    assert raw.cmd("LPOS", "l", "c", "RANK", 2) == 6
    assert raw.cmd("LPOS", "l", "c", "RANK", -1) == 7
    assert raw.cmd("LPOS", "l", "c", "RANK", -3) == 2
    assert raw.cmd("LPOS", "l", "c", "RANK", 4) is None
    assert raw.cmd("LPOS", "l", "c", "COUNT", 0) == [2, 6, 7]
    assert raw.cmd("LPOS", "l", "c", "COUNT", 2) == [2, 6]
    assert raw.cmd("LPOS", "l", "c", "COUNT", 2, "RANK", -1) == [7, 6]
    assert raw.cmd("LPOS", "l", "c", "MAXLEN", 3) == 2
    assert raw.cmd("LPOS", "l", "c", "MAXLEN", 2) is None
    assert raw.cmd("LPOS", "l", "c", "COUNT", 0, "MAXLEN", 7) == [2, 6]
    assert raw.cmd("LPOS", "l", "zz") is None
    assert raw.cmd("LPOS", "l", "zz", "COUNT", 1) == []
    assert raw.cmd("LPOS", "missing", "a") is None
    assert raw.cmd("LPOS", "missing", "a", "COUNT", 1) == []
    assert raw.cmd("LPOS", "l", "2") == 4
    assert raw.cmd("LPOS", "l", "c", "RANK", 0) == E(
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to "
        "start from the end of the list")
    assert raw.cmd("LPOS", "l", "c", "COUNT", -1) == E("ERR COUNT can't be negative")
    assert raw.cmd("LPOS", "l", "c", "MAXLEN", -1) == E("ERR MAXLEN can't be negative")
    assert raw.cmd("LPOS", "l", "c", "RANK") == SYNTAX
    assert raw.cmd("LPOS", "l", "c", "FOO", 1) == SYNTAX
    assert raw.cmd("LPOS", "l", "c", "RANK", "x") == NOT_INT


# ---- moves ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("src,dst", [("s", "d"), ("{t}s", "{t}d")])
def test_lmove_all_directions(raw, src, dst):
    raw.cmd("RPUSH", src, "a", "b", "c")
    raw.cmd("RPUSH", dst, "x")
    assert raw.cmd("LMOVE", src, dst, "LEFT", "LEFT") == b"a"
    assert raw.cmd("LMOVE", src, dst, "right", "left") == b"c"
    assert raw.cmd("LMOVE", src, dst, "LEFT", "RIGHT") == b"b"
    assert raw.cmd("EXISTS", src) == 0
    assert lrange(raw, dst) == [b"c", b"a", b"x", b"b"]
    assert raw.cmd("LMOVE", dst, src, "RIGHT", "RIGHT") == b"b"
    assert lrange(raw, src) == [b"b"]
    assert raw.cmd("LMOVE", src, dst, "UP", "LEFT") == SYNTAX
    assert raw.cmd("LMOVE", src, dst, "LEFT", "DOWN") == SYNTAX
    assert raw.cmd("LMOVE", "missing", dst, "LEFT", "LEFT") is None


def test_rpoplpush_and_same_key(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("RPOPLPUSH", "l", "l") == b"c"
    assert lrange(raw, "l") == [b"c", b"a", b"b"]
    raw.cmd("DEL", "one")
    raw.cmd("RPUSH", "one", "x")
    assert raw.cmd("LMOVE", "one", "one", "LEFT", "RIGHT") == b"x"
    assert lrange(raw, "one") == [b"x"]
    assert raw.cmd("RPOPLPUSH", "missing", "l") is None
    raw.cmd("SET", "str", "v")
    assert raw.cmd("RPOPLPUSH", "l", "str") == WRONGTYPE
    assert lrange(raw, "l") == [b"c", b"a", b"b"]
    # Source checked first: a missing source wins over a wrong destination.
    assert raw.cmd("RPOPLPUSH", "missing", "str") is None


def test_lmpop(raw):
    raw.cmd("RPUSH", "{k}b", "1", "2", "3")
    assert raw.cmd("LMPOP", 2, "{k}a", "{k}b", "LEFT") == [b"{k}b", [b"1"]]
    assert raw.cmd("LMPOP", 2, "{k}a", "{k}b", "RIGHT", "COUNT", 5) == [b"{k}b", [b"3", b"2"]]
    assert raw.cmd("LMPOP", 2, "{k}a", "{k}b", "LEFT") is None
    raw.send(b"*4\r\n$5\r\nLMPOP\r\n$1\r\n1\r\n$1\r\nz\r\n$4\r\nLEFT\r\n")
    assert raw.read_line() == b"*-1"
    assert raw.cmd("LMPOP", 0, "a", "LEFT") == E("ERR numkeys should be greater than 0")
    assert raw.cmd("LMPOP", "x", "a", "LEFT") == E("ERR numkeys should be greater than 0")
    assert raw.cmd("LMPOP", 2, "a", "LEFT") == SYNTAX
    assert raw.cmd("LMPOP", 1, "a", "UP") == SYNTAX
    assert raw.cmd("LMPOP", 1, "a", "LEFT", "COUNT", 0) == E("ERR count should be greater than 0")
    assert raw.cmd("LMPOP", 1, "a", "LEFT", "COUNT", 1, "COUNT", 1) == SYNTAX
    assert raw.cmd("LMPOP", 1, "a", "LEFT", "COUNT") == SYNTAX
    raw.cmd("SET", "{k}s", "v")
    raw.cmd("RPUSH", "{k}c", "z")
    assert raw.cmd("LMPOP", 2, "{k}s", "{k}c", "LEFT") == WRONGTYPE
    assert raw.cmd("LMPOP", 2, "{k}c", "{k}s", "LEFT") == [b"{k}c", [b"z"]]


# ---- encodings ------------------------------------------------------------------------------------


def test_encoding_conversions(raw):
    raw.cmd("RPUSH", "l", "a")
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"listpack"
    # Default fill -2: 8 KiB per node.
    big = "x" * 1000
    for _ in range(9):
        raw.cmd("RPUSH", "l", big)
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"quicklist"
    # Back to a listpack when down to one node under half the limit.
    raw.cmd("LTRIM", "l", 0, 2)
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"listpack"
    assert raw.cmd("LLEN", "l") == 3
    # A count fill.
    raw.cmd("CONFIG", "SET", "list-max-listpack-size", 4)
    raw.cmd("RPUSH", "c", "1", "2", "3", "4")
    assert raw.cmd("OBJECT", "ENCODING", "c") == b"listpack"
    raw.cmd("RPUSH", "c", "5")
    assert raw.cmd("OBJECT", "ENCODING", "c") == b"quicklist"
    raw.cmd("RPOP", "c", 3)
    assert raw.cmd("OBJECT", "ENCODING", "c") == b"listpack"
    assert lrange(raw, "c") == [b"1", b"2"]
    # The old name is an alias.
    assert raw.cmd("CONFIG", "GET", "list-max-ziplist-size") == [b"list-max-ziplist-size", b"4"]
    raw.cmd("CONFIG", "SET", "list-max-ziplist-size", -2)
    assert raw.cmd("CONFIG", "GET", "list-max-listpack-size") == [b"list-max-listpack-size", b"-2"]
    assert raw.cmd("CONFIG", "SET", "list-compress-depth", 2) == b"OK"
    assert raw.cmd("CONFIG", "GET", "list-compress-depth") == [b"list-compress-depth", b"2"]
    raw.cmd("CONFIG", "SET", "list-compress-depth", 0)


def test_big_list_operations_match_a_model(raw):
    """Many nodes (small fill), every operation, compared with a Python list."""
    raw.cmd("CONFIG", "SET", "list-max-listpack-size", 3)
    model = []
    for i in range(40):
        raw.cmd("RPUSH", "l", "v%d" % i)
        model.append(b"v%d" % i)
    for i in range(10):
        raw.cmd("LPUSH", "l", str(i))
        model.insert(0, str(i).encode())
    assert lrange(raw, "l") == model
    assert raw.cmd("LINSERT", "l", "BEFORE", "v20", "ins") == len(model) + 1
    model.insert(model.index(b"v20"), b"ins")
    assert raw.cmd("LINSERT", "l", "AFTER", "v21", "ins2") == len(model) + 1
    model.insert(model.index(b"v21") + 1, b"ins2")
    assert raw.cmd("LSET", "l", 17, "set17") == b"OK"
    model[17] = b"set17"
    assert raw.cmd("LSET", "l", -5, "y" * 300) == b"OK"
    model[-5] = b"y" * 300
    assert raw.cmd("LREM", "l", 0, "v3") == 1
    model.remove(b"v3")
    assert lrange(raw, "l") == model
    for i in range(len(model)):
        assert raw.cmd("LINDEX", "l", i) == model[i]
        assert raw.cmd("LINDEX", "l", -i - 1) == model[-i - 1]
    assert raw.cmd("LTRIM", "l", 5, -7) == b"OK"
    model = model[5:-6]
    assert lrange(raw, "l") == model
    assert raw.cmd("LRANGE", "l", 7, 20) == model[7:21]
    assert raw.cmd("LPOP", "l", 4) == model[:4]
    model = model[4:]
    assert raw.cmd("RPOP", "l", 4) == list(reversed(model[-4:]))
    model = model[:-4]
    assert lrange(raw, "l") == model
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"quicklist"


def test_plain_nodes(raw):
    """Elements at or above the packed threshold get their own plain node."""
    raw.cmd("CONFIG", "SET", "list-max-listpack-size", -2)
    assert raw.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10") == b"OK"
    try:
        raw.cmd("RPUSH", "l", "small", "x" * 20, "tiny", "y" * 30)
        assert raw.cmd("OBJECT", "ENCODING", "l") == b"quicklist"
        assert raw.cmd("LINSERT", "l", "AFTER", "small", "z" * 15) == 5
        assert raw.cmd("LSET", "l", 0, "w" * 40) == b"OK"
        assert raw.cmd("LSET", "l", 2, "s") == b"OK"
        assert lrange(raw, "l") == [b"w" * 40, b"z" * 15, b"s", b"tiny", b"y" * 30]
        assert raw.cmd("LREM", "l", 0, "tiny") == 1
        assert raw.cmd("LPOS", "l", "y" * 30) == 3
        assert raw.cmd("LMOVE", "l", "m", "LEFT", "RIGHT") == b"w" * 40
        assert lrange(raw, "m") == [b"w" * 40]
        assert raw.cmd("LTRIM", "l", 1, -1) == b"OK"
        assert lrange(raw, "l") == [b"s", b"y" * 30]
    finally:
        raw.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0")
    assert raw.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb") == E(
        "ERR argument must be a memory value bigger than 1 and smaller than 4gb")


def test_memory_usage_and_digest(raw):
    raw.cmd("RPUSH", "l", "a", "b", "100")
    small = raw.cmd("MEMORY", "USAGE", "l")
    raw.cmd("RPUSH", "l", *["x" * 100] * 200)
    assert raw.cmd("MEMORY", "USAGE", "l") > small + 20000
    raw.cmd("DEL", "l")
    raw.cmd("RPUSH", "l", "a", "b", "100")
    # Redis 7.0.15 gives this digest for RPUSH l a b 100.
    assert raw.cmd("DEBUG", "DIGEST-VALUE", "l") == [b"682a2d6cd7a4a007db0198e29f17952e0f60de99"]
    d1 = raw.cmd("DEBUG", "DIGEST-VALUE", "l")
    raw.cmd("CONFIG", "SET", "list-max-listpack-size", 1)
    raw.cmd("DEL", "q")
    raw.cmd("RPUSH", "q", "a", "b", "100")
    raw.cmd("RENAME", "q", "l")
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"quicklist"
    assert raw.cmd("DEBUG", "DIGEST-VALUE", "l") == d1


def test_copy_is_deep(raw):
    raw.cmd("RPUSH", "l", "a", "b")
    assert raw.cmd("COPY", "l", "c") == 1
    raw.cmd("RPUSH", "c", "z")
    assert lrange(raw, "l") == [b"a", b"b"]
    assert lrange(raw, "c") == [b"a", b"b", b"z"]
    assert raw.cmd("TYPE", "c") == b"list"


# ---- events and WATCH ------------------------------------------------------------------------------


def test_keyspace_events(events):
    assert events([["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z"], ["LPOP", "l"], ["RPOP", "l", 2],
                   ["LSET", "l", 0, "q"], ["LINSERT", "l", "AFTER", "q", "w"], ["LREM", "l", 1, "w"],
                   ["LTRIM", "l", 0, 0], ["LMOVE", "l", "m", "LEFT", "RIGHT"]], flags="KEAn") == [
        ("new", b"l"), ("rpush", b"l"), ("lpush", b"l"), ("lpop", b"l"), ("rpop", b"l"), ("lset", b"l"),
        ("linsert", b"l"), ("lrem", b"l"), ("ltrim", b"l"), ("new", b"m"), ("rpush", b"m"), ("lpop", b"l"),
        ("del", b"l")]


def test_watch_is_touched(raw, make_raw):
    for setup, cmd in (([], ["RPUSH", "k", "a"]), ([["RPUSH", "k", "a"]], ["LPOP", "k"]),
                       ([["RPUSH", "k", "a", "b"]], ["LTRIM", "k", 0, 0]),
                       ([["RPUSH", "src", "a"]], ["LMOVE", "src", "k", "LEFT", "LEFT"])):
        raw.cmd("DEL", "k", "src")
        for c in setup:
            raw.cmd(*c)
        w = make_raw()
        assert w.cmd("WATCH", "k") == b"OK"
        raw.cmd(*cmd)
        w.cmd("MULTI")
        w.cmd("PING")
        assert w.cmd("EXEC") is None, cmd


def test_dirty_counts(raw):
    def changes():
        text = raw.cmd("INFO", "persistence").decode()
        return int(text.split("rdb_changes_since_last_save:")[1].split("\r\n")[0])

    before = changes()
    raw.cmd("RPUSH", "l", "a", "b", "c")
    raw.cmd("LPOP", "l", 2)
    raw.cmd("LPOP", "nothing")
    assert changes() - before == 5
