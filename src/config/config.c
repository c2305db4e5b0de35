/*
 * config/config.c - see config.h.
 */
#include "config/config.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "proto/resp.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_TABLES 64

static struct config_option *tables[MAX_TABLES];
static config_commit_fn commits[MAX_TABLES]; /* per table, NULL: options apply alone */
static int ntables;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char config_path[4096];

#define FOREACH_OPTION(o)                                                                          \
    for (int t_ = 0; t_ < ntables; t_++)                                                           \
        for (struct config_option *o = tables[t_]; o->name; o++)

static struct config_option *lookup(const char *name, size_t len) {
    FOREACH_OPTION(o) {
        if ((strlen(o->name) == len && strncasecmp(o->name, name, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncasecmp(o->alias, name, len) == 0))
            return o;
    }
    return NULL;
}

const char *config_enum_name(const struct config_enum *e, int v) {
    for (; e->name; e++)
        if (e->value == v) return e->name;
    return "";
}

/* ---- parsing one value --------------------------------------------------- */

static int parse_bool(const char *s, long long *v, char *err) {
    if (strcasecmp(s, "yes") == 0)
        *v = 1;
    else if (strcasecmp(s, "no") == 0)
        *v = 0;
    else {
        snprintf(err, CFG_ERR_MAX, "argument must be 'yes' or 'no'");
        return -1;
    }
    return 0;
}

static int parse_enum(const struct config_option *o, int argc, char **argv, long long *v, char *err) {
    long long acc = 0;
    int ok = argc > 0;
    if (!(o->flags & CFG_F_FLAGS) && argc != 1) ok = 0;
    for (int i = 0; i < argc && ok; i++) {
        const struct config_enum *e;
        for (e = o->enums; e->name; e++)
            if (strcasecmp(e->name, argv[i]) == 0) break;
        if (e->name == NULL) {
            ok = 0;
            break;
        }
        acc = (o->flags & CFG_F_FLAGS) ? (acc | e->value) : e->value;
    }
    if (!ok) {
        struct buf b = BUF_INIT;
        buf_puts(&b, "argument(s) must be one of the following: ");
        for (const struct config_enum *e = o->enums; e->name; e++) {
            if (e != o->enums) buf_puts(&b, ", ");
            buf_puts(&b, e->name);
        }
        snprintf(err, CFG_ERR_MAX, "%.*s", (int)b.len, b.data);
        buf_free(&b);
        return -1;
    }
    *v = acc;
    return 0;
}

static int parse_num(const struct config_option *o, const char *s, long long *v, char *err) {
    long long x;
    size_t n = strlen(s);
    if (o->type == CFG_MEMORY) {
        if ((o->flags & CFG_F_PERCENT) && n > 1 && s[n - 1] == '%') {
            if (!str_to_ll(s, n - 1, &x) || x < 0) {
                snprintf(err, CFG_ERR_MAX, "argument must be a memory or percent value");
                return -1;
            }
            if (x > 100) {
                snprintf(err, CFG_ERR_MAX, "percentage argument must be less or equal to 100");
                return -1;
            }
            *v = -x;
            return 0;
        }
        if (!str_to_memsize(s, n, &x) || x < 0) {
            snprintf(err, CFG_ERR_MAX, (o->flags & CFG_F_PERCENT) ? "argument must be a memory or percent value"
                                                                  : "argument must be a memory value");
            return -1;
        }
    } else if (!str_to_ll(s, n, &x)) {
        snprintf(err, CFG_ERR_MAX, "argument couldn't be parsed into an integer");
        return -1;
    }
    if (x < o->min || x > o->max) {
        snprintf(err, CFG_ERR_MAX, "argument must be between %lld and %lld inclusive", o->min, o->max);
        return -1;
    }
    *v = x;
    return 0;
}

/* Parse argv into a pending value (num/str) without applying. */
struct pending {
    struct config_option *o;
    long long num;
    char *str;
    size_t slen; /* CFG_STRING: the value's length (it may hold NUL bytes) */
    int argc;
    char **argv;
};

static int parse_value(struct config_option *o, int argc, char **argv, struct pending *p, char *err) {
    p->o = o;
    p->str = NULL;
    p->argc = argc;
    p->argv = argv;
    switch (o->type) {
    case CFG_BOOL:
        if (argc != 1) goto wrong;
        return parse_bool(argv[0], &p->num, err);
    case CFG_INT:
    case CFG_MEMORY:
        if (argc != 1) goto wrong;
        return parse_num(o, argv[0], &p->num, err);
    case CFG_ENUM: return parse_enum(o, argc, argv, &p->num, err);
    case CFG_STRING:
        if (argc != 1) goto wrong;
        p->str = argv[0];
        p->slen = strlen(argv[0]);
        return 0;
    case CFG_SPECIAL: return o->set_args(argc, argv, true, err);
    }
wrong:
    snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
    return -1;
}

/* The length of the string being applied (see config_str_len). */
static __thread size_t cur_len;
size_t config_str_len(void) { return cur_len; }

/* Apply a parsed value; on success the registry keeps it. */
static int apply(struct pending *p, char *err) {
    struct config_option *o = p->o;
    switch (o->type) {
    case CFG_BOOL:
    case CFG_INT:
    case CFG_MEMORY:
    case CFG_ENUM:
        if (o->apply_num && o->apply_num(p->num, err) != 0) return -1;
        o->num = p->num;
        return 0;
    case CFG_STRING:
        cur_len = p->slen;
        if (o->apply_str && o->apply_str(p->str, err) != 0) return -1;
        if (o->str != p->str) {
            char *old = o->str;
            o->str = xmemdup(p->str, p->slen + 1);
            o->num = (long long)p->slen; /* strings keep their length here */
            xfree(old);
        }
        return 0;
    case CFG_SPECIAL: return o->set_args(p->argc, p->argv, false, err);
    }
    return -1;
}

/* Current value as text. */
static void format_value(const struct config_option *o, struct buf *out) {
    switch (o->type) {
    case CFG_BOOL: buf_puts(out, o->num ? "yes" : "no"); break;
    case CFG_INT: buf_printf(out, "%lld", o->num); break;
    case CFG_MEMORY:
        if (o->num < 0)
            buf_printf(out, "%lld%%", -o->num);
        else
            buf_printf(out, "%lld", o->num);
        break;
    case CFG_ENUM:
        if (o->flags & CFG_F_FLAGS) {
            bool first = true;
            for (const struct config_enum *e = o->enums; e->name; e++) {
                if (e->value && (o->num & e->value) == e->value) {
                    if (!first) buf_putc(out, ' ');
                    buf_puts(out, e->name);
                    first = false;
                }
            }
        } else {
            buf_puts(out, config_enum_name(o->enums, (int)o->num));
        }
        break;
    case CFG_STRING:
        if (o->str) buf_append(out, o->str, (size_t)o->num);
        break;
    case CFG_SPECIAL: o->get(out); break;
    }
}

/* ---- registration ----------------------------------------------------------- */

static int set_from_text(struct config_option *o, const char *text, char *err) {
    char *copy = xstrdup(text);
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int argc = 0;
    char **argv = NULL;
    int rc;
    if (o->type == CFG_STRING) {
        argv = xmalloc(sizeof(char *));
        argv[0] = copy;
        argc = 1;
    } else {
        argc = resp_split_args(copy, strlen(copy), &offs, &cap);
        if (argc < 0) argc = 0;
        argv = xmalloc(sizeof(char *) * (size_t)(argc + 1));
        for (int i = 0; i < argc; i++) {
            argv[i] = copy + offs[i].off;
            argv[i][offs[i].len] = '\0';
        }
        /* An empty default means "no arguments" for multi-arg options. */
        if (argc == 0 && o->type != CFG_SPECIAL) {
            argv[0] = copy;
            argc = 1;
        }
    }
    struct pending p;
    rc = parse_value(o, argc, argv, &p, err);
    if (rc == 0) rc = apply(&p, err);
    xfree(argv);
    xfree(offs);
    xfree(copy);
    return rc;
}

int config_register(struct config_option *table) {
    if (ntables == MAX_TABLES) return ERR_LIMIT;
    pthread_mutex_lock(&mu);
    tables[ntables++] = table;
    pthread_mutex_unlock(&mu);
    char err[CFG_ERR_MAX];
    for (struct config_option *o = table; o->name; o++) {
        if (o->deflt && set_from_text(o, o->deflt, err) != 0) {
            fprintf(stderr, "stash: bad default for '%s': %s\n", o->name, err);
            return ERR_INVAL;
        }
    }
    return 0;
}

int config_register_group(struct config_option *table, config_commit_fn commit) {
    int rc = config_register(table);
    if (rc != 0) return rc;
    pthread_mutex_lock(&mu);
    commits[ntables - 1] = commit;
    pthread_mutex_unlock(&mu);
    return 0;
}

/* The commit of the group an option belongs to, or NULL. */
static config_commit_fn commit_of(const struct config_option *o) {
    for (int t = 0; t < ntables; t++) {
        if (commits[t] == NULL || o < tables[t]) continue;
        const struct config_option *e = tables[t];
        while (e->name) e++;
        if (o < e) return commits[t];
    }
    return NULL;
}

void config_teardown(void) {
    FOREACH_OPTION(o) {
        xfree(o->str);
        o->str = NULL;
    }
    ntables = 0;
}

/* ---- files and command lines -------------------------------------------------- */

static void fatal(int linenum, const char *line, const char *err) {
    fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (Stash %s) ***\n", STASH_VERSION);
    if (line) {
        fprintf(stderr, "Reading the configuration file, at line %d\n", linenum);
        fprintf(stderr, ">>> '%s'\n", line);
    }
    fprintf(stderr, "%s\n", err);
}

static int load_text(const char *text, int depth);

static int load_file(const char *path, int depth) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "Fatal error, can't open config file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&b, chunk, n);
    if (f != stdin) fclose(f);
    buf_putc(&b, '\0');
    int rc = load_text(b.data, depth);
    buf_free(&b);
    return rc;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

static int load_text(const char *text, int depth) {
    char *all = xstrdup(text);
    int linenum = 0, rc = 0;
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    char err[CFG_ERR_MAX];
    /* strtok_r would skip empty lines and lose line numbers: split by hand. */
    char *p = all;
    while (p && rc == 0) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        linenum++;
        char *line = trim(p);
        char *shown = xstrdup(line);
        p = nl ? nl + 1 : NULL;
        if (line[0] == '#' || line[0] == '\0') {
            xfree(shown);
            continue;
        }
        int argc = resp_split_args(line, strlen(line), &offs, &cap);
        if (argc < 0) {
            fatal(linenum, shown, "Unbalanced quotes in configuration line");
            rc = -1;
        } else if (argc > 0) {
            char **argv = xmalloc(sizeof(char *) * (size_t)argc);
            for (int i = 0; i < argc; i++) {
                argv[i] = line + offs[i].off;
                argv[i][offs[i].len] = '\0';
            }
            struct config_option *o = lookup(argv[0], strlen(argv[0]));
            if (strcasecmp(argv[0], "include") == 0 && argc == 2) {
                if (depth > 16) {
                    fatal(linenum, shown, "Too many nested includes");
                    rc = -1;
                } else {
                    rc = load_file(argv[1], depth + 1);
                }
            } else if (o == NULL) {
                fatal(linenum, shown, "Bad directive or wrong number of arguments");
                rc = -1;
            } else if (!(o->flags & (CFG_F_MULTI_ARG | CFG_F_FLAGS)) && argc != 2) {
                fatal(linenum, shown, "wrong number of arguments");
                rc = -1;
            } else {
                struct pending pv;
                int vargc = argc - 1;
                char **vargv = argv + 1;
                /* A single argument to a multi-argument option is split again
                 * (--save "900 1 300 10"), unless it is empty. */
                struct resp_argoff *offs2 = NULL;
                uint32_t cap2 = 0;
                char **argv2 = NULL;
                if ((o->flags & (CFG_F_MULTI_ARG | CFG_F_FLAGS)) && vargc == 1 && vargv[0][0]) {
                    int n2 = resp_split_args(vargv[0], strlen(vargv[0]), &offs2, &cap2);
                    if (n2 > 0) {
                        argv2 = xmalloc(sizeof(char *) * (size_t)n2);
                        char *base = vargv[0];
                        for (int i = 0; i < n2; i++) {
                            argv2[i] = base + offs2[i].off;
                            argv2[i][offs2[i].len] = '\0';
                        }
                        vargc = n2;
                        vargv = argv2;
                    }
                }
                if (parse_value(o, vargc, vargv, &pv, err) != 0 || apply(&pv, err) != 0) {
                    fatal(linenum, shown, err);
                    rc = -1;
                }
                xfree(argv2);
                xfree(offs2);
            }
            xfree(argv);
        }
        xfree(shown);
    }
    xfree(offs);
    xfree(all);
    return rc;
}

