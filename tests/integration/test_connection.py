"""Connection commands against Redis 7.0's replies: PING ECHO SELECT QUIT
HELLO RESET AUTH."""
import pytest

from conftest import RespError

ARITY = "ERR wrong number of arguments for '%s' command"


def test_ping(raw):
    assert raw.cmd("PING") == b"PONG"
    assert raw.cmd("ping", "hi there") == b"hi there"
    assert raw.cmd("PING", "") == b""
    assert raw.cmd("PING", "a", "b") == RespError(ARITY % "ping")


def test_echo(raw):
    assert raw.cmd("ECHO", "x\r\ny\x00z") == b"x\r\ny\x00z"
    assert raw.cmd("ECHO") == RespError(ARITY % "echo")
    assert raw.cmd("ECHO", "a", "b") == RespError(ARITY % "echo")


def test_select(raw):
    assert raw.cmd("SELECT", "15") == b"OK"
    assert raw.cmd("SET", "in15", "v") == b"OK"
    assert raw.cmd("SELECT", "0") == b"OK"
    assert raw.cmd("GET", "in15") is None
    assert raw.cmd("SELECT", "15") == b"OK"
    assert raw.cmd("GET", "in15") == b"v"
    assert raw.cmd("DEL", "in15") == 1
    assert raw.cmd("SELECT", "16") == RespError("ERR DB index is out of range")
    assert raw.cmd("SELECT", "-1") == RespError("ERR DB index is out of range")
    assert raw.cmd("SELECT", "2147483648") == RespError("ERR value is not an integer or out of range")
    assert raw.cmd("SELECT", "x") == RespError("ERR value is not an integer or out of range")
    assert raw.cmd("SELECT", "1.0") == RespError("ERR value is not an integer or out of range")
    assert raw.cmd("SELECT", " 1") == RespError("ERR value is not an integer or out of range")
    assert raw.cmd("SELECT") == RespError(ARITY % "select")


def test_quit(raw):
    assert raw.cmd("QUIT") == b"OK"
    assert raw.closed()


def test_quit_with_arguments_is_accepted(raw):
    # QUIT's arity is -1 in Redis 7.0
    assert raw.cmd("QUIT", "now") == b"OK"
    assert raw.closed()


def hello_map(reply):
    return {k.decode(): v for k, v in reply.items()} if isinstance(reply, dict) else \
        {reply[i].decode(): reply[i + 1] for i in range(0, len(reply), 2)}


def test_hello_default_is_resp2(raw):
    reply = raw.cmd("HELLO")
    assert isinstance(reply, list) and len(reply) == 14
    m = hello_map(reply)
    assert list(m) == ["server", "version", "proto", "id", "mode", "role", "modules"]
    assert m["server"] == b"redis"
    assert m["version"].startswith(b"7.")
    assert m["proto"] == 2
    assert isinstance(m["id"], int)
    assert m["mode"] == b"standalone"
    assert m["role"] == b"master"
    assert m["modules"] == []


def test_hello_3_switches_to_resp3_and_back(raw):
    raw.send(b"HELLO 3\r\n")
    assert raw.read_line() == b"%7"
    rest = {}
    for _ in range(7):
        k = raw.read_reply()
        rest[k] = raw.read_reply()
    assert rest[b"proto"] == 3
    raw.send(b"GET missing\r\n")
    assert raw.read_line() == b"_"
    m = hello_map(raw.cmd("HELLO", "2"))
    assert m["proto"] == 2
    raw.send(b"GET missing\r\n")
    assert raw.read_line() == b"$-1"


def test_hello_errors(raw):
    assert raw.cmd("HELLO", "1") == RespError("NOPROTO unsupported protocol version")
    assert raw.cmd("HELLO", "4") == RespError("NOPROTO unsupported protocol version")
    assert raw.cmd("HELLO", "three") == RespError("ERR Protocol version is not an integer or out of range")
    assert raw.cmd("HELLO", "3", "FOO") == RespError("ERR Syntax error in HELLO option 'FOO'")
    assert raw.cmd("HELLO", "3", "AUTH", "default") == RespError("ERR Syntax error in HELLO option 'AUTH'")
    assert raw.cmd("HELLO", "3", "SETNAME") == RespError("ERR Syntax error in HELLO option 'SETNAME'")
    assert raw.cmd("HELLO", "3", "SETNAME", "a b") == RespError(
        "ERR Client names cannot contain spaces, newlines or special characters.")
    assert raw.cmd("HELLO", "3", "AUTH", "nobody", "pw") == RespError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert raw.cmd("HELLO", "3", "AUTH", "DEFAULT", "pw") == RespError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    # nothing changed: still RESP2
    assert hello_map(raw.cmd("HELLO"))["proto"] == 2


def test_hello_auth_and_setname(raw):
    m = hello_map(raw.cmd("HELLO", "2", "AUTH", "default", "anything", "SETNAME", "myname"))
    assert m["proto"] == 2
    assert raw.cmd("HELLO", "2", "setname", "") is not None


def test_auth(raw):
    assert raw.cmd("AUTH", "pw") == RespError(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert raw.cmd("AUTH", "default", "pw") == b"OK"
    assert raw.cmd("AUTH", "nobody", "pw") == RespError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert raw.cmd("AUTH", "a", "b", "c") == RespError("ERR syntax error")
    assert raw.cmd("AUTH") == RespError(ARITY % "auth")


def test_reset_clears_connection_state(r, raw, make_raw):
    assert raw.cmd("SELECT", "3") == b"OK"
    raw.cmd("HELLO", "3")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("SET", "k", "v") == b"QUEUED"
    assert raw.cmd("RESET") == b"RESET"
    # the transaction is gone, RESP2, db 0
    assert raw.cmd("EXEC") == RespError("ERR EXEC without MULTI")
    raw.send(b"GET k\r\n")
    assert raw.read_line() == b"$-1"
    assert raw.cmd("SET", "indb0", "1") == b"OK"
    assert r.get("indb0") == b"1"
    assert r.get("k") is None


def test_reset_unsubscribes_and_unwatches(r, raw):
    raw.send(b"SUBSCRIBE ch\r\n")
    assert raw.read_reply() == [b"subscribe", b"ch", 1]
    raw.send(b"PSUBSCRIBE p*\r\n")
    assert raw.read_reply() == [b"psubscribe", b"p*", 2]
    assert raw.cmd("RESET") == b"RESET"
    assert r.publish("ch", "x") == 0
    assert r.publish("px", "x") == 0
    assert raw.cmd("GET", "anything") is None  # out of the subscriber context
    assert raw.cmd("WATCH", "w") == b"OK"
    assert raw.cmd("RESET") == b"RESET"
    r.set("w", "changed")
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("GET", "w") == b"QUEUED"
    assert raw.cmd("EXEC") == [b"changed"]


def test_reset_arity(raw):
    assert raw.cmd("RESET", "x") == RespError(ARITY % "reset")
