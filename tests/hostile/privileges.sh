#!/bin/bash
# tests/hostile/privileges.sh - what the daemon runs as and what it trusts
#
# The real daemon, each start with its own configuration:
#  - it binds a privileged port as root, then really runs as `user`:
#    real, effective, saved and file-system uid and gid are the user's,
#    the supplementary groups are the user's own (root's are gone), and
#    no capability is left;
#  - a unix socket gets socket_mode and belongs to the user; when the
#    user swaps it for a symlink or hard link to a root file between
#    bind and chown (an LD_PRELOAD shim does it at listen()), the daemon
#    refuses to start and the file keeps its owner and mode;
#  - the audit database is refused, with a message naming the file and
#    the fix, when its directory is world-writable without the sticky
#    bit or the file is world-writable (`relayguard -n` says the same); a
#    private directory of the user's and a sticky one are accepted; when
#    the user cannot write the directory or the file, the daemon starts
#    (audit_failure applies) and logs an error naming the user and fix.
# Without root only the permission checks that need no user switch run.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"

RG=$top_builddir/src/programs/relayguard
rg_require "$RG" timeout stat
USER_RG=nobody
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-priv.XXXXXX") || exit 1
chmod 755 "$tmp"
pids=""

# cleanup - stop every daemon started here, remove the temp dir
cleanup() {
	rg_stop_pids 5 $pids
	chmod -R u+rwx "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

printf 'alice@example.test\n' >"$tmp/recipients"
chmod 644 "$tmp/recipients"
root=0
[ "$(id -u)" = 0 ] && root=1

# conf NAME LINE... - write $tmp/NAME.conf: the common lines plus LINEs
conf() {
	local name=$1 l
	shift
	{
		echo "local_domains = example.test"
		echo "directory = file:$tmp/recipients"
		[ "$root" = 1 ] && echo "user = $USER_RG"
		for l in "$@"; do echo "$l"; done
	} >"$tmp/$name.conf"
	chmod 644 "$tmp/$name.conf"
}

# start NAME - start the daemon in the foreground on $tmp/NAME.conf; wait
# (10 s) for it to log that it started; sets PID; 1 if it did not
start() {
	local i
	"$RG" -f -s -c "$tmp/$1.conf" </dev/null >"$tmp/$1.log" 2>&1 &
	PID=$!
	pids="$pids $PID"
	for i in $(seq 1 100); do
		grep -q 'starting relayguard' "$tmp/$1.log" && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop - SIGTERM the last daemon, wait for it
stop() {
	kill -TERM "$PID" 2>/dev/null
	rg_wait_pid "$PID" 10
}

# refused NAME REGEX - the daemon must refuse to start on NAME.conf with
# a message matching REGEX, and -n must refuse it too
refused() {
	local out status
	out=$(timeout 20 "$RG" -f -s -c "$tmp/$1.conf" </dev/null 2>&1)
	status=$?
	rg_expect "$1: start refused (exit 1)" "$status" 1
	rg_expect_match "$1: message" "$out" "$2"
}

# status_field PID FIELD - a line of /proc/PID/status, values only
status_field() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

# --- user, groups, capabilities, privileged port, unix socket ----------------
if [ "$root" = 1 ]; then
	uid=$(id -u "$USER_RG"); gid=$(id -g "$USER_RG")
	groups=$(id -G "$USER_RG" | tr ' ' '\n' | sort -n | tr '\n' ' ')
	low=""
	for p in $(shuf -i 700-999 -n 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { low=$p; break; }
	done
	conf port "socket = inet:$low@127.0.0.1" "audit_db = none"
	if start port; then
		rg_pass "privileged port $low bound, then privileges dropped"
		rg_expect "Uid: real, effective, saved, fs" "$(status_field "$PID" Uid)" \
		    "$uid $uid $uid $uid"
		rg_expect "Gid: real, effective, saved, fs" "$(status_field "$PID" Gid)" \
		    "$gid $gid $gid $gid"
		rg_expect "supplementary groups: the user's own" \
		    "$(status_field "$PID" Groups | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" \
		    "$groups"
		rg_expect "no effective capability left" "$(status_field "$PID" CapEff)" 0000000000000000
		rg_expect "no permitted capability left" "$(status_field "$PID" CapPrm)" 0000000000000000
		if (exec 3<>"/dev/tcp/127.0.0.1/$low") 2>/dev/null; then
			rg_pass "listening on port $low as $USER_RG"
		else
			rg_fail "not listening on port $low"
		fi
		stop
	else
		rg_fail "start on privileged port $low: $(cat "$tmp/port.log")"
	fi

	# The socket's directory belongs to the user, as /run/relayguard
	# would: the daemon removes its socket at stop, after the drop.
	mkdir -p "$tmp/run"
	chown "$USER_RG" "$tmp/run"
	conf unix "socket = unix:$tmp/run/rg.sock" "socket_mode = 0600" "audit_db = none"
	if start unix; then
		rg_expect "unix socket: mode from socket_mode" "$(stat -c %a "$tmp/run/rg.sock")" 600
		rg_expect "unix socket: owned by the user" "$(stat -c %U "$tmp/run/rg.sock")" "$USER_RG"
		rg_expect "unix socket: is a socket" "$(stat -c %F "$tmp/run/rg.sock")" socket
		stop
	else
		rg_fail "start on a unix socket: $(cat "$tmp/unix.log")"
	fi
	[ -e "$tmp/run/rg.sock" ] && rg_fail "unix socket left behind at stop" ||
		rg_pass "unix socket removed at stop"

	# The symlink attack: the user owns the socket's directory and swaps
	# the socket for a link to a root file between bind and chown (the
	# shim does it at listen(), every time).  Root must not hand the
	# file over: the daemon refuses to start and the file keeps its owner
	# and mode.
	SHIM=$top_builddir/tests/hostile/swap-socket.so
	for kind in symlink hardlink; do
		victim=$tmp/victim-$kind
		printf 'root only\n' >"$victim"
		chmod 0640 "$victim"
		rm -f "$tmp/run/rg.sock" "$tmp/run/rg.sock.moved"
		conf swap "socket = unix:$tmp/run/rg.sock" "socket_mode = 0666" "audit_db = none"
		out=$(RG_SWAP_KIND=$kind RG_SWAP_TARGET=$victim LD_PRELOAD=$SHIM \
		    timeout 20 "$RG" -f -s -c "$tmp/swap.conf" </dev/null 2>&1)
		status=$?
		[ -e "$tmp/run/rg.sock.moved" ] && rg_pass "$kind: the shim swapped the socket" ||
			rg_fail "$kind: the shim did not swap the socket: $out"
		rg_expect "$kind: start refused (exit 1)" "$status" 1
		rg_expect_match "$kind: message" "$out" \
		    "socket $tmp/run/rg.sock: replaced by .* between bind and chown"
		rg_expect "$kind: victim still owned by root" "$(stat -c %U "$victim")" root
		rg_expect "$kind: victim mode unchanged" "$(stat -c %a "$victim")" 640
	done
	rm -f "$tmp/run/rg.sock" "$tmp/run/rg.sock.moved"
fi

# --- the audit database: who may replace or rewrite it -----------------------
port=$(rg_free_port)

# A world-writable directory without the sticky bit: anyone could swap
# the database for another.
mkdir -m 0777 "$tmp/ww" && chmod 0777 "$tmp/ww"
conf ww "socket = inet:$port@127.0.0.1" "audit_db = $tmp/ww/audit.db"
refused ww "audit_db $tmp/ww/audit.db: directory $tmp/ww is world-writable \\(mode 0777\\).*chmod o-w"
out=$("$RG" -n -c "$tmp/ww.conf" 2>&1)
rg_expect "ww: -n refuses too" "$?" 1
rg_expect_match "ww: -n message" "$out" "world-writable"
[ -e "$tmp/ww/audit.db" ] && rg_fail "ww: database created anyway" ||
	rg_pass "ww: nothing created"

# The same with the sticky bit (/tmp-like): accepted.
mkdir "$tmp/sticky" && chmod 1777 "$tmp/sticky"
conf sticky "socket = inet:$port@127.0.0.1" "audit_db = $tmp/sticky/audit.db"
if start sticky; then
	rg_pass "sticky world-writable directory accepted"
	stop
else
	rg_fail "sticky directory: $(cat "$tmp/sticky.log")"
fi

# A missing directory: -n (judging as the user it runs as, when no user
# is set) warns and still passes; the daemon itself would start with
# audit_failure in force.
if [ "$root" = 0 ]; then
	conf missing "socket = inet:$port@127.0.0.1" "audit_db = $tmp/missing/audit.db"
	out=$("$RG" -n -c "$tmp/missing.conf" 2>&1)
	rg_expect "missing: -n exit 0" "$?" 0
	rg_expect_match "missing: -n warns" "$out" "warning: audit_db $tmp/missing/audit.db: directory $tmp/missing: No such file"
fi

# A world-writable database file in a good directory.
mkdir "$tmp/wwfile"
[ "$root" = 1 ] && chown "$USER_RG" "$tmp/wwfile"
: >"$tmp/wwfile/audit.db"
chmod 0666 "$tmp/wwfile/audit.db"
conf wwfile "socket = inet:$port@127.0.0.1" "audit_db = $tmp/wwfile/audit.db"
refused wwfile "audit_db $tmp/wwfile/audit.db is world-writable \\(mode 0666\\)"

if [ "$root" = 1 ]; then
	# A root-owned directory the user cannot write: the daemon starts
	# (audit_failure decides, as for a disk that fills up later) but
	# says why by name, instead of SQLite's "unable to open database
	# file"; with audit_failure = tempfail, mail is deferred meanwhile.
	mkdir -m 0755 "$tmp/rootdir"
	conf rootdir "socket = inet:$port@127.0.0.1" "audit_db = $tmp/rootdir/audit.db" \
	    "audit_failure = tempfail"
	if start rootdir; then
		rg_pass "rootdir: starts (audit_failure applies)"
		stop
	else
		rg_fail "rootdir: did not start: $(cat "$tmp/rootdir.log")"
	fi
	rg_expect_match "rootdir: the error names directory, user and fix" \
	    "$(grep -m1 'error: audit_db' "$tmp/rootdir.log")" \
	    "error: audit_db $tmp/rootdir/audit.db: directory $tmp/rootdir is not writable by $USER_RG \\(uid $uid\\).*chown.*audit_failure = tempfail"
	# -n runs as root: it cannot judge the user's access and does not.
	out=$("$RG" -n -c "$tmp/rootdir.conf" 2>&1)
	rg_expect "rootdir: -n (as root) exit 0" "$?" 0
	rg_expect "rootdir: -n (as root) does not judge the user's access" \
	    "$(printf '%s\n' "$out" | grep -c 'not writable')" 0

	# A database the user cannot write in its own directory.
	mkdir -m 0750 "$tmp/rofile"
	chown "$USER_RG" "$tmp/rofile"
	: >"$tmp/rofile/audit.db"
	chmod 0644 "$tmp/rofile/audit.db"
	conf rofile "socket = inet:$port@127.0.0.1" "audit_db = $tmp/rofile/audit.db"
	if start rofile; then
		stop
	fi
	rg_expect_match "rofile: the error names file and user" \
	    "$(grep -m1 'error: audit_db' "$tmp/rofile.log")" \
	    "audit_db $tmp/rofile/audit.db is not readable and writable by $USER_RG.*audit_failure = continue"

	# The user's own private directory: the database is created there,
	# owned by the user, not world-readable beyond the umask.
	mkdir -m 0750 "$tmp/own"
	chown "$USER_RG:$(id -gn "$USER_RG")" "$tmp/own"
	conf own "socket = inet:$port@127.0.0.1" "audit_db = $tmp/own/audit.db"
	if start own; then
		rg_pass "own directory: started"
		stop
		rg_expect "own directory: database owned by the user" \
		    "$(stat -c %U "$tmp/own/audit.db" 2>/dev/null)" "$USER_RG"
	else
		rg_fail "own directory: $(cat "$tmp/own.log")"
	fi
fi
rg_done
