"""ACL users and permissions (Redis 7.0): ACL SETUSER / GETUSER / DELUSER /
LIST / USERS / WHOAMI / CAT / GENPASS / LOG / DRYRUN / HELP, every rule type,
enforcement per command, per key pattern (read vs write), per channel, with
selectors, in MULTI/EXEC, SORT BY/GET, and the clients a change closes.
Expected replies are Redis 7.0.15's (checked side by side with redis-server)."""
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import Raw, RespError, Server

ADMIN_PW = "adminpw"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def admin(server):
    """The default user's connection; every test starts from a clean ACL."""
    c = Raw(server.port)
    assert c.cmd("FLUSHALL") == b"OK"
    for name in c.cmd("ACL", "USERS"):
        if name != b"default":
            c.cmd("ACL", "DELUSER", name)
    assert c.cmd("ACL", "SETUSER", "default", "on", "nopass", "clearselectors", "allkeys", "allchannels",
                 "allcommands") == b"OK"
    assert c.cmd("ACL", "LOG", "RESET") == b"OK"
    assert c.cmd("CONFIG", "SET", "acl-pubsub-default", "resetchannels") == b"OK"
    yield c
    c.close()


@pytest.fixture
def login(server):
    conns = []

    def make(user, pw="pw"):
        c = Raw(server.port)
        conns.append(c)
        assert c.cmd("AUTH", user, pw) == b"OK"
        return c

    yield make
    for c in conns:
        c.close()


def err(text):
    return RespError(text)


def getuser(c, name):
    v = c.cmd("ACL", "GETUSER", name)
    return dict(zip(v[::2], v[1::2])) if v is not None else None


NOPERM_KEYS = err("NOPERM this user has no permissions to access one of the keys used as arguments")
NOPERM_CHANNELS = err("NOPERM this user has no permissions to access one of the channels used as arguments")


def noperm_cmd(name):
    return err("NOPERM this user has no permissions to run the '%s' command" % name)


# ---- SETUSER / GETUSER / LIST / USERS / DELUSER ---------------------------------------------------------------

def test_new_user_defaults_and_list(admin):
    assert admin.cmd("ACL", "WHOAMI") == b"default"
    assert admin.cmd("ACL", "SETUSER", "newuser") == b"OK"
    assert getuser(admin, "newuser") == {b"flags": [b"off"], b"passwords": [], b"commands": b"-@all", b"keys": b"",
                                          b"channels": b"", b"selectors": []}
    assert admin.cmd("ACL", "LIST") == [b"user default on nopass ~* &* +@all",
                                        b"user newuser off resetchannels -@all"]
    assert admin.cmd("ACL", "USERS") == [b"default", b"newuser"]
    assert admin.cmd("ACL", "GETUSER", "nosuch") is None


def test_setuser_rules_described_back(admin):
    assert admin.cmd("ACL", "SETUSER", "bob", "on", ">pw", "+@all", "-@dangerous", "~k*", "&ch", "(+get ~x)") == b"OK"
    pw = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"  # sha256("pw")
    assert admin.cmd("ACL", "LIST")[0] == (
        "user bob on #%s ~k* resetchannels &ch +@all -@dangerous (~x resetchannels -@all +get)" % pw).encode()
    assert getuser(admin, "bob") == {
        b"flags": [b"on"], b"passwords": [pw.encode()], b"commands": b"+@all -@dangerous", b"keys": b"~k*",
        b"channels": b"&ch",
        b"selectors": [[b"commands", b"-@all +get", b"keys", b"~x", b"channels", b""]]}


def test_getuser_resp3_shapes(server, admin):
    admin.cmd("ACL", "SETUSER", "r3", "on", "nopass")
    c = Raw(server.port)
    c.cmd("HELLO", "3")
    c.send(b"*3\r\n$3\r\nACL\r\n$7\r\nGETUSER\r\n$2\r\nr3\r\n")
    assert c.read_line() == b"%6"
    assert c.read_reply() == b"flags"
    assert c.read_line() == b"~2"  # a set
    c.close()


