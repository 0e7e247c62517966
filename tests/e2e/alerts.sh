#!/bin/bash
# tests/e2e/alerts.sh - relay limits of SMTP AUTH users behind a real
# Postfix with real SMTP AUTH (Cyrus SASL): an account within its limits
# is never touched; one over them is alerted once (log line, alerts row,
# alert_command with one well-formed JSON object) and, in tempfail mode,
# deferred exactly from the first recipient over; a slow or failing
# alert_command changes nothing for mail.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX"
PATH=$PATH:/usr/sbin rg_require saslpasswd2
SQLITE3_CLI=${SQLITE3_CLI:-sqlite3}
rg_require "$SQLITE3_CLI" python3
AUDIT=${AUDIT:-$top_builddir/src/programs/relayguard-audit}

tmp=$(rg_e2e_tmpdir)
db="$tmp/audit.db"
jsonl="$tmp/alerts.jsonl"
cat >"$tmp/record-alert" <<EOF
#!/bin/sh
# one alert per run, appended whole
cat >>"$jsonl"
EOF
chmod 755 "$tmp/record-alert"
# carol's override: deferred, not just alerted
printf '%s\n' "# accounts with their own limits" \
	"carol@example.test action=tempfail" >"$tmp/auth-limits"

base=$(rg_e2e_conf "auth_limit.hour = 5" "auth_limit.day = 0" \
	"auth_limit.domains = 0" "auth_limit.clients = 0" \
	"auth_limit_action = alert" "auth_limit_file = $tmp/auth-limits" \
	"audit_db = $db" "audit_flush_ms = 50")
conf="$base
alert_command = $tmp/record-alert"
rg_start_relayguard "$conf" inet || { rg_fail "relayguard did not start"; rg_done; }
rg_start_postfix "$RG_MILTER_SOCKET" "sasl=$AUTH_USER:$AUTH_PASS" ||
	{ rg_fail "postfix did not start"; rg_done; }
port=$RG_POSTFIX_PORT
for u in ann carol dave erin; do
	printf '%s' "$AUTH_PASS" | saslpasswd2 -p -c \
	    -f "$RG_POSTFIX_DIR/sasl/sasldb2" "$u@example.test" ||
		rg_fail "saslpasswd2 $u"
done

# rcpts N [FIRST] - N remote recipients, comma-separated
rcpts() {
	local i out=""
	for i in $(seq "${2:-1}" $((${2:-1} + $1 - 1))); do
		out="$out${out:+,}r$i@remote$((i % 3)).example"
	done
	echo "$out"
}

# send USER N [FIRST] - one authenticated transaction; prints the RCPT
# reply codes, space-separated
send() {
	rg_smtp "$port" "$1" "$(rcpts "$2" "${3:-1}")" --auth PLAIN \
	    --auth-user "$1" --auth-password "$AUTH_PASS" >/dev/null 2>&1
	printf '%s\n' "$RG_SMTP_RCPTS" | cut -c1-3 | tr '\n' ' ' | sed 's/ $//'
}

# 1. Within its limits: never touched.
mark=$(rg_log_mark)
rg_expect "ann, 3 recipients" "250 250 250" "$(send ann@example.test 3)"
rg_expect "ann, 2 more (5: the limit, not over it)" "250 250" \
	"$(send ann@example.test 2 4)"
sleep 0.3
rg_expect "ann: no alert" 0 "$(rg_log_since "$mark" | grep -c '^.*alert: ')"
rg_expect "ann: every recipient relayed as authenticated" 5 \
	"$(rg_log_since "$mark" | grep -c 'stage=rcpt action=accept rule=authenticated .*auth=ann@example.test')"

# 2. Alert mode: accepted, one alert at the sixth recipient.
mark=$(rg_log_mark)
rg_expect "bob (alert mode), 8 recipients: all accepted" \
	"250 250 250 250 250 250 250 250" "$(send "$AUTH_USER" 8)"
line=$(rg_log_wait "alert: kind=auth account=$AUTH_USER limit=hour count=6 max=5 window=3600 action=alert " 10 "$mark")
[ -n "$line" ] && rg_pass "bob: alert line at the sixth recipient" ||
	rg_fail "bob: no alert line: $(rg_log_since "$mark" | grep alert)"
rg_expect_match "bob: the line names the client and the recipient" "$line" \
	'client=[^ ]*\[127\.0\.0\.1\] from=<bob@example\.test> to=<r6@remote0\.example>'
rg_expect "bob: one alert, not one per recipient" 1 \
	"$(rg_log_since "$mark" | grep -c 'alert: kind=auth')"

# 3. Tempfail mode (override file): deferred exactly from the first over.
mark=$(rg_log_mark)
rg_expect "carol (tempfail), 4 recipients" "250 250 250 250" \
	"$(send carol@example.test 4)"
