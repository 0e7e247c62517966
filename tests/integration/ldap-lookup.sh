#!/bin/bash
# tests/integration/ldap-lookup.sh - the LDAP backend against a real slapd: known
# users, aliases, unknown users, case, the AD-style filter, filter
# injection, binding, and configurations refused at open.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "${top_srcdir:?}/tests/lib/common.sh"
. "$top_srcdir/tests/lib/slapd.sh"

rg_require "$SLAPD" slapadd slaptest ldapsearch
LOOKUP=$top_builddir/tests/lib/ldap-lookup
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-ldap-lookup.XXXXXX")
trap 'ldap_slapd_stop "$T"; rm -rf "$T"' EXIT

ldap_slapd_init "$T" || { echo "FAIL: slapd set-up" >&2; exit 1; }
PORT=$(rg_free_port)
ldap_slapd_start "$T" "$PORT" || exit 1
URI="ldap://127.0.0.1:$PORT"

# result CONF ADDRESS - what the backend says about ADDRESS
result() { "$LOOKUP" -c "$1" -- "$2" | awk '{ print $1 }'; }

ldap_conf "$T/default.conf" "ldap_uri = $URI"
C=$T/default.conf

echo "# default filter (|(mail=%s)(mailLocalAddress=%s))"
rg_expect "known user (mail)" "$(result "$C" alice@example.test)" found
rg_expect "alias on a user (mailLocalAddress)" "$(result "$C" a.liddell@example.test)" found
rg_expect "alias entry (mailLocalAddress)" "$(result "$C" sales@example.test)" found
rg_expect "unknown user" "$(result "$C" nobody@example.test)" not-found
rg_expect "unknown domain" "$(result "$C" alice@example.invalid)" not-found
rg_expect "local part is not a substring match" "$(result "$C" alic@example.test)" not-found
rg_expect "AD entry is not found by the mail filter" "$(result "$C" cj@example.test)" not-found

echo "# case: mail matching ignores case, both ways"
rg_expect "upper-case query" "$(result "$C" ALICE@EXAMPLE.TEST)" found
rg_expect "mixed-case query" "$(result "$C" Alice@example.test)" found
rg_expect "query lower, stored mixed" "$(result "$C" bob.smith@example.test)" found
rg_expect "query upper, stored mixed" "$(result "$C" BOB.SMITH@example.test)" found

echo "# the injection payloads would match entries if they were not escaped"
n=$(ldapsearch -x -LLL -H "$URI" -b dc=example,dc=test '(mail=*@example.test)' dn | grep -c '^dn:')
[ "$n" -ge 3 ] && rg_pass "unescaped (mail=*@example.test) matches $n entries" \
	|| rg_fail "seed data: unescaped wildcard matches only $n entries"
n=$(ldapsearch -x -LLL -H "$URI" -b dc=example,dc=test '(mail="*"@example.test)' dn | grep -c '^dn:')
rg_expect "unescaped (mail=\"*\"@example.test) matches the quoted entry" "$n" 1
n=$(ldapsearch -x -LLL -H "$URI" -b dc=example,dc=test '(mail=a\2a@example.test)' dn | grep -c '^dn:')
rg_expect "unescaped (mail=a\\2a@example.test) matches the literal-star entry" "$n" 1

echo "# filter injection: each must be not-found (never found, never an error)"
for a in '*@example.test' '"*"@example.test' 'x)(mail=*)@example.test' \
	'a\2a@example.test' '*' '*)(objectClass=*' 'alice@example.test)(|(mail=*' \
	'al*@example.test' '*ice@example.test' '\2a@example.test' '(alice@example.test)' \
	'alice@example.test*' 'a\*@example.test'; do
	rg_expect "injection: $a" "$(result "$C" "$a")" not-found
done
rg_expect "the literal-star entry is found by its real address" "$(result "$C" 'a*@example.test')" found
rg_expect "the quoted entry is found by its real address" "$(result "$C" '"quoted user"@example.test')" found

