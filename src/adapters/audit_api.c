/*
 * audit_api - the dashboard's API over the audit store (see audit_api.h)
 *
 * Every query starts with the same three parameters: ?1 from and ?2 to
 * (the table's time text, "YYYY-MM-DDTHH:MM:SS.mmmZ"; PostgreSQL reads
 * them as timestamptz) and ?3 node (NULL: every MX).  A parameter's first
 * use compares it with a column, so that PostgreSQL infers its type, and
 * only then is it tested for NULL.  Counting expressions are CASE sums
 * and HAVING repeats them (PostgreSQL has neither boolean SUM nor
 * output names in HAVING).  Tables (top, search) come out as
 * {"columns": [...], "rows": [[...]], "truncated": bool} or, with
 * format=csv, a header line and rows; the page and a spreadsheet read
 * the same shape.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "audit_store.h"
#include "web_text.h"
#include "audit_api.h"

#define RANGE_SQL "time >= ?1 AND time < ?2 AND (node = ?3 OR ?3 IS NULL)"
#define RANGE_PARAMS 3
#define REFUSED_SQL "CASE WHEN action IN ('reject', 'tempfail', 'drop') " \
	"THEN 1 ELSE 0 END"
#define MAX_PARAMS 12
#define MAX_BUCKETS 100
#define MAX_SERIES 32
#define TIME_LEN 32
#define PATTERN_MAX 600

/* The three questions the overview answers, as row conditions. */
static const struct panel {
	const char *name;
	const char *where;
} panels[] = {
	/* relay attempts from outside: relaying refused to a client that is
	 * neither trusted nor authenticated */
	{"relay", "stage = 'rcpt' AND rule IN ('relay', 'routing') "
	 "AND COALESCE(client_trust, 'untrusted') = 'untrusted'"},
	/* a blank sender, or one of our own domains, from outside */
	{"blank", "stage = 'mail' AND sender_class IN ('blank', 'local') "
	 "AND COALESCE(client_trust, 'untrusted') = 'untrusted'"},
	/* recipients whose final destination is not ours */
	{"outside", "stage = 'rcpt' AND rule IN ('relay', 'routing', "
	 "'trusted', 'authenticated')"},
};

/* Top lists: the query and its column names (also for an empty answer). */
static const struct top {
	const char *name;
	const char *sql;
	const char *columns[4];
} tops[] = {
	{"clients", "SELECT client_addr, MAX(client_name), SUM(" REFUSED_SQL
	 "), COUNT(*) FROM verdicts WHERE " RANGE_SQL " GROUP BY client_addr "
	 "HAVING SUM(" REFUSED_SQL ") > 0 ORDER BY 3 DESC, 4 DESC, 1 LIMIT ?4",
	 {"client", "name", "refusals", "verdicts"}},
	{"recipients", "SELECT COALESCE(rcpt_normalized, rcpt), "
	 "COUNT(DISTINCT client_addr), SUM(" REFUSED_SQL "), COUNT(*) FROM "
	 "verdicts WHERE " RANGE_SQL " AND stage = 'rcpt' GROUP BY "
	 "COALESCE(rcpt_normalized, rcpt) HAVING SUM(" REFUSED_SQL ") > 0 "
	 "ORDER BY 3 DESC, 4 DESC, 1 LIMIT ?4",
	 {"recipient", "clients", "refusals", "verdicts"}},
	{"senders", "SELECT sender, COUNT(DISTINCT client_addr), SUM("
	 REFUSED_SQL "), COUNT(*) FROM verdicts WHERE " RANGE_SQL " AND stage "
	 "IN ('mail', 'rcpt') GROUP BY sender HAVING SUM(" REFUSED_SQL ") > 0 "
	 "ORDER BY 3 DESC, 4 DESC, 1 LIMIT ?4",
	 {"sender", "clients", "refusals", "verdicts"}},
	{"auth", "SELECT auth_user, COUNT(DISTINCT client_addr), "
	 "COUNT(DISTINCT COALESCE(rcpt_normalized, rcpt)), COUNT(*) FROM "
	 "verdicts WHERE " RANGE_SQL " AND stage = 'rcpt' AND rule = "
	 "'authenticated' AND auth_user IS NOT NULL GROUP BY auth_user "
	 "ORDER BY 4 DESC, 1 LIMIT ?4",
	 {"auth_user", "clients", "recipients", "relayed"}},
};

