/*
 * cmd/memcache_meta.c - memcached's meta commands: mg ms md ma mn me.
 *
 * A meta command is "<cm> <key> [datalen] <flags>*": single-letter flags,
 * some with a token (T30, Oopaque, Cn...), parsed by proto/mc. Return
 * flags are written in the order the request gave them; the order of the
 * checks and the error lines are memcached 1.6's. Errors are never
 * silenced; q silences only the nominal answer (mg: EN, ms/md/ma: HD).
 *
 * Stampede protection (mg N/R, md I, ms I): an item carries three state
 * bits in its entry (store/entry.h): fetched, "win token sent" and stale.
 * mg N creates an empty item on a miss and hands its caller the win (W);
 * later callers see Z. R hands out the win when the remaining TTL is below
 * its token. md I marks an item stale (X) with a new CAS; the next mg wins
 * once. ms I with an older CAS stores the value but keeps it stale.
 *
 * Each command works under its key's stripe lock: the answer line is
 * built in a local buffer (so an error can still replace it) and appended
 * with the value before the lock is released.
 */
#include "cmd/memcache_int.h"
#include "base/str.h"

#include <limits.h>
#include <stdio.h>

#define E_FORMAT "CLIENT_ERROR bad command line format"
#define LINE_MAX_BYTES 2048

/* The answer line being built. */
struct line {
    char b[LINE_MAX_BYTES];
    size_t n;
};

static void put(struct line *l, const char *s, size_t n) {
    if (l->n + n > sizeof(l->b)) n = sizeof(l->b) - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
}
static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }
static void put_flag_u64(struct line *l, char f, uint64_t v) {
    char tmp[24] = {' ', f};
    put(l, tmp, 2 + mc_u64_text(tmp + 2, v));
}
static void put_flag_i64(struct line *l, char f, int64_t v) {
    if (v >= 0) {
        put_flag_u64(l, f, (uint64_t)v);
        return;
    }
    char tmp[26] = {' ', f, '-'};
    put(l, tmp, 3 + mc_u64_text(tmp + 3, (uint64_t)0 - (uint64_t)v));
}
static void put_token(struct line *l, const struct mc_tok *t) {
    put(l, " ", 1);
    put(l, t->p, t->len);
}
static void put_key(struct line *l, const char *key, size_t klen, bool binary) {
    put(l, " k", 2);
    if (binary) {
        char enc[4 * (MC_KEY_MAX / 3 + 1)];
        put(l, enc, mc_base64_encode(key, klen, enc));
        put(l, " b", 2);
    } else {
        put(l, key, klen);
    }
}

/* Any O token longer than memcached accepts? */
static bool opaque_too_long(const struct mc_tokens *t, int start) {
    for (int i = start; i < t->n; i++)
        if (t->t[i].p[0] == 'O' && t->t[i].len > MC_OPAQUE_MAX) return true;
    return false;
}

static void errline(struct client *c, const char *s) { mc_w_cstr(c->out, s); }

/* ---- mg -------------------------------------------------------------------------- */

struct mg_ctx {
    struct client *c;
    const struct mc_tokens *t;
    struct mc_meta *f;
    struct store_key k;
    bool hit;
    bool ttl_set;
};

/* The exptime a T/N/R token means, as absolute ms (MC_EXP_NONE: never). */
static int64_t token_expire(int32_t ttl) { return mc_expire_ms(ttl); }