@pytest.mark.parametrize("rules,commands", [
    (["+@all", "-@string"], b"+@all -@string"),
    (["-@all", "+@string"], b"-@all +@string"),
    (["+@all", "-client|kill"], b"+@all -client|kill"),
    (["+memory|doctor"], b"-@all +memory|doctor"),
    (["+memory|doctor", "+memory"], b"-@all +memory"),
    (["+@all", "+client|id"], b"+@all"),
    (["+@all", "-memory"], b"+@all -memory"),
    (["-@all", "+select|0", "+select|1"], b"-@all +select|0 +select|1"),
    (["-@all", "+config", "-config|set"], b"-@all +config -config|set"),
    (["+@all", "-@string", "+incr", "-debug", "+debug|digest"], b"+@all -@string -debug +debug|digest +incr"),
    (["allcommands", "nocommands"], b"-@all"),
])
def test_commands_description(admin, rules, commands):
    assert admin.cmd("ACL", "SETUSER", "d", "reset", *rules) == b"OK"
    got = getuser(admin, "d")[b"commands"]
    # Redis orders single commands by its hash table (random): compare sets.
    assert got.split()[0] == commands.split()[0]
    assert sorted(got.split()) == sorted(commands.split())


def test_every_category_described_alone(admin):
    for cat in admin.cmd("ACL", "CAT"):
        cat = cat.decode()
        if not admin.cmd("ACL", "CAT", cat):
            continue  # a category with no command in this build (e.g. stream)
        admin.cmd("ACL", "SETUSER", "additive", "reset", "+@all", "-@" + cat)
        assert getuser(admin, "additive")[b"commands"] == ("+@all -@" + cat).encode()
        admin.cmd("ACL", "SETUSER", "restrictive", "reset", "-@all", "+@" + cat)
        assert getuser(admin, "restrictive")[b"commands"] == ("-@all +@" + cat).encode()


def test_key_and_channel_patterns(admin):
    assert admin.cmd("ACL", "SETUSER", "k", "%R~foo", "%W~foo", "%RW~bar", "%R~r*", "%W~w*") == b"OK"
    assert getuser(admin, "k")[b"keys"] == b"~foo ~bar %R~r* %W~w*"
    admin.cmd("ACL", "SETUSER", "k", "allkeys")
    assert getuser(admin, "k")[b"keys"] == b"~*"
    admin.cmd("ACL", "SETUSER", "k", "resetkeys", "~a", "~a")
    assert getuser(admin, "k")[b"keys"] == b"~a"
    admin.cmd("ACL", "SETUSER", "k", "&c1", "&c2", "&c1")
    assert getuser(admin, "k")[b"channels"] == b"&c1 &c2"
    admin.cmd("ACL", "SETUSER", "k", "allchannels")
    assert getuser(admin, "k")[b"channels"] == b"&*"
    admin.cmd("ACL", "SETUSER", "k", "resetchannels")
    assert getuser(admin, "k")[b"channels"] == b""


def test_passwords(admin):
    h4 = "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6"  # sha256("passwd4")
    admin.cmd("ACL", "SETUSER", "p", "on", ">p1", ">p2", ">p1", "#" + h4)
    assert len(getuser(admin, "p")[b"passwords"]) == 3
    c = Raw(admin.sock.getpeername()[1])
    assert c.cmd("AUTH", "p", "passwd4") == b"OK"
    assert c.cmd("AUTH", "p", "p1") == b"OK"
    admin.cmd("ACL", "SETUSER", "p", "<p1", "!" + h4)
    assert c.cmd("AUTH", "p", "p1") == err("WRONGPASS invalid username-password pair or user is disabled.")
    assert c.cmd("AUTH", "p", "p2") == b"OK"
    assert admin.cmd("ACL", "SETUSER", "p", "nopass") == b"OK"
    assert getuser(admin, "p")[b"flags"] == [b"on", b"nopass"] and getuser(admin, "p")[b"passwords"] == []
    assert c.cmd("AUTH", "p", "anything") == b"OK"
    admin.cmd("ACL", "SETUSER", "p", "resetpass")
    assert getuser(admin, "p")[b"flags"] == [b"on"]
    assert c.cmd("AUTH", "p", "anything") == err("WRONGPASS invalid username-password pair or user is disabled.")
    admin.cmd("ACL", "SETUSER", "p", "skip-sanitize-payload")
    assert getuser(admin, "p")[b"flags"] == [b"on", b"skip-sanitize-payload"]
    admin.cmd("ACL", "SETUSER", "p", "reset")
    assert getuser(admin, "p") == {b"flags": [b"off", b"sanitize-payload"], b"passwords": [], b"commands": b"-@all",
                                   b"keys": b"", b"channels": b"", b"selectors": []}
    c.close()


