#!/bin/bash
# tests/e2e/audit-rows.sh - through a real Postfix and a real Sendmail, the
# audit database holds exactly one row per verdict the MTA received, with
# the fields filled, in the order the client saw the replies.
#
# The expected rows are counted from the SMTP side: one connect row per
# session, one helo row per EHLO answered, one mail row per MAIL answered,
# one rcpt row per RCPT answered (except the MTA's own "503 need MAIL"
# after a refused MAIL, which the milter never sees).  The reply codes of
# MAIL and RCPT, in order, must equal the rows' codes in id order.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
audit=$top_builddir/src/programs/relayguard-audit
rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX" "$sqlite" "$audit"

tmp=$(rg_e2e_tmpdir)
sql() { "$sqlite" -readonly -batch -noheader "$db" "$1"; }
# rows() QUERY - sql on the rows of this test's sessions only
rows() { sql "WITH v AS (SELECT * FROM verdicts WHERE id > $before) $1"; }

# dialog CMD... - one raw session; append "VERB CODE" per reply to sessions
dialog() {
	rg_smtp_dialog "$MTA_PORT" "$@" > "$tmp/dialog.out"
	awk '
		/^C: / { split(substr($0, 4), w, " "); verb = toupper(w[1]); next }
		/^S: \(connection closed\)/ { print (verb == "" ? "BANNER" : verb), "EOF"; next }
		/^S: [0-9][0-9][0-9] / || /^S: [0-9][0-9][0-9]$/ {
			print (verb == "" ? "BANNER" : verb), substr($0, 4, 3)
		}' "$tmp/dialog.out" >> "$tmp/sessions"
	echo "--" >> "$tmp/sessions"
}

# swaks_session ARG... - one swaks session (for --local-interface);
# same bookkeeping as dialog
swaks_session() {
	rg_smtp "$MTA_PORT" "$@"
	printf '%s\n' "$RG_SMTP_REPLIES" | awk '{ print $1, substr($2, 1, 3) }' >> "$tmp/sessions"
	echo "--" >> "$tmp/sessions"
}

