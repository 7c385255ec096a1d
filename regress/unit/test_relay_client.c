/*
 * test_relay_client: relayd's SMTP client against scripted servers.
 *
 * Each case starts a small blocking SMTP server in a child process on
 * 127.0.0.1 (plain, STARTTLS or implicit TLS with a certificate made by
 * openssl(1) for the test), whose replies the case scripts: refusals,
 * no PIPELINING, no 8BITMIME, SIZE, AUTH, slow replies, a close in the
 * middle of DATA, and hostile replies (thousands of lines, over-long
 * lines, garbage, a broken TLS handshake, data injected after STARTTLS).
 * The server writes what it received to a log and the message bodies to
 * files; the case then checks the client's results and that log.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "unit.h"
#include "relayd/relay_client.h"
#include "relayd/relay_data.h"
#include "lib/base64.h"

static char	tmpdir[] = "/tmp/postern-rc.XXXXXX";
static char	certfile[256], keyfile[256];
static int	have_cert;
static struct event_base *base;
static struct tls_config *cli_noverify, *cli_verify;

/*
 * The scripted server.
 */

enum hostile {
	H_NONE = 0,
	H_EHLO_LINES,		/* 5000-line reply to EHLO */
	H_LONG_LINE,		/* a 10000-octet greeting */
	H_GARBAGE,		/* a greeting that is no SMTP reply */
	H_TLS_GARBAGE,		/* 220 to STARTTLS, then no TLS at all */
	H_INJECT,		/* a reply queued right after 220 STARTTLS */
	H_CLOSE_IN_DATA,	/* 354, some data, then close */
	H_SILENT_EHLO,		/* never answers EHLO */
};

struct script {
	const char	*greeting;	/* default "220 srv ESMTP" */
	const char	*ehlo;		/* default: PIPELINING 8BITMIME ... */
	const char	*helo;
	const char	*mail;
	const char	*rcpt;
	const char	*rcpt_bad;	/* "addr=reply" */
	const char	*data;
	const char	*dot;
	const char	*rset;
	int		 starttls;	/* offer STARTTLS */
	int		 implicit;	/* TLS from the first byte */
	int		 auth;		/* 1: AUTH PLAIN LOGIN, 2: LOGIN */
	int		 delay_dot;	/* seconds before the final reply */
	enum hostile	 hostile;
	int		 nconn;		/* connections to serve (default 1) */
};

struct sconn {
	int		 fd;
	struct tls	*tls;
	unsigned char	 buf[65536];
	size_t		 len;
	FILE		*log;
};

static pid_t	srv_pid = -1;
static int	srv_port;
static char	srv_log[300];

static ssize_t
s_read(struct sconn *s, void *p, size_t n)
{
	ssize_t r;

	if (s->tls == NULL)
		return read(s->fd, p, n);
	do {
		r = tls_read(s->tls, p, n);
	} while (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT);
	return r;
}

static void
s_write(struct sconn *s, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (s->tls == NULL)
			r = write(s->fd, p, n);
		else
			r = tls_write(s->tls, p, n);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT)
			continue;
		if (r <= 0)
			_exit(0);
		p += r;
		n -= r;
	}
}

static void
s_printf(struct sconn *s, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s_write(s, buf, n);
}

/* A line with its line end, in line (NUL-terminated); 0 at EOF. */
static size_t
s_getline(struct sconn *s, char *line, size_t linesz)
{
	unsigned char *lf;
	size_t n;
	ssize_t r;

	while ((lf = memchr(s->buf, '\n', s->len)) == NULL) {
		if (s->len == sizeof(s->buf))
			_exit(3);
		r = s_read(s, s->buf + s->len, sizeof(s->buf) - s->len);
		if (r <= 0)
			return 0;
		s->len += r;
	}
	n = lf - s->buf + 1;
	if (n >= linesz)
		_exit(3);
	memcpy(line, s->buf, n);
	line[n] = '\0';
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	return n;
}

/* How many whole lines wait in the buffer (pipelining shows here). */
static int
s_buffered_lines(struct sconn *s)
{
	size_t i;
	int n = 0;

	for (i = 0; i < s->len; i++)
		if (s->buf[i] == '\n')
			n++;
	return n;
}

static int
s_tls_accept(struct sconn *s, struct tls *srv)
{
	if (tls_accept_socket(srv, &s->tls, s->fd) == -1)
		return -1;
	if (tls_handshake(s->tls) == -1) {
		fprintf(s->log, "T: handshake failed: %s\n",
		    tls_error(s->tls));
		return -1;
	}
	fprintf(s->log, "T: %s\n", tls_conn_version(s->tls));
	return 0;
}

