# tests/lib/mta.sh - throwaway relayguard, Postfix and Sendmail for the
# end-to-end tests (sourced, not run)
#
# Every test that drives a real MTA sources this file after tests/lib/common.sh's
# environment is set (top_srcdir, top_builddir, POSTFIX, SWAKS, ...).  It
# gives:
#   rg_e2e_tmpdir                      private temp dir (removed at exit)
#   rg_e2e_on_exit CMD                 run CMD at exit (last in, first out)
#   rg_e2e_require_root                fail (or skip) unless run as root
#   rg_start_relayguard CONF [SOCKET]  start the daemon; rg_stop_relayguard
#   rg_reload_relayguard CONF          new configuration, SIGHUP
#   rg_start_postfix MILTER [LINE...]  throwaway Postfix; rg_stop_postfix
#   rg_start_sendmail MILTER [LINE...] throwaway Sendmail; rg_stop_sendmail
#   rg_smtp PORT FROM TO[,TO] [ARG...] one swaks transaction, replies parsed
#   rg_smtp_fast PORT FROM TO[,TO]     the same without swaks (faster)
#   rg_smtp_dialog PORT CMD...         raw SMTP dialog, one command at a time
#   rg_log_mark / rg_log_since MARK    the milter log lines of one step
#   rg_log_wait REGEX [SECONDS]        wait for a milter log line
# Logging: Postfix logs through its postlogd into DIR/maillog, over a
# unix datagram socket it blocks on when full (see rg_e2e_postfix_check);
# Sendmail and slapd log through syslog (dropped where no /dev/log
# exists, never blocking) and write their output, like relayguard -s,
# into files: never into a pipe nobody reads.
# Everything started here is stopped by one trap on EXIT, INT and TERM,
# even when the test fails; on failure the logs are printed first.  A
# test must not set its own EXIT trap (it would replace this one): it
# registers its own clean-up with rg_e2e_on_exit.  Several relayguards
# or MTAs may run at once; RG_MILTER_*, RG_POSTFIX_* and RG_SENDMAIL_*
# describe the one started last.
#
# Functions return non-zero to report (a refused transaction, a failed
# start): do not source this under set -e.
#
# MILTER arguments use libmilter's spelling, as relayguard.conf does:
# "inet:PORT@127.0.0.1" or "unix:/path"; "none" or "" means no milter
# (the control runs).  Set RG_E2E_KEEP=1 to keep the temp dir.

. "$top_srcdir/tests/lib/common.sh"

RG_RELAYGUARD=${RG_RELAYGUARD:-$top_builddir/src/programs/relayguard}
# A command prefix for the daemon, word-split (e.g. "valgrind -q
# --log-file=FILE"); it must run the daemon in its own process, so that
# the pid the library knows receives the signals.
RG_DAEMON_WRAPPER=${RG_DAEMON_WRAPPER:-}
# A test killed outright (SIGKILL) runs no trap: the daemons it started
# get SIGTERM from the kernel when it dies (setpriv, util-linux).
RG_E2E_ORPHAN_GUARD=""
command -v setpriv >/dev/null 2>&1 && RG_E2E_ORPHAN_GUARD="setpriv --pdeathsig TERM"
: "${POSTFIX:=$(command -v postfix || echo /usr/sbin/postfix)}"
: "${SWAKS:=$(command -v swaks || echo swaks)}"
RG_POSTCONF=$(dirname "$POSTFIX")/postconf

RG_E2E_TMP=""
RG_E2E_EXIT_CMDS=""
RG_E2E_POSTFIX_DIRS=""
RG_E2E_SENDMAIL_DIRS=""
RG_E2E_MILTER_PIDS=""
RG_E2E_WATCHDOG=""
RG_MILTER_PID=""
RG_MILTER_SOCKET=""
RG_MILTER_LOG=""
RG_MILTER_CONF=""
RG_POSTFIX_DIR=""
RG_POSTFIX_PORT=""
RG_POSTFIX_LOG=""
RG_SENDMAIL_DIR=""
RG_SENDMAIL_PORT=""
RG_SENDMAIL_PID=""
RG_SENDMAIL_LOG=""
RG_SMTP_SEQ=0
RG_SMTP_OUT=""
RG_SMTP_REPLIES=""
RG_SMTP_MAIL=""
RG_SMTP_RCPT=""
RG_SMTP_RCPTS=""
RG_SMTP_DATA=""
RG_SMTP_CLOSED=0
RG_DIALOG_CODES=""
RG_DIALOG_LAST=""
RG_DIALOG_INDATA=0

# rg_e2e_tmpdir - create (once) and print the test's private temp dir,
# also kept in RG_E2E_TMP; it is removed by the exit trap
rg_e2e_tmpdir() {
	if [ -z "$RG_E2E_TMP" ]; then
		RG_E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rg-e2e.XXXXXX") || exit 1
		# Postfix and Sendmail children run as other users.
		chmod 755 "$RG_E2E_TMP"
	fi
	echo "$RG_E2E_TMP"
}

# rg_e2e_on_exit CMD - run the shell command CMD from the exit trap,
# before the MTAs and the milter are stopped (for a test's own servers)
rg_e2e_on_exit() {
	RG_E2E_EXIT_CMDS="$1
$RG_E2E_EXIT_CMDS"
}

