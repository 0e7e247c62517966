/*
 * audit_store_pgsql - the PostgreSQL reader behind audit_store.h
 *
 * The session is read-only (SET default_transaction_read_only) and in
 * UTC, so that timestamptz values come back as UTC and are rewritten
 * into the SQLite table's form, 'YYYY-MM-DDTHH:MM:SS.mmmZ'.  The shared
 * query text numbers its parameters ?N; they become $N here (outside
 * quoted literals).  Rows stream in single-row mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "util.h"
#include "audit_schema.h"
#include "audit_store_ops.h"
#include "pg_conn.h"

#define PG_INT8_OID		20
#define PG_INT2_OID		21
#define PG_INT4_OID		23
#define PG_TIMESTAMPTZ_OID	1184
#define PG_TIME_LEN		32

struct pg {
	PGconn *conn;
	char    where[256];
};

struct pg_cursor {
	struct pg *p;
	PGresult *row;			/* the current row (single-row mode) */
	int     done;
	char    time[PG_TIME_LEN];
};

/* pg_fail - "PostgreSQL where: message" */
static void
pg_fail(struct pg *p, const PGresult *res, char *err, size_t errlen)
{
	char    msg[400];

	pg_conn_message(res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn),
			msg, sizeof(msg));
	if (msg[0] == '\0')
		pg_conn_message(PQerrorMessage(p->conn), msg, sizeof(msg));
	rg_snprintf(err, errlen, "PostgreSQL %s: %s", p->where, msg);
}

/* pgr_open - connect; a read-only session in UTC */
static void *
pgr_open(const char *uri, const char *password_file, char *err, size_t errlen)
{
	struct pg *p;
	char   *password = NULL;
	PGresult *res;

	if (password_file != NULL
	    && (password = pg_conn_password(password_file, err, errlen)) == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	pg_conn_describe(uri, p->where, sizeof(p->where));
	p->conn = pg_conn_open(uri, password, "relayguard-audit", err, errlen);
	password = pg_conn_free_password(password);
	if (p->conn == NULL) {
		free(p);
		return NULL;
	}
	res = PQexec(p->conn, "SET default_transaction_read_only = on; "
		     "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_fail(p, res, err, errlen);
		PQclear(res);
		PQfinish(p->conn);
		free(p);
		return NULL;
	}
	PQclear(res);
	return p;
}

/* pgr_version - relayguard_schema's version */
static int
pgr_version(void *h, char *err, size_t errlen)
{
	struct pg *p = h;
	PGresult *res = PQexec(p->conn, "SELECT max(version) FROM relayguard_schema");
	int     v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
	    && !PQgetisnull(res, 0, 0))
		v = atoi(PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) == PGRES_TUPLES_OK)
		rg_snprintf(err, errlen, "PostgreSQL %s: relayguard_schema is empty",
			    p->where);
	else if (PQresultErrorField(res, PG_DIAG_SQLSTATE)
		 && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P01") == 0)
		rg_snprintf(err, errlen, "PostgreSQL %s: not a relayguard audit "
			    "database (no relayguard_schema table)", p->where);
	else
		pg_fail(p, res, err, errlen);
	PQclear(res);
	return v;
}

