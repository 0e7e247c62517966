/*
 * dir_ldap - recipients in OpenLDAP or Active Directory
 *
 * A lookup is one search: base ldap_base, scope ldap_scope, filter built
 * from ldap_filter (ldap_filter.c, every value escaped), no attributes
 * ("1.1"), size limit 1.  At least one entry means found; a size-limit
 * exceeded answer also means found.  Anything else that is not a clean
 * "no entries" is DIR_ERROR, never DIR_NOTFOUND, and is never cached.
 *
 * Threads: libmilter's worker pool calls lookup() from many threads, and
 * an LDAP handle must not be used by two searches at once, so the backend
 * keeps a pool of ldap_pool_size connections, checked out for one lookup
 * under a mutex and condition variable.  A connection is opened lazily
 * (failover: the URIs are tried in order), kept while it works, and
 * dropped on a connection error or a timeout.  A lookup whose idle
 * connection turns out to be dead (the server restarted) reconnects and
 * searches once more.  When connecting fails (or a search times out) the
 * whole pool backs off: for 1 s, then 2 s while the directory stays
 * unreachable, lookups that would need a new connection fail at once and
 * only one lookup per period tries to connect.  A dead server is not
 * hammered, worker threads are not stuck behind it, and service comes
 * back within about 2 s when the directory does, without a restart.
 *
 * Answers (found and not found) go through a shared cache (cache.c) keyed
 * by the lower-cased address.  A cached answer is served until its TTL
 * runs out even while the directory is down.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "cache.h"
#include "ldap_filter.h"
#include "dir_ldap.h"

#define LDAP_MAX_URIS		16
#define LDAP_MAX_POOL		256
#define LDAP_PASSWORD_MAX	1024
#define LDAP_ADDRESS_MAX	1024
#define BACKOFF_FIRST_MS	1000
#define BACKOFF_MAX_MS		2000

struct ldap_slot {
	LDAP   *ld;			/* NULL: not connected */
	int     busy;			/* checked out by a lookup */
	size_t  uri_index;		/* which URI ld talks to */
};

enum ldap_state { STATE_UNKNOWN, STATE_UP, STATE_DOWN };

struct dir_ldap {
	struct directory hdr;
	char   *uris[LDAP_MAX_URIS];
	size_t  nuris;
	char   *base;
	int     scope;
	char   *filter;
	char   *bind_dn;
	struct berval password;
	int     starttls;
	unsigned timeout_ms;
	unsigned network_timeout_ms;
	struct rg_cache *cache;

	pthread_mutex_t lock;		/* guards everything below */
	pthread_cond_t released;	/* a slot was checked in */
	struct ldap_slot *slots;
	size_t  nslots;
	enum ldap_state state;
	unsigned failures;		/* consecutive connect failures/timeouts */
	uint64_t retry_after_ms;	/* no new connection before this */
	char    last_error[256];
	uint64_t lookups;
	uint64_t found;
	uint64_t notfound;
	uint64_t errors;
	uint64_t connects;
	uint64_t connect_failures;
	uint64_t retries;
	uint64_t timeouts;
	uint64_t backoff_fails;		/* failed fast: slot in backoff */
	uint64_t pool_waits;		/* had to wait for a free slot */
	uint64_t pool_timeouts;
};

/* What happened during one lookup, added to the counters at check-in. */
struct lookup_trace {
	unsigned connects;
	unsigned connect_failures;
	unsigned retries;
	unsigned timeouts;
	unsigned backoff_fails;
};

static dir_ldap_log_fn ldap_logger;

/* dir_ldap_set_logger - where state changes are reported */
void
dir_ldap_set_logger(dir_ldap_log_fn fn)
{
	ldap_logger = fn;
}

