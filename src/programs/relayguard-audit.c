/*
 * relayguard-audit - query the verdict trail, read-only
 *
 * SYNOPSIS
 *	relayguard-audit [-d DB] COMMAND [options]
 *
 * DESCRIPTION
 *	Answers the questions mail administrators ask of the audit store
 *	(who tried to relay through us, which clients harvest addresses,
 *	what blank-sender mail arrived overnight) without ever writing to
 *	it, from an SQLite file or a fleet's PostgreSQL database alike
 *	(audit_store.h: read-only in both, the same query text, the same
 *	output).  Every value from the command line is bound to a prepared
 *	statement.  Text from the store is client text: control bytes are
 *	replaced before they reach a terminal.  --node narrows any command
 *	to the rows one MX judged.
 *
 *	Commands: summary, top, search, relay-attempts, tail, export,
 *	schema, serve (the web dashboard, audit_serve.c); see usage() and
 *	docs/relayguard-audit.1.
 *
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a runtime error (missing database, wrong
 *	schema version, I/O), 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "audit_schema.h"
#include "text.h"
#include "audit_serve.h"
#include "audit_store.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#define DEFAULT_DB LOCALSTATEDIR "/lib/relayguard/audit.db"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define TAIL_POLL_US 500000
#define PROGRESS_EVERY 10000
#define TIME_LEN 32

/* Options, and which commands accept them. */
enum {
	OPT_SINCE = 1 << 0, OPT_UNTIL = 1 << 1, OPT_CLIENT = 1 << 2,
	OPT_RULE = 1 << 3, OPT_ACTION = 1 << 4, OPT_SENDER = 1 << 5,
	OPT_RCPT = 1 << 6, OPT_SESSION = 1 << 7, OPT_LIMIT = 1 << 8,
	OPT_FOLLOW = 1 << 9, OPT_FORMAT = 1 << 10, OPT_COUNT = 1 << 11,
	OPT_NODE = 1 << 12, OPT_SQL = 1 << 13,
	OPT_ACCOUNT = 1 << 14,
};

struct query_opts {
	unsigned given;
	char    since[TIME_LEN];	/* canonical UTC, "" = open */
	char    until[TIME_LEN];
	const char *client, *rule, *action, *sender, *rcpt, *session;
	const char *node;		/* --node: one MX */
	const char *account;
	const char *format;
	long    limit;
	int     follow;
};

static const char *progname = "relayguard-audit";
static const char *db_name;
static const char *password_file;	/* -p: PostgreSQL password */
static struct audit_store *store;

/* usage - a usage error (exit 2), or with why NULL the help (exit 0) */
static void
usage(const char *why)
{
	if (why) {
		fprintf(stderr, "%s: %s\nTry '%s -h' for help.\n", progname, why,
			progname);
		exit(EXIT_USAGE);
	}
	printf(
		"usage: %s [-d DB] [-p PASSWORD_FILE] COMMAND [options]\n"
		"       %s -V | --version | -h | --help\n"
		"  summary [--since T] [--until T]\n"
		"  top clients|senders|recipients [-n N] [--since T] [--until T]\n"
		"  search [--client A] [--rule R] [--action A] [--sender S] [--rcpt R]\n"
		"         [--session ID] [--since T] [--until T] [--limit N]\n"
		"  relay-attempts [--since T] [--until T] [--limit N]\n"
		"  alerts [--account A] [--since T] [--until T] [--limit N]\n"
		"  tail [-f] [-n N]\n"
		"  export --format csv|json [--since T] [--until T]\n"
		"  schema [--sql]\n"
		"  serve [--listen ADDR:PORT] [--password-file FILE] [--web-root DIR]\n"
		"        [--chartjs FILE]   the web dashboard (default 127.0.0.1:8026)\n"
		"Every command but schema and serve takes --node NAME: the rows of one MX.\n"
		"T: 2026-11-20, 2026-11-20T08:00[:00] (local time; Z suffix = UTC),\n"
		"   today, yesterday, or relative: 90s, 30m, 24h, 7d, 2w.\n"
		"DB: an SQLite file (default %s) or a PostgreSQL\n"
		"   URI, postgresql://user@host/db (password from -p FILE or ~/.pgpass).\n"
		"schema --sql prints the PostgreSQL schema, for psql.\n",
		progname, progname, DEFAULT_DB);
	exit(0);
}

