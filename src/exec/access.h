/*
 * exec/access.h - who a client is and what it may run: the bridge between
 * the command table and the ACL layer (auth/acl.h).
 *
 * At setup the command table becomes the ACL catalog (ids, full names,
 * categories, containers). For a request of a restricted user, the key
 * arguments and the permissions each needs come from the command's key
 * specs (ACCESS reads; INSERT, DELETE, UPDATE write), or, for the commands
 * whose specs cannot say (SET and BITFIELD: flags vary with the options;
 * SORT: STORE), from a function the command registers; the channel
 * arguments come from a small table (PUBLISH, SUBSCRIBE, PSUBSCRIBE...).
 *
 * The check on the hot path lives in exec/dispatch.c: a client whose user
 * is unrestricted pays one load; everything here is the slow path.
 *
 * Thread context: [owner] of the client, unless noted.
 */
#ifndef STASH_EXEC_ACCESS_H
#define STASH_EXEC_ACCESS_H

#include "auth/acl.h"
#include "exec/client.h"

/* Build the ACL catalog from the registered command table. [setup] */
void exec_access_setup(void);
void exec_access_teardown(void);

/* A command's own key finder for ACL (positions and ACL_PERM_* needs):
 * used when its key specs have variable flags or cannot find every key.
 * Returns the count (entries beyond max are counted, not written). */
typedef int (*cmd_keyperm_fn)(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max);
void exec_access_set_keyperm(const char *name, cmd_keyperm_fn fn); /* [setup] */

/* The client is authenticated as u (takes the reference). */
void exec_client_set_user(struct client *c, struct acl_user *u);
/* The default user, authenticated when it needs no password (a new
 * connection, RESET). */
void exec_client_default_auth(struct client *c);

/* May c run cmd with c->argv? A denial is logged (ACL LOG, context ctx);
 * *pos is the argv index of the denied key or channel. */
enum acl_result exec_access_verdict(struct client *c, const struct command *cmd, enum acl_log_ctx ctx, int *pos);
/* Log a denial of c's current request (an AUTH failure: `user` is the
 * name tried; NULL: c's user). */
void exec_access_log(struct client *c, enum acl_result why, enum acl_log_ctx ctx, int pos, const char *user,
                     size_t ulen);

/* The verdict for user u on argv, without logging (redis.acl_check_cmd). */
enum acl_result exec_access_check_user(struct acl_user *u, const struct command *cmd, int argc,
                                       const char *const *argv, const size_t *lens, int *pos);

/* ACL DRYRUN: the verdict for the user of that name on argv; false when
 * there is no such user. [any] */
bool exec_access_dryrun(const char *name, size_t nlen, const struct command *cmd, int argc, const char *const *argv,
                        const size_t *lens, enum acl_result *res, int *pos);

/* Does c's user have every key for `perm` with the running command
 * (SORT's BY and GET)? [stripe-locked allowed] */
bool exec_access_full_keys(struct client *c, unsigned perm);

/* Close every client authenticated as one of d's deleted users, and the
 * subscribers of d->revoked that lost a subscription's permission; then
 * free d. Not inside EXEC: c (the asker) waits, and gets `done` once all
 * workers have acted (Redis answers after the kills). Inside EXEC (locks
 * held) the other workers act later. c itself, if concerned, is closed
 * after its reply. */
typedef void (*access_done_fn)(struct client *c, void *arg);
void exec_access_enforce(struct client *c, struct acl_doomed *d, access_done_fn done, void *arg);

#endif
