#!/bin/bash
# tests/integration/audit-unwritable.sh - a full disk and a read-only file system under
# the audit database: audit_failure = continue diverts every row that
# could not be committed to the log, and counts it; audit_failure =
# tempfail refuses rows (the milter defers the mail); nothing is lost
# silently and the database stays intact.
#
# Real conditions, not simulated ones: a 1 MiB tmpfs that fills up, and a
# read-only bind mount (root ignores file permissions, not a read-only
# mount).  Both need a private mount namespace (unshare -m), so this test
# needs root; unshare and mount are part of util-linux and mount.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"

sqlite=${SQLITE3_CLI:-sqlite3}
load=$top_builddir/tests/lib/audit-load
rg_require "$sqlite" "$load" unshare mount

if ! unshare -m true 2> /dev/null; then
	if [ "${RELAYGUARD_SKIP_MISSING:-0}" = 1 ]; then
		echo "SKIP: cannot create a mount namespace (not root?)"
		exit 77
	fi
	echo "FAIL: unshare -m is not permitted here (this test needs root)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-audit-unwritable.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/full" "$tmp/ro"
export load sqlite tmp

# field NAME FILE - the value of NAME=... on the driver's "done" line
field() { sed -n "s/^done .*[ ]$1=\([0-9]*\).*/\1/p" "$2"; }

# --- disk full, audit_failure = continue ------------------------------------
# A small queue keeps every transaction small (at most 500 rows): a first
# batch of thousands, queued while the writer opened the file, would not
# fit the 1 MiB and leave nothing committed before the disk filled.
unshare -m bash -c '
	mount -t tmpfs -o size=1m rgfull "$tmp/full" || exit 1
	"$load" -d "$tmp/full/a.db" -n 30000 -t 2 -b 100 -q 500 > "$tmp/full.out" 2> "$tmp/full.err"
	"$sqlite" -batch "$tmp/full/a.db" "PRAGMA integrity_check" > "$tmp/full.integrity" 2>&1
	"$sqlite" -batch "$tmp/full/a.db" "SELECT COUNT(*) FROM verdicts" > "$tmp/full.count" 2>&1
'
rg_expect "full disk: driver ran" "$?" 0
written=$(field written "$tmp/full.out")
diverted=$(field diverted "$tmp/full.out")
rg_expect_match "full disk: some rows committed before the disk filled" "$written" '^[1-9][0-9]*$'
rg_expect_match "full disk: rows diverted once it was full" "$diverted" '^[1-9][0-9]*$'
rg_expect "full disk: committed + diverted = submitted" "$((written + diverted))" 30000
rg_expect "full disk: one log line per diverted row" \
	"$(grep -c '^audit: diverted: time=' "$tmp/full.err")" "$diverted"
rg_expect_match "full disk: the reason is logged" "$(grep -m1 'cannot write' "$tmp/full.err")" \
	'database or disk is full'
rg_expect_match "full disk: a diverted line has the verdict" \
	"$(grep -m1 '^audit: diverted:' "$tmp/full.err")" \
	'^audit: diverted: time=20[0-9-]+T[0-9:.]+Z session=L[0-9a-f]+ queue=[^ ]+ stage=[a-z]+ rule=[a-z_]+ action=[a-z-]+ code=[0-9]+ '
rg_expect "full disk: integrity_check" "$(cat "$tmp/full.integrity")" ok
rg_expect "full disk: every committed row is in the database" "$(cat "$tmp/full.count")" "$written"

# --- disk full, audit_failure = tempfail ------------------------------------
# a queue of 2000 rows keeps the submitters close behind the writer, so
# that most rows are submitted after the failure is known
unshare -m bash -c '
	mount -t tmpfs -o size=1m rgfull "$tmp/full" || exit 1
	"$load" -d "$tmp/full/a.db" -n 30000 -t 2 -b 500 -q 2000 -F tempfail > "$tmp/tf.out" 2> "$tmp/tf.err"
	"$sqlite" -batch "$tmp/full/a.db" "SELECT COUNT(*) FROM verdicts" > "$tmp/tf.count" 2>&1
'
written=$(field written "$tmp/tf.out")
diverted=$(field diverted "$tmp/tf.out")
refused=$(field refused "$tmp/tf.out")
rg_expect_match "tempfail: rows refused (mail would be deferred)" "$refused" '^[1-9][0-9]*$'
rg_expect "tempfail: committed + diverted + refused = submitted" \
	"$((written + diverted + refused))" 30000
rg_expect "tempfail: rows accepted before the failure was seen went to the log" \
	"$(grep -c '^audit: diverted:' "$tmp/tf.err")" "$diverted"
rg_expect_match "tempfail: the log says mail is deferred" "$(cat "$tmp/tf.err")" \
	'deferring mail until it can be written'
rg_expect "tempfail: committed rows are there" "$(cat "$tmp/tf.count")" "$written"

# --- read-only file system ---------------------------------------------------
"$load" -d "$tmp/ro/a.db" -n 1000 -t 1 > /dev/null 2>&1
unshare -m bash -c '
	mount --bind "$tmp/ro" "$tmp/ro" && mount -o remount,bind,ro "$tmp/ro" || exit 1
	"$load" -d "$tmp/ro/a.db" -n 500 -t 1 > "$tmp/ro.out" 2> "$tmp/ro.err"
'
rg_expect "read-only: nothing committed" "$(field written "$tmp/ro.out")" 0
rg_expect "read-only: all 500 rows diverted" "$(field diverted "$tmp/ro.out")" 500
rg_expect "read-only: one log line each" "$(grep -c '^audit: diverted:' "$tmp/ro.err")" 500
rg_expect_match "read-only: the reason is logged" "$(grep -m1 'cannot write' "$tmp/ro.err")" \
	'readonly|read-only|unable to open'
rg_expect "read-only: database unchanged" \
	"$("$sqlite" -batch "$tmp/ro/a.db" 'SELECT COUNT(*) FROM verdicts')" 1000
rg_done
