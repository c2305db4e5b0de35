/*
 * cmd/command.c - COMMAND [COUNT | INFO | LIST | DOCS | GETKEYS |
 * GETKEYSANDFLAGS | HELP]: the command table as Redis 7.0 shows it.
 *
 * Everything comes from the descriptors (exec/command.h) generated from
 * the JSON specs: flags, ACL categories, tips, key specs, subcommands,
 * documentation. Reply shapes are Redis's, RESP3 sets and maps included.
 * Key positions come from exec_command_keys(), one key spec at a time so
 * that each key gets its spec's flags; the few commands whose keys Redis
 * finds with dedicated code (incomplete or variable-flag specs: SORT,
 * SORT_RO, MIGRATE, SET, BITFIELD) are handled here the same way.
 *
 * Not shown (Stash's descriptors have no such data): argument lists,
 * history and doc flags in COMMAND DOCS, key spec notes.
 *
 * Thread context: the client's worker; the table is immutable.
 */
#include "cmd/cmd.h"
#include "cmd/server.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    uint64_t flag;
    const char *name;
} cmd_flag_names[] = {
    {CMD_WRITE, "write"},
    {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},
    {CMD_MODULE, "module"},
    {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},
    {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"},
    {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},
    {CMD_SKIP_MONITOR, "skip_monitor"},
    {CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {CMD_ASKING, "asking"},
    {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},
    {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
    {CMD_NO_ASYNC_LOADING, "no_async_loading"},
    {CMD_NO_MULTI, "no_multi"},
    {CMD_MOVABLE_KEYS, "movablekeys"},
    {CMD_ALLOW_BUSY, "allow_busy"},
};

static const struct {
    unsigned flag;
    const char *name;
} ks_flag_names[] = {
    {KS_RO, "RO"},         {KS_RW, "RW"},         {KS_OW, "OW"},
    {KS_RM, "RM"},         {KS_ACCESS, "access"}, {KS_UPDATE, "update"},
    {KS_INSERT, "insert"}, {KS_DELETE, "delete"}, {KS_NOT_KEY, "not_key"},
    {KS_INCOMPLETE, "incomplete"}, {KS_VARIABLE_FLAGS, "variable_flags"},
};

static void reply_cmd_flags(struct client *c, uint64_t flags) {
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(cmd_flag_names); i++)
        if (flags & cmd_flag_names[i].flag) n++;
    reply_set(c, n);
    for (size_t i = 0; i < ARRAY_LEN(cmd_flag_names); i++)
        if (flags & cmd_flag_names[i].flag) reply_simple(c, cmd_flag_names[i].name);
}

static void reply_ks_flags(struct client *c, unsigned flags) {
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(ks_flag_names); i++)
        if (flags & ks_flag_names[i].flag) n++;
    reply_set(c, n);
    for (size_t i = 0; i < ARRAY_LEN(ks_flag_names); i++)
        if (flags & ks_flag_names[i].flag) reply_simple(c, ks_flag_names[i].name);
}

static void reply_acl_cats(struct client *c, uint64_t acl) {
    int n = 0;
    for (int i = 0; i < ACL_CAT_COUNT; i++)
        if (acl & (1ULL << i)) n++;
    reply_set(c, n);
    for (int i = 0; i < ACL_CAT_COUNT; i++) {
        if (!(acl & (1ULL << i))) continue;
        char name[40];
        snprintf(name, sizeof(name), "@%s", acl_cat_names[i]);
        reply_simple(c, name);
    }
}

static void reply_type_spec(struct client *c, const char *type) {
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, type);
    reply_bulk_cstr(c, "spec");
}