/* The search's columns, in order. */
static const char *const search_columns[] = {
	"id", "time", "node", "session_id", "queue_id", "mta", "client_addr",
	"client_name", "helo", "auth_user", "client_trust", "stage", "sender",
	"sender_class", "rcpt", "rcpt_normalized", "rule", "action", "code",
	"ecode", "text", "directory_result", "trace",
};

/* One request's bounds, parsed once, and its parameters. */
struct query {
	time_t  from, to;
	char    from_text[TIME_LEN], to_text[TIME_LEN];
	const char *node;
	long    limit;
	int     csv;
	struct audit_param p[MAX_PARAMS];
	int     np;
};

/* error - a JSON error body */
static void
error(struct api_response *rs, int status, const char *what)
{
	wt_buf_free(&rs->body);
	wt_buf_init(&rs->body, AUDIT_API_MAX_BODY);
	rs->status = status;
	rs->content_type = "application/json; charset=utf-8";
	rs->filename[0] = '\0';
	wt_puts(&rs->body, "{\"error\":");
	wt_json_string(&rs->body, what);
	wt_puts(&rs->body, "}\n");
}

/* format_time - epoch seconds as the table's time text */
static void
format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* parse_long - a whole decimal number in [lo, hi]; 0 ok, -1 not */
static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char   *end;
	long    n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

/* set_range - ?1 .. ?3 for [from, to) */
static void
set_range(struct query *q, time_t from, time_t to)
{
	format_time(from, q->from_text, sizeof(q->from_text));
	format_time(to, q->to_text, sizeof(q->to_text));
	q->p[0].kind = AUDIT_P_TEXT;
	q->p[0].text = q->from_text;
	q->p[1].kind = AUDIT_P_TEXT;
	q->p[1].text = q->to_text;
	q->p[2].kind = q->node ? AUDIT_P_TEXT : AUDIT_P_NULL;
	q->p[2].text = q->node;
	q->np = RANGE_PARAMS;
}

/* add_text - the next parameter: text, or NULL when absent or empty */
static void
add_text(struct query *q, const char *s)
{
	struct audit_param *p = &q->p[q->np++];

	p->kind = (s && *s) ? AUDIT_P_TEXT : AUDIT_P_NULL;
	p->text = (s && *s) ? s : NULL;
}

/* add_int - the next parameter: an integer */
static void
add_int(struct query *q, int64_t n)
{
	struct audit_param *p = &q->p[q->np++];

	p->kind = AUDIT_P_INT;
	p->num = n;
}

/* parse_query - from, to, range, node, limit, format; -1 + error */
static int
parse_query(api_param_fn param, void *ctx, time_t now, struct query *q,
	    struct api_response *rs)
{
	static const struct {
		const char *name;
		long    seconds;
	} ranges[] = {
		{"1h", 3600}, {"24h", 86400}, {"7d", 7 * 86400}, {"30d", 30 * 86400},
	};
	const char *from = param(ctx, "from"), *to = param(ctx, "to");
	const char *range = param(ctx, "range"), *limit = param(ctx, "limit");
	const char *format = param(ctx, "format"), *node = param(ctx, "node");
	long    n, span = 86400;
	size_t  i;

	memset(q, 0, sizeof(*q));
	q->to = now + 1;		/* this second's rows are included */
	if (to && *to) {
		if (parse_long(to, 0, 253402300799L, &n) < 0)
			return error(rs, 400, "to: expected epoch seconds"), -1;
		q->to = (time_t) n;
	}
	if (range && *range) {
		for (i = 0; i < RG_ARRAY_LEN(ranges); i++)
			if (strcmp(range, ranges[i].name) == 0)
				break;
		if (i == RG_ARRAY_LEN(ranges))
			return error(rs, 400, "range: expected 1h, 24h, 7d or 30d"), -1;
		span = ranges[i].seconds;
	}
	q->from = q->to - span;
	if (from && *from) {
		if (parse_long(from, 0, 253402300799L, &n) < 0)
			return error(rs, 400, "from: expected epoch seconds"), -1;
		q->from = (time_t) n;
	}
	if (q->from >= q->to)
		return error(rs, 400, "from must be before to"), -1;
	if (q->to - q->from > AUDIT_API_MAX_RANGE)
		return error(rs, 400, "time range longer than 400 days"), -1;
	q->limit = AUDIT_API_DEFAULT_LIMIT;
	if (limit && *limit && parse_long(limit, 1, AUDIT_API_MAX_LIMIT,
					  &q->limit) < 0)
		return error(rs, 400, "limit: expected 1 to 5000"), -1;
	if (format && *format) {
		if (strcmp(format, "csv") == 0)
			q->csv = 1;
		else if (strcmp(format, "json") != 0)
			return error(rs, 400, "format: expected json or csv"), -1;
	}
	q->node = (node && *node) ? node : NULL;
	set_range(q, q->from, q->to);
	return 0;
}

