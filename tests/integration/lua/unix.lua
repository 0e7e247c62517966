-- tests/milter/unix.lua - the same verdicts over a unix socket

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.test")
session(conn, "unix.example.net", "192.0.2.60", "unix.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "UNIX0001")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "MAIL over unix socket")
rcpt(conn, "<bob@example.test>", SMFIR_CONTINUE, "local user accepted")
rcpt(conn, "<victim@remote.example>", SMFIR_REPLYCODE, "relay refused")
mt.disconnect(conn)
