/*
 * audit_pgsql - the verdict trail's PostgreSQL sink (audit_sink.h)
 *
 * A fleet's MX hosts write one database.  The writer thread hands this
 * sink batches; each goes to PostgreSQL in one transaction as multi-row
 * INSERTs from statements prepared once per connection (64, 32, ... 1
 * rows: any batch is a handful of executions), every value bound as a
 * parameter, never spliced into SQL.  Each row carries its row key, and
 * the INSERT says ON CONFLICT DO NOTHING (row_key is the only unique
 * column a row sets; naming it would need SELECT on it, and the writer
 * role may only INSERT): a batch sent again because a COMMIT's outcome
 * was never heard adds nothing.
 *
 * PostgreSQL away (down, unreachable, restarting, failing over, a full
 * disk, a revoked privilege, a missing table, a wrong password): under
 * audit_failure = spool (the default here) or tempfail the batch goes to
 * the local spool (audit_spool.h) and so does every batch after it, to
 * keep the order, while the sink tries to reconnect every
 * PG_RETRY_MS.  Once back, the spool is replayed oldest first, one chunk
 * per transaction, each chunk deleted from the spool only after its
 * commit; then rows go straight to PostgreSQL again.  Under
 * audit_failure = continue, rows go to the log instead (audit.c).
 *
 * One bad row never blocks the rows with it: a batch refused for its
 * data (an SQLSTATE of class 22 or 23, or 54) is sent again row by row,
 * each under a savepoint, and a row PostgreSQL refuses on its own goes
 * to the log.  The row is verdict.h's record, as SQLite gets it, plus
 * node and row key.  Client text that is not valid UTF-8 (which a UTF8
 * database refuses) goes through text.h's human escaper (\xNN, which
 * text_unescape() reads back); valid text is stored as it is.  A client
 * address that is not an IP address ("unknown") is stored as NULL.
 *
 * An alert row (audit_sink.h) goes to the alerts table in the same
 * transaction as the verdicts around it, one execution each, its JSON
 * bound as one parameter that PostgreSQL takes apart (json ->> field),
 * with node and row key: a replayed alert is a no-op too.
 *
 * The mail path never waits for PostgreSQL: only the writer thread
 * talks to it, with connect_timeout and statement_timeout bounding each
 * attempt, and a slow or dead server means rows go to the spool.
 *
 * The password comes from audit_password_file or from libpq's own
 * pgpass/service files; log lines name the database as user@host/db,
 * never with the URI's password or options.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "util.h"
#include "config.h"
#include "audit_sink.h"
#include "audit_schema.h"
#include "audit_spool.h"
#include "text.h"
#include "verdict.h"
#include "pg_conn.h"

#define PG_RETRY_MS		2000	/* reconnect to an absent server */
#define PG_STATEMENT_TIMEOUT	"SET statement_timeout = 15000"
#define PG_REMIND_MS		60000	/* "still away, N in the spool" */
#define PG_PARAMS_PER_ROW	(VERDICT_NCOLUMNS + 2)	/* the record, node, key */
#define PG_CHUNK_MAX		64	/* rows of the largest prepared INSERT */
#define PG_CHUNK_SIZES		7	/* 64, 32, 16, 8, 4, 2, 1 */
#define PG_REPLAY_ROWS		4096	/* spooled rows per transaction */

enum pg_outcome { PG_OK, PG_DATA_ERROR, PG_STORE_ERROR };

struct audit_sink {
	struct audit *audit;
	char   *uri;
	char   *password;		/* NULL: libpq's pgpass/service files */
	char    where[256];		/* user@host:port/db for log lines */
	enum rg_auditfail_mode mode;
	int     spooling;		/* new rows go to the spool when away
					 * (audit_failure = spool, tempfail) */
	struct audit_spool *spool;	/* NULL under audit_failure = continue,
					 * unless an earlier run left rows */

	PGconn *conn;			/* NULL while away */
	int64_t retry_at;		/* monotonic ms */
	int64_t remind_at;
	int64_t away_since;		/* wall ms; 0 while up */
	uint64_t spooled_away;		/* rows spooled since it went away */
	uint64_t replayed_back;		/* rows replayed since it came back */
	char    last_error[512];
};

