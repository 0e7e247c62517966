#!/bin/bash
# tests/e2e/ldap-postfix.sh - directory = ldap end to end: a real Postfix
# in front of relayguard, relayguard asking a real slapd.  Known user:
# 250; unknown: 550 5.1.1; slapd stopped: 451 4.4.3 for every recipient
# that is not cached (never 550, never 250 as unknown); slapd back:
# accepted again within seconds, same milter process.  At each step the
# daemon's metrics (metrics_listen) count exactly the lookups the log
# lines report, the cache's hits and misses, the errors and reconnects.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/slapd.sh"

rg_require "$SWAKS" "$RG_RELAYGUARD" "$POSTFIX" "$SLAPD" slapadd slaptest

L=$(rg_e2e_tmpdir)/slapd
rg_e2e_on_exit "ldap_slapd_stop '$L'"
ldap_slapd_init "$L" || { echo "FAIL: slapd set-up" >&2; exit 1; }
LPORT=$(rg_free_port)
ldap_slapd_start "$L" "$LPORT" || exit 1

MPORT=$(rg_free_port)
rg_start_relayguard "local_domains = example.test
metrics_listen = 127.0.0.1:$MPORT
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

# metrics WHEN - the scrape's LDAP figures against the log lines so far
metrics() {
	local m found notfound errors
	m=$(curl -sf "http://127.0.0.1:$MPORT/metrics") || { rg_fail "$1: scrape"; return; }
	v() { printf '%s\n' "$m" | awk -v k="$1" '$1 == k { print $2 }'; }
	found=$(grep -c 'stage=rcpt .* dir=found' "$RG_MILTER_LOG")
	notfound=$(grep -c 'stage=rcpt .* dir=not-found' "$RG_MILTER_LOG")
	errors=$(grep -c 'stage=rcpt .* dir=error' "$RG_MILTER_LOG")
	rg_expect "$1: metrics: lookups found / not-found / error = the log lines" \
		"$(v 'relayguard_directory_lookups_total{backend="ldap",result="found"}') $(v 'relayguard_directory_lookups_total{backend="ldap",result="not-found"}') $(v 'relayguard_directory_lookups_total{backend="ldap",result="error"}')" \
		"$found $notfound $errors"
	rg_expect "$1: metrics: every lookup a cache hit or miss" \
		"$(( $(v relayguard_directory_cache_hits_total) + $(v relayguard_directory_cache_misses_total) ))" \
		"$((found + notfound + errors))"
	rg_expect "$1: metrics: LDAP up ${2}, errors ${3}" \
		"$(v relayguard_ldap_up) $(v relayguard_ldap_errors_total)" "$2 $3"
	CONNECTS=$(v relayguard_ldap_connects_total)
	HITS=$(v relayguard_directory_cache_hits_total)
}

echo "# slapd up"
rg_expect "known user: 250" "$(rcpt_code alice@example.test)" "250 2.1.5"
rg_expect "alias (mailLocalAddress): 250" "$(rcpt_code sales@example.test)" "250 2.1.5"
rg_expect "case variant: 250" "$(rcpt_code Bob.Smith@example.test)" "250 2.1.5"
rg_expect "unknown user: 550 5.1.1" "$(rcpt_code nobody@example.test)" "550 5.1.1"
rg_expect "injection *@: 550 5.1.1" "$(rcpt_code '"*"@example.test')" "550 5.1.1"
rg_expect_match "the verdict log line says dir=not-found" \
	"$(rg_log_wait 'to=<nobody@example.test>' 5)" 'dir=not-found'
metrics "slapd up" 1 0
rg_expect "slapd up: every recipient new, no cache hit yet" "$HITS" 0

echo "# slapd stopped"
ldap_slapd_stop "$L"
for a in ghost@example.test a.liddell@example.test nobody2@example.test postmaster2@example.test; do
	rg_expect "slapd down, $a: 451 4.4.3" "$(rcpt_code "$a")" "451 4.4.3"
done
rg_expect_match "the verdict log line says dir=error" \
	"$(rg_log_wait 'to=<ghost@example.test>' 5)" 'dir=error'
rg_expect "slapd down, cached known user still accepted" "$(rcpt_code alice@example.test)" "250 2.1.5"
rg_expect "slapd down, cached unknown still refused" "$(rcpt_code nobody@example.test)" "550 5.1.1"
metrics "slapd down" 0 4
rg_expect "slapd down: the two cached answers were cache hits" "$HITS" 2
connects_before=$CONNECTS

echo "# slapd back, same milter process"
pid=$RG_MILTER_PID
ldap_slapd_start "$L" "$LPORT" || exit 1
# Until the pool's backoff lets a lookup through, the retries below are
# directory errors too (451 4.4.3), and count as such in the metrics.
got= early=0
for i in $(seq 1 20); do
	got=$(rcpt_code a.liddell@example.test)
	[ "$got" = "250 2.1.5" ] && break
	[ "$got" = "451 4.4.3" ] && early=$((early + 1))
	sleep 0.5
done
rg_expect "slapd back: known user (uncached) accepted again" "$got" "250 2.1.5"
rg_expect "slapd back: unknown refused again" "$(rcpt_code ghost@example.test)" "550 5.1.1"
rg_expect "slapd back: same milter process" "$RG_MILTER_PID" "$pid"
metrics "slapd back" 1 $((4 + early))
rg_expect "slapd back: metrics counted the reconnect" "$((CONNECTS > connects_before))" 1
kill -0 "$pid" 2>/dev/null && rg_pass "milter still running" || rg_fail "milter died"

rg_done
