/*
 * auth/acl.h - users, passwords and permissions: Redis 7.0's ACL system.
 *
 * A user has flags (on/off, nopass, sanitize-payload), SHA-256 password
 * hashes and selectors. A selector allows commands (a bitmap over command
 * ids, plus "first-arg" exceptions such as +select|0), key patterns (each
 * read, write or both: ~p %R~p %W~p) and channel patterns (&p). The first
 * selector is the root one (rules written outside parentheses); a request
 * is allowed when any selector allows all of it (command, every key, every
 * channel). Rules are parsed and described (ACL LIST, GETUSER, SAVE) with
 * Redis's grammar, errors and output.
 *
 * The layer knows commands only through the catalog the dispatcher gives
 * it at setup (struct acl_cmdinfo: full name, categories, container): it
 * never includes exec/. The dispatcher computes a request's key and
 * channel positions (from the command table's key specs) and asks
 * acl_check().
 *
 * Threads and locks (docs/design/lock-order.md):
 *   - admin mutex: serializes every change (SETUSER, DELUSER, LOAD,
 *     requirepass) and the admin reads (GETUSER, LIST...). Taken with no
 *     other lock held.
 *   - reader locks, one per worker thread (+1 for other threads), each on
 *     its own cache line: a check, or an AUTH, holds only its own thread's
 *     lock (uncontended). A change is published under every reader lock
 *     (taken in ascending order, admin mutex held): readers always see a
 *     user whole, before or after a change, never half.
 *   - the ACL log mutex (leaf).
 *   Users are refcounted: the registry holds one reference, every client
 *   authenticated as the user one. A deleted user is unlinked (its clients
 *   are closed by the caller) and freed when its last reference goes.
 *
 * Hot path: a client authenticated as a user whose selector allows every
 * command, key and channel (the default user, unless configured otherwise)
 * costs one relaxed load (acl_user_unrestricted) per request and no lock.
 *
 * Thread context: [any] unless noted.
 */
#ifndef STASH_AUTH_ACL_H
#define STASH_AUTH_ACL_H

#include "base/buf.h"
#include "base/common.h"

#include <stdatomic.h>

/* ---- categories ------------------------------------------------------------- */

/* Redis's categories in Redis's order (bit i of acl_cmdinfo.categories is
 * acl_category_names[i]; exec/command.h's enum acl_cat uses the same order). */
#define ACL_NCATEGORIES 21
extern const char *const acl_category_names[ACL_NCATEGORIES];
/* The category's index, case-insensitive, or -1. */
int acl_category_by_name(const char *name, size_t len);

/* ---- the command catalog ----------------------------------------------------- */

/* Command ids are indexes into the catalog; at most ACL_MAX_COMMANDS - 1
 * (the last bit of a selector marks "+@all": future commands allowed). */
#define ACL_MAX_COMMANDS 1024

struct acl_cmdinfo {
    const char *fullname; /* original name ("get", "client|kill"), not renamed */
    uint64_t categories;  /* bit per category */
    int parent;           /* the container's id, or -1 */
    bool no_auth;         /* NO_AUTH commands (AUTH, HELLO...) pass command rules */
};

/* ---- lifecycle (composition root) ---------------------------------------------- */

/* Register the options (requirepass, aclfile, acllog-max-len,
 * acl-pubsub-default, and the `user` directive) and create the default
 * user. Before the configuration is loaded. */
void acl_setup(void);
/* Give the command catalog (cmds[id] for every id; it must outlive the
 * module). Before the configuration is loaded: `user` directives are
 * checked against it. */
void acl_set_catalog(const struct acl_cmdinfo *cmds, int n);
/* After the configuration is loaded: requirepass, then the configured
 * users, then the aclfile. Returns 0, or -1 after logging why the server
 * must not start (Redis's messages). */
int acl_start(void);
void acl_teardown(void);

/* ---- users ------------------------------------------------------------------ */

struct acl_user;

/* What every request reads, kept first in struct acl_user. */
struct acl_user_head {
    _Atomic unsigned char unrestricted; /* a selector allows every command, key and channel */
    _Atomic unsigned char deleted;      /* unlinked: its clients are being closed */
};
static inline bool acl_user_unrestricted(const struct acl_user *u) {
    return atomic_load_explicit(&((const struct acl_user_head *)(const void *)u)->unrestricted,
                                memory_order_relaxed) != 0;
}
static inline bool acl_user_deleted(const struct acl_user *u) {
    return atomic_load_explicit(&((const struct acl_user_head *)(const void *)u)->deleted, memory_order_relaxed) != 0;
}

/* Is there a user of that name? */
bool acl_user_exists(const char *name, size_t nlen);
/* The default user: lives as long as the module (never deleted). */
struct acl_user *acl_default_user(void);
/* The name (immutable for the user's life; no NUL inside). */
const char *acl_user_name(const struct acl_user *u);
/* References held by clients. */
void acl_user_ref(struct acl_user *u);
void acl_user_unref(struct acl_user *u);

/* Must a new or RESET connection authenticate? (the default user has a
 * password, or is off: Redis's authRequired) */
extern _Atomic bool acl_auth_required_;
static inline bool acl_auth_required(void) {
    return atomic_load_explicit(&acl_auth_required_, memory_order_relaxed);
}
/* Does the default user have "nopass"? (protected mode) */
bool acl_default_nopass(void);

/* AUTH / HELLO AUTH: the user (a reference taken) when the credentials are
 * valid and the user is on; NULL otherwise. Passwords are compared as
 * SHA-256 hashes in constant time. */
struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen);

/* ---- permission checks ---------------------------------------------------------- */

