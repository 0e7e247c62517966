#!/bin/bash
# tests/hostile/postfix-hostile.sh - hostile SMTP clients end to end
# through a real Postfix and relayguard: 60 and 64 KiB addresses, NULs and
# control bytes, 1,000 recipients in one transaction, 500 concurrent
# connections, clients that stall or vanish mid-command, and garbage on
# the milter socket itself.  Throughout, a normal client must keep getting
# correct verdicts, every verdict line must stay bounded and free of raw
# control bytes, and relayguard's memory (VmRSS) must stay bounded and
# stop growing once the load is gone.
#
# Postfix's own limits are raised where Postfix would otherwise refuse
# first (each is noted where it matters), so that the milter is the layer
# under test; where Postfix or libmilter still cuts in, the test asserts
# what that layer does and that relayguard survived it.
# (bash: the e2e library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"

rg_e2e_require_root
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX" python3 "${SQLITE3_CLI:-sqlite3}"
SQLITE3_CLI=${SQLITE3_CLI:-sqlite3}

HOSTILE="python3 $top_srcdir/tests/hostile/smtp-hostile.py"
tmp=$(rg_e2e_tmpdir)
RSS_CEILING_KB=$((100 * 1024))	# 100 MB at any point
RSS_GROWTH_KB=$((5 * 1024))	# a second identical round adds < 5 MB
started=$(date +%s)

# The 500 concurrent clients and the test's own descriptors.
ulimit -n 4096 2>/dev/null

# Under AddressSanitizer (the --enable-sanitizers build) freed memory sits
# in ASan's quarantine (256 MB by default) and the shadow memory counts in
# RSS: the figures are printed, but the RSS bounds are not asserted there.
# That build's own leak checker, and valgrind-e2e.sh in a plain build,
# watch the memory instead.
rss_checked=1
if LC_ALL=C grep -qaE '__asan_init|__msan_init|__tsan_init' "$RG_RELAYGUARD"; then
	rss_checked=0
	echo "note: $RG_RELAYGUARD is sanitizer-instrumented: RSS bounds not asserted"
fi

# rss_bound NAME EXPR - assert the arithmetic EXPR (1 = within bounds),
# or just print NAME in a sanitizer build
rss_bound() {
	if [ "$rss_checked" = 1 ]; then
		rg_expect_match "$1" "$2" '^1$'
	else
		echo "not asserted (sanitizer build): $1"
	fi
}

# rss PID FIELD - a /proc/PID/status field in kB (VmRSS, VmHWM, Threads)
rss() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# milter_live - relayguard's open milter connections (SIGUSR1 stats line)
milter_live() {
	local mark i
	mark=$(rg_log_mark)
	kill -USR1 "$RG_MILTER_PID" 2>/dev/null || return 1
	for i in $(seq 1 50); do
		rg_log_since "$mark" | grep -oE 'stats: .* live=[0-9]+' |
		    sed 's/.*live=//' | tail -n 1 | grep . && return 0
		sleep 0.1
	done
	return 1
}

# wait_live N SECONDS - until relayguard has at most N live connections
wait_live() {
	local i n
	for i in $(seq 1 "$2"); do
		n=$(milter_live)
		[ -n "$n" ] && [ "$n" -le "$1" ] && return 0
		sleep 1
	done
	return 1
}

# reply OUTPUT N - the reply to the Nth command of a "session" output
# (0 is the banner), without the "S: " prefix
reply() {
	printf '%s\n' "$1" | sed -n 's/^S: //p' | sed -n "$(($2 + 1))p"
}

# alive NAME - relayguard still runs
alive() {
	if kill -0 "$RG_MILTER_PID" 2>/dev/null; then
		rg_pass "$1: relayguard still running"
	else
		rg_fail "$1: relayguard died"
	fi
}

