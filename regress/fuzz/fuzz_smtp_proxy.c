/*
 * fuzz_smtp_proxy: smtpd's PROXY protocol parser on arbitrary bytes.
 *
 * The header comes first on a connection, before any other check; the
 * parser must survive anything.  Besides not crashing, it must keep its
 * promises (smtp_proxy.h): a header length is never more than the input,
 * and "need more" is stable -- every prefix of an input that needs more
 * needs more too, and a complete header parses the same with bytes after
 * it.
 *
 *	make O=build-fuzz CC=clang fuzz
 *	build-fuzz/fuzz/fuzz_smtp_proxy -max_len=4096
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtp_proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info pi, pi2;
	int r, r2;

	r = proxy_parse(data, size, &pi);
	if (r > 0 && (size_t)r > size)
		abort();
	if (r > 0 && (size_t)r < size) {
		/* Parsing just the header gives the same answer. */
		r2 = proxy_parse(data, (size_t)r, &pi2);
		if (r2 != r || pi2.local != pi.local ||
		    pi2.version != pi.version)
			abort();
	}
	if (r == 0 && size > 0 && proxy_parse(data, size - 1, &pi2) != 0)
		abort();
	if (r == 0 && size >= PROXY_MAX)
		abort();
	return 0;
}
