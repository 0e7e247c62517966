#!/bin/bash
# tests/e2e/mta-refusals.sh - recipients the MTA refuses itself reach the
# audit trail (SMFIP_RCPT_REJ) as verdicts of rule mta, with what the MTA
# said, beside relayguard's own verdicts; through Postfix and Sendmail.
#
# Each MTA is given its own rejections: Postfix a check_recipient_access
# map (REJECT for one address, DEFER for another); Sendmail an unknown
# local user (refused by the local mailer) and a Local_check_rcpt rule,
# which Debian's Sendmail does not pass to milters (asserted, so that a
# change shows).  The client must see the MTA's replies, the milter must
# log and record each passed refusal as rule=mta with the MTA's enhanced
# code and text, and the recipients the MTA let through must still be
# judged by relayguard.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
rg_require "$RG_RELAYGUARD" "$POSTFIX" "$sqlite"
rg_e2e_require_root
tmp=$(rg_e2e_tmpdir)

check_mta() {
	local mta=$1 db=$tmp/audit.$1.db codes row
	rg_start_relayguard "$(rg_e2e_conf "audit_db = $db" "audit_flush_ms = 50")" ||
		{ rg_fail "$mta: relayguard start"; return; }
	case "$mta" in
	postfix)
		rg_start_postfix "$RG_MILTER_SOCKET" \
		    "smtpd_recipient_restrictions = check_recipient_access inline:{blocked@example.test=REJECT, deferme@example.test=DEFER}" ||
			{ rg_fail "postfix start"; return; }
		rg_smtp_dialog "$RG_POSTFIX_PORT" "EHLO client.example.net" "MAIL FROM:<$SENDER>" \
			"RCPT TO:<blocked@example.test>" "RCPT TO:<deferme@example.test>" \
			"RCPT TO:<alice@example.test>" "RCPT TO:<hacker@spammail.test>" "QUIT" > "$tmp/$mta.dialog" ;;
	sendmail)
		# mx.example.test is the host's own name: a local user that does
		# not exist is refused by the local mailer, after check_rcpt
		rg_start_sendmail "$RG_MILTER_SOCKET" "LOCAL_RULESETS
SLocal_check_rcpt
R\$* < blocked @ example.test > \$*	\$#error \$@ 5.7.1 \$: \"550 Blocked by the MTA\"" ||
			{ rg_fail "sendmail start"; return; }
		rg_smtp_dialog "$RG_SENDMAIL_PORT" "EHLO client.example.net" "MAIL FROM:<$SENDER>" \
			"RCPT TO:<nosuchuser@mx.example.test>" "RCPT TO:<blocked@example.test>" \
			"RCPT TO:<alice@example.test>" "RCPT TO:<hacker@spammail.test>" "QUIT" > "$tmp/$mta.dialog" ;;
	esac
	codes=$(awk '/^C: RCPT/ { getline; print substr($0, 4, 9) }' "$tmp/$mta.dialog" | paste -sd,)
	rg_stop_relayguard
	if [ "$mta" = postfix ]; then rg_stop_postfix; else rg_stop_sendmail; fi
	sql() { "$sqlite" -readonly -batch -noheader "$db" "$1"; }
	rows() { sql "SELECT group_concat(rule || ' ' || action, ',') FROM (SELECT rule, action
		FROM verdicts WHERE stage = 'rcpt' ORDER BY id)"; }
	mta_row() { sql "SELECT rcpt || '|' || rcpt_normalized || '|' || code || '|' || ecode || '|'
		|| text || '|' || client_trust || '|' || sender_class FROM verdicts WHERE rcpt = '<$1>'"; }

	case "$mta" in
	postfix)
		rg_expect "$mta: the client's RCPT replies" "$codes" \
			"554 5.7.1,450 4.7.1,250 2.1.5,550 5.7.1"
		rg_expect "$mta: every RCPT has one row, in order, the MTA's beside ours" "$(rows)" \
			"mta reject,mta tempfail,local accept,relay reject"
		# Postfix passes the enhanced code and the text after the address,
		# not its three-digit code: 5.x.x is recorded as 550, 4.x.x as 450
		rg_expect "$mta: the refusal as recorded" "$(mta_row blocked@example.test)" \
			"<blocked@example.test>|blocked@example.test|550|5.7.1|Recipient address rejected: Access denied|untrusted|foreign"
		rg_expect "$mta: the deferral as recorded" "$(mta_row deferme@example.test)" \
			"<deferme@example.test>|deferme@example.test|450|4.7.1|Recipient address rejected: Access denied|untrusted|foreign"
		rg_expect_match "$mta: the log line says rule=mta and what the MTA said" \
			"$(grep 'stage=rcpt' "$RG_MILTER_LOG" | grep 'deferme@example.test')" \
			'action=tempfail rule=mta code=450 ecode=4\.7\.1 .* mta_reply="Recipient address rejected: Access denied"' ;;
	sendmail)
		rg_expect "$mta: the client's RCPT replies" "$codes" \
			"550 5.1.1,550 5.7.1,250 2.1.5,550 5.7.1"
		# Debian's Sendmail (no _FFR_MILTER_CHECK_REJECTIONS_TOO) passes the
		# refusals made after check_rcpt (unknown local user), not those of
		# check_rcpt itself (access db, Local_check_rcpt): no row for those
		rg_expect "$mta: every RCPT it passed has one row, in order" "$(rows)" \
			"mta reject,local accept,relay reject"
		rg_expect "$mta: the refusal as recorded" "$(mta_row nosuchuser@mx.example.test)" \
			"<nosuchuser@mx.example.test>|nosuchuser@mx.example.test|550|5.1.1|User unknown|untrusted|foreign"
		rg_expect "$mta: check_rcpt's refusal is not passed to milters" \
			"$(sql "SELECT COUNT(*) FROM verdicts WHERE rcpt = '<blocked@example.test>'")" 0
		rg_expect_match "$mta: the log line says rule=mta and what the MTA said" \
			"$(grep 'stage=rcpt' "$RG_MILTER_LOG" | grep 'nosuchuser@mx.example.test')" \
			'action=reject rule=mta code=550 ecode=5\.1\.1 .* mta_reply="User unknown"' ;;
	esac
}

check_mta postfix
check_mta sendmail
rg_done
