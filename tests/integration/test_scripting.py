"""Lua scripting (EVAL family, SCRIPT) with Redis 7.0's replies and errors:
type conversions in RESP2 and RESP3, the sandbox, shebang flags, busy
scripts and SCRIPT KILL, atomicity across worker threads, and two scripts
people write for real (a rate limiter and a lock)."""
import hashlib
import threading
import time

import pytest
import redis

from conftest import Raw, RespError, Server


def sha1(s):
    return hashlib.sha1(s.encode()).hexdigest()


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


def err(c, *args):
    """The exact error text of a command (redis-py trims error codes), run
    on a new connection to c's server."""
    raw = Raw(c.connection_pool.connection_kwargs["port"])
    try:
        res = raw.cmd(*args)
    finally:
        raw.close()
    assert isinstance(res, RespError), res
    return str(res)


# ---- conversions ---------------------------------------------------------------------


def test_lua_to_resp2(r):
    assert r.eval("return 'hello'", 0) == b"hello"
    assert r.eval("return 100.5", 0) == 100
    assert r.eval("return -3.99", 0) == -3
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return nil", 0) is None
    assert r.eval("return {ok='fine'}", 0) == b"fine"
    assert r.eval("return {1,2,3,'ciao',{1,2}}", 0) == [1, 2, 3, b"ciao", [1, 2]]
    assert r.eval("return {1,2,nil,4}", 0) == [1, 2]
    assert r.eval("return {double=3.5}", 0) == b"3.5"
    assert r.eval("return {big_number='123456789012345678901234567890'}", 0) == b"123456789012345678901234567890"
    assert r.eval("return {map={a=1}}", 0) == [b"a", 1]
    assert r.eval("return {set={a=true}}", 0) == [b"a"]
    assert r.eval("return _G", 0) == []
    assert err(r, "EVAL", "return {err='ERR this is an error'}", 0) == "ERR this is an error"
    assert err(r, "EVAL", "return redis.error_reply('MY_CODE custom')", 0) == "MY_CODE custom"
    assert r.eval("return redis.status_reply('PONG\\r\\nX')", 0) == b"PONG  X"


def test_resp_to_lua(r):
    r.set("s", "val")
    r.rpush("l", "a", "b")
    assert r.eval("local v = redis.call('incr', 'n') return {type(v), v}", 1, "n") == [b"number", 1]
    assert r.eval("local v = redis.call('get', KEYS[1]) return {type(v), v}", 1, "s") == [b"string", b"val"]
    assert r.eval("local v = redis.call('lrange', KEYS[1], 0, -1) return {type(v), #v}", 1, "l") == [b"table", 2]
    assert r.eval("return redis.pcall('set', KEYS[1], 'x')['ok']", 1, "s") == b"OK"
    assert r.eval("return redis.pcall('incr', KEYS[1])['err']", 1, "s") == \
        b"ERR value is not an integer or out of range"
    assert r.eval("return redis.call('get', 'nokey') == false", 1, "nokey") == 1


def test_resp3_conversions(r, raw):
    r.hset("h", "f", "v")
    raw.cmd("HELLO", "3")
    assert raw.cmd("EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", 1, "h") == {b"f": b"v"}
    assert raw.cmd("EVAL", "redis.setresp(2); return redis.call('hgetall', KEYS[1])", 1, "h") == [b"f", b"v"]
    assert raw.cmd("EVAL", "return {double=3.5}", 0) == 3.5
    assert raw.cmd("EVAL", "return {map={x=1}}", 0) == {b"x": 1}
    assert raw.cmd("EVAL", "return {set={x=true}}", 0) == [b"x"]
    assert raw.cmd("EVAL", "return true", 0) == 1  # the script speaks RESP2 by default
    assert raw.cmd("EVAL", "redis.setresp(3); return true", 0) is True
    assert raw.cmd("EVAL", "redis.setresp(3); return false", 0) is False
    assert raw.cmd("EVAL", "return false", 0) is None
    assert raw.cmd("EVAL", "return nil", 0) is None
    assert raw.cmd("EVAL", "return {big_number='123'}", 0) == 123
    assert raw.cmd("EVAL", "return {verbatim_string={format='txt', string='hi'}}", 0) == b"txt:hi"


