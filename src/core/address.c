/*
 * address - RFC 5321 path parsing and relay-trick resolution
 *
 * See address.h for the contract.  The parser makes one bounded pass to
 * find the end of the path (closing angle bracket or first unquoted space),
 * refuses anything longer than ADDR_PATH_MAX before looking further, then
 * validates the path piece by piece: source route, local part, domain.
 * Nothing recurses and nothing allocates; every loop is bounded by the
 * input length (at most ADDR_PATH_MAX bytes once the first pass is done) or
 * by ADDR_STEPS_MAX.
 *
 * Which tricks are flagged where:
 *   addr_parse()   extra @, quoted and escaped @ % !, look-alikes, source
 *                  routes.  None of these belongs in a plain mailbox (an
 *                  unquoted second @ is not even RFC 5321 syntax), so
 *                  they are flagged whatever the domain.
 *   addr_resolve() percent hack, bang path, IMCEA.  '%' and '!' are legal
 *                  atext and IMCEA a legal name; they only route once the
 *                  destination is ours and we unwrap them, so they are
 *                  flagged then and a remote u%x@R keeps "none".
 *
 * Trace lines are written only when something happens, so a plain address
 * costs no formatting at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <idn2.h>

#include "util.h"
#include "text.h"
#include "address.h"

#define LITERAL_TEXT_MAX 64		/* "IPv6:" + longest IPv6 text */

static const char err_8bit[] = "non-ASCII address without SMTPUTF8";

/* A Unicode character that a later normalization or a human eye reads as
 * one of the routing characters @ % ! */
struct lookalike {
	unsigned char bytes[3];		/* UTF-8 */
	unsigned char len;
	char    ascii;
	unsigned cp;
};

static const struct lookalike lookalikes[] = {
	{{0xef, 0xbc, 0xa0}, 3, '@', 0xff20},	/* FULLWIDTH COMMERCIAL AT */
	{{0xef, 0xb9, 0xab}, 3, '@', 0xfe6b},	/* SMALL COMMERCIAL AT */
	{{0xef, 0xbc, 0x85}, 3, '%', 0xff05},	/* FULLWIDTH PERCENT SIGN */
	{{0xef, 0xb9, 0xaa}, 3, '%', 0xfe6a},	/* SMALL PERCENT SIGN */
	{{0xd9, 0xaa, 0x00}, 2, '%', 0x066a},	/* ARABIC PERCENT SIGN */
	{{0xef, 0xbc, 0x81}, 3, '!', 0xff01},	/* FULLWIDTH EXCLAMATION MARK */
	{{0xef, 0xb9, 0x97}, 3, '!', 0xfe57},	/* SMALL EXCLAMATION MARK */
	{{0xc7, 0x83, 0x00}, 2, '!', 0x01c3},	/* LATIN LETTER RETROFLEX CLICK */
};

/* fail - record a syntax error with a static reason */
static enum addr_status
fail(struct address *addr, const char *why)
{
	addr->status = ADDR_SYNTAX;
	addr->error = why;
	return ADDR_SYNTAX;
}

/* Character classes, one table lookup per byte on the hot path.  Bytes
 * >= 0x80 count as letters: UTF-8 is validated separately. */
#define CC_ALNUM	0x01		/* letter or digit */
#define CC_ATEXT	0x02		/* RFC 5322 atext */
#define CC_LABEL	0x04		/* domain label: letter, digit, '-' */

static const unsigned char cclass[256] = {
	['0' ... '9'] = CC_ALNUM | CC_ATEXT | CC_LABEL,
	['A' ... 'Z'] = CC_ALNUM | CC_ATEXT | CC_LABEL,
	['a' ... 'z'] = CC_ALNUM | CC_ATEXT | CC_LABEL,
	[0x80 ... 0xff] = CC_ATEXT | CC_LABEL,
	['-'] = CC_ATEXT | CC_LABEL,
	['!'] = CC_ATEXT, ['#'] = CC_ATEXT, ['$'] = CC_ATEXT,
	['%'] = CC_ATEXT, ['&'] = CC_ATEXT, ['\''] = CC_ATEXT,
	['*'] = CC_ATEXT, ['+'] = CC_ATEXT, ['/'] = CC_ATEXT,
	['='] = CC_ATEXT, ['?'] = CC_ATEXT, ['^'] = CC_ATEXT,
	['_'] = CC_ATEXT, ['`'] = CC_ATEXT, ['{'] = CC_ATEXT,
	['|'] = CC_ATEXT, ['}'] = CC_ATEXT, ['~'] = CC_ATEXT,
};

/* is_alnum - ASCII letter or digit */
static int
is_alnum(unsigned char c)
{
	return cclass[c] & CC_ALNUM;
}

