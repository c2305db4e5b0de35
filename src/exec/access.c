/*
 * exec/access.c - the ACL catalog, the keys and channels of a request for
 * its ACL check, ACL LOG entries, and closing the clients of deleted or
 * restricted users; see access.h.
 *
 * Keys: the key specs give positions and flags (exec_command_keyspecs);
 * ACCESS needs read permission, INSERT/DELETE/UPDATE write permission, a
 * key with neither (EXISTS, TYPE...) any pattern that matches it. Commands
 * with variable flags (SET, BITFIELD) or specs that cannot find every key
 * (SORT ... STORE) register their own finder; when specs fail and there is
 * none, the request names no key the ACL must check (Redis: the command
 * then fails on its own syntax).
 *
 * Thread context: [owner] of the client; the catalog is built once at
 * setup and read-only after.
 */
#include "exec/access.h"
#include "base/alloc.h"
#include "exec/pubsub.h"
#include "net/loop.h"
#include "net/worker.h"

#include <stdatomic.h>
#include <string.h>

#define SMALL_REFS 16

static struct acl_cmdinfo *catalog;
static cmd_keyperm_fn *keyperm;  /* by command id */
static unsigned *chan_flags;     /* by command id: ACL_CHAN_* of its channel arguments */
static bool *chan_all;           /* by command id: channels are argv[1..] (else argv[1] only) */

/* ---- setup ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned flags;
    bool all;
} channel_commands[] = {
    {"subscribe", ACL_CHAN_SUBSCRIBE, true},
    {"ssubscribe", ACL_CHAN_SUBSCRIBE, true},
    {"psubscribe", ACL_CHAN_SUBSCRIBE | ACL_CHAN_PATTERN, true},
    {"publish", ACL_CHAN_PUBLISH, false},
    {"spublish", ACL_CHAN_PUBLISH, false},
};

void exec_access_setup(void) {
    int n = exec_command_ids();
    catalog = xcalloc((size_t)n, sizeof(*catalog));
    keyperm = xcalloc((size_t)n, sizeof(*keyperm));
    chan_flags = xcalloc((size_t)n, sizeof(*chan_flags));
    chan_all = xcalloc((size_t)n, sizeof(*chan_all));
    for (int id = 0; id < n; id++) {
        const struct command *cmd = exec_command_by_id(id);
        catalog[id] = (struct acl_cmdinfo){cmd->fullname, cmd->acl, cmd->parent ? cmd->parent->id : -1,
                                           (cmd->flags & CMD_NO_AUTH) != 0};
    }
    for (size_t i = 0; i < ARRAY_LEN(channel_commands); i++) {
        const struct command *cmd = exec_command_lookup(channel_commands[i].name, strlen(channel_commands[i].name));
        if (cmd == NULL) continue;
        chan_flags[cmd->id] = channel_commands[i].flags;
        chan_all[cmd->id] = channel_commands[i].all;
    }
    acl_set_catalog(catalog, n);
}

void exec_access_teardown(void) {
    xfree(catalog);
    xfree(keyperm);
    xfree(chan_flags);
    xfree(chan_all);
    catalog = NULL;
    keyperm = NULL;
    chan_flags = NULL;
    chan_all = NULL;
}

void exec_access_set_keyperm(const char *name, cmd_keyperm_fn fn) {
    const struct command *cmd = exec_command_lookup(name, strlen(name));
    if (cmd && keyperm) keyperm[cmd->id] = fn;
}

/* ---- clients ------------------------------------------------------------------------ */

void exec_client_set_user(struct client *c, struct acl_user *u) {
    struct acl_user *old = c->user;
    c->user = u;
    c->authenticated = true;
    if (old) acl_user_unref(old);
}

void exec_client_default_auth(struct client *c) {
    struct acl_user *old = c->user;
    c->user = acl_default_user();
    c->authenticated = !acl_auth_required();
    if (old) acl_user_unref(old);
}

/* ---- a request for the ACL layer ------------------------------------------------------- */

struct access_req {
    struct acl_request rq;
    struct acl_ref kbuf[SMALL_REFS];
    struct acl_ref cbuf[SMALL_REFS];
    struct acl_ref *kheap, *cheap;
};

static unsigned perm_of(unsigned ksflags) {
    unsigned p = 0;
    if (ksflags & KS_ACCESS) p |= ACL_PERM_READ;
    if (ksflags & (KS_INSERT | KS_DELETE | KS_UPDATE)) p |= ACL_PERM_WRITE;
    return p;
}

static bool has_variable_flags(const struct command *cmd) {
    for (int i = 0; i < cmd->nkeyspecs; i++)
        if (cmd->keyspecs[i].flags & KS_VARIABLE_FLAGS) return true;
    return false;
}

