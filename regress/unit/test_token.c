/*
 * test_token: the token format (lib/token.c): length, alphabet, check,
 * uniqueness, refusal of typing mistakes, the keyed hash, ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "unit.h"

#define NUNIQUE	100000

static int
in_alphabet(char c)
{
	return c != '\0' && strchr(TOKEN_ALPHABET, c) != NULL;
}

static void
test_crc32_known_answer(void)
{
	/* The standard check value of CRC-32/ISO-HDLC. */
	CHECK(token_crc32("123456789", 9) == 0xcbf43926U);
	CHECK(token_crc32("", 0) == 0);
}

static void
test_alphabet(void)
{
	const char *p;

	CHECK_INT(strlen(TOKEN_ALPHABET), 32);
	/* No look-alikes, no upper case, no repeated character. */
	for (p = "ilouILOU"; *p != '\0'; p++)
		CHECK(strchr(TOKEN_ALPHABET, *p) == NULL);
	for (p = TOKEN_ALPHABET; *p != '\0'; p++) {
		CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z'));
		CHECK(strchr(p + 1, *p) == NULL);
	}
}

static void
test_generate_shape(void)
{
	char tok[TOKEN_LEN + 1], small[TOKEN_LEN];
	int i, j;

	CHECK_INT(TOKEN_LEN, 38);
	CHECK(TOKEN_RANDOM_LEN * 5 >= 128);
	CHECK(token_generate(small, sizeof(small)) == -1);
	for (i = 0; i < 1000; i++) {
		CHECK(token_generate(tok, sizeof(tok)) == 0);
		CHECK_INT(strlen(tok), TOKEN_LEN);
		CHECK(strncmp(tok, TOKEN_PREFIX, TOKEN_PREFIX_LEN) == 0);
		for (j = TOKEN_PREFIX_LEN; j < TOKEN_LEN; j++)
			CHECK(in_alphabet(tok[j]));
		/* The check's top 3 of 35 bits are zero. */
		CHECK(strchr("01234567", tok[TOKEN_PREFIX_LEN +
		    TOKEN_RANDOM_LEN]) != NULL);
		CHECK(token_check_format(tok, strlen(tok)) == 0);
	}
}

static void
test_generate_spread(void)
{
	char tok[TOKEN_LEN + 1];
	int seen[32] = { 0 };
	int i, j;

	/* Every symbol shows up in the random part; 100 tokens suffice. */
	for (i = 0; i < 100; i++) {
		token_generate(tok, sizeof(tok));
		for (j = 0; j < TOKEN_RANDOM_LEN; j++)
			seen[strchr(TOKEN_ALPHABET,
			    tok[TOKEN_PREFIX_LEN + j]) - TOKEN_ALPHABET]++;
	}
	for (i = 0; i < 32; i++)
		CHECK(seen[i] > 0);
}

static int
cmp_tok(const void *a, const void *b)
{
	return memcmp(a, b, TOKEN_LEN);
}

static void
test_unique(void)
{
	char *all;
	size_t i, dups = 0;

	all = calloc(NUNIQUE, TOKEN_LEN + 1);
	CHECK(all != NULL);
	if (all == NULL)
		return;
	for (i = 0; i < NUNIQUE; i++)
		token_generate(all + i * (TOKEN_LEN + 1), TOKEN_LEN + 1);
	qsort(all, NUNIQUE, TOKEN_LEN + 1, cmp_tok);
	for (i = 1; i < NUNIQUE; i++)
		if (memcmp(all + (i - 1) * (TOKEN_LEN + 1),
		    all + i * (TOKEN_LEN + 1), TOKEN_LEN) == 0)
			dups++;
	CHECK_INT(dups, 0);
	free(all);
}

static void
test_one_char_changed(void)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	const char *a;
	int i, j, accepted = 0;

	/* Every position after the prefix, every other symbol. */
	for (i = 0; i < 50; i++) {
		token_generate(tok, sizeof(tok));
		for (j = TOKEN_PREFIX_LEN; j < TOKEN_LEN; j++) {
			for (a = TOKEN_ALPHABET; *a != '\0'; a++) {
				if (*a == tok[j])
					continue;
				memcpy(bad, tok, sizeof(bad));
				bad[j] = *a;
				if (token_check_format(bad, TOKEN_LEN) == 0)
					accepted++;
			}
		}
	}
	CHECK_INT(accepted, 0);
}

static void
test_swapped(void)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1], c;
	int i, j, tried = 0, accepted = 0;
	const int rstart = TOKEN_PREFIX_LEN;
	const int cstart = TOKEN_PREFIX_LEN + TOKEN_RANDOM_LEN;

	for (i = 0; i < 2000; i++) {
		token_generate(tok, sizeof(tok));
		for (j = rstart; j + 1 < TOKEN_LEN; j++) {
			/* A swap across the two parts is caught only by
			 * chance (2^-32 to miss); skip it here. */
			if (j + 1 == cstart)
				continue;
			if (tok[j] == tok[j + 1])
				continue;
			memcpy(bad, tok, sizeof(bad));
			c = bad[j];
			bad[j] = bad[j + 1];
			bad[j + 1] = c;
			tried++;
			if (token_check_format(bad, TOKEN_LEN) == 0)
				accepted++;
		}
	}
	CHECK(tried > 50000);
	CHECK_INT(accepted, 0);
}

