#!/bin/bash
# tests/bench/policy-load-smoke.sh - the policy delegation load generator
# against relayguard's policy door: every answer right, every verdict
# logged; and a control run that must fail (a server that answers the
# wrong thing is caught).  Not a benchmark: a few hundred requests.
# (The unix policy socket is exercised through Postfix by
# tests/e2e/postfix-policy.sh.)
# (bash: the e2e library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"

LOAD=$top_builddir/tests/bench/policy-load
MLOAD=$top_builddir/tests/bench/milter-load
rg_require "$RG_RELAYGUARD" "$LOAD" "$MLOAD"
tmp=$(rg_e2e_tmpdir)
"$MLOAD" -P -u 2000 >"$tmp/recipients"

# result KEY OUTPUT - a RESULT field
result() { printf '%s\n' "$2" | sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p"; }

for kind in inet; do
	case $kind in
	inet) psock="inet:$(rg_free_port)@127.0.0.1" ;;
	unix) psock="unix:$tmp/policy.sock" ;;
	esac
	rg_start_relayguard "local_domains = example.org
directory = file:$tmp/recipients
harvest_limit = 0
client_track_size = 0
policy_socket = $psock
socket_mode = 0666" || { rg_fail "$kind: relayguard did not start"; continue; }
	for i in $(seq 1 50); do
		case $psock in
		unix:*) [ -S "${psock#unix:}" ] && break ;;
		*) p=${psock#inet:}; (exec 3<>"/dev/tcp/${p#*@}/${p%@*}") 2>/dev/null && break ;;
		esac
		sleep 0.1
	done
	mark=$(rg_log_mark)
	out=$(timeout 60 "$LOAD" -s "$psock" -c 10 -n 400 -k 5 -u 2000)
	status=$?
	printf '%s\n' "$out"
	rg_expect "$kind: policy-load exit status" "$status" 0
	rg_expect "$kind: mismatched answers" "$(result mismatches "$out")" 0
	rg_expect "$kind: errors" "$(result errors "$out")" 0
	rg_expect_match "$kind: every answer class seen" "$out" \
	    'DUNNO [1-9][0-9]*, 550 5\.1\.1 [1-9][0-9]*, 550 5\.7\.1 [1-9][0-9]*'
	for i in $(seq 1 50); do
		lines=$(rg_log_since "$mark" | grep -c ' stage=rcpt ')
		[ "$lines" -ge "$(result rcpts "$out")" ] && break
		sleep 0.1
	done
	rg_expect "$kind: one rcpt log line per request" "$lines" "$(result rcpts "$out")"
	rg_stop_relayguard
done

# Control: every known user unknown to the server -> mismatches, exit 1.
: >"$tmp/empty"
rg_start_relayguard "local_domains = example.org
directory = file:$tmp/empty
harvest_limit = 0
client_track_size = 0
policy_socket = inet:$(rg_free_port)@127.0.0.1" >/dev/null || rg_fail "control: no start"
psock=$(sed -n 's/^policy_socket = //p' "$RG_MILTER_CONF")
sleep 0.3
out=$(timeout 60 "$LOAD" -s "$psock" -c 5 -n 100 -u 2000)
rg_expect "control: wrong answers fail the run" "$?" 1
rg_expect_match "control: mismatches counted" "$(result mismatches "$out")" '^[1-9][0-9]*$'
rg_stop_relayguard
rg_done
