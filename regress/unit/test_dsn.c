/*
 * test_dsn: delivery status notifications, checked by an independent
 * parser (Python's email package, run through popen) as well as by eye.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "queued/queue_dsn.h"

static const char orig_headers[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1;\r\n"
    "\tb=abc\r\n"
    "From: Scanner <scans@example.com>\r\n"
    "To: a@example.org\r\n"
    "Subject: scan 1\r\n"
    "\r\n"
    "body that must not appear\r\n";

static void
make_env(struct envelope *env, const char *rcpt2)
{
	env_init(env);
	env->id = 0x0123456789ABCDEFULL;
	env->created = 1700000000;
	strlcpy(env->sender, "scans@example.com", sizeof(env->sender));
	env_add_rcpt(env, "a@example.org", 0);
	env_add_rcpt(env, rcpt2, 0);
	env->rcpt[0].state = RCPT_FAILED;
	env->rcpt[0].code = 550;
	env->rcpt[0].last = 1700000100;
	strlcpy(env->rcpt[0].enhanced, "5.1.1", sizeof(env->rcpt[0].enhanced));
	strlcpy(env->rcpt[0].host, "mx.example.org", sizeof(env->rcpt[0].host));
	strlcpy(env->rcpt[0].text, "no such\r\nInjected: yes",
	    sizeof(env->rcpt[0].text));
	env->rcpt[1].state = RCPT_FAILED;
	env->rcpt[1].flags = RCPT_F_EXPIRED;
	env->rcpt[1].code = 421;
	strlcpy(env->rcpt[1].text, "try later", sizeof(env->rcpt[1].text));
}

static void
make_req(struct dsn_req *q, enum dsn_kind kind, const struct envelope *env,
    const uint32_t *idx, size_t n, const char *dsnid)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->hostname = "mail.example.com";
	q->env = env;
	q->rcpts = idx;
	q->nrcpts = n;
	q->now = 1700000200;
	q->dsnid = dsnid;
}

/*
 * Feed the message to Python and print what its parser sees, one fact a
 * line; returns the output (static buffer).
 */
static const char *
python_view(const struct dbuf *b)
{
	static char out[8192];
	char path[] = "/tmp/test_dsn.XXXXXX", cmd[2048];
	FILE *p;
	size_t n;
	int fd;

	out[0] = '\0';
	if ((fd = mkstemp(path)) == -1)
		return out;
	if (write(fd, b->data, b->len) != (ssize_t)b->len) {
		close(fd);
		return out;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 -c '"
	    "import email, email.policy, sys\n"
	    "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"),"
	    " policy=email.policy.default)\n"
	    "print(\"type\", m.get_content_type())\n"
	    "print(\"report\", m.get_param(\"report-type\"))\n"
	    "print(\"defects\", len(m.defects))\n"
	    "print(\"to\", m[\"to\"])\n"
	    "for part in m.iter_parts():\n"
	    "    print(\"part\", part.get_content_type(), len(part.defects))\n"
	    "    if part.get_content_type().endswith(\"delivery-status\"):\n"
	    "        blocks = part.get_payload()\n"
	    "        print(\"blocks\", len(blocks))\n"
	    "        for blk in blocks[1:]:\n"
	    "            print(\"rcpt\", blk[\"Final-Recipient\"], blk[\"Action\"],"
	    " blk[\"Status\"])\n"
	    "' %s", path);
	if ((p = popen(cmd, "r")) == NULL) {
		unlink(path);
		return out;
	}
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	unlink(path);
	return out;
}

