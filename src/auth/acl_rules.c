/*
 * auth/acl_rules.c - the ACL rule grammar (ACL SETUSER, `user` lines,
 * aclfile lines) and its inverse, the descriptions of ACL LIST, GETUSER
 * and SAVE; see acl.h and acl_internal.h.
 *
 * Grammar (Redis 7.0): on off nopass resetpass >pass <pass #hash !hash
 * skip-sanitize-payload sanitize-payload reset clearselectors "(rules)",
 * and the selector rules: allkeys ~p %R~p %W~p %RW~p resetkeys allchannels
 * &p resetchannels allcommands nocommands +cmd -cmd +cmd|sub -cmd|sub
 * +cmd|firstarg +@cat -@cat. Errors are Redis's (enum acl_err).
 *
 * Command permissions are a bitmap over catalog ids. Allowing or denying a
 * container (CONFIG, CLIENT...) applies to each of its subcommands; a
 * category applies to every command that has it. The bit ACL_FUTURE_BIT is
 * set only by +@all (allcommands), which is how a description knows to
 * start from "+@all" rather than "-@all".
 *
 * Descriptions follow Redis's algorithm exactly: start from +@all or
 * -@all, then greedily pick the category that best fits what is left,
 * then fix the remaining differences command by command (catalog order),
 * then the first-args. The result re-creates the same bitmap (asserted).
 *
 * Thread context: pure functions over the values they are given; callers
 * hold the admin mutex (or own the rules).
 */
#include "auth/acl_internal.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "proto/resp.h"

#include <ctype.h>
#include <limits.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ------------------------------------------------------------- */

static bool op_is(const char *op, size_t len, const char *word) {
    size_t n = strlen(word);
    return len == n && strncasecmp(op, word, n) == 0;
}

/* Redis's ACLStringHasSpaces: whitespace or NUL. */
static bool has_spaces(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || s[i] == '\0') return true;
    return false;
}

static void hash_password(const char *p, size_t n, char out[ACL_HASH_HEX]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) PANIC("SHA-256 failed");
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
}

/* Redis's ACLCheckPasswordHash: 64 lowercase hex digits. */
static bool valid_hash(const char *p, size_t n) {
    if (n != ACL_HASH_HEX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'f') || (p[i] >= '0' && p[i] <= '9'))) return false;
    return true;
}

const char *acl_err_message(enum acl_err e) {
    switch (e) {
    case ACL_E_UNKNOWN: return "Unknown command or category name in ACL";
    case ACL_E_SYNTAX: return "Syntax error";
    case ACL_E_KEYS_ALL:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
               "effect. Try 'resetkeys' to start with an empty list of patterns";
    case ACL_E_CHANS_ALL:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
               "effect. Try 'resetchannels' to start with an empty list of channels";
    case ACL_E_NO_PASS: return "The password you are trying to remove from the user does not exist";
    case ACL_E_BAD_HASH:
        return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
    case ACL_E_DUPLICATE: return "Duplicate user found. A user can only be defined once in config files";
    case ACL_E_SUBCMD_ARG: return "Allowing first-arg of a subcommand is not supported";
    case ACL_E_OK: break;
    }
    return "Wrong format";
}

/* ---- command bitmaps --------------------------------------------------------------- */

static inline bool bit_get(const uint64_t *bits, int id) { return (bits[id / 64] >> (id % 64)) & 1; }

static inline void bit_put(uint64_t *bits, int id, bool v) {
    if (v)
        bits[id / 64] |= 1ULL << (id % 64);
    else
        bits[id / 64] &= ~(1ULL << (id % 64));
}

/* A command and, for a container, each of its subcommands. */
static void bits_change(uint64_t *bits, int id, bool allow) {
    bit_put(bits, id, allow);
    for (int i = 0; i < acl_nsubs[id]; i++) bit_put(bits, acl_subs[id][i], allow);
}

static void bits_category(uint64_t *bits, uint64_t cflag, bool allow) {
    for (int id = 0; id < acl_ncmds; id++)
        if (acl_cmds[id].categories & cflag) bits_change(bits, id, allow);
}

static void bits_count(const uint64_t *bits, uint64_t cflag, unsigned long *on, unsigned long *off) {
    *on = *off = 0;
    for (int id = 0; id < acl_ncmds; id++) {
        if (!(acl_cmds[id].categories & cflag)) continue;
        if (bit_get(bits, id))
            (*on)++;
        else
            (*off)++;
    }
}

