/*
 * netlist - IP addresses and lists of IPv4/IPv6 networks (CIDR)
 *
 * See netlist.h.  Addresses are parsed with inet_pton() only, which accepts
 * nothing but the dotted quad for IPv4 ("127.1", "0x7f.1", "01.2.3.4" and
 * "321.1.2.3" are refused) and RFC 4291 text for IPv6 (no zone index).
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are folded to IPv4 before
 * comparison, both for list entries (when the prefix covers the mapping)
 * and for the address being matched, so a dual-stack listener that reports
 * ::ffff:192.0.2.1 still matches "192.0.2.0/24".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"
#include "netlist.h"

static const unsigned char v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* ip_is_v4mapped - IPv6 address of the form ::ffff:a.b.c.d */
static int
ip_is_v4mapped(const struct rg_ip *ip)
{
	return ip->family == AF_INET6
	    && memcmp(ip->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

/* ip_fold - copy ip, turning an IPv4-mapped IPv6 address into IPv4 */
static void
ip_fold(const struct rg_ip *ip, struct rg_ip *out)
{
	if (ip_is_v4mapped(ip)) {
		out->family = AF_INET;
		memcpy(out->addr, ip->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
	} else {
		*out = *ip;
	}
}

/* rg_ip_parse - strict IPv4 dotted quad or IPv6 text; 1 ok, 0 invalid */
int
rg_ip_parse(const char *text, struct rg_ip *out)
{
	struct rg_ip ip;

	memset(&ip, 0, sizeof(ip));
	if (text == NULL || *text == '\0')
		return 0;
	if (strchr(text, ':') != NULL) {
		if (inet_pton(AF_INET6, text, ip.addr) != 1)
			return 0;
		ip.family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, text, ip.addr) != 1)
			return 0;
		ip.family = AF_INET;
	}
	*out = ip;
	return 1;
}

/* rg_ip_format - canonical text (inet_ntop); returns buf */
const char *
rg_ip_format(const struct rg_ip *ip, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if ((ip->family != AF_INET && ip->family != AF_INET6)
	    || inet_ntop(ip->family, ip->addr, buf, (socklen_t)size) == NULL)
		rg_strlcpy(buf, "?", size);
	return buf;
}

/* rg_ip_equal - same address (IPv4-mapped IPv6 equals its IPv4 form) */
int
rg_ip_equal(const struct rg_ip *a, const struct rg_ip *b)
{
	struct rg_ip fa, fb;

	ip_fold(a, &fa);
	ip_fold(b, &fb);
	if (fa.family != fb.family)
		return 0;
	return memcmp(fa.addr, fb.addr, fa.family == AF_INET ? 4 : 16) == 0;
}

/* prefix_match - the first bits of a and b agree */
static int
prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (whole > 0 && memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* clear_host_bits - zero every bit after the prefix */
static void
clear_host_bits(struct rg_ip *ip, unsigned prefix)
{
	unsigned total = ip->family == AF_INET ? 4 : 16;
	unsigned i;

	for (i = 0; i < total; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			ip->addr[i] = 0;
		else
			ip->addr[i] &= (unsigned char)(0xff << (8 - (prefix - 8 * i)));
	}
}

/* parse_prefix - decimal prefix length 0..max, no sign or leading zero */
static int
parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return 0;
	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 3)
			return 0;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

/* netlist_add - add "ADDR" or "ADDR/PREFIX"; 0 ok, -1 with err filled */
int
netlist_add(struct netlist *list, const char *text, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	struct rg_cidr cidr;
	unsigned max;

	if (alen == 0 || alen >= sizeof(buf)) {
		rg_snprintf(err, errlen, "\"%.64s\": not an IPv4 or IPv6 address",
			    text);
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (!rg_ip_parse(buf, &cidr.net)) {
		rg_snprintf(err, errlen, "\"%s\": not an IPv4 or IPv6 address",
			    buf);
		return -1;
	}
	max = cidr.net.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		cidr.prefix = max;
	} else if (!parse_prefix(slash + 1, max, &cidr.prefix)) {
		rg_snprintf(err, errlen, "\"%.64s\": bad prefix length "
			    "(0..%u expected)", text, max);
		return -1;
	}
	if (ip_is_v4mapped(&cidr.net) && cidr.prefix >= 96) {
		ip_fold(&cidr.net, &cidr.net);
		cidr.prefix -= 96;
	}
	clear_host_bits(&cidr.net, cidr.prefix);
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->items = xrealloc(list->items,
				       list->cap * sizeof(*list->items));
	}
	list->items[list->count++] = cidr;
	return 0;
}

/* netlist_match - 1 when ip lies in any network of the list */
int
netlist_match(const struct netlist *list, const struct rg_ip *ip)
{
	struct rg_ip folded;
	size_t i;

	if (list == NULL || list->count == 0)
		return 0;
	ip_fold(ip, &folded);
	for (i = 0; i < list->count; i++) {
		const struct rg_cidr *c = &list->items[i];

		if (c->net.family == folded.family
		    && prefix_match(c->net.addr, folded.addr, c->prefix))
			return 1;
	}
	return 0;
}

/* netlist_match_exact - ip is one of the host entries, unfolded */
int
netlist_match_exact(const struct netlist *list, const struct rg_ip *ip)
{
	size_t i, len = ip->family == AF_INET ? 4 : 16;
	unsigned host = ip->family == AF_INET ? 32 : 128;

	if (list == NULL)
		return 0;
	for (i = 0; i < list->count; i++) {
		const struct rg_cidr *c = &list->items[i];

		if (c->net.family == ip->family && c->prefix == host
		    && memcmp(c->net.addr, ip->addr, len) == 0)
			return 1;
	}
	return 0;
}

/* netlist_free - release the items; the list may be reused empty */
void
netlist_free(struct netlist *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
	list->cap = 0;
}
