/*
 * store/lazyfree.c - one background thread that frees big things (flushed
 * databases, big values) so that no command waits for it. FIFO queue under
 * a mutex + condition variable; jobs are rare and big, so a lock-free queue
 * would buy nothing.
 */
#include "store/store_internal.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <pthread.h>
#include <stdatomic.h>

struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
    uint64_t objects;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail;
static bool stopping;
static bool running;
static pthread_t thread;
static _Atomic uint64_t pending;
static _Atomic uint64_t freed; /* objects freed by jobs (INFO lazyfreed_objects) */

static void *lazyfree_main(void *arg) {
    alloc_thread_init();
    pthread_setname_np(pthread_self(), "stash-lazyfree");
    pthread_mutex_lock(&mu);
    for (;;) {
        while (head == NULL && !stopping) pthread_cond_wait(&cv, &mu);
        if (head == NULL && stopping) break;
        struct job *j = head;
        head = j->next;
        if (head == NULL) tail = NULL;
        pthread_mutex_unlock(&mu);
        j->fn(j->arg);
        atomic_fetch_add(&freed, j->objects);
        xfree(j);
        atomic_fetch_sub(&pending, 1);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int lazyfree_setup(void) {
    stopping = false;
    if (pthread_create(&thread, NULL, lazyfree_main, NULL) != 0) return -1;
    running = true;
    return 0;
}

void lazyfree_teardown(void) {
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = false;
}

void store_lazyfree(void (*fn)(void *), void *arg) { store_lazyfree_n(fn, arg, 0); }

uint64_t store_lazyfreed(void) { return atomic_load(&freed); }
void lazyfree_credit(uint64_t n) { atomic_fetch_add(&freed, n); }
void store_lazyfreed_reset(void) { atomic_store(&freed, 0); }

void store_lazyfree_n(void (*fn)(void *), void *arg, uint64_t objects) {
    if (!running) {
        fn(arg);
        return;
    }
    struct job *j = xmalloc(sizeof(*j));
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    j->objects = objects;
    atomic_fetch_add(&pending, 1);
    pthread_mutex_lock(&mu);
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

uint64_t store_lazyfree_pending(void) { return atomic_load(&pending); }
