#!/bin/bash
# tests/integration/pg-store.sh - the PostgreSQL audit sink and reader against a
# real PostgreSQL 15 (a throwaway cluster, tests/lib/pg.sh), driven through
# the writer's own API (audit-load):
#   - a wrong password, a missing table, a read-only role: a log line
#     naming the problem, every row kept in the local spool, none
#     refused (mail would flow); sent later, each exactly once, also when
#     a spool is replayed twice (a crash between PostgreSQL's commit and
#     the spool's delete);
#   - hostile client text arrives intact (quotes, backslashes, control
#     bytes, a 64 KiB address) or cleanly escaped (invalid UTF-8), and a
#     row the database refuses (a CHECK constraint) goes to the log
#     without holding back the rows of its batch;
#   - relayguard-audit answers every command the same from SQLite and
#     from PostgreSQL holding the same rows, --node included; it cannot
#     write through its session;
#   - a real daemon's alert (a trusted client over trusted_limit.hour,
#     through miltertest) reaches the alerts table, reads back through
#     relayguard-audit alerts exactly as from SQLite holding the same row,
#     and one raised while PostgreSQL is stopped waits in the spool and
#     arrives exactly once when it is back, also when a copy of that
#     spool is replayed again.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/pg.sh"

load=$top_builddir/tests/lib/audit-load
audit=$top_builddir/src/programs/relayguard-audit
sqlite=${SQLITE3_CLI:-sqlite3}
rg_require "$load" "$audit" "$sqlite"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-pg-store.XXXXXX") || exit 1
rg_pid=
trap "[ -z \"\$rg_pid\" ] || kill \$rg_pid 2>/dev/null; [ -n \"\${KEEP:-}\" ] || rm -rf \"\$tmp\"" EXIT
rg_step "start PostgreSQL"
rg_pg_start "$tmp" || { rg_fail "PostgreSQL 15 cluster start"; rg_done; }
rg_pg_fleet_db fleet || { rg_fail "fleet database and roles"; rg_done; }
rg_pg_sql postgres "CREATE DATABASE empty" || rg_fail "empty database"
printf 'writer-pw\n' > "$tmp/writer.pw"
printf 'not-the-password\n' > "$tmp/wrong.pw"
printf 'reader-pw\n' > "$tmp/reader.pw"
chmod 600 "$tmp"/*.pw
writer=$(rg_pg_uri rg_writer fleet)
reader=$(rg_pg_uri rg_reader fleet)
q() { rg_pg_sql fleet "$1"; }
# field NAME FILE - NAME=N from the driver's "done" line
field() { sed -n "s/^done .*[ ]$1=\([0-9]*\).*/\1/p" "$2"; }

# --- the database refuses: rows wait in the spool ----------------------------
# fault NAME URI PASSWORD_FILE NODE REGEX - 300 rows that cannot reach
# PostgreSQL: every one in the spool, none refused, the reason logged
fault() {
	local name=$1 uri=$2 pw=$3 node=$4 regex=$5
	rg_step "$name"
	timeout 60 "$load" -d "$uri" -P "$pw" -S "$tmp/spool.$node.db" -F spool \
		-N "$node" -n 300 -t 2 -s 3600 > "$tmp/$node.out" 2> "$tmp/$node.err"
	rg_expect "$name: the driver finished" "$?" 0
	rg_expect_match "$name: the log names the problem" \
		"$(grep -m1 'keeping verdicts in the spool' "$tmp/$node.err")" "$regex"
	rg_expect "$name: no row refused (mail flows)" "$(field refused "$tmp/$node.out")" 0
	rg_expect "$name: no row diverted" "$(field diverted "$tmp/$node.out")" 0
	rg_expect "$name: all 300 rows in the spool" \
		"$("$sqlite" -batch "$tmp/spool.$node.db" 'SELECT COUNT(*) FROM spool')" 300
	rg_expect_match "$name: the stats show the spool" "$(tail -1 "$tmp/$node.out")" \
		'state=spooling .*spool=300'
}
fault "wrong password" "$writer" "$tmp/wrong.pw" mx-a \
	'password authentication failed for user "rg_writer"'
