/*
 * config/config.h - the option registry: redis.conf files, command-line
 * --directives, CONFIG GET and CONFIG SET.
 *
 * Modules own their settings. Each module (or the composition root, for
 * modules below this layer) registers a table of options with an `apply`
 * callback; the registry parses and validates text, keeps the current value
 * for CONFIG GET, and pushes new values into the module through `apply`.
 * No module reads settings from here: the push model keeps layers clean.
 *
 * Types follow Redis: bool (yes/no), int and long long with bounds, memory
 * ("100mb", "1gb"; some also accept "N%"), enum (one of names; flags-enums
 * accept several), string, and special (own parser/formatter, several
 * arguments: save, bind, client-output-buffer-limit...).
 *
 * CONFIG SET is atomic across its parameters: all are validated, then
 * applied in order; if one apply fails, the already applied ones are set
 * back to their old values (Redis 7 semantics and error strings).
 *
 * Thread context: [any]; one mutex serializes CONFIG SET and GET.
 */
#ifndef STASH_CONFIG_CONFIG_H
#define STASH_CONFIG_CONFIG_H

#include "base/buf.h"
#include "base/common.h"

enum config_type {
    CFG_BOOL,
    CFG_INT,    /* long long with [min, max] */
    CFG_MEMORY, /* long long bytes with [min, max]; CFG_F_PERCENT allows N% (stored as -N) */
    CFG_ENUM,
    CFG_STRING,
    CFG_SPECIAL,
};

#define CFG_F_IMMUTABLE 0x01 /* only at start-up */
#define CFG_F_HIDDEN 0x02    /* not matched by CONFIG GET patterns */
#define CFG_F_MULTI_ARG 0x04 /* takes several arguments (SPECIAL) */
#define CFG_F_PERCENT 0x08   /* memory value may be a percentage */
#define CFG_F_FLAGS 0x10     /* enum: several names at once, OR-ed */
#define CFG_F_PROTECTED 0x20 /* refused by CONFIG SET unless enabled */
#define CFG_F_NAME_HIDDEN 0x40 /* patterns match only the alias (a Stash-only name that
                                * Redis tools do not know, e.g. "threads" = "io-threads") */
#define CFG_F_DIRECTIVE 0x80  /* a config-file directive only (e.g. "user"): CONFIG GET and SET
                               * do not know it; no `get` needed */

#define CFG_ERR_MAX 256

struct config_enum {
    const char *name;
    int value;
};

struct config_option;
/* Apply a new value; return 0, or non-zero with a message in err. */
typedef int (*config_apply_num_fn)(long long v, char *err);
typedef int (*config_apply_str_fn)(const char *s, char *err);
/* Special options parse their own arguments. `check_only`: validate, do
 * not apply. */
typedef int (*config_set_args_fn)(int argc, char **argv, bool check_only, char *err);
typedef void (*config_get_fn)(struct buf *out);

struct config_option {
    const char *name;
    const char *alias;
    enum config_type type;
    unsigned flags;
    const char *deflt;
    long long min, max;
    const struct config_enum *enums;
    config_apply_num_fn apply_num;
    config_apply_str_fn apply_str;
    config_set_args_fn set_args;
    config_get_fn get;
    /* Current value (registry-owned). */
    long long num;
    char *str;
};

#define CFG_END {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL}

/* CONFIG REWRITE of an option that is not one value (the `user`
 * directives): the function appends its whole lines ("name args\n"), or
 * none. Without one the registry writes "name value". [setup] */
typedef void (*config_rewrite_fn)(struct buf *lines);
void config_set_rewrite(const char *name, config_rewrite_fn fn);

/* Register a table ending with CFG_END; defaults are applied now. The table
 * stays owned by the caller and must outlive the registry. */
int config_register(struct config_option *table);

/* Options that take effect together (Redis's shared apply functions: TLS
 * certificate, key and CA files...): their `apply` callbacks only record
 * the values, and `commit` makes them live. CONFIG SET runs each group's
 * commit once, after every option it names was applied, in the order of
 * the first option of each group; when a commit fails, every option is set
 * back to its old value, the commits run again (so the groups follow the
 * old values), and the reply names the first option of the failed group
 * with the commit's message. A commit must be atomic: when it fails, it
 * leaves in place what was live. Config files and the command line never
 * commit: the owner starts from the loaded values itself. */
typedef int (*config_commit_fn)(char *err);
int config_register_group(struct config_option *table, config_commit_fn commit);
void config_teardown(void);

/* Load a config file (may be NULL) then extra text (from the command line).
 * On error prints Redis's "*** FATAL CONFIG FILE ERROR" report to stderr
 * and returns non-zero. */
int config_load(const char *file, const char *extra);
/* Turn argv (after the optional config file) into redis.conf text, as
 * redis-server does. The caller frees the result. */
char *config_args_to_text(int argc, char **argv);

/* CONFIG GET: append name/value pairs of options matching any pattern. */
struct config_pair_fn_ctx;
typedef void (*config_pair_fn)(const char *name, const char *value, size_t vlen, void *arg);
void config_get(int npat, const char *const *pats, const size_t *plens, config_pair_fn fn, void *arg);

/* CONFIG SET name value [name value ...]. Returns 0, or non-zero with the
 * complete error reply text (without the leading '-') in err. */
int config_set(int argc, char **argv, const size_t *lens, char *err, size_t errlen);

/* CONFIG REWRITE: rewrite the configuration file in use with the current
 * values, as Redis does: its lines of known options are replaced in place
 * (duplicates dropped), options changed from their defaults and absent
 * from the file are appended after "# Generated by CONFIG REWRITE",
 * comments and unknown lines stay. Written to a temporary file, fsynced and
 * renamed. Returns 0, or non-zero with the error reply text in err. */
int config_rewrite(char *err, size_t errlen);

/* Value of an option as text (e.g. for INFO); returns false if unknown. */
bool config_value(const char *name, struct buf *out);
/* Path of the config file in use, or "". */
const char *config_file_path(void);

/* Inside a string option's apply callback: the length of the value (CONFIG
 * SET values may hold NUL bytes, e.g. a binary requirepass). */
size_t config_str_len(void);

/* Format helpers for special options. */
const char *config_enum_name(const struct config_enum *e, int v);

#endif
