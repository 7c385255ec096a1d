/*
 * test_mailhdr: header field iteration and the sender rule.
 */
#include <string.h>

#include "addr.h"
#include "mailhdr.h"
#include "unit.h"

#define LEN(s) (sizeof(s) - 1)

/* Compare a counted span with a string. */
#define CHECK_SPAN(p, n, s)                                                    \
	do {                                                                   \
		CHECK_INT((n), strlen(s));                                     \
		CHECK((n) == strlen(s) && memcmp((p), (s), (n)) == 0);         \
	} while (0)

/* Number of fields, or -1 if malformed anywhere. */
static int
nfields(const char *h, size_t len)
{
	struct mailhdr_field f;
	size_t off = 0;
	int r, n = 0;

	while ((r = mailhdr_next(h, len, &off, &f)) == 1)
		n++;
	return r == -1 ? -1 : n;
}

#define NF(s) nfields(s, LEN(s))

static void
test_next_basic(void)
{
	static const char h[] = "From: a@b.c\r\n"
				"To:d@e.f\r\n"
				"X-Empty:\r\n"
				"Subject: hi there \r\n";
	struct mailhdr_field f;
	size_t off = 0;

	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.name, f.namelen, "From");
	CHECK_SPAN(f.value, f.valuelen, " a@b.c");
	CHECK_SPAN(f.raw, f.rawlen, "From: a@b.c\r\n");
	CHECK(f.raw == h);
	CHECK_INT(off, 13);
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.name, f.namelen, "To");
	CHECK_SPAN(f.value, f.valuelen, "d@e.f");
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.name, f.namelen, "X-Empty");
	CHECK_INT(f.valuelen, 0);
	CHECK_SPAN(f.raw, f.rawlen, "X-Empty:\r\n");
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.value, f.valuelen, " hi there ");
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 0);
	CHECK_INT(off, LEN(h));
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 0);

	/* empty block, offset past the end */
	off = 0;
	CHECK_INT(mailhdr_next("", 0, &off, &f), 0);
	off = LEN(h) + 1;
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), -1);
	CHECK_INT(off, LEN(h) + 1);
}

static void
test_next_folded(void)
{
	static const char h[] = "Subject: a\r\n"
				" b\r\n"
				"\tc\r\n"
				"X: y\r\n"
				"Z: \r\n"
				" \r\n"
				"  \r\n"
				"Last: 1\r\n"
				" 2\r\n";
	struct mailhdr_field f;
	size_t off = 0;

	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.name, f.namelen, "Subject");
	CHECK_SPAN(f.value, f.valuelen, " a\r\n b\r\n\tc");
	CHECK_SPAN(f.raw, f.rawlen, "Subject: a\r\n b\r\n\tc\r\n");
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.raw, f.rawlen, "X: y\r\n");
	/* continuation lines of white space only (obs-FWS) */
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.value, f.valuelen, " \r\n \r\n  ");
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 1);
	CHECK_SPAN(f.value, f.valuelen, " 1\r\n 2");
	CHECK(f.raw + f.rawlen == h + LEN(h));
	CHECK_INT(mailhdr_next(h, LEN(h), &off, &f), 0);
}

static void
test_next_malformed(void)
{
	struct mailhdr_field f;
	size_t off;

	CHECK_INT(NF("From a@b.c\r\n"), -1);
	CHECK_INT(NF("From : a@b.c\r\n"), -1);
	CHECK_INT(NF("From\t: a@b.c\r\n"), -1);
	CHECK_INT(NF(": a@b.c\r\n"), -1);
	CHECK_INT(NF(" From: a@b.c\r\n"), -1);
	CHECK_INT(NF("\tcont\r\n"), -1);
	CHECK_INT(NF("\r\n"), -1);
	CHECK_INT(NF("X: a\r\n\r\n"), -1);
	CHECK_INT(NF("X: a\r\n\r\nbody\r\n"), -1);
	CHECK_INT(NF("X: a\nFrom: evil@bad.com\r\n"), -1);
	CHECK_INT(NF("X: a\rFrom: evil@bad.com\r\n"), -1);
	CHECK_INT(NF("X: a\n"), -1);
	CHECK_INT(NF("X: a\r"), -1);
	CHECK_INT(NF("X: a"), -1);
	CHECK_INT(NF("X:"), -1);
	CHECK_INT(NF("X"), -1);
	CHECK_INT(NF("X: a\r\n\n"), -1);
	CHECK_INT(NF("X: a\r\n \n"), -1);
	CHECK_INT(NF("X: a\0b\r\n"), -1);
	CHECK_INT(NF("X\0: a\r\n"), -1);
	CHECK_INT(NF("X\x7f: a\r\n"), -1);
	CHECK_INT(NF("X\xc3\xa9: a\r\n"), -1);
	CHECK_INT(NF("X\x01: a\r\n"), -1);
	CHECK_INT(NF("X: a\r\r\n"), -1);
	CHECK_INT(NF("X: a\r\n\r"), -1);
	/* 8-bit and odd but printable names are fine */
	CHECK_INT(NF("X: \xc3\xa9t\xc3\xa9\r\n"), 1);
	CHECK_INT(NF("!#$%&'*+-.^_`|~\"(),/;<=>?@[\\]{}: v\r\n"), 1);
	/* a malformed line leaves the offset where it was */
	off = 0;
	CHECK_INT(mailhdr_next("X: a\r\nY b\r\n", 11, &off, &f), 1);
	CHECK_INT(off, 6);
	CHECK_INT(mailhdr_next("X: a\r\nY b\r\n", 11, &off, &f), -1);
	CHECK_INT(off, 6);
}

