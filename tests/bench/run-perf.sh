#!/bin/bash
# tests/bench/run-perf.sh - relayguard's speed, each figure against a
# baseline measured in the same run (make bench-perf-run)
#
# Usage: run-perf.sh [--doc FILE [--command TEXT]] [PART...]
#
# PARTs (default: all three):
#   milter   tests/bench/milter-load against relayguard (file directory,
#            audit on and off) and against tests/bench/noop-milter, the
#            libmilter ceiling; inet and unix sockets
#   e2e      Postfix + smtp-source (discard transport): Postfix alone,
#            Postfix + relayguard (file directory, audit on), Postfix's
#            own relay_recipient_maps = ldap: against a throwaway slapd,
#            Postfix + relayguard with directory = ldap; throughput with
#            10 sessions and per-message time in one serial session
#   scaling  milter throughput at 1, 10, 100 and 500 sessions (relayguard
#            and the no-op filter), relayguard's memory idle and holding
#            100, 250 and 500 open milter connections
#   policy   tests/bench/policy-load against relayguard's policy door and
#            milter-load against its milter door, one daemon, at 1, 10,
#            100 and 500 connections, median of rounds with the spread
#   doors    Postfix + smtp-source through each door: Postfix alone, the
#            no-op milter answering connect/HELO or not, relayguard's
#            milter before and after the negotiation change, its policy
#            door (inet, unix; file, and LDAP with a warm cache), Postfix's
#            own relay_recipient_maps = ldap:; median of rounds, spread
# With --doc, each part runs through tests/bench/run-bench.sh, which
# writes its section (bench-perf-PART) of FILE with the machine and date.
# Every process started is stopped by the exit trap of tests/lib/mta.sh;
# each part takes one to three minutes.  Needs root (Postfix).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

doc= command="tests/bench/run-perf.sh"
while [ $# -gt 0 ]; do
	case "$1" in
	--doc) doc=$2; shift 2 ;;
	--command) command=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || set -- milter e2e scaling policy doors
if [ -n "$doc" ]; then
	status=0
	for part in "$@"; do
		timeout 900 bash "$top_srcdir/tests/bench/run-bench.sh" --doc "$doc" \
			--command "$command" "bench-perf-$part" \
			bash "$0" "$part" || status=1
	done
	exit $status
fi
if [ $# -gt 1 ]; then
	for part in "$@"; do bash "$0" "$part" || exit 1; done
	exit 0
fi
part=$1
case "$part" in
milter|e2e|scaling|policy|doors) ;;
*) echo "run-perf.sh: unknown part $part (milter, e2e, scaling, policy, doors)" >&2; exit 2 ;;
esac

. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/stats.sh"	# median, lo, hi, ratios, decide
LOAD=$top_builddir/tests/bench/milter-load
NOOP=$top_builddir/tests/bench/noop-milter
: "${SMTP_SOURCE:=$(command -v smtp-source || echo /usr/sbin/smtp-source)}"
: "${SLAPD:=/usr/sbin/slapd}"
PLOAD=$top_builddir/tests/bench/policy-load
rg_require "$RG_RELAYGUARD" "$LOAD" "$NOOP" "$PLOAD"
tmp=$(rg_e2e_tmpdir)
USERS=10000

# proc_kb PID FIELD - a /proc/PID/status figure in kB (VmRSS, VmHWM)
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# start_noop SOCKET [-a] - the no-op filter in the background (-a: it
# answers connect and HELO); sets NOOP_PID
start_noop() {
	local i
	"$NOOP" ${2:-} "$1" >>"$tmp/noop.log" 2>&1 &
	NOOP_PID=$!
	rg_e2e_on_exit "kill $NOOP_PID"
	for i in $(seq 1 100); do
		case "$1" in
		unix:*) [ -S "${1#unix:}" ] && return 0 ;;
		inet:*) local p=${1#inet:}
			(exec 3<>"/dev/tcp/${p#*@}/${p%@*}") 2>/dev/null && return 0 ;;
		esac
		sleep 0.1
	done
	echo "noop-milter did not listen on $1" >&2
	exit 1
}

# start_rg CONF SOCKET - a relayguard (tests/lib/mta.sh); sets RG_PID, RG_SOCK
start_rg() {
	rg_start_relayguard "$1" "$2" >&2 || exit 1
	RG_PID=$RG_MILTER_PID
	RG_SOCK=$RG_MILTER_SOCKET
}

# rg_conf AUDIT [DIRECTORY_LINES] - relayguard.conf text for the load mix
rg_conf() {
	echo "local_domains = example.org, example.net"
	echo "local_addresses = 192.0.2.25"
	echo "directory = file:$tmp/recipients"
	echo "harvest_limit = 0"
	echo "client_track_size = 0"
	echo "audit_db = $1"
}

