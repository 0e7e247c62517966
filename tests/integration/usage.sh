#!/bin/bash
# tests/integration/usage.sh - every program takes --help and --version (GNU
# conventions), and its usage text agrees with its man page
#
# For relayguard, relayguard-check and relayguard-audit: --help prints the
# usage on stdout and exits 0, --version prints "PROGRAM VERSION" and
# exits 0, an unknown option prints the usage on stderr and exits 2.
# Then the options: every option the usage text names is documented in
# the man page, and every option of the man page's SYNOPSIS is in the
# usage text.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

rg_require python3
version=$(sed -n "s/^PACKAGE_VERSION = //p" "$top_builddir/Makefile")
[ -n "$version" ] || { echo "FAIL: no PACKAGE_VERSION in $top_builddir/Makefile" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rg-usage.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for prog in relayguard:8 relayguard-check:1 relayguard-audit:1; do
	name=${prog%:*}
	bin=$top_builddir/src/programs/$name
	man=$top_srcdir/docs/$name.${prog#*:}
	[ -x "$bin" ] || { rg_fail "$bin not built"; continue; }

	"$bin" --help > "$tmp/help" 2> "$tmp/help.err"
	rg_expect "$name --help exits 0" "$?" 0
	rg_expect "$name --help writes nothing on stderr" "$(cat "$tmp/help.err")" ""
	rg_expect_match "$name --help starts with the usage" "$(head -1 "$tmp/help")" "^usage: $name "
	"$bin" -h > "$tmp/h" 2>&1
	rg_expect "$name -h is --help" "$(cat "$tmp/h")" "$(cat "$tmp/help")"

	out=$("$bin" --version 2> "$tmp/version.err")
	rg_expect "$name --version exits 0" "$?" 0
	rg_expect_match "$name --version names program and version" "$out" "^$name $version( |\$)"
	rg_expect "$name -V is --version" "$("$bin" -V 2>&1)" "$out"

	"$bin" --no-such-option > "$tmp/bad" 2> "$tmp/bad.err"
	rg_expect "$name: an unknown option exits 2" "$?" 2
	rg_expect "$name: a usage error writes nothing on stdout" "$(cat "$tmp/bad")" ""
	rg_expect_match "$name: a usage error says so on stderr" "$(cat "$tmp/bad.err")" .

	python3 - "$tmp/help" "$man" "$name" > "$tmp/compare" <<'PY'
import re, sys
help_text = open(sys.argv[1]).read()
roff = open(sys.argv[2]).read()
name = sys.argv[3]
OPT = re.compile(r'(?:^|[\s\[|(,"])(--?[a-zA-Z][a-zA-Z0-9-]*)')

def plain(text):
    text = text.replace("\\-", "-").replace('\\(dq', '"')
    return re.sub(r'\\f[BIRP]', '', text)

def section(text, title):
    m = re.search(r'^\.SH ' + title + r'\n(.*?)(?=^\.SH )', text, re.S | re.M)
    return m.group(1) if m else ""

man = plain(roff)
in_help = set(OPT.findall(help_text))
in_man = set(OPT.findall(man))
in_synopsis = set(OPT.findall(section(man, "SYNOPSIS")))
bad = 0
for opt in sorted(in_help - in_man):
    print("FAIL: %s: %s is in --help but not in the man page" % (name, opt))
    bad += 1
for opt in sorted(in_synopsis - in_help):
    print("FAIL: %s: %s is in the man page's SYNOPSIS but not in --help" % (name, opt))
    bad += 1
if not in_synopsis:
    print("FAIL: %s: no options found in the man page's SYNOPSIS" % name)
    bad += 1
if not bad:
    print("ok: %s: --help and the man page name the same %d options"
          % (name, len(in_synopsis)))
PY
	while IFS= read -r line; do
		case "$line" in
		ok:*) rg_pass "${line#ok: }" ;;
		*) rg_fail "${line#FAIL: }" ;;
		esac
	done < "$tmp/compare"
done
rg_done