static void
s_ehlo(struct sconn *s, const struct script *sc)
{
	int i;

	if (sc->hostile == H_EHLO_LINES) {
		for (i = 0; i < 5000; i++)
			s_printf(s, "250-X-LINE-%d\r\n", i);
		s_printf(s, "250 OK\r\n");
		return;
	}
	if (sc->hostile == H_SILENT_EHLO) {
		sleep(30);
		_exit(0);
	}
	if (sc->ehlo != NULL) {
		s_printf(s, "%s\r\n", sc->ehlo);
		return;
	}
	s_printf(s, "250-srv.test hello\r\n");
	if (sc->starttls && s->tls == NULL)
		s_printf(s, "250-STARTTLS\r\n");
	if (sc->auth)
		s_printf(s, "250-AUTH %s\r\n", sc->auth == 2 ? "LOGIN" :
		    "PLAIN LOGIN");
	s_printf(s, "250-SIZE 100000\r\n250-PIPELINING\r\n"
	    "250-SMTPUTF8\r\n250 8BITMIME\r\n");
}

static void
s_auth(struct sconn *s, const char *line)
{
	char buf[1024], want[256];
	unsigned char dec[1024];
	size_t n;

	if (strncasecmp(line, "AUTH PLAIN ", 11) == 0) {
		n = strcspn(line + 11, "\r\n");
		if (base64_decode(line + 11, n, dec, sizeof(dec), &n) == 0 &&
		    n == 15 && memcmp(dec, "\0alice\0s3cr3t x", 15) == 0)
			s_printf(s, "235 2.7.0 ok\r\n");
		else
			s_printf(s, "535 5.7.8 bad\r\n");
		return;
	}
	/* AUTH LOGIN */
	s_printf(s, "334 VXNlcm5hbWU6\r\n");
	if (s_getline(s, buf, sizeof(buf)) == 0)
		_exit(0);
	n = strcspn(buf, "\r\n");
	if (base64_decode(buf, n, dec, sizeof(dec), &n) == -1)
		n = 0;
	snprintf(want, sizeof(want), "%.*s", (int)n, dec);
	fprintf(s->log, "U: %s\n", want);
	s_printf(s, "334 UGFzc3dvcmQ6\r\n");
	if (s_getline(s, buf, sizeof(buf)) == 0)
		_exit(0);
	n = strcspn(buf, "\r\n");
	if (base64_decode(buf, n, dec, sizeof(dec), &n) == 0 && n == 8 &&
	    memcmp(dec, "s3cr3t x", 8) == 0 && strcmp(want, "alice") == 0)
		s_printf(s, "235 2.7.0 ok\r\n");
	else
		s_printf(s, "535 5.7.8 bad\r\n");
}

static void
s_data(struct sconn *s, const struct script *sc, int *nbody)
{
	char line[8192], path[400];
	FILE *f;
	size_t n;

	if (sc->data != NULL) {
		s_printf(s, "%s\r\n", sc->data);
		return;
	}
	s_printf(s, "354 go ahead\r\n");
	if (sc->hostile == H_CLOSE_IN_DATA) {
		s_getline(s, line, sizeof(line));
		_exit(0);
	}
	snprintf(path, sizeof(path), "%s/body.%d", tmpdir, ++*nbody);
	if ((f = fopen(path, "w")) == NULL)
		_exit(4);
	while ((n = s_getline(s, line, sizeof(line))) > 0) {
		if (strcmp(line, ".\r\n") == 0)
			break;
		fwrite(line, 1, n, f);
	}
	fclose(f);
	if (n == 0)
		_exit(0);
	if (sc->delay_dot)
		sleep(sc->delay_dot);
	s_printf(s, "%s\r\n", sc->dot ? sc->dot : "250 2.0.0 queued");
}

