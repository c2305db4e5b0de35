/*
 * auth/acl_log.c - ACL LOG: the recent denials (commands, keys, channels,
 * failed AUTH), newest first, at most acllog-max-len; and the denial
 * counters of INFO stats. See acl.h.
 *
 * Grouping (Redis 7.0): a new denial equal to one of the 10 newest entries
 * (same reason, context, object and user, at most 60 s apart) bumps that
 * entry's count, refreshes its time and client info, and moves it to the
 * front instead of adding an entry.
 *
 * Thread context: [any]; one mutex (a leaf lock) guards the list. Denials
 * are the slow path: the counters are plain relaxed atomics.
 */
#include "auth/acl_internal.h"
#include "base/alloc.h"
#include "base/time.h"
#include "config/config.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#define GROUPING_MAX_MS 60000
#define GROUPING_SCAN 10

struct entry {
    struct entry *next, *prev;
    struct acl_log_entry e;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *head, *tail;
static long nentries;
static _Atomic long long max_len = 128;
static _Atomic uint64_t n_auth, n_cmd, n_key, n_channel;

static void unlink_entry(struct entry *x) {
    if (x->prev)
        x->prev->next = x->next;
    else
        head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        tail = x->prev;
    x->next = x->prev = NULL;
    nentries--;
}

static void push_front(struct entry *x) {
    x->prev = NULL;
    x->next = head;
    if (head) head->prev = x;
    head = x;
    if (tail == NULL) tail = x;
    nentries++;
}

static void entry_free(struct entry *x) {
    xfree(x->e.object);
    xfree(x->e.username);
    xfree(x->e.cinfo);
    xfree(x);
}

static bool same_event(const struct acl_log_entry *a, const struct acl_log_entry *b) {
    int64_t delta = a->ctime_ms - b->ctime_ms;
    if (delta < 0) delta = -delta;
    return a->reason == b->reason && a->ctx == b->ctx && delta <= GROUPING_MAX_MS && a->olen == b->olen &&
           memcmp(a->object, b->object, a->olen) == 0 && a->ulen == b->ulen &&
           memcmp(a->username, b->username, a->ulen) == 0;
}

static void count(enum acl_result reason) {
    _Atomic uint64_t *c = reason == ACL_DENIED_AUTH  ? &n_auth
                          : reason == ACL_DENIED_KEY ? &n_key
                          : reason == ACL_DENIED_CHANNEL ? &n_channel
                                                         : &n_cmd;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void acl_log_add(enum acl_result reason, enum acl_log_ctx ctx, const char *object, size_t olen, const char *user,
                 size_t ulen, const char *cinfo, size_t clen) {
    count(reason);
    struct entry *x = xcalloc(1, sizeof(*x));
    x->e = (struct acl_log_entry){1, reason, ctx, xstrndup(object, olen), xstrndup(user, ulen), xstrndup(cinfo, clen),
                                  olen, ulen, clen, time_ms()};
    pthread_mutex_lock(&mu);
    struct entry *match = NULL;
    int scanned = 0;
    for (struct entry *it = head; it && scanned < GROUPING_SCAN; it = it->next, scanned++) {
        if (same_event(&it->e, &x->e)) {
            match = it;
            break;
        }
    }
    if (match) {
        unlink_entry(match);
        push_front(match);
        xfree(match->e.cinfo);
        match->e.cinfo = x->e.cinfo;
        match->e.clen = x->e.clen;
        match->e.ctime_ms = x->e.ctime_ms;
        match->e.count++;
        x->e.cinfo = NULL;
        entry_free(x);
    } else {
        push_front(x);
        long long limit = atomic_load_explicit(&max_len, memory_order_relaxed);
        while (nentries > limit && tail) {
            struct entry *old = tail;
            unlink_entry(old);
            entry_free(old);
        }
    }
    pthread_mutex_unlock(&mu);
}

int acl_log_get(long max, struct acl_log_entry **out) {
    pthread_mutex_lock(&mu);
    long n = max < nentries ? max : nentries;
    if (n < 0) n = 0;
    struct acl_log_entry *v = xcalloc((size_t)(n ? n : 1), sizeof(*v));
    long i = 0;
    for (struct entry *it = head; it && i < n; it = it->next, i++) {
        v[i] = it->e;
        v[i].object = xmemdup(it->e.object, it->e.olen + 1);
        v[i].username = xmemdup(it->e.username, it->e.ulen + 1);
        v[i].cinfo = xmemdup(it->e.cinfo, it->e.clen + 1);
    }
    pthread_mutex_unlock(&mu);
    *out = v;
    return (int)n;
}

void acl_log_entries_free(struct acl_log_entry *e, int n) {
    for (int i = 0; i < n; i++) {
        xfree(e[i].object);
        xfree(e[i].username);
        xfree(e[i].cinfo);
    }
    xfree(e);
}

void acl_log_reset(void) {
    pthread_mutex_lock(&mu);
    struct entry *it = head;
    head = tail = NULL;
    nentries = 0;
    pthread_mutex_unlock(&mu);
    while (it) {
        struct entry *next = it->next;
        entry_free(it);
        it = next;
    }
}

const char *acl_log_reason_name(enum acl_result r) {
    switch (r) {
    case ACL_DENIED_CMD: return "command";
    case ACL_DENIED_KEY: return "key";
    case ACL_DENIED_CHANNEL: return "channel";
    case ACL_DENIED_AUTH: return "auth";
    case ACL_OK: break;
    }
    return "unknown";
}

const char *acl_log_ctx_name(enum acl_log_ctx c) {
    switch (c) {
    case ACL_LOG_CTX_TOPLEVEL: return "toplevel";
    case ACL_LOG_CTX_MULTI: return "multi";
    case ACL_LOG_CTX_LUA: return "lua";
    case ACL_LOG_CTX_MODULE: return "module";
    }
    return "unknown";
}

void acl_get_stats(struct acl_stats *st) {
    st->auth = atomic_load_explicit(&n_auth, memory_order_relaxed);
    st->cmd = atomic_load_explicit(&n_cmd, memory_order_relaxed);
    st->key = atomic_load_explicit(&n_key, memory_order_relaxed);
    st->channel = atomic_load_explicit(&n_channel, memory_order_relaxed);
}

void acl_reset_stats(void) {
    atomic_store(&n_auth, 0);
    atomic_store(&n_cmd, 0);
    atomic_store(&n_key, 0);
    atomic_store(&n_channel, 0);
}

/* ---- options ------------------------------------------------------------------ */

/* Like Redis, a smaller limit trims the log at the next entry. */
static int apply_max_len(long long v, char *err) {
    atomic_store_explicit(&max_len, v, memory_order_relaxed);
    return 0;
}

static struct config_option options[] = {
    {"acllog-max-len", NULL, CFG_INT, 0, "128", 0, LONG_MAX, NULL, apply_max_len, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void acl_log_setup(void) { config_register(options); }

void acl_log_teardown(void) { acl_log_reset(); }
