/*
 * privileges - start-up checks on the files the daemon trusts
 *
 * The audit database is evidence: whoever can replace it can rewrite
 * history.  priv_check_audit_db() refuses a database that anyone may
 * replace (its directory world-writable without the sticky bit) or
 * rewrite (the file world-writable), and, when asked, one that the
 * daemon's own user could not write, with a message that says which
 * file, what is wrong and what to do.  Run after dropping privileges,
 * so that "writable" is judged for the user the daemon runs as.
 */
#ifndef RG_PRIVILEGES_H
#define RG_PRIVILEGES_H

#include <stddef.h>

/* priv_check_audit_db - 0 when the database at path (which may not exist
 * yet) is safe to use; -1 with err set when it is not.  check_access:
 * also require that this process can create files in the directory and
 * read and write the database (access(2), real ids). */
int     priv_check_audit_db(const char *path, int check_access,
			    char *err, size_t errlen);

#endif
