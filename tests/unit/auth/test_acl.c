/* Unit tests of auth/: the ACL rule grammar and its errors, descriptions
 * (ACL LIST / GETUSER), permission checks (commands, first-args, read and
 * write key patterns, channels, selectors, the reported error), users
 * (create, authenticate, delete, the unrestricted flag), the aclfile
 * parser, ACL LOG grouping, and password files. A small fake command
 * catalog stands in for the command table. */
#include "../test.h"

#include "auth/acl_internal.h"
#include "auth/passfile.h"
#include "base/alloc.h"

#include <stdio.h>
#include <unistd.h>

enum { GET, SET, CONFIG, CONFIG_GET, CONFIG_SET, SELECT, AUTH, PUBLISH, NCMDS };
#define C(x) (1ULL << (x))
/* keyspace 0 read 1 write 2 string 7 pubsub 12 admin 13 fast 14 slow 15 dangerous 17 connection 18 */
static const struct acl_cmdinfo cmds[NCMDS] = {
    [GET] = {"get", C(1) | C(7) | C(14), -1, false},
    [SET] = {"set", C(2) | C(7) | C(15), -1, false},
    [CONFIG] = {"config", C(15), -1, false},
    [CONFIG_GET] = {"config|get", C(13) | C(15) | C(17), CONFIG, false},
    [CONFIG_SET] = {"config|set", C(13) | C(15) | C(17), CONFIG, false},
    [SELECT] = {"select", C(14) | C(18), -1, false},
    [AUTH] = {"auth", C(14) | C(18), -1, true},
    [PUBLISH] = {"publish", C(12) | C(14), -1, false},
};

static void setup(void) {
    static bool done;
    if (done) return;
    done = true;
    acl_setup();
    acl_set_catalog(cmds, NCMDS);
}

/* Apply ops (space separated) to fresh rules; returns the first error. */
static enum acl_err apply(struct acl_rules *r, const char *ops) {
    acl_rules_init(r);
    char *copy = xstrdup(ops);
    enum acl_err e = ACL_E_OK;
    for (char *tok = strtok(copy, " "); tok && e == ACL_E_OK; tok = strtok(NULL, " "))
        e = acl_rules_apply(r, tok, strlen(tok));
    xfree(copy);
    return e;
}

static char *describe(const struct acl_rules *r) {
    struct buf b = BUF_INIT;
    acl_describe_rules(r, &b);
    buf_putc(&b, '\0');
    return b.data;
}

TEST(describe_rules) {
    setup();
    struct acl_rules r;
    TEST_ASSERT(apply(&r, "on >pw ~k* %R~r* %W~w* &ch +@all -@dangerous") == ACL_E_OK);
    char *d = describe(&r);
    /* Here @admin and @dangerous have the same commands: the first
     * category in Redis's order wins the description. */
    TEST_EXPECT_STR(d, "on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* %R~r* %W~w* "
                       "resetchannels &ch +@all -@admin");
    xfree(d);
    acl_rules_free(&r);
    TEST_ASSERT(apply(&r, "-@all +config -config|set +select|0 +select|1") == ACL_E_OK);
    d = describe(&r);
    TEST_EXPECT_STR(d, "off resetchannels -@all +config -config|set +select|0 +select|1");
    xfree(d);
    acl_rules_free(&r);
    TEST_ASSERT(apply(&r, "%R~a %W~a allchannels nocommands +@string") == ACL_E_OK);
    d = describe(&r);
    TEST_EXPECT_STR(d, "off ~a &* -@all +@string");
    xfree(d);
    acl_rules_free(&r);
}

