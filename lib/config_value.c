/*
 * config_value.c: the syntax of single values in postern.conf, apart from
 * the grammar that places them (config.c).
 *
 * Contract.  Every function here is pure: it reads a NUL-terminated
 * string, writes its result only on success, keeps no state and touches
 * nothing else (conf_addr() resolves numerically, never through DNS or
 * files).  Public ones are declared in config.h:
 *	config_parse_duration()	"30s" "5m" "1h" "5d" or seconds
 *	config_parse_size()	"512" "64K" "35M" "1G"
 *	config_parse_hop()	smtp://, smtp+starttls://, smtps:// URLs
 *	config_is_loopback()	127/8, ::1, ::ffff:127/104
 * and the parser's own helpers in config_value.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_value.h"

static int
conf_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static int
conf_isalnum(int c)
{
	return conf_isdigit(c) || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/*
 * A DNS name of letters, digits and hyphens (RFC 1123), labels of 1 to
 * 63 octets, 253 at most in all, no trailing dot.  A last label of
 * digits only is refused unless `numeric_tld' (it would be an address).
 */
int
conf_dns_name(const char *s, int numeric_tld)
{
	size_t i, len, lab = 0;
	int digits = 1;

	len = strlen(s);
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return 0;
			if (s[i] == '\0')
				break;
			lab = 0;
			digits = 1;
			continue;
		}
		if (!conf_isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
		if (lab == 0 && s[i] == '-')
			return 0;
		if (!conf_isdigit((unsigned char)s[i]))
			digits = 0;
		lab++;
	}
	return numeric_tld || !digits;
}

/* A user or group name: portable characters, 1 to 32 of them. */
int
conf_user_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-' || strlen(s) > 32)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!conf_isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

