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

/* The facilities, by name; rglog_facility_names lists the same names
 * for messages, in the same order. */
static const struct {
	const char *name;
	int     value;
} facilities[] = {
	{"auth", LOG_AUTH}, {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
	{"daemon", LOG_DAEMON}, {"ftp", LOG_FTP}, {"kern", LOG_KERN},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
	{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
	{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	{"lpr", LOG_LPR}, {"mail", LOG_MAIL}, {"news", LOG_NEWS},
	{"syslog", LOG_SYSLOG}, {"user", LOG_USER}, {"uucp", LOG_UUCP},
};

const char *const rglog_facility_names[] = {
	"auth", "authpriv", "cron", "daemon", "ftp", "kern", "local0",
	"local1", "local2", "local3", "local4", "local5", "local6", "local7",
	"lpr", "mail", "news", "syslog", "user", "uucp", NULL,
};

/* rglog_facility - syslog facility by name */
int
rglog_facility(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0')
		return LOG_MAIL;
	for (i = 0; i < RG_ARRAY_LEN(facilities); i++)
		if (rg_strcaseeq(name, facilities[i].name))
			return facilities[i].value;
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