static void mg_locked(void *arg) {
    struct mg_ctx *x = arg;
    struct client *c = x->c;
    struct mc_meta *f = x->f;
    const struct mc_tokens *t = x->t;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, false);
    bool created = false, won = false;
    if (e == NULL && f->vivify) {
        /* A miss with N: an empty item, created never-expiring; N sets
         * its TTL below, in token order. */
        if (mc_find_any_locked(&x->k, &ref) == NULL) {
            struct entry *n = entry_new_str_mc(x->k.ptr, x->k.len, "", 0, MC_EXP_NONE, NULL);
            if (f->key_binary) n->flags |= ENTRY_F_MC_BINKEY;
            store_add(0, &x->k, n, &ref);
            cmd_modified(c, &x->k);
            MC_COUNT(total_items);
            e = n;
            created = true;
        }
    }
    struct line l;
    l.n = 0;
    if (e == NULL) {
        x->hit = false;
        if (f->no_reply) return;
        puts_(&l, "EN");
        for (int i = 2; i < t->n; i++) {
            if (t->t[i].p[0] == 'O') put_token(&l, &t->t[i]);
            else if (t->t[i].p[0] == 'k') put_key(&l, f->key, f->klen, f->key_binary);
        }
        put(&l, "\r\n", 2);
        obuf_append(c->out, l.b, l.n);
        return;
    }
    x->hit = true;
    /* What h and l report is the state before this access. */
    bool fetched = (e->flags & ENTRY_F_MC_FETCHED) != 0;
    uint64_t idle = created ? 0 : mc_idle_s(e);
    int64_t expire = entry_has_expire(e) ? entry_expire(e) : MC_EXP_NONE;
    bool expire_changed = false;
    size_t vlen = mc_value_len(e);
    if (f->value) {
        puts_(&l, "VA ");
        char tmp[24];
        put(&l, tmp, mc_u64_text(tmp, vlen));
    } else {
        puts_(&l, "HD");
    }
    for (int i = 2; i < t->n; i++) {
        const struct mc_tok *tk = &t->t[i];
        switch (tk->p[0]) {
        case 'T':
            x->ttl_set = true;
            expire = token_expire(f->ttl);
            expire_changed = true;
            break;
        case 'N':
            if (created) {
                expire = token_expire(f->vivify_ttl);
                expire_changed = true;
                won = true;
            }
            break;
        case 'R':
            if (!(e->flags & ENTRY_F_MC_WON) && !created && expire != MC_EXP_NONE) {
                int64_t limit = token_expire(f->recache_ttl);
                if (limit != MC_EXP_NONE && limit != MC_EXP_GONE && expire < limit) won = true;
            }
            break;
        case 's': put_flag_u64(&l, 's', vlen); break;
        case 't': {
            int64_t left = -1;
            if (expire == MC_EXP_GONE) left = 0;
            else if (expire != MC_EXP_NONE) left = expire > store_now() ? (expire - store_now() + 999) / 1000 : 0;
            put_flag_i64(&l, 't', left);
            break;
        }
        case 'c': {
            uint64_t cas = mc_item_cas_locked(&ref);
            e = store_ref_entry(&ref);
            put_flag_u64(&l, 'c', cas);
            break;
        }
        case 'f': put_flag_u64(&l, 'f', entry_mc_get(e).flags); break;
        case 'l': put_flag_u64(&l, 'l', idle); break;
        case 'h': put(&l, fetched ? " h1" : " h0", 3); break;
        case 'O': put_token(&l, tk); break;
        case 'k': put_key(&l, f->key, f->klen, (e->flags & ENTRY_F_MC_BINKEY) != 0); break;
        default: break;
        }
    }
    if (e->flags & ENTRY_F_MC_WON) put(&l, " Z", 2);
    if (e->flags & ENTRY_F_MC_STALE) {
        put(&l, " X", 2);
        if (!(e->flags & ENTRY_F_MC_WON)) won = true;
    }
    if (won) {
        put(&l, " W", 2);
        e->flags |= ENTRY_F_MC_WON;
    }
    put(&l, "\r\n", 2);
    obuf_append(c->out, l.b, l.n);
    if (f->value) mc_w_data(c->out, e, true);
    if (!f->no_update) {
        e->flags |= ENTRY_F_MC_FETCHED;
        store_touch_access(e);
    }
    if (expire_changed) mc_touch_locked(c, &ref, expire);
}

