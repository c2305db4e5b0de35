/*
 * cmd/list.h - setup of the LIST family (cmd/list.c): the list value type's
 * operations and its options (list-max-listpack-size, list-compress-depth).
 */
#ifndef STASH_CMD_LIST_H
#define STASH_CMD_LIST_H

/* Register TYPE_LIST's type_ops and the list options. Called by cmd_setup()
 * before the config file is read. */
void cmd_list_setup(void);

#endif
