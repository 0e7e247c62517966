/*
 * milter_glue - libmilter callbacks around the policy engine
 *
 * Registers the callbacks, keeps one struct per SMTP connection in
 * smfi_setpriv (libmilter's worker pool may run one connection's
 * callbacks on different threads) and turns verdicts into SMTP replies;
 * judge.c decides, logs and audits each step.
 */
#ifndef RG_MILTER_GLUE_H
#define RG_MILTER_GLUE_H

#include <stddef.h>

/* milter_glue_register - smfi_register() the filter; 0 ok, -1 failed */
int     milter_glue_register(const char *name);

#endif