static void mcx_mg(struct client *c, const struct mc_tokens *t) {
    if (t->n < 2) {
        errline(c, "ERROR");
        return;
    }
    if (t->t[1].len > MC_KEY_MAX) {
        errline(c, E_FORMAT);
        return;
    }
    if (t->n >= MC_META_TOKENS_MAX) {
        errline(c, "CLIENT_ERROR options flags are too long");
        return;
    }
    struct mc_meta f;
    const char *err = E_FORMAT;
    if (mc_meta_parse(t, 2, &f, &err) != 0) {
        errline(c, err);
        return;
    }
    if (opaque_too_long(t, 2)) {
        errline(c, "CLIENT_ERROR opaque token too long");
        return;
    }
    struct mg_ctx x = {c, t, &f, {0}, false, false};
    store_key_init(&x.k, f.key, f.klen);
    store_run_slot(x.k.slot, STORE_WRITE, mg_locked, &x);
    struct mc_tstats *st = mc_stats();
    if (x.ttl_set) {
        mc_count(&st->touch_cmds, 1);
        mc_count(x.hit ? &st->touch_hits : &st->touch_misses, 1);
    } else {
        mc_count(&st->get_cmds, 1);
        mc_count(x.hit ? &st->get_hits : &st->get_misses, 1);
    }
    if (UNLIKELY(mc_watching())) mc_log_get(c, f.key, f.klen, x.hit ? 1 : 0, 0);
}

/* ---- ms ---------------------------------------------------------------------------------- */

static size_t mcx_ms(struct client *c, struct mc_conn *m, const struct mc_tokens *t, const char *line, size_t size,
                     size_t avail) {
    if (t->n < 2) {
        errline(c, "ERROR");
        return size;
    }
    if (t->t[1].len > MC_KEY_MAX || t->n == 2) {
        errline(c, E_FORMAT);
        return size;
    }
    if (t->n >= MC_META_TOKENS_MAX) {
        errline(c, "CLIENT_ERROR options flags too long");
        return size;
    }
    int32_t vlen;
    if (!mc_parse_i32(t->t[2].p, t->t[2].len, &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
        errline(c, E_FORMAT);
        return size;
    }
    struct mc_meta f;
    const char *err = E_FORMAT;
    int mode = MC_SET;
    if (mc_meta_parse(t, 3, &f, &err) != 0) goto refuse;
    if (opaque_too_long(t, 3)) {
        err = "CLIENT_ERROR opaque token too long";
        goto refuse;
    }
    switch (f.mode) {
    case 0:
    case 'S': mode = MC_SET; break;
    case 'E': mode = MC_ADD; break;
    case 'A': mode = MC_APPEND; break;
    case 'P': mode = MC_PREPEND; break;
    case 'R': mode = MC_REPLACE; break;
    default: err = "CLIENT_ERROR invalid mode for ms M token"; goto refuse;
    }
    if (f.has_cas && (mode == MC_SET || mode == MC_REPLACE)) mode = MC_CAS;
    if (!mc_size_ok(f.klen, f.client_flags, (uint64_t)vlen)) {
        MC_COUNT(store_too_large);
        mc_delete_key(c, f.key, f.klen);
        err = "SERVER_ERROR object too large for cache";
        goto refuse;
    }
    size_t total = size + (size_t)vlen + 2;
    if (avail < total) {
        m->need = total;
        return 0;
    }
    const char *data = line + size;
    if (data[vlen] != '\r' || data[vlen + 1] != '\n') {
        MC_COUNT(set_cmds);
        errline(c, "CLIENT_ERROR bad data chunk");
        return total;
    }
    if (!mc_memory_ok()) {
        MC_COUNT(store_no_memory);
        mc_delete_key(c, f.key, f.klen);
        errline(c, "SERVER_ERROR out of memory storing object");
        return total;
    }
    bool want_cas = false;
    for (int i = 3; i < t->n; i++)
        if (t->t[i].p[0] == 'c') want_cas = true;
    struct mc_store s = {.mode = mode,
                         .key = f.key,
                         .klen = f.klen,
                         .val = data,
                         .vlen = (size_t)vlen,
                         .flags = f.client_flags,
                         .expire = f.new_ttl ? mc_expire_ms(f.ttl) : MC_EXP_NONE,
                         .cas = f.cas,
                         .stale_ok = f.set_stale && mode == MC_CAS,
                         .want_cas = want_cas,
                         .key_binary = f.key_binary};
    mc_store_item(c, &s);
    if (s.result == MC_STORED && f.no_reply) return total;
    static const char *const codes[] = {"NS", "HD", "EX", "NF"};
    struct line l;
    l.n = 0;
    puts_(&l, codes[s.result]);
    for (int i = 3; i < t->n; i++) {
        switch (t->t[i].p[0]) {
        case 'O': put_token(&l, &t->t[i]); break;
        case 'k': put_key(&l, f.key, f.klen, f.key_binary); break;
        case 'c': put_flag_u64(&l, 'c', s.result == MC_STORED ? s.new_cas : 0); break;
        default: break;
        }
    }
    put(&l, "\r\n", 2);
    obuf_append(c->out, l.b, l.n);
    return total;
refuse:
    /* The value that follows is skipped, as memcached does. */
    errline(c, err);
    m->swallow = (uint64_t)vlen + 2;
    return size;
}

/* ---- md ------------------------------------------------------------------------------------ */

struct md_ctx {
    struct client *c;
    struct mc_meta *f;
    struct store_key k;
    const char *code;
    bool deleted;
};

static void md_locked(void *arg) {
    struct md_ctx *x = arg;
    struct mc_meta *f = x->f;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, false);
    /* another Redis type (list, hash...) can be deleted, not marked stale */
    if (e == NULL && !f->set_stale) e = mc_find_any_locked(&x->k, &ref);
    if (e == NULL) {
        MC_COUNT(delete_misses);
        x->code = "NF";
        return;
    }
    if (f->has_cas && !mc_cas_matches(e, f->cas)) {
        MC_COUNT(delete_misses);
        x->code = "EX";
        return;
    }
    x->code = "HD";
    if (f->set_stale) {
        if (f->new_ttl) {
            int64_t exp = mc_expire_ms(f->ttl);
            if (exp == MC_EXP_GONE) exp = store_now() - 1;
            store_set_expire(&ref, exp);
        }
        struct entry_mc mc = entry_mc_get(store_ref_entry(&ref));
        mc.cas = mc_cas_next();
        store_set_mc(&ref, &mc);
        e = store_ref_entry(&ref);
        e->flags = (uint8_t)((e->flags | ENTRY_F_MC_STALE) & ~ENTRY_F_MC_WON);
        cmd_modified(x->c, &x->k);
        return;
    }
    mc_delete_locked(x->c, &x->k);
    MC_COUNT(delete_hits);
    x->deleted = true;
}

