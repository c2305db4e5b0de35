"""TLS in transit on the Redis listeners: tls-* directives (Redis 7.0
semantics), client certificates, reloads by CONFIG SET, real clients
(redis-cli --tls, redis-py with ssl=True) and bad peers."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import BINARY, Server, free_port
from tls_support import Certs, make_certs, peer_fingerprint, tls_connect, tls_request

PONG = b"+PONG\r\n"


@pytest.fixture(scope="session")
def certs():
    d = tempfile.mkdtemp(prefix="stash-tls-")
    try:
        yield Certs(make_certs(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


class TlsServer(Server):
    """A server with a plain port (for the harness) and a TLS port."""

    def __init__(self, certs, *args, threads=2):
        self.tls_port = free_port()
        super().__init__("--tls-port", str(self.tls_port), "--tls-cert-file", certs.crt("server"),
                         "--tls-key-file", certs.key("server"), "--tls-ca-cert-file", certs.crt("ca"),
                         *args, threads=threads)
        self.certs = certs

    def tls_client(self, cert="client", **kw):
        c = self.certs
        return redis.Redis(host="127.0.0.1", port=self.tls_port, ssl=True, ssl_ca_certs=c.crt("ca"),
                           ssl_certfile=c.crt(cert) if cert else None, ssl_keyfile=c.key(cert) if cert else None,
                           ssl_cert_reqs="required", socket_timeout=10, **kw)


@pytest.fixture(scope="module")
def srv(certs):
    s = TlsServer(certs)
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def admin(srv):
    """A plain connection for CONFIG SET; the TLS settings are reset after."""
    c = srv.client()
    yield c
    c.config_set("tls-auth-clients", "yes")
    c.config_set("tls-protocols", "")
    c.config_set("tls-ciphers", "")
    c.config_set("tls-ciphersuites", "")
    c.execute_command("CONFIG", "SET", "tls-cert-file", srv.certs.crt("server"), "tls-key-file",
                      srv.certs.key("server"), "tls-key-file-pass", "", "tls-dh-params-file", "")
    c.close()


def run_cli(port, *args, certs, cert="client"):
    cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--tls", "--cacert", certs.crt("ca")]
    if cert:
        cmd += ["--cert", certs.crt(cert), "--key", certs.key(cert)]
    p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.stdout.decode().strip()


# ---- real clients -----------------------------------------------------------------------------


def test_redis_cli_tls(srv, certs):
    assert run_cli(srv.tls_port, "PING", certs=certs) == "PONG"
    assert run_cli(srv.tls_port, "SET", "cli:k", "v1", certs=certs) == "OK"
    assert run_cli(srv.tls_port, "GET", "cli:k", certs=certs) == "v1"
    # The same keyspace as the plain port.
    assert srv.client().get("cli:k") == b"v1"


def test_redis_py_tls_with_verification(srv):
    c = srv.tls_client(ssl_check_hostname=True)
    assert c.ping() is True
    c.set("py:k", "hello")
    assert c.get("py:k") == b"hello"
    assert c.incr("py:n", 5) == 5
    c.close()


def test_wrong_ca_fails_verification(srv, certs):
    # The client does not trust the server's CA: its own verification fails.
    res = tls_request(srv.tls_port, certs.context(ca="other-ca"))
    assert isinstance(res, ssl.SSLCertVerificationError), res
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=srv.tls_port, ssl=True, ssl_ca_certs=certs.crt("other-ca"),
                    ssl_certfile=certs.crt("client"), ssl_keyfile=certs.key("client"),
                    socket_timeout=5).ping()


def test_auth_clients_yes_refuses_missing_expired_and_foreign(srv, certs, admin):
    assert tls_request(srv.tls_port, certs.context()) == PONG
    for cert, alert in ((None, "CERTIFICATE_REQUIRED"), ("expired", "CERTIFICATE_EXPIRED"),
                        ("other-client", "UNKNOWN_CA")):
        res = tls_request(srv.tls_port, certs.context(cert=cert))
        assert isinstance(res, ssl.SSLError) and alert in str(res), (cert, res)
    assert srv.alive()


def test_auth_clients_optional_and_no(srv, certs, admin):
    admin.config_set("tls-auth-clients", "optional")
    assert admin.config_get("tls-auth-clients") == {"tls-auth-clients": "optional"}
    assert tls_request(srv.tls_port, certs.context(cert=None)) == PONG
    assert tls_request(srv.tls_port, certs.context()) == PONG
    # A certificate that is sent is still verified.
    res = tls_request(srv.tls_port, certs.context(cert="expired"))
    assert res != PONG
    admin.config_set("tls-auth-clients", "no")
    assert tls_request(srv.tls_port, certs.context(cert=None)) == PONG
    assert tls_request(srv.tls_port, certs.context(cert="other-client")) == PONG
    admin.config_set("tls-auth-clients", "yes")
    assert tls_request(srv.tls_port, certs.context(cert=None)) != PONG
    with pytest.raises(redis.ResponseError) as e:
        admin.config_set("tls-auth-clients", "maybe")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) "
                            "must be one of the following: no, yes, optional")


def test_protocols(srv, certs, admin):
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    with tls_connect(srv.tls_port, certs.context()) as s:
        assert s.version() == "TLSv1.3"  # the default allows both; clients pick 1.3
    admin.config_set("tls-protocols", "TLSv1.2")
    with tls_connect(srv.tls_port, certs.context()) as s:
        assert s.version() == "TLSv1.2"
    assert tls_request(srv.tls_port, certs.context(minimum=v13)) != PONG
    assert tls_request(srv.tls_port, certs.context(maximum=v12)) == PONG
    admin.config_set("tls-protocols", "TLSv1.3")
    assert tls_request(srv.tls_port, certs.context(maximum=v12)) != PONG
    with tls_connect(srv.tls_port, certs.context()) as s:
        assert s.version() == "TLSv1.3"
    with pytest.raises(redis.ResponseError) as e:
        admin.config_set("tls-protocols", "TLSv1.2 SSLv3")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-protocols') - "
                            "Unable to update TLS configuration. Check server logs.")
    assert admin.config_get("tls-protocols") == {"tls-protocols": "TLSv1.3"}
    assert "Invalid tls-protocols specified" in srv.log()


def test_ciphers(srv, certs, admin):
    admin.execute_command("CONFIG", "SET", "tls-protocols", "TLSv1.2", "tls-ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384")
    ctx = certs.context(maximum=ssl.TLSVersion.TLSv1_2)
    with tls_connect(srv.tls_port, ctx) as s:
        assert s.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert tls_request(srv.tls_port, ctx) != PONG
    with pytest.raises(redis.ResponseError):
        admin.config_set("tls-ciphers", "NO-SUCH-CIPHER")
    with pytest.raises(redis.ResponseError):
        admin.config_set("tls-ciphersuites", "TLS_NO_SUCH")
    admin.execute_command("CONFIG", "SET", "tls-protocols", "", "tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    with tls_connect(srv.tls_port, certs.context()) as s:
        assert s.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"


# ---- reloads ------------------------------------------------------------------------------------


def test_config_set_reloads_certificate(srv, certs, admin):
    ctx = certs.context()
    assert peer_fingerprint(srv.tls_port, ctx) == certs.fingerprint("server")
    before = tls_connect(srv.tls_port, ctx)
    before.sendall(b"SET reload:k 1\r\n")
    assert before.recv(64) == b"+OK\r\n"
    admin.execute_command("CONFIG", "SET", "tls-cert-file", certs.crt("server2"), "tls-key-file",
                          certs.key("server2"))
    assert peer_fingerprint(srv.tls_port, ctx) == certs.fingerprint("server2")
    # A connection made before the reload keeps working on the old context.
    before.sendall(b"GET reload:k\r\n")
    assert before.recv(64) == b"$1\r\n1\r\n"
    before.close()
    assert admin.config_get("tls-cert-file") == {"tls-cert-file": certs.crt("server2")}


def test_failed_reload_keeps_old_context(srv, certs, admin):
    ctx = certs.context()
    with pytest.raises(redis.ResponseError) as e:
        admin.config_set("tls-cert-file", "/nonexistent/cert.pem")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-cert-file') - "
                            "Unable to update TLS configuration. Check server logs.")
    assert "Failed to load certificate: /nonexistent/cert.pem" in srv.log()
    assert admin.config_get("tls-cert-file") == {"tls-cert-file": certs.crt("server")}
    # A key that does not match the certificate: refused as a whole.
    with pytest.raises(redis.ResponseError):
        admin.execute_command("CONFIG", "SET", "tls-cert-file", certs.crt("server2"), "tls-key-file",
                              certs.key("server"))
    assert admin.config_get("tls-key-file") == {"tls-key-file": certs.key("server")}
    assert peer_fingerprint(srv.tls_port, ctx) == certs.fingerprint("server")
    assert tls_request(srv.tls_port, ctx) == PONG


def test_encrypted_key_and_dh_params(srv, certs, admin):
    with pytest.raises(redis.ResponseError) as e:
        admin.config_set("tls-key-file", certs.key("server.enc"))
    assert "Unable to update TLS configuration" in str(e.value)
    admin.config_set("tls-key-file-pass", "1234")
    admin.config_set("tls-key-file", certs.key("server.enc"))
    assert tls_request(srv.tls_port, certs.context()) == PONG
    admin.config_set("tls-dh-params-file", os.path.join(certs.dir, "dh.pem"))
    with pytest.raises(redis.ResponseError):
        admin.config_set("tls-dh-params-file", certs.crt("ca"))
    assert "failed to read DH params" in srv.log()
    assert tls_request(srv.tls_port, certs.context()) == PONG


def test_session_resumption(srv, certs):
    ctx = certs.context(maximum=ssl.TLSVersion.TLSv1_2)
    with tls_connect(srv.tls_port, ctx) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(64) == PONG
        session = s.session
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s2:
        s2.sendall(b"PING\r\n")
        assert s2.recv(64) == PONG
        assert s2.session_reused


# ---- bad peers, volume, concurrency ------------------------------------------------------------------


def test_plaintext_client_on_tls_port_is_closed(srv):
    for payload in (b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(payload)
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            assert b"PONG" not in data
    # Connecting and leaving without a word is harmless too.
    socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5).close()
    assert srv.client().ping()
    assert srv.alive()


def test_big_values_and_pipelines(srv):
    c = srv.tls_client()
    big = os.urandom(6 * 1024 * 1024)
    c.set("big", big)
    assert c.get("big") == big
    assert c.strlen("big") == len(big)
    p = c.pipeline(transaction=False)
    for i in range(5000):
        p.set("p:%d" % i, "v%d" % i * 20)
    assert all(p.execute())
    p = c.pipeline(transaction=False)
    for i in range(5000):
        p.get("p:%d" % i)
    res = p.execute()
    assert all(res[i] == ("v%d" % i * 20).encode() for i in range(5000))
    # Many replies of a big value in one write batch (partial TLS writes).
    p = c.pipeline(transaction=False)
    for _ in range(4):
        p.get("big")
    assert p.execute() == [big] * 4
    c.delete("big")
    c.close()


def test_concurrent_tls_clients(srv):
    errors = []

    def work(n):
        try:
            c = srv.tls_client()
            for i in range(300):
                c.set("conc:%d:%d" % (n, i), i)
                assert c.get("conc:%d:%d" % (n, i)) == str(i).encode()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_client_list_and_info(srv):
    c = srv.tls_client()
    me = c.client_info()
    assert me["laddr"] == "127.0.0.1:%d" % srv.tls_port
    info = c.info("server")
    assert info["tcp_port"] == srv.port
    c.close()


# ---- listeners and start-up ------------------------------------------------------------------------


def test_config_set_tls_port(srv, certs):
    admin = srv.client()
    new = free_port()
    admin.config_set("tls-port", new)
    assert tls_request(new, certs.context()) == PONG
    assert isinstance(tls_request(srv.tls_port, certs.context()), OSError)
    admin.config_set("tls-port", srv.tls_port)
    assert tls_request(srv.tls_port, certs.context()) == PONG
    with pytest.raises(redis.ResponseError) as e:
        admin.config_set("tls-port", srv.port)  # taken by the plain port
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-port') - "
                            "Unable to listen on this port. Check server logs.")
    assert admin.config_get("tls-port") == {"tls-port": str(srv.tls_port)}
    assert tls_request(srv.tls_port, certs.context()) == PONG
    admin.close()


def wait_tls(port, ctx, proc):
    deadline = time.time() + 10
    while time.time() < deadline:
        assert proc.poll() is None, "server exited"
        if tls_request(port, ctx) == PONG:
            return
        time.sleep(0.05)
    raise AssertionError("TLS port did not answer")


def test_port_zero_with_only_tls_port(certs):
    port = free_port()
    d = tempfile.mkdtemp(prefix="stash-tls-")
    conf = os.path.join(d, "stash.conf")
    with open(conf, "w") as f:
        f.write("port 0\nbind 127.0.0.1\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\n"
                "tls-ca-cert-file %s\ntls-auth-clients optional\n"
                % (port, certs.crt("server"), certs.key("server"), certs.crt("ca")))
    p = subprocess.Popen([BINARY, conf, "--threads", "2", "--dir", d], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_tls(port, certs.context(cert=None), p)
        c = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.crt("ca"), socket_timeout=5)
        assert c.info("server")["tcp_port"] == port
        assert c.config_get("port") == {"port": "0"}
        c.close()
    finally:
        p.terminate()
        assert p.wait(20) == 0
        shutil.rmtree(d, ignore_errors=True)


def start_fails(*args):
    p = subprocess.run([BINARY, "--port", "0", "--bind", "127.0.0.1"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return p.returncode, p.stdout.decode()


def test_startup_errors(certs):
    rc, out = start_fails("--tls-port", str(free_port()))
    assert rc == 1
    assert "No tls-cert-file configured!" in out and "Failed to configure TLS. Check logs for more info." in out
    rc, out = start_fails("--tls-port", str(free_port()), "--tls-cert-file", certs.crt("server"),
                          "--tls-key-file", certs.key("server"))
    assert rc == 1
    assert ("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
            "tls-auth-clients are enabled!") in out
    rc, out = start_fails("--tls-port", str(free_port()), "--tls-cert-file", certs.crt("server"),
                          "--tls-key-file", certs.key("client"), "--tls-auth-clients", "no")
    assert rc == 1 and "Failed to load private key" in out
    rc, out = start_fails("--tls-port", "70000")
    assert rc == 1 and "argument must be between 0 and 65535 inclusive" in out
    rc, out = start_fails("--tls-auth-clients", "sometimes")
    assert rc == 1 and "argument(s) must be one of the following: no, yes, optional" in out
    rc, out = start_fails()
    assert rc == 1 and "Configured to not listen anywhere, exiting." in out


def test_tls_directives_accepted_without_tls(srv):
    c = srv.client()
    got = c.config_get("tls-*")
    for name, default in (("tls-replication", "no"), ("tls-cluster", "no"), ("tls-session-caching", "yes"),
                          ("tls-session-cache-size", "20480"), ("tls-session-cache-timeout", "300"),
                          ("tls-prefer-server-ciphers", "no"), ("tls-client-cert-file", ""),
                          ("tls-ca-cert-dir", "")):
        assert got[name] == default, name
    c.config_set("tls-session-cache-size", 100)
    c.config_set("tls-session-cache-size", 20480)
    c.close()


def test_renegotiation_is_refused(srv, certs):
    # openssl s_client sends a TLS 1.2 renegotiation request on a line "R".
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.tls_port, "-tls1_2", "-CAfile", certs.crt("ca"),
           "-cert", certs.crt("client"), "-key", certs.key("client")]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for line in (b"PING\r\n", b"R\n", b"PING\r\n"):
            try:
                p.stdin.write(line)
                p.stdin.flush()
            except BrokenPipeError:  # s_client ended with the connection
                break
            time.sleep(0.3)
        out = p.communicate(timeout=10)[0]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert out.count(b"+PONG") == 1, out  # the renegotiation ended the connection
    assert b"no renegotiation" in out
    assert tls_request(srv.tls_port, certs.context()) == PONG


@pytest.mark.stress
def test_reloads_while_clients_connect(srv, certs):
    """Accepting workers take references to the context while CONFIG SET
    swaps it (run under ThreadSanitizer too)."""
    stop = time.time() + 2
    errors = []

    def connect_loop():
        ctx = certs.context()
        n = 0
        while time.time() < stop and n < 200:
            res = tls_request(srv.tls_port, ctx)
            if res != PONG:
                errors.append(res)
            n += 1

    def reload_loop():
        c = srv.client()
        for i in range(40):
            if time.time() >= stop:
                break
            name = "server2" if i % 2 == 0 else "server"
            c.execute_command("CONFIG", "SET", "tls-cert-file", certs.crt(name), "tls-key-file", certs.key(name))
        c.execute_command("CONFIG", "SET", "tls-cert-file", certs.crt("server"), "tls-key-file",
                          certs.key("server"))
        c.close()

    threads = [threading.Thread(target=connect_loop) for _ in range(4)] + [threading.Thread(target=reload_loop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert peer_fingerprint(srv.tls_port, certs.context()) == certs.fingerprint("server")
