/* Unit tests of encryption at rest (persist/crypt.c, persist/crypt_io.c):
 * key files (raw, hex, refused forms), the container written by a file
 * sink and read back by a source for many write patterns, and the
 * attacks the format must detect before handing out a byte: every single
 * changed byte, every truncation, chunks swapped or dropped, a wrong or
 * missing key, bytes after the end. Then appending to an existing file
 * (its end marker and a torn tail cut), the previous key after a change,
 * the plain cases (no key; sockets) and an RDB stream through
 * rdb_reader_fd. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "persist/crypt.h"
#include "persist/rdb.h"
#include "persist/sink.h"
#include "persist/source.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct crypt_key key1, key2;

static void setup(void) {
    static bool done;
    if (done) return;
    done = true;
    hash_setup();
    store_setup(16, NULL);
    rdb_setup();
    unsigned char raw[32];
    char err[256];
    for (int i = 0; i < 32; i++) raw[i] = (unsigned char)(i * 37 + 1);
    crypt_key_parse(raw, 32, &key1, err, sizeof(err));
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
    crypt_key_parse((const unsigned char *)hex, strlen(hex), &key2, err, sizeof(err));
}

static char path[64];

static int tmpfile_fd(void) {
    snprintf(path, sizeof(path), "/tmp/stash-test-crypt-XXXXXX");
    return mkstemp(path);
}

/* Bytes written through a file sink to a fresh file, in pieces of `step`
 * (0: one write) with a flush every `flush_every` pieces (0: never);
 * returns the file's bytes. */
static struct buf write_file(const unsigned char *data, size_t n, size_t step, int flush_every) {
    int fd = tmpfile_fd();
    struct persist_sink *s = sink_file_fd(fd);
    size_t off = 0;
    for (int i = 1; off < n; i++) {
        size_t k = step ? MIN(step, n - off) : n - off;
        sink_write(s, data + off, k);
        off += k;
        if (flush_every && i % flush_every == 0) sink_flush(s);
    }
    sink_sync(s);
    sink_close(s);
    struct buf b = BUF_INIT;
    int rfd = open(path, O_RDONLY);
    char tmp[65536];
    ssize_t r;
    while ((r = read(rfd, tmp, sizeof(tmp))) > 0) buf_append(&b, tmp, (size_t)r);
    close(rfd);
    unlink(path);
    return b;
}

/* Read a file image back through a source: 0 and the bytes, or -1 and the
 * reason in err. */
static int read_image(const void *img, size_t n, unsigned flags, struct buf *out, char *err, size_t errcap) {
    int fd = tmpfile_fd();
    if (n && write(fd, img, n) != (ssize_t)n) return -1;
    lseek(fd, 0, SEEK_SET);
    struct persist_source *src;
    int rc = source_open_fd(fd, n, flags, &src, err, errcap);
    if (rc == 0) {
        char tmp[10000];
        ssize_t r;
        while ((r = source_read(src, tmp, sizeof(tmp))) > 0) buf_append(out, tmp, (size_t)r);
        if (r < 0) {
            snprintf(err, errcap, "%s", source_error(src));
            rc = -1;
        }
        source_close(&src);
    }
    close(fd);
    unlink(path);
    return rc;
}

static unsigned char *pattern(size_t n) {
    unsigned char *p = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 2654435761u) >> 13);
    return p;
}

