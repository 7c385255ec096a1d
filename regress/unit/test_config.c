/*
 * test_config: postern.conf parsing (lib/config.c).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

/* What the last parse() wrote to its errf. */
static char errs[1 << 16];

static struct config *
parse_len(const char *text, size_t len)
{
	struct config *conf;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	if ((f = open_memstream(&out, &outlen)) == NULL)
		abort();
	conf = config_parse_buf("test.conf", text, len, f);
	fclose(f);
	snprintf(errs, sizeof(errs), "%s", out != NULL ? out : "");
	free(out);
	return conf;
}

static struct config *
parse(const char *text)
{
	return parse_len(text, strlen(text));
}

/* Lines written to errf by the last parse. */
static int
nerrs(void)
{
	const char *s;
	int n = 0;

	for (s = errs; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/*
 * The text must fail, and the error output must be exactly one line
 * that starts with `expect' (a "test.conf:N: message" prefix).
 */
static int
fails_with(const char *text, const char *expect)
{
	struct config *conf;

	if ((conf = parse(text)) != NULL) {
		config_free(conf);
		printf("#   parsed, expected: %s\n", expect);
		return 0;
	}
	if (strncmp(errs, expect, strlen(expect)) != 0 || nerrs() != 1) {
		printf("#   got: %s#   expected: %s\n", errs, expect);
		return 0;
	}
	return 1;
}

static const char *good_conf =
    "# a complete configuration\n"
    "hostname mail.example.net\n"
    "libexec-dir /opt/postern/libexec\n"
    "spool-dir \"/srv/spool dir\"\n"
    "auth-dir /srv/auth\n"
    "dkim-dir /srv/dkim\n"
    "empty-dir /srv/empty\n"
    "control-socket /srv/run/control.sock\n"
    "pid-file /srv/run/posternd.pid\n"
    "token-key /srv/token.key\n"
    "control-group wheel\n"
    "user smtpd _s\n"
    "user authd _a\n"
    "user queued _q\n"
    "user signd _g\n"
    "user relayd _r\n"
    "\n"
    "listen on 127.0.0.1 port 587 starttls certificate /c.pem key /k.pem\n"
    "listen on ::1 port 465 tls certificate \"/c.pem\" key \"/k.pem\" "
    "proxy-from 192.0.2.1 2001:db8::1\n"
    "listen on 127.0.0.1 port 2525 plain no-auth\n"
    "\n"
    "domain Example.COM {\n"
    "\tdkim selector s2024 algorithm rsa active\n"
    "\tdkim selector old algorithm rsa\n"
    "\tdkim selector ed1 algorithm ed25519 active\n"
    "\tlocal-parts scans printer-* \"info\"\n"
    "\tlocal-parts noreply\n"
    "}\n"
    "domain example.org {\n"
    "}\n"
    "domain example.info { }\n"
    "\n"
    "relay via smtp+starttls://smarthost.example.net "
    "credentials /etc/postern/relay.cred\n"
    "route example.edu via smtps://[2001:db8::25]:4465 tls verify\n"
    "route partner.example via smtp://mx.partner.example tls required\n"
    "route other.example via smtp://192.0.2.25:2525\n"
    "resolver 127.0.0.53 ::1 port 5353\n"
    "trust-anchor /var/lib/unbound/root.key\n"
    "tls-fallback no\n"
    "\n"
    "queue {\n"
    "\tretry-initial 10m\n"
    "\tretry-max 2h\n"
    "\tlifetime 3d\n"
    "\tdelay-warning no\n"
    "\tcrash-hold 5\n"
    "\tbatch-recipients 50\n"
    "\tconcurrency 20\n"
    "\tconcurrency-per-domain 4\n"
    "}\n"
    "\n"
    "limit message-size 10M\n"
    "limit recipients 50\n"
    "limit errors 5\n"
    "limit line-length 2048\n"
    "limit sessions 100\n"
    "limit sessions-per-client 5\n"
    "limit auth-failures 2\n"
    "timeout greeting 1m\n"
    "timeout command 2m\n"
    "timeout data-init 3m\n"
    "timeout data-block 4m\n"
    "timeout data-end 5m\n"
    "timeout session 6m\n"
    "timeout connect 7s\n"
    "timeout relay-command 8m\n"
    "local-part-case sensitive\n"
    "bare-lf reject\n"
    "dkim-headers From To Subject\n"
    "dkim-headers Date\n"
    "dkim-canon simple\n"
    "dkim-expire 7d\n"
    "test-clock yes   # trailing comment\n";

static void
test_good_file(void)
{
	struct config *c;
	struct listener *l;
	struct domain *d;
	struct dkim_sel *s;
	struct route *r;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	c = parse(good_conf);
	CHECK(c != NULL);
	CHECK_STR(errs, "");
	if (c == NULL)
		return;
	CHECK_STR(c->file, "test.conf");
	CHECK_STR(c->hostname, "mail.example.net");
	CHECK_STR(c->libexec_dir, "/opt/postern/libexec");
	CHECK_STR(c->spool_dir, "/srv/spool dir");
	CHECK_STR(c->auth_dir, "/srv/auth");
	CHECK_STR(c->dkim_dir, "/srv/dkim");
	CHECK_STR(c->empty_dir, "/srv/empty");
	CHECK_STR(c->control_socket, "/srv/run/control.sock");
	CHECK_STR(c->pid_file, "/srv/run/posternd.pid");
	CHECK_STR(c->token_key, "/srv/token.key");
	CHECK_STR(c->control_group, "wheel");
	CHECK_STR(c->user[PROC_SMTPD], "_s");
	CHECK_STR(c->user[PROC_AUTHD], "_a");
	CHECK_STR(c->user[PROC_QUEUED], "_q");
	CHECK_STR(c->user[PROC_SIGND], "_g");
	CHECK_STR(c->user[PROC_RELAYD], "_r");

	CHECK_INT(c->nlisteners, 3);
	l = TAILQ_FIRST(&c->listeners);
	CHECK_INT(l->index, 0);
	CHECK_STR(l->addr, "127.0.0.1");
	CHECK_INT(l->port, 587);
	CHECK_INT(l->mode, LISTEN_STARTTLS);
	CHECK_INT(l->auth, 1);
	CHECK_INT(l->fd, -1);
	CHECK_STR(l->cert, "/c.pem");
	CHECK_STR(l->key, "/k.pem");
	CHECK_INT(l->nproxy, 0);
	sin = (struct sockaddr_in *)&l->ss;
	CHECK_INT(sin->sin_family, AF_INET);
	CHECK_INT(ntohs(sin->sin_port), 587);
	CHECK_INT(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	CHECK_INT(l->sslen, sizeof(struct sockaddr_in));
	l = TAILQ_NEXT(l, entry);
	CHECK_INT(l->index, 1);
	CHECK_STR(l->addr, "::1");
	CHECK_INT(l->mode, LISTEN_TLS);
	sin6 = (struct sockaddr_in6 *)&l->ss;
	CHECK_INT(sin6->sin6_family, AF_INET6);
	CHECK_INT(ntohs(sin6->sin6_port), 465);
	CHECK_INT(l->sslen, sizeof(struct sockaddr_in6));
	CHECK_INT(l->nproxy, 2);
	CHECK_INT(l->proxy[0].ss_family, AF_INET);
	CHECK_INT(l->proxy[1].ss_family, AF_INET6);
	l = TAILQ_NEXT(l, entry);
	CHECK_INT(l->index, 2);
	CHECK_INT(l->mode, LISTEN_PLAIN);
	CHECK_INT(l->auth, 0);
	CHECK_INT(l->port, 2525);

	d = TAILQ_FIRST(&c->domains);
	CHECK_STR(d->name, "example.com");
	s = TAILQ_FIRST(&d->sels);
	CHECK_STR(s->selector, "s2024");
	CHECK_INT(s->alg, DKIM_RSA);
	CHECK_INT(s->active, 1);
	s = TAILQ_NEXT(s, entry);
	CHECK_STR(s->selector, "old");
	CHECK_INT(s->active, 0);
	s = TAILQ_NEXT(s, entry);
	CHECK_STR(s->selector, "ed1");
	CHECK_INT(s->alg, DKIM_ED25519);
	CHECK_INT(s->active, 1);
	CHECK_INT(d->nlocal, 4);
	CHECK_STR(d->local_parts[0], "scans");
	CHECK_STR(d->local_parts[1], "printer-*");
	CHECK_STR(d->local_parts[2], "info");
	CHECK_STR(d->local_parts[3], "noreply");
	CHECK_INT(d->local_nocase, 0);
	d = TAILQ_NEXT(d, entry);
	CHECK_STR(d->name, "example.org");
	CHECK(TAILQ_EMPTY(&d->sels));
	CHECK_INT(d->nlocal, 0);
	d = TAILQ_NEXT(d, entry);
	CHECK_STR(d->name, "example.info");
	CHECK(TAILQ_NEXT(d, entry) == NULL);

	CHECK_INT(c->relay_mode, RELAY_SMARTHOST);
	CHECK_INT(c->smarthost.tls, HOP_STARTTLS);
	CHECK_STR(c->smarthost.host, "smarthost.example.net");
	CHECK_INT(c->smarthost.port, 587);
	CHECK_STR(c->relay_credentials, "/etc/postern/relay.cred");
	r = TAILQ_FIRST(&c->routes);
	CHECK_STR(r->domain, "example.edu");
	CHECK_INT(r->hop.tls, HOP_SMTPS);
	CHECK_STR(r->hop.host, "2001:db8::25");
	CHECK_INT(r->hop.port, 4465);
	CHECK_INT(r->flags, ROUTE_TLS_REQUIRED | ROUTE_TLS_VERIFY);
	r = TAILQ_NEXT(r, entry);
	CHECK_INT(r->hop.tls, HOP_PLAIN);
	CHECK_INT(r->hop.port, 25);
	CHECK_INT(r->flags, ROUTE_TLS_REQUIRED);
	r = TAILQ_NEXT(r, entry);
	CHECK_STR(r->hop.host, "192.0.2.25");
	CHECK_INT(r->hop.port, 2525);
	CHECK_INT(r->flags, 0);
	CHECK_INT(c->nresolvers, 2);
	CHECK_STR(c->resolver[0], "127.0.0.53@53");
	CHECK_STR(c->resolver[1], "::1@5353");
	CHECK_STR(c->trust_anchor, "/var/lib/unbound/root.key");
	CHECK_INT(c->tls_fallback, 0);

	CHECK_INT(c->retry_initial, 600);
	CHECK_INT(c->retry_max, 7200);
	CHECK_INT(c->lifetime, 3 * 86400);
	CHECK_INT(c->delay_warning, 0);
	CHECK_INT(c->crash_hold, 5);
	CHECK_INT(c->batch_recipients, 50);
	CHECK_INT(c->concurrency, 20);
	CHECK_INT(c->concurrency_domain, 4);

	CHECK_INT(c->max_message_size, 10 * 1024 * 1024);
	CHECK_INT(c->max_recipients, 50);
	CHECK_INT(c->max_errors, 5);
	CHECK_INT(c->max_line, 2048);
	CHECK_INT(c->max_sessions, 100);
	CHECK_INT(c->max_sessions_client, 5);
	CHECK_INT(c->max_auth_failures, 2);
	CHECK_INT(c->to_greeting, 60);
	CHECK_INT(c->to_command, 120);
	CHECK_INT(c->to_data_init, 180);
	CHECK_INT(c->to_data_block, 240);
	CHECK_INT(c->to_data_end, 300);
	CHECK_INT(c->to_session, 360);
	CHECK_INT(c->to_connect, 7);
	CHECK_INT(c->to_relay_command, 480);
	CHECK_INT(c->local_part_nocase, 0);
	CHECK_INT(c->bare_lf_reject, 1);
	CHECK_INT(c->ndkim_headers, 4);
	CHECK_STR(c->dkim_headers[0], "From");
	CHECK_STR(c->dkim_headers[3], "Date");
	CHECK_INT(c->dkim_simple, 1);
	CHECK_INT(c->dkim_expire, 7 * 86400);
	CHECK_INT(c->test_clock, 1);
	config_free(c);
}

static void
test_defaults(void)
{
	struct config *c;
	char host[256] = "";

	c = parse("");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(errs, "");
	gethostname(host, sizeof(host) - 1);
	CHECK_STR(c->hostname, host[0] != '\0' ? host : "localhost");
	CHECK_STR(c->libexec_dir, DEF_LIBEXEC_DIR);
	CHECK_STR(c->spool_dir, DEF_SPOOL_DIR);
	CHECK_STR(c->auth_dir, DEF_AUTH_DIR);
	CHECK_STR(c->dkim_dir, DEF_DKIM_DIR);
	CHECK_STR(c->empty_dir, DEF_EMPTY_DIR);
	CHECK_STR(c->control_socket, DEF_CONTROL_SOCKET);
	CHECK_STR(c->pid_file, DEF_PID_FILE);
	CHECK_STR(c->token_key, DEF_TOKEN_KEY);
	CHECK_STR(c->control_group, DEF_CONTROL_GROUP);
	CHECK_STR(c->user[PROC_SMTPD], "_postern-smtpd");
	CHECK_STR(c->user[PROC_AUTHD], "_postern-auth");
	CHECK_STR(c->user[PROC_QUEUED], "_postern-queue");
	CHECK_STR(c->user[PROC_SIGND], "_postern-sign");
	CHECK_STR(c->user[PROC_RELAYD], "_postern-relay");
	CHECK_INT(c->nlisteners, 0);
	CHECK(TAILQ_EMPTY(&c->listeners));
	CHECK(TAILQ_EMPTY(&c->domains));
	CHECK(TAILQ_EMPTY(&c->routes));
	CHECK_INT(c->relay_mode, RELAY_MX);
	CHECK_STR(c->relay_credentials, "");
	CHECK_INT(c->nresolvers, 0);
	CHECK_STR(c->trust_anchor, "");
	CHECK_INT(c->tls_fallback, 1);
	CHECK_INT(c->retry_initial, 5 * 60);
	CHECK_INT(c->retry_max, 60 * 60);
	CHECK_INT(c->lifetime, 5 * 86400);
	CHECK_INT(c->delay_warning, 4 * 3600);
	CHECK_INT(c->crash_hold, 3);
	CHECK_INT(c->batch_recipients, 100);
	CHECK_INT(c->concurrency, 100);
	CHECK_INT(c->concurrency_domain, 10);
	CHECK_INT(c->max_message_size, DEF_MESSAGE_SIZE);
	CHECK_INT(c->max_recipients, DEF_RECIPIENTS);
	CHECK_INT(c->max_errors, DEF_ERRORS);
	CHECK_INT(c->max_line, DEF_LINE);
	CHECK_INT(c->max_sessions, DEF_SESSIONS);
	CHECK_INT(c->max_sessions_client, DEF_SESSIONS_CLIENT);
	CHECK_INT(c->max_auth_failures, DEF_AUTH_FAILURES);
	CHECK_INT(c->to_greeting, 300);
	CHECK_INT(c->to_command, 300);
	CHECK_INT(c->to_data_init, 120);
	CHECK_INT(c->to_data_block, 180);
	CHECK_INT(c->to_data_end, 600);
	CHECK_INT(c->to_session, 3600);
	CHECK_INT(c->to_connect, 30);
	CHECK_INT(c->to_relay_command, 300);
	CHECK_INT(c->local_part_nocase, 1);
	CHECK_INT(c->bare_lf_reject, 0);
	CHECK_INT(c->dkim_simple, 0);
	CHECK_INT(c->dkim_expire, 0);
	CHECK_INT(c->test_clock, 0);
	CHECK_INT(c->ndkim_headers, 15);
	if (c->ndkim_headers == 15) {
		CHECK_STR(c->dkim_headers[0], "From");
		CHECK_STR(c->dkim_headers[5], "Message-ID");
		CHECK_STR(c->dkim_headers[14], "Sender");
	}
	config_free(c);

	/* Comments, blank lines and CRLF alone are an empty config. */
	c = parse("# nothing\r\n\r\n   \t# more\n\n");
	CHECK(c != NULL);
	config_free(c);
}

static void
test_words(void)
{
	struct config *c;

	c = parse("spool-dir \"/a \\\"b\\\" \\\\c #d\" # comment\r\n"
	    "pid-file \"/x{y}\"\n"
	    "domain x.example{\n}\n");
	CHECK(c != NULL);
	CHECK_STR(errs, "");
	if (c != NULL) {
		CHECK_STR(c->spool_dir, "/a \"b\" \\c #d");
		CHECK_STR(c->pid_file, "/x{y}");
		CHECK(config_domain(c, "x.example") != NULL);
	}
	config_free(c);

	/*
	 * Values longer than their buffer are errors, never truncated.
	 * (A path cannot overflow: a line is shorter than PATH_MAX.)
	 */
	{
		char t[4200], w[400];
		struct config *c2;

		memset(w, 'a', sizeof(w));
		w[0] = '/';
		w[sizeof(w) - 1] = '\0';
		snprintf(t, sizeof(t), "spool-dir %s\n", w);
		c2 = parse(t);
		CHECK(c2 != NULL && strcmp(c2->spool_dir, w) == 0);
		config_free(c2);

		/* 63 + '.' + 63 + '.' + 63 + '.' + 63 = 255 > 253 */
		memset(w, 'a', 255);
		w[63] = w[127] = w[191] = '.';
		w[255] = '\0';
		snprintf(t, sizeof(t), "hostname %s\n", w);
		CHECK(fails_with(t, "test.conf:1: hostname: invalid host name"));
		snprintf(t, sizeof(t), "domain %s {\n}\n", w);
		CHECK(fails_with(t, "test.conf:1: domain: invalid domain name"));

		memset(w, 'b', 64);
		w[64] = '\0';
		snprintf(t, sizeof(t), "domain x.example {\n"
		    "dkim selector %s algorithm rsa\n}\n", w);
		CHECK(fails_with(t, "test.conf:2: dkim: invalid selector"));
		w[63] = '\0';
		snprintf(t, sizeof(t), "domain x.example {\n"
		    "dkim selector %s algorithm rsa\n}\n", w);
		c2 = parse(t);
		CHECK(c2 != NULL);
		config_free(c2);

		memset(w, 'c', 256);
		w[256] = '\0';
		snprintf(t, sizeof(t), "domain x.example {\n"
		    "local-parts %s\n}\n", w);
		CHECK(fails_with(t, "test.conf:2: local-parts: pattern"));
		CHECK(strstr(errs, "too long") != NULL);

		snprintf(t, sizeof(t), "user smtpd %.33s\n", w);
		CHECK(fails_with(t, "test.conf:1: user: invalid user name"));
		snprintf(t, sizeof(t), "control-group %.33s\n", w);
		CHECK(fails_with(t, "test.conf:1: control-group: invalid group"));
		snprintf(t, sizeof(t), "listen on 2001:db8::%s port 25 plain\n",
		    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa");
		CHECK(fails_with(t, "test.conf:1: listen: bad address"));
		snprintf(t, sizeof(t), "resolver fe80::1%%%.60s\n", w);
		CHECK(fails_with(t, "test.conf:1: resolver: bad address"));
	}
}

static void
test_errors(void)
{
	/* Tokens and lines. */
	CHECK(fails_with("frobnicate yes\n",
	    "test.conf:1: unknown keyword 'frobnicate'"));
	CHECK(fails_with("\n\nspool-dir \"/var/spool\n",
	    "test.conf:3: unterminated quoted string"));
	CHECK(fails_with("spool-dir \"/a\\nb\"\n",
	    "test.conf:1: bad escape in quoted string"));
	CHECK(fails_with("spool-dir \"/a\"b\n",
	    "test.conf:1: missing space after quoted string"));
	CHECK(fails_with("spool-dir /a\"b\"\n",
	    "test.conf:1: quote inside a word"));
	CHECK(fails_with("spool-dir /a\x01\n",
	    "test.conf:1: control character in line"));

	/* Arguments. */
	CHECK(fails_with("hostname\n", "test.conf:1: hostname: missing "
	    "argument"));
	CHECK(fails_with("spool-dir /a /b\n", "test.conf:1: spool-dir: "
	    "extra argument '/b'"));
	CHECK(fails_with("spool-dir relative\n", "test.conf:1: spool-dir: "
	    "path must be absolute"));
	CHECK(fails_with("limit recipients 1x\n", "test.conf:1: limit "
	    "recipients: bad number '1x'"));
	CHECK(fails_with("limit recipients -1\n", "test.conf:1: limit "
	    "recipients: bad number '-1'"));
	CHECK(fails_with("limit recipients 0\n", "test.conf:1: limit "
	    "recipients: 0 is out of range"));
	CHECK(fails_with("limit recipients 99999999999999999999999\n",
	    "test.conf:1: limit recipients: bad number"));
	CHECK(fails_with("limit message-size 10X\n", "test.conf:1: limit "
	    "message-size: bad size '10X'"));
	CHECK(fails_with("limit message-size 10\n", "test.conf:1: limit "
	    "message-size: size '10' is out of range"));
	CHECK(fails_with("limit bogus 1\n", "test.conf:1: limit: unknown "
	    "limit 'bogus'"));
	CHECK(fails_with("limit\n", "test.conf:1: limit: missing "
	    "argument"));
	CHECK(fails_with("limit errors\n", "test.conf:1: limit errors: "
	    "missing argument"));
	CHECK(fails_with("timeout command 5x\n", "test.conf:1: timeout "
	    "command: bad duration '5x'"));
	CHECK(fails_with("timeout command 0\n", "test.conf:1: timeout "
	    "command: duration '0' is out of range"));
	CHECK(fails_with("timeout nap 5m\n", "test.conf:1: timeout: "
	    "unknown timeout 'nap'"));
	CHECK(fails_with("dkim-expire sometimes\n", "test.conf:1: "
	    "dkim-expire: bad duration 'sometimes'"));
	CHECK(fails_with("bare-lf maybe\n", "test.conf:1: bare-lf: "
	    "expected accept or reject, not 'maybe'"));
	CHECK(fails_with("user master root\n", "test.conf:1: user: unknown "
	    "process 'master'"));
	CHECK(fails_with("user smtpd \"bad user\"\n", "test.conf:1: user: "
	    "invalid user name"));
	CHECK(fails_with("hostname bad_host.example\n", "test.conf:1: "
	    "hostname: invalid host name"));
	CHECK(fails_with("dkim-headers To Subject\n", "test.conf:1: "
	    "dkim-headers: From must be signed"));
	CHECK(fails_with("dkim-headers From Bad:Name\n", "test.conf:1: "
	    "dkim-headers: invalid header field name 'Bad:Name'"));

	/* Listeners. */
	CHECK(fails_with("listen on 127.0.0.1 port 2525 plain no-auth\n"
	    "listen on 127.0.0.1 port 2525 plain no-auth\n",
	    "test.conf:2: listen: duplicate listener on 127.0.0.1 port 2525"));
	CHECK(fails_with("listen on ::1 port 2525 plain\n"
	    "listen on 0:0::1 port 2525 plain\n",
	    "test.conf:2: listen: duplicate listener"));
	CHECK(fails_with("listen on 192.0.2.1 port 2525 plain no-auth\n",
	    "test.conf:1: no-auth is allowed only on loopback addresses"));
	CHECK(fails_with("listen on :: port 2525 plain no-auth\n",
	    "test.conf:1: no-auth is allowed only on loopback addresses"));
	CHECK(fails_with("listen on 127.0.0.1 port 587 starttls\n",
	    "test.conf:1: listen: starttls listener requires certificate "
	    "and key"));
	CHECK(fails_with("listen on 127.0.0.1 port 465 tls "
	    "certificate /c.pem\n",
	    "test.conf:1: listen: tls listener requires certificate and key"));
	CHECK(fails_with("listen on 127.0.0.1 port 70000 plain\n",
	    "test.conf:1: listen: port 70000 out of range"));
	CHECK(fails_with("listen on 127.0.0.1 port 0 plain\n",
	    "test.conf:1: listen: port 0 out of range"));
	CHECK(fails_with("listen on 127.0.0.1 port x plain\n",
	    "test.conf:1: listen: bad port number 'x'"));
	CHECK(fails_with("listen on localhost port 25 plain\n",
	    "test.conf:1: listen: bad address 'localhost'"));
	CHECK(fails_with("listen on 127.1 port 25 plain\n",
	    "test.conf:1: listen: bad address '127.1'"));
	CHECK(fails_with("listen on 127.0.0.1 plain\n",
	    "test.conf:1: listen: missing port"));
	CHECK(fails_with("listen on 127.0.0.1 port 25\n",
	    "test.conf:1: listen: missing starttls, tls or plain"));
	CHECK(fails_with("listen on 127.0.0.1 port 25 plain tls\n",
	    "test.conf:1: listen: more than one of starttls, tls and plain"));
	CHECK(fails_with("listen on 127.0.0.1 port 25 plain shiny\n",
	    "test.conf:1: listen: unknown option 'shiny'"));
	CHECK(fails_with("listen at 127.0.0.1 port 25 plain\n",
	    "test.conf:1: listen: expected 'on'"));
	CHECK(fails_with("listen on 127.0.0.1 port 25 plain proxy-from\n",
	    "test.conf:1: listen: proxy-from: missing argument"));
	CHECK(fails_with("listen on 127.0.0.1 port 25 plain proxy-from "
	    "lb.example\n",
	    "test.conf:1: listen: proxy-from: bad address 'lb.example'"));
	CHECK(fails_with("listen on 127.0.0.1 port 25 plain "
	    "certificate /c key /k\n",
	    "test.conf:1: listen: a plain listener takes no certificate"));

	/* Domains. */
	CHECK(fails_with("domain a.example {\n}\ndomain A.Example {\n}\n",
	    "test.conf:3: domain: duplicate domain a.example"));
	CHECK(fails_with("domain exa_mple.com {\n}\n",
	    "test.conf:1: domain: invalid domain name 'exa_mple.com'"));
	CHECK(fails_with("domain -a.example {\n}\n",
	    "test.conf:1: domain: invalid domain name"));
	CHECK(fails_with("domain a..example {\n}\n",
	    "test.conf:1: domain: invalid domain name"));
	CHECK(fails_with("domain 192.0.2.1 {\n}\n",
	    "test.conf:1: domain: invalid domain name"));
	CHECK(fails_with("domain a.example\n",
	    "test.conf:1: domain: missing '{' at the end of the line"));
	CHECK(fails_with("domain a.example {\n"
	    "dkim selector s1 algorithm rsa active\n"
	    "dkim selector s2 algorithm ed25519 active\n"
	    "dkim selector s3 algorithm rsa active\n}\n",
	    "test.conf:4: dkim: selectors s1 and s3 are both active for rsa"));
	CHECK(fails_with("domain a.example {\n"
	    "dkim selector s1 algorithm rsa\n"
	    "dkim selector S1 algorithm ed25519\n}\n",
	    "test.conf:3: dkim: duplicate selector 'S1'"));
	CHECK(fails_with("domain a.example {\n"
	    "dkim selector s1 algorithm dsa\n}\n",
	    "test.conf:2: dkim: unknown algorithm 'dsa'"));
	CHECK(fails_with("domain a.example {\n"
	    "dkim selector s_1 algorithm rsa\n}\n",
	    "test.conf:2: dkim: invalid selector 's_1'"));
	CHECK(fails_with("domain a.example {\n"
	    "dkim selector s1 algorithm rsa enabled\n}\n",
	    "test.conf:2: dkim: extra argument 'enabled'"));
	CHECK(fails_with("domain a.example {\n"
	    "local-parts \"a b\"\n}\n",
	    "test.conf:2: local-parts: pattern 'a b' is not printable ASCII"));
	CHECK(fails_with("domain a.example {\nlocal-parts caf\xc3\xa9\n}\n",
	    "test.conf:2: local-parts: pattern 'caf?" "?' is not printable"));
	CHECK(fails_with("dkim selector s1 algorithm rsa\n",
	    "test.conf:1: 'dkim' is allowed only inside a domain block"));
	CHECK(fails_with("queue {\nlisten on ::1 port 25 plain\n}\n",
	    "test.conf:2: 'listen' is not allowed inside a queue block"));
	CHECK(fails_with("retry-max 1h\n",
	    "test.conf:1: 'retry-max' is allowed only inside a queue block"));
	CHECK(fails_with("queue {\nretry-max soon\n}\n",
	    "test.conf:2: retry-max: bad duration 'soon'"));

	/* Braces. */
	CHECK(fails_with("}\n", "test.conf:1: unbalanced braces: '}' without "
	    "an open block"));
	CHECK(fails_with("queue {\n\n", "test.conf:1: unbalanced braces: "
	    "block not closed"));
	CHECK(fails_with("\ndomain a.example {\ndkim selector s algorithm rsa\n",
	    "test.conf:2: unbalanced braces: block not closed"));
	CHECK(fails_with("hostname {\n}\n", "test.conf:1: hostname: takes "
	    "no block"));
	CHECK(fails_with("queue { retry-max 1h }\n", "test.conf:1: "
	    "unexpected '{'"));
	CHECK(fails_with("domain a.example {\ndomain b.example {\n}\n}\n",
	    "test.conf:2: 'domain' is not allowed inside a domain block"));
	CHECK(fails_with("{\n}\n", "test.conf:1: '{' without a keyword"));
	CHECK(fails_with("queue {\n} queue\n", "test.conf:2: extra argument "
	    "after '}'"));
	/* An unknown block is skipped whole: one error. */
	CHECK(fails_with("bogus {\n  nonsense {\n  }\n  more nonsense\n}\n",
	    "test.conf:1: unknown keyword 'bogus'"));

	/* Relay and routes. */
	CHECK(fails_with("relay via http://example.com\n",
	    "test.conf:1: relay: bad relay URL 'http://example.com': unknown "
	    "scheme"));
	CHECK(fails_with("relay via mx\nrelay via mx\n",
	    "test.conf:2: relay: already set at line 1"));
	CHECK(fails_with("relay via mx credentials /x\n",
	    "test.conf:1: relay: extra argument 'credentials'"));
	CHECK(fails_with("relay to mx\n", "test.conf:1: relay: expected "
	    "'via'"));
	CHECK(fails_with("relay via smtp://h.example cred /x\n",
	    "test.conf:1: relay: expected 'credentials PATH'"));
	CHECK(fails_with("route a.example via smtp://h.example tls maybe\n",
	    "test.conf:1: route: tls: expected required or verify"));
	CHECK(fails_with("route a.example via smtp://h.example\n"
	    "route A.example via smtp://i.example\n",
	    "test.conf:2: route: duplicate route for a.example"));
	CHECK(fails_with("route a_b via smtp://h.example\n",
	    "test.conf:1: route: invalid domain name"));
	CHECK(fails_with("resolver system 127.0.0.1\n",
	    "test.conf:1: resolver: extra argument '127.0.0.1'"));
	CHECK(fails_with("resolver dns.example\n",
	    "test.conf:1: resolver: bad address 'dns.example'"));
	CHECK(fails_with("resolver ::1 port 99999\n",
	    "test.conf:1: resolver: port 99999 out of range"));
	CHECK(fails_with("resolver 1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 "
	    "6.6.6.6 7.7.7.7 8.8.8.8 9.9.9.9\n",
	    "test.conf:1: resolver: too many addresses"));

	/* Bytes the file must not hold. */
	CHECK(fails_with("hostname a.example\nhostname b\x7f\n",
	    "test.conf:2: control character in line"));
	{
		static const char nul[] = "hostname a.example\n\nspool-dir /a\0b\n";
		struct config *c = parse_len(nul, sizeof(nul) - 1);

		CHECK(c == NULL);
		CHECK_STR(errs, "test.conf:3: NUL byte in line\n");
		config_free(c);
	}
	{
		char *t = malloc(8192);

		memset(t, ' ', 8192);
		memcpy(t, "hostname\nhostname x.example", 27);
		t[4095 + 9] = '#';	/* line 2 is 4096 bytes: fine */
		t[4096 + 9] = '\0';
		CHECK(fails_with(t, "test.conf:1: hostname: missing argument"));
		CHECK(strstr(errs, "test.conf:2:") == NULL);
		t[4096 + 9] = ' ';	/* 4097 bytes: too long */
		t[4097 + 9] = '\0';
		CHECK(parse(t) == NULL);
		CHECK_STR(errs, "test.conf:1: hostname: missing argument\n"
		    "test.conf:2: line too long (more than 4096 bytes)\n");
		free(t);
	}
}

static void
test_many_errors(void)
{
	struct config *c;

	c = parse("hostname ok.example\n"
	    "bogus\n"					/* 2 */
	    "listen on 10.0.0.1 port 25 plain no-auth\n"	/* 3 */
	    "domain good.example {\n"
	    "  dkim selector a algorithm rsa active\n"
	    "  dkim selector b algorithm rsa active\n"	/* 6 */
	    "  local-parts ok\n"
	    "}\n"
	    "domain bad!name {\n"			/* 9 */
	    "  dkim selector x algorithm none\n"	/* 10: still read */
	    "}\n"
	    "limit sessions many\n"			/* 12 */
	    "}\n"					/* 13 */
	    "spool-dir \"unterminated\n"		/* 14 */
	    "queue {\n"					/* 15: not closed */
	    "  crash-hold 0\n");			/* 16 */
	CHECK(c == NULL);
	CHECK_INT(nerrs(), 10);
	CHECK(strstr(errs, "test.conf:2: unknown keyword 'bogus'\n") != NULL);
	CHECK(strstr(errs, "test.conf:3: no-auth is allowed only on loopback "
	    "addresses\n") != NULL);
	CHECK(strstr(errs, "test.conf:6: dkim: selectors a and b are both "
	    "active for rsa\n") != NULL);
	CHECK(strstr(errs, "test.conf:9: domain: invalid domain name "
	    "'bad!name'\n") != NULL);
	CHECK(strstr(errs, "test.conf:10: dkim: unknown algorithm 'none'")
	    != NULL);
	CHECK(strstr(errs, "test.conf:12: limit sessions: bad number 'many'")
	    != NULL);
	CHECK(strstr(errs, "test.conf:13: unbalanced braces") != NULL);
	CHECK(strstr(errs, "test.conf:14: unterminated quoted string")
	    != NULL);
	CHECK(strstr(errs, "test.conf:16: crash-hold: 0 is out of range")
	    != NULL);
	CHECK(strstr(errs, "test.conf:15: unbalanced braces: block not "
	    "closed") != NULL);
}

static void
test_durations_sizes(void)
{
	time_t t = -2;
	uint64_t v = 7;

	CHECK_INT(config_parse_duration("0", &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(config_parse_duration("45", &t), 0);
	CHECK_INT(t, 45);
	CHECK_INT(config_parse_duration("30s", &t), 0);
	CHECK_INT(t, 30);
	CHECK_INT(config_parse_duration("5m", &t), 0);
	CHECK_INT(t, 300);
	CHECK_INT(config_parse_duration("1h", &t), 0);
	CHECK_INT(t, 3600);
	CHECK_INT(config_parse_duration("5d", &t), 0);
	CHECK_INT(t, 5 * 86400);
	CHECK_INT(config_parse_duration("007m", &t), 0);
	CHECK_INT(t, 420);
	t = -2;
	CHECK_INT(config_parse_duration("", &t), -1);
	CHECK_INT(config_parse_duration("m", &t), -1);
	CHECK_INT(config_parse_duration("5x", &t), -1);
	CHECK_INT(config_parse_duration("5mm", &t), -1);
	CHECK_INT(config_parse_duration("5 m", &t), -1);
	CHECK_INT(config_parse_duration("-5", &t), -1);
	CHECK_INT(config_parse_duration("+5", &t), -1);
	CHECK_INT(config_parse_duration(" 5", &t), -1);
	CHECK_INT(config_parse_duration("5M", &t), -1);
	CHECK_INT(config_parse_duration("1h30m", &t), -1);
	CHECK_INT(config_parse_duration("99999999999999999999999d", &t), -1);
	CHECK_INT(config_parse_duration("100000d", &t), -1);
	CHECK_INT(config_parse_duration(NULL, &t), -1);
	CHECK_INT(t, -2);

	CHECK_INT(config_parse_size("512", &v), 0);
	CHECK_INT(v, 512);
	CHECK_INT(config_parse_size("64K", &v), 0);
	CHECK_INT(v, 64 * 1024);
	CHECK_INT(config_parse_size("35M", &v), 0);
	CHECK_INT(v, 35 * 1024 * 1024);
	CHECK_INT(config_parse_size("1G", &v), 0);
	CHECK_INT(v, 1024 * 1024 * 1024);
	CHECK_INT(config_parse_size("2k", &v), 0);
	CHECK_INT(v, 2048);
	CHECK_INT(config_parse_size("0", &v), 0);
	CHECK_INT(v, 0);
	v = 7;
	CHECK_INT(config_parse_size("", &v), -1);
	CHECK_INT(config_parse_size("K", &v), -1);
	CHECK_INT(config_parse_size("1T", &v), -1);
	CHECK_INT(config_parse_size("1KB", &v), -1);
	CHECK_INT(config_parse_size("1.5M", &v), -1);
	CHECK_INT(config_parse_size("-1", &v), -1);
	CHECK_INT(config_parse_size("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	v = 7;
	CHECK_INT(config_parse_size("18446744073709551616", &v), -1);
	CHECK_INT(config_parse_size("17179869184G", &v), -1);
	CHECK_INT(config_parse_size(NULL, &v), -1);
	CHECK_INT(v, 7);
}

static void
test_hops(void)
{
	struct hop h;
	const char *err = NULL;

	CHECK_INT(config_parse_hop("smtp://mx.example.com", &h, &err), 0);
	CHECK_INT(h.tls, HOP_PLAIN);
	CHECK_STR(h.host, "mx.example.com");
	CHECK_INT(h.port, 25);
	CHECK_INT(config_parse_hop("smtp+starttls://Relay.Example:2587", &h,
	    &err), 0);
	CHECK_INT(h.tls, HOP_STARTTLS);
	CHECK_STR(h.host, "relay.example");
	CHECK_INT(h.port, 2587);
	CHECK_INT(config_parse_hop("smtp+starttls://relay.example", &h, &err),
	    0);
	CHECK_INT(h.port, 587);
	CHECK_INT(config_parse_hop("smtps://relay.example", &h, &err), 0);
	CHECK_INT(h.tls, HOP_SMTPS);
	CHECK_INT(h.port, 465);
	CHECK_INT(config_parse_hop("SMTPS://[::1]:10465", &h, &err), 0);
	CHECK_STR(h.host, "::1");
	CHECK_INT(h.port, 10465);
	CHECK_INT(config_parse_hop("smtp://[2001:DB8::1]", &h, &err), 0);
	CHECK_STR(h.host, "2001:db8::1");
	CHECK_INT(h.port, 25);
	CHECK_INT(config_parse_hop("smtp://192.0.2.1:65535", &h, &err), 0);
	CHECK_STR(h.host, "192.0.2.1");
	CHECK_INT(h.port, 65535);
	CHECK_INT(config_parse_hop("smtp://localhost", &h, &err), 0);

	err = NULL;
	CHECK_INT(config_parse_hop("http://x.example", &h, &err), -1);
	CHECK(err != NULL && strstr(err, "unknown scheme") != NULL);
	CHECK_INT(config_parse_hop("smtp:/x.example", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp+tls://x.example", &h, &err), -1);
	CHECK_INT(config_parse_hop("x.example", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://", &h, &err), -1);
	CHECK_STR(err, "missing host");
	CHECK_INT(config_parse_hop("smtp://:25", &h, &err), -1);
	CHECK_STR(err, "missing host");
	CHECK_INT(config_parse_hop("smtp://x.example:", &h, &err), -1);
	CHECK_STR(err, "missing or bad port");
	CHECK_INT(config_parse_hop("smtp://x.example:0", &h, &err), -1);
	CHECK_STR(err, "port out of range");
	CHECK_INT(config_parse_hop("smtp://x.example:65536", &h, &err), -1);
	CHECK_STR(err, "port out of range");
	CHECK_INT(config_parse_hop("smtp://x.example:123456", &h, &err), -1);
	CHECK_STR(err, "port out of range");
	CHECK_INT(config_parse_hop("smtp://x.example:2x", &h, &err), -1);
	CHECK_STR(err, "unexpected characters after host");
	CHECK_INT(config_parse_hop("smtp://x.example/", &h, &err), -1);
	CHECK_STR(err, "unexpected path after host");
	CHECK_INT(config_parse_hop("smtp://x.example?a", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://user:pw@x.example", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://user@x.example", &h, &err), -1);
	CHECK(err != NULL && strstr(err, "credentials") != NULL);
	CHECK_INT(config_parse_hop("smtp://::1", &h, &err), -1);
	CHECK_STR(err, "an IPv6 address must be in brackets");
	CHECK_INT(config_parse_hop("smtp://[::1", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://[x.example]", &h, &err), -1);
	CHECK_STR(err, "bad IPv6 address");
	CHECK_INT(config_parse_hop("smtp://[::1]x", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://bad_host.example", &h, &err), -1);
	CHECK_STR(err, "bad host name");
	CHECK_INT(config_parse_hop("smtp://1.2.3", &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://x..example", &h, &err), -1);
	CHECK_INT(config_parse_hop(NULL, &h, &err), -1);
	CHECK_INT(config_parse_hop("smtp://x.example:25", &h, NULL), 0);
	{
		char url[400];

		snprintf(url, sizeof(url), "smtp://%0300d.example", 0);
		CHECK_INT(config_parse_hop(url, &h, &err), -1);
		CHECK_STR(err, "host name too long");
	}
}

/* relay via URL: credentials and tls, in either order, each once. */
static void
test_smarthost_options(void)
{
	struct config *c;

	c = parse("relay via smtp+starttls://h.example credentials /x "
	    "tls verify\n");
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_INT(c->smarthost_flags,
		    ROUTE_TLS_REQUIRED | ROUTE_TLS_VERIFY);
		CHECK_STR(c->relay_credentials, "/x");
		config_free(c);
	}
	c = parse("relay via smtp://h.example tls required credentials /y\n");
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_INT(c->smarthost_flags, ROUTE_TLS_REQUIRED);
		CHECK_STR(c->relay_credentials, "/y");
		config_free(c);
	}
	c = parse("relay via smtp://h.example\n");
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_INT(c->smarthost_flags, 0);
		config_free(c);
	}
	CHECK(fails_with("relay via smtp://h.example tls maybe\n",
	    "test.conf:1: relay: tls: expected required or verify, not "
	    "'maybe'"));
	CHECK(fails_with("relay via smtp://h.example tls\n",
	    "test.conf:1: relay: expected 'credentials PATH' or 'tls "
	    "required|verify' after the URL, not 'tls'"));
	CHECK(fails_with("relay via smtp://h.example tls verify tls required\n",
	    "test.conf:1: relay: expected 'credentials PATH' or 'tls "
	    "required|verify' after the URL, not 'tls'"));
	CHECK(fails_with("relay via smtp://h.example credentials /a "
	    "credentials /b\n", "test.conf:1: relay: expected 'credentials "
	    "PATH' or 'tls required|verify' after the URL, not "
	    "'credentials'"));
	CHECK(fails_with("relay via smtp://h.example tls verify extra\n",
	    "test.conf:1: relay: expected 'credentials PATH' or 'tls "
	    "required|verify' after the URL, not 'extra'"));
	CHECK(fails_with("relay via smtp://h.example credentials /a tls "
	    "verify x y\n", "test.conf:1: relay: extra argument 'x'"));
}

static void
test_lookups(void)
{
	struct config *c;
	struct domain *d;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	c = parse("domain example.com {\n"
	    "  local-parts scans printer-? \"[ab]*\"\n"
	    "}\n"
	    "domain open.example {\n}\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	d = config_domain(c, "EXAMPLE.com");
	CHECK(d != NULL && strcmp(d->name, "example.com") == 0);
	CHECK(config_domain(c, "example.net") == NULL);
	CHECK(config_domain(c, "com") == NULL);
	CHECK(config_domain(c, NULL) == NULL);
	CHECK(config_domain(NULL, "example.com") == NULL);
	CHECK_INT(config_local_part_ok(d, "scans"), 1);
	CHECK_INT(config_local_part_ok(d, "SCANS"), 1);	/* insensitive */
	CHECK_INT(config_local_part_ok(d, "printer-1"), 1);
	CHECK_INT(config_local_part_ok(d, "printer-12"), 0);
	CHECK_INT(config_local_part_ok(d, "bob"), 1);
	CHECK_INT(config_local_part_ok(d, "carol"), 0);
	CHECK_INT(config_local_part_ok(d, ""), 0);
	CHECK_INT(config_local_part_ok(d, NULL), 0);
	CHECK_INT(config_local_part_ok(NULL, "scans"), 0);
	d = config_domain(c, "open.example");
	CHECK_INT(config_local_part_ok(d, "anyone"), 1);
	config_free(c);

	c = parse("local-part-case sensitive\n"
	    "domain example.com {\n  local-parts scans\n}\n");
	CHECK(c != NULL);
	d = config_domain(c, "example.com");
	CHECK_INT(config_local_part_ok(d, "scans"), 1);
	CHECK_INT(config_local_part_ok(d, "Scans"), 0);
	config_free(c);

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	CHECK_INT(config_is_loopback(&ss), 1);
	inet_pton(AF_INET, "127.255.1.2", &sin->sin_addr);
	CHECK_INT(config_is_loopback(&ss), 1);
	inet_pton(AF_INET, "128.0.0.1", &sin->sin_addr);
	CHECK_INT(config_is_loopback(&ss), 0);
	inet_pton(AF_INET, "0.0.0.0", &sin->sin_addr);
	CHECK_INT(config_is_loopback(&ss), 0);
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6->sin6_addr);
	CHECK_INT(config_is_loopback(&ss), 1);
	inet_pton(AF_INET6, "::ffff:127.0.0.2", &sin6->sin6_addr);
	CHECK_INT(config_is_loopback(&ss), 1);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6->sin6_addr);
	CHECK_INT(config_is_loopback(&ss), 0);
	inet_pton(AF_INET6, "::", &sin6->sin6_addr);
	CHECK_INT(config_is_loopback(&ss), 0);
	inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
	CHECK_INT(config_is_loopback(&ss), 0);
	ss.ss_family = AF_UNIX;
	CHECK_INT(config_is_loopback(&ss), 0);
	CHECK_INT(config_is_loopback(NULL), 0);
}

static void
test_listeners(void)
{
	struct config *c;
	struct listener *l;

	/* v4-mapped loopback may be no-auth; the two below differ. */
	c = parse("listen on ::ffff:127.0.0.1 port 25 plain no-auth\n"
	    "listen on 127.0.0.1 port 25 plain no-auth\n"
	    "listen on 127.0.0.2 port 25 plain\n"
	    "listen on 127.0.0.1 port 26 plain\n"
	    "listen on 0.0.0.0 port 587 starttls key /k certificate /c "
	    "proxy-from 10.0.0.1 10.0.0.2 port 588\n");
	CHECK(c == NULL);	/* port twice */
	CHECK_STR(errs, "test.conf:5: listen: port given twice\n");

	c = parse("listen on ::ffff:127.0.0.1 port 25 plain no-auth\n"
	    "listen on 127.0.0.1 port 25 plain no-auth\n"
	    "listen on 127.0.0.2 port 25 plain\n"
	    "listen on 127.0.0.1 port 26 plain\n"
	    "listen on 0.0.0.0 port 587 starttls key /k certificate /c "
	    "proxy-from 10.0.0.1 10.0.0.2\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_INT(c->nlisteners, 5);
	TAILQ_FOREACH(l, &c->listeners, entry)
		if (l->index == 4)
			break;
	CHECK(l != NULL);
	if (l != NULL) {
		CHECK_INT(l->nproxy, 2);
		CHECK_INT(l->auth, 1);
		CHECK_INT(l->port, 587);
	}
	config_free(c);

	/* At most CONF_MAX_LISTENERS. */
	{
		char t[4096];
		size_t n = 0;
		int i;

		for (i = 0; i <= CONF_MAX_LISTENERS; i++)
			n += (size_t)snprintf(t + n, sizeof(t) - n,
			    "listen on 127.0.0.1 port %d plain\n", 1000 + i);
		CHECK(fails_with(t, "test.conf:17: listen: too many "
		    "listeners"));
	}
}

static void
test_dkim_selectors(void)
{
	struct config *c;
	struct domain *d;
	struct dkim_sel *s;

	/* A single selector of an algorithm is active without saying so. */
	c = parse("domain a.example {\n"
	    "  dkim selector one algorithm ed25519\n"
	    "  dkim selector r1 algorithm rsa\n"
	    "  dkim selector r2 algorithm rsa\n"
	    "}\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	d = config_domain(c, "a.example");
	s = TAILQ_FIRST(&d->sels);
	CHECK_STR(s->selector, "one");
	CHECK_INT(s->active, 1);
	s = TAILQ_NEXT(s, entry);
	CHECK_INT(s->active, 0);
	s = TAILQ_NEXT(s, entry);
	CHECK_INT(s->active, 0);
	config_free(c);

	/* Same selector name in two domains is fine; dotted and numeric. */
	c = parse("domain a.example {\n dkim selector 2024.q1 algorithm rsa\n}\n"
	    "domain b.example {\n dkim selector 2024.q1 algorithm rsa\n}\n");
	CHECK(c != NULL);
	config_free(c);
}

static void
test_parse_file(void)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config *c;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f, *ef;
	int fd;

	fd = mkstemp(path);
	CHECK(fd != -1);
	if (fd == -1)
		return;
	f = fdopen(fd, "w");
	fputs(good_conf, f);
	fclose(f);
	c = config_parse_file(path, stderr);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_STR(c->file, path);
	config_free(c);

	f = fopen(path, "w");
	fputs("hostname ok.example\nhostname\n", f);
	fclose(f);
	ef = open_memstream(&out, &outlen);
	c = config_parse_file(path, ef);
	fclose(ef);
	CHECK(c == NULL);
	CHECK(out != NULL && strncmp(out, path, strlen(path)) == 0 &&
	    strcmp(out + strlen(path), ":2: hostname: missing argument\n") ==
	    0);
	free(out);
	unlink(path);

	out = NULL;
	ef = open_memstream(&out, &outlen);
	c = config_parse_file("/nonexistent/postern.conf", ef);
	fclose(ef);
	CHECK(c == NULL);
	CHECK(out != NULL && strncmp(out, "/nonexistent/postern.conf: ",
	    27) == 0);
	free(out);

	/* errf may be NULL. */
	CHECK(config_parse_buf("x", "bogus\n", 6, NULL) == NULL);
	CHECK(config_parse_file("/nonexistent/postern.conf", NULL) == NULL);
}

/* The sample installed as /etc/postern/postern.conf must stay valid. */
static void
test_sample_conf(void)
{
	struct config *c;
	struct listener *l;

	/* regress/run.py and make run the tests from the top directory. */
	c = config_parse_file("etc/postern.conf", stdout);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_INT(c->nlisteners, 2);
	l = TAILQ_FIRST(&c->listeners);
	CHECK(l != NULL && l->port == 587 && l->mode == LISTEN_STARTTLS &&
	    l->auth == 1 && strcmp(l->addr, "127.0.0.1") == 0 &&
	    strcmp(l->cert, "/etc/postern/tls/cert.pem") == 0 &&
	    strcmp(l->key, "/etc/postern/tls/key.pem") == 0);
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	CHECK(l != NULL && l->port == 465 && l->mode == LISTEN_TLS &&
	    strcmp(l->cert, "/etc/postern/tls/cert.pem") == 0);
	CHECK_INT(c->relay_mode, RELAY_MX);
	CHECK_INT(c->nresolvers, 0);
	config_free(c);
}

/* A small deterministic generator, so failures can be replayed. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_hostile(void)
{
	static const char *const pieces[] = {
		"domain ", "a.example", " {", "{", "}", "\n", "\"", "\\",
		"listen on ", "127.0.0.1", " port ", "25", " plain", " no-auth",
		"queue", "retry-max ", "5m", "dkim selector s algorithm rsa",
		" active", "local-parts ", "*", "relay via ", "smtp://[::1]:",
		"#", " ", "\t", "\r", "\0", "\xff", "limit message-size 1G",
		"route b.example via smtps://x", " tls verify", "resolver ",
		"dkim-headers From", "proxy-from ::1 ",
	};
	uint32_t seed = 0x2545f491;
	char *buf;
	size_t i, n, len, k;
	int round;

	buf = malloc(64 * 1024);
	if (buf == NULL)
		abort();

	/* Random bytes. */
	for (round = 0; round < 300; round++) {
		len = rnd(&seed) % 4096;
		for (i = 0; i < len; i++)
			buf[i] = (char)rnd(&seed);
		config_free(parse_len(buf, len));
	}
	/* Random grammar-shaped pieces, NULs included. */
	for (round = 0; round < 2000; round++) {
		len = 0;
		n = rnd(&seed) % 60;
		for (i = 0; i < n; i++) {
			const char *s = pieces[rnd(&seed) %
			    (sizeof(pieces) / sizeof(pieces[0]))];
			k = s[0] == '\0' ? 1 : strlen(s);
			memcpy(buf + len, s, k);
			len += k;
		}
		config_free(parse_len(buf, len));
	}
	/* Huge lines: quoted, bare, braces only, at and around the limit. */
	for (k = 4094; k <= 4098; k++) {
		memset(buf, '{', k);
		config_free(parse_len(buf, k));
		memset(buf, 'a', k);
		config_free(parse_len(buf, k));
		buf[0] = '"';
		config_free(parse_len(buf, k));
		buf[k - 1] = '"';
		config_free(parse_len(buf, k));
	}
	memset(buf, 'x', 64 * 1024);
	CHECK(parse_len(buf, 64 * 1024) == NULL);
	CHECK_STR(errs, "test.conf:1: line too long (more than 4096 bytes)\n");
	/* Deep braces and many of them. */
	for (i = 0; i < 32 * 1024; i += 2) {
		buf[i] = i < 16 * 1024 ? '{' : '}';
		buf[i + 1] = '\n';
	}
	config_free(parse_len(buf, 32 * 1024));
	/* Only NULs, only newlines, a missing last newline, len 0. */
	memset(buf, 0, 1000);
	CHECK(parse_len(buf, 1000) == NULL);
	memset(buf, '\n', 1000);
	config_free(parse_len(buf, 1000));
	config_free(config_parse_buf("t", "hostname x.example", 18, NULL));
	config_free(config_parse_buf("t", NULL, 0, NULL));
	/* Many domains (the duplicate check must not be quadratic). */
	{
		char *big = malloc(4 * 1024 * 1024);
		struct config *c;

		len = 0;
		for (i = 0; i < 50000; i++)
			len += (size_t)snprintf(big + len, 80,
			    "domain d%zu.example { }\n", i);
		len += (size_t)snprintf(big + len, 80,
		    "domain D17.example { }\n");
		c = parse_len(big, len);
		CHECK(c == NULL);
		CHECK_STR(errs, "test.conf:50001: domain: duplicate domain "
		    "d17.example\n");
		free(big);
	}
	free(buf);
}

int
main(void)
{
	RUN(test_good_file);
	RUN(test_defaults);
	RUN(test_words);
	RUN(test_errors);
	RUN(test_many_errors);
	RUN(test_durations_sizes);
	RUN(test_hops);
	RUN(test_smarthost_options);
	RUN(test_lookups);
	RUN(test_listeners);
	RUN(test_dkim_selectors);
	RUN(test_parse_file);
	RUN(test_sample_conf);
	RUN(test_hostile);
	return unit_done();
}
