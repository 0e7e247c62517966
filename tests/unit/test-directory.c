/*
 * test-directory - the directory interface and the file backend
 *
 * Writes small recipient files into a temporary directory and checks
 * lookups (exact, case, catch-all), the PATH:LINE errors for malformed
 * files, backend selection by directory_open(), and a 10,000-entry table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "testlib.h"

static char tmpdir[256];

/* write_file - a file in tmpdir with text; returns its path (static) */
static const char *
write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* open_spec - open "file:PATH" through directory_open */
static struct directory *
open_spec(const char *path, char *err, size_t errlen)
{
	static const struct directory_backend *const backends[] = {
		&dir_file_backend, NULL,
	};
	struct rg_config *cfg = config_defaults();
	struct directory *dir;
	char spec[600];

	snprintf(spec, sizeof(spec), "file:%s", path);
	free(cfg->directory);
	cfg->directory = xstrdup(spec);
	dir = directory_open(cfg, backends, err, errlen);
	config_free(cfg);
	return dir;
}

static void
test_lookups(void)
{
	char err[512], stats[256];
	struct directory *dir;
	const char *path;

	test_begin("file backend lookups");
	path = write_file("r1", "# users\n"
			  "alice@example.org\n"
			  "  Bob@Example.ORG   # trailing comment\n"
			  "\n"
			  "c#hash@example.org\n"
			  "@catchall.test\n"
			  "dot@trailing.test.\n"
			  "alice@example.org\n");
	dir = open_spec(path, err, sizeof(err));
	test_assert(dir != NULL);
	if (dir == NULL) {
		fprintf(stderr, "open: %s\n", err);
		test_end();
		return;
	}
	test_assert_int(directory_lookup(dir, "alice@example.org"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "ALICE@example.org"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "bob@example.org"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "c#hash@example.org"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "anyone@catchall.test"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "dot@trailing.test"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, "carol@example.org"), DIR_NOTFOUND);
	test_assert_int(directory_lookup(dir, "alice@example.org.x"), DIR_NOTFOUND);
	test_assert_int(directory_lookup(dir, "alice"), DIR_NOTFOUND);
	test_assert_int(directory_lookup(dir, "x@sub.catchall.test"), DIR_NOTFOUND);
	test_assert_int(directory_lookup(dir, "@catchall.test"), DIR_FOUND);
	test_assert_int(directory_lookup(dir, ""), DIR_NOTFOUND);
	directory_stats(dir, stats, sizeof(stats));
	/* duplicate alice counted once: alice bob c#hash @catchall dot */
	test_assert(strstr(stats, ": 5 entries (1 domain catch-alls)") != NULL);
	dir = directory_close(dir);
	test_assert(dir == NULL);
	test_end();
}

/* expect_open_error - opening text must fail with want in the message */
static void
expect_open_error(const char *name, const char *text, const char *want)
{
	char err[512], label[128];
	struct directory *dir;
	const char *path = write_file(name, text);

	snprintf(label, sizeof(label), "file backend refuses %s", name);
	test_begin(label);
	err[0] = '\0';
	dir = open_spec(path, err, sizeof(err));
	test_assert(dir == NULL);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error was \"%s\", want \"%s\"\n", err, want);
		test_assert(strstr(err, want) != NULL);
	}
	test_assert(strncmp(err, path, strlen(path)) == 0);
	directory_close(dir);
	test_end();
}

/* test_nul_bytes - a NUL byte anywhere is refused, never a cut entry */
static void
test_nul_bytes(void)
{
	static const char middle[] = "alice@example.org\nbo\0b@example.org\nc@example.org\n";
	static const char last[] = "alice@example.org\nbob@example.org\0junk";
	const struct { const char *name, *data; size_t len; const char *want; } cases[] = {
		{"nul-middle", middle, sizeof(middle) - 1, ":2: NUL byte in line"},
		{"nul-last", last, sizeof(last) - 1, ":2: NUL byte in line"},
	};
	char path[512], err[512];
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(cases); i++) {
		FILE *fp;

		test_begin(cases[i].name);
		snprintf(path, sizeof(path), "%s/%s", tmpdir, cases[i].name);
		if ((fp = fopen(path, "w")) == NULL) {
			perror(path);
			exit(1);
		}
		fwrite(cases[i].data, 1, cases[i].len, fp);
		fclose(fp);
		err[0] = '\0';
		test_assert(open_spec(path, err, sizeof(err)) == NULL);
		test_assert(strstr(err, cases[i].want) != NULL);
		test_end();
	}
}

static void
test_errors(void)
{
	char long_line[400], text[512];
	char err[512];

	expect_open_error("no-at", "alice@example.org\nbob\n", ":2: not an address");
	expect_open_error("space", "# x\n\nalice @example.org\n",
			  ":3: white space inside");
	memset(long_line, 'a', 330);
	long_line[330] = '\0';
	snprintf(text, sizeof(text), "ok@example.org\n%s@example.org\n", long_line);
	expect_open_error("long", text, ":2: entry longer than 320");
	expect_open_error("two-at", "a@b@example.org\n", ":1: more than one @");
	expect_open_error("empty-domain", "alice@\n", ":1: empty or malformed domain");
	expect_open_error("ctrl", "ali\001ce@example.org\n", ":1: control character");

	test_nul_bytes();

	test_begin("file backend: missing file");
	snprintf(text, sizeof(text), "%s/does-not-exist", tmpdir);
	test_assert(open_spec(text, err, sizeof(err)) == NULL);
	test_assert(strstr(err, "does-not-exist: cannot open: ") != NULL);
	test_end();
}

