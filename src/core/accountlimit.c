/*
 * accountlimit - how much privileged senders relay
 *
 * See accountlimit.h.  The entries live in an lru_table (fixed size,
 * striped, least recently used evicted), keyed by the account's 64-bit
 * hash, which is also the table's hash.
 *
 * Decisions that are not obvious:
 * - A recipient refused in tempfail mode is not counted: it was not
 *   relayed.  In alert mode every accepted recipient counts.
 * - Once tempfail mode trips, the account stays blocked until the
 *   crossed limit's window has passed since the crossing ("the rest of
 *   the window"), even if its sliding count drops below the limit.
 * - A full distinct set counts as AL_DISTINCT_* + 1, so a limit below
 *   the set's size is still crossed; the configuration keeps the
 *   distinct limits below it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "lru_table.h"
#include "accountlimit.h"

#define HOUR_BUCKETS	12
#define HOUR_BUCKET_S	300
#define DAY_BUCKETS	24
#define DAY_BUCKET_S	3600
#define DAY_S		86400
#define OVERRIDE_FILE_MAX (4 * 1024 * 1024)
#define OVERRIDE_LINE_MAX 1024

struct al_entry {
	struct lru_table_link link;	/* first: the table's */
	uint32_t hour_epoch;		/* bucket numbers of the newest */
	uint64_t key;			/* hash of kind and account; never 0 */
	uint32_t day_epoch;
	uint32_t set_start;		/* when the distinct sets started */
	uint32_t blocked_until;		/* tempfail mode tripped */
	uint32_t alerted_until[AL_LIMIT_COUNT];
	uint16_t hour[HOUR_BUCKETS];
	uint32_t day[DAY_BUCKETS];
	uint8_t ndomains, nclients;
	uint8_t blocked_limit;		/* enum al_limit that tripped */
	uint32_t domains[AL_DISTINCT_DOMAINS];
	uint32_t clients[AL_DISTINCT_CLIENTS];
};

struct accountlimit {
	struct lru_table *table;
	accountlimit_clock_fn clock;
	void   *clock_ctx;
};

struct al_override {
	char   *user;			/* lower-case */
	struct accountlimit_limits limits;
};

struct accountlimit_overrides {
	struct al_override *items;
	size_t  count;
	uint32_t *slots;		/* index + 1; open addressing */
	size_t  nslots;			/* power of two */
};

static const char *const limit_names[AL_LIMIT_COUNT] = {
	"hour", "day", "domains", "clients",
};

/* al_limit_name - hour, day, domains, clients */
const char *
al_limit_name(enum al_limit limit)
{
	return (unsigned) limit < AL_LIMIT_COUNT ? limit_names[limit] : "none";
}

/* al_action_name - alert, tempfail */
const char *
al_action_name(enum al_action action)
{
	return action == AL_TEMPFAIL ? "tempfail" : "alert";
}

/* al_kind_name - auth, trusted */
const char *
al_kind_name(enum al_kind kind)
{
	return kind == AL_TRUSTED ? "trusted" : "auth";
}

/* accountlimit_entry_bytes - memory per tracked account */
size_t
accountlimit_entry_bytes(void)
{
	return sizeof(struct al_entry) + sizeof(uint32_t);
}

/* mono_seconds - the default clock */
static uint32_t
mono_seconds(void *ctx)
{
	(void) ctx;
	return (uint32_t) (rg_mono_ms() / 1000) + 1;
}

/* fnv64 - FNV-1a over bytes, ASCII-lowercased when fold */
static uint64_t
fnv64(uint64_t h, const void *data, size_t len, int fold)
{
	const unsigned char *p = data;
	size_t  i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char) (c - 'A' + 'a');
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* entry_hash - the table's hash of an entry: its key (on eviction) */
static uint64_t
entry_hash(const void *entry)
{
	return ((const struct al_entry *) entry)->key;
}

/* entry_match - whether an entry holds a key */
static int
entry_match(const void *entry, const void *key)
{
	return ((const struct al_entry *) entry)->key == *(const uint64_t *) key;
}

/* accountlimit_new - a fixed-size table; never NULL */
struct accountlimit *
accountlimit_new(size_t entries, unsigned stripes)
{
	struct accountlimit *al = xcalloc(1, sizeof(*al));

	al->table = lru_table_new(entries, stripes, sizeof(struct al_entry),
				  entry_hash);
	al->clock = mono_seconds;
	return al;
}

/* accountlimit_free - release the table; returns NULL */
struct accountlimit *
accountlimit_free(struct accountlimit *al)
{
	if (al == NULL)
		return NULL;
	lru_table_free(al->table);
	free(al);
	return NULL;
}

