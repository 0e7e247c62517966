#!/bin/bash
# tests/hostile/valgrind-e2e.sh - relayguard under valgrind (memcheck)
# behind a real Postfix: a compact set of end-to-end sessions that walks
# every refusal kind, a whole message, a vanishing client, a reload to
# monitor mode and back, a statistics signal and a clean stop; then
# valgrind's report must show no error and no definitely lost block.
#
# The daemon runs under tests/lib/mta.sh's RG_DAEMON_WRAPPER.  valgrind
# makes it some 20 to 50 times slower, so Postfix gets generous milter
# timeouts (a timeout would end sessions early and hide code paths).
# Leaks: only "definitely lost" counts as an error; memory still held by
# threads at exit (libmilter's and the C library's per-thread blocks) is
# "possibly lost" or "still reachable", which is not a leak of ours.
# tests/hostile/valgrind.supp holds the suppressions, each explained.
# (bash: the e2e library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX" valgrind python3
# valgrind cannot run a binary built with AddressSanitizer (or the other
# runtime sanitizers); the --enable-sanitizers build checks memory itself.
if LC_ALL=C grep -qaE '__asan_init|__msan_init|__tsan_init' "$RG_RELAYGUARD"; then
	echo "SKIP: $RG_RELAYGUARD is sanitizer-instrumented; valgrind needs a plain build"
	exit 77
fi
tmp=$(rg_e2e_tmpdir)
HOSTILE="python3 $top_srcdir/tests/hostile/smtp-hostile.py"
VG_LOG=$tmp/valgrind.log
started=$(date +%s)

RG_DAEMON_WRAPPER="valgrind --tool=memcheck --error-exitcode=99
 --leak-check=full --errors-for-leak-kinds=definite
 --show-leak-kinds=definite,possible --num-callers=30 --track-origins=yes
 --suppressions=$top_srcdir/tests/hostile/valgrind.supp
 --log-file=$VG_LOG"

MTA=postfix
REJ='action=reject rule='
conf_text() {
	rg_e2e_conf "sender_deny = @spam.example" "audit_db = $tmp/audit.db" "$@"
}
rg_start_relayguard "$(conf_text)" || exit 1
# Under valgrind the start takes a while: wait for its own start line.
rg_log_wait 'starting relayguard' 60 >/dev/null ||
	{ rg_fail "relayguard under valgrind did not start"; rg_done; }
VG_PID=$RG_MILTER_PID
rg_start_postfix "$RG_MILTER_SOCKET" \
    "milter_connect_timeout = 60s" \
    "milter_command_timeout = 120s" \
    "milter_content_timeout = 120s" || exit 1
MTA_PORT=$RG_POSTFIX_PORT

echo "# accepts and refusals of each kind"
rcpt_case "local user" "$SENDER" alice@example.test 250 'action=accept rule=local'
rcpt_case "unknown user" "$SENDER" nobody@example.test '550 5\.1\.1' "${REJ}unknown"
rcpt_case "relay" "$SENDER" victim@remote.test '550 5\.7\.1' "${REJ}relay"
rcpt_case "percent hack" "$SENDER" 'victim%remote.test@example.test' '550 5\.7\.1' \
    "${REJ}(relay|routing)"
rcpt_case "source route" "$SENDER" '@example.test:victim@remote.test' '550 5\.7\.1' \
    "${REJ}(relay|routing)"
rcpt_case "<> with two recipients: second refused" '<>' \
    'alice@example.test,bob@example.test' '550 5\.7\.1' "${REJ}blank_sender"
mark=$(rg_log_mark)
rg_smtp "$MTA_PORT" bad@spam.example alice@example.test
rg_expect_match "sender_deny: MAIL refused" "$RG_SMTP_MAIL" '^550 5\.7\.1'
rg_log_wait "stage=mail ${REJ}sender_deny" 30 "$mark" >/dev/null &&
	rg_pass "sender_deny: relayguard's verdict" || rg_fail "sender_deny: no verdict"

mark=$(rg_log_mark)
out=$($HOSTILE session "$MTA_PORT" "EHLO ctl.example.net" \
    "MAIL FROM:<s@client.example.net>" 'RCPT TO:<al\x01ice@example.test>' \
    'RCPT TO:<al\xc3\xafice@example.test>' QUIT)
