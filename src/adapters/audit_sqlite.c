/*
 * audit_sqlite - the verdict trail's SQLite sink (audit_sink.h)
 *
 * The writer thread hands it batches: it inserts them with one prepared
 * statement inside one IMMEDIATE transaction.  Every value is bound; no
 * SQL is ever built from row text.  A large batch (a backlog) shares the
 * index pages dirtied by its commit among more rows, which cuts the WAL
 * written per row by about three at 4000 rows.
 *
 * WAL with synchronous=NORMAL: readers (an admin's sqlite3 shell inside
 * a transaction, relayguard-audit) never block the writer, and the
 * writer never keeps a read transaction open between batches.
 *
 * Failure: a batch that cannot be committed (disk full, read-only,
 * cannot open, lock held past the busy timeout, I/O error) is rolled
 * back and reported; audit.c diverts it and, every few seconds, calls
 * recover(), which reopens the database and probes it with a real write.
 *
 * Checkpoints (copying the WAL back into the database, with fsync) run
 * on a second thread with its own connection, woken by the writer's WAL
 * hook every AUDIT_CKPT_PAGES pages; PASSIVE checkpoints never block the
 * writer.  Should the WAL still grow past AUDIT_CKPT_FORCE_PAGES (a
 * checkpointer that cannot keep up), the writer checkpoints itself.
 *
 * A database file renamed or deleted under the writer (a hand-made
 * "rotation") is noticed within a second: the sink lets go of it and
 * creates a new database at the configured path.
 *
 * Retention: with audit_retention_days > 0, rows older than that are
 * deleted AUDIT_PURGE_ROWS at a time (one short transaction each,
 * interleaved with inserts) at start and then hourly.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "config.h"
#include "audit_sink.h"
#include "audit_schema.h"
#include "verdict.h"

#define AUDIT_BUSY_MS		2000	/* wait for a lock held elsewhere */
#define AUDIT_PURGE_ROWS	1000	/* rows per retention transaction */
#define AUDIT_PURGE_EVERY_MS	(3600 * 1000)
#define AUDIT_WAL_LIMIT		(64 * 1024 * 1024)	/* journal_size_limit */
#define AUDIT_CKPT_PAGES	2000	/* WAL pages that wake the checkpointer */
#define AUDIT_CKPT_FORCE_PAGES	4096	/* the writer checkpoints itself */
#define AUDIT_MOVED_CHECK_MS	1000	/* was the file renamed or deleted? */

struct audit_sink {
	char   *path;
	char   *node;			/* for rows older than the node column */
	unsigned retention_days;

	/* checkpointer: copies the WAL into the database on its own
	 * connection and thread, so that the writer never waits for it */
	pthread_mutex_t lock;		/* ckpt_wanted, ckpt_stop */
	pthread_t ckpt_thread;
	pthread_cond_t ckpt_cond;
	int     ckpt_started;
	int     ckpt_wanted;
	int     ckpt_stop;
	pthread_mutex_t ckpt_lock;	/* held while a checkpoint runs, and
					 * while the writer reopens the path */

	/* writer-owned from here on */
	sqlite3 *db;
	sqlite3_stmt *insert;
	sqlite3_stmt *purge;
	int64_t purge_at;		/* monotonic ms */
	int64_t moved_check_at;
	int64_t time_secs;		/* row_time()'s cache */
	char    time_text[32];
	int     purge_busy;		/* more old rows left to delete */
};

/* db_close - finalize the statements and close the connection */
static void
db_close(struct audit_sink *a)
{
	if (a->insert)
		sqlite3_finalize(a->insert);
	if (a->purge)
		sqlite3_finalize(a->purge);
	a->insert = a->purge = NULL;
	if (a->db) {
		sqlite3_wal_checkpoint_v2(a->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
		sqlite3_close(a->db);
	}
	a->db = NULL;
}

/* wal_hook - after each commit: wake the checkpointer when the WAL has
 * grown; checkpoint here only when it cannot keep up */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct audit_sink *a = arg;

	if (pages >= AUDIT_CKPT_PAGES) {
		pthread_mutex_lock(&a->lock);
		a->ckpt_wanted = 1;
		pthread_cond_signal(&a->ckpt_cond);
		pthread_mutex_unlock(&a->lock);
	}
	if (pages >= AUDIT_CKPT_FORCE_PAGES
	    || (pages >= AUDIT_CKPT_PAGES && !a->ckpt_started))
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	return SQLITE_OK;
}

