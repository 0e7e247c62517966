/*
 * audit_spool - rows kept on local disk while the audit store is away
 *
 * See audit_spool.h.  One table, one row per verdict: a column per
 * column of verdict.h's table (times and numbers as integers, text as
 * BLOBs: bytes kept exactly, not reinterpreted as UTF-8; NULL for an
 * absent value), then node and row key.  Every value is bound.  The
 * spool is this host's own file, read back by the same program: should
 * verdict.h's table change, a spool written before is still read by
 * position (new columns come back NULL).  An alert row (audit_sink.h)
 * keeps its JSON in the last column, alert, which a spool created
 * before alerts took this path gains when it is opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "util.h"
#include "audit_sink.h"
#include "verdict.h"
#include "audit_spool.h"

#define SPOOL_BUSY_MS	5000
#define SPOOL_SQL_MAX	1024

struct audit_spool {
	char   *path;
	sqlite3 *db;
	sqlite3_stmt *insert;
	sqlite3_stmt *select;
	sqlite3_stmt *drop;
	int64_t depth;			/* atomic: read by the stats thread */
};

/* spool_error - "PATH: message" */
static int
spool_error(struct audit_spool *sp, char *err, size_t errlen)
{
	rg_snprintf(err, errlen, "audit spool %s: %s", sp->path,
		    sp->db ? sqlite3_errmsg(sp->db) : "cannot open");
	return -1;
}

/* Columns of a spooled row, after seq: the record's, node, row key,
 * then alert. */
#define SPOOL_VALUES	(VERDICT_NCOLUMNS + 2)
#define SPOOL_ALERT	(VERDICT_NCOLUMNS + 3)	/* its parameter and column */

/* build_sql - the CREATE and INSERT texts, one column per value */
static void
build_sql(char *create, char *insert, size_t size)
{
	size_t  c, i;
	int     f;

	c = (size_t) snprintf(create, size, "CREATE TABLE IF NOT EXISTS spool ("
			      "seq INTEGER PRIMARY KEY AUTOINCREMENT");
	i = (size_t) snprintf(insert, size, "INSERT INTO spool VALUES (NULL");
	for (f = 0; f < SPOOL_VALUES; f++) {
		c += (size_t) snprintf(create + c, size - c, ", v%d", f);
		i += (size_t) snprintf(insert + i, size - i, ", ?%d", f + 1);
	}
	i += (size_t) snprintf(insert + i, size - i, ", ?%d", SPOOL_ALERT);
	snprintf(create + c, size - c, ", alert)");
	snprintf(insert + i, size - i, ")");
}

/* bind_text - a string as a BLOB, NULL as NULL */
static int
bind_text(sqlite3_stmt *st, int param, const char *s)
{
	return s ? sqlite3_bind_blob(st, param, s, (int) strlen(s), SQLITE_STATIC)
		: sqlite3_bind_null(st, param);
}

/* column_copy - a BLOB column as a malloc'd string, NULL as NULL */
static char *
column_copy(sqlite3_stmt *st, int col)
{
	const void *b = sqlite3_column_blob(st, col);
	int     len = sqlite3_column_bytes(st, col);
	char   *s;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	s = xmalloc((size_t) len + 1);
	if (len > 0)
		memcpy(s, b, (size_t) len);
	s[len] = '\0';
	return s;
}

/* spool_add_alert_column - a spool from before alert rows gains it */
static int
spool_add_alert_column(sqlite3 *db)
{
	sqlite3_stmt *probe = NULL;
	int     rc;

	rc = sqlite3_prepare_v2(db, "SELECT alert FROM spool LIMIT 0", -1,
				&probe, NULL);
	sqlite3_finalize(probe);
	if (rc == SQLITE_OK)
		return SQLITE_OK;
	return sqlite3_exec(db, "ALTER TABLE spool ADD COLUMN alert", NULL,
			    NULL, NULL);
}

