#!/bin/bash
# tests/e2e/pg-fleet.sh - a fleet writes one PostgreSQL audit database:
# two relayguard daemons, as two MX hosts mx1 and mx2, each behind its own
# throwaway Postfix, write into one throwaway PostgreSQL 15 (tests/lib/pg.sh)
# under sustained SMTP load, with the defaults (audit_failure = spool).
#
#   - PostgreSQL is stopped for 20 s under that load, then started: mail
#     is neither refused nor delayed meanwhile (every session gets the
#     same replies, none takes long), the daemons log when it went away
#     and came back, with counts, SIGUSR1 shows the spool's depth;
#   - kill -9 of mx1 while its spool holds rows, then a restart: the
#     spool is sent;
#   - counted from the SMTP side, every MAIL and RCPT verdict of both
#     hosts is in the database exactly once, with its node.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"
. "$top_srcdir/tests/lib/pg.sh"

rg_e2e_require_root
rg_require "$RG_RELAYGUARD" "$POSTFIX" "${SQLITE3_CLI:-sqlite3}"
sqlite=${SQLITE3_CLI:-sqlite3}
tmp=$(rg_e2e_tmpdir)

rg_step "start PostgreSQL"
rg_pg_start "$tmp" || { rg_fail "PostgreSQL 15 cluster start"; rg_done; }
rg_pg_fleet_db fleet || { rg_fail "fleet database and roles"; rg_done; }
printf 'writer-pw\n' > "$tmp/writer.pw"
chmod 600 "$tmp/writer.pw"
q() { rg_pg_sql fleet "$1"; }
now_ms() { date +%s%3N; }

# conf NODE - the daemon's configuration as MX host NODE.  The load is
# one client probing for a relay in every session: without
# client_limit.relay = 0 the per-client memory would soon refuse it at
# connect (and audit only the first of those refusals).
conf() {
	rg_e2e_conf "audit_db = $(rg_pg_uri rg_writer fleet)" "client_limit.relay = 0" \
		"audit_password_file = $tmp/writer.pw" \
		"audit_spool = $tmp/spool.$1.db" "node = $1" "audit_flush_ms = 50"
}

declare -A pid log sock port
for node in mx1 mx2; do
	rg_start_relayguard "$(conf "$node")" inet || { rg_fail "$node: relayguard start"; rg_done; }
	pid[$node]=$RG_MILTER_PID log[$node]=$RG_MILTER_LOG sock[$node]=$RG_MILTER_SOCKET
	rg_start_postfix "${sock[$node]}" || { rg_fail "$node: postfix start"; rg_done; }
	port[$node]=$RG_POSTFIX_PORT
done

# session NODE I - one SMTP session: a local recipient (accepted) and a
# relay attempt (refused); prints "NODE START_MS END_MS CODES..."
session() {
	local t0 t1
	t0=$(now_ms)
	rg_smtp_dialog "${port[$1]}" "EHLO client$2.example.net" \
		"MAIL FROM:<s$2@client.example.net>" "RCPT TO:<alice@example.test>" \
		"RCPT TO:<victim$2@remote.test>" QUIT > /dev/null
	t1=$(now_ms)
	echo "$1 $t0 $t1 $RG_DIALOG_CODES"
}

# load NODE - sessions one after the other until $tmp/stop exists
load() {
	local i=0
	while [ ! -e "$tmp/stop" ] && [ "$i" -lt 5000 ]; do
		i=$((i + 1))
		session "$1" "$i"
	done >> "$tmp/sessions.$1"
}

# stats NODE - ask for the stats line, print it (5 s at most)
stats() {
	local before i
	before=$(grep -c 'audit: queued=' "${log[$1]}")
	kill -USR1 "${pid[$1]}"
	for i in $(seq 1 50); do
		[ "$(grep -c 'audit: queued=' "${log[$1]}")" -gt "$before" ] && break
		sleep 0.1
	done
	grep 'audit: queued=' "${log[$1]}" | tail -1
}

