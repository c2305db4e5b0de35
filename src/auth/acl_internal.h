/*
 * auth/acl_internal.h - what the files of the ACL module share (acl.c:
 * registry, locks, AUTH, changes; acl_rules.c: the rule grammar and the
 * descriptions; acl_check.c: permission checks; acl_file.c: aclfile and
 * `user` directives; acl_log.c: ACL LOG). Nothing outside src/auth/acl*.c
 * (and the unit tests) includes it.
 *
 * A user's rules (struct acl_rules) are values: a change builds new rules
 * on a copy and swaps them in under every reader lock (acl.c), so readers
 * never see a half-applied ACL SETUSER.
 */
#ifndef STASH_AUTH_ACL_INTERNAL_H
#define STASH_AUTH_ACL_INTERNAL_H

#include "auth/acl.h"

#define ACL_CMD_WORDS (ACL_MAX_COMMANDS / 64)
#define ACL_FUTURE_BIT (ACL_MAX_COMMANDS - 1) /* set only by +@all / allcommands */
#define ACL_HASH_HEX 64                     /* SHA-256 as lowercase hex */

/* Selector flags (Redis's SELECTOR_FLAG_*). */
#define SEL_ROOT 0x1u
#define SEL_ALLKEYS 0x2u
#define SEL_ALLCOMMANDS 0x4u
#define SEL_ALLCHANNELS 0x8u

/* User flags (Redis's USER_FLAG_*). */
#define USER_ON 0x1u
#define USER_OFF 0x2u
#define USER_NOPASS 0x4u
#define USER_SKIP_SANITIZE 0x8u
#define USER_SANITIZE 0x10u

struct acl_str {
    char *p; /* NUL-terminated copy */
    size_t n;
    unsigned char kind; /* channel patterns: enum acl_pat_kind */
};

/* How a glob pattern matches (most ACL patterns need no glob engine). */
enum acl_pat_kind { ACL_PAT_GLOB = 0, ACL_PAT_EXACT, ACL_PAT_PREFIX /* "abc*" */ };
unsigned char acl_pattern_kind(const char *p, size_t n);
/* Redis's stringmatchlen(p, s), with the shortcut of the pattern's kind. */
bool acl_pattern_match(const char *p, size_t n, unsigned char kind, const char *s, size_t slen);

struct acl_keypat {
    char *p;
    size_t n;
    unsigned perm;      /* ACL_PERM_* */
    unsigned char kind; /* enum acl_pat_kind */
};

struct acl_sel {
    unsigned flags;
    uint64_t allowed[ACL_CMD_WORDS];
    /* First-arg exceptions per command id (NULL-terminated lists of
     * NUL-terminated strings); the array itself only once one exists. */
    char ***firstargs;
    struct acl_keypat *keys;
    int nkeys, capkeys;
    struct acl_str *chans;
    int nchans, capchans;
};

struct acl_rules {
    unsigned flags;
    char (*pass)[ACL_HASH_HEX];
    int npass, cappass;
    struct acl_sel **sels; /* [0] is the root selector */
    int nsels, capsels;
};

struct acl_user {
    struct acl_user_head head; /* first: read inline by acl.h */
    _Atomic int refs;
    char *name; /* NUL-terminated, no NUL or space inside */
    size_t namelen;
    struct acl_rules r;
};

/* ---- catalog (acl.c) ---------------------------------------------------------- */

extern const struct acl_cmdinfo *acl_cmds;
extern int acl_ncmds;
/* Subcommand ids of a container (catalog order). */
extern int **acl_subs;
extern int *acl_nsubs;
/* Lookup by original full name ("get", "config|get"), case-insensitive: the
 * id or -1. More than one '|' never matches. */
int acl_cmd_lookup(const char *name, size_t len);

/* acl-pubsub-default: SEL_ALLCHANNELS or 0 (resetchannels). */
extern _Atomic unsigned acl_pubsub_default;

/* ---- rules (acl_rules.c) ------------------------------------------------------ */

