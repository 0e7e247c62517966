/*
 * test-audit - the SQLite audit writer against real database files
 *
 * Every case works on a fresh file in a temporary directory and checks
 * the result with a separate SQLite connection, the way an admin would.
 * Failure cases use conditions that hold even for root (who ignores file
 * permissions): a database path that is a directory (the file cannot be
 * opened), and a write lock held by another connection past the busy
 * timeout.  Disk full and a read-only mount are exercised by
 * tests/integration/audit-unwritable.sh, which needs a mount namespace.
 */
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "audit_schema.h"
#include "verdict.h"
#include "testlib.h"

static char tmpdir[256];
static int diverted_lines;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_diverted[2048];

/* capture_log - count the diverted lines instead of syslog */
static void
capture_log(int priority, const char *line, void *ctx)
{
	(void) priority;
	(void) ctx;
	pthread_mutex_lock(&log_lock);
	if (strncmp(line, "audit: diverted: ", 17) == 0) {
		diverted_lines++;
		rg_strlcpy(last_diverted, line, sizeof(last_diverted));
	} else if (getenv("TEST_AUDIT_VERBOSE")) {
		fprintf(stderr, "log: %s\n", line);
	}
	pthread_mutex_unlock(&log_lock);
}

/* test_config - audit settings only; the writer reads nothing else */
static void
test_config(struct rg_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->audit_db = (char *) path;
	cfg->audit_flush_ms = 50;
	cfg->audit_batch_rows = 1000;
	cfg->audit_queue_rows = 65536;
	cfg->audit_retention_days = 0;
	cfg->audit_failure = RG_AUDITFAIL_CONTINUE;
}

/* db_path - a fresh file name in the temporary directory */
static const char *
db_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* query_int - one integer from a separate connection; -1 on error */
static long long
query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
	    && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK
	    && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "query_int(%s): %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* query_text - one text value from a separate connection */
