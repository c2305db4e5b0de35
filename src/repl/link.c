/*
 * repl/link.c - the replica side: the link thread.
 *
 * One thread, asleep unless this server is a replica without a working
 * link. For each attempt (Redis's syncWithMaster and readSyncBulkPayload,
 * with blocking I/O bounded by poll timeouts instead of event handlers):
 *
 *   connect       TCP (and TLS with tls-replication), repl-timeout
 *   handshake     PING (+PONG, or an authentication error, is fine),
 *                 AUTH [masteruser] masterauth, REPLCONF listening-port,
 *                 REPLCONF ip-address (replica-announce-ip), REPLCONF capa
 *                 eof capa psync2, PSYNC <cached replid> <offset+1> | ? -1
 *   +CONTINUE     partial: the stream continues where the cached primary
 *                 stopped (a new replid makes the old one our replid2)
 *   +FULLRESYNC   read "$<size>" or "$EOF:<mark>", then either save the
 *                 payload to a temporary file and load it (repl-diskless-
 *                 load disabled, or on-empty-db with data), or load it
 *                 straight from the socket; the old data goes first
 *                 (replicas of ours are disconnected, the backlog starts
 *                 a new history at the primary's offset)
 *   hand-off      the connection, with what was read past the payload,
 *                 goes to a worker as the primary client (repl_glue
 *                 master_start); the thread sleeps until it closes
 *
 * Readers are served during the transfer (replica-serve-stale-data) and
 * get LOADING only while the payload is loaded. A REPLICAOF meanwhile bumps
 * R.link_gen: the attempt notices within 100 ms and gives up.
 *
 * Errors and log lines are Redis's, so that tools and the Redis test suite
 * recognise them.
 */
#include "repl/repl_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "net/tls.h"
#include "persist/aof.h"
#include "persist/persist.h"
#include "persist/rdb.h"
#include "repl/log.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SYNCIO_TIMEOUT_MS 5000 /* Redis's repl_syncio_timeout */
#define LBUF (16 * 1024)

static struct {
    pthread_t thread;
    bool started;
    bool stop;
    bool kicked;
    pthread_cond_t cv;
} L = {.cv = PTHREAD_COND_INITIALIZER};

/* One attempt's connection and input buffer. */
struct lconn {
    struct conn c;
    bool open;
    uint64_t gen;
    char *buf;
    size_t len, pos;
    int64_t lastio_ms;
    const char *err; /* why the last read failed */
};

bool link_in_handshake(int st) { return st >= LINK_RECEIVE_PING_REPLY && st <= LINK_RECEIVE_PSYNC_REPLY; }

static bool cancelled(const struct lconn *lc) {
    pthread_mutex_lock(&R.mu);
    bool c = L.stop || lc->gen != R.link_gen || !atomic_load(&R.replica);
    pthread_mutex_unlock(&R.mu);
    return c;
}

static void set_state(const struct lconn *lc, int st) {
    pthread_mutex_lock(&R.mu);
    if (lc->gen == R.link_gen) atomic_store(&R.link_state, st);
    pthread_mutex_unlock(&R.mu);
}

/* ---- blocking I/O bounded by timeouts ------------------------------------------------------------ */

/* Wait for the socket (100 ms slices, checking for cancellation). 1
 * ready, 0 timed out, -1 cancelled or failed. */
static int wait_fd(struct lconn *lc, short ev, int64_t deadline_ms) {
    for (;;) {
        if (cancelled(lc)) {
            lc->err = "cancelled";
            return -1;
        }
        int64_t left = deadline_ms - time_ms();
        if (left <= 0) return 0;
        struct pollfd p = {conn_fd(&lc->c), ev, 0};
        int rc = poll(&p, 1, (int)MIN(left, 100));
        if (rc > 0) return 1;
        if (rc < 0 && errno != EINTR) {
            lc->err = strerror(errno);
            return -1;
        }
    }
}

static int l_write(struct lconn *lc, const char *p, size_t n) {
    int64_t deadline = time_ms() + SYNCIO_TIMEOUT_MS;
    while (n > 0) {
        struct iovec iov = {(void *)p, n};
        ssize_t w = conn_writev(&lc->c, &iov, 1);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            lc->err = strerror(errno);
            return -1;
        }
        int rc = wait_fd(lc, POLLOUT, deadline);
        if (rc <= 0) {
            if (rc == 0) lc->err = "timeout";
            return -1;
        }
    }
    return 0;
}

