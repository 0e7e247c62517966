/*
 * netlist - IP addresses and lists of IPv4/IPv6 networks (CIDR)
 *
 * Used for trusted_networks, never_relay_networks and local_addresses, and
 * by the address parser to validate address literals.  Parsing is strict:
 * "127.1" and "321.1.2.3" are not addresses.  An IPv4-mapped IPv6 client
 * address (::ffff:192.0.2.1) matches IPv4 entries.
 */
#ifndef RG_NETLIST_H
#define RG_NETLIST_H

#include <stddef.h>

struct rg_ip {
	int     family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network byte order; 4 used for v4 */
};

struct rg_cidr {
	struct rg_ip net;		/* host bits cleared */
	unsigned prefix;		/* 0..32 or 0..128 */
};

struct netlist {
	struct rg_cidr *items;
	size_t  count;
	size_t  cap;
};

/* rg_ip_parse - strict IPv4 dotted quad or IPv6 text; 1 ok, 0 invalid */
int     rg_ip_parse(const char *text, struct rg_ip *out);

/* rg_ip_format - canonical text (inet_ntop); returns buf */
const char *rg_ip_format(const struct rg_ip *ip, char *buf, size_t size);

/* rg_ip_equal - same address (IPv4-mapped IPv6 equals its IPv4 form) */
int     rg_ip_equal(const struct rg_ip *a, const struct rg_ip *b);

/* netlist_add - add "ADDR" or "ADDR/PREFIX"; 0 ok, -1 with err filled */
int     netlist_add(struct netlist *list, const char *text,
		    char *err, size_t errlen);

/* netlist_match - 1 when ip lies in any network of the list */
int     netlist_match(const struct netlist *list, const struct rg_ip *ip);

/* netlist_match_exact - 1 when ip is one of the list's host entries, same
 * family, no IPv4-mapped folding (an address literal names one host) */
int     netlist_match_exact(const struct netlist *list, const struct rg_ip *ip);

/* netlist_free - release the items; the list may be reused empty */
void    netlist_free(struct netlist *list);

#endif
