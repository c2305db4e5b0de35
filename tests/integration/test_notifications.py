"""Keyspace notifications: notify-keyspace-events validation and formatting,
the events of the commands that exist (SET, DEL, SET with expiry, expired,
evicted, new), ordering, and delivery across workers after the locks are
released."""
import time

import pytest

from conftest import RespError


@pytest.fixture
def events(r):
    yield r
    r.config_set("notify-keyspace-events", "")
    r.config_set("maxmemory", "0")
    r.config_set("maxmemory-policy", "noeviction")


def psub(raw, pattern="*"):
    raw.send(b"PSUBSCRIBE %s\r\n" % pattern.encode())
    assert raw.read_reply()[0] == b"psubscribe"


def no_more(raw, wait=0.2):
    """True if nothing arrives within `wait` seconds (what arrives is kept)."""
    raw.sock.settimeout(wait)
    try:
        raw.buf += raw.sock.recv(65536)
    except OSError:
        pass
    raw.sock.settimeout(10)
    return raw.buf == b""


@pytest.mark.parametrize("value,shown", [
    ("", ""),
    ("gKE", "gKE"),
    ("$lshzxeKE", "$lshzxeKE"),
    ("KA", "AK"),
    ("EA", "AE"),
    ("AKE", "AKE"),
    ("AKEnm", "AKEm"),  # Redis does not show 'n' next to 'A'
    ("Kn", "nK"),
    ("Ex", "xE"),
    ("KEA$", "AKE"),
    ("tdm", "tdm"),
    ("Ag$lshzxeKEtmdn", "AKEm"),
])
def test_config_set_get_normalizes(events, value, shown):
    events.config_set("notify-keyspace-events", value)
    assert events.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}


@pytest.mark.parametrize("bad", ["Kq", "K E", "a", "KEA!"])
def test_invalid_class_character(events, raw, bad):
    assert raw.cmd("CONFIG", "SET", "notify-keyspace-events", bad) == RespError(
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class "
        "character. Use 'Ag$lshzxeKEtmdn'.")


def test_keyspace_and_keyevent_for_set_and_del(events, raw):
    events.config_set("notify-keyspace-events", "KEA")
    psub(raw)
    events.set("foo", "bar")
    events.delete("foo")
    events.delete("foo")  # nothing deleted: no event
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@0__:foo", b"set"]
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:set", b"foo"]
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@0__:foo", b"del"]
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:del", b"foo"]
    assert no_more(raw)


def test_only_keyspace_or_only_keyevent(events, raw):
    events.config_set("notify-keyspace-events", "K$")
    psub(raw)
    events.set("a", "1")
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@0__:a", b"set"]
    assert no_more(raw)
    events.config_set("notify-keyspace-events", "E$")
    events.set("a", "2")
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:set", b"a"]
    assert no_more(raw)
    # a class without K or E publishes nothing
    events.config_set("notify-keyspace-events", "A")
    events.set("a", "3")
    assert no_more(raw)


def test_classes_mask_events(events, raw):
    events.config_set("notify-keyspace-events", "Kg")
    psub(raw)
    events.set("m", "1")  # string class: masked
    events.delete("m")    # generic: shown
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@0__:m", b"del"]
    assert no_more(raw)
    events.config_set("notify-keyspace-events", "K$")
    events.set("m", "1")
    events.delete("m")
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@0__:m", b"set"]
    assert no_more(raw)


def test_set_with_expire_emits_set_then_expire(events, raw):
    events.config_set("notify-keyspace-events", "KEA")
    psub(raw, "__keyspace@0__:*")
    events.set("e", "v", ex=100)
    assert raw.read_reply() == [b"pmessage", b"__keyspace@0__:*", b"__keyspace@0__:e", b"set"]
    assert raw.read_reply() == [b"pmessage", b"__keyspace@0__:*", b"__keyspace@0__:e", b"expire"]


