#!/bin/bash
# tests/integration/daemon.sh - the daemon's command line, start-up and signals
#
# -V, usage errors, -n on good and broken configurations, start-up errors
# (root without user, unusable audit database, a live socket), daemonising
# with a pidfile, dropping to an unprivileged user (when run as root),
# stale unix sockets, SIGHUP reloads (good, broken, and a burst: libmilter
# alone would stop the milter on SIGHUP), SIGUSR1 stats, SIGTERM.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
SQLITE3_CLI=${SQLITE3_CLI:-$(command -v sqlite3)}
rg_require "$MILTERTEST" "$SQLITE3_CLI" timeout
RG=$top_builddir/src/programs/relayguard
LUA_DIR=$top_srcdir/tests/integration/lua
[ -x "$RG" ] || { echo "FAIL: $RG not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-daemon.XXXXXX")
chmod 755 "$tmp"
pids=""

# cleanup - stop what we started, remove the temp dir
cleanup() {
	[ -s "$tmp/run/rg.pid" ] && pids="$pids $(cat "$tmp/run/rg.pid")"
	rg_stop_pids 10 $pids
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_log FILE PATTERN [N] - until FILE has N lines matching (10 s)
wait_log() {
	local i
	for i in $(seq 1 100); do
		[ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}

port=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
mkdir -p "$tmp/run"
printf 'alice@example.test\nbob@example.test\npostmaster@example.test\n' > "$tmp/recipients"
cat > "$tmp/good.conf" <<EOF
local_domains = example.test
directory = file:$tmp/recipients
socket = inet:$port@127.0.0.1
allow_root = yes
audit_db = none
EOF

# ---- command line --------------------------------------------------------

out=$("$RG" -V)
rg_expect "-V exit status" "$?" 0
rg_expect_match "-V prints the version" "$out" '^relayguard [0-9]+\.[0-9]+'
"$RG" -x > /dev/null 2> "$tmp/err"
rg_expect "bad option: exit 2" "$?" 2
rg_expect_match "bad option: usage" "$(cat "$tmp/err")" 'usage: relayguard \[-c FILE\]'
"$RG" -c "$tmp/good.conf" extra > /dev/null 2>&1
rg_expect "stray argument: exit 2" "$?" 2

out=$("$RG" -n -c "$tmp/good.conf" 2>&1)
rg_expect "-n good configuration: exit 0" "$?" 0
rg_expect "-n good configuration: message" "$out" "relayguard: configuration $tmp/good.conf OK"

{ cat "$tmp/good.conf"; echo "no_such_key = 1"; } > "$tmp/badkey.conf"
out=$("$RG" -n -c "$tmp/badkey.conf" 2>&1)
rg_expect "-n unknown key: exit 1" "$?" 1
rg_expect_match "-n unknown key: FILE:LINE: reason" "$out" "^$tmp/badkey.conf:6: .*no_such_key"

sed "s|^socket = .*|socket = inet:99999@127.0.0.1|" "$tmp/good.conf" > "$tmp/badsock.conf"
out=$("$RG" -n -c "$tmp/badsock.conf" 2>&1)
rg_expect "-n bad socket: exit 1" "$?" 1
rg_expect_match "-n bad socket: message" "$out" "^$tmp/badsock.conf:3: .*port"

sed "s|^directory = .*|directory = file:$tmp/missing|" "$tmp/good.conf" > "$tmp/baddir.conf"
out=$("$RG" -n -c "$tmp/baddir.conf" 2>&1)
rg_expect "-n missing directory file: exit 1" "$?" 1
rg_expect_match "-n missing directory file: message" "$out" "$tmp/missing"

{ cat "$tmp/good.conf"; echo "user = no-such-user-rg"; } > "$tmp/baduser.conf"
out=$("$RG" -n -c "$tmp/baduser.conf" 2>&1)
rg_expect "-n unknown user: exit 1" "$?" 1
rg_expect_match "-n unknown user: message" "$out" "no-such-user-rg: no such user"

out=$("$RG" -n -c "$tmp/nonexistent.conf" 2>&1)
rg_expect "-n missing configuration: exit 1" "$?" 1

# ---- start-up errors -----------------------------------------------------

if [ "$(id -u)" = 0 ]; then
	sed "s|^allow_root = yes|allow_root = no|" "$tmp/good.conf" > "$tmp/root.conf"
	out=$(timeout 10 "$RG" -f -s -c "$tmp/root.conf" 2>&1)
	rg_expect "root without user: exit 1" "$?" 1
	rg_expect_match "root without user: message" "$out" "refusing to run as root"
fi

# An audit database written by a newer relayguard cannot be used.
"$SQLITE3_CLI" "$tmp/newer.db" 'PRAGMA user_version = 9999'
sed "s|^audit_db = none|audit_db = $tmp/newer.db|" "$tmp/good.conf" > "$tmp/audit.conf"
out=$(timeout 10 "$RG" -f -s -c "$tmp/audit.conf" 2>&1)
rg_expect "unusable audit database: exit 1" "$?" 1
rg_expect_match "unusable audit database: message" "$out" "audit: .*$tmp/newer.db"

# ---- daemonising, pidfile, privileges, unix socket ------------------------

cat > "$tmp/unix.conf" <<EOF
local_domains = example.test
directory = file:$tmp/recipients
socket = unix:$tmp/run/rg.sock
socket_mode = 0660
pidfile = $tmp/run/rg.pid
audit_db = none
EOF
if [ "$(id -u)" = 0 ]; then
	echo "user = nobody" >> "$tmp/unix.conf"
	chmod 777 "$tmp/run"
	chmod 644 "$tmp/unix.conf" "$tmp/recipients"
else
	echo "allow_root = yes" >> "$tmp/unix.conf"
fi

timeout 20 "$RG" -c "$tmp/unix.conf"
rg_expect "daemon start: parent exits 0 once ready" "$?" 0
pid=$(cat "$tmp/run/rg.pid" 2>/dev/null)
rg_expect_match "pidfile holds a running pid" "$pid" '^[0-9]+$'
kill -0 "$pid" 2>/dev/null && rg_pass "daemon running" || rg_fail "daemon not running"
rg_expect "unix socket mode" "$(stat -c %a "$tmp/run/rg.sock" 2>/dev/null)" 660
if [ "$(id -u)" = 0 ]; then
	rg_expect "runs as the configured user" "$(ps -o user= -p "$pid" | tr -d ' ')" nobody
	rg_expect "socket owned by the configured user" "$(stat -c %U "$tmp/run/rg.sock")" nobody
fi
if RG_SOCKET="unix:$tmp/run/rg.sock" RG_LUA_DIR=$LUA_DIR timeout 60 "$MILTERTEST" \
    -s "$LUA_DIR/unix.lua" > "$tmp/unix.out" 2>&1; then
	rg_pass "daemonised milter answers on the unix socket"
else
	rg_fail "daemonised milter answers on the unix socket"; cat "$tmp/unix.out" >&2
fi

out=$(timeout 10 "$RG" -f -s -c "$tmp/unix.conf" 2>&1)
rg_expect "second instance on a live socket: exit 1" "$?" 1
rg_expect_match "second instance: message" "$out" "another process is listening"

kill -TERM "$pid"
rg_wait_gone "$pid" 15 && rg_pass "SIGTERM stops the daemon" || rg_fail "daemon still running after SIGTERM"
rg_expect "pidfile removed" "$([ -e "$tmp/run/rg.pid" ] && echo present || echo removed)" removed
rg_expect "socket removed" "$([ -e "$tmp/run/rg.sock" ] && echo present || echo removed)" removed

# A socket file left behind by a killed daemon does not block a restart.
timeout 20 "$RG" -c "$tmp/unix.conf"
pid=$(cat "$tmp/run/rg.pid" 2>/dev/null)
kill -KILL "$pid" 2>/dev/null
rg_wait_gone "$pid" 15
rm -f "$tmp/run/rg.pid"
[ -S "$tmp/run/rg.sock" ] && rg_pass "a killed daemon leaves its socket" \
	|| rg_fail "no stale socket to test with"
timeout 20 "$RG" -c "$tmp/unix.conf"
rg_expect "restart over a stale socket: exit 0" "$?" 0
pid=$(cat "$tmp/run/rg.pid" 2>/dev/null)
kill -TERM "$pid" 2>/dev/null
rg_wait_gone "$pid" 15

# ---- signals: SIGHUP reload, SIGUSR1 stats -------------------------------

cp "$tmp/good.conf" "$tmp/live.conf"
"$RG" -f -s -c "$tmp/live.conf" 2> "$tmp/live.log" &
pid=$!
pids="$pids $pid"
rg_wait_port "$port" 10 || rg_fail "inet milter did not start"

cat > "$tmp/dave.lua" <<'EOF'
dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")
local conn = open()
session(conn, "c.example.net", "192.0.2.9", "c.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "MAIL")
check(mt.rcptto(conn, "<dave@example.test>") == nil, "RCPT dave")
if mt.getreply(conn) == SMFIR_CONTINUE then mt.echo("dave=accepted")
else mt.echo("dave=refused") end
mt.disconnect(conn)
EOF
dave() {
	RG_SOCKET="inet:$port@127.0.0.1" RG_LUA_DIR=$LUA_DIR timeout 60 "$MILTERTEST" \
		-s "$tmp/dave.lua" 2>&1 | grep '^dave='
}
rg_expect "before reload: dave unknown" "$(dave)" dave=refused

echo dave@example.test >> "$tmp/recipients"
kill -HUP "$pid"
wait_log "$tmp/live.log" "reloaded configuration" || rg_fail "no reload logged"
rg_expect "after SIGHUP: the directory file is re-read" "$(dave)" dave=accepted

echo "bogus = 1" >> "$tmp/live.conf"
kill -HUP "$pid"
wait_log "$tmp/live.log" "reload failed" || true
rg_expect_match "broken reload logged with FILE:LINE" \
	"$(grep -F 'reload failed' "$tmp/live.log")" \
	"reload failed: $tmp/live.conf:6: .*; keeping the old configuration"
rg_expect "broken reload keeps the old configuration serving" "$(dave)" dave=accepted

# A restart-only key changed by a reload: applied later, and said so.
{ cat "$tmp/good.conf"; echo "milter_timeout = 60s"; } > "$tmp/live.conf"
kill -HUP "$pid"
wait_log "$tmp/live.log" "milter_timeout changed" \
	&& rg_pass "reload warns that milter_timeout needs a restart" \
	|| rg_fail "no restart warning for a changed milter_timeout"
rg_expect "no warning for keys that did not change" \
	"$(grep -c 'socket changed\|user changed\|pidfile changed' "$tmp/live.log")" 0
cp "$tmp/good.conf" "$tmp/live.conf"

for i in $(seq 1 25); do kill -HUP "$pid"; done
sleep 1
kill -0 "$pid" 2>/dev/null && rg_pass "a burst of 25 SIGHUPs does not stop the milter" \
	|| rg_fail "the milter died on a SIGHUP burst"
sleep 5	# libmilter would have stopped within its 5 s poll by now
kill -0 "$pid" 2>/dev/null && rg_pass "still running 5 s after the burst" \
	|| rg_fail "the milter stopped after the SIGHUP burst"
rg_expect "still answering after the burst" "$(dave)" dave=accepted

# Monitor mode through a reload, with a connection open across it: the
# connection keeps the configuration it started with (enforce), a new
# one gets the new configuration (monitor: accepted, and logged as the
# refusal enforce mode would have given).
{ cat "$tmp/good.conf"; echo "mode = monitor"; } > "$tmp/monitor.conf"
cat > "$tmp/relay.lua" <<'EOF'
dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

-- run - a shell command; true when it exited 0 (Lua 5.1 and 5.2+)
local function run(cmd)
	local r = os.execute(cmd)
	return r == true or r == 0
end

local old = open()
session(old, "old.example.net", "192.0.2.8", "old.example.net")
mail(old, "<s@example.net>", SMFIR_CONTINUE, "MAIL before the reload")
rcpt(old, "<victim@remote.example>", SMFIR_REPLYCODE, "enforce: relay refused")

check(run("cp " .. os.getenv("RG_NEW_CONF") .. " " .. os.getenv("RG_CONF") ..
	  " && kill -HUP " .. os.getenv("RG_PID")), "reload requested")
local reloaded = false
for i = 1, 100 do
	if run("grep -q 'mode=monitor' " .. os.getenv("RG_LOG")) then
		reloaded = true
		break
	end
	mt.sleep(0.1)
end
check(reloaded, "reload into monitor mode logged")

rcpt(old, "<victim2@remote.example>", SMFIR_REPLYCODE,
     "open connection keeps its configuration: relay still refused")
local new = open()
session(new, "new.example.net", "192.0.2.9", "new.example.net")
mail(new, "<s@example.net>", SMFIR_CONTINUE, "MAIL after the reload")
rcpt(new, "<victim3@remote.example>", SMFIR_CONTINUE,
     "new connection, monitor mode: relay accepted")
mt.disconnect(new)
mt.disconnect(old)
EOF
if RG_SOCKET="inet:$port@127.0.0.1" RG_LUA_DIR=$LUA_DIR RG_PID=$pid \
    RG_CONF="$tmp/live.conf" RG_NEW_CONF="$tmp/monitor.conf" RG_LOG="$tmp/live.log" \
    timeout 60 "$MILTERTEST" -s "$tmp/relay.lua" > "$tmp/relay.out" 2>&1; then
	rg_pass "reload with a connection open: old one keeps enforce, new one monitors"
else
	rg_fail "reload with a connection open"; cat "$tmp/relay.out" >&2
fi
rg_expect "open connection after the reload: still an enforce refusal" \
	"$(grep -F 'to=<victim2@remote.example>' "$tmp/live.log" | grep -c 'action=reject rule=relay code=550')" 1
rg_expect "monitor mode: would-reject logged with the enforce reply" \
	"$(grep -F 'to=<victim3@remote.example>' "$tmp/live.log" | grep -c 'action=would-reject rule=relay code=550 ecode=5.7.1')" 1

kill -USR1 "$pid"
wait_log "$tmp/live.log" "stats: "
rg_expect_match "SIGUSR1 logs a stats line" "$(grep 'stats: ' "$tmp/live.log" | tail -1)" \
	'stats: connections=[0-9]+ live=0 accept=[0-9]+ reject=[0-9]+ .*; directory: file '

# ---- milter_timeout: a peer that stalls mid-command is let go -------------

# stalled_closed PORT SECONDS - "closed" when the daemon closes, within
# SECONDS, a connection that sent half a packet header and stalled (each
# such connection holds one of libmilter's worker threads), else "open"
stalled_closed() {
	local rc
	exec 5<>"/dev/tcp/127.0.0.1/$1" || { echo "no-connect"; return; }
	printf '\000\000' >&5
	timeout "$2" cat <&5 > /dev/null
	rc=$?
	exec 5<&-
	if [ "$rc" -eq 0 ]; then echo closed; else echo open; fi
}
rg_expect "default milter_timeout: a stalled connection stays open" \
	"$(stalled_closed "$port" 4)" open
port3=$(rg_free_port) || rg_fail "no free port"
sed "s/^socket = .*/socket = inet:$port3@127.0.0.1/" "$tmp/good.conf" > "$tmp/timeout.conf"
echo "milter_timeout = 2s" >> "$tmp/timeout.conf"
"$RG" -f -s -c "$tmp/timeout.conf" 2> "$tmp/timeout.log" &
pid3=$!
pids="$pids $pid3"
rg_wait_port "$port3" 10 || rg_fail "milter with milter_timeout did not start"
rg_expect "milter_timeout = 2s: a stalled connection is closed" \
	"$(stalled_closed "$port3" 8)" closed
kill -TERM "$pid3"

kill -TERM "$pid"
rg_wait_pid "$pid" 15
rg_expect "exit status 0 after SIGTERM" "$?" 0
rg_expect_match "stop logged" "$(tail -2 "$tmp/live.log")" 'stopping on signal TERM'

rg_done
