/*
 * ticket: the login ticket that binds an SMTP session to the address of
 * the token it logged in with.
 *
 * authd makes a ticket when a login succeeds; smtpd carries it with every
 * message (it cannot read the key, so it cannot forge or alter one);
 * signd verifies it and signs only mail whose From: is the ticket's
 * address.  The key (TICKET_KEY_LEN random bytes) is made by the master at
 * start and sent only to authd and signd (MSG_SECRET, SECRET_TICKET_KEY).
 *
 * Layout, integers in network byte order:
 *
 *	u8	version (1)
 *	u64	session id
 *	u64	token id
 *	i64	expiry, seconds since the epoch (clock_now() time)
 *	u16	address length n, 1 .. MAX_ADDR - 1
 *	n bytes	the address (no NUL)
 *	32 bytes HMAC-SHA256(key, "postern-ticket-1" NUL, everything above)
 *
 * so a ticket is 59 + n bytes, at most TICKET_MAX_LEN, which fits in
 * MAX_TICKET (proto.h).
 *
 * ticket_make() writes a ticket into out (outsz bytes) and its length into
 * *outlen.  Returns 0, or -1 when an argument is out of range (key shorter
 * than TICKET_KEY_MIN, empty or over-long address, out too small); out is
 * then untouched.
 *
 * ticket_verify() checks the tlen bytes at t: exact length, version, the
 * MAC in constant time, then expiry (a ticket is good while now < expiry).
 * On TICKET_OK it fills *session, *token_id and addr (NUL-terminated;
 * addrsz must hold the address).  Returns TICKET_OK, TICKET_EXPIRED (a
 * genuine ticket past its time; outputs untouched) or TICKET_BAD (wrong
 * length, wrong version, wrong MAC: forged, truncated, other key; outputs
 * untouched).  Neither function keeps state or allocates.
 */
#ifndef POSTERN_TICKET_H
#define POSTERN_TICKET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

#define TICKET_KEY_LEN		32	/* what the master generates */
#define TICKET_KEY_MIN		16	/* shortest key accepted */
#define TICKET_MAC_LEN		32
#define TICKET_FIXED_LEN	(1 + 8 + 8 + 8 + 2 + TICKET_MAC_LEN)
#define TICKET_MAX_LEN		(TICKET_FIXED_LEN + MAX_ADDR - 1)

#if TICKET_MAX_LEN > MAX_TICKET
#error "a ticket must fit in MAX_TICKET"
#endif

#define TICKET_OK		0
#define TICKET_BAD		(-1)
#define TICKET_EXPIRED		(-2)

int	ticket_make(const unsigned char *key, size_t keylen, uint64_t session,
	    uint64_t token_id, const char *addr, time_t expiry,
	    unsigned char *out, size_t outsz, size_t *outlen);
int	ticket_verify(const unsigned char *key, size_t keylen,
	    const unsigned char *t, size_t tlen, time_t now, uint64_t *session,
	    uint64_t *token_id, char *addr, size_t addrsz);

#endif