/* is_atext - RFC 5322 atext, plus UTF-8 bytes (validated separately) */
static int
is_atext(unsigned char c)
{
	return cclass[c] & CC_ATEXT;
}

/* is_routing_char - characters that hide a route in a local part */
static int
is_routing_char(unsigned char c)
{
	return c == '@' || c == '%' || c == '!';
}


/* lookalike_at - the look-alike starting at s[0..n), or NULL */
static const struct lookalike *
lookalike_at(const unsigned char *s, size_t n)
{
	size_t i;

	if (s[0] != 0xef && s[0] != 0xd9 && s[0] != 0xc7)
		return NULL;
	for (i = 0; i < RG_ARRAY_LEN(lookalikes); i++) {
		const struct lookalike *la = &lookalikes[i];

		if (n >= la->len && memcmp(s, la->bytes, la->len) == 0)
			return la;
	}
	return NULL;
}

/* has_lookalike - any look-alike of @ % ! in s[0..n) */
static int
has_lookalike(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 0x80 && lookalike_at(s + i, n - i) != NULL)
			return 1;
	return 0;
}

/* trace_add - append one formatted line, keeping the newest when full */
static void
trace_add(struct address *addr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void
trace_vadd(struct address *addr, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void
trace_vadd(struct address *addr, const char *fmt, va_list ap)
{
	char   *line;
	int     n;
	size_t  len, k, need;
	unsigned char lead;

	if (addr->ntrace < ADDR_TRACE_MAX)
		line = addr->trace[addr->ntrace++];
	else
		line = addr->trace[ADDR_TRACE_MAX - 1];
	n = vsnprintf(line, ADDR_TRACE_LEN, fmt, ap);
	if (n < 0) {
		line[0] = '\0';
		return;
	}
	if ((size_t)n < ADDR_TRACE_LEN)
		return;
	/* Truncated: do not leave half a UTF-8 character at the end. */
	len = ADDR_TRACE_LEN - 1;
	k = len;
	while (k > 0 && ((unsigned char)line[k - 1] & 0xc0) == 0x80)
		k--;
	if (k > 0 && (unsigned char)line[k - 1] >= 0xc0) {
		lead = (unsigned char)line[k - 1];
		need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
		if (len - (k - 1) < need)
			len = k - 1;
	}
	line[len] = '\0';
}

static void
trace_add(struct address *addr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	trace_vadd(addr, fmt, ap);
	va_end(ap);
}

/* addr_trace_note - one more trace line, for the caller's own steps */
void
addr_trace_note(struct address *addr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	trace_vadd(addr, fmt, ap);
	va_end(ap);
}

/* domain_copy - copy the meaningful part of a domain */
static void
domain_copy(struct addr_domain *dst, const struct addr_domain *src)
{
	dst->type = src->type;
	rg_strlcpy(dst->name, src->name, sizeof(dst->name));
	dst->canonical = src->canonical;
	dst->ulabels = src->ulabels;
	if (src->type == ADDR_DOM_LITERAL)
		dst->ip = src->ip;
}

/* parse_literal - "[IPv4]" or "[IPv6:...]"; NULL ok, else the reason */
static const char *
parse_literal(const char *d, size_t dn, struct addr_domain *out)
{
	char    text[LITERAL_TEXT_MAX + 1];
	char    ipbuf[64];
	struct rg_ip ip;
	size_t  tn;
	int     v6;

	if (dn < 2 || d[dn - 1] != ']')
		return "unterminated address literal";
	tn = dn - 2;
	if (tn == 0)
		return "empty address literal";
	if (tn > LITERAL_TEXT_MAX)
		return "invalid address literal";
	memcpy(text, d + 1, tn);
	text[tn] = '\0';
	v6 = tn >= 5 && strncasecmp(text, "IPv6:", 5) == 0;
	if (v6) {
		if (!rg_ip_parse(text + 5, &ip) || ip.family != AF_INET6)
			return "invalid IPv6 address literal";
	} else if (memchr(text, ':', tn) != NULL) {
		return "unknown address literal tag";
	} else if (!rg_ip_parse(text, &ip) || ip.family != AF_INET) {
		return "invalid IPv4 address literal";
	}
	if (out != NULL) {
		out->type = ADDR_DOM_LITERAL;
		out->ip = ip;
		out->ulabels = 0;
		rg_ip_format(&ip, ipbuf, sizeof(ipbuf));
		snprintf(out->name, sizeof(out->name), "[%s%s]",
			 v6 ? "ipv6:" : "", ipbuf);
		/* Sendmail matches $=w as text: "[IPv6:0::1]" is not "[IPv6:::1]" */
		out->canonical = strcasecmp(text + (v6 ? 5 : 0), ipbuf) == 0;
	}
	return NULL;
}

/* idna_alabels - U-labels (valid UTF-8) to A-labels, IDNA2008 proper:
 * no TR46 mapping, so full-width dots and hyphens, U+2488, joiners,
 * private use, U+FFFD and unassigned code points are refused, as they
 * are by Postfix.  NULL ok, else the reason. */
static const char *
idna_alabels(const char *d, size_t dn, char *out, size_t size)
{
	char    in[ADDR_DOMAIN_MAX + 1], *alabels = NULL;
	size_t  i;
	int     rc;

	if (dn > ADDR_DOMAIN_MAX)
		return "domain longer than 255 bytes";
	for (i = 0; i < dn; i++)
		in[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] + 32 : d[i]);
	in[dn] = '\0';
	/* libidn2 returns its result in memory of its own (idn2_free). */
	rc = idn2_to_ascii_8z(in, &alabels, IDN2_NO_TR46);
	if (rc != IDN2_OK) {
		idn2_free(alabels);
		return "invalid internationalized domain name (IDNA2008)";
	}
	if (rg_strlcpy(out, alabels, size) >= size) {
		idn2_free(alabels);
		return "domain longer than 255 bytes in A-labels";
	}
	idn2_free(alabels);
	return NULL;
}

static const char *parse_ascii_domain(const char *d, size_t dn,
				      struct addr_domain *out);

/* parse_ascii_domain's answer for a byte >= 0x80: U-labels, maybe */
static const char needs_idna[] = "not ASCII";

/* parse_domain - validate d[0..dn); fill out (lower-cased, A-labels)
 * unless NULL */
static const char *
parse_domain(const char *d, size_t dn, struct addr_domain *out)
{
	char    alabels[ADDR_DOMAIN_MAX + 1];
	const char *why;

	if (dn == 0)
		return "empty domain";
	if (dn > ADDR_DOMAIN_MAX)
		return "domain longer than 255 bytes";
	if (d[0] == '[')
		return parse_literal(d, dn, out);
	if ((why = parse_ascii_domain(d, dn, out)) != needs_idna)
		return why;		/* ASCII: one pass, done */
	if (dn > 0 && d[dn - 1] == '.')
		dn--;				/* one trailing dot is fine */
	if ((why = idna_alabels(d, dn, alabels, sizeof(alabels))) != NULL)
		return why;
	if ((why = parse_ascii_domain(alabels, strlen(alabels), out)) != NULL)
		return why;
	if (out != NULL)
		out->ulabels = 1;
	return NULL;
}

/* parse_ascii_domain - an ASCII host name d[0..dn) */
static const char *
parse_ascii_domain(const char *d, size_t dn, struct addr_domain *out)
{
	size_t  i, label = 0;
	unsigned char c, prev = '.';

	if (dn == 0)
		return "empty domain";
	if (dn > ADDR_DOMAIN_MAX)
		return "domain longer than 255 bytes";
	if (d[dn - 1] == '.')
		dn--;				/* one trailing dot is fine */
	if (dn == 0 || d[dn - 1] == '.')
		return "empty label in domain";
	for (i = 0; i < dn; i++) {
		c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0)
				return "empty label in domain";
			if (prev == '-')
				return "domain label ends with a hyphen";
			label = 0;
		} else if (c < 0x80 && (cclass[c] & CC_LABEL)) {
			if (c == '-' && label == 0)
				return "domain label starts with a hyphen";
			if (++label > 63)
				return "domain label longer than 63 bytes";
		} else if (c == ':') {
			return "port or colon in domain";
		} else if (c >= 0x80) {
			return needs_idna;
		} else {
			return "invalid character in domain";
		}
		if (out != NULL)
			out->name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		prev = c;
	}
	if (prev == '-')
		return "domain label ends with a hyphen";
	if (out != NULL) {
		out->name[dn] = '\0';
		out->type = ADDR_DOM_NAME;
		out->canonical = 1;
		out->ulabels = 0;
	}
	return NULL;
}

