#!/bin/bash
# tests/e2e/dashboard.sh - relayguard-audit serve in a real browser.
#
# A known audit database: real sessions through Postfix and relayguard,
# then hostile rows (HTML, script end tags, spreadsheet formulas, broken
# UTF-8; tests/e2e/dashboard-hostile.sql).  The server runs on it; each
# page is loaded in headless Chromium and its rendered DOM is checked:
# every number shown equals an SQL count over the same time range on the
# same database, every hostile value is shown as text, nothing it carries
# runs (it would set body[data-pwned]) or adds an element.  The exports,
# the headers (CSP), the bounds on every query and the password rules are
# checked over HTTP.  Screenshots (PNG) are kept in
# tests/artefacts/ of the build tree.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
audit=$top_builddir/src/programs/relayguard-audit
: "${CHROMIUM:=$(command -v chromium || echo /usr/bin/chromium)}"
rg_require "$RG_RELAYGUARD" "$POSTFIX" "$SWAKS" "$sqlite" "$audit" "$CHROMIUM" curl python3
rg_e2e_require_root

tmp=$(rg_e2e_tmpdir)
db=$tmp/audit.db
artefacts=$top_builddir/tests/artefacts
mkdir -p "$artefacts"

# --- a known database, made by real sessions through Postfix
rg_start_relayguard "$(rg_e2e_conf "audit_db = $db" "audit_flush_ms = 50")" ||
	{ rg_fail "relayguard start"; rg_done; }
rg_e2e_start_mta postfix "$RG_MILTER_SOCKET" || { rg_fail "postfix start"; rg_done; }
rg_smtp_dialog "$MTA_PORT" "EHLO otherdomain" "MAIL FROM:<x@otherdomain.test>" \
	"RCPT TO:<hacker@spammail.test>" "RCPT TO:<nobody%afakedomain.test@example.test>" \
	"RCPT TO:<alice@example.test>" "QUIT" >/dev/null
rg_smtp_dialog "$MTA_PORT" "EHLO client.example.net" "MAIL FROM:<>" \
	"RCPT TO:<nobody@example.test>" "RCPT TO:<alice@example.test>" "QUIT" >/dev/null
rg_smtp_dialog "$MTA_PORT" "EHLO client.example.net" "MAIL FROM:<ceo@example.test>" \
	"RCPT TO:<alice@example.test>" "QUIT" >/dev/null
rg_smtp_dialog "$MTA_PORT" "EHLO client.example.net" "MAIL FROM:<$SENDER>" \
	"RCPT TO:<n1@example.test>" "RCPT TO:<n2@example.test>" \
	"RCPT TO:<n3@example.test>" "RCPT TO:<n4@example.test>" "QUIT" >/dev/null
rg_smtp "$MTA_PORT" "$SENDER" victim@remote.test --local-interface 127.0.0.2
rg_smtp "$MTA_PORT" "$SENDER" far@remote.test \
	--auth PLAIN --auth-user "$AUTH_USER" --auth-password "$AUTH_PASS"
rg_stop_relayguard		# SIGTERM flushes: the rows are final
rg_stop_postfix

now=$(date +%s)
from=$((now - 3600)); to=$((now + 60))
t_from=$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%S.000Z)
t_to=$(date -u -d "@$to" +%Y-%m-%dT%H:%M:%S.000Z)
sed "s/@TIME@/$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%S.500Z)/" \
	"$top_srcdir/tests/e2e/dashboard-hostile.sql" | "$sqlite" "$db" ||
	rg_fail "hostile rows inserted"
# a row outside the range: no page may count it
"$sqlite" "$db" "INSERT INTO verdicts (time, session_id, client_addr, stage, rule,
	action, code) VALUES ('2000-01-01T00:00:00.000Z', 'OLD', '192.0.2.1', 'rcpt',
	'relay', 'reject', 550)"
sql() { "$sqlite" -readonly -batch -noheader "$db" "$1"; }
# n WHERE - verdicts in the range matching WHERE
n() { sql "SELECT COUNT(*) FROM verdicts WHERE time >= '$t_from' AND time < '$t_to' AND ($1)"; }
rg_expect_match "the sessions made rows of each kind" \
	"$(n "rule = 'relay'") $(n "rule = 'harvest'") $(n "rule = 'trusted'") $(n "rule = 'authenticated'")" \
	'^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$'

# --- the server
port=$(rg_free_port)
"$audit" -d "$db" serve --listen "127.0.0.1:$port" --web-root "$top_srcdir/web" \
	>"$tmp/serve.out" 2>&1 &
