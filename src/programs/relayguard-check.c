/*
 * relayguard-check - offline verdicts for one SMTP transaction
 *
 * Usage: relayguard-check [-c CONF] [--client IP] [--client-name NAME]
 *        [--helo NAME] [--auth USER] [--utf8] --from TEXT --rcpt TEXT
 *        [--mta 'MAILER HOST ADDR'] [--rcpt TEXT ...] [--json]
 *
 * Runs connect, helo (with --helo), MAIL and every RCPT through the same
 * policy engine the milter uses, with the same configuration and
 * directory, and prints each stage's verdict with the normalization trace
 * (like "exim -bh" or "sendmail -bt").  Nothing is sent anywhere.
 * --mta after a --rcpt gives what the MTA resolved that recipient to
 * ({rcpt_mailer} {rcpt_host} {rcpt_addr}, "-" for an empty one), judged
 * by the second judge as the milter does.
 *
 * As an MTA would, a refused MAIL ends the transaction (the RCPTs are
 * shown as skipped) and a drop (421) ends the connection.  Exit status: 0
 * when every stage was accepted (a monitor-mode would-reject counts as
 * accepted: the mail would go through), 1 when any stage was refused, 2 on
 * a usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "address.h"
#include "config.h"
#include "directory.h"
#include "dir_ldap.h"
#include "netlist.h"
#include "policy.h"
#include "text.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define CHECK_DEFAULT_CONFIG	SYSCONFDIR "/relayguard/relayguard.conf"
#define CHECK_DEFAULT_CLIENT	"192.0.2.1"
#define CHECK_RCPT_MAX		1000

/* The directory backends this program can open.  Adapters add theirs. */
static const struct directory_backend *const check_backends[] = {
	&dir_file_backend,
	&dir_ldap_backend,
	NULL,
};

struct check_opts {
	const char *config;
	const char *client;
	const char *client_name;
	const char *helo;
	const char *auth;
	const char *from;
	const char *rcpts[CHECK_RCPT_MAX];
	char   *mtas[CHECK_RCPT_MAX];	/* --mta for that rcpt, or NULL */
	size_t  nrcpts;
	int     utf8;
	int     json;
};

/* usage - with why, a usage error on stderr (exit 2); without, the
 * help on stdout (--help, exit 0) */
static void
usage(const char *why)
{
	FILE *out = why != NULL ? stderr : stdout;

	if (why != NULL)
		fprintf(stderr, "relayguard-check: %s\n", why);
	fprintf(out,
	    "usage: relayguard-check [-c CONF] [--client IP] [--client-name NAME]\n"
	    "         [--helo NAME] [--auth USER] [--utf8] --from TEXT\n"
	    "         --rcpt TEXT [--mta 'MAILER HOST ADDR'] [--rcpt TEXT ...] [--json]\n"
	    "       relayguard-check -V | --version | -h | --help\n"
	    "TEXT is what follows \"MAIL FROM:\" / \"RCPT TO:\", e.g. '<u@example.org>'.\n"
	    "--mta: what the MTA resolved the --rcpt before it to ({rcpt_mailer}\n"
	    "{rcpt_host} {rcpt_addr}, - for empty), e.g. 'esmtp mx.example.net u@example.net'.\n"
	    "Default CONF: %s; default client: %s.\n",
	    CHECK_DEFAULT_CONFIG, CHECK_DEFAULT_CLIENT);
	exit(why != NULL ? 2 : 0);
}

/* put_json - a JSON string (text.h's escaper; NULL as "") */
static void
put_json(const char *s)
{
	struct text_out o = text_out_file(stdout);

	text_json(&o, s != NULL ? s : "");
}

/* put_safe - text for a terminal (text.h's human escaper) */
static void
put_safe(const char *s)
{
	struct text_out o = text_out_file(stdout);

	if (s != NULL)
		text_human(&o, s, strlen(s));
}

/* directory_text - what the directory said */
static const char *
directory_text(const struct rg_verdict *v)
{
	return v->dir_consulted ? dir_result_name(v->dir_result) : "not consulted";
}

