/*
 * auth/passfile.c - "user:password" files; see passfile.h.
 *
 * Layout: an array of entries {user, SHA-256(password)} rebuilt whole on
 * every (re)load and swapped in under the mutex. A check hashes the given
 * password once and compares it with every candidate entry's digest
 * without an early exit, so its time does not depend on the password.
 */
#include "auth/passfile.h"
#include "base/alloc.h"
#include "base/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DIGEST 32

struct entry {
    char *user;
    size_t ulen;
    unsigned char digest[DIGEST];
};

struct passfile {
    pthread_mutex_t mu;
    char *path;
    enum passfile_kind kind;
    struct entry *e;
    int n;
    struct stat st; /* of the contents loaded */
};

static void digest(const char *p, size_t n, unsigned char out[DIGEST]) {
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != DIGEST) memset(out, 0, DIGEST);
}

static void entries_free(struct entry *e, int n) {
    for (int i = 0; i < n; i++) xfree(e[i].user);
    xfree(e);
}

static void add(struct entry **e, int *n, const char *user, size_t ulen, const char *pass, size_t plen) {
    *e = xrealloc(*e, sizeof(**e) * (size_t)(*n + 1));
    struct entry *x = &(*e)[(*n)++];
    x->user = xmemdup(user, ulen);
    x->ulen = ulen;
    digest(pass, plen, x->digest);
}

/* Parse the text into entries. */
static enum passfile_status parse(const char *text, size_t len, enum passfile_kind kind, struct entry **out, int *nout) {
    struct entry *e = NULL;
    int n = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        const char *colon = memchr(line, ':', ll);
        if (colon == NULL) {
            if (kind == PASSFILE_AUTHFILE) {
                entries_free(e, n);
                return PASSFILE_MALFORMED;
            }
            continue;
        }
        size_t ulen = (size_t)(colon - line);
        const char *pass = colon + 1;
        size_t plen = ll - ulen - 1;
        /* The password ends at CR (or NUL); SASLDB lines may go on after a ':'. */
        for (size_t i = 0; i < plen; i++) {
            if (pass[i] == '\r' || pass[i] == '\0' || (kind == PASSFILE_SASLDB && pass[i] == ':')) {
                plen = i;
                break;
            }
        }
        add(&e, &n, line, ulen, pass, plen);
    }
    *out = e;
    *nout = n;
    return PASSFILE_OK;
}

/* (Re)load from the file. [mu held, or pf not shared yet] */
static enum passfile_status load(struct passfile *pf) {
    FILE *f = fopen(pf->path, "r");
    if (f == NULL) return PASSFILE_OPENFAIL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int saved = errno;
        fclose(f);
        errno = saved;
        return PASSFILE_STATFAIL;
    }
    char *text = xmalloc((size_t)st.st_size + 1);
    size_t got = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    struct entry *e;
    int n;
    enum passfile_status rc = parse(text, got, pf->kind, &e, &n);
    xfree(text);
    if (rc != PASSFILE_OK) return rc;
    entries_free(pf->e, pf->n);
    pf->e = e;
    pf->n = n;
    pf->st = st;
    return PASSFILE_OK;
}

enum passfile_status passfile_open(const char *path, enum passfile_kind kind, struct passfile **out) {
    struct passfile *pf = xcalloc(1, sizeof(*pf));
    pthread_mutex_init(&pf->mu, NULL);
    pf->path = xstrdup(path);
    pf->kind = kind;
    enum passfile_status rc = load(pf);
    if (rc != PASSFILE_OK) {
        int saved = errno;
        passfile_close(&pf);
        errno = saved;
    }
    *out = pf;
    return rc;
}

void passfile_close(struct passfile **pfp) {
    struct passfile *pf = *pfp;
    if (pf == NULL) return;
    entries_free(pf->e, pf->n);
    xfree(pf->path);
    pthread_mutex_destroy(&pf->mu);
    xfree(pf);
    *pfp = NULL;
}

const char *passfile_path(const struct passfile *pf) { return pf->path; }

/* Reload when the file on disk is not the one loaded. [mu held] */
static void refresh(struct passfile *pf) {
    struct stat st;
    if (stat(pf->path, &st) != 0) return; /* gone: keep what we have */
    if (st.st_size == pf->st.st_size && st.st_mtim.tv_sec == pf->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == pf->st.st_mtim.tv_nsec && st.st_ino == pf->st.st_ino)
        return;
    enum passfile_status rc = load(pf);
    if (rc != PASSFILE_OK)
        log_warn("Could not reload the password file %s (keeping the previous one): %s", pf->path,
                 rc == PASSFILE_MALFORMED ? "malformed entry" : strerror(errno));
}

bool passfile_check(struct passfile *pf, const char *user, size_t ulen, const char *pass, size_t plen) {
    unsigned char d[DIGEST];
    digest(pass, plen, d);
    pthread_mutex_lock(&pf->mu);
    refresh(pf);
    unsigned ok = 0;
    for (int i = 0; i < pf->n; i++) {
        const struct entry *x = &pf->e[i];
        if (x->ulen != ulen || memcmp(x->user, user, ulen) != 0) continue;
        unsigned diff = 0;
        for (int k = 0; k < DIGEST; k++) diff |= (unsigned)(d[k] ^ x->digest[k]);
        ok |= diff == 0;
        if (pf->kind == PASSFILE_SASLDB) break; /* the user's first line decides */
    }
    pthread_mutex_unlock(&pf->mu);
    return ok != 0;
}
