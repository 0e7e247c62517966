/*
 * config - relayguard.conf: parsing, validation, defaults
 *
 * The syntax is Postfix main.cf's, with quoting:
 *
 *	key = value		one setting per logical line
 *	# comment		whole-line, or after whitespace outside quotes
 *	key = a, b c		lists: separated by spaces and/or commas
 *	    d e			a line starting with whitespace continues the
 *				previous value (long lists)
 *	key = "a \"b\" c"	double quotes keep spaces, commas and '#';
 *				inside them \" and \\ are escapes
 *
 * A double quote opens a quoted string only at the start of a value or of
 * a list item; elsewhere it is an ordinary character.  A quoted string
 * ends on the line where it starts.  A key given twice: the last wins.
 *
 * The parser fills a configuration that starts from config_defaults() and
 * throws it away at the first error, which is reported as "NAME:LINE:
 * reason" with the physical line of the offending item (a list item on a
 * continuation line is reported with that line).  Input is bounded: lines
 * up to CONFIG_LINE_MAX bytes, files up to CONFIG_FILE_MAX bytes.
 *
 * The lookups at the end (local domains, sender_deny) run for every
 * recipient: the exact local domains are in an open-addressing hash, and
 * the glob matcher is iterative with one backtracking point, so its time
 * is bounded by the product of the pattern and address lengths.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "netlist.h"
#include "address.h"
#include "text.h"
#include "matchlist.h"
#include "config.h"
#include "listen_addr.h"
#include "policy.h"
#include "policy_request.h"
#include "ldap_filter.h"
#include "milter_text.h"
#include "rglog.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

#define CONFIG_LINE_MAX	(64 * 1024)		/* bytes per physical line */
#define CONFIG_FILE_MAX	(16 * 1024 * 1024)	/* bytes per file */
#define CONFIG_SHOW_MAX	60			/* item bytes quoted in errors */

_Static_assert(sizeof(enum rg_routing_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rg_unqualified_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rg_blank_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rg_dirfail_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rg_auditfail_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rg_ldap_scope) == sizeof(int), "enum size");
_Static_assert(sizeof(enum al_action) == sizeof(int), "enum size");
_Static_assert(AL_ALERT == 0 && AL_TEMPFAIL == 1, "limit_action_names");

/* Where each physical line starts inside a logical value. */
struct line_mark {
	size_t  off;
	unsigned line;
};

struct parser {
	const char *name;		/* file name for messages */
	char   *err;
	size_t  errlen;
	struct rg_config *cfg;

	/* The logical statement being collected. */
	int     have_stmt;
	char   *key;
	unsigned key_line;
	char   *val;
	size_t  vlen;
	size_t  vcap;
	struct line_mark *marks;
	size_t  nmarks;
	size_t  capmarks;

	/* Line where each key of keys[] was last set, for the checks
	 * across keys at the end. */
	unsigned key_lines[128];
};

struct keydef;
typedef int (*key_setter) (struct parser *, const struct keydef *);

struct keydef {
	const char *name;
	key_setter set;
	size_t  off;			/* field in struct rg_config */
	const char *const *names;	/* enum values, index = stored value */
	unsigned long min;
	unsigned long max;
	unsigned long unit;		/* durations: ms per bare unit */
	unsigned long store;		/* durations: ms per stored unit */
};

static const char *const rule_names[RG_RULE_COUNT] = {
	[RG_RULE_PASS] = "pass",
	[RG_RULE_LOCAL] = "local",
	[RG_RULE_TRUSTED] = "trusted",
	[RG_RULE_AUTHENTICATED] = "authenticated",
	[RG_RULE_POSTMASTER] = "postmaster",
	[RG_RULE_DIRECTORY_ACCEPT] = "directory_accept",
	[RG_RULE_MTA] = "mta",
	[RG_RULE_RELAY] = "relay",
	[RG_RULE_ROUTING] = "routing",
	[RG_RULE_UNKNOWN] = "unknown",
	[RG_RULE_BLANK_SENDER] = "blank_sender",
	[RG_RULE_SENDER_DENY] = "sender_deny",
	[RG_RULE_SPOOF] = "spoof",
	[RG_RULE_HARVEST] = "harvest",
	[RG_RULE_SYNTAX] = "syntax",
	[RG_RULE_UTF8] = "utf8",
	[RG_RULE_DIRECTORY] = "directory_unavailable",
	[RG_RULE_UNQUALIFIED] = "unqualified",
	[RG_RULE_AUDIT] = "audit_unavailable",
	[RG_RULE_CLIENT_PENALTY] = "client_penalty",
	[RG_RULE_CLIENT_PENALTY_RCPT] = "client_penalty_rcpt",
	[RG_RULE_MTA_MISMATCH] = "mta_mismatch",
	[RG_RULE_AUTH_LIMIT] = "auth_limit",
	[RG_RULE_TRUSTED_LIMIT] = "trusted_limit",
};

static const char *const reply_names[RG_REPLY_COUNT] = {
	[RG_REPLY_RELAY] = "relay",
	[RG_REPLY_ROUTING] = "routing",
	[RG_REPLY_UNKNOWN] = "unknown",
	[RG_REPLY_BLANK_SENDER] = "blank_sender",
	[RG_REPLY_BLANK_SENDER_DROP] = "blank_sender_drop",
	[RG_REPLY_SENDER_DENY] = "sender_deny",
	[RG_REPLY_SPOOF] = "spoof",
	[RG_REPLY_HARVEST] = "harvest",
	[RG_REPLY_SYNTAX] = "syntax",
	[RG_REPLY_UTF8] = "utf8",
	[RG_REPLY_DIRECTORY] = "directory_unavailable",
	[RG_REPLY_UNQUALIFIED] = "unqualified",
	[RG_REPLY_AUDIT] = "audit_unavailable",
	[RG_REPLY_CLIENT_PENALTY] = "client_penalty",
	[RG_REPLY_CLIENT_PENALTY_RCPT] = "client_penalty_rcpt",
	[RG_REPLY_MTA_MISMATCH] = "mta_mismatch",
	[RG_REPLY_AUTH_LIMIT] = "auth_limit",
	[RG_REPLY_TRUSTED_LIMIT] = "trusted_limit",
};

static const struct rg_reply default_replies[RG_REPLY_COUNT] = {
	[RG_REPLY_RELAY] = {550, "5.7.1", "Relay access denied"},
	[RG_REPLY_ROUTING] = {550, "5.7.1", "Sender-specified routing denied"},
	[RG_REPLY_UNKNOWN] = {550, "5.1.1",
	    "Recipient address rejected: user unknown"},
	[RG_REPLY_BLANK_SENDER] = {550, "5.7.1",
	    "Blank sender not accepted for this recipient"},
	[RG_REPLY_BLANK_SENDER_DROP] = {421, "4.7.0",
	    "Blank sender refused, closing connection"},
	[RG_REPLY_SENDER_DENY] = {550, "5.7.1", "Sender address rejected"},
	[RG_REPLY_SPOOF] = {550, "5.7.1",
	    "Local sender address not allowed from outside"},
	[RG_REPLY_HARVEST] = {421, "4.7.0",
	    "Too many unknown recipients, closing connection"},
	[RG_REPLY_SYNTAX] = {501, "5.1.3", "Bad address syntax"},
	[RG_REPLY_UTF8] = {553, "5.6.7", "Non-ASCII address requires SMTPUTF8"},
	[RG_REPLY_DIRECTORY] = {451, "4.4.3",
	    "Directory unavailable, try again later"},
	[RG_REPLY_UNQUALIFIED] = {550, "5.1.3",
	    "Recipient address must include a domain"},
	[RG_REPLY_MTA_MISMATCH] = {550, "5.7.1", "Relay access denied"},
	[RG_REPLY_AUDIT] = {451, "4.3.0",
	    "Audit trail unavailable, try again later"},
	[RG_REPLY_CLIENT_PENALTY] = {421, "4.7.0",
	    "Too many refused commands from your network, try again later"},
	[RG_REPLY_CLIENT_PENALTY_RCPT] = {450, "4.7.1",
	    "Too many refused recipients from your network, try again later"},
	[RG_REPLY_AUTH_LIMIT] = {450, "4.7.1",
	    "Sending limit reached for this account, try again later"},
	[RG_REPLY_TRUSTED_LIMIT] = {450, "4.7.1",
	    "Sending limit reached for this host, try again later"},
};

