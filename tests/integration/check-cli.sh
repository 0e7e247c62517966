#!/bin/sh
# check-cli.sh - relayguard-check end to end on the command line
#
# Runs the installed-shape binary against a throwaway configuration and
# recipients file: human output, --json (every line parsed by python3),
# exit statuses 0 / 1 / 2, and the FILE:LINE message for a broken config.

. "$top_srcdir/tests/lib/common.sh"

rg_require python3
CHECK="$top_builddir/src/programs/relayguard-check"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rg-check-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

cat > "$work/recipients" <<'EOF'
# test users
alice@example.org
bob@example.org
jörg@example.org
EOF
cat > "$work/relayguard.conf" <<EOF
# relayguard-check test configuration
local_domains = example.org
local_addresses = 192.0.2.25
trusted_networks = 10.0.0.0/8
directory = file:$work/recipients
EOF
sed 's/^local_domains.*/&\nmode = monitor/' "$work/relayguard.conf" > "$work/monitor.conf"
conf="$work/relayguard.conf"

# run ARGS... - run the checker; sets out, err, rc
run() {
	"$CHECK" "$@" > "$work/out" 2> "$work/err"
	rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# json_get FIELD LINE_NO - a field of the LINE_NO-th JSON line of $work/out
json_get() {
	python3 -c '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
for l in lines:
    json.loads(l)			# every line must be valid JSON
v = json.loads(lines[int(sys.argv[3]) - 1]).get(sys.argv[2])
print(json.dumps(v) if isinstance(v, (list, dict)) or v is None else v)
' "$work/out" "$1" "$2"
}

echo "== accepted transaction"
run -c "$conf" --helo client.remote.test --from '<s@remote.test>' --rcpt '<alice@example.org>'
rg_expect "exit status, all accepted" "$rc" 0
rg_expect_match "helo stage shown" "$out" '^helo: client.remote.test'
rg_expect_match "local rule shown" "$out" 'rule: +local'
rg_expect_match "directory key shown" "$out" 'directory: +found \(alice@example.org\)'

echo "== percent hack: refused, trace shown"
run -c "$conf" --from '<s@remote.test>' --rcpt '<u%remote.test@example.org>'
rg_expect "exit status, refused" "$rc" 1
rg_expect_match "routing verdict" "$out" 'verdict: +reject 550 5\.7\.1 '
rg_expect_match "routing rule" "$out" 'rule: +routing'
rg_expect_match "normalized destination" "$out" 'normalized: <u@remote.test>'
rg_expect_match "trace line" "$out" '^    .*percent'

echo "== --json"
run -c "$conf" --json --from '<s@remote.test>' --rcpt '<u%remote.test@example.org>' --rcpt '<alice@[192.0.2.25]>'
rg_expect "json exit status" "$rc" 1
rg_expect "json lines (connect, mail, 2 rcpt)" "$(wc -l < "$work/out" | tr -d ' ')" 4
rg_expect "json stage" "$(json_get stage 3)" rcpt
rg_expect "json input" "$(json_get input 3)" '<u%remote.test@example.org>'
rg_expect "json action" "$(json_get action 3)" reject
rg_expect "json code" "$(json_get code 3)" 550
rg_expect "json ecode" "$(json_get ecode 3)" 5.7.1
rg_expect "json rule" "$(json_get rule 3)" routing
rg_expect "json normalized" "$(json_get normalized 3)" u@remote.test
rg_expect_match "json trace is a non-empty array" "$(json_get trace 3)" '^\[".+'
rg_expect "json literal recipient accepted" "$(json_get rule 4)" local
rg_expect "json directory result" "$(json_get directory 4)" found
rg_expect "json directory not consulted" "$(json_get directory 3)" null

echo "== blank sender: second recipient refused"
run -c "$conf" --json --from '<>' --rcpt '<alice@example.org>' --rcpt '<bob@example.org>'
rg_expect "blank sender exit" "$rc" 1
rg_expect "first recipient" "$(json_get rule 3)" local
rg_expect "second recipient" "$(json_get rule 4)" blank_sender

echo "== monitor mode: would-reject, exit 0"
run -c "$work/monitor.conf" --from '<s@remote.test>' --rcpt '<u@remote.test>'
rg_expect "monitor exit" "$rc" 0
rg_expect_match "would-reject printed" "$out" 'verdict: +would-reject 550 5\.7\.1 Relay access denied'
rg_expect_match "would-reject in the result line" "$out" '^result: accepted \(exit 0\), with 1 would-reject'

echo "== refused MAIL skips the recipients"
run -c "$conf" --json --from '<a@>' --rcpt '<alice@example.org>'
rg_expect "refused mail exit" "$rc" 1
rg_expect "mail rule" "$(json_get rule 2)" syntax
rg_expect "rcpt skipped" "$(json_get action 3)" skipped

echo "== clients: trusted, authenticated, unknown"
run -c "$conf" --client 10.1.2.3 --from '<s@remote.test>' --rcpt '<u@remote.test>'
rg_expect "trusted relay exit" "$rc" 0
rg_expect_match "trusted rule" "$out" 'rule: +trusted'
run -c "$conf" --auth joe --from '<s@remote.test>' --rcpt '<u@remote.test>'
rg_expect "authenticated relay exit" "$rc" 0
rg_expect_match "authenticated rule" "$out" 'rule: +authenticated'
run -c "$conf" --client unknown --from '<s@remote.test>' --rcpt '<u@remote.test>'
rg_expect "unix-socket client refused" "$rc" 1

echo "== SMTPUTF8"
run -c "$conf" --from '<s@remote.test>' --rcpt '<jörg@example.org>'
rg_expect "8-bit without --utf8" "$rc" 1
rg_expect_match "utf8 reply" "$out" '553 5\.6\.7'
run -c "$conf" --utf8 --from '<s@remote.test>' --rcpt '<jörg@example.org>'
rg_expect "8-bit with --utf8" "$rc" 0

echo "== hostile text stays valid JSON"
run -c "$conf" --json --from '<s@remote.test>' --rcpt "$(printf '<a\001b\377\\@example.org>')"
rg_expect "hostile exit" "$rc" 1
rg_expect "hostile rule" "$(json_get rule 3)" syntax
# the byte 0xFF is not UTF-8: U+FFFD, as in every other JSON relayguard writes
rg_expect "hostile input round-trips escaped" "$(json_get input 3 | od -An -c | tr -s ' ' | head -1)" \
	"$(printf '<a\001b\357\277\275\\@example.org>' | od -An -c | tr -s ' ' | head -1)"

echo "== usage errors: exit 2"
run -c "$conf" --rcpt '<alice@example.org>'
rg_expect "missing --from" "$rc" 2
rg_expect_match "missing --from message" "$err" '--from is required'
run -c "$conf" --from '<>'
rg_expect "missing --rcpt" "$rc" 2
run -c "$conf" --client 999.1.1.1 --from '<>' --rcpt '<alice@example.org>'
rg_expect "bad --client" "$rc" 2
rg_expect_match "bad --client message" "$err" 'not an IPv4 or IPv6 address'
run -c "$conf" --bogus --from '<>' --rcpt '<alice@example.org>'
rg_expect "unknown option" "$rc" 2

echo "== configuration errors: exit 2 with FILE:LINE"
printf 'local_domains = example.org\n# comment\nno_such_key = 1\n' > "$work/broken.conf"
run -c "$work/broken.conf" --from '<>' --rcpt '<alice@example.org>'
rg_expect "broken config exit" "$rc" 2
rg_expect_match "FILE:LINE message" "$err" "^relayguard-check: $work/broken.conf:3: "
run -c "$work/absent.conf" --from '<>' --rcpt '<alice@example.org>'
rg_expect "missing config exit" "$rc" 2
rg_expect_match "missing config message" "$err" 'absent.conf'
printf 'alice@example.org\nnot-an-address\n' > "$work/bad-recipients"
sed "s|^directory = .*|directory = file:$work/bad-recipients|" "$conf" > "$work/badrcpt.conf"
run -c "$work/badrcpt.conf" --from '<>' --rcpt '<alice@example.org>'
rg_expect "bad recipients file exit" "$rc" 2
rg_expect_match "recipients FILE:LINE" "$err" "bad-recipients:2: not an address"
rm -f "$work/recipients"
run -c "$conf" --from '<>' --rcpt '<alice@example.org>'
rg_expect "missing recipients file exit" "$rc" 2
rg_expect_match "missing recipients message" "$err" 'recipients: cannot open'

rg_done
