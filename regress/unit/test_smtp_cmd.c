/*
 * test_smtp_cmd: the command line parser (lib/smtp_cmd.c).
 */
#include <string.h>

#include "smtp_cmd.h"
#include "unit.h"

static struct smtp_cmd cmd;

/* Parse a NUL-terminated line: 0 or -1. */
static int
parse(const char *s)
{
	return smtp_cmd_parse(s, strlen(s), &cmd);
}

/* Parse and expect a failure with this code and enhanced code. */
static int
fails(const char *s, int code, const char *enh)
{
	if (parse(s) != -1) {
		printf("#   accepted: %s\n", s);
		return 0;
	}
	if (cmd.err.code != code || strcmp(cmd.err.enhanced, enh) != 0) {
		printf("#   %s: %d %s %s\n", s, cmd.err.code,
		    cmd.err.enhanced, cmd.err.text);
		return 0;
	}
	return cmd.err.text != NULL && strpbrk(cmd.err.text, "\r\n") == NULL;
}

static void
test_verbs(void)
{
	static const struct {
		const char	*line;
		enum smtp_verb	 verb;
	} t[] = {
		{ "HELO x", SMTP_HELO }, { "ehlo x", SMTP_EHLO },
		{ "Mail FROM:<>", SMTP_MAIL }, { "rcpt to:<a@b>", SMTP_RCPT },
		{ "DATA", SMTP_DATA }, { "bdat 0 last", SMTP_BDAT },
		{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP },
		{ "QUIT", SMTP_QUIT }, { "VRFY x", SMTP_VRFY },
		{ "EXPN x", SMTP_EXPN }, { "HELP", SMTP_HELP },
		{ "AUTH PLAIN", SMTP_AUTH }, { "StartTLS", SMTP_STARTTLS },
		{ "QUIT   ", SMTP_QUIT }, { "NOOP anything at all", SMTP_NOOP },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_INT(parse(t[i].line), 0);
		CHECK_INT(cmd.verb, t[i].verb);
	}
	CHECK_STR(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
	CHECK_STR(smtp_verb_name(SMTP_UNKNOWN), "unknown");
}

static void
test_unknown(void)
{
	CHECK(fails("", 500, "5.5.2"));
	CHECK(fails("   ", 500, "5.5.2"));
	CHECK(fails("FOO bar", 500, "5.5.2"));
	CHECK_INT(cmd.verb, SMTP_UNKNOWN);
	CHECK(fails("MAILFROM:<a@b>", 500, "5.5.2"));
	CHECK(fails("STARTTLSX", 500, "5.5.2"));
	CHECK(fails(" QUIT", 500, "5.5.2"));
	CHECK(fails("GET / HTTP/1.0", 500, "5.5.2"));
}

static void
test_bad_lines(void)
{
	char	big[SMTP_AUTH_MAXLEN + 10];

	CHECK_INT(smtp_cmd_parse("NOOP\0x", 6, &cmd), -1);
	CHECK_INT(cmd.err.code, 500);
	CHECK(fails("NOOP\tx", 500, "5.5.2"));
	CHECK(fails("NOOP \x7f", 500, "5.5.2"));
	CHECK(fails("NOOP \r", 500, "5.5.2"));
	CHECK(fails("NOOP \x1b[2J", 500, "5.5.2"));
	/* malformed UTF-8: lone continuation, overlong, surrogate, cut */
	CHECK(fails("NOOP \x80", 500, "5.5.2"));
	CHECK(fails("NOOP \xc0\xaf", 500, "5.5.2"));
	CHECK(fails("NOOP \xed\xa0\x80", 500, "5.5.2"));
	CHECK(fails("NOOP \xe2\x82", 500, "5.5.2"));
	CHECK(fails("NOOP \xf4\x90\x80\x80", 500, "5.5.2"));
	CHECK(fails("NOOP \xc2\x9b[2J", 500, "5.5.2"));	/* C1 CSI */
	CHECK_INT(parse("NOOP caf\xc3\xa9 \xf0\x9f\x93\xa7"), 0);

	/* lengths: the general bound, and AUTH's */
	memset(big, 'x', sizeof(big));
	memcpy(big, "NOOP ", 5);
	CHECK_INT(smtp_cmd_parse(big, SMTP_CMD_MAXLEN, &cmd), 0);
	CHECK_INT(smtp_cmd_parse(big, SMTP_CMD_MAXLEN + 1, &cmd), -1);
	CHECK_INT(cmd.err.code, 500);
	CHECK_STR(cmd.err.text, "Line too long");
	memcpy(big, "AUTH PLAIN ", 11);
	CHECK_INT(smtp_cmd_parse(big, SMTP_AUTH_MAXLEN, &cmd), 0);
	CHECK_INT(cmd.initial_len, SMTP_AUTH_MAXLEN - 11);
	CHECK_INT(smtp_cmd_parse(big, SMTP_AUTH_MAXLEN + 1, &cmd), -1);
	CHECK_INT(cmd.err.code, 500);
}

static void
test_helo(void)
{
	char	dom[300];

	CHECK_INT(parse("EHLO printer.example.com"), 0);
	CHECK_STR(cmd.domain, "printer.example.com");
	CHECK_INT(parse("HELO [192.0.2.7]"), 0);
	CHECK_STR(cmd.domain, "[192.0.2.7]");
	CHECK_INT(parse("EHLO [IPv6:2001:db8::1]  "), 0);
	CHECK_STR(cmd.domain, "[IPv6:2001:db8::1]");
	CHECK_INT(parse("EHLO printer_01"), 0);
	CHECK(fails("EHLO", 501, "5.5.4"));
	CHECK(fails("HELO ", 501, "5.5.4"));
	CHECK(fails("EHLO two words", 501, "5.5.4"));
	CHECK(fails("EHLO b\xc3\xbcro", 501, "5.5.4"));
	memset(dom, 'a', sizeof(dom));
	memcpy(dom, "EHLO ", 5);
	CHECK_INT(smtp_cmd_parse(dom, 5 + 255, &cmd), 0);
	CHECK_INT(strlen(cmd.domain), 255);
	CHECK_INT(smtp_cmd_parse(dom, 5 + 256, &cmd), -1);
	CHECK_INT(cmd.err.code, 501);
}

static void
test_mail(void)
{
	CHECK_INT(parse("MAIL FROM:<scans@example.com>"), 0);
	CHECK_INT(cmd.verb, SMTP_MAIL);
	CHECK_STR(cmd.path, "scans@example.com");
	CHECK_INT(cmd.has_size, 0);
	CHECK_INT(cmd.body, SMTP_BODY_NONE);

	/* a space after the colon, as real clients send it */
	CHECK_INT(parse("MAIL FROM: <scans@example.com>"), 0);
	CHECK_STR(cmd.path, "scans@example.com");
	CHECK_INT(parse("mail from:<>"), 0);
	CHECK_STR(cmd.path, "");

	CHECK_INT(parse("MAIL FROM:<a@example.com> SIZE=12345 BODY=8BITMIME "
	    "RET=HDRS ENVID=QQ+2B1 AUTH=<>"), 0);
	CHECK_INT(cmd.has_size, 1);
	CHECK_INT(cmd.size, 12345);
	CHECK_INT(cmd.body, SMTP_BODY_8BITMIME);
	CHECK_INT(cmd.ret, SMTP_RET_HDRS);
	CHECK_STR(cmd.envid, "QQ+2B1");
	CHECK_INT(parse("MAIL FROM:<a@example.com>  body=7bit   ret=full "), 0);
	CHECK_INT(cmd.body, SMTP_BODY_7BIT);
	CHECK_INT(cmd.ret, SMTP_RET_FULL);
	CHECK_INT(parse("MAIL FROM:<a@example.com> BODY=BINARYMIME"), 0);
	CHECK_INT(cmd.body, SMTP_BODY_BINARYMIME);
	CHECK_INT(parse("MAIL FROM:<a@example.com> AUTH=a+2Bb@example.com"),
	    0);
	CHECK_INT(parse("MAIL FROM:<a@example.com> SIZE=18446744073709551615"),
	    0);
	CHECK(cmd.size == UINT64_MAX);

	/* SMTPUTF8 and non-ASCII paths */
	CHECK_INT(parse("MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8"), 0);
	CHECK_INT(cmd.path_utf8, 1);
	CHECK_INT(cmd.smtputf8, 1);
	CHECK(fails("MAIL FROM:<j\xc3\xb6rg@example.com>", 553, "5.6.7"));
	CHECK(fails("MAIL FROM:<a@example.com> SMTPUTF8=yes", 501, "5.5.4"));
}

static void
test_mail_bad(void)
{
	CHECK(fails("MAIL", 501, "5.5.4"));
	CHECK(fails("MAIL FROM", 501, "5.5.4"));
	CHECK(fails("MAIL TO:<a@b.c>", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:a@example.com", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com", 501, "5.1.7"));
	CHECK(fails("MAIL FROM:<a b@example.com>", 501, "5.1.7"));
	CHECK(fails("MAIL FROM:<a@example.com>SIZE=1", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=-1", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=+1", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=1k", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=1 SIZE=2", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=18446744073709551616",
	    552, "5.3.4"));
	CHECK(fails("MAIL FROM:<a@example.com> SIZE=99999999999999999999999",
	    552, "5.3.4"));
	CHECK(fails("MAIL FROM:<a@example.com> BODY=9BIT", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> RET=ALL", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> ENVID=a+2b", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> ENVID=a+2", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> ENVID=a=b", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> XFOO=1", 555, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> NOTIFY=NEVER", 555, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> -X=1", 501, "5.5.4"));
	CHECK(fails("MAIL FROM:<a@example.com> =1", 501, "5.5.4"));
	CHECK_INT(cmd.verb, SMTP_MAIL);
}

static void
test_envid_len(void)
{
	char	line[300];

	snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=%0100d", 0);
	CHECK_INT(parse(line), 0);
	CHECK_INT(strlen(cmd.envid), 100);
	snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=%0101d", 0);
	CHECK(fails(line, 501, "5.5.4"));
}

static void
test_rcpt(void)
{
	CHECK_INT(parse("RCPT TO:<user@example.org>"), 0);
	CHECK_STR(cmd.path, "user@example.org");
	CHECK_INT(cmd.notify, 0);
	CHECK_INT(parse("RCPT TO: <user@example.org>"), 0);
	CHECK_INT(parse("RCPT TO:<user@example.org> NOTIFY=SUCCESS,failure "
	    "ORCPT=rfc822;user+40example.org"), 0);
	CHECK_INT(cmd.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	CHECK_STR(cmd.orcpt, "rfc822;user+40example.org");
	CHECK_INT(parse("RCPT TO:<user@example.org> NOTIFY=NEVER"), 0);
	CHECK_INT(cmd.notify, SMTP_NOTIFY_NEVER);
	CHECK_INT(parse("RCPT TO:<user@example.org> NOTIFY=DELAY"), 0);
	CHECK_INT(parse("RCPT TO:<Postmaster>"), 0);
	CHECK_STR(cmd.path, "Postmaster");
	CHECK_INT(cmd.postmaster, 1);
	CHECK_INT(parse("RCPT TO:<postmaster> NOTIFY=NEVER"), 0);
	CHECK_INT(cmd.postmaster, 1);
	CHECK_INT(parse("RCPT TO:<postmaster@example.org>"), 0);
	CHECK_INT(cmd.postmaster, 0);
	CHECK_INT(parse("RCPT TO:<j\xc3\xb6rg@example.org>"), 0);
	CHECK_INT(cmd.path_utf8, 1);
	CHECK_INT(parse("RCPT TO:<@relay.example:user@example.org>"), 0);
	CHECK_STR(cmd.path, "user@example.org");

	CHECK(fails("RCPT TO:<>", 501, "5.1.3"));
	CHECK(fails("RCPT TO:<nodomain>", 501, "5.1.3"));
	CHECK(fails("RCPT TO:<postmaster>x", 501, "5.1.3"));
	CHECK(fails("RCPT FROM:<a@b.c>", 501, "5.5.4"));
	CHECK(fails("RCPT TO:", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY=SUCCESS,", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY=,SUCCESS", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY=SOMETIMES", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> NOTIFY", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=rfc822", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=;a@b.c", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=rfc822;", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=rfc822;a+zz", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=a@b;c", 501, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> SIZE=10", 555, "5.5.4"));
	CHECK(fails("RCPT TO:<a@b.c> ORCPT=rfc822;a ORCPT=rfc822;b", 501,
	    "5.5.4"));
}

static void
test_bdat(void)
{
	CHECK_INT(parse("BDAT 1000"), 0);
	CHECK_INT(cmd.chunk, 1000);
	CHECK_INT(cmd.last, 0);
	CHECK_INT(parse("BDAT 0 LAST"), 0);
	CHECK_INT(cmd.chunk, 0);
	CHECK_INT(cmd.last, 1);
	CHECK_INT(parse("bdat 12  last "), 0);
	CHECK_INT(cmd.last, 1);
	CHECK(fails("BDAT", 501, "5.5.4"));
	CHECK(fails("BDAT LAST", 501, "5.5.4"));
	CHECK(fails("BDAT -1", 501, "5.5.4"));
	CHECK(fails("BDAT 0x10", 501, "5.5.4"));
	CHECK(fails("BDAT 10 FIRST", 501, "5.5.4"));
	CHECK(fails("BDAT 10 LAST LAST", 501, "5.5.4"));
	CHECK(fails("BDAT 18446744073709551616", 552, "5.3.4"));
}

static void
test_auth(void)
{
	CHECK_INT(parse("AUTH PLAIN"), 0);
	CHECK_STR(cmd.mech, "PLAIN");
	CHECK(cmd.initial == NULL);
	CHECK_INT(parse("auth plain AHVzZXIAdG9rZW4="), 0);
	CHECK_STR(cmd.mech, "PLAIN");
	CHECK_INT(cmd.initial_len, 16);
	CHECK(strncmp(cmd.initial, "AHVzZXIAdG9rZW4=", 16) == 0);
	CHECK_INT(parse("AUTH LOGIN ="), 0);
	CHECK_INT(cmd.initial_len, 1);
	CHECK_INT(parse("AUTH scram-sha-256"), 0);
	CHECK_STR(cmd.mech, "SCRAM-SHA-256");
	CHECK_INT(parse("AUTH X_Y-Z"), 0);
	CHECK_STR(cmd.mech, "X_Y-Z");
	CHECK(fails("AUTH", 501, "5.5.4"));
	CHECK_INT(cmd.verb, SMTP_AUTH);
	CHECK(fails("AUTH PL@IN", 501, "5.5.4"));
	CHECK(fails("AUTH ABCDEFGHIJKLMNOPQRSTU", 501, "5.5.4"));
	CHECK_INT(parse("AUTH ABCDEFGHIJKLMNOPQRST"), 0);
	CHECK(fails("AUTH PLAIN a b", 501, "5.5.4"));
}

static void
test_no_args(void)
{
	CHECK(fails("DATA x", 501, "5.5.4"));
	CHECK(fails("RSET x", 501, "5.5.4"));
	CHECK(fails("QUIT now", 501, "5.5.4"));
	CHECK(fails("STARTTLS x", 501, "5.5.4"));
	CHECK(fails("VRFY", 501, "5.5.4"));
	CHECK(fails("EXPN", 501, "5.5.4"));
	CHECK_INT(parse("VRFY  someone "), 0);
	CHECK_INT(cmd.arglen, 7);
	CHECK(strncmp(cmd.arg, "someone", 7) == 0);
	CHECK_INT(parse("HELP"), 0);
	CHECK_INT(cmd.arglen, 0);
	CHECK_INT(parse("HELP DATA"), 0);
	CHECK_INT(cmd.arglen, 4);
}

/* Cheap robustness: every prefix and every byte flip of some lines. */
static void
test_mutations(void)
{
	static const char *lines[] = {
		"MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS ORCPT=rfc822;b@x",
		"BDAT 100 LAST", "AUTH PLAIN AGEAYg==", "EHLO [1.2.3.4]",
	};
	char	buf[128];
	size_t	i, k, n;
	int	c, bad = 0;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		n = strlen(lines[i]);
		for (k = 0; k <= n; k++) {
			memcpy(buf, lines[i], n);
			if (smtp_cmd_parse(buf, k, &cmd) == -1 &&
			    (cmd.err.code < 500 || cmd.err.text == NULL))
				bad++;
		}
		for (k = 0; k < n; k++)
			for (c = 0; c < 256; c += 7) {
				memcpy(buf, lines[i], n);
				buf[k] = (char)c;
				if (smtp_cmd_parse(buf, n, &cmd) == -1 &&
				    (cmd.err.code < 500 ||
				    cmd.err.enhanced == NULL))
					bad++;
			}
	}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	RUN(test_verbs);
	RUN(test_unknown);
	RUN(test_bad_lines);
	RUN(test_helo);
	RUN(test_mail);
	RUN(test_mail_bad);
	RUN(test_envid_len);
	RUN(test_rcpt);
	RUN(test_bdat);
	RUN(test_auth);
	RUN(test_no_args);
	RUN(test_mutations);
	return unit_done();
}