# normal_client NAME - a well-behaved client gets its correct verdicts
# (known 250, relay 550 5.7.1, unknown 550 5.1.1), and from relayguard
normal_client() {
	local mark
	mark=$(rg_log_mark)
	rg_smtp "$PORT" sender@client.example.net \
	    alice@example.test,x@elsewhere.example.org,nobody@example.test
	rg_expect "$1: normal client's replies" "$(printf '%s\n' "$RG_SMTP_RCPTS" |
	    awk '{print $1, $2}' | tr '\n' ' ')" "250 2.1.5 550 5.7.1 550 5.1.1 "
	if rg_log_wait 'stage=rcpt action=reject rule=unknown .*to=<nobody@example.test>' 5 "$mark" >/dev/null; then
		rg_pass "$1: normal client judged by relayguard"
	else
		rg_fail "$1: no relayguard verdict for the normal client"
	fi
}

# --- the daemon and the MTA -----------------------------------------------

# harvest_limit = 0: the 1,000-recipient transaction names hundreds of
# unknown recipients, each of which must be judged (not cut off by 421);
# client_track_size = 0 for the same reason across connections
# (tests/e2e/clients.sh tests that memory).
cat >"$tmp/hostile.conf" <<EOF
local_domains = example.test
local_addresses = 127.0.0.1
directory = file:$top_srcdir/tests/lib/recipients
harvest_limit = 0
client_track_size = 0
audit_db = $tmp/audit.db
EOF
rg_start_relayguard "$tmp/hostile.conf" || exit 1
MPORT=${RG_MILTER_SOCKET#inet:}; MPORT=${MPORT%@*}

# Postfix's limits, raised so that relayguard is what gets tested:
#  line_length_limit 2048 -> 200000: longer SMTP lines would be cut by
#    smtpd before any milter saw them;
#  smtpd_recipient_limit 1000 -> 5000 (Postfix's 452 "too many recipients");
#  default_process_limit 100 -> 600: smtpd processes, one per client;
#  smtpd_client_connection_count_limit 50 -> 0: anvil's per-client cap
#    (all test clients are 127.0.0.1);
#  smtpd_timeout stays at its default (300 s): stalled clients are ended
#    by the test, not by Postfix;
#  milter timeouts generous: 500 sessions start at once on a 2-core box.
rg_start_postfix "$RG_MILTER_SOCKET" \
    "line_length_limit = 200000" \
    "smtpd_recipient_limit = 5000" \
    "default_process_limit = 600" \
    "smtpd_client_connection_count_limit = 0" \
    "smtpd_client_recipient_rate_limit = 0" \
    "milter_connect_timeout = 30s" \
    "milter_command_timeout = 30s" || exit 1
PORT=$RG_POSTFIX_PORT
PID=$RG_MILTER_PID

normal_client "start"
rss_start=$(rss "$PID" VmRSS)
echo "relayguard VmRSS at start: $rss_start kB"

# --- 60 KiB and 64 KiB addresses ------------------------------------------
# 60 KiB fits one milter packet (libmilter's limit is 65535 bytes of
# data): relayguard must see it, refuse it as bad syntax (local part and
# address length limits of RFC 5321) and log a bounded line.  64 KiB does
# not fit: libmilter drops that milter connection itself, before any
# relayguard code runs, and Postfix applies milter_default_action
# (tempfail): 451 for the rest of that session.  Either way the daemon
# must live on and serve the next client.
long60=$(head -c 61440 /dev/zero | tr '\0' a)
long64=$(head -c 65536 /dev/zero | tr '\0' b)
mark=$(rg_log_mark)
out=$($HOSTILE session "$PORT" "EHLO long.example.net" \
    "MAIL FROM:<s@client.example.net>" "RCPT TO:<$long60@example.test>" \
    "RCPT TO:<alice@example.test>" QUIT)
rg_expect_match "60 KiB recipient: refused as bad syntax" \
    "$(reply "$out" 3)" '^501 5\.1\.3 Bad address syntax'
rg_expect_match "60 KiB recipient: the next recipient is accepted" \
    "$(reply "$out" 4)" '^250 2\.1\.5 '
if line=$(rg_log_wait 'stage=rcpt action=reject rule=syntax .*to=<aaaaaaaa' 5 "$mark"); then
	rg_expect_match "60 KiB recipient: verdict line bounded (${#line} bytes)" \
	    "${#line}" '^[0-9]{3,4}$'
else
	rg_fail "60 KiB recipient: no syntax verdict from relayguard"
fi
out=$($HOSTILE session "$PORT" "EHLO long.example.net" \
    "MAIL FROM:<$long60@client.example.net>" QUIT)
rg_expect_match "60 KiB sender: refused as bad syntax" "$(reply "$out" 2)" '^501 5\.1\.3 Bad address syntax'

mark=$(rg_log_mark)
out=$($HOSTILE session "$PORT" "EHLO long.example.net" \
    "MAIL FROM:<s@client.example.net>" "RCPT TO:<$long64@example.test>" \
    "RCPT TO:<alice@example.test>" QUIT)
rg_expect_match "64 KiB recipient: libmilter drops the packet, Postfix tempfails" \
    "$(reply "$out" 3)" '^451 4\.7\.1 '
rg_expect_match "64 KiB recipient: Postfix keeps the milter off for the session" \
    "$(reply "$out" 4)" '^451 4\.7\.1 '
grep -q "can't read SMFIC_RCPT reply packet header" "$RG_POSTFIX_LOG" &&
	rg_pass "64 KiB recipient: Postfix logs the dropped milter connection" ||
	rg_fail "64 KiB recipient: Postfix did not log the milter drop"
alive "64 KiB recipient"
# libmilter still calls the close callback for the dropped session: its
# state is freed, not leaked.
if wait_live 0 10; then
	rg_pass "64 KiB recipient: the dropped milter session was closed"
else
	rg_fail "64 KiB recipient: milter sessions still open: $(milter_live)"
fi
normal_client "after 64 KiB addresses"

# --- NULs and control bytes -------------------------------------------------
# Each is sent raw inside a recipient, then bob@example.test follows.
# Which layer refuses what (Postfix 3.7, smtputf8_enable = yes):
#   NUL, CR, TAB   Postfix's smtpd: 501 5.1.3 "Bad recipient address
#                  syntax"; the milter is never asked
#   LF             ends the line for Postfix: "RCPT TO:<al" is refused by
#                  smtpd (501), the rest is an unknown command (500)
#   invalid UTF-8  Postfix: 500 5.5.2 "bad UTF-8 syntax"
#   0x01 ESC DEL   reach relayguard: 501 5.1.3 "Bad address syntax",
#                  rule=syntax, logged with the byte escaped
#   valid UTF-8    reaches relayguard without SMTPUTF8: 553 5.6.7
# In every case bob is then judged normally (but after the LF split).
# control_case NAME BYTES REPLY RULE NEXT [raw] - RCPT <alBYTESice@example.test>
# gets REPLY; RULE is relayguard's rule for it (or "none": no verdict);
# the next RCPT (bob) gets NEXT.  The log must show the byte escaped
# exactly as BYTES is written here (\xNN), or with "raw" (valid UTF-8)
# as the bytes themselves.
control_case() {
	local name=$1 bytes=$2 want=$3 rule=$4 next=$5 form mark out
	if [ "${6:-}" = raw ]; then
		form=$(printf "$bytes")
	else
		form=$bytes
	fi
	mark=$(rg_log_mark)
	out=$($HOSTILE session "$PORT" "EHLO ctl.example.net" \
	    "MAIL FROM:<s@client.example.net>" "RCPT TO:<al${bytes}ice@example.test>" \
	    "RCPT TO:<bob@example.test>" QUIT)
	rg_expect_match "$name: reply" "$(reply "$out" 3)" "^$want"
	rg_expect_match "$name: bob after it" "$(reply "$out" 4)" "^$next"
	rg_log_wait 'stage=rcpt .*to=<bob@example.test>' 5 "$mark" >/dev/null
	if [ "$rule" = none ]; then
		if rg_log_since "$mark" | grep 'stage=rcpt' | grep -vq 'to=<bob@'; then
			rg_fail "$name: relayguard judged it, Postfix should have refused first"
		else
			rg_pass "$name: refused by Postfix, no relayguard verdict"
		fi
	elif rg_log_since "$mark" | grep -E "stage=rcpt action=reject rule=$rule " |
	    grep -qF "to=<al${form}ice@example.test>"; then
		rg_pass "$name: relayguard's verdict rule=$rule, logged as al${form}ice"
	else
		rg_fail "$name: no relayguard rule=$rule verdict: $(rg_log_since "$mark" | grep stage=rcpt)"
	fi
}
mark0=$(rg_log_mark)
control_case "NUL" '\x00' '501 5\.1\.3 Bad recipient address syntax' none '250 2\.1\.5'
control_case "CR" '\x0d' '501 5\.1\.3 Bad recipient address syntax' none '250 2\.1\.5'
control_case "LF" '\x0a' '501 5\.1\.3 Bad recipient address syntax' none '500 5\.5\.2'
control_case "invalid UTF-8" '\xe9' '500 5\.5\.2 Error: bad UTF-8 syntax' none '250 2\.1\.5'
control_case "0x01" '\x01' '501 5\.1\.3 Bad address syntax' syntax '250 2\.1\.5'
control_case "BEL" '\x07' '501 5\.1\.3 Bad address syntax' syntax '250 2\.1\.5'
control_case "ESC" '\x1b' '501 5\.1\.3 Bad address syntax' syntax '250 2\.1\.5'
control_case "DEL" '\x7f' '501 5\.1\.3 Bad address syntax' syntax '250 2\.1\.5'
control_case "TAB" '\x09' '501 5\.1\.3 Bad recipient address syntax' none '250 2\.1\.5'
control_case "UTF-8 without SMTPUTF8" '\xc3\xaf' '553 5\.6\.7 ' utf8 '250 2\.1\.5' raw
out=$($HOSTILE session "$PORT" "EHLO ctl.example.net" \
    'MAIL FROM:<s\x00x@client.example.net>' "RCPT TO:<bob@example.test>" QUIT)
rg_expect_match "NUL in the sender: refused by Postfix" "$(reply "$out" 2)" '^501 5\.1\.7 '
out=$($HOSTILE session "$PORT" 'EHLO \x1b[31mred\x01.example.net' \
    'MAIL FROM:<s\x1b@client.example.net>' "MAIL FROM:<s@client.example.net>" \
    "RCPT TO:<alice@example.test>" QUIT)
rg_expect_match "control bytes in the sender: refused by relayguard" "$(reply "$out" 2)" \
    '^501 5\.1\.3 Bad address syntax'
rg_expect_match "control bytes in HELO: alice still accepted" "$(reply "$out" 4)" '^250 2\.1\.5 '
sleep 0.5
if rg_log_since "$mark0" | LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]'; then
	rg_fail "control bytes: a raw control byte reached relayguard's log"
