/*
 * loadgen: postern's SMTP submission load generator (libtls + libevent).
 *
 *	loadgen -H addr -p port [-c sessions] [-m msgs-per-session]
 *	    [-z bytes] [-t plain|starttls|tls] [-u user -k token]
 *	    [-P] [-d seconds] [-w warmup-seconds] [-r rcpt] [-f from] [-I]
 *
 * -I: idle mode: open the sessions, authenticate, print "idle=N" once all
 * are authenticated, and hold them until killed (memory per session).
 *
 * Runs `sessions' concurrent sessions; each connects, (STARTTLS,) EHLO,
 * AUTH PLAIN, then sends `msgs' messages (realistic headers, a 76-column
 * text body of about `bytes' octets) and reconnects, until every session
 * did its messages once (-d 0) or until the duration ends (-d N: steady
 * state, only messages finished after the warm-up count).  -P pipelines
 * MAIL, RCPT and DATA in one write.
 *
 * Prints one line of key=value figures: messages (in the measured window),
 * seconds, msg/s, the acceptance latency (final "." to the 250) at
 * p50/p90/p99/max in ms, connection errors, reply timeouts (60 s), every
 * message accepted (warm-up included), and errors by reply code.  Nothing about the server is assumed beyond RFC
 * 5321: it is also pointed at a trivial sink to show it is not the
 * bottleneck.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <tls.h>

enum mode { M_PLAIN, M_STARTTLS, M_TLS };

enum step {
	S_TLSCONNECT,	/* implicit TLS: the handshake comes before the 220 */
	S_GREETING, S_EHLO, S_STARTTLS, S_HANDSHAKE, S_EHLO2, S_AUTH,
	S_MAIL, S_RCPT, S_DATA, S_BODY, S_QUIT, S_DONE
};

struct sess {
	int		 fd;
	struct tls	*tls;
	struct event	*ev;
	enum step	 step;
	int		 sent;		/* messages done in this connection */
	char		 in[8192];
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outoff, outcap;
	int		 want_write;
	double		 t_dot;
	int		 pipelined;	/* replies still expected */
};

static struct event_base *base;
static struct tls_config *tlsconf;
static struct sockaddr_in sin_srv;
static enum mode mode = M_STARTTLS;
static int nsess = 50, nmsg = 20, pipelining, duration, warmup;
static size_t msgsize = 2048;
static const char *user, *token, *rcpt = "sink@dest.test", *from;
static char authline[1024];
static char *body;
static size_t bodylen;
static double t_start, t_measure, t_end;
static long done_msgs, measured;
static double *lat;
static size_t nlat, latcap;
static long errors[600], conn_errors, timeouts;
static int active, stopping, once, idle, nidle;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
out_add(struct sess *s, const char *p, size_t n)
{
	if (s->outlen + n > s->outcap) {
		s->outcap = (s->outlen + n) * 2;
		if ((s->out = realloc(s->out, s->outcap)) == NULL)
			abort();
	}
	memcpy(s->out + s->outlen, p, n);
	s->outlen += n;
}

static void sess_start(void);
static void sess_io(evutil_socket_t, short, void *);

/*
 * Every wait has a limit: a server whose listen queue overflowed can drop
 * a connection the client believes open, and a session must not wait for
 * a greeting forever.  Idle sessions (-I) wait without one.
 */
#define REPLY_TIMEOUT	60

static void
sess_arm(struct sess *s, int write)
{
	struct timeval tv = { REPLY_TIMEOUT, 0 };

	event_del(s->ev);
	event_assign(s->ev, base, s->fd, (write ? EV_WRITE : EV_READ) |
	    EV_TIMEOUT, sess_io, s);
	event_add(s->ev, s->step == S_DONE && idle ? NULL : &tv);
}

static void idle_report(void);

static void
sess_close(struct sess *s, int failed)
{
	if (failed)
		conn_errors++;
	if (idle)
		idle_report();
	if (s->tls != NULL) {
		tls_close(s->tls);
		tls_free(s->tls);
	}
	close(s->fd);
	event_free(s->ev);
	free(s->out);
	free(s);
	active--;
	if (!stopping && !once)
		sess_start();
	else if (active == 0)
		event_base_loopexit(base, NULL);
}

