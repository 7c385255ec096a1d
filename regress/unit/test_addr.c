/*
 * test_addr: the address parsers of lib/addr.c.
 */
#include <string.h>

#include "addr.h"
#include "unit.h"

#define LEN(s) (sizeof(s) - 1)
/* for string literals, which may hold NUL bytes */
#define LC(s) list_count(s, LEN(s))
#define PL(s, mb, max, n, err)                                                 \
	addr_parse_mailbox_list(s, LEN(s), mb, max, n, err)
#define PM(s, mb, err) addr_parse_mailbox(s, LEN(s), mb, err)

/* Parse s as a path; return the address or NULL, the error in *err. */
static const char *
path(const char *s, int *utf8, const char **err)
{
	static char out[ADDR_MAX];
	const char *endp;

	*err = NULL;
	if (addr_parse_path(s, strlen(s), out, sizeof(out), utf8, &endp, err) ==
	    -1)
		return NULL;
	return out;
}

/* Parse s as a one-mailbox list; the address or NULL. */
static const char *
mbox(const char *s, const char **err)
{
	static struct mailbox mb[4];
	int n;

	*err = NULL;
	if (addr_parse_mailbox_list(s, strlen(s), mb, 4, &n, err) == -1)
		return NULL;
	if (n != 1) {
		*err = "not one mailbox";
		return NULL;
	}
	return mb[0].addr;
}

static int
list_count(const char *s, size_t len)
{
	const char *err;
	int n;

	if (addr_parse_mailbox_list(s, len, NULL, 0, &n, &err) == -1)
		return -1;
	return n;
}