/* Test double: a backend that always errs, to check directory_open's
 * selection by name and that DIR_ERROR passes through unchanged. */
static struct directory broken_handle;

static struct directory *
broken_open(const char *spec, const struct rg_config *cfg, char *err,
	    size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	test_assert_str(spec, "opts");
	return &broken_handle;
}

static enum dir_result
broken_lookup(struct directory *dir, const char *address)
{
	(void)dir;
	(void)address;
	return DIR_ERROR;
}

static void
broken_close(struct directory *dir)
{
	(void)dir;
}

static const struct directory_backend broken_backend = {
	.name = "broken", .open = broken_open, .lookup = broken_lookup,
	.stats = NULL, .close = broken_close,
};

static void
test_selection(void)
{
	static const struct directory_backend *const backends[] = {
		&dir_file_backend, &broken_backend, NULL,
	};
	struct rg_config *cfg = config_defaults();
	struct directory *dir;
	char err[512], stats[64];

	test_begin("directory_open picks the backend by name");
	free(cfg->directory);
	cfg->directory = xstrdup("broken:opts");
	dir = directory_open(cfg, backends, err, sizeof(err));
	test_assert(dir == &broken_handle);
	test_assert(dir != NULL && dir->backend == &broken_backend);
	test_assert_int(directory_lookup(dir, "a@b"), DIR_ERROR);
	directory_stats(dir, stats, sizeof(stats));
	test_assert_str(stats, "");
	directory_close(dir);

	free(cfg->directory);
	cfg->directory = xstrdup("ldap");
	test_assert(directory_open(cfg, backends, err, sizeof(err)) == NULL);
	test_assert(strstr(err, "unknown directory \"ldap\"") != NULL);

	free(cfg->directory);
	cfg->directory = xstrdup("file:");
	test_assert(directory_open(cfg, backends, err, sizeof(err)) == NULL);
	test_assert(strstr(err, "no path") != NULL);

	test_assert_int(directory_lookup(NULL, "a@b"), DIR_ERROR);
	test_assert_str(dir_result_name(DIR_FOUND), "found");
	test_assert_str(dir_result_name(DIR_NOTFOUND), "not-found");
	test_assert_str(dir_result_name(DIR_ERROR), "error");
	config_free(cfg);
	test_end();
}

static void
test_large(void)
{
	char path[512], err[512], addr[64];
	struct directory *dir;
	FILE *fp;
	int i, found = 0, missing = 0;

	test_begin("file backend: 10,000 entries");
	snprintf(path, sizeof(path), "%s/large", tmpdir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	if (fp == NULL) {
		test_end();
		return;
	}
	for (i = 0; i < 10000; i++)
		fprintf(fp, "user%05d@example.org\n", i);
	fclose(fp);
	dir = open_spec(path, err, sizeof(err));
	test_assert(dir != NULL);
	for (i = 0; dir != NULL && i < 20000; i++) {
		snprintf(addr, sizeof(addr), "USER%05d@example.org", i);
		if (directory_lookup(dir, addr) == DIR_FOUND)
			found++;
		else
			missing++;
	}
	test_assert_int(found, 10000);
	test_assert_int(missing, 10000);
	directory_close(dir);
	test_end();
}

/* test_parse_text - the parser behind file:PATH, on text in memory */
static void
test_parse_text(void)
{
	static const char text[] = "# users\nAlice@Example.org\n@catch.example\n"
		"bob@example.org";		/* no final newline */
	static const char nul[] = "alice@example.org\nbob@exa\0mple.org";
	struct directory *dir;
	char err[256];

	test_begin("directory: dir_file_parse, the same parser on text");
	dir = dir_file_parse(text, sizeof(text) - 1, "mem", err, sizeof(err));
	test_assert(dir != NULL);
	if (dir != NULL) {
		test_assert_int(directory_lookup(dir, "alice@example.org"), DIR_FOUND);
		test_assert_int(directory_lookup(dir, "bob@example.org"), DIR_FOUND);
		test_assert_int(directory_lookup(dir, "x@catch.example"), DIR_FOUND);
		test_assert_int(directory_lookup(dir, "carol@example.org"),
				DIR_NOTFOUND);
		dir = directory_close(dir);
	}
	test_assert(dir_file_parse(nul, sizeof(nul) - 1, "mem", err,
				   sizeof(err)) == NULL);
	test_assert_str(err, "mem:2: NUL byte in line");
	test_assert(dir_file_parse("ok@example.org\nnot an address\n", 30, "m",
				   err, sizeof(err)) == NULL);
	test_assert_str(err, "m:2: white space inside an address");
	dir = dir_file_parse("", 0, "empty", err, sizeof(err));
	test_assert(dir != NULL);
	dir = directory_close(dir);
	test_end();
}

int
main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-test-directory.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_lookups();
	test_errors();
	test_selection();
	test_large();
	test_parse_text();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return test_exit();
}
