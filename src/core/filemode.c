/*
 * filemode - start-up checks on the modes of the files the daemon trusts
 *
 * See filemode.h.  The checks look at the directory holding the audit
 * database, then at the database file itself when it exists.  SQLite
 * creates its -wal and -shm files beside the database, so the directory
 * must be writable by the daemon's user, not just the file.  A sticky
 * world-writable directory (/tmp) is accepted: no one else may remove or
 * rename our file there.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "filemode.h"

/* user_name - the name of the real user, for messages */
static void
user_name(char *buf, size_t len)
{
	struct passwd *pw;

	if ((pw = getpwuid(getuid())) != NULL)
		rg_snprintf(buf, len, "%s (uid %u)", pw->pw_name,
			    (unsigned) getuid());
	else
		rg_snprintf(buf, len, "uid %u", (unsigned) getuid());
}

/* parent_dir - the directory part of path ("." when there is none) */
static void
parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		rg_strlcpy(dir, ".", len);
		return;
	}
	if (slash == path) {
		rg_strlcpy(dir, "/", len);
		return;
	}
	n = (size_t) (slash - path);
	if (n >= len)
		n = len - 1;
	memcpy(dir, path, n);
	dir[n] = '\0';
}

/* filemode_audit_db_safe - the directory, then the file */
int
filemode_audit_db_safe(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char dir[4096];

	parent_dir(path, dir, sizeof(dir));
	if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH)
	    && !(st.st_mode & S_ISVTX) && S_ISDIR(st.st_mode)) {
		rg_snprintf(err, errlen, "audit_db %s: directory %s is "
			    "world-writable (mode %04o): anyone could replace "
			    "the audit trail; use a directory of the daemon's "
			    "own (chmod o-w %s)", path, dir,
			    (unsigned) (st.st_mode & 07777), dir);
		return -1;
	}
	if (stat(path, &st) < 0)
		return 0;		/* created at first start */
	if (!S_ISREG(st.st_mode)) {
		rg_snprintf(err, errlen, "audit_db %s: not a regular file",
			    path);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		rg_snprintf(err, errlen, "audit_db %s is world-writable "
			    "(mode %04o): anyone could rewrite the audit "
			    "trail (chmod o-w %s)", path,
			    (unsigned) (st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* filemode_audit_db_usable - can we create, read and write it? */
int
filemode_audit_db_usable(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char dir[4096], who[128];

	parent_dir(path, dir, sizeof(dir));
	user_name(who, sizeof(who));
	if (stat(dir, &st) < 0) {
		rg_snprintf(err, errlen, "audit_db %s: directory %s: %s "
			    "(create it, writable by %s)", path, dir,
			    strerror(errno), who);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		rg_snprintf(err, errlen, "audit_db %s: %s is not a directory",
			    path, dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		rg_snprintf(err, errlen, "audit_db %s: directory %s is not "
			    "writable by %s: SQLite creates the database and "
			    "its -wal and -shm files there (chown the "
			    "directory to that user)", path, dir, who);
		return -1;
	}
	if (stat(path, &st) == 0 && access(path, R_OK | W_OK) < 0) {
		rg_snprintf(err, errlen, "audit_db %s is not readable and "
			    "writable by %s (chown the file to that user)",
			    path, who);
		return -1;
	}
	return 0;
}
