"""Helpers of the TLS tests: throwaway certificates and TLS clients.

make_certs(dir) writes, with the openssl command line (EC P-256 keys, so
it takes a few tens of milliseconds):
  ca           a CA
  server       CN=localhost, SAN localhost and 127.0.0.1, signed by ca
  server2      the same names, another key (the certificate reload tests)
  client       a client certificate signed by ca
  expired      a client certificate signed by ca, expired yesterday
  other-ca     another CA, and other-client, a client certificate it signed
  server.enc   server's key encrypted with the pass phrase "1234"
  dh.pem       DH parameters (the ffdhe2048 group)
Each NAME gives NAME.crt and NAME.key in the directory.
"""
import hashlib
import os
import socket
import ssl
import subprocess


def _run(*args, cwd):
    subprocess.run(list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=30)


def _key(cwd, name):
    _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
         name + ".key", cwd=cwd)


def _ca(cwd, name, cn):
    _key(cwd, name)
    _run("openssl", "req", "-x509", "-new", "-key", name + ".key", "-days", "30", "-subj",
         "/O=Stash Test/CN=" + cn, "-out", name + ".crt", cwd=cwd)


def _cert(cwd, name, cn, ca, days, ext):
    _key(cwd, name)
    _run("openssl", "req", "-new", "-key", name + ".key", "-subj", "/O=Stash Test/CN=" + cn, "-out",
         name + ".csr", cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    _run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
         "-CAcreateserial", "-days", str(days), "-extfile", name + ".ext", "-out", name + ".crt", cwd=cwd)


SERVER_EXT = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
CLIENT_EXT = "extendedKeyUsage=clientAuth\n"


def make_certs(d):
    _ca(d, "ca", "Stash Test CA")
    _ca(d, "other-ca", "Another CA")
    _cert(d, "server", "localhost", "ca", 30, SERVER_EXT)
    _cert(d, "server2", "localhost", "ca", 30, SERVER_EXT)
    _cert(d, "client", "client", "ca", 30, CLIENT_EXT)
    _cert(d, "expired", "expired-client", "ca", -1, CLIENT_EXT)  # notAfter before notBefore
    _cert(d, "other-client", "foreign-client", "other-ca", 30, CLIENT_EXT)
    _run("openssl", "pkey", "-in", "server.key", "-aes256", "-passout", "pass:1234", "-out", "server.enc.key",
         cwd=d)
    _run("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out",
         "dh.pem", cwd=d)
    return d


class Certs:
    def __init__(self, d):
        self.dir = d

    def crt(self, name):
        return os.path.join(self.dir, name + ".crt")

    def key(self, name):
        return os.path.join(self.dir, name + ".key")

    def fingerprint(self, name):
        with open(self.crt(name)) as f:
            return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()

    def context(self, cert="client", ca="ca", minimum=None, maximum=None, check_hostname=False):
        """A client context: trusts `ca`, presents `cert` (None: none)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(self.crt(ca))
        if cert:
            ctx.load_cert_chain(self.crt(cert), self.key(cert))
        if minimum:
            ctx.minimum_version = minimum
        if maximum:
            ctx.maximum_version = maximum
        return ctx


def tls_connect(port, ctx, server_hostname="localhost", timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


def tls_request(port, ctx, data=b"PING\r\n", **kw):
    """The first bytes answered to `data` over a new TLS connection, or the
    exception that stopped it (a refused handshake shows either at connect
    or, with TLS 1.3 client certificates, at the first read)."""
    try:
        with tls_connect(port, ctx, **kw) as s:
            s.sendall(data)
            return s.recv(1 << 16)
    except (ssl.SSLError, OSError) as e:
        return e


def peer_fingerprint(port, ctx):
    with tls_connect(port, ctx) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
