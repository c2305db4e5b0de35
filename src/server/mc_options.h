/*
 * server/mc_options.h - memcached's command line for
 * `stash-server --engine memcached ...`.
 *
 * Every memcached 1.6 flag and -o option is accepted with memcached's
 * meaning, defaults and error messages (exit codes included). What Stash
 * does itself is mapped onto its settings (threads, maxmemory, eviction
 * policy, maxclients, listeners, daemonize, pidfile); what tunes
 * memcached's own internals (slab classes, LRU segments, hash table,
 * crawler) is accepted, validated as memcached validates it, shown by
 * "stats settings", and otherwise ignored.
 *
 * Thread context: the main thread, before any other thread exists.
 */
#ifndef STASH_SERVER_MC_OPTIONS_H
#define STASH_SERVER_MC_OPTIONS_H

/* Is this command line `stash-server --engine memcached ...`? Returns the
 * index of the first memcached argument, or 0 when it is not. */
int mc_options_engine(int argc, char **argv);

/* Parse memcached's arguments argv[0..argc) (argv[0] is taken as the
 * program name). On success returns -1 and sets *config to the Stash
 * configuration text they amount to (caller frees); the memcached engine's
 * own settings are written to memcache_settings(). Otherwise returns the
 * exit status the process must end with (0 for -h, -V, -i), after printing
 * what memcached prints. */
int mc_options_parse(int argc, char **argv, char **config);

#endif
