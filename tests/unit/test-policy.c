/*
 * test-policy - the policy engine: unit checks and the golden corpus
 *
 * The unit part checks what the corpus cannot see: session counters,
 * accept codes per stage, monitor mode keeping the reply, directory keys.
 *
 * The corpus part runs every line of tests/corpus/policy/cases.tsv
 * through the engine exactly as the milter would (connect, MAIL, each
 * RCPT, with policy_commit() in between) and compares the last judged
 * stage with the expected action, code and rule; a mismatch prints both
 * and the normalization trace.  The format is described at the top of
 * cases.tsv.
 *
 * Directory errors come from the shared test double (fake_directory.h):
 * it implements the directory interface under the name "ldap" (so the
 * dir-fail* configurations can say "directory = ldap") and, with no
 * script, answers DIR_ERROR to every lookup, as an unreachable server
 * would.  It is not the LDAP backend: the real LDAP failure modes (server
 * down, timeouts) are tested against a real slapd by that backend's own
 * tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "address.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "fake_directory.h"
#include "testlib.h"
#include "alloc_count.h"	/* linked with --wrap=malloc,calloc,realloc */

#define CORPUS_FIELDS	12
#define CORPUS_RCPTS	256
#define CORPUS_CONFIGS	32
#define EXPAND_MAX	(1024 * 1024)

static const struct directory_backend *const test_backends[] = {
	&dir_file_backend, &fake_directory_backend, NULL,
};

/* A corpus configuration, loaded once. */
struct corpus_config {
	char   *name;
	struct rg_config *cfg;
	struct directory *dir;
};

static struct corpus_config configs[CORPUS_CONFIGS];
static size_t nconfigs;

/* corpus_config - the named configuration (NAME.conf), or NULL */
static struct corpus_config *
corpus_config(const char *name)
{
	struct corpus_config *cc;
	char path[256], err[1024];
	size_t i;

	for (i = 0; i < nconfigs; i++)
		if (strcmp(configs[i].name, name) == 0)
			return &configs[i];
	if (nconfigs >= CORPUS_CONFIGS)
		return NULL;
	cc = &configs[nconfigs];
	snprintf(path, sizeof(path), "%s.conf", name);
	if ((cc->cfg = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "corpus config: %s\n", err);
		return NULL;
	}
	if ((cc->dir = directory_open(cc->cfg, test_backends, err,
				      sizeof(err))) == NULL) {
		fprintf(stderr, "corpus directory (%s): %s\n", path, err);
		cc->cfg = config_free(cc->cfg);
		return NULL;
	}
	cc->name = xstrdup(name);
	nconfigs++;
	return cc;
}

/* A byte string that may hold NUL bytes. */
struct text {
	char   *buf;
	size_t  len;
	size_t  cap;
};