static void
test_count_get(void)
{
	static const char h[] = "Received: x\r\n"
				"From: a@b.c\r\n"
				"from: d@e.f\r\n"
				"FROM:\r\n"
				" g@h.i\r\n"
				"From-X: no\r\n"
				"Fro: no\r\n"
				"Subject: From: no\r\n"
				"X: y\r\n"
				" From: no\r\n";
	static const char bad[] = "From: a@b.c\r\nX y\r\n";
	struct mailhdr_field f;

	CHECK_INT(mailhdr_count(h, LEN(h), "From"), 3);
	CHECK_INT(mailhdr_count(h, LEN(h), "fROM"), 3);
	CHECK_INT(mailhdr_count(h, LEN(h), "Received"), 1);
	CHECK_INT(mailhdr_count(h, LEN(h), "Sender"), 0);
	CHECK_INT(mailhdr_count(h, LEN(h), ""), 0);
	CHECK_INT(mailhdr_count(bad, LEN(bad), "From"), -1);
	CHECK_INT(mailhdr_count("", 0, "From"), 0);

	CHECK_INT(mailhdr_get(h, LEN(h), "from", &f), 1);
	CHECK_SPAN(f.value, f.valuelen, " a@b.c");
	CHECK_INT(mailhdr_get(h, LEN(h), "x", &f), 1);
	CHECK_SPAN(f.value, f.valuelen, " y\r\n From: no");
	CHECK_INT(mailhdr_get(h, LEN(h), "Sender", &f), 0);
	/* malformed after the field found is still malformed */
	CHECK_INT(mailhdr_get(bad, LEN(bad), "From", &f), -1);

	f.name = "From";
	f.namelen = 4;
	CHECK_INT(mailhdr_name_is(&f, "from"), 1);
	CHECK_INT(mailhdr_name_is(&f, "Fro"), 0);
	CHECK_INT(mailhdr_name_is(&f, "From:"), 0);
	CHECK_INT(mailhdr_name_is(&f, "Fromx"), 0);
}

/* The sender rule on a literal header block. */
static int
single(const char *h, size_t len, const char *name, char *addr, size_t sz,
       const char **err)
{
	*err = NULL;
	return mailhdr_single_mailbox(h, len, name, addr, sz, err);
}

#define SINGLE(h, name, addr, err)                                             \
	single(h, LEN(h), name, addr, sizeof(addr), err)