static void
test_dsn_failure(void)
{
	struct envelope env;
	struct dsn_req q;
	struct dbuf b;
	uint32_t idx[2] = { 0, 1 }, body = 99;
	const char *v;
	char *s;

	make_env(&env, "b@example.net");
	make_req(&q, DSN_FAILURE, &env, idx, 2, "00000000000000AA");
	q.headers = orig_headers;
	q.headerslen = sizeof(orig_headers) - 1;
	dbuf_init(&b, 1 << 20);
	CHECK(dsn_build(&q, &b, &body) == 0);
	CHECK_INT(body, 0);
	dbuf_putc(&b, '\0');
	s = (char *)b.data;
	b.len--;
	/* No header injection: the CR LF of the reply text is gone. */
	CHECK(strstr(s, "\r\nInjected: yes") == NULL);
	CHECK(strstr(s, "body that must not appear") == NULL);
	CHECK(strstr(s, "Diagnostic-Code: smtp; 550 5.1.1 no such??Injected")
	    != NULL);
	CHECK(strstr(s, "Remote-MTA: dns; mx.example.org\r\n") != NULL);
	CHECK(strstr(s, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000") !=
	    NULL);
	/* Every line ends in CRLF. */
	for (size_t i = 0; i < b.len; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			CHECK(!"bare LF");
	v = python_view(&b);
	CHECK(strstr(v, "type multipart/report\n") != NULL);
	CHECK(strstr(v, "report delivery-status\n") != NULL);
	CHECK(strstr(v, "defects 0\n") != NULL);
	CHECK(strstr(v, "to scans@example.com\n") != NULL);
	CHECK(strstr(v, "part text/plain 0\n") != NULL);
	CHECK(strstr(v, "part message/delivery-status 0\n") != NULL);
	CHECK(strstr(v, "part text/rfc822-headers 0\n") != NULL);
	CHECK(strstr(v, "blocks 3\n") != NULL);
	CHECK(strstr(v, "rcpt rfc822; a@example.org failed 5.1.1\n") != NULL);
	CHECK(strstr(v, "rcpt rfc822; b@example.net failed 4.4.7\n") != NULL);
	if (unit_failed_checks)
		printf("# python saw:\n%s", v);
	dbuf_free(&b);
	env_free(&env);
}

static void
test_dsn_delay_utf8(void)
{
	struct envelope env;
	struct dsn_req q;
	struct dbuf b;
	uint32_t idx[1] = { 1 }, body = 0;
	const char *v;

	make_env(&env, "j\xc3\xb6rg@example.net");
	env.rcpt[1].state = RCPT_PENDING;
	env.rcpt[1].flags = 0;
	strlcpy(env.rcpt[1].enhanced, "4.2.2", sizeof(env.rcpt[1].enhanced));
	make_req(&q, DSN_DELAY, &env, idx, 1, "00000000000000AB");
	q.retry_until = 1700432000;
	dbuf_init(&b, 1 << 20);
	CHECK(dsn_build(&q, &b, &body) == 0);
	CHECK(body == (BODY_8BIT | BODY_SMTPUTF8));
	v = python_view(&b);
	CHECK(strstr(v, "type multipart/report\n") != NULL);
	CHECK(strstr(v, "defects 0\n") != NULL);
	CHECK(strstr(v, "part message/global-delivery-status 0\n") != NULL);
	/* Python does not split global-delivery-status: look at the text. */
	dbuf_putc(&b, '\0');
	CHECK(strstr((char *)b.data, "\r\nAction: delayed\r\n"
	    "Status: 4.2.2\r\n") != NULL);
	CHECK(strstr((char *)b.data, "Final-Recipient: utf-8; "
	    "j\xc3\xb6rg@example.net\r\n") != NULL);
	CHECK(strstr((char *)b.data, "Will-Retry-Until: ") != NULL);
	if (unit_failed_checks)
		printf("# python saw:\n%s", v);
	dbuf_free(&b);
	env_free(&env);
}

static void
test_dsn_bounded(void)
{
	struct envelope env;
	struct dsn_req q;
	struct dbuf b;
	uint32_t idx[2] = { 0, 1 }, body;

	make_env(&env, "b@example.net");
	make_req(&q, DSN_FAILURE, &env, idx, 2, "00000000000000AC");
	dbuf_init(&b, 200);
	CHECK(dsn_build(&q, &b, &body) == -1);
	dbuf_free(&b);
	env_free(&env);
}

int
main(void)
{
	RUN(test_dsn_failure);
	RUN(test_dsn_delay_utf8);
	RUN(test_dsn_bounded);
	return unit_done();
}
