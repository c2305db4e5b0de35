/*
 * base/log.c - see log.h. The file descriptor and level are atomics so that
 * CONFIG SET loglevel/logfile on one thread is safe against writers on others;
 * a reopened descriptor replaces the old one, which is closed after the swap
 * (a concurrent writer may still write one line to the old file).
 */
#include "base/log.h"
#include "base/err.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_fd = 1;
static _Atomic int log_level = LOG_NOTICE;
static _Atomic char log_role = 'M';
static char log_path[4096];

int log_set_file(const char *path) {
    int fd = 1;
    if (path != NULL && path[0] != '\0') {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return ERR_IO;
        snprintf(log_path, sizeof(log_path), "%s", path);
    } else {
        log_path[0] = '\0';
    }
    int old = atomic_exchange(&log_fd, fd);
    if (old > 2) close(old);
    return 0;
}

void log_reopen(void) {
    if (log_path[0] != '\0') {
        char path[sizeof(log_path)];
        memcpy(path, log_path, sizeof(path));
        log_set_file(path);
    }
}

void log_set_level(enum log_level level) { atomic_store(&log_level, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&log_level); }
void log_set_role(char role) { atomic_store(&log_role, role); }

static void emit(const char *buf, size_t len) {
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) return;
        buf += n;
        len -= (size_t)n;
    }
}

void log_raw(enum log_level level, const char *msg) {
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed)) return;
    emit(msg, strlen(msg));
}

void log_write(enum log_level level, const char *fmt, ...) {
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed)) return;
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t off = (size_t)snprintf(line, sizeof(line), "%d:%c ", (int)getpid(),
                                  atomic_load_explicit(&log_role, memory_order_relaxed));
    off += strftime(line + off, sizeof(line) - off, "%d %b %Y %H:%M:%S.", &tm);
    off += (size_t)snprintf(line + off, sizeof(line) - off, "%03d %c ", (int)(tv.tv_usec / 1000),
                            marks[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    off += (size_t)n;
    if (off > sizeof(line) - 2) off = sizeof(line) - 2;
    line[off++] = '\n';
    emit(line, off);
}
