# tests/lib/cases.sh - the end-to-end cases run through each MTA
# (sourced by tests/e2e/postfix.sh and tests/e2e/sendmail.sh, after
# tests/lib/mta.sh)
#
# rg_e2e_run_cases MTA starts relayguard, then the MTA ("postfix" or
# "sendmail") wired to it, and checks every SMTP-visible behaviour: the
# reply the client gets AND the milter's log line saying which rule made
# it, so that a refusal by the MTA itself is never taken for relayguard's.
# Where an MTA refuses an address form before the milter is asked, the
# case says so and asserts exactly that (the MTA's reply, no milter line).
# RG_E2E_SWAKS_ALL=1 sends every case with swaks (slower).
#
# RG_E2E_DOOR=policy runs the same cases through Postfix's policy
# delegation instead of the milter: relayguard listens on policy_socket
# too and Postfix asks it with check_policy_service in
# smtpd_recipient_restrictions (no milter).  The verdicts (rule, action,
# code) must be the same; where the door itself makes a visible
# difference, the case says so and asserts the door's behaviour.

E2E_DIR="$top_srcdir/tests/lib"
SENDER="sender@client.example.net"
# The SMTP AUTH account of the Postfix runs (Cyrus SASL, sasldb).
AUTH_USER="bob@example.test"
AUTH_PASS="s3cret-e2e"

# rg_e2e_conf [LINE...] - print the test configuration plus LINEs (and,
# for the policy door, its policy_socket, RG_E2E_POLICY_SOCKET, which
# the caller sets: this runs in a subshell)
rg_e2e_conf() {
	local l
	sed "s|@E2E_DIR@|$E2E_DIR|g" "$E2E_DIR/relayguard-e2e.conf"
	if [ "${RG_E2E_DOOR:-milter}" = policy ]; then
		echo "policy_socket = $RG_E2E_POLICY_SOCKET"
		case "$RG_E2E_POLICY_SOCKET" in
		unix:*) echo "socket_mode = 0666" ;;	# smtpd runs as postfix
		esac
	fi
	for l in "$@"; do printf '%s\n' "$l"; done
}

# rg_e2e_policy_postfix SPEC - policy_socket spelling to Postfix's
rg_e2e_policy_postfix() {
	case "$1" in
	inet:*@*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
	*) echo "$1" ;;
	esac
}

# rg_e2e_start_mta MTA MILTER - start the MTA wired to MILTER (or, for
# the policy door, Postfix asking relayguard's policy socket); sets
# MTA_PORT
rg_e2e_start_mta() {
	if [ "${RG_E2E_DOOR:-milter}" = policy ]; then
		[ "$1" = postfix ] || { echo "the policy door is Postfix's" >&2; return 1; }
		rg_start_postfix none "sasl=$AUTH_USER:$AUTH_PASS" \
		    "smtpd_recipient_restrictions = check_policy_service $(rg_e2e_policy_postfix "$RG_E2E_POLICY_SOCKET")" \
		    "smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable" \
		    "smtpd_policy_service_timeout = 10s" || return 1
		MTA_PORT=$RG_POSTFIX_PORT
		return 0
	fi
	case "$1" in
	postfix) rg_start_postfix "$2" "sasl=$AUTH_USER:$AUTH_PASS" || return 1
		MTA_PORT=$RG_POSTFIX_PORT ;;
	sendmail) rg_start_sendmail "$2" "sasl=$AUTH_USER:$AUTH_PASS" || return 1
		MTA_PORT=$RG_SENDMAIL_PORT ;;
	*) echo "unknown MTA $1" >&2; return 1 ;;
	esac
}

# policy_form ADDR - the recipient as the policy door logs it: smtpd
# hands the policy service its internal form (source route dropped,
# quotes and backslashes removed), and relayguard quotes a local part
# holding an @ again (pr_path); enough for the addresses of these cases
policy_form() {
	local a
	a=$(printf '%s' "$1" | sed 's/^@[^:]*://; s/\\\(.\)/\1/g; s/"//g')
	case "$a" in
	*@*@*) a="\"${a%@*}\"@${a##*@}" ;;
	esac
	printf '%s' "$a"
}

