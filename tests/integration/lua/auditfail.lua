-- tests/milter/auditfail.lua - audit_failure = tempfail, database unusable
--
-- The driver points audit_db into a directory that does not exist: no
-- verdict can be recorded, so even the connect step is deferred (451
-- 4.3.0) instead of letting anything pass unrecorded.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
check(mt.conninfo(conn, "c.example.net", "192.0.2.70") == nil, "conninfo")
expect(conn, SMFIR_REPLYCODE, "connect deferred: its verdict cannot be recorded")
mt.disconnect(conn)
