/*
 * relayguard - the milter daemon
 *
 * SYNOPSIS
 *	relayguard [-c FILE] [-f] [-s] [-n] [-V]
 *
 * DESCRIPTION
 *	Loads relayguard.conf, opens the recipient directory and the audit
 *	trail, binds the milter socket, drops root, and serves Postfix and
 *	Sendmail through libmilter (callbacks in milter_glue.c).  See
 *	docs/relayguard.8.
 *
 * Start-up order matters: the configuration is parsed once, first (so
 * -n, the daemon and relayguard-check judge the same text); the socket is
 * bound while still root (it may live in a root-owned directory or use a
 * low port), then privileges are dropped, and only then are the directory
 * and the audit database opened, so that start-up and every later SIGHUP
 * reload open the same files as the same user.  The configuration parsed
 * at start becomes the first runtime's; the daemon keeps that runtime to
 * compare the restart-only keys of every reload against it.  Errors before the daemon is ready go to stderr (the
 * parent of a daemonising start waits for the child's verdict and exits
 * with it) and exit 1.
 *
 * Signals: every signal is blocked before any thread exists, smfi_main()
 * runs in a thread of its own, and the main thread waits in
 * sigwaitinfo(): SIGHUP reloads, SIGUSR1 logs statistics, SIGTERM/SIGINT
 * stop.  libmilter's own signal thread, which would stop the milter on
 * SIGHUP, is kept out of the way by milter_signals.c.  The main thread
 * hands reloads and stats to a control thread and goes straight back to
 * waiting.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "util.h"
#include "audit.h"
#include "accountlimit.h"
#include "alert_sink.h"
#include "clienttrack.h"
#include "config.h"
#include "directory.h"
#include "dir_ldap.h"
#include "judge.h"
#include "metrics.h"
#include "metrics_http.h"
#include "milter_glue.h"
#include "milter_text.h"
#include "policy_server.h"
#include "filemode.h"
#include "rglog.h"
#include "runtime.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define DEFAULT_CONFIG	SYSCONFDIR "/relayguard/relayguard.conf"
#define STOP_GRACE_SEC	2
#define TRACKER_STRIPES	64		/* locks: a few per worker thread */

/* The directory backends this program links.  Add new ones here. */
static const struct directory_backend *const backends[] = {
	&dir_file_backend,
	&dir_ldap_backend,
	NULL,
};

/* Command line. */
static const char *config_path = DEFAULT_CONFIG;
static char config_abspath[PATH_MAX];
static int opt_foreground, opt_stderr, opt_check;

/* Settings fixed at start (socket, pidfile, user, audit). */
static struct rg_config *start_cfg;	/* loaded once; from start_services()
					 * on, start_rt's */
static struct rg_runtime *start_rt;	/* the first runtime, held to the end */
static enum mt_socket_kind socket_kind;
static char socket_path[128];
static int pidfile_written;
static struct clienttrack *tracker;	/* survives reloads, not restarts */
static struct accountlimit *accounts;	/* the same */

/* Control thread: work handed over by the signal loop. */
static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t control_cond = PTHREAD_COND_INITIALIZER;
static int control_reload, control_stats, control_quit;

/* The smfi_main() thread. */
static pthread_t main_thread;
static int smfi_finished;
static int smfi_status;

/* usage - the help: on stdout with exit 0 when asked for (--help), on
 * stderr with exit 2 after a usage error */
static void __attribute__((noreturn))
usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out, "usage: relayguard [-c FILE] [-f] [-s] [-n]\n"
		"       relayguard -V | --version | -h | --help\n"
		"  -c FILE        configuration (default %s)\n"
		"  -f             stay in the foreground\n"
		"  -s             log to stderr instead of syslog\n"
		"  -n             check the configuration and the directory, then exit\n"
		"  -V, --version  print the version and exit\n"
		"  -h, --help     print this help and exit\n", DEFAULT_CONFIG);
	exit(status);
}