# rg_e2e_cleanup - the trap: run registered commands, stop every MTA and
# milter this test started, dump logs if the test failed, remove temp dir
rg_e2e_cleanup() {
	local status=$? cmd d
	trap - EXIT INT TERM
	rg_step -q "clean-up (exit status $status)"
	# A reader gone (make interrupted, a pipe to head) must not kill the
	# clean-up half-way; the watchdog stays until the end for the same
	# reason (it stops what is left if this shell is killed).
	trap '' PIPE
	if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
		rg_e2e_dump_logs >&2
	fi
	while IFS= read -r cmd; do
		[ -n "$cmd" ] && eval "$cmd" >/dev/null 2>&1
	done <<EOF
$RG_E2E_EXIT_CMDS
EOF
	for d in $RG_E2E_SENDMAIL_DIRS; do rg_stop_sendmail "$d"; done
	for d in $RG_E2E_POSTFIX_DIRS; do rg_stop_postfix "$d"; done
	rg_stop_relayguard
	for d in $RG_E2E_MILTER_PIDS; do
		RG_MILTER_PID=$d rg_stop_relayguard
	done
	rg_e2e_sweep
	kill "$RG_E2E_WATCHDOG" 2>/dev/null
	wait "$RG_E2E_WATCHDOG" 2>/dev/null
	if [ -n "$RG_E2E_TMP" ] && [ "${RG_E2E_KEEP:-0}" != 1 ]; then
		rm -rf "$RG_E2E_TMP"
	elif [ -n "$RG_E2E_TMP" ]; then
		echo "kept $RG_E2E_TMP" >&2
	fi
	exit "$status"
}

# rg_e2e_sweep - kill whatever still runs with this test's temp dir in
# its command line or environment: a daemon started from a subshell (whose
# pid the test never learnt) must not outlive the test.  The pattern is
# passed through a pipe so that grep does not match itself.
rg_e2e_sweep() {
	local pids i
	[ -n "$RG_E2E_TMP" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
		pids=$(grep -lsF -f <(printf '%s/\n' "$RG_E2E_TMP") \
		    /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
		    sed -n 's|^/proc/\([0-9]*\)/.*|\1|p' | sort -u | grep -vx "$$")
		[ -n "$pids" ] || return 0
		case "$i" in
		1) kill -TERM $pids 2>/dev/null ;;
		30) kill -9 $pids 2>/dev/null ;;
		esac
		sleep 0.1
	done
	return 0
}

# rg_e2e_dump_logs - print the tail of every log this test has
rg_e2e_dump_logs() {
	local f
	[ -n "$RG_E2E_TMP" ] || return 0
	for f in "$RG_E2E_TMP"/*.log "$RG_E2E_TMP"/*/maillog; do
		[ -s "$f" ] || continue
		echo "----- tail of $f"
		tail -n 40 "$f"
	done
}

# rg_e2e_watchdog - a background guard for a test killed outright
# (SIGKILL runs no trap): once the test's shell is gone, it stops the
# daemons and Postfix instances listed in the temp dir's state files and
# removes the dir.  The normal exit trap kills it first.
rg_e2e_watchdog() {
	local parent=$$ tmp=$RG_E2E_TMP
	(
		trap '' INT HUP
		trap 'exit 0' TERM
		while kill -0 "$parent" 2>/dev/null; do sleep 1; done
		[ -d "$tmp" ] || exit 0
		kill -TERM $(cat "$tmp/.daemons" 2>/dev/null) 2>/dev/null
		for d in $(cat "$tmp/.postfix" 2>/dev/null); do
			rg_e2e_postfix_down "$d"
		done
		sleep 3
		kill -9 $(cat "$tmp/.daemons" 2>/dev/null) 2>/dev/null
		rm -rf "$tmp"
	) </dev/null >/dev/null 2>&1 &
	RG_E2E_WATCHDOG=$!
}

trap rg_e2e_cleanup EXIT
trap 'exit 1' INT TERM
rg_e2e_tmpdir >/dev/null
rg_e2e_watchdog

# rg_e2e_require_root - the MTAs need root (Postfix's master, Sendmail,
# apt-get download): fail, or skip when RELAYGUARD_SKIP_MISSING=1
rg_e2e_require_root() {
	[ "$(id -u)" = 0 ] && return 0
	if [ "${RELAYGUARD_SKIP_MISSING:-0}" = 1 ]; then
		echo "SKIP: the end-to-end tests run the MTAs as root"; exit 77
	fi
	echo "FAIL: the end-to-end tests run the MTAs and must run as root" >&2
	exit 1
}

# rg_e2e_milter_postfix MILTER - libmilter socket spelling to Postfix's
rg_e2e_milter_postfix() {
	case "$1" in
	inet:*@*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
	*) echo "$1" ;;
	esac
}

###########################################################################
# relayguard

