/*
 * cmd/keyspace.h - what the generic key commands share with DEBUG.
 */
#ifndef STASH_CMD_KEYSPACE_H
#define STASH_CMD_KEYSPACE_H

#include "store/entry.h"

/* OBJECT REFCOUNT's answer for a value: 1, or INT_MAX for the small
 * integers (0..9999) that Redis shares unless maxmemory evicts by LRU/LFU.
 * [stripe-locked] */
long long keyspace_refcount(const struct entry *e);

#endif
