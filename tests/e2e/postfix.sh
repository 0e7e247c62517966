#!/bin/bash
# tests/e2e/postfix.sh - relayguard end to end behind a real, throwaway
# Postfix: every case of tests/lib/cases.sh through it
# (bash: the library uses /dev/tcp and other bashisms)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$top_srcdir/tests/lib/mta.sh"
. "$top_srcdir/tests/lib/cases.sh"

rg_e2e_require_root

rg_require "$SWAKS" "$RG_RELAYGUARD"
rg_require "$POSTFIX"
# SMTP AUTH through Cyrus SASL (Debian package sasl2-bin)
PATH=$PATH:/usr/sbin rg_require saslpasswd2

rg_e2e_run_cases postfix
rg_done
