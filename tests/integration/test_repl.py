"""Replication: a Stash primary and Stash replicas, and interoperability with a
real redis-server 7.0 both ways (PSYNC2: full sync, then partial resyncs after
the link is cut), all on loopback.

Every wait is bounded (wait_for); servers are stopped by PID. Loads are
bounded in operations. Replies and INFO fields are Redis 7.0.15's.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import BINARY, Raw, Server, free_port

HAVE_REDIS = shutil.which("redis-server") is not None


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (redis.ConnectionError, redis.ResponseError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def info(c, section="replication"):
    return {k: v for k, v in c.info(section).items()}


def link_up(c):
    return info(c).get("master_link_status") == "up"


def offset(c):
    return int(info(c)["master_repl_offset"])


def stats(c):
    s = info(c, "stats")
    return s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]


class Stash(Server):
    """A stash-server with DEBUG, fast full syncs (no diskless delay) and no
    save points unless given; `port` and `dir` to restart one in place."""

    def __init__(self, *args, save="", port=None, dir=None, threads=2):
        super().__init__("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", "--save", save, *args,
                         threads=threads, port=port, dir=dir, logname="stash-%d.log" % time.monotonic_ns())

    def c(self):
        return self.client(decode_responses=True)


class RedisPeer:
    """A real redis-server on a free loopback port."""

    def __init__(self, *args):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="stash-repl-redis-")
        self.logfile = os.path.join(self.dir, "redis.log")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", self.logfile, "--enable-debug-command", "yes",
             "--repl-diskless-sync-delay", "0"] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_for(lambda: self.c().ping(), 10, "redis-server to start")

    def c(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10, decode_responses=True)

    def log(self):
        with open(self.logfile) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def replicate(replica, primary):
    rc = replica.c()
    assert rc.execute_command("REPLICAOF", "127.0.0.1", str(primary.port)) == "OK"
    wait_for(lambda: link_up(rc), 20, "the replica's link")
    return rc


def caught_up(primary_c, *replica_cs):
    """Replicas applied everything the primary sent."""
    seen = []

    def ok():
        offs = [offset(primary_c)] + [offset(r) for r in replica_cs]
        seen[:] = offs
        return all(o == offs[0] for o in offs)
    try:
        wait_for(ok, 20, "replication offsets")
    except AssertionError:
        raise AssertionError("offsets did not converge: %r" % seen)


def settle(c):
    """Touch every key of the databases the load uses, so that a primary
    deletes (and replicates the DEL of) keys that expired without being
    reclaimed yet: redis-server's DEBUG DIGEST still counts those."""
    for db in (0, 3):
        c.execute_command("SELECT", db)
        for k in list(c.scan_iter(count=1000)):
            c.exists(k)
    c.execute_command("SELECT", 0)


def same_digest(primary_c, *replica_cs):
    time.sleep(0.4)  # the load's short expiries are over
    settle(primary_c)
    caught_up(primary_c, *replica_cs)
    want = primary_c.execute_command("DEBUG", "DIGEST")
    assert want != "0" * 40
    for r in replica_cs:
        assert r.execute_command("DEBUG", "DIGEST") == want


# ---- a mixed write load of every data type, with expiry ----------------------------------------------------------

def streams_in_snapshots(c):
    """Can snapshots (full syncs) carry streams in this build? (The RDB
    codec registers value types as they come: DUMP tells.)"""
    c.xadd("probe:stream:%d" % id(c), {"f": "v"})
    try:
        c.dump("probe:stream:%d" % id(c))
        return True
    except redis.ResponseError:
        return False
    finally:
        c.delete("probe:stream:%d" % id(c))


