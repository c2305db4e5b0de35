/*
 * auth/acl_file.c - users from files: the `user` directives of the
 * configuration and the aclfile (ACL LOAD, ACL SAVE, start-up), with
 * Redis 7.0's formats and error messages; see acl.h.
 *
 * aclfile format: one "user <name> <rule> ..." per line, arguments split on
 * single spaces (no quoting), blank lines allowed, no comments (the file is
 * rewritten by ACL SAVE). A load parses the whole file into a new set of
 * users; any error leaves the current users untouched and reports every
 * problem found, one after the other, on one line.
 *
 * `user` directives are checked when the configuration is read (a bad one
 * is a fatal configuration error) and created by acl_start, the default
 * user being reset first.
 *
 * Thread context: config loading and acl_start on the main thread; ACL
 * LOAD and SAVE on a worker with the admin mutex held.
 */
#include "auth/acl_internal.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- the aclfile option --------------------------------------------------------- */

static char *aclfile;

static int apply_aclfile(const char *s, char *err) {
    xfree(aclfile);
    aclfile = xstrdup(s);
    return 0;
}

static struct config_option options[] = {
    {"aclfile", NULL, CFG_STRING, CFG_F_IMMUTABLE, "", 0, 0, NULL, NULL, apply_aclfile, NULL, NULL, 0, NULL},
    CFG_END,
};

const char *acl_file_path(void) { return aclfile ? aclfile : ""; }
bool acl_has_file(void) { return acl_file_path()[0] != '\0'; }

/* ---- `user` directives -------------------------------------------------------------- */

struct conf_user {
    struct acl_str name;
    struct acl_str *ops;
    int nops;
};
static struct conf_user *conf_users;
static int nconf_users;

bool acl_have_configured_users(void) { return nconf_users > 0; }

void acl_configured_users_free(void) {
    for (int i = 0; i < nconf_users; i++) {
        xfree(conf_users[i].name.p);
        acl_strs_free(conf_users[i].ops, conf_users[i].nops);
    }
    xfree(conf_users);
    conf_users = NULL;
    nconf_users = 0;
}

static bool has_spaces(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r') || s[i] == '\0') return true;
    return false;
}

int acl_config_user(int argc, char **argv, bool check_only, char *err) {
    if (argc < 1) {
        snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
        return -1;
    }
    size_t nlen = strlen(argv[0]);
    for (int i = 0; i < nconf_users; i++) {
        if (conf_users[i].name.n == nlen && memcmp(conf_users[i].name.p, argv[0], nlen) == 0) {
            snprintf(err, CFG_ERR_MAX, "Error in user declaration '%s': %s", argv[0], acl_err_message(ACL_E_DUPLICATE));
            return -1;
        }
    }
    if (has_spaces(argv[0], nlen)) {
        snprintf(err, CFG_ERR_MAX, "Error in user declaration '%s': Usernames can't contain spaces or null characters",
                 argv[0]);
        return -1;
    }
    size_t *lens = xmalloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    int n = 0, bad = 0;
    struct acl_str *ops = acl_merge_selectors(argc - 1, (const char *const *)argv + 1, lens + 1, &n, &bad);
    xfree(lens);
    if (ops == NULL) {
        snprintf(err, CFG_ERR_MAX, "Error in user declaration '%s': Unmatched parenthesis in acl selector",
                 argv[bad + 1]);
        return -1;
    }
    /* Try the rules on a scratch user: a bad one is a configuration error. */
    struct acl_rules r;
    acl_rules_init(&r);
    for (int i = 0; i < n; i++) {
        enum acl_err e = acl_rules_apply(&r, ops[i].p, ops[i].n);
        if (e != ACL_E_OK) {
            snprintf(err, CFG_ERR_MAX, "Error in user declaration '%s': %s", ops[i].p, acl_err_message(e));
            acl_rules_free(&r);
            acl_strs_free(ops, n);
            return -1;
        }
    }
    acl_rules_free(&r);
    if (check_only) {
        acl_strs_free(ops, n);
        return 0;
    }
    conf_users = xrealloc(conf_users, sizeof(*conf_users) * (size_t)(nconf_users + 1));
    conf_users[nconf_users++] = (struct conf_user){{xstrndup(argv[0], nlen), nlen, 0}, ops, n};
    return 0;
}

int acl_load_configured_users(void) {
    for (int i = 0; i < nconf_users; i++) {
        struct conf_user *cu = &conf_users[i];
        bool is_default = cu->name.n == 7 && memcmp(cu->name.p, "default", 7) == 0;
        int argc = cu->nops + (is_default ? 1 : 0);
        const char **argv = xmalloc(sizeof(char *) * (size_t)(argc ? argc : 1));
        size_t *lens = xmalloc(sizeof(size_t) * (size_t)(argc ? argc : 1));
        int k = 0;
        if (is_default) {
            argv[k] = "reset";
            lens[k++] = 5;
        }
        for (int j = 0; j < cu->nops; j++) {
            argv[k] = cu->ops[j].p;
            lens[k++] = cu->ops[j].n;
        }
        struct acl_doomed d;
        char *err = acl_setuser(cu->name.p, cu->name.n, argc, argv, lens, &d);
        acl_doomed_free(&d);
        xfree(argv);
        xfree(lens);
        if (err) {
            log_warn("Error loading ACL rules for the user named '%s': %s", cu->name.p, err);
            xfree(err);
            return -1;
        }
        acl_admin_lock();
        struct acl_user *u = acl_find(cu->name.p, cu->name.n);
        bool off = u && (u->r.flags & USER_OFF);
        acl_admin_unlock();
        if (off)
            log_notice("The user '%s' is disabled (there is no 'on' modifier in the user description). Make sure "
                       "this is not a configuration error.",
                       cu->name.p);
    }
    return 0;
}

