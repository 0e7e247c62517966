/*
 * audit - the verdict trail's queue and writer thread (implements audit.h)
 *
 * Milter threads call audit_submit(): it copies the row into a single
 * allocation and appends it to a bounded ring under a mutex; nothing
 * there touches a disk or a network.  One writer thread takes batches
 * off the ring, as soon as audit_batch_rows rows wait or audit_flush_ms
 * after the oldest one arrived, and hands them to the sink that
 * audit_db chose (audit_sink.h): SQLite or PostgreSQL.  When a backlog
 * has built up, one batch takes up to AUDIT_BACKLOG_FACTOR times
 * audit_batch_rows.
 *
 * Failure: when a sink cannot record a batch, the writer diverts every
 * row of it to the log as one line each, counts them, and enters the
 * failing state; every AUDIT_RETRY_MS it asks the sink to recover.
 * Under audit_failure = tempfail audit_submit() returns -1 while the
 * state is failing, or while the sink is degraded (PostgreSQL away, rows
 * kept in the local spool), so the caller defers mail.
 *
 * A full queue makes audit_submit() wait on a condition variable, 100 ms
 * at a time, for as long as the writer lives (backpressure).  No row is
 * ever dropped: it is recorded, diverted to the log, or refused with -1.
 *
 * Every row carries the node that judged it (node, default the host
 * name) and a row key "NODE/START-PID/SEQ", unique across the fleet, by
 * which a store recognises a row it already holds.  SEQ is given as the
 * row enters the queue, so keys follow the order rows are written in.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "audit_sink.h"
#include "milter_text.h"
#include "verdict.h"
#include "pg_conn.h"

#define AUDIT_RETRY_MS		2000	/* recover a failing sink */
#define AUDIT_SUBMIT_WAIT_MS	100	/* one backpressure wait */
#define AUDIT_LOG_LINE		2048
#define AUDIT_BACKLOG_FACTOR	8	/* largest batch, in audit_batch_rows */
#define AUDIT_IDLE_MS		(3600 * 1000)
#define AUDIT_NODE_MAX		256

struct audit {
	unsigned flush_ms;
	unsigned batch_rows;		/* hand over when this many rows wait */
	size_t  batch_max;		/* rows one batch takes at most */
	int     tempfail;		/* audit_failure = tempfail */
	char    node[AUDIT_NODE_MAX];
	char    key_prefix[AUDIT_NODE_MAX + 48];
	uint64_t seq;			/* row keys, under lock */

	pthread_mutex_t lock;
	pthread_cond_t work;		/* writer: rows or stop */
	pthread_cond_t room;		/* submitters: space in the ring */
	struct audit_qrow **ring;
	size_t  cap, head, count;
	int     writer_alive;
	int     writer_waiting;
	int     stopping;
	int     failing;
	int     degraded;
	struct audit_counters ctr;
	pthread_t thread;

	/* writer-owned from here on */
	const struct audit_sink_ops *ops;
	struct audit_sink *sink;
	int64_t retry_at;		/* monotonic ms */
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
void
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

/* audit_qrow_is_text - a column held as a string */
int
audit_qrow_is_text(const struct verdict_column *col)
{
	return col->kind == VERDICT_KIND_TEXT || col->kind == VERDICT_KIND_PROSE;
}

/* qrow_size - the room s takes in a queued row: with its NUL, 0 for NULL */
static size_t
qrow_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* qrow_pack - copy s to *p (room from qrow_size) and step past it; the
 * copy, or NULL for NULL */
static char *
qrow_pack(char **p, const char *s)
{
	size_t  size = qrow_size(s);
	char   *copy = *p;

	if (s == NULL)
		return NULL;
	memcpy(copy, s, size);
	*p += size;
	return copy;
}

/* audit_qrow_new - one allocation holding every column of the record */
struct audit_qrow *
audit_qrow_new(const struct verdict_record *rec, const char *node,
	       const char *row_key)
{
	const struct verdict_column *col;
	size_t  total = qrow_size(node) + qrow_size(row_key), i;
	struct audit_qrow *q;
	char   *p;

	for (i = 0; i < VERDICT_NCOLUMNS; i++)
		total += qrow_size(verdict_column_text(rec, &verdict_columns[i]));
	q = xmalloc(sizeof(*q) + total);
	q->queued_ms = 0;
	p = q->data;
	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		col = &verdict_columns[i];
		if (audit_qrow_is_text(col))
			q->v[i].text = qrow_pack(&p, verdict_column_text(rec, col));
		else
			q->v[i].num = verdict_column_int(rec, col);
	}
	q->node = qrow_pack(&p, node);
	q->row_key = qrow_pack(&p, row_key);
	q->alert = NULL;
	if (q->v[VERDICT_COL_queue_id].text != NULL
	    && *q->v[VERDICT_COL_queue_id].text == '\0')
		q->v[VERDICT_COL_queue_id].text = NULL;
	if (q->v[VERDICT_COL_time_ms].num <= 0)
		q->v[VERDICT_COL_time_ms].num = rg_wall_ms();
	return q;
}