/* print_human - one stage as a readable block */
static void
print_human(const char *input, const struct rg_verdict *v)
{
	char tricks[256];
	unsigned i;
	int has_addr = v->stage == RG_STAGE_MAIL || v->stage == RG_STAGE_RCPT;

	printf("%s: ", rg_stage_name(v->stage));
	put_safe(input);
	printf("\n  verdict:    %s %d %s ", rg_action_name(v->action), v->code,
	       v->ecode);
	put_safe(v->text);
	printf("\n  rule:       %s\n", rg_rule_name(v->rule));
	if (!has_addr) {
		putchar('\n');
		return;
	}
	printf("  normalized: <");
	put_safe(v->normalized);
	printf(">\n  directory:  %s", directory_text(v));
	if (v->dir_consulted) {
		printf(" (");
		put_safe(v->dir_key);
		putchar(')');
	}
	if (v->addr.status == ADDR_OK && v->addr.tricks != 0)
		printf("\n  tricks:     %s",
		       addr_trick_names(v->addr.tricks, tricks, sizeof(tricks)));
	if (v->addr.status != ADDR_OK && v->addr.error != NULL) {
		printf("\n  error:      ");
		put_safe(v->addr.error);
	}
	putchar('\n');
	if (v->addr.ntrace > 0)
		printf("  trace:\n");
	for (i = 0; i < v->addr.ntrace && i < ADDR_TRACE_MAX; i++) {
		printf("    ");
		put_safe(v->addr.trace[i]);
		putchar('\n');
	}
	putchar('\n');
}

/* print_json - one stage as one JSON object on one line */
static void
print_json(const char *input, const struct rg_verdict *v)
{
	char tricks[256];
	unsigned i;
	int has_addr = v->stage == RG_STAGE_MAIL || v->stage == RG_STAGE_RCPT;

	printf("{\"stage\":");
	put_json(rg_stage_name(v->stage));
	printf(",\"input\":");
	put_json(input);
	printf(",\"action\":");
	put_json(rg_action_name(v->action));
	printf(",\"code\":%d,\"ecode\":", v->code);
	put_json(v->ecode);
	printf(",\"text\":");
	put_json(v->text);
	printf(",\"rule\":");
	put_json(rg_rule_name(v->rule));
	printf(",\"normalized\":");
	put_json(has_addr ? v->normalized : "");
	printf(",\"directory\":");
	if (v->dir_consulted) {
		put_json(dir_result_name(v->dir_result));
		printf(",\"directory_key\":");
		put_json(v->dir_key);
	} else
		printf("null");
	printf(",\"tricks\":");
	put_json(has_addr && v->addr.status == ADDR_OK ?
		 addr_trick_names(v->addr.tricks, tricks, sizeof(tricks)) : "");
	printf(",\"error\":");
	if (has_addr && v->addr.status != ADDR_OK && v->addr.error != NULL)
		put_json(v->addr.error);
	else
		printf("null");
	printf(",\"trace\":[");
	for (i = 0; has_addr && i < v->addr.ntrace && i < ADDR_TRACE_MAX; i++) {
		if (i > 0)
			putchar(',');
		put_json(v->addr.trace[i]);
	}
	printf("]}\n");
}

/* print_skipped - a stage the MTA would never have reached */
static void
print_skipped(int json, enum rg_stage stage, const char *input,
	      const char *why)
{
	if (json) {
		printf("{\"stage\":");
		put_json(rg_stage_name(stage));
		printf(",\"input\":");
		put_json(input);
		printf(",\"action\":\"skipped\",\"reason\":");
		put_json(why);
		printf("}\n");
		return;
	}
	printf("%s: ", rg_stage_name(stage));
	put_safe(input);
	printf("\n  verdict:    skipped (%s)\n\n", why);
}

