#!/bin/sh
# run-bench.sh - run one benchmark and record its figures in docs/benchmarks.md
#
# Usage: run-bench.sh [--doc FILE] [--command TEXT] NAME PROGRAM [ARGS...]
#
# Runs PROGRAM, shows its output, and replaces the section of FILE between
# "<!-- NAME begin -->" and "<!-- NAME end -->" (appending it when absent,
# creating FILE with its header when missing) with the output, the
# command, the machine (CPUs, CPU model, kernel), the compiler flags
# (CFLAGS from the environment) and the date.  Other sections are kept.

set -u
doc=docs/benchmarks.md
command=
while [ $# -gt 0 ]; do
	case "$1" in
	--doc) doc=$2; shift 2 ;;
	--command) command=$2; shift 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 2 ]; then
	echo "usage: run-bench.sh [--doc FILE] [--command TEXT] NAME PROGRAM [ARGS...]" >&2
	exit 2
fi
name=$1
shift
[ -n "$command" ] || command="$*"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! "$@" > "$tmp/out"; then
	cat "$tmp/out"
	echo "run-bench.sh: $name failed; $doc not changed" >&2
	exit 1
fi
cat "$tmp/out"

cpus=$(nproc 2>/dev/null || echo '?')
model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
[ -n "$model" ] || model=$(uname -m)

{
	echo "<!-- $name begin -->"
	echo "## $name"
	echo
	echo "- command: \`$command\`"
	echo "- machine: $cpus CPUs, $model, $(uname -sr)"
	echo "- compiler flags: \`${CFLAGS:-default}\`"
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo '```'
	grep -v '^RESULT ' "$tmp/out"
	echo '```'
	echo "<!-- $name end -->"
} > "$tmp/section"

if [ ! -f "$doc" ]; then
	cat > "$doc" <<'EOF'
# Benchmarks

Figures written by `make bench` (each benchmark rewrites only its own
section, between its begin/end markers).  They are measurements, not
tests: compare the ratios against the baselines measured in the same run
rather than absolute figures across machines.
EOF
fi

if grep -q "^<!-- $name begin -->\$" "$doc"; then
	awk -v name="$name" -v section="$tmp/section" '
		$0 == "<!-- " name " begin -->" {
			while ((getline line < section) > 0) print line
			skip = 1; next
		}
		skip && $0 == "<!-- " name " end -->" { skip = 0; next }
		!skip { print }
	' "$doc" > "$tmp/doc"
else
	{ cat "$doc"; echo; cat "$tmp/section"; } > "$tmp/doc"
fi
cat "$tmp/doc" > "$doc"
echo "run-bench.sh: wrote section $name of $doc"