static void
s_session(struct sconn *s, const struct script *sc, struct tls *srv,
    int *nbody)
{
	char line[8192], verb[16];
	size_t i;

	if (sc->implicit && s_tls_accept(s, srv) == -1)
		return;
	switch (sc->hostile) {
	case H_LONG_LINE:
		s_printf(s, "220 ");
		for (i = 0; i < 10000; i++)
			s_write(s, "a", 1);
		s_printf(s, "\r\n");
		break;
	case H_GARBAGE:
		s_printf(s, "hello there, this is no SMTP server\r\n");
		break;
	default:
		s_printf(s, "%s\r\n", sc->greeting ? sc->greeting :
		    "220 srv.test ESMTP");
	}
	while (s_getline(s, line, sizeof(line)) > 0) {
		fprintf(s->log, "C: %.*s\n", (int)strcspn(line, "\r\n"),
		    line);
		for (i = 0; i < sizeof(verb) - 1 && isalpha((unsigned char)
		    line[i]); i++)
			verb[i] = toupper((unsigned char)line[i]);
		verb[i] = '\0';
		if (strcmp(verb, "EHLO") == 0)
			s_ehlo(s, sc);
		else if (strcmp(verb, "HELO") == 0)
			s_printf(s, "%s\r\n", sc->helo ? sc->helo :
			    "250 srv.test");
		else if (strcmp(verb, "STARTTLS") == 0) {
			if (sc->hostile == H_INJECT) {
				s_printf(s, "220 go\r\n250 injected\r\n");
				continue;
			}
			s_printf(s, "220 2.0.0 go ahead\r\n");
			if (sc->hostile == H_TLS_GARBAGE) {
				s_printf(s, "this is not TLS\r\n");
				sleep(1);
				return;
			}
			s->len = 0;
			if (s_tls_accept(s, srv) == -1)
				return;
		} else if (strcmp(verb, "AUTH") == 0)
			s_auth(s, line);
		else if (strcmp(verb, "MAIL") == 0) {
			fprintf(s->log, "P: %d\n", s_buffered_lines(s));
			s_printf(s, "%s\r\n", sc->mail ? sc->mail :
			    "250 2.1.0 ok");
		} else if (strcmp(verb, "RCPT") == 0) {
			const char *r = sc->rcpt ? sc->rcpt : "250 2.1.5 ok";
			size_t alen;

			if (sc->rcpt_bad != NULL) {
				alen = strcspn(sc->rcpt_bad, "=");
				if (strncmp(line + 9, sc->rcpt_bad, alen) == 0
				    && line[9 + alen] == '>')
					r = sc->rcpt_bad + alen + 1;
			}
			s_printf(s, "%s\r\n", r);
		} else if (strcmp(verb, "DATA") == 0)
			s_data(s, sc, nbody);
		else if (strcmp(verb, "RSET") == 0) {
			fprintf(s->log, "R: %d\n", s_buffered_lines(s));
			s_printf(s, "%s\r\n", sc->rset ? sc->rset :
			    "250 2.0.0 ok");
		}
		else if (strcmp(verb, "QUIT") == 0) {
			s_printf(s, "221 2.0.0 bye\r\n");
			return;
		} else
			s_printf(s, "500 5.5.1 what?\r\n");
	}
}

static void
srv_child(int lfd, const struct script *sc)
{
	struct tls_config *cfg;
	struct tls *srv = NULL;
	struct sconn s;
	int i, n = sc->nconn ? sc->nconn : 1, nbody = 0;
	FILE *log;

	signal(SIGPIPE, SIG_IGN);
	if ((log = fopen(srv_log, "w")) == NULL)
		_exit(2);
	setvbuf(log, NULL, _IONBF, 0);
	if (have_cert) {
		cfg = tls_config_new();
		if (tls_config_set_keypair_file(cfg, certfile, keyfile) == -1)
			_exit(2);
		srv = tls_server();
		if (tls_configure(srv, cfg) == -1)
			_exit(2);
	}
	for (i = 0; i < n; i++) {
		memset(&s, 0, sizeof(s));
		s.log = log;
		if ((s.fd = accept(lfd, NULL, NULL)) == -1)
			_exit(2);
		fprintf(log, "N: connection %d\n", i + 1);
		s_session(&s, sc, srv, &nbody);
		if (s.tls != NULL) {
			tls_close(s.tls);
			tls_free(s.tls);
		}
		close(s.fd);
	}
	_exit(0);
}

static void
srv_start(const struct script *sc)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd;

	snprintf(srv_log, sizeof(srv_log), "%s/srv.log", tmpdir);
	unlink(srv_log);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
		printf("# listen: %s\n", strerror(errno));
		exit(1);
	}
	srv_port = ntohs(sin.sin_port);
	if ((srv_pid = fork()) == 0)
		srv_child(lfd, sc);
	close(lfd);
}

