/*
 * cmd/memcache_text.c - memcached's classic text commands: get gets gat
 * gats bget set add replace append prepend cas incr decr delete touch
 * flush_all version verbosity quit shutdown cache_memlimit, and the tuning
 * commands of memcached's internals (slabs, lru, lru_crawler, extstore),
 * which are accepted with memcached's syntax checks and answers.
 *
 * Dispatch follows memcached 1.6's process_command_ascii: by the first
 * letter, then the exact name, with the token-count checks that answer
 * "ERROR"; each command then validates its arguments in memcached's order,
 * so the first error reported is memcached's. "noreply" (the last token)
 * silences every answer of the classic commands, errors included, exactly
 * where memcached's does. One deliberate addition to memcached 1.6.18: a
 * key holding a control character is refused like a key over 250 bytes,
 * as the protocol's rules for keys say ("no control characters").
 *
 * A storage command's value must be entirely in the input before anything
 * happens: until then the request consumes nothing (see memcache.c).
 */
#include "cmd/memcache_int.h"
#include "base/str.h"
#include "base/log.h"
#include "base/time.h"
#include "net/tls.h"
#include "net/worker.h"

#include <limits.h>
#include <stdlib.h>

#define E_FORMAT "CLIENT_ERROR bad command line format"
#define MAX_VERBOSITY 2

/* A key the text protocol accepts: at most 250 bytes, no control characters. */
static bool key_ok(const struct mc_tok *k) {
    if (k->len > MC_KEY_MAX) return false;
    for (size_t i = 0; i < k->len; i++) {
        unsigned char ch = (unsigned char)k->p[i];
        if (ch < 32 || ch == 127) return false;
    }
    return true;
}

static bool noreply_at(const struct mc_tokens *t, int i) { return i > 0 && i < t->n && mc_tok_is(&t->t[i], "noreply"); }

/* ---- retrieval ---------------------------------------------------------------------- */

struct get_ctx {
    struct client *c;
    struct store_key k;
    bool with_cas;
    bool touch;
    int64_t expire;
    bool hit;
    size_t size;
};

static void get_locked(void *arg) {
    struct get_ctx *x = arg;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, true);
    x->hit = e != NULL;
    if (e == NULL) return;
    uint64_t cas = x->with_cas ? mc_item_cas_locked(&ref) : 0;
    e = store_ref_entry(&ref);
    size_t len = mc_value_len(e);
    x->size = len;
    mc_w_value_header(x->c->out, x->k.ptr, x->k.len, entry_mc_get(e).flags, len, x->with_cas, cas);
    mc_w_data(x->c->out, e, true);
    e->flags |= ENTRY_F_MC_FETCHED;
    if (x->touch) mc_touch_locked(x->c, &ref, x->expire);
}

static void get_one(struct client *c, const struct mc_tok *key, struct get_ctx *x) {
    store_key_init(&x->k, key->p, key->len);
    store_run_slot(x->k.slot, STORE_READ, get_locked, x);
    struct mc_tstats *st = mc_stats();
    if (x->touch) {
        mc_count(&st->touch_cmds, 1);
        mc_count(x->hit ? &st->touch_hits : &st->touch_misses, 1);
    } else {
        mc_count(&st->get_cmds, 1);
        mc_count(x->hit ? &st->get_hits : &st->get_misses, 1);
    }
    if (UNLIKELY(MC_LOAD(detail_enabled))) mc_detail_record(key->p, key->len, x->hit ? 'g' : 'm');
    if (UNLIKELY(mc_watching())) mc_log_get(c, key->p, key->len, x->hit ? 1 : 0, x->size);
}

/* get/gets/gat/gats/bget: keys from t->t[first], continuing past the token
 * window of a long multiget. */
