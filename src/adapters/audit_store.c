/*
 * audit_store - read-only access to the audit trail (see audit_store.h)
 *
 * Chooses the reader by the name's form (a postgresql:// URI or a path)
 * and dispatches to it.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "config.h"
#include "audit_store.h"
#include "audit_store_ops.h"

struct audit_store {
	const struct audit_store_ops *ops;
	void   *h;
};

struct audit_cursor {
	const struct audit_store_ops *ops;
	void   *c;
};

/* audit_store_open - the reader for name */
struct audit_store *
audit_store_open(const char *name, const char *password_file, char *err,
		 size_t errlen)
{
	const struct audit_store_ops *ops = config_audit_is_pgsql(name) ?
	&audit_store_pgsql : &audit_store_sqlite;
	struct audit_store *st;
	void   *h;

	if ((h = ops->open(name, password_file, err, errlen)) == NULL)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->ops = ops;
	st->h = h;
	return st;
}

/* audit_store_version - the schema version */
int
audit_store_version(struct audit_store *st, char *err, size_t errlen)
{
	return st->ops->version(st->h, err, errlen);
}

/* audit_store_check - the current schema? */
int
audit_store_check(struct audit_store *st, char *err, size_t errlen)
{
	return st->ops->check(st->h, err, errlen);
}

/* audit_store_kind - "sqlite" or "postgresql" */
const char *
audit_store_kind(const struct audit_store *st)
{
	return st->ops->kind;
}

/* audit_store_set_timeout - a time limit per query */
int
audit_store_set_timeout(struct audit_store *st, unsigned ms, char *err,
			size_t errlen)
{
	return st->ops->timeout(st->h, ms, err, errlen);
}

/* audit_store_query - run sql */
struct audit_cursor *
audit_store_query(struct audit_store *st, const char *sql,
		  const struct audit_param *params, int nparams, char *err,
		  size_t errlen)
{
	struct audit_cursor *c;
	void   *h;

	if ((h = st->ops->query(st->h, sql, params, nparams, err, errlen)) == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->ops = st->ops;
	c->c = h;
	return c;
}

/* audit_cursor_next - the next row */
int
audit_cursor_next(struct audit_cursor *c, char *err, size_t errlen)
{
	return c->ops->next(c->c, err, errlen);
}

/* audit_cursor_columns - how many */
int
audit_cursor_columns(struct audit_cursor *c)
{
	return c->ops->columns(c->c);
}

/* audit_cursor_name - a column's name */
const char *
audit_cursor_name(struct audit_cursor *c, int col)
{
	return c->ops->name(c->c, col);
}

/* audit_cursor_text - a value as text, NULL for NULL */
const char *
audit_cursor_text(struct audit_cursor *c, int col)
{
	return c->ops->text(c->c, col);
}

/* audit_cursor_int - a value as an integer (0 for NULL) */
int64_t
audit_cursor_int(struct audit_cursor *c, int col)
{
	const char *s = c->ops->text(c->c, col);

	return s ? strtoll(s, NULL, 10) : 0;
}

/* audit_cursor_is_int - an integer column (JSON numbers) */
int
audit_cursor_is_int(struct audit_cursor *c, int col)
{
	return c->ops->is_int(c->c, col);
}

/* audit_cursor_close - release the cursor */
struct audit_cursor *
audit_cursor_close(struct audit_cursor *c)
{
	if (c != NULL) {
		c->ops->close_cursor(c->c);
		free(c);
	}
	return NULL;
}

/* audit_store_close - release the store */
struct audit_store *
audit_store_close(struct audit_store *st)
{
	if (st != NULL) {
		st->ops->close(st->h);
		free(st);
	}
	return NULL;
}
