/*
 * test_store_bdb: the Berkeley DB token store (authd/store_bdb.c) in a
 * temporary directory: add, look up, list (whole and in pages, with each
 * filter), delete, duplicate names, collisions, unknown ids, last use,
 * count, and everything still there after closing and opening again.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd/store.h"
#include "log.h"
#include "token.h"
#include "unit.h"

static char dir[] = "/tmp/test_store_bdb.XXXXXX";
static struct store *st;
static const unsigned char key[32] = "test key, thirty-two bytes long";

static void
rmdir_all(const char *path)
{
	struct dirent *de;
	char p[1024];
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

static void
reopen(void)
{
	if (st != NULL)
		st->close(st);
	st = store_bdb_open(dir, STORE_F_NOSYNC);
	CHECK(st != NULL);
}

/* A record whose token is "tok-<seed>", so that its hash is known. */
static void
mkrec(struct token_rec *r, uint64_t id, const char *addr, const char *name,
    const char *account, int seed)
{
	char tok[32];

	memset(r, 0, sizeof(*r));
	r->id = id;
	snprintf(tok, sizeof(tok), "tok-%d", seed);
	token_hash(key, sizeof(key), tok, strlen(tok), r->hash);
	strlcpy(r->addr, addr, sizeof(r->addr));
	strlcpy(r->name, name, sizeof(r->name));
	strlcpy(r->account, account, sizeof(r->account));
	r->created = 1700000000 + seed;
}

static void
hash_of(int seed, unsigned char h[TOKEN_HASH_LEN])
{
	char tok[32];

	snprintf(tok, sizeof(tok), "tok-%d", seed);
	token_hash(key, sizeof(key), tok, strlen(tok), h);
}

struct collect {
	int		 n;
	uint64_t	 ids[64];
	char		 names[64][MAX_NAME];
};

static void
collect_cb(const struct token_rec *r, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64) {
		c->ids[c->n] = r->id;
		strlcpy(c->names[c->n], r->name, MAX_NAME);
	}
	c->n++;
}

static void
list_all(const char *addr, const char *account, size_t page,
    struct collect *c)
{
	struct store_filter f = { addr, account };
	struct store_pos pos;
	int n, calls = 0;

	memset(c, 0, sizeof(*c));
	memset(&pos, 0, sizeof(pos));
	while (!pos.done && calls++ < 1000) {
		n = st->list(st, &f, &pos, page, collect_cb, c);
		CHECK(n >= 0);
		CHECK((size_t)n <= page);
		if (n < 0)
			break;
	}
}

static void
test_add_lookup(void)
{
	struct token_rec r, out;
	unsigned char h[TOKEN_HASH_LEN];

	mkrec(&r, 0x10, "scans@example.com", "office printer", "", 1);
	CHECK_INT(st->add(st, &r), STORE_OK);
	mkrec(&r, 0x20, "scans@example.com", "lobby printer", "cust-7", 2);
	CHECK_INT(st->add(st, &r), STORE_OK);
	mkrec(&r, 0x30, "wp@example.org", "wordpress", "cust-7", 3);
	CHECK_INT(st->add(st, &r), STORE_OK);

	hash_of(2, h);
	CHECK_INT(st->lookup(st, h, &out), STORE_OK);
	CHECK(out.id == 0x20);
	CHECK_STR(out.addr, "scans@example.com");
	CHECK_STR(out.name, "lobby printer");
	CHECK_STR(out.account, "cust-7");
	CHECK_INT(out.created, 1700000002);
	CHECK_INT(out.last_used, 0);
	CHECK_STR(out.last_client, "");

	hash_of(99, h);
	CHECK_INT(st->lookup(st, h, &out), STORE_NOTFOUND);

	CHECK_INT(st->get(st, 0x30, &out), STORE_OK);
	CHECK_STR(out.name, "wordpress");
	CHECK_INT(st->get(st, 0x31, &out), STORE_NOTFOUND);
	CHECK_INT(st->get(st, 0xffffffffffffffffULL, &out), STORE_NOTFOUND);
}

static void
test_duplicates(void)
{
	struct token_rec r;
	uint64_t n = 0;

	/* Same name, same address: refused whatever the id and token. */
	mkrec(&r, 0x40, "scans@example.com", "office printer", "", 4);
	CHECK_INT(st->add(st, &r), STORE_EXISTS);
	/* Same name, another address: fine. */
	mkrec(&r, 0x40, "fax@example.com", "office printer", "", 4);
	CHECK_INT(st->add(st, &r), STORE_OK);
	/* Id taken. */
	mkrec(&r, 0x40, "fax@example.com", "second", "", 5);
	CHECK_INT(st->add(st, &r), STORE_COLLISION);
	/* Token (hash) taken. */
	mkrec(&r, 0x50, "fax@example.com", "third", "", 4);
	CHECK_INT(st->add(st, &r), STORE_COLLISION);
	/* Nothing of the refused ones is left behind. */
	CHECK_INT(st->count(st, NULL, &n), STORE_OK);
	CHECK_INT(n, 4);
	CHECK_INT(st->get(st, 0x50, &r), STORE_NOTFOUND);
}

