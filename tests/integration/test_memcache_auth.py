"""memcached authentication on the engine: the text protocol's authfile
login (-Y, memcached 1.6.18's replies; MC_REFERENCE=1 runs these against the
real memcached) and SASL PLAIN over the binary protocol (-S with a
MEMCACHED_SASL_PWDB user:password file; checked byte for byte by hand
against memcached -S with a Cyrus sasldb, which these tests cannot set up),
plus the command-line checks and the stats."""
import os
import subprocess
import tempfile

import pytest

from memcache_support import (BINARY, REFERENCE, McServer, bin_read, bin_req, engine_cmd, free_ports, run_cli,
                              stash_only, stats)

SASL_LIST, SASL_AUTH, SASL_STEP = 0x20, 0x21, 0x22
GET, SET, VERSION, NOOP = 0x00, 0x01, 0x0B, 0x0A
OK, ENOENT, EINVAL, AUTH_ERROR, AUTH_CONTINUE = 0x00, 0x01, 0x04, 0x20, 0x21


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture(scope="module")
def authfile():
    d = tempfile.mkdtemp(prefix="stash-mcauth-")
    path = os.path.join(d, "authfile")
    write(path, "alice:secret\nbob:pw:with:colons\n")
    return path


@pytest.fixture(scope="module")
def yserver(authfile):
    s = McServer("-Y", authfile)
    yield s
    s.stop()


def login(raw, user=b"alice", pw=b"secret"):
    data = user + b" " + pw
    return raw.cmd(b"set anykey 0 0 %d\r\n%s\r\n" % (len(data), data))


# ---- -Y: the text login ---------------------------------------------------------------------------------------

def test_unauthenticated_commands_refused(yserver):
    r = yserver.raw()
    for line in (b"get foo\r\n", b"version\r\n", b"mg foo v\r\n", b"\r\n", b"SET a 0 0 12\r\n", b"set a 0 0\r\n",
                 b"set a 0 0 x\r\n", b"set a 0 0 -1\r\n"):
        assert r.cmd(line) == b"CLIENT_ERROR unauthenticated\r\n", line
    r.close()