/* Keys into out (up to max); the count, 0 when they cannot be known. */
static int find_keys(const struct command *cmd, int argc, const char *const *argv, const size_t *lens,
                     struct acl_ref *out, int max) {
    if (cmd->nkeyspecs == 0) return 0;
    if (cmd->static_keys && cmd->nkeyspecs == 1 && !keyperm[cmd->id]) {
        /* One spec at fixed positions (GET, SET, MGET, MSET...): no walk. */
        unsigned perm = perm_of(cmd->keyspecs[0].flags);
        int last = cmd->last_key >= 0 ? cmd->last_key : argc + cmd->last_key;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        if (last >= argc) last = argc - 1;
        int n = 0;
        for (int pos = cmd->first_key; pos <= last; pos += step, n++)
            if (n < max) out[n] = (struct acl_ref){pos, perm};
        return n;
    }
    if (!has_variable_flags(cmd)) {
        int pos[SMALL_REFS];
        unsigned flags[SMALL_REFS];
        int *ppos = pos;
        unsigned *pflags = flags;
        int n = exec_command_keyspecs(cmd, argc, argv, lens, pos, flags, SMALL_REFS);
        if (n > SMALL_REFS) {
            ppos = xmalloc(sizeof(int) * (size_t)n);
            pflags = xmalloc(sizeof(unsigned) * (size_t)n);
            exec_command_keyspecs(cmd, argc, argv, lens, ppos, pflags, n);
        }
        for (int i = 0; i < n && i < max; i++) out[i] = (struct acl_ref){ppos[i], perm_of(pflags[i])};
        if (ppos != pos) {
            xfree(ppos);
            xfree(pflags);
        }
        if (n >= 0) return n;
    }
    if (keyperm[cmd->id]) return keyperm[cmd->id](argc, argv, lens, out, max);
    return 0;
}

static void req_build(struct access_req *a, const struct command *cmd, int argc, const char *const *argv,
                      const size_t *lens) {
    a->kheap = a->cheap = NULL;
    a->rq = (struct acl_request){cmd->id, argc, argv, lens, a->kbuf, 0, a->cbuf, 0};
    int n = find_keys(cmd, argc, argv, lens, a->kbuf, SMALL_REFS);
    if (n > SMALL_REFS) {
        a->kheap = xmalloc(sizeof(*a->kheap) * (size_t)n);
        n = find_keys(cmd, argc, argv, lens, a->kheap, n);
        a->rq.keys = a->kheap;
    }
    a->rq.nkeys = n;
    unsigned cf = chan_flags[cmd->id];
    if (cf && argc > 1) {
        int first = 1, last = chan_all[cmd->id] ? argc - 1 : 1;
        int nch = last - first + 1;
        struct acl_ref *refs = a->cbuf;
        if (nch > SMALL_REFS) refs = a->cheap = xmalloc(sizeof(*refs) * (size_t)nch);
        for (int i = 0; i < nch; i++) refs[i] = (struct acl_ref){first + i, cf};
        a->rq.chans = refs;
        a->rq.nchans = nch;
    }
}

static void req_free(struct access_req *a) {
    xfree(a->kheap);
    xfree(a->cheap);
}

/* ---- verdicts ------------------------------------------------------------------------------ */

void exec_access_log(struct client *c, enum acl_result why, enum acl_log_ctx ctx, int pos, const char *user,
                     size_t ulen) {
    const char *obj;
    size_t olen;
    if (why == ACL_DENIED_CMD && c->cmd) {
        obj = c->cmd->fullname;
        olen = strlen(obj);
    } else if (why == ACL_DENIED_AUTH || pos <= 0 || pos >= c->argc) {
        obj = c->argv[0];
        olen = c->argvlen[0];
    } else {
        obj = c->argv[pos];
        olen = c->argvlen[pos];
    }
    if (user == NULL) {
        user = acl_user_name(c->user);
        ulen = strlen(user);
    }
    struct buf info = BUF_INIT;
    client_info_line(c, &info);
    if (info.len && info.data[info.len - 1] == '\n') info.len--;
    acl_log_add(why, ctx, obj, olen, user, ulen, info.data ? info.data : "", info.len);
    buf_free(&info);
}

enum acl_result exec_access_verdict(struct client *c, const struct command *cmd, enum acl_log_ctx ctx, int *pos) {
    struct access_req a;
    req_build(&a, cmd, c->argc, c->argv, c->argvlen);
    *pos = 0;
    enum acl_result r = acl_check(c->user, &a.rq, pos);
    req_free(&a);
    if (r != ACL_OK) {
        const struct command *saved = c->cmd;
        c->cmd = cmd;
        exec_access_log(c, r, ctx, *pos, NULL, 0);
        c->cmd = saved;
    }
    return r;
}

enum acl_result exec_access_check_user(struct acl_user *u, const struct command *cmd, int argc,
                                       const char *const *argv, const size_t *lens, int *pos) {
    if (acl_user_unrestricted(u)) return ACL_OK;
    struct access_req a;
    req_build(&a, cmd, argc, argv, lens);
    *pos = 0;
    enum acl_result r = acl_check(u, &a.rq, pos);
    req_free(&a);
    return r;
}

