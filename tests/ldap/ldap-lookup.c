/*
 * ldap-lookup - drive the LDAP directory backend without the milter
 *
 * ldap-lookup -c CONF [-l] [-s] [ADDRESS...]
 *
 * Opens the directory that CONF configures (directory = ldap) and looks
 * each ADDRESS up, printing "RESULT MILLISECONDS ADDRESS" per line
 * (RESULT: found, not-found, error).  Without addresses it reads them
 * from standard input, one per line, answering each at once, so a test
 * can keep one handle open while it stops and restarts the server;
 * the lines "!stats" (print the backend's stats line) and "!sleep MS"
 * (answered "slept MS") are commands.  -l prints the backend's state-change messages on
 * stderr, -s the stats line at the end.  Exit 0, or 2 when the
 * configuration or the directory cannot be opened.
 */
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
	int c, stats = 0, i;

	while ((c = getopt(argc, argv, "c:ls")) != -1) {
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
		default:
			fprintf(stderr, "usage: ldap-lookup -c CONF [-l] [-s] "
				"[ADDRESS...]\n");
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
	if (optind < argc)
		for (i = optind; i < argc; i++)
			lookup_one(dir, argv[i]);
	else
		run_stdin(dir);
	if (stats)
		print_stats(dir);
	dir = directory_close(dir);
	cfg = config_free(cfg);
	return 0;
}
