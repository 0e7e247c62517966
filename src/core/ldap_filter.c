/*
 * ldap_filter - build an LDAP search filter from a template and an address
 *
 * See ldap_filter.h.  The template is checked once, when the directory is
 * opened, so that a typo such as %x is a configuration error and not a
 * failure on every lookup.  Expansion then cannot meet an unknown
 * sequence, but still reports one rather than trusting that it was
 * checked.
 */
#include <string.h>

#include "util.h"
#include "ldap_filter.h"

/* must_escape - bytes that RFC 4515 requires escaped, plus non-printables */
static int
must_escape(unsigned char c)
{
	if (c < 0x20 || c >= 0x7f)
		return 1;
	return c == '*' || c == '(' || c == ')' || c == '\\';
}

/* ldap_filter_escape - escape a value for use in a filter */
int
ldap_filter_escape(const char *value, size_t len, char *dst, size_t dstsize)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, out = 0;

	if (dstsize == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (must_escape(c)) {
			if (out + 3 >= dstsize)
				return -1;
			dst[out++] = '\\';
			dst[out++] = hex[c >> 4];
			dst[out++] = hex[c & 0x0f];
		} else {
			if (out + 1 >= dstsize)
				return -1;
			dst[out++] = (char)c;
		}
	}
	dst[out] = '\0';
	return (int)out;
}

/* ldap_filter_check - validate a template before it is ever used */
int
ldap_filter_check(const char *tmpl, char *err, size_t errlen)
{
	const char *p;
	int depth = 0, closed = 0, values = 0;

	if (tmpl == NULL || tmpl[0] == '\0') {
		rg_snprintf(err, errlen, "empty filter");
		return -1;
	}
	if (strlen(tmpl) > LDAP_FILTER_MAX / 2) {
		rg_snprintf(err, errlen, "too long (%zu bytes, "
			    "limit %d)", strlen(tmpl), LDAP_FILTER_MAX / 2);
		return -1;
	}
	for (p = tmpl; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f) {
			rg_snprintf(err, errlen, "control or non-ASCII "
				    "byte at offset %zu", (size_t)(p - tmpl));
			return -1;
		}
		if (closed && depth == 0 && c != ' ') {
			rg_snprintf(err, errlen, "text after the end "
				    "of the filter at offset %zu", (size_t)(p - tmpl));
			return -1;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth < 0) {
				rg_snprintf(err, errlen, "unbalanced ')' "
					    "at offset %zu", (size_t)(p - tmpl));
				return -1;
			}
			if (depth == 0)
				closed = 1;
		} else if (c == '%') {
			p++;
			if (*p == 's' || *p == 'u' || *p == 'd') {
				values++;
			} else if (*p != '%') {
				if (*p == '\0')
					rg_snprintf(err, errlen, "'%%' at the end "
						    "of the filter");
				else
					rg_snprintf(err, errlen, "unknown "
						    "sequence %%%c (use %%s, %%u, %%d or %%%%)", *p);
				return -1;
			}
		}
	}
	if (depth != 0) {
		rg_snprintf(err, errlen, "unbalanced '(' (%d not "
			    "closed)", depth);
		return -1;
	}
	if (values == 0) {
		rg_snprintf(err, errlen, "no %%s, %%u or %%d: "
			    "every recipient would match the same way");
		return -1;
	}
	return 0;
}

/* ldap_filter_expand - substitute and escape the parts of address */
int
ldap_filter_expand(const char *tmpl, const char *address, char *dst,
		   size_t dstsize, char *err, size_t errlen)
{
	const char *at, *p, *value;
	size_t out = 0, vlen, addrlen;
	int n;

	if (dstsize == 0) {
		rg_snprintf(err, errlen, "no room for the filter");
		return -1;
	}
	addrlen = strlen(address);
	at = strrchr(address, '@');
	for (p = tmpl; *p; p++) {
		if (*p != '%') {
			if (out + 1 >= dstsize)
				goto too_long;
			dst[out++] = *p;
			continue;
		}
		switch (*++p) {
		case '%':
			if (out + 1 >= dstsize)
				goto too_long;
			dst[out++] = '%';
			continue;
		case 's':
			value = address;
			vlen = addrlen;
			break;
		case 'u':
			value = address;
			vlen = at ? (size_t)(at - address) : addrlen;
			break;
		case 'd':
			value = at ? at + 1 : "";
			vlen = strlen(value);
			break;
		default:
			rg_snprintf(err, errlen, "ldap_filter: bad sequence at "
				    "offset %zu", (size_t)(p - tmpl));
			return -1;
		}
		n = ldap_filter_escape(value, vlen, dst + out, dstsize - out);
		if (n < 0)
			goto too_long;
		out += (size_t)n;
	}
	dst[out] = '\0';
	return 0;

too_long:
	dst[0] = '\0';
	rg_snprintf(err, errlen, "filter for a %zu-byte address is longer "
		    "than %zu bytes", addrlen, dstsize - 1);
	return -1;
}