int config_load(const char *file, const char *extra) {
    int rc = 0;
    if (file) {
        if (file[0] == '/' || strcmp(file, "-") == 0 || realpath(file, config_path) == NULL)
            snprintf(config_path, sizeof(config_path), "%s", file);
        rc = load_file(file, 0);
    }
    if (rc == 0 && extra && extra[0]) rc = load_text(extra, 0);
    return rc;
}

const char *config_file_path(void) { return config_path; }

char *config_args_to_text(int argc, char **argv) {
    struct buf b = BUF_INIT;
    bool handled_last = true;
    for (int j = 0; j < argc; j++) {
        const char *a = argv[j];
        if (handled_last && a[0] == '-' && a[1] == '-') {
            if (b.len) buf_putc(&b, '\n');
            buf_puts(&b, a + 2);
            buf_putc(&b, ' ');
            /* "--port" alone: its value follows; "--port 6380" in one arg: done. */
            char *tmp = xstrdup(a);
            struct resp_argoff *offs = NULL;
            uint32_t cap = 0;
            int n = resp_split_args(tmp, strlen(tmp), &offs, &cap);
            xfree(offs);
            xfree(tmp);
            if (n == 1) {
                handled_last = false;
                bool save = strcasecmp(a, "--save") == 0;
                if (save && (j == argc - 1 || (argv[j + 1][0] == '-' && argv[j + 1][1] == '-'))) {
                    buf_puts(&b, "\"\"");
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            buf_repr(&b, a, strlen(a));
            buf_putc(&b, ' ');
            handled_last = true;
        }
    }
    buf_putc(&b, '\0');
    return b.data ? b.data : xstrdup("");
}

/* ---- CONFIG REWRITE -------------------------------------------------------------- */

#define REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

static struct {
    const struct config_option *o;
    config_rewrite_fn fn;
} rewriters[8];
static int nrewriters;

void config_set_rewrite(const char *name, config_rewrite_fn fn) {
    struct config_option *o = lookup(name, strlen(name));
    if (o && nrewriters < (int)ARRAY_LEN(rewriters)) rewriters[nrewriters++] = (typeof(rewriters[0])){o, fn};
}

static config_rewrite_fn rewriter_of(const struct config_option *o) {
    for (int i = 0; i < nrewriters; i++)
        if (rewriters[i].o == o) return rewriters[i].fn;
    return NULL;
}

/* Is the current value the default? (Compared as text, as set from it.) */
static bool at_default(const struct config_option *o) {
    const char *deflt = o->deflt ? o->deflt : "";
    struct buf cur = BUF_INIT, def = BUF_INIT;
    format_value(o, &cur);
    /* The default's text as the registry would show it once parsed. */
    struct config_option probe = *o;
    probe.str = NULL;
    char err[CFG_ERR_MAX];
    bool same;
    if (o->type == CFG_SPECIAL || o->type == CFG_STRING) {
        /* The default is config-file text: compare its arguments, spaced. */
        char *copy = xstrdup(deflt);
        struct resp_argoff *offs = NULL;
        uint32_t cap = 0;
        int n = o->type == CFG_STRING ? -1 : resp_split_args(copy, strlen(copy), &offs, &cap);
        if (n < 0) {
            buf_puts(&def, deflt);
        } else {
            for (int i = 0; i < n; i++) {
                if (i) buf_putc(&def, ' ');
                buf_append(&def, copy + offs[i].off, offs[i].len);
            }
        }
        xfree(offs);
        xfree(copy);
        same = cur.len == def.len && (cur.len == 0 || memcmp(cur.data, def.data, cur.len) == 0);
    } else {
        struct pending pv;
        char *copy = xstrdup(deflt);
        char *argv[1] = {copy};
        same = parse_value(&probe, 1, argv, &pv, err) == 0 && pv.num == o->num;
        xfree(copy);
    }
    buf_free(&cur);
    buf_free(&def);
    return same;
}

/* "name value" for o, quoting string values as the config parser reads them. */
static void rewrite_line(const struct config_option *o, struct buf *out) {
    config_rewrite_fn rw = rewriter_of(o);
    if (rw) {
        rw(out);
        return;
    }
    buf_puts(out, o->name);
    buf_putc(out, ' ');
    struct buf v = BUF_INIT;
    format_value(o, &v);
    if (o->type == CFG_STRING || (o->type == CFG_SPECIAL && v.len == 0))
        buf_repr(out, v.data ? v.data : "", v.len);
    else
        buf_append(out, v.data, v.len);
    buf_free(&v);
    buf_putc(out, '\n');
}

static int option_index(const struct config_option *o) {
    int idx = 0;
    FOREACH_OPTION(q) {
        if (q == o) return idx;
        idx++;
    }
    return -1;
}

int config_rewrite(char *err, size_t errlen) {
    if (config_path[0] == '\0' || strcmp(config_path, "-") == 0) {
        snprintf(err, errlen, "ERR The server is running without a config file");
        return -1;
    }
    FILE *f = fopen(config_path, "r");
    struct buf old = BUF_INIT;
    if (f) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&old, chunk, n);
        fclose(f);
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&mu);
    int nopts = 0;
    FOREACH_OPTION(o) nopts++;
    /* done[i]: option i was written already (later lines of it are dropped). */
    bool *done = xcalloc((size_t)(nopts ? nopts : 1), sizeof(bool));
    struct buf out = BUF_INIT;
    bool had_signature = false;
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    char *p = old.data, *end = old.data + old.len;
    while (p && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = xmalloc(len + 1);
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl ? nl + 1 : end;
        char *t = trim(line);
        if (strcmp(t, REWRITE_SIGNATURE) == 0) {
            had_signature = true;
            buf_puts(&out, REWRITE_SIGNATURE "\n");
            xfree(line);
            continue;
        }
        struct config_option *o = NULL;
        if (t[0] != '#' && t[0] != '\0') {
            char *copy = xstrdup(t);
            int argc = resp_split_args(copy, strlen(copy), &offs, &cap);
            if (argc > 0) o = lookup(copy + offs[0].off, offs[0].len);
            xfree(copy);
        }
        if (o == NULL) { /* comments, blank lines, include, rename-command...: kept */
            buf_append(&out, line, len);
            buf_putc(&out, '\n');
        } else {
            int idx = option_index(o);
            if (!done[idx]) {
                rewrite_line(o, &out);
                done[idx] = true;
            }
        }
        xfree(line);
    }
    /* Options not in the file and no longer at their defaults. */
    int idx = 0;
    bool signature = had_signature;
    FOREACH_OPTION(o) {
        bool skip = done[idx++] || (o->flags & CFG_F_HIDDEN) || (o->flags & CFG_F_NAME_HIDDEN);
        if (skip) continue;
        config_rewrite_fn rw = rewriter_of(o);
        if (rw) {
            struct buf lines = BUF_INIT;
            rw(&lines);
            if (lines.len) {
                if (!signature) buf_puts(&out, REWRITE_SIGNATURE "\n");
                signature = true;
                buf_append(&out, lines.data, lines.len);
            }
            buf_free(&lines);
            continue;
        }
        if ((o->flags & CFG_F_DIRECTIVE) || at_default(o)) continue;
        if (!signature) buf_puts(&out, REWRITE_SIGNATURE "\n");
        signature = true;
        rewrite_line(o, &out);
    }
    pthread_mutex_unlock(&mu);
    xfree(offs);
    xfree(done);
    buf_free(&old);
    /* Write next to the file, fsync, rename over it. */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-rewrite.%d", config_path, (int)getpid());
    int rc = -1;
    FILE *w = fopen(tmp, "w");
    if (w == NULL) {
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
    } else if (fwrite(out.data ? out.data : "", 1, out.len, w) != out.len || fflush(w) != 0 || fsync(fileno(w)) != 0) {
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
        fclose(w);
        unlink(tmp);
    } else if (fclose(w) != 0 || rename(tmp, config_path) != 0) {
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
        unlink(tmp);
    } else {
        rc = 0;
    }
    buf_free(&out);
    return rc;
}