rg_expect_match "syntax: control byte refused" "$(printf '%s\n' "$out" | sed -n 's/^S: //p' | sed -n 4p)" \
    '^501 5\.1\.3'
rg_expect_match "utf8: non-ASCII without SMTPUTF8 refused" \
    "$(printf '%s\n' "$out" | sed -n 's/^S: //p' | sed -n 5p)" '^553 5\.6\.7'
rg_log_wait "${REJ}utf8" 30 "$mark" >/dev/null &&
	rg_pass "utf8: relayguard's verdict" || rg_fail "utf8: no verdict"

# harvest_limit = 3: the fourth unknown recipient ends the connection.
mark=$(rg_log_mark)
rg_smtp "$MTA_PORT" "$SENDER" n1@example.test,n2@example.test,n3@example.test,n4@example.test
rg_expect_match "harvest: fourth unknown recipient" "$RG_SMTP_RCPT" '^421 4\.7\.0'
rg_log_wait 'action=drop rule=harvest' 30 "$mark" >/dev/null &&
	rg_pass "harvest: relayguard's verdict" || rg_fail "harvest: no verdict"

echo "# a whole message, and a client that vanishes mid-transaction"
RG_SMTP_QUIT="" rg_smtp "$MTA_PORT" "$SENDER" alice@example.test
rg_expect_match "whole message accepted" "$RG_SMTP_DATA" '^250'
$HOSTILE session "$MTA_PORT" "EHLO gone.example.net" "MAIL FROM:<$SENDER>" \
    "RCPT TO:<bob@example.test>" >/dev/null
rcpt_case "after the vanished client" "$SENDER" carol@example.test 250 'action=accept rule=local'

echo "# reload to monitor mode and back, statistics"
if rg_reload_relayguard "$(conf_text 'mode = monitor')"; then
	rg_pass "reload to monitor"
else
	rg_fail "reload to monitor"
fi
rcpt_case "monitor: relay accepted" "$SENDER" victim@remote.test 250 \
    'action=would-reject rule=relay'
rg_reload_relayguard "$(conf_text)" && rg_pass "reload to enforce" || rg_fail "reload to enforce"
rcpt_case "enforce again: relay refused" "$SENDER" victim@remote.test '550 5\.7\.1' "${REJ}relay"
mark=$(rg_log_mark)
kill -USR1 "$VG_PID"
rg_log_wait 'stats: connections=' 30 "$mark" >/dev/null &&
	rg_pass "SIGUSR1 stats line" || rg_fail "no stats line"

echo "# stop, then read valgrind's report"
rg_stop_postfix
kill -TERM "$VG_PID"
if rg_wait_gone "$VG_PID" 120; then
	wait "$VG_PID"
	status=$?
	rg_expect "relayguard under valgrind: exit status (99 = valgrind errors)" "$status" 0
else
	rg_fail "relayguard under valgrind did not stop within 120 s"
fi
RG_MILTER_PID=""
rg_log_wait '^relayguard\[[0-9]+\]: stopped$|: stopped$' 5 >/dev/null &&
	rg_pass "relayguard logged its stop" || rg_fail "no stop line"

if [ -s "$VG_LOG" ]; then
	summary=$(grep -E 'ERROR SUMMARY' "$VG_LOG" | tail -n 1)
	rg_expect_match "valgrind: no error ($summary)" "$summary" 'ERROR SUMMARY: 0 errors'
	definite=$(grep -E 'definitely lost:' "$VG_LOG" | tail -n 1)
	if [ -z "$definite" ] || printf '%s\n' "$definite" | grep -q 'definitely lost: 0 bytes'; then
		rg_pass "valgrind: nothing definitely lost (${definite:-no leak summary: all freed})"
	else
		rg_fail "valgrind: $definite"
	fi
	echo "valgrind leak summary:"
	sed -n '/LEAK SUMMARY/,/suppressed:/p' "$VG_LOG" | sed 's/^==[0-9]*== */  /'
	if [ "$rg_failures" -ne 0 ]; then
		echo "----- valgrind log" >&2
		grep -v '^--' "$VG_LOG" | head -n 200 >&2
	fi
else
	rg_fail "valgrind wrote no log at $VG_LOG"
fi
echo "whole test: $(($(date +%s) - started)) s"
rg_done
