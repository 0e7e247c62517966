/*
 * milter_text - the text the daemon produces: replies, log lines, ids
 *
 * Pure helpers used by the libmilter glue, kept apart so that they can be
 * tested with plain tables:
 *
 *   - mt_reply_escape(): libmilter passes reply text through a printf-like
 *     expansion, so every literal '%' must be written "%%";
 *   - client text (HELO names, addresses, traces) goes into syslog
 *     through text.h's log escaper (control bytes, invalid UTF-8, '\',
 *     '"' and, outside quotes, spaces escaped) and every field is
 *     bounded, so a hostile client cannot forge or flood lines;
 *   - mt_format_verdict(): the one log line per verdict, Postfix-like and
 *     greppable by queue id; mt_format_record(): every audit column of
 *     a verdict record, for a row diverted to the log;
 *   - mt_join_args(), mt_join_trace(), mt_session_id(), mt_socket_check().
 *
 * No allocation, no I/O: every function writes into a caller's buffer and
 * never overruns it.
 */
#ifndef RG_MILTER_TEXT_H
#define RG_MILTER_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct address;
struct verdict_record;

/* Longest client-supplied field kept in a log line (bytes, before "..."). */
#define MT_FIELD_MAX	256
/* Longest trace kept in a log line. */
#define MT_TRACE_MAX	1024
/* A whole verdict line fits in this. */
#define MT_LINE_MAX	4096
/* Session ids are 12 lower-case hex digits. */
#define MT_SESSION_ID_LEN 12

/* mt_reply_escape - copy text with every '%' doubled and control
 * characters replaced by spaces; never splits a "%%" pair.  Returns 0, or
 * -1 when the text had to be truncated to fit size. */
int     mt_reply_escape(const char *text, char *buf, size_t size);

/* mt_strip_brackets - the path without one pair of surrounding <>;
 * returns buf */
const char *mt_strip_brackets(const char *path, char *buf, size_t size);

/* mt_join_args - "argv[0] argv[1] ..." (a NULL-terminated vector) as the
 * client wrote it after MAIL FROM: / RCPT TO:.  Returns the length, or -1
 * when it did not fit (buf then holds a truncated copy). */
long    mt_join_args(char *const *argv, char *buf, size_t size);

/* mt_join_trace - the address's trace lines joined with "; "; returns buf */
const char *mt_join_trace(const struct address *addr, char *buf, size_t size);

/* mt_session_id - 12 hex digits from the time, the pid and a counter:
 * unique within one run, and across runs unless a pid and second repeat */
const char *mt_session_id(uint64_t seconds, unsigned pid, unsigned counter,
			  char *buf, size_t size);

/* Socket kinds for mt_socket_check(). */
enum mt_socket_kind { MT_SOCKET_INET, MT_SOCKET_INET6, MT_SOCKET_UNIX };

/* mt_socket_check - validate "inet:PORT@HOST", "inet6:PORT@HOST",
 * "unix:PATH" (or "local:PATH", an absolute path); for unix sockets the
 * path is copied into path.  0 ok, -1 with the reason in err.  The one
 * validator of the socket key: config.c calls it for FILE:LINE. */
int     mt_socket_check(const char *spec, enum mt_socket_kind *kind,
			char *path, size_t pathlen, char *err, size_t errlen);

/* mt_format_verdict - the verdict line:
 *   QUEUEID: session=SID stage=S action=A rule=R code=C ecode=E
 *   client=NAME[ADDR] helo=H auth=U from=<S> to=<R> normalized=<F>
 *   dir=D trace="..."
 * from once MAIL gave a sender; to, normalized (when known) and dir at
 * RCPT only; trace when there is one.  Missing values are "-", client
 * text is sanitised here.  Always terminated, at most size-1 bytes;
 * returns buf. */
const char *mt_format_verdict(const struct verdict_record *r, char *buf,
			      size_t size);

/* mt_format_record - prefix, then every column of the record as
 * " key=value" (the column table's log keys and order; reply text and
 * trace in double quotes): the audit row diverted to the log, so that
 * it is not lost.  Returns buf. */
const char *mt_format_record(const char *prefix,
			     const struct verdict_record *r, char *buf,
			     size_t size);

struct rg_alert;

/* mt_format_alert - an alert's log line, its own tag first:
 *   alert: kind=K account=A limit=L count=N max=M window=S action=X
 *   session=SID queue=Q client=NAME[ADDR] from=<S> to=<R>
 * client text cleaned as in the verdict line; returns buf */
const char *mt_format_alert(const struct rg_alert *a, char *buf, size_t size);

#endif