# mload KEY PID SOCKET ARGS... - one milter-load run against the milter
# PID; keeps rate, latencies and the milter's CPU per recipient under KEY
declare -A RATE P50 P99 P999 CPU BAD
mload() {
	local key=$1 pid=$2 sock=$3 out c0 c1 rate p50 p99 p999 rcpts mm err
	shift 3
	c0=$(cpu_ticks "$pid")
	out=$(timeout 120 "$LOAD" -q -s "$sock" "$@")
	c1=$(cpu_ticks "$pid")
	read -r rate p50 p99 p999 rcpts mm err <<<"$(load_result "$out")"
	if [ -z "$rate" ]; then
		echo "milter-load failed ($key): $out" >&2
		exit 1
	fi
	BAD[$key]=$(( ${BAD[$key]:-0} + mm + err ))
	if [ "$rate" -ge "${RATE[$key]:-0}" ]; then
		RATE[$key]=$rate P50[$key]=$p50 P99[$key]=$p99 P999[$key]=$p999
		CPU[$key]=$(cpu_us $((c1 - c0)) "$rcpts")
	fi
}

# row LABEL KEY BASEKEY - one table row, with the ratio to BASEKEY
row() {
	printf '%-44s %8d %6.2f %8.0f %8.0f %8.0f %8s %5d\n' "$1" "${RATE[$2]}" \
		"$(awk -v a="${RATE[$2]}" -v b="${RATE[$3]}" 'BEGIN { print b ? a / b : 0 }')" \
		"${P50[$2]}" "${P99[$2]}" "${P999[$2]}" "${CPU[$2]}" "${BAD[$2]}"
}

header() {
	printf '%-44s %8s %6s %8s %8s %8s %8s %5s\n' "$1" "rcpt/s" "ratio" \
		"p50 us" "p99 us" "p99.9 us" "cpu us" "bad"
}

"$LOAD" -P -u "$USERS" >"$tmp/recipients"

###########################################################################
part_milter() {
	local rounds=3 secs=3 r args="-c 10 -k 5 -m 5 -t 3 -u $USERS"
	local noop_inet="inet:$(rg_free_port)@127.0.0.1"
	start_noop "$noop_inet"; local noop_inet_pid=$NOOP_PID
	start_noop "unix:$tmp/noop.sock"; local noop_unix_pid=$NOOP_PID
	start_rg "$(rg_conf none)" inet; local none_pid=$RG_PID none_sock=$RG_SOCK
	start_rg "$(rg_conf "$tmp/audit-inet.db")" inet; local audit_pid=$RG_PID audit_sock=$RG_SOCK
	start_rg "$(rg_conf "$tmp/audit-unix.db")" unix; local audit_unix_pid=$RG_PID audit_unix_sock=$RG_SOCK
	chmod 666 "$tmp/noop.sock"

	echo "milter protocol load: tests/bench/milter-load, 10 concurrent sessions"
	echo "(one epoll thread), each: connect, HELO, 5 x (MAIL, 5 RCPT, ABORT), QUIT,"
	echo "reconnect; the recipient mix of milter-load(1): 48 % known users,"
	echo "20 % unknown, 15 % plain relay, 10 % relay tricks, 7 % other local forms;"
	echo "every answer checked. Directory: file, $USERS users. relayguard logs"
	echo "one line per verdict to a file (-s); best of $rounds rounds of $secs s,"
	echo "variants interleaved. 1-minute load average at start: $(load_avg)"
	echo
	echo "commands:"
	echo "  noop-milter inet:PORT@127.0.0.1 | unix:PATH    (baseline)"
	echo "  relayguard -f -s -c CONF   (CONF: local_domains = example.org, example.net;"
	echo "      local_addresses = 192.0.2.25; directory = file:RECIPIENTS;"
	echo "      harvest_limit = 0; audit_db = none | FILE)"
	echo "  milter-load -P -u $USERS > RECIPIENTS"
	echo "  milter-load -s SOCKET $args [-x accept for noop-milter]"
	echo
	for r in $(seq 1 $rounds); do
		mload noop "$noop_inet_pid" "$noop_inet" $args -x accept
		mload none "$none_pid" "$none_sock" $args
		mload audit "$audit_pid" "$audit_sock" $args
		mload noop_unix "$noop_unix_pid" "unix:$tmp/noop.sock" $args -x accept
		mload audit_unix "$audit_unix_pid" "$audit_unix_sock" $args
	done
	header "variant (ratio: to noop-milter, same socket)"
	row "noop-milter, inet (baseline)" noop noop
	row "relayguard, file directory, audit off, inet" none noop
	row "relayguard, file directory, audit on, inet" audit noop
	row "noop-milter, unix (baseline)" noop_unix noop_unix
	row "relayguard, file directory, audit on, unix" audit_unix noop_unix
	echo "(cpu us: the milter process's CPU time per recipient, all steps"
	echo " included; bad: mismatched answers + protocol errors, all rounds)"
	echo
	awk -v on="${RATE[audit]}" -v off="${RATE[none]}" 'BEGIN {
		printf "audit on / audit off (inet): %.3f\n", on / off }'
	awk -v r="${RATE[audit]}" -v p="${P99[audit]}" -v ru="${RATE[audit_unix]}" \
	    -v pu="${P99[audit_unix]}" 'BEGIN {
		printf "aim >= 20,000 rcpt verdicts/s with audit on, p99 < 1 ms:\n"
		printf "  inet: %d/s, p99 %.0f us: %s\n", r, p,
			(r >= 20000 && p < 1000) ? "met" : "NOT met in this run"
		printf "  unix: %d/s, p99 %.0f us: %s\n", ru, pu,
			(ru >= 20000 && pu < 1000) ? "met" : "NOT met in this run"
	}'
	echo "1-minute load average at end: $(load_avg)"
	echo "RESULT noop_rate=${RATE[noop]} audit_rate=${RATE[audit]} none_rate=${RATE[none]}"
	[ "${BAD[noop]}${BAD[none]}${BAD[audit]}${BAD[noop_unix]}${BAD[audit_unix]}" = 00000 ] ||
		{ echo "mismatched answers or protocol errors" >&2; exit 1; }
}

