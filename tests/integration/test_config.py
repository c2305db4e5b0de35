"""CONFIG GET / SET / RESETSTAT / HELP and configuration files: Redis 7.0's
replies, atomic multi-parameter SET with rollback, and the FATAL CONFIG
FILE ERROR report (line number, exit code 1)."""
import os
import subprocess
import tempfile
import time

import pytest

from conftest import BINARY, Raw, RespError, Server, free_port

# Immutable options (and the one with side effects on the test run), as
# Redis's "CONFIG sanity" test skips them.
SKIP = {"daemonize", "enable-debug-command", "tcp-backlog", "unixsocket", "unixsocketperm", "databases", "io-threads", "threads",
        "logfile", "pidfile", "dir", "rename-command", "aclfile", "rdbchecksum", "appendfilename", "appenddirname",
        "replicaof",
        "slaveof"}


def pairs(reply):
    return dict(zip(reply[::2], reply[1::2]))


def test_config_get_set_round_trip(raw):
    before = pairs(raw.cmd("CONFIG", "GET", "*"))
    assert len(before) > 20
    for name, value in before.items():
        if name.decode() in SKIP:
            continue
        assert raw.cmd("CONFIG", "SET", name, value) == b"OK", name
    after = pairs(raw.cmd("CONFIG", "GET", "*"))
    assert after == before


def test_config_get_patterns_and_aliases(raw):
    got = pairs(raw.cmd("CONFIG", "GET", "maxmemory", "maxmemory*", "bind", "*threads"))
    assert b"maxmemory" in got and b"maxmemory-policy" in got and b"maxmemory-samples" in got and b"bind" in got
    # "threads" is Stash's name of io-threads: patterns show the Redis name.
    assert b"io-threads" in got and b"threads" not in got
    assert pairs(raw.cmd("CONFIG", "GET", "threads")) == {b"threads": b"2"}
    assert raw.cmd("CONFIG", "GET", "nosuch") == []
    assert pairs(raw.cmd("CONFIG", "GET", "MAXMEMORY")) == {b"maxmemory": b"0"}
    # rename-command is hidden from patterns
    assert b"rename-command" not in pairs(raw.cmd("CONFIG", "GET", "*"))


def test_config_get_resp3_is_a_map(raw):
    raw.cmd("HELLO", "3")
    assert raw.cmd("CONFIG", "GET", "maxmemory") == {b"maxmemory": b"0"}


def test_config_set_values_and_errors(raw):
    assert raw.cmd("CONFIG", "SET", "maxmemory", "1mb") == b"OK"
    assert pairs(raw.cmd("CONFIG", "GET", "maxmemory")) == {b"maxmemory": b"1048576"}
    assert raw.cmd("CONFIG", "SET", "maxmemory", "0") == b"OK"
    assert raw.cmd("CONFIG", "SET", "maxmemory", "abc") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
    assert raw.cmd("CONFIG", "SET", "maxmemory-policy", "x") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the "
        "following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
        "allkeys-random, noeviction")
    assert raw.cmd("CONFIG", "SET", "timeout", "-1") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and "
        "2147483647 inclusive")
    assert raw.cmd("CONFIG", "SET", "latency-tracking", "maybe") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'latency-tracking') - argument must be 'yes' or 'no'")
    assert raw.cmd("CONFIG", "SET", "nosuch", "1") == RespError(
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    assert raw.cmd("CONFIG", "SET", "maxmemory") == RespError(
        "ERR wrong number of arguments for 'config|set' command")
    assert raw.cmd("CONFIG", "SET", "maxmemory", "1", "hz") == RespError(
        "ERR wrong number of arguments for 'config|set' command")
    assert raw.cmd("CONFIG", "GET") == RespError("ERR wrong number of arguments for 'config|get' command")
    assert raw.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of "
        "arguments in buffer limit configuration.")


def test_config_set_multiple_atomic(raw):
    assert raw.cmd("CONFIG", "SET", "maxmemory", "10000001", "hz", "20", "slowlog-max-len", "100") == b"OK"
    got = pairs(raw.cmd("CONFIG", "GET", "maxmemory", "hz", "slowlog-max-len"))
    assert got == {b"maxmemory": b"10000001", b"hz": b"20", b"slowlog-max-len": b"100"}
    # A bad value anywhere: nothing is applied.
    assert raw.cmd("CONFIG", "SET", "maxmemory", "10000002", "hz", "x") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer")
    assert pairs(raw.cmd("CONFIG", "GET", "maxmemory")) == {b"maxmemory": b"10000001"}
    assert raw.cmd("CONFIG", "SET", "maxmemory", "10000001", "maxmemory", "10000002") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter")
    assert raw.cmd("CONFIG", "SET", "daemonize", "yes") == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")
    assert raw.cmd("CONFIG", "SET", "maxmemory", "0", "hz", "10", "slowlog-max-len", "128") == b"OK"


