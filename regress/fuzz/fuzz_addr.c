/*
 * fuzz_addr: both address parsers of lib/addr.c on hostile bytes.
 *
 * Besides memory safety it checks the promises of addr.h that a sender
 * check depends on: every address either parser returns is canonical
 * (it parses again, as a path, to itself), fits ADDR_MAX, splits, and
 * equals itself; display names are NUL-terminated within their buffer.
 * The first byte picks how the rest is fed to the path parser: as is, or
 * wrapped in '<' '>' so that more inputs reach the inner grammar.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NMB 4

/* An address a parser returned must be canonical. */
static void
check_canonical(const char *addr)
{
	char in[ADDR_MAX + 2], again[ADDR_MAX], l[ADDR_MAX], d[ADDR_MAX];
	const char *endp, *err;
	size_t n;

	n = strnlen(addr, ADDR_MAX);
	if (n == ADDR_MAX || n == 0)
		abort();
	in[0] = '<';
	memcpy(in + 1, addr, n);
	in[n + 1] = '>';
	if (addr_parse_path(in, n + 2, again, sizeof(again), NULL, &endp,
			    &err) != 0 ||
	    strcmp(again, addr) != 0 || endp != in + n + 2)
		abort();
	if (addr_parse_bare(addr, n, again, sizeof(again), NULL, &err) != 0 ||
	    strcmp(again, addr) != 0)
		abort();
	if (addr_split(addr, l, sizeof(l), d, sizeof(d)) != 0)
		abort();
	if (strlen(l) > ADDR_LOCAL_MAX || strlen(d) > ADDR_DOMAIN_MAX)
		abort();
	if (!addr_domain_valid(d))
		abort();
	if (addr_equal(addr, addr, 0) != 1 || addr_equal(addr, addr, 1) != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096];
	struct mailbox mb[NMB], one;
	char out[ADDR_MAX];
	const char *s = (const char *)data, *endp, *err;
	size_t len = size;
	int i, n, r, utf8;

	if (size > 0 && data[0] == 0xff && size - 1 <= sizeof(buf) - 2) {
		buf[0] = '<';
		memcpy(buf + 1, data + 1, size - 1);
		buf[size] = '>';
		s = buf;
		len = size + 1;
	}
	if (addr_parse_path(s, len, out, sizeof(out), &utf8, &endp, &err) ==
	    0) {
		if (endp < s + 2 || endp > s + len || endp[-1] != '>')
			abort();
		if (out[0] != '\0')
			check_canonical(out);
	} else if (err == NULL || out[0] != '\0')
		abort();

	if (addr_parse_bare((const char *)data, size, out, sizeof(out), &utf8,
			    &err) == 0)
		check_canonical(out);

	if (addr_parse_mailbox_list((const char *)data, size, mb, NMB, &n,
				    &err) == 0) {
		if (n < 0 || n > NMB)
			abort();
		for (i = 0; i < n; i++) {
			check_canonical(mb[i].addr);
			if (strnlen(mb[i].display, sizeof(mb[i].display)) ==
			    sizeof(mb[i].display))
				abort();
		}
	} else if (err == NULL)
		abort();

	r = addr_parse_mailbox((const char *)data, size, &one, &err);
	if (r == 0)
		check_canonical(one.addr);
	else if (r != -1 && r != -2)
		abort();

	/* arbitrary NUL-terminated text: no crash, no false equality */
	if (size < sizeof(buf)) {
		memcpy(buf, data, size);
		buf[size] = '\0';
		(void)addr_domain_valid(buf);
		(void)addr_hostname_valid(buf);
		(void)addr_split(buf, out, sizeof(out), NULL, 0);
		(void)addr_equal(buf, buf, 1);
	}
	return 0;
}
