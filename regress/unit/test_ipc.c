/*
 * test_ipc.c: the framing between processes (lib/ipc.c) and the
 * marshalling helpers, against honest and hostile peers.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "proto.h"
#include "unit.h"

struct got {
	int		 nmsg;
	uint32_t	 type[64];
	size_t		 len[64];
	uint32_t	 peerid[64];
	int		 fd[64];
	unsigned char	 first[64];
	int		 errors;
	char		 why[256];
	int		 free_in_dispatch;
};

static struct event_base *base;

static void
on_msg(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct got *g = arg;

	if (g->nmsg < 64) {
		g->type[g->nmsg] = m->type;
		g->len[g->nmsg] = m->len;
		g->peerid[g->nmsg] = m->peerid;
		g->fd[g->nmsg] = m->fd;
		g->first[g->nmsg] = m->len ? m->data[0] : 0;
	} else if (m->fd != -1)
		close(m->fd);
	g->nmsg++;
	if (g->free_in_dispatch)
		ipc_free(ipc);
}

static void
on_err(struct ipc *ipc, const char *why, void *arg)
{
	struct got *g = arg;

	g->errors++;
	strlcpy(g->why, why, sizeof(g->why));
}

/* Run the loop until nothing is pending or a short time passed. */
static void
spin(void)
{
	struct timeval tv = { 0, 50000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
pair(int sp[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
}

static void
raw_send(int fd, uint32_t type, uint32_t len, uint32_t flags, const void *p,
    size_t plen, int passfd)
{
	uint32_t hdr[4] = { type, len, 7, flags };
	unsigned char buf[IPC_MAX_MSG + 64];
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;

	memcpy(buf, hdr, sizeof(hdr));
	if (plen)
		memcpy(buf + sizeof(hdr), p, plen);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(hdr) + plen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (passfd != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_len = CMSG_LEN(sizeof(int));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	if (sendmsg(fd, &msg, 0) == -1)
		abort();
}

static const struct ipc_rule *const tables[] = {
	rules_master_from_child, rules_child_from_master,
	rules_master_from_ctl, rules_ctl_from_master,
	rules_authd_from_smtpd, rules_smtpd_from_authd,
	rules_queued_from_smtpd, rules_smtpd_from_queued,
	rules_signd_from_queued, rules_queued_from_signd,
	rules_relayd_from_queued, rules_queued_from_relayd,
	rules_signd_from_smtpd, rules_smtpd_from_signd,
};

/* Every type of every channel, at its smallest and largest size. */
static void
test_round_trip_every_type(void)
{
	static unsigned char payload[IPC_MAX_PAYLOAD];
	const struct ipc_rule *r;
	struct ipc *tx, *rx;
	struct got g;
	size_t t;
	int sp[2], pass, fd, n, sizes;

	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (r = tables[t]; r->type != 0; r++) {
			for (sizes = 0; sizes < 2; sizes++) {
				size_t len = sizes ? r->max : r->min;

				memset(&g, 0, sizeof(g));
				pair(sp);
				tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master,
				    on_msg, on_err, &g);
				rx = ipc_new(base, sp[1], "rx", tables[t], on_msg,
				    on_err, &g);
				memset(payload, 0xa5, sizeof(payload));
				payload[0] = (unsigned char)r->type;
				pass = r->fd != IPC_FD_NO;
				fd = pass ? open("/dev/null", O_RDONLY) : -1;
				CHECK(ipc_send(tx, r->type, 42, fd, payload,
				    len) == 0);
				for (n = 0; n < 20 && g.nmsg == 0 && !g.errors; n++)
					spin();
				CHECK_INT(g.errors, 0);
				CHECK_INT(g.nmsg, 1);
				CHECK_INT(g.type[0], r->type);
				CHECK_INT(g.len[0], len);
				CHECK_INT(g.peerid[0], 42);
				if (len)
					CHECK_INT(g.first[0],
					    (unsigned char)r->type);
				CHECK(pass ? g.fd[0] >= 0 : g.fd[0] == -1);
				if (g.fd[0] >= 0)
					close(g.fd[0]);
				ipc_free(tx);
				ipc_free(rx);
			}
		}
	}
}

static void
test_fd_passing_is_the_same_file(void)
{
	struct ipc *tx, *rx;
	struct got g;
	struct stat a, b;
	uint32_t proc = PROC_AUTHD;
	int sp[2], fd;
	char path[] = "/tmp/postern-ipc-XXXXXX";

	memset(&g, 0, sizeof(g));
	pair(sp);
	tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master, on_msg, on_err,
	    &g);
	rx = ipc_new(base, sp[1], "rx", rules_child_from_master, on_msg,
	    on_err, &g);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	fstat(fd, &a);
	CHECK(ipc_send(tx, MSG_PEER_CHANNEL, 0, fd, &proc, 4) == 0);
	spin();
	CHECK_INT(g.nmsg, 1);
	CHECK(g.fd[0] >= 0);
	fstat(g.fd[0], &b);
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(g.fd[0]);
	unlink(path);
	ipc_free(tx);
	ipc_free(rx);
}

/* A message split into single bytes still arrives whole, once. */
static void
test_partial_reads(void)
{
	unsigned char buf[IPC_HDR_SIZE + 8];
	uint32_t hdr[4] = { MSG_AUTH_CHECK, 16, 9, 0 };
	struct ipc *rx;
	struct got g;
	size_t i;
	int sp[2];

	memset(&g, 0, sizeof(g));
	pair(sp);
	rx = ipc_new(base, sp[1], "rx", rules_authd_from_smtpd, on_msg, on_err,
	    &g);
	memcpy(buf, hdr, sizeof(hdr));
	for (i = 0; i < IPC_HDR_SIZE; i++) {
		CHECK(write(sp[0], buf + i, 1) == 1);
		spin();
		CHECK_INT(g.nmsg, 0);
	}
	for (i = 0; i < 16; i++) {
		unsigned char c = (unsigned char)i;

		CHECK(write(sp[0], &c, 1) == 1);
		spin();
		CHECK_INT(g.nmsg, i == 15 ? 1 : 0);
	}
	CHECK_INT(g.errors, 0);
	CHECK_INT(g.peerid[0], 9);
	ipc_free(rx);
	close(sp[0]);
}

/* A channel to a queued end, with small socket buffers: writes queue. */
static void
narrow_pair(struct got *g, struct ipc **tx, struct ipc **rx)
{
	int sp[2], bufsz = 4096;

	memset(g, 0, sizeof(*g));
	pair(sp);
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	*tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master, on_msg,
	    on_err, g);
	*rx = ipc_new(base, sp[1], "rx", rules_queued_from_smtpd, on_msg,
	    on_err, g);
}