/* n copies of c */
static char *
rep(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* A host name of exactly n octets, labels of at most 51. */
static char *
mkdomain(char *buf, size_t n)
{
	size_t i = 0, left = n;

	while (left > 51) {
		memset(buf + i, 'd', 50);
		buf[i + 50] = '.';
		i += 51;
		left -= 51;
	}
	memset(buf + i, 'e', left);
	buf[i + left] = '\0';
	return buf;
}

static const struct {
	const char *in;
	const char *out;
	int utf8;
} good_paths[] = {
    {"<a@b.c>", "a@b.c", 0},
    {"<>", "", 0},
    {"<John.Doe@Example.COM>", "John.Doe@Example.COM", 0},
    {"<a+tag@x.org>", "a+tag@x.org", 0},
    {"<!#$%&'*+-/=?^_`{|}~@x.org>", "!#$%&'*+-/=?^_`{|}~@x.org", 0},
    {"<@x.org,@y.org:a@b.com>", "a@b.com", 0},
    {"<@x.org:a@b.com>", "a@b.com", 0},
    {"<\"john.doe\"@x.org>", "john.doe@x.org", 0},
    {"<\"john doe\"@x.org>", "\"john doe\"@x.org", 0},
    {"<\"a\\\"b\"@x.org>", "\"a\\\"b\"@x.org", 0},
    {"<\"a\\\\b\"@x.org>", "\"a\\\\b\"@x.org", 0},
    {"<\"a\\b\"@x.org>", "ab@x.org", 0},
    {"<\"a@b\"@x.org>", "\"a@b\"@x.org", 0},
    {"<\"a..b\"@x.org>", "\"a..b\"@x.org", 0},
    {"<\".\"@x.org>", "\".\"@x.org", 0},
    {"<\"a \"@x.org>", "\"a \"@x.org", 0},
    {"<a@[192.0.2.1]>", "a@[192.0.2.1]", 0},
    {"<a@[0.0.0.0]>", "a@[0.0.0.0]", 0},
    {"<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]", 0},
    {"<a@[ipv6:::1]>", "a@[ipv6:::1]", 0},
    {"<a@[IPv6:::ffff:192.0.2.1]>", "a@[IPv6:::ffff:192.0.2.1]", 0},
    {"<a@localhost>", "a@localhost", 0},
    {"<a@xn--bcher-kva.de>", "a@xn--bcher-kva.de", 0},
    {"<a@1-2.x-y.org>", "a@1-2.x-y.org", 0},
    {"<j\xc3\xbcrgen@b\xc3\xbc"
     "cher.de>",
     "j\xc3\xbcrgen@b\xc3\xbc"
     "cher.de",
     1},
    {"<a@b\xc3\xbc"
     "cher.de>",
     "a@b\xc3\xbc"
     "cher.de",
     1},
    {"<\"j\xc3\xbc rgen\"@x.org>", "\"j\xc3\xbc rgen\"@x.org", 1},
    {"<a\xf0\x9f\x98\x80@x.org>", "a\xf0\x9f\x98\x80@x.org", 1},
    {"<a\xe2\x82\xac@x.org>", "a\xe2\x82\xac@x.org", 1},
    {"<a\xc2\xa0@x.org>", "a\xc2\xa0@x.org", 1},
    {"<a\xf4\x8f\xbf\xbf@x.org>", "a\xf4\x8f\xbf\xbf@x.org", 1},
};

static void
test_path_good(void)
{
	const char *err, *got;
	size_t i;
	int utf8;

	for (i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++) {
		utf8 = -1;
		got = path(good_paths[i].in, &utf8, &err);
		if (got == NULL)
			printf("#   %s: %s\n", good_paths[i].in, err);
		CHECK_STR(got, good_paths[i].out);
		CHECK_INT(utf8, good_paths[i].utf8);
	}
}

static const struct {
	const char *in;
	const char *err;
} bad_paths[] = {
    {"", "malformed address"},
    {"a@b.c", "malformed address"},
    {" <a@b.c>", "malformed address"},
    {"<", "malformed address"},
    {"<a@b.c", "missing closing '>'"},
    {"<a", "missing closing '>'"},
    {"<\"a\"", "missing closing '>'"},
    {"<a@b.c >", "malformed address"},
    {"< a@b.c>", "malformed address"},
    {"<a b@c.d>", "malformed address"},
    {"<a@b c.d>", "malformed address"},
    {"<@b.c>", "malformed address"},
    {"<@b.c:>", "malformed address"},
    {"<@:a@b.c>", "malformed address"},
    {"<@b..c:a@b.c>", "invalid domain"},
    {"<@b.c,a@b.c>", "malformed address"},
    {"<a@>", "missing domain"},
    {"<a>", "missing domain"},
    {"<postmaster>", "missing domain"},
    {"<@>", "malformed address"},
    {"<@a.b>", "malformed address"},
    {"<.a@b.c>", "malformed address"},
    {"<a.@b.c>", "malformed address"},
    {"<a..b@b.c>", "malformed address"},
    {"<\"\"@b.c>", "empty local part"},
    {"<@x.y:@b.c>", "empty local part"},
    {"<\"a@b.c>", "unterminated quoted string"},
    {"<\"a\\", "unterminated quoted string"},
    {"<\"a\"b@c.d>", "malformed address"},
    {"<a\"b\"@c.d>", "malformed address"},
    {"<a(b)@c.d>", "malformed address"},
    {"<a\\b@c.d>", "malformed address"},
    {"<\"a\\\xc3\xa9\"@x.org>", "malformed address"},
    {"<\"a\tb\"@x.org>", "control character in address"},
    {"<\"a\\\tb\"@x.org>", "control character in address"},
    {"<a\x01@b.c>", "control character in address"},
    {"<a@b\x01.c>", "control character in address"},
    {"<a@b\x7f>", "control character in address"},
    {"<a@b.c\r\n>", "bare CR or LF"},
    {"<a@b_c.d>", "invalid domain"},
    {"<a@-b.c>", "invalid domain"},
    {"<a@b-.c>", "invalid domain"},
    {"<a@b.c->", "invalid domain"},
    {"<a@b..c>", "invalid domain"},
    {"<a@.b.c>", "invalid domain"},
    {"<a@b.c.>", "invalid domain"},
    {"<a@b@c.d>", "invalid domain"},
    {"<a@b.c:25>", "invalid domain"},
    {"<a@[1.2.3]>", "invalid address literal"},
    {"<a@[1.2.3.4.5]>", "invalid address literal"},
    {"<a@[1.2.3.256]>", "invalid address literal"},
    {"<a@[1.2.3.0004]>", "invalid address literal"},
    {"<a@[1..3.4]>", "invalid address literal"},
    {"<a@[]>", "invalid address literal"},
    {"<a@[IPv6:]>", "invalid address literal"},
    {"<a@[IPv6:zz::1]>", "invalid address literal"},
    {"<a@[IPv6:1::2::3]>", "invalid address literal"},
    {"<a@[IPv6:1.2.3.4]>", "invalid address literal"},
    {"<a@[IPv6:fe80::1%eth0]>", "invalid address literal"},
    {"<a@[foo:bar]>", "invalid address literal"},
    {"<a@[1.2.3.4>", "invalid address literal"},
    {"<a@[1.2.3.4]]>", "invalid address literal"},
    /* UTF-8 that is not well formed */
    {"<a\xc0\xaf@x.org>", "invalid UTF-8"},
    {"<a\xc1\xbf@x.org>", "invalid UTF-8"},
    {"<a\xe0\x80\xaf@x.org>", "invalid UTF-8"},
    {"<a\xf0\x80\x80\xaf@x.org>", "invalid UTF-8"},
    {"<a\xed\xa0\x80@x.org>", "invalid UTF-8"},
    {"<a\xed\xbf\xbf@x.org>", "invalid UTF-8"},
    {"<a\xf4\x90\x80\x80@x.org>", "invalid UTF-8"},
    {"<a\xf5\x80\x80\x80@x.org>", "invalid UTF-8"},
    {"<a\xc2\x80@x.org>", "invalid UTF-8"},
    {"<a\xc2\x9f@x.org>", "invalid UTF-8"},
    {"<a\x80@x.org>", "invalid UTF-8"},
    {"<a\xe2\x82@x.org>", "invalid UTF-8"},
    {"<a\xe2\x82", "invalid UTF-8"},
    {"<a\xff@x.org>", "invalid UTF-8"},
    {"<a@b\xff.org>", "invalid UTF-8"},
    {"<a@b\xc3.org>", "invalid UTF-8"},
    {"<\"a\xc0\xa2\"@x.org>", "invalid UTF-8"},
};

static void
test_path_bad(void)
{
	const char *err, *got;
	size_t i;
	int utf8;

	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		utf8 = -1;
		got = path(bad_paths[i].in, &utf8, &err);
		if (got != NULL)
			printf("#   accepted: %s\n", bad_paths[i].in);
		CHECK(got == NULL);
		CHECK_STR(err, bad_paths[i].err);
		CHECK_INT(utf8, 0);
	}
}

static void
test_path_endp(void)
{
	static const char s[] = "<a@b.c> SIZE=100 BODY=8BITMIME";
	static const char n[] = "<>SIZE=1";
	char out[ADDR_MAX];
	const char *endp, *err;

	CHECK_INT(
	    addr_parse_path(s, LEN(s), out, sizeof(out), NULL, &endp, &err), 0);
	CHECK_STR(endp, " SIZE=100 BODY=8BITMIME");
	CHECK_INT(
	    addr_parse_path(n, LEN(n), out, sizeof(out), NULL, &endp, NULL), 0);
	CHECK_STR(out, "");
	CHECK_STR(endp, "SIZE=1");
	/* the length given bounds the parse, not the NUL */
	CHECK_INT(addr_parse_path(s, 6, out, sizeof(out), NULL, &endp, &err),
		  -1);
	CHECK_STR(err, "missing closing '>'");
	CHECK(endp == s);
	CHECK_STR(out, "");
}

