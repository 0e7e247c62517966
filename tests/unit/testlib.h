/*
 * testlib - a minimal unit-test harness (Dovecot's test_begin/test_assert)
 *
 * Header-only so each test program is one file.  test_assert() records a
 * failure with file and line and goes on, so one run shows every broken
 * case.  test_exit() prints "N passed, N failed" and returns the exit
 * status for main().
 */
#ifndef RG_TESTLIB_H
#define RG_TESTLIB_H

#include <stdio.h>
#include <string.h>

static const char *test_name_;
static int test_failed_now_;
static int tests_passed_, tests_failed_;

static inline void
test_begin(const char *name)
{
	test_name_ = name;
	test_failed_now_ = 0;
}

static inline void
test_fail_(const char *file, int line, const char *what)
{
	fprintf(stderr, "FAIL %s (%s:%d): %s\n", test_name_, file, line, what);
	test_failed_now_ = 1;
}

#define test_assert(expr) \
	do { if (!(expr)) test_fail_(__FILE__, __LINE__, #expr); } while (0)

#define test_assert_str(got, want) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		if (g_ == NULL || strcmp(g_, w_) != 0) { \
			char m_[1024]; \
			snprintf(m_, sizeof(m_), "%s: got \"%s\", want \"%s\"", \
				 #got, g_ ? g_ : "(null)", w_); \
			test_fail_(__FILE__, __LINE__, m_); \
		} \
	} while (0)

#define test_assert_int(got, want) \
	do { \
		long g_ = (long)(got), w_ = (long)(want); \
		if (g_ != w_) { \
			char m_[256]; \
			snprintf(m_, sizeof(m_), "%s: got %ld, want %ld", #got, g_, w_); \
			test_fail_(__FILE__, __LINE__, m_); \
		} \
	} while (0)

static inline void
test_end(void)
{
	if (test_failed_now_)
		tests_failed_++;
	else
		tests_passed_++;
	printf("%s %s\n", test_failed_now_ ? "not ok" : "ok", test_name_);
}

static inline int
test_exit(void)
{
	printf("%d passed, %d failed\n", tests_passed_, tests_failed_);
	return tests_failed_ ? 1 : 0;
}

#endif
