#!/bin/bash
# demo/demo.sh - `make demo`: relayguard in front of a real Postfix, live
#
# Starts relayguard on its built-in defaults (only the local domain, the
# recipient file and the socket are set), a throwaway Postfix wired to it
# on a loopback port, and plays a few SMTP sessions an administrator
# would try: a local recipient, a relay attempt, an unknown user, a
# percent hack, a blank sender.  Prints each command and reply, then the
# milter's log lines and the rows the audit trail stored; then starts
# the dashboard over them (relayguard-audit serve), takes a screenshot
# with headless Chromium (demo-dashboard.png in the build tree, or
# RG_DEMO_SCREENSHOT) and prints the dashboard's URL last (on a terminal
# it keeps serving until Enter).  Everything started is stopped on exit;
# tests/e2e/demo.sh checks all of it.
# Needs root (Postfix runs its daemons as the postfix user) and the
# packages of ./autogen.sh --deps.  Run from the build tree by make demo,
# or by hand with top_srcdir and top_builddir set.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/mta.sh"

if [ -t 1 ]; then
	B=$(printf '\033[1m'); G=$(printf '\033[32m'); R=$(printf '\033[31m')
	D=$(printf '\033[2m'); N=$(printf '\033[0m')
else
	B=""; G=""; R=""; D=""; N=""
fi

# say TEXT - a heading
say() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }

# die TEXT - give up (the trap stops what was started)
die() { echo "demo: $*" >&2; exit 1; }

# show_session TITLE CMD... - one SMTP session, replies coloured, EHLO's
# capability list folded
show_session() {
	local title=$1
	shift
	say "$title"
	# A multi-line reply (EHLO's capabilities) is shown by its first line.
	rg_smtp_dialog "$RG_POSTFIX_PORT" "$@" | awk '
	/^S: [0-9][0-9][0-9]-/ { if (!ml) print $0 " ..."; ml = 1; next }
	ml { ml = 0; next }
	{ print }' |
	while IFS= read -r line; do
		case "$line" in
		"C: "*) printf '  %s%s%s\n' "$B" "$line" "$N" ;;
		"S: 2"*|"S: 3"*) printf '  %s%s%s\n' "$G" "$line" "$N" ;;
		"S: "*) printf '  %s%s%s\n' "$R" "$line" "$N" ;;
		*) printf '  %s\n' "$line" ;;
		esac
	done
}

[ "$(id -u)" = 0 ] || die "run as root (Postfix needs it): sudo make demo"
rg_require "$RG_RELAYGUARD" "$POSTFIX"

tmp=$(rg_e2e_tmpdir)
cat >"$tmp/recipients" <<'EOF'
# the users of example.test
alice@example.test
bob@example.test
postmaster@example.test
EOF
audit="$tmp/audit.db"
cat >"$tmp/relayguard.conf" <<EOF
# Everything not set here is relayguard's built-in default:
# mode = enforce, routing = reject, blank_sender = single-recipient, ...
local_domains = example.test
directory = file:$tmp/recipients
audit_db = $audit
EOF

say "relayguard demo"
echo "Local domain example.test; its users (file directory):"
grep -v '^#' "$tmp/recipients" | sed 's/^/    /'

rg_start_relayguard "$tmp/relayguard.conf" || die "relayguard did not start"
echo "relayguard.conf (the demo adds a free port and allow_root):"
grep -v '^#' "$RG_MILTER_CONF" | sed 's/^/    /'
echo "relayguard -f -s -c ... listens on $RG_MILTER_SOCKET (pid $RG_MILTER_PID)"
rg_start_postfix "$RG_MILTER_SOCKET" || die "Postfix did not start"
echo "Postfix $(postconf -h mail_version 2>/dev/null) on 127.0.0.1:$RG_POSTFIX_PORT with" \
    "smtpd_milters = $(rg_e2e_milter_postfix "$RG_MILTER_SOCKET"), milter_default_action = tempfail"
echo "${D}This Postfix would relay for 127.0.0.0/8 on its own (mynetworks):" \
    "relayguard alone stands in the way.${N}"