###########################################################################
# smtp_run KEY PORT SESSIONS MESSAGES - one timed smtp-source run; keeps
# messages/s under KEY (best) and ms per message under KEY (best)
declare -A MSGS MSPM
smtp_run() {
	local key=$1 port=$2 s=$3 m=$4 t0 t1 rate ms
	t0=$(date +%s%N)
	timeout 120 "$SMTP_SOURCE" -s "$s" -m "$m" -l 1024 -t user@example.test \
		-f sender@client.example.net "127.0.0.1:$port" >"$tmp/smtp-source.out" 2>&1 ||
		{ echo "smtp-source failed ($key):" >&2; cat "$tmp/smtp-source.out" >&2; exit 1; }
	t1=$(date +%s%N)
	rate=$(( m * 1000000000 / (t1 - t0) ))
	ms=$(awk -v d=$((t1 - t0)) -v m="$m" 'BEGIN { printf "%.3f", d / m / 1e6 }')
	if [ "$s" -gt 1 ]; then
		[ "$rate" -gt "${MSGS[$key]:-0}" ] && MSGS[$key]=$rate
	elif [ -z "${MSPM[$key]:-}" ] || awk -v a="$ms" -v b="${MSPM[$key]}" 'BEGIN { exit !(a < b) }'; then
		MSPM[$key]=$ms
	fi
}

# delivered DIR - messages Postfix's discard transport delivered so far
delivered() { grep -c 'status=sent (' "$1/maillog" 2>/dev/null; }

# relay_check NAME PORT - the stack must refuse relaying and unknown users
relay_check() {
	rg_smtp "$2" sender@client.example.net victim@remote.test >/dev/null
	case "$RG_SMTP_RCPT" in
	5*) ;;
	*) echo "$1: relay attempt got \"$RG_SMTP_RCPT\": an open relay" >&2; exit 1 ;;
	esac
	rg_smtp "$2" sender@client.example.net nosuchuser@example.test >/dev/null
	case "$RG_SMTP_RCPT" in
	5*) ;;
	*) echo "$1: unknown user got \"$RG_SMTP_RCPT\"" >&2; exit 1 ;;
	esac
	rg_smtp "$2" sender@client.example.net user@example.test >/dev/null
	case "$RG_SMTP_RCPT" in
	250*) ;;
	*) echo "$1: a valid user got \"$RG_SMTP_RCPT\"" >&2; exit 1 ;;
	esac
	echo "  $1: relay refused, unknown user refused, valid user accepted"
}

# perf_slapd - a throwaway slapd with the users of $tmp/e2e-recipients and
# Postfix's ldap table for it ($tmp/ldap-rcpt.cf); sets LDAP_PORT, or
# returns 1 when slapd is not installed (parts e2e and doors)
perf_slapd() {
	local u
	[ -x "$SLAPD" ] && command -v slapadd >/dev/null || return 1
	. "$top_srcdir/tests/lib/slapd.sh"
	mkdir -p "$tmp/slapd"
	ldap_slapd_init "$tmp/slapd" >&2 || exit 1
	sed 's/@.*//' "$tmp/e2e-recipients" | while read -r u; do
		printf 'dn: uid=%s,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s@example.test\n\n' \
			"$u" "$u" "$u" "$u" "$u"
	done >"$tmp/users.ldif"
	slapadd -q -f "$tmp/slapd/slapd.conf" -l "$tmp/users.ldif" >&2 || exit 1
	LDAP_PORT=$(rg_free_port)
	ldap_slapd_start "$tmp/slapd" "$LDAP_PORT" >&2 || exit 1
	rg_e2e_on_exit "ldap_slapd_stop $tmp/slapd"
	printf '%s\n' "server_host = ldap://127.0.0.1:$LDAP_PORT" \
		"search_base = dc=example,dc=test" "version = 3" "bind = no" \
		"query_filter = (|(mail=%s)(mailLocalAddress=%s))" \
		"result_attribute = mail" >"$tmp/ldap-rcpt.cf"
	chmod 644 "$tmp/ldap-rcpt.cf"
}

