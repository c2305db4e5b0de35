/*
 * auth/passfile.h - "user:password" files, the credentials of memcached
 * connections: the authfile of memcached's -Y (text protocol login) and the
 * password database of SASL PLAIN (memcached's MEMCACHED_SASL_PWDB).
 *
 * Formats (memcached 1.6):
 *   AUTHFILE  every line is "user:password"; the password runs to the end
 *             of the line (it may hold ':'); a line without ':' (an empty
 *             line included) makes the whole file malformed.
 *   SASLDB    lines "user:password[:more]"; other lines are ignored; the
 *             first line of a user decides.
 * Unlike memcached's authfile, there is no limit of 8 entries or of 256
 * bytes per line.
 *
 * Passwords are kept as SHA-256 digests and compared in constant time.
 * The file is read again when it changes (size, mtime or inode differ at
 * a check): edits take effect without a restart, as memcached's SASL
 * database does; a reload that fails keeps the previous contents.
 *
 * Thread context: [any]; a mutex guards the entries (checks are rare: one
 * per login).
 */
#ifndef STASH_AUTH_PASSFILE_H
#define STASH_AUTH_PASSFILE_H

#include "base/common.h"

enum passfile_kind { PASSFILE_AUTHFILE, PASSFILE_SASLDB };

enum passfile_status {
    PASSFILE_OK = 0,
    PASSFILE_OPENFAIL,  /* errno tells why */
    PASSFILE_STATFAIL,  /* errno tells why */
    PASSFILE_MALFORMED, /* AUTHFILE only */
};

struct passfile;

/* Load path; *out is NULL unless PASSFILE_OK. */
enum passfile_status passfile_open(const char *path, enum passfile_kind kind, struct passfile **out);
void passfile_close(struct passfile **pf);
const char *passfile_path(const struct passfile *pf);

/* Are these credentials in the file? */
bool passfile_check(struct passfile *pf, const char *user, size_t ulen, const char *pass, size_t plen);

#endif