/* ms_timeval - milliseconds as a struct timeval */
static struct timeval
ms_timeval(unsigned ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* split_uris - the ldap_uri list into dl->uris; 0 or -1 + err */
static int
split_uris(struct dir_ldap *dl, const char *list, char *err, size_t errlen)
{
	const char *p = list, *end;
	char *uri;

	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end && *end != ' ' && *end != ',' && *end != '\t'; end++)
			;
		uri = xstrndup(p, (size_t)(end - p));
		p = end;
		if (!ldap_is_ldap_url(uri) && !ldap_is_ldaps_url(uri)
		    && !ldap_is_ldapi_url(uri)) {
			rg_snprintf(err, errlen, "ldap_uri: \"%.200s\" is not an "
				    "ldap://, ldaps:// or ldapi:// URI", uri);
			free(uri);
			return -1;
		}
		if (dl->nuris >= LDAP_MAX_URIS) {
			rg_snprintf(err, errlen, "ldap_uri: more than %d URIs",
				    LDAP_MAX_URIS);
			free(uri);
			return -1;
		}
		dl->uris[dl->nuris++] = uri;
	}
	if (dl->nuris == 0) {
		rg_snprintf(err, errlen, "directory = ldap needs ldap_uri");
		return -1;
	}
	return 0;
}

/* read_password - the bind password from a file only we can read */
static int
read_password(struct dir_ldap *dl, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char buf[LDAP_PASSWORD_MAX + 2];
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOCTTY);
	if (fd < 0) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s: not a "
			    "regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s is readable "
			    "by others (mode %04o): chmod 600", path,
			    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s is writable "
			    "by others (mode %04o): chmod 600", path,
			    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rg_snprintf(err, errlen, "ldap_bind_password_file %s: %s",
				    path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len > LDAP_PASSWORD_MAX) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s: longer than "
			    "%d bytes", path, LDAP_PASSWORD_MAX);
		goto fail;
	}
	if (len == 0) {
		rg_snprintf(err, errlen, "ldap_bind_password_file %s is empty "
			    "(an empty password would bind anonymously)", path);
		goto fail;
	}
	dl->password.bv_val = xstrndup(buf, len);
	dl->password.bv_len = len;
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return 0;

fail:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return -1;
}

/* ldap_close - drop every connection and free the handle */
static void
ldap_close(struct directory *dir)
{
	struct dir_ldap *dl = (struct dir_ldap *)dir;
	size_t i;

	if (dl == NULL)
		return;
	for (i = 0; dl->slots != NULL && i < dl->nslots; i++)
		if (dl->slots[i].ld != NULL)
			ldap_unbind_ext_s(dl->slots[i].ld, NULL, NULL);
	free(dl->slots);
	for (i = 0; i < dl->nuris; i++)
		free(dl->uris[i]);
	free(dl->base);
	free(dl->filter);
	free(dl->bind_dn);
	if (dl->password.bv_val != NULL) {
		explicit_bzero(dl->password.bv_val, dl->password.bv_len);
		free(dl->password.bv_val);
	}
	dl->cache = cache_free(dl->cache);
	pthread_cond_destroy(&dl->released);
	pthread_mutex_destroy(&dl->lock);
	free(dl);
}