static const char *const mode_names[] = {"enforce", "monitor", NULL};
static const char *const routing_names[] = {"reject", "resolve", NULL};
static const char *const unqualified_names[] = {"reject", "qualify", NULL};
static const char *const blank_names[] = {
	"accept", "single-recipient", "reject", "drop", NULL,
};
static const char *const spoof_names[] = {"accept", "reject", NULL};
static const char *const dirfail_names[] = {"tempfail", "accept", NULL};
static const char *const auditfail_names[] = {
	"continue", "tempfail", "spool", NULL,
};
static const char *const limit_action_names[] = {"alert", "tempfail", NULL};
static const char *const scope_names[] = {"sub", "one", "base", NULL};

/* ---------------------------------------------------------------- */
/* Messages */

/* parse_error - "NAME:LINE: reason" into the caller's buffer; returns -1 */
static int __attribute__((format(printf, 3, 4)))
parse_error(struct parser *ps, unsigned line, const char *fmt, ...)
{
	char    reason[512];
	va_list ap;

	if (ps->err == NULL || ps->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->name, line, reason);
	return -1;
}

/* show - a bounded copy of s for messages (text.h's human escaper) */
static const char *
show(const char *s, char *buf, size_t size)
{
	return text_human_str(s, CONFIG_SHOW_MAX, buf, size);
}

/* join_names - "a, b or c" for the allowed values in messages */
static const char *
join_names(const char *const *names, size_t count, char *buf, size_t size)
{
	size_t  i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < count && names[i] != NULL; i++) {
		const char *sep = i == 0 ? "" :
		    (i + 1 == count || names[i + 1] == NULL) ? " or " : ", ";
		int     w = snprintf(buf + n, size - n, "%s%s", sep, names[i]);

		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

/* ---------------------------------------------------------------- */
/* Small parsers for values */

/* parse_ulong - decimal digits only; 0 ok, -1 not a number or too big.
 * At most 10 digits, so that a duration in ms cannot overflow. */
static int
parse_ulong(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t  i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* parse_bool - yes/no/true/false/on/off/1/0; 1, 0, or -1 */
static int
parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(yes); i++) {
		if (rg_strcaseeq(s, yes[i]))
			return 1;
		if (rg_strcaseeq(s, no[i]))
			return 0;
	}
	return -1;
}

/* parse_duration - NUMBER[ms|s|m|h|d] in ms; bare numbers count unit ms */
static int
parse_duration(const char *s, unsigned long unit, unsigned long long *ms)
{
	static const struct {
		const char *suffix;
		unsigned long ms;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
		{"d", 86400000},
	};
	unsigned long long v;
	size_t  len = strlen(s), digits = 0, i;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (parse_ulong(s, digits, &v) < 0)
		return -1;
	if (digits == len) {
		*ms = v * unit;
		return 0;
	}
	for (i = 0; i < RG_ARRAY_LEN(units); i++) {
		if (rg_strcaseeq(s + digits, units[i].suffix)) {
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

/* domain_problem - why s (lower-case, no leading/trailing dot) is not a
 * host name, or NULL when it is one */
static const char *
domain_problem(const char *s)
{
	size_t  len = strlen(s), label = 0, i;

	if (len == 0)
		return "empty domain name";
	if (len > 253)
		return "longer than 253 characters";
	if (s[0] == '[')
		return "an address literal: list our addresses in local_addresses";
	if (strchr(s, '@') != NULL)
		return "an address, not a domain";
	if (strchr(s, '*') != NULL)
		return "wildcards are not supported: \".example.org\" "
		    "covers the subdomains of example.org";
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "empty label (two dots in a row?)";
			if (s[i - 1] == '-')
				return "a label ends with \"-\"";
			label = 0;
			continue;
		}
		if (c >= 0x80)
			return "not ASCII";	/* U-labels were converted */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return "only letters, digits, \"-\" and \".\" are "
			    "allowed in a host name";
		if (label == 0 && c == '-')
			return "a label starts with \"-\"";
		if (++label > 63)
			return "a label is longer than 63 characters";
	}
	return NULL;
}

/* reply_err - write a reason for config_parse_reply; returns -1 */
static int __attribute__((format(printf, 3, 4)))
reply_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* reply_number - 1 to 3 digits at *p, 0..999; advances *p */
static int
reply_number(const char **p, unsigned *out)
{
	unsigned v = 0, n = 0;

	while (**p >= '0' && **p <= '9' && n < 4) {
		v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || n > 3)
		return -1;
	*out = v;
	return 0;
}

/* config_parse_reply - "CODE X.Y.Z text" into reply; 0 ok, -1 + err */
int
config_parse_reply(const char *text, struct rg_reply *reply, char *err,
		   size_t errlen)
{
	const char *p = text;
	unsigned cls, subject, detail;
	size_t  len, i;
	int     code;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
	      p[2] >= '0' && p[2] <= '9') ||
	    (p[3] != ' ' && p[3] != '\t' && p[3] != '\0'))
		return reply_err(err, errlen, "expected \"CODE X.Y.Z text\" "
				 "with a 3-digit SMTP code, e.g. "
				 "\"550 5.7.1 Relay access denied\"");
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (p[0] != '4' && p[0] != '5')
		return reply_err(err, errlen, "code %d is not 4xx or 5xx", code);
	if (p[1] > '5')
		return reply_err(err, errlen, "code %d is not an SMTP reply "
				 "code (second digit 0 to 5)", code);
	p += 3;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p[0] >= '0' && p[0] <= '9' && p[1] == '.'))
		return reply_err(err, errlen, "missing enhanced status code "
				 "after %d: expected \"%d %c.X.Y text\" "
				 "(RFC 3463)", code, code, '0' + code / 100);
	cls = (unsigned)(p[0] - '0');
	p += 2;
	if (reply_number(&p, &subject) < 0 || *p != '.')
		return reply_err(err, errlen, "bad enhanced status code: "
				 "expected CLASS.SUBJECT.DETAIL, each 1 to 3 "
				 "digits (RFC 3463)");
	p++;
	if (reply_number(&p, &detail) < 0 ||
	    (*p != ' ' && *p != '\t' && *p != '\0'))
		return reply_err(err, errlen, "bad enhanced status code: "
				 "expected CLASS.SUBJECT.DETAIL, each 1 to 3 "
				 "digits (RFC 3463)");
	if (cls != 4 && cls != 5)
		return reply_err(err, errlen, "enhanced status code class %u "
				 "is not 4 or 5", cls);
	if (cls != (unsigned)code / 100)
		return reply_err(err, errlen, "enhanced status code class %u "
				 "does not match code %d (use %d.X.Y)", cls,
				 code, code / 100);
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0)
		return reply_err(err, errlen, "missing text after the "
				 "enhanced status code");
	if (len > sizeof(reply->text) - 1)
		return reply_err(err, errlen, "text longer than %zu characters",
				 sizeof(reply->text) - 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' || c == '\n')
			return reply_err(err, errlen, "text contains a line "
					 "break (only one-line replies)");
		if (c < 0x20 || c >= 0x7f)
			return reply_err(err, errlen, "text contains a "
					 "character that is not printable "
					 "ASCII (byte 0x%02x)", c);
	}
	memset(reply, 0, sizeof(*reply));
	reply->code = code;
	snprintf(reply->ecode, sizeof(reply->ecode), "%u.%u.%u", cls, subject,
		 detail);
	memcpy(reply->text, p, len);
	reply->text[len] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- */
/* Values: scalars and lists, with quotes */

/* line_at - physical line of offset off in the statement's value */
static unsigned
line_at(const struct parser *ps, size_t off)
{
	size_t  i;
	unsigned line = ps->key_line;

	for (i = 0; i < ps->nmarks && ps->marks[i].off <= off; i++)
		line = ps->marks[i].line;
	return line;
}

/* is_space - blanks inside a line */
static int
is_space(int c)
{
	return c == ' ' || c == '\t';
}

/* read_quoted - dequote the string at val[*pos] == '"'; advances *pos */
static char *
read_quoted(const char *val, size_t vlen, size_t *pos)
{
	char   *out = xmalloc(vlen + 1);
	size_t  i = *pos + 1, n = 0;

	while (i < vlen && val[i] != '"') {
		if (val[i] == '\\' && i + 1 < vlen &&
		    (val[i + 1] == '"' || val[i + 1] == '\\'))
			i++;
		out[n++] = val[i++];
	}
	/* The line reader made sure every quote is closed. */
	out[n] = '\0';
	*pos = i < vlen ? i + 1 : i;
	return out;
}