static void mcx_md(struct client *c, const struct mc_tokens *t) {
    if (t->n < 2) {
        errline(c, "ERROR");
        return;
    }
    if (t->t[1].len > MC_KEY_MAX) {
        errline(c, E_FORMAT);
        return;
    }
    if (t->n >= MC_META_TOKENS_MAX) {
        errline(c, "CLIENT_ERROR options flags too long");
        return;
    }
    struct mc_meta f;
    const char *err = E_FORMAT;
    if (mc_meta_parse(t, 2, &f, &err) != 0) {
        errline(c, "CLIENT_ERROR invalid or duplicate flag");
        return;
    }
    if (opaque_too_long(t, 2)) {
        errline(c, "CLIENT_ERROR opaque token too long");
        return;
    }
    if (MC_LOAD(detail_enabled)) mc_detail_record(f.key, f.klen, 'd');
    struct md_ctx x = {c, &f, {0}, "NF", false};
    store_key_init(&x.k, f.key, f.klen);
    store_run_slot(x.k.slot, STORE_WRITE, md_locked, &x);
    if (f.no_reply && x.code[0] == 'H') return;
    struct line l;
    l.n = 0;
    puts_(&l, x.code);
    for (int i = 2; i < t->n; i++) {
        if (t->t[i].p[0] == 'O') put_token(&l, &t->t[i]);
        else if (t->t[i].p[0] == 'k') put_key(&l, f.key, f.klen, f.key_binary);
    }
    put(&l, "\r\n", 2);
    obuf_append(c->out, l.b, l.n);
}

/* ---- ma ------------------------------------------------------------------------------------- */

struct ma_ctx {
    struct client *c;
    const struct mc_tokens *t;
    struct mc_meta *f;
    struct store_key k;
    bool incr;
    const char *error;
};

