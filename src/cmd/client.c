/*
 * cmd/client.c - CLIENT ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE
 * UNBLOCK REPLY NO-EVICT GETREDIR HELP.
 *
 * A connection belongs to one worker thread and only that thread may read
 * its fields, so CLIENT LIST and CLIENT KILL fan out (client_fanout): each
 * worker formats or kills its own clients into its own slot of the job,
 * the asking client is blocked meanwhile, and the `done` step (on the
 * asker's worker) merges the slots and replies. The asker formats its own
 * line before blocking, so it shows its state as the command saw it
 * (flags=N, not blocked).
 *
 * Inside EXEC a command cannot wait for other threads (the transaction's
 * locks are held): there CLIENT LIST and CLIENT KILL only see the clients of
 * the asker's own worker, and killed clients are closed after the batch.
 *
 * Thread context: commands run on the asker's worker; the fan-out `work`
 * functions run on every worker, each touching only its own clients and
 * its own slot of the job.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "exec/block.h"
#include "exec/tracking.h"
#include "base/str.h"
#include "base/time.h"
#include "net/worker.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmd_client_id(struct client *c) { reply_int(c, (long long)c->id); }

void cmd_client_getredir(struct client *c) { reply_int(c, c->trk ? (long long)c->trk->redir_id : -1); }

/* CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP] */
void cmd_client_tracking(struct client *c) {
    long long redir = 0;
    int redir_worker = -1;
    unsigned options = 0;
    int nprefix = 0;
    const char **prefixes = NULL;
    size_t *plens = NULL;
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (cmd_arg_is(c, j, "redirect") && more) {
            j++;
            if (redir != 0) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!cmd_ll(c, j, &redir)) goto out;
            /* The target must exist now (it may go away later). */
            redir_worker = redir > 0 ? client_worker_of((uint64_t)redir) : -1;
            if (redir_worker < 0) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (cmd_arg_is(c, j, "bcast")) {
            options |= TRACK_BCAST;
        } else if (cmd_arg_is(c, j, "optin")) {
            options |= TRACK_OPTIN;
        } else if (cmd_arg_is(c, j, "optout")) {
            options |= TRACK_OPTOUT;
        } else if (cmd_arg_is(c, j, "noloop")) {
            options |= TRACK_NOLOOP;
        } else if (cmd_arg_is(c, j, "prefix") && more) {
            j++;
            prefixes = xrealloc(prefixes, (size_t)(nprefix + 1) * sizeof(*prefixes));
            plens = xrealloc(plens, (size_t)(nprefix + 1) * sizeof(*plens));
            prefixes[nprefix] = c->argv[j];
            plens[nprefix++] = c->argvlen[j];
        } else {
            reply_error(c, RERR_SYNTAX);
            goto out;
        }
    }
    if (cmd_arg_is(c, 2, "on")) {
        if (!tracking_enable(c, (uint64_t)redir, redir_worker, options, nprefix, prefixes, plens)) goto out;
    } else if (cmd_arg_is(c, 2, "off")) {
        tracking_disable(c);
    } else {
        reply_error(c, RERR_SYNTAX);
        goto out;
    }
    reply_ok(c);
out:
    xfree(prefixes);
    xfree(plens);
}