def mixed_load(port, seed, ops, stop=None, streams=None):
    rnd = random.Random(seed)
    c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    if streams is None:
        streams = streams_in_snapshots(c)
    pfx = "t%d:" % seed
    now_ms = lambda: int(time.time() * 1000)
    for i in range(ops):
        if stop is not None and stop.is_set():
            break
        k = pfx + str(rnd.randrange(40))
        op = rnd.randrange(24)
        try:
            if op == 0:
                c.set("s:" + k, rnd.randbytes(rnd.randrange(1, 40)))
            elif op == 1:
                c.append("s:" + k, "x")
            elif op == 2:
                c.incrby("n:" + k, rnd.randrange(100))
            elif op == 3:
                c.set("e:" + k, "v", px=rnd.randrange(1, 300))  # expires during the load
            elif op == 4:
                c.set("E:" + k, "v", ex=3600)
            elif op == 5:
                c.rpush("l:" + k, *[str(rnd.randrange(1000)) for _ in range(rnd.randrange(1, 5))])
            elif op == 6:
                c.lpop("l:" + k)
            elif op == 7:
                c.lmove("l:" + k, "l:" + pfx + "dst", "LEFT", "RIGHT")
            elif op == 8:
                c.hset("h:" + k, mapping={"f%d" % rnd.randrange(10): rnd.randrange(100) for _ in range(3)})
            elif op == 9:
                c.hincrby("h:" + k, "n", 1)
            elif op == 10:
                c.sadd("S:" + k, *[rnd.randrange(50) for _ in range(3)])
            elif op == 11:
                c.srem("S:" + k, rnd.randrange(50))
            elif op == 12:
                c.zadd("z:" + k, {str(rnd.randrange(50)): rnd.random() for _ in range(3)})
            elif op == 13:
                c.zincrby("z:" + k, 1.5, "m")
            elif op == 14:
                if streams:
                    c.xadd("x:" + k, {"f": rnd.randrange(100)}, maxlen=20, approximate=False)
            elif op == 15:
                c.pfadd("p:" + k, *[rnd.randrange(10000) for _ in range(5)])
            elif op == 16:
                c.setbit("b:" + k, rnd.randrange(500), 1)
            elif op == 17:
                c.geoadd("g:" + k, (13.36 + rnd.random(), 38.11 + rnd.random(), "m%d" % rnd.randrange(10)))
            elif op == 18:
                c.pexpire("h:" + k, rnd.randrange(1, 200))
            elif op == 19:
                c.expireat("S:" + k, int(time.time()) + 3600)
            elif op == 20:
                p = c.pipeline(transaction=True)
                p.incr("m:" + k)
                p.lpush("m:l:" + k, "a")
                p.hset("m:h:" + k, "f", "v")
                p.execute()
            elif op == 21:
                c.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])", 2,
                       "lua:" + k, "lua:n:" + k, "v")
            elif op == 22:
                c.execute_command("SELECT", 3)
                c.set("db3:" + k, "v")
                c.execute_command("SELECT", 0)
            else:
                c.delete("s:" + k, "l:" + k)
        except redis.ResponseError:
            pass  # e.g. WRONGTYPE across families: the same on both sides
    c.close()


def run_loads(port, nthreads, ops, seed=1, streams=None):
    ts = [threading.Thread(target=mixed_load, args=(port, seed + i, ops, None, streams)) for i in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)


# ---- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture
def servers():
    started = []

    def make(*args, **kw):
        s = Stash(*args, **kw)
        started.append(s)
        return s

    yield make
    for s in reversed(started):
        if s.alive():
            s.stop(expect_clean=False)


@pytest.fixture
def redis_peers():
    started = []

    def make(*args):
        p = RedisPeer(*args)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


# ---- the basics -------------------------------------------------------------------------------------------------