static char *
query_text(const char *path, const char *sql, char *buf, size_t size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	buf[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
	    && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK
	    && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		rg_strlcpy(buf, (const char *) sqlite3_column_text(st, 0), size);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

/* exec_sql - run sql on path (creating it); 0 ok */
static int
exec_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char   *msg = NULL;
	int     rc;

	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "exec_sql: %s\n", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* fill_row - a plausible relay refusal, numbered */
static void
fill_row(struct verdict_record *row, char *session, size_t size, int thread, int i)
{
	snprintf(session, size, "S%d-%d", thread, i);
	memset(row, 0, sizeof(*row));
	row->time_ms = 1795000000123LL + i;
	row->session_id = session;
	row->queue_id = "";
	row->mta = "smtpd";
	row->client_addr = "192.0.2.7";
	row->client_name = "relay.example.net";
	row->helo = "otherdomain";
	row->auth_user = NULL;
	row->stage = "rcpt";
	row->sender = "<x@otherdomain>";
	row->rcpt = "<hacker@spammail.com>";
	row->rcpt_normalized = "hacker@spammail.com";
	row->rule = "relay";
	row->action = "reject";
	row->code = 550;
	row->ecode = "5.7.1";
	row->text = "Relay access denied";
	row->directory_result = NULL;
	row->trace = "domain spammail.com is not local; client not privileged";
	row->client_trust = "untrusted";
	row->sender_class = "foreign";
}

struct submitter {
	struct audit *audit;
	int     thread;
	int     rows;
	int     failed;
	double  max_ms;
};

/* now_ms - monotonic milliseconds, as a double */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* submit_rows - thread body: submit rows, track the slowest submit */
static void *
submit_rows(void *arg)
{
	struct submitter *s = arg;
	struct verdict_record row;
	char    session[32];
	double  t0, dt;
	int     i;

	for (i = 0; i < s->rows; i++) {
		fill_row(&row, session, sizeof(session), s->thread, i);
		t0 = now_ms();
		if (audit_submit(s->audit, &row) != 0)
			s->failed++;
		dt = now_ms() - t0;
		if (dt > s->max_ms)
			s->max_ms = dt;
	}
	return NULL;
}

/* submit_threaded - nthreads x rows through audit; max latency out */
static int
submit_threaded(struct audit *audit, int nthreads, int rows, double *max_ms)
{
	pthread_t tid[16];
	struct submitter s[16];
	int     i, failed = 0;

	*max_ms = 0;
	for (i = 0; i < nthreads; i++) {
		s[i] = (struct submitter) { audit, i, rows, 0, 0 };
		pthread_create(&tid[i], NULL, submit_rows, &s[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		failed += s[i].failed;
		if (s[i].max_ms > *max_ms)
			*max_ms = s[i].max_ms;
	}
	return failed;
}

/* test_create_and_fields - new file, every column filled as given */
static void
test_create_and_fields(void)
{
	const char *path = db_path("fields.db");
	struct rg_config cfg;
	struct audit *audit;
	struct verdict_record row;
	char    err[512], buf[512];

	test_begin("audit: create, one row, every field");
	test_config(&cfg, path);
	cfg.node = (char *) "mx2.example.org";
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		fprintf(stderr, "audit_open: %s\n", err);
		test_end();
		return;
	}
	memset(&row, 0, sizeof(row));
	row.time_ms = 1795000000123LL;	/* 2026-11-18T11:06:40.123Z */
	row.session_id = "c0ffee01";
	row.queue_id = "4XyZ1n2p";
	row.mta = "smtpd";
	row.client_addr = "192.0.2.7";
	row.client_name = "unknown";
	row.helo = "otherdomain";
	row.auth_user = "alice";
	row.stage = "rcpt";
	row.sender = "<>";
	row.rcpt = "<nobody%afakedomain.com@example.org>";
	row.rcpt_normalized = "nobody@afakedomain.com";
	row.rule = "routing";
	row.action = "would-reject";
	row.code = 550;
	row.ecode = "5.7.1";
	row.text = "Sender-specified routing denied";
	row.directory_result = "not-found";
	row.trace = "percent hack; client not privileged";
	row.client_trust = "untrusted";
	row.sender_class = "blank";
	test_assert_int(audit_submit(audit, &row), 0);
	/* a hostile value is data, never SQL */
	row.session_id = "x'); DROP TABLE verdicts; --";
	row.queue_id = NULL;
	test_assert_int(audit_submit(audit, &row), 0);
	audit = audit_close(audit);

	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 2);
	test_assert_str(query_text(path, "SELECT time FROM verdicts WHERE id = 1",
				   buf, sizeof(buf)), "2026-11-18T11:06:40.123Z");
	test_assert_str(query_text(path, "SELECT session_id || '|' || queue_id || '|' "
		"|| mta || '|' || client_addr || '|' || client_name || '|' || helo "
		"|| '|' || auth_user || '|' || stage || '|' || sender || '|' || rcpt "
		"|| '|' || rcpt_normalized || '|' || rule || '|' || action || '|' "
		"|| code || '|' || ecode || '|' || text || '|' || directory_result "
		"|| '|' || trace || '|' || client_trust || '|' || sender_class "
		"FROM verdicts WHERE id = 1", buf, sizeof(buf)),
		"c0ffee01|4XyZ1n2p|smtpd|192.0.2.7|unknown|otherdomain|alice|rcpt|<>|"
		"<nobody%afakedomain.com@example.org>|nobody@afakedomain.com|routing|"
		"would-reject|550|5.7.1|Sender-specified routing denied|not-found|"
		"percent hack; client not privileged|untrusted|blank");
	test_assert_str(query_text(path, "SELECT session_id FROM verdicts WHERE id = 2",
				   buf, sizeof(buf)), "x'); DROP TABLE verdicts; --");
	test_assert_int(query_int(path, "SELECT queue_id IS NULL FROM verdicts "
				  "WHERE id = 2"), 1);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "node = 'mx2.example.org'"), 2);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM daily_summary "
				  "WHERE node = 'mx2.example.org' AND day = "
				  "'2026-11-18'"), 1);
	test_assert_int(query_int(path, "PRAGMA user_version"), AUDIT_SCHEMA_VERSION);
	test_assert_str(query_text(path, "PRAGMA journal_mode", buf, sizeof(buf)),
			"wal");
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE "
				  "type = 'index' AND name IN ('verdicts_time', "
				  "'verdicts_client', 'verdicts_rule', "
				  "'verdicts_session')"), 4);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM relay_attempts "
				  "WHERE sender_class = 'blank' AND outcome = "
				  "'accepted'"), 2);
	/* every column of the record's table is a column of the schema, and
	 * the schema has no other (besides the row id) */
	{
		char    sql[256];
		size_t  i;

		for (i = 0; i < VERDICT_NCOLUMNS; i++) {
			snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM "
				 "pragma_table_info('verdicts') WHERE name = '%s'",
				 verdict_columns[i].name);
			test_assert_int(query_int(path, sql), 1);
		}
		/* id, the record's columns, and node */
		test_assert_int(query_int(path, "SELECT COUNT(*) FROM "
					  "pragma_table_info('verdicts')"),
				VERDICT_NCOLUMNS + 2);
		/* the table description the PostgreSQL schema and the
		 * exports are made from names the same columns */
		{
			char    cols[1024];

			snprintf(cols, sizeof(cols), ", %s,", audit_schema_columns());
			for (i = 0; i < VERDICT_NCOLUMNS; i++) {
				snprintf(sql, sizeof(sql), ", %s,",
					 verdict_columns[i].name);
				test_assert(strstr(cols, sql) != NULL);
			}
			test_assert(strstr(cols, ", node,") != NULL);
		}
	}
	test_end();
}

