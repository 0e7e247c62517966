/*
 * audit_store_sqlite - the SQLite reader behind audit_store.h
 *
 * SQLITE_OPEN_READONLY, a busy timeout, each query its own short read
 * transaction: the daemon's writer is never held up (WAL).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "util.h"
#include "audit_schema.h"
#include "audit_store_ops.h"

#define STORE_BUSY_MS 5000

struct lite {
	sqlite3 *db;
	char   *path;
	unsigned timeout_ms;		/* per query; 0 none */
	int64_t deadline_ms;		/* of the query running now; 0 none */
};

struct lite_cursor {
	struct lite *l;
	sqlite3_stmt *st;
};

/* past_deadline - progress handler: interrupt a query past its time */
static int
past_deadline(void *h)
{
	struct lite *l = h;

	return l->deadline_ms != 0 && rg_mono_ms() > l->deadline_ms;
}

/* lite_open - read-only connection */
static void *
lite_open(const char *path, const char *password_file, char *err,
	  size_t errlen)
{
	struct stat sb;
	struct lite *l;
	int     rc;

	(void) password_file;
	if (stat(path, &sb) < 0) {
		rg_snprintf(err, errlen, "%s: %s", path, errno == ENOENT ?
			    "no such file" : strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		rg_snprintf(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		rg_snprintf(err, errlen, "%s: cannot open: %s", path, l->db ?
			    sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
		sqlite3_close(l->db);
		free(l->path);
		free(l);
		return NULL;
	}
	sqlite3_busy_timeout(l->db, STORE_BUSY_MS);
	sqlite3_progress_handler(l->db, 1000, past_deadline, l);
	return l;
}

/* lite_version - PRAGMA user_version */
static int
lite_version(void *h, char *err, size_t errlen)
{
	struct lite *l = h;

	return audit_schema_version(l->db, l->path, err, errlen);
}

/* lite_check - a current audit database */
static int
lite_check(void *h, char *err, size_t errlen)
{
	struct lite *l = h;
	char    why[512];

	if (audit_schema_check(l->db, l->path, why, sizeof(why)) == 0)
		return 0;
	if (sqlite3_errcode(l->db) == SQLITE_CANTOPEN
	    || sqlite3_errcode(l->db) == SQLITE_READONLY)
		rg_snprintf(err, errlen, "%s (a WAL database needs its -shm file, "
			    "or a directory this user can write, to be read)", why);
	else
		rg_strlcpy(err, why, errlen);
	return -1;
}

/* lite_query - prepare and bind */
static void *
lite_query(void *h, const char *sql, const struct audit_param *p, int n,
	   char *err, size_t errlen)
{
	struct lite *l = h;
	struct lite_cursor *c;
	sqlite3_stmt *st = NULL;
	int     i, rc = SQLITE_OK;

	l->deadline_ms = l->timeout_ms ? rg_mono_ms() + l->timeout_ms : 0;

	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rg_snprintf(err, errlen, "%s: %s", l->path, sqlite3_errmsg(l->db));
		return NULL;
	}
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		if (p[i].kind == AUDIT_P_TEXT)
			rc = sqlite3_bind_text(st, i + 1, p[i].text, -1,
					       SQLITE_TRANSIENT);
		else if (p[i].kind == AUDIT_P_INT)
			rc = sqlite3_bind_int64(st, i + 1, p[i].num);
	}
	if (rc != SQLITE_OK) {
		rg_snprintf(err, errlen, "%s: %s", l->path, sqlite3_errmsg(l->db));
		sqlite3_finalize(st);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->l = l;
	c->st = st;
	return c;
}

/* lite_next - step */
static int
lite_next(void *cur, char *err, size_t errlen)
{
	struct lite_cursor *c = cur;
	int     rc = sqlite3_step(c->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	rg_snprintf(err, errlen, "%s: %s", c->l->path, sqlite3_errmsg(c->l->db));
	return -1;
}

static int
lite_columns(void *cur)
{
	return sqlite3_column_count(((struct lite_cursor *) cur)->st);
}

static const char *
lite_name(void *cur, int col)
{
	return sqlite3_column_name(((struct lite_cursor *) cur)->st, col);
}

static const char *
lite_text(void *cur, int col)
{
	return (const char *) sqlite3_column_text(((struct lite_cursor *) cur)->st,
						  col);
}

static int
lite_is_int(void *cur, int col)
{
	return sqlite3_column_type(((struct lite_cursor *) cur)->st, col)
		== SQLITE_INTEGER;
}

/* lite_timeout - the per-query limit the progress handler enforces */
static int
lite_timeout(void *h, unsigned ms, char *err, size_t errlen)
{
	(void) err;
	(void) errlen;
	((struct lite *) h)->timeout_ms = ms;
	return 0;
}

static void
lite_close_cursor(void *cur)
{
	struct lite_cursor *c = cur;

	sqlite3_finalize(c->st);
	free(c);
}

static void
lite_close(void *h)
{
	struct lite *l = h;

	sqlite3_close(l->db);
	free(l->path);
	free(l);
}

const struct audit_store_ops audit_store_sqlite = {
	.kind = "sqlite",
	.open = lite_open,
	.version = lite_version,
	.check = lite_check,
	.query = lite_query,
	.next = lite_next,
	.columns = lite_columns,
	.name = lite_name,
	.text = lite_text,
	.is_int = lite_is_int,
	.close_cursor = lite_close_cursor,
	.timeout = lite_timeout,
	.close = lite_close,
};
