#!/bin/bash
# tests/integration/audit-cli.sh - relayguard-audit against a database the real writer
# filled (tests/lib/audit-load), every figure checked against the real
# sqlite3 shell; error messages and exit codes
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
audit=$top_builddir/src/programs/relayguard-audit
load=$top_builddir/tests/lib/audit-load
rg_require "$sqlite" python3 "$audit" "$load"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-audit-cli.XXXXXX") || exit 1
tail_pid=
cleanup() {
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
db=$tmp/audit.db

# sql QUERY - one value from the real sqlite3 shell, read-only
sql() { "$sqlite" -readonly -batch -noheader "$db" "$1"; }

# 20,000 rows spread over the last week, four submitting threads
"$load" -d "$db" -n 20000 -t 4 -s 604800 > "$tmp/load.out" 2> "$tmp/load.err"
rg_expect "load driver exit" "$?" 0
rg_expect_match "load driver committed everything" "$(tail -1 "$tmp/load.out")" \
	'written=20000 diverted=0'
rg_expect "rows in the database" "$(sql 'SELECT COUNT(*) FROM verdicts')" 20000

# --- docs/audit.md documents exactly the schema the writer creates ----------
doc=$top_srcdir/docs/audit.md
rg_expect "docs/audit.md: columns of verdicts, in order" \
	"$(sed -n '/<!-- columns begin -->/,/<!-- columns end -->/s/^| `\([a-z_]*\)`.*/\1/p' "$doc" | paste -sd,)" \
	"$(sql "SELECT group_concat(name, ',') FROM pragma_table_info('verdicts')")"
rg_expect "docs/audit.md: views" \
	"$(sed -n '/<!-- views begin -->/,/<!-- views end -->/s/^| `\([a-z_]*\)`.*/\1/p' "$doc" | sort | paste -sd,)" \
	"$(sql "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name)")"
rg_expect "docs/audit.md: schema version" \
	"$(sed -n 's/^Version \([0-9]*\)\. The table.*/\1/p' "$doc")" "$(sql 'PRAGMA user_version')"

# --- summary: every (rule, action) count equals COUNT(*) --------------------
"$audit" -d "$db" summary > "$tmp/summary"
rg_expect "summary exit" "$?" 0
sql "SELECT rule || ' ' || action || ' ' || COUNT(*) FROM verdicts
     GROUP BY rule, action ORDER BY 1" > "$tmp/want"
awk 'NR > 1 && $1 != "total" { print $1, $2, $3 }' "$tmp/summary" | sort > "$tmp/got"
rg_expect "summary counts = COUNT(*) per rule and action" \
	"$(cat "$tmp/got")" "$(sort "$tmp/want")"
rg_expect "summary total" "$(awk '$1 == "total" { print $2 }' "$tmp/summary")" 20000

# a window given with absolute UTC times taken from the data
t1=$(sql "SELECT time FROM verdicts ORDER BY time LIMIT 1 OFFSET 5000")
t2=$(sql "SELECT time FROM verdicts ORDER BY time LIMIT 1 OFFSET 12000")
want=$(sql "SELECT COUNT(*) FROM verdicts WHERE time >= '$t1' AND time < '$t2'")
got=$("$audit" -d "$db" summary --since "$t1" --until "$t2" | awk '$1 == "total" { print $2 }')
rg_expect "summary --since/--until ($t1 .. $t2)" "$got" "$want"
want=$(sql "SELECT COUNT(*) FROM verdicts WHERE rule = 'relay' AND time >= '$t1'")
got=$("$audit" -d "$db" summary --since "$t1" | awk '$1 == "relay" { print $3 }')
rg_expect "summary --since, relay row" "$got" "$want"
# relative: 2d ago (the data spans 7 days; allow for the clock moving on)
want=$(sql "SELECT COUNT(*) FROM verdicts WHERE time >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 days')")
got=$("$audit" -d "$db" summary --since 2d | awk '$1 == "total" { print $2 }')
if [ -n "$got" ] && [ "$got" -ge $((want - 5)) ] && [ "$got" -le $((want + 5)) ] && [ "$want" -gt 0 ]; then
	rg_pass "summary --since 2d ($got ~ $want)"
else
	rg_fail "summary --since 2d: got '$got', want about $want"
fi

