#!/bin/bash
# tests/harness/bounded.sh - the test harness itself: tests/harness/run-bounded.sh
# keeps a test's exit status and reports its time; a test that leaves a
# process behind fails and the process dies; a test that hangs with a
# real relayguard and Postfix running is killed at its limit, reported
# with its step and its logs' tails, and leaves no process and no
# listening port behind.  rg_start_postfix refuses a main.cf that
# postconf -n warns about.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$top_srcdir/tests/lib/mta.sh"
rg_e2e_require_root
rg_require ss

RUN="$top_srcdir/tests/harness/run-bounded.sh"
tmp=$(rg_e2e_tmpdir)

# bounded NAME [VAR=VALUE...] -- COMMAND... - run COMMAND through the
# wrapper; its output in $tmp/NAME.out, its exit status in $status
bounded() {
	local name=$1
	shift
	local -a vars=()
	while [ "$1" != -- ]; do vars+=("$1"); shift; done
	shift
	env "${vars[@]}" RG_TEST_LIMITS="$tmp/limits" bash "$RUN" "$@" >"$tmp/$name.out" 2>&1
	status=$?
}

# running PID - does process PID still run (exists and is not a zombie:
# an orphan killed a moment ago waits for init to reap it)?
running() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# listening PORT - is anything listening on TCP PORT?
listening() { [ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]; }

printf 'default 7\n%s/limited.sh 9\n' "$tmp" >"$tmp/limits"

rg_step "exit status and time line"
for s in 0 1 77; do
	printf 'exit %s\n' "$s" >"$tmp/exit$s.sh"
	bounded "exit$s" -- /bin/sh "$tmp/exit$s.sh"
	rg_expect "a test's exit status $s is kept" "$status" "$s"
done
rg_expect_match "the log ends with the test's time and limit (default)" \
    "$(tail -n 1 "$tmp/exit0.out")" "^run-bounded: $tmp/exit0.sh: [0-9]+\.[0-9] s \(limit 7 s\)$"
echo 'exit 0' >"$tmp/limited.sh"
bounded limited -- /bin/sh "$tmp/limited.sh"
rg_expect_match "a test listed in the table gets its own limit" \
    "$(tail -n 1 "$tmp/limited.out")" '\(limit 9 s\)$'
bounded scaled RG_TEST_TIME_SCALE=3 -- /bin/sh "$tmp/limited.sh"
rg_expect_match "RG_TEST_TIME_SCALE multiplies it" "$(tail -n 1 "$tmp/scaled.out")" '\(limit 27 s\)$'

rg_step "a test that leaves a process behind"
cat >"$tmp/leak.sh" <<EOF
sleep 300 &
echo \$! >"$tmp/leak.pid"
exit 0
EOF
bounded leak RG_TEST_SWEEP_GRACE=1 -- /bin/sh "$tmp/leak.sh"
rg_expect "a test that passes but leaves a process running fails" "$status" 1
rg_expect_match "the process is named" "$(cat "$tmp/leak.out")" 'still running after the test ended'
pid=$(cat "$tmp/leak.pid" 2>/dev/null)
if [ -n "$pid" ] && ! running "$pid"; then
	rg_pass "the process it left is gone"
else
	rg_fail "the process it left ($pid) still runs"
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
fi

rg_step "postconf -n must be warning-free"
if rg_start_postfix none "no_such_parameter = 1" 2>"$tmp/postconf.err"; then
	rg_fail "rg_start_postfix started an instance whose main.cf postconf -n warns about"
else
	rg_expect_match "rg_start_postfix refuses it, with postconf's warning" \
	    "$(cat "$tmp/postconf.err")" 'unused parameter: no_such_parameter=1'
fi

rg_step "a hung test with relayguard and Postfix running"
export RG_HANG_RECORD="$tmp/hang.record"
t0=$SECONDS
bounded hang RG_TEST_LIMIT=12 RG_TEST_GRACE=2 RG_TEST_SWEEP_GRACE=1 -- \
    "$BASH" "$top_srcdir/tests/harness/hang.sh"
took=$((SECONDS - t0))
out=$(cat "$tmp/hang.out")
rg_expect "the hung test fails" "$status" 1
rg_expect_match "it is reported as out of time" "$out" 'TIMEOUT: .*tests/harness/hang.sh still running after its limit of 12 s'
if [ "$took" -le 27 ]; then
	rg_pass "it is ended within its limit and grace ($took s)"
else
	rg_fail "it took $took s to end (limit 12 s, grace 2 s)"
fi
record() { sed -n "s/^$1 //p" "$RG_HANG_RECORD" 2>/dev/null; }
if [ -s "$RG_HANG_RECORD" ]; then
	rg_expect_match "the report names its step" "$out" 'it was in step: sleep past the limit$'
	rg_expect_match "the report shows the tail of Postfix's log" "$out" \
	    'tail of .*/maillog'
	rg_expect_match "the report shows the tail of relayguard's log" "$out" \
	    'tail of .*/relayguard\.0\.log'
	rg_expect_match "the report lists its processes" "$out" 'master -w'
	rg_expect "a main.cf key the harness sets twice is written once" "$(record key_lines)" 1
	for what in milter_pid master_pid; do
		pid=$(record "$what")
		if [ -n "$pid" ] && ! running "$pid"; then
			rg_pass "$what $pid is gone"
		else
			rg_fail "$what '$pid' still runs"
		fi
	done
	for what in milter_port postfix_port; do
		port=$(record "$what")
		if [ -n "$port" ] && ! listening "$port"; then
			rg_pass "nothing listens on $what $port"
		else
			rg_fail "$what '$port' is still listening"
		fi
	done
	dir=$(record postfix_dir)
	rg_expect "no process carries the Postfix instance's MAIL_CONFIG" \
	    "$(rg_e2e_proc_with_env "MAIL_CONFIG=$dir/etc" | tr '\n' ' ')" ""
	if [ -d "$dir" ]; then
		rg_fail "the test's temp dir $dir is left"
	else
		rg_pass "the test's temp dir is removed"
	fi
else
	# Too slow a machine to start both within the limit: the report must
	# still say where it was.
	rg_expect_match "the report names its step (start not done)" "$out" \
	    'it was in step: start relayguard and Postfix$'
fi
# Its own trap never ran: the wrapper killed what it had started.
rg_expect_match "the wrapper killed what the test had left" "$out" \
    'still running after the test ended, killed'
if printf '%s\n' "$out" | grep -q 'could not kill'; then
	rg_fail "the wrapper could not kill everything"
else
	rg_pass "the wrapper could kill everything"
fi
rg_done
