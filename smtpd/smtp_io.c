/*
 * smtp_io.c: a session's socket, plain or TLS, driven by libevent.
 *
 * Everything a session does happens in smtp_io_run(), called when the
 * socket is readable or writable, when the session's timer fires, or
 * "kicked" (event_active) when an answer from authd or queued lets it go
 * on.  One pass: finish a TLS handshake if one is under way; write what
 * the output buffer holds; let the session consume what the input buffer
 * holds (smtp_session_input); read more if the session's state wants
 * input; repeat while anything moves; then wait for exactly the poll
 * events libtls or the socket asked for.  Because a session is freed only
 * here, at the top of a pass, no callback ever runs on a freed session.
 *
 * Pipelining (RFC 2920).  Commands are processed in order from the input
 * buffer and their replies appended to the output buffer; the buffer is
 * written when the input holds no complete command any more (or the
 * session waits for a peer), so pipelined replies leave in one batch.
 *
 * Buffers.  Reads go to one static 16 KB buffer and only the bytes not yet
 * consumed are kept in the session (at most a partial command line, or
 * data waiting while queued is congested); the input and output buffers
 * are freed as soon as they are empty.  Bounds: a command line is at most
 * max_line octets (a longer one is answered 500 5.5.2 and skipped to its
 * LF); output stops the reading of commands above SMTP_OUT_HIGH.
 *
 * libtls reads from the socket itself and may hold decrypted bytes that
 * poll cannot see: after a pause, a session is kicked rather than left to
 * wait for the socket.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "child.h"
#include "log.h"
#include "smtp_proxy.h"
#include "smtpd.h"

#define IO_WANT		(-2)
/* Reads in one pass before the session lets the others run. */
#define IO_READS_PER_PASS	16

static unsigned char io_buf[SMTP_READ_CHUNK];

static void
io_on_event(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *s = arg;

	s->flags &= ~SMTP_F_KICKED;
	smtp_io_run(s);
}

static void
io_on_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_S_AUTH_DELAY)
		smtp_auth_delay_done(s);
	else
		smtp_session_timeout(s);
	smtp_io_run(s);
}

void
smtp_io_init(struct smtp_session *s)
{
	s->ev_read = event_new(child_base, s->fd, EV_READ, io_on_event, s);
	s->ev_write = event_new(child_base, s->fd, EV_WRITE, io_on_event, s);
	s->ev_timer = evtimer_new(child_base, io_on_timer, s);
	if (s->ev_read == NULL || s->ev_write == NULL || s->ev_timer == NULL)
		fatalx("event_new");
}

void
smtp_io_free(struct smtp_session *s)
{
	smtp_tls_slot_release(s);
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	if (s->ev_write != NULL)
		event_free(s->ev_write);
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	s->ev_read = s->ev_write = s->ev_timer = NULL;
	if (s->tls != NULL) {
		/* One try at close_notify; a client gone is no matter. */
		(void)tls_close(s->tls);
		tls_free(s->tls);
		s->tls = NULL;
	}
	smtp_tls_unref(s->tlsctx);
	s->tlsctx = NULL;
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}

/* Arm the session's timer: sec seconds and msec milliseconds from now. */
void
smtp_io_timer(struct smtp_session *s, time_t sec, long msec)
{
	struct timeval tv;

	tv.tv_sec = sec + msec / 1000;
	tv.tv_usec = (msec % 1000) * 1000;
	evtimer_add(s->ev_timer, &tv);
}

/* Run the session soon, from the event loop (never re-entrantly). */
void
smtp_io_kick(struct smtp_session *s)
{
	s->flags |= SMTP_F_KICKED;
	event_active(s->ev_read, EV_READ, 0);
}

