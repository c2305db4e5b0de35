#!/usr/bin/python3
"""Encryption at rest: what it costs a snapshot and a start-up.

    bench/encryption.py [--keys 1000000] [--value 100] [--rounds 3] [--stash build/src/stash-server]

One Stash server, DEBUG POPULATE `keys` keys of `value`-byte values, then,
alternating plain and encrypted (CONFIG SET encryption-key-file) for
`rounds` rounds:
  save_s   SAVE wall time (the snapshot on the calling worker, fsync included)
  load_s   a fresh server started on that dump.rdb: its "DB loaded from
           disk: N seconds" line (an encrypted file is authenticated whole,
           then decrypted while it loads)
  file_mb  the file's size
Prints medians as a Markdown table with the encrypted/plain ratio. Only
loopback traffic; servers are stopped by PID.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Srv:
    def __init__(self, binary, d, *args):
        self.port = free_port()
        self.log = os.path.join(d, "server-%d.log" % self.port)
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", d,
                                      "--save", "", "--logfile", self.log, "--enable-debug-command", "yes"] +
                                     list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=600)
        deadline = time.time() + 600
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.log).read()[-2000:])
            try:
                if self.c.info("persistence")["loading"] == 0:
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def load_seconds(self):
        m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", open(self.log).read())
        return float(m[-1])

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stash", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "stash-server"))
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="stash-crypt-bench-")
    key = os.path.join(d, "bench.key")
    with open(key, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(key, 0o600)
    res = {"plain": {"save_s": [], "load_s": [], "file_mb": []}, "encrypted": {"save_s": [], "load_s": [], "file_mb": []}}
    main_srv = Srv(a.stash, d)
    try:
        main_srv.c.execute_command("DEBUG", "POPULATE", a.keys, "key", a.value)
        for _ in range(a.rounds):
            for mode in ("plain", "encrypted"):
                main_srv.c.config_set("encryption-key-file", key if mode == "encrypted" else "")
                t0 = time.perf_counter()
                main_srv.c.save()
                res[mode]["save_s"].append(time.perf_counter() - t0)
                res[mode]["file_mb"].append(os.path.getsize(os.path.join(d, "dump.rdb")) / 1e6)
                s = Srv(a.stash, d, *(["--encryption-key-file", key] if mode == "encrypted" else []))
                try:
                    assert s.c.dbsize() == a.keys
                    res[mode]["load_s"].append(s.load_seconds())
                finally:
                    s.stop()
    finally:
        main_srv.stop()
        shutil.rmtree(d, ignore_errors=True)
    print("| %d keys, %d-byte values (median of %d) | plain | encrypted | encrypted/plain |" %
          (a.keys, a.value, a.rounds))
    print("|---|---|---|---|")
    for label, k in (("SAVE (s)", "save_s"), ("load at start-up (s)", "load_s"), ("dump.rdb (MB)", "file_mb")):
        p, e = statistics.median(res["plain"][k]), statistics.median(res["encrypted"][k])
        print("| %s | %.3f | %.3f | %.3f |" % (label, p, e, e / p if p else float("nan")))


if __name__ == "__main__":
    main()