static void
test_path_nul(void)
{
	static const char a[] = "<a\0@b.c>";
	static const char b[] = "<a@b\0.c>";
	static const char c[] = "<\"a\0\"@b.c>";
	static const char d[] = "<a@b.c\0>";
	char out[ADDR_MAX];
	const char *err;

	CHECK_INT(
	    addr_parse_path(a, LEN(a), out, sizeof(out), NULL, NULL, &err), -1);
	CHECK_INT(
	    addr_parse_path(b, LEN(b), out, sizeof(out), NULL, NULL, &err), -1);
	CHECK_INT(
	    addr_parse_path(c, LEN(c), out, sizeof(out), NULL, NULL, &err), -1);
	CHECK_INT(
	    addr_parse_path(d, LEN(d), out, sizeof(out), NULL, NULL, &err), -1);
	CHECK_STR(err, "control character in address");
}

static void
test_path_limits(void)
{
	char in[1024], local[128], dom[300], out[ADDR_MAX];
	const char *err;
	int i, utf8;

	/* local part: 64 octets, not 65 */
	snprintf(in, sizeof(in), "<%s@x.org>", rep(local, 'l', 64));
	CHECK(path(in, &utf8, &err) != NULL);
	snprintf(in, sizeof(in), "<%s@x.org>", rep(local, 'l', 65));
	CHECK(path(in, &utf8, &err) == NULL);
	CHECK_STR(err, "local part too long");
	/* counted in canonical form: quotes count, needless ones not */
	snprintf(in, sizeof(in), "<\" %s\"@x.org>", rep(local, 'l', 61));
	CHECK(path(in, &utf8, &err) != NULL);
	snprintf(in, sizeof(in), "<\" %s\"@x.org>", rep(local, 'l', 62));
	CHECK(path(in, &utf8, &err) == NULL);
	CHECK_STR(err, "local part too long");
	snprintf(in, sizeof(in), "<\"%s\"@x.org>", rep(local, 'l', 64));
	CHECK_STR(path(in, &utf8, &err), strcat(local, "@x.org"));
	snprintf(in, sizeof(in), "<\"%s\"@x.org>", rep(local, 'l', 65));
	CHECK(path(in, &utf8, &err) == NULL);
	/* a quoted-pair counts as what it stands for */
	snprintf(in, sizeof(in), "<\"\\\"%s\"@x.org>", rep(local, 'l', 60));
	CHECK(path(in, &utf8, &err) != NULL);
	snprintf(in, sizeof(in), "<\"\\\"%s\"@x.org>", rep(local, 'l', 61));
	CHECK(path(in, &utf8, &err) == NULL);

	/* labels: 63 octets, not 64 */
	snprintf(in, sizeof(in), "<a@%s.org>", rep(dom, 'd', 63));
	CHECK(path(in, &utf8, &err) != NULL);
	snprintf(in, sizeof(in), "<a@%s.org>", rep(dom, 'd', 64));
	CHECK(path(in, &utf8, &err) == NULL);
	CHECK_STR(err, "invalid domain");
	/* a U-label is counted in octets: 31 x U+00FC is 62, 32 is 64 */
	strlcpy(in, "<a@", sizeof(in));
	for (i = 0; i < 31; i++)
		strlcat(in, "\xc3\xbc", sizeof(in));
	strlcat(in, "x.org>", sizeof(in));
	CHECK(path(in, &utf8, &err) != NULL);
	CHECK_INT(utf8, 1);
	strlcpy(in, "<a@", sizeof(in));
	for (i = 0; i < 32; i++)
		strlcat(in, "\xc3\xbc", sizeof(in));
	strlcat(in, ".org>", sizeof(in));
	CHECK(path(in, &utf8, &err) == NULL);

	/* domain: 255 octets, not 256 */
	snprintf(in, sizeof(in), "<a@%s>", mkdomain(dom, 255));
	CHECK(path(in, &utf8, &err) != NULL);
	snprintf(in, sizeof(in), "<a@%s>", mkdomain(dom, 256));
	CHECK(path(in, &utf8, &err) == NULL);
	CHECK_STR(err, "domain too long");

	/* the whole: ADDR_MAX - 1 = 319 octets, not 320 */
	snprintf(in, sizeof(in), "<%s@%s>", rep(local, 'l', 64),
		 mkdomain(dom, 254));
	CHECK(path(in, &utf8, &err) != NULL);
	CHECK_INT(strlen(path(in, &utf8, &err)), ADDR_MAX - 1);
	snprintf(in, sizeof(in), "<%s@%s>", rep(local, 'l', 64),
		 mkdomain(dom, 255));
	CHECK(path(in, &utf8, &err) == NULL);
	CHECK_STR(err, "address too long");

	/* and the caller's buffer */
	CHECK_INT(addr_parse_path("<ab@c.d>", 8, out, 6, NULL, NULL, &err), -1);
	CHECK_STR(err, "address too long");
	CHECK_INT(addr_parse_path("<ab@c.d>", 8, out, 7, NULL, NULL, &err), 0);
	CHECK_STR(out, "ab@c.d");
	CHECK_INT(addr_parse_path("<>", 2, out, 0, NULL, NULL, &err), -1);
	CHECK_INT(addr_parse_path("<>", 2, out, 1, NULL, NULL, &err), 0);
}

/* Parse the literal s as a bare address. */
#define BARE(s, out, utf8, err)                                                \
	addr_parse_bare(s, LEN(s), out, sizeof(out), utf8, err)