/* die - runtime error; exit 1 */
static void
die(const char *fmt,...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt,...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_RUNTIME);
}

/* format_utc - epoch seconds + ms as the table's time format */
static void
format_utc(time_t t, int ms, char *buf, size_t size)
{
	struct tm tm;
	size_t  len;

	gmtime_r(&t, &tm);
	len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	rg_snprintf(buf + len, size - len, ".%03dZ", ms);
}

/* parse_time - a --since/--until value into canonical UTC; 0 or -1 */
static int
parse_time(const char *s, char *out, size_t size)
{
	struct tm tm;
	long    n;
	char   *end;
	time_t  now = time(NULL), t;
	int     y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, used = 0, utc = 0, i;

	if (strcmp(s, "now") == 0) {
		format_utc(now, 0, out, size);
		return 0;
	}
	if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
		localtime_r(&now, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		if (s[0] == 'y')
			tm.tm_mday--;
		format_utc(mktime(&tm), 0, out, size);
		return 0;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (end != s && errno == 0 && n >= 0 && end[0] && end[1] == '\0'
	    && strchr("smhdw", end[0])) {
		long    unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 :
		end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 604800;

		if (n > 100L * 366 * 86400 / unit)
			return -1;
		format_utc(now - (time_t) (n * unit), 0, out, size);
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
		return -1;
	s += used;
	if ((*s == 'T' || *s == ' ') && sscanf(s + 1, "%2d:%2d%n", &h, &mi,
						&used) == 2) {
		s += 1 + used;
		if (*s == ':' && sscanf(s + 1, "%2d%n", &sec, &used) == 1)
			s += 1 + used;
		if (*s == '.' && s[1] >= '0' && s[1] <= '9') {
			/* milliseconds, as the table writes them */
			for (s++, i = 0; *s >= '0' && *s <= '9'; s++, i++)
				if (i < 3)
					ms = ms * 10 + (*s - '0');
			for (; i < 3; i++)
				ms *= 10;
		}
	}
	if (*s == 'Z') {
		utc = 1;
		s++;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
	    || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t) -1)
		return -1;
	format_utc(t, ms, out, size);
	return 0;
}

/* query - run sql with params on the store, or die */
static struct audit_cursor *
query(const char *sql, const struct audit_param *params, int n)
{
	struct audit_cursor *c;
	char    err[512];

	if ((c = audit_store_query(store, sql, params, n, err, sizeof(err))) == NULL)
		die("%s", err);
	return c;
}

/* next - the next row, dying on an error; 1 row, 0 done */
static int
next(struct audit_cursor *c)
{
	char    err[512];
	int     rc = audit_cursor_next(c, err, sizeof(err));

	if (rc < 0)
		die("%s", err);
	return rc;
}

/* Parameters ?1 since, ?2 until (open ends as NULL), ?3 node: every
 * query starts with them.  A parameter's first use compares it with a
 * column (PostgreSQL infers its type from that), and only then is it
 * tested for NULL. */
#define RANGE_SQL "(time >= ?1 OR ?1 IS NULL) AND (time < ?2 OR ?2 IS NULL)" \
	" AND (node = ?3 OR ?3 IS NULL)"
#define RANGE_PARAMS 3

/* text_param - a text value, NULL as SQL NULL */
static struct audit_param
text_param(const char *s)
{
	struct audit_param p = {AUDIT_P_NULL, NULL, 0};

	if (s != NULL) {
		p.kind = AUDIT_P_TEXT;
		p.text = s;
	}
	return p;
}

/* int_param - an integer value */
static struct audit_param
int_param(int64_t n)
{
	struct audit_param p = {AUDIT_P_INT, NULL, n};

	return p;
}

/* range_params - ?1 ?2 ?3 into p */
static void
range_params(struct audit_param *p, const struct query_opts *o)
{
	p[0] = text_param(o->since[0] ? o->since : NULL);
	p[1] = text_param(o->until[0] ? o->until : NULL);
	p[2] = text_param(o->node);
}

/* column_out - a column's text through one of text.h's escapers into
 * buf; NULL as "-" */
static const char *
column_out(struct audit_cursor *c, int col, int log_field, char *buf,
	   size_t size)
{
	const char *s = audit_cursor_text(c, col);
	size_t  n = s ? strlen(s) : 0;

	if (s == NULL)
		return "-";
	if (log_field)
		return text_log_str(s, n, size, TEXT_LOG_TOKEN, buf, size);
	return text_human_str(s, size, buf, size);
}

/* safe - column text for a table on a terminal (human text) */
static const char *
safe(struct audit_cursor *st, int col, char *buf, size_t size)
{
	return column_out(st, col, 0, buf, size);
}

/* field - column text as one key=value field of a log-shaped line */
static const char *
field(struct audit_cursor *st, int col, char *buf, size_t size)
{
	return column_out(st, col, 1, buf, size);
}

/* The columns print_row() expects, in order. */
#define ROW_COLUMNS "id, time, queue_id, session_id, stage, action, rule, " \
	"code, ecode, client_name, client_addr, helo, auth_user, sender, rcpt, " \
	"rcpt_normalized, directory_result, client_trust, sender_class"

/* print_row - one verdict in the daemon's log-line shape */
static void
print_row(struct audit_cursor *st)
{
	char    b[19][512];
	int     i;
	const char *v[19];

	for (i = 0; i < 19; i++)
		v[i] = field(st, i, b[i], sizeof(b[i]));
	printf("%s %s: session=%s stage=%s action=%s rule=%s code=%s ecode=%s "
	       "client=%s[%s] trust=%s helo=%s auth=%s from=%s class=%s to=%s "
	       "normalized=%s dir=%s\n", v[1], strcmp(v[2], "-") ? v[2] :
	       "NOQUEUE", v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[17],
	       v[11], v[12], v[13], v[18], v[14], v[15], v[16]);
}

/* cmd_summary - counts per rule and action in a time range */
static int
cmd_summary(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS];
	struct audit_cursor *st;
	long long total = 0;
	char    b1[128], b2[128];

	range_params(p, o);
	st = query("SELECT rule, action, COUNT(*) FROM verdicts WHERE "
		   RANGE_SQL " GROUP BY rule, action ORDER BY 3 DESC, 1, 2",
		   p, RANGE_PARAMS);
	printf("%-22s %-13s %10s\n", "rule", "action", "count");
	while (next(st)) {
		long long n = audit_cursor_int(st, 2);

		printf("%-22s %-13s %10lld\n", safe(st, 0, b1, sizeof(b1)),
		       safe(st, 1, b2, sizeof(b2)), n);
		total += n;
	}
	audit_cursor_close(st);
	printf("%-22s %-13s %10lld\n", "total", "", total);
	return 0;
}

