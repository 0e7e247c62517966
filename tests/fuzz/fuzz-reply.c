/*
 * fuzz-reply - reply strings and the daemon's text: config_parse_reply()
 * and milter_text (reply escaping, log sanitising, the verdict line)
 *
 * Each input is used three ways (seeds in corpus/reply/):
 *  1. up to the first NUL, as the value of a reply.NAME key ("CODE X.Y.Z
 *     text") and as reply text for mt_reply_escape();
 *  2. whole (NULs included), as client text for text.h's log escaper, as
 *     one token and inside quotes;
 *  3. split at '\n', as the client-controlled fields of a verdict line
 *     (queue id, client name and address, HELO, AUTH, from, to,
 *     normalized, trace) and as an argument vector, and its first line
 *     as a milter socket specification.
 * Invariants checked beyond "no crash, no sanitizer report":
 * - an accepted reply has a 4xx/5xx code, an X.Y.Z code of the same
 *   class and printable ASCII text; formatted back it parses to itself;
 *   escaped for libmilter it fits the daemon's buffer and unescapes to
 *   itself; a refused one has a reason;
 * - mt_reply_escape() never splits a "%%" pair, never lets a control
 *   character through, returns 0 exactly when everything fitted, and its
 *   output unescapes to (a prefix of) the input;
 * - escaped text has no control characters, no unescaped '"', a token
 *   no space, every '\' starts \\, \" or \xNN, a cut is marked with
 *   "...", and uncut text unescapes to the input;
 * - a verdict line is one line (no CR, LF or other control character),
 *   starts with the queue id or NOQUEUE, keeps its fixed fields and
 *   closes its trace="..." quote;
 * - every output is terminated within exactly sized heap buffers, so
 *   ASan sees any byte written past them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "text.h"
#include "verdict.h"
#include "milter_text.h"
#include "fuzz.h"

#define MAX_INPUT	4096
#define MAX_FIELDS	10

/* terminated - buf holds a NUL within size bytes */
static int
terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/* no_controls - no byte below 0x20 and no DEL */
static int
no_controls(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* unescape_percent - "%%" -> "%" into out; -1 on a lone '%' */
static int
unescape_percent(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < size; s++) {
		if (*s == '%') {
			if (s[1] != '%')
				return -1;
			s++;
		}
		out[o++] = *s;
	}
	out[o] = '\0';
	return 0;
}