/* The TLS handshake: 0 done, IO_WANT, -1 failed (logged). */
static int
io_handshake(struct smtp_session *s)
{
	int r;

	if (s->tls == NULL) {
		/* Without a slot, wait: the session is kicked when one frees. */
		if (!smtp_tls_slot(s))
			return IO_WANT;
		if ((s->tlsctx = smtp_tls_get(s->lindex)) == NULL) {
			log_warnx("session=%s tls=failed reason=\"no "
			    "certificate\"", s->idstr);
			return -1;
		}
		if (tls_accept_socket(smtp_tls_ctx(s->tlsctx), &s->tls,
		    s->fd) == -1) {
			log_warnx("session=%s tls=failed reason=\"%s\"",
			    s->idstr, tls_error(smtp_tls_ctx(s->tlsctx)));
			return -1;
		}
	}
	r = tls_handshake(s->tls);
	if (r == TLS_WANT_POLLIN) {
		s->want_read = 1;
		return IO_WANT;
	}
	if (r == TLS_WANT_POLLOUT) {
		s->want_write = 1;
		return IO_WANT;
	}
	smtp_tls_slot_release(s);
	if (r == -1) {
		log_info("session=%s tls=failed client=%s reason=\"%s\"",
		    s->idstr, s->client, tls_error(s->tls));
		return -1;
	}
	s->flags |= SMTP_F_TLS;
	smtp_session_tls_done(s);
	return 0;
}

/* Write the output buffer: 0 (all written, or IO_WANT set), -1 error. */
static int
io_flush(struct smtp_session *s)
{
	ssize_t n;

	while (s->out.len > 0) {
		if (s->tls != NULL) {
			n = tls_write(s->tls, s->out.data, s->out.len);
			if (n == TLS_WANT_POLLIN) {
				s->want_read = 1;
				return 0;
			}
			if (n == TLS_WANT_POLLOUT) {
				s->want_write = 1;
				return 0;
			}
			if (n == -1) {
				log_debug("session=%s tls write: %s",
				    s->idstr, tls_error(s->tls));
				return -1;
			}
		} else {
			n = write(s->fd, s->out.data, s->out.len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				s->want_write = 1;
				return 0;
			}
			if (n == -1)
				return -1;
		}
		dbuf_consume(&s->out, (size_t)n);
	}
	dbuf_free(&s->out);
	return 0;
}