/* Digits only, no sign, no space; bounded well below overflow. */
int
conf_number(const char *s, long long *v)
{
	long long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!conf_isdigit((unsigned char)*s))
			return -1;
		if (n > (LLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return 0;
}

struct conf_unit {
	char		 letter;	/* '\0': no letter */
	uint64_t	 mult;
};

static const struct conf_unit conf_duration_units[] = {
	{ '\0', 1 }, { 's', 1 }, { 'm', 60 }, { 'h', 60 * 60 },
	{ 'd', 24 * 60 * 60 },
};

static const struct conf_unit conf_size_units[] = {
	{ '\0', 1 }, { 'K', 1024 }, { 'k', 1024 }, { 'M', 1024 * 1024 },
	{ 'm', 1024 * 1024 }, { 'G', 1024 * 1024 * 1024 },
	{ 'g', 1024 * 1024 * 1024 },
};

/*
 * Decimal digits and at most one unit letter from `units'; the value
 * scaled by the unit, at most `max'.  No sign, space or fraction.
 */
static int
conf_scaled(const char *s, const struct conf_unit *units, size_t nunits,
    uint64_t max, uint64_t *out)
{
	uint64_t n = 0, d;
	size_t i;

	if (s == NULL || !conf_isdigit((unsigned char)*s))
		return -1;
	for (; conf_isdigit((unsigned char)*s); s++) {
		d = (uint64_t)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (*s != '\0' && s[1] != '\0')
		return -1;
	for (i = 0; i < nunits; i++)
		if (units[i].letter == *s)
			break;
	if (i == nunits || n > max / units[i].mult)
		return -1;
	*out = n * units[i].mult;
	return 0;
}

int
config_parse_duration(const char *s, time_t *out)
{
	uint64_t v;

	if (conf_scaled(s, conf_duration_units, sizeof(conf_duration_units) /
	    sizeof(conf_duration_units[0]), (uint64_t)CONF_MAX_DURATION,
	    &v) == -1)
		return -1;
	*out = (time_t)v;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *out)
{
	return conf_scaled(s, conf_size_units, sizeof(conf_size_units) /
	    sizeof(conf_size_units[0]), UINT64_MAX, out);
}

/*
 * A numeric address only: dotted-quad IPv4 (not the inet_aton forms
 * such as "127.1") or IPv6, with the port filled in.
 */
int
conf_addr(const char *s, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct addrinfo hints, *res;
	struct in_addr in;
	char portstr[8];

	if (s[0] == '\0' || strlen(s) >= 64)
		return -1;
	if (strchr(s, ':') == NULL && inet_pton(AF_INET, s, &in) != 1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	(void)snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(s, portstr, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
conf_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return 0;
}

int
config_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	const uint8_t *b;

	if (ss == NULL)
		return 0;
	if (ss->ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)ss;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		b = s6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

/*
 * Next hops.
 */

int
config_parse_hop(const char *url, struct hop *hop, const char **err)
{
	static const struct {
		const char	*scheme;
		enum hop_tls	 tls;
		uint16_t	 port;
	} schemes[] = {
		{ "smtp://", HOP_PLAIN, 25 },
		{ "smtp+starttls://", HOP_STARTTLS, 587 },
		{ "smtps://", HOP_SMTPS, 465 },
	};
	const char *s, *hs, *he, *dummy;
	struct in6_addr in6;
	struct in_addr in;
	char host[sizeof(hop->host)];
	long long port;
	size_t i, k, n;
	int bracket = 0;

	if (err == NULL)
		err = &dummy;
	if (url == NULL || hop == NULL) {
		*err = "no URL";
		return -1;
	}
	for (k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++)
		if (strncasecmp(url, schemes[k].scheme,
		    strlen(schemes[k].scheme)) == 0)
			break;
	if (k == sizeof(schemes) / sizeof(schemes[0])) {
		*err = "unknown scheme (expected smtp://, smtp+starttls:// "
		    "or smtps://)";
		return -1;
	}
	s = url + strlen(schemes[k].scheme);
	port = schemes[k].port;

	if (*s == '[') {
		bracket = 1;
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL) {
			*err = "missing ']' after IPv6 address";
			return -1;
		}
		s = he + 1;
	} else {
		hs = s;
		he = s + strcspn(s, ":/?#@[]");
		s = he;
		if (*s == ':' && strchr(s + 1, ':') != NULL) {
			*err = "an IPv6 address must be in brackets";
			return -1;
		}
	}
	n = (size_t)(he - hs);
	if (n == 0) {
		*err = "missing host";
		return -1;
	}
	if (n >= sizeof(host)) {
		*err = "host name too long";
		return -1;
	}
	memcpy(host, hs, n);
	host[n] = '\0';

	if (*s == ':') {
		s++;
		n = strspn(s, "0123456789");
		if (n == 0 || n > 5) {
			*err = n == 0 ? "missing or bad port" :
			    "port out of range";
			return -1;
		}
		port = 0;
		for (i = 0; i < n; i++)
			port = port * 10 + (s[i] - '0');
		if (port < 1 || port > 65535) {
			*err = "port out of range";
			return -1;
		}
		s += n;
	}
	if (*s == '@') {
		*err = "credentials in the URL are not supported "
		    "(use credentials PATH)";
		return -1;
	}
	if (*s == '/' || *s == '?' || *s == '#') {
		*err = "unexpected path after host";
		return -1;
	}
	if (*s != '\0') {
		*err = "unexpected characters after host";
		return -1;
	}

	if (bracket) {
		if (inet_pton(AF_INET6, host, &in6) != 1) {
			*err = "bad IPv6 address";
			return -1;
		}
	} else if (inet_pton(AF_INET, host, &in) != 1 &&
	    !conf_dns_name(host, 0)) {
		*err = "bad host name";
		return -1;
	}
	conf_lower(host);
	memset(hop, 0, sizeof(*hop));
	hop->tls = schemes[k].tls;
	memcpy(hop->host, host, sizeof(host));
	hop->port = (uint16_t)port;
	return 0;
}
