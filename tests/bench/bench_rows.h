/*
 * bench_rows - the audit rows the audit writer's benchmarks write
 *
 * bench-audit and bench-audit-pg time the same rows through the same
 * path: bench_rows_make() builds n rows like a busy MX's (refusals and
 * accepts from 50 clients, 1,000 recipients); bench_rows_write() submits
 * them to an open writer and closes it, every row committed.
 * bench_rows_make() returns an array the caller frees with free().
 */
#ifndef RG_BENCH_ROWS_H
#define RG_BENCH_ROWS_H

#include "audit.h"
#include "verdict.h"

#define BENCH_ROOMY	30000	/* rows submitted before the queue can fill */

struct bench_row {
	struct verdict_record row;
	char    session[32], client[32], name[64], rcpt[96], norm[96];
};

/* bench_rows_make - n rows; never NULL */
struct bench_row *bench_rows_make(int n);

/* bench_rows_write - audit_submit() x n (n > BENCH_ROOMY) until
 * audit_close() returns; rows per second.  *submit_us: the caller's
 * cost per row while the queue had room; *ctr (unless NULL): the
 * writer's counters before the close.  Exits on a refused row. */
double  bench_rows_write(struct audit *audit, const struct bench_row *rows,
			 int n, double *submit_us, struct audit_counters *ctr);

#endif