else
	rg_pass "control bytes: relayguard's log holds none raw ($(rg_log_since "$mark0" | wc -l) lines)"
fi
alive "control bytes"

# --- 1,000 recipients in one transaction ------------------------------------
# Every recipient is judged (a verdict line each); kinds cycle known,
# unknown, relay.  Then the null sender: exactly one recipient accepted
# per transaction (blank_sender = single-recipient), counted afresh after
# RSET.
rss_before=$(rss "$PID" VmRSS)
mark=$(rg_log_mark)
t0=$(date +%s.%N)
$HOSTILE many "$PORT" sender@client.example.net 1000 >"$tmp/many.out"
t1=$(date +%s.%N)
rg_expect "1000 rcpts: known accepted" "$(sed -n 's/^txn0 known 250 2.1.5 //p' "$tmp/many.out")" 333
rg_expect "1000 rcpts: first (known) accepted" "$(sed -n 's/^txn0 first 250 2.1.5 //p' "$tmp/many.out")" 1
rg_expect "1000 rcpts: unknown refused 550 5.1.1" "$(sed -n 's/^txn0 unknown 550 5.1.1 //p' "$tmp/many.out")" 333
rg_expect "1000 rcpts: relay refused 550 5.7.1" "$(sed -n 's/^txn0 relay 550 5.7.1 //p' "$tmp/many.out")" 333
rg_log_wait 'to=<user998@elsewhere.example.org>' 10 "$mark" >/dev/null
rg_expect "1000 rcpts: one relayguard verdict per recipient" \
    "$(rg_log_since "$mark" | grep -c 'stage=rcpt .*from=<sender@client.example.net>')" 1000