/* test_threads - N rows from several threads, exactly N rows land */
static void
test_threads(void)
{
	const char *path = db_path("threads.db");
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	double  max_ms;
	char    err[512];

	test_begin("audit: 8 threads x 5000 rows, small queue (backpressure)");
	test_config(&cfg, path);
	cfg.audit_queue_rows = 256;	/* force the submitters to wait */
	cfg.audit_batch_rows = 100;
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		test_end();
		return;
	}
	test_assert_int(submit_threaded(audit, 8, 5000, &max_ms), 0);
	audit_get_counters(audit, &c);
	test_assert_int(c.queued, 40000);
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 40000);
	test_assert_int(query_int(path, "SELECT COUNT(DISTINCT session_id) "
				  "FROM verdicts"), 40000);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "rule = 'relay' AND code = 550 AND sender_class "
				  "= 'foreign'"), 40000);
	test_end();
}

/* test_migration - a database made with the version 1 SQL is migrated */
static void
test_migration(void)
{
	const char *path = db_path("v1.db");
	char    fresh[8192], migrated[8192], err[512];
	struct rg_config cfg;
	struct audit *audit;
	struct verdict_record row;
	char    session[32];

	test_begin("audit: migration from schema version 1");
	test_assert_int(exec_sql(path, audit_schema_v1_sql), 0);
	test_assert_int(exec_sql(path, "INSERT INTO verdicts (time, session_id, "
		"stage, rule, action, code) VALUES ('2026-01-02T03:04:05.006Z', "
		"'old', 'rcpt', 'relay', 'reject', 550)"), 0);
	test_assert_int(query_int(path, "PRAGMA user_version"), 1);
	test_config(&cfg, path);
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit) {
		fill_row(&row, session, sizeof(session), 0, 1);
		test_assert_int(audit_submit(audit, &row), 0);
		audit = audit_close(audit);
	}
	test_assert_int(query_int(path, "PRAGMA user_version"), AUDIT_SCHEMA_VERSION);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 2);
	/* rows from before the node column were judged by this host */
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "node IS NULL OR node = ''"), 0);
	test_assert_int(query_int(path, "SELECT COUNT(DISTINCT node) FROM "
				  "verdicts"), 1);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM alerts"), 0);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "session_id = 'old' AND client_trust IS NULL"), 1);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM relay_attempts"), 2);

	/* same columns, in the same order, as a freshly created database */
	test_assert_int(exec_sql(db_path("v3.db"), audit_schema_sql), 0);
	query_text(db_path("v3.db"), "SELECT group_concat(name, ',') FROM "
		   "pragma_table_info('verdicts')", fresh, sizeof(fresh));
	query_text(path, "SELECT group_concat(name, ',') FROM "
		   "pragma_table_info('verdicts')", migrated, sizeof(migrated));
	test_assert(fresh[0] != '\0' && strcmp(migrated, fresh) == 0);
	test_assert(strstr(fresh, ",node") != NULL);
	query_text(db_path("v3.db"), "SELECT group_concat(sql, ';') FROM "
		   "(SELECT sql FROM sqlite_master WHERE type = 'view' ORDER BY name)",
		   fresh, sizeof(fresh));
	query_text(path, "SELECT group_concat(sql, ';') FROM "
		   "(SELECT sql FROM sqlite_master WHERE type = 'view' ORDER BY name)",
		   migrated, sizeof(migrated));
	test_assert(strcmp(fresh, migrated) == 0);
	test_end();
}

