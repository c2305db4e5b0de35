/*
 * persist/crypt.c - keys, the key ring and the encrypted container's
 * chunks (format and threading in crypt.h), on OpenSSL's libcrypto.
 *
 * One EVP_CIPHER_CTX per file, keyed once with the file key: each chunk
 * only sets its nonce (EVP_*Init_ex with the IV alone), so sealing a chunk
 * is one GCM pass over its bytes. Key material is wiped
 * (OPENSSL_cleanse) when a key or a file state is dropped.
 */
#include "persist/crypt.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_VERSION 1
#define CIPHER_AES_256_GCM 1
#define KEY_ID_LABEL "stash at-rest key id"
#define HKDF_LABEL "stash at-rest v1"
/* A key file is 32 bytes, or 64 hex digits with some blanks around. */
#define KEY_FILE_MAX 256

/* ---- keys --------------------------------------------------------------------------------------- */

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void key_id(struct crypt_key *k) {
    unsigned char mac[32];
    unsigned int len = sizeof(mac);
    HMAC(EVP_sha256(), k->key, CRYPT_KEY_BYTES, (const unsigned char *)KEY_ID_LABEL, strlen(KEY_ID_LABEL), mac,
         &len);
    memcpy(k->id, mac, CRYPT_ID_BYTES);
}

int crypt_key_parse(const unsigned char *p, size_t n, struct crypt_key *out, char *err, size_t errcap) {
    if (n == CRYPT_KEY_BYTES) {
        memcpy(out->key, p, CRYPT_KEY_BYTES);
        key_id(out);
        return 0;
    }
    size_t lo = 0, hi = n;
    while (lo < hi && is_blank(p[lo])) lo++;
    while (hi > lo && is_blank(p[hi - 1])) hi--;
    if (hi - lo == 2 * CRYPT_KEY_BYTES) {
        bool ok = true;
        for (size_t i = 0; i < CRYPT_KEY_BYTES && ok; i++) {
            int a = hexval(p[lo + 2 * i]), b = hexval(p[lo + 2 * i + 1]);
            ok = a >= 0 && b >= 0;
            if (ok) out->key[i] = (unsigned char)(a << 4 | b);
        }
        if (ok) {
            key_id(out);
            return 0;
        }
    }
    crypt_key_wipe(out);
    snprintf(err, errcap, "the key file must hold 32 raw bytes or 64 hex digits (it has %zu bytes)", n);
    return -1;
}

