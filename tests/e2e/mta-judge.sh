#!/bin/bash
# tests/e2e/mta-judge.sh - relayguard's verdict and the MTA's delivery
# agree: the second judge ({rcpt_mailer}, {rcpt_host}, {rcpt_addr}) and
# the address-model cases, through real Postfix and Sendmail set up so
# that their resolution and relayguard's own reading differ.
#
# Postfix: a final destination (mydestination, local), a virtual-mailbox
# domain (virtual_transport = lmtp:unix:...), relay_domains (relay to the
# domain's own MX), a gateway domain with transport_maps to an internal
# server listed in internal_next_hops and one to a server that is not,
# and myorigin = other.test, not one of ours; then myorigin ours but not
# the domain relayguard qualifies with (the MTA's mailbox is looked up).
# Sendmail: built with _USE_DEPRECATED_ROUTE_ADDR_ (routes to the first
# hop of a source route), and stock; address literals in other spellings.
# No transaction reaches DATA, so nothing is ever delivered.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"

rg_e2e_require_root
rg_require "$RG_RELAYGUARD" "$POSTFIX"

tmp=$(rg_e2e_tmpdir)
cat >"$tmp/recipients" <<'EOR'
alice@example.test
alice@local.test
alice@virt.test
alice@gw.test
alice@gw2.test
nobody@example.test
carol@local.test
u@bücher.example
EOR

# conf [LINE...] - relayguard's configuration text for these tests
conf() {
	printf '%s\n' "local_domains = example.test local.test virt.test gw.test gw2.test bücher.example" \
	    "local_addresses = 127.0.0.1, ::1" \
	    "directory = file:$tmp/recipients" \
	    "internal_next_hops = [10.9.8.7]" "$@"
}

# case NAME TO REPLY_REGEX [LOG_REGEX] - one RCPT through the MTA on
# $MTA_PORT: the reply must match, and the milter's log line for it too
case_rcpt() {
	local name=$1 to=$2 want=$3 logre=${4:-} mark
	mark=$(rg_log_mark)
	rg_smtp_fast "$MTA_PORT" "sender@remote.test" "$to"
	rg_expect_match "$MTA: $name: RCPT <$to>" "$RG_SMTP_RCPT" "^$want"
	[ -z "$logre" ] && return 0
	if rg_log_wait "stage=rcpt .*$logre" 10 "$mark" >/dev/null; then
		rg_pass "$MTA: $name: log matches /$logre/"
	else
		rg_fail "$MTA: $name: no log line /$logre/; got:
$(rg_log_since "$mark")"
	fi
}

# --- Postfix ------------------------------------------------------------
rg_start_relayguard "$(conf)" || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" \
    "mydestination = local.test" "local_transport = local" \
    "myorigin = other.test" \
    "relay_domains = example.test gw.test gw2.test xn--bcher-kva.example" \
    "relay_transport = relay" "smtputf8_enable = yes" \
    "default_transport = smtp" \
    "virtual_mailbox_domains = virt.test" \
    "virtual_transport = lmtp:unix:$tmp/no-lmtp" \
    "transport_maps = inline:{gw.test=smtp:[10.9.8.7]:25, gw2.test=smtp:[10.9.8.6]:25}" ||
	exit 1
MTA=postfix MTA_PORT=$RG_POSTFIX_PORT

case_rcpt "relay_domains, next hop the domain" alice@example.test '250 ' \
    'rule=local .*mta: relay \[example\.test\]'
case_rcpt "mydestination, local" alice@local.test '250 ' 'mta: local \[local\.test\]'
case_rcpt "virtual domain, lmtp to a unix socket" alice@virt.test '250 ' \
    'mta: lmtp \[unix:'
case_rcpt "gateway: transport_maps to a listed internal host" alice@gw.test '250 ' \
    'mta: smtp \[\[10\.9\.8\.7\]:25\]'
case_rcpt "gateway: transport_maps to a host not listed" alice@gw2.test '550 5\.7\.1' \
    'rule=mta_mismatch .*next hop is not ours'
case_rcpt "unqualified, refused by default" alice '550 5\.1\.3' 'rule=unqualified'
case_rcpt "IPv6-literal route hop" '@[IPv6:::1]:alice@example.test' '501 5\.1\.3' \
    'rule=syntax'
case_rcpt "our literal" 'alice@[127.0.0.1]' '250 ' 'mta: local \[\[127\.0\.0\.1\]\]'
case_rcpt "IPv4-mapped literal of ours" 'alice@[IPv6:::ffff:127.0.0.1]' '550 5\.7\.1' \
    'rule=relay'
case_rcpt "routing inside a relay domain" 'alice%remote.test@example.test' \
    '550 5\.7\.1' 'rule=routing'