/* text_add - append n bytes */
static int
text_add(struct text *t, const char *p, size_t n)
{
	if (t->len + n + 1 > EXPAND_MAX)
		return -1;
	if (t->len + n + 1 > t->cap) {
		while (t->len + n + 1 > t->cap)
			t->cap = t->cap ? t->cap * 2 : 256;
		t->buf = xrealloc(t->buf, t->cap);
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return 0;
}

static int expand(const char *src, size_t srclen, struct text *out, int depth);

/* expand_rep - "{rep N TEXT}" at src; returns bytes consumed, -1 on error */
static long
expand_rep(const char *src, size_t srclen, struct text *out, int depth)
{
	const char *p = src + 5, *end = src + srclen, *close;
	struct text once = {0};
	unsigned long n = 0;
	unsigned long i;

	while (p < end && *p >= '0' && *p <= '9' && n < EXPAND_MAX)
		n = n * 10 + (unsigned long)(*p++ - '0');
	if (p >= end || *p != ' ')
		return -1;
	p++;
	for (close = p; close < end && *close != '}'; close++)
		if (*close == '\\' && close + 1 < end)
			close++;
	if (close >= end)
		return -1;
	if (expand(p, (size_t)(close - p), &once, depth + 1) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (text_add(out, once.buf ? once.buf : "", once.len) < 0)
			goto fail;
	free(once.buf);
	return (long)(close + 1 - src);

fail:
	free(once.buf);
	return -1;
}

/* expand - the corpus notation: \\ \t \0 \xHH, {rep N TEXT}, {empty} */
static int
expand(const char *src, size_t srclen, struct text *out, int depth)
{
	size_t i = 0;

	if (depth > 4)
		return -1;
	if (out->buf == NULL && text_add(out, "", 0) < 0)
		return -1;
	while (i < srclen) {
		char c = src[i];

		if (c == '\\' && i + 1 < srclen) {
			char e = src[i + 1];

			if (e == 'x' && i + 3 < srclen && rg_hex_digit(src[i + 2]) >= 0
			    && rg_hex_digit(src[i + 3]) >= 0) {
				char b = (char)(rg_hex_digit(src[i + 2]) * 16 + rg_hex_digit(src[i + 3]));

				if (text_add(out, &b, 1) < 0)
					return -1;
				i += 4;
				continue;
			}
			c = e == 't' ? '\t' : e == '0' ? '\0' : e == 'r' ? '\r'
			    : e == 'n' ? '\n' : e;
			if (text_add(out, &c, 1) < 0)
				return -1;
			i += 2;
			continue;
		}
		if (c == '{' && srclen - i >= 7 && strncmp(src + i, "{empty}", 7) == 0) {
			i += 7;
			continue;
		}
		if (c == '{' && srclen - i >= 5 && strncmp(src + i, "{rep ", 5) == 0) {
			long used = expand_rep(src + i, srclen - i, out, depth);

			if (used < 0)
				return -1;
			i += (size_t)used;
			continue;
		}
		if (text_add(out, &c, 1) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* One corpus line, split and expanded. */
struct corpus_case {
	char   *field[CORPUS_FIELDS];
	size_t  nfields;
	struct text from;
	struct text rcpt[CORPUS_RCPTS];
	size_t  nrcpts;
};

/* case_free - release the expanded texts */
static void
case_free(struct corpus_case *c)
{
	size_t i;

	free(c->from.buf);
	for (i = 0; i < c->nrcpts; i++)
		free(c->rcpt[i].buf);
	memset(c, 0, sizeof(*c));
}

/* split_rcpts - " || " separated, "{times N}TEXT" repeats; -1 on error */
static int
split_rcpts(struct corpus_case *c, const char *field)
{
	const char *p = field;

	if (strcmp(field, "-") == 0)
		return 0;
	while (*p != '\0') {
		const char *sep = strstr(p, " || ");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		unsigned long times = 1, i;
		struct text one = {0};

		if (strncmp(p, "{times ", 7) == 0) {
			char *end;

			times = strtoul(p + 7, &end, 10);
			if (*end != '}' || times == 0)
				return -1;
			len -= (size_t)(end + 1 - p);
			p = end + 1;
		}
		if (expand(p, len, &one, 0) < 0)
			return -1;
		for (i = 0; i < times; i++) {
			if (c->nrcpts >= CORPUS_RCPTS) {
				free(one.buf);
				return -1;
			}
			c->rcpt[c->nrcpts].buf = xmalloc(one.len + 1);
			memcpy(c->rcpt[c->nrcpts].buf, one.buf, one.len + 1);
			c->rcpt[c->nrcpts].len = one.len;
			c->nrcpts++;
		}
		free(one.buf);
		p += len;
		if (sep != NULL)
			p += 4;
	}
	return 0;
}

/* print_shown - a corpus text for a failure message, escaped, bounded */
static void
print_shown(const struct text *t)
{
	size_t i;

	for (i = 0; i < t->len && i < 120; i++) {
		unsigned char b = (unsigned char)t->buf[i];

		if (b < 0x20 || b >= 0x7f)
			fprintf(stderr, "\\x%02x", b);
		else
			fputc(b, stderr);
	}
	if (t->len > 120)
		fprintf(stderr, "...(%zu bytes)", t->len);
}

/* run_case - one corpus line; 1 when it matches */
static int
run_case(struct corpus_case *c, const char *line_name)
{
	static struct rg_verdict v;
	struct corpus_config *cc;
	struct rg_session s;
	const char **f = (const char **)c->field;
	char code[16];
	const char *stage_input = "";
	size_t i = 0;
	int ok;

	if ((cc = corpus_config(f[1])) == NULL) {
		fprintf(stderr, "%s: cannot load config %s\n", line_name, f[1]);
		return 0;
	}
	policy_session_init(&s);
	if (strcmp(f[2], "unknown") != 0) {
		if (!rg_ip_parse(f[2], &s.client_ip)) {
			fprintf(stderr, "%s: bad client %s\n", line_name, f[2]);
			return 0;
		}
		s.client_ip_known = 1;
	}
	if (strcmp(f[3], "-") != 0)
		rg_strlcpy(s.auth_user, f[3], sizeof(s.auth_user));
	if (strcmp(f[4], "1") == 0)
		text_add(&c->from, " SMTPUTF8", 9);

	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_CONNECT, NULL, 0, &v);
	policy_commit(&s, &v);
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_MAIL, c->from.buf,
		      c->from.len, &v);
	policy_commit(&s, &v);
	stage_input = "mail";
	if (!policy_refused(&v)) {
		for (i = 0; i < c->nrcpts; i++) {
			policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT,
				      c->rcpt[i].buf, c->rcpt[i].len, &v);
			policy_commit(&s, &v);
			stage_input = "rcpt";
			if (v.action == RG_DROP)
				break;
		}
	}
	snprintf(code, sizeof(code), "%d", v.code);
	ok = strcmp(rg_action_name(v.action), f[7]) == 0
	    && strcmp(code, f[8]) == 0
	    && strcmp(rg_rule_name(v.rule), f[9]) == 0;
	if (ok && c->nfields > 10 && strcmp(f[10], "-") != 0
	    && strcmp(v.normalized, f[10]) != 0)
		ok = 0;
	if (ok)
		return 1;

	fprintf(stderr, "--- %s %s (config %s, client %s, auth %s)\n",
		line_name, f[0], f[1], f[2], f[3]);
	fprintf(stderr, "    from: ");
	print_shown(&c->from);
	fprintf(stderr, "\n    last %s input: ", stage_input);
	if (strcmp(stage_input, "rcpt") == 0)
		print_shown(&c->rcpt[i < c->nrcpts ? i : c->nrcpts - 1]);
	fprintf(stderr, "\n    want: %s %s %s normalized=%s\n", f[7], f[8], f[9],
		c->nfields > 10 ? f[10] : "-");
	fprintf(stderr, "    got:  %s %d %s normalized=%s (%s %s)%s%s\n",
		rg_action_name(v.action), v.code, rg_rule_name(v.rule),
		v.normalized, v.ecode, v.text,
		v.addr.status != ADDR_OK ? " error: " : "",
		v.addr.status != ADDR_OK && v.addr.error ? v.addr.error : "");
	for (i = 0; i < v.addr.ntrace && i < ADDR_TRACE_MAX; i++)
		fprintf(stderr, "      %s\n", v.addr.trace[i]);
	return 0;
}

/* test_corpus - every line of cases.tsv */
static void
test_corpus(const char *dir)
{
	char *line = NULL, name[64];
	size_t cap = 0;
	unsigned long lineno = 0;
	unsigned ncases = 0, nfail = 0;
	ssize_t n;
	FILE *fp;

	test_begin("policy corpus (tests/corpus/policy/cases.tsv)");
	if (chdir(dir) < 0 || (fp = fopen("cases.tsv", "r")) == NULL) {
		fprintf(stderr, "%s/cases.tsv: %s\n", dir, strerror(errno));
		test_assert(!"corpus readable");
		test_end();
		return;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		struct corpus_case c;
		char *p, *tab;

		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		memset(&c, 0, sizeof(c));
		for (p = line; c.nfields < CORPUS_FIELDS; p = tab + 1) {
			c.field[c.nfields++] = p;
			if ((tab = strchr(p, '\t')) == NULL)
				break;
			*tab = '\0';
		}
		snprintf(name, sizeof(name), "cases.tsv:%lu:", lineno);
		ncases++;
		if (c.nfields < 10) {
			fprintf(stderr, "%s only %zu fields\n", name, c.nfields);
			nfail++;
			continue;
		}
		if (expand(c.field[5], strlen(c.field[5]), &c.from, 0) < 0
		    || split_rcpts(&c, c.field[6]) < 0) {
			fprintf(stderr, "%s bad notation\n", name);
			nfail++;
			case_free(&c);
			continue;
		}
		if (!run_case(&c, name))
			nfail++;
		case_free(&c);
	}
	free(line);
	fclose(fp);
	printf("corpus: %u cases, %u failed\n", ncases, nfail);
	test_assert(ncases >= 220);
	test_assert_int(nfail, 0);
	test_end();
}

/* unit_config - default-enforce from the corpus, with its directory */
static struct corpus_config *
unit_config(const char *name)
{
	struct corpus_config *cc = corpus_config(name);

	if (cc == NULL) {
		fprintf(stderr, "cannot load %s\n", name);
		exit(1);
	}
	return cc;
}

/* decide - one step, committed */
static void
decide(struct corpus_config *cc, struct rg_session *s, enum rg_stage stage,
       const char *text, struct rg_verdict *v)
{
	policy_decide(cc->cfg, cc->dir, s, stage, text, text ? strlen(text) : 0, v);
	policy_commit(s, v);
}

static void
test_counters(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	static struct rg_verdict v;
	struct rg_session s;

	test_begin("session counters and transactions");
	policy_session_init(&s);
	rg_ip_parse("192.0.2.1", &s.client_ip);
	s.client_ip_known = 1;
	decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
	test_assert_int(v.action, RG_ACCEPT);
	test_assert_str(v.ecode, "2.0.0");
	test_assert_str(v.text, "OK");
	decide(cc, &s, RG_STAGE_HELO, "client.remote.test", &v);
	test_assert_str(rg_rule_name(v.rule), "pass");
	test_assert_int(v.code, 250);

	decide(cc, &s, RG_STAGE_MAIL, "<> SMTPUTF8", &v);
	test_assert_int(v.action, RG_ACCEPT);
	test_assert_str(v.ecode, "2.1.0");
	test_assert_str(v.normalized, "");
	test_assert_int(s.in_txn, 1);
	test_assert_int(s.transactions, 1);
	test_assert_int(s.sender_null, 1);
	test_assert_int(s.smtputf8, 1);

	decide(cc, &s, RG_STAGE_RCPT, "<nobody@example.org>", &v);
	test_assert_str(rg_rule_name(v.rule), "unknown");
	test_assert_str(v.ecode, "5.1.1");
	test_assert_int(v.dir_consulted, 1);
	test_assert_int(v.dir_result, DIR_NOTFOUND);
	decide(cc, &s, RG_STAGE_RCPT, "<Alice@Example.ORG>", &v);
	test_assert_int(v.action, RG_ACCEPT);
	test_assert_str(v.ecode, "2.1.5");
	test_assert_str(v.normalized, "Alice@example.org");
	test_assert_str(v.dir_key, "Alice@example.org");
	decide(cc, &s, RG_STAGE_RCPT, "<bob@example.org>", &v);
	test_assert_str(rg_rule_name(v.rule), "blank_sender");
	test_assert_int(s.rcpts, 3);
	test_assert_int(s.rcpts_accepted, 1);
	test_assert_int(s.rcpts_refused, 2);
	test_assert_int(s.unknown_rcpts, 1);

	policy_reset_txn(&s);
	test_assert_int(s.in_txn, 0);
	test_assert_int(s.rcpts, 0);
	test_assert_int(s.sender_null, 0);
	test_assert_int(s.smtputf8, 0);
	test_assert_int(s.transactions, 1);
	test_assert_int(s.unknown_rcpts, 1);
	test_assert_int(s.rcpts_refused, 2);

	decide(cc, &s, RG_STAGE_MAIL, "<ceo@example.org>", &v);
	test_assert_int(s.sender_local, 1);
	test_assert_int(s.transactions, 2);
	decide(cc, &s, RG_STAGE_MAIL, "<spammer@bad.test>", &v);
	test_assert_str(rg_rule_name(v.rule), "sender_deny");
	test_assert_int(s.in_txn, 0);	/* a refused MAIL opens nothing */
	test_assert_int(s.transactions, 2);
	test_end();
}

static void
test_keys_and_replies(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	struct corpus_config *qualify = unit_config("unqualified-qualify");
	struct corpus_config *resolve = unit_config("routing-resolve");
	struct corpus_config *mon = unit_config("monitor");
	static struct rg_verdict v;
	struct rg_session s;

	test_begin("directory keys, replies, monitor keeps the reply");
	policy_session_init(&s);
	decide(cc, &s, RG_STAGE_MAIL, "<sender@remote.test>", &v);
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT, "<alice>", 7, &v);
	test_assert_str(rg_rule_name(v.rule), "unqualified");
	test_assert_int(v.dir_consulted, 0);
	test_assert_str(v.ecode, "5.1.3");
	policy_decide(qualify->cfg, qualify->dir, &s, RG_STAGE_RCPT, "<alice>", 7,
		      &v);
	test_assert_str(v.dir_key, "alice@example.org");
	test_assert_str(rg_rule_name(v.rule), "local");
	/* the key is the mailbox the MTA delivers to, not our own reading */
	policy_decide(resolve->cfg, resolve->dir, &s, RG_STAGE_RCPT,
		      "<IMCEAEX-alice@example.org>", 27, &v);
	test_assert_str(v.dir_key, "IMCEAEX-alice@example.org");
	policy_decide(resolve->cfg, resolve->dir, &s, RG_STAGE_RCPT,
		      "<example.org!alice%example.net@example.org>", 43, &v);
	test_assert_str(v.dir_key, "alice@example.net");
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT,
		      "<alice@[192.0.2.25]>", 20, &v);
	test_assert_str(v.dir_key, "alice@example.org");
	test_assert_int(v.local, 1);
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT, "<u@remote.test>", 15, &v);
	test_assert_int(v.action, RG_REJECT);
	test_assert_int(v.code, 550);
	test_assert_str(v.ecode, "5.7.1");
	test_assert_str(v.text, "Relay access denied");
	test_assert_int(v.dir_consulted, 0);
	test_assert_int(v.local, 0);
	test_assert(!policy_client_privileged(cc->cfg, &s));

	policy_session_init(&s);
	decide(mon, &s, RG_STAGE_MAIL, "<sender@remote.test>", &v);
	policy_decide(mon->cfg, mon->dir, &s, RG_STAGE_RCPT, "<u@remote.test>", 15, &v);
	test_assert_int(v.action, RG_WOULD_REJECT);
	test_assert_int(v.code, 550);
	test_assert_str(v.ecode, "5.7.1");
	test_assert_str(v.text, "Relay access denied");
	test_assert(!policy_refused(&v));
	policy_commit(&s, &v);
	test_assert_int(s.rcpts_accepted, 1);

	test_assert_str(rg_action_name(RG_WOULD_REJECT), "would-reject");
	test_assert_str(rg_action_name(RG_DROP), "drop");
	test_assert_str(rg_stage_name(RG_STAGE_RCPT), "rcpt");
	test_assert_str(rg_stage_name(RG_STAGE_CONNECT), "connect");
	test_end();
}

