/*
 * persist/rdb.h - the RDB codec: Redis's snapshot format, byte for byte.
 *
 * Writer: RDB version 10, what Redis 7.0 writes. Loader: versions 1..11, as
 * Redis 7.0 and 7.2 write them, with every encoding Redis 7 still reads.
 *
 * File layout
 *
 *   "REDIS0010" | AUX redis-ver ... | [preamble: FUNCTION2 ...] |
 *   SELECTDB n RESIZEDB size vsize | [EXPIRETIME_MS t][IDLE s|FREQ f] type key value | ... |
 *   EOF | CRC64 (little-endian; 0 when rdbchecksum is off)
 *
 *   A snapshot taken slot by slot (persist/snapshot.c) may select a
 *   database more than once: SELECTDB only sets the current database, so
 *   Redis, redis-check-rdb and this loader all accept it.
 *
 * Data-driven type dispatch, so that other value types plug in without
 * touching this codec:
 *   - writers: one struct rdb_saver per entry_type (rdb_register_saver):
 *     the RDB type byte of a value, and the value;
 *   - loaders: one rdb_value_load_fn per RDB type byte
 *     (rdb_register_loader), which reads the value and builds the entry;
 *   - opcodes: one rdb_opcode_fn per opcode byte (rdb_register_opcode), for
 *     records outside the keyspace (FUNCTION2 libraries...), and preamble
 *     writers (rdb_register_preamble) that emit them after the AUX fields.
 *   The built-in string/list/set/zset/hash(+HyperLogLog) codecs register
 *   themselves at rdb_setup(); streams and functions add theirs the same
 *   way. Registration happens at start-up, before any thread runs.
 *
 * Encoding primitives append to a `struct buf` (values are serialized in
 * memory under a stripe lock, then written out by the snapshot thread);
 * rdb_writer streams buffers to a sink with the running CRC64.
 *
 * Untrusted input: the loader never trusts a length: every string length
 * is checked against the bytes left in the source before allocating,
 * element counts never pre-size anything bigger than the bytes left, and
 * compact encodings (listpack, intset, ziplist, zipmap) are validated
 * before use (deeply for RESTORE payloads, as sanitize-dump-payload yes).
 *
 * Thread context: encoders and the loader are [any] on caller-owned data;
 * value savers run [stripe-locked] on the key's entry.
 */
#ifndef STASH_PERSIST_RDB_H
#define STASH_PERSIST_RDB_H

#include "base/buf.h"
#include "base/common.h"
#include "persist/sink.h"
#include "store/entry.h"

#define RDB_VERSION 10          /* written */
#define RDB_MAX_LOAD_VERSION 11 /* read (Redis 7.2) */

/* Value types (the byte before a key). */
enum {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    RDB_TYPE_SET_LISTPACK = 20,       /* Redis 7.2 (RDB 11) */
    RDB_TYPE_STREAM_LISTPACKS_3 = 21, /* Redis 7.2 (RDB 11) */
};
#define RDB_TYPE_MAX 22

/* Opcodes. */
enum {
    RDB_OPCODE_FUNCTION2 = 245,
    RDB_OPCODE_FUNCTION = 246,
    RDB_OPCODE_MODULE_AUX = 247,
    RDB_OPCODE_IDLE = 248,
    RDB_OPCODE_FREQ = 249,
    RDB_OPCODE_AUX = 250,
    RDB_OPCODE_RESIZEDB = 251,
    RDB_OPCODE_EXPIRETIME_MS = 252,
    RDB_OPCODE_EXPIRETIME = 253,
    RDB_OPCODE_SELECTDB = 254,
    RDB_OPCODE_EOF = 255,
};

/* Length prefix: 00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + u32 BE, 0x81 + u64 BE;
 * 11xxxxxx: a specially encoded string follows. */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2). */
#define RDB_QL_PLAIN 1
#define RDB_QL_PACKED 2

/* Call once at start-up: registers the built-in value codecs. */
void rdb_setup(void);

/* ---- encoding into a buffer ------------------------------------------------------------------ */

void rdb_put_byte(struct buf *b, int v);
void rdb_put_len(struct buf *b, uint64_t len);
/* A string as rdbSaveRawString: small integers encoded as integers, LZF
 * when `compress` and it shrinks by >= 4 bytes, else verbatim. */
void rdb_put_string(struct buf *b, const void *s, size_t len, bool compress);
/* An integer as a string object (rdbSaveLongLongAsStringObject). */
void rdb_put_ll(struct buf *b, long long v);
void rdb_put_double_bin(struct buf *b, double d);
void rdb_put_ms(struct buf *b, int64_t ms);
void rdb_put_aux(struct buf *b, const char *key, const char *val);
void rdb_put_aux_ll(struct buf *b, const char *key, long long val);
/* "REDIS0010". */
void rdb_put_magic(struct buf *b);

