/*
 * exec/command.h - the command descriptor the whole server runs on.
 *
 * The table itself is generated from the JSON specs in src/cmd/spec (scripts/
 * gen_commands.py) and registered by cmd/ at start-up. One descriptor
 * drives dispatch (arity, flags), COMMAND INFO/DOCS/GETKEYS, the stripes
 * to lock (key specs), ACL categories and statistics. Key positions are
 * data: no command re-derives them by hand.
 *
 * Thread context: the table is immutable after exec_commands_register();
 * lookups are [any].
 */
#ifndef STASH_EXEC_COMMAND_H
#define STASH_EXEC_COMMAND_H

#include "base/common.h"

struct client;

/* Command flags (Redis names, COMMAND INFO shows them). */
#define CMD_WRITE (1ULL << 0)
#define CMD_READONLY (1ULL << 1)
#define CMD_DENYOOM (1ULL << 2)
#define CMD_MODULE (1ULL << 3)
#define CMD_ADMIN (1ULL << 4)
#define CMD_PUBSUB (1ULL << 5)
#define CMD_NOSCRIPT (1ULL << 6)
#define CMD_BLOCKING (1ULL << 8)
#define CMD_LOADING (1ULL << 9)
#define CMD_STALE (1ULL << 10)
#define CMD_SKIP_MONITOR (1ULL << 11)
#define CMD_SKIP_SLOWLOG (1ULL << 12)
#define CMD_ASKING (1ULL << 13)
#define CMD_FAST (1ULL << 14)
#define CMD_NO_AUTH (1ULL << 15)
#define CMD_MAY_REPLICATE (1ULL << 16)
#define CMD_SENTINEL (1ULL << 17)
#define CMD_ONLY_SENTINEL (1ULL << 18)
#define CMD_NO_MANDATORY_KEYS (1ULL << 19)
#define CMD_PROTECTED (1ULL << 20)
#define CMD_NO_ASYNC_LOADING (1ULL << 23)
#define CMD_NO_MULTI (1ULL << 24)
#define CMD_MOVABLE_KEYS (1ULL << 25)
#define CMD_ALLOW_BUSY (1ULL << 26)
/* Stash-only: a keyless command that changes the whole dataset and runs
 * with every stripe locked (FLUSHALL, SWAPDB). Not shown by COMMAND. */
#define CMD_ALL_STRIPES (1ULL << 40)

/* ACL categories (Redis order; ACL CAT lists them). */
enum acl_cat {
    ACL_KEYSPACE, ACL_READ, ACL_WRITE, ACL_SET, ACL_SORTEDSET, ACL_LIST, ACL_HASH, ACL_STRING,
    ACL_BITMAP, ACL_HYPERLOGLOG, ACL_GEO, ACL_STREAM, ACL_PUBSUB, ACL_ADMIN, ACL_FAST, ACL_SLOW,
    ACL_BLOCKING, ACL_DANGEROUS, ACL_CONNECTION, ACL_TRANSACTION, ACL_SCRIPTING, ACL_CAT_COUNT
};
extern const char *const acl_cat_names[ACL_CAT_COUNT];

/* Key spec flags (Redis names). */
#define KS_RO (1u << 0)
#define KS_RW (1u << 1)
#define KS_OW (1u << 2)
#define KS_RM (1u << 3)
#define KS_ACCESS (1u << 4)
#define KS_UPDATE (1u << 5)
#define KS_INSERT (1u << 6)
#define KS_DELETE (1u << 7)
#define KS_NOT_KEY (1u << 8)
#define KS_INCOMPLETE (1u << 9)
#define KS_VARIABLE_FLAGS (1u << 10)

enum ks_begin { KS_BEGIN_INDEX = 1, KS_BEGIN_KEYWORD = 2, KS_BEGIN_UNKNOWN = 3 };
enum ks_find { KS_FIND_RANGE = 1, KS_FIND_KEYNUM = 2, KS_FIND_UNKNOWN = 3 };

struct keyspec {
    unsigned flags;
    enum ks_begin begin;
    int index;            /* BEGIN_INDEX */
    const char *keyword;  /* BEGIN_KEYWORD */
    int startfrom;        /* BEGIN_KEYWORD: where to search (negative: from the end) */
    enum ks_find find;
    int lastkey, step, limit;       /* FIND_RANGE */
    int keynumidx, firstkey, kstep; /* FIND_KEYNUM */
    const char *notes;              /* COMMAND INFO shows it; NULL: none */
};

typedef void (*cmd_proc_fn)(struct client *c);
/* Key positions of a request, for the few commands whose key specs cannot
 * say (SORT's BY/GET patterns): like exec_command_keys. */
typedef int (*cmd_getkeys_fn)(int argc, const char *const *argv, const size_t *lens, int *out, int max);

struct command {
    const char *name;     /* lowercase, e.g. "get", "kill" */
    const char *fullname; /* "get", "client|kill" */
    int arity;
    uint64_t flags;
    uint64_t acl;         /* bit per enum acl_cat */
    const struct keyspec *keyspecs;
    int nkeyspecs;
    cmd_proc_fn proc;
    const struct command *subcmds; /* container commands */
    int nsubcmds;
    const struct command *parent;
    const char *group, *since, *summary, *complexity;
    const char *const *tips;
    int ntips;
    int first_key, last_key, key_step; /* legacy triple, derived from key specs */
    int id;                            /* index for per-thread statistics */
    /* Filled at registration: */
    size_t namelen;
    bool static_keys; /* keys are exactly first_key..last_key by key_step */
    cmd_getkeys_fn getkeys; /* set by exec_command_set_getkeys */
};

/* Register the generated table (top-level commands). */
void exec_commands_register(struct command *cmds, int n);
/* Top-level lookup, case-insensitive. */
const struct command *exec_command_lookup(const char *name, size_t len);
const struct command *exec_subcommand_lookup(const struct command *parent, const char *name, size_t len);
/* Iterate every top-level command. */
int exec_command_count(void);
const struct command *exec_command_at(int i);
/* Total descriptors including subcommands (ids are below this). */
int exec_command_ids(void);
const struct command *exec_command_by_id(int id);
/* Set once rename-command was used (dispatch then always looks names up). */
extern bool exec_commands_renamed;
/* Rename or remove (empty new name) a command (rename-command). */
int exec_command_rename(const char *old, const char *newname);

/* Give a top-level command its own key finder (for locking only; COMMAND
 * GETKEYS still reports what the key specs say). Call before threads start. */
void exec_command_set_getkeys(const char *name, cmd_getkeys_fn fn);

/* Key extraction from key specs. Positions of key arguments go to out
 * (up to max); returns the count, or -1 when the keys cannot be known
 * (a spec is incomplete/unknown). */
int exec_command_keys(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                      int *out, int max);
/* The same from the key specs alone (never the getkeys function), with
 * each key's spec flags (KS_*) in flags[] when flags is not NULL. */
int exec_command_keyspecs(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                          int *out, unsigned *flags, int max);

#endif