/* parse_args - fill opts from argv, or exit 2 */
static void
parse_args(int argc, char **argv, struct check_opts *opts)
{
	enum { O_CLIENT = 256, O_CLIENT_NAME, O_HELO, O_AUTH, O_UTF8, O_FROM,
	       O_RCPT, O_MTA, O_JSON };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"client", required_argument, NULL, O_CLIENT},
		{"client-name", required_argument, NULL, O_CLIENT_NAME},
		{"helo", required_argument, NULL, O_HELO},
		{"auth", required_argument, NULL, O_AUTH},
		{"utf8", no_argument, NULL, O_UTF8},
		{"from", required_argument, NULL, O_FROM},
		{"rcpt", required_argument, NULL, O_RCPT},
		{"mta", required_argument, NULL, O_MTA},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->config = CHECK_DEFAULT_CONFIG;
	opts->client = CHECK_DEFAULT_CLIENT;
	opts->client_name = "unknown";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts->config = optarg;
			break;
		case O_CLIENT:
			opts->client = optarg;
			break;
		case O_CLIENT_NAME:
			opts->client_name = optarg;
			break;
		case O_HELO:
			opts->helo = optarg;
			break;
		case O_AUTH:
			opts->auth = optarg;
			break;
		case O_UTF8:
			opts->utf8 = 1;
			break;
		case O_FROM:
			opts->from = optarg;
			break;
		case O_RCPT:
			if (opts->nrcpts >= CHECK_RCPT_MAX)
				usage("too many --rcpt (at most 1000)");
			opts->rcpts[opts->nrcpts++] = optarg;
			break;
		case O_MTA:
			if (opts->nrcpts == 0)
				usage("--mta belongs after the --rcpt it resolves");
			if (strchr(optarg, ' ') == NULL
			    || strchr(strchr(optarg, ' ') + 1, ' ') == NULL)
				usage("--mta takes 'MAILER HOST ADDR' (- for empty)");
			free(opts->mtas[opts->nrcpts - 1]);
			opts->mtas[opts->nrcpts - 1] = xstrdup(optarg);
			break;
		case O_JSON:
			opts->json = 1;
			break;
		case 'h':
			usage(NULL);
			break;
		case 'V':
			printf("relayguard-check %s\n", PACKAGE_VERSION);
			exit(0);
		case ':':
			usage("an option is missing its argument");
			break;
		default:
			usage("unknown option");
			break;
		}
	}
	if (optind < argc)
		usage("unexpected argument (quote TEXT: --rcpt '<u@example.org>')");
	if (opts->from == NULL)
		usage("--from is required (use --from '<>' for a blank sender)");
	if (opts->nrcpts == 0)
		usage("at least one --rcpt is required");
}

/* session_setup - the connection facts from the options, or exit 2 */
static void
session_setup(const struct check_opts *opts, struct rg_session *s)
{
	policy_session_init(s);
	if (opts->client[0] == '\0' || strcmp(opts->client, "unknown") == 0)
		s->client_ip_known = 0;	/* as over a unix socket */
	else if (rg_ip_parse(opts->client, &s->client_ip))
		s->client_ip_known = 1;
	else {
		fprintf(stderr, "relayguard-check: --client %s: not an IPv4 or IPv6 "
			"address (use \"unknown\" for a unix-socket client)\n",
			opts->client);
		exit(2);
	}
	rg_strlcpy(s->client_name, opts->client_name, sizeof(s->client_name));
	if (opts->helo != NULL)
		rg_strlcpy(s->helo, opts->helo, sizeof(s->helo));
	if (opts->auth != NULL)
		rg_strlcpy(s->auth_user, opts->auth, sizeof(s->auth_user));
}

static unsigned would_reject;		/* monitor-mode refusals seen */

/* mta_split - "MAILER HOST ADDR" (in place) into mta; "-" is empty */
static void
mta_split(char *spec, struct rg_mta_rcpt *mta)
{
	char   *host = strchr(spec, ' '), *addr;

	*host++ = '\0';
	addr = strchr(host, ' ');
	*addr++ = '\0';
	mta->mailer = strcmp(spec, "-") == 0 ? NULL : spec;
	mta->host = strcmp(host, "-") == 0 ? NULL : host;
	mta->addr = strcmp(addr, "-") == 0 ? NULL : addr;
}

