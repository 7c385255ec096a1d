/*
 * test_smtp_reply: remote replies and EHLO extensions (lib/smtp_reply.c).
 */
#include <string.h>

#include "smtp_reply.h"
#include "unit.h"

static struct smtp_reply r;

static int
feed(const char *s)
{
	return smtp_reply_feed_line(&r, s, strlen(s));
}

static void
test_single(void)
{
	char	text[64];

	smtp_reply_init(&r);
	CHECK_INT(feed("250 2.1.0 Ok"), SMTP_REPLY_COMPLETE);
	CHECK_INT(r.code, 250);
	CHECK_STR(r.enhanced, "2.1.0");
	CHECK_INT(r.nlines, 1);
	CHECK_STR(smtp_reply_line(&r, 0), "2.1.0 Ok");
	CHECK(smtp_reply_line(&r, 1) == NULL);
	CHECK_INT(smtp_reply_text(&r, text, sizeof(text)), 2);
	CHECK_STR(text, "Ok");

	/* the next line starts a new reply */
	CHECK_INT(feed("354 End data with <CR><LF>.<CR><LF>"),
	    SMTP_REPLY_COMPLETE);
	CHECK_INT(r.code, 354);
	CHECK_STR(r.enhanced, "");
	CHECK_INT(r.nlines, 1);

	/* a bare code */
	CHECK_INT(feed("220"), SMTP_REPLY_COMPLETE);
	CHECK_INT(r.code, 220);
	CHECK_STR(smtp_reply_line(&r, 0), "");
}

static void
test_multi(void)
{
	char	text[256];

	smtp_reply_init(&r);
	CHECK_INT(feed("550-5.1.1 The email account that you tried to reach"),
	    SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("550-5.1.1 does not exist."), SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("550 5.1.1 https://support.example/ x - gsmtp"),
	    SMTP_REPLY_COMPLETE);
	CHECK_INT(r.code, 550);
	CHECK_STR(r.enhanced, "5.1.1");
	CHECK_INT(r.nlines, 3);
	CHECK_INT(smtp_reply_text(&r, text, sizeof(text)), 92);
	CHECK_STR(text, "The email account that you tried to reach does not "
	    "exist. https://support.example/ x - gsmtp");
	/* cut to the buffer */
	CHECK_INT(smtp_reply_text(&r, text, 10), 9);
	CHECK_STR(text, "The email");

	smtp_reply_init(&r);
	CHECK_INT(feed("250-"), SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("250 "), SMTP_REPLY_COMPLETE);
}

static void
test_enhanced(void)
{
	static const struct {
		const char	*line;
		const char	*enh;
	} t[] = {
		{ "250 2.0.0 ok", "2.0.0" }, { "451 4.7.1 greylisted", "4.7.1" },
		{ "554 5.123.456 x", "5.123.456" }, { "550 5.1.1", "5.1.1" },
		{ "550 4.1.1 wrong class", "" }, { "550 5.1 short", "" },
		{ "550 5.1.1x", "" }, { "550 5.1234.1 long", "" },
		{ "550 5..1 x", "" }, { "550 .5.1.1", "" }, { "250 ok", "" },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		smtp_reply_init(&r);
		CHECK_INT(feed(t[i].line), SMTP_REPLY_COMPLETE);
		CHECK_STR(r.enhanced, t[i].enh);
	}
}

static void
test_errors(void)
{
	static const char *bad[] = {
		"", "2", "25", "abc", "250x ok", "150 preliminary",
		"650 no such class", "199 x", "25a ok", " 250 ok", "250\tok",
		"2500 ok",
	};
	char	big[SMTP_REPLY_LINE_MAX + 2];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_init(&r);
		CHECK_INT(feed(bad[i]), SMTP_REPLY_ERROR);
		CHECK(r.err != NULL);
	}
	/* NUL, CR, LF inside */
	smtp_reply_init(&r);
	CHECK_INT(smtp_reply_feed_line(&r, "250 a\0b", 7), SMTP_REPLY_ERROR);
	smtp_reply_init(&r);
	CHECK_INT(feed("250 a\rb"), SMTP_REPLY_ERROR);
	smtp_reply_init(&r);
	CHECK_INT(feed("250 a\nb"), SMTP_REPLY_ERROR);

	/* codes must agree; errors stick */
	smtp_reply_init(&r);
	CHECK_INT(feed("250-a"), SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("550 b"), SMTP_REPLY_ERROR);
	CHECK_INT(feed("250 b"), SMTP_REPLY_ERROR);
	CHECK_STR(r.err, "reply code changes between lines");

	/* line length: the bound, one over */
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	smtp_reply_init(&r);
	CHECK_INT(smtp_reply_feed_line(&r, big, SMTP_REPLY_LINE_MAX),
	    SMTP_REPLY_COMPLETE);
	smtp_reply_init(&r);
	CHECK_INT(smtp_reply_feed_line(&r, big, SMTP_REPLY_LINE_MAX + 1),
	    SMTP_REPLY_ERROR);
	CHECK_STR(r.err, "reply line too long");
}

