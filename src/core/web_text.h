/*
 * web_text - a growable byte buffer and the escapers for what the
 * dashboard sends: JSON strings and CSV cells
 *
 * Everything in the audit trail came from SMTP clients, so every string
 * that leaves relayguard-audit serve goes through one of these (the
 * escaping itself is text.h's, the same for every program):
 *   wt_json_string	a JSON string literal; invalid UTF-8 becomes
 *			U+FFFD, control bytes \u00XX, and < > & ' plus
 *			U+2028/U+2029 are escaped too, so the text stays
 *			inert even if a client sniffs it as HTML or script;
 *   wt_csv_cell	an RFC 4180 cell; a cell that starts with = + - @
 *			TAB or CR is prefixed with ' so that a spreadsheet
 *			shows it as text instead of running it as a formula;
 *			invalid UTF-8 becomes U+FFFD here too.
 * HTML is never built from data on the server: the page's script puts
 * values in the DOM with textContent.
 *
 * Ownership: a struct wt_buf owns its bytes; wt_buf_free() releases
 * them, wt_buf_export() hands them to the caller.  A buffer never grows
 * beyond its limit: past it, appends are dropped and wt_buf_full() says
 * so (the caller answers with an error instead of a cut document).
 */
#ifndef RG_WEB_TEXT_H
#define RG_WEB_TEXT_H

#include <stddef.h>

struct wt_buf {
	char   *data;
	size_t  len;
	size_t  size;
	size_t  limit;			/* most bytes it may hold */
	int     full;			/* an append was dropped */
};

void    wt_buf_init(struct wt_buf *b, size_t limit);
void    wt_buf_free(struct wt_buf *b);
char   *wt_buf_export(struct wt_buf *b, size_t *len);
int     wt_buf_full(const struct wt_buf *b);
void    wt_put(struct wt_buf *b, const char *s, size_t n);
void    wt_puts(struct wt_buf *b, const char *s);
void    wt_printf(struct wt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* wt_json_string - s (NULL -> null) as a JSON string literal */
void    wt_json_string(struct wt_buf *b, const char *s);

/* wt_csv_cell - s (NULL -> empty) as one CSV cell, formulas neutralised */
void    wt_csv_cell(struct wt_buf *b, const char *s);

#endif
