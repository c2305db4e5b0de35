/*
 * auth/acl.c - the user registry, its locks, AUTH, and the changes of ACL
 * SETUSER / DELUSER / LOAD; see acl.h for the model and the locking rules.
 *
 * Layout:
 *   users[]        registry, sorted by name (byte order, shorter first: the
 *                  order of Redis's rax, which ACL LIST and SAVE show)
 *   default_user   users[] holds it too; never deleted, never freed before
 *                  teardown (ACL LOAD copies the new rules into it)
 *   rlocks[]       reader locks: one per worker thread + one shared by the
 *                  other threads, each on its own cache line
 *   admin_mu       serializes changes and admin reads
 *
 * A change: under admin_mu, copy the user's rules, apply every op to the
 * copy (nothing is half-applied on error), then take every reader lock,
 * swap the rules in, recompute the `unrestricted` flag, release; free the
 * old rules after (no reader can be inside them any more).
 *
 * Conventions: acl_* exported; static helpers unprefixed.
 */
#include "auth/acl_internal.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "config/config.h"
#include "net/worker.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const acl_category_names[ACL_NCATEGORIES] = {
    "keyspace", "read",     "write",     "set",        "sortedset",   "list",     "hash",
    "string",   "bitmap",   "hyperloglog", "geo",      "stream",      "pubsub",   "admin",
    "fast",     "slow",     "blocking",  "dangerous",  "connection",  "transaction", "scripting"};

int acl_category_by_name(const char *name, size_t len) {
    for (int i = 0; i < ACL_NCATEGORIES; i++)
        if (strlen(acl_category_names[i]) == len && strncasecmp(acl_category_names[i], name, len) == 0) return i;
    return -1;
}

/* ---- locks ------------------------------------------------------------------ */

struct rlock {
    pthread_mutex_t mu;
    char pad[CACHELINE - sizeof(pthread_mutex_t) % CACHELINE];
};
static struct rlock rlocks[WORKER_MAX + 1] CACHE_ALIGNED;
static pthread_mutex_t admin_mu = PTHREAD_MUTEX_INITIALIZER;

static struct rlock *my_rlock(void) {
    int i = worker_self_id();
    return &rlocks[i >= 0 && i < WORKER_MAX ? i : WORKER_MAX];
}

static void read_lock(void) { pthread_mutex_lock(&my_rlock()->mu); }
static void read_unlock(void) { pthread_mutex_unlock(&my_rlock()->mu); }

/* Every reader lock in use: the workers' (their number is fixed once they
 * run; before that there are none) and the shared one. */
static int nlocked;
static void write_lock(void) {
    nlocked = MIN(worker_count(), WORKER_MAX);
    for (int i = 0; i < nlocked; i++) pthread_mutex_lock(&rlocks[i].mu);
    pthread_mutex_lock(&rlocks[WORKER_MAX].mu);
}
static void write_unlock(void) {
    pthread_mutex_unlock(&rlocks[WORKER_MAX].mu);
    for (int i = nlocked - 1; i >= 0; i--) pthread_mutex_unlock(&rlocks[i].mu);
}

void acl_admin_lock(void) { pthread_mutex_lock(&admin_mu); }
void acl_admin_unlock(void) { pthread_mutex_unlock(&admin_mu); }

/* ---- catalog ------------------------------------------------------------------ */

const struct acl_cmdinfo *acl_cmds;
int acl_ncmds;
int **acl_subs;
int *acl_nsubs;
_Atomic unsigned acl_pubsub_default; /* 0: resetchannels (Redis 7.0's default) */

struct name_slot {
    const char *name;
    size_t len;
    int id;
};
static struct name_slot *names;
static size_t names_mask;

static uint64_t name_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 1099511628211ULL;
    }
    return h;
}

int acl_cmd_lookup(const char *name, size_t len) {
    if (names == NULL || len == 0) return -1;
    size_t i = name_hash(name, len) & names_mask;
    while (names[i].name) {
        if (names[i].len == len && strncasecmp(names[i].name, name, len) == 0) return names[i].id;
        i = (i + 1) & names_mask;
    }
    return -1;
}

static void catalog_free(void) {
    if (acl_subs)
        for (int i = 0; i < acl_ncmds; i++) xfree(acl_subs[i]);
    xfree(acl_subs);
    xfree(acl_nsubs);
    xfree(names);
    acl_subs = NULL;
    acl_nsubs = NULL;
    names = NULL;
}

