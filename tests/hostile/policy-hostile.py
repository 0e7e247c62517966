#!/usr/bin/env python3
"""policy-hostile.py - hostile clients of relayguard's policy socket

Usage: policy-hostile.py PORT CASE [N]

  answer     one well-formed request per recipient given on stdin
             ("RCPT SENDER" lines): print "RCPT -> ACTION" per answer
  garbage    an HTTP request: print "closed" when relayguard hangs up
             without an answer, "answered: ..." otherwise
  huge       a 1 MiB line: print "closed after N bytes" (or "answered")
  stall      half a request, then silence: print "closed after S s" when
             relayguard hangs up (waits up to 60 s)
  many N     N connections open at once, each asks one request, all kept
             open until every one has its answer; print "N answered
             ACCEPTS REJECTS" and wait for a line on stdin before closing
  blocked    one connection asks about a local user (its directory lookup
             waits on a server that never answers), then a second one
             asks about a relay attempt: print "second: ACTION after S s"
             and "first: ACTION after S s"
  blackhole PORT
             listen on PORT and accept, never answering (an LDAP server
             that hangs); runs until killed
"""
import resource
import socket
import sys
import time

HOST = "127.0.0.1"


def request(rcpt, sender="sender@client.example.net", instance="i.1",
            port="40000"):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
            "protocol_name=ESMTP\nclient_address=192.0.2.10\n"
            "client_name=client.example.net\nclient_port=%s\n"
            "server_address=127.0.0.1\nserver_port=25\n"
            "helo_name=client.example.net\nsender=%s\nrecipient=%s\n"
            "recipient_count=0\nqueue_id=\ninstance=%s\n"
            "sasl_username=\n\n" % (port, sender, rcpt, instance)).encode()


def read_answer(s, timeout=30):
    s.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n\n"):
        d = s.recv(4096)
        if not d:
            return None
        buf += d
    return buf.decode().strip()


def connect(port):
    return socket.create_connection((HOST, port), timeout=30)


def case_answer(port):
    s = connect(port)
    for n, line in enumerate(sys.stdin):
        rcpt, sender = line.split()
        s.sendall(request(rcpt, sender if sender != "-" else "",
                          instance="a.%d" % n))
        print("%s -> %s" % (rcpt, read_answer(s)), flush=True)
    s.close()


def case_garbage(port):
    s = connect(port)
    s.sendall(b"GET / HTTP/1.0\r\nHost: relayguard\r\n\r\n")
    ans = read_answer(s, 10)
    print("closed" if ans is None else "answered: %s" % ans)


def case_huge(port):
    s = connect(port)
    sent = 0
    chunk = b"a" * 65536
    try:
        s.sendall(b"request=smtpd_access_policy\nsender=")
        while sent < (1 << 20):
            s.sendall(chunk)
            sent += len(chunk)
        s.sendall(b"\n\n")
        ans = read_answer(s, 10)
    except (BrokenPipeError, ConnectionResetError):
        ans = None
    print("closed after %d bytes" % sent if ans is None
          else "answered: %s" % ans)


def case_stall(port):
    s = connect(port)
    half = request("alice@example.test")[:200]
    s.sendall(half)
    start = time.time()
    s.settimeout(60)
    try:
        d = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        d = b""
    print("closed after %d s" % round(time.time() - start) if not d
          else "answered: %r" % d)


def case_many(port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    socks = []
    for i in range(n):
        socks.append(connect(port))
    # Every connection asks at once; half relay attempts, half local.
    for i, s in enumerate(socks):
        rcpt = "victim@remote.test" if i % 2 else "alice@example.test"
        s.sendall(request(rcpt, instance="m.%d" % i, port=str(10000 + i)))
    accepts = rejects = answered = 0
    for i, s in enumerate(socks):
        ans = read_answer(s)
        if ans is None:
            continue
        answered += 1
        want = "action=550 5.7.1" if i % 2 else "action=DUNNO"
        if ans.startswith(want):
            if i % 2:
                rejects += 1
            else:
                accepts += 1
    print("%d answered %d %d" % (answered, accepts, rejects), flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def case_blocked(port):
    first = connect(port)
    start = time.time()
    first.sendall(request("alice@example.test", instance="b.1", port="50001"))
    time.sleep(0.5)
    second = connect(port)
    t = time.time()
    second.sendall(request("victim@remote.test", instance="b.2", port="50002"))
    ans = read_answer(second, 30)
    print("second: %s after %.1f s" % (ans, time.time() - t), flush=True)
    ans = read_answer(first, 60)
    print("first: %s after %.1f s" % (ans, time.time() - start), flush=True)


def case_blackhole(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)


def main():
    port = int(sys.argv[1])
    case = sys.argv[2]
    if case == "many":
        case_many(port, int(sys.argv[3]))
    elif case == "blackhole":
        case_blackhole(port)
    else:
        {"answer": case_answer, "garbage": case_garbage, "huge": case_huge,
         "stall": case_stall, "blocked": case_blocked}[case](port)


main()
