/*
 * server/mc_options.c - memcached's command line; see mc_options.h.
 *
 * Parsing follows memcached 1.6.18's rules as observed: numbers go through
 * atoi/atof where memcached uses them (so "-m 64m" is 64 and "-I 2g" is 2),
 * the checks run in memcached's order after all options are read, and a
 * refusal prints memcached's message and exits with its status (1, or
 * EX_USAGE 64 for the later checks, EX_NOUSER 67, EX_OSERR 71).
 *
 * Mapping onto Stash (the configuration text handed to config_load):
 *   -p/-U/-s/-a/-l  memcached listeners (memcache_settings); the Redis port
 *                   is off (port 0). -s disables TCP and UDP, as memcached
 *                   (the composition root opens only the socket then).
 *   -t N            threads N          -c N   maxclients N
 *   -m N            maxmemory N MB, maxmemory-policy allkeys-lru
 *   -M              maxmemory-policy noeviction: stores fail with
 *                   "SERVER_ERROR out of memory storing object"
 *   -b N            tcp-backlog        -o idle_timeout=N   timeout N
 *   -d / -P file    daemonize / pidfile   -v, -vv   loglevel verbose, debug
 *   -I -C -F -A -W -X -B -D   the memcached engine's behaviour
 *   database 0 only (databases 1): memcached has one keyspace.
 *   -S              SASL PLAIN on the binary protocol; the password database is
 *                   the "user:password" file named by MEMCACHED_SASL_PWDB
 *                   (memcached's --enable-sasl-pwdb convention; Cyrus SASL's
 *                   sasldb is not read)
 *   -Y file         the text protocol's login (memcached's authfile)
 *   -Z -o ssl_*     TLS on the TCP listeners (memcached's options, checks
 *                   and messages; the context is built at start).
 */
#include "server/mc_options.h"
#include "base/buf.h"
#include "base/common.h"
#include "cmd/memcache.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define EX_USAGE_ 64
#define EX_NOUSER_ 67
#define EX_OSERR_ 71
#define CONTINUE (-1)

#define MC_VERSION "1.6.18"
#define SLAB_PAGE_SIZE (1024 * 1024)
#define ITEM_SIZE_MAX_LOWER 1024
#define ITEM_SIZE_MAX_UPPER (1024 * 1024 * 1024)

int mc_options_engine(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--engine") == 0 && strcmp(argv[2], "memcached") == 0) return 3;
    if (argc >= 2 && strcmp(argv[1], "--engine=memcached") == 0) return 2;
    return 0;
}

static void usage(void) {
    printf("stash-server --engine memcached (memcached " MC_VERSION " compatible)\n"
           "-p, --port=<num>          TCP port (default: 11211, 0 disables)\n"
           "-U, --udp-port=<num>      UDP port (default: 0, off)\n"
           "-s, --unix-socket=<file>  UNIX socket to listen on (disables TCP and UDP)\n"
           "-a, --unix-mask=<mask>    permissions of the UNIX socket, octal (default: 700)\n"
           "-A, --enable-shutdown     allow the \"shutdown\" command\n"
           "-l, --listen=<addr>       interfaces to listen on, comma separated, optionally <addr>:<port>\n"
           "                          (default: all)\n"
           "-d, --daemon              run in the background\n"
           "-r, --enable-coredumps    raise the core file size limit\n"
           "-u, --user=<user>         run as this user (required when started as root)\n"
           "-m, --memory-limit=<num>  memory for items in megabytes (default: 64)\n"
           "-M, --disable-evictions   answer out-of-memory errors instead of evicting\n"
           "-c, --conn-limit=<num>    maximum simultaneous connections (default: 1024)\n"
           "-k, --lock-memory         lock all pages in memory\n"
           "-v, --verbose             verbose logging (-vv: also every command)\n"
           "-h, --help                this help\n"
           "-i, --license             license information\n"
           "-V, --version             version\n"
           "-P, --pidfile=<file>      write the process id to <file>\n"
           "-f, --slab-growth-factor=<num>  accepted for compatibility (default: 1.25)\n"
           "-n, --slab-min-size=<bytes>     accepted for compatibility (default: 48)\n"
           "-L, --enable-largepages   accepted for compatibility\n"
           "-D <char>                 key prefix delimiter of \"stats detail\" (turns it on)\n"
           "-t, --threads=<num>       worker threads (default: 4)\n"
           "-R, --max-reqs-per-event  accepted for compatibility (default: 20)\n"
           "-C, --disable-cas         no CAS values\n"
           "-b, --listen-backlog=<num> listen backlog (default: 1024)\n"
           "-B, --protocol=<name>     ascii, binary or auto (default: auto)\n"
           "-I, --max-item-size=<num> largest item, with k or m suffix (default: 1m, min 1k, max 1024m)\n"
           "-S, --enable-sasl         turn on SASL authentication (PLAIN; binary protocol); the\n"
           "                          passwords: $MEMCACHED_SASL_PWDB, a file of user:password lines\n"
           "-F, --disable-flush-all   refuse flush_all\n"
           "-X, --disable-dumping     refuse stats cachedump and lru_crawler metadump\n"
           "-W, --disable-watch       refuse watch\n"
           "-Y, --auth-file=<file>    enable ASCII protocol authentication. format:\n"
           "                          user:pass\\nuser2:pass2\\n\n"
           "-e, --memory-file=<file>  accepted for compatibility (no restartable cache)\n"
           "-Z, --enable-ssl          TLS on the TCP listeners (-l notls:<addr> keeps one plain)\n"
           "-N, --napi_ids            accepted for compatibility\n"
           "-o, --extended            comma separated memcached extended options; those that tune\n"
           "                          memcached's slabs, LRU and hash table are accepted and shown\n"
           "                          by \"stats settings\"; idle_timeout=<s> closes idle connections;\n"
           "                          TLS: ssl_chain_cert=<file>, ssl_key=<file>, ssl_keyformat=<1 PEM|2 DER>,\n"
           "                          ssl_ca_cert=<file>, ssl_verify_mode=<0 none|1 request|2 require|3 once>,\n"
           "                          ssl_ciphers=<list>, ssl_min_version=<0..3: tlsv1.0..tlsv1.3>,\n"
           "                          ssl_session_cache, ssl_wbuf_size=<KiB>, ssl_kernel_tls\n");
}