# rcpt_log_line MARK RCPT REGEX - wait (5 s at most) for the milter's
# stage=rcpt line about recipient RCPT (as the client wrote it, or as
# the policy door gets it) after MARK that matches REGEX; print it
rcpt_log_line() {
	local i to=$2
	[ "${RG_E2E_DOOR:-milter}" = policy ] && to=$(policy_form "$2")
	# As the log line escapes a field: \ and " backslashed, space \x20.
	to=$(printf '%s' "$to" | sed 's/\\/\\\\/g; s/"/\\"/g; s/ /\\x20/g')
	for i in $(seq 1 50); do
		rg_log_since "$1" | grep -F -- "to=<$to>" |
		    grep -E -- "stage=rcpt .*$3" && return 0
		sleep 0.1
	done
	return 1
}

# rcpt_case NAME FROM TO REPLY_REGEX LOG_REGEX [SWAKS_ARG...] - one
# transaction: the last RCPT reply must match ^REPLY_REGEX, and the
# milter's log line for that (last) recipient must match LOG_REGEX.
# With swaks arguments (AUTH, a client address) swaks sends it; plain
# cases use the library's raw client, which costs a fifth of a swaks run
# (perl start-up) and keeps the test fast on a loaded machine.
rcpt_case() {
	local name=$1 from=$2 to=$3 want=$4 logre=$5 mark line
	shift 5
	mark=$(rg_log_mark)
	if [ $# -gt 0 ] || [ "${RG_E2E_SWAKS_ALL:-0}" = 1 ]; then
		rg_smtp "$MTA_PORT" "$from" "$to" "$@"
	else
		rg_smtp_fast "$MTA_PORT" "$from" "$to"
	fi
	rg_expect_match "$MTA: $name: RCPT <$to> reply" "$RG_SMTP_RCPT" "^$want"
	if line=$(rcpt_log_line "$mark" "${to##*,}" "$logre"); then
		rg_pass "$MTA: $name: milter log: $(echo "$line" | tail -n 1 |
		    grep -oE 'action=[^ ]+ rule=[^ ]+')"
	else
		rg_fail "$MTA: $name: no milter log line matching /$logre/; got:
$(rg_log_since "$mark")"
	fi
}

# mta_refusal_case NAME FROM TO REPLY_REGEX - the MTA itself refuses this
# form before the milter is asked: the reply must match and the milter
# must have logged no RCPT verdict for it
mta_refusal_case() {
	local name=$1 from=$2 to=$3 want=$4 mark
	mark=$(rg_log_mark)
	rg_smtp_fast "$MTA_PORT" "$from" "$to"
	rg_expect_match "$MTA: $name: RCPT <$to> refused by $MTA itself" \
	    "$RG_SMTP_RCPT" "^$want"
	sleep 0.5
	if rg_log_since "$mark" | grep -q 'stage=rcpt'; then
		rg_fail "$MTA: $name: expected no milter RCPT verdict; got:
$(rg_log_since "$mark")"
	else
		rg_pass "$MTA: $name: milter not asked ($MTA refused first)"
	fi
}

# dialog_case NAME WANT_CODES LOG_REGEX CMD... - a raw session whose reply
# codes (banner first, EOF for a closed connection) must equal WANT_CODES
# and after which a milter log line must match LOG_REGEX ("" = none)
dialog_case() {
	local name=$1 want=$2 logre=$3 mark out
	shift 3
	mark=$(rg_log_mark)
	out=$(rg_smtp_dialog "$MTA_PORT" "$@"; echo "CODES=$RG_DIALOG_CODES")
	RG_DIALOG_CODES=$(printf '%s\n' "$out" | sed -n 's/^CODES=//p')
	rg_expect "$MTA: $name: reply codes" "$RG_DIALOG_CODES" "$want"
	[ "$RG_DIALOG_CODES" = "$want" ] || printf '%s\n' "$out" | sed 's/^/    /' >&2
	if [ -n "$logre" ]; then
		if rg_log_wait "$logre" 5 "$mark" >/dev/null; then
			rg_pass "$MTA: $name: milter log matches /$logre/"
		else
			rg_fail "$MTA: $name: no milter log line /$logre/; got:
$(rg_log_since "$mark")"
		fi
	fi
}