/* ---- selectors ------------------------------------------------------------------------ */

static struct acl_sel *sel_create(unsigned flags) {
    struct acl_sel *s = xcalloc(1, sizeof(*s));
    s->flags = flags | atomic_load_explicit(&acl_pubsub_default, memory_order_relaxed);
    return s;
}

static void firstargs_reset_id(struct acl_sel *s, int id) {
    if (s->firstargs == NULL || s->firstargs[id] == NULL) return;
    for (char **a = s->firstargs[id]; *a; a++) xfree(*a);
    xfree(s->firstargs[id]);
    s->firstargs[id] = NULL;
}

static void firstargs_reset(struct acl_sel *s) {
    if (s->firstargs == NULL) return;
    for (int id = 0; id < ACL_MAX_COMMANDS; id++) firstargs_reset_id(s, id);
    xfree(s->firstargs);
    s->firstargs = NULL;
}

static void firstargs_add(struct acl_sel *s, int id, const char *arg, size_t n) {
    if (s->firstargs == NULL) s->firstargs = xcalloc(ACL_MAX_COMMANDS, sizeof(*s->firstargs));
    int items = 0;
    if (s->firstargs[id]) {
        for (; s->firstargs[id][items]; items++) {
            const char *cur = s->firstargs[id][items];
            if (strlen(cur) == n && strncasecmp(cur, arg, n) == 0) return;
        }
    }
    s->firstargs[id] = xrealloc(s->firstargs[id], sizeof(char *) * (size_t)(items + 2));
    s->firstargs[id][items] = xstrndup(arg, n);
    s->firstargs[id][items + 1] = NULL;
}

static void keys_clear(struct acl_sel *s) {
    for (int i = 0; i < s->nkeys; i++) xfree(s->keys[i].p);
    s->nkeys = 0;
}

static void chans_clear(struct acl_sel *s) {
    for (int i = 0; i < s->nchans; i++) xfree(s->chans[i].p);
    s->nchans = 0;
}

static void sel_free(struct acl_sel *s) {
    if (s == NULL) return;
    keys_clear(s);
    chans_clear(s);
    xfree(s->keys);
    xfree(s->chans);
    firstargs_reset(s);
    xfree(s);
}

static struct acl_sel *sel_copy(const struct acl_sel *src) {
    struct acl_sel *s = xcalloc(1, sizeof(*s));
    s->flags = src->flags;
    memcpy(s->allowed, src->allowed, sizeof(s->allowed));
    if (src->nkeys) {
        s->capkeys = s->nkeys = src->nkeys;
        s->keys = xmalloc(sizeof(*s->keys) * (size_t)s->nkeys);
        for (int i = 0; i < s->nkeys; i++)
            s->keys[i] = (struct acl_keypat){xmemdup(src->keys[i].p, src->keys[i].n + 1), src->keys[i].n,
                                             src->keys[i].perm, src->keys[i].kind};
    }
    if (src->nchans) {
        s->capchans = s->nchans = src->nchans;
        s->chans = xmalloc(sizeof(*s->chans) * (size_t)s->nchans);
        for (int i = 0; i < s->nchans; i++)
            s->chans[i] = (struct acl_str){xmemdup(src->chans[i].p, src->chans[i].n + 1), src->chans[i].n,
                                           src->chans[i].kind};
    }
    if (src->firstargs) {
        for (int id = 0; id < ACL_MAX_COMMANDS; id++) {
            if (src->firstargs[id] == NULL) continue;
            for (char **a = src->firstargs[id]; *a; a++) firstargs_add(s, id, *a, strlen(*a));
        }
    }
    return s;
}

/* Redis's ACLSetSelectorCommandBit: clearing a bit ends "allcommands". */
static void sel_bit(struct acl_sel *s, int id, bool v) {
    bit_put(s->allowed, id, v);
    if (!v) s->flags &= ~SEL_ALLCOMMANDS;
}

/* Redis's ACLChangeSelectorPerm. */
static void sel_change(struct acl_sel *s, int id, bool allow) {
    sel_bit(s, id, allow);
    firstargs_reset_id(s, id);
    for (int i = 0; i < acl_nsubs[id]; i++) sel_bit(s, acl_subs[id][i], allow);
}

static void sel_category(struct acl_sel *s, uint64_t cflag, bool allow) {
    for (int id = 0; id < acl_ncmds; id++)
        if (acl_cmds[id].categories & cflag) sel_change(s, id, allow);
}

