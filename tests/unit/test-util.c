/*
 * test-util - allocation wrappers, bounded strings, clocks, hashing
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "testlib.h"

#ifdef __SANITIZE_ADDRESS__
/* Under AddressSanitizer an impossible malloc() must return NULL, as
 * libc's does, so that xmalloc()'s own fatal path is what is tested. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

static void
test_strings(void)
{
	char buf[8], *p;

	test_begin("util: bounded copies and formatting");
	test_assert_int(rg_strlcpy(buf, "abc", sizeof(buf)), 3);
	test_assert_str(buf, "abc");
	test_assert_int(rg_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	test_assert_str(buf, "abcdefg");		/* cut, terminated */
	test_assert_int(rg_strlcpy(buf, "x", 1), 1);
	test_assert_str(buf, "");
	test_assert_int(rg_snprintf(buf, sizeof(buf), "%d", 1234567), 7);
	test_assert_int(rg_snprintf(buf, sizeof(buf), "%d", 12345678), -1);
	test_assert_int(strlen(buf), 7);
	p = xstrdup("Hello");
	rg_lowercase(p);
	test_assert_str(p, "hello");
	free(p);
	p = xstrndup("abcdef", 3);
	test_assert_str(p, "abc");
	free(p);
	p = xstrndup("ab", 10);
	test_assert_str(p, "ab");
	free(p);
	test_assert(rg_strcaseeq("Example.ORG", "example.org"));
	test_assert(!rg_strcaseeq("example.org", "example.or"));
	test_assert(!rg_strcaseeq("\xc3\x89", "\xc3\xa9"));	/* ASCII only */
	test_assert_int(rg_hex_digit('0'), 0);
	test_assert_int(rg_hex_digit('f'), 15);
	test_assert_int(rg_hex_digit('F'), 15);
	test_assert_int(rg_hex_digit('g'), -1);
	test_end();
}

static void
test_alloc(void)
{
	unsigned char *p;
	int status;
	pid_t pid;

	test_begin("util: allocation never returns NULL; running out is fatal");
	p = xcalloc(16, 4);
	test_assert(p != NULL && p[0] == 0 && p[63] == 0);
	p = xrealloc(p, 4096);
	test_assert(p != NULL);
	free(p);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		(void) xmalloc((size_t) -1 / 2);	/* cannot succeed */
		_exit(0);
	}
	test_assert(pid > 0 && waitpid(pid, &status, 0) == pid);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	test_end();
}

static void
test_clocks_and_hash(void)
{
	char buf[32];
	int64_t a, b;

	test_begin("util: clocks, UTC timestamps, case-insensitive hash");
	a = rg_mono_ms();
	usleep(20000);
	b = rg_mono_ms();
	test_assert(b - a >= 15 && b - a < 5000);
	test_assert(rg_wall_ms() > 1700000000000LL);
	test_assert_str(rg_format_utc_ms(1795000000123LL, buf, sizeof(buf)),
			"2026-11-18T11:06:40.123Z");
	test_assert_str(rg_format_utc_ms(0, buf, sizeof(buf)),
			"1970-01-01T00:00:00.000Z");
	test_assert_str(rg_format_utc_ms(1795000000123LL, buf, 5), "");
	test_assert(rg_hash_lower("Example.ORG") == rg_hash_lower("example.org"));
	test_assert(rg_hash_lower("example.org") != rg_hash_lower("example.net"));
	test_end();
}

int
main(void)
{
	test_strings();
	test_alloc();
	test_clocks_and_hash();
	return test_exit();
}
