/*
 * server/server.h - the composition root's own state: listeners, process
 * settings (pidfile, daemonize), the main thread's cron and shutdown, and
 * the INFO "server" section. Nothing below server/ includes this.
 */
#ifndef STASH_SERVER_SERVER_H
#define STASH_SERVER_SERVER_H

#include "base/common.h"

/* Options of the composition root and of the modules below config/. */
void server_options_register(void);

struct server_settings {
    int port;
    char bind[16][64];
    int nbind;
    char unixsocket[108];
    int unixsocketperm;
    int tcp_backlog;
    int databases;
    int threads;
    int hz;
    char dir[4096];
    char pidfile[4096];
    bool daemonize;
    int tls_port; /* listened on (server/tls_options.c writes it) */
};
extern struct server_settings server_settings;

/* Re-bind listeners after CONFIG SET port/bind; 0 or an error. */
int server_rebind(int port, char binds[][64], int nbind, char *err);
/* Set by main; used by CONFIG SET port. */
void server_set_rebind_hook(int (*fn)(int port, char binds[][64], int nbind, char *err));
void server_info_register(void);

/* TLS (server/tls_options.c): the tls-* directives and the Redis
 * listeners' TLS identity (also the client side of outgoing TLS links,
 * e.g. a replica's to its primary). */
struct tls_server;
void tls_options_register(void);
/* Configure TLS if the loaded configuration uses it; 0 or -1 (logged). */
int tls_options_start(void);
void tls_options_teardown(void);
struct tls_server *server_tls(void);
bool server_tls_replication(void);
/* Set by main; moves the TLS listeners (CONFIG SET tls-port, bind). */
void server_set_tls_rebind_hook(int (*fn)(int port, char binds[][64], int nbind, char *err));
/* CONFIG SET bind: move the TLS listeners (if any) to these addresses. */
int server_tls_rebind(char binds[][64], int nbind, char *err);
int64_t server_start_ms(void);

#endif
