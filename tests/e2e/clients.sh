#!/bin/bash
# tests/e2e/clients.sh - memory across connections behind a real Postfix:
# a harvester that reconnects and a relay prober that opens one
# connection per try are penalised (450 at RCPT, then 421 at connect),
# each penalty is logged and audited once, a reload keeps the memory, a
# restart forgets it, and a trusted client is never penalised.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX"
rg_require "${SQLITE3_CLI:-sqlite3}"
SQLITE3_CLI=${SQLITE3_CLI:-sqlite3}

tmp=$(rg_e2e_tmpdir)
db="$tmp/audit.db"
# harvest_limit = 3 (the e2e configuration): three unknowns per connection
conf=$(rg_e2e_conf "client_track_size = 1000" "client_limit.unknown = 5" \
	"client_limit.relay = 3" "client_window = 1h" "client_penalty = 1h" \
	"audit_db = $db" "audit_flush_ms = 50")
rg_start_relayguard "$conf" inet || { rg_fail "relayguard did not start"; rg_done; }
rg_start_postfix "$RG_MILTER_SOCKET" || { rg_fail "postfix did not start"; rg_done; }
port=$RG_POSTFIX_PORT

# codes FROM_ADDR TO[,TO] - one swaks transaction from FROM_ADDR; prints
# each RCPT reply code, or "C" + the code when it was refused before any
# RCPT (at connect or HELO)
codes() {
	rg_smtp "$port" "$SENDER" "$2" --local-interface "$1" >/dev/null 2>&1
	if [ -n "$RG_SMTP_RCPTS" ]; then
		printf '%s\n' "$RG_SMTP_RCPTS" | cut -c1-3 | tr '\n' ' ' | sed 's/ $//'
	else
		printf 'C%s' "$(printf '%s\n' "$RG_SMTP_REPLIES" | grep -E '^(BANNER|EHLO|HELO|MAIL) [45]' | head -n 1 | cut -d' ' -f2)"
	fi
}

# 1. In one connection: one more relay try than client_limit.relay = 3
# starts the penalty; the next RCPT gets 450 4.7.1 at once.
mark=$(rg_log_mark)
rg_smtp_dialog "$port" "EHLO x.example.net" "MAIL FROM:<$SENDER>" \
	"RCPT TO:<v1@remote.example>" "RCPT TO:<v2@remote.example>" \
	"RCPT TO:<v3@remote.example>" "RCPT TO:<v4@remote.example>" \
	"RCPT TO:<alice@example.test>" "RCPT TO:<bob@example.test>" QUIT >"$tmp/dialog1"
rg_expect "relay tries then the penalty, in one connection" \
	"220 250 250 550 550 550 550 450 450 221" "$RG_DIALOG_CODES"
grep -q "^S: 450 4.7.1 Too many refused recipients" "$tmp/dialog1" ||
	rg_fail "the 450 carries reply.client_penalty_rcpt: $(cat "$tmp/dialog1")"
rg_log_wait "stage=rcpt action=tempfail rule=client_penalty_rcpt .*penalty_left=" 10 "$mark" >/dev/null ||
	rg_fail "no client_penalty_rcpt log line"
sleep 0.3
rg_expect "the RCPT penalty is logged once" 1 \
	"$(rg_log_since "$mark" | grep -c "rule=client_penalty_rcpt")"

# 2. A new client of that /24 is refused at connect.
rg_expect "another address of the penalised /24: 421 at connect" C421 \
	"$(codes 127.0.0.3 alice@example.test)"

# 3. The reconnecting harvester (harvest_limit = 3 per connection; five
# unknowns allowed across connections).
mark=$(rg_log_mark)
rg_expect "harvester, connection 1" "550 550 550" \
	"$(codes 127.0.2.9 n1@example.test,n2@example.test,n3@example.test)"
rg_expect "harvester, connection 2: the sixth unknown starts the penalty" \
	"550 550 550" "$(codes 127.0.2.9 n4@example.test,n5@example.test,n6@example.test)"
rg_expect "harvester, connection 3: 421 at connect" C421 \
	"$(codes 127.0.2.9 n7@example.test)"
rg_expect "harvester, connection 4 from a neighbour: 421" C421 \
	"$(codes 127.0.2.10 alice@example.test)"
rg_log_wait "stage=connect action=drop rule=client_penalty .*\[127\.0\.2\.9\]" 10 "$mark" >/dev/null ||
	rg_fail "no client_penalty line at connect for the harvester"
sleep 0.3
# once per penalised address or network: the harvester's address, then
# its network for the neighbour
rg_expect "the harvester's penalty is logged once" 1 \
	"$(rg_log_since "$mark" | grep "rule=client_penalty " | grep -c "\[127\.0\.2\.9\]")"
rg_expect "the network's penalty is logged once" 1 \
	"$(rg_log_since "$mark" | grep "rule=client_penalty " | grep -c "\[127\.0\.2\.10\]")"

# 4. The relay prober, one connection per try, from yet another /24.
rg_expect "prober 1" 550 "$(codes 127.0.1.5 v1@remote.example)"
rg_expect "prober 2" 550 "$(codes 127.0.1.5 v2@remote.example)"
rg_expect "prober 3" 550 "$(codes 127.0.1.5 v3@remote.example)"
rg_expect "prober 4 starts the penalty" 550 "$(codes 127.0.1.5 v4@remote.example)"
rg_expect "prober 5: 421 at connect" C421 "$(codes 127.0.1.5 v5@remote.example)"

# 5. A trusted client inside a penalised /24 is exempt.
rg_expect "a trusted client (127.0.0.2) may still relay" 250 \
	"$(codes 127.0.0.2 someone@remote.example)"

# 6. A reload keeps the memory (it lives outside the reloaded runtime).
rg_reload_relayguard "$conf" || rg_fail "reload failed"
rg_expect "after SIGHUP the prober is still penalised" C421 \
	"$(codes 127.0.1.5 alice@example.test)"

rg_stop_relayguard
# rows: 127.0.0.1 (rcpt), 127.0.0.0/24, 127.0.2.9, 127.0.2.0/24, 127.0.1.5
rg_expect "audit: one row per penalised address or network" 5 \
	"$("$SQLITE3_CLI" "$db" "SELECT COUNT(*) FROM verdicts WHERE rule LIKE 'client_penalty%'")"
rg_expect "audit: the rcpt penalty carries 450 4.7.1" 1 \
	"$("$SQLITE3_CLI" "$db" "SELECT COUNT(*) FROM verdicts WHERE rule = 'client_penalty_rcpt' AND code = 450 AND ecode = '4.7.1'")"
rg_expect "audit: connect penalties carry 421 4.7.0" 4 \
	"$("$SQLITE3_CLI" "$db" "SELECT COUNT(*) FROM verdicts WHERE rule = 'client_penalty' AND code = 421 AND ecode = '4.7.0'")"

# 7. A restart forgets.
rg_start_relayguard "$conf" "$RG_MILTER_SOCKET" || rg_fail "restart failed"
rg_expect "after a restart the prober is forgotten" 250 \
	"$(codes 127.0.1.5 alice@example.test)"
rg_done
