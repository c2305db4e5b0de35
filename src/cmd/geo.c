/*
 * cmd/geo.c - the GEO family: GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH
 * GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER GEORADIUS_RO
 * GEORADIUSBYMEMBER_RO, on sorted sets whose scores are 52-bit geohashes
 * (types/geohash), with Redis 7.0's replies, errors and effects.
 *
 * GEOADD is ZADD with the computed scores: it runs cmd/zset's ZADD on the
 *   rewritten arguments and is propagated as that ZADD ("zadd" event), as
 *   Redis does. The store variants write a sorted set of the found members
 *   (scores: the geohash, or the distance with STOREDIST), counting one
 *   change per stored member.
 *
 * Replies: distances with 4 decimals (Redis's fixedpoint_d2string),
 *   coordinates as "human" long doubles (%.17Lf without trailing zeros;
 *   RESP3 doubles), hashes as integers.
 *
 * Sorting: by distance, with a stable sort when every result is returned
 *   (Redis's qsort is glibc's merge sort) and with Redis's partial
 *   quicksort under COUNT, so that members at equal distances come in the
 *   same order as on Redis.
 *
 * Threading: [stripe-locked] on the stripes of the keys (source and store).
 */
#include "cmd/zset.h"
#include "base/alloc.h"
#include "base/str.h"
#include "types/geohash.h"

#include <math.h>
#include <stdio.h>

/* ---- argument helpers ----------------------------------------------------------------- */

