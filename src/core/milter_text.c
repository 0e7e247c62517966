/*
 * milter_text - the text the daemon produces: replies, log lines, ids
 *
 * See milter_text.h.  Everything here is pure and bounded: output goes
 * into the caller's buffer through a small appender that never writes
 * past its end and remembers whether it had to cut.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "address.h"
#include "netlist.h"
#include "text.h"
#include "verdict.h"
#include "alert.h"
#include "milter_text.h"

/* A bounded output buffer. */
struct outbuf {
	char   *buf;
	size_t  size;
	size_t  len;
	int     cut;
};

/* ob_init - start writing into buf */
static void
ob_init(struct outbuf *ob, char *buf, size_t size)
{
	ob->buf = buf;
	ob->size = size;
	ob->len = 0;
	ob->cut = 0;
	if (size > 0)
		buf[0] = '\0';
}

/* ob_room - bytes that may still be written (the NUL excluded) */
static size_t
ob_room(const struct outbuf *ob)
{
	return ob->size == 0 ? 0 : ob->size - 1 - ob->len;
}

/* ob_putn - append n bytes, or nothing (and mark cut) when they do not fit */
static int
ob_putn(struct outbuf *ob, const char *s, size_t n)
{
	if (n > ob_room(ob)) {
		ob->cut = 1;
		return -1;
	}
	memcpy(ob->buf + ob->len, s, n);
	ob->len += n;
	ob->buf[ob->len] = '\0';
	return 0;
}

/* ob_puts - append a string, as much of it as fits */
static void
ob_puts(struct outbuf *ob, const char *s)
{
	size_t n = strlen(s), room = ob_room(ob);

	if (n > room) {
		n = room;
		ob->cut = 1;
	}
	if (n > 0)
		(void) ob_putn(ob, s, n);
}

/* is_control - a byte that must never reach a log line or a reply */
static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* mt_reply_escape - double every '%', blank out control characters */
int
mt_reply_escape(const char *text, char *buf, size_t size)
{
	struct outbuf ob;
	const unsigned char *p;

	ob_init(&ob, buf, size);
	for (p = (const unsigned char *) text; *p != '\0' && !ob.cut; p++) {
		if (*p == '%')
			(void) ob_putn(&ob, "%%", 2);
		else if (is_control(*p))
			(void) ob_putn(&ob, " ", 1);
		else
			(void) ob_putn(&ob, (const char *) p, 1);
	}
	return ob.cut ? -1 : 0;
}

/* log_token - a client value as one log field (text.h's log escaper,
 * spaces included), at most maxlen bytes of it */
static const char *
log_token(const char *text, size_t maxlen, char *buf, size_t size)
{
	return text_log_str(text, text != NULL ? strlen(text) : 0, maxlen,
			    TEXT_LOG_TOKEN, buf, size);
}

/* mt_strip_brackets - drop one pair of surrounding angle brackets */
const char *
mt_strip_brackets(const char *path, char *buf, size_t size)
{
	size_t len;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (path == NULL)
		return buf;
	len = strlen(path);
	if (len >= 2 && path[0] == '<' && path[len - 1] == '>') {
		path++;
		len -= 2;
	}
	if (len >= size)
		len = size - 1;
	memcpy(buf, path, len);
	buf[len] = '\0';
	return buf;
}

/* mt_join_args - rebuild "path param param" from an argument vector */
long
mt_join_args(char *const *argv, char *buf, size_t size)
{
	struct outbuf ob;
	size_t i;

	ob_init(&ob, buf, size);
	for (i = 0; argv != NULL && argv[i] != NULL && i < 1024; i++) {
		if (i > 0)
			ob_puts(&ob, " ");
		ob_puts(&ob, argv[i]);
	}
	return ob.cut ? -1 : (long) ob.len;
}

/* mt_join_trace - trace lines joined with "; " */
const char *
mt_join_trace(const struct address *addr, char *buf, size_t size)
{
	struct outbuf ob;
	unsigned i;

	ob_init(&ob, buf, size);
	for (i = 0; addr != NULL && i < addr->ntrace && i < ADDR_TRACE_MAX; i++) {
		if (i > 0)
			ob_puts(&ob, "; ");
		ob_puts(&ob, addr->trace[i]);
	}
	return buf;
}

/* mt_session_id - 7 hex digits of seconds, 5 of pid-seeded counter */
const char *
mt_session_id(uint64_t seconds, unsigned pid, unsigned counter, char *buf,
	      size_t size)
{
	unsigned long hi, lo;

	/* The low part starts at a pid-derived offset so that two runs in
	 * the same second rarely collide; it wraps only after 2^20
	 * connections, by which time the seconds part has moved on. */
	hi = (unsigned long) (seconds & 0xfffffffUL);
	lo = ((unsigned long) pid * 40503UL + counter) & 0xfffffUL;
	if (size > 0)
		(void) snprintf(buf, size, "%07lx%05lx", hi, lo);
	return buf;
}

