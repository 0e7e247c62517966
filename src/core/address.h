/*
 * address - RFC 5321 path parsing and relay-trick resolution
 *
 * addr_parse() reads the text a client sent after "MAIL FROM:" or
 * "RCPT TO:", exactly as an MTA hands it to a milter: with or without angle
 * brackets, possibly followed by ESMTP parameters.  It validates RFC 5321
 * syntax (dot-atom or quoted-string local part with quoted-pairs, domain or
 * address literal, source route, length limits, 8-bit rules) and fills a
 * struct address with the dequoted parts.
 *
 * addr_resolve() then undoes every relay trick to find the real final
 * destination: while the current destination is one of ours (the caller's
 * is_local predicate says so), routing hidden in the local part is unwrapped
 * (extra or quoted @, percent hack, bang path, IMCEA encapsulation, Unicode
 * look-alikes of @ % !).  Each step appends a line to the trace.  Source
 * routes are ignored as RFC 5321 4.1.1.3 says, and noted in the trace.
 *
 * Domains are compared in A-labels: under SMTPUTF8 a domain written in
 * U-labels is converted with libidn2 (IDNA2008, no TR46 mapping) and an
 * invalid U-label is a syntax error.
 *
 * Both functions are pure: no I/O, bounded time and memory for any
 * input, and no allocation of their own (libidn2 allocates its result
 * for a domain in U-labels, freed at once; ASCII domains never reach it).
 * Every loop is bounded by the input length or by ADDR_STEPS_MAX.  A struct address is self-contained (fixed buffers), so
 * it can be copied or placed on the stack.
 */
#ifndef RG_ADDRESS_H
#define RG_ADDRESS_H

#include <stddef.h>

#include "netlist.h"

#define ADDR_LOCAL_MAX	64		/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255		/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256		/* RFC 5321 4.5.3.1.3, brackets included */
#define ADDR_PATH_TEXT_MAX (ADDR_PATH_MAX - 2)	/* between the brackets */
#define ADDR_TRACE_MAX	16		/* trace lines kept */
#define ADDR_TRACE_LEN	160		/* bytes per trace line */
#define ADDR_STEPS_MAX	16		/* unwrapping steps before giving up */

/* addr_parse() flags */
#define ADDR_F_SMTPUTF8	0x01		/* transaction declared SMTPUTF8 */
#define ADDR_F_SENDER	0x02		/* MAIL FROM: "<>" allowed */

enum addr_status {
	ADDR_OK = 0,
	ADDR_SYNTAX,			/* unparseable: 501 5.1.3 */
	ADDR_8BIT,			/* 8-bit without SMTPUTF8: 553 5.6.7 */
};

enum addr_kind {
	ADDR_MAILBOX,			/* local@domain */
	ADDR_NULL,			/* <> (sender only) */
	ADDR_POSTMASTER,		/* <postmaster>, any case, no domain */
	ADDR_UNQUALIFIED,		/* <local>, no domain: the MTA's own */
};

enum addr_dtype {
	ADDR_DOM_NONE,			/* no domain (unqualified, postmaster) */
	ADDR_DOM_NAME,			/* host name, lower-case, no trailing dot */
	ADDR_DOM_LITERAL,		/* [IPv4] or [IPv6:...]; ip is filled */
};

struct addr_domain {
	enum addr_dtype type;
	char    name[ADDR_DOMAIN_MAX + 1];	/* literal: canonical "[...]";
						 * name: A-labels (IDNA) */
	struct rg_ip ip;		/* ADDR_DOM_LITERAL only */
	int     canonical;		/* literal written in canonical form */
	int     ulabels;		/* name was written with U-labels */
};

/* Routing found in the local part (addr.tricks).  ADDR_TRICK_ROUTE marks
 * an ignored source route and is not routing in the policy's sense. */
