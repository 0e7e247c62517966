/*
 * web_text - growable buffer, JSON and CSV escapers (see web_text.h)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "text.h"
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

/* wt_text_put - text.h's sink for a struct wt_buf */
static void
wt_text_put(void *ctx, const char *s, size_t n)
{
	wt_put(ctx, s, n);
}

/* wt_json_string - see web_text.h; the escaping is text.h's */
void
wt_json_string(struct wt_buf *b, const char *str)
{
	struct text_out o = {wt_text_put, b};

	text_json(&o, str);
}

/* wt_csv_cell - see web_text.h; the escaping is text.h's */
void
wt_csv_cell(struct wt_buf *b, const char *s)
{
	struct text_out o = {wt_text_put, b};

	text_csv(&o, s);
}
