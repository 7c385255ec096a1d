/*
 * test_queue_env: envelope encoding round trips, torn-write detection,
 * hostile input, queue ids.
 */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "queued/queue_env.h"

static void
make_env(struct envelope *env)
{
	env_init(env);
	env->id = 0x0123456789ABCDEFULL;
	env->created = 1700000000;
	strlcpy(env->sender, "scans@example.com", sizeof(env->sender));
	env->token = 42;
	strlcpy(env->client, "192.0.2.1", sizeof(env->client));
	strlcpy(env->helo, "printer.local", sizeof(env->helo));
	env->body = BODY_8BIT;
	env->size = 1234;
	env->flags = ENV_F_HOLD;
	env->inflight = 2;
	env_set_dkim(env, "DKIM-Signature: v=1; a=ed25519-sha256\r\n", 39);
	env_add_rcpt(env, "a@example.org", 1700000100);
	env_add_rcpt(env, "b@example.net", 1700000200);
	env->rcpt[1].state = RCPT_FAILED;
	env->rcpt[1].flags = RCPT_F_DSN;
	env->rcpt[1].attempts = 3;
	env->rcpt[1].last = 1700000150;
	env->rcpt[1].code = 550;
	strlcpy(env->rcpt[1].enhanced, "5.1.1", sizeof(env->rcpt[1].enhanced));
	strlcpy(env->rcpt[1].host, "mx.example.net", sizeof(env->rcpt[1].host));
	strlcpy(env->rcpt[1].text, "no such user", sizeof(env->rcpt[1].text));
}

static void
test_env_roundtrip(void)
{
	struct envelope a, b;
	struct dbuf d;
	const char *why = NULL;

	make_env(&a);
	dbuf_init(&d, ENV_MAX_FILE);
	CHECK(env_encode(&a, &d) == 0);
	CHECK(env_decode(d.data, d.len, &b, &why) == 0);
	CHECK(b.id == a.id);
	CHECK_INT(b.created, a.created);
	CHECK_STR(b.sender, a.sender);
	CHECK(b.token == 42);
	CHECK_STR(b.client, "192.0.2.1");
	CHECK_STR(b.helo, "printer.local");
	CHECK_INT(b.body, BODY_8BIT);
	CHECK_INT(b.size, 1234);
	CHECK_INT(b.flags, ENV_F_HOLD);
	CHECK_INT(b.inflight, 2);
	CHECK_INT(b.dkimlen, 39);
	CHECK(b.dkim != NULL && memcmp(b.dkim, a.dkim, 39) == 0);
	CHECK_INT(b.nrcpt, 2);
	CHECK_STR(b.rcpt[0].addr, "a@example.org");
	CHECK_INT(b.rcpt[0].state, RCPT_PENDING);
	CHECK_INT(b.rcpt[0].next, 1700000100);
	CHECK_INT(b.rcpt[1].state, RCPT_FAILED);
	CHECK_INT(b.rcpt[1].flags, RCPT_F_DSN);
	CHECK_INT(b.rcpt[1].attempts, 3);
	CHECK_INT(b.rcpt[1].last, 1700000150);
	CHECK_INT(b.rcpt[1].code, 550);
	CHECK_STR(b.rcpt[1].enhanced, "5.1.1");
	CHECK_STR(b.rcpt[1].host, "mx.example.net");
	CHECK_STR(b.rcpt[1].text, "no such user");
	CHECK_INT(env_count(&b, RCPT_PENDING), 1);
	env_free(&a);
	env_free(&b);
	dbuf_free(&d);
}

