"""CLIENT: ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE REPLY NO-EVICT
GETREDIR HELP, with Redis 7.0's exact replies and errors. The server runs
two worker threads: CLIENT LIST / KILL must see the clients of both."""
import re
import socket
import threading
import time

import pytest

from conftest import Raw, RespError

LINE_RE = re.compile(
    r"^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=(\S*) age=\d+ idle=\d+ flags=(\w+) "
    r"db=(\d+) sub=(\d+) psub=(\d+) ssub=0 multi=(-?\d+) qbuf=(\d+) qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ "
    r"rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=(r|rw) cmd=(\S+) user=default redir=-1 "
    r"resp=(\d)$")


def parse_list(text):
    if isinstance(text, bytes):
        text = text.decode()
    assert text == "" or text.endswith("\n")
    out = []
    for line in text.splitlines():
        m = LINE_RE.match(line)
        assert m, line
        out.append(dict(id=int(m.group(1)), name=m.group(2), flags=m.group(3), db=int(m.group(4)),
                        sub=int(m.group(5)), psub=int(m.group(6)), multi=int(m.group(7)), qbuf=int(m.group(8)),
                        cmd=m.group(10), resp=int(m.group(11)), line=line))
    return out


def wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def open_during_busy(port, n):
    """Open n raw connections: an idle server hands new connections to the
    same worker, so the first half is opened idle and the second half while
    that worker is busy with a long pipeline (the other worker takes them)."""
    first = [Raw(port) for _ in range(n // 2)]
    for c in first:
        assert c.cmd("PING") == b"PONG"
    busy = socket.create_connection(("127.0.0.1", port))
    count = 200000
    payload = b"*1\r\n$4\r\nPING\r\n" * count
    need = len(b"+PONG\r\n") * count

    def drain():
        got = 0
        while got < need:
            chunk = busy.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)

    t = threading.Thread(target=drain)
    t.start()
    busy.sendall(payload[: len(payload) // 2])
    conns = first + [Raw(port) for _ in range(n - n // 2)]
    busy.sendall(payload[len(payload) // 2:])
    t.join(30)
    busy.close()
    for c in conns:
        assert c.cmd("PING") == b"PONG"
    return conns


def same_worker_ids(raw):
    """Ids of the clients on raw's worker: CLIENT LIST inside EXEC is
    limited to the caller's worker (a transaction cannot wait)."""
    assert raw.cmd("MULTI") == b"OK"
    assert raw.cmd("CLIENT", "LIST") == b"QUEUED"
    return {x["id"] for x in parse_list(raw.cmd("EXEC")[0])}


def spread_connections(port, n):
    """n connections of which some are on conns[0]'s worker and some on the
    other one (retried until the kernel spread them)."""
    for _ in range(10):
        conns = open_during_busy(port, n)
        mine = same_worker_ids(conns[0])
        ids = [c.cmd("CLIENT", "ID") for c in conns]
        if any(i in mine for i in ids[1:]) and any(i not in mine for i in ids[1:]):
            return conns
        for c in conns:
            c.close()
    pytest.fail("could not get connections on both workers")


# ---- ID / names / INFO ---------------------------------------------------------------


def test_client_id_increases(raw, make_raw):
    a = raw.cmd("CLIENT", "ID")
    b = make_raw().cmd("CLIENT", "ID")
    assert isinstance(a, int) and b > a


def test_setname_getname(raw):
    assert raw.cmd("CLIENT", "GETNAME") is None
    assert raw.cmd("CLIENT", "SETNAME", "alpha") == b"OK"
    assert raw.cmd("CLIENT", "GETNAME") == b"alpha"
    assert parse_list(raw.cmd("CLIENT", "INFO"))[0]["name"] == "alpha"
    assert raw.cmd("CLIENT", "SETNAME", "") == b"OK"
    assert raw.cmd("CLIENT", "GETNAME") is None
    err = RespError("ERR Client names cannot contain spaces, newlines or special characters.")
    assert raw.cmd("CLIENT", "SETNAME", "a b") == err
    assert raw.cmd("CLIENT", "SETNAME", "a\nb") == err
    assert raw.cmd("CLIENT", "SETNAME", "\xe9") == err
    assert raw.cmd("CLIENT", "SETNAME") == RespError("ERR wrong number of arguments for 'client|setname' command")


def test_client_info_fields(raw):
    info = parse_list(raw.cmd("CLIENT", "INFO"))
    assert len(info) == 1
    me = info[0]
    assert me["id"] == raw.cmd("CLIENT", "ID")
    assert me["flags"] == "N" and me["db"] == 0 and me["multi"] == -1 and me["sub"] == 0
    assert me["cmd"] == "client|info" and me["qbuf"] == 26 and me["resp"] == 2


def test_client_info_resp3_is_verbatim(raw):
    raw.cmd("HELLO", "3")
    raw.send(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n")
    head = raw.read_line()
    assert head.startswith(b"=")
    body = raw.read_exactly(int(head[1:]) + 2)[:-2]
    assert body.startswith(b"txt:id=") and body.endswith(b"resp=3\n")


def test_client_list_shape(raw, make_raw):
    other = make_raw()
    other.cmd("SELECT", "3")
    other.cmd("CLIENT", "SETNAME", "other")
    lines = parse_list(raw.cmd("CLIENT", "LIST"))
    me = [x for x in lines if x["id"] == raw.cmd("CLIENT", "ID")][0]
    assert me["cmd"] == "client|list" and me["flags"] == "N" and me["qbuf"] == 26
    o = [x for x in lines if x["name"] == "other"][0]
    assert o["db"] == 3 and o["cmd"] == "client|setname"
    ids = [x["id"] for x in lines]
    assert ids == sorted(ids)  # creation order, as Redis lists them


def test_client_list_flags(raw, make_raw):
    sub = make_raw()
    sub.cmd("SUBSCRIBE", "ch")
    tx = make_raw()
    tx.cmd("MULTI")
    tx.cmd("PING")
    ne = make_raw()
    assert ne.cmd("CLIENT", "NO-EVICT", "on") == b"OK"
    by_cmd = {x["cmd"]: x for x in parse_list(raw.cmd("CLIENT", "LIST"))}
    assert by_cmd["subscribe"]["flags"] == "P" and by_cmd["subscribe"]["sub"] == 1
    assert by_cmd["ping"]["flags"] == "x" and by_cmd["ping"]["multi"] == 1
    assert by_cmd["client|no-evict"]["flags"] == "e"
    assert ne.cmd("CLIENT", "NO-EVICT", "off") == b"OK"
    assert ne.cmd("CLIENT", "NO-EVICT", "maybe") == RespError("ERR syntax error")


def test_client_list_type_and_id(raw, make_raw):
    sub = make_raw()
    sub.cmd("SUBSCRIBE", "ch")
    sub_lines = parse_list(raw.cmd("CLIENT", "LIST", "TYPE", "pubsub"))
    assert [x["cmd"] for x in sub_lines] == ["subscribe"]
    normal = parse_list(raw.cmd("CLIENT", "LIST", "TYPE", "normal"))
    assert all(x["flags"] != "P" for x in normal) and len(normal) >= 1
    assert raw.cmd("CLIENT", "LIST", "TYPE", "master") == b""
    assert raw.cmd("CLIENT", "LIST", "TYPE", "replica") == b""
    assert raw.cmd("CLIENT", "LIST", "TYPE", "slave") == b""
    assert raw.cmd("CLIENT", "LIST", "TYPE", "wrong") == RespError("ERR Unknown client type 'wrong'")
    me = raw.cmd("CLIENT", "ID")
    other = make_raw()
    oid = other.cmd("CLIENT", "ID")
    got = parse_list(raw.cmd("CLIENT", "LIST", "ID", oid, me, 999999))
    assert [x["id"] for x in got] == [oid, me]  # in the order asked
    assert raw.cmd("CLIENT", "LIST", "ID", "abc") == RespError("ERR Invalid client ID")
    assert raw.cmd("CLIENT", "LIST", "FOO") == RespError("ERR syntax error")
    assert raw.cmd("CLIENT", "LIST", "TYPE") == RespError("ERR syntax error")


def test_client_list_sees_every_worker(server):
    conns = spread_connections(server.port, 12)
    try:
        asker = conns[0]
        ids = {c.cmd("CLIENT", "ID") for c in conns}
        listed = {x["id"] for x in parse_list(asker.cmd("CLIENT", "LIST"))}
        assert ids <= listed
        # Inside EXEC only the caller's worker is visible: fewer clients.
        assert len(same_worker_ids(asker)) < len(listed)
    finally:
        for c in conns:
            c.close()


def test_client_getredir_and_help(raw):
    assert raw.cmd("CLIENT", "GETREDIR") == -1
    help_ = raw.cmd("CLIENT", "HELP")
    assert help_[0] == b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_[-2:] == [b"HELP", b"    Prints this help."]
    assert b"PAUSE <timeout> [WRITE|ALL]" in help_
    assert raw.cmd("CLIENT", "NOPE") == RespError("ERR unknown subcommand 'NOPE'. Try CLIENT HELP.")
    assert raw.cmd("CLIENT") == RespError("ERR wrong number of arguments for 'client' command")


# ---- KILL ------------------------------------------------------------------------------


def test_client_kill_errors(raw):
    assert raw.cmd("CLIENT", "KILL") == RespError("ERR wrong number of arguments for 'client|kill' command")
    assert raw.cmd("CLIENT", "KILL", "ID", "10", "wrong_arg") == RespError("ERR syntax error")
    for bad in ("str", "-1", "0"):
        assert raw.cmd("CLIENT", "KILL", "ID", bad) == RespError("ERR client-id should be greater than 0")
    assert raw.cmd("CLIENT", "KILL", "TYPE", "wrong_type") == RespError("ERR Unknown client type 'wrong_type'")
    assert raw.cmd("CLIENT", "KILL", "USER", "wrong_user") == RespError("ERR No such user 'wrong_user'")
    assert raw.cmd("CLIENT", "KILL", "SKIPME", "yes_or_no") == RespError("ERR syntax error")
    assert raw.cmd("CLIENT", "KILL", "1.2.3.4:5") == RespError("ERR No such client")
    assert raw.cmd("CLIENT", "KILL", "ID", "999999") == 0


def test_client_kill_by_id_on_both_workers(server):
    conns = spread_connections(server.port, 10)
    asker, victims = conns[0], conns[1:]
    try:
        for v in victims:
            assert asker.cmd("CLIENT", "KILL", "ID", v.cmd("CLIENT", "ID")) == 1
        for v in victims:
            assert v.closed()
        assert asker.cmd("PING") == b"PONG"
    finally:
        for c in conns:
            c.close()


def test_client_kill_old_form_and_addr(raw, make_raw):
    a = make_raw()
    addr = parse_list(a.cmd("CLIENT", "INFO"))[0]["line"].split()[1][5:]
    assert raw.cmd("CLIENT", "KILL", addr) == b"OK"
    assert a.closed()
    b = make_raw()
    info = parse_list(b.cmd("CLIENT", "INFO"))[0]["line"]
    baddr = info.split()[1][5:]
    assert raw.cmd("CLIENT", "KILL", "ADDR", baddr, "SKIPME", "yes") == 1
    assert b.closed()
    assert raw.cmd("CLIENT", "KILL", "ADDR", baddr) == 0


def test_client_kill_laddr_user_type(server, make_raw):
    asker = make_raw()
    victims = [make_raw() for _ in range(3)]
    laddr = "127.0.0.1:%d" % server.port
    sub = make_raw()
    sub.cmd("SUBSCRIBE", "x")
    assert asker.cmd("CLIENT", "KILL", "TYPE", "pubsub") == 1
    assert sub.closed()
    n = asker.cmd("CLIENT", "KILL", "LADDR", laddr, "USER", "default")
    assert n >= 3  # every connection but the caller (and the fixture's own)
    for v in victims:
        assert v.closed()
    assert asker.cmd("PING") == b"PONG"


def test_client_kill_maxage(raw, make_raw):
    young = make_raw()
    young.cmd("PING")
    assert raw.cmd("CLIENT", "KILL", "MAXAGE", "100", "ID", young.cmd("CLIENT", "ID")) == 0
    assert raw.cmd("CLIENT", "KILL", "MAXAGE", "notanumber") == RespError(
        "ERR maxage is not an integer or out of range")


def test_client_kill_skipme_no_kills_self_after_reply(server):
    conns = spread_connections(server.port, 6)
    asker = conns[0]
    try:
        n = asker.cmd("CLIENT", "KILL", "SKIPME", "no")
        assert n >= 6  # every client, the caller included: it got its reply first
        assert asker.closed()
        for c in conns[1:]:
            assert c.closed()
    finally:
        for c in conns:
            c.close()


def test_client_kill_skipme_yes_keeps_caller(make_raw):
    asker = make_raw()
    others = [make_raw() for _ in range(3)]
    before = len(parse_list(asker.cmd("CLIENT", "LIST")))
    assert asker.cmd("CLIENT", "KILL", "SKIPME", "yes") == before - 1
    for o in others:
        assert o.closed()
    assert asker.cmd("PING") == b"PONG"


# ---- REPLY ------------------------------------------------------------------------------


def test_client_reply_off_on(raw):
    raw.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n")
    raw.send(b"*2\r\n$4\r\nPING\r\n$4\r\npong\r\n")
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
    assert raw.cmd("CLIENT", "REPLY", "ON") == b"OK"
    assert raw.cmd("GET", "k") == b"v"


def test_client_reply_skip(raw):
    raw.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
    raw.send(b"*2\r\n$4\r\nPING\r\n$1\r\na\r\n")
    assert raw.cmd("PING", "b") == b"b"


def test_client_reply_on_clears_skip(raw):
    raw.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
    assert raw.cmd("CLIENT", "REPLY", "ON") == b"OK"
    assert raw.cmd("PING") == b"PONG"


def test_client_reply_silences_errors_and_fanouts(raw):
    raw.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n")
    raw.send(b"*1\r\n$7\r\nNOSUCH!\r\n")
    raw.send(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
    assert raw.cmd("CLIENT", "REPLY", "ON") == b"OK"
    assert raw.cmd("CLIENT", "REPLY", "MAYBE") == RespError("ERR syntax error")


# ---- PAUSE ------------------------------------------------------------------------------


def test_client_pause_write_blocks_writes_not_reads(raw, make_raw):
    raw.cmd("SET", "k", "old")
    assert raw.cmd("CLIENT", "PAUSE", "100000", "WRITE") == b"OK"
    try:
        reader = make_raw()
        assert reader.cmd("GET", "k") == b"old"
        assert reader.cmd("PING") == b"PONG"
        writer = make_raw()
        writer.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nnew\r\n")
        writer.sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            writer.read_reply()
        writer.sock.settimeout(10)
        assert reader.cmd("GET", "k") == b"old"
        start = time.time()
        assert raw.cmd("CLIENT", "UNPAUSE") == b"OK"
        assert writer.read_reply() == b"OK"
        assert time.time() - start < 0.09  # prompt, not at the next cron tick
        assert reader.cmd("GET", "k") == b"new"
    finally:
        raw.cmd("CLIENT", "UNPAUSE")


def test_client_pause_all_blocks_reads_and_expires(raw, make_raw):
    other = make_raw()
    assert raw.cmd("CLIENT", "PAUSE", "300") == b"OK"
    start = time.time()
    other.send(b"*1\r\n$4\r\nPING\r\n")
    assert other.read_reply() == b"PONG"
    assert time.time() - start >= 0.2


def test_client_pause_errors(raw):
    assert raw.cmd("CLIENT", "PAUSE", "abc") == RespError("ERR timeout is not an integer or out of range")
    assert raw.cmd("CLIENT", "PAUSE", "-1") == RespError("ERR timeout is negative")
    assert raw.cmd("CLIENT", "PAUSE", "10", "READ") == RespError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    assert raw.cmd("CLIENT", "PAUSE") == RespError("ERR wrong number of arguments for 'client|pause' command")
    assert raw.cmd("CLIENT", "PAUSE", "10", "ALL", "X") == RespError(
        "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.")
    assert raw.cmd("CLIENT", "PAUSE", "0", "ALL") == b"OK"
    assert raw.cmd("PING") == b"PONG"
    assert raw.cmd("CLIENT", "UNPAUSE") == b"OK"


def test_client_pause_keeps_expired_keys_until_unpause(raw):
    def expired():
        line = [x for x in raw.cmd("INFO", "stats").decode().split("\r\n") if x.startswith("expired_keys:")][0]
        return int(line.split(":")[1])

    raw.cmd("FLUSHALL")
    before = expired()
    assert raw.cmd("SET", "volatile", "v", "PX", "50") == b"OK"
    assert raw.cmd("CLIENT", "PAUSE", "100000", "WRITE") == b"OK"
    try:
        time.sleep(0.2)
        assert raw.cmd("GET", "volatile") is None  # logically expired...
        assert expired() == before  # ...but not deleted (that would be a write)
    finally:
        assert raw.cmd("CLIENT", "UNPAUSE") == b"OK"
    assert raw.cmd("GET", "volatile") is None
    assert expired() == before + 1


def test_client_kill_inside_exec(raw, make_raw):
    # Inside EXEC only the caller's worker is searched: pick a victim there.
    candidates = [make_raw() for _ in range(4)]
    mine = same_worker_ids(raw)
    victims = [v for v in candidates if v.cmd("CLIENT", "ID") in mine]
    if not victims:
        pytest.skip("no connection landed on the caller's worker")
    victim = victims[0]
    victim.cmd("WATCH", "somekey")
    vid = victim.cmd("CLIENT", "ID")
    raw.cmd("MULTI")
    raw.cmd("SET", "otherkey", "1")
    raw.cmd("CLIENT", "KILL", "ID", vid)
    raw.cmd("GET", "otherkey")
    assert raw.cmd("EXEC") == [b"OK", 1, b"1"]
    assert victim.closed()