/* parse_quoted_local - "..." spanning l[0..ln) into addr->local */
static enum addr_status
parse_quoted_local(struct address *addr, const char *l, size_t ln)
{
	size_t  i = 1, o = 0;
	unsigned char c;

	while (i < ln) {
		c = (unsigned char)l[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= ln)
				return fail(addr, "unbalanced quote");
			c = (unsigned char)l[i + 1];
			if (c < 0x20 || c > 0x7e)
				return fail(addr, "invalid quoted-pair in local part");
			if (is_routing_char(c))
				addr->tricks |= ADDR_TRICK_QUOTED | ADDR_TRICK_ESCAPED;
			i += 2;
		} else {
			if (c < 0x20 || c == 0x7f)
				return fail(addr, "control character in local part");
			if (is_routing_char(c))
				addr->tricks |= ADDR_TRICK_QUOTED;
			i++;
		}
		addr->local[o++] = (char)c;
	}
	if (i >= ln)
		return fail(addr, "unbalanced quote");
	if (i != ln - 1)
		return fail(addr, "text after the quoted local part");
	if (o == 0)
		return fail(addr, "empty local part");
	addr->local[o] = '\0';
	addr->quoted = 1;
	return ADDR_OK;
}

/* parse_atom_local - dot-atom, possibly "@"-joined (u@R), into addr->local */
static enum addr_status
parse_atom_local(struct address *addr, const char *l, size_t ln)
{
	size_t  i;
	unsigned char c, prev = '@';
	int     after_at = 0;

	for (i = 0; i < ln; i++) {
		c = (unsigned char)l[i];
		if (c == '.') {
			if (prev == '.' || prev == '@')
				return fail(addr, i == 0 ?
				    "local part starts with a dot" :
				    "empty dot-atom element in local part");
		} else if (c == '@') {
			if (prev == '.')
				return fail(addr, "local part ends with a dot");
			if (prev == '@')
				return fail(addr, "empty local part");
			after_at = 1;
		} else if (c == '"' || c == '\\') {
			return fail(addr, "quote inside an unquoted local part");
		} else if (!is_atext(c)
		    && !(after_at && (c == '[' || c == ']' || c == ':'))) {
			return fail(addr, "invalid character in local part");
		}
		addr->local[i] = (char)c;
		prev = c;
	}
	if (prev == '.')
		return fail(addr, "local part ends with a dot");
	if (prev == '@')
		return fail(addr, "empty local part");
	addr->local[ln] = '\0';
	return ADDR_OK;
}