fault "missing table" "$(rg_pg_uri rg_writer empty)" "$tmp/writer.pw" mx-b \
	'table relayguard_schema missing, and creating the schema failed .*permission denied'
fault "read-only role" "$reader" "$tmp/reader.pw" mx-c \
	'permission denied for table verdicts'
rg_expect "nothing reached PostgreSQL meanwhile" "$(q 'SELECT COUNT(*) FROM verdicts')" 0

# audit_failure = tempfail keeps its meaning: rows are refused (the milter
# defers the mail) while PostgreSQL cannot take them; none is lost
rg_step "tempfail, wrong password"
timeout 60 "$load" -d "$writer" -P "$tmp/wrong.pw" -S "$tmp/spool.tf.db" -F tempfail \
	-N mx-t -n 300 -t 2 -s 3600 > "$tmp/tf.out" 2> "$tmp/tf.err"
rg_expect "tempfail: the driver finished" "$?" 0
rg_expect_match "tempfail: rows refused, so mail would be deferred" \
	"$(field refused "$tmp/tf.out")" '^[1-9][0-9]*$'
rg_expect "tempfail: the others kept in the spool, none lost" \
	"$(( $(field refused "$tmp/tf.out") + $("$sqlite" -batch "$tmp/spool.tf.db" 'SELECT COUNT(*) FROM spool') ))" 300
rg_expect_match "tempfail: the log says mail is deferred" \
	"$(grep -m1 'keeping verdicts in the spool' "$tmp/tf.err")" 'audit_failure = tempfail: mail is deferred meanwhile'
# switched to audit_failure = continue, the daemon still sends what the
# spool holds
tf_spooled=$("$sqlite" -batch "$tmp/spool.tf.db" 'SELECT COUNT(*) FROM spool')
timeout 60 "$load" -R -F continue -d "$writer" -P "$tmp/writer.pw" -S "$tmp/spool.tf.db" \
	-N mx-t > "$tmp/tf2.out" 2> "$tmp/tf2.err"
rg_expect "continue: the spool a tempfail run left is sent all the same" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-t'") $("$sqlite" -batch "$tmp/spool.tf.db" 'SELECT COUNT(*) FROM spool')" \
	"$tf_spooled 0"
q "DELETE FROM verdicts WHERE node = 'mx-t'" > /dev/null

# --- the spools are sent, each row exactly once ------------------------------
cp "$tmp/spool.mx-a.db" "$tmp/copy.db"
for node in mx-a mx-b mx-c; do
	rg_step "replay the spool of $node"
	timeout 90 "$load" -R -F spool -d "$writer" -P "$tmp/writer.pw" \
		-S "$tmp/spool.$node.db" -N "$node" > "$tmp/replay.$node.out" 2> "$tmp/replay.$node.err"
	rg_expect "$node: replayed 300" "$(sed -n 's/.* replayed=\([0-9]*\)$/\1/p' "$tmp/replay.$node.out")" 300
	rg_expect "$node: spool empty" \
		"$("$sqlite" -batch "$tmp/spool.$node.db" 'SELECT COUNT(*) FROM spool')" 0
	rg_expect_match "$node: the log says the spool drained" \
		"$(cat "$tmp/replay.$node.err")" 'spool empty, 300 verdicts replayed'
done
rg_step "replay a copy of a spool already sent"
timeout 90 "$load" -R -F spool -d "$writer" -P "$tmp/writer.pw" -S "$tmp/copy.db" -N mx-a \
	> "$tmp/replay.copy.out" 2>&1
rg_expect "every row once per node, the copy added nothing" \
	"$(q "SELECT string_agg(node || '=' || n, ',' ORDER BY node) FROM
		(SELECT node, COUNT(*) AS n FROM verdicts GROUP BY node) AS c")" \
	"mx-a=300,mx-b=300,mx-c=300"
rg_expect "row keys unique" "$(q 'SELECT COUNT(DISTINCT row_key) FROM verdicts')" 900
rg_expect "in order: ids follow the order the rows were queued in, per node" \
	"$(q "SELECT COUNT(*) FROM (SELECT row_key < lag(row_key) OVER (PARTITION BY node
		ORDER BY id) AS back FROM verdicts) AS o WHERE back")" 0

