/*
 * listen_addr - "ADDR:PORT" parsing (see listen_addr.h)
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listen_addr.h"

/* listen_addr_parse - see listen_addr.h */
const char *
listen_addr_parse(const char *s, struct sockaddr_storage *out, int *loopback)
{
	struct sockaddr_storage ss;
	char    host[64];
	const char *colon, *h;
	size_t  hlen;
	long    port;
	char   *end;
	int     lo = 0;

	memset(&ss, 0, sizeof(ss));
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return "expected [IPV6]:PORT";
		h = s + 1;
		hlen = (size_t) (colon - h);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return "expected ADDR:PORT, e.g. 127.0.0.1:9154";
		h = s;
		hlen = (size_t) (colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "expected an IP address before the port";
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		return "port must be a number from 1 to 65535";
	if (s[0] != '[' && inet_pton(AF_INET, host,
				     &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t) port);
		lo = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (s[0] == '[' && inet_pton(AF_INET6, host,
			&((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t) port);
		lo = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	} else {
		return s[0] == '[' ? "not an IPv6 address" :
		    "not an IPv4 address (IPv6 goes in brackets: [::1]:PORT)";
	}
	if (out)
		*out = ss;
	if (loopback)
		*loopback = lo;
	return NULL;
}