/* check_port - a decimal TCP port 1..65535 */
static int
check_port(const char *s, size_t len)
{
	unsigned long port = 0;
	size_t i;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		port = port * 10 + (unsigned long) (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* mt_socket_check - validate a libmilter socket specification; err
 * gets the reason alone (config.c adds FILE:LINE and the key) */
int
mt_socket_check(const char *spec, enum mt_socket_kind *kind, char *path,
		size_t pathlen, char *err, size_t errlen)
{
	const char *rest, *at;
	struct rg_ip ip;
	char host[256];

	if (pathlen > 0)
		path[0] = '\0';
	if (spec == NULL || *spec == '\0') {
		rg_snprintf(err, errlen, "empty value");
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		rest = strchr(spec, ':') + 1;
		*kind = MT_SOCKET_UNIX;
		if (rest[0] == '\0') {
			rg_snprintf(err, errlen, "missing the path after unix:");
			return -1;
		}
		if (rest[0] != '/') {
			rg_snprintf(err, errlen, "the unix socket path must be "
				    "absolute");
			return -1;
		}
		if (strlen(rest) >= 108 || strlen(rest) >= pathlen) {
			rg_snprintf(err, errlen, "socket path longer than 107 "
				    "bytes");
			return -1;
		}
		rg_strlcpy(path, rest, pathlen);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		*kind = MT_SOCKET_INET;
		rest = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		*kind = MT_SOCKET_INET6;
		rest = spec + 6;
	} else {
		rg_snprintf(err, errlen, "expected inet:PORT@HOST, "
			    "inet6:PORT@HOST or unix:PATH");
		return -1;
	}
	at = strchr(rest, '@');
	if (at == NULL || at[1] == '\0') {
		rg_snprintf(err, errlen, "missing @HOST (inet:PORT@HOST, e.g. "
			    "inet:8894@127.0.0.1)");
		return -1;
	}
	if (!check_port(rest, (size_t) (at - rest))) {
		rg_snprintf(err, errlen, "port must be a number from 1 to 65535");
		return -1;
	}
	if (rg_strlcpy(host, at + 1, sizeof(host)) >= sizeof(host)) {
		rg_snprintf(err, errlen, "host name too long");
		return -1;
	}
	if (*kind == MT_SOCKET_INET6 && strchr(host, ':') != NULL
	    && (!rg_ip_parse(host, &ip) || ip.family != AF_INET6)) {
		rg_snprintf(err, errlen, "bad IPv6 address");
		return -1;
	}
	return 0;
}

/* put_value - " key=value" (with "<" ">" around a path), the value
 * through the log escaper, "-" for a missing plain value */
static void
put_value(struct outbuf *ob, const char *key, const char *value, int path)
{
	char clean[MT_FIELD_MAX * 4 + 8];

	ob_puts(ob, " ");
	ob_puts(ob, key);
	ob_puts(ob, path ? "=<" : "=");
	if (!path && (value == NULL || *value == '\0'))
		ob_puts(ob, "-");
	else
		ob_puts(ob, log_token(value, MT_FIELD_MAX, clean, sizeof(clean)));
	if (path)
		ob_puts(ob, ">");
}

/* put_field - " key=value" with "-" for a missing value */
static void
put_field(struct outbuf *ob, const char *key, const char *value)
{
	put_value(ob, key, value, 0);
}

/* put_path - " key=<value>" */
static void
put_path(struct outbuf *ob, const char *key, const char *value)
{
	put_value(ob, key, value, 1);
}

/* put_path_field - " key=<path>" with one pair of <> around the path as
 * written (a cut path may have lost its closing '>') */
static void
put_path_field(struct outbuf *ob, const char *key, const char *path)
{
	size_t len = strlen(path);

	if (len > 0 && path[0] == '<') {
		path++;
		len--;
		if (len > 0 && path[len - 1] == '>')
			len--;
	}
	{
		char bare[MT_FIELD_MAX + 2];

		if (len > MT_FIELD_MAX + 1)
			len = MT_FIELD_MAX + 1;	/* text_log_str marks the cut */
		memcpy(bare, path, len);
		bare[len] = '\0';
		put_path(ob, key, bare);
	}
}

/* put_prose - " key=\"text\"", the text quoted and bounded */
static void
put_prose(struct outbuf *ob, const char *key, const char *text, size_t max)
{
	char clean[MT_TRACE_MAX * 4 + 8];

	ob_puts(ob, " ");
	ob_puts(ob, key);
	ob_puts(ob, "=\"");
	ob_puts(ob, text_log_str(text, strlen(text), max, 0, clean, sizeof(clean)));
	ob_puts(ob, "\"");
}

/* mt_format_verdict - the one log line of a verdict */
const char *
mt_format_verdict(const struct verdict_record *r, char *buf, size_t size)
{
	struct outbuf ob;
	char clean[MT_FIELD_MAX * 4 + 8];
	char num[16];
	const char *name = r->client_name ? r->client_name : "unknown";
	const char *addr = r->client_addr ? r->client_addr : "unknown";

	ob_init(&ob, buf, size);
	if (r->queue_id != NULL && r->queue_id[0] != '\0')
		ob_puts(&ob, log_token(r->queue_id, 64, clean, sizeof(clean)));
	else
		ob_puts(&ob, "NOQUEUE");
	ob_puts(&ob, ":");
	put_field(&ob, "session", r->session_id);
	put_field(&ob, "stage", r->stage);
	put_field(&ob, "action", r->action);
	put_field(&ob, "rule", r->rule);
	(void) snprintf(num, sizeof(num), "%d", r->code);
	put_field(&ob, "code", num);
	put_field(&ob, "ecode", r->ecode);
	ob_puts(&ob, " client=");
	ob_puts(&ob, log_token(name, MT_FIELD_MAX, clean, sizeof(clean)));
	ob_puts(&ob, "[");
	ob_puts(&ob, log_token(addr, MT_FIELD_MAX, clean, sizeof(clean)));
	ob_puts(&ob, "]");
	put_field(&ob, "helo", r->helo);
	put_field(&ob, "auth", r->auth_user);
	if (r->sender != NULL)
		put_path_field(&ob, "from", r->sender);
	if (r->rcpt != NULL) {		/* the RCPT stage */
		put_path_field(&ob, "to", r->rcpt);
		if (r->rcpt_normalized != NULL && r->rcpt_normalized[0] != '\0')
			put_path(&ob, "normalized", r->rcpt_normalized);
		put_field(&ob, "dir", r->directory_result);
	}
	if (r->trace != NULL && r->trace[0] != '\0')
		put_prose(&ob, "trace", r->trace, MT_TRACE_MAX);
	/* the MTA's own refusal: what it said is the reason, so it is shown */
	if (r->verdict != NULL && r->verdict->rule == RG_RULE_MTA && r->text != NULL)
		put_prose(&ob, "mta_reply", r->text, MT_FIELD_MAX);
	if (r->verdict != NULL && r->verdict->penalty_left > 0) {
		(void) snprintf(num, sizeof(num), "%u", r->verdict->penalty_left);
		put_field(&ob, "penalty_left", num);
	}
	return buf;
}

/* mt_format_alert - the log line of an alert */
const char *
mt_format_alert(const struct rg_alert *a, char *buf, size_t size)
{
	struct outbuf ob;
	char clean[MT_FIELD_MAX + 8], num[64];

	ob_init(&ob, buf, size);
	ob_puts(&ob, "alert:");
	put_field(&ob, "kind", al_kind_name(a->kind));
	put_field(&ob, "account", a->account);
	put_field(&ob, "limit", al_limit_name(a->limit));
	(void) snprintf(num, sizeof(num), "%u", a->count);
	put_field(&ob, "count", num);
	(void) snprintf(num, sizeof(num), "%u", a->max);
	put_field(&ob, "max", num);
	(void) snprintf(num, sizeof(num), "%u", a->window);
	put_field(&ob, "window", num);
	put_field(&ob, "action", al_action_name(a->action));
	put_field(&ob, "session", a->session_id);
	put_field(&ob, "queue", a->queue_id);
	ob_puts(&ob, " client=");
	ob_puts(&ob, log_token(a->client_name, MT_FIELD_MAX, clean,
			       sizeof(clean)));
	ob_puts(&ob, "[");
	ob_puts(&ob, log_token(a->client_addr, MT_FIELD_MAX, clean,
			       sizeof(clean)));
	ob_puts(&ob, "]");
	put_path_field(&ob, "from", a->sender);
	put_path_field(&ob, "to", a->rcpt);
	return buf;
}

/* mt_format_record - every column of the record as "key=value", in
 * the column table's order, after prefix */
const char *
mt_format_record(const char *prefix, const struct verdict_record *r,
		 char *buf, size_t size)
{
	struct outbuf ob;
	const struct verdict_column *col;
	char num[32];
	const char *text;
	size_t i;

	ob_init(&ob, buf, size);
	ob_puts(&ob, prefix);
	for (i = 0; i < verdict_ncolumns; i++) {
		col = &verdict_columns[i];
		switch (col->kind) {
		case VERDICT_KIND_TIME:
			rg_format_utc_ms(verdict_column_int(r, col), num,
					 sizeof(num));
			put_field(&ob, col->log_key, num);
			break;
		case VERDICT_KIND_INT:
			(void) snprintf(num, sizeof(num), "%lld",
					(long long) verdict_column_int(r, col));
			put_field(&ob, col->log_key, num);
			break;
		case VERDICT_KIND_PROSE:
			text = verdict_column_text(r, col);
			put_prose(&ob, col->log_key, text ? text : "",
				  MT_TRACE_MAX);
			break;
		case VERDICT_KIND_TEXT:
		default:
			put_field(&ob, col->log_key, verdict_column_text(r, col));
			break;
		}
	}
	return buf;
}
