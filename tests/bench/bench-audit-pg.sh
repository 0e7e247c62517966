#!/bin/bash
# tests/bench/bench-audit-pg.sh - the audit writer into PostgreSQL against
# SQLite (bench-audit-pg.c), on a throwaway PostgreSQL 15 cluster with
# its durable defaults (fsync and synchronous_commit on, unlike the test
# clusters), figures into docs/benchmarks.md through run-bench.sh.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/pg.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-bench-pg.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
RG_PG_DURABLE=1 rg_pg_start "$tmp" || { echo "PostgreSQL start failed" >&2; exit 1; }
rg_pg_sql postgres "CREATE DATABASE bench" || exit 1
"$top_builddir/src/programs/relayguard-audit" schema --sql > "$tmp/schema.sql"
"$RG_PSQL" -X -q -v ON_ERROR_STOP=1 -h "$RG_PG_SOCKDIR" -p "$RG_PG_PORT" \
	-U postgres -d bench -f "$tmp/schema.sql" > /dev/null || exit 1
uri="postgresql://postgres@/bench?host=$RG_PG_SOCKDIR&port=$RG_PG_PORT"
sh "$top_srcdir/tests/bench/run-bench.sh" \
	--command "make bench-audit-pg (tests/bench/bench-audit-pg.sh)" \
	bench-audit-pg "$top_builddir/tests/bench/bench-audit-pg" "$uri"
status=$?
rg_pg_stop
exit "$status"