/* startup_fail - report a start-up error on stderr and in the log */
static void __attribute__((noreturn, format(printf, 1, 2)))
startup_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "relayguard: %s\n", msg);
	if (!opt_stderr && !opt_check)
		rglog(LOG_ERR, "fatal: %s", msg);
	exit(1);
}

/* parse_args - the options; sets the globals */
static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:fsnVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			opt_foreground = 1;
			break;
		case 's':
			opt_stderr = 1;
			break;
		case 'n':
			opt_check = 1;
			break;
		case 'V':
			printf("relayguard %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	/* A daemon reloads after chdir("/"): remember where the file is. */
	if (realpath(config_path, config_abspath) != NULL)
		config_path = config_abspath;
}

/* audit_enabled - does this configuration ask for an audit trail? */
static int
audit_enabled(const struct rg_config *cfg)
{
	return cfg->audit_db != NULL && cfg->audit_db[0] != '\0'
		&& strcmp(cfg->audit_db, "none") != 0;
}

/* audit_local_file - the audit file on this host: the SQLite database,
 * or PostgreSQL's spool (none under audit_failure = continue) */
static const char *
audit_local_file(const struct rg_config *cfg)
{
	if (!config_audit_is_pgsql(cfg->audit_db))
		return cfg->audit_db;
	return cfg->audit_failure == RG_AUDITFAIL_CONTINUE ? NULL :
		cfg->audit_spool;
}

/* check_only - -n: configuration, socket, user, directory and audit
 * database permissions, then exit */
static void __attribute__((noreturn))
check_only(void)
{
	struct directory *dir;
	struct passwd *pw;
	char err[1024];

	if (start_cfg->user != NULL && start_cfg->user[0] != '\0'
	    && getpwnam(start_cfg->user) == NULL)
		startup_fail("%s: user %s: no such user", config_path,
			     start_cfg->user);
	if ((dir = directory_open(start_cfg, backends, err, sizeof(err))) == NULL)
		startup_fail("%s", err);
	dir = directory_close(dir);
	if (audit_enabled(start_cfg) && audit_local_file(start_cfg) != NULL) {
		const char *file = audit_local_file(start_cfg);

		if (filemode_audit_db_safe(file, err, sizeof(err)) < 0)
			startup_fail("%s", err);
		/* Access is only known as the daemon's user. */
		pw = NULL;
		if (start_cfg->user != NULL && start_cfg->user[0] != '\0')
			pw = getpwnam(start_cfg->user);
		if ((pw == NULL || pw->pw_uid == getuid())
		    && filemode_audit_db_usable(file, err, sizeof(err)) < 0)
			fprintf(stderr, "relayguard: warning: %s\n", err);
	}
	printf("relayguard: configuration %s OK\n", config_path);
	start_cfg = config_free(start_cfg);
	exit(0);
}