SETUSER_ERRORS = [
    (["~*", "~foo"], "'~foo': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does "
                     "not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
    (["&*", "&foo"], "'&foo': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
                     "does not have any effect. Try 'resetchannels' to start with an empty list of channels"),
    (["+nonexist"], "'+nonexist': Unknown command or category name in ACL"),
    (["+@nonexist"], "'+@nonexist': Unknown command or category name in ACL"),
    (["+config|get|x"], "'+config|get|x': Allowing first-arg of a subcommand is not supported"),
    (["+config|nosuch"], "'+config|nosuch': Unknown command or category name in ACL"),
    (["+get|a|b"], "'+get|a|b': Unknown command or category name in ACL"),
    (["-select|0"], "'-select|0': Unknown command or category name in ACL"),
    (["+config|"], "'+config|': Syntax error"),
    (["foo"], "'foo': Syntax error"),
    (["%X~a"], "'%X~a': Syntax error"),
    (["~a b"], "'~a b': Syntax error"),
    (["#abc"], "'#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
               "characters"),
    (["<nothere"], "'<nothere': The password you are trying to remove from the user does not exist"),
    ([")"], "')': Syntax error"),
    ([" () "], "' () ': Syntax error"),
    (["(on)"], "'(on)': Syntax error"),
    (["(&* &fail)"], "'(&* &fail)': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
                     "and does not have any effect. Try 'resetchannels' to start with an empty list of channels"),
]


@pytest.mark.parametrize("rules,message", SETUSER_ERRORS)
def test_setuser_errors_apply_nothing(admin, rules, message):
    assert admin.cmd("ACL", "SETUSER", "e", "on", *rules) == err("ERR Error in ACL SETUSER modifier " + message)
    assert admin.cmd("ACL", "GETUSER", "e") is None  # not even created


def test_setuser_other_errors(admin):
    assert admin.cmd("ACL", "SETUSER", "a b") == err("ERR Usernames can't contain spaces or null characters")
    assert admin.cmd("ACL", "SETUSER", "a\x00b") == err("ERR Usernames can't contain spaces or null characters")
    assert admin.cmd("ACL", "SETUSER", "x", "(") == err("ERR Unmatched parenthesis in acl selector starting at '('.")
    admin.cmd("ACL", "SETUSER", "x", "on", "+get")
    assert admin.cmd("ACL", "SETUSER", "x", "+set", "+nosuch") == err(
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL")
    assert getuser(admin, "x")[b"commands"] == b"-@all +get"  # +set was not applied


def test_selectors(admin):
    admin.cmd("ACL", "SETUSER", "s", "reset", "()")
    assert getuser(admin, "s")[b"selectors"] == [[b"commands", b"-@all", b"keys", b"", b"channels", b""]]
    admin.cmd("ACL", "SETUSER", "s", "clearselectors")
    assert getuser(admin, "s")[b"selectors"] == []
    admin.cmd("ACL", "SETUSER", "s", "(~key1 +get )", "( ~key2 +get )", "( ~key3", "+get)", "(~key4", "+get", ")")
    assert [dict(zip(x[::2], x[1::2]))[b"keys"] for x in getuser(admin, "s")[b"selectors"]] == [
        b"~key1", b"~key2", b"~key3", b"~key4"]


def test_deluser(admin, server):
    admin.cmd("ACL", "SETUSER", "a", "on", "nopass", "+@all", "~*")
    assert admin.cmd("ACL", "DELUSER", "default") == err("ERR The 'default' user cannot be removed")
    assert admin.cmd("ACL", "DELUSER", "a", "default") == err("ERR The 'default' user cannot be removed")
    assert admin.cmd("ACL", "USERS") == [b"a", b"default"]
    assert admin.cmd("ACL", "DELUSER", "a", "nosuch", "a") == 1
    assert admin.cmd("ACL", "USERS") == [b"default"]


# ---- CAT GENPASS DRYRUN HELP -------------------------------------------------------------------------------------

def test_cat(admin):
    cats = admin.cmd("ACL", "CAT")
    assert cats == [b"keyspace", b"read", b"write", b"set", b"sortedset", b"list", b"hash", b"string", b"bitmap",
                    b"hyperloglog", b"geo", b"stream", b"pubsub", b"admin", b"fast", b"slow", b"blocking",
                    b"dangerous", b"connection", b"transaction", b"scripting"]
    string = admin.cmd("ACL", "CAT", "STRING")
    assert sorted(string) == sorted([b"append", b"psetex", b"getset", b"strlen", b"getrange", b"getex", b"mset",
                                     b"incr", b"getdel", b"mget", b"get", b"setnx", b"decr", b"msetnx",
                                     b"incrbyfloat", b"setrange", b"incrby", b"setex", b"decrby", b"set", b"lcs",
                                     b"substr"])
    assert b"multi" in admin.cmd("ACL", "CAT", "transaction")
    assert b"client|kill" in admin.cmd("ACL", "CAT", "admin")
    assert b"set" not in admin.cmd("ACL", "CAT", "keyspace")
    assert admin.cmd("ACL", "CAT", "nosuch") == err("ERR Unknown category 'nosuch'")
    assert admin.cmd("ACL", "CAT", "a", "b") == err(
        "ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")


def test_genpass(admin):
    p = admin.cmd("ACL", "GENPASS")
    assert re.fullmatch(rb"[0-9a-f]{64}", p)
    assert p != admin.cmd("ACL", "GENPASS")
    assert len(admin.cmd("ACL", "GENPASS", "5")) == 2
    assert len(admin.cmd("ACL", "GENPASS", "4096")) == 1024
    msg = err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up "
              "to 4096")
    assert admin.cmd("ACL", "GENPASS", "0") == msg
    assert admin.cmd("ACL", "GENPASS", "5000") == msg
    assert admin.cmd("ACL", "GENPASS", "abc") == err("ERR value is not an integer or out of range")


def test_dryrun(admin):
    admin.cmd("ACL", "SETUSER", "t", "+@all", "%R~read*", "%W~write*", "%RW~rw*", "resetchannels", "&ch")
    assert admin.cmd("ACL", "DRYRUN", "t", "GET", "read") == b"OK"
    assert admin.cmd("ACL", "DRYRUN", "nouser", "GET", "read") == err("ERR User 'nouser' not found")
    assert admin.cmd("ACL", "DRYRUN", "t", "nocmd", "read") == err("ERR Command 'nocmd' not found")
    assert admin.cmd("ACL", "DRYRUN", "t", "client", "nosuch") == err("ERR Command 'client' not found")
    assert admin.cmd("ACL", "DRYRUN", "t", "SET", "v") == err("ERR wrong number of arguments for 'set' command")
    assert admin.cmd("ACL", "DRYRUN", "t", "GET", "write") == b"This user has no permissions to access the 'write' key"
    assert admin.cmd("ACL", "DRYRUN", "t", "SORT", "read", "STORE", "write") == b"OK"
    assert admin.cmd("ACL", "DRYRUN", "t", "SORT", "write", "STORE", "write") == \
        b"This user has no permissions to access the 'write' key"
    assert admin.cmd("ACL", "DRYRUN", "t", "SORT", "read", "STORE", "read") == \
        b"This user has no permissions to access the 'read' key"
    assert admin.cmd("ACL", "DRYRUN", "t", "GEORADIUS", "read", "1", "2", "3", "M", "STOREDIST", "write") == b"OK"
    assert admin.cmd("ACL", "DRYRUN", "t", "GEORADIUS", "read1", "1", "2", "3", "M", "STORE", "read2") == \
        b"This user has no permissions to access the 'read2' key"
    for cmd in ("HEXISTS", "HSTRLEN", "SISMEMBER"):
        assert admin.cmd("ACL", "DRYRUN", "t", cmd, "write", "f") == b"OK"
        assert admin.cmd("ACL", "DRYRUN", "t", cmd, "nothing", "f") == \
            b"This user has no permissions to access the 'nothing' key"
    assert admin.cmd("ACL", "DRYRUN", "t", "SINTERCARD", "2", "write", "read") == \
        b"This user has no permissions to access the 'write' key"
    assert admin.cmd("ACL", "DRYRUN", "t", "spublish", "other", "x") == \
        b"This user has no permissions to access the 'other' channel"
    assert admin.cmd("ACL", "DRYRUN", "t", "sunsubscribe", "other") == b"OK"
    admin.cmd("ACL", "SETUSER", "t", "-@all")
    assert admin.cmd("ACL", "DRYRUN", "t", "get", "read") == b"This user has no permissions to run the 'get' command"


def test_help(admin):
    lines = admin.cmd("ACL", "HELP")
    assert lines[0] == b"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"DRYRUN <username> <command> [<arg> ...]" in lines
    assert admin.cmd("ACL", "HELP", "x") == err("ERR wrong number of arguments for 'acl|help' command")
    assert admin.cmd("ACL", "NOSUCH") == err("ERR unknown subcommand 'NOSUCH'. Try ACL HELP.")


# ---- enforcement ----------------------------------------------------------------------------------------------------

def test_commands_enforced(admin, login):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all", "-ping", "-@string", "+incr")
    c = login("u")
    assert c.cmd("PING") == noperm_cmd("ping")
    assert c.cmd("SET", "x", "1") == noperm_cmd("set")
    assert c.cmd("INCR", "x") == 1
    assert c.cmd("SADD", "s", "a") == 1
    admin.cmd("ACL", "SETUSER", "u", "-@all", "+client|id", "+config", "-config|set", "+select|0", "+debug|object")
    assert c.cmd("CLIENT", "ID") == c.cmd("CLIENT", "ID")
    assert c.cmd("CLIENT", "KILL", "TYPE", "master") == noperm_cmd("client|kill")
    assert c.cmd("CONFIG", "GET", "hz") == [b"hz", b"10"]
    assert c.cmd("CONFIG", "SET", "hz", "10") == noperm_cmd("config|set")
    assert c.cmd("SELECT", "0") == b"OK"
    assert c.cmd("SELECT", "1") == noperm_cmd("select")
    assert c.cmd("DEBUG", "SLEEP", "0") == noperm_cmd("debug")
    # NO_AUTH commands are never denied.
    assert c.cmd("AUTH", "u", "pw") == b"OK"


def test_read_write_key_permissions(admin, login):
    admin.cmd("SET", "r1", "v")
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "+@all", "%R~r*", "%W~w*", "~rw*")
    c = login("u")
    assert c.cmd("GET", "r1") == b"v"
    assert c.cmd("GET", "w1") == NOPERM_KEYS
    assert c.cmd("SET", "w1", "x") == b"OK"
    assert c.cmd("SET", "r1", "x") == NOPERM_KEYS
    assert c.cmd("SET", "w1", "x", "GET") == NOPERM_KEYS  # SET ... GET also reads
    assert c.cmd("SET", "rw1", "x", "GET") is None
    assert c.cmd("LPUSH", "w2", "a") == 1
    assert c.cmd("COPY", "r1", "w3") == 1
    assert c.cmd("COPY", "w3", "r5") == NOPERM_KEYS
    assert c.cmd("EXISTS", "w1") == 1  # no ACCESS flag: any pattern will do
    assert c.cmd("EXISTS", "nothing") == NOPERM_KEYS
    assert c.cmd("MGET", "r1", "rw1", "w1") == NOPERM_KEYS
    assert c.cmd("BITFIELD", "r3", "GET", "u4", "0") == [0]
    assert c.cmd("BITFIELD", "r3", "SET", "u4", "0", "1") == NOPERM_KEYS
    assert c.cmd("BITFIELD", "w3", "SET", "u4", "0", "1") == NOPERM_KEYS  # SET reads the old value
    assert c.cmd("BITFIELD", "rw3", "SET", "u4", "0", "1") == [0]
    assert c.cmd("ZUNIONSTORE", "r7", "2", "r1", "rw1") == NOPERM_KEYS
    assert c.cmd("LMOVE", "w1", "rw1", "LEFT", "RIGHT") == NOPERM_KEYS
    assert c.cmd("KEYS", "*") != NOPERM_KEYS  # keyless