/* Stop the server; its log, whole, in a static buffer. */
static const char *
srv_stop(void)
{
	static char buf[1 << 20];
	FILE *f;
	size_t n = 0;

	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	buf[0] = '\0';
	if ((f = fopen(srv_log, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int
count_str(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

/*
 * The client side.
 */

#define NRCPT	3

struct run {
	struct relay_client *c;
	struct relay_msg msg[2];
	struct relay_rcpt rcpt[2][NRCPT];
	int		 nmsg;		/* messages to send in a row */
	int		 sent;
	int		 ready, failed, done, closed;
	struct relay_failure fail;
	char		 tls[32];
	int		 reusable;
};

static struct run run;

static void
client_cb(struct relay_client *c, enum relay_client_event ev, void *arg)
{
	const char *v;

	switch (ev) {
	case RC_EV_READY:
		run.ready++;
		relay_client_send(c, &run.msg[run.sent++]);
		return;
	case RC_EV_FAILED:
		run.failed++;
		run.fail = *relay_client_failure(c);
		break;
	case RC_EV_DONE:
		run.done++;
		if ((v = relay_client_tls(c)) != NULL)
			strlcpy(run.tls, v, sizeof(run.tls));
		run.reusable = relay_client_reusable(c);
		if (run.sent < run.nmsg && run.reusable) {
			relay_client_send(c, &run.msg[run.sent++]);
			return;
		}
		break;
	case RC_EV_CLOSED:
		run.closed++;
		break;
	}
	event_base_loopbreak(base);
}

static int
message_fd(const char *text)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/msg", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	close(fd);
	return open(path, O_RDONLY);
}

static const char default_body[] =
	"From: a@example.com\r\n"
	"Subject: test\r\n"
	"\r\n"
	".a line with a dot\r\n"
	"..two dots\r\n"
	"\r\n"
	".\r\n"
	"end\r\n";

/* The same on the wire, dot-stuffed (the server stores it raw). */
static const char default_wire[] =
	"From: a@example.com\r\n"
	"Subject: test\r\n"
	"\r\n"
	"..a line with a dot\r\n"
	"...two dots\r\n"
	"\r\n"
	"..\r\n"
	"end\r\n";

/* Set up run for one message to rcpts ("a@x b@x"), with a body. */
static void
run_prepare(const char *rcpts, const char *body, uint32_t flags, int nmsg)
{
	char list[256], *p, *save = NULL;
	int m, i;

	memset(&run, 0, sizeof(run));
	run.nmsg = nmsg;
	for (m = 0; m < nmsg; m++) {
		strlcpy(list, rcpts, sizeof(list));
		i = 0;
		for (p = strtok_r(list, " ", &save); p && i < NRCPT;
		    p = strtok_r(NULL, " ", &save)) {
			strlcpy(run.rcpt[m][i].addr, p,
			    sizeof(run.rcpt[m][i].addr));
			run.rcpt[m][i].index = i;
			i++;
		}
		run.msg[m].qid = "TESTQID";
		run.msg[m].sender = "sender@example.com";
		run.msg[m].bodyflags = flags;
		run.msg[m].fd = message_fd(body ? body : default_body);
		run.msg[m].size = strlen(body ? body : default_body);
		run.msg[m].rcpt = run.rcpt[m];
		run.msg[m].nrcpt = i;
	}
}

static void
run_client(struct relay_policy *polp)
{
	struct relay_policy pol;
	struct dns_target t;
	struct timeval tv = { 30, 0 };
	int m;

	if (polp == NULL) {
		memset(&pol, 0, sizeof(pol));
		pol.tls = RC_TLS_TRY;
		polp = &pol;
	}
	polp->helo = "client.test";
	if (polp->to_connect == 0)
		polp->to_connect = 5;
	if (polp->to_command == 0)
		polp->to_command = 5;
	polp->to_data_block = polp->to_data_end = polp->to_command;
	polp->tls_noverify = cli_noverify;
	polp->tls_verify = cli_verify;
	if (dns_parse_literal("127.0.0.1", srv_port, &t) == -1)
		exit(1);
	strlcpy(t.host, "srv.test", sizeof(t.host));
	run.c = relay_client_new(base, &t, polp, client_cb, NULL);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	relay_client_free(run.c);
	for (m = 0; m < run.nmsg; m++)
		close(run.msg[m].fd);
}

/*
 * The commonest case: one message to a@x.test, against a server playing
 * sc, under pol (NULL: the default policy).  Returns the server's log.
 */
static const char *
deliver_one(const struct script *sc, struct relay_policy *pol)
{
	srv_start(sc);
	run_prepare("a@x.test", NULL, 0, 1);
	run_client(pol);
	return srv_stop();
}

static char *
read_body(int n)
{
	static char buf[65536];
	char path[300];
	FILE *f;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/body.%d", tmpdir, n);
	buf[0] = '\0';
	if ((f = fopen(path, "r")) != NULL) {
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[len] = '\0';
	return buf;
}

/*
 * The cases.
 */

static void
test_pipelined_delivery(void)
{
	struct script sc = { 0 };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, BODY_8BIT, 1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.done, 1);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK_INT(run.rcpt[0][1].status, RELAY_DELIVERED);
	CHECK_INT(run.rcpt[0][0].code, 250);
	CHECK_STR(run.rcpt[0][0].enhanced, "2.0.0");
	CHECK_STR(run.rcpt[0][0].text, "queued");
	/* MAIL came with both RCPTs behind it, in one go. */
	CHECK(strstr(log, "P: 2\n") != NULL);
	CHECK(strstr(log, "C: MAIL FROM:<sender@example.com> SIZE=") !=
	    NULL);
	CHECK(strstr(log, "BODY=8BITMIME") != NULL);
	CHECK(strstr(log, "C: RCPT TO:<b@x.test>") != NULL);
	/* Dot-stuffed on the wire. */
	CHECK_STR(read_body(1), default_wire);
	CHECK(run.reusable);
}

static void
test_no_pipelining(void)
{
	struct script sc = { .ehlo = "250-srv.test\r\n250 8BITMIME" };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, 0, 1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strstr(log, "P: 0\n") != NULL);
	CHECK(strstr(log, "SIZE=") == NULL);
	CHECK(strstr(log, "BODY=") == NULL);
	CHECK_STR(read_body(1), default_wire);
}

static void
test_prefix_and_missing_crlf(void)
{
	struct script sc = { 0 };
	static const unsigned char prefix[] =
	    "DKIM-Signature: v=1; a=ed25519-sha256;\r\n b=abc\r\n";

	srv_start(&sc);
	run_prepare("a@x.test", "Subject: x\r\n\r\n.no final line end", 0, 1);
	run.msg[0].prefix = prefix;
	run.msg[0].prefixlen = sizeof(prefix) - 1;
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK_STR(read_body(1), "DKIM-Signature: v=1; a=ed25519-sha256;\r\n"
	    " b=abc\r\nSubject: x\r\n\r\n..no final line end\r\n");
}

static void
test_rcpt_results(void)
{
	struct script sc = { .rcpt_bad = "bad@x.test=550 5.1.1 no such user" };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test bad@x.test c@x.test", NULL, 0, 1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK_INT(run.rcpt[0][1].status, RELAY_PERMFAIL);
	CHECK_INT(run.rcpt[0][1].code, 550);
	CHECK_STR(run.rcpt[0][1].enhanced, "5.1.1");
	CHECK_STR(run.rcpt[0][1].text, "no such user");
	CHECK_INT(run.rcpt[0][2].status, RELAY_DELIVERED);
	CHECK_INT(count_str(log, "C: DATA"), 1);
}

static void
test_all_rcpts_refused(void)
{
	struct script sc = { .rcpt = "450 4.2.1 try later" };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, 0, 1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_TEMPFAIL);
	CHECK_INT(run.rcpt[0][1].status, RELAY_TEMPFAIL);
	CHECK_STR(run.rcpt[0][1].enhanced, "4.2.1");
	/* Nobody accepted: no DATA. */
	CHECK(strstr(log, "C: DATA") == NULL);
	CHECK(run.reusable);
}

static void
test_mail_refused(void)
{
	struct script sc = { .mail = "553 5.1.8 sender refused" };

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, 0, 1);
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_PERMFAIL);
	CHECK_INT(run.rcpt[0][1].status, RELAY_PERMFAIL);
	CHECK_INT(run.rcpt[0][1].code, 553);
	CHECK_STR(run.rcpt[0][1].text, "sender refused");
}