static enum acl_err add_key_pattern(struct acl_sel *s, const char *op, size_t len) {
    if (s->flags & SEL_ALLKEYS) return ACL_E_KEYS_ALL;
    unsigned perm = 0;
    size_t off = 1;
    if (op[0] == '%') {
        bool tilde = false;
        for (; off < len; off++) {
            char ch = (char)toupper((unsigned char)op[off]);
            if (ch == 'R' && !(perm & ACL_PERM_READ)) {
                perm |= ACL_PERM_READ;
            } else if (ch == 'W' && !(perm & ACL_PERM_WRITE)) {
                perm |= ACL_PERM_WRITE;
            } else if (op[off] == '~') {
                off++;
                tilde = true;
                break;
            } else {
                return ACL_E_SYNTAX;
            }
        }
        /* "%~p" or "%R" would make a pattern with no meaning: refused
         * (Redis 7.0 accepts them and later fails to describe them). */
        if (!tilde || perm == 0) return ACL_E_SYNTAX;
    } else {
        perm = ACL_PERM_ALL;
    }
    const char *p = op + off;
    size_t n = len - off;
    if (has_spaces(p, n)) return ACL_E_SYNTAX;
    for (int i = 0; i < s->nkeys; i++) {
        if (s->keys[i].n == n && memcmp(s->keys[i].p, p, n) == 0) {
            s->keys[i].perm |= perm; /* %R~x then %W~x is ~x */
            s->flags &= ~SEL_ALLKEYS;
            return ACL_E_OK;
        }
    }
    if (s->nkeys == s->capkeys) {
        s->capkeys = s->capkeys ? s->capkeys * 2 : 4;
        s->keys = xrealloc(s->keys, sizeof(*s->keys) * (size_t)s->capkeys);
    }
    s->keys[s->nkeys++] = (struct acl_keypat){xstrndup(p, n), n, perm, acl_pattern_kind(p, n)};
    s->flags &= ~SEL_ALLKEYS;
    return ACL_E_OK;
}

static enum acl_err add_channel(struct acl_sel *s, const char *op, size_t len) {
    if (s->flags & SEL_ALLCHANNELS) return ACL_E_CHANS_ALL;
    const char *p = op + 1;
    size_t n = len - 1;
    if (has_spaces(p, n)) return ACL_E_SYNTAX;
    for (int i = 0; i < s->nchans; i++)
        if (s->chans[i].n == n && memcmp(s->chans[i].p, p, n) == 0) return ACL_E_OK;
    if (s->nchans == s->capchans) {
        s->capchans = s->capchans ? s->capchans * 2 : 4;
        s->chans = xrealloc(s->chans, sizeof(*s->chans) * (size_t)s->capchans);
    }
    s->chans[s->nchans++] = (struct acl_str){xstrndup(p, n), n, acl_pattern_kind(p, n)};
    s->flags &= ~SEL_ALLCHANNELS;
    return ACL_E_OK;
}

/* +cmd, +container|sub, +cmd|firstarg. */
static enum acl_err allow_command(struct acl_sel *s, const char *name, size_t n) {
    const char *bar = NULL;
    for (size_t i = n; i > 0; i--) {
        if (name[i - 1] == '|') {
            bar = name + i - 1;
            break;
        }
    }
    if (bar == NULL) {
        int id = acl_cmd_lookup(name, n);
        if (id < 0) return ACL_E_UNKNOWN;
        sel_change(s, id, true);
        return ACL_E_OK;
    }
    size_t baselen = (size_t)(bar - name);
    const char *sub = bar + 1;
    size_t sublen = n - baselen - 1;
    int base = acl_cmd_lookup(name, baselen);
    if (base < 0) return ACL_E_UNKNOWN;
    if (acl_cmds[base].parent >= 0) return ACL_E_SUBCMD_ARG;
    if (sublen == 0) return ACL_E_SYNTAX;
    if (acl_nsubs[base] > 0) {
        int id = acl_cmd_lookup(name, n);
        if (id < 0) return ACL_E_UNKNOWN;
        sel_change(s, id, true);
    } else {
        /* SELECT|0, DEBUG|object: a first argument of a command that has
         * no subcommands. */
        log_warn("Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and "
                 "may get disabled in the future (offender: +%.*s)",
                 (int)n, name);
        firstargs_add(s, base, sub, sublen);
    }
    return ACL_E_OK;
}