# wait_log NODE REGEX COUNT SECONDS - until REGEX has COUNT lines
wait_log() {
	local i
	for i in $(seq 1 $(( $4 * 10 ))); do
		[ "$(grep -cE "$2" "${log[$1]}")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- PostgreSQL away for 20 s under load ------------------------------------
rg_step "load on both MX hosts"
load mx1 & load1=$!
load mx2 & load2=$!
rg_e2e_on_exit "touch '$tmp/stop'; kill $load1 $load2 2>/dev/null"
sleep 2
rg_step "stop PostgreSQL for 20 s"
away=$(now_ms)
rg_pg_stop
for node in mx1 mx2; do
	wait_log "$node" 'keeping verdicts in the spool' 1 15 ||
		rg_fail "$node: no log line that PostgreSQL went away"
done
sleep 8
for node in mx1 mx2; do
	rg_expect_match "$node: SIGUSR1 shows the spool while PostgreSQL is away" \
		"$(stats "$node")" 'state=spooling store=postgresql spool=[1-9][0-9]*$'
done
left=$(( 20 - ($(now_ms) - away) / 1000 ))
[ "$left" -gt 0 ] && sleep "$left"
rg_step "start PostgreSQL again"
rg_pg_start_again || rg_fail "PostgreSQL restart"
back=$(now_ms)
sleep 2
touch "$tmp/stop"
rg_wait_pid "$load1" 30; rg_wait_pid "$load2" 30
for node in mx1 mx2; do
	wait_log "$node" 'spool empty, [0-9]+ verdicts replayed' 1 60 ||
		rg_fail "$node: the spool did not drain"
	rg_expect_match "$node: the log says when it went away, with the spool's count" \
		"$(grep -m1 'keeping verdicts in the spool' "${log[$node]}")" \
		'^relayguard\[[0-9]+\]: audit: PostgreSQL rg_writer@127.0.0.1:[0-9]+/fleet: .*; keeping verdicts in the spool .*spool\.'$node'\.db until PostgreSQL is back \(audit_failure = spool; [1-9][0-9]* in the spool\)$'
	rg_expect_match "$node: ... and when it came back, with counts" \
		"$(grep -m1 ' is back after ' "${log[$node]}")" \
		'^relayguard\[[0-9]+\]: audit: PostgreSQL rg_writer@127.0.0.1:[0-9]+/fleet is back after (19|2[0-9]|3[0-9]) s: [1-9][0-9]* verdicts spooled meanwhile; replaying the [1-9][0-9]* in the spool$'
	rg_expect "$node: no row diverted to the log" "$(grep -c 'audit: diverted' "${log[$node]}")" 0
	outage=$(awk -v a="$away" -v b="$back" '$2 >= a && $3 <= b' "$tmp/sessions.$node" | wc -l)
	rg_expect_match "$node: sessions ran while PostgreSQL was away ($outage)" "$outage" '^[1-9][0-9]*$'
	rg_expect "$node: every session got the same replies, none refused or deferred" \
		"$(cut -d' ' -f4- "$tmp/sessions.$node" | sort -u)" "220 250 250 250 550 221"
	slowest=$(awk -v a="$away" -v b="$back" '$2 >= a && $3 <= b { d = $3 - $2; if (d > m) m = d } END { print m + 0 }' "$tmp/sessions.$node")
	if [ "$slowest" -lt 5000 ]; then
		rg_pass "$node: no session delayed while PostgreSQL was away (slowest $slowest ms)"
	else
		rg_fail "$node: a session took $slowest ms while PostgreSQL was away"
	fi
done

# --- kill -9 with rows in the spool, then a restart ----------------------------
rg_step "stop PostgreSQL, sessions on mx1, kill -9 mx1"
rg_pg_stop
for i in $(seq 1 6); do session mx1 "k$i" >> "$tmp/sessions.mx1"; done
for i in $(seq 1 50); do
	line=$(stats mx1)
	case "$line" in
	*" pending=0 "*"spool=0") ;;
	*" pending=0 "*"spool="*) break ;;
	esac
	sleep 0.2
done
spooled=${line##*spool=}
rg_expect_match "mx1: the spool holds the last sessions' rows before kill -9 ($spooled)" \
	"$spooled" '^([3-9][0-9]|[1-9][0-9]{2,})$'
kill -9 "${pid[mx1]}"
rg_wait_gone "${pid[mx1]}" 10
rg_pg_start_again || rg_fail "PostgreSQL restart"
RG_MILTER_PID=""
rg_start_relayguard "$(conf mx1)" "${sock[mx1]}" || rg_fail "mx1: restart"
pid[mx1]=$RG_MILTER_PID log[mx1]=$RG_MILTER_LOG
wait_log mx1 'spool empty, [0-9]+ verdicts replayed' 1 60 ||
	rg_fail "mx1: the spool left by kill -9 was not sent"
rg_expect_match "mx1: the restart says what it found in the spool" \
	"$(grep -m1 'verdicts left in the spool' "${log[mx1]}")" "replaying the $spooled verdicts left in the spool"
for i in $(seq 1 2); do session mx1 "r$i" >> "$tmp/sessions.mx1"; done

# --- every verdict exactly once, with its node ----------------------------------
rg_step "stop the daemons (their queues flush), count"
for node in mx1 mx2; do
	kill -TERM "${pid[$node]}"
	rg_wait_gone "${pid[$node]}" 30 || rg_fail "$node: did not stop"
done
for node in mx1 mx2; do
	sessions=$(wc -l < "$tmp/sessions.$node")
	rg_expect "$node: MAIL rows = MAIL commands answered ($sessions)" \
		"$(q "SELECT COUNT(*) FROM verdicts WHERE node = '$node' AND stage = 'mail'")" "$sessions"
	rg_expect "$node: RCPT rows = RCPT commands answered ($((2 * sessions)))" \
		"$(q "SELECT COUNT(*) FROM verdicts WHERE node = '$node' AND stage = 'rcpt'")" "$((2 * sessions))"
	rg_expect "$node: the relay attempts, refused" \
		"$(q "SELECT COUNT(*) FROM verdicts WHERE node = '$node' AND stage = 'rcpt'
			AND rule = 'relay' AND action = 'reject' AND code = 550")" "$sessions"
	rg_expect "$node: spool empty" "$("$sqlite" -batch "$tmp/spool.$node.db" 'SELECT COUNT(*) FROM spool')" 0
done
rg_expect "no verdict twice (node, session, stage, recipient, time)" \
	"$(q "SELECT COUNT(*) FROM (SELECT 1 FROM verdicts GROUP BY node, session_id,
		stage, rcpt, time HAVING COUNT(*) > 1) AS d")" 0
rg_expect "no row key twice" "$(q 'SELECT COUNT(*) - COUNT(DISTINCT row_key) FROM verdicts')" 0
rg_expect "every row names its MX" "$(q "SELECT string_agg(DISTINCT node, ',') FROM verdicts")" "mx1,mx2"
rg_done
