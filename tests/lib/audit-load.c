/*
 * audit-load - drive the audit writer with realistic verdict rows
 *
 * SYNOPSIS
 *	audit-load -d DB [-n ROWS] [-t THREADS] [-f FLUSH_MS] [-b BATCH]
 *		[-q QUEUE] [-s SPREAD_SECONDS] [-F continue|tempfail|spool]
 *		[-P PASSWORD_FILE] [-S SPOOL] [-N NODE]
 *
 * DESCRIPTION
 *	Submits ROWS rows (0: until killed) from THREADS threads through
 *	audit_submit(), the way the milter's callbacks do, and prints
 *	"committed N" whenever the writer's committed-row counter moves,
 *	flushing stdout each time: a test that kills this process knows a
 *	lower bound of what must be in the database.  Rows cycle through
 *	the verdicts the policy engine produces (relay, routing, unknown,
 *	harvest, blank sender, privileged relay, local accept ...) with ten
 *	clients and a mix of blank, local and foreign senders, some with
 *	commas and quotes, spread evenly over the last SPREAD_SECONDS
 *	(default one week) so that the query tool has something to chew on.
 *	The table of rows is shared with the benchmark (audit_load_row()).
 *	DB may be a postgresql:// URI (-P, -S: audit_password_file,
 *	audit_spool; -N: node).  -T MS: the rows' times start at MS (epoch
 *	milliseconds) instead of SPREAD_SECONDS ago, so that two runs write
 *	the same rows.  -H: every row carries hostile client text (quotes,
 *	backslashes, control bytes, invalid UTF-8, a 64 KiB address, and
 *	"reject-me" in one row in 50, which a test's CHECK constraint
 *	refuses).  -R: submit nothing; wait (60 s at most) until the spool
 *	left by an earlier run has been sent, then print the counters.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "verdict.h"

struct kind {
	const char *stage, *rule, *action;
	int     code;
	const char *ecode, *text, *trust, *dir;
	int     rcpt_local;		/* recipient in our domains */
};

static const struct kind kinds[] = {
	{"rcpt", "relay", "reject", 550, "5.7.1", "Relay access denied",
	 "untrusted", NULL, 0},
	{"rcpt", "local", "accept", 250, "2.1.5", NULL, "untrusted", "found", 1},
	{"rcpt", "unknown", "reject", 550, "5.1.1",
	 "Recipient address rejected: user unknown", "untrusted", "not-found", 1},
	{"rcpt", "trusted", "accept", 250, "2.1.5", NULL, "trusted", NULL, 0},
	{"mail", "blank_sender", "reject", 550, "5.7.1",
	 "Blank sender not accepted for this recipient", "untrusted", NULL, 0},
	{"rcpt", "routing", "would-reject", 550, "5.7.1",
	 "Sender-specified routing denied", "untrusted", NULL, 0},
	{"rcpt", "harvest", "drop", 421, "4.7.0",
	 "Too many unknown recipients, closing connection", "untrusted",
	 "not-found", 1},
	{"mail", "pass", "accept", 250, "2.1.0", NULL, "untrusted", NULL, 0},
	{"rcpt", "authenticated", "accept", 250, "2.1.5", NULL, "authenticated",
	 NULL, 0},
	{"rcpt", "directory_unavailable", "tempfail", 451, "4.4.3",
	 "Directory unavailable, try again later", "untrusted", "error", 1},
	{"mail", "spoof", "reject", 550, "5.7.1",
	 "Local sender address not allowed from outside", "untrusted", NULL, 0},
};

static const char *senders[][2] = {
	{"<>", "blank"},
	{"<ceo@example.org>", "local"},
	{"<x@otherdomain.test>", "foreign"},
	{"<\"smith, john\"@partner.test>", "foreign"},
};

/* The strings of one row that are built per row. */
struct load_bufs {
	char    session[32], client[32], name[64], rcpt[128], norm[96];
	char    hostile[70000];
};

static int hostile;			/* -H */