/* next_item - the next list item; 1 found, 0 end, -1 error */
static int
next_item(struct parser *ps, size_t *pos, char **item, unsigned *line)
{
	const char *val = ps->val;
	size_t  i = *pos, start;

	while (i < ps->vlen && (is_space(val[i]) || val[i] == ','))
		i++;
	if (i >= ps->vlen) {
		*pos = i;
		return 0;
	}
	start = i;
	*line = line_at(ps, start);
	if (val[i] == '"') {
		*item = read_quoted(val, ps->vlen, &i);
		if (i < ps->vlen && !is_space(val[i]) && val[i] != ',') {
			*item = (free(*item), NULL);
			return parse_error(ps, *line, "%s: text right after a "
					   "closing quote (separate list items "
					   "with spaces or commas)", ps->key);
		}
	} else {
		while (i < ps->vlen && !is_space(val[i]) && val[i] != ',')
			i++;
		*item = xstrndup(val + start, i - start);
	}
	*pos = i;
	return 1;
}

/* scalar_value - the whole value as one string (dequoted); NULL + error */
static char *
scalar_value(struct parser *ps, unsigned *line)
{
	const char *val = ps->val;
	size_t  start = 0, end = ps->vlen, pos;
	char   *out;

	while (start < end && is_space(val[start]))
		start++;
	while (end > start && is_space(val[end - 1]))
		end--;
	*line = line_at(ps, start);
	if (start < end && val[start] == '"') {
		pos = start;
		out = read_quoted(val, end, &pos);
		if (pos < end) {
			free(out);
			parse_error(ps, line_at(ps, pos), "%s: text after the "
				    "closing quote (%s takes one value)",
				    ps->key, ps->key);
			return NULL;
		}
		return out;
	}
	return xstrndup(val + start, end - start);
}

/* ---------------------------------------------------------------- */
/* Setters, one per kind of key */

/* field - the struct member a key sets */
static void *
field(struct parser *ps, const struct keydef *kd)
{
	return (char *)ps->cfg + kd->off;
}

/*
 * Scalar keys: one skeleton (set_scalar) takes the value, hands it to
 * the key's parse function and reports "FILE:LINE: key: "value": why";
 * the parse functions only say whether the value is good and store it.
 * A parse function either stores and returns 0 (taking the string by
 * setting *v = NULL, or leaving it to be freed), or returns -1 with the
 * reason in why.  Values used by another module are checked by that
 * module's own validator.
 */
typedef int value_parse(const struct keydef *kd, char **v, void *slot,
			char *why, size_t whylen);

/* set_scalar - the one setter of every scalar key */
static int
set_scalar(struct parser *ps, const struct keydef *kd, value_parse *parse)
{
	unsigned line;
	char   *v = scalar_value(ps, &line), buf[80], why[512];

	if (v == NULL)
		return -1;
	why[0] = '\0';
	if (parse(kd, &v, field(ps, kd), why, sizeof(why)) < 0) {
		parse_error(ps, line, "%s: \"%s\": %s", kd->name,
			    show(v, buf, sizeof(buf)), why);
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

/* store_string - a string slot takes *v (NULL: the key is unset) */
static int
store_string(char **v, void *slot, int unset)
{
	char  **s = slot;

	free(*s);
	*s = unset ? NULL : *v;
	if (unset)
		free(*v);
	*v = NULL;
	return 0;
}

/* parse_bool_value - yes/no keys */
static int
parse_bool_value(const struct keydef *kd, char **v, void *slot, char *why,
		 size_t whylen)
{
	int     b = parse_bool(*v);

	(void) kd;
	if (b < 0) {
		rg_snprintf(why, whylen, "expected yes or no (also true/false, "
			    "on/off, 1/0)");
		return -1;
	}
	*(int *) slot = b;
	return 0;
}

/* parse_enum - keys with a fixed set of values */
static int
parse_enum(const struct keydef *kd, char **v, void *slot, char *why,
	   size_t whylen)
{
	char    names[256];
	int     i;

	for (i = 0; kd->names[i] != NULL; i++) {
		if (rg_strcaseeq(*v, kd->names[i])) {
			memcpy(slot, &i, sizeof(i));
			return 0;
		}
	}
	rg_snprintf(why, whylen, "expected %s",
		    join_names(kd->names, 64, names, sizeof(names)));
	return -1;
}

/* parse_uint - unsigned numbers within [min, max] */
static int
parse_uint(const struct keydef *kd, char **v, void *slot, char *why,
	   size_t whylen)
{
	unsigned long long n;

	if (parse_ulong(*v, strlen(*v), &n) < 0 || n < kd->min || n > kd->max) {
		rg_snprintf(why, whylen, "expected a whole number from %lu to %lu",
			    kd->min, kd->max);
		return -1;
	}
	*(unsigned *) slot = (unsigned) n;
	return 0;
}

/* parse_duration_value - NUMBER[ms|s|m|h|d]; stored in kd->store ms units */
static int
parse_duration_value(const struct keydef *kd, char **v, void *slot,
		     char *why, size_t whylen)
{
	unsigned long long ms;

	if (parse_duration(*v, kd->unit, &ms) < 0) {
		rg_snprintf(why, whylen, "expected a duration: bare %s, or a "
			    "number with an ms, s, m or h suffix (e.g. 5s, 500ms)",
			    kd->unit == 1 ? "milliseconds" : "seconds");
		return -1;
	}
	if (ms % kd->store != 0) {
		rg_snprintf(why, whylen, "not a whole number of seconds");
		return -1;
	}
	if (ms / kd->store < kd->min || ms / kd->store > kd->max) {
		rg_snprintf(why, whylen, "out of range (%lu%s to %lu%s)",
			    kd->min, kd->store == 1 ? "ms" : "s",
			    kd->max, kd->store == 1 ? "ms" : "s");
		return -1;
	}
	*(unsigned *) slot = (unsigned) (ms / kd->store);
	return 0;
}

/* parse_octal - a permission mode such as 0660 */
static int
parse_octal(const struct keydef *kd, char **v, void *slot, char *why,
	    size_t whylen)
{
	unsigned mode = 0;
	size_t  i, len = strlen(*v);

	(void) kd;
	for (i = 0; i < len && len <= 4; i++) {
		if ((*v)[i] < '0' || (*v)[i] > '7')
			break;
		mode = mode * 8 + (unsigned) ((*v)[i] - '0');
	}
	if (len == 0 || len > 4 || i < len || mode > 0777) {
		rg_snprintf(why, whylen, "expected an octal permission mode "
			    "from 0000 to 0777 (e.g. 0660)");
		return -1;
	}
	*(unsigned *) slot = mode;
	return 0;
}

/* parse_string - free text; an empty value means unset (NULL) */
static int
parse_string(const struct keydef *kd, char **v, void *slot, char *why,
	     size_t whylen)
{
	(void) kd;
	(void) why;
	(void) whylen;
	return store_string(v, slot, **v == '\0');
}

/* parse_audit_db - a path, or "none" (also empty): no audit trail */
static int
parse_audit_db(const struct keydef *kd, char **v, void *slot, char *why,
	       size_t whylen)
{
	(void) kd;
	(void) why;
	(void) whylen;
	return store_string(v, slot, **v == '\0' || rg_strcaseeq(*v, "none"));
}

/* parse_facility - a syslog facility name (rglog.c owns the names) */
static int
parse_facility(const struct keydef *kd, char **v, void *slot, char *why,
	       size_t whylen)
{
	char    names[512];

	(void) kd;
	rg_lowercase(*v);
	if (rglog_facility(*v) >= 0)
		return store_string(v, slot, 0);
	rg_snprintf(why, whylen, "expected one of %s",
		    join_names(rglog_facility_names, 64, names, sizeof(names)));
	return -1;
}

/* parse_directory - "file:PATH" or "ldap" */
static int
parse_directory(const struct keydef *kd, char **v, void *slot, char *why,
		size_t whylen)
{
	(void) kd;
	if (rg_strcaseeq(*v, "ldap") || rg_strcaseeq(*v, "ldap:")) {
		free(*v);
		*v = xstrdup("ldap");
	} else if (strncmp(*v, "file:", 5) != 0 || (*v)[5] == '\0') {
		rg_snprintf(why, whylen, "expected file:PATH or ldap");
		return -1;
	}
	return store_string(v, slot, 0);
}

/* parse_socket - the milter socket (milter_text.c owns the rules) */
static int
parse_socket(const struct keydef *kd, char **v, void *slot, char *why,
	     size_t whylen)
{
	char    path[128];
	enum mt_socket_kind kind;

	(void) kd;
	if (mt_socket_check(*v, &kind, path, sizeof(path), why, whylen) < 0)
		return -1;
	return store_string(v, slot, 0);
}

/* parse_policy_socket - the policy delegation listener, or none
 * (policy_request.c owns the rules) */
static int
parse_policy_socket(const struct keydef *kd, char **v, void *slot,
		    char *why, size_t whylen)
{
	struct pr_socket where;

	(void) kd;
	if (rg_strcaseeq(*v, "none"))
		return store_string(v, slot, 1);
	if (pr_socket_parse(*v, &where, why, whylen) < 0)
		return -1;
	return store_string(v, slot, 0);
}

/* parse_listen - ADDR:PORT, or "none" (also empty) = off (listen_addr.c
 * owns the rules) */
static int
parse_listen(const struct keydef *kd, char **v, void *slot, char *why,
	     size_t whylen)
{
	const char *problem;

	(void) kd;
	if (rg_strcaseeq(*v, "none") || **v == '\0')
		return store_string(v, slot, 1);
	if ((problem = listen_addr_parse(*v, NULL, NULL)) != NULL) {
		rg_snprintf(why, whylen, "%s", problem);
		return -1;
	}
	return store_string(v, slot, 0);
}

/* parse_node - the name of this MX in the audit rows; empty = unset */
static int
parse_node(const struct keydef *kd, char **v, void *slot, char *why,
	   size_t whylen)
{
	const unsigned char *p;

	(void) kd;
	if (strlen(*v) > 255) {
		rg_snprintf(why, whylen, "longer than 255 bytes");
		return -1;
	}
	for (p = (const unsigned char *) *v; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			rg_snprintf(why, whylen, "only printable ASCII without "
				    "spaces (a host name)");
			return -1;
		}
	}
	return store_string(v, slot, **v == '\0');
}

/* parse_ldap_filter - a search filter with %s %u %d %% (ldap_filter.c
 * owns the rules: the LDAP backend checks with the same function) */
static int
parse_ldap_filter(const struct keydef *kd, char **v, void *slot, char *why,
		  size_t whylen)
{
	(void) kd;
	if (ldap_filter_check(*v, why, whylen) < 0)
		return -1;
	return store_string(v, slot, 0);
}

/* The scalar keys' setters, as the key table names them. */
static int set_bool(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_bool_value); }
static int set_enum(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_enum); }
static int set_uint(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_uint); }
static int set_duration(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_duration_value); }
static int set_octal(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_octal); }
static int set_string(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_string); }
static int set_audit_db(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_audit_db); }
static int set_facility(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_facility); }
static int set_directory(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_directory); }
static int set_socket(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_socket); }
static int set_policy_socket(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_policy_socket); }
static int set_listen(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_listen); }
static int set_node(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_node); }
static int set_ldap_filter(struct parser *ps, const struct keydef *kd)
{ return set_scalar(ps, kd, parse_ldap_filter); }