/* chunk_rows - the prepared statement sizes, largest first */
static size_t
chunk_rows(int i)
{
	return (size_t) PG_CHUNK_MAX >> i;
}

/* The alerts INSERT: the columns of the SQLite writer (alert.c), from
 * alert_json()'s fields; $1 the JSON, $2 node, $3 row key. */
static const char pg_alert_insert_sql[] =
	"INSERT INTO alerts (time, kind, account, limit_name, count, max,"
	" window_seconds, action, session_id, queue_id, client_addr,"
	" client_name, sender, rcpt, node, row_key)"
	" SELECT j->>'time', j->>'kind', j->>'account', j->>'limit',"
	" (j->>'count')::integer, (j->>'max')::integer,"
	" (j->>'window_seconds')::integer, j->>'action', j->>'session_id',"
	" j->>'queue_id', j->>'client_addr', j->>'client_name', j->>'sender',"
	" j->>'rcpt', $2, $3 FROM (SELECT $1::json AS j) AS a"
	" ON CONFLICT DO NOTHING";

/* prepare_inserts - one INSERT per chunk size; 0 or -1 + err */
static int
prepare_inserts(struct audit_sink *a, char *err, size_t errlen)
{
	size_t  cap = 1024 + (size_t) PG_CHUNK_MAX * PG_PARAMS_PER_ROW * 8;
	char   *sql = xmalloc(cap), name[16];
	size_t  len, r, rows;
	int     i, p, n = 0;
	PGresult *res;

	for (i = 0; i < PG_CHUNK_SIZES; i++) {
		rows = chunk_rows(i);
		len = (size_t) snprintf(sql, cap, "INSERT INTO verdicts (");
		for (p = 0; p < (int) VERDICT_NCOLUMNS; p++)
			len += (size_t) snprintf(sql + len, cap - len, "%s, ",
						 verdict_columns[p].name);
		len += (size_t) snprintf(sql + len, cap - len, "node, row_key) "
					 "VALUES ");
		for (r = 0, n = 0; r < rows; r++) {
			len += (size_t) snprintf(sql + len, cap - len, "%s(", r ? "," : "");
			for (p = 0; p < PG_PARAMS_PER_ROW; p++)
				len += (size_t) snprintf(sql + len, cap - len, "%s$%d",
							 p ? "," : "", ++n);
			len += (size_t) snprintf(sql + len, cap - len, ")");
		}
		snprintf(sql + len, cap - len, " ON CONFLICT DO NOTHING");
		rg_snprintf(name, sizeof(name), "rg_insert_%zu", rows);
		res = PQprepare(a->conn, name, sql, n, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			char    msg[400];

			pg_conn_message(PQresultErrorMessage(res), msg, sizeof(msg));
			rg_snprintf(err, errlen, "PostgreSQL %s: preparing the INSERT: "
				    "%s", a->where, msg);
			PQclear(res);
			free(sql);
			return -1;
		}
		PQclear(res);
	}
	free(sql);
	res = PQprepare(a->conn, "rg_insert_alert", pg_alert_insert_sql, 3,
			NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char    msg[400];

		pg_conn_message(PQresultErrorMessage(res), msg, sizeof(msg));
		rg_snprintf(err, errlen, "PostgreSQL %s: preparing the alerts "
			    "INSERT: %s", a->where, msg);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* exec_simple - run sql; 0 or -1 + err (with SQLSTATE into state) */
static int
exec_simple(struct audit_sink *a, const char *sql, char state[6],
	    char *err, size_t errlen)
{
	PGresult *res = PQexec(a->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	const char *code;
	char    msg[400];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state)
		rg_strlcpy(state, code ? code : "", 6);
	pg_conn_message(res ? PQresultErrorMessage(res) : PQerrorMessage(a->conn), msg,
		 sizeof(msg));
	if (err != NULL && errlen > 0)
		rg_snprintf(err, errlen, "PostgreSQL %s: %s", a->where, msg);
	PQclear(res);
	return -1;
}

/* check_schema - the tables exist at our version, or are created now
 * (when this role may); 0 or -1 + err */
static int
check_schema(struct audit_sink *a, char *err, size_t errlen)
{
	PGresult *res;
	char    state[6] = "", why[400];
	int     version;

	res = PQexec(a->conn, "SELECT max(version) FROM relayguard_schema");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
	    && !PQgetisnull(res, 0, 0)) {
		version = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (version == AUDIT_SCHEMA_VERSION)
			return 0;
		rg_snprintf(err, errlen, "PostgreSQL %s: schema version %d, this "
			    "relayguard writes version %d: %s", a->where, version,
			    AUDIT_SCHEMA_VERSION, version > AUDIT_SCHEMA_VERSION ?
			    "upgrade relayguard" : "migrate the database "
			    "(docs/audit.md)");
		return -1;
	}
	rg_strlcpy(state, PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
		   PQresultErrorField(res, PG_DIAG_SQLSTATE) : "", sizeof(state));
	pg_conn_message(PQresultErrorMessage(res), why, sizeof(why));
	PQclear(res);
	if (strcmp(state, "42P01") != 0) {
		rg_snprintf(err, errlen, "PostgreSQL %s: reading the schema "
			    "version: %s", a->where, why);
		return -1;
	}
	/* an empty database: create the schema if this role owns it */
	if (exec_simple(a, "BEGIN", NULL, err, errlen) < 0)
		return -1;
	if (exec_simple(a, audit_pg_schema_sql, state, why, sizeof(why)) < 0
	    || exec_simple(a, "COMMIT", state, why, sizeof(why)) < 0) {
		exec_simple(a, "ROLLBACK", NULL, err, errlen);
		rg_snprintf(err, errlen, "PostgreSQL %s: table relayguard_schema "
			    "missing, and creating the schema failed (%s): create "
			    "it as the database owner (relayguard-audit schema "
			    "--sql | psql, docs/audit.md)", a->where, why);
		return -1;
	}
	audit_log(LOG_NOTICE, "audit: PostgreSQL %s: created the schema "
		  "(version %d)", a->where, AUDIT_SCHEMA_VERSION);
	return 0;
}

/* pg_disconnect - let go of the connection */
static void
pg_disconnect(struct audit_sink *a)
{
	if (a->conn)
		PQfinish(a->conn);
	a->conn = NULL;
}

/* pg_connect - connect, check the schema, prepare; 0 or -1 + err */
static int
pg_connect(struct audit_sink *a, char *err, size_t errlen)
{
	pg_disconnect(a);
	if ((a->conn = pg_conn_open(a->uri, a->password, "relayguard", err,
				    errlen)) == NULL)
		return -1;
	if (exec_simple(a, PG_STATEMENT_TIMEOUT, NULL, err, errlen) < 0
	    || check_schema(a, err, errlen) < 0
	    || prepare_inserts(a, err, errlen) < 0) {
		pg_disconnect(a);
		return -1;
	}
	return 0;
}

/* pg_text - s as PostgreSQL text: valid UTF-8 as it is (NULL is
 * returned: use s), otherwise a malloc'd copy through text.h's human
 * escaper (invalid bytes and control bytes as \xNN, '\' as "\\"),
 * which text_unescape() reads back */
static char *
pg_text(const char *s)
{
	struct text_buf tb;
	struct text_out o;
	size_t  n = strlen(s), size = n * 4 + 1;
	char   *out;

	if (text_utf8_check(s, n) >= 0)
		return NULL;
	out = xmalloc(size);
	text_buf_init(&tb, out, size);
	o = text_out_buf(&tb);
	text_human(&o, s, n);
	return out;
}

/* is_ip - an address inet accepts */
static int
is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Parameter storage for one chunk: values point into rows, the text
 * of times and numbers, or the copies made for invalid UTF-8 (freed
 * after the execution). */
struct pg_params {
	const char *values[PG_CHUNK_MAX * PG_PARAMS_PER_ROW];
	char    nums[PG_CHUNK_MAX * VERDICT_NCOLUMNS][32];
	char   *copies[PG_CHUNK_MAX * PG_PARAMS_PER_ROW];
	size_t  ncopies;
};

/* bind_rows - the parameters of rows[0..n), in the INSERT's order */
static void
bind_rows(struct pg_params *pp, struct audit_qrow **rows, size_t n)
{
	size_t  r, i;

	pp->ncopies = 0;
	for (r = 0; r < n; r++) {
		const struct audit_qrow *q = rows[r];
		const char **v = pp->values + r * PG_PARAMS_PER_ROW;

		for (i = 0; i < VERDICT_NCOLUMNS; i++) {
			const struct verdict_column *col = &verdict_columns[i];
			char   *num = pp->nums[r * VERDICT_NCOLUMNS + i], *copy;
			const char *t = q->v[i].text;

			if (col->kind == VERDICT_KIND_TIME) {
				v[i] = rg_format_utc_ms(q->v[i].num, num, 32);
				continue;
			}
			if (col->kind == VERDICT_KIND_INT) {
				snprintf(num, 32, "%" PRId64, q->v[i].num);
				v[i] = num;
				continue;
			}
			if (t != NULL && i == VERDICT_COL_client_addr && !is_ip(t))
				t = NULL;	/* inet: "unknown" is no address */
			if (t != NULL && (copy = pg_text(t)) != NULL) {
				pp->copies[pp->ncopies++] = copy;
				t = copy;
			}
			v[i] = t;
		}
		v[VERDICT_NCOLUMNS] = q->node;
		v[VERDICT_NCOLUMNS + 1] = q->row_key;
	}
}

/* free_params - the copies */
static void
free_params(struct pg_params *pp)
{
	while (pp->ncopies > 0)
		free(pp->copies[--pp->ncopies]);
}

/* classify - what a failed result means: the data of a row, or the
 * store (connection, privileges, schema, disk) */
static enum pg_outcome
classify(struct audit_sink *a, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(a->conn) != CONNECTION_OK || state == NULL)
		return PG_STORE_ERROR;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0
	    || strncmp(state, "54", 2) == 0)
		return PG_DATA_ERROR;
	return PG_STORE_ERROR;
}