/* Read more input into lc->buf. > 0 bytes, 0 timed out, -1 error/EOF. */
static ssize_t l_fill(struct lconn *lc, int64_t deadline_ms) {
    if (lc->pos > 0 && lc->pos == lc->len) lc->pos = lc->len = 0;
    if (lc->len == LBUF) { /* compact */
        memmove(lc->buf, lc->buf + lc->pos, lc->len - lc->pos);
        lc->len -= lc->pos;
        lc->pos = 0;
        if (lc->len == LBUF) {
            lc->err = "line too long";
            return -1;
        }
    }
    for (;;) {
        ssize_t n = conn_read(&lc->c, lc->buf + lc->len, LBUF - lc->len);
        if (n > 0) {
            lc->len += (size_t)n;
            lc->lastio_ms = time_ms();
            atomic_store(&R.transfer_lastio_s, lc->lastio_ms / 1000);
            return n;
        }
        if (n == 0) {
            lc->err = "connection lost";
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            lc->err = strerror(errno);
            return -1;
        }
        if (conn_tls_pending(&lc->c)) continue;
        int rc = wait_fd(lc, POLLIN, deadline_ms);
        if (rc <= 0) {
            if (rc == 0) lc->err = "timeout";
            return rc;
        }
    }
}

/* One line (without CRLF) into out. Returns its length, -1 on error, -2
 * on timeout. */
static int l_line(struct lconn *lc, char *out, size_t cap, int64_t deadline_ms) {
    for (;;) {
        char *nl = memchr(lc->buf + lc->pos, '\n', lc->len - lc->pos);
        if (nl) {
            size_t n = (size_t)(nl - (lc->buf + lc->pos));
            size_t k = n;
            if (k > 0 && lc->buf[lc->pos + k - 1] == '\r') k--;
            if (k >= cap) k = cap - 1;
            memcpy(out, lc->buf + lc->pos, k);
            out[k] = '\0';
            lc->pos += n + 1;
            return (int)k;
        }
        ssize_t r = l_fill(lc, deadline_ms);
        if (r < 0) return -1;
        if (r == 0) return -2;
    }
}

