#!/bin/bash
# tests/bench/bench-ldap.sh - the LDAP directory's benchmark (make bench)
#
# One slapd (Debian's, mdb) with the test seed plus 2,000 generated users;
# a mix of 1,000 known and 1,000 unknown addresses.  Measured in the same
# run, against that slapd:
#   raw       each thread its own libldap connection, the backend's search
#             made directly: the bare slapd round trip (the baseline)
#   postfix   Postfix's own ldap: table, `postmap -q - ldap:FILE` reading
#             every address on one connection (what relay_recipient_maps
#             = ldap:... does per smtpd process; it has no result cache)
#   cold      relayguard's backend with cache_size = 0 (pool, escaping)
#   warm      relayguard's backend with its cache warmed
# Prints a table and the ratios; run-bench.sh stores it in
# docs/benchmarks.md.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "${top_srcdir:?}/tests/lib/common.sh"
. "$top_srcdir/tests/lib/slapd.sh"

rg_require "$SLAPD" slapadd
BENCH=$top_builddir/tests/bench/bench-ldap
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-bench-ldap.XXXXXX")
trap 'ldap_slapd_stop "$T"; rm -rf "$T"' EXIT

USERS=2000
ldap_slapd_init "$T" >&2 || exit 1
for i in $(seq 0 $((USERS - 1))); do
	printf 'dn: uid=user%d,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: User\nmail: user%d@example.test\n\n' \
		"$i" "$i" "$i" "$i"
done >"$T/users.ldif"
slapadd -q -f "$T/slapd.conf" -l "$T/users.ldif" >&2 || exit 1
PORT=$(rg_free_port)
ldap_slapd_start "$T" "$PORT" >&2 || exit 1

for i in $(seq 0 999); do
	echo "user$i@example.test"
	echo "nouser$i@example.test"
done >"$T/addrs"

ldap_conf "$T/cold.conf" "ldap_uri = ldap://127.0.0.1:$PORT" "cache_size = 0" "ldap_pool_size = 4"
ldap_conf "$T/warm.conf" "ldap_uri = ldap://127.0.0.1:$PORT" "cache_size = 10000" "ldap_pool_size = 4"

declare -A RATE P50 P99
# run KEY ARGS... - one bench-ldap run; keeps its figures under KEY
run() {
	local key=$1 out
	shift
	out=$("$BENCH" "$@" "$T/addrs") || { echo "$out"; echo "bench-ldap failed: $*" >&2; exit 1; }
	echo "$out" | grep -v '^RESULT '
	read -r _ _ "RATE[$key]" "P50[$key]" "P99[$key]" _ <<<"$(echo "$out" | grep '^RESULT ')"
}

echo "slapd $($SLAPD -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -1), mdb, $USERS+ entries, on 127.0.0.1;"
echo "addresses: 1000 known + 1000 unknown, filter (|(mail=%s)(mailLocalAddress=%s))"
echo
run raw1 -r -t 1 -n 20000 -c "$T/cold.conf" -L "raw libldap round trip (baseline)"
run cold1 -t 1 -n 20000 -c "$T/cold.conf" -L "relayguard backend, cold (no cache)"
run warm1 -w -t 1 -n 1000000 -c "$T/warm.conf" -L "relayguard backend, warm cache"
run raw4 -r -t 4 -n 10000 -c "$T/cold.conf" -L "raw libldap round trip (baseline)"
run cold4 -t 4 -n 10000 -c "$T/cold.conf" -L "relayguard backend, cold (no cache)"
run warm4 -w -t 4 -n 500000 -c "$T/warm.conf" -L "relayguard backend, warm cache"

pf=
if [ -x "${POSTFIX:-}" ] || command -v postmap >/dev/null 2>&1; then
	PM=$(dirname "${POSTFIX:-/usr/sbin/postfix}")/postmap
	cat >"$T/ldap.cf" <<EOF2
server_host = ldap://127.0.0.1:$PORT
search_base = dc=example,dc=test
version = 3
bind = no
query_filter = (|(mail=%s)(mailLocalAddress=%s))
result_attribute = mail
EOF2
	for i in 1 2 3 4 5 6 7 8 9 10; do cat "$T/addrs"; done >"$T/addrs10"
	start=$(date +%s%N)
	found=$("$PM" -q - "ldap:$T/ldap.cf" <"$T/addrs10" 2>"$T/postmap.err" | wc -l)
	ns=$(( $(date +%s%N) - start ))
	if [ "$found" -eq 10000 ]; then
		pf=$(( 20000 * 1000000000 / ns ))
		printf '%-36s %d thr %9d lookups/s  (postmap -q - ldap:, 20000 queries, %d found)\n' \
			"Postfix ldap: table" 1 "$pf" "$found"
	else
		echo "Postfix ldap: table: unexpected result ($found found); $(head -3 "$T/postmap.err")"
	fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "ratios (same run):"
echo "  cold / raw round trip:   1 thread $(ratio "${RATE[cold1]}" "${RATE[raw1]}"), 4 threads $(ratio "${RATE[cold4]}" "${RATE[raw4]}")"
echo "  warm / raw round trip:   1 thread $(ratio "${RATE[warm1]}" "${RATE[raw1]}"), 4 threads $(ratio "${RATE[warm4]}" "${RATE[raw4]}")"
echo "  warm / cold:             1 thread $(ratio "${RATE[warm1]}" "${RATE[cold1]}"), 4 threads $(ratio "${RATE[warm4]}" "${RATE[cold4]}")"
if [ -n "$pf" ]; then
	echo "  Postfix ldap: / raw:     1 thread $(ratio "$pf" "${RATE[raw1]}")"
	echo "  warm / Postfix ldap:     1 thread $(ratio "${RATE[warm1]}" "$pf"), cold / Postfix ldap: $(ratio "${RATE[cold1]}" "$pf")"
fi