/* ---- CONFIG GET / SET --------------------------------------------------------- */

void config_get(int npat, const char *const *pats, const size_t *plens, config_pair_fn fn, void *arg) {
    pthread_mutex_lock(&mu);
    struct buf v = BUF_INIT;
    /* Each option (and alias) at most once, in registration order. */
    FOREACH_OPTION(o) {
        if (o->flags & CFG_F_DIRECTIVE) continue;
        const char *names[2] = {o->name, o->alias};
        for (int k = 0; k < 2; k++) {
            const char *nm = names[k];
            if (nm == NULL) continue;
            bool match = false;
            for (int i = 0; i < npat && !match; i++) {
                bool exact = plens[i] == strlen(nm) && strncasecmp(pats[i], nm, plens[i]) == 0;
                bool is_pattern = memchr(pats[i], '*', plens[i]) || memchr(pats[i], '?', plens[i]) ||
                                  memchr(pats[i], '[', plens[i]);
                if (exact)
                    match = true;
                else if (is_pattern && !(o->flags & CFG_F_HIDDEN) && !(k == 0 && (o->flags & CFG_F_NAME_HIDDEN)) &&
                         glob_match(pats[i], plens[i], nm, strlen(nm), true))
                    match = true;
            }
            if (!match) continue;
            buf_clear(&v);
            format_value(o, &v);
            fn(nm, v.data ? v.data : "", v.len, arg);
        }
    }
    buf_free(&v);
    pthread_mutex_unlock(&mu);
}

