/*
 * ipc: framed messages between postern processes (imsg style).
 *
 * A channel is one end of socketpair(AF_UNIX, SOCK_STREAM).  Every message
 * is a fixed 16-byte header followed by its payload:
 *
 *	uint32 type	one of enum msg_type (proto.h)
 *	uint32 len	payload length, header excluded
 *	uint32 peerid	the sender's reference (session id, request id)
 *	uint32 flags	IPC_F_FD: one file descriptor travels with it
 *
 * in host byte order (both ends are on one machine).  A header plus payload
 * is at most IPC_MAX_MSG bytes; bigger things (a batch, a message body) are
 * split into several messages by the sender.  A descriptor is sent with
 * SCM_RIGHTS together with the first byte of its message.
 *
 * Each channel has a rule table (proto.c) naming every type it accepts
 * from that peer, the smallest and largest payload of each, and whether an
 * fd may come with it.  Anything else -- a length over the maximum, an
 * unknown type, a payload size out of range, an fd where none is expected,
 * an fd with no message to claim it, unknown flags, EOF -- is a protocol
 * error: the channel's error callback runs with a reason and the channel
 * must not be used again.  Daemons make that fatal; the master's control
 * socket drops the one client.
 *
 * Payloads are marshalled field by field (struct mw / struct mr below):
 * integers of fixed width, strings and byte strings with a uint32 length
 * in front.  A reader fails on a short field, an over-long string, a NUL
 * inside a string, and on bytes left over (mr_end).
 *
 * Ownership: ipc_send takes ownership of the fd it is given (it is closed
 * once sent, or when the channel is freed).  A received fd belongs to the
 * dispatch callback, which must close it or keep it.  Writes never block:
 * messages wait in the channel's queue until the socket takes them.
 *
 * Back-pressure: ipc_queued() says how many bytes wait, and a sender that
 * stops producing when they are too many learns when to start again from
 * the drain callback (ipc_set_drain): it runs, from the event loop, each
 * time a write takes the bytes waiting from above lowat to lowat or
 * below.  It may send and may free the channel.
 *
 * Secrets: ipc_send_secret queues a payload like ipc_send_mw, then wipes
 * the writer, and the queued copy is wiped once written (or when the
 * channel is freed), so that no copy of a key outlives its sending.  A
 * dispatch callback may overwrite msg->data (it is the channel's own read
 * buffer) to wipe a secret it received, such as a password.
 */
#ifndef POSTERN_IPC_H
#define POSTERN_IPC_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define IPC_HDR_SIZE	16
#define IPC_MAX_MSG	65536
#define IPC_MAX_PAYLOAD	(IPC_MAX_MSG - IPC_HDR_SIZE)
#define IPC_MAX_FDS	16	/* received but not yet claimed */

#define IPC_F_FD	0x1

struct ipc_rule {
	uint32_t	type;
	uint32_t	min;	/* payload bounds, inclusive */
	uint32_t	max;
	int		fd;	/* IPC_FD_NO, IPC_FD_MAY, IPC_FD_MUST */
};
#define IPC_FD_NO	0
#define IPC_FD_MAY	1
#define IPC_FD_MUST	2

struct ipc_msg {
	uint32_t	 type;
	uint32_t	 peerid;
	int		 fd;	/* -1 when none */
	const unsigned char *data;
	size_t		 len;
};

struct ipc;
typedef void (*ipc_dispatch_cb)(struct ipc *, struct ipc_msg *, void *);
typedef void (*ipc_error_cb)(struct ipc *, const char *why, void *);
typedef void (*ipc_drain_cb)(struct ipc *, void *);

struct ipc_out {
	TAILQ_ENTRY(ipc_out) entry;
	size_t		 len;
	size_t		 off;
	int		 fd;
	int		 wipe;		/* explicit_bzero before free */
	unsigned char	 data[];
};

struct ipc {
	int		 fd;
	const char	*peername;	/* for log lines */
	const struct ipc_rule *rules;	/* terminated by type 0 */
	struct event	*ev_read;
	struct event	*ev_write;
	unsigned char	*rbuf;		/* IPC_MAX_MSG bytes */
	size_t		 rlen;
	int		 rfds[IPC_MAX_FDS];
	int		 nrfds;
	TAILQ_HEAD(ipc_outq, ipc_out) outq;
	size_t		 outbytes;
	ipc_dispatch_cb	 dispatch;
	ipc_error_cb	 error;
	void		*arg;
	ipc_drain_cb	 drain;		/* see ipc_set_drain */
	size_t		 drain_lowat;
	int		 dead;
	int		 eof;		/* the peer closed cleanly */
	int		 busy;		/* inside ipc_read: defer free */
	int		 freeme;
};

/* Create a channel on fd (made non-blocking) and start reading. */
struct ipc *ipc_new(struct event_base *, int fd, const char *peername,
	    const struct ipc_rule *, ipc_dispatch_cb, ipc_error_cb, void *arg);
void	ipc_free(struct ipc *);

/* Queue a message; fd is -1 or a descriptor whose ownership passes. */
int	ipc_send(struct ipc *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
struct mw;
int	ipc_send_mw(struct ipc *, uint32_t type, uint32_t peerid, int fd,
	    struct mw *);
int	ipc_send_secret(struct ipc *, uint32_t type, uint32_t peerid,
	    struct mw *);
/* Bytes waiting to be written (for back-pressure decisions). */
size_t	ipc_queued(struct ipc *);
/* Call cb (arg of ipc_new) when the bytes waiting fall to lowat. */
void	ipc_set_drain(struct ipc *, size_t lowat, ipc_drain_cb cb);
/* Write what can be written now, blocking (used before exit). */
void	ipc_flush(struct ipc *);

/*
 * Marshalling.  A writer appends into a fixed buffer of IPC_MAX_PAYLOAD
 * bytes; overflowing it sets err and later sends fail.  A reader walks a
 * received payload; any failure sets err and makes later reads return
 * zero values, so callers check once with mr_end().
 */
struct mw {
	unsigned char	buf[IPC_MAX_PAYLOAD];
	size_t		len;
	int		err;
};
void	mw_init(struct mw *);
void	mw_u8(struct mw *, uint8_t);
void	mw_u32(struct mw *, uint32_t);
void	mw_u64(struct mw *, uint64_t);
void	mw_i64(struct mw *, int64_t);
void	mw_str(struct mw *, const char *);
void	mw_bytes(struct mw *, const void *, size_t);	/* with length */
size_t	mw_room(struct mw *);

struct mr {
	const unsigned char *p;
	size_t		len;
	size_t		off;
	int		err;
};
void	mr_init(struct mr *, const struct ipc_msg *);
void	mr_init_buf(struct mr *, const void *, size_t);
uint8_t	mr_u8(struct mr *);
uint32_t mr_u32(struct mr *);
uint64_t mr_u64(struct mr *);
int64_t	mr_i64(struct mr *);
/* Copy a string into dst (size dstsz, NUL-terminated); fails when longer
 * than dstsz - 1 or when it holds a NUL byte. */
void	mr_str(struct mr *, char *dst, size_t dstsz);
/* Point at a byte string inside the payload (no copy); *lenp its length,
 * which must be at most max. */
const unsigned char *mr_bytes(struct mr *, size_t *lenp, size_t max);
/* 0 if every read succeeded and the payload was consumed exactly. */
int	mr_end(struct mr *);

#endif
