#!/bin/bash
# tests/bench/bench-audit-e2e.sh - end-to-end cost of the audit trail:
# messages/s through a real Postfix + relayguard with audit_db = none and
# with the SQLite audit trail on, alternately, in the same run
#
# Postfix (discard transport, tests/lib/mta.sh) in front of relayguard on
# a unix socket; Postfix's smtp-source sends MESSAGES messages of 5
# recipients each (all known: every verdict is an accept, the most rows),
# SESSIONS at a time.  Each message gives 8 verdicts (connect, helo, mail,
# 5 x rcpt), hence 8 audit rows.  Best of ROUNDS rounds per variant; the
# ratio is the figure to compare across machines.
#
# Usage: bench-audit-e2e.sh [MESSAGES [SESSIONS [ROUNDS]]]; needs root
# (Postfix), prints a report and RESULT lines for tests/bench/run-bench.sh.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/mta.sh"

messages=${1:-2000}
sessions=${2:-10}
rounds=${3:-3}
: "${SMTP_SOURCE:=$(command -v smtp-source || echo /usr/sbin/smtp-source)}"
rg_require "$RG_RELAYGUARD" "$POSTFIX" "$SMTP_SOURCE" "${SQLITE3_CLI:-sqlite3}"

tmp=$(rg_e2e_tmpdir)
for i in "" 1 2 3 4 5; do echo "${i}user@example.test"; done > "$tmp/recipients"
echo postmaster@example.test >> "$tmp/recipients"
conf="local_domains = example.test
directory = file:$tmp/recipients
harvest_limit = 0
client_track_size = 0
audit_flush_ms = 200"

# run VARIANT - one timed smtp-source run; sets RATE (messages/s)
run() {
	local t0 t1 db=$tmp/audit.$1.db
	rm -f "$db" "$db-wal" "$db-shm"
	if [ "$1" = on ]; then
		rg_start_relayguard "$conf
audit_db = $db" unix >&2 || exit 1
	else
		rg_start_relayguard "$conf
audit_db = none" unix >&2 || exit 1
	fi
	t0=$(date +%s.%N)
	"$SMTP_SOURCE" -s "$sessions" -m "$messages" -r 5 -t user@example.test \
		-f sender@client.example.net "127.0.0.1:$RG_POSTFIX_PORT" >&2 ||
		{ echo "smtp-source failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	rg_stop_relayguard
	if [ "$1" = on ]; then
		rows=$("${SQLITE3_CLI:-sqlite3}" -batch "$db" \
			"SELECT COUNT(*) FROM verdicts WHERE stage = 'rcpt' AND rule = 'local'")
		[ "$rows" -eq $((messages * 5)) ] ||
			{ echo "audit rows: $rows accepted rcpt rows, want $((messages * 5))" >&2; exit 1; }
	fi
	RATE=$(echo "$messages $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }')
}

# the MTA points at the socket relayguard will use for every restart
rg_start_relayguard "$conf
audit_db = none" unix >&2 || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" >&2 || exit 1
rg_stop_relayguard

echo "Postfix + relayguard (unix socket), smtp-source: $messages messages x 5"
echo "recipients, $sessions sessions, best of $rounds rounds per variant."
echo "Every message: 8 verdicts (connect, helo, mail, 5 rcpt) = 8 audit rows."
echo "1-minute load average at start: $(cut -d' ' -f1 /proc/loadavg)"
best_off=0 best_on=0 worst_off=999999
for r in $(seq 1 "$rounds"); do
	run off
	off=$RATE
	run on
	on=$RATE
	[ "$off" -gt "$best_off" ] && best_off=$off
	[ "$off" -lt "$worst_off" ] && worst_off=$off
	[ "$on" -gt "$best_on" ] && best_on=$on
	echo "round $r: audit off $off msg/s, audit on $on msg/s"
done
printf "audit_db = none:                %6d messages/s\n" "$best_off"
printf "audit on (SQLite, WAL):         %6d messages/s (%d audit rows/s)\n" \
	"$best_on" $((best_on * 8))
awk -v on="$best_on" -v off="$best_off" -v low="$worst_off" 'BEGIN {
	cost = (off - on) / off * 100
	spread = (off - low) / off * 100
	verdict = spread >= 5 ? "not decided by this run (noise above 5 %)" : \
		cost >= 5 ? "NOT met in this run" : "met"
	printf "audit on / audit off: %.3f (cost %.1f %%; aim under 5 %%: %s)\n",
		on / off, cost, verdict
	printf "round-to-round spread of audit off alone: %.1f %%%s\n", spread,
		(cost < spread && -cost < spread) ? \
		" (the difference is within it: noise)" : ""
}'
echo "RESULT audit_off_msgs_per_s=$best_off"
echo "RESULT audit_on_msgs_per_s=$best_on"