def test_resp3_raw_types(server, raw):
    c = server.client()
    c.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
    try:
        raw.cmd("HELLO", "3")
        q = "redis.setresp(3); return redis.call('debug', 'protocol', '%s')"
        assert raw.cmd("EVAL", q % "bignum", 0) == 1234567999999999999999999999999999999
        assert raw.cmd("EVAL", q % "double", 0) == 3.141
        assert raw.cmd("EVAL", q % "true", 0) is True
        assert raw.cmd("EVAL", q % "null", 0) is None
        assert raw.cmd("EVAL", q % "attrib", 0) == b"Some real reply following the attribute"
        assert raw.cmd("EVAL", q % "verbatim", 0) == b"txt:This is a verbatim\nstring"
        raw.cmd("HELLO", "2")
        assert raw.cmd("EVAL", q % "true", 0) == 1
        assert sorted(raw.cmd("EVAL", q % "set", 0)) == [0, 1, 2]
    finally:
        c.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")


def test_numbers_keep_precision(r):
    assert r.eval("redis.call('set', KEYS[1], 9007199254740991) return redis.call('get', KEYS[1])", 1, "n") == \
        b"9007199254740991"
    assert r.eval("redis.call('set', KEYS[1], 3.5) return redis.call('get', KEYS[1])", 1, "n") == b"3.5"


# ---- errors ---------------------------------------------------------------------------


def test_eval_errors(r):
    s = "return a"
    assert err(r, "EVAL", s, 0) == ("ERR user_script:1: Script attempted to access nonexistent global variable 'a' "
                                 "script: %s, on @user_script:1." % sha1(s))
    s = "redis.call('nosuchcommand')"
    assert err(r, "EVAL", s, 0) == "ERR Unknown Redis command called from script script: %s, on @user_script:1." % sha1(s)
    s = "redis.call('get','a','b','c')"
    assert err(r, "EVAL", s, 0) == ("ERR Wrong number of args calling Redis command from script script: %s, "
                                 "on @user_script:1." % sha1(s))
    s = "return redis.call('blpop', 'x', 0)"
    assert err(r, "EVAL", s, 0) == ("ERR This Redis command is not allowed from script script: %s, on @user_script:1."
                                 % sha1(s))
    s = "error('boom')"
    assert err(r, "EVAL", s, 0) == "ERR user_script:1: boom script: %s, on @user_script:1." % sha1(s)
    assert err(r, "EVAL", "return 1 +", 0) == \
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    assert err(r, "EVAL", "return 1", -1) == "ERR Number of keys can't be negative"
    assert err(r, "EVAL", "return 1", 3, "a") == "ERR Number of keys can't be greater than number of args"
    assert err(r, "EVAL", "return 1", "x") == "ERR value is not an integer or out of range"
    assert err(r, "EVAL", "return redis.call()", 0).startswith("ERR Please specify at least one argument")
    assert err(r, "EVAL", "return redis.call('ping', {})", 0).startswith(
        "ERR Lua redis lib command arguments must be strings or integers")
    assert err(r, "EVALSHA", "0" * 40, 0) == "NOSCRIPT No matching script. Please use EVAL."
    assert err(r, "EVALSHA", "short", 0) == "NOSCRIPT No matching script. Please use EVAL."
    r.set("foo", "bar")
    assert "WRONGTYPE" in err(r, "EVAL", "redis.call('lpush', KEYS[1], 'x')", 1, "foo")


def test_error_stats(r, raw):
    r.config_resetstat()
    assert err(r, "EVAL", "return redis.call('select', 99)", 0).startswith("ERR DB index is out of range")
    info = raw.cmd("INFO", "errorstats").decode()
    assert "errorstat_ERR:count=1\r\n" in info
    stats = raw.cmd("INFO", "commandstats").decode()
    assert "cmdstat_eval:calls=1," in stats and "failed_calls=1\r\n" in stats.split("cmdstat_eval:")[1]
    assert "rejected_calls=0,failed_calls=1" in stats.split("cmdstat_select:")[1].split("\r\n")[0]
    # A rejected command inside a script counts as rejected, once.
    r.config_resetstat()
    assert err(r, "EVAL_RO", "return redis.call('set', KEYS[1], 1)", 1, "x").startswith(
        "ERR Write commands are not allowed from read-only scripts.")
    stats = raw.cmd("INFO", "commandstats").decode()
    assert "rejected_calls=1,failed_calls=0" in stats.split("cmdstat_set:")[1].split("\r\n")[0]
    assert "errorstat_ERR:count=1\r\n" in raw.cmd("INFO", "errorstats").decode()