/* parse_mailbox - local-part ["@" domain] in m[0..mn) */
static enum addr_status
parse_mailbox(struct address *addr, const char *m, size_t mn, int routed)
{
	size_t  i, ln;
	const char *at = NULL, *why;
	int     inquote = 0, nat = 0;

	for (i = 0; i < mn; i++) {
		if (inquote && m[i] == '\\') {
			i++;
		} else if (m[i] == '"') {
			inquote = !inquote;
		} else if (!inquote && m[i] == '@') {
			at = m + i;
			nat++;
		}
	}
	if (inquote)
		return fail(addr, "unbalanced quote");
	ln = at ? (size_t)(at - m) : mn;
	if (ln == 0)
		return fail(addr, "empty local part");
	if (ln > ADDR_LOCAL_MAX)
		return fail(addr, "local part longer than 64 bytes");
	if (nat > 1)
		addr->tricks |= ADDR_TRICK_EXTRA_AT;
	if (m[0] == '"') {
		if (parse_quoted_local(addr, m, ln) != ADDR_OK)
			return ADDR_SYNTAX;
	} else if (parse_atom_local(addr, m, ln) != ADDR_OK) {
		return ADDR_SYNTAX;
	}
	if (addr->eightbit && has_lookalike((const unsigned char *)m, ln))
		addr->tricks |= ADDR_TRICK_LOOKALIKE;
	if (at == NULL) {
		if (routed)
			return fail(addr, "source route without a domain");
		addr->domain.type = ADDR_DOM_NONE;
		addr->domain.name[0] = '\0';
		addr->kind = rg_strcaseeq(addr->local, "postmaster")
		    ? ADDR_POSTMASTER : ADDR_UNQUALIFIED;
		return ADDR_OK;
	}
	if ((why = parse_domain(at + 1, mn - ln - 1, &addr->domain)) != NULL)
		return fail(addr, why);
	addr->kind = ADDR_MAILBOX;
	return ADDR_OK;
}

/* parse_route - "@a,@b:" at p[0..n); returns bytes used, 0 on error */
static size_t
parse_route(struct address *addr, const char *p, size_t n)
{
	size_t  i = 0, start;
	const char *why;

	for (;;) {
		if (i >= n || p[i] != '@') {
			fail(addr, "invalid source route");
			return 0;
		}
		start = ++i;
		if (i + 5 < n && p[i] == '[' && strncasecmp(p + i + 1, "IPv6:", 5) == 0) {
			/* Postfix ends the route at the first ':' inside it */
			fail(addr, "IPv6 literal in a source route");
			return 0;
		}
		if (i < n && p[i] == '[') {
			while (i < n && p[i] != ']')
				i++;
			if (i < n)
				i++;
		}
		while (i < n && p[i] != ',' && p[i] != ':')
			i++;
		if (i == start) {
			fail(addr, memchr(p, ':', n) ? "empty domain in source route"
			     : "empty local part");
			return 0;
		}
		if ((why = parse_domain(p + start, i - start, NULL)) != NULL) {
			fail(addr, why);
			return 0;
		}
		addr->route_hops++;
		if (i >= n) {
			fail(addr, memchr(p, ':', n) ? "invalid source route"
			     : "empty local part");
			return 0;
		}
		if (p[i++] == ':')
			return i;
	}
}

