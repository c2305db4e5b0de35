/*
 * persist/aof_manifest.h - the manifest of a Redis 7 multi-part AOF, and
 * the file names it lists (used by the AOF writer and by stash-check-aof).
 *
 * Directory layout (appenddirname, default "appendonlydir", inside `dir`):
 *
 *   appendonly.aof.manifest        this file, one line per AOF file
 *   appendonly.aof.3.base.rdb      BASE: the dataset at the last rewrite
 *                                  (.rdb with aof-use-rdb-preamble yes,
 *                                  .aof: commands, with no)
 *   appendonly.aof.5.incr.aof      INCR: commands after the base, in order
 *   appendonly.aof.6.incr.aof        (several after failed rewrites)
 *
 * Manifest lines, exactly Redis 7.0's (aof.c aofInfoFormat):
 *
 *   file appendonly.aof.3.base.rdb seq 3 type b
 *   file appendonly.aof.2.incr.aof seq 2 type h      (history, to delete)
 *   file appendonly.aof.5.incr.aof seq 5 type i
 *
 * The base comes first, then history, then incr files in sequence order. A
 * name that needs quoting (spaces, quotes, control bytes) is written as
 * Redis's sdscatrepr would, and read back with its sdssplitargs rules.
 * Reading applies Redis's checks and error messages (an empty manifest,
 * a line over 1,024 bytes, a missing key, a duplicate base, incr sequence
 * numbers that do not increase, an unknown type, a path as file name).
 *
 * Writing: temp-<appendfilename>.manifest, fsync, rename over the
 * manifest, fsync the directory: a crash leaves the old or the new one.
 * Every file goes through the persist layer's sink and reader (encryption
 * at rest wraps them).
 *
 * Thread context: a manifest is a plain value owned by its user (the AOF
 * writer keeps its one under its mutex).
 */
#ifndef STASH_PERSIST_AOF_MANIFEST_H
#define STASH_PERSIST_AOF_MANIFEST_H

#include "base/buf.h"
#include "base/common.h"

#define AOF_TYPE_BASE 'b'
#define AOF_TYPE_HIST 'h'
#define AOF_TYPE_INCR 'i'

struct aof_file {
    char *name;
    long long seq;
    char type;
};

struct aof_manifest {
    bool has_base;
    struct aof_file base;
    struct aof_file *hist; /* newest first, as Redis lists them */
    int nhist, caphist;
    struct aof_file *incr; /* in sequence order */
    int nincr, capincr;
    long long base_seq; /* highest base sequence number given out */
    long long incr_seq; /* highest incr sequence number given out */
    bool dirty;         /* differs from the file on disk */
};

void aof_manifest_init(struct aof_manifest *m);
void aof_manifest_free(struct aof_manifest *m);
void aof_manifest_dup(struct aof_manifest *dst, const struct aof_manifest *src);
/* Replace *dst by *src (src is consumed). */
void aof_manifest_move(struct aof_manifest *dst, struct aof_manifest *src);

/* Parse a manifest file. 0; ERR_NOTFOUND when it does not exist; -1 with
 * Redis's reason in err (and the offending line in line / lineno when
 * there is one: lineno 0 otherwise). */
int aof_manifest_load(const char *path, struct aof_manifest *m, char *err, size_t errlen, char *line,
                      size_t linelen, int *lineno);
/* The manifest's text. */
void aof_manifest_format(const struct aof_manifest *m, struct buf *out);
/* Write it as `dir`/`name` through a temp file and a rename (see above).
 * 0, or -1 after logging Redis's message. */
int aof_manifest_write(const struct aof_manifest *m, const char *dir, const char *name);

/* A new base name `<prefix>.<seq>.base.rdb|aof`; the previous base becomes
 * history. Returns the new base's name (owned by m). */
const char *aof_manifest_new_base(struct aof_manifest *m, const char *prefix, bool rdb);
/* A new incr file `<prefix>.<seq>.incr.aof`, appended; returns its name. */
const char *aof_manifest_new_incr(struct aof_manifest *m, const char *prefix);
/* The last incr file, or a new one when there is none. */
const char *aof_manifest_last_incr(struct aof_manifest *m, const char *prefix);
/* After a rewrite: incr files become history, all of them, or all but the
 * last one (`keep_last`: the file being written). */
void aof_manifest_incr_to_history(struct aof_manifest *m, bool keep_last);
/* Forget the history entries (their files were deleted). */
void aof_manifest_clear_history(struct aof_manifest *m);

/* ---- AOF files through the persist layer's reader and writer -------------------------------- */

struct rdb_reader;
/* Read an AOF file from fd's start: `size` bytes through the persist
 * reader (an encrypted container is decrypted: when encryption at rest
 * is in the build, an AOF file may lack its terminator, the writer having
 * died: that is accepted here, the loader judges the tail). */
void aof_reader_open(struct rdb_reader *r, int fd, uint64_t size);
/* Cut the AOF file at `path` to its first `len` bytes of content. A plain
 * file is truncated in place; an encrypted container is rewritten (its
 * first `len` bytes through the reader into a temp file through the sink,
 * renamed over it). 0, or -1 with errno. */
int aof_file_truncate(const char *path, uint64_t len);
/* Is the file an encrypted container (persist/crypt.h's "STASHENC")? */
bool aof_file_encrypted(int fd);

/* "dir/name" into out (cap bytes). */
void aof_path(char *out, size_t cap, const char *dir, const char *name);
/* Does a regular file / a directory exist there? */
bool aof_file_exists(const char *path);
bool aof_dir_exists(const char *path);
/* fsync the directory holding `path`; 0 or -1 (errno). */
int aof_fsync_dir_of(const char *path);

#endif