# rg_start_relayguard CONF [SOCKET] - start $top_builddir/src/programs/relayguard
# -f -s in the background and wait (10 s at most) until it listens.
# CONF is a file or the configuration text itself.  SOCKET is "inet"
# (default: a free port on 127.0.0.1), "unix" (a socket in the temp dir)
# or a full libmilter spec; without it a restart reuses the previous
# socket, so an MTA already wired to it keeps working.  Lines the test
# environment needs are added unless CONF sets them: socket (always ours),
# allow_root = yes when run as root, audit_db = none, and socket_mode =
# 0666 for a unix socket (Postfix's smtpd runs as user postfix).
# RG_DAEMON_WRAPPER, when set, prefixes the command (valgrind).
# Sets RG_MILTER_SOCKET, RG_MILTER_PID, RG_MILTER_LOG (stderr of the
# daemon), RG_MILTER_CONF.  Returns 1 (with the log printed) on failure.
rg_start_relayguard() {
	local conf=$1 sock=${2:-} tmp text n i
	tmp=$(rg_e2e_tmpdir)
	if [ -f "$conf" ]; then text=$(cat "$conf"); else text=$1; fi
	case "$sock" in
	"") sock=${RG_MILTER_SOCKET:-inet} ;;
	esac
	case "$sock" in
	inet) sock="inet:$(rg_free_port)@127.0.0.1" ;;
	unix) sock="unix:$tmp/relayguard.sock" ;;
	esac
	RG_MILTER_SOCKET=$sock
	n=$(ls "$tmp" | grep -c '^relayguard\.[0-9]*\.conf$')
	RG_MILTER_CONF="$tmp/relayguard.$n.conf"
	RG_MILTER_LOG="$tmp/relayguard.$n.log"
	rg_e2e_write_conf "$text" "$sock" >"$RG_MILTER_CONF"
	rg_step -q "start relayguard on $sock (log $RG_MILTER_LOG)"
	case "$sock" in
	unix:*) rm -f "${sock#unix:}" ;;
	esac
	$RG_E2E_ORPHAN_GUARD $RG_DAEMON_WRAPPER "$RG_RELAYGUARD" -f -s -c "$RG_MILTER_CONF" \
	    </dev/null >>"$RG_MILTER_LOG" 2>&1 &
	RG_MILTER_PID=$!
	RG_E2E_MILTER_PIDS="$RG_E2E_MILTER_PIDS $RG_MILTER_PID"
	echo "$RG_MILTER_PID" >>"$tmp/.daemons"
	for i in $(seq 1 100); do
		if ! kill -0 "$RG_MILTER_PID" 2>/dev/null; then
			echo "relayguard exited at start:" >&2
			cat "$RG_MILTER_LOG" >&2
			RG_MILTER_PID=""
			return 1
		fi
		case "$sock" in
		unix:*) [ -S "${sock#unix:}" ] && return 0 ;;
		inet:*) local p=${sock#inet:}
			(exec 3<>"/dev/tcp/${p#*@}/${p%@*}") 2>/dev/null && return 0 ;;
		*) sleep 1; return 0 ;;
		esac
		sleep 0.1
	done
	echo "relayguard did not listen on $sock within 10 s" >&2
	cat "$RG_MILTER_LOG" >&2
	return 1
}

# rg_e2e_write_conf TEXT SOCKET - print the configuration TEXT with the
# lines the test environment needs (see rg_start_relayguard)
rg_e2e_write_conf() {
	local text=$1 sock=$2
	printf '%s\n' "$text" | grep -v '^[[:space:]]*socket[[:space:]]*='
	echo "socket = $sock"
	if [ "$(id -u)" = 0 ] &&
	    ! printf '%s\n' "$text" | grep -q '^[[:space:]]*allow_root[[:space:]]*='; then
		echo "allow_root = yes"
	fi
	printf '%s\n' "$text" | grep -q '^[[:space:]]*audit_db[[:space:]]*=' ||
		echo "audit_db = none"
	# Postfix's smtpd (user postfix) must reach a root-owned socket.
	case "$sock" in
	unix:*) printf '%s\n' "$text" | grep -q '^[[:space:]]*socket_mode[[:space:]]*=' ||
		echo "socket_mode = 0666" ;;
	esac
}

# rg_reload_relayguard CONF - replace the running daemon's configuration
# file with CONF (file or text, completed as by rg_start_relayguard, same
# socket) and send SIGHUP; wait (10 s at most) for the daemon to log that
# it reloaded.  Returns 1, with the new log lines printed, when it logs a
# failed reload or nothing.
rg_reload_relayguard() {
	local conf=$1 text mark i
	[ -n "$RG_MILTER_PID" ] || { echo "no relayguard to reload" >&2; return 1; }
	if [ -f "$conf" ]; then text=$(cat "$conf"); else text=$1; fi
	rg_e2e_write_conf "$text" "$RG_MILTER_SOCKET" >"$RG_MILTER_CONF.new" &&
		mv "$RG_MILTER_CONF.new" "$RG_MILTER_CONF" || return 1
	mark=$(rg_log_mark)
	kill -HUP "$RG_MILTER_PID" || return 1
	for i in $(seq 1 100); do
		if rg_log_since "$mark" | grep -q 'reload failed'; then
			break
		fi
		rg_log_since "$mark" | grep -q 'reloaded configuration' && return 0
		sleep 0.1
	done
	echo "relayguard did not reload:" >&2
	rg_log_since "$mark" >&2
	return 1
}