/* accountlimit_set_clock - replace the monotonic clock (tests) */
void
accountlimit_set_clock(struct accountlimit *al, accountlimit_clock_fn fn,
		       void *ctx)
{
	al->clock = fn != NULL ? fn : mono_seconds;
	al->clock_ctx = ctx;
}

/* entry_for - the entry of key, inserted (evicting) when absent */
static struct al_entry *
entry_for(struct lru_table_stripe *st, uint64_t key, uint32_t now)
{
	struct al_entry *e = lru_table_find(st, key, entry_match, &key, 1);

	if (e != NULL)
		return e;
	e = lru_table_insert(st, key);
	e->key = key;
	e->hour_epoch = now / HOUR_BUCKET_S;
	e->day_epoch = now / DAY_BUCKET_S;
	e->set_start = now;
	return e;
}

/* age - clear what left the windows since the entry was last touched */
static void
age(struct al_entry *e, uint32_t now)
{
	uint32_t cur = now / HOUR_BUCKET_S, gap = cur - e->hour_epoch, i;

	if (gap >= HOUR_BUCKETS || cur < e->hour_epoch)
		memset(e->hour, 0, sizeof(e->hour));
	else
		for (i = 1; i <= gap; i++)
			e->hour[(e->hour_epoch + i) % HOUR_BUCKETS] = 0;
	e->hour_epoch = cur;
	cur = now / DAY_BUCKET_S;
	gap = cur - e->day_epoch;
	if (gap >= DAY_BUCKETS || cur < e->day_epoch)
		memset(e->day, 0, sizeof(e->day));
	else
		for (i = 1; i <= gap; i++)
			e->day[(e->day_epoch + i) % DAY_BUCKETS] = 0;
	e->day_epoch = cur;
	if (now - e->set_start >= DAY_S) {
		e->ndomains = e->nclients = 0;
		e->set_start = now;
	}
}

/* set_has - whether h is among the n hashes of set */
static int
set_has(const uint32_t *set, unsigned n, uint32_t h)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (set[i] == h)
			return 1;
	return 0;
}

/* set_count - the set's size with h added (full sets saturate) */
static unsigned
set_count(const uint32_t *set, unsigned n, unsigned cap, uint32_t h)
{
	if (set_has(set, n, h))
		return n;
	return n < cap ? n + 1 : cap + 1;
}

/* set_add - add h unless present or full */
static void
set_add(uint32_t *set, uint8_t *n, unsigned cap, uint32_t h)
{
	if (!set_has(set, *n, h) && *n < cap)
		set[(*n)++] = h;
}

/* window_of - seconds a limit looks back from now */
static unsigned
window_of(const struct al_entry *e, enum al_limit limit, uint32_t now)
{
	switch (limit) {
	case AL_HOUR:
		return 3600;
	case AL_DAY:
		return DAY_S;
	default:			/* the distinct sets' day */
		return DAY_S - (now - e->set_start);
	}
}

/* accountlimit_rcpt - check and count one remote recipient */
int
accountlimit_rcpt(struct accountlimit *al, enum al_kind kind,
		  const char *account, const struct rg_ip *client,
		  const char *domain, const struct accountlimit_limits *limits,
		  struct al_result *res)
{
	uint64_t key = fnv64(0xcbf29ce484222325ULL, &kind, sizeof(kind), 0);
	uint32_t now, dom, cli = 0;
	struct lru_table_stripe *st;
	struct al_entry *e;
	unsigned count[AL_LIMIT_COUNT], i, sum;
	int     have_client = client != NULL && kind == AL_AUTH;

	memset(res, 0, sizeof(*res));
	res->action = limits->action;
	if (al == NULL)
		return 0;
	key = fnv64(key, account, strlen(account), 1);
	if (key == 0)
		key = 1;
	dom = (uint32_t) fnv64(0xcbf29ce484222325ULL, domain, strlen(domain), 1);
	if (have_client)
		cli = (uint32_t) fnv64(0xcbf29ce484222325ULL, client->addr,
				       client->family == AF_INET ? 4 : 16, 0);
	st = lru_table_stripe(al->table, key);
	now = al->clock(al->clock_ctx);

	lru_table_lock(st);
	e = entry_for(st, key, now);
	age(e, now);
	for (sum = 0, i = 0; i < HOUR_BUCKETS; i++)
		sum += e->hour[i];
	count[AL_HOUR] = sum + 1;
	for (sum = 0, i = 0; i < DAY_BUCKETS; i++)
		sum += e->day[i];
	count[AL_DAY] = sum + 1;
	count[AL_DOMAINS] = set_count(e->domains, e->ndomains,
				      AL_DISTINCT_DOMAINS, dom);
	count[AL_CLIENTS] = have_client ? set_count(e->clients, e->nclients,
						    AL_DISTINCT_CLIENTS, cli)
		: e->nclients;