def test_login_errors_then_success(yserver):
    r = yserver.raw()
    assert login(r, pw=b"wrong") == b"CLIENT_ERROR authentication failure\r\n"
    assert r.cmd(b"set a 0 0 5\r\nalice\r\n") == b"CLIENT_ERROR bad authentication token format\r\n"
    assert r.cmd(b"set a 0 0 0\r\n\r\n") == b"CLIENT_ERROR bad authentication token format\r\n"
    assert r.cmd(b"set a 0 0 3\r\nabcXY") == b"CLIENT_ERROR bad command line termination\r\n"
    assert r.cmd(b"get foo\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
    assert login(r) == b"STORED\r\n"
    # The login stored nothing; the connection now works normally.
    assert r.cmd(b"get anykey\r\n") == b"END\r\n"
    assert r.cmd(b"set k 5 0 1\r\nx\r\n") == b"STORED\r\n"
    assert r.cmd(b"get k\r\n", 3) == b"VALUE k 5 1\r\nx\r\nEND\r\n"
    r.close()


def test_login_forms(yserver):
    for req in (b"set x y z 18\r\nbob pw:with:colons\r\n",        # ':' in a password
                b"set a 0 0 12 noreply\r\nalice secret\r\n",       # noreply is ignored
                b"set a 0 0 13\r\nalice  secret\r\n",              # fields split on spaces
                b"set a 0 0 14\r\nalice secret x\r\n",             # extra fields ignored
                b"  set a 0 0 12\r\nalice secret\r\n",
                b"set a 0 0 12\nalice secret\r\n"):                # a bare LF ends the line
        r = yserver.raw()
        assert r.cmd(req) == b"STORED\r\n", req
        assert r.cmd(b"version\r\n").startswith(b"VERSION ")
        r.close()
    r = yserver.raw()
    r.send(b"set a 0 0 12\r\nalice ")  # the value arrives in parts
    r.send(b"secret\r\n")
    assert r.readline() == b"STORED\r\n"
    r.close()


def test_junk_and_oversized_requests_close(yserver):
    r = yserver.raw()
    r.send(b"x" * 3000)
    assert r.closed()
    r = yserver.raw()
    r.send(b"set a 0 0 17000\r\n" + b"x" * 17002)
    assert r.closed()


def test_pymemcache_login(yserver):
    c = yserver.client(default_noreply=False)
    # A client logs in with a set whose value is "user password".
    assert c.set("auth", b"alice secret") is True
    assert c.set("k", b"v") is True
    assert c.get("k") == b"v"
    c.close()


def test_stats_count_logins(yserver, authfile):
    r = yserver.raw()
    before = stats_after_login(yserver)
    login(r, pw=b"bad")
    login(r)
    st = stats(r)
    assert int(st[b"auth_cmds"]) == int(before[b"auth_cmds"]) + 2
    assert int(st[b"auth_errors"]) == int(before[b"auth_errors"]) + 1
    assert stats(r, b"settings")[b"auth_enabled_ascii"] == authfile.encode()
    assert stats(r, b"settings")[b"auth_enabled_sasl"] == b"no"
    r.close()


def stats_after_login(server):
    r = server.raw()
    login(r)
    st = stats(r)
    r.close()
    return st


@stash_only
def test_authfile_edits_apply_without_restart(tmp_path):
    path = tmp_path / "auth"
    write(path, "alice:one\n")
    s = McServer("-Y", str(path))
    try:
        r = s.raw()
        assert login(r, pw=b"one") == b"STORED\r\n"
        write(path, "alice:two\nnew:pw\n")
        os.utime(path, (1, 1))  # a different mtime even within one clock tick
        r2 = s.raw()
        assert login(r2, pw=b"one") == b"CLIENT_ERROR authentication failure\r\n"
        assert login(r2, b"new", b"pw") == b"STORED\r\n"
        write(path, "malformed\n")  # a broken file keeps the previous entries
        os.utime(path, (2, 2))
        r3 = s.raw()
        assert login(r3, b"new", b"pw") == b"STORED\r\n"
    finally:
        s.stop()


def test_authfile_command_line_errors(tmp_path):
    bad = tmp_path / "bad"
    write(bad, "alice:secret\n\n")
    rc, out, err = run_cli(["-u", "root", "-p", str(free_ports()), "-U", "0", "-Y", str(bad)])
    assert rc == 1 and "Authfile [%s] has a malformed entry. Should be 'user:password'" % bad in err
    rc, out, err = run_cli(["-u", "root", "-p", str(free_ports()), "-U", "0", "-Y", str(tmp_path / "missing")])
    assert rc == 1 and "Could not open authfile [%s] for reading" % (tmp_path / "missing") in err
    rc, out, err = run_cli(["-u", "root", "-p", "0", "-U", "0", "-Y", str(bad), "-B", "binary"])
    assert (rc, err.strip()) == (64, "ERROR: You cannot allow the BINARY protocol while using ascii authentication "
                                     "tokens.")
    rc, out, err = run_cli(["-u", "root", "-p", "0", "-U", "11999", "-Y", str(bad)])
    assert (rc, err.strip()) == (64, "Cannot use UDP with ascii authentication enabled (-U 0 to disable)")


# ---- -S: SASL PLAIN on the binary protocol ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sserver():
    if REFERENCE:
        pytest.skip("memcached reads a Cyrus sasldb, not MEMCACHED_SASL_PWDB (Debian's build)")
    d = tempfile.mkdtemp(prefix="stash-mcsasl-")
    pwdb = os.path.join(d, "pwdb")
    write(pwdb, "alice:secret\n# comment lines are ignored\nbob:pw:extra fields\n")
    os.environ["MEMCACHED_SASL_PWDB"] = pwdb
    try:
        s = McServer("-S")
    finally:
        del os.environ["MEMCACHED_SASL_PWDB"]
    yield s
    s.stop()


def brt(raw, *reqs):
    raw.send(b"".join(reqs))
    return [bin_read(raw) for _ in reqs]


def test_sasl_unauthenticated_closes(sserver):
    r = sserver.raw()
    v, g = brt(r, bin_req(VERSION), bin_req(GET, b"k"))
    assert (v["status"], v["value"]) == (OK, b"1.6.18")
    assert (g["status"], g["value"]) == (AUTH_ERROR, b"Auth failure.")
    assert r.closed()


def test_sasl_plain(sserver):
    r = sserver.raw()
    (m,) = brt(r, bin_req(SASL_LIST))
    assert (m["status"], m["value"]) == (OK, b"PLAIN")
    for data in (b"\0alice\0wrong", b"alicesecret", b"bob\0alice\0secret", b"\0alice\0secret\0more"):
        (a,) = brt(r, bin_req(SASL_AUTH, b"PLAIN", data))
        assert (a["op"], a["status"], a["value"]) == (SASL_AUTH, AUTH_ERROR, b"Auth failure."), data
    (a,) = brt(r, bin_req(SASL_AUTH, b"FOO", b"\0alice\0secret"))
    assert a["status"] == AUTH_ERROR
    (a,) = brt(r, bin_req(SASL_STEP, b"PLAIN", b"\0alice\0secret"))  # no SASL_AUTH before
    assert a["status"] == AUTH_ERROR
    (a,) = brt(r, bin_req(SASL_AUTH, b"P" * 40, b"x"))
    assert (a["status"], a["value"]) == (EINVAL, b"Invalid arguments")
    a, s, g = brt(r, bin_req(SASL_AUTH, b"plain", b"alice\0alice\0secret"),
                  bin_req(SET, b"k", b"v", ext=b"\0" * 8), bin_req(GET, b"k"))
    assert (a["status"], a["value"]) == (OK, b"Authenticated")
    assert s["status"] == OK and (g["status"], g["value"]) == (OK, b"v")
    # Listing the mechanisms starts over: the connection is logged out.
    m, g = brt(r, bin_req(SASL_LIST), bin_req(GET, b"k"))
    assert g["status"] == AUTH_ERROR and r.closed()


def test_sasl_two_steps_and_stats(sserver):
    r = sserver.raw()
    a, s = brt(r, bin_req(SASL_AUTH, b"PLAIN", b""), bin_req(SASL_STEP, b"PLAIN", b"\0bob\0pw"))
    assert (a["status"], a["value"]) == (AUTH_CONTINUE, b"")
    assert (s["op"], s["status"], s["value"]) == (SASL_STEP, OK, b"Authenticated")
    st = {}
    r.send(bin_req(0x10))
    while True:
        p = bin_read(r)
        if not p["key"]:
            break
        st[p["key"]] = p["value"]
    assert int(st[b"auth_cmds"]) >= 1 and int(st[b"auth_errors"]) >= 0
    r.send(bin_req(0x10, b"settings"))
    settings = {}
    while True:
        p = bin_read(r)
        if not p["key"]:
            break
        settings[p["key"]] = p["value"]
    assert settings[b"auth_enabled_sasl"] == b"yes" and settings[b"binding_protocol"] == b"binary"


def test_sasl_with_libmemcached_tools(sserver):
    """memcp/memcat (libmemcached) log in with SASL over the binary protocol."""
    if not os.path.exists("/usr/bin/memccat"):
        pytest.skip("libmemcached-tools not installed")
    server = "--servers=127.0.0.1:%d" % sserver.port
    src = tempfile.NamedTemporaryFile(prefix="saslkey", delete=False)
    src.write(b"hello")
    src.close()
    p = subprocess.run(["memccp", server, "--binary", "--username=alice", "--password=secret", src.name],
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["memccat", server, "--binary", "--username=alice", "--password=secret",
                        os.path.basename(src.name)], capture_output=True, timeout=10)
    assert p.returncode == 0 and p.stdout.rstrip(b"\n") == b"hello", p
    p = subprocess.run(["memccat", server, "--binary", "--username=alice", "--password=wrong",
                        os.path.basename(src.name)], capture_output=True, timeout=10)
    assert p.returncode != 0 and p.stdout == b""
    os.unlink(src.name)


@stash_only
def test_sasl_command_line_errors(tmp_path):
    env = dict(os.environ)
    env.pop("MEMCACHED_SASL_PWDB", None)
    p = subprocess.run(engine_cmd(["-u", "root", "-p", str(free_ports()), "-U", "0", "-S"]), capture_output=True,
                       timeout=10, env=env)
    assert p.returncode == 1 and b"set MEMCACHED_SASL_PWDB to a file of user:password lines" in p.stderr
    rc, out, err = run_cli(["-u", "root", "-p", "0", "-U", "0", "-S", "-B", "ascii"])
    assert (rc, err.strip()) == (64, "ERROR: You cannot allow the ASCII protocol while using SASL.")
    rc, out, err = run_cli(["-u", "root", "-p", "0", "-U", "11999", "-S"])
    assert (rc, err.strip()) == (64, "ERROR: Cannot enable UDP while using binary SASL authentication.")


@stash_only
def test_redis_node_directives(tmp_path, authfile):
    """A Redis node's memcached listener takes the same logins
    (memcached-auth-file, memcached-sasl + memcached-sasl-pwdb)."""
    from conftest import Raw, Server
    from memcache_support import McRaw
    import socket

    mport = free_ports()
    s = Server("--memcached-port", str(mport), "--memcached-auth-file", authfile)
    try:
        r = McRaw(socket.create_connection(("127.0.0.1", mport), timeout=10))
        assert r.cmd(b"get k\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
        assert login(r) == b"STORED\r\n"
        assert r.cmd(b"set k 0 0 1\r\nv\r\n") == b"STORED\r\n"
        assert Raw(s.port).cmd("GET", "k") == b"v"
    finally:
        s.stop()
    pwdb = tmp_path / "pwdb"
    write(pwdb, "carol:pw\n")
    s = Server("--memcached-port", str(mport), "--memcached-sasl", "yes", "--memcached-sasl-pwdb", str(pwdb))
    try:
        r = McRaw(socket.create_connection(("127.0.0.1", mport), timeout=10))
        (a,) = brt(r, bin_req(SASL_AUTH, b"PLAIN", b"\0carol\0pw"))
        assert a["status"] == OK
    finally:
        s.stop()