#define ADDR_TRICK_PERCENT	0x0001	/* u%R@L */
#define ADDR_TRICK_BANG		0x0002	/* R!u, R!u@L */
#define ADDR_TRICK_EXTRA_AT	0x0004	/* u@R@L */
#define ADDR_TRICK_QUOTED	0x0008	/* @ % ! inside "..." */
#define ADDR_TRICK_ESCAPED	0x0010	/* \@ \% \! quoted-pair */
#define ADDR_TRICK_IMCEA	0x0020	/* IMCEA<type>-...@L */
#define ADDR_TRICK_LOOKALIKE	0x0040	/* U+FF20, U+FE6B, U+FF05, ... */
#define ADDR_TRICK_ROUTE	0x0080	/* @a,@b:u@d (ignored) */
#define ADDR_TRICK_ROUTING	0x007f	/* everything but ADDR_TRICK_ROUTE */

struct address {
	enum addr_status status;
	const char *error;		/* static reason when status != OK */
	enum addr_kind kind;

	/* As written (dequoted), before any unwrapping. */
	char    local[ADDR_PATH_MAX + 1];	/* dequoted local part */
	int     quoted;			/* local part was a quoted-string */
	int     eightbit;		/* local part or domain has bytes >= 0x80 */
	struct addr_domain domain;
	unsigned route_hops;		/* source-route hops ignored */

	/* ESMTP parameters after the path (points into the caller's text). */
	const char *params;		/* NULL when none */
	size_t  params_len;
	int     param_smtputf8;		/* SMTPUTF8 among them */

	/* Final destination, filled by addr_resolve(). */
	char    final_local[ADDR_PATH_MAX + 1];
	struct addr_domain final_domain;

	/* What the MTA itself delivers to, filled by addr_resolve(): the
	 * unwrapping MTAs do (extra or quoted @, bang path, percent hack),
	 * without relayguard's own steps (look-alikes, IMCEA).  Read it with
	 * addr_deliver_local() / addr_deliver_domain(): it is kept apart
	 * only when one of those steps changed the address. */
	int     deliver_apart;
	char    deliver_local[ADDR_PATH_MAX + 1];
	struct addr_domain deliver_domain;
	int     final_ours;		/* is_local() said yes to final_domain */
	unsigned tricks;		/* ADDR_TRICK_* found */
	unsigned steps;			/* unwrapping steps taken */

	char    trace[ADDR_TRACE_MAX][ADDR_TRACE_LEN];
	unsigned ntrace;
};

/* Says whether a destination is ours: a local domain, one of our address
 * literals, or ADDR_DOM_NONE (the MTA qualifies it with its own name). */
typedef int (*addr_is_local_fn) (const struct addr_domain *domain, void *ctx);

/* addr_parse - parse len bytes of text (may contain NUL: a syntax error) */
enum addr_status addr_parse(const char *text, size_t len, int flags,
			    struct address *addr);

/* addr_resolve - unwrap relay tricks into final_local/final_domain.
 * Returns addr->status (ADDR_SYNTAX when unwrapping exposes bad syntax or
 * takes more than ADDR_STEPS_MAX steps). */
enum addr_status addr_resolve(struct address *addr, addr_is_local_fn is_local,
			      void *ctx);

/* addr_deliver_local, addr_deliver_domain - the mailbox the MTA itself
 * delivers to (after addr_resolve) */
static inline const char *
addr_deliver_local(const struct address *addr)
{
	return addr->deliver_apart ? addr->deliver_local : addr->final_local;
}

static inline const struct addr_domain *
addr_deliver_domain(const struct address *addr)
{
	return addr->deliver_apart ? &addr->deliver_domain : &addr->final_domain;
}

/* addr_format_final - "local@domain" of the final destination, the local
 * part quoted when it is not a dot-atom; "" for <>; returns buf, or NULL
 * when it does not fit. */
const char *addr_format_final(const struct address *addr, char *buf,
			      size_t size);

/* addr_domain_alabels - name (a host name, U-labels allowed) lower-cased
 * in A-labels into out, as addresses are compared; NULL ok, else the
 * reason (an invalid IDNA2008 label is refused, never mapped).  For
 * local_domains and directory entries, so both spellings meet. */
const char *addr_domain_alabels(const char *name, char *out, size_t size);

/* addr_trace_note - append a trace line (keeping the newest when full),
 * for what the caller judged beyond the address itself */
void    addr_trace_note(struct address *addr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* addr_kind_name, addr_trick_names - for traces, logs and JSON */
const char *addr_kind_name(enum addr_kind kind);
const char *addr_trick_names(unsigned tricks, char *buf, size_t size);

#endif
