/*
 * mta_refusal - the MTA's own refusal from its macros (see mta_refusal.h)
 */
#include <string.h>

#include "util.h"
#include "mta_refusal.h"

/* is_digit - ASCII digit, whatever the locale */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ecode_len - length of an RFC 3463 "C.S.D" at s (class 4 or 5), or 0 */
static size_t
ecode_len(const char *s)
{
	size_t  i = 0, n;
	int     part;

	if (s[0] != '4' && s[0] != '5')
		return 0;
	for (part = 0; part < 3; part++) {
		for (n = 0; is_digit(s[i]) && n < 3; n++)
			i++;
		if (n == 0 || is_digit(s[i]))
			return 0;
		if (part < 2) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	return (s[i] == '\0' || s[i] == ' ') ? i : 0;
}

/* mta_refusal_is - see mta_refusal.h */
int
mta_refusal_is(const char *rcpt_mailer)
{
	return rcpt_mailer != NULL && strcmp(rcpt_mailer, "error") == 0;
}

/* mta_refusal_parse - see mta_refusal.h */
void
mta_refusal_parse(const char *host, const char *addr, struct mta_refusal *r)
{
	const char *t = addr ? addr : "";
	size_t  n, i;

	memset(r, 0, sizeof(*r));
	if (host && (n = ecode_len(host)) > 0 && n < sizeof(r->ecode))
		memcpy(r->ecode, host, n);
	while (*t == ' ')
		t++;
	if ((t[0] == '4' || t[0] == '5') && is_digit(t[1]) && is_digit(t[2])
	    && (t[3] == ' ' || t[3] == '-' || t[3] == '\0')) {
		r->code = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
		r->code_known = 1;
		t += t[3] ? 4 : 3;
		if ((n = ecode_len(t)) > 0) {
			if (r->ecode[0] == '\0' && n < sizeof(r->ecode))
				memcpy(r->ecode, t, n);
			t += n;
			while (*t == ' ')
				t++;
		}
	}
	if (!r->code_known)
		r->code = r->ecode[0] == '4' ? 450 : 550;
	for (i = 0; t[i] && i + 1 < sizeof(r->text); i++)
		r->text[i] = ((unsigned char) t[i] < 0x20 || t[i] == 0x7f) ? '?' : t[i];
	r->text[i] = '\0';
	if (r->text[0] == '\0')
		rg_strlcpy(r->text, "refused by the MTA", sizeof(r->text));
}