/* run_stage - decide, print, commit; returns the verdict's action */
static enum rg_action
run_stage(const struct check_opts *opts, const struct rg_config *cfg,
	  struct directory *dir, struct rg_session *s, enum rg_stage stage,
	  const char *shown, const char *text, char *mta_spec,
	  struct rg_verdict *v)
{
	struct rg_mta_rcpt mta;

	policy_decide(cfg, dir, s, stage, text, text != NULL ? strlen(text) : 0, v);
	if (mta_spec != NULL) {
		mta_split(mta_spec, &mta);
		policy_judge_mta(cfg, dir, s, &mta, v);
	}
	if (opts->json)
		print_json(shown, v);
	else
		print_human(shown, v);
	policy_commit(s, v);
	if (v->action == RG_WOULD_REJECT)
		would_reject++;
	return v->action;
}

int
main(int argc, char **argv)
{
	struct check_opts opts;
	struct rg_config *cfg;
	struct directory *dir;
	struct rg_session session;
	struct rg_verdict *v;
	char err[1024], stats[512], shown[600];
	char *from = NULL;
	int refused = 0, dropped = 0, mail_refused = 0;
	size_t i;

	parse_args(argc, argv, &opts);
	if ((cfg = config_load(opts.config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relayguard-check: %s\n", err);
		return 2;
	}
	if ((dir = directory_open(cfg, check_backends, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relayguard-check: %s: directory: %s\n",
			opts.config, err);
		config_free(cfg);
		return 2;
	}
	session_setup(&opts, &session);
	v = xmalloc(sizeof(*v));

	/* --utf8: the MAIL command declares SMTPUTF8, as the parameter would */
	if (opts.utf8 && strcasestr(opts.from, "SMTPUTF8") == NULL) {
		size_t len = strlen(opts.from) + sizeof(" SMTPUTF8");

		from = xmalloc(len);
		rg_snprintf(from, len, "%s SMTPUTF8", opts.from);
	} else
		from = xstrdup(opts.from);

	if (!opts.json) {
		directory_stats(dir, stats, sizeof(stats));
		printf("config: %s\ndirectory: %s\n\n", opts.config, stats);
	}
	rg_snprintf(shown, sizeof(shown), "%.256s[%.64s]", session.client_name,
		    session.client_ip_known ? opts.client : "unknown");
	run_stage(&opts, cfg, dir, &session, RG_STAGE_CONNECT, shown, NULL, NULL, v);
	if (opts.helo != NULL)
		run_stage(&opts, cfg, dir, &session, RG_STAGE_HELO, opts.helo,
			  opts.helo, NULL, v);

	run_stage(&opts, cfg, dir, &session, RG_STAGE_MAIL, from, from, NULL, v);
	if (policy_refused(v)) {
		refused = mail_refused = 1;
		dropped = v->action == RG_DROP;
	}
	for (i = 0; i < opts.nrcpts; i++) {
		if (dropped || mail_refused) {
			print_skipped(opts.json, RG_STAGE_RCPT, opts.rcpts[i],
				      dropped ? "connection dropped" :
				      "MAIL was refused");
			continue;
		}
		run_stage(&opts, cfg, dir, &session, RG_STAGE_RCPT,
			  opts.rcpts[i], opts.rcpts[i], opts.mtas[i], v);
		if (policy_refused(v))
			refused = 1;
		if (v->action == RG_DROP)
			dropped = 1;
	}
	if (!opts.json && would_reject > 0 && !refused)
		printf("result: accepted (exit 0), with %u would-reject "
		       "(monitor mode)\n", would_reject);
	else if (!opts.json)
		printf("result: %s\n", refused ? "refused (exit 1)" :
		       "accepted (exit 0)");

	free(from);
	free(v);
	for (i = 0; i < opts.nrcpts; i++)
		free(opts.mtas[i]);
	directory_close(dir);
	config_free(cfg);
	return refused ? 1 : 0;
}
