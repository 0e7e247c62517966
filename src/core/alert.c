/*
 * alert - the record of a privileged sender over a relay limit
 *
 * See alert.h.  Pure: the record's JSON (one object, client text through
 * web_text's one JSON escaper) and its time stamp.  Where an alert goes
 * (the alerts table, alert_command) is alert_sink's.
 */

#include <stdio.h>
#include <time.h>

#include "util.h"
#include "accountlimit.h"
#include "web_text.h"
#include "alert.h"

/* alert_time_text - "YYYY-MM-DDTHH:MM:SS.mmmZ" */
const char *
alert_time_text(int64_t ms, char *buf, size_t size)
{
	time_t  t = (time_t) (ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int) (ms % 1000));
	return buf;
}

/* json_field - "name":"value" (value NULL or "": null) */
static void
json_field(struct wt_buf *b, const char *name, const char *value, int first)
{
	if (!first)
		wt_puts(b, ",");
	wt_json_string(b, name);
	wt_puts(b, ":");
	wt_json_string(b, value != NULL && value[0] != '\0' ? value : NULL);
}

/* alert_json - the alert as one JSON object */
char *
alert_json(const struct rg_alert *a, size_t *len)
{
	struct wt_buf b;
	char    when[40];

	wt_buf_init(&b, 64 * 1024);
	wt_puts(&b, "{");
	json_field(&b, "time", alert_time_text(a->time_ms, when, sizeof(when)), 1);
	json_field(&b, "kind", al_kind_name(a->kind), 0);
	json_field(&b, "account", a->account, 0);
	json_field(&b, "limit", al_limit_name(a->limit), 0);
	wt_printf(&b, ",\"count\":%u,\"max\":%u,\"window_seconds\":%u",
		  a->count, a->max, a->window);
	json_field(&b, "action", al_action_name(a->action), 0);
	json_field(&b, "session_id", a->session_id, 0);
	json_field(&b, "queue_id", a->queue_id, 0);
	json_field(&b, "client_addr", a->client_addr, 0);
	json_field(&b, "client_name", a->client_name, 0);
	json_field(&b, "sender", a->sender, 0);
	json_field(&b, "rcpt", a->rcpt, 0);
	wt_puts(&b, "}");
	return wt_buf_export(&b, len);
}