static void license(void) {
    printf("stash-server (memcached " MC_VERSION " compatible engine)\n\n"
           "Stash is open-source software; see its LICENSE file. It implements the memcached\n"
           "protocols as documented by the memcached project (BSD license) and contains no\n"
           "memcached code.\n");
}

/* ---- -o suboptions ---------------------------------------------------------------------- */

struct parse_state {
    struct memcache_settings *ms;
    bool slab_chunk_changed;
    bool start_lru_maintainer;
    bool has_slab_sizes;
    char slab_sizes[256];
};

static bool strtoul_ok(const char *s, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno == ERANGE || end == s) return false;
    if (!(*end == '\0' || (*end >= '\t' && *end <= '\r') || *end == ' ')) return false;
    if ((long)v < 0 && strchr(s, '-')) return false;
    *out = v;
    return true;
}

static bool strtol_ok(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || end == s) return false;
    if (!(*end == '\0' || (*end >= '\t' && *end <= '\r') || *end == ' ')) return false;
    *out = v;
    return true;
}

#define NEED_VALUE(msg)                                                                                       \
    do {                                                                                                      \
        if (val == NULL) {                                                                                    \
            fprintf(stderr, msg "\n");                                                                        \
            return 1;                                                                                         \
        }                                                                                                     \
    } while (0)

/* One -o ssl_* item (memcached's TLS settings, its messages). */
static int ssl_suboption(struct memcache_settings *ms, const char *name, const char *val, const char *whole) {
    long l;
    unsigned long ul;
    struct {
        const char *name;
        char *dst;
    } files[] = {{"ssl_chain_cert", ms->ssl_chain_cert}, {"ssl_key", ms->ssl_key},
                 {"ssl_ciphers", ms->ssl_ciphers},       {"ssl_ca_cert", ms->ssl_ca_cert}};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        if (strcmp(name, files[i].name) != 0) continue;
        if (val == NULL) {
            fprintf(stderr, "Missing %s argument\n", name);
            return 1;
        }
        snprintf(files[i].dst, sizeof(ms->ssl_key), "%s", val);
        return CONTINUE;
    }
    if (strcmp(name, "ssl_verify_mode") == 0 || strcmp(name, "ssl_min_version") == 0) {
        bool verify = name[4] == 'v';
        if (val == NULL) {
            fprintf(stderr, "Missing %s argument\n", name);
            return 1;
        }
        if (!strtol_ok(val, &l)) {
            fprintf(stderr, "could not parse argument to %s\n", name);
            return 1;
        }
        if (l < 0 || l > 3) {
            fprintf(stderr, verify ? "Invalid ssl_verify_mode. Use help to see valid options.\n"
                                   : "Invalid ssl_min_version. Use help to see valid options.\n");
            return 1;
        }
        if (verify)
            ms->ssl_verify_mode = (int)l;
        else
            ms->ssl_min_version = (int)l;
    } else if (strcmp(name, "ssl_keyformat") == 0) {
        NEED_VALUE("Missing ssl_keyformat argument");
        if (!strtol_ok(val, &l)) {
            fprintf(stderr, "could not parse argument to ssl_keyformat\n");
            return 1;
        }
        ms->ssl_keyformat = (int)l;
    } else if (strcmp(name, "ssl_wbuf_size") == 0) {
        NEED_VALUE("Missing ssl_wbuf_size argument");
        if (!strtoul_ok(val, &ul)) {
            fprintf(stderr, "could not parse argument to ssl_wbuf_size\n");
            return 1;
        }
        ms->ssl_wbuf_size = (unsigned)ul * 1024;
    } else if (strcmp(name, "ssl_session_cache") == 0) {
        ms->ssl_session_cache = true;
    } else if (strcmp(name, "ssl_kernel_tls") == 0) {
        ms->ssl_kernel_tls = true;
    } else {
        fprintf(stderr, "Illegal suboption \"%s\"\n", whole);
        return 1;
    }
    return CONTINUE;
}

