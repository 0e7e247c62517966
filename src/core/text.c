/*
 * text - client text made safe for each output: one escaper per kind
 *
 * See text.h.  Every escaper walks its input once, by UTF-8 character,
 * and hands each piece (a run of plain bytes, or one escape) to the sink
 * in one call.
 */
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "text.h"

/* text_buf_init - an empty bounded buffer */
void
text_buf_init(struct text_buf *tb, char *buf, size_t size)
{
	tb->buf = buf;
	tb->size = size;
	tb->len = 0;
	tb->limit = size > 0 ? size - 1 : 0;
	tb->cut = 0;
	if (size > 0)
		buf[0] = '\0';
}

/* text_buf_put - append n bytes whole, or drop them and mark the cut */
void
text_buf_put(void *ctx, const char *s, size_t n)
{
	struct text_buf *tb = ctx;

	if (tb->cut || n > tb->limit - tb->len) {
		tb->cut = 1;
		return;
	}
	memcpy(tb->buf + tb->len, s, n);
	tb->len += n;
	tb->buf[tb->len] = '\0';
}

/* text_file_put - write to a stream */
void
text_file_put(void *ctx, const char *s, size_t n)
{
	if (n > 0)
		(void) fwrite(s, 1, n, (FILE *) ctx);
}

/* text_out_buf - a sink for a bounded buffer */
struct text_out
text_out_buf(struct text_buf *tb)
{
	struct text_out o = {text_buf_put, tb};

	return o;
}

/* text_out_file - a sink for a stream */
struct text_out
text_out_file(FILE *fp)
{
	struct text_out o = {text_file_put, fp};

	return o;
}

/* text_utf8_len - length of the valid UTF-8 character at s, or 0 */
size_t
text_utf8_len(const unsigned char *s, size_t n)
{
	size_t need, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;		/* continuation, C0/C1 lead, F5-FF */
	if (n < need)
		return 0;
	for (i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, surrogates, above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f)
	    || (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return need;
}

/* text_utf8_check - -1 invalid, 1 some non-ASCII, 0 ASCII */
int
text_utf8_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t i = 0, k;
	int high = 0;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = text_utf8_len(p + i, n - i)) == 0)
			return -1;
		high = 1;
		i += k;
	}
	return high;
}

/*
 * One walk for every escaper: the text goes by UTF-8 character (k bytes,
 * k = 0 for a byte that does not start a valid character); runs of
 * characters the escaper keeps are written whole, anything else through
 * its escape function.
 */
typedef int keep_fn(const unsigned char *p, size_t k, int flags);
typedef void escape_fn(const struct text_out *o, const unsigned char *p,
		       size_t k, int flags);

/* walk - the text through one escaper's keep and escape rules */
static void
walk(const struct text_out *o, const char *s, size_t n, keep_fn *keep,
     escape_fn *escape, int flags)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t i = 0, run = 0, k;

	while (i < n) {
		k = p[i] < 0x80 ? 1 : text_utf8_len(p + i, n - i);
		if (keep(p + i, k, flags)) {
			i += k;
			run += k;
			continue;
		}
		if (run > 0)
			o->put(o->ctx, (const char *) p + i - run, run);
		run = 0;
		escape(o, p + i, k, flags);
		i += k > 0 ? k : 1;
	}
	if (run > 0)
		o->put(o->ctx, (const char *) p + i - run, run);
}

#define ESC_TOKEN	TEXT_LOG_TOKEN	/* a space too */
#define ESC_QUOTE	0x100		/* a double quote too */

/* keep_log - printable ASCII but '\', and the quote and space when asked;
 * valid UTF-8 */
static int
keep_log(const unsigned char *p, size_t k, int flags)
{
	if (k != 1)
		return k > 1;
	return p[0] >= 0x20 && p[0] < 0x7f && p[0] != '\\'
	    && !((flags & ESC_QUOTE) && p[0] == '"')
	    && !((flags & ESC_TOKEN) && p[0] == ' ');
}

/* escape_log - \\, \" or \xNN (control, DEL, space, invalid byte) */
static void
escape_log(const struct text_out *o, const unsigned char *p, size_t k,
	   int flags)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4] = {'\\', 'x', hex[p[0] >> 4], hex[p[0] & 15]};

	(void) k;
	(void) flags;
	if (p[0] == '\\')
		o->put(o->ctx, "\\\\", 2);
	else if (p[0] == '"')
		o->put(o->ctx, "\\\"", 2);
	else
		o->put(o->ctx, esc, 4);
}

/* is_line_separator - U+2028 or U+2029, which end a JavaScript line */
static int
is_line_separator(const unsigned char *p, size_t k)
{
	return k == 3 && p[0] == 0xe2 && p[1] == 0x80
	    && (p[2] == 0xa8 || p[2] == 0xa9);
}

/* keep_json - printable ASCII but " \ < > & '; valid UTF-8 but the
 * line separators */
