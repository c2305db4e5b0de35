/*
 * metrics/slowlog.h - SLOWLOG: commands slower than slowlog-log-slower-than
 * microseconds, newest first, at most slowlog-max-len entries. Arguments are
 * kept as Redis does: at most 32 (the last says "... (N more arguments)"),
 * each cut to 128 bytes ("... (N more bytes)").
 * Thread context: [any]; a mutex guards the list (touched only by slow
 * commands, so it is never hot).
 */
#ifndef STASH_METRICS_SLOWLOG_H
#define STASH_METRICS_SLOWLOG_H

#include "base/common.h"
#include "base/obuf.h"

void slowlog_setup(void);
void slowlog_teardown(void);
/* Is a command of this duration to be logged? (cheap, relaxed loads) */
bool slowlog_wants(int64_t duration_us);
void slowlog_add(int argc, const char *const *argv, const size_t *lens, int64_t duration_us,
                 const char *peer, const char *name);
void slowlog_reset(void);
size_t slowlog_len(void);
/* Reply to SLOWLOG GET [count] (count < 0: all) in RESP `resp`. */
void slowlog_reply(struct obuf *ob, int resp, long count);

#endif