/* audit_qrow_new_alert - one allocation: the alert's JSON, node, key */
struct audit_qrow *
audit_qrow_new_alert(const char *json, const char *node, const char *row_key)
{
	struct audit_qrow *q = xmalloc(sizeof(*q) + qrow_size(json)
				       + qrow_size(node) + qrow_size(row_key));
	char   *p = q->data;
	size_t  i;

	q->queued_ms = 0;
	for (i = 0; i < VERDICT_NCOLUMNS; i++)
		if (audit_qrow_is_text(&verdict_columns[i]))
			q->v[i].text = NULL;
		else
			q->v[i].num = 0;
	q->alert = qrow_pack(&p, json);
	q->node = qrow_pack(&p, node);
	q->row_key = qrow_pack(&p, row_key);
	return q;
}

/* The sequence part of a row key: fixed width, so that it can be
 * written into the queued copy under the queue's lock (see
 * audit_submit) and so that keys sort in submission order. */
#define AUDIT_SEQ_DIGITS 20

/* row_copy - the queued copy of rec, with node and room for its key */
static struct audit_qrow *
row_copy(struct audit *a, const struct verdict_record *rec)
{
	char    key[sizeof(a->key_prefix) + AUDIT_SEQ_DIGITS + 1];

	rg_snprintf(key, sizeof(key), "%s%0*d", a->key_prefix, AUDIT_SEQ_DIGITS, 0);
	return audit_qrow_new(rec, a->node, key);
}

/* set_seq - the row key's sequence number (under a->lock) */
static void
set_seq(struct audit *a, struct audit_qrow *q)
{
	char   *digits = (char *) q->row_key + strlen(a->key_prefix);

	snprintf(digits, AUDIT_SEQ_DIGITS + 1, "%0*" PRIu64, AUDIT_SEQ_DIGITS,
		 ++a->seq);
}

/* audit_divert_row - the row as one log line, so it is not lost */
void
audit_divert_row(const struct audit_qrow *q)
{
	struct verdict_record rec;
	char    line[AUDIT_LOG_LINE * 4];
	size_t  i;

	if (q->alert != NULL) {
		/* JSON: client text escaped by web_text's JSON escaper */
		audit_log(LOG_WARNING, "audit: diverted alert: %s node=%s key=%s",
			  q->alert, q->node ? q->node : "-",
			  q->row_key ? q->row_key : "-");
		return;
	}
	memset(&rec, 0, sizeof(rec));
	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		if (audit_qrow_is_text(&verdict_columns[i]))
			verdict_column_set_text(&rec, &verdict_columns[i],
						q->v[i].text);
		else
			verdict_column_set_int(&rec, &verdict_columns[i],
					       q->v[i].num);
	}
	/* node and key are ours (a validated name, digits), no client text */
	audit_log(LOG_WARNING, "%s node=%s key=%s",
		  mt_format_record("audit: diverted:", &rec, line, sizeof(line)),
		  q->node ? q->node : "-", q->row_key ? q->row_key : "-");
}

/* audit_node - the node this daemon's rows carry */
const char *
audit_node(const struct audit *a)
{
	return a->node;
}

/* audit_set_degraded - the sink keeps rows outside its store, or not */
void
audit_set_degraded(struct audit *a, int degraded)
{
	pthread_mutex_lock(&a->lock);
	a->degraded = degraded;
	pthread_mutex_unlock(&a->lock);
}

/* audit_count_replayed - spooled rows reached the store */
void
audit_count_replayed(struct audit *a, uint64_t n)
{
	pthread_mutex_lock(&a->lock);
	a->ctr.replayed += n;
	a->ctr.written += n;
	pthread_mutex_unlock(&a->lock);
}

/* audit_count_diverted - rows the store refused went to the log */
void
audit_count_diverted(struct audit *a, uint64_t n)
{
	pthread_mutex_lock(&a->lock);
	a->ctr.diverted += n;
	pthread_mutex_unlock(&a->lock);
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
		audit_log(LOG_NOTICE, "audit: the %s audit store is writable again",
			  a->ops->kind);
	}
}