echo "1000 recipients: $(echo "$t1 - $t0" | bc) s through Postfix"

mark=$(rg_log_mark)
$HOSTILE many "$PORT" "" 500 2 >"$tmp/blank.out"
rg_expect "null sender: first recipient accepted in txn 1" \
    "$(sed -n 's/^txn0 first 250 2.1.5 //p' "$tmp/blank.out")" 1
rg_expect "null sender: first recipient accepted again after RSET" \
    "$(sed -n 's/^txn1 first 250 2.1.5 //p' "$tmp/blank.out")" 1
rg_expect "null sender: no other recipient accepted" \
    "$(grep -E '^txn[01] (known|unknown|relay) 2' "$tmp/blank.out" | wc -l)" 0
# Every other one gets 550 5.7.1: blank_sender for local ones, known or
# not (a null sender learns nothing about who exists), relay for others.
rg_expect "null sender: 2 x 499 others refused 550 5.7.1" \
    "$(grep -E '^txn[01] (known|unknown|relay) 550 5.7.1 ' "$tmp/blank.out" | awk '{s += $NF} END {print s}')" 998
rg_log_wait 'to=<user497@elsewhere.example.org>' 10 "$mark" >/dev/null
sleep 0.5
rg_expect "null sender: relayguard's blank_sender refusals (2 x (166 known + 167 unknown))" \
    "$(rg_log_since "$mark" | grep -c 'stage=rcpt action=reject rule=blank_sender')" 666