/* What the writer adds around values (decided once per snapshot). */
struct rdb_save_opts {
    bool compress; /* rdbcompression */
    bool lru;      /* maxmemory-policy is an LRU one: IDLE opcodes */
    bool lfu;      /* LFU policy: FREQ opcodes */
};
void rdb_save_opts_current(struct rdb_save_opts *o, bool compress);

/* Type byte + value of e (a DUMP payload's body). Returns false when no
 * saver knows e's type. [stripe-locked] */
bool rdb_put_value(struct buf *b, const struct entry *e, bool compress);
/* A whole key record: [EXPIRETIME_MS][IDLE|FREQ] type key value. Returns
 * false (nothing written) when no saver knows e's type. [stripe-locked] */
bool rdb_put_entry(struct buf *b, struct entry *e, const struct rdb_save_opts *o);
/* The record without its value (for writers that add the value later,
 * e.g. a big string written from a blob reference after unlocking). */
bool rdb_put_entry_head(struct buf *b, struct entry *e, const struct rdb_save_opts *o);

/* How one entry_type is written: its RDB type byte (which may depend on
 * the encoding) and its value. Both [stripe-locked]. */
struct rdb_saver {
    int (*type)(const struct entry *e);
    void (*value)(struct buf *b, const struct entry *e, bool compress);
};
void rdb_register_saver(enum entry_type t, const struct rdb_saver *s);

/* Emits records that go after the AUX fields and before the keyspace
 * (e.g. FUNCTION2 libraries). [no locks held] */
typedef void (*rdb_preamble_fn)(struct buf *b);
void rdb_register_preamble(rdb_preamble_fn fn);
/* Run every registered preamble writer into b. */
void rdb_put_preamble(struct buf *b);

/* ---- streaming to a sink with the checksum ------------------------------------------------- */

struct rdb_writer {
    struct persist_sink *sink;
    uint64_t crc;
    bool checksum; /* rdbchecksum: compute the CRC64 (else 0 is written) */
};
/* Write bytes through, updating the CRC. 0 or a negative ERR_*. */
int rdb_write(struct rdb_writer *w, const void *p, size_t n);
/* EOF opcode and the checksum. */
int rdb_write_eof(struct rdb_writer *w);

/* ---- reading ---------------------------------------------------------------------------------- */

struct persist_source;

/* A byte source: a memory block or a file (through persist/source.h, so
 * encrypted files read transparently; buffered), with the running CRC64
 * and a count of what is left (for length sanity checks). */
struct rdb_reader {
    const unsigned char *mem; /* memory source (or the file buffer) */
    size_t len, pos;          /* bytes in mem, read position */
    struct persist_source *src; /* file source, NULL for memory */
    /* A stream source (a replica reading its primary's socket): returns
     * bytes read into buf (> 0), or <= 0 on failure; set by
     * rdb_reader_pull. */
    long (*pull)(void *arg, void *buf, size_t n);
    void *pull_arg;
    unsigned char *fbuf;      /* file buffer */
    uint64_t left;            /* bytes not yet consumed (file: by size) */
    uint64_t unread;          /* file: bytes not yet read into the buffer */
    uint64_t consumed;
    uint64_t crc;
    int ver;    /* RDB version of the stream (payload version for DUMP) */
    bool deep;  /* deep-validate compact encodings (RESTORE) */
    bool allow_dup; /* DEBUG RELOAD MERGE: what the stream holds replaces what exists */
    bool open_failed; /* rdb_reader_fd could not open the file (r->err says why) */
    bool encrypted;   /* the file is an encrypted container */
    bool failed;
    char err[160]; /* why, in Redis's words where it has them */
};

void rdb_reader_mem(struct rdb_reader *r, const void *p, size_t n);
/* Read fd (borrowed) from its current offset: `size` bytes of a plain
 * file, or the encrypted container there, authenticated whole before the
 * first byte is read (persist/source.h). When the file cannot be opened
 * that way (wrong or missing key, tampered, truncated) the reader starts
 * failed, with the reason in r->err and r->open_failed set. */
void rdb_reader_fd(struct rdb_reader *r, int fd, uint64_t size);
/* The same with persist/source.h's flags (SOURCE_UNTERMINATED_OK). */
void rdb_reader_fd_flags(struct rdb_reader *r, int fd, uint64_t size, unsigned flags);
/* Read from pull(arg, buf, n), at most `size` bytes (UINT64_MAX: until the
 * RDB's end). What was read past the RDB's end stays in mem[pos, len). */
void rdb_reader_pull(struct rdb_reader *r, long (*pull)(void *arg, void *buf, size_t n), void *arg, uint64_t size);
void rdb_reader_free(struct rdb_reader *r);

/* Record a failure (the first one wins); always returns false. */
bool rdb_fail(struct rdb_reader *r, const char *fmt, ...) PRINTF_FMT(2, 3);