# --- top ---------------------------------------------------------------------
"$audit" -d "$db" top clients -n 3 > "$tmp/top"
rg_expect "top clients -n 3: 3 entries" "$(($(wc -l < "$tmp/top") - 1))" 3
want=$(sql "SELECT SUM(action != 'accept') || ' ' || COUNT(*) || ' ' ||
	MAX(client_name) || '[' || client_addr || ']' FROM verdicts
	GROUP BY client_addr ORDER BY SUM(action != 'accept') DESC, COUNT(*) DESC,
	client_addr LIMIT 1")
rg_expect "top clients: first entry" "$(sed -n 2p "$tmp/top" | awk '{ print $1, $2, $3 }')" "$want"
want=$(sql "SELECT SUM(action != 'accept') FROM verdicts WHERE stage = 'rcpt'
	AND COALESCE(rcpt_normalized, rcpt) = (SELECT COALESCE(rcpt_normalized, rcpt)
	FROM verdicts WHERE stage = 'rcpt' GROUP BY 1 ORDER BY SUM(action != 'accept')
	DESC, COUNT(*) DESC, 1 LIMIT 1)")
rg_expect "top recipients: first count" \
	"$("$audit" -d "$db" top recipients -n 1 | awk 'NR == 2 { print $1 }')" "$want"
rg_expect "top senders: 4 senders" \
	"$("$audit" -d "$db" top senders | tail -n +2 | wc -l)" 4

# --- search ------------------------------------------------------------------
n() { "$audit" -d "$db" search "$@" | wc -l; }
rg_expect "search --rule relay --client ADDR" \
	"$(n --rule relay --client 198.51.100.13)" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE rule = 'relay' AND client_addr = '198.51.100.13'")"
rg_expect "search --client 'host3*' (name pattern)" \
	"$(n --client 'host3*')" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE client_name = 'host3.example.net'")"
rg_expect "search --sender ceo@example.org (without brackets)" \
	"$(n --sender ceo@example.org)" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE sender = '<ceo@example.org>'")"
rg_expect "search --sender '' (blank sender)" \
	"$(n --sender '')" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE sender = '<>'")"
rg_expect "search --rcpt victim7@spammail.test --action reject" \
	"$(n --rcpt victim7@spammail.test --action reject)" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE rcpt_normalized = 'victim7@spammail.test' AND action = 'reject'")"
sid=$(sql "SELECT session_id FROM verdicts WHERE id = 4242")
rg_expect "search --session $sid" "$(n --session "$sid")" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE session_id = '$sid'")"
rg_expect "search --limit 5" "$(n --rule unknown --limit 5)" 5
rg_expect "search: a wildcard-free % is literal" "$(n --sender '%')" 0
line=$("$audit" -d "$db" search --session "$sid" --limit 1)
rg_expect_match "search line format" "$line" \
	"^20[0-9-]{8}T[0-9:.]{12}Z [A-Za-z0-9]+: session=$sid stage=[a-z]+ action=[a-z-]+ rule=[a-z_]+ code=[0-9]{3} "

# --- relay-attempts: the view's criterion ------------------------------------
want=$(sql "SELECT COUNT(*) FROM verdicts WHERE stage = 'rcpt' AND rule IN
	('relay', 'routing', 'trusted', 'authenticated') AND client_trust = 'untrusted'")
rg_expect "relay-attempts = untrusted clients, foreign destinations" \
	"$("$audit" -d "$db" relay-attempts | wc -l)" "$want"
rg_expect "relay-attempts: accepted ones are the monitor-mode routing rows" \
	"$("$audit" -d "$db" relay-attempts | grep -c ' accepted action=would-reject rule=routing ')" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE rule = 'routing' AND action = 'would-reject'")"
rg_expect "relay_attempts view: sender classes" \
	"$(sql "SELECT group_concat(c, ',') FROM (SELECT DISTINCT sender_class AS c FROM relay_attempts ORDER BY 1)")" \
	"blank,foreign,local-domain"

# --- export ------------------------------------------------------------------
"$audit" -d "$db" export --format csv > "$tmp/out.csv"
rg_expect "export csv exit" "$?" 0
python3 - "$tmp/out.csv" > "$tmp/csv.check" <<'EOF'
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f))
hdr, body = rows[0], rows[1:]
print(len(body))
print(len(hdr), all(len(r) == len(hdr) for r in body))
quoted = [r for r in body if r[hdr.index('sender')] == '<"smith, john"@partner.test>']
print(len(quoted))
EOF
rg_expect "export csv: rows (RFC 4180 parser)" "$(sed -n 1p "$tmp/csv.check")" 20000
rg_expect "export csv: 23 columns on every row" "$(sed -n 2p "$tmp/csv.check")" "23 True"
rg_expect "export csv: quoted sender with comma and quotes round-trips" \
	"$(sed -n 3p "$tmp/csv.check")" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE sender = '<\"smith, john\"@partner.test>'")"
rg_expect "export csv: CRLF line ends" "$(head -1 "$tmp/out.csv" | tail -c 2 | od -An -tx1 | tr -d ' ')" 0d0a

"$audit" -d "$db" export --format json --since "$t1" --until "$t2" > "$tmp/out.json"
rg_expect "export json exit" "$?" 0
got=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert isinstance(o["code"], int) and isinstance(o["id"], int)
    assert o["auth_user"] is None or isinstance(o["auth_user"], str)
    n += 1
print(n)' "$tmp/out.json")
rg_expect "export json: every line parses, rows in range" "$got" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE time >= '$t1' AND time < '$t2'")"

# progress: only when stderr is a terminal and stdout is not (script(1)
# gives the command a pseudo-terminal)
if command -v script > /dev/null; then
	script -qec "'$audit' -d '$db' export --format csv > '$tmp/tty.csv'" /dev/null > "$tmp/tty.out" 2>&1
	rg_expect_match "export: progress on a terminal" "$(tr '\r' '\n' < "$tmp/tty.out" | grep -v '^$' | tail -1)" \
		'^exported 20000 rows'
	rg_expect "export: the output is unchanged by the progress" "$(cmp -s "$tmp/tty.csv" "$tmp/out.csv" && echo same)" same
	"$audit" -d "$db" export --format csv 2> "$tmp/notty.err" > /dev/null
	rg_expect "export: no progress when stderr is not a terminal" "$(wc -c < "$tmp/notty.err")" 0
else
	echo "note: script(1) missing: the progress indicator is not exercised"
fi

# --- tail and tail -f while the writer adds rows ------------------------------
rg_expect "tail -n 3" "$("$audit" -d "$db" tail -n 3 | wc -l)" 3
rg_expect "tail: last row last" "$("$audit" -d "$db" tail -n 1 | awk '{ print $3 }')" \
	"session=$(sql 'SELECT session_id FROM verdicts ORDER BY id DESC LIMIT 1')"
"$audit" -d "$db" tail -f -n 0 > "$tmp/tail" 2>&1 &
tail_pid=$!
sleep 0.7
"$load" -d "$db" -n 300 -t 1 -f 50 > /dev/null 2>&1
for i in $(seq 1 50); do
	[ "$(wc -l < "$tmp/tail")" -ge 300 ] && break
	sleep 0.1
done
kill "$tail_pid" 2>/dev/null
rg_wait_pid "$tail_pid" 10
tail_pid=
rg_expect "tail -f shows the 300 new rows" "$(wc -l < "$tmp/tail")" 300

# --- schema, errors, exit codes ----------------------------------------------
sv=$("$audit" -V | sed -n 's/.*(schema version \([0-9]*\)).*/\1/p')
rg_expect_match "relayguard-audit -V names its schema version" "$sv" '^[0-9]+$'
rg_expect "schema" "$("$audit" -d "$db" schema)" "schema version $sv (this relayguard-audit: $sv)"
err=$("$audit" -d "$tmp/none.db" summary 2>&1)
rg_expect "missing db: exit 1" "$?" 1
rg_expect "missing db: message" "$err" "relayguard-audit: $tmp/none.db: no such file"
cp "$db" "$tmp/newer.db"
"$sqlite" "$tmp/newer.db" "PRAGMA user_version = $((sv + 1))"
err=$("$audit" -d "$tmp/newer.db" summary 2>&1)
rg_expect "newer schema: exit 1" "$?" 1
rg_expect "newer schema: message" "$err" \
	"relayguard-audit: $tmp/newer.db: schema version $((sv + 1)) is newer than this relayguard-audit ($sv): upgrade relayguard"
"$sqlite" "$tmp/other.db" 'CREATE TABLE t (x)'
err=$("$audit" -d "$tmp/other.db" summary 2>&1)
rg_expect "foreign db: exit 1" "$?" 1
rg_expect "foreign db: message" "$err" "relayguard-audit: $tmp/other.db: not a relayguard audit database"
echo "not a database at all, just text that is long enough to be a header...." > "$tmp/text.db"
err=$("$audit" -d "$tmp/text.db" summary 2>&1)
rg_expect "text file: exit 1" "$?" 1
rg_expect_match "text file: message" "$err" "not a relayguard audit database"
"$audit" -d "$db" 2> /dev/null
rg_expect "no command: exit 2" "$?" 2
"$audit" -d "$db" frobnicate 2> /dev/null
rg_expect "unknown command: exit 2" "$?" 2
err=$("$audit" -d "$db" summary --rule relay 2>&1)
rg_expect "option of another command: exit 2" "$?" 2
rg_expect_match "option of another command: message" "$err" "summary: option --rule does not apply"
"$audit" -d "$db" search --since tomorrowish 2> /dev/null
rg_expect "bad time: exit 2" "$?" 2
"$audit" -d "$db" export --format xml 2> /dev/null
rg_expect "bad format: exit 2" "$?" 2
"$audit" -d "$db" top servers 2> /dev/null
rg_expect "top servers: exit 2" "$?" 2

# --- read-only: the tool never writes ---------------------------------------
"$sqlite" "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
before=$(md5sum < "$db")
for c in summary "top clients" relay-attempts "tail -n 5" "export --format json" schema; do
	# shellcheck disable=SC2086
	"$audit" -d "$db" $c > /dev/null
done
rg_expect "database file unchanged by every command" "$(md5sum < "$db")" "$before"
rg_expect "WAL still empty" "$(stat -c %s "$db-wal")" 0
if command -v runuser > /dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$tmp"
	chmod 644 "$db" "$db-wal" "$db-shm"
	got=$(runuser -u nobody -- "$audit" -d "$db" summary 2>&1 | awk '$1 == "total" { print $2 }')
	rg_expect "read by a user who cannot write the directory" "$got" 20300
else
	echo "note: not root: the other-user read is not exercised"
fi
rg_done