/* set_ldap_uri - a list of ldap:// ldaps:// ldapi:// URIs (failover) */
static int
set_ldap_uri(struct parser *ps, const struct keydef *kd)
{
	char  **slot = field(ps, kd), *item, *joined = NULL, buf[80];
	size_t  pos = 0, len = 0;
	unsigned line;
	int     r;

	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		if (strncasecmp(item, "ldap://", 7) != 0 &&
		    strncasecmp(item, "ldaps://", 8) != 0 &&
		    strncasecmp(item, "ldapi://", 8) != 0) {
			parse_error(ps, line, "%s: \"%s\": expected an "
				    "ldap://, ldaps:// or ldapi:// URI",
				    kd->name, show(item, buf, sizeof(buf)));
			free(item);
			free(joined);
			return -1;
		}
		joined = xrealloc(joined, len + strlen(item) + 2);
		if (len > 0)
			joined[len++] = ' ';
		memcpy(joined + len, item, strlen(item) + 1);
		len += strlen(item);
		free(item);
	}
	if (r < 0) {
		free(joined);
		return -1;
	}
	free(*slot);
	*slot = joined;
	return 0;
}

/* set_netlist - a list of addresses and CIDR networks */
static int
set_netlist(struct parser *ps, const struct keydef *kd)
{
	struct netlist *nl = field(ps, kd);
	char   *item, reason[256], buf[80];
	size_t  pos = 0;
	unsigned line;
	int     r;

	netlist_free(nl);
	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		char   *text = item;
		size_t  len = strlen(text);

		/* Address-literal spelling: [192.0.2.1], [IPv6:2001:db8::1] */
		if (len > 2 && text[0] == '[' && text[len - 1] == ']') {
			text[len - 1] = '\0';
			text++;
			if (strncasecmp(text, "IPv6:", 5) == 0)
				text += 5;
		}
		reason[0] = '\0';
		if (netlist_add(nl, text, reason, sizeof(reason)) < 0) {
			/* netlist's reason quotes the item itself */
			if (reason[0] != '\0')
				parse_error(ps, line, "%s: %s", kd->name,
					    reason);
			else
				parse_error(ps, line, "%s: \"%s\": not an "
					    "IP address or CIDR network",
					    kd->name,
					    show(item, buf, sizeof(buf)));
			free(item);
			return -1;
		}
		free(item);
	}
	return r;
}

/* set_hosts - local_addresses: an address literal names one host, so a
 * network here would make every address in it "ours" */
static int
set_hosts(struct parser *ps, const struct keydef *kd)
{
	char   *item, buf[80];
	size_t  pos = 0;
	unsigned line;
	int     r;

	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		if (strchr(item, '/') != NULL) {
			parse_error(ps, line, "%s: \"%s\": a network: list "
				    "each of our addresses on its own (an "
				    "address literal names one host)",
				    kd->name, show(item, buf, sizeof(buf)));
			free(item);
			return -1;
		}
		free(item);
	}
	if (r < 0)
		return -1;
	return set_netlist(ps, kd);
}

/* has_8bit - any byte >= 0x80 */
static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* to_alabels - *item (after skip bytes: a leading dot) in A-labels, as
 * recipients' domains are compared; NULL ok, else the reason */
static const char *
to_alabels(char **item, size_t skip)
{
	char    alabels[ADDR_DOMAIN_MAX + 2];
	const char *why;

	alabels[0] = '.';
	if ((why = addr_domain_alabels(*item + skip, alabels + skip,
				       sizeof(alabels) - skip)) != NULL)
		return why;
	free(*item);
	*item = xstrdup(alabels);
	return NULL;
}

/* set_domains - local_domains: exact names and .suffix entries */
static int
set_domains(struct parser *ps, const struct keydef *kd)
{
	struct domain_list *dl = field(ps, kd);
	char   *item, buf[80];
	size_t  pos = 0, capexact = 0, capsuffix = 0;
	unsigned line;
	int     r;

	domain_list_free(dl);
	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		size_t  len = strlen(item);
		int     suffix = item[0] == '.';
		const char *why;

		rg_lowercase(item);
		if (len > 1 && item[len - 1] == '.')
			item[--len] = '\0';
		if (has_8bit(item) && (why = to_alabels(&item, suffix)) != NULL) {
			parse_error(ps, line, "%s: \"%s\": %s", kd->name,
				    show(item, buf, sizeof(buf)), why);
			free(item);
			return -1;
		}
		if ((why = domain_problem(item + suffix)) != NULL) {
			parse_error(ps, line, "%s: \"%s\": %s", kd->name,
				    show(item, buf, sizeof(buf)), why);
			free(item);
			return -1;
		}
		if (suffix) {
			if (dl->nsuffix == capsuffix) {
				capsuffix = capsuffix ? capsuffix * 2 : 4;
				dl->suffix = xrealloc(dl->suffix, capsuffix *
						      sizeof(*dl->suffix));
			}
			dl->suffix[dl->nsuffix++] = item;
		} else {
			if (dl->nexact == capexact) {
				capexact = capexact ? capexact * 2 : 8;
				dl->exact = xrealloc(dl->exact, capexact *
						     sizeof(*dl->exact));
			}
			dl->exact[dl->nexact++] = item;
		}
	}
	if (r < 0)
		return -1;
	domain_list_index(dl);
	return 0;
}

