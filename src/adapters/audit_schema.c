/*
 * audit_schema - the audit database's schema, its versions and migrations
 *
 * See audit_schema.h.  The schema is documented column by column in
 * docs/audit.md; a test compares the two.  Migrations run in one
 * IMMEDIATE transaction, so a crash half-way leaves the old version.
 *
 * Version history:
 *   1  verdicts table, indexes, views relay_attempts, blank_sender,
 *      unknown_recipients, by_client, daily_summary.
 *   2  columns client_trust and sender_class; relay_attempts keeps only
 *      clients that are neither trusted nor authenticated and classifies
 *      the sender; new view relayed (privileged relaying).
 *   3  column node (the MX that judged the row) and its index; the views
 *      carry node, daily_summary counts per node.  The first version
 *      that also exists in PostgreSQL: both schemas come from the one
 *      column list (AUDIT_COLUMNS) and the one view text (VIEWS_V3),
 *      PostgreSQL with its own types (timestamptz, inet) and a row_key
 *      column that makes a replayed row a no-op.
 *   4  table alerts (a privileged sender over a relay limit, written by
 *      the alert thread) with node, and view alerts_by_account; in
 *      PostgreSQL too.
 *   5  column row_key of alerts, unique: with PostgreSQL an alert goes
 *      through the verdict writer and its spool, and a replayed alert
 *      is a no-op like a replayed verdict.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "util.h"
#include "verdict.h"
#include "audit_schema.h"

/* "RGrd": marks a file as a relayguard audit database. */
#define AUDIT_APPLICATION_ID 0x52477264

#define VERDICTS_V1_COLUMNS \
	"id INTEGER PRIMARY KEY,\n" \
	"	time TEXT NOT NULL,\n" \
	"	session_id TEXT,\n" \
	"	queue_id TEXT,\n" \
	"	mta TEXT,\n" \
	"	client_addr TEXT,\n" \
	"	client_name TEXT,\n" \
	"	helo TEXT,\n" \
	"	auth_user TEXT,\n" \
	"	stage TEXT,\n" \
	"	sender TEXT,\n" \
	"	rcpt TEXT,\n" \
	"	rcpt_normalized TEXT,\n" \
	"	rule TEXT,\n" \
	"	action TEXT,\n" \
	"	code INTEGER,\n" \
	"	ecode TEXT,\n" \
	"	text TEXT,\n" \
	"	directory_result TEXT,\n" \
	"	trace TEXT"

#define VERDICTS_INDEXES \
	"CREATE INDEX verdicts_time ON verdicts(time);\n" \
	"CREATE INDEX verdicts_client ON verdicts(client_addr);\n" \
	"CREATE INDEX verdicts_rule ON verdicts(rule);\n" \
	"CREATE INDEX verdicts_session ON verdicts(session_id);\n"

/* Views shared by both versions. */
#define VIEWS_COMMON_V1 \
	"CREATE VIEW daily_summary AS\n" \
	"	SELECT substr(time, 1, 10) AS day, rule, action, COUNT(*) AS count\n" \
	"	FROM verdicts GROUP BY day, rule, action;\n"

#define VIEWS_V1 \
	"CREATE VIEW relay_attempts AS\n" \
	"	SELECT id, time, session_id, queue_id, client_addr, client_name,\n" \
	"	helo, auth_user, sender,\n" \
	"	CASE WHEN sender IS NULL OR sender IN ('', '<>') THEN 'blank'\n" \
	"	ELSE 'unclassified' END AS sender_class,\n" \
	"	rcpt, rcpt_normalized, rule, action, code\n" \
	"	FROM verdicts WHERE stage = 'rcpt' AND rule IN ('relay', 'routing');\n" \
	"CREATE VIEW blank_sender AS\n" \
	"	SELECT id, time, session_id, queue_id, client_addr, client_name,\n" \
	"	helo, stage, rcpt, rcpt_normalized, rule, action, code\n" \
	"	FROM verdicts WHERE stage IN ('mail', 'rcpt')\n" \
	"	AND sender IN ('', '<>');\n" \
	"CREATE VIEW unknown_recipients AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	COUNT(*) AS attempts, MIN(time) AS first_seen, MAX(time) AS last_seen\n" \
	"	FROM verdicts WHERE stage = 'rcpt' AND rule = 'unknown'\n" \
	"	GROUP BY client_addr;\n" \
	"CREATE VIEW by_client AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	COUNT(*) AS verdicts,\n" \
	"	SUM(action IN ('reject', 'tempfail', 'drop')) AS refused\n" \
	"	FROM verdicts GROUP BY client_addr;\n" \
	VIEWS_COMMON_V1

