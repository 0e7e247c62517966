/*
 * test-metrics - counters, bounded labels and the text format
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "config.h"
#include "listen_addr.h"
#include "metrics.h"

static char *
render(const struct metrics_snapshot *snap)
{
	struct wt_buf b;

	wt_buf_init(&b, 1 << 20);
	metrics_render(&b, snap);
	return wt_buf_export(&b, NULL);
}

int
main(void)
{
	struct metrics_snapshot snap;
	struct rg_verdict v;
	struct verdict_record rec;
	char   *out;
	int     lo, i;

	memset(&snap, 0, sizeof(snap));
	snap.version = "1.2\"3";
	snap.dir_backend = "file";

	test_begin("off: nothing counted");
	memset(&v, 0, sizeof(v));
	memset(&rec, 0, sizeof(rec));
	metrics_enable(1);
	metrics_count_verdict(&rec, "file");	/* no engine values: not counted */
	metrics_enable(0);
	rec.verdict = &v;
	v.stage = RG_STAGE_RCPT;
	v.rule = RG_RULE_RELAY;
	v.action = RG_REJECT;
	metrics_count_verdict(&rec, "file");
	out = render(&snap);
	test_assert(strstr(out, "relayguard_verdicts_total{") == NULL);
	free(out);
	test_end();

	test_begin("on: verdicts by stage, rule, action; lookups by result");
	metrics_enable(1);
	for (i = 0; i < 3; i++)
		metrics_count_verdict(&rec, "file");
	v.rule = RG_RULE_LOCAL;
	v.action = RG_ACCEPT;
	v.dir_consulted = 1;
	v.dir_result = DIR_FOUND;
	metrics_count_verdict(&rec, "ldap");
	v.rule = RG_RULE_COUNT + 5;	/* out of range: ignored, never an index */
	metrics_count_verdict(&rec, "weird");
	metrics_count_reload(1);
	metrics_count_reload(0);
	metrics_count_reload(0);
	out = render(&snap);
	test_assert(strstr(out, "relayguard_verdicts_total{stage=\"rcpt\",rule=\"relay\","
			   "action=\"reject\"} 3\n") != NULL);
	test_assert(strstr(out, "relayguard_verdicts_total{stage=\"rcpt\",rule=\"local\","
			   "action=\"accept\"} 1\n") != NULL);
	test_assert(strstr(out, "relayguard_directory_lookups_total{backend=\"ldap\","
			   "result=\"found\"} 1\n") != NULL);
	test_assert(strstr(out, "relayguard_directory_lookups_total{backend=\"other\","
			   "result=\"found\"} 1\n") != NULL);
	test_assert(strstr(out, "relayguard_directory_lookups_total{backend=\"file\","
			   "result=\"error\"} 0\n") != NULL);
	test_assert(strstr(out, "relayguard_reloads_total{result=\"failed\"} 2\n") != NULL);
	test_assert(strstr(out, "relayguard_build_info{version=\"1.2\\\"3\"} 1\n") != NULL);
	test_assert(strstr(out, "# TYPE relayguard_verdicts_total counter\n") != NULL);
	test_assert(strstr(out, "relayguard_ldap_up") == NULL);
	free(out);
	test_end();

	test_begin("audit families only with an audit trail; the spool's");
	out = render(&snap);
	test_assert(strstr(out, "relayguard_audit_enabled 0\n") != NULL);
	test_assert(strstr(out, "relayguard_audit_rows_spooled_total") == NULL);
	free(out);
	snap.audit_on = 1;
	snap.audit_spooled = 12;
	snap.audit_spool_rows = 5;
	snap.audit_degraded = 1;
	out = render(&snap);
	test_assert(strstr(out, "relayguard_audit_rows_spooled_total 12\n") != NULL);
	test_assert(strstr(out, "relayguard_audit_spool_rows 5\n") != NULL);
	test_assert(strstr(out, "relayguard_audit_degraded 1\n") != NULL);
	free(out);
	test_end();

	test_begin("LDAP and cache families only when the backend has them");
	snap.dir.has_cache = 1;
	snap.dir.cache_hits = 7;
	snap.dir.has_server = 1;
	snap.dir.up = 0;
	snap.dir.connects = 4;
	out = render(&snap);
	test_assert(strstr(out, "relayguard_directory_cache_hits_total 7\n") != NULL);
	test_assert(strstr(out, "relayguard_ldap_up 0\n") != NULL);
	test_assert(strstr(out, "relayguard_ldap_connects_total 4\n") != NULL);
	free(out);
	test_end();

	test_begin("listen_addr");
	test_assert(listen_addr_parse("127.0.0.1:9154", NULL, &lo) == NULL && lo);
	test_assert(listen_addr_parse("127.8.9.10:1", NULL, &lo) == NULL && lo);
	test_assert(listen_addr_parse("192.0.2.1:9154", NULL, &lo) == NULL && !lo);
	test_assert(listen_addr_parse("[::1]:9154", NULL, &lo) == NULL && lo);
	test_assert(listen_addr_parse("[2001:db8::1]:80", NULL, &lo) == NULL && !lo);
	test_assert(listen_addr_parse("::1:9154", NULL, &lo) != NULL);
	test_assert(listen_addr_parse("localhost:9154", NULL, &lo) != NULL);
	test_assert(listen_addr_parse("127.0.0.1", NULL, &lo) != NULL);
	test_assert(listen_addr_parse("127.0.0.1:0", NULL, &lo) != NULL);
	test_assert(listen_addr_parse("127.0.0.1:65536", NULL, &lo) != NULL);
	test_assert(listen_addr_parse("127.0.0.1:9x", NULL, &lo) != NULL);
	test_assert(listen_addr_parse(":9154", NULL, &lo) != NULL);
	test_end();
	return test_exit();
}
