/*
 * audit_api - the dashboard's JSON (and CSV) API over the audit database
 *
 * SYNOPSIS
 *	GET /api/summary   totals, refusals by stage/rule/action, the panels
 *	GET /api/timeline  verdicts per time bucket, refusals by rule
 *	GET /api/top       what=clients|recipients|senders|auth
 *	GET /api/search    addr, client, session, queue, rule, action, panel
 *	Every call: from, to (epoch seconds; default the last 24 hours, at
 *	most AUDIT_API_MAX_RANGE), node (one MX of a fleet), limit (default
 *	100, at most AUDIT_API_MAX_LIMIT), format=json|csv, download=1 (an
 *	attachment).
 *
 * DESCRIPTION
 *	The HTTP front end (audit_serve.c) hands each /api/ request here
 *	with a function that looks parameters up; the answer is a status,
 *	a content type and a body built with text.h's escapers.  The
 *	queries go through audit_store.h, so SQLite and PostgreSQL give the
 *	same answers: they are written in the SQL both speak, every value
 *	from the request is bound, every query is bounded by the time range
 *	and a row limit and abandoned after AUDIT_API_DEADLINE_MS.  No HTTP
 *	here, and no HTML: the page renders the JSON with textContent.
 */
#ifndef RG_AUDIT_API_H
#define RG_AUDIT_API_H

#include <time.h>

#include "audit_store.h"
#include "web_text.h"

#define AUDIT_API_MAX_RANGE (400L * 86400)	/* seconds */
#define AUDIT_API_MAX_LIMIT 5000
#define AUDIT_API_DEFAULT_LIMIT 100
#define AUDIT_API_DEADLINE_MS 10000
#define AUDIT_API_MAX_BODY (16u << 20)

/* api_param_fn - the value of one query parameter, NULL when absent */
typedef const char *(*api_param_fn)(void *ctx, const char *name);

struct api_response {
	int     status;			/* 200, 400, 404, 503 */
	const char *content_type;
	char    filename[64];		/* download=1: attachment name, else "" */
	struct wt_buf body;		/* caller frees with wt_buf_free() */
};

/* audit_api_handle - answer GET path (under /api/) from the store at
 * time now.  Always fills rs (an error is a JSON {"error": ...} body). */
void    audit_api_handle(struct audit_store *st, const char *path,
			 api_param_fn param, void *ctx, time_t now,
			 struct api_response *rs);

#endif
