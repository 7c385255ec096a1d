/*
 * relay_io.c: non-blocking connect, libtls, line input and bounded output
 * for relayd's client connections.  See relay_io.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "dbuf.h"
#include "relay_io.h"

enum io_state {
	IOS_CONNECTING,		/* waiting for connect() to finish */
	IOS_HANDSHAKE,		/* TLS handshake in progress */
	IOS_OPEN,		/* reading and writing */
	IOS_DONE,		/* closed, failed or timed out: silent */
};

struct relay_io {
	struct event_base *base;
	int		 fd;
	struct tls	*tls;
	enum io_state	 state;
	struct event	*ev;
	struct event	*timer;
	short		 armed;		/* events ev is waiting for */
	short		 rd_want;	/* what the last tls_read needs */
	short		 wr_want;	/* what the last tls_write needs */
	unsigned char	 in[RELAY_IO_LINE_MAX * 2];
	size_t		 inoff;		/* taken as lines */
	size_t		 inlen;		/* received */
	struct dbuf	 out;
	relay_io_cb	 cb;
	void		*arg;
	char		 error[256];
	int		 busy;
	int		 freeme;
};

static void	relay_io_dispatch(evutil_socket_t, short, void *);
static void	relay_io_rearm(struct relay_io *);

static void
relay_io_really_free(struct relay_io *io)
{
	if (io->tls != NULL) {
		/* Best effort close_notify; never wait for it. */
		tls_close(io->tls);
		tls_free(io->tls);
	}
	if (io->ev != NULL)
		event_free(io->ev);
	if (io->timer != NULL)
		event_free(io->timer);
	if (io->fd != -1)
		close(io->fd);
	dbuf_free(&io->out);
	free(io);
}

void
relay_io_free(struct relay_io *io)
{
	if (io == NULL)
		return;
	io->state = IOS_DONE;
	io->cb = NULL;
	if (io->busy) {
		io->freeme = 1;
		return;
	}
	relay_io_really_free(io);
}

/* Report an event; 0 when the io may still be used afterwards. */
static int
relay_io_emit(struct relay_io *io, enum relay_io_event what)
{
	if (io->cb != NULL)
		io->cb(io, what, io->arg);
	return io->freeme ? -1 : 0;
}

static void
relay_io_fail(struct relay_io *io, enum relay_io_event what,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
relay_io_fail(struct relay_io *io, enum relay_io_event what,
    const char *fmt, ...)
{
	va_list ap;

	if (io->state == IOS_DONE)
		return;
	va_start(ap, fmt);
	vsnprintf(io->error, sizeof(io->error), fmt, ap);
	va_end(ap);
	io->state = IOS_DONE;
	if (io->ev != NULL)
		event_del(io->ev);
	io->armed = 0;
	relay_io_emit(io, what);
}

static void
relay_io_on_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct relay_io *io = arg;

	io->busy++;
	if (io->state != IOS_DONE)
		relay_io_fail(io, IO_TIMEOUT, "timeout");
	io->busy--;
	if (io->freeme && io->busy == 0)
		relay_io_really_free(io);
}

