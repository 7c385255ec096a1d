/*
 * test_smtp_data: the DATA/BDAT state machine (lib/smtp_data.c).
 *
 * Every input is run whole, split in two at every position, and one octet
 * at a time, and every run must give the same result; the smuggling
 * variants must never end the data.
 */
#include <stdint.h>
#include <string.h>

#include "smtp_data.h"
#include "unit.h"

#define BIG	(1024 * 1024)

struct result {
	int		 rc;		/* last return: END or MORE */
	size_t		 consumed;
	struct dbuf	 hdr;
	struct dbuf	 body;
	int		 code;
	const char	*enh;
	uint64_t	 size;
	int		 eightbit;
	int		 hdr_done;
};

static struct smtp_data_limits deflim = { 0, 998, 0, 65536 };

static void
res_free(struct result *r)
{
	dbuf_free(&r->hdr);
	dbuf_free(&r->body);
}

/* Feed one piece; drain out into r->body, also on FULL. */
static int
feed(struct smtp_data *d, const unsigned char *p, size_t n, struct dbuf *out,
    struct result *r)
{
	size_t	used, off = 0;
	int	rc;

	for (;;) {
		rc = smtp_data_feed(d, p + off, n - off, &used, out);
		off += used;
		r->consumed += used;
		if (dbuf_append(&r->body, out->data, out->len) == -1)
			abort();
		dbuf_reset(out);
		if (rc != SMTP_DATA_FULL)
			return rc;
	}
}

/*
 * Run in as pieces: cuts[] are the piece boundaries (ncuts of them).
 * BDAT mode calls smtp_data_bdat_last() at the end.
 */
static void
run_cuts(const void *in, size_t len, int mode,
    const struct smtp_data_limits *lim, const size_t *cuts, size_t ncuts,
    size_t outmax, struct result *r)
{
	const unsigned char	*p = in;
	struct smtp_data	 d;
	struct dbuf		 out;
	size_t			 i, from = 0, to;
	int			 rc = SMTP_DATA_MORE;

	memset(r, 0, sizeof(*r));
	dbuf_init(&r->hdr, BIG);
	dbuf_init(&r->body, BIG);
	dbuf_init(&out, outmax);
	smtp_data_init(&d, mode, lim);
	for (i = 0; i <= ncuts && rc != SMTP_DATA_END; i++) {
		to = i < ncuts ? cuts[i] : len;
		rc = feed(&d, p + from, to - from, &out, r);
		from = to;
	}
	if (mode == DATA_BDAT) {
		while ((rc = smtp_data_bdat_last(&d, &out)) == SMTP_DATA_FULL) {
			(void)dbuf_append(&r->body, out.data, out.len);
			dbuf_reset(&out);
		}
		(void)dbuf_append(&r->body, out.data, out.len);
	}
	r->rc = rc;
	(void)dbuf_append(&r->hdr, d.hdr.data, d.hdr.len);
	r->code = d.err.code;
	r->enh = d.err.enhanced;
	r->size = d.size;
	r->eightbit = d.eightbit;
	r->hdr_done = d.hdr_done;
	smtp_data_free(&d);
	dbuf_free(&out);
}

static void
run(const void *in, size_t len, int mode, const struct smtp_data_limits *lim,
    struct result *r)
{
	run_cuts(in, len, mode, lim, NULL, 0, BIG, r);
}

static int
res_same(const struct result *a, const struct result *b)
{
	return a->rc == b->rc && a->consumed == b->consumed &&
	    a->hdr.len == b->hdr.len && a->body.len == b->body.len &&
	    (a->hdr.len == 0 || memcmp(a->hdr.data, b->hdr.data,
	    a->hdr.len) == 0) &&
	    (a->body.len == 0 || memcmp(a->body.data, b->body.data,
	    a->body.len) == 0) &&
	    a->code == b->code && a->size == b->size &&
	    a->eightbit == b->eightbit && a->hdr_done == b->hdr_done;
}