/* One -o item (name or name=value). Returns CONTINUE or an exit status. */
static int suboption(struct parse_state *st, const char *name, const char *val, const char *whole) {
    struct memcache_settings *ms = st->ms;
    unsigned long ul;
    long l;
    if (strcmp(name, "maxconns_fast") == 0) {
        ms->maxconns_fast = true;
    } else if (strcmp(name, "no_maxconns_fast") == 0) {
        ms->maxconns_fast = false;
    } else if (strcmp(name, "hashpower") == 0) {
        NEED_VALUE("Missing numeric argument for hashpower");
        ms->hashpower_init = atoi(val);
        if (ms->hashpower_init < 12) {
            fprintf(stderr, "Initial hashtable multiplier of %d is too low\n", ms->hashpower_init);
            return 1;
        }
        if (ms->hashpower_init > 32) {
            fprintf(stderr,
                    "Initial hashtable multiplier of %d is too high\n"
                    "Choose a value based on \"STAT hash_power_level\" from a running instance\n",
                    ms->hashpower_init);
            return 1;
        }
    } else if (strcmp(name, "no_hashexpand") == 0 || strcmp(name, "modern") == 0 ||
               strcmp(name, "no_inline_ascii_resp") == 0 || strcmp(name, "inline_ascii_resp") == 0 ||
               strcmp(name, "no_drop_privileges") == 0 || strcmp(name, "drop_privileges") == 0) {
        /* nothing to do here */
    } else if (strcmp(name, "slab_reassign") == 0) {
        ms->slab_reassign = true;
    } else if (strcmp(name, "no_slab_reassign") == 0) {
        ms->slab_reassign = false;
    } else if (strcmp(name, "slab_automove") == 0) {
        if (val == NULL) {
            ms->slab_automove = 1;
        } else {
            ms->slab_automove = atoi(val);
            if (ms->slab_automove < 0 || ms->slab_automove > 2) {
                fprintf(stderr, "slab_automove must be between 0 and 2\n");
                return 1;
            }
        }
    } else if (strcmp(name, "no_slab_automove") == 0) {
        ms->slab_automove = 0;
    } else if (strcmp(name, "slab_automove_ratio") == 0) {
        NEED_VALUE("Missing slab_automove_ratio argument");
        ms->slab_automove_ratio = atof(val);
        if (ms->slab_automove_ratio <= 0 || ms->slab_automove_ratio > 1) {
            fprintf(stderr, "slab_automove_ratio must be > 0 and < 1\n");
            return 1;
        }
    } else if (strcmp(name, "slab_automove_window") == 0) {
        NEED_VALUE("Missing slab_automove_window argument");
        ms->slab_automove_window = (unsigned)atoi(val);
        if (atoi(val) < 3) {
            fprintf(stderr, "slab_automove_window must be > 2\n");
            return 1;
        }
    } else if (strcmp(name, "tail_repair_time") == 0) {
        NEED_VALUE("Missing numeric argument for tail_repair_time");
        ms->tail_repair_time = atoi(val);
        if (ms->tail_repair_time < 10) {
            fprintf(stderr, "Cannot set tail_repair_time to less than 10 seconds\n");
            return 1;
        }
    } else if (strcmp(name, "hash_algorithm") == 0) {
        NEED_VALUE("Missing hash_algorithm argument");
        if (strcmp(val, "jenkins") != 0 && strcmp(val, "murmur3") != 0 && strcmp(val, "xxh3") != 0) {
            fprintf(stderr, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n");
            return 1;
        }
        snprintf(ms->hash_algorithm, sizeof(ms->hash_algorithm), "%s", val);
    } else if (strcmp(name, "lru_crawler") == 0) {
        ms->lru_crawler = true;
    } else if (strcmp(name, "no_lru_crawler") == 0) {
        ms->lru_crawler = false;
    } else if (strcmp(name, "lru_crawler_sleep") == 0) {
        NEED_VALUE("Missing lru_crawler_sleep value");
        ms->lru_crawler_sleep = atoi(val);
        if (ms->lru_crawler_sleep > 1000000 || ms->lru_crawler_sleep < 0) {
            fprintf(stderr, "LRU crawler sleep must be between 0 and 1 second\n");
            return 1;
        }
    } else if (strcmp(name, "lru_crawler_tocrawl") == 0) {
        NEED_VALUE("Missing lru_crawler_tocrawl value");
        if (!strtoul_ok(val, &ul)) {
            fprintf(stderr, "lru_crawler_tocrawl takes a numeric 32bit value\n");
            return 1;
        }
        ms->lru_crawler_tocrawl = (unsigned)ul;
    } else if (strcmp(name, "lru_maintainer") == 0) {
        st->start_lru_maintainer = true;
        ms->lru_maintainer = true;
        ms->lru_segmented = true;
    } else if (strcmp(name, "no_lru_maintainer") == 0) {
        st->start_lru_maintainer = false;
        ms->lru_maintainer = false;
        ms->lru_segmented = false;
    } else if (strcmp(name, "hot_lru_pct") == 0 || strcmp(name, "warm_lru_pct") == 0) {
        bool hot = name[0] == 'h';
        if (val == NULL) {
            fprintf(stderr, hot ? "Missing hot_lru_pct argument\n" : "Missing warm_lru_pct argument\n");
            return 1;
        }
        int v = atoi(val);
        if (v < 1 || v >= 80) {
            fprintf(stderr, hot ? "hot_lru_pct must be > 1 and < 80\n" : "warm_lru_pct must be > 1 and < 80\n");
            return 1;
        }
        if (hot)
            ms->hot_lru_pct = v;
        else
            ms->warm_lru_pct = v;
    } else if (strcmp(name, "hot_max_factor") == 0 || strcmp(name, "warm_max_factor") == 0) {
        bool hot = name[0] == 'h';
        if (val == NULL) {
            fprintf(stderr, hot ? "Missing hot_max_factor argument\n" : "Missing warm_max_factor argument\n");
            return 1;
        }
        double f = atof(val);
        if (f <= 0) {
            fprintf(stderr, hot ? "hot_max_factor must be > 0\n" : "warm_max_factor must be > 0\n");
            return 1;
        }
        if (hot)
            ms->hot_max_factor = f;
        else
            ms->warm_max_factor = f;
    } else if (strcmp(name, "temporary_ttl") == 0) {
        NEED_VALUE("Missing temporary_ttl argument");
        ms->temp_lru = true;
        ms->temporary_ttl = (unsigned)atoi(val);
    } else if (strcmp(name, "idle_timeout") == 0) {
        NEED_VALUE("Missing numeric argument for idle_timeout");
        ms->idle_timeout = atoi(val);
    } else if (strcmp(name, "watcher_logbuf_size") == 0 || strcmp(name, "worker_logbuf_size") == 0) {
        bool watcher = name[1] == 'a';
        if (val == NULL) {
            fprintf(stderr, watcher ? "Missing watcher_logbuf_size argument\n" : "Missing worker_logbuf_size argument\n");
            return 1;
        }
        if (!strtoul_ok(val, &ul)) {
            fprintf(stderr, watcher ? "could not parse argument to watcher_logbuf_size\n"
                                    : "could not parse argument to worker_logbuf_size\n");
            return 1;
        }
        if (watcher)
            ms->watcher_logbuf_size = (unsigned)ul * 1024;
        else
            ms->worker_logbuf_size = (unsigned)ul * 1024;
    } else if (strcmp(name, "slab_sizes") == 0) {
        if (val) snprintf(st->slab_sizes, sizeof(st->slab_sizes), "%s", val);
        st->has_slab_sizes = true;
    } else if (strcmp(name, "slab_chunk_max") == 0) {
        if (val == NULL) fprintf(stderr, "Missing slab_chunk_max argument\n");
        if (val == NULL || !strtol_ok(val, &l))
            fprintf(stderr, "could not parse argument to slab_chunk_max\n");
        else
            ms->slab_chunk_max = (int)l;
        st->slab_chunk_changed = true;
    } else if (strcmp(name, "track_sizes") == 0) {
        ms->track_sizes = true;
    } else if (strcmp(name, "no_chunked_items") == 0) {
        ms->slab_chunk_max = SLAB_PAGE_SIZE;
    } else if (strcmp(name, "no_modern") == 0) {
        if (!st->slab_chunk_changed) ms->slab_chunk_max = SLAB_PAGE_SIZE;
        ms->slab_reassign = false;
        ms->slab_automove = 0;
        ms->maxconns_fast = false;
        ms->lru_segmented = false;
        snprintf(ms->hash_algorithm, sizeof(ms->hash_algorithm), "jenkins");
        ms->lru_crawler = false;
        st->start_lru_maintainer = false;
        ms->lru_maintainer = false;
    } else if (strcmp(name, "resp_obj_mem_limit") == 0) {
        fprintf(stderr, "DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,\n");
    } else if (strcmp(name, "read_buf_mem_limit") == 0) {
        NEED_VALUE("Missing read_buf_mem_limit argument");
        if (!strtoul_ok(val, &ul)) {
            fprintf(stderr, "could not parse argument to read_buf_mem_limit\n");
            return 1;
        }
        ms->read_buf_mem_limit = (unsigned)ul * 1024 * 1024;
    } else if (strncmp(name, "ssl_", 4) == 0) {
        return ssl_suboption(ms, name, val, whole);
    } else if (strncmp(name, "ext_", 4) == 0 || strcmp(name, "slab_automove_freeratio") == 0 ||
               strcmp(name, "sock_cookie_id") == 0 || strcmp(name, "proxy_config") == 0 ||
               strcmp(name, "proxy_uring") == 0) {
        /* external storage and proxy tuning: accepted, not used */
    } else {
        fprintf(stderr, "Illegal suboption \"%s\"\n", whole);
        return 1;
    }
    return CONTINUE;
}

static int suboptions(struct parse_state *st, const char *arg) {
    char *copy = strdup(arg);
    int rc = CONTINUE;
    for (char *item = copy, *next; item && *item && rc == CONTINUE; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        char whole[256];
        snprintf(whole, sizeof(whole), "%s", item);
        char *eq = strchr(item, '=');
        if (eq) *eq++ = '\0';
        rc = suboption(st, item, eq, whole);
    }
    free(copy);
    return rc;
}

static bool parse_slab_sizes(const struct parse_state *st) {
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", st->slab_sizes);
    if (copy[0] == '\0') return false;
    unsigned long last = 0;
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(copy, "-", &save); p; p = strtok_r(NULL, "-", &save)) {
        unsigned long size = 0;
        if (!strtoul_ok(p, &size) || size < (unsigned long)st->ms->chunk_size ||
            size > (unsigned long)st->ms->slab_chunk_max) {
            fprintf(stderr, "slab size %u is out of valid range\n", (unsigned)size);
            return false;
        }
        if (last >= size) {
            fprintf(stderr, "slab size %u cannot be lower than or equal to a previous class size\n", (unsigned)size);
            return false;
        }
        if (size <= last + 8) {
            fprintf(stderr, "slab size %u must be at least %d bytes larger than previous class\n", (unsigned)size, 8);
            return false;
        }
        last = size;
        if (++n >= 63) {
            fprintf(stderr, "too many slab classes specified\n");
            return false;
        }
    }
    return true;
}

