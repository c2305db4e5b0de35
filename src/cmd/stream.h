/*
 * cmd/stream.h - setup of the STREAM family (cmd/stream.c, cmd/stream_cg.c):
 * the stream value type's operations and its options
 * (stream-node-max-bytes, stream-node-max-entries).
 */
#ifndef STASH_CMD_STREAM_H
#define STASH_CMD_STREAM_H

/* Register TYPE_STREAM's type_ops, the stream options and XREAD's key
 * finder. Called by cmd_setup() before the config file is read. */
void cmd_stream_setup(void);

#endif
