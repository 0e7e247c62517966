# tests/hostile/hostile_text.py - the hostile strings of hostile-text.sh,
# and the readers it checks each output with
#
# Each string mixes what has broken log and report formats before:
# spaces that spell key=value fields, a literal backslash-x-2-0, quotes,
# CR LF and ESC, a byte that is not UTF-8 (0xE9 alone), U+2028, markup
# and a leading spreadsheet formula.

STRINGS = {
    "client": b'=cmd|" /C calc"!A0 x action=accept \\x20 caf\xc3\xa9',
    "helo": b'evil a\\x20b\r\nNOQUEUE: session=forged \x1b[31m \xe9 \xe2\x80\xa8 <b>"q"</b>',
    "sender": b'<"s action=accept rule=local"@remote.test>',
    "rcpt": b'<"x action=accept rule=local code=250 \\\\ \xe9"@evil.com>',
}


def unescape(value):
    """read back text.h's log and human escaping: \\xNN, \\\\, \\\" """
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c == 0x5c and i + 1 < len(value):
            n = value[i + 1]
            if n in (0x5c, 0x22):
                out.append(n)
                i += 2
                continue
            if n == 0x78 and i + 3 < len(value):
                out.append(int(value[i + 2:i + 4], 16))
                i += 4
                continue
            raise ValueError("bad escape in %r" % value)
        out.append(c)
        i += 1
    return bytes(out)


def as_unicode(raw):
    """what JSON and CSV must show: U+FFFD for each byte that is not UTF-8"""
    return raw.decode("utf-8", errors="replace")
