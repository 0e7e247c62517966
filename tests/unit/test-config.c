/*
 * test-config - relayguard.conf parsing, validation, defaults and lookups
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "config.h"
#include "testlib.h"

/* parse - config_parse over a C string */
static struct rg_config *
parse(const char *text, char *err, size_t errlen)
{
	return config_parse(text, strlen(text), "t.conf", err, errlen);
}

static void
test_defaults(void)
{
	struct rg_config *cfg = config_defaults();

	test_begin("defaults");
	test_assert_int(cfg->monitor, 0);
	test_assert_int(cfg->relay_authenticated, 1);
	test_assert_int(cfg->harvest_limit, 20);
	test_assert_str(cfg->socket, "inet:8894@127.0.0.1");
	test_assert_int(cfg->replies[RG_REPLY_RELAY].code, 550);
	cfg = config_free(cfg);
	test_assert(cfg == NULL);
	test_end();
}

static void
test_smoke(void)
{
	char err[512];
	struct rg_config *cfg;

	test_begin("smoke");
	cfg = parse("local_domains = Example.ORG. .sub.example.net\n"
		    "trusted_networks = 127.0.0.0/8, ::1/128\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert_str(cfg->qualify_domain, "example.org");
		test_assert(config_local_domain(cfg, "EXAMPLE.org"));
		test_assert(config_local_domain(cfg, "a.sub.example.net"));
		test_assert(!config_local_domain(cfg, "sub.example.net"));
	}
	cfg = config_free(cfg);
	cfg = parse("\n# c\nrelay_networks = x\n", err, sizeof(err));
	test_assert(cfg == NULL);
	test_assert_str(err, "t.conf:3: unknown key \"relay_networks\"");
	test_end();
}

int
main(void)
{
	test_defaults();
	test_smoke();
	return test_exit();
}