/* A large queue of writes drains through a full socket buffer. */
static void
test_flood_and_partial_writes(void)
{
	static unsigned char payload[IPC_MAX_PAYLOAD];
	struct ipc *tx, *rx;
	struct got g;
	int i, n;

	narrow_pair(&g, &tx, &rx);
	for (i = 0; i < 60; i++) {
		payload[0] = (unsigned char)i;
		CHECK(ipc_send(tx, MSG_Q_DATA, i, -1, payload,
		    IPC_MAX_PAYLOAD) == 0);
	}
	CHECK(ipc_queued(tx) > 0);
	for (n = 0; n < 400 && g.nmsg < 60; n++)
		spin();
	CHECK_INT(g.nmsg, 60);
	CHECK_INT(g.errors, 0);
	CHECK_INT(ipc_queued(tx), 0);
	for (i = 0; i < 60 && i < 64; i++)
		if (g.peerid[i] != (uint32_t)i || g.first[i] != i)
			CHECK(0);
	ipc_free(tx);
	ipc_free(rx);
}

static int	ndrained;
static size_t	drained_at;

static void
on_drain(struct ipc *ipc, void *arg)
{
	ndrained++;
	drained_at = ipc_queued(ipc);
}

/*
 * The drain callback runs once each time the queue goes from above the
 * mark to at or below it, and never for a queue that stayed below.
 */
