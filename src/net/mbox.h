/*
 * net/mbox.h - a worker's mailbox: many threads post, the owner runs.
 *
 * A message is an intrusive `struct mbox_msg` embedded in the sender's
 * object, with the function the receiving thread runs on it. Posting
 * transfers ownership: after mbox_post the sender must not touch the
 * message; the receiver's fn frees or reuses it.
 *
 * Queue: Vyukov's intrusive MPSC list (one atomic exchange per post, no
 * lock). Wake-up: an eventfd in the owner's loop, written only when the
 * `armed` flag flips from 0 to 1, so a burst of posts costs one write(2).
 *
 * Thread context: mbox_post [any]; everything else [owner].
 */
#ifndef STASH_NET_MBOX_H
#define STASH_NET_MBOX_H

#include "base/common.h"
#include "net/loop.h"

#include <stdatomic.h>

struct mbox_msg;
typedef void (*mbox_fn)(struct mbox_msg *m);

struct mbox_msg {
    _Atomic(struct mbox_msg *) next;
    mbox_fn fn;
};

struct mbox;

struct mbox *mbox_create(struct loop *l);
void mbox_destroy(struct mbox **mb);
/* [any] Queue m for the owner; ownership moves to the receiver. */
void mbox_post(struct mbox *mb, struct mbox_msg *m, mbox_fn fn);
/* [owner] Has anything been posted since the last drain? Cheap. */
bool mbox_pending(struct mbox *mb);
/* [owner] Run every queued message now; returns how many ran. */
int mbox_drain(struct mbox *mb);

#endif