/* exec_chunk - one prepared INSERT of n verdict rows (n a chunk size),
 * or of one alert row */
static enum pg_outcome
exec_chunk(struct audit_sink *a, struct pg_params *pp,
	   struct audit_qrow **rows, size_t n, char *err, size_t errlen)
{
	char    name[24], msg[400];
	PGresult *res;
	enum pg_outcome r = PG_OK;

	if (n == 1 && rows[0]->alert != NULL) {
		const char *values[3] = {rows[0]->alert, rows[0]->node,
		rows[0]->row_key};

		res = PQexecPrepared(a->conn, "rg_insert_alert", 3, values, NULL,
				     NULL, 0);
	} else {
		bind_rows(pp, rows, n);
		rg_snprintf(name, sizeof(name), "rg_insert_%zu", n);
		res = PQexecPrepared(a->conn, name, (int) (n * PG_PARAMS_PER_ROW),
				     pp->values, NULL, NULL, 0);
		free_params(pp);
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = classify(a, res);
		pg_conn_message(res ? PQresultErrorMessage(res) : PQerrorMessage(a->conn),
			 msg, sizeof(msg));
		rg_snprintf(err, errlen, "PostgreSQL %s: %s", a->where, msg);
	}
	PQclear(res);
	return r;
}

/* insert_verdicts - verdict rows in chunks inside the open transaction */
static enum pg_outcome
insert_verdicts(struct audit_sink *a, struct pg_params *pp,
		struct audit_qrow **rows, size_t n, char *err, size_t errlen)
{
	size_t  done = 0, size;
	enum pg_outcome r;
	int     i;

