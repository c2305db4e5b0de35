"""Functions (FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL,
FCALL, FCALL_RO) with Redis 7.0's replies and errors, libraries visible to
every worker thread, and FUNCTION DUMP payloads that Redis 7.0 itself
restores (when redis-server is installed)."""
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import Raw, RespError, Server, free_port

LIB = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)"


def code(name, fname, body, flags=None):
    if flags:
        return ("#!lua name=%s\nredis.register_function{function_name='%s', callback=function(KEYS, ARGV) %s end, "
                "flags={%s}}" % (name, fname, body, ",".join("'%s'" % f for f in flags)))
    return "#!lua name=%s\nredis.register_function('%s', function(KEYS, ARGV) %s end)" % (name, fname, body)


@pytest.fixture
def raw(server):
    c = Raw(server.port)
    assert c.cmd("FUNCTION", "FLUSH") == b"OK"
    yield c
    c.close()


def test_load_call_list_delete(raw):
    assert raw.cmd("FUNCTION", "LOAD", LIB) == b"mylib"
    assert raw.cmd("FCALL", "myfunc", 0, "hi") == b"hi"
    assert raw.cmd("FCALL", "MYFUNC", 0, "case") == b"case"
    assert raw.cmd("FCALL_RO", "myfunc", 0, "x") == RespError(
        "ERR Can not execute a script with write flag using *_ro command.")
    assert raw.cmd("FUNCTION", "LIST") == [[b"library_name", b"mylib", b"engine", b"LUA", b"functions",
                                            [[b"name", b"myfunc", b"description", None, b"flags", []]]]]
    assert raw.cmd("FUNCTION", "LIST", "WITHCODE")[0][-2:] == [b"library_code", LIB.encode()]
    assert raw.cmd("FUNCTION", "LIST", "LIBRARYNAME", "my*") != []
    assert raw.cmd("FUNCTION", "LIST", "LIBRARYNAME", "other*") == []
    assert raw.cmd("FUNCTION", "LOAD", LIB) == RespError("ERR Library 'mylib' already exists")
    assert raw.cmd("FUNCTION", "LOAD", "REPLACE", LIB.replace("args[1]", "'new'")) == b"mylib"
    assert raw.cmd("FCALL", "myfunc", 0) == b"new"
    assert raw.cmd("FUNCTION", "DELETE", "mylib") == b"OK"
    assert raw.cmd("FCALL", "myfunc", 0) == RespError("ERR Function not found")
    assert raw.cmd("FUNCTION", "DELETE", "mylib") == RespError("ERR Library not found")


def test_flags_and_keys(raw):
    assert raw.cmd("FUNCTION", "LOAD", code("l", "ro", "return redis.call('get', KEYS[1])", ["no-writes"])) == b"l"
    assert raw.cmd("FUNCTION", "LOAD", code("w", "wr", "return redis.call('set', KEYS[1], ARGV[1])")) == b"w"
    assert raw.cmd("FCALL", "wr", 1, "k", "v") == b"OK"
    assert raw.cmd("FCALL_RO", "ro", 1, "k") == b"v"
    assert raw.cmd("FUNCTION", "LOAD", code("l2", "bad", "return redis.call('set', 'x', 1)", ["no-writes"])) == b"l2"
    res = raw.cmd("FCALL", "bad", 0)
    assert str(res).startswith("ERR Write commands are not allowed from read-only scripts. script: bad, "
                               "on @user_function:2.")
    assert raw.cmd("FUNCTION", "LIST", "LIBRARYNAME", "l")[0][5][0][5] == [b"no-writes"]
    assert raw.cmd("FCALL", "wr", "x") == RespError("ERR Bad number of keys provided")
    assert raw.cmd("FCALL", "wr", 5, "k") == RespError("ERR Number of keys can't be greater than number of args")
    assert raw.cmd("FCALL", "wr", -1, "k") == RespError("ERR Number of keys can't be negative")


@pytest.mark.parametrize("body,message", [
    ("redis.register_function('f', 'x')", "second argument to redis.register_function must be a function"),
    ("redis.register_function()", "wrong number of arguments to redis.register_function"),
    ("redis.register_function('f')", "calling redis.register_function with a single argument is only applicable "
                                     "to Lua table (representing named arguments)."),
    ("redis.register_function(nil, function() end)", "first argument to redis.register_function must be a string"),
    ("redis.register_function('', function() end)", "Library names can only contain letters, numbers, or "
                                                    "underscores(_) and must be at least one character long"),
    ("redis.register_function{function_name='f', callback=function() end, flags={'bogus'}}", "unknown flag given"),
    ("redis.register_function{function_name='f', callback=function() end, other=1}",
     "unknown argument given to redis.register_function"),
    ("redis.register_function{callback=function() end}", "redis.register_function must get a function name argument"),
    ("redis.register_function{function_name='f'}", "redis.register_function must get a callback argument"),
    ("redis.register_function('f', function() end) redis.register_function('f', function() end)",
     "Function already exists in the library"),
])
def test_registration_errors(raw, body, message):
    res = raw.cmd("FUNCTION", "LOAD", "#!lua name=lib\n" + body)
    assert isinstance(res, RespError)
    assert str(res) == "ERR Error registering functions: ERR " + message