rg_expect "carol: the fifth is accepted, the sixth on deferred" \
	"250 450 450" "$(send carol@example.test 3 5)"
rg_smtp "$port" carol@example.test r8@remote2.example --auth PLAIN \
    --auth-user carol@example.test --auth-password "$AUTH_PASS" >/dev/null 2>&1
rg_expect_match "carol: a new connection is still deferred, with reply.auth_limit" \
	"$RG_SMTP_RCPT" '^450 4\.7\.1 Sending limit reached for this account'

rg_log_wait "alert: kind=auth account=carol@example.test limit=hour count=6 max=5 window=3600 action=tempfail " 10 "$mark" >/dev/null ||
	rg_fail "carol: no tempfail alert line"
rg_expect "carol: deferrals logged as rule auth_limit" 3 \
	"$(rg_log_since "$mark" | grep -c 'stage=rcpt action=tempfail rule=auth_limit .*auth=carol@example.test')"
rg_expect "carol: one alert" 1 "$(rg_log_since "$mark" | grep -c 'alert: kind=auth')"
# local recipients are not relaying: still delivered
rg_smtp "$port" carol@example.test alice@example.test --auth PLAIN \
    --auth-user carol@example.test --auth-password "$AUTH_PASS" >/dev/null 2>&1
rg_expect_match "carol: a local recipient is not limited" "$RG_SMTP_RCPT" '^250'

# 4. The alert command got one well-formed JSON object per alert.
for i in $(seq 1 50); do
	[ "$(wc -l <"$jsonl" 2>/dev/null)" -ge 2 ] && break
	sleep 0.1
done
rg_expect "alert_command: one JSON line per alert" 2 "$(wc -l <"$jsonl" 2>/dev/null)"
check=$(python3 - "$jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = {"time", "kind", "account", "limit", "count", "max", "window_seconds",
        "action", "session_id", "queue_id", "client_addr", "client_name",
        "sender", "rcpt"}
for r in rows:
    assert set(r) == want, sorted(r)
print(" ".join("%s/%s/%s/%d/%d/%s/%s" % (r["account"], r["kind"], r["limit"],
      r["count"], r["max"], r["action"], r["client_addr"]) for r in rows))
EOF
)
rg_expect "alert_command: the JSON objects" \
	"bob@example.test/auth/hour/6/5/alert/127.0.0.1 carol@example.test/auth/hour/6/5/tempfail/127.0.0.1" \
	"$check"

# 5. A slow command (killed at alert_timeout) and a failing one change
# nothing for mail.
rg_reload_relayguard "$base
alert_command = sleep 60
alert_timeout = 1s" || rg_fail "reload (slow command)"
mark=$(rg_log_mark)
start=$(date +%s)
rg_expect "dave (slow alert_command): every recipient accepted" \
	"250 250 250 250 250 250 250" "$(send dave@example.test 7)"
took=$(( $(date +%s) - start ))
[ "$took" -lt 30 ] && rg_pass "dave: the session did not wait for the command (${took}s)" ||
	rg_fail "dave: the session took ${took}s"
rg_log_wait "warning: alert_command for account=dave@example.test killed after 1s \(alert_timeout\)" 15 "$mark" >/dev/null ||
	rg_fail "dave: the slow command was not killed and logged"
rg_reload_relayguard "$base
alert_command = exit 7" || rg_fail "reload (failing command)"
mark=$(rg_log_mark)
rg_expect "erin (failing alert_command): every recipient accepted" \
	"250 250 250 250 250 250" "$(send erin@example.test 6)"
rg_log_wait "warning: alert_command for account=erin@example.test exited with status 7" 10 "$mark" >/dev/null ||
	rg_fail "erin: the failing command was not logged"
rg_expect "the earlier alerts' JSON file is unchanged" 2 "$(wc -l <"$jsonl")"

# 6. The audit trail: one alerts row per alert, and relayguard-audit alerts.
rg_stop_relayguard
rg_expect "alerts rows" "bob@example.test alert|carol@example.test tempfail|dave@example.test alert|erin@example.test alert" \
	"$("$SQLITE3_CLI" "$db" "SELECT account || ' ' || action FROM alerts ORDER BY id" | paste -sd'|')"
rg_expect "alerts_by_account view" 4 \
	"$("$SQLITE3_CLI" "$db" "SELECT COUNT(*) FROM alerts_by_account WHERE alerts = 1")"
out=$("$AUDIT" -d "$db" alerts --account CAROL@example.test)
rg_expect_match "relayguard-audit alerts --account" "$out" \
	'alert: kind=auth account=carol@example\.test limit=hour count=6 max=5 window=3600 action=tempfail session=[0-9a-f]+ .*to=<r6@remote0\.example>'
rg_expect "relayguard-audit alerts: one line per alert" 4 \
	"$("$AUDIT" -d "$db" alerts | wc -l)"
rg_done