static void
queue_message(struct sess *s)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "MAIL FROM:<%s> SIZE=%zu\r\n", from,
	    bodylen);
	out_add(s, buf, n);
	n = snprintf(buf, sizeof(buf), "RCPT TO:<%s>\r\n", rcpt);
	if (pipelining) {
		out_add(s, buf, n);
		out_add(s, "DATA\r\n", 6);
		s->pipelined = 3;
	}
	s->step = S_MAIL;
}

static void
record(double ms)
{
	if (nlat == latcap) {
		latcap = latcap ? latcap * 2 : 4096;
		if ((lat = realloc(lat, latcap * sizeof(*lat))) == NULL)
			abort();
	}
	lat[nlat++] = ms;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* In idle mode, say once how many sessions are held. */
static void
idle_report(void)
{
	static int said;

	if (said || nidle + conn_errors < nsess)
		return;
	said = 1;
	printf("idle=%d failed=%ld\n", nidle, conn_errors);
	fflush(stdout);
}

/* One complete reply with code `code' arrived. */
static int
sess_reply(struct sess *s, int code)
{
	char buf[512];
	int n;

	switch (s->step) {
	case S_GREETING:
		if (code != 220)
			return -1;
		out_add(s, "EHLO loadgen.test\r\n", 19);
		s->step = S_EHLO;
		break;
	case S_EHLO:
		if (code != 250)
			return -1;
		if (mode == M_STARTTLS) {
			out_add(s, "STARTTLS\r\n", 10);
			s->step = S_STARTTLS;
			break;
		}
		/* FALLTHROUGH */
	case S_EHLO2:
		if (code != 250)
			return -1;
		if (user != NULL) {
			out_add(s, authline, strlen(authline));
			s->step = S_AUTH;
		} else
			queue_message(s);
		break;
	case S_STARTTLS:
		if (code != 220)
			return -1;
		if ((s->tls = tls_client()) == NULL ||
		    tls_configure(s->tls, tlsconf) == -1 ||
		    tls_connect_socket(s->tls, s->fd, "postern.test") == -1)
			return -1;
		s->step = S_HANDSHAKE;
		break;
	case S_AUTH:
		if (code != 235) {
			errors[code]++;
			return -1;
		}
		if (idle) {
			/* Hold the authenticated session open and quiet. */
			s->step = S_DONE;
			nidle++;
			idle_report();
			break;
		}
		queue_message(s);
		break;
	case S_MAIL:
		if (code != 250) {
			errors[code]++;
			return -1;
		}
		if (!pipelining) {
			n = snprintf(buf, sizeof(buf), "RCPT TO:<%s>\r\n", rcpt);
			out_add(s, buf, n);
		}
		s->step = S_RCPT;
		break;
	case S_RCPT:
		if (code != 250) {
			errors[code]++;
			return -1;
		}
		if (!pipelining)
			out_add(s, "DATA\r\n", 6);
		s->step = S_DATA;
		break;
	case S_DATA:
		if (code != 354) {
			errors[code]++;
			return -1;
		}
		out_add(s, body, bodylen);
		s->t_dot = -1;	/* set when the last byte is written */
		s->step = S_BODY;
		break;
	case S_BODY:
		if (code != 250) {
			errors[code]++;
		} else {
			double t = now();

			done_msgs++;
			if (t >= t_measure && (duration == 0 || t < t_end)) {
				measured++;
				record((t - s->t_dot) * 1000);
			}
		}
		s->sent++;
		if (duration && now() >= t_end)
			stopping = 1;
		if (stopping || s->sent >= nmsg) {
			out_add(s, "QUIT\r\n", 6);
			s->step = S_QUIT;
		} else
			queue_message(s);
		break;
	case S_QUIT:
		s->step = S_DONE;
		return 1;
	default:
		return -1;
	}
	return 0;
}

static void
sess_io(evutil_socket_t fd, short ev, void *arg)
{
	struct sess *s = arg;
	ssize_t n;
	char *nl, *line;
	int r;

	if (ev & EV_TIMEOUT) {
		timeouts++;
		sess_close(s, 1);
		return;
	}
	if (s->step == S_TLSCONNECT) {
		r = tls_handshake(s->tls);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
			sess_arm(s, r == TLS_WANT_POLLOUT);
			return;
		}
		if (r == -1) {
			fprintf(stderr, "handshake: %s\n", tls_error(s->tls));
			sess_close(s, 1);
			return;
		}
		s->step = S_GREETING;
	}
	if (s->step == S_HANDSHAKE) {
		r = tls_handshake(s->tls);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
			sess_arm(s, r == TLS_WANT_POLLOUT);
			return;
		}
		if (r == -1) {
			fprintf(stderr, "handshake: %s\n", tls_error(s->tls));
			sess_close(s, 1);
			return;
		}
		out_add(s, "EHLO loadgen.test\r\n", 19);
		s->step = S_EHLO2;
	}
	/* Write what is pending. */
	while (s->outoff < s->outlen) {
		if (s->tls)
			n = tls_write(s->tls, s->out + s->outoff,
			    s->outlen - s->outoff);
		else
			n = write(s->fd, s->out + s->outoff,
			    s->outlen - s->outoff);
		if (n == TLS_WANT_POLLOUT || (n == -1 && !s->tls &&
		    errno == EAGAIN)) {
			sess_arm(s, 1);
			return;
		}
		if (n == TLS_WANT_POLLIN)
			break;
		if (n <= 0) {
			sess_close(s, 1);
			return;
		}
		s->outoff += n;
	}
	if (s->outoff == s->outlen) {
		s->outoff = s->outlen = 0;
		if (s->step == S_BODY && s->t_dot < 0)
			s->t_dot = now();
	}
	/* Read replies. */
	if (s->tls)
		n = tls_read(s->tls, s->in + s->inlen,
		    sizeof(s->in) - 1 - s->inlen);
	else
		n = read(s->fd, s->in + s->inlen, sizeof(s->in) - 1 - s->inlen);
	if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT ||
	    (n == -1 && !s->tls && errno == EAGAIN)) {
		sess_arm(s, n == TLS_WANT_POLLOUT || s->outlen > 0);
		return;
	}
	if (n <= 0) {
		sess_close(s, s->step != S_DONE && s->step != S_QUIT);
		return;
	}
	s->inlen += n;
	s->in[s->inlen] = '\0';
	line = s->in;
	while ((nl = strstr(line, "\r\n")) != NULL) {
		*nl = '\0';
		if (strlen(line) >= 4 && line[3] == ' ') {
			r = sess_reply(s, atoi(line));
			if (r != 0) {
				sess_close(s, r < 0);
				return;
			}
			if (s->step == S_HANDSHAKE) {
				s->inlen = 0;
				sess_io(fd, ev, s);
				return;
			}
		}
		line = nl + 2;
	}
	memmove(s->in, line, s->in + s->inlen - line);
	s->inlen = s->in + s->inlen - line;
	sess_arm(s, s->outlen > 0);
	if (s->outlen > 0)
		event_active(s->ev, EV_WRITE, 0);
}

