/*
 * test-filemode - the audit database mode checks made at start-up
 *
 * Real files in a temporary directory, one mode per case: a database
 * anyone could replace or rewrite is unsafe, with a message naming the
 * file and the fix; a sticky world-writable directory is safe; a missing
 * or read-only directory or database is unusable (read-only only
 * checkable when not running as root, which ignores modes).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filemode.h"
#include "testlib.h"

static char base[64];

/* setup - a directory d (mode dmode) with, if fmode >= 0, a file audit.db */
static void
setup(const char *d, mode_t dmode, int fmode, char *path, size_t len)
{
	char dir[128];
	int fd;

	snprintf(dir, sizeof(dir), "%s/%s", base, d);
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		exit(1);
	}
	snprintf(path, len, "%s/audit.db", dir);
	if (fmode >= 0) {
		if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) < 0) {
			perror(path);
			exit(1);
		}
		close(fd);
		chmod(path, (mode_t) fmode);
	}
	chmod(dir, dmode);
}

/* safe - filemode_audit_db_safe(), err in buf */
static int
safe(const char *path, char *err, size_t len)
{
	err[0] = '\0';
	return filemode_audit_db_safe(path, err, len);
}

/* usable - filemode_audit_db_usable(), err in buf */
static int
usable(const char *path, char *err, size_t len)
{
	err[0] = '\0';
	return filemode_audit_db_usable(path, err, len);
}

/* test_safe - what anyone else could replace or rewrite is refused */
static void
test_safe(void)
{
	char path[256], err[1024];

	test_begin("private directory, no database yet");
	setup("ok", 0755, -1, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	test_assert_int(usable(path, err, sizeof(err)), 0);
	test_end();

	test_begin("private directory, private database");
	setup("okfile", 0750, 0640, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	test_assert_int(usable(path, err, sizeof(err)), 0);
	test_end();

	test_begin("world-writable directory refused");
	setup("ww", 0777, -1, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), -1);
	test_assert(strstr(err, "is world-writable (mode 0777)") != NULL);
	test_assert(strstr(err, "chmod o-w") != NULL);
	test_assert(strstr(err, path) != NULL);
	test_end();

	test_begin("sticky world-writable directory accepted");
	setup("sticky", 01777, -1, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	test_end();

	test_begin("world-writable database refused");
	setup("wwfile", 0755, 0666, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), -1);
	test_assert(strstr(err, "audit.db is world-writable (mode 0666)") != NULL);
	test_end();

	test_begin("group-writable is the admin's choice");
	setup("group", 0775, 0664, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	test_end();

	test_begin("database that is a directory refused");
	setup("isdir", 0755, -1, path, sizeof(path));
	mkdir(path, 0700);
	test_assert_int(safe(path, err, sizeof(err)), -1);
	test_assert(strstr(err, "not a regular file") != NULL);
	test_end();
}

/* test_usable - what the daemon cannot create or write */
static void
test_usable(void)
{
	char path[256], err[1024];

	test_begin("missing directory: safe, not usable");
	snprintf(path, sizeof(path), "%s/nonexistent/audit.db", base);
	test_assert_int(safe(path, err, sizeof(err)), 0);
	test_assert_int(usable(path, err, sizeof(err)), -1);
	test_assert(strstr(err, "No such file or directory (create it, "
			    "writable by ") != NULL);
	test_end();

	test_begin("bare file name: the current directory");
	test_assert_int(usable("no-such-dir-rg/x.db", err, sizeof(err)), -1);
	test_assert(strstr(err, "directory no-such-dir-rg:") != NULL);
	test_end();

	/* root ignores modes: these need an ordinary user */
	test_begin("read-only directory not usable");
	setup("ro", 0555, -1, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	if (geteuid() != 0) {
		test_assert_int(usable(path, err, sizeof(err)), -1);
		test_assert(strstr(err, "is not writable by") != NULL);
	}
	test_end();

	test_begin("read-only database not usable");
	setup("rofile", 0755, 0444, path, sizeof(path));
	test_assert_int(safe(path, err, sizeof(err)), 0);
	if (geteuid() != 0) {
		test_assert_int(usable(path, err, sizeof(err)), -1);
		test_assert(strstr(err, "is not readable and writable by") != NULL);
	}
	test_end();
}

int
main(void)
{
	char cmd[256];
	int status;

	snprintf(base, sizeof(base), "/tmp/test-filemode.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_safe();
	test_usable();
	status = test_exit();
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s && rm -rf %s", base, base);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", base);
	return status;
}
