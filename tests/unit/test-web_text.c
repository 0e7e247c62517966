/*
 * test-web_text - the dashboard's JSON and CSV escapers, the bounded buffer
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "web_text.h"

/* json - s through wt_json_string, in a static buffer */
static const char *
json(const char *s)
{
	static char out[1024];
	struct wt_buf b;

	wt_buf_init(&b, 4096);
	wt_json_string(&b, s);
	snprintf(out, sizeof(out), "%s", b.data);
	wt_buf_free(&b);
	return out;
}

static const char *
csv(const char *s)
{
	static char out[1024];
	struct wt_buf b;

	wt_buf_init(&b, 4096);
	wt_csv_cell(&b, s);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
	wt_buf_free(&b);
	return out;
}

static void
test_json(void)
{
	test_begin("json strings");
	test_assert_str(json(NULL), "null");
	test_assert_str(json(""), "\"\"");
	test_assert_str(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
	test_assert_str(json("</script>"), "\"\\u003c/script\\u003e\"");
	test_assert_str(json("<img src=x onerror=alert(1)>"),
			"\"\\u003cimg src=x onerror=alert(1)\\u003e\"");
	test_assert_str(json("a&b'c"), "\"a\\u0026b\\u0027c\"");
	test_assert_str(json("\n\t\x01\x7f"), "\"\\u000a\\u0009\\u0001\\u007f\"");
	test_assert_str(json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	test_assert_str(json("\xff\xc3"), "\"\\ufffd\\ufffd\"");
	test_assert_str(json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");	/* overlong */
	test_assert_str(json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */
	test_assert_str(json("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "\"a\\u2028b\\u2029\"");
	test_end();
}

static void
test_csv(void)
{
	test_begin("csv cells");
	test_assert_str(csv(NULL), "");
	test_assert_str(csv("plain"), "plain");
	test_assert_str(csv("a,b"), "\"a,b\"");
	test_assert_str(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
	test_assert_str(csv("line\nbreak"), "\"line\nbreak\"");
	test_assert_str(csv("=1+1"), "\"'=1+1\"");
	test_assert_str(csv("+cmd|' /C calc'!A0"), "\"'+cmd|' /C calc'!A0\"");
	test_assert_str(csv("-2"), "\"'-2\"");
	test_assert_str(csv("@SUM(A1)"), "\"'@SUM(A1)\"");
	test_assert_str(csv("\t=x"), "\"'\t=x\"");
	test_assert_str(csv("\r=x"), "\"'\r=x\"");
	test_assert_str(csv("a=b"), "a=b");
	test_assert_str(csv("caf\xc3\xa9"), "caf\xc3\xa9");
	test_assert_str(csv("x\xffy"), "\"x\xef\xbf\xbdy\"");
	test_end();
}

static void
test_bounded(void)
{
	struct wt_buf b;
	char   *s;
	size_t  len;

	test_begin("bounded buffer");
	wt_buf_init(&b, 10);
	wt_puts(&b, "12345");
	test_assert(!wt_buf_full(&b));
	wt_puts(&b, "67890");
	test_assert(!wt_buf_full(&b));
	wt_puts(&b, "x");
	test_assert(wt_buf_full(&b));
	wt_puts(&b, "");
	test_assert_int(b.len, 10);
	s = wt_buf_export(&b, &len);
	test_assert_str(s, "1234567890");
	test_assert_int(len, 10);
	free(s);
	wt_buf_init(&b, 1 << 20);
	wt_printf(&b, "%0600d", 7);
	test_assert_int(b.len, 600);
	test_assert(b.data[599] == '7');
	wt_buf_free(&b);
	test_end();
}

int
main(void)
{
	test_json();
	test_csv();
	test_bounded();
	return test_exit();
}