/* try_recover - ask a failing sink to reopen and probe its store */
static void
try_recover(struct audit *a)
{
	char    err[512];

	if (a->ops->recover(a->sink, err, sizeof(err)) == 0) {
		set_failing(a, 0, NULL);
		return;
	}
	pthread_mutex_lock(&a->lock);
	a->ctr.failures++;
	pthread_mutex_unlock(&a->lock);
	a->retry_at = rg_mono_ms() + AUDIT_RETRY_MS;
}

/* write_batch - record the batch, or divert it; frees the rows.  A sink
 * may set a row to NULL: it recorded that one itself (the PostgreSQL
 * sink sends a row the database refused to the log, and counts it). */
static void
write_batch(struct audit *a, struct audit_qrow **batch, size_t n)
{
	char    err[512];
	size_t  i, spooled = 0, left = 0;
	int     ok = 0;

	if (a->failing && rg_mono_ms() >= a->retry_at)
		try_recover(a);
	if (!a->failing) {
		if (a->ops->write(a->sink, batch, n, &spooled, err, sizeof(err)) == 0)
			ok = 1;
		else
			set_failing(a, 1, err);
	}
	for (i = 0; i < n; i++) {
		if (batch[i] == NULL)
			continue;
		left++;
		if (!ok)
			audit_divert_row(batch[i]);
	}
	pthread_mutex_lock(&a->lock);
	if (ok) {
		a->ctr.written += left - spooled;
		a->ctr.spooled += spooled;
	} else {
		a->ctr.diverted += left;
	}
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < n; i++)
		free(batch[i]);
}

/* maintenance - retry a failing sink; the sink's own idle work */
static void
maintenance(struct audit *a)
{
	if (a->failing && rg_mono_ms() >= a->retry_at)
		try_recover(a);
	if (!a->failing)
		a->ops->maintain(a->sink);
}

/* next_deadline - when the idle writer must wake up (monotonic ms) */
static int64_t
next_deadline(struct audit *a)
{
	int64_t when = rg_mono_ms() + AUDIT_IDLE_MS, sink;

	if (a->count > 0)
		when = a->ring[a->head]->queued_ms + a->flush_ms;
	if (a->failing && a->retry_at < when)
		when = a->retry_at;
	if (!a->failing && (sink = a->ops->next_wake(a->sink)) < when)
		when = sink;
	return when;
}

/* take_batch - wait for a full batch, the flush timer or a deadline */
static size_t
take_batch(struct audit *a, struct audit_qrow **batch, int *done)
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

/* writer_main - the writer thread: batches, retries, the sink's upkeep */
static void *
writer_main(void *arg)
{
	struct audit *a = arg;
	struct audit_qrow **batch = xcalloc(a->batch_max, sizeof(*batch));
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

	if (a->sink)
		a->ops->close(a->sink);
	for (i = 0; i < a->count; i++)
		free(a->ring[(a->head + i) % a->cap]);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->room);
	pthread_mutex_destroy(&a->lock);
	free(a->ring);
	free(a);
}

/* audit_node_name - cfg's node, or the host name */
static void
audit_node_name(const struct rg_config *cfg, char *buf, size_t size)
{
	if (cfg->node != NULL && cfg->node[0] != '\0') {
		rg_strlcpy(buf, cfg->node, size);
		return;
	}
	if (gethostname(buf, size) < 0 || buf[0] == '\0')
		rg_strlcpy(buf, "localhost", size);
	buf[size - 1] = '\0';
}

/* audit_open - open/create/migrate cfg->audit_db and start the writer */
struct audit *
audit_open(const struct rg_config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	struct audit *a;
	char    why[512];
	int     usable = 1, rc;

	if (cfg->audit_db == NULL || *cfg->audit_db == '\0'
	    || strcmp(cfg->audit_db, "none") == 0) {
		rg_snprintf(err, errlen, "audit_db is not set");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->ops = config_audit_is_pgsql(cfg->audit_db) ? &audit_sink_pgsql :
		&audit_sink_sqlite;
	a->flush_ms = cfg->audit_flush_ms ? cfg->audit_flush_ms : 200;
	a->batch_rows = cfg->audit_batch_rows ? cfg->audit_batch_rows : 1000;
	a->cap = cfg->audit_queue_rows ? cfg->audit_queue_rows : 65536;
	if (a->batch_rows > a->cap)	/* a batch must fit in the queue */
		a->batch_rows = (unsigned) a->cap;
	a->batch_max = (size_t) a->batch_rows * AUDIT_BACKLOG_FACTOR;
	if (a->batch_max > a->cap)
		a->batch_max = a->cap;
	a->tempfail = (cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL);
	audit_node_name(cfg, a->node, sizeof(a->node));
	rg_snprintf(a->key_prefix, sizeof(a->key_prefix), "%s/%" PRId64 "-%ld/",
		    a->node, rg_wall_ms(), (long) getpid());
	a->ring = xcalloc(a->cap, sizeof(*a->ring));
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->work, &attr);
	pthread_cond_init(&a->room, &attr);
	pthread_condattr_destroy(&attr);

	/* our threads (the writer, and any a sink starts) take no
	 * asynchronous signal: those are the daemon's */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	why[0] = '\0';
	if ((a->sink = a->ops->open(cfg, a, &usable, why, sizeof(why))) == NULL) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		rg_strlcpy(err, why, errlen);
		audit_free(a);
		return NULL;
	}
	if (!usable)
		set_failing(a, 1, why);
	a->writer_alive = 1;
	rc = pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rg_snprintf(err, errlen, "audit: cannot start the writer thread: %s",
			    strerror(rc));
		a->writer_alive = 0;
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