static void
test_bare(void)
{
	char out[ADDR_MAX];
	const char *err;
	int utf8;

	CHECK_INT(BARE("scans@example.com", out, &utf8, &err), 0);
	CHECK_STR(out, "scans@example.com");
	CHECK_INT(utf8, 0);
	CHECK_INT(BARE("\"sc\"@example.com", out, &utf8, &err), 0);
	CHECK_STR(out, "sc@example.com");
	CHECK_INT(BARE("\xc3\xbc@b.c", out, &utf8, &err), 0);
	CHECK_INT(utf8, 1);
	CHECK_INT(BARE("<a@b.c>", out, NULL, &err), -1);
	CHECK_INT(BARE("a@b.c ", out, NULL, &err), -1);
	CHECK_INT(BARE("a@b.c\r\n", out, NULL, &err), -1);
	CHECK_INT(BARE("a@b.c\0", out, NULL, &err), -1);
	CHECK_INT(BARE("@x:a@b.c", out, NULL, &err), -1);
	CHECK_INT(BARE("", out, NULL, &err), -1);
	CHECK_STR(err, "malformed address");
	CHECK_INT(BARE("a", out, NULL, &err), -1);
	CHECK_STR(err, "missing domain");
	CHECK_INT(BARE("a@", out, NULL, &err), -1);
	CHECK_STR(err, "missing domain");
	CHECK_INT(BARE("@b.c", out, NULL, &err), -1);
	CHECK_STR(err, "empty local part");
	/* the length given is the end */
	CHECK_INT(addr_parse_bare("a@b.c", 3, out, sizeof(out), NULL, &err), 0);
	CHECK_STR(out, "a@b");
}

static void
test_split(void)
{
	char l[ADDR_MAX], d[ADDR_MAX];

	CHECK_INT(addr_split("a@b.c", l, sizeof(l), d, sizeof(d)), 0);
	CHECK_STR(l, "a");
	CHECK_STR(d, "b.c");
	CHECK_INT(
	    addr_split("\"a@good.com\"@bad.com", l, sizeof(l), d, sizeof(d)),
	    0);
	CHECK_STR(l, "\"a@good.com\"");
	CHECK_STR(d, "bad.com");
	CHECK_INT(addr_split("\"a\\\"@x\"@bad.com", l, sizeof(l), d, sizeof(d)),
		  0);
	CHECK_STR(l, "\"a\\\"@x\"");
	CHECK_STR(d, "bad.com");
	CHECK_INT(addr_split("\"a@b\"", l, sizeof(l), d, sizeof(d)), -1);
	CHECK_STR(l, "");
	CHECK_INT(addr_split("ab", l, sizeof(l), d, sizeof(d)), -1);
	CHECK_INT(addr_split("", l, sizeof(l), d, sizeof(d)), -1);
	CHECK_INT(addr_split("@b", l, sizeof(l), d, sizeof(d)), -1);
	CHECK_INT(addr_split("a@", l, sizeof(l), d, sizeof(d)), -1);
	CHECK_INT(addr_split("a@b.c", NULL, 0, d, sizeof(d)), 0);
	CHECK_STR(d, "b.c");
	CHECK_INT(addr_split("ab@b.c", l, 2, d, sizeof(d)), -1);
	CHECK_INT(addr_split("ab@b.c", l, 3, d, 4), 0);
	CHECK_INT(addr_split("ab@b.c", l, 3, d, 3), -1);
	CHECK_STR(l, "");
}