static void
test_privilege(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	struct corpus_config *noauth = unit_config("noauth");
	struct rg_session s;

	test_begin("privileged clients");
	policy_session_init(&s);
	test_assert(!policy_client_privileged(cc->cfg, &s));	/* unix socket */
	rg_strlcpy(s.auth_user, "joe", sizeof(s.auth_user));
	test_assert(policy_client_privileged(cc->cfg, &s));
	test_assert(!policy_client_privileged(noauth->cfg, &s));
	s.client_ip_known = 1;
	rg_ip_parse("10.66.0.9", &s.client_ip);		/* never relay */
	test_assert(!policy_client_privileged(cc->cfg, &s));
	s.auth_user[0] = '\0';
	rg_ip_parse("10.9.9.9", &s.client_ip);
	test_assert(policy_client_privileged(cc->cfg, &s));
	rg_ip_parse("::ffff:10.9.9.9", &s.client_ip);
	test_assert(policy_client_privileged(cc->cfg, &s));
	rg_ip_parse("2001:db8:a::1", &s.client_ip);
	test_assert(policy_client_privileged(cc->cfg, &s));
	rg_ip_parse("2001:db8:b::1", &s.client_ip);
	test_assert(!policy_client_privileged(cc->cfg, &s));
	test_end();
}

