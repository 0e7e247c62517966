/*
 * filemode - start-up checks on the modes of the files the daemon trusts
 *
 * The audit database is evidence: whoever can replace it can rewrite
 * history.  filemode_audit_db_safe() refuses a database that anyone may
 * replace (its directory world-writable without the sticky bit) or
 * rewrite (the file world-writable).  filemode_audit_db_usable() tells
 * whether this process can create the database and its journal files
 * and write them; when it cannot, the daemon still starts (audit_failure
 * decides what happens to verdicts, as for a disk that fills up later)
 * but says so loudly, naming the user and the fix.  Run after dropping
 * privileges, so that access is judged for the user the daemon runs as.
 */
#ifndef RG_FILEMODE_H
#define RG_FILEMODE_H

#include <stddef.h>

/* filemode_audit_db_safe - 0 when no one but its owners can replace or
 * rewrite the database at path (which may not exist yet); -1 with err
 * set (file, mode, fix) when they can */
int     filemode_audit_db_safe(const char *path, char *err, size_t errlen);

/* filemode_audit_db_usable - 0 when this process (real ids, access(2)) can
 * create files in the database's directory and read and write an
 * existing database; -1 with err set (file, user, fix) when not */
int     filemode_audit_db_usable(const char *path, char *err, size_t errlen);

#endif
