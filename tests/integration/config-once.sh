#!/bin/bash
# tests/integration/config-once.sh - the daemon reads its configuration once
# at start, and once per reload
#
# It used to parse the file twice at start (once to check it, once more
# for the first runtime), so the two could differ and the audit writer
# and the shutdown path read audit_failure from different copies.  strace
# counts the daemon's opens of the file: one until it is ready, two after
# a SIGHUP.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

rg_require strace timeout
RG=$top_builddir/src/programs/relayguard
[ -x "$RG" ] || { echo "FAIL: $RG not built" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rg-config-once.XXXXXX)
pid= tracer=
cleanup() {
	local i
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	[ -z "$tracer" ] || kill "$tracer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
echo 'alice@example.org' > "$tmp/recipients"
cat > "$tmp/rg.conf" <<EOC
local_domains = example.org
directory = file:$tmp/recipients
socket = inet:$port@127.0.0.1
audit_db = $tmp/audit.db
allow_root = yes
EOC

# opens - how many times the daemon opened the configuration file
opens() {
	grep -c "open[a-z]*(.*\"$tmp/rg.conf\"" "$tmp/strace" 2>/dev/null
}

strace -f -qq -e trace=open,openat -o "$tmp/strace" \
	"$RG" -c "$tmp/rg.conf" -f -s 2> "$tmp/log" &
tracer=$!
rg_wait_port "$port" 20 || { cat "$tmp/log" >&2; kill "$tracer"; rg_fail "the daemon did not start"; rg_done; }
# signals go to the daemon, strace's child
pid=$(ps --ppid "$tracer" -o pid= | tr -d ' ')
[ -n "$pid" ] || { kill "$tracer"; rg_fail "no daemon under strace"; rg_done; }
for i in $(seq 1 50); do grep -q 'starting relayguard' "$tmp/log" && break; sleep 0.1; done
rg_expect "start: the configuration is read once" "$(opens)" 1
kill -HUP "$pid"
for i in $(seq 1 100); do grep -q 'reloaded configuration' "$tmp/log" && break; sleep 0.1; done
rg_expect_match "reload: logged" "$(cat "$tmp/log")" 'reloaded configuration'
rg_expect "reload: read once more" "$(opens)" 2
kill -TERM "$pid"
for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$tracer"
status=$?
pid= tracer=
rg_expect "stopped cleanly" "$status" 0
rg_done
