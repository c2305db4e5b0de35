/*
 * cmd/scan.c - what HSCAN, SSCAN and ZSCAN share: Redis's cursor parsing,
 * COUNT/MATCH options, the collected elements and the reply.
 *
 * Redis's scanGenericCommand stops a collection's scan once it has seen
 * COUNT elements (a hash pair counts as two) and filters by MATCH after
 * collecting; `seen` reproduces that loop condition while only matching
 * elements are kept.
 *
 * Thread context: [stripe-locked] during the collection's command.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

bool cmd_scan_cursor(struct client *c, int i, uint64_t *out) {
    char small[64];
    size_t n = c->argvlen[i];
    char *s = n < sizeof(small) ? small : xmalloc(n + 1);
    memcpy(s, c->argv[i], n);
    s[n] = '\0';
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    bool ok = !(s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) && *end == '\0' && errno != ERANGE;
    if (s != small) xfree(s);
    if (!ok) {
        reply_error(c, "ERR invalid cursor");
        return false;
    }
    *out = v;
    return true;
}

bool cmd_scan_options(struct client *c, int first, struct cmd_scan *s) {
    s->count = 10;
    s->pat = NULL;
    s->plen = 0;
    s->all = true;
    s->seen = 0;
    s->n = 0;
    s->items = (struct buf)BUF_INIT;
    for (int i = first; i < c->argc; i += 2) {
        bool has_value = i + 1 < c->argc;
        if (cmd_arg_is(c, i, "COUNT") && has_value) {
            long long count;
            if (!cmd_ll_range(c, i + 1, LONG_MIN, LONG_MAX, &count, NULL)) return false;
            if (count < 1) {
                reply_error(c, RERR_SYNTAX);
                return false;
            }
            s->count = (long)count;
        } else if (cmd_arg_is(c, i, "MATCH") && has_value) {
            s->pat = c->argv[i + 1];
            s->plen = c->argvlen[i + 1];
            s->all = s->plen == 1 && s->pat[0] == '*';
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    return true;
}

bool cmd_scan_match(const struct cmd_scan *s, const char *p, size_t n) {
    return s->all || glob_match(s->pat, s->plen, p, n, false);
}

void cmd_scan_add(struct cmd_scan *s, const char *p, size_t n) {
    buf_append(&s->items, &n, sizeof(n));
    buf_append(&s->items, p, n);
    s->n++;
}

void cmd_scan_reply(struct client *c, uint64_t cursor, struct cmd_scan *s) {
    char num[STR_LL_MAX];
    int nl = ull_to_str(num, sizeof(num), cursor);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)nl);
    reply_array(c, (long long)s->n);
    for (size_t off = 0; off < s->items.len;) {
        size_t n;
        memcpy(&n, s->items.data + off, sizeof(n));
        off += sizeof(n);
        reply_bulk(c, s->items.data + off, n);
        off += n;
    }
    buf_free(&s->items);
}

void cmd_reply_empty_scan(struct client *c) {
    reply_array(c, 2);
    reply_bulk(c, "0", 1);
    reply_array(c, 0);
}
