/*
 * smtpd.h: what the files of smtpd share.
 *
 *	smtpd.c		the process: child_ops, listeners, accept, limits
 *	smtp_session.c	one SMTP session: the state machine and commands
 *	smtp_io.c	a session's socket: plain or TLS reads and writes,
 *			the PROXY header, events, timers, closing
 *	smtp_auth.c	AUTH PLAIN and LOGIN, the exchange with authd
 *	smtp_tx.c	a mail transaction: queued's side of MAIL, RCPT and
 *			the data stream, the headers we add, the sender rule
 *	smtp_tls.c	TLS server contexts per listener, certificate reload
 *	smtp_peer.c	the channels to authd and queued, back-pressure
 *	smtp_limit.c	sessions per client address
 *	smtp_proxy.c	the PROXY protocol parser (pure; smtp_proxy.h)
 *
 * Memory.  A session is one struct smtp_session of under 1 KB plus
 * libtls's state.  Its input and output buffers are struct dbuf that start
 * empty, grow on demand and are freed again whenever they drain, so an
 * idle session holds neither.  A transaction (struct smtp_tx, with the
 * DATA state machine and its body buffer) exists only between MAIL and
 * the end of the transaction; a login (struct smtp_login, with the ticket)
 * only after a successful AUTH.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "dbuf.h"
#include "ipc.h"
#include "proto.h"
#include "smtp_cmd.h"
#include "smtp_data.h"

struct tls;
struct proxy_info;

/* Bytes read from a socket at a time (one TLS record). */
#define SMTP_READ_CHUNK		16384
/* Output waiting for a slow client before we stop reading its commands. */
#define SMTP_OUT_HIGH		(64 * 1024)
/* The body buffer between smtp_data and MSG_Q_DATA. */
#define SMTP_BODY_MAX		(64 * 1024)
/* One MSG_Q_DATA chunk: well under IPC_MAX_PAYLOAD. */
#define SMTP_QCHUNK		(32 * 1024)
/* Bytes waiting on queued's channel above which data sessions pause. */
#define SMTP_QUEUED_HIGH	(1024 * 1024)
/* TLS handshakes under way at once; more wait their turn (smtp_tls.c). */
#define SMTP_TLS_HANDSHAKES	64
/* The first in line gets in over the limit after waiting this long. */
#define SMTP_TLS_WAIT_MS	1000
/* The longest a TLS handshake (and its wait in line) may take, seconds. */
#define SMTP_TLS_HANDSHAKE_MAX	30
/* The delay after a failed login, in milliseconds. */
#define SMTP_AUTH_DELAY_MIN	250
#define SMTP_AUTH_DELAY_MAX	800
/* How long a closing session may take to write its last reply. */
#define SMTP_CLOSE_TIMEOUT	5

/*
 * The session's states.  The state says what the next input means and
 * whether input is read at all: in every WAIT state the session reads
 * nothing (pipelined commands stay in the socket or the input buffer, in
 * order) until the answer it waits for comes.
 */
enum smtp_state {
	/* Reading the PROXY header of a trusted balancer (to_greeting). */
	SMTP_S_PROXY,
	/* Implicit TLS: the handshake, before the greeting (to_greeting). */
	SMTP_S_TLS_ACCEPT,
	/* Reading command lines (to_command). */
	SMTP_S_COMMAND,
	/* "220 Ready to start TLS" was sent: flush it, then handshake. */
	SMTP_S_STARTTLS,
	/* "334" was sent: the next line is an AUTH response. */
	SMTP_S_AUTH_LINE,
	/* A login (MSG_AUTH_LOGIN) or a token check (MSG_AUTH_CHECK) is
	 * with authd. */
	SMTP_S_WAIT_AUTHD,
	/* A login failed: the 535 waits a moment (a timer, not a sleep). */
	SMTP_S_AUTH_DELAY,
	/* MSG_Q_OPEN sent: waiting for the message id. */
	SMTP_S_WAIT_OPEN,
	/* After 354: message bytes up to CRLF.CRLF (to_data_*). */
	SMTP_S_DATA,
	/* Inside a BDAT chunk: tx->chunk_left bytes still to come. */
	SMTP_S_BDAT,
	/* End of data: MSG_Q_COMMIT sent, waiting for queued (to_data_end). */
	SMTP_S_WAIT_COMMIT,
	/* The last reply is being written; then the session ends. */
	SMTP_S_CLOSING,
};

