/*
 * persist/snapshot.c - fork-less snapshots (design in snapshot.h).
 *
 * Chunk: the serialized keys of one slot, all databases, as segments
 *
 *   chunk { next, keys, nseg, seg[] = {db, end offset, keys}, buf }
 *
 * The writer of the file (snapshot thread) emits SELECTDB (and, the first
 * time a database shows up, RESIZEDB with its size at about the cut)
 * whenever a segment's database differs from the current one, then the
 * segment's bytes. Order of chunks in the file does not matter: every key
 * record stands alone.
 *
 * Hand-off: `ready` is a Treiber stack (push by CAS from any thread holding
 * the stripe, pop-all by exchange from the snapshot thread). A pushed chunk
 * is owned by the snapshot thread from then on.
 */
#include "persist/snapshot.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "persist/aof_emit.h"
#include "persist/rdb.h"
#include "repl/log.h"
#include "store/entry.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct seg {
    int db;
    size_t end;
    uint64_t keys;
};

/* A big string value referenced, not copied, under the lock: its bytes
 * (compressed if so configured) go to the file after unlocking, right
 * after buf[0..at). Blobs are never changed while shared (store.c copies
 * a blob whose refcount is above one before writing to it). */
struct bigval {
    size_t at;
    struct blob *blob;
};

struct chunk {
    struct chunk *next;
    uint64_t keys, skipped;
    int nseg, capseg;
    struct seg *seg;
    int nbig, capbig;
    struct bigval *big;
    struct buf buf;
};

/* Strings of at least this size are referenced instead of copied. */
#define BIG_STRING (64 * 1024)

struct snapshot {
    struct snapshot_opts o;
    struct persist_sink *sink;
    struct rdb_writer w;
    struct store_view *view;
    struct rdb_save_opts so;
    _Atomic(struct chunk *) ready;
    _Atomic bool cancel;
    _Atomic uint64_t keys_done;
    uint64_t keys_total;
    int cur_db;
    uint64_t unsynced; /* bytes written since the last autosync */
    uint8_t *db_seen; /* per database: SELECTDB+RESIZEDB written once */
    struct snapshot_result res;
    snapshot_done_fn done;
    void *done_arg;
    pthread_t thread;
    bool threaded;
};

static _Atomic int running;
static long long no_dirty(void) { return 0; }
static struct snapshot_env env = {no_dirty, log_tail};

void snapshot_set_env(const struct snapshot_env *e) {
    env = *e;
    if (env.log_pos == NULL) env.log_pos = log_tail;
    if (env.dirty == NULL) env.dirty = no_dirty;
}

bool snapshot_running(void) { return atomic_load(&running) > 0; }

static void chunk_free(struct chunk *c);

/* ---- serializing a slot [stripe-locked] -------------------------------------------------- */

struct put_ctx {
    struct chunk *c;
    const struct rdb_save_opts *so;
    uint64_t keys, skipped;
    bool aof; /* commands instead of RDB records */
};

static void put_key(struct entry *e, void *arg) {
    struct put_ctx *p = arg;
    struct chunk *c = p->c;
    if (p->aof) {
        if (aof_put_entry(&c->buf, e))
            p->keys++;
        else
            p->skipped++;
        return;
    }
    if (entry_type(e) == TYPE_STRING && entry_enc(e) == ENC_BLOB) {
        struct blob *b = entry_obj(e);
        if (b->len >= BIG_STRING && rdb_put_entry_head(&c->buf, e, p->so)) {
            if (c->nbig == c->capbig) {
                c->capbig = c->capbig ? c->capbig * 2 : 4;
                c->big = xrealloc(c->big, (size_t)c->capbig * sizeof(*c->big));
            }
            blob_ref(b);
            c->big[c->nbig++] = (struct bigval){c->buf.len, b};
            p->keys++;
            return;
        }
    }
    if (rdb_put_entry(&c->buf, e, p->so))
        p->keys++;
    else
        p->skipped++;
}

static void serialize_slot(struct store_view *v, uint16_t slot, void *arg) {
    struct snapshot *s = arg;
    struct chunk *c = xcalloc(1, sizeof(*c));
    struct put_ctx p = {c, &s->so, 0, 0, s->o.aof_format};
    int ndbs = store_view_databases(v);
    for (int db = 0; db < ndbs; db++) {
        p.keys = 0;
        store_view_foreach(v, slot, db, put_key, &p);
        if (p.keys == 0) continue;
        if (c->nseg == c->capseg) {
            c->capseg = c->capseg ? c->capseg * 2 : 2;
            c->seg = xrealloc(c->seg, (size_t)c->capseg * sizeof(*c->seg));
        }
        c->seg[c->nseg++] = (struct seg){db, c->buf.len, p.keys};
        c->keys += p.keys;
    }
    c->skipped = p.skipped;
    if (c->keys == 0 && c->skipped == 0) { /* empty at the cut: nothing to hand over */
        chunk_free(c);
        return;
    }
    struct chunk *head = atomic_load_explicit(&s->ready, memory_order_relaxed);
    do {
        c->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&s->ready, &head, c, memory_order_release,
                                                    memory_order_relaxed));
}