/* ---- the aclfile ---------------------------------------------------------------------- */

static void errf(struct buf *errors, const char *fmt, ...) PRINTF_FMT(2, 3);
static void errf(struct buf *errors, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(errors, fmt, ap);
    va_end(ap);
}

static char *trim(char *s, size_t *len, const char *set) {
    size_t n = *len;
    while (n > 0 && strchr(set, *s) && *s) {
        s++;
        n--;
    }
    while (n > 0 && s[n - 1] && strchr(set, s[n - 1])) n--;
    *len = n;
    return s;
}

/* Split on single spaces (Redis's sdssplitlen: empty fields kept). */
static int split_spaces(char *line, size_t len, char ***out, size_t **lens) {
    int n = 1;
    for (size_t i = 0; i < len; i++) n += line[i] == ' ';
    *out = xmalloc(sizeof(char *) * (size_t)n);
    *lens = xmalloc(sizeof(size_t) * (size_t)n);
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ' ') {
            (*out)[k] = line + start;
            (*lens)[k++] = i - start;
            start = i + 1;
        }
    }
    return k;
}

static int find_in_set(struct acl_user **set, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (set[i]->namelen == len && memcmp(set[i]->name, name, len) == 0) return i;
    return -1;
}

/* One line of the file into the set; problems appended to errors. */
static void parse_line(const char *path, int linenum, char *line, size_t len, struct acl_user ***set, int *nset,
                       struct buf *errors) {
    char **argv;
    size_t *lens;
    int argc = split_spaces(line, len, &argv, &lens);
    if (argc < 2 || lens[0] != 4 || memcmp(argv[0], "user", 4) != 0) {
        errf(errors, "%s:%d should start with user keyword followed by the username. ", path, linenum);
        goto out;
    }
    if (has_spaces(argv[1], lens[1])) {
        errf(errors, "'%s:%d: username '%.*s' contains invalid characters. ", path, linenum, (int)lens[1], argv[1]);
        goto out;
    }
    if (find_in_set(*set, *nset, argv[1], lens[1]) >= 0) {
        errf(errors, "WARNING: Duplicate user '%.*s' found on line %d. ", (int)lens[1], argv[1], linenum);
        goto out;
    }
    struct acl_user *u = xcalloc(1, sizeof(*u));
    atomic_init(&u->refs, 1);
    u->name = xstrndup(argv[1], lens[1]);
    u->namelen = lens[1];
    acl_rules_init(&u->r);
    *set = xrealloc(*set, sizeof(**set) * (size_t)(*nset + 1));
    (*set)[(*nset)++] = u;
    int n = 0;
    struct acl_str *ops = acl_merge_selectors(argc - 2, (const char *const *)argv + 2, lens + 2, &n, NULL);
    if (ops == NULL) {
        errf(errors, "%s:%d: Unmatched parenthesis in selector definition.", path, linenum);
        goto out;
    }
    bool syntax_error = false;
    for (int j = 0; j < n; j++) {
        size_t olen = ops[j].n;
        char *op = trim(ops[j].p, &olen, "\t\r\n");
        op[olen] = '\0';
        enum acl_err e = acl_rules_apply(&u->r, op, olen);
        if (e == ACL_E_UNKNOWN) {
            errf(errors, "%s:%d: Error in applying operation '%s': %s. ", path, linenum, op, acl_err_message(e));
        } else if (e != ACL_E_OK && !syntax_error) {
            errf(errors, "%s:%d: %s. ", path, linenum, acl_err_message(e));
            syntax_error = true;
        }
    }
    acl_strs_free(ops, n);
out:
    xfree(argv);
    xfree(lens);
}

char *acl_file_parse(const char *path, struct acl_user ***out, int *nout) {
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        struct buf b = BUF_INIT;
        errf(&b, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        buf_putc(&b, '\0');
        return b.data;
    }
    struct buf text = BUF_INIT, errors = BUF_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&text, chunk, got);
    fclose(f);
    struct acl_user **set = NULL;
    int nset = 0, linenum = 0;
    size_t pos = 0;
    while (pos <= text.len) {
        size_t end = pos;
        while (end < text.len && text.data[end] != '\n') end++;
        linenum++;
        size_t len = end - pos;
        char *line = len ? trim(text.data + pos, &len, " \t\r\n") : text.data + pos;
        if (len > 0) parse_line(path, linenum, line, len, &set, &nset, &errors);
        pos = end + 1;
    }
    buf_free(&text);
    if (errors.len == 0) {
        buf_free(&errors);
        *out = set;
        *nout = nset;
        return NULL;
    }
    acl_users_free(set, nset);
    buf_puts(&errors, "WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
    buf_putc(&errors, '\0');
    return errors.data;
}

static void append_line(void *arg, const char *s, size_t n) {
    struct buf *b = arg;
    buf_append(b, s, n);
    buf_putc(b, '\n');
}

int acl_save(void) {
    const char *path = acl_file_path();
    struct buf text = BUF_INIT;
    acl_list(false, append_line, &text);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%lld", path, (int)getpid(), (long long)time_ms());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        log_warn("Opening temp ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    if (write(fd, text.data ? text.data : "", text.len) != (ssize_t)text.len) {
        log_warn("Writing ACL file for ACL SAVE: %s", strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        log_warn("Renaming ACL file for ACL SAVE: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    buf_free(&text);
    return rc;
}

void acl_file_setup(void) { config_register(options); }

void acl_file_teardown(void) {
    acl_configured_users_free();
    xfree(aclfile);
    aclfile = NULL;
}
