#!/usr/bin/env python3
# tests/hostile/smtp-hostile.py - hostile SMTP (and milter-protocol) clients
# for tests/hostile/postfix-hostile.sh
#
# Raw sockets, so that bytes no well-behaved client sends (NUL, control
# characters, 64 KiB lines, half commands, resets) reach the server as
# written.  Every socket operation has a timeout; every mode prints plain
# "key value" or "VERB CODE" lines for the shell test to assert on.
#
#   session PORT CMD...        one session, CMDs as Python escapes
#                              ("\x00" is a NUL); prints "C: ..." / code
#   many PORT FROM N [TXNS]    TXNS (1) transactions of N recipients each
#                              in one connection, mixed known/unknown/relay
#                              recipients; prints per-kind reply counts
#   concurrent PORT N          N sessions at once (threads); every one
#                              holds its connection until all are at RCPT;
#                              prints "sessions N ok K together T" and
#                              failures
#   hold PORT MPORT READYFILE  stalled and vanishing clients (SMTP on PORT,
#                              milter protocol on MPORT), then sleep until
#                              killed (at most 120 s)
import socket
import struct
import sys
import threading
import time

TIMEOUT = 60
KNOWN = ["alice@example.test", "bob@example.test", "carol@example.test"]


class Smtp:
    """one SMTP connection, bytes in, final reply lines out"""

    def __init__(self, port, timeout=TIMEOUT):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def reply(self):
        """read one (multi-line) reply; return its last line, or 'EOF'"""
        while True:
            while b"\n" not in self.buf:
                try:
                    data = self.s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    data = b""
                if not data:
                    return "EOF"
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("latin-1")
            if len(line) < 4 or line[3] != "-":
                return line

    def cmd(self, data):
        """send data (bytes or str) plus CRLF, return the reply"""
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.s.sendall(data + b"\r\n")
        except OSError:
            return "EOF"
        return self.reply()

    def send(self, data):
        self.s.sendall(data)

    def close(self, reset=False):
        if reset:
            # RST instead of FIN: the client vanishes without a goodbye.
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        self.s.close()


def code(reply):
    """'550 5.7.1 text' -> '550 5.7.1'; 'EOF' stays"""
    parts = reply.split()
    if len(parts) >= 2 and parts[1][:1].isdigit():
        return parts[0] + " " + parts[1]
    return parts[0] if parts else "EMPTY"


def mode_session(port, cmds):
    c = Smtp(port)
    print("S: " + c.reply())
    for raw in cmds:
        data = raw.encode("latin-1").decode("unicode_escape").encode("latin-1")
        r = c.cmd(data)
        print("C: " + repr(data)[2:-1][:120])
        print("S: " + r[:300])
        if r == "EOF":
            break
    c.close()