static void
test_list(void)
{
	struct collect c;
	size_t page;

	list_all(NULL, NULL, 100, &c);
	CHECK_INT(c.n, 4);
	/* By id. */
	CHECK(c.ids[0] == 0x10 && c.ids[1] == 0x20 && c.ids[2] == 0x30 &&
	    c.ids[3] == 0x40);

	/* By address: that address only, by name. */
	list_all("scans@example.com", NULL, 100, &c);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.names[0], "lobby printer");
	CHECK_STR(c.names[1], "office printer");
	/* A prefix of an address is not that address. */
	list_all("scans@example.co", NULL, 100, &c);
	CHECK_INT(c.n, 0);
	list_all("nobody@example.com", NULL, 100, &c);
	CHECK_INT(c.n, 0);

	list_all(NULL, "cust-7", 100, &c);
	CHECK_INT(c.n, 2);
	CHECK(c.ids[0] == 0x20 && c.ids[1] == 0x30);
	list_all(NULL, "cust-", 100, &c);
	CHECK_INT(c.n, 0);
	list_all("scans@example.com", "cust-7", 100, &c);
	CHECK_INT(c.n, 1);
	CHECK(c.ids[0] == 0x20);

	/* Pages of any size give the same walk. */
	for (page = 1; page <= 5; page++) {
		list_all(NULL, NULL, page, &c);
		CHECK_INT(c.n, 4);
		CHECK(c.ids[0] == 0x10 && c.ids[3] == 0x40);
		list_all("scans@example.com", NULL, page, &c);
		CHECK_INT(c.n, 2);
		list_all(NULL, "cust-7", page, &c);
		CHECK_INT(c.n, 2);
	}
}

static void
test_list_while_deleting(void)
{
	struct store_filter f = { NULL, NULL };
	struct store_pos pos;
	struct token_rec r;
	struct collect c;
	int i;

	for (i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "dev %02d", i);
		mkrec(&r, 0x1000 + i, "many@example.net", name, "", 100 + i);
		CHECK_INT(st->add(st, &r), STORE_OK);
	}
	/* Delete the record handed out last and the next one, between
	 * pages: the walk goes on after them (dev 05 is never seen). */
	memset(&c, 0, sizeof(c));
	memset(&pos, 0, sizeof(pos));
	f.addr = "many@example.net";
	CHECK_INT(st->list(st, &f, &pos, 5, collect_cb, &c), 5);
	CHECK_STR(c.names[4], "dev 04");
	CHECK_INT(st->del_id(st, 0x1004, NULL), STORE_OK);
	CHECK_INT(st->del_id(st, 0x1005, NULL), STORE_OK);
	while (!pos.done)
		CHECK(st->list(st, &f, &pos, 5, collect_cb, &c) >= 0);
	CHECK_INT(c.n, 19);
	CHECK_STR(c.names[5], "dev 06");
	CHECK_STR(c.names[18], "dev 19");
	for (i = 0; i < 20; i++)
		st->del_id(st, 0x1000 + i, NULL);
}

static void
test_delete(void)
{
	struct token_rec old, r;
	unsigned char h[TOKEN_HASH_LEN];
	uint64_t n = 0;

	CHECK_INT(st->del_id(st, 0x9999, &old), STORE_NOTFOUND);
	CHECK_INT(st->del_name(st, "scans@example.com", "no such", &old),
	    STORE_NOTFOUND);
	CHECK_INT(st->del_name(st, "nobody@example.com", "office printer",
	    &old), STORE_NOTFOUND);

	CHECK_INT(st->del_id(st, 0x10, &old), STORE_OK);
	CHECK_STR(old.name, "office printer");
	hash_of(1, h);
	CHECK_INT(st->lookup(st, h, &r), STORE_NOTFOUND);
	CHECK_INT(st->get(st, 0x10, &r), STORE_NOTFOUND);
	CHECK_INT(st->del_id(st, 0x10, &old), STORE_NOTFOUND);

	CHECK_INT(st->del_name(st, "fax@example.com", "office printer", &old),
	    STORE_OK);
	CHECK(old.id == 0x40);
	hash_of(4, h);
	CHECK_INT(st->lookup(st, h, &r), STORE_NOTFOUND);

	CHECK_INT(st->count(st, NULL, &n), STORE_OK);
	CHECK_INT(n, 2);
	/* The name is free again. */
	mkrec(&r, 0x10, "scans@example.com", "office printer", "", 1);
	CHECK_INT(st->add(st, &r), STORE_OK);
	CHECK_INT(st->count(st, NULL, &n), STORE_OK);
	CHECK_INT(n, 3);
}