/* test_trust_and_class - the verdict says who the client is and what
 * the sender is, at every stage, so that no caller recomputes them */
static void
test_trust_and_class(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	struct rg_session s;
	struct rg_verdict v;

	test_begin("verdict: client trust and sender class");
	policy_session_init(&s);
	decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
	test_assert_int(v.trust, RG_TRUST_UNTRUSTED);
	test_assert_int(v.sender_class, RG_SENDER_NONE);
	test_assert(rg_sender_class_name(v.sender_class) == NULL);
	decide(cc, &s, RG_STAGE_MAIL, "<>", &v);
	test_assert_int(v.sender_class, RG_SENDER_BLANK);
	decide(cc, &s, RG_STAGE_MAIL, "<a@example.org>", &v);
	test_assert_int(v.sender_class, RG_SENDER_LOCAL);
	decide(cc, &s, RG_STAGE_MAIL, "<a@remote.test>", &v);
	test_assert_int(v.sender_class, RG_SENDER_FOREIGN);
	test_assert_str(rg_sender_class_name(v.sender_class), "foreign");
	decide(cc, &s, RG_STAGE_RCPT, "<alice@example.org>", &v);
	test_assert_int(v.sender_class, RG_SENDER_FOREIGN);	/* the transaction's */
	test_assert_int(v.trust, RG_TRUST_UNTRUSTED);
	decide(cc, &s, RG_STAGE_MAIL, "<bad syntax", &v);
	test_assert_int(v.sender_class, RG_SENDER_NONE);

	/* trusted network; never_relay wins over trusted; auth */
	policy_session_init(&s);
	s.client_ip_known = 1;
	rg_ip_parse("10.9.9.9", &s.client_ip);
	decide(cc, &s, RG_STAGE_HELO, "h", &v);
	test_assert_int(v.trust, RG_TRUST_TRUSTED);
	test_assert_str(rg_trust_name(v.trust), "trusted");
	rg_strlcpy(s.auth_user, "joe", sizeof(s.auth_user));
	decide(cc, &s, RG_STAGE_MAIL, "<joe@example.org>", &v);
	test_assert_int(v.trust, RG_TRUST_TRUSTED);
	rg_ip_parse("10.66.0.9", &s.client_ip);
	decide(cc, &s, RG_STAGE_RCPT, "<u@remote.test>", &v);
	test_assert_int(v.trust, RG_TRUST_UNTRUSTED);
	test_assert_int(v.rule, RG_RULE_RELAY);
	s.client_ip_known = 0;
	decide(cc, &s, RG_STAGE_RCPT, "<u@remote.test>", &v);
	test_assert_int(v.trust, RG_TRUST_AUTHENTICATED);
	test_assert_int(v.rule, RG_RULE_AUTHENTICATED);
	test_assert_int(policy_client_trust(cc->cfg, &s), RG_TRUST_AUTHENTICATED);
	test_end();
}

