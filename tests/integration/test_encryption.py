"""Encryption at rest (encryption-key-file): snapshots written as the
encrypted container hold no plaintext of keys or values and load back with
every type; a tampered byte, a cut file, reordered chunks, a wrong or a
missing key are each refused with a clear reason and nothing loaded (at
start-up and by DEBUG RELOAD); key files (raw and hex) and their errors;
rotation with CONFIG SET; plain files keep loading (the way in) and stay
plain RDB without a key."""
import hashlib
import hmac
import os
import shutil
import subprocess

import pytest
import redis

from conftest import BINARY, Server, free_port
from test_persist import CHECK, check_rdb, digest, digests, populate
from test_persist_stream_func import LIB, STREAM_KEYS, build_streams, xinfo_full

MAGIC = b"STASHENC"
HEADER = 64
CHUNK = 65536 + 32  # a full chunk: word, nonce, 64 KiB, tag


def key_id(key):
    return hmac.new(key, b"stash at-rest key id", hashlib.sha256).digest()[:8]


@pytest.fixture
def keys(tmp_path):
    raw = bytes((i * 37 + 1) & 0xFF for i in range(32))
    k1 = tmp_path / "k1.key"
    k1.write_bytes(raw)
    k2 = tmp_path / "k2.key"
    hexkey = hashlib.sha256(b"second").digest()
    k2.write_text(hexkey.hex() + "\n")
    for k in (k1, k2):
        os.chmod(k, 0o600)
    return {"k1": str(k1), "k2": str(k2), "id1": key_id(raw), "id2": key_id(hexkey)}


SECRETS = [b"SECRET-string-value", b"SECRET-key-name", b"SECRET-list-elem", b"SECRET-hash-field",
           b"SECRET-hash-value", b"SECRET-set-member", b"SECRET-zset-member", b"SECRET-stream-field",
           b"SECRET-stream-value", b"SECRET-group-name", b"SECRET-consumer", b"SECRET-function"]


