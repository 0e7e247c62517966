#!/bin/bash
# tests/ldap/e2e-postfix.sh - directory = ldap end to end: a real Postfix
# in front of relayguard, relayguard asking a real slapd.  Known user:
# 250; unknown: 550 5.1.1; slapd stopped: 451 4.4.3 for every recipient
# that is not cached (never 550, never 250 as unknown); slapd back:
# accepted again within seconds, same milter process.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/e2e/mta.sh"
. "$top_srcdir/tests/ldap/slapd.sh"

rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX" "$SLAPD" slapadd slaptest

L=$(rg_e2e_tmpdir)/slapd
rg_e2e_on_exit "ldap_slapd_stop '$L'"
ldap_slapd_init "$L" || { echo "FAIL: slapd set-up" >&2; exit 1; }
LPORT=$(rg_free_port)
ldap_slapd_start "$L" "$LPORT" || exit 1

rg_start_relayguard "local_domains = example.test
directory = ldap
ldap_uri = ldap://127.0.0.1:$LPORT
ldap_base = dc=example,dc=test
ldap_timeout = 2s
cache_positive_ttl = 60
cache_negative_ttl = 60" || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" "smtpd_error_sleep_time = 0" \
	"smtpd_soft_error_limit = 100" "smtpd_hard_error_limit = 100" || exit 1
P=$RG_POSTFIX_PORT

rcpt_code() {
	rg_smtp "$P" sender@example.net "$1" >/dev/null
	echo "$RG_SMTP_RCPT" | awk '{ print $1, $2 }'
}

echo "# slapd up"
rg_expect "known user: 250" "$(rcpt_code alice@example.test)" "250 2.1.5"
rg_expect "alias (mailLocalAddress): 250" "$(rcpt_code sales@example.test)" "250 2.1.5"
rg_expect "case variant: 250" "$(rcpt_code Bob.Smith@example.test)" "250 2.1.5"
rg_expect "unknown user: 550 5.1.1" "$(rcpt_code nobody@example.test)" "550 5.1.1"
rg_expect "injection *@: 550 5.1.1" "$(rcpt_code '"*"@example.test')" "550 5.1.1"
rg_expect_match "the verdict log line says dir=not-found" \
	"$(rg_log_wait 'to=<nobody@example.test>' 5)" 'dir=not-found'

echo "# slapd stopped"
ldap_slapd_stop "$L"
for a in ghost@example.test a.liddell@example.test nobody2@example.test postmaster2@example.test; do
	rg_expect "slapd down, $a: 451 4.4.3" "$(rcpt_code "$a")" "451 4.4.3"
done
rg_expect_match "the verdict log line says dir=error" \
	"$(rg_log_wait 'to=<ghost@example.test>' 5)" 'dir=error'
rg_expect "slapd down, cached known user still accepted" "$(rcpt_code alice@example.test)" "250 2.1.5"
rg_expect "slapd down, cached unknown still refused" "$(rcpt_code nobody@example.test)" "550 5.1.1"

echo "# slapd back, same milter process"
pid=$RG_MILTER_PID
ldap_slapd_start "$L" "$LPORT" || exit 1
got=
for i in $(seq 1 20); do
	got=$(rcpt_code a.liddell@example.test)
	[ "$got" = "250 2.1.5" ] && break
	sleep 0.5
done
rg_expect "slapd back: known user (uncached) accepted again" "$got" "250 2.1.5"
rg_expect "slapd back: unknown refused again" "$(rcpt_code ghost@example.test)" "550 5.1.1"
rg_expect "slapd back: same milter process" "$RG_MILTER_PID" "$pid"
kill -0 "$pid" 2>/dev/null && rg_pass "milter still running" || rg_fail "milter died"

rg_done