TEST(key_files) {
    setup();
    struct crypt_key k;
    char err[256];
    TEST_EXPECT(key1.key[1] == 38 && key2.key[15] == 0xff && key2.key[31] == 0xff);
    TEST_EXPECT(memcmp(key1.id, key2.id, CRYPT_ID_BYTES) != 0);
    const char *bad[] = {"short", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeg0",
                         "00112233445566778899aabbccddeeff00112233445566778899aabbccddee", ""};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        TEST_EXPECT(crypt_key_parse((const unsigned char *)bad[i], strlen(bad[i]), &k, err, sizeof(err)) == -1);
        TEST_EXPECT(strstr(err, "32 raw bytes or 64 hex digits") != NULL);
    }
    /* 33 raw bytes (a raw key and a newline) is no key. */
    unsigned char raw[33] = {0};
    raw[32] = '\n';
    TEST_EXPECT(crypt_key_parse(raw, 33, &k, err, sizeof(err)) == -1);
    /* Files: a missing one, a big one, a good one. */
    TEST_EXPECT(crypt_key_load_file("/nonexistent/stash.key", &k, err, sizeof(err)) == -1);
    TEST_EXPECT(strstr(err, "can't open the key file '/nonexistent/stash.key'") != NULL);
    int fd = tmpfile_fd();
    char big[4096];
    memset(big, 'a', sizeof(big));
    TEST_ASSERT(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
    close(fd);
    TEST_EXPECT(crypt_key_load_file(path, &k, err, sizeof(err)) == -1 && strstr(err, "too big") != NULL);
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *hex = "  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n";
    TEST_ASSERT(write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex));
    close(fd);
    TEST_EXPECT(crypt_key_load_file(path, &k, err, sizeof(err)) == 0 && memcmp(k.id, key2.id, CRYPT_ID_BYTES) == 0);
    unlink(path);
    char id[17];
    crypt_id_hex(key1.id, id);
    TEST_EXPECT(strlen(id) == 16);
}

TEST(round_trips) {
    setup();
    crypt_ring_set(&key1);
    size_t sizes[] = {0, 1, 100, CRYPT_CHUNK_MAX - 1, CRYPT_CHUNK_MAX, CRYPT_CHUNK_MAX + 1, 3 * CRYPT_CHUNK_MAX + 77};
    size_t steps[] = {0, 1000, 7, 70000};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        unsigned char *data = pattern(sizes[i]);
        for (size_t j = 0; j < ARRAY_LEN(steps); j++) {
            if (steps[j] == 7 && sizes[i] > 70000) continue; /* slow and nothing new */
            for (int flush = 0; flush <= 3; flush += 3) {
                struct buf img = write_file(data, sizes[i], steps[j], flush);
                TEST_EXPECT(crypt_is_container((unsigned char *)img.data, img.len));
                size_t chunks = (img.len - CRYPT_HEADER_BYTES - sizes[i]) / CRYPT_CHUNK_OVERHEAD;
                TEST_EXPECT(img.len == CRYPT_HEADER_BYTES + sizes[i] + chunks * CRYPT_CHUNK_OVERHEAD);
                if (!flush) /* full chunks, and the terminator */
                    TEST_EXPECT(chunks == (sizes[i] + CRYPT_CHUNK_MAX - 1) / CRYPT_CHUNK_MAX + 1);
                struct buf got = BUF_INIT;
                char err[256];
                TEST_EXPECT(read_image(img.data, img.len, 0, &got, err, sizeof(err)) == 0);
                TEST_EXPECT(got.len == sizes[i] && (sizes[i] == 0 || memcmp(got.data, data, sizes[i]) == 0));
                buf_free(&got);
                buf_free(&img);
            }
        }
        xfree(data);
    }
    crypt_ring_clear();
}

/* Each case of tampering must fail at open, naming the cause. */
static bool refused(int *test_failed_, const struct buf *img, unsigned flags, const char *why) {
    struct buf got = BUF_INIT;
    char err[256] = "";
    int rc = read_image(img->data, img->len, flags, &got, err, sizeof(err));
    bool ok = rc == -1 && got.len == 0 && strstr(err, why) != NULL;
    if (!ok) fprintf(stderr, "  rc %d, %zu bytes, \"%s\", want \"%s\"\n", rc, got.len, err, why);
    buf_free(&got);
    return ok;
}

