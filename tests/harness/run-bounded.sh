#!/bin/bash
# tests/harness/run-bounded.sh - run one test under a hard time limit and leave
# nothing of it running
#
#   run-bounded.sh [INTERPRETER...] TEST
#
# make check runs every test through this (LOG_COMPILER and
# SH_LOG_COMPILER in Makefile.am): automake appends the test's path to the
# command.  The wrapper
#  - takes TEST's limit from tests/harness/time-limits (its "default" line for a
#    test not listed), times RG_TEST_TIME_SCALE (check-sanitizers sets it);
#    RG_TEST_LIMIT=SECONDS overrides both;
#  - runs TEST in a session (and so a process group) of its own, with a
#    private TMPDIR and RG_TEST_STATE (the file rg_step in tests/lib/common.sh
#    writes the test's steps to, rg_log the logs it wants shown);
#  - when the limit expires: prints the step the test was in, its
#    processes and the tails of its logs, sends SIGTERM to the process
#    group (the test's traps stop what it started), SIGKILL after
#    RG_TEST_GRACE seconds (15), and fails;
#  - then, timed out or not, kills whatever the test left running: any
#    process whose environment, command line or working directory holds
#    the private directory's path (Postfix's daemons leave the session
#    and clean their environment, but keep MAIL_CONFIG and a queue under
#    it).  A test that left something behind fails;
#  - ends the log with "run-bounded: TEST: N.N s (limit L s)", which
#    tests/harness/durations.sh reads for make check's closing table.
# Exit status: the test's, or 1 (timed out, or left processes behind).

set -u

rb_me=run-bounded
rb_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
rb_limits=${RG_TEST_LIMITS:-$rb_srcdir/tests/harness/time-limits}
rb_grace=${RG_TEST_GRACE:-15}