def test_selectors_are_not_additive(admin, login):
    admin.cmd("SET", "readstr", "bar")
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "(%R~read* +@all)", "(%W~write* +@all)")
    c = login("u")
    assert c.cmd("LPUSH", "writelist", "10") == 1
    assert c.cmd("GET", "writestr") == NOPERM_KEYS
    assert c.cmd("GET", "readstr") == b"bar"
    assert c.cmd("COPY", "readstr", "writestr") == NOPERM_KEYS
    admin.cmd("ACL", "SETUSER", "s", "on", ">pw", "-@all", "resetkeys", "(+@write ~write::*)", "(+@read ~read::*)")
    s = login("s")
    assert s.cmd("PING") == noperm_cmd("ping")
    assert s.cmd("SET", "write::foo", "bar") == b"OK"
    assert s.cmd("GET", "read::foo") is None
    assert s.cmd("GET", "write::foo") == NOPERM_KEYS


def test_channels_enforced(admin, login, server):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "resetchannels", "&foo:1", "&bar:*")
    c = login("u")
    assert c.cmd("PUBLISH", "foo:1", "m") == 0
    assert c.cmd("PUBLISH", "bar:2", "m") == 0
    assert c.cmd("PUBLISH", "zap", "m") == NOPERM_CHANNELS
    assert c.cmd("SPUBLISH", "zap", "m") == NOPERM_CHANNELS
    s = login("u")
    assert s.cmd("SUBSCRIBE", "foo:1") == [b"subscribe", b"foo:1", 1]
    assert s.cmd("SUBSCRIBE", "zap") == NOPERM_CHANNELS
    assert s.cmd("PSUBSCRIBE", "bar:*") == [b"psubscribe", b"bar:*", 2]
    # A pattern must be allowed literally, not matched.
    assert s.cmd("PSUBSCRIBE", "bar:baz") == NOPERM_CHANNELS
    assert s.cmd("UNSUBSCRIBE", "zap") == [b"unsubscribe", b"zap", 2]


