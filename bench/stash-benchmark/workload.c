/*
 * bench/stash-benchmark/workload.c - encoders and verifiers of the
 * benchmark operations (see workload.h).
 *
 * RESP requests go through proto/resp's writer (arrays of bulks), memcached
 * requests are written as text. Values are generated straight into the
 * output queue, never staged.
 */
#include "workload.h"

#include "codec.h"

#include "base/common.h"
#include "proto/resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYBUF (64 + SB_KEY_NUM_MAX)
#define MSG_LEN "value size differs from -d (data of another run? flush it, or --no-verify-content)"
#define MSG_VALUE "value differs from the one this benchmark writes for the key"

static const struct {
    const char *name;
    enum sb_op op;
    bool memcache; /* also in the memcached protocols */
} op_names[] = {
    {"ping", SB_OP_PING, false},   {"set", SB_OP_SET, true},      {"get", SB_OP_GET, true},
    {"mget", SB_OP_MGET, true},    {"mset", SB_OP_MSET, false},   {"incr", SB_OP_INCR, false},
    {"lpush", SB_OP_LPUSH, false}, {"rpush", SB_OP_RPUSH, false}, {"lpop", SB_OP_LPOP, false},
    {"rpop", SB_OP_RPOP, false},   {"sadd", SB_OP_SADD, false},   {"spop", SB_OP_SPOP, false},
    {"hset", SB_OP_HSET, false},   {"zadd", SB_OP_ZADD, false},   {"zpopmin", SB_OP_ZPOPMIN, false},
};

int sb_op_parse(const char *name, enum sb_proto proto, struct sb_opspec *spec, char *err,
                size_t errlen) {
    memset(spec, 0, sizeof(*spec));
    spec->weight = 1.0;
    if (strncmp(name, "lrange_", 7) == 0) {
        char *end;
        unsigned long n = strtoul(name + 7, &end, 10);
        if (end == name + 7 || *end || n == 0 || n > 100000) {
            snprintf(err, errlen, "bad test '%s' (want lrange_<1..100000>)", name);
            return -1;
        }
        spec->op = SB_OP_LRANGE;
        spec->arg = (uint32_t)n;
    } else {
        size_t i;
        for (i = 0; i < ARRAY_LEN(op_names); i++)
            if (strcmp(name, op_names[i].name) == 0) break;
        if (i == ARRAY_LEN(op_names)) {
            snprintf(err, errlen, "unknown test '%s'", name);
            return -1;
        }
        if (proto != SB_PROTO_RESP && !op_names[i].memcache) {
            snprintf(err, errlen, "test '%s' is RESP only (memcached: get, set, mget)", name);
            return -1;
        }
        spec->op = op_names[i].op;
    }
    size_t n = strlen(name);
    if (n >= sizeof(spec->name)) n = sizeof(spec->name) - 1;
    for (size_t i = 0; i < n; i++)
        spec->name[i] = (name[i] >= 'a' && name[i] <= 'z') ? (char)(name[i] - 32) : name[i];
    return 0;
}

/* ---- encoders -------------------------------------------------------------- */

static void enc_cmd(struct obuf *ob, long long nargs, const char *cmd) {
    resp_w_agg(ob, 2, '*', nargs);
    resp_w_bulk(ob, cmd, strlen(cmd));
}

static void enc_value_raw(struct obuf *ob, uint64_t idx, size_t d) {
    char *w = obuf_reserve(ob, d + 2);
    sb_value_fill(w, d, idx);
    w[d] = '\r';
    w[d + 1] = '\n';
    obuf_commit(ob, d + 2);
}

static void enc_value_bulk(struct obuf *ob, uint64_t idx, size_t d) {
    resp_w_bulk_header(ob, d);
    enc_value_raw(ob, idx, d);
}

static void enc_named(struct obuf *ob, const char *prefix, uint64_t idx) {
    char k[KEYBUF];
    resp_w_bulk(ob, k, sb_key_fmt(k, prefix, strlen(prefix), idx));
}

static void enc_str(struct obuf *ob, const char *s) {
    resp_w_bulk(ob, s, strlen(s));
}

