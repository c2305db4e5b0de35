/*
 * cmd/memcache_bin.c - memcached's binary protocol on the Stash store.
 *
 * Every opcode memcached 1.6 answers: GET GETQ GETK GETKQ, SET ADD REPLACE
 * (and Q forms), DELETE(Q), INCREMENT/DECREMENT(Q), APPEND/PREPEND(Q),
 * TOUCH GAT GATQ GATK GATKQ, FLUSH(Q), NOOP, VERSION, STAT, QUIT(Q); the
 * SASL opcodes answer "Unknown command" as memcached started without -S
 * does; with -S they run SASL PLAIN (memcache_auth.c), and any other opcode
 * but VERSION needs a successful login first.
 *
 * Flow (memcached's try_read_command_binary / dispatch_bin_command): a
 * request is looked at once its header, extras and key are in; a packet
 * of the wrong shape gets EINVAL and the connection closes after the
 * answer; a value too large gets E2BIG and is skipped unread. A quiet
 * opcode answers only errors (and, for GETQ/GETKQ, hits). Every answer
 * carries the request's opaque; successful stores and hits carry the CAS,
 * so items touched by binary clients get one (see memcache.c).
 */
#include "cmd/memcache_int.h"
#include "base/str.h"

#define EXT_MAX 20
#define SASL_MECH_MAX 32         /* memcached's MAX_SASL_MECH_LEN */
#define SASL_DATA_MAX (64 * 1024) /* credentials: anything bigger is not one */

struct bin_req {
    struct mcbin_header h;
    uint8_t op;          /* the loud opcode */
    bool quiet;
    const unsigned char *ext;
    const char *key;
    const char *val;
    uint32_t vlen;
};

static void bin_error(struct client *c, const struct bin_req *r, uint16_t status, const char *text) {
    mcbin_w_error(c->out, r->h.opcode, status, r->h.opaque, text);
}

/* A success answer (skipped when quiet, except for gets which call this only on hits). */
static void bin_ok(struct client *c, const struct bin_req *r, uint64_t cas, const void *body, uint32_t n) {
    if (r->quiet && r->op != MCBIN_GET && r->op != MCBIN_GETK) return;
    mcbin_w_header(c->out, r->h.opcode, MCBIN_OK, 0, 0, n, r->h.opaque, cas);
    if (n) obuf_append(c->out, body, n);
}

/* ---- get / touch / gat ----------------------------------------------------------------------- */

struct bget_ctx {
    struct client *c;
    const struct bin_req *r;
    struct store_key k;
    bool touch;
    int64_t expire;
    bool hit;
};

static void bget_locked(void *arg) {
    struct bget_ctx *x = arg;
    const struct bin_req *r = x->r;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, true);
    x->hit = e != NULL;
    if (!e) return;
    uint64_t cas = mc_item_cas_locked(&ref);
    e = store_ref_entry(&ref);
    bool with_key = r->op == MCBIN_GETK || r->op == MCBIN_GATK;
    bool with_value = r->op != MCBIN_TOUCH;
    size_t vlen = with_value ? mc_value_len(e) : 0;
    uint16_t klen = with_key ? r->h.keylen : 0;
    mcbin_w_header(x->c->out, r->h.opcode, MCBIN_OK, 4, klen, (uint32_t)(4 + klen + vlen), r->h.opaque, cas);
    unsigned char fl[4];
    mcbin_put32(fl, entry_mc_get(e).flags);
    obuf_append(x->c->out, fl, 4);
    if (with_key) obuf_append(x->c->out, r->key, klen);
    if (with_value) mc_w_data(x->c->out, e, false);
    e->flags |= ENTRY_F_MC_FETCHED;
    if (x->touch) mc_touch_locked(x->c, &ref, x->expire);
}

