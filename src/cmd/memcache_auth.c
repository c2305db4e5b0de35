/*
 * cmd/memcache_auth.c - memcached's authentication, as memcached 1.6.18
 * does it:
 *
 *   text protocol, -Y <authfile>: until it logs in, a connection may only
 *     send "set <key> <flags> <exptime> <bytes>\r\n<user> <password>\r\n"
 *     (key, flags and exptime ignored): "STORED" logs it in; anything else
 *     gets "CLIENT_ERROR unauthenticated", a bad payload "CLIENT_ERROR bad
 *     authentication token format" / "... bad command line termination",
 *     wrong credentials "CLIENT_ERROR authentication failure". A request
 *     that cannot fit memcached's 16 KiB read buffer (or a line of more
 *     than 2 KiB) closes the connection.
 *   binary protocol, -S: SASL with the PLAIN mechanism (the credentials
 *     "authzid\0user\0password", authzid empty or the user) against the
 *     password database named by MEMCACHED_SASL_PWDB (or the memcached-
 *     sasl-pwdb directive). Before a successful SASL_AUTH (or SASL_STEP
 *     after an empty SASL_AUTH, answered AUTH_CONTINUE), any opcode but
 *     the SASL ones and VERSION gets "Auth failure." and the connection
 *     closes. Like memcached, every SASL opcode starts over: a failed one,
 *     or SASL_LIST_MECHS, leaves the connection unauthenticated.
 *
 * Cyrus SASL's own databases (sasldb2) are not read: a server started with
 * -S needs a "user:password" file (passfile.h).
 *
 * Counters: stats auth_cmds (every completed attempt) and auth_errors
 * (failed ones), as memcached counts them.
 *
 * Thread context: the checks run on the connection's worker; the files are
 * opened before the workers start (memcache_auth_setup) and closed after.
 */
#include "cmd/memcache_int.h"
#include "auth/passfile.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUFFER 16384 /* memcached's: an auth request must fit in it */
#define LINE_MAX_JUNK 2048
#define SASL_MECH_MAX 32

static struct passfile *authfile, *sasldb;

bool mc_auth_text_required(void) { return authfile != NULL; }
bool mc_auth_sasl_enabled(void) { return mc_settings.sasl; }

int memcache_auth_setup(char *err, size_t errlen) {
    struct memcache_settings *ms = &mc_settings;
    /* The directives of a Redis node follow memcached's rules too: SASL
     * is binary only, the authfile text only, neither with UDP. */
    if (ms->sasl && ms->binding == MEMCACHE_AUTO) ms->binding = MEMCACHE_BINARY;
    if (ms->auth_file[0] && ms->binding == MEMCACHE_AUTO) ms->binding = MEMCACHE_ASCII;
    if ((ms->sasl && ms->binding != MEMCACHE_BINARY) || (ms->auth_file[0] && ms->binding != MEMCACHE_ASCII)) {
        snprintf(err, errlen, "ERROR: You cannot use SASL (binary protocol) and the authfile (ascii protocol) together");
        return -1;
    }
    if ((ms->sasl || ms->auth_file[0]) && ms->udp_port) {
        snprintf(err, errlen, "ERROR: Cannot enable UDP while using authentication.");
        return -1;
    }
    if (ms->auth_file[0]) {
        switch (passfile_open(ms->auth_file, PASSFILE_AUTHFILE, &authfile)) {
        case PASSFILE_OK: break;
        case PASSFILE_STATFAIL:
            snprintf(err, errlen, "Could not stat authfile [%s], error %s", ms->auth_file, strerror(errno));
            return -1;
        case PASSFILE_OPENFAIL:
            snprintf(err, errlen, "Could not open authfile [%s] for reading, error %s", ms->auth_file,
                     strerror(errno));
            return -1;
        case PASSFILE_MALFORMED:
            snprintf(err, errlen, "Authfile [%s] has a malformed entry. Should be 'user:password'", ms->auth_file);
            return -1;
        }
    }
    if (ms->sasl) {
        if (!ms->sasl_pwdb[0]) {
            snprintf(err, errlen,
                     "SASL needs a password database: set MEMCACHED_SASL_PWDB to a file of user:password lines "
                     "(Cyrus SASL databases are not supported)");
            return -1;
        }
        if (passfile_open(ms->sasl_pwdb, PASSFILE_SASLDB, &sasldb) != PASSFILE_OK) {
            snprintf(err, errlen, "Failed to open sasl database <%s>: %s", ms->sasl_pwdb, strerror(errno));
            return -1;
        }
    }
    return 0;
}

void memcache_auth_teardown(void) {
    passfile_close(&authfile);
    passfile_close(&sasldb);
}

/* ---- text protocol: the "set" login ------------------------------------------------------- */

static void counted(bool ok) {
    MC_COUNT(auth_cmds);
    if (!ok) MC_COUNT(auth_errors);
}