serve_pid=$!
rg_e2e_on_exit "kill $serve_pid; rg_wait_pid $serve_pid 10"
rg_wait_port "$port" 20 || rg_fail "serve listens on $port"
rg_expect "serve prints the dashboard URL" "$(head -n 1 "$tmp/serve.out")" \
	"relayguard-audit: dashboard at http://127.0.0.1:$port/"
base="http://127.0.0.1:$port"
range="from=$from&to=$to"

# browser MODE URL OUT [PNG] - load URL in headless Chromium; MODE dom
# (the rendered DOM into OUT; with PNG, a screenshot too, same load) or png
browser() {
	local profile status
	profile=$(mktemp -d "$tmp/chromium.XXXXXX")
	set -- "$1" "$2" "$3" "${4:-}" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$profile" --hide-scrollbars \
		--window-size=1280,1100 --virtual-time-budget=8000
	case "$1" in
	dom) timeout 90 "$CHROMIUM" "${@:5}" --dump-dom ${4:+--screenshot="$4"} "$2" \
		>"$3" 2>"$profile.err" ;;
	png) timeout 90 "$CHROMIUM" "${@:5}" --screenshot="$3" "$2" >/dev/null 2>"$profile.err" ;;
	esac
	status=$?
	rm -rf "$profile"
	return $status
}
# dom_text FILE ID - the text of the element with id ID
dom_text() {
	python3 - "$1" "$2" <<'PY'
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.depth = 0; s.out = []
    def handle_starttag(s, tag, attrs):
        if s.depth: s.depth += 1
        elif dict(attrs).get("id") == sys.argv[2]: s.depth = 1
    def handle_endtag(s, tag):
        if s.depth: s.depth -= 1
    def handle_data(s, d):
        if s.depth: s.out.append(d)
p = P(); p.feed(open(sys.argv[1]).read()); print("".join(p.out).strip())
PY
}
# dom_count FILE TAG [ATTR=VALUE] - elements of TAG (with that attribute)
dom_count() {
	python3 - "$@" <<'PY'
import sys, html.parser
want = sys.argv[3].split("=", 1) if len(sys.argv) > 3 else None
class P(html.parser.HTMLParser):
    n = 0
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag == sys.argv[2] and (want is None or (a.get(want[0]) or "").split().count(want[1])):
            s.n += 1
p = P(); p.feed(open(sys.argv[1]).read()); print(p.n)
PY
}
# no_hostile_effect NAME FILE ALLOWED_SCRIPTS - nothing a row carried ran or
# became markup
no_hostile_effect() {
	rg_expect "$1: page finished" "$(grep -o 'data-state="[a-z]*"' "$2")" 'data-state="ready"'
	rg_expect "$1: no hostile script ran" "$(grep -c '<body[^>]*data-pwned' "$2")" 0
	rg_expect "$1: no element from a row: img" "$(dom_count "$2" img)" 0
	rg_expect "$1: no element from a row: svg" "$(dom_count "$2" svg)" 0
	rg_expect "$1: only the page's own scripts" "$(dom_count "$2" script)" "$3"
}

# --- overview
browser dom "$base/?$range" "$tmp/overview.html" "$artefacts/dashboard-overview.png" ||
	rg_fail "overview loads"
ov=$tmp/overview.html
rg_expect "overview: verdicts = SQL count" "$(dom_text "$ov" total)" "$(n 1)"
rg_expect "overview: refused = SQL count" "$(dom_text "$ov" refused)" \
	"$(n "action IN ('reject', 'tempfail', 'drop')")"
rg_expect "overview: recipients accepted = SQL count" "$(dom_text "$ov" rcpt-accepted)" \
	"$(n "stage = 'rcpt' AND action = 'accept'")"
rg_expect "overview: recipients refused = SQL count" "$(dom_text "$ov" rcpt-refused)" \
	"$(n "stage = 'rcpt' AND action IN ('reject', 'tempfail', 'drop')")"
rg_expect "overview: monitored = SQL count" "$(dom_text "$ov" monitored)" \
	"$(n "action = 'would-reject'")"
rg_expect "overview: relay attempts from outside = SQL count" "$(dom_text "$ov" panel-relay)" \
	"$(n "stage = 'rcpt' AND rule IN ('relay', 'routing') AND client_trust = 'untrusted'")"
rg_expect "overview: blank or local senders from outside = SQL count" \
	"$(dom_text "$ov" panel-blank)" \
	"$(n "stage = 'mail' AND sender_class IN ('blank', 'local') AND client_trust = 'untrusted'")"
