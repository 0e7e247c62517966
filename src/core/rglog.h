/*
 * rglog - the daemon's log: syslog, or stderr for tests and containers
 *
 * rglog_open() picks the sink once at start: syslog with the configured
 * facility and LOG_PID, or stderr ("relayguard[PID]: message", one write
 * per line so that lines of concurrent threads never interleave).
 * Messages follow Postfix: verdict lines as they are, problems prefixed
 * with "warning: ", "error: " or "fatal: ".  Safe from any thread.
 */
#ifndef RG_RGLOG_H
#define RG_RGLOG_H

#include <syslog.h>

/* rglog_facility - LOG_MAIL etc. for a facility name (the 20 of
 * syslog(3), any case); -1 when unknown.  The one validator of the
 * syslog_facility key: config.c calls it for FILE:LINE. */
int     rglog_facility(const char *name);

/* The names rglog_facility() knows, NULL-terminated (for messages). */
extern const char *const rglog_facility_names[];

/* rglog_open - log to stderr when use_stderr, else to syslog */
void    rglog_open(const char *ident, int use_stderr, int facility);

/* rglog - one line at priority (LOG_INFO, LOG_WARNING, ...) */
void    rglog(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* rglog_line - a preformatted line (no format expansion) */
void    rglog_line(int priority, const char *line);

#endif