static uint64_t pick(const struct sb_workload *wl, uint64_t seq_key, uint32_t i) {
    if (seq_key != UINT64_MAX) return (seq_key + i) % wl->dist.n;
    return sb_keydist_next(&wl->dist);
}

static uint32_t encode_resp(const struct sb_workload *wl, const struct sb_opspec *spec,
                            struct obuf *ob, uint64_t *keys, uint64_t seq_key) {
    char k[KEYBUF];
    uint64_t idx = pick(wl, seq_key, 0);
    keys[0] = idx;
    switch (spec->op) {
    case SB_OP_PING: enc_cmd(ob, 1, "PING"); return 0;
    case SB_OP_SET:
        enc_cmd(ob, 3, "SET");
        resp_w_bulk(ob, k, sb_key_fmt(k, wl->prefix, wl->plen, idx));
        enc_value_bulk(ob, idx, wl->vsize);
        return 1;
    case SB_OP_GET:
        enc_cmd(ob, 2, "GET");
        resp_w_bulk(ob, k, sb_key_fmt(k, wl->prefix, wl->plen, idx));
        return 1;
    case SB_OP_MGET:
    case SB_OP_MSET: {
        bool set = spec->op == SB_OP_MSET;
        enc_cmd(ob, 1 + (long long)wl->multi * (set ? 2 : 1), set ? "MSET" : "MGET");
        for (uint32_t i = 0; i < wl->multi; i++) {
            keys[i] = i ? pick(wl, seq_key, i) : idx;
            resp_w_bulk(ob, k, sb_key_fmt(k, wl->prefix, wl->plen, keys[i]));
            if (set) enc_value_bulk(ob, keys[i], wl->vsize);
        }
        return wl->multi;
    }
    case SB_OP_INCR:
        enc_cmd(ob, 2, "INCR");
        enc_named(ob, "counter:", idx);
        return 1;
    case SB_OP_LPUSH:
    case SB_OP_RPUSH:
        enc_cmd(ob, 3, spec->op == SB_OP_LPUSH ? "LPUSH" : "RPUSH");
        enc_str(ob, "mylist");
        enc_value_bulk(ob, idx, wl->vsize);
        return 1;
    case SB_OP_LPOP:
        enc_cmd(ob, 2, "LPOP");
        enc_str(ob, "mylist");
        return 1;
    case SB_OP_RPOP:
        enc_cmd(ob, 2, "RPOP");
        enc_str(ob, "mylist");
        return 1;
    case SB_OP_SADD:
        enc_cmd(ob, 3, "SADD");
        enc_str(ob, "myset");
        enc_named(ob, "element:", idx);
        return 1;
    case SB_OP_SPOP:
        enc_cmd(ob, 2, "SPOP");
        enc_str(ob, "myset");
        return 1;
    case SB_OP_HSET:
        enc_cmd(ob, 4, "HSET");
        enc_str(ob, "myhash");
        enc_named(ob, "element:", idx);
        enc_value_bulk(ob, idx, wl->vsize);
        return 1;
    case SB_OP_ZADD: {
        char num[24];
        enc_cmd(ob, 4, "ZADD");
        enc_str(ob, "myzset");
        resp_w_bulk(ob, num, sb_fmt_u64(num, idx));
        enc_named(ob, "element:", idx);
        return 1;
    }
    case SB_OP_ZPOPMIN:
        enc_cmd(ob, 2, "ZPOPMIN");
        enc_str(ob, "myzset");
        return 1;
    case SB_OP_LRANGE: {
        char num[24];
        enc_cmd(ob, 4, "LRANGE");
        enc_str(ob, "mylist");
        enc_str(ob, "0");
        resp_w_bulk(ob, num, sb_fmt_u64(num, spec->arg - 1));
        return 1;
    }
    case SB_OP_COUNT: break;
    }
    return 0;
}

/* Append "<text>" then a key. */
static void mc_put(struct obuf *ob, const char *text, size_t n) {
    obuf_append(ob, text, n);
}

static void mc_key(struct obuf *ob, const struct sb_workload *wl, uint64_t idx) {
    char *w = obuf_reserve(ob, wl->plen + SB_KEY_NUM_MAX);
    obuf_commit(ob, sb_key_fmt(w, wl->prefix, wl->plen, idx));
}