void acl_set_catalog(const struct acl_cmdinfo *cmds, int n) {
    ASSERT(n < ACL_FUTURE_BIT);
    catalog_free();
    acl_cmds = cmds;
    acl_ncmds = n;
    acl_subs = xcalloc((size_t)n, sizeof(*acl_subs));
    acl_nsubs = xcalloc((size_t)n, sizeof(*acl_nsubs));
    for (int id = 0; id < n; id++) {
        int p = cmds[id].parent;
        if (p < 0) continue;
        acl_subs[p] = xrealloc(acl_subs[p], sizeof(int) * (size_t)(acl_nsubs[p] + 1));
        acl_subs[p][acl_nsubs[p]++] = id;
    }
    size_t size = 16;
    while (size < (size_t)n * 4) size <<= 1;
    names = xcalloc(size, sizeof(*names));
    names_mask = size - 1;
    for (int id = 0; id < n; id++) {
        size_t len = strlen(cmds[id].fullname);
        size_t i = name_hash(cmds[id].fullname, len) & names_mask;
        while (names[i].name) i = (i + 1) & names_mask;
        names[i] = (struct name_slot){cmds[id].fullname, len, id};
    }
}

/* ---- users ---------------------------------------------------------------------- */

static struct acl_user **users;
static int nusers, capusers;
static struct acl_user *default_user;
_Atomic bool acl_auth_required_;
static _Atomic bool default_nopass = true;

struct acl_user *acl_default_user(void) { return default_user; }

bool acl_user_exists(const char *name, size_t nlen) {
    acl_admin_lock();
    bool found = acl_find(name, nlen) != NULL;
    acl_admin_unlock();
    return found;
}
const char *acl_user_name(const struct acl_user *u) { return u->name; }
bool acl_default_nopass(void) { return atomic_load_explicit(&default_nopass, memory_order_relaxed); }

/* Byte order, shorter first when one name prefixes the other. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, MIN(alen, blen));
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of the user, or -(insertion point) - 1. */
static int find_index(const char *name, size_t len) {
    int lo = 0, hi = nusers - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = name_cmp(users[mid]->name, users[mid]->namelen, name, len);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

struct acl_user *acl_find(const char *name, size_t len) {
    int i = find_index(name, len);
    return i >= 0 ? users[i] : NULL;
}

static struct acl_user *user_new(const char *name, size_t len) {
    struct acl_user *u = xcalloc(1, sizeof(*u));
    atomic_init(&u->refs, 1);
    u->name = xstrndup(name, len);
    u->namelen = len;
    acl_rules_init(&u->r);
    return u;
}

static void user_free(struct acl_user *u) {
    acl_rules_free(&u->r);
    xfree(u->name);
    xfree(u);
}

/* The default user lives as long as the module: connections need not
 * count references to it (no shared counter touched per connection). */
void acl_user_ref(struct acl_user *u) {
    if (u != default_user) atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
}

void acl_user_unref(struct acl_user *u) {
    if (u != default_user && atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) == 1) user_free(u);
}

/* Link u (not yet visible) into the registry. [admin mutex + write lock] */
static void registry_insert(struct acl_user *u) {
    int i = find_index(u->name, u->namelen);
    ASSERT(i < 0);
    i = -i - 1;
    if (nusers == capusers) {
        capusers = capusers ? capusers * 2 : 8;
        users = xrealloc(users, sizeof(*users) * (size_t)capusers);
    }
    memmove(&users[i + 1], &users[i], sizeof(*users) * (size_t)(nusers - i));
    users[i] = u;
    nusers++;
}

static void registry_remove_at(int i) {
    memmove(&users[i], &users[i + 1], sizeof(*users) * (size_t)(nusers - i - 1));
    nusers--;
}

/* The flags derived from a user's rules. [write lock] */
static void refresh_user(struct acl_user *u) {
    atomic_store_explicit(&u->head.unrestricted, acl_rules_unrestricted(&u->r), memory_order_relaxed);
    if (u == default_user) {
        bool nopass = (u->r.flags & USER_NOPASS) != 0;
        atomic_store_explicit(&default_nopass, nopass, memory_order_relaxed);
        atomic_store_explicit(&acl_auth_required_, !nopass || (u->r.flags & USER_OFF), memory_order_relaxed);
    }
}

/* Swap new rules into u; *r gets the old ones. [admin mutex] */
static void publish_rules(struct acl_user *u, struct acl_rules *r) {
    write_lock();
    struct acl_rules old = u->r;
    u->r = *r;
    *r = old;
    refresh_user(u);
    write_unlock();
}

