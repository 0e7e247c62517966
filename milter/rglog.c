/*
 * rglog - the daemon's log: syslog, or stderr for tests and containers
 *
 * See rglog.h.  The stderr sink builds the whole line first and hands it
 * to one write(2), so lines from the worker threads never mix.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "rglog.h"

static int log_to_stderr;
static char log_ident[64] = "relayguard";

/* rglog_facility - syslog facility by name */
int
rglog_facility(const char *name)
{
	static const struct {
		const char *name;
		int     value;
	} table[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};
	size_t i;

	if (name == NULL || *name == '\0')
		return LOG_MAIL;
	for (i = 0; i < RG_ARRAY_LEN(table); i++)
		if (rg_strcaseeq(name, table[i].name))
			return table[i].value;
	return -1;
}

/* rglog_open - choose the sink */
void
rglog_open(const char *ident, int use_stderr, int facility)
{
	rg_strlcpy(log_ident, ident, sizeof(log_ident));
	log_to_stderr = use_stderr;
	if (!use_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
}

/* rglog_line - write one preformatted line */
void
rglog_line(int priority, const char *line)
{
	char buf[8192];
	int len;
	ssize_t n;

	if (!log_to_stderr) {
		syslog(priority, "%s", line);
		return;
	}
	len = snprintf(buf, sizeof(buf) - 1, "%s[%ld]: %s", log_ident,
		       (long) getpid(), line);
	if (len < 0)
		return;
	if ((size_t) len > sizeof(buf) - 2)
		len = (int) sizeof(buf) - 2;
	buf[len++] = '\n';
	n = write(STDERR_FILENO, buf, (size_t) len);
	(void) n;
}

/* rglog - format and write one line */
void
rglog(int priority, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rglog_line(priority, line);
}
