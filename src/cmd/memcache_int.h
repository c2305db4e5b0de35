/*
 * cmd/memcache_int.h - what the files of the memcached engine share
 * (memcache.c: driver, items and storage; memcache_text.c: the classic text
 * commands; memcache_meta.c: mg ms md ma mn me; memcache_bin.c: the binary
 * protocol; memcache_stats.c: statistics and watchers). Nothing outside
 * src/cmd/memcache*.c includes it.
 *
 * Conventions: functions named mc_*_locked run [stripe-locked] on the
 * stripe of their key, inside store_run; everything else runs on the
 * connection's worker with no lock held. Replies go to c->out.
 */
#ifndef STASH_CMD_MEMCACHE_INT_H
#define STASH_CMD_MEMCACHE_INT_H

#include "cmd/cmd.h"
#include "cmd/memcache.h"
#include "proto/mc.h"
#include "proto/mcbin.h"

#include <stdatomic.h>

extern struct memcache_settings mc_settings;

/* Settings that commands change at run time (verbosity, stats detail,
 * cache_memlimit, the tuning commands, CONFIG SET) while other workers
 * read them: relaxed atomic accesses. Everything else is fixed before the
 * workers start. */
#define MC_LOAD(f)                                                         \
    ({                                                                     \
        __typeof__(mc_settings.f) mc_v_;                                   \
        __atomic_load(&mc_settings.f, &mc_v_, __ATOMIC_RELAXED);           \
        mc_v_;                                                             \
    })
#define MC_STORE(f, val)                                                   \
    do {                                                                   \
        __typeof__(mc_settings.f) mc_v_ = (val);                           \
        __atomic_store(&mc_settings.f, &mc_v_, __ATOMIC_RELAXED);          \
    } while (0)

/* The memcached version Stash answers as ("version", stats, binary VERSION):
 * clients pick protocol features by it. */
#define MEMCACHE_VERSION "1.6.18"

/* ---- connections ------------------------------------------------------------ */

enum { MCP_NEGOTIATE = 0, MCP_ASCII = 1, MCP_BINARY = 2 };

struct mc_conn {
    uint8_t proto;     /* MCP_*: fixed by the first byte unless -B says */
    bool watcher;      /* became a log watcher: input is ignored */
    bool udp;          /* a UDP request's pseudo-connection */
    uint16_t watch_mask;
    uint64_t swallow;  /* bytes of a refused value still to discard */
    size_t need;       /* total bytes of the pending request, when known */
    bool authed;       /* logged in (-Y text login, -S SASL): see memcache_auth.c */
    bool sasl_started; /* a SASL_AUTH without data awaits its SASL_STEP */
};

static inline struct mc_conn *mc_conn(struct client *c) { return c->pstate; }

/* On a UDP pseudo-connection, end a response here (a UDP message); `key`:
 * the response of one key of a multiget. No-op elsewhere. */
void mc_udp_mark(struct client *c, bool key);
static inline void mc_udp_key_done(struct client *c) {
    if (UNLIKELY(mc_conn(c)->udp)) mc_udp_mark(c, true);
}

/* ---- authentication (memcache_auth.c) ---------------------------------------- */

/* Must text connections log in (-Y)? Is SASL on (-S)? */
bool mc_auth_text_required(void);
bool mc_auth_sasl_enabled(void);
/* The -Y login of a text connection that has not logged in yet (the
 * request at p[0, n), as mc_text_request). */
size_t mc_auth_text(struct client *c, struct mc_conn *m, const char *p, size_t n);
/* SASL_LIST_MECHS; SASL_AUTH / SASL_STEP with the mechanism (the key) and
 * the data (the value). */
void mc_sasl_list_mechs(struct client *c, struct mc_conn *m, const struct mcbin_header *h);
void mc_sasl_auth(struct client *c, struct mc_conn *m, const struct mcbin_header *h, const char *mech, size_t mlen,
                  const char *data, size_t dlen);

/* Handle one request at p[0, n): the bytes consumed, or 0 when it is not
 * complete yet (nothing was done; it is handed again with more bytes). */
size_t mc_text_request(struct client *c, struct mc_conn *m, const char *p, size_t n);
size_t mc_bin_request(struct client *c, struct mc_conn *m, const unsigned char *p, size_t n);
/* The meta commands (memcache_meta.c); `size` is the line's size, `avail`
 * the bytes available from the line's start (ms reads its value after it). */
size_t mc_meta_command(struct client *c, struct mc_conn *m, struct mc_tokens *t, const char *line, size_t size,
                       size_t avail);

/* ---- time and items ------------------------------------------------------------ */

#define MC_EXP_NONE (-1) /* never expires */
#define MC_EXP_GONE 0    /* already expired: stored as a deletion */

