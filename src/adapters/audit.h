/*
 * audit - the verdict trail: one row per verdict, written to SQLite or
 * PostgreSQL
 *
 * Milter threads hand rows to audit_submit(); it copies them onto a
 * bounded in-memory queue and returns at once.  One writer thread owns
 * the store's connection and commits in batches (audit_sink.h: SQLite in
 * WAL mode, or PostgreSQL with a local spool for when it is away), so a
 * slow disk, a slow database or an admin's long read never stalls mail.  A full queue
 * makes the submitter wait briefly (backpressure); a row is never dropped
 * silently: when the database cannot be written, rows go to syslog
 * instead and are counted (audit_failure = continue), or audit_submit()
 * reports failure so the caller defers the mail (audit_failure =
 * tempfail).
 *
 * A row is the verdict's one record (verdict.h): the same record the log
 * line takes, so the two cannot disagree.
 *
 * Ownership: audit_submit() copies every string; the record and its
 * strings stay the caller's.  audit_close() flushes the queue and returns NULL.
 */
#ifndef RG_AUDIT_H
#define RG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct rg_config;

struct verdict_record;

struct audit;

/* audit_open - open/create/migrate cfg->audit_db and start the writer;
 * NULL + err when the database cannot be used at all (for example a
 * schema newer than this program). */
struct audit *audit_open(const struct rg_config *cfg, char *err, size_t errlen);

/* audit_submit - queue a copy of the record's columns (verdict.h).  0 queued (or diverted to syslog
 * under audit_failure = continue); -1 the row could not be recorded and
 * audit_failure = tempfail: the caller must defer the mail. */
int     audit_submit(struct audit *audit, const struct verdict_record *row);

/* audit_submit_alert - queue a copy of an alert (alert_json) for the
 * alerts table; only a store that takes alerts through the writer does
 * (audit_takes_alerts).  It goes where a verdict would: the store, its
 * spool, or the log; audit_failure = tempfail never refuses it, since no
 * mail waits for it.  0 queued or diverted to the log, -1 not taken. */
int     audit_submit_alert(struct audit *audit, const char *json);

/* audit_takes_alerts - 1 when alerts go through this writer (PostgreSQL);
 * with SQLite the alert thread writes its own rows */
int     audit_takes_alerts(const struct audit *audit);

/* audit_defers - 1 when this handle refuses rows it cannot record
 * (audit_failure = tempfail, as read once at audit_open()) */
int     audit_defers(const struct audit *audit);

/* audit_stats - one line for logs: queued, written, diverted, failures */
void    audit_stats(struct audit *audit, char *buf, size_t size);

/* audit_counters - the figures behind audit_stats(), for programs and
 * tests: rows accepted by audit_submit(), committed to the database,
 * diverted to the log, refused (-1 under tempfail), failed writes. */
struct audit_counters {
	uint64_t queued;
	uint64_t written;
	uint64_t diverted;
	uint64_t refused;
	uint64_t failures;
	uint64_t spooled;		/* PostgreSQL away: kept in the spool */
	uint64_t replayed;		/* taken from the spool into the store
					 * (also counted in written) */
	int     failing;		/* 1 while the database cannot be written */
	uint64_t pending;		/* on the queue now, not yet committed */
	int     degraded;		/* 1 while rows go to the spool */
	int64_t spool;			/* rows in the spool now */
};
void    audit_get_counters(struct audit *audit, struct audit_counters *out);

/* audit_log_fn - where diverted rows and writer warnings go.  The
 * default is syslog(LOG_MAIL | priority); a daemon logging to stderr
 * (-s) installs its own before audit_open().  line has no newline. */
typedef void (*audit_log_fn)(int priority, const char *line, void *ctx);
void    audit_set_logger(audit_log_fn fn, void *ctx);

/* audit_store_name - cfg's audit store for log lines: "off", the SQLite
 * path, or "postgresql://user@host:port/db" (never a password) */
void    audit_store_name(const struct rg_config *cfg, char *buf, size_t size);

/* audit_close - flush everything, stop the writer; returns NULL */
struct audit *audit_close(struct audit *audit);

#endif
