/*
 * exec/command.c - command registry and key extraction; see command.h.
 *
 * Lookup: an open-addressing table of lowercase names hashed with FNV-1a
 * (the table is fixed and small; no flooding concern), built at
 * registration. The name of a request is folded to lowercase on the stack
 * (names are at most 64 bytes; longer ones cannot match).
 */
#include "exec/command.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/hash.h"
#include "base/str.h"

#include <string.h>
#include <strings.h>

const char *const acl_cat_names[ACL_CAT_COUNT] = {
    "keyspace", "read",   "write",    "set",      "sortedset", "list",       "hash",
    "string",   "bitmap", "hyperloglog", "geo",    "stream",    "pubsub",     "admin",
    "fast",     "slow",   "blocking", "dangerous", "connection", "transaction", "scripting"};

#define NAME_MAX_LEN 64

static struct command *cmds;
static int ncmds;
static const struct command **by_id;
static int nids;

struct slot {
    const char *name; /* lowercase; NULL = empty */
    size_t len;
    const struct command *cmd;
};
static struct slot *index_tab;
static size_t index_mask;

static void index_put(const char *name, const struct command *cmd) {
    size_t len = strlen(name);
    size_t i = hash_fnv(name, len) & index_mask;
    while (index_tab[i].name) {
        if (index_tab[i].len == len && memcmp(index_tab[i].name, name, len) == 0) {
            index_tab[i].cmd = cmd;
            return;
        }
        i = (i + 1) & index_mask;
    }
    index_tab[i].name = name;
    index_tab[i].len = len;
    index_tab[i].cmd = cmd;
}

static bool has_not_key(const struct command *c) {
    for (int i = 0; i < c->nkeyspecs; i++)
        if (c->keyspecs[i].flags & (KS_NOT_KEY | KS_INCOMPLETE)) return true;
    return false;
}

static void assign_ids(struct command *c) {
    c->id = nids++;
    c->namelen = strlen(c->name);
    c->static_keys = !(c->flags & CMD_MOVABLE_KEYS) && c->first_key > 0 && !has_not_key(c);
    for (int i = 0; i < c->nsubcmds; i++) {
        struct command *sub = (struct command *)&c->subcmds[i];
        sub->parent = c;
        assign_ids(sub);
    }
}

static void fill_ids(const struct command *c) {
    by_id[c->id] = c;
    for (int i = 0; i < c->nsubcmds; i++) fill_ids(&c->subcmds[i]);
}

void exec_commands_register(struct command *table, int n) {
    cmds = table;
    ncmds = n;
    nids = 0;
    for (int i = 0; i < n; i++) assign_ids(&table[i]);
    by_id = xcalloc((size_t)nids, sizeof(*by_id));
    for (int i = 0; i < n; i++) fill_ids(&table[i]);
    size_t size = 16;
    while (size < (size_t)n * 4) size <<= 1;
    index_tab = xcalloc(size, sizeof(*index_tab));
    index_mask = size - 1;
    for (int i = 0; i < n; i++) index_put(table[i].name, &table[i]);
}

static const struct command *find_in_index(const char *name, size_t len) {
    char low[NAME_MAX_LEN];
    if (len == 0 || len > NAME_MAX_LEN) return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    size_t i = hash_fnv(low, len) & index_mask;
    while (index_tab[i].name) {
        if (index_tab[i].len == len && memcmp(index_tab[i].name, low, len) == 0) return index_tab[i].cmd;
        i = (i + 1) & index_mask;
    }
    return NULL;
}

const struct command *exec_command_lookup(const char *name, size_t len) { return find_in_index(name, len); }

const struct command *exec_subcommand_lookup(const struct command *parent, const char *name, size_t len) {
    for (int i = 0; i < parent->nsubcmds; i++) {
        const struct command *s = &parent->subcmds[i];
        if (strlen(s->name) == len && strncasecmp(s->name, name, len) == 0) return s;
    }
    return NULL;
}

int exec_command_count(void) { return ncmds; }
const struct command *exec_command_at(int i) { return &cmds[i]; }
int exec_command_ids(void) { return nids; }
const struct command *exec_command_by_id(int id) { return (id >= 0 && id < nids) ? by_id[id] : NULL; }

