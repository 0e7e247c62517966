-- tests/milter/basic.lua - negotiation and one ordinary transaction
--
-- What the milter asks of the MTA (envelope only, never the message, no
-- modifications, DATA answered so the Nagle stall cannot come back), and
-- the replies of a plain transaction: local user accepted, relay, unknown
-- user and percent hack refused with a reply code, a recipient the MTA
-- refused itself recorded without a reply, DATA and EOM accepted.

dofile(os.getenv("RG_LUA_DIR") .. "/lib.lua")

local conn = open()
mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.test",
	 "{daemon_name}", "smtpd-basic")
session(conn, "client.example.net", "192.0.2.10", "client.example.net")

check(mt.test_option(conn, SMFIP_NOBODY), "negotiated: no body")
check(mt.test_option(conn, SMFIP_NOHDRS), "negotiated: no headers")
check(mt.test_option(conn, SMFIP_NOEOH), "negotiated: no end-of-header")
check(not mt.test_option(conn, SMFIP_NODATA),
      "negotiated: DATA is sent (Nagle guard)")
check(not mt.test_option(conn, SMFIP_NR_DATA),
      "negotiated: DATA is answered (Nagle guard)")
check(mt.test_option(conn, SMFIP_RCPT_REJ),
      "negotiated: the MTA passes the recipients it refused itself")
for name, flag in pairs({ADDHDRS = SMFIF_ADDHDRS, CHGBODY = SMFIF_CHGBODY,
			 ADDRCPT = SMFIF_ADDRCPT, DELRCPT = SMFIF_DELRCPT,
			 CHGHDRS = SMFIF_CHGHDRS,
			 QUARANTINE = SMFIF_QUARANTINE}) do
	check(not mt.test_action(conn, flag), "no action SMFIF_" .. name)
end

mt.macro(conn, SMFIC_MAIL, "i", "BASIC0001")
mail(conn, "<sender@example.net>", SMFIR_CONTINUE, "foreign sender accepted")
rcpt(conn, "<alice@example.test>", SMFIR_CONTINUE, "local user accepted")
rcpt(conn, "<victim@remote.example>", SMFIR_REPLYCODE,
     "relay refused with a reply")
rcpt(conn, "<nobody@example.test>", SMFIR_REPLYCODE, "unknown user refused")
rcpt(conn, "<victim%remote.example@example.test>", SMFIR_REPLYCODE,
     "percent hack refused")
-- a recipient the MTA refused itself (SMFIP_RCPT_REJ): recorded, not answered
mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "error", "{rcpt_host}", "5.7.1",
	 "{rcpt_addr}", "Recipient address rejected: Access denied")
rcpt(conn, "<blocked@example.test>", SMFIR_CONTINUE,
     "MTA-refused recipient: continue, no reply of ours")
mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "local")
check(mt.data(conn) == nil, "DATA sent")
expect(conn, SMFIR_CONTINUE, "DATA answered")
check(mt.eom(conn) == nil, "end of message sent")
expect(conn, SMFIR_CONTINUE, "end of message accepted")
mt.disconnect(conn)