#define VIEWS_V2 \
	"CREATE VIEW relay_attempts AS\n" \
	"	SELECT id, time, session_id, queue_id, client_addr, client_name,\n" \
	"	helo, auth_user, client_trust, sender,\n" \
	"	CASE WHEN sender IS NULL OR sender IN ('', '<>')\n" \
	"		OR sender_class = 'blank' THEN 'blank'\n" \
	"	WHEN sender_class = 'local' THEN 'local-domain'\n" \
	"	WHEN sender_class = 'foreign' THEN 'foreign'\n" \
	"	ELSE 'unknown' END AS sender_class,\n" \
	"	rcpt, rcpt_normalized, rule, action, code, ecode,\n" \
	"	CASE WHEN action IN ('reject', 'tempfail', 'drop') THEN 'refused'\n" \
	"	ELSE 'accepted' END AS outcome\n" \
	"	FROM verdicts WHERE stage = 'rcpt'\n" \
	"	AND rule IN ('relay', 'routing', 'trusted', 'authenticated')\n" \
	"	AND COALESCE(client_trust, 'untrusted')\n" \
	"		NOT IN ('trusted', 'authenticated');\n" \
	"CREATE VIEW relayed AS\n" \
	"	SELECT id, time, session_id, queue_id, client_addr, client_name,\n" \
	"	helo, auth_user, client_trust, sender, rcpt, rcpt_normalized,\n" \
	"	rule, action\n" \
	"	FROM verdicts WHERE stage = 'rcpt'\n" \
	"	AND rule IN ('trusted', 'authenticated');\n" \
	"CREATE VIEW blank_sender AS\n" \
	"	SELECT id, time,\n" \
	"	strftime('%Y-%m-%d %H:%M:%S', time, 'localtime') AS local_time,\n" \
	"	session_id, queue_id, client_addr, client_name, helo, client_trust,\n" \
	"	stage, rcpt, rcpt_normalized, rule, action, code\n" \
	"	FROM verdicts WHERE stage IN ('mail', 'rcpt')\n" \
	"	AND (sender IN ('', '<>') OR sender_class = 'blank');\n" \
	"CREATE VIEW unknown_recipients AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	COUNT(*) AS attempts,\n" \
	"	COUNT(DISTINCT COALESCE(rcpt_normalized, rcpt)) AS addresses,\n" \
	"	COUNT(DISTINCT session_id) AS sessions,\n" \
	"	SUM(rule = 'harvest') AS harvest_drops,\n" \
	"	MIN(time) AS first_seen, MAX(time) AS last_seen\n" \
	"	FROM verdicts WHERE stage = 'rcpt' AND rule IN ('unknown', 'harvest')\n" \
	"	GROUP BY client_addr;\n" \
	"CREATE VIEW by_client AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	MAX(client_trust) AS client_trust,\n" \
	"	COUNT(*) AS verdicts, COUNT(DISTINCT session_id) AS sessions,\n" \
	"	SUM(action = 'accept') AS accepted,\n" \
	"	SUM(action IN ('reject', 'tempfail', 'drop')) AS refused,\n" \
	"	SUM(action = 'would-reject') AS would_reject,\n" \
	"	MIN(time) AS first_seen, MAX(time) AS last_seen\n" \
	"	FROM verdicts GROUP BY client_addr;\n" \
	VIEWS_COMMON_V1

#define DROP_VIEWS_V1 \
	"DROP VIEW IF EXISTS relay_attempts;\n" \
	"DROP VIEW IF EXISTS blank_sender;\n" \
	"DROP VIEW IF EXISTS unknown_recipients;\n" \
	"DROP VIEW IF EXISTS by_client;\n" \
	"DROP VIEW IF EXISTS daily_summary;\n"

