# tests/lib/stats.sh - the figures of a benchmark's rounds (sourced, not
# run; bash): medians, spreads and the verdict a spread allows
#
# A benchmark that alternates rounds of a subject and its baseline keeps
# each round's figure in a space-separated list and reads it here; a
# verdict comes from the round-by-round ratios, never from one round.

# median LIST... - the median of numbers
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# lo / hi LIST... - the smallest and largest
lo() { printf '%s\n' "$@" | sort -g | head -n 1; }
hi() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# ratios A_LIST B_LIST - round-by-round A/B, space-separated
ratios() {
	# shellcheck disable=SC2086
	paste -d' ' <(printf '%s\n' $1) <(printf '%s\n' $2) |
		awk '{ printf "%.3f ", $2 ? $1 / $2 : 0 }'
}

# decide LABEL AIM RATIO... - "met", "NOT met" or "not decided by this
# run" for ratio >= AIM, from the round-to-round ratios
decide() {
	local label=$1 aim=$2 l h
	shift 2
	l=$(lo "$@") h=$(hi "$@")
	if awk -v l="$l" -v a="$aim" 'BEGIN { exit !(l >= a) }'; then
		echo "$label >= $aim: met (every round: $l .. $h)"
	elif awk -v h="$h" -v a="$aim" 'BEGIN { exit !(h < a) }'; then
		echo "$label >= $aim: NOT met (every round: $l .. $h)"
	else
		echo "$label >= $aim: not decided by this run (rounds: $l .. $h; the noise is larger than the gap)"
	fi
}