static void bin_get(struct client *c, const struct bin_req *r) {
    bool touch = r->op == MCBIN_TOUCH || r->op == MCBIN_GAT || r->op == MCBIN_GATK;
    struct bget_ctx x = {c, r, {0}, touch, 0, false};
    if (touch) x.expire = mc_expire_ms((int64_t)mcbin_get32(r->ext));
    store_key_init(&x.k, r->key, r->h.keylen);
    store_run_slot(x.k.slot, STORE_READ, bget_locked, &x);
    struct mc_tstats *st = mc_stats();
    if (touch) {
        mc_count(&st->touch_cmds, 1);
        mc_count(x.hit ? &st->touch_hits : &st->touch_misses, 1);
    } else {
        mc_count(&st->get_cmds, 1);
        mc_count(x.hit ? &st->get_hits : &st->get_misses, 1);
    }
    if (UNLIKELY(MC_LOAD(detail_enabled))) mc_detail_record(r->key, r->h.keylen, x.hit ? 'g' : 'm');
    if (UNLIKELY(mc_watching())) mc_log_get(c, r->key, r->h.keylen, x.hit ? 1 : 0, 0);
    if (x.hit || r->quiet) return;
    if (r->op == MCBIN_GETK || r->op == MCBIN_GATK) {
        /* The miss of a "K" get carries the key instead of a message. */
        mcbin_w_header(c->out, r->h.opcode, MCBIN_KEY_ENOENT, 0, r->h.keylen, r->h.keylen, r->h.opaque, 0);
        obuf_append(c->out, r->key, r->h.keylen);
    } else {
        bin_error(c, r, MCBIN_KEY_ENOENT, NULL);
    }
}

/* ---- storage ------------------------------------------------------------------------------------- */

static void bin_store(struct client *c, const struct bin_req *r, int mode, uint32_t flags, int64_t expire) {
    if (!mc_memory_ok()) {
        MC_COUNT(store_no_memory);
        if (mode == MC_SET) mc_delete_key(c, r->key, r->h.keylen);
        bin_error(c, r, MCBIN_ENOMEM, "Out of memory allocating item");
        return;
    }
    if (r->h.cas != 0 && (mode == MC_SET || mode == MC_ADD || mode == MC_REPLACE)) mode = MC_CAS;
    struct mc_store s = {.mode = mode, .key = r->key, .klen = r->h.keylen, .val = r->val, .vlen = r->vlen,
                         .flags = flags, .expire = expire, .cas = r->h.cas, .want_cas = !r->quiet};
    mc_store_item(c, &s);
    switch (s.result) {
    case MC_STORED: bin_ok(c, r, s.new_cas, NULL, 0); break;
    case MC_EXISTS: bin_error(c, r, MCBIN_KEY_EEXISTS, NULL); break;
    case MC_NOT_FOUND: bin_error(c, r, MCBIN_KEY_ENOENT, NULL); break;
    default:
        bin_error(c, r, mode == MC_ADD ? MCBIN_KEY_EEXISTS : mode == MC_REPLACE ? MCBIN_KEY_ENOENT : MCBIN_NOT_STORED,
                  NULL);
        break;
    }
}

/* ---- delete, arithmetic, flush ---------------------------------------------------------------------- */

struct bdel_ctx {
    struct client *c;
    const struct bin_req *r;
    struct store_key k;
    int status;
};

static void bdel_locked(void *arg) {
    struct bdel_ctx *x = arg;
    struct store_ref ref;
    struct entry *e = mc_find_any_locked(&x->k, &ref);
    if (!e) {
        x->status = MCBIN_KEY_ENOENT;
        return;
    }
    if (x->r->h.cas != 0 && !mc_cas_matches(e, x->r->h.cas)) {
        x->status = MCBIN_KEY_EEXISTS;
        return;
    }
    mc_delete_locked(x->c, &x->k);
    x->status = MCBIN_OK;
}

static void bin_delete(struct client *c, const struct bin_req *r) {
    if (UNLIKELY(MC_LOAD(detail_enabled))) mc_detail_record(r->key, r->h.keylen, 'd');
    struct bdel_ctx x = {c, r, {0}, 0};
    store_key_init(&x.k, r->key, r->h.keylen);
    store_run_slot(x.k.slot, STORE_WRITE, bdel_locked, &x);
    if (x.status == MCBIN_OK) {
        MC_COUNT(delete_hits);
        bin_ok(c, r, 0, NULL, 0);
    } else {
        if (x.status == MCBIN_KEY_ENOENT) MC_COUNT(delete_misses);
        bin_error(c, r, (uint16_t)x.status, NULL);
    }
}