/* Errors of acl_rules_apply (Redis's errno values, each its message). */
enum acl_err {
    ACL_E_OK = 0,
    ACL_E_SYNTAX,     /* EINVAL */
    ACL_E_UNKNOWN,    /* ENOENT */
    ACL_E_KEYS_ALL,   /* EEXIST */
    ACL_E_CHANS_ALL,  /* EISDIR */
    ACL_E_NO_PASS,    /* ENODEV */
    ACL_E_BAD_HASH,   /* EBADMSG */
    ACL_E_DUPLICATE,  /* EALREADY */
    ACL_E_SUBCMD_ARG, /* ECHILD */
};
const char *acl_err_message(enum acl_err e);

/* Rules of a user just created (off, no password, nothing allowed). */
void acl_rules_init(struct acl_rules *r);
/* The default user's rules (+@all ~* &* on nopass). */
void acl_rules_init_default(struct acl_rules *r);
void acl_rules_copy(struct acl_rules *dst, const struct acl_rules *src);
void acl_rules_free(struct acl_rules *r);
/* Apply one op (ACL SETUSER's grammar: flags, passwords, selectors,
 * "(...)" and the root selector's rules). Stops at the first error; the
 * rules may then be partly changed (callers work on copies). */
enum acl_err acl_rules_apply(struct acl_rules *r, const char *op, size_t len);
/* Merge "(" ... ")" selectors split over several arguments. Returns the
 * merged ops (allocated; each NUL-terminated) or NULL on an unmatched
 * parenthesis (*bad: index of the argument that opened it). */
struct acl_str *acl_merge_selectors(int argc, const char *const *argv, const size_t *lens, int *nout, int *bad);
void acl_strs_free(struct acl_str *s, int n);
/* Does pass match one of r's password hashes? Every hash is compared,
 * each in constant time. */
bool acl_rules_password_ok(const struct acl_rules *r, const char *pass, size_t plen);
/* Does a selector of r allow every command, key and channel? */
bool acl_rules_unrestricted(const struct acl_rules *r);
/* Are r's channel permissions a superset of old's? (no client can have
 * lost a subscription) */
bool acl_rules_channels_superset(const struct acl_rules *r, const struct acl_rules *old);

/* Descriptions in ACL LIST's format (appended to out). */
void acl_describe_rules(const struct acl_rules *r, struct buf *out);
void acl_describe_commands(const struct acl_sel *s, struct buf *out);
void acl_describe_keys(const struct acl_sel *s, struct buf *out);
void acl_describe_channels(const struct acl_sel *s, struct buf *out);
/* Names of the user flags set in `flags`, in Redis's order. */
int acl_user_flag_names(unsigned flags, const char *out[5]);

/* ---- checks (acl_check.c) [caller holds a reader lock or the admin mutex] ----- */

enum acl_result acl_rules_check(const struct acl_rules *r, const struct acl_request *rq, int *errpos);
bool acl_rules_full_key_access(const struct acl_rules *r, const struct acl_request *rq, unsigned perm);
bool acl_rules_channel(const struct acl_rules *r, const char *ch, size_t len, bool pattern);

/* ---- the registry (acl.c) [admin mutex held] -------------------------------------- */

void acl_admin_lock(void);
void acl_admin_unlock(void);
/* The user of that name, or NULL. */
struct acl_user *acl_find(const char *name, size_t len);

/* ---- files (acl_file.c) ---------------------------------------------------------- */

void acl_file_setup(void);
void acl_file_teardown(void);
/* The `user` directive [config loading]. */
int acl_config_user(int argc, char **argv, bool check_only, char *err);
/* Create the users of the `user` directives (acl_start). 0 or -1 (logged). */
int acl_load_configured_users(void);
bool acl_have_configured_users(void);
void acl_configured_users_free(void);
/* Parse the aclfile into a new set of users; NULL on success. */
char *acl_file_parse(const char *path, struct acl_user ***users, int *n);
/* The path of the aclfile ("" when none). */
const char *acl_file_path(void);
/* Replace every user by `users` (the default user keeps its identity and
 * takes the new default's rules). [admin mutex] */
void acl_install_users(struct acl_user **users, int n, struct acl_doomed *doomed);
/* Free a set of users that were never installed. */
void acl_users_free(struct acl_user **users, int n);

/* ---- options (acl_log.c) ----------------------------------------------------------- */

void acl_log_setup(void);
void acl_log_teardown(void);

#endif