/* hostile_row - row i's client text made hostile, into b->hostile */
static void
hostile_row(long i, struct verdict_record *row, struct load_bufs *b)
{
	static const char *const helos[] = {
		"quote'd\"helo\\back", "ctl\x01\x1b[31m\x7f", "bad\xff\xfe\xc3(utf8",
		"ok.example.net",
	};
	size_t  n;

	row->helo = helos[i % 4];
	switch (i % 4) {
	case 0:
		row->sender = "<o'brien\\\"x\"@example.net>";
		break;
	case 1:
		/* a 64 KiB address */
		n = sizeof(b->hostile) - 1 < 65536 ? sizeof(b->hostile) - 1 : 65536;
		memset(b->hostile, 'a', n);
		b->hostile[0] = '<';
		memcpy(b->hostile + n - 13, "@example.org>", 13);
		b->hostile[n] = '\0';
		row->rcpt = b->hostile;
		break;
	case 2:
		row->trace = "tab\there; \xc0\xafoverlong; \xed\xa0\x80surrogate";
		break;
	default:
		break;
	}
	if (i % 50 == 7)
		row->rcpt = "<reject-me@example.org>";
}

/* load_row - row number i of the load, its strings in *b */
static void
load_row(long i, int64_t base_ms, long spread_ms, long step_ms,
	 struct verdict_record *row, struct load_bufs *b)
{
	const struct kind *k = &kinds[i % (long) RG_ARRAY_LEN(kinds)];
	long    c = (i * 7) % 10;
	long    s = (i / 3) % (long) RG_ARRAY_LEN(senders);

	memset(row, 0, sizeof(*row));
	snprintf(b->session, sizeof(b->session), "L%08lx", i / 4);
	snprintf(b->client, sizeof(b->client), "198.51.100.%ld", 10 + c);
	snprintf(b->name, sizeof(b->name), "host%ld.example.net", c);
	if (k->rcpt_local)
		snprintf(b->norm, sizeof(b->norm), "user%ld@example.org", i % 97);
	else
		snprintf(b->norm, sizeof(b->norm), "victim%ld@spammail.test",
			 i % 89);
	snprintf(b->rcpt, sizeof(b->rcpt), "<%s>", b->norm);
	row->time_ms = base_ms + (spread_ms > 0 ? (i * step_ms) % spread_ms : 0);
	row->session_id = b->session;
	row->queue_id = (i % 5 == 0) ? "4AbCdEf" : "";
	row->mta = "smtpd";
	row->client_addr = b->client;
	row->client_name = b->name;
	row->helo = (c == 3) ? "otherdomain" : b->name;
	row->auth_user = strcmp(k->trust, "authenticated") == 0 ? "alice" : NULL;
	row->stage = k->stage;
	row->sender = senders[s][0];
	row->sender_class = senders[s][1];
	if (strcmp(k->stage, "rcpt") == 0) {
		row->rcpt = b->rcpt;
		row->rcpt_normalized = b->norm;
	}
	row->rule = k->rule;
	row->action = k->action;
	row->code = k->code;
	row->ecode = k->ecode;
	row->text = k->text;
	row->directory_result = k->dir;
	row->trace = "load row; line two\tafter a tab";
	row->client_trust = k->trust;
	if (hostile)
		hostile_row(i, row, b);
}

struct worker {
	struct audit *audit;
	long    first, count;		/* count 0: forever */
	int64_t base_ms;
	long    spread_ms;
	long    step_ms;		/* time between consecutive rows */
	long    refused;
};

/* work - one submitting thread */
static void *
work(void *arg)
{
	struct worker *w = arg;
	struct verdict_record row;
	static __thread struct load_bufs b;
	long    i;

	for (i = 0; w->count == 0 || i < w->count; i++) {
		load_row(w->first + i, w->base_ms, w->spread_ms, w->step_ms, &row,
			 &b);
		if (audit_submit(w->audit, &row) != 0)
			w->refused++;
	}
	return NULL;
}

/* log_stderr - warnings and diverted rows to stderr */
static void
log_stderr(int priority, const char *line, void *ctx)
{
	(void) priority;
	(void) ctx;
	fprintf(stderr, "%s\n", line);
}