static void
test_record_use(void)
{
	struct token_use u[3];
	struct token_rec r;

	memset(u, 0, sizeof(u));
	u[0].id = 0x20;
	u[0].when = 1800000000;
	strlcpy(u[0].client, "192.0.2.7", sizeof(u[0].client));
	u[1].id = 0x777;	/* gone: skipped */
	u[1].when = 1800000000;
	u[2].id = 0x30;
	u[2].when = 1800000001;
	strlcpy(u[2].client, "2001:db8::1", sizeof(u[2].client));
	CHECK_INT(st->record_use(st, u, 3), STORE_OK);
	CHECK_INT(st->get(st, 0x20, &r), STORE_OK);
	CHECK_INT(r.last_used, 1800000000);
	CHECK_STR(r.last_client, "192.0.2.7");
	CHECK_INT(st->get(st, 0x30, &r), STORE_OK);
	CHECK_STR(r.last_client, "2001:db8::1");
	/* Still found by every index. */
	{
		unsigned char h[TOKEN_HASH_LEN];
		struct collect c;

		hash_of(2, h);
		CHECK_INT(st->lookup(st, h, &r), STORE_OK);
		CHECK_INT(r.last_used, 1800000000);
		list_all(NULL, "cust-7", 10, &c);
		CHECK_INT(c.n, 2);
	}
	/* An older use does not move last use back. */
	u[0].when = 1700000000;
	strlcpy(u[0].client, "198.51.100.1", sizeof(u[0].client));
	CHECK_INT(st->record_use(st, u, 1), STORE_OK);
	CHECK_INT(st->get(st, 0x20, &r), STORE_OK);
	CHECK_INT(r.last_used, 1800000000);
	CHECK_STR(r.last_client, "192.0.2.7");
	CHECK_INT(st->record_use(st, u, 0), STORE_OK);
}

static void
test_count_filters(void)
{
	struct store_filter f = { "scans@example.com", NULL };
	uint64_t n = 0;

	CHECK_INT(st->count(st, &f, &n), STORE_OK);
	CHECK_INT(n, 2);
	f.addr = NULL;
	f.account = "cust-7";
	CHECK_INT(st->count(st, &f, &n), STORE_OK);
	CHECK_INT(n, 2);
	f.account = "nobody";
	CHECK_INT(st->count(st, &f, &n), STORE_OK);
	CHECK_INT(n, 0);
}

static void
test_reopen(void)
{
	struct token_rec r;
	unsigned char h[TOKEN_HASH_LEN];
	struct collect c;
	uint64_t n = 0;

	CHECK_INT(st->sync(st), STORE_OK);
	reopen();
	if (st == NULL)
		return;
	CHECK_INT(st->count(st, NULL, &n), STORE_OK);
	CHECK_INT(n, 3);
	hash_of(3, h);
	CHECK_INT(st->lookup(st, h, &r), STORE_OK);
	CHECK(r.id == 0x30);
	CHECK_STR(r.last_client, "2001:db8::1");
	list_all("scans@example.com", NULL, 10, &c);
	CHECK_INT(c.n, 2);
	/* Still refuses a duplicate name after the reopen. */
	mkrec(&r, 0x60, "scans@example.com", "lobby printer", "", 60);
	CHECK_INT(st->add(st, &r), STORE_EXISTS);
}

static void
test_longest_fields(void)
{
	struct token_rec r, out;
	char addr[MAX_ADDR], name[MAX_NAME], acct[MAX_ACCOUNT];
	unsigned char h[TOKEN_HASH_LEN];
	struct collect c;

	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	addr[60] = '@';
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(acct, 'c', sizeof(acct) - 1);
	acct[sizeof(acct) - 1] = '\0';
	mkrec(&r, 0x70, addr, name, acct, 70);
	memset(r.last_client, '1', sizeof(r.last_client) - 1);
	CHECK_INT(st->add(st, &r), STORE_OK);
	hash_of(70, h);
	CHECK_INT(st->lookup(st, h, &out), STORE_OK);
	CHECK_STR(out.addr, addr);
	CHECK_STR(out.name, name);
	CHECK_STR(out.account, acct);
	list_all(addr, acct, 10, &c);
	CHECK_INT(c.n, 1);
	CHECK_INT(st->del_name(st, addr, name, NULL), STORE_OK);
}

static void
test_open_fails(void)
{
	/* A home that does not exist: an error, not a crash. */
	CHECK(store_bdb_open("/nonexistent/postern/auth", 0) == NULL);
}

int
main(void)
{
	log_init("test_store_bdb", LOG_TO_STDERR, 0);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	reopen();
	if (st == NULL)
		return 1;
	RUN(test_add_lookup);
	RUN(test_duplicates);
	RUN(test_list);
	RUN(test_list_while_deleting);
	RUN(test_delete);
	RUN(test_record_use);
	RUN(test_count_filters);
	RUN(test_reopen);
	RUN(test_longest_fields);
	RUN(test_open_fails);
	if (st != NULL)
		st->close(st);
	rmdir_all(dir);
	return unit_done();
}
