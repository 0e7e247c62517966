#!/bin/bash
# tests/e2e/nagle.sh - regression check for the Nagle / delayed-ACK stall
#
# With an inet: milter socket, a milter that does not answer the DATA
# stage (no xxfi_data) leaves Postfix's end-of-message packet waiting
# behind an unacknowledged small write: about 40 ms per message on Linux
# (measured: 500 serial messages 1.5 s without milter, 22.8 s with it).
# 100 serial messages through Postfix + relayguard over TCP must
# therefore stay within 2 s in total and within 5 times the same run
# without the milter: the stall alone would add ~4 s.  Timing noise (a
# busy machine, tests run in parallel) is allowed for by measuring up to
# three times and keeping the best run; the stall is on every message,
# so no run could pass with it.
# (bash: the library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/e2e/mta.sh"
. "$top_srcdir/tests/e2e/cases.sh"

rg_e2e_require_root

: "${SMTP_SOURCE:=$(command -v smtp-source || echo /usr/sbin/smtp-source)}"
rg_require "$SMTP_SOURCE" "$POSTFIX" "$RG_RELAYGUARD"

MESSAGES=100

# run_ms PORT - send $MESSAGES messages one after the other (one session
# at a time, a new connection each) to 127.0.0.1:PORT; print the
# milliseconds taken, or "fail"
run_ms() {
	local start end
	start=$(date +%s%N)
	timeout 60 "$SMTP_SOURCE" -s 1 -m "$MESSAGES" -f "$SENDER" \
	    -t alice@example.test "127.0.0.1:$1" >/dev/null 2>&1 || { echo fail; return; }
	end=$(date +%s%N)
	echo $(( (end - start) / 1000000 ))
}

rg_start_relayguard "$(rg_e2e_conf)" inet || exit 1
case "$RG_MILTER_SOCKET" in
inet:*) ;;
*) rg_fail "the milter must listen on an inet: socket for this check" ;;
esac
rg_start_postfix "$RG_MILTER_SOCKET" || exit 1
with_port=$RG_POSTFIX_PORT
rg_start_postfix none || exit 1
plain_port=$RG_POSTFIX_PORT

# Warm up: the first session of a fresh Postfix spawns its daemons.
run_ms "$with_port" >/dev/null
run_ms "$plain_port" >/dev/null

best_ok=0
for attempt in 1 2 3; do
	plain=$(run_ms "$plain_port")
	mark=$(rg_log_mark)
	with=$(run_ms "$with_port")
	echo "# attempt $attempt: $MESSAGES messages: ${plain} ms without milter, ${with} ms with relayguard"
	if [ "$plain" = fail ] || [ "$with" = fail ]; then
		continue
	fi
	accepted=$(rg_log_since "$mark" | grep -c 'stage=rcpt .*action=accept')
	if [ "$accepted" -lt "$MESSAGES" ]; then
		echo "# only $accepted accept verdicts logged: the milter did not see every message"
		continue
	fi
	if [ "$with" -le 2000 ] && [ "$with" -le $((plain * 5)) ]; then
		best_ok=1
		break
	fi
done
if [ "$best_ok" = 1 ]; then
	rg_pass "no Nagle stall: ${with} ms with relayguard <= 2000 ms and <= 5 x ${plain} ms"
else
	rg_fail "Postfix + relayguard over inet: too slow (${with} ms for $MESSAGES messages, ${plain} ms without the milter): the ~40 ms/message Nagle stall is back?"
fi
rg_done