def test_full_sync_then_stream(servers):
    p, r = servers(), servers()
    pc = p.c()
    pc.set("k", "v")
    pc.rpush("l", "a", "b")
    pc.set("ttl", "x", ex=1000)
    rc = replicate(r, p)
    assert rc.get("k") == "v" and rc.lrange("l", 0, -1) == ["a", "b"]
    assert 990 <= rc.ttl("ttl") <= 1000
    pc.incr("n")
    pc.execute_command("SELECT", 5)
    caught_up(pc, rc)
    assert rc.get("n") == "1"
    same_digest(pc, rc)
    # What a primary and a replica say about themselves.
    ri, pi = info(rc), info(pc)
    assert ri["role"] == "slave" and ri["master_host"] == "127.0.0.1" and ri["master_port"] == p.port
    assert ri["slave_read_only"] == 1 and ri["slave_priority"] == 100 and ri["master_sync_in_progress"] == 0
    assert ri["master_replid"] == pi["master_replid"]
    assert pi["role"] == "master" and pi["connected_slaves"] == 1 and pi["repl_backlog_active"] == 1
    assert pi["slave0"]["state"] == "online" and pi["slave0"]["port"] == r.port
    role = pc.execute_command("ROLE")
    assert role[0] == "master" and role[2][0][:2] == ["127.0.0.1", str(r.port)]
    role = rc.execute_command("ROLE")
    assert role[:4] == ["slave", "127.0.0.1", p.port, "connected"]
    assert stats(pc)[:2] == (1, 0)
    # CLIENT LIST flags and types.
    assert "flags=S" in pc.execute_command("CLIENT", "LIST", "TYPE", "replica")
    assert "flags=M" in rc.execute_command("CLIENT", "LIST", "TYPE", "master")
    # A read-only replica.
    with pytest.raises(redis.exceptions.ReadOnlyError, match="^You can't write against a read only replica.$"):
        rc.set("k", "w")
    # HELLO tells the role.
    hello = Raw(r.port).cmd("HELLO", "3")
    assert hello[b"role"] == b"replica"


def test_replicaof_errors_and_replies(servers):
    p, r = servers(), servers()
    rc = r.c()
    with pytest.raises(redis.ResponseError, match="^Invalid master port$"):
        rc.execute_command("REPLICAOF", "127.0.0.1", "70000")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        rc.execute_command("REPLICAOF", "127.0.0.1")
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    replicate(r, p)
    raw = Raw(r.port)
    assert raw.cmd("SLAVEOF", "127.0.0.1", str(p.port)) == b"OK Already connected to specified master"
    with pytest.raises(redis.ResponseError, match="^WAIT cannot be used with replica instances"):
        rc.execute_command("WAIT", "1", "0")
    assert r.c().config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % p.port}
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert info(rc)["role"] == "master"
    assert rc.set("k", "w")  # writable again, data kept


def test_stale_data_and_min_replicas(servers):
    p = servers()
    pc = p.c()
    r = servers()
    rc = r.c()
    rc.config_set("replica-serve-stale-data", "no")
    port = free_port()  # nobody listens: the link stays down
    rc.execute_command("REPLICAOF", "127.0.0.1", str(port))
    with pytest.raises(redis.ResponseError,
                       match="^MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.$"):
        rc.get("k")
    assert rc.execute_command("INFO", "replication")["master_link_status"] == "down"
    rc.execute_command("REPLICAOF", "NO", "ONE")
    pc.config_set("min-replicas-to-write", 1)
    with pytest.raises(redis.ResponseError, match="^NOREPLICAS Not enough good replicas to write.$"):
        pc.set("k", "v")
    replicate(r, p)
    wait_for(lambda: info(pc).get("min_slaves_good_slaves") == 1, 10, "a good replica")
    assert pc.set("k", "v")


# ---- five replicas under a mixed load -------------------------------------------------------------------------

@pytest.mark.stress
def test_five_replicas_converge_under_load(servers):
    p = servers()
    pc = p.c()
    run_loads(p.port, 2, 400, seed=10)
    reps = [servers() for _ in range(5)]
    stop = threading.Event()
    load = [threading.Thread(target=mixed_load, args=(p.port, 20 + i, 1500, stop)) for i in range(3)]
    for t in load:
        t.start()
    rcs = [replicate(r, p) for r in reps]  # full syncs while writes go on
    for t in load:
        t.join(120)
    time.sleep(0.5)  # the short expiries are over
    pc.set("done", "1")
    caught_up(pc, *rcs)
    same_digest(pc, *rcs)
    for rc in rcs:
        assert rc.dbsize() == pc.dbsize()
        assert rc.execute_command("SELECT", "3") and True
    assert int(info(pc)["connected_slaves"]) == 5


# ---- link faults ---------------------------------------------------------------------------------------------