def test_acl_pubsub_default(admin, login):
    admin.cmd("ACL", "SETUSER", "rc", "on", ">pw", "+@all", "~*")
    assert getuser(admin, "rc")[b"channels"] == b""
    assert admin.cmd("CONFIG", "SET", "acl-pubsub-default", "allchannels") == b"OK"
    admin.cmd("ACL", "SETUSER", "ac", "on", ">pw", "+@all", "~*")
    assert getuser(admin, "ac")[b"channels"] == b"&*"
    assert getuser(admin, "rc")[b"channels"] == b""  # existing users keep theirs
    assert admin.cmd("ACL", "SETUSER", "ac2", "&foo") == err(
        "ERR Error in ACL SETUSER modifier '&foo': Adding a pattern after the * pattern (or the 'allchannels' "
        "flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of "
        "channels")
    c = login("ac")
    assert c.cmd("PUBLISH", "any", "m") == 0


def test_multi_queue_and_exec_time_checks(admin, login):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "+@all", "-flushall", "~obj*", "resetchannels")
    c = login("u")
    assert c.cmd("MULTI") == b"OK"
    assert c.cmd("GET", "other") == NOPERM_KEYS
    assert c.cmd("PUBLISH", "ch", "m") == NOPERM_CHANNELS
    assert c.cmd("EXEC") == err("EXECABORT Transaction discarded because of previous errors.")
    assert c.cmd("MULTI") == b"OK"
    assert c.cmd("INCR", "obj:1") == b"QUEUED"
    assert c.cmd("INCR", "obj:2") == b"QUEUED"
    admin.cmd("ACL", "SETUSER", "u", "-incr")
    assert c.cmd("EXEC") == [err(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This "
        "command is no longer allowed for the following reason: no permission to execute the command or "
        "subcommand")] * 2
    entry = dict(zip(*[iter(admin.cmd("ACL", "LOG", "1")[0])] * 2))
    assert (entry[b"reason"], entry[b"context"], entry[b"object"], entry[b"count"]) == (b"command", b"multi",
                                                                                        b"incr", 2)
    # A denied EXEC itself aborts the transaction.
    admin.cmd("ACL", "SETUSER", "u", "-exec")
    assert c.cmd("MULTI") == b"OK"
    assert c.cmd("EXEC") == err("EXECABORT Transaction discarded because of: NOPERM this user has no permissions "
                                "to run the 'exec' command")