bool exec_access_dryrun(const char *name, size_t nlen, const struct command *cmd, int argc, const char *const *argv,
                        const size_t *lens, enum acl_result *res, int *pos) {
    struct access_req a;
    req_build(&a, cmd, argc, argv, lens);
    *pos = 0;
    bool found = acl_check_by_name(name, nlen, &a.rq, res, pos);
    req_free(&a);
    return found;
}

bool exec_access_full_keys(struct client *c, unsigned perm) {
    if (c->user == NULL || acl_user_unrestricted(c->user)) return true; /* NULL: internal (AOF loading) */
    struct access_req a;
    req_build(&a, c->cmd, c->argc, c->argv, c->argvlen);
    bool ok = acl_check_full_key_access(c->user, &a.rq, perm);
    req_free(&a);
    return ok;
}

/* ---- closing the clients of changed users --------------------------------------------------- */

struct enforce_job {
    struct acl_doomed d;
    uint64_t self_id;
    bool kill_self; /* written only on the asker's worker */
    bool later;     /* inside EXEC: close asynchronously */
    bool silent;    /* the asker's replies are off (CLIENT REPLY OFF/SKIP) */
    access_done_fn done;
    void *arg;
    _Atomic int refs; /* the EXEC path: one per worker message */
};

struct chan_check {
    struct acl_user *u;
};

static bool lost_permission(void *arg, const char *name, size_t len, bool pattern) {
    const struct chan_check *cc = arg;
    return !acl_check_channel(cc->u, name, len, pattern);
}

static bool doomed_user(const struct acl_doomed *d, const struct acl_user *u) {
    for (int i = 0; i < d->n; i++)
        if (d->users[i] == u) return true;
    return false;
}

/* [worker idx] Close this worker's clients that the change concerns. */
static void enforce_work(void *arg, int idx) {
    struct enforce_job *j = arg;
    struct client *cl = client_first();
    while (cl) {
        struct client *next = client_next(cl);
        bool kill = false;
        if (!(cl->flags & CLIENT_CLOSED) && !cl->proto) {
            if (doomed_user(&j->d, cl->user)) {
                /* Redis puts such a client back to the default user,
                 * unauthenticated, before closing it: defensive. */
                exec_client_default_auth(cl);
                cl->authenticated = false;
                kill = true;
            } else if (j->d.revoked && cl->user == j->d.revoked) {
                struct chan_check cc = {cl->user};
                kill = pubsub_client_any(cl, lost_permission, &cc);
            }
        }
        if (kill) {
            if (cl->id == j->self_id)
                j->kill_self = true;
            else if (j->later)
                client_close_async(cl);
            else
                client_kill(cl);
        }
        cl = next;
    }
}

static void enforce_free(struct enforce_job *j) {
    acl_doomed_free(&j->d);
    xfree(j);
}

static void enforce_done(struct client *c, void *arg) {
    struct enforce_job *j = arg;
    if (c) {
        if (j->done && !j->silent) j->done(c, j->arg);
        if (j->kill_self) client_close_after_reply(c);
    }
    enforce_free(j);
}

struct enforce_msg {
    struct mbox_msg m;
    struct enforce_job *j;
};

static void enforce_unref(struct enforce_job *j) {
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) enforce_free(j);
}

static void enforce_msg_run(struct mbox_msg *m) {
    struct enforce_msg *msg = (struct enforce_msg *)m;
    enforce_work(msg->j, worker_self_id());
    enforce_unref(msg->j);
    xfree(msg);
}

/* After the EXEC that changed users (no lock held): the other workers. */
static void enforce_post(void *arg) {
    struct enforce_job *j = arg;
    int self = worker_self_id();
    for (int i = 0; i < worker_count(); i++) {
        if (i == self) continue;
        struct enforce_msg *msg = xcalloc(1, sizeof(*msg));
        msg->j = j;
        worker_post(worker_at(i), &msg->m, enforce_msg_run);
    }
    enforce_unref(j);
}

void exec_access_enforce(struct client *c, struct acl_doomed *d, access_done_fn done, void *arg) {
    if (d->n == 0 && d->revoked == NULL) {
        acl_doomed_free(d);
        if (done) done(c, arg);
        return;
    }
    struct enforce_job *j = xcalloc(1, sizeof(*j));
    j->d = *d;
    memset(d, 0, sizeof(*d));
    j->self_id = c->id;
    j->done = done;
    j->arg = arg;
    j->silent = c->out != &c->obuf;
    if (c->flags & CLIENT_IN_EXEC) {
        /* Stripe locks are held: no waiting, no mailbox post now. */
        j->later = true;
        enforce_work(j, worker_self_id());
        if (done) done(c, arg);
        if (j->kill_self) client_close_after_reply(c);
        atomic_init(&j->refs, worker_count());
        loop_defer(worker_loop(c->worker), enforce_post, j);
        return;
    }
    client_fanout(c, enforce_work, enforce_done, j);
}