static void ma_locked(void *arg) {
    struct ma_ctx *x = arg;
    struct client *c = x->c;
    struct mc_meta *f = x->f;
    const struct mc_tokens *t = x->t;
    struct store_ref ref;
    struct line l;
    l.n = 0;
    struct entry *e = mc_find_locked(&x->k, &ref, false);
    bool created = false;
    uint64_t value = 0;
    int rc;
    if (e) {
        rc = mc_delta_apply_locked(c, &ref, x->incr, f->delta, f->has_cas ? f->cas : 0, &value);
    } else if (mc_find_any_locked(&x->k, &ref)) {
        rc = MC_DELTA_NON_NUMERIC;
    } else {
        rc = MC_DELTA_NOT_FOUND;
    }
    if (rc == MC_DELTA_NON_NUMERIC) {
        x->error = "CLIENT_ERROR cannot increment or decrement non-numeric value";
        return;
    }
    if (rc == MC_DELTA_NOT_FOUND && f->vivify) {
        uint64_t cas;
        /* Created never-expiring; N sets its TTL below, in token order. */
        e = mc_create_number_locked(c, &x->k, f->initial, MC_EXP_NONE, false, &cas);
        if (e) store_peek(0, &x->k, &ref);
        value = f->initial;
        created = true;
        rc = MC_DELTA_OK;
    }
    if (rc == MC_DELTA_NOT_FOUND) {
        mc_count(x->incr ? &mc_stats()->incr_misses : &mc_stats()->decr_misses, 1);
        puts_(&l, "NF");
    } else if (rc == MC_DELTA_CAS_MISMATCH) {
        puts_(&l, "EX");
    }
    if (rc != MC_DELTA_OK) {
        for (int i = 2; i < t->n; i++) {
            if (t->t[i].p[0] == 'O') put_token(&l, &t->t[i]);
            else if (t->t[i].p[0] == 'k') put_key(&l, f->key, f->klen, f->key_binary);
        }
        put(&l, "\r\n", 2);
        obuf_append(c->out, l.b, l.n);
        return;
    }
    if (f->no_reply && !created) {
        /* q: the nominal answer is skipped; TTL tokens still apply */
        for (int i = 2; i < t->n; i++)
            if (t->t[i].p[0] == 'T') mc_touch_locked(c, &ref, mc_expire_ms(f->ttl));
        return;
    }
    char num[24];
    size_t numlen = mc_u64_text(num, value);
    e = store_ref_entry(&ref);
    int64_t expire = entry_has_expire(e) ? entry_expire(e) : MC_EXP_NONE;
    bool expire_changed = false;
    if (f->value) {
        puts_(&l, "VA ");
        char tmp[24];
        put(&l, tmp, mc_u64_text(tmp, numlen));
    } else {
        puts_(&l, "HD");
    }
    for (int i = 2; i < t->n; i++) {
        const struct mc_tok *tk = &t->t[i];
        switch (tk->p[0]) {
        case 'c': put_flag_u64(&l, 'c', mc_item_cas_locked(&ref)); break;
        case 't': {
            int64_t left = -1;
            if (expire == MC_EXP_GONE) left = 0;
            else if (expire != MC_EXP_NONE) left = expire > store_now() ? (expire - store_now() + 999) / 1000 : 0;
            put_flag_i64(&l, 't', left);
            break;
        }
        case 'T':
            expire = mc_expire_ms(f->ttl);
            expire_changed = true;
            break;
        case 'N':
            if (created) {
                expire = mc_expire_ms(f->vivify_ttl);
                expire_changed = true;
            }
            break;
        case 'O': put_token(&l, tk); break;
        case 'k': put_key(&l, f->key, f->klen, f->key_binary); break;
        default: break;
        }
    }
    if (f->value) {
        put(&l, "\r\n", 2);
        put(&l, num, numlen);
    }
    put(&l, "\r\n", 2);
    obuf_append(c->out, l.b, l.n);
    if (expire_changed) mc_touch_locked(c, &ref, expire);
}

