-- tests/e2e/dashboard-hostile.sql - rows a hostile client could make the
-- daemon write, added to the dashboard test's database.  @TIME@ is
-- replaced by a time inside the test's range.  Each value tries a
-- different context: HTML text and attributes, a script end tag, a
-- spreadsheet formula, JSON and CSV delimiters, invalid UTF-8.
INSERT INTO verdicts (time, session_id, queue_id, mta, client_addr,
	client_name, helo, auth_user, stage, sender, rcpt, rcpt_normalized, rule,
	action, code, ecode, text, directory_result, trace, client_trust,
	sender_class) VALUES
('@TIME@', 'HOSTILE1', NULL, 'smtpd', '192.0.2.66', 'evil.example',
 '<img src=x onerror=alert(1)>', NULL, 'rcpt',
 '<"x"@evil.example>', '<a</script><script>document.body.setAttribute(''data-pwned'',''script'')</script>@remote.test>',
 'a</script><script>document.body.setAttribute(''data-pwned'',''script'')</script>@remote.test',
 'relay', 'reject', 550, '5.7.1', 'Relay access denied', NULL,
 'final destination remote.test', 'untrusted', 'foreign'),
('@TIME@', 'HOSTILE2', NULL, 'smtpd', '192.0.2.66', '"><svg onload=alert(2)>',
 '<img src=x onerror="document.body.setAttribute(''data-pwned'',''img'')">', NULL, 'mail',
 '=HYPERLINK("http://evil.example/","click")', NULL, NULL,
 'pass', 'accept', NULL, NULL, NULL, NULL, NULL, 'untrusted', 'foreign'),
('@TIME@', 'HOSTILE3', NULL, 'smtpd', '192.0.2.66', 'evil.example',
 'x' || char(10) || '"},{"injected":1', NULL, 'rcpt',
 '+cmd|'' /C calc''!A0', '<@evil,"quoted"@example.test>', 'quoted@example.test',
 'unknown', 'reject', 550, '5.1.1', 'User unknown', 'not-found',
 '<b>bold</b>; &amp; entity; ' || CAST(X'C3A9FF' AS TEXT), 'untrusted', 'foreign');
