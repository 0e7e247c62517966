/*
 * audit_sink - the contract between the audit queue and its stores
 *
 * audit.c owns the bounded queue, the writer thread, the counters and
 * the failure policy; a sink owns one store's connection and writes the
 * batches the writer hands it.  A sink is one struct of function
 * pointers (audit_sink_sqlite, audit_sink_pgsql), chosen by audit_db.
 * Every sink function runs on the writer thread only, except open and
 * close (before the thread starts, after it stopped).
 *
 * Rows: struct audit_qrow is one allocation holding every column of a
 * verdict's record (verdict.h: the one description of those columns),
 * plus the node that judged it and a row key unique across the fleet
 * (node, daemon start, sequence), so that a store can recognise a row it
 * already holds.
 *
 * An alert (alert.h) travels the same way when the store is PostgreSQL:
 * a row whose alert member holds the alert as JSON (alert_json) and
 * whose v[] is unused, with node and its own row key, written to the
 * alerts table, spooled and replayed like a verdict.
 */
#ifndef RG_AUDIT_SINK_H
#define RG_AUDIT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

struct rg_config;
struct audit;

/* A queued row: one value per column of verdict.h's table (strings
 * point into data), plus the two columns the audit trail adds: the node
 * that judged it and its row key.  One allocation. */
struct audit_qrow {
	int64_t queued_ms;		/* monotonic, for the flush timer */
	union {
		const char *text;
		int64_t num;
	} v[VERDICT_NCOLUMNS];
	const char *node;
	const char *row_key;
	const char *alert;		/* an alert row's JSON; NULL: a verdict */
	char    data[];
};

/* audit_qrow_new - one allocation holding every value of rec (which may
 * have been rebuilt from a spool), node and row_key */
struct audit_qrow *audit_qrow_new(const struct verdict_record *rec,
				  const char *node, const char *row_key);

/* audit_qrow_new_alert - one allocation holding an alert's JSON, node
 * and row_key */
struct audit_qrow *audit_qrow_new_alert(const char *json, const char *node,
					const char *row_key);

/* audit_qrow_is_text - the column is held as a string */
int     audit_qrow_is_text(const struct verdict_column *col);

struct audit_sink;

struct audit_sink_ops {
	const char *kind;		/* "sqlite", "postgresql" */

	/* open - the sink for cfg.  NULL + err when it can never work
	 * (a newer schema, a foreign file); otherwise a sink, with
	 * *usable 0 and err set when the store cannot be written yet. */
	struct audit_sink *(*open) (const struct rg_config *cfg,
				    struct audit *audit, int *usable,
				    char *err, size_t errlen);

	/* write - record n rows durably.  0: every row is committed to the
	 * store or, *spooled of them, kept locally for later; a row the
	 * sink recorded otherwise (logged, counted) it frees and sets to
	 * NULL.  -1 + err: none of the rows left is recorded (the writer
	 * diverts them and starts failing). */
	int     (*write) (struct audit_sink *sink, struct audit_qrow **rows,
			  size_t n, size_t *spooled, char *err, size_t errlen);

	/* recover - after a failed write: reopen and probe; 0 writable */
	int     (*recover) (struct audit_sink *sink, char *err, size_t errlen);

	/* maintain - idle work: retention, reconnection, spool replay */
	void    (*maintain) (struct audit_sink *sink);

	/* next_wake - monotonic ms by which maintain wants to run */
	int64_t (*next_wake) (struct audit_sink *sink);

	/* spool_depth - rows kept locally, waiting for the store (any
	 * thread; NULL for a sink that keeps none) */
	int64_t (*spool_depth) (struct audit_sink *sink);

	/* stats - the sink's part of the stats line ("" for none) */
	void    (*stats) (struct audit_sink *sink, char *buf, size_t size);

	/* close - flush what the store needs, release everything */
	void    (*close) (struct audit_sink *sink);
};

extern const struct audit_sink_ops audit_sink_sqlite;
extern const struct audit_sink_ops audit_sink_pgsql;

/* Services audit.c offers its sinks. */

/* audit_log - one line to the installed logger, or syslog */
void    audit_log(int priority, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

/* audit_divert_row - the row as one log line, so that it is not lost */
void    audit_divert_row(const struct audit_qrow *q);

/* audit_node - the node this daemon's rows carry */
const char *audit_node(const struct audit *audit);

/* audit_set_degraded - the sink cannot reach its store and keeps rows
 * elsewhere (1) or can again (0); audit_failure = tempfail defers mail
 * meanwhile */
void    audit_set_degraded(struct audit *audit, int degraded);

/* audit_count_replayed - n spooled rows reached the store */
void    audit_count_replayed(struct audit *audit, uint64_t n);

/* audit_count_diverted - n rows the store refused went to the log */
void    audit_count_diverted(struct audit *audit, uint64_t n);

#endif
