/*
 * text - client text made safe for each output: one escaper per kind
 *
 * NAME
 *	text - UTF-8 check and the escapers for log fields, human text,
 *	JSON strings and CSV cells
 * DESCRIPTION
 *	Every string relayguard writes may have come from an SMTP client
 *	(HELO names, addresses, traces, audit rows).  Each kind of output
 *	has exactly one escaper here, used by every program (the daemon's
 *	log line and diverted audit rows, relayguard-check, relayguard-audit
 *	and its dashboard), so that the same bytes always come out the same
 *	way and can be read back:
 *
 *	text_log	one field of a log line.  Control bytes, DEL and
 *			bytes that are not valid UTF-8 become \xNN; '\' is
 *			"\\" and '"' is "\""; with TEXT_LOG_TOKEN a space
 *			is \x20 too, so a value cannot start another
 *			key=value field.  Valid UTF-8 is kept.
 *	text_human	text for a terminal or an error message: the same
 *			as text_log without TEXT_LOG_TOKEN, but '"' is kept.
 *	text_json	a JSON string literal (NULL: null).  Invalid UTF-8
 *			becomes U+FFFD, control bytes \u00XX, and < > & '
 *			U+2028 U+2029 are escaped as well, so the text stays
 *			inert if a browser sniffs it as HTML or script.
 *	text_csv	one RFC 4180 cell (NULL: empty).  Quoted when it
 *			holds , " CR LF or invalid UTF-8 (which becomes
 *			U+FFFD) or starts like a formula: = + - @ TAB or
 *			CR, then also prefixed with ' so that a
 *			spreadsheet shows it as text instead of running it.
 *
 *	text_unescape() reads text_log and text_human output back.
 *
 *	The escapers write through a struct text_out: a bounded buffer
 *	(text_buf_init) or any function (a FILE, a growable buffer).  Each
 *	escape is written in one piece, so a bounded buffer that fills up
 *	never holds half of one.
 * OWNERSHIP
 *	No allocation; output goes to the caller's sink.
 */
#ifndef RG_TEXT_H
#define RG_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Where escaped text goes. */
typedef void text_put_fn(void *ctx, const char *s, size_t n);
struct text_out {
	text_put_fn *put;
	void   *ctx;
};

/* A bounded buffer sink: appends that do not fit are dropped whole and
 * set cut.  Always NUL-terminated. */
struct text_buf {
	char   *buf;
	size_t  size;
	size_t  len;
	size_t  limit;			/* bytes that may be written, NUL excluded */
	int     cut;
};

void    text_buf_init(struct text_buf *tb, char *buf, size_t size);
text_put_fn text_buf_put;		/* ctx: struct text_buf * */
text_put_fn text_file_put;		/* ctx: FILE * */

/* text_out_buf / text_out_file - a sink for a buffer or a stream */
struct text_out text_out_buf(struct text_buf *tb);
struct text_out text_out_file(FILE *fp);

/* text_utf8_len - bytes of the valid UTF-8 character at s (n bytes
 * available), 0 when it is not one: overlong forms, surrogates, values
 * above U+10FFFF and cut sequences are invalid */
size_t  text_utf8_len(const unsigned char *s, size_t n);

/* text_utf8_check - -1 when s holds invalid UTF-8, else 1 when it has
 * any byte >= 0x80, 0 when it is plain ASCII */
int     text_utf8_check(const char *s, size_t n);

#define TEXT_LOG_TOKEN	1		/* also a space as \x20 */

void    text_log(const struct text_out *o, const char *s, size_t n, int flags);
void    text_human(const struct text_out *o, const char *s, size_t n);
void    text_json(const struct text_out *o, const char *s);
void    text_csv(const struct text_out *o, const char *s);

/* text_log_str - text_log of at most maxlen bytes of s into buf, with
 * "..." when s was longer or the buffer too small (never half an
 * escape).  s may be NULL (""); returns buf. */
const char *text_log_str(const char *s, size_t n, size_t maxlen, int flags,
			 char *buf, size_t size);

/* text_human_str - text_human of a C string into buf, "..." when cut;
 * returns buf */
const char *text_human_str(const char *s, size_t maxlen, char *buf,
			   size_t size);

/* text_unescape - decode text_log / text_human output (\xNN, \\, \")
 * into buf; returns the decoded length, or -1 when it does not fit or
 * holds a bad escape */
long    text_unescape(const char *s, size_t n, char *buf, size_t size);

#endif
