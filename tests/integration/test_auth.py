"""Authentication (Redis 7.0): requirepass, AUTH and HELLO AUTH errors, NOAUTH,
the limits on unauthenticated clients, binary passwords, redaction in SLOWLOG
and MONITOR, protected mode, `user` directives and the aclfile (load, save,
errors, start-up)."""
import os
import socket
import subprocess
import tempfile

import pytest

from conftest import BINARY, Raw, RespError, Server, free_port

WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")
NOAUTH = RespError("NOAUTH Authentication required.")


@pytest.fixture(scope="module")
def server():
    s = Server("--requirepass", "foobar")
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def conn(server):
    c = Raw(server.port)
    yield c
    c.close()


def test_noauth_and_auth(conn):
    assert conn.cmd("GET", "x") == NOAUTH
    assert conn.cmd("AUTH", "wrong!") == WRONGPASS
    assert conn.cmd("AUTH", "a", "b", "c") == RespError("ERR syntax error")
    # NO_AUTH commands work before AUTH.
    assert conn.cmd("HELLO", "3") == RespError(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> "
        "option can be used to authenticate the client and select the RESP protocol version at the same time")
    assert conn.cmd("HELLO", "2", "AUTH", "default", "wrong") == WRONGPASS
    assert conn.cmd("AUTH", "foobar") == b"OK"
    assert conn.cmd("SET", "foo", "100") == b"OK"
    assert conn.cmd("INCR", "foo") == 101
    assert conn.cmd("RESET") == b"RESET"
    assert conn.cmd("GET", "x") == NOAUTH


def test_noauth_for_transactions(conn):
    assert conn.cmd("MULTI") == NOAUTH
    assert conn.cmd("EXEC") == RespError("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")
    assert conn.cmd("QUIT") == b"OK"


def test_hello_auth_switches_protocol(conn):
    m = conn.cmd("HELLO", "3", "AUTH", "default", "foobar", "SETNAME", "n1")
    assert isinstance(m, dict) and m[b"proto"] == 3
    assert conn.cmd("CLIENT", "GETNAME") == b"n1"


def test_unauthenticated_limits(server):
    c = Raw(server.port)
    c.send(b"*100\r\n")
    assert c.read_reply() == RespError("ERR Protocol error: unauthenticated multibulk length")
    assert c.closed()
    c = Raw(server.port)
    c.send(b"*1\r\n$100000000\r\n")
    assert c.read_reply() == RespError("ERR Protocol error: unauthenticated bulk length")
    assert c.closed()
    # Authenticated in the same packet: the limits no longer apply.
    c = Raw(server.port)
    big = b"x" * 20000
    c.send(b"*2\r\n$4\r\nAUTH\r\n$6\r\nfoobar\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n" + big + b"\r\n")
    assert c.read_reply() == b"OK" and c.read_reply() == b"OK"
    c.close()


def test_binary_password_and_requirepass_changes(server):
    c = Raw(server.port)
    assert c.cmd("AUTH", "foobar") == b"OK"
    assert c.cmd("CONFIG", "SET", "requirepass", "abc\x00def") == b"OK"
    assert c.cmd("CONFIG", "GET", "requirepass") == [b"requirepass", b"abc\x00def"]
    d = Raw(server.port)
    assert d.cmd("AUTH", "abc") == WRONGPASS
    assert d.cmd("AUTH", "abc\x00def") == b"OK"
    # An empty requirepass: new connections need no password.
    assert c.cmd("CONFIG", "SET", "requirepass", "") == b"OK"
    e = Raw(server.port)
    assert e.cmd("PING") == b"PONG"
    assert e.cmd("AUTH", "x") == RespError(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your "
        "configuration is correct?")
    assert c.cmd("CONFIG", "SET", "requirepass", "foobar") == b"OK"
    assert Raw(server.port).cmd("PING") == NOAUTH
    for x in (c, d, e):
        x.close()