void acl_doomed_free(struct acl_doomed *d) {
    for (int i = 0; i < d->n; i++) acl_user_unref(d->users[i]);
    xfree(d->users);
    if (d->revoked) acl_user_unref(d->revoked);
    memset(d, 0, sizeof(*d));
}

static void doomed_add(struct acl_doomed *d, struct acl_user *u) {
    d->users = xrealloc(d->users, sizeof(*d->users) * (size_t)(d->n + 1));
    d->users[d->n++] = u; /* takes the registry's reference */
}

/* ---- AUTH ------------------------------------------------------------------------- */

struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen) {
    struct acl_user *found = NULL;
    read_lock();
    struct acl_user *u = acl_find(name, nlen);
    if (u && !(u->r.flags & USER_OFF) && ((u->r.flags & USER_NOPASS) || acl_rules_password_ok(&u->r, pass, plen))) {
        acl_user_ref(u);
        found = u;
    }
    read_unlock();
    return found;
}

/* ---- checks ------------------------------------------------------------------------- */

enum acl_result acl_check(struct acl_user *u, const struct acl_request *rq, int *errpos) {
    read_lock();
    enum acl_result r = acl_rules_check(&u->r, rq, errpos);
    read_unlock();
    return r;
}

bool acl_check_full_key_access(struct acl_user *u, const struct acl_request *rq, unsigned perm) {
    read_lock();
    bool ok = acl_rules_full_key_access(&u->r, rq, perm);
    read_unlock();
    return ok;
}

bool acl_check_channel(struct acl_user *u, const char *ch, size_t len, bool pattern) {
    read_lock();
    bool ok = acl_rules_channel(&u->r, ch, len, pattern);
    read_unlock();
    return ok;
}

bool acl_check_by_name(const char *name, size_t nlen, const struct acl_request *rq, enum acl_result *res,
                       int *errpos) {
    acl_admin_lock();
    struct acl_user *u = acl_find(name, nlen);
    if (u) *res = acl_rules_check(&u->r, rq, errpos);
    acl_admin_unlock();
    return u != NULL;
}

/* ---- changes ---------------------------------------------------------------------------- */

static char *errorf(const char *fmt, ...) PRINTF_FMT(1, 2);
static char *errorf(const char *fmt, ...) {
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_putc(&b, '\0');
    return b.data;
}

char *acl_setuser(const char *name, size_t nlen, int argc, const char *const *argv, const size_t *lens,
                  struct acl_doomed *doomed) {
    memset(doomed, 0, sizeof(*doomed));
    int n = 0, bad = 0;
    struct acl_str *ops = acl_merge_selectors(argc, argv, lens, &n, &bad);
    if (ops == NULL)
        return errorf("Unmatched parenthesis in acl selector starting at '%.*s'.", (int)lens[bad], argv[bad]);
    char *err = NULL;
    acl_admin_lock();
    struct acl_user *u = acl_find(name, nlen);
    struct acl_rules r;
    if (u)
        acl_rules_copy(&r, &u->r);
    else
        acl_rules_init(&r);
    for (int i = 0; i < n && err == NULL; i++) {
        enum acl_err e = acl_rules_apply(&r, ops[i].p, ops[i].n);
        if (e != ACL_E_OK) err = errorf("Error in ACL SETUSER modifier '%s': %s", ops[i].p, acl_err_message(e));
    }
    if (err == NULL) {
        if (u == NULL) {
            u = user_new(name, nlen);
            acl_rules_free(&u->r);
            write_lock();
            u->r = r;
            refresh_user(u);
            registry_insert(u);
            write_unlock();
            memset(&r, 0, sizeof(r));
        } else {
            /* Subscribers of this user may have lost channels: the caller
             * checks them (Redis's ACLKillPubsubClientsIfNeeded). */
            if (!acl_rules_channels_superset(&r, &u->r)) {
                acl_user_ref(u);
                doomed->revoked = u;
            }
            publish_rules(u, &r);
        }
    }
    acl_rules_free(&r);
    acl_admin_unlock();
    acl_strs_free(ops, n);
    return err;
}

