"""ACL changes under load (also run under ThreadSanitizer): restricted users
run commands on every worker while an admin connection keeps changing their
rules, deleting and re-creating a user, reading ACL LOG and ACL LIST. Every
reply must be one the rules allowed at some moment (never half-applied
rules), and the clients of a deleted user must be closed. Bounded in time."""
import os
import threading
import time

import pytest

from conftest import Raw, RespError

pytestmark = pytest.mark.stress

SECONDS = float(os.environ.get("STASH_STRESS_SECONDS", "3"))
NOPERM_KEYS = RespError("NOPERM this user has no permissions to access one of the keys used as arguments")
NOPERM_SET = RespError("NOPERM this user has no permissions to run the 'set' command")


def test_rules_change_under_load(server):
    admin = Raw(server.port)
    admin.cmd("ACL", "SETUSER", "worker", "on", ">pw", "+get", "+set", "~a*")
    stop = time.time() + SECONDS
    errors = []

    def work(n):
        c = Raw(server.port)
        assert c.cmd("AUTH", "worker", "pw") == b"OK"
        i = 0
        while time.time() < stop and not errors:
            i += 1
            # State A: ~a* and +set. State B: ~b* and -set. Never a mix.
            got = c.cmd("SET", "a%d" % n, str(i))
            if got not in (b"OK", NOPERM_SET):
                errors.append(("set", got))
            got = c.cmd("GET", "b%d" % n)
            if got not in (None, NOPERM_KEYS):
                errors.append(("get", got))
        c.close()

    def victims():
        while time.time() < stop and not errors:
            admin2 = Raw(server.port)
            admin2.cmd("ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*")
            v = Raw(server.port)
            if v.cmd("AUTH", "temp", "pw") != b"OK":
                errors.append("auth temp")
            admin2.cmd("ACL", "DELUSER", "temp")
            if not v.closed(timeout=5):
                errors.append("client of a deleted user still open")
            v.close()
            admin2.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)] + [threading.Thread(target=victims)]
    for t in threads:
        t.start()
    flips = 0
    while time.time() < stop and not errors:
        admin.cmd("ACL", "SETUSER", "worker", "resetkeys", "~b*", "-set")
        admin.cmd("ACL", "SETUSER", "worker", "resetkeys", "~a*", "+set")
        admin.cmd("ACL", "LOG", "5")
        admin.cmd("ACL", "LIST")
        flips += 1
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert flips > 0
    admin.cmd("ACL", "DELUSER", "worker")
    admin.close()