/* test_migration_v2 - a version 2 database gains node, rows kept */
static void
test_migration_v2(void)
{
	const char *path = db_path("v2.db");
	char    err[512], buf[128];
	struct rg_config cfg;
	struct audit *audit;

	test_begin("audit: migration from schema version 2, node of old rows");
	test_assert_int(exec_sql(path, audit_schema_v2_sql), 0);
	test_assert_int(exec_sql(path, "INSERT INTO verdicts (time, session_id, "
		"stage, rule, action, code) VALUES ('2026-01-02T03:04:05.006Z', "
		"'old', 'rcpt', 'unknown', 'reject', 550)"), 0);
	test_config(&cfg, path);
	cfg.node = (char *) "mx1";
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	audit = audit_close(audit);
	test_assert_int(query_int(path, "PRAGMA user_version"), AUDIT_SCHEMA_VERSION);
	test_assert_str(query_text(path, "SELECT session_id || ' ' || node FROM "
				   "verdicts", buf, sizeof(buf)), "old mx1");
	test_assert_int(query_int(path, "SELECT nodes FROM unknown_recipients"), 1);
	test_end();
}

/* test_migration_v3 - a version 3 database gains the alerts table, and
 * (version 5) its unique row_key */
static void
test_migration_v3(void)
{
	const char *path = db_path("m34.db");
	char    fresh[8192], migrated[8192], err[512];
	struct rg_config cfg;
	struct audit *audit;

	test_begin("audit: migration from schema version 3 (alerts)");
	test_assert_int(exec_sql(path, audit_schema_v3_sql), 0);
	test_assert_int(exec_sql(path, "INSERT INTO verdicts (time, session_id, "
		"stage, rule, action, code) VALUES ('2026-01-02T03:04:05.006Z', "
		"'v2', 'rcpt', 'authenticated', 'accept', 250)"), 0);
	test_config(&cfg, path);
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	audit = audit_close(audit);
	test_assert_int(query_int(path, "PRAGMA user_version"), AUDIT_SCHEMA_VERSION);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 1);
	test_assert_int(exec_sql(path, "INSERT INTO alerts (time, row_key) VALUES "
		"('2026-01-02T03:04:06.000Z', 'mx1/1-2/3')"), 0);
	test_assert(exec_sql(path, "INSERT INTO alerts (time, row_key) VALUES "
		"('2026-01-02T03:04:07.000Z', 'mx1/1-2/3')") != 0);
	test_assert_int(exec_sql(path, "DELETE FROM alerts"), 0);
	test_assert_int(exec_sql(path, "INSERT INTO alerts (time, kind, account,"
		" limit_name, count, max, window_seconds, action) VALUES "
		"('2026-01-02T03:04:06.000Z', 'auth', 'bob', 'hour', 6, 5, 3600,"
		" 'alert')"), 0);
	test_assert_int(query_int(path, "SELECT alerts FROM alerts_by_account "
				  "WHERE account = 'bob'"), 1);
	test_assert_int(exec_sql(db_path("v4.db"), audit_schema_sql), 0);
	query_text(db_path("v4.db"), "SELECT group_concat(sql, ';') FROM "
		   "(SELECT sql FROM sqlite_master ORDER BY name)",
		   fresh, sizeof(fresh));
	query_text(path, "SELECT group_concat(sql, ';') FROM "
		   "(SELECT sql FROM sqlite_master ORDER BY name)",
		   migrated, sizeof(migrated));
	test_assert(fresh[0] != '\0' && strcmp(fresh, migrated) == 0);
	test_end();
}