/* cmd_top - clients, senders or recipients by refusals */
static int
cmd_top(const char *what, const struct query_opts *o)
{
#define REFUSALS "SUM(CASE WHEN action != 'accept' THEN 1 ELSE 0 END)"
	static const struct {
		const char *name;
		const char *sql;
	} tops[] = {
		{"clients", "SELECT client_addr, MAX(client_name), "
		 REFUSALS ", COUNT(*) FROM verdicts WHERE " RANGE_SQL
		 " GROUP BY client_addr"},
		{"senders", "SELECT sender, NULL, " REFUSALS ", COUNT(*) FROM "
		 "verdicts WHERE stage IN ('mail', 'rcpt') AND " RANGE_SQL
		 " GROUP BY sender"},
		{"recipients", "SELECT COALESCE(rcpt_normalized, rcpt), NULL, "
		 REFUSALS ", COUNT(*) FROM verdicts WHERE stage = 'rcpt' AND "
		 RANGE_SQL " GROUP BY 1"},
	};
	struct audit_param p[RANGE_PARAMS + 1];
	char    sql[1024], b1[512], b2[512];
	struct audit_cursor *st;
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(tops); i++)
		if (strcmp(what, tops[i].name) == 0)
			break;
	if (i == RG_ARRAY_LEN(tops))
		usage("top: expected clients, senders or recipients");
	/* HAVING repeats the sum: PostgreSQL allows no output name there */
	rg_snprintf(sql, sizeof(sql), "%s HAVING " REFUSALS " > 0 ORDER BY 3 "
		    "DESC, 4 DESC, 1 LIMIT ?4", tops[i].sql);
