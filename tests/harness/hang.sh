#!/bin/bash
# tests/harness/hang.sh - a test that hangs, on purpose: not run by make
# check itself, but by tests/harness/bounded.sh under tests/harness/run-bounded.sh
# with a short limit.
#
# It starts what a real end-to-end test starts (relayguard listening on a
# port, a throwaway Postfix whose daemons leave the test's session), writes
# their pids, ports and directory to $RG_HANG_RECORD, then ignores SIGTERM
# and sleeps: the wrapper must SIGKILL it, so the test's own exit trap
# never stops anything, and the wrapper alone has to.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$top_srcdir/tests/lib/mta.sh"
rg_e2e_require_root
: "${RG_HANG_RECORD:?set by tests/harness/bounded.sh}"

rg_step "start relayguard and Postfix"
rg_start_relayguard "local_domains = example.test
directory = file:$top_srcdir/tests/lib/recipients" || exit 1
# A key the base main.cf already sets: written once, not twice.
rg_start_postfix "$RG_MILTER_SOCKET" "milter_connect_timeout = 30s" || exit 1
{
	echo "milter_pid $RG_MILTER_PID"
	port=${RG_MILTER_SOCKET#inet:}
	echo "milter_port ${port%@*}"
	echo "postfix_dir $RG_POSTFIX_DIR"
	echo "postfix_port $RG_POSTFIX_PORT"
	echo "master_pid $(tr -d ' ' <"$RG_POSTFIX_DIR/queue/pid/master.pid")"
	echo "key_lines $(grep -c '^milter_connect_timeout' "$RG_POSTFIX_DIR/etc/main.cf")"
} >"$RG_HANG_RECORD.new" && mv "$RG_HANG_RECORD.new" "$RG_HANG_RECORD"

rg_step "sleep past the limit"
trap '' TERM INT HUP
while :; do sleep 1; done