int acl_deluser(int argc, const char *const *argv, const size_t *lens, struct acl_doomed *doomed) {
    memset(doomed, 0, sizeof(*doomed));
    for (int i = 0; i < argc; i++)
        if (lens[i] == 7 && memcmp(argv[i], "default", 7) == 0) return -1;
    int deleted = 0;
    acl_admin_lock();
    for (int i = 0; i < argc; i++) {
        int at = find_index(argv[i], lens[i]);
        if (at < 0) continue;
        struct acl_user *u = users[at];
        write_lock();
        registry_remove_at(at);
        atomic_store_explicit(&u->head.deleted, 1, memory_order_relaxed);
        atomic_store_explicit(&u->head.unrestricted, 0, memory_order_relaxed);
        write_unlock();
        doomed_add(doomed, u);
        deleted++;
    }
    acl_admin_unlock();
    return deleted;
}

void acl_install_users(struct acl_user **fresh, int n, struct acl_doomed *doomed) {
    memset(doomed, 0, sizeof(*doomed));
    struct acl_rules r;
    bool have_default = false;
    for (int i = 0; i < n; i++) {
        if (fresh[i]->namelen == 7 && memcmp(fresh[i]->name, "default", 7) == 0) {
            acl_rules_copy(&r, &fresh[i]->r);
            have_default = true;
        }
    }
    if (!have_default) acl_rules_init_default(&r);
    write_lock();
    for (int i = 0; i < nusers; i++) {
        if (users[i] == default_user) continue;
        atomic_store_explicit(&users[i]->head.deleted, 1, memory_order_relaxed);
        atomic_store_explicit(&users[i]->head.unrestricted, 0, memory_order_relaxed);
        doomed_add(doomed, users[i]);
    }
    nusers = 0;
    struct acl_rules old = default_user->r;
    default_user->r = r;
    refresh_user(default_user);
    registry_insert(default_user);
    for (int i = 0; i < n; i++) {
        if (fresh[i]->namelen == 7 && memcmp(fresh[i]->name, "default", 7) == 0) continue;
        refresh_user(fresh[i]);
        registry_insert(fresh[i]);
        fresh[i] = NULL;
    }
    write_unlock();
    acl_rules_free(&old);
    acl_users_free(fresh, n);
}

void acl_users_free(struct acl_user **set, int n) {
    for (int i = 0; i < n; i++)
        if (set[i]) user_free(set[i]);
    xfree(set);
}

char *acl_load(struct acl_doomed *doomed) {
    memset(doomed, 0, sizeof(*doomed));
    acl_admin_lock();
    struct acl_user **set = NULL;
    int n = 0;
    char *err = acl_file_parse(acl_file_path(), &set, &n);
    if (err == NULL) acl_install_users(set, n, doomed);
    acl_admin_unlock();
    return err;
}

void acl_set_requirepass(const char *pass, size_t len) {
    acl_admin_lock();
    struct acl_rules r;
    acl_rules_copy(&r, &default_user->r);
    acl_rules_apply(&r, "resetpass", 9);
    if (pass && len) {
        char *op = xmalloc(len + 1);
        op[0] = '>';
        memcpy(op + 1, pass, len);
        acl_rules_apply(&r, op, len + 1);
        xfree(op);
    } else {
        acl_rules_apply(&r, "nopass", 6);
    }
    publish_rules(default_user, &r);
    acl_rules_free(&r);
    acl_admin_unlock();
}

/* ---- descriptions -------------------------------------------------------------------- */

void acl_list(bool names_only, void (*fn)(void *arg, const char *s, size_t n), void *arg) {
    struct buf b = BUF_INIT;
    acl_admin_lock();
    for (int i = 0; i < nusers; i++) {
        struct acl_user *u = users[i];
        if (names_only) {
            fn(arg, u->name, u->namelen);
            continue;
        }
        buf_clear(&b);
        buf_puts(&b, "user ");
        buf_append(&b, u->name, u->namelen);
        buf_putc(&b, ' ');
        acl_describe_rules(&u->r, &b);
        fn(arg, b.data, b.len);
    }
    acl_admin_unlock();
    buf_free(&b);
}

static char *take_cstr(struct buf *b) {
    buf_putc(b, '\0');
    char *s = b->data ? b->data : xstrdup("");
    *b = (struct buf)BUF_INIT;
    return s;
}