/* What the session waits for from authd. */
#define SMTP_AUTHD_LOGIN	1
#define SMTP_AUTHD_CHECK	2

/* Session flags. */
#define SMTP_F_HELO		0x0001	/* HELO or EHLO accepted */
#define SMTP_F_EHLO		0x0002	/* ... and it was EHLO */
#define SMTP_F_TLS		0x0004	/* TLS is up */
#define SMTP_F_EOF		0x0008	/* the client closed its side */
#define SMTP_F_PAUSED		0x0010	/* waiting for queued to drain */
#define SMTP_F_DISCARD		0x0020	/* skipping an over-long line */
#define SMTP_F_PROXIED		0x0040	/* the address came from PROXY */
#define SMTP_F_DEAD		0x0080	/* freed at the end of this pass */
#define SMTP_F_SHUT		0x0100	/* closing: our side is shut */
#define SMTP_F_HSLOT		0x0200	/* holds a handshake slot */
#define SMTP_F_HWAIT		0x0400	/* waits for a handshake slot */
#define SMTP_F_KICKED		0x0800	/* smtp_io_kick'ed, not run yet */

/* A successful AUTH. */
struct smtp_login {
	char		 user[MAX_ADDR];	/* as the client gave it */
	char		 address[MAX_ADDR];	/* the token's address */
	uint64_t	 token_id;
	unsigned char	 ticket[MAX_TICKET];
	size_t		 ticketlen;
};

/* A mail transaction, from MAIL to its end. */
struct smtp_tx {
	RB_ENTRY(smtp_tx) entry;	/* by msgid, while queued has it */
	struct smtp_session *s;
	uint64_t	 msgid;		/* queued's, 0 before MSG_Q_OPEN_RES */
	char		 sender[MAX_ADDR];
	int		 smtputf8;	/* declared, or seen in an address */
	int		 body8;		/* BODY=8BITMIME declared */
	int		 nrcpt;
	int		 data_started;	/* DATA or a BDAT came */
	int		 bdat;		/* ... and it was BDAT */
	int		 committing;	/* MSG_Q_COMMIT sent */
	int		 hdr_sent;	/* our headers and the client's went */
	uint64_t	 sent;		/* octets sent in MSG_Q_DATA */
	struct smtp_data data;
	struct dbuf	 body;		/* smtp_data's output, to queued */
};

struct smtp_client;

struct smtp_session {
	RB_ENTRY(smtp_session) entry;	/* by id */
	TAILQ_ENTRY(smtp_session) pause_entry;
	TAILQ_ENTRY(smtp_session) tls_entry;	/* waiting to handshake */
	uint64_t	 hwait_ms;	/* ... since then (monotonic) */
	uint64_t	 id;
	char		 idstr[17];	/* 16 hex digits, for logs */
	int		 fd;
	int		 lindex;	/* listener index */
	enum listen_mode mode;
	int		 auth_listener;	/* the listener requires AUTH */
	enum smtp_state	 state;
	unsigned int	 flags;
	int		 authd_wait;	/* SMTP_AUTHD_* while WAIT_AUTHD */

	struct event	*ev_read;
	struct event	*ev_write;
	struct event	*ev_timer;
	int		 want_read;	/* the last read would block */
	int		 want_write;	/* the last write would block */
	int		 tls_want;	/* libtls asked for this poll event */

	struct tls	*tls;
	struct smtp_tlsctx *tlsctx;	/* the context it was made from */
	struct dbuf	 in;
	struct dbuf	 out;

	struct sockaddr_storage ss;	/* the client (after PROXY) */
	char		 client[64];	/* its address as text */
	struct smtp_client *climit;	/* the per-address counter */
	char		 helo[MAX_HOST];

	/* AUTH in progress. */
	int		 auth_mech;	/* SMTP_MECH_* */
	int		 auth_step;
	char		*auth_user;	/* LOGIN: the username, between steps */
	int		 nauthfail;
	struct smtp_login *login;

	struct smtp_tx	*tx;

	/* BDAT: the chunk being read (also when it is refused). */
	uint64_t	 chunk_left;	/* bytes still to come */
	uint64_t	 chunk_size;	/* for the "250 ... octets" reply */
	int		 chunk_last;
	struct smtp_err	 chunk_err;	/* refused: discard it, then this */