static void mcx_get(struct client *c, const struct mc_tokens *t, bool with_cas, bool touch) {
    struct get_ctx x = {c, {0}, with_cas, touch, 0, false, 0};
    int first = 1;
    if (touch) {
        int32_t exptime;
        if (!mc_parse_i32(t->t[1].p, t->t[1].len, &exptime)) {
            mc_w_cstr(c->out, "CLIENT_ERROR invalid exptime argument");
            return;
        }
        x.expire = mc_expire_ms(exptime);
        first = 2;
    }
    /* A key that is too long fails the whole command before any output,
     * which is what memcached's answer amounts to (it drops the values it
     * had already prepared). */
    struct mc_tokens w;
    const struct mc_tokens *win = t;
    int i = first;
    for (;;) {
        for (; i < win->n; i++) {
            if (!key_ok(&win->t[i])) {
                mc_w_cstr(c->out, E_FORMAT);
                return;
            }
        }
        if (win->rest == NULL) break;
        mc_tokenize(win->rest, win->end, &w);
        win = &w;
        i = 0;
    }
    win = t;
    i = first;
    for (;;) {
        for (; i < win->n; i++) {
            get_one(c, &win->t[i], &x);
            if (i + 1 < win->n || win->rest) mc_udp_key_done(c); /* a key's answer, END goes with the last */
        }
        if (win->rest == NULL) break;
        mc_tokenize(win->rest, win->end, &w);
        win = &w;
        i = 0;
    }
    obuf_append(c->out, "END\r\n", 5);
}

/* ---- storage ------------------------------------------------------------------------------ */

/* set add replace append prepend cas: `<cmd> <key> <flags> <exptime> <bytes> [cas] [noreply]`. */
static size_t mcx_update(struct client *c, struct mc_conn *m, const struct mc_tokens *t, int mode, const char *line,
                         size_t size, size_t avail) {
    bool noreply = noreply_at(t, t->n - 1);
    const struct mc_tok *key = &t->t[1];
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;
    if (!key_ok(key) || !mc_parse_u32(t->t[2].p, t->t[2].len, &flags) ||
        !mc_parse_i32(t->t[3].p, t->t[3].len, &exptime) || !mc_parse_i32(t->t[4].p, t->t[4].len, &vlen) ||
        (mode == MC_CAS && !mc_parse_u64(t->t[5].p, t->t[5].len, &cas)) || vlen < 0 || vlen > INT_MAX - 2) {
        mc_out(c, noreply, E_FORMAT);
        return size;
    }
    if (!mc_size_ok(key->len, flags, (uint64_t)vlen)) {
        MC_COUNT(store_too_large);
        mc_out(c, noreply, "SERVER_ERROR object too large for cache");
        if (mode == MC_SET) mc_delete_key(c, key->p, key->len); /* memcached: no stale value after a failed set */
        if (mc_watching()) {
            struct mc_store s = {.mode = mode, .key = key->p, .klen = key->len, .vlen = (size_t)vlen,
                                 .result = MC_TOO_LARGE};
            mc_log_store(c, &s);
        }
        m->swallow = (uint64_t)vlen + 2;
        return size;
    }
    size_t total = size + (size_t)vlen + 2;
    if (avail < total) {
        m->need = total;
        return 0;
    }
    const char *data = line + size;
    if (data[vlen] != '\r' || data[vlen + 1] != '\n') {
        MC_COUNT(set_cmds);
        mc_out(c, noreply, "CLIENT_ERROR bad data chunk");
        return total;
    }
    if (!mc_memory_ok()) {
        MC_COUNT(store_no_memory);
        mc_out(c, noreply, "SERVER_ERROR out of memory storing object");
        if (mode == MC_SET) mc_delete_key(c, key->p, key->len);
        return total;
    }
    struct mc_store s = {.mode = mode, .key = key->p, .klen = key->len, .val = data, .vlen = (size_t)vlen,
                         .flags = flags, .expire = mc_expire_ms(exptime), .cas = cas};
    mc_store_item(c, &s);
    static const char *const answers[] = {"NOT_STORED", "STORED", "EXISTS", "NOT_FOUND"};
    mc_out(c, noreply, answers[s.result]);
    return total;
}

/* ---- incr decr delete touch ------------------------------------------------------------------ */