echo "# %u and %d"
ldap_conf "$T/ud.conf" "ldap_uri = $URI" "ldap_filter = (&(uid=%u)(mail=*@%d))"
rg_expect "%u/%d: alice" "$(result "$T/ud.conf" alice@example.test)" found
rg_expect "%u/%d: wrong domain" "$(result "$T/ud.conf" alice@example.org)" not-found
rg_expect "%u/%d: injected local part" "$(result "$T/ud.conf" '*@example.test')" not-found

echo "# Active Directory style: (proxyAddresses=smtp:%s)"
ldap_conf "$T/ad.conf" "ldap_uri = $URI" "ldap_filter = (proxyAddresses=smtp:%s)"
rg_expect "AD primary (SMTP:)" "$(result "$T/ad.conf" Carol.Jones@example.test)" found
rg_expect "AD primary, other case" "$(result "$T/ad.conf" carol.jones@example.test)" found
rg_expect "AD secondary (smtp:)" "$(result "$T/ad.conf" cj@example.test)" found
rg_expect "AD unknown" "$(result "$T/ad.conf" nobody@example.test)" not-found
rg_expect "AD injection" "$(result "$T/ad.conf" '*@example.test')" not-found
rg_expect "AD: a mail-only user is unknown" "$(result "$T/ad.conf" alice@example.test)" not-found

echo "# scope and base"
ldap_conf "$T/one.conf" "ldap_uri = $URI" "ldap_scope = one"
rg_expect "scope one below the suffix finds nobody" "$(result "$T/one.conf" alice@example.test)" not-found
ldap_conf "$T/one2.conf" "ldap_uri = $URI" "ldap_scope = one" "ldap_base = ou=people,dc=example,dc=test"
rg_expect "scope one at ou=people finds alice" "$(result "$T/one2.conf" alice@example.test)" found
ldap_conf "$T/nobase.conf" "ldap_uri = $URI" "ldap_base = ou=missing,dc=example,dc=test"
rg_expect "a base that does not exist is an error, not not-found" \
	"$(result "$T/nobase.conf" nobody@example.test)" error

echo "# failover: a dead first URI, then the live one"
DEAD=$(rg_free_port)
ldap_conf "$T/fo.conf" "ldap_uri = ldap://127.0.0.1:$DEAD, $URI"
out=$("$LOOKUP" -s -c "$T/fo.conf" alice@example.test nobody@example.test)
rg_expect "failover: found via the second URI" "$(echo "$out" | awk 'NR==1 { print $1 }')" found
rg_expect "failover: unknown via the second URI" "$(echo "$out" | awk 'NR==2 { print $1 }')" not-found
rg_expect_match "failover: one connection, no failure" "$out" 'connects=1 connect_failures=0'
ldap_conf "$T/alldead.conf" "ldap_uri = ldap://127.0.0.1:$DEAD ldap://127.0.0.1:$(rg_free_port)"
rg_expect "every URI dead: error" "$(result "$T/alldead.conf" alice@example.test)" error

echo "# simple bind with a password file"
printf '%s\n' "$LDAP_ROOTPW" >"$T/pw"
chmod 600 "$T/pw"
ldap_conf "$T/bind.conf" "ldap_uri = $URI" "ldap_bind_dn = $LDAP_ROOTDN" \
	"ldap_bind_password_file = $T/pw"
rg_expect "bound: known user (trailing newline stripped)" "$(result "$T/bind.conf" alice@example.test)" found
printf 'wrong\n' >"$T/badpw"
chmod 600 "$T/badpw"
ldap_conf "$T/badbind.conf" "ldap_uri = $URI" "ldap_bind_dn = $LDAP_ROOTDN" \
	"ldap_bind_password_file = $T/badpw"