#undef REFUSALS
	range_params(p, o);
	p[3] = int_param(o->limit > 0 ? o->limit : 10);
	st = query(sql, p, RANGE_PARAMS + 1);
	printf("%10s %10s  %s\n", "refusals", "verdicts", what);
	while (next(st)) {
		if (audit_cursor_text(st, 1) != NULL)
			printf("%10lld %10lld  %s[%s]\n", (long long) audit_cursor_int(st, 2),
			       (long long) audit_cursor_int(st, 3),
			       safe(st, 1, b2, sizeof(b2)), safe(st, 0, b1, sizeof(b1)));
		else
			printf("%10lld %10lld  %s\n", (long long) audit_cursor_int(st, 2),
			       (long long) audit_cursor_int(st, 3),
			       safe(st, 0, b1, sizeof(b1)));
	}
	audit_cursor_close(st);
	return 0;
}

/* like_pattern - user text to a LIKE pattern: '*' wildcard, % and _ literal */
static char *
like_pattern(const char *s)
{
	char   *p = xmalloc(strlen(s) * 2 + 1), *q = p;

	for (; *s; s++) {
		if (*s == '*') {
			*q++ = '%';
			continue;
		}
		if (*s == '%' || *s == '_' || *s == '\\')
			*q++ = '\\';
		*q++ = *s;
	}
	*q = '\0';
	return p;
}

/* is_address - an IPv4 or IPv6 address, as client_addr holds them */
static int
is_address(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* cmd_search - rows matching every filter given */
static int
cmd_search(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS + 8];
	struct audit_cursor *st;
	char   *client = like_pattern(o->client ? o->client : "");
	char   *sender = like_pattern(o->sender ? o->sender : "");
	char   *rcpt = like_pattern(o->rcpt ? o->rcpt : "");

	/* an address is looked up through the client index; anything else
	 * is a host name pattern */
	range_params(p, o);
	p[3] = text_param(o->client && is_address(o->client) ? o->client : NULL);
	p[4] = text_param(o->client && !is_address(o->client) ? client : NULL);
	p[5] = text_param(o->rule);
	p[6] = text_param(o->action);
	p[7] = text_param(o->sender ? sender : NULL);
	p[8] = text_param(o->rcpt ? rcpt : NULL);
	p[9] = text_param(o->session);
	p[10] = int_param(o->limit > 0 ? o->limit : INT64_MAX);
	st = query("SELECT * FROM (SELECT " ROW_COLUMNS " FROM verdicts "
		   "WHERE " RANGE_SQL
		   " AND (client_addr = ?4 OR ?4 IS NULL)"
		   " AND (client_name LIKE ?5 ESCAPE '\\' OR ?5 IS NULL)"
		   " AND (rule = ?6 OR ?6 IS NULL)"
		   " AND (action = ?7 OR ?7 IS NULL)"
		   " AND (sender LIKE ?8 ESCAPE '\\' "
		   "OR sender LIKE '<' || CAST(?8 AS TEXT) || '>' ESCAPE '\\' "
		   "OR ?8 IS NULL)"
		   " AND (rcpt LIKE ?9 ESCAPE '\\' "
		   "OR rcpt LIKE '<' || CAST(?9 AS TEXT) || '>' ESCAPE '\\' "
		   "OR rcpt_normalized LIKE ?9 ESCAPE '\\' OR ?9 IS NULL)"
		   " AND (session_id = ?10 OR ?10 IS NULL)"
		   " ORDER BY id DESC LIMIT ?11) AS r ORDER BY id", p,
		   RANGE_PARAMS + 8);
	while (next(st))
		print_row(st);
	audit_cursor_close(st);
	free(client);
	free(sender);
	free(rcpt);
	return 0;
}

