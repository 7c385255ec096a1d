/*
 * token.c: see token.h for the format and the contract.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "token.h"

static const char token_alphabet[] = TOKEN_ALPHABET;

/* Value of an alphabet character, -1 for anything else. */
static int
token_value(unsigned char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	if ((p = strchr(token_alphabet, c)) == NULL)
		return -1;
	return (int)(p - token_alphabet);
}

uint32_t
token_crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = 0xffffffffU;
	size_t i;
	int k;

	/* Bitwise: tokens are short and this runs once per login. */
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1)));
	}
	return crc ^ 0xffffffffU;
}

/* Write the CRC of the random part as TOKEN_CHECK_LEN characters. */
static void
token_check_encode(const char *random, char *out)
{
	uint32_t crc;
	int i;

	crc = token_crc32(random, TOKEN_RANDOM_LEN);
	for (i = TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		out[i] = token_alphabet[crc & 31];
		crc >>= 5;
	}
}

int
token_generate(char *out, size_t outsz)
{
	unsigned char rnd[TOKEN_RANDOM_LEN];
	char *p;
	int i;

	if (outsz < TOKEN_LEN + 1)
		return -1;
	/* 256 is a multiple of 32: masking keeps every character uniform. */
	arc4random_buf(rnd, sizeof(rnd));
	memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	p = out + TOKEN_PREFIX_LEN;
	for (i = 0; i < TOKEN_RANDOM_LEN; i++)
		p[i] = token_alphabet[rnd[i] & 31];
	token_check_encode(p, p + TOKEN_RANDOM_LEN);
	out[TOKEN_LEN] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

int
token_check_format(const char *tok, size_t len)
{
	char check[TOKEN_CHECK_LEN];
	const char *p;
	size_t i;

	if (tok == NULL || len != TOKEN_LEN)
		return -1;
	if (memcmp(tok, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return -1;
	p = tok + TOKEN_PREFIX_LEN;
	for (i = 0; i < TOKEN_RANDOM_LEN + TOKEN_CHECK_LEN; i++)
		if (token_value((unsigned char)p[i]) == -1)
			return -1;
	token_check_encode(p, check);
	if (memcmp(check, p + TOKEN_RANDOM_LEN, TOKEN_CHECK_LEN) != 0)
		return -1;
	return 0;
}

void
token_hash(const unsigned char *key, size_t keylen, const char *tok,
    size_t len, unsigned char out[TOKEN_HASH_LEN])
{
	unsigned int outlen = 0;

	if (keylen > INT32_MAX)
		fatalx("token_hash: key too long");
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)tok,
	    len, out, &outlen) == NULL || outlen != TOKEN_HASH_LEN)
		fatalx("token_hash: HMAC-SHA256 failed");
}

int
token_hash_equal(const unsigned char a[TOKEN_HASH_LEN],
    const unsigned char b[TOKEN_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

uint64_t
token_new_id(void)
{
	uint64_t id;

	do {
		arc4random_buf(&id, sizeof(id));
	} while (id == 0);
	return id;
}

int
token_id_format(uint64_t id, char *buf, size_t bufsz)
{
	int n;

	n = snprintf(buf, bufsz, "%016llx", (unsigned long long)id);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return 0;
}

int
token_id_parse(const char *s, uint64_t *idp)
{
	uint64_t id = 0;
	size_t i;
	int v;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= TOKEN_ID_HEXLEN)
			return -1;
		if (s[i] >= '0' && s[i] <= '9')
			v = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			v = s[i] - 'A' + 10;
		else
			return -1;
		id = (id << 4) | (uint64_t)v;
	}
	if (i == 0 || id == 0)
		return -1;
	*idp = id;
	return 0;
}