rg_expect "overview: recipients outside our domains = SQL count" \
	"$(dom_text "$ov" panel-outside)" \
	"$(n "stage = 'rcpt' AND rule IN ('relay', 'routing', 'trusted', 'authenticated')")"
rg_expect "overview: the timeline's buckets add up to the verdicts" \
	"$(grep -o 'data-timeline-total="[0-9]*"' "$ov")" "data-timeline-total=\"$(n 1)\""
rg_expect "overview: Chart.js loaded from Debian's file and drew" \
	"$(grep -o 'data-charts="[a-z]*"' "$ov")" 'data-charts="drawn"'
rg_expect "overview: one table row per stage/rule/action" \
	"$(($(dom_count "$ov" tr) - 1))" \
	"$(sql "SELECT COUNT(*) FROM (SELECT 1 FROM verdicts WHERE time >= '$t_from' AND time < '$t_to' GROUP BY stage, rule, action)")"
no_hostile_effect overview "$ov" 2
rg_expect_match "overview: screenshot is a PNG" "$(head -c 8 "$artefacts/dashboard-overview.png" | od -An -c | tr -d ' ')" '^211PNG'

# --- top
browser dom "$base/top.html?$range" "$tmp/top.html" || rg_fail "top loads"
top_first() { python3 - "$tmp/top.html" "$1" <<'PY'
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.t = None; s.row = None; s.rows = []; s.cell = None
    def handle_starttag(s, tag, a):
        if tag == "table": s.t = dict(a).get("id")
        if s.t == sys.argv[2] and tag == "tr": s.row = []
        if s.row is not None and tag == "td": s.cell = []
    def handle_endtag(s, tag):
        if tag == "td" and s.cell is not None: s.row.append("".join(s.cell)); s.cell = None
        if tag == "tr" and s.row is not None:
            if s.row: s.rows.append(s.row)
            s.row = None
    def handle_data(s, d):
        if s.cell is not None: s.cell.append(d)
p = P(); p.feed(open(sys.argv[1]).read())
print("|".join(p.rows[0]) if p.rows else "")
PY
}
rg_expect "top clients: first row = SQL" "$(top_first top-clients)" \
	"$(sql "SELECT c || '|' || name || '|' || refusals || '|' || verdicts FROM
		(SELECT client_addr AS c, MAX(client_name) AS name,
		SUM(action IN ('reject','tempfail','drop')) AS refusals, COUNT(*) AS verdicts
		FROM verdicts WHERE time >= '$t_from' AND time < '$t_to' GROUP BY client_addr
		HAVING refusals > 0 ORDER BY refusals DESC, verdicts DESC, c LIMIT 1)")"
rg_expect "top auth: the authenticated relay = SQL" "$(top_first top-auth)" \
	"$(sql "SELECT u || '|' || c || '|' || r || '|' || n FROM (SELECT auth_user AS u,
		COUNT(DISTINCT client_addr) AS c, COUNT(DISTINCT rcpt_normalized) AS r,
		COUNT(*) AS n FROM verdicts WHERE time >= '$t_from' AND time < '$t_to'
		AND stage = 'rcpt' AND rule = 'authenticated' GROUP BY auth_user
		ORDER BY n DESC LIMIT 1)")"
no_hostile_effect top "$tmp/top.html" 1

# --- search: every row of the range, with its why
browser dom "$base/search.html?$range&limit=1000&open=all" "$tmp/search.html" \
	"$artefacts/dashboard-search.png" || rg_fail "search loads"
sr=$tmp/search.html
rg_expect "search: one row per verdict in the range" "$(dom_count "$sr" tr class=verdict)" "$(n 1)"
rg_expect "search: hostile HELO shown as text" \
	"$(grep -c '&lt;img src=x onerror=alert(1)&gt;' "$sr")" 1
rg_expect "search: </script> in an address shown as text" \
	"$(grep -o '&lt;/script&gt;&lt;script&gt;document' "$sr" | wc -l)" 3
rg_expect "search: hostile client name shown as text" \
	"$(grep -c '"&gt;&lt;svg onload=alert(2)&gt;' "$sr")" 1
rg_expect "search: the percent hack's trace, step by step" \
	"$(python3 -c 'import sys,re; print(len(re.findall(r"<li>[^<]*afakedomain[^<]*</li>", open(sys.argv[1]).read())) > 0)' "$sr")" True
no_hostile_effect search "$sr" 1
rg_expect "search by client (API): rows = SQL" \
	"$(curl -s "$base/api/search?$range&client=127.0.0.2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')" \
	"$(n "client_addr = '127.0.0.2'")"
