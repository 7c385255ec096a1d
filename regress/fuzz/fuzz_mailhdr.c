/*
 * fuzz_mailhdr: header iteration and the sender rule on hostile bytes.
 *
 * Checks that fields tile the block exactly (each raw span starts where
 * the last ended, names and values lie inside it, a good block is used
 * up to the last byte), that count and get agree with the iteration, and
 * that the sender rule's address is canonical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "mailhdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailhdr_field f, g;
	const char *h = (const char *)data, *err;
	char addr[ADDR_MAX], again[ADDR_MAX];
	size_t off = 0, prev;
	int r, nfrom = 0, c;

	for (;;) {
		prev = off;
		r = mailhdr_next(h, size, &off, &f);
		if (r != 1)
			break;
		if (f.raw != h + prev || f.rawlen != off - prev ||
		    f.rawlen < 4 || f.name != f.raw || f.namelen == 0 ||
		    f.name[f.namelen] != ':' ||
		    f.value != f.name + f.namelen + 1 ||
		    f.value + f.valuelen + 2 > f.raw + f.rawlen ||
		    memcmp(f.raw + f.rawlen - 2, "\r\n", 2) != 0 ||
		    memchr(f.value, '\0', f.valuelen) != NULL)
			abort();
		if (mailhdr_name_is(&f, "From") && nfrom == 0)
			g = f;
		if (mailhdr_name_is(&f, "From"))
			nfrom++;
	}
	if (r == 0 && off != size)
		abort();
	if (r == -1 && off != prev)
		abort();

	c = mailhdr_count(h, size, "From");
	if (c != (r == -1 ? -1 : nfrom))
		abort();
	r = mailhdr_get(h, size, "from", &f);
	if (r != (c == -1 ? -1 : c > 0))
		abort();
	if (r == 1 && (f.raw != g.raw || f.rawlen != g.rawlen))
		abort();

	r = mailhdr_single_mailbox(h, size, "From", addr, sizeof(addr), &err);
	if (r == 0) {
		if (c != 1 ||
		    addr_parse_bare(addr, strlen(addr), again, sizeof(again),
				    NULL, &err) != 0 ||
		    strcmp(addr, again) != 0)
			abort();
	} else if ((r == 1) != (c == 0) || err == NULL || addr[0] != '\0')
		abort();
	(void)mailhdr_single_mailbox(h, size, "Sender", addr, sizeof(addr),
				     NULL);
	return 0;
}
