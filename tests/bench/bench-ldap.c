/*
 * bench-ldap - lookups per second and latency of the LDAP directory
 *
 * bench-ldap -c CONF -t THREADS -n LOOKUPS [-w] [-r] [-L LABEL] ADDRFILE
 *
 * THREADS threads each make LOOKUPS lookups of the addresses in ADDRFILE
 * (one per line, taken in turn) and the program prints one line: label,
 * lookups per second over the wall time, median and 99th percentile
 * latency, errors.  By default the lookups go through the backend
 * (directory_lookup: pool, filter escaping, cache as CONF sets it); -w
 * first looks every address up once so that the cache is warm.  -r is the
 * baseline: each thread opens its own libldap connection to the first
 * ldap_uri and makes the same synchronous search directly (no pool, no
 * cache), which is the raw round trip to slapd.
 */
#include <ldap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "dir_ldap.h"
#include "ldap_filter.h"

static const struct directory_backend *const backends[] = {
	&dir_ldap_backend, NULL,
};

struct worker {
	pthread_t tid;
	int     id;
	double *lat_us;			/* one per lookup */
	int     errors;
};

static struct directory *dir;
static struct rg_config *cfg;
static char **addrs;
static size_t naddrs;
static int nthreads = 1, nlookups = 1000, raw;

/* now_us - monotonic microseconds */
static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* raw_open - one plain libldap connection, as a Postfix process has */
static LDAP *
raw_open(void)
{
	char uri[512];
	LDAP *ld;
	int version = LDAP_VERSION3;

	rg_strlcpy(uri, cfg->ldap_uri, sizeof(uri));
	uri[strcspn(uri, " ,")] = '\0';
	if (ldap_initialize(&ld, uri) != LDAP_SUCCESS)
		return NULL;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	return ld;
}

/* raw_lookup - the same search the backend makes, on ld */
static int
raw_lookup(LDAP *ld, const char *address)
{
	char filter[LDAP_FILTER_MAX + 1], err[256];
	char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL };
	struct timeval tv = { 5, 0 };
	LDAPMessage *res = NULL;
	int rc, found = -1;

	if (ldap_filter_expand(cfg->ldap_filter, address, filter, sizeof(filter),
			       err, sizeof(err)) < 0)
		return -1;
	rc = ldap_search_ext_s(ld, cfg->ldap_base, LDAP_SCOPE_SUBTREE, filter,
			       attrs, 1, NULL, NULL, &tv, 5, &res);
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
		found = ldap_count_entries(ld, res) > 0;
	if (res != NULL)
		ldap_msgfree(res);
	return found;
}

/* work - one thread's share of the lookups */
static void *
work(void *arg)
{
	struct worker *w = arg;
	LDAP *ld = raw ? raw_open() : NULL;
	double t;
	int i, r;

	for (i = 0; i < nlookups; i++) {
		const char *a = addrs[((size_t)i * (size_t)nthreads + (size_t)w->id) % naddrs];

		t = now_us();
		if (raw)
			r = ld ? raw_lookup(ld, a) : -1;
		else
			r = directory_lookup(dir, a);
		w->lat_us[i] = now_us() - t;
		if (r < 0)
			w->errors++;
	}
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

/* cmp_double - qsort order */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* load_addrs - the address file into addrs */
static void
load_addrs(const char *path)
{
	char line[1024];
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		rg_fatal("%s: cannot open", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		addrs = xrealloc(addrs, (naddrs + 1) * sizeof(*addrs));
		addrs[naddrs++] = xstrdup(line);
	}
	fclose(fp);
	if (naddrs == 0)
		rg_fatal("%s: no addresses", path);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *label = "lookups";
	struct worker *w;
	double start, wall, *all;
	char err[512];
	int c, warm = 0, i, errors = 0;
	size_t n = 0, total;

	while ((c = getopt(argc, argv, "c:t:n:wrL:")) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 't': nthreads = atoi(optarg); break;
		case 'n': nlookups = atoi(optarg); break;
		case 'w': warm = 1; break;
		case 'r': raw = 1; break;
		case 'L': label = optarg; break;
		default:
			fprintf(stderr, "usage: bench-ldap -c CONF -t THREADS -n LOOKUPS "
				"[-w] [-r] [-L LABEL] ADDRFILE\n");
			return 2;
		}
	}
	if (conf == NULL || optind != argc - 1 || nthreads < 1 || nlookups < 1)
		return fprintf(stderr, "bench-ldap: bad arguments\n"), 2;
	signal(SIGPIPE, SIG_IGN);
	load_addrs(argv[optind]);
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL)
		return fprintf(stderr, "bench-ldap: %s\n", err), 2;
	if ((dir = directory_open(cfg, backends, err, sizeof(err))) == NULL)
		return fprintf(stderr, "bench-ldap: %s\n", err), 2;
	if (warm)
		for (n = 0; n < naddrs; n++)
			directory_lookup(dir, addrs[n]);
	w = xcalloc((size_t)nthreads, sizeof(*w));
	start = now_us();
	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].lat_us = xcalloc((size_t)nlookups, sizeof(double));
		pthread_create(&w[i].tid, NULL, work, &w[i]);
	}
	total = (size_t)nthreads * (size_t)nlookups;
	all = xcalloc(total, sizeof(double));
	n = 0;
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		memcpy(all + n, w[i].lat_us, (size_t)nlookups * sizeof(double));
		n += (size_t)nlookups;
		errors += w[i].errors;
		free(w[i].lat_us);
	}
	wall = now_us() - start;
	qsort(all, total, sizeof(double), cmp_double);
	printf("%-36s %d thr %9.0f lookups/s  p50 %8.1f us  p99 %8.1f us  errors %d\n",
	       label, nthreads, (double)total / (wall / 1e6), all[total / 2],
	       all[(total * 99) / 100], errors);
	printf("RESULT %d %.0f %.1f %.1f %d\n", nthreads,
	       (double)total / (wall / 1e6), all[total / 2],
	       all[(total * 99) / 100], errors);
	free(all);
	free(w);
	dir = directory_close(dir);
	cfg = config_free(cfg);
	for (n = 0; n < naddrs; n++)
		free(addrs[n]);
	free(addrs);
	return errors ? 1 : 0;
}
