#!/bin/sh
# autogen.sh - generate ./configure; with --deps, first install what
# building and testing relayguard needs on Debian 12 (apt-get, as root).
#
#   ./autogen.sh            regenerate configure and Makefile.in
#   ./autogen.sh --deps     install missing Debian packages, then regenerate
set -e
cd "$(dirname "$0")"

# Build: compiler, autotools, the libraries, Chart.js for the dashboard.
# Tests: the real MTAs, browser, Prometheus tools,
# directory server, SMTP clients and database shell the tests drive.
BUILD_PKGS="gcc make autoconf automake pkgconf m4 libmilter-dev libldap2-dev libsqlite3-dev libpq-dev libidn2-dev libmicrohttpd-dev libcrypt-dev libjs-chart.js"
TEST_PKGS="postfix postfix-ldap slapd ldap-utils libldap-common sqlite3 swaks sasl2-bin libsasl2-modules openssl ca-certificates nmap miltertest valgrind clang libclang-rt-14-dev dpkg-dev procps iproute2 python3 postgresql-15 chromium fonts-dejavu-core curl prometheus fail2ban strace"
# The Debian package and its install test (tests/pkg/install.sh).
PKG_PKGS="build-essential debhelper dh-autoreconf lintian systemd man-db strace"

install_deps() {
	missing=""
	for p in $BUILD_PKGS $TEST_PKGS $PKG_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
			|| missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		echo "autogen.sh: all Debian packages present"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "autogen.sh: missing packages:$missing" >&2
		echo "autogen.sh: run as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "autogen.sh: installing:$missing"
	# Postfix and slapd must not ask questions, nor start system daemons
	# the tests do not use (the tests start their own on loopback ports).
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
	# nor PostgreSQL's default cluster: the tests make their own
	mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" \
		> /etc/postgresql-common/createcluster.d/relayguard-tests.conf
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
}

case "${1:-}" in
--deps) install_deps ;;
"") ;;
*) echo "usage: $0 [--deps]" >&2; exit 2 ;;
esac

autoreconf --install --force
echo "autogen.sh: now run ./configure && make"
