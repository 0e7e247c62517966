#!/bin/bash
# tests/integration/ldap-tls.sh - StartTLS and ldaps:// against a slapd that refuses
# every operation without TLS ("security tls=1"), with a throwaway CA made
# by openssl.  libldap finds the CA through LDAPTLS_CACERT, as an admin's
# TLS_CACERT in ldap.conf would provide it.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "${top_srcdir:?}/tests/lib/common.sh"
. "$top_srcdir/tests/lib/slapd.sh"

rg_require "$SLAPD" slapadd slaptest openssl
LOOKUP=$top_builddir/tests/lib/ldap-lookup
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-ldap-tls.XXXXXX")
trap 'ldap_slapd_stop "$T"; rm -rf "$T"' EXIT

ldap_slapd_init "$T" tls || { echo "FAIL: slapd set-up with TLS" >&2; exit 1; }
PORT=$(rg_free_port)
TLSPORT=$(rg_free_port)
ldap_slapd_start "$T" "$PORT" "$TLSPORT" || exit 1

# result CONF ADDRESS [ENV...] - the backend's answer
result() {
	local c=$1 a=$2
	shift 2
	env "$@" "$LOOKUP" -s -c "$c" -- "$a" >"$T/out" 2>&1
	awk 'NR == 1 { print $1 }' "$T/out"
}

ldap_conf "$T/plain.conf" "ldap_uri = ldap://127.0.0.1:$PORT"
rg_expect "no StartTLS: the server refuses, an error (not not-found)" \
	"$(result "$T/plain.conf" alice@example.test)" error
rg_expect_match "no StartTLS: the reason is in the stats" "$(cat "$T/out")" 'Confidentiality required'

ldap_conf "$T/tls.conf" "ldap_uri = ldap://127.0.0.1:$PORT" "ldap_starttls = yes"
rg_expect "StartTLS with the CA: known user" \
	"$(result "$T/tls.conf" alice@example.test LDAPTLS_CACERT="$T/ca.crt")" found
rg_expect "StartTLS with the CA: unknown user" \
	"$(result "$T/tls.conf" nobody@example.test LDAPTLS_CACERT="$T/ca.crt")" not-found
rg_expect "StartTLS with an untrusted certificate: error" \
	"$(result "$T/tls.conf" alice@example.test LDAPTLS_CACERT=/dev/null)" error
rg_expect_match "StartTLS untrusted: the reason names StartTLS" "$(cat "$T/out")" 'StartTLS: '

ldap_conf "$T/ldaps.conf" "ldap_uri = ldaps://127.0.0.1:$TLSPORT"
rg_expect "ldaps:// with the CA: known user" \
	"$(result "$T/ldaps.conf" sales@example.test LDAPTLS_CACERT="$T/ca.crt")" found
rg_expect "ldaps:// untrusted: error" \
	"$(result "$T/ldaps.conf" sales@example.test LDAPTLS_CACERT=/dev/null)" error

printf '%s\n' "$LDAP_ROOTPW" >"$T/pw"; chmod 600 "$T/pw"
ldap_conf "$T/bind.conf" "ldap_uri = ldap://127.0.0.1:$PORT" "ldap_starttls = yes" \
	"ldap_bind_dn = $LDAP_ROOTDN" "ldap_bind_password_file = $T/pw"
rg_expect "StartTLS then simple bind: known user" \
	"$(result "$T/bind.conf" bob.smith@example.test LDAPTLS_CACERT="$T/ca.crt")" found

rg_done