/* test_newer_refused - user_version above ours: audit_open says why */
static void
test_newer_refused(void)
{
	const char *path = db_path("newer.db");
	char    err[512], want[640];
	struct rg_config cfg;
	struct audit *audit;

	test_begin("audit: newer schema version refused");
	test_assert_int(exec_sql(path, audit_schema_sql), 0);
	test_assert_int(exec_sql(path, "PRAGMA user_version = 99"), 0);
	test_config(&cfg, path);
	err[0] = '\0';
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit == NULL);
	audit = audit_close(audit);
	snprintf(want, sizeof(want), "audit database %s has schema version 99, "
		 "newer than this relayguard (%d): refusing to write", path,
		 AUDIT_SCHEMA_VERSION);
	test_assert_str(err, want);
	test_assert_int(query_int(path, "PRAGMA user_version"), 99);

	/* a foreign database is not touched either */
	path = db_path("foreign.db");
	test_assert_int(exec_sql(path, "CREATE TABLE t (x)"), 0);
	test_config(&cfg, path);
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit == NULL);
	audit = audit_close(audit);
	test_assert(strstr(err, "not a relayguard audit database") != NULL);
	test_end();
}

/* The counters a test can wait for. */
enum counter { WRITTEN, DIVERTED, FAILING };

/* counter_reached - has the counter reached want (FAILING: equals it)? */
static int
counter_reached(const struct audit_counters *c, enum counter which,
		uint64_t want)
{
	switch (which) {
	case WRITTEN:
		return c->written >= want;
	case DIVERTED:
		return c->diverted >= want;
	case FAILING:
		return (uint64_t) c->failing == want;
	}
	return 0;
}

/* wait_counter - poll until the counter is reached or ms pass; 1 when it was */
static int
wait_counter(struct audit *audit, enum counter which, uint64_t want, int ms)
{
	struct audit_counters c;
	int     i;

	for (i = 0; i < ms / 10; i++) {
		audit_get_counters(audit, &c);
		if (counter_reached(&c, which, want))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* test_continue_cantopen - the path is a directory: rows go to the log */
static void
test_continue_cantopen(void)
{
	const char *path = db_path("isadir.db");
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	struct verdict_record row;
	char    session[32], err[512];
	int     i;

	test_begin("audit: continue, database cannot be opened -> diverted");
	test_assert_int(mkdir(path, 0755), 0);
	test_config(&cfg, path);
	diverted_lines = 0;
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		test_end();
		return;
	}
	for (i = 0; i < 25; i++) {
		fill_row(&row, session, sizeof(session), 3, i);
		test_assert_int(audit_submit(audit, &row), 0);
	}
	audit_get_counters(audit, &c);
	test_assert_int(c.failing, 1);
	audit = audit_close(audit);
	test_assert_int(diverted_lines, 25);
	test_assert(strstr(last_diverted, "audit: diverted: time=2026-11-18T11:06:"
			   "40.147Z session=S3-24 queue=- stage=rcpt rule=relay "
			   "action=reject code=550") != NULL);
	test_end();
}

/* test_tempfail_recovers - tempfail: -1 while unwritable, then recovery */
static void
test_tempfail_recovers(void)
{
	const char *path = db_path("tempfail.db");
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	struct verdict_record row;
	char    session[32], err[512];

	test_begin("audit: tempfail, submit -1 while unwritable, then recovers");
	test_assert_int(mkdir(path, 0755), 0);
	test_config(&cfg, path);
	cfg.audit_failure = RG_AUDITFAIL_TEMPFAIL;
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		test_end();
		return;
	}
	/* the handle answers for its own audit_failure, whatever a later
	 * configuration says (the daemon's shutdown path asks it) */
	cfg.audit_failure = RG_AUDITFAIL_CONTINUE;
	test_assert_int(audit_defers(audit), 1);
	test_assert_int(audit_defers(NULL), 0);
	fill_row(&row, session, sizeof(session), 4, 1);
	test_assert_int(audit_submit(audit, &row), -1);
	test_assert_int(audit_submit(audit, &row), -1);
	/* the admin fixes the path; the writer retries on its own */
	test_assert_int(rmdir(path), 0);
	test_assert(wait_counter(audit, FAILING, 0, 10000));
	fill_row(&row, session, sizeof(session), 4, 2);
	test_assert_int(audit_submit(audit, &row), 0);
	audit_get_counters(audit, &c);
	test_assert_int(c.refused, 2);
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 1);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "session_id = 'S4-2'"), 1);
	test_end();
}

/* test_lock_held - another connection holds the write lock past the busy
 * timeout: the batch is diverted; once released, rows are written again */
