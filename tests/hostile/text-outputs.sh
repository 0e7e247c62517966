#!/bin/bash
# tests/hostile/text-outputs.sh - the same hostile client text through
# every output relayguard writes, each parsed back
#
# Two daemons get the same milter session, sent as raw packets: one
# with a writable audit database, one whose database cannot be opened
# (audit_failure = continue: rows are diverted to the log).  The client
# name, HELO, sender and recipient carry spaces that spell fields, a
# literal "\x20", CR LF, ESC, a stray 0xE9 byte, U+2028, quotes, markup
# and a spreadsheet formula.  Then, and checked by an independent reader
# for each format:
#   - the daemon's verdict line and the diverted audit row: one field
#     each, which unescapes to exactly the bytes sent;
#   - relayguard-check's human output (unescapes exactly) and --json
#     (JSON; bytes that are not UTF-8 become U+FFFD);
#   - relayguard-audit tail (log-shaped, unescapes exactly), export
#     --format csv (RFC 4180; formulas prefixed with ') and --format json.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/common.sh"

rg_require python3 timeout
RG=$top_builddir/src/programs/relayguard
CHECK=$top_builddir/src/programs/relayguard-check
AUDIT=$top_builddir/src/programs/relayguard-audit
for p in "$RG" "$CHECK" "$AUDIT"; do
	[ -x "$p" ] || { echo "FAIL: $p not built" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/rg-hostile-text.XXXXXX)
pids=""
cleanup() {
	rg_stop_pids 10 $pids
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

port=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
port2=$port
while [ "$port2" = "$port" ]; do
	port2=$(rg_free_port) || { echo "FAIL: no free port" >&2; exit 1; }
done

echo 'alice@example.test' > "$tmp/recipients"
cat > "$tmp/base.conf" <<EOF
local_domains = example.test
directory = file:$tmp/recipients
allow_root = yes
EOF
{ cat "$tmp/base.conf"; echo "socket = inet:$port@127.0.0.1"
  echo "audit_db = $tmp/audit.db"; echo "audit_flush_ms = 10"; } > "$tmp/a.conf"
{ cat "$tmp/base.conf"; echo "socket = inet:$port2@127.0.0.1"
  echo "audit_db = $tmp/missing/audit.db"; } > "$tmp/b.conf"

"$RG" -c "$tmp/a.conf" -f -s 2> "$tmp/a.log" &
pids="$pids $!"; pid_a=$!
"$RG" -c "$tmp/b.conf" -f -s 2> "$tmp/b.log" &
pids="$pids $!"; pid_b=$!
rg_wait_port "$port" 10 || { cat "$tmp/a.log"; echo "FAIL: daemon a did not start" >&2; exit 1; }
rg_wait_port "$port2" 10 || { cat "$tmp/b.log"; echo "FAIL: daemon b did not start" >&2; exit 1; }

# The session, both daemons, then the daemons stop (flushing the audit).
timeout 60 python3 - "$port" "$port2" "$tmp" <<'PY' || rg_fail "milter sessions"
import socket, struct, sys, os
sys.path.insert(0, os.environ.get("top_srcdir", ".") + "/tests/hostile")
from hostile_text import STRINGS

def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data

def recv(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise SystemExit("milter closed the connection")
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            raise SystemExit("milter closed the connection")
        body += chunk
    return body

for port in sys.argv[1:3]:
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0, 0x1fffff)))
    recv(s)
    s.sendall(packet(b"C", STRINGS["client"] + b"\0U"))
    recv(s)
    s.sendall(packet(b"H", STRINGS["helo"] + b"\0"))
    recv(s)
    s.sendall(packet(b"M", STRINGS["sender"] + b"\0"))
    recv(s)
    s.sendall(packet(b"R", STRINGS["rcpt"] + b"\0"))
    recv(s)
    s.sendall(packet(b"Q"))
    s.close()
PY
kill -TERM "$pid_a" "$pid_b"
rg_wait_pid "$pid_a" 15
rg_wait_pid "$pid_b" 15

# The same strings, as files, for the command lines.
python3 - "$tmp" <<'PY'
import os, sys
sys.path.insert(0, os.environ.get("top_srcdir", ".") + "/tests/hostile")
from hostile_text import STRINGS
for name, value in STRINGS.items():
    open(sys.argv[1] + "/" + name, "wb").write(value)
PY
"$CHECK" -c "$tmp/a.conf" --client 192.0.2.9 --client-name "$(cat "$tmp/client")" \
	--helo "$(cat "$tmp/helo")" --from "$(cat "$tmp/sender")" \
	--rcpt "$(cat "$tmp/rcpt")" > "$tmp/check.txt" 2>&1
"$CHECK" -c "$tmp/a.conf" --client 192.0.2.9 --json --from "$(cat "$tmp/sender")" \
	--rcpt "$(cat "$tmp/rcpt")" > "$tmp/check.json" 2>&1
"$AUDIT" -d "$tmp/audit.db" tail -n 10 > "$tmp/tail.txt" 2>&1
"$AUDIT" -d "$tmp/audit.db" export --format csv > "$tmp/export.csv" 2>&1
"$AUDIT" -d "$tmp/audit.db" export --format json > "$tmp/export.json" 2>&1

