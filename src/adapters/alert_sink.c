/*
 * alert_sink - where an alert goes: its row and alert_command
 *
 * See alert_sink.h.  One thread owns the queue's far end, its own SQLite
 * connection to the audit database and the children it started.  It
 * wakes for a new alert or every ALERT_POLL_MS while children run, to
 * reap them and kill the ones past their deadline.
 *
 * Decisions that are not obvious:
 * - Commands start with posix_spawn(): the daemon is multi-threaded, and
 *   nothing but exec may follow a fork there.  The child gets an empty
 *   signal mask and default dispositions (the daemon blocks SIGHUP,
 *   SIGTERM and friends in every thread).
 * - The JSON goes through a pipe written without blocking: an alert is a
 *   few kilobytes at most, far below a pipe's capacity, so a command
 *   that never reads its input cannot hold the thread.
 * - The database row is written before the command starts, so that a
 *   command may look the alert up.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "accountlimit.h"
#include "audit_schema.h"
#include "text.h"
#include "alert_sink.h"

#define ALERT_POLL_MS	100
#define ALERT_RUN_MAX	64		/* children tracked at once */
#define ALERT_COMMAND_MAX 4096
#define ALERT_CLOSE_GRACE_MS 2000

extern char **environ;

struct queued_alert {
	struct rg_alert alert;
	char    command[ALERT_COMMAND_MAX];	/* "" none */
	unsigned timeout_s;
	unsigned max_running;
};

struct child {
	pid_t   pid;
	int64_t deadline_ms;
	unsigned timeout_s;
	char    account[64];		/* for the log line, cleaned */
};

struct alert_sink {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int     quit;
	struct queued_alert *queue;	/* ring of ALERT_QUEUE_MAX */
	size_t  head, count;
	struct child children[ALERT_RUN_MAX];
	unsigned nchildren;		/* thread only */
	sqlite3 *db;			/* thread only; NULL: no rows */
	alert_row_fn row_fn;		/* set: rows go there, not to db */
	void   *row_ctx;
	char   *db_path;
	char   *node;
	alert_log_fn log;
	void   *log_ctx;
	struct alert_counters counters;	/* under lock */
};

