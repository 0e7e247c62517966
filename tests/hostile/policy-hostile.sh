#!/bin/bash
# tests/hostile/policy-hostile.sh - hostile clients of the policy
# delegation socket (policy_socket): garbage, a 1 MiB line, a client
# that stops mid-request, 1,000 connections at once.  Each hostile client
# must be disconnected with a clear log line and never get an answer it
# could take for a verdict; a normal client must keep getting correct
# answers throughout; relayguard's memory (VmRSS) must stay bounded and
# come back down when the 1,000 connections close.  policy-hostile.py
# drives the raw sockets; no MTA is needed (the policy protocol is
# plain text, and this is what a client that is not smtpd can do).
# (bash: the e2e library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_require "$RG_RELAYGUARD" python3

HOSTILE="python3 $top_srcdir/tests/hostile/policy-hostile.py"
MANY=1000
RSS_CEILING_KB=$((64 * 1024))	# with 1,000 connections open
ulimit -n 4096 2>/dev/null

rss_checked=1
if LC_ALL=C grep -qaE '__asan_init|__msan_init|__tsan_init' "$RG_RELAYGUARD"; then
	rss_checked=0
	echo "note: $RG_RELAYGUARD is sanitizer-instrumented: RSS bounds not asserted"
fi

# rss - relayguard's VmRSS in kB
rss() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$RG_MILTER_PID/status" 2>/dev/null
}

# normal_client - a well-behaved client still gets correct answers
normal_client() {
	local out
	out=$(printf '%s\n' "alice@example.test sender@client.example.net" \
	    "victim@remote.test sender@client.example.net" \
	    "nobody@example.test sender@client.example.net" |
	    timeout 30 $HOSTILE "$PORT" answer)
	rg_expect "$1: normal client: local user" \
	    "$(echo "$out" | sed -n 1p)" "alice@example.test -> action=DUNNO"
	rg_expect_match "$1: normal client: relay refused" \
	    "$(echo "$out" | sed -n 2p)" '^victim@remote.test -> action=550 5\.7\.1 '
	rg_expect_match "$1: normal client: unknown refused" \
	    "$(echo "$out" | sed -n 3p)" '^nobody@example.test -> action=550 5\.1\.1 '
}

PORT=$(rg_free_port)
RG_E2E_DOOR=policy RG_E2E_POLICY_SOCKET="inet:$PORT@127.0.0.1"
# 500 relay attempts from one client on purpose, each judged on its own:
# no memory across connections (tests/e2e/clients.sh tests that).
rg_start_relayguard "$(rg_e2e_conf 'policy_timeout = 2s' 'client_track_size = 0')" || exit 1
for i in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done
normal_client "start"
rss_start=$(rss)

echo "# garbage"
mark=$(rg_log_mark)
rg_expect "garbage: disconnected without an answer" \
    "$(timeout 30 $HOSTILE "$PORT" garbage)" closed
rg_log_wait "warning: policy: 127\.0\.0\.1:[0-9]+: not a policy request \(line without '='" 5 "$mark" >/dev/null &&
	rg_pass "garbage: logged" || rg_fail "garbage: no log line; got: $(rg_log_since "$mark")"

echo "# a 1 MiB line"
mark=$(rg_log_mark)
out=$(timeout 30 $HOSTILE "$PORT" huge)
rg_expect_match "1 MiB line: disconnected without an answer" "$out" '^closed after'
rg_log_wait "warning: policy: .*: not a policy request \(request longer than 16384 bytes\): closing" 5 "$mark" >/dev/null &&
	rg_pass "1 MiB line: logged" || rg_fail "1 MiB line: no log line; got: $(rg_log_since "$mark")"