/* Redis's ACLSetSelector. */
static enum acl_err sel_apply(struct acl_sel *s, const char *op, size_t len) {
    if (op_is(op, len, "allkeys") || op_is(op, len, "~*")) {
        s->flags |= SEL_ALLKEYS;
        keys_clear(s);
    } else if (op_is(op, len, "resetkeys")) {
        s->flags &= ~SEL_ALLKEYS;
        keys_clear(s);
    } else if (op_is(op, len, "allchannels") || op_is(op, len, "&*")) {
        s->flags |= SEL_ALLCHANNELS;
        chans_clear(s);
    } else if (op_is(op, len, "resetchannels")) {
        s->flags &= ~SEL_ALLCHANNELS;
        chans_clear(s);
    } else if (op_is(op, len, "allcommands") || op_is(op, len, "+@all")) {
        memset(s->allowed, 0xff, sizeof(s->allowed));
        s->flags |= SEL_ALLCOMMANDS;
        firstargs_reset(s);
    } else if (op_is(op, len, "nocommands") || op_is(op, len, "-@all")) {
        memset(s->allowed, 0, sizeof(s->allowed));
        s->flags &= ~SEL_ALLCOMMANDS;
        firstargs_reset(s);
    } else if (len > 0 && (op[0] == '~' || op[0] == '%')) {
        return add_key_pattern(s, op, len);
    } else if (len > 0 && op[0] == '&') {
        return add_channel(s, op, len);
    } else if (len > 0 && op[0] == '+' && (len < 2 || op[1] != '@')) {
        return allow_command(s, op + 1, len - 1);
    } else if (len > 0 && op[0] == '-' && (len < 2 || op[1] != '@')) {
        int id = acl_cmd_lookup(op + 1, len - 1);
        if (id < 0) return ACL_E_UNKNOWN;
        sel_change(s, id, false);
    } else if (len >= 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
        int cat = acl_category_by_name(op + 2, len - 2);
        if (cat < 0) return ACL_E_UNKNOWN;
        sel_category(s, 1ULL << cat, op[0] == '+');
    } else {
        return ACL_E_SYNTAX;
    }
    return ACL_E_OK;
}

/* "(rules)": a new selector with these rules (split as Redis's sdssplitargs). */
static enum acl_err sel_from_opset(const char *op, size_t len, struct acl_sel **out) {
    struct acl_sel *s = sel_create(0);
    char *inner = xstrndup(op + 1, len - 2);
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int argc = resp_split_args(inner, len - 2, &offs, &cap);
    enum acl_err e = ACL_E_OK;
    for (int i = 0; i < argc && e == ACL_E_OK; i++) e = sel_apply(s, inner + offs[i].off, offs[i].len);
    xfree(offs);
    xfree(inner);
    if (e != ACL_E_OK) {
        sel_free(s);
        return e;
    }
    *out = s;
    return ACL_E_OK;
}

/* ---- rules ---------------------------------------------------------------------------- */

static void rules_add_sel(struct acl_rules *r, struct acl_sel *s) {
    if (r->nsels == r->capsels) {
        r->capsels = r->capsels ? r->capsels * 2 : 2;
        r->sels = xrealloc(r->sels, sizeof(*r->sels) * (size_t)r->capsels);
    }
    r->sels[r->nsels++] = s;
}

void acl_rules_init(struct acl_rules *r) {
    memset(r, 0, sizeof(*r));
    r->flags = USER_OFF;
    rules_add_sel(r, sel_create(SEL_ROOT));
}

void acl_rules_init_default(struct acl_rules *r) {
    acl_rules_init(r);
    static const char *const ops[] = {"+@all", "~*", "&*", "on", "nopass"};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) acl_rules_apply(r, ops[i], strlen(ops[i]));
}

void acl_rules_free(struct acl_rules *r) {
    for (int i = 0; i < r->nsels; i++) sel_free(r->sels[i]);
    xfree(r->sels);
    xfree(r->pass);
    memset(r, 0, sizeof(*r));
}

void acl_rules_copy(struct acl_rules *dst, const struct acl_rules *src) {
    memset(dst, 0, sizeof(*dst));
    dst->flags = src->flags;
    if (src->npass) {
        dst->npass = dst->cappass = src->npass;
        dst->pass = xmemdup(src->pass, sizeof(*src->pass) * (size_t)src->npass);
    }
    for (int i = 0; i < src->nsels; i++) rules_add_sel(dst, sel_copy(src->sels[i]));
}

