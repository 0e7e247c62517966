/*
 * pg_conn - connecting to PostgreSQL, for the audit writer and readers
 *
 * One owner for what both need: the password (audit_password_file, or
 * libpq's own pgpass/service files when there is none), the connection
 * itself with bounded time-outs, and how the database is named in
 * messages: "user@host:port/db", never with the URI's password.
 */
#ifndef RG_PG_CONN_H
#define RG_PG_CONN_H

#include <stddef.h>

#include <libpq-fe.h>

/* pg_conn_password - the first line of path (malloc'd); NULL + err */
char   *pg_conn_password(const char *path, char *err, size_t errlen);

/* pg_conn_open - connect to uri (password NULL: libpq's files) with a
 * connect timeout; NULL + err naming the database and libpq's reason */
PGconn *pg_conn_open(const char *uri, const char *password,
		     const char *application, char *err, size_t errlen);

/* pg_conn_describe - "user@host:port/db" from a URI */
void    pg_conn_describe(const char *uri, char *buf, size_t size);

/* pg_conn_message - a libpq message on one line (no newlines, tabs) */
void    pg_conn_message(const char *msg, char *buf, size_t size);

/* pg_conn_free_password - wipe and free; returns NULL */
char   *pg_conn_free_password(char *password);

#endif
