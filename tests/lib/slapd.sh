# tests/lib/slapd.sh - a throwaway slapd for the LDAP tests (sourced)
#
# ldap_slapd_init DIR [tls]  write DIR/slapd.conf, load seed.ldif
# ldap_slapd_start DIR PORT [TLSPORT]  start it (foreground process, pid
#                            in DIR/slapd.pid.bg) and wait for the port
# ldap_slapd_stop DIR        stop it and wait until it is gone
# ldap_conf FILE KEY=VALUE...  write a relayguard.conf for the driver
#
# With "tls", ldap_slapd_init also makes a throwaway CA and a server
# certificate for 127.0.0.1 (DIR/ca.crt) and requires TLS for every
# operation, so a search that works proves StartTLS was used.

: "${SLAPD:=/usr/sbin/slapd}"
LDAP_SCHEMA_DIR=/etc/ldap/schema
LDAP_ROOTDN="cn=admin,dc=example,dc=test"
LDAP_ROOTPW="secret"

# ldap_make_certs DIR - CA and server certificate for 127.0.0.1
ldap_make_certs() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=relayguard test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" >/dev/null 2>&1
}

# ldap_slapd_init DIR [tls] - configuration and database
ldap_slapd_init() {
	local d=$1 s
	mkdir -p "$d/db" || return 1
	{
		for s in core cosine inetorgperson nis misc; do
			echo "include $LDAP_SCHEMA_DIR/$s.schema"
		done
		echo "include $top_srcdir/tests/lib/ad-test.schema"
		echo "modulepath /usr/lib/ldap"
		echo "moduleload back_mdb"
		echo "pidfile $d/slapd.pid"
		if [ "$2" = tls ]; then
			ldap_make_certs "$d" || return 1
			echo "TLSCACertificateFile $d/ca.crt"
			echo "TLSCertificateFile $d/server.crt"
			echo "TLSCertificateKeyFile $d/server.key"
			echo "security tls=1"
		fi
		echo "database mdb"
		echo "maxsize 104857600"
		echo "suffix \"dc=example,dc=test\""
		echo "rootdn \"$LDAP_ROOTDN\""
		echo "rootpw $LDAP_ROOTPW"
		echo "directory $d/db"
		echo "index objectClass,mail,mailLocalAddress,proxyAddresses eq"
	} >"$d/slapd.conf"
	slaptest -Q -u -f "$d/slapd.conf" >"$d/slaptest.log" 2>&1 || { cat "$d/slaptest.log" >&2; return 1; }
	slapadd -q -f "$d/slapd.conf" -l "$top_srcdir/tests/lib/seed.ldif" >"$d/slapadd.log" 2>&1 \
		|| { cat "$d/slapadd.log" >&2; return 1; }
}

# ldap_slapd_start DIR PORT [TLSPORT] - run slapd on 127.0.0.1:PORT
ldap_slapd_start() {
	local d=$1 urls="ldap://127.0.0.1:$2/"
	[ -n "$3" ] && urls="$urls ldaps://127.0.0.1:$3/"
	# fds 7 and 8 may be a test's pipes to a driver: slapd must not hold them
	"$SLAPD" -d 0 -h "$urls" -f "$d/slapd.conf" >>"$d/slapd.log" 2>&1 7>&- 8>&- &
	echo $! >"$d/slapd.pid.bg"
	rg_wait_port "$2" 20 || { echo "slapd did not start:" >&2; cat "$d/slapd.log" >&2; return 1; }
}

# ldap_slapd_stop DIR - stop slapd and wait (bounded) until it is gone
ldap_slapd_stop() {
	local d=$1 pid i
	[ -f "$d/slapd.pid.bg" ] || return 0
	pid=$(cat "$d/slapd.pid.bg")
	rm -f "$d/slapd.pid.bg"
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# ldap_conf FILE LINE... - a relayguard.conf using the LDAP directory
ldap_conf() {
	local f=$1
	shift
	{
		echo "local_domains = example.test"
		echo "directory = ldap"
		echo "ldap_base = dc=example,dc=test"
		echo "audit_db = none"
		for l in "$@"; do echo "$l"; done
	} >"$f"
}
