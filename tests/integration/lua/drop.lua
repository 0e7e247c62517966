-- tests/milter/drop.lua - harvest_limit: the connection is dropped (421)
--
-- harvest_limit = 3 in the driver's configuration: three unknown
-- recipients are refused, the fourth gets 421 (the driver checks the log
-- for action=drop code=421).

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
session(conn, "harvest.example.net", "192.0.2.50", "harvest.example.net")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "MAIL")
for i = 1, 4 do
	rcpt(conn, "<nobody" .. i .. "@example.test>", SMFIR_REPLYCODE,
	     "unknown recipient " .. i .. " refused")
end
mt.disconnect(conn)
