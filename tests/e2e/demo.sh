#!/bin/sh
# tests/e2e/demo.sh - `make demo`, the README's first command, shows what
# it promises
#
# Runs demo/demo.sh as make demo does (no terminal: the dashboard stops
# with the rest) and checks its output: the five sessions' replies
# through Postfix, relayguard's verdict lines for them, the audit rows,
# the dashboard's URL last and its screenshot (a PNG), and nothing left
# running.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

rg_require timeout
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rg_step "demo/demo.sh"
RG_DEMO_SCREENSHOT=$tmp/dashboard.png timeout 150 bash "$top_srcdir/demo/demo.sh" \
	>"$tmp/out" 2>&1 </dev/null
rc=$?
out=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/out")
rg_expect "demo exits 0" "$rc" 0

rg_expect_match "the local recipient is accepted" "$out" 'S: 250 2\.1\.5'
rg_expect_match "the relay attempt is refused" "$out" 'S: 550 5\.7\.1 Relay access denied'
rg_expect_match "the unknown user is refused" "$out" 'S: 550 5\.1\.1 Recipient address rejected'
rg_expect_match "the percent hack is refused" "$out" 'S: 550 5\.7\.1 Sender-specified routing denied'
rg_expect_match "the blank sender's second recipient is refused" "$out" \
	'S: 550 5\.7\.1 Blank sender not accepted for this recipient'
for rule in relay unknown routing blank_sender; do
	rg_expect_match "relayguard's log: rule $rule" "$out" \
		"stage=rcpt action=reject rule=$rule code=550"
done
rg_expect_match "the audit table is shown" "$out" 'relay +reject +1'
rg_expect_match "the dashboard's URL comes last" "$(printf '%s\n' "$out" | tail -1)" \
	'^dashboard: http://127\.0\.0\.1:[0-9]+/'
if [ "$(head -c 8 "$tmp/dashboard.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
	rg_pass "the dashboard's screenshot is a PNG"
else
	rg_fail "no screenshot of the dashboard at $tmp/dashboard.png"
fi
[ "$rc" -eq 0 ] || sed 's/^/  | /' "$tmp/out" >&2
rg_done
