/*
 * fuzz-address - the RFC 5321 path parser and the relay-trick resolver
 *
 * Each input is the text a client sends after "RCPT TO:" or "MAIL FROM:"
 * (seeds in corpus/address/ are plain text, one address per file).  It is
 * parsed with every combination of the sender and SMTPUTF8 flags, then
 * resolved against three views of "ours": everything, a small fixed set
 * (example.org, its subdomains, 127.0.0.1, 192.0.2.1, ::1) and nothing.
 *
 * Invariants checked beyond "no crash, no sanitizer report":
 * - the status is one of the three, with a reason when it is not OK;
 *   parsing is deterministic; a NUL byte is always a syntax error;
 *   8-bit text is never OK without SMTPUTF8 (the flag or the path's own
 *   SMTPUTF8 parameter) and never 8BIT with it;
 * - every string is terminated inside its buffer, ntrace and steps stay
 *   within their limits, params points into the input; a trace line cut
 *   to its length never ends in half a UTF-8 character;
 * - domains handed to the is_local predicate are well formed;
 * - when nothing is ours, nothing is unwrapped (tricks seen while
 *   parsing are still flagged);
 * - when the final destination is ours, no routing is left in it;
 * - addr_format_final() writes exactly what fits, and its output, when
 *   within the RFC 5321 length limits, parses back to the same final
 *   destination.
 */
#include <string.h>
#include <sys/socket.h>

#include "address.h"
#include "netlist.h"
#include "fuzz.h"

#define MAX_INPUT 8192			/* longer inputs are cut */

