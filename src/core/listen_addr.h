/*
 * listen_addr - "ADDR:PORT" as the HTTP listeners take it
 *
 * One parser, and so one set of rules and messages, for the daemon's
 * metrics_listen key (called by config.c) and relayguard-audit serve
 * --listen: an IPv4 address and port, or an IPv6 address in brackets
 * ("[::1]:9154"); no host names (a listener must not depend on DNS).
 */
#ifndef RG_LISTEN_ADDR_H
#define RG_LISTEN_ADDR_H

#include <sys/socket.h>

/* listen_addr_parse - fill *ss (when not NULL) and *loopback (127/8,
 * ::1); NULL on success, else the reason the text is wrong */
const char *listen_addr_parse(const char *text, struct sockaddr_storage *ss,
			      int *loopback);

#endif
