/*
 * privileges - start-up checks on the files the daemon trusts
 *
 * See privileges.h.  The checks look at the directory holding the audit
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
#include "privileges.h"

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

/* check_dir - the directory exists, is no one's to replace, is ours */
static int
check_dir(const char *path, const char *dir, int check_access,
	  char *err, size_t errlen)
{
	struct stat st;
	char who[128];

	if (stat(dir, &st) < 0) {
		rg_snprintf(err, errlen, "audit_db %s: directory %s: %s%s", path,
			    dir, strerror(errno), errno == ENOENT
			    ? " (create it, writable by the daemon's user)" : "");
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		rg_snprintf(err, errlen, "audit_db %s: %s is not a directory",
			    path, dir);
		return -1;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		rg_snprintf(err, errlen, "audit_db %s: directory %s is "
			    "world-writable (mode %04o): anyone could replace "
			    "the audit trail; use a directory of the daemon's "
			    "own (chmod o-w %s)", path, dir,
			    (unsigned) (st.st_mode & 07777), dir);
		return -1;
	}
	if (check_access && access(dir, W_OK | X_OK) < 0) {
		user_name(who, sizeof(who));
		rg_snprintf(err, errlen, "audit_db %s: directory %s is not "
			    "writable by %s: SQLite creates the database and "
			    "its -wal and -shm files there (chown the "
			    "directory to that user)", path, dir, who);
		return -1;
	}
	return 0;
}

/* check_file - an existing database is a regular file only we rewrite */
static int
check_file(const char *path, int check_access, char *err, size_t errlen)
{
	struct stat st;
	char who[128];

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;	/* created at first start */
		rg_snprintf(err, errlen, "audit_db %s: %s", path,
			    strerror(errno));
		return -1;
	}
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
	if (check_access && access(path, R_OK | W_OK) < 0) {
		user_name(who, sizeof(who));
		rg_snprintf(err, errlen, "audit_db %s is not readable and "
			    "writable by %s (chown the file to that user)",
			    path, who);
		return -1;
	}
	return 0;
}

/* priv_check_audit_db - directory first, then the file */
int
priv_check_audit_db(const char *path, int check_access, char *err,
		    size_t errlen)
{
	char dir[4096];

	parent_dir(path, dir, sizeof(dir));
	if (check_dir(path, dir, check_access, err, errlen) < 0)
		return -1;
	return check_file(path, check_access, err, errlen);
}