/* parse_path - the text between the angle brackets */
static enum addr_status
parse_path(struct address *addr, const char *p, size_t n, int flags,
	   int bracketed)
{
	size_t  used = 0;
	int     utf;

	if (n == 0) {
		if (!bracketed)
			return fail(addr, "empty address");
		if (!(flags & ADDR_F_SENDER))
			return fail(addr, "null address <> is only valid as a sender");
		addr->kind = ADDR_NULL;
		return ADDR_OK;
	}
	if (n > ADDR_PATH_TEXT_MAX)
		return fail(addr, "path longer than 256 bytes");
	if ((utf = text_utf8_check(p, n)) < 0)
		return fail(addr, "invalid UTF-8 in address");
	addr->eightbit = utf;
	if (p[0] == '@') {
		if ((used = parse_route(addr, p, n)) == 0)
			return ADDR_SYNTAX;
		addr->tricks |= ADDR_TRICK_ROUTE;
		if (used >= n)
			return fail(addr, "source route without a mailbox");
	}
	if (parse_mailbox(addr, p + used, n - used, used > 0) != ADDR_OK)
		return ADDR_SYNTAX;
	if (used > 0)
		trace_add(addr, "source route ignored (RFC 5321 4.1.1.3): %.*s",
			  (int)(used - 1), p);
	/* Only MAIL's SMTPUTF8 counts (RFC 6531 3.4): the caller says so. */
	if (addr->eightbit && !(flags & ADDR_F_SMTPUTF8)) {
		addr->status = ADDR_8BIT;
		addr->error = err_8bit;
		return ADDR_8BIT;
	}
	return ADDR_OK;
}

/* scan_params - check the ESMTP parameters (RFC 5321 4.1.2, values as
 * RFC 6531 3.3 widens them) and note SMTPUTF8 among them.  Anything else
 * after the path -- a phrase, a second address, a comment -- is not an
 * address the MTA would take, so it is a syntax error, not ignored. */
static enum addr_status
scan_params(struct address *addr, const char *p, size_t n)
{
	size_t  i = 0, start;
	unsigned char c;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i >= n)
			break;
		start = i;
		if (!is_alnum((unsigned char)p[i]))
			return fail(addr, "text after the address that is not "
				    "an ESMTP parameter");
		while (i < n && (is_alnum((unsigned char)p[i]) || p[i] == '-'))
			i++;
		if (i - start == 8 && strncasecmp(p + start, "SMTPUTF8", 8) == 0)
			addr->param_smtputf8 = 1;
		if (i < n && p[i] == '=') {
			if (++i >= n || p[i] == ' ' || p[i] == '\t')
				return fail(addr, "empty ESMTP parameter value");
			for (; i < n && p[i] != ' ' && p[i] != '\t'; i++) {
				c = (unsigned char)p[i];
				if (c < 33 || c == '=' || c == 0x7f)
					return fail(addr, "invalid character in "
						    "an ESMTP parameter value");
			}
		}
		if (i < n && p[i] != ' ' && p[i] != '\t')
			return fail(addr, "text after the address that is not "
				    "an ESMTP parameter");
	}
	return ADDR_OK;
}

/* addr_init - set every field a caller may read, and nothing more */
static void
addr_init(struct address *addr)
{
	addr->status = ADDR_OK;
	addr->error = NULL;
	addr->kind = ADDR_MAILBOX;
	addr->local[0] = '\0';
	addr->quoted = 0;
	addr->eightbit = 0;
	addr->domain.type = ADDR_DOM_NONE;
	addr->domain.name[0] = '\0';
	addr->route_hops = 0;
	addr->params = NULL;
	addr->params_len = 0;
	addr->param_smtputf8 = 0;
	addr->final_local[0] = '\0';
	addr->final_domain.type = ADDR_DOM_NONE;
	addr->final_domain.name[0] = '\0';
	addr->deliver_apart = 0;
	addr->tricks = 0;
	addr->steps = 0;
	addr->ntrace = 0;
}

