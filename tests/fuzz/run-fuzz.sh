#!/bin/sh
# run-fuzz.sh - run the libFuzzer targets for a bounded time (make fuzz)
#
#   run-fuzz.sh SRCDIR BUILDDIR TARGET...
#
# Each target BUILDDIR/tests/fuzz/fuzz-TARGET (built by make fuzz) runs
# for FUZZ_SECONDS (default 60) over a work corpus in
# BUILDDIR/tests/fuzz/fuzz-work/TARGET, seeded from the source tree's
# corpus/TARGET and regress/TARGET (read only; not regress/TARGET/open/,
# the reproducers of bugs still open, though a target may find them again).  A crash, sanitizer report,
# timeout or out-of-memory is copied into SRCDIR/tests/fuzz/regress/TARGET/
# so that make check replays it from then on; the script then fails.
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-jobs=2).

set -u
srcdir=$1 builddir=$2
shift 2
seconds=${FUZZ_SECONDS:-60}
status=0

# max_len - the longest input worth trying for a target
max_len() {
	case $1 in
	address) echo 1024 ;;		# paths are at most 256 bytes, plus params
	config) echo 8192 ;;
	policy) echo 2048 ;;
	dirfile) echo 4096 ;;
	policy_request) echo 20480 ;;	# past the 16 KiB request bound
	reply) echo 4096 ;;		# verdict lines with every field at its limit
	*) echo 4096 ;;
	esac
}

for t in "$@"; do
	prog="$builddir/tests/fuzz/fuzz-$t"
	work="$builddir/tests/fuzz/fuzz-work/$t"
	crashdir="$builddir/tests/fuzz/fuzz-crash/$t"
	regress="$srcdir/tests/fuzz/regress/$t"
	log="$builddir/tests/fuzz/fuzz-work/$t.log"
	seeds="$builddir/tests/fuzz/fuzz-work/$t.regress"
	mkdir -p "$work" "$crashdir" "$regress"
	# libFuzzer reads corpus directories recursively: give it the saved
	# reproducers but not regress/TARGET/open/ (known, still failing).
	rm -rf "$seeds" && mkdir -p "$seeds"
	for f in "$regress"/*; do
		[ -f "$f" ] && cp "$f" "$seeds/"
	done
	dict=""
	[ -f "$srcdir/tests/fuzz/dict/$t.dict" ] && dict="-dict=$srcdir/tests/fuzz/dict/$t.dict"
	echo "fuzz-$t: ${seconds}s, -max_len=$(max_len "$t")"
	# shellcheck disable=SC2086
	"$prog" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashdir/" $dict ${FUZZ_ARGS:-} \
		"$work" "$srcdir/tests/fuzz/corpus/$t" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	echo "fuzz-$t: exit $rc, ${execs:-?} runs, ${rate:-?} exec/s, $cov, corpus $(ls "$work" | wc -l) files (log $log)"
	for f in "$crashdir"/*; do
		[ -f "$f" ] || continue
		name="$(basename "$f")"
		cp "$f" "$regress/$name"
		echo "fuzz-$t: NEW CRASH saved as $regress/$name" >&2
		echo "  reproduce: $prog $regress/$name" >&2
		echo "  rename it to say what it breaks, fix the bug, and commit it" >&2
		rm -f "$f"
		status=1
	done
	if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then
		tail -n 30 "$log" >&2
		status=1
	fi
done
exit $status