def test_config_set_rollback_on_apply_error(raw):
    # Binding a port that is taken fails while applying: everything set
    # before it in the same command is restored.
    taken = Server()
    try:
        old = pairs(raw.cmd("CONFIG", "GET", "maxmemory", "port", "client-query-buffer-limit"))
        err = raw.cmd("CONFIG", "SET", "maxmemory", "10000001", "port", str(taken.port),
                      "client-query-buffer-limit", "10mb")
        assert isinstance(err, RespError)
        assert str(err).startswith(
            "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port")
        assert pairs(raw.cmd("CONFIG", "GET", "maxmemory", "port", "client-query-buffer-limit")) == old
        assert raw.cmd("PING") == b"PONG"
    finally:
        taken.stop()


def test_config_latency_tracking_percentiles(raw):
    name = "latency-tracking-info-percentiles"
    assert pairs(raw.cmd("CONFIG", "GET", name)) == {name.encode(): b"50 99 99.9"}
    assert raw.cmd("CONFIG", "SET", name, "0.0 50.0 100.0") == b"OK"
    assert pairs(raw.cmd("CONFIG", "GET", name)) == {name.encode(): b"0 50 100"}
    assert raw.cmd("CONFIG", "SET", name, "10.0 50.0 a") == RespError(
        "ERR CONFIG SET failed (possibly related to argument '%s') - Invalid latency-tracking-info-percentiles "
        "parameters" % name)
    assert raw.cmd("CONFIG", "SET", name, "101") == RespError(
        "ERR CONFIG SET failed (possibly related to argument '%s') - latency-tracking-info-percentiles "
        "parameters should sit between [0.0,100.0]" % name)
    assert pairs(raw.cmd("CONFIG", "GET", name)) == {name.encode(): b"0 50 100"}
    assert raw.cmd("CONFIG", "SET", name, "") == b"OK"
    assert pairs(raw.cmd("CONFIG", "GET", name)) == {name.encode(): b""}
    assert raw.cmd("CONFIG", "SET", name, "50 99 99.9") == b"OK"


def test_config_hz_is_clamped_like_redis(raw):
    assert raw.cmd("CONFIG", "SET", "hz", "1000") == b"OK"
    assert "hz:500\r\n" in raw.cmd("INFO", "server").decode()
    assert raw.cmd("CONFIG", "SET", "hz", "10") == b"OK"


def test_config_resetstat(raw):
    raw.cmd("SET", "a", "1")
    raw.cmd("NOSUCHCOMMAND")
    assert raw.cmd("CONFIG", "RESETSTAT") == b"OK"
    stats = raw.cmd("INFO", "stats").decode()
    assert "total_error_replies:0\r\n" in stats
    # As in Redis, RESETSTAT itself is counted once it has run.
    assert "total_commands_processed:1\r\n" in stats
    cmdstats = raw.cmd("INFO", "commandstats").decode()
    assert "cmdstat_set:" not in cmdstats and "cmdstat_config|resetstat:calls=1," in cmdstats
    assert raw.cmd("INFO", "errorstats") == b"# Errorstats\r\n"


def test_config_resetstat_keeps_slowlog(raw):
    raw.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    raw.cmd("PING")
    raw.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    n = raw.cmd("SLOWLOG", "LEN")
    assert n > 0
    raw.cmd("CONFIG", "RESETSTAT")
    assert raw.cmd("SLOWLOG", "LEN") == n
    raw.cmd("SLOWLOG", "RESET")


def test_config_help(raw):
    h = raw.cmd("CONFIG", "HELP")
    assert h[0] == b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert h[1:3] == [b"GET <pattern>", b"    Return parameters matching the glob-like <pattern> and their values."]
    assert h[-2:] == [b"HELP", b"    Prints this help."]


# ---- configuration files and command lines ---------------------------------------------------


def run_fail(args, stdin=None):
    p = subprocess.run([BINARY] + args, capture_output=True, timeout=20, input=stdin)
    return p.returncode, p.stderr.decode() + p.stdout.decode()