/* terminated - buf holds a NUL within size bytes */
static int
terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/* utf8_whole - every multi-byte sequence is complete (structure only) */
static int
utf8_whole(const unsigned char *s, size_t n)
{
	size_t i = 0, need, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		need = s[i] >= 0xf0 ? 3 : s[i] >= 0xe0 ? 2 : s[i] >= 0xc0 ? 1 : 0;
		if (need == 0 || s[i] >= 0xf8 || i + need >= n)
			return 0;
		for (k = 1; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

/* check_domain - the invariants of a parsed or resolved domain */
static void
check_domain(const struct addr_domain *d)
{
	size_t len;
	const char *p;

	FUZZ_CHECK(terminated(d->name, sizeof(d->name)));
	len = strlen(d->name);
	switch (d->type) {
	case ADDR_DOM_NONE:
		break;
	case ADDR_DOM_NAME:
		FUZZ_CHECK(len > 0 && len <= ADDR_DOMAIN_MAX);
		FUZZ_CHECK(d->name[len - 1] != '.');
		for (p = d->name; *p != '\0'; p++)
			FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
		break;
	case ADDR_DOM_LITERAL:
		FUZZ_CHECK(len >= 3 && d->name[0] == '['
			   && d->name[len - 1] == ']');
		FUZZ_CHECK(d->ip.family == AF_INET || d->ip.family == AF_INET6);
		break;
	default:
		FUZZ_CHECK(!"domain type out of range");
	}
}

/* is_ours - the fixed set of local destinations */
static int
is_ours(const struct addr_domain *d)
{
	static const char *literals[] = {"127.0.0.1", "192.0.2.1", "::1"};
	struct rg_ip ip;
	size_t len, i;

	switch (d->type) {
	case ADDR_DOM_NONE:
		return 1;
	case ADDR_DOM_NAME:
		len = strlen(d->name);
		return strcmp(d->name, "example.org") == 0
		    || strcmp(d->name, "localhost") == 0
		    || (len > 16 && strcmp(d->name + len - 16,
					   ".sub.example.org") == 0);
	case ADDR_DOM_LITERAL:
		for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
			if (rg_ip_parse(literals[i], &ip) && rg_ip_equal(&ip, &d->ip))
				return 1;
		return 0;
	}
	return 0;
}

/* pred_all, pred_some, pred_none - three is_local callbacks */
static int
pred_all(const struct addr_domain *d, void *ctx)
{
	(void)ctx;
	check_domain(d);
	return 1;
}

static int
pred_some(const struct addr_domain *d, void *ctx)
{
	(void)ctx;
	check_domain(d);
	return is_ours(d);
}

static int
pred_none(const struct addr_domain *d, void *ctx)
{
	(void)ctx;
	check_domain(d);
	return d->type == ADDR_DOM_NONE;	/* the MTA's own, by contract */
}

/* check_common - invariants that hold after parse and after resolve */
static void
check_common(const struct address *a, const char *text, size_t len)
{
	unsigned i;

	FUZZ_CHECK(a->status == ADDR_OK || a->status == ADDR_SYNTAX
		   || a->status == ADDR_8BIT);
	if (a->status != ADDR_OK)
		FUZZ_CHECK(a->error != NULL && a->error[0] != '\0');
	FUZZ_CHECK(a->ntrace <= ADDR_TRACE_MAX);
	for (i = 0; i < a->ntrace && i < ADDR_TRACE_MAX; i++)
		FUZZ_CHECK(terminated(a->trace[i], ADDR_TRACE_LEN));
	if (a->status != ADDR_OK)
		return;
	FUZZ_CHECK(a->kind == ADDR_MAILBOX || a->kind == ADDR_NULL
		   || a->kind == ADDR_POSTMASTER || a->kind == ADDR_UNQUALIFIED);
	FUZZ_CHECK(addr_kind_name(a->kind) != NULL);
	FUZZ_CHECK(terminated(a->local, sizeof(a->local)));
	check_domain(&a->domain);
	if (a->kind == ADDR_MAILBOX)
		FUZZ_CHECK(a->domain.type != ADDR_DOM_NONE);
	else
		FUZZ_CHECK(a->domain.type == ADDR_DOM_NONE);
	if (a->kind == ADDR_NULL)
		FUZZ_CHECK(a->local[0] == '\0');
	if (a->params != NULL)
		FUZZ_CHECK(a->params >= text && a->params <= text + len
			   && a->params_len <= (size_t)(text + len - a->params));
}

/* check_format - addr_format_final fits exactly and parses back */
static void
check_format(const struct address *a, addr_is_local_fn pred)
{
	char full[ADDR_PATH_MAX * 4 + 8], bracketed[sizeof(full) + 2];
	char *exact;
	struct address back;
	size_t flen, dlen;
	int flags;

	if (addr_format_final(a, full, sizeof(full)) == NULL) {
		FUZZ_CHECK(!"addr_format_final: does not fit in 1 KiB");
		return;
	}
	flen = strlen(full);
	/* Exactly sized heap buffers: ASan sees any byte written past. */
	exact = malloc(flen + 1);
	FUZZ_CHECK(exact != NULL);
	FUZZ_CHECK(addr_format_final(a, exact, flen + 1) == exact);
	FUZZ_CHECK(strcmp(exact, full) == 0);
	if (flen > 0)
		FUZZ_CHECK(addr_format_final(a, exact, flen) == NULL);
	free(exact);

	if (a->kind == ADDR_NULL) {
		FUZZ_CHECK(flen == 0);
		return;
	}
	/* The quoted form of a local part accepted unquoted (u@R@L) can pass
	 * the RFC 5321 limits; only a form within them must parse back. */
	dlen = a->final_domain.type != ADDR_DOM_NONE
	    ? strlen(a->final_domain.name) + 1 : 0;
	if (flen - dlen > ADDR_LOCAL_MAX || flen > ADDR_PATH_MAX)
		return;
	bracketed[0] = '<';
	memcpy(bracketed + 1, full, flen);
	bracketed[flen + 1] = '>';
	flags = ADDR_F_SMTPUTF8;
	if (addr_parse(bracketed, flen + 2, flags, &back) != ADDR_OK) {
		fprintf(stderr, "final \"%s\" does not parse back: %s\n", full,
			back.error ? back.error : "?");
		FUZZ_CHECK(!"addr_format_final output does not parse back");
	}
	FUZZ_CHECK(strcmp(back.local, a->final_local) == 0);
	FUZZ_CHECK(back.domain.type == a->final_domain.type);
	FUZZ_CHECK(strcmp(back.domain.name, a->final_domain.name) == 0);
	/* A final destination resolves to itself when it is not ours. */
	if (pred == pred_some && back.domain.type != ADDR_DOM_NONE
	    && !is_ours(&back.domain)) {
		FUZZ_CHECK(addr_resolve(&back, pred, NULL) == ADDR_OK);
		FUZZ_CHECK(strcmp(back.final_local, a->final_local) == 0);
		FUZZ_CHECK(strcmp(back.final_domain.name,
				  a->final_domain.name) == 0);
	}
}

/* check_resolved - invariants after addr_resolve */
static void
check_resolved(const struct address *parsed, const struct address *a,
	       addr_is_local_fn pred, const char *text, size_t len)
{
	char names[256], *small;
	size_t nlen, size;

	check_common(a, text, len);
	FUZZ_CHECK(a->steps <= ADDR_STEPS_MAX);
	FUZZ_CHECK((a->tricks & ~0xffu) == 0);
	FUZZ_CHECK(addr_trick_names(a->tricks, names, sizeof(names)) != NULL);
	FUZZ_CHECK(terminated(names, sizeof(names)));
	nlen = strlen(names);
	for (size = 1; size <= nlen + 1; size++) {
		small = malloc(size);
		FUZZ_CHECK(small != NULL);
		addr_trick_names(a->tricks, small, size);
		FUZZ_CHECK(terminated(small, size));
		free(small);
	}
	if (a->status != ADDR_OK)
		return;
	FUZZ_CHECK(terminated(a->final_local, sizeof(a->final_local)));
	check_domain(&a->final_domain);
	/* final_ours is the predicate's answer for the final destination. */
	FUZZ_CHECK(a->final_ours == (a->kind != ADDR_NULL
				     && pred(&a->final_domain, NULL)));
	/* Nothing ours: a qualified address is its own final destination. */
	if (pred == pred_none && parsed->domain.type != ADDR_DOM_NONE) {
		FUZZ_CHECK(strcmp(a->final_local, parsed->local) == 0);
		FUZZ_CHECK(strcmp(a->final_domain.name, parsed->domain.name) == 0);
		FUZZ_CHECK(a->steps == 0);
	}
	/* Ours: every routing character has been unwrapped (an IMCEA text
	 * of another type than SMTP is decoded but deliberately kept). */
	if (a->kind != ADDR_NULL && pred(&a->final_domain, NULL)
	    && !(a->tricks & ADDR_TRICK_IMCEA))
		FUZZ_CHECK(strpbrk(a->final_local, "@%!") == NULL);
	check_format(a, pred);
}

/* run - one input with one set of flags */
static void
run(const char *text, size_t len, int flags)
{
	static const addr_is_local_fn preds[] = {pred_all, pred_some, pred_none};
	struct address parsed, again, a;
	enum addr_status status;
	size_t i;
	unsigned t;

	memset(&parsed, 0xa5, sizeof(parsed));	/* no reliance on zeroing */
	status = addr_parse(text, len, flags, &parsed);
	FUZZ_CHECK(status == parsed.status);
	check_common(&parsed, text, len);
	if (memchr(text, '\0', len) != NULL)
		FUZZ_CHECK(status == ADDR_SYNTAX);
	/* SMTPUTF8: only the transaction's (MAIL's parameter, passed as a
	 * flag by the caller); a parameter on this very path lifts nothing */
	if (flags & ADDR_F_SMTPUTF8)
		FUZZ_CHECK(status != ADDR_8BIT);
	else if (status == ADDR_OK)
		FUZZ_CHECK(!parsed.eightbit);
	if (status == ADDR_OK && parsed.kind == ADDR_NULL)
		FUZZ_CHECK(flags & ADDR_F_SENDER);

	status = addr_parse(text, len, flags, &again);
	FUZZ_CHECK(status == parsed.status);
	if (status == ADDR_OK) {
		FUZZ_CHECK(again.kind == parsed.kind);
		FUZZ_CHECK(strcmp(again.local, parsed.local) == 0);
		FUZZ_CHECK(strcmp(again.domain.name, parsed.domain.name) == 0);
	}
	if (status != ADDR_OK)
		return;
	for (i = 0; i < sizeof(preds) / sizeof(preds[0]); i++) {
		a = parsed;
		status = addr_resolve(&a, preds[i], NULL);
		FUZZ_CHECK(status == a.status);
		check_resolved(&parsed, &a, preds[i], text, len);
		/* Traces quote the input: cutting one to ADDR_TRACE_LEN must
		 * not leave half a UTF-8 character (logs, JSON, audit rows). */
		if (utf8_whole((const unsigned char *)text, len))
			for (t = 0; t < a.ntrace && t < ADDR_TRACE_MAX; t++)
				FUZZ_CHECK(utf8_whole((const unsigned char *)a.trace[t],
						      strlen(a.trace[t])));
	}
}

/* LLVMFuzzerTestOneInput - every flag combination on one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	run(text, size, 0);
	run(text, size, ADDR_F_SENDER);
	run(text, size, ADDR_F_SMTPUTF8);
	run(text, size, ADDR_F_SENDER | ADDR_F_SMTPUTF8);
	return 0;
}
