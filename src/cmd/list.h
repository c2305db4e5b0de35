/*
 * cmd/list.h - setup of the LIST family (cmd/list.c): the list value type's
 * operations and its options (list-max-listpack-size, list-compress-depth).
 */
#ifndef STASH_CMD_LIST_H
#define STASH_CMD_LIST_H

/* Register TYPE_LIST's type_ops and the list options. Called by cmd_setup()
 * before the config file is read. */
void cmd_list_setup(void);

struct client;
/* DEBUG QUICKLIST-PACKED-THRESHOLD <size>: elements of at least this many
 * bytes get a plain quicklist node (0: back to 1 GiB). */
void cmd_debug_quicklist_packed_threshold(struct client *c);

#endif
