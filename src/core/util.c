/*
 * util - allocation and string helpers shared by every relayguard module
 *
 * See util.h.  Nothing here knows about mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* rg_fatal - report a resource failure on stderr and exit(2) */
void
rg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("relayguard: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* xmalloc - malloc that never returns NULL */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		rg_fatal("out of memory allocating %zu bytes", size);
	return p;
}

/* xcalloc - calloc that never returns NULL */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		rg_fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

/* xrealloc - realloc that never returns NULL */
void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		rg_fatal("out of memory reallocating %zu bytes", size);
	return p;
}

/* xstrdup - strdup that never returns NULL */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s, terminated */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* rg_strlcpy - bounded copy, always terminated; returns strlen(src) */
size_t
rg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* rg_snprintf - like snprintf, but returns -1 on truncation */
int
rg_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* rg_lowercase - ASCII lower-case in place */
void
rg_lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* rg_strcaseeq - ASCII case-insensitive equality */
int
rg_strcaseeq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* clock_ms - the given clock in milliseconds */
static int64_t
clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rg_mono_ms - monotonic clock in milliseconds */
int64_t
rg_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* rg_wall_ms - wall clock in milliseconds since the epoch */
int64_t
rg_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* rg_hex_digit - value of one hexadecimal digit, -1 if c is not one */
int
rg_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* rg_hash_lower - FNV-1a over ASCII-lowercased bytes */
unsigned long
rg_hash_lower(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++) {
		h ^= (unsigned long)ascii_lower((unsigned char)*s);
		h *= 16777619UL;
	}
	return h;
}

/* rg_format_utc_ms - "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) */
const char *
rg_format_utc_ms(int64_t ms, char *buf, size_t size)
{
	time_t  secs = (time_t) (ms / 1000);
	struct tm tm;
	size_t  len;

	if (size == 0)
		return buf;
	if (gmtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (len == 0)
		buf[0] = '\0';
	else
		(void) rg_snprintf(buf + len, size - len, ".%03dZ",
				   (int) (ms % 1000));
	return buf;
}
