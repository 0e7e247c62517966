/*
 * audit_spool - rows kept on local disk while the audit store is away
 *
 * An SQLite database in WAL mode with synchronous=FULL: a row appended
 * is on disk when audit_spool_append() returns, and survives a kill -9
 * or a power cut.  Rows come back out oldest first, in the order they
 * went in (an AUTOINCREMENT key), every byte as it was; the caller
 * deletes them only once the store has committed them, so a crash in
 * between sends them again (the store's row key makes that a no-op).
 *
 * Used by the writer thread only.  audit_spool_depth() may be read from
 * any thread.
 */
#ifndef RG_AUDIT_SPOOL_H
#define RG_AUDIT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct audit_qrow;
struct audit_spool;

/* audit_spool_open - open or create the spool at path; NULL + err */
struct audit_spool *audit_spool_open(const char *path, char *err,
				     size_t errlen);

/* audit_spool_append - n rows in one durable transaction; 0 or -1 + err */
int     audit_spool_append(struct audit_spool *sp, struct audit_qrow **rows,
			   size_t n, char *err, size_t errlen);

/* audit_spool_peek - copies of up to max oldest rows into rows (the
 * caller frees each); *last the key of the last one.  Count, or -1 + err */
long    audit_spool_peek(struct audit_spool *sp, struct audit_qrow **rows,
			 size_t max, int64_t *last, char *err, size_t errlen);

/* audit_spool_drop - delete every row up to and including last */
int     audit_spool_drop(struct audit_spool *sp, int64_t last, char *err,
			 size_t errlen);

/* audit_spool_depth - rows waiting (any thread) */
int64_t audit_spool_depth(struct audit_spool *sp);

/* audit_spool_path - where it is, for log lines */
const char *audit_spool_path(const struct audit_spool *sp);

/* audit_spool_close - returns NULL */
struct audit_spool *audit_spool_close(struct audit_spool *sp);

#endif