/* ---- -l ----------------------------------------------------------------------------------- */

/* Split memcached's interface list ("a,b;c", each "addr", "addr:port",
 * "[v6]:port" or with a "notls:" prefix) into the settings. */
static int add_interfaces(struct memcache_settings *ms, const char *list) {
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", list);
    char *save = NULL;
    for (char *p = strtok_r(copy, ",;", &save); p; p = strtok_r(NULL, ",;", &save)) {
        bool notls = strncmp(p, "notls:", 6) == 0;
        if (notls) p += 6;
        if (ms->nlisten >= (int)ARRAY_LEN(ms->listen)) return -1;
        ms->listen_notls[ms->nlisten] = notls;
        char *addr = p;
        int port = 0;
        if (p[0] == '[') {
            char *close = strchr(p, ']');
            if (close) {
                *close = '\0';
                addr = p + 1;
                if (close[1] == ':') port = atoi(close + 2);
            }
        } else {
            char *colon = strchr(p, ':');
            if (colon && strchr(colon + 1, ':') == NULL) { /* one colon: addr:port (IPv6 needs brackets) */
                *colon = '\0';
                port = atoi(colon + 1);
            }
        }
        snprintf(ms->listen[ms->nlisten], sizeof(ms->listen[0]), "%s", addr);
        ms->listen_port[ms->nlisten] = port;
        ms->nlisten++;
    }
    return 0;
}

