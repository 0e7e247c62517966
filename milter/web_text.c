/*
 * web_text - growable buffer, JSON and CSV escapers (see web_text.h)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "web_text.h"

/* wt_buf_init - an empty buffer that holds at most limit bytes */
void
wt_buf_init(struct wt_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

/* wt_buf_free - release the bytes */
void
wt_buf_free(struct wt_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* wt_buf_export - the bytes (NUL-terminated) to the caller, who frees them */
char   *
wt_buf_export(struct wt_buf *b, size_t *len)
{
	char   *data;

	wt_put(b, "", 0);		/* makes sure data exists */
	data = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->size = 0;
	return data;
}

/* wt_buf_full - did an append not fit? */
int
wt_buf_full(const struct wt_buf *b)
{
	return b->full;
}

/* wt_put - append n bytes, keeping a NUL after them */
void
wt_put(struct wt_buf *b, const char *s, size_t n)
{
	size_t  want;

	if (b->full)
		return;
	if (n > b->limit - b->len) {
		b->full = 1;
		return;
	}
	want = b->len + n + 1;
	if (want > b->size) {
		size_t  size = b->size ? b->size : 256;

		while (size < want)
			size *= 2;
		b->data = xrealloc(b->data, size);
		b->size = size;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* wt_puts - append a string */
void
wt_puts(struct wt_buf *b, const char *s)
{
	wt_put(b, s, strlen(s));
}

/* wt_printf - append formatted text (numbers and fixed words only) */
void
wt_printf(struct wt_buf *b, const char *fmt,...)
{
	char    small[256];
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n < sizeof(small)) {
		wt_put(b, small, (size_t) n);
		return;
	} else {
		char   *big = xmalloc((size_t) n + 1);

		va_start(ap, fmt);
		(void) vsnprintf(big, (size_t) n + 1, fmt, ap);
		va_end(ap);
		wt_put(b, big, (size_t) n);
		free(big);
	}
}

/* utf8_len - length of a valid, shortest-form UTF-8 sequence at s, or 0 */
static int
utf8_len(const unsigned char *s)
{
	int     n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f)
	    || (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* wt_json_string - see web_text.h */
void
wt_json_string(struct wt_buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *) str;
	int     n;

	if (s == NULL) {
		wt_puts(b, "null");
		return;
	}
	wt_put(b, "\"", 1);
	while (*s) {
		if (*s == '"' || *s == '\\') {
			wt_put(b, "\\", 1);
			wt_put(b, (const char *) s++, 1);
		} else if (*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>'
			   || *s == '&' || *s == '\'') {
			wt_printf(b, "\\u%04x", *s++);
		} else if ((n = utf8_len(s)) == 3 && s[0] == 0xe2 && s[1] == 0x80
			   && (s[2] == 0xa8 || s[2] == 0xa9)) {
			/* line and paragraph separators end a JS line */
			wt_puts(b, s[2] == 0xa8 ? "\\u2028" : "\\u2029");
			s += 3;
		} else if (n > 0) {
			wt_put(b, (const char *) s, (size_t) n);
			s += n;
		} else {
			wt_puts(b, "\\ufffd");
			s++;
		}
	}
	wt_put(b, "\"", 1);
}

/* wt_csv_cell - see web_text.h */
void
wt_csv_cell(struct wt_buf *b, const char *s)
{
	int     formula, quote, n;
	const char *p;

	if (s == NULL)
		return;
	formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	quote = formula || strpbrk(s, ",\"\r\n") != NULL;
	for (p = s; !quote && *p; p += n)
		if ((n = utf8_len((const unsigned char *) p)) == 0)
			quote = 1;	/* rewritten below */
	if (!quote) {
		wt_puts(b, s);
		return;
	}
	wt_put(b, "\"", 1);
	if (formula)
		wt_put(b, "'", 1);
	for (p = s; *p; p += n) {
		if ((n = utf8_len((const unsigned char *) p)) == 0) {
			wt_puts(b, "\xef\xbf\xbd");	/* U+FFFD: the file stays UTF-8 */
			n = 1;
			continue;
		}
		if (*p == '"')
			wt_put(b, "\"", 1);
		wt_put(b, p, (size_t) n);
	}
	wt_put(b, "\"", 1);
}