/* check_escape - mt_reply_escape into an exactly sized buffer */
static void
check_escape(const char *text, size_t size)
{
	char *buf, *plain, *clean;
	size_t i, n = strlen(text);
	int rc;

	buf = malloc(size);
	plain = malloc(size + 1);
	clean = malloc(n + 1);
	FUZZ_CHECK(buf != NULL && plain != NULL && clean != NULL);
	for (i = 0; i <= n; i++)
		clean[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f
		    ? (text[i] ? ' ' : '\0') : text[i];
	rc = mt_reply_escape(text, buf, size);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(terminated(buf, size));
	FUZZ_CHECK(no_controls(buf));
	FUZZ_CHECK(unescape_percent(buf, plain, size + 1) == 0);
	if (rc == 0)
		FUZZ_CHECK(strcmp(plain, clean) == 0);
	else
		FUZZ_CHECK(strncmp(plain, clean, strlen(plain)) == 0
			   && strlen(plain) < n);
	free(clean);
	free(plain);
	free(buf);
}

/* check_reply - config_parse_reply and what the daemon does with it */
static void
check_reply(const char *text)
{
	struct rg_reply r, back;
	char line[sizeof(r.ecode) + sizeof(r.text) + 16], err[256], *small;
	char escaped[600], plain[sizeof(escaped)];
	const char *p;
	int dots = 0, status;
	size_t smallsize;

	memset(&r, 0xa5, sizeof(r));
	err[0] = '\0';
	status = config_parse_reply(text, &r, err, sizeof(err));
	FUZZ_CHECK(status == 0 || status == -1);
	if (status != 0) {
		FUZZ_CHECK(terminated(err, sizeof(err)) && err[0] != '\0');
		for (smallsize = 1; smallsize <= 16; smallsize += 15) {
			small = malloc(smallsize);
			FUZZ_CHECK(small != NULL);
			FUZZ_CHECK(config_parse_reply(text, &back, small,
						      smallsize) == -1);
			FUZZ_CHECK(terminated(small, smallsize));
			free(small);
		}
		return;
	}
	FUZZ_CHECK(r.code >= 400 && r.code <= 599);
	FUZZ_CHECK(terminated(r.ecode, sizeof(r.ecode)));
	FUZZ_CHECK(terminated(r.text, sizeof(r.text)));
	FUZZ_CHECK(r.ecode[0] - '0' == r.code / 100);
	for (p = r.ecode; *p != '\0'; p++) {
		FUZZ_CHECK((*p >= '0' && *p <= '9') || *p == '.');
		dots += *p == '.';
	}
	FUZZ_CHECK(dots == 2);
	for (p = r.text; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);

	if (r.text[0] != '\0')
		snprintf(line, sizeof(line), "%d %s %s", r.code, r.ecode, r.text);
	else
		snprintf(line, sizeof(line), "%d %s", r.code, r.ecode);
	memset(&back, 0x5a, sizeof(back));
	if (config_parse_reply(line, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "\"%s\" does not parse back: %s\n", line, err);
		FUZZ_CHECK(!"reply does not parse back");
	}
	FUZZ_CHECK(back.code == r.code);
	FUZZ_CHECK(strcmp(back.ecode, r.ecode) == 0);
	FUZZ_CHECK(strcmp(back.text, r.text) == 0);

	/* The daemon escapes the text into 600 bytes for smfi_setreply. */
	FUZZ_CHECK(mt_reply_escape(r.text, escaped, sizeof(escaped)) == 0);
	FUZZ_CHECK(unescape_percent(escaped, plain, sizeof(plain)) == 0);
	FUZZ_CHECK(strcmp(plain, r.text) == 0);
}

/* check_clean - text_log_str, as a token or quoted, into an exactly
 * sized buffer */
static void
check_clean(const char *data, size_t len, size_t maxlen, int quote,
	    size_t size)
{
	char *buf, *back;
	const char *out, *p;
	size_t olen;

	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	out = text_log_str(data, len, maxlen, quote ? 0 : TEXT_LOG_TOKEN, buf,
			   size);
	FUZZ_CHECK(out == buf);
	FUZZ_CHECK(terminated(buf, size));
	FUZZ_CHECK(no_controls(buf));
	olen = strlen(buf);
	if (len > maxlen && size >= 4)
		FUZZ_CHECK(olen >= 3 && strcmp(buf + olen - 3, "...") == 0);
	/* Neither quoted nor as a token may a '"' end the field early, nor
	 * a '\' escape what follows the field. */
	for (p = buf; *p != '\0'; p++) {
		FUZZ_CHECK(*p != '"');
		FUZZ_CHECK(quote || *p != ' ');
		if (*p == '\\') {
			FUZZ_CHECK(p[1] == '"' || p[1] == '\\' || p[1] == 'x');
			p++;
		}
	}
	if (size > 4 && len <= maxlen
	    && (olen < 3 || strcmp(buf + olen - 3, "...") != 0)) {
		back = malloc(len + 1);
		FUZZ_CHECK(back != NULL);
		FUZZ_CHECK(text_unescape(buf, olen, back, len + 1) == (long) len);
		FUZZ_CHECK(memcmp(back, data, len) == 0);
		free(back);
	}
	free(buf);
}

/* check_verdict_line - mt_format_verdict with client-controlled fields */
static void
check_verdict_line(char **fields, size_t nfields, size_t size)
{
	struct verdict_record f;
	char *buf;
	const char *out;
	size_t len;

	memset(&f, 0, sizeof(f));
	f.queue_id = nfields > 0 ? fields[0] : NULL;
	f.session_id = "0123456789ab";
	f.stage = "rcpt";
	f.action = "reject";
	f.rule = "relay";
	f.code = 550;
	f.ecode = "5.7.1";
	f.client_name = nfields > 1 ? fields[1] : NULL;
	f.client_addr = nfields > 2 ? fields[2] : NULL;
	f.helo = nfields > 3 ? fields[3] : NULL;
	f.auth_user = nfields > 4 ? fields[4] : NULL;
	f.sender = nfields > 5 ? fields[5] : NULL;
	f.rcpt = nfields > 6 ? fields[6] : NULL;
	f.rcpt_normalized = nfields > 7 ? fields[7] : NULL;
	f.directory_result = "not-found";
	f.text = nfields > 9 ? fields[9] : NULL;
	f.trace = nfields > 8 ? fields[8] : NULL;

	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	out = mt_format_verdict(&f, buf, size);
	FUZZ_CHECK(out == buf);
	FUZZ_CHECK(terminated(buf, size));
	FUZZ_CHECK(no_controls(buf));
	len = strlen(buf);
	if (size >= MT_LINE_MAX) {
		if (f.queue_id == NULL || f.queue_id[0] == '\0')
			FUZZ_CHECK(strncmp(buf, "NOQUEUE: session=", 17) == 0);
		FUZZ_CHECK(strstr(buf, " session=0123456789ab stage=rcpt "
				  "action=reject rule=relay code=550 "
				  "ecode=5.7.1 client=") != NULL);
		if (f.trace != NULL && f.trace[0] != '\0')
			FUZZ_CHECK(len > 0 && buf[len - 1] == '"');
	}
	/* The same record as a diverted audit row. */
	out = mt_format_record("audit: diverted:", &f, buf, size);
	FUZZ_CHECK(out == buf);
	FUZZ_CHECK(terminated(buf, size));
	FUZZ_CHECK(no_controls(buf));
	free(buf);
}

/* split_fields - cut a copy of the input at '\n' into C strings */
static size_t
split_fields(char *copy, size_t len, char **fields)
{
	size_t n = 0, i, start = 0;

	for (i = 0; i <= len && n < MAX_FIELDS; i++) {
		if (i == len || copy[i] == '\n') {
			copy[i] = '\0';
			fields[n++] = copy + start;
			start = i + 1;
		}
	}
	return n;
}

/* check_socket - mt_socket_check on the first field */
static void
check_socket(const char *spec)
{
	enum mt_socket_kind kind;
	char *path, err[256];
	size_t pathlen;
	int rc;

	for (pathlen = 1; pathlen <= 128; pathlen += 127) {
		path = malloc(pathlen);
		FUZZ_CHECK(path != NULL);
		err[0] = '\0';
		rc = mt_socket_check(spec, &kind, path, pathlen, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || rc == -1);
		if (rc == -1)
			FUZZ_CHECK(err[0] != '\0' && terminated(err, sizeof(err)));
		else if (kind == MT_SOCKET_UNIX)
			FUZZ_CHECK(terminated(path, pathlen) && path[0] == '/');
		free(path);
	}
}

/* LLVMFuzzerTestOneInput - one input, every use */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {1, 2, 3, 4, 5, 8, 17, 64, 300};
	char *text, *fields[MAX_FIELDS + 1];
	size_t i, n, tlen;
	long joined;
	char *jbuf;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	tlen = strlen(text);

	check_reply(text);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_escape(text, sizes[i]);
	check_escape(text, 2 * tlen + 1);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check_clean((const char *)data, size, MT_FIELD_MAX, 0, sizes[i]);
		check_clean((const char *)data, size, MT_FIELD_MAX, 1, sizes[i]);
		check_clean((const char *)data, size, 7, 1, sizes[i]);
	}
	check_clean((const char *)data, size, size, 1, 2 * size + 4);

	memcpy(text, data, size);	/* NULs included: fields end there */
	n = split_fields(text, size, fields);
	fields[n] = NULL;
	check_verdict_line(fields, n, MT_LINE_MAX);
	check_verdict_line(fields, n, 40);
	check_socket(fields[0]);
	jbuf = malloc(64);
	FUZZ_CHECK(jbuf != NULL);
	joined = mt_join_args(fields, jbuf, 64);
	FUZZ_CHECK(terminated(jbuf, 64));
	FUZZ_CHECK(joined == -1 || (size_t)joined == strlen(jbuf));
	free(jbuf);
	free(text);
	return 0;
}