def test_shebang_flags(r):
    assert r.eval("#!lua\nreturn 1", 0) == 1
    assert err(r, "EVAL", "#!not-lua\nreturn 1", 0) == "ERR Unexpected engine in script shebang: #!not-lua"
    assert err(r, "EVAL", "#!lua badger=data\nreturn 1", 0) == "ERR Unknown lua shebang option: badger=data"
    assert err(r, "EVAL", "#!lua flags=allow-oom,what?\nreturn 1", 0) == "ERR Unexpected flag in script shebang: what?"
    assert err(r, "EVAL", "#!lua flags=no-writes\nredis.call('set','x',1)", 1, "x").startswith(
        "ERR Write commands are not allowed from read-only scripts.")
    assert err(r, "EVAL_RO", "#!lua\nreturn 1", 0) == "ERR Can not execute a script with write flag using *_ro command."
    assert r.eval_ro("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "x") is None
    assert err(r, "EVAL_RO", "redis.call('del', KEYS[1])", 1, "x").startswith(
        "ERR Write commands are not allowed from read-only scripts.")
    # Line numbers count the shebang line.
    assert err(r, "EVAL", "#!lua\nerror('x')", 0).endswith("on @user_script:2.")


def test_oom(r):
    r.set("x", "1")
    r.config_set("maxmemory", "1")
    try:
        assert err(r, "EVAL", "redis.call('set', KEYS[1], 2)", 1, "x").startswith(
            "OOM command not allowed when used memory > 'maxmemory'.")
        assert r.eval("return redis.call('get', KEYS[1])", 1, "x") == b"1"
        assert err(r, "EVAL", "#!lua\nreturn 1", 0).startswith("OOM ")
        assert r.eval("#!lua flags=allow-oom\nredis.call('set', KEYS[1], 3) return 1", 1, "x") == 1
        assert r.eval("#!lua flags=no-writes\nreturn 1", 0) == 1
    finally:
        r.config_set("maxmemory", "0")


# ---- SCRIPT ---------------------------------------------------------------------------


def test_script_commands(r):
    sha = r.script_load("return 'loaded'")
    assert sha == sha1("return 'loaded'")
    assert r.evalsha(sha, 0) == b"loaded"
    assert r.evalsha(sha.upper(), 0) == b"loaded"
    assert r.evalsha_ro(sha, 0) == b"loaded"
    assert r.script_exists(sha, "0" * 40) == [True, False]
    r.eval("return 1+1", 0)
    assert r.script_exists(sha1("return 1+1")) == [True]
    assert err(r, "SCRIPT", "LOAD", "return +") .startswith("ERR Error compiling script")
    info = r.info("memory")
    assert info["number_of_cached_scripts"] >= 2
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    assert r.info("memory")["number_of_cached_scripts"] == 0
    assert err(r, "EVALSHA", sha, 0).startswith("NOSCRIPT")
    assert r.execute_command("SCRIPT", "FLUSH", "ASYNC") == b"OK"
    assert err(r, "SCRIPT", "FLUSH", "BAD") == "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    assert err(r, "SCRIPT", "KILL") == "NOTBUSY No scripts in execution right now."
    assert err(r, "SCRIPT", "BOGUS") == "ERR unknown subcommand 'BOGUS'. Try SCRIPT HELP."
    assert r.execute_command("SCRIPT", "DEBUG", "NO") == b"OK"
    assert err(r, "SCRIPT", "DEBUG", "MAYBE") == "ERR Use SCRIPT DEBUG YES/SYNC/NO"
    help_lines = r.execute_command("SCRIPT", "HELP")
    assert help_lines[0] == b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"


def test_script_load_visible_on_every_thread(server):
    # Many connections land on both worker threads.
    clients = [server.client() for _ in range(8)]
    sha = clients[0].script_load("return 'everywhere'")
    for c in clients:
        assert c.evalsha(sha, 0) == b"everywhere"
    clients[3].script_flush()
    for c in clients:
        assert c.script_exists(sha) == [False]
        assert err(c, "EVALSHA", sha, 0).startswith("NOSCRIPT")
    for c in clients:
        c.close()


def test_getkeys(raw):
    assert raw.cmd("COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c") == [b"a", b"b"]
    assert raw.cmd("COMMAND", "GETKEYS", "EVALSHA", "x" * 40, "1", "k") == [b"k"]
    assert raw.cmd("COMMAND", "GETKEYS", "FCALL", "f", "1", "k", "arg") == [b"k"]


# ---- sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "a = 10", "setmetatable(_G, {})", "local g = getmetatable(_G); g.__index = {}", "redis = function() return 1 end",
    "_G = {}", "redis.call = function() return 1 end", "cjson.encode = 1", "cmsgpack.pack = 1", "bit.lshift = 1",
    "struct.pack = 1", "string.rep = 1", "math.floor = 1", "table.insert(_G, 1)", "rawset(redis, 'x', 1)",
])
def test_readonly_tables(r, code):
    assert "Attempt to modify a readonly table" in err(r, "EVAL", code, 0)


