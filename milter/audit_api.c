/*
 * audit_api - the dashboard's API over the audit database (see audit_api.h)
 *
 * Times in the verdicts table are text, "YYYY-MM-DDTHH:MM:SS.mmmZ", so a
 * range is two bound strings compared against the time index.  Tables
 * (top, search) come out as {"columns": [...], "rows": [[...]],
 * "truncated": bool} or, with format=csv, a header line and rows; the
 * page and a spreadsheet read the same shape.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "util.h"
#include "web_text.h"
#include "audit_api.h"

#define RANGE_SQL "time >= ?1 AND time < ?2"
#define REFUSED_SQL "action IN ('reject', 'tempfail', 'drop')"
#define MAX_BUCKETS 200
#define MAX_SERIES 32
#define TIME_LEN 32

/* The three questions the overview answers, as row conditions. */
static const struct panel {
	const char *name;
	const char *where;
} panels[] = {
	/* relay attempts from outside: relaying refused or asked for by a
	 * client that is neither trusted nor authenticated */
	{"relay", "stage = 'rcpt' AND rule IN ('relay', 'routing') "
	 "AND COALESCE(client_trust, 'untrusted') = 'untrusted'"},
	/* a blank sender, or one of our own domains, from outside */
	{"blank", "stage = 'mail' AND sender_class IN ('blank', 'local') "
	 "AND COALESCE(client_trust, 'untrusted') = 'untrusted'"},
	/* recipients whose final destination is not ours */
	{"outside", "stage = 'rcpt' AND rule IN ('relay', 'routing', "
	 "'trusted', 'authenticated')"},
};

/* Top lists: key, a second column, then counts. */
static const struct top {
	const char *name;
	const char *sql;
} tops[] = {
	{"clients", "SELECT client_addr AS client, MAX(client_name) AS name, "
	 "SUM(" REFUSED_SQL ") AS refusals, COUNT(*) AS verdicts FROM verdicts "
	 "WHERE " RANGE_SQL " GROUP BY client_addr HAVING refusals > 0 "
	 "ORDER BY refusals DESC, verdicts DESC, 1 LIMIT ?3"},
	{"recipients", "SELECT COALESCE(rcpt_normalized, rcpt) AS recipient, "
	 "COUNT(DISTINCT client_addr) AS clients, SUM(" REFUSED_SQL ") AS "
	 "refusals, COUNT(*) AS verdicts FROM verdicts WHERE stage = 'rcpt' AND "
	 RANGE_SQL " GROUP BY 1 HAVING refusals > 0 ORDER BY refusals DESC, "
	 "verdicts DESC, 1 LIMIT ?3"},
	{"senders", "SELECT sender, COUNT(DISTINCT client_addr) AS clients, "
	 "SUM(" REFUSED_SQL ") AS refusals, COUNT(*) AS verdicts FROM verdicts "
	 "WHERE stage IN ('mail', 'rcpt') AND " RANGE_SQL " GROUP BY sender "
	 "HAVING refusals > 0 ORDER BY refusals DESC, verdicts DESC, 1 LIMIT ?3"},
	{"auth", "SELECT auth_user, COUNT(DISTINCT client_addr) AS clients, "
	 "COUNT(DISTINCT COALESCE(rcpt_normalized, rcpt)) AS recipients, "
	 "COUNT(*) AS relayed FROM verdicts WHERE stage = 'rcpt' AND rule = "
	 "'authenticated' AND auth_user IS NOT NULL AND " RANGE_SQL
	 " GROUP BY auth_user ORDER BY relayed DESC, 1 LIMIT ?3"},
};

#define SEARCH_COLUMNS "id, time, session_id, queue_id, mta, client_addr, " \
	"client_name, helo, auth_user, client_trust, stage, sender, " \
	"sender_class, rcpt, rcpt_normalized, rule, action, code, ecode, text, " \
	"directory_result, trace"

/* One request's bounds, parsed once. */
struct query {
	time_t  from, to;
	char    from_text[TIME_LEN], to_text[TIME_LEN];
	long    limit;
	int     csv;
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

/* parse_query - from, to, range, limit, format; -1 + error on bad input */
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
	const char *format = param(ctx, "format");
	long    n, span = 86400;
	size_t  i;

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
	q->csv = 0;
	if (format && *format) {
		if (strcmp(format, "csv") == 0)
			q->csv = 1;
		else if (strcmp(format, "json") != 0)
			return error(rs, 400, "format: expected json or csv"), -1;
	}
	format_time(q->from, q->from_text, sizeof(q->from_text));
	format_time(q->to, q->to_text, sizeof(q->to_text));
	return 0;
}