TEST(rule_errors) {
    setup();
    static const struct {
        const char *ops;
        enum acl_err e;
    } cases[] = {
        {"~* ~x", ACL_E_KEYS_ALL},     {"&* &x", ACL_E_CHANS_ALL},   {"+nosuch", ACL_E_UNKNOWN},
        {"+@nosuch", ACL_E_UNKNOWN},   {"+config|get|x", ACL_E_SUBCMD_ARG}, {"+config|x", ACL_E_UNKNOWN},
        {"+get|a|b", ACL_E_UNKNOWN},   {"-select|0", ACL_E_UNKNOWN}, {"+config|", ACL_E_SYNTAX},
        {"foo", ACL_E_SYNTAX},         {"%X~a", ACL_E_SYNTAX},       {"%~a", ACL_E_SYNTAX},
        {"%R", ACL_E_SYNTAX},          {"#abc", ACL_E_BAD_HASH},     {"<nothere", ACL_E_NO_PASS},
        {")", ACL_E_SYNTAX},           {"(on)", ACL_E_SYNTAX},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct acl_rules r;
        enum acl_err e = apply(&r, cases[i].ops);
        if (e != cases[i].e) fprintf(stderr, "  %s\n", cases[i].ops);
        TEST_EXPECT_INT(e, cases[i].e);
        acl_rules_free(&r);
    }
}

static enum acl_result check(const struct acl_rules *r, int cmd, int argc, const char **argv,
                             const struct acl_ref *keys, int nkeys, const struct acl_ref *chans, int nchans,
                             int *pos) {
    size_t lens[8];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    struct acl_request rq = {cmd, argc, argv, lens, keys, nkeys, chans, nchans};
    *pos = -1;
    return acl_rules_check(r, &rq, pos);
}

TEST(checks) {
    setup();
    struct acl_rules r;
    TEST_ASSERT(apply(&r, "+get +set +select|0 +publish %R~r* %W~w* ~rw* resetchannels &news.*") == ACL_E_OK);
    int pos;
    const char *get_r[] = {"get", "r1"}, *get_w[] = {"get", "w1"}, *set_w[] = {"set", "w1", "v"};
    struct acl_ref rd = {1, ACL_PERM_READ}, wr = {1, ACL_PERM_WRITE}, any = {1, 0};
    TEST_EXPECT_INT(check(&r, GET, 2, get_r, &rd, 1, NULL, 0, &pos), ACL_OK);
    TEST_EXPECT_INT(check(&r, GET, 2, get_w, &rd, 1, NULL, 0, &pos), ACL_DENIED_KEY);
    TEST_EXPECT_INT(pos, 1);
    TEST_EXPECT_INT(check(&r, SET, 3, set_w, &wr, 1, NULL, 0, &pos), ACL_OK);
    TEST_EXPECT_INT(check(&r, GET, 2, get_w, &any, 1, NULL, 0, &pos), ACL_OK); /* e.g. EXISTS */
    const char *sel0[] = {"select", "0"}, *sel1[] = {"select", "1"};
    TEST_EXPECT_INT(check(&r, SELECT, 2, sel0, NULL, 0, NULL, 0, &pos), ACL_OK);
    TEST_EXPECT_INT(check(&r, SELECT, 2, sel1, NULL, 0, NULL, 0, &pos), ACL_DENIED_CMD);
    const char *cfg[] = {"config", "get", "x"}, *auth[] = {"auth", "x"};
    TEST_EXPECT_INT(check(&r, CONFIG_GET, 3, cfg, NULL, 0, NULL, 0, &pos), ACL_DENIED_CMD);
    TEST_EXPECT_INT(check(&r, AUTH, 2, auth, NULL, 0, NULL, 0, &pos), ACL_OK); /* NO_AUTH */
    const char *pub[] = {"publish", "news.1", "m"}, *pub2[] = {"publish", "other", "m"};
    struct acl_ref ch = {1, ACL_CHAN_PUBLISH}, pat = {1, ACL_CHAN_SUBSCRIBE | ACL_CHAN_PATTERN};
    TEST_EXPECT_INT(check(&r, PUBLISH, 3, pub, NULL, 0, &ch, 1, &pos), ACL_OK);
    TEST_EXPECT_INT(check(&r, PUBLISH, 3, pub2, NULL, 0, &ch, 1, &pos), ACL_DENIED_CHANNEL);
    /* A subscribed pattern must be allowed literally. */
    TEST_EXPECT_INT(check(&r, PUBLISH, 3, pub, NULL, 0, &pat, 1, &pos), ACL_DENIED_CHANNEL);
    const char *pub3[] = {"publish", "news.*", "m"};
    TEST_EXPECT_INT(check(&r, PUBLISH, 3, pub3, NULL, 0, &pat, 1, &pos), ACL_OK);
    acl_rules_free(&r);
}