def test_passwords_redacted_from_slowlog_and_monitor(server):
    admin = Raw(server.port)
    admin.cmd("AUTH", "foobar")
    mon = Raw(server.port)
    mon.cmd("AUTH", "foobar")
    assert mon.cmd("MONITOR") == b"OK"
    admin.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    admin.cmd("SLOWLOG", "RESET")
    admin.cmd("AUTH", "not-real")
    admin.cmd("AUTH", "not-real", "not-a-password")
    admin.cmd("HELLO", "2", "AUTH", "not-real", "not-a-password")
    admin.cmd("ACL", "SETUSER", "slowlog-test-user", "+get", "+set")
    admin.cmd("AUTH", "foobar")
    admin.cmd("CONFIG", "SET", "requirepass", "foobar")
    log = admin.cmd("SLOWLOG", "GET")
    args = [e[3] for e in log]
    assert [b"ACL", b"SETUSER", b"(redacted)", b"(redacted)", b"(redacted)"] in args
    assert [b"AUTH", b"(redacted)", b"(redacted)"] in args
    assert [b"HELLO", b"2", b"AUTH", b"(redacted)", b"(redacted)"] in args
    assert [b"CONFIG", b"SET", b"requirepass", b"(redacted)"] in args
    assert b"not-a-password" not in repr(log).encode()
    lines = [mon.read_reply() for _ in range(3)]
    assert b'"AUTH" "(redacted)"' in lines[1] and b"not-real" not in lines[0] + lines[1]
    assert b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"' in lines[2]
    admin.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    admin.cmd("ACL", "DELUSER", "slowlog-test-user")
    mon.close()
    admin.close()


# ---- protected mode ---------------------------------------------------------------------------------------------------

DENIED_START = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set"