static void reply_keyspecs(struct client *c, const struct command *cmd) {
    reply_set(c, cmd->nkeyspecs);
    for (int i = 0; i < cmd->nkeyspecs; i++) {
        const struct keyspec *ks = &cmd->keyspecs[i];
        reply_map(c, ks->notes ? 4 : 3);
        if (ks->notes) {
            reply_bulk_cstr(c, "notes");
            reply_bulk_cstr(c, ks->notes);
        }
        reply_bulk_cstr(c, "flags");
        reply_ks_flags(c, ks->flags);
        reply_bulk_cstr(c, "begin_search");
        reply_map(c, 2);
        if (ks->begin == KS_BEGIN_INDEX) {
            reply_type_spec(c, "index");
            reply_map(c, 1);
            reply_bulk_cstr(c, "index");
            reply_int(c, ks->index);
        } else if (ks->begin == KS_BEGIN_KEYWORD) {
            reply_type_spec(c, "keyword");
            reply_map(c, 2);
            reply_bulk_cstr(c, "keyword");
            reply_bulk_cstr(c, ks->keyword);
            reply_bulk_cstr(c, "startfrom");
            reply_int(c, ks->startfrom);
        } else {
            reply_type_spec(c, "unknown");
            reply_map(c, 0);
        }
        reply_bulk_cstr(c, "find_keys");
        reply_map(c, 2);
        if (ks->find == KS_FIND_RANGE) {
            reply_type_spec(c, "range");
            reply_map(c, 3);
            reply_bulk_cstr(c, "lastkey");
            reply_int(c, ks->lastkey);
            reply_bulk_cstr(c, "keystep");
            reply_int(c, ks->step);
            reply_bulk_cstr(c, "limit");
            reply_int(c, ks->limit);
        } else if (ks->find == KS_FIND_KEYNUM) {
            reply_type_spec(c, "keynum");
            reply_map(c, 3);
            reply_bulk_cstr(c, "keynumidx");
            reply_int(c, ks->keynumidx);
            reply_bulk_cstr(c, "firstkey");
            reply_int(c, ks->firstkey);
            reply_bulk_cstr(c, "keystep");
            reply_int(c, ks->kstep);
        } else {
            reply_type_spec(c, "unknown");
            reply_map(c, 0);
        }
    }
}

/* One command's COMMAND INFO entry (NULL: a null reply). */
static void reply_info(struct client *c, const struct command *cmd) {
    if (cmd == NULL) {
        reply_null(c);
        return;
    }
    reply_array(c, 10);
    reply_bulk_cstr(c, cmd->fullname);
    reply_int(c, cmd->arity);
    reply_cmd_flags(c, cmd->flags);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->key_step);
    reply_acl_cats(c, cmd->acl);
    /* Tips are shown in lowercase, as Redis's generated table has them. */
    reply_set(c, cmd->ntips);
    for (int i = 0; i < cmd->ntips; i++) {
        char tip[128];
        size_t n = strlen(cmd->tips[i]);
        if (n >= sizeof(tip)) n = sizeof(tip) - 1;
        for (size_t k = 0; k < n; k++) tip[k] = (char)tolower((unsigned char)cmd->tips[i][k]);
        reply_bulk(c, tip, n);
    }
    reply_keyspecs(c, cmd);
    if (cmd->nsubcmds == 0) {
        reply_set(c, 0);
    } else {
        reply_array(c, cmd->nsubcmds);
        for (int i = 0; i < cmd->nsubcmds; i++) reply_info(c, &cmd->subcmds[i]);
    }
}

static void reply_docs(struct client *c, const struct command *cmd) {
    int n = 1 + (cmd->summary != NULL) + (cmd->since != NULL) + (cmd->complexity != NULL) + (cmd->nsubcmds > 0);
    reply_map(c, n);
    if (cmd->summary) {
        reply_bulk_cstr(c, "summary");
        reply_bulk_cstr(c, cmd->summary);
    }
    if (cmd->since) {
        reply_bulk_cstr(c, "since");
        reply_bulk_cstr(c, cmd->since);
    }
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, cmd->group);
    if (cmd->complexity) {
        reply_bulk_cstr(c, "complexity");
        reply_bulk_cstr(c, cmd->complexity);
    }
    if (cmd->nsubcmds > 0) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, cmd->nsubcmds);
        for (int i = 0; i < cmd->nsubcmds; i++) {
            reply_bulk_cstr(c, cmd->subcmds[i].fullname);
            reply_docs(c, &cmd->subcmds[i]);
        }
    }
}

/* "get" or "config|get" (Redis's lookupCommandBySds: at most one '|',
 * the container must have that subcommand). */
const struct command *cmd_lookup_fullname(const char *s, size_t n) {
    const char *bar = memchr(s, '|', n);
    if (bar == NULL) return exec_command_lookup(s, n);
    size_t first = (size_t)(bar - s);
    const char *sub = bar + 1;
    size_t sublen = n - first - 1;
    if (memchr(sub, '|', sublen)) return NULL;
    const struct command *base = exec_command_lookup(s, first);
    if (base == NULL || base->nsubcmds == 0) return NULL;
    return exec_subcommand_lookup(base, sub, sublen);
}

void cmd_command(struct client *c) {
    int n = exec_command_count();
    reply_array(c, n);
    for (int i = 0; i < n; i++) reply_info(c, exec_command_at(i));
}

void cmd_command_count(struct client *c) { reply_int(c, exec_command_count()); }

void cmd_command_info(struct client *c) {
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) reply_info(c, cmd_lookup_fullname(c->argv[i], c->argvlen[i]));
}