const char audit_schema_v1_sql[] =
	"PRAGMA application_id = 1380414052;\n"
	"CREATE TABLE verdicts (\n	" VERDICTS_V1_COLUMNS "\n);\n"
	VERDICTS_INDEXES
	VIEWS_V1
	"PRAGMA user_version = 1;\n";

/* Migration 1 -> 2: ALTER appends the columns, so a migrated table has
 * the same column order as a fresh one. */
static const char migrate_1_2_sql[] =
	"ALTER TABLE verdicts ADD COLUMN client_trust TEXT;\n"
	"ALTER TABLE verdicts ADD COLUMN sender_class TEXT;\n"
	DROP_VIEWS_V1
	VIEWS_V2
	"PRAGMA user_version = 2;\n";

/*
 * Version 4: one row per alert (accountlimit.h, alert.c), written by the
 * alert thread, not by the verdict writer.  ALERTS_V4(text type, integer
 * type, id column, the distinct limit names joined) for both dialects.
 */
#define ALERTS_V4(T, I, ID, AGG) \
	"CREATE TABLE alerts (\n" \
	"	id " ID ",\n" \
	"	time " T " NOT NULL,\n" \
	"	kind " T ",\n" \
	"	account " T ",\n" \
	"	limit_name " T ",\n" \
	"	count " I ",\n" \
	"	max " I ",\n" \
	"	window_seconds " I ",\n" \
	"	action " T ",\n" \
	"	session_id " T ",\n" \
	"	queue_id " T ",\n" \
	"	client_addr " T ",\n" \
	"	client_name " T ",\n" \
	"	sender " T ",\n" \
	"	rcpt " T ",\n" \
	"	node " T "\n);\n" \
	"CREATE INDEX alerts_time ON alerts(time);\n" \
	"CREATE INDEX alerts_account ON alerts(account);\n" \
	"CREATE VIEW alerts_by_account AS\n" \
	"	SELECT kind, account, COUNT(*) AS alerts,\n" \
	"	" AGG " AS limits,\n" \
	"	SUM(CASE WHEN action = 'tempfail' THEN 1 ELSE 0 END) AS deferring,\n" \
	"	COUNT(DISTINCT client_addr) AS client_addrs,\n" \
	"	MIN(time) AS first_alert, MAX(time) AS last_alert\n" \
	"	FROM alerts GROUP BY kind, account;\n"

/* Version 5: the alert's row key (audit_sink.h), in both dialects.  A
 * UNIQUE index, not a constraint: rows written before have none (NULL),
 * and the SQLite alert thread writes none. */
#define ALERTS_V5 \
	"ALTER TABLE alerts ADD COLUMN row_key TEXT;\n" \
	"CREATE UNIQUE INDEX alerts_row_key ON alerts(row_key);\n"

/*
 * Version 3, for both stores.  AUDIT_COLUMNS lists every column after
 * id in table order: X(name, SQLite type, PostgreSQL type).  The order
 * is that of a table migrated from version 1, so that fresh and migrated
 * tables look the same.
 */
#define AUDIT_COLUMNS(X) \
	X(time, "TEXT NOT NULL", "timestamptz NOT NULL") \
	X(session_id, "TEXT", "text") \
	X(queue_id, "TEXT", "text") \
	X(mta, "TEXT", "text") \
	X(client_addr, "TEXT", "inet") \
	X(client_name, "TEXT", "text") \
	X(helo, "TEXT", "text") \
	X(auth_user, "TEXT", "text") \
	X(stage, "TEXT", "text") \
	X(sender, "TEXT", "text") \
	X(rcpt, "TEXT", "text") \
	X(rcpt_normalized, "TEXT", "text") \
	X(rule, "TEXT", "text") \
	X(action, "TEXT", "text") \
	X(code, "INTEGER", "integer") \
	X(ecode, "TEXT", "text") \
	X(text, "TEXT", "text") \
	X(directory_result, "TEXT", "text") \
	X(trace, "TEXT", "text") \
	X(client_trust, "TEXT", "text") \
	X(sender_class, "TEXT", "text") \
	X(node, "TEXT", "text")

