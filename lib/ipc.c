/*
 * ipc.c: framed messages with descriptor passing.  See ipc.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "proto.h"

struct ipc_hdr {
	uint32_t type;
	uint32_t len;
	uint32_t peerid;
	uint32_t flags;
};

static void ipc_on_read(evutil_socket_t, short, void *);
static void ipc_on_write(evutil_socket_t, short, void *);

static void
ipc_out_free(struct ipc_out *o)
{
	if (o->fd != -1)
		close(o->fd);
	if (o->wipe)
		explicit_bzero(o->data, o->len);
	free(o);
}

static void
ipc_fail(struct ipc *ipc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ipc_fail(struct ipc *ipc, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (ipc->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ipc->dead = 1;
	event_del(ipc->ev_read);
	event_del(ipc->ev_write);
	if (ipc->error != NULL)
		ipc->error(ipc, why, ipc->arg);
}

struct ipc *
ipc_new(struct event_base *base, int fd, const char *peername,
    const struct ipc_rule *rules, ipc_dispatch_cb dispatch, ipc_error_cb error,
    void *arg)
{
	struct ipc *ipc;
	int fl;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		return NULL;
	if ((ipc->rbuf = malloc(IPC_MAX_MSG)) == NULL) {
		free(ipc);
		return NULL;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		free(ipc->rbuf);
		free(ipc);
		return NULL;
	}
	ipc->fd = fd;
	ipc->peername = peername;
	ipc->rules = rules;
	ipc->dispatch = dispatch;
	ipc->error = error;
	ipc->arg = arg;
	TAILQ_INIT(&ipc->outq);
	ipc->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ipc_on_read,
	    ipc);
	ipc->ev_write = event_new(base, fd, EV_WRITE, ipc_on_write, ipc);
	if (ipc->ev_read == NULL || ipc->ev_write == NULL) {
		ipc_free(ipc);
		return NULL;
	}
	event_add(ipc->ev_read, NULL);
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	struct ipc_out *o;
	int i;

	if (ipc == NULL)
		return;
	if (ipc->busy) {
		/* Called from within dispatch: finish after the loop. */
		ipc->freeme = 1;
		ipc->dead = 1;
		event_del(ipc->ev_read);
		event_del(ipc->ev_write);
		return;
	}
	if (ipc->ev_read != NULL)
		event_free(ipc->ev_read);
	if (ipc->ev_write != NULL)
		event_free(ipc->ev_write);
	while ((o = TAILQ_FIRST(&ipc->outq)) != NULL) {
		TAILQ_REMOVE(&ipc->outq, o, entry);
		ipc_out_free(o);
	}
	for (i = 0; i < ipc->nrfds; i++)
		close(ipc->rfds[i]);
	close(ipc->fd);
	free(ipc->rbuf);
	free(ipc);
}

