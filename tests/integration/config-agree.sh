#!/bin/bash
# tests/integration/config-agree.sh - relayguard-check, relayguard -n and the daemon
# give the same answer about a configuration, with FILE:LINE
#
# Each value is checked by the module that uses it, called from the
# configuration parser, so the three programs cannot disagree: before,
# syslog_facility = auth passed relayguard-check and was refused by the
# daemon, and socket = unix:relative.sock and a two-filter ldap_filter
# were refused only at start or when the directory opened, without
# FILE:LINE.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

rg_require timeout
RG=$top_builddir/src/programs/relayguard
CHECK=$top_builddir/src/programs/relayguard-check
for p in "$RG" "$CHECK"; do
	[ -x "$p" ] || { echo "FAIL: $p not built" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/rg-config-agree.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

: > "$tmp/recipients"
base="local_domains = example.org
directory = file:$tmp/recipients
audit_db = none
allow_root = yes"

# agree NAME LINE WANT - write NAME.conf (base, then LINE as line 5);
# WANT is "ok" or the reason after "FILE:5: "
agree() {
	local name=$1 conf=$tmp/$1.conf want=$3 out rc
	printf '%s\n%s\n' "$base" "$2" > "$conf"
	if [ "$want" = ok ]; then
		out=$(timeout 20 "$RG" -n -c "$conf" 2>&1); rc=$?
		rg_expect "$name: relayguard -n accepts" "$rc" 0
		out=$(timeout 20 "$CHECK" -c "$conf" --from '<a@remote.test>' \
			--rcpt '<u@remote.test>' 2>&1); rc=$?
		rg_expect "$name: relayguard-check accepts (relay refused: 1)" "$rc" 1
		return
	fi
	out=$(timeout 20 "$RG" -n -c "$conf" 2>&1); rc=$?
	rg_expect "$name: relayguard -n refuses" "$rc" 1
	rg_expect "$name: relayguard -n says FILE:LINE" "$out" "$conf:5: $want"
	out=$(timeout 20 "$RG" -f -s -c "$conf" 2>&1); rc=$?
	rg_expect "$name: the daemon refuses to start" "$rc" 1
	rg_expect "$name: the daemon says FILE:LINE" "$out" "$conf:5: $want"
	out=$(timeout 20 "$CHECK" -c "$conf" --from '<a@remote.test>' \
		--rcpt '<u@remote.test>' 2>&1); rc=$?
	rg_expect "$name: relayguard-check refuses" "$rc" 2
	rg_expect "$name: relayguard-check says FILE:LINE" "$out" \
		"relayguard-check: $conf:5: $want"
}

agree facility-auth "syslog_facility = auth" ok
agree facility-typo "syslog_facility = mial" \
	'syslog_facility: "mial": expected one of auth, authpriv, cron, daemon, ftp, kern, local0, local1, local2, local3, local4, local5, local6, local7, lpr, mail, news, syslog, user or uucp'
agree socket-relative "socket = unix:relative.sock" \
	'socket: "unix:relative.sock": the unix socket path must be absolute'
agree socket-no-host "socket = inet:8894" \
	'socket: "inet:8894": missing @HOST (inet:PORT@HOST, e.g. inet:8894@127.0.0.1)'
agree ldap-two-filters "ldap_filter = (mail=%s)(uid=%u)" \
	'ldap_filter: "(mail=%s)(uid=%u)": text after the end of the filter at offset 9'
rg_done