/* memcached's exptime rules -> absolute Unix ms: 0 never, negative already
 * expired, above 30 days an absolute Unix time (in the past: expired). */
int64_t mc_expire_ms(int64_t exptime);
/* Seconds left before e expires (-1: never), rounded up as memcached's
 * one-second clock reports them. */
int64_t mc_ttl_left(const struct entry *e);
/* Seconds since e was last accessed (LRU clock). */
uint64_t mc_idle_s(const struct entry *e);

/* The live memcached item under k, or NULL: absent, expired (deleted here
 * and counted), or not a string (other Redis types are invisible to
 * memcached reads). `bump`: an access for LRU. On success *ref locates it. */
struct entry *mc_find_locked(const struct store_key *k, struct store_ref *ref, bool bump);
/* Any live entry under k, whatever its type (for writes). */
struct entry *mc_find_any_locked(const struct store_key *k, struct store_ref *ref);

/* A fresh CAS value (0 with -C). Per-thread generators: thread number << 48
 * | counter, so values are unique without a shared counter. [any] */
uint64_t mc_cas_next(void);
/* The item's CAS, assigning one (adding its metadata block) when it has
 * none; 0 with -C. May move the entry (ref stays valid). */
uint64_t mc_item_cas_locked(struct store_ref *ref);
/* The item's CAS without assigning (0: none). */
static inline uint64_t mc_cas_peek(const struct entry *e) { return entry_mc_get(e).cas; }
/* Does a client's CAS equal the item's? An item without a CAS yet matches
 * nothing (nobody can know it), except 0 when CAS is disabled (-C), where
 * every item's CAS reads 0 as in memcached. */
static inline bool mc_cas_matches(const struct entry *e, uint64_t req) {
    if (!mc_settings.use_cas) return req == 0;
    uint64_t cas = mc_cas_peek(e);
    return cas != 0 && cas == req;
}

/* memcached's item size rule (item_size_ok): header + key + 1 + flags +
 * value + "\r\n" + CAS <= item_size_max. */
bool mc_size_ok(size_t klen, uint32_t flags, uint64_t vlen);
/* memcached's size of the item (header + key + 1 + flags + value + "\r\n"
 * + CAS), as stats, me and metadump report it. */
size_t mc_item_size(const struct entry *e);
/* Length of a string item's value. */
size_t mc_value_len(const struct entry *e);
/* Append the value's bytes (and "\r\n" when crlf) to ob: small values are
 * copied, big ones referenced (sent after the lock is released). */
void mc_w_data(struct obuf *ob, const struct entry *e, bool crlf);

/* Bytes the server held at start: -m budgets the memory above it. */
size_t mc_baseline_bytes(void);
/* May a store proceed under -m? Evicts first (allkeys-lru); false when the
 * memory is exhausted and nothing can be evicted (-M). [no locks] */
bool mc_memory_ok(void);

/* ---- storing (memcached's do_store_item) ------------------------------------------ */

enum mc_mode { MC_ADD = 1, MC_SET = 2, MC_REPLACE = 3, MC_APPEND = 4, MC_PREPEND = 5, MC_CAS = 6 };
/* Results in memcached's order (its watch lines name them so). */
enum mc_result { MC_NOT_STORED = 0, MC_STORED = 1, MC_EXISTS = 2, MC_NOT_FOUND = 3, MC_TOO_LARGE = 4,
                 MC_NO_MEMORY = 5 };

struct mc_store {
    int mode;            /* enum mc_mode */
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
    uint32_t flags;
    int64_t expire;      /* from mc_expire_ms */
    uint64_t cas;        /* compare with (0: none) */
    bool stale_ok;       /* ms I: an older CAS stores, marked stale */
    bool want_cas;       /* assign the CAS now (reported to the client) */
    bool key_binary;     /* for watch lines */
    /* out */
    int result;          /* enum mc_result */
    uint64_t new_cas;
};

/* Store as memcached does, with statistics, WATCH signals, keyspace events
 * and effects for the log. Takes its own locks. */
void mc_store_item(struct client *c, struct mc_store *s);

enum mc_delta_result { MC_DELTA_OK, MC_DELTA_NON_NUMERIC, MC_DELTA_NOT_FOUND, MC_DELTA_CAS_MISMATCH };

struct mc_delta {
    const char *key;
    size_t klen;
    bool incr;
    uint64_t delta;
    uint64_t cas;        /* compare with (0: none) */
    bool want_cas;
    bool vivify;         /* create with `initial` on a miss (binary incr) */
    uint64_t initial;
    int64_t vivify_expire;
    /* out */
    int result;          /* enum mc_delta_result */
    bool created;
    uint64_t value;
    uint64_t new_cas;
};
/* incr/decr (memcached's do_add_delta), creating on a miss when asked. */
void mc_delta_item(struct client *c, struct mc_delta *d);
/* incr/decr of the live string item at ref: MC_DELTA_OK with the new
 * value in *out, MC_DELTA_NON_NUMERIC, or MC_DELTA_CAS_MISMATCH (cas != 0
 * and the item's differs). Flags and expiry stay; the CAS is forgotten. */
