/*
 * exec/reply.h - replies from commands, in the client's protocol version.
 *
 * Every function appends to c->out (the client's output queue, or a sink
 * while replies are silenced by CLIENT REPLY). Error replies also count in
 * INFO errorstats and in the command's failed calls.
 *
 * Error texts are the constants below or formats in the style of Redis;
 * command code uses these, not ad-hoc strings, for the shared ones.
 * Thread context: [owner] of the client.
 */
#ifndef STASH_EXEC_REPLY_H
#define STASH_EXEC_REPLY_H

#include "exec/client.h"

#define RERR_SYNTAX "ERR syntax error"
#define RERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define RERR_NOT_INT "ERR value is not an integer or out of range"
#define RERR_NOT_FLOAT "ERR value is not a valid float"
#define RERR_OVERFLOW "ERR increment or decrement would overflow"
#define RERR_NO_SUCH_KEY "ERR no such key"
#define RERR_DB_RANGE "ERR DB index is out of range"
#define RERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
#define RERR_SAME_OBJECT "ERR source and destination objects are the same"
#define RERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define RERR_BIT_ARG "ERR bit is not an integer or out of range"
#define RERR_STRING_TOO_LONG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define RERR_NEGATIVE_COUNT "ERR value is out of range, must be positive"
#define RERR_TIMEOUT "ERR timeout is not a float or out of range"

void reply_ok(struct client *c);
void reply_simple(struct client *c, const char *s);
/* Error: the whole text ("ERR ...", "WRONGTYPE ..."). */
void reply_error(struct client *c, const char *msg);
PRINTF_FMT(2, 3) void reply_errorf(struct client *c, const char *fmt, ...);
/* "ERR wrong number of arguments for '<fullname>' command" */
void reply_arity_error(struct client *c);
void reply_int(struct client *c, long long v);
void reply_bulk(struct client *c, const char *p, size_t n);
void reply_bulk_cstr(struct client *c, const char *s);
void reply_bulk_ll(struct client *c, long long v);
void reply_bulk_double(struct client *c, double d); /* Redis's d2string text as a bulk */
void reply_null(struct client *c);
void reply_null_array(struct client *c);
void reply_array(struct client *c, long long n);
void reply_map(struct client *c, long long n);
void reply_set(struct client *c, long long n);
void reply_push(struct client *c, long long n);
void reply_double(struct client *c, double d);
void reply_bool(struct client *c, bool v);
void reply_verbatim(struct client *c, const char *p, size_t n, const char *fmt3);
/* Raw protocol bytes, already encoded. */
void reply_proto(struct client *c, const char *p, size_t n);

/* Deferred aggregate length. */
struct onode *reply_defer(struct client *c);
void reply_defer_array(struct client *c, struct onode *d, long long n);
void reply_defer_map(struct client *c, struct onode *d, long long n);
void reply_defer_set(struct client *c, struct onode *d, long long n);

/* The string value of an entry as a bulk: small values are copied, big
 * ones referenced (the lock may be dropped before they are sent).
 * [stripe-locked] */
void reply_entry_str(struct client *c, const struct entry *e);

/* Per-thread error statistics (INFO errorstats). */
void reply_errorstats(struct buf *out);
void reply_errorstats_reset(void);
uint64_t reply_total_errors(void);

#endif
