#!/bin/sh
# tests/harness/layout.sh - the tree, the build and docs/architecture.md
# say the same layers
#
# Each file of src/core/ is in mk/core.am and nowhere else in mk/, each of
# src/adapters/ in mk/adapters.am; each module (a .c file) is named in
# its layer's table of docs/architecture.md, and each module a table
# names exists in that layer.  No core file includes an adapter's header
# or the header of a library the core must not know (libmilter, LDAP,
# SQLite, PostgreSQL, libmicrohttpd): the build would refuse the first
# (the core's one include path is src/core/), this names the file.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

src=$top_srcdir/src
arch=$top_srcdir/docs/architecture.md

# section_modules HEADING - the backticked names of the first column of
# the table under "### HEADING" (up to the next heading)
section_modules() {
	awk -v h="### $1" '
		$0 == h { on = 1; next }
		on && /^#/ { exit }
		on && /^\| `/ {
			cell = $0; sub(/^\| /, "", cell); sub(/ \|.*/, "", cell)
			n = split(cell, parts, /, /)
			for (i = 1; i <= n; i++) { m = parts[i]; gsub(/`/, "", m); sub(/\.c$/, "", m); print m }
		}' "$arch" | sort -u
}

check_layer() {	# DIR FRAGMENT HEADING
	dir=$1 frag=$top_srcdir/mk/$2 heading=$3
	for f in "$src/$dir"/*.[ch]; do
		rel=src/$dir/${f##*/}
		if grep -qw "$rel" "$frag"; then rg_pass "$rel is built by mk/$2"
		else rg_fail "$rel is not in mk/$2"; fi
		others=$(grep -lw "$rel" "$top_srcdir"/mk/*.am | grep -v "/$2\$")
		[ -z "$others" ] || rg_fail "$rel is also listed in $others"
	done
	documented=$(section_modules "$heading")
	[ -n "$documented" ] || rg_fail "no table under '### $heading' in docs/architecture.md"
	for f in "$src/$dir"/*.c; do
		m=${f##*/}; m=${m%.c}
		if printf '%s\n' "$documented" | grep -qx "$m"; then rg_pass "$m is in the table of $heading"
		else rg_fail "src/$dir/$m.c is not in docs/architecture.md under '### $heading'"; fi
	done
	for m in $documented; do
		[ -f "$src/$dir/$m.c" ] || rg_fail "docs/architecture.md names $m under '### $heading', but there is no src/$dir/$m.c"
	done
}

check_layer core core.am "The core (\`src/core/\`)"
check_layer adapters adapters.am "The adapters (\`src/adapters/\`)"
# The programs: one main() each, built by its own fragment.
documented=$(section_modules "The programs (\`src/programs/\`)")
for f in "$src"/programs/*.c; do
	m=${f##*/}; m=${m%.c}
	if grep -q "src/programs/$m.c" "$top_srcdir/mk/$m.am" 2>/dev/null; then
		rg_pass "src/programs/$m.c is built by mk/$m.am"
	else rg_fail "src/programs/$m.c is not in mk/$m.am"; fi
	printf '%s\n' "$documented" | grep -qx "$m" ||
		rg_fail "src/programs/$m.c is not in docs/architecture.md's table of programs"
done
[ -z "$(ls "$src"/programs/*.h 2>/dev/null)" ] ||
	rg_fail "src/programs/ has a header: what programs share belongs to a library"

# The core's includes.
bad=$(grep -nE '^#[[:space:]]*include[[:space:]]*<(libmilter/|ldap\.h|lber\.h|sqlite3\.h|libpq-fe\.h|microhttpd\.h)' "$src"/core/*.[ch])
if [ -z "$bad" ]; then rg_pass "the core includes no adapted library"
else rg_fail "the core includes an adapted library: $bad"; fi
for h in "$src"/adapters/*.h; do
	name=${h##*/}
	hit=$(grep -ln "#include \"$name\"" "$src"/core/*.[ch] 2>/dev/null)
	[ -z "$hit" ] || rg_fail "core file(s) $hit include the adapter header $name"
done
rg_pass "no core file includes an adapter header"

rg_done