def test_sort_by_get_need_full_read_access(admin, login):
    admin.cmd("SET", "v1", "1")
    admin.cmd("LPUSH", "mylist", "1")
    for keys in (["~mylist"], ["~mylist", "~v*"], ["~mylist", "%W~*"]):
        admin.cmd("ACL", "SETUSER", "s", "reset", "on", ">pw", "(+sort " + " ".join(keys) + ")")
        c = login("s")
        assert c.cmd("SORT", "mylist", "BY", "v*") == err(
            "ERR BY option of SORT denied due to insufficient ACL permissions.")
        assert c.cmd("SORT", "mylist", "GET", "v*") == err(
            "ERR GET option of SORT denied due to insufficient ACL permissions.")
        assert c.cmd("SORT", "mylist", "BY", "nosort") == [b"1"]
    admin.cmd("ACL", "SETUSER", "s", "(+sort ~mylist %R~*)")
    assert login("s").cmd("SORT", "mylist", "BY", "v*") == [b"1"]


# ---- ACL LOG --------------------------------------------------------------------------------------------------------

def log_entries(admin, n=None):
    v = admin.cmd("ACL", "LOG") if n is None else admin.cmd("ACL", "LOG", str(n))
    return [dict(zip(e[::2], e[1::2])) for e in v]