static int find_pass(const struct acl_rules *r, const char h[ACL_HASH_HEX]) {
    for (int i = 0; i < r->npass; i++)
        if (memcmp(r->pass[i], h, ACL_HASH_HEX) == 0) return i;
    return -1;
}

static enum acl_err password_op(struct acl_rules *r, const char *op, size_t len) {
    char h[ACL_HASH_HEX];
    if (op[0] == '>' || op[0] == '<') {
        hash_password(op + 1, len - 1, h);
    } else {
        if (!valid_hash(op + 1, len - 1)) return ACL_E_BAD_HASH;
        memcpy(h, op + 1, ACL_HASH_HEX);
    }
    int at = find_pass(r, h);
    if (op[0] == '>' || op[0] == '#') {
        if (at < 0) {
            if (r->npass == r->cappass) {
                r->cappass = r->cappass ? r->cappass * 2 : 2;
                r->pass = xrealloc(r->pass, sizeof(*r->pass) * (size_t)r->cappass);
            }
            memcpy(r->pass[r->npass++], h, ACL_HASH_HEX);
        }
        r->flags &= ~USER_NOPASS;
        return ACL_E_OK;
    }
    if (at < 0) return ACL_E_NO_PASS;
    memmove(r->pass[at], r->pass[at + 1], sizeof(*r->pass) * (size_t)(r->npass - at - 1));
    r->npass--;
    return ACL_E_OK;
}

static void clear_selectors(struct acl_rules *r) {
    for (int i = 1; i < r->nsels; i++) sel_free(r->sels[i]);
    r->nsels = 1;
}

/* Redis's ACLSetUser. */
enum acl_err acl_rules_apply(struct acl_rules *r, const char *op, size_t len) {
    if (len == 0) return ACL_E_OK;
    if (op_is(op, len, "on")) {
        r->flags = (r->flags | USER_ON) & ~USER_OFF;
    } else if (op_is(op, len, "off")) {
        r->flags = (r->flags | USER_OFF) & ~USER_ON;
    } else if (op_is(op, len, "skip-sanitize-payload")) {
        r->flags = (r->flags | USER_SKIP_SANITIZE) & ~USER_SANITIZE;
    } else if (op_is(op, len, "sanitize-payload")) {
        r->flags = (r->flags | USER_SANITIZE) & ~USER_SKIP_SANITIZE;
    } else if (op_is(op, len, "nopass")) {
        r->flags |= USER_NOPASS;
        r->npass = 0;
    } else if (op_is(op, len, "resetpass")) {
        r->flags &= ~USER_NOPASS;
        r->npass = 0;
    } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
        return password_op(r, op, len);
    } else if (op[0] == '(' && op[len - 1] == ')') {
        struct acl_sel *s;
        enum acl_err e = sel_from_opset(op, len, &s);
        if (e != ACL_E_OK) return e;
        rules_add_sel(r, s);
    } else if (op_is(op, len, "clearselectors")) {
        clear_selectors(r);
    } else if (op_is(op, len, "reset")) {
        static const char *const ops[] = {"resetpass", "resetkeys", "resetchannels"};
        for (size_t i = 0; i < ARRAY_LEN(ops); i++) acl_rules_apply(r, ops[i], strlen(ops[i]));
        if (atomic_load_explicit(&acl_pubsub_default, memory_order_relaxed) & SEL_ALLCHANNELS)
            acl_rules_apply(r, "allchannels", 11);
        static const char *const more[] = {"off", "sanitize-payload", "clearselectors", "-@all"};
        for (size_t i = 0; i < ARRAY_LEN(more); i++) acl_rules_apply(r, more[i], strlen(more[i]));
    } else {
        return sel_apply(r->sels[0], op, len);
    }
    return ACL_E_OK;
}

