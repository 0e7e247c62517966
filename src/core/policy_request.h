/*
 * policy_request - Postfix policy delegation requests and answers
 *
 * Postfix's smtpd (check_policy_service) sends one request per
 * restriction check: "name=value" lines, each ending in LF, and an empty
 * line; it wants one "action=..." line and an empty line back, and keeps
 * the connection open for the next request.  This module parses a
 * request out of the bytes read so far and formats the answer.  It knows
 * nothing of sockets or threads; the server (policy_server.c) feeds it.
 *
 * Bounds: a request is at most PR_REQUEST_MAX bytes (empty line
 * included) and PR_ATTRS_MAX lines; Postfix's are about 700 bytes and 30
 * lines.  Anything that is not such a request -- a line without '=', a
 * name that is not [A-Za-z0-9_], a NUL byte, too long, too many lines,
 * request= other than smtpd_access_policy -- is an error with a reason,
 * and the caller closes the connection: a client that speaks something
 * else gets no answer it could take for a verdict.  Attributes this
 * module does not know are skipped (Postfix adds new ones over time).
 */
#ifndef RG_POLICY_REQUEST_H
#define RG_POLICY_REQUEST_H

#include <stddef.h>

#include "netlist.h"
#include "policy.h"

#define PR_REQUEST_MAX	16384		/* bytes in one request */
#define PR_ATTRS_MAX	128		/* lines in one request */

/* The attributes relayguard reads. */
enum pr_attr {
	PR_REQUEST, PR_PROTOCOL_STATE, PR_PROTOCOL_NAME,
	PR_CLIENT_ADDRESS, PR_CLIENT_PORT, PR_CLIENT_NAME,
	PR_REVERSE_CLIENT_NAME, PR_SERVER_ADDRESS, PR_SERVER_PORT,
	PR_HELO_NAME, PR_SENDER, PR_RECIPIENT, PR_RECIPIENT_COUNT,
	PR_QUEUE_ID, PR_INSTANCE, PR_SASL_METHOD, PR_SASL_USERNAME,
	PR_SASL_SENDER, PR_SIZE, PR_ENCRYPTION_PROTOCOL,
	PR_ENCRYPTION_CIPHER, PR_ENCRYPTION_KEYSIZE, PR_POLICY_CONTEXT,
	PR_ATTR_COUNT
};

/* The SMTP step a request is about (protocol_state). */
enum pr_state {
	PR_STATE_CONNECT, PR_STATE_HELO, PR_STATE_MAIL, PR_STATE_RCPT,
	PR_STATE_OTHER,			/* DATA, END-OF-MESSAGE, VRFY, ETRN */
};

/* One parsed request.  Values point into text; an attribute that was
 * not sent is NULL, one sent empty ("sender=") is "". */
struct pr_request {
	char    text[PR_REQUEST_MAX];
	const char *value[PR_ATTR_COUNT];
	unsigned lines;
};

/* pr_parse - look for one complete request at the start of data (len
 * bytes).  1: parsed into req, *used = its length with the empty line;
 * 0: no complete request yet and nothing wrong so far (read more);
 * -1: not a policy request, reason in err.  Lines may end in CRLF. */
int     pr_parse(const char *data, size_t len, struct pr_request *req,
		 size_t *used, char *err, size_t errlen);

/* pr_get - an attribute's value, NULL when not sent */
const char *pr_get(const struct pr_request *req, enum pr_attr attr);

/* pr_state - the request's protocol_state */
enum pr_state pr_state(const struct pr_request *req);

/* pr_attr_name - "client_address", ...; for tests and messages */
const char *pr_attr_name(enum pr_attr attr);

/* pr_path - an address as smtpd passes it (its internal form: no <>,
 * quotes removed) back into the <path> the engine parses, re-quoting a
 * local part that is not a dot-atom ("a b"@x, "u@r"@l) so that nothing
 * the client hid in quotes is lost.  A source route (@a,@b:) is kept
 * before the quoted part.  Returns the length, or -1 when it did not fit
 * (buf then holds "<>"-free garbage the caller must not use). */
long    pr_path(const char *addr, char *buf, size_t size);

/* pr_action - the access(5) action for a verdict: DUNNO for accept and
 * for would-reject (monitor mode: logged and audited, not enforced), the
 * verdict's own "CODE X.Y.Z text" for reject, tempfail and drop (a 421
 * makes smtpd hang up).  Returns buf. */
const char *pr_action(const struct rg_verdict *v, char *buf, size_t size);

/* pr_format_answer - "action=ACTION\n\n" with every control character
 * of action turned into a space (one line, whatever the text); returns
 * the length, or -1 when it did not fit */
long    pr_format_answer(const char *action, char *buf, size_t size);

/* Where the policy server listens (policy_socket). */
struct pr_socket {
	int     family;			/* AF_UNIX, AF_INET or AF_INET6 */
	char    path[108];		/* AF_UNIX */
	struct rg_ip ip;		/* AF_INET, AF_INET6 */
	unsigned port;
};

/* pr_socket_parse - "unix:/PATH", "inet:PORT@IPV4" or "inet6:PORT@IPV6"
 * (libmilter's spelling, as for socket; the address is required and
 * numeric: the policy protocol has no authentication, so it listens
 * where the administrator says, never on every interface).  0 ok, -1
 * with the reason in err.  The one validator of policy_socket. */
int     pr_socket_parse(const char *spec, struct pr_socket *out,
			char *err, size_t errlen);

#endif
