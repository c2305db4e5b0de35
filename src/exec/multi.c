/*
 * exec/multi.c - transactions; see multi.h.
 */
#include "exec/multi.h"
#include "base/alloc.h"
#include "exec/access.h"
#include "exec/exec.h"
#include "exec/reply.h"
#include "repl/log.h"

#include <string.h>

struct queued {
    const struct command *cmd;
    int argc;
    char **argv;
    size_t *lens;
};

struct multi_state {
    struct queued *q;
    int n, cap;
    uint64_t flags; /* union of the queued commands' flags */
    uint64_t inv_flags; /* union of their missing flags */
    size_t mem;
};

int multi_queued(const struct client *c) { return c->multi ? c->multi->n : 0; }
size_t multi_memory(const struct client *c) { return c->multi ? c->multi->mem : 0; }
uint64_t multi_flags(const struct client *c) { return c->multi ? c->multi->flags : 0; }
uint64_t multi_inv_flags(const struct client *c) { return c->multi ? c->multi->inv_flags : 0; }

void multi_begin(struct client *c) {
    c->flags |= CLIENT_MULTI;
    if (c->multi == NULL) c->multi = xcalloc(1, sizeof(*c->multi));
}

void multi_queue(struct client *c) {
    struct multi_state *m = c->multi;
    /* An aborted transaction (a rejected command, or a touched watched key)
     * keeps nothing: EXEC will fail anyway (Redis). */
    if ((c->flags & CLIENT_DIRTY_EXEC) || store_watch_dirty(&c->watch)) return;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->q = xrealloc(m->q, (size_t)m->cap * sizeof(*m->q));
    }
    struct queued *q = &m->q[m->n++];
    q->cmd = c->cmd;
    q->argc = c->argc;
    q->argv = xmalloc((size_t)c->argc * sizeof(char *));
    q->lens = xmalloc((size_t)c->argc * sizeof(size_t));
    for (int i = 0; i < c->argc; i++) {
        q->argv[i] = xmemdup(c->argv[i], c->argvlen[i] + 1);
        q->argv[i][c->argvlen[i]] = '\0';
        q->lens[i] = c->argvlen[i];
        m->mem += c->argvlen[i];
    }
    m->flags |= c->cmd->flags;
    m->inv_flags |= ~c->cmd->flags;
    m->mem += sizeof(*q) + (size_t)c->argc * (sizeof(char *) + sizeof(size_t));
}

void multi_reset(struct client *c) {
    struct multi_state *m = c->multi;
    if (m) {
        for (int i = 0; i < m->n; i++) {
            for (int a = 0; a < m->q[i].argc; a++) xfree(m->q[i].argv[a]);
            xfree(m->q[i].argv);
            xfree(m->q[i].lens);
        }
        xfree(m->q);
        xfree(m);
        c->multi = NULL;
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

void multi_discard(struct client *c) {
    multi_reset(c);
    store_unwatch_all(&c->watch);
}

struct exec_run {
    struct client *c;
    bool aborted;
};

/* Redis checks the ACLs again when EXEC runs each queued command (the
 * rules may have changed since it was queued). */
static bool acl_still_allows(struct client *c, const struct command *cmd) {
    int pos;
    enum acl_result r = exec_access_verdict(c, cmd, ACL_LOG_CTX_MULTI, &pos);
    if (r == ACL_OK) return true;
    const char *why = r == ACL_DENIED_CMD       ? "no permission to execute the command or subcommand"
                      : r == ACL_DENIED_KEY     ? "no permission to touch the specified keys"
                      : r == ACL_DENIED_CHANNEL ? "no permission to access one of the channels used as arguments"
                                                : "no permission";
    c->cmd = cmd;
    reply_errorf(c,
                 "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
                 "This command is no longer allowed for the following reason: %s",
                 why);
    return false;
}

static void exec_locked(void *arg) {
    struct exec_run *r = arg;
    struct client *c = r->c;
    struct multi_state *m = c->multi;
    /* WATCH: a touched key, or a watched key that expired since. */
    if (store_watch_dirty(&c->watch) || store_watch_expired(&c->watch)) {
        r->aborted = true;
        return;
    }
    store_freeze_now(true);
    reply_array(c, m->n);
    const char **saved_argv = c->argv;
    size_t *saved_lens = c->argvlen;
    int saved_argc = c->argc;
    const struct command *saved_cmd = c->cmd;
    c->flags |= CLIENT_IN_EXEC;
    for (int i = 0; i < m->n; i++) {
        struct queued *q = &m->q[i];
        c->argv = (const char **)q->argv;
        c->argvlen = q->lens;
        c->argc = q->argc;
        /* (No user: an internal client, the AOF's.) */
        if (UNLIKELY(c->user && !acl_user_unrestricted(c->user)) && !acl_still_allows(c, q->cmd)) continue;
        exec_call_locked(c, q->cmd);
    }
    c->flags &= ~CLIENT_IN_EXEC;
    c->argv = saved_argv;
    c->argvlen = saved_lens;
    c->argc = saved_argc;
    c->cmd = saved_cmd;
    store_freeze_now(false);
}

/* Keyless commands of these groups never touch the keyspace. */
static bool keyless_may_touch_keys(const struct command *cmd) {
    if (cmd->nkeyspecs > 0) return false;
    /* ACL commands work on users, never on keys (ACL LOAD reads a file:
     * better not under every stripe lock). */
    if (cmd->parent && strcmp(cmd->parent->name, "acl") == 0) return false;
    const char *g = cmd->group ? cmd->group : "";
    return strcmp(g, "connection") != 0 && strcmp(g, "pubsub") != 0 && strcmp(g, "transactions") != 0;
}

void multi_exec(struct client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        multi_discard(c);
        return;
    }
    struct multi_state *m = c->multi;
    /* The stripes of every queued command and every watched key. */
    struct store_lockset ls;
    store_lockset_init(&ls);
    store_watch_lockset(&c->watch, &ls);
    const char **saved_argv = c->argv;
    size_t *saved_lens = c->argvlen;
    int saved_argc = c->argc;
    for (int i = 0; i < m->n && !ls.all; i++) {
        struct queued *q = &m->q[i];
        if (q->cmd->flags & CMD_ALL_STRIPES) {
            store_lockset_all(&ls);
            break;
        }
        c->argv = (const char **)q->argv;
        c->argvlen = q->lens;
        c->argc = q->argc;
        exec_add_locks(c, q->cmd, &ls);
    }
    c->argv = saved_argv;
    c->argvlen = saved_lens;
    c->argc = saved_argc;
    /* Keyless commands that may reach the keyspace (DBSIZE, KEYS, SCAN,
     * DEBUG OBJECT, INFO keyspace...) take locks themselves when run alone;
     * inside EXEC a nested store_run may only use stripes already held, so
     * the transaction holds them all. */
    if (m->flags & CMD_ALL_STRIPES) store_lockset_all(&ls);
    for (int i = 0; i < m->n && !ls.all; i++)
        if (keyless_may_touch_keys(m->q[i].cmd)) store_lockset_all(&ls);
    struct exec_run r = {c, false};
    if (ls.n == 0 && !ls.all) {
        exec_locked(&r);
        exec_store_seal();
        exec_store_after();
    } else {
        store_run(&ls, STORE_WRITE, exec_locked, &r);
    }
    if (r.aborted) reply_null_array(c);
    multi_discard(c);
}