int
main(int argc, char **argv)
{
	struct rg_config cfg;
	struct audit *audit;
	struct audit_counters c;
	struct worker w[16];
	pthread_t tid[16];
	long    rows = 0, spread = 7 * 86400, last = -1, per, rem;
	long long base_ms = 0;
	int     replay_only = 0;
	int64_t waited = 0;
	int     threads = 4, opt, i, running;
	char    err[512], stats[256];
	struct timespec now;

	memset(&cfg, 0, sizeof(cfg));
	cfg.audit_flush_ms = 200;
	cfg.audit_batch_rows = 1000;
	cfg.audit_queue_rows = 65536;
	cfg.audit_failure = RG_AUDITFAIL_CONTINUE;
	while ((opt = getopt(argc, argv, "d:n:t:f:b:q:s:F:P:S:N:T:HR")) != -1) {
		switch (opt) {
		case 'd': cfg.audit_db = optarg; break;
		case 'n': rows = atol(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'f': cfg.audit_flush_ms = (unsigned) atoi(optarg); break;
		case 'b': cfg.audit_batch_rows = (unsigned) atoi(optarg); break;
		case 'q': cfg.audit_queue_rows = (unsigned) atoi(optarg); break;
		case 's': spread = atol(optarg); break;
		case 'F':
			cfg.audit_failure = strcmp(optarg, "tempfail") == 0 ?
				RG_AUDITFAIL_TEMPFAIL : strcmp(optarg, "spool") == 0 ?
				RG_AUDITFAIL_SPOOL : RG_AUDITFAIL_CONTINUE;
			break;
		case 'P': cfg.audit_password_file = optarg; break;
		case 'S': cfg.audit_spool = optarg; break;
		case 'N': cfg.node = optarg; break;
		case 'T': base_ms = atoll(optarg); break;
		case 'H': hostile = 1; break;
		case 'R': replay_only = 1; break;
		default:
			fprintf(stderr, "usage: audit-load -d DB [-n ROWS] [-t THREADS] "
				"[-f FLUSH_MS] [-b BATCH] [-q QUEUE] [-s SECONDS] "
				"[-F continue|tempfail|spool] [-P PASSWORD_FILE] "
				"[-S SPOOL] [-N NODE] [-T BASE_MS] [-H] [-R]\n");
			return 2;
		}
	}
	if (cfg.audit_db == NULL || threads < 1 || threads > 16 || rows < 0) {
		fprintf(stderr, "audit-load: -d DB is required; 1-16 threads\n");
		return 2;
	}
	audit_set_logger(log_stderr, NULL);
	if ((audit = audit_open(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "audit-load: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (replay_only) {
		/* what an earlier run left in the spool, and nothing else */
		do {
			usleep(20000);
			waited += 20;
			audit_get_counters(audit, &c);
		} while ((c.spool > 0 || c.pending > 0) && waited < 60000);
		audit_stats(audit, stats, sizeof(stats));
		audit = audit_close(audit);
		printf("done %s replayed=%llu\n", stats,
		       (unsigned long long) c.replayed);
		return 0;
	}
	for (i = 0; i < threads; i++) {
		w[i].audit = audit;
		per = rows / threads;
		rem = rows % threads;
		w[i].count = rows ? per + (i < rem) : 0;
		w[i].first = rows ? i * per + (i < rem ? i : rem) :
			(long) i * 1000000000L;
		w[i].base_ms = base_ms > 0 ? (int64_t) base_ms :
			((int64_t) now.tv_sec - spread) * 1000;
		w[i].spread_ms = spread * 1000;
		w[i].step_ms = rows > 0 && spread * 1000 / rows > 0 ?
			spread * 1000 / rows : 1;
		w[i].refused = 0;
		pthread_create(&tid[i], NULL, work, &w[i]);
	}
	/* report the committed counter as it moves; finished submitters
	 * leave the loop when every row is committed */
	for (running = 1; running;) {
		usleep(20000);
		audit_get_counters(audit, &c);
		if ((long) c.written != last) {
			last = (long) c.written;
			printf("committed %ld\n", last);
			fflush(stdout);
		}
		/* a row is accounted for once committed, spooled (and maybe
		 * replayed: counted in written too), diverted or refused */
		running = rows == 0 || (long) (c.written - c.replayed + c.spooled
					       + c.diverted + c.refused) < rows;
	}
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	audit_stats(audit, stats, sizeof(stats));
	audit = audit_close(audit);
	printf("done %s\n", stats);
	return 0;
}