	for (i = 0; i < PG_CHUNK_SIZES && done < n; ) {
		size = chunk_rows(i);
		if (n - done < size) {
			i++;
			continue;
		}
		if ((r = exec_chunk(a, pp, rows + done, size, err, errlen)) != PG_OK)
			return r;
		done += size;
	}
	return PG_OK;
}

/* insert_all - runs of verdict rows in chunks, each alert row on its
 * own, inside the open transaction */
static enum pg_outcome
insert_all(struct audit_sink *a, struct pg_params *pp,
	   struct audit_qrow **rows, size_t n, char *err, size_t errlen)
{
	size_t  done = 0, run;
	enum pg_outcome r;

	while (done < n) {
		if (rows[done]->alert != NULL) {
			if ((r = exec_chunk(a, pp, rows + done, 1, err, errlen)) != PG_OK)
				return r;
			done++;
			continue;
		}
		for (run = 1; done + run < n && rows[done + run]->alert == NULL; run++)
			continue;
		if ((r = insert_verdicts(a, pp, rows + done, run, err, errlen)) != PG_OK)
			return r;
		done += run;
	}
	return PG_OK;
}

/* insert_one_by_one - under savepoints: a row refused for its data goes
 * to the log, the others are committed */
static enum pg_outcome
insert_one_by_one(struct audit_sink *a, struct pg_params *pp,
		  struct audit_qrow **rows, size_t n, char *err, size_t errlen)
{
	char    why[512];
	size_t  i, refused = 0;
	enum pg_outcome r;