# --- hostile values, and one row the database refuses -------------------------
rg_step "hostile rows, a CHECK constraint refusing one row in 50"
rg_pg_sql fleet "ALTER TABLE verdicts ADD CONSTRAINT no_reject_me
	CHECK (rcpt IS NULL OR rcpt NOT LIKE '%reject-me%')" || rg_fail "constraint"
timeout 60 "$load" -H -F spool -d "$writer" -P "$tmp/writer.pw" -S "$tmp/spool.h.db" -N mx-h \
	-n 400 -t 1 -b 100 > "$tmp/h.out" 2> "$tmp/h.err"
rg_expect "hostile: the driver finished" "$?" 0
# rows 7, 57, ... 357 say reject-me: four of the control-byte helos and
# four of the 64 KiB addresses are among them
rg_expect "hostile: the 392 good rows committed, around the refused ones" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h'")" 392
rg_expect "hostile: the 8 refused rows went to the log" \
	"$(grep -c '^audit: diverted: .*reject-me' "$tmp/h.err")" 8
rg_expect_match "hostile: and the log says why" \
	"$(grep -m1 'refused one row' "$tmp/h.err")" 'violates check constraint "no_reject_me"'
rg_expect "hostile: nothing spooled for a refused row" \
	"$("$sqlite" -batch "$tmp/spool.h.db" 'SELECT COUNT(*) FROM spool')" 0
rg_expect "hostile: quotes and backslashes intact" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h' AND helo = E'quote\\'d\"helo\\\\back'
		AND sender = E'<o\\'brien\\\\\"x\"@example.net>'")" 100
