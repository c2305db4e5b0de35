/*
 * persist/snapshot.h - fork-less point-in-time RDB snapshots.
 *
 * Design (the numbers in brackets are the steps of one snapshot)
 *
 *   [1] cut      store_view_open locks all 1,024 stripes for a few
 *                microseconds: it records each database's tables, the
 *                effects-log position (log_tail, for PSYNC and the AOF) and
 *                the change counter, then unlocks. Nothing is copied.
 *   [2] header   magic, AUX fields, preamble records (FUNCTION2...).
 *   [3] slots    the snapshot thread visits the 16,384 slots in order. For
 *                each, under the slot's stripe lock, the slot's keys of every
 *                database are serialized into an in-memory chunk (struct
 *                chunk), which is written to the sink after the lock is
 *                released (slots empty at the cut are skipped unlocked).
 *                A writer that is about to change a slot the snapshot has
 *                not serialized yet serializes it first, inline, under the
 *                lock it already holds (store/view.c), and pushes the chunk
 *                on a lock-free stack; the snapshot thread drains that stack
 *                between slots. Either way each slot is serialized exactly
 *                once, in its state at the cut: the file is a point-in-time
 *                image.
 *   [4] end      EOF + CRC64, flush, fsync (file sinks), close the view.
 *
 * Epochs: the open view is the epoch. Instead of a global snapshot counter
 *   compared with a per-slot one, a view carries one "serialized" flag per
 *   slot (guarded by the slot's stripe lock) and the store publishes the
 *   open view in one pointer, set and cleared with every stripe locked; a
 *   writer tests that pointer (one load) and, when set, the slot's flag.
 *
 * Memory bound: no copy of the dataset is ever made. At any moment the
 *   extra memory is the chunks serialized and not yet written: the slot the
 *   snapshot thread is on, plus the slots writers serialized ahead of it
 *   (serialized RDB form, far smaller than the in-memory values), drained
 *   before every slot visit. Fork's copy-on-write, by contrast, can double
 *   RSS under writes.
 * Cost to writers: the first write to a not-yet-serialized slot pays for
 *   serializing that slot (1/16,384 of the keyspace, about 60 keys per
 *   million); later writes pay one pointer test. Reads pay nothing. A slot
 *   holding one huge value is the worst case: its first writer serializes
 *   the value (as Redis's fork child would copy its pages).

 * Sinks: the snapshot writes through a struct persist_sink (persist/sink.h):
 *   a file for SAVE/BGSAVE (encrypted at rest when a key is set, below the
 *   snapshot: it writes plain RDB into the sink either way); the AOF
 *   rewrite (base file) and a replica's full sync (socket, never encrypted)
 *   plug in their own. One snapshot runs at a time (one view).
 *
 * Cancellation (FLUSHALL, shutdown): snapshot_cancel sets a flag; the
 *   thread stops before its next slot, closes the view and reports
 *   ERR_AGAIN. Chunks already pushed are freed.
 *
 * Locks: the snapshot thread holds at most one stripe at a time (for one
 *   slot) and never
 *   does I/O under it; writers' inline serialization takes no lock beyond
 *   the stripes they hold (the chunk stack is a CAS list). See
 *   docs/design/lock-order.md.
 *
 * Thread context: snapshot_start/run [no locks held], any thread;
 *   snapshot_cancel [any]; snapshot_wait from the thread that started it.
 */
#ifndef STASH_PERSIST_SNAPSHOT_H
#define STASH_PERSIST_SNAPSHOT_H

#include "base/buf.h"
#include "base/common.h"
#include "persist/sink.h"

#include <stdatomic.h>

struct snapshot;

struct snapshot_opts {
    bool compress;               /* rdbcompression */
    bool checksum;               /* rdbchecksum */
    bool aof_base;               /* the aof-base AUX field */
    /* An AOF-format base instead of RDB (aof-use-rdb-preamble no): keys as
     * commands (persist/aof_emit.h), SELECT per database, aof_head (may be
     * NULL: a timestamp annotation, FUNCTION LOADs) first, no RDB framing. */
    bool aof_format;
    const struct buf *aof_head;
    /* fsync every this many bytes written (0: only at the end), so that the
     * final fsync does not meet a mountain of dirty pages
     * (aof-rewrite-incremental-fsync). */
    uint64_t autosync_bytes;
    long long key_save_delay_us; /* rdb-key-save-delay: pause per key (tests) */
    /* When set, the delay is read from here as the snapshot goes (a test
     * lifts it with CONFIG SET rdb-key-save-delay 0), instead of the value
     * above. */
    const _Atomic long long *key_save_delay_live;
    /* Extra AUX fields (replication ids), called after the cut with the
     * effects-log position of the cut. May be NULL. */
    void (*aux)(struct buf *b, uint64_t cut_offset, void *arg);
    void *aux_arg;
    /* Optional, owned by the caller and outliving the snapshot: set to
     * stop it (checked between slots and during delays), and where the
     * keys written / estimated total are published for INFO. */
    _Atomic bool *cancel;
    _Atomic uint64_t *keys_done;
    _Atomic uint64_t *keys_total;
};

struct snapshot_result {
    int rc;              /* 0, ERR_IO (sink failed: errno in err), ERR_AGAIN (cancelled) */
    int err;             /* errno of a sink failure */
    uint64_t keys;       /* keys written */
    uint64_t skipped;    /* keys of a type no codec serializes (logged by the caller) */
    uint64_t bytes;      /* bytes written */
    uint64_t cut_offset; /* effects-log position at the cut */
    long long dirty_at_cut; /* the change counter at the cut */
    int64_t start_ms, end_ms;
};

/* Called on the snapshot's thread when it is done (sink already closed). */
typedef void (*snapshot_done_fn)(const struct snapshot_result *res, void *arg);

/* Take the cut and start writing to sink on a new thread (the sink is
 * closed by the snapshot). ERR_AGAIN when another snapshot runs; the sink
 * is then left to the caller. */
int snapshot_start(struct persist_sink *sink, const struct snapshot_opts *o, snapshot_done_fn done, void *arg,
                   struct snapshot **out);
/* The same on the calling thread (SAVE): returns when done. */
int snapshot_run(struct persist_sink *sink, const struct snapshot_opts *o, struct snapshot_result *res);
void snapshot_cancel(struct snapshot *s);
/* Wait for the thread to end and free the snapshot. */
void snapshot_wait(struct snapshot **s);
/* The effects-log position of the cut (taken by snapshot_start). */
uint64_t snapshot_cut(const struct snapshot *s);
/* Keys written so far and the estimated total (INFO's current_save_keys_*). */
void snapshot_progress(struct snapshot *s, uint64_t *done, uint64_t *total);

/* Is a snapshot (any) running now? [any] */
bool snapshot_running(void);

/* Provided by the composition root through persist: the change counter
 * and log position read at the cut, under all stripe locks. */
struct snapshot_env {
    long long (*dirty)(void);
    uint64_t (*log_pos)(void);
};
void snapshot_set_env(const struct snapshot_env *env);

#endif
