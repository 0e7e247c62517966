/*
 * audit_sqlite - the verdict trail's SQLite writer (implements audit.h)
 *
 * Milter threads call audit_submit(): it copies the row into a single
 * allocation and appends it to a bounded ring under a mutex; nothing
 * there touches the disk.  One writer thread owns the connection: it
 * commits as soon as audit_batch_rows rows wait, or audit_flush_ms after
 * the oldest one arrived, inserting them with one prepared statement
 * inside one IMMEDIATE transaction.  When a backlog has built up, one
 * transaction takes up to AUDIT_BACKLOG_FACTOR times audit_batch_rows:
 * index pages dirtied by a commit are shared by more rows, which cuts
 * the WAL written per row by about three at 4000 rows.  Every value is
 * bound; no SQL is ever built from row text.
 *
 * WAL with synchronous=NORMAL: readers (an admin's sqlite3 shell inside
 * a transaction, relayguard-audit) never block the writer, and the
 * writer never keeps a read transaction open between batches.
 *
 * Failure: when a batch cannot be committed (disk full, read-only,
 * cannot open, lock held past the busy timeout, I/O error) the writer
 * rolls back, diverts every row of the batch to the log as one line and
 * counts it, and enters the failing state.  Under audit_failure =
 * tempfail audit_submit() then returns -1 so the caller defers mail.
 * Every AUDIT_RETRY_MS the writer reopens the database and probes it
 * with a real write; on success the failing state ends.
 *
 * A full queue makes audit_submit() wait on a condition variable, 100 ms
 * at a time, for as long as the writer lives (backpressure).  No row is
 * ever dropped: it is committed, diverted to the log, or refused with -1.
 *
 * Checkpoints (copying the WAL back into the database, with fsync) run
 * on a second thread with its own connection, woken by the writer's WAL
 * hook every AUDIT_CKPT_PAGES pages; PASSIVE checkpoints never block the
 * writer.  Should the WAL still grow past AUDIT_CKPT_FORCE_PAGES (a
 * checkpointer that cannot keep up), the writer checkpoints itself.
 *
 * A database file renamed or deleted under the writer (a hand-made
 * "rotation") is noticed within a second: the writer lets go of it and
 * creates a new database at the configured path.
 *
 * Retention: with audit_retention_days > 0, rows older than that are
 * deleted AUDIT_PURGE_ROWS at a time (one short transaction each,
 * interleaved with inserts) at start and then hourly.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "audit_schema.h"
#include "milter_text.h"
#include "verdict.h"

#define AUDIT_BUSY_MS		2000	/* wait for a lock held elsewhere */
#define AUDIT_RETRY_MS		2000	/* reopen/probe a failing database */
#define AUDIT_PURGE_ROWS	1000	/* rows per retention transaction */
#define AUDIT_PURGE_EVERY_MS	(3600 * 1000)
#define AUDIT_SUBMIT_WAIT_MS	100	/* one backpressure wait */
#define AUDIT_WAL_LIMIT		(64 * 1024 * 1024)	/* journal_size_limit */
#define AUDIT_CKPT_PAGES	2000	/* WAL pages that wake the checkpointer */
#define AUDIT_CKPT_FORCE_PAGES	4096	/* the writer checkpoints itself */
#define AUDIT_MOVED_CHECK_MS	1000	/* was the file renamed or deleted? */
#define AUDIT_LOG_LINE		2048
#define AUDIT_BACKLOG_FACTOR	8	/* largest batch, in audit_batch_rows */

/* A queued row: one value per column of verdict.h's table (strings
 * point into data), one allocation. */
struct qrow {
	int64_t queued_ms;		/* monotonic, for the flush timer */
	union {
		const char *text;
		int64_t num;
	} v[VERDICT_NCOLUMNS];
	char    data[];
};

struct audit {
	char   *path;
	unsigned flush_ms;
	unsigned batch_rows;		/* commit when this many rows wait */
	size_t  batch_max;		/* rows one transaction takes at most */
	unsigned retention_days;
	int     tempfail;		/* audit_failure = tempfail */

