# tests/lib/pg.sh - a throwaway PostgreSQL 15 cluster for the tests (sourced)
#
#   . "$top_srcdir/tests/lib/pg.sh"
#   rg_pg_start DIR        initdb into DIR/pg as the postgres user, start it
#                          on a free 127.0.0.1 port; sets RG_PG_PORT,
#                          RG_PG_DATA, RG_PG_SOCKDIR, RG_PG_PID
#   rg_pg_sql DB SQL       run SQL as the superuser (psql, unaligned,
#                          tuples only, stop on the first error)
#   rg_pg_stop             stop it (pg_ctl -m fast), by its pid if need be
#   rg_pg_start_again      start the same cluster again, same port
#   rg_pg_uri USER DB      postgresql://USER@127.0.0.1:PORT/DB
#
# The server binaries come from Debian's postgresql-15 (not on PATH:
# /usr/lib/postgresql/15/bin, or $PG_CTL's directory).  The tests run as
# root and PostgreSQL refuses to: DIR/pg is given to the postgres user.
# Local connections (its socket directory, never /var/run/postgresql)
# are trusted for the superuser; TCP asks for a SCRAM password, so that a
# wrong one can be tested.  fsync is off (the data is thrown away) unless
# RG_PG_DURABLE=1.
# rg_pg_stop runs at exit: through rg_e2e_on_exit when the test uses
# tests/lib/mta.sh (whose trap must stay the only one), else from an EXIT
# trap that also runs the one the test had set.

[ -n "${BASH_VERSION:-}" ] || { echo "tests/lib/pg.sh needs bash" >&2; exit 1; }

RG_PG_BIN=${PG_CTL:+$(dirname "$PG_CTL")}
[ -x "${RG_PG_BIN:-/nonexistent}/initdb" ] || RG_PG_BIN=/usr/lib/postgresql/15/bin
RG_PSQL=${PSQL:-psql}
RG_PG_PID=
RG_PG_PORT=

# rg_pg_as_postgres CMD... - run CMD as the postgres user
rg_pg_as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# rg_pg_start DIR - a new cluster in DIR/pg, started
rg_pg_start() {
	local dir=$1 i
	rg_require "$RG_PG_BIN/initdb" "$RG_PG_BIN/pg_ctl" "$RG_PSQL"
	RG_PG_DATA=$dir/pg/data
	RG_PG_SOCKDIR=$dir/pg/sock
	mkdir -p "$RG_PG_DATA" "$RG_PG_SOCKDIR"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$dir/pg"
	chmod 700 "$RG_PG_DATA"
	# the temp dir's parents must let the postgres user through
	[ "$(id -u)" = 0 ] && chmod o+x "$dir"
	if ! rg_pg_as_postgres "$RG_PG_BIN/initdb" -D "$RG_PG_DATA" -U postgres \
		--no-locale -E UTF8 --no-sync --auth-local=trust \
		--auth-host=scram-sha-256 > "$dir/pg/initdb.log" 2>&1; then
		cat "$dir/pg/initdb.log" >&2
		return 1
	fi
	RG_PG_PORT=$(rg_free_port) || return 1
	cat >> "$RG_PG_DATA/postgresql.conf" <<-CONF
		listen_addresses = '127.0.0.1'
		port = $RG_PG_PORT
		unix_socket_directories = '$RG_PG_SOCKDIR'
		max_connections = 40
		shared_buffers = 32MB
		logging_collector = off
	CONF
	# the data is thrown away: no need to survive a power cut (the
	# benchmark sets RG_PG_DURABLE=1 to measure the real thing)
	[ "${RG_PG_DURABLE:-0}" = 1 ] || printf '%s\n' "fsync = off" \
		"synchronous_commit = off" "full_page_writes = off" \
		>> "$RG_PG_DATA/postgresql.conf"
	if declare -F rg_e2e_on_exit > /dev/null; then
		rg_e2e_on_exit rg_pg_stop
	else
		rg_pg_trap_prev=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
		# shellcheck disable=SC2064
		trap "rg_pg_stop; $rg_pg_trap_prev" EXIT
	fi
	rg_pg_start_again
}

# rg_pg_start_again - start the cluster (first start, or after rg_pg_stop)
rg_pg_start_again() {
	local i
	if ! rg_pg_as_postgres "$RG_PG_BIN/pg_ctl" -D "$RG_PG_DATA" -w -t 60 \
		-l "$RG_PG_DATA/../server.log" start > /dev/null 2>&1; then
		tail -20 "$RG_PG_DATA/../server.log" >&2
		return 1
	fi
	RG_PG_PID=$(head -1 "$RG_PG_DATA/postmaster.pid" 2>/dev/null)
	for i in $(seq 1 100); do
		rg_pg_sql postgres 'SELECT 1' > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# rg_pg_stop - fast shutdown; the postmaster's pid if pg_ctl cannot
rg_pg_stop() {
	local i
	[ -n "$RG_PG_PID" ] || return 0
	rg_pg_as_postgres "$RG_PG_BIN/pg_ctl" -D "$RG_PG_DATA" -m fast -w -t 30 \
		stop > /dev/null 2>&1
	for i in $(seq 1 50); do
		kill -0 "$RG_PG_PID" 2>/dev/null || break
		[ "$i" = 50 ] && kill -9 "$RG_PG_PID" 2>/dev/null
		sleep 0.1
	done
	RG_PG_PID=
}

# rg_pg_sql DB SQL - as the superuser, over the cluster's own socket
rg_pg_sql() {
	"$RG_PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h "$RG_PG_SOCKDIR" \
		-p "$RG_PG_PORT" -U postgres -d "$1" -c "$2"
}

# rg_pg_uri USER DB - a libpq URI over TCP
rg_pg_uri() {
	echo "postgresql://$1@127.0.0.1:$RG_PG_PORT/$2"
}

# rg_pg_fleet_db DB - a database with the roles docs/audit.md describes:
# rg_writer (INSERT only, password "writer-pw"), rg_reader (SELECT only,
# "reader-pw"), the schema created by its owner from relayguard-audit
rg_pg_fleet_db() {
	local db=$1
	rg_pg_sql postgres "CREATE DATABASE $db" || return 1
	rg_pg_sql postgres "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rg_writer') THEN
			CREATE ROLE rg_writer LOGIN PASSWORD 'writer-pw';
			CREATE ROLE rg_reader LOGIN PASSWORD 'reader-pw';
		END IF; END \$\$" || return 1
	"$top_builddir/src/programs/relayguard-audit" schema --sql > "$RG_PG_DATA/../schema.$db.sql" || return 1
	"$RG_PSQL" -X -q -v ON_ERROR_STOP=1 -h "$RG_PG_SOCKDIR" -p "$RG_PG_PORT" \
		-U postgres -d "$db" -f "$RG_PG_DATA/../schema.$db.sql" > /dev/null || return 1
	rg_pg_sql "$db" "GRANT INSERT ON verdicts, alerts TO rg_writer;
		GRANT SELECT ON relayguard_schema TO rg_writer;
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO rg_reader"
}