@pytest.mark.parametrize("name", ["loadfile", "dofile", "print", "os", "io", "require", "getfenv", "setfenv",
                                  "debug", "package"])
def test_missing_globals(r, name):
    assert "Script attempted to access nonexistent global variable '%s'" % name in err(r, "EVAL", "return %s" % name, 0)


def test_sandbox_misc(r):
    assert "attempt to call a nil value" in err(r, "EVAL", "return loadstring(string.dump(function() return 1 end))()", 0)
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return redis.sha1hex('Pizza & Mandolino')", 0) == b"74822d82031af7493c20eefa13bd07ec4fada82f"
    assert r.eval("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')", 0) == \
        b"0 -5000 -1 0.0003 1023.2 0"
    assert r.eval("return bit.bor(1,2,4,8,16,32,64,128)", 0) == 255
    assert r.eval("return redis.REDIS_VERSION", 0) == b"7.0.15"
    assert r.eval("local s, e = pcall(function() error({err='MY x'}) end) return e", 0) == b"MY x"
    # Each run has fresh KEYS/ARGV; nothing a script does leaks to the next.
    assert r.eval("return {KEYS[1], ARGV[1]}", 1, "k", "v") == [b"k", b"v"]
    assert r.eval("return {KEYS[1], ARGV[1]}", 0) == []
    assert r.eval("math.randomseed(ARGV[1]) return tostring(math.random())", 0, 10) == \
        r.eval("math.randomseed(ARGV[1]) return tostring(math.random())", 0, 10)


def test_deep_table_reply(raw):
    # A table that contains itself: replies nest until the Lua stack limit.
    q = b"local a = {} local b = {a} a[1] = b return a"
    raw.send(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(q), q))
    depth = 0
    while True:
        line = raw.read_line()
        if line == b"-ERR reached lua stack limit":
            break
        assert line == b"*1"
        depth += 1
    assert depth > 100
    assert raw.cmd("PING") == b"PONG"


# ---- semantics ----------------------------------------------------------------------------


def test_select_inside_script(r):
    r.set("k", "db0")
    assert r.eval("redis.call('select', 5) redis.call('set', 'k', 'db5') return redis.call('get', 'k')", 0) == b"db5"
    assert r.get("k") == b"db0"
    r.execute_command("SELECT", 5)
    assert r.get("k") == b"db5"
    assert r.eval("return redis.call('get', KEYS[1])", 1, "k") == b"db5"
    r.execute_command("SELECT", 0)


def test_time_is_frozen(r):
    r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
    try:
        assert r.eval("redis.call('set', KEYS[1], 'v', 'PX', 1) redis.call('debug', 'sleep', '0.01') "
                      "return redis.call('exists', KEYS[1])", 1, "t") == 1
        assert r.exists("t") == 0
    finally:
        r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")


def test_multi_with_eval(r):
    p = r.pipeline(transaction=True)
    p.set("a{m}", 1)
    p.eval("return redis.call('incr', KEYS[1])", 1, "a{m}")
    p.eval("return redis.call('incr', 'undeclared')", 0)
    assert p.execute() == [True, 2, 1]


def test_sort_from_script(r):
    r.sadd("myset", "b", "c", "a")
    assert r.eval("return redis.call('sort', KEYS[1], 'by', '_')", 1, "myset") == [b"a", b"b", b"c"]


