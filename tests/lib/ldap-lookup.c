/*
 * ldap-lookup - drive the LDAP directory backend without the milter
 *
 * ldap-lookup -c CONF [-l] [-s] [-t THREADS -r ROUNDS] [ADDRESS...]
 *
 * Opens the directory that CONF configures (directory = ldap) and looks
 * each ADDRESS up, printing "RESULT MILLISECONDS ADDRESS" per line
 * (RESULT: found, not-found, error).  Without addresses it reads them
 * from standard input, one per line, answering each at once, so a test
 * can keep one handle open while it stops and restarts the server;
 * the lines "!stats" (print the backend's stats line) and "!sleep MS"
 * (answered "slept MS") are commands.  -l prints the backend's state-change messages on
 * stderr, -s the stats line at the end.  With -t, the addresses are
 * first looked up once, then THREADS threads look all of them up ROUNDS
 * times on the same handle and every answer must equal the first one;
 * the program prints "threads: N lookups, M mismatches, E errors".  Exit
 * 0, 1 on a mismatch or error with -t, 2 when the configuration or the
 * directory cannot be opened.
 */
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

static const struct directory_backend *const backends[] = {
	&dir_ldap_backend, NULL,
};

/* now_ms - monotonic milliseconds, as a double */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* print_log - the backend's log hook, on stderr */
static void
print_log(int priority, const char *message)
{
	fprintf(stderr, "log[%d]: %s\n", priority, message);
}

/* lookup_one - look address up and print the answer */
static void
lookup_one(struct directory *dir, const char *address)
{
	double start = now_ms();
	enum dir_result r = directory_lookup(dir, address);

	printf("%s %.0f %s\n", dir_result_name(r), now_ms() - start, address);
	fflush(stdout);
}

/* print_stats - the backend's stats line */
static void
print_stats(struct directory *dir)
{
	char buf[1024];

	dir->backend->stats(dir, buf, sizeof(buf));
	printf("stats %s\n", buf);
	fflush(stdout);
}

struct hammer {
	pthread_t tid;
	struct directory *dir;
	char  **addrs;
	enum dir_result *want;
	int     naddrs;
	int     rounds;
	int     offset;
	long    lookups;
	long    mismatches;
	long    errors;
};

/* hammer_run - one thread's rounds, starting at a different address */
static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	enum dir_result r;
	int round, i, k;

	for (round = 0; round < h->rounds; round++) {
		for (i = 0; i < h->naddrs; i++) {
			k = (i + h->offset) % h->naddrs;
			r = directory_lookup(h->dir, h->addrs[k]);
			h->lookups++;
			if (r == DIR_ERROR)
				h->errors++;
			else if (r != h->want[k])
				h->mismatches++;
		}
	}
	return NULL;
}

/* run_threads - concurrent lookups on one handle must agree */
static int
run_threads(struct directory *dir, char **addrs, int naddrs, int nthreads,
	    int rounds)
{
	struct hammer *h = xcalloc((size_t)nthreads, sizeof(*h));
	enum dir_result *want = xcalloc((size_t)naddrs, sizeof(*want));
	long lookups = 0, mismatches = 0, errors = 0;
	int i;

	for (i = 0; i < naddrs; i++)
		want[i] = directory_lookup(dir, addrs[i]);
	for (i = 0; i < nthreads; i++) {
		h[i].dir = dir;
		h[i].addrs = addrs;
		h[i].want = want;
		h[i].naddrs = naddrs;
		h[i].rounds = rounds;
		h[i].offset = i;
		pthread_create(&h[i].tid, NULL, hammer_run, &h[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(h[i].tid, NULL);
		lookups += h[i].lookups;
		mismatches += h[i].mismatches;
		errors += h[i].errors;
	}
	printf("threads: %ld lookups, %ld mismatches, %ld errors\n", lookups,
	       mismatches, errors);
	free(h);
	free(want);
	return mismatches || errors ? 1 : 0;
}

/* run_stdin - one address or command per line */
static void
run_stdin(struct directory *dir)
{
	char line[2048];
	size_t len;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (strcmp(line, "!stats") == 0)
			print_stats(dir);
		else if (strncmp(line, "!sleep ", 7) == 0) {
			usleep((useconds_t)atoi(line + 7) * 1000);
			printf("slept %d\n", atoi(line + 7));
			fflush(stdout);
		}
		else if (len > 0)
			lookup_one(dir, line);
	}
}

int
main(int argc, char **argv)
{
	struct rg_config *cfg;
	struct directory *dir;
	const char *conf = NULL;
	char err[512];
	int c, stats = 0, i, nthreads = 0, rounds = 1, status = 0;

	while ((c = getopt(argc, argv, "c:lst:r:")) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'l':
			dir_ldap_set_logger(print_log);
			break;
		case 's':
			stats = 1;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: ldap-lookup -c CONF [-l] [-s] "
				"[-t THREADS -r ROUNDS] [ADDRESS...]\n");
			return 2;
		}
	}
	if (conf == NULL) {
		fprintf(stderr, "ldap-lookup: -c CONF is required\n");
		return 2;
	}
	/* A server that goes away mid-write must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ldap-lookup: %s\n", err);
		return 2;
	}
	if ((dir = directory_open(cfg, backends, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ldap-lookup: %s\n", err);
		cfg = config_free(cfg);
		return 2;
	}
	if (nthreads > 0 && optind < argc)
		status = run_threads(dir, argv + optind, argc - optind,
				     nthreads, rounds);
	else if (optind < argc)
		for (i = optind; i < argc; i++)
			lookup_one(dir, argv[i]);
	else
		run_stdin(dir);
	if (stats)
		print_stats(dir);
	dir = directory_close(dir);
	cfg = config_free(cfg);
	return status;
}
