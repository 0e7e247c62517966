/*
 * fuzz-policy_request - what a policy client sends: pr_parse(), and what
 * the server does with the values it gets (pr_path, pr_format_answer)
 *
 * Invariants beyond "no crash, no sanitizer report":
 * - pr_parse() returns -1, 0 or 1; 0 only below PR_REQUEST_MAX bytes; an
 *   error always has a reason;
 * - a parsed request ends with its empty line within the input and the
 *   bound, and every value is one line (no LF, no NUL);
 * - feeding the request in pieces changes nothing: every shorter prefix
 *   of a parsed request is "incomplete", the whole prefix parses the same;
 * - pr_path() output is "<...>" of the length it reports, or -1, within
 *   exactly sized heap buffers; pr_format_answer() output is one line
 *   followed by an empty one, whatever the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_request.h"
#include "fuzz.h"

#define MAX_INPUT	(PR_REQUEST_MAX + 4096)

static struct pr_request req, again;

/* check_path - pr_path into an exactly sized buffer */
static void
check_path(const char *value, size_t size)
{
	char *buf = malloc(size);
	long n;

	FUZZ_CHECK(buf != NULL);
	n = pr_path(value, buf, size);
	if (n >= 0) {
		FUZZ_CHECK((size_t) n == strlen(buf) && n >= 2);
		FUZZ_CHECK(buf[0] == '<' && buf[n - 1] == '>');
	}
	free(buf);
}

/* check_answer - pr_format_answer is one line and an empty one */
static void
check_answer(const char *action, size_t size)
{
	char *buf = malloc(size);
	long n, i;

	FUZZ_CHECK(buf != NULL);
	n = pr_format_answer(action, buf, size);
	if (n >= 0) {
		FUZZ_CHECK((size_t) n == strlen(buf) && n >= 9);
		FUZZ_CHECK(strncmp(buf, "action=", 7) == 0);
		FUZZ_CHECK(buf[n - 1] == '\n' && buf[n - 2] == '\n');
		for (i = 0; i < n - 2; i++)
			FUZZ_CHECK((unsigned char) buf[i] >= 0x20 && buf[i] != 0x7f);
	}
	free(buf);
}

/* LLVMFuzzerTestOneInput - one client's bytes */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *copy;
	size_t used = 0, used2, cut;
	int rc, a;
	const char *v;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);	/* exactly sized: ASan sees overreads */
	err[0] = '\0';
	rc = pr_parse(copy, size, &req, &used, err, sizeof(err));
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == -1)
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
	if (rc == 0)
		FUZZ_CHECK(size < PR_REQUEST_MAX);
	if (rc == 1) {
		FUZZ_CHECK(used >= 2 && used <= size && used <= PR_REQUEST_MAX);
		FUZZ_CHECK(copy[used - 1] == '\n');
		FUZZ_CHECK(pr_get(&req, PR_REQUEST) != NULL);
		for (a = 0; a < PR_ATTR_COUNT; a++) {
			if ((v = pr_get(&req, (enum pr_attr) a)) == NULL)
				continue;
			FUZZ_CHECK(v >= req.text && v < req.text + PR_REQUEST_MAX);
			FUZZ_CHECK(strchr(v, '\n') == NULL);
		}
		for (cut = 0; cut < used; cut += 1 + used / 16)
			FUZZ_CHECK(pr_parse(copy, cut, &again, &used2, err,
					    sizeof(err)) == 0);
		FUZZ_CHECK(pr_parse(copy, used, &again, &used2, err,
				    sizeof(err)) == 1 && used2 == used);
		(void) pr_state(&req);
		for (a = PR_SENDER; a <= PR_RECIPIENT; a++) {
			if ((v = pr_get(&req, (enum pr_attr) a)) == NULL)
				continue;
			check_path(v, 1);
			check_path(v, 3);
			check_path(v, 2 * strlen(v) + 5);
			check_answer(v, 10);
			check_answer(v, strlen(v) + 10);
		}
	}
	free(copy);
	return 0;
}