	if (exec_simple(a, "BEGIN", NULL, err, errlen) < 0)
		return PG_STORE_ERROR;
	for (i = 0; i < n; i++) {
		if (exec_simple(a, "SAVEPOINT rg_row", NULL, err, errlen) < 0)
			return PG_STORE_ERROR;
		r = exec_chunk(a, pp, rows + i, 1, why, sizeof(why));
		if (r == PG_STORE_ERROR) {
			rg_strlcpy(err, why, errlen);
			return PG_STORE_ERROR;
		}
		if (r == PG_DATA_ERROR) {
			if (exec_simple(a, "ROLLBACK TO SAVEPOINT rg_row", NULL, err,
					errlen) < 0)
				return PG_STORE_ERROR;
			audit_log(LOG_ERR, "audit: %s: refused one row; it follows "
				  "as a diverted line", why);
			audit_divert_row(rows[i]);
			refused++;
			free(rows[i]);	/* recorded: in the log */
			rows[i] = NULL;
		}
	}
	if (exec_simple(a, "COMMIT", NULL, err, errlen) < 0)
		return PG_STORE_ERROR;
	audit_count_diverted(a->audit, refused);
	return PG_OK;
}

/* pg_insert - rows in one transaction; a data error falls back to one
 * row at a time.  Rows the server refused on their own are set to NULL
 * (they went to the log). */
static enum pg_outcome
pg_insert(struct audit_sink *a, struct audit_qrow **rows, size_t n,
	  char *err, size_t errlen)
{
	struct pg_params *pp;
	enum pg_outcome r;

	if (a->conn == NULL) {
		rg_snprintf(err, errlen, "%s", a->last_error[0] ? a->last_error :
			    "not connected");
		return PG_STORE_ERROR;
	}
	pp = xmalloc(sizeof(*pp));
	pp->ncopies = 0;
	r = exec_simple(a, "BEGIN", NULL, err, errlen) < 0 ? PG_STORE_ERROR :
		insert_all(a, pp, rows, n, err, errlen);
	/* a COMMIT that fails on a live connection: a deferred constraint;
	 * on a dead one the outcome is unknown, and the row keys make the
	 * rows safe to send again */
	if (r == PG_OK && exec_simple(a, "COMMIT", NULL, err, errlen) < 0)
		r = PQstatus(a->conn) == CONNECTION_OK ? PG_DATA_ERROR :
			PG_STORE_ERROR;
	if (r != PG_OK && PQstatus(a->conn) == CONNECTION_OK)
		exec_simple(a, "ROLLBACK", NULL, NULL, 0);
	if (r == PG_DATA_ERROR) {
		r = insert_one_by_one(a, pp, rows, n, err, errlen);
		if (r != PG_OK && PQstatus(a->conn) == CONNECTION_OK)
			exec_simple(a, "ROLLBACK", NULL, NULL, 0);
	}
	free(pp);
	return r;
}

/* went_away - PostgreSQL failed: log once, spool from now on; n rows
 * of the failed batch are about to join the spool */
static void
went_away(struct audit_sink *a, const char *why, size_t n)
{
	pg_disconnect(a);
	rg_strlcpy(a->last_error, why, sizeof(a->last_error));
	a->retry_at = rg_mono_ms() + PG_RETRY_MS;
	if (!a->spooling || a->away_since != 0)
		return;
	a->away_since = rg_wall_ms();
	a->spooled_away = 0;
	a->remind_at = rg_mono_ms() + PG_REMIND_MS;
	audit_set_degraded(a->audit, 1);
	audit_log(LOG_ERR, "audit: %s; keeping verdicts in the spool %s until "
		  "PostgreSQL is back (audit_failure = %s; %" PRId64 " in the "
		  "spool)", why, audit_spool_path(a->spool),
		  a->mode == RG_AUDITFAIL_TEMPFAIL ? "tempfail: mail is "
		  "deferred meanwhile" : "spool",
		  audit_spool_depth(a->spool) + (int64_t) n);
}

