"""Smoke tests of the foundation: the server answers, the protocol works."""
import redis

from conftest import RespError


def test_ping(r, raw):
    assert r.ping() is True
    assert raw.cmd("PING") == b"PONG"
    assert raw.cmd("PING", "hello") == b"hello"


def test_wrong_arity_error(raw):
    assert raw.cmd("PING", "a", "b") == RespError("ERR wrong number of arguments for 'ping' command")
    assert raw.cmd("GET") == RespError("ERR wrong number of arguments for 'get' command")


def test_unknown_command(raw):
    assert raw.cmd("NOSUCH", "a", "b") == RespError(
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ")


def test_set_get_del(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.delete("k", "missing") == 1
    assert r.get("k") is None


def test_pipelining_many_commands(raw):
    n = 1000
    raw.send(b"".join(b"*3\r\n$3\r\nSET\r\n$5\r\nkey%02d\r\n$1\r\nv\r\n" % (i % 100) for i in range(n)))
    for _ in range(n):
        assert raw.read_reply() == b"OK"


def test_inline_commands(raw):
    raw.send(b"SET inl \"a b\"\r\nGET inl\r\n")
    assert raw.read_reply() == b"OK"
    assert raw.read_reply() == b"a b"