part_e2e() {
	local rounds=2 r i ldap_port alone_port rg_port native_port rgldap_port
	local msgs=1000 serial=200 have_ldap=1 pf_alone pf_rg pf_native pf_rgldap
	local noop_port noop_sock="inet:$(rg_free_port)@127.0.0.1"
	rg_require "$POSTFIX" "$SMTP_SOURCE"
	{ echo user@example.test; for i in 1 2 3 4 5; do echo "${i}user@example.test"; done
	  echo postmaster@example.test; } >"$tmp/e2e-recipients"

	# A throwaway slapd holding the same users (and the test seed).
	if perf_slapd; then ldap_port=$LDAP_PORT; else have_ldap=0; fi

	local conf="local_domains = example.test
directory = file:$tmp/e2e-recipients
audit_db = $tmp/e2e-audit.db"
	rg_start_postfix none >&2 || exit 1
	alone_port=$RG_POSTFIX_PORT pf_alone=$RG_POSTFIX_DIR
	start_noop "$noop_sock"
	rg_start_postfix "$noop_sock" >&2 || exit 1
	noop_port=$RG_POSTFIX_PORT
	start_rg "$conf" inet
	rg_start_postfix "$RG_SOCK" >&2 || exit 1
	rg_port=$RG_POSTFIX_PORT pf_rg=$RG_POSTFIX_DIR
	if [ "$have_ldap" = 1 ]; then
		# Native: nobody is trusted (mynetworks empty), Postfix's own
		# reject_unauth_destination, recipients checked in LDAP.
		rg_start_postfix none "mynetworks =" \
			"relay_recipient_maps = ldap:$tmp/ldap-rcpt.cf" >&2 || exit 1
		native_port=$RG_POSTFIX_PORT pf_native=$RG_POSTFIX_DIR
		start_rg "local_domains = example.test
directory = ldap
ldap_uri = ldap://127.0.0.1:$ldap_port
ldap_base = dc=example,dc=test
audit_db = $tmp/e2e-audit-ldap.db" inet
		rg_start_postfix "$RG_SOCK" >&2 || exit 1
		rgldap_port=$RG_POSTFIX_PORT pf_rgldap=$RG_POSTFIX_DIR
	fi

	echo "end to end: Postfix $(postconf -d -h mail_version 2>/dev/null) (smtpd on 127.0.0.1, discard"
	echo "transport) driven by smtp-source; 1 KB messages, one recipient each"
	echo "(user@example.test), one SMTP connection per message. Throughput:"
	echo "-s 10 -m $msgs (messages/s); serial: -s 1 -m $serial (ms per message,"
	echo "mean). Best of $rounds rounds, variants interleaved. relayguard on an inet"
	echo "socket, audit on, log to a file. 1-minute load average at start: $(load_avg)"
	echo
	echo "commands:"
	echo "  smtp-source -s 10 -m $msgs -l 1024 -t user@example.test -f sender@client.example.net 127.0.0.1:PORT"
	echo "  smtp-source -s 1 -m $serial -l 1024 -t user@example.test -f sender@client.example.net 127.0.0.1:PORT"
	echo "  Postfix: tests/lib/mta.sh rg_start_postfix (mynetworks = 127.0.0.0/8,"
	echo "    smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination,"
	echo "    relay_domains = example.test, smtpd_milters = MILTER or none)"
	echo "  native: the same with mynetworks = (empty) and"
	echo "    relay_recipient_maps = ldap:CF (query_filter = (|(mail=%s)(mailLocalAddress=%s)))"
	echo "  relayguard: local_domains = example.test, directory = file:FILE | ldap,"
	echo "    audit_db = FILE; noop-milter: tests/bench/noop-milter (accepts all)"
	echo
	echo "sanity (swaks through each stack):"
	relay_check "Postfix + relayguard (file)" "$rg_port"
	if [ "$have_ldap" = 1 ]; then
		relay_check "Postfix native (ldap:)" "$native_port"
		relay_check "Postfix + relayguard (ldap)" "$rgldap_port"
	fi
	echo
	# Warm up every stack (process pools, caches, LDAP connections).
	for i in $alone_port $noop_port $rg_port ${native_port:-} ${rgldap_port:-}; do
		smtp_run warm "$i" 5 100
	done
	local d0_alone d0_rg
	d0_alone=$(delivered "$pf_alone") d0_rg=$(delivered "$pf_rg")
	for r in $(seq 1 $rounds); do
		smtp_run alone "$alone_port" 10 $msgs
		smtp_run noop "$noop_port" 10 $msgs
		smtp_run rg "$rg_port" 10 $msgs
		[ "$have_ldap" = 1 ] && smtp_run native "$native_port" 10 $msgs
		[ "$have_ldap" = 1 ] && smtp_run rgldap "$rgldap_port" 10 $msgs
		smtp_run alone "$alone_port" 1 $serial
		smtp_run noop "$noop_port" 1 $serial
		smtp_run rg "$rg_port" 1 $serial
		[ "$have_ldap" = 1 ] && smtp_run native "$native_port" 1 $serial
		[ "$have_ldap" = 1 ] && smtp_run rgldap "$rgldap_port" 1 $serial
	done
	printf '%-42s %10s %6s %12s %12s\n' "stack" "msgs/s" "ratio" "ms/msg (-s 1)" "added ms"
	e2e_row "Postfix alone (baseline)" alone
	e2e_row "Postfix + noop-milter (milter ceiling)" noop
	e2e_row "Postfix + relayguard (file, audit on)" rg
	if [ "$have_ldap" = 1 ]; then
		e2e_row "Postfix native (relay_recipient_maps ldap:)" native
		e2e_row "Postfix + relayguard (ldap, audit on)" rgldap
	else
		echo "(slapd not installed: the LDAP rows were not measured)"
	fi
	echo "(ratio and added ms: against Postfix alone)"
	awk -v g="${MSGS[rg]}" -v n="${MSGS[noop]}" -v lg="${MSPM[rg]}" -v ln="${MSPM[noop]}" 'BEGIN {
		printf "relayguard against the no-op milter: %.3f of its throughput, %+.3f ms per message\n",
			g / n, lg - ln }'
	echo
	awk -v a="${MSGS[alone]}" -v g="${MSGS[rg]}" -v la="${MSPM[alone]}" -v lg="${MSPM[rg]}" 'BEGIN {
		cost = (a - g) / a * 100; add = lg - la
		printf "aim: at most 5 %% throughput cost: %.1f %% (%s); ", cost,
			cost <= 5 ? "met" : "NOT met in this run"
		printf "under 1 ms added per message serially: %.3f ms (%s)\n", add,
			add < 1 ? "met" : "NOT met in this run"
	}'
	# Every message of the measured runs must have been delivered.
	local want=$(( rounds * (msgs + serial) ))
	[ $(( $(delivered "$pf_alone") - d0_alone )) -ge "$want" ] ||
		{ echo "Postfix alone delivered fewer than $want messages" >&2; exit 1; }
	[ $(( $(delivered "$pf_rg") - d0_rg )) -ge "$want" ] ||
		{ echo "Postfix + relayguard delivered fewer than $want messages" >&2; exit 1; }
	echo "1-minute load average at end: $(load_avg)"
	echo "RESULT alone_msgs=${MSGS[alone]} rg_msgs=${MSGS[rg]} alone_ms=${MSPM[alone]} rg_ms=${MSPM[rg]}"
}

