/*
 * ldap_filter - build an LDAP search filter from a template and an address
 *
 * The ldap_filter setting is a template: %s is the whole address, %u its
 * local part, %d its domain, %% a percent sign.  Every substituted value
 * is escaped per RFC 4515 (section 3: "*", "(", ")", "\" and NUL become
 * \2a \28 \29 \5c \00), and so is every other byte that is not printable
 * ASCII, so that a recipient such as "*"@example.org or one carrying
 * ")(mail=*" can never change the shape of the filter.
 *
 * Pure: no LDAP library, no allocation.  Output is bounded by the size
 * the caller passes; a result that does not fit is an error, never a
 * truncated filter.
 */
#ifndef RG_LDAP_FILTER_H
#define RG_LDAP_FILTER_H

#include <stddef.h>

/* Longest filter relayguard builds (bytes, without the NUL). */
#define LDAP_FILTER_MAX		4096

/* ldap_filter_escape - escape len bytes of value into dst (RFC 4515);
 * returns the output length, or -1 when it does not fit in dstsize */
int     ldap_filter_escape(const char *value, size_t len, char *dst,
			   size_t dstsize);

/* ldap_filter_check - validate a template: known % sequences, balanced
 * parentheses, at most one filter; 0 ok, -1 + the reason in err.  The
 * one validator of the ldap_filter key: config.c calls it for FILE:LINE,
 * the LDAP backend again when it opens. */
int     ldap_filter_check(const char *tmpl, char *err, size_t errlen);

/* ldap_filter_expand - template + "local@domain" into dst (NUL-terminated);
 * the local part is everything before the last '@'; 0 ok, -1 + err */
int     ldap_filter_expand(const char *tmpl, const char *address, char *dst,
			   size_t dstsize, char *err, size_t errlen);

#endif