def test_log_fields_grouping_and_limits(admin, login, server):
    admin.cmd("ACL", "SETUSER", "antirez", ">foo", "on", "+set", "+publish", "~object:1234", "resetchannels")
    c = login("antirez", "foo")
    assert c.cmd("CLIENT", "SETNAME", "x") == noperm_cmd("client|setname")
    for _ in range(3):
        assert c.cmd("GET", "foo") == noperm_cmd("get")
    e = log_entries(admin)[0]
    assert set(e) == {b"count", b"reason", b"context", b"object", b"username", b"age-seconds", b"client-info"}
    assert (e[b"count"], e[b"reason"], e[b"context"], e[b"object"], e[b"username"]) == (
        3, b"command", b"toplevel", b"get", b"antirez")
    assert b"user=antirez" in e[b"client-info"] and b"cmd=get" in e[b"client-info"]
    assert float(e[b"age-seconds"]) < 60
    c.cmd("SET", "somekeynotallowed", "1")
    e = log_entries(admin)[0]
    assert (e[b"reason"], e[b"object"]) == (b"key", b"somekeynotallowed")
    c.cmd("PUBLISH", "somechannelnotallowed", "m")
    e = log_entries(admin)[0]
    assert (e[b"reason"], e[b"object"]) == (b"channel", b"somechannelnotallowed")
    assert len(log_entries(admin, 2)) == 2
    assert log_entries(admin, -1) == []
    assert admin.cmd("ACL", "LOG", "x") == err("ERR value is not an integer or out of range")
    assert admin.cmd("CONFIG", "SET", "acllog-max-len", "5") == b"OK"
    for j in range(10):
        c.cmd("SET", "obj:%d" % j, "1")
    assert len(log_entries(admin)) == 5
    admin.cmd("CONFIG", "SET", "acllog-max-len", "128")
    assert admin.cmd("ACL", "LOG", "RESET") == b"OK"
    assert admin.cmd("ACL", "LOG") == []


def test_auth_failures_logged_and_counted(server, admin):
    before = info_stats(admin)
    c = Raw(server.port)
    assert c.cmd("AUTH", "antirez", "wrong") == err("WRONGPASS invalid username-password pair or user is disabled.")
    e = log_entries(admin)[0]
    assert (e[b"reason"], e[b"context"], e[b"object"], e[b"username"]) == (b"auth", b"toplevel", b"AUTH",
                                                                           b"antirez")
    c.cmd("HELLO", "2", "AUTH", "nobody", "x")
    e = log_entries(admin)[0]
    assert (e[b"object"], e[b"username"]) == (b"HELLO", b"nobody")
    admin.cmd("ACL", "SETUSER", "lim", "on", ">pw", "~a", "+get", "resetchannels", "+publish")
    lim = Raw(server.port)
    lim.cmd("AUTH", "lim", "pw")
    assert lim.cmd("GET", "a") is None
    assert lim.cmd("GET", "b") == NOPERM_KEYS
    assert lim.cmd("SET", "a", "1") == noperm_cmd("set")
    assert lim.cmd("PUBLISH", "c", "m") == NOPERM_CHANNELS
    after = info_stats(admin)
    assert after["acl_access_denied_auth"] == before["acl_access_denied_auth"] + 2
    assert after["acl_access_denied_cmd"] == before["acl_access_denied_cmd"] + 1
    assert after["acl_access_denied_key"] == before["acl_access_denied_key"] + 1
    assert after["acl_access_denied_channel"] == before["acl_access_denied_channel"] + 1
    admin.cmd("CONFIG", "RESETSTAT")
    assert info_stats(admin)["acl_access_denied_auth"] == 0
    c.close()
    lim.close()


def info_stats(c):
    text = c.cmd("INFO", "stats").decode()
    return {k: int(v) for k, v in re.findall(r"(acl_access_denied_\w+):(\d+)", text)}


# ---- clients closed by changes ---------------------------------------------------------------------------------------

def client_names(admin):
    return re.findall(rb"name=(\S*)", admin.cmd("CLIENT", "LIST"))


