/*
 * milter_glue - libmilter callbacks around the policy engine
 *
 * Registers the callbacks, keeps one struct per SMTP connection in
 * smfi_setpriv (libmilter's worker pool may run one connection's
 * callbacks on different threads), turns verdicts into SMTP replies, and
 * logs and audits every verdict.  Connections keep the runtime they
 * started with until they close.
 */
#ifndef RG_MILTER_GLUE_H
#define RG_MILTER_GLUE_H

#include <stddef.h>

struct audit;

/* milter_glue_register - smfi_register() the filter; 0 ok, -1 failed */
int     milter_glue_register(const char *name);

/* milter_glue_set_audit - the audit handle verdicts go to (NULL: none) */
void    milter_glue_set_audit(struct audit *audit);

/* milter_glue_take_audit - detach the audit handle for closing; once it
 * returns, no callback uses the handle any more */
struct audit *milter_glue_take_audit(void);

/* milter_glue_live - connections currently open */
unsigned milter_glue_live(void);

/* milter_glue_stats - the stats line: counters per action, directory and
 * audit statistics */
void    milter_glue_stats(char *buf, size_t size);

#endif