#define SQLITE_COLUMN(name, lite, pg)	",\n\t" #name " " lite
#define PG_COLUMN(name, lite, pg)	",\n\t" #name " " pg
#define COLUMN_NAME(name, lite, pg)	", " #name

/* The indexes the admins' queries use (docs/audit.md): time ranges, one
 * client, one rule or node over time, one session. */
#define VERDICTS_INDEXES_V3 \
	VERDICTS_INDEXES \
	"CREATE INDEX verdicts_node ON verdicts(node, time);\n"

/* The views, in both dialects: DAY(t) is the UTC day of t as
 * 'YYYY-MM-DD', LOCAL_TIME(t) t in the reader's time zone.  No boolean
 * arithmetic, every subquery named: the same text runs on both. */
#define VIEWS_V3(DAY, LOCAL_TIME) \
	"CREATE VIEW relay_attempts AS\n" \
	"	SELECT id, time, node, session_id, queue_id, client_addr,\n" \
	"	client_name, helo, auth_user, client_trust, sender,\n" \
	"	CASE WHEN sender IS NULL OR sender IN ('', '<>')\n" \
	"		OR sender_class = 'blank' THEN 'blank'\n" \
	"	WHEN sender_class = 'local' THEN 'local-domain'\n" \
	"	WHEN sender_class = 'foreign' THEN 'foreign'\n" \
	"	ELSE 'unknown' END AS sender_class,\n" \
	"	rcpt, rcpt_normalized, rule, action, code, ecode,\n" \
	"	CASE WHEN action IN ('reject', 'tempfail', 'drop') THEN 'refused'\n" \
	"	ELSE 'accepted' END AS outcome\n" \
	"	FROM verdicts WHERE stage = 'rcpt'\n" \
	"	AND rule IN ('relay', 'routing', 'trusted', 'authenticated')\n" \
	"	AND COALESCE(client_trust, 'untrusted')\n" \
	"		NOT IN ('trusted', 'authenticated');\n" \
	"CREATE VIEW relayed AS\n" \
	"	SELECT id, time, node, session_id, queue_id, client_addr,\n" \
	"	client_name, helo, auth_user, client_trust, sender, rcpt,\n" \
	"	rcpt_normalized, rule, action\n" \
	"	FROM verdicts WHERE stage = 'rcpt'\n" \
	"	AND rule IN ('trusted', 'authenticated');\n" \
	"CREATE VIEW blank_sender AS\n" \
	"	SELECT id, time, " LOCAL_TIME("time") " AS local_time,\n" \
	"	node, session_id, queue_id, client_addr, client_name, helo,\n" \
	"	client_trust, stage, rcpt, rcpt_normalized, rule, action, code\n" \
	"	FROM verdicts WHERE stage IN ('mail', 'rcpt')\n" \
	"	AND (sender IN ('', '<>') OR sender_class = 'blank');\n" \
	"CREATE VIEW unknown_recipients AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	COUNT(*) AS attempts,\n" \
	"	COUNT(DISTINCT COALESCE(rcpt_normalized, rcpt)) AS addresses,\n" \
	"	COUNT(DISTINCT session_id) AS sessions,\n" \
	"	SUM(CASE WHEN rule = 'harvest' THEN 1 ELSE 0 END) AS harvest_drops,\n" \
	"	MIN(time) AS first_seen, MAX(time) AS last_seen,\n" \
	"	COUNT(DISTINCT node) AS nodes\n" \
	"	FROM verdicts WHERE stage = 'rcpt' AND rule IN ('unknown', 'harvest')\n" \
	"	GROUP BY client_addr;\n" \
	"CREATE VIEW by_client AS\n" \
	"	SELECT client_addr, MAX(client_name) AS client_name,\n" \
	"	MAX(client_trust) AS client_trust,\n" \
	"	COUNT(*) AS verdicts, COUNT(DISTINCT session_id) AS sessions,\n" \
	"	SUM(CASE WHEN action = 'accept' THEN 1 ELSE 0 END) AS accepted,\n" \
	"	SUM(CASE WHEN action IN ('reject', 'tempfail', 'drop') THEN 1\n" \
	"		ELSE 0 END) AS refused,\n" \
	"	SUM(CASE WHEN action = 'would-reject' THEN 1 ELSE 0 END)\n" \
	"		AS would_reject,\n" \
	"	MIN(time) AS first_seen, MAX(time) AS last_seen,\n" \
	"	COUNT(DISTINCT node) AS nodes\n" \
	"	FROM verdicts GROUP BY client_addr;\n" \
	"CREATE VIEW daily_summary AS\n" \
	"	SELECT " DAY("time") " AS day, node, rule, action, COUNT(*) AS count\n" \
	"	FROM verdicts GROUP BY " DAY("time") ", node, rule, action;\n"

