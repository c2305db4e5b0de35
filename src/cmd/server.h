/*
 * cmd/server.h - what the composition root tells the server commands.
 *
 * cmd_server_started: once at start-up, before the workers run.
 */
#ifndef STASH_CMD_SERVER_H
#define STASH_CMD_SERVER_H

#include "base/common.h"

/* When the server started (LASTSAVE until persistence exists) and the
 * bytes allocated then (MEMORY STATS startup.allocated). */
void cmd_server_started(int64_t start_ms, size_t startup_bytes);

/* A command by full name: "get", "config|get" (NULL if unknown). [any] */
struct command;
const struct command *cmd_lookup_fullname(const char *name, size_t len);

#endif
