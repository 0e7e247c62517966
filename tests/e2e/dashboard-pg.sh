#!/bin/bash
# tests/e2e/dashboard-pg.sh - relayguard-audit serve over PostgreSQL.
#
# The fleet's store: relayguard behind a real Postfix writes to a
# throwaway PostgreSQL 15 cluster (tests/lib/pg.sh) as its INSERT-only role;
# the dashboard reads it as the SELECT-only role.  Every figure the API
# gives equals a psql count over the same range, and the overview page
# renders them in headless Chromium: the same queries as on SQLite
# (tests/e2e/dashboard.sh), through audit_store.h.  The daemon's
# metrics must agree with the store (rows written, none spooled).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"
. "$top_srcdir/tests/lib/pg.sh"

audit=$top_builddir/src/programs/relayguard-audit
: "${CHROMIUM:=$(command -v chromium || echo /usr/bin/chromium)}"
rg_require "$RG_RELAYGUARD" "$POSTFIX" "$audit" "$CHROMIUM" curl python3
rg_e2e_require_root
tmp=$(rg_e2e_tmpdir)

rg_pg_start "$tmp" || { rg_fail "PostgreSQL start"; rg_done; }
rg_pg_fleet_db rgdash || { rg_fail "fleet database"; rg_done; }
printf 'writer-pw\n' > "$tmp/writer.pw"; printf 'reader-pw\n' > "$tmp/reader.pw"
chmod 600 "$tmp/writer.pw" "$tmp/reader.pw"
mport=$(rg_free_port)
rg_start_relayguard "$(rg_e2e_conf "audit_db = $(rg_pg_uri rg_writer rgdash)" \
	"audit_password_file = $tmp/writer.pw" "audit_spool = $tmp/spool.db" \
	"node = mx-dash" "audit_flush_ms = 50" "metrics_listen = 127.0.0.1:$mport")" ||
	{ rg_fail "relayguard start"; rg_done; }
rg_start_postfix "$RG_MILTER_SOCKET" \
	"smtpd_recipient_restrictions = check_recipient_access inline:{blocked@example.test=REJECT}" ||
	{ rg_fail "postfix start"; rg_done; }
rg_smtp_dialog "$RG_POSTFIX_PORT" "EHLO otherdomain" "MAIL FROM:<x@otherdomain.test>" \
	"RCPT TO:<hacker@spammail.test>" "RCPT TO:<nobody%afakedomain.test@example.test>" \
	"RCPT TO:<alice@example.test>" "RCPT TO:<blocked@example.test>" "QUIT" >/dev/null
rg_smtp_dialog "$RG_POSTFIX_PORT" "EHLO client.example.net" "MAIL FROM:<>" \
	"RCPT TO:<n1@example.test>" "RCPT TO:<n2@example.test>" "RCPT TO:<n3@example.test>" \
	"RCPT TO:<n4@example.test>" "QUIT" >/dev/null
# the daemon's metrics agree with the store: every row written, none spooled
metric() { awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? "absent" : v }' "$tmp/scrape"; }
for i in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$mport/metrics" > "$tmp/scrape"
	[ "$(metric relayguard_audit_queue_rows)" = 0 ] &&
		[ "$(metric relayguard_audit_rows_written_total)" = "$(metric relayguard_audit_rows_queued_total)" ] && break
	sleep 0.1
done
rg_expect "metrics: rows written = rows in PostgreSQL" \
	"$(metric relayguard_audit_rows_written_total)" "$(rg_pg_sql rgdash "SELECT COUNT(*) FROM verdicts")"
rg_expect "metrics: nothing spooled, not degraded" \
	"$(metric relayguard_audit_rows_spooled_total) $(metric relayguard_audit_degraded)" "0 0"
rg_stop_relayguard		# flushes to PostgreSQL
rg_stop_postfix

now=$(date +%s); from=$((now - 3600)); to=$((now + 60))
t_from=$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%SZ); t_to=$(date -u -d "@$to" +%Y-%m-%dT%H:%M:%SZ)
n() { rg_pg_sql rgdash "SELECT COUNT(*) FROM verdicts WHERE time >= '$t_from' AND time < '$t_to' AND ($1)"; }
rg_expect_match "the sessions reached PostgreSQL" "$(n TRUE)" '^[1-9][0-9]*$'

