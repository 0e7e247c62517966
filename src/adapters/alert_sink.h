/*
 * alert_sink - where an alert goes: the alerts table and alert_command
 *
 * NAME
 *	alert_sink - the alert thread, its queue and its commands
 * SUMMARY
 *	The judge hands a copy of each struct rg_alert (alert.h) to
 *	alert_sink_submit().  That never blocks mail: the copy goes on a
 *	bounded queue (ALERT_QUEUE_MAX); one thread then writes the row to
 *	the audit database's alerts table (itself for SQLite, through a
 *	row writer, the verdict writer, for PostgreSQL) and runs
 *	alert_command, if any, with the alert as one JSON object
 *	(alert_json) on its standard input.
 * DESCRIPTION
 *	Commands are bounded in number and time: at most max_running run
 *	at once (an alert beyond that is recorded and logged, its command
 *	skipped), each is killed with its process group after timeout
 *	seconds.  A command's exit status other than 0, a kill, a failed
 *	start or a full queue is logged; nothing of it reaches the SMTP
 *	session.  The command runs as the daemon's user, through /bin/sh
 *	-c, in its own process group, with stdout and stderr on /dev/null.
 * OWNERSHIP
 *	alert_sink_open() returns a sink the caller closes with
 *	alert_sink_close(), which waits (bounded) for running commands and
 *	returns NULL.  alert_sink_submit() copies the alert and the command.
 */
#ifndef RG_ALERT_SINK_H
#define RG_ALERT_SINK_H

#include <stdint.h>

#include "alert.h"

#define ALERT_QUEUE_MAX	256

typedef void (*alert_log_fn) (int priority, const char *line, void *ctx);

struct alert_sink;

/* alert_sink_open - start the alert thread; audit_db (an SQLite path)
 * NULL: no rows; node names this MX in the rows (NULL: none) */
struct alert_sink *alert_sink_open(const char *audit_db, const char *node,
				   alert_log_fn log, void *log_ctx);

/* alert_row_fn - writes the alert's row elsewhere than an SQLite file:
 * json is alert_json()'s; 0 taken, -1 not (the fn logs why) */
typedef int (*alert_row_fn) (const char *json, void *ctx);

/* alert_sink_set_row_writer - rows go through fn instead of SQLite (the
 * verdict writer, for PostgreSQL).  Call before the first submit. */
void    alert_sink_set_row_writer(struct alert_sink *sink, alert_row_fn fn,
				  void *ctx);

/* alert_sink_submit - queue a copy; 0 queued, -1 queue full (logged) */
int     alert_sink_submit(struct alert_sink *sink, const struct rg_alert *a,
			  const char *command, unsigned timeout_s,
			  unsigned max_running);

/* alert_sink_counters - alerts queued, rows written, commands run,
 * failed (non-zero exit, killed, not started), skipped (too many
 * running), dropped (queue full) */
struct alert_counters {
	uint64_t queued, written, run, failed, skipped, dropped;
};
void    alert_sink_get_counters(struct alert_sink *sink,
				struct alert_counters *out);

/* alert_sink_close - finish the queue, wait for commands (each killed at
 * its timeout), stop the thread; returns NULL */
struct alert_sink *alert_sink_close(struct alert_sink *sink);

#endif /* RG_ALERT_SINK_H */