static void
test_bounds(void)
{
	char	line[SMTP_REPLY_LINE_MAX];
	char	text[8192];
	size_t	i;
	int	rc = 0;

	/* 999 continuation lines and a last one: fine; 1001: too long */
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_HARD_LINES - 1; i++)
		rc = feed("250-more");
	CHECK_INT(rc, SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("250 last"), SMTP_REPLY_COMPLETE);
	CHECK_INT(r.nlines, SMTP_REPLY_HARD_LINES);
	CHECK_INT(r.nkept, SMTP_REPLY_KEEP_LINES);

	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_HARD_LINES; i++)
		rc = feed("250-more");
	CHECK_INT(rc, SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("250 last"), SMTP_REPLY_ERROR);
	CHECK_STR(r.err, "reply too long");

	/* long lines: kept text is bounded, the cut line is marked */
	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	CHECK_INT(smtp_reply_feed_line(&r, line, 3000), SMTP_REPLY_NEED_MORE);
	CHECK_INT(smtp_reply_feed_line(&r, line, 3000), SMTP_REPLY_NEED_MORE);
	CHECK_INT(feed("250 end"), SMTP_REPLY_COMPLETE);
	CHECK_INT(r.nkept, 2);
	CHECK(r.textlen <= SMTP_REPLY_TEXT_MAX);
	CHECK_INT(r.truncated, 2);
	CHECK_INT(strlen(smtp_reply_line(&r, 0)), 2996);
	CHECK_INT(strlen(smtp_reply_line(&r, 1)), SMTP_REPLY_TEXT_MAX - 2997
	    - 1);
	CHECK(smtp_reply_text(&r, text, sizeof(text)) < SMTP_REPLY_TEXT_MAX);

	/* what is kept is clean */
	smtp_reply_init(&r);
	CHECK_INT(feed("550 bad \x1b[31m\xc3\xa9\tx"), SMTP_REPLY_COMPLETE);
	CHECK_STR(smtp_reply_line(&r, 0), "bad ?[31m?? x");
}

static void
test_ehlo(void)
{
	struct smtp_ehlo	e;
	static const char	*lines[] = {
		"250-mx.example.org Hello relay.example [192.0.2.1]",
		"250-SIZE 52428800", "250-8BITMIME", "250-PIPELINING",
		"250-PIPECONNECT", "250-CHUNKING", "250-STARTTLS",
		"250-auth PLAIN LOGIN xoauth2 GSSAPI", "250-X-UNKNOWN thing",
		"250-ENHANCEDSTATUSCODES", "250-DSN", "250 SMTPUTF8",
	};
	size_t			 i;

	smtp_reply_init(&r);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		(void)feed(lines[i]);
	CHECK(r.complete);
	CHECK_INT(smtp_ehlo_parse(&r, &e), 0);
	CHECK_INT(e.flags, EHLO_SIZE | EHLO_8BITMIME | EHLO_PIPELINING |
	    EHLO_CHUNKING | EHLO_STARTTLS | EHLO_AUTH |
	    EHLO_ENHANCEDSTATUSCODES | EHLO_DSN | EHLO_SMTPUTF8);
	CHECK_INT(e.size, 52428800);
	CHECK_INT(e.auth, EHLO_AUTH_PLAIN | EHLO_AUTH_LOGIN |
	    EHLO_AUTH_XOAUTH2);

	/* OpenSMTPD 6.8: no PIPELINING; old AUTH= form; SIZE without n */
	smtp_reply_init(&r);
	(void)feed("250-mx Hello");
	(void)feed("250-AUTH=LOGIN CRAM-MD5");
	(void)feed("250-SIZE");
	(void)feed("250-STARTTLSX");
	(void)feed("250 SIZE=5");
	CHECK_INT(smtp_ehlo_parse(&r, &e), 0);
	CHECK_INT(e.flags, EHLO_AUTH | EHLO_SIZE);
	CHECK_INT(e.auth, EHLO_AUTH_LOGIN | EHLO_AUTH_CRAM_MD5);
	CHECK_INT(e.size, 0);

	/* the greeting line is not a keyword; bad SIZE numbers are 0 */
	smtp_reply_init(&r);
	(void)feed("250-PIPELINING");
	(void)feed("250 SIZE 99999999999999999999999");
	CHECK_INT(smtp_ehlo_parse(&r, &e), 0);
	CHECK_INT(e.flags, EHLO_SIZE);
	CHECK_INT(e.size, 0);

	/* not a complete 2xx */
	smtp_reply_init(&r);
	(void)feed("550 go away");
	CHECK_INT(smtp_ehlo_parse(&r, &e), -1);
	smtp_reply_init(&r);
	(void)feed("250-mx");
	CHECK_INT(smtp_ehlo_parse(&r, &e), -1);
}

int
main(void)
{
	RUN(test_single);
	RUN(test_multi);
	RUN(test_enhanced);
	RUN(test_errors);
	RUN(test_bounds);
	RUN(test_ehlo);
	return unit_done();
}