/* Read once into the input buffer: bytes read, 0 at EOF, or IO_WANT. */
static ssize_t
io_read(struct smtp_session *s)
{
	ssize_t n;

	for (;;) {
		if (s->tls != NULL) {
			n = tls_read(s->tls, io_buf, sizeof(io_buf));
			if (n == TLS_WANT_POLLIN) {
				s->want_read = 1;
				return IO_WANT;
			}
			if (n == TLS_WANT_POLLOUT) {
				s->want_write = 1;
				return IO_WANT;
			}
			if (n == -1) {
				log_debug("session=%s tls read: %s",
				    s->idstr, tls_error(s->tls));
				return 0;
			}
		} else {
			n = read(s->fd, io_buf, sizeof(io_buf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				s->want_read = 1;
				return IO_WANT;
			}
			if (n == -1)
				return 0;
		}
		break;
	}
	if (n > 0) {
		if (dbuf_append(&s->in, io_buf, (size_t)n) == -1) {
			/* Cannot happen: we read only below the bound. */
			log_warnx("session=%s input buffer full", s->idstr);
			return 0;
		}
		s->inbytes += (uint64_t)n;
	}
	return n;
}

/*
 * The PROXY header: peek, parse, then consume exactly the header (see
 * smtp_proxy.h).  Bytes taken so far wait in s->in.  Returns 1 when the
 * header is complete, 0 to wait, -1 on a bad header or EOF.
 */
int
smtp_io_proxy_read(struct smtp_session *s)
{
	static unsigned char all[PROXY_MAX];
	struct proxy_info pi;
	size_t have = s->in.len;
	ssize_t n;
	int r;

	n = recv(s->fd, all + have, sizeof(all) - have, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		s->want_read = 1;
		return 0;
	}
	if (n <= 0)
		return -1;
	if (have > 0)
		memcpy(all, s->in.data, have);
	r = proxy_parse(all, have + (size_t)n, &pi);
	if (r == -1)
		return -1;
	/* Take the header's bytes off the socket, and no more. */
	if (r > 0)
		n = (ssize_t)((size_t)r - have);
	if (recv(s->fd, all + have, (size_t)n, 0) != n)
		return -1;
	if (r == 0) {
		if (dbuf_append(&s->in, all + have, (size_t)n) == -1)
			return -1;
		s->want_read = 1;
		return 0;
	}
	dbuf_free(&s->in);
	smtp_session_proxied(s, &pi);
	return 1;
}

/*
 * The last reply is out: close our side, then read and drop whatever the
 * client still sends until it closes too (or the close timer ends it).
 * Closing at once with unread input would make the kernel answer with a
 * reset, which can destroy the last reply (a 421, say) before the client
 * reads it.  Returns IO_WANT while the client's side is open, else 0.
 */
static int
io_linger(struct smtp_session *s)
{
	ssize_t n;

	if (!(s->flags & SMTP_F_SHUT)) {
		s->flags |= SMTP_F_SHUT;
		if (s->tls != NULL)
			(void)tls_close(s->tls);
		(void)shutdown(s->fd, SHUT_WR);
	}
	if (s->flags & SMTP_F_EOF)
		return 0;
	for (;;) {
		n = read(s->fd, io_buf, sizeof(io_buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			s->want_read = 1;
			return IO_WANT;
		}
		if (n <= 0)
			return 0;
	}
}

/* May the session read from its client now? */
static int
io_reading(struct smtp_session *s)
{
	if (s->flags & (SMTP_F_EOF | SMTP_F_PAUSED | SMTP_F_DEAD))
		return 0;
	if (s->out.len >= SMTP_OUT_HIGH)
		return 0;
	switch (s->state) {
	case SMTP_S_COMMAND:
	case SMTP_S_AUTH_LINE:
		/* A partial line at most; the rest waits in the socket. */
		return s->in.len < (size_t)child_conf->max_line;
	case SMTP_S_DATA:
	case SMTP_S_BDAT:
		return s->in.len == 0;
	default:
		return 0;
	}
}

static void
io_events(struct smtp_session *s)
{
	/* event_del would also cancel a kick that is still to run. */
	if (s->want_read)
		event_add(s->ev_read, NULL);
	else if (!(s->flags & SMTP_F_KICKED))
		event_del(s->ev_read);
	if (s->want_write)
		event_add(s->ev_write, NULL);
	else
		event_del(s->ev_write);
}

void
smtp_io_run(struct smtp_session *s)
{
	ssize_t n;
	int r, reads = 0, again = 0;

	s->want_read = s->want_write = 0;
	for (;;) {
		if (s->flags & SMTP_F_DEAD) {
			smtp_session_free(s);
			return;
		}
		if (s->state == SMTP_S_PROXY) {
			r = smtp_io_proxy_read(s);
			if (r == 0)
				break;
			if (r == -1) {
				log_info("session=%s proxy=failed client=%s",
				    s->idstr, s->client);
				smtp_session_free(s);
				return;
			}
			continue;
		}
		if (s->state == SMTP_S_TLS_ACCEPT ||
		    (s->state == SMTP_S_STARTTLS && s->out.len == 0)) {
			r = io_handshake(s);
			if (r == IO_WANT)
				break;
			if (r == -1) {
				s->why = "tls";
				smtp_session_free(s);
				return;
			}
			continue;
		}
		if (s->out.len > 0 && io_flush(s) == -1) {
			s->why = "write error";
			smtp_session_free(s);
			return;
		}
		if (s->out.len > 0 && (s->state == SMTP_S_CLOSING ||
		    s->state == SMTP_S_STARTTLS))
			break;
		if (s->state == SMTP_S_CLOSING) {
			if (io_linger(s) == IO_WANT)
				break;
			smtp_session_free(s);
			return;
		}
		if (s->state == SMTP_S_STARTTLS)
			continue;
		/* Consume what is buffered; its replies go out first. */
		if (smtp_session_input(s))
			continue;
		if (!io_reading(s))
			break;
		if (++reads > IO_READS_PER_PASS) {
			/* Others' turn: a fast client must not starve them. */
			again = 1;
			break;
		}
		n = io_read(s);
		if (n == IO_WANT)
			break;
		if (n == 0)
			s->flags |= SMTP_F_EOF;
	}
	if (again)
		smtp_io_kick(s);
	io_events(s);
}