# check_mta MTA - the sessions below through MTA, then the rows
check_mta() {
	MTA=$1
	db=$tmp/audit.$MTA.db
	: > "$tmp/sessions"
	rg_start_relayguard "$(rg_e2e_conf "audit_db = $db" "audit_flush_ms = 50")" ||
		{ rg_fail "$MTA: relayguard start"; return; }
	rg_e2e_start_mta "$MTA" "$RG_MILTER_SOCKET" || { rg_fail "$MTA start"; return; }

	# rg_start_postfix probes the banner: that connection is a real session
	# too (a connect verdict).  Rows up to here are set aside as "before".
	sleep 0.5
	before=$(sql 'SELECT COALESCE(MAX(id), 0) FROM verdicts')
	rg_expect "$MTA: before the test sessions: only the banner probe's connect verdict" \
		"$(sql "SELECT COUNT(*) FROM verdicts WHERE stage != 'connect'")" 0

	# The sessions: relay attempts and tricks, unknown users, blank sender,
	# two transactions in one session, a harvest drop, a trusted client.
	dialog "EHLO otherdomain" "MAIL FROM:<x@otherdomain.test>" \
		"RCPT TO:<hacker@spammail.test>" "RCPT TO:<nobody%afakedomain.test@example.test>" \
		"RCPT TO:<alice@example.test>" "RCPT TO:<bob@example.test>" "QUIT"
	dialog "EHLO client.example.net" "MAIL FROM:<>" "RCPT TO:<nobody@example.test>" \
		"RCPT TO:<alice@example.test>" "RCPT TO:<bob@example.test>" "QUIT"
	dialog "EHLO client.example.net" "MAIL FROM:<ceo@example.test>" \
		"RCPT TO:<alice@example.test>" "RSET" "MAIL FROM:<someone@partner.test>" \
		"RCPT TO:<remote.test!victim@example.test>" "RCPT TO:<postmaster@example.test>" "QUIT"
	dialog "EHLO client.example.net" "MAIL FROM:<$SENDER>" \
		"RCPT TO:<n1@example.test>" "RCPT TO:<n2@example.test>" \
		"RCPT TO:<n3@example.test>" "RCPT TO:<n4@example.test>" \
		"RCPT TO:<alice@example.test>"
	swaks_session "$SENDER" victim@remote.test --local-interface 127.0.0.2
	swaks_session "$SENDER" 'alice@example.test,bob@example.test'

	# SIGTERM flushes the queue; the rows are then final
	rg_stop_relayguard
	if [ "$MTA" = postfix ]; then rg_stop_postfix; else rg_stop_sendmail; fi
	sessions=$(grep -c '^--$' "$tmp/sessions")
	want_connect=$(grep -c '^BANNER 220$' "$tmp/sessions")
	want_helo=$(grep -cE '^(EHLO|HELO) 250$' "$tmp/sessions")
	want_mail=$(grep -E '^MAIL [0-9]{3}$' "$tmp/sessions" | grep -vc ' 503$')
	want_rcpt=$(grep -E '^RCPT [0-9]{3}$' "$tmp/sessions" | grep -vc ' 503$')
	rg_expect "$MTA: sessions driven" "$sessions" 6
	rg_expect "$MTA: every session got a banner" "$want_connect" 6
	for stage in connect helo mail rcpt; do
		eval want=\$want_$stage
		rg_expect "$MTA: rows of stage $stage = replies counted from the SMTP side ($want)" \
			"$(rows "SELECT COUNT(*) FROM v WHERE stage = '$stage'")" "$want"
	done
	rg_expect "$MTA: no other rows" "$(rows 'SELECT COUNT(*) FROM v')" \
		"$((want_connect + want_helo + want_mail + want_rcpt))"
	rg_expect "$MTA: one session id per SMTP session" \
		"$(rows 'SELECT COUNT(DISTINCT session_id) FROM v')" "$sessions"

	# the MAIL and RCPT reply codes, in order, are the rows' codes in id order
	rg_expect "$MTA: reply codes the client saw = codes of the rows, in order" \
		"$(rows "SELECT group_concat(stage || ' ' || code, ',') FROM (SELECT stage, code
			FROM v WHERE stage IN ('mail', 'rcpt') ORDER BY id)")" \
		"$(grep -E '^(MAIL|RCPT) [0-9]{3}$' "$tmp/sessions" | grep -v ' 503$' |
			awk '{ print tolower($1), $2 }' | paste -sd,)"

	# fields
	rg_expect "$MTA: every row: time in the documented format" \
		"$(rows "SELECT COUNT(*) FROM v WHERE time NOT GLOB
			'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'")" 0
	rg_expect "$MTA: every row: session, mta, client, rule, action, code, trust" \
		"$(rows "SELECT COUNT(*) FROM v WHERE session_id IS NULL OR mta IS NULL
			OR mta = '' OR client_addr NOT IN ('127.0.0.1', '127.0.0.2') OR rule IS NULL
			OR action IS NULL OR code IS NULL OR client_trust IS NULL")" 0
	rg_expect "$MTA: rcpt rows: recipient, normalized destination, sender, sender class" \
		"$(rows "SELECT COUNT(*) FROM v WHERE stage = 'rcpt' AND (rcpt IS NULL
			OR rcpt = '' OR sender IS NULL OR sender_class IS NULL OR ecode IS NULL)")" 0
	rg_expect "$MTA: helo recorded after EHLO" \
		"$(rows "SELECT COUNT(*) FROM v WHERE stage IN ('mail', 'rcpt') AND (helo IS NULL OR helo = '')")" 0
	rg_expect "$MTA: the percent hack's final destination" \
		"$(rows "SELECT rcpt_normalized || ' ' || rule || ' ' || action FROM v
			WHERE rcpt = '<nobody%afakedomain.test@example.test>'")" \
		"nobody@afakedomain.test routing reject"
	rg_expect "$MTA: the unknown user: directory result" \
		"$(rows "SELECT directory_result || ' ' || rule || ' ' || code FROM v
			WHERE rcpt = '<nobody@example.test>'")" "not-found unknown 550"
	rg_expect "$MTA: the harvest drop" \
		"$(rows "SELECT rule || ' ' || action || ' ' || code FROM v WHERE rcpt = '<n4@example.test>'")" \
		"harvest drop 421"
	rg_expect "$MTA: the trusted client" \
		"$(rows "SELECT client_addr || ' ' || client_trust || ' ' || rule FROM v
			WHERE stage = 'rcpt' AND rcpt LIKE '%victim@remote.test%'")" \
		"127.0.0.2 trusted trusted"
	rg_expect "$MTA: sender classes" \
		"$(rows "SELECT group_concat(DISTINCT sender_class) FROM (SELECT sender_class FROM v
			WHERE stage = 'mail' ORDER BY sender_class)")" "blank,foreign,local"
	rg_expect_match "$MTA: a queue id once the MTA has one" \
		"$(rows "SELECT COUNT(*) FROM v WHERE queue_id IS NOT NULL")" '^[1-9]'

	# and the admin's view of it
	rg_expect "$MTA: relay-attempts: the untrusted relay and routing tries" \
		"$("$audit" -d "$db" relay-attempts | awk '{ print $2, $4 }' | paste -sd,)" \
		"refused rule=relay,refused rule=routing,refused rule=routing"
}

check_mta postfix
check_mta sendmail
rg_done