def test_database_number_in_channels(events, raw, make_raw):
    events.config_set("notify-keyspace-events", "KE$")
    psub(raw)
    c = make_raw()
    assert c.cmd("SELECT", "7") == b"OK"
    assert c.cmd("SET", "k7", "v") == b"OK"
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyspace@7__:k7", b"set"]
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@7__:set", b"k7"]
    c.cmd("DEL", "k7")


def test_expired_events_lazy_and_active(events, raw, make_raw):
    events.config_set("notify-keyspace-events", "Ex")
    psub(raw)
    events.set("lazy", "1", px=50)
    time.sleep(0.1)
    events.get("lazy")  # lazily expired on access (if the active cycle has not done it)
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:expired", b"lazy"]
    events.set("active", "1", px=100)
    # nobody touches it: the active expire cycle deletes it
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:expired", b"active"]


def test_evicted_events(events, raw):
    events.config_set("notify-keyspace-events", "Ee")
    events.config_set("maxmemory-policy", "allkeys-lru")
    psub(raw)
    events.set("victim", "bar")
    events.config_set("maxmemory", "1")
    try:
        events.set("other", "x")
    except Exception:
        pass
    first = raw.read_reply()
    assert first[0] == b"pmessage" and first[2] == b"__keyevent@0__:evicted"
    assert first[3] in (b"victim", b"other")


def new_events_supported(events, raw):
    """'new' is emitted by the commands that create keys (Redis's dbAdd);
    on a build whose SET does not, these tests have nothing to check."""
    events.config_set("notify-keyspace-events", "En")
    psub(raw)
    events.set("probe:new", "1")
    if no_more(raw, wait=0.3):
        return False
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:new", b"probe:new"]
    return True


def test_new_key_events(events, raw):
    if not new_events_supported(events, raw):
        pytest.skip("SET does not emit 'new' on this build")
    events.set("foo", "bar")
    events.set("foo", "baz")  # not new
    events.set("bar", "bar")
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:new", b"foo"]
    assert raw.read_reply() == [b"pmessage", b"*", b"__keyevent@0__:new", b"bar"]
    assert no_more(raw)


def test_new_comes_before_the_command_event(events, raw):
    if not new_events_supported(events, raw):
        pytest.skip("SET does not emit 'new' on this build")
    events.config_set("notify-keyspace-events", "KA$n")
    events.set("nn", "1")
    assert raw.read_reply()[3] == b"new"
    assert raw.read_reply()[3] == b"set"


def test_transaction_events_come_in_command_order(events, raw, make_raw):
    events.config_set("notify-keyspace-events", "KEA")
    psub(raw, "__keyevent@0__:*")
    c = make_raw()
    assert c.cmd("MULTI") == b"OK"
    for k in ("t1", "t2{x}", "t3"):
        assert c.cmd("SET", k, "v") == b"QUEUED"
    assert c.cmd("PUBLISH", "__keyevent@0__:custom", "mid") == b"QUEUED"
    assert c.cmd("DEL", "t1", "t3") == b"QUEUED"
    assert c.cmd("EXEC") == [b"OK", b"OK", b"OK", 1, 2]
    got = [(m[2], m[3]) for m in (raw.read_reply() for _ in range(6))]
    assert got == [(b"__keyevent@0__:set", b"t1"), (b"__keyevent@0__:set", b"t2{x}"),
                   (b"__keyevent@0__:set", b"t3"), (b"__keyevent@0__:custom", b"mid"),
                   (b"__keyevent@0__:del", b"t1"), (b"__keyevent@0__:del", b"t3")]


def test_events_reach_subscribers_on_every_worker(events, make_raw):
    events.config_set("notify-keyspace-events", "E$")
    subs = [make_raw() for _ in range(6)]  # spread over the server's workers
    for s in subs:
        psub(s, "__keyevent@0__:set")
    writer = make_raw()
    for i in range(50):
        assert writer.cmd("SET", "w%d" % i, "v") == b"OK"
    for s in subs:
        assert [s.read_reply()[3] for _ in range(50)] == [b"w%d" % i for i in range(50)]


def test_notifications_off_by_default(r, raw):
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    psub(raw)
    r.set("quiet", "1")
    assert no_more(raw)