def test_link_cut_resyncs_partially(servers):
    p, r = servers(), servers()
    pc = p.c()
    rc = replicate(r, p)
    pc.set("a", "1")
    caught_up(pc, rc)
    full, ok, _ = stats(pc)
    # Cut from the replica's side, then from the primary's.
    rc.execute_command("CLIENT", "KILL", "TYPE", "master")
    pc.set("b", "2")
    wait_for(lambda: link_up(rc) and rc.get("b") == "2", 20, "partial resync")
    pc.execute_command("CLIENT", "KILL", "TYPE", "replica")
    pc.set("c", "3")
    wait_for(lambda: link_up(rc) and rc.get("c") == "3", 20, "partial resync")
    assert stats(pc)[0] == full and stats(pc)[1] == ok + 2
    caught_up(pc, rc)
    same_digest(pc, rc)


def test_replica_restart_resyncs_partially(servers):
    p = servers()
    rdir = tempfile.mkdtemp(prefix="stash-test-")
    r = servers(save="3600 1", dir=rdir)
    pc = p.c()
    rc = replicate(r, p)
    run_loads(p.port, 1, 300, seed=3)
    caught_up(pc, rc)
    port = r.port
    r.stop()  # SIGTERM: the replica saves its RDB with repl-id / repl-offset
    pc.set("while-down", "1")
    r2 = servers("--replicaof", "127.0.0.1", str(p.port), save="3600 1", dir=rdir, port=port)
    rc2 = r2.c()
    wait_for(lambda: link_up(rc2), 20, "the restarted replica's link")
    assert "Partial resynchronization request from" in p.log()
    full, ok, err = stats(pc)
    assert (full, ok) == (1, 1)
    caught_up(pc, rc2)
    assert rc2.get("while-down") == "1"
    same_digest(pc, rc2)


def test_backlog_overrun_falls_back_to_full_sync(servers):
    p, r = servers("--repl-backlog-size", "16kb"), servers()
    pc = p.c()
    rc = replicate(r, p)
    pc.set("a", "1")
    caught_up(pc, rc)
    # The replica stops; the primary drops it and writes past its backlog.
    os.kill(r.pid, signal.SIGSTOP)
    try:
        pc.execute_command("CLIENT", "KILL", "TYPE", "replica")
        for i in range(100):
            pc.set("big:%d" % i, "x" * 1000)  # 100 KB: far past the backlog
    finally:
        os.kill(r.pid, signal.SIGCONT)
    wait_for(lambda: stats(pc)[0] == 2 and link_up(rc), 20, "a full resync")
    full, ok, err = stats(pc)
    assert (full, ok, err) == (2, 0, 2)  # both asked for a partial resync (the first with its own history)
    assert "for lack of backlog" in p.log()
    caught_up(pc, rc)
    same_digest(pc, rc)


@pytest.mark.stress
def test_promotion_keeps_history_and_chains_follow(servers):
    """Kill the primary, promote a replica: the other replica and the
    promoted replica's own replica follow it with partial resyncs."""
    p = servers()
    a, b = servers(), servers()
    c = servers()  # a replica of a (chained)
    pc = p.c()
    ac, bc = replicate(a, p), replicate(b, p)
    cc = replicate(c, a)
    run_loads(p.port, 2, 300, seed=5)
    pc.set("acked", "yes")
    assert pc.execute_command("WAIT", "2", "5000") == 2  # both replicas have it
    caught_up(pc, ac, bc, cc)  # the chain has the same offsets
    assert offset(cc) == offset(pc)
    os.kill(p.pid, signal.SIGKILL)
    p.proc.wait()
    assert ac.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    ai = info(ac)
    assert ai["role"] == "master" and int(ai["second_repl_offset"]) == offset(ac) + 1
    assert bc.execute_command("REPLICAOF", "127.0.0.1", str(a.port)) == "OK"
    wait_for(lambda: link_up(bc) and link_up(cc) and int(info(ac)["connected_slaves"]) == 2, 20, "both replicas")
    full, ok, _ = stats(ac)
    assert full == 1 and ok >= 2  # b and c continued (c's full sync was before)
    ac.set("after", "1")
    caught_up(ac, bc, cc)
    assert bc.get("acked") == "yes" and cc.get("after") == "1"
    same_digest(ac, bc, cc)