/* cmd_relay_attempts - the original open-relay criterion, via the view */
static int
cmd_relay_attempts(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS + 1];
	struct audit_cursor *st;
	char    b[12][512];
	const char *v[12];
	int     i;

	range_params(p, o);
	p[3] = int_param(o->limit > 0 ? o->limit : INT64_MAX);
	st = query("SELECT * FROM (SELECT time, outcome, action, rule, "
		   "client_name, client_addr, client_trust, helo, sender, "
		   "sender_class, rcpt, session_id, id FROM relay_attempts WHERE "
		   RANGE_SQL " ORDER BY id DESC LIMIT ?4) AS r ORDER BY id", p,
		   RANGE_PARAMS + 1);
	while (next(st)) {
		for (i = 0; i < 12; i++)
			v[i] = field(st, i, b[i], sizeof(b[i]));
		printf("%s %s action=%s rule=%s client=%s[%s] trust=%s helo=%s "
		       "from=%s class=%s to=%s session=%s\n", v[0], v[1], v[2],
		       v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
	}
	audit_cursor_close(st);
	return 0;
}

/* cmd_alerts - privileged senders over a relay limit, oldest first */
static int
cmd_alerts(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS + 2];
	struct audit_cursor *st;
	char    b[15][512];
	const char *v[15];
	int     i;

	range_params(p, o);
	p[3] = text_param(o->account);
	p[4] = int_param(o->limit > 0 ? o->limit : INT64_MAX);
	st = query("SELECT * FROM (SELECT time, node, kind, account, limit_name, "
		   "count, max, window_seconds, action, session_id, queue_id, "
		   "client_name, client_addr, sender, rcpt, id FROM alerts WHERE "
		   RANGE_SQL " AND (lower(account) = lower(?4) OR ?4 IS NULL) "
		   "ORDER BY id DESC LIMIT ?5) AS r ORDER BY id", p,
		   RANGE_PARAMS + 2);
	while (next(st)) {
		for (i = 0; i < 15; i++)
			v[i] = field(st, i, b[i], sizeof(b[i]));
		printf("%s %s alert: kind=%s account=%s limit=%s count=%s max=%s "
		       "window=%s action=%s session=%s queue=%s client=%s[%s] "
		       "from=%s to=%s\n", v[0], v[1], v[2], v[3], v[4], v[5],
		       v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]);
	}
	audit_cursor_close(st);
	return 0;
}