static void
test_data_and_dot_replies(void)
{
	struct script sc = { .dot = "554 5.7.1 spam" };
	struct script sc2 = { .data = "451 4.3.0 no space" };

	deliver_one(&sc, NULL);
	CHECK_INT(run.rcpt[0][0].status, RELAY_PERMFAIL);
	CHECK_STR(run.rcpt[0][0].text, "spam");

	deliver_one(&sc2, NULL);
	CHECK_INT(run.rcpt[0][0].status, RELAY_TEMPFAIL);
	CHECK_INT(run.rcpt[0][0].code, 451);
}

static void
test_helo_fallback_and_8bit(void)
{
	struct script sc = { .ehlo = "502 5.5.2 no EHLO here" };
	const char *log;

	/* HELO works, and a 7-bit message goes through. */
	log = deliver_one(&sc, NULL);
	CHECK(strstr(log, "C: HELO client.test") != NULL);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);

	/* An 8-bit one cannot: no 8BITMIME after HELO. */
	srv_start(&sc);
	run_prepare("a@x.test", NULL, BODY_8BIT, 1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_PERMFAIL);
	CHECK_STR(run.rcpt[0][0].enhanced, "5.6.3");
	CHECK(strstr(run.rcpt[0][0].text, "8BITMIME") != NULL);
	CHECK(strstr(log, "C: MAIL") == NULL);
}