/* ---- writing [no locks held] ------------------------------------------------------------------- */

static void chunk_free(struct chunk *c) {
    for (int i = 0; i < c->nbig; i++) blob_unref(c->big[i].blob);
    buf_free(&c->buf);
    xfree(c->seg);
    xfree(c->big);
    xfree(c);
}

static void write_buf(struct snapshot *s, const void *p, size_t n) {
    if (n == 0) return;
    /* An AOF-format base has no checksum to keep. */
    int rc = s->o.aof_format ? sink_write(s->sink, p, n) : rdb_write(&s->w, p, n);
    if (rc == 0 && s->o.autosync_bytes && (s->unsynced += n) >= s->o.autosync_bytes) {
        s->unsynced = 0;
        rc = sink_sync(s->sink);
    }
    if (rc != 0 && s->res.rc == 0) {
        s->res.rc = ERR_IO;
        s->res.err = s->sink->err;
    }
}

/* Sleep `us` in slices, returning early when cancelled. */
static bool cancelled(struct snapshot *s) {
    return atomic_load_explicit(&s->cancel, memory_order_relaxed) ||
           (s->o.cancel && atomic_load_explicit(s->o.cancel, memory_order_relaxed));
}

static long long save_delay(const struct snapshot *s) {
    return s->o.key_save_delay_live ? atomic_load_explicit(s->o.key_save_delay_live, memory_order_relaxed)
                                    : s->o.key_save_delay_us;
}

static void delay(struct snapshot *s, long long us) {
    while (us > 0 && !cancelled(s) && save_delay(s) > 0) {
        long long step = us < 10000 ? us : 10000;
        struct timespec ts = {0, (long)step * 1000};
        nanosleep(&ts, NULL);
        us -= step;
    }
}

/* buf[from..to) with the big values referenced in that range. */
static void write_range(struct snapshot *s, struct chunk *c, size_t from, size_t to, int *nextbig) {
    while (*nextbig < c->nbig && c->big[*nextbig].at <= to) {
        const struct bigval *bv = &c->big[*nextbig];
        write_buf(s, c->buf.data + from, bv->at - from);
        struct buf v = BUF_INIT;
        rdb_put_string(&v, bv->blob->data, bv->blob->len, s->o.compress);
        write_buf(s, v.data, v.len);
        buf_free(&v);
        from = bv->at;
        (*nextbig)++;
        if (bv->at == to) break;
    }
    write_buf(s, c->buf.data + from, to - from);
}

static void write_chunk(struct snapshot *s, struct chunk *c) {
    size_t off = 0;
    int nextbig = 0;
    for (int i = 0; i < c->nseg && s->res.rc == 0; i++) {
        const struct seg *g = &c->seg[i];
        if (s->o.aof_format && g->db != s->cur_db) {
            struct buf h = BUF_INIT;
            aof_put_select(&h, g->db);
            write_buf(s, h.data, h.len);
            buf_free(&h);
            s->cur_db = g->db;
        } else if (!s->o.aof_format && (g->db != s->cur_db || !s->db_seen[g->db])) {
            struct buf h = BUF_INIT;
            rdb_put_byte(&h, RDB_OPCODE_SELECTDB);
            rdb_put_len(&h, (uint64_t)g->db);
            if (!s->db_seen[g->db]) {
                uint64_t keys, vol;
                store_view_db_counts(s->view, g->db, &keys, &vol);
                rdb_put_byte(&h, RDB_OPCODE_RESIZEDB);
                rdb_put_len(&h, keys);
                rdb_put_len(&h, vol);
                s->db_seen[g->db] = 1;
            }
            write_buf(s, h.data, h.len);
            buf_free(&h);
            s->cur_db = g->db;
        }
        write_range(s, c, off, g->end, &nextbig);
        off = g->end;
    }
    s->res.keys += c->keys;
    s->res.skipped += c->skipped;
    atomic_store_explicit(&s->keys_done, s->res.keys, memory_order_relaxed);
    if (s->o.keys_done) atomic_store_explicit(s->o.keys_done, s->res.keys, memory_order_relaxed);
    long long d = save_delay(s);
    if (d > 0) delay(s, d * (long long)c->keys);
}

/* Write (or, after a failure or cancel, drop) what writers handed over. */
static void drain(struct snapshot *s) {
    struct chunk *c = atomic_exchange_explicit(&s->ready, NULL, memory_order_acquire);
    struct chunk *rev = NULL;
    while (c) { /* oldest first */
        struct chunk *n = c->next;
        c->next = rev;
        rev = c;
        c = n;
    }
    while (rev) {
        struct chunk *n = rev->next;
        if (s->res.rc == 0 && !cancelled(s)) write_chunk(s, rev);
        chunk_free(rev);
        rev = n;
    }
}

static void at_cut(void *arg) {
    struct snapshot *s = arg;
    s->res.cut_offset = env.log_pos();
    s->res.dirty_at_cut = env.dirty();
}