static void
test_malformed(void)
{
	char tok[TOKEN_LEN + 2], bad[TOKEN_LEN + 2];
	int j;

	token_generate(tok, sizeof(tok));
	CHECK(token_check_format(tok, TOKEN_LEN) == 0);
	CHECK(token_check_format(NULL, TOKEN_LEN) == -1);
	CHECK(token_check_format(tok, TOKEN_LEN - 1) == -1);
	CHECK(token_check_format("", 0) == -1);
	memcpy(bad, tok, TOKEN_LEN);
	bad[TOKEN_LEN] = 'a';
	CHECK(token_check_format(bad, TOKEN_LEN + 1) == -1);

	/* Prefix. */
	memcpy(bad, tok, TOKEN_LEN + 1);
	bad[0] = 'P';
	CHECK(token_check_format(bad, TOKEN_LEN) == -1);
	memcpy(bad, tok, TOKEN_LEN + 1);
	bad[4] = '-';
	CHECK(token_check_format(bad, TOKEN_LEN) == -1);

	/* Upper case, look-alikes, NUL, bytes above 127. */
	for (j = TOKEN_PREFIX_LEN; j < TOKEN_LEN; j++) {
		memcpy(bad, tok, TOKEN_LEN + 1);
		if (bad[j] >= 'a' && bad[j] <= 'z') {
			bad[j] = bad[j] - 'a' + 'A';
			CHECK(token_check_format(bad, TOKEN_LEN) == -1);
		}
		bad[j] = 'o';
		CHECK(token_check_format(bad, TOKEN_LEN) == -1);
		bad[j] = 'l';
		CHECK(token_check_format(bad, TOKEN_LEN) == -1);
		bad[j] = '\0';
		CHECK(token_check_format(bad, TOKEN_LEN) == -1);
		bad[j] = (char)0xe9;
		CHECK(token_check_format(bad, TOKEN_LEN) == -1);
	}
	/* Something that is not a token at all: a password. */
	CHECK(token_check_format("correct horse battery staple 12345678",
	    38) == -1);
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void
test_hmac_known_answer(void)
{
	unsigned char out[TOKEN_HASH_LEN], key[20];
	char h[2 * TOKEN_HASH_LEN + 1];
	const char *data;

	/* RFC 4231, test case 2. */
	data = "what do ya want for nothing?";
	token_hash((const unsigned char *)"Jefe", 4, data, strlen(data), out);
	hex(out, sizeof(out), h);
	CHECK_STR(h, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");

	/* RFC 4231, test case 1. */
	memset(key, 0x0b, sizeof(key));
	token_hash(key, sizeof(key), "Hi There", 8, out);
	hex(out, sizeof(out), h);
	CHECK_STR(h, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
}

static void
test_hash_keyed(void)
{
	unsigned char a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN], c[TOKEN_HASH_LEN];
	unsigned char k1[32], k2[32];
	char tok[TOKEN_LEN + 1], tok2[TOKEN_LEN + 1];

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	token_generate(tok, sizeof(tok));
	token_generate(tok2, sizeof(tok2));
	token_hash(k1, sizeof(k1), tok, TOKEN_LEN, a);
	token_hash(k1, sizeof(k1), tok, TOKEN_LEN, b);
	CHECK(token_hash_equal(a, b));
	token_hash(k2, sizeof(k2), tok, TOKEN_LEN, c);
	CHECK(!token_hash_equal(a, c));
	token_hash(k1, sizeof(k1), tok2, TOKEN_LEN, c);
	CHECK(!token_hash_equal(a, c));
}

static void
test_hash_equal(void)
{
	unsigned char a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN];
	int i;

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(token_hash_equal(a, b) == 1);
	/* A difference anywhere, first byte to last, one bit. */
	for (i = 0; i < TOKEN_HASH_LEN; i++) {
		memcpy(b, a, sizeof(b));
		b[i] ^= 0x01;
		CHECK(token_hash_equal(a, b) == 0);
		b[i] ^= 0x81;
		CHECK(token_hash_equal(a, b) == 0);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_ids(void)
{
	static uint64_t ids[10000];
	char buf[TOKEN_ID_HEXLEN + 1];
	uint64_t id;
	size_t i, dups = 0;

	for (i = 0; i < 10000; i++) {
		ids[i] = token_new_id();
		CHECK(ids[i] != 0);
	}
	qsort(ids, 10000, sizeof(ids[0]), cmp_u64);
	for (i = 1; i < 10000; i++)
		if (ids[i] == ids[i - 1])
			dups++;
	CHECK_INT(dups, 0);

	CHECK(token_id_format(0x00ab00cd00ef0012ULL, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "00ab00cd00ef0012");
	CHECK(token_id_format(1, buf, 16) == -1);
	CHECK(token_id_parse("00ab00cd00ef0012", &id) == 0);
	CHECK(id == 0x00ab00cd00ef0012ULL);
	CHECK(token_id_parse("00AB00CD00EF0012", &id) == 0);
	CHECK(id == 0x00ab00cd00ef0012ULL);
	CHECK(token_id_parse("ff", &id) == 0 && id == 0xff);
	CHECK(token_id_parse("", &id) == -1);
	CHECK(token_id_parse("0", &id) == -1);
	CHECK(token_id_parse("0000000000000000", &id) == -1);
	CHECK(token_id_parse("100ab00cd00ef0012", &id) == -1);
	CHECK(token_id_parse("00ab00cd00ef001g", &id) == -1);
	CHECK(token_id_parse(" 1", &id) == -1);
	CHECK(token_id_parse("-1", &id) == -1);
	CHECK(token_id_parse("0x12", &id) == -1);
}

int
main(void)
{
	RUN(test_crc32_known_answer);
	RUN(test_alphabet);
	RUN(test_generate_shape);
	RUN(test_generate_spread);
	RUN(test_unique);
	RUN(test_one_char_changed);
	RUN(test_swapped);
	RUN(test_malformed);
	RUN(test_hmac_known_answer);
	RUN(test_hash_keyed);
	RUN(test_hash_equal);
	RUN(test_ids);
	return unit_done();
}