static void
test_smtputf8_and_size(void)
{
	struct script sc = { .ehlo = "250-srv.test\r\n250-8BITMIME\r\n"
	    "250 SIZE 100" };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test", "Subject: x\r\n\r\nshort\r\n", BODY_SMTPUTF8,
	    1);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_PERMFAIL);
	CHECK_STR(run.rcpt[0][0].enhanced, "5.6.7");
	CHECK(strstr(log, "C: MAIL") == NULL);

	srv_start(&sc);
	run_prepare("a@x.test", NULL, 0, 1);
	run.msg[0].size = 101;
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_PERMFAIL);
	CHECK_STR(run.rcpt[0][0].enhanced, "5.3.4");
}

static void
test_greeting_refused(void)
{
	struct script sc = { .greeting = "554 5.3.2 no service" };
	struct script sc2 = { .greeting = "421 4.3.2 busy" };

	deliver_one(&sc, NULL);
	CHECK_INT(run.failed, 1);
	CHECK_INT(run.fail.status, RELAY_PERMFAIL);
	CHECK_INT(run.fail.code, 554);
	CHECK(run.fail.next);
	CHECK(strstr(run.fail.text, "no service") != NULL);

	deliver_one(&sc2, NULL);
	CHECK_INT(run.fail.status, RELAY_TEMPFAIL);
}

static void
test_connect_refused(void)
{
	struct script sc = { 0 };

	/* A port nobody listens on any more. */
	srv_start(&sc);
	srv_stop();
	run_prepare("a@x.test", NULL, 0, 1);
	run_client(NULL);
	CHECK_INT(run.failed, 1);
	CHECK_INT(run.fail.status, RELAY_TEMPFAIL);
	CHECK_STR(run.fail.enhanced, "4.4.1");
	CHECK(run.fail.next);
}

static void
test_close_in_data(void)
{
	struct script sc = { .hostile = H_CLOSE_IN_DATA };

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, 0, 1);
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.done, 1);
	CHECK_INT(run.rcpt[0][0].status, RELAY_TEMPFAIL);
	CHECK_INT(run.rcpt[0][1].status, RELAY_TEMPFAIL);
	CHECK(strstr(run.rcpt[0][0].text, "lost connection") != NULL);
	CHECK(!run.reusable);
}

static void
test_slow_reply_times_out(void)
{
	struct script sc = { .delay_dot = 4 };
	struct relay_policy pol = { .tls = RC_TLS_TRY, .to_command = 1 };

	srv_start(&sc);
	run_prepare("a@x.test", NULL, 0, 1);
	/* data-end is twice the command timeout in relayd; 1 s here. */
	run_client(&pol);
	srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_TEMPFAIL);
	CHECK(strstr(run.rcpt[0][0].text, "timed out") != NULL);
}

static void
hostile_case(enum hostile h, const char *expect)
{
	struct script sc = { .hostile = h };
	struct relay_policy pol = { .tls = RC_TLS_TRY, .to_command = 2 };

	deliver_one(&sc, &pol);
	CHECK_INT(run.failed, 1);
	CHECK_INT(run.fail.status, RELAY_TEMPFAIL);
	if (strstr(run.fail.text, expect) == NULL) {
		printf("#   hostile %d: \"%s\"\n", h, run.fail.text);
		CHECK(0);
	}
}

static void
test_hostile_servers(void)
{
	hostile_case(H_EHLO_LINES, "reply too long");
	hostile_case(H_LONG_LINE, "lost connection");
	hostile_case(H_GARBAGE, "lost connection");
	hostile_case(H_SILENT_EHLO, "timed out");
}