bool config_value(const char *name, struct buf *out) {
    pthread_mutex_lock(&mu);
    struct config_option *o = lookup(name, strlen(name));
    if (o && (o->flags & CFG_F_DIRECTIVE)) o = NULL;
    if (o) format_value(o, out);
    pthread_mutex_unlock(&mu);
    return o != NULL;
}

/* The groups' commits after CONFIG SET applied p[0..n) (see config.h);
 * on failure everything is set back and the commits rerun. */
static int commit_groups(struct pending *p, int n, char **argv, char **olds, char *msg, const char **bad) {
    config_commit_fn fns[MAX_TABLES];
    int first[MAX_TABLES], nfns = 0;
    for (int i = 0; i < n; i++) {
        config_commit_fn f = commit_of(p[i].o);
        bool seen = f == NULL;
        for (int k = 0; k < nfns && !seen; k++) seen = fns[k] == f;
        if (seen) continue;
        fns[nfns] = f;
        first[nfns++] = i;
    }
    for (int k = 0; k < nfns; k++) {
        if (fns[k](msg) == 0) continue;
        *bad = argv[2 * first[k]];
        log_warn("Failed applying new configuration. Possibly related to new %s setting. Restoring previous "
                 "settings.", p[first[k]].o->name);
        char dummy[CFG_ERR_MAX];
        for (int j = n - 1; j >= 0; j--) set_from_text(p[j].o, olds[j], dummy);
        for (int j = 0; j < nfns; j++)
            if (fns[j](dummy) != 0) log_warn("Failed applying restored failed CONFIG SET command: %s", dummy);
        return -1;
    }
    return 0;
}

