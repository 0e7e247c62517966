/*
 * alert - the record of a privileged sender over a relay limit
 *
 * NAME
 *	alert - the alert record, its JSON and its time stamp
 * SUMMARY
 *	When accountlimit says an account crossed a limit, the judge fills
 *	a struct rg_alert, logs its line (mt_format_alert) and hands a copy
 *	to alert_sink_submit() (alert_sink.h), which writes its row and
 *	runs alert_command.  This file is the record alone: pure, no
 *	database, no process.
 * OWNERSHIP
 *	alert_json() returns a buffer the caller frees; alert_time_text()
 *	writes into the caller's buffer.
 */
#ifndef RG_ALERT_H
#define RG_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "accountlimit.h"

#define ALERT_TEXT_MAX	512

struct rg_alert {
	int64_t time_ms;		/* UTC, ms since the epoch */
	enum al_kind kind;
	enum al_limit limit;
	enum al_action action;
	unsigned count, max, window;
	char    account[256];		/* AUTH login, or the client address */
	char    session_id[32];
	char    queue_id[64];
	char    client_addr[64];
	char    client_name[256];
	char    sender[ALERT_TEXT_MAX];
	char    rcpt[ALERT_TEXT_MAX];
};

/* alert_json - the alert as one JSON object (no newline) in a buffer
 * the caller frees; client text is escaped by web_text's one JSON
 * escaper */
char   *alert_json(const struct rg_alert *a, size_t *len);

/* alert_time_text - "YYYY-MM-DDTHH:MM:SS.mmmZ" */
const char *alert_time_text(int64_t ms, char *buf, size_t size);

#endif