/* ldap_open - validate the ldap_* settings; connections are made lazily */
static struct directory *
ldap_open(const char *spec, const struct rg_config *cfg, char *err,
	  size_t errlen)
{
	struct dir_ldap *dl;
	pthread_condattr_t cattr;
	int version;
	size_t i;
	char why[256];

	if (spec != NULL && spec[0] != '\0') {
		rg_snprintf(err, errlen, "directory = ldap takes no argument "
			    "(\"ldap:%.100s\"): use the ldap_* settings", spec);
		return NULL;
	}
	dl = xcalloc(1, sizeof(*dl));
	pthread_mutex_init(&dl->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&dl->released, &cattr);
	pthread_condattr_destroy(&cattr);

	if (split_uris(dl, cfg->ldap_uri ? cfg->ldap_uri : "", err, errlen) < 0)
		goto fail;
	if (cfg->ldap_base == NULL || cfg->ldap_base[0] == '\0') {
		rg_snprintf(err, errlen, "directory = ldap needs ldap_base");
		goto fail;
	}
	if (ldap_filter_check(cfg->ldap_filter, why, sizeof(why)) < 0) {
		rg_snprintf(err, errlen, "ldap_filter: %s", why);
		goto fail;
	}
	if ((cfg->ldap_bind_dn && cfg->ldap_bind_dn[0])
	    != (cfg->ldap_bind_password_file && cfg->ldap_bind_password_file[0])) {
		rg_snprintf(err, errlen, "ldap_bind_dn and ldap_bind_password_file "
			    "go together: set both or neither");
		goto fail;
	}
	if (cfg->ldap_bind_dn && cfg->ldap_bind_dn[0]) {
		dl->bind_dn = xstrdup(cfg->ldap_bind_dn);
		if (read_password(dl, cfg->ldap_bind_password_file, err, errlen) < 0)
			goto fail;
	}
	dl->starttls = cfg->ldap_starttls;
	for (i = 0; dl->starttls && i < dl->nuris; i++) {
		if (ldap_is_ldaps_url(dl->uris[i])) {
			rg_snprintf(err, errlen, "ldap_starttls = yes with %s: an "
				    "ldaps:// connection is already encrypted",
				    dl->uris[i]);
			goto fail;
		}
	}
	dl->base = xstrdup(cfg->ldap_base);
	dl->filter = xstrdup(cfg->ldap_filter);
	dl->scope = cfg->ldap_scope == RG_LDAP_SCOPE_BASE ? LDAP_SCOPE_BASE :
	    cfg->ldap_scope == RG_LDAP_SCOPE_ONE ? LDAP_SCOPE_ONELEVEL :
	    LDAP_SCOPE_SUBTREE;
	dl->timeout_ms = cfg->ldap_timeout_ms ? cfg->ldap_timeout_ms : 5000;
	dl->network_timeout_ms = cfg->ldap_network_timeout_ms ?
	    cfg->ldap_network_timeout_ms : 3000;
	dl->nslots = cfg->ldap_pool_size ? cfg->ldap_pool_size : 1;
	if (dl->nslots > LDAP_MAX_POOL)
		dl->nslots = LDAP_MAX_POOL;
	dl->slots = xcalloc(dl->nslots, sizeof(*dl->slots));
	if (cfg->cache_size > 0)
		dl->cache = cache_create(cfg->cache_size, cfg->cache_positive_ttl,
					 cfg->cache_negative_ttl);
	/* Initialize libldap's global state here, in one thread, before
	 * worker threads race to do it in ldap_initialize(). */
	ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
	dl->state = STATE_UNKNOWN;
	return &dl->hdr;

fail:
	ldap_close(&dl->hdr);
	return NULL;
}

/* ldap_error_text - "URI: reason (server's diagnostic)" into buf */
static void
ldap_error_text(LDAP *ld, const char *uri, const char *what, int rc,
		char *buf, size_t size)
{
	char *diag = NULL;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	if (diag != NULL && diag[0] != '\0')
		rg_snprintf(buf, size, "%s: %s: %s (%.120s)", uri, what,
			    ldap_err2string(rc), diag);
	else
		rg_snprintf(buf, size, "%s: %s: %s", uri, what,
			    ldap_err2string(rc));
	if (diag != NULL)
		ldap_memfree(diag);
}

/* connect_one - open, secure and bind one connection to uri */
static LDAP *
connect_one(struct dir_ldap *dl, const char *uri, char *err, size_t errlen)
{
	struct timeval network_tv = ms_timeval(dl->network_timeout_ms);
	struct timeval op_tv = ms_timeval(dl->timeout_ms);
	int version = LDAP_VERSION3;
	int keepalive_idle = 60, keepalive_probes = 3, keepalive_interval = 10;
	const char *what;
	LDAP *ld = NULL;
	int rc;

	what = "initialize";
	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS)
		goto fail;
	what = "set options";
	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)) != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network_tv)) != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op_tv)) != LDAP_OPT_SUCCESS)
		goto fail;
	/* TCP keepalives keep idle pooled connections alive through NAT and
	 * firewalls (which otherwise drop them silently, making the next
	 * search wait for ldap_timeout); best effort. */
	(void)ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &keepalive_idle);
	(void)ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &keepalive_probes);
	(void)ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &keepalive_interval);
	what = "connect";
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS)
		goto fail;
	if (dl->starttls) {
		what = "StartTLS";
		if ((rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS)
			goto fail;
	}
	if (dl->bind_dn != NULL) {
		what = "bind";
		rc = ldap_sasl_bind_s(ld, dl->bind_dn, LDAP_SASL_SIMPLE,
				      &dl->password, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS)
			goto fail;
	}
	return ld;

fail:
	ldap_error_text(ld, uri, what, rc, err, errlen);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

/* slot_connect - connect slot to the first URI that answers */
static int
slot_connect(struct dir_ldap *dl, struct ldap_slot *slot, char *err,
	     size_t errlen)
{
	size_t i;

	for (i = 0; i < dl->nuris; i++) {
		slot->ld = connect_one(dl, dl->uris[i], err, errlen);
		if (slot->ld != NULL) {
			slot->uri_index = i;
			return 0;
		}
	}
	return -1;
}

/* slot_drop - forget a connection that failed */
static void
slot_drop(struct ldap_slot *slot)
{
	if (slot->ld != NULL)
		ldap_unbind_ext_s(slot->ld, NULL, NULL);
	slot->ld = NULL;
}

/* backoff_delay - how long the pool waits after its Nth failure */
static uint64_t
backoff_delay(unsigned failures)
{
	return failures <= 1 ? BACKOFF_FIRST_MS : BACKOFF_MAX_MS;
}

/* connection_lost - does rc mean the connection is no longer usable? */
static int
connection_lost(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_LOCAL_ERROR:
	case LDAP_ENCODING_ERROR:
	case LDAP_DECODING_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_OTHER:
		return 1;
	default:
		return 0;
	}
}

