/*
 * dir_ldap - the LDAP directory backend ("directory = ldap")
 *
 * Programs that want LDAP list &dir_ldap_backend among the backends they
 * pass to directory_open() and link librgadapt.a and libldap.  The
 * backend is configured by the ldap_* and cache_* keys of struct
 * rg_config; see docs/ldap.md.
 *
 * The backend does not log by itself (the daemon may log to syslog or to
 * stderr): it reports the directory going down and coming back through
 * an optional hook, once per change of state, and everything else
 * through the backend's stats() line.
 */
#ifndef RG_DIR_LDAP_H
#define RG_DIR_LDAP_H

#include "directory.h"

extern const struct directory_backend dir_ldap_backend;

/* A log hook: priority is a syslog priority (LOG_ERR, LOG_NOTICE). */
typedef void (*dir_ldap_log_fn) (int priority, const char *message);

/* dir_ldap_set_logger - install the hook (NULL = silent); call it before
 * opening a directory, it is not synchronized with lookups */
void    dir_ldap_set_logger(dir_ldap_log_fn fn);

#endif
