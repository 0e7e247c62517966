/*
 * test-text - the one escaper per output kind, and reading each back
 *
 * The same hostile strings go through the log-field, human, JSON and CSV
 * escapers; each output is checked for what its readers rely on (no
 * control byte, no space in a token, valid UTF-8, no raw < in JSON) and
 * decoded again with an independent reader written here, which must give
 * back the input (with U+FFFD for bytes that were not UTF-8 where the
 * format cannot carry them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "text.h"
#include "testlib.h"

/* The hostile strings; those with invalid UTF-8 are marked. */
static const struct hostile {
	const char *s;
	int     invalid_utf8;
} hostile[] = {
	{"plain@example.org", 0},
	{"x action=accept rule=local code=250", 0},
	{"\"x action=accept rule=local code=250\"@evil.com", 0},
	{"a\\x20b", 0},			/* a literal backslash-x-2-0 */
	{"back\\slash\\", 0},
	{"line\r\nNOQUEUE: session=forged", 0},
	{"esc\x1b[31mred\x7f", 0},
	{"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x93\xa7", 0},
	{"stray \xe9 byte", 1},
	{"overlong \xc0\xaf and surrogate \xed\xa0\x80", 1},
	{"cut \xe2\x82", 1},
	{"=cmd|' /C calc'!A0", 0},
	{"<script>alert('x')</script>&amp;", 0},
	{"comma, \"quote\", and\nnewline", 0},
	{"", 0},
};

/* capture - escape into a buffer big enough for anything here */
static char out[400];

static struct text_out
fresh(struct text_buf *tb)
{
	text_buf_init(tb, out, sizeof(out));
	return text_out_buf(tb);
}

/* replace_invalid - the input with U+FFFD for each byte that is not
 * UTF-8, as JSON and CSV must show it */
