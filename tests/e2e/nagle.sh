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
#
# relayguard runs without client memory here, so that it negotiates what
# it can leave unanswered (no reply at connect and HELO): the check is on
# the leanest negotiation, where a step left unanswered too many (DATA)
# would bring the stall back.  Both socket kinds are checked: the stall
# is TCP's, but a unix socket must show no per-message stall either.
# (bash: the library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

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

# nagle_check KIND - relayguard on a KIND (inet or unix) socket, Postfix
# wired to it and a Postfix without milter: the timing check
nagle_check() {
	local kind=$1 with_port plain_port with_dir plain_dir best_ok=0
	local attempt plain with mark accepted
	rg_start_relayguard "$(rg_e2e_conf "client_track_size = 0")" "$kind" || exit 1
	case "$RG_MILTER_SOCKET" in
	"$kind":*) ;;
	*) rg_fail "the milter must listen on a $kind: socket for this check" ;;
	esac
	rg_start_postfix "$RG_MILTER_SOCKET" || exit 1
	with_port=$RG_POSTFIX_PORT with_dir=$RG_POSTFIX_DIR
	rg_start_postfix none || exit 1
	plain_port=$RG_POSTFIX_PORT plain_dir=$RG_POSTFIX_DIR

	# Warm up: the first session of a fresh Postfix spawns its daemons.
	run_ms "$with_port" >/dev/null
	run_ms "$plain_port" >/dev/null

	for attempt in 1 2 3; do
		plain=$(run_ms "$plain_port")
		mark=$(rg_log_mark)
		with=$(run_ms "$with_port")
		echo "# $kind, attempt $attempt: $MESSAGES messages: ${plain} ms without milter, ${with} ms with relayguard"
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
		rg_pass "$kind: no Nagle stall: ${with} ms with relayguard <= 2000 ms and <= 5 x ${plain} ms"
	else
		rg_fail "$kind: Postfix + relayguard: too slow (${with} ms for $MESSAGES messages, ${plain} ms without the milter): the ~40 ms/message Nagle stall is back?"
	fi
	rg_stop_postfix "$with_dir"
	rg_stop_postfix "$plain_dir"
	rg_stop_relayguard
}

nagle_check inet
nagle_check unix
rg_done