	if (e->blocked_until > now && limits->action == AL_TEMPFAIL) {
		res->over = 1;
		res->limit = (enum al_limit) e->blocked_limit;
	} else {
		for (i = 0; i < AL_LIMIT_COUNT; i++) {
			if (limits->max[i] > 0 && count[i] > limits->max[i]) {
				res->over = limits->action == AL_TEMPFAIL;
				res->limit = (enum al_limit) i;
				res->window = window_of(e, res->limit, now);
				if (e->alerted_until[i] <= now) {
					res->alert = 1;
					e->alerted_until[i] = now + res->window;
				}
				if (res->over) {
					e->blocked_until = now + res->window;
					e->blocked_limit = (uint8_t) i;
				}
				break;
			}
		}
	}
	res->count = count[res->limit];
	res->max = limits->max[res->limit];
	if (res->window == 0)
		res->window = e->blocked_until > now ? e->blocked_until - now
			: window_of(e, res->limit, now);
	if (!res->over) {
		uint16_t *slot = &e->hour[e->hour_epoch % HOUR_BUCKETS];

		if (*slot < UINT16_MAX)
			(*slot)++;
		e->day[e->day_epoch % DAY_BUCKETS]++;
		set_add(e->domains, &e->ndomains, AL_DISTINCT_DOMAINS, dom);
		if (have_client)
			set_add(e->clients, &e->nclients, AL_DISTINCT_CLIENTS, cli);
	}
	lru_table_unlock(st);
	return res->over;
}

/* ---------------------------------------------------------------- */
/* The override file */

/* ov_error - "NAME:LINE: reason"; returns NULL */
static struct accountlimit_overrides *__attribute__((format(printf, 6, 7)))
ov_error(struct accountlimit_overrides *ov, char *err, size_t errlen,
	 const char *name, unsigned line, const char *fmt, ...)
{
	char    reason[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s:%u: %s", name, line, reason);
	return accountlimit_overrides_free(ov);
}

/* ov_find_slot - the slot of user, or the empty slot where it goes */
static uint32_t *
ov_find_slot(const struct accountlimit_overrides *ov, const char *user)
{
	size_t  slot = rg_hash_lower(user) & (ov->nslots - 1);

	while (ov->slots[slot] != 0
	       && !rg_strcaseeq(ov->items[ov->slots[slot] - 1].user, user))
		slot = (slot + 1) & (ov->nslots - 1);
	return &ov->slots[slot];
}

/* ov_index - build the hash; a user named twice keeps the last line */
static void
ov_index(struct accountlimit_overrides *ov)
{
	size_t  i;
	uint32_t *slot;

	for (ov->nslots = 8; ov->nslots < ov->count * 2; ov->nslots *= 2)
		continue;
	ov->slots = xcalloc(ov->nslots, sizeof(*ov->slots));
	for (i = 0; i < ov->count; i++) {
		slot = ov_find_slot(ov, ov->items[i].user);
		*slot = (uint32_t) (i + 1);
	}
}

/* ov_setting - one "name=value"; NULL ok, or why not */
static const char *
ov_setting(const char *word, struct accountlimit_limits *lim)
{
	const char *eq = strchr(word, '=');
	unsigned long long v = 0;
	size_t  nlen, i;
	const char *p;

	if (eq == NULL)
		return "expected name=value (hour=, day=, domains=, clients= "
		    "or action=)";
	nlen = (size_t) (eq - word);
	if (nlen == 6 && strncmp(word, "action", 6) == 0) {
		if (strcmp(eq + 1, "alert") == 0)
			lim->action = AL_ALERT;
		else if (strcmp(eq + 1, "tempfail") == 0)
			lim->action = AL_TEMPFAIL;
		else
			return "action: expected alert or tempfail";
		return NULL;
	}
	for (i = 0; i < AL_LIMIT_COUNT; i++)
		if (strlen(limit_names[i]) == nlen
		    && strncmp(word, limit_names[i], nlen) == 0)
			break;
	if (i == AL_LIMIT_COUNT)
		return "unknown setting (hour, day, domains, clients or action)";
	if (eq[1] == '\0')
		return "missing number after \"=\"";
	for (p = eq + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - eq > 9)
			return "expected a whole number (0: no limit)";
		v = v * 10 + (unsigned long long) (*p - '0');
	}
	if ((i == AL_DOMAINS && v >= AL_DISTINCT_DOMAINS)
	    || (i == AL_CLIENTS && v >= AL_DISTINCT_CLIENTS)
	    || v > AL_MAX_RCPTS)
		return "number too large (hour, day: 10000000; domains: 63; "
		    "clients: 15)";
	lim->max[i] = (unsigned) v;
	return NULL;
}

