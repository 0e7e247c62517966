# tests/lib/stats.sh - the figures of a benchmark's rounds (sourced, not
# run; bash): what a round is read from, medians, spreads and the
# verdict a spread allows
#
# A benchmark that alternates rounds of a subject and its baseline keeps
# each round's figure in a space-separated list and reads it here; a
# verdict comes from the round-by-round ratios, never from one round.

# load_avg - the 1-minute load average (the machine may be shared)
load_avg() { cut -d' ' -f1 /proc/loadavg; }

# cpu_ticks PID - user + system clock ticks used by PID so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# cpu_us TICKS N [DIGITS] - microseconds of CPU per item: TICKS clock
# ticks spent on N items, with DIGITS decimals (1)
cpu_us() {
	awk -v t="$1" -v n="$2" -v d="${3:-1}" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.*f", d, n ? t / hz * 1e6 / n : 0 }'
}

# load_result TEXT - the figures of the RESULT line that milter-load and
# policy-load print: "rate p50 p99 p999 rcpts mismatches errors", nothing
# when TEXT has no such line
load_result() {
	printf '%s\n' "$1" | sed -n 's/^RESULT rate=\([^ ]*\) p50_us=\([^ ]*\) p99_us=\([^ ]*\) p999_us=\([^ ]*\) max_us=[^ ]* rcpts=\([^ ]*\) mismatches=\([^ ]*\) errors=\([^ ]*\).*/\1 \2 \3 \4 \5 \6 \7/p'
}

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