/* pgr_check - the current version */
static int
pgr_check(void *h, char *err, size_t errlen)
{
	struct pg *p = h;
	int     v = pgr_version(h, err, errlen);

	if (v < 0)
		return -1;
	if (v > AUDIT_SCHEMA_VERSION) {
		rg_snprintf(err, errlen, "PostgreSQL %s: schema version %d is newer "
			    "than this relayguard-audit (%d): upgrade relayguard",
			    p->where, v, AUDIT_SCHEMA_VERSION);
		return -1;
	}
	if (v < AUDIT_SCHEMA_VERSION) {
		rg_snprintf(err, errlen, "PostgreSQL %s: schema version %d is older "
			    "than this relayguard-audit (%d): migrate it "
			    "(docs/audit.md)", p->where, v, AUDIT_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* dollar_params - sql with ?N as $N, quoted literals untouched */
static char *
dollar_params(const char *sql)
{
	char   *out = xmalloc(strlen(sql) + 1), *q = out;
	int     quoted = 0;

	for (; *sql; sql++) {
		if (*sql == '\'')
			quoted = !quoted;
		*q++ = (!quoted && *sql == '?' && sql[1] >= '0' && sql[1] <= '9') ?
			'$' : *sql;
	}
	*q = '\0';
	return out;
}

/* pgr_query - send with parameters, rows one at a time */
static void *
pgr_query(void *h, const char *sql, const struct audit_param *prm, int n,
	  char *err, size_t errlen)
{
	struct pg *p = h;
	struct pg_cursor *c;
	const char **values = xcalloc((size_t) (n > 0 ? n : 1), sizeof(*values));
	char  (*nums)[24] = xcalloc((size_t) (n > 0 ? n : 1), sizeof(*nums));
	char   *text = dollar_params(sql);
	int     i, ok;

	for (i = 0; i < n; i++) {
		if (prm[i].kind == AUDIT_P_TEXT)
			values[i] = prm[i].text;
		else if (prm[i].kind == AUDIT_P_INT) {
			snprintf(nums[i], sizeof(nums[i]), "%lld",
				 (long long) prm[i].num);
			values[i] = nums[i];
		}
	}
	ok = PQsendQueryParams(p->conn, text, n, NULL, values, NULL, NULL, 0)
		&& PQsetSingleRowMode(p->conn);
	free(text);
	free(values);
	free(nums);
	if (!ok) {
		pg_fail(p, NULL, err, errlen);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->p = p;
	return c;
}

/* drain - read the results left, so that the connection is free again */
static void
drain(struct pg_cursor *c)
{
	PGresult *res;

	while ((res = PQgetResult(c->p->conn)) != NULL)
		PQclear(res);
	c->done = 1;
}

/* pgr_next - the next row */
static int
pgr_next(void *cur, char *err, size_t errlen)
{
	struct pg_cursor *c = cur;
	PGresult *res;
	ExecStatusType st;

	PQclear(c->row);
	c->row = NULL;
	if (c->done)
		return 0;
	res = PQgetResult(c->p->conn);
	st = PQresultStatus(res);
	if (st == PGRES_SINGLE_TUPLE) {
		c->row = res;
		return 1;
	}
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || res == NULL) {
		PQclear(res);
		drain(c);
		return 0;
	}
	pg_fail(c->p, res, err, errlen);
	PQclear(res);
	drain(c);
	return -1;
}

static int
pgr_columns(void *cur)
{
	struct pg_cursor *c = cur;

	return c->row ? PQnfields(c->row) : 0;
}

static const char *
pgr_name(void *cur, int col)
{
	struct pg_cursor *c = cur;

	return c->row ? PQfname(c->row, col) : "";
}

/* utc_time - "2026-11-20 08:00:00.12+00" as "2026-11-20T08:00:00.120Z" */
static const char *
utc_time(const char *s, char *buf, size_t size)
{
	int     ms = 0, i;
	const char *frac;

	if (strlen(s) < 19 || s[10] != ' ')
		return s;
	frac = s + 19;
	if (*frac == '.')
		for (frac++, i = 0; i < 3; i++)
			ms = ms * 10 + ((frac[0] >= '0' && frac[0] <= '9') ?
					(*frac++ - '0') : 0);
	rg_snprintf(buf, size, "%.10sT%.8s.%03dZ", s, s + 11, ms);
	return buf;
}

static const char *
pgr_text(void *cur, int col)
{
	struct pg_cursor *c = cur;

	if (c->row == NULL || PQgetisnull(c->row, 0, col))
		return NULL;
	if (PQftype(c->row, col) == PG_TIMESTAMPTZ_OID)
		return utc_time(PQgetvalue(c->row, 0, col), c->time, sizeof(c->time));
	return PQgetvalue(c->row, 0, col);
}

static int
pgr_is_int(void *cur, int col)
{
	struct pg_cursor *c = cur;
	Oid     t;

	if (c->row == NULL || PQgetisnull(c->row, 0, col))
		return 0;
	t = PQftype(c->row, col);
	return t == PG_INT8_OID || t == PG_INT4_OID || t == PG_INT2_OID;
}

/* pgr_timeout - the server's statement_timeout for this session */
static int
pgr_timeout(void *h, unsigned ms, char *err, size_t errlen)
{
	struct pg *p = h;
	char    sql[64];
	PGresult *res;
	int     rc = 0;

	rg_snprintf(sql, sizeof(sql), "SET statement_timeout = %u", ms);
	res = PQexec(p->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_fail(p, res, err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static void
pgr_close_cursor(void *cur)
{
	struct pg_cursor *c = cur;

	PQclear(c->row);
	if (!c->done)
		drain(c);
	free(c);
}

static void
pgr_close(void *h)
{
	struct pg *p = h;

	PQfinish(p->conn);
	free(p);
}

const struct audit_store_ops audit_store_pgsql = {
	.kind = "postgresql",
	.open = pgr_open,
	.version = pgr_version,
	.check = pgr_check,
	.query = pgr_query,
	.next = pgr_next,
	.columns = pgr_columns,
	.name = pgr_name,
	.text = pgr_text,
	.is_int = pgr_is_int,
	.close_cursor = pgr_close_cursor,
	.timeout = pgr_timeout,
	.close = pgr_close,
};
