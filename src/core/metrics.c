/*
 * metrics - counters and Prometheus text exposition (see metrics.h)
 */
#include <stdint.h>
#include <string.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "policy.h"
#include "verdict.h"
#include "web_text.h"
#include "metrics.h"

#define N_STAGES (RG_STAGE_RCPT + 1)
#define N_ACTIONS (RG_WOULD_REJECT + 1)

/* Directory backends by name; anything else counts as "other". */
static const char *const backends[] = {"file", "ldap", "other"};
#define N_BACKENDS RG_ARRAY_LEN(backends)
/* Results, indexed by dir_result + 1 (error, not-found, found). */
#define N_RESULTS 3

static int enabled;
static uint64_t verdicts[N_STAGES][RG_RULE_COUNT][N_ACTIONS];
static uint64_t lookups[N_BACKENDS][N_RESULTS];
static uint64_t reloads_ok, reloads_failed;

/* metrics_enable - see metrics.h */
void
metrics_enable(int on)
{
	__atomic_store_n(&enabled, on, __ATOMIC_RELAXED);
}

int
metrics_enabled(void)
{
	return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

/* add - one relaxed atomic increment */
static void
add(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* metrics_count_verdict - see metrics.h */
void
metrics_count_verdict(const struct verdict_record *rec, const char *backend)
{
	const struct rg_verdict *v = rec->verdict;
	size_t  b;

	if (!__atomic_load_n(&enabled, __ATOMIC_RELAXED) || v == NULL)
		return;
	if ((unsigned) v->stage < N_STAGES && (unsigned) v->rule < RG_RULE_COUNT
	    && (unsigned) v->action < N_ACTIONS)
		add(&verdicts[v->stage][v->rule][v->action]);
	if (!v->dir_consulted || (int) v->dir_result < DIR_ERROR
	    || (int) v->dir_result > DIR_FOUND)
		return;
	for (b = 0; b + 1 < N_BACKENDS; b++)
		if (backend && strcmp(backend, backends[b]) == 0)
			break;
	add(&lookups[b][v->dir_result + 1]);
}

/* metrics_count_reload - see metrics.h */
void
metrics_count_reload(int ok)
{
	add(ok ? &reloads_ok : &reloads_failed);
}

/* family - the HELP and TYPE lines of one metric */
static void
family(struct wt_buf *b, const char *name, const char *type, const char *help)
{
	wt_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value - a label value, escaped as the text format wants */
static void
label_value(struct wt_buf *b, const char *s)
{
	wt_put(b, "\"", 1);
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			wt_put(b, "\\", 1);
		if (*s == '\n')
			wt_puts(b, "\\n");
		else
			wt_put(b, s, 1);
	}
	wt_put(b, "\"", 1);
}

/* one - a metric without labels */
static void
one(struct wt_buf *b, const char *name, const char *type, const char *help,
    uint64_t value)
{
	family(b, name, type, help);
	wt_printf(b, "%s %llu\n", name, (unsigned long long) value);
}

/* metrics_render - see metrics.h */
void
metrics_render(struct wt_buf *b, const struct metrics_snapshot *s)
{
	static const char *const results[N_RESULTS] = {"error", "not-found", "found"};
	unsigned st, r, a, be, res;
	uint64_t n;

	family(b, "relayguard_build_info", "gauge",
	       "The running relayguard's version (always 1).");
	wt_puts(b, "relayguard_build_info{version=");
	label_value(b, s->version);
	wt_puts(b, "} 1\n");
	family(b, "relayguard_start_time_seconds", "gauge",
	       "When the daemon started, seconds since the epoch.");
	wt_printf(b, "relayguard_start_time_seconds %lld.%03lld\n",
		  (long long) (s->start_time_ms / 1000),
		  (long long) (s->start_time_ms % 1000));

	family(b, "relayguard_verdicts_total", "counter",
	       "Verdicts by SMTP stage, rule and action (one per judged step).");
	for (st = 0; st < N_STAGES; st++)
		for (r = 0; r < RG_RULE_COUNT; r++)
			for (a = 0; a < N_ACTIONS; a++) {
				if ((n = get(&verdicts[st][r][a])) == 0)
					continue;
				wt_printf(b, "relayguard_verdicts_total{stage=\"%s\","
					  "rule=\"%s\",action=\"%s\"} %llu\n",
					  rg_stage_name((enum rg_stage) st),
					  rg_rule_name((enum rg_rule) r),
					  rg_action_name((enum rg_action) a),
					  (unsigned long long) n);
			}

	one(b, "relayguard_sessions_total", "counter",
	    "SMTP sessions seen.", s->sessions_total);
	one(b, "relayguard_sessions_open", "gauge",
	    "SMTP sessions open now.", s->sessions_open);

	family(b, "relayguard_directory_lookups_total", "counter",
	       "Recipient lookups the verdicts made, by backend and result "
	       "(cache hits included).");
	for (be = 0; be < N_BACKENDS; be++)
		for (res = 0; res < N_RESULTS; res++)
			if ((n = get(&lookups[be][res])) != 0 || (s->dir_backend
			    && strcmp(s->dir_backend, backends[be]) == 0))
				wt_printf(b, "relayguard_directory_lookups_total{"
					  "backend=\"%s\",result=\"%s\"} %llu\n",
					  backends[be], results[res],
					  (unsigned long long) n);
	if (s->dir.has_cache) {
		one(b, "relayguard_directory_cache_hits_total", "counter",
		    "Directory lookups answered by the result cache.",
		    s->dir.cache_hits);
		one(b, "relayguard_directory_cache_misses_total", "counter",
		    "Directory lookups the result cache could not answer.",
		    s->dir.cache_misses);
	}
	if (s->dir.has_server) {
		one(b, "relayguard_ldap_up", "gauge",
		    "1 while the LDAP directory answers, 0 while it is down.",
		    s->dir.up > 0);
		one(b, "relayguard_ldap_errors_total", "counter",
		    "LDAP lookups that failed (answered 4xx).", s->dir.errors);
		one(b, "relayguard_ldap_connects_total", "counter",
		    "LDAP connections opened (the first and every reconnect).",
		    s->dir.connects);
		one(b, "relayguard_ldap_connect_failures_total", "counter",
		    "LDAP connection attempts that failed.",
		    s->dir.connect_failures);
		one(b, "relayguard_ldap_retries_total", "counter",
		    "LDAP searches retried on another connection or server.",
		    s->dir.retries);
		one(b, "relayguard_ldap_timeouts_total", "counter",
		    "LDAP searches that timed out.", s->dir.timeouts);
	}

	one(b, "relayguard_audit_enabled", "gauge",
	    "1 when verdicts are written to an audit database.", s->audit_on != 0);
	if (s->audit_on) {
		one(b, "relayguard_audit_queue_rows", "gauge",
		    "Audit rows waiting for the writer.", s->audit_queue_rows);
		one(b, "relayguard_audit_rows_queued_total", "counter",
		    "Audit rows handed to the writer.", s->audit_queued);
		one(b, "relayguard_audit_rows_written_total", "counter",
		    "Audit rows committed to the database.", s->audit_written);
		one(b, "relayguard_audit_rows_diverted_total", "counter",
		    "Audit rows written to syslog because the database could not "
		    "be.", s->audit_diverted);
		one(b, "relayguard_audit_rows_refused_total", "counter",
		    "Audit rows refused (audit_failure = tempfail deferred the mail).",
		    s->audit_refused);
		one(b, "relayguard_audit_write_failures_total", "counter",
		    "Failed audit database writes.", s->audit_failures);
		one(b, "relayguard_audit_failing", "gauge",
		    "1 while the audit database cannot be written.",
		    s->audit_failing != 0);
		one(b, "relayguard_audit_rows_spooled_total", "counter",
		    "Audit rows kept in the local spool while PostgreSQL was away.",
		    s->audit_spooled);
		one(b, "relayguard_audit_rows_replayed_total", "counter",
		    "Audit rows taken from the spool into PostgreSQL (also in "
		    "rows_written).", s->audit_replayed);
		one(b, "relayguard_audit_spool_rows", "gauge",
		    "Audit rows waiting in the local spool.",
		    s->audit_spool_rows > 0 ? (uint64_t) s->audit_spool_rows : 0);
		one(b, "relayguard_audit_degraded", "gauge",
		    "1 while audit rows go to the spool instead of PostgreSQL.",
		    s->audit_degraded != 0);
	}
	one(b, "relayguard_audit_deferred_total", "counter",
	    "Mail deferred because its verdict could not be recorded.",
	    s->audit_deferred);

	family(b, "relayguard_reloads_total", "counter",
	       "Configuration reloads (SIGHUP), by result; a failed one keeps "
	       "the old configuration.");
	wt_printf(b, "relayguard_reloads_total{result=\"ok\"} %llu\n"
		  "relayguard_reloads_total{result=\"failed\"} %llu\n",
		  (unsigned long long) get(&reloads_ok),
		  (unsigned long long) get(&reloads_failed));
	one(b, "relayguard_config_generation", "gauge",
	    "Generation of the configuration in use (1 at start).",
	    s->config_generation);
}
