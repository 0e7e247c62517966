/*
 * test-verdict - the one record per verdict, and the outputs that take it
 *
 * A verdict from the real engine (default-enforce corpus configuration,
 * file directory) is built into a record; the log line and the diverted
 * audit row are formatted from that record and must say the same thing.
 * The column table must describe every member once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "policy.h"
#include "verdict.h"
#include "milter_text.h"
#include "testlib.h"

static struct rg_config *cfg;
static struct directory *dir;

/* count - occurrences of needle in hay */
static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* test_columns - the table names every column once, in record order */
static void
test_columns(void)
{
	size_t i, j;

	test_begin("verdict: the column table");
	test_assert_int(verdict_ncolumns, 21);
	test_assert_str(verdict_columns[VERDICT_COL_time_ms].name, "time");
	test_assert_int(verdict_columns[VERDICT_COL_code].kind, VERDICT_KIND_INT);
	test_assert_str(verdict_columns[VERDICT_COL_sender].log_key, "from");
	for (i = 0; i < verdict_ncolumns; i++)
		for (j = i + 1; j < verdict_ncolumns; j++) {
			test_assert(strcmp(verdict_columns[i].name,
					   verdict_columns[j].name) != 0);
			test_assert(strcmp(verdict_columns[i].log_key,
					   verdict_columns[j].log_key) != 0);
			test_assert(verdict_columns[i].offset
				    != verdict_columns[j].offset);
		}
	test_end();
}

/* test_build - every column from one engine verdict */
static void
test_build(void)
{
	struct rg_session s;
	struct rg_verdict v;
	struct verdict_record rec;
	struct verdict_front front;
	char trace[VERDICT_TRACE_MAX], line[MT_LINE_MAX], row[MT_LINE_MAX * 2];
	const char *in = "<u%remote.test@example.org>";

	test_begin("verdict: record built once, taken by log line and row");
	policy_session_init(&s);
	rg_strlcpy(s.client_name, "mx.remote.test", sizeof(s.client_name));
	rg_strlcpy(s.helo, "mx.remote.test", sizeof(s.helo));
	policy_decide(cfg, dir, &s, RG_STAGE_MAIL, "<a@remote.test>", 15, &v);
	policy_commit(&s, &v);
	policy_decide(cfg, dir, &s, RG_STAGE_RCPT, in, strlen(in), &v);
	memset(&front, 0, sizeof(front));
	front.session_id = "0123456789ab";
	front.queue_id = "";
	front.mta = "smtpd";
	front.client_addr = "192.0.2.7";
	front.sender = "<a@remote.test>";
	front.rcpt = in;
	front.time_ms = 1795000000123LL;
	verdict_record_build(&rec, &v, &s, &front, trace, sizeof(trace));

	test_assert(rec.verdict == &v);
	test_assert(rec.queue_id == NULL);	/* "" is no queue id */
	test_assert_str(rec.stage, "rcpt");
	test_assert_str(rec.rule, "routing");
	test_assert_str(rec.action, "reject");
	test_assert_int(rec.code, 550);
	test_assert_str(rec.client_trust, "untrusted");
	test_assert_str(rec.sender_class, "foreign");
	test_assert_str(rec.rcpt, in);
	test_assert_str(rec.rcpt_normalized, "u@remote.test");
	test_assert(rec.directory_result == NULL);
	test_assert(strstr(rec.trace, "percent") != NULL);
	test_assert_int(verdict_column_int(&rec, &verdict_columns[VERDICT_COL_time_ms]),
			1795000000123LL);
	test_assert_str(verdict_column_text(&rec, &verdict_columns[VERDICT_COL_helo]),
			"mx.remote.test");

	mt_format_verdict(&rec, line, sizeof(line));
	mt_format_record("audit: diverted:", &rec, row, sizeof(row));
	test_assert(strstr(line, " action=reject rule=routing code=550 ") != NULL);
	test_assert(strstr(row, " rule=routing action=reject code=550 ") != NULL);
	test_assert(strncmp(row, "audit: diverted: time=2026-11-18T", 33) == 0
		    || strncmp(row, "audit: diverted: time=20", 24) == 0);
	test_assert(strstr(row, " trust=untrusted ") != NULL);
	test_assert(strstr(row, " sender_class=foreign ") != NULL);
	test_assert(strstr(row, " queue=- ") != NULL);
	test_assert(strstr(row, " text=\"Sender-specified routing denied\"") != NULL);

	/* The verdict changed after the record was built: re-read it. */
	test_assert_int(policy_audit_unavailable(cfg, &v), 0);	/* refused */
	policy_decide(cfg, dir, &s, RG_STAGE_RCPT, "<alice@example.org>", 19, &v);
	verdict_record_build(&rec, &v, &s, &front, trace, sizeof(trace));
	test_assert_str(rec.rule, "local");
	test_assert_str(rec.directory_result, "found");
	test_assert_int(policy_audit_unavailable(cfg, &v), 1);
	verdict_record_outcome(&rec);
	test_assert_str(rec.rule, "audit_unavailable");
	test_assert_str(rec.action, "tempfail");
	test_assert_int(rec.code, 451);
	mt_format_verdict(&rec, line, sizeof(line));
	test_assert(strstr(line, " action=tempfail rule=audit_unavailable code=451 "
			   "ecode=4.3.0 ") != NULL);
	test_end();
}

/* test_forged_fields - a RCPT whose quoted local part spells fields
 * yields one of each field in the log line and the diverted row */
static void
test_forged_fields(void)
{
	struct rg_session s;
	struct rg_verdict v;
	struct verdict_record rec;
	struct verdict_front front;
	char trace[VERDICT_TRACE_MAX], line[MT_LINE_MAX], row[MT_LINE_MAX * 2];
	const char *in = "<\"x action=accept rule=local code=250\"@evil.com>";

	test_begin("verdict: client text cannot add fields to either line");
	policy_session_init(&s);
	policy_decide(cfg, dir, &s, RG_STAGE_RCPT, in, strlen(in), &v);
	memset(&front, 0, sizeof(front));
	front.session_id = "0123456789ab";
	front.rcpt = in;
	verdict_record_build(&rec, &v, &s, &front, trace, sizeof(trace));
	mt_format_verdict(&rec, line, sizeof(line));
	mt_format_record("audit: diverted:", &rec, row, sizeof(row));
	test_assert_int(count(line, " action="), 1);
	test_assert_int(count(line, " rule="), 1);
	test_assert_int(count(line, " code="), 1);
	test_assert_int(count(row, " action="), 1);
	test_assert_int(count(row, " rule="), 1);
	test_assert_int(count(row, " code="), 1);
	test_end();
}

int
main(void)
{
	static const struct directory_backend *const backends[] = {
		&dir_file_backend, NULL,
	};
	const char *srcdir = getenv("top_srcdir");
	char path[1024], err[512];

	/* the corpus configuration names its directory relative to itself */
	snprintf(path, sizeof(path), "%s/tests/corpus/policy",
		 srcdir != NULL ? srcdir : ".");
	if (chdir(path) < 0) {
		perror(path);
		return 1;
	}
	if ((cfg = config_load("default-enforce.conf", err, sizeof(err))) == NULL
	    || (dir = directory_open(cfg, backends, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	test_columns();
	test_build();
	test_forged_fields();
	dir = directory_close(dir);
	cfg = config_free(cfg);
	return test_exit();
}
