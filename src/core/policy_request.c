/*
 * policy_request - Postfix policy delegation requests and answers
 *
 * See policy_request.h.  pr_parse() walks the buffer twice: once to
 * check every complete line and find the empty one, then (only for a
 * complete request) to copy it and point the known attributes into the
 * copy.  A caller feeding a slow client re-parses from the start; that
 * is bounded by PR_REQUEST_MAX.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "policy.h"
#include "policy_request.h"

#define PR_NAME_MAX	64		/* longest attribute name */

static const char *const attr_names[PR_ATTR_COUNT] = {
	[PR_REQUEST] = "request",
	[PR_PROTOCOL_STATE] = "protocol_state",
	[PR_PROTOCOL_NAME] = "protocol_name",
	[PR_CLIENT_ADDRESS] = "client_address",
	[PR_CLIENT_PORT] = "client_port",
	[PR_CLIENT_NAME] = "client_name",
	[PR_REVERSE_CLIENT_NAME] = "reverse_client_name",
	[PR_SERVER_ADDRESS] = "server_address",
	[PR_SERVER_PORT] = "server_port",
	[PR_HELO_NAME] = "helo_name",
	[PR_SENDER] = "sender",
	[PR_RECIPIENT] = "recipient",
	[PR_RECIPIENT_COUNT] = "recipient_count",
	[PR_QUEUE_ID] = "queue_id",
	[PR_INSTANCE] = "instance",
	[PR_SASL_METHOD] = "sasl_method",
	[PR_SASL_USERNAME] = "sasl_username",
	[PR_SASL_SENDER] = "sasl_sender",
	[PR_SIZE] = "size",
	[PR_ENCRYPTION_PROTOCOL] = "encryption_protocol",
	[PR_ENCRYPTION_CIPHER] = "encryption_cipher",
	[PR_ENCRYPTION_KEYSIZE] = "encryption_keysize",
	[PR_POLICY_CONTEXT] = "policy_context",
};

/* name_char - may c appear in an attribute name? */
static int
name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		|| (c >= '0' && c <= '9') || c == '_';
}

/* check_line - why line (len bytes, no LF, CR stripped) is not
 * "name=value", or NULL */
static const char *
check_line(const char *line, size_t len)
{
	const char *eq;
	size_t i, namelen;

	if (memchr(line, '\0', len) != NULL)
		return "NUL byte in a request line";
	if ((eq = memchr(line, '=', len)) == NULL)
		return "line without '=' (not a policy request)";
	namelen = (size_t) (eq - line);
	if (namelen == 0)
		return "line with an empty attribute name";
	if (namelen > PR_NAME_MAX)
		return "attribute name longer than 64 bytes";
	for (i = 0; i < namelen; i++)
		if (!name_char((unsigned char) line[i]))
			return "attribute name with a character other than "
			    "A-Z a-z 0-9 _";
	return NULL;
}

/* find_end - check the complete lines of data; 1 with *end just after
 * the empty line, 0 when there is none yet, -1 with *why */
static int
find_end(const char *data, size_t len, size_t *end, unsigned *lines,
	 const char **why)
{
	size_t pos = 0, linelen;
	const char *nl;

	*lines = 0;
	while (pos < len) {
		nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL) {
			/* A partial line: NUL already decides. */
			if (memchr(data + pos, '\0', len - pos) != NULL) {
				*why = "NUL byte in a request line";
				return -1;
			}
			break;
		}
		linelen = (size_t) (nl - (data + pos));
		if (pos + linelen + 1 > PR_REQUEST_MAX)
			break;		/* reported below as too long */
		if (linelen > 0 && data[pos + linelen - 1] == '\r')
			linelen--;
		if (linelen == 0) {
			if (*lines == 0) {
				*why = "empty request";
				return -1;
			}
			*end = (size_t) (nl - data) + 1;
			return 1;
		}
		if ((*why = check_line(data + pos, linelen)) != NULL)
			return -1;
		if (++*lines > PR_ATTRS_MAX) {
			*why = "more than 128 lines in one request";
			return -1;
		}
		pos = (size_t) (nl - data) + 1;
	}
	if (len >= PR_REQUEST_MAX) {
		*why = "request longer than 16384 bytes";
		return -1;
	}
	return 0;
}

