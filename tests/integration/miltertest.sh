#!/bin/bash
# tests/integration/miltertest.sh - the milter protocol, without an MTA
#
# Starts relayguard twice (an inet socket on a free port and a unix
# socket), runs the miltertest Lua scripts beside this file against them,
# and checks the daemon's log lines and audit rows.  A few cases that
# miltertest cannot produce (it fills in skipped SMTP steps, and it does
# not show reply texts) are sent as raw milter packets over bash's
# /dev/tcp: MAIL and RCPT with no HELO, RCPT with no MAIL (libmilter
# itself closes such a session), and the exact reply text on the wire,
# where a literal % must travel as %%.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
SQLITE3_CLI=${SQLITE3_CLI:-$(command -v sqlite3)}
rg_require "$MILTERTEST" "$SQLITE3_CLI" timeout
RG=$top_builddir/src/programs/relayguard
LUA_DIR=$top_srcdir/tests/integration/lua
[ -x "$RG" ] || { echo "FAIL: $RG not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-miltertest.XXXXXX")
pids=""

# cleanup - stop every daemon we started, remove the temp dir
cleanup() {
	rg_stop_pids 10 $pids
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
port2=$port
while [ "$port2" = "$port" ]; do
	port2=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
done

cat > "$tmp/recipients" <<'EOF'
alice@example.test
bob@example.test
postmaster@example.test
EOF
cat > "$tmp/base.conf" <<EOF
local_domains = example.test
directory = file:$tmp/recipients
trusted_networks = 192.0.2.200/32 2001:db8:1::/48
harvest_limit = 3
reply.relay = "550 5.7.1 Relaying denied: 100% of relays refused"
allow_root = yes
EOF
{ cat "$tmp/base.conf"; echo "socket = inet:$port@127.0.0.1";
  echo "audit_db = $tmp/inet.db"; } > "$tmp/inet.conf"
{ cat "$tmp/base.conf"; echo "socket = unix:$tmp/rg.sock";
  echo "socket_mode = 0600"; echo "audit_db = none"; } > "$tmp/unix.conf"
{ cat "$tmp/base.conf"; echo "socket = inet:$port2@127.0.0.1";
  echo "audit_db = $tmp/missing/audit.db"; echo "audit_failure = tempfail"; } \
	> "$tmp/auditfail.conf"

# start NAME - run relayguard -f -s with $tmp/NAME.conf, log in NAME.log
start() {
	"$RG" -c "$tmp/$1.conf" -f -s 2> "$tmp/$1.log" &
	pids="$pids $!"
	eval "pid_$1=$!"
}

start inet
start unix
start auditfail
rg_wait_port "$port" 10 || { cat "$tmp/inet.log"; echo "FAIL: inet milter did not start" >&2; exit 1; }
for i in $(seq 1 100); do [ -S "$tmp/rg.sock" ] && break; sleep 0.1; done
[ -S "$tmp/rg.sock" ] || { cat "$tmp/unix.log"; echo "FAIL: unix milter did not start" >&2; exit 1; }
rg_expect "unix socket mode" "$(stat -c %a "$tmp/rg.sock")" 600
rg_wait_port "$port2" 10 || { cat "$tmp/auditfail.log"; echo "FAIL: auditfail milter did not start" >&2; exit 1; }

# lua SCRIPT SOCKET [miltertest options] - run one script; 0 when it passed
lua() {
	local script=$1 sock=$2
	shift 2
	if RG_SOCKET=$sock RG_LUA_DIR=$LUA_DIR timeout 60 "$MILTERTEST" "$@" \
	    -s "$LUA_DIR/$script.lua" > "$tmp/$script.out" 2>&1; then
		rg_pass "miltertest $script.lua ($(grep -c '^ok:' "$tmp/$script.out") checks)"
	else
		rg_fail "miltertest $script.lua"
		sed 's/^/    /' "$tmp/$script.out" >&2
	fi
}

# logline PATTERN... - the inet log's lines matching every pattern
logline() {
	local out
	out=$(grep -F -- "$1" "$tmp/inet.log")
	shift
	while [ $# -gt 0 ]; do
		out=$(printf '%s\n' "$out" | grep -F -- "$1")
		shift
	done
	printf '%s' "$out"
}

# expect_log NAME PATTERN... - exactly one log line matches them all
expect_log() {
	local name=$1 n
	shift
	n=$(logline "$@" | grep -c .)
	rg_expect "log: $name" "$n" 1
}

inet="inet:$port@127.0.0.1"

lua basic "$inet"
expect_log "relay refused with the configured code" \
	"BASIC0001: session=" "stage=rcpt action=reject rule=relay code=550 ecode=5.7.1" \
	"client=client.example.net[192.0.2.10] helo=client.example.net auth=- from=<sender@example.net> to=<victim@remote.example>"
expect_log "percent hack traced" "rule=routing" "to=<victim%remote.example@example.test>" \
	"normalized=<victim@remote.example>" 'trace="percent hack'
expect_log "unknown user" "rule=unknown code=550 ecode=5.1.1" "dir=not-found"
expect_log "the MTA's own refusal, with what it said" \
	"stage=rcpt action=reject rule=mta code=550 ecode=5.7.1" "to=<blocked@example.test>" \
	'mta_reply="Recipient address rejected: Access denied"'

lua macros "$inet"
expect_log "no macros: NOQUEUE, unauthenticated" \
	"NOQUEUE: session=" "client=unknown[198.51.100.7]" "auth=- from=<s@example.net> to=<x@remote.example>" \
	"action=reject rule=relay"
expect_log "{auth_authen} relays, i is the queue id" \
	"AUTH0001: session=" "auth=bob" "action=accept rule=authenticated" "to=<x@remote.example>"

lua order "$inet"
expect_log "blank sender: second recipient refused" "from=<> to=<bob@example.test>" "rule=blank_sender"
expect_log "blank sender: accepted again after abort" "from=<> to=<bob@example.test>" "action=accept rule=local"

lua disconnect "$inet"
lua drop "$inet"
expect_log "harvest: the 4th unknown recipient drops the connection" \
	"to=<nobody4@example.test>" "action=drop rule=harvest code=421 ecode=4.7.0"
lua clients "$inet"
expect_log "IPv6 client" "client=v6.example.net[2001:db8:1::5]" "rule=trusted"
expect_log "unknown client family" "client=localhost[unknown]" "rule=relay"
expect_log "8-bit sender without SMTPUTF8" "rule=utf8 code=553 ecode=5.6.7"

lua unix "unix:$tmp/rg.sock"
n=$(grep -F "UNIX0001: session=" "$tmp/unix.log" | grep -c "rule=relay code=550")
rg_expect "log: relay refused over the unix socket" "$n" 1

lua auditfail "inet:$port2@127.0.0.1"
n=$(grep -F "stage=connect action=tempfail rule=audit_unavailable code=451 ecode=4.3.0" "$tmp/auditfail.log" |
	grep -c "client=c.example.net\[192.0.2.70\]")
rg_expect "log: audit_failure = tempfail defers with the rule audit_unavailable (451 4.3.0)" "$n" 1
kill -TERM "$pid_auditfail"

# ---- raw milter packets --------------------------------------------------

# raw_send CMD FORMAT - one packet; FORMAT is printf's (\0, \x..)
raw_send() {
	local len
	len=$(( $(printf "$2" | wc -c) + 1 ))
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((len >> 24 & 255)) \
		$((len >> 16 & 255)) $((len >> 8 & 255)) $((len & 255)))" >&3
	printf "%s$2" "$1" >&3
}

# raw_recv - one reply packet: "CMD DATA" with NULs shown as |
raw_recv() {
	local len
	len=$(timeout 10 dd bs=1 count=4 <&3 2>/dev/null | od -An -tu1)
	set -- $len
	[ $# -eq 4 ] || { echo "(no reply)"; return; }
	len=$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 ))
	timeout 10 dd bs=1 count="$len" <&3 2>/dev/null | tr '\0' '|'
}