/* pattern_problem - why a sender_deny pattern is meaningless, or NULL */
static const char *
pattern_problem(const char *p)
{
	const char *at = strrchr(p, '@');

	if (strcmp(p, "<>") == 0)
		return NULL;
	if (strchr(p, '<') != NULL || strchr(p, '>') != NULL)
		return "write addresses without angle brackets "
		    "(\"<>\" alone means the null sender)";
	if (at == NULL && strchr(p, '*') == NULL)
		return "expected an address, @domain, a pattern with \"*\" "
		    "or <>";
	if (at != NULL && at[1] == '\0')
		return "nothing after \"@\"";
	return NULL;
}

/* set_patterns - sender_deny */
static int
set_patterns(struct parser *ps, const struct keydef *kd)
{
	struct pattern_list *pl = field(ps, kd);
	char   *item, buf[80];
	size_t  pos = 0, cap = 0;
	unsigned line;
	int     r;

	pattern_list_free(pl);
	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		const char *why;
		char   *src, *dst;

		rg_lowercase(item);
		if ((why = pattern_problem(item)) != NULL) {
			parse_error(ps, line, "%s: \"%s\": %s", kd->name,
				    show(item, buf, sizeof(buf)), why);
			free(item);
			return -1;
		}
		/* "**" means the same as "*" and only costs time. */
		for (src = dst = item; *src != '\0'; src++)
			if (!(*src == '*' && dst > item && dst[-1] == '*'))
				*dst++ = *src;
		*dst = '\0';
		if (pl->count == cap) {
			cap = cap ? cap * 2 : 8;
			pl->items = xrealloc(pl->items, cap * sizeof(*pl->items));
		}
		pl->items[pl->count++] = item;
	}
	return r;
}

/* set_hops - internal_next_hops: host names or [addresses], kept in the
 * form the policy compares the MTA's next hop in */
static int
set_hops(struct parser *ps, const struct keydef *kd)
{
	struct pattern_list *pl = field(ps, kd);
	char   *item, buf[80], canon[ADDR_DOMAIN_MAX + 1];
	size_t  pos = 0, cap = 0;
	unsigned line;
	const char *why;
	int     r;

	pattern_list_free(pl);
	while ((r = next_item(ps, &pos, &item, &line)) > 0) {
		if ((why = policy_hop_canon(item, canon, sizeof(canon))) != NULL
		    || (canon[0] != '[' && (why = domain_problem(canon)) != NULL)) {
			parse_error(ps, line, "%s: \"%s\": %s", kd->name,
				    show(item, buf, sizeof(buf)), why);
			free(item);
			return -1;
		}
		free(item);
		if (pl->count == cap) {
			cap = cap ? cap * 2 : 8;
			pl->items = xrealloc(pl->items, cap * sizeof(*pl->items));
		}
		pl->items[pl->count++] = xstrdup(canon);
	}
	return r;
}

/* The keys, in the order of conf/relayguard.conf. */
#define F(member) offsetof(struct rg_config, member)
static const struct keydef keys[] = {
	/* policy */
	{"mode", set_enum, F(mode), mode_names, 0, 0, 0, 0},
	{"local_domains", set_domains, F(local_domains), NULL, 0, 0, 0, 0},
	{"local_addresses", set_hosts, F(local_addresses), NULL, 0, 0, 0, 0},
	{"trusted_networks", set_netlist, F(trusted_networks), NULL, 0, 0, 0, 0},
	{"never_relay_networks", set_netlist, F(never_relay_networks), NULL,
	 0, 0, 0, 0},
	{"relay_authenticated", set_bool, F(relay_authenticated), NULL,
	 0, 0, 0, 0},
	{"routing", set_enum, F(routing), routing_names, 0, 0, 0, 0},
	{"unqualified_recipient", set_enum, F(unqualified_recipient),
	 unqualified_names, 0, 0, 0, 0},
	{"internal_next_hops", set_hops, F(internal_next_hops), NULL,
	 0, 0, 0, 0},
	{"blank_sender", set_enum, F(blank_sender), blank_names, 0, 0, 0, 0},
	{"sender_deny", set_patterns, F(sender_deny), NULL, 0, 0, 0, 0},
	{"local_sender_from_untrusted", set_enum, F(local_sender_from_untrusted),
	 spoof_names, 0, 0, 0, 0},
	{"harvest_limit", set_uint, F(harvest_limit), NULL, 0, 100000, 0, 0},
	{"directory", set_directory, F(directory), NULL, 0, 0, 0, 0},
	{"directory_failure", set_enum, F(directory_failure), dirfail_names,
	 0, 0, 0, 0},
	/* per-client memory */
	{"client_limit.unknown", set_uint, F(client_limits.limit[CT_UNKNOWN]),
	 NULL, 0, CLIENTTRACK_LIMIT_MAX, 0, 0},
	{"client_limit.relay", set_uint, F(client_limits.limit[CT_RELAY]),
	 NULL, 0, CLIENTTRACK_LIMIT_MAX, 0, 0},
	{"client_limit.routing", set_uint, F(client_limits.limit[CT_ROUTING]),
	 NULL, 0, CLIENTTRACK_LIMIT_MAX, 0, 0},
	{"client_limit.syntax", set_uint, F(client_limits.limit[CT_SYNTAX]),
	 NULL, 0, CLIENTTRACK_LIMIT_MAX, 0, 0},
	{"client_window", set_duration, F(client_limits.window), NULL,
	 CLIENTTRACK_BUCKETS, 604800, 1000, 1000},
	{"client_penalty", set_duration, F(client_limits.penalty), NULL,
	 0, 604800, 1000, 1000},
	{"client_track_size", set_uint, F(client_track_size), NULL,
	 0, 50000000, 0, 0},
	{"client_track_privileged", set_bool, F(client_track_privileged), NULL,
	 0, 0, 0, 0},
	/* privileged senders */
	{"auth_limit.hour", set_uint, F(auth_limits.max[AL_HOUR]), NULL,
	 0, AL_MAX_RCPTS, 0, 0},
	{"auth_limit.day", set_uint, F(auth_limits.max[AL_DAY]), NULL,
	 0, AL_MAX_RCPTS, 0, 0},
	{"auth_limit.domains", set_uint, F(auth_limits.max[AL_DOMAINS]), NULL,
	 0, AL_DISTINCT_DOMAINS - 1, 0, 0},
	{"auth_limit.clients", set_uint, F(auth_limits.max[AL_CLIENTS]), NULL,
	 0, AL_DISTINCT_CLIENTS - 1, 0, 0},
	{"auth_limit_action", set_enum, F(auth_limits.action),
	 limit_action_names, 0, 0, 0, 0},
	{"auth_limit_file", set_string, F(auth_limit_file), NULL, 0, 0, 0, 0},
	{"trusted_limit.hour", set_uint, F(trusted_limits.max[AL_HOUR]), NULL,
	 0, AL_MAX_RCPTS, 0, 0},
	{"trusted_limit.day", set_uint, F(trusted_limits.max[AL_DAY]), NULL,
	 0, AL_MAX_RCPTS, 0, 0},
	{"trusted_limit.domains", set_uint, F(trusted_limits.max[AL_DOMAINS]),
	 NULL, 0, AL_DISTINCT_DOMAINS - 1, 0, 0},
	{"trusted_limit_action", set_enum, F(trusted_limits.action),
	 limit_action_names, 0, 0, 0, 0},
	{"account_track_size", set_uint, F(account_track_size), NULL,
	 0, 10000000, 0, 0},
	{"alert_command", set_string, F(alert_command), NULL, 0, 0, 0, 0},
	{"alert_timeout", set_duration, F(alert_timeout), NULL,
	 1, 3600, 1000, 1000},
	{"alert_max", set_uint, F(alert_max), NULL, 1, 64, 0, 0},
	/* daemon */
	{"socket", set_socket, F(socket), NULL, 0, 0, 0, 0},
	{"socket_mode", set_octal, F(socket_mode), NULL, 0, 0, 0, 0},
	{"policy_socket", set_policy_socket, F(policy_socket), NULL,
	 0, 0, 0, 0},
	{"user", set_string, F(user), NULL, 0, 0, 0, 0},
	{"pidfile", set_string, F(pidfile), NULL, 0, 0, 0, 0},
	{"syslog_facility", set_facility, F(syslog_facility), NULL, 0, 0, 0, 0},
	{"allow_root", set_bool, F(allow_root), NULL, 0, 0, 0, 0},
	{"milter_timeout", set_duration, F(milter_timeout), NULL,
	 1, 86400, 1000, 1000},
	{"metrics_listen", set_listen, F(metrics_listen), NULL, 0, 0, 0, 0},
	{"policy_timeout", set_duration, F(policy_timeout), NULL,
	 1, 3600, 1000, 1000},
	/* ldap */
	{"ldap_uri", set_ldap_uri, F(ldap_uri), NULL, 0, 0, 0, 0},
	{"ldap_base", set_string, F(ldap_base), NULL, 0, 0, 0, 0},
	{"ldap_scope", set_enum, F(ldap_scope), scope_names, 0, 0, 0, 0},
	{"ldap_filter", set_ldap_filter, F(ldap_filter), NULL, 0, 0, 0, 0},
	{"ldap_bind_dn", set_string, F(ldap_bind_dn), NULL, 0, 0, 0, 0},
	{"ldap_bind_password_file", set_string, F(ldap_bind_password_file),
	 NULL, 0, 0, 0, 0},
	{"ldap_starttls", set_bool, F(ldap_starttls), NULL, 0, 0, 0, 0},
	{"ldap_timeout", set_duration, F(ldap_timeout_ms), NULL,
	 1, 3600000, 1000, 1},
	{"ldap_network_timeout", set_duration, F(ldap_network_timeout_ms), NULL,
	 1, 3600000, 1000, 1},
	{"ldap_pool_size", set_uint, F(ldap_pool_size), NULL, 1, 256, 0, 0},
	{"cache_positive_ttl", set_duration, F(cache_positive_ttl), NULL,
	 0, 604800, 1000, 1000},
	{"cache_negative_ttl", set_duration, F(cache_negative_ttl), NULL,
	 0, 604800, 1000, 1000},
	{"cache_size", set_uint, F(cache_size), NULL, 0, 10000000, 0, 0},
	/* audit */
	{"audit_db", set_audit_db, F(audit_db), NULL, 0, 0, 0, 0},
	{"audit_flush_ms", set_duration, F(audit_flush_ms), NULL,
	 1, 60000, 1, 1},
	{"audit_batch_rows", set_uint, F(audit_batch_rows), NULL, 1, 1000000,
	 0, 0},
	{"audit_queue_rows", set_uint, F(audit_queue_rows), NULL, 1, 16777216,
	 0, 0},
	{"audit_retention_days", set_uint, F(audit_retention_days), NULL,
	 0, 36500, 0, 0},
	{"audit_failure", set_enum, F(audit_failure), auditfail_names,
	 0, 0, 0, 0},
	{"audit_password_file", set_string, F(audit_password_file), NULL,
	 0, 0, 0, 0},
	{"audit_spool", set_string, F(audit_spool), NULL, 0, 0, 0, 0},
	{"node", set_node, F(node), NULL, 0, 0, 0, 0},
};
#undef F