static void header(struct snapshot *s) {
    struct buf h = BUF_INIT;
    if (s->o.aof_format) {
        if (s->o.aof_head) write_buf(s, s->o.aof_head->data, s->o.aof_head->len);
        return;
    }
    rdb_put_magic(&h);
    rdb_put_aux(&h, "redis-ver", "7.0.15");
    rdb_put_aux_ll(&h, "redis-bits", (long long)(sizeof(void *) * 8));
    rdb_put_aux_ll(&h, "ctime", (long long)time(NULL));
    rdb_put_aux_ll(&h, "used-mem", (long long)alloc_used_bytes());
    if (s->o.aux) s->o.aux(&h, s->res.cut_offset, s->o.aux_arg);
    rdb_put_aux_ll(&h, "aof-base", s->o.aof_base ? 1 : 0);
    rdb_put_preamble(&h);
    write_buf(s, h.data, h.len);
    buf_free(&h);
}

static void body(struct snapshot *s) {
    header(s);
    for (unsigned slot = 0; slot < STORE_SLOTS; slot++) {
        if (cancelled(s) || s->res.rc != 0) break;
        store_view_visit(s->view, (uint16_t)slot);
        drain(s);
    }
    /* Slots are all done unless we stopped early: then closing the view
     * stops writers from serializing, and what they pushed is dropped. */
    store_view_close(&s->view);
    drain(s);
    if (cancelled(s) && s->res.rc == 0) s->res.rc = ERR_AGAIN;
    if (s->res.rc == 0 && !s->o.aof_format && rdb_write_eof(&s->w) != 0) {
        s->res.rc = ERR_IO;
        s->res.err = s->sink->err;
    }
    if (s->res.rc == 0 && sink_sync(s->sink) != 0) {
        s->res.rc = ERR_IO;
        s->res.err = s->sink->err;
    }
    s->res.bytes = s->sink->bytes;
    int rc = sink_close(s->sink);
    s->sink = NULL;
    if (rc != 0 && s->res.rc == 0) {
        s->res.rc = ERR_IO;
        s->res.err = errno;
    }
    s->res.end_ms = time_ms();
    xfree(s->db_seen);
    s->db_seen = NULL;
}

static struct snapshot *prepare(struct persist_sink *sink, const struct snapshot_opts *o) {
    struct snapshot *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->sink = sink;
    s->w.sink = sink;
    s->w.checksum = o->checksum;
    s->cur_db = -1;
    rdb_save_opts_current(&s->so, o->compress);
    s->res.start_ms = time_ms();
    s->view = store_view_open(serialize_slot, s, at_cut, s);
    if (s->view == NULL) {
        xfree(s);
        return NULL;
    }
    atomic_fetch_add(&running, 1);
    s->db_seen = xcalloc((size_t)store_view_databases(s->view), 1);
    for (int db = 0; db < store_view_databases(s->view); db++) {
        uint64_t k, v;
        store_view_db_counts(s->view, db, &k, &v);
        s->keys_total += k;
    }
    if (o->keys_total) atomic_store(o->keys_total, s->keys_total);
    if (o->keys_done) atomic_store(o->keys_done, 0);
    return s;
}

static void *thread_main(void *arg) {
    struct snapshot *s = arg;
    alloc_thread_init();
    /* Background work: the workers serving clients come first when the
     * cores are busy (a lower priority for this thread only). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) { /* best effort */
    }
    body(s);
    atomic_fetch_sub(&running, 1);
    if (s->done) s->done(&s->res, s->done_arg);
    store_thread_cleanup();
    return NULL;
}

int snapshot_start(struct persist_sink *sink, const struct snapshot_opts *o, snapshot_done_fn done, void *arg,
                   struct snapshot **out) {
    struct snapshot *s = prepare(sink, o);
    if (s == NULL) return ERR_AGAIN;
    s->done = done;
    s->done_arg = arg;
    s->threaded = true;
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        /* No thread: do it here rather than fail half-way. */
        s->threaded = false;
        body(s);
        atomic_fetch_sub(&running, 1);
        if (done) done(&s->res, arg);
    }
    *out = s;
    return 0;
}

int snapshot_run(struct persist_sink *sink, const struct snapshot_opts *o, struct snapshot_result *res) {
    struct snapshot *s = prepare(sink, o);
    if (s == NULL) return ERR_AGAIN;
    body(s);
    atomic_fetch_sub(&running, 1);
    *res = s->res;
    xfree(s);
    return res->rc;
}

void snapshot_cancel(struct snapshot *s) { atomic_store(&s->cancel, true); }

void snapshot_wait(struct snapshot **sp) {
    struct snapshot *s = *sp;
    if (s == NULL) return;
    if (s->threaded) pthread_join(s->thread, NULL);
    xfree(s);
    *sp = NULL;
}

uint64_t snapshot_cut(const struct snapshot *s) { return s->res.cut_offset; }

void snapshot_progress(struct snapshot *s, uint64_t *done, uint64_t *total) {
    *done = atomic_load_explicit(&s->keys_done, memory_order_relaxed);
    *total = s->keys_total;
}
