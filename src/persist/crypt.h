/*
 * persist/crypt.h - encryption at rest: the keys and the encrypted
 * container that persistence files (RDB snapshots, AOF files) are wrapped
 * in when `encryption-key-file` is set.
 *
 * Container (all integers little-endian)
 *
 *   header, 64 bytes:
 *     0   magic "STASHENC"          (never the start of an RDB "REDIS..."
 *                                    or an AOF "*..." / "#...": loaders
 *                                    tell the container by it)
 *     8   format version 1
 *     9   cipher 1: AES-256-GCM
 *     10  log2 of the largest chunk plaintext: 16 (64 KiB)
 *     11  5 bytes 0
 *     16  key id, 8 bytes: HMAC-SHA256(key, "stash at-rest key id")[0..8)
 *     24  salt, 32 random bytes
 *     56  8 bytes 0
 *   chunks, one after the other:
 *     0   word u32: plaintext length (bits 0..30), FINAL (bit 31)
 *     4   nonce, 12 random bytes
 *     16  ciphertext (as long as the plaintext)
 *     ..  GCM tag, 16 bytes
 *
 *   File key: HKDF-SHA256(ikm = the key, salt = the header's salt, info =
 *     "stash at-rest v1" + the whole 64-byte header): one key per file, and
 *     any change to the header changes it (so every chunk then fails).
 *   Each chunk is sealed with that key, its own random nonce, and as
 *     associated data its index in the file (u64, from 0) and its word: a
 *     chunk moved elsewhere, cut, or changed fails its tag.
 *   The writer ends a file with an empty FINAL chunk (the terminator); a
 *     file without it was cut (or is an AOF still being written); bytes
 *     after it are refused. So tampering, truncation and reordering are
 *     all detected; a wrong key is told apart by the key id.
 *   Random nonces rather than counters: a file reopened for appending (an
 *     AOF) rewrites its tail chunk index, never a nonce under the same key.
 *
 * Keys: a key file holds 32 raw bytes, or 64 hex digits (a trailing newline
 *   and blanks allowed). The key ring has the current key (writes and
 *   reads) and the one it replaced (reads only), so files written before a
 *   CONFIG SET stay readable by the running server.
 *
 * Thread context: the key ring is [any] (one mutex, never held while
 *   another lock is taken: a leaf, see docs/design/lock-order.md); a
 *   crypt_file is used by one thread at a time.
 */
#ifndef STASH_PERSIST_CRYPT_H
#define STASH_PERSIST_CRYPT_H

#include "base/common.h"

#define CRYPT_KEY_BYTES 32
#define CRYPT_ID_BYTES 8
#define CRYPT_MAGIC "STASHENC"
#define CRYPT_MAGIC_BYTES 8
#define CRYPT_HEADER_BYTES 64
#define CRYPT_CHUNK_LOG2 16
#define CRYPT_CHUNK_MAX (1u << CRYPT_CHUNK_LOG2) /* plaintext bytes of one chunk, at most */
#define CRYPT_WORD_BYTES 4
#define CRYPT_NONCE_BYTES 12
#define CRYPT_TAG_BYTES 16
#define CRYPT_CHUNK_OVERHEAD (CRYPT_WORD_BYTES + CRYPT_NONCE_BYTES + CRYPT_TAG_BYTES)
#define CRYPT_FINAL 0x80000000u

struct crypt_key {
    unsigned char key[CRYPT_KEY_BYTES];
    unsigned char id[CRYPT_ID_BYTES];
};

/* A key from a key file's contents. 0, or -1 with the reason in err. */
int crypt_key_parse(const unsigned char *p, size_t n, struct crypt_key *out, char *err, size_t errcap);
/* Read and parse a key file (refusing anything bigger than a key file
 * can be). 0, or -1 with the reason in err. */
int crypt_key_load_file(const char *path, struct crypt_key *out, char *err, size_t errcap);
/* The key id as 16 hex digits and a NUL. */
void crypt_id_hex(const unsigned char id[CRYPT_ID_BYTES], char out[2 * CRYPT_ID_BYTES + 1]);
/* Erase key material. */
void crypt_key_wipe(struct crypt_key *k);

/* ---- key ring [any] --------------------------------------------------------------------------- */

/* Make k the current key (NULL: none, files are written in the clear);
 * the current one, if any, is kept for reading. */
void crypt_ring_set(const struct crypt_key *k);
/* The current key: false when encryption is off. */
bool crypt_ring_current(struct crypt_key *out);
/* A key of the ring by id. */
bool crypt_ring_find(const unsigned char id[CRYPT_ID_BYTES], struct crypt_key *out);
/* Forget every key (teardown, tests). */
void crypt_ring_clear(void);

/* ---- one file's sealing and opening ---------------------------------------------------------------- */

struct crypt_file;

/* A new file under k: fills header, returns the state (NULL when the
 * random source or the cipher failed). */
struct crypt_file *crypt_file_new(const struct crypt_key *k, unsigned char header[CRYPT_HEADER_BYTES]);
/* The state for an existing header. NULL with the reason in err: not a
 * container, a version or cipher this build does not know, no key of that
 * id in the ring ("wrong or missing key", naming the ids). */
struct crypt_file *crypt_file_open(const unsigned char header[CRYPT_HEADER_BYTES], char *err, size_t errcap);
void crypt_file_free(struct crypt_file **f);
/* Does p (at least CRYPT_MAGIC_BYTES) start a container? */
bool crypt_is_container(const unsigned char *p, size_t n);
/* The key id a header names. */
const unsigned char *crypt_header_key_id(const unsigned char header[CRYPT_HEADER_BYTES]);

/* Seal n (<= CRYPT_CHUNK_MAX) bytes as chunk `index` into out, which must
 * hold n + CRYPT_CHUNK_OVERHEAD bytes. false when the cipher or the
 * random source failed. */
bool crypt_seal(struct crypt_file *f, uint64_t index, const void *p, size_t n, bool final, unsigned char *out);
/* Split a chunk's word. false when the length is over the maximum or a
 * FINAL chunk carries data. */
bool crypt_word(const unsigned char w[CRYPT_WORD_BYTES], size_t *n, bool *final);
/* Open chunk `index` (its whole bytes: word, nonce, ciphertext, tag; the
 * word already checked) into out (n bytes). false when it fails to
 * authenticate. */
bool crypt_open(struct crypt_file *f, uint64_t index, const unsigned char *chunk, unsigned char *out);

#endif