_Static_assert(RG_ARRAY_LEN(keys) <= 128, "struct parser key_lines");

/* set_reply - reply.NAME */
static int
set_reply(struct parser *ps, enum rg_reply_id id)
{
	unsigned line;
	char   *v = scalar_value(ps, &line), reason[256];
	struct rg_reply reply;
	const char *why;

	if (v == NULL)
		return -1;
	if (config_parse_reply(v, &reply, reason, sizeof(reason)) < 0) {
		parse_error(ps, line, "%s: %s", ps->key, reason);
		free(v);
		return -1;
	}
	if ((why = policy_reply_problem(id, &reply)) != NULL) {
		parse_error(ps, line, "%s: \"%d %s\": %s", ps->key, reply.code,
			    reply.ecode, why);
		free(v);
		return -1;
	}
	ps->cfg->replies[id] = reply;
	free(v);
	return 0;
}

/* set_monitor - monitor.RULE */
static int
set_monitor(struct parser *ps, enum rg_rule rule)
{
	unsigned line;
	char   *v = scalar_value(ps, &line), buf[80];
	int     b;

	if (v == NULL)
		return -1;
	b = parse_bool(v);
	if (b < 0) {
		parse_error(ps, line, "%s: \"%s\": expected yes or no",
			    ps->key, show(v, buf, sizeof(buf)));
		free(v);
		return -1;
	}
	ps->cfg->rule_monitor[rule] = b;
	free(v);
	return 0;
}

/* apply_statement - hand the collected statement to its key's setter */
static int
apply_statement(struct parser *ps)
{
	char    buf[80], names[512];
	size_t  i;

	if (strncmp(ps->key, "reply.", 6) == 0) {
		for (i = 0; i < RG_REPLY_COUNT; i++)
			if (strcmp(ps->key + 6, reply_names[i]) == 0)
				return set_reply(ps, (enum rg_reply_id)i);
		return parse_error(ps, ps->key_line, "unknown key \"%s\" "
				   "(the replies are reply. followed by %s)",
				   show(ps->key, buf, sizeof(buf)),
				   join_names(reply_names, RG_REPLY_COUNT,
					      names, sizeof(names)));
	}
	if (strncmp(ps->key, "monitor.", 8) == 0) {
		for (i = RG_RULE_FIRST_REFUSAL; i < RG_RULE_COUNT; i++)
			if (strcmp(ps->key + 8, rule_names[i]) == 0)
				return set_monitor(ps, (enum rg_rule)i);
		return parse_error(ps, ps->key_line, "unknown key \"%s\" "
				   "(the rules are monitor. followed by %s)",
				   show(ps->key, buf, sizeof(buf)),
				   join_names(rule_names + RG_RULE_FIRST_REFUSAL,
					      RG_RULE_COUNT -
					      RG_RULE_FIRST_REFUSAL,
					      names, sizeof(names)));
	}
	for (i = 0; i < RG_ARRAY_LEN(keys); i++) {
		if (strcmp(ps->key, keys[i].name) == 0) {
			ps->key_lines[i] = ps->key_line;
			return keys[i].set(ps, &keys[i]);
		}
	}
	if (strcmp(ps->key, "ldap_bind_password") == 0)
		return parse_error(ps, ps->key_line, "unknown key \"%s\": put "
				   "the password in a file of its own and name "
				   "it with ldap_bind_password_file", ps->key);
	for (i = 0; ps->key[i] != '\0'; i++) {
		if (ps->key[i] >= 'A' && ps->key[i] <= 'Z')
			return parse_error(ps, ps->key_line, "unknown key "
					   "\"%s\" (key names are lower-case)",
					   show(ps->key, buf, sizeof(buf)));
	}
	return parse_error(ps, ps->key_line, "unknown key \"%s\"",
			   show(ps->key, buf, sizeof(buf)));
}

/* ---------------------------------------------------------------- */
/* Lines */

/* value_append - add bytes to the statement's value, marking the line */
static void
value_append(struct parser *ps, const char *text, size_t len, unsigned line)
{
	if (ps->nmarks == ps->capmarks) {
		ps->capmarks = ps->capmarks ? ps->capmarks * 2 : 8;
		ps->marks = xrealloc(ps->marks, ps->capmarks * sizeof(*ps->marks));
	}
	if (ps->vlen + len + 2 > ps->vcap) {
		while (ps->vlen + len + 2 > ps->vcap)
			ps->vcap = ps->vcap ? ps->vcap * 2 : 256;
		ps->val = xrealloc(ps->val, ps->vcap);
	}
	if (ps->vlen > 0)
		ps->val[ps->vlen++] = ' ';
	ps->marks[ps->nmarks].off = ps->vlen;
	ps->marks[ps->nmarks].line = line;
	ps->nmarks++;
	memcpy(ps->val + ps->vlen, text, len);
	ps->vlen += len;
	ps->val[ps->vlen] = '\0';
}

/* finish_statement - apply the pending statement, if any */
static int
finish_statement(struct parser *ps)
{
	int     r;

	if (!ps->have_stmt)
		return 0;
	r = apply_statement(ps);
	ps->have_stmt = 0;
	ps->key = (free(ps->key), NULL);
	ps->vlen = 0;
	ps->nmarks = 0;
	if (ps->val != NULL)
		ps->val[0] = '\0';
	return r;
}

/* strip_comment - length of line without its comment; -1 when a quoted
 * string does not end on this line */
static ssize_t
strip_comment(const char *line, size_t len, size_t eq)
{
	size_t  i;
	int     quoted = 0;

	for (i = 0; i < len; i++) {
		char    c = line[i];
		char    prev = i > 0 ? line[i - 1] : ' ';

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = 0;
		} else if (c == '"' && (is_space(prev) || prev == ',' ||
					i == eq + 1)) {
			quoted = 1;
		} else if (c == '#' && is_space(prev)) {
			return (ssize_t)i;
		}
	}
	return quoted ? -1 : (ssize_t)len;
}