# rg_stop_relayguard [-9] - stop the daemon (SIGTERM, SIGKILL after 10 s;
# -9 kills it at once, as a crash would); a no-op when none runs
rg_stop_relayguard() {
	local pid=$RG_MILTER_PID
	[ -n "$pid" ] || return 0
	RG_MILTER_PID=""
	RG_E2E_MILTER_PIDS=$(echo " $RG_E2E_MILTER_PIDS " | sed "s/ $pid / /")
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	if [ "${1:-}" = -9 ]; then
		kill -9 "$pid" 2>/dev/null
	else
		kill -TERM "$pid" 2>/dev/null
		rg_wait_gone "$pid" 10 || kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# rg_log_mark - print a mark (the current size of the milter log) to
# pass to rg_log_since later
rg_log_mark() {
	if [ -f "$RG_MILTER_LOG" ]; then wc -l <"$RG_MILTER_LOG"; else echo 0; fi
}

# rg_log_since MARK - print the milter log lines written after MARK
rg_log_since() {
	[ -f "$RG_MILTER_LOG" ] && tail -n +"$(($1 + 1))" "$RG_MILTER_LOG"
}

# rg_log_wait REGEX [SECONDS] [MARK] - wait (default 5 s) until a milter
# log line after MARK (default: any) matches the extended REGEX; print it.
# The daemon may log a verdict just after the MTA has answered the client.
rg_log_wait() {
	local i
	for i in $(seq 1 $((${2:-5} * 10))); do
		if rg_log_since "${3:-0}" | grep -E -- "$1"; then return 0; fi
		sleep 0.1
	done
	return 1
}

###########################################################################
# Postfix

# rg_start_postfix MILTER [MAIN_CF_LINE...] - start a throwaway Postfix
# (as root, mail_owner = postfix) whose smtpd listens on a free port of
# 127.0.0.1, with its own queue and data directories and a discard
# transport for everything.  It relays for 127.0.0.0/8 on its own
# (permit_mynetworks, reject_unauth_destination), so the milter alone
# guards; milter_default_action = tempfail.  MILTER is "inet:PORT@HOST",
# "unix:PATH" or "none".  Extra "key = value" lines replace the base
# main.cf's value or add the key (postconf -e: each key is written once,
# see rg_e2e_postfix_check); an extra argument "sasl=USER:PASSWORD" instead enables
# SMTP AUTH (PLAIN, LOGIN) through Cyrus SASL with a sasldb holding that
# one account (saslpasswd2, Debian package sasl2-bin), so the milter gets
# {auth_authen} from a real AUTH.
# Sets RG_POSTFIX_DIR, RG_POSTFIX_PORT, RG_POSTFIX_LOG.
rg_start_postfix() {
	local milter=$1 dir port pf_milter i
	local -a keys=()
	shift
	[ -x "$POSTFIX" ] || { echo "postfix not installed" >&2; return 1; }
	dir=$(mktemp -d "$(rg_e2e_tmpdir)/postfix.XXXXXX") || return 1
	chmod 755 "$dir"
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
	chown postfix "$dir/data"
	port=$(rg_free_port) || return 1
	case "$milter" in
	""|none) pf_milter="" ;;
	*) pf_milter=$(rg_e2e_milter_postfix "$milter") ;;
	esac
	cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
relay_domains = example.test
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = discard
relay_transport = discard
local_transport = discard
alias_maps =
alias_database =
# Postfix takes its own address literal, user@[127.0.0.1], as local:
# accept every local part, relayguard decides.
local_recipient_maps =
biff = no
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
smtpd_client_connection_rate_limit = 0
smtpd_milters = $pf_milter
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 10s
EOF
	for i in "$@"; do
		case "$i" in
		sasl=*:*) rg_e2e_postfix_sasl "$dir" "${i#sasl=}" || return 1 ;;
		*) keys+=("$i") ;;
		esac
	done
	if [ "${#keys[@]}" -gt 0 ] &&
	    ! "$RG_POSTCONF" -c "$dir/etc" -e "${keys[@]}"; then
		echo "postconf -e refused: ${keys[*]}" >&2
		return 1
	fi
	rg_e2e_postfix_master_cf "$port" >"$dir/etc/master.cf"
	rg_e2e_postfix_check "$dir" || return 1
	RG_E2E_POSTFIX_DIRS="$RG_E2E_POSTFIX_DIRS $dir"
	echo "$dir" >>"$(rg_e2e_tmpdir)/.postfix"
	RG_POSTFIX_DIR=$dir
	RG_POSTFIX_PORT=$port
	RG_POSTFIX_LOG=$dir/maillog
	rg_step -q "start Postfix on 127.0.0.1:$port ($dir)"
	# postfix start runs postfix check (and creates the queue) first,
	# then waits for the master to be ready (master -w): bounded, as a
	# master blocked on its logging never is.
	if ! timeout -k 2 60 "$POSTFIX" -c "$dir/etc" start >"$dir/start.out" 2>&1; then
		echo "postfix did not start:" >&2
		cat "$dir/start.out" "$dir/maillog" >&2 2>/dev/null
		return 1
	fi
	if grep -q 'warning:' "$dir/start.out"; then
		echo "postfix start warned (see rg_e2e_postfix_check):" >&2
		cat "$dir/start.out" >&2
		return 1
	fi
	if ! rg_e2e_wait_banner "$port" 20; then
		echo "postfix does not answer on 127.0.0.1:$port:" >&2
		cat "$dir/maillog" >&2 2>/dev/null
		return 1
	fi
	return 0
}

