#!/bin/bash
# tests/bench/milter-load-smoke.sh - the load generator against relayguard,
# for correctness rather than speed
#
# tests/bench/milter-load plays the MTA's side of the milter protocol with
# 10 concurrent sessions against a real relayguard (file directory, audit
# trail on), on an inet and on a unix socket.  Every RCPT answer is
# checked against the verdict the mix requires (continue for local users,
# 550 5.1.1 for unknown ones, 550 5.7.1 for relay attempts and tricks):
# zero mismatches and zero protocol errors, every recipient answered,
# logged and audited once.  A control run that expects "continue" for
# everything must fail, proving the checks can.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/mta.sh"

LOAD=$top_builddir/tests/bench/milter-load
rg_require "$RG_RELAYGUARD" "$LOAD" "${SQLITE3_CLI:-sqlite3}"
tmp=$(rg_e2e_tmpdir)
"$LOAD" -P -u 2000 >"$tmp/recipients"

# result KEY TEXT - the value of KEY=... on the RESULT line of TEXT
result() {
	printf '%s\n' "$2" | sed -n "s/^RESULT .*[ ]$1=\([^ ]*\).*/\1/p"
}

# smoke SOCKET ARGS... - one run of 400 recipients; checks its figures
smoke() {
	local sock=$1 out status db=$tmp/audit.$1.db mark rows lines
	shift
	# every recipient judged on its own: no memory across connections
	rg_start_relayguard "local_domains = example.org, example.net
local_addresses = 192.0.2.25
directory = file:$tmp/recipients
harvest_limit = 0
client_track_size = 0
audit_db = $db" "$sock" || { rg_fail "relayguard did not start"; return; }
	mark=$(rg_log_mark)
	out=$(timeout 60 "$LOAD" -s "$RG_MILTER_SOCKET" -c 10 -n 400 -k 5 -m 3 -u 2000 "$@")
	status=$?
	printf '%s\n' "$out"
	rg_expect "$sock: milter-load exit status" "$status" 0
	rg_expect "$sock: mismatched verdicts" "$(result mismatches "$out")" 0
	rg_expect "$sock: protocol errors" "$(result errors "$out")" 0
	rg_expect "$sock: recipients answered" "$(result rcpts "$out")" 400
	rg_expect_match "$sock: every verdict class seen" "$out" \
		'continue [1-9][0-9]*, 550 5\.1\.1 [1-9][0-9]*, 550 5\.7\.1 [1-9][0-9]*'
	# The daemon logs each verdict just after answering: wait for them.
	for i in $(seq 1 50); do
		lines=$(rg_log_since "$mark" | grep -c ' stage=rcpt ')
		[ "$lines" -ge 400 ] && break
		sleep 0.1
	done
	rg_expect "$sock: rcpt log lines" "$lines" 400
	# No rule can refuse at connect or HELO here (no client memory, no
	# audit_failure = tempfail): relayguard asks for no reply there, and
	# never at DATA, MAIL or RCPT.
	rg_expect "$sock: no reply negotiated at connect and HELO only" \
	    "$(printf '%s\n' "$out" | sed -n 's/^NEGOTIATED //p')" "noreply=connect,helo,"
	rg_stop_relayguard
	rows=$("${SQLITE3_CLI:-sqlite3}" -batch "$db" \
		"SELECT COUNT(*) FROM verdicts WHERE stage = 'rcpt'")
	rg_expect "$sock: rcpt audit rows" "$rows" 400
}

smoke inet
smoke unix -j 2

# Control: the same load judged as if every recipient were acceptable
# must report mismatches and fail.
rg_start_relayguard "local_domains = example.org
local_addresses = 192.0.2.25
directory = file:$tmp/recipients
harvest_limit = 0
client_track_size = 0" inet || rg_fail "relayguard did not start"
out=$(timeout 60 "$LOAD" -s "$RG_MILTER_SOCKET" -c 10 -n 200 -u 2000 -x accept)
status=$?
rg_expect "control: expecting accept-all fails" "$status" 1
rg_expect_match "control: mismatches counted" "$(result mismatches "$out")" '^[1-9][0-9]*$'
rg_stop_relayguard

# With client memory on (the default) a penalty can refuse at connect and
# HELO: both stay answered, and the answers are still right.
rg_start_relayguard "local_domains = example.org
local_addresses = 192.0.2.25
directory = file:$tmp/recipients
harvest_limit = 0
client_limit.unknown = 0
client_limit.relay = 0
client_limit.routing = 0
client_limit.syntax = 0" inet || rg_fail "relayguard did not start"
out=$(timeout 60 "$LOAD" -s "$RG_MILTER_SOCKET" -c 10 -n 200 -u 2000)
rg_expect "client memory on: answers right" "$(result mismatches "$out")/$(result errors "$out")" 0/0
rg_expect "client memory on: every step answered" \
    "$(printf '%s\n' "$out" | sed -n 's/^NEGOTIATED //p')" "noreply="
rg_stop_relayguard
rg_done