static void
test_env_torn(void)
{
	struct envelope a, b;
	struct dbuf d;
	const char *why = NULL;
	size_t cut;
	int bad = 0;

	make_env(&a);
	dbuf_init(&d, ENV_MAX_FILE);
	CHECK(env_encode(&a, &d) == 0);
	/* Every truncation is refused. */
	for (cut = 0; cut < d.len; cut++) {
		if (env_decode(d.data, cut, &b, &why) == 0) {
			bad++;
			env_free(&b);
		}
	}
	CHECK_INT(bad, 0);
	/* A flipped bit anywhere is refused: the checksum. */
	for (cut = 0; cut < d.len; cut++) {
		d.data[cut] ^= 0x10;
		if (env_decode(d.data, d.len, &b, &why) == 0) {
			bad++;
			env_free(&b);
		}
		d.data[cut] ^= 0x10;
	}
	CHECK_INT(bad, 0);
	/* A zero-filled file (delayed allocation after a crash). */
	memset(d.data, 0, d.len);
	CHECK(env_decode(d.data, d.len, &b, &why) == -1);
	env_free(&a);
	dbuf_free(&d);
}

/* Hostile payloads with a correct checksum must still be refused. */
static void
test_env_hostile(void)
{
	struct envelope a, b;
	struct dbuf d;
	const char *why = NULL;
	unsigned char *p;
	uint32_t crc, plen;
	size_t i, off;

	make_env(&a);
	dbuf_init(&d, ENV_MAX_FILE);
	CHECK(env_encode(&a, &d) == 0);
	p = d.data;
	plen = d.len - ENV_HDR_SIZE;
	/* Recipient count: set to a huge value, fix the checksum. */
	off = d.len;
	/* find the u32 nrcpt (2) right after the dkim bytes */
	for (i = ENV_HDR_SIZE; i + 4 <= d.len; i++)
		if (memcmp(p + i, "\x02\x00\x00\x00\x0d\x00\x00\x00", 8) == 0) {
			off = i;
			break;
		}
	CHECK(off < d.len);
	if (off < d.len) {
		memcpy(p + off, "\xff\xff\xff\x7f", 4);
		crc = env_crc32(0, p + ENV_HDR_SIZE, plen);
		for (i = 0; i < 4; i++)
			p[16 + i] = crc >> (8 * i);
		CHECK(env_decode(d.data, d.len, &b, &why) == -1);
	}
	/* Unknown version. */
	dbuf_reset(&d);
	CHECK(env_encode(&a, &d) == 0);
	d.data[8] = 9;
	CHECK(env_decode(d.data, d.len, &b, &why) == -1);
	CHECK_STR(why, "unknown envelope version");
	env_free(&a);
	dbuf_free(&d);
}

static void
test_env_limits(void)
{
	struct envelope a;
	char addr[MAX_ADDR + 10];
	uint32_t i;

	env_init(&a);
	memset(addr, 'x', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	CHECK(env_add_rcpt(&a, addr, 0) == -1);
	for (i = 0; i < ENV_MAX_RCPT; i++)
		if (env_add_rcpt(&a, "r@example.org", 0) == -1)
			break;
	CHECK_INT(i, ENV_MAX_RCPT);
	CHECK(env_add_rcpt(&a, "r@example.org", 0) == -1);
	CHECK(env_set_dkim(&a, addr, ENV_MAX_DKIM + 1) == -1);
	env_free(&a);
}

static void
test_qid(void)
{
	char buf[QID_LEN + 1];
	uint64_t a, b;

	qid_format(0x0123456789ABCDEFULL, buf);
	CHECK_STR(buf, "0123456789ABCDEF");
	CHECK(qid_parse("0123456789ABCDEF") == 0x0123456789ABCDEFULL);
	CHECK(qid_parse("0123456789abcdef") == 0);
	CHECK(qid_parse("0123456789ABCDE") == 0);
	CHECK(qid_parse("0123456789ABCDEF0") == 0);
	CHECK(qid_parse("../../etc/passwd") == 0);
	CHECK(qid_parse("") == 0);
	a = qid_new(1700000000);
	b = qid_new(1700000001);
	CHECK(a < b);		/* time-ordered */
	CHECK(a >> 28 == 1700000000);
	CHECK_STR(env_rcpt_domain("a@b@Example.ORG"), "Example.ORG");
	CHECK_STR(env_rcpt_domain("postmaster"), "");
}

int
main(void)
{
	RUN(test_env_roundtrip);
	RUN(test_env_torn);
	RUN(test_env_hostile);
	RUN(test_env_limits);
	RUN(test_qid);
	return unit_done();
}
