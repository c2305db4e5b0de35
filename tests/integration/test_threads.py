"""Connections are spread over the worker threads, and a slow command on
one worker does not stall clients of the others."""
import threading
import time

import pytest

from conftest import Server


@pytest.fixture(scope="module")
def srv2():
    s = Server("--enable-debug-command", "yes", threads=2)
    yield s
    s.stop()


def test_new_connections_alternate_between_workers(srv2):
    clients = [srv2.client() for _ in range(6)]
    for c in clients:
        c.ping()
    # DEBUG SLEEP blocks only the worker thread of its connection.
    t = threading.Thread(target=lambda: clients[0].execute_command("DEBUG", "SLEEP", "0.6"))
    t.start()
    time.sleep(0.15)
    fast = 0
    for c in clients[1:]:
        start = time.time()
        c.ping()
        if time.time() - start < 0.2:
            fast += 1
    t.join()
    # Round-robin hand-off: connections 1, 3, 5 are on the other worker.
    assert fast >= 3
    for c in clients:
        c.close()