TEST(tampering_truncation_reordering) {
    setup();
    crypt_ring_set(&key1);
    size_t n = 2 * CRYPT_CHUNK_MAX + 500;
    unsigned char *data = pattern(n);
    struct buf img = write_file(data, n, 0, 0);
    const size_t full = CRYPT_CHUNK_MAX + CRYPT_CHUNK_OVERHEAD;
    TEST_ASSERT(img.len == CRYPT_HEADER_BYTES + 2 * full + 500 + 2 * CRYPT_CHUNK_OVERHEAD);
    /* Every byte of the header and of the smaller chunks, a sample of the rest. */
    for (size_t i = 0; i < img.len; i += (i < CRYPT_HEADER_BYTES + 64 || i > img.len - 700) ? 1 : 997) {
        img.data[i] ^= 0x20;
        struct buf got = BUF_INIT;
        char err[256];
        int rc = read_image(img.data, img.len, 0, &got, err, sizeof(err));
        if (i < CRYPT_MAGIC_BYTES) /* no magic: a plain file, its bytes as they are (no RDB loads it) */
            TEST_EXPECT(rc == 0 && got.len == img.len && memcmp(got.data, img.data, img.len) == 0);
        else
            TEST_EXPECT(rc == -1 && got.len == 0);
        buf_free(&got);
        img.data[i] ^= 0x20;
    }
    /* Every truncation (sampled in the big chunks), also when an
     * unterminated file is allowed: only chunk boundaries load then. */
    for (size_t len = CRYPT_MAGIC_BYTES; len < img.len; len += (len < 200 || len > img.len - 700) ? 1 : 1009) {
        struct buf cut = BUF_INIT;
        buf_append(&cut, img.data, len);
        struct buf got = BUF_INIT;
        char err[256];
        TEST_EXPECT(read_image(cut.data, cut.len, 0, &got, err, sizeof(err)) == -1 && got.len == 0);
        if (len >= CRYPT_HEADER_BYTES && len > 0) {
            int rc = read_image(cut.data, cut.len, SOURCE_UNTERMINATED_OK, &got, err, sizeof(err));
            size_t want = len >= img.len - CRYPT_CHUNK_OVERHEAD     ? n /* only the end marker is cut */
                          : len >= CRYPT_HEADER_BYTES + 2 * full ? 2 * (size_t)CRYPT_CHUNK_MAX
                          : len >= CRYPT_HEADER_BYTES + full     ? CRYPT_CHUNK_MAX
                                                                 : 0;
            TEST_EXPECT(rc == 0 && got.len == want && (want == 0 || memcmp(got.data, data, want) == 0));
        }
        buf_free(&got);
        buf_free(&cut);
    }
    TEST_EXPECT(refused(test_failed_, &(struct buf){img.data, img.len - 1, img.len}, 0, "truncated"));
    TEST_EXPECT(refused(test_failed_, &(struct buf){img.data, img.len - CRYPT_CHUNK_OVERHEAD, img.len}, 0,
                        "no end marker after chunk 3"));
    TEST_EXPECT(refused(test_failed_, &(struct buf){img.data, 20, 20}, 0, "no complete header"));
    /* The two full chunks swapped; the second dropped. */
    struct buf sw = BUF_INIT;
    buf_append(&sw, img.data, CRYPT_HEADER_BYTES);
    buf_append(&sw, img.data + CRYPT_HEADER_BYTES + full, full);
    buf_append(&sw, img.data + CRYPT_HEADER_BYTES, full);
    buf_append(&sw, img.data + CRYPT_HEADER_BYTES + 2 * full, img.len - CRYPT_HEADER_BYTES - 2 * full);
    TEST_EXPECT(refused(test_failed_, &sw, 0, "authentication failed at chunk 0"));
    buf_clear(&sw);
    buf_append(&sw, img.data, CRYPT_HEADER_BYTES + full);
    buf_append(&sw, img.data + CRYPT_HEADER_BYTES + 2 * full, img.len - CRYPT_HEADER_BYTES - 2 * full);
    TEST_EXPECT(refused(test_failed_, &sw, 0, "authentication failed at chunk 1"));
    /* A chunk of another file with the same key. */
    struct buf other = write_file(data, n, 0, 0);
    buf_clear(&sw);
    buf_append(&sw, img.data, CRYPT_HEADER_BYTES);
    buf_append(&sw, other.data + CRYPT_HEADER_BYTES, other.len - CRYPT_HEADER_BYTES);
    TEST_EXPECT(refused(test_failed_, &sw, 0, "authentication failed at chunk 0"));
    /* Bytes after the end marker. */
    buf_clear(&sw);
    buf_append(&sw, img.data, img.len);
    buf_append(&sw, "x", 1);
    TEST_EXPECT(refused(test_failed_, &sw, 0, "1 bytes after the end"));
    /* Wrong key, no key; the previous key still reads. */
    crypt_ring_clear();
    TEST_EXPECT(refused(test_failed_, &img, 0, "no encryption-key-file is configured"));
    crypt_ring_set(&key2);
    TEST_EXPECT(refused(test_failed_, &img, 0, "wrong key: the file is encrypted with key id"));
    crypt_ring_set(&key1);
    crypt_ring_set(&key2); /* key1 is now the previous one */
    struct buf got = BUF_INIT;
    char err[256];
    TEST_EXPECT(read_image(img.data, img.len, 0, &got, err, sizeof(err)) == 0 && got.len == n);
    buf_free(&got);
    crypt_ring_clear();
    buf_free(&sw);
    buf_free(&other);
    buf_free(&img);
    xfree(data);
}

