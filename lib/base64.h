/*
 * base64: strict RFC 4648 base64 (the standard alphabet, with padding),
 * for SASL exchanges (AUTH) in both directions.
 *
 * base64_encode() writes the encoding of inlen bytes plus a NUL into out
 * (outsz bytes, at least BASE64_ENCLEN(inlen) + 1) and stores its length,
 * NUL excluded, in *outlen.  It fails only when out is too small.
 *
 * base64_decode() accepts exactly the canonical encodings and nothing
 * else, because AUTH data comes from the network and a lenient decoder
 * lets two different strings stand for one secret:
 *   - the length is a multiple of 4 (the empty string decodes to nothing);
 *   - every character is in A-Z a-z 0-9 + /, except "=" padding, which
 *     may only be the last one or two characters of the input;
 *   - no white space, no line breaks, no NUL;
 *   - the bits a padded group leaves unused are zero ("QQ==" is "A",
 *     "QR==" is refused).
 * It writes the decoded bytes to out (outsz bytes, at least
 * BASE64_DECLEN(inlen)) and stores their count in *outlen.  It fails on
 * any of the above or when out is too small; out may then hold garbage.
 * Both return 0 on success and -1 on failure, and neither logs.
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <stddef.h>

/* Encoded length of n bytes (no NUL); n must be below SIZE_MAX / 4 * 3. */
#define BASE64_ENCLEN(n)	((((n) + 2) / 3) * 4)
/* Upper bound of the decoded length of n characters. */
#define BASE64_DECLEN(n)	(((n) / 4) * 3)

int	base64_encode(const void *in, size_t inlen, char *out, size_t outsz,
	    size_t *outlen);
int	base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outsz, size_t *outlen);

#endif