@pytest.mark.parametrize("payload,message", [
    ("return 1", "ERR Missing library metadata"),
    ("#!lua", "ERR Invalid library metadata"),
    ("#!lua\nreturn 1", "ERR Library name was not given"),
    ("#!lua name=a name=b\nreturn 1", "ERR Invalid metadata value, name argument was given multiple times"),
    ("#!lua name=a foo=bar\nreturn 1", "ERR Invalid metadata value given: foo=bar"),
    ("#!bad_engine name=a\nreturn 1", "ERR Engine 'bad_engine' not found"),
    ("#!lua name=a-b\nreturn 1", "ERR Library names can only contain letters, numbers, or underscores(_) and must "
                                 "be at least one character long"),
    ("#!lua name=a\nreturn 1", "ERR No functions registered"),
    ("#!lua name=a\nbad code", "ERR Error compiling function: user_function:2: '=' expected near 'code'"),
    ("#!lua name=a\nreturn math.random()", "ERR Error registering functions: ERR user_function:2: Script attempted "
                                           "to access nonexistent global variable 'math'"),
    ("#!lua name=a\nlocal a = 1 while 1 do a = a + 1 end", "ERR Error registering functions: ERR FUNCTION LOAD "
                                                           "timeout"),
])
def test_load_errors(raw, payload, message):
    assert raw.cmd("FUNCTION", "LOAD", payload) == RespError(message)


def test_load_arguments(raw):
    assert raw.cmd("FUNCTION", "LOAD", "foo", "bar", LIB) == RespError("ERR Unknown option given: foo")
    # The last argument is always the code (Redis): REPLACE alone is code.
    assert raw.cmd("FUNCTION", "LOAD", "REPLACE") == RespError("ERR Missing library metadata")
    assert raw.cmd("FUNCTION", "LOAD", 'REPLACE', '#!lua name="quoted"\nredis.register_function("f", '
                                                 'function() return 1 end)') == b"quoted"


def test_name_collisions(raw):
    assert raw.cmd("FUNCTION", "LOAD", code("a", "f1", "return 1")) == b"a"
    assert raw.cmd("FUNCTION", "LOAD", code("b", "f1", "return 2")) == RespError("ERR Function f1 already exists")
    assert raw.cmd("FCALL", "f1", 0) == 1


