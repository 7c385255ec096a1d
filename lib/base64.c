/*
 * base64.c: see base64.h.
 *
 * Written out by hand rather than on top of OpenSSL's EVP_DecodeBlock:
 * that one skips white space, does not check the unused bits and counts
 * padding into its result, so every check here would be needed anyway,
 * and lib/ is linked by programs (relayd) that do not link libcrypto.
 */
#include <stdint.h>

#include "base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_encode(const void *in, size_t inlen, char *out, size_t outsz,
    size_t *outlen)
{
	const unsigned char	*p = in;
	size_t			 i, o, need;
	uint32_t		 v;

	if (inlen > (SIZE_MAX - 1) / 4 * 3 - 2)
		return -1;
	need = BASE64_ENCLEN(inlen);
	if (outsz < need + 1)
		return -1;
	for (i = 0, o = 0; inlen - i >= 3; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (inlen - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (inlen - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

int
base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 i, o, npad, need;
	uint32_t		 v;
	int			 c, k;

	if (inlen % 4 != 0)
		return -1;
	npad = 0;
	if (inlen > 0 && p[inlen - 1] == '=') {
		npad = 1;
		if (p[inlen - 2] == '=')
			npad = 2;
	}
	need = inlen / 4 * 3 - npad;
	if (need > outsz)
		return -1;

	for (i = 0, o = 0; i < inlen; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			/* "=" only as the trailing npad characters. */
			if (i + k >= inlen - npad) {
				v <<= 6;
				continue;
			}
			if ((c = b64_value(p[i + k])) == -1)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		if (i + 4 < inlen || npad == 0) {
			out[o++] = (v >> 16) & 0xff;
			out[o++] = (v >> 8) & 0xff;
			out[o++] = v & 0xff;
		} else if (npad == 1) {
			/* xxx=: 18 bits, the last 2 must be zero. */
			if (v & 0xff)
				return -1;
			out[o++] = (v >> 16) & 0xff;
			out[o++] = (v >> 8) & 0xff;
		} else {
			/* xx==: 12 bits, the last 4 must be zero. */
			if (v & 0xffff)
				return -1;
			out[o++] = (v >> 16) & 0xff;
		}
	}
	if (outlen != NULL)
		*outlen = o;
	return 0;
}