/* Append through sink_file_fd to the file at `path`; `crash`: the writer
 * died after its last flush (no end marker). */
static void append(const void *p, size_t n, bool crash) {
    int fd = open(path, O_WRONLY | O_APPEND);
    struct persist_sink *s = sink_file_fd(fd);
    sink_write(s, p, n);
    sink_close(s);
    if (crash) {
        struct stat st;
        stat(path, &st);
        if (truncate(path, st.st_size - CRYPT_CHUNK_OVERHEAD) != 0) abort();
    }
}

static struct buf read_path(unsigned flags, int *rc, bool *unterminated) {
    struct buf out = BUF_INIT;
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    struct persist_source *src;
    char err[256];
    *rc = source_open_fd(fd, (uint64_t)st.st_size, flags, &src, err, sizeof(err));
    if (*rc == 0) {
        char tmp[4096];
        ssize_t r;
        while ((r = source_read(src, tmp, sizeof(tmp))) > 0) buf_append(&out, tmp, (size_t)r);
        *unterminated = source_unterminated(src);
        source_close(&src);
    }
    close(fd);
    return out;
}

TEST(append_to_existing_files) {
    setup();
    crypt_ring_set(&key1);
    int fd = tmpfile_fd();
    close(fd);
    append("first ", 6, false);
    append("second ", 7, false);
    append("third", 5, true); /* the writer died: no end marker */
    int rc;
    bool unterm = false;
    struct buf got = read_path(0, &rc, &unterm);
    TEST_EXPECT(rc == -1);
    got = read_path(SOURCE_UNTERMINATED_OK, &rc, &unterm);
    TEST_EXPECT(rc == 0 && unterm && got.len == 18 && memcmp(got.data, "first second third", 18) == 0);
    buf_free(&got);
    /* A torn chunk at the end is cut when the file is appended to again. */
    fd = open(path, O_WRONLY | O_APPEND);
    TEST_ASSERT(write(fd, "\x05\x00\x00\x00garbage", 11) == 11);
    close(fd);
    append(" fourth", 7, false);
    got = read_path(0, &rc, &unterm);
    TEST_EXPECT(rc == 0 && !unterm && got.len == 25 && memcmp(got.data, "first second third fourth", 25) == 0);
    buf_free(&got);
    /* Without the key the file can't be appended to: writes fail. */
    crypt_ring_clear();
    fd = open(path, O_WRONLY | O_APPEND);
    struct persist_sink *s = sink_file_fd(fd);
    TEST_EXPECT(sink_write(s, "x", 1) != 0);
    TEST_EXPECT(sink_close(s) != 0);
    /* A plain file stays plain even once a key is set. */
    unlink(path);
    fd = tmpfile_fd();
    close(fd);
    append("plain ", 6, false);
    crypt_ring_set(&key1);
    append("still", 5, false);
    got = read_path(0, &rc, &unterm);
    TEST_EXPECT(rc == 0 && got.len == 11 && memcmp(got.data, "plain still", 11) == 0);
    buf_free(&got);
    unlink(path);
    crypt_ring_clear();
}