int mc_delta_apply_locked(struct client *c, struct store_ref *ref, bool incr, uint64_t delta, uint64_t cas,
                          uint64_t *out);
/* Create k holding the decimal text of value (a number created on a
 * miss); returns the entry, or NULL when expire is MC_EXP_GONE (nothing
 * stays visible). *cas: the CAS assigned when want_cas. */
struct entry *mc_create_number_locked(struct client *c, const struct store_key *k, uint64_t value, int64_t expire,
                                     bool want_cas, uint64_t *cas);

/* Delete k if present: true when something was deleted. [stripe-locked] */
bool mc_delete_locked(struct client *c, const struct store_key *k);
/* Delete a memcached item (not other types) under its own lock. */
void mc_delete_key(struct client *c, const char *key, size_t klen);
/* Set the item's expiry as touch does (MC_EXP_GONE: it expires now). */
void mc_touch_locked(struct client *c, struct store_ref *ref, int64_t expire);
/* "lru_crawler metadump": one line per item, then END. */
void mc_metadump(struct client *c);
/* flush_all with a delay in seconds (0: now). */
void mc_flush_all(int64_t delay);

/* Stage an effect for the log (AOF, replicas) when anyone reads it. */
void mc_propagate(struct client *c, int argc, const char *const *argv, const size_t *lens);

/* ---- replies -------------------------------------------------------------------------- */

/* A reply line unless the request said noreply. */
static inline void mc_out(struct client *c, bool noreply, const char *s) {
    if (!noreply) mc_w_cstr(c->out, s);
}

/* ---- statistics (memcache_stats.c) -------------------------------------------------------- */

struct mc_tstats {
    _Atomic uint64_t get_cmds, get_hits, get_misses, get_expired, get_flushed;
    _Atomic uint64_t set_cmds, touch_cmds, touch_hits, touch_misses, flush_cmds, meta_cmds;
    _Atomic uint64_t delete_hits, delete_misses, incr_hits, incr_misses, decr_hits, decr_misses;
    _Atomic uint64_t cas_hits, cas_misses, cas_badval;
    _Atomic uint64_t store_too_large, store_no_memory, total_items;
    _Atomic uint64_t auth_cmds, auth_errors, conn_yields;
} CACHE_ALIGNED;

struct mc_tstats *mc_tstats_slow(void);
extern __thread struct mc_tstats *mc_tl_stats;
static inline struct mc_tstats *mc_stats(void) {
    return LIKELY(mc_tl_stats != NULL) ? mc_tl_stats : mc_tstats_slow();
}
/* One writer per counter (the owning thread): no read-modify-write. */
static inline void mc_count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
#define MC_COUNT(field) mc_count(&mc_stats()->field, 1)

/* "stats [args]" on the text protocol; the token window is the command's. */
void mc_cmd_stats(struct client *c, const struct mc_tokens *t);
/* The binary protocol's STAT: group named by key[0, klen) ("" = general).
 * Returns false for an unknown group. */
bool mc_bin_stats(struct client *c, const char *key, size_t klen, uint32_t opaque);
/* Record a key in the per-prefix statistics (stats detail); op 'g' get
 * (hit), 'm' get miss, 's' set, 'd' delete. [any] */
void mc_detail_record(const char *key, size_t klen, char op);

/* ---- watchers (memcache_stats.c) ------------------------------------------------------------ */

#define MC_LOG_FETCHERS 0x01
#define MC_LOG_MUTATIONS 0x02
#define MC_LOG_EVICTIONS 0x04
#define MC_LOG_CONNEVENTS 0x08
#define MC_LOG_RAWCMDS 0x10
#define MC_LOG_SYSEVENTS 0x20
#define MC_LOG_PROXY 0x40

extern _Atomic int mc_watchers;
static inline bool mc_watching(void) { return atomic_load_explicit(&mc_watchers, memory_order_relaxed) > 0; }
/* "watch ..." on the text protocol. */
void mc_cmd_watch(struct client *c, const struct mc_tokens *t);
void mc_watch_gone(struct client *c);
/* Log lines to watchers [no locks]: item_get, item_store, conn events. */
void mc_log_get(struct client *c, const char *key, size_t klen, int status, size_t size);
void mc_log_store(struct client *c, const struct mc_store *s);
void mc_log_conn(struct client *c, bool opened);
/* [owner] Frees this worker's staged eviction lines (at worker exit). */
void mc_log_thread_cleanup(void);

#endif