def rcpt_for(i):
    """recipient i of a many-recipient transaction, and its kind"""
    k = i % 3
    if k == 0:
        return KNOWN[(i // 3) % 3], "known"
    if k == 1:
        return "nobody%d@example.test" % i, "unknown"
    return "user%d@elsewhere.example.org" % i, "relay"


def mode_many(port, sender, n, txns):
    c = Smtp(port)
    print("banner " + code(c.reply()))
    print("ehlo " + code(c.cmd("EHLO many.example.net")))
    for t in range(txns):
        if t:
            print("rset " + code(c.cmd("RSET")))
        print("mail " + code(c.cmd("MAIL FROM:<%s>" % sender)))
        counts = {}
        for i in range(n):
            rcpt, kind = rcpt_for(i)
            # The first known recipient of a transaction: the one a
            # null sender may have.
            if i == 0:
                kind = "first"
            r = code(c.cmd("RCPT TO:<%s>" % rcpt))
            key = "%s %s" % (kind, r)
            counts[key] = counts.get(key, 0) + 1
        for key in sorted(counts):
            print("txn%d %s %d" % (t, key, counts[key]))
    print("quit " + code(c.cmd("QUIT")))
    c.close()


def mode_concurrent(port, n):
    """n sessions; each must get 250/550 5.7.1/550 5.1.1 for its three
    recipients; "together" counts the sessions that were all connected
    and past MAIL at the same time (a barrier; 150 s for a loaded box
    where the MTA starts n smtpd processes)"""
    barrier = threading.Barrier(n, timeout=150)
    results = [None] * n
    together = [0]
    lock = threading.Lock()

    def one(i):
        want = [("RCPT TO:<%s>" % KNOWN[i % 3], "250 2.1.5"),
                ("RCPT TO:<x%d@elsewhere.example.org>" % i, "550 5.7.1"),
                ("RCPT TO:<nobody%d@example.test>" % i, "550 5.1.1")]
        got = []
        c = None
        try:
            c = Smtp(port, timeout=90)
            got.append(code(c.reply()))
            got.append(code(c.cmd("EHLO c%d.example.net" % i)))
            got.append(code(c.cmd("MAIL FROM:<s%d@client.example.net>" % i)))
            try:
                barrier.wait()
                with lock:
                    together[0] += 1
            except threading.BrokenBarrierError:
                pass
            for cmdline, _ in want:
                got.append(code(c.cmd(cmdline)))
            got.append(code(c.cmd("QUIT")))
        except OSError as e:
            got.append("ERR:" + type(e).__name__)
            try:
                barrier.abort()
            except Exception:
                pass
        finally:
            if c is not None:
                c.close()
        expect = ["220", "250", "250 2.1.0"] + [w for _, w in want] + ["221 2.0.0"]
        results[i] = (got == expect, got)

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    ok = sum(1 for r in results if r is not None and r[0])
    print("sessions %d ok %d together %d seconds %.1f"
          % (n, ok, together[0], time.monotonic() - start))
    shown = 0
    for i, r in enumerate(results):
        if (r is None or not r[0]) and shown < 10:
            print("bad session %d: %s" % (i, r and r[1]))
            shown += 1


def mode_hold(port, mport, ready):
    keep = []
    # 1. Stalled mid-command: half an RCPT line, never finished.
    for i in range(10):
        c = Smtp(port)
        c.reply()
        c.cmd("EHLO stall%d.example.net" % i)
        c.cmd("MAIL FROM:<stall%d@client.example.net>" % i)
        c.send(b"RCPT TO:<alice@exa")
        keep.append(c)
    # 2. Stalled mid-transaction: a recipient accepted, then silence
    # (Postfix keeps the milter session open meanwhile).
    for i in range(10):
        c = Smtp(port)
        c.reply()
        c.cmd("EHLO idle%d.example.net" % i)
        c.cmd("MAIL FROM:<idle%d@client.example.net>" % i)
        c.cmd("RCPT TO:<bob@example.test>")
        keep.append(c)
    # 3. Vanished mid-transaction (RST) and mid-command (FIN after half
    # a line).
    for i in range(10):
        c = Smtp(port)
        c.reply()
        c.cmd("EHLO gone%d.example.net" % i)
        c.cmd("MAIL FROM:<gone%d@client.example.net>" % i)
        c.cmd("RCPT TO:<carol@example.test>")
        c.close(reset=(i % 2 == 0))
        c = Smtp(port)
        c.reply()
        c.cmd("EHLO half%d.example.net" % i)
        c.cmd("MAIL FROM:<half%d@client.example.net>" % i)
        c.send(b"RCPT TO:<alice@example.te")
        c.close(reset=(i % 2 == 1))
    # 4. The milter socket itself: a half packet header, then silence;
    # a 4 GiB length; garbage.  libmilter must drop the bad ones and let
    # the stalled one wait without holding up anyone else.
    s = socket.create_connection(("127.0.0.1", mport), timeout=TIMEOUT)
    s.sendall(b"\x00\x00")
    keep.append(s)
    for data in (b"\xff\xff\xff\xffO", b"GET / HTTP/1.0\r\n\r\n" * 4,
                 struct.pack(">I", 9) + b"Zgarbage!"):
        s = socket.create_connection(("127.0.0.1", mport), timeout=TIMEOUT)
        try:
            s.sendall(data)
        except OSError:
            pass
        keep.append(s)
    with open(ready, "w") as f:
        f.write("ready\n")
    time.sleep(120)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: smtp-hostile.py MODE PORT ...")
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "session":
        mode_session(port, sys.argv[3:])
    elif mode == "many":
        txns = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        mode_many(port, sys.argv[3], int(sys.argv[4]), txns)
    elif mode == "concurrent":
        mode_concurrent(port, int(sys.argv[3]))
    elif mode == "hold":
        mode_hold(port, int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