/* Results (Redis's ACL_DENIED_* values: the order picks the reported error). */
enum acl_result { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_AUTH = 3, ACL_DENIED_CHANNEL = 4 };

/* Key permissions a key argument needs (from its key spec: ACCESS reads,
 * INSERT/DELETE/UPDATE write; neither: any pattern matching the key). */
#define ACL_PERM_READ 1u
#define ACL_PERM_WRITE 2u
#define ACL_PERM_ALL (ACL_PERM_READ | ACL_PERM_WRITE)
/* Channel arguments: published to, subscribed to, subscribed as a pattern
 * (matched literally against the user's channel patterns). */
#define ACL_CHAN_PUBLISH 1u
#define ACL_CHAN_SUBSCRIBE 2u
#define ACL_CHAN_PATTERN 4u

struct acl_ref {
    int pos;        /* argv index */
    unsigned flags; /* ACL_PERM_* for keys, ACL_CHAN_* for channels */
};

struct acl_request {
    int cmd; /* catalog id */
    int argc;
    const char *const *argv;
    const size_t *lens;
    const struct acl_ref *keys;
    int nkeys;
    const struct acl_ref *chans;
    int nchans;
};

/* May u run the request? On denial *errpos is the argv index of the
 * offending key or channel (Redis's choice among selectors). Takes the
 * calling thread's reader lock (it may be called under stripe locks). */
enum acl_result acl_check(struct acl_user *u, const struct acl_request *rq, int *errpos);
/* Does a selector allowing the request also allow every key for `perm`
 * (SORT's BY and GET options)? */
bool acl_check_full_key_access(struct acl_user *u, const struct acl_request *rq, unsigned perm);
/* May u use this channel (a subscription it holds)? */
bool acl_check_channel(struct acl_user *u, const char *ch, size_t len, bool pattern);
/* ACL DRYRUN: like acl_check for the user of that name; false if no such
 * user. */
bool acl_check_by_name(const char *name, size_t nlen, const struct acl_request *rq, enum acl_result *res,
                       int *errpos);

/* ---- changes (ACL SETUSER, DELUSER, LOAD) ------------------------------------------ */

/* Users whose clients must be closed (deleted) or checked (channel
 * permissions revoked). The caller closes them, then calls acl_doomed_free. */
struct acl_doomed {
    struct acl_user **users; /* references held */
    int n;
    struct acl_user *revoked; /* a reference, or NULL */
};
void acl_doomed_free(struct acl_doomed *d);

/* ACL SETUSER name op...: all ops apply or none. Returns NULL, or the
 * error text (Redis's, without "ERR "; the caller frees it). */
char *acl_setuser(const char *name, size_t nlen, int argc, const char *const *argv, const size_t *lens,
                  struct acl_doomed *doomed);
/* ACL DELUSER: -1 (nothing deleted) if one of the names is "default";
 * else the number of users deleted. */
int acl_deluser(int argc, const char *const *argv, const size_t *lens, struct acl_doomed *doomed);
/* ACL LOAD: NULL, or the error text (the caller frees it). On success
 * every previous user but the default one is gone. */
char *acl_load(struct acl_doomed *doomed);
/* ACL SAVE: 0, or -1 (logged). */
int acl_save(void);
/* Is an aclfile configured? */
bool acl_has_file(void);

/* ---- descriptions (ACL LIST, USERS, GETUSER, CAT) ---------------------------------- */

/* "user <name> <rules>" of every user, or just the names, in name order:
 * each is called with one line. */
void acl_list(bool names_only, void (*fn)(void *arg, const char *s, size_t n), void *arg);

struct acl_selector_info {
    char *commands, *keys, *channels;
};
struct acl_user_info {
    const char *flags[5];
    int nflags;
    char (*passwords)[65]; /* hex, NUL-terminated */
    int npasswords;
    struct acl_selector_info *sels; /* [0]: the root selector */
    int nsels;
};
/* ACL GETUSER: false if there is no such user. */
bool acl_getuser(const char *name, size_t nlen, struct acl_user_info *out);
void acl_user_info_free(struct acl_user_info *info);

/* ---- settings -------------------------------------------------------------------- */

/* CONFIG SET requirepass (NULL or "": nopass) - also used at start. */
void acl_set_requirepass(const char *pass, size_t len);

/* ---- ACL LOG ----------------------------------------------------------------------- */

enum acl_log_ctx { ACL_LOG_CTX_TOPLEVEL = 0, ACL_LOG_CTX_LUA = 1, ACL_LOG_CTX_MULTI = 2, ACL_LOG_CTX_MODULE = 3 };

/* Record a denial (grouped with a similar recent entry, as Redis does) and
 * count it in the statistics. `cinfo` is the client's CLIENT LIST line. */
void acl_log_add(enum acl_result reason, enum acl_log_ctx ctx, const char *object, size_t olen, const char *user,
                 size_t ulen, const char *cinfo, size_t clen);
struct acl_log_entry {
    uint64_t count;
    enum acl_result reason;
    enum acl_log_ctx ctx;
    char *object, *username, *cinfo;
    size_t olen, ulen, clen;
    int64_t ctime_ms;
};
/* Copies of the newest `max` entries (newest first); returns how many. */
int acl_log_get(long max, struct acl_log_entry **out);
void acl_log_entries_free(struct acl_log_entry *e, int n);
void acl_log_reset(void);
const char *acl_log_reason_name(enum acl_result r);
const char *acl_log_ctx_name(enum acl_log_ctx c);

/* Denials by kind (INFO stats acl_access_denied_*, as Redis 7.2 shows). */
struct acl_stats {
    uint64_t auth, cmd, key, channel;
};
void acl_get_stats(struct acl_stats *st);
void acl_reset_stats(void);

#endif