# e2e_row LABEL KEY - one row of the end-to-end table
e2e_row() {
	printf '%-42s %10d %6.3f %12.3f %12.3f\n' "$1" "${MSGS[$2]}" \
		"$(awk -v a="${MSGS[$2]}" -v b="${MSGS[alone]}" 'BEGIN { print a / b }')" \
		"${MSPM[$2]}" "$(awk -v a="${MSPM[$2]}" -v b="${MSPM[alone]}" 'BEGIN { print a - b }')"
}

###########################################################################
# hold_rss PID SOCKET N - hold N open milter connections to relayguard
# PID; print its VmRSS (kB) and thread count while they are open
hold_rss() {
	local pid=$1 sock=$2 n=$3 lpid i rss threads
	"$LOAD" -s "$sock" -c "$n" -H 1 -k 5 -u "$USERS" >"$tmp/hold.$n.out" 2>&1 &
	lpid=$!
	for i in $(seq 1 300); do
		grep -q '^holding' "$tmp/hold.$n.out" && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	rss=$(proc_kb "$pid" VmRSS)
	threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
	if ! wait "$lpid" || ! grep -q "^holding $n connections" "$tmp/hold.$n.out"; then
		echo "milter-load -H with $n connections failed:" >&2
		cat "$tmp/hold.$n.out" >&2
		exit 1
	fi
	echo "$rss $threads"
}

part_scaling() {
	local c args rss0 rss threads n slope hwm
	local noop_sock="inet:$(rg_free_port)@127.0.0.1"
	start_noop "$noop_sock"
	local noop_pid=$NOOP_PID
	start_rg "$(rg_conf "$tmp/scaling.db")" inet
	local rg_pid=$RG_PID rg_sock=$RG_SOCK

	echo "scaling: tests/bench/milter-load against relayguard (file directory,"
	echo "audit on, inet socket) and noop-milter at 1, 10, 100 and 500 concurrent"
	echo "sessions (one generator thread; 5 RCPT per transaction, 5 transactions"
	echo "per connection; best of 2 rounds of 3 s). 1-minute load average at start: $(load_avg)"
	echo
	echo "commands: milter-load -s SOCKET -c N -k 5 -m 5 -t 3 -u $USERS [-x accept]"
	echo "          milter-load -s SOCKET -c N -H 1 -k 5 -u $USERS   (memory: hold N open)"
	echo
	# memory first, on a fresh daemon
	rss0=$(proc_kb "$rg_pid" VmRSS)
	local mem_lines="" t0
	t0=$(awk '$1 == "Threads:" { print $2 }' "/proc/$rg_pid/status")
	mem_lines=$(printf '%-34s %8d kB  %4d threads\n' "idle, no connection" "$rss0" "$t0")
	for n in 100 250 500; do
		read -r rss threads <<<"$(hold_rss "$rg_pid" "$rg_sock" "$n")"
		[ -n "$rss" ] || exit 1
		mem_lines="$mem_lines
$(printf '%-34s %8d kB  %4d threads  (+%.1f kB per connection)\n' \
			"$n open milter connections" "$rss" "$threads" \
			"$(awk -v a="$rss" -v b="$rss0" -v n="$n" 'BEGIN { print (a - b) / n }')")"
		[ "$n" = 500 ] && slope=$rss
	done
	for r in 1 2; do
		for c in 1 10 100 500; do
			args="-c $c -k 5 -m 5 -t 3 -u $USERS"
			mload "noop$c" "$noop_pid" "$noop_sock" $args -x accept
			mload "rg$c" "$rg_pid" "$rg_sock" $args
		done
	done
	hwm=$(proc_kb "$rg_pid" VmHWM)
	header "sessions (ratio: relayguard / noop-milter)"
	for c in 1 10 100 500; do
		row "noop-milter, $c sessions" "noop$c" "noop$c"
		row "relayguard, $c sessions" "rg$c" "noop$c"
	done
	echo "(cpu us: the milter's CPU time per recipient; bad: mismatches + errors)"
	echo
	echo "relayguard memory (VmRSS from /proc/PID/status; audit on):"
	echo "$mem_lines"
	echo "peak (VmHWM) after all the runs above, up to 500 sessions: $hwm kB"
	awk -v r="$slope" 'BEGIN { printf "aim: under 50 MB with 500 connections: %.1f MB (%s)\n",
		r / 1024, r < 51200 ? "met" : "NOT met" }'
	echo "1-minute load average at end: $(load_avg)"
	echo "RESULT rss_idle_kb=$rss0 rss_500_kb=$slope hwm_kb=$hwm"
	for c in 1 10 100 500; do
		[ "${BAD[noop$c]}${BAD[rg$c]}" = 00 ] ||
			{ echo "mismatched answers or protocol errors at $c sessions" >&2; exit 1; }
	done
}