static void
test_starttls(void)
{
	struct script sc = { .starttls = 1 };
	const char *log;

	if (!have_cert)
		return;
	log = deliver_one(&sc, NULL);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strncmp(run.tls, "TLSv1.", 6) == 0);
	CHECK(strstr(log, "T: TLSv1.") != NULL);
	/* EHLO again after the handshake (RFC 3207 4.2). */
	CHECK_INT(count_str(log, "C: EHLO"), 2);
	CHECK_STR(read_body(1), default_wire);
}

static void
test_starttls_not_tried_or_required(void)
{
	struct script sc = { .starttls = 1 };
	struct script plain = { 0 };
	struct relay_policy no = { .tls = RC_TLS_NO };
	struct relay_policy req = { .tls = RC_TLS_REQUIRE };
	const char *log;

	if (!have_cert)
		return;
	/* A destination whose TLS failed before: no STARTTLS. */
	log = deliver_one(&sc, &no);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strstr(log, "STARTTLS") == NULL);
	CHECK_STR(run.tls, "");

	/* Required, and not offered. */
	log = deliver_one(&plain, &req);
	CHECK_INT(run.failed, 1);
	CHECK_STR(run.fail.enhanced, "4.7.4");
	CHECK(strstr(log, "C: MAIL") == NULL);
}

static void
test_tls_failures(void)
{
	struct script garbage = { .starttls = 1, .hostile = H_TLS_GARBAGE };
	struct script inject = { .starttls = 1, .hostile = H_INJECT };
	struct script selfsigned = { .starttls = 1 };
	struct relay_policy verify = { .tls = RC_TLS_REQUIRE, .verify = 1 };

	if (!have_cert)
		return;
	deliver_one(&garbage, NULL);
	CHECK_INT(run.failed, 1);
	CHECK_INT(run.fail.status, RELAY_TEMPFAIL);
	CHECK(run.fail.tls_failed);
	CHECK_STR(run.fail.enhanced, "4.7.5");

	deliver_one(&inject, NULL);
	CHECK_INT(run.failed, 1);
	CHECK(strstr(run.fail.text, "injection") != NULL);

	/* Verification on: a self-signed certificate does not pass. */
	deliver_one(&selfsigned, &verify);
	CHECK_INT(run.failed, 1);
	CHECK_STR(run.fail.enhanced, "4.7.5");
	CHECK(!run.fail.tls_failed);	/* required: nothing to remember */
}

static void
test_implicit_tls(void)
{
	struct script sc = { .implicit = 1 };
	struct relay_policy pol = { .tls = RC_TLS_IMPLICIT };

	if (!have_cert)
		return;
	deliver_one(&sc, &pol);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strncmp(run.tls, "TLSv1.", 6) == 0);
}

static void
test_auth(void)
{
	struct script plain = { .starttls = 1, .auth = 1 };
	struct script login = { .starttls = 1, .auth = 2 };
	struct script notls = { .auth = 1 };
	struct relay_policy pol = { .tls = RC_TLS_TRY, .user = "alice",
	    .pass = "s3cr3t x" };
	struct relay_policy bad = pol;
	const char *log;

	if (!have_cert)
		return;
	log = deliver_one(&plain, &pol);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strstr(log, "C: AUTH PLAIN ") != NULL);

	/* A wrong password: a temporary failure, never a bounce. */
	bad.pass = "wrong";
	deliver_one(&plain, &bad);
	CHECK_INT(run.failed, 1);
	CHECK_INT(run.fail.status, RELAY_TEMPFAIL);
	CHECK_INT(run.fail.code, 535);

	/* AUTH LOGIN when PLAIN is not offered. */
	log = deliver_one(&login, &pol);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK(strstr(log, "U: alice") != NULL);

	/* Credentials never go over a connection without TLS. */
	log = deliver_one(&notls, &pol);
	CHECK_INT(run.failed, 1);
	CHECK_STR(run.fail.enhanced, "4.7.4");
	CHECK(strstr(log, "AUTH") == NULL);
}

static void
test_reuse_with_rset(void)
{
	struct script sc = { 0 };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test", NULL, 0, 2);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.done, 2);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK_INT(run.rcpt[1][0].status, RELAY_DELIVERED);
	CHECK_INT(count_str(log, "N: connection"), 1);
	CHECK_INT(count_str(log, "C: RSET"), 1);
	CHECK_INT(count_str(log, "C: MAIL"), 2);
	/* With PIPELINING, MAIL and RCPT come in one go with the RSET. */
	CHECK(strstr(log, "R: 2\n") != NULL);
}