/* accountlimit_overrides_parse - the override file's text */
struct accountlimit_overrides *
accountlimit_overrides_parse(const char *text, size_t len, const char *name,
			     const struct accountlimit_limits *defaults,
			     char *err, size_t errlen)
{
	struct accountlimit_overrides *ov = xcalloc(1, sizeof(*ov));
	size_t  pos = 0, cap = 0;
	unsigned lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t  llen = nl ? (size_t) (nl - (text + pos)) : len - pos;
		char    line[OVERRIDE_LINE_MAX + 1], *word, *save = NULL, *hash;
		struct al_override item;
		const char *why;
		int     words = 0;

		lineno++;
		if (llen > OVERRIDE_LINE_MAX)
			return ov_error(ov, err, errlen, name, lineno,
					"line longer than %d bytes",
					OVERRIDE_LINE_MAX);
		if (memchr(text + pos, '\0', llen) != NULL)
			return ov_error(ov, err, errlen, name, lineno,
					"NUL byte in the line");
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		pos += llen + (nl != NULL);
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		memset(&item, 0, sizeof(item));
		item.limits = *defaults;
		for (word = strtok_r(line, " \t\r", &save); word != NULL;
		     word = strtok_r(NULL, " \t\r", &save)) {
			if (words++ == 0) {
				if (strchr(word, '=') != NULL)
					return ov_error(ov, err, errlen, name,
							lineno, "a line starts "
							"with the user name, "
							"not \"%.60s\"", word);
				item.user = word;
				continue;
			}
			if ((why = ov_setting(word, &item.limits)) != NULL) {
				char    msg[400];

				snprintf(msg, sizeof(msg), "%.60s: %s", word, why);
				return ov_error(ov, err, errlen, name, lineno,
						"%s", msg);
			}
		}
		if (words == 0)
			continue;
		if (words == 1)
			return ov_error(ov, err, errlen, name, lineno,
					"%.60s: no limits after the user name",
					item.user);
		if (ov->count == cap) {
			cap = cap ? cap * 2 : 16;
			ov->items = xrealloc(ov->items, cap * sizeof(*ov->items));
		}
		item.user = xstrdup(item.user);
		rg_lowercase(item.user);
		ov->items[ov->count++] = item;
	}
	ov_index(ov);
	return ov;
}

/* accountlimit_overrides_load - read and parse the file at path */
struct accountlimit_overrides *
accountlimit_overrides_load(const char *path,
			    const struct accountlimit_limits *defaults,
			    char *err, size_t errlen)
{
	struct accountlimit_overrides *ov;
	FILE   *fp = fopen(path, "r");
	char   *text;
	size_t  len = 0, n;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = xmalloc(OVERRIDE_FILE_MAX + 1);
	while ((n = fread(text + len, 1, OVERRIDE_FILE_MAX + 1 - len, fp)) > 0)
		len += n;
	fclose(fp);
	if (len > OVERRIDE_FILE_MAX) {
		free(text);
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 OVERRIDE_FILE_MAX);
		return NULL;
	}
	ov = accountlimit_overrides_parse(text, len, path, defaults, err, errlen);
	free(text);
	return ov;
}

/* accountlimit_overrides_free - release; returns NULL */
struct accountlimit_overrides *
accountlimit_overrides_free(struct accountlimit_overrides *ov)
{
	size_t  i;

	if (ov == NULL)
		return NULL;
	for (i = 0; i < ov->count; i++)
		free(ov->items[i].user);
	free(ov->items);
	free(ov->slots);
	free(ov);
	return NULL;
}

/* accountlimit_overrides_find - user's limits, or NULL */
const struct accountlimit_limits *
accountlimit_overrides_find(const struct accountlimit_overrides *ov,
			    const char *user)
{
	uint32_t *slot;

	if (ov == NULL || ov->count == 0)
		return NULL;
	slot = ov_find_slot(ov, user);
	return *slot != 0 ? &ov->items[*slot - 1].limits : NULL;
}

/* accountlimit_overrides_count - lines read */
size_t
accountlimit_overrides_count(const struct accountlimit_overrides *ov)
{
	return ov != NULL ? ov->count : 0;
}