/* cmd_tail - the last rows, then (-f) new rows as they arrive */
static int
cmd_tail(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS + 2];
	struct audit_cursor *st;
	long long last = 0;

	memset(p, 0, sizeof(p));
	p[2] = text_param(o->node);
	p[3] = int_param(o->limit >= 0 ? o->limit : 10);
	st = query("SELECT * FROM (SELECT " ROW_COLUMNS " FROM verdicts WHERE "
		   RANGE_SQL " ORDER BY id DESC LIMIT ?4) AS r ORDER BY id", p,
		   RANGE_PARAMS + 1);
	while (next(st)) {
		print_row(st);
		last = audit_cursor_int(st, 0);
	}
	audit_cursor_close(st);
	if (last == 0) {
		st = query("SELECT COALESCE(MAX(id), 0) FROM verdicts", NULL, 0);
		if (next(st))
			last = audit_cursor_int(st, 0);
		audit_cursor_close(st);
	}
	fflush(stdout);
	if (!o->follow)
		return 0;

	/* each poll is its own short read transaction: no snapshot is held */
	for (;;) {
		p[3] = int_param(last);
		st = query("SELECT " ROW_COLUMNS " FROM verdicts WHERE " RANGE_SQL
			   " AND id > ?4 ORDER BY id LIMIT 10000", p,
			   RANGE_PARAMS + 1);
		while (next(st)) {
			print_row(st);
			last = audit_cursor_int(st, 0);
		}
		audit_cursor_close(st);
		if (fflush(stdout) != 0 || ferror(stdout))
			die("write error: %s", strerror(errno));
		usleep(TAIL_POLL_US);
	}
}

/* csv_field - one RFC 4180 cell (text.h's escaper) */
static void
csv_field(FILE *out, const unsigned char *s)
{
	struct text_out o = text_out_file(out);

	text_csv(&o, (const char *) s);
}

/* json_string - a JSON string (text.h's escaper) */
static void
json_string(FILE *out, const unsigned char *s)
{
	struct text_out o = text_out_file(out);

	text_json(&o, s != NULL ? (const char *) s : "");
}

/* cmd_export - stream rows as CSV (RFC 4180) or JSON lines */
static int
cmd_export(const struct query_opts *o)
{
	struct audit_param p[RANGE_PARAMS];
	struct audit_cursor *st;
	char    sql[1024];
	long long rows = 0;
	int     json, ncol, i, progress;

	if (o->format == NULL)
		usage("export: --format csv|json is required");
	if (strcmp(o->format, "csv") == 0)
		json = 0;
	else if (strcmp(o->format, "json") == 0)
		json = 1;
	else
		usage("export: --format must be csv or json");
	progress = isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
	/* the columns both stores share, in table order (not PostgreSQL's
	 * row_key) */
	rg_snprintf(sql, sizeof(sql), "SELECT id, %s FROM verdicts WHERE "
		    RANGE_SQL " ORDER BY id", audit_schema_columns());
	range_params(p, o);
	st = query(sql, p, RANGE_PARAMS);
	for (ncol = 2, i = 0; audit_schema_columns()[i]; i++)	/* id, time */
		ncol += audit_schema_columns()[i] == ',';
	if (!json) {
		/* the header comes from the column list: also for no rows */
		fputs("id,", stdout);
		for (i = 0; audit_schema_columns()[i]; i++)
			if (audit_schema_columns()[i] != ' ')
				putchar(audit_schema_columns()[i]);
		fputs("\r\n", stdout);
	}
	while (next(st)) {
		for (i = 0; i < ncol; i++) {
			const unsigned char *text = (const unsigned char *)
				audit_cursor_text(st, i);

			if (json) {
				fputs(i ? "," : "{", stdout);
				json_string(stdout, (const unsigned char *)
					    audit_cursor_name(st, i));
				putchar(':');
				if (text == NULL)
					fputs("null", stdout);
				else if (audit_cursor_is_int(st, i))
					fputs((const char *) text, stdout);
				else
					json_string(stdout, text);
			} else {
				if (i)
					putchar(',');
				csv_field(stdout, text);
			}
		}
		fputs(json ? "}\n" : "\r\n", stdout);
		if (ferror(stdout))
			die("write error: %s", strerror(errno));
		if (++rows % PROGRESS_EVERY == 0 && progress)
			fprintf(stderr, "\rexported %lld rows", rows);
	}
	audit_cursor_close(st);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write error: %s", strerror(errno));
	if (progress)
		fprintf(stderr, "\rexported %lld rows\n", rows);
	return 0;
}

