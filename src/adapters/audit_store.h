/*
 * audit_store - read-only access to the audit trail, SQLite or PostgreSQL
 *
 * What relayguard-audit (and any other reader, such as a dashboard)
 * needs from an audit store, behind one struct of function pointers per
 * store: open it read-only and check its schema version, run a query
 * with bound parameters, walk the rows.  Queries are written once in the
 * SQL both stores speak (?N parameters; the PostgreSQL reader numbers
 * them $N), so the same command gives the same answer on either.
 * Values come back as text in one form for both: times as
 * 'YYYY-MM-DDTHH:MM:SS.mmmZ', integers in decimal, NULL as NULL.
 *
 * Read-only: the SQLite file is opened with SQLITE_OPEN_READONLY; a
 * PostgreSQL session is made read-only (default_transaction_read_only)
 * before its first query.  Every value is bound, never spliced.
 *
 * Rows stream (PostgreSQL's single-row mode): an export of millions of
 * rows needs memory for one.  Errors are reported through err as
 * "STORE: reason".
 */
#ifndef RG_AUDIT_STORE_H
#define RG_AUDIT_STORE_H

#include <stddef.h>
#include <stdint.h>

struct audit_store;
struct audit_cursor;

enum audit_param_kind { AUDIT_P_NULL, AUDIT_P_TEXT, AUDIT_P_INT };

struct audit_param {
	enum audit_param_kind kind;
	const char *text;
	int64_t num;
};

/* audit_store_open - name is an SQLite path or a postgresql:// URI;
 * password_file NULL for libpq's own files.  NULL + err. */
struct audit_store *audit_store_open(const char *name,
				     const char *password_file,
				     char *err, size_t errlen);

/* audit_store_version - the schema version; -1 + err */
int     audit_store_version(struct audit_store *st, char *err, size_t errlen);

/* audit_store_check - 0 when the store holds the current schema */
int     audit_store_check(struct audit_store *st, char *err, size_t errlen);

/* audit_store_kind - "sqlite" or "postgresql" */
const char *audit_store_kind(const struct audit_store *st);

/* audit_store_set_timeout - abandon each later query that runs longer
 * than ms (0: no limit), with an error; 0, or -1 + err */
int     audit_store_set_timeout(struct audit_store *st, unsigned ms,
				char *err, size_t errlen);

/* audit_store_query - run sql with params ?1..?n; NULL + err */
struct audit_cursor *audit_store_query(struct audit_store *st,
				       const char *sql,
				       const struct audit_param *params,
				       int nparams, char *err, size_t errlen);

/* audit_cursor_next - 1 a row, 0 the end, -1 + err */
int     audit_cursor_next(struct audit_cursor *c, char *err, size_t errlen);

/* Columns of the current row.  Text is valid until the next call. */
int     audit_cursor_columns(struct audit_cursor *c);
const char *audit_cursor_name(struct audit_cursor *c, int col);
const char *audit_cursor_text(struct audit_cursor *c, int col); /* NULL */
int64_t audit_cursor_int(struct audit_cursor *c, int col);
int     audit_cursor_is_int(struct audit_cursor *c, int col);

/* audit_cursor_close - returns NULL */
struct audit_cursor *audit_cursor_close(struct audit_cursor *c);

/* audit_store_close - returns NULL */
struct audit_store *audit_store_close(struct audit_store *st);

#endif
