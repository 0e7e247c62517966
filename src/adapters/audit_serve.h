/*
 * audit_serve - relayguard-audit serve: the dashboard's HTTP server
 *
 * SYNOPSIS
 *	relayguard-audit [-d DB] [-p PGPASSFILE] serve [--listen ADDR:PORT]
 *	    [--password-file FILE] [--web-root DIR] [--chartjs FILE]
 *
 * DESCRIPTION
 *	A read-only web dashboard over the audit store (an SQLite file or a
 *	postgresql:// URI, read through audit_store.h), served with
 *	libmicrohttpd: the pages and their script from the project's own
 *	files (--web-root, installed under the data directory), Chart.js
 *	from Debian's libjs-chart.js (--chartjs), and the JSON API of
 *	audit_api.c under /api/.  It listens on 127.0.0.1:8026 by default;
 *	any address that is not loopback needs --password-file (HTTP basic
 *	auth; put a TLS reverse proxy in front).  Every answer carries a
 *	strict Content-Security-Policy: scripts only from this server, no
 *	inline script or style, no framing.
 *
 * DIAGNOSTICS
 *	Exit 0 after SIGTERM or SIGINT, 1 when it cannot start, 2 on a
 *	usage error.
 */
#ifndef RG_AUDIT_SERVE_H
#define RG_AUDIT_SERVE_H

/* audit_serve_main - run the server over db_path (password file for
 * PostgreSQL, or NULL) until a signal; argv[0] is "serve" */
int     audit_serve_main(const char *db_path, const char *db_password_file,
			 int argc, char **argv);

#endif