/* pg_write - straight to PostgreSQL, or to the spool (see the top) */
static int
pg_write(struct audit_sink *a, struct audit_qrow **rows, size_t n,
	 size_t *spooled, char *err, size_t errlen)
{
	char    why[512];

	*spooled = 0;
	if (!a->spooling) {		/* audit_failure = continue */
		if (a->conn == NULL && pg_connect(a, err, errlen) < 0)
			return -1;
		if (pg_insert(a, rows, n, err, errlen) == PG_OK)
			return 0;
		pg_disconnect(a);
		return -1;
	}
	if (a->conn != NULL && audit_spool_depth(a->spool) == 0) {
		if (pg_insert(a, rows, n, why, sizeof(why)) == PG_OK)
			return 0;
		went_away(a, why, n);
	}
	/* rows refused on their own are in the log already: spool the rest */
	{
		size_t  i, k = 0;

		for (i = 0; i < n; i++)
			if (rows[i] != NULL)
				rows[k++] = rows[i];
		if (audit_spool_append(a->spool, rows, k, err, errlen) < 0)
			return -1;
		*spooled = k;
		a->spooled_away += k;
		for (i = k; i < n; i++)
			rows[i] = NULL;
	}
	return 0;
}

/* replay - one chunk of the spool into PostgreSQL */
static void
replay(struct audit_sink *a)
{
	struct audit_qrow **rows = xcalloc(PG_REPLAY_ROWS, sizeof(*rows));
	char    err[512];
	int64_t last = 0;
	long    n, i;

	n = audit_spool_peek(a->spool, rows, PG_REPLAY_ROWS, &last, err,
			     sizeof(err));
	if (n < 0) {
		audit_log(LOG_ERR, "audit: %s", err);
		a->retry_at = rg_mono_ms() + PG_RETRY_MS;
	} else if (n > 0) {
		if (pg_insert(a, rows, (size_t) n, err, sizeof(err)) != PG_OK) {
			went_away(a, err, 0);
		} else if (audit_spool_drop(a->spool, last, err, sizeof(err)) < 0) {
			/* sent again later: the row keys make that a no-op */
			audit_log(LOG_ERR, "audit: %s", err);
		} else {
			uint64_t sent = 0;

			for (i = 0; i < n; i++)	/* NULL: refused, in the log */
				sent += rows[i] != NULL;
			audit_count_replayed(a->audit, sent);
			a->replayed_back += sent;
		}
	}
	for (i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
	if (a->conn != NULL && audit_spool_depth(a->spool) == 0) {
		audit_log(LOG_NOTICE, "audit: PostgreSQL %s: spool empty, %" PRIu64
			  " verdicts replayed; writing directly again", a->where,
			  a->replayed_back);
		a->replayed_back = 0;
		audit_set_degraded(a->audit, 0);
	}
}

/* pg_maintain - reconnect, replay, remind */
static void
pg_maintain(struct audit_sink *a)
{
	char    err[512];
	int64_t now = rg_mono_ms();

	if (a->spool == NULL)
		return;
	if (a->conn == NULL && now >= a->retry_at) {
		if (pg_connect(a, err, sizeof(err)) < 0) {
			a->retry_at = now + PG_RETRY_MS;
			if (strcmp(err, a->last_error) != 0) {
				audit_log(LOG_ERR, "audit: still spooling: %s", err);
				rg_strlcpy(a->last_error, err, sizeof(a->last_error));
			}
		} else {
			audit_log(LOG_NOTICE, "audit: PostgreSQL %s is back after "
				  "%" PRId64 " s: %" PRIu64 " verdicts spooled meanwhile; "
				  "replaying the %" PRId64 " in the spool", a->where,
				  a->away_since ? (rg_wall_ms() - a->away_since) / 1000 : 0,
				  a->spooled_away, audit_spool_depth(a->spool));
			a->away_since = 0;
			a->last_error[0] = '\0';
		}
	}
	if (a->conn != NULL && audit_spool_depth(a->spool) > 0)
		replay(a);
	else if (a->conn == NULL && now >= a->remind_at) {
		audit_log(LOG_WARNING, "audit: PostgreSQL %s still unavailable: "
			  "%" PRId64 " verdicts in the spool %s", a->where,
			  audit_spool_depth(a->spool), audit_spool_path(a->spool));
		a->remind_at = now + PG_REMIND_MS;
	}
}

/* pg_next_wake - replay at once; reconnect or remind on time */
static int64_t
pg_next_wake(struct audit_sink *a)
{
	if (a->spool == NULL)
		return INT64_MAX;
	if (a->conn != NULL)
		return audit_spool_depth(a->spool) > 0 ? 0 : INT64_MAX;
	return a->retry_at < a->remind_at ? a->retry_at : a->remind_at;
}

/* pg_recover - after a write failed: PostgreSQL back, or (spooling)
 * the spool writable again */
static int
pg_recover(struct audit_sink *a, char *err, size_t errlen)
{
	if (pg_connect(a, err, errlen) == 0)
		return 0;
	if (a->spooling) {
		rg_strlcpy(a->last_error, err, sizeof(a->last_error));
		return audit_spool_append(a->spool, NULL, 0, err, errlen);
	}
	return -1;
}

/* pg_stats - the spool's depth */
static void
pg_stats(struct audit_sink *a, char *buf, size_t size)
{
	if (a->spool == NULL)
		rg_snprintf(buf, size, " store=postgresql");
	else
		rg_snprintf(buf, size, " store=postgresql spool=%" PRId64,
			    audit_spool_depth(a->spool));
}

/* pg_spool_depth - rows waiting in the spool */
static int64_t
pg_spool_depth(struct audit_sink *a)
{
	return audit_spool_depth(a->spool);
}

/* pg_close - disconnect, close the spool */
static void
pg_close(struct audit_sink *a)
{
	pg_disconnect(a);
	a->spool = audit_spool_close(a->spool);
	a->password = pg_conn_free_password(a->password);
	free(a->uri);
	free(a);
}

/* pg_open - password, spool, first connection */
static struct audit_sink *
pg_open(const struct rg_config *cfg, struct audit *audit, int *usable,
	char *err, size_t errlen)
{
	struct audit_sink *a = xcalloc(1, sizeof(*a));

	a->audit = audit;
	a->uri = xstrdup(cfg->audit_db);
	a->mode = cfg->audit_failure;
	pg_conn_describe(a->uri, a->where, sizeof(a->where));
	if (cfg->audit_password_file != NULL
	    && (a->password = pg_conn_password(cfg->audit_password_file, err,
					       errlen)) == NULL)
		goto fatal;
	a->spooling = (a->mode != RG_AUDITFAIL_CONTINUE);
	if (a->spooling
	    && (a->spool = audit_spool_open(cfg->audit_spool, err, errlen)) == NULL)
		goto fatal;
	if (!a->spooling && access(cfg->audit_spool, F_OK) == 0) {
		/* rows an earlier run kept (audit_failure was spool): they are
		 * sent as before, though new rows no longer go there */
		if ((a->spool = audit_spool_open(cfg->audit_spool, err,
						 errlen)) == NULL)
			audit_log(LOG_ERR, "audit: %s: the rows in it cannot be sent",
				  err);
		else if (audit_spool_depth(a->spool) == 0)
			a->spool = audit_spool_close(a->spool);
	}
	*usable = 1;
	if (pg_connect(a, err, errlen) < 0) {
		if (!a->spooling)
			*usable = 0;
		else
			went_away(a, err, 0);
	} else if (a->spool != NULL && audit_spool_depth(a->spool) > 0) {
		audit_log(LOG_NOTICE, "audit: PostgreSQL %s: replaying the %" PRId64
			  " verdicts left in the spool %s", a->where,
			  audit_spool_depth(a->spool), audit_spool_path(a->spool));
		audit_set_degraded(a->audit, 1);
	}
	return a;

fatal:
	pg_close(a);
	return NULL;
}

const struct audit_sink_ops audit_sink_pgsql = {
	.kind = "PostgreSQL",
	.open = pg_open,
	.write = pg_write,
	.recover = pg_recover,
	.maintain = pg_maintain,
	.next_wake = pg_next_wake,
	.spool_depth = pg_spool_depth,
	.stats = pg_stats,
	.close = pg_close,
};