/* Longitude and latitude from argv[i], argv[i+1]. */
static bool parse_lonlat(struct client *c, int i, double xy[2]) {
    for (int j = 0; j < 2; j++)
        if (!cmd_double(c, i + j, &xy[j])) return false;
    if (xy[0] < GEO_LONG_MIN || xy[0] > GEO_LONG_MAX || xy[1] < GEO_LAT_MIN ||
        xy[1] > GEO_LAT_MAX) {
        reply_errorf(c, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return false;
    }
    return true;
}

/* Meters per unit of argv[i], or -1 after replying. */
static double parse_unit(struct client *c, int i) {
    if (cmd_arg_is(c, i, "m")) return 1;
    if (cmd_arg_is(c, i, "km")) return 1000;
    if (cmd_arg_is(c, i, "ft")) return 0.3048;
    if (cmd_arg_is(c, i, "mi")) return 1609.34;
    reply_error(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

static bool parse_double_msg(struct client *c, int i, double *out, const char *msg) {
    if (!str_to_d(c->argv[i], c->argvlen[i], out)) {
        reply_error(c, msg);
        return false;
    }
    return true;
}

/* radius unit at argv[i]. */
static bool parse_distance(struct client *c, int i, struct geo_shape *s) {
    double d;
    if (!parse_double_msg(c, i, &d, "ERR need numeric radius")) return false;
    if (d < 0) {
        reply_error(c, "ERR radius cannot be negative");
        return false;
    }
    s->radius = d;
    double conv = parse_unit(c, i + 1);
    if (conv < 0) return false;
    s->conversion = conv;
    return true;
}

/* width height unit at argv[i]. */
static bool parse_box(struct client *c, int i, struct geo_shape *s) {
    double w, h;
    if (!parse_double_msg(c, i, &w, "ERR need numeric width") ||
        !parse_double_msg(c, i + 1, &h, "ERR need numeric height"))
        return false;
    if (h < 0 || w < 0) {
        reply_error(c, "ERR height or width cannot be negative");
        return false;
    }
    s->width = w;
    s->height = h;
    double conv = parse_unit(c, i + 2);
    if (conv < 0) return false;
    s->conversion = conv;
    return true;
}

static bool member_lonlat(const struct zset *z, const char *m, size_t len, double xy[2]) {
    double score;
    return zset_score(z, m, len, &score) && geo_decode_score(score, xy);
}

/* Redis's fixedpoint_d2string(d, 4): the distance with 4 decimals. */
static void reply_distance(struct client *c, double d) {
    char buf[64];
    int n;
    if (d == 0) {
        n = snprintf(buf, sizeof(buf), "0.0000");
    } else {
        long long sv = llrint(d * 10000.0);
        unsigned long long v =
            sv < 0 ? (unsigned long long)(-(sv + 1)) + 1 : (unsigned long long)sv;
        n = snprintf(buf, sizeof(buf), "%s%llu.%04llu", sv < 0 ? "-" : "", v / 10000, v % 10000);
    }
    reply_bulk(c, buf, (size_t)n);
}

/* Redis's addReplyHumanLongDouble. */
static void reply_human(struct client *c, double d) {
    char buf[STR_LD_MAX];
    int n = ld_to_str_human(buf, sizeof(buf), (long double)d);
    if (c->resp >= 3) {
        reply_proto(c, ",", 1);
        reply_proto(c, buf, (size_t)n);
        reply_proto(c, "\r\n", 2);
    } else {
        reply_bulk(c, buf, (size_t)n);
    }
}

static bool wrongtype(struct client *c, const struct entry *e) {
    if (e && entry_type(e) != TYPE_ZSET) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

/* ---- GEOADD ------------------------------------------------------------------------------ */

void cmd_geoadd(struct client *c) {
    bool xx = false, nx = false;
    int lon_i = 2;
    while (lon_i < c->argc) {
        if (cmd_arg_is(c, lon_i, "NX"))
            nx = true;
        else if (cmd_arg_is(c, lon_i, "XX"))
            xx = true;
        else if (!cmd_arg_is(c, lon_i, "CH"))
            break;
        lon_i++;
    }
    if ((c->argc - lon_i) % 3 || (xx && nx)) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    int elements = (c->argc - lon_i) / 3;
    int argc = lon_i + elements * 2;
    const char **argv = xmalloc(sizeof(char *) * (size_t)argc);
    size_t *lens = xmalloc(sizeof(size_t) * (size_t)argc);
    char(*scores)[STR_LL_MAX] = xmalloc(sizeof(*scores) * (size_t)(elements ? elements : 1));
    argv[0] = "zadd";
    lens[0] = 4;
    for (int i = 1; i < lon_i; i++) {
        argv[i] = c->argv[i];
        lens[i] = c->argvlen[i];
    }
    for (int i = 0; i < elements; i++) {
        double xy[2];
        if (!parse_lonlat(c, lon_i + i * 3, xy)) goto out;
        struct geo_bits hash;
        geo_encode_wgs84(xy[0], xy[1], GEO_STEP_MAX, &hash);
        int n = ll_to_str(scores[i], sizeof(scores[i]), (long long)geo_align52(hash));
        argv[lon_i + i * 2] = scores[i];
        lens[lon_i + i * 2] = (size_t)n;
        argv[lon_i + i * 2 + 1] = c->argv[lon_i + i * 3 + 2];
        lens[lon_i + i * 2 + 1] = c->argvlen[lon_i + i * 3 + 2];
    }
    /* Run ZADD on the rewritten arguments, then put the request back. */
    const char **oargv = c->argv;
    size_t *olens = c->argvlen;
    int oargc = c->argc;
    c->argv = argv;
    c->argvlen = lens;
    c->argc = argc;
    long long before = c->dirty;
    cmd_zadd(c);
    if (c->dirty > before) exec_propagate(c, argc, argv, lens);
    c->argv = oargv;
    c->argvlen = olens;
    c->argc = oargc;
out:
    xfree(scores);
    xfree(lens);
    xfree(argv);
}

/* ---- GEOHASH GEOPOS GEODIST -------------------------------------------------------------------
 */

static const struct zset *lookup_zset(struct client *c, int i, bool *bad) {
    struct store_key k;
    cmd_key(c, i, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    *bad = wrongtype(c, e);
    return e && !*bad ? zset_of(e) : NULL;
}

void cmd_geohash(struct client *c) {
    bool bad;
    const struct zset *z = lookup_zset(c, 1, &bad);
    if (bad) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!z || !member_lonlat(z, c->argv[j], c->argvlen[j], xy)) {
            reply_null(c);
            continue;
        }
        char buf[12];
        geo_hash_string(xy[0], xy[1], buf);
        reply_bulk(c, buf, 11);
    }
}

void cmd_geopos(struct client *c) {
    bool bad;
    const struct zset *z = lookup_zset(c, 1, &bad);
    if (bad) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!z || !member_lonlat(z, c->argv[j], c->argvlen[j], xy)) {
            reply_null_array(c);
            continue;
        }
        reply_array(c, 2);
        reply_human(c, xy[0]);
        reply_human(c, xy[1]);
    }
}

void cmd_geodist(struct client *c) {
    double to_meter = 1;
    if (c->argc == 5) {
        to_meter = parse_unit(c, 4);
        if (to_meter < 0) return;
    } else if (c->argc > 5) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    const struct zset *z = zset_of(e);
    double s1, s2, a[2], b[2];
    if (!zset_score(z, c->argv[2], c->argvlen[2], &s1) ||
        !zset_score(z, c->argv[3], c->argvlen[3], &s2)) {
        reply_null(c);
        return;
    }
    if (!geo_decode_score(s1, a) || !geo_decode_score(s2, b))
        reply_null(c);
    else
        reply_distance(c, geo_distance(a[0], a[1], b[0], b[1]) / to_meter);
}

/* ---- searches
 * ------------------------------------------------------------------------------------ */

#define F_COORDS (1 << 0)  /* GEORADIUS: center from coordinates */
#define F_MEMBER (1 << 1)  /* GEORADIUSBYMEMBER: center from a member */
#define F_NOSTORE (1 << 2) /* the _RO forms */
#define F_SEARCH (1 << 3)  /* GEOSEARCH syntax */
#define F_SEARCHSTORE (1 << 4)

enum { SORT_NONE, SORT_ASC, SORT_DESC };

struct geo_point {
    double lon, lat, dist, score;
    char *member;
    size_t mlen;
};

struct points {
    struct geo_point *a;
    size_t n, cap;
};

static void points_add(struct points *p, const double xy[2], double dist, double score,
                       const char *m, size_t len) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->a = xrealloc(p->a, p->cap * sizeof(*p->a));
    }
    struct geo_point *g = &p->a[p->n++];
    g->lon = xy[0];
    g->lat = xy[1];
    g->dist = dist;
    g->score = score;
    g->member = xmemdup(m, len ? len : 1);
    g->mlen = len;
}