struct relay_io *
relay_io_connect(struct event_base *base, const struct sockaddr *sa,
    socklen_t salen, relay_io_cb cb, void *arg)
{
	struct relay_io *io;
	int saved;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->base = base;
	io->cb = cb;
	io->arg = arg;
	io->state = IOS_CONNECTING;
	dbuf_init(&io->out, RELAY_IO_OUT_MAX);
	io->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (io->fd == -1)
		goto fail;
	if (connect(io->fd, sa, salen) == -1 && errno != EINPROGRESS)
		goto fail;
	io->ev = event_new(base, io->fd, 0, relay_io_dispatch, io);
	io->timer = evtimer_new(base, relay_io_on_timer, io);
	if (io->ev == NULL || io->timer == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	/* Writable means connected (or failed: SO_ERROR says which). */
	relay_io_rearm(io);
	return io;
fail:
	saved = errno;
	relay_io_really_free(io);
	errno = saved;
	return NULL;
}

int
relay_io_starttls(struct relay_io *io, struct tls_config *cfg,
    const char *servername)
{
	if (io->state != IOS_OPEN || io->tls != NULL)
		return -1;
	if ((io->tls = tls_client()) == NULL) {
		snprintf(io->error, sizeof(io->error), "tls_client failed");
		return -1;
	}
	if (tls_configure(io->tls, cfg) == -1 ||
	    tls_connect_socket(io->tls, io->fd, servername) == -1) {
		snprintf(io->error, sizeof(io->error), "TLS set-up: %s",
		    tls_error(io->tls) ? tls_error(io->tls) : "failed");
		return -1;
	}
	/* Anything read before the handshake must not count as TLS data. */
	io->inoff = io->inlen = 0;
	io->state = IOS_HANDSHAKE;
	io->rd_want = io->wr_want = 0;
	relay_io_rearm(io);
	return 0;
}

const char *
relay_io_tls_version(struct relay_io *io)
{
	if (io->tls == NULL || io->state == IOS_HANDSHAKE)
		return NULL;
	return tls_conn_version(io->tls);
}

const char *
relay_io_tls_cipher(struct relay_io *io)
{
	if (io->tls == NULL || io->state == IOS_HANDSHAKE)
		return NULL;
	return tls_conn_cipher(io->tls);
}

int
relay_io_write(struct relay_io *io, const void *p, size_t len)
{
	if (io->state == IOS_DONE)
		return -1;
	if (dbuf_append(&io->out, p, len) == -1)
		return -1;
	relay_io_rearm(io);
	return 0;
}

int
relay_io_printf(struct relay_io *io, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return relay_io_write(io, buf, n);
}

size_t
relay_io_outlen(struct relay_io *io)
{
	return io->out.len;
}

size_t
relay_io_inlen(struct relay_io *io)
{
	return io->inlen - io->inoff;
}

int
relay_io_getline(struct relay_io *io, char **line, size_t *len)
{
	unsigned char *start = io->in + io->inoff, *lf;
	size_t avail = io->inlen - io->inoff, n;

	if ((lf = memchr(start, '\n', avail)) == NULL) {
		if (avail > RELAY_IO_LINE_MAX)
			return -1;
		return 0;
	}
	n = lf - start;
	if (n > RELAY_IO_LINE_MAX)
		return -1;
	io->inoff += n + 1;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	start[n] = '\0';
	*line = (char *)start;
	*len = n;
	return 1;
}

void
relay_io_timeout(struct relay_io *io, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (seconds <= 0)
		evtimer_del(io->timer);
	else
		evtimer_add(io->timer, &tv);
}

const char *
relay_io_error(struct relay_io *io)
{
	return io->error;
}

/* Which libevent events a libtls "want" maps to. */
static short
relay_io_want(ssize_t r)
{
	return r == TLS_WANT_POLLOUT ? EV_WRITE : EV_READ;
}

static void
relay_io_rearm(struct relay_io *io)
{
	short want = 0;

	switch (io->state) {
	case IOS_CONNECTING:
		want = EV_WRITE;
		break;
	case IOS_HANDSHAKE:
		want = io->rd_want ? io->rd_want : EV_READ | EV_WRITE;
		break;
	case IOS_OPEN:
		/* A full buffer is the owner's to empty: no busy loop. */
		if (io->inlen - io->inoff < sizeof(io->in))
			want = io->rd_want ? io->rd_want : EV_READ;
		if (io->out.len > 0)
			want |= io->wr_want ? io->wr_want : EV_WRITE;
		break;
	case IOS_DONE:
		break;
	}
	if (want == io->armed)
		return;
	event_del(io->ev);
	io->armed = want;
	if (want == 0)
		return;
	event_assign(io->ev, io->base, io->fd, want, relay_io_dispatch, io);
	event_add(io->ev, NULL);
}

/* Write what the socket takes.  -1 after a failure was reported. */
static int
relay_io_flush(struct relay_io *io, int *wrote)
{
	ssize_t n;

	while (io->out.len > 0) {
		if (io->tls != NULL) {
			n = tls_write(io->tls, io->out.data, io->out.len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				io->wr_want = relay_io_want(n);
				return 0;
			}
			if (n == -1) {
				relay_io_fail(io, IO_ERROR, "TLS write: %s",
				    tls_error(io->tls));
				return -1;
			}
		} else {
			n = send(io->fd, io->out.data, io->out.len,
			    MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				io->wr_want = 0;
				return 0;
			}
			if (n == -1) {
				relay_io_fail(io, IO_ERROR, "write: %s",
				    strerror(errno));
				return -1;
			}
		}
		io->wr_want = 0;
		dbuf_consume(&io->out, n);
		*wrote = 1;
	}
	return 0;
}

/* Read what is there.  1 on EOF, -1 after a failure was reported. */
static int
relay_io_fill(struct relay_io *io, int *got)
{
	ssize_t n;

	if (io->inoff > 0) {
		memmove(io->in, io->in + io->inoff, io->inlen - io->inoff);
		io->inlen -= io->inoff;
		io->inoff = 0;
	}
	while (io->inlen < sizeof(io->in)) {
		if (io->tls != NULL) {
			n = tls_read(io->tls, io->in + io->inlen,
			    sizeof(io->in) - io->inlen);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				io->rd_want = n == TLS_WANT_POLLOUT ?
				    EV_WRITE : 0;
				return 0;
			}
			if (n == -1) {
				relay_io_fail(io, IO_ERROR, "TLS read: %s",
				    tls_error(io->tls));
				return -1;
			}
		} else {
			n = read(io->fd, io->in + io->inlen,
			    sizeof(io->in) - io->inlen);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n == -1) {
				relay_io_fail(io, IO_ERROR, "read: %s",
				    strerror(errno));
				return -1;
			}
		}
		io->rd_want = 0;
		if (n == 0)
			return 1;
		io->inlen += n;
		*got = 1;
	}
	return 0;
}

