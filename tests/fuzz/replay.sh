#!/bin/sh
# tests/fuzz/replay.sh - replay the fuzz seed corpora and every saved crash
#
# Runs each fuzz target's replay build (fuzz-TARGET-replay, made by make
# check with the normal compiler) over tests/fuzz/corpus/TARGET/ and
# tests/fuzz/regress/TARGET/.  An input that crashes, trips a sanitizer
# or breaks one of the target's invariants fails the test: every crash
# make fuzz ever found stays fixed.
#
# tests/fuzz/regress/TARGET/open/ holds reproducers of bugs found but not
# fixed yet.  Each must still fail, one process per input; one that
# passes fails this test until it is moved up into regress/TARGET/, so a
# fix is never left without its regression test.

. "$top_srcdir/tests/lib/common.sh"

for t in address config policy reply dirfile policy_request; do
	prog="$top_builddir/tests/fuzz/fuzz-$t-replay"
	if [ ! -x "$prog" ]; then
		rg_fail "$t: $prog not built"
		continue
	fi
	dirs=""
	for d in "$top_srcdir/tests/fuzz/corpus/$t" "$top_srcdir/tests/fuzz/regress/$t"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	if [ -z "$dirs" ]; then
		rg_fail "$t: no corpus"
		continue
	fi
	# shellcheck disable=SC2086
	out=$(timeout 120 "$prog" $dirs 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		rg_pass "$t: $(printf '%s\n' "$out" | tail -n 1)"
	else
		printf '%s\n' "$out" | tail -n 40 >&2
		rg_fail "$t: replay failed (exit $rc)"
	fi
	for f in "$top_srcdir/tests/fuzz/regress/$t/open"/*; do
		[ -f "$f" ] || continue
		out=$(timeout 120 "$prog" "$f" 2>&1)
		if [ $? -eq 0 ]; then
			rg_fail "$t: open/$(basename "$f") passes now: move it into regress/$t/"
		elif printf '%s\n' "$out" | grep -Eq 'invariant failed|ERROR: |runtime error'; then
			rg_pass "$t: open bug still reproduces: $(basename "$f")"
		else
			printf '%s\n' "$out" | tail -n 10 >&2
			rg_fail "$t: open/$(basename "$f") fails for another reason"
		fi
	done
done
rg_done
