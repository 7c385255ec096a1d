/*
 * token: the SMTP token format, its check and its keyed hash.
 *
 * A token is the password a device uses for AUTH.  It looks like
 *
 *	pstn_fheb1jb8x8cnnntmet1hm6yj121v5xf5e
 *	\___/\________________________/\_____/
 *	prefix      26 random           7 check
 *
 * and is always TOKEN_LEN (38) characters:
 *
 *   - the prefix "pstn_", so that secret scanners and people can tell
 *     a leaked postern token from any other string;
 *   - 26 characters of the alphabet below, each carrying 5 bits from
 *     arc4random_buf(3): 130 random bits;
 *   - 7 characters of the same alphabet holding the CRC-32 (IEEE 802.3,
 *     as in zlib) of the 26 random characters, most significant 5 bits
 *     first (the first check character is therefore 0..7).
 *
 * The alphabet is Crockford's base32 in lower case,
 *
 *	0123456789abcdefghjkmnpqrstvwxyz
 *
 * digits and lower-case letters only (no shift key on a printer panel),
 * without i, l, o and u, so that no two characters of a token look alike
 * (0/o, 1/l/i, u/v).  Tokens are case sensitive: upper-case letters are
 * refused.
 *
 * The check catches typing mistakes before anything is looked up: a CRC-32
 * detects every error confined to 32 consecutive bits, hence every single
 * changed character and every swap of two neighbouring characters of the
 * random part.  It is not a secret and adds no strength: the 130 random
 * bits do that.
 *
 * A token is never stored: authd keeps token_hash(), an HMAC-SHA256 keyed
 * with the configured token key (the same on every node of a cluster), and
 * looks tokens up by that hash.
 *
 * Functions:
 *
 * token_generate(out, outsz) writes a new NUL-terminated token into out
 *	(outsz must be at least TOKEN_LEN + 1).  Returns 0, or -1 when out
 *	is too small.
 *
 * token_check_format(tok, len) returns 0 when the len bytes at tok are a
 *	well-formed token (prefix, length, alphabet, check), else -1.  It
 *	reads no more than len bytes and does not need a NUL.  smtpd calls
 *	it before asking authd, so that a mistyped token costs nothing.
 *
 * token_hash(key, keylen, tok, len, out) computes HMAC-SHA256(key, tok)
 *	into out.  It never fails (an OpenSSL failure is fatal).
 *
 * token_hash_equal(a, b) compares two hashes in constant time: 1 when
 *	equal, else 0.  authd finds a record by its hash (the store's own
 *	lookup is not constant time, but it runs on an HMAC output that an
 *	attacker cannot choose without the key) and then confirms the match
 *	with this.
 *
 * token_new_id() returns a random non-zero 64-bit token id.  Ids are
 *	random rather than sequential so that nodes sharing one store never
 *	pick the same one (a collision is caught by the store and retried).
 *
 * token_id_format(id, buf, bufsz) writes id as 16 lower-case hex digits;
 * token_id_parse(s, &id) reads 1 to 16 hex digits (either case), returns
 *	0, or -1 for anything else (empty, too long, not hex, zero).
 */
#ifndef POSTERN_TOKEN_H
#define POSTERN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX		"pstn_"
#define TOKEN_PREFIX_LEN	5
#define TOKEN_RANDOM_LEN	26	/* x 5 bits = 130 bits */
#define TOKEN_CHECK_LEN		7	/* x 5 bits >= 32 bits of CRC-32 */
#define TOKEN_LEN	(TOKEN_PREFIX_LEN + TOKEN_RANDOM_LEN + TOKEN_CHECK_LEN)
#define TOKEN_ALPHABET		"0123456789abcdefghjkmnpqrstvwxyz"
#define TOKEN_HASH_LEN		32
#define TOKEN_ID_HEXLEN		16

int	 token_generate(char *out, size_t outsz);
int	 token_check_format(const char *tok, size_t len);
void	 token_hash(const unsigned char *key, size_t keylen, const char *tok,
	    size_t len, unsigned char out[TOKEN_HASH_LEN]);
int	 token_hash_equal(const unsigned char a[TOKEN_HASH_LEN],
	    const unsigned char b[TOKEN_HASH_LEN]);
uint64_t token_new_id(void);
int	 token_id_format(uint64_t id, char *buf, size_t bufsz);
int	 token_id_parse(const char *s, uint64_t *id);
/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) of len bytes. */
uint32_t token_crc32(const void *, size_t len);

#endif