bool acl_getuser(const char *name, size_t nlen, struct acl_user_info *out) {
    memset(out, 0, sizeof(*out));
    acl_admin_lock();
    struct acl_user *u = acl_find(name, nlen);
    if (u) {
        out->nflags = acl_user_flag_names(u->r.flags, out->flags);
        out->npasswords = u->r.npass;
        out->passwords = xmalloc(sizeof(*out->passwords) * (size_t)(u->r.npass ? u->r.npass : 1));
        for (int i = 0; i < u->r.npass; i++) {
            memcpy(out->passwords[i], u->r.pass[i], ACL_HASH_HEX);
            out->passwords[i][ACL_HASH_HEX] = '\0';
        }
        out->nsels = u->r.nsels;
        out->sels = xcalloc((size_t)u->r.nsels, sizeof(*out->sels));
        for (int i = 0; i < u->r.nsels; i++) {
            struct buf b = BUF_INIT;
            acl_describe_commands(u->r.sels[i], &b);
            out->sels[i].commands = take_cstr(&b);
            acl_describe_keys(u->r.sels[i], &b);
            out->sels[i].keys = take_cstr(&b);
            acl_describe_channels(u->r.sels[i], &b);
            out->sels[i].channels = take_cstr(&b);
        }
    }
    acl_admin_unlock();
    return u != NULL;
}

void acl_user_info_free(struct acl_user_info *info) {
    for (int i = 0; i < info->nsels; i++) {
        xfree(info->sels[i].commands);
        xfree(info->sels[i].keys);
        xfree(info->sels[i].channels);
    }
    xfree(info->sels);
    xfree(info->passwords);
    memset(info, 0, sizeof(*info));
}

/* ---- options ---------------------------------------------------------------------------- */

static bool started;

static int apply_requirepass(const char *s, char *err) {
    /* At start-up the `user` directives and the aclfile come after it
     * (acl_start); later it takes effect at once. */
    if (started) acl_set_requirepass(s, config_str_len());
    return 0;
}

static int apply_pubsub_default(long long v, char *err) {
    atomic_store_explicit(&acl_pubsub_default, (unsigned)v, memory_order_relaxed);
    return 0;
}

static const struct config_enum pubsub_defaults[] = {
    {"allchannels", SEL_ALLCHANNELS}, {"resetchannels", 0}, {NULL, 0}};

static void rewrite_one(void *arg, const char *s, size_t n) {
    buf_append(arg, s, n);
    buf_putc(arg, '\n');
}

/* CONFIG REWRITE: the users as "user" lines, unless they live in an aclfile
 * (then the file keeps them, as Redis does). */
static void acl_rewrite_users(struct buf *lines) {
    if (acl_has_file()) return;
    acl_list(false, rewrite_one, lines);
}

static struct config_option options[] = {
    {"requirepass", NULL, CFG_STRING, 0, "", 0, 0, NULL, NULL, apply_requirepass, NULL, NULL, 0, NULL},
    {"acl-pubsub-default", NULL, CFG_ENUM, 0, "resetchannels", 0, 0, pubsub_defaults, apply_pubsub_default, NULL,
     NULL, NULL, 0, NULL},
    {"user", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG | CFG_F_DIRECTIVE, NULL, 0, 0, NULL, NULL, NULL, acl_config_user,
     NULL, 0, NULL},
    CFG_END,
};

void acl_setup(void) {
    for (int i = 0; i <= WORKER_MAX; i++) pthread_mutex_init(&rlocks[i].mu, NULL);
    config_register(options);
    config_set_rewrite("user", acl_rewrite_users);
    acl_file_setup();
    acl_log_setup();
    default_user = user_new("default", 7);
    acl_rules_free(&default_user->r);
    acl_rules_init_default(&default_user->r);
    refresh_user(default_user);
    registry_insert(default_user);
}

int acl_start(void) {
    struct buf pass = BUF_INIT;
    if (config_value("requirepass", &pass) && pass.len) acl_set_requirepass(pass.data, pass.len);
    buf_free(&pass);
    started = true;
    if (acl_file_path()[0] && acl_have_configured_users()) {
        log_warn("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                 "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                 "define either an ACL file or declare users directly in your redis.conf, but not both.");
        return -1;
    }
    if (acl_load_configured_users() != 0) {
        log_warn("Critical error while loading ACLs. Exiting.");
        return -1;
    }
    if (acl_file_path()[0]) {
        struct acl_doomed d;
        char *err = acl_load(&d);
        acl_doomed_free(&d);
        if (err) {
            log_warn("Aborting Redis startup because of ACL errors: %s", err);
            xfree(err);
            return -1;
        }
    }
    return 0;
}

void acl_teardown(void) {
    acl_file_teardown();
    for (int i = 0; i < nusers; i++) {
        if (users[i] != default_user) acl_user_unref(users[i]);
    }
    xfree(users);
    users = NULL;
    nusers = capusers = 0;
    if (default_user) user_free(default_user);
    default_user = NULL;
    acl_log_teardown();
    catalog_free();
    started = false;
}