/* addr_parse - parse len bytes of text (may contain NUL: a syntax error) */
enum addr_status
addr_parse(const char *text, size_t len, int flags, struct address *addr)
{
	const char *p = text, *end, *path, *path_end;
	int     inquote = 0, bracketed = 0;

	addr_init(addr);
	if (text == NULL)
		return fail(addr, "empty address");
	end = text + len;
	if (len > 0 && memchr(text, '\0', len) != NULL)
		return fail(addr, "NUL byte in address");
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '<') {
		/* Find the closing '>', outside quotes; give up past the limit. */
		bracketed = 1;
		path = ++p;
		for (; p < end && p - path <= ADDR_PATH_TEXT_MAX; p++) {
			if (inquote && *p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				inquote = !inquote;
			else if (!inquote && *p == '>')
				break;
		}
		if (p - path > ADDR_PATH_TEXT_MAX)
			return fail(addr, "path longer than 256 bytes");
		if (p >= end)
			return fail(addr, inquote ? "unbalanced quote" :
				    "missing closing angle bracket");
		path_end = p++;
		if (p < end && *p != ' ' && *p != '\t')
			return fail(addr, "text after the closing angle bracket");
	} else {
		path = p;
		for (; p < end && p - path <= ADDR_PATH_TEXT_MAX; p++) {
			if (inquote && *p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				inquote = !inquote;
			else if (!inquote && (*p == ' ' || *p == '\t'))
				break;
		}
		if (p - path > ADDR_PATH_TEXT_MAX)
			return fail(addr, "path longer than 256 bytes");
		path_end = p;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end) {
		addr->params = p;
		addr->params_len = (size_t)(end - p);
		if (scan_params(addr, p, addr->params_len) != ADDR_OK)
			return ADDR_SYNTAX;
	}
	return parse_path(addr, path, (size_t)(path_end - path), flags,
			  bracketed);
}

/* fold_lookalikes - read look-alikes of @ % ! as ASCII, in place */
static void
fold_lookalikes(struct address *addr)
{
	unsigned char *s = (unsigned char *)addr->final_local;
	const struct lookalike *la;
	char    names[ADDR_TRACE_LEN];
	size_t  i, o = 0, n = strlen(addr->final_local), nl = 0;
	int     count = 0;

	names[0] = '\0';
	for (i = 0; i < n;) {
		if (s[i] >= 0x80 && (la = lookalike_at(s + i, n - i)) != NULL) {
			if (count++ < 4 && nl < sizeof(names))
				nl += (size_t)snprintf(names + nl, sizeof(names) - nl,
				    "%sU+%04X as '%c'", nl ? ", " : "",
				    la->cp, la->ascii);
			s[o++] = (unsigned char)la->ascii;
			i += la->len;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	addr->tricks |= ADDR_TRICK_LOOKALIKE;
	trace_add(addr, "look-alike: read %s%s -> %s", names,
		  count > 4 ? ", ..." : "", addr->final_local);
}

/* imcea_decode - IMCEA<type>-text: decode +XX escapes in place.
 * Returns 1 for an SMTP type (continue), 0 for another type (stop),
 * -1 on a bad escape or decoded control character. */
static int
imcea_decode(struct address *addr, size_t dash, char *type)
{
	char   *s = addr->final_local;
	const char *why = NULL;
	size_t  i, o = 0, n = strlen(s);
	int     hi, lo;

	memcpy(type, s + 5, dash - 5);
	type[dash - 5] = '\0';
	for (i = dash + 1; i < n && why == NULL; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (i + 2 >= n
			    || (hi = rg_hex_digit((unsigned char)s[i + 1])) < 0
			    || (lo = rg_hex_digit((unsigned char)s[i + 2])) < 0) {
				why = "bad +XX escape in IMCEA address";
				break;
			}
			c = (unsigned char)(hi * 16 + lo);
			if (c < 0x20 || c == 0x7f)
				why = "control character in IMCEA address";
			i += 2;
		}
		s[o++] = (char)c;
	}
	s[o] = '\0';
	if (why == NULL && o == 0)
		why = "empty IMCEA address";
	if (why == NULL && text_utf8_check(s, o) < 0)
		why = "invalid UTF-8 in IMCEA address";
	if (why != NULL) {
		fail(addr, why);
		return -1;
	}
	return rg_strcaseeq(type, "SMTP");
}

/* imcea_prefix - length up to the '-' of "IMCEA<type>-", 0 if absent */
static size_t
imcea_prefix(const char *s)
{
	size_t  i;

	if (strncasecmp(s, "IMCEA", 5) != 0)
		return 0;
	for (i = 5; i < 5 + 16 && is_alnum((unsigned char)s[i]); i++)
		continue;
	if (i == 5 || s[i] != '-')
		return 0;
	return i;
}

/* split - local part at pos becomes local@domain; domain after or before */
static enum addr_status
split(struct address *addr, size_t pos, int domain_first, const char *what)
{
	struct addr_domain dom;
	char   *s = addr->final_local;
	size_t  n = strlen(s);
	const char *why;
	const char *d = domain_first ? s : s + pos + 1;
	size_t  dn = domain_first ? pos : n - pos - 1;
	size_t  ln = domain_first ? n - pos - 1 : pos;

	if (ln == 0)
		return fail(addr, "empty local part after unwrapping");
	if ((why = parse_domain(d, dn, &dom)) != NULL)
		return fail(addr, why);
	trace_add(addr, "%s: %s%s%s -> %.*s@%s", what, s,
		  addr->final_domain.type != ADDR_DOM_NONE ? "@" : "",
		  addr->final_domain.name, (int)ln,
		  domain_first ? s + pos + 1 : s, dom.name);
	if (domain_first)
		memmove(s, s + pos + 1, ln + 1);
	else
		s[pos] = '\0';
	domain_copy(&addr->final_domain, &dom);
	return ADDR_OK;
}

/* keep_delivered - the first time only: what the MTA delivers is the
 * address before relayguard's own steps.  *state: 0 not yet, 1 kept
 * equal to the final destination, 2 kept before a step of our own. */
static void
keep_delivered(struct address *addr, int *state)
{
	if (*state != 0)
		return;
	rg_strlcpy(addr->deliver_local, addr->final_local,
		   sizeof(addr->deliver_local));
	domain_copy(&addr->deliver_domain, &addr->final_domain);
	*state = 2;
}

/* finish_delivered - at the end: kept apart (with a trace line) only
 * when a step of our own changed the address */
static void
finish_delivered(struct address *addr, int state)
{
	addr->deliver_apart = 0;
	if (state != 0
	    && (strcmp(addr->deliver_local, addr->final_local) != 0
		|| strcmp(addr->deliver_domain.name, addr->final_domain.name) != 0)) {
		addr->deliver_apart = 1;
		trace_add(addr, "the MTA delivers %s%s%s as written (relayguard's "
			  "own unwrapping is not the mailbox)", addr->deliver_local,
			  addr->deliver_domain.type != ADDR_DOM_NONE ? "@" : "",
			  addr->deliver_domain.name);
	}
}

/* addr_resolve - unwrap relay tricks into final_local/final_domain */
enum addr_status
addr_resolve(struct address *addr, addr_is_local_fn is_local, void *ctx)
{
	char    type[24];
	char    before[ADDR_PATH_MAX + 1];
	int     from_imcea = 0, r, delivered = 0;

	if (addr->status != ADDR_OK)
		return addr->status;
	addr->steps = 0;
	addr->final_ours = 0;
	if (addr->kind == ADDR_NULL) {
		addr->final_local[0] = '\0';
		addr->final_domain.type = ADDR_DOM_NONE;
		addr->final_domain.name[0] = '\0';
		addr->deliver_apart = 0;
		return ADDR_OK;
	}
	rg_strlcpy(addr->final_local, addr->local, sizeof(addr->final_local));
	domain_copy(&addr->final_domain, &addr->domain);

	for (;;) {
		const char *s = addr->final_local;
		const char *last_at = NULL, *last_pct = NULL, *first_bang = NULL;
		int     high = 0;
		size_t  i, dash = 0;

		/* Every exit below keeps the answer for the final domain. */
		addr->final_ours = is_local != NULL
		    && is_local(&addr->final_domain, ctx);
		if (!addr->final_ours)
			break;
		for (i = 0; s[i]; i++) {
			if (s[i] == '@')
				last_at = s + i;
			else if (s[i] == '%')
				last_pct = s + i;
			else if (s[i] == '!' && first_bang == NULL)
				first_bang = s + i;
			else if ((unsigned char)s[i] >= 0x80)
				high = 1;
		}
		if (high && has_lookalike((const unsigned char *)s, i)) {
			keep_delivered(addr, &delivered);
			fold_lookalikes(addr);
			continue;		/* rescan the folded text */
		}
		if (last_at == NULL && last_pct == NULL && first_bang == NULL
		    && (dash = imcea_prefix(s)) == 0)
			break;
		if (addr->steps >= ADDR_STEPS_MAX)
			return fail(addr, "too many routing steps");
		addr->steps++;
		/* The MTAs' own order: @, then bang paths, then % (Postfix's
		 * resolve loop and Sendmail's ruleset 3 both undo ! first). */
		if (last_at != NULL) {
			r = split(addr, (size_t)(last_at - s), 0, from_imcea ?
				  "IMCEA @" : addr->quoted ? "quoted @" : "extra @");
		} else if (first_bang != NULL) {
			addr->tricks |= ADDR_TRICK_BANG;
			r = split(addr, (size_t)(first_bang - s), 1, "bang path");
		} else if (last_pct != NULL) {
			addr->tricks |= ADDR_TRICK_PERCENT;
			r = split(addr, (size_t)(last_pct - s), 0, "percent hack");
		} else {
			addr->tricks |= ADDR_TRICK_IMCEA;
			keep_delivered(addr, &delivered);
			rg_strlcpy(before, s, sizeof(before));
			if ((r = imcea_decode(addr, dash, type)) < 0)
				return ADDR_SYNTAX;
			if (r == 0) {
				/* Not an address: the mailbox is the text as
				 * written, and so is what the MTA delivers. */
				trace_add(addr, "IMCEA%s encapsulation: %s@%s "
					  "decodes to %s (not unwrapped)", type,
					  before, addr->final_domain.name,
					  addr->final_local);
				rg_strlcpy(addr->final_local, before,
					   sizeof(addr->final_local));
				break;
			}
			trace_add(addr, "IMCEA%s encapsulation: %s@%s -> %s@%s",
				  type, before, addr->final_domain.name,
				  addr->final_local, addr->final_domain.name);
			from_imcea = 1;
			r = ADDR_OK;
		}
		if (r != ADDR_OK)
			return ADDR_SYNTAX;
	}
	finish_delivered(addr, delivered);
	return ADDR_OK;
}

/* is_dot_atom - s is a non-empty dot-atom (needs no quoting) */
static int
is_dot_atom(const char *s)
{
	unsigned char prev = '.';

	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.') {
			if (prev == '.')
				return 0;
		} else if (!is_atext(c)) {
			return 0;
		}
		prev = c;
	}
	return prev != '.';
}