/* deadline_hit - progress handler: abort a query past its deadline */
static int
deadline_hit(void *arg)
{
	return rg_mono_ms() > *(const int64_t *) arg;
}

/* prepare - a statement with the range bound as ?1 and ?2, or NULL + error */
static sqlite3_stmt *
prepare(sqlite3 *db, const char *sql, const struct query *q,
	struct api_response *rs)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		error(rs, 503, sqlite3_errmsg(db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, q->from_text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->to_text, -1, SQLITE_STATIC);
	return st;
}

/* step - 1 row, 0 done, -1 error (answered) */
static int
step(sqlite3 *db, sqlite3_stmt *st, struct api_response *rs)
{
	int     rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	error(rs, 503, rc == SQLITE_INTERRUPT ? "query took too long; "
	      "choose a shorter time range" : sqlite3_errmsg(db));
	return -1;
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
put_value(struct wt_buf *b, sqlite3_stmt *st, int col, int csv)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		if (!csv)
			wt_puts(b, "null");
		break;
	case SQLITE_INTEGER:
		wt_printf(b, "%lld", (long long) sqlite3_column_int64(st, col));
		break;
	default:
		if (csv)
			wt_csv_cell(b, (const char *) sqlite3_column_text(st, col));
		else
			wt_json_string(b, (const char *) sqlite3_column_text(st, col));
	}
}

/* put_table - the statement's rows, at most limit, as a table */
static int
put_table(sqlite3 *db, sqlite3_stmt *st, const struct query *q,
	  struct api_response *rs)
{
	struct wt_buf *b = &rs->body;
	int     ncol = sqlite3_column_count(st), i, rc;
	long    rows = 0;