void cmd_command_docs(struct client *c) {
    if (c->argc == 2) {
        int n = exec_command_count();
        reply_map(c, n);
        for (int i = 0; i < n; i++) {
            const struct command *cmd = exec_command_at(i);
            reply_bulk_cstr(c, cmd->fullname);
            reply_docs(c, cmd);
        }
        return;
    }
    struct onode *d = reply_defer(c);
    long n = 0;
    for (int i = 2; i < c->argc; i++) {
        const struct command *cmd = cmd_lookup_fullname(c->argv[i], c->argvlen[i]);
        if (cmd == NULL) continue;
        reply_bulk_cstr(c, cmd->fullname);
        reply_docs(c, cmd);
        n++;
    }
    reply_defer_map(c, d, n);
}

/* ---- LIST ------------------------------------------------------------------------- */

enum list_filter { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

struct list_ctx {
    struct client *c;
    enum list_filter type;
    const char *arg;
    size_t arglen;
    uint64_t cat; /* ACLCAT: the category's bit, 0 when unknown */
    long n;
};

static bool list_keeps(const struct list_ctx *x, const struct command *cmd) {
    switch (x->type) {
    case FILTER_NONE: return true;
    case FILTER_MODULE: return false; /* no modules */
    case FILTER_ACLCAT: return x->cat && (cmd->acl & x->cat);
    case FILTER_PATTERN: return glob_match(x->arg, x->arglen, cmd->fullname, strlen(cmd->fullname), true);
    }
    return false;
}

static void list_walk(struct list_ctx *x, const struct command *cmd) {
    if (list_keeps(x, cmd)) {
        reply_bulk_cstr(x->c, cmd->fullname);
        x->n++;
    }
    for (int i = 0; i < cmd->nsubcmds; i++) list_walk(x, &cmd->subcmds[i]);
}

void cmd_command_list(struct client *c) {
    struct list_ctx x = {c, FILTER_NONE, NULL, 0, 0, 0};
    for (int i = 2; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        if (cmd_arg_is(c, i, "FILTERBY") && more == 2) {
            if (cmd_arg_is(c, i + 1, "MODULE"))
                x.type = FILTER_MODULE;
            else if (cmd_arg_is(c, i + 1, "ACLCAT"))
                x.type = FILTER_ACLCAT;
            else if (cmd_arg_is(c, i + 1, "PATTERN"))
                x.type = FILTER_PATTERN;
            else {
                reply_error(c, RERR_SYNTAX);
                return;
            }
            x.arg = c->argv[i + 2];
            x.arglen = c->argvlen[i + 2];
            i += 2;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (x.type == FILTER_ACLCAT) {
        for (int k = 0; k < ACL_CAT_COUNT; k++)
            if (strlen(acl_cat_names[k]) == x.arglen && strncasecmp(acl_cat_names[k], x.arg, x.arglen) == 0)
                x.cat = 1ULL << k;
    }
    struct onode *d = reply_defer(c);
    for (int i = 0; i < exec_command_count(); i++) list_walk(&x, exec_command_at(i));
    reply_defer_array(c, d, x.n);
}

/* ---- GETKEYS / GETKEYSANDFLAGS ------------------------------------------------------ */

struct keyref {
    int pos;
    unsigned flags;
};

struct keylist {
    struct keyref *k;
    int n, cap;
};

static void keys_add(struct keylist *l, int pos, unsigned flags) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->k = xrealloc(l->k, (size_t)l->cap * sizeof(*l->k));
    }
    l->k[l->n++] = (struct keyref){pos, flags};
}

static bool argeq(const char *a, size_t n, const char *s) { return strlen(s) == n && strncasecmp(a, s, n) == 0; }

/* The keys of one spec (INCOMPLETE cleared); -1 when it cannot say. */
static int spec_keys(const struct command *cmd, int s, int argc, const char *const *argv, const size_t *lens,
                     struct keylist *out) {
    struct keyspec ks = cmd->keyspecs[s];
    ks.flags &= ~KS_INCOMPLETE;
    struct command one = *cmd;
    one.keyspecs = &ks;
    one.nkeyspecs = 1;
    one.getkeys = NULL; /* this spec alone, not the command's own key finder */
    int small[64];
    int n = exec_command_keys(&one, argc, argv, lens, small, 64);
    if (n < 0) return -1;
    int *pos = small;
    if (n > 64) {
        pos = xmalloc(sizeof(int) * (size_t)n);
        exec_command_keys(&one, argc, argv, lens, pos, n);
    }
    for (int i = 0; i < n; i++) keys_add(out, pos[i], cmd->keyspecs[s].flags);
    if (pos != small) xfree(pos);
    return n;
}

/* Redis's dedicated key finders for the specs that cannot say everything.
 * Returns true when cmd is one of them (out filled). */
static bool special_keys(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                         struct keylist *out) {
    const char *name = cmd->fullname;
    if (strcmp(name, "set") == 0) {
        unsigned fl = KS_OW | KS_UPDATE;
        for (int i = 3; i < argc; i++)
            if (argeq(argv[i], lens[i], "get")) fl = KS_RW | KS_ACCESS | KS_UPDATE;
        keys_add(out, 1, fl);
        return true;
    }
    if (strcmp(name, "bitfield") == 0) {
        bool readonly = true;
        for (int i = 2; i < argc; i++) {
            int rem = argc - i - 1;
            if (argeq(argv[i], lens[i], "get") && rem >= 2) {
                i += 2;
            } else if ((argeq(argv[i], lens[i], "set") || argeq(argv[i], lens[i], "incrby")) && rem >= 3) {
                readonly = false;
                break;
            } else if (argeq(argv[i], lens[i], "overflow") && rem >= 1) {
                i += 1;
            } else {
                readonly = false;
                break;
            }
        }
        keys_add(out, 1, readonly ? KS_RO | KS_ACCESS : KS_RW | KS_ACCESS | KS_UPDATE);
        return true;
    }
    return false;
}

/* Fallbacks when a spec is incomplete (Redis's getkeys procedures). */
static bool fallback_keys(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                          struct keylist *out) {
    const char *name = cmd->fullname;
    out->n = 0;
    if (strcmp(name, "sort_ro") == 0) {
        keys_add(out, 1, KS_RO | KS_ACCESS);
        return true;
    }
    if (strcmp(name, "sort") == 0) {
        keys_add(out, 1, KS_RO | KS_ACCESS);
        int store = 0;
        for (int i = 2; i < argc; i++) {
            if (argeq(argv[i], lens[i], "limit"))
                i += 2;
            else if (argeq(argv[i], lens[i], "get") || argeq(argv[i], lens[i], "by"))
                i += 1;
            else if (argeq(argv[i], lens[i], "store") && i + 1 < argc)
                store = i + 1; /* the last STORE wins, as in SORT */
        }
        if (store) keys_add(out, store, KS_OW | KS_UPDATE);
        return true;
    }
    if (strcmp(name, "migrate") == 0) {
        int first = 3, num = 1;
        for (int i = 6; argc > 6 && i < argc; i++) {
            if (argeq(argv[i], lens[i], "keys")) {
                if (lens[3] > 0) {
                    num = 0;
                } else {
                    first = i + 1;
                    num = argc - first;
                }
                break;
            }
            if (argeq(argv[i], lens[i], "auth"))
                i += 1;
            else if (argeq(argv[i], lens[i], "auth2"))
                i += 2;
        }
        for (int i = 0; i < num; i++) keys_add(out, first + i, KS_RW | KS_ACCESS | KS_DELETE);
        return true;
    }
    return false;
}

static void getkeys(struct client *c, bool with_flags) {
    int argc = c->argc - 2;
    const char *const *argv = c->argv + 2;
    const size_t *lens = c->argvlen + 2;
    const struct command *cmd = exec_command_lookup(argv[0], lens[0]);
    if (cmd && cmd->nsubcmds > 0 && argc >= 2) cmd = exec_subcommand_lookup(cmd, argv[1], lens[1]);
    if (cmd == NULL) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    bool has_keys = false;
    for (int s = 0; s < cmd->nkeyspecs; s++)
        if (!(cmd->keyspecs[s].flags & KS_NOT_KEY)) has_keys = true;
    if (!has_keys) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    struct keylist l = {NULL, 0, 0};
    if (!special_keys(cmd, argc, argv, lens, &l)) {
        bool valid = true;
        for (int s = 0; s < cmd->nkeyspecs && valid; s++) {
            if (cmd->keyspecs[s].flags & KS_NOT_KEY) continue;
            if (spec_keys(cmd, s, argc, argv, lens, &l) < 0 || (cmd->keyspecs[s].flags & KS_INCOMPLETE))
                valid = false;
        }
        if (!valid && !fallback_keys(cmd, argc, argv, lens, &l)) l.n = 0;
    }
    if (l.n == 0) {
        if (cmd->flags & CMD_NO_MANDATORY_KEYS)
            reply_array(c, 0);
        else
            reply_error(c, "ERR Invalid arguments specified for command");
        xfree(l.k);
        return;
    }
    reply_array(c, l.n);
    for (int i = 0; i < l.n; i++) {
        int p = l.k[i].pos;
        if (with_flags) reply_array(c, 2);
        reply_bulk(c, argv[p], lens[p]);
        if (with_flags) reply_ks_flags(c, l.k[i].flags);
    }
    xfree(l.k);
}

void cmd_command_getkeys(struct client *c) { getkeys(c, false); }
void cmd_command_getkeysandflags(struct client *c) { getkeys(c, true); }

void cmd_command_help(struct client *c) {
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL,
    };
    cmd_reply_help(c, lines);
}