/* attr_lookup - the index of a known name, or -1 */
static int
attr_lookup(const char *name)
{
	int i;

	for (i = 0; i < PR_ATTR_COUNT; i++)
		if (strcmp(attr_names[i], name) == 0)
			return i;
	return -1;
}

/* pr_parse - one request from the start of data */
int
pr_parse(const char *data, size_t len, struct pr_request *req,
	 size_t *used, char *err, size_t errlen)
{
	const char *why = NULL;
	char *p, *nl, *eq;
	size_t end = 0;
	unsigned lines;
	int rc, idx;

	if ((rc = find_end(data, len, &end, &lines, &why)) <= 0) {
		if (rc < 0)
			rg_snprintf(err, errlen, "%s", why);
		return rc;
	}
	memcpy(req->text, data, end);
	req->text[end - 1] = '\0';
	memset(req->value, 0, sizeof(req->value));
	req->lines = lines;
	for (p = req->text; *p != '\0' && *p != '\r'; p = nl + 1) {
		nl = strchr(p, '\n');	/* every line before the empty one has one */
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		eq = strchr(p, '=');
		*eq = '\0';
		if ((idx = attr_lookup(p)) < 0)
			continue;
		if (req->value[idx] != NULL) {
			rg_snprintf(err, errlen, "attribute %s sent twice",
				    attr_names[idx]);
			return -1;
		}
		req->value[idx] = eq + 1;
	}
	if (req->value[PR_REQUEST] == NULL) {
		rg_snprintf(err, errlen, "no request= attribute");
		return -1;
	}
	if (strcmp(req->value[PR_REQUEST], "smtpd_access_policy") != 0) {
		rg_snprintf(err, errlen, "request=%.40s%s: only "
			    "smtpd_access_policy is served",
			    req->value[PR_REQUEST],
			    strlen(req->value[PR_REQUEST]) > 40 ? "..." : "");
		return -1;
	}
	*used = end;
	return 1;
}

/* pr_get - an attribute's value, NULL when not sent */
const char *
pr_get(const struct pr_request *req, enum pr_attr attr)
{
	if ((unsigned) attr >= PR_ATTR_COUNT)
		return NULL;
	return req->value[attr];
}

/* pr_state - the SMTP step of the request */
enum pr_state
pr_state(const struct pr_request *req)
{
	const char *s = req->value[PR_PROTOCOL_STATE];

	if (s == NULL)
		return PR_STATE_OTHER;
	if (rg_strcaseeq(s, "CONNECT"))
		return PR_STATE_CONNECT;
	if (rg_strcaseeq(s, "HELO") || rg_strcaseeq(s, "EHLO"))
		return PR_STATE_HELO;
	if (rg_strcaseeq(s, "MAIL"))
		return PR_STATE_MAIL;
	if (rg_strcaseeq(s, "RCPT"))
		return PR_STATE_RCPT;
	return PR_STATE_OTHER;
}

/* pr_attr_name - an attribute's name */
const char *
pr_attr_name(enum pr_attr attr)
{
	return (unsigned) attr < PR_ATTR_COUNT ? attr_names[attr] : "?";
}