	/* Counters, for the disconnect line and the limits. */
	int		 nerrors;
	int		 nmsgs;
	int		 nrcpts;
	uint64_t	 inbytes;
	struct timespec	 started;
	const char	*why;		/* the end, for the disconnect line */
};

#define SMTP_MECH_PLAIN		1
#define SMTP_MECH_LOGIN		2

/* smtp_limit.c */
int	smtp_limit_add(struct smtp_session *);
void	smtp_limit_release(struct smtp_session *);

/* smtp_session.c */
struct smtp_session *smtp_session_new(int fd, int lindex,
	    const struct sockaddr_storage *, socklen_t);
void	smtp_session_start(struct smtp_session *);
void	smtp_session_tls_done(struct smtp_session *);
int	smtp_session_input(struct smtp_session *);
void	smtp_session_proxied(struct smtp_session *,
	    const struct proxy_info *);
void	smtp_session_timeout(struct smtp_session *);
void	smtp_session_close(struct smtp_session *, const char *why);
void	smtp_session_free(struct smtp_session *);
struct smtp_session *smtp_session_find(uint64_t);
int	smtp_session_count(void);
void	smtp_reply(struct smtp_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtp_reply_err(struct smtp_session *, const struct smtp_err *);
int	smtp_session_error(struct smtp_session *);
void	smtp_session_timeout_set(struct smtp_session *);
void	smtp_session_each(void (*)(struct smtp_session *));

/* smtp_io.c */
void	smtp_io_init(struct smtp_session *);
void	smtp_io_run(struct smtp_session *);
void	smtp_io_kick(struct smtp_session *);
void	smtp_io_timer(struct smtp_session *, time_t sec, long msec);
int	smtp_io_proxy_read(struct smtp_session *);
void	smtp_io_free(struct smtp_session *);

/* smtp_auth.c */
void	smtp_auth_cmd(struct smtp_session *, struct smtp_cmd *);
void	smtp_auth_line(struct smtp_session *, const char *, size_t);
void	smtp_auth_login_res(struct smtp_session *, uint32_t res,
	    uint64_t tokid, const char *address, const unsigned char *ticket,
	    size_t ticketlen);
void	smtp_auth_check_res(struct smtp_session *, uint32_t);
void	smtp_auth_delay_done(struct smtp_session *);
void	smtp_auth_reset(struct smtp_session *);

/* smtp_tx.c */
void	smtp_tx_mail(struct smtp_session *, struct smtp_cmd *);
void	smtp_tx_mail_checked(struct smtp_session *);
void	smtp_tx_open_res(struct smtp_session *, uint32_t, uint64_t);
void	smtp_tx_rcpt(struct smtp_session *, struct smtp_cmd *);
void	smtp_tx_data(struct smtp_session *);
void	smtp_tx_bdat(struct smtp_session *, struct smtp_cmd *);
int	smtp_tx_input(struct smtp_session *);
void	smtp_tx_commit_res(struct smtp_tx *, uint32_t, const char *,
	    const char *);
void	smtp_tx_abort(struct smtp_session *);
struct smtp_tx *smtp_tx_find(uint64_t);
int	smtp_tx_backlog(void);

/* smtp_tls.c */
struct smtp_tlsctx;
void	smtp_tls_file(int kind, const char *name, int fd);
void	smtp_tls_setup(int fatal_errors);
struct smtp_tlsctx *smtp_tls_get(int lindex);
struct tls *smtp_tls_ctx(struct smtp_tlsctx *);
void	smtp_tls_unref(struct smtp_tlsctx *);
int	smtp_tls_available(int lindex);
void	smtp_tls_describe(struct smtp_session *, char *, size_t);
int	smtp_tls_slot(struct smtp_session *);
void	smtp_tls_slot_release(struct smtp_session *);

/* smtp_peer.c */
extern struct ipc	*smtpd_authd;
extern struct ipc	*smtpd_queued;
void	smtp_peer_authd(int fd);
void	smtp_peer_queued(int fd);
struct mw *smtp_peer_mw(void);
int	smtp_peer_congested(void);
void	smtp_peer_pause(struct smtp_session *);
void	smtp_peer_unpause(struct smtp_session *);

#endif