def fill_secrets(c):
    c.set("k:string", "SECRET-string-value")
    c.set("SECRET-key-name", "v")
    c.rpush("k:list", "SECRET-list-elem", "other")
    c.hset("k:hash", "SECRET-hash-field", "SECRET-hash-value")
    c.sadd("k:set", "SECRET-set-member", "m2")
    c.zadd("k:zset", {"SECRET-zset-member": 1})
    c.xadd("k:stream", {"SECRET-stream-field": "SECRET-stream-value"})
    c.xgroup_create("k:stream", "SECRET-group-name", "0")
    c.xreadgroup("SECRET-group-name", "SECRET-consumer", {"k:stream": ">"})
    c.function_load("#!lua name=SECRET\nredis.register_function('f', function() return 'SECRET-function' end)")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def start_fails(d, *args):
    """Start a server on dir d that must refuse to start: its log."""
    log = os.path.join(d, "refused.log")
    p = subprocess.run([BINARY, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                        "--logfile", log] + list(args), timeout=30, capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    return (open(log).read() if os.path.exists(log) else "") + p.stdout + p.stderr


def test_snapshot_is_encrypted_and_round_trips_every_type(keys, tmp_path):
    s = Server("--save", "", "--enable-debug-command", "yes", "--encryption-key-file", keys["k1"],
               "--rdbcompression", "no")
    try:
        c = s.client()
        populate(c)
        fill_secrets(c)
        build_streams(c)
        c.function_load(LIB)
        want, want_values = digest(c), digests(c)
        want_streams = {k: xinfo_full(c, k) for k in STREAM_KEYS}
        assert c.save() in (True, b"OK")
        data = read(os.path.join(s.dir, "dump.rdb"))
        assert data[:8] == MAGIC and data[16:24] == keys["id1"]
        for secret in SECRETS:
            assert secret not in data, secret
        assert b"REDIS" not in data and b"element-1" not in data
        # the same dataset unencrypted does show them (the check can fail)
        c.config_set("encryption-key-file", "")
        c.save()
        plain = read(os.path.join(s.dir, "dump.rdb"))
        assert plain[:9] == b"REDIS0010" and all(secret in plain for secret in SECRETS)
        if CHECK:
            check_rdb(os.path.join(s.dir, "dump.rdb"))
        c.config_set("encryption-key-file", keys["k1"])
        assert c.bgsave() in (True, b"OK")
        for _ in range(500):
            if c.info("persistence")["rdb_bgsave_in_progress"] == 0:
                break
            import time
            time.sleep(0.01)
        data = read(os.path.join(s.dir, "dump.rdb"))
        assert data[:8] == MAGIC and not any(secret in data for secret in SECRETS)
        assert c.execute_command("DEBUG", "RELOAD") == b"OK"
        assert digest(c) == want
        shutil.copy(os.path.join(s.dir, "dump.rdb"), tmp_path / "dump.rdb")
    finally:
        s.stop()
    s2 = Server("--save", "", "--enable-debug-command", "yes", "--dir", str(tmp_path), "--encryption-key-file",
                keys["k1"])
    try:
        c2 = s2.client()
        assert digest(c2) == want and digests(c2) == want_values
        assert {k: xinfo_full(c2, k) for k in STREAM_KEYS} == want_streams
        assert c2.fcall("f", 0) == b"SECRET-function" and c2.fcall("f1", 0).startswith(b"one ")
        assert c2.ttl("expiring") > 3000
        assert "(encrypted, authenticated)" in s2.log()
    finally:
        s2.stop()


def big_encrypted_dump(keys, d):
    """An encrypted dump.rdb of several chunks in d (and the server's digest)."""
    s = Server("--save", "", "--dir", d, "--encryption-key-file", keys["k1"], "--enable-debug-command", "yes")
    try:
        c = s.client()
        p = c.pipeline(transaction=False)
        for i in range(300):
            p.set("key:%d" % i, os.urandom(700))
        p.execute()
        c.save()
        return digest(c)
    finally:
        s.stop()


def test_tampered_cut_reordered_and_wrong_keys_are_refused(keys, tmp_path):
    d = str(tmp_path)
    big_encrypted_dump(keys, d)
    path = os.path.join(d, "dump.rdb")
    good = read(path)
    assert len(good) > HEADER + 3 * CHUNK
    cases = {
        "tampered": good[:HEADER + CHUNK + 100] + bytes([good[HEADER + CHUNK + 100] ^ 1]) + good[HEADER + CHUNK + 101:],
        "truncated": good[:-40],
        "cut at a chunk": good[:HEADER + 2 * CHUNK],
        "reordered": good[:HEADER] + good[HEADER + CHUNK:HEADER + 2 * CHUNK] + good[HEADER:HEADER + CHUNK] +
                     good[HEADER + 2 * CHUNK:],
        "header changed": good[:30] + bytes([good[30] ^ 0x80]) + good[31:],
    }
    reasons = {
        "tampered": "authentication failed at chunk 1",
        "truncated": "the encrypted file is truncated",
        "cut at a chunk": "the encrypted file is truncated: no end marker after chunk 2",
        "reordered": "authentication failed at chunk 0",
        "header changed": "authentication failed at chunk 0",
    }
    for name, data in cases.items():
        write(path, data)
        log = start_fails(d, "--encryption-key-file", keys["k1"])
        assert "Can't load dump.rdb: " + reasons[name] in log, (name, log[-500:])
    write(path, good)
    log = start_fails(d, "--encryption-key-file", keys["k2"])
    assert ("wrong key: the file is encrypted with key id %s, encryption-key-file holds key id %s" %
            (keys["id1"].hex(), keys["id2"].hex())) in log
    log = start_fails(d)
    assert "the file is encrypted (key id %s) and no encryption-key-file is configured" % keys["id1"].hex() in log


def test_debug_reload_of_a_bad_file_loads_nothing(keys, tmp_path):
    """A running server keeps exactly its dataset when the file fails."""
    d = str(tmp_path)
    big_encrypted_dump(keys, d)
    path = os.path.join(d, "dump.rdb")
    good = read(path)
    s = Server("--save", "", "--dir", d, "--encryption-key-file", keys["k1"], "--enable-debug-command", "yes")
    try:
        c = s.client()
        assert c.dbsize() == 300
        c.flushall()
        c.set("mine", "kept")
        for data in (good[:-1], good[:HEADER + 2 * CHUNK] + good[HEADER + 3 * CHUNK:],
                     good[:-100] + bytes([good[-100] ^ 4]) + good[-99:]):
            write(path, data)
            with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
                c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")
            assert c.dbsize() == 1 and c.get("mine") == b"kept"
        write(path, good)
        assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
        assert c.dbsize() == 301
    finally:
        s.stop()


def test_key_files_and_their_errors(keys, tmp_path):
    d = str(tmp_path)
    log = start_fails(d, "--encryption-key-file", str(tmp_path / "missing.key"))
    assert "FATAL CONFIG FILE ERROR" in log and "can't open the key file" in log and "missing.key" in log
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    log = start_fails(d, "--encryption-key-file", str(bad))
    assert "must hold 32 raw bytes or 64 hex digits" in log
    s = Server("--save", "", "--encryption-key-file", keys["k2"])
    try:
        c = s.client()
        assert c.config_get("encryption-key-file") == {"encryption-key-file": keys["k2"]}
        with pytest.raises(redis.ResponseError, match="can't open the key file"):
            c.config_set("encryption-key-file", str(tmp_path / "missing.key"))
        with pytest.raises(redis.ResponseError, match="32 raw bytes or 64 hex digits"):
            c.config_set("encryption-key-file", str(bad))
        # the key in place is still the one used
        assert c.config_get("encryption-key-file") == {"encryption-key-file": keys["k2"]}
        c.set("a", "b")
        c.save()
        assert read(os.path.join(s.dir, "dump.rdb"))[16:24] == keys["id2"]
        # a key file others can read is used, with a warning
        loose = tmp_path / "loose.key"
        loose.write_bytes(os.urandom(32))
        os.chmod(loose, 0o644)
        c.config_set("encryption-key-file", str(loose))
        assert "can be read by other users" in s.log()
    finally:
        s.stop()


def test_rotation_with_config_set(keys, tmp_path):
    d = str(tmp_path)
    s = Server("--save", "", "--dir", d, "--encryption-key-file", keys["k1"], "--enable-debug-command", "yes")
    try:
        c = s.client()
        c.set("x", "1")
        c.save()
        c.config_set("encryption-key-file", keys["k2"])
        # the file still under the old key loads: the server keeps it for reading
        c.set("x", "2")
        assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
        assert c.get("x") == b"1"
        c.save()
        assert read(os.path.join(d, "dump.rdb"))[16:24] == keys["id2"]
    finally:
        s.stop()
    log = start_fails(d, "--encryption-key-file", keys["k1"])
    assert "wrong key" in log
    s = Server("--save", "", "--dir", d, "--encryption-key-file", keys["k2"])
    try:
        c = s.client()
        assert c.get("x") == b"1"
        # turning encryption off: the next snapshot is plain RDB again
        c.config_set("encryption-key-file", "")
        c.save()
        assert read(os.path.join(d, "dump.rdb"))[:9] == b"REDIS0010"
        if CHECK:
            check_rdb(os.path.join(d, "dump.rdb"))
    finally:
        s.stop()


def test_plain_file_loads_with_a_key_and_is_then_encrypted(keys, tmp_path):
    d = str(tmp_path)
    s = Server("--save", "", "--dir", d)
    try:
        s.client().set("k", "v")
        s.client().save()
    finally:
        s.stop()
    assert read(os.path.join(d, "dump.rdb"))[:5] == b"REDIS"
    s = Server("--save", "", "--dir", d, "--encryption-key-file", keys["k1"])
    try:
        c = s.client()
        assert c.get("k") == b"v"
        assert "is not encrypted: the next save writes it encrypted" in s.log()
        c.save()
        assert read(os.path.join(d, "dump.rdb"))[:8] == MAGIC
    finally:
        s.stop()


def aof_files(d):
    adir = os.path.join(d, "appendonlydir")
    return [os.path.join(adir, f) for f in sorted(os.listdir(adir)) if not f.endswith(".manifest")]


def test_aof_files_are_encrypted_and_survive_a_crash(keys, tmp_path):
    """Every AOF file (the RDB-preamble base and the incremental files) is a
    container; an incremental file left without its end marker by a killed
    server loads; the manifest stays plain (it names files, holds no data)."""
    d = str(tmp_path / "data")
    os.mkdir(d)
    args = ("--dir", d, "--save", "", "--enable-debug-command", "yes", "--appendonly", "yes", "--appendfsync", "always",
            "--encryption-key-file", keys["k1"])
    s = Server(*args)
    try:
        c = s.client()
        fill_secrets(c)
        for i in range(2000):
            c.set("SECRET-n:%d" % i, "SECRET-v" * 20)
        assert c.bgrewriteaof()
        for _ in range(1000):
            info = c.info("persistence")
            if info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0:
                break
            import time
            time.sleep(0.01)
        c.incrby("counter", 41)
        c.incr("counter")
        c.rpush("k:list", "SECRET-after-rewrite")
        want = digest(c)
    finally:
        os.kill(s.pid, 9)
        s.proc.wait()
        s.log_fp.close()
    files = aof_files(d)
    assert any(f.endswith(".base.rdb") for f in files) and any(f.endswith(".incr.aof") for f in files)
    for f in files:
        data = read(f)
        if data:
            assert data[:8] == MAGIC and data[16:24] == keys["id1"], f
            assert not any(secret in data for secret in SECRETS + [b"SECRET-after-rewrite"]), f
    check = os.path.join(os.path.dirname(BINARY), "stash-check-aof")
    mf = os.path.join(d, "appendonlydir", "appendonly.aof.manifest")
    p = subprocess.run([check, mf], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stdout
    p = subprocess.run([check, "--encryption-key-file", keys["k1"], mf], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "All AOF files and manifest are valid" in p.stdout, p.stdout + p.stderr
    s2 = Server("--dir", d, "--save", "", "--enable-debug-command", "yes", "--appendonly", "yes",
                "--encryption-key-file", keys["k1"])
    try:
        c2 = s2.client()
        assert digest(c2) == want
        assert c2.get("counter") == b"42" and c2.lindex("k:list", -1) == b"SECRET-after-rewrite"
        c2.set("after-restart", "1")
    finally:
        s2.stop()
    # Without the key the files cannot be read: refused, with the reason.
    log = start_fails(d, "--appendonly", "yes")
    assert "key" in log.lower(), log
    s3 = Server("--dir", d, "--save", "", "--appendonly", "yes", "--encryption-key-file", keys["k1"])
    try:
        assert s3.client().get("after-restart") == b"1"
    finally:
        s3.stop()