def test_undeclared_keys_and_walkers(r):
    assert r.eval("for i = 1, 100 do redis.call('set', 'u:' .. i, i) end return redis.call('dbsize')", 0) == 100
    assert r.eval("redis.call('set', KEYS[1], 1) return #redis.call('keys', 'u:*')", 1, "w") == 100
    assert r.eval("#!lua flags=allow-undeclared-keys\nreturn redis.call('get', 'u:7')", 0) == b"7"
    assert r.eval("return redis.call('randomkey') ~= nil", 0) == 1


def test_strict_keys_mode(r):
    r.config_set("lua-strict-keys", "yes")
    try:
        assert err(r, "EVAL", "return redis.call('get', 'other')", 1, "mine").startswith(
            "ERR Script attempted to access a key that is not declared in KEYS")
        # Same slot as a declared key: same stripe, allowed.
        assert r.eval("return redis.call('get', '{mine}:2')", 1, "{mine}:1") is None
        assert r.eval("#!lua flags=allow-undeclared-keys\nreturn redis.call('get', 'other')", 0) is None
    finally:
        r.config_set("lua-strict-keys", "no")


def test_config_alias(r):
    r.config_set("lua-time-limit", 1234)
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "1234"}
    r.config_set("busy-reply-threshold", 5000)
    assert r.config_get("lua-time-limit") == {"lua-time-limit": "5000"}


def test_monitor_shows_script_commands(server, r):
    m = server.client()
    with m.monitor() as mon:
        r.eval("redis.call('set', KEYS[1], ARGV[1])", 1, "mk", "mv")
        first = mon.next_command()
        second = mon.next_command()
    assert first["command"].lower().startswith("eval")
    assert second["command"] == "set mk mv"
    assert second["client_address"] == "lua"


# ---- scripts people write ---------------------------------------------------------------

RATE_LIMITER = """
local current = redis.call('incr', KEYS[1])
if current == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
if current > tonumber(ARGV[1]) then return 0 end
return 1
"""

LOCK_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@pytest.mark.stress
def test_rate_limiter(server):
    clients = [server.client() for _ in range(4)]
    sha = clients[0].script_load(RATE_LIMITER)
    allowed = []
    lock = threading.Lock()

    def worker(c):
        n = 0
        for _ in range(50):
            n += c.evalsha(sha, 1, "rl:user", 60, 60000)
        with lock:
            allowed.append(n)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # 200 requests from four connections on two threads: exactly 60 allowed.
    assert sum(allowed) == 60
    assert int(clients[0].get("rl:user")) == 200
    assert 0 < clients[0].pttl("rl:user") <= 60000
    for c in clients:
        c.close()


def test_lock(server):
    a, b = server.client(), server.client()
    assert a.set("lock:res", "token-a", nx=True, px=10000)
    assert not b.set("lock:res", "token-b", nx=True, px=10000)
    assert b.eval(LOCK_RELEASE, 1, "lock:res", "token-b") == 0
    assert a.get("lock:res") == b"token-a"
    assert a.eval(LOCK_RELEASE, 1, "lock:res", "token-a") == 1
    assert b.set("lock:res", "token-b", nx=True, px=10000)
    a.close()
    b.close()


