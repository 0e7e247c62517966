#!/bin/bash
# tests/integration/audit-kill9.sh - kill -9 the writer under load: the database passes
# PRAGMA integrity_check and holds every row the writer had committed
#
# The load driver (tests/lib/audit-load) submits rows from four threads
# through the real writer and prints "committed N" each time the writer's
# committed counter moves (after COMMIT returned).  It is killed with
# SIGKILL at a random moment, three times over the same database; each
# time the real sqlite3 shell must find an intact database with at least
# the rows counted before plus the last committed figure the driver
# printed.  Rows still queued or inside the last flush window may be
# lost, by design; committed ones may not.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
load=$top_builddir/tests/lib/audit-load
rg_require "$sqlite" "$load"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-audit-kill9.XXXXXX") || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
db=$tmp/audit.db

for round in 1 2 3; do
	before=$("$sqlite" -batch "$db" 'SELECT COUNT(*) FROM verdicts' 2>/dev/null || echo 0)
	"$load" -d "$db" -n 0 -t 4 -f 200 > "$tmp/out.$round" 2> "$tmp/err.$round" &
	pid=$!
	# wait until a few batches are committed, then a random extra delay
	for i in $(seq 1 200); do
		last=$(grep '^committed' "$tmp/out.$round" | tail -1 | cut -d' ' -f2)
		[ -n "$last" ] && [ "$last" -ge 20000 ] && break
		sleep 0.05
	done
	sleep "0.$((RANDOM % 9 + 1))"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	pid=
	committed=$(grep '^committed' "$tmp/out.$round" | tail -1 | cut -d' ' -f2)
	if [ -z "$committed" ] || [ "$committed" -lt 20000 ]; then
		rg_fail "round $round: the driver reported only '${committed}' committed rows"
		continue
	fi
	rg_expect "round $round: integrity_check" \
		"$("$sqlite" -batch "$db" 'PRAGMA integrity_check')" ok
	rows=$("$sqlite" -batch "$db" 'SELECT COUNT(*) FROM verdicts')
	if [ "$rows" -ge $((before + committed)) ]; then
		rg_pass "round $round: $rows rows >= $before before + $committed committed"
	else
		rg_fail "round $round: $rows rows < $before before + $committed committed"
	fi
	rg_expect "round $round: schema version" \
		"$("$sqlite" -batch "$db" 'PRAGMA user_version')" \
		"$("$top_builddir/src/programs/relayguard-audit" -V | sed -n 's/.*(schema version \([0-9]*\)).*/\1/p')"
done
rg_expect "no row diverted or refused meanwhile" \
	"$(cat "$tmp"/err.* | grep -c 'diverted')" 0
rg_done
