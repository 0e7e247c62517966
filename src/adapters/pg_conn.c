/*
 * pg_conn - connecting to PostgreSQL (see pg_conn.h)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "util.h"
#include "pg_conn.h"

#define PG_PASSWORD_MAX		1024
#define PG_CONNECT_TIMEOUT	"5"	/* seconds */

/* pg_conn_message - libpq's message on one line */
void
pg_conn_message(const char *msg, char *buf, size_t size)
{
	size_t  i, j = 0;

	for (i = 0; msg && msg[i] && j + 1 < size; i++)
		buf[j++] = (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t') ?
			' ' : msg[i];
	while (j > 0 && buf[j - 1] == ' ')
		j--;
	if (size > 0)
		buf[j] = '\0';
}

/* pg_conn_describe - "user@host:port/db", nothing secret */
void
pg_conn_describe(const char *uri, char *buf, size_t size)
{
	PQconninfoOption *opts, *o;
	const char *user = "", *host = "", *port = "", *db = "";

	if ((opts = PQconninfoParse(uri, NULL)) == NULL) {
		rg_strlcpy(buf, "(unparsable URI)", size);
		return;
	}
	for (o = opts; o->keyword; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	rg_snprintf(buf, size, "%s%s%s%s%s/%s", user, *user ? "@" : "",
		    *host ? host : "localhost", *port ? ":" : "", port, db);
	PQconninfoFree(opts);
}

/* pg_conn_password - the first line of path */
char *
pg_conn_password(const char *path, char *err, size_t errlen)
{
	char    buf[PG_PASSWORD_MAX + 2], *pw;
	FILE   *fp;
	size_t  len;

	if ((fp = fopen(path, "r")) == NULL) {
		rg_snprintf(err, errlen, "audit_password_file %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	len = strcspn(buf, "\r\n");
	if (len > PG_PASSWORD_MAX) {
		explicit_bzero(buf, sizeof(buf));
		rg_snprintf(err, errlen, "audit_password_file %s: longer than %d "
			    "bytes", path, PG_PASSWORD_MAX);
		return NULL;
	}
	buf[len] = '\0';
	pw = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/* pg_conn_free_password - wipe and free */
char   *
pg_conn_free_password(char *password)
{
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	return NULL;
}

/* pg_conn_open - connect, or say why not */
PGconn *
pg_conn_open(const char *uri, const char *password, const char *application,
	     char *err, size_t errlen)
{
	const char *keys[5], *vals[5];
	char    where[256], msg[400];
	PGconn *conn;
	int     n = 0;

	keys[n] = "dbname", vals[n++] = uri;	/* expanded: the URI */
	keys[n] = "connect_timeout", vals[n++] = PG_CONNECT_TIMEOUT;
	keys[n] = "application_name", vals[n++] = application;
	if (password != NULL)
		keys[n] = "password", vals[n++] = password;
	keys[n] = vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
		return conn;
	pg_conn_describe(uri, where, sizeof(where));
	pg_conn_message(conn ? PQerrorMessage(conn) : "out of memory", msg,
			sizeof(msg));
	rg_snprintf(err, errlen, "PostgreSQL %s: cannot connect: %s", where, msg);
	PQfinish(conn);
	return NULL;
}