	pthread_mutex_t lock;
	pthread_cond_t work;		/* writer: rows or stop */
	pthread_cond_t room;		/* submitters: space in the ring */
	struct qrow **ring;
	size_t  cap, head, count;
	int     writer_alive;
	int     writer_waiting;
	int     stopping;
	int     failing;
	struct audit_counters ctr;
	pthread_t thread;

	/* checkpointer: copies the WAL into the database on its own
	 * connection and thread, so that the writer never waits for it */
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
	int64_t retry_at;		/* monotonic ms */
	int64_t purge_at;
	int64_t moved_check_at;
	int64_t time_secs;		/* row_time()'s cache */
	char    time_text[32];
	int     purge_busy;		/* more old rows left to delete */
};

static audit_log_fn audit_logger;
static void *audit_logger_ctx;

/* audit_set_logger - route diverted rows and warnings */
void
audit_set_logger(audit_log_fn fn, void *ctx)
{
	audit_logger = fn;
	audit_logger_ctx = ctx;
}

/* audit_log - one line to the installed logger or syslog */
static void
audit_log(int priority, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
audit_log(int priority, const char *fmt,...)
{
	char    line[AUDIT_LOG_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (audit_logger)
		audit_logger(priority, line, audit_logger_ctx);
	else
		syslog(LOG_MAIL | priority, "%s", line);
}

/* cond_deadline - absolute CLOCK_MONOTONIC time ms milliseconds on */
static struct timespec
cond_deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* is_text - a column held as a string */
static int
is_text(const struct verdict_column *col)
{
	return col->kind == VERDICT_KIND_TEXT || col->kind == VERDICT_KIND_PROSE;
}

/* row_copy - one allocation holding every column of the record */
static struct qrow *
row_copy(const struct verdict_record *rec)
{
	const char *src[VERDICT_NCOLUMNS];
	size_t  len[VERDICT_NCOLUMNS], total = 0;
	struct qrow *q;
	char   *p;
	size_t  i;

	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		src[i] = verdict_column_text(rec, &verdict_columns[i]);
		len[i] = src[i] ? strlen(src[i]) + 1 : 0;
		total += len[i];
	}
	q = xmalloc(sizeof(*q) + total);
	p = q->data;
	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		if (!is_text(&verdict_columns[i])) {
			q->v[i].num = verdict_column_int(rec, &verdict_columns[i]);
			continue;
		}
		if (src[i] == NULL) {
			q->v[i].text = NULL;
			continue;
		}
		memcpy(p, src[i], len[i]);
		q->v[i].text = p;
		p += len[i];
	}
	if (q->v[VERDICT_COL_queue_id].text != NULL
	    && *q->v[VERDICT_COL_queue_id].text == '\0')
		q->v[VERDICT_COL_queue_id].text = NULL;
	if (q->v[VERDICT_COL_time_ms].num <= 0)
		q->v[VERDICT_COL_time_ms].num = rg_wall_ms();
	return q;
}

/* divert_row - the row as one log line, so it is not lost */
static void
divert_row(const struct qrow *q)
{
	struct verdict_record rec;
	char    line[AUDIT_LOG_LINE * 4];
	size_t  i;

	memset(&rec, 0, sizeof(rec));
	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		if (is_text(&verdict_columns[i]))
			verdict_column_set_text(&rec, &verdict_columns[i],
						q->v[i].text);
		else
			verdict_column_set_int(&rec, &verdict_columns[i],
					       q->v[i].num);
	}
	audit_log(LOG_WARNING, "%s",
		  mt_format_record("audit: diverted:", &rec, line, sizeof(line)));
}

/* db_close - finalize the statements and close the connection */
static void
db_close(struct audit *a)
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
	struct audit *a = arg;

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
checkpoint(struct audit *a)
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
	struct audit *a = arg;

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

/* ckpt_stop - stop and join the checkpointer, if it runs */
static void
ckpt_stop(struct audit *a)
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
db_open(struct audit *a, int *fatal, char *err, size_t errlen)
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
	if (audit_schema_prepare(a->db, a->path, fatal, err, errlen) < 0)
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
db_probe(struct audit *a, char *err, size_t errlen)
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

