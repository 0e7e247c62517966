/*
 * policy_server - Postfix policy delegation (check_policy_service) on
 * the same engine as the milter
 *
 * A second front door into the daemon: smtpd connects to policy_socket
 * and sends one request per restriction check; each is judged by
 * judge_step() -- same configuration, runtime reference counting,
 * directory, audit trail and log lines as the milter -- and answered
 * with an access(5) action.  One epoll thread accepts and watches every
 * connection (smtpd keeps one open per process, so a busy server holds
 * hundreds); requests are judged on that thread when the directory never
 * blocks (the file backend), else by a small pool of worker threads, so
 * a lookup that blocks (an LDAP cache miss) never stalls the other
 * connections.
 *
 * Bounds (documented in relayguard(8)): a request is at most 16 KiB;
 * at most POLICY_CONN_MAX connections (more are refused with a log
 * line); a started request must be complete within policy_timeout
 * seconds; an idle connection is closed after
 * POLICY_IDLE_TIMEOUT seconds.  Anything that is not a policy request
 * closes the connection with a log line, never a verdict.
 */
#ifndef RG_POLICY_SERVER_H
#define RG_POLICY_SERVER_H

#include <stddef.h>

#define POLICY_CONN_MAX		4096
#define POLICY_WORKERS		8
#define POLICY_IDLE_TIMEOUT	1800	/* seconds (smtpd's own max_idle is 300) */

/* policy_server_open - bind and listen on spec (policy_socket), still
 * with start-up privileges; a unix socket is created with mode.  0 ok,
 * -1 with the reason in err. */
int     policy_server_open(const char *spec, unsigned mode, char *err,
			   size_t errlen);

/* policy_server_unix_path - the unix socket's path (for the caller to
 * give to the daemon's user), NULL for inet */
const char *policy_server_unix_path(void);

/* policy_server_start - start the threads (after the runtime is
 * installed); a request started must be complete within timeout_s
 * seconds (policy_timeout).  0 ok, -1 with err */
int     policy_server_start(unsigned timeout_s, char *err, size_t errlen);

/* policy_server_stop - stop accepting, close every connection, join the
 * threads, remove a unix socket; safe when never opened */
void    policy_server_stop(void);

#endif
