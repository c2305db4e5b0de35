/*
 * net/worker.c - see worker.h.
 */
#include "net/worker.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "base/obuf.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct worker {
    int id;
    pthread_t thread;
    struct loop *loop;
    struct mbox *mbox;
    bool started;
};

static struct worker *workers;
static int nworkers;
static worker_fn start_hook, stop_hook;
static __thread struct worker *self;
__thread int worker_tls_id = -1;

int worker_setup(int n) {
    ASSERT(n >= 1 && n <= WORKER_MAX);
    workers = xcalloc((size_t)n, sizeof(*workers));
    nworkers = n;
    for (int i = 0; i < n; i++) {
        workers[i].id = i;
        workers[i].loop = loop_create();
        workers[i].mbox = mbox_create(workers[i].loop);
    }
    return 0;
}

void worker_teardown(void) {
    for (int i = 0; i < nworkers; i++) {
        mbox_destroy(&workers[i].mbox);
        loop_destroy(&workers[i].loop);
    }
    xfree(workers);
    workers = NULL;
    nworkers = 0;
}

void worker_drain_pending(void) {
    if (self && mbox_pending(self->mbox)) mbox_drain(self->mbox);
}

static void *thread_main(void *arg) {
    struct worker *w = arg;
    self = w;
    worker_tls_id = w->id;
    alloc_thread_init();
    /* Signals go to the main thread only. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    char name[16];
    snprintf(name, sizeof(name), "stash-w%d", w->id);
    pthread_setname_np(pthread_self(), name);
    if (start_hook) start_hook(w);
    loop_run(w->loop);
    if (stop_hook) stop_hook(w);
    obuf_thread_cleanup();
    return NULL;
}

int worker_start(worker_fn on_start, worker_fn on_stop) {
    start_hook = on_start;
    stop_hook = on_stop;
    for (int i = 0; i < nworkers; i++) {
        int rc = pthread_create(&workers[i].thread, NULL, thread_main, &workers[i]);
        if (rc != 0) {
            log_warn("Can't create worker thread: %s", strerror(rc));
            return ERR_GENERIC;
        }
        workers[i].started = true;
    }
    return 0;
}

void worker_stop(void) {
    for (int i = 0; i < nworkers; i++)
        if (workers[i].started) loop_stop(workers[i].loop);
    for (int i = 0; i < nworkers; i++) {
        if (workers[i].started) pthread_join(workers[i].thread, NULL);
        workers[i].started = false;
    }
}

int worker_count(void) { return nworkers; }
struct worker *worker_at(int i) { return (i >= 0 && i < nworkers) ? &workers[i] : NULL; }
struct worker *worker_self(void) { return self; }
int worker_id(const struct worker *w) { return w->id; }
struct loop *worker_loop(struct worker *w) { return w->loop; }

void worker_post(struct worker *w, struct mbox_msg *m, mbox_fn fn) { mbox_post(w->mbox, m, fn); }
