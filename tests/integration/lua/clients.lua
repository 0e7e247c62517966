-- tests/milter/clients.lua - client addresses and SMTPUTF8
--
-- An IPv6 client inside trusted_networks may relay; a client of unknown
-- protocol family ("unspec": a local socket) is unknown and may not; an
-- 8-bit sender needs SMTPUTF8 among the MAIL parameters.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
session(conn, "v6.example.net", "2001:db8:1::5", "v6.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "IPv6 MAIL")
rcpt(conn, "<x@remote.example>", SMFIR_CONTINUE,
     "trusted IPv6 client may relay")
mt.disconnect(conn)

conn = open()
session(conn, "localhost", "unspec", "local.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "local-socket client MAIL")
rcpt(conn, "<x@remote.example>", SMFIR_REPLYCODE,
     "unknown client may not relay")
check(mt.abort(conn) == nil, "abort")
mail(conn, "<j\195\188rgen@example.net>", SMFIR_REPLYCODE,
     "8-bit sender without SMTPUTF8 refused")
mail(conn, "<j\195\188rgen@example.net>", SMFIR_CONTINUE,
     "8-bit sender with SMTPUTF8 accepted", "SMTPUTF8")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE, "then a local user")
mt.disconnect(conn)