/* slot_search - one search; rc from libldap, *found on success */
static int
slot_search(struct dir_ldap *dl, struct ldap_slot *slot, const char *filter,
	    int *found)
{
	char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL };
	struct timeval tv = ms_timeval(dl->timeout_ms);
	LDAPMessage *res = NULL;
	int rc;

	rc = ldap_search_ext_s(slot->ld, dl->base, dl->scope, filter, attrs, 1,
			       NULL, NULL, &tv, (int)((dl->timeout_ms + 999) / 1000),
			       &res);
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
		*found = rc == LDAP_SIZELIMIT_EXCEEDED
		    || (res != NULL && ldap_count_entries(slot->ld, res) > 0);
	if (res != NULL)
		ldap_msgfree(res);
	return rc;
}

/* checkout - a free slot, preferring connected ones; NULL after timeout.
 * *may_connect says whether this lookup may open a new connection: not
 * while the pool backs off, and only one lookup per backoff period */
static struct ldap_slot *
checkout(struct dir_ldap *dl, uint64_t start, int *may_connect,
	 unsigned *wait_ms)
{
	struct ldap_slot *best = NULL;
	uint64_t deadline = start + dl->timeout_ms, now;
	struct timespec ts;
	int waited = 0;
	size_t i;

	pthread_mutex_lock(&dl->lock);
	for (;;) {
		now = (uint64_t) rg_mono_ms();
		for (i = 0; i < dl->nslots; i++) {
			if (dl->slots[i].busy)
				continue;
			if (best == NULL || dl->slots[i].ld != NULL)
				best = &dl->slots[i];
			if (best->ld != NULL)
				break;
		}
		if (best != NULL || now >= deadline)
			break;
		waited = 1;
		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000;
		pthread_cond_timedwait(&dl->released, &dl->lock, &ts);
	}
	*may_connect = 1;
	*wait_ms = 0;
	if (best != NULL) {
		best->busy = 1;
		if (best->ld == NULL && dl->failures > 0) {
			if (now < dl->retry_after_ms) {
				*may_connect = 0;
				*wait_ms = (unsigned)(dl->retry_after_ms - now);
			} else {
				/* this lookup probes; the others keep failing fast */
				dl->retry_after_ms = now + backoff_delay(dl->failures);
			}
		}
	}
	dl->pool_waits += waited;
	if (best == NULL)
		dl->pool_timeouts++;
	pthread_mutex_unlock(&dl->lock);
	return best;
}

