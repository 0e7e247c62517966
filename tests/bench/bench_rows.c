/*
 * bench_rows - the audit rows the audit writer's benchmarks write
 *
 * See bench_rows.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "audit.h"
#include "verdict.h"
#include "bench_util.h"
#include "bench_rows.h"

/* bench_rows_make - n rows: refusals and accepts from 50 clients */
struct bench_row *
bench_rows_make(int n)
{
	static const char *rules[][4] = {
		{"relay", "reject", "5.7.1", "Relay access denied"},
		{"local", "accept", "2.1.5", NULL},
		{"unknown", "reject", "5.1.1",
		 "Recipient address rejected: user unknown"},
		{"trusted", "accept", "2.1.5", NULL},
		{"routing", "reject", "5.7.1", "Sender-specified routing denied"},
	};
	struct bench_row *rows = xcalloc((size_t) n, sizeof(*rows));
	int     i;

	for (i = 0; i < n; i++) {
		struct bench_row *b = &rows[i];
		const char **r = rules[i % 5];

		snprintf(b->session, sizeof(b->session), "B%08x", i / 3);
		snprintf(b->client, sizeof(b->client), "203.0.113.%d", i % 50);
		snprintf(b->name, sizeof(b->name), "mx%d.example.net", i % 50);
		snprintf(b->norm, sizeof(b->norm), "user%d@example.org", i % 1000);
		snprintf(b->rcpt, sizeof(b->rcpt), "<user%d@example.org>", i % 1000);
		b->row.time_ms = 1795000000000LL + i;
		b->row.session_id = b->session;
		b->row.mta = "smtpd";
		b->row.client_addr = b->client;
		b->row.client_name = b->name;
		b->row.helo = b->name;
		b->row.stage = "rcpt";
		b->row.sender = "<someone@example.net>";
		b->row.rcpt = b->rcpt;
		b->row.rcpt_normalized = b->norm;
		b->row.rule = r[0];
		b->row.action = r[1];
		b->row.code = r[1][0] == 'a' ? 250 : 550;
		b->row.ecode = r[2];
		b->row.text = r[3];
		b->row.directory_result = "not-found";
		b->row.trace = "domain example.org is local; directory: not found";
		b->row.client_trust = "untrusted";
		b->row.sender_class = "foreign";
	}
	return rows;
}

/* bench_rows_write - submit every row, close, the rate */
double
bench_rows_write(struct audit *audit, const struct bench_row *rows, int n,
		 double *submit_us, struct audit_counters *ctr)
{
	double  t0, t1 = 0, t2;
	int     i;

	/* the first BENCH_ROOMY rows fit in the queue: that is the cost a
	 * milter callback sees; after that the submitter waits for the
	 * writer */
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (i == BENCH_ROOMY)
			t1 = bench_now();
		if (audit_submit(audit, &rows[i].row) != 0)
			exit(1);
	}
	if (ctr != NULL)
		audit_get_counters(audit, ctr);
	audit_close(audit);
	t2 = bench_now();
	*submit_us = (t1 - t0) / BENCH_ROOMY * 1e6;
	return n / (t2 - t0);
}