struct acl_str *acl_merge_selectors(int argc, const char *const *argv, const size_t *lens, int *nout, int *bad) {
    struct acl_str *out = xcalloc((size_t)(argc ? argc : 1), sizeof(*out));
    int n = 0, open = -1;
    struct buf sel = BUF_INIT;
    for (int j = 0; j < argc; j++) {
        const char *op = argv[j];
        size_t len = lens[j];
        if (open < 0 && len > 0 && op[0] == '(' && op[len - 1] != ')') {
            buf_clear(&sel);
            buf_append(&sel, op, len);
            open = j;
            continue;
        }
        if (open >= 0) {
            buf_putc(&sel, ' ');
            buf_append(&sel, op, len);
            if (len > 0 && op[len - 1] == ')') {
                out[n++] = (struct acl_str){xstrndup(sel.data, sel.len), sel.len, 0};
                open = -1;
            }
            continue;
        }
        out[n++] = (struct acl_str){xstrndup(op, len), len, 0};
    }
    buf_free(&sel);
    if (open >= 0) {
        acl_strs_free(out, n);
        if (bad) *bad = open;
        return NULL;
    }
    *nout = n;
    return out;
}

void acl_strs_free(struct acl_str *s, int n) {
    if (s == NULL) return;
    for (int i = 0; i < n; i++) xfree(s[i].p);
    xfree(s);
}

static bool sel_unrestricted(const struct acl_sel *s) {
    unsigned all = SEL_ALLKEYS | SEL_ALLCHANNELS | SEL_ALLCOMMANDS;
    return (s->flags & all) == all;
}

bool acl_rules_unrestricted(const struct acl_rules *r) {
    for (int i = 0; i < r->nsels; i++)
        if (sel_unrestricted(r->sels[i])) return true;
    return false;
}

/* Redis's ACLKillPubsubClientsIfNeeded shortcut: every channel pattern of
 * `old` is among r's (or r allows every channel). */
bool acl_rules_channels_superset(const struct acl_rules *r, const struct acl_rules *old) {
    for (int i = 0; i < r->nsels; i++)
        if (r->sels[i]->flags & SEL_ALLCHANNELS) return true;
    for (int i = 0; i < old->nsels; i++) {
        const struct acl_sel *o = old->sels[i];
        if (o->flags & SEL_ALLCHANNELS) return false;
        for (int k = 0; k < o->nchans; k++) {
            bool found = false;
            for (int s = 0; s < r->nsels && !found; s++) {
                const struct acl_sel *ns = r->sels[s];
                for (int m = 0; m < ns->nchans && !found; m++)
                    found = ns->chans[m].n == o->chans[k].n && memcmp(ns->chans[m].p, o->chans[k].p, o->chans[k].n) == 0;
            }
            if (!found) return false;
        }
    }
    return true;
}

/* ---- descriptions ------------------------------------------------------------------------ */

int acl_user_flag_names(unsigned flags, const char *out[5]) {
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {{USER_ON, "on"},
                 {USER_OFF, "off"},
                 {USER_NOPASS, "nopass"},
                 {USER_SKIP_SANITIZE, "skip-sanitize-payload"},
                 {USER_SANITIZE, "sanitize-payload"}};
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (flags & names[i].flag) out[n++] = names[i].name;
    return n;
}

/* One command's difference between the selector and the description built
 * so far (`fake`), then fix `fake`. */
static void describe_one(const struct acl_sel *s, uint64_t *fake, int id, struct buf *out) {
    bool userbit = bit_get(s->allowed, id);
    if (userbit != bit_get(fake, id)) {
        buf_putc(out, userbit ? '+' : '-');
        buf_puts(out, acl_cmds[id].fullname);
        buf_putc(out, ' ');
        bits_change(fake, id, userbit);
    }
}

static void describe_firstargs(const struct acl_sel *s, int id, struct buf *out) {
    if (bit_get(s->allowed, id) || s->firstargs == NULL || s->firstargs[id] == NULL) return;
    for (char **a = s->firstargs[id]; *a; a++) {
        buf_putc(out, '+');
        buf_puts(out, acl_cmds[id].fullname);
        buf_putc(out, '|');
        buf_puts(out, *a);
        buf_putc(out, ' ');
    }
}

