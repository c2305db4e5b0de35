/*
 * cmd/cmd.h - what every command family file includes.
 *
 * Commands are declared in cmd/spec/<family>.json (name, arity, flags, ACL
 * categories, key specs, proc) and implemented in cmd/<family>.c as
 * `void cmd_<name>(struct client *c)`. The dispatcher has already checked
 * arity and locked the stripes of the keys the spec names; a command
 * validates the rest of its arguments BEFORE changing anything (no
 * half-applied commands), replies exactly as Redis does, reports changes
 * with exec_dirty() and keyspace events with cmd_notify(), and signals
 * modified keys for WATCH with cmd_modified().
 *
 * Thread context: commands run on the client's worker, under the stripe
 * locks of their keys ([stripe-locked]); keyless ones without locks.
 */
#ifndef STASH_CMD_CMD_H
#define STASH_CMD_CMD_H

#include "auth/acl.h"
#include "cmd/procs.h"
#include "exec/client.h"
#include "exec/exec.h"
#include "exec/pubsub.h"
#include "exec/reply.h"
#include "store/store.h"
#include "store/watch.h"

#include <strings.h>

/* Register the command table and the value types. */
void cmd_setup(void);
/* Value types' setup (type ops, config options), called by cmd_setup. */
void cmd_hash_setup(void); /* cmd/hash.c */
void cmd_set_setup(void);  /* cmd/set.c */
void cmd_script_setup(void); /* cmd/script.c */

/* Replication's callbacks into the connections (cmd/repl.c). */
struct repl_glue;
void cmd_repl_glue(struct repl_glue *g);

/* ACL key finders of the commands whose key specs cannot say
 * (exec/access.h cmd_keyperm_fn). */
int cmd_set_keyperm(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max);
int cmd_bitfield_keyperm(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max);

/* Is argv[i] equal to s, ignoring case? */
static inline bool cmd_arg_is(const struct client *c, int i, const char *s) {
    size_t n = strlen(s);
    return c->argvlen[i] == n && strncasecmp(c->argv[i], s, n) == 0;
}

/* The key at argv[i] (slot from dispatch). */
static inline void cmd_key(const struct client *c, int i, struct store_key *k) { client_key(c, i, k); }

/* Number parsing that replies Redis's error on failure (returns false). */
bool cmd_ll(struct client *c, int i, long long *out);
bool cmd_ll_msg(struct client *c, int i, long long *out, const char *msg);
bool cmd_ll_range(struct client *c, int i, long long min, long long max, long long *out, const char *msg);
bool cmd_double(struct client *c, int i, double *out);
bool cmd_ld(struct client *c, int i, long double *out);

/* A write changed key k: WATCH and keyspace notification (event of class
 * `type`, e.g. NOTIFY_STRING "set"). [stripe-locked] */
static inline void cmd_modified(struct client *c, const struct store_key *k) { store_signal_modified(c->db, k); }
static inline void cmd_notify(struct client *c, int type, const char *event, const struct store_key *k) {
    pubsub_notify(type, event, c->db, k->ptr, k->len);
}

/* Look a key up for reading / writing (lazy expiry, LRU, hit/miss stats). */
static inline struct entry *cmd_lookup_read(struct client *c, const struct store_key *k, struct store_ref *ref) {
    return store_lookup(c->db, k, (c->flags & CLIENT_NO_TOUCH) ? STORE_LOOKUP_NOTOUCH : 0, ref);
}
static inline struct entry *cmd_lookup_write(struct client *c, const struct store_key *k, struct store_ref *ref) {
    return store_lookup(c->db, k, STORE_LOOKUP_WRITE, ref);
}

/* CONTAINER HELP: "<CMD> <subcommand> [<arg> [value] [opt] ...]. Subcommands
 * are:", the NULL-terminated lines, then "HELP" / "    Prints this help.",
 * as status replies (Redis's addReplyHelp). */
void cmd_reply_help(struct client *c, const char *const *lines);
/* "ERR unknown subcommand or wrong number of arguments for '<argv[1]>'. Try
 * <CMD> HELP." */
void cmd_reply_subcommand_error(struct client *c);

/* Delete the key at ref as a command does (signal + notification "del"). */
void cmd_delete(struct client *c, struct store_ref *ref);

/* ---- HSCAN SSCAN ZSCAN (cmd/scan.c) ----------------------------------------- */

/* Elements collected by one scan step of a collection. */
struct cmd_scan {
    long count;      /* COUNT (default 10) */
    const char *pat; /* MATCH pattern, or NULL */
    size_t plen;
    bool all;        /* no pattern, or "*" */
    long seen;       /* elements visited (Redis's loop bound), matching or not */
    size_t n;        /* elements kept */
    struct buf items;
};
/* Parse argv[i] as Redis parses a cursor; replies "ERR invalid cursor". */
bool cmd_scan_cursor(struct client *c, int i, uint64_t *out);
/* Parse COUNT/MATCH from argv[first]; replies the error and returns false. */
bool cmd_scan_options(struct client *c, int first, struct cmd_scan *s);
bool cmd_scan_match(const struct cmd_scan *s, const char *p, size_t n);
/* Keep one element (copied). */
void cmd_scan_add(struct cmd_scan *s, const char *p, size_t n);
/* [cursor, [elements...]], then free what was collected. */
void cmd_scan_reply(struct client *c, uint64_t cursor, struct cmd_scan *s);
/* ["0", []] for a missing key. */
void cmd_reply_empty_scan(struct client *c);

#endif