/* test_audit_unavailable - the audit deferral is a rule with its own
 * reply and monitor switch */
static void
test_audit_unavailable(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	struct corpus_config *mon = unit_config("monitor");
	struct rg_session s;
	struct rg_verdict v;

	test_begin("rule audit_unavailable");
	policy_session_init(&s);
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_CONNECT, NULL, 0, &v);
	test_assert_int(policy_audit_unavailable(cc->cfg, &v), 1);
	test_assert_int(v.action, RG_TEMPFAIL);
	test_assert_int(v.rule, RG_RULE_AUDIT);
	test_assert_str(rg_rule_name(v.rule), "audit_unavailable");
	test_assert_int(v.code, 451);
	test_assert_str(v.ecode, "4.3.0");
	test_assert_str(v.text, "Audit trail unavailable, try again later");
	/* a refusal keeps its own rule and reply */
	decide(cc, &s, RG_STAGE_MAIL, "<a@remote.test>", &v);
	policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT, "<u@remote.test>", 15, &v);
	test_assert_int(policy_audit_unavailable(cc->cfg, &v), 0);
	test_assert_int(v.rule, RG_RULE_RELAY);
	test_assert_int(v.code, 550);
	/* monitored, like every rule */
	policy_session_init(&s);
	policy_decide(mon->cfg, mon->dir, &s, RG_STAGE_CONNECT, NULL, 0, &v);
	test_assert_int(policy_audit_unavailable(mon->cfg, &v), 1);
	test_assert_int(v.action, RG_WOULD_REJECT);
	test_assert_int(v.rule, RG_RULE_AUDIT);
	test_assert_int(v.code, 451);
	test_end();
}

/* The second judge: relayguard's verdict against what the MTA resolved
 * ({rcpt_mailer}, {rcpt_host}, {rcpt_addr}, as Postfix 3.7 and Sendmail
 * 8.17 send them: see docs/integration.md). */