/* run - a query with q's parameters; NULL + error answered */
static struct audit_cursor *
run(struct audit_store *st, const char *sql, const struct query *q,
    struct api_response *rs)
{
	struct audit_cursor *c;
	char    err[512];

	if ((c = audit_store_query(st, sql, q->p, q->np, err, sizeof(err))) == NULL)
		error(rs, 503, err);
	return c;
}

/* next - 1 row, 0 done, -1 error (answered) */
static int
next(struct audit_cursor *c, struct api_response *rs)
{
	char    err[512];
	int     rc = audit_cursor_next(c, err, sizeof(err));

	if (rc < 0)
		error(rs, 503, strstr(err, "interrupt") || strstr(err, "timeout")
		      || strstr(err, "cancel") ? "query took too long; choose a "
		      "shorter time range" : err);
	return rc;
}

/* begin_json - a JSON object with the range it answers */
static void
begin_json(struct api_response *rs, const struct query *q)
{
	wt_printf(&rs->body, "{\"from\":%lld,\"to\":%lld", (long long) q->from,
		  (long long) q->to);
}

/* put_value - one column as JSON or CSV */
static void
put_value(struct wt_buf *b, struct audit_cursor *c, int col, int csv)
{
	const char *s = audit_cursor_text(c, col);

	if (s == NULL) {
		if (!csv)
			wt_puts(b, "null");
	} else if (audit_cursor_is_int(c, col)) {
		wt_printf(b, "%lld", (long long) audit_cursor_int(c, col));
	} else if (csv) {
		wt_csv_cell(b, s);
	} else {
		wt_json_string(b, s);
	}
}

/* put_table - the cursor's rows, at most limit, under the given names */
static int
put_table(struct audit_cursor *c, const char *const *names, int ncol,
	  const struct query *q, struct api_response *rs)
{
	struct wt_buf *b = &rs->body;
	long    rows = 0;
	int     i, rc;

	if (q->csv) {
		rs->content_type = "text/csv; charset=utf-8";
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			wt_csv_cell(b, names[i]);
		}
		wt_puts(b, "\r\n");
	} else {
		begin_json(rs, q);
		wt_puts(b, ",\"columns\":[");
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			wt_json_string(b, names[i]);
		}
		wt_puts(b, "],\"rows\":[");
	}
	while ((rc = next(c, rs)) == 1) {
		if (rows == q->limit)
			break;		/* one more than shown: truncated */
		if (!q->csv)
			wt_puts(b, rows ? ",[" : "[");
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			put_value(b, c, i, q->csv);
		}
		wt_puts(b, q->csv ? "\r\n" : "]");
		rows++;
	}
	if (rc < 0)
		return -1;
	if (!q->csv)
		wt_printf(b, "],\"limit\":%ld,\"truncated\":%s}\n", q->limit,
			  rc == 1 ? "true" : "false");
	return 0;
}

/* is_refused - reject, tempfail or drop */
static int
is_refused(const char *action)
{
	return action && (strcmp(action, "reject") == 0
			  || strcmp(action, "tempfail") == 0
			  || strcmp(action, "drop") == 0);
}

/* api_summary - totals, verdicts by stage/rule/action, the three panels */
static int
api_summary(struct audit_store *st, const struct query *q,
	    struct api_response *rs)
{
	struct wt_buf *b = &rs->body;
	struct audit_cursor *c;
	long long total = 0, refused = 0, monitored = 0, rcpt_accepted = 0,
	        rcpt_refused = 0, n;
	int     rc, rows = 0;
	size_t  i;
	char    sql[1024];