def test_wait_acknowledged_write_survives_promotion(servers):
    p, r = servers(), servers()
    pc = p.c()
    rc = replicate(r, p)
    for i in range(200):
        pc.set("w:%d" % i, i)
    assert pc.execute_command("WAIT", "1", "5000") == 1
    assert pc.execute_command("WAIT", "2", "100") == 1  # only one replica: at the deadline
    os.kill(p.pid, signal.SIGKILL)
    p.proc.wait()
    rc.execute_command("REPLICAOF", "NO", "ONE")
    assert [rc.get("w:%d" % i) for i in range(200)] == [str(i) for i in range(200)]


# ---- authentication and TLS ----------------------------------------------------------------------------------

def test_masterauth_with_acl_user(servers):
    p = servers("--user", "repl on >replpass +psync +replconf +ping", "--user", "default on nopass ~* &* +@all")
    r = servers()
    rc = r.c()
    rc.config_set("masteruser", "repl")
    rc.config_set("masterauth", "wrong")
    rc.execute_command("REPLICAOF", "127.0.0.1", str(p.port))
    wait_for(lambda: "Unable to AUTH to MASTER" in r.log(), 10, "the AUTH error")
    rc.config_set("masterauth", "replpass")
    wait_for(lambda: link_up(rc), 20, "the link with the right password")
    p.c().set("k", "v")
    wait_for(lambda: rc.get("k") == "v", 10, "the stream")


def test_replication_over_tls(servers):
    from tls_support import Certs, make_certs
    d = tempfile.mkdtemp(prefix="stash-repl-tls-")
    try:
        certs = Certs(make_certs(d))
        tls = ["--tls-cert-file", certs.crt("server"), "--tls-key-file", certs.key("server"),
               "--tls-ca-cert-file", certs.crt("ca"), "--tls-replication", "yes"]
        tls_port = free_port()
        p = servers("--tls-port", str(tls_port), *tls)
        r = servers("--tls-port", str(free_port()), *tls)
        p.c().set("k", "v")
        rc = r.c()
        rc.execute_command("REPLICAOF", "127.0.0.1", str(tls_port))
        wait_for(lambda: link_up(rc), 20, "the TLS link")
        assert rc.get("k") == "v"
        p.c().set("k2", "v2")
        wait_for(lambda: rc.get("k2") == "v2", 10, "the stream over TLS")
        rc.execute_command("CLIENT", "KILL", "TYPE", "master")
        p.c().set("k3", "v3")
        wait_for(lambda: link_up(rc) and rc.get("k3") == "v3", 20, "a partial resync over TLS")
        assert stats(p.c())[1] == 1
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- interoperability with redis-server 7.0 -----------------------------------------------------------------

@pytest.mark.skipif(not HAVE_REDIS, reason="redis-server not installed")
def test_redis_replicates_from_stash(servers, redis_peers):
    p = servers()
    pc = p.c()
    run_loads(p.port, 2, 300, seed=30)
    peer = redis_peers()
    rc = replicate(peer, p)
    caught_up(pc, rc)
    same_digest(pc, rc)
    full, ok, _ = stats(pc)
    rc.execute_command("CLIENT", "KILL", "TYPE", "master")
    run_loads(p.port, 1, 200, seed=31)
    wait_for(lambda: link_up(rc), 20, "redis' link")
    caught_up(pc, rc)
    same_digest(pc, rc)
    assert stats(pc)[0] == full and stats(pc)[1] == ok + 1


