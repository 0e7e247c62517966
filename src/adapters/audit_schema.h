/*
 * audit_schema - the audit database's schema, its versions and migrations
 *
 * Shared by the writer (audit_sqlite.c), which creates and migrates the
 * database, and relayguard-audit, which only checks it.  The version
 * lives in PRAGMA user_version: 0 means an empty file, 1 the first
 * schema, AUDIT_SCHEMA_VERSION the current one.  Every older version's
 * SQL stays here so that a migration can be tested from a real old
 * database; a newer version is refused, never written.
 */
#ifndef RG_AUDIT_SCHEMA_H
#define RG_AUDIT_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

#define AUDIT_SCHEMA_VERSION 5

/* Older schemas (versions 1 and 2), kept for migration tests. */
extern const char audit_schema_v1_sql[];
extern const char audit_schema_v2_sql[];

/* Version 2, kept for migration tests. */
extern const char audit_schema_v2_sql[];

/* The alerts table's INSERT: time, kind, account, limit_name, count,
 * max, window_seconds, action, session_id, queue_id, client_addr,
 * client_name, sender, rcpt. */
extern const char audit_alert_insert_sql[];

/* The schema before the alerts table (version 3), kept for migration
 * tests. */
extern const char audit_schema_v3_sql[];

/* The alerts table's INSERT: time, kind, account, limit_name, count,
 * max, window_seconds, action, session_id, queue_id, client_addr,
 * client_name, sender, rcpt, node. */
extern const char audit_alert_insert_sql[];

/* PostgreSQL from version 3 to 4 (the alerts table), for docs/audit.md */
extern const char audit_pg_migrate_3_4_sql[];

/* PostgreSQL from version 4 to 5 (alerts.row_key), for docs/audit.md */
extern const char audit_pg_migrate_4_5_sql[];

/* The current schema, as created in an empty database. */
extern const char audit_schema_sql[];

/* The current schema in PostgreSQL: the same columns, views and indexes
 * (timestamptz, inet), a row_key column, relayguard_schema(version). */
extern const char audit_pg_schema_sql[];

/* audit_schema_insert_sql - the INSERT the SQLite writer prepares: every
 * column of verdict.h's table, parameter N for the table's entry N-1,
 * then node as the last parameter */
const char *audit_schema_insert_sql(void);

/* audit_schema_columns - "time, session_id, ..., node": every column but
 * id (and PostgreSQL's row_key), in table order */
const char *audit_schema_columns(void);

/* audit_schema_version - PRAGMA user_version; -1 + err on error */
int     audit_schema_version(sqlite3 *db, const char *path,
			     char *err, size_t errlen);

/* audit_schema_prepare - create or migrate db to the current version;
 * rows older than the node column are given node.  0 ok; -1 + err:
 * newer schema, not an audit database, or an SQLite error.  *fatal is
 * set to 1 when retrying cannot help (newer schema, foreign database),
 * 0 for I/O errors that may clear up. */
int     audit_schema_prepare(sqlite3 *db, const char *path, const char *node,
			     int *fatal, char *err, size_t errlen);

/* audit_schema_check - for readers: 0 when db is a current audit
 * database; -1 + err otherwise (no verdicts table, wrong version). */
int     audit_schema_check(sqlite3 *db, const char *path,
			   char *err, size_t errlen);

#endif
