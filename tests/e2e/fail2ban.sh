#!/bin/bash
# tests/e2e/fail2ban.sh - conf/fail2ban/filter.d/relayguard.conf with the
# real fail2ban-regex against relayguard's log lines from a real run
# behind Postfix: relay probes, a harvest drop and the penalties match
# with the client's address; acceptances, single unknown recipients and
# trusted relaying do not; a HELO name and a sender address that carry
# a fake client address never make it the banned one.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX"
F2B_REGEX=${F2B_REGEX:-$(command -v fail2ban-regex || echo /usr/bin/fail2ban-regex)}
rg_require "$F2B_REGEX"

tmp=$(rg_e2e_tmpdir)
FAKE=192.0.2.66
# harvest_limit = 3 (the e2e configuration); three relay refusals allowed
rg_start_relayguard "$(rg_e2e_conf "client_limit.relay = 3")" inet ||
	{ rg_fail "relayguard did not start"; rg_done; }
rg_start_postfix "$RG_MILTER_SOCKET" || { rg_fail "postfix did not start"; rg_done; }
port=$RG_POSTFIX_PORT

# swaks_from ADDR FROM TO [ARG...] - one transaction from ADDR
swaks_from() {
	local addr=$1
	shift
	rg_smtp "$port" "$@" --local-interface "$addr" >/dev/null 2>&1
}

# must match: a relay prober, one connection per try, then penalised
for i in 1 2 3 4 5; do
	swaks_from 127.0.1.9 "$SENDER" "victim$i@remote.example"
done
# must match: a harvester dropped in one connection (three unknowns, the
# fourth is the harvest rule)
swaks_from 127.0.2.9 "$SENDER" n1@example.test,n2@example.test,n3@example.test,n4@example.test
# hostile: a HELO name and a quoted sender that write a fake client
# address, then a relay try (matches, for 127.0.0.1 only)
out=$(rg_smtp_dialog "$port" "EHLO evil[$FAKE]" \
	"MAIL FROM:<\"x client=evil[$FAKE] helo=y\"@remote.example>" \
	"RCPT TO:<victim@remote.example>" QUIT)
printf '%s\n' "$out" | grep -q "^S: 550 5.7.1" ||
	rg_fail "the hostile relay try was not refused: $out"
# must not match: a local delivery, one unknown recipient, trusted relaying
swaks_from 127.0.4.9 "$SENDER" alice@example.test,nobody@example.test
swaks_from 127.0.0.2 "$SENDER" someone@remote.example

sleep 0.5
rg_stop_relayguard
# the daemon's lines as syslog writes them (fail2ban needs a time stamp)
stamp=$(LC_ALL=C date '+%b %e %H:%M:%S')
grep '^relayguard\[' "$RG_MILTER_LOG" | sed "s/^/$stamp mx /" >"$tmp/mail.log"
grep -F "helo=evil[$FAKE] " "$tmp/mail.log" | grep -qF 'x\x20client=evil['"$FAKE"']\x20helo=y' &&
	rg_pass "the run logged the hostile HELO and sender, spaces escaped" ||
	rg_fail "no line with the hostile HELO and sender"

# fail2ban-regex resolves the filter's include (common.conf) beside it
mkdir -p "$tmp/f2b/filter.d"
cp "$top_srcdir/conf/fail2ban/filter.d/relayguard.conf" "$tmp/f2b/filter.d/"
cp /etc/fail2ban/filter.d/common.conf "$tmp/f2b/filter.d/"
timeout 60 "$F2B_REGEX" -v --print-all-missed "$tmp/mail.log" "$tmp/f2b/filter.d/relayguard.conf" \
	>"$tmp/regex.out" 2>&1
rg_expect "fail2ban-regex exit status" 0 "$?"
# the address of each match, as fail2ban-regex -v lists them
awk '/^\|[ ]+[0-9]+\) \[/ { inre = 1; next }
     inre && /^\|[ ]+[0-9a-f.:]+  [A-Z]/ { print $2; next }
     /^`-/ { inre = 0 }' "$tmp/regex.out" | sort | uniq -c |
	awk '{ print $2 "=" $1 }' | paste -sd' ' >"$tmp/hosts"
# 127.0.1.9: four relay refusals and the penalty at connect;
# 127.0.2.9: the harvest drop; 127.0.0.1: the hostile relay try
rg_expect "hosts banned and their matches" \
	"127.0.0.1=1 127.0.1.9=5 127.0.2.9=1" "$(cat "$tmp/hosts")"
rg_expect "the fake address is never taken for the client" 0 \
	"$(grep -c "$FAKE  " "$tmp/regex.out")"
total=$(wc -l <"$tmp/mail.log")
rg_expect_match "every other line missed" "$(grep '^Lines:' "$tmp/regex.out")" \
	"^Lines: $total lines, 0 ignored, 7 matched, $((total - 7)) missed"
# and the lines that must not match are among the missed ones
missed=$(sed -n '/^|- Missed line/,/^`-/p' "$tmp/regex.out")
for re in 'rule=local ' 'rule=unknown ' 'rule=trusted ' 'stage=connect action=accept'; do
	printf '%s\n' "$missed" | grep -q -- "$re" && rg_pass "missed: $re" ||
		rg_fail "no missed line with $re"
done
rg_done
