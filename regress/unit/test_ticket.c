/*
 * test_ticket: login tickets (lib/ticket.c): a good ticket round-trips;
 * expired, forged, truncated, padded and other-key tickets are refused.
 */
#include <stdint.h>
#include <string.h>

#include "ticket.h"
#include "unit.h"

static unsigned char key[TICKET_KEY_LEN];
static unsigned char key2[TICKET_KEY_LEN];

#define SESSION	0x1122334455667788ULL
#define TOKID	0x99aabbccddeeff01ULL
#define ADDR	"scans@example.com"
#define NOW	((time_t)1700000000)

static size_t
make(unsigned char *t, size_t tsz, const char *addr, time_t expiry)
{
	size_t len = 0;

	CHECK(ticket_make(key, sizeof(key), SESSION, TOKID, addr, expiry, t,
	    tsz, &len) == 0);
	return len;
}

static int
verify(const unsigned char *k, const unsigned char *t, size_t len,
    time_t now)
{
	uint64_t s, id;
	char addr[MAX_ADDR];

	return ticket_verify(k, TICKET_KEY_LEN, t, len, now, &s, &id, addr,
	    sizeof(addr));
}

static void
test_good(void)
{
	unsigned char t[MAX_TICKET];
	uint64_t s = 0, id = 0;
	char addr[MAX_ADDR];
	size_t len;

	len = make(t, sizeof(t), ADDR, NOW + 86400);
	CHECK_INT(len, TICKET_FIXED_LEN + strlen(ADDR));
	CHECK(ticket_verify(key, sizeof(key), t, len, NOW, &s, &id, addr,
	    sizeof(addr)) == TICKET_OK);
	CHECK(s == SESSION);
	CHECK(id == TOKID);
	CHECK_STR(addr, ADDR);
	/* Good until the last second before expiry. */
	CHECK(verify(key, t, len, NOW + 86399) == TICKET_OK);
}

static void
test_longest_address_fits(void)
{
	unsigned char t[MAX_TICKET];
	char addr[MAX_ADDR], out[MAX_ADDR];
	uint64_t s, id;
	size_t len;

	memset(addr, 'a', MAX_ADDR - 1);
	addr[MAX_ADDR - 1] = '\0';
	addr[10] = '@';
	len = make(t, sizeof(t), addr, NOW + 10);
	CHECK(len <= MAX_TICKET);
	CHECK(ticket_verify(key, sizeof(key), t, len, NOW, &s, &id, out,
	    sizeof(out)) == TICKET_OK);
	CHECK_STR(out, addr);
	/* An address buffer too small for it is refused, not truncated. */
	CHECK(ticket_verify(key, sizeof(key), t, len, NOW, &s, &id, out,
	    MAX_ADDR - 1) == TICKET_BAD);
}

static void
test_make_refuses(void)
{
	unsigned char t[MAX_TICKET];
	char addr[MAX_ADDR + 1];
	size_t len = 12345;

	CHECK(ticket_make(key, sizeof(key), SESSION, TOKID, "", NOW, t,
	    sizeof(t), &len) == -1);
	memset(addr, 'a', MAX_ADDR);
	addr[MAX_ADDR] = '\0';
	CHECK(ticket_make(key, sizeof(key), SESSION, TOKID, addr, NOW, t,
	    sizeof(t), &len) == -1);
	CHECK(ticket_make(key, 8, SESSION, TOKID, ADDR, NOW, t, sizeof(t),
	    &len) == -1);
	CHECK(ticket_make(key, sizeof(key), SESSION, TOKID, ADDR, NOW, t,
	    TICKET_FIXED_LEN + strlen(ADDR) - 1, &len) == -1);
	CHECK_INT(len, 12345);
}

static void
test_expired(void)
{
	unsigned char t[MAX_TICKET];
	size_t len;

	len = make(t, sizeof(t), ADDR, NOW);
	CHECK(verify(key, t, len, NOW) == TICKET_EXPIRED);
	CHECK(verify(key, t, len, NOW + 86400) == TICKET_EXPIRED);
	CHECK(verify(key, t, len, NOW - 1) == TICKET_OK);
}

static void
test_wrong_key(void)
{
	unsigned char t[MAX_TICKET];
	size_t len;

	len = make(t, sizeof(t), ADDR, NOW + 60);
	CHECK(verify(key2, t, len, NOW) == TICKET_BAD);
	CHECK(ticket_verify(key, 8, t, len, NOW, NULL, NULL, NULL, 0) ==
	    TICKET_BAD);
}

static void
test_forged(void)
{
	unsigned char t[MAX_TICKET], bad[MAX_TICKET];
	size_t len, i;
	int bit, accepted = 0;

	len = make(t, sizeof(t), ADDR, NOW + 60);
	/* Flip every bit of the ticket in turn: the MAC covers them all. */
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, t, len);
			bad[i] ^= (unsigned char)(1 << bit);
			if (verify(key, bad, len, NOW) != TICKET_BAD)
				accepted++;
		}
	}
	CHECK_INT(accepted, 0);

	/* Someone else's address with the original MAC. */
	memcpy(bad, t, len);
	memcpy(bad + 27, "boss!", 5);
	CHECK(verify(key, bad, len, NOW) == TICKET_BAD);
}

static void
test_truncated_and_padded(void)
{
	unsigned char t[MAX_TICKET + 8];
	size_t len, n;
	int accepted = 0;

	len = make(t, sizeof(t), ADDR, NOW + 60);
	for (n = 0; n < len; n++)
		if (verify(key, t, n, NOW) != TICKET_BAD)
			accepted++;
	CHECK_INT(accepted, 0);
	t[len] = 0;
	CHECK(verify(key, t, len + 1, NOW) == TICKET_BAD);
	CHECK(verify(key, NULL, len, NOW) == TICKET_BAD);
	CHECK(verify(key, t, MAX_TICKET + 8, NOW) == TICKET_BAD);
}

int
main(void)
{
	memset(key, 0x42, sizeof(key));
	memset(key2, 0x43, sizeof(key2));
	RUN(test_good);
	RUN(test_longest_address_fits);
	RUN(test_make_refuses);
	RUN(test_expired);
	RUN(test_wrong_key);
	RUN(test_forged);
	RUN(test_truncated_and_padded);
	return unit_done();
}
