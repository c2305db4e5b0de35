/*
 * net/listener.h - listening sockets shared by all workers.
 *
 * A listener's fd is registered in every worker's loop with EPOLLEXCLUSIVE,
 * so one worker (mostly) is woken per incoming connection and accepts it;
 * it then hands the connection to the next worker in round-robin order
 * (through that worker's mailbox), which owns it from then on. Supports TCP
 * over IPv4/IPv6 and UNIX domain sockets.
 *
 * UDP: a datagram socket has no connections to hand out. It is registered
 * on every worker the same way, and the worker woken calls the callback
 * with the shared socket (kind LISTENER_UDP, fd not owned): the callback
 * reads and answers the waiting datagrams itself.
 *
 * Thread context: open/close from the main thread; the accept callback runs
 * on the accepting worker.
 */
#ifndef STASH_NET_LISTENER_H
#define STASH_NET_LISTENER_H

#include "base/common.h"
#include "net/worker.h"

enum listener_kind { LISTENER_TCP = 0, LISTENER_UNIX = 1, LISTENER_UDP = 2 };

struct listener;
/* A new connection on the current (owning) worker; the callee owns fd. `tag` is
 * the value given to listener_attach (e.g. which protocol this port is). */
typedef void (*listener_accept_fn)(int fd, enum listener_kind kind, int tag);

/* Bind and listen on addr:port ("*" or "" for all, "-" prefix: optional as
 * in redis.conf). On failure returns an error and writes a message to err. */
int listener_open_tcp(const char *addr, int port, int backlog, struct listener **out, char *err,
                      size_t errlen);
int listener_open_unix(const char *path, int perm, int backlog, struct listener **out, char *err,
                       size_t errlen);
/* A UDP socket bound to addr:port (same address rules as TCP). */
int listener_open_udp(const char *addr, int port, struct listener **out, char *err, size_t errlen);
/* Register on every worker loop; call after worker_setup, before start. */
void listener_attach(struct listener *ls, listener_accept_fn fn, int tag);
/* Stop accepting: unregister from every worker loop and close the socket.
 * The struct stays valid (a worker may still be handling an event for it
 * in its current batch; accept then fails harmlessly). [any] */
void listener_detach(struct listener *ls);
/* Detach if needed and free; call with the workers stopped. */
void listener_close(struct listener **ls);
/* The port actually bound (useful with port 0). */
int listener_port(const struct listener *ls);

/* "ip:port" of a socket's peer or local side, "[v6]:port" for IPv6 as
 * Redis writes it. Returns the length. */
int net_peer_name(int fd, char *buf, size_t cap, bool local);

#endif
