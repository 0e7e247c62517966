/*
 * test-alert - the alert thread: one JSON object per alert on the
 * command's stdin, commands bounded in number and time, failures counted
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "accountlimit.h"
#include "alert_sink.h"
#include "testlib.h"

static int logged;

static void
count_log(int priority, const char *line, void *ctx)
{
	(void) priority;
	(void) ctx;
	(void) line;
	__atomic_add_fetch(&logged, 1, __ATOMIC_RELAXED);
}

static void
sample(struct rg_alert *a, const char *account)
{
	memset(a, 0, sizeof(*a));
	a->time_ms = 1767323045006LL;	/* 2026-01-02T03:04:05.006Z */
	a->kind = AL_AUTH;
	a->limit = AL_HOUR;
	a->action = AL_TEMPFAIL;
	a->count = 6;
	a->max = 5;
	a->window = 3600;
	rg_strlcpy(a->account, account, sizeof(a->account));
	rg_strlcpy(a->session_id, "0123456789ab", sizeof(a->session_id));
	rg_strlcpy(a->client_addr, "192.0.2.1", sizeof(a->client_addr));
	rg_strlcpy(a->client_name, "unknown", sizeof(a->client_name));
	rg_strlcpy(a->sender, "<a@example.org>", sizeof(a->sender));
	rg_strlcpy(a->rcpt, "<b@remote.test>", sizeof(a->rcpt));
}

static void
test_json(void)
{
	struct rg_alert a;
	size_t len;
	char *json;

	test_begin("alert JSON: every field, client text escaped");
	sample(&a, "evil\"\n<script>");
	json = alert_json(&a, &len);
	test_assert_str(json, "{\"time\":\"2026-01-02T03:04:05.006Z\","
		"\"kind\":\"auth\",\"account\":\"evil\\\"\\u000a\\u003cscript"
		"\\u003e\",\"limit\":\"hour\",\"count\":6,\"max\":5,"
		"\"window_seconds\":3600,\"action\":\"tempfail\","
		"\"session_id\":\"0123456789ab\",\"queue_id\":null,"
		"\"client_addr\":\"192.0.2.1\",\"client_name\":\"unknown\","
		"\"sender\":\"\\u003ca@example.org\\u003e\","
		"\"rcpt\":\"\\u003cb@remote.test\\u003e\"}");
	test_assert_int(len, strlen(json));
	free(json);
	test_end();
}

static void
test_commands(void)
{
	char dir[] = "/tmp/test-alert.XXXXXX", cmd[400], path[300], line[4096];
	struct alert_sink *sink;
	struct rg_alert a;
	FILE *fp;
	int lines = 0;

	test_begin("alert_command: one object per alert on stdin");
	test_assert(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(cmd, sizeof(cmd), "cat >> %s", path);
	sink = alert_sink_open(NULL, NULL, count_log, NULL);
	sample(&a, "one");
	test_assert_int(alert_sink_submit(sink, &a, cmd, 5, 4), 0);
	sample(&a, "two");
	test_assert_int(alert_sink_submit(sink, &a, cmd, 5, 4), 0);
	sink = alert_sink_close(sink);
	test_assert(sink == NULL);
	fp = fopen(path, "r");
	test_assert(fp != NULL);
	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
		test_assert(line[0] == '{' && strstr(line, "}\n") != NULL);
		lines++;
	}
	if (fp != NULL)
		fclose(fp);
	test_assert_int(lines, 2);
	unlink(path);
	test_end();

	rmdir(dir);
}

static void
test_counts(void)
{
	struct alert_counters c;
	struct alert_sink *sink;
	struct rg_alert a;
	int i;

	test_begin("alert counters: run, skipped, killed, exit status");
	logged = 0;
	sink = alert_sink_open(NULL, NULL, count_log, NULL);
	sample(&a, "slow");
	for (i = 0; i < 3; i++)
		(void) alert_sink_submit(sink, &a, "sleep 30", 1, 1);
	for (i = 0; i < 60; i++) {
		alert_sink_get_counters(sink, &c);
		if (c.failed >= 1)
			break;
		usleep(100000);
	}
	test_assert_int(c.run, 1);		/* alert_max = 1 */
	test_assert_int(c.skipped, 2);
	test_assert_int(c.failed, 1);		/* killed at 1 s */
	(void) alert_sink_submit(sink, &a, "exit 3", 5, 1);
	for (i = 0; i < 50; i++) {
		alert_sink_get_counters(sink, &c);
		if (c.failed >= 2)
			break;
		usleep(100000);
	}
	test_assert_int(c.run, 2);
	test_assert_int(c.failed, 2);		/* exit status 3 */
	test_assert_int(c.queued, 4);
	test_assert(logged >= 4);		/* 2 skipped, 1 killed, 1 exit */
	sink = alert_sink_close(sink);
	test_end();
}

int
main(void)
{
	test_json();
	test_commands();
	test_counts();
	return test_exit();
}