static void
test_equal(void)
{
	char big[ADDR_MAX + 10];

	CHECK_INT(addr_equal("a@b.c", "a@b.c", 0), 1);
	CHECK_INT(addr_equal("a@B.C", "a@b.c", 0), 1);
	CHECK_INT(addr_equal("A@b.c", "a@b.c", 0), 0);
	CHECK_INT(addr_equal("A@b.c", "a@b.c", 1), 1);
	CHECK_INT(addr_equal("a@b.c", "a@b.cc", 1), 0);
	CHECK_INT(addr_equal("a@b.c", "ab@.c", 1), 0);
	CHECK_INT(addr_equal("\"a b\"@x.org", "\"A B\"@X.ORG", 1), 1);
	CHECK_INT(addr_equal("\"a@b\"@x.org", "\"a@b\"@x.org", 0), 1);
	CHECK_INT(addr_equal("\"a@b\"@x.org", "a@b\"@x.org", 0), 0);
	/* non-ASCII is compared exactly, in either part */
	CHECK_INT(addr_equal("\xc3\xbc@b.c", "\xc3\x9c@b.c", 1), 0);
	CHECK_INT(addr_equal("a@\xc3\xbc.c", "a@\xc3\x9c.c", 1), 0);
	/* not addresses */
	CHECK_INT(addr_equal("", "", 0), 0);
	CHECK_INT(addr_equal("ab", "ab", 0), 0);
	CHECK_INT(addr_equal("a@", "a@", 0), 0);
	CHECK_INT(addr_equal("@b", "@b", 0), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[5] = '@';
	CHECK_INT(addr_equal(big, big, 0), 0);
	/* a path and a header agree on the canonical form */
	CHECK_INT(addr_equal("scans@Example.com", "scans@example.COM", 0), 1);
}

static void
test_domain_valid(void)
{
	char dom[300];

	CHECK_INT(addr_domain_valid("example.com"), 1);
	CHECK_INT(addr_domain_valid("a"), 1);
	CHECK_INT(addr_domain_valid("b\xc3\xbc"
				    "cher.de"),
		  1);
	CHECK_INT(addr_domain_valid("[192.0.2.1]"), 1);
	CHECK_INT(addr_domain_valid("[IPv6:::1]"), 1);
	CHECK_INT(addr_domain_valid(""), 0);
	CHECK_INT(addr_domain_valid("a..b"), 0);
	CHECK_INT(addr_domain_valid("a.b."), 0);
	CHECK_INT(addr_domain_valid("a b"), 0);
	CHECK_INT(addr_domain_valid("_dmarc.x.org"), 0);
	CHECK_INT(addr_domain_valid("[1.2.3.4"), 0);
	CHECK_INT(addr_domain_valid(mkdomain(dom, 255)), 1);
	CHECK_INT(addr_domain_valid(mkdomain(dom, 256)), 0);
	CHECK_INT(addr_hostname_valid("example.com"), 1);
	CHECK_INT(addr_hostname_valid("[192.0.2.1]"), 0);
	CHECK_INT(addr_hostname_valid("-x.com"), 0);
}

static void
test_mailbox_basic(void)
{
	struct mailbox mb[4];
	const char *err;
	int n;

	CHECK_STR(mbox("a@b.c", &err), "a@b.c");
	CHECK_STR(mbox("<a@b.c>", &err), "a@b.c");
	CHECK_STR(mbox("  < a@b.c >  ", &err), "a@b.c");
	CHECK_STR(mbox("a @b.c", &err), "a@b.c");
	CHECK_STR(mbox("a@ b.c", &err), "a@b.c");
	CHECK_STR(mbox("a@[192.0.2.1]", &err), "a@[192.0.2.1]");
	CHECK_STR(mbox("<a@[IPv6:2001:db8::1]>", &err), "a@[IPv6:2001:db8::1]");
	CHECK_STR(mbox("\"a b\"@x.org", &err), "\"a b\"@x.org");
	CHECK_STR(mbox("\"a\\\"b\"@x.org", &err), "\"a\\\"b\"@x.org");
	CHECK_STR(mbox("\"john.doe\"@x.org", &err), "john.doe@x.org");

	CHECK_INT(PL("John Doe <jd@x.org>", mb, 4, &n, &err), 0);
	CHECK_INT(n, 1);
	CHECK_STR(mb[0].addr, "jd@x.org");
	CHECK_STR(mb[0].display, "John Doe");
	CHECK_INT(PL("\"Doe, John\" <jd@x.org>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "Doe, John");
	CHECK_INT(PL("John Q. Public <jqp@x.org>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "John Q. Public");
	CHECK_INT(PL("\"a\\\"b\\\\c\" <x@y.z>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "a\"b\\c");
	CHECK_INT(PL("x@y.z (Jo)", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "");
	CHECK_INT(PL("J\xc3\xbcrgen <j@x.org>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "J\xc3\xbcrgen");
	CHECK_INT(
	    PL("\"J\xc3\xbcrgen\" <j\xc3\xbc@b\xc3\xbc.de>", mb, 4, &n, &err),
	    0);
	CHECK_STR(mb[0].addr, "j\xc3\xbc@b\xc3\xbc.de");
}

static void
test_mailbox_adversarial(void)
{
	struct mailbox mb[4];
	const char *err;
	int n;

	/* a display name that looks like an address is only a name */
	CHECK_STR(mbox("\"a@good.com\" <evil@bad.com>", &err), "evil@bad.com");
	CHECK_STR(mbox("\"<a@good.com>\" <evil@bad.com>", &err),
		  "evil@bad.com");
	CHECK_STR(mbox("\"\\\"<a@good.com>\\\"\" <evil@bad.com>", &err),
		  "evil@bad.com");
	/* an address where a display name goes is an error */
	CHECK(mbox("evil@bad.com <a@good.com>", &err) == NULL);
	CHECK_STR(err, "malformed address");
	CHECK(mbox("a@good.com <a@good.com>", &err) == NULL);
	/* comments are not addresses */
	CHECK_STR(mbox("(a@good.com) evil@bad.com", &err), "evil@bad.com");
	CHECK_STR(mbox("evil@bad.com (a@good.com)", &err), "evil@bad.com");
	CHECK_STR(mbox("(<a@good.com>)<evil@bad.com>", &err), "evil@bad.com");
	CHECK_STR(mbox("<evil(a@good.com)@bad.com>", &err), "evil@bad.com");
	CHECK_STR(mbox("<evil@bad.com(<a@good.com>)>", &err), "evil@bad.com");
	CHECK_STR(mbox("(a(b)c \\) <a@good.com>) evil@bad.com", &err),
		  "evil@bad.com");
	/* two addresses are two mailboxes, or an error */
	CHECK_INT(LC("a@good.com, b@bad.com"), 2);
	CHECK_INT(LC("<a@good.com>(x)<b@bad.com>"), -1);
	CHECK_INT(LC("<a@good.com><b@bad.com>"), -1);
	CHECK_INT(LC("<a@good.com> <b@bad.com>"), -1);
	CHECK_INT(LC("a@good.com b@bad.com"), -1);
	CHECK_INT(LC("a@good.com@bad.com"), -1);
	CHECK_INT(LC("<a@good.com>b@bad.com"), -1);
	CHECK_INT(LC("<a@good.com>, <b@bad.com>"), 2);
	/* a quoted '@' stays in the local part */
	CHECK_STR(mbox("\"a@good.com\"@bad.com", &err),
		  "\"a@good.com\"@bad.com");
	/* encoded-words are never decoded */
	CHECK_INT(
	    PL("=?utf-8?q?a=40good.com?= <evil@bad.com>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].addr, "evil@bad.com");
	CHECK_STR(mb[0].display, "=?utf-8?q?a=40good.com?=");
	CHECK_STR(mbox("=?utf-8?q?a=40good.com?=@bad.com", &err),
		  "=?utf-8?q?a=40good.com?=@bad.com");
	CHECK_STR(mbox("=?utf-8?B?YUBnb29kLmNvbQ==?= <evil@bad.com>", &err),
		  "evil@bad.com");
	CHECK(mbox("a@=?utf-8?q?good.com?=", &err) == NULL);
	CHECK(mbox("<=?utf-8?q?a=40good.com?=>", &err) == NULL);
	/* NUL bytes */
	CHECK_INT(LC("a@b.c\0"), -1);
	CHECK_INT(LC("<a\0@b.c>"), -1);
	CHECK_INT(LC("\"x\0\" <a@b.c>"), -1);
	CHECK_INT(LC("(x\0) <a@b.c>"), -1);
	CHECK_INT(LC("a@b.c (\0)"), -1);
	/* what receivers read differently */
	CHECK(mbox("<@good.com:evil@bad.com>", &err) == NULL);
	CHECK_STR(err, "source route not allowed");
	CHECK(mbox("a@good.com .bad.com", &err) == NULL);
	CHECK(mbox("a@good. com", &err) == NULL);
	CHECK(mbox("a@good.(x)com", &err) == NULL);
	CHECK(mbox("a@good.com.", &err) == NULL);
	CHECK(mbox("a@good.com;", &err) == NULL);
	CHECK(mbox("a@good.com>", &err) == NULL);
	CHECK(mbox("<a@good.com", &err) == NULL);
	CHECK_STR(err, "missing closing '>'");
	CHECK(mbox("<a@good.com>>", &err) == NULL);
	CHECK(mbox("<<a@good.com>>", &err) == NULL);
	CHECK(mbox("<>", &err) == NULL);
	CHECK(mbox("a@good.com\\", &err) == NULL);
	CHECK(mbox("a\\@good.com", &err) == NULL);
	CHECK(mbox("a@good.com)", &err) == NULL);
	CHECK(mbox("a@[good.com]", &err) == NULL);
	CHECK(mbox("a@[1.2.3.4] x", &err) == NULL);
	CHECK(mbox("a@[ 1.2.3.4]", &err) == NULL);
	CHECK(mbox("a@b_c.com", &err) == NULL);
	CHECK(mbox("a@\"b.com\"", &err) == NULL);
	/* overlong '@' and '<' */
	CHECK(mbox("a\xc0\x80@b.c", &err) == NULL);
	CHECK_STR(err, "invalid UTF-8");
	CHECK(mbox("\xc0\xbc"
		   "a@b.c>",
		   &err) == NULL);
	CHECK(mbox("\"\xc0\xa2\" <a@b.c>", &err) == NULL);
	CHECK(mbox("(\xc0\xa9) <a@b.c>", &err) == NULL);
	CHECK(mbox("\xc2\x85 <a@b.c>", &err) == NULL);
}

static void
test_mailbox_malformed(void)
{
	const char *err;

	CHECK_INT(LC(""), -1);
	CHECK_INT(LC("   "), -1);
	CHECK_INT(LC(" (c) "), -1);
	CHECK_INT(LC(","), -1);
	CHECK(mbox("", &err) == NULL);
	CHECK_STR(err, "empty address list");
	CHECK(mbox("John", &err) == NULL);
	CHECK(mbox("John Doe", &err) == NULL);
	CHECK(mbox("a", &err) == NULL);
	CHECK(mbox("@b.c", &err) == NULL);
	CHECK_STR(err, "empty local part");
	CHECK(mbox("a@", &err) == NULL);
	CHECK_STR(err, "missing domain");
	CHECK(mbox("<a@>", &err) == NULL);
	CHECK_STR(err, "missing domain");
	CHECK(mbox("<a>", &err) == NULL);
	CHECK(mbox("\"\"@b.c", &err) == NULL);
	CHECK_STR(err, "empty local part");
	CHECK(mbox(". <a@b.c>", &err) == NULL);
	CHECK(mbox("\"unterminated <a@b.c>", &err) == NULL);
	CHECK_STR(err, "unterminated quoted string");
	CHECK(mbox("a@b.c (comment", &err) == NULL);
	CHECK_STR(err, "unterminated comment");
	CHECK(mbox("a@b.c )", &err) == NULL);
	CHECK(mbox("a@b.c ]", &err) == NULL);
	CHECK(mbox("\"a\tb\"@x.org", &err) == NULL);
	CHECK(mbox("\"a\\\tb\"@x.org", &err) == NULL);
	CHECK(mbox("\"a\x01\" <a@b.c>", &err) == NULL);
	CHECK_STR(err, "control character in address");
	CHECK(mbox("a\x7f@b.c", &err) == NULL);
	CHECK(mbox("Jo\x1b <a@b.c>", &err) == NULL);
}

static void
test_mailbox_obs_local(void)
{
	const char *err;

	CHECK_STR(mbox("\"john\".\"doe\"@x.org", &err), "john.doe@x.org");
	CHECK_STR(mbox("john . doe@x.org", &err), "john.doe@x.org");
	CHECK_STR(mbox("john.(c)doe@x.org", &err), "john.doe@x.org");
	CHECK_STR(mbox("<john. doe @ x.org>", &err), "john.doe@x.org");
	CHECK_STR(mbox("\"john doe\".x@y.org", &err), "\"john doe.x\"@y.org");
	CHECK_STR(mbox("a.\"b.c\"@x.org", &err), "a.b.c@x.org");
	CHECK_STR(mbox("\"\".a@x.org", &err), "\".a\"@x.org");
	CHECK(mbox("a..b@x.org", &err) == NULL);
	CHECK(mbox(".a@x.org", &err) == NULL);
	CHECK(mbox("a.@x.org", &err) == NULL);
	CHECK(mbox("a. .b@x.org", &err) == NULL);
	CHECK(mbox("\"a\"b@x.org", &err) == NULL);
	CHECK(mbox("a \"b\"@x.org", &err) == NULL);
}

static void
test_mailbox_groups(void)
{
	struct mailbox mb[4];
	const char *err;
	int n;

	CHECK_INT(PL("team: a@b.c, D <d@e.f>;", mb, 4, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_STR(mb[0].addr, "a@b.c");
	CHECK_STR(mb[1].addr, "d@e.f");
	CHECK_STR(mb[1].display, "D");
	CHECK_INT(LC("undisclosed-recipients:;"), 0);
	CHECK_INT(LC("undisclosed recipients: ;"), 0);
	CHECK_INT(LC("g:;, h:;"), 0);
	CHECK_INT(LC("g: a@b.c;, h@i.j"), 2);
	CHECK_INT(LC("h@i.j, g: a@b.c, , k@l.m ; , n@o.p"), 4);
	CHECK_INT(LC("g: ,a@b.c,;"), 1);
	CHECK_INT(LC("\"my group\": a@b.c;"), 1);
	CHECK_INT(LC("g: a@b.c; (c)"), 1);
	CHECK_INT(LC("a: b: c@d.e;;"), -1);
	CHECK_INT(LC("g: a@b.c"), -1);
	CHECK_INT(LC("g: a@b.c,"), -1);
	CHECK_INT(LC(": a@b.c;"), -1);
	CHECK_INT(LC("a@b.c;"), -1);
	CHECK_INT(LC("g: a@b.c; d@e.f"), -1);
	CHECK_INT(LC("g: a@b.c d@e.f;"), -1);
	CHECK_INT(LC("g: <a@b.c>(x)<d@e.f>;"), -1);
	CHECK_INT(LC(". g: a@b.c;"), -1);
	CHECK_INT(LC("g.h: a@b.c;"), 1);
}

static void
test_mailbox_list_elements(void)
{
	struct mailbox mb[2];
	const char *err;
	int n;

	CHECK_INT(LC("a@b.c,"), 1);
	CHECK_INT(LC(", a@b.c"), 1);
	CHECK_INT(LC("a@b.c,,d@e.f"), 2);
	CHECK_INT(LC("a@b.c, (x) ,d@e.f"), 2);
	/* max */
	CHECK_INT(PL("a@b.c, d@e.f", mb, 2, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_INT(PL("a@b.c, d@e.f, g@h.i", mb, 2, &n, &err), -1);
	CHECK_STR(err, "too many mailboxes");
	CHECK_INT(n, 0);
	CHECK_INT(PL("g: a@b.c, d@e.f, g@h.i;", mb, 2, &n, &err), -1);
	CHECK_INT(PL("a@b.c", mb, 0, &n, &err), -1);
	CHECK_INT(PL("a@b.c, d@e.f, g@h.i", NULL, 0, &n, &err), 0);
	CHECK_INT(n, 3);
}

static void
test_mailbox_comments(void)
{
	char in[256];
	const char *err;
	int i;

	/* 16 deep is fine, 17 is not */
	in[0] = '\0';
	for (i = 0; i < 16; i++)
		strlcat(in, "(", sizeof(in));
	for (i = 0; i < 16; i++)
		strlcat(in, ")", sizeof(in));
	strlcat(in, "a@b.c", sizeof(in));
	CHECK_STR(mbox(in, &err), "a@b.c");
	in[0] = '\0';
	for (i = 0; i < 17; i++)
		strlcat(in, "(", sizeof(in));
	for (i = 0; i < 17; i++)
		strlcat(in, ")", sizeof(in));
	strlcat(in, "a@b.c", sizeof(in));
	CHECK(mbox(in, &err) == NULL);
	CHECK_STR(err, "comments nested too deeply");
	/* depth goes back down: many shallow comments are fine */
	in[0] = '\0';
	for (i = 0; i < 40; i++)
		strlcat(in, "(x)", sizeof(in));
	strlcat(in, "a@b.c", sizeof(in));
	CHECK_STR(mbox(in, &err), "a@b.c");
	CHECK_STR(mbox("(\\() a@b.c (\\))", &err), "a@b.c");
	/* a quote inside a comment quotes nothing */
	CHECK(mbox("(\")\") a@b.c", &err) == NULL);
	CHECK(mbox("(\"(\") a@b.c", &err) == NULL);
	CHECK_STR(mbox("(J\xc3\xbcrgen) a@b.c", &err), "a@b.c");
	CHECK_STR(mbox("a(x)@(y)b.c(z)", &err), "a@b.c");
	CHECK(mbox("(a@b.c", &err) == NULL);
	CHECK(mbox("((a) a@b.c", &err) == NULL);
	CHECK(mbox("(\\", &err) == NULL);
}

static void
test_mailbox_folding(void)
{
	struct mailbox mb[4];
	const char *err;
	int n;

	CHECK_INT(PL(" John\r\n Doe\r\n\t<jd@x.org>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].addr, "jd@x.org");
	CHECK_STR(mb[0].display, "John Doe");
	CHECK_INT(LC("a@b.c,\r\n\td@e.f"), 2);
	CHECK_INT(LC("a@b.c\r\n ,\r\n d@e.f"), 2);
	CHECK_INT(LC("a@b.c (x\r\n y)"), 1);
	CHECK_INT(LC("a@b.c\r\n \r\n "), 1);
	CHECK_STR(mbox("\"a\r\n b\"@x.org", &err), "\"a b\"@x.org");
	CHECK_INT(PL("\"J\r\n  D\" <a@b.c>", mb, 4, &n, &err), 0);
	CHECK_STR(mb[0].display, "J  D");
	/* anything else with CR or LF is not folding */
	CHECK_INT(LC("a@b.c\r\nd@e.f"), -1);
	CHECK_INT(LC("a@b.c\r\n"), -1);
	CHECK_INT(LC("a@b.c\n d@e.f"), -1);
	CHECK_INT(LC("a@b.c\r d@e.f"), -1);
	CHECK_INT(LC("a@b.c,\n"), -1);
	CHECK_INT(LC("\"a\nb\" <a@b.c>"), -1);
	CHECK_INT(LC("(a\rb) a@b.c"), -1);
	CHECK_INT(LC("\"a\\\r\n b\" <a@b.c>"), -1);
	CHECK_INT(LC("a@b.c\r"), -1);
	CHECK_INT(LC("a@b.c\r\n"), -1);
	CHECK(mbox("a@b.c\r\n", &err) == NULL);
	CHECK_STR(err, "bare CR or LF");
}

static void
test_mailbox_display_cut(void)
{
	char in[1024];
	struct mailbox mb[1];
	const char *err;
	int i, n;

	in[0] = '\0';
	for (i = 0; i < 300; i++)
		strlcat(in, "x", sizeof(in));
	strlcat(in, " <a@b.c>", sizeof(in));
	CHECK_INT(addr_parse_mailbox_list(in, strlen(in), mb, 1, &n, &err), 0);
	CHECK_INT(strlen(mb[0].display), ADDR_DISPLAY_MAX - 1);
	/* cut on a character boundary: 127 x 2 octets */
	in[0] = '\0';
	for (i = 0; i < 200; i++)
		strlcat(in, "\xc3\xa9", sizeof(in));
	strlcat(in, " <a@b.c>", sizeof(in));
	CHECK_INT(addr_parse_mailbox_list(in, strlen(in), mb, 1, &n, &err), 0);
	CHECK_INT(strlen(mb[0].display), 254);
	/* and nothing after the cut sneaks in */
	in[0] = '\0';
	for (i = 0; i < 127; i++)
		strlcat(in, "\xc3\xa9", sizeof(in));
	strlcat(in,
		"\xe2\x82\xac"
		"x <a@b.c>",
		sizeof(in));
	CHECK_INT(addr_parse_mailbox_list(in, strlen(in), mb, 1, &n, &err), 0);
	CHECK_INT(strlen(mb[0].display), 254);
}

static void
test_mailbox_limits(void)
{
	char in[1024], local[128], dom[300];
	const char *err;

	snprintf(in, sizeof(in), "X <%s@x.org>", rep(local, 'l', 64));
	CHECK(mbox(in, &err) != NULL);
	snprintf(in, sizeof(in), "X <%s@x.org>", rep(local, 'l', 65));
	CHECK(mbox(in, &err) == NULL);
	CHECK_STR(err, "local part too long");
	snprintf(in, sizeof(in), "\" %s\"@x.org", rep(local, 'l', 61));
	CHECK(mbox(in, &err) != NULL);
	snprintf(in, sizeof(in), "\" %s\"@x.org", rep(local, 'l', 62));
	CHECK(mbox(in, &err) == NULL);
	CHECK_STR(err, "local part too long");
	snprintf(in, sizeof(in), "a@%s", mkdomain(dom, 255));
	CHECK(mbox(in, &err) != NULL);
	snprintf(in, sizeof(in), "a@%s", mkdomain(dom, 256));
	CHECK(mbox(in, &err) == NULL);
	CHECK_STR(err, "domain too long");
	snprintf(in, sizeof(in), "a@%s.org", rep(dom, 'd', 63));
	CHECK(mbox(in, &err) != NULL);
	snprintf(in, sizeof(in), "a@%s.org", rep(dom, 'd', 64));
	CHECK(mbox(in, &err) == NULL);
	snprintf(in, sizeof(in), "%s@%s", rep(local, 'l', 64),
		 mkdomain(dom, 254));
	CHECK(mbox(in, &err) != NULL);
	snprintf(in, sizeof(in), "%s@%s", rep(local, 'l', 64),
		 mkdomain(dom, 255));
	CHECK(mbox(in, &err) == NULL);
	CHECK_STR(err, "address too long");
}

/* The envelope and the header forms of one mailbox come out alike. */
static void
test_path_header_agree(void)
{
	static const struct {
		const char *p, *h;
	} pairs[] = {
	    {"<a@b.c>", "A <a@b.c>"},
	    {"<\"a.b\"@x.org>", "a.b@x.org"},
	    {"<a.b@x.org>", "\"a\".\"b\"@x.org"},
	    {"<\"a b\"@x.org>", "\"a\\ b\"@x.org"},
	    {"<\"a\\\"b\"@x.org>", "\"a\\\"b\" @x.org"},
	    {"<\"a\\\\b\"@x.org>", "<\"a\\\\b\"@x.org>"},
	    {"<\"a\\@b\"@x.org>", "\"a@b\"@x.org"},
	    {"<\"\\a\"@x.org>", "a@x.org"},
	    {"<j\xc3\xbc@x.org>", "\"j\xc3\xbc\"@x.org"},
	    {"<@r.org:a@[192.0.2.1]>", "a@[192.0.2.1]"},
	};
	struct mailbox mb[1];
	char out[ADDR_MAX];
	const char *err;
	size_t i;
	int n;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		CHECK_INT(addr_parse_path(pairs[i].p, strlen(pairs[i].p), out,
					  sizeof(out), NULL, NULL, &err),
			  0);
		CHECK_INT(addr_parse_mailbox_list(
			      pairs[i].h, strlen(pairs[i].h), mb, 1, &n, &err),
			  0);
		CHECK_STR(out, mb[0].addr);
		CHECK_INT(addr_equal(out, mb[0].addr, 0), 1);
	}
}

static void
test_mailbox_single(void)
{
	struct mailbox mb;
	const char *err;

	CHECK_INT(PM("Scans <scans@example.com>", &mb, &err), 0);
	CHECK_STR(mb.addr, "scans@example.com");
	CHECK_STR(mb.display, "Scans");
	CHECK_INT(PM("a@b.c, d@e.f", &mb, &err), -2);
	CHECK_STR(err, "must hold exactly one mailbox");
	CHECK_INT(PM("g: a@b.c;", &mb, &err), -2);
	CHECK_INT(PM("g:;", &mb, &err), -2);
	CHECK_INT(PM("a@b.c, g:;", &mb, &err), -2);
	CHECK_INT(PM("a@b.c,", &mb, &err), 0);
	CHECK_INT(PM("a@b.c <d@e.f>", &mb, &err), -1);
	CHECK_STR(err, "malformed address");
	CHECK_INT(PM("", &mb, &err), -1);
	CHECK_STR(err, "empty address list");
}

int
main(void)
{
	RUN(test_path_good);
	RUN(test_path_bad);
	RUN(test_path_endp);
	RUN(test_path_nul);
	RUN(test_path_limits);
	RUN(test_bare);
	RUN(test_split);
	RUN(test_equal);
	RUN(test_domain_valid);
	RUN(test_mailbox_basic);
	RUN(test_mailbox_adversarial);
	RUN(test_mailbox_malformed);
	RUN(test_mailbox_obs_local);
	RUN(test_mailbox_groups);
	RUN(test_mailbox_list_elements);
	RUN(test_mailbox_comments);
	RUN(test_mailbox_folding);
	RUN(test_mailbox_display_cut);
	RUN(test_mailbox_limits);
	RUN(test_path_header_agree);
	RUN(test_mailbox_single);
	return unit_done();
}