static void
test_drain_callback(void)
{
	static unsigned char payload[IPC_MAX_PAYLOAD];
	struct ipc *tx, *rx;
	struct got g;
	int i, n;
	size_t lowat = 4 * IPC_MAX_MSG;

	ndrained = 0;
	narrow_pair(&g, &tx, &rx);
	ipc_set_drain(tx, lowat, on_drain);
	/* Below the mark all along: no call. */
	CHECK(ipc_send(tx, MSG_Q_DATA, 0, -1, payload, 100) == 0);
	for (n = 0; n < 20 && g.nmsg < 1; n++)
		spin();
	CHECK_INT(g.nmsg, 1);
	CHECK_INT(ndrained, 0);
	/* Well above it, then drained: one call, at or below the mark. */
	for (i = 0; i < 20; i++)
		CHECK(ipc_send(tx, MSG_Q_DATA, i, -1, payload,
		    IPC_MAX_PAYLOAD) == 0);
	CHECK(ipc_queued(tx) > lowat);
	for (n = 0; n < 400 && g.nmsg < 21; n++)
		spin();
	CHECK_INT(g.nmsg, 21);
	CHECK_INT(ndrained, 1);
	CHECK(drained_at <= lowat);
	CHECK_INT(g.errors, 0);
	ipc_free(tx);
	ipc_free(rx);
}

/* Each kind of lie is refused with a reason and kills the channel. */
static void
hostile(const char *what, uint32_t type, uint32_t len, uint32_t flags,
    size_t plen, int passfd, int close_after, const char *expect)
{
	static unsigned char payload[IPC_MAX_MSG];
	struct ipc *rx;
	struct got g;
	int sp[2], n;

	memset(&g, 0, sizeof(g));
	pair(sp);
	rx = ipc_new(base, sp[1], "peer", rules_authd_from_smtpd, on_msg,
	    on_err, &g);
	raw_send(sp[0], type, len, flags, payload, plen, passfd);
	if (close_after)
		close(sp[0]);
	for (n = 0; n < 10 && !g.errors; n++)
		spin();
	if (g.errors != 1 || g.nmsg != 0 || strstr(g.why, expect) == NULL) {
		printf("#   %s: errors=%d msgs=%d why=\"%s\"\n", what, g.errors,
		    g.nmsg, g.why);
		CHECK(0);
	}
	ipc_free(rx);
	if (!close_after)
		close(sp[0]);
}

static void
test_hostile_peers(void)
{
	int fd = open("/dev/null", O_RDONLY);

	hostile("short header then EOF", MSG_AUTH_CHECK, 16, 0, 0, -1, 1,
	    "in the middle of a message");
	hostile("length over the maximum", MSG_AUTH_CHECK, IPC_MAX_MSG, 0, 0,
	    -1, 0, "over the maximum");
	hostile("wrong payload size", MSG_AUTH_CHECK, 15, 0, 15, -1, 0,
	    "bad payload size");
	hostile("payload too long for the type", MSG_AUTH_CHECK, 17, 0, 17, -1,
	    0, "bad payload size");
	hostile("unknown type", 9999, 0, 0, 0, -1, 0, "unexpected message");
	hostile("type of another channel", MSG_Q_ABORT, 8, 0, 8, -1, 0,
	    "unexpected message");
	hostile("fd where none is expected", MSG_AUTH_CHECK, 16, IPC_F_FD, 16,
	    fd, 0, "unexpected fd");
	hostile("fd without the flag", MSG_AUTH_CHECK, 16, 0, 16, fd, 0,
	    "descriptor without a message");
	hostile("flag without an fd", MSG_AUTH_CHECK, 16, IPC_F_FD, 16, -1, 0,
	    "fd");
	hostile("unknown flags", MSG_AUTH_CHECK, 16, 0x80, 16, -1, 0,
	    "unknown flags");
	close(fd);
}

/* Freeing the channel from inside its own dispatch is safe. */
static void
test_free_inside_dispatch(void)
{
	unsigned char p[16] = { 0 };
	struct ipc *tx, *rx;
	struct got g, gt;
	int sp[2];

	memset(&g, 0, sizeof(g));
	memset(&gt, 0, sizeof(gt));
	g.free_in_dispatch = 1;
	pair(sp);
	tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master, on_msg, on_err,
	    &gt);
	rx = ipc_new(base, sp[1], "rx", rules_authd_from_smtpd, on_msg, on_err,
	    &g);
	(void)rx;
	ipc_send(tx, MSG_AUTH_CHECK, 1, -1, p, 16);
	ipc_send(tx, MSG_AUTH_CHECK, 2, -1, p, 16);
	spin();
	CHECK_INT(g.nmsg, 1);
	ipc_free(tx);
}