# raw_negotiate - open fd 3 and negotiate protocol 6, offering everything
raw_negotiate() {
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	raw_send O '\x00\x00\x00\x06\x00\x00\x01\xff\x00\x1f\xff\xff'
	reply=$(raw_recv)
	rg_expect "raw: negotiation answered" "${reply:0:1}" O
}

# libmilter itself refuses RCPT before MAIL: it closes that session.
raw_negotiate
raw_send R '<victim@remote.example>\0'
rg_expect "raw: RCPT before MAIL: libmilter closes the session" "$(raw_recv)" "(no reply)"
exec 3>&-

# Connect (unknown address family), no HELO, MAIL, RCPT.
raw_negotiate
raw_send C 'raw.example\0U'
rg_expect "raw: connect of an unknown family accepted" "$(raw_recv)" c
raw_send M '<s@example.net>\0'
rg_expect "raw: MAIL without HELO accepted" "$(raw_recv)" c
raw_send R '<victim@remote.example>\0'
rg_expect "raw: relay refused with the configured code, % doubled on the wire" \
	"$(raw_recv)" "y550 5.7.1 Relaying denied: 100%% of relays refused|"
raw_send R '<alice@example.test>\0'
rg_expect "raw: local user accepted" "$(raw_recv)" c
raw_send Q ''
exec 3>&-
expect_log "raw session: unknown client address, no HELO" \
	"client=raw.example[unknown] helo=- auth=- from=<s@example.net> to=<victim@remote.example>" "rule=relay"