/* ---- the command line --------------------------------------------------------------------- */

static const char shortopts[] = "a:AZp:s:U:m:Mc:khiVrvdl:u:P:f:n:t:D:LR:Cb:B:I:SFXWY:e:o:N:";

static const struct option longopts[] = {
    {"unix-mask", required_argument, 0, 'a'},        {"enable-shutdown", no_argument, 0, 'A'},
    {"enable-ssl", no_argument, 0, 'Z'},             {"port", required_argument, 0, 'p'},
    {"unix-socket", required_argument, 0, 's'},      {"udp-port", required_argument, 0, 'U'},
    {"memory-limit", required_argument, 0, 'm'},     {"disable-evictions", no_argument, 0, 'M'},
    {"conn-limit", required_argument, 0, 'c'},       {"lock-memory", no_argument, 0, 'k'},
    {"help", no_argument, 0, 'h'},                   {"license", no_argument, 0, 'i'},
    {"version", no_argument, 0, 'V'},                {"enable-coredumps", no_argument, 0, 'r'},
    {"verbose", optional_argument, 0, 'v'},          {"daemon", no_argument, 0, 'd'},
    {"listen", required_argument, 0, 'l'},           {"user", required_argument, 0, 'u'},
    {"pidfile", required_argument, 0, 'P'},          {"slab-growth-factor", required_argument, 0, 'f'},
    {"slab-min-size", required_argument, 0, 'n'},    {"threads", required_argument, 0, 't'},
    {"enable-largepages", no_argument, 0, 'L'},      {"max-reqs-per-event", required_argument, 0, 'R'},
    {"disable-cas", no_argument, 0, 'C'},            {"listen-backlog", required_argument, 0, 'b'},
    {"protocol", required_argument, 0, 'B'},         {"max-item-size", required_argument, 0, 'I'},
    {"enable-sasl", no_argument, 0, 'S'},            {"disable-flush-all", no_argument, 0, 'F'},
    {"disable-dumping", no_argument, 0, 'X'},        {"disable-watch", no_argument, 0, 'W'},
    {"auth-file", required_argument, 0, 'Y'},        {"memory-file", required_argument, 0, 'e'},
    {"extended", required_argument, 0, 'o'},         {"napi-ids", required_argument, 0, 'N'},
    {0, 0, 0, 0},
};

