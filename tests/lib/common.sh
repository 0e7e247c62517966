# tests/lib/common.sh - shared helpers for the shell tests (sourced, not run)
#
# Conventions: a test prints what it checks, exits 0 on success, 1 on
# failure, 77 when skipped.  A missing tool is a failure unless
# RELAYGUARD_SKIP_MISSING=1: the project's test command installs every
# tool (./autogen.sh --deps), so a missing one means a broken set-up, and
# a silently skipped test would hide it.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." 2>/dev/null && pwd)}"
: "${top_builddir:=$top_srcdir}"

rg_failures=0
rg_checks=0

# A test stopped from outside (tests/harness/run-bounded.sh's time limit sends
# SIGTERM, make's interrupt SIGINT) still runs its EXIT trap, which stops
# what it started.  A test may set its own.
trap 'exit 1' INT TERM HUP

# rg_fail MESSAGE - record a failed check and go on
rg_fail() { echo "FAIL: $*" >&2; rg_failures=$((rg_failures + 1)); rg_checks=$((rg_checks + 1)); }

# rg_pass MESSAGE - record a passed check
rg_pass() { echo "ok: $*"; rg_checks=$((rg_checks + 1)); }

# rg_expect NAME GOT WANT - compare two strings
rg_expect() {
	if [ "$2" = "$3" ]; then rg_pass "$1"; else rg_fail "$1: got '$2', want '$3'"; fi
}

# rg_expect_match NAME TEXT REGEX - TEXT must match the extended regex
rg_expect_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then rg_pass "$1"
	else rg_fail "$1: '$2' does not match /$3/"; fi
}

# rg_step [-q] TEXT - announce the step the test is in: printed as
# "# TEXT" (not with -q, as the libraries use it), and recorded for
# tests/harness/run-bounded.sh, which names the last step when the test runs out
# of time
rg_step() {
	if [ "${1:-}" = -q ]; then shift; else echo "# $*"; fi
	[ -n "${RG_TEST_STATE:-}" ] &&
		printf '%s %s\n' "${EPOCHREALTIME:-$(date +%s)}" "$*" >>"$RG_TEST_STATE/steps"
	return 0
}

# rg_log FILE... - name logs whose tails tests/harness/run-bounded.sh prints when
# the test runs out of time (it also finds *.log under the test's TMPDIR)
rg_log() {
	[ -n "${RG_TEST_STATE:-}" ] || return 0
	local f
	for f in "$@"; do
		case "$f" in
		/*) ;;
		*) f=$PWD/$f ;;
		esac
		printf '%s\n' "$f" >>"$RG_TEST_STATE/logs"
	done
}

# rg_require TOOL... - fail (or skip when allowed) unless every tool exists
rg_require() {
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "$t" ]; then
			if [ "${RELAYGUARD_SKIP_MISSING:-0}" = 1 ]; then
				echo "SKIP: $t not installed"; exit 77
			fi
			echo "FAIL: $t not installed (run ./autogen.sh --deps)" >&2
			exit 1
		fi
	done
}

# rg_free_port - print a TCP port on 127.0.0.1 that nothing uses.  It is
# picked below the kernel's ephemeral range: a port inside it can be
# taken at any moment as the local end of some outgoing connection.
rg_free_port() {
	local lo p i
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	case "$lo" in
	''|*[!0-9]*) lo=32768 ;;
	esac
	[ "$lo" -gt 12000 ] || lo=42000
	for i in $(seq 1 200); do
		p=$(( lo - 10000 + RANDOM % 9999 ))
		if command -v ss >/dev/null 2>&1; then
			[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
		fi
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	return 1
}

# rg_wait_port PORT [SECONDS] - wait until something listens on 127.0.0.1:PORT
rg_wait_port() {
	local i limit=$(( ${2:-20} * 10 ))
	for i in $(seq 1 "$limit"); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# rg_wait_gone PID SECONDS - wait until process PID has exited; 1 if it
# is still there when the time is up
rg_wait_gone() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# rg_wait_pid PID [SECONDS] - wait (default 15 s) for the background job
# PID to exit and return its exit status; when it is still running then,
# kill it (SIGKILL), say so, and return its status (137)
rg_wait_pid() {
	if ! rg_wait_gone "$1" "${2:-15}"; then
		echo "process $1 still running after ${2:-15} s: killed" >&2
		kill -9 "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# rg_stop_pids SECONDS PID... - SIGTERM to every PID, then wait up to
# SECONDS for each and SIGKILL what is still there (a test's cleanup)
rg_stop_pids() {
	local limit=$1 p
	shift
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		rg_wait_gone "$p" "$limit" || kill -KILL "$p" 2>/dev/null
	done
}

# rg_done - print the summary line and exit with the right status
rg_done() {
	echo "$((rg_checks - rg_failures)) passed, $rg_failures failed"
	[ "$rg_failures" -eq 0 ]
	exit $?
}