static void points_free(struct points *p) {
    for (size_t i = 0; i < p->n; i++) xfree(p->a[i].member);
    xfree(p->a);
}

/* The members of one geohash box inside the shape (scores [min, max)). */
static void box_members(const struct zset *z, struct geo_bits hash, const struct geo_shape *s,
                        struct points *out, size_t limit) {
    struct zsl_range r = {(double)geo_align52(hash), 0, false, true};
    hash.bits++;
    r.max = (double)geo_align52(hash);
    struct zset_iter it;
    struct zset_elem el;
    if (!zset_iter_score(z, &it, &r, false)) return;
    while (zset_iter_next(&it, &el)) {
        if (!zsl_score_lte_max(el.score, &r)) break;
        double xy[2], dist = 0;
        if (geo_decode_score(el.score, xy) && geo_in_shape(s, xy[0], xy[1], &dist))
            points_add(out, xy, dist, el.score, el.m, el.mlen);
        if (out->n && limit && out->n >= limit) break;
    }
}

static void search(const struct zset *z, struct geo_shape *s, struct points *out, size_t limit) {
    struct geo_search a;
    geo_search_areas(s, &a);
    struct geo_bits boxes[1 + GEO_NEIGHBORS];
    boxes[0] = a.hash;
    for (int i = 0; i < GEO_NEIGHBORS; i++) boxes[i + 1] = a.neighbors[i];
    int last = 0;
    for (int i = 0; i < 1 + GEO_NEIGHBORS; i++) {
        if (geo_bits_zero(boxes[i])) continue;
        /* With huge radii neighbours may repeat a box just searched. */
        if (last && boxes[i].bits == boxes[last].bits && boxes[i].step == boxes[last].step)
            continue;
        if (out->n && limit && out->n >= limit) break;
        box_members(z, boxes[i], s, out, limit);
        last = i;
    }
}

