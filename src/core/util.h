/*
 * util - allocation and string helpers shared by every relayguard module
 *
 * Allocation goes through wrappers that never return NULL: running out of
 * memory in a milter is a resource failure, not something each caller can
 * usefully recover from, so it is fatal with a clear message (Postfix's
 * mymalloc discipline).  String helpers are bounded: every copy states the
 * size of its destination.
 */
#ifndef RG_UTIL_H
#define RG_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

#define RG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void   *xmalloc(size_t size);
void   *xcalloc(size_t nmemb, size_t size);
void   *xrealloc(void *ptr, size_t size);
char   *xstrdup(const char *s);
char   *xstrndup(const char *s, size_t n);

/* rg_fatal - report a resource failure on stderr and exit(2) */
void    rg_fatal(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* rg_strlcpy - bounded copy, always terminated; returns strlen(src) */
size_t  rg_strlcpy(char *dst, const char *src, size_t size);

/* rg_snprintf - like snprintf, but returns -1 on truncation */
int     rg_snprintf(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* rg_lowercase - ASCII lower-case in place (bytes >= 0x80 untouched) */
void    rg_lowercase(char *s);

/* rg_strcaseeq - ASCII case-insensitive equality */
int     rg_strcaseeq(const char *a, const char *b);

/* rg_mono_ms - monotonic clock in milliseconds (deadlines, intervals) */
int64_t rg_mono_ms(void);

/* rg_wall_ms - wall clock in milliseconds since the epoch (timestamps) */
int64_t rg_wall_ms(void);

/* rg_format_utc_ms - "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into buf; returns buf */
const char *rg_format_utc_ms(int64_t ms, char *buf, size_t size);

/* rg_hex_digit - value of one hexadecimal digit, -1 if c is not one */
int     rg_hex_digit(int c);

/* rg_hash_lower - FNV-1a over ASCII-lowercased bytes (case-insensitive tables) */
unsigned long rg_hash_lower(const char *s);

#endif