echo "# a client that stops mid-request (policy_timeout = 2s)"
mark=$(rg_log_mark)
timeout 60 $HOSTILE "$PORT" stall >"$(rg_e2e_tmpdir)/stall.out" &
stall_pid=$!
sleep 0.5
normal_client "during a stall"	# the stalled one holds nothing up
wait "$stall_pid"
out=$(cat "$(rg_e2e_tmpdir)/stall.out")
rg_expect_match "stall: disconnected after policy_timeout" "$out" '^closed after [2-5] s$'
rg_log_wait "warning: policy: .*: request not complete after 2 s \(200 bytes\): closing" 5 "$mark" >/dev/null &&
	rg_pass "stall: logged" || rg_fail "stall: no log line; got: $(rg_log_since "$mark")"

# many_round N - $MANY connections at once, each asking one request, all
# held open until every one is answered; sets rss_many
many_round() {
	local fifo out pid i
	echo "# $MANY connections at once (round $1)"
	fifo="$(rg_e2e_tmpdir)/many.$1.fifo"
	mkfifo "$fifo"
	timeout 120 $HOSTILE "$PORT" many "$MANY" <"$fifo" >"$fifo.out" &
	pid=$!
	exec 7>"$fifo"
	for i in $(seq 1 600); do
		[ -s "$fifo.out" ] && break
		sleep 0.1
	done
	rg_expect "$MANY connections, round $1: every one answered, correctly" \
	    "$(cat "$fifo.out")" "$MANY answered $((MANY / 2)) $((MANY / 2))"
	rss_many=$(rss)
	normal_client "with $MANY connections open, round $1"
	echo >&7
	exec 7>&-
	wait "$pid"
	sleep 1
	normal_client "after $MANY connections, round $1"
}

many_round 1
rss_first=$rss_many
many_round 2
echo "# VmRSS: ${rss_start} kB at start, ${rss_first} kB and ${rss_many} kB with $MANY connections open (rounds 1, 2)"
if [ "$rss_checked" = 1 ]; then
	rg_expect_match "$MANY connections: VmRSS ${rss_first} kB < ${RSS_CEILING_KB} kB" \
	    "$((rss_first < RSS_CEILING_KB))" '^1$'
	# What a round allocates is freed at close: a second round reuses it.
	rg_expect_match "$MANY connections again: VmRSS ${rss_many} kB < ${rss_first} kB + 2 MB" \
	    "$((rss_many < rss_first + 2048))" '^1$'
fi
if kill -0 "$RG_MILTER_PID" 2>/dev/null; then
	rg_pass "relayguard still running"
else
	rg_fail "relayguard died"
fi
if grep -qE 'AddressSanitizer|runtime error:' "$RG_MILTER_LOG"; then
	rg_fail "sanitizer report in the daemon's log"
fi
rg_stop_relayguard

echo "# an LDAP lookup that blocks holds up no other connection"
LDAP_PORT=$(rg_free_port)
python3 "$top_srcdir/tests/hostile/policy-hostile.py" "$LDAP_PORT" blackhole &
blackhole_pid=$!
rg_e2e_on_exit "kill $blackhole_pid"
PORT=$(rg_free_port)
RG_E2E_POLICY_SOCKET="inet:$PORT@127.0.0.1"
rg_start_relayguard "local_domains = example.test
directory = ldap
ldap_uri = ldap://127.0.0.1:$LDAP_PORT
ldap_base = dc=example,dc=test
ldap_timeout = 3s
ldap_network_timeout = 3s
client_track_size = 0
policy_socket = $RG_E2E_POLICY_SOCKET" || exit 1
for i in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done
out=$(timeout 60 $HOSTILE "$PORT" blocked)
echo "$out" | sed 's/^/# /'
rg_expect_match "blocked lookup: the other connection answered at once" \
    "$(echo "$out" | sed -n 's/^second: //p')" '^action=550 5\.7\.1 .* after 0\.[0-9] s$'
rg_expect_match "blocked lookup: its own request deferred, not refused" \
    "$(echo "$out" | sed -n 's/^first: //p')" '^action=451 4\.4\.3 '
rg_stop_relayguard
kill "$blackhole_pid" 2>/dev/null
wait "$blackhole_pid" 2>/dev/null
rg_done
