/*
 * test_base64: strict base64 (lib/base64.c).
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "unit.h"

static int
dec(const char *s, const char *want, size_t wantlen)
{
	unsigned char	out[256];
	size_t		n = 999;

	if (base64_decode(s, strlen(s), out, sizeof(out), &n) == -1)
		return 0;
	return n == wantlen && memcmp(out, want, n) == 0;
}

static int
refused(const char *s, size_t len)
{
	unsigned char	out[256];
	size_t		n;

	return base64_decode(s, len, out, sizeof(out), &n) == -1;
}

#define REFUSED(s)	refused(s, sizeof(s) - 1)

static void
test_rfc4648_vectors(void)
{
	static const char *v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char	out[32];
	size_t	i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK_INT(base64_encode(v[i][0], strlen(v[i][0]), out,
		    sizeof(out), &n), 0);
		CHECK_STR(out, v[i][1]);
		CHECK_INT(n, strlen(v[i][1]));
		CHECK(dec(v[i][1], v[i][0], strlen(v[i][0])));
	}
}

static void
test_auth_plain(void)
{
	/* "\0user\0token" and "user\0user\0token" as clients send them */
	CHECK(dec("AHVzZXIAdG9rZW4=", "\0user\0token", 11));
	CHECK(dec("dXNlcgB1c2VyAHRva2Vu", "user\0user\0token", 15));
}

static void
test_refused(void)
{
	CHECK(REFUSED("Zg="));		/* length */
	CHECK(REFUSED("Zg"));
	CHECK(REFUSED("Z"));
	CHECK(REFUSED("Zm9vY"));
	CHECK(REFUSED("Zh=="));		/* non-zero pad bits */
	CHECK(REFUSED("Zm9="));
	CHECK(REFUSED("Zm8x" "Zm9="));
	CHECK(REFUSED("Z==="));		/* too much padding */
	CHECK(REFUSED("===="));
	CHECK(REFUSED("Zg==Zg=="));	/* padding inside */
	CHECK(REFUSED("Z=g="));
	CHECK(REFUSED("Zm9v\nYmFy"));	/* white space */
	CHECK(REFUSED("Zm9v YmFy"));
	CHECK(REFUSED(" Zm9vYmFy"));
	CHECK(REFUSED("Zm9vYmFy\r\n"));
	CHECK(REFUSED("Zm9v\0mFy"));	/* NUL */
	CHECK(REFUSED("Zm9-YmFy"));	/* base64url is not base64 */
	CHECK(REFUSED("Zm9_YmFy"));
	CHECK(REFUSED("Zm9*YmFy"));
	CHECK(REFUSED("Zm9\xc3YmFy"));
	CHECK(REFUSED("="));
}

static void
test_bounds(void)
{
	unsigned char	out[8];
	char		enc[16];
	size_t		n;

	/* decode: exact fit, one short */
	CHECK_INT(base64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	CHECK_INT(n, 6);
	CHECK_INT(base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	CHECK_INT(base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(base64_decode("Zm9vYg==", 8, out, 3, &n), -1);
	CHECK_INT(base64_decode("", 0, NULL, 0, &n), 0);
	CHECK_INT(n, 0);
	/* encode: needs the NUL too */
	CHECK_INT(base64_encode("foobar", 6, enc, 9, &n), 0);
	CHECK_INT(base64_encode("foobar", 6, enc, 8, &n), -1);
	CHECK_INT(base64_encode("", 0, enc, 1, &n), 0);
	CHECK_STR(enc, "");
	CHECK_INT(base64_encode("", 0, enc, 0, &n), -1);
	CHECK_INT(BASE64_ENCLEN(4), 8);
	CHECK_INT(BASE64_DECLEN(8), 6);
}

/* A fixed seed: the same inputs on every run. */
static uint32_t
rnd(void)
{
	return (uint32_t)random();
}

/* Round trips, and every decodable string re-encodes to itself. */
static void
test_round_trip(void)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	unsigned char	raw[64], back[64];
	char		enc[100], s[16], re[32];
	size_t		i, j, n, m, len;
	int		bad = 0;

	for (i = 0; i < 5000; i++) {
		len = rnd() % sizeof(raw);
		for (j = 0; j < len; j++)
			raw[j] = (unsigned char)rnd();
		if (base64_encode(raw, len, enc, sizeof(enc), &n) == -1 ||
		    n != BASE64_ENCLEN(len) ||
		    base64_decode(enc, n, back, sizeof(back), &m) == -1 ||
		    m != len || memcmp(raw, back, len) != 0)
			bad++;
	}
	/* canonical: what decodes encodes back to the same string */
	for (i = 0; i < 200000; i++) {
		len = 4 * (1 + rnd() % 3);
		for (j = 0; j < len; j++)
			s[j] = alpha[rnd() % (sizeof(alpha) - 1)];
		if (base64_decode(s, len, back, sizeof(back), &m) == 0 &&
		    (base64_encode(back, m, re, sizeof(re), &n) == -1 ||
		    n != len || memcmp(re, s, len) != 0))
			bad++;
	}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	srandom(88172645);
	RUN(test_rfc4648_vectors);
	RUN(test_auth_plain);
	RUN(test_refused);
	RUN(test_bounds);
	RUN(test_round_trip);
	return unit_done();
}