static void mc_num(struct obuf *ob, uint64_t v) {
    char *w = obuf_reserve(ob, 24);
    obuf_commit(ob, sb_fmt_u64(w, v));
}

static uint32_t encode_mc(const struct sb_workload *wl, const struct sb_opspec *spec,
                          struct obuf *ob, uint64_t *keys, uint64_t seq_key) {
    bool meta = wl->proto == SB_PROTO_MC_META;
    uint64_t idx = pick(wl, seq_key, 0);
    keys[0] = idx;
    switch (spec->op) {
    case SB_OP_SET:
        mc_put(ob, meta ? "ms " : "set ", meta ? 3 : 4);
        mc_key(ob, wl, idx);
        mc_put(ob, meta ? " " : " 0 0 ", meta ? 1 : 5);
        mc_num(ob, wl->vsize);
        mc_put(ob, "\r\n", 2);
        enc_value_raw(ob, idx, wl->vsize);
        return 1;
    case SB_OP_GET:
        mc_put(ob, meta ? "mg " : "get ", meta ? 3 : 4);
        mc_key(ob, wl, idx);
        if (meta)
            mc_put(ob, " v\r\n", 4);
        else
            mc_put(ob, "\r\n", 2);
        return 1;
    case SB_OP_MGET:
        if (!meta) mc_put(ob, "get", 3);
        for (uint32_t i = 0; i < wl->multi; i++) {
            keys[i] = i ? pick(wl, seq_key, i) : idx;
            mc_put(ob, meta ? "mg " : " ", meta ? 3 : 1);
            mc_key(ob, wl, keys[i]);
            if (meta) mc_put(ob, " k v q\r\n", 8);
        }
        mc_put(ob, meta ? "mn\r\n" : "\r\n", meta ? 4 : 2);
        return wl->multi;
    default: return 0; /* rejected by sb_op_parse */
    }
}

uint32_t sb_op_encode(const struct sb_workload *wl, const struct sb_opspec *spec, struct obuf *ob,
                      uint64_t *keys, uint64_t seq_key) {
    if (wl->proto == SB_PROTO_RESP) return encode_resp(wl, spec, ob, keys, seq_key);
    return encode_mc(wl, spec, ob, keys, seq_key);
}

void sb_enc_resp_argv(struct obuf *ob, int argc, const char *const *argv) {
    resp_w_agg(ob, 2, '*', argc);
    for (int i = 0; i < argc; i++) enc_str(ob, argv[i]);
}

void sb_enc_mc_auth(struct obuf *ob, const char *user, const char *pass) {
    size_t n = strlen(user) + 1 + strlen(pass);
    mc_put(ob, "set auth 0 0 ", 13);
    mc_num(ob, n);
    mc_put(ob, "\r\n", 2);
    mc_put(ob, user, strlen(user));
    mc_put(ob, " ", 1);
    mc_put(ob, pass, strlen(pass));
    mc_put(ob, "\r\n", 2);
}

/* ---- verifiers ------------------------------------------------------------- */

static void verdict(struct sb_verdict *v, enum sb_verdict_kind kind, const char *msg) {
    v->kind = kind;
    v->msg = msg;
    v->msg_len = msg ? strlen(msg) : 0;
}