TEST(selectors_and_reported_error) {
    setup();
    struct acl_rules r;
    acl_rules_init(&r);
    const char *ops[] = {"+get", "~key", "(+get ~key ~otherkey)"};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) TEST_ASSERT(acl_rules_apply(&r, ops[i], strlen(ops[i])) == ACL_E_OK);
    int pos;
    const char *mget[] = {"get", "otherkey", "someotherkey"};
    struct acl_ref k[] = {{1, ACL_PERM_READ}, {2, ACL_PERM_READ}};
    /* The root selector fails at argument 1, the other at 2: Redis reports 2. */
    TEST_EXPECT_INT(check(&r, GET, 3, mget, k, 2, NULL, 0, &pos), ACL_DENIED_KEY);
    TEST_EXPECT_INT(pos, 2);
    const char *one[] = {"get", "otherkey"};
    TEST_EXPECT_INT(check(&r, GET, 2, one, k, 1, NULL, 0, &pos), ACL_OK);
    const char *set[] = {"set", "key", "v"};
    TEST_EXPECT_INT(check(&r, SET, 3, set, k, 1, NULL, 0, &pos), ACL_DENIED_CMD);
    TEST_EXPECT(!acl_rules_unrestricted(&r));
    acl_rules_free(&r);
    acl_rules_init(&r);
    TEST_ASSERT(acl_rules_apply(&r, "(+@all ~* &*)", 13) == ACL_E_OK);
    TEST_EXPECT(acl_rules_unrestricted(&r));
    acl_rules_free(&r);
}

