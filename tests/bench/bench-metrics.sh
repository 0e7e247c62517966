#!/bin/bash
# tests/bench/bench-metrics.sh - make bench-metrics: what the metrics
# counters cost on the hot path.
#
# Two relayguards with the same configuration, one with metrics_listen
# (every verdict counted, a scrape at the end) and one without (counting
# off), driven in turn by tests/bench/milter-load over unix sockets: the
# milter protocol at full speed, no MTA in between, so that a cost shows
# if there is one.  Rounds alternate; the best round of each counts, and
# the spread of the rounds without metrics is the noise a difference must
# exceed to mean anything.  The CPU the daemon used per recipient is
# reported too.  The scrape must count exactly the recipients sent.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/stats.sh"	# load_avg, cpu_ticks, cpu_us, load_result

LOAD=$top_builddir/tests/bench/milter-load
rg_require "$RG_RELAYGUARD" "$LOAD" curl
tmp=$(rg_e2e_tmpdir)
USERS=10000 ROUNDS=${ROUNDS:-5} SECS=${SECS:-3}
"$LOAD" -P -u "$USERS" > "$tmp/recipients"
conf() {
	echo "local_domains = example.org, example.net"
	echo "local_addresses = 192.0.2.25"
	echo "directory = file:$tmp/recipients"
	echo "harvest_limit = 0"
	echo "client_track_size = 0"
	echo "audit_db = none"
	[ -n "${1:-}" ] && echo "metrics_listen = 127.0.0.1:$1"
}

mport=$(rg_free_port)
rg_start_relayguard "$(conf "$mport")" "unix:$tmp/on.sock" >&2 || exit 1
on_pid=$RG_MILTER_PID on_sock=$RG_MILTER_SOCKET
rg_start_relayguard "$(conf)" "unix:$tmp/off.sock" >&2 || exit 1
off_pid=$RG_MILTER_PID off_sock=$RG_MILTER_SOCKET

declare -A BEST RATES CPU SENT
SENT[on]=0
run() {			# run KEY PID SOCKET: one round
	local out rate p50 p99 p999 rcpts mm err c0 c1
	c0=$(cpu_ticks "$2")
	out=$(timeout 120 "$LOAD" -q -s "$3" -c 10 -k 5 -m 5 -t "$SECS" -u "$USERS") ||
		{ echo "milter-load failed: $out" >&2; exit 1; }
	c1=$(cpu_ticks "$2")
	read -r rate p50 p99 p999 rcpts mm err <<<"$(load_result "$out")"
	[ -n "$rate" ] && [ "$mm" = 0 ] && [ "$err" = 0 ] ||
		{ echo "milter-load: mismatches or errors: $out" >&2; exit 1; }
	RATES[$1]="${RATES[$1]:-} $rate"
	[ "$1" = on ] && SENT[on]=$(( SENT[on] + rcpts ))
	if [ "$rate" -gt "${BEST[$1]:-0}" ]; then
		BEST[$1]=$rate
		CPU[$1]=$(cpu_us $((c1 - c0)) "$rcpts" 2)
	fi
}
load0=$(load_avg)
for r in $(seq 1 "$ROUNDS"); do
	run off "$off_pid" "$off_sock"
	run on "$on_pid" "$on_sock"
done
load1=$(load_avg)
scraped=$(curl -sf "http://127.0.0.1:$mport/metrics" |
	awk '$1 ~ /^relayguard_verdicts_total\{stage="rcpt"/ { s += $2 } END { print s + 0 }')

echo "relayguard's verdict counters (metrics_listen) against counting off:"
echo "tests/bench/milter-load over unix sockets, 10 sessions, 5 recipients a"
echo "transaction, 5 transactions a connection, $SECS s a round, $ROUNDS rounds each,"
echo "alternating; file directory of $USERS users, audit_db = none."
echo "1-minute load average at start / end: $load0 / $load1"
echo "rounds, metrics off (rcpt/s):${RATES[off]}"
echo "rounds, metrics on  (rcpt/s):${RATES[on]}"
printf 'metrics off: %8d recipient verdicts/s, %s us of daemon CPU each\n' "${BEST[off]}" "${CPU[off]}"
printf 'metrics on:  %8d recipient verdicts/s, %s us of daemon CPU each\n' "${BEST[on]}" "${CPU[on]}"
awk -v on="${BEST[on]}" -v off="${BEST[off]}" -v rates="${RATES[off]}" 'BEGIN {
	n = split(rates, r, " "); lo = hi = r[1]
	for (i = 2; i <= n; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
	spread = hi ? (hi - lo) / hi : 0; ratio = off ? on / off : 0
	gap = ratio < 1 ? 1 - ratio : ratio - 1
	printf "on / off: %.3f; round-to-round spread of off alone: %.1f %%\n", ratio, spread * 100
	if (gap <= spread)
		printf "verdict: not decided: the gap (%.1f %%) is within the noise (%.1f %%); no cost measurable at this noise\n", gap * 100, spread * 100
	else if (ratio < 1)
		printf "verdict: metrics cost %.1f %% (larger than the noise)\n", gap * 100
	else
		print "verdict: metrics on was faster by more than the noise: the machine, not the counters"
}'
echo "the scrape counted $scraped rcpt verdicts; milter-load sent ${SENT[on]} recipients"
[ "$scraped" = "${SENT[on]}" ] || { echo "bench-metrics: the scrape does not match the load" >&2; exit 1; }