# rg_e2e_postfix_sasl DIR USER:PASSWORD - SMTP AUTH for the Postfix of
# DIR: a sasldb with one account, Cyrus's smtpd.conf, main.cf lines
rg_e2e_postfix_sasl() {
	local dir=$1 user=${2%%:*} pass=${2#*:}
	command -v saslpasswd2 >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	if ! command -v saslpasswd2 >/dev/null 2>&1; then
		echo "saslpasswd2 not installed (Debian package sasl2-bin)" >&2
		return 1
	fi
	mkdir -p "$dir/sasl" "$dir/etc/sasl"
	printf '%s' "$pass" | saslpasswd2 -p -c -f "$dir/sasl/sasldb2" "$user" || return 1
	chown postfix "$dir/sasl/sasldb2"
	# Debian's Postfix reads $config_directory/sasl/smtpd.conf, whatever
	# cyrus_sasl_config_path says; both point to the same file here.
	cat >"$dir/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
	"$RG_POSTCONF" -c "$dir/etc" -e \
	    "smtpd_sasl_auth_enable = yes" \
	    "smtpd_sasl_type = cyrus" \
	    "smtpd_sasl_path = smtpd" \
	    "cyrus_sasl_config_path = $dir/etc/sasl" \
	    "smtpd_sasl_security_options = noanonymous" \
	    "smtpd_tls_auth_only = no"
}

# rg_e2e_postfix_check DIR - 1, with the warnings printed, unless
# postconf -n reads the instance's main.cf and master.cf without a
# warning.  Every Postfix process logs the warnings of main.cf as it
# starts, postlogd among them, and postlogd sends what it logs before it
# has opened maillog_file through its own socket: with the kernel's short
# datagram queue (net.unix.max_dgram_qlen, 10 by default) a few warnings
# per process fill it, and postlogd, then master and every smtpd, block
# on it for good.
rg_e2e_postfix_check() {
	local out
	out=$("$RG_POSTCONF" -c "$1/etc" -n 2>&1 >/dev/null)
	[ -z "$out" ] && return 0
	echo "the main.cf or master.cf of $1/etc is not warning-free (postconf -n):" >&2
	printf '%s\n' "$out" >&2
	return 1
}

# rg_e2e_postfix_master_cf PORT - print a master.cf: smtpd on
# 127.0.0.1:PORT, the usual internal services unchrooted, postlogd
rg_e2e_postfix_master_cf() {
	cat <<EOF
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# rg_e2e_proc_with_env VAR=VALUE - print the pids of processes whose
# environment holds exactly VAR=VALUE (how Postfix children are found:
# they all inherit MAIL_CONFIG)
rg_e2e_proc_with_env() {
	grep -lzxF -- "$1" /proc/[0-9]*/environ 2>/dev/null |
	    sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | grep -vx "$$"
	return 0
}

# rg_stop_postfix [DIR] - stop the Postfix of DIR (default: the last one
# started) with postfix stop (15 s at most: it logs through postlogd, and
# a Postfix that hangs on its logging hangs there too), then kill its
# master by pid and whatever of its processes is left
rg_stop_postfix() {
	local dir=${1:-$RG_POSTFIX_DIR}
	[ -n "$dir" ] && [ -d "$dir/etc" ] || return 0
	case " $RG_E2E_POSTFIX_DIRS " in
	*" $dir "*) ;;
	*) return 0 ;;
	esac
	RG_E2E_POSTFIX_DIRS=$(echo " $RG_E2E_POSTFIX_DIRS " | sed "s| $dir | |")
	rg_step -q "stop Postfix ($dir)"
	rg_e2e_postfix_down "$dir"
}

# rg_e2e_postfix_down DIR - stop the Postfix of DIR, bounded: postfix stop
# for 15 s, then SIGKILL to its master (by pid) and to every process that
# carries its MAIL_CONFIG; returns once none is left (or after 5 s more)
rg_e2e_postfix_down() {
	local dir=$1 pid pids i
	pid=$(cat "$dir/queue/pid/master.pid" 2>/dev/null | tr -d ' ')
	timeout -k 2 15 "$POSTFIX" -c "$dir/etc" stop >/dev/null 2>&1 || {
		echo "postfix stop of $dir/etc failed or hung: killing master $pid" >&2
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	}
	for i in $(seq 1 80); do
		pids=$(rg_e2e_proc_with_env "MAIL_CONFIG=$dir/etc")
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids="$pids $pid"
		[ -z "${pids// /}" ] && return 0
		[ "$i" -ge 30 ] && kill -9 $pids 2>/dev/null
		sleep 0.1
	done
	echo "Postfix of $dir/etc still running: $pids" >&2
	return 0
}

# rg_e2e_wait_banner PORT SECONDS [PID] - wait until 127.0.0.1:PORT
# answers with a 220 greeting (the MTA is up, not just its socket); give
# up at once when process PID has exited
rg_e2e_wait_banner() {
	local i line
	for i in $(seq 1 $(($2 * 5))); do
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			return 1
		fi
		line=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
			IFS= read -r -t 2 l <&3; printf "QUIT\r\n" >&3; echo "$l"' 2>/dev/null)
		case "$line" in
		220*) return 0 ;;
		esac
		sleep 0.2
	done
	return 1
}

###########################################################################
# Sendmail

