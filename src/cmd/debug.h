/*
 * cmd/debug.h - DEBUG's setup (its option, enable-debug-command).
 */
#ifndef STASH_CMD_DEBUG_H
#define STASH_CMD_DEBUG_H

/* Register enable-debug-command with the config registry (before the
 * config file is read). */
void cmd_debug_setup(void);

#endif
