/*
 * smtp_proxy.c: the PROXY protocol parser, and who may use it.  See
 * smtp_proxy.h.
 *
 * Both versions are read strictly: the header comes from a balancer we
 * were told to trust (the caller checks the peer address first), but a
 * misconfigured balancer or a client that slipped through must still get
 * nothing past the parser but a refusal.
 *
 * Version 1 is one text line:
 *	"PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF
 *	"PROXY" SP "UNKNOWN" [anything] CRLF
 * at most 107 bytes with the CRLF.
 * Version 2 is binary: a 12-byte signature, one byte version (high
 * nibble, 2) and command (low nibble: 0 LOCAL, 1 PROXY), one byte address
 * family (high nibble) and transport (low nibble), a 16-bit big-endian
 * length, then that many bytes: the addresses, then TLVs (ignored).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "config.h"
#include "smtp_proxy.h"

static const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char proxy_v1_sig[] = "PROXY ";

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_FAM_UNSPEC	0x0
#define V2_FAM_INET	0x1
#define V2_FAM_INET6	0x2
#define V2_FAM_UNIX	0x3
#define V2_TR_UNSPEC	0x0
#define V2_TR_STREAM	0x1

/* Parse a decimal port: 1 to 5 digits, no leading zero, at most 65535. */
static int
proxy_port(const char *s, size_t len, in_port_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

/* One address of the given family: inet_pton on a NUL-terminated copy. */
static int
proxy_addr(int af, const char *s, size_t len, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
			return -1;
		*sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
			return -1;
		*sslen = sizeof(*sin6);
	}
	return 0;
}

static void
proxy_setport(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = port;
}

/*
 * Split the v1 line (without "PROXY " and CRLF) at single spaces into
 * exactly n fields.  Empty fields (two spaces) are refused.
 */
static int
proxy_v1_fields(const char *s, size_t len, const char **f, size_t *flen,
    int n)
{
	size_t i, start = 0;
	int k = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ' ')
			continue;
		if (i == start || k == n)
			return -1;
		f[k] = s + start;
		flen[k] = i - start;
		k++;
		start = i + 1;
	}
	return k == n ? 0 : -1;
}

static int
proxy_v1(const unsigned char *buf, size_t len, struct proxy_info *pi)
{
	const char *line = (const char *)buf, *f[5];
	size_t i, end, flen[5];
	in_port_t sport, dport;
	int af;

	/* Find the LF; every byte before it must be printable ASCII. */
	for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
		if (buf[i] == '\n')
			break;
		if (buf[i] != '\r' && (buf[i] < 0x20 || buf[i] > 0x7e))
			return -1;
	}
	if (i == len)
		return len < PROXY_V1_MAX ? 0 : -1;
	if (i == PROXY_V1_MAX || i < 1 || buf[i - 1] != '\r')
		return -1;
	end = i - 1;		/* index of the CR */
	if (memchr(line, '\r', end) != NULL)
		return -1;

	memset(pi, 0, sizeof(*pi));
	pi->version = 1;
	line += sizeof(proxy_v1_sig) - 1;
	end -= sizeof(proxy_v1_sig) - 1;
	if (end >= 7 && memcmp(line, "UNKNOWN", 7) == 0 &&
	    (end == 7 || line[7] == ' ')) {
		pi->local = 1;
		return (int)(i + 1);
	}
	if (end < 5)
		return -1;
	if (memcmp(line, "TCP4 ", 5) == 0)
		af = AF_INET;
	else if (memcmp(line, "TCP6 ", 5) == 0)
		af = AF_INET6;
	else
		return -1;
	if (proxy_v1_fields(line + 5, end - 5, f, flen, 4) == -1 ||
	    proxy_addr(af, f[0], flen[0], &pi->src, &pi->srclen) == -1 ||
	    proxy_addr(af, f[1], flen[1], &pi->dst, &pi->dstlen) == -1 ||
	    proxy_port(f[2], flen[2], &sport) == -1 ||
	    proxy_port(f[3], flen[3], &dport) == -1)
		return -1;
	proxy_setport(&pi->src, sport);
	proxy_setport(&pi->dst, dport);
	return (int)(i + 1);
}

