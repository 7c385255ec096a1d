/*
 * fuzz_base64: whatever decodes must encode back to the same string (so
 * no two strings decode to one value), and every encoding decodes back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char	*dec, *back;
	char		*enc;
	size_t		 n, m, enclen;

	if (size > 65536)
		return 0;
	enclen = BASE64_ENCLEN(size) + 1;
	dec = malloc(BASE64_DECLEN(size) + 1);
	enc = malloc(enclen);
	back = malloc(size + 1);
	if (dec == NULL || enc == NULL || back == NULL)
		abort();

	if (base64_decode((const char *)data, size, dec, BASE64_DECLEN(size),
	    &n) == 0) {
		if (base64_encode(dec, n, enc, enclen, &m) == -1 ||
		    m != size || memcmp(enc, data, size) != 0)
			abort();
		/* one octet less room must fail, not overflow */
		if (n > 0 && base64_decode((const char *)data, size, dec,
		    n - 1, &m) != -1)
			abort();
	}

	if (base64_encode(data, size, enc, enclen, &n) == -1 ||
	    n != enclen - 1 || base64_decode(enc, n, back, size, &m) == -1 ||
	    m != size || memcmp(back, data, size) != 0)
		abort();
	if (base64_encode(data, size, enc, enclen - 1, &n) != -1)
		abort();

	free(dec);
	free(enc);
	free(back);
	return 0;
}