port=$(rg_free_port)
"$audit" -d "$(rg_pg_uri rg_reader rgdash)" -p "$tmp/reader.pw" serve \
	--listen "127.0.0.1:$port" --web-root "$top_srcdir/web" >"$tmp/serve.out" 2>&1 &
serve_pid=$!
rg_e2e_on_exit "kill $serve_pid; wait $serve_pid"
rg_wait_port "$port" 20 || { rg_fail "serve listens"; cat "$tmp/serve.out" >&2; rg_done; }
base="http://127.0.0.1:$port"
range="from=$from&to=$to"
# json NAME EXPR - EXPR over d, the saved answer NAME
json() { python3 -c "import json,sys; d = json.load(open(sys.argv[1])); print($2)" "$tmp/$1.json"; }
get() { curl -sf -o "$tmp/$1.json" "$base/api/$2" || rg_fail "GET /api/$2"; }
get summary "summary?$range"; get timeline "timeline?$range"; get top "top?what=clients&$range"
get search "search?$range&limit=1000"; get client "search?$range&client=127.0.0.1"
get addr "search?$range&addr=AFAKEDOMAIN"; get node "summary?$range&node=mx-dash"
get other "summary?$range&node=mx-other"

rg_expect "summary: total = psql count" "$(json summary 'd["total"]')" "$(n TRUE)"
rg_expect "summary: refused = psql count" "$(json summary 'd["refused"]')" \
	"$(n "action IN ('reject', 'tempfail', 'drop')")"
rg_expect "summary: relay panel = psql count" "$(json summary 'd["panels"]["relay"]')" \
	"$(n "stage = 'rcpt' AND rule IN ('relay', 'routing') AND client_trust = 'untrusted'")"
rg_expect "summary: blank panel = psql count" "$(json summary 'd["panels"]["blank"]')" \
	"$(n "stage = 'mail' AND sender_class IN ('blank', 'local') AND client_trust = 'untrusted'")"
rg_expect "summary: the MTA's own refusal is there (rule mta)" \
	"$(json summary 'sum(r["count"] for r in d["by_rule"] if r["rule"] == "mta")')" \
	"$(n "rule = 'mta'")"
rg_expect "timeline: buckets add up" "$(json timeline 'sum(d["verdicts"])')" "$(n TRUE)"
rg_expect "top clients: refusals of the first = psql" \
	"$(json top 'd["rows"][0][0] + " " + str(d["rows"][0][2])')" \
	"$(rg_pg_sql rgdash "SELECT host(client_addr) || ' ' || SUM(CASE WHEN action IN ('reject','tempfail','drop') THEN 1 ELSE 0 END)
		FROM verdicts WHERE time >= '$t_from' AND time < '$t_to' GROUP BY client_addr ORDER BY 1 LIMIT 1")"
rg_expect "search: every row, newest first" "$(json search 'len(d["rows"])')" "$(n TRUE)"
rg_expect "search by client address (inet column)" \
	"$(json client 'len(d["rows"])')" "$(n "client_addr = '127.0.0.1'")"
rg_expect "search by address substring" \
	"$(json addr 'len(d["rows"])')" \
	"$(n "lower(rcpt) LIKE '%afakedomain%' OR lower(rcpt_normalized) LIKE '%afakedomain%'")"
rg_expect "node filter: this MX" "$(json node 'd["total"]')" "$(n TRUE)"
rg_expect "node filter: another MX" "$(json other 'd["total"]')" 0
rg_expect_match "CSV export" "$(curl -sf "$base/api/search?$range&format=csv" | head -n 1)" '^id,time,node,'

profile=$(mktemp -d "$tmp/chromium.XXXXXX")
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$profile" --virtual-time-budget=8000 --dump-dom "$base/?$range" \
	> "$tmp/overview.html" 2>/dev/null
rg_expect_match "overview over PostgreSQL: rendered" "$(cat "$tmp/overview.html")" 'data-state="ready"'
rg_expect_match "overview over PostgreSQL: the total" "$(cat "$tmp/overview.html")" \
	"id=\"total\">$(n TRUE)<"
rg_done