static void
test_marshalling(void)
{
	static struct mw mw;
	struct mr mr;
	char s[8];
	const unsigned char *b;
	size_t n;

	mw_init(&mw);
	mw_u8(&mw, 7);
	mw_u32(&mw, 0xdeadbeef);
	mw_u64(&mw, 0x0102030405060708ULL);
	mw_i64(&mw, -5);
	mw_str(&mw, "hello");
	mw_bytes(&mw, "\0\1\2", 3);
	CHECK(!mw.err);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(mr_u8(&mr), 7);
	CHECK(mr_u32(&mr) == 0xdeadbeef);
	CHECK(mr_u64(&mr) == 0x0102030405060708ULL);
	CHECK(mr_i64(&mr) == -5);
	mr_str(&mr, s, sizeof(s));
	CHECK_STR(s, "hello");
	b = mr_bytes(&mr, &n, 3);
	CHECK(b != NULL && n == 3 && b[2] == 2);
	CHECK_INT(mr_end(&mr), 0);

	/* Left-over bytes fail. */
	mr_init_buf(&mr, mw.buf, mw.len);
	(void)mr_u8(&mr);
	CHECK_INT(mr_end(&mr), -1);
	/* A string longer than the destination fails. */
	mw_init(&mw);
	mw_str(&mw, "toolongforit");
	mr_init_buf(&mr, mw.buf, mw.len);
	mr_str(&mr, s, sizeof(s));
	CHECK_INT(mr_end(&mr), -1);
	CHECK_STR(s, "");
	/* A NUL inside a string fails. */
	mw_init(&mw);
	mw_bytes(&mw, "a\0b", 3);
	mr_init_buf(&mr, mw.buf, mw.len);
	mr_str(&mr, s, sizeof(s));
	CHECK_INT(mr_end(&mr), -1);
	/* A length prefix pointing past the end fails. */
	mw_init(&mw);
	mw_u32(&mw, 1000);
	mr_init_buf(&mr, mw.buf, mw.len);
	b = mr_bytes(&mr, &n, 5000);
	CHECK(b == NULL);
	CHECK_INT(mr_end(&mr), -1);
	/* Short integers fail and read as zero. */
	mr_init_buf(&mr, "ab", 2);
	CHECK(mr_u32(&mr) == 0);
	CHECK_INT(mr_end(&mr), -1);
	/* The writer refuses to overflow. */
	mw_init(&mw);
	while (!mw.err)
		mw_u64(&mw, 1);
	CHECK(mw.len <= IPC_MAX_PAYLOAD);
}

static void
test_relay_result_and_ctl_rows(void)
{
	static struct mw mw;
	struct relay_result r, o;
	struct ctl_req q, q2;
	struct mr mr;

	memset(&r, 0, sizeof(r));
	r.batch = 77;
	r.index = 3;
	r.status = RELAY_TEMPFAIL;
	r.code = 451;
	strlcpy(r.enhanced, "4.3.0", sizeof(r.enhanced));
	strlcpy(r.host, "mx.example", sizeof(r.host));
	strlcpy(r.addr, "192.0.2.1", sizeof(r.addr));
	strlcpy(r.text, "try later", sizeof(r.text));
	strlcpy(r.tls, "TLSv1.3", sizeof(r.tls));
	mw_init(&mw);
	relay_result_write(&mw, &r);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(relay_result_read(&mr, &o), 0);
	CHECK(o.batch == 77 && o.index == 3 && o.code == 451);
	CHECK_STR(o.text, "try later");
	/* Out-of-range status or code is refused. */
	r.status = 9;
	mw_init(&mw);
	relay_result_write(&mw, &r);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(relay_result_read(&mr, &o), -1);
	r.status = RELAY_DELIVERED;
	r.code = 1000;
	mw_init(&mw);
	relay_result_write(&mw, &r);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(relay_result_read(&mr, &o), -1);

	memset(&q, 0, sizeof(q));
	q.cmd = CTL_TOKEN_ADD;
	CHECK_INT(ctl_req_add(&q, "name", "printer"), 0);
	CHECK_INT(ctl_req_add(&q, "address", "a@example.com"), 0);
	mw_init(&mw);
	ctl_req_write(&mw, &q);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(ctl_req_read(&mr, &q2), 0);
	CHECK_STR(ctl_req_get(&q2, "address"), "a@example.com");
	CHECK(ctl_req_get(&q2, "account") == NULL);
	/* Too many arguments are refused. */
	mw_init(&mw);
	mw_u32(&mw, CTL_TOKEN_ADD);
	mw_u32(&mw, MAX_CTL_ARGS + 1);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(ctl_req_read(&mr, &q2), -1);
}

