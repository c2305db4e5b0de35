/*
 * repl/log.c - see log.h.
 *
 * Memory order: `tail` is advanced with a seq_cst fetch_add (the stripe
 * locks already order conflicting producers; seq_cst lets replication
 * order a tail read of its own against every later reservation, see
 * repl/feed.c; on x86 it is the same lock xadd). A record's body is written with plain stores, then its
 * position word with a release store; the consumer loads the position word
 * with acquire before reading the body. `released` is stored with release
 * by the consumer after it has read a range and loaded with acquire by a
 * producer before it overwrites that range.
 */
#include "repl/log.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/str.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HDR 16
/* The db word of a record: database in the low 24 bits, kind above, and
 * the top bit for a block kept out of the ring (see log.h, big records). */
#define DB_MASK 0xFFFFFFu
#define KIND_SHIFT 24
#define KIND_BITS 0x7Fu
#define OUT_OF_RING 0x80000000u
/* A block of at least this many bytes is copied out of the ring. */
static size_t big_block;

_Atomic bool log_active;

static char *ring;
static size_t ring_size, ring_mask;
static _Atomic uint64_t tail CACHE_ALIGNED;
static _Atomic uint64_t released CACHE_ALIGNED;

/* Readers: each its own position; `released` is the smallest of them (the
 * ring space producers may reuse), recomputed under rmu by the reader that
 * moves it, which also zeroes the space it frees. */
#define LOG_MAX_READERS 8
struct log_reader {
    _Atomic uint64_t pos;
    bool used;
    unsigned kinds; /* LOG_KINDS_* it reads */
};
/* The kinds some attached reader reads: nothing else is staged. */
static _Atomic unsigned wanted;
static struct log_reader readers[LOG_MAX_READERS];
static pthread_mutex_t rmu = PTHREAD_MUTEX_INITIALIZER;
static int nreaders;
static struct log_reader *implicit; /* the single-reader interface's */
/* Waking readers: a reader parks on `wake_seq` (futex) after announcing
 * itself in `nwaiting`; a producer that published bumps the sequence and
 * wakes when someone waits (no syscall otherwise). */
static _Atomic uint32_t wake_seq CACHE_ALIGNED;
static _Atomic int nwaiting;

/* Per-thread staging: encoded records, and sealed blocks awaiting publish. */
struct block {
    uint64_t pos;
    size_t off, len; /* range of staging bytes (records with headers) */
};

static _Atomic int default_kind; /* LOG_EFFECT */

static __thread struct {
    int kind;               /* -1 (0 in the initializer: see kind_now) */
    bool kind_set;
    struct buf bytes;       /* staged records, each with a 16-byte header */
    size_t sealed_upto;     /* bytes of `bytes` already sealed */
    int nstaged;
    struct block *blocks;
    size_t nblocks, capblocks;
    uint64_t seals;
    uint64_t sealed_end; /* end of the last sealed block */
    bool muted;          /* replaying: stage nothing */
    bool defer_wakes;    /* wake readers in log_flush_wakes, not in log_publish */
    bool wake_pending;
} st;

static inline size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

int log_setup(size_t ring_bytes) {
    size_t sz = 1;
    while (sz < ring_bytes) sz <<= 1;
    if (sz < 4096) sz = 4096;
    ring = xcalloc(1, sz);
    ring_size = sz;
    ring_mask = sz - 1;
    big_block = sz / 8;
    atomic_store(&tail, 8); /* position 0 means "nothing" */
    atomic_store(&released, 8);
    return 0;
}

void log_thread_cleanup(void) {
    buf_free(&st.bytes);
    xfree(st.blocks);
    st.blocks = NULL;
    st.nblocks = st.capblocks = 0;
    st.sealed_upto = 0;
    st.nstaged = 0;
}

static void free_out_of_ring(uint64_t from, uint64_t to);

void log_teardown(void) {
    atomic_store(&log_active, false);
    pthread_mutex_lock(&rmu);
    if (ring) free_out_of_ring(atomic_load(&released), atomic_load(&tail));
    for (int i = 0; i < LOG_MAX_READERS; i++) readers[i].used = false;
    nreaders = 0;
    implicit = NULL;
    pthread_mutex_unlock(&rmu);
    xfree(ring);
    ring = NULL;
    log_thread_cleanup();
}