/* slot_lookup - search on slot, reconnecting as needed; found/not/error */
static enum dir_result
slot_lookup(struct dir_ldap *dl, struct ldap_slot *slot, const char *filter,
	    int may_connect, unsigned wait_ms, char *err, size_t errlen,
	    struct lookup_trace *trace)
{
	int attempt, fresh, rc, found = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		fresh = 0;
		if (slot->ld == NULL) {
			if (!may_connect) {
				trace->backoff_fails++;
				rg_snprintf(err, errlen, "directory unreachable, next "
					    "attempt in %u ms", wait_ms);
				return DIR_ERROR;
			}
			trace->connects++;
			if (slot_connect(dl, slot, err, errlen) < 0) {
				trace->connect_failures++;
				return DIR_ERROR;
			}
			fresh = 1;
		}
		rc = slot_search(dl, slot, filter, &found);
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
			return found ? DIR_FOUND : DIR_NOTFOUND;
		ldap_error_text(slot->ld, dl->uris[slot->uri_index], "search", rc,
				err, errlen);
		if (!connection_lost(rc))
			return DIR_ERROR;
		slot_drop(slot);
		if (rc == LDAP_TIMEOUT) {
			/* too slow: do not make this lookup wait twice */
			trace->timeouts++;
			return DIR_ERROR;
		}
		if (fresh) {
			trace->connect_failures++;
			return DIR_ERROR;
		}
		/* an idle connection died (server restarted): once more */
		trace->retries++;
	}
	return DIR_ERROR;
}

/* checkin - return the slot, account for the lookup, note state changes;
 * slot is NULL when the lookup failed before reaching the directory */
static void
checkin(struct dir_ldap *dl, struct ldap_slot *slot, enum dir_result result,
	const char *err, const struct lookup_trace *trace)
{
	char message[400];
	enum ldap_state old;

	message[0] = '\0';
	pthread_mutex_lock(&dl->lock);
	if (slot != NULL) {
		slot->busy = 0;
		pthread_cond_signal(&dl->released);
	}
	dl->connects += trace->connects;
	dl->connect_failures += trace->connect_failures;
	dl->retries += trace->retries;
	dl->timeouts += trace->timeouts;
	dl->backoff_fails += trace->backoff_fails;
	if (trace->connect_failures > 0 || trace->timeouts > 0) {
		dl->failures++;
		dl->retry_after_ms = (uint64_t) rg_mono_ms()
		    + backoff_delay(dl->failures);
	} else if (slot != NULL && result != DIR_ERROR) {
		dl->failures = 0;
		dl->retry_after_ms = 0;
	}
	if (result == DIR_FOUND)
		dl->found++;
	else if (result == DIR_NOTFOUND)
		dl->notfound++;
	else {
		dl->errors++;
		rg_strlcpy(dl->last_error, err, sizeof(dl->last_error));
	}
	old = dl->state;
	if (slot != NULL && result == DIR_ERROR && trace->backoff_fails == 0) {
		dl->state = STATE_DOWN;
		if (old != STATE_DOWN)
			rg_snprintf(message, sizeof(message), "ldap: directory "
				    "unavailable, lookups fail temporarily: %s", err);
	} else if (slot != NULL && result != DIR_ERROR) {
		dl->state = STATE_UP;
		if (old == STATE_DOWN)
			rg_snprintf(message, sizeof(message), "ldap: directory "
				    "available again via %s",
				    dl->uris[slot->uri_index]);
	}
	pthread_mutex_unlock(&dl->lock);
	if (message[0] != '\0' && ldap_logger != NULL)
		ldap_logger(result == DIR_ERROR ? LOG_ERR : LOG_NOTICE, message);
}

/* ldap_lookup - does address exist in the directory? */
static enum dir_result
ldap_lookup(struct directory *dir, const char *address)
{
	struct dir_ldap *dl = (struct dir_ldap *)dir;
	char filter[LDAP_FILTER_MAX + 1], err[300];
	struct lookup_trace trace;
	struct ldap_slot *slot;
	enum dir_result result;
	uint64_t start = (uint64_t) rg_mono_ms();
	unsigned wait_ms;
	int found, may_connect;

	memset(&trace, 0, sizeof(trace));
	pthread_mutex_lock(&dl->lock);
	dl->lookups++;
	pthread_mutex_unlock(&dl->lock);
	if (address == NULL || strlen(address) > LDAP_ADDRESS_MAX) {
		rg_snprintf(err, sizeof(err), "address longer than %d bytes",
			    LDAP_ADDRESS_MAX);
		checkin(dl, NULL, DIR_ERROR, err, &trace);
		return DIR_ERROR;
	}
	if (cache_get(dl->cache, address, start, &found))
		return found ? DIR_FOUND : DIR_NOTFOUND;
	if (ldap_filter_expand(dl->filter, address, filter, sizeof(filter),
			       err, sizeof(err)) < 0) {
		checkin(dl, NULL, DIR_ERROR, err, &trace);
		return DIR_ERROR;
	}
	slot = checkout(dl, start, &may_connect, &wait_ms);
	if (slot == NULL) {
		rg_snprintf(err, sizeof(err), "all %zu LDAP connections busy for "
			    "%u ms", dl->nslots, dl->timeout_ms);
		checkin(dl, NULL, DIR_ERROR, err, &trace);
		return DIR_ERROR;
	}
	err[0] = '\0';
	result = slot_lookup(dl, slot, filter, may_connect, wait_ms, err,
			     sizeof(err), &trace);
	checkin(dl, slot, result, err, &trace);
	if (result != DIR_ERROR)
		cache_put(dl->cache, address, result == DIR_FOUND,
			  (uint64_t) rg_mono_ms());
	return result;
}

