"""UNLINK frees big values in the background (Redis's free effort above
64), counted in INFO lazyfreed_objects; DEL and small values are freed at
once; FLUSHALL ASYNC counts its keys; CONFIG RESETSTAT clears the count."""
import time


def info(r, field):
    return int(r.info("memory" if field.startswith("lazyfree") else "all")[field])


def wait_done(r):
    deadline = time.time() + 5
    while info(r, "lazyfree_pending_objects") and time.time() < deadline:
        time.sleep(0.01)


def test_unlink_big_value_counts_once(r):
    r.config_resetstat()
    r.sadd("big", *range(5000))
    r.sadd("small", 1, 2, 3)
    r.rpush("list", *range(20000))
    assert r.unlink("big", "small", "list", "missing") == 3
    wait_done(r)
    assert info(r, "lazyfreed_objects") == 2
    assert r.exists("big", "small", "list") == 0


def test_del_is_synchronous(r):
    r.config_resetstat()
    r.sadd("big", *range(5000))
    assert r.delete("big") == 1
    wait_done(r)
    assert info(r, "lazyfreed_objects") == 0


def test_flushall_async_counts_keys(r):
    r.config_resetstat()
    r.mset({"k%d" % i: i for i in range(100)})
    r.flushall(asynchronous=True)
    wait_done(r)
    assert info(r, "lazyfreed_objects") == 100
    r.config_resetstat()
    assert info(r, "lazyfreed_objects") == 0


def test_no_writes_scripts_run_during_pause_write(server, r):
    """Redis's getCommandFlags: a script that declares no-writes is not a
    write for CLIENT PAUSE WRITE (nor for OOM and MISCONF)."""
    r.function_load("#!lua name=plib\nredis.register_function{function_name='ro_f', "
                    "callback=function() return 'hello' end, flags={'no-writes'}}", replace=True)
    other = server.client()
    r.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        assert other.eval("#!lua flags=no-writes\nreturn 'ro script'", 0) == b"ro script"
        assert other.fcall("ro_f", 0) == b"hello"
        assert other.get("nothing") is None
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
        other.close()
        r.function_flush()