static void
test_single_mailbox(void)
{
	char addr[ADDR_MAX], small[6];
	const char *err;

	CHECK_INT(SINGLE("Subject: x\r\nFrom: Scans <scans@Example.com>\r\n",
			 "From", addr, &err),
		  0);
	CHECK_STR(addr, "scans@Example.com");
	CHECK_INT(SINGLE("from:\r\n scans@example.com\r\n", "From", addr, &err),
		  0);
	CHECK_STR(addr, "scans@example.com");
	CHECK_INT(SINGLE("From: \"a@good.com\" <evil@bad.com>\r\n", "From",
			 addr, &err),
		  0);
	CHECK_STR(addr, "evil@bad.com");

	CHECK_INT(SINGLE("Subject: x\r\n", "From", addr, &err), 1);
	CHECK_STR(err, "no From: header");
	CHECK_STR(addr, "");
	CHECK_INT(SINGLE("Subject: x\r\n", "Sender", addr, &err), 1);
	CHECK_STR(err, "no Sender: header");
	CHECK_INT(SINGLE("", "From", addr, &err), 1);

	CHECK_INT(SINGLE("From: a@b.c\r\nFrom: a@b.c\r\n", "From", addr, &err),
		  -1);
	CHECK_STR(err, "more than one From: header");
	CHECK_STR(addr, "");
	CHECK_INT(SINGLE("From: a@b.c, d@e.f\r\n", "From", addr, &err), -1);
	CHECK_STR(err, "From: must hold exactly one mailbox");
	CHECK_INT(SINGLE("From: g: a@b.c;\r\n", "From", addr, &err), -1);
	CHECK_STR(err, "From: must hold exactly one mailbox");
	CHECK_INT(SINGLE("From: undisclosed:;\r\n", "From", addr, &err), -1);
	CHECK_STR(err, "From: must hold exactly one mailbox");
	CHECK_INT(SINGLE("Sender: a@b.c, d@e.f\r\n", "sender", addr, &err), -1);
	CHECK_STR(err, "Sender: must hold exactly one mailbox");
	CHECK_INT(SINGLE("Resent-From: a@b.c\r\nResent-From: d@e.f\r\n",
			 "Resent-From", addr, &err),
		  -1);
	CHECK_STR(err, "more than one Resent-From: header");
	CHECK_INT(SINGLE("Reply-To: a@b.c, d@e.f\r\n", "Reply-To", addr, &err),
		  -1);
	CHECK_STR(err, "header field must hold exactly one mailbox");
	CHECK_INT(SINGLE("X: y\r\n", "Reply-To", addr, &err), 1);
	CHECK_STR(err, "no such header field");

	CHECK_INT(SINGLE("From:\r\n", "From", addr, &err), -1);
	CHECK_STR(err, "empty address list");
	CHECK_INT(
	    SINGLE("From: evil@bad.com <a@good.com>\r\n", "From", addr, &err),
	    -1);
	CHECK_STR(err, "malformed address");
	CHECK_INT(SINGLE("From: <a@good.com>(x)<evil@bad.com>\r\n", "From",
			 addr, &err),
		  -1);
	CHECK_INT(SINGLE("From: a@b.c\r\n From: x\r\n", "From", addr, &err),
		  -1);
	CHECK_INT(SINGLE("From: a@b.c\r\n", "From", small, &err), 0);
	CHECK_STR(small, "a@b.c");
	CHECK_INT(SINGLE("From: ab@b.c\r\n", "From", small, &err), -1);
	CHECK_STR(err, "address too long");
	CHECK_STR(small, "");
	CHECK_INT(single("From: a@b.c\r\n", 13, "From", addr, 0, &err), -1);
	CHECK_INT(mailhdr_single_mailbox("From: a@b.c\r\n", 13, "From", addr,
					 sizeof(addr), NULL),
		  0);
}

/* Headers built to hide a second From: from us but not from a receiver. */
static void
test_single_smuggling(void)
{
	char addr[ADDR_MAX];
	const char *err;

	CHECK_INT(SINGLE("Subject: x\nFrom: evil@bad.com\r\n"
			 "From: a@good.com\r\n",
			 "From", addr, &err),
		  -1);
	CHECK_STR(err, "malformed header");
	CHECK_INT(SINGLE("From: a@good.com\r\nX: y\rFrom: evil@bad.com\r\n",
			 "From", addr, &err),
		  -1);
	CHECK_STR(err, "malformed header");
	CHECK_INT(SINGLE("From: a@good.com\r\nFrom : evil@bad.com\r\n", "From",
			 addr, &err),
		  -1);
	CHECK_STR(err, "malformed header");
	CHECK_INT(SINGLE("From: a@good.com\r\n\r\nFrom: evil@bad.com\r\n",
			 "From", addr, &err),
		  -1);
	CHECK_STR(err, "malformed header");
	CHECK_INT(SINGLE("From: a@good.com\0\r\n", "From", addr, &err), -1);
	CHECK_STR(err, "malformed header");
	CHECK_INT(SINGLE("From: a@good.com\r\n\tevil@bad.com\r\n", "From", addr,
			 &err),
		  -1);
	CHECK_STR(err, "malformed address");
	CHECK_INT(SINGLE("From: a@good.com,\r\n\tevil@bad.com\r\n", "From",
			 addr, &err),
		  -1);
	CHECK_STR(err, "From: must hold exactly one mailbox");
	CHECK_INT(SINGLE("From: a@good.com (\r\nFrom: evil@bad.com)\r\n",
			 "From", addr, &err),
		  -1);
	CHECK_INT(SINGLE("FROM: evil@bad.com\r\nFrom: a@good.com\r\n", "From",
			 addr, &err),
		  -1);
	CHECK_STR(err, "more than one From: header");
}

int
main(void)
{
	RUN(test_next_basic);
	RUN(test_next_folded);
	RUN(test_next_malformed);
	RUN(test_count_get);
	RUN(test_single_mailbox);
	RUN(test_single_smuggling);
	return unit_done();
}