static void
replace_invalid(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t n = strlen(s), i = 0, o = 0, k;

	while (i < n && o + 4 < size) {
		if ((k = text_utf8_len(p + i, n - i)) > 0) {
			memcpy(buf + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	buf[o] = '\0';
}

/* json_decode - an independent reader of one JSON string literal:
 * returns the bytes, or -1 on anything not JSON */
static long
json_decode(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	unsigned cp;
	int i, d;

	if (*s++ != '"')
		return -1;
	while (*s != '"') {
		if (*s == '\0' || (unsigned char) *s < 0x20 || o + 4 >= size)
			return -1;
		if (*s != '\\') {
			buf[o++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"': case '\\': case '/':
			buf[o++] = *s++;
			continue;
		case 'n': buf[o++] = '\n'; s++; continue;
		case 'r': buf[o++] = '\r'; s++; continue;
		case 't': buf[o++] = '\t'; s++; continue;
		case 'u':
			break;
		default:
			return -1;
		}
		for (cp = 0, i = 1; i <= 4; i++) {
			if ((d = rg_hex_digit(s[i])) < 0)
				return -1;
			cp = cp * 16 + (unsigned) d;
		}
		s += 5;
		if (cp >= 0xd800 && cp <= 0xdfff)
			return -1;	/* never written by text_json */
		if (cp < 0x80) {
			buf[o++] = (char) cp;
		} else if (cp < 0x800) {
			buf[o++] = (char) (0xc0 | cp >> 6);
			buf[o++] = (char) (0x80 | (cp & 0x3f));
		} else {
			buf[o++] = (char) (0xe0 | cp >> 12);
			buf[o++] = (char) (0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (char) (0x80 | (cp & 0x3f));
		}
	}
	if (s[1] != '\0')
		return -1;
	buf[o] = '\0';
	return (long) o;
}

/* csv_decode - an independent reader of one RFC 4180 cell */
static long
csv_decode(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (*s != '"') {
		if (strpbrk(s, ",\"\r\n") != NULL || strlen(s) >= size)
			return -1;
		strcpy(buf, s);
		return (long) strlen(buf);
	}
	for (s++; ; s++) {
		if (*s == '\0' || o + 1 >= size)
			return -1;
		if (*s == '"') {
			if (s[1] == '"') {
				buf[o++] = '"';
				s++;
				continue;
			}
			if (s[1] != '\0')
				return -1;
			break;
		}
		buf[o++] = *s;
	}
	buf[o] = '\0';
	return (long) o;
}

/* has_control - a byte a log or terminal reader must never see */
static int
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
test_utf8(void)
{
	size_t i;

	test_begin("text: one UTF-8 check");
	for (i = 0; i < RG_ARRAY_LEN(hostile); i++)
		test_assert_int(text_utf8_check(hostile[i].s, strlen(hostile[i].s)) < 0,
				hostile[i].invalid_utf8);
	test_assert_int(text_utf8_check("ascii", 5), 0);
	test_assert_int(text_utf8_check("caf\xc3\xa9", 5), 1);
	test_assert_int(text_utf8_len((const unsigned char *) "\xf4\x90\x80\x80", 4), 0);
	test_assert_int(text_utf8_len((const unsigned char *) "\xf4\x8f\xbf\xbf", 4), 4);
	test_assert_int(text_utf8_len((const unsigned char *) "\xe0\x9f\xbf", 3), 0);
	test_end();
}

static void
test_log_and_human(void)
{
	struct text_buf tb;
	struct text_out o;
	char back[400];
	size_t i, n;
	long len;

	test_begin("text: log fields and human text read back exactly");
	for (i = 0; i < RG_ARRAY_LEN(hostile); i++) {
		n = strlen(hostile[i].s);
		o = fresh(&tb);
		text_log(&o, hostile[i].s, n, TEXT_LOG_TOKEN);
		test_assert(!tb.cut);
		test_assert(!has_control(out));
		test_assert(strchr(out, ' ') == NULL);	/* one field */
		test_assert(strchr(out, '"') == NULL || strstr(out, "\\\"") != NULL);
		test_assert(text_utf8_check(out, strlen(out)) >= 0);
		len = text_unescape(out, strlen(out), back, sizeof(back));
		test_assert_int(len, (long) n);
		test_assert(len >= 0 && memcmp(back, hostile[i].s, n) == 0);

		o = fresh(&tb);
		text_log(&o, hostile[i].s, n, 0);	/* inside "..." */
		test_assert(!has_control(out));
		for (const char *p = out; *p; p++) {
			if (*p == '\\')
				p++;	/* every '"' is escaped */
			else
				test_assert(*p != '"');
		}
		len = text_unescape(out, strlen(out), back, sizeof(back));
		test_assert(len == (long) n && memcmp(back, hostile[i].s, n) == 0);

		o = fresh(&tb);
		text_human(&o, hostile[i].s, n);
		test_assert(!has_control(out));
		test_assert(text_utf8_check(out, strlen(out)) >= 0);
		len = text_unescape(out, strlen(out), back, sizeof(back));
		test_assert(len == (long) n && memcmp(back, hostile[i].s, n) == 0);
	}
	/* A client's literal "\x20" is not a space once escaped. */
	o = fresh(&tb);
	text_log(&o, "a\\x20b", 6, TEXT_LOG_TOKEN);
	test_assert_str(out, "a\\\\x20b");
	o = fresh(&tb);
	text_log(&o, "a b\xe9\n", 5, TEXT_LOG_TOKEN);
	test_assert_str(out, "a\\x20b\\xe9\\x0a");
	test_end();
}

static void
test_json_and_csv(void)
{
	struct text_buf tb;
	struct text_out o;
	char back[400], want[400];
	size_t i;

	test_begin("text: JSON strings and CSV cells read back");
	for (i = 0; i < RG_ARRAY_LEN(hostile); i++) {
		replace_invalid(hostile[i].s, want, sizeof(want));
		o = fresh(&tb);
		text_json(&o, hostile[i].s);
		test_assert(text_utf8_check(out, strlen(out)) >= 0);
		test_assert(strpbrk(out, "<>&'") == NULL);
		test_assert(strstr(out, "\xe2\x80\xa8") == NULL);
		test_assert(json_decode(out, back, sizeof(back)) >= 0);
		test_assert_str(back, want);

		o = fresh(&tb);
		text_csv(&o, hostile[i].s);
		test_assert(text_utf8_check(out, strlen(out)) >= 0);
		test_assert(csv_decode(out, back, sizeof(back)) >= 0);
		if (strchr("=+-@\t\r", want[0]) != NULL && want[0] != '\0') {
			test_assert(back[0] == '\'');	/* never a formula */
			test_assert_str(back + 1, want);
		} else {
			test_assert_str(back, want);
		}
	}
	/* The byte 0xE9 alone is not "é": U+FFFD in JSON. */
	o = fresh(&tb);
	text_json(&o, "\xe9");
	test_assert_str(out, "\"\\ufffd\"");
	o = fresh(&tb);
	text_json(&o, NULL);
	test_assert_str(out, "null");
	test_end();
}

static void
test_bounds(void)
{
	char buf[32], big[600], field[64 * 4 + 8];

	test_begin("text: bounded copies show the cut, never half an escape");
	test_assert_str(text_log_str("abcdefgh", 8, 4, 0, buf, sizeof(buf)),
			"abcd...");
	test_assert_str(text_log_str(NULL, 0, 4, 0, buf, sizeof(buf)), "");
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	text_log_str(big, strlen(big), 64, TEXT_LOG_TOKEN, field, sizeof(field));
	test_assert_int(strlen(field), 64 * 4 + 3);
	text_log_str(big, strlen(big), 1000, TEXT_LOG_TOKEN, buf, sizeof(buf));
	test_assert_int(strlen(buf), 7 * 4 + 3);	/* 7 whole escapes fit */
	test_assert(strcmp(buf + strlen(buf) - 3, "...") == 0);
	test_assert_str(text_human_str("a\tb", 100, buf, sizeof(buf)), "a\\x09b");
	test_end();
}

int
main(void)
{
	test_utf8();
	test_log_and_human();
	test_json_and_csv();
	test_bounds();
	return test_exit();
}