int
ipc_send(struct ipc *ipc, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct ipc_out *o;
	struct ipc_hdr hdr;

	if (ipc->dead || len > IPC_MAX_PAYLOAD) {
		if (fd != -1)
			close(fd);
		errno = ipc->dead ? EPIPE : EMSGSIZE;
		return -1;
	}
	if ((o = malloc(sizeof(*o) + IPC_HDR_SIZE + len)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.flags = fd != -1 ? IPC_F_FD : 0;
	memcpy(o->data, &hdr, IPC_HDR_SIZE);
	if (len > 0)
		memcpy(o->data + IPC_HDR_SIZE, data, len);
	o->len = IPC_HDR_SIZE + len;
	o->off = 0;
	o->fd = fd;
	o->wipe = 0;
	TAILQ_INSERT_TAIL(&ipc->outq, o, entry);
	ipc->outbytes += o->len;
	if (!event_pending(ipc->ev_write, EV_WRITE, NULL))
		event_add(ipc->ev_write, NULL);
	return 0;
}

int
ipc_send_mw(struct ipc *ipc, uint32_t type, uint32_t peerid, int fd,
    struct mw *mw)
{
	if (mw->err) {
		if (fd != -1)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	return ipc_send(ipc, type, peerid, fd, mw->buf, mw->len);
}

int
ipc_send_secret(struct ipc *ipc, uint32_t type, uint32_t peerid,
    struct mw *mw)
{
	int rv;

	rv = ipc_send_mw(ipc, type, peerid, -1, mw);
	if (rv == 0)
		TAILQ_LAST(&ipc->outq, ipc_outq)->wipe = 1;
	explicit_bzero(mw->buf, mw->len);
	mw_init(mw);
	return rv;
}

size_t
ipc_queued(struct ipc *ipc)
{
	return ipc->outbytes;
}

void
ipc_set_drain(struct ipc *ipc, size_t lowat, ipc_drain_cb cb)
{
	ipc->drain = cb;
	ipc->drain_lowat = lowat;
}

/* Write as much as the socket takes; -1 on a hard error. */
static int
ipc_write_some(struct ipc *ipc)
{
	struct ipc_out *o;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr *cmsg;
	ssize_t n;

	while ((o = TAILQ_FIRST(&ipc->outq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = o->data + o->off;
		iov.iov_len = o->len - o->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (o->off == 0 && o->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = &cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &o->fd, sizeof(int));
		}
		n = sendmsg(ipc->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		if (o->off == 0 && o->fd != -1) {
			close(o->fd);
			o->fd = -1;
		}
		o->off += n;
		ipc->outbytes -= n;
		if (o->off == o->len) {
			TAILQ_REMOVE(&ipc->outq, o, entry);
			ipc_out_free(o);
		}
	}
	return 0;
}

static void
ipc_on_write(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc *ipc = arg;
	size_t before = ipc->outbytes;

	if (ipc_write_some(ipc) == -1) {
		ipc_fail(ipc, "write to %s: %s", ipc->peername,
		    strerror(errno));
		return;
	}
	if (!TAILQ_EMPTY(&ipc->outq))
		event_add(ipc->ev_write, NULL);
	if (ipc->drain != NULL && before > ipc->drain_lowat &&
	    ipc->outbytes <= ipc->drain_lowat) {
		ipc->busy = 1;
		ipc->drain(ipc, ipc->arg);
		ipc->busy = 0;
		if (ipc->freeme) {
			ipc->freeme = 0;
			ipc_free(ipc);
		}
	}
}

void
ipc_flush(struct ipc *ipc)
{
	struct pollfd pfd;

	while (!ipc->dead && !TAILQ_EMPTY(&ipc->outq)) {
		if (ipc_write_some(ipc) == -1)
			return;
		if (TAILQ_EMPTY(&ipc->outq))
			return;
		pfd.fd = ipc->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0)
			return;
	}
}

static const struct ipc_rule *
ipc_rule_find(const struct ipc_rule *rules, uint32_t type)
{
	for (; rules->type != 0; rules++)
		if (rules->type == type)
			return rules;
	return NULL;
}

static int
ipc_take_fd(struct ipc *ipc)
{
	int fd;

	if (ipc->nrfds == 0)
		return -1;
	fd = ipc->rfds[0];
	memmove(ipc->rfds, ipc->rfds + 1, (ipc->nrfds - 1) * sizeof(int));
	ipc->nrfds--;
	return fd;
}

/*
 * Take every complete message out of the read buffer.  Returns -1 after a
 * protocol error (the channel is then dead).
 */
static int
ipc_parse(struct ipc *ipc)
{
	struct ipc_hdr hdr;
	struct ipc_msg msg;
	const struct ipc_rule *rule;
	size_t off = 0;

	while (!ipc->dead && ipc->rlen - off >= IPC_HDR_SIZE) {
		memcpy(&hdr, ipc->rbuf + off, IPC_HDR_SIZE);
		if (hdr.len > IPC_MAX_PAYLOAD) {
			ipc_fail(ipc, "%s: message length %u over the maximum",
			    ipc->peername, hdr.len);
			return -1;
		}
		if ((hdr.flags & ~IPC_F_FD) != 0) {
			ipc_fail(ipc, "%s: unknown flags 0x%x", ipc->peername,
			    hdr.flags);
			return -1;
		}
		if ((rule = ipc_rule_find(ipc->rules, hdr.type)) == NULL) {
			ipc_fail(ipc, "%s: unexpected message type %s",
			    ipc->peername, proto_name(hdr.type));
			return -1;
		}
		if (hdr.len < rule->min || hdr.len > rule->max) {
			ipc_fail(ipc, "%s: %s with bad payload size %u",
			    ipc->peername, proto_name(hdr.type), hdr.len);
			return -1;
		}
		if ((hdr.flags & IPC_F_FD) && rule->fd == IPC_FD_NO) {
			ipc_fail(ipc, "%s: %s carries an unexpected fd",
			    ipc->peername, proto_name(hdr.type));
			return -1;
		}
		if (!(hdr.flags & IPC_F_FD) && rule->fd == IPC_FD_MUST) {
			ipc_fail(ipc, "%s: %s lacks its fd", ipc->peername,
			    proto_name(hdr.type));
			return -1;
		}
		if (ipc->rlen - off < IPC_HDR_SIZE + hdr.len)
			break;
		/*
		 * A descriptor arrives with the first byte of its message.
		 * If this message claims none and ends the buffer, any
		 * descriptor waiting came with it or before it: unannounced.
		 */
		if (!(hdr.flags & IPC_F_FD) && ipc->nrfds > 0 &&
		    off + IPC_HDR_SIZE + hdr.len == ipc->rlen) {
			ipc_fail(ipc, "%s: descriptor without a message",
			    ipc->peername);
			return -1;
		}
		msg.fd = -1;
		if (hdr.flags & IPC_F_FD) {
			if ((msg.fd = ipc_take_fd(ipc)) == -1) {
				ipc_fail(ipc, "%s: %s announces an fd that did "
				    "not arrive", ipc->peername,
				    proto_name(hdr.type));
				return -1;
			}
		}
		msg.type = hdr.type;
		msg.peerid = hdr.peerid;
		msg.data = ipc->rbuf + off + IPC_HDR_SIZE;
		msg.len = hdr.len;
		off += IPC_HDR_SIZE + hdr.len;
		ipc->dispatch(ipc, &msg, ipc->arg);
	}
	if (ipc->dead)
		return -1;
	memmove(ipc->rbuf, ipc->rbuf + off, ipc->rlen - off);
	ipc->rlen -= off;
	/*
	 * A descriptor arrives with the first byte of its message; with no
	 * message begun, any descriptor left over was not announced.
	 */
	if (ipc->rlen == 0 && ipc->nrfds > 0) {
		ipc_fail(ipc, "%s: descriptor without a message",
		    ipc->peername);
		return -1;
	}
	return 0;
}

static void
ipc_on_read(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc *ipc = arg;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cmsgbuf;
	struct cmsghdr *cmsg;
	ssize_t n;
	int i, nfds, rfd, overflow = 0;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ipc->rbuf + ipc->rlen;
	iov.iov_len = IPC_MAX_MSG - ipc->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	n = recvmsg(ipc->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		ipc_fail(ipc, "read from %s: %s", ipc->peername,
		    strerror(errno));
		return;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (ipc->nrfds == IPC_MAX_FDS) {
				close(rfd);
				overflow = 1;
			} else
				ipc->rfds[ipc->nrfds++] = rfd;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		ipc_fail(ipc, "%s: too many descriptors at once",
		    ipc->peername);
		return;
	}
	if (overflow) {
		ipc_fail(ipc, "%s: too many unclaimed descriptors",
		    ipc->peername);
		return;
	}
	if (n == 0) {
		ipc->eof = ipc->rlen == 0;
		ipc_fail(ipc, "%s closed the channel%s", ipc->peername,
		    ipc->rlen ? " in the middle of a message" : "");
		return;
	}
	ipc->rlen += n;
	ipc->busy = 1;
	ipc_parse(ipc);
	ipc->busy = 0;
	if (ipc->freeme) {
		ipc->freeme = 0;
		ipc_free(ipc);
	}
}

/* Marshalling. */

void
mw_init(struct mw *mw)
{
	mw->len = 0;
	mw->err = 0;
}

static void
mw_put(struct mw *mw, const void *p, size_t n)
{
	if (mw->err || n > sizeof(mw->buf) - mw->len) {
		mw->err = 1;
		return;
	}
	if (n == 0)	/* an empty byte string may come as NULL */
		return;
	memcpy(mw->buf + mw->len, p, n);
	mw->len += n;
}

size_t
mw_room(struct mw *mw)
{
	return mw->err ? 0 : sizeof(mw->buf) - mw->len;
}

void
mw_u8(struct mw *mw, uint8_t v)
{
	mw_put(mw, &v, sizeof(v));
}

void
mw_u32(struct mw *mw, uint32_t v)
{
	mw_put(mw, &v, sizeof(v));
}

void
mw_u64(struct mw *mw, uint64_t v)
{
	mw_put(mw, &v, sizeof(v));
}

void
mw_i64(struct mw *mw, int64_t v)
{
	mw_put(mw, &v, sizeof(v));
}

void
mw_bytes(struct mw *mw, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		mw->err = 1;
		return;
	}
	mw_u32(mw, (uint32_t)n);
	mw_put(mw, p, n);
}

void
mw_str(struct mw *mw, const char *s)
{
	mw_bytes(mw, s, strlen(s));
}

void
mr_init(struct mr *mr, const struct ipc_msg *msg)
{
	mr_init_buf(mr, msg->data, msg->len);
}

void
mr_init_buf(struct mr *mr, const void *p, size_t len)
{
	mr->p = p;
	mr->len = len;
	mr->off = 0;
	mr->err = 0;
}

static int
mr_get(struct mr *mr, void *dst, size_t n)
{
	if (mr->err || n > mr->len - mr->off) {
		mr->err = 1;
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, mr->p + mr->off, n);
	mr->off += n;
	return 0;
}

uint8_t
mr_u8(struct mr *mr)
{
	uint8_t v;

	mr_get(mr, &v, sizeof(v));
	return v;
}

uint32_t
mr_u32(struct mr *mr)
{
	uint32_t v;

	mr_get(mr, &v, sizeof(v));
	return v;
}

uint64_t
mr_u64(struct mr *mr)
{
	uint64_t v;

	mr_get(mr, &v, sizeof(v));
	return v;
}

int64_t
mr_i64(struct mr *mr)
{
	int64_t v;

	mr_get(mr, &v, sizeof(v));
	return v;
}

const unsigned char *
mr_bytes(struct mr *mr, size_t *lenp, size_t max)
{
	const unsigned char *p;
	uint32_t n;

	*lenp = 0;
	n = mr_u32(mr);
	if (mr->err || n > max || n > mr->len - mr->off) {
		mr->err = 1;
		return NULL;
	}
	p = mr->p + mr->off;
	mr->off += n;
	*lenp = n;
	return p;
}

void
mr_str(struct mr *mr, char *dst, size_t dstsz)
{
	const unsigned char *p;
	size_t n;

	dst[0] = '\0';
	if (dstsz == 0) {
		mr->err = 1;
		return;
	}
	p = mr_bytes(mr, &n, dstsz - 1);
	if (p == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		mr->err = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int
mr_end(struct mr *mr)
{
	return (mr->err || mr->off != mr->len) ? -1 : 0;
}