def write_conf(text):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_config_file_unknown_directive():
    path = write_conf("# a comment\nport 7777\n\nbogus-directive 1\n")
    try:
        rc, out = run_fail([path])
        assert rc == 1
        assert "*** FATAL CONFIG FILE ERROR (Stash " in out
        assert "Reading the configuration file, at line 4\n>>> 'bogus-directive 1'\n" in out
        assert "Bad directive or wrong number of arguments" in out
    finally:
        os.unlink(path)


def test_config_file_bad_value_line_number():
    path = write_conf("port 7777\nmaxmemory abc\n")
    try:
        rc, out = run_fail([path])
        assert rc == 1
        assert "at line 2\n>>> 'maxmemory abc'\nargument must be a memory value" in out
    finally:
        os.unlink(path)


def test_config_file_missing():
    rc, out = run_fail(["/nonexistent/stash.conf"])
    assert rc == 1
    assert "Fatal error, can't open config file '/nonexistent/stash.conf': No such file or directory" in out


def test_command_line_errors():
    rc, out = run_fail(["--port"])
    assert rc == 1 and ">>> 'port'\nwrong number of arguments" in out
    rc, out = run_fail(["--port", "6380", "--loglevel"])
    assert rc == 1 and ">>> 'loglevel'\nwrong number of arguments" in out
    rc, out = run_fail(["--port", "6379", "6380"])
    assert rc == 1 and ">>> 'port \"6379\" \"6380\"'\nwrong number of arguments" in out
    rc, out = run_fail(["--port", "--bla", "--loglevel", "verbose"])
    assert rc == 1 and ">>> 'port \"--bla\"'\nargument couldn't be parsed into an integer" in out
    rc, out = run_fail(["--nosuch-option", "1"])
    assert rc == 1 and ">>> 'nosuch-option \"1\"'\nBad directive or wrong number of arguments" in out


def test_config_file_is_loaded_and_reported():
    path = write_conf("maxmemory 2mb\nslowlog-max-len 77\nlatency-tracking-info-percentiles \"10 90\"\n")
    port = free_port()
    proc = subprocess.Popen([BINARY, path, "--port", str(port), "--bind", "127.0.0.1", "--threads", "1",
                             "--dir", tempfile.mkdtemp(prefix="stash-test-")],  # its shutdown snapshot goes there
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = Raw(port)
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.02)
        got = pairs(c.cmd("CONFIG", "GET", "maxmemory", "slowlog-max-len", "latency-tracking-info-percentiles"))
        assert got == {b"maxmemory": b"2097152", b"slowlog-max-len": b"77",
                       b"latency-tracking-info-percentiles": b"10 90"}
        assert ("config_file:%s\r\n" % os.path.realpath(path)) in c.cmd("INFO", "server").decode()
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.unlink(path)


def test_negative_memory_value_is_not_a_memory_value(raw):
    assert str(raw.cmd("CONFIG", "SET", "maxmemory", "-1")) == (
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")


def test_config_rewrite_keeps_comments_and_persists_changes(tmp_path):
    import subprocess
    from conftest import BINARY, free_port
    port = free_port()
    conf = tmp_path / "stash.conf"
    conf.write_text("# keep me\nport %d\nmaxmemory 100mb\nmaxmemory 200mb\nsave \"\"\nbind 127.0.0.1\n" % port)
    log = open(tmp_path / "log", "w")
    proc = subprocess.Popen([BINARY, str(conf), "--dir", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        import redis
        import time
        c = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                c.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        c.config_set("maxmemory-policy", "allkeys-lru")
        c.config_set("hz", 20)
        c.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "+get", "~b*")
        assert c.execute_command("CONFIG", "REWRITE") == b"OK"
        text = conf.read_text()
        lines = text.splitlines()
        assert lines[0] == "# keep me"
        assert lines.count("maxmemory 209715200") == 1  # the duplicate is gone, in place
        assert lines.index("maxmemory 209715200") == 2
        assert "# Generated by CONFIG REWRITE" in lines
        assert "maxmemory-policy allkeys-lru" in lines and "hz 20" in lines
        assert any(l.startswith("user bob on #") for l in lines)
        assert not any(l.startswith("notify-keyspace-events") for l in lines)
        c.shutdown(nosave=True)
        proc.wait(10)
        proc = subprocess.Popen([BINARY, str(conf), "--dir", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                c.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert b"bob" in c.execute_command("ACL", "USERS")
        c.shutdown(nosave=True)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_config_rewrite_without_a_file(r):
    import redis
    try:
        r.execute_command("CONFIG", "REWRITE")
        raise AssertionError("no error")
    except redis.ResponseError as e:
        assert str(e) == "The server is running without a config file"