int crypt_key_load_file(const char *path, struct crypt_key *out, char *err, size_t errcap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "can't open the key file '%s': %s", path, strerror(errno));
        return -1;
    }
    unsigned char buf[KEY_FILE_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errcap, "can't read the key file '%s': %s", path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            return -1;
        }
        if (r == 0 || (n += (size_t)r) == sizeof(buf)) break;
    }
    close(fd);
    int rc;
    if (n > KEY_FILE_MAX) {
        snprintf(err, errcap, "the key file '%s' is too big to be a key (32 raw bytes or 64 hex digits)", path);
        rc = -1;
    } else {
        rc = crypt_key_parse(buf, n, out, err, errcap);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

void crypt_id_hex(const unsigned char id[CRYPT_ID_BYTES], char out[2 * CRYPT_ID_BYTES + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < CRYPT_ID_BYTES; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * CRYPT_ID_BYTES] = '\0';
}

void crypt_key_wipe(struct crypt_key *k) { OPENSSL_cleanse(k, sizeof(*k)); }

/* ---- the ring ------------------------------------------------------------------------------------ */

static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static struct crypt_key ring_cur, ring_prev;
static bool have_cur, have_prev;

void crypt_ring_set(const struct crypt_key *k) {
    pthread_mutex_lock(&ring_mu);
    if (have_cur && !(k && memcmp(k->id, ring_cur.id, CRYPT_ID_BYTES) == 0)) {
        ring_prev = ring_cur;
        have_prev = true;
    }
    if (k) {
        ring_cur = *k;
        have_cur = true;
    } else {
        crypt_key_wipe(&ring_cur);
        have_cur = false;
    }
    pthread_mutex_unlock(&ring_mu);
}

bool crypt_ring_current(struct crypt_key *out) {
    pthread_mutex_lock(&ring_mu);
    bool ok = have_cur;
    if (ok) *out = ring_cur;
    pthread_mutex_unlock(&ring_mu);
    return ok;
}

bool crypt_ring_find(const unsigned char id[CRYPT_ID_BYTES], struct crypt_key *out) {
    pthread_mutex_lock(&ring_mu);
    bool ok = true;
    if (have_cur && memcmp(ring_cur.id, id, CRYPT_ID_BYTES) == 0)
        *out = ring_cur;
    else if (have_prev && memcmp(ring_prev.id, id, CRYPT_ID_BYTES) == 0)
        *out = ring_prev;
    else
        ok = false;
    pthread_mutex_unlock(&ring_mu);
    return ok;
}

void crypt_ring_clear(void) {
    pthread_mutex_lock(&ring_mu);
    crypt_key_wipe(&ring_cur);
    crypt_key_wipe(&ring_prev);
    have_cur = have_prev = false;
    pthread_mutex_unlock(&ring_mu);
}

/* ---- files ---------------------------------------------------------------------------------------- */

struct crypt_file {
    EVP_CIPHER_CTX *enc, *dec; /* created on first use */
    unsigned char key[CRYPT_KEY_BYTES];
};

bool crypt_is_container(const unsigned char *p, size_t n) {
    return n >= CRYPT_MAGIC_BYTES && memcmp(p, CRYPT_MAGIC, CRYPT_MAGIC_BYTES) == 0;
}

const unsigned char *crypt_header_key_id(const unsigned char header[CRYPT_HEADER_BYTES]) { return header + 16; }

/* HKDF-SHA256 (RFC 5869) of one output block. */
static void derive(const struct crypt_key *k, const unsigned char header[CRYPT_HEADER_BYTES],
                   unsigned char out[CRYPT_KEY_BYTES]) {
    unsigned char prk[32], info[sizeof(HKDF_LABEL) - 1 + CRYPT_HEADER_BYTES + 1];
    unsigned int len = sizeof(prk);
    HMAC(EVP_sha256(), header + 24, 32, k->key, CRYPT_KEY_BYTES, prk, &len);
    memcpy(info, HKDF_LABEL, sizeof(HKDF_LABEL) - 1);
    memcpy(info + sizeof(HKDF_LABEL) - 1, header, CRYPT_HEADER_BYTES);
    info[sizeof(info) - 1] = 1;
    len = CRYPT_KEY_BYTES;
    HMAC(EVP_sha256(), prk, sizeof(prk), info, sizeof(info), out, &len);
    OPENSSL_cleanse(prk, sizeof(prk));
}

static struct crypt_file *file_for(const struct crypt_key *k, const unsigned char header[CRYPT_HEADER_BYTES]) {
    struct crypt_file *f = xcalloc(1, sizeof(*f));
    derive(k, header, f->key);
    return f;
}

struct crypt_file *crypt_file_new(const struct crypt_key *k, unsigned char header[CRYPT_HEADER_BYTES]) {
    memset(header, 0, CRYPT_HEADER_BYTES);
    memcpy(header, CRYPT_MAGIC, CRYPT_MAGIC_BYTES);
    header[8] = FORMAT_VERSION;
    header[9] = CIPHER_AES_256_GCM;
    header[10] = CRYPT_CHUNK_LOG2;
    memcpy(header + 16, k->id, CRYPT_ID_BYTES);
    if (RAND_bytes(header + 24, 32) != 1) return NULL;
    return file_for(k, header);
}

struct crypt_file *crypt_file_open(const unsigned char header[CRYPT_HEADER_BYTES], char *err, size_t errcap) {
    if (!crypt_is_container(header, CRYPT_HEADER_BYTES)) {
        snprintf(err, errcap, "not an encrypted Stash file");
        return NULL;
    }
    if (header[8] != FORMAT_VERSION || header[9] != CIPHER_AES_256_GCM || header[10] != CRYPT_CHUNK_LOG2) {
        snprintf(err, errcap, "unknown encrypted file format (version %d, cipher %d, chunk 2^%d)", header[8],
                 header[9], header[10]);
        return NULL;
    }
    struct crypt_key k, cur;
    char want[2 * CRYPT_ID_BYTES + 1], have[2 * CRYPT_ID_BYTES + 1];
    crypt_id_hex(header + 16, want);
    if (!crypt_ring_find(header + 16, &k)) {
        if (crypt_ring_current(&cur)) {
            crypt_id_hex(cur.id, have);
            snprintf(err, errcap, "wrong key: the file is encrypted with key id %s, encryption-key-file holds key id %s",
                     want, have);
            crypt_key_wipe(&cur);
        } else {
            snprintf(err, errcap, "the file is encrypted (key id %s) and no encryption-key-file is configured",
                     want);
        }
        return NULL;
    }
    struct crypt_file *f = file_for(&k, header);
    crypt_key_wipe(&k);
    return f;
}

void crypt_file_free(struct crypt_file **fp) {
    struct crypt_file *f = *fp;
    if (f == NULL) return;
    EVP_CIPHER_CTX_free(f->enc);
    EVP_CIPHER_CTX_free(f->dec);
    OPENSSL_cleanse(f, sizeof(*f));
    xfree(f);
    *fp = NULL;
}

static void aad(unsigned char out[12], uint64_t index, uint32_t word) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(index >> (8 * i));
    for (int i = 0; i < 4; i++) out[8 + i] = (unsigned char)(word >> (8 * i));
}

