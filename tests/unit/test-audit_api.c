/*
 * test-audit_api - the dashboard API on a small SQLite audit database,
 * read through audit_store: counts, bounds, bound parameters, formats
 * (the same queries on PostgreSQL: tests/e2e/dashboard-pg.sh)
 */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "testlib.h"
#include "audit_schema.h"
#include "audit_store.h"
#include "audit_api.h"

#define NOW 1796000000L		/* 2026-11-30T... */

/* params - "k=v" pairs, NULL-terminated */
static const char *
param(void *ctx, const char *name)
{
	const char **kv = ctx;
	size_t  n = strlen(name);

	for (; *kv; kv++)
		if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
			return *kv + n + 1;
	return NULL;
}

static struct audit_store *store;

static char *
call(sqlite3 *db, const char *path, const char **kv, int *status,
     const char **type)
{
	struct api_response rs;
	char   *body;

	(void) db;
	audit_api_handle(store, path, param, kv, NOW, &rs);
	*status = rs.status;
	if (type)
		*type = rs.content_type;
	body = wt_buf_export(&rs.body, NULL);
	return body;
}

static void
add(sqlite3 *db, const char *time, const char *client, const char *stage,
    const char *rule, const char *action, const char *rcpt)
{
	sqlite3_stmt *st;

	sqlite3_prepare_v2(db, "INSERT INTO verdicts (time, session_id, "
			   "client_addr, stage, rule, action, rcpt, client_trust, node) "
			   "VALUES (?, 'S1', ?, ?, ?, ?, ?, 'untrusted', 'mx1')", -1, &st, NULL);
	sqlite3_bind_text(st, 1, time, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, rcpt, -1, SQLITE_STATIC);
	test_assert(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
}

int
main(void)
{
	sqlite3 *db;
	char    err[256], *body, t1[32], t2[32];
	int     fatal, status;
	const char *type;
	time_t  a = NOW - 100, b = NOW - 4000;
	struct tm tm;
	char    path[] = "/tmp/test-audit_api.XXXXXX";
	int     fd = mkstemp(path);

	test_begin("schema");
	test_assert(fd >= 0);
	close(fd);
	sqlite3_open(path, &db);
	test_assert(audit_schema_prepare(db, path, "mx1", &fatal, err,
					 sizeof(err)) == 0);
	test_end();
	gmtime_r(&a, &tm);
	strftime(t1, sizeof(t1), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	gmtime_r(&b, &tm);
	strftime(t2, sizeof(t2), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	add(db, t1, "192.0.2.1", "rcpt", "relay", "reject", "<a@remote.test>");
	add(db, t1, "192.0.2.1", "rcpt", "relay", "reject", "<b@remote.test>");
	add(db, t1, "192.0.2.2", "rcpt", "local", "accept", "<alice@example.test>");
	add(db, t2, "192.0.2.3", "rcpt", "unknown", "reject", "<x@example.test>");
	add(db, "2000-01-01T00:00:00.000Z", "192.0.2.9", "rcpt", "relay", "reject",
	    "<old@remote.test>");
	store = audit_store_open(path, NULL, err, sizeof(err));
	test_begin("store");
	test_assert(store != NULL);
	test_end();
	if (store == NULL)
		return test_exit();

	{
		const char *kv[] = {"range=1h", NULL};

		test_begin("summary: the last hour only");
		body = call(db, "/api/summary", kv, &status, NULL);
		test_assert_int(status, 200);
		test_assert(strstr(body, "\"total\":3,\"refused\":2,") != NULL);
		test_assert(strstr(body, "\"rcpt_accepted\":1,\"rcpt_refused\":2") != NULL);
		test_assert(strstr(body, "\"relay\":2") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {NULL};

		test_begin("summary: default 24 hours");
		body = call(db, "/api/summary", kv, &status, NULL);
		test_assert(strstr(body, "\"total\":4,") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=1h", NULL};

		test_begin("timeline: buckets add up");
		body = call(db, "/api/timeline", kv, &status, NULL);
		test_assert_int(status, 200);
		test_assert(strstr(body, "\"bucket\":60,") != NULL);
		test_assert(strstr(body, "{\"rule\":\"relay\",\"counts\":[") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "limit=1", NULL};

		test_begin("search: limit and truncation");
		body = call(db, "/api/search", kv, &status, NULL);
		test_assert_int(status, 200);
		test_assert(strstr(body, "\"truncated\":true") != NULL);
		test_assert(strstr(body, "\"limit\":1,") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "addr=' OR 1=1 --", NULL};

		test_begin("search: values are bound, never SQL");
		body = call(db, "/api/search", kv, &status, NULL);
		test_assert_int(status, 200);
		test_assert(strstr(body, "\"rows\":[]") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "addr=REMOTE.test", "format=csv", NULL};

		test_begin("search: address substring, CSV");
		body = call(db, "/api/search", kv, &status, &type);
		test_assert_int(status, 200);
		test_assert_str(type, "text/csv; charset=utf-8");
		test_assert(strncmp(body, "id,time,", 8) == 0);
		test_assert(strstr(body, "<a@remote.test>") != NULL);
		test_assert(strstr(body, "<old@remote.test>") == NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "what=clients", NULL};

		test_begin("top clients");
		body = call(db, "/api/top", kv, &status, NULL);
		test_assert(strstr(body, "\"rows\":[[\"192.0.2.1\",null,2,2],"
				   "[\"192.0.2.3\",null,1,1]]") != NULL);
		free(body);
		test_end();
	}
	{
		const char *bad[][4] = {
			{"limit=0", NULL}, {"limit=5001", NULL}, {"limit=x", NULL},
			{"from=0", "to=1796000000", NULL}, {"from=10", "to=5", NULL},
			{"range=2y", NULL}, {"format=xml", NULL},
		};
		size_t  i;

		test_begin("bad parameters: 400");
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			body = call(db, "/api/search", bad[i], &status, NULL);
			test_assert_int(status, 400);
			test_assert(strncmp(body, "{\"error\":", 9) == 0);
			free(body);
		}
		body = call(db, "/api/top", bad[6] + 1, &status, NULL);
		test_assert_int(status, 400);		/* what missing */
		free(body);
		body = call(db, "/api/nothing", bad[6] + 1, &status, NULL);
		test_assert_int(status, 404);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "addr=100%", NULL};

		test_begin("search: % and _ are literal");
		body = call(db, "/api/search", kv, &status, NULL);
		test_assert(strstr(body, "\"rows\":[]") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "client=192.0.2.1", NULL};

		test_begin("search: a client address is exact");
		body = call(db, "/api/search", kv, &status, NULL);
		test_assert_int(status, 200);
		test_assert(strstr(body, "\"192.0.2.2\"") == NULL);
		test_assert(strstr(body, "<a@remote.test>") != NULL
			    || strstr(body, "\\u003ca@remote.test\\u003e") != NULL);
		free(body);
		test_end();
	}
	{
		const char *kv[] = {"range=24h", "node=mx2", NULL};

		test_begin("node: another MX's rows only");
		body = call(db, "/api/summary", kv, &status, NULL);
		test_assert(strstr(body, "\"total\":0,") != NULL);
		free(body);
		test_end();
	}
	store = audit_store_close(store);
	sqlite3_close(db);
	unlink(path);
	return test_exit();
}