def test_dump_restore(raw):
    raw.cmd("FUNCTION", "LOAD", code("a", "fa", "return 'a'"))
    raw.cmd("FUNCTION", "LOAD", code("b", "fb", "return 'b'"))
    dump = raw.cmd("FUNCTION", "DUMP")
    assert raw.cmd("FUNCTION", "RESTORE", dump) == RespError("ERR Library a already exists")
    assert raw.cmd("FUNCTION", "RESTORE", dump, "REPLACE") == b"OK"
    assert raw.cmd("FUNCTION", "FLUSH") == b"OK"
    assert raw.cmd("FUNCTION", "LIST") == []
    assert raw.cmd("FUNCTION", "RESTORE", dump) == b"OK"
    assert raw.cmd("FCALL", "fb", 0) == b"b"
    raw.cmd("FUNCTION", "LOAD", "REPLACE", code("c", "fc", "return 'c'"))
    assert raw.cmd("FUNCTION", "RESTORE", dump, "FLUSH") == b"OK"
    assert raw.cmd("FCALL", "fc", 0) == RespError("ERR Function not found")
    assert raw.cmd("FUNCTION", "RESTORE", b"bad_payload") == RespError("ERR DUMP payload version or checksum are wrong")
    bad = bytearray(dump)
    bad[2] ^= 0xff
    assert raw.cmd("FUNCTION", "RESTORE", bytes(bad)) == RespError("ERR DUMP payload version or checksum are wrong")
    assert raw.cmd("FUNCTION", "RESTORE", dump, "BOGUS") == RespError(
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    assert raw.cmd("FUNCTION", "RESTORE", "a", "b", "c") == RespError(
        "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.")


def test_stats_flush_help(raw):
    raw.cmd("FUNCTION", "LOAD", code("a", "f1", "return 1").replace(
        "end)", "end) redis.register_function('f2', function() return 2 end)"))
    assert raw.cmd("FUNCTION", "STATS") == [b"running_script", None, b"engines",
                                            [b"LUA", [b"libraries_count", 1, b"functions_count", 2]]]
    assert raw.cmd("FUNCTION", "FLUSH", "BAD") == RespError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    assert raw.cmd("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert raw.cmd("FUNCTION", "KILL") == RespError("NOTBUSY No scripts in execution right now.")
    assert raw.cmd("FUNCTION", "HELP")[0] == b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"


def test_sandbox_of_functions(raw):
    raw.cmd("FUNCTION", "LOAD", code("t", "f", "mt = getmetatable(_G)"))
    assert "Attempt to modify a readonly table" in str(raw.cmd("FCALL", "f", 0))
    raw.cmd("FUNCTION", "LOAD", "REPLACE", code("t", "f", "redis.register_function('g', function() end)"))
    assert "attempt to call field 'register_function' (a nil value)" in str(raw.cmd("FCALL", "f", 0))
    raw.cmd("FUNCTION", "LOAD", "REPLACE", "#!lua name=t\nlocal lib = redis\n"
            "redis.register_function('f', function() lib.register_function('g', function() end) end)")
    assert "redis.register_function can only be called on FUNCTION LOAD command" in str(raw.cmd("FCALL", "f", 0))


def test_info_counts(raw):
    raw.cmd("FUNCTION", "LOAD", code("a", "f1", "return 1"))
    info = raw.cmd("INFO", "memory").decode()
    assert "number_of_functions:1\r\n" in info and "number_of_libraries:1\r\n" in info


@pytest.mark.stress
def test_loaded_library_visible_on_every_thread(server, raw):
    clients = [Raw(server.port) for _ in range(8)]
    for c in clients:
        assert c.cmd("PING") == b"PONG"
    assert raw.cmd("FUNCTION", "LOAD", code("v", "visible", "return 'yes'")) == b"v"
    for c in clients:
        assert c.cmd("FCALL", "visible", 0) == b"yes"
    assert raw.cmd("FUNCTION", "DELETE", "v") == b"OK"
    for c in clients:
        assert c.cmd("FCALL", "visible", 0) == RespError("ERR Function not found")
        c.close()


@pytest.mark.stress
def test_function_kill_and_stats():
    s = Server(threads=1)
    try:
        ctl = Raw(s.port)
        ctl.cmd("CONFIG", "SET", "busy-reply-threshold", "50")
        ctl.cmd("FUNCTION", "LOAD", code("busy", "spin", "local a = 1 while true do a = a + 1 end"))
        runner = Raw(s.port)
        runner.send(b"*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n")
        deadline = time.time() + 5
        while time.time() < deadline and not isinstance(ctl.cmd("PING"), RespError):
            time.sleep(0.01)
        assert ctl.cmd("PING") == RespError(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
        stats = ctl.cmd("FUNCTION", "STATS")
        running = stats[1]
        assert running[:5] == [b"name", b"spin", b"command", [b"FCALL", b"spin", b"0"], b"duration_ms"]
        assert running[5] >= 0
        assert ctl.cmd("SCRIPT", "KILL") == RespError(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
        assert ctl.cmd("FUNCTION", "KILL") == b"OK"
        assert "Script killed by user with SCRIPT KILL" in str(runner.read_reply())
        assert ctl.cmd("PING") == b"PONG"
    finally:
        s.stop()


def _redis_server():
    return shutil.which("redis-server")


@pytest.mark.skipif(_redis_server() is None, reason="redis-server is not installed")
def test_dump_interchangeable_with_redis(raw):
    """A payload dumped by Stash restores on Redis 7.0 and the other way."""
    port = free_port()
    d = tempfile.mkdtemp(prefix="stash-peer-")
    p = subprocess.Popen([_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.05)
        peer = Raw(port)
        long_lib = code("longlib", "lf", "return '" + "x" * 200 + "'")
        raw.cmd("FUNCTION", "LOAD", long_lib)
        raw.cmd("FUNCTION", "LOAD", code("s", "sf", "return 1"))
        assert peer.cmd("FUNCTION", "RESTORE", raw.cmd("FUNCTION", "DUMP")) == b"OK"
        assert peer.cmd("FCALL", "lf", 0) == b"x" * 200
        peer.cmd("FUNCTION", "LOAD", code("fromredis", "rf", "return 'from redis ' .. ('y'):rep(50)"))
        assert raw.cmd("FUNCTION", "RESTORE", peer.cmd("FUNCTION", "DUMP"), "REPLACE") == b"OK"
        assert raw.cmd("FCALL", "rf", 0) == b"from redis " + b"y" * 50
        peer.close()
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)