/* prepare_unix_socket - remove a stale socket, refuse a live one */
static void
prepare_unix_socket(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		startup_fail("socket %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		startup_fail("socket %s: exists and is not a socket", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	rg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		startup_fail("socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		startup_fail("socket %s: another process is listening on it "
			     "(is relayguard already running?)", path);
	if (unlink(path) < 0)
		startup_fail("socket %s: cannot remove the stale socket: %s",
			     path, strerror(errno));
	rglog(LOG_INFO, "removed stale socket %s", path);
}

/*
 * chown_socket - give the socket to the user without following a link.
 * The socket's directory may be writable by that user (it removes the
 * socket at stop), who could swap the socket for a symlink or a hard
 * link to any file between bind and chown and have root give it away.
 * So the path is opened without following a symlink (O_PATH), the inode
 * checked -- a socket, ours, one link -- and that very inode changed.
 */
static void
chown_socket(const char *path, const struct passwd *pw)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		startup_fail("socket %s: cannot open it to change its owner: %s",
			     path, strerror(errno));
	if (fstat(fd, &st) < 0)
		startup_fail("socket %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1)
		startup_fail("socket %s: replaced by %s between bind and chown "
			     "(is its directory writable by someone else?): "
			     "refusing to change its owner", path,
			     S_ISLNK(st.st_mode) ? "a symbolic link" :
			     !S_ISSOCK(st.st_mode) ? "another file" :
			     "a socket that is not ours");
	if (fchownat(fd, "", pw->pw_uid, pw->pw_gid, AT_EMPTY_PATH) < 0)
		startup_fail("socket %s: chown %s: %s", path, pw->pw_name,
			     strerror(errno));
	close(fd);
}

/* open_socket - bind the milter socket (still with start-up privileges) */
static void
open_socket(const struct passwd *pw)
{
	char spec[512];
	mode_t old_mask;

	rg_strlcpy(spec, start_cfg->socket, sizeof(spec));
	if (socket_kind == MT_SOCKET_UNIX)
		prepare_unix_socket(socket_path);
	if (smfi_setconn(spec) != MI_SUCCESS)
		startup_fail("socket %s: rejected by libmilter", spec);
	/* Each silent MTA connection holds a worker thread this long. */
	if (smfi_settimeout((int) start_cfg->milter_timeout) != MI_SUCCESS)
		startup_fail("milter_timeout %u: rejected by libmilter",
			     start_cfg->milter_timeout);
	/* bind() creates the socket with exactly socket_mode: no chmod by
	 * path afterwards, and no window in which it is more open. */
	old_mask = umask((mode_t) (~start_cfg->socket_mode & 0777));
	if (smfi_opensocket(1) != MI_SUCCESS) {
		umask(old_mask);
		startup_fail("socket %s: cannot listen (address in use, or no "
			     "permission for the path or port)", spec);
	}
	umask(old_mask);
	if (socket_kind != MT_SOCKET_UNIX)
		return;
	if (pw != NULL && geteuid() == 0)
		chown_socket(socket_path, pw);
}

/* open_policy_socket - the policy delegation listener, when configured
 * (bound before the privilege drop, like the milter socket) */
static void
open_policy_socket(const struct passwd *pw)
{
	const char *path;
	char err[1024];

	if (start_cfg->policy_socket == NULL)
		return;
	if (policy_server_open(start_cfg->policy_socket,
			       start_cfg->socket_mode, err, sizeof(err)) < 0)
		startup_fail("%s", err);
	if (pw != NULL && geteuid() == 0
	    && (path = policy_server_unix_path()) != NULL)
		chown_socket(path, pw);
}

/* lookup_user - the account to run as, or NULL when none is set */
static struct passwd *
lookup_user(void)
{
	struct passwd *pw;

	if (start_cfg->user == NULL || start_cfg->user[0] == '\0') {
		if (geteuid() == 0 && !start_cfg->allow_root)
			startup_fail("refusing to run as root without a user "
				     "setting: set \"user = NAME\" in %s (or "
				     "allow_root = yes)", config_path);
		return NULL;
	}
	errno = 0;
	if ((pw = getpwnam(start_cfg->user)) == NULL)
		startup_fail("user %s: %s", start_cfg->user,
			     errno ? strerror(errno) : "no such user");
	return pw;
}

/* drop_privileges - become pw (only possible when started as root) */
static void
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			rglog(LOG_WARNING, "warning: not started as root: "
			      "ignoring user = %s", pw->pw_name);
		return;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0
	    || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		startup_fail("cannot become user %s: %s", pw->pw_name,
			     strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) == 0)
		startup_fail("cannot become user %s: root could be regained",
			     pw->pw_name);
}

/* daemon_start - fork; the parent waits for the child's start-up verdict
 * and exits with it.  Returns the child's end of the report pipe. */