static void bin_arith(struct client *c, const struct bin_req *r) {
    uint32_t expiration = mcbin_get32(r->ext + 16);
    struct mc_delta d = {.key = r->key,
                         .klen = r->h.keylen,
                         .incr = r->op == MCBIN_INCREMENT,
                         .delta = mcbin_get64(r->ext),
                         .cas = r->h.cas,
                         .want_cas = true,
                         .vivify = expiration != 0xffffffffu,
                         .initial = mcbin_get64(r->ext + 8),
                         .vivify_expire = mc_expire_ms((int64_t)expiration)};
    mc_delta_item(c, &d);
    unsigned char body[8];
    switch (d.result) {
    case MC_DELTA_OK:
        mcbin_put64(body, d.value);
        bin_ok(c, r, d.new_cas, body, 8);
        break;
    case MC_DELTA_NON_NUMERIC: bin_error(c, r, MCBIN_DELTA_BADVAL, NULL); break;
    case MC_DELTA_CAS_MISMATCH: bin_error(c, r, MCBIN_KEY_EEXISTS, NULL); break;
    default: bin_error(c, r, MCBIN_KEY_ENOENT, NULL); break;
    }
}

static void bin_flush(struct client *c, const struct bin_req *r) {
    if (!MC_LOAD(flush_enabled)) {
        bin_error(c, r, MCBIN_AUTH_ERROR, NULL);
        return;
    }
    int64_t delay = r->h.extlen == 4 ? (int64_t)mcbin_get32(r->ext) : 0;
    MC_COUNT(flush_cmds);
    mc_flush_all(delay);
    bin_ok(c, r, 0, NULL, 0);
}

/* ---- dispatch ------------------------------------------------------------------------------------------- */

/* Answer EINVAL and close after it (a malformed packet). */
static void protocol_error(struct client *c, const struct bin_req *r) {
    bin_error(c, r, MCBIN_EINVAL, NULL);
    client_close_after_reply(c);
}

