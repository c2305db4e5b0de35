/*
 * base/log.h - the server log, in Redis's line format:
 *
 *     <pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level-char> <message>
 *
 * with level characters '.' debug, '-' verbose, '*' notice, '#' warning. Each
 * line is formatted on the caller's stack and written with one write(2), so
 * lines from different threads never interleave. Thread context: [any].
 */
#ifndef STASH_BASE_LOG_H
#define STASH_BASE_LOG_H

#include "base/common.h"

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3, LOG_NOTHING = 4 };

/* Open `path` for appending ("" or NULL: stdout). Returns 0 or ERR_IO. */
int log_set_file(const char *path);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Role character in the prefix: 'M' primary, 'S' replica, 'C' child. */
void log_set_role(char role);
/* Reopen the log file (after rotation, SIGHUP). */
void log_reopen(void);

PRINTF_FMT(2, 3) void log_write(enum log_level level, const char *fmt, ...);
/* A raw line, without prefix (used for the ASCII logo and crash reports). */
void log_raw(enum log_level level, const char *msg);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_write(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_write(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARNING, __VA_ARGS__)

#endif