###########################################################################
# pload_run KEY PID PROGRAM SOCKET ARGS... - one load run (policy-load or
# milter-load) against the daemon PID; every round's figures kept
declare -A PR_RATE PR_P50 PR_P99 PR_P999 PR_CPU PR_BAD
pload_run() {
	local key=$1 pid=$2 prog=$3 sock=$4 out c0 c1 rate p50 p99 p999 rcpts mm err
	shift 4
	c0=$(cpu_ticks "$pid")
	out=$(timeout 120 "$prog" -q -s "$sock" "$@")
	c1=$(cpu_ticks "$pid")
	read -r rate p50 p99 p999 rcpts mm err <<<"$(load_result "$out")"
	[ -n "$rate" ] || { echo "load run failed ($key): $out" >&2; exit 1; }
	PR_RATE[$key]="${PR_RATE[$key]:-} $rate" PR_P50[$key]="${PR_P50[$key]:-} $p50"
	PR_P99[$key]="${PR_P99[$key]:-} $p99" PR_P999[$key]="${PR_P999[$key]:-} $p999"
	PR_CPU[$key]="${PR_CPU[$key]:-} $(cpu_us $((c1 - c0)) "$rcpts")"
	PR_BAD[$key]=$(( ${PR_BAD[$key]:-0} + mm + err ))
}

part_policy() {
	local rounds=3 r c key psock="inet:$(rg_free_port)@127.0.0.1"
	start_rg "$(rg_conf "$tmp/policy-bench.db")
policy_socket = $psock" inet
	local pid=$RG_PID msock=$RG_SOCK
	sleep 0.5
	echo "policy delegation protocol load: tests/bench/policy-load against"
	echo "relayguard's policy door, and tests/bench/milter-load against its milter"
	echo "door (the baseline: the same daemon, engine, directory and audit trail),"
	echo "at 1, 10, 100 and 500 connections; file directory of $USERS users, audit"
	echo "on, both sockets inet, one verdict log line per request to a file."
	echo "policy-load: one request at a time per connection, as smtpd; 5 recipients"
	echo "per transaction; half known users, a quarter unknown, a quarter relay"
	echo "attempts, every answer checked. milter-load: its own mix, connect, HELO,"
	echo "MAIL, 5 RCPT per transaction. $rounds rounds of 3 s, interleaved; figures:"
	echo "the median round, the spread over rounds in brackets. The machine is"
	echo "shared with other builds and tests (1-minute load average at start:"
	echo "$(load_avg)): absolute figures are low and noisy; the ratio of the two"
	echo "doors, round by round, is the figure to read."
	echo
	echo "commands:"
	echo "  relayguard -f -s -c CONF   (CONF: local_domains = example.org, example.net;"
	echo "      local_addresses = 192.0.2.25; directory = file:RECIPIENTS; harvest_limit = 0;"
	echo "      client_track_size = 0; audit_db = FILE; policy_socket = inet:PORT@127.0.0.1)"
	echo "  policy-load -s inet:PORT@127.0.0.1 -c N -k 5 -t 3 -u $USERS"
	echo "  milter-load -s inet:PORT@127.0.0.1 -c N -k 5 -m 5 -t 3 -u $USERS"
	echo
	for r in $(seq 1 $rounds); do
		for c in 1 10 100 500; do
			pload_run "policy$c" "$pid" "$PLOAD" "$psock" -c "$c" -k 5 -t 3 -u "$USERS"
			pload_run "milter$c" "$pid" "$LOAD" "$msock" -c "$c" -k 5 -m 5 -t 3 -u "$USERS"
		done
	done
	printf '%-20s %8s %-15s %8s %8s %9s %7s %4s\n' "door, connections" "rcpt/s" \
		"[spread]" "p50 us" "p99 us" "p99.9 us" "cpu us" "bad"
	for c in 1 10 100 500; do
		for key in "policy$c" "milter$c"; do
			# shellcheck disable=SC2086
			printf '%-20s %8.0f %-15s %8.0f %8.0f %9.0f %7s %4d\n' \
				"${key%%[0-9]*}, $c" "$(median ${PR_RATE[$key]})" \
				"[$(lo ${PR_RATE[$key]})..$(hi ${PR_RATE[$key]})]" \
				"$(median ${PR_P50[$key]})" "$(median ${PR_P99[$key]})" \
				"$(median ${PR_P999[$key]})" "$(median ${PR_CPU[$key]})" \
				"${PR_BAD[$key]}"
		done
	done
	echo "(cpu us: relayguard's CPU time per recipient, all steps of the door"
	echo " included; bad: mismatched answers + errors, all rounds)"
	echo
	for c in 1 10 100 500; do
		# shellcheck disable=SC2046
		decide "policy door / milter door, rcpt/s, $c connections" 1.0 \
			$(ratios "${PR_RATE[policy$c]}" "${PR_RATE[milter$c]}")
	done
	# shellcheck disable=SC2086
	awk -v p="$(median ${PR_P99[policy100]})" 'BEGIN {
		printf "aim: p99 under 1 ms at 100 connections (file directory, audit on): %.0f us (%s)\n",
			p, p < 1000 ? "met" : "NOT met in this run" }'
	echo "1-minute load average at end: $(load_avg)"
	for c in 1 10 100 500; do
		[ "${PR_BAD[policy$c]}${PR_BAD[milter$c]}" = 00 ] ||
			{ echo "mismatched answers or errors at $c connections" >&2; exit 1; }
	done
}