/* atext - RFC 5322 atext, and any 8-bit byte (SMTPUTF8) */
static int
atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		|| (c >= '0' && c <= '9') || c >= 0x80
		|| (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot_atom - is local (len bytes) a dot-atom? */
static int
dot_atom(const char *local, size_t len)
{
	size_t i;

	if (len == 0 || local[0] == '.' || local[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (local[i] == '.') {
			if (local[i + 1] == '.')
				return 0;
		} else if (!atext((unsigned char) local[i]))
			return 0;
	}
	return 1;
}

/* put - append n bytes; -1 when full */
static int
put(char *buf, size_t size, size_t *o, const char *s, size_t n)
{
	if (*o + n + 1 > size)
		return -1;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
	return 0;
}

/* pr_path - internal form back into a <path> */
long
pr_path(const char *addr, char *buf, size_t size)
{
	const char *rest = addr, *colon, *at;
	size_t o = 0, local_len, i;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	if (put(buf, size, &o, "<", 1) < 0)
		return -1;
	if (addr[0] == '@' && (colon = strchr(addr, ':')) != NULL) {
		if (put(buf, size, &o, addr, (size_t) (colon - addr) + 1) < 0)
			return -1;
		rest = colon + 1;
	}
	at = strrchr(rest, '@');
	local_len = at ? (size_t) (at - rest) : strlen(rest);
	if (*rest == '\0') {
		/* the null path */
	} else if (dot_atom(rest, local_len)) {
		if (put(buf, size, &o, rest, local_len) < 0)
			return -1;
	} else {
		if (put(buf, size, &o, "\"", 1) < 0)
			return -1;
		for (i = 0; i < local_len; i++) {
			if ((rest[i] == '"' || rest[i] == '\\')
			    && put(buf, size, &o, "\\", 1) < 0)
				return -1;
			if (put(buf, size, &o, rest + i, 1) < 0)
				return -1;
		}
		if (put(buf, size, &o, "\"", 1) < 0)
			return -1;
	}
	if (at != NULL && put(buf, size, &o, at, strlen(at)) < 0)
		return -1;
	if (put(buf, size, &o, ">", 1) < 0)
		return -1;
	return (long) o;
}

/* pr_action - the access(5) action for a verdict */
const char *
pr_action(const struct rg_verdict *v, char *buf, size_t size)
{
	const char *ecode = v->ecode ? v->ecode : "";
	const char *text = v->text ? v->text : "";

	switch (v->action) {
	case RG_REJECT:
	case RG_TEMPFAIL:
	case RG_DROP:
		rg_snprintf(buf, size, "%d%s%s%s%s", v->code,
			    *ecode ? " " : "", ecode, *text ? " " : "", text);
		break;
	case RG_ACCEPT:
	case RG_WOULD_REJECT:
	default:
		rg_snprintf(buf, size, "DUNNO");
		break;
	}
	return buf;
}

/* pr_format_answer - "action=...\n\n", one line whatever action holds */
long
pr_format_answer(const char *action, char *buf, size_t size)
{
	size_t o = 0;
	const char *p;

	if (put(buf, size, &o, "action=", 7) < 0)
		return -1;
	for (p = action; *p != '\0'; p++) {
		char c = ((unsigned char) *p < 0x20 || *p == 0x7f) ? ' ' : *p;

		if (put(buf, size, &o, &c, 1) < 0)
			return -1;
	}
	if (put(buf, size, &o, "\n\n", 2) < 0)
		return -1;
	return (long) o;
}

/* pr_socket_parse - the policy listener's address */
int
pr_socket_parse(const char *spec, struct pr_socket *out, char *err,
		size_t errlen)
{
	const char *rest, *at;
	char *end;
	unsigned long port;
	int family;

	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0) {
		rest = spec + 5;
		if (rest[0] != '/') {
			rg_snprintf(err, errlen, "the unix socket path must be "
				    "absolute (unix:/PATH)");
			return -1;
		}
		if (strlen(rest) >= sizeof(out->path)) {
			rg_snprintf(err, errlen, "unix socket path longer than "
				    "107 bytes");
			return -1;
		}
		out->family = AF_UNIX;
		rg_strlcpy(out->path, rest, sizeof(out->path));
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		family = AF_INET;
		rest = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		family = AF_INET6;
		rest = spec + 6;
	} else {
		rg_snprintf(err, errlen, "expected unix:/PATH, inet:PORT@IPV4 "
			    "or inet6:PORT@IPV6");
		return -1;
	}
	port = strtoul(rest, &end, 10);
	if (end == rest || *rest < '0' || *rest > '9' || *end != '@'
	    || port < 1 || port > 65535) {
		rg_snprintf(err, errlen, "expected PORT@ADDRESS with a port "
			    "from 1 to 65535 (e.g. inet:10040@127.0.0.1)");
		return -1;
	}
	at = end;
	if (!rg_ip_parse(at + 1, &out->ip) || out->ip.family != family) {
		rg_snprintf(err, errlen, "\"%.64s\" is not a numeric %s "
			    "address (the policy protocol has no "
			    "authentication: say where to listen)", at + 1,
			    family == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	out->family = family;
	out->port = (unsigned) port;
	return 0;
}