TEST(merge_selectors) {
    const char *argv[] = {"on", "(~a", "+get", ")", "( ~b +get)"};
    size_t lens[5];
    for (int i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
    int n = 0, bad = -1;
    struct acl_str *s = acl_merge_selectors(5, argv, lens, &n, &bad);
    TEST_ASSERT(s && n == 3);
    TEST_EXPECT_STR(s[1].p, "(~a +get )");
    TEST_EXPECT_STR(s[2].p, "( ~b +get)");
    acl_strs_free(s, n);
    const char *open[] = {"on", "(~a"};
    TEST_EXPECT(acl_merge_selectors(2, open, lens, &n, &bad) == NULL && bad == 1);
}

TEST(users_and_auth) {
    setup();
    struct acl_doomed d;
    const char *ops[] = {"on", ">pw", "+@all", "~*", "&*"};
    size_t lens[] = {2, 3, 5, 2, 2};
    TEST_ASSERT(acl_setuser("u1", 2, 5, ops, lens, &d) == NULL);
    acl_doomed_free(&d);
    struct acl_user *u = acl_authenticate("u1", 2, "pw", 2);
    TEST_ASSERT(u != NULL);
    TEST_EXPECT(acl_user_unrestricted(u));
    TEST_EXPECT(acl_authenticate("u1", 2, "bad", 3) == NULL);
    TEST_EXPECT(acl_authenticate("nobody", 6, "pw", 2) == NULL);
    const char *rm[] = {"-get"};
    size_t rml[] = {4};
    TEST_ASSERT(acl_setuser("u1", 2, 1, rm, rml, &d) == NULL);
    acl_doomed_free(&d);
    TEST_EXPECT(!acl_user_unrestricted(u));
    const char *del[] = {"u1"};
    size_t dl[] = {2};
    TEST_EXPECT_INT(acl_deluser(1, del, dl, &d), 1);
    TEST_EXPECT_INT(d.n, 1);
    TEST_EXPECT(acl_user_deleted(u));
    acl_doomed_free(&d);
    acl_user_unref(u); /* the last reference: freed */
    const char *def[] = {"default"};
    size_t defl[] = {7};
    TEST_EXPECT_INT(acl_deluser(1, def, defl, &d), -1);
    /* requirepass: the default user needs a password. */
    TEST_EXPECT(!acl_auth_required());
    acl_set_requirepass("secret", 6);
    TEST_EXPECT(acl_auth_required() && !acl_default_nopass());
    TEST_EXPECT(acl_authenticate("default", 7, "secret", 6) == acl_default_user());
    acl_set_requirepass("", 0);
    TEST_EXPECT(!acl_auth_required());
}

TEST(aclfile_parse) {
    setup();
    char path[] = "/tmp/stash-acl-test-XXXXXX";
    int fd = mkstemp(path);
    TEST_ASSERT(fd >= 0);
    const char *text = "user alice on >a ~* +@all\n\nuser bob (~b +get)\n";
    TEST_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    struct acl_user **set;
    int n;
    char *err = acl_file_parse(path, &set, &n);
    TEST_EXPECT(err == NULL);
    TEST_EXPECT_INT(n, 2);
    if (err == NULL) acl_users_free(set, n);
    FILE *f = fopen(path, "w");
    fputs("user alice on\nnouser\nuser alice off\nuser x +nosuch %Z~a\n", f);
    fclose(f);
    err = acl_file_parse(path, &set, &n);
    TEST_ASSERT(err != NULL);
    char want[1024];
    snprintf(want, sizeof(want),
             "%s:2 should start with user keyword followed by the username. WARNING: Duplicate user 'alice' found on "
             "line 3. %s:4: Error in applying operation '+nosuch': Unknown command or category name in ACL. %s:4: "
             "Syntax error. WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
             path, path, path);
    TEST_EXPECT_STR(err, want);
    xfree(err);
    unlink(path);
}

TEST(acl_log_grouping) {
    setup();
    acl_log_reset();
    for (int i = 0; i < 3; i++) acl_log_add(ACL_DENIED_CMD, ACL_LOG_CTX_TOPLEVEL, "get", 3, "u", 1, "info", 4);
    acl_log_add(ACL_DENIED_KEY, ACL_LOG_CTX_MULTI, "k", 1, "u", 1, "info2", 5);
    struct acl_log_entry *e;
    int n = acl_log_get(10, &e);
    TEST_ASSERT(n == 2);
    TEST_EXPECT_INT(e[0].reason, ACL_DENIED_KEY);
    TEST_EXPECT_INT(e[1].count, 3);
    TEST_EXPECT_STR(e[1].object, "get");
    acl_log_entries_free(e, n);
    acl_log_reset();
    TEST_EXPECT_INT(acl_log_get(10, &e), 0);
    acl_log_entries_free(e, 0);
}

TEST(passfiles) {
    char path[] = "/tmp/stash-pass-test-XXXXXX";
    int fd = mkstemp(path);
    TEST_ASSERT(fd >= 0);
    const char *text = "alice:secret\r\nbob:pw:with:colons\n";
    TEST_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    struct passfile *a, *s;
    TEST_ASSERT(passfile_open(path, PASSFILE_AUTHFILE, &a) == PASSFILE_OK);
    TEST_EXPECT(passfile_check(a, "alice", 5, "secret", 6));
    TEST_EXPECT(!passfile_check(a, "alice", 5, "secreT", 6));
    TEST_EXPECT(passfile_check(a, "bob", 3, "pw:with:colons", 14));
    TEST_ASSERT(passfile_open(path, PASSFILE_SASLDB, &s) == PASSFILE_OK);
    TEST_EXPECT(passfile_check(s, "bob", 3, "pw", 2)); /* more fields after a ':' */
    passfile_close(&a);
    passfile_close(&s);
    FILE *f = fopen(path, "w");
    fputs("alice:x\nmalformed\n", f);
    fclose(f);
    TEST_EXPECT_INT(passfile_open(path, PASSFILE_AUTHFILE, &a), PASSFILE_MALFORMED);
    TEST_EXPECT(a == NULL);
    TEST_EXPECT_INT(passfile_open(path, PASSFILE_SASLDB, &s), PASSFILE_OK);
    passfile_close(&s);
    unlink(path);
    TEST_EXPECT_INT(passfile_open(path, PASSFILE_AUTHFILE, &a), PASSFILE_OPENFAIL);
}

int main(void) {
    int rc = test_run_all();
    acl_teardown();
    return rc;
}