#define SQLITE_DAY(t)		"substr(" t ", 1, 10)"
#define SQLITE_LOCAL_TIME(t)	"strftime('%Y-%m-%d %H:%M:%S', " t ", 'localtime')"
#define PG_DAY(t)		"to_char(" t " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
#define PG_LOCAL_TIME(t)	"to_char(" t ", 'YYYY-MM-DD HH24:MI:SS')"

#define DROP_VIEWS_V2 \
	DROP_VIEWS_V1 \
	"DROP VIEW IF EXISTS relayed;\n"

const char audit_schema_v2_sql[] =
	"PRAGMA application_id = 1380414052;\n"
	"CREATE TABLE verdicts (\n	" VERDICTS_V1_COLUMNS ",\n"
	"	client_trust TEXT,\n"
	"	sender_class TEXT\n);\n"
	VERDICTS_INDEXES
	VIEWS_V2
	"PRAGMA user_version = 2;\n";

const char audit_schema_v3_sql[] =
	"PRAGMA application_id = 1380414052;\n"
	"CREATE TABLE verdicts (\n\tid INTEGER PRIMARY KEY"
	AUDIT_COLUMNS(SQLITE_COLUMN) "\n);\n"
	VERDICTS_INDEXES_V3
	VIEWS_V3(SQLITE_DAY, SQLITE_LOCAL_TIME)
	"PRAGMA user_version = 3;\n";

const char audit_schema_sql[] =
	"PRAGMA application_id = 1380414052;\n"
	"CREATE TABLE verdicts (\n\tid INTEGER PRIMARY KEY"
	AUDIT_COLUMNS(SQLITE_COLUMN) "\n);\n"
	VERDICTS_INDEXES_V3
	VIEWS_V3(SQLITE_DAY, SQLITE_LOCAL_TIME)
	ALERTS_V4("TEXT", "INTEGER", "INTEGER PRIMARY KEY",
		  "group_concat(DISTINCT limit_name)")
	ALERTS_V5
	"PRAGMA user_version = 5;\n";

/* Migration 2 -> 3: rows written before have no node; the writer names
 * them after itself in the same transaction (audit_schema_prepare). */
static const char migrate_2_3_sql[] =
	"ALTER TABLE verdicts ADD COLUMN node TEXT;\n"
	"CREATE INDEX verdicts_node ON verdicts(node, time);\n"
	DROP_VIEWS_V2
	VIEWS_V3(SQLITE_DAY, SQLITE_LOCAL_TIME)
	"PRAGMA user_version = 3;\n";

/* Migration 3 -> 4: new objects only. */
static const char migrate_3_4_sql[] =
	ALERTS_V4("TEXT", "INTEGER", "INTEGER PRIMARY KEY",
		  "group_concat(DISTINCT limit_name)")
	"PRAGMA user_version = 4;\n";

/* Migration 4 -> 5: one column, one index. */
static const char migrate_4_5_sql[] =
	ALERTS_V5
	"PRAGMA user_version = 5;\n";

/* PostgreSQL 3 -> 4, run by hand (docs/audit.md). */
const char audit_pg_migrate_3_4_sql[] =
	ALERTS_V4("text", "integer", "bigint GENERATED ALWAYS AS IDENTITY "
		  "PRIMARY KEY", "string_agg(DISTINCT limit_name, ',')")
	"INSERT INTO relayguard_schema (version) VALUES (4);\n";

/* PostgreSQL 4 -> 5, run by hand (docs/audit.md). */
const char audit_pg_migrate_4_5_sql[] =
	ALERTS_V5
	"INSERT INTO relayguard_schema (version) VALUES (5);\n";

