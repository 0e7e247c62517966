-- tests/audit/pg-alert.lua - one trusted client over trusted_limit.hour
--
-- pg-store.sh runs it against a daemon whose audit store is PostgreSQL:
-- the client in RG_CLIENT (inside trusted_networks) relays three remote
-- recipients in one session; the limit is 2, so the third raises an
-- alert, and in alert mode every recipient is accepted.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local client = os.getenv("RG_CLIENT")
local conn = open()
session(conn, "relay.example.net", client, "relay.example.net")
mail(conn, "<app@example.net>", SMFIR_CONTINUE, "MAIL from " .. client)
for i = 1, 3 do
	rcpt(conn, "<r" .. i .. "@remote.example>", SMFIR_CONTINUE,
	     "recipient " .. i .. " relayed (alert mode)")
end
mt.disconnect(conn)
