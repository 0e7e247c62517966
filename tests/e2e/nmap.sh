#!/bin/bash
# tests/e2e/nmap.sh - nmap's smtp-open-relay (16 relay tests, families
# 1-6 of relay-tricks.md) against Postfix and Sendmail, each with and
# without relayguard.  With the milter nmap must find no open relay and
# the milter must have made the refusals; without it the same MTA (which
# relays for 127.0.0.0/8 on its own) must be reported open: the control
# proving that this test can fail.
# (bash: the library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root

: "${NMAP:=$(command -v nmap || echo nmap)}"
rg_require "$NMAP" "$POSTFIX" "$RG_RELAYGUARD" m4 unshare

# nmap_relay NAME PORT - run smtp-open-relay against 127.0.0.1:PORT;
# print "open", "closed" or "unknown"; the output stays in
# $RG_E2E_TMP/nmap.NAME.out
nmap_relay() {
	local out
	out="$(rg_e2e_tmpdir)/nmap.$1.out"
	timeout 120 "$NMAP" -Pn -n -p "$2" --script +smtp-open-relay \
	    --script-args 'smtp-open-relay.domain=remote.test,smtp-open-relay.ip=127.0.0.1' \
	    -vv 127.0.0.1 >"$out" 2>&1
	if grep -q 'smtp-open-relay: Server is an open relay' "$out"; then
		echo open
	elif grep -q "smtp-open-relay: Server doesn't seem to be an open relay" "$out"; then
		echo closed
	else
		echo unknown
	fi
}

# relay_check NAME PORT WANT [MILTER] - nmap's verdict must be WANT; with
# MILTER, relayguard must have logged the refusals of this scan
relay_check() {
	local name=$1 port=$2 want=$3 milter=${4:-} mark got n
	mark=$(rg_log_mark)
	got=$(nmap_relay "$name" "$port")
	rg_expect "$name: nmap smtp-open-relay verdict" "$got" "$want"
	if [ "$got" != "$want" ]; then
		sed 's/^/    /' "$(rg_e2e_tmpdir)/nmap.$name.out" >&2
	else
		grep 'smtp-open-relay' "$(rg_e2e_tmpdir)/nmap.$name.out" | sed 's/^/    /'
	fi
	if [ -n "$milter" ]; then
		sleep 0.5
		n=$(rg_log_since "$mark" | grep -cE 'stage=rcpt .*action=reject rule=(relay|routing)')
		if [ "$n" -ge 10 ]; then
			rg_pass "$name: relayguard logged $n relay/routing refusals"
		else
			rg_fail "$name: relayguard logged only $n relay/routing refusals"
		fi
	fi
}

# Each MTA's run is judged on its own: with memory across connections
# the first nmap run (a relay prober) would penalise 127.0.0.1 for the
# second.  tests/e2e/clients.sh tests that memory.
rg_start_relayguard "$(rg_e2e_conf "client_track_size = 0")" || exit 1
rg_start_postfix "$RG_MILTER_SOCKET" || exit 1
pf_milter=$RG_POSTFIX_PORT
rg_start_postfix none || exit 1
pf_plain=$RG_POSTFIX_PORT
rg_start_sendmail "$RG_MILTER_SOCKET" || exit 1
sm_milter=$RG_SENDMAIL_PORT
rg_start_sendmail none || exit 1
sm_plain=$RG_SENDMAIL_PORT

relay_check "postfix without milter (control)" "$pf_plain" open
relay_check "postfix + relayguard" "$pf_milter" closed milter
relay_check "sendmail without milter (control)" "$sm_plain" open
relay_check "sendmail + relayguard" "$sm_milter" closed milter
rg_done