/* sink_log - one line through the caller's logger */
static void __attribute__((format(printf, 3, 4)))
sink_log(struct alert_sink *sink, int priority, const char *fmt, ...)
{
	char    line[1024];
	va_list ap;

	if (sink->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sink->log(priority, line, sink->log_ctx);
}

/* count - bump one counter */
static void
count(struct alert_sink *sink, uint64_t *counter)
{
	pthread_mutex_lock(&sink->lock);
	(*counter)++;
	pthread_mutex_unlock(&sink->lock);
}

/* db_open - the thread's connection; NULL (logged) when unusable */
static sqlite3 *
db_open(struct alert_sink *sink)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(sink->db_path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sink_log(sink, LOG_ERR, "error: alerts: %s: %s", sink->db_path,
			 db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* bind_text - bind s, NULL or "" as SQL NULL */
static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* write_row - the alerts row; 0 written, -1 logged */
static int
write_row(struct alert_sink *sink, const struct rg_alert *a)
{
	sqlite3_stmt *st = NULL;
	char    when[40];
	int     rc;

	if (sink->row_fn != NULL) {
		char   *json = alert_json(a, NULL);

		rc = json != NULL ? sink->row_fn(json, sink->row_ctx) : -1;
		free(json);
		if (rc == 0)
			count(sink, &sink->counters.written);
		return rc;
	}
	if (sink->db_path == NULL)
		return 0;
	if (sink->db == NULL && (sink->db = db_open(sink)) == NULL)
		return -1;
	rc = sqlite3_prepare_v2(sink->db, audit_alert_insert_sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, alert_time_text(a->time_ms, when, sizeof(when)));
		bind_text(st, 2, al_kind_name(a->kind));
		bind_text(st, 3, a->account);
		bind_text(st, 4, al_limit_name(a->limit));
		sqlite3_bind_int64(st, 5, a->count);
		sqlite3_bind_int64(st, 6, a->max);
		sqlite3_bind_int64(st, 7, a->window);
		bind_text(st, 8, al_action_name(a->action));
		bind_text(st, 9, a->session_id);
		bind_text(st, 10, a->queue_id);
		bind_text(st, 11, a->client_addr);
		bind_text(st, 12, a->client_name);
		bind_text(st, 13, a->sender);
		bind_text(st, 14, a->rcpt);
		bind_text(st, 15, sink->node);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		sink_log(sink, LOG_ERR, "error: alerts: %s: cannot write the alert "
			 "of session %s: %s", sink->db_path, a->session_id,
			 sqlite3_errmsg(sink->db));
		sqlite3_finalize(st);
		sink->db = (sqlite3_close(sink->db), NULL);	/* reopen next time */
		return -1;
	}
	sqlite3_finalize(st);
	count(sink, &sink->counters.written);
	return 0;
}

/* discard_sigpipe - a write to a command that exited raised SIGPIPE for
 * this thread, which blocks it (sink_main): take it off the pending set
 * so that it never reaches the process */
static void
discard_sigpipe(void)
{
	struct timespec zero = {0, 0};
	sigset_t pipe_set;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		continue;
}

/* start_command - spawn the command with the JSON on its stdin */
static void
start_command(struct alert_sink *sink, const struct queued_alert *q)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	struct child *ch;
	char   *json, *argv[4], acct[64];
	size_t  len;
	ssize_t n;
	pid_t   pid;
	int     fds[2], rc;

	text_log_str(q->alert.account, strlen(q->alert.account), sizeof(acct) - 1,
		     TEXT_LOG_TOKEN, acct, sizeof(acct));
	if (sink->nchildren >= q->max_running || sink->nchildren >= ALERT_RUN_MAX) {
		sink_log(sink, LOG_WARNING, "warning: alert_command not run for account=%s "
			 "session=%s: %u already running (alert_max)", acct,
			 q->alert.session_id, sink->nchildren);
		count(sink, &sink->counters.skipped);
		return;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		sink_log(sink, LOG_ERR, "error: alert_command: pipe: %s", strerror(errno));
		count(sink, &sink->counters.failed);
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	argv[0] = (char *) "sh";
	argv[1] = (char *) "-c";
	argv[2] = (char *) q->command;
	argv[3] = NULL;
	rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[0]);
	if (rc != 0) {
		close(fds[1]);
		sink_log(sink, LOG_ERR, "error: alert_command: cannot start /bin/sh: %s",
			 strerror(rc));
		count(sink, &sink->counters.failed);
		return;
	}
	count(sink, &sink->counters.run);
	ch = &sink->children[sink->nchildren++];
	ch->pid = pid;
	ch->timeout_s = q->timeout_s;
	ch->deadline_ms = rg_mono_ms() + (int64_t) q->timeout_s * 1000;
	rg_strlcpy(ch->account, acct, sizeof(ch->account));
	json = alert_json(&q->alert, &len);
	(void) fcntl(fds[1], F_SETFL, O_NONBLOCK);
	if (json != NULL) {
		json[len] = '\n';	/* wt_buf_export leaves room for a NUL */
		n = write(fds[1], json, len + 1);
		if (n < 0 && errno == EPIPE)
			discard_sigpipe();	/* the command did not read it */
		else if (n < 0)
			sink_log(sink, LOG_WARNING, "warning: alert_command: writing the "
				 "alert: %s", strerror(errno));
		free(json);
	}
	close(fds[1]);
}

/* reap - collect finished children, kill those past their deadline */
static void
reap(struct alert_sink *sink, int64_t now)
{
	unsigned i = 0;
	int     status;
	pid_t   r;

	while (i < sink->nchildren) {
		struct child *ch = &sink->children[i];

		r = waitpid(ch->pid, &status, WNOHANG);
		if (r == 0 && now >= ch->deadline_ms) {
			(void) kill(-ch->pid, SIGKILL);
			(void) waitpid(ch->pid, &status, 0);
			sink_log(sink, LOG_WARNING, "warning: alert_command for account=%s "
				 "killed after %us (alert_timeout)", ch->account,
				 ch->timeout_s);
			count(sink, &sink->counters.failed);
			r = ch->pid;
		} else if (r == ch->pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
				sink_log(sink, LOG_WARNING, "warning: alert_command for "
					 "account=%s exited with status %d",
					 ch->account, WEXITSTATUS(status));
				count(sink, &sink->counters.failed);
			} else if (WIFSIGNALED(status)) {
				sink_log(sink, LOG_WARNING, "warning: alert_command for "
					 "account=%s killed by signal %d",
					 ch->account, WTERMSIG(status));
				count(sink, &sink->counters.failed);
			}
		}
		if (r != 0) {
			sink->children[i] = sink->children[--sink->nchildren];
			continue;
		}
		i++;
	}
}