/* parse_line - one physical line (without its newline) */
static int
parse_line(struct parser *ps, const char *line, size_t len, unsigned lineno)
{
	const char *eqp;
	size_t  eq, klen, vstart;
	ssize_t end;
	int     cont;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\0', len) != NULL)
		return parse_error(ps, lineno, "NUL byte in the line");
	cont = len > 0 && is_space(line[0]);
	eqp = cont ? NULL : memchr(line, '=', len);
	eq = eqp ? (size_t)(eqp - line) : (size_t)-2;
	if ((end = strip_comment(line, len, eq)) < 0)
		return parse_error(ps, lineno, "a quoted string does not end "
				   "on this line (missing \")");
	len = (size_t)end;
	while (len > 0 && is_space(line[len - 1]))
		len--;
	vstart = 0;
	while (vstart < len && is_space(line[vstart]))
		vstart++;
	if (vstart == len)
		return 0;		/* blank or comment: keeps continuation */
	if (cont) {
		if (!ps->have_stmt)
			return parse_error(ps, lineno, "line starts with "
					   "whitespace but continues no "
					   "setting (start \"key = value\" "
					   "lines in the first column)");
		value_append(ps, line + vstart, len - vstart, lineno);
		return 0;
	}
	if (finish_statement(ps) < 0)
		return -1;
	if (eqp == NULL || eq >= len)
		return parse_error(ps, lineno, "missing \"=\": expected "
				   "\"key = value\"");
	klen = eq;
	while (klen > 0 && is_space(line[klen - 1]))
		klen--;
	if (klen == 0)
		return parse_error(ps, lineno, "empty key before \"=\"");
	ps->key = xstrndup(line, klen);
	ps->key_line = lineno;
	ps->have_stmt = 1;
	vstart = eq + 1;
	while (vstart < len && is_space(line[vstart]))
		vstart++;
	value_append(ps, line + vstart, len - vstart, lineno);
	return 0;
}

/* line_of - the line where a key was last set (1 when never) */
static unsigned
line_of(const struct parser *ps, const char *name)
{
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0 && ps->key_lines[i] > 0)
			return ps->key_lines[i];
	return 1;
}

