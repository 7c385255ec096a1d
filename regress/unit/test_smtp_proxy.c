/*
 * test_smtp_proxy: the PROXY protocol parser of smtpd (smtp_proxy.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "unit.h"
#include "../../smtpd/smtp_proxy.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int
parse(const char *s, struct proxy_info *pi)
{
	return proxy_parse((const unsigned char *)s, strlen(s), pi);
}

static const char *
srcaddr(const struct proxy_info *pi, char *buf, size_t sz)
{
	const void *a;

	if (pi->src.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&pi->src)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)&pi->src)->sin6_addr;
	return inet_ntop(pi->src.ss_family, a, buf, sz);
}

static int
srcport(const struct proxy_info *pi)
{
	if (pi->src.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&pi->src)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&pi->src)->sin6_port);
}

static void
test_v1_tcp4(void)
{
	struct proxy_info pi;
	char buf[64];
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 587\r\nEHLO";

	CHECK_INT(parse(h, &pi), 45);
	CHECK_INT(pi.version, 1);
	CHECK_INT(pi.local, 0);
	CHECK_STR(srcaddr(&pi, buf, sizeof(buf)), "192.0.2.7");
	CHECK_INT(srcport(&pi), 40000);
}

static void
test_v1_tcp6(void)
{
	struct proxy_info pi;
	char buf[64];

	CHECK(parse("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", &pi) > 0);
	CHECK_STR(srcaddr(&pi, buf, sizeof(buf)), "2001:db8::1");
	CHECK_INT(srcport(&pi), 1);
}

static void
test_v1_unknown(void)
{
	struct proxy_info pi;

	CHECK_INT(parse("PROXY UNKNOWN\r\n", &pi), 15);
	CHECK_INT(pi.local, 1);
	CHECK(parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &pi) > 0);
	CHECK_INT(pi.local, 1);
}

static void
test_v1_partial(void)
{
	struct proxy_info pi;
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 587\r\n";
	size_t i;

	/* Every proper prefix asks for more. */
	for (i = 0; i < strlen(h); i++)
		CHECK_INT(proxy_parse((const unsigned char *)h, i, &pi), 0);
}

static void
test_v1_bad(void)
{
	struct proxy_info pi;
	char longline[200];

	CHECK_INT(parse("EHLO x\r\n", &pi), -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 40000 587\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n", &pi), -1);
	CHECK_INT(parse("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\r\r\n", &pi),
	    -1);
	CHECK_INT(parse("PROXY UNKNOWNX\r\n", &pi), -1);
	/* No LF within the 107 bytes the protocol allows. */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	CHECK_INT(proxy_parse((unsigned char *)longline, 107, &pi), -1);
	CHECK_INT(proxy_parse((unsigned char *)longline, 106, &pi), 0);
	memcpy(longline + 105, "\r\n", 2);
	CHECK_INT(proxy_parse((unsigned char *)longline, 107, &pi), 107);
}

static size_t
v2(unsigned char *b, int vercmd, int famtr, const void *addr, size_t alen)
{
	memcpy(b, v2sig, 12);
	b[12] = (unsigned char)vercmd;
	b[13] = (unsigned char)famtr;
	b[14] = (unsigned char)(alen >> 8);
	b[15] = (unsigned char)alen;
	if (alen > 0)
		memcpy(b + 16, addr, alen);
	return 16 + alen;
}

static void
test_v2_inet(void)
{
	unsigned char b[256], a[12 + 5];
	struct proxy_info pi;
	char buf[64];
	size_t n, i;

	memcpy(a, "\xc0\x00\x02\x07" "\xc6\x33\x64\x01" "\x9c\x40" "\x02\x4b",
	    12);
	memcpy(a + 12, "\x04\x00\x02xy", 5);	/* a TLV we ignore */
	n = v2(b, 0x21, 0x11, a, sizeof(a));
	CHECK_INT(proxy_parse(b, n, &pi), (int)n);
	CHECK_INT(pi.version, 2);
	CHECK_INT(pi.local, 0);
	CHECK_STR(srcaddr(&pi, buf, sizeof(buf)), "192.0.2.7");
	CHECK_INT(srcport(&pi), 40000);
	for (i = 0; i < n; i++)
		CHECK_INT(proxy_parse(b, i, &pi), 0);
	/* Whatever follows the header is not the parser's. */
	b[n] = 0x16;
	CHECK_INT(proxy_parse(b, n + 1, &pi), (int)n);
}

static void
test_v2_inet6(void)
{
	unsigned char b[256], a[36];
	struct proxy_info pi;
	char buf[64];
	size_t n;

	memset(a, 0, sizeof(a));
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[15] = 0x09;
	a[32] = 0x01;
	a[33] = 0x00;
	n = v2(b, 0x21, 0x21, a, sizeof(a));
	CHECK_INT(proxy_parse(b, n, &pi), (int)n);
	CHECK_STR(srcaddr(&pi, buf, sizeof(buf)), "2001:db8::9");
	CHECK_INT(srcport(&pi), 256);
}

static void
test_v2_local(void)
{
	unsigned char b[256];
	struct proxy_info pi;
	size_t n;

	n = v2(b, 0x20, 0x00, NULL, 0);
	CHECK_INT(proxy_parse(b, n, &pi), 16);
	CHECK_INT(pi.local, 1);
	n = v2(b, 0x21, 0x00, NULL, 0);	/* PROXY with AF_UNSPEC */
	CHECK_INT(proxy_parse(b, n, &pi), 16);
	CHECK_INT(pi.local, 1);
}

static void
test_v2_bad(void)
{
	unsigned char b[PROXY_MAX + 64], a[36];
	struct proxy_info pi;
	size_t n;

	memset(a, 0, sizeof(a));
	n = v2(b, 0x11, 0x11, a, 12);		/* version 1 in binary */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	n = v2(b, 0x22, 0x11, a, 12);		/* command 2 */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	n = v2(b, 0x21, 0x11, a, 11);		/* short IPv4 block */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	n = v2(b, 0x21, 0x21, a, 35);		/* short IPv6 block */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	n = v2(b, 0x21, 0x12, a, 12);		/* UDP */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	n = v2(b, 0x21, 0x41, a, 12);		/* unknown family */
	CHECK_INT(proxy_parse(b, n, &pi), -1);
	/* Longer than we take, refused before it is all in. */
	memcpy(b, v2sig, 12);
	b[12] = 0x21;
	b[13] = 0x11;
	b[14] = 0xff;
	b[15] = 0xff;
	CHECK_INT(proxy_parse(b, 16, &pi), -1);
	/* A wrong signature byte. */
	n = v2(b, 0x21, 0x11, a, 12);
	b[5] = 0x0c;
	CHECK_INT(proxy_parse(b, n, &pi), -1);
}

int
main(void)
{
	RUN(test_v1_tcp4);
	RUN(test_v1_tcp6);
	RUN(test_v1_unknown);
	RUN(test_v1_partial);
	RUN(test_v1_bad);
	RUN(test_v2_inet);
	RUN(test_v2_inet6);
	RUN(test_v2_local);
	RUN(test_v2_bad);
	return unit_done();
}