static void
test_lock_held(void)
{
	const char *path = db_path("locked.db");
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	struct verdict_record row;
	sqlite3 *other = NULL;
	char    session[32], err[512];
	int     i;

	test_begin("audit: continue, write lock held elsewhere -> diverted, recovers");
	test_config(&cfg, path);
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		test_end();
		return;
	}
	test_assert_int(sqlite3_open(path, &other), SQLITE_OK);
	test_assert_int(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			SQLITE_OK);
	diverted_lines = 0;
	for (i = 0; i < 10; i++) {
		fill_row(&row, session, sizeof(session), 5, i);
		test_assert_int(audit_submit(audit, &row), 0);
	}
	test_assert(wait_counter(audit, FAILING, 1, 8000));
	test_assert(wait_counter(audit, DIVERTED, 10, 5000));
	audit_get_counters(audit, &c);
	test_assert_int(c.diverted, 10);
	test_assert_int(diverted_lines, 10);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	test_assert(wait_counter(audit, FAILING, 0, 10000));
	for (i = 10; i < 20; i++) {
		fill_row(&row, session, sizeof(session), 5, i);
		test_assert_int(audit_submit(audit, &row), 0);
	}
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 10);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts WHERE "
				  "session_id IN ('S5-10', 'S5-19')"), 2);
	test_end();
}

/* reader_child - wait for "go" on in_fd, hold a read transaction open
 * for secs, report the count it saw at the start and at the end (the same
 * snapshot) on out_fd.  Forked before the writer starts, so the child
 * shares none of its state. */
static void
reader_child(const char *path, int secs, int in_fd, int out_fd)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long before = -1, after = -1;
	char    line[64];

	if (read(in_fd, line, 1) != 1
	    || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
	    || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM verdicts", -1, &st,
				  NULL) != SQLITE_OK)
		_exit(1);
	if (sqlite3_step(st) == SQLITE_ROW)
		before = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	snprintf(line, sizeof(line), "open %lld\n", before);
	if (write(out_fd, line, strlen(line)) < 0)
		_exit(1);
	sleep((unsigned) secs);
	if (sqlite3_step(st) == SQLITE_ROW)
		after = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	snprintf(line, sizeof(line), "done %lld\n", after);
	if (write(out_fd, line, strlen(line)) < 0)
		_exit(1);
	_exit(before == after ? 0 : 2);
}

/* test_long_reader - an admin's open read transaction does not stall the
 * writer.  The issue speaks of a minute; RG_AUDIT_READER_SECONDS sets it
 * (default 10 s to keep make check short; the result does not depend on
 * the length, only on WAL letting the writer pass the reader).  A stalled
 * writer would show as bursts not committed within 3 s and, once the
 * queue is full, submitters blocked for as long as the reader lasts. */
static void
test_long_reader(void)
{
	const char *path = db_path("reader.db");
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	struct verdict_record row;
	char    session[32], err[512], line[64];
	double  max_ms = 0, t0, dt;
	int     secs, to_reader[2], from_reader[2], status, i, j, batches;
	pid_t   pid;
	FILE   *reader;

	secs = getenv("RG_AUDIT_READER_SECONDS") ?
		atoi(getenv("RG_AUDIT_READER_SECONDS")) : 10;
	if (secs < 2)
		secs = 2;
	test_begin("audit: long read transaction does not stall the writer");
	test_assert_int(pipe(to_reader), 0);
	test_assert_int(pipe(from_reader), 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(to_reader[1]);
		close(from_reader[0]);
		reader_child(path, secs, to_reader[0], from_reader[1]);
	}
	close(to_reader[0]);
	close(from_reader[1]);
	reader = fdopen(from_reader[0], "r");

	test_config(&cfg, path);
	cfg.audit_queue_rows = 8192;	/* a stalled writer would fill it */
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fclose(reader);
		close(to_reader[1]);
		test_end();
		return;
	}
	fill_row(&row, session, sizeof(session), 6, 0);
	audit_submit(audit, &row);
	test_assert(wait_counter(audit, WRITTEN, 1, 5000));
	test_assert_int(write(to_reader[1], "g", 1), 1);
	close(to_reader[1]);
	test_assert(fgets(line, sizeof(line), reader) != NULL);
	test_assert_str(line, "open 1\n");

	/* while the reader holds its snapshot: bursts of rows, each must be
	 * committed within 3 s; no single audit_submit() may wait long */
	batches = secs * 4 - 4;
	for (i = 0; i < batches; i++) {
		for (j = 0; j < 2500; j++) {
			fill_row(&row, session, sizeof(session), 7, i * 2500 + j);
			t0 = now_ms();
			test_assert_int(audit_submit(audit, &row), 0);
			dt = now_ms() - t0;
			if (dt > max_ms)
				max_ms = dt;
		}
		test_assert(wait_counter(audit, WRITTEN, 1 + (uint64_t) (i + 1) * 2500, 3000));
		usleep(200000);
	}
	audit_get_counters(audit, &c);
	test_assert_int(c.written, 1 + batches * 2500);
	test_assert_int(c.diverted, 0);
	test_assert(max_ms < 250);
	printf("# long reader %d s: %d rows committed meanwhile, slowest "
	       "audit_submit %.2f ms\n", secs, batches * 2500, max_ms);

	test_assert(fgets(line, sizeof(line), reader) != NULL);
	test_assert_str(line, "done 1\n");	/* its snapshot never moved */
	fclose(reader);
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"),
			1 + batches * 2500);
	test_end();
}