/* memcached's -I: a number with an optional k/m suffix, through atoi, in a
 * 32-bit int (so "-I 2048m" wraps negative and is "less than 1024"). */
static long long item_size_arg(const char *arg) {
    size_t n = strlen(arg);
    char unit = n ? arg[n - 1] : '\0';
    if (unit == 'k' || unit == 'K' || unit == 'm' || unit == 'M') {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*s", (int)(n - 1), arg);
        uint32_t v = (uint32_t)atoi(buf);
        v *= (unit == 'k' || unit == 'K') ? 1024u : 1024u * 1024u;
        return (int32_t)v;
    }
    return atoi(arg);
}

static int switch_user(const char *username) {
    if (getuid() != 0 && geteuid() != 0) return CONTINUE;
    if (username == NULL || *username == '\0') {
        fprintf(stderr, "can't run as root without the -u switch\n");
        return EX_USAGE_;
    }
    struct passwd *pw = getpwnam(username);
    if (pw == NULL) {
        fprintf(stderr, "can't find the user %s to switch to\n", username);
        return EX_NOUSER_;
    }
    if (setgroups(0, NULL) < 0) {
        bool fatal = errno != EPERM;
        fprintf(stderr, "failed to drop supplementary groups: %s\n", strerror(errno));
        if (fatal) return EX_OSERR_;
    }
    if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "failed to assume identity of user %s\n", username);
        return EX_OSERR_;
    }
    return CONTINUE;
}