static void
sess_start(void)
{
	struct sess *s;
	int one = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&sin_srv, sizeof(sin_srv)) ==
	    -1 && errno != EINPROGRESS) {
		perror("connect");
		exit(1);
	}
	s->ev = event_new(base, s->fd, EV_READ, sess_io, s);
	active++;
	if (mode == M_TLS) {
		if ((s->tls = tls_client()) == NULL ||
		    tls_configure(s->tls, tlsconf) == -1 ||
		    tls_connect_socket(s->tls, s->fd, "postern.test") == -1) {
			fprintf(stderr, "tls setup failed\n");
			exit(1);
		}
	}
	if (mode == M_TLS) {
		s->step = S_TLSCONNECT;
		sess_arm(s, 1);
	} else {
		s->step = S_GREETING;
		sess_arm(s, 0);
	}
}

static void
make_body(void)
{
	char line[80], hdr[1024];
	size_t n;
	int i, hl;

	hl = snprintf(hdr, sizeof(hdr),
	    "From: Load Generator <%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: Scanned document from the office printer\r\n"
	    "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <%08x.%08x@loadgen.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n", from, rcpt, arc4random(), arc4random());
	if ((body = malloc(msgsize + hl + 200)) == NULL)
		abort();
	memcpy(body, hdr, hl);
	n = hl;
	/* 76 columns of text and CRLF per line. */
	for (i = 0; n < msgsize; i++) {
		static const char text[] = "The quick brown fox jumps over "
		    "the lazy dog while the office printer scans. ";

		snprintf(line, sizeof(line), "%04d %-71.71s\r\n", i % 10000,
		    text);
		memcpy(body + n, line, 78);
		n += 78;
	}
	memcpy(body + n, ".\r\n", 3);
	bodylen = n + 3;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -H addr -p port [-c sessions] "
	    "[-m msgs] [-z bytes] [-t plain|starttls|tls] [-u user -k token] "
	    "[-P] [-d seconds] [-w warmup] [-r rcpt] [-f from]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *host = NULL;
	char plain[600], b64[900];
	int ch, port = 0, i, n;
	double elapsed;
	struct timeval tv;

	while ((ch = getopt(argc, argv, "H:Ip:c:m:z:t:u:k:Pd:w:r:f:")) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'I': idle = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'c': nsess = atoi(optarg); break;
		case 'm': nmsg = atoi(optarg); break;
		case 'z': msgsize = strtoul(optarg, NULL, 10); break;
		case 't':
			mode = strcmp(optarg, "plain") == 0 ? M_PLAIN :
			    strcmp(optarg, "tls") == 0 ? M_TLS : M_STARTTLS;
			break;
		case 'u': user = optarg; break;
		case 'k': token = optarg; break;
		case 'P': pipelining = 1; break;
		case 'd': duration = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'r': rcpt = optarg; break;
		case 'f': from = optarg; break;
		default: usage();
		}
	}
	if (host == NULL || port == 0 || nsess < 1 || nmsg < 1)
		usage();
	if (from == NULL)
		from = user ? user : "loadgen@example.com";
	memset(&sin_srv, 0, sizeof(sin_srv));
	sin_srv.sin_family = AF_INET;
	sin_srv.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sin_srv.sin_addr) != 1)
		usage();
	if (user != NULL) {
		n = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, user, 0,
		    token ? token : "");
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain,
		    n);
		snprintf(authline, sizeof(authline), "AUTH PLAIN %s\r\n", b64);
	}
	make_body();
	if ((tlsconf = tls_config_new()) == NULL)
		abort();
	tls_config_insecure_noverifycert(tlsconf);
	tls_config_insecure_noverifyname(tlsconf);
	/* Resume sessions, as real clients that reconnect do. */
	tls_config_set_session_lifetime(tlsconf, 0);

	base = event_base_new();
	t_start = now();
	t_measure = t_start + warmup;
	t_end = duration ? t_measure + duration : 0;
	once = duration == 0;	/* each session runs once */
	if (idle) {
		struct rlimit rl = { nsess + 64, nsess + 64 };

		setrlimit(RLIMIT_NOFILE, &rl);
		once = 1;
	}
	for (i = 0; i < nsess; i++)
		sess_start();
	if (duration) {
		tv.tv_sec = warmup + duration + 120;
		tv.tv_usec = 0;
		event_base_loopexit(base, &tv);
	}
	event_base_dispatch(base);
	elapsed = (duration ? duration : now() - t_start);
	if (duration == 0)
		measured = done_msgs;
	qsort(lat, nlat, sizeof(*lat), cmpd);
#define PCT(p) (nlat ? lat[(size_t)((nlat - 1) * (p))] : 0.0)
	printf("messages=%ld seconds=%.2f msgs_per_s=%.1f p50_ms=%.2f "
	    "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f conn_errors=%ld "
	    "timeouts=%ld accepted=%ld",
	    measured, elapsed, measured / elapsed, PCT(0.50), PCT(0.90),
	    PCT(0.99), nlat ? lat[nlat - 1] : 0.0, conn_errors, timeouts,
	    done_msgs);
	for (i = 0; i < 600; i++)
		if (errors[i])
			printf(" err_%d=%ld", i, errors[i]);
	printf("\n");
	return conn_errors || measured == 0 ? 1 : 0;
}