/* audit_spool_open - open or create the spool */
struct audit_spool *
audit_spool_open(const char *path, char *err, size_t errlen)
{
	struct audit_spool *sp = xcalloc(1, sizeof(*sp));
	char    create[SPOOL_SQL_MAX], insert[SPOOL_SQL_MAX];
	sqlite3_stmt *count = NULL;

	sp->path = xstrdup(path);
	build_sql(create, insert, sizeof(create));
	if (sqlite3_open_v2(path, &sp->db, SQLITE_OPEN_READWRITE
			    | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(sp->db, SPOOL_BUSY_MS);
	if (sqlite3_exec(sp->db, "PRAGMA journal_mode = WAL; "
			 "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK
	    || sqlite3_exec(sp->db, create, NULL, NULL, NULL) != SQLITE_OK
	    || spool_add_alert_column(sp->db) != SQLITE_OK
	    || sqlite3_prepare_v3(sp->db, insert, -1, SQLITE_PREPARE_PERSISTENT,
				  &sp->insert, NULL) != SQLITE_OK
	    || sqlite3_prepare_v3(sp->db, "SELECT * FROM spool ORDER BY seq "
				  "LIMIT ?1", -1, SQLITE_PREPARE_PERSISTENT,
				  &sp->select, NULL) != SQLITE_OK
	    || sqlite3_prepare_v3(sp->db, "DELETE FROM spool WHERE seq <= ?1",
				  -1, SQLITE_PREPARE_PERSISTENT, &sp->drop,
				  NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(sp->db, "SELECT COUNT(*) FROM spool", -1,
				  &count, NULL) != SQLITE_OK
	    || sqlite3_step(count) != SQLITE_ROW)
		goto fail;
	sp->depth = sqlite3_column_int64(count, 0);
	sqlite3_finalize(count);
	return sp;

fail:
	spool_error(sp, err, errlen);
	sqlite3_finalize(count);
	audit_spool_close(sp);
	return NULL;
}

/* audit_spool_append - n rows in one durable transaction */
int
audit_spool_append(struct audit_spool *sp, struct audit_qrow **rows,
		   size_t n, char *err, size_t errlen)
{
	size_t  i;
	int     f, rc = SQLITE_OK;

	if (sqlite3_exec(sp->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return spool_error(sp, err, errlen);
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct audit_qrow *q = rows[i];

		for (f = 0; rc == SQLITE_OK && f < (int) VERDICT_NCOLUMNS; f++)
			rc = audit_qrow_is_text(&verdict_columns[f]) ?
				bind_text(sp->insert, f + 1, q->v[f].text) :
				sqlite3_bind_int64(sp->insert, f + 1, q->v[f].num);
		if (rc == SQLITE_OK)
			rc = bind_text(sp->insert, VERDICT_NCOLUMNS + 1, q->node);
		if (rc == SQLITE_OK)
			rc = bind_text(sp->insert, VERDICT_NCOLUMNS + 2, q->row_key);
		if (rc == SQLITE_OK)
			rc = bind_text(sp->insert, SPOOL_ALERT, q->alert);
		if (rc == SQLITE_OK && sqlite3_step(sp->insert) != SQLITE_DONE)
			rc = SQLITE_ERROR;
		sqlite3_reset(sp->insert);
	}
	sqlite3_clear_bindings(sp->insert);
	if (rc == SQLITE_OK
	    && sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		__atomic_add_fetch(&sp->depth, (int64_t) n, __ATOMIC_RELAXED);
		return 0;
	}
	spool_error(sp, err, errlen);
	if (!sqlite3_get_autocommit(sp->db))
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* audit_spool_peek - the oldest rows, copied */
long
audit_spool_peek(struct audit_spool *sp, struct audit_qrow **rows,
		 size_t max, int64_t *last, char *err, size_t errlen)
{
	struct verdict_record rec;
	char   *copies[VERDICT_NCOLUMNS], *node, *key, *alert;
	size_t  n = 0, f;
	int     rc = SQLITE_DONE;

	sqlite3_bind_int64(sp->select, 1, (sqlite3_int64) max);
	while (n < max && (rc = sqlite3_step(sp->select)) == SQLITE_ROW) {
		memset(&rec, 0, sizeof(rec));
		for (f = 0; f < VERDICT_NCOLUMNS; f++) {
			copies[f] = NULL;
			if (audit_qrow_is_text(&verdict_columns[f])) {
				copies[f] = column_copy(sp->select, (int) f + 1);
				verdict_column_set_text(&rec, &verdict_columns[f],
							copies[f]);
			} else {
				verdict_column_set_int(&rec, &verdict_columns[f],
						       sqlite3_column_int64(sp->select,
									    (int) f + 1));
			}
		}
		node = column_copy(sp->select, VERDICT_NCOLUMNS + 1);
		key = column_copy(sp->select, VERDICT_NCOLUMNS + 2);
		alert = column_copy(sp->select, SPOOL_ALERT);
		rows[n++] = alert != NULL ? audit_qrow_new_alert(alert, node, key)
			: audit_qrow_new(&rec, node, key);
		free(alert);
		*last = sqlite3_column_int64(sp->select, 0);
		for (f = 0; f < VERDICT_NCOLUMNS; f++)
			free(copies[f]);
		free(node);
		free(key);
	}
	sqlite3_reset(sp->select);
	if (n < max && rc != SQLITE_DONE) {
		while (n > 0)
			free(rows[--n]);
		return spool_error(sp, err, errlen);
	}
	return (long) n;
}

/* audit_spool_drop - delete the rows up to last */
int
audit_spool_drop(struct audit_spool *sp, int64_t last, char *err,
		 size_t errlen)
{
	int     rc;

	sqlite3_bind_int64(sp->drop, 1, last);
	rc = sqlite3_step(sp->drop);
	sqlite3_reset(sp->drop);
	if (rc != SQLITE_DONE)
		return spool_error(sp, err, errlen);
	__atomic_sub_fetch(&sp->depth, (int64_t) sqlite3_changes(sp->db),
			   __ATOMIC_RELAXED);
	return 0;
}

/* audit_spool_depth - rows waiting */
int64_t
audit_spool_depth(struct audit_spool *sp)
{
	return sp ? __atomic_load_n(&sp->depth, __ATOMIC_RELAXED) : 0;
}

/* audit_spool_path - where it is */
const char *
audit_spool_path(const struct audit_spool *sp)
{
	return sp->path;
}

/* audit_spool_close - release everything */
struct audit_spool *
audit_spool_close(struct audit_spool *sp)
{
	if (sp == NULL)
		return NULL;
	sqlite3_finalize(sp->insert);
	sqlite3_finalize(sp->select);
	sqlite3_finalize(sp->drop);
	sqlite3_close(sp->db);
	free(sp->path);
	free(sp);
	return NULL;
}