/* CLIENT CACHING (YES|NO): for the next command in OPTIN / OPTOUT mode. */
void cmd_client_caching(struct client *c) {
    if (c->trk == NULL) {
        reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
                       "OPTOUT mode enabled");
        return;
    }
    if (cmd_arg_is(c, 2, "yes")) {
        if (!(c->trk->flags & TRACK_OPTIN)) {
            reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (cmd_arg_is(c, 2, "no")) {
        if (!(c->trk->flags & TRACK_OPTOUT)) {
            reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    c->trk->flags |= TRACK_CACHING;
    reply_ok(c);
}

/* CLIENT TRACKINGINFO: flags, redirect, prefixes. */
void cmd_client_trackinginfo(struct client *c) {
    const struct client_tracking *t = c->trk;
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    const char *flags[8];
    int n = 0;
    flags[n++] = t ? "on" : "off";
    if (t) {
        if (t->flags & TRACK_BCAST) flags[n++] = "bcast";
        if (t->flags & TRACK_OPTIN) {
            flags[n++] = "optin";
            if (t->flags & TRACK_CACHING) flags[n++] = "caching-yes";
        }
        if (t->flags & TRACK_OPTOUT) {
            flags[n++] = "optout";
            if (t->flags & TRACK_CACHING) flags[n++] = "caching-no";
        }
        if (t->flags & TRACK_NOLOOP) flags[n++] = "noloop";
        if (t->flags & TRACK_BROKEN_REDIR) flags[n++] = "broken_redirect";
    }
    reply_set(c, n);
    for (int i = 0; i < n; i++) reply_bulk_cstr(c, flags[i]);
    reply_bulk_cstr(c, "redirect");
    reply_int(c, t ? (long long)t->redir_id : -1);
    reply_bulk_cstr(c, "prefixes");
    reply_array(c, t ? t->nprefixes : 0);
    for (int i = 0; t && i < t->nprefixes; i++) reply_bulk(c, t->prefixes[i], t->plens[i]);
}

void cmd_client_getname(struct client *c) {
    if (c->name)
        reply_bulk_cstr(c, c->name);
    else
        reply_null(c);
}

void cmd_client_setname(struct client *c) {
    const char *p = c->argv[2];
    size_t n = c->argvlen[2];
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '!' || p[i] > '~') {
            reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
    }
    xfree(c->name);
    c->name = n ? xstrndup(p, n) : NULL;
    reply_ok(c);
}

void cmd_client_info(struct client *c) {
    struct buf out = BUF_INIT;
    client_info_line(c, &out);
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
}

void cmd_client_reply(struct client *c) {
    if (cmd_arg_is(c, 2, "ON")) {
        c->flags &= ~(CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_REPLY_OFF);
        /* This command's own reply was being silenced: let it through. */
        c->out = &c->obuf;
        reply_ok(c);
    } else if (cmd_arg_is(c, 2, "OFF")) {
        c->flags |= CLIENT_REPLY_OFF; /* no reply, this one included */
    } else if (cmd_arg_is(c, 2, "SKIP")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_error(c, RERR_SYNTAX);
    }
}

void cmd_client_no_evict(struct client *c) {
    if (cmd_arg_is(c, 2, "ON")) {
        c->flags |= CLIENT_NO_EVICT;
    } else if (cmd_arg_is(c, 2, "OFF")) {
        c->flags &= ~CLIENT_NO_EVICT;
    } else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    reply_ok(c);
}

/* ---- PAUSE / UNPAUSE ----------------------------------------------------------- */

void cmd_client_pause(struct client *c) {
    enum exec_pause type = PAUSE_ALL;
    if (c->argc > 4) {
        cmd_reply_subcommand_error(c);
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "WRITE")) {
            type = PAUSE_WRITE;
        } else if (!cmd_arg_is(c, 3, "ALL")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (!cmd_ll_msg(c, 2, &ms, "ERR timeout is not an integer or out of range")) return;
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    int64_t now = time_ms();
    int64_t end = ms == 0 ? 0 : (ms > INT64_MAX - now ? INT64_MAX : now + ms);
    exec_pause(type, end);
    reply_ok(c);
}

struct resume_msg {
    struct mbox_msg m;
};

static void resume_run(struct mbox_msg *m) {
    xfree(m);
    client_resume_paused();
}

void cmd_client_unpause(struct client *c) {
    exec_unpause();
    /* Every worker re-runs its parked clients now rather than at its next
     * cron tick (through the mailbox: never nested in this command). */
    for (int i = 0; i < worker_count(); i++) {
        struct resume_msg *msg = xcalloc(1, sizeof(*msg));
        worker_post(worker_at(i), &msg->m, resume_run);
    }
    reply_ok(c);
}

/* ---- filters shared by LIST and KILL -------------------------------------------- */

enum ctype { CTYPE_ANY = -1, CTYPE_NORMAL, CTYPE_REPLICA, CTYPE_PUBSUB, CTYPE_MASTER };

static int type_by_name(const char *s, size_t n) {
    if (n == 6 && strncasecmp(s, "normal", 6) == 0) return CTYPE_NORMAL;
    if ((n == 5 && strncasecmp(s, "slave", 5) == 0) || (n == 7 && strncasecmp(s, "replica", 7) == 0))
        return CTYPE_REPLICA;
    if (n == 6 && strncasecmp(s, "pubsub", 6) == 0) return CTYPE_PUBSUB;
    if (n == 6 && strncasecmp(s, "master", 6) == 0) return CTYPE_MASTER;
    return CTYPE_ANY;
}

/* Redis's getClientType (MONITOR clients count as normal). */
static int type_of(const struct client *c) {
    if (c->flags & CLIENT_MASTER) return CTYPE_MASTER;
    if (c->flags & CLIENT_REPLICA) return CTYPE_REPLICA;
    return (c->flags & CLIENT_PUBSUB) ? CTYPE_PUBSUB : CTYPE_NORMAL;
}

/* ---- LIST ------------------------------------------------------------------------- */

struct line {
    uint64_t id;
    size_t off, len;
};

struct list_part {
    struct buf text;
    struct line *lines;
    size_t n, cap;
};

struct list_job {
    uint64_t self_id;
    int type;
    uint64_t *ids;
    int nids;
    bool silent;
    int nparts;
    struct list_part parts[];
};

static void part_add(struct list_part *p, const struct client *cl) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->lines = xrealloc(p->lines, p->cap * sizeof(*p->lines));
    }
    size_t off = p->text.len;
    client_info_line(cl, &p->text);
    p->lines[p->n++] = (struct line){cl->id, off, p->text.len - off};
}

