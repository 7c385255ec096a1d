/*
 * benchsink: the trivial SMTP server of the benchmarks.
 *
 *	benchsink -H addr -p port [-t plain|starttls|tls -c cert -k key]
 *	    [-o counter-file] [-s save-first-message-file]
 *
 * Answers every command with success (AUTH with 235), advertises
 * PIPELINING, 8BITMIME, SMTPUTF8, SIZE and STARTTLS, reads DATA to the
 * final dot, and counts messages.  The count is written to the counter
 * file (rewritten at most every 100 ms and at exit) so that a benchmark
 * knows when every accepted message has arrived.  It serves two roles:
 * the receiving end of relayed mail, and a server no MTA can beat, to
 * show the load generator is not the bottleneck.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

enum { M_PLAIN, M_STARTTLS, M_TLS };

struct conn {
	int		 fd;
	struct tls	*tls;
	struct event	*ev;
	int		 indata;
	int		 handshaking;
	int		 authcont;
	char		 in[65536];
	size_t		 inlen;
	char		 out[4096];
	size_t		 outlen;
	FILE		*save;
};

static struct event_base *base;
static struct tls *tlsserver;
static int mode = M_PLAIN;
static long count;
static const char *counterfile, *savefile;
static int saved;

static void conn_io(evutil_socket_t, short, void *);

static void
write_count(void)
{
	char tmp[4096], buf[32];
	int fd, n;

	if (counterfile == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", counterfile);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", count);
	if (write(fd, buf, n) == n)
		rename(tmp, counterfile);
	close(fd);
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	static long last = -1;

	if (count != last) {
		write_count();
		last = count;
	}
}

static void
conn_free(struct conn *c)
{
	if (c->tls) {
		tls_close(c->tls);
		tls_free(c->tls);
	}
	if (c->save)
		fclose(c->save);
	close(c->fd);
	event_free(c->ev);
	free(c);
}

static void
reply(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->outlen + n <= sizeof(c->out)) {
		memcpy(c->out + c->outlen, s, n);
		c->outlen += n;
	}
}

static int
flush_out(struct conn *c)
{
	ssize_t n;
	size_t off = 0;

	while (off < c->outlen) {
		n = c->tls ? tls_write(c->tls, c->out + off, c->outlen - off) :
		    write(c->fd, c->out + off, c->outlen - off);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT ||
		    (n == -1 && errno == EAGAIN))
			continue;	/* small replies: spin briefly */
		if (n <= 0)
			return -1;
		off += n;
	}
	c->outlen = 0;
	return 0;
}

/* Returns 1 when STARTTLS begins. */
static int
command(struct conn *c, char *line)
{
	if (c->authcont) {
		c->authcont = 0;
		reply(c, "235 2.7.0 ok\r\n");
	} else if (strncasecmp(line, "EHLO", 4) == 0) {
		reply(c, "250-benchsink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250-SMTPUTF8\r\n250-SIZE 104857600\r\n"
		    "250-ENHANCEDSTATUSCODES\r\n");
		if (mode == M_STARTTLS && c->tls == NULL)
			reply(c, "250-STARTTLS\r\n");
		reply(c, "250 AUTH PLAIN LOGIN\r\n");
	} else if (strncasecmp(line, "HELO", 4) == 0)
		reply(c, "250 benchsink\r\n");
	else if (strncasecmp(line, "STARTTLS", 8) == 0 && mode == M_STARTTLS &&
	    c->tls == NULL) {
		reply(c, "220 2.0.0 go ahead\r\n");
		return 1;
	} else if (strncasecmp(line, "AUTH", 4) == 0) {
		if (strchr(line + 5, ' ') == NULL) {
			c->authcont = 1;
			reply(c, "334 \r\n");
		} else
			reply(c, "235 2.7.0 ok\r\n");
	} else if (strncasecmp(line, "DATA", 4) == 0) {
		c->indata = 1;
		if (savefile && !saved)
			c->save = fopen(savefile, "w");
		reply(c, "354 go\r\n");
	} else if (strncasecmp(line, "QUIT", 4) == 0)
		reply(c, "221 2.0.0 bye\r\n");
	else
		reply(c, "250 2.0.0 ok\r\n");
	return 0;
}