/* set_failing - enter or leave the failing state (with one log line) */
static void
set_failing(struct audit *a, int failing, const char *why)
{
	int     was;

	pthread_mutex_lock(&a->lock);
	was = a->failing;
	a->failing = failing;
	a->ctr.failing = failing;
	if (failing)
		a->ctr.failures++;
	pthread_mutex_unlock(&a->lock);
	if (failing) {
		a->retry_at = rg_mono_ms() + AUDIT_RETRY_MS;
		if (!was)
			audit_log(LOG_ERR, "audit: cannot write %s; %s", why,
				  a->tempfail ? "deferring mail until it can be "
				  "written (audit_failure = tempfail)" :
				  "verdicts go to the log until it can be "
				  "written (audit_failure = continue)");
	} else if (was) {
		audit_log(LOG_NOTICE, "audit: %s is writable again", a->path);
	}
}

/* try_recover - reopen and probe a failing database */
static void
try_recover(struct audit *a)
{
	char    err[512];
	int     fatal, ok;

	pthread_mutex_lock(&a->ckpt_lock);
	db_close(a);
	ok = db_open(a, &fatal, err, sizeof(err)) == 0
		&& db_probe(a, err, sizeof(err)) == 0;
	if (!ok)
		db_close(a);
	pthread_mutex_unlock(&a->ckpt_lock);
	if (ok) {
		set_failing(a, 0, NULL);
		return;
	}
	pthread_mutex_lock(&a->lock);
	a->ctr.failures++;
	pthread_mutex_unlock(&a->lock);
	a->retry_at = rg_mono_ms() + AUDIT_RETRY_MS;
}

/* row_time - a time as text; the seconds part is formatted once per
 * second of rows, not once per row */
static void
row_time(struct audit *a, int64_t ms, char *buf, size_t size)
{
	int64_t secs = ms / 1000;

	if (secs != a->time_secs || a->time_text[0] == '\0') {
		rg_format_utc_ms(secs * 1000, a->time_text, sizeof(a->time_text));
		a->time_secs = secs;
	}
	/* "YYYY-MM-DDTHH:MM:SS." is the first 20 bytes */
	rg_snprintf(buf, size, "%.20s%03dZ", a->time_text, (int) (ms % 1000));
}

/* bind_row - bind every column of q to the INSERT, in table order */
static int
bind_row(struct audit *a, sqlite3_stmt *st, const struct qrow *q)
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
	return rc;
}

/* insert_batch - one transaction for n rows; 0 committed, -1 + err */
static int
insert_batch(struct audit *a, struct qrow **batch, size_t n,
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

/* check_moved - the file was renamed or deleted under us (an admin
 * "rotating" it): rows would go to a file nobody reads.  Reopen the path,
 * which creates a new database. */
static void
check_moved(struct audit *a)
{
	char    err[512];
	int     moved = 0, fatal, rc;

	if (a->db == NULL || rg_mono_ms() < a->moved_check_at)
		return;
	a->moved_check_at = rg_mono_ms() + AUDIT_MOVED_CHECK_MS;
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
	    != SQLITE_OK || !moved)
		return;
	audit_log(LOG_WARNING, "audit: %s was renamed or deleted; starting a new "
		  "database there", a->path);
	pthread_mutex_lock(&a->ckpt_lock);
	db_close(a);			/* the last connection: full checkpoint */
	rc = db_open(a, &fatal, err, sizeof(err));
	pthread_mutex_unlock(&a->ckpt_lock);
	if (rc < 0)
		set_failing(a, 1, err);
}

/* write_batch - commit the batch, or divert it; frees the rows */
static void
write_batch(struct audit *a, struct qrow **batch, size_t n)
{
	char    err[512];
	size_t  i;
	int     ok = 0;

	check_moved(a);
	if (a->failing && rg_mono_ms() >= a->retry_at)
		try_recover(a);
	if (!a->failing && a->db) {
		if (insert_batch(a, batch, n, err, sizeof(err)) == 0)
			ok = 1;
		else
			set_failing(a, 1, err);
	}
	if (!ok)
		for (i = 0; i < n; i++)
			divert_row(batch[i]);
	pthread_mutex_lock(&a->lock);
	if (ok)
		a->ctr.written += n;
	else
		a->ctr.diverted += n;
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < n; i++)
		free(batch[i]);
}

