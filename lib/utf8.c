/*
 * utf8.c: see utf8.h.
 */
#include <stdint.h>

#include "utf8.h"

size_t
utf8_seqlen(const unsigned char *p, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp <= 0x9f)
		return 0;
	return len;
}

int
utf8_valid(const void *s, size_t n)
{
	const unsigned char	*p = s;
	size_t			 i, k;

	for (i = 0; i < n; i += k)
		if ((k = utf8_seqlen(p + i, n - i)) == 0)
			return 0;
	return 1;
}