/* By distance, ascending (ctx non-NULL: descending). */
static int gp_cmp(const void *a, const void *b, void *desc) {
    const struct geo_point *x = a, *y = b;
    int r = x->dist > y->dist ? 1 : x->dist == y->dist ? 0 : -1;
    return desc ? -r : r;
}

/* Redis's georadiusGeneric: argv[src] is the source key. */
static void georadius_generic(struct client *c, int src, int flags) {
    struct store_key k;
    cmd_key(c, src, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (wrongtype(c, e)) return;
    const struct zset *z = e ? zset_of(e) : NULL;
    int base;
    int store_i = 0;
    bool storedist = false;
    struct geo_shape s;
    memset(&s, 0, sizeof(s));
    if (flags & F_COORDS) {
        base = 6;
        s.type = GEO_CIRCLE;
        if (!parse_lonlat(c, 2, s.xy) || !parse_distance(c, base - 2, &s)) return;
    } else if ((flags & F_MEMBER) && !z) {
        base = 5; /* no source: parse the options, then answer empty */
    } else if (flags & F_MEMBER) {
        base = 5;
        s.type = GEO_CIRCLE;
        if (!member_lonlat(z, c->argv[2], c->argvlen[2], s.xy)) {
            reply_error(c, "ERR could not decode requested zset member");
            return;
        }
        if (!parse_distance(c, base - 2, &s)) return;
    } else {
        base = 2;
        if (flags & F_SEARCHSTORE) {
            base = 3;
            store_i = 1;
        }
    }
    bool withdist = false, withhash = false, withcoords = false, any = false;
    bool frommember = false, fromloc = false, byradius = false, bybox = false;
    int sort = SORT_NONE;
    long long count = 0;
    int remaining = c->argc - base;
    for (int i = 0; i < remaining; i++) {
        int a = base + i;
        if (cmd_arg_is(c, a, "WITHDIST")) {
            withdist = true;
        } else if (cmd_arg_is(c, a, "WITHHASH")) {
            withhash = true;
        } else if (cmd_arg_is(c, a, "WITHCOORD")) {
            withcoords = true;
        } else if (cmd_arg_is(c, a, "ANY")) {
            any = true;
        } else if (cmd_arg_is(c, a, "ASC")) {
            sort = SORT_ASC;
        } else if (cmd_arg_is(c, a, "DESC")) {
            sort = SORT_DESC;
        } else if (cmd_arg_is(c, a, "COUNT") && i + 1 < remaining) {
            if (!cmd_ll(c, a + 1, &count)) return;
            if (count <= 0) {
                reply_error(c, "ERR COUNT must be > 0");
                return;
            }
            i++;
        } else if ((cmd_arg_is(c, a, "STORE") || cmd_arg_is(c, a, "STOREDIST")) &&
                   i + 1 < remaining && !(flags & F_NOSTORE) && !(flags & F_SEARCH)) {
            storedist = cmd_arg_is(c, a, "STOREDIST");
            store_i = a + 1;
            i++;
        } else if (cmd_arg_is(c, a, "STOREDIST") && (flags & F_SEARCH) && (flags & F_SEARCHSTORE)) {
            storedist = true;
        } else if (cmd_arg_is(c, a, "FROMMEMBER") && i + 1 < remaining && (flags & F_SEARCH) &&
                   !fromloc) {
            if (z && !member_lonlat(z, c->argv[a + 1], c->argvlen[a + 1], s.xy)) {
                reply_error(c, "ERR could not decode requested zset member");
                return;
            }
            frommember = true;
            i++;
        } else if (cmd_arg_is(c, a, "FROMLONLAT") && i + 2 < remaining && (flags & F_SEARCH) &&
                   !frommember) {
            if (!parse_lonlat(c, a + 1, s.xy)) return;
            fromloc = true;
            i += 2;
        } else if (cmd_arg_is(c, a, "BYRADIUS") && i + 2 < remaining && (flags & F_SEARCH) &&
                   !bybox) {
            if (!parse_distance(c, a + 1, &s)) return;
            s.type = GEO_CIRCLE;
            byradius = true;
            i += 2;
        } else if (cmd_arg_is(c, a, "BYBOX") && i + 3 < remaining && (flags & F_SEARCH) &&
                   !byradius) {
            if (!parse_box(c, a + 1, &s)) return;
            s.type = GEO_RECTANGLE;
            bybox = true;
            i += 3;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (store_i && (withdist || withhash || withcoords)) {
        reply_errorf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & F_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return;
    }
    if ((flags & F_SEARCH) && !(frommember || fromloc)) {
        reply_errorf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)MIN(c->argvlen[0], (size_t)64), c->argv[0]);
        return;
    }
    if ((flags & F_SEARCH) && !(byradius || bybox)) {
        reply_errorf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)MIN(c->argvlen[0], (size_t)64), c->argv[0]);
        return;
    }
    if (any && !count) {
        reply_error(c, "ERR the ANY argument requires COUNT argument");
        return;
    }
    struct store_key sk;
    if (store_i) cmd_key(c, store_i, &sk);
    if (z == NULL) {
        if (store_i) {
            cmd_delete_if_exists(c, &sk);
            reply_int(c, 0);
        } else {
            reply_array(c, 0);
        }
        return;
    }
    if (count != 0 && sort == SORT_NONE && !any) sort = SORT_ASC;
    struct points pts = {NULL, 0, 0};
    search(z, &s, &pts, any ? (size_t)count : 0);
    if (pts.n == 0 && !store_i) {
        reply_array(c, 0);
        points_free(&pts);
        return;
    }
    size_t returned = (count == 0 || pts.n < (size_t)count) ? pts.n : (size_t)count;
    if (sort != SORT_NONE) {
        void *desc = sort == SORT_DESC ? (void *)1 : NULL;
        if (returned == pts.n)
            cmd_sort_stable(pts.a, pts.n, sizeof(*pts.a), gp_cmp, desc);
        else
            cmd_sort_partial(pts.a, pts.n, sizeof(*pts.a), gp_cmp, desc, 0, returned - 1);
    }
    if (!store_i) {
        int opts = withdist + withcoords + withhash;
        reply_array(c, (long long)returned);
        for (size_t i = 0; i < returned; i++) {
            struct geo_point *g = &pts.a[i];
            g->dist /= s.conversion;
            if (opts) reply_array(c, opts + 1);
            reply_bulk(c, g->member, g->mlen);
            if (withdist) reply_distance(c, g->dist);
            if (withhash) reply_int(c, (long long)g->score);
            if (withcoords) {
                reply_array(c, 2);
                reply_human(c, g->lon);
                reply_human(c, g->lat);
            }
        }
    } else {
        if (returned) {
            struct zset *dst = zset_create_skiplist();
            size_t maxelelen = 0, totelelen = 0;
            for (size_t i = 0; i < returned; i++) {
                struct geo_point *g = &pts.a[i];
                g->dist /= s.conversion;
                int out;
                zset_add(&dst, storedist ? g->dist : g->score, g->member, g->mlen, 0, &out, NULL);
                maxelelen = MAX(maxelelen, g->mlen);
                totelelen += g->mlen;
            }
            zset_maybe_to_listpack(&dst, maxelelen, totelelen);
            cmd_zset_store(c, &sk, dst);
            cmd_notify(c, NOTIFY_ZSET, (flags & F_SEARCH) ? "geosearchstore" : "georadiusstore",
                       &sk);
            exec_dirty(c, (long long)returned);
        } else {
            cmd_delete_if_exists(c, &sk);
        }
        reply_int(c, (long long)returned);
    }
    points_free(&pts);
}

void cmd_georadius(struct client *c) {
    georadius_generic(c, 1, F_COORDS);
}
void cmd_georadiusbymember(struct client *c) {
    georadius_generic(c, 1, F_MEMBER);
}
void cmd_georadius_ro(struct client *c) {
    georadius_generic(c, 1, F_COORDS | F_NOSTORE);
}
void cmd_georadiusbymember_ro(struct client *c) {
    georadius_generic(c, 1, F_MEMBER | F_NOSTORE);
}
void cmd_geosearch(struct client *c) {
    georadius_generic(c, 1, F_SEARCH);
}
void cmd_geosearchstore(struct client *c) {
    georadius_generic(c, 2, F_SEARCH | F_SEARCHSTORE);
}