static void mcx_ma(struct client *c, const struct mc_tokens *t) {
    if (t->n < 2) {
        errline(c, "ERROR");
        return;
    }
    if (t->t[1].len > MC_KEY_MAX) {
        errline(c, E_FORMAT);
        return;
    }
    if (t->n >= MC_META_TOKENS_MAX) {
        errline(c, "CLIENT_ERROR options flags too long");
        return;
    }
    struct mc_meta f;
    const char *err = E_FORMAT;
    if (mc_meta_parse(t, 2, &f, &err) != 0) {
        errline(c, "CLIENT_ERROR invalid or duplicate flag");
        return;
    }
    bool incr = true;
    switch (f.mode) {
    case 0:
    case 'I':
    case '+': incr = true; break;
    case 'D':
    case '-': incr = false; break;
    default: errline(c, "CLIENT_ERROR invalid mode for ma M token"); return;
    }
    if (opaque_too_long(t, 2)) {
        errline(c, "CLIENT_ERROR opaque token too long");
        return;
    }
    struct ma_ctx x = {c, t, &f, {0}, incr, NULL};
    store_key_init(&x.k, f.key, f.klen);
    store_run_slot(x.k.slot, STORE_WRITE, ma_locked, &x);
    if (x.error) errline(c, x.error);
}

/* ---- me ----------------------------------------------------------------------------------------- */

struct me_ctx {
    struct client *c;
    struct store_key k;
    bool binary;
};

static void me_locked(void *arg) {
    struct me_ctx *x = arg;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, false);
    if (e == NULL) {
        mc_w_cstr(x->c->out, "EN");
        return;
    }
    uint64_t cas = mc_item_cas_locked(&ref);
    e = store_ref_entry(&ref);
    struct line l;
    l.n = 0;
    puts_(&l, "ME ");
    if (e->flags & ENTRY_F_MC_BINKEY) {
        char enc[4 * (MC_KEY_MAX / 3 + 1)];
        put(&l, enc, mc_base64_encode(x->k.ptr, x->k.len, enc));
    } else {
        put(&l, x->k.ptr, x->k.len);
    }
    char tail[160];
    int64_t left = mc_ttl_left(e);
    int n = snprintf(tail, sizeof(tail), " exp=%lld la=%llu cas=%llu fetch=%s cls=1 size=%zu\r\n",
                     (long long)(left < 0 ? -1 : -left), (unsigned long long)mc_idle_s(e), (unsigned long long)cas,
                     (e->flags & ENTRY_F_MC_FETCHED) ? "yes" : "no", mc_item_size(e));
    put(&l, tail, (size_t)n);
    obuf_append(x->c->out, l.b, l.n);
}

static void mcx_me(struct client *c, const struct mc_tokens *t) {
    if (t->n < 2 || t->t[1].len > MC_KEY_MAX) {
        errline(c, E_FORMAT);
        return;
    }
    struct me_ctx x = {c, {0}, false};
    const char *key = t->t[1].p;
    size_t klen = t->t[1].len;
    char dec[MC_KEY_MAX];
    if (t->n >= 3 && mc_tok_is(&t->t[2], "b")) {
        klen = mc_base64_decode(key, klen, dec, sizeof(dec));
        if (klen == 0) {
            errline(c, E_FORMAT);
            return;
        }
        key = dec;
        x.binary = true;
    }
    store_key_init(&x.k, key, klen);
    store_run_slot(x.k.slot, STORE_WRITE, me_locked, &x);
    MC_COUNT(meta_cmds);
}

/* ---- dispatch -------------------------------------------------------------------------------------- */

size_t mc_meta_command(struct client *c, struct mc_conn *m, struct mc_tokens *t, const char *line, size_t size,
                       size_t avail) {
    switch (t->t[0].p[1]) {
    case 'g': mcx_mg(c, t); break;
    case 's': return mcx_ms(c, m, t, line, size, avail);
    case 'd': mcx_md(c, t); break;
    case 'n': obuf_append(c->out, "MN\r\n", 4); break;
    case 'a': mcx_ma(c, t); break;
    case 'e': mcx_me(c, t); break;
    default: errline(c, "ERROR"); break;
    }
    return size;
}
