/*
 * relay_io: the bytes of one outbound connection, on libevent.
 *
 * A relay_io is a non-blocking TCP connection with an optional TLS layer
 * (libtls, started at once for smtps:// or after STARTTLS), a bounded
 * input buffer read as lines, a bounded output buffer, and one timer.
 * Nothing here blocks, and nothing here knows SMTP.
 *
 * Events reach the owner through its callback:
 *	IO_CONNECTED	the TCP connection is up
 *	IO_TLS_DONE	the TLS handshake finished
 *	IO_INPUT	bytes arrived: take the lines with relay_io_getline()
 *	IO_LOWAT	the output buffer fell below RELAY_IO_LOWAT (refill)
 *	IO_TIMEOUT	the timer set with relay_io_timeout() ran out
 *	IO_CLOSED	the peer closed the connection (after any last input)
 *	IO_ERROR	connect, read, write or TLS failed: relay_io_error()
 * After IO_TIMEOUT, IO_CLOSED or IO_ERROR nothing else is reported
 * except that a timer may be set again; the owner frees the io.
 *
 * relay_io_free() may be called from inside the callback: the memory is
 * released when the dispatch that called it unwinds.  relay_io_write()
 * takes all of its bytes or none (the buffer holds at most
 * RELAY_IO_OUT_MAX).  A line is at most RELAY_IO_LINE_MAX octets; a
 * longer one makes relay_io_getline() return -1.  The line it returns
 * has its LF (and a CR before it) removed and points into the input
 * buffer: it is valid until control returns to the event loop.
 */
#ifndef POSTERN_RELAYD_RELAY_IO_H
#define POSTERN_RELAYD_RELAY_IO_H

#include <sys/socket.h>
#include <stddef.h>

#include <event2/event.h>

#define RELAY_IO_LINE_MAX	4100		/* a reply line: 4096 + CRLF */
#define RELAY_IO_OUT_MAX	(1024 * 1024)
#define RELAY_IO_LOWAT		(64 * 1024)

enum relay_io_event {
	IO_CONNECTED = 1,
	IO_TLS_DONE,
	IO_INPUT,
	IO_LOWAT,
	IO_TIMEOUT,
	IO_CLOSED,
	IO_ERROR,
};

struct relay_io;
struct tls_config;
typedef void (*relay_io_cb)(struct relay_io *, enum relay_io_event, void *);

struct relay_io *relay_io_connect(struct event_base *,
	    const struct sockaddr *, socklen_t, relay_io_cb, void *arg);
void	relay_io_free(struct relay_io *);
int	relay_io_starttls(struct relay_io *, struct tls_config *,
	    const char *servername);
/* "TLSv1.3" once the handshake is done, else NULL. */
const char *relay_io_tls_version(struct relay_io *);
const char *relay_io_tls_cipher(struct relay_io *);
int	relay_io_write(struct relay_io *, const void *, size_t);
int	relay_io_printf(struct relay_io *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
size_t	relay_io_outlen(struct relay_io *);
/* 1 and a line, 0 when no whole line is waiting, -1 when over-long. */
int	relay_io_getline(struct relay_io *, char **line, size_t *len);
/* Bytes received and not yet taken as lines. */
size_t	relay_io_inlen(struct relay_io *);
/* (Re)arm the timer; 0 seconds disarms it. */
void	relay_io_timeout(struct relay_io *, int seconds);
const char *relay_io_error(struct relay_io *);

#endif
