/*
 * verdict - one record per verdict, taken by every output
 *
 * NAME
 *	verdict - the facts of one judged SMTP step, built once
 * SYNOPSIS
 *	#include "verdict.h"
 *
 *	verdict_record_build(&rec, &verdict, &session, &front,
 *			     trace, sizeof(trace));
 *	audit_submit(audit, &rec);		(audit row)
 *	mt_format_verdict(&rec, line, size);	(log line)
 *	... after the verdict changed (audit_unavailable):
 *	verdict_record_outcome(&rec);
 * DESCRIPTION
 *	The engine's struct rg_verdict says what was decided; the record
 *	adds what the front door knows (session id, queue id, the MTA's
 *	name, the sender and recipient as the client wrote them) and
 *	renders every fact as the text the outputs share.  The log line,
 *	the audit row (and the row diverted to the log when the database
 *	fails), the metrics and any further sink take this record; none of
 *	them recomputes a fact from the verdict.
 *
 *	VERDICT_COLUMNS is the one description of the audit columns: the
 *	record's members, the INSERT statement's column list and parameter
 *	order, the queued copy and the diverted log row all come from it.
 *	Adding a column: one X() line here, its value in
 *	verdict_record_build(), and a schema migration (audit_schema.c).
 * OWNERSHIP
 *	No allocation.  The record points into the verdict (reply text,
 *	normalized address, which point into the configuration), the
 *	session, the front door's strings and the caller's trace buffer:
 *	it is valid while those are, and small enough to keep many of.  A sink that keeps
 *	a row copies it (audit_submit() does).
 */
#ifndef RG_VERDICT_H
#define RG_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "policy.h"

/* Column kinds: the type of the member, how a sink binds it, and how a
 * log line shows it (PROSE, free text, in double quotes). */
#define VERDICT_KIND_TIME_TYPE	int64_t		/* ms since the epoch, UTC */
#define VERDICT_KIND_INT_TYPE	int
#define VERDICT_KIND_TEXT_TYPE	const char *	/* NULL: SQL NULL, log "-" */
#define VERDICT_KIND_PROSE_TYPE	const char *

/*
 * X(member, column, log key, KIND), in the order a diverted log row
 * shows them (the INSERT names its columns, so the table's own column
 * order does not matter here).
 */
#define VERDICT_COLUMNS(X) \
	X(time_ms, time, time, TIME) \
	X(session_id, session_id, session, TEXT)	/* per SMTP connection */ \
	X(queue_id, queue_id, queue, TEXT)	/* NULL until the MTA has one */ \
	X(stage, stage, stage, TEXT)		/* connect, helo, mail, rcpt */ \
	X(rule, rule, rule, TEXT) \
	X(action, action, action, TEXT)	/* accept, reject, tempfail, drop, would-reject */ \
	X(code, code, code, INT) \
	X(ecode, ecode, ecode, TEXT) \
	X(client_name, client_name, client, TEXT) \
	X(client_addr, client_addr, client_addr, TEXT) \
	X(client_trust, client_trust, trust, TEXT)	/* trusted, authenticated, untrusted */ \
	X(helo, helo, helo, TEXT) \
	X(auth_user, auth_user, auth, TEXT) \
	X(sender, sender, from, TEXT)		/* as written; NULL before MAIL */ \
	X(sender_class, sender_class, sender_class, TEXT)	/* blank, local, foreign */ \
	X(rcpt, rcpt, to, TEXT)		/* as written; NULL except at RCPT */ \
	X(rcpt_normalized, rcpt_normalized, normalized, TEXT)	/* final destination */ \
	X(directory_result, directory_result, dir, TEXT)	/* found, not-found, error */ \
	X(mta, mta, mta, TEXT)		/* {daemon_name} or j */ \
	X(text, text, text, PROSE)		/* the reply text */ \
	X(trace, trace, trace, PROSE)		/* trace lines joined with "; " */

enum verdict_column_kind {
	VERDICT_KIND_TIME, VERDICT_KIND_INT, VERDICT_KIND_TEXT, VERDICT_KIND_PROSE,
};

/* Column indexes: VERDICT_COL_time_ms, ..., and their count. */
enum verdict_column_index {
#define VERDICT_INDEX_(member, column, key, kind) VERDICT_COL_##member,
	VERDICT_COLUMNS(VERDICT_INDEX_)
#undef VERDICT_INDEX_
	VERDICT_NCOLUMNS
};

/* Room for the joined trace (every line of it, with separators). */
#define VERDICT_TRACE_MAX (ADDR_TRACE_MAX * (ADDR_TRACE_LEN + 2))

struct verdict_record {
#define VERDICT_MEMBER_(member, column, key, kind) VERDICT_KIND_##kind##_TYPE member;
	VERDICT_COLUMNS(VERDICT_MEMBER_)
#undef VERDICT_MEMBER_
	/* Not columns: the engine's own values, for counters and for the
	 * log line's stage-dependent fields.  NULL in a row built by hand
	 * (tests, load drivers). */
	const struct rg_verdict *verdict;
};

/* One column: its name in the table and in a log line, and where it
 * lives in the record. */
struct verdict_column {
	const char *name;
	const char *log_key;
	enum verdict_column_kind kind;
	size_t  offset;
};

extern const struct verdict_column verdict_columns[VERDICT_NCOLUMNS];
#define verdict_ncolumns ((size_t) VERDICT_NCOLUMNS)

/* What the front door knows that the engine does not; NULL: unknown. */
struct verdict_front {
	const char *session_id;
	const char *queue_id;
	const char *mta;
	const char *client_addr;	/* as text */
	const char *sender;		/* MAIL's path as written, once given */
	const char *rcpt;		/* this RCPT's path as written */
	int64_t time_ms;		/* 0: now */
};

/* verdict_record_build - every column of one verdict; the trace is
 * joined into trace_buf (VERDICT_TRACE_MAX bytes hold all of it).  v, s
 * and trace_buf must outlive the record (s may be NULL: no client
 * facts). */
void    verdict_record_build(struct verdict_record *rec,
			     const struct rg_verdict *v,
			     const struct rg_session *s,
			     const struct verdict_front *front,
			     char *trace_buf, size_t trace_size);

/* verdict_record_outcome - re-read rule, action, code, ecode and text
 * from rec->verdict after the caller changed the verdict */
void    verdict_record_outcome(struct verdict_record *rec);

/* verdict_column_text / verdict_column_int - a column's value by table
 * entry: the text of TEXT and PROSE (NULL for SQL NULL), the number of
 * INT and TIME */
const char *verdict_column_text(const struct verdict_record *rec,
				const struct verdict_column *col);
int64_t verdict_column_int(const struct verdict_record *rec,
			   const struct verdict_column *col);

/* verdict_column_set_text / verdict_column_set_int - store a value by
 * table entry (a sink rebuilding a record from its own copy) */
void    verdict_column_set_text(struct verdict_record *rec,
				const struct verdict_column *col,
				const char *text);
void    verdict_column_set_int(struct verdict_record *rec,
			       const struct verdict_column *col, int64_t n);

#endif