static void
test_mta_judge(void)
{
	static const struct {
		const char *config, *client, *rcpt;
		const char *mailer, *host, *addr;
		const char *rule;
		const char *trace;	/* substring of some trace line, or NULL */
	} cases[] = {
		/* Postfix relay_domains: next hop is the domain itself */
		{"mta", "192.0.2.1", "<alice@example.org>", "relay", "example.org",
		 "alice@example.org", "local", "mta: relay [example.org]"},
		/* Sendmail _USE_DEPRECATED_ROUTE_ADDR_: the first hop wins */
		{"mta", "192.0.2.1", "<@remote.test:alice@example.org>", "esmtp",
		 "remote.test.", "@remote.test:alice@example.org", "mta_mismatch",
		 "next hop is not ours: refused"},
		/* the gateway: transport_maps to an internal server */
		{"mta", "192.0.2.1", "<alice@example.org>", "smtp", "[10.9.8.7]:25",
		 "alice@example.org", "local", NULL},
		{"mta", "192.0.2.1", "<alice@example.org>", "smtp",
		 "exchange.corp.test", "alice@example.org", "local", NULL},
		{"default-enforce", "192.0.2.1", "<alice@example.org>", "smtp",
		 "[10.9.8.7]:25", "alice@example.org", "mta_mismatch", NULL},
		{"mta", "192.0.2.1", "<alice@example.org>", "smtp", "[10.9.8.6]",
		 "alice@example.org", "mta_mismatch", NULL},
		/* myorigin not ours: the MTA qualified it elsewhere */
		{"unqualified-qualify", "192.0.2.1", "<alice>", "smtp", "other.test",
		 "alice@other.test", "mta_mismatch", "address is not ours"},
		/* local deliveries: Sendmail's local mailer, Postfix lmtp, local */
		{"mta", "192.0.2.1", "<alice@example.org>", "local", NULL, "alice",
		 "local", NULL},
		{"mta", "192.0.2.1", "<alice@example.org>", "lmtp",
		 "unix:/run/dovecot/lmtp", "alice@example.org", "local", NULL},
		{"mta", "192.0.2.1", "<alice@[192.0.2.25]>", "local",
		 "[192.0.2.25]", "alice@[192.0.2.25]", "local", NULL},
		/* the client may relay: accepted as the relay it is */
		{"mta", "10.1.2.3", "<@remote.test:alice@example.org>", "esmtp",
		 "remote.test.", "@remote.test:alice@example.org", "trusted",
		 "the client may relay"},
		/* relayguard says remote, the MTA local: the refusal stands */
		{"mta", "192.0.2.1", "<u@remote.test>", "local", NULL, "u", "relay",
		 "refusal stands"},
		/* the MTA's mailbox differs from relayguard's key */
		{"unqualified-qualify", "192.0.2.1", "<alice>", "local", NULL,
		 "bob", "local", "the MTA delivers to bob@example.org"},
		{"unqualified-qualify", "192.0.2.1", "<alice>", "local", NULL,
		 "nobody", "unknown", "the MTA delivers to nobody@example.org"},
		{"mta", "192.0.2.1", "<alice@example.org>", "relay", "example.org",
		 "\"::1]:alice\"@example.org", "unknown", NULL},
		{"mta", "192.0.2.1", "<Alice@example.org>", "local", NULL, "alice",
		 "local", NULL},
		/* the MTA refuses it itself; an address it cannot say */
		{"mta", "192.0.2.1", "<alice@example.org>", "error", NULL,
		 "User unknown", "local", "refuses it itself"},
		{"mta", "192.0.2.1", "<alice@example.org>", "smtp", "example.org",
		 "<<", "mta_mismatch", "cannot be read"},
		{"mta", "192.0.2.1", "<postmaster@example.org>", "esmtp",
		 "remote.test", "@remote.test:postmaster@example.org",
		 "mta_mismatch", NULL},
		/* a next hop in U-labels is compared in A-labels */
		{"idn", "192.0.2.1", "<u@xn--bcher-kva.example>", "relay",
		 "b\xc3\xbc" "cher.example.", "u@xn--bcher-kva.example", "local",
		 NULL},
		{"idn", "192.0.2.1", "<u@xn--bcher-kva.example>", "relay",
		 "b\xc3\xbc" "cher\xef\xbc\x8e" "example", "u@xn--bcher-kva.example",
		 "mta_mismatch", NULL},
		/* no macros: the verdict is relayguard's alone */
		{"mta", "192.0.2.1", "<alice@example.org>", NULL, NULL, NULL,
		 "local", NULL},
	};
	static struct rg_verdict v;
	struct rg_session s;
	struct rg_mta_rcpt mta;
	size_t i, t;

	test_begin("the MTA's resolution as a second judge");
	for (i = 0; i < RG_ARRAY_LEN(cases); i++) {
		struct corpus_config *cc = unit_config(cases[i].config);
		int found = cases[i].trace == NULL;

		policy_session_init(&s);
		test_assert(rg_ip_parse(cases[i].client, &s.client_ip));
		s.client_ip_known = 1;
		decide(cc, &s, RG_STAGE_MAIL, "<sender@remote.test>", &v);
		policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT, cases[i].rcpt,
			      strlen(cases[i].rcpt), &v);
		mta.mailer = cases[i].mailer;
		mta.host = cases[i].host;
		mta.addr = cases[i].addr;
		policy_judge_mta(cc->cfg, cc->dir, &s, &mta, &v);
		if (strcmp(rg_rule_name(v.rule), cases[i].rule) != 0)
			fprintf(stderr, "  case %zu: %s via %s [%s] <%s>\n", i,
				cases[i].rcpt, cases[i].mailer ? cases[i].mailer : "-",
				cases[i].host ? cases[i].host : "",
				cases[i].addr ? cases[i].addr : "");
		test_assert_str(rg_rule_name(v.rule), cases[i].rule);
		for (t = 0; !found && t < v.addr.ntrace; t++)
			found = strstr(v.addr.trace[t], cases[i].trace) != NULL;
		test_assert(found);
		if (cases[i].mailer == NULL)
			for (t = 0; t < v.addr.ntrace; t++)
				test_assert(strstr(v.addr.trace[t], "mta:") == NULL);
	}
	test_end();
}