/* cmd_schema - print the database's schema version */
static int
cmd_schema(void)
{
	char    err[512];
	int     version;

	if ((version = audit_store_version(store, err, sizeof(err))) < 0)
		die("%s", err);
	printf("schema version %d (this relayguard-audit: %d)\n", version,
	       AUDIT_SCHEMA_VERSION);
	if (audit_store_check(store, err, sizeof(err)) < 0)
		die("%s", err);
	return 0;
}

/* parse_opts - the options after COMMAND, checked against allowed */
static void
parse_opts(int argc, char **argv, const char *cmd, unsigned allowed,
	   struct query_opts *o)
{
	static const struct option longopts[] = {
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"client", required_argument, NULL, 'c'},
		{"rule", required_argument, NULL, 'r'},
		{"action", required_argument, NULL, 'a'},
		{"sender", required_argument, NULL, 'S'},
		{"rcpt", required_argument, NULL, 'R'},
		{"session", required_argument, NULL, 'i'},
		{"limit", required_argument, NULL, 'l'},
		{"format", required_argument, NULL, 'F'},
		{"follow", no_argument, NULL, 'f'},
		{"node", required_argument, NULL, 'N'},
		{"sql", no_argument, NULL, 'Q'},
		{"account", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	char    why[256], name[32], *end;
	unsigned bit;
	int     c, longidx;

	optind = 0;			/* glibc: restart the scan */
	opterr = 0;
	for (;;) {
		longidx = -1;
		if ((c = getopt_long(argc, argv, ":fn:", longopts, &longidx)) == -1)
			break;
		if (longidx >= 0)
			rg_snprintf(name, sizeof(name), "--%s", longopts[longidx].name);
		else
			rg_snprintf(name, sizeof(name), "-%c", c);
		switch (c) {
		case 's':
			bit = OPT_SINCE;
			if (parse_time(optarg, o->since, sizeof(o->since)) < 0)
				goto bad_time;
			break;
		case 'u':
			bit = OPT_UNTIL;
			if (parse_time(optarg, o->until, sizeof(o->until)) < 0)
				goto bad_time;
			break;
		case 'c': bit = OPT_CLIENT; o->client = optarg; break;
		case 'r': bit = OPT_RULE; o->rule = optarg; break;
		case 'a': bit = OPT_ACTION; o->action = optarg; break;
		case 'S': bit = OPT_SENDER; o->sender = optarg; break;
		case 'R': bit = OPT_RCPT; o->rcpt = optarg; break;
		case 'i': bit = OPT_SESSION; o->session = optarg; break;
		case 'F': bit = OPT_FORMAT; o->format = optarg; break;
		case 'A': bit = OPT_ACCOUNT; o->account = optarg; break;
		case 'f': bit = OPT_FOLLOW; o->follow = 1; break;
		case 'N': bit = OPT_NODE; o->node = optarg; break;
		case 'Q': bit = OPT_SQL; break;
		case 'l':
		case 'n':
			bit = (c == 'l') ? OPT_LIMIT : OPT_COUNT;
			errno = 0;
			o->limit = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->limit < 0) {
				rg_snprintf(why, sizeof(why), "%s: bad number: %s", cmd,
					    optarg);
				usage(why);
			}
			break;
		case ':':
			rg_snprintf(why, sizeof(why), "%s: option %s needs a value",
				    cmd, argv[optind - 1]);
			usage(why);
			break;
		default:
			rg_snprintf(why, sizeof(why), "%s: unknown option %s", cmd,
				    argv[optind - 1]);
			usage(why);
		}
		if (!(allowed & bit)) {
			rg_snprintf(why, sizeof(why), "%s: option %s does not apply",
				    cmd, name);
			usage(why);
		}
		o->given |= bit;
	}
	return;

bad_time:
	rg_snprintf(why, sizeof(why), "%s: bad time \"%s\" (2026-11-20, "
		    "2026-11-20T08:00, today, 24h, 7d ...)", cmd, optarg);
	usage(why);
}

