-- tests/milter/lib.lua - helpers shared by the miltertest scripts
--
-- Loaded with dofile() by every script.  The shell driver
-- (miltertest.sh) passes the milter socket in RG_SOCKET.  A failed check
-- prints "FAIL: what" and raises an error, so miltertest exits non-zero.

rg_socket = os.getenv("RG_SOCKET")
if rg_socket == nil then
	mt.echo("FAIL: RG_SOCKET is not set")
	error("RG_SOCKET")
end

-- check - fail the script unless cond holds
function check(cond, what)
	if not cond then
		mt.echo("FAIL: " .. what)
		error(what)
	end
	mt.echo("ok: " .. what)
end

-- open - connect to the milter (retrying while it starts)
function open()
	local conn = mt.connect(rg_socket, 40, 0.25)
	check(conn ~= nil, "connect to " .. rg_socket)
	return conn
end

-- expect - the last reply must be want (an SMFIR_* constant)
function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		mt.echo("FAIL: " .. what .. ": reply " .. tostring(got) ..
			", want " .. tostring(want))
		error(what)
	end
	mt.echo("ok: " .. what)
end

-- session - connect info (+ macros) and HELO, both accepted
function session(conn, name, addr, helo)
	check(mt.conninfo(conn, name, addr) == nil, "conninfo " .. addr)
	expect(conn, SMFIR_CONTINUE, "connect " .. addr .. " accepted")
	if helo ~= nil then
		check(mt.helo(conn, helo) == nil, "helo " .. helo)
		expect(conn, SMFIR_CONTINUE, "helo accepted")
	end
end

-- mail, rcpt - send and expect a reply type
function mail(conn, path, want, what, ...)
	check(mt.mailfrom(conn, path, ...) == nil, "MAIL " .. path .. " sent")
	expect(conn, want, what)
end

function rcpt(conn, path, want, what, ...)
	check(mt.rcptto(conn, path, ...) == nil, "RCPT " .. path .. " sent")
	expect(conn, want, what)
end