/* checkpoint - one PASSIVE checkpoint on a connection of its own, opened
 * and closed around it (under ckpt_lock, so that the writer never reopens
 * the path while the WAL of the old file is still open here) */
static void
checkpoint(struct audit_sink *a)
{
	sqlite3 *db = NULL;
	char    sql[64];
	int     persist = 1;

	pthread_mutex_lock(&a->ckpt_lock);
	if (sqlite3_open_v2(a->path, &db, SQLITE_OPEN_READWRITE
			    | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK) {
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
		rg_snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d",
			    AUDIT_WAL_LIMIT);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
		/* errors (busy, disk full) are the writer's to report: its
		 * next commit meets the same condition */
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	}
	sqlite3_close(db);
	pthread_mutex_unlock(&a->ckpt_lock);
}

/* ckpt_main - the checkpointer thread */
static void *
ckpt_main(void *arg)
{
	struct audit_sink *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->ckpt_wanted && !a->ckpt_stop)
			pthread_cond_wait(&a->ckpt_cond, &a->lock);
		if (a->ckpt_stop)
			break;
		a->ckpt_wanted = 0;
		pthread_mutex_unlock(&a->lock);
		checkpoint(a);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* journal_is_wal - switch to WAL; 1 when the database is in WAL mode */
static int
journal_is_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int     wal = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) == SQLITE_OK
	    && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);

		wal = mode && rg_strcaseeq((const char *) mode, "wal");
	}
	sqlite3_finalize(st);
	return wal;
}

