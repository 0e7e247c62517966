/*
 * audit_store_ops - what a store reader implements (see audit_store.h)
 *
 * audit_store.c dispatches through one of these; audit_store_sqlite.c
 * and audit_store_pgsql.c provide them.  Private to those three files.
 */
#ifndef RG_AUDIT_STORE_OPS_H
#define RG_AUDIT_STORE_OPS_H

#include "audit_store.h"

struct audit_store_ops {
	const char *kind;
	void   *(*open) (const char *name, const char *password_file,
			 char *err, size_t errlen);
	int     (*version) (void *h, char *err, size_t errlen);
	int     (*check) (void *h, char *err, size_t errlen);
	void   *(*query) (void *h, const char *sql,
			  const struct audit_param *params, int nparams,
			  char *err, size_t errlen);
	int     (*next) (void *cur, char *err, size_t errlen);
	int     (*columns) (void *cur);
	const char *(*name) (void *cur, int col);
	const char *(*text) (void *cur, int col);
	int     (*is_int) (void *cur, int col);
	void    (*close_cursor) (void *cur);
	int     (*timeout) (void *h, unsigned ms, char *err, size_t errlen);
	void    (*close) (void *h);
};

extern const struct audit_store_ops audit_store_sqlite;
extern const struct audit_store_ops audit_store_pgsql;

#endif