/* ---- staging ---------------------------------------------------------------- */

void log_set_thread_kind(int kind) {
    st.kind = kind;
    st.kind_set = kind >= 0;
}

void log_set_default_kind(int kind) { atomic_store_explicit(&default_kind, kind, memory_order_relaxed); }

static inline uint32_t kind_now(void) {
    return (uint32_t)(st.kind_set ? st.kind : atomic_load_explicit(&default_kind, memory_order_relaxed));
}

static void put_header_kind(size_t at, int db, uint32_t kind) {
    /* pos is filled at publish; len at seal-time encoding end. */
    memset(st.bytes.data + at, 0, HDR);
    uint32_t d = ((uint32_t)db & DB_MASK) | (kind << KIND_SHIFT);
    memcpy(st.bytes.data + at + 12, &d, 4);
}


static void finish_record(size_t at) {
    uint32_t len = (uint32_t)(st.bytes.len - at - HDR);
    memcpy(st.bytes.data + at + 8, &len, 4);
    size_t padded = pad8(st.bytes.len);
    while (st.bytes.len < padded) buf_putc(&st.bytes, '\0');
    st.nstaged++;
}

/* "<c><n>\r\n" at w; returns the end. */
static inline char *put_count(char *w, char c, size_t n) {
    *w++ = c;
    if (n < 10) { /* the usual argument counts and short lengths */
        *w++ = (char)('0' + n);
    } else if (n < 100) {
        *w++ = (char)('0' + n / 10);
        *w++ = (char)('0' + n % 10);
    } else {
        w += ull_to_str(w, STR_LL_MAX, n);
    }
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

static void stage_kind(int db, uint32_t kind, int argc, const char *const *argv, const size_t *lens);

static inline bool wanted_kind(uint32_t kind) {
    return (atomic_load_explicit(&wanted, memory_order_relaxed) >> kind) & 1u;
}

void log_stage(int db, int argc, const char *const *argv, const size_t *lens) {
    if (!log_enabled() || UNLIKELY(st.muted)) return;
    uint32_t kind = kind_now();
    if (wanted_kind(kind)) stage_kind(db, kind, argc, argv, lens);
}

void log_stage_kind(int db, int kind, int argc, const char *const *argv, const size_t *lens) {
    if (!log_enabled() || UNLIKELY(st.muted) || !wanted_kind((uint32_t)kind)) return;
    stage_kind(db, (uint32_t)kind, argc, argv, lens);
}

static void stage_kind(int db, uint32_t kind, int argc, const char *const *argv, const size_t *lens) {
    /* One reservation, then the record written in place (on the path of
     * every write while the log has a reader). */
    size_t need = HDR + STR_LL_MAX + 3 + 8;
    for (int i = 0; i < argc; i++) need += lens[i] + STR_LL_MAX + 5;
    buf_reserve(&st.bytes, need);
    size_t at = st.bytes.len;
    put_header_kind(at, db, kind);
    char *w = put_count(st.bytes.data + at + HDR, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        w = put_count(w, '$', lens[i]);
        memcpy(w, argv[i], lens[i]);
        w += lens[i];
        *w++ = '\r';
        *w++ = '\n';
    }
    st.bytes.len = (size_t)(w - st.bytes.data);
    finish_record(at);
}

void log_stage_raw(int db, const char *p, size_t n) {
    if (!log_enabled() || n == 0 || UNLIKELY(st.muted) || !wanted_kind(LOG_RAW)) return;
    buf_reserve(&st.bytes, HDR);
    size_t at = st.bytes.len;
    st.bytes.len += HDR;
    put_header_kind(at, db, LOG_RAW);
    buf_append(&st.bytes, p, n);
    finish_record(at);
}

void log_stage_cstr(int db, ...) {
    if (!log_enabled()) return;
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    va_list ap;
    va_start(ap, db);
    const char *s;
    while (argc < 16 && (s = va_arg(ap, const char *)) != NULL) {
        argv[argc] = s;
        lens[argc] = strlen(s);
        argc++;
    }
    va_end(ap);
    log_stage(db, argc, argv, lens);
}

int log_staged(void) { return st.nstaged; }
uint64_t log_thread_seals(void) { return st.seals; }

uint64_t log_sealed_end(void) { return st.sealed_end; }

void log_set_muted(bool muted) { st.muted = muted; }

void log_discard(void) {
    st.bytes.len = st.sealed_upto;
    st.nstaged = 0;
}

void log_mark_get(struct log_mark *m) {
    m->bytes = st.bytes.len;
    m->n = st.nstaged;
}

void log_mark_rewind(const struct log_mark *m) {
    if (m->bytes < st.sealed_upto || m->bytes > st.bytes.len) return;
    st.bytes.len = m->bytes;
    st.nstaged = m->n;
}

/* Insert a MULTI record before the unsealed records and append EXEC. */
static void wrap_multi(int db) {
    size_t from = st.sealed_upto;
    size_t body = st.bytes.len - from;
    struct buf tmp = BUF_INIT;
    buf_append(&tmp, st.bytes.data + from, body);
    st.bytes.len = from;
    int n = st.nstaged;
    st.nstaged = 0;
    const char *multi[] = {"MULTI"};
    size_t l5[] = {5};
    log_stage(db, 1, multi, l5);
    buf_append(&st.bytes, tmp.data, tmp.len);
    const char *exec[] = {"EXEC"};
    size_t l4[] = {4};
    log_stage(db, 1, exec, l4);
    st.nstaged += n;
    buf_free(&tmp);
}

/* Replace the unsealed records by one record holding the address and size
 * of a heap copy of them (with their headers): a block bigger than the
 * ring could never be published, and a big one would hold ring space long.
 * Returns the new length of the unsealed part. */
static size_t move_out_of_ring(void) {
    size_t from = st.sealed_upto, n = st.bytes.len - from;
    char *copy = xmalloc(n);
    memcpy(copy, st.bytes.data + from, n);
    uint32_t first;
    memcpy(&first, copy + 12, 4);
    st.bytes.len = from;
    buf_reserve(&st.bytes, HDR + 16);
    st.bytes.len += HDR;
    put_header_kind(from, (int)(first & DB_MASK), ((first >> KIND_SHIFT) & KIND_BITS));
    uint32_t w;
    memcpy(&w, st.bytes.data + from + 12, 4);
    w |= OUT_OF_RING;
    memcpy(st.bytes.data + from + 12, &w, 4);
    uint64_t addr = (uint64_t)(uintptr_t)copy, size = n;
    buf_append(&st.bytes, &addr, 8);
    buf_append(&st.bytes, &size, 8);
    uint32_t len = 16;
    memcpy(st.bytes.data + from + 8, &len, 4);
    return st.bytes.len - from;
}

uint64_t log_seal(bool wrap) {
    if (st.nstaged == 0) return 0;
    if (wrap && st.nstaged > 1) {
        int32_t db;
        memcpy(&db, st.bytes.data + st.sealed_upto + 12, 4);
        wrap_multi(db);
    }
    size_t len = st.bytes.len - st.sealed_upto;
    if (UNLIKELY(len >= big_block)) len = move_out_of_ring();
    uint64_t pos = atomic_fetch_add_explicit(&tail, len, memory_order_seq_cst);
    if (st.nblocks == st.capblocks) {
        st.capblocks = st.capblocks ? st.capblocks * 2 : 4;
        st.blocks = xrealloc(st.blocks, st.capblocks * sizeof(*st.blocks));
    }
    st.blocks[st.nblocks++] = (struct block){pos, st.sealed_upto, len};
    st.seals++;
    st.sealed_end = pos + len;
    st.sealed_upto = st.bytes.len;
    st.nstaged = 0;
    return pos;
}

/* ---- publishing ----------------------------------------------------------- */

static void ring_write(uint64_t pos, const char *p, size_t n) {
    size_t at = pos & ring_mask;
    size_t first = MIN(n, ring_size - at);
    memcpy(ring + at, p, first);
    if (first < n) memcpy(ring, p + first, n - first);
}

static void ring_read(uint64_t pos, char *p, size_t n) {
    size_t at = pos & ring_mask;
    size_t first = MIN(n, ring_size - at);
    memcpy(p, ring + at, first);
    if (first < n) memcpy(p + first, ring, n - first);
}

static _Atomic uint64_t *pos_word(uint64_t pos) { return (_Atomic uint64_t *)(ring + (pos & ring_mask)); }

/* A block nobody will read: free its heap copy, if it was moved out of the
 * ring (then it is that one record). */
static void drop_block(const struct block *blk) {
    const char *rec = st.bytes.data + blk->off;
    uint32_t w;
    memcpy(&w, rec + 12, 4);
    if (w & OUT_OF_RING) {
        uint64_t addr;
        memcpy(&addr, rec + HDR, 8);
        xfree((void *)(uintptr_t)addr);
    }
}

void log_publish(void) {
    for (size_t b = 0; b < st.nblocks; b++) {
        struct block *blk = &st.blocks[b];
        /* Wait for the readers to free the space (never under a lock). A
         * block sealed before every reader attached (they start at the tail
         * of that moment, `released` is past it) is read by no one: it is
         * dropped, never written over records that are still unread. */
        uint64_t rel;
        while ((rel = atomic_load_explicit(&released, memory_order_acquire)) <= blk->pos &&
               blk->pos + blk->len - rel > ring_size)
            sched_yield();
        if (rel > blk->pos) {
            drop_block(blk);
            continue;
        }
        /* Write each record: body first, its position word last. */
        size_t off = 0;
        while (off < blk->len) {
            const char *rec = st.bytes.data + blk->off + off;
            uint32_t len;
            memcpy(&len, rec + 8, 4);
            size_t total = pad8(HDR + len);
            uint64_t rpos = blk->pos + off;
            ring_write(rpos + 8, rec + 8, total - 8);
            atomic_store_explicit(pos_word(rpos), rpos, memory_order_release);
            off += total;
        }
    }
    bool published = st.nblocks > 0;
    st.nblocks = 0;
    st.bytes.len = 0;
    st.sealed_upto = 0;
    if (published) {
        /* Pairs with the reader's increment of nwaiting before it looks for
         * records (Dekker): either it sees our records or we see it waiting. */
        atomic_thread_fence(memory_order_seq_cst);
        if (UNLIKELY(atomic_load_explicit(&nwaiting, memory_order_relaxed) > 0)) {
            if (st.defer_wakes) {
                st.wake_pending = true; /* the reader waits: wake it once the batch is done */
            } else {
                atomic_fetch_add_explicit(&wake_seq, 1, memory_order_release);
                syscall(SYS_futex, &wake_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
            }
        }
    }
}

void log_defer_wakes(bool on) {
    st.defer_wakes = on;
    if (!on) log_flush_wakes();
}

void log_flush_wakes(void) {
    if (LIKELY(!st.wake_pending)) return;
    st.wake_pending = false;
    /* It was waiting when we published; it may have woken since (its
     * timeout): a spare wake-up costs one futex call. */
    atomic_fetch_add_explicit(&wake_seq, 1, memory_order_release);
    syscall(SYS_futex, &wake_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* ---- readers ---------------------------------------------------------------- */

/* Zero [from, to) of the ring: no old payload byte pattern can ever be
 * mistaken for a committed position word on a later lap. Word by word with
 * relaxed atomic stores: another reader may be looking at a position word
 * of the next lap in the same place (it sees the old word or zero, never
 * its own position). Positions and the ring size are multiples of 8. */
static void ring_zero(uint64_t from, uint64_t to) {
    for (uint64_t p = from; p < to; p += 8) atomic_store_explicit(pos_word(p), 0, memory_order_relaxed);
}

/* Free the heap copies of the out-of-ring blocks committed in [from, to)
 * (every reader is past them). [rmu held, or no reader left] */
static void free_out_of_ring(uint64_t from, uint64_t to) {
    uint64_t p = from;
    while (p < to && atomic_load_explicit(pos_word(p), memory_order_acquire) == p) {
        char hdr[8];
        ring_read(p + 8, hdr, 8);
        uint32_t len, w;
        memcpy(&len, hdr, 4);
        memcpy(&w, hdr + 4, 4);
        if (w & OUT_OF_RING) {
            uint64_t addr;
            ring_read(p + HDR, (char *)&addr, 8);
            xfree((void *)(uintptr_t)addr);
        }
        p += pad8(HDR + len);
    }
}

/* Recompute `released` as the smallest reader position. [rmu held] */
static void release_min_locked(void) {
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < LOG_MAX_READERS; i++)
        if (readers[i].used) min = MIN(min, atomic_load_explicit(&readers[i].pos, memory_order_acquire));
    if (min == UINT64_MAX) return;
    uint64_t from = atomic_load_explicit(&released, memory_order_relaxed);
    if (min <= from) return;
    free_out_of_ring(from, min);
    ring_zero(from, min);
    atomic_store_explicit(&released, min, memory_order_release);
}

static void recompute_wanted_locked(void) {
    unsigned w = 0;
    for (int i = 0; i < LOG_MAX_READERS; i++)
        if (readers[i].used) w |= readers[i].kinds;
    atomic_store(&wanted, w);
}

struct log_reader *log_reader_attach(void) { return log_reader_attach_kinds(LOG_KINDS_PERSIST); }

struct log_reader *log_reader_attach_kinds(unsigned kinds) {
    pthread_mutex_lock(&rmu);
    struct log_reader *r = NULL;
    for (int i = 0; i < LOG_MAX_READERS && r == NULL; i++)
        if (!readers[i].used) r = &readers[i];
    ASSERT(r != NULL);
    r->used = true;
    r->kinds = kinds;
    recompute_wanted_locked();
    uint64_t pos = atomic_load(&tail);
    atomic_store(&r->pos, pos);
    if (nreaders++ == 0) atomic_store(&released, pos);
    atomic_store(&log_active, true);
    pthread_mutex_unlock(&rmu);
    return r;
}

void log_reader_detach(struct log_reader **rp) {
    struct log_reader *r = *rp;
    if (r == NULL) return;
    pthread_mutex_lock(&rmu);
    r->used = false;
    recompute_wanted_locked();
    if (--nreaders == 0) {
        atomic_store(&log_active, false);
        /* Nobody reads what is left: free it, and let producers that
         * sealed before staging stopped publish without waiting. */
        uint64_t t = atomic_load(&tail);
        free_out_of_ring(atomic_load(&released), t);
        ring_zero(atomic_load(&released), t < atomic_load(&released) + ring_size ? t : atomic_load(&released) + ring_size);
        atomic_store_explicit(&released, t, memory_order_release);
    } else {
        release_min_locked();
    }
    pthread_mutex_unlock(&rmu);
    *rp = NULL;
}

uint64_t log_reader_pos(const struct log_reader *r) { return atomic_load_explicit(&r->pos, memory_order_relaxed); }

static int consume_from(uint64_t *pos, uint64_t end, int max, log_record_fn fn, void *arg);

int log_read_upto(struct log_reader *r, uint64_t end, int max, log_record_fn fn, void *arg) {
    uint64_t pos = atomic_load_explicit(&r->pos, memory_order_relaxed);
    int n = consume_from(&pos, end, max, fn, arg);
    if (n > 0) {
        atomic_store_explicit(&r->pos, pos, memory_order_release);
        pthread_mutex_lock(&rmu);
        release_min_locked();
        pthread_mutex_unlock(&rmu);
    }
    return n;
}

int log_read(struct log_reader *r, int max, log_record_fn fn, void *arg) {
    return log_read_upto(r, UINT64_MAX, max, fn, arg);
}

static bool committed_at(uint64_t p) { return atomic_load_explicit(pos_word(p), memory_order_acquire) == p; }

uint32_t log_wake_seq(void) { return atomic_load_explicit(&wake_seq, memory_order_acquire); }

bool log_reader_wait_seq(struct log_reader *r, uint32_t seq, int timeout_ms) {
    uint64_t p = r ? atomic_load_explicit(&r->pos, memory_order_relaxed) : 0;
    if (r && committed_at(p)) return true;
    atomic_fetch_add_explicit(&nwaiting, 1, memory_order_seq_cst);
    bool ready = r && committed_at(p);
    if (!ready) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        syscall(SYS_futex, &wake_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        ready = r && committed_at(p);
    }
    atomic_fetch_sub_explicit(&nwaiting, 1, memory_order_relaxed);
    return ready;
}

bool log_reader_wait(struct log_reader *r, int timeout_ms) {
    return log_reader_wait_seq(r, log_wake_seq(), timeout_ms);
}

/* ---- the single-reader interface ------------------------------------------- */

uint64_t log_attach(void) {
    if (implicit == NULL) implicit = log_reader_attach();
    return log_reader_pos(implicit);
}

void log_detach(void) { log_reader_detach(&implicit); }

int log_consume(uint64_t *pos, int max, log_record_fn fn, void *arg) {
    return consume_from(pos, UINT64_MAX, max, fn, arg);
}

void log_release(uint64_t pos) {
    if (implicit == NULL) return;
    atomic_store_explicit(&implicit->pos, pos, memory_order_release);
    pthread_mutex_lock(&rmu);
    release_min_locked();
    pthread_mutex_unlock(&rmu);
}

/* Deliver the records of one out-of-ring block (its own records with
 * headers, copied at seal time). */
static void deliver_block(const struct log_record *outer, const char *blk, size_t n, log_record_ex_fn fn,
                          void *arg) {
    size_t off = 0;
    while (off < n) {
        uint32_t len, w;
        memcpy(&len, blk + off + 8, 4);
        memcpy(&w, blk + off + 12, 4);
        size_t span = pad8(HDR + len);
        struct log_record rec = {outer->pos, off + span >= n ? outer->next : outer->pos, (int)(w & DB_MASK),
                                 (int)((w >> KIND_SHIFT) & KIND_BITS), blk + off + HDR, len};
        fn(&rec, arg);
        off += span;
    }
}

/* Deliver committed records from *pos on (at most max ring records),
 * stopping before `end`. */
static int consume_ex(uint64_t *pos, uint64_t end, int max, log_record_ex_fn fn, void *arg) {
    int n = 0;
    struct buf payload = BUF_INIT;
    while (n < max) {
        uint64_t p = *pos;
        if (p >= end) break;
        if (atomic_load_explicit(pos_word(p), memory_order_acquire) != p) break;
        char hdr[8];
        ring_read(p + 8, hdr, 8);
        uint32_t len, w;
        memcpy(&len, hdr, 4);
        memcpy(&w, hdr + 4, 4);
        struct log_record rec = {p, p + pad8(HDR + len), (int)(w & DB_MASK), (int)((w >> KIND_SHIFT) & KIND_BITS),
                                 NULL, len};
        size_t at = (p + HDR) & ring_mask;
        if (at + len <= ring_size) {
            rec.payload = ring + at; /* contiguous: no copy */
        } else {
            buf_clear(&payload);
            buf_reserve(&payload, len + 1);
            ring_read(p + HDR, payload.data, len);
            rec.payload = payload.data;
        }
        if (w & OUT_OF_RING) {
            uint64_t addr, size;
            memcpy(&addr, rec.payload, 8);
            memcpy(&size, rec.payload + 8, 8);
            deliver_block(&rec, (const char *)(uintptr_t)addr, (size_t)size, fn, arg);
        } else {
            fn(&rec, arg);
        }
        *pos = rec.next;
        n++;
    }
    buf_free(&payload);
    return n;
}

/* The persisted view (log_read, log_consume): EFFECT and LOCAL records. */
struct plain_ctx {
    log_record_fn fn;
    void *arg;
};

static void plain_record(const struct log_record *rec, void *arg) {
    struct plain_ctx *c = arg;
    if (rec->kind == LOG_EFFECT || rec->kind == LOG_LOCAL) c->fn(rec->db, rec->payload, rec->len, c->arg);
}

static int consume_from(uint64_t *pos, uint64_t end, int max, log_record_fn fn, void *arg) {
    struct plain_ctx c = {fn, arg};
    return consume_ex(pos, end, max, plain_record, &c);
}

int log_read_ex(struct log_reader *r, int max, log_record_ex_fn fn, void *arg) {
    uint64_t pos = atomic_load_explicit(&r->pos, memory_order_relaxed);
    int n = consume_ex(&pos, UINT64_MAX, max, fn, arg);
    if (n > 0) {
        atomic_store_explicit(&r->pos, pos, memory_order_release);
        pthread_mutex_lock(&rmu);
        release_min_locked();
        pthread_mutex_unlock(&rmu);
    }
    return n;
}

uint64_t log_tail(void) { return atomic_load(&tail); }

void log_wake_readers(void) {
    atomic_fetch_add_explicit(&wake_seq, 1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&nwaiting, memory_order_relaxed) > 0)
        syscall(SYS_futex, &wake_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}