/* db_open - open, configure, create/migrate, prepare; 0 or -1 + err */
static int
db_open(struct audit_sink *a, int *fatal, char *err, size_t errlen)
{
	char    pragmas[128];
	int     rc, persist = 1;

	*fatal = 0;
	rc = sqlite3_open_v2(a->path, &a->db, SQLITE_OPEN_READWRITE
			     | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(a->db, AUDIT_BUSY_MS);
	/* keep -wal and -shm after close: then relayguard-audit can read the
	 * database as a user who may not write its directory */
	sqlite3_file_control(a->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	/* 16 KiB pages: fewer writes per commit (a new file only) */
	sqlite3_exec(a->db, "PRAGMA page_size = 16384; PRAGMA cache_size = -16384",
		     NULL, NULL, NULL);
	if (!journal_is_wal(a->db)) {
		rg_snprintf(err, errlen, "%s: cannot use WAL journal mode: %s",
			    a->path, sqlite3_errmsg(a->db));
		goto fail_msg;
	}
	rg_snprintf(pragmas, sizeof(pragmas), "PRAGMA synchronous = NORMAL; "
		    "PRAGMA journal_size_limit = %d", AUDIT_WAL_LIMIT);
	if ((rc = sqlite3_exec(a->db, pragmas, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if (audit_schema_prepare(a->db, a->path, a->node, fatal, err, errlen) < 0)
		goto fail_msg;
	sqlite3_wal_hook(a->db, wal_hook, a);	/* replaces autocheckpoint */
	if ((rc = sqlite3_prepare_v3(a->db, audit_schema_insert_sql(), -1,
				     SQLITE_PREPARE_PERSISTENT, &a->insert,
				     NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_prepare_v3(a->db, "DELETE FROM verdicts WHERE id IN "
				     "(SELECT id FROM verdicts WHERE time < ?1 "
				     "ORDER BY time LIMIT ?2)", -1,
				     SQLITE_PREPARE_PERSISTENT, &a->purge,
				     NULL)) != SQLITE_OK)
		goto fail;
	return 0;

fail:
	rg_snprintf(err, errlen, "%s: %s", a->path, a->db ?
		    sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
fail_msg:
	db_close(a);
	return -1;
}

/* db_probe - a real write (page 1 rewritten): 0 writable, -1 + err */
static int
db_probe(struct audit_sink *a, char *err, size_t errlen)
{
	char    sql[96];

	rg_snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE; PRAGMA user_version = %d;"
		    " COMMIT", AUDIT_SCHEMA_VERSION);
	if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	rg_snprintf(err, errlen, "%s: %s", a->path, sqlite3_errmsg(a->db));
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* row_time - a time as text; the seconds part is formatted once per
 * second of rows, not once per row */
static void
row_time(struct audit_sink *a, int64_t ms, char *buf, size_t size)
{
	int64_t secs = ms / 1000;

	if (secs != a->time_secs || a->time_text[0] == '\0') {
		rg_format_utc_ms(secs * 1000, a->time_text, sizeof(a->time_text));
		a->time_secs = secs;
	}
	/* "YYYY-MM-DDTHH:MM:SS." is the first 20 bytes */
	rg_snprintf(buf, size, "%.20s%03dZ", a->time_text, (int) (ms % 1000));
}

/* bind_row - bind every column of q to the INSERT, in table order, then
 * node; the row key is for stores that can receive a row twice, and
 * this one never does */
static int
bind_row(struct audit_sink *a, sqlite3_stmt *st, const struct audit_qrow *q)
{
	char    t[32];
	int     rc = SQLITE_OK, param;
	size_t  i;

	for (i = 0; rc == SQLITE_OK && i < VERDICT_NCOLUMNS; i++) {
		param = (int) i + 1;
		switch (verdict_columns[i].kind) {
		case VERDICT_KIND_TIME:
			row_time(a, q->v[i].num, t, sizeof(t));
			rc = sqlite3_bind_text(st, param, t, -1, SQLITE_TRANSIENT);
			break;
		case VERDICT_KIND_INT:
			rc = sqlite3_bind_int64(st, param, q->v[i].num);
			break;
		default:
			if (q->v[i].text)
				rc = sqlite3_bind_text(st, param, q->v[i].text, -1,
						       SQLITE_STATIC);
			else
				rc = sqlite3_bind_null(st, param);
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = q->node ? sqlite3_bind_text(st, VERDICT_NCOLUMNS + 1, q->node,
						 -1, SQLITE_STATIC) :
			sqlite3_bind_null(st, VERDICT_NCOLUMNS + 1);
	return rc;
}

/* insert_batch - one transaction for n rows; 0 committed, -1 + err */
static int
insert_batch(struct audit_sink *a, struct audit_qrow **batch, size_t n,
	     char *err, size_t errlen)
{
	size_t  i;
	int     rc;

	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		rc = bind_row(a, a->insert, batch[i]);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(a->insert);
		sqlite3_reset(a->insert);
		if (rc != SQLITE_DONE && rc != SQLITE_OK)
			goto fail;
	}
	sqlite3_clear_bindings(a->insert);
	if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;

fail:
	rg_snprintf(err, errlen, "%s: %s", a->path, sqlite3_errmsg(a->db));
	sqlite3_clear_bindings(a->insert);
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* check_moved - 0, or -1 + err: the file was renamed or deleted under us (an admin
 * "rotating" it): rows would go to a file nobody reads.  Reopen the path,
 * which creates a new database. */
static int
check_moved(struct audit_sink *a, char *err, size_t errlen)
{
	int     moved = 0, fatal, rc;

	if (a->db == NULL || rg_mono_ms() < a->moved_check_at)
		return 0;
	a->moved_check_at = rg_mono_ms() + AUDIT_MOVED_CHECK_MS;
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
	    != SQLITE_OK || !moved)
		return 0;
	audit_log(LOG_WARNING, "audit: %s was renamed or deleted; starting a new "
		  "database there", a->path);
	pthread_mutex_lock(&a->ckpt_lock);
	db_close(a);			/* the last connection: full checkpoint */
	rc = db_open(a, &fatal, err, errlen);
	pthread_mutex_unlock(&a->ckpt_lock);
	return rc;
}

/* purge_step - delete one batch of expired rows */
static void
purge_step(struct audit_sink *a)
{
	char    cutoff[32];
	int     rc, deleted = 0;

	rg_format_utc_ms(rg_wall_ms() - (int64_t) a->retention_days * 86400000, cutoff,
		    sizeof(cutoff));
	rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(a->purge, 1, cutoff, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(a->purge, 2, AUDIT_PURGE_ROWS);
		rc = sqlite3_step(a->purge);
		deleted = sqlite3_changes(a->db);
		sqlite3_reset(a->purge);
		if (rc == SQLITE_DONE)
			rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		audit_log(LOG_WARNING, "audit: %s: purging rows older than %u days: "
			  "%s", a->path, a->retention_days, sqlite3_errmsg(a->db));
		if (!sqlite3_get_autocommit(a->db))
			sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		deleted = 0;
	}
	a->purge_busy = (deleted == AUDIT_PURGE_ROWS);
	if (!a->purge_busy)
		a->purge_at = rg_mono_ms() + AUDIT_PURGE_EVERY_MS;
}

/* absolute_path - path, made absolute against the current directory: the
 * writer reopens it later, after a daemon may have changed directory */
static char *
absolute_path(const char *path)
{
	char    cwd[4096], *abs;
	size_t  len;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	len = strlen(cwd) + strlen(path) + 2;
	abs = xmalloc(len);
	snprintf(abs, len, "%s/%s", cwd, path);
	return abs;
}

/* sqlite_write - one transaction for the batch */
static int
sqlite_write(struct audit_sink *a, struct audit_qrow **rows, size_t n,
	     size_t *spooled, char *err, size_t errlen)
{
	*spooled = 0;
	if (check_moved(a, err, errlen) < 0)
		return -1;
	if (a->db == NULL) {
		rg_snprintf(err, errlen, "%s: not open", a->path);
		return -1;
	}
	return insert_batch(a, rows, n, err, errlen);
}

/* sqlite_recover - reopen and probe a failing database */
static int
sqlite_recover(struct audit_sink *a, char *err, size_t errlen)
{
	int     fatal, ok;

	pthread_mutex_lock(&a->ckpt_lock);
	db_close(a);
	ok = db_open(a, &fatal, err, errlen) == 0
		&& db_probe(a, err, errlen) == 0;
	if (!ok)
		db_close(a);
	pthread_mutex_unlock(&a->ckpt_lock);
	return ok ? 0 : -1;
}

/* sqlite_maintain - retention */
static void
sqlite_maintain(struct audit_sink *a)
{
	if (a->db && a->retention_days > 0
	    && (a->purge_busy || rg_mono_ms() >= a->purge_at))
		purge_step(a);
}

/* sqlite_next_wake - the next purge step */
static int64_t
sqlite_next_wake(struct audit_sink *a)
{
	if (a->retention_days == 0)
		return INT64_MAX;
	return a->purge_busy ? 0 : a->purge_at;
}

/* sqlite_stats - nothing beyond audit.c's counters */
static void
sqlite_stats(struct audit_sink *a, char *buf, size_t size)
{
	(void) a;
	if (size > 0)
		buf[0] = '\0';
}

/* ckpt_stop - stop and join the checkpointer, if it runs */
static void
ckpt_stop(struct audit_sink *a)
{
	if (!a->ckpt_started)
		return;
	pthread_mutex_lock(&a->lock);
	a->ckpt_stop = 1;
	pthread_cond_signal(&a->ckpt_cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->ckpt_thread, NULL);
	a->ckpt_started = 0;
}

/* sqlite_close - stop the checkpointer, close (full checkpoint) */
static void
sqlite_close(struct audit_sink *a)
{
	ckpt_stop(a);
	db_close(a);
	pthread_cond_destroy(&a->ckpt_cond);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->ckpt_lock);
	free(a->path);
	free(a->node);
	free(a);
}

/* sqlite_open - open/create/migrate the database, start the checkpointer */
static struct audit_sink *
sqlite_open(const struct rg_config *cfg, struct audit *audit, int *usable,
	    char *err, size_t errlen)
{
	pthread_condattr_t attr;
	struct audit_sink *a;
	int     fatal;

	a = xcalloc(1, sizeof(*a));
	a->path = absolute_path(cfg->audit_db);
	a->node = xstrdup(audit_node(audit));
	a->retention_days = cfg->audit_retention_days;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->ckpt_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->ckpt_cond, &attr);
	pthread_condattr_destroy(&attr);
	*usable = 1;
	if (db_open(a, &fatal, err, errlen) < 0) {
		if (fatal) {
			sqlite_close(a);
			return NULL;
		}
		*usable = 0;
	}
	a->purge_at = rg_mono_ms();
	/* without a checkpointer the writer checkpoints itself (wal_hook);
	 * audit.c blocks every signal in the threads it starts */
	a->ckpt_started = (pthread_create(&a->ckpt_thread, NULL, ckpt_main, a)
			   == 0);
	return a;
}

const struct audit_sink_ops audit_sink_sqlite = {
	.kind = "SQLite",
	.open = sqlite_open,
	.write = sqlite_write,
	.recover = sqlite_recover,
	.maintain = sqlite_maintain,
	.next_wake = sqlite_next_wake,
	.stats = sqlite_stats,
	.close = sqlite_close,
};