static bool wanted_id(const struct list_job *j, uint64_t id) {
    if (j->nids == 0) return true;
    for (int i = 0; i < j->nids; i++)
        if (j->ids[i] == id) return true;
    return false;
}

/* [worker `idx`] Format this worker's clients into its own slot. */
static void list_work(void *arg, int idx) {
    struct list_job *j = arg;
    struct list_part *p = &j->parts[idx];
    for (struct client *cl = client_first(); cl; cl = client_next(cl)) {
        if (cl->id == j->self_id || (cl->flags & CLIENT_CLOSED)) continue;
        if (j->type != CTYPE_ANY && type_of(cl) != j->type) continue;
        if (!wanted_id(j, cl->id)) continue;
        part_add(p, cl);
    }
}

struct line_ref {
    uint64_t id;
    const char *p;
    size_t len;
};

static int by_id(const void *a, const void *b) {
    uint64_t x = ((const struct line_ref *)a)->id, y = ((const struct line_ref *)b)->id;
    return x < y ? -1 : x > y;
}

static void list_job_free(struct list_job *j) {
    for (int i = 0; i < j->nparts; i++) {
        buf_free(&j->parts[i].text);
        xfree(j->parts[i].lines);
    }
    xfree(j->ids);
    xfree(j);
}

/* [asker's worker] Merge: by client id (creation order, as Redis lists its
 * clients), or in the order of the IDs asked for. */
static void list_done(struct client *c, void *arg) {
    struct list_job *j = arg;
    if (c && !j->silent) {
        size_t total = 0;
        for (int i = 0; i < j->nparts; i++) total += j->parts[i].n;
        struct line_ref *all = xmalloc((total ? total : 1) * sizeof(*all));
        size_t k = 0;
        for (int i = 0; i < j->nparts; i++) {
            struct list_part *p = &j->parts[i];
            for (size_t l = 0; l < p->n; l++) all[k++] = (struct line_ref){p->lines[l].id, p->text.data + p->lines[l].off, p->lines[l].len};
        }
        struct buf out = BUF_INIT;
        if (j->nids == 0) {
            qsort(all, total, sizeof(*all), by_id);
            for (size_t i = 0; i < total; i++) buf_append(&out, all[i].p, all[i].len);
        } else {
            for (int i = 0; i < j->nids; i++)
                for (size_t l = 0; l < total; l++)
                    if (all[l].id == j->ids[i]) buf_append(&out, all[l].p, all[l].len);
        }
        reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
        buf_free(&out);
        xfree(all);
    }
    list_job_free(j);
}