mark=$(rg_log_mark)

show_session "1. Mail for a local user: accepted" \
    "EHLO client.example.net" "MAIL FROM:<sender@client.example.net>" \
    "RCPT TO:<alice@example.test>" "DATA" "Subject: hello" "" "Hello Alice." "." "QUIT"
show_session "2. A relay attempt: refused" \
    "EHLO client.example.net" "MAIL FROM:<spammer@client.example.net>" \
    "RCPT TO:<victim@remote.example>" "QUIT"
show_session "3. An unknown user: refused at RCPT, no bounce later" \
    "EHLO client.example.net" "MAIL FROM:<sender@client.example.net>" \
    "RCPT TO:<nobody@example.test>" "QUIT"
show_session "4. The percent hack (victim%remote.example@example.test): refused" \
    "EHLO client.example.net" "MAIL FROM:<spammer@client.example.net>" \
    "RCPT TO:<victim%remote.example@example.test>" "QUIT"
show_session "5. A blank sender (a bounce): one local recipient only" \
    "EHLO client.example.net" "MAIL FROM:<>" \
    "RCPT TO:<alice@example.test>" "RCPT TO:<bob@example.test>" "QUIT"

say "relayguard's log: the RCPT verdicts and every refusal"
echo "${D}(one line per verdict, like Postfix's own; connect/helo/mail lines" \
    "that passed are left out here; the queue id leads once Postfix has one)${N}"
sleep 0.5
rg_log_since "$mark" | grep -E 'stage=' | grep -vE 'stage=(connect|helo|mail) action=accept' |
    sed 's/^/  /'

rg_stop_relayguard		# flushes the audit queue
say "The audit table ($audit)"
if command -v sqlite3 >/dev/null 2>&1; then
	echo "sqlite3 $audit \"SELECT ... FROM verdicts WHERE stage = 'rcpt'\":"
	sqlite3 -header -column "$audit" \
	    "SELECT time, client_addr, sender, rcpt, rule, action, code
	     FROM verdicts WHERE stage = 'rcpt' ORDER BY id LIMIT 20;" |
	    sed 's/^/  /' || echo "  (could not read the audit database)"
	echo
	echo "sqlite3 $audit \"SELECT * FROM daily_summary\":"
	sqlite3 -header -column "$audit" "SELECT * FROM daily_summary;" |
	    sed 's/^/  /' || echo "  (could not read the audit database)"
else
	echo "  (sqlite3 not installed)"
fi

# The dashboard over the same table: started, photographed, its URL last.
say "The dashboard: relayguard-audit serve"
port=$(rg_free_port) || die "no free port for the dashboard"
echo "relayguard-audit -d $audit serve --listen 127.0.0.1:$port"
"$top_builddir/src/programs/relayguard-audit" -d "$audit" serve --listen "127.0.0.1:$port" \
    --web-root "$top_srcdir/web" >"$tmp/serve.out" 2>&1 &
serve_pid=$!
rg_e2e_on_exit "kill $serve_pid; wait $serve_pid"
rg_wait_port "$port" 10 || { cat "$tmp/serve.out" >&2; die "the dashboard did not start"; }
url="http://127.0.0.1:$port/?range=1h"
shot=""
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium" ]; then
	profile=$(mktemp -d "$tmp/chromium.XXXXXX")
	shot=${RG_DEMO_SCREENSHOT:-$top_builddir/demo-dashboard.png}
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
	    --no-first-run --disable-background-networking --disable-component-update \
	    --disable-sync --user-data-dir="$profile" --hide-scrollbars \
	    --window-size=1280,1000 --virtual-time-budget=5000 --screenshot="$shot" \
	    "$url" >/dev/null 2>&1 || shot=""
fi
say "done"
[ -n "$shot" ] && echo "screenshot of the dashboard: $shot"
if [ -t 0 ] && [ -t 1 ]; then
	echo "dashboard: $B$url$N"
	printf '%s\n' "${D}Open it in a browser on this machine; press Enter to stop everything.${N}"
	read -r _ || true
else
	echo "dashboard: $url (served while the demo ran; stopped with everything else)"
fi
