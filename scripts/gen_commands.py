#!/usr/bin/env python3
"""Generate the command table from src/cmd/spec/*.json.

Usage: gen_commands.py OUT_C OUT_H SPEC.json...

Each spec file maps command names to their description:

  "GET": {
    "summary": "...", "since": "1.0.0", "group": "string", "complexity": "O(1)",
    "arity": 2,
    "flags": ["READONLY", "FAST"],            # Redis command flags
    "acl": ["STRING"],                        # explicit ACL categories
    "keys": [{"flags": ["RO", "ACCESS"], "notes": "..." (optional),
              "begin": {"index": 1} | {"keyword": "STREAMS", "startfrom": 1} | "unknown",
              "find": {"range": [lastkey, step, limit]} | {"keynum": [keynumidx, firstkey, step]} | "unknown"}],
    "proc": "cmd_get",                        # C function; absent for containers
    "tips": ["..."],
    "subcommands": {"ID": {...}, ...}
  }

Implicit ACL categories follow Redis: write -> @write, readonly -> @read,
admin -> @admin @dangerous, pubsub -> @pubsub, fast -> @fast (else @slow),
blocking -> @blocking.
"""
import json
import sys

CMD_FLAGS = {
    "WRITE": "CMD_WRITE", "READONLY": "CMD_READONLY", "DENYOOM": "CMD_DENYOOM", "MODULE": "CMD_MODULE",
    "ADMIN": "CMD_ADMIN", "PUBSUB": "CMD_PUBSUB", "NOSCRIPT": "CMD_NOSCRIPT", "BLOCKING": "CMD_BLOCKING",
    "LOADING": "CMD_LOADING", "STALE": "CMD_STALE", "SKIP_MONITOR": "CMD_SKIP_MONITOR",
    "SKIP_SLOWLOG": "CMD_SKIP_SLOWLOG", "ASKING": "CMD_ASKING", "FAST": "CMD_FAST", "NO_AUTH": "CMD_NO_AUTH",
    "MAY_REPLICATE": "CMD_MAY_REPLICATE", "SENTINEL": "CMD_SENTINEL", "ONLY_SENTINEL": "CMD_ONLY_SENTINEL",
    "NO_MANDATORY_KEYS": "CMD_NO_MANDATORY_KEYS", "PROTECTED": "CMD_PROTECTED",
    "NO_ASYNC_LOADING": "CMD_NO_ASYNC_LOADING", "NO_MULTI": "CMD_NO_MULTI", "ALLOW_BUSY": "CMD_ALLOW_BUSY",
    "ALL_STRIPES": "CMD_ALL_STRIPES",
}
ACL = ["KEYSPACE", "READ", "WRITE", "SET", "SORTEDSET", "LIST", "HASH", "STRING", "BITMAP", "HYPERLOGLOG",
       "GEO", "STREAM", "PUBSUB", "ADMIN", "FAST", "SLOW", "BLOCKING", "DANGEROUS", "CONNECTION",
       "TRANSACTION", "SCRIPTING"]
KS_FLAGS = {"RO": "KS_RO", "RW": "KS_RW", "OW": "KS_OW", "RM": "KS_RM", "ACCESS": "KS_ACCESS",
            "UPDATE": "KS_UPDATE", "INSERT": "KS_INSERT", "DELETE": "KS_DELETE", "NOT_KEY": "KS_NOT_KEY",
            "INCOMPLETE": "KS_INCOMPLETE", "VARIABLE_FLAGS": "KS_VARIABLE_FLAGS"}