/* ldap_stats - one line of counters for the daemon's logs */
static void
ldap_stats(struct directory *dir, char *buf, size_t size)
{
	struct dir_ldap *dl = (struct dir_ldap *)dir;
	struct cache_stats cs;
	size_t i, connected = 0;
	const char *state;

	cache_get_stats(dl->cache, &cs);
	pthread_mutex_lock(&dl->lock);
	for (i = 0; i < dl->nslots; i++)
		connected += dl->slots[i].ld != NULL;
	state = dl->state == STATE_UP ? "up" : dl->state == STATE_DOWN ?
	    "down" : "unknown";
	if (rg_snprintf(buf, size, "ldap state=%s lookups=%llu found=%llu "
			"not_found=%llu errors=%llu cache_hits=%llu "
			"cache_misses=%llu cache_evictions=%llu cache_expired=%llu "
			"cache_entries=%zu/%zu connects=%llu "
			"connect_failures=%llu retries=%llu timeouts=%llu "
			"backoff_fails=%llu pool=%zu/%zu pool_waits=%llu "
			"pool_timeouts=%llu last_error=\"%s\"", state,
			(unsigned long long)dl->lookups,
			(unsigned long long)dl->found,
			(unsigned long long)dl->notfound,
			(unsigned long long)dl->errors,
			(unsigned long long)cs.hits,
			(unsigned long long)cs.misses,
			(unsigned long long)cs.evictions,
			(unsigned long long)cs.expirations,
			cs.entries, cs.capacity,
			(unsigned long long)dl->connects,
			(unsigned long long)dl->connect_failures,
			(unsigned long long)dl->retries,
			(unsigned long long)dl->timeouts,
			(unsigned long long)dl->backoff_fails,
			connected, dl->nslots,
			(unsigned long long)dl->pool_waits,
			(unsigned long long)dl->pool_timeouts,
			dl->last_error) < 0 && size > 0)
		buf[size - 1] = '\0';
	pthread_mutex_unlock(&dl->lock);
}

/* ldap_counters - the figures behind ldap_stats(), for metrics */
static void
ldap_counters(struct directory *dir, struct directory_counters *out)
{
	struct dir_ldap *dl = (struct dir_ldap *)dir;
	struct cache_stats cs;

	if (dl->cache != NULL) {
		cache_get_stats(dl->cache, &cs);
		out->has_cache = 1;
		out->cache_hits = cs.hits;
		out->cache_misses = cs.misses;
	}
	out->has_server = 1;
	pthread_mutex_lock(&dl->lock);
	out->up = dl->state == STATE_UP ? 1 : dl->state == STATE_DOWN ? 0 : -1;
	out->errors = dl->errors;
	out->connects = dl->connects;
	out->connect_failures = dl->connect_failures;
	out->retries = dl->retries;
	out->timeouts = dl->timeouts;
	pthread_mutex_unlock(&dl->lock);
}

const struct directory_backend dir_ldap_backend = {
	.name = "ldap",
	.open = ldap_open,
	.lookup = ldap_lookup,
	.stats = ldap_stats,
	.close = ldap_close,
	.counters = ldap_counters,
	.may_block = 1,			/* a cache miss waits on the server */
};