# rg_e2e_run_cases MTA - every case, through MTA
rg_e2e_run_cases() {
	MTA=$1
	local REJ='action=reject rule='
	local TRICK='action=reject rule=(relay|routing) code=550'

	local door=${RG_E2E_DOOR:-milter} drop_codes

	[ "$door" = policy ] && RG_E2E_POLICY_SOCKET="inet:$(rg_free_port)@127.0.0.1"

	rg_start_relayguard "$(rg_e2e_conf)" || { rg_fail "relayguard start"; return; }
	rg_e2e_start_mta "$MTA" "$RG_MILTER_SOCKET" || { rg_fail "$MTA start"; return; }
	echo "# $MTA on 127.0.0.1:$MTA_PORT, relayguard on $RG_MILTER_SOCKET${RG_E2E_POLICY_SOCKET:+ and policy $RG_E2E_POLICY_SOCKET} ($door door)"

	echo "# plain cases"
	rcpt_case "local user" "$SENDER" alice@example.test 250 'action=accept rule=local'
	rcpt_case "local user (swaks)" "$SENDER" carol@example.test 250 'action=accept rule=local' \
	    --helo client.example.net
	rcpt_case "plain relay (swaks)" "$SENDER" victim@remote.test '550 5\.7\.1' \
	    "${REJ}relay code=550" --helo client.example.net
	rcpt_case "local user, other case" "$SENDER" Bob@Example.TEST 250 'action=accept rule=local'
	rcpt_case "postmaster" "$SENDER" postmaster@example.test 250 'action=accept'
	rcpt_case "unknown user" "$SENDER" nobody@example.test '550 5\.1\.1' \
	    "${REJ}unknown code=550 ecode=5\.1\.1"
	rcpt_case "plain relay" "$SENDER" victim@remote.test '550 5\.7\.1' \
	    "${REJ}relay code=550 ecode=5\.7\.1"

	echo "# relay-trick families (relay-tricks.md), each refused by relayguard"
	rcpt_case "percent hack" "$SENDER" 'victim%remote.test@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "percent hack, address literal" "$SENDER" 'victim%remote.test@[127.0.0.1]' '550 5\.7\.1' "$TRICK"
	rcpt_case "percent hack, several %" "$SENDER" 'victim%remote.test%example.test@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "bang path" "$SENDER" 'remote.test!victim@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "bang path, unqualified" "$SENDER" 'remote.test!victim' '550 5\.7\.1' "$TRICK"
	if [ "$MTA" = sendmail ]; then
		# Sendmail's own parser refuses a second @ outside quotes
		# ("553 5.1.3 ... Invalid route address") before any milter
		# sees the recipient.
		mta_refusal_case "extra @" "$SENDER" 'victim@remote.test@example.test' '553 5\.1\.3'
	else
		rcpt_case "extra @" "$SENDER" 'victim@remote.test@example.test' '550 5\.7\.1' "$TRICK"
	fi
	rcpt_case "quoted @" "$SENDER" '"victim@remote.test"@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "quoted @, unqualified" "$SENDER" '"victim@remote.test"' '550 5\.7\.1' "$TRICK"
	rcpt_case "escaped @" "$SENDER" '"victim\@remote.test"@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "IMCEA encapsulation" "$SENDER" 'IMCEASMTP-victim+40remote+2Etest@example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "source route to remote" "$SENDER" '@example.test:victim@remote.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "source route via literal" "$SENDER" '@[127.0.0.1]:victim@remote.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "literal of another host" "$SENDER" 'victim@[192.0.2.1]' '550 5\.7\.1' "$TRICK"
	rcpt_case "IPv6 literal of another host" "$SENDER" 'victim@[IPv6:2001:db8::1]' '550 5\.7\.1' "$TRICK"
	rcpt_case "subdomain never listed" "$SENDER" 'victim@sub.example.test' '550 5\.7\.1' "$TRICK"
	rcpt_case "our own literal is local" "$SENDER" 'alice@[127.0.0.1]' 250 'action=accept rule=local'

	echo "# blank sender (RFC 5321 bounces: one local recipient)"
	rcpt_case "<> to a local user" '<>' alice@example.test 250 'action=accept rule=local'
	rcpt_case "<> to a remote user" '<>' victim@remote.test '550 5\.7\.1' "${REJ}relay"
	rcpt_case "<> with two recipients: second refused" '<>' \
	    'alice@example.test,bob@example.test' '550 5\.7\.1' "${REJ}blank_sender code=550"
	rg_expect_match "$MTA: <> with two recipients: first accepted" \
	    "$(printf '%s\n' "$RG_SMTP_RCPTS" | head -n 1)" '^250'

	echo "# trusted network"
	rcpt_case "trusted client 127.0.0.2 may relay" "$SENDER" victim@remote.test 250 \
	    'action=accept rule=trusted' --local-interface 127.0.0.2

	echo "# SMTP AUTH (Cyrus SASL in the MTA): {auth_authen} reaches the milter"
	rcpt_case "authenticated client may relay" "$SENDER" victim@remote.test 250 \
	    "action=accept rule=authenticated .*auth=$AUTH_USER" \
	    --auth PLAIN --auth-user "$AUTH_USER" --auth-password "$AUTH_PASS"
	rg_expect_match "$MTA: authenticated: AUTH accepted" \
	    "$(printf '%s\n' "$RG_SMTP_REPLIES" | grep '^AUTH ')" '^AUTH 235'
	rcpt_case "wrong password, no AUTH: relay refused" "$SENDER" victim@remote.test \
	    '550 5\.7\.1' "${REJ}relay .*auth=- " \
	    --auth PLAIN --auth-user "$AUTH_USER" --auth-password wrong-password --auth-optional
	rg_expect_match "$MTA: wrong password: AUTH refused" \
	    "$(printf '%s\n' "$RG_SMTP_REPLIES" | grep '^AUTH ')" '^AUTH 535'

	echo "# harvest_limit = 3: the 4th unknown recipient drops the connection"
	dialog_case "harvest" "220 250 250 550 550 550 421 EOF" \
	    'action=drop rule=harvest code=421' \
	    "EHLO client.example.net" "MAIL FROM:<$SENDER>" \
	    "RCPT TO:<n1@example.test>" "RCPT TO:<n2@example.test>" \
	    "RCPT TO:<n3@example.test>" "RCPT TO:<n4@example.test>" \
	    "RCPT TO:<alice@example.test>"

	echo "# blank_sender = drop (SIGHUP reload): 421 at MAIL, then the MTA hangs up"
	if rg_reload_relayguard "$(rg_e2e_conf 'blank_sender = drop')"; then
		rg_pass "$MTA: reload to blank_sender = drop"
	else
		rg_fail "$MTA: reload to blank_sender = drop"
	fi
	# The policy door is asked at RCPT only (as smtpd_delay_reject = yes
	# does for Postfix's own restrictions): the MAIL verdict, the same
	# drop, is the first RCPT's answer, and the next command finds the
	# connection closed.
	local -a drop_cmds=("EHLO client.example.net" "MAIL FROM:<>" "RCPT TO:<alice@example.test>")
	drop_codes="220 250 421 EOF"
	if [ "$door" = policy ]; then
		drop_codes="220 250 250 421 EOF"
		drop_cmds+=("RCPT TO:<bob@example.test>")
	fi
	dialog_case "blank sender dropped" "$drop_codes" \
	    'action=drop rule=blank_sender code=421' "${drop_cmds[@]}"

	echo "# mode = monitor (restart): everything accepted, would-be refusals logged"
	rg_stop_relayguard
	rg_start_relayguard "$(rg_e2e_conf 'mode = monitor')" ||
		{ rg_fail "relayguard restart (monitor)"; return; }
	rcpt_case "monitor: relay accepted" "$SENDER" victim@remote.test 250 \
	    'action=would-reject rule=relay code=550'
	rcpt_case "monitor: percent hack accepted" "$SENDER" 'victim%remote.test@example.test' 250 \
	    'action=would-reject rule=(relay|routing)'
	rcpt_case "monitor: unknown accepted" "$SENDER" nobody@example.test 250 \
	    'action=would-reject rule=unknown'

	echo "# back to enforce (SIGHUP reload)"
	if rg_reload_relayguard "$(rg_e2e_conf)"; then
		rg_pass "$MTA: reload to mode = enforce"
	else
		rg_fail "$MTA: reload to mode = enforce"
	fi
	rcpt_case "enforce again: relay refused" "$SENDER" victim@remote.test '550 5\.7\.1' \
	    "${REJ}relay code=550"

	echo "# the milter killed mid-session: tempfail, nothing accepted unchecked"
	killed_case
	echo "# the milter down: a new session is tempfailed too"
	rg_smtp "$MTA_PORT" "$SENDER" victim@remote.test
	rg_expect_match "$MTA: milter down: relay attempt gets 4xx" \
	    "$(printf '%s\n' "$RG_SMTP_REPLIES" | grep -E '^(MAIL|RCPT) ' | grep -vE '^[A-Z]+ 2' | head -n 1)" \
	    '^(MAIL|RCPT) 4[0-9][0-9]'
	rg_expect "$MTA: milter down: no recipient accepted" \
	    "$(printf '%s\n' "$RG_SMTP_RCPTS" | grep -c '^2')" 0

	echo "# relayguard on a unix socket, a second $MTA wired to it"
	if [ "$door" = policy ]; then
		RG_E2E_POLICY_SOCKET="unix:$(rg_e2e_tmpdir)/policy.sock"
		rg_start_relayguard "$(rg_e2e_conf)" inet ||
		{ rg_fail "relayguard start (unix socket)"; return; }
	else
		rg_start_relayguard "$(rg_e2e_conf)" unix ||
		{ rg_fail "relayguard start (unix socket)"; return; }
	fi
	rg_e2e_start_mta "$MTA" "$RG_MILTER_SOCKET" ||
		{ rg_fail "$MTA start (unix socket)"; return; }
	rcpt_case "unix socket: local user" "$SENDER" alice@example.test 250 'action=accept rule=local'
	rcpt_case "unix socket: relay" "$SENDER" victim@remote.test '550 5\.7\.1' \
	    "${REJ}relay code=550"
}