def cstr(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fail(msg):
    sys.stderr.write("gen_commands: " + msg + "\n")
    sys.exit(1)


def acl_bits(name, spec):
    cats = set()
    for a in spec.get("acl", []):
        if a.upper() not in ACL:
            fail("%s: unknown ACL category %s" % (name, a))
        cats.add(a.upper())
    flags = [f.upper() for f in spec.get("flags", [])]
    if "WRITE" in flags:
        cats.add("WRITE")
    if "READONLY" in flags and "SCRIPTING" not in cats:
        cats.add("READ")
    if "ADMIN" in flags:
        cats.update(["ADMIN", "DANGEROUS"])
    if "PUBSUB" in flags:
        cats.add("PUBSUB")
    if "FAST" in flags:
        cats.add("FAST")
    if "BLOCKING" in flags:
        cats.add("BLOCKING")
    if "FAST" not in cats:
        cats.add("SLOW")
    return " | ".join("(1ULL << ACL_%s)" % c for c in sorted(cats, key=ACL.index)) or "0"


def keyspec_c(name, ks):
    flags = " | ".join(KS_FLAGS[f.upper()] for f in ks.get("flags", [])) or "0"
    b = ks.get("begin", "unknown")
    f = ks.get("find", "unknown")
    if isinstance(b, dict) and "index" in b:
        begin = "KS_BEGIN_INDEX, %d, NULL, 0" % b["index"]
    elif isinstance(b, dict) and "keyword" in b:
        begin = "KS_BEGIN_KEYWORD, 0, %s, %d" % (cstr(b["keyword"]), b.get("startfrom", 1))
    else:
        begin = "KS_BEGIN_UNKNOWN, 0, NULL, 0"
    if isinstance(f, dict) and "range" in f:
        r = f["range"]
        find = "KS_FIND_RANGE, %d, %d, %d, 0, 0, 0" % (r[0], r[1], r[2])
    elif isinstance(f, dict) and "keynum" in f:
        k = f["keynum"]
        find = "KS_FIND_KEYNUM, 0, 0, 0, %d, %d, %d" % (k[0], k[1], k[2])
    else:
        find = "KS_FIND_UNKNOWN, 0, 0, 0, 0, 0, 0"
    return "{%s, %s, %s, %s}" % (flags, begin, find, cstr(ks.get("notes")))


def legacy_range(spec):
    """Redis's (first, last, step) triple and whether keys are movable."""
    first = last = step = 0
    movable = False
    have = False
    for ks in spec.get("keys", []):
        b, f = ks.get("begin"), ks.get("find")
        flags = [x.upper() for x in ks.get("flags", [])]
        simple = isinstance(b, dict) and "index" in b and isinstance(f, dict) and "range" in f
        if not simple or "INCOMPLETE" in flags:
            movable = True
            continue
        if f["range"][2] != 0:
            movable = True
            continue
        idx = b["index"]
        lk = f["range"][0]
        this_last = idx + lk if lk >= 0 else lk
        if not have:
            first, last, step, have = idx, this_last, f["range"][1], True
        else:
            # Adjacent specs with the same step extend the range (MSET, RENAME...).
            if last >= 0 and idx == last + step and f["range"][1] == step:
                last = this_last
            elif last < 0:
                pass
            else:
                movable = True
    return first, last, step, movable


def emit_command(out, decls, name, spec, parent_var, prefix, idx):
    lname = name.lower()
    full = lname if parent_var is None else prefix + "|" + lname
    var = "c_" + full.replace("|", "__").replace("-", "_")
    flags = [f.upper() for f in spec.get("flags", [])]
    for f in flags:
        if f not in CMD_FLAGS:
            fail("%s: unknown flag %s" % (full, f))
    keys = spec.get("keys", [])
    first, last, step, movable = legacy_range(spec)
    cflags = [CMD_FLAGS[f] for f in flags]
    if movable:
        cflags.append("CMD_MOVABLE_KEYS")
    ks_var = "NULL"
    if keys:
        ks_var = "ks_" + var
        out.append("static const struct keyspec %s[] = {%s};" % (ks_var, ", ".join(keyspec_c(full, k) for k in keys)))
    tips = spec.get("tips", [])
    tips_var = "NULL"
    if tips:
        tips_var = "tips_" + var
        out.append("static const char *const %s[] = {%s};" % (tips_var, ", ".join(cstr(t) for t in tips)))
    subs = spec.get("subcommands", {})
    subs_var = "NULL"
    if subs:
        subs_var = "subs_" + var
        sub_entries = []
        for sname in sorted(subs):
            sub_entries.append(emit_command(out, decls, sname, subs[sname], var, lname, 0))
        out.append("static struct command %s[] = {\n%s\n};" % (subs_var, ",\n".join(sub_entries)))
    proc = spec.get("proc")
    if proc:
        decls.add(proc)
    elif not subs:
        fail("%s: no proc and no subcommands" % full)
    if "arity" not in spec:
        fail("%s: no arity" % full)
    entry = ("    {%s, %s, %d, %s, %s, %s, %d, %s, %s, %d, %s, %s, %s, %s, %s, %s, %d, %d, %d, %d, 0, 0, false, NULL}" % (
        cstr(lname), cstr(full), spec["arity"], " | ".join(cflags) or "0", acl_bits(full, spec),
        ks_var, len(keys), proc or "NULL", subs_var, len(subs), "NULL" if parent_var is None else "NULL",
        cstr(spec.get("group", "generic")), cstr(spec.get("since")), cstr(spec.get("summary")),
        cstr(spec.get("complexity")), tips_var, len(tips), first, last, step))
    return entry


def main():
    out_c, out_h, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    commands = {}
    for path in specs:
        with open(path) as f:
            try:
                data = json.load(f)
            except ValueError as e:
                fail("%s: %s" % (path, e))
        for name, spec in data.items():
            if name in commands:
                fail("%s: %s defined twice" % (path, name))
            commands[name] = spec
    out = ["/* Generated by scripts/gen_commands.py from the JSON specs in src/cmd/spec. Do not edit. */",
           '#include "exec/command.h"', '#include "cmd/procs.h"', ""]
    decls = set()
    entries = [emit_command(out, decls, n, commands[n], None, None, 0) for n in sorted(commands)]
    out.append("struct command cmd_table[] = {\n%s\n};" % ",\n".join(entries))
    out.append("const int cmd_table_len = %d;" % len(entries))
    with open(out_c, "w") as f:
        f.write("\n".join(out) + "\n")
    h = ["/* Generated by scripts/gen_commands.py. Do not edit. */", "#ifndef STASH_CMD_PROCS_H",
         "#define STASH_CMD_PROCS_H", "#include \"exec/command.h\"", "struct client;"]
    h += ["void %s(struct client *c);" % p for p in sorted(decls)]
    h += ["extern struct command cmd_table[];", "extern const int cmd_table_len;", "#endif"]
    with open(out_h, "w") as f:
        f.write("\n".join(h) + "\n")


if __name__ == "__main__":
    main()
