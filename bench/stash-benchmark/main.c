/*
 * bench/stash-benchmark/main.c - stash-benchmark: a load generator for RESP
 * and the memcached text and meta protocols (see bench.h for the design and
 * `stash-benchmark --help` for the options).
 *
 * Flow: parse and check options -> refuse a non-loopback target unless
 * --allow-remote -> open every connection (TLS, AUTH...) -> optional
 * prefill (every key of the key space SET once) -> the tests, in the order
 * given -> summary (text as it goes, or CSV/JSON at the end).
 *
 * Exit status: 0 every request verified, 1 usage or setup failure, 2 the
 * run finished with failures (error replies, mismatches, lost requests),
 * 130 interrupted by Ctrl-C (a second Ctrl-C exits at once).
 */
#include "bench.h"

#include "base/alloc.h"

#include <getopt.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

atomic_int sb_interrupted;

static void usage(FILE *f) {
    fprintf(f,
            "Usage: stash-benchmark [options]\n"
            "\n"
            "Target\n"
            "  --protocol P        resp (default), memcache-text or memcache-meta\n"
            "  -h, --host H        server host (default 127.0.0.1)\n"
            "  -p, --port N        port (default 6379 for resp, 11211 for memcache)\n"
            "  -s, --socket PATH   unix socket instead of TCP\n"
            "  --allow-remote      allow a non-loopback target (refused by default)\n"
            "  -a, --auth PASS     RESP: AUTH [user] PASS; memcache: text authentication\n"
            "  --user NAME         user for --auth (memcache: required with --auth)\n"
            "  --dbnum N           RESP: SELECT N first\n"
            "  --resp3             RESP: HELLO 3 first\n"
            "  --tls               TLS (OpenSSL); peer not verified unless --tls-verify\n"
            "  --tls-verify        verify the server certificate (and host name)\n"
            "  --cacert F, --cert F, --key F, --sni NAME   TLS files and server name\n"
            "\n"
            "Load\n"
            "  -c, --clients N     connections (default 50)\n"
            "  --threads N         client threads, each an epoll loop (default 1)\n"
            "  -P, --pipeline N    requests per batch per connection (default 1)\n"
            "  -n, --requests N    requests per test (default 100000 without --duration)\n"
            "  --duration S        seconds per test (with -n: whichever ends first)\n"
            "  --max-time S        hard limit of one test (default 600)\n"
            "  --timeout S         a request without a reply for S seconds is lost (default 10)\n"
            "  --connect-timeout S connect + setup limit per connection (default 5)\n"
            "\n"
            "Workload\n"
            "  -t, --tests LIST    tests in order, comma-separated (default set,get):\n"
            "                      get set mget (all protocols); ping mset incr lpush rpush\n"
            "                      lpop rpop sadd spop hset zadd zpopmin lrange_<n> (RESP)\n"
            "  --ratio G:S         one mixed test of G gets per S sets (instead of -t)\n"
            "  --mix OP=W,...      one mixed test with these weights, e.g. get=8,set=1,mget=1\n"
            "  -r, --keyspace N    keys key:000000000000 .. N-1 (default 100000)\n"
            "  --distribution D    uniform (default) or zipf:<s>\n"
            "  --no-scramble       zipf: hottest keys are key 0, 1, 2... (default: spread)\n"
            "  -d, --data-size N   value size in bytes (default 3)\n"
            "  --multi N           keys per mget/mset request (default 10)\n"
            "  --key-prefix S      string key prefix (default \"key:\")\n"
            "  --prefill           SET every key of the key space once before the tests\n"
            "  --no-verify-content check reply types only, not values (foreign data)\n"
            "  --seed N            fixed random seed\n"
            "\n"
            "Output\n"
            "  --csv | --json      machine-readable summary on stdout (else text per test)\n"
            "  -q, --quiet         no text summary, no progress line\n"
            "  --precision D       histogram significant digits, 1..5 (default 3)\n"
            "  --progress/--no-progress  live line on stderr (default: when it is a TTY)\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 all requests verified, 1 usage/setup error, 2 failures, 130 Ctrl-C.\n");
}