static int
buf_is(const struct dbuf *b, const char *s)
{
	size_t	n = strlen(s);

	return b->len == n && (n == 0 || memcmp(b->data, s, n) == 0);
}

/*
 * Where DATA must end: just after the first "\r\n.\r\n", or after ".\r\n"
 * at the very start; 0 when it must not end.  An independent statement
 * of the one end-of-data rule.
 */
static size_t
ref_end(const unsigned char *p, size_t len)
{
	size_t	i;

	if (len >= 3 && memcmp(p, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* Whole, every two-piece split, octet by octet, small out: all equal. */
static int
split_invariant(const void *in, size_t len, int mode,
    const struct smtp_data_limits *lim)
{
	struct result	 whole, part;
	size_t		 cuts[1], *every, k;
	int		 ok = 1;

	run(in, len, mode, lim, &whole);
	for (k = 0; k <= len && ok; k++) {
		cuts[0] = k;
		run_cuts(in, len, mode, lim, cuts, 1, BIG, &part);
		ok = res_same(&whole, &part);
		res_free(&part);
	}
	if ((every = calloc(len + 1, sizeof(*every))) == NULL)
		abort();
	for (k = 0; k < len; k++)
		every[k] = k + 1;
	if (ok) {
		run_cuts(in, len, mode, lim, every, len, BIG, &part);
		ok = res_same(&whole, &part);
		res_free(&part);
	}
	if (ok) {
		run_cuts(in, len, mode, lim, every, len, SMTP_DATA_OUT_MIN,
		    &part);
		ok = res_same(&whole, &part);
		res_free(&part);
	}
	if (ok && mode == DATA_DOTTED) {
		k = ref_end(in, len);
		ok = k == 0 ? whole.rc != SMTP_DATA_END :
		    whole.rc == SMTP_DATA_END && whole.consumed == k;
	}
	free(every);
	res_free(&whole);
	return ok;
}

#define S(x)	x, sizeof(x) - 1

static void
test_simple(void)
{
	struct result	r;
	const char	in[] = "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n"
	    "second line\r\n.\r\n";

	run(S(in), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, sizeof(in) - 1);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.hdr, "Subject: hi\r\nFrom: a@b\r\n"));
	CHECK(buf_is(&r.body, "body\r\nsecond line\r\n"));
	CHECK(r.hdr_done);
	CHECK_INT(r.size, 24 + 2 + 19);
	CHECK_INT(r.eightbit, 0);
	res_free(&r);
}

static void
test_pipelined_rest(void)
{
	struct result	r;
	const char	in[] = "a: b\r\n\r\nx\r\n.\r\nQUIT\r\n";

	run(S(in), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, sizeof(in) - 1 - 6);
	CHECK(buf_is(&r.body, "x\r\n"));
	res_free(&r);
}

static void
test_empty_messages(void)
{
	struct result	r;

	run(S(".\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, 3);
	CHECK_INT(r.hdr.len, 0);
	CHECK_INT(r.body.len, 0);
	CHECK_INT(r.size, 0);
	CHECK(r.hdr_done);
	res_free(&r);

	run(S("\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, 5);
	CHECK_INT(r.hdr.len, 0);
	CHECK_INT(r.body.len, 0);
	CHECK_INT(r.size, 2);
	res_free(&r);

	/* ".\n" at the start is a line "." (bare LF), not the end */
	run(S(".\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_MORE);
	res_free(&r);
	run(S(".\n\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK(buf_is(&r.body, ".\r\n\r\n"));
	res_free(&r);
}

static void
test_unstuffing(void)
{
	struct result	r;
	const char	in[] = "a: b\r\n\r\n..x\r\n.y\r\n..\r\n...\r\n"
	    "x.\r\n.\r\n";

	run(S(in), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.body, ".x\r\ny\r\n.\r\n..\r\nx.\r\n"));
	res_free(&r);

	/* a stuffed first line of the header section */
	run(S("..x: y\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK(buf_is(&r.hdr, ".x: y\r\n"));
	res_free(&r);

	/* after a bare LF, dots are kept as sent */
	run(S("a: b\r\n\r\nx\n..y\n.z\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK(buf_is(&r.body, "x\r\n..y\r\n.z\r\n"));
	res_free(&r);
}

static const char *smuggle[] = {
	"\n.\n", "\n.\r\n", "\r.\n", "\r\n.\rX", "\r\n.\n", "\r.\r\n",
	"\r\n.\r\r\n", "\n.\n\r\n", "\r\r.\r\n",
};

static void
test_smuggling(void)
{
	char		 in[512];
	const char	*fake = "MAIL FROM:<ceo@bank.example>\r\n"
	    "RCPT TO:<victim@example.org>\r\nDATA\r\nFrom: ceo\r\n\r\n"
	    "pay now\r\n";
	const char	*tail = "\r\n.\r\n";
	struct smtp_data_limits rej = deflim;
	struct result	 r;
	size_t		 i, n;
	int		 barecr;

	rej.bare_lf_reject = 1;
	for (i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
		n = (size_t)snprintf(in, sizeof(in), "Subject: x\r\n\r\nhello%s"
		    "%s%s", smuggle[i], fake, tail);
		barecr = strstr(smuggle[i], "\r.") != NULL ||
		    strstr(smuggle[i], ".\rX") != NULL ||
		    strstr(smuggle[i], "\r\r") != NULL;

		/* accept policy: only the real end ends, all lines data */
		run(in, n, DATA_DOTTED, &deflim, &r);
		CHECK_INT(r.rc, SMTP_DATA_END);
		CHECK_INT(r.consumed, n);
		if (barecr) {
			CHECK_INT(r.code, 550);
			CHECK_STR(r.enh, "5.6.0");
		} else {
			CHECK_INT(r.code, 0);
			/* the fake dot is a line of the body, and so is
			 * the fake transaction */
			CHECK(r.body.len > 0 && memmem(r.body.data,
			    r.body.len, "\r\n.\r\n", 5) != NULL);
			CHECK(memmem(r.body.data, r.body.len,
			    "\r\nMAIL FROM:<ceo@bank.example>\r\n", 32) !=
			    NULL);
		}
		res_free(&r);

		/* reject policy: refused, and still only the real end */
		run(in, n, DATA_DOTTED, &rej, &r);
		CHECK_INT(r.rc, SMTP_DATA_END);
		CHECK_INT(r.consumed, n);
		CHECK_INT(r.code, 550);
		res_free(&r);

		CHECK(split_invariant(in, n, DATA_DOTTED, &deflim));
		CHECK(split_invariant(in, n, DATA_DOTTED, &rej));
	}

	/* the real one, with the fake transaction left unconsumed */
	n = (size_t)snprintf(in, sizeof(in), "Subject: x\r\n\r\nhello\r\n.\r\n"
	    "%s", fake);
	run(in, n, DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, strlen("Subject: x\r\n\r\nhello\r\n.\r\n"));
	CHECK(buf_is(&r.body, "hello\r\n"));
	res_free(&r);
}

static void
test_bare_lf_accept(void)
{
	struct result	r;

	run(S("a: b\nc: d\n\nline\nline2\r\n.\r\n"), DATA_DOTTED, &deflim,
	    &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.hdr, "a: b\r\nc: d\r\n"));
	CHECK(buf_is(&r.body, "line\r\nline2\r\n"));
	res_free(&r);
}

static void
test_bad_octets(void)
{
	struct result	r;

	run(S("a: b\r\n\r\nx\0y\r\nmore\r\n.\r\nQUIT\r\n"), DATA_DOTTED,
	    &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 550);
	CHECK_STR(r.enh, "5.6.0");
	CHECK_INT(r.consumed, 22);
	res_free(&r);

	run(S("a: b\r\n\r\nx\ry\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 550);
	res_free(&r);

	/* first error sticks */
	run(S("a: b\r\n\r\nx\ry\0\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_STR(r.enh, "5.6.0");
	res_free(&r);
}

static void
test_line_length(void)
{
	char		in[2100];
	struct result	r;
	size_t		n;

	/* exactly 998 */
	memcpy(in, "a: b\r\n\r\n", 8);
	memset(in + 8, 'x', 998);
	memcpy(in + 8 + 998, "\r\n.\r\n", 5);
	n = 8 + 998 + 5;
	run(in, n, DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.body.len, 1000);
	res_free(&r);

	/* 999 */
	memset(in + 8, 'x', 999);
	memcpy(in + 8 + 999, "\r\n.\r\n", 5);
	n = 8 + 999 + 5;
	run(in, n, DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 500);
	CHECK_STR(r.enh, "5.5.2");
	res_free(&r);

	/* 998 after a stuffing dot: 999 on the wire is fine */
	in[8] = '.';
	run(in, n, DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.body.len, 1000);
	res_free(&r);

	/* very long, ended by bare LF: still too long, still ends later */
	memset(in + 8, 'y', 2000);
	memcpy(in + 8 + 2000, "\n.\r\n", 4);
	n = 8 + 2000 + 4;
	run(in, n, DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_MORE);
	CHECK_INT(r.code, 500);
	res_free(&r);

	/* a smaller configured limit */
	{
		struct smtp_data_limits l = deflim;

		l.max_line = 4;
		run(S("a: b\r\n\r\n1234\r\n.\r\n"), DATA_DOTTED, &l, &r);
		CHECK_INT(r.code, 0);
		res_free(&r);
		run(S("a: b\r\n\r\n12345\r\n.\r\n"), DATA_DOTTED, &l, &r);
		CHECK_INT(r.code, 500);
		res_free(&r);
	}
}

static void
test_size_limit(void)
{
	struct smtp_data_limits	l = deflim;
	struct result		r;
	const char		in[] = "a: b\r\n\r\nxy\r\n.\r\nNOOP\r\n";

	/* canonical size: 6 + 2 + 4 = 12 */
	l.max_size = 12;
	run(S(in), DATA_DOTTED, &l, &r);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.size, 12);
	res_free(&r);

	l.max_size = 11;
	run(S(in), DATA_DOTTED, &l, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, sizeof(in) - 1 - 6);
	CHECK_INT(r.code, 552);
	CHECK_STR(r.enh, "5.3.4");
	res_free(&r);

	/* the inserted empty line counts too */
	l.max_size = 10;
	run(S("a: b\r\nxy\r\n.\r\n"), DATA_DOTTED, &l, &r);
	CHECK_INT(r.code, 552);
	res_free(&r);
	l.max_size = 12;
	run(S("a: b\r\nxy\r\n.\r\n"), DATA_DOTTED, &l, &r);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.size, 12);
	CHECK(buf_is(&r.hdr, "a: b\r\n"));
	CHECK(buf_is(&r.body, "xy\r\n"));
	res_free(&r);

	/* a big body against a big limit, bare LFs counted as CRLF */
	{
		size_t	 n = 100000, i;
		char	*big = malloc(n + 10);

		for (i = 0; i < n; i += 10)
			memcpy(big + i, "123456789\n", 10);
		/* the last line ends in CRLF, so the dot ends the data */
		memcpy(big + n - 1, "\r\n.\r\n", 5);
		l.max_size = 110002;
		run(big, n + 4, DATA_DOTTED, &l, &r);
		CHECK_INT(r.code, 0);
		CHECK_INT(r.size, 110002);
		res_free(&r);
		l.max_size = 110001;
		run(big, n + 4, DATA_DOTTED, &l, &r);
		CHECK_INT(r.code, 552);
		CHECK_INT(r.rc, SMTP_DATA_END);
		res_free(&r);
		free(big);
	}
}

static void
test_eightbit(void)
{
	struct result	r;

	run(S("Subject: x\r\n\r\nplain\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.eightbit, 0);
	res_free(&r);
	run(S("Subject: x\r\n\r\ncaf\xc3\xa9\r\n.\r\n"), DATA_DOTTED, &deflim,
	    &r);
	CHECK_INT(r.eightbit, 1);
	CHECK(buf_is(&r.body, "caf\xc3\xa9\r\n"));
	res_free(&r);
	run(S("Subject: \xff\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.eightbit, 1);
	res_free(&r);
}

static void
test_headers(void)
{
	struct result	r;

	/* folded */
	run(S("Subject: a\r\n b\r\n\tc\r\nFrom: x@y\r\n\r\nbody\r\n.\r\n"),
	    DATA_DOTTED, &deflim, &r);
	CHECK(buf_is(&r.hdr, "Subject: a\r\n b\r\n\tc\r\nFrom: x@y\r\n"));
	CHECK(buf_is(&r.body, "body\r\n"));
	res_free(&r);

	/* no body at all: the whole message is headers */
	run(S("Subject: a\r\nFrom: x@y\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK(r.hdr_done);
	CHECK(buf_is(&r.hdr, "Subject: a\r\nFrom: x@y\r\n"));
	CHECK_INT(r.body.len, 0);
	CHECK_INT(r.size, 23);
	res_free(&r);

	/* no header at all */
	run(S("hello world\r\nSubject: no\r\n.\r\n"), DATA_DOTTED, &deflim,
	    &r);
	CHECK_INT(r.hdr.len, 0);
	CHECK(buf_is(&r.body, "hello world\r\nSubject: no\r\n"));
	CHECK_INT(r.size, 2 + 13 + 13);
	res_free(&r);

	/* a non-header line ends the header section */
	run(S("Subject: a\r\nnot a header\r\nX: y\r\n.\r\n"), DATA_DOTTED,
	    &deflim, &r);
	CHECK(buf_is(&r.hdr, "Subject: a\r\n"));
	CHECK(buf_is(&r.body, "not a header\r\nX: y\r\n"));
	res_free(&r);

	/* a continuation with no field before it is body */
	run(S(" folded: no\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.hdr.len, 0);
	CHECK(buf_is(&r.body, " folded: no\r\n"));
	res_free(&r);

	/* obs-optional: white space before the colon; ":" alone is not */
	run(S("Subject : a\r\n: b\r\n.\r\n"), DATA_DOTTED, &deflim, &r);
	CHECK(buf_is(&r.hdr, "Subject : a\r\n"));
	CHECK(buf_is(&r.body, ": b\r\n"));
	res_free(&r);

	/* an mbox From_ line is not a field */
	run(S("From x@y Mon Jan  1\r\nSubject: a\r\n.\r\n"), DATA_DOTTED,
	    &deflim, &r);
	CHECK_INT(r.hdr.len, 0);
	res_free(&r);
}

static void
test_header_limit(void)
{
	struct smtp_data_limits	l = deflim;
	struct result		r;

	/* "a: 12345678\r\n" is 13 octets; two of them 26 */
	l.hdr_max = 26;
	run(S("a: 12345678\r\nb: 12345678\r\n\r\nbody\r\n.\r\n"),
	    DATA_DOTTED, &l, &r);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.hdr.len, 26);
	res_free(&r);
	l.hdr_max = 25;
	run(S("a: 12345678\r\nb: 12345678\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
	    DATA_DOTTED, &l, &r);
	CHECK_INT(r.code, 552);
	CHECK_STR(r.enh, "5.3.4");
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.consumed, 37);
	res_free(&r);
}

static void
test_error_then_end(void)
{
	struct result	r;
	const char	in[] = "a: b\r\n\r\nx\r\0\n..\r\n\r\n.\r\nRSET\r\n";

	run(S(in), DATA_DOTTED, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 550);
	CHECK_INT(r.consumed, sizeof(in) - 1 - 6);
	res_free(&r);
}

static void
test_feed_after_end(void)
{
	struct smtp_data	d;
	struct dbuf		out;
	size_t			used = 99;

	dbuf_init(&out, BIG);
	smtp_data_init(&d, DATA_DOTTED, &deflim);
	CHECK_INT(smtp_data_feed(&d, (const unsigned char *)".\r\nXX", 5,
	    &used, &out), SMTP_DATA_END);
	CHECK_INT(used, 3);
	CHECK_INT(smtp_data_feed(&d, (const unsigned char *)"XX", 2, &used,
	    &out), SMTP_DATA_END);
	CHECK_INT(used, 0);
	smtp_data_free(&d);
	dbuf_free(&out);
}

static void
test_out_full(void)
{
	struct smtp_data	d;
	struct dbuf		out;
	size_t			used;
	const char		in[] = "\r\n0123456789\r\nabcdefghij\r\n.\r\n";
	struct smtp_data_limits	l = deflim;
	int			rc;

	/* out holds exactly one line: FULL, drain, go on */
	dbuf_init(&out, 12);
	l.max_line = 10;
	smtp_data_init(&d, DATA_DOTTED, &l);
	rc = smtp_data_feed(&d, (const unsigned char *)in, sizeof(in) - 1,
	    &used, &out);
	CHECK_INT(rc, SMTP_DATA_FULL);
	CHECK_INT(used, 25);
	CHECK(buf_is(&out, "0123456789\r\n"));
	dbuf_reset(&out);
	rc = smtp_data_feed(&d, (const unsigned char *)in + 25,
	    sizeof(in) - 1 - 25, &used, &out);
	CHECK_INT(rc, SMTP_DATA_END);
	CHECK(buf_is(&out, "abcdefghij\r\n"));
	CHECK_INT(d.err.code, 0);
	smtp_data_free(&d);

	/* out too small for one line: a local error, no endless FULL */
	dbuf_reset(&out);
	out.max = 5;
	smtp_data_init(&d, DATA_DOTTED, &l);
	rc = smtp_data_feed(&d, (const unsigned char *)in, sizeof(in) - 1,
	    &used, &out);
	CHECK_INT(rc, SMTP_DATA_END);
	CHECK_INT(d.err.code, 451);
	smtp_data_free(&d);
	dbuf_free(&out);
}

static void
test_bdat(void)
{
	struct result	r;
	size_t		cuts[2] = { 5, 12 };

	run(S("a: b\r\n\r\n..x\r\n.\r\nmore"), DATA_BDAT, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.hdr, "a: b\r\n"));
	CHECK(buf_is(&r.body, "..x\r\n.\r\nmore\r\n"));
	CHECK_INT(r.size, 6 + 2 + 5 + 3 + 6);
	res_free(&r);

	/* chunks cut anywhere, CR LF across a chunk boundary */
	run_cuts(S("a: b\r\n\r\nline\r\nx"), DATA_BDAT, &deflim, cuts, 2, BIG,
	    &r);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.body, "line\r\nx\r\n"));
	res_free(&r);

	/* bare LF */
	run(S("a: b\n\nx\ny\n"), DATA_BDAT, &deflim, &r);
	CHECK_INT(r.code, 0);
	CHECK(buf_is(&r.body, "x\r\ny\r\n"));
	res_free(&r);

	/* a CR at the very end is bare */
	run(S("a: b\r\n\r\nx\r"), DATA_BDAT, &deflim, &r);
	CHECK_INT(r.code, 550);
	res_free(&r);

	/* empty */
	run("", 0, DATA_BDAT, &deflim, &r);
	CHECK_INT(r.rc, SMTP_DATA_END);
	CHECK_INT(r.code, 0);
	CHECK_INT(r.size, 0);
	CHECK(r.hdr_done);
	res_free(&r);
}

/* A fixed corpus, then random inputs, in both modes and policies. */
#define C(x)	{ x, sizeof(x) - 1 }
static const struct {
	const char	*s;
	size_t		 n;
} corpus[] = {
	C(""), C("."), C(".\r"), C(".\r\n"), C("\r\n.\r\n"), C("a\r\n.\r\n"),
	C("a\n.\r\n"), C("a: b\r\n c\r\n\r\n..\r\n.\r\n"), C("x\r\r\n.\r\n"),
	C("\r\r\n.\r\n"), C("a: b\r\n\r\n.\n.\r\n\r\n.\r\nNEXT"),
	C("\n\n\n.\r\n"), C(".x\r\n.\r\n"), C("a: b\r\nc\r\n\r\nd\r\n.\r\n"),
	C("..\r\n..\r\n.\r\n"), C("a\0b\r\n.\r\n"),
	C("\xc3\xa9: x\r\n\r\n.\r\n"), C("abc\r\nde\rf\r\n.\r\n"),
	C("Subject: x\r\n\r\nhello\n.\nMAIL FROM:<a@b>\r\n.\r\n"),
};

/* A fixed seed: the same inputs on every run. */
static uint32_t
rnd(void)
{
	return (uint32_t)random();
}

static void
test_split_invariance(void)
{
	static const char	 alpha[] = "\r\n.\r\n.a: \t\x80";
	struct smtp_data_limits	 l[4];
	unsigned char		 buf[64];
	size_t			 i, j, k, n;
	int			 mode, bad = 0;

	for (k = 0; k < 4; k++)
		l[k] = deflim;
	l[1].bare_lf_reject = 1;
	l[2].max_line = 3;
	l[2].max_size = 20;
	l[3].hdr_max = 8;
	for (mode = DATA_DOTTED; mode <= DATA_BDAT; mode++)
		for (k = 0; k < 4; k++)
			for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]);
			    i++)
				if (!split_invariant(corpus[i].s,
				    corpus[i].n, mode, &l[k])) {
					printf("# corpus %zu mode %d lim %zu\n",
					    i, mode, k);
					bad++;
				}
	for (i = 0; i < 3000; i++) {
		n = rnd() % sizeof(buf);
		for (j = 0; j < n; j++)
			buf[j] = (unsigned char)alpha[rnd() %
			    (sizeof(alpha) - 1)];
		mode = (rnd() & 1) ? DATA_DOTTED : DATA_BDAT;
		k = rnd() % 4;
		if (!split_invariant(buf, n, mode, &l[k])) {
			printf("# random %zu mode %d lim %zu\n", i, mode, k);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

/* Output is always well-formed CRLF lines, whatever came in. */
static void
test_output_canonical(void)
{
	static const char	 alpha[] = "\r\n.ab\n";
	unsigned char		 buf[48];
	struct result		 r;
	size_t			 i, j, n;
	int			 bad = 0;
	struct dbuf		*b;

	for (i = 0; i < 2000; i++) {
		n = rnd() % sizeof(buf);
		for (j = 0; j < n; j++)
			buf[j] = (unsigned char)alpha[rnd() %
			    (sizeof(alpha) - 1)];
		run(buf, n, (i & 1) ? DATA_BDAT : DATA_DOTTED, &deflim, &r);
		for (b = &r.hdr; b != NULL; b = b == &r.hdr ? &r.body : NULL) {
			if (b->len > 0 && (b->len < 2 ||
			    memcmp(b->data + b->len - 2, "\r\n", 2) != 0))
				bad++;
			for (j = 0; j < b->len; j++)
				if ((b->data[j] == '\r' && (j + 1 == b->len ||
				    b->data[j + 1] != '\n')) ||
				    (b->data[j] == '\n' && (j == 0 ||
				    b->data[j - 1] != '\r')))
					bad++;
		}
		res_free(&r);
	}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	srandom(2463534242);
	RUN(test_simple);
	RUN(test_pipelined_rest);
	RUN(test_empty_messages);
	RUN(test_unstuffing);
	RUN(test_smuggling);
	RUN(test_bare_lf_accept);
	RUN(test_bad_octets);
	RUN(test_line_length);
	RUN(test_size_limit);
	RUN(test_eightbit);
	RUN(test_headers);
	RUN(test_header_limit);
	RUN(test_error_then_end);
	RUN(test_feed_after_end);
	RUN(test_out_full);
	RUN(test_bdat);
	RUN(test_split_invariance);
	RUN(test_output_canonical);
	return unit_done();
}