static void
test_reuse_rset_alone_without_pipelining(void)
{
	struct script sc = { .ehlo = "250-srv.test\r\n250 8BITMIME" };
	const char *log;

	srv_start(&sc);
	run_prepare("a@x.test", NULL, 0, 2);
	run_client(NULL);
	log = srv_stop();
	CHECK_INT(run.done, 2);
	CHECK_INT(run.rcpt[1][0].status, RELAY_DELIVERED);
	CHECK(strstr(log, "R: 0\n") != NULL);
}

/*
 * An RSET refused on a reused session fails the set-up, not the
 * message, even with MAIL and RCPT sent behind it: the recipients stay
 * without a result, for a fresh session, and the replies to the rest of
 * the group are not taken for theirs.
 */
static void
test_reuse_rset_refused_in_group(void)
{
	struct script sc = { .rset = "421 4.3.2 going away" };

	srv_start(&sc);
	run_prepare("a@x.test", NULL, 0, 2);
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.done, 1);
	CHECK_INT(run.rcpt[0][0].status, RELAY_DELIVERED);
	CHECK_INT(run.failed, 1);
	CHECK(run.fail.reuse);
	CHECK_INT(run.rcpt[1][0].status, 0);
}

static void
test_421_during_rcpt(void)
{
	struct script sc = { .rcpt = "421 4.3.2 shutting down" };

	srv_start(&sc);
	run_prepare("a@x.test b@x.test", NULL, 0, 1);
	run_client(NULL);
	srv_stop();
	CHECK_INT(run.rcpt[0][0].status, RELAY_TEMPFAIL);
	CHECK_INT(run.rcpt[0][1].status, RELAY_TEMPFAIL);
	CHECK(!run.reusable);
}

static void
test_dot_stuffing(void)
{
	unsigned char out[64], prev = '\n';
	size_t n;

	n = relay_data_stuff(&prev, (const unsigned char *)".a\r\n.\r\nb.",
	    10, out);
	CHECK_INT(n, 12);
	CHECK(memcmp(out, "..a\r\n..\r\nb.", 12) == 0);
	/* Across calls: the line start is remembered. */
	prev = '\r';
	n = relay_data_stuff(&prev, (const unsigned char *)"\n.x", 3, out);
	CHECK(memcmp(out, "\n..x", 4) == 0);
	/* Bare LF and bare CR start lines too. */
	prev = 'x';
	n = relay_data_stuff(&prev, (const unsigned char *)"a\n.\r.", 5,
	    out);
	CHECK_INT(n, 7);
	CHECK(memcmp(out, "a\n..\r..", 7) == 0);
}

static void
make_cert(void)
{
	char cmd[1024];

	snprintf(certfile, sizeof(certfile), "%s/cert.pem", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=srv.test "
	    "-keyout %s -out %s >/dev/null 2>&1", keyfile, certfile);
	have_cert = system(cmd) == 0;
	if (!have_cert)
		printf("# openssl failed: TLS cases skipped\n");
}

int
main(void)
{
	char cmd[300];

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	base = event_base_new();
	make_cert();
	cli_noverify = tls_config_new();
	tls_config_insecure_noverifycert(cli_noverify);
	tls_config_insecure_noverifyname(cli_noverify);
	cli_verify = tls_config_new();

	RUN(test_dot_stuffing);
	RUN(test_pipelined_delivery);
	RUN(test_no_pipelining);
	RUN(test_prefix_and_missing_crlf);
	RUN(test_rcpt_results);
	RUN(test_all_rcpts_refused);
	RUN(test_mail_refused);
	RUN(test_data_and_dot_replies);
	RUN(test_helo_fallback_and_8bit);
	RUN(test_smtputf8_and_size);
	RUN(test_greeting_refused);
	RUN(test_connect_refused);
	RUN(test_close_in_data);
	RUN(test_slow_reply_times_out);
	RUN(test_hostile_servers);
	RUN(test_starttls);
	RUN(test_starttls_not_tried_or_required);
	RUN(test_tls_failures);
	RUN(test_implicit_tls);
	RUN(test_auth);
	RUN(test_reuse_with_rset);
	RUN(test_reuse_rset_alone_without_pipelining);
	RUN(test_reuse_rset_refused_in_group);
	RUN(test_421_during_rcpt);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return unit_done();
}