static void
relay_io_connected(struct relay_io *io)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		relay_io_fail(io, IO_ERROR, "connect: %s", strerror(err));
		return;
	}
	io->state = IOS_OPEN;
	relay_io_emit(io, IO_CONNECTED);
}

static void
relay_io_handshake(struct relay_io *io)
{
	int r;

	r = tls_handshake(io->tls);
	if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
		io->rd_want = relay_io_want(r);
		return;
	}
	io->rd_want = 0;
	if (r == -1) {
		relay_io_fail(io, IO_ERROR, "TLS handshake: %s",
		    tls_error(io->tls) ? tls_error(io->tls) : "failed");
		return;
	}
	io->state = IOS_OPEN;
	relay_io_emit(io, IO_TLS_DONE);
}

static void
relay_io_transfer(struct relay_io *io)
{
	size_t before = io->out.len;
	int wrote = 0, got = 0, eof;

	if (relay_io_flush(io, &wrote) == -1)
		return;
	if ((eof = relay_io_fill(io, &got)) == -1)
		return;
	if (got && relay_io_emit(io, IO_INPUT) == -1)
		return;
	if (io->state != IOS_OPEN)
		return;
	if (eof) {
		relay_io_fail(io, IO_CLOSED, "connection closed by peer");
		return;
	}
	if (wrote && io->out.len < RELAY_IO_LOWAT &&
	    (before >= RELAY_IO_LOWAT || io->out.len == 0))
		relay_io_emit(io, IO_LOWAT);
}

static void
relay_io_dispatch(evutil_socket_t fd, short ev, void *arg)
{
	struct relay_io *io = arg;

	io->busy++;
	io->armed = 0;		/* events are not persistent */
	switch (io->state) {
	case IOS_CONNECTING:
		relay_io_connected(io);
		break;
	case IOS_HANDSHAKE:
		relay_io_handshake(io);
		break;
	case IOS_OPEN:
		relay_io_transfer(io);
		break;
	case IOS_DONE:
		break;
	}
	io->busy--;
	if (io->freeme) {
		if (io->busy == 0)
			relay_io_really_free(io);
		return;
	}
	relay_io_rearm(io);
}