/* test_stage_can_refuse - what a door may leave unanswered */
static void
test_stage_can_refuse(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	struct rg_config *cfg = cc->cfg;
	char *audit_db = cfg->audit_db, path[] = "/var/lib/relayguard/audit.db";
	enum rg_auditfail_mode failure = cfg->audit_failure;
	struct rg_session s;

	test_begin("policy_stage_can_refuse");
	policy_session_init(&s);
	cfg->audit_db = NULL;
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 0);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_HELO), 0);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_MAIL), 1);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_RCPT), 1);
	/* client memory: a penalty can refuse at connect and HELO */
	s.tracker = clienttrack_new(64, 4);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 1);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_HELO), 1);
	cfg->rule_monitor[RG_RULE_CLIENT_PENALTY] = 1;
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 0);
	cfg->rule_monitor[RG_RULE_CLIENT_PENALTY] = -1;
	s.tracker = clienttrack_free(s.tracker);
	/* audit_failure = tempfail with an audit trail: audit_unavailable */
	cfg->audit_failure = RG_AUDITFAIL_TEMPFAIL;
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 0);
	cfg->audit_db = path;
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 1);
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_HELO), 1);
	cfg->audit_failure = RG_AUDITFAIL_CONTINUE;
	test_assert_int(policy_stage_can_refuse(cfg, &s, RG_STAGE_CONNECT), 0);
	cfg->audit_db = audit_db;
	cfg->audit_failure = failure;
	test_end();
}

static void
test_no_allocation(void)
{
	static const char *const rcpts[] = {
		"<alice@example.org>", "<nobody@example.org>", "<u@remote.test>",
		"<u%remote.test@example.org>", "<\"u@remote.test\"@[192.0.2.25]>",
		"<IMCEASMTP-u+40remote+2Etest@example.org>", "<postmaster>",
		"<alice>", "<u@>", "<remote.test!u>", "<anyone@example.net>",
	};
	struct corpus_config *cc = unit_config("default-enforce");
	struct corpus_config *fail = unit_config("dir-fail");
	static struct rg_verdict v;
	struct rg_session s;
	unsigned long before;
	size_t i;

	test_begin("no allocation on the RCPT path");
	policy_session_init(&s);
	decide(cc, &s, RG_STAGE_MAIL, "<sender@remote.test>", &v);
	before = allocations;
	for (i = 0; i < RG_ARRAY_LEN(rcpts); i++) {
		decide(cc, &s, RG_STAGE_RCPT, rcpts[i], &v);
		decide(fail, &s, RG_STAGE_RCPT, rcpts[i], &v);
	}
	/* the second judge too, its own directory lookup included */
	for (i = 0; i < RG_ARRAY_LEN(rcpts); i++) {
		static const struct rg_mta_rcpt mtas[] = {
			{"esmtp", "remote.test.", "@remote.test:alice@example.org"},
			{"local", NULL, "bob"},
			{"relay", "example.org", "alice@example.org"},
		};
		size_t k;

		for (k = 0; k < RG_ARRAY_LEN(mtas); k++) {
			policy_decide(cc->cfg, cc->dir, &s, RG_STAGE_RCPT, rcpts[i],
				      strlen(rcpts[i]), &v);
			policy_judge_mta(cc->cfg, cc->dir, &s, &mtas[k], &v);
		}
	}
	test_assert_int(allocations - before, 0);
	before = allocations;
	free(xmalloc(1));		/* the counter does count */
	test_assert_int(allocations - before, 1);
	test_end();

	test_begin("no allocation on the RCPT path with memory across connections");
	s.tracker = clienttrack_new(64, 4);
	clienttrack_configure(s.tracker, &cc->cfg->client_limits);
	s.client_ip_known = 1;
	rg_ip_parse("198.51.100.9", &s.client_ip);
	decide(cc, &s, RG_STAGE_RCPT, rcpts[0], &v);	/* warm the table */
	before = allocations;
	for (i = 0; i < 200; i++) {
		const char *rcpt = rcpts[i % RG_ARRAY_LEN(rcpts)];

		s.unknown_rcpts = 0;
		decide(cc, &s, RG_STAGE_RCPT, rcpt, &v);
		decide(fail, &s, RG_STAGE_RCPT, rcpt, &v);
		s.client_ip.addr[3] = (unsigned char) i;	/* new clients evict */
	}
	test_assert_int(allocations - before, 0);
	test_assert(s.rcpts_refused > 0);

	/* an authenticated sender: every remote recipient checked and
	 * counted against its account */
	s.accounts = accountlimit_new(64, 4);
	rg_strlcpy(s.auth_user, "joe@example.org", sizeof(s.auth_user));
	decide(cc, &s, RG_STAGE_RCPT, "<u@remote.test>", &v);	/* warm */
	test_assert(v.account_checked);
	before = allocations;
	for (i = 0; i < 200; i++) {
		s.auth_user[0] = (char) ('a' + i % 26);	/* new accounts evict */
		decide(cc, &s, RG_STAGE_RCPT, rcpts[i % RG_ARRAY_LEN(rcpts)], &v);
	}
	test_assert_int(allocations - before, 0);
	s.accounts = accountlimit_free(s.accounts);
	s.auth_user[0] = '\0';
	s.tracker = clienttrack_free(s.tracker);
	test_end();
}

