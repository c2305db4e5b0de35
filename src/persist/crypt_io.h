/*
 * persist/crypt_io.h - private to persist/: how the file sink hands a
 * regular file to encryption at rest (persist/crypt_io.c).
 */
#ifndef STASH_PERSIST_CRYPT_IO_H
#define STASH_PERSIST_CRYPT_IO_H

#include "persist/sink.h"

/* The sink to use for fd, given its plain file sink: `file` itself (not a
 * regular file, or plain), or an encrypting sink around it (a new file
 * while a key is set, or an existing encrypted file appended to). The
 * returned sink owns `file`. */
struct persist_sink *crypt_sink_for_fd(int fd, struct persist_sink *file);

#endif