/* PostgreSQL: the version lives in relayguard_schema; row_key is unique
 * so that a batch sent again after an unknown commit outcome adds
 * nothing (INSERT ... ON CONFLICT DO NOTHING). */
const char audit_pg_schema_sql[] =
	"CREATE TABLE relayguard_schema (version integer NOT NULL);\n"
	"INSERT INTO relayguard_schema (version) VALUES (5);\n"
	"CREATE TABLE verdicts (\n"
	"\tid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	AUDIT_COLUMNS(PG_COLUMN) ",\n"
	"\trow_key text NOT NULL UNIQUE\n);\n"
	VERDICTS_INDEXES_V3
	VIEWS_V3(PG_DAY, PG_LOCAL_TIME)
	ALERTS_V4("text", "integer", "bigint GENERATED ALWAYS AS IDENTITY "
		  "PRIMARY KEY", "string_agg(DISTINCT limit_name, ',')")
	ALERTS_V5;

/* ", time, session_id, ... node": the columns every store shares */
static const char column_list[] = AUDIT_COLUMNS(COLUMN_NAME);

/* audit_schema_columns - "time, session_id, ..., node", in table order */
const char *
audit_schema_columns(void)
{
	return column_list + 2;
}

const char audit_alert_insert_sql[] =
	"INSERT INTO alerts (time, kind, account, limit_name, count, max,"
	" window_seconds, action, session_id, queue_id, client_addr,"
	" client_name, sender, rcpt, node)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15)";

/* The INSERT, from verdict.h's column table: built once. */
static char insert_sql[1024];
static pthread_once_t insert_once = PTHREAD_ONCE_INIT;

/* build_insert - "INSERT INTO verdicts (c1, ..., node) VALUES (?1, ...)" */
static void
build_insert(void)
{
	size_t  i, len;
	char    params[VERDICT_NCOLUMNS * 6];

	len = (size_t) snprintf(insert_sql, sizeof(insert_sql),
				"INSERT INTO verdicts (");
	params[0] = '\0';
	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		len += (size_t) snprintf(insert_sql + len, sizeof(insert_sql) - len,
					 "%s%s", i ? ", " : "",
					 verdict_columns[i].name);
		snprintf(params + strlen(params), sizeof(params) - strlen(params),
			 "%s?%zu", i ? ", " : "", i + 1);
		if (len >= sizeof(insert_sql))
			rg_fatal("audit: the INSERT does not fit its buffer");
	}
	/* node: a column of the audit trail, not of the verdict */
	len += (size_t) snprintf(insert_sql + len, sizeof(insert_sql) - len,
				 ", node) VALUES (%s, ?%d)", params,
				 VERDICT_NCOLUMNS + 1);
	if (len >= sizeof(insert_sql))
		rg_fatal("audit: the INSERT does not fit its buffer");
}

/* audit_schema_insert_sql - the INSERT for one verdict_record */
const char *
audit_schema_insert_sql(void)
{
	pthread_once(&insert_once, build_insert);
	return insert_sql;
}