rg_expect "null sender: relayguard's relay refusals (2 x 166)" \
    "$(rg_log_since "$mark" | grep -c 'stage=rcpt action=reject rule=relay')" 332
rss_after=$(rss "$PID" VmRSS)
echo "relayguard VmRSS around 2,000 recipients: $rss_before -> $rss_after kB"
rss_bound "2,000 recipients: RSS grew less than 5 MB ($rss_before -> $rss_after kB)" \
    "$((rss_after - rss_before < RSS_GROWTH_KB))"

# --- 500 concurrent connections ---------------------------------------------
# Two identical rounds: the first may grow libmilter's worker pool and
# malloc's arenas; the second must not grow the daemon by more than a few
# MB.  With the audit trail on, what growth remains is SQLite's page cache
# on the writer's connection filling as the database grows (cache_size =
# -16384: 16 MiB at most); without it the daemon's RSS levels off within
# two rounds (measured: +32 kB in the sixth round of 200 sessions).
live0=$(milter_live)
for round in 1 2; do
	mark=$(rg_log_mark)
	$HOSTILE concurrent "$PORT" 500 >"$tmp/conc$round.out" 2>&1
	cat "$tmp/conc$round.out"
	rg_expect_match "500 concurrent, round $round: every session correct" \
	    "$(head -n 1 "$tmp/conc$round.out")" '^sessions 500 ok 500 together 500 '
	# The replies prove it (Postfix alone relays for 127.0.0.1 and knows
	# no user): still, count relayguard's own verdicts, 3 per session.
	rg_log_wait 'helo=c499\.example\.net .*to=<nobody499@' 10 "$mark" >/dev/null
	rg_expect "500 concurrent, round $round: relayguard's RCPT verdicts" \
	    "$(rg_log_since "$mark" | grep -cE 'stage=rcpt .* helo=c[0-9]+\.example\.net ')" 1500
	hwm=$(rss "$PID" VmHWM)
	wait_live "$live0" 30 || rg_fail "round $round: milter connections still open: $(milter_live)"
	sleep 1
	eval "rss_round$round=\$(rss \"\$PID\" VmRSS)"
	eval "echo \"relayguard after round $round: VmRSS \$rss_round$round kB, peak VmHWM $hwm kB\""
	rss_bound "500 concurrent, round $round: peak RSS under 100 MB ($hwm kB)" \
	    "$((hwm < RSS_CEILING_KB))"