# A 60 KiB recipient (within libmilter's 64 KiB packet limit): refused as
# bad syntax, and its log line stays bounded.
raw_negotiate
raw_send C 'long.example\0U'
raw_recv > /dev/null
raw_send M '<s@example.net>\0'
raw_recv > /dev/null
long=$(head -c 61440 /dev/zero | tr '\0' 'a')
raw_send R "<$long@example.test>\\0"
rg_expect "raw: 60 KiB recipient refused as bad syntax" "$(raw_recv)" "y501 5.1.3 Bad address syntax|"
raw_send Q ''
exec 3>&-
line=$(grep -F 'client=long.example[unknown]' "$tmp/inet.log" | grep 'stage=rcpt')
rg_expect_match "log: 60 KiB recipient logged as one bounded line" "$(printf '%s\n' "$line" | wc -lc)" \
	'^ *1 +([0-9]{1,3}|[1-3][0-9]{3}|40[0-9][0-9])$'
rg_expect_match "log: the long recipient is cut with ..." "$line" 'rule=syntax code=501 .* to=<a+\.\.\.> dir=-$'

# ---- every connection freed, one audit row per verdict -------------------

kill -USR1 "$pid_inet"
for i in $(seq 1 50); do grep -q 'stats: ' "$tmp/inet.log" && break; sleep 0.1; done
stats=$(grep 'stats: ' "$tmp/inet.log" | tail -1)
rg_expect_match "stats line after SIGUSR1" "$stats" \
	'stats: connections=[0-9]+ live=0 accept=[0-9]+ reject=[0-9]+ tempfail=0 drop=1 would-reject=0'

verdicts=$(grep -c ' session=[0-9a-f]\{12\} stage=' "$tmp/inet.log")
kill -TERM "$pid_inet"
rg_wait_pid "$pid_inet" 15
rg_expect "inet daemon exit status after SIGTERM" "$?" 0
rows=$("$SQLITE3_CLI" "$tmp/inet.db" 'SELECT count(*) FROM verdicts')
rg_expect "audit: one row per logged verdict ($verdicts)" "$rows" "$verdicts"
rg_expect "audit: the drop row" "$("$SQLITE3_CLI" "$tmp/inet.db" \
	"SELECT action || ' ' || code || ' ' || rule FROM verdicts WHERE rcpt = '<nobody4@example.test>'")" \
	"drop 421 harvest"
rg_expect "audit: missing {daemon_name} and j give mta '-'" "$("$SQLITE3_CLI" "$tmp/inet.db" \
	"SELECT DISTINCT mta FROM verdicts WHERE queue_id = 'AUTH0001'")" "-"
rg_expect "audit: {daemon_name} recorded" "$("$SQLITE3_CLI" "$tmp/inet.db" \
	"SELECT DISTINCT mta FROM verdicts WHERE queue_id = 'BASIC0001'")" "smtpd-basic"

kill -TERM "$pid_unix"
for i in $(seq 1 150); do kill -0 "$pid_unix" 2>/dev/null || break; sleep 0.1; done
rg_expect "unix socket removed at exit" "$([ -e "$tmp/rg.sock" ] && echo present || echo removed)" removed

rg_done