int
main(int argc, char **argv)
{
	struct query_opts o;
	const char *cmd;
	int     c, rc;
	char    why[128], err[512];

	static const struct option mainopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};

	db_name = DEFAULT_DB;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+d:p:hV", mainopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_name = optarg;
			break;
		case 'p':
			password_file = optarg;
			break;
		case 'h':
			usage(NULL);
			break;
		case 'V':
			printf("relayguard-audit %s (schema version %d)\n",
			       PACKAGE_VERSION, AUDIT_SCHEMA_VERSION);
			return 0;
		default:
			if (optopt != 0)
				rg_snprintf(why, sizeof(why), "unknown option -%c",
					    optopt);
			else
				rg_snprintf(why, sizeof(why), "unknown option %s",
					    argv[optind - 1]);
			usage(why);
		}
	}
	if (optind >= argc)
		usage("no command given");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	memset(&o, 0, sizeof(o));
	o.limit = -1;
	if (strcmp(cmd, "serve") == 0)
		return audit_serve_main(db_name, password_file, argc, argv);

	if (strcmp(cmd, "summary") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_NODE, &o);
	} else if (strcmp(cmd, "top") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_COUNT
			   | OPT_LIMIT | OPT_NODE, &o);
		if (optind != argc - 1)
			usage("top: expected clients, senders or recipients");
	} else if (strcmp(cmd, "search") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_CLIENT
			   | OPT_RULE | OPT_ACTION | OPT_SENDER | OPT_RCPT
			   | OPT_SESSION | OPT_LIMIT | OPT_NODE, &o);
	} else if (strcmp(cmd, "relay-attempts") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_LIMIT
			   | OPT_NODE, &o);
	} else if (strcmp(cmd, "alerts") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_LIMIT
			   | OPT_NODE | OPT_ACCOUNT, &o);
	} else if (strcmp(cmd, "tail") == 0) {
		parse_opts(argc, argv, cmd, OPT_FOLLOW | OPT_COUNT | OPT_NODE, &o);
	} else if (strcmp(cmd, "export") == 0) {
		parse_opts(argc, argv, cmd, OPT_SINCE | OPT_UNTIL | OPT_FORMAT
			   | OPT_NODE, &o);
	} else if (strcmp(cmd, "schema") == 0) {
		parse_opts(argc, argv, cmd, OPT_SQL, &o);
	} else {
		rg_snprintf(why, sizeof(why), "unknown command \"%s\"", cmd);
		usage(why);
	}
	if (strcmp(cmd, "top") != 0 && optind != argc) {
		rg_snprintf(why, sizeof(why), "%s: unexpected argument \"%s\"", cmd,
			    argv[optind]);
		usage(why);
	}

	if (strcmp(cmd, "schema") == 0 && (o.given & OPT_SQL)) {
		/* what an owner feeds to psql; no store is opened */
		fputs(audit_pg_schema_sql, stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
	}
	if ((store = audit_store_open(db_name, password_file, err,
				      sizeof(err))) == NULL)
		die("%s", err);
	if (strcmp(cmd, "schema") != 0 && audit_store_check(store, err,
							    sizeof(err)) < 0)
		die("%s", err);
	if (strcmp(cmd, "summary") == 0)
		rc = cmd_summary(&o);
	else if (strcmp(cmd, "top") == 0)
		rc = cmd_top(argv[optind], &o);
	else if (strcmp(cmd, "search") == 0)
		rc = cmd_search(&o);
	else if (strcmp(cmd, "relay-attempts") == 0)
		rc = cmd_relay_attempts(&o);
	else if (strcmp(cmd, "alerts") == 0)
		rc = cmd_alerts(&o);
	else if (strcmp(cmd, "tail") == 0)
		rc = cmd_tail(&o);
	else if (strcmp(cmd, "export") == 0)
		rc = cmd_export(&o);
	else
		rc = cmd_schema();
	store = audit_store_close(store);
	if (fflush(stdout) != 0)
		die("write error: %s", strerror(errno));
	return rc;
}