	if (q->csv)
		return error(rs, 400, "summary: format=csv is not offered"), -1;
	c = run(st, "SELECT stage, rule, action, COUNT(*) FROM verdicts WHERE "
		RANGE_SQL " GROUP BY stage, rule, action ORDER BY 4 DESC, 1, 2, 3 "
		"LIMIT 500", q, rs);
	if (c == NULL)
		return -1;
	begin_json(rs, q);
	wt_puts(b, ",\"by_rule\":[");
	while ((rc = next(c, rs)) == 1) {
		const char *stage = audit_cursor_text(c, 0);
		const char *action = audit_cursor_text(c, 2);
		int     is_rcpt = stage && strcmp(stage, "rcpt") == 0;

		n = audit_cursor_int(c, 3);
		total += n;
		refused += is_refused(action) ? n : 0;
		monitored += action && strcmp(action, "would-reject") == 0 ? n : 0;
		rcpt_refused += is_rcpt && is_refused(action) ? n : 0;
		rcpt_accepted += is_rcpt && action && strcmp(action, "accept") == 0
			? n : 0;
		wt_puts(b, rows++ ? ",{\"stage\":" : "{\"stage\":");
		put_value(b, c, 0, 0);
		wt_puts(b, ",\"rule\":");
		put_value(b, c, 1, 0);
		wt_puts(b, ",\"action\":");
		put_value(b, c, 2, 0);
		wt_printf(b, ",\"count\":%lld}", n);
	}
	c = audit_cursor_close(c);
	if (rc < 0)
		return -1;
	wt_printf(b, "],\"total\":%lld,\"refused\":%lld,\"monitored\":%lld,"
		  "\"rcpt_accepted\":%lld,\"rcpt_refused\":%lld,\"panels\":{",
		  total, refused, monitored, rcpt_accepted, rcpt_refused);
	/* the three panels in one scan of the range */
	rg_snprintf(sql, sizeof(sql), "SELECT");
	for (i = 0; i < RG_ARRAY_LEN(panels); i++)
		rg_snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
			    "%s SUM(CASE WHEN %s THEN 1 ELSE 0 END)", i ? "," : "",
			    panels[i].where);
	rg_snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		    " FROM verdicts WHERE " RANGE_SQL);
	if ((c = run(st, sql, q, rs)) == NULL)
		return -1;
	if ((rc = next(c, rs)) != 1) {
		c = audit_cursor_close(c);
		return rc == 0 ? (error(rs, 503, "no answer"), -1) : -1;
	}
	for (i = 0; i < RG_ARRAY_LEN(panels); i++)
		wt_printf(b, "%s\"%s\":%lld", i ? "," : "", panels[i].name,
			  (long long) audit_cursor_int(c, (int) i));
	c = audit_cursor_close(c);
	wt_puts(b, "}}\n");
	return 0;
}

/* bucket_for - a round bucket width giving at most MAX_BUCKETS buckets */
static long
bucket_for(long span)
{
	static const long widths[] = {
		60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
		2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
	};
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(widths); i++)
		if ((span + widths[i] - 1) / widths[i] <= MAX_BUCKETS)
			return widths[i];
	return (span + MAX_BUCKETS - 1) / MAX_BUCKETS;
}

/* series_index - the slot of rule in names[], added when new; -1 full */
static int
series_index(char names[][64], int *n, const char *rule)
{
	int     i;

	for (i = 0; i < *n; i++)
		if (strcmp(names[i], rule) == 0)
			return i;
	if (*n == MAX_SERIES)
		return -1;
	rg_strlcpy(names[*n], rule, 64);
	return (*n)++;
}

/* api_timeline - refusals by rule, accepted and refused recipients, per
 * bucket from from on.  One grouped count per bucket over the time
 * index: the SQL is the same for both stores (they share no function to
 * cut a time into buckets), and each is bounded by its own range. */
static int
api_timeline(struct audit_store *st, const struct query *q0,
	     struct api_response *rs)
{
	struct timeline {
		long long by_rule[MAX_SERIES][MAX_BUCKETS];
		long long rcpt_ok[MAX_BUCKETS], rcpt_no[MAX_BUCKETS];
		long long all[MAX_BUCKETS];
		char    names[MAX_SERIES][64];
	}      *t;
	struct wt_buf *b = &rs->body;
	long    width = bucket_for((long) (q0->to - q0->from)), nb, k, i;
	int     nseries = 0, rc = 0, s;
	struct audit_cursor *c;
	struct query q = *q0;