/* A command in RESP (Redis's sendCommandArgv). */
static int send_cmd(struct lconn *lc, int argc, const char *const *argv, const size_t *lens) {
    struct buf b = BUF_INIT;
    buf_printf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        buf_printf(&b, "$%zu\r\n", n);
        buf_append(&b, argv[i], n);
        buf_puts(&b, "\r\n");
    }
    int rc = l_write(lc, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* The reply to a handshake command (Redis's receiveSynchronousResponse). */
static int recv_reply(struct lconn *lc, char *out, size_t cap) {
    return l_line(lc, out, cap, time_ms() + SYNCIO_TIMEOUT_MS);
}

/* ---- connecting ---------------------------------------------------------------------------------- */

static int tcp_connect(struct lconn *lc, const char *host, int port) {
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        lc->err = gai_strerror(gai);
        return -1;
    }
    int fd = -1;
    int64_t deadline = time_ms() + atomic_load(&R.o.timeout) * 1000;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            lc->err = strerror(errno);
            close(fd);
            fd = -1;
            continue;
        }
        conn_init_plain(&lc->c, fd, false);
        lc->open = true;
        int rc = wait_fd(lc, POLLOUT, deadline);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (rc == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (rc != 1 || soerr != 0) {
            lc->err = rc == 0 ? "Connection timed out" : soerr ? strerror(soerr) : lc->err;
            conn_close(&lc->c);
            lc->open = false;
            fd = -1;
            if (rc < 0) break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) return -1;
    int one = 1;
    if (!atomic_load(&R.o.disable_nodelay)) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (R.srv.tls_replication && R.srv.tls_replication()) {
        char err[256];
        struct conn tc;
        if (conn_init_tls_connect(&tc, fd, R.srv.tls(), NULL, err, sizeof(err)) != 0) {
            log_warn("Unable to connect to MASTER: %s", err);
            conn_close(&lc->c);
            lc->open = false;
            lc->err = "TLS";
            return -1;
        }
        lc->c = tc;
        if (conn_tls_handshake(&lc->c, (int)MAX(deadline - time_ms(), 1), err, sizeof(err)) != 0) {
            log_warn("Unable to connect to MASTER: %s", err);
            conn_close(&lc->c);
            lc->open = false;
            lc->err = "TLS handshake";
            return -1;
        }
    }
    return 0;
}

/* ---- the handshake ------------------------------------------------------------------------------- */

enum psync_result { PSYNC_CONTINUE, PSYNC_FULLRESYNC, PSYNC_TRY_LATER, PSYNC_ERROR };

static int handshake(struct lconn *lc) {
    char line[1024];
    set_state(lc, LINK_RECEIVE_PING_REPLY);
    const char *ping[] = {"PING"};
    if (send_cmd(lc, 1, ping, NULL) != 0) goto write_error;
    int n = recv_reply(lc, line, sizeof(line));
    if (n < 0) {
        log_warn("Master did not respond to command during SYNC handshake");
        return -1;
    }
    if (line[0] != '+' && strncmp(line, "-NOAUTH", 7) != 0 && strncmp(line, "-NOPERM", 7) != 0 &&
        strncmp(line, "-ERR operation not permitted", 28) != 0) {
        log_warn("Error reply to PING from master: '%s'", line);
        return -1;
    }
    log_notice("Master replied to PING, replication can continue...");
    set_state(lc, LINK_SEND_HANDSHAKE);
    char auth[512], user[256], announce[256];
    size_t authlen;
    pthread_mutex_lock(&R.mu);
    memcpy(auth, R.o.masterauth, sizeof(auth));
    authlen = R.o.masterauth_len;
    snprintf(user, sizeof(user), "%s", R.o.masteruser);
    snprintf(announce, sizeof(announce), "%s", R.o.announce_ip);
    pthread_mutex_unlock(&R.mu);
    if (authlen > 0) {
        const char *argv[3] = {"AUTH"};
        size_t lens[3] = {4};
        int argc = 1;
        if (user[0]) {
            argv[argc] = user;
            lens[argc++] = strlen(user);
        }
        argv[argc] = auth;
        lens[argc++] = authlen;
        if (send_cmd(lc, argc, argv, lens) != 0) goto write_error;
    }
    int port = (int)atomic_load(&R.o.announce_port);
    if (port == 0) port = R.srv.tls_replication() && R.srv.tls_port() ? R.srv.tls_port() : R.srv.port();
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    const char *lp[] = {"REPLCONF", "listening-port", portstr};
    if (send_cmd(lc, 3, lp, NULL) != 0) goto write_error;
    if (announce[0]) {
        const char *ip[] = {"REPLCONF", "ip-address", announce};
        if (send_cmd(lc, 3, ip, NULL) != 0) goto write_error;
    }
    const char *capa[] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    if (send_cmd(lc, 5, capa, NULL) != 0) goto write_error;
    if (authlen > 0) {
        set_state(lc, LINK_RECEIVE_AUTH_REPLY);
        if (recv_reply(lc, line, sizeof(line)) < 0) goto no_response;
        if (line[0] == '-') {
            log_warn("Unable to AUTH to MASTER: %s", line);
            return -1;
        }
    }
    set_state(lc, LINK_RECEIVE_PORT_REPLY);
    if (recv_reply(lc, line, sizeof(line)) < 0) goto no_response;
    if (line[0] == '-') log_notice("(Non critical) Master does not understand REPLCONF listening-port: %s", line);
    if (announce[0]) {
        set_state(lc, LINK_RECEIVE_IP_REPLY);
        if (recv_reply(lc, line, sizeof(line)) < 0) goto no_response;
        if (line[0] == '-') log_notice("(Non critical) Master does not understand REPLCONF ip-address: %s", line);
    }
    set_state(lc, LINK_RECEIVE_CAPA_REPLY);
    if (recv_reply(lc, line, sizeof(line)) < 0) goto no_response;
    if (line[0] == '-') log_notice("(Non critical) Master does not understand REPLCONF capa: %s", line);
    return 0;
no_response:
    log_warn("Master did not respond to command during SYNC handshake");
    return -1;
write_error:
    log_warn("Sending command to master in replication handshake: %s", lc->err ? lc->err : "write error");
    return -1;
}

/* PSYNC and its reply. On FULLRESYNC, *replid and *offset are the
 * primary's; on CONTINUE, the new replid when it changed. */
static enum psync_result psync(struct lconn *lc, char *replid, long long *offset) {
    char id[REPL_ID_LEN + 1], off[32];
    pthread_mutex_lock(&R.mu);
    bool cached = R.cached;
    if (cached) {
        memcpy(id, R.cached_replid, sizeof(id));
        snprintf(off, sizeof(off), "%lld", R.cached_offset + 1);
    }
    pthread_mutex_unlock(&R.mu);
    if (cached) {
        log_notice("Trying a partial resynchronization (request %s:%s).", id, off);
    } else {
        log_notice("Partial resynchronization not possible (no cached master)");
        strcpy(id, "?");
        strcpy(off, "-1");
    }
    set_state(lc, LINK_SEND_PSYNC);
    /* FAILOVER: the target promotes itself when our replid matches its. */
    const char *argv[] = {"PSYNC", id, off, "FAILOVER"};
    if (send_cmd(lc, failover_in_progress() ? 4 : 3, argv, NULL) != 0) {
        log_warn("Unable to send PSYNC to master: %s", lc->err ? lc->err : "write error");
        failover_failed("Write error to failover target");
        return PSYNC_ERROR;
    }
    set_state(lc, LINK_RECEIVE_PSYNC_REPLY);
    char line[512];
    for (;;) {
        /* The primary sends newlines while it prepares the snapshot; what
         * bounds the wait is repl-timeout since the last byte. */
        int n = l_line(lc, line, sizeof(line), lc->lastio_ms + atomic_load(&R.o.timeout) * 1000);
        if (n == -2) {
            log_warn("Timeout connecting to the MASTER...");
            return PSYNC_TRY_LATER;
        }
        if (n < 0) {
            log_warn("Master did not reply to PSYNC, will try later");
            return PSYNC_TRY_LATER;
        }
        if (n > 0) break;
    }
    if (strncmp(line, "+FULLRESYNC", 11) == 0) {
        char *rid = strchr(line, ' ');
        char *o = rid ? strchr(rid + 1, ' ') : NULL;
        if (!rid || !o || o - rid - 1 != REPL_ID_LEN) {
            log_warn("Master replied with wrong +FULLRESYNC syntax.");
            memset(replid, 0, REPL_ID_LEN + 1);
            *offset = -1;
        } else {
            memcpy(replid, rid + 1, REPL_ID_LEN);
            replid[REPL_ID_LEN] = '\0';
            *offset = strtoll(o + 1, NULL, 10);
            log_notice("Full resync from master: %s:%lld", replid, *offset);
        }
        return PSYNC_FULLRESYNC;
    }
    if (strncmp(line, "+CONTINUE", 9) == 0) {
        log_notice("Successful partial resynchronization with master.");
        replid[0] = '\0';
        const char *start = line + 9;
        while (*start == ' ') start++;
        if (strlen(start) == REPL_ID_LEN) memcpy(replid, start, REPL_ID_LEN + 1);
        return PSYNC_CONTINUE;
    }
    if (strncmp(line, "-NOMASTERLINK", 13) == 0 || strncmp(line, "-LOADING", 8) == 0) {
        log_notice("Master is currently unable to PSYNC but should be in the future: %s", line);
        return PSYNC_TRY_LATER;
    }
    if (strncmp(line, "-ERR", 4) != 0)
        log_warn("Unexpected reply to PSYNC from master: %s", line);
    else
        log_notice("Master does not support PSYNC or is in error state (reply: %s)", line);
    return PSYNC_ERROR;
}

/* ---- receiving a full sync ------------------------------------------------------------------------ */

struct payload {
    struct lconn *lc;
    bool usemark;
    char mark[REPL_ID_LEN];
    long long size;     /* $<size>, or -1 */
    long long read;     /* payload bytes taken from the connection */
    int stream_db;      /* repl-stream-db from the RDB */
};

/* The rdb_reader's source: payload bytes from the connection. */
static long pull(void *arg, void *buf, size_t n) {
    struct payload *p = arg;
    struct lconn *lc = p->lc;
    if (p->size >= 0 && p->read >= p->size) return 0;
    if (lc->pos == lc->len) {
        ssize_t r = l_fill(lc, lc->lastio_ms + atomic_load(&R.o.timeout) * 1000);
        if (r <= 0) {
            if (r == 0) log_warn("Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                                 "'repl-timeout' parameter in redis.conf to a larger value.");
            return -1;
        }
    }
    size_t k = MIN(n, lc->len - lc->pos);
    if (p->size >= 0) k = (size_t)MIN((long long)k, p->size - p->read);
    memcpy(buf, lc->buf + lc->pos, k);
    lc->pos += k;
    p->read += (long long)k;
    atomic_store(&R.transfer_read, p->read);
    return (long)k;
}

static void payload_aux(void *arg, const char *k, const char *v) {
    struct payload *p = arg;
    if (strcasecmp(k, "repl-stream-db") == 0) p->stream_db = (int)strtol(v, NULL, 10);
}

/* Save the payload to a file. 0 or -1 (logged). */
static int to_disk(struct payload *p, const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warn("Opening the temp file needed for MASTER <-> REPLICA synchronization: %s", strerror(errno));
        return -1;
    }
    char last[REPL_ID_LEN] = {0};
    char *buf = xmalloc(LBUF);
    int rc = -1;
    long long written = 0;
    for (;;) {
        long n = pull(p, buf, LBUF);
        if (n <= 0) {
            if (p->size >= 0 && p->read >= p->size) rc = 0;
            else
                log_warn("I/O error trying to sync with MASTER: %s", p->lc->err ? p->lc->err : "connection lost");
            break;
        }
        if (write(fd, buf, (size_t)n) != n) {
            log_warn("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA "
                     "synchronization: %s",
                     strerror(errno));
            break;
        }
        written += n;
        if (p->usemark) {
            if (n >= REPL_ID_LEN) {
                memcpy(last, buf + n - REPL_ID_LEN, REPL_ID_LEN);
            } else {
                memmove(last, last + n, (size_t)(REPL_ID_LEN - n));
                memcpy(last + REPL_ID_LEN - n, buf, (size_t)n);
            }
            if (memcmp(last, p->mark, REPL_ID_LEN) == 0) {
                if (ftruncate(fd, written - REPL_ID_LEN) != 0) break;
                rc = 0;
                break;
            }
        }
    }
    xfree(buf);
    if (rc == 0 && fsync(fd) != 0) rc = -1;
    close(fd);
    return rc;
}

static bool dataset_empty(void) {
    for (int db = 0; db < store_databases(); db++)
        if (store_dbsize(db) > 0) return false;
    return true;
}

/* Drop what this replica had (and its own replicas, and its backlog):
 * Redis's replicationAttachToNewMaster + emptyData. */
static void drop_old_data(void) {
    pthread_mutex_lock(&R.mu);
    R.cached = false;
    for (struct repl_replica *r = R.replicas; r; r = r->next) repl_post(r, REPL_MSG_CLOSE, NULL, false);
    pthread_mutex_unlock(&R.mu);
    feed_call(FEED_FREE_BACKLOG, 0, NULL);
    local_clear();
    log_notice("MASTER <-> REPLICA sync: Flushing old data");
    store_flush(-1, atomic_load(&R.o.lazy_flush));
}

/* The payload's header: "$<size>" or "$EOF:<mark>", after any keepalive
 * newlines. 0, or -1 (logged). */
static int read_bulk_header(struct lconn *lc, char *line, size_t cap) {
    for (;;) {
        int n = l_line(lc, line, cap, time_ms() + SYNCIO_TIMEOUT_MS);
        if (n == -2) {
            log_warn("Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                     "'repl-timeout' parameter in redis.conf to a larger value.");
            return -1;
        }
        if (n < 0) {
            log_warn("I/O error reading bulk count from MASTER: %s", lc->err ? lc->err : "connection lost");
            return -1;
        }
        if (line[0] == '-') {
            log_warn("MASTER aborted replication with an error: %s", line + 1);
            return -1;
        }
        if (line[0] == '\0') continue; /* a newline: the primary is alive */
        if (line[0] != '$') {
            log_warn("Bad protocol from MASTER, the first byte is not '$' (we received '%s'), are you sure the host "
                     "and port are right?",
                     line);
            return -1;
        }
        return 0;
    }
}

/* Load the snapshot the primary sends. 0 or -1 (logged). */
static int receive_full(struct lconn *lc, struct payload *p) {
    char line[256];
    set_state(lc, LINK_TRANSFER);
    atomic_store(&R.transfer_size, -1);
    atomic_store(&R.transfer_read, 0);
    atomic_store(&R.transfer_lastio_s, time_ms() / 1000);
    if (read_bulk_header(lc, line, sizeof(line)) != 0) return -1;
    int mode = atomic_load(&R.o.diskless_load);
    bool diskless = mode == 2 || (mode == 1 && dataset_empty());
    if (strncmp(line + 1, "EOF:", 4) == 0 && strlen(line + 5) >= REPL_ID_LEN) {
        p->usemark = true;
        memcpy(p->mark, line + 5, REPL_ID_LEN);
        p->size = -1;
        atomic_store(&R.transfer_size, 0);
        log_notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF %s",
                   diskless ? "to parser" : "to disk");
    } else {
        p->size = strtoll(line + 1, NULL, 10);
        atomic_store(&R.transfer_size, p->size);
        log_notice("MASTER <-> REPLICA sync: receiving %lld bytes from master %s", p->size,
                   diskless ? "to parser" : "to disk");
    }
    char path[64];
    if (!diskless) {
        snprintf(path, sizeof(path), "temp-%d.%ld.rdb", (int)(time_ms() / 1000), (long)getpid());
        if (to_disk(p, path) != 0) {
            unlink(path);
            return -1;
        }
    }
    drop_old_data();
    log_notice("MASTER <-> REPLICA sync: Loading DB in memory");
    atomic_store(&R.loading, true);
    repl_refresh_gates();
    struct rdb_reader r;
    int fd = -1;
    if (diskless) {
        rdb_reader_pull(&r, pull, p, UINT64_MAX);
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
        if (fd >= 0) lseek(fd, 0, SEEK_SET);
        rdb_reader_fd(&r, fd, fd >= 0 ? (uint64_t)size : 0);
    }
    int rc = persist_load_rdb_sync(&r, false, payload_aux, p);
    if (rc != 0) {
        log_warn("Failed trying to load the MASTER synchronization DB from %s: %s", diskless ? "socket" : "disk",
                 r.err);
    } else if (diskless && p->usemark) {
        /* What the reader took past the RDB is the start of the mark. */
        char mark[REPL_ID_LEN];
        size_t have = MIN(r.len - r.pos, (size_t)REPL_ID_LEN);
        memcpy(mark, r.mem + r.pos, have);
        struct payload tail = *p;
        tail.size = -1;
        while (have < REPL_ID_LEN) {
            long n = pull(&tail, mark + have, REPL_ID_LEN - have);
            if (n <= 0) break;
            have += (size_t)n;
        }
        if (have < REPL_ID_LEN || memcmp(mark, p->mark, REPL_ID_LEN) != 0) {
            log_warn("Replication stream EOF marker is broken");
            rc = -1;
        }
    }
    rdb_reader_free(&r);
    if (fd >= 0) close(fd);
    if (!diskless) unlink(path);
    atomic_store(&R.loading, false);
    repl_refresh_gates();
    if (rc != 0) {
        store_flush(-1, true);
        return -1;
    }
    /* The AOF holds the old dataset: a new base from this one (Redis's
     * restartAOFAfterSYNC; a rewrite begun before the sync is stale). */
    if (aof_enabled()) {
        if (aof_rewrite_running()) aof_kill_rewrite();
        const char *err = NULL;
        if (aof_bgrewrite(false, &err) < 0) log_warn("Can't rewrite the AOF after the sync with the master: %s", err);
    }
    return 0;
}

/* ---- the attempt ---------------------------------------------------------------------------------- */

/* Hand the connection over as the primary client. */
static void hand_off(struct lconn *lc, long long offset, int db, const char *host, int port, bool ack) {
    /* Whatever OpenSSL decrypted already must not stay there unseen. */
    for (;;) {
        if (lc->len == LBUF) break;
        ssize_t n = conn_read(&lc->c, lc->buf + lc->len, LBUF - lc->len);
        if (n <= 0) break;
        lc->len += (size_t)n;
    }
    struct repl_handoff *h = xcalloc(1, sizeof(*h));
    h->conn = lc->c;
    h->npending = lc->len - lc->pos;
    if (h->npending) h->pending = xmemdup(lc->buf + lc->pos, h->npending);
    h->offset = offset;
    h->db = db;
    h->link_gen = lc->gen;
    h->ack_now = ack;
    snprintf(h->addr, sizeof(h->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    lc->open = false;
    pthread_mutex_lock(&R.mu);
    atomic_store(&R.master_client, true);
    atomic_store(&R.applied_offset, offset);
    atomic_store(&R.read_offset, offset);
    atomic_store(&R.link_lastio_s, time_ms() / 1000);
    R.master_db = db;
    if (lc->gen == R.link_gen) atomic_store(&R.link_state, LINK_CONNECTED);
    atomic_store(&R.link_down_since_s, 0);
    pthread_mutex_unlock(&R.mu);
    repl_refresh_gates();
    R.glue.master_start(h);
}

/* A +CONTINUE: the cached primary lives again, maybe under a new id. */
static void resurrect(struct lconn *lc, const char *newid, const char *host, int port) {
    long long offset;
    int db;
    pthread_mutex_lock(&R.mu);
    offset = R.cached_offset;
    db = R.cached_db;
    bool changed = newid[0] && strcmp(newid, R.cached_replid) != 0;
    if (changed) {
        log_warn("Master replication ID changed to %s", newid);
        memcpy(R.replid2, R.cached_replid, sizeof(R.replid2));
        R.second_offset = offset + 1;
        memcpy(R.replid, newid, sizeof(R.replid));
        memcpy(R.cached_replid, newid, sizeof(R.cached_replid));
        /* Our replicas must learn the new id: they reconnect. */
        for (struct repl_replica *r = R.replicas; r; r = r->next) repl_post(r, REPL_MSG_CLOSE, NULL, false);
    } else {
        memcpy(R.replid, R.cached_replid, sizeof(R.replid));
    }
    R.cached = false;
    pthread_mutex_unlock(&R.mu);
    if (!rbl_active() || (long long)rbl_offset() != offset) {
        struct feed_result fr = {0, db};
        feed_call(FEED_RESET, offset, &fr);
    }
    hand_off(lc, offset, db, host, port, false);
}

static void attempt(uint64_t gen, const char *host, int port) {
    struct lconn lc = {0};
    lc.gen = gen;
    lc.buf = xmalloc(LBUF);
    lc.lastio_ms = time_ms();
    set_state(&lc, LINK_CONNECTING);
    log_notice("MASTER <-> REPLICA sync started");
    if (tcp_connect(&lc, host, port) != 0) {
        if (!cancelled(&lc)) log_warn("Error condition on socket for SYNC: %s", lc.err ? lc.err : "unknown");
        goto fail;
    }
    log_notice("Non blocking connect for SYNC fired the event.");
    if (handshake(&lc) != 0) goto fail;
    char replid[REPL_ID_LEN + 1];
    long long offset = -1;
    enum psync_result pr = psync(&lc, replid, &offset);
    failover_psync_done(pr == PSYNC_CONTINUE || pr == PSYNC_FULLRESYNC);
    if (pr == PSYNC_CONTINUE) {
        if (cancelled(&lc)) goto fail;
        log_notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        resurrect(&lc, replid, host, port);
        xfree(lc.buf);
        return;
    }
    if (pr != PSYNC_FULLRESYNC) goto fail;
    struct payload p = {&lc, false, {0}, -1, 0, 0};
    if (receive_full(&lc, &p) != 0 || cancelled(&lc)) goto fail;
    /* A new history: the primary's id and offset, no second id. */
    pthread_mutex_lock(&R.mu);
    memcpy(R.replid, replid, sizeof(R.replid));
    memset(R.replid2, '0', REPL_ID_LEN);
    R.second_offset = -1;
    pthread_mutex_unlock(&R.mu);
    struct feed_result fr = {0, p.stream_db};
    feed_call(FEED_RESET, offset, &fr);
    log_notice("MASTER <-> REPLICA sync: Finished with success");
    /* A diskless transfer waits for our ACK before streaming. */
    hand_off(&lc, offset, p.stream_db, host, port, p.usemark);
    xfree(lc.buf);
    return;
fail:
    if (lc.open) conn_close(&lc.c);
    xfree(lc.buf);
    pthread_mutex_lock(&R.mu);
    if (gen == R.link_gen && atomic_load(&R.replica)) {
        atomic_store(&R.link_state, LINK_CONNECT);
        if (atomic_load(&R.link_down_since_s) == 0) atomic_store(&R.link_down_since_s, time_ms() / 1000);
    }
    pthread_mutex_unlock(&R.mu);
}

static void *link_main(void *arg) {
    int64_t next_try = 0;
    pthread_mutex_lock(&R.mu);
    while (!L.stop) {
        bool go = atomic_load(&R.replica) && atomic_load(&R.link_state) == LINK_CONNECT &&
                  !atomic_load(&R.master_client);
        int64_t now = time_ms();
        if (go && (L.kicked || now >= next_try)) {
            L.kicked = false;
            uint64_t gen = R.link_gen;
            char host[256];
            snprintf(host, sizeof(host), "%s", R.masterhost);
            int port = R.masterport;
            pthread_mutex_unlock(&R.mu);
            attempt(gen, host, port);
            pthread_mutex_lock(&R.mu);
            /* Retry once a second, as Redis's replicationCron. */
            next_try = time_ms() + 1000;
            continue;
        }
        L.kicked = false;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = go ? MAX(next_try - now, 1) : 1000;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&L.cv, &R.mu, &ts);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

void link_setup(void) {}

void link_kick(void) {
    pthread_mutex_lock(&R.mu);
    if (!L.started && !L.stop) {
        if (pthread_create(&L.thread, NULL, link_main, NULL) == 0) L.started = true;
    }
    L.kicked = true;
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&R.mu);
}

void link_stop(void) {
    pthread_mutex_lock(&R.mu);
    L.stop = true;
    R.link_gen++;
    pthread_cond_signal(&L.cv);
    bool started = L.started;
    pthread_mutex_unlock(&R.mu);
    if (started) pthread_join(L.thread, NULL);
    pthread_mutex_lock(&R.mu);
    L.started = false;
    pthread_mutex_unlock(&R.mu);
}

/* ---- the primary client's side [feeder, once a second] ------------------------------------------ */

void link_cron(void) {
    if (!atomic_load(&R.replica) || !atomic_load(&R.master_client)) return;
    int64_t now = time_ms() / 1000;
    if (now - atomic_load(&R.link_lastio_s) > atomic_load(&R.o.timeout)) {
        log_warn("MASTER timeout: no data nor PING received...");
        R.glue.master_post(1, 0);
        return;
    }
    R.glue.master_post(0, atomic_load(&R.applied_offset));
}

void repl_master_applied(long long offset, int db) {
    atomic_store_explicit(&R.applied_offset, offset, memory_order_relaxed);
    R.master_db = db;
}

void repl_master_read(long long read_offset) {
    atomic_store_explicit(&R.read_offset, read_offset, memory_order_relaxed);
    atomic_store_explicit(&R.link_lastio_s, time_ms() / 1000, memory_order_relaxed);
}

long long repl_master_offset_applied(void) { return atomic_load(&R.applied_offset); }

void repl_master_closed(uint64_t gen, long long offset, int db) {
    pthread_mutex_lock(&R.mu);
    atomic_store(&R.master_client, false);
    if (atomic_load(&R.replica)) {
        log_notice("Connection with master lost.");
        log_notice("Caching the disconnected master state.");
        R.cached = true;
        memcpy(R.cached_replid, R.replid, sizeof(R.cached_replid));
        R.cached_offset = offset;
        R.cached_db = db;
        if (gen == R.link_gen) atomic_store(&R.link_state, LINK_CONNECT);
        atomic_store(&R.link_down_since_s, time_ms() / 1000);
    }
    pthread_mutex_unlock(&R.mu);
    repl_refresh_gates();
    link_kick();
}
