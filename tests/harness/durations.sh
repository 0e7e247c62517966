#!/bin/sh
# tests/harness/durations.sh - how long each test of a make check run took
#
#   durations.sh LOG...
#
# Reads the line tests/harness/run-bounded.sh ends each test's log with
# ("run-bounded: TEST: SECONDS s (limit LIMIT s)") and the result in the
# .trs file beside it; prints them slowest first, with the sum.  Logs
# that do not exist (tests not run) are left out.

for log in "$@"; do
	[ -f "$log" ] || continue
	trs=${log%.log}.trs
	result=$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -n 1)
	sed -n 's/^run-bounded: \(.*\): \([0-9.]*\) s (limit \([0-9]*\) s)$/\2 \3 \1/p' "$log" |
	    tail -n 1 | sed "s|\$| ${result:-?}|"
done | sort -rn | awk '
BEGIN { printf "%s\n", "Test durations (seconds, slowest first; limit from tests/harness/time-limits):" }
{
	printf "  %7.1f  %5d  %-5s  %s\n", $1, $2, $4, $3
	total += $1; n++
}
END { printf "  %7.1f         %d tests (sum; tests ran one after another unless make -j)\n", total, n }'