	if (q.csv)
		return error(rs, 400, "timeline: format=csv is not offered"), -1;
	nb = (long) ((q.to - q.from + width - 1) / width);
	if (nb > MAX_BUCKETS)
		nb = MAX_BUCKETS;
	t = xcalloc(1, sizeof(*t));
	for (k = 0; k < nb && rc >= 0; k++) {
		time_t  end = q0->from + (k + 1) * width;

		set_range(&q, q0->from + k * width, end < q0->to ? end : q0->to);
		if ((c = run(st, "SELECT stage, rule, action, COUNT(*) FROM "
			     "verdicts WHERE " RANGE_SQL " GROUP BY stage, rule, "
			     "action", &q, rs)) == NULL) {
			rc = -1;
			break;
		}
		while ((rc = next(c, rs)) == 1) {
			const char *stage = audit_cursor_text(c, 0);
			const char *rule = audit_cursor_text(c, 1);
			const char *action = audit_cursor_text(c, 2);
			long long n = audit_cursor_int(c, 3);

			t->all[k] += n;
			if (is_refused(action) && (s = series_index(t->names,
				       &nseries, rule ? rule : "-")) >= 0)
				t->by_rule[s][k] += n;
			if (stage && strcmp(stage, "rcpt") == 0) {
				if (is_refused(action))
					t->rcpt_no[k] += n;
				else if (action && strcmp(action, "accept") == 0)
					t->rcpt_ok[k] += n;
			}
		}
		c = audit_cursor_close(c);
	}
	if (rc < 0) {
		free(t);
		return -1;
	}
	begin_json(rs, q0);
	wt_printf(b, ",\"bucket\":%ld,\"starts\":[", width);
	for (i = 0; i < nb; i++)
		wt_printf(b, "%s%lld", i ? "," : "", (long long) (q0->from + i * width));
	wt_puts(b, "],\"refused_by_rule\":[");
	for (s = 0; s < nseries; s++) {
		wt_puts(b, s ? ",{\"rule\":" : "{\"rule\":");
		wt_json_string(b, t->names[s]);
		wt_puts(b, ",\"counts\":[");
		for (i = 0; i < nb; i++)
			wt_printf(b, "%s%lld", i ? "," : "", t->by_rule[s][i]);
		wt_puts(b, "]}");
	}
	wt_puts(b, "],\"rcpt_accepted\":[");
	for (i = 0; i < nb; i++)
		wt_printf(b, "%s%lld", i ? "," : "", t->rcpt_ok[i]);
	wt_puts(b, "],\"rcpt_refused\":[");
	for (i = 0; i < nb; i++)
		wt_printf(b, "%s%lld", i ? "," : "", t->rcpt_no[i]);
	wt_puts(b, "],\"verdicts\":[");
	for (i = 0; i < nb; i++)
		wt_printf(b, "%s%lld", i ? "," : "", t->all[i]);
	wt_puts(b, "]}\n");
	free(t);
	return 0;
}

/* api_top - one of the top lists */
static int
api_top(struct audit_store *st, api_param_fn param, void *ctx,
	struct query *q, struct api_response *rs)
{
	const char *what = param(ctx, "what");
	struct audit_cursor *c;
	size_t  i;
	int     rc;

	for (i = 0; what && i < RG_ARRAY_LEN(tops); i++)
		if (strcmp(what, tops[i].name) == 0)
			break;
	if (what == NULL || i == RG_ARRAY_LEN(tops))
		return error(rs, 400, "what: expected clients, recipients, "
			     "senders or auth"), -1;
	add_int(q, q->limit + 1);
	if ((c = run(st, tops[i].sql, q, rs)) == NULL)
		return -1;
	rc = put_table(c, tops[i].columns, 4, q, rs);
	c = audit_cursor_close(c);
	return rc;
}

/* like_contains - "%text%" for LIKE ... ESCAPE '\', lower-cased, with
 * the user's % _ \ taken literally; NULL when s is absent or empty */
static char *
like_contains(const char *s, char *buf, size_t size)
{
	size_t  i = 0;

	if (s == NULL || *s == '\0')
		return NULL;
	buf[i++] = '%';
	for (; *s && i + 3 < size; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			buf[i++] = '\\';
		buf[i++] = (*s >= 'A' && *s <= 'Z') ? (char) (*s + 32) : *s;
	}
	buf[i++] = '%';
	buf[i] = '\0';
	return buf;
}

/* is_ip - an IPv4 or IPv6 address, as client_addr holds them */
static int
is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return s && (inet_pton(AF_INET, s, buf) == 1
		     || inet_pton(AF_INET6, s, buf) == 1);
}

/*/* api_search - verdicts matching every filter given, newest first (by
 * time, then id: the time index gives that order, so the scan stops at
 * the limit instead of sorting the whole range) */
static int
api_search(struct audit_store *st, api_param_fn param, void *ctx,
	   struct query *q, struct api_response *rs)
{
	const char *panel = param(ctx, "panel"), *client = param(ctx, "client");
	const char *where = "1 = 1";
	char    sql[3072], addr_like[PATTERN_MAX], client_like[PATTERN_MAX];
	struct audit_cursor *c;
	size_t  i;
	int     rc;