static int
keep_json(const unsigned char *p, size_t k, int flags)
{
	(void) flags;
	if (k != 1)
		return k > 1 && !is_line_separator(p, k);
	return p[0] >= 0x20 && p[0] < 0x7f && strchr("\"\\<>&'", p[0]) == NULL;
}

/* escape_json - \" \\, \u00XX, \u2028 / \u2029, U+FFFD for invalid bytes */
static void
escape_json(const struct text_out *o, const unsigned char *p, size_t k,
	    int flags)
{
	char esc[8];

	(void) flags;
	if (k == 0) {
		o->put(o->ctx, "\\ufffd", 6);
	} else if (k == 3) {
		o->put(o->ctx, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
	} else if (p[0] == '"' || p[0] == '\\') {
		esc[0] = '\\';
		esc[1] = (char) p[0];
		o->put(o->ctx, esc, 2);
	} else {
		(void) snprintf(esc, sizeof(esc), "\\u%04x", p[0]);
		o->put(o->ctx, esc, 6);
	}
}

/* keep_csv - everything valid but '"' (the cell is quoted when needed) */
static int
keep_csv(const unsigned char *p, size_t k, int flags)
{
	(void) flags;
	return k > 1 || (k == 1 && p[0] != '"');
}

/* escape_csv - "" for a quote, U+FFFD for an invalid byte */
static void
escape_csv(const struct text_out *o, const unsigned char *p, size_t k,
	   int flags)
{
	(void) flags;
	if (k == 1 && p[0] == '"')
		o->put(o->ctx, "\"\"", 2);
	else
		o->put(o->ctx, "\xef\xbf\xbd", 3);
}

/* text_log - one log field */
void
text_log(const struct text_out *o, const char *s, size_t n, int flags)
{
	walk(o, s, n, keep_log, escape_log,
	     ESC_QUOTE | (flags & TEXT_LOG_TOKEN ? ESC_TOKEN : 0));
}

/* text_human - text for a terminal or a message */
void
text_human(const struct text_out *o, const char *s, size_t n)
{
	walk(o, s, n, keep_log, escape_log, 0);
}

/* text_json - a JSON string literal */
void
text_json(const struct text_out *o, const char *s)
{
	if (s == NULL) {
		o->put(o->ctx, "null", 4);
		return;
	}
	o->put(o->ctx, "\"", 1);
	walk(o, s, strlen(s), keep_json, escape_json, 0);
	o->put(o->ctx, "\"", 1);
}

/* text_csv - one RFC 4180 cell, formulas neutralised */
void
text_csv(const struct text_out *o, const char *s)
{
	size_t  n;
	int     quote, formula;

	if (s == NULL)
		return;
	n = strlen(s);
	formula = n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
	quote = formula || strpbrk(s, ",\"\r\n") != NULL
		|| text_utf8_check(s, n) < 0;
	if (quote)
		o->put(o->ctx, "\"", 1);
	if (formula)
		o->put(o->ctx, "'", 1);
	walk(o, s, n, keep_csv, escape_csv, 0);
	if (quote)
		o->put(o->ctx, "\"", 1);
}

/* bounded - escape into buf with room kept for "..." */
static const char *
bounded(const char *s, size_t n, size_t maxlen, int human, int flags,
	char *buf, size_t size)
{
	struct text_buf tb;
	struct text_out o;
	int cut = 0;

	text_buf_init(&tb, buf, size);
	if (s == NULL || size == 0)
		return buf;
	if (n > maxlen) {
		n = maxlen;
		cut = 1;
	}
	if (tb.limit >= 3)
		tb.limit -= 3;		/* a cut must always be visible */
	o = text_out_buf(&tb);
	if (human)
		text_human(&o, s, n);
	else
		text_log(&o, s, n, flags);
	if (cut || tb.cut) {
		tb.cut = 0;
		tb.limit = size - 1;
		text_buf_put(&tb, "...", 3);
	}
	return buf;
}

/* text_log_str - a bounded log field */
const char *
text_log_str(const char *s, size_t n, size_t maxlen, int flags, char *buf,
	     size_t size)
{
	return bounded(s, n, maxlen, 0, flags, buf, size);
}

/* text_human_str - bounded human text */
const char *
text_human_str(const char *s, size_t maxlen, char *buf, size_t size)
{
	return bounded(s, s != NULL ? strlen(s) : 0, maxlen, 1, 0, buf, size);
}

/* text_unescape - read text_log / text_human output back */
long
text_unescape(const char *s, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '\\') {
			if (i + 1 >= n)
				return -1;
			if (s[i + 1] == '\\' || s[i + 1] == '"') {
				c = s[++i];
			} else if (s[i + 1] == 'x' && i + 3 < n
				   && (hi = rg_hex_digit(s[i + 2])) >= 0
				   && (lo = rg_hex_digit(s[i + 3])) >= 0) {
				c = (char) (hi * 16 + lo);
				i += 3;
			} else {
				return -1;
			}
		}
		if (o + 1 >= size)
			return -1;
		buf[o++] = c;
	}
	if (size > 0)
		buf[o] = '\0';
	return (long) o;
}
