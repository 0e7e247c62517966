-- tests/milter/macros.lua - missing macros, and {auth_authen}
--
-- No macro at all (no j, {daemon_name}, i, {auth_authen}) must work:
-- NOQUEUE, MTA "-", unauthenticated.  {auth_authen} at MAIL makes the
-- client privileged, so the same relay recipient is then accepted.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
session(conn, "unknown", "198.51.100.7", nil)
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "MAIL without macros accepted")
rcpt(conn, "<x@remote.example>", SMFIR_REPLYCODE,
     "no {auth_authen}: unauthenticated, relay refused")
check(mt.abort(conn) == nil, "abort")

mt.macro(conn, SMFIC_MAIL, "{auth_authen}", "bob", "i", "AUTH0001")
mail(conn, "<s@example.net>", SMFIR_CONTINUE, "authenticated MAIL accepted")
rcpt(conn, "<x@remote.example>", SMFIR_CONTINUE,
     "{auth_authen}: relay allowed")
mt.disconnect(conn)