bool exec_commands_renamed;

int exec_command_rename(const char *old, const char *newname) {
    exec_commands_renamed = true;
    const struct command *c = find_in_index(old, strlen(old));
    if (c == NULL) return -1;
    /* Rebuild the index without the old name. */
    size_t size = index_mask + 1;
    struct slot *old_tab = index_tab;
    index_tab = xcalloc(size, sizeof(*index_tab));
    char low[NAME_MAX_LEN + 1];
    size_t ol = strlen(old);
    for (size_t i = 0; i < ol && i < NAME_MAX_LEN; i++) low[i] = (char)((old[i] >= 'A' && old[i] <= 'Z') ? old[i] + 32 : old[i]);
    low[ol < NAME_MAX_LEN ? ol : NAME_MAX_LEN] = '\0';
    for (size_t i = 0; i < size; i++) {
        if (old_tab[i].name == NULL) continue;
        if (old_tab[i].len == ol && memcmp(old_tab[i].name, low, ol) == 0) continue;
        index_put(old_tab[i].name, old_tab[i].cmd);
    }
    xfree(old_tab);
    if (newname && newname[0]) {
        if (find_in_index(newname, strlen(newname))) return -2;
        char *copy = xstrdup(newname);
        str_lower(copy, strlen(copy));
        index_put(copy, c); /* leaked on purpose: lives as long as the table */
    }
    return 0;
}

/* ---- keys ------------------------------------------------------------------- */

void exec_command_set_getkeys(const char *name, cmd_getkeys_fn fn) {
    struct command *c = (struct command *)find_in_index(name, strlen(name));
    if (c) {
        c->getkeys = fn;
        c->static_keys = false;
    }
}

int exec_command_keys(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                      int *out, int max) {
    if (cmd->getkeys) return cmd->getkeys(argc, argv, lens, out, max);
    return exec_command_keyspecs(cmd, argc, argv, lens, out, NULL, max);
}

int exec_command_keyspecs(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                          int *out, unsigned *flags, int max) {
    int n = 0;
    for (int s = 0; s < cmd->nkeyspecs; s++) {
        const struct keyspec *ks = &cmd->keyspecs[s];
        if (ks->flags & KS_NOT_KEY) continue;
        int first = 0;
        if (ks->begin == KS_BEGIN_INDEX) {
            first = ks->index;
        } else if (ks->begin == KS_BEGIN_KEYWORD) {
            int start = ks->startfrom > 0 ? ks->startfrom : argc + ks->startfrom;
            int end = ks->startfrom > 0 ? argc - 1 : 1;
            for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1) break;
                if (lens[i] == strlen(ks->keyword) && strncasecmp(argv[i], ks->keyword, lens[i]) == 0) {
                    first = i + 1;
                    break;
                }
            }
            if (!first) continue; /* keyword absent: no keys from this spec */
        } else {
            return -1;
        }
        int last, step;
        if (ks->find == KS_FIND_RANGE) {
            step = ks->step;
            if (ks->lastkey >= 0)
                last = first + ks->lastkey;
            else if (!ks->limit)
                last = argc + ks->lastkey;
            else
                last = first + ((argc - first) / ks->limit + ks->lastkey);
        } else if (ks->find == KS_FIND_KEYNUM) {
            step = ks->kstep;
            if (first + ks->keynumidx >= argc) return -1;
            long long num;
            int ki = first + ks->keynumidx;
            if (!str_to_ll(argv[ki], lens[ki], &num) || num < 0) return -1;
            first += ks->firstkey;
            last = first + (int)num - 1;
        } else {
            return -1;
        }
        if (last >= argc || last < first || first >= argc) {
            /* Out of bounds: a syntax error the command will report. An
             * empty range (numkeys 0) simply has no keys. */
            if (last < first) continue;
            return -1;
        }
        if (step < 1) step = 1;
        for (int i = first; i <= last; i += step) {
            if (n < max) {
                out[n] = i;
                if (flags) flags[n] = ks->flags;
            }
            n++;
        }
        if (ks->flags & KS_INCOMPLETE) return -1;
    }
    return n;
}