/* key_given - 1 when the file set the key */
static int
key_given(const struct parser *ps, const char *name)
{
	size_t  i;

	for (i = 0; i < RG_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return ps->key_lines[i] > 0;
	return 0;
}

/* check_ldap - the LDAP settings belong together (directory = ldap) */
static int
check_ldap(struct parser *ps)
{
	struct rg_config *cfg = ps->cfg;
	const char *p;

	if (cfg->ldap_uri == NULL)
		return parse_error(ps, line_of(ps, "directory"), "directory = "
				   "ldap needs ldap_uri (the servers to ask)");
	if (cfg->ldap_base == NULL)
		return parse_error(ps, line_of(ps, "directory"), "directory = "
				   "ldap needs ldap_base (where to search)");
	if (cfg->ldap_bind_dn != NULL && cfg->ldap_bind_password_file == NULL)
		return parse_error(ps, line_of(ps, "ldap_bind_dn"), "ldap_bind_dn "
				   "needs ldap_bind_password_file (the file "
				   "holding the password)");
	if (cfg->ldap_bind_dn == NULL && cfg->ldap_bind_password_file != NULL)
		return parse_error(ps, line_of(ps, "ldap_bind_password_file"),
				   "ldap_bind_password_file needs ldap_bind_dn "
				   "(the DN to bind as)");
	for (p = cfg->ldap_uri; cfg->ldap_starttls && p != NULL; ) {
		if (strncasecmp(p, "ldaps://", 8) == 0)
			return parse_error(ps, line_of(ps, "ldap_starttls"),
					   "ldap_starttls = yes with an "
					   "ldaps:// URI: that connection is "
					   "already encrypted (use ldap://)");
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	}
	return 0;
}

/* check_audit - audit_failure's default and meaning depend on the store */
static int
check_audit(struct parser *ps)
{
	struct rg_config *cfg = ps->cfg;
	int     pgsql = config_audit_is_pgsql(cfg->audit_db);
	int     failure_given = key_given(ps, "audit_failure");

	if (pgsql && !failure_given)
		cfg->audit_failure = RG_AUDITFAIL_SPOOL;
	if (!pgsql && cfg->audit_db != NULL
	    && cfg->audit_failure == RG_AUDITFAIL_SPOOL)
		return parse_error(ps, line_of(ps, "audit_failure"),
				   "audit_failure = spool needs a PostgreSQL "
				   "audit_db (postgresql://...): an SQLite "
				   "audit database is its own local store");
	return 0;
}

/* check_config - rules across keys, once everything is read */
static int
check_config(struct parser *ps)
{
	struct rg_config *cfg = ps->cfg;

	if (strcmp(cfg->directory, "ldap") == 0 && check_ldap(ps) < 0)
		return -1;
	if (check_audit(ps) < 0)
		return -1;
	free(cfg->qualify_domain);
	cfg->qualify_domain = cfg->local_domains.nexact > 0 ?
	    xstrdup(cfg->local_domains.exact[0]) : NULL;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Public interface */

/* config_defaults - a configuration with every default; never NULL */
struct rg_config *
config_defaults(void)
{
	struct rg_config *cfg = xcalloc(1, sizeof(*cfg));
	size_t  i;

	for (i = 0; i < RG_RULE_COUNT; i++)
		cfg->rule_monitor[i] = -1;
	cfg->mode = RG_MODE_ENFORCE;
	cfg->relay_authenticated = 1;
	cfg->routing = RG_ROUTING_REJECT;
	cfg->unqualified_recipient = RG_UNQUALIFIED_REJECT;
	cfg->blank_sender = RG_BLANK_SINGLE;
	cfg->local_sender_from_untrusted = RG_SPOOF_ACCEPT;
	cfg->harvest_limit = 20;
	/* A harvester that reconnects after harvest_limit unknowns is
	 * penalised in its third connection. */
	cfg->client_limits.limit[CT_UNKNOWN] = 50;
	cfg->client_limits.limit[CT_RELAY] = 10;
	cfg->client_limits.limit[CT_ROUTING] = 10;
	cfg->client_limits.limit[CT_SYNTAX] = 50;
	cfg->client_limits.window = 3600;
	cfg->client_limits.penalty = 3600;
	cfg->client_track_size = 100000;
	cfg->client_track_privileged = 0;
	/* Alerts only: a site learns about a stolen password the same
	 * hour, and no legitimate sender is ever deferred by default. */
	cfg->auth_limits.max[AL_HOUR] = 500;
	cfg->auth_limits.max[AL_DAY] = 2000;
	cfg->auth_limits.max[AL_DOMAINS] = 50;
	cfg->auth_limits.max[AL_CLIENTS] = 5;
	cfg->auth_limits.action = AL_ALERT;
	cfg->trusted_limits.max[AL_HOUR] = 2000;
	cfg->trusted_limits.max[AL_DAY] = 10000;
	cfg->trusted_limits.max[AL_DOMAINS] = 0;
	cfg->trusted_limits.action = AL_ALERT;
	cfg->account_track_size = 10000;
	cfg->alert_timeout = 10;
	cfg->alert_max = 4;
	cfg->directory = xstrdup("file:" SYSCONFDIR "/relayguard/recipients");
	cfg->directory_failure = RG_DIRFAIL_TEMPFAIL;
	memcpy(cfg->replies, default_replies, sizeof(cfg->replies));

	cfg->socket = xstrdup("inet:8894@127.0.0.1");
	cfg->socket_mode = 0660;
	cfg->syslog_facility = xstrdup("mail");
	cfg->allow_root = 0;
	cfg->milter_timeout = 7210;	/* libmilter's own default */
	cfg->policy_timeout = 30;

	cfg->ldap_scope = RG_LDAP_SCOPE_SUB;
	cfg->ldap_filter = xstrdup("(|(mail=%s)(mailLocalAddress=%s))");
	cfg->ldap_starttls = 0;
	cfg->ldap_timeout_ms = 5000;
	cfg->ldap_network_timeout_ms = 3000;
	cfg->ldap_pool_size = 4;
	cfg->cache_positive_ttl = 300;
	cfg->cache_negative_ttl = 60;
	cfg->cache_size = 10000;

	cfg->audit_db = xstrdup(LOCALSTATEDIR "/lib/relayguard/audit.db");
	cfg->audit_flush_ms = 200;
	cfg->audit_batch_rows = 1000;
	cfg->audit_queue_rows = 65536;
	cfg->audit_retention_days = 90;
	cfg->audit_failure = RG_AUDITFAIL_CONTINUE;
	cfg->audit_spool = xstrdup(LOCALSTATEDIR "/lib/relayguard/audit-spool.db");
	return cfg;
}

/* config_parse - same as config_load for text in memory */
struct rg_config *
config_parse(const char *text, size_t len, const char *name, char *err,
	     size_t errlen)
{
	struct parser ps;
	size_t  pos = 0;
	unsigned lineno = 0;
	int     r = 0;

	memset(&ps, 0, sizeof(ps));
	ps.name = name ? name : "(config)";
	ps.err = err;
	ps.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ps.cfg = config_defaults();
	ps.cfg->path = xstrdup(ps.name);
	/* A UTF-8 byte order mark, as some editors write it. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	if (len > CONFIG_FILE_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: larger than %d bytes",
				 ps.name, CONFIG_FILE_MAX);
		r = -1;
	}
	while (r == 0 && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t  end = nl ? (size_t)(nl - text) : len;

		lineno++;
		if (end - pos > CONFIG_LINE_MAX)
			r = parse_error(&ps, lineno, "line longer than %d bytes",
					CONFIG_LINE_MAX);
		else
			r = parse_line(&ps, text + pos, end - pos, lineno);
		pos = end + 1;
	}
	if (r == 0)
		r = finish_statement(&ps);
	if (r == 0)
		r = check_config(&ps);
	free(ps.key);
	free(ps.val);
	free(ps.marks);
	if (r < 0)
		return config_free(ps.cfg);
	return ps.cfg;
}

/* anchor_path - make *slot (after skip bytes of prefix) relative to dir */
static void
anchor_path(char **slot, size_t skip, const char *dir, size_t dirlen)
{
	char   *old = *slot, *p;
	size_t  len;

	if (old == NULL || old[skip] == '\0' || old[skip] == '/')
		return;
	len = strlen(old);
	p = xmalloc(len + dirlen + 2);
	memcpy(p, old, skip);
	memcpy(p + skip, dir, dirlen);
	p[skip + dirlen] = '/';
	memcpy(p + skip + dirlen + 1, old + skip, len - skip + 1);
	free(old);
	*slot = p;
}

/*
 * anchor_paths - relative paths in a configuration file are relative to
 * the file's directory, not to the daemon's working directory (which is
 * "/" once it runs in the background).
 */
static void
anchor_paths(struct rg_config *cfg, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t  dirlen;

	if (slash == NULL)
		return;
	dirlen = (size_t)(slash - path);
	if (cfg->directory != NULL && strncmp(cfg->directory, "file:", 5) == 0)
		anchor_path(&cfg->directory, 5, path, dirlen);
	if (!config_audit_is_pgsql(cfg->audit_db))
		anchor_path(&cfg->audit_db, 0, path, dirlen);
	anchor_path(&cfg->audit_password_file, 0, path, dirlen);
	anchor_path(&cfg->audit_spool, 0, path, dirlen);
	anchor_path(&cfg->ldap_bind_password_file, 0, path, dirlen);
	anchor_path(&cfg->auth_limit_file, 0, path, dirlen);
}

/* config_load - read and validate a file */
struct rg_config *
config_load(const char *path, char *err, size_t errlen)
{
	struct rg_config *cfg;
	struct stat st;
	char   *buf = NULL;
	size_t  len = 0, cap = 0;
	ssize_t n;
	int     fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot open: %s", path,
				 strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(EISDIR));
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			/* One byte over the limit is enough to know. */
			if (cap > CONFIG_FILE_MAX)
				break;
			cap = cap ? cap * 2 : 16384;
			if (cap > CONFIG_FILE_MAX)
				cap = CONFIG_FILE_MAX + 1;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s: cannot read: %s",
					 path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONFIG_FILE_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: larger than %d bytes", path,
				 CONFIG_FILE_MAX);
		free(buf);
		return NULL;
	}
	cfg = config_parse(buf ? buf : "", len, path, err, errlen);
	free(buf);
	if (cfg != NULL)
		anchor_paths(cfg, path);
	if (cfg != NULL && cfg->auth_limit_file != NULL
	    && (cfg->auth_overrides = accountlimit_overrides_load(
			cfg->auth_limit_file, &cfg->auth_limits, err,
			errlen)) == NULL)
		cfg = config_free(cfg);	/* err: "FILE:LINE: reason" */
	return cfg;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* config_free - release everything; returns NULL */
struct rg_config *
config_free(struct rg_config *cfg)
{
	if (cfg == NULL)
		return NULL;
	free(cfg->path);
	domain_list_free(&cfg->local_domains);
	free(cfg->qualify_domain);
	netlist_free(&cfg->local_addresses);
	netlist_free(&cfg->trusted_networks);
	netlist_free(&cfg->never_relay_networks);
	pattern_list_free(&cfg->sender_deny);
	pattern_list_free(&cfg->internal_next_hops);
	free(cfg->directory);
	free(cfg->socket);
	free(cfg->policy_socket);
	free(cfg->metrics_listen);
	free(cfg->user);
	free(cfg->pidfile);
	free(cfg->syslog_facility);
	free(cfg->ldap_uri);
	free(cfg->ldap_base);
	free(cfg->ldap_filter);
	free(cfg->ldap_bind_dn);
	free(cfg->ldap_bind_password_file);
	free(cfg->audit_db);
	free(cfg->audit_password_file);
	free(cfg->audit_spool);
	free(cfg->node);
	free(cfg->auth_limit_file);
	cfg->auth_overrides = accountlimit_overrides_free(cfg->auth_overrides);
	free(cfg->alert_command);
	free(cfg);
	return NULL;
}

/* config_account_limits - an AUTH user's limits, or a trusted client's */
const struct accountlimit_limits *
config_account_limits(const struct rg_config *cfg, const char *user)
{
	const struct accountlimit_limits *lim;

	if (user == NULL)
		return &cfg->trusted_limits;
	lim = accountlimit_overrides_find(cfg->auth_overrides, user);
	return lim != NULL ? lim : &cfg->auth_limits;
}

/* config_local_domain - 1 when name is one of our domains */
int
config_local_domain(const struct rg_config *cfg, const char *name)
{
	return domain_list_match(&cfg->local_domains, name);
}

/* config_is_local - addr_is_local_fn over a struct rg_config */
int
config_is_local(const struct addr_domain *domain, void *ctx)
{
	const struct rg_config *cfg = ctx;

	switch (domain->type) {
	case ADDR_DOM_NONE:
		return 1;
	case ADDR_DOM_LITERAL:
		/* As the MTA matches it: written in its canonical form (Sendmail
		 * compares $=w as text), the very address (no IPv4-mapped
		 * folding: [IPv6:::ffff:192.0.2.25] is not [192.0.2.25]). */
		return domain->canonical
		    && netlist_match_exact(&cfg->local_addresses, &domain->ip);
	case ADDR_DOM_NAME:
		return config_local_domain(cfg, domain->name);
	}
	return 0;
}

/* config_sender_denied - 1 when addr ("local@domain", "" for <>) matches
 * a sender_deny pattern */
int
config_sender_denied(const struct rg_config *cfg, const char *addr)
{
	return pattern_list_match(&cfg->sender_deny, addr);
}

/* config_rule_monitored - whether refusals by rule are only logged */
int
config_rule_monitored(const struct rg_config *cfg, enum rg_rule rule)
{
	if ((int)rule >= 0 && rule < RG_RULE_COUNT &&
	    cfg->rule_monitor[rule] >= 0)
		return cfg->rule_monitor[rule];
	return cfg->mode == RG_MODE_MONITOR;
}

/* config_audit_is_pgsql - audit_db is a libpq URI */
int
config_audit_is_pgsql(const char *audit_db)
{
	return audit_db != NULL && (strncmp(audit_db, "postgresql://", 13) == 0
				    || strncmp(audit_db, "postgres://", 11) == 0);
}

/* rg_rule_name - a rule's name in configuration, logs and the audit */
const char *
rg_rule_name(enum rg_rule rule)
{
	if ((int)rule < 0 || rule >= RG_RULE_COUNT)
		return "invalid";
	return rule_names[rule];
}

/* rg_reply_name - the NAME in reply.NAME */
const char *
rg_reply_name(enum rg_reply_id id)
{
	if ((int)id < 0 || id >= RG_REPLY_COUNT)
		return "invalid";
	return reply_names[id];
}
