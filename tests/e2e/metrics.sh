#!/bin/bash
# tests/e2e/metrics.sh - /metrics of a relayguard behind a real Postfix.
#
# Known traffic goes through Postfix; then one scrape must match it
# exactly: relayguard_verdicts_total per stage, rule and action equals
# the audit rows (the same verdict records) and the replies the clients
# saw; sessions, directory lookups, audit rows written, reloads (one good
# SIGHUP, one refused) likewise.  promtool (Debian's prometheus) checks
# the exposition, and the example scrape configuration and alert rules in
# conf/.  Label sets stay bounded: no address or IP in any label.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
: "${PROMTOOL:=$(command -v promtool || echo /usr/bin/promtool)}"
rg_require "$RG_RELAYGUARD" "$POSTFIX" "$sqlite" "$PROMTOOL" curl
rg_e2e_require_root

tmp=$(rg_e2e_tmpdir)
db=$tmp/audit.db
mport=$(rg_free_port)
conf=$(rg_e2e_conf "audit_db = $db" "audit_flush_ms = 50" "metrics_listen = 127.0.0.1:$mport")
rg_start_relayguard "$conf" || { rg_fail "relayguard start"; rg_done; }
rg_wait_port "$mport" 10 || rg_fail "metrics listener on $mport"
scrape() { curl -sf "http://127.0.0.1:$mport/metrics"; }
# value NAME{LABELS} - one sample of the last scrape (0 when absent)
value() { awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' "$tmp/scrape"; }

scrape > "$tmp/scrape0" || rg_fail "scrape before traffic"
rg_expect "before traffic: no verdicts" "$(grep -c '^relayguard_verdicts_total{' "$tmp/scrape0")" 0

rg_e2e_start_mta postfix "$RG_MILTER_SOCKET" || { rg_fail "postfix start"; rg_done; }
: > "$tmp/codes"
dialog() {
	rg_smtp_dialog "$MTA_PORT" "$@" > "$tmp/dialog.out"
	awk '/^C: / { split(substr($0, 4), w, " "); verb = toupper(w[1]); next }
		/^S: [0-9][0-9][0-9]( |$)/ { print verb, substr($0, 4, 3) }' "$tmp/dialog.out" >> "$tmp/codes"
}
dialog "EHLO otherdomain" "MAIL FROM:<x@otherdomain.test>" "RCPT TO:<hacker@spammail.test>" \
	"RCPT TO:<nobody%afakedomain.test@example.test>" "RCPT TO:<alice@example.test>" "QUIT"
dialog "EHLO client.example.net" "MAIL FROM:<>" "RCPT TO:<nobody@example.test>" \
	"RCPT TO:<alice@example.test>" "QUIT"
dialog "EHLO client.example.net" "MAIL FROM:<$SENDER>" "RCPT TO:<n1@example.test>" \
	"RCPT TO:<n2@example.test>" "RCPT TO:<n3@example.test>" "RCPT TO:<n4@example.test>"
dialog "EHLO client.example.net" "MAIL FROM:<$SENDER>" "RCPT TO:<bob@example.test>" \
	"RCPT TO:<carol@example.test>" "QUIT"
sessions=5			# 4 dialogs + rg_start_postfix's banner probe

# the rows are written within audit_flush_ms; wait until the writer is idle
for i in $(seq 1 100); do
	scrape > "$tmp/scrape"
	[ "$(value relayguard_audit_queue_rows)" = 0 ] &&
		[ "$(value relayguard_audit_rows_written_total)" = "$(value relayguard_audit_rows_queued_total)" ] &&
		[ "$(value relayguard_sessions_open)" = 0 ] && break
	sleep 0.1
done

rg_expect "promtool check metrics: clean" "$("$PROMTOOL" check metrics < "$tmp/scrape" 2>&1)" ""
# every verdict family sample equals the audit rows of that stage/rule/action
want=$("$sqlite" -readonly -batch -noheader "$db" "SELECT 'relayguard_verdicts_total{stage=\"' ||
	stage || '\",rule=\"' || rule || '\",action=\"' || action || '\"} ' || COUNT(*)
	FROM verdicts GROUP BY stage, rule, action ORDER BY 1")
got=$(grep '^relayguard_verdicts_total{' "$tmp/scrape" | sort)
rg_expect "verdicts by stage/rule/action = the audit rows, exactly" "$got" "$want"
rg_expect "total verdicts = audit rows written" \
	"$(grep '^relayguard_verdicts_total{' "$tmp/scrape" | awk '{ s += $2 } END { print s }')" \
	"$(value relayguard_audit_rows_written_total)"
# ... and the replies the clients saw
rcpt() { grep -c "^RCPT $1\$" "$tmp/codes"; }
rg_expect "rcpt accept verdicts = RCPT 250 replies" \
	"$(grep '^relayguard_verdicts_total{stage="rcpt",.*action="accept"}' "$tmp/scrape" | awk '{ s += $2 } END { print s + 0 }')" \
	"$(rcpt 250)"
rg_expect "rcpt reject verdicts = RCPT 550 replies" \
	"$(grep '^relayguard_verdicts_total{stage="rcpt",.*action="reject"}' "$tmp/scrape" | awk '{ s += $2 } END { print s + 0 }')" \
	"$(rcpt 550)"
rg_expect "relay refusals: the one relay attempt" \
	"$(value 'relayguard_verdicts_total{stage="rcpt",rule="relay",action="reject"}')" 1
rg_expect "harvest drop: the fourth unknown recipient" \
	"$(value 'relayguard_verdicts_total{stage="rcpt",rule="harvest",action="drop"}')" 1
rg_expect "connect verdicts = sessions" \
	"$(value 'relayguard_verdicts_total{stage="connect",rule="pass",action="accept"}')" "$sessions"
rg_expect "sessions_total = sessions" "$(value relayguard_sessions_total)" "$sessions"
rg_expect "sessions_open: none left" "$(value relayguard_sessions_open)" 0
rg_expect "directory lookups found = audit rows that found the recipient" \
	"$(value 'relayguard_directory_lookups_total{backend="file",result="found"}')" \
	"$("$sqlite" -readonly -batch -noheader "$db" "SELECT COUNT(*) FROM verdicts WHERE directory_result = 'found'")"
rg_expect "directory lookups not-found = audit rows that did not" \
	"$(value 'relayguard_directory_lookups_total{backend="file",result="not-found"}')" \
	"$("$sqlite" -readonly -batch -noheader "$db" "SELECT COUNT(*) FROM verdicts WHERE directory_result = 'not-found'")"
rg_expect "audit rows written = rows in the database" "$(value relayguard_audit_rows_written_total)" \
	"$("$sqlite" -readonly -batch -noheader "$db" "SELECT COUNT(*) FROM verdicts")"
rg_expect "nothing diverted" "$(value relayguard_audit_rows_diverted_total)" 0
rg_expect "no address or IP in any label" \
	"$(grep -v '^#' "$tmp/scrape" | grep -cE '@|127\.0\.0\.|example\.(test|net)')" 0

# reloads: one that works, one refused
rg_reload_relayguard "$conf" || rg_fail "SIGHUP reload"
printf 'local_domains = example.test\nno_such_key = 1\n' > "$RG_MILTER_CONF"
mark=$(rg_log_mark)
kill -HUP "$RG_MILTER_PID"
rg_log_wait 'reload failed' 10 "$mark" >/dev/null || rg_fail "broken reload logged"
scrape > "$tmp/scrape"
rg_expect "reloads ok" "$(value 'relayguard_reloads_total{result="ok"}')" 1
rg_expect "reloads failed" "$(value 'relayguard_reloads_total{result="failed"}')" 1
rg_expect "configuration generation" "$(value relayguard_config_generation)" 2
rg_expect "other paths: 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/")" 404
rg_expect "POST: 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")" 405

# the examples in conf/
out=$("$PROMTOOL" check rules "$top_srcdir/conf/relayguard-alerts.yml" 2>&1)
rg_expect "promtool check rules conf/relayguard-alerts.yml: $(echo "$out" | tail -n 1)" "$?" 0
cp "$top_srcdir/conf/prometheus.yml" "$top_srcdir/conf/relayguard-alerts.yml" "$tmp/"
out=$(cd "$tmp" && "$PROMTOOL" check config prometheus.yml 2>&1)
rg_expect "promtool check config conf/prometheus.yml: $(echo "$out" | tail -n 1)" "$?" 0

# metrics_listen is checked where the configuration is
printf 'local_domains = example.test\nmetrics_listen = localhost:9154\n' > "$tmp/bad.conf"
rg_expect_match "a host name is refused with FILE:LINE" \
	"$("$top_builddir/src/programs/relayguard-check" -c "$tmp/bad.conf" --from '<a@b.test>' --rcpt '<c@example.test>' 2>&1)" \
	"bad.conf:2: metrics_listen: \"localhost:9154\": not an IPv4 address"
rg_done