int mc_options_parse(int argc, char **argv, char **config) {
    struct memcache_settings *ms = memcache_settings();
    struct parse_state st;
    memset(&st, 0, sizeof(st));
    st.ms = ms;
    st.start_lru_maintainer = true;
    ms->engine = true;
    ms->port = 11211;
    ms->udp_port = 0;
    bool tcp_specified = false, udp_specified = false, protocol_specified = false;
    bool daemonize = false, lock_memory = false, maxcore = false;
    const char *username = NULL, *pidfile = NULL;
    int napi_ids = 0;
    int rc;
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'A': ms->shutdown_enabled = true; break;
        case 'Z': ms->ssl_enabled = true; break;
        case 'a': ms->unixsocket_perm = (int)strtol(optarg, NULL, 8); break;
        case 'U':
            ms->udp_port = atoi(optarg);
            udp_specified = true;
            break;
        case 'p':
            ms->port = atoi(optarg);
            tcp_specified = true;
            break;
        case 's': snprintf(ms->unixsocket, sizeof(ms->unixsocket), "%s", optarg); break;
        case 'm': ms->maxbytes = (long long)((size_t)atoi(optarg) * 1024 * 1024); break;
        case 'M': ms->evict_to_free = false; break;
        case 'c':
            ms->maxconns = atoi(optarg);
            if (ms->maxconns <= 0) {
                fprintf(stderr, "Maximum connections must be greater than 0\n");
                return 1;
            }
            break;
        case 'h': usage(); return 0;
        case 'i': license(); return 0;
        case 'V': printf("memcached " MC_VERSION " (stash-server " STASH_VERSION ")\n"); return 0;
        case 'k': lock_memory = true; break;
        case 'v': ms->verbose++; break;
        case 'l':
            if (ms->inter[0] && strstr(ms->inter, optarg)) break;
            if (ms->inter[0]) {
                size_t n = strlen(ms->inter);
                snprintf(ms->inter + n, sizeof(ms->inter) - n, ",%s", optarg);
            } else {
                snprintf(ms->inter, sizeof(ms->inter), "%s", optarg);
            }
            break;
        case 'd': daemonize = true; break;
        case 'r': maxcore = true; break;
        case 'R':
            ms->reqs_per_event = atoi(optarg);
            if (ms->reqs_per_event == 0) {
                fprintf(stderr, "Number of requests per event must be greater than 0\n");
                return 1;
            }
            break;
        case 'u': username = optarg; break;
        case 'P': pidfile = optarg; break;
        case 'e': break; /* restartable cache: not available, runs without it */
        case 'f':
            ms->factor = atof(optarg);
            if (ms->factor <= 1.0) {
                fprintf(stderr, "Factor must be greater than 1\n");
                return 1;
            }
            break;
        case 'n':
            ms->chunk_size = atoi(optarg);
            if (ms->chunk_size == 0) {
                fprintf(stderr, "Chunk size must be greater than 0\n");
                return 1;
            }
            break;
        case 't':
            ms->threads = atoi(optarg);
            if (ms->threads <= 0) {
                fprintf(stderr, "Number of threads must be greater than 0\n");
                return 1;
            }
            if (ms->threads > 64)
                fprintf(stderr, "WARNING: Setting a high number of worker"
                                "threads is not recommended.\n"
                                " Set this value to the number of cores in"
                                " your machine or less.\n");
            break;
        case 'D':
            if (optarg == NULL || optarg[0] == '\0') {
                fprintf(stderr, "No delimiter specified\n");
                return 1;
            }
            ms->prefix_delimiter = optarg[0];
            ms->detail_enabled = true;
            break;
        case 'L': break; /* large pages: the allocator decides */
        case 'C': ms->use_cas = false; break;
        case 'b': ms->backlog = atoi(optarg); break;
        case 'B':
            protocol_specified = true;
            if (strcmp(optarg, "auto") == 0) {
                ms->binding = MEMCACHE_AUTO;
            } else if (strcmp(optarg, "binary") == 0) {
                ms->binding = MEMCACHE_BINARY;
            } else if (strcmp(optarg, "ascii") == 0) {
                ms->binding = MEMCACHE_ASCII;
            } else {
                fprintf(stderr,
                        "Invalid value for binding protocol: %s\n"
                        " -- should be one of auto, binary, or ascii\n",
                        optarg);
                return EX_USAGE_;
            }
            break;
        case 'I': ms->item_size_max = item_size_arg(optarg); break;
        case 'S': {
            ms->sasl = true;
            const char *pwdb = getenv("MEMCACHED_SASL_PWDB");
            snprintf(ms->sasl_pwdb, sizeof(ms->sasl_pwdb), "%s", pwdb ? pwdb : "");
            break;
        }
        case 'F': ms->flush_enabled = false; break;
        case 'X': ms->dump_enabled = false; break;
        case 'W': ms->watch_enabled = false; break;
        case 'Y': snprintf(ms->auth_file, sizeof(ms->auth_file), "%s", optarg); break;
        case 'N':
            napi_ids = atoi(optarg);
            if (napi_ids <= 0) {
                fprintf(stderr, "Maximum number of NAPI IDs must be greater than 0\n");
                return 1;
            }
            break;
        case 'o':
            if ((rc = suboptions(&st, optarg)) != CONTINUE) return rc;
            break;
        default: fprintf(stderr, "Illegal argument \"%c\"\n", c); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Illegal argument \"%s\"\n", argv[optind]);
        return 1;
    }

    /* The checks memcached makes once every option is known, in its order. */
    if (napi_ids > ms->threads) {
        fprintf(stderr, "Number of napi_ids(%d) cannot be greater than number of threads(%d)\n", napi_ids,
                ms->threads);
        return EX_USAGE_;
    }
    if (ms->item_size_max < ITEM_SIZE_MAX_LOWER) {
        fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
        return EX_USAGE_;
    }
    if ((unsigned long long)ms->item_size_max > (unsigned long long)ms->maxbytes / 2) {
        fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
        return EX_USAGE_;
    }
    if (ms->item_size_max > ITEM_SIZE_MAX_UPPER) {
        fprintf(stderr, "Cannot set item size limit higher than a gigabyte.\n");
        return EX_USAGE_;
    }
    if (ms->item_size_max > 1024 * 1024 && !st.slab_chunk_changed) ms->slab_chunk_max = SLAB_PAGE_SIZE / 2;
    if (ms->slab_chunk_max > ms->item_size_max) {
        fprintf(stderr, "slab_chunk_max (bytes: %d) cannot be larger than -I (item_size_max %lld)\n",
                ms->slab_chunk_max, ms->item_size_max);
        return EX_USAGE_;
    }
    if (ms->slab_chunk_max <= 0 || ms->item_size_max % ms->slab_chunk_max != 0) {
        fprintf(stderr, "-I (item_size_max: %lld) must be evenly divisible by slab_chunk_max (bytes: %d)\n",
                ms->item_size_max, ms->slab_chunk_max);
        return EX_USAGE_;
    }
    if (SLAB_PAGE_SIZE % ms->slab_chunk_max != 0) {
        fprintf(stderr, "slab_chunk_max (bytes: %d) must divide evenly into %d (slab_page_size)\n",
                ms->slab_chunk_max, SLAB_PAGE_SIZE);
        return EX_USAGE_;
    }
    if (st.has_slab_sizes && !parse_slab_sizes(&st)) return EX_USAGE_;
    if (ms->hot_lru_pct + ms->warm_lru_pct > 80) {
        fprintf(stderr, "hot_lru_pct + warm_lru_pct cannot be more than 80%% combined\n");
        return EX_USAGE_;
    }
    if (ms->temp_lru && !st.start_lru_maintainer) {
        fprintf(stderr, "temporary_ttl requires lru_maintainer to be enabled\n");
        return EX_USAGE_;
    }
    if (ms->sasl) {
        if (!protocol_specified) {
            ms->binding = MEMCACHE_BINARY;
        } else if (ms->binding != MEMCACHE_BINARY) {
            fprintf(stderr, "ERROR: You cannot allow the ASCII protocol while using SASL.\n");
            return EX_USAGE_;
        }
        if (ms->udp_port) {
            fprintf(stderr, "ERROR: Cannot enable UDP while using binary SASL authentication.\n");
            return EX_USAGE_;
        }
    }
    if (ms->auth_file[0]) {
        if (!protocol_specified) {
            ms->binding = MEMCACHE_ASCII;
        } else if (ms->binding != MEMCACHE_ASCII) {
            fprintf(stderr, "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.\n");
            return EX_USAGE_;
        }
    }
    if (udp_specified && ms->udp_port != 0 && !tcp_specified) ms->port = ms->udp_port;
    if (ms->port > 65535) {
        fprintf(stderr, "ERROR: Invalid port number %d.\n", ms->port);
        return EX_USAGE_;
    }
    if (ms->auth_file[0] && ms->udp_port) {
        fprintf(stderr, "Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n");
        return EX_USAGE_;
    }
    if (ms->ssl_enabled) { /* before dropping privileges: the key may be root's only */
        if (ms->port == 0) {
            fprintf(stderr, "ERROR: You cannot enable SSL without a TCP port.\n");
            return EX_USAGE_;
        }
        char err[2048];
        if (memcache_tls_start(err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return EX_USAGE_;
        }
    }
    if (maxcore) {
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        if (setrlimit(RLIMIT_CORE, &rl) != 0 && getrlimit(RLIMIT_CORE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_CORE, &rl);
        }
        if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur == 0) {
            fprintf(stderr, "failed to ensure corefile creation\n");
            return EX_OSERR_;
        }
    }
    if ((rc = switch_user(username)) != CONTINUE) return rc;
    if (lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k invalid, mlockall() failed: %s\n", strerror(errno));
    if (ms->inter[0] && add_interfaces(ms, ms->inter) != 0) {
        fprintf(stderr, "Too many interfaces in -l\n");
        return EX_USAGE_;
    }

    struct buf b = BUF_INIT;
    /* memcached keeps nothing on disk: no save points, no dump.rdb loaded */
    buf_printf(&b, "port 0\ndatabases 1\nsave \"\"\ndbfilename \"\"\n");
    buf_printf(&b, "threads %d\n", ms->threads > 128 ? 128 : ms->threads);
    buf_printf(&b, "maxclients %d\n", ms->maxconns);
    buf_printf(&b, "maxmemory %lld\n", ms->maxbytes < 0 ? 0 : ms->maxbytes); /* wrapped -m: no limit */
    buf_printf(&b, "maxmemory-policy %s\n", ms->evict_to_free ? "allkeys-lru" : "noeviction");
    buf_printf(&b, "tcp-backlog %d\n", ms->backlog < 0 ? 0 : ms->backlog);
    buf_printf(&b, "timeout %d\n", ms->idle_timeout < 0 ? 0 : ms->idle_timeout);
    buf_printf(&b, "loglevel %s\n", ms->verbose >= 2 ? "debug" : ms->verbose == 1 ? "verbose" : "notice");
    if (daemonize) buf_printf(&b, "daemonize yes\n");
    if (pidfile) buf_printf(&b, "pidfile \"%s\"\n", pidfile);
    buf_putc(&b, '\0');
    *config = b.data;
    return CONTINUE;
}
