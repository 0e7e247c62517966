/*
 * fuzz-dirfile - the file directory backend ("directory = file:PATH")
 *
 * Each input is a whole recipients file (seeds in corpus/dirfile/).  It
 * is parsed with dir_file_parse(), the parser file:PATH runs on the
 * file's bytes (no temporary file per input), and looked up.  Invariants checked beyond "no crash, no
 * sanitizer report":
 * - the open gives a handle, or NULL with "PATH:LINE: reason" (LINE
 *   within the input) or "PATH: reason";
 * - a file holding a NUL byte is refused (the line it cuts short would
 *   otherwise be read as something else than was written);
 * - once open, the first word of every line that is not a comment is
 *   found, in any letter case; "@domain" lines accept any local part of
 *   that domain; a lookup never answers "error";
 * - an address the file cannot hold is not found.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "address.h"
#include "directory.h"
#include "fuzz.h"

#define MAX_INPUT	16384
#define MAX_CHECKED	64		/* lines looked up per input */

/* The name messages give the input, as PATH for a file. */
static const char path[] = "fuzz-input";

/* check_error - "PATH:LINE: reason" or "PATH: reason" */
static void
check_error(const char *err, const uint8_t *data, size_t size)
{
	size_t plen = strlen(path), i;
	unsigned long line = 0, lines = 1;
	const char *p;

	FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
	p = err + plen + 1;
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p) && line < 100000000)
			line = line * 10 + (unsigned long)(*p++ - '0');
		FUZZ_CHECK(*p == ':');
		p++;
		for (i = 0; i < size; i++)
			if (data[i] == '\n')
				lines++;
		FUZZ_CHECK(line >= 1 && line <= lines);
	}
	FUZZ_CHECK(*p == ' ' && p[1] != '\0');
}

/* is_blank - the backend's white space */
static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* has_8bit - any byte >= 0x80 */
static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* check_line - the first word of a line is found */
static void
check_line(struct directory *dir, const char *line, size_t len)
{
	char word[400], key[420], *at;
	size_t i = 0, n = 0;

	while (i < len && is_blank((unsigned char)line[i]))
		i++;
	while (i < len && !is_blank((unsigned char)line[i]) && n + 1 < sizeof(word))
		word[n++] = line[i++];
	word[n] = '\0';
	if (n == 0 || word[0] == '#')
		return;
	if (word[n - 1] == '.')
		word[--n] = '\0';		/* one trailing dot, as in DNS */
	if (word[0] == '@')
		snprintf(key, sizeof(key), "Some.One%s", word);
	else
		snprintf(key, sizeof(key), "%s", word);
	/* a domain in U-labels is looked up in A-labels, as policy keys are */
	if ((at = strrchr(key, '@')) != NULL && has_8bit(at + 1)) {
		char alabels[300];

		FUZZ_CHECK(addr_domain_alabels(at + 1, alabels, sizeof(alabels)) == NULL);
		rg_strlcpy(at + 1, alabels, sizeof(key) - (size_t)(at + 1 - key));
	}
	if (directory_lookup(dir, key) != DIR_FOUND) {
		fprintf(stderr, "line \"%.*s\": \"%s\" not found\n",
			(int)len, line, key);
		FUZZ_CHECK(!"an entry of the file is not found");
	}
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)toupper((unsigned char)key[i]);
	FUZZ_CHECK(directory_lookup(dir, key) == DIR_FOUND);
}

/* LLVMFuzzerTestOneInput - one recipients file */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct directory *dir;
	char err[1024];
	const char *p, *end, *nl;
	enum dir_result r;
	unsigned checked = 0;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	err[0] = '\0';
	dir = dir_file_parse((const char *)data, size, path, err, sizeof(err));
	if (dir == NULL) {
		check_error(err, data, size);
		return 0;
	}
	FUZZ_CHECK(memchr(data, '\0', size) == NULL);
	p = (const char *)data;
	end = p + size;
	while (p < end && checked++ < MAX_CHECKED) {
		nl = memchr(p, '\n', (size_t)(end - p));
		check_line(dir, p, (size_t)((nl ? nl : end) - p));
		p = nl ? nl + 1 : end;
	}
	/* No entry can hold white space, so this is never found. */
	r = directory_lookup(dir, "no such@user invalid");
	FUZZ_CHECK(r == DIR_NOTFOUND);
	r = directory_lookup(dir, "");
	FUZZ_CHECK(r == DIR_NOTFOUND);
	dir = directory_close(dir);
	return 0;
}