int config_set(int argc, char **argv, const size_t *lens, char *err, size_t errlen) {
    if (argc < 2 || argc % 2 != 0) {
        snprintf(err, errlen, "ERR wrong number of arguments for 'config|set' command");
        return -1;
    }
    int n = argc / 2;
    struct pending *p = xcalloc((size_t)n, sizeof(*p));
    char **olds = xcalloc((size_t)n, sizeof(*olds));
    char msg[CFG_ERR_MAX] = "";
    const char *bad = NULL;
    int rc = -1, applied = 0;
    pthread_mutex_lock(&mu);
    /* 1. resolve names, check duplicates and mutability */
    for (int i = 0; i < n; i++) {
        struct config_option *o = lookup(argv[2 * i], lens[2 * i]);
        if (o && (o->flags & CFG_F_DIRECTIVE)) o = NULL;
        if (o == NULL) {
            snprintf(err, errlen, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", argv[2 * i]);
            goto out;
        }
        if (o->flags & (CFG_F_IMMUTABLE | CFG_F_PROTECTED)) {
            bad = argv[2 * i];
            snprintf(msg, sizeof(msg), (o->flags & CFG_F_IMMUTABLE) ? "can't set immutable config"
                                                                     : "can't set protected config");
            goto fail;
        }
        for (int j = 0; j < i; j++) {
            if (p[j].o == o) {
                bad = argv[2 * i];
                snprintf(msg, sizeof(msg), "duplicate parameter");
                goto fail;
            }
        }
        p[i].o = o;
    }
    /* 2. parse every value */
    for (int i = 0; i < n; i++) {
        struct config_option *o = p[i].o;
        char *val = argv[2 * i + 1];
        int vargc = 1;
        char **vargv = &argv[2 * i + 1];
        char **split = NULL;
        struct resp_argoff *offs = NULL;
        uint32_t cap = 0;
        if (o->flags & (CFG_F_MULTI_ARG | CFG_F_FLAGS)) {
            /* The value is one string holding several arguments. */
            char *copy = xstrdup(val);
            int k = resp_split_args(copy, strlen(copy), &offs, &cap);
            if (k < 0) k = 0;
            split = xmalloc(sizeof(char *) * (size_t)(k + 1));
            for (int a = 0; a < k; a++) {
                split[a] = copy + offs[a].off;
                split[a][offs[a].len] = '\0';
            }
            split[k] = copy; /* keep for freeing */
            vargc = k;
            vargv = split;
        }
        int prc = parse_value(o, vargc, vargv, &p[i], msg);
        if (prc == 0 && o->type == CFG_STRING) p[i].slen = lens[2 * i + 1]; /* binary-safe */
        if (prc == 0 && split) {
            /* Keep the split arguments alive until apply. */
            p[i].argv = split;
            p[i].argc = vargc;
        } else if (split) {
            xfree(split[vargc]);
            xfree(split);
        }
        xfree(offs);
        if (prc != 0) {
            for (int j = 0; j < i; j++)
                if (p[j].o->flags & (CFG_F_MULTI_ARG | CFG_F_FLAGS)) {
                    xfree(p[j].argv[p[j].argc]);
                    xfree(p[j].argv);
                }
            bad = argv[2 * i];
            goto fail;
        }
    }
    /* 3. remember old values, apply in order, roll back on failure */
    struct buf ob = BUF_INIT;
    for (int i = 0; i < n; i++) {
        buf_clear(&ob);
        format_value(p[i].o, &ob);
        buf_putc(&ob, '\0');
        olds[i] = xstrdup(ob.data);
    }
    buf_free(&ob);
    for (int i = 0; i < n; i++) {
        if (apply(&p[i], msg) != 0) {
            bad = argv[2 * i];
            char dummy[CFG_ERR_MAX];
            for (int j = applied - 1; j >= 0; j--) set_from_text(p[j].o, olds[j], dummy);
            /* The failed one may have half-applied: restore it too. */
            set_from_text(p[i].o, olds[i], dummy);
            break;
        }
        applied++;
    }
    if (applied == n && commit_groups(p, n, argv, olds, msg, &bad) != 0) applied = 0;
    for (int i = 0; i < n; i++)
        if (p[i].o->flags & (CFG_F_MULTI_ARG | CFG_F_FLAGS)) {
            xfree(p[i].argv[p[i].argc]);
            xfree(p[i].argv);
        }
    if (applied == n) {
        rc = 0;
        goto out;
    }
fail:
    if (msg[0])
        snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", bad, msg);
    else
        snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s')", bad);
out:
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++) xfree(olds[i]);
    xfree(olds);
    xfree(p);
    return rc;
}