static int
done_send(struct ipc *ipc, uint32_t status, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = ctl_done_vsend(ipc, 9, status, fmt, ap);
	va_end(ap);
	return rv;
}

/* MSG_CTL_DONE as master and children send it, and as it is read. */
static void
test_ctl_done(void)
{
	static unsigned char buf[IPC_MAX_MSG];
	static char big[2 * MAX_CTL_VAL];
	static struct mw mw;
	char text[MAX_CTL_VAL];
	struct ipc *tx;
	struct mr mr;
	uint32_t hdr[4], status;
	ssize_t n;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master, on_msg, on_err,
	    NULL);
	memset(big, 'x', sizeof(big) - 1);
	/* A long message is cut to what the rule tables let through. */
	CHECK_INT(done_send(tx, 1, "%s: %s", "token add", big), 0);
	ipc_flush(tx);
	n = read(sp[1], buf, sizeof(buf));
	CHECK(n > 16);
	memcpy(hdr, buf, sizeof(hdr));
	CHECK_INT(hdr[0], MSG_CTL_DONE);
	CHECK_INT(hdr[2], 9);
	CHECK_INT(hdr[1], n - 16);
	CHECK(hdr[1] <= 4 + 4 + MAX_CTL_VAL);
	mr_init_buf(&mr, buf + 16, hdr[1]);
	CHECK_INT(ctl_done_read(&mr, &status, text, sizeof(text)), 0);
	CHECK_INT(status, 1);
	CHECK_INT(strlen(text), MAX_CTL_VAL - 1);
	CHECK(strncmp(text, "token add: xxx", 14) == 0);
	/* Bytes after the text are refused. */
	mw_init(&mw);
	mw_u32(&mw, 0);
	mw_str(&mw, "ok");
	mw_u8(&mw, 0);
	mr_init_buf(&mr, mw.buf, mw.len);
	CHECK_INT(ctl_done_read(&mr, &status, text, sizeof(text)), -1);
	ipc_free(tx);
	close(sp[1]);
}

/* A secret is sent whole; the writer is wiped, the queued copy marked. */
static void
test_send_secret(void)
{
	static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
	static unsigned char buf[IPC_MAX_MSG];
	static struct mw mw;
	struct ipc *tx;
	uint32_t hdr[4];
	size_t i;
	ssize_t n;
	int sp[2], zero = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	tx = ipc_new(base, sp[0], "tx", rules_ctl_from_master, on_msg, on_err,
	    NULL);
	mw_init(&mw);
	mw_u32(&mw, SECRET_TICKET_KEY);
	mw_bytes(&mw, key, sizeof(key));
	CHECK_INT(ipc_send_secret(tx, MSG_SECRET, 0, &mw), 0);
	CHECK_INT(mw.len, 0);
	for (i = 0; i < 4 + 4 + sizeof(key); i++)
		if (mw.buf[i] != 0)
			zero = 0;
	CHECK(zero);
	CHECK(TAILQ_LAST(&tx->outq, ipc_outq)->wipe);
	ipc_flush(tx);
	CHECK(TAILQ_EMPTY(&tx->outq));
	n = read(sp[1], buf, sizeof(buf));
	CHECK_INT(n, 16 + 4 + 4 + sizeof(key));
	memcpy(hdr, buf, sizeof(hdr));
	CHECK_INT(hdr[0], MSG_SECRET);
	CHECK(memcmp(buf + 16 + 8, key, sizeof(key)) == 0);
	ipc_free(tx);
	close(sp[1]);
}

int
main(void)
{
	base = event_base_new();
	RUN(test_round_trip_every_type);
	RUN(test_fd_passing_is_the_same_file);
	RUN(test_partial_reads);
	RUN(test_flood_and_partial_writes);
	RUN(test_drain_callback);
	RUN(test_hostile_peers);
	RUN(test_free_inside_dispatch);
	RUN(test_marshalling);
	RUN(test_relay_result_and_ctl_rows);
	RUN(test_ctl_done);
	RUN(test_send_secret);
	event_base_free(base);
	return unit_done();
}