def test_deluser_closes_its_clients(admin, login, server):
    admin.cmd("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    victims = [login("gone") for _ in range(4)]  # spread over the workers
    for i, v in enumerate(victims):
        assert v.cmd("CLIENT", "SETNAME", "victim%d" % i) == b"OK"
    assert admin.cmd("ACL", "DELUSER", "gone") == 1
    assert not any(n.startswith(b"victim") for n in client_names(admin))
    for v in victims:
        assert v.closed()
    # A client deleting its own user gets the reply, then is closed.
    admin.cmd("ACL", "SETUSER", "using", "on", ">pw", "+acl")
    c = login("using")
    assert c.cmd("ACL", "DELUSER", "using") == 1
    assert c.closed()


def test_revoked_channels_close_subscribers(admin, login):
    admin.cmd("ACL", "SETUSER", "ps", "on", ">pw", "+@all", "resetchannels", "&foo:1", "&bar:*", "&orders")
    keep = login("ps")
    keep.cmd("CLIENT", "SETNAME", "pardoned")
    assert keep.cmd("SUBSCRIBE", "foo:1")[0] == b"subscribe"
    assert keep.cmd("PSUBSCRIBE", "bar:*")[0] == b"psubscribe"
    assert keep.cmd("SSUBSCRIBE", "orders")[0] == b"ssubscribe"
    admin.cmd("ACL", "SETUSER", "ps", "resetchannels", "&foo:1", "&bar:*", "&orders", "&new")
    assert b"pardoned" in client_names(admin)
    admin.cmd("ACL", "SETUSER", "ps", "allchannels")
    assert b"pardoned" in client_names(admin)
    admin.cmd("ACL", "SETUSER", "ps", "resetchannels", "&foo:1", "&orders")  # bar:* is gone
    assert b"pardoned" not in client_names(admin)
    assert keep.closed()


def test_client_list_and_kill_by_user(admin, login):
    admin.cmd("ACL", "SETUSER", "k", "on", ">pw", "+@all")
    c = login("k")
    c.cmd("CLIENT", "SETNAME", "kuser")
    assert re.search(rb"name=kuser .* user=k ", admin.cmd("CLIENT", "LIST"))
    assert re.search(rb" user=default ", admin.cmd("CLIENT", "INFO"))
    assert admin.cmd("CLIENT", "KILL", "USER", "nosuch") == err("ERR No such user 'nosuch'")
    assert admin.cmd("CLIENT", "KILL", "USER", "k") == 1
    assert c.closed()


def test_default_user_off_and_reset(admin, server):
    admin.cmd("ACL", "SETUSER", "default", "off")
    c = Raw(server.port)
    assert c.cmd("PING") == err("NOAUTH Authentication required.")
    admin.cmd("ACL", "SETUSER", "default", "on")
    assert admin.cmd("PING") == b"PONG"  # already authenticated
    admin.cmd("ACL", "SETUSER", "secure", ">supass", "on", "+@all")
    admin.cmd("ACL", "SETUSER", "default", "-@all")
    assert c.cmd("HELLO", "2", "AUTH", "secure", "supass")[:2] == [b"server", b"redis"]
    assert c.cmd("ACL", "WHOAMI") == b"secure"
    assert c.cmd("RESET") == b"RESET"
    assert c.cmd("ACL", "WHOAMI") == noperm_cmd("acl|whoami")
    assert c.cmd("AUTH", "secure", "supass") == b"OK"
    assert c.cmd("ACL", "SETUSER", "default", "+@all") == b"OK"
    c.close()


# ---- categories: the command table against Redis 7.0 --------------------------------------------------------------

@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_categories_match_redis(admin):
    """Every command both servers know is in the same ACL categories (ACL CAT
    is built from the command table, as Redis's is)."""
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    p = port.getsockname()[1]
    port.close()
    proc = subprocess.Popen(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", "/tmp"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                peer = Raw(p)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        ours_all = set()
        theirs_all = set()
        cats = {}
        for cat in admin.cmd("ACL", "CAT"):
            ours, theirs = set(admin.cmd("ACL", "CAT", cat)), set(peer.cmd("ACL", "CAT", cat))
            cats[cat] = (ours, theirs)
            ours_all |= ours
            theirs_all |= theirs
        common = ours_all & theirs_all
        assert len(common) > 250
        for cat, (ours, theirs) in cats.items():
            assert ours & common == theirs & common, (cat, sorted((ours ^ theirs) & common))
        peer.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_reply_off_keeps_quiet_after_kills(admin, login):
    admin.cmd("ACL", "SETUSER", "q", "on", ">pw", "+@all")
    victim = login("q")
    # CLIENT REPLY SKIP answers nothing, and silences the next command.
    admin.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
               b"*3\r\n$3\r\nACL\r\n$7\r\nDELUSER\r\n$1\r\nq\r\n")
    assert admin.cmd("PING") == b"PONG"  # the skipped DELUSER answered nothing
    assert victim.closed()