static bool is_element(const char *p, size_t n) {
    if (n != 8 + SB_KEY_DIGITS || memcmp(p, "element:", 8) != 0) return false;
    for (size_t i = 8; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return false;
    return true;
}

/* A GET-style bulk for key idx: hit (content compared) or nil. */
static void check_value(const struct sb_workload *wl, const struct sb_resp_reply *r, uint64_t idx,
                        struct sb_verdict *v) {
    if (r->null) {
        verdict(v, SB_V_MISS, NULL);
        return;
    }
    if (r->type != '$') {
        verdict(v, SB_V_MISMATCH, "unexpected reply type");
        return;
    }
    if (!wl->verify_content) {
        verdict(v, SB_V_OK, NULL);
        return;
    }
    v->content_checked = true;
    if (r->len != wl->vsize) {
        verdict(v, SB_V_MISMATCH, MSG_LEN);
        return;
    }
    if (!sb_value_eq(r->str, r->len, idx)) {
        verdict(v, SB_V_MISMATCH, MSG_VALUE);
        return;
    }
    verdict(v, SB_V_OK, NULL);
}

/* A popped or ranged element: a value of this tool. */
static void check_element(const struct sb_workload *wl, const struct sb_resp_reply *r,
                          struct sb_verdict *v) {
    if (r->type != '$' || r->null) {
        verdict(v, SB_V_MISMATCH, "unexpected reply type");
        return;
    }
    if (wl->verify_content) {
        int ok = sb_value_check_any(r->str, r->len);
        if (ok == 0) {
            verdict(v, SB_V_MISMATCH, "element is not a value of this benchmark");
            return;
        }
        v->content_checked = ok == 1;
    }
    verdict(v, SB_V_OK, NULL);
}

static void verify_array(const struct sb_workload *wl, const struct sb_opspec *spec,
                         const struct sb_resp_reply *r, const uint64_t *keys, uint32_t nkeys,
                         struct sb_verdict *v) {
    if (r->type != '*' && r->type != '~') {
        verdict(v, SB_V_MISMATCH, "unexpected reply type");
        return;
    }
    long long want = spec->op == SB_OP_MGET ? (long long)nkeys : -1;
    if (want >= 0 && r->n != want) {
        verdict(v, SB_V_MISMATCH, "wrong number of elements");
        return;
    }
    if (spec->op == SB_OP_LRANGE && r->n > spec->arg) {
        verdict(v, SB_V_MISMATCH, "LRANGE returned too many elements");
        return;
    }
    if (spec->op == SB_OP_ZPOPMIN && r->n != 0 && r->n != 2) {
        verdict(v, SB_V_MISMATCH, "wrong number of elements");
        return;
    }
    size_t off = 0;
    long long hits = 0;
    bool checked = false;
    for (long long i = 0; i < r->n; i++) {
        struct sb_resp_reply e;
        long n = sb_resp_scan(r->str + off, r->len - off, &e, NULL);
        if (n <= 0) {
            verdict(v, SB_V_MISMATCH, "malformed element");
            return;
        }
        off += (size_t)n;
        struct sb_verdict ev = {0};
        if (spec->op == SB_OP_MGET) {
            check_value(wl, &e, keys[i], &ev);
        } else if (spec->op == SB_OP_ZPOPMIN) {
            bool ok = i == 0 ? (e.type == '$' && is_element(e.str, e.len))
                             : (e.type == '$' || e.type == ',');
            verdict(&ev, ok ? SB_V_OK : SB_V_MISMATCH, "unexpected ZPOPMIN element");
        } else {
            check_element(wl, &e, &ev);
        }
        if (ev.kind == SB_V_MISMATCH) {
            *v = ev;
            return;
        }
        checked |= ev.content_checked;
        hits += ev.kind == SB_V_OK;
    }
    v->content_checked = checked;
    verdict(v, hits ? SB_V_OK : SB_V_MISS, NULL);
}

static void verify_resp(const struct sb_workload *wl, const struct sb_opspec *spec,
                        const struct sb_resp_reply *r, const uint64_t *keys, uint32_t nkeys,
                        struct sb_verdict *v) {
    if (sb_resp_is_error(r)) {
        v->kind = SB_V_ERROR;
        v->msg = r->str;
        v->msg_len = r->len;
        return;
    }
    switch (spec->op) {
    case SB_OP_PING:
        if (r->type == '+' && r->len == 4 && memcmp(r->str, "PONG", 4) == 0) {
            verdict(v, SB_V_OK, NULL);
            return;
        }
        {
            verdict(v, SB_V_MISMATCH, "PING: expected +PONG");
            return;
        }
    case SB_OP_SET:
    case SB_OP_MSET:
        if (r->type == '+' && r->len == 2 && memcmp(r->str, "OK", 2) == 0) {
            verdict(v, SB_V_OK, NULL);
            return;
        }
        {
            verdict(v, SB_V_MISMATCH, "expected +OK");
            return;
        }
    case SB_OP_GET: {
        check_value(wl, r, keys[0], v);
        return;
    }
    case SB_OP_INCR: {
        verdict(v, r->type == ':' ? SB_V_OK : SB_V_MISMATCH, "INCR: expected an integer");
        return;
    }
    case SB_OP_LPUSH:
    case SB_OP_RPUSH: {
        verdict(v, r->type == ':' && r->n >= 1 ? SB_V_OK : SB_V_MISMATCH,
                "expected the list length");
        return;
    }
    case SB_OP_SADD:
    case SB_OP_HSET:
    case SB_OP_ZADD: {
        verdict(v, r->type == ':' && (r->n == 0 || r->n == 1) ? SB_V_OK : SB_V_MISMATCH,
                "expected :0 or :1");
        return;
    }
    case SB_OP_LPOP:
    case SB_OP_RPOP:
        if (r->null) {
            verdict(v, SB_V_MISS, NULL);
            return;
        }
        {
            check_element(wl, r, v);
            return;
        }
    case SB_OP_SPOP:
        if (r->null) {
            verdict(v, SB_V_MISS, NULL);
            return;
        }
        {
            verdict(v, r->type == '$' && is_element(r->str, r->len) ? SB_V_OK : SB_V_MISMATCH,
                    "SPOP: expected a member");
            return;
        }
    case SB_OP_MGET:
    case SB_OP_ZPOPMIN:
    case SB_OP_LRANGE: {
        verify_array(wl, spec, r, keys, nkeys, v);
        return;
    }
    case SB_OP_COUNT: break;
    }
    verdict(v, SB_V_MISMATCH, "unknown operation");
}

static bool key_is(const struct sb_workload *wl, const char *p, size_t n, uint64_t idx) {
    char k[KEYBUF];
    size_t kl = sb_key_fmt(k, wl->prefix, wl->plen, idx);
    return n == kl && memcmp(p, k, n) == 0;
}

static bool data_ok(const struct sb_workload *wl, const char *p, size_t n, uint64_t idx,
                    struct sb_verdict *v) {
    if (!wl->verify_content) return true;
    v->content_checked = true;
    if (n != wl->vsize) {
        verdict(v, SB_V_MISMATCH, MSG_LEN);
        return false;
    }
    if (sb_value_eq(p, n, idx)) return true;
    verdict(v, SB_V_MISMATCH, MSG_VALUE);
    return false;
}

/* Text protocol: items of a get/multi-get must be requested keys, in order. */
static void verify_mc_items(const struct sb_workload *wl, const struct sb_mc_reply *r,
                            const uint64_t *keys, uint32_t nkeys, struct sb_verdict *v) {
    if (r->nitems == 0) {
        verdict(v, SB_V_MISS, NULL);
        return;
    }
    if (r->nitems > nkeys) {
        verdict(v, SB_V_MISMATCH, "more items than keys asked");
        return;
    }
    size_t off = 0;
    uint32_t j = 0;
    for (uint32_t i = 0; i < r->nitems; i++) {
        struct sb_mc_item it;
        long n = sb_mc_item_next(r->items + off, r->items_len - off, &it);
        if (n <= 0) {
            verdict(v, SB_V_MISMATCH, "malformed VALUE block");
            return;
        }
        off += (size_t)n;
        while (j < nkeys && !key_is(wl, it.key, it.klen, keys[j])) j++;
        if (j == nkeys) {
            verdict(v, SB_V_MISMATCH, "VALUE for a key not asked (or out of order)");
            return;
        }
        if (!data_ok(wl, it.data, it.dlen, keys[j], v)) return;
        j++;
    }
    verdict(v, SB_V_OK, NULL);
}

static long verify_text(const struct sb_workload *wl, const struct sb_opspec *spec, const char *buf,
                        size_t len, const uint64_t *keys, uint32_t nkeys, size_t *need,
                        struct sb_verdict *v) {
    struct sb_mc_reply r;
    enum sb_mc_kind kind = spec->op == SB_OP_SET ? SB_MC_STATUS : SB_MC_RETRIEVE;
    long n = sb_mc_scan(buf, len, kind, &r, need);
    if (n <= 0) return n;
    if (r.error) {
        v->kind = SB_V_ERROR;
        v->msg = r.line;
        v->msg_len = r.line_len;
    } else if (kind == SB_MC_STATUS) {
        bool ok = r.line_len == 6 && memcmp(r.line, "STORED", 6) == 0;
        verdict(v, ok ? SB_V_OK : SB_V_MISMATCH, "set: expected STORED");
    } else {
        verify_mc_items(wl, &r, keys, nkeys, v);
    }
    return n;
}

static void verify_meta_multi(const struct sb_workload *wl, const struct sb_meta_reply *r,
                              const uint64_t *keys, uint32_t nkeys, struct sb_verdict *v) {
    size_t off = 0;
    uint32_t j = 0, hits = 0;
    for (uint32_t i = 0; i < r->nitems; i++) {
        struct sb_meta_item it;
        long n = sb_meta_item_next(r->items + off, r->items_len - off, &it);
        if (n <= 0) {
            verdict(v, SB_V_MISMATCH, "malformed meta response");
            return;
        }
        off += (size_t)n;
        if (it.error) {
            v->kind = SB_V_ERROR;
            v->msg = it.line;
            v->msg_len = it.line_len;
            return;
        }
        const char *k;
        size_t kl;
        if (memcmp(it.code, "VA", 2) != 0 || !sb_meta_flag(&it, 'k', &k, &kl)) {
            verdict(v, SB_V_MISMATCH, "mg: expected VA with the key");
            return;
        }
        while (j < nkeys && !key_is(wl, k, kl, keys[j])) j++;
        if (j == nkeys) {
            verdict(v, SB_V_MISMATCH, "VA for a key not asked (or out of order)");
            return;
        }
        if (!data_ok(wl, it.data, it.dlen, keys[j], v)) return;
        j++;
        hits++;
    }
    verdict(v, hits ? SB_V_OK : SB_V_MISS, NULL);
}

static long verify_meta(const struct sb_workload *wl, const struct sb_opspec *spec, const char *buf,
                        size_t len, const uint64_t *keys, uint32_t nkeys, size_t *need,
                        struct sb_verdict *v) {
    struct sb_meta_reply r;
    bool multi = spec->op == SB_OP_MGET;
    long n = sb_meta_scan(buf, len, multi ? SB_META_UNTIL_MN : SB_META_ONE, &r, need);
    if (n <= 0) return n;
    if (multi) {
        verify_meta_multi(wl, &r, keys, nkeys, v);
        return n;
    }
    const struct sb_meta_item *it = &r.first;
    if (it->error) {
        v->kind = SB_V_ERROR;
        v->msg = it->line;
        v->msg_len = it->line_len;
    } else if (spec->op == SB_OP_SET) {
        verdict(v, memcmp(it->code, "HD", 2) == 0 ? SB_V_OK : SB_V_MISMATCH, "ms: expected HD");
    } else if (memcmp(it->code, "EN", 2) == 0) {
        verdict(v, SB_V_MISS, NULL);
    } else if (memcmp(it->code, "VA", 2) != 0) {
        verdict(v, SB_V_MISMATCH, "mg: expected VA or EN");
    } else if (data_ok(wl, it->data, it->dlen, keys[0], v)) {
        verdict(v, SB_V_OK, NULL);
    }
    return n;
}

long sb_op_verify(const struct sb_workload *wl, const struct sb_opspec *spec, const char *buf,
                  size_t len, const uint64_t *keys, uint32_t nkeys, size_t *need,
                  struct sb_verdict *v) {
    memset(v, 0, sizeof(*v));
    if (wl->proto == SB_PROTO_MC_TEXT) return verify_text(wl, spec, buf, len, keys, nkeys, need, v);
    if (wl->proto == SB_PROTO_MC_META) return verify_meta(wl, spec, buf, len, keys, nkeys, need, v);
    struct sb_resp_reply r;
    long n = sb_resp_scan(buf, len, &r, need);
    if (n > 0) verify_resp(wl, spec, &r, keys, nkeys, v);
    return n;
}