static int
daemon_start(void)
{
	int fds[2];
	char status;
	pid_t pid;

	if (pipe(fds) < 0)
		startup_fail("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		startup_fail("fork: %s", strerror(errno));
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;	/* the child died: it said why */
		_exit(status == 0 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		startup_fail("setsid: %s", strerror(errno));
	return fds[1];
}

/* daemon_ready - tell the waiting parent all went well, detach stdio */
static void
daemon_ready(int report_fd)
{
	char ok = 0;
	int fd;

	if (report_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void) dup2(fd, STDIN_FILENO);
		(void) dup2(fd, STDOUT_FILENO);
		if (!opt_stderr)
			(void) dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(report_fd, &ok, 1) != 1)
		rglog(LOG_WARNING, "warning: start-up report: %s", strerror(errno));
	close(report_fd);
}

/* write_pidfile - our pid, when a pidfile is configured */
static void
write_pidfile(void)
{
	const char *path = start_cfg->pidfile;
	char buf[32];
	int fd, len;

	if (path == NULL || path[0] == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		startup_fail("pidfile %s: %s", path, strerror(errno));
	len = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
	if (write(fd, buf, (size_t) len) != len || close(fd) < 0)
		startup_fail("pidfile %s: %s", path, strerror(errno));
	pidfile_written = 1;
}

/* remove_files - pidfile and unix socket, at exit */
static void
remove_files(void)
{
	if (pidfile_written && unlink(start_cfg->pidfile) < 0 && errno != ENOENT)
		rglog(LOG_WARNING, "warning: pidfile %s: %s", start_cfg->pidfile,
		      strerror(errno));
	if (socket_kind == MT_SOCKET_UNIX && unlink(socket_path) < 0
	    && errno != ENOENT)
		rglog(LOG_WARNING, "warning: socket %s: %s", socket_path,
		      strerror(errno));
}

/* warn_restart - a setting changed that only a restart applies */
static void
warn_restart(const char *key)
{
	rglog(LOG_WARNING, "warning: reload: %s changed; it takes effect "
	      "after a restart", key);
}

/* str_changed - two optional strings differ (NULL equals "") */
static int
str_changed(const char *was, const char *now)
{
	return strcmp(was ? was : "", now ? now : "") != 0;
}

/* warn_restart_keys - settings a reload cannot change */
static void
warn_restart_keys(const struct rg_config *cfg)
{
	if (str_changed(start_cfg->socket, cfg->socket))
		warn_restart("socket");
	if (str_changed(start_cfg->policy_socket, cfg->policy_socket))
		warn_restart("policy_socket");
	if (start_cfg->socket_mode != cfg->socket_mode)
		warn_restart("socket_mode");
	if (str_changed(start_cfg->user, cfg->user))
		warn_restart("user");
	if (str_changed(start_cfg->pidfile, cfg->pidfile))
		warn_restart("pidfile");
	if (str_changed(start_cfg->syslog_facility, cfg->syslog_facility))
		warn_restart("syslog_facility");
	if (start_cfg->milter_timeout != cfg->milter_timeout)
		warn_restart("milter_timeout");
	if (start_cfg->policy_timeout != cfg->policy_timeout)
		warn_restart("policy_timeout");
	if (start_cfg->client_track_size != cfg->client_track_size)
		warn_restart("client_track_size");
	if (str_changed(start_cfg->metrics_listen, cfg->metrics_listen))
		warn_restart("metrics_listen");
	if (start_cfg->account_track_size != cfg->account_track_size)
		warn_restart("account_track_size");
	if (str_changed(start_cfg->audit_db, cfg->audit_db)
	    || start_cfg->audit_failure != cfg->audit_failure
	    || str_changed(start_cfg->audit_password_file,
			   cfg->audit_password_file)
	    || str_changed(start_cfg->audit_spool, cfg->audit_spool)
	    || str_changed(start_cfg->node, cfg->node))
		warn_restart("audit_db/audit_failure/audit_password_file/"
			     "audit_spool/node");
}

/* do_reload - load the new configuration and directory, or keep the old */
static void
do_reload(void)
{
	struct rg_runtime *rt;
	char err[1024];

	rglog(LOG_INFO, "reloading configuration %s", config_path);
	if ((rt = runtime_load(config_path, backends, err, sizeof(err))) == NULL) {
		rglog(LOG_ERR, "error: reload failed: %s; keeping the old "
		      "configuration", err);
		metrics_count_reload(0);
		return;
	}
	warn_restart_keys(rt->cfg);
	if (tracker != NULL)
		clienttrack_configure(tracker, &rt->cfg->client_limits);
	runtime_install(rt);
	metrics_count_reload(1);
	rglog(LOG_INFO, "reloaded configuration %s: generation=%lu "
	      "directory=%s mode=%s", config_path, rt->generation,
	      rt->cfg->directory ? rt->cfg->directory : "-",
	      rt->cfg->mode == RG_MODE_MONITOR ? "monitor" : "enforce");
}

/* log_stats - the stats line */
static void
log_stats(void)
{
	char line[2048];

	judge_stats(line, sizeof(line));
	rglog_line(LOG_INFO, line);
}

/* control_main - run reloads and stats off the signal thread */
static void *
control_main(void *arg)
{
	int reload, stats;

	(void) arg;
	pthread_mutex_lock(&control_lock);
	for (;;) {
		while (!control_reload && !control_stats && !control_quit)
			pthread_cond_wait(&control_cond, &control_lock);
		if (control_quit)
			break;
		reload = control_reload;
		stats = control_stats;
		control_reload = control_stats = 0;
		pthread_mutex_unlock(&control_lock);
		if (reload)
			do_reload();
		if (stats)
			log_stats();
		pthread_mutex_lock(&control_lock);
	}
	pthread_mutex_unlock(&control_lock);
	return NULL;
}

/* control_post - hand work to the control thread */
static void
control_post(int *flag)
{
	pthread_mutex_lock(&control_lock);
	*flag = 1;
	pthread_cond_signal(&control_cond);
	pthread_mutex_unlock(&control_lock);
}

/* smfi_thread - run libmilter; wake the main thread when it returns */
static void *
smfi_thread(void *arg)
{
	int status;

	(void) arg;
	status = smfi_main();
	__atomic_store_n(&smfi_status, status, __ATOMIC_SEQ_CST);
	__atomic_store_n(&smfi_finished, 1, __ATOMIC_SEQ_CST);
	pthread_kill(main_thread, SIGUSR2);
	return NULL;
}

/* signal_loop - wait for signals until told to stop; returns the signal */
static int
signal_loop(const sigset_t *set)
{
	siginfo_t info;
	int sig;

	for (;;) {
		sig = sigwaitinfo(set, &info);
		if (sig < 0)
			continue;	/* EINTR */
		switch (sig) {
		case SIGHUP:
			control_post(&control_reload);
			break;
		case SIGUSR1:
			control_post(&control_stats);
			break;
		case SIGUSR2:
			if (__atomic_load_n(&smfi_finished, __ATOMIC_SEQ_CST))
				return sig;
			break;
		default:		/* SIGTERM, SIGINT */
			return sig;
		}
	}
}

/* block_signals - before any thread: every thread inherits the mask */
static void
block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		startup_fail("cannot block signals");
}

/* audit_logger - the audit writer's warnings and diverted rows */
static void
audit_logger(int priority, const char *line, void *ctx)
{
	(void) ctx;
	rglog_line(priority, line);
}

/* alert_node - this MX in alert rows: node, else the host name, as the
 * verdict rows have it */
static const char *
alert_node(void)
{
	static char host[256];

	if (start_cfg->node != NULL)
		return start_cfg->node;
	if (gethostname(host, sizeof(host) - 1) < 0)
		return NULL;
	host[sizeof(host) - 1] = '\0';
	return host;
}

/* alert_logger - the alert thread's warnings and errors */
static void
alert_logger(int priority, const char *line, void *ctx)
{
	(void) ctx;
	rglog_line(priority, line);
}

/* alert_row_to_audit - an alert's row through the verdict writer */
static int
alert_row_to_audit(const char *json, void *ctx)
{
	if (audit_submit_alert(ctx, json) == 0)
		return 0;
	rglog(LOG_ERR, "error: alerts: the audit writer did not take an "
	      "alert's row; it is only in the log");
	return -1;
}

/* ldap_logger - the LDAP directory going down and coming back */
static void
ldap_logger(int priority, const char *message)
{
	/* message starts with "ldap: " */
	rglog(priority, "%s%s", priority <= LOG_ERR ? "error: " : "", message);
}

/* audit_unusable - the daemon starts anyway (audit_failure decides, as
 * for a disk that fills up later), but says so where the admin looks */
static void
audit_unusable(const char *why)
{
	char msg[1400];

	(void) snprintf(msg, sizeof(msg), "error: %s; until this is fixed, "
			"audit_failure = %s applies to every verdict", why,
			start_cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL
			? "tempfail (mail is deferred)" : "continue (verdicts "
			"are logged instead)");
	rglog(LOG_ERR, "%s", msg);
	if (!opt_stderr)
		fprintf(stderr, "relayguard: %s\n", msg);
}

/* start_services - directory, audit trail; exits on failure */
static void
start_services(void)
{
	struct rg_runtime *rt;
	struct audit *audit = NULL;
	struct alert_sink *alerts;
	char err[1024];

	dir_ldap_set_logger(ldap_logger);
	/* The configuration main() loaded is the one served: parsed once.
	 * It was read before the privilege drop; a reload reads it as the
	 * daemon's user. */
	if (access(config_path, R_OK) < 0)
		rglog(LOG_WARNING, "warning: %s: %s: a reload (SIGHUP) would "
		      "fail", config_path, strerror(errno));
	if ((rt = runtime_new(start_cfg, backends, err, sizeof(err))) == NULL) {
		start_cfg = NULL;	/* runtime_new freed it */
		startup_fail("%s", err);
	}
	runtime_install(rt);
	start_rt = runtime_acquire();	/* start_cfg lives as long as it */
	if (start_cfg->client_track_size > 0) {
		/* outside the runtime: a reload keeps what it remembers */
		tracker = clienttrack_new(start_cfg->client_track_size,
					  TRACKER_STRIPES);
		clienttrack_configure(tracker, &rt->cfg->client_limits);
		judge_set_tracker(tracker);
	}
	if (start_cfg->account_track_size > 0) {
		accounts = accountlimit_new(start_cfg->account_track_size,
					    TRACKER_STRIPES);
		judge_set_accounts(accounts);
	}
	if (audit_enabled(start_cfg)) {
		const char *file = audit_local_file(start_cfg);

		/* After the privilege drop: judged for the daemon's user. */
		if (file != NULL && filemode_audit_db_safe(file, err, sizeof(err)) < 0)
			startup_fail("%s", err);
		if (file != NULL && filemode_audit_db_usable(file, err,
							 sizeof(err)) < 0)
			audit_unusable(err);
		audit_set_logger(audit_logger, NULL);
		if ((audit = audit_open(start_cfg, err, sizeof(err))) == NULL)
			startup_fail("audit: %s", err);
		judge_set_audit(audit);
	}
	if (start_cfg->metrics_listen != NULL
	    && metrics_http_start(start_cfg->metrics_listen, judge_metrics, err,
				  sizeof(err)) < 0)
		startup_fail("%s: %s", config_path, err);
	/* after the audit schema is migrated: its alerts table exists.
	 * Alerts are logged whatever happens; rows and commands from here:
	 * the alert thread writes an SQLite database itself, and hands a
	 * PostgreSQL row to the verdict writer (spool, replay, key) */
	alerts = alert_sink_open(audit_enabled(start_cfg)
				 && !config_audit_is_pgsql(start_cfg->audit_db)
				 ? start_cfg->audit_db : NULL,
				 alert_node(), alert_logger, NULL);
	if (audit_takes_alerts(audit))
		alert_sink_set_row_writer(alerts, alert_row_to_audit, audit);
	judge_set_alerts(alerts);
}

/* stop_services - flush the audit trail, release the runtime */
static void
stop_services(void)
{
	struct audit *audit;
	unsigned i;

	/* Sessions still in a callback finish with what they hold. */
	for (i = 0; i < STOP_GRACE_SEC * 10 && judge_live() > 0; i++)
		usleep(100000);
	metrics_http_stop();
	/* the alert thread first: it may still hand rows to the audit writer */
	(void) alert_sink_close(judge_take_alerts());
	if ((audit = judge_take_audit()) != NULL)
		audit = audit_close(audit);
	judge_set_tracker(NULL);
	judge_set_accounts(NULL);
	if (judge_live() == 0)	/* else a late callback may use it */
		tracker = clienttrack_free(tracker);
	if (judge_live() == 0)
		accounts = accountlimit_free(accounts);
	runtime_shutdown();
}

/* serve - run the milter until a stop signal; returns the exit status */
static int
serve(const sigset_t *set)
{
	pthread_t control, smfi;
	int sig, status;

	main_thread = pthread_self();
	if (pthread_create(&control, NULL, control_main, NULL) != 0
	    || pthread_create(&smfi, NULL, smfi_thread, NULL) != 0)
		startup_fail("cannot start threads");
	sig = signal_loop(set);
	if (sig == SIGUSR2) {
		status = __atomic_load_n(&smfi_status, __ATOMIC_SEQ_CST);
		rglog(LOG_ERR, "error: the milter library stopped on its own "
		      "(status %d); exiting", status);
	} else {
		rglog(LOG_INFO, "stopping on signal %s",
		      sig == SIGTERM ? "TERM" : "INT");
		(void) smfi_stop();
	}
	pthread_join(smfi, NULL);
	policy_server_stop();
	control_post(&control_quit);
	pthread_join(control, NULL);
	stop_services();
	remove_files();
	rglog(LOG_INFO, "stopped");
	return sig == SIGUSR2 ? 1 : 0;
}

/* main - start-up sequence; see the comment at the top */
int
main(int argc, char **argv)
{
	struct passwd *pw;
	sigset_t set;
	char err[1024], store[512];
	int facility, report_fd = -1, status;

	parse_args(argc, argv);
	if ((start_cfg = config_load(config_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if ((facility = rglog_facility(start_cfg->syslog_facility)) < 0)
		startup_fail("%s: syslog_facility: unknown facility \"%s\"",
			     config_path, start_cfg->syslog_facility);
	if (mt_socket_check(start_cfg->socket, &socket_kind, socket_path,
			    sizeof(socket_path), err, sizeof(err)) < 0)
		startup_fail("%s: socket: %s", config_path, err);	/* config_load checked it */
	if (opt_check)
		check_only();

	rglog_open("relayguard", opt_stderr, facility);
	pw = lookup_user();
	if (!opt_foreground) {
		report_fd = daemon_start();
		if (chdir("/") < 0)
			startup_fail("chdir /: %s", strerror(errno));
	}
	block_signals(&set);
	if (milter_glue_register("relayguard") < 0)
		startup_fail("cannot register with libmilter");
	open_socket(pw);
	open_policy_socket(pw);
	drop_privileges(pw);
	start_services();
	if (policy_server_start(start_cfg->policy_timeout, err, sizeof(err)) < 0)
		startup_fail("%s", err);
	write_pidfile();
	audit_store_name(start_cfg, store, sizeof(store));
	rglog(LOG_INFO, "starting relayguard %s: config=%s socket=%s "
	      "policy_socket=%s directory=%s mode=%s audit=%s metrics=%s",
	      PACKAGE_VERSION, config_path, start_cfg->socket,
	      start_cfg->policy_socket ? start_cfg->policy_socket : "none",
	      start_cfg->directory ? start_cfg->directory : "-",
	      start_cfg->mode == RG_MODE_MONITOR ? "monitor" : "enforce",
	      store,
	      start_cfg->metrics_listen ? start_cfg->metrics_listen : "off");
	daemon_ready(report_fd);
	status = serve(&set);
	start_cfg = NULL;
	start_rt = runtime_release(start_rt);
	return status;
}
