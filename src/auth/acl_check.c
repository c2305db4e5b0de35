/*
 * auth/acl_check.c - may these rules run this request? (Redis 7.0's
 * ACLSelectorCheckCmd and friends); see acl.h.
 *
 * A selector allows a request when it allows the command (its bit, or a
 * first-arg exception; NO_AUTH commands always pass), every key (a pattern
 * with the permissions the key's spec needs matches it) and every channel
 * (published and subscribed channels match a channel pattern; a
 * PSUBSCRIBE pattern must equal one literally). A user allows the request
 * when one of its selectors does; otherwise the error reported is the
 * "most relevant" one over the selectors: channel over key over command,
 * and among equals the argument furthest right (Redis's choice, which ACL
 * LOG shows).
 *
 * Thread context: the caller holds a reader lock or the admin mutex.
 * Cost: O(selectors * (keys * patterns + channels * patterns)).
 */
#include "auth/acl_internal.h"
#include "base/str.h"

#include <string.h>
#include <strings.h>

unsigned char acl_pattern_kind(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '*' && i == n - 1) return ACL_PAT_PREFIX;
        if (p[i] == '*' || p[i] == '?' || p[i] == '[' || p[i] == '\\') return ACL_PAT_GLOB;
    }
    return ACL_PAT_EXACT;
}

bool acl_pattern_match(const char *p, size_t n, unsigned char kind, const char *s, size_t slen) {
    switch (kind) {
    case ACL_PAT_EXACT: return n == slen && memcmp(p, s, n) == 0;
    case ACL_PAT_PREFIX: return slen >= n - 1 && memcmp(p, s, n - 1) == 0;
    default: return glob_match(p, n, s, slen, false);
    }
}

static bool cmd_allowed(const struct acl_sel *s, const struct acl_request *rq) {
    int id = rq->cmd;
    if ((s->flags & SEL_ALLCOMMANDS) || acl_cmds[id].no_auth) return true;
    if ((s->allowed[id / 64] >> (id % 64)) & 1) return true;
    if (rq->argc < 2 || s->firstargs == NULL || s->firstargs[id] == NULL) return false;
    int idx = acl_cmds[id].parent >= 0 ? 2 : 1;
    if (idx >= rq->argc) return false;
    for (char **a = s->firstargs[id]; *a; a++) {
        size_t n = strlen(*a);
        if (rq->lens[idx] == n && strncasecmp(rq->argv[idx], *a, n) == 0) return true;
    }
    return false;
}

static bool key_allowed(const struct acl_sel *s, const char *key, size_t len, unsigned perm) {
    if (s->flags & SEL_ALLKEYS) return true;
    for (int i = 0; i < s->nkeys; i++) {
        const struct acl_keypat *p = &s->keys[i];
        if ((p->perm & perm) != perm) continue;
        if (acl_pattern_match(p->p, p->n, p->kind, key, len)) return true;
    }
    return false;
}

static bool chan_in(const struct acl_sel *s, const char *ch, size_t len, bool pattern) {
    for (int i = 0; i < s->nchans; i++) {
        const struct acl_str *p = &s->chans[i];
        if (pattern ? (p->n == len && memcmp(p->p, ch, len) == 0) : acl_pattern_match(p->p, p->n, p->kind, ch, len))
            return true;
    }
    return false;
}

static enum acl_result sel_check(const struct acl_sel *s, const struct acl_request *rq, int *pos) {
    if (!cmd_allowed(s, rq)) return ACL_DENIED_CMD;
    if (!(s->flags & SEL_ALLKEYS)) {
        for (int i = 0; i < rq->nkeys; i++) {
            int k = rq->keys[i].pos;
            if (!key_allowed(s, rq->argv[k], rq->lens[k], rq->keys[i].flags)) {
                *pos = k;
                return ACL_DENIED_KEY;
            }
        }
    }
    if (!(s->flags & SEL_ALLCHANNELS)) {
        for (int i = 0; i < rq->nchans; i++) {
            unsigned f = rq->chans[i].flags;
            if (!(f & (ACL_CHAN_PUBLISH | ACL_CHAN_SUBSCRIBE))) continue;
            int k = rq->chans[i].pos;
            if (!chan_in(s, rq->argv[k], rq->lens[k], (f & ACL_CHAN_PATTERN) != 0)) {
                *pos = k;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    return ACL_OK;
}

enum acl_result acl_rules_check(const struct acl_rules *r, const struct acl_request *rq, int *errpos) {
    enum acl_result relevant = ACL_DENIED_CMD;
    int last = 0, pos = 0;
    for (int i = 0; i < r->nsels; i++) {
        enum acl_result res = sel_check(r->sels[i], rq, &pos);
        if (res == ACL_OK) return ACL_OK;
        if (res > relevant || (res == relevant && pos > last)) {
            relevant = res;
            last = pos;
        }
    }
    *errpos = last;
    return relevant;
}

/* Redis's ACLSelectorHasUnrestrictedKeyAccess. */
static bool sel_all_keys(const struct acl_sel *s, unsigned perm) {
    if (s->flags & SEL_ALLKEYS) return true;
    for (int i = 0; i < s->nkeys; i++)
        if ((s->keys[i].perm & perm) == perm && s->keys[i].n == 1 && s->keys[i].p[0] == '*') return true;
    return false;
}

bool acl_rules_full_key_access(const struct acl_rules *r, const struct acl_request *rq, unsigned perm) {
    int pos;
    for (int i = 0; i < r->nsels; i++)
        if (sel_check(r->sels[i], rq, &pos) == ACL_OK && sel_all_keys(r->sels[i], perm)) return true;
    return false;
}

bool acl_rules_channel(const struct acl_rules *r, const char *ch, size_t len, bool pattern) {
    for (int i = 0; i < r->nsels; i++) {
        const struct acl_sel *s = r->sels[i];
        if ((s->flags & SEL_ALLCHANNELS) || chan_in(s, ch, len, pattern)) return true;
    }
    return false;
}
