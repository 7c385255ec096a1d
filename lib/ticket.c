/*
 * ticket.c: see ticket.h for the layout and the contract.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "ticket.h"

#define TICKET_VERSION	1
#define TICKET_CONTEXT	"postern-ticket-1"	/* with its NUL */

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The MAC covers a fixed context string first, so that a ticket can never
 * be mistaken for another HMAC made with the same key.
 */
static void
ticket_mac(const unsigned char *key, size_t keylen, const unsigned char *t,
    size_t len, unsigned char mac[TICKET_MAC_LEN])
{
	unsigned char buf[sizeof(TICKET_CONTEXT) + TICKET_MAX_LEN];
	unsigned int maclen = 0;

	if (len > TICKET_MAX_LEN)
		fatalx("ticket: %zu bytes to authenticate", len);
	memcpy(buf, TICKET_CONTEXT, sizeof(TICKET_CONTEXT));
	memcpy(buf + sizeof(TICKET_CONTEXT), t, len);
	if (HMAC(EVP_sha256(), key, (int)keylen, buf,
	    sizeof(TICKET_CONTEXT) + len, mac, &maclen) == NULL ||
	    maclen != TICKET_MAC_LEN)
		fatalx("ticket: HMAC-SHA256 failed");
}

int
ticket_make(const unsigned char *key, size_t keylen, uint64_t session,
    uint64_t token_id, const char *addr, time_t expiry, unsigned char *out,
    size_t outsz, size_t *outlen)
{
	size_t alen, len;
	unsigned char *p;

	if (key == NULL || keylen < TICKET_KEY_MIN || keylen > 1024)
		return -1;
	alen = strlen(addr);
	if (alen == 0 || alen > MAX_ADDR - 1)
		return -1;
	len = TICKET_FIXED_LEN + alen;
	if (outsz < len)
		return -1;

	p = out;
	*p++ = TICKET_VERSION;
	put64(p, session);
	p += 8;
	put64(p, token_id);
	p += 8;
	put64(p, (uint64_t)(int64_t)expiry);
	p += 8;
	*p++ = (alen >> 8) & 0xff;
	*p++ = alen & 0xff;
	memcpy(p, addr, alen);
	p += alen;
	ticket_mac(key, keylen, out, (size_t)(p - out), p);
	*outlen = len;
	return 0;
}

int
ticket_verify(const unsigned char *key, size_t keylen, const unsigned char *t,
    size_t tlen, time_t now, uint64_t *session, uint64_t *token_id,
    char *addr, size_t addrsz)
{
	unsigned char mac[TICKET_MAC_LEN];
	const unsigned char *a;
	size_t alen, body;
	int64_t expiry;

	if (key == NULL || keylen < TICKET_KEY_MIN || keylen > 1024)
		return TICKET_BAD;
	/* Every length is checked before any field is trusted. */
	if (t == NULL || tlen <= TICKET_FIXED_LEN || tlen > TICKET_MAX_LEN)
		return TICKET_BAD;
	if (t[0] != TICKET_VERSION)
		return TICKET_BAD;
	alen = ((size_t)t[25] << 8) | t[26];
	if (alen == 0 || alen != tlen - TICKET_FIXED_LEN)
		return TICKET_BAD;
	body = tlen - TICKET_MAC_LEN;
	ticket_mac(key, keylen, t, body, mac);
	if (CRYPTO_memcmp(mac, t + body, TICKET_MAC_LEN) != 0)
		return TICKET_BAD;

	/* Genuine: authd made it.  Still refuse what authd never writes. */
	a = t + 27;
	if (memchr(a, '\0', alen) != NULL || alen >= addrsz)
		return TICKET_BAD;
	expiry = (int64_t)get64(t + 17);
	if ((int64_t)now >= expiry)
		return TICKET_EXPIRED;

	*session = get64(t + 1);
	*token_id = get64(t + 9);
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	return TICKET_OK;
}