rg_expect_match "search: screenshot is a PNG" \
	"$(head -c 8 "$artefacts/dashboard-search.png" | od -An -c | tr -d ' ')" '^211PNG'

# --- exports: what is shown, escaped for its format
curl -sf -o "$tmp/search.csv" "$base/api/search?$range&limit=1000&format=csv&download=1" ||
	rg_fail "CSV export"
rg_expect "CSV: one line per row plus the header" \
	"$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1], newline="")))))' "$tmp/search.csv")" \
	"$(( $(n 1) + 1 ))"
rg_expect "CSV: formulas neutralised" \
	"$(python3 -c 'import csv,sys
bad = [c for r in csv.reader(open(sys.argv[1], newline="")) for c in r if c and c[0] in "=+-@"]
print(len(bad))' "$tmp/search.csv")" 0
rg_expect "CSV: the formula kept as text" \
	"$(grep -c "\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\"" "$tmp/search.csv")" 1
curl -sf -o "$tmp/search.json" "$base/api/search?$range&limit=1000&download=1" || rg_fail "JSON export"
rg_expect "JSON: parses, one row per verdict, injected key absent" \
	"$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(len(d["rows"]), "injected" in d)' "$tmp/search.json")" \
	"$(n 1) False"
rg_expect "JSON: no raw < > in the body" "$(grep -c '[<>]' "$tmp/search.json")" 0
rg_expect_match "download: an attachment" \
	"$(curl -sI "$base/api/top?what=clients&$range&format=csv&download=1" | tr -d '\r')" \
	'Content-Disposition: attachment; filename="relayguard-top.csv"'

# --- headers, methods, paths, bounds
hdr=$(curl -sI "$base/" | tr -d '\r')
rg_expect_match "CSP: scripts from this origin only" "$hdr" \
	"^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'"
rg_expect_match "nosniff" "$hdr" '^X-Content-Type-Options: nosniff'
rg_expect "POST refused" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/summary")" 405
rg_expect "no file outside the fixed table" \
	"$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$base/../../etc/passwd")" 404
rg_expect "limit bounded" "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/search?limit=100000")" 400
rg_expect "range bounded" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$base/api/summary?from=0&to=$now")" 400
rg_expect "default range: the last 24 hours, the old row left out" \
	"$(curl -s "$base/api/summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')" \
	"$(sql "SELECT COUNT(*) FROM verdicts WHERE time >= '$(date -u -d "@$((now - 86400))" +%Y-%m-%dT%H:%M:%S)'")"

# --- listening: loopback by default, anything else needs a password file
"$audit" -d "$db" serve --listen 192.0.2.1:8026 >"$tmp/nonlo.out" 2>&1
rg_expect "non-loopback without --password-file: usage error" "$?" 2
rg_expect_match "non-loopback: says why" "$(cat "$tmp/nonlo.out")" 'needs --password-file'
hash=$(openssl passwd -6 -salt rgtest 'pa ss:word')
printf '# dashboard users\nadmin:%s\n' "$hash" > "$tmp/passwords"
chmod 644 "$tmp/passwords"
"$audit" -d "$db" serve --password-file "$tmp/passwords" >"$tmp/worldread.out" 2>&1
rg_expect_match "a world-readable password file is refused" "$(cat "$tmp/worldread.out")" 'readable by every user'
chmod 600 "$tmp/passwords"
aport=$(rg_free_port)
"$audit" -d "$db" serve --listen "127.0.0.1:$aport" --password-file "$tmp/passwords" \
	--web-root "$top_srcdir/web" >"$tmp/auth.out" 2>&1 &
auth_pid=$!
rg_e2e_on_exit "kill $auth_pid; rg_wait_pid $auth_pid 10"
rg_wait_port "$aport" 20
rg_expect "basic auth: no credentials -> 401" \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/api/summary")" 401
rg_expect "basic auth: wrong password -> 401" \
	"$(curl -s -o /dev/null -w '%{http_code}' -u admin:wrong "http://127.0.0.1:$aport/api/summary")" 401
rg_expect "basic auth: right password -> 200" \
	"$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:pa ss:word' "http://127.0.0.1:$aport/api/summary")" 200
kill "$serve_pid" "$auth_pid"
rg_wait_pid "$serve_pid" 10; rg_expect "SIGTERM: exit 0" "$?" 0
rg_wait_pid "$auth_pid" 10
echo "screenshots: $artefacts/dashboard-*.png"
rg_done