# killed_case - a session with one recipient accepted, then the milter
# is killed (-9) before the next RCPT: the MTA must answer 4xx from then
# on and must not take the message
killed_case() {
	local out codes after
	# Not in a subshell: the kill must be this shell's (it reaps the pid).
	out="$(rg_e2e_tmpdir)/killed.$MTA.out"
	rg_smtp_dialog "$MTA_PORT" "EHLO client.example.net" \
	    "MAIL FROM:<$SENDER>" "RCPT TO:<alice@example.test>" \
	    "!rg_stop_relayguard -9; sleep 0.3" \
	    "RCPT TO:<victim@remote.test>" "RCPT TO:<bob@example.test>" \
	    "DATA" "Subject: must not be accepted" "" "body" "." "QUIT" >"$out"
	codes=$RG_DIALOG_CODES
	grep -v '^S: 250-' "$out" | sed 's/^/    /'
	# Codes: banner EHLO MAIL RCPT | RCPT RCPT DATA [.] QUIT
	rg_expect_match "$MTA: killed: before the kill" "$codes" '^220 250 250 250 '
	after=$(echo "$codes" | cut -d' ' -f5-)
	rg_expect_match "$MTA: killed: relay RCPT after the kill gets 4xx" \
	    "$(echo "$after" | cut -d' ' -f1)" '^4[0-9][0-9]$'
	rg_expect_match "$MTA: killed: local RCPT after the kill gets 4xx" \
	    "$(echo "$after" | cut -d' ' -f2)" '^4[0-9][0-9]$'
	if [ "${RG_E2E_DOOR:-milter}" = policy ]; then
		# The policy door judges each recipient on its own: the one
		# accepted before the kill was judged, and the message goes to
		# it alone; nothing after the kill is accepted (checked above).
		return 0
	fi
	# DATA is refused, or the message is refused at its end: no 2xx
	# after the kill except QUIT's 221.
	rg_expect "$MTA: killed: nothing accepted after the kill" \
	    "$(echo "$after" | tr ' ' '\n' | grep -E '^2' | grep -vc '^221$')" 0
}