[ $# -ge 1 ] || { echo "usage: $0 [INTERPRETER...] TEST" >&2; exit 99; }

# rb_name PATH - the test's name as tests/harness/time-limits spells it
rb_name() {
	local p=$1
	[ -n "${srcdir:-}" ] && p=${p#"$srcdir"/}
	p=${p#"$rb_srcdir"/}
	while [ "${p#./}" != "$p" ]; do p=${p#./}; done
	echo "$p"
}

# rb_limit NAME - the limit in whole seconds
rb_limit() {
	if [ -n "${RG_TEST_LIMIT:-}" ]; then echo "$RG_TEST_LIMIT"; return; fi
	awk -v t="$1" -v scale="${RG_TEST_TIME_SCALE:-1}" '
	/^[ \t]*(#|$)/ { next }
	$1 == "default" { d = $2 }
	$1 == t { l = $2 }
	END {
		v = (l != "" ? l : d)
		if (v == "") v = 120
		v = v * scale
		printf "%d\n", (v == int(v) ? v : int(v) + 1)
	}' "$rb_limits" 2>/dev/null || echo 120
}

# rb_now - seconds since the epoch, with microseconds
rb_now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }

# rb_since T - seconds from T to now, one decimal
rb_since() { awk -v a="$1" -v b="$(rb_now)" 'BEGIN { printf "%.1f\n", b - a }'; }

# rb_pids - the processes of this test: its environment, command line or
# working directory holds the private directory's path
rb_pids() {
	{
		# The pattern comes through a pipe: grep's own command line
		# must not match.
		grep -lsF -f <(echo "$rb_state") /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null |
		    sed -n 's|^/proc/\([0-9]*\)/.*|\1|p'
		find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$rb_state" -o \
		    -lname "$rb_state/*" \) 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/.*|\1|p'
	} | sort -un | grep -vx -e "$$" -e "$BASHPID"
	return 0
}

# rb_ps PIDS... - one line per process: pid, state, wait channel, age, command
rb_ps() {
	[ $# -gt 0 ] && ps -o pid=,stat=,wchan:20=,etime=,args= -p "$(echo "$@" | tr ' ' ,)" 2>/dev/null |
	    cut -c1-200 | sed 's/^/    /'
}

# rb_newest N FIND_TEST... - the N newest non-empty files under the
# test's TMPDIR that match
rb_newest() {
	local n=$1
	shift
	find "$rb_state/tmp" -type f \( "$@" \) -size +0 -printf '%T@ %p\n' 2>/dev/null |
	    sort -rn | cut -d' ' -f2- | head -n "$n"
}

# rb_report - what the test was doing: its steps, processes, log tails
rb_report() {
	local f n=0 pids
	echo "$rb_me: steps the test announced (seconds from its start):"
	if [ -s "$rb_state/steps" ]; then
		awk -v t0="$rb_t0" '{ s = $1; $1 = ""; printf "    %6.1f %s\n", s - t0, substr($0, 2) }' \
		    "$rb_state/steps" | tail -n 15
		echo "$rb_me: it was in step: $(tail -n 1 "$rb_state/steps" | cut -d' ' -f2-)"
	else
		echo "    (none: the test calls no rg_step)"
	fi
	pids=$(rb_pids)
	echo "$rb_me: its processes:"
	# shellcheck disable=SC2086
	rb_ps $pids
	# Logs the test named (rg_log), the newest logs under its TMPDIR,
	# then its two newest outputs (an SMTP transcript, a start.out).
	{
		[ -s "$rb_state/logs" ] && cat "$rb_state/logs"
		rb_newest 8 -name '*.log' -o -name maillog
		rb_newest 2 -name '*.out' -o -name '*.err'
	} | awk '!seen[$0]++' | while IFS= read -r f; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		[ "$n" -le 10 ] || break
		echo "$rb_me: ----- tail of $f"
		tail -n 25 "$f" | cut -c1-300
	done
}

# rb_sweep GRACE - wait up to GRACE seconds for the test's processes to end
# on their own, then SIGTERM and (2 s later) SIGKILL what is left; prints
# the ones it had to kill
rb_sweep() {
	local pids i
	for i in $(seq 1 $(($1 * 10))); do
		pids=$(rb_pids)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	pids=$(rb_pids)
	[ -n "$pids" ] || return 0
	echo "$rb_me: still running after the test ended, killed:"
	# shellcheck disable=SC2086
	rb_ps $pids
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	for i in $(seq 1 50); do
		pids=$(rb_pids)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086
		[ "$i" -ge 20 ] && kill -KILL $pids 2>/dev/null
		sleep 0.1
	done
	pids=$(rb_pids)
	if [ -n "$pids" ]; then
		echo "$rb_me: could not kill:"
		# shellcheck disable=SC2086
		rb_ps $pids
	fi
	return 1
}

# rb_stop_group - SIGTERM to the test's process group, SIGKILL after the
# grace period
rb_stop_group() {
	local i
	kill -TERM -- "-$rb_pgid" 2>/dev/null
	for i in $(seq 1 $((rb_grace * 10))); do
		kill -0 "$rb_child" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$rb_pgid" 2>/dev/null
	wait "$rb_child" 2>/dev/null
}

# rb_finish STATUS - sweep, time line, clean up, exit
rb_finish() {
	local status=$1
	trap - INT TERM HUP
	kill "$rb_timer" 2>/dev/null
	if ! rb_sweep "$rb_sweep_grace"; then
		echo "$rb_me: FAIL: $rb_test left processes running (see above)"
		[ "$status" -eq 0 ] || [ "$status" -eq 77 ] && status=1
	fi
	echo "$rb_me: $rb_test: $(rb_since "$rb_t0") s (limit $rb_limit s)"
	if [ "${RG_TEST_KEEP:-0}" = 1 ]; then
		echo "$rb_me: kept $rb_state"
	else
		rm -rf "$rb_state"
	fi
	exit "$status"
}

rb_test=$(rb_name "${!#}")
rb_limit=$(rb_limit "$rb_test")
rb_state=$(mktemp -d "${TMPDIR:-/tmp}/rg-test.XXXXXX") || exit 99
# Postfix and Sendmail children run as other users, and create their
# own temp dirs under TMPDIR.
chmod 755 "$rb_state"
mkdir -m 1777 "$rb_state/tmp" || exit 99
: >"$rb_state/steps"
rb_t0=$(rb_now)
rb_sweep_grace=${RG_TEST_SWEEP_GRACE:-5}
rb_timer=""

# The test leads a session of its own: its process group is its pid,
# whatever setsid does.  It does not inherit the wrapper's TMPDIR, nor
# its standard input: a command that reads one by mistake (a terminal,
# CI's pipe) gets end of file instead of waiting for ever.
env RG_TEST_STATE="$rb_state" TMPDIR="$rb_state/tmp" \
    setsid -w bash -c 'echo $$ >"$0/pgid"; exec "$@"' "$rb_state" "$@" </dev/null &
rb_child=$!
rb_pgid=""
for _ in $(seq 1 100); do
	rb_pgid=$(cat "$rb_state/pgid" 2>/dev/null)
	[ -n "$rb_pgid" ] && break
	kill -0 "$rb_child" 2>/dev/null || break
	sleep 0.05
done
[ -n "$rb_pgid" ] || rb_pgid=$rb_child

trap 'echo "$rb_me: interrupted: stopping $rb_test"; rb_stop_group; rb_finish 1' INT TERM HUP

sleep "$rb_limit" &
rb_timer=$!
rb_done=""
wait -n -p rb_done "$rb_child" "$rb_timer"
rb_status=$?
if [ "$rb_done" = "$rb_child" ]; then
	rb_finish "$rb_status"
fi

echo "$rb_me: TIMEOUT: $rb_test still running after its limit of $rb_limit s" \
    "(${RG_TEST_LIMIT:+RG_TEST_LIMIT, not }tests/harness/time-limits): killing it"
rb_report
rb_stop_group
rb_finish 1
