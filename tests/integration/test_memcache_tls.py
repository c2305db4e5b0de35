"""TLS on the memcached listeners: memcached's -Z and -o ssl_* options
(checked against Debian's memcached 1.6.18, which has TLS, with
MC_REFERENCE=1), refresh_certs, pymemcache over TLS, and memcached-tls on
a Redis node (the tls-* certificates)."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest
from pymemcache.client.base import Client

from conftest import BINARY, Server, free_port
from memcache_support import REFERENCE, McServer, run_cli, stash_only
from tls_support import Certs, make_certs, peer_fingerprint, tls_connect, tls_request


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="stash-mctls-")
    try:
        yield Certs(make_certs(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def ssl_opts(certs, cert="server", **extra):
    opts = ["ssl_chain_cert=" + certs.crt(cert), "ssl_key=" + certs.key(cert), "ssl_ca_cert=" + certs.crt("ca")]
    opts += ["%s=%s" % kv if kv[1] is not None else kv[0] for kv in extra.items()]
    return ["-Z", "-o", ",".join(opts)]


def tls_client(port, certs, cert=None):
    return Client(("127.0.0.1", port), tls_context=certs.context(cert=cert), timeout=10)


def stats(port, certs, what=b""):
    with tls_connect(port, certs.context(cert=None)) as s:
        s.sendall(b"stats " + what + b"\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            assert chunk
            data += chunk
    out = {}
    for line in data.split(b"\r\n"):
        parts = line.split(b" ", 2)
        if len(parts) == 3 and parts[0] == b"STAT":
            out[parts[1]] = parts[2]
    return out


def test_pymemcache_over_tls(certs):
    s = McServer(*ssl_opts(certs))
    try:
        c = tls_client(s.port, certs)
        assert c.set("k", b"hello")
        assert c.get("k") == b"hello"
        big = os.urandom(900 * 1024)
        assert c.set("big", big)
        assert c.get("big") == big
        assert c.get_many(["k%d" % i for i in range(50)]) == {}
        for i in range(300):
            c.set("k%d" % i, str(i).encode())
        got = c.get_many(["k%d" % i for i in range(300)])
        assert got == {"k%d" % i: str(i).encode() for i in range(300)}
        assert c.incr("n", 1) is None
        c.close()
        st = stats(s.port, certs, b"settings")
        assert st[b"ssl_enabled"] == b"yes"
        assert st[b"ssl_chain_cert"] == certs.crt("server").encode()
        assert st[b"ssl_key"] == certs.key("server").encode()
        assert st[b"ssl_ca_cert"] == certs.crt("ca").encode()
        assert st[b"ssl_verify_mode"] == b"0"
        assert st[b"ssl_min_version"] == b"tlsv1.2"
        assert st[b"ssl_ciphers"] == b"NULL"
        st = stats(s.port, certs)
        assert b"ssl_handshake_errors" in st and b"time_since_server_cert_refresh" in st
    finally:
        s.stop()


def test_verify_mode_require_and_min_version(certs):
    s = McServer(*ssl_opts(certs, ssl_verify_mode=2, ssl_min_version=3))
    try:
        assert tls_request(s.port, certs.context(cert="client"), b"version\r\n").startswith(b"VERSION ")
        assert not isinstance(tls_request(s.port, certs.context(cert=None), b"version\r\n"), bytes)
        assert not isinstance(tls_request(s.port, certs.context(cert="other-client"), b"version\r\n"), bytes)
        old = certs.context(cert="client", maximum=ssl.TLSVersion.TLSv1_2)
        assert not isinstance(tls_request(s.port, old, b"version\r\n"), bytes)
        with tls_connect(s.port, certs.context(cert="client")) as c:
            c.sendall(b"stats settings\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                data += c.recv(65536)
        assert b"STAT ssl_verify_mode 3\r\n" in data
        assert b"STAT ssl_min_version tlsv1.3\r\n" in data
    finally:
        s.stop()


def test_refresh_certs(certs):
    d = tempfile.mkdtemp(prefix="stash-mctls-")
    try:
        crt, key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
        shutil.copy(certs.crt("server"), crt)
        shutil.copy(certs.key("server"), key)
        s = McServer("-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (crt, key))
        try:
            ctx = certs.context(cert=None)
            assert peer_fingerprint(s.port, ctx) == certs.fingerprint("server")
            shutil.copy(certs.crt("server2"), crt)
            shutil.copy(certs.key("server2"), key)
            assert tls_request(s.port, ctx, b"refresh_certs\r\n") == b"OK\r\n"
            assert peer_fingerprint(s.port, ctx) == certs.fingerprint("server2")
            assert tls_request(s.port, ctx, b"refresh_certs noreply\r\nversion\r\n").startswith(b"VERSION ")
            # A key that does not match: the error, and the old context stays.
            shutil.copy(certs.key("server"), key)
            res = tls_request(s.port, ctx, b"refresh_certs\r\n")
            assert res.startswith(b"Error loading the key: " + key.encode() + b" : "), res
            assert b"key values mismatch" in res and res.endswith(b"\r\n")
            assert peer_fingerprint(s.port, ctx) == certs.fingerprint("server2")
        finally:
            s.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_refresh_certs_without_tls():
    s = McServer()
    try:
        r = s.raw()
        assert r.cmd(b"refresh_certs\r\n") == b"Error TLS not enabled\r\n"
    finally:
        s.stop()


def test_plaintext_client_on_tls_port(certs):
    s = McServer(*ssl_opts(certs))
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as p:
            p.sendall(b"version\r\n")
            p.settimeout(5)
            try:
                data = p.recv(1024)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"VERSION")
        assert tls_request(s.port, certs.context(cert=None), b"version\r\n").startswith(b"VERSION ")
    finally:
        s.stop()


def test_notls_listener(certs):
    plain = free_port()
    s = McServer(*ssl_opts(certs), listen="127.0.0.1,notls:127.0.0.1:%d" % plain)
    try:
        assert tls_request(s.port, certs.context(cert=None), b"version\r\n").startswith(b"VERSION ")
        with socket.create_connection(("127.0.0.1", plain), timeout=5) as p:
            p.sendall(b"version\r\n")
            assert p.recv(1024).startswith(b"VERSION ")
    finally:
        s.stop()


def test_startup_errors(certs):
    base = ["-u", "root", "-p", str(free_port()), "-l", "127.0.0.1", "-Z"]
    rc, out, err = run_cli(base + ["-o", "ssl_chain_cert=/nonexistent.crt"])
    assert rc == 64
    assert ("Error loading the certificate chain: /nonexistent.crt : error:80000002:system library::"
            "No such file or directory") in err
    rc, out, err = run_cli(base + ["-o", "ssl_chain_cert=%s,ssl_key=%s" % (certs.crt("server"), certs.key("client"))])
    assert rc == 64 and "Error loading the key: %s : " % certs.key("client") in err and "key values mismatch" in err
    rc, out, err = run_cli(base + ssl_opts(certs, ssl_ciphers="BOGUS")[1:])
    assert rc == 64 and "Error setting the provided cipher(s): BOGUS" in err
    rc, out, err = run_cli(["-u", "root", "-p", "0", "-U", "0", "-Z", "-o",
                            "ssl_chain_cert=%s,ssl_key=%s" % (certs.crt("server"), certs.key("server"))])
    assert (rc, err.strip()) == (64, "ERROR: You cannot enable SSL without a TCP port.")
    rc, out, err = run_cli(base + ["-o", "ssl_verify_mode=4"])
    assert (rc, err.strip()) == (1, "Invalid ssl_verify_mode. Use help to see valid options.")
    rc, out, err = run_cli(base + ["-o", "ssl_min_version=x"])
    assert (rc, err.strip()) == (1, "could not parse argument to ssl_min_version")
    rc, out, err = run_cli(base + ["-o", "ssl_key"])
    assert (rc, err.strip()) == (1, "Missing ssl_key argument")


@stash_only
def test_memcached_listener_tls_on_a_redis_node(certs):
    mport = free_port()
    tport = free_port()
    s = Server("--memcached-port", str(mport), "--memcached-tls", "yes", "--tls-port", str(tport),
               "--tls-cert-file", certs.crt("server"), "--tls-key-file", certs.key("server"),
               "--tls-ca-cert-file", certs.crt("ca"))
    try:
        c = tls_client(mport, certs, cert="client")
        assert c.set("shared", b"v", noreply=False)
        c.close()
        assert s.client().get("shared") == b"v"
    finally:
        s.stop()
    # memcached-tls without TLS configured: refused at start.
    p = subprocess.run([BINARY, "--port", "0", "--bind", "127.0.0.1", "--memcached-port", str(free_port()),
                        "--memcached-tls", "yes"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    assert p.returncode == 1 and b"memcached-tls needs TLS configured" in p.stdout


@pytest.mark.skipif(REFERENCE, reason="session counters are Stash's")
def test_session_cache(certs):
    s = McServer(*ssl_opts(certs, ssl_session_cache=None))
    try:
        ctx = certs.context(cert=None, maximum=ssl.TLSVersion.TLSv1_2)
        with tls_connect(s.port, ctx) as c:
            c.sendall(b"version\r\n")
            assert c.recv(64).startswith(b"VERSION")
            session = c.session
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as c2:
            c2.sendall(b"version\r\n")
            assert c2.recv(64).startswith(b"VERSION")
            assert c2.session_reused
        st = stats(s.port, certs)
        assert int(st[b"ssl_new_sessions"]) >= 1
    finally:
        s.stop()