void cmd_client_list(struct client *c) {
    int type = CTYPE_ANY;
    uint64_t *ids = NULL;
    int nids = 0;
    if (c->argc == 4 && cmd_arg_is(c, 2, "TYPE")) {
        type = type_by_name(c->argv[3], c->argvlen[3]);
        if (type == CTYPE_ANY) {
            reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argvlen[3], c->argv[3]);
            return;
        }
    } else if (c->argc > 3 && cmd_arg_is(c, 2, "ID")) {
        ids = xmalloc(sizeof(*ids) * (size_t)(c->argc - 3));
        for (int i = 3; i < c->argc; i++) {
            long long id;
            if (!cmd_ll_msg(c, i, &id, "ERR Invalid client ID")) {
                xfree(ids);
                return;
            }
            ids[nids++] = (uint64_t)id;
        }
    } else if (c->argc != 2) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    bool in_exec = (c->flags & CLIENT_IN_EXEC) != 0;
    int nparts = in_exec ? 1 : worker_count();
    struct list_job *j = xcalloc(1, sizeof(*j) + (size_t)(nparts + 1) * sizeof(struct list_part));
    j->self_id = c->id;
    j->type = type;
    j->ids = ids;
    j->nids = nids;
    j->silent = c->out != &c->obuf;
    j->nparts = nparts + 1;
    /* The asker's own line, in the last slot. */
    if ((type == CTYPE_ANY || type_of(c) == type) && wanted_id(j, c->id)) part_add(&j->parts[nparts], c);
    if (in_exec) {
        list_work(j, 0);
        j->silent = false; /* replying now, through c->out */
        list_done(c, j);
        return;
    }
    client_fanout(c, list_work, list_done, j);
}

/* ---- KILL ------------------------------------------------------------------------- */

struct kill_job {
    uint64_t self_id;
    const char *addr, *laddr; /* copies owned by the job, or NULL */
    const char *user;         /* a user name (copy), or NULL */
    int type;
    uint64_t id;
    bool skipme;
    long long maxage_s;       /* 0: no filter */
    bool old_form;
    bool silent;
    bool kill_self;           /* written only by the asker's worker */
    bool in_exec;             /* inside EXEC: stripes may be held, close later */
    _Atomic long killed;
};

static bool kill_matches(const struct kill_job *j, const struct client *cl, int64_t now) {
    if (j->addr && strcmp(cl->addr, j->addr) != 0) return false;
    if (j->laddr && strcmp(cl->laddr, j->laddr) != 0) return false;
    if (j->user && strcmp(acl_user_name(cl->user), j->user) != 0) return false;
    if (j->type != CTYPE_ANY && type_of(cl) != j->type) return false;
    if (j->id && cl->id != j->id) return false;
    if (j->maxage_s && (now - cl->ctime_ms) / 1000 < j->maxage_s) return false;
    return true;
}

/* [worker `idx`] Kill this worker's matching clients. */
static void kill_work(void *arg, int idx) {
    struct kill_job *j = arg;
    int64_t now = time_ms();
    long n = 0;
    struct client *cl = client_first();
    while (cl) {
        struct client *next = client_next(cl);
        if (!(cl->flags & CLIENT_CLOSED) && kill_matches(j, cl, now)) {
            if (cl->id == j->self_id) {
                if (!j->skipme) {
                    j->kill_self = true; /* after the reply */
                    n++;
                }
            } else {
                /* Closing drops the victim's WATCHes, which takes stripe
                 * locks: inside EXEC it waits for the end of the batch. */
                if (j->in_exec)
                    client_close_async(cl);
                else
                    client_kill(cl);
                n++;
            }
        }
        cl = next;
    }
    atomic_fetch_add_explicit(&j->killed, n, memory_order_relaxed);
}

static void kill_job_free(struct kill_job *j) {
    xfree((char *)j->addr);
    xfree((char *)j->laddr);
    xfree((char *)j->user);
    xfree(j);
}

static void kill_done(struct client *c, void *arg) {
    struct kill_job *j = arg;
    if (c) {
        long killed = atomic_load(&j->killed);
        if (!j->silent) {
            if (!j->old_form)
                reply_int(c, killed);
            else if (killed == 0)
                reply_error(c, "ERR No such client");
            else
                reply_ok(c);
        }
        if (j->kill_self) client_close_after_reply(c);
    }
    kill_job_free(j);
}

