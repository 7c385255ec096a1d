/*
 * relay_client: one SMTP client connection to one next-hop address.
 *
 *	c = relay_client_new(base, target, policy, cb, arg);
 *	(target: host name, address and port, from dns.h)
 *	cb(c, RC_EV_READY)	greeted, EHLO (or HELO), STARTTLS, AUTH done
 *	relay_client_send(c, msg)
 *	cb(c, RC_EV_DONE)	msg->rcpt[] results filled in
 *	relay_client_send(c, next msg) ...	(RSET first, then MAIL)
 *	relay_client_quit(c)	QUIT, close, free: c is gone for the owner
 *
 * The session (RFC 5321, with RFC 3207 STARTTLS, 4954 AUTH, 2920
 * PIPELINING, 1870 SIZE, 6152 8BITMIME, 6531 SMTPUTF8):
 *   - implicit TLS first for smtps://; then the 220 greeting; EHLO, and
 *     HELO when EHLO gets a 5xx (HELO offers no extensions);
 *   - STARTTLS whenever it is offered, unless the policy says not to try
 *     (a destination whose handshake failed before); when the policy
 *     requires TLS and it is not offered, or the handshake fails, the
 *     session fails.  Replies buffered before the handshake are an
 *     injection attempt (CVE-2011-0411 in reverse) and end the session.
 *     Certificates are checked only when the policy says so;
 *   - AUTH PLAIN (else LOGIN) with the policy's credentials, only over
 *     TLS: credentials make TLS required;
 *   - per message: the SIZE limit, and 8BITMIME or SMTPUTF8 when the
 *     message needs them, are checked before MAIL, and a hop that lacks
 *     them fails the message permanently (no conversion: it is signed);
 *     MAIL and every RCPT in one write when PIPELINING is offered, one
 *     at a time otherwise; DATA only when a recipient was accepted; the
 *     message through relay_data (dot-stuffed).
 * Timeouts (RFC 5321 4.5.3.2) come from the policy: connect; command for
 * the greeting and each command; data-block for each block written;
 * data-end for the reply to the final ".".
 *
 * The replies are read with lib/smtp_reply (bounded, hostile-proof);
 * garbage, over-long lines, too many lines, a timeout or a lost
 * connection end the session with a temporary failure.
 *
 * Events, to the owner's callback (the client may be freed from there):
 *	RC_EV_READY	ready for relay_client_send()
 *	RC_EV_FAILED	the session could not be set up, or a reused session
 *			was found dead: relay_client_failure() says how
 *	RC_EV_DONE	the message's recipients all have a result; the
 *			session is reusable when relay_client_reusable()
 *	RC_EV_CLOSED	an idle session went away (closed, 421, timeout)
 *
 * Credentials are never logged; replies and reasons are sanitized by
 * smtp_reply and bounded by MAX_REPLY.
 */
#ifndef POSTERN_RELAYD_RELAY_CLIENT_H
#define POSTERN_RELAYD_RELAY_CLIENT_H

#include <sys/types.h>
#include <stdint.h>

#include <event2/event.h>

#include "dns.h"
#include "proto.h"

struct tls_config;

/* One recipient of a message, and its result. */
struct relay_rcpt {
	char		 addr[MAX_ADDR];
	uint32_t	 index;		/* in the batch, for queued */
	uint32_t	 status;	/* 0 pending, else enum relay_status */
	uint32_t	 code;
	char		 enhanced[16];
	char		 text[MAX_REPLY];
	int		 accepted;	/* RCPT got 2xx in this transaction */
};

/* What one transaction sends. */
struct relay_msg {
	const char	*qid;
	const char	*sender;	/* "" for the null sender */
	uint32_t	 bodyflags;	/* BODY_8BIT, BODY_SMTPUTF8 */
	int		 fd;		/* read-only message */
	uint64_t	 size;		/* prefix + message octets */
	const unsigned char *prefix;
	size_t		 prefixlen;
	struct relay_rcpt *rcpt;	/* results of status 0 ones are set */
	int		 nrcpt;
};

enum relay_tls_mode {
	RC_TLS_NO = 1,		/* do not try STARTTLS (it failed before) */
	RC_TLS_TRY,		/* STARTTLS when offered */
	RC_TLS_REQUIRE,		/* STARTTLS, or fail */
	RC_TLS_IMPLICIT,	/* smtps: TLS from the first byte */
};

struct relay_policy {
	const char	*helo;		/* our name */
	enum relay_tls_mode tls;
	int		 verify;	/* check the certificate and name */
	const char	*user;		/* AUTH, NULL for none */
	const char	*pass;
	int		 to_connect;	/* seconds */
	int		 to_command;
	int		 to_data_block;
	int		 to_data_end;
	struct tls_config *tls_verify;	/* prepared by the owner */
	struct tls_config *tls_noverify;
};

enum relay_client_event {
	RC_EV_READY = 1,
	RC_EV_FAILED,
	RC_EV_DONE,
	RC_EV_CLOSED,
};

struct relay_failure {
	uint32_t	 status;	/* RELAY_TEMPFAIL or RELAY_PERMFAIL */
	uint32_t	 code;		/* the reply's, 0 for local reasons */
	char		 enhanced[16];
	char		 text[MAX_REPLY];
	int		 next;		/* try the next address */
	int		 tls_failed;	/* the STARTTLS handshake failed */
	int		 reuse;		/* a reused session was dead */
};

struct relay_client;
typedef void (*relay_client_cb)(struct relay_client *,
	    enum relay_client_event, void *arg);

struct relay_client *relay_client_new(struct event_base *,
	    const struct dns_target *, const struct relay_policy *, relay_client_cb, void *arg);
int	relay_client_send(struct relay_client *, struct relay_msg *);
void	relay_client_quit(struct relay_client *);
void	relay_client_free(struct relay_client *);
/* While idle: close after this many seconds without a message. */
void	relay_client_idle(struct relay_client *, int seconds);

const struct relay_failure *relay_client_failure(struct relay_client *);
int	relay_client_reusable(struct relay_client *);
/* "TLSv1.3" or NULL; the messages sent on this session so far. */
const char *relay_client_tls(struct relay_client *);
int	relay_client_nmsgs(struct relay_client *);
const struct dns_target *relay_client_target(struct relay_client *);
/* The owner's argument can change hands with the session. */
void	relay_client_set_arg(struct relay_client *, void *arg);

#endif