static void
test_client_memory(void)
{
	struct corpus_config *cc = unit_config("default-enforce");
	static struct rg_verdict v;
	struct clienttrack *ct = clienttrack_new(1024, 4);
	struct rg_session s;
	unsigned conn, i, limit = cc->cfg->client_limits.limit[CT_UNKNOWN];
	unsigned unknowns = 0;

	clienttrack_configure(ct, &cc->cfg->client_limits);
	test_begin("a reconnecting harvester is penalised across connections");
	for (conn = 0; conn < 10; conn++) {
		policy_session_init(&s);
		s.tracker = ct;
		s.client_ip_known = 1;
		rg_ip_parse(conn % 2 ? "203.0.113.7" : "203.0.113.8", &s.client_ip);
		decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
		if (v.rule == RG_RULE_CLIENT_PENALTY)
			break;
		decide(cc, &s, RG_STAGE_MAIL, "<x@remote.test>", &v);
		for (i = 0; i < cc->cfg->harvest_limit; i++) {
			decide(cc, &s, RG_STAGE_RCPT, "<nobody@example.org>", &v);
			if (v.rule == RG_RULE_CLIENT_PENALTY_RCPT)
				break;
			test_assert(v.rule == RG_RULE_UNKNOWN);
			unknowns++;
		}
		if (v.rule == RG_RULE_CLIENT_PENALTY_RCPT)
			break;
	}
	/* one more than the limit, summed over the /24, then the penalty */
	test_assert_int(unknowns, limit + 1);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY_RCPT);
	test_assert_int(v.code, 450);
	test_assert_str(v.ecode, "4.7.1");
	test_assert_int(v.action, RG_TEMPFAIL);
	test_assert_int(v.penalty_repeat, 0);
	test_assert(v.penalty_left > 0);
	decide(cc, &s, RG_STAGE_RCPT, "<alice@example.org>", &v);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY_RCPT);
	test_assert_int(v.penalty_repeat, 1);
	test_end();

	test_begin("a penalised network is dropped at connect, once reported");
	policy_session_init(&s);
	s.tracker = ct;
	s.client_ip_known = 1;
	rg_ip_parse("203.0.113.200", &s.client_ip);
	decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY);
	test_assert_int(v.action, RG_DROP);
	test_assert_int(v.code, 421);
	test_assert_int(v.penalty_repeat, 1);	/* reported at RCPT already */
	decide(cc, &s, RG_STAGE_HELO, "x", &v);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY);
	rg_ip_parse("203.0.114.1", &s.client_ip);	/* another /24 */
	decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
	test_assert_int(v.rule, RG_RULE_PASS);
	test_end();

	test_begin("trusted and authenticated clients are exempt");
	rg_ip_parse("10.1.2.3", &s.client_ip);		/* trusted_networks */
	for (i = 0; i < limit + 5; i++) {
		s.unknown_rcpts = 0;
		decide(cc, &s, RG_STAGE_RCPT, "<nobody@example.org>", &v);
		test_assert_int(v.rule, RG_RULE_UNKNOWN);
		test_assert_int(v.track_event, CT_NONE);
	}
	test_assert_int(clienttrack_count(ct, &s.client_ip, 1, CT_UNKNOWN), 0);
	rg_ip_parse("203.0.113.9", &s.client_ip);	/* penalised network */
	rg_strlcpy(s.auth_user, "joe", sizeof(s.auth_user));
	decide(cc, &s, RG_STAGE_RCPT, "<alice@example.org>", &v);
	test_assert_int(v.rule, RG_RULE_LOCAL);
	s.auth_user[0] = '\0';
	decide(cc, &s, RG_STAGE_RCPT, "<u@remote.test>", &v);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY_RCPT);
	test_end();

	test_begin("relay probes, one connection each, are penalised");
	for (conn = 0; conn < 20; conn++) {
		policy_session_init(&s);
		s.tracker = ct;
		s.client_ip_known = 1;
		rg_ip_parse("2001:db8:77:1::5", &s.client_ip);
		s.client_ip.addr[15] = (unsigned char) conn;	/* same /64 */
		decide(cc, &s, RG_STAGE_CONNECT, NULL, &v);
		if (v.rule == RG_RULE_CLIENT_PENALTY)
			break;
		decide(cc, &s, RG_STAGE_MAIL, "<x@remote.test>", &v);
		decide(cc, &s, RG_STAGE_RCPT, "<victim@remote.test>", &v);
		test_assert(v.rule == RG_RULE_RELAY
			    || v.rule == RG_RULE_CLIENT_PENALTY_RCPT);
	}
	test_assert_int(conn, cc->cfg->client_limits.limit[CT_RELAY] + 1);
	test_assert_int(v.rule, RG_RULE_CLIENT_PENALTY);
	test_end();
	ct = clienttrack_free(ct);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("top_srcdir");
	char dir[1024];

	if (argc > 1)
		rg_strlcpy(dir, argv[1], sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "%s/tests/corpus/policy",
			 srcdir != NULL ? srcdir : ".");
	if (chdir(dir) < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	test_counters();
	test_keys_and_replies();
	test_privilege();
	test_trust_and_class();
	test_audit_unavailable();
	test_mta_judge();
	test_stage_can_refuse();
	test_no_allocation();
	test_client_memory();
	test_corpus(".");
	while (nconfigs > 0) {
		nconfigs--;
		directory_close(configs[nconfigs].dir);
		config_free(configs[nconfigs].cfg);
		free(configs[nconfigs].name);
	}
	return test_exit();
}