@pytest.mark.stress
def test_scripts_are_atomic_across_threads(server):
    """Each script moves 1 from one of two counters in different stripes to
    the other; readers on other connections must always see the sum at 0."""
    setup = server.client()
    setup.mset({"acc:a": 0, "acc:b": 0})
    move = setup.script_load("redis.call('decrby', KEYS[1], 1) redis.call('incrby', KEYS[2], 1)")
    undeclared = setup.script_load("redis.call('decrby', 'acc:b', 1) redis.call('incrby', 'acc:a', 1)")
    stop = time.time() + 2
    bad = []

    def mover(c, sha, keys):
        for _ in range(300):
            if time.time() > stop:
                break
            c.evalsha(sha, len(keys), *keys)

    def reader(c):
        for _ in range(300):
            if time.time() > stop:
                break
            s = c.eval("return redis.call('get', KEYS[1]) + redis.call('get', KEYS[2])", 2, "acc:a", "acc:b")
            if s != 0:
                bad.append(s)

    cs = [server.client() for _ in range(5)]
    threads = [threading.Thread(target=mover, args=(cs[0], move, ["acc:a", "acc:b"])),
               threading.Thread(target=mover, args=(cs[1], undeclared, [])),
               threading.Thread(target=mover, args=(cs[2], move, ["acc:b", "acc:a"])),
               threading.Thread(target=reader, args=(cs[3],)),
               threading.Thread(target=reader, args=(cs[4],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert bad == []
    assert int(setup.get("acc:a")) + int(setup.get("acc:b")) == 0
    for c in cs + [setup]:
        c.close()


# ---- busy scripts ---------------------------------------------------------------------------


def _wait_busy(ctl, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        res = ctl.cmd("PING")
        if isinstance(res, RespError):
            assert str(res).startswith("BUSY"), res
            return str(res)
        time.sleep(0.01)
    raise AssertionError("script never became busy")


def _run_busy(threads, script, keys=()):
    """A server with busy-reply-threshold 50 ms, a raw control connection
    (opened first: while a script is busy its thread accepts no new
    connection) and a thread running the script on its own connection."""
    s = Server(threads=threads)
    try:
        ctl = Raw(s.port)
        assert ctl.cmd("CONFIG", "SET", "busy-reply-threshold", "50") == b"OK"
        extra = [Raw(s.port) for _ in range(3)]
        runner = redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=20)
        result = {}

        def run():
            try:
                result["r"] = runner.eval(script, len(keys), *keys)
            except redis.ResponseError as e:
                result["e"] = str(e)

        t = threading.Thread(target=run)
        t.start()
        return s, ctl, extra, t, result
    except Exception:
        s.stop(expect_clean=False)
        raise


BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


@pytest.mark.stress
@pytest.mark.parametrize("threads", [1, 2])
def test_script_kill(threads):
    # threads=1: the killer shares the busy script's thread (served from
    # inside the script); threads=2: often another thread.
    s, ctl, extra, t, result = _run_busy(threads, "local i = 0 while true do i = i + 1 end")
    try:
        assert _wait_busy(ctl) == BUSY_EVAL
        assert ctl.cmd("FUNCTION", "KILL") == RespError(BUSY_EVAL)
        assert ctl.cmd("FUNCTION", "STATS") == RespError(BUSY_EVAL)
        for c in extra:
            assert c.cmd("GET", "k") == RespError(BUSY_EVAL)
            assert c.cmd("EVAL", "return 1", 0) == RespError(BUSY_EVAL)
        assert ctl.cmd("SCRIPT", "KILL") == b"OK"
        t.join(10)
        assert "Script killed by user with SCRIPT KILL" in result["e"]
        assert ctl.cmd("PING") == b"PONG"
        for c in extra:
            assert c.cmd("GET", "k") is None
    finally:
        t.join(10)
        s.stop()


def test_script_kill_with_pcall_loop():
    s, ctl, extra, t, result = _run_busy(2, "local f = function() while 1 do redis.call('ping') end end "
                                            "while 1 do pcall(f) end")
    try:
        _wait_busy(ctl)
        assert ctl.cmd("SCRIPT", "KILL") == b"OK"
        t.join(10)
        assert "killed by user" in result["e"]
    finally:
        t.join(10)
        s.stop()


@pytest.mark.stress
def test_unkillable_after_write():
    s, ctl, extra, t, result = _run_busy(2, "redis.call('set', KEYS[1], 'y') local i = 0 "
                                            "while i < 60000000 do i = i + 1 end return 'done'", ["x"])
    try:
        _wait_busy(ctl)
        res = ctl.cmd("SCRIPT", "KILL")
        assert str(res).startswith("UNKILLABLE Sorry the script already executed write commands against the "
                                   "dataset."), res
        t.join(20)
        assert result.get("r") == b"done"
        assert ctl.cmd("GET", "x") == b"y"
    finally:
        t.join(20)
        s.stop()


def test_shutdown_stops_a_busy_script():
    s, ctl, extra, t, result = _run_busy(2, "local i = 0 while true do i = i + 1 end")
    try:
        _wait_busy(ctl)
    finally:
        s.stop()  # SIGTERM: the script is stopped, the server exits cleanly
        t.join(10)
    assert "e" in result or "r" in result or not t.is_alive()
