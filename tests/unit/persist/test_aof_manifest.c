/* Unit tests of persist/aof_manifest: Redis 7.0's line format both ways
 * (quoted names included), its loading errors, and the changes a rewrite
 * makes (new base, new incr, incr files to history in Redis's order). */
#include "../test.h"

#include "base/alloc.h"
#include "persist/aof_manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

static void write_file(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* Load `text` as a manifest: 0 or -1 with the error in err. */
static int load(const char *text, struct aof_manifest *m, char *err, int *lineno) {
    write_file("m.manifest", text);
    char path[256], line[1100];
    snprintf(path, sizeof(path), "%s/m.manifest", dir);
    return aof_manifest_load(path, m, err, 512, line, sizeof(line), lineno);
}

static const char *format(const struct aof_manifest *m) {
    static char out[4096];
    struct buf b = BUF_INIT;
    aof_manifest_format(m, &b);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    return out;
}

TEST(round_trip_and_order) {
    struct aof_manifest m;
    char err[512];
    int lineno;
    const char *text = "file appendonly.aof.2.base.rdb seq 2 type b\n"
                       "file appendonly.aof.1.incr.aof seq 1 type h\n"
                       "file appendonly.aof.4.incr.aof seq 4 type i\n"
                       "file appendonly.aof.5.incr.aof seq 5 type i\n";
    TEST_ASSERT(load(text, &m, err, &lineno) == 0);
    TEST_EXPECT_STR(format(&m), text);
    TEST_EXPECT(m.base_seq == 2 && m.incr_seq == 5 && m.nincr == 2 && m.nhist == 1);
    /* A rewrite: a new incr file at its start, then a new base; the
     * older incr files become history, newest-first as Redis lists them. */
    TEST_EXPECT_STR(aof_manifest_new_incr(&m, "appendonly.aof"), "appendonly.aof.6.incr.aof");
    TEST_EXPECT_STR(aof_manifest_new_base(&m, "appendonly.aof", false), "appendonly.aof.3.base.aof");
    aof_manifest_incr_to_history(&m, true);
    TEST_EXPECT_STR(format(&m), "file appendonly.aof.3.base.aof seq 3 type b\n"
                                "file appendonly.aof.4.incr.aof seq 4 type h\n"
                                "file appendonly.aof.5.incr.aof seq 5 type h\n"
                                "file appendonly.aof.2.base.rdb seq 2 type h\n"
                                "file appendonly.aof.1.incr.aof seq 1 type h\n"
                                "file appendonly.aof.6.incr.aof seq 6 type i\n");
    aof_manifest_clear_history(&m);
    TEST_EXPECT_STR(format(&m), "file appendonly.aof.3.base.aof seq 3 type b\n"
                                "file appendonly.aof.6.incr.aof seq 6 type i\n");
    aof_manifest_free(&m);
}

TEST(quoted_names_written_and_read_back) {
    struct aof_manifest m;
    aof_manifest_init(&m);
    aof_manifest_new_base(&m, " file seq \n\n.aof ", true);
    aof_manifest_new_incr(&m, " file seq \n\n.aof ");
    const char *text = format(&m);
    TEST_EXPECT_STR(text, "file \" file seq \\n\\n.aof .1.base.rdb\" seq 1 type b\n"
                          "file \" file seq \\n\\n.aof .1.incr.aof\" seq 1 type i\n");
    char err[512], copy[4096];
    int lineno;
    snprintf(copy, sizeof(copy), "%s", text);
    struct aof_manifest back;
    TEST_ASSERT(load(copy, &back, err, &lineno) == 0);
    TEST_EXPECT_STR(back.base.name, " file seq \n\n.aof .1.base.rdb");
    aof_manifest_free(&back);
    aof_manifest_free(&m);
}

TEST(errors_in_redis_words) {
    static const struct {
        const char *text, *err;
        int lineno;
    } cases[] = {
        {"", "Found an empty AOF manifest", 0},
        {"file a seq 1 type i\n\n", "Invalid AOF manifest file format", 2},
        {"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information", 2},
        {"file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number", 2},
        {"file a seq 1 type x\n", "Unknown AOF file type", 1},
        {"file a seq 1 ty i\n", "Invalid AOF manifest file format", 1},
        {"file a seq 1\n", "Invalid AOF manifest file format", 1},
        {"file a seq 1 type i x\n", "Invalid AOF manifest file format", 1},
        {"file dir/a seq 1 type i\n", "File can't be a path, just a filename", 1},
        {"file a seq 1 type i", "The AOF manifest file contains too long line", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct aof_manifest m;
        char err[512] = "";
        int lineno = -1;
        TEST_EXPECT(load(cases[i].text, &m, err, &lineno) == -1);
        TEST_EXPECT_STR(err, cases[i].err);
        TEST_EXPECT_INT(lineno, cases[i].lineno);
    }
    /* Comments count as lines but are skipped; unknown keys are ignored. */
    struct aof_manifest m;
    char err[512];
    int lineno;
    TEST_EXPECT(load("# hi\nfile a seq 1 type i newkey newvalue\n", &m, err, &lineno) == 0);
    TEST_EXPECT(m.nincr == 1);
    aof_manifest_free(&m);
}

TEST(written_atomically) {
    struct aof_manifest m;
    aof_manifest_init(&m);
    aof_manifest_new_base(&m, "appendonly.aof", true);
    TEST_ASSERT(aof_manifest_write(&m, dir, "appendonly.aof.manifest") == 0);
    char path[256], err[512], line[1100];
    int lineno;
    snprintf(path, sizeof(path), "%s/appendonly.aof.manifest", dir);
    struct aof_manifest back;
    TEST_ASSERT(aof_manifest_load(path, &back, err, sizeof(err), line, sizeof(line), &lineno) == 0);
    TEST_EXPECT_STR(back.base.name, "appendonly.aof.1.base.rdb");
    snprintf(path, sizeof(path), "%s/temp-appendonly.aof.manifest", dir);
    TEST_EXPECT(access(path, F_OK) != 0);
    aof_manifest_free(&back);
    aof_manifest_free(&m);
}

int main(void) {
    snprintf(dir, sizeof(dir), "/tmp/stash-manifest-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    int rc = test_run_all();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
