/*
 * base/err.h - the one status enum of internal functions.
 *
 * Internal functions return int: 0 (OK) on success, a negative ERR_* on failure.
 * Client-visible error text lives in the protocol layers' error tables, never here.
 */
#ifndef STASH_BASE_ERR_H
#define STASH_BASE_ERR_H

enum {
    OK = 0,
    ERR_GENERIC = -1,  /* unspecified failure */
    ERR_NOMEM = -2,    /* allocation refused (maxmemory), never malloc failure */
    ERR_INVAL = -3,    /* invalid argument */
    ERR_AGAIN = -4,    /* try again later (would block, lock busy) */
    ERR_RANGE = -5,    /* value out of range / overflow */
    ERR_NOTFOUND = -6, /* no such key / item */
    ERR_EXISTS = -7,   /* already exists */
    ERR_IO = -8,       /* system call failed; errno is meaningful */
    ERR_TYPE = -9,     /* wrong type of value */
    ERR_LIMIT = -10,   /* a configured limit was reached */
    ERR_PROTO = -11,   /* protocol violation */
    ERR_CLOSED = -12,  /* peer closed / connection gone */
};

#endif