	if (panel && *panel) {
		for (i = 0; i < RG_ARRAY_LEN(panels); i++)
			if (strcmp(panel, panels[i].name) == 0)
				break;
		if (i == RG_ARRAY_LEN(panels))
			return error(rs, 400, "panel: expected relay, blank or "
				     "outside"), -1;
		where = panels[i].where;
	}
	/* addr is a substring of sender, recipient or final destination;
	 * client an address (exact) or a substring of its name or HELO */
	rg_snprintf(sql, sizeof(sql), "SELECT id, time, node, session_id, "
		    "queue_id, mta, client_addr, client_name, helo, auth_user, "
		    "client_trust, stage, sender, sender_class, rcpt, "
		    "rcpt_normalized, rule, action, code, ecode, text, "
		    "directory_result, trace FROM verdicts WHERE " RANGE_SQL
		    " AND (%s)"
		    " AND (lower(sender) LIKE ?4 ESCAPE '\\'"
		    " OR lower(rcpt) LIKE ?4 ESCAPE '\\'"
		    " OR lower(rcpt_normalized) LIKE ?4 ESCAPE '\\' OR ?4 IS NULL)"
		    " AND (client_addr = ?5 OR ?5 IS NULL)"
		    " AND (lower(client_name) LIKE ?6 ESCAPE '\\'"
		    " OR lower(helo) LIKE ?6 ESCAPE '\\' OR ?6 IS NULL)"
		    " AND (session_id = ?7 OR ?7 IS NULL)"
		    " AND (queue_id = ?8 OR ?8 IS NULL)"
		    " AND (rule = ?9 OR ?9 IS NULL)"
		    " AND (action = ?10 OR ?10 IS NULL)"
		    " ORDER BY time DESC, id DESC LIMIT ?11", where);
	add_text(q, like_contains(param(ctx, "addr"), addr_like,
				  sizeof(addr_like)));
	add_text(q, is_ip(client) ? client : NULL);
	add_text(q, is_ip(client) ? NULL : like_contains(client, client_like,
							  sizeof(client_like)));
	add_text(q, param(ctx, "session"));
	add_text(q, param(ctx, "queue"));
	add_text(q, param(ctx, "rule"));
	add_text(q, param(ctx, "action"));
	add_int(q, q->limit + 1);
	if ((c = run(st, sql, q, rs)) == NULL)
		return -1;
	rc = put_table(c, search_columns, (int) RG_ARRAY_LEN(search_columns), q,
		       rs);
	c = audit_cursor_close(c);
	return rc;
}

/* audit_api_handle - see audit_api.h */
void
audit_api_handle(struct audit_store *st, const char *path, api_param_fn param,
		 void *ctx, time_t now, struct api_response *rs)
{
	static const char *names[] = {"summary", "timeline", "top", "search"};
	struct query q;
	const char *name, *download;
	char    err[512];
	size_t  i;
	int     rc;

	memset(rs, 0, sizeof(*rs));
	wt_buf_init(&rs->body, AUDIT_API_MAX_BODY);
	rs->status = 200;
	rs->content_type = "application/json; charset=utf-8";
	name = strncmp(path, "/api/", 5) == 0 ? path + 5 : "";
	for (i = 0; i < RG_ARRAY_LEN(names); i++)
		if (strcmp(name, names[i]) == 0)
			break;
	if (i == RG_ARRAY_LEN(names)) {
		error(rs, 404, "no such API call");
		return;
	}
	if (parse_query(param, ctx, now, &q, rs) < 0)
		return;
	if (audit_store_set_timeout(st, AUDIT_API_DEADLINE_MS, err,
				    sizeof(err)) < 0) {
		error(rs, 503, err);
		return;
	}
	switch (i) {
	case 0: rc = api_summary(st, &q, rs); break;
	case 1: rc = api_timeline(st, &q, rs); break;
	case 2: rc = api_top(st, param, ctx, &q, rs); break;
	default: rc = api_search(st, param, ctx, &q, rs); break;
	}
	if (rc == 0 && wt_buf_full(&rs->body))
		error(rs, 503, "answer too large; choose a smaller limit");
	else if (rc == 0 && (download = param(ctx, "download")) != NULL
		 && strcmp(download, "1") == 0)
		rg_snprintf(rs->filename, sizeof(rs->filename),
			    "relayguard-%s.%s", names[i], q.csv ? "csv" : "json");
}