/* test_renamed - the file is renamed under the writer: the old file keeps
 * its rows, intact, and new rows go to a new database at the path */
static void
test_renamed(void)
{
	char    path[512], moved[560], err[512], buf[64];
	struct rg_config cfg;
	struct audit *audit;
	struct verdict_record row;
	char    session[32];
	int     i;

	test_begin("audit: database renamed while running -> a new one");
	snprintf(path, sizeof(path), "%s", db_path("rotated.db"));
	snprintf(moved, sizeof(moved), "%s.1", path);
	test_config(&cfg, path);
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	if (audit == NULL) {
		test_end();
		return;
	}
	for (i = 0; i < 100; i++) {
		fill_row(&row, session, sizeof(session), 8, i);
		audit_submit(audit, &row);
	}
	test_assert(wait_counter(audit, WRITTEN, 100, 5000));
	test_assert_int(rename(path, moved), 0);
	usleep(1100000);		/* past the writer's once-a-second check */
	for (i = 100; i < 250; i++) {
		fill_row(&row, session, sizeof(session), 8, i);
		audit_submit(audit, &row);
	}
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 150);
	test_assert_int(query_int(moved, "SELECT COUNT(*) FROM verdicts"), 100);
	test_assert_str(query_text(moved, "PRAGMA integrity_check", buf,
				   sizeof(buf)), "ok");
	test_assert_str(query_text(path, "PRAGMA integrity_check", buf,
				   sizeof(buf)), "ok");
	test_end();
}

static const char old_rows_sql[] =
	"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	"WHERE i < 2500) INSERT INTO verdicts (time, stage, rule, action) "
	"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days'), 'rcpt', "
	"'unknown', 'reject' FROM n; "
	"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	"WHERE i < 10) INSERT INTO verdicts (time, stage, rule, action) "
	"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 days'), 'rcpt', "
	"'local', 'accept' FROM n";

/* test_retention - rows older than audit_retention_days go at start */
static void
test_retention(void)
{
	const char *path = db_path("retention.db");
	struct rg_config cfg;
	struct audit *audit;
	char    err[512];
	int     i;

	test_begin("audit: retention purges old rows in batches");
	test_assert_int(exec_sql(path, audit_schema_sql), 0);
	/* 2500 rows 100 days old, 10 rows 10 days old */
	test_assert_int(exec_sql(path, old_rows_sql), 0);
	test_config(&cfg, path);
	cfg.audit_retention_days = 90;
	audit = audit_open(&cfg, err, sizeof(err));
	test_assert(audit != NULL);
	/* the purge runs on the writer thread, 1000 rows per transaction */
	for (i = 0; i < 1000; i++) {
		if (query_int(path, "SELECT COUNT(*) FROM verdicts") == 10)
			break;
		usleep(10000);
	}
	audit = audit_close(audit);
	test_assert_int(query_int(path, "SELECT COUNT(*) FROM verdicts"), 10);
	test_end();
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-audit.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	audit_set_logger(capture_log, NULL);
	test_create_and_fields();
	test_threads();
	test_migration();
	test_migration_v2();
	test_migration_v3();
	test_newer_refused();
	test_continue_cantopen();
	test_tempfail_recovers();
	test_lock_held();
	test_retention();
	test_renamed();
	test_long_reader();
	if (getenv("TEST_AUDIT_KEEP") == NULL) {
		char    cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return test_exit();
}