/* memcached's tokenize_command: fields separated by single spaces. */
static int split(const char *p, size_t n, const char **tok, size_t *len, int max) {
    int k = 0;
    size_t i = 0;
    while (i < n && k < max) {
        while (i < n && p[i] == ' ') i++;
        if (i == n) break;
        size_t s = i;
        while (i < n && p[i] != ' ') i++;
        tok[k] = p + s;
        len[k++] = i - s;
    }
    return k;
}

/* memcached's safe_strtoul: digits, then the end or a space (\r counts). */
static bool parse_size(const char *p, size_t n, uint32_t *out) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > UINT32_MAX) return false;
    }
    if (i == 0 || (i < n && p[i] != '\r' && p[i] != ' ')) return false;
    *out = (uint32_t)v;
    return true;
}

size_t mc_auth_text(struct client *c, struct mc_conn *m, const char *p, size_t n) {
    if (n < 2) return 0;
    const char *el = memchr(p, '\n', n);
    if (el == NULL) {
        if (n > LINE_MAX_JUNK) {
            c->flags |= CLIENT_CLOSE_ASAP;
            return n;
        }
        return 0;
    }
    size_t linelen = (size_t)(el - p) + 1;
    const char *tok[6];
    size_t len[6];
    int nt = split(p, linelen - 1, tok, len, 6);
    uint32_t size = 0;
    if (nt < 5 || len[0] != 3 || memcmp(tok[0], "set", 3) != 0 || !parse_size(tok[4], len[4], &size)) {
        mc_w_cstr(c->out, "CLIENT_ERROR unauthenticated");
        return linelen;
    }
    size_t total = linelen + (size_t)size + 2;
    if (total > READ_BUFFER) {
        c->flags |= CLIENT_CLOSE_ASAP;
        return n;
    }
    if (n < total) {
        m->need = total;
        return 0;
    }
    const char *data = p + linelen;
    if (data[size] != '\r' || data[size + 1] != '\n') {
        mc_w_cstr(c->out, "CLIENT_ERROR bad command line termination");
        return total;
    }
    const char *cred[2];
    size_t clen[2];
    if (split(data, size, cred, clen, 2) < 2) {
        mc_w_cstr(c->out, "CLIENT_ERROR bad authentication token format");
        return total;
    }
    bool ok = passfile_check(authfile, cred[0], clen[0], cred[1], clen[1]);
    counted(ok);
    if (ok) {
        m->authed = true;
        mc_w_cstr(c->out, "STORED");
    } else {
        mc_w_cstr(c->out, "CLIENT_ERROR authentication failure");
    }
    return total;
}

/* ---- binary protocol: SASL PLAIN ------------------------------------------------------------- */

/* "authzid\0authcid\0password": PLAIN's message (RFC 4616). */
static bool plain_ok(const char *msg, size_t n) {
    const char *z1 = memchr(msg, '\0', n);
    if (z1 == NULL) return false;
    const char *user = z1 + 1;
    size_t rest = n - (size_t)(user - msg);
    const char *z2 = memchr(user, '\0', rest);
    if (z2 == NULL) return false;
    size_t ulen = (size_t)(z2 - user);
    size_t zlen = (size_t)(z1 - msg);
    /* Acting for another user (proxy authorization) is not allowed. */
    if (zlen != 0 && (zlen != ulen || memcmp(msg, user, ulen) != 0)) return false;
    const char *pass = z2 + 1;
    return passfile_check(sasldb, user, ulen, pass, n - (size_t)(pass - msg));
}

void mc_sasl_list_mechs(struct client *c, struct mc_conn *m, const struct mcbin_header *h) {
    m->authed = false;
    mcbin_w_header(c->out, h->opcode, MCBIN_OK, 0, 0, 5, h->opaque, 0);
    obuf_append(c->out, "PLAIN", 5);
}

void mc_sasl_auth(struct client *c, struct mc_conn *m, const struct mcbin_header *h, const char *mech, size_t mlen,
                  const char *data, size_t dlen) {
    m->authed = false;
    bool ok = false;
    if (h->opcode == MCBIN_SASL_AUTH) {
        m->sasl_started = mlen == 5 && strncasecmp(mech, "PLAIN", 5) == 0;
        if (m->sasl_started && dlen == 0) {
            /* No initial response: PLAIN asks for it (a SASL_STEP). */
            mcbin_w_header(c->out, h->opcode, MCBIN_AUTH_CONTINUE, 0, 0, 0, h->opaque, 0);
            return;
        }
        ok = m->sasl_started && plain_ok(data, dlen);
    } else if (m->sasl_started) {
        ok = plain_ok(data, dlen);
    }
    /* PLAIN completes in one message: whatever follows starts over. */
    m->sasl_started = false;
    counted(ok);
    if (ok) {
        m->authed = true;
        mcbin_w_header(c->out, h->opcode, MCBIN_OK, 0, 0, 13, h->opaque, 0);
        obuf_append(c->out, "Authenticated", 13);
    } else {
        mcbin_w_error(c->out, h->opcode, MCBIN_AUTH_ERROR, h->opaque, NULL);
    }
}