static int
proxy_v2(const unsigned char *buf, size_t len, struct proxy_info *pi)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t total, alen;
	int cmd, fam, tr;

	if (len < PROXY_V2_FIXED)
		return 0;
	alen = ((size_t)buf[14] << 8) | buf[15];
	total = PROXY_V2_FIXED + alen;
	if ((buf[12] >> 4) != 2 || total > PROXY_V2_MAX)
		return -1;
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	tr = buf[13] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return -1;
	if (fam > V2_FAM_UNIX || tr > 2)
		return -1;
	if (len < total)
		return 0;

	memset(pi, 0, sizeof(*pi));
	pi->version = 2;
	buf += PROXY_V2_FIXED;
	/*
	 * LOCAL: the balancer's own connection (a health check); the real
	 * endpoints stand.  UNSPEC and UNIX carry nothing we can use, and
	 * the protocol says to fall back to the real endpoints for them.
	 */
	if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC || fam == V2_FAM_UNIX) {
		pi->local = 1;
		return (int)total;
	}
	/* A datagram transport has nothing to do with an SMTP session. */
	if (tr != V2_TR_STREAM)
		return -1;
	if (fam == V2_FAM_INET) {
		if (alen < 12)
			return -1;
		sin = (struct sockaddr_in *)&pi->src;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, buf, 4);
		memcpy(&sin->sin_port, buf + 8, 2);
		pi->srclen = sizeof(*sin);
		sin = (struct sockaddr_in *)&pi->dst;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, buf + 4, 4);
		memcpy(&sin->sin_port, buf + 10, 2);
		pi->dstlen = sizeof(*sin);
	} else {
		if (alen < 36)
			return -1;
		sin6 = (struct sockaddr_in6 *)&pi->src;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, buf, 16);
		memcpy(&sin6->sin6_port, buf + 32, 2);
		pi->srclen = sizeof(*sin6);
		sin6 = (struct sockaddr_in6 *)&pi->dst;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, buf + 16, 16);
		memcpy(&sin6->sin6_port, buf + 34, 2);
		pi->dstlen = sizeof(*sin6);
	}
	return (int)total;
}

int
proxy_parse(const unsigned char *buf, size_t len, struct proxy_info *pi)
{
	size_t n;

	if (len == 0)
		return 0;
	/* Which version: compare what we have with either signature. */
	n = len < sizeof(proxy_v2_sig) ? len : sizeof(proxy_v2_sig);
	if (memcmp(buf, proxy_v2_sig, n) == 0)
		return n < sizeof(proxy_v2_sig) ? 0 : proxy_v2(buf, len, pi);
	n = len < sizeof(proxy_v1_sig) - 1 ? len : sizeof(proxy_v1_sig) - 1;
	if (memcmp(buf, proxy_v1_sig, n) == 0)
		return n < sizeof(proxy_v1_sig) - 1 ? 0 : proxy_v1(buf, len, pi);
	return -1;
}

/*
 * Is this peer one of the listener's proxy-from addresses?  (The caller
 * has already turned an IPv4-mapped IPv6 address into IPv4.)  Only these
 * may, and must, begin with a PROXY header.
 */
int
smtp_proxy_trusted(const struct listener *l, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;
	int i;

	for (i = 0; i < l->nproxy; i++) {
		if (l->proxy[i].ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET) {
			a4 = (const struct sockaddr_in *)ss;
			b4 = (const struct sockaddr_in *)&l->proxy[i];
			if (a4->sin_addr.s_addr == b4->sin_addr.s_addr)
				return 1;
		} else if (ss->ss_family == AF_INET6) {
			a6 = (const struct sockaddr_in6 *)ss;
			b6 = (const struct sockaddr_in6 *)&l->proxy[i];
			if (memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0)
				return 1;
		}
	}
	return 0;
}