static void
conn_io(evutil_socket_t fd, short ev, void *arg)
{
	struct conn *c = arg;
	char *line, *nl;
	ssize_t n;
	int r;

	if (c->handshaking) {
		r = tls_handshake(c->tls);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT)
			return;
		if (r == -1) {
			conn_free(c);
			return;
		}
		c->handshaking = 0;
		if (c->outlen && flush_out(c) == -1) {	/* the greeting */
			conn_free(c);
			return;
		}
	}
	n = c->tls ? tls_read(c->tls, c->in + c->inlen,
	    sizeof(c->in) - 1 - c->inlen) :
	    read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT ||
	    (n == -1 && errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	c->inlen += n;
	c->in[c->inlen] = '\0';
	line = c->in;
	while ((nl = memchr(line, '\n', c->in + c->inlen - line)) != NULL) {
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (c->indata) {
			if (strcmp(line, ".") == 0) {
				c->indata = 0;
				count++;
				if (c->save) {
					fclose(c->save);
					c->save = NULL;
					saved = 1;
				}
				reply(c, "250 2.0.0 ok\r\n");
			} else if (c->save)
				fprintf(c->save, "%s\r\n", line[0] == '.' ?
				    line + 1 : line);
		} else if (command(c, line)) {
			if (flush_out(c) == -1 ||
			    tls_accept_socket(tlsserver, &c->tls, c->fd) == -1) {
				conn_free(c);
				return;
			}
			c->handshaking = 1;
			c->inlen = 0;
			return;
		}
		line = nl + 1;
	}
	memmove(c->in, line, c->in + c->inlen - line);
	c->inlen = c->in + c->inlen - line;
	if (c->inlen == sizeof(c->in) - 1)
		c->inlen = 0;	/* an absurd line: drop it */
	if (c->outlen && flush_out(c) == -1) {
		conn_free(c);
		return;
	}
	if (c->tls && !c->handshaking)
		event_active(c->ev, EV_READ, 0);	/* buffered TLS data */
}

static void
on_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct conn *c;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) == -1)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->ev = event_new(base, fd, EV_READ | EV_PERSIST, conn_io, c);
	event_add(c->ev, NULL);
	if (mode == M_TLS) {
		if (tls_accept_socket(tlsserver, &c->tls, fd) == -1) {
			conn_free(c);
			return;
		}
		c->handshaking = 1;
	}
	reply(c, "220 benchsink ESMTP\r\n");
	if (c->tls)
		return;		/* the greeting goes after the handshake */
	if (flush_out(c) == -1)
		conn_free(c);
}

static void
on_term(evutil_socket_t sig, short ev, void *arg)
{
	write_count();
	exit(0);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct tls_config *cfg;
	struct event *ev, *tick, *term;
	struct timeval tv = { 0, 100000 };
	const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
	int ch, fd, port = 0, one = 1;

	while ((ch = getopt(argc, argv, "H:p:t:c:k:o:s:")) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 't':
			mode = strcmp(optarg, "tls") == 0 ? M_TLS :
			    strcmp(optarg, "starttls") == 0 ? M_STARTTLS :
			    M_PLAIN;
			break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'o': counterfile = optarg; break;
		case 's': savefile = optarg; break;
		default:
			fprintf(stderr, "usage: benchsink -H addr -p port "
			    "[-t plain|starttls|tls -c cert -k key] [-o file] "
			    "[-s file]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (mode != M_PLAIN) {
		if ((cfg = tls_config_new()) == NULL ||
		    tls_config_set_keypair_file(cfg, cert, key) == -1 ||
		    (tlsserver = tls_server()) == NULL ||
		    tls_configure(tlsserver, cfg) == -1) {
			fprintf(stderr, "benchsink: tls setup failed\n");
			return 1;
		}
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, host, &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1) {
		perror("benchsink: bind");
		return 1;
	}
	base = event_base_new();
	ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, NULL);
	event_add(ev, NULL);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &tv);
	term = evsignal_new(base, SIGTERM, on_term, NULL);
	evsignal_add(term, NULL);
	write_count();
	event_base_dispatch(base);
	return 0;
}