/* sink_main - the alert thread */
static void *
sink_main(void *arg)
{
	struct alert_sink *sink = arg;
	struct queued_alert *q = xmalloc(sizeof(*q));
	struct timespec ts;
	int64_t quit_at = 0;
	sigset_t pipe_set;

	/* a command that exits without reading its input must not kill
	 * the daemon with SIGPIPE (libmilter ignores it; a test may not) */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

	pthread_mutex_lock(&sink->lock);
	for (;;) {
		if (sink->count == 0) {
			if (sink->quit && sink->nchildren == 0)
				break;
			if (sink->quit && quit_at == 0)
				quit_at = rg_mono_ms() + ALERT_CLOSE_GRACE_MS;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += ALERT_POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (sink->nchildren > 0 || sink->quit)
				pthread_cond_timedwait(&sink->cond, &sink->lock, &ts);
			else
				pthread_cond_wait(&sink->cond, &sink->lock);
		}
		if (sink->count > 0) {
			*q = sink->queue[sink->head];
			sink->head = (sink->head + 1) % ALERT_QUEUE_MAX;
			sink->count--;
			pthread_mutex_unlock(&sink->lock);
			(void) write_row(sink, &q->alert);
			if (q->command[0] != '\0')
				start_command(sink, q);
			pthread_mutex_lock(&sink->lock);
		}
		pthread_mutex_unlock(&sink->lock);
		/* at close, children past the grace are killed */
		reap(sink, quit_at != 0 && rg_mono_ms() >= quit_at ? INT64_MAX
		     : rg_mono_ms());
		pthread_mutex_lock(&sink->lock);
	}
	pthread_mutex_unlock(&sink->lock);
	free(q);
	return NULL;
}

/* alert_sink_open - start the alert thread */
struct alert_sink *
alert_sink_open(const char *audit_db, const char *node, alert_log_fn log,
		void *log_ctx)
{
	struct alert_sink *sink = xcalloc(1, sizeof(*sink));

	pthread_mutex_init(&sink->lock, NULL);
	pthread_cond_init(&sink->cond, NULL);
	sink->queue = xcalloc(ALERT_QUEUE_MAX, sizeof(*sink->queue));
	sink->db_path = audit_db != NULL ? xstrdup(audit_db) : NULL;
	sink->node = node != NULL ? xstrdup(node) : NULL;
	sink->log = log;
	sink->log_ctx = log_ctx;
	if (pthread_create(&sink->thread, NULL, sink_main, sink) != 0)
		rg_fatal("alerts: cannot start the alert thread");
	return sink;
}

/* alert_sink_set_row_writer - rows through fn (before any submit: the
 * queue's lock orders it before the thread reads it) */
void
alert_sink_set_row_writer(struct alert_sink *sink, alert_row_fn fn, void *ctx)
{
	if (sink == NULL)
		return;
	pthread_mutex_lock(&sink->lock);
	sink->row_fn = fn;
	sink->row_ctx = ctx;
	pthread_mutex_unlock(&sink->lock);
}

/* alert_sink_submit - queue a copy; never blocks on anything but the lock */
int
alert_sink_submit(struct alert_sink *sink, const struct rg_alert *a,
		  const char *command, unsigned timeout_s, unsigned max_running)
{
	struct queued_alert *q;

	if (sink == NULL)
		return -1;
	pthread_mutex_lock(&sink->lock);
	if (sink->count == ALERT_QUEUE_MAX || sink->quit) {
		sink->counters.dropped++;
		pthread_mutex_unlock(&sink->lock);
		sink_log(sink, LOG_ERR, "error: alerts: queue full (%d): the alert of "
			 "session %s is only in the log", ALERT_QUEUE_MAX,
			 a->session_id);
		return -1;
	}
	q = &sink->queue[(sink->head + sink->count) % ALERT_QUEUE_MAX];
	q->alert = *a;
	q->command[0] = '\0';
	if (command != NULL)
		rg_strlcpy(q->command, command, sizeof(q->command));
	q->timeout_s = timeout_s;
	q->max_running = max_running;
	sink->count++;
	sink->counters.queued++;
	pthread_cond_signal(&sink->cond);
	pthread_mutex_unlock(&sink->lock);
	return 0;
}

/* alert_sink_get_counters - a snapshot */
void
alert_sink_get_counters(struct alert_sink *sink, struct alert_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (sink == NULL)
		return;
	pthread_mutex_lock(&sink->lock);
	*out = sink->counters;
	pthread_mutex_unlock(&sink->lock);
}

/* alert_sink_close - drain, wait (bounded), stop; returns NULL */
struct alert_sink *
alert_sink_close(struct alert_sink *sink)
{
	if (sink == NULL)
		return NULL;
	pthread_mutex_lock(&sink->lock);
	sink->quit = 1;
	pthread_cond_signal(&sink->cond);
	pthread_mutex_unlock(&sink->lock);
	pthread_join(sink->thread, NULL);
	if (sink->db != NULL)
		sqlite3_close(sink->db);
	free(sink->db_path);
	free(sink->node);
	free(sink->queue);
	pthread_cond_destroy(&sink->cond);
	pthread_mutex_destroy(&sink->lock);
	free(sink);
	return NULL;
}
