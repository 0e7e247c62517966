#!/bin/bash
# tests/integration/ldap-faults.sh - the LDAP backend when the directory fails
#
# One backend handle (one ldap-lookup process reading addresses on stdin)
# lives through: slapd stopped (every uncached lookup is an error, none
# not-found; cached answers are served until their TTL), slapd started
# again on the same port (lookups succeed within seconds, no restart),
# cache TTL expiry, and a server that accepts TCP connections but never
# answers (an error within ldap_timeout).  The silent server is a tiny
# python3 listener: slapd cannot be made to hang on purpose.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "${top_srcdir:?}/tests/lib/common.sh"
. "$top_srcdir/tests/lib/slapd.sh"

rg_require "$SLAPD" slapadd slaptest python3
LOOKUP=$top_builddir/tests/lib/ldap-lookup
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-ldap-faults.XXXXXX")
SILENT_PID= LK_PID=
cleanup() {
	[ -n "$LK_PID" ] && kill "$LK_PID" 2>/dev/null
	[ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null
	ldap_slapd_stop "$T"
	rm -rf "$T"
}
trap cleanup EXIT

ldap_slapd_init "$T" || { echo "FAIL: slapd set-up" >&2; exit 1; }
PORT=$(rg_free_port)
ldap_slapd_start "$T" "$PORT" || exit 1

# ask LINE - send one line to the running ldap-lookup, print its answer
ask() {
	local reply
	echo "$1" >&7
	if ! IFS= read -r -t 30 reply <&8; then
		echo "timeout"
		return 1
	fi
	echo "$reply"
}
# verdict ADDRESS - just the result word
verdict() { ask "$1" | awk '{ print $1 }'; }

ldap_conf "$T/rg.conf" "ldap_uri = ldap://127.0.0.1:$PORT" \
	"cache_positive_ttl = 3" "cache_negative_ttl = 1" "ldap_timeout = 2s"
# The driver reads addresses from one fifo and answers on another; plain
# descriptors (unlike a coproc's) stay usable inside $(...).
mkfifo "$T/in" "$T/out"
"$LOOKUP" -l -c "$T/rg.conf" <"$T/in" >"$T/out" 2>"$T/lookup.err" &
LK_PID=$!
exec 7>"$T/in" 8<"$T/out"

echo "# cache: the second lookup is a hit"
rg_expect "alice found" "$(verdict alice@example.test)" found
rg_expect "alice again" "$(verdict alice@example.test)" found
rg_expect "nobody not-found" "$(verdict nobody@example.test)" not-found
rg_expect_match "one hit, two misses" "$(ask '!stats')" 'cache_hits=1 cache_misses=2 '

echo "# cache: negative TTL 1 s expires"
ask '!sleep 1100' >/dev/null
rg_expect "nobody after 1.1 s" "$(verdict nobody@example.test)" not-found
rg_expect_match "the negative entry expired" "$(ask '!stats')" 'cache_hits=1 cache_misses=3 cache_evictions=0 cache_expired=1 '
rg_expect "sales found (cached for 3 s)" "$(verdict sales@example.test)" found

echo "# slapd stopped while the handle is open"
ldap_slapd_stop "$T"
errors=0 other=0
for a in bob.smith@example.test nobody2@example.test a.liddell@example.test ghost@example.test \
	'*@example.test' bob.smith@example.test; do
	v=$(verdict "$a")
	if [ "$v" = error ]; then errors=$((errors + 1)); else other=$((other + 1)); echo "  $a: $v"; fi
done
rg_expect "slapd down: every uncached lookup is an error" "$errors/$other" "6/0"
rg_expect "slapd down: a cached positive is still served until its TTL" \
	"$(verdict sales@example.test)" found
rg_expect_match "slapd down: state=down in the stats" "$(ask '!stats')" 'state=down .*errors=6 '
rg_expect_match "slapd down: reported once on the log hook" "$(cat "$T/lookup.err")" \
	'log\[3\]: ldap: directory unavailable, lookups fail temporarily'
rg_expect "log hook: one line, not one per lookup" "$(grep -c 'unavailable' "$T/lookup.err")" 1
# A dead directory is not hammered: fast failures while backing off.
# (Times are the driver's own measurement of each lookup.)
max=0 sum=0
for i in $(seq 1 20); do
	ms=$(ask "burst$i@example.test" | awk '{ print $2 }')
	sum=$((sum + ms))
	[ "$ms" -gt "$max" ] && max=$ms
done
[ "$max" -lt 200 ] && rg_pass "20 lookups while down: ${sum} ms in all, slowest ${max} ms" \
	|| rg_fail "20 lookups while down: ${sum} ms in all, slowest ${max} ms"
st=$(ask '!stats')
f=$(echo "$st" | sed -n 's/.* connect_failures=\([0-9]*\) .*/\1/p')
b=$(echo "$st" | sed -n 's/.* backoff_fails=\([0-9]*\) .*/\1/p')
[ -n "$f" ] && [ "$f" -le 3 ] && [ "$b" -ge 20 ] \
	&& rg_pass "backoff: $f connection attempts, $b fast failures in 26 lookups" \
	|| rg_fail "backoff: $f connection attempts, $b fast failures ($st)"
ask '!sleep 3100' >/dev/null
rg_expect "slapd down: the cached positive expired after its TTL: error" \
	"$(verdict sales@example.test)" error

echo "# slapd started again on the same port: recovery without restart"
ldap_slapd_start "$T" "$PORT" || exit 1
start=$(date +%s%N)
v=error
for i in $(seq 1 100); do
	v=$(verdict bob.smith@example.test)
	[ "$v" = error ] || break
	ask '!sleep 100' >/dev/null
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
rg_expect "slapd back: bob found again" "$v" found
[ "$ms" -lt 6000 ] && rg_pass "slapd back: recovered in ${ms} ms" || rg_fail "recovery took ${ms} ms"
rg_expect "slapd back: unknown is not-found again" "$(verdict ghost2@example.test)" not-found
rg_expect "slapd back: errors were not cached" "$(verdict nobody2@example.test)" not-found
rg_expect_match "slapd back: reported on the log hook" "$(cat "$T/lookup.err")" \
	'log\[5\]: ldap: directory available again via ldap://127.0.0.1'
rg_expect_match "slapd back: state=up" "$(ask '!stats')" 'state=up '

echo "# slapd restarted under idle connections: one retry, no error"
# Open every pooled connection, restart slapd, then look up again.
for i in 1 2 3 4 5 6; do verdict "warm$i@example.test" >/dev/null; done
ldap_slapd_stop "$T"
ldap_slapd_start "$T" "$PORT" || exit 1
rg_expect "after a restart the stale connection is replaced at once" \
	"$(verdict a.liddell@example.test)" found
rg_expect_match "the retry is counted" "$(ask '!stats')" 'retries=[1-9]'

exec 7>&- 8<&-
rg_wait_pid "$LK_PID" 15
LK_PID=

echo "# a server that accepts the connection and never answers"
SILENT=$(rg_free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$SILENT" &
SILENT_PID=$!
rg_wait_port "$SILENT" 10 || rg_fail "silent server did not start"
for timeout in 1 2; do
	ldap_conf "$T/silent.conf" "ldap_uri = ldap://127.0.0.1:$SILENT" "ldap_timeout = ${timeout}s"
	out=$("$LOOKUP" -c "$T/silent.conf" alice@example.test)
	rg_expect "silent server, ldap_timeout=${timeout}s: error" "$(echo "$out" | awk '{ print $1 }')" error
	ms=$(echo "$out" | awk '{ print $2 }')
	[ "$ms" -ge $((timeout * 1000 - 100)) ] && [ "$ms" -lt $((timeout * 1000 + 500)) ] \
		&& rg_pass "silent server: gave up after ${ms} ms (timeout ${timeout} s)" \
		|| rg_fail "silent server: ${ms} ms for ldap_timeout=${timeout}s"
done
printf 'x\n' >"$T/pw"; chmod 600 "$T/pw"
ldap_conf "$T/silentbind.conf" "ldap_uri = ldap://127.0.0.1:$SILENT" "ldap_timeout = 1s" \
	"ldap_bind_dn = cn=x" "ldap_bind_password_file = $T/pw"
out=$("$LOOKUP" -c "$T/silentbind.conf" alice@example.test)
ms=$(echo "$out" | awk '{ print $2 }')
rg_expect "silent server during bind: error" "$(echo "$out" | awk '{ print $1 }')" error
[ "$ms" -lt 1500 ] && rg_pass "silent bind: gave up after ${ms} ms" || rg_fail "silent bind: ${ms} ms"
ldap_conf "$T/silenttls.conf" "ldap_uri = ldap://127.0.0.1:$SILENT" "ldap_timeout = 1s" "ldap_starttls = yes"
out=$("$LOOKUP" -c "$T/silenttls.conf" alice@example.test)
ms=$(echo "$out" | awk '{ print $2 }')
rg_expect "silent server during StartTLS: error" "$(echo "$out" | awk '{ print $1 }')" error
[ "$ms" -lt 1500 ] && rg_pass "silent StartTLS: gave up after ${ms} ms" || rg_fail "silent StartTLS: ${ms} ms"
echo "# failover from the silent server to slapd"
ldap_conf "$T/silentfo.conf" "ldap_uri = ldap://127.0.0.1:$SILENT ldap://127.0.0.1:$PORT" \
	"ldap_timeout = 1s" "ldap_bind_dn = $LDAP_ROOTDN" "ldap_bind_password_file = $T/rootpw"
printf '%s\n' "$LDAP_ROOTPW" >"$T/rootpw"; chmod 600 "$T/rootpw"
out=$("$LOOKUP" -c "$T/silentfo.conf" alice@example.test)
rg_expect "silent first server, bind times out, second answers" "$(echo "$out" | awk '{ print $1 }')" found

rg_done