# SMTPUTF8: a domain in U-labels is ours in A-labels, a label that is not
# IDNA2008 is a syntax error
# utf8_rcpt NAME RCPT WANT_CODE LOG_REGEX - one SMTPUTF8 transaction
utf8_rcpt() {
	local name=$1 mark codes
	mark=$(rg_log_mark)
	rg_smtp_dialog "$MTA_PORT" "EHLO client.example.net" \
	    "MAIL FROM:<sender@remote.test> SMTPUTF8" "RCPT TO:<$2>" QUIT \
	    >"$tmp/utf8.out"
	codes=($RG_DIALOG_CODES)
	rg_expect "$MTA: $name: RCPT <$2>" "${codes[3]:-none}" "$3"
	if rg_log_wait "stage=rcpt .*$4" 10 "$mark" >/dev/null; then
		rg_pass "$MTA: $name: log matches /$4/"
	else
		rg_fail "$MTA: $name: no log line /$4/; got:
$(rg_log_since "$mark")"
	fi
}
utf8_rcpt "U-labels, SMTPUTF8" 'u@bücher.example' 250 'rule=local'
utf8_rcpt "not IDNA2008 (full-width dot)" 'u@bücher．example' 501 'rule=syntax'

# unqualified_recipient = qualify: Postfix qualifies with myorigin, which
# is not ours, so the MTA's address refuses it
rg_reload_relayguard "$(conf "unqualified_recipient = qualify")" || exit 1
case_rcpt "unqualified, qualify: myorigin not ours" alice '550 5\.7\.1' \
    'rule=mta_mismatch .*mta: smtp \[other\.test\] <alice@other\.test>'
rg_stop_postfix
rg_stop_relayguard

# myorigin ours but not the domain relayguard would qualify with: the
# mailbox the MTA delivers to is looked up, and must be known too
rg_start_relayguard "$(conf "local_domains = local.test example.test" \
    "unqualified_recipient = qualify")" || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" "myorigin = example.test" || exit 1
MTA=postfix-myorigin MTA_PORT=$RG_POSTFIX_PORT
case_rcpt "unqualified, qualify: the MTA's mailbox known" alice '250 ' \
    'rule=local .*the MTA delivers to alice@example\.test: looked up'
case_rcpt "unqualified, qualify: the MTA's mailbox unknown" carol '550 5\.1\.1' \
    'rule=unknown .*the MTA delivers to carol@example\.test: looked up'
rg_stop_postfix
rg_stop_relayguard

# --- Sendmail -------------------------------------------------------------
rg_start_relayguard "$(conf "local_domains = example.test mx.example.test")" || exit 1
rg_start_sendmail "$RG_MILTER_SOCKET" "LOCAL_DOMAIN(\`example.test')dnl" \
    "define(\`_USE_DEPRECATED_ROUTE_ADDR_', \`1')dnl" || exit 1
MTA=sendmail-route-addr MTA_PORT=$RG_SENDMAIL_PORT
case_rcpt "local mailer" nobody@example.test '250 ' 'mta: local \[\] <nobody>'
case_rcpt "source route to the first hop" '@remote.test:nobody@example.test' \
    '550 5\.7\.1' 'rule=mta_mismatch .*mta: esmtp \[remote\.test\.\]'
case_rcpt "IPv4-mapped literal" 'nobody@[IPv6:::ffff:127.0.0.1]' '550 5\.7\.1' 'rule=relay'
case_rcpt "IPv6 literal, zeros written out" 'nobody@[IPv6:0::1]' '550 5\.7\.1' 'rule=relay'
case_rcpt "IPv6 literal, canonical" 'nobody@[IPv6:::1]' '250 ' 'mta: esmtp \[\[ipv6:::1\]\]'
rg_stop_sendmail

rg_start_sendmail "$RG_MILTER_SOCKET" "LOCAL_DOMAIN(\`example.test')dnl" || exit 1
MTA=sendmail MTA_PORT=$RG_SENDMAIL_PORT
case_rcpt "stock: the route is stripped" '@remote.test:nobody@example.test' '250 ' \
    'mta: local \[\] <nobody>'
rg_stop_sendmail
rg_stop_relayguard

# --- no macros: relayguard's own reading only, said once -------------------
rg_start_relayguard "$(conf)" || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" "milter_rcpt_macros =" || exit 1
MTA=postfix-no-macros MTA_PORT=$RG_POSTFIX_PORT
case_rcpt "no macros: judged as before" alice@gw2.test '250 ' 'rule=local'
case_rcpt "no macros: a second RCPT" alice@example.test '250 ' 'rule=local'
rg_expect "no macros: said once in the log" \
    "$(grep -c 'mta: the MTA sends no {rcpt_mailer}' "$RG_MILTER_LOG")" 1
rg_done
