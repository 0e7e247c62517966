-- tests/milter/order.lua - callbacks in unusual orders
--
-- RCPT right after connect (miltertest itself then supplies a HELO and
-- a MAIL, as an MTA would; raw.sh sends a bare RCPT), two transactions on
-- one connection, an abort in between (it must reset the transaction: the
-- blank-sender rule counts recipients per transaction), a second HELO,
-- an unknown command.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
session(conn, "order.example.net", "192.0.2.30", nil)
rcpt(conn, "<victim@remote.example>", SMFIR_REPLYCODE,
     "RCPT right after connect: relay refused")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE,
     "RCPT right after connect: local user accepted")

check(mt.helo(conn, "order.example.net") == nil, "late HELO")
expect(conn, SMFIR_CONTINUE, "late HELO accepted")

-- transaction 1, completed
mail(conn, "<one@example.net>", SMFIR_CONTINUE, "first MAIL")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE, "first RCPT")
check(mt.data(conn) == nil, "DATA")
expect(conn, SMFIR_CONTINUE, "DATA answered")
check(mt.eom(conn) == nil, "EOM")
expect(conn, SMFIR_CONTINUE, "EOM accepted")

-- transaction 2: blank sender, one recipient only
mail(conn, "<>", SMFIR_CONTINUE, "blank sender accepted")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE, "<> to one local user")
rcpt(conn, "<bob@example.test>", SMFIR_REPLYCODE,
     "<> to a second recipient refused")
check(mt.abort(conn) == nil, "abort between transactions")

-- transaction 3: the abort reset the count
mail(conn, "<>", SMFIR_CONTINUE, "blank sender again")
rcpt(conn, "<bob@example.test>", SMFIR_CONTINUE,
     "after abort, <> to one local user accepted again")

check(mt.helo(conn, "again.example.net") == nil, "second HELO")
expect(conn, SMFIR_CONTINUE, "second HELO accepted")
check(mt.unknown(conn, "XFOO bar") == nil, "unknown command")
expect(conn, SMFIR_CONTINUE, "unknown command left to the MTA")
mt.disconnect(conn)