/* enqueue - q onto the ring (it is the ring's now); -1 (q freed) when
 * it is refused: may_refuse and audit_failure = tempfail while the
 * store cannot take it */
static int
enqueue(struct audit *a, struct audit_qrow *q, int may_refuse)
{
	struct timespec ts;
	int     refuse = may_refuse && a->tempfail;

	pthread_mutex_lock(&a->lock);
	if (refuse && (a->failing || a->degraded))
		goto refuse;
	while (a->count == a->cap && a->writer_alive) {
		ts = cond_deadline(AUDIT_SUBMIT_WAIT_MS);
		pthread_cond_timedwait(&a->room, &a->lock, &ts);
		if (refuse && (a->failing || a->degraded))
			goto refuse;
	}
	if (a->count == a->cap) {
		/* no writer to drain the ring: never drop silently */
		if (refuse)
			goto refuse;
		a->ctr.diverted++;
		set_seq(a, q);
		pthread_mutex_unlock(&a->lock);
		audit_divert_row(q);
		free(q);
		return 0;
	}
	q->queued_ms = rg_mono_ms();
	set_seq(a, q);			/* keys in queue order */
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

/* audit_submit - queue a copy of row; -1 when the caller must defer */
int
audit_submit(struct audit *a, const struct verdict_record *row)
{
	if (a == NULL)
		return 0;
	return enqueue(a, row_copy(a, row), 1);
}

/* audit_takes_alerts - the PostgreSQL sink writes alert rows */
int
audit_takes_alerts(const struct audit *a)
{
	return a != NULL && a->ops == &audit_sink_pgsql;
}

/* audit_submit_alert - queue a copy of an alert's JSON */
int
audit_submit_alert(struct audit *a, const char *json)
{
	char    key[sizeof(a->key_prefix) + AUDIT_SEQ_DIGITS + 1];

	if (!audit_takes_alerts(a) || json == NULL)
		return -1;
	rg_snprintf(key, sizeof(key), "%s%0*d", a->key_prefix, AUDIT_SEQ_DIGITS, 0);
	return enqueue(a, audit_qrow_new_alert(json, a->node, key), 0);
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
	out->degraded = a->degraded;
	out->pending = a->count;
	pthread_mutex_unlock(&a->lock);
	if (a->ops->spool_depth != NULL)
		out->spool = a->ops->spool_depth(a->sink);
}

/* audit_stats - one line for logs: queued, written, diverted, failures */
void
audit_stats(struct audit *a, char *buf, size_t size)
{
	struct audit_counters c;
	size_t  pending = 0;
	char    sink[256] = "";

	audit_get_counters(a, &c);
	if (a) {
		pthread_mutex_lock(&a->lock);
		pending = a->count;
		pthread_mutex_unlock(&a->lock);
		a->ops->stats(a->sink, sink, sizeof(sink));
	}
	snprintf(buf, size, "audit: queued=%" PRIu64 " written=%" PRIu64
		 " diverted=%" PRIu64 " refused=%" PRIu64 " failures=%" PRIu64
		 " pending=%zu state=%s%s", c.queued, c.written, c.diverted,
		 c.refused, c.failures, pending, c.failing ? "failing" :
		 c.degraded ? "spooling" : "ok", sink);
}

/* audit_store_name - the store, for log lines */
void
audit_store_name(const struct rg_config *cfg, char *buf, size_t size)
{
	char    where[256];

	if (cfg->audit_db == NULL || cfg->audit_db[0] == '\0'
	    || strcmp(cfg->audit_db, "none") == 0) {
		rg_strlcpy(buf, "off", size);
	} else if (config_audit_is_pgsql(cfg->audit_db)) {
		pg_conn_describe(cfg->audit_db, where, sizeof(where));
		rg_snprintf(buf, size, "postgresql://%s", where);
	} else {
		rg_strlcpy(buf, cfg->audit_db, size);
	}
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
	audit_free(a);
	return NULL;
}