/* purge_step - delete one batch of expired rows */
static void
purge_step(struct audit *a)
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

/* maintenance - retry a failing database; retention */
static void
maintenance(struct audit *a)
{
	int64_t now = rg_mono_ms();

	if (a->failing && now >= a->retry_at)
		try_recover(a);
	if (!a->failing && a->db && a->retention_days > 0
	    && (a->purge_busy || now >= a->purge_at))
		purge_step(a);
}

/* next_deadline - when the idle writer must wake up (monotonic ms) */
static int64_t
next_deadline(struct audit *a)
{
	int64_t when = rg_mono_ms() + AUDIT_PURGE_EVERY_MS;

	if (a->count > 0)
		when = a->ring[a->head]->queued_ms + a->flush_ms;
	if (a->failing && a->retry_at < when)
		when = a->retry_at;
	if (a->retention_days > 0 && !a->failing && a->purge_at < when)
		when = a->purge_at;
	if (a->purge_busy && !a->failing)
		when = 0;
	return when;
}

/* take_batch - wait for a full batch, the flush timer or a deadline */
static size_t
take_batch(struct audit *a, struct qrow **batch, int *done)
{
	struct timespec ts;
	size_t  n = 0;
	int64_t deadline, now;

	pthread_mutex_lock(&a->lock);
	while (a->count < a->batch_rows && !a->stopping) {
		deadline = next_deadline(a);
		now = rg_mono_ms();
		if (now >= deadline)
			break;
		ts = cond_deadline(deadline - now);
		a->writer_waiting = 1;
		pthread_cond_timedwait(&a->work, &a->lock, &ts);
		a->writer_waiting = 0;
	}
	if (a->count > 0 && (a->count >= a->batch_rows || a->stopping
	     || rg_mono_ms() >= a->ring[a->head]->queued_ms + a->flush_ms)) {
		while (n < a->batch_max && a->count > 0) {
			batch[n++] = a->ring[a->head];
			a->head = (a->head + 1) % a->cap;
			a->count--;
		}
		pthread_cond_broadcast(&a->room);
	}
	*done = a->stopping && a->count == 0;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* writer_main - the writer thread: batches, retries, retention */
static void *
writer_main(void *arg)
{
	struct audit *a = arg;
	struct qrow **batch = xcalloc(a->batch_max, sizeof(*batch));
	size_t  n;
	int     done = 0;

	while (!done) {
		n = take_batch(a, batch, &done);
		if (n > 0)
			write_batch(a, batch, n);
		if (!done)
			maintenance(a);
	}
	free(batch);
	pthread_mutex_lock(&a->lock);
	a->writer_alive = 0;
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* audit_free - release the structure (writer stopped) */
static void
audit_free(struct audit *a)
{
	size_t  i;

	db_close(a);
	for (i = 0; i < a->count; i++)
		free(a->ring[(a->head + i) % a->cap]);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->room);
	pthread_cond_destroy(&a->ckpt_cond);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->ckpt_lock);
	free(a->ring);
	free(a->path);
	free(a);
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

/* audit_open - open/create/migrate cfg->audit_db and start the writer */
struct audit *
audit_open(const struct rg_config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	struct audit *a;
	char    why[512];
	int     fatal, rc;

	if (cfg->audit_db == NULL || *cfg->audit_db == '\0'
	    || strcmp(cfg->audit_db, "none") == 0) {
		rg_snprintf(err, errlen, "audit_db is not set");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->path = absolute_path(cfg->audit_db);
	a->flush_ms = cfg->audit_flush_ms ? cfg->audit_flush_ms : 200;
	a->batch_rows = cfg->audit_batch_rows ? cfg->audit_batch_rows : 1000;
	a->cap = cfg->audit_queue_rows ? cfg->audit_queue_rows : 65536;
	if (a->batch_rows > a->cap)	/* a batch must fit in the queue */
		a->batch_rows = (unsigned) a->cap;
	a->batch_max = (size_t) a->batch_rows * AUDIT_BACKLOG_FACTOR;
	if (a->batch_max > a->cap)
		a->batch_max = a->cap;
	a->retention_days = cfg->audit_retention_days;
	a->tempfail = (cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL);
	a->ring = xcalloc(a->cap, sizeof(*a->ring));
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->ckpt_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->work, &attr);
	pthread_cond_init(&a->room, &attr);
	pthread_cond_init(&a->ckpt_cond, &attr);
	pthread_condattr_destroy(&attr);

	if (db_open(a, &fatal, why, sizeof(why)) < 0) {
		if (fatal) {
			rg_strlcpy(err, why, errlen);
			audit_free(a);
			return NULL;
		}
		set_failing(a, 1, why);
	}
	a->purge_at = rg_mono_ms();
	/* our threads take no asynchronous signal: those are the daemon's */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* without a checkpointer the writer checkpoints itself (wal_hook) */
	a->ckpt_started = (pthread_create(&a->ckpt_thread, NULL, ckpt_main, a)
			   == 0);
	a->writer_alive = 1;
	rc = pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rg_snprintf(err, errlen, "audit: cannot start the writer thread: %s",
			    strerror(rc));
		a->writer_alive = 0;
		ckpt_stop(a);
		audit_free(a);
		return NULL;
	}
	return a;
}