static void mcx_arith(struct client *c, const struct mc_tokens *t, bool incr) {
    bool noreply = noreply_at(t, t->n - 1);
    if (!key_ok(&t->t[1])) {
        mc_out(c, noreply, E_FORMAT);
        return;
    }
    struct mc_delta d = {.key = t->t[1].p, .klen = t->t[1].len, .incr = incr};
    if (!mc_parse_u64(t->t[2].p, t->t[2].len, &d.delta)) {
        mc_out(c, noreply, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    mc_delta_item(c, &d);
    switch (d.result) {
    case MC_DELTA_OK:
        if (!noreply) {
            char buf[24];
            mc_w_line(c->out, buf, mc_u64_text(buf, d.value));
        }
        break;
    case MC_DELTA_NON_NUMERIC: mc_out(c, noreply, "CLIENT_ERROR cannot increment or decrement non-numeric value"); break;
    default: mc_out(c, noreply, "NOT_FOUND"); break;
    }
}

struct del_ctx {
    struct client *c;
    struct store_key k;
    bool found;
};

static void del_locked(void *arg) {
    struct del_ctx *x = arg;
    /* any live key, a Redis list or hash included (it exists, unreadable) */
    x->found = mc_delete_locked(x->c, &x->k);
}

void mc_delete_key(struct client *c, const char *key, size_t klen) {
    struct del_ctx x = {c, {0}, false};
    store_key_init(&x.k, key, klen);
    store_run_slot(x.k.slot, STORE_WRITE, del_locked, &x);
}

static void mcx_delete(struct client *c, const struct mc_tokens *t) {
    bool noreply = false;
    if (t->n > 2) {
        bool hold_is_zero = mc_tok_is(&t->t[2], "0");
        noreply = noreply_at(t, t->n - 1);
        bool valid = (t->n == 3 && (hold_is_zero || noreply)) || (t->n == 4 && hold_is_zero && noreply);
        if (!valid) {
            mc_out(c, noreply, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
            return;
        }
    }
    if (!key_ok(&t->t[1])) {
        mc_out(c, noreply, E_FORMAT);
        return;
    }
    if (MC_LOAD(detail_enabled)) mc_detail_record(t->t[1].p, t->t[1].len, 'd');
    struct del_ctx x = {c, {0}, false};
    store_key_init(&x.k, t->t[1].p, t->t[1].len);
    store_run_slot(x.k.slot, STORE_WRITE, del_locked, &x);
    mc_count(x.found ? &mc_stats()->delete_hits : &mc_stats()->delete_misses, 1);
    mc_out(c, noreply, x.found ? "DELETED" : "NOT_FOUND");
}

struct touch_ctx {
    struct client *c;
    struct store_key k;
    int64_t expire;
    bool found;
};

static void touch_locked(void *arg) {
    struct touch_ctx *x = arg;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, true);
    x->found = e != NULL;
    if (e) mc_touch_locked(x->c, &ref, x->expire);
}

static void mcx_touch(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    if (!key_ok(&t->t[1])) {
        mc_out(c, noreply, E_FORMAT);
        return;
    }
    int32_t exptime;
    if (!mc_parse_i32(t->t[2].p, t->t[2].len, &exptime)) {
        mc_out(c, noreply, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    struct touch_ctx x = {c, {0}, mc_expire_ms(exptime), false};
    store_key_init(&x.k, t->t[1].p, t->t[1].len);
    store_run_slot(x.k.slot, STORE_WRITE, touch_locked, &x);
    MC_COUNT(touch_cmds);
    mc_count(x.found ? &mc_stats()->touch_hits : &mc_stats()->touch_misses, 1);
    mc_out(c, noreply, x.found ? "TOUCHED" : "NOT_FOUND");
}

/* ---- server commands ------------------------------------------------------------------------- */

static void mcx_flush_all(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    MC_COUNT(flush_cmds);
    if (!MC_LOAD(flush_enabled)) {
        mc_out(c, noreply, "CLIENT_ERROR flush_all not allowed");
        return;
    }
    int32_t delay = 0;
    if (t->n != (noreply ? 2 : 1) && !mc_parse_i32(t->t[1].p, t->t[1].len, &delay)) {
        mc_out(c, noreply, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    mc_flush_all(delay);
    mc_out(c, noreply, "OK");
}

static void mcx_verbosity(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    uint32_t level;
    if (!mc_parse_u32(t->t[1].p, t->t[1].len, &level)) {
        mc_out(c, noreply, E_FORMAT);
        return;
    }
    MC_STORE(verbose, (int)(level > MAX_VERBOSITY ? MAX_VERBOSITY : level));
    mc_out(c, noreply, "OK");
}

/* refresh_certs: reload the certificate, key and CA files into a new TLS
 * context; connections from now on use it. An error is written even
 * with noreply (as memcached does). */
static void mcx_refresh_certs(struct client *c, const struct mc_tokens *t) {
    struct tls_server *tls = memcache_tls();
    char err[1024];
    if (tls == NULL) {
        mc_w_cstr(c->out, "Error TLS not enabled");
    } else if (tls_server_reload(tls, err, sizeof(err)) == 0) {
        mc_out(c, noreply_at(t, t->n - 1), "OK");
    } else {
        mc_w_cstr(c->out, err);
    }
}

static void mcx_shutdown(struct client *c, const struct mc_tokens *t) {
    if (!MC_LOAD(shutdown_enabled)) {
        mc_w_cstr(c->out, "ERROR: shutdown not enabled");
        return;
    }
    if (t->n == 1 || (t->n == 2 && mc_tok_is(&t->t[1], "graceful"))) {
        c->flags |= CLIENT_CLOSE_ASAP;
        exec_request_shutdown(1); /* nosave */
        return;
    }
    mc_w_cstr(c->out, "CLIENT_ERROR invalid shutdown mode");
}

static void mcx_memlimit(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    uint32_t mb;
    if (!mc_parse_u32(t->t[1].p, t->t[1].len, &mb)) {
        mc_out(c, noreply, "ERROR");
    } else if (mb < 8) {
        mc_out(c, noreply, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    } else if (mb > 1000000000) {
        mc_out(c, noreply, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
    } else {
        MC_STORE(maxbytes, (long long)mb * 1024 * 1024);
        store_set_maxmemory((unsigned long long)MC_LOAD(maxbytes) + mc_baseline_bytes());
        mc_out(c, noreply, "OK");
    }
}

static void mcx_slabs(struct client *c, const struct mc_tokens *t) {
    if (t->n == 4 && mc_tok_is(&t->t[1], "reassign")) {
        int32_t src, dst;
        if (!mc_settings.slab_reassign) {
            mc_w_cstr(c->out, "CLIENT_ERROR slab reassignment disabled");
        } else if (!mc_parse_i32(t->t[2].p, t->t[2].len, &src) || !mc_parse_i32(t->t[3].p, t->t[3].len, &dst)) {
            mc_w_cstr(c->out, E_FORMAT);
        } else if (src == dst) {
            mc_w_cstr(c->out, "SAME src and dst class are identical");
        } else if (src < -1 || src > 63 || dst < 1 || dst > 63) {
            mc_w_cstr(c->out, "BADCLASS invalid src or dst class id");
        } else {
            /* No slab pages here: there is never a spare one to move. */
            mc_w_cstr(c->out, "NOSPARE source class has no spare pages");
        }
        return;
    }
    if (t->n >= 3 && mc_tok_is(&t->t[1], "automove")) {
        bool noreply = noreply_at(t, t->n - 1);
        if (mc_tok_is(&t->t[2], "ratio")) {
            char buf[64];
            char *end;
            double ratio = 0;
            bool ok = t->n >= 4 && t->t[3].len < sizeof(buf);
            if (ok) {
                memcpy(buf, t->t[3].p, t->t[3].len);
                buf[t->t[3].len] = '\0';
                ratio = strtod(buf, &end);
                ok = end != buf;
            }
            if (!ok) {
                mc_out(c, noreply, "ERROR");
                return;
            }
            MC_STORE(slab_automove_ratio, ratio);
        } else {
            uint32_t level;
            if (!mc_parse_u32(t->t[2].p, t->t[2].len, &level)) {
                mc_out(c, noreply, E_FORMAT);
                return;
            }
            if (level > 2) {
                mc_out(c, noreply, "ERROR");
                return;
            }
            MC_STORE(slab_automove, (int)level);
        }
        mc_out(c, noreply, "OK");
        return;
    }
    mc_w_cstr(c->out, "ERROR");
}

static bool tok_double(const struct mc_tok *k, double *out) {
    char buf[64];
    if (k->len == 0 || k->len >= sizeof(buf)) return false;
    memcpy(buf, k->p, k->len);
    buf[k->len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return end != buf && (*end == '\0' || *end == ' ' || (*end >= '\t' && *end <= '\r'));
}

static void mcx_lru(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    if (mc_tok_is(&t->t[1], "tune") && t->n >= 6) {
        uint32_t hot, warm;
        double hot_factor, factor;
        if (!mc_parse_u32(t->t[2].p, t->t[2].len, &hot) || !mc_parse_u32(t->t[3].p, t->t[3].len, &warm) ||
            !tok_double(&t->t[4], &hot_factor) || !tok_double(&t->t[5], &factor)) {
            mc_out(c, noreply, "ERROR");
        } else if (hot + warm > 80) {
            mc_out(c, noreply, "ERROR hot and warm pcts must not exceed 80");
        } else if (factor <= 0 || hot_factor <= 0) {
            mc_out(c, noreply, "ERROR hot/warm age factors must be greater than 0");
        } else {
            MC_STORE(hot_lru_pct, (int)hot);
            MC_STORE(warm_lru_pct, (int)warm);
            MC_STORE(hot_max_factor, hot_factor);
            MC_STORE(warm_max_factor, factor);
            mc_out(c, noreply, "OK");
        }
    } else if (mc_tok_is(&t->t[1], "mode") && t->n >= 3 && mc_settings.lru_maintainer) {
        if (mc_tok_is(&t->t[2], "flat") || mc_tok_is(&t->t[2], "segmented")) {
            MC_STORE(lru_segmented, mc_tok_is(&t->t[2], "segmented"));
            mc_out(c, noreply, "OK");
        } else {
            mc_out(c, noreply, "ERROR");
        }
    } else if (mc_tok_is(&t->t[1], "temp_ttl") && t->n >= 3 && mc_settings.lru_maintainer) {
        int32_t ttl;
        if (!mc_parse_i32(t->t[2].p, t->t[2].len, &ttl)) {
            mc_out(c, noreply, "ERROR");
        } else {
            MC_STORE(temp_lru, ttl >= 0);
            if (ttl >= 0) MC_STORE(temporary_ttl, (unsigned)ttl);
            mc_out(c, noreply, "OK");
        }
    } else {
        mc_out(c, noreply, "ERROR");
    }
}

static void mcx_lru_crawler(struct client *c, const struct mc_tokens *t) {
    if (t->n == 3 && mc_tok_is(&t->t[1], "crawl")) {
        /* Expired items are reclaimed by the store's active expiry. */
        mc_w_cstr(c->out, MC_LOAD(lru_crawler) ? "OK" : "CLIENT_ERROR lru crawler disabled");
    } else if (t->n == 3 && mc_tok_is(&t->t[1], "metadump")) {
        if (!MC_LOAD(lru_crawler)) {
            mc_w_cstr(c->out, "CLIENT_ERROR lru crawler disabled");
        } else if (!mc_settings.dump_enabled) {
            mc_w_cstr(c->out, "ERROR metadump not allowed");
        } else if (obuf_pending(&c->obuf) > 0) {
            mc_w_cstr(c->out, "ERROR cannot pipeline other commands before metadump");
        } else {
            mc_metadump(c);
        }
    } else if (t->n == 3 && mc_tok_is(&t->t[1], "tocrawl")) {
        uint32_t v;
        if (!mc_parse_u32(t->t[2].p, t->t[2].len, &v)) {
            mc_w_cstr(c->out, E_FORMAT);
            return;
        }
        MC_STORE(lru_crawler_tocrawl, v);
        mc_w_cstr(c->out, "OK");
    } else if (t->n == 3 && mc_tok_is(&t->t[1], "sleep")) {
        uint32_t v;
        if (!mc_parse_u32(t->t[2].p, t->t[2].len, &v)) {
            mc_w_cstr(c->out, E_FORMAT);
        } else if (v > 1000000) {
            mc_w_cstr(c->out, "CLIENT_ERROR sleep must be one second or less");
        } else {
            MC_STORE(lru_crawler_sleep, (int)v);
            mc_w_cstr(c->out, "OK");
        }
    } else if (t->n == 2 && mc_tok_is(&t->t[1], "enable")) {
        /* memcached's crawler thread is already there: starting it again fails */
        mc_w_cstr(c->out, MC_LOAD(lru_crawler) ? "ERROR failed to start lru crawler thread" : "OK");
        MC_STORE(lru_crawler, true);
    } else if (t->n == 2 && mc_tok_is(&t->t[1], "disable")) {
        mc_w_cstr(c->out, MC_LOAD(lru_crawler) ? "OK" : "ERROR failed to stop lru crawler thread");
        MC_STORE(lru_crawler, false);
    } else {
        mc_w_cstr(c->out, "ERROR");
    }
}

static void mcx_extstore(struct client *c, const struct mc_tokens *t) {
    bool noreply = noreply_at(t, t->n - 1);
    static const char *const u32_subs[] = {"item_size", "item_age", "low_ttl", "recache_rate", "compact_under",
                                           "drop_under", "max_sleep", "drop_unread", NULL};
    bool ok = false;
    uint32_t v;
    double d;
    if (t->n < 3) {
        ok = false;
    } else if (mc_tok_is(&t->t[1], "free_memchunks") && t->n > 3) {
        uint32_t limit;
        ok = mc_parse_u32(t->t[2].p, t->t[2].len, &v) && mc_parse_u32(t->t[3].p, t->t[3].len, &limit) && v < 64;
    } else if (mc_tok_is(&t->t[1], "max_frag")) {
        ok = tok_double(&t->t[2], &d);
    } else {
        for (int i = 0; u32_subs[i]; i++)
            if (mc_tok_is(&t->t[1], u32_subs[i])) ok = mc_parse_u32(t->t[2].p, t->t[2].len, &v);
    }
    mc_out(c, noreply, ok ? "OK" : "ERROR");
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

static bool tok_eq(const struct mc_tok *t, const char *s) { return mc_tok_is(t, s); }

size_t mc_text_request(struct client *c, struct mc_conn *m, const char *p, size_t n) {
    if (UNLIKELY(!m->authed) && mc_auth_text_required()) return mc_auth_text(c, m, p, n);
    size_t text, size;
    int st = mc_line(p, n, &text, &size);
    if (st == MC_LINE_MORE) return 0;
    if (st == MC_LINE_CLOSE) {
        client_close_after_reply(c);
        return n;
    }
    struct mc_tokens t;
    mc_tokenize(p, p + text, &t);
    if (UNLIKELY(MC_LOAD(verbose) > 1)) log_notice("<%d %.*s", conn_fd(&c->conn), (int)text, p);
    if (t.n < 1 || t.t[0].len < 2) {
        mc_w_cstr(c->out, "ERROR");
        return size;
    }
    const struct mc_tok *cmd = &t.t[0];
    char first = cmd->p[0];
    if (first == 'm' && cmd->len == 2) return mc_meta_command(c, m, &t, p, size, n);
    switch (first) {
    case 'g':
        if (t.n < 2) break;
        if (tok_eq(cmd, "get"))
            mcx_get(c, &t, false, false);
        else if (tok_eq(cmd, "gets"))
            mcx_get(c, &t, true, false);
        else if (tok_eq(cmd, "gat"))
            mcx_get(c, &t, false, true);
        else if (tok_eq(cmd, "gats"))
            mcx_get(c, &t, true, true);
        else
            break;
        return size;
    case 's':
        if (tok_eq(cmd, "set")) {
            if (t.n != 5 && t.n != 6) break;
            return mcx_update(c, m, &t, MC_SET, p, size, n);
        }
        if (tok_eq(cmd, "stats")) {
            mc_cmd_stats(c, &t);
            return size;
        }
        if (tok_eq(cmd, "shutdown")) {
            mcx_shutdown(c, &t);
            return size;
        }
        if (tok_eq(cmd, "slabs")) {
            mcx_slabs(c, &t);
            return size;
        }
        break;
    case 'a':
        if ((tok_eq(cmd, "add") || tok_eq(cmd, "append")) && (t.n == 5 || t.n == 6))
            return mcx_update(c, m, &t, tok_eq(cmd, "add") ? MC_ADD : MC_APPEND, p, size, n);
        break;
    case 'c':
        if (tok_eq(cmd, "cas")) {
            if (t.n != 6 && t.n != 7) break;
            return mcx_update(c, m, &t, MC_CAS, p, size, n);
        }
        if (tok_eq(cmd, "cache_memlimit") && (t.n == 2 || t.n == 3)) {
            mcx_memlimit(c, &t);
            return size;
        }
        break;
    case 'i':
        if (tok_eq(cmd, "incr") && (t.n == 3 || t.n == 4)) {
            mcx_arith(c, &t, true);
            return size;
        }
        break;
    case 'd':
        if (tok_eq(cmd, "delete") && t.n >= 2 && t.n <= 4) {
            mcx_delete(c, &t);
            return size;
        }
        if (tok_eq(cmd, "decr") && (t.n == 3 || t.n == 4)) {
            mcx_arith(c, &t, false);
            return size;
        }
        break;
    case 't':
        if (tok_eq(cmd, "touch") && (t.n == 3 || t.n == 4)) {
            mcx_touch(c, &t);
            return size;
        }
        break;
    default:
        if ((tok_eq(cmd, "replace") || tok_eq(cmd, "prepend"))) {
            if (t.n != 5 && t.n != 6) break;
            return mcx_update(c, m, &t, tok_eq(cmd, "replace") ? MC_REPLACE : MC_PREPEND, p, size, n);
        }
        if (tok_eq(cmd, "bget")) {
            if (t.n < 2) break;
            mcx_get(c, &t, false, false);
        } else if (tok_eq(cmd, "flush_all")) {
            if (t.n > 3) break;
            mcx_flush_all(c, &t);
        } else if (tok_eq(cmd, "version")) {
            mc_w_cstr(c->out, "VERSION " MEMCACHE_VERSION);
        } else if (tok_eq(cmd, "quit")) {
            client_close_after_reply(c);
        } else if (tok_eq(cmd, "lru_crawler")) {
            mcx_lru_crawler(c, &t);
        } else if (tok_eq(cmd, "watch")) {
            mc_cmd_watch(c, &t);
        } else if (tok_eq(cmd, "verbosity")) {
            if (t.n != 2 && t.n != 3) break;
            mcx_verbosity(c, &t);
        } else if (tok_eq(cmd, "lru")) {
            if (t.n < 2) break;
            mcx_lru(c, &t);
        } else if (tok_eq(cmd, "extstore")) {
            if (t.n < 2) break;
            mcx_extstore(c, &t);
        } else if (tok_eq(cmd, "refresh_certs")) {
            mcx_refresh_certs(c, &t);
        } else if (t.t[t.n - 1].len >= 5 && memcmp(t.t[t.n - 1].p, "HTTP/", 5) == 0) {
            client_close_after_reply(c);
            return n;
        } else {
            break;
        }
        return size;
    }
    mc_w_cstr(c->out, "ERROR");
    return size;
}