TEST(plain_cases) {
    setup();
    /* No key: plain bytes. */
    struct buf img = write_file((const unsigned char *)"REDIS0010", 9, 0, 0);
    TEST_EXPECT(img.len == 9 && memcmp(img.data, "REDIS0010", 9) == 0);
    buf_free(&img);
    /* A socket is never encrypted (a replica's full sync). */
    crypt_ring_set(&key1);
    int sv[2];
    TEST_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct persist_sink *s = sink_file_fd(sv[0]);
    sink_write(s, "REDIS0010", 9);
    sink_close(s);
    char buf[32];
    TEST_EXPECT(read(sv[1], buf, sizeof(buf)) == 9 && memcmp(buf, "REDIS0010", 9) == 0);
    close(sv[1]);
    crypt_ring_clear();
}

static bool col_key(void *arg, int db, struct entry *e, long long idle, int freq) {
    (*(int *)arg)++;
    entry_free(e);
    return true;
}
static bool col_select(void *arg, uint64_t db) { return db < 16; }

TEST(rdb_stream_through_the_container) {
    setup();
    crypt_ring_set(&key2);
    struct buf b = BUF_INIT;
    rdb_put_magic(&b);
    rdb_put_byte(&b, RDB_OPCODE_SELECTDB);
    rdb_put_len(&b, 0);
    for (int i = 0; i < 2000; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "key:%d", i);
        rdb_put_byte(&b, RDB_TYPE_STRING);
        rdb_put_string(&b, k, (size_t)n, false);
        rdb_put_string(&b, "a-secret-value-of-some-length", 29, false);
    }
    struct buf img = BUF_INIT;
    {
        int fd = tmpfile_fd();
        struct persist_sink *s = sink_file_fd(fd);
        struct rdb_writer w = {s, 0, true};
        rdb_write(&w, b.data, b.len);
        rdb_write_eof(&w);
        sink_close(s);
        fd = open(path, O_RDONLY);
        char tmp[65536];
        ssize_t r;
        while ((r = read(fd, tmp, sizeof(tmp))) > 0) buf_append(&img, tmp, (size_t)r);
        close(fd);
    }
    TEST_EXPECT(crypt_is_container((unsigned char *)img.data, img.len));
    TEST_EXPECT(memmem(img.data, img.len, "a-secret-value", 14) == NULL);
    int fd = open(path, O_RDONLY);
    struct rdb_reader r;
    rdb_reader_fd(&r, fd, img.len);
    TEST_EXPECT(!r.open_failed && r.encrypted);
    int keys = 0;
    struct rdb_load_hooks h = {col_key, col_select, NULL};
    struct rdb_load_stats st;
    TEST_EXPECT(rdb_load_stream(&r, &h, &keys, true, &st) == 0);
    TEST_EXPECT(keys == 2000 && st.checksum_checked);
    rdb_reader_free(&r);
    close(fd);
    /* Tampered: the reader starts failed, nothing parsed. */
    int wfd = open(path, O_WRONLY);
    TEST_ASSERT(pwrite(wfd, "Z", 1, 5000) == 1);
    close(wfd);
    fd = open(path, O_RDONLY);
    rdb_reader_fd(&r, fd, img.len);
    TEST_EXPECT(r.open_failed && strstr(r.err, "authentication failed") != NULL);
    keys = 0;
    TEST_EXPECT(rdb_load_stream(&r, &h, &keys, true, &st) != 0 && keys == 0);
    rdb_reader_free(&r);
    close(fd);
    unlink(path);
    buf_free(&img);
    buf_free(&b);
    crypt_ring_clear();
}

int main(void) { return test_run_all(); }