bool rdb_read(struct rdb_reader *r, void *out, size_t n);
/* Bytes that are not part of an RDB stream (an AOF's commands): not added
 * to the CRC. false (r->failed) when fewer than n are left. */
bool rdb_read_raw(struct rdb_reader *r, void *out, size_t n);
/* fgets(3) on the source, outside the CRC: up to cap - 1 bytes, through
 * the first '\n'; NUL-terminated. Returns the bytes read: 0 at the end of
 * the source or on a read error (then r->failed with the reason). */
size_t rdb_read_line(struct rdb_reader *r, char *buf, size_t cap);
/* The next byte without consuming it, or -1 at the end (or on a read
 * error: r->failed). */
int rdb_peek(struct rdb_reader *r);
bool rdb_read_byte(struct rdb_reader *r, int *v);
/* A length; *encoded tells a special string encoding (then *len is its kind). */
bool rdb_read_len(struct rdb_reader *r, uint64_t *len, bool *encoded);
/* A length that must be a plain one. */
bool rdb_read_plain_len(struct rdb_reader *r, uint64_t *len);
/* A string (any encoding) into a fresh xmalloc'ed block (*s, *len); the
 * block has one extra NUL byte. */
bool rdb_read_string(struct rdb_reader *r, char **s, size_t *len);
bool rdb_read_double_bin(struct rdb_reader *r, double *d);
/* The old text form of doubles (RDB_TYPE_ZSET). */
bool rdb_read_double_text(struct rdb_reader *r, double *d);
bool rdb_read_ms(struct rdb_reader *r, int64_t *ms);

/* Builds the entry for key from a value of RDB type `rdbtype` read from r.
 * Returns NULL either with r->failed (corrupt input) or, for a value that
 * turns out empty (Redis skips such keys), with *empty set. */
typedef struct entry *(*rdb_value_load_fn)(struct rdb_reader *r, int rdbtype, const char *key,
                                           size_t klen, int64_t expire, bool *empty);
void rdb_register_loader(int rdbtype, rdb_value_load_fn fn);
/* Read one value of type rdbtype (dispatching on the loader table). */
struct entry *rdb_load_value(struct rdb_reader *r, int rdbtype, const char *key, size_t klen,
                             int64_t expire, bool *empty);

/* Handles an opcode outside the keyspace (after its byte was read);
 * returns false with r->failed on error. */
typedef bool (*rdb_opcode_fn)(struct rdb_reader *r, int opcode, void *ctx);
void rdb_register_opcode(int opcode, rdb_opcode_fn fn, void *ctx);

/* ---- loading a whole stream ------------------------------------------------------------------ */

struct rdb_load_hooks {
    /* A key was read (ownership of e passes to the callee). lru_idle is
     * seconds or -1, lfu_freq 0..255 or -1. Return false to stop (with a
     * reason via rdb_fail). */
    bool (*key)(void *arg, int db, struct entry *e, long long lru_idle, int lfu_freq);
    /* SELECTDB: return false when db is out of range. */
    bool (*select)(void *arg, uint64_t db);
    /* An AUX field (key and value are NUL-terminated). May be NULL. */
    void (*aux)(void *arg, const char *key, const char *val);
};

struct rdb_load_stats {
    uint64_t keys;         /* keys handed to hooks->key */
    uint64_t empty_keys;   /* empty values skipped */
    bool checksum_checked; /* a non-zero CRC was compared */
};

/* Parse magic, opcodes and keys until EOF and verify the checksum (when
 * `verify_crc` and the file has one). 0, or ERR_PROTO with r->err. */
int rdb_load_stream(struct rdb_reader *r, const struct rdb_load_hooks *h, void *arg, bool verify_crc,
                    struct rdb_load_stats *st);

/* ---- function libraries (FUNCTION2 records) ------------------------------------------------ */

/* One library: RDB_OPCODE_FUNCTION2 and its whole code as a string. */
void rdb_put_function(struct buf *b, const char *code, size_t len, bool compress);
/* The library after its opcode byte (FUNCTION2, or the 7.0-rc FUNCTION
 * record: name, engine, optional description and body, turned into
 * today's "#!<engine> name=<name>\n<body>"), into a fresh block. */
bool rdb_read_function(struct rdb_reader *r, int opcode, char **code, size_t *len);

/* ---- DUMP / RESTORE payloads ---------------------------------------------------------------- */

/* The footer of a payload whose body is out[start..): RDB version (2
 * bytes LE) and CRC64 of body + version (8 bytes LE). */
void rdb_payload_footer(struct buf *out, size_t start);

/* type + value + RDB version (2 bytes LE) + CRC64 (8 bytes LE). */
bool rdb_dump_payload(struct buf *out, const struct entry *e, bool compress);
/* Check a payload's footer: version not above ours, CRC matching (or 0
 * when `skip_crc`). Returns the RDB version, or -1. */
int rdb_payload_verify(const unsigned char *p, size_t n);

#endif