/* addr_domain_alabels - a configured domain name in A-labels */
const char *
addr_domain_alabels(const char *name, char *out, size_t size)
{
	struct addr_domain d;
	const char *why;
	size_t  n = strlen(name);

	if ((why = parse_domain(name, n, &d)) != NULL)
		return why;
	if (d.type != ADDR_DOM_NAME)
		return "an address literal, not a domain name";
	if (rg_strlcpy(out, d.name, size) >= size)
		return "domain longer than 255 bytes";
	return NULL;
}

/* addr_format_final - "local@domain" of the final destination */
const char *
addr_format_final(const struct address *addr, char *buf, size_t size)
{
	const char *s = addr->final_local;
	size_t  o = 0;

	if (size == 0)
		return NULL;
	buf[0] = '\0';
	if (addr->kind == ADDR_NULL)
		return buf;
	if (is_dot_atom(s)) {
		if ((o = rg_strlcpy(buf, s, size)) >= size)
			return NULL;
	} else {
		if (o + 1 >= size)
			return NULL;
		buf[o++] = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\') {
				if (o + 1 >= size)
					return NULL;
				buf[o++] = '\\';
			}
			if (o + 1 >= size)
				return NULL;
			buf[o++] = *s;
		}
		if (o + 1 >= size)
			return NULL;
		buf[o++] = '"';
		buf[o] = '\0';
	}
	if (addr->final_domain.type != ADDR_DOM_NONE
	    && rg_snprintf(buf + o, size - o, "@%s",
			   addr->final_domain.name) < 0)
		return NULL;
	return buf;
}