/* Redis's ACLDescribeSelectorCommandRules. */
void acl_describe_commands(const struct acl_sel *s, struct buf *out) {
    uint64_t fake[ACL_CMD_WORDS], temp[ACL_CMD_WORDS];
    size_t start = out->len;
    bool additive = !bit_get(s->allowed, ACL_FUTURE_BIT);
    memset(fake, additive ? 0 : 0xff, sizeof(fake));
    buf_puts(out, additive ? "-@all " : "+@all ");
    memcpy(temp, s->allowed, sizeof(temp));
    bool applied[ACL_NCATEGORIES] = {false};
    for (;;) {
        int best = -1;
        unsigned long mindiff = INT_MAX, maxsame = 0;
        for (int j = 0; j < ACL_NCATEGORIES; j++) {
            if (applied[j]) continue;
            unsigned long on, off;
            bits_count(temp, 1ULL << j, &on, &off);
            unsigned long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) break;
        bits_category(fake, 1ULL << best, additive);
        bits_category(temp, 1ULL << best, !additive);
        buf_printf(out, "%c@%s ", additive ? '+' : '-', acl_category_names[best]);
        applied[best] = true;
    }
    for (int id = 0; id < acl_ncmds; id++) {
        if (acl_cmds[id].parent >= 0) continue;
        describe_one(s, fake, id, out);
        for (int i = 0; i < acl_nsubs[id]; i++) {
            describe_one(s, fake, acl_subs[id][i], out);
            describe_firstargs(s, acl_subs[id][i], out);
        }
        describe_firstargs(s, id, out);
    }
    if (out->len > start) out->len--; /* the last space */
    /* The description must give back exactly the same permissions: a
     * mismatch would be a security bug, so stop rather than go on. */
    for (int id = 0; id < acl_ncmds; id++)
        if (bit_get(fake, id) != bit_get(s->allowed, id)) PANIC("ACL description does not match the permissions");
}

static void keypat_describe(const struct acl_keypat *k, struct buf *out) {
    if (k->perm == ACL_PERM_ALL)
        buf_putc(out, '~');
    else if (k->perm == ACL_PERM_READ)
        buf_puts(out, "%R~");
    else
        buf_puts(out, "%W~");
    buf_append(out, k->p, k->n);
}

void acl_describe_keys(const struct acl_sel *s, struct buf *out) {
    if (s->flags & SEL_ALLKEYS) {
        buf_puts(out, "~*");
        return;
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (i) buf_putc(out, ' ');
        keypat_describe(&s->keys[i], out);
    }
}

void acl_describe_channels(const struct acl_sel *s, struct buf *out) {
    if (s->flags & SEL_ALLCHANNELS) {
        buf_puts(out, "&*");
        return;
    }
    for (int i = 0; i < s->nchans; i++) {
        if (i) buf_putc(out, ' ');
        buf_putc(out, '&');
        buf_append(out, s->chans[i].p, s->chans[i].n);
    }
}

/* Redis's ACLDescribeSelector. */
static void describe_selector(const struct acl_sel *s, struct buf *out) {
    if (s->flags & SEL_ALLKEYS) {
        buf_puts(out, "~* ");
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            keypat_describe(&s->keys[i], out);
            buf_putc(out, ' ');
        }
    }
    if (s->flags & SEL_ALLCHANNELS) {
        buf_puts(out, "&* ");
    } else {
        buf_puts(out, "resetchannels ");
        for (int i = 0; i < s->nchans; i++) {
            buf_putc(out, '&');
            buf_append(out, s->chans[i].p, s->chans[i].n);
            buf_putc(out, ' ');
        }
    }
    acl_describe_commands(s, out);
}

/* Redis's ACLDescribeUser. */
void acl_describe_rules(const struct acl_rules *r, struct buf *out) {
    const char *names[5];
    int n = acl_user_flag_names(r->flags, names);
    for (int i = 0; i < n; i++) {
        buf_puts(out, names[i]);
        buf_putc(out, ' ');
    }
    for (int i = 0; i < r->npass; i++) {
        buf_putc(out, '#');
        buf_append(out, r->pass[i], ACL_HASH_HEX);
        buf_putc(out, ' ');
    }
    for (int i = 0; i < r->nsels; i++) {
        if (i == 0) {
            describe_selector(r->sels[i], out);
        } else {
            buf_puts(out, " (");
            describe_selector(r->sels[i], out);
            buf_putc(out, ')');
        }
    }
}

/* ---- credentials ---------------------------------------------------------------------- */

bool acl_rules_password_ok(const struct acl_rules *r, const char *pass, size_t plen) {
    char h[ACL_HASH_HEX];
    hash_password(pass, plen, h);
    unsigned ok = 0;
    for (int i = 0; i < r->npass; i++) {
        unsigned diff = 0;
        for (int k = 0; k < ACL_HASH_HEX; k++) diff |= (unsigned)(unsigned char)(h[k] ^ r->pass[i][k]);
        ok |= (diff == 0);
    }
    return ok != 0;
}