rg_expect "hostile: control bytes intact" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h' AND helo = E'ctl\\x01\\x1b[31m\\x7f'")" 96
rg_expect "hostile: 64 KiB addresses intact" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h' AND length(rcpt) = 65536
		AND rcpt LIKE '<aaaa%@example.org>'")" 96
rg_expect "hostile: invalid UTF-8 escaped, as text_unescape reads it" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h' AND helo = 'bad\\xff\\xfe\\xc3(utf8'")" 100
rg_expect "hostile: invalid UTF-8 in the trace, the rest of it kept" \
	"$(q "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-h'
		AND trace = 'tab\\x09here; \\xc0\\xafoverlong; \\xed\\xa0\\x80surrogate'")" 100
rg_pg_sql fleet "ALTER TABLE verdicts DROP CONSTRAINT no_reject_me"

# --- relayguard-audit: the same answers from both stores ------------------------
rg_step "the same 3000 rows into SQLite and PostgreSQL"
rg_pg_fleet_db same || rg_fail "second database"
base=$(( ($(date +%s) - 7200) * 1000 ))
timeout 60 "$load" -T "$base" -s 3600 -t 1 -n 3000 -N mx-s -d "$tmp/same.db" > /dev/null 2>&1
timeout 60 "$load" -T "$base" -s 3600 -t 1 -n 3000 -N mx-s -F spool \
	-d "$(rg_pg_uri rg_writer same)" \
	-P "$tmp/writer.pw" -S "$tmp/spool.s.db" > /dev/null 2>&1
pgdb=$(rg_pg_uri rg_reader same)
since=$(date -u -d "@$(( base / 1000 + 600 ))" +%Y-%m-%dT%H:%MZ)
until=$(date -u -d "@$(( base / 1000 + 2400 ))" +%Y-%m-%dT%H:%MZ)
n=0
while IFS= read -r args; do
	n=$((n + 1))
	eval "set -- $args"
	"$audit" -d "$tmp/same.db" "$@" > "$tmp/lite.$n" 2>&1
	"$audit" -d "$pgdb" -p "$tmp/reader.pw" "$@" > "$tmp/pg.$n" 2>&1
	if [ -s "$tmp/lite.$n" ] && cmp -s "$tmp/lite.$n" "$tmp/pg.$n"; then
		rg_pass "same answer: $args ($(wc -l < "$tmp/lite.$n") lines)"
	else
		rg_fail "different answers: $args"
		diff "$tmp/lite.$n" "$tmp/pg.$n" | head -5 >&2
	fi
done <<ARGS
summary
summary --since $since --until $until --node mx-s
top clients -n 5
top senders --node mx-s
top recipients -n 8 --since $since
search --rule relay --limit 40
search --client 198.51.100.13 --limit 20 --node mx-s
search --client 'host3*' --action reject --limit 20
search --sender '<>' --rcpt 'victim1*' --limit 20
search --sender '"smith, john"@partner.test' --limit 10
search --session L00000100
relay-attempts --limit 30 --since $since
tail -n 15
export --format csv --since $since --until $until
export --format json --node mx-s
schema
ARGS
rg_expect "another node: no rows from either store" \
	"$("$audit" -d "$tmp/same.db" search --node mx-other | wc -l) $("$audit" -d "$pgdb" -p "$tmp/reader.pw" search --node mx-other | wc -l)" "0 0"
sv=$("$audit" -V | sed -n 's/.*(schema version \([0-9]*\)).*/\1/p')
rg_expect "the schema command: this relayguard's version" "$(cat "$tmp/pg.$n")" \
	"schema version $sv (this relayguard-audit: $sv)"

# read-only: the session refuses a write even for a role that may write
rg_expect_match "relayguard-audit's session is read-only" \
	"$("$audit" -d "$(rg_pg_uri rg_writer same)" -p "$tmp/writer.pw" search \
		--session "x'); INSERT INTO verdicts (time, row_key) VALUES (now(), 'x'); --" 2>&1;
	   rg_pg_sql same 'SELECT COUNT(*) FROM verdicts')" '^3000$'
rg_expect_match "a wrong password: a clear message" \
	"$("$audit" -d "$pgdb" -p "$tmp/wrong.pw" summary 2>&1)" \
	'^relayguard-audit: PostgreSQL rg_reader@127.0.0.1:[0-9]+/same: cannot connect: .*password authentication failed'
rg_expect_match "not an audit database: a clear message" \
	"$("$audit" -d "$(rg_pg_uri rg_reader empty)" -p "$tmp/reader.pw" summary 2>&1)" \
	'not a relayguard audit database \(no relayguard_schema table\)'

# --- alerts from a real daemon ------------------------------------------------
rg_step "alerts: a daemon writing PostgreSQL"
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
rg_require "$MILTERTEST" "$top_builddir/src/programs/relayguard"
rg_pg_fleet_db alerts || rg_fail "alerts database"
mport=$(rg_free_port)
printf 'alice@example.test\n' > "$tmp/recipients"
cat > "$tmp/alert.conf" <<EOF
socket = inet:$mport@127.0.0.1
local_domains = example.test
directory = file:$tmp/recipients
trusted_networks = 192.0.2.0/24
trusted_limit.hour = 2
trusted_limit.day = 0
trusted_limit_action = alert
audit_db = $(rg_pg_uri rg_writer alerts)
audit_password_file = $tmp/writer.pw
audit_spool = $tmp/spool.alert.db
audit_failure = spool
audit_flush_ms = 50
node = mx-alert
allow_root = yes
EOF
"$top_builddir/src/programs/relayguard" -c "$tmp/alert.conf" -f -s 2> "$tmp/alert.log" &
rg_pid=$!
rg_wait_port "$mport" 10 || rg_fail "the daemon did not start: $(tail -3 "$tmp/alert.log")"
# alert CLIENT - one session over the limit from CLIENT
alert() {
	RG_SOCKET="inet:$mport@127.0.0.1" RG_LUA_DIR=$top_srcdir/tests/integration/lua \
	RG_CLIENT=$1 timeout 30 "$MILTERTEST" -s "$top_srcdir/tests/integration/lua/pg-alert.lua" \
		> "$tmp/alert.$1.out" 2>&1 || { rg_fail "miltertest from $1"; cat "$tmp/alert.$1.out" >&2; }
}
# wait_sql SQL WANT - poll PostgreSQL (10 s at most) until SQL gives WANT
wait_sql() {
	local i
	for i in $(seq 1 100); do
		[ "$(rg_pg_sql alerts "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
alerts_n="SELECT COUNT(*) FROM alerts"
alert 192.0.2.10
wait_sql "$alerts_n" 1 || rg_fail "the alert did not reach PostgreSQL"
rg_expect "alerts: the row, with node and row key" \
	"$(rg_pg_sql alerts "SELECT kind, account, limit_name, count, max, window_seconds,
		action, client_addr, sender, rcpt, node, row_key LIKE 'mx-alert/%' FROM alerts")" \
	"trusted|192.0.2.10|hour|3|2|3600|alert|192.0.2.10|<app@example.net>|<r3@remote.example>|mx-alert|t"
rg_expect "alerts: no start-up notice that alerts miss PostgreSQL" \
	"$(grep -c 'alerts go to the log and alert_command' "$tmp/alert.log")" 0

# the same row in an SQLite audit database: relayguard-audit reads both alike
timeout 30 "$load" -n 1 -t 1 -d "$tmp/alerts.db" > /dev/null 2>&1 ||
	rg_fail "an SQLite audit database"
rg_pg_sql alerts "SELECT format('INSERT INTO alerts (time, kind, account,
	limit_name, count, max, window_seconds, action, session_id, queue_id,
	client_addr, client_name, sender, rcpt, node, row_key) VALUES
	(%L, %L, %L, %L, %s, %s, %s, %L, %L, %L, %L, %L, %L, %L, %L, %L);', time,
	kind, account, limit_name, count, max, window_seconds, action, session_id,
	queue_id, client_addr, client_name, sender, rcpt, node, row_key)
	FROM alerts" | "$sqlite" -batch "$tmp/alerts.db" || rg_fail "copy into SQLite"
"$audit" -d "$tmp/alerts.db" alerts > "$tmp/alerts.lite" 2>&1
"$audit" -d "$(rg_pg_uri rg_reader alerts)" -p "$tmp/reader.pw" alerts > "$tmp/alerts.pg" 2>&1
if [ "$(wc -l < "$tmp/alerts.lite")" = 1 ] && cmp -s "$tmp/alerts.lite" "$tmp/alerts.pg"; then
	rg_pass "alerts: relayguard-audit alerts, the same line from both stores"
else
	rg_fail "alerts: relayguard-audit alerts differs"
	diff "$tmp/alerts.lite" "$tmp/alerts.pg" >&2
fi
rg_expect_match "alerts: the line" "$(cat "$tmp/alerts.pg")" \
	' mx-alert alert: kind=trusted account=192\.0\.2\.10 limit=hour count=3 max=2 window=3600 action=alert .*to=<r3@remote\.example>$'

rg_step "alerts: one raised while PostgreSQL is stopped"
rg_pg_stop
alert 192.0.2.11
spooled=""
for i in $(seq 1 100); do
	spooled=$("$sqlite" -batch "$tmp/spool.alert.db" 'SELECT COUNT(*) FROM spool WHERE alert IS NOT NULL' 2>/dev/null)
	[ "$spooled" = 1 ] && break
	sleep 0.1
done
rg_expect "alerts: the alert waits in the spool" "$spooled" 1
"$sqlite" -batch "$tmp/spool.alert.db" ".backup '$tmp/spool.alert-copy.db'"
rg_pg_start_again || rg_fail "PostgreSQL start again"
wait_sql "$alerts_n" 2 || rg_fail "the spooled alert did not arrive"
for i in $(seq 1 100); do
	[ "$("$sqlite" -batch "$tmp/spool.alert.db" 'SELECT COUNT(*) FROM spool')" = 0 ] && break
	sleep 0.1
done
kill "$rg_pid"; rg_wait_pid "$rg_pid" 10; rg_pid=
timeout 60 "$load" -R -F spool -d "$(rg_pg_uri rg_writer alerts)" -P "$tmp/writer.pw" \
	-S "$tmp/spool.alert-copy.db" -N mx-alert > /dev/null 2>&1
rg_expect "alerts: each exactly once, a copy of the spool replayed again added nothing" \
	"$(rg_pg_sql alerts "SELECT string_agg(account || '=' || n, ',' ORDER BY account) FROM
		(SELECT account, COUNT(*) AS n FROM alerts GROUP BY account) AS c")" \
	"192.0.2.10=1,192.0.2.11=1"
rg_expect "alerts: the RCPT verdicts of both sessions too" \
	"$(rg_pg_sql alerts "SELECT COUNT(*) FROM verdicts WHERE node = 'mx-alert' AND stage = 'rcpt'")" 6

rg_pg_stop
rg_done