out=$(python3 - "$tmp" <<'PY'
import csv, io, json, os, re, sys
sys.path.insert(0, os.environ.get("top_srcdir", ".") + "/tests/hostile")
from hostile_text import STRINGS, unescape, as_unicode

tmp = sys.argv[1]
failures = 0

def check(name, got, want):
    global failures
    if got == want:
        print("ok: " + name)
    else:
        failures += 1
        print("FAIL: %s: got %r, want %r" % (name, got, want))

def strip(path):
    return path[1:-1] if path.startswith(b"<") and path.endswith(b">") else path

def fields(line):
    """key=value fields of a log-shaped line (values have no space)"""
    out = {}
    for m in re.finditer(rb' ([a-z_]+)=(\S*)', line):
        out.setdefault(m.group(1), []).append(m.group(2))
    return out

def one(f, key, name):
    vals = f.get(key, [])
    check("%s: exactly one %s= field" % (name, key.decode()), len(vals), 1)
    return vals[0] if vals else b""

def clean_line(line, name):
    check("%s: no control byte" % name,
          [c for c in line if c < 0x20 or c == 0x7f], [])
    try:
        line.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    check("%s: valid UTF-8" % name, valid, True)

# the daemon's verdict line, RCPT stage
lines = [l for l in open(tmp + "/a.log", "rb").read().split(b"\n")
         if b" stage=rcpt " in l]
check("log line: one RCPT verdict", len(lines), 1)
line = lines[0] if lines else b""
clean_line(line, "log line")
f = fields(line)
for key in (b"action", b"rule", b"code"):
    one(f, key, "log line")
check("log line: helo= reads back", unescape(one(f, b"helo", "log line")), STRINGS["helo"])
client = one(f, b"client", "log line")
check("log line: client= name reads back",
      unescape(client[:client.rfind(b"[")]), STRINGS["client"])
check("log line: from= reads back", unescape(strip(one(f, b"from", "log line"))), strip(STRINGS["sender"]))
check("log line: to= reads back", unescape(strip(one(f, b"to", "log line"))), strip(STRINGS["rcpt"]))

# the row diverted to the log by the daemon that cannot write its database
lines = [l for l in open(tmp + "/b.log", "rb").read().split(b"\n")
         if b"audit: diverted: " in l and b" stage=rcpt " in l]
check("diverted row: one RCPT row", len(lines), 1)
line = lines[0] if lines else b""
clean_line(line, "diverted row")
f = fields(line)
for key in (b"action", b"rule", b"code"):
    one(f, key, "diverted row")
check("diverted row: helo= reads back", unescape(one(f, b"helo", "diverted row")), STRINGS["helo"])
check("diverted row: client= reads back", unescape(one(f, b"client", "diverted row")), STRINGS["client"])
check("diverted row: from= reads back", unescape(one(f, b"from", "diverted row")), STRINGS["sender"])
check("diverted row: to= reads back", unescape(one(f, b"to", "diverted row")), STRINGS["rcpt"])

# relayguard-check, human
text = open(tmp + "/check.txt", "rb").read()
clean_line(text.replace(b"\n", b""), "check human")
m = re.search(rb"^rcpt: (.*)$", text, re.M)
check("check human: rcpt line reads back", unescape(m.group(1)) if m else None, STRINGS["rcpt"])

# relayguard-check --json
objs = [json.loads(l) for l in open(tmp + "/check.json", "rb").read().split(b"\n") if l]
rcpt = [o for o in objs if o.get("stage") == "rcpt"]
check("check json: rcpt input", rcpt[0]["input"] if rcpt else None, as_unicode(STRINGS["rcpt"]))
mail = [o for o in objs if o.get("stage") == "mail"]
check("check json: mail input", mail[0]["input"] if mail else None, as_unicode(STRINGS["sender"]))

# relayguard-audit tail: log-shaped lines
lines = [l for l in open(tmp + "/tail.txt", "rb").read().split(b"\n") if b" stage=rcpt " in l]
check("audit tail: one RCPT row", len(lines), 1)
line = lines[0] if lines else b""
clean_line(line, "audit tail")
f = fields(line)
for key in (b"action", b"rule", b"code"):
    one(f, key, "audit tail")
check("audit tail: helo= reads back", unescape(one(f, b"helo", "audit tail")), STRINGS["helo"])
check("audit tail: to= reads back", unescape(one(f, b"to", "audit tail")), STRINGS["rcpt"])

# relayguard-audit export --format csv
raw = open(tmp + "/export.csv", "rb").read()
rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
rcpt = [r for r in rows if r["stage"] == "rcpt"]
check("audit csv: one RCPT row", len(rcpt), 1)
if rcpt:
    check("audit csv: helo", rcpt[0]["helo"], as_unicode(STRINGS["helo"]))
    check("audit csv: rcpt", rcpt[0]["rcpt"], as_unicode(STRINGS["rcpt"]))
    check("audit csv: client_name, the formula neutralised",
          rcpt[0]["client_name"], "'" + as_unicode(STRINGS["client"]))

# relayguard-audit export --format json
objs = [json.loads(l) for l in open(tmp + "/export.json", "rb").read().split(b"\n") if l]
rcpt = [o for o in objs if o.get("stage") == "rcpt"]
check("audit json: one RCPT row", len(rcpt), 1)
if rcpt:
    for key in ("helo", "rcpt", "sender"):
        check("audit json: " + key, rcpt[0][key],
              as_unicode(STRINGS[{"helo": "helo", "rcpt": "rcpt", "sender": "sender"}[key]]))
    check("audit json: client_name", rcpt[0]["client_name"], as_unicode(STRINGS["client"]))
sys.exit(1 if failures else 0)
PY
)
status=$?
printf '%s\n' "$out" | grep '^ok: ' | sed 's/^ok: //' | while read -r l; do echo "ok: $l"; done
printf '%s\n' "$out" | grep '^FAIL: ' >&2
rg_checks=$((rg_checks + $(printf '%s\n' "$out" | grep -c '^\(ok\|FAIL\): ')))
rg_failures=$((rg_failures + $(printf '%s\n' "$out" | grep -c '^FAIL: ')))
[ "$status" -eq 0 ] || [ "$rg_failures" -gt 0 ] || rg_fail "the readers did not finish"
rg_done
