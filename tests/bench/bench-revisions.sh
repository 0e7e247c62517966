#!/bin/bash
# tests/bench/bench-revisions.sh - make bench-revisions BASE=REV: the
# working tree's speed against earlier revisions, measured in one run
#
# Usage: bench-revisions.sh REV...
#
# A change that must not cost speed (a refactor) is measured against the
# revision before it on the same machine at the same time; figures from
# another day say nothing at a few per cent.  A benchmark program that
# links the library cannot serve every revision (the API changes), so
# each revision is measured by what it has itself and from the outside:
#   engine  that revision's own tests/bench/bench-policy (RCPT decisions
#           per second; the program is the same in every revision since
#           0.1.0, only the library under it differs), and its naive
#           strcmp baseline, code no revision touches: the machine's noise
#   milter  the working tree's tests/bench/milter-load against that
#           revision's daemon (unix socket, 10 sessions, 5 transactions of
#           5 recipients a connection), with the same configuration
# Each REV and the working tree (tracked and untracked files as they
# are now, not HEAD) is copied into its own directory under the temp dir
# and built there the same way: ./autogen.sh, ./configure -q (CFLAGS from
# the environment), make of the daemon (milter/relayguard in the old
# layout, src/programs/relayguard in the new) and tests/bench/bench-policy
# (a full make first where the two targets alone do not build).  Then
# ROUNDS rounds, the order of the revisions reversed every other round so
# that the machine's drift favours none; every daemon runs throughout,
# idle while another is measured.  Reported: each revision's median round
# and spread (min..max), and against each base the round-by-round ratios
# of the working tree, with tests/lib/stats.sh's verdict: "met" only when
# every round is at least as fast, "not decided" when the spread overlaps
# the gap.
#
# Environment: ROUNDS (5), SECS (3: seconds of milter-load a round),
# POLICY_SECS (0.3: bench-policy's seconds per measurement; it keeps the
# best of 3), AUDIT (none, or sqlite: audit_db in the temp dir), JOBS (2:
# make -j), top_srcdir (a git checkout), top_builddir (milter-load).
# Answers that differ from what the working tree's relayguard must say
# are counted, not fatal, for a base (0.1.0 accepts unqualified
# recipients that later revisions refuse): the work differs by that
# share.  A protocol error, or any mismatch of the working tree, fails.
# The temp dir (builds included) goes, and every daemon is stopped by its
# pid, by tests/lib/mta.sh's exit trap.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
if [ $# -lt 1 ]; then
	echo "usage: bench-revisions.sh REV... (make bench-revisions BASE='REV...')" >&2
	exit 2
fi
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/stats.sh"

LOAD=$top_builddir/tests/bench/milter-load
rg_require "$LOAD" git
ROUNDS=${ROUNDS:-5} SECS=${SECS:-3} POLICY_SECS=${POLICY_SECS:-0.3}
AUDIT=${AUDIT:-none} JOBS=${JOBS:-2} USERS=10000
git -C "$top_srcdir" rev-parse -q --verify HEAD >/dev/null ||
	{ echo "bench-revisions: $top_srcdir is not a git checkout" >&2; exit 1; }
tmp=$(rg_e2e_tmpdir)

# LABEL[i], DIR[i]: revision i; the bases first, the working tree last
declare -a LABEL DIR RG BP
n=0
for rev in "$@"; do
	sha=$(git -C "$top_srcdir" rev-parse -q --verify "$rev^{commit}") ||
		{ echo "bench-revisions: no such revision: $rev" >&2; exit 1; }
	LABEL[n]=$(git -C "$top_srcdir" log -1 --format='%h' "$sha")
	DIR[n]=$tmp/rev.$n
	mkdir "${DIR[n]}"
	git -C "$top_srcdir" archive "$sha" | tar -x -C "${DIR[n]}" || exit 1
	n=$((n + 1))
done
W=$n
LABEL[W]="working tree"
DIR[W]=$tmp/rev.$W
mkdir "${DIR[W]}"
# The files git tracks (less those deleted) and those it would add.
( cd "$top_srcdir" &&
	git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf - ) | tar -x -C "${DIR[W]}" || exit 1
head=$(git -C "$top_srcdir" log -1 --format='%h' HEAD)
dirty=$(git -C "$top_srcdir" status --porcelain | head -n 1)
WHAT="HEAD $head${dirty:+ with uncommitted changes}"

# build I - build revision I in DIR[I]; sets RG[I] and BP[I]
build() {
	local i=$1 d=${DIR[$1]} prog
	if [ -f "$d/src/programs/relayguard.c" ]; then prog=src/programs/relayguard
	elif [ -f "$d/milter/relayguard.c" ]; then prog=milter/relayguard
	else echo "bench-revisions: ${LABEL[i]}: no relayguard.c" >&2; exit 1
	fi
	# The outer make's flags and variables (BASE=...) are not this one's.
	if ! ( cd "$d" && unset MAKEFLAGS MFLAGS MAKELEVEL &&
		timeout 600 ./autogen.sh && timeout 600 ./configure -q &&
		{ timeout 900 make -j"$JOBS" "$prog" tests/bench/bench-policy ||
		  { timeout 900 make -j"$JOBS" &&
		    timeout 900 make -j"$JOBS" "$prog" tests/bench/bench-policy; }; }
	     ) >"$tmp/build.$i.log" 2>&1; then
		echo "bench-revisions: ${LABEL[i]} did not build:" >&2
		tail -n 30 "$tmp/build.$i.log" >&2
		exit 1
	fi
	RG[i]=$d/$prog BP[i]=$d/tests/bench/bench-policy
}

# conf I - the daemon's configuration; the same for every revision, but
# client memory (client_track_size, none before it existed) is off
conf() {
	echo "local_domains = example.org, example.net"
	echo "local_addresses = 192.0.2.25"
	echo "directory = file:$tmp/recipients"
	echo "harvest_limit = 0"
	if [ "$AUDIT" = sqlite ]; then echo "audit_db = $tmp/audit.$1.db"
	else echo "audit_db = none"; fi
	grep -rqs --include='*.c' '"client_track_size"' "${DIR[$1]}/src" "${DIR[$1]}/milter" &&
		echo "client_track_size = 0"
}

# policy_run I - one bench-policy of revision I; ENG[I], NAIVE[I] grow
declare -A ENG NAIVE
policy_run() {
	local i=$1 out e nv
	out=$(timeout 120 "${BP[i]}" "$POLICY_SECS") ||
		{ echo "bench-policy of ${LABEL[i]} failed: $out" >&2; exit 1; }
	e=$(printf '%s\n' "$out" | sed -n 's/^RESULT engine_per_s=//p')
	nv=$(printf '%s\n' "$out" | sed -n 's/^RESULT naive_per_s=//p')
	[ -n "$e" ] && [ -n "$nv" ] ||
		{ echo "bench-policy of ${LABEL[i]}: no RESULT lines: $out" >&2; exit 1; }
	ENG[$i]="${ENG[$i]:-} $e" NAIVE[$i]="${NAIVE[$i]:-} $nv"
}

# load_run I - one milter-load round against revision I's daemon
declare -A RATE P50 P99 CPU MM SENT NEG
load_run() {
	local i=$1 out c0 c1 rate p50 p99 p999 rcpts mm err
	c0=$(cpu_ticks "${PID[i]}")
	# Exit status 1 means mismatches, counted below.
	out=$(timeout 120 "$LOAD" -q -s "${SOCK[i]}" -c 10 -k 5 -m 5 -t "$SECS" -u "$USERS")
	c1=$(cpu_ticks "${PID[i]}")
	read -r rate p50 p99 p999 rcpts mm err <<<"$(load_result "$out")"
	[ -n "$rate" ] || { echo "milter-load against ${LABEL[i]} failed: $out" >&2; exit 1; }
	[ "$err" = 0 ] || { echo "milter-load against ${LABEL[i]}: $err protocol errors: $out" >&2; exit 1; }
	[ "$i" != "$W" ] || [ "$mm" = 0 ] ||
		{ echo "milter-load against the working tree: $mm mismatches: $out" >&2; exit 1; }
	RATE[$i]="${RATE[$i]:-} $rate" P50[$i]="${P50[$i]:-} $p50" P99[$i]="${P99[$i]:-} $p99"
	CPU[$i]="${CPU[$i]:-} $(cpu_us $((c1 - c0)) "$rcpts")"
	MM[$i]=$(( ${MM[$i]:-0} + mm )) SENT[$i]=$(( ${SENT[$i]:-0} + rcpts ))
	NEG[$i]=$(printf '%s\n' "$out" | sed -n 's/^NEGOTIATED noreply=//p')
}

t0=$(date +%s)
for i in $(seq 0 "$W"); do build "$i"; done
t_built=$(date +%s)
"$LOAD" -P -u "$USERS" >"$tmp/recipients"
declare -a PID SOCK
for i in $(seq 0 "$W"); do
	RG_RELAYGUARD=${RG[i]}
	rg_start_relayguard "$(conf "$i")" "unix:$tmp/rev.$i.sock" >&2 || exit 1
	PID[i]=$RG_MILTER_PID SOCK[i]=$RG_MILTER_SOCKET
done

load0=$(load_avg)
forward=$(seq 0 "$W") backward=$(seq "$W" -1 0)
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order=$forward; else order=$backward; fi
	for i in $order; do policy_run "$i"; done
	for i in $order; do load_run "$i"; done
done
load1=$(load_avg)
for i in $(seq 0 "$W"); do
	RG_MILTER_PID=${PID[i]} rg_stop_relayguard
done
t_end=$(date +%s)

echo "relayguard revisions against each other, measured in one run:"
for i in $(seq 0 "$W"); do
	if [ "$i" = "$W" ]; then
		printf '  %-13s %s\n' "${LABEL[i]}" "$WHAT"
	else
		printf '  %-13s %s\n' "base ${LABEL[i]}" \
			"$(git -C "$top_srcdir" log -1 --format='%s' "${LABEL[i]}" | cut -c1-60)"
	fi
done
echo "each built in its own directory the same way (./configure -q, CFLAGS:"
echo "${CFLAGS:-default}); $ROUNDS rounds, the order of the revisions reversed every"
echo "other round; figures: the median round, the spread over rounds in brackets."
echo "The machine may be shared (1-minute load average at start / end: $load0 /"
echo "$load1): read the round-by-round ratios, not the absolute figures; a"
echo "verdict is \"met\" only when every round is at least as fast as the base."
echo
echo "engine: each revision's own tests/bench/bench-policy $POLICY_SECS (RCPT"
echo "decisions/s of policy_decide + policy_commit, file directory of 10,000;"
echo "the naive strcmp baseline is the same code in every revision: its ratios"
echo "show what the machine alone does to a figure)"
printf '%-14s %12s %-23s %12s %-23s\n' "revision" "decisions/s" "[spread]" "naive/s" "[spread]"
for i in $(seq 0 "$W"); do
	# shellcheck disable=SC2086
	printf '%-14s %12.0f %-23s %12.0f %-23s\n' "${LABEL[i]}" "$(median ${ENG[$i]})" \
		"[$(lo ${ENG[$i]})..$(hi ${ENG[$i]})]" "$(median ${NAIVE[$i]})" \
		"[$(lo ${NAIVE[$i]})..$(hi ${NAIVE[$i]})]"
done
echo
echo "milter: the working tree's tests/bench/milter-load -q -s unix:SOCKET -c 10"
echo "-k 5 -m 5 -t $SECS -u $USERS against each revision's daemon (relayguard -f -s;"
echo "local_domains = example.org, example.net; local_addresses = 192.0.2.25;"
echo "directory = file:RECIPIENTS; harvest_limit = 0; audit_db = $AUDIT;"
echo "client_track_size = 0 where the revision has client memory)"
printf '%-14s %8s %-15s %7s %8s %7s %11s %s\n' "revision" "rcpt/s" "[spread]" \
	"p50 us" "p99 us" "cpu us" "differ" "noreply"
for i in $(seq 0 "$W"); do
	# shellcheck disable=SC2086
	printf '%-14s %8.0f %-15s %7.0f %8.0f %7s %10.1f%% %s\n' "${LABEL[i]}" \
		"$(median ${RATE[$i]})" "[$(lo ${RATE[$i]})..$(hi ${RATE[$i]})]" \
		"$(median ${P50[$i]})" "$(median ${P99[$i]})" "$(median ${CPU[$i]})" \
		"$(awk -v m="${MM[$i]}" -v n="${SENT[$i]}" 'BEGIN { print n ? 100 * m / n : 0 }')" \
		"${NEG[$i]:-(none)}"
done
echo "(cpu us: the daemon's CPU time per recipient; differ: answers other than"
echo " the working tree's relayguard must give, all rounds; noreply: the steps"
echo " the daemon asked the MTA not to wait for)"
echo
echo "the working tree against each base, round by round:"
for b in $(seq 0 $((W - 1))); do
	echo "against ${LABEL[b]}:"
	for fig in ENG:engine RATE:milter; do
		declare -n list=${fig%%:*}
		rs=$(ratios "${list[$W]}" "${list[$b]}")
		# shellcheck disable=SC2086
		printf '  %s, median %.3f\n' "${fig#*:}" "$(median $rs)"
		# shellcheck disable=SC2086
		decide "    working tree / ${LABEL[b]}, ${fig#*:}" 1.0 $rs
		unset -n list
	done
	rs=$(ratios "${NAIVE[$W]}" "${NAIVE[$b]}")
	# shellcheck disable=SC2086
	printf '  naive baseline (the machine alone), median %.3f, rounds %s .. %s\n' \
		"$(median $rs)" "$(lo $rs)" "$(hi $rs)"
done
echo "time: builds $((t_built - t0)) s, measurement $((t_end - t_built)) s"
for i in $(seq 0 "$W"); do
	# shellcheck disable=SC2086
	printf 'RESULT rev=%s engine_per_s=%.0f rcpt_per_s=%.0f\n' "${LABEL[i]// /_}" \
		"$(median ${ENG[$i]})" "$(median ${RATE[$i]})"
done