def connect_from(port, src):
    """A raw connection from another loopback address: 127.0.0.2 is not
    "local" for Redis (only 127.0.0.1 and ::1 are); no traffic leaves the
    host."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s):
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_protected_mode():
    s = Server()
    try:
        c = connect_from(s.port, "127.0.0.2")
        reply = read_all(c)
        assert reply.startswith(DENIED_START) and reply.endswith(
            b"NOTE: You only need to do one of the above things in order for the server to start accepting "
            b"connections from the outside.\r\n")
        c.close()
        admin = Raw(s.port)
        assert admin.cmd("CONFIG", "GET", "protected-mode") == [b"protected-mode", b"yes"]
        assert b"rejected_connections:1\r\n" in admin.cmd("INFO", "stats")
        # With a password the non-loopback client may connect (and AUTH).
        admin.cmd("CONFIG", "SET", "requirepass", "pw")
        c = connect_from(s.port, "127.0.0.2")
        c.sendall(b"PING\r\n")
        assert c.recv(100) == b"-NOAUTH Authentication required.\r\n"
        c.close()
        admin.cmd("AUTH", "pw")
        admin.cmd("CONFIG", "SET", "requirepass", "")
        admin.cmd("CONFIG", "SET", "protected-mode", "no")
        c = connect_from(s.port, "127.0.0.2")
        c.sendall(b"PING\r\n")
        assert c.recv(100) == b"+PONG\r\n"
        c.close()
        admin.close()
    finally:
        s.stop()


# ---- users from the configuration and the aclfile -----------------------------------------------------------------

def start_fails(args, cwd=None):
    p = subprocess.run([BINARY, "--port", str(free_port()), "--bind", "127.0.0.1"] + args, capture_output=True,
                       timeout=20, cwd=cwd)
    return p.returncode, (p.stdout + p.stderr).decode()


def test_user_directives():
    s = Server("--user", "default on nopass ~* +@all -flushdb", "--user", "alice on >apw ~a* +get")
    try:
        c = Raw(s.port)
        assert c.cmd("FLUSHDB") == RespError("NOPERM this user has no permissions to run the 'flushdb' command")
        assert c.cmd("SUBSCRIBE", "x") == RespError(
            "NOPERM this user has no permissions to access one of the channels used as arguments")
        assert c.cmd("ACL", "LIST") == [b"user alice on #%s ~a* resetchannels -@all +get" % sha(b"apw"),
                                        b"user default on nopass sanitize-payload ~* resetchannels +@all -flushdb"]
        assert c.cmd("AUTH", "alice", "apw") == b"OK"
        c.close()
    finally:
        s.stop()
    rc, out = start_fails(["--user", "foo", "--user", "foo"])
    assert rc == 1 and "Error in user declaration 'foo': Duplicate user found. A user can only be defined once " \
                       "in config files" in out
    rc, out = start_fails(["--user", "foo", "on", "+nosuch"])
    assert rc == 1 and "Error in user declaration '+nosuch': Unknown command or category name in ACL" in out


def sha(b):
    import hashlib
    return hashlib.sha256(b).hexdigest().encode()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_aclfile_load_save_and_errors(tmp_path):
    acl = tmp_path / "users.acl"
    write(acl, "user alice on allcommands allkeys &* >alice\nuser bob on -@all +@set +acl ~set* &* >bob\n"
               "user default on nopass ~* &* +@all\n")
    s = Server("--aclfile", str(acl))
    try:
        c = Raw(s.port)
        assert c.cmd("AUTH", "bob", "bob") == b"OK"
        assert c.cmd("SADD", "set", "1") == 1
        assert c.cmd("SET", "k", "v") == RespError("NOPERM this user has no permissions to run the 'set' command")
        a = Raw(s.port)
        assert a.cmd("AUTH", "alice", "alice") == b"OK"
        assert a.cmd("ACL", "SETUSER", "eve", "+get", "allkeys", ">eve", "on") == b"OK"
        assert a.cmd("ACL", "SAVE") == b"OK"
        saved = acl.read_text().splitlines()
        assert saved[0].startswith("user alice on #") and saved[2].startswith("user default on nopass")
        assert saved[3] == "user eve on #%s ~* resetchannels -@all +get" % sha(b"eve").decode()
        assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
        # LOAD replaces every user: their clients (alice, bob) are closed,
        # after the reply for the one asking.
        assert a.cmd("ACL", "LOAD") == b"OK"
        assert a.closed() and c.closed()
        d = Raw(s.port)
        assert d.cmd("AUTH", "eve", "eve") == b"OK"
        assert d.cmd("SET", "k", "v") == RespError("NOPERM this user has no permissions to run the 'set' command")
        d.cmd("AUTH", "default", "x")
        # Errors: nothing changes, every problem is reported.
        write(acl, acl.read_text() + "user alice on nopass ~* -@all\nfoo bar\nuser x on +nosuch +nosuch2 %X~y "
                                     "~a b\nuser y (~a\n")
        p = str(acl)
        assert d.cmd("ACL", "LOAD") == RespError(
            "ERR WARNING: Duplicate user 'alice' found on line 5. "
            "%s:6 should start with user keyword followed by the username. "
            "%s:7: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
            "%s:7: Error in applying operation '+nosuch2': Unknown command or category name in ACL. "
            "%s:7: Syntax error. "
            "%s:8: Unmatched parenthesis in selector definition."
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed" % (
                p, p, p, p, p))
        assert d.cmd("ACL", "USERS") == [b"alice", b"bob", b"default", b"eve"]
        os.unlink(acl)
        assert d.cmd("ACL", "LOAD") == RespError(
            "ERR Error loading ACLs, opening file '%s': No such file or directory" % p)
        d.close()
    finally:
        s.stop()


def test_aclfile_without_default_user_and_start_errors(tmp_path):
    acl = tmp_path / "nodefault.acl"
    write(acl, "user alice on nopass ~* +@all\n\n")
    s = Server("--aclfile", str(acl), "--acl-pubsub-default", "allchannels", "--requirepass", "ignored")
    try:
        c = Raw(s.port)
        # No default user in the file: the default one (no password, every
        # channel) -- requirepass is overridden, as in Redis.
        assert c.cmd("ACL", "LIST") == [b"user alice on nopass ~* &* +@all", b"user default on nopass ~* &* +@all"]
        c.close()
    finally:
        s.stop()
    rc, out = start_fails(["--aclfile", str(acl), "--user", "bob"])
    assert rc == 1 and "users defined in redis.conf and at the same setting an ACL file path is invalid" in out
    write(acl, "user alice on +nosuch\n")
    rc, out = start_fails(["--aclfile", str(acl)])
    assert rc == 1 and "Aborting Redis startup because of ACL errors: %s:1: Error in applying operation " \
                       "'+nosuch'" % acl in out
    c = Server()
    try:
        r = Raw(c.port)
        assert r.cmd("ACL", "LOAD") == RespError(
            "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
            "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in "
            "order to store users in the Redis configuration.")
        assert r.cmd("CONFIG", "SET", "aclfile", "x") == RespError(
            "ERR CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config")
        assert r.cmd("CONFIG", "GET", "user") == []
        r.close()
    finally:
        c.stop()