/* audit_defers - audit_failure = tempfail, as this handle was opened */
int
audit_defers(const struct audit *a)
{
	return a != NULL && a->tempfail;
}

/* audit_submit - queue a copy of row; -1 when the caller must defer */
int
audit_submit(struct audit *a, const struct verdict_record *row)
{
	struct qrow *q;
	struct timespec ts;

	if (a == NULL)
		return 0;
	q = row_copy(row);
	pthread_mutex_lock(&a->lock);
	if (a->tempfail && a->failing)
		goto refuse;
	while (a->count == a->cap && a->writer_alive) {
		ts = cond_deadline(AUDIT_SUBMIT_WAIT_MS);
		pthread_cond_timedwait(&a->room, &a->lock, &ts);
		if (a->tempfail && a->failing)
			goto refuse;
	}
	if (a->count == a->cap) {
		/* no writer to drain the ring: never drop silently */
		if (a->tempfail)
			goto refuse;
		a->ctr.diverted++;
		pthread_mutex_unlock(&a->lock);
		divert_row(q);
		free(q);
		return 0;
	}
	q->queued_ms = rg_mono_ms();
	a->ring[(a->head + a->count) % a->cap] = q;
	a->count++;
	a->ctr.queued++;
	if (a->writer_waiting && (a->count == 1 || a->count >= a->batch_rows))
		pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	return 0;

refuse:
	a->ctr.refused++;
	pthread_mutex_unlock(&a->lock);
	free(q);
	return -1;
}

/* audit_get_counters - a consistent copy of the counters */
void
audit_get_counters(struct audit *a, struct audit_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	*out = a->ctr;
	out->pending = a->count;
	pthread_mutex_unlock(&a->lock);
}

/* audit_stats - one line for logs: queued, written, diverted, failures */
void
audit_stats(struct audit *a, char *buf, size_t size)
{
	struct audit_counters c;
	size_t  pending = 0;

	audit_get_counters(a, &c);
	if (a) {
		pthread_mutex_lock(&a->lock);
		pending = a->count;
		pthread_mutex_unlock(&a->lock);
	}
	snprintf(buf, size, "audit: queued=%" PRIu64 " written=%" PRIu64
		 " diverted=%" PRIu64 " refused=%" PRIu64 " failures=%" PRIu64
		 " pending=%zu state=%s", c.queued, c.written, c.diverted,
		 c.refused, c.failures, pending, c.failing ? "failing" : "ok");
}

/* audit_close - flush everything, stop the writer; returns NULL */
struct audit *
audit_close(struct audit *a)
{
	if (a == NULL)
		return NULL;
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	ckpt_stop(a);
	audit_free(a);
	return NULL;
}