static NORETURN void die(const char *fmt, const char *arg) {
    fprintf(stderr, "stash-benchmark: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static double num(const char *s, double lo, double hi, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo) || !(v <= hi)) die("bad value for %s", what);
    return v;
}

static void add_test(struct sb_opts *o, const char *name, const char *ops_spec, bool weighted) {
    if (o->ntests == SB_TESTS_MAX) die("too many tests (%s)", name);
    struct sb_test *t = &o->tests[o->ntests++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    char *copy = xstrdup(ops_spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (t->nops == SB_MIX_MAX) die("too many operations in '%s'", ops_spec);
        char err[160];
        double w = 1;
        char *eq = weighted ? strchr(tok, '=') : NULL;
        if (eq) {
            *eq = 0;
            w = num(eq + 1, 0, 1e9, "a --mix weight");
        }
        struct sb_opspec *s = &t->ops[t->nops];
        if (sb_op_parse(tok, o->proto, s, err, sizeof(err)) < 0) die("%s", err);
        s->weight = w;
        if (w > 0) t->nops++;
        t->total_weight += w;
    }
    xfree(copy);
    if (t->nops == 0) die("no operation with a positive weight in '%s'", ops_spec);
}

static void add_tests(struct sb_opts *o, const char *list) {
    char *copy = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct sb_opspec s;
        char err[160];
        if (sb_op_parse(tok, o->proto, &s, err, sizeof(err)) < 0) die("%s", err);
        add_test(o, s.name, tok, false);
    }
    xfree(copy);
}

enum {
    O_PROTOCOL = 256,
    O_ALLOW_REMOTE,
    O_USER,
    O_DBNUM,
    O_RESP3,
    O_TLS,
    O_TLS_VERIFY,
    O_CACERT,
    O_CERT,
    O_KEY,
    O_SNI,
    O_THREADS,
    O_DURATION,
    O_MAX_TIME,
    O_TIMEOUT,
    O_CONNECT_TIMEOUT,
    O_RATIO,
    O_MIX,
    O_DIST,
    O_NO_SCRAMBLE,
    O_MULTI,
    O_PREFIX,
    O_PREFILL,
    O_NO_VERIFY,
    O_SEED,
    O_CSV,
    O_JSON,
    O_PRECISION,
    O_PROGRESS,
    O_NO_PROGRESS,
    O_HELP,
    O_VERSION
};

static const struct option long_opts[] = {{"protocol", 1, 0, O_PROTOCOL},
                                          {"host", 1, 0, 'h'},
                                          {"port", 1, 0, 'p'},
                                          {"socket", 1, 0, 's'},
                                          {"allow-remote", 0, 0, O_ALLOW_REMOTE},
                                          {"auth", 1, 0, 'a'},
                                          {"user", 1, 0, O_USER},
                                          {"dbnum", 1, 0, O_DBNUM},
                                          {"resp3", 0, 0, O_RESP3},
                                          {"tls", 0, 0, O_TLS},
                                          {"tls-verify", 0, 0, O_TLS_VERIFY},
                                          {"cacert", 1, 0, O_CACERT},
                                          {"cert", 1, 0, O_CERT},
                                          {"key", 1, 0, O_KEY},
                                          {"sni", 1, 0, O_SNI},
                                          {"clients", 1, 0, 'c'},
                                          {"threads", 1, 0, O_THREADS},
                                          {"pipeline", 1, 0, 'P'},
                                          {"requests", 1, 0, 'n'},
                                          {"duration", 1, 0, O_DURATION},
                                          {"max-time", 1, 0, O_MAX_TIME},
                                          {"timeout", 1, 0, O_TIMEOUT},
                                          {"connect-timeout", 1, 0, O_CONNECT_TIMEOUT},
                                          {"tests", 1, 0, 't'},
                                          {"ratio", 1, 0, O_RATIO},
                                          {"mix", 1, 0, O_MIX},
                                          {"keyspace", 1, 0, 'r'},
                                          {"distribution", 1, 0, O_DIST},
                                          {"no-scramble", 0, 0, O_NO_SCRAMBLE},
                                          {"data-size", 1, 0, 'd'},
                                          {"multi", 1, 0, O_MULTI},
                                          {"key-prefix", 1, 0, O_PREFIX},
                                          {"prefill", 0, 0, O_PREFILL},
                                          {"no-verify-content", 0, 0, O_NO_VERIFY},
                                          {"seed", 1, 0, O_SEED},
                                          {"csv", 0, 0, O_CSV},
                                          {"json", 0, 0, O_JSON},
                                          {"quiet", 0, 0, 'q'},
                                          {"precision", 1, 0, O_PRECISION},
                                          {"progress", 0, 0, O_PROGRESS},
                                          {"no-progress", 0, 0, O_NO_PROGRESS},
                                          {"help", 0, 0, O_HELP},
                                          {"version", 0, 0, O_VERSION},
                                          {0, 0, 0, 0}};

static void defaults(struct sb_opts *o) {
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->conns = 50;
    o->threads = 1;
    o->pipeline = 1;
    o->max_time = 600;
    o->timeout = 10;
    o->connect_timeout = 5;
    o->keyspace = 100000;
    o->dist = "uniform";
    o->scramble = true;
    o->vsize = 3;
    o->multi = 10;
    o->prefix = "key:";
    o->verify_content = true;
    o->precision = 3;
    o->port = -1;
}

static void parse_proto(struct sb_opts *o, const char *s) {
    if (strcmp(s, "resp") == 0)
        o->proto = SB_PROTO_RESP;
    else if (strcmp(s, "memcache-text") == 0 || strcmp(s, "memcache") == 0)
        o->proto = SB_PROTO_MC_TEXT;
    else if (strcmp(s, "memcache-meta") == 0)
        o->proto = SB_PROTO_MC_META;
    else
        die("unknown protocol '%s' (resp, memcache-text, memcache-meta)", s);
}

/* Options that take a number or a flag; false if c is not one of them. */
static bool parse_numeric(struct sb_opts *o, int c, const char *arg, bool *progress_set) {
    switch (c) {
    case 'p': o->port = (int)num(arg, 1, 65535, "--port"); break;
    case O_DBNUM: o->dbnum = (int)num(arg, 0, 1 << 20, "--dbnum"); break;
    case 'c': o->conns = (int)num(arg, 1, 10000, "--clients"); break;
    case O_THREADS: o->threads = (int)num(arg, 1, 256, "--threads"); break;
    case 'P': o->pipeline = (int)num(arg, 1, 4096, "--pipeline"); break;
    case 'n': o->requests = (uint64_t)num(arg, 1, 1e15, "--requests"); break;
    case O_DURATION: o->duration = num(arg, 0.001, 86400, "--duration"); break;
    case O_MAX_TIME: o->max_time = num(arg, 0.001, 86400, "--max-time"); break;
    case O_TIMEOUT: o->timeout = num(arg, 0.001, 3600, "--timeout"); break;
    case O_CONNECT_TIMEOUT: o->connect_timeout = num(arg, 0.001, 3600, "--connect-timeout"); break;
    case 'r': o->keyspace = (uint64_t)num(arg, 1, 1e12, "--keyspace"); break;
    case 'd': o->vsize = (size_t)num(arg, 0, 512.0 * 1024 * 1024, "--data-size"); break;
    case O_MULTI: o->multi = (uint32_t)num(arg, 1, SB_MULTI_MAX, "--multi"); break;
    case O_SEED: o->seed = (uint64_t)num(arg, 1, 1e18, "--seed"); break;
    case O_PRECISION: o->precision = (int)num(arg, 1, 5, "--precision"); break;
    case O_PROGRESS: o->progress = *progress_set = true; break;
    case O_NO_PROGRESS: o->progress = false, *progress_set = true; break;
    default: return false;
    }
    return true;
}

static void parse_args(struct sb_opts *o, int argc, char **argv) {
    const char *tests = NULL, *ratio = NULL, *mix = NULL;
    bool progress_set = false;
    defaults(o);
    int c;
    while ((c = getopt_long(argc, argv, "h:p:s:a:c:P:n:t:r:d:q", long_opts, NULL)) != -1) {
        if (parse_numeric(o, c, optarg, &progress_set)) continue;
        switch (c) {
        case O_PROTOCOL: parse_proto(o, optarg); break;
        case 'h': o->host = optarg; break;
        case 's': o->unix_path = optarg; break;
        case O_ALLOW_REMOTE: o->allow_remote = true; break;
        case 'a': o->auth = optarg; break;
        case O_USER: o->user = optarg; break;
        case O_RESP3: o->resp3 = true; break;
        case O_TLS: o->tls = true; break;
        case O_TLS_VERIFY: o->tls_verify = true; break;
        case O_CACERT: o->cacert = optarg; break;
        case O_CERT: o->cert = optarg; break;
        case O_KEY: o->key = optarg; break;
        case O_SNI: o->sni = optarg; break;
        case 't': tests = optarg; break;
        case O_RATIO: ratio = optarg; break;
        case O_MIX: mix = optarg; break;
        case O_DIST: o->dist = optarg; break;
        case O_NO_SCRAMBLE: o->scramble = false; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_PREFILL: o->prefill = true; break;
        case O_NO_VERIFY: o->verify_content = false; break;
        case O_CSV: o->format = SB_OUT_CSV; break;
        case O_JSON: o->format = SB_OUT_JSON; break;
        case 'q': o->quiet = true; break;
        case O_HELP: usage(stdout); exit(0);
        case O_VERSION: printf("stash-benchmark %s\n", STASH_VERSION); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc) die("unexpected argument '%s'", argv[optind]);
    if (o->port < 0) o->port = o->proto == SB_PROTO_RESP ? 6379 : 11211;
    if (!progress_set) o->progress = isatty(STDERR_FILENO) && !o->quiet;
    if (!o->requests && o->duration == 0) o->requests = 100000;
    if ((uint64_t)o->pipeline * o->multi > (1u << 20))
        die("%s", "--pipeline x --multi is too large");
    if (strlen(o->prefix) > 60) die("%s", "--key-prefix is too long");
    for (const char *p = o->prefix; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            die("%s", "--key-prefix: no spaces or control characters");
    if (o->proto != SB_PROTO_RESP && (o->resp3 || o->dbnum))
        die("%s", "--resp3/--dbnum are RESP only");
    if (o->proto != SB_PROTO_RESP && o->auth && !o->user)
        die("%s", "memcache authentication needs --user");
    if (o->user && !o->auth) die("%s", "--user needs --auth");
    if (!!tests + !!ratio + !!mix > 1) die("%s", "use one of -t, --ratio, --mix");
    if (ratio) {
        unsigned g, s;
        char mixspec[64];
        if (sscanf(ratio, "%u:%u", &g, &s) != 2 || g + s == 0 || g > 1000000 || s > 1000000)
            die("bad --ratio '%s' (want GETS:SETS)", ratio);
        snprintf(mixspec, sizeof(mixspec), "get=%u,set=%u", g, s);
        char name[64];
        snprintf(name, sizeof(name), "GET:SET=%u:%u", g, s);
        add_test(o, name, mixspec, true);
    } else if (mix) {
        add_test(o, "MIX", mix, true);
    } else {
        add_tests(o, tests ? tests : "set,get");
    }
    if (o->threads > o->conns) o->threads = o->conns;
}

static void on_sigint(int sig) {
    UNUSED(sig);
    if (atomic_exchange(&sb_interrupted, 1)) _exit(130); /* second Ctrl-C */
}

static void raise_fd_limit(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need + 64) {
        rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)need + 64);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct sb_conn *open_all(const struct sb_opts *o, SSL_CTX *tls) {
    struct sb_conn *conns = xcalloc((size_t)o->conns, sizeof(*conns));
    for (int i = 0; i < o->conns; i++) {
        char err[512];
        if (sb_conn_open(&conns[i], o, tls, err, sizeof(err)) < 0) {
            fprintf(stderr, "stash-benchmark: connection %d: %s\n", i + 1, err);
            exit(1);
        }
        conns[i].id = i;
    }
    return conns;
}

/* An LRANGE_<n> test reads "mylist": fill it first with enough elements
 * that every LRANGE returns n of them (as redis-benchmark pushes before
 * its LRANGE tests), whatever the push and pop tests before it left.
 * Not reported; 0, or -1 when a push failed. */
static int fill_list_for(const struct sb_opts *o, const struct sb_workload *wl, const struct sb_test *t,
                         struct sb_conn *conns) {
    uint32_t need = 0;
    for (int k = 0; k < t->nops; k++)
        if (t->ops[k].op == SB_OP_LRANGE && t->ops[k].arg > need) need = t->ops[k].arg;
    if (need == 0) return 0;
    static struct sb_test fill;
    memset(&fill, 0, sizeof(fill));
    fill.nops = 1;
    fill.total_weight = 1;
    snprintf(fill.name, sizeof(fill.name), "LPUSH (for LRANGE)");
    char e[160];
    if (sb_op_parse("lpush", o->proto, &fill.ops[0], e, sizeof(e)) != 0) return -1;
    struct sb_opts fo = *o;
    fo.requests = (uint64_t)need + 600;
    fo.duration = 0;
    struct sb_result r;
    sb_result_init(&r, &fill, o->precision);
    sb_run_test(&fo, wl, &fill, conns, &r);
    int rc = sb_result_failures(&r) ? -1 : 0;
    sb_result_free(&r);
    return rc;
}

int main(int argc, char **argv) {
    static struct sb_opts o;
    parse_args(&o, argc, argv);
    char err[512];
    if (sb_check_target(&o, err, sizeof(err)) < 0) die("%s", err);

    struct sb_workload wl;
    memset(&wl, 0, sizeof(wl));
    wl.proto = o.proto;
    wl.vsize = o.vsize;
    wl.multi = o.multi;
    wl.verify_content = o.verify_content;
    wl.plen = strlen(o.prefix);
    memcpy(wl.prefix, o.prefix, wl.plen);
    if (sb_keydist_init(&wl.dist, o.dist, o.keyspace, o.scramble, err, sizeof(err)) < 0)
        die("%s", err);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    raise_fd_limit(o.conns);

    SSL_CTX *tls = sb_tls_ctx(&o, err, sizeof(err));
    if (o.tls && !tls) die("%s", err);
    struct sb_conn *conns = open_all(&o, tls);

    int status = 0;
    static struct sb_test prefill_test;
    struct sb_result prefill, *pre = NULL;
    if (o.prefill) {
        prefill_test.nops = 1;
        prefill_test.total_weight = 1;
        prefill_test.sequential = true;
        snprintf(prefill_test.name, sizeof(prefill_test.name), "PREFILL");
        char e2[160];
        sb_op_parse("set", o.proto, &prefill_test.ops[0], e2, sizeof(e2));
        sb_result_init(&prefill, &prefill_test, o.precision);
        sb_run_test(&o, &wl, &prefill_test, conns, &prefill);
        pre = &prefill;
        if (sb_result_failures(&prefill)) status = 2;
        if (o.format == SB_OUT_TEXT && !o.quiet) sb_report_test_text(&o, &prefill);
    }
    struct sb_result *res = xcalloc((size_t)o.ntests, sizeof(*res));
    int done = 0;
    for (int i = 0; i < o.ntests && !atomic_load(&sb_interrupted); i++) {
        if (fill_list_for(&o, &wl, &o.tests[i], conns) != 0) status = 2;
        sb_result_init(&res[i], &o.tests[i], o.precision);
        sb_run_test(&o, &wl, &o.tests[i], conns, &res[i]);
        done++;
        if (sb_result_failures(&res[i])) status = 2;
        if (o.format == SB_OUT_TEXT && !o.quiet) sb_report_test_text(&o, &res[i]);
    }
    sb_report_all(&o, res, done, pre);
    if (atomic_load(&sb_interrupted) && status == 0) status = 130;

    for (int i = 0; i < done; i++) sb_result_free(&res[i]);
    if (pre) sb_result_free(pre);
    xfree(res);
    for (int i = 0; i < o.conns; i++) sb_conn_close(&conns[i]);
    xfree(conns);
    if (tls) SSL_CTX_free(tls);
    return status;
}
