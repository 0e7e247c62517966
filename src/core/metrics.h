/*
 * metrics - the daemon's counters, and their Prometheus text exposition
 *
 * SYNOPSIS
 *	metrics_enable(1);			once, at start-up
 *	metrics_count_verdict(&record, backend);	per verdict (hot path)
 *	metrics_count_reload(ok);
 *	metrics_render(&buf, &snapshot);	per scrape
 *
 * DESCRIPTION
 *	Counters are taken from the one verdict record judge.c makes for
 *	each step, so the metrics, the log line and the audit row can
 *	never disagree.  Each is a relaxed atomic add on a fixed array
 *	indexed by enum values (stage x rule x action, backend x result):
 *	no lock, no allocation, and label sets bounded by the enums — no
 *	address or client IP ever becomes a label.  Figures that other
 *	modules already keep (open sessions, the audit queue, the LDAP
 *	pool and cache) are read at scrape time into a struct
 *	metrics_snapshot by the daemon and only formatted here.
 *
 *	metrics_render() writes the Prometheus text format 0.0.4:
 *	relayguard_ prefix, _total counters, base units (seconds), one
 *	HELP and TYPE per family.  Pure: no HTTP, no libmilter.
 */
#ifndef RG_METRICS_H
#define RG_METRICS_H

#include <stdint.h>

#include "directory.h"
#include "verdict.h"
#include "web_text.h"

/* What the daemon reads from other modules at scrape time. */
struct metrics_snapshot {
	const char *version;
	int64_t start_time_ms;		/* wall clock */
	uint64_t sessions_total;	/* SMTP sessions judged */
	unsigned sessions_open;
	uint64_t audit_deferred;	/* mail deferred: audit unavailable */
	int     audit_on;
	uint64_t audit_queued, audit_written, audit_diverted, audit_refused,
	        audit_failures;
	uint64_t audit_queue_rows;	/* accepted, not yet written or diverted */
	int     audit_failing;
	uint64_t audit_spooled, audit_replayed;	/* PostgreSQL's local spool */
	int64_t audit_spool_rows;	/* in the spool now */
	int     audit_degraded;		/* 1 while rows go to the spool */
	const char *dir_backend;	/* NULL: no runtime */
	struct directory_counters dir;
	unsigned long config_generation;
};

/* metrics_enable - count from now on (off: every count is one branch) */
void    metrics_enable(int on);
int     metrics_enabled(void);

/* metrics_count_verdict - one verdict record (its engine values index
 * the counters); backend names the directory ("file", "ldap"), used
 * only when the verdict consulted it.  A record without engine values
 * (built by hand) is not counted. */
void    metrics_count_verdict(const struct verdict_record *rec,
			      const char *backend);

/* metrics_count_reload - one SIGHUP reload, ok or refused */
void    metrics_count_reload(int ok);

/* metrics_render - the exposition, appended to b */
void    metrics_render(struct wt_buf *b, const struct metrics_snapshot *snap);

#endif