out=$("$LOOKUP" -s -c "$T/badbind.conf" alice@example.test)
rg_expect "wrong password: error" "$(echo "$out" | awk 'NR==1 { print $1 }')" error
rg_expect_match "wrong password: reason in stats" "$out" 'bind: Invalid credentials'
chmod 644 "$T/pw"
out=$("$LOOKUP" -c "$T/bind.conf" alice@example.test 2>&1); rc=$?
rg_expect "password file mode 0644: refused at open" "$rc" 2
rg_expect_match "password file mode 0644: message" "$out" \
	"ldap_bind_password_file $T/pw is readable by others \\(mode 0644\\): chmod 600"
chmod 640 "$T/pw"
out=$("$LOOKUP" -c "$T/bind.conf" alice@example.test 2>&1)
rg_expect_match "password file mode 0640: refused" "$out" "readable by others \\(mode 0640\\)"
: >"$T/empty"; chmod 600 "$T/empty"
ldap_conf "$T/emptypw.conf" "ldap_uri = $URI" "ldap_bind_dn = $LDAP_ROOTDN" \
	"ldap_bind_password_file = $T/empty"
out=$("$LOOKUP" -c "$T/emptypw.conf" alice@example.test 2>&1)
rg_expect_match "empty password file: refused" "$out" "is empty"

echo "# configurations refused at open"
ldap_conf "$T/bad1.conf" "ldap_uri = $URI" "ldap_starttls = yes"
sed -i "s|^ldap_uri = .*|ldap_uri = ldaps://127.0.0.1:$PORT|" "$T/bad1.conf"
out=$("$LOOKUP" -c "$T/bad1.conf" alice@example.test 2>&1); rc=$?
rg_expect "starttls with ldaps://: exit 2" "$rc" 2
rg_expect_match "starttls with ldaps://: message" "$out" "already encrypted"
sed '/^ldap_base/d' "$C" >"$T/bad2.conf"
out=$("$LOOKUP" -c "$T/bad2.conf" alice@example.test 2>&1)
rg_expect_match "no ldap_base: message" "$out" "needs ldap_base"
ldap_conf "$T/bad3.conf" "ldap_uri = $URI" "ldap_filter = (mail=%x)"
out=$("$LOOKUP" -c "$T/bad3.conf" alice@example.test 2>&1); rc=$?
rg_expect "filter with %x: refused" "$rc" 2

echo "# many threads on one handle, fewer connections than threads"
ADDRS="alice@example.test nobody@example.test sales@example.test ghost@example.test
 Bob.Smith@example.test *@example.test a.liddell@example.test x)(mail=*)@example.test"
ldap_conf "$T/pool.conf" "ldap_uri = $URI" "ldap_pool_size = 2" "cache_size = 0"
out=$("$LOOKUP" -s -t 16 -r 40 -c "$T/pool.conf" $ADDRS)
rg_expect_match "16 threads, pool of 2, no cache: every answer agrees" "$out" \
	'threads: 5120 lookups, 0 mismatches, 0 errors'
rg_expect_match "16 threads, pool of 2: threads waited, connections stayed at 2" "$out" \
	'connects=2 .*pool=2/2 pool_waits=[1-9]'
ldap_conf "$T/pool2.conf" "ldap_uri = $URI" "ldap_pool_size = 4" "cache_size = 3"
out=$("$LOOKUP" -s -t 16 -r 200 -c "$T/pool2.conf" $ADDRS)
rg_expect_match "16 threads, tiny cache (constant evictions): every answer agrees" "$out" \
	'threads: 25600 lookups, 0 mismatches, 0 errors'
rg_expect_match "tiny cache: evictions happened" "$out" 'cache_evictions=[1-9]'

echo "# every lookup counted, cache hits included"
out=$("$LOOKUP" -s -c "$C" alice@example.test ALICE@example.test nobody@example.test NOBODY@example.test)
rg_expect_match "stats: 2 hits, 2 misses, 1 connection" "$out" \
	'lookups=4 found=1 not_found=1 errors=0 cache_hits=2 cache_misses=2 .*connects=1 '

rg_done