size_t mc_bin_request(struct client *c, struct mc_conn *m, const unsigned char *p, size_t n) {
    if (n < MCBIN_HEADER) {
        m->need = MCBIN_HEADER;
        return 0;
    }
    struct bin_req r;
    memset(&r, 0, sizeof(r));
    mcbin_parse_header(p, &r.h);
    if (r.h.magic != MCBIN_REQ) {
        /* Not the binary protocol: memcached drops the connection at once,
         * answers still queued included. */
        c->flags |= CLIENT_CLOSE_ASAP;
        return n;
    }
    uint32_t body = r.h.bodylen, keylen = r.h.keylen, extlen = r.h.extlen;
    size_t head = MCBIN_HEADER + extlen + keylen;
    if (n < head) {
        m->need = head;
        return 0;
    }
    r.ext = p + MCBIN_HEADER;
    r.key = (const char *)p + MCBIN_HEADER + extlen;
    r.op = mcbin_unquiet(r.h.opcode, &r.quiet);
    if (keylen > body || keylen + extlen > body) {
        bin_error(c, &r, MCBIN_UNKNOWN_COMMAND, NULL);
        client_close_after_reply(c);
        return head;
    }
    if (UNLIKELY(!m->authed) && mc_auth_sasl_enabled() && r.op != MCBIN_SASL_LIST_MECHS &&
        r.op != MCBIN_SASL_AUTH && r.op != MCBIN_SASL_STEP && r.op != MCBIN_VERSION) {
        bin_error(c, &r, MCBIN_AUTH_ERROR, NULL);
        client_close_after_reply(c);
        return head;
    }
    if (keylen > MC_KEY_MAX) {
        protocol_error(c, &r);
        return head;
    }
    switch (r.op) {
    case MCBIN_VERSION:
        if (extlen || keylen || body) break;
        bin_ok(c, &r, 0, MEMCACHE_VERSION, (uint32_t)strlen(MEMCACHE_VERSION));
        return head;
    case MCBIN_FLUSH:
        if (keylen || body != extlen || (extlen != 0 && extlen != 4)) break;
        bin_flush(c, &r);
        return head;
    case MCBIN_NOOP:
        if (extlen || keylen || body) break;
        bin_ok(c, &r, 0, NULL, 0);
        return head;
    case MCBIN_GET:
    case MCBIN_GETK:
        if (extlen || body != keylen || keylen == 0) break;
        bin_get(c, &r);
        return head;
    case MCBIN_TOUCH:
    case MCBIN_GAT:
    case MCBIN_GATK:
        if (extlen != 4 || keylen == 0) break;
        bin_get(c, &r);
        return head;
    case MCBIN_DELETE:
        if (keylen == 0 || extlen || body != keylen) break;
        bin_delete(c, &r);
        return head;
    case MCBIN_INCREMENT:
    case MCBIN_DECREMENT:
        if (keylen == 0 || extlen != 20 || body != keylen + extlen) break;
        bin_arith(c, &r);
        return head;
    case MCBIN_STAT:
        if (extlen) break;
        if (!mc_bin_stats(c, r.key, keylen, r.h.opaque)) bin_error(c, &r, MCBIN_KEY_ENOENT, NULL);
        return head;
    case MCBIN_QUIT:
        if (extlen || keylen || body) break;
        bin_ok(c, &r, 0, NULL, 0);
        client_close_after_reply(c);
        return head;
    case MCBIN_SASL_LIST_MECHS:
        if (extlen || keylen || body) break;
        if (mc_auth_sasl_enabled())
            mc_sasl_list_mechs(c, m, &r.h);
        else
            bin_error(c, &r, MCBIN_UNKNOWN_COMMAND, NULL);
        return head;
    case MCBIN_SASL_AUTH:
    case MCBIN_SASL_STEP: {
        if (extlen || keylen == 0) break;
        if (!mc_auth_sasl_enabled() || keylen > SASL_MECH_MAX) {
            bin_error(c, &r, mc_auth_sasl_enabled() ? MCBIN_EINVAL : MCBIN_UNKNOWN_COMMAND, NULL);
            m->swallow = body - keylen;
            return head;
        }
        size_t total = MCBIN_HEADER + body;
        if (body > SASL_DATA_MAX) {
            bin_error(c, &r, MCBIN_EINVAL, NULL);
            client_close_after_reply(c);
            return n;
        }
        if (n < total) {
            m->need = total;
            return 0;
        }
        mc_sasl_auth(c, m, &r.h, r.key, keylen, (const char *)p + head, body - keylen);
        return total;
    }
    case MCBIN_SET:
    case MCBIN_ADD:
    case MCBIN_REPLACE:
    case MCBIN_APPEND:
    case MCBIN_PREPEND: {
        bool concat = r.op == MCBIN_APPEND || r.op == MCBIN_PREPEND;
        if (concat ? (keylen == 0 || extlen) : (extlen != 8 || keylen == 0 || body < keylen + 8)) break;
        uint32_t vlen = body - keylen - extlen;
        uint32_t flags = concat ? 0 : mcbin_get32(r.ext);
        if (UNLIKELY(MC_LOAD(detail_enabled))) mc_detail_record(r.key, keylen, 's');
        if (!mc_size_ok(keylen, flags, vlen)) {
            MC_COUNT(store_too_large);
            if (r.op == MCBIN_SET) mc_delete_key(c, r.key, keylen);
            bin_error(c, &r, MCBIN_E2BIG, NULL);
            m->swallow = vlen;
            return head;
        }
        size_t total = MCBIN_HEADER + body;
        if (n < total) {
            m->need = total;
            return 0;
        }
        r.val = (const char *)p + head;
        r.vlen = vlen;
        int mode = r.op == MCBIN_SET       ? MC_SET
                   : r.op == MCBIN_ADD     ? MC_ADD
                   : r.op == MCBIN_REPLACE ? MC_REPLACE
                   : r.op == MCBIN_APPEND  ? MC_APPEND
                                           : MC_PREPEND;
        int64_t expire = concat ? MC_EXP_NONE : mc_expire_ms((int64_t)mcbin_get32(r.ext + 4));
        bin_store(c, &r, mode, flags, expire);
        return total;
    }
    default:
        bin_error(c, &r, MCBIN_UNKNOWN_COMMAND, NULL);
        m->swallow = body; /* as memcached: the whole body length, after extras and key */
        return head;
    }
    protocol_error(c, &r);
    return head;
}