/* Parse CLIENT KILL's arguments into j; false after an error reply. */
static bool kill_parse(struct client *c, struct kill_job *j) {
    if (c->argc == 3) {
        j->addr = xstrndup(c->argv[2], c->argvlen[2]);
        j->old_form = true;
        j->skipme = false; /* the old form may kill the caller */
        return true;
    }
    for (int i = 2; i < c->argc; i += 2) {
        bool more = i + 1 < c->argc;
        if (more && cmd_arg_is(c, i, "ID")) {
            long long id;
            if (!cmd_ll_range(c, i + 1, 1, LONG_MAX, &id, "ERR client-id should be greater than 0")) return false;
            j->id = (uint64_t)id;
        } else if (more && cmd_arg_is(c, i, "TYPE")) {
            j->type = type_by_name(c->argv[i + 1], c->argvlen[i + 1]);
            if (j->type == CTYPE_ANY) {
                reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argvlen[i + 1], c->argv[i + 1]);
                return false;
            }
        } else if (more && cmd_arg_is(c, i, "ADDR")) {
            xfree((char *)j->addr);
            j->addr = xstrndup(c->argv[i + 1], c->argvlen[i + 1]);
        } else if (more && cmd_arg_is(c, i, "LADDR")) {
            xfree((char *)j->laddr);
            j->laddr = xstrndup(c->argv[i + 1], c->argvlen[i + 1]);
        } else if (more && cmd_arg_is(c, i, "USER")) {
            if (!acl_user_exists(c->argv[i + 1], c->argvlen[i + 1])) {
                reply_errorf(c, "ERR No such user '%.*s'", (int)c->argvlen[i + 1], c->argv[i + 1]);
                return false;
            }
            xfree((char *)j->user);
            j->user = xstrndup(c->argv[i + 1], c->argvlen[i + 1]);
        } else if (more && cmd_arg_is(c, i, "SKIPME")) {
            if (cmd_arg_is(c, i + 1, "YES")) {
                j->skipme = true;
            } else if (cmd_arg_is(c, i + 1, "NO")) {
                j->skipme = false;
            } else {
                reply_error(c, RERR_SYNTAX);
                return false;
            }
        } else if (more && cmd_arg_is(c, i, "MAXAGE")) {
            long long age;
            if (!cmd_ll_msg(c, i + 1, &age, "ERR maxage is not an integer or out of range")) return false;
            if (age < 0) {
                reply_error(c, "ERR maxage is not an integer or out of range");
                return false;
            }
            j->maxage_s = age;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    return true;
}

void cmd_client_kill(struct client *c) {
    struct kill_job *j = xcalloc(1, sizeof(*j));
    j->type = CTYPE_ANY;
    j->skipme = true;
    j->self_id = c->id;
    if (!kill_parse(c, j)) {
        kill_job_free(j);
        return;
    }
    j->silent = c->out != &c->obuf;
    if (c->flags & CLIENT_IN_EXEC) {
        j->in_exec = true;
        kill_work(j, worker_id(c->worker));
        j->silent = false;
        kill_done(c, j);
        return;
    }
    client_fanout(c, kill_work, kill_done, j);
}

/* ---- UNBLOCK ---------------------------------------------------------------------- */

/* The target may live on any worker: ask each worker (fan-out) whether it
 * owns a client of that id blocked on keys; the owner unblocks it itself
 * (exec/block.c). */
struct unblock_job {
    uint64_t id;
    bool error;
    bool silent;
    _Atomic int done;
};

static void unblock_work(void *arg, int idx) {
    struct unblock_job *j = arg;
    struct client *t = client_by_id(j->id);
    if (t && block_unblock_client(t, j->error)) atomic_store(&j->done, 1);
}

static void unblock_done(struct client *c, void *arg) {
    struct unblock_job *j = arg;
    if (c && !j->silent) reply_int(c, atomic_load(&j->done));
    xfree(j);
}

void cmd_client_unblock(struct client *c) {
    if (c->argc > 4) {
        cmd_reply_subcommand_error(c);
        return;
    }
    bool error = false;
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "ERROR")) {
            error = true;
        } else if (!cmd_arg_is(c, 3, "TIMEOUT")) {
            reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    long long id;
    if (!cmd_ll(c, 2, &id)) return;
    struct unblock_job *j = xcalloc(1, sizeof(*j));
    j->id = (uint64_t)id;
    j->error = error;
    j->silent = c->out != &c->obuf;
    if (c->flags & CLIENT_IN_EXEC) {
        /* The transaction holds stripes: no waiting for other workers. */
        unblock_work(j, worker_id(c->worker));
        j->silent = false;
        unblock_done(c, j);
        return;
    }
    client_fanout(c, unblock_work, unblock_done, j);
}

void cmd_client_help(struct client *c) {
    static const char *const lines[] = {
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        NULL,
    };
    cmd_reply_help(c, lines);
}