/* pragma_int - run a PRAGMA returning one integer; -1 on error */
static long long
pragma_int(sqlite3 *db, const char *sql, int *rc)
{
	sqlite3_stmt *st = NULL;
	long long value = -1;

	*rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (*rc == SQLITE_OK) {
		*rc = sqlite3_step(st);
		if (*rc == SQLITE_ROW) {
			value = sqlite3_column_int64(st, 0);
			*rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return value;
}

/* audit_schema_version - PRAGMA user_version; -1 + err on error */
int
audit_schema_version(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	long long v;
	int rc;

	v = pragma_int(db, "PRAGMA user_version", &rc);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_NOTADB)
			rg_snprintf(err, errlen, "%s: not a relayguard audit database "
				    "(not an SQLite file)", path);
		else
			rg_snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return (int) v;
}

/* object_count - how many tables/views/indexes db holds, or names one */
static long long
object_count(sqlite3 *db, const char *name, int *rc)
{
	sqlite3_stmt *st = NULL;
	long long n = -1;
	const char *sql = name ?
	"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1" :
	"SELECT COUNT(*) FROM sqlite_master";

	*rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (*rc == SQLITE_OK && name)
		*rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (*rc == SQLITE_OK) {
		*rc = sqlite3_step(st);
		if (*rc == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
			*rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return n;
}

/* identify - version of db, or -1 + err (*fatal) when it is not ours */
static int
identify(sqlite3 *db, const char *path, int *fatal, char *err, size_t errlen)
{
	long long app, objects, verdicts;
	int version, rc;

	*fatal = 0;
	if ((version = audit_schema_version(db, path, err, errlen)) < 0) {
		*fatal = (sqlite3_errcode(db) == SQLITE_NOTADB);
		return -1;
	}
	app = pragma_int(db, "PRAGMA application_id", &rc);
	if (rc == SQLITE_OK)
		objects = object_count(db, NULL, &rc);
	if (rc == SQLITE_OK)
		verdicts = object_count(db, "verdicts", &rc);
	if (rc != SQLITE_OK) {
		rg_snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if ((app != 0 && app != AUDIT_APPLICATION_ID)
	    || (version == 0 && objects > 0)
	    || (version > 0 && verdicts == 0)) {
		rg_snprintf(err, errlen, "%s: not a relayguard audit database", path);
		*fatal = 1;
		return -1;
	}
	return version;
}

/* run_in_transaction - exec sql inside BEGIN IMMEDIATE ... COMMIT */
static int
run_in_transaction(sqlite3 *db, const char *path, const char *what,
		   const char *sql, const char *node, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *msg = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	/* rows from before node existed were judged here */
	if (node != NULL) {
		if (sqlite3_prepare_v2(db, "UPDATE verdicts SET node = ?1 WHERE "
				       "node IS NULL", -1, &st, NULL) != SQLITE_OK
		    || sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC) != SQLITE_OK
		    || sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;

fail:
	rg_snprintf(err, errlen, "%s: %s: %s", path, what,
		    msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* audit_schema_prepare - create or migrate db to the current version */
int
audit_schema_prepare(sqlite3 *db, const char *path, const char *node,
		     int *fatal, char *err, size_t errlen)
{
	int version;

	if ((version = identify(db, path, fatal, err, errlen)) < 0)
		return -1;
	if (version > AUDIT_SCHEMA_VERSION) {
		rg_snprintf(err, errlen, "audit database %s has schema version %d, "
			    "newer than this relayguard (%d): refusing to write",
			    path, version, AUDIT_SCHEMA_VERSION);
		*fatal = 1;
		return -1;
	}
	if (version == 0)
		return run_in_transaction(db, path, "creating the schema",
					  audit_schema_sql, NULL, err, errlen);
	if (version == 1
	    && run_in_transaction(db, path, "migrating schema 1 to 2",
				  migrate_1_2_sql, NULL, err, errlen) < 0)
		return -1;
	if (version <= 2
	    && run_in_transaction(db, path, "migrating schema 2 to 3",
				  migrate_2_3_sql, node, err, errlen) < 0)
		return -1;
	if (version <= 3
	    && run_in_transaction(db, path, "migrating schema 3 to 4",
				  migrate_3_4_sql, NULL, err, errlen) < 0)
		return -1;
	if (version <= 4
	    && run_in_transaction(db, path, "migrating schema 4 to 5",
				  migrate_4_5_sql, NULL, err, errlen) < 0)
		return -1;
	return 0;
}

/* audit_schema_check - for readers: 0 when db is a current audit database */
int
audit_schema_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int version, fatal;

	if ((version = identify(db, path, &fatal, err, errlen)) < 0)
		return -1;
	if (version == 0) {
		rg_snprintf(err, errlen, "%s: not a relayguard audit database "
			    "(empty)", path);
		return -1;
	}
	if (version > AUDIT_SCHEMA_VERSION) {
		rg_snprintf(err, errlen, "%s: schema version %d is newer than this "
			    "relayguard-audit (%d): upgrade relayguard", path,
			    version, AUDIT_SCHEMA_VERSION);
		return -1;
	}
	if (version < AUDIT_SCHEMA_VERSION) {
		rg_snprintf(err, errlen, "%s: schema version %d is older than this "
			    "relayguard-audit (%d): start relayguard once to migrate it",
			    path, version, AUDIT_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}