/* addr_kind_name - for traces, logs and JSON */
const char *
addr_kind_name(enum addr_kind kind)
{
	switch (kind) {
	case ADDR_MAILBOX:
		return "mailbox";
	case ADDR_NULL:
		return "null";
	case ADDR_POSTMASTER:
		return "postmaster";
	case ADDR_UNQUALIFIED:
		return "unqualified";
	}
	return "unknown";
}

/* addr_trick_names - "percent,bang" or "none"; always terminated */
const char *
addr_trick_names(unsigned tricks, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ADDR_TRICK_PERCENT, "percent"},
		{ADDR_TRICK_BANG, "bang"},
		{ADDR_TRICK_EXTRA_AT, "extra_at"},
		{ADDR_TRICK_QUOTED, "quoted"},
		{ADDR_TRICK_ESCAPED, "escaped"},
		{ADDR_TRICK_IMCEA, "imcea"},
		{ADDR_TRICK_LOOKALIKE, "lookalike"},
		{ADDR_TRICK_ROUTE, "route"},
	};
	size_t  i, o = 0, n;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < RG_ARRAY_LEN(names); i++) {
		if (!(tricks & names[i].bit))
			continue;
		n = strlen(names[i].name) + (o ? 1 : 0);
		if (o + n >= size)
			break;
		if (o)
			buf[o++] = ',';
		memcpy(buf + o, names[i].name, strlen(names[i].name) + 1);
		o += strlen(names[i].name);
	}
	if (o == 0)
		rg_strlcpy(buf, "none", size);
	return buf;
}