# rg_e2e_sendmail_root - print the directory holding Debian's sendmail
# unpacked.  sendmail-bin conflicts with postfix, so the packages are
# fetched with apt-get download (root) into $top_builddir/tests/.cache/
# sendmail, unpacked with dpkg -x, and reused by later runs.  A lock
# keeps tests running in parallel from fetching it twice.
rg_e2e_sendmail_root() {
	local cache=$top_builddir/tests/.cache/sendmail
	mkdir -p "$cache" || return 1
	(
		flock -w 120 9 || { echo "sendmail cache lock timed out" >&2; exit 1; }
		[ -x "$cache/root/usr/libexec/sendmail/sendmail" ] && exit 0
		cd "$cache" || exit 1
		rm -f ./*.deb
		if ! timeout 120 apt-get download -q sendmail-bin sendmail-cf sendmail-base \
		    >download.log 2>&1; then
			# A fresh machine may not have read the package lists yet.
			timeout 300 apt-get update -qq >>download.log 2>&1
			timeout 120 apt-get download -q sendmail-bin sendmail-cf \
			    sendmail-base >>download.log 2>&1 || {
				echo "apt-get download sendmail failed:" >&2
				cat download.log >&2; exit 1; }
		fi
		rm -rf root.new && mkdir root.new || exit 1
		for f in ./*.deb; do dpkg -x "$f" root.new || exit 1; done
		rm -rf root && mv root.new root
	) 9>"$cache/.lock" || return 1
	echo "$cache/root"
}

# rg_start_sendmail MILTER [MC_LINE...] - start a throwaway Sendmail
# (Debian's, unpacked; as root) on a free port of 127.0.0.1, its queue,
# pid and status files in its own temp dir, relaying for everyone on its
# own (FEATURE(promiscuous_relay)) so the milter alone guards, deliveries
# deferred (nothing leaves the queue).  The milter is wired with F=T, so
# Sendmail tempfails when the milter is down.  MILTER is
# "inet:PORT@HOST", "unix:PATH" or "none".  Extra lines go into the .mc
# before the mailers; an extra argument "sasl=USER:PASSWORD" instead
# enables SMTP AUTH (PLAIN, LOGIN) with that one account (see
# rg_e2e_sendmail_sasl), so the milter gets {auth_authen}.  It runs in its own UTS namespace (unshare -u) with
# the host name mx.example.test: without a fully qualified host name it
# sleeps a minute at start.
# Sets RG_SENDMAIL_DIR, RG_SENDMAIL_PORT, RG_SENDMAIL_PID, RG_SENDMAIL_LOG.
rg_start_sendmail() {
	local milter=$1 root dir port i pid sasl="" mount=""
	shift
	root=$(rg_e2e_sendmail_root) || return 1
	dir=$(mktemp -d "$(rg_e2e_tmpdir)/sendmail.XXXXXX") || return 1
	chmod 755 "$dir"
	mkdir -p "$dir/queue" && chmod 700 "$dir/queue"
	for i in "$@"; do
		case "$i" in
		sasl=*:*) sasl=${i#sasl=} ;;
		esac
	done
	if [ -n "$sasl" ]; then
		rg_e2e_sendmail_sasl "$dir" "$sasl" || return 1
		mount='mount --bind "$RG_SM_SASL" /usr/lib/sasl2 &&'
	fi
	: >"$dir/aliases"; : >"$dir/statistics"; : >"$dir/local-host-names"
	port=$(rg_free_port) || return 1
	{
		echo "divert(-1)"
		echo "define(\`_CF_DIR_', \`$root/usr/share/sendmail/cf/')"
		echo "divert(0)dnl"
		echo "include(\`$root/usr/share/sendmail/cf/m4/cf.m4')dnl"
		echo "VERSIONID(\`relayguard e2e test')dnl"
		echo "OSTYPE(\`linux')dnl"
		echo "define(\`QUEUE_DIR', \`$dir/queue')dnl"
		echo "define(\`confPID_FILE', \`$dir/sendmail.pid')dnl"
		echo "define(\`STATUS_FILE', \`$dir/statistics')dnl"
		echo "define(\`ALIAS_FILE', \`$dir/aliases')dnl"
		echo "define(\`confCW_FILE', \`-o $dir/local-host-names')dnl"
		echo "define(\`confHOST_STATUS_DIRECTORY', \`')dnl"
		echo "define(\`confHELP_FILE', \`$root/etc/mail/helpfile')dnl"
		echo "define(\`confDONT_PROBE_INTERFACES', \`true')dnl"
		echo "define(\`confDELIVERY_MODE', \`deferred')dnl"
		echo "define(\`confTO_IDENT', \`0')dnl"
		echo "define(\`confQUEUE_LA', \`100')dnl"
		echo "define(\`confREFUSE_LA', \`200')dnl"
		echo "define(\`confLOG_LEVEL', \`14')dnl"
		# A unix milter socket in the temp dir lies under /tmp: trust
		# the sticky bit, or Sendmail calls the path unsafe.
		echo "define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl"
		echo "FEATURE(\`nocanonify')dnl"
		echo "FEATURE(\`no_default_msa')dnl"
		echo "FEATURE(\`accept_unresolvable_domains')dnl"
		echo "FEATURE(\`promiscuous_relay')dnl"
		echo "DAEMON_OPTIONS(\`Family=inet, Name=MTA-test, Port=$port, Addr=127.0.0.1')dnl"
		case "$milter" in
		""|none) ;;
		*) echo "INPUT_MAIL_FILTER(\`relayguard', \`S=$milter, F=T, T=C:10s;S:10s;R:10s;E:30s')dnl" ;;
		esac
		[ -n "$sasl" ] && echo "define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl"
		for i in "$@"; do
			case "$i" in
			sasl=*:*) ;;
			*) printf '%s\n' "$i" ;;
			esac
		done
		echo "MAILER(\`local')dnl"
		echo "MAILER(\`smtp')dnl"
	} >"$dir/test.mc"
	if ! m4 "$dir/test.mc" >"$dir/test.cf" 2>"$dir/m4.err"; then
		echo "m4 failed on $dir/test.mc:" >&2; cat "$dir/m4.err" >&2
		return 1
	fi
	RG_E2E_SENDMAIL_DIRS="$RG_E2E_SENDMAIL_DIRS $dir"
	RG_SENDMAIL_DIR=$dir
	RG_SENDMAIL_PORT=$port
	RG_SENDMAIL_LOG=$dir/sendmail.log
	rg_step -q "start Sendmail on 127.0.0.1:$port ($dir)"
	# -bD: daemon in the foreground; -d0 would flood; -L names the log.
	RG_SM_SASL="$dir/sasl" $RG_E2E_ORPHAN_GUARD unshare -u ${mount:+-m} sh -c \
	    "$mount"' hostname mx.example.test && exec "$@"' sh \
	    "$root/usr/libexec/sendmail/sendmail" -C "$dir/test.cf" -bD \
	    -L sm-mta-test </dev/null >"$RG_SENDMAIL_LOG" 2>&1 &
	RG_SENDMAIL_PID=$!
	echo "$RG_SENDMAIL_PID" >>"$(rg_e2e_tmpdir)/.daemons"
	echo "$RG_SENDMAIL_PID" >"$dir/child.pid"
	if ! rg_e2e_wait_banner "$port" 20 "$RG_SENDMAIL_PID"; then
		echo "sendmail does not answer on 127.0.0.1:$port:" >&2
		cat "$RG_SENDMAIL_LOG" >&2
		return 1
	fi
	return 0
}

# rg_e2e_sendmail_sasl DIR USER:PASSWORD - SMTP AUTH for the Sendmail of
# DIR: a sasldb with one account and Cyrus's Sendmail.conf in DIR/sasl.
# Sendmail reads Sendmail.conf from Cyrus's fixed path /usr/lib/sasl2, so
# it runs in a mount namespace of its own where DIR/sasl is mounted there
# (the machine's /usr/lib/sasl2 is untouched).
rg_e2e_sendmail_sasl() {
	local dir=$1 user=${2%%:*} pass=${2#*:}
	command -v saslpasswd2 >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	if ! command -v saslpasswd2 >/dev/null 2>&1; then
		echo "saslpasswd2 not installed (Debian package sasl2-bin)" >&2
		return 1
	fi
	if [ ! -d /usr/lib/sasl2 ]; then
		echo "/usr/lib/sasl2 missing (Debian package libsasl2-modules-db)" >&2
		return 1
	fi
	mkdir -p "$dir/sasl"
	printf '%s' "$pass" | saslpasswd2 -p -c -f "$dir/sasl/sasldb2" "$user" || return 1
	cat >"$dir/sasl/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
}

# rg_stop_sendmail [DIR] - stop the Sendmail of DIR (default: the last
# one started): SIGTERM to the daemon and its session children, SIGKILL
# after 5 s
rg_stop_sendmail() {
	local dir=${1:-$RG_SENDMAIL_DIR} pid kids i
	[ -n "$dir" ] && [ -f "$dir/child.pid" ] || return 0
	case " $RG_E2E_SENDMAIL_DIRS " in
	*" $dir "*) ;;
	*) return 0 ;;
	esac
	RG_E2E_SENDMAIL_DIRS=$(echo " $RG_E2E_SENDMAIL_DIRS " | sed "s| $dir | |")
	rg_step -q "stop Sendmail ($dir)"
	pid=$(cat "$dir/child.pid")
	kids=$(pgrep -P "$pid" 2>/dev/null)
	kill -TERM "$pid" $kids 2>/dev/null
	rg_wait_gone "$pid" 5 || kill -9 "$pid" $kids 2>/dev/null
	for i in $kids; do
		rg_wait_gone "$i" 2 || kill -9 "$i" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	return 0
}

###########################################################################
# SMTP clients

# rg_smtp PORT FROM TO[,TO...] [SWAKS_ARG...] - one SMTP transaction with
# swaks against 127.0.0.1:PORT, quitting after the last RCPT (set
# RG_SMTP_QUIT=DATA, or "" for a whole message, to go further).  FROM may
# be "<>".  Extra arguments go to swaks, e.g. --local-interface 127.0.0.2
# to connect from the trusted address.  Sets:
#   RG_SMTP_OUT      the transcript file
#   RG_SMTP_REPLIES  one line per reply: "VERB CODE TEXT" (BANNER for 220)
#   RG_SMTP_MAIL     the MAIL reply ("250 2.1.0 Ok")
#   RG_SMTP_RCPT     the last RCPT reply; RG_SMTP_RCPTS all, one per line
#   RG_SMTP_DATA     the reply to the end of the message (whole messages)
#   RG_SMTP_CLOSED   1 when the server closed the connection on its own
# Returns swaks' exit status (0 = every step accepted).
rg_smtp() {
	local port=$1 from=$2 to=$3 status quit=${RG_SMTP_QUIT-RCPT}
	shift 3
	RG_SMTP_SEQ=$((RG_SMTP_SEQ + 1))
	RG_SMTP_OUT="$(rg_e2e_tmpdir)/smtp.$RG_SMTP_SEQ.out"
	rg_step -q "swaks 127.0.0.1:$port from $from to $to ($RG_SMTP_OUT)"
	set -- --server "127.0.0.1:$port" --from "$from" --to "$to" \
	    --helo client.example.net --timeout 20 "$@"
	[ -n "$quit" ] && set -- "$@" --quit-after "$quit"
	timeout 60 "$SWAKS" "$@" >"$RG_SMTP_OUT" 2>&1
	status=$?
	RG_SMTP_REPLIES=$(rg_e2e_swaks_replies <"$RG_SMTP_OUT")
	RG_SMTP_MAIL=$(printf '%s\n' "$RG_SMTP_REPLIES" | sed -n 's/^MAIL //p' | tail -n 1)
	RG_SMTP_RCPTS=$(printf '%s\n' "$RG_SMTP_REPLIES" | sed -n 's/^RCPT //p')
	RG_SMTP_RCPT=$(printf '%s\n' "$RG_SMTP_RCPTS" | tail -n 1)
	RG_SMTP_DATA=$(printf '%s\n' "$RG_SMTP_REPLIES" | sed -n 's/^\. //p' | tail -n 1)
	RG_SMTP_CLOSED=0
	grep -qiE 'closed connection unexpectedly|Remote host closed connection|connection closed by remote|EOF' "$RG_SMTP_OUT" &&
		RG_SMTP_CLOSED=1
	return "$status"
}

# rg_smtp_fast PORT FROM TO[,TO...] - the transaction of rg_smtp (EHLO,
# MAIL, each RCPT, QUIT) through rg_smtp_dialog instead of swaks: five
# times cheaper, for the many plain cases of a test.  Sets the same
# RG_SMTP_* variables (RG_SMTP_OUT holds the C:/S: transcript); returns
# 0 when every RCPT got 2xx.
rg_smtp_fast() {
	local port=$1 from=$2 to=$3 r
	[ "$from" = "<>" ] && from=""
	set -- "EHLO client.example.net" "MAIL FROM:<$from>"
	local IFS=,
	for r in $to; do set -- "$@" "RCPT TO:<$r>"; done
	unset IFS
	RG_SMTP_SEQ=$((RG_SMTP_SEQ + 1))
	RG_SMTP_OUT="$(rg_e2e_tmpdir)/smtp.$RG_SMTP_SEQ.out"
	rg_step -q "SMTP 127.0.0.1:$port from $from to $to ($RG_SMTP_OUT)"
	rg_smtp_dialog "$port" "$@" QUIT >"$RG_SMTP_OUT"
	RG_SMTP_REPLIES=$(awk '
	/^C: / { verb = $2; next }
	/^S: [0-9][0-9][0-9]( |$)/ {
		line = substr($0, 4)
		print (verb == "" ? "BANNER" : verb) " " line
	}' "$RG_SMTP_OUT")
	RG_SMTP_MAIL=$(printf '%s\n' "$RG_SMTP_REPLIES" | sed -n 's/^MAIL //p' | tail -n 1)
	RG_SMTP_RCPTS=$(printf '%s\n' "$RG_SMTP_REPLIES" | sed -n 's/^RCPT //p')
	RG_SMTP_RCPT=$(printf '%s\n' "$RG_SMTP_RCPTS" | tail -n 1)
	RG_SMTP_DATA=""
	RG_SMTP_CLOSED=0
	case " $RG_DIALOG_CODES " in
	*" EOF "*) RG_SMTP_CLOSED=1 ;;
	esac
	! printf '%s\n' "$RG_SMTP_RCPTS" | grep -qv '^2'
}

# rg_e2e_swaks_replies - read a swaks transcript, print "VERB REPLY" for
# each final reply line (the verb of the command it answers)
rg_e2e_swaks_replies() {
	awk '
	/^ -> / || /^ ~> / {
		v = $2
		if (indata) {
			if ($0 ~ /^ [-~]> \.\r?$/) { verb = "."; indata = 0 }
			next
		}
		verb = v
		next
	}
	/^<[-~*]+ +[0-9][0-9][0-9]( |$)/ {
		line = $0
		sub(/^<[-~*]+ +/, "", line)
		print (verb == "" ? "BANNER" : verb) " " line
		if (verb == "DATA" && line ~ /^354/) indata = 1
		if (verb == "") verb = "?"
	}'
}

# rg_smtp_dialog PORT CMD... - a raw SMTP session with 127.0.0.1:PORT
# (bash /dev/tcp, no pipelining): send each CMD and print "C: CMD" then
# "S: reply" lines, as an admin would read a session.  A CMD "!SHELL"
# runs SHELL in this shell instead (e.g. "!rg_stop_relayguard -9" to kill
# the milter mid-session); "DATA" then a CMD "." ends a message body of
# the lines between.  Every reply is awaited 20 s at most.  Sets
# RG_DIALOG_CODES: the reply codes, space-separated (banner first; EOF
# when the server closed the connection).
rg_smtp_dialog() {
	local port=$1 cmd line code fd
	shift
	RG_DIALOG_CODES=""
	RG_DIALOG_INDATA=0
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || { RG_DIALOG_CODES=CONNFAIL; return 1; }
	rg_e2e_dialog_read "$fd"
	for cmd in "$@"; do
		case "$cmd" in
		!*) eval "${cmd#!}"; continue ;;
		esac
		echo "C: $cmd"
		printf '%s\r\n' "$cmd" >&"$fd" 2>/dev/null
		case "$RG_DIALOG_INDATA:$cmd" in
		1:.) RG_DIALOG_INDATA=0 ;;
		1:*) continue ;;
		esac
		rg_e2e_dialog_read "$fd" || break
		[ "$cmd" = DATA ] && [ "${RG_DIALOG_LAST#354}" != "$RG_DIALOG_LAST" ] &&
			RG_DIALOG_INDATA=1
	done
	exec {fd}>&-
	RG_DIALOG_CODES=${RG_DIALOG_CODES# }
	return 0
}

# rg_e2e_dialog_read FD - read one (multi-line) reply from FD, print it
# with "S: ", add its code to RG_DIALOG_CODES; 1 on EOF or timeout
rg_e2e_dialog_read() {
	local line i
	RG_DIALOG_INDATA=${RG_DIALOG_INDATA:-0}
	for i in $(seq 1 100); do
		if ! IFS= read -r -t 20 line <&"$1"; then
			echo "S: (connection closed)"
			RG_DIALOG_CODES="$RG_DIALOG_CODES EOF"
			RG_DIALOG_LAST=EOF
			return 1
		fi
		line=${line%$'\r'}
		echo "S: $line"
		case "$line" in
		[0-9][0-9][0-9]-*) continue ;;
		esac
		RG_DIALOG_LAST=$line
		RG_DIALOG_CODES="$RG_DIALOG_CODES ${line%%[ -]*}"
		return 0
	done
	return 1
}