	if (q->csv) {
		rs->content_type = "text/csv; charset=utf-8";
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			wt_csv_cell(b, sqlite3_column_name(st, i));
		}
		wt_puts(b, "\r\n");
	} else {
		begin_json(rs, q);
		wt_puts(b, ",\"columns\":[");
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			wt_json_string(b, sqlite3_column_name(st, i));
		}
		wt_puts(b, "],\"rows\":[");
	}
	while ((rc = step(db, st, rs)) == 1) {
		if (rows == q->limit)
			break;		/* one more than shown: truncated */
		if (!q->csv)
			wt_puts(b, rows ? ",[" : "[");
		for (i = 0; i < ncol; i++) {
			if (i)
				wt_put(b, ",", 1);
			put_value(b, st, i, q->csv);
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

/* count - one COUNT(*) over the range with an extra condition */
static long long
count(sqlite3 *db, const char *where, const struct query *q,
      struct api_response *rs)
{
	char    sql[512];
	sqlite3_stmt *st;
	long long n = -1;

	rg_snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM verdicts WHERE "
		    RANGE_SQL " AND %s", where);
	if ((st = prepare(db, sql, q, rs)) == NULL)
		return -1;
	if (step(db, st, rs) == 1)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* api_summary - totals, refusals by stage/rule/action, the three panels */
static int
api_summary(sqlite3 *db, const struct query *q, struct api_response *rs)
{
	struct wt_buf *b = &rs->body;
	sqlite3_stmt *st;
	long long total = 0, refused = 0, monitored = 0, rcpt_accepted = 0,
	        rcpt_refused = 0, n;
	int     rc, rows = 0;
	size_t  i;

	if (q->csv)
		return error(rs, 400, "summary: format=csv is not offered"), -1;
	st = prepare(db, "SELECT stage, rule, action, COUNT(*) FROM verdicts "
		     "WHERE " RANGE_SQL " GROUP BY stage, rule, action "
		     "ORDER BY 4 DESC, 1, 2, 3 LIMIT 500", q, rs);
	if (st == NULL)
		return -1;
	begin_json(rs, q);
	wt_puts(b, ",\"by_rule\":[");
	while ((rc = step(db, st, rs)) == 1) {
		const char *stage = (const char *) sqlite3_column_text(st, 0);
		const char *action = (const char *) sqlite3_column_text(st, 2);
		int     is_refused, is_rcpt;

		n = sqlite3_column_int64(st, 3);
		is_refused = action && (strcmp(action, "reject") == 0
					|| strcmp(action, "tempfail") == 0
					|| strcmp(action, "drop") == 0);
		is_rcpt = stage && strcmp(stage, "rcpt") == 0;
		total += n;
		refused += is_refused ? n : 0;
		monitored += action && strcmp(action, "would-reject") == 0 ? n : 0;
		rcpt_refused += is_rcpt && is_refused ? n : 0;
		rcpt_accepted += is_rcpt && action && strcmp(action, "accept") == 0
			? n : 0;
		wt_puts(b, rows++ ? ",{\"stage\":" : "{\"stage\":");
		put_value(b, st, 0, 0);
		wt_puts(b, ",\"rule\":");
		put_value(b, st, 1, 0);
		wt_puts(b, ",\"action\":");
		put_value(b, st, 2, 0);
		wt_printf(b, ",\"count\":%lld}", n);
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return -1;
	wt_printf(b, "],\"total\":%lld,\"refused\":%lld,\"monitored\":%lld,"
		  "\"rcpt_accepted\":%lld,\"rcpt_refused\":%lld,\"panels\":{",
		  total, refused, monitored, rcpt_accepted, rcpt_refused);
	for (i = 0; i < RG_ARRAY_LEN(panels); i++) {
		if ((n = count(db, panels[i].where, q, rs)) < 0)
			return -1;
		wt_printf(b, "%s\"%s\":%lld", i ? "," : "", panels[i].name, n);
	}
	wt_puts(b, "}}\n");
	return 0;
}

/* bucket_for - a round bucket width giving at most about 100 buckets */
static long
bucket_for(long span)
{
	static const long widths[] = {
		60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
		2 * 86400, 7 * 86400,
	};
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(widths); i++)
		if (span / widths[i] <= 100)
			return widths[i];
	return 7 * 86400 * ((span / (7 * 86400) + MAX_BUCKETS - 1) / MAX_BUCKETS);
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
 * bucket; the buckets start at from */
static int
api_timeline(sqlite3 *db, const struct query *q, struct api_response *rs)
{
	struct timeline {
		long long by_rule[MAX_SERIES][MAX_BUCKETS];
		long long rcpt_ok[MAX_BUCKETS], rcpt_no[MAX_BUCKETS];
		long long all[MAX_BUCKETS];
		char    names[MAX_SERIES][64];
	}      *t;
	struct wt_buf *b = &rs->body;
	long    width = bucket_for((long) (q->to - q->from)), nb, i;
	int     nseries = 0, rc, s;
	sqlite3_stmt *st;

	if (q->csv)
		return error(rs, 400, "timeline: format=csv is not offered"), -1;
	nb = (long) ((q->to - q->from + width - 1) / width);
	if (nb > MAX_BUCKETS)
		nb = MAX_BUCKETS;
	st = prepare(db, "SELECT (CAST(strftime('%s', substr(time, 1, 19)) AS "
		     "INTEGER) - ?3) / ?4 AS bucket, stage, rule, action, COUNT(*) "
		     "FROM verdicts WHERE " RANGE_SQL " GROUP BY 1, 2, 3, 4 "
		     "LIMIT 100000", q, rs);
	if (st == NULL)
		return -1;
	t = xcalloc(1, sizeof(*t));
	sqlite3_bind_int64(st, 3, (sqlite3_int64) q->from);
	sqlite3_bind_int64(st, 4, width);
	while ((rc = step(db, st, rs)) == 1) {
		long    k = (long) sqlite3_column_int64(st, 0);
		const char *stage = (const char *) sqlite3_column_text(st, 1);
		const char *rule = (const char *) sqlite3_column_text(st, 2);
		const char *action = (const char *) sqlite3_column_text(st, 3);
		long long n = sqlite3_column_int64(st, 4);
		int     is_refused;

		if (k < 0 || k >= nb)
			continue;
		is_refused = action && (strcmp(action, "reject") == 0
					|| strcmp(action, "tempfail") == 0
					|| strcmp(action, "drop") == 0);
		t->all[k] += n;
		if (is_refused && (s = series_index(t->names, &nseries,
						    rule ? rule : "-")) >= 0)
			t->by_rule[s][k] += n;
		if (stage && strcmp(stage, "rcpt") == 0) {
			if (is_refused)
				t->rcpt_no[k] += n;
			else if (action && strcmp(action, "accept") == 0)
				t->rcpt_ok[k] += n;
		}
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		free(t);
		return -1;
	}
	begin_json(rs, q);
	wt_printf(b, ",\"bucket\":%ld,\"starts\":[", width);
	for (i = 0; i < nb; i++)
		wt_printf(b, "%s%lld", i ? "," : "", (long long) (q->from + i * width));
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
api_top(sqlite3 *db, api_param_fn param, void *ctx, const struct query *q,
	struct api_response *rs)
{
	const char *what = param(ctx, "what");
	sqlite3_stmt *st;
	size_t  i;
	int     rc;

	for (i = 0; what && i < RG_ARRAY_LEN(tops); i++)
		if (strcmp(what, tops[i].name) == 0)
			break;
	if (what == NULL || i == RG_ARRAY_LEN(tops))
		return error(rs, 400, "what: expected clients, recipients, "
			     "senders or auth"), -1;
	if ((st = prepare(db, tops[i].sql, q, rs)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 3, q->limit + 1);
	rc = put_table(db, st, q, rs);
	sqlite3_finalize(st);
	return rc;
}

/* bind_opt - bind a parameter's value when present and not empty */
static void
bind_opt(sqlite3_stmt *st, int idx, const char *value)
{
	if (value && *value)
		sqlite3_bind_text(st, idx, value, -1, SQLITE_TRANSIENT);
}

/* api_search - verdicts matching every filter given, newest first */
static int
api_search(sqlite3 *db, api_param_fn param, void *ctx, const struct query *q,
	   struct api_response *rs)
{
	const char *panel = param(ctx, "panel");
	const char *where = "1";
	char    sql[2048];
	sqlite3_stmt *st;
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
	/* addr and client are substrings (case-insensitive); the others exact */
	rg_snprintf(sql, sizeof(sql), "SELECT " SEARCH_COLUMNS " FROM verdicts "
		    "WHERE " RANGE_SQL " AND (%s)"
		    " AND (?3 IS NULL OR instr(lower(sender), lower(?3)) > 0"
		    " OR instr(lower(rcpt), lower(?3)) > 0"
		    " OR instr(lower(rcpt_normalized), lower(?3)) > 0)"
		    " AND (?4 IS NULL OR client_addr = ?4"
		    " OR instr(lower(client_name), lower(?4)) > 0"
		    " OR instr(lower(helo), lower(?4)) > 0)"
		    " AND (?5 IS NULL OR session_id = ?5)"
		    " AND (?6 IS NULL OR queue_id = ?6)"
		    " AND (?7 IS NULL OR rule = ?7)"
		    " AND (?8 IS NULL OR action = ?8)"
		    " ORDER BY id DESC LIMIT ?9", where);
	if ((st = prepare(db, sql, q, rs)) == NULL)
		return -1;
	bind_opt(st, 3, param(ctx, "addr"));
	bind_opt(st, 4, param(ctx, "client"));
	bind_opt(st, 5, param(ctx, "session"));
	bind_opt(st, 6, param(ctx, "queue"));
	bind_opt(st, 7, param(ctx, "rule"));
	bind_opt(st, 8, param(ctx, "action"));
	sqlite3_bind_int64(st, 9, q->limit + 1);
	rc = put_table(db, st, q, rs);
	sqlite3_finalize(st);
	return rc;
}

/* audit_api_handle - see audit_api.h */
void
audit_api_handle(sqlite3 *db, const char *path, api_param_fn param,
		 void *ctx, time_t now, struct api_response *rs)
{
	static const char *names[] = {"summary", "timeline", "top", "search"};
	struct query q;
	int64_t deadline = rg_mono_ms() + AUDIT_API_DEADLINE_MS;
	const char *name, *download;
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
	sqlite3_progress_handler(db, 1000, deadline_hit, &deadline);
	/* one read transaction: every figure of an answer agrees */
	(void) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	switch (i) {
	case 0: rc = api_summary(db, &q, rs); break;
	case 1: rc = api_timeline(db, &q, rs); break;
	case 2: rc = api_top(db, param, ctx, &q, rs); break;
	default: rc = api_search(db, param, ctx, &q, rs); break;
	}
	(void) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_progress_handler(db, 0, NULL, NULL);
	if (rc == 0 && wt_buf_full(&rs->body))
		error(rs, 503, "answer too large; choose a smaller limit");
	else if (rc == 0 && (download = param(ctx, "download")) != NULL
		 && strcmp(download, "1") == 0)
		rg_snprintf(rs->filename, sizeof(rs->filename),
			    "relayguard-%s.%s", names[i], q.csv ? "csv" : "json");
}
