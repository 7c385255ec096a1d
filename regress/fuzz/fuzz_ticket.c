/*
 * fuzz_ticket: login tickets and the token format on arbitrary bytes.
 *
 * signd verifies tickets that travel through smtpd and queued, and smtpd
 * checks the format of tokens a client typed: both read hostile bytes.
 * Any input must be refused or accepted without overrun; and an input fit
 * to be an address must survive ticket_make() then ticket_verify()
 * unchanged.
 *
 *	make O=build-fuzz CC=clang fuzz
 *	build-fuzz/fuzz/fuzz_ticket -max_len=600
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "token.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const unsigned char key[TICKET_KEY_LEN] = "fuzz ticket key, 32 bytes long!";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char t[MAX_TICKET];
	char addr[MAX_ADDR], out[MAX_ADDR];
	uint64_t session, id;
	size_t tlen;

	(void)ticket_verify(key, sizeof(key), data, size, 0, &session, &id,
	    out, sizeof(out));
	(void)token_check_format((const char *)data, size);

	if (size == 0 || size >= MAX_ADDR || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(addr, data, size);
	addr[size] = '\0';
	if (ticket_make(key, sizeof(key), 7, 9, addr, 100, t, sizeof(t),
	    &tlen) == -1)
		abort();
	if (ticket_verify(key, sizeof(key), t, tlen, 99, &session, &id, out,
	    sizeof(out)) != TICKET_OK || session != 7 || id != 9 ||
	    strcmp(out, addr) != 0)
		abort();
	if (ticket_verify(key, sizeof(key), t, tlen, 100, &session, &id, out,
	    sizeof(out)) != TICKET_EXPIRED)
		abort();
	return 0;
}