/* A context keyed with the file key (created once per direction). */
static EVP_CIPHER_CTX *ctx_for(struct crypt_file *f, bool enc) {
    EVP_CIPHER_CTX **c = enc ? &f->enc : &f->dec;
    if (*c) return *c;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (x == NULL) return NULL;
    int ok = enc ? EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, f->key, NULL)
                 : EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, f->key, NULL);
    if (ok != 1) {
        EVP_CIPHER_CTX_free(x);
        return NULL;
    }
    *c = x;
    return x;
}

bool crypt_seal(struct crypt_file *f, uint64_t index, const void *p, size_t n, bool final, unsigned char *out) {
    if (n > CRYPT_CHUNK_MAX) return false;
    uint32_t word = (uint32_t)n | (final ? CRYPT_FINAL : 0);
    for (int i = 0; i < 4; i++) out[i] = (unsigned char)(word >> (8 * i));
    unsigned char *nonce = out + CRYPT_WORD_BYTES, *ct = nonce + CRYPT_NONCE_BYTES, a[12];
    EVP_CIPHER_CTX *c = ctx_for(f, true);
    if (c == NULL || RAND_bytes(nonce, CRYPT_NONCE_BYTES) != 1) return false;
    aad(a, index, word);
    int len;
    if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 || EVP_EncryptUpdate(c, NULL, &len, a, sizeof(a)) != 1)
        return false;
    if (n && EVP_EncryptUpdate(c, ct, &len, p, (int)n) != 1) return false;
    if (EVP_EncryptFinal_ex(c, ct + n, &len) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_BYTES, ct + n) == 1;
}

bool crypt_word(const unsigned char w[CRYPT_WORD_BYTES], size_t *n, bool *final) {
    uint32_t word = (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
    *final = (word & CRYPT_FINAL) != 0;
    *n = word & ~CRYPT_FINAL;
    return *n <= CRYPT_CHUNK_MAX && !(*final && *n != 0);
}

bool crypt_open(struct crypt_file *f, uint64_t index, const unsigned char *chunk, unsigned char *out) {
    size_t n;
    bool final;
    if (!crypt_word(chunk, &n, &final)) return false;
    uint32_t word = (uint32_t)n | (final ? CRYPT_FINAL : 0);
    const unsigned char *nonce = chunk + CRYPT_WORD_BYTES, *ct = nonce + CRYPT_NONCE_BYTES;
    unsigned char a[12], tag[CRYPT_TAG_BYTES];
    EVP_CIPHER_CTX *c = ctx_for(f, false);
    if (c == NULL) return false;
    aad(a, index, word);
    memcpy(tag, ct + n, CRYPT_TAG_BYTES);
    int len;
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 || EVP_DecryptUpdate(c, NULL, &len, a, sizeof(a)) != 1)
        return false;
    if (n && EVP_DecryptUpdate(c, out, &len, ct, (int)n) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_BYTES, tag) != 1) return false;
    return EVP_DecryptFinal_ex(c, out + n, &len) == 1;
}