done
rss_bound "500 concurrent: round 2 added less than 5 MB ($rss_round1 -> $rss_round2 kB)" \
    "$((rss_round2 - rss_round1 < RSS_GROWTH_KB))"
alive "500 concurrent"

# --- stalled and vanishing clients, garbage on the milter socket --------------
rm -f "$tmp/hold.ready"
$HOSTILE hold "$PORT" "$MPORT" "$tmp/hold.ready" >"$tmp/hold.out" 2>&1 &
hold_pid=$!
rg_e2e_on_exit "kill $hold_pid"
for i in $(seq 1 300); do
	[ -f "$tmp/hold.ready" ] && break
	kill -0 "$hold_pid" 2>/dev/null || break
	sleep 0.1
done
[ -f "$tmp/hold.ready" ] && rg_pass "stallers and vanishers in place" ||
	rg_fail "hostile clients did not set up: $(cat "$tmp/hold.out")"
# While they stall: a normal client, and a few more in parallel.
normal_client "while clients stall"
$HOSTILE concurrent "$PORT" 50 >"$tmp/conc-stall.out" 2>&1
rg_expect_match "50 concurrent while clients stall: every session correct" \
    "$(head -n 1 "$tmp/conc-stall.out")" '^sessions 50 ok 50 together 50 '
# Postfix opens a milter session at SMTP connect: the 10 idle and the 10
# stalled clients hold one each.  The 20 vanished ones must be closed, and
# the raw milter-socket connections never become sessions at all.
live=$(milter_live)
rg_expect "vanished clients: their milter sessions closed (live = 10 idle + 10 stalled)" \
    "$live" "$((live0 + 20))"
alive "stalled and vanished clients"
kill "$hold_pid" 2>/dev/null
rg_wait_pid "$hold_pid" 10
# Once the stallers are gone, Postfix closes their milter sessions.
if wait_live "$live0" 30; then
	rg_pass "stalled clients gone: milter sessions back to $live0"
else
	rg_fail "stalled clients gone: milter sessions still open: $(milter_live)"
fi
normal_client "after stalled clients"

# --- the log and the daemon at the end ------------------------------------------
long=$(awk 'length($0) > 4200' "$RG_MILTER_LOG" | wc -l)
rg_expect "every relayguard log line bounded (4 KiB + prefix)" "$long" 0
if grep -qE 'fatal|panic|assert|Segmentation' "$RG_MILTER_LOG"; then
	rg_fail "relayguard logged a fatal error: $(grep -m3 -E 'fatal|panic|assert' "$RG_MILTER_LOG")"
else
	rg_pass "no fatal error in relayguard's log"
fi
rss_end=$(rss "$PID" VmRSS)
echo "relayguard VmRSS: start $rss_start kB, end $rss_end kB, peak $(rss "$PID" VmHWM) kB, threads $(rss "$PID" Threads)"
rss_bound "RSS at the end under 100 MB ($rss_end kB)" "$((rss_end < RSS_CEILING_KB))"

rg_stop_relayguard
# A sanitizer build reports at exit (LeakSanitizer) or aborts on error.
if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$RG_MILTER_LOG"; then
	rg_fail "sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error:' "$RG_MILTER_LOG")"
else
	rg_pass "no sanitizer report in relayguard's log"
fi
rows=$("$SQLITE3_CLI" "$tmp/audit.db" "SELECT COUNT(*) FROM verdicts WHERE stage = 'rcpt'" 2>&1)
rg_expect_match "audit trail: every RCPT verdict recorded ($rows rows)" "$rows" '^[0-9]{4,}$'
echo "whole test: $(($(date +%s) - started)) s"
rg_done