@pytest.mark.skipif(not HAVE_REDIS, reason="redis-server not installed")
def test_stash_replicates_from_redis(servers, redis_peers):
    peer = redis_peers()
    pc = peer.c()
    r = servers()
    streams = streams_in_snapshots(r.client())
    run_loads(peer.port, 2, 300, seed=40, streams=streams)
    rc = replicate(r, peer)
    caught_up(pc, rc)
    same_digest(pc, rc)
    full, ok, _ = stats(pc)
    rc.execute_command("CLIENT", "KILL", "TYPE", "master")
    run_loads(peer.port, 1, 200, seed=41, streams=streams)
    wait_for(lambda: link_up(rc), 20, "the link")
    caught_up(pc, rc)
    same_digest(pc, rc)
    assert stats(pc)[0] == full and stats(pc)[1] == ok + 1


# ---- FAILOVER, PUBLISH -----------------------------------------------------------------------------------

def test_failover_swaps_roles_with_a_partial_resync(servers):
    p, r = servers(), servers()
    pc = p.c()
    rc = replicate(r, p)
    pc.set("k", "v")
    with pytest.raises(redis.ResponseError, match="^FAILOVER target HOST and PORT is not a replica.$"):
        pc.execute_command("FAILOVER", "TO", "127.0.0.1", "1")
    with pytest.raises(redis.ResponseError, match="^FAILOVER with force option requires both a timeout"):
        pc.execute_command("FAILOVER", "FORCE")
    with pytest.raises(redis.ResponseError, match="^No failover in progress.$"):
        pc.execute_command("FAILOVER", "ABORT")
    assert pc.execute_command("FAILOVER", "TO", "127.0.0.1", str(r.port), "TIMEOUT", "10000") == "OK"
    wait_for(lambda: info(rc)["role"] == "master" and link_up(pc), 20, "the roles to swap")
    assert info(pc)["master_failover_state"] == "no-failover"
    assert stats(rc)[:2] == (0, 1)  # the old primary continued from its own offset
    rc.set("after", "1")
    caught_up(rc, pc)
    assert pc.get("after") == "1" and pc.get("k") == "v"
    with pytest.raises(redis.ResponseError, match="^FAILOVER is not valid when server is a replica.$"):
        pc.execute_command("FAILOVER")


def test_publish_reaches_the_replicas_subscribers(servers):
    p, r = servers(), servers()
    pc = p.c()
    rc = replicate(r, p)
    sub = r.client().pubsub()
    sub.subscribe("news")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    pc.publish("news", "hello")
    p2 = pc.pipeline(transaction=True)
    p2.publish("news", "in-multi")
    p2.execute()
    got = []
    wait_for(lambda: (lambda m: m and got.append(m["data"]))(sub.get_message(timeout=0.1)) or len(got) == 2, 10,
             "both messages")
    assert got == [b"hello", b"in-multi"]
    sub.close()


def test_replica_with_aof_keeps_the_synced_dataset(servers):
    """A replica with appendonly yes: the full sync replaces its dataset,
    so its AOF is rewritten from the new one (Redis's restartAOFAfterSYNC),
    and the stream it applies afterwards is appended: killed and restarted
    alone, it has exactly what it had."""
    p = servers()
    rdir = tempfile.mkdtemp(prefix="stash-test-")
    r = servers("--appendonly", "yes", "--appendfsync", "always", dir=rdir)
    rc0 = r.c()
    rc0.set("replica-only-old-key", "gone after the sync")
    pc = p.c()
    for i in range(200):
        pc.set("k%d" % i, "v%d" % i)
    rc = replicate(r, p)
    wait_for(lambda: info(rc, "persistence")["aof_rewrite_in_progress"] == 0 and
             info(rc, "persistence")["aof_rewrites"] >= 1, 20, "the replica's AOF rewrite")
    pc.incr("counter")
    pc.rpush("list", "a", "b")
    pc.delete("k7")
    caught_up(pc, rc)
    want = rc.execute_command("DEBUG", "DIGEST")
    assert want == pc.execute_command("DEBUG", "DIGEST")
    port = r.port
    os.kill(r.pid, 9)
    r.proc.wait()
    r2 = servers("--appendonly", "yes", dir=rdir, port=port)
    rc2 = r2.c()
    assert rc2.execute_command("DEBUG", "DIGEST") == want
    assert rc2.get("replica-only-old-key") is None and rc2.get("counter") == "1" and rc2.get("k7") is None