###########################################################################
# door_run KEY PORT - one smtp-source -s 10 run; messages/s appended
declare -A DR
door_run() {
	local t0 t1
	t0=$(date +%s%N)
	timeout 180 "$SMTP_SOURCE" -s 10 -m "$DOOR_MSGS" -l 1024 -t user@example.test \
		-f sender@client.example.net "127.0.0.1:$2" >"$tmp/smtp-source.out" 2>&1 ||
		{ echo "smtp-source failed ($1):" >&2; cat "$tmp/smtp-source.out" >&2; exit 1; }
	t1=$(date +%s%N)
	DR[$1]="${DR[$1]:-} $(( DOOR_MSGS * 1000000000 / (t1 - t0) ))"
}

# door_noop KEY LABEL [-a] - a no-op milter and a Postfix wired to it
door_noop() {
	local sock="inet:$(rg_free_port)@127.0.0.1"
	start_noop "$sock" "${3:-}"
	rg_start_postfix "$sock" >&2 || exit 1
	PORT[$1]=$RG_POSTFIX_PORT LABEL[$1]=$2
}

part_doors() {
	local rounds=${DOORS_ROUNDS:-5} r i k keys file_conf p_inet p_unix p_ldap
	local -A PORT LABEL RATIOS
	DOOR_MSGS=${DOORS_MSGS:-1000}
	rg_require "$POSTFIX" "$SMTP_SOURCE"
	. "$top_srcdir/tests/lib/cases.sh"	# rg_e2e_policy_postfix
	{ echo user@example.test; for i in 1 2 3 4 5; do echo "${i}user@example.test"; done
	  echo postmaster@example.test; } >"$tmp/e2e-recipients"
	file_conf="local_domains = example.test
directory = file:$tmp/e2e-recipients"
	p_inet="inet:$(rg_free_port)@127.0.0.1" p_unix="unix:$tmp/policy-door.sock"

	rg_start_postfix none >&2 || exit 1
	PORT[alone]=$RG_POSTFIX_PORT LABEL[alone]="Postfix alone (baseline)"
	door_noop noop_a "+ noop-milter, connect/HELO answered" -a
	door_noop noop "+ noop-milter, no reply at connect/HELO"
	# Before: client memory on (the default) keeps connect/HELO answered,
	# which is how relayguard negotiated every session until now.
	start_rg "$file_conf
audit_db = $tmp/doors-before.db" inet
	rg_start_postfix "$RG_SOCK" >&2 || exit 1
	PORT[before]=$RG_POSTFIX_PORT LABEL[before]="+ relayguard milter, connect/HELO answered"
	start_rg "$file_conf
client_track_size = 0
audit_db = $tmp/doors-after.db
policy_socket = $p_inet" inet
	rg_start_postfix "$RG_SOCK" >&2 || exit 1
	PORT[after]=$RG_POSTFIX_PORT LABEL[after]="+ relayguard milter, no reply connect/HELO"
	rg_start_postfix none "smtpd_recipient_restrictions = check_policy_service $(rg_e2e_policy_postfix "$p_inet")" >&2 || exit 1
	PORT[pol_inet]=$RG_POSTFIX_PORT LABEL[pol_inet]="+ relayguard policy door, inet"
	start_rg "$file_conf
audit_db = $tmp/doors-unix.db
policy_socket = $p_unix
socket_mode = 0666" inet
	rg_start_postfix none "smtpd_recipient_restrictions = check_policy_service $p_unix" >&2 || exit 1
	PORT[pol_unix]=$RG_POSTFIX_PORT LABEL[pol_unix]="+ relayguard policy door, unix"
	keys="alone noop_a noop before after pol_inet pol_unix"
	if perf_slapd; then
		rg_start_postfix none "mynetworks =" \
			"relay_recipient_maps = ldap:$tmp/ldap-rcpt.cf" >&2 || exit 1
		PORT[native]=$RG_POSTFIX_PORT LABEL[native]="Postfix native relay_recipient_maps ldap:"
		p_ldap="unix:$tmp/policy-ldap.sock"
		start_rg "local_domains = example.test
directory = ldap
ldap_uri = ldap://127.0.0.1:$LDAP_PORT
ldap_base = dc=example,dc=test
audit_db = $tmp/doors-ldap.db
policy_socket = $p_ldap
socket_mode = 0666" inet
		rg_start_postfix none "smtpd_recipient_restrictions = check_policy_service $p_ldap" >&2 || exit 1
		PORT[pol_ldap]=$RG_POSTFIX_PORT LABEL[pol_ldap]="+ relayguard policy, unix, LDAP (warm)"
		keys="$keys native pol_ldap"
	fi

	echo "end to end through each door: Postfix $(postconf -d -h mail_version 2>/dev/null)"
	echo "(smtpd on 127.0.0.1, discard transport) driven by smtp-source -s 10 -m"
	echo "$DOOR_MSGS -l 1024, one recipient per message (user@example.test), one"
	echo "connection per message; messages/s. $rounds rounds, every stack once per"
	echo "round in turn; the median round, and for each ratio to Postfix alone the"
	echo "spread over rounds (each round's stack against that round's Postfix alone)."
	echo "relayguard: file directory, audit on (SQLite), log to a file; the LDAP"
	echo "rows use a throwaway slapd, relayguard's cache warm after the warm-up."
	echo "The machine is shared with other builds and tests (1-minute load average"
	echo "at start: $(load_avg)): read the spread before the median."
	echo
	echo "commands:"
	echo "  smtp-source -s 10 -m $DOOR_MSGS -l 1024 -t user@example.test -f sender@client.example.net 127.0.0.1:PORT"
	echo "  milter: smtpd_milters = inet:127.0.0.1:PORT (tests/lib/mta.sh rg_start_postfix)"
	echo "  policy: smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:PORT | unix:PATH"
	echo "  native: mynetworks = (empty), relay_recipient_maps = ldap:CF"
	echo "  before: relayguard with client memory on (the default): connect and HELO"
	echo "    answered, as relayguard negotiated until now; after: client_track_size = 0"
	echo "  noop-milter -a (answers connect and HELO) | noop-milter (no reply there)"
	echo
	echo "sanity:"
	for k in before after pol_inet pol_unix ${PORT[pol_ldap]:+pol_ldap}; do
		relay_check "${LABEL[$k]}" "${PORT[$k]}"
	done
	echo
	for k in $keys; do door_run warm "${PORT[$k]}"; done
	for r in $(seq 1 $rounds); do
		for k in $keys; do door_run "$k" "${PORT[$k]}"; done
	done
	printf '%-46s %8s %6s %13s\n' "stack" "msgs/s" "ratio" "spread"
	for k in $keys; do
		RATIOS[$k]=$(ratios "${DR[$k]}" "${DR[alone]}")
		# shellcheck disable=SC2086
		printf '%-46s %8.0f %6.3f %6.3f..%.3f\n' "${LABEL[$k]}" "$(median ${DR[$k]})" \
			"$(median ${RATIOS[$k]})" "$(lo ${RATIOS[$k]})" "$(hi ${RATIOS[$k]})"
	done
	echo "(ratio: to Postfix alone in the same round; median and spread over rounds)"
	echo
	# shellcheck disable=SC2086
	decide "policy door (inet, audit on) / Postfix alone" 0.95 ${RATIOS[pol_inet]}
	# shellcheck disable=SC2086
	decide "policy door (unix, audit on) / Postfix alone" 0.95 ${RATIOS[pol_unix]}
	# shellcheck disable=SC2046
	decide "relayguard milter / noop-milter, both without connect/HELO replies" 0.95 \
		$(ratios "${DR[after]}" "${DR[noop]}")
	# shellcheck disable=SC2046
	decide "relayguard milter after / before the negotiation change" 1.0 \
		$(ratios "${DR[after]}" "${DR[before]}")
	# shellcheck disable=SC2046
	decide "noop-milter without / with connect/HELO replies" 1.0 \
		$(ratios "${DR[noop]}" "${DR[noop_a]}")
	if [ -n "${DR[native]:-}" ]; then
		# shellcheck disable=SC2046
		decide "policy door (LDAP) / Postfix native ldap:" 1.0 \
			$(ratios "${DR[pol_ldap]}" "${DR[native]}")
	fi
	echo "1-minute load average at end: $(load_avg)"
}

"part_$part"
