-- tests/milter/disconnect.lua - a client vanishing mid-transaction
--
-- The first connection disappears after RCPT without QUIT or abort; the
-- milter must free it (the driver checks live=0 in the stats line) and
-- keep serving the next one.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
session(conn, "gone.example.net", "192.0.2.40", "gone.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "MAIL")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE, "RCPT")
mt.disconnect(conn, false)

conn = open()
session(conn, "next.example.net", "192.0.2.41", "next.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "next connection: MAIL")
rcpt(conn, "<victim@remote.example>", SMFIR_REPLYCODE,
     "next connection: relay refused")
mt.disconnect(conn)
