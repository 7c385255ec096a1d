/*
 * relay_client.c: the SMTP client state machine.  See relay_client.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "log.h"
#include "relay_client.h"
#include "relay_data.h"
#include "relay_io.h"
#include "smtp_reply.h"

#define RC_QUIT_TIMEOUT	5	/* seconds to wait for the reply to QUIT */

enum rc_state {
	RCS_CONNECT,	/* TCP connect in progress */
	RCS_TLS_WRAP,	/* smtps: TLS handshake before the greeting */
	RCS_GREETING,	/* waiting for the 220 greeting */
	RCS_EHLO,	/* EHLO sent (again after STARTTLS) */
	RCS_HELO,	/* HELO sent, EHLO having been refused */
	RCS_STARTTLS,	/* STARTTLS sent, waiting for 220 */
	RCS_TLS,	/* TLS handshake after STARTTLS */
	RCS_AUTH,	/* AUTH PLAIN (or AUTH LOGIN) sent */
	RCS_AUTH_USER,	/* AUTH LOGIN: user name sent */
	RCS_AUTH_PASS,	/* AUTH LOGIN: password sent */
	RCS_IDLE,	/* ready, no transaction open */
	RCS_REFUSED,	/* message refused before MAIL; DONE is on its way */
	RCS_RSET,	/* RSET sent before a transaction on a reused session
			   (with MAIL and the RCPTs when pipelining) */
	RCS_MAIL,	/* MAIL sent (RCPTs too when pipelining) */
	RCS_RCPT,	/* waiting for RCPT replies */
	RCS_DATA,	/* DATA sent, waiting for 354 */
	RCS_BODY,	/* sending the message */
	RCS_DOT,	/* final "." sent, waiting for the reply */
	RCS_QUIT,	/* QUIT sent, closing; the owner forgot us */
	RCS_DEAD,	/* nothing more will happen */
};

/* What each state is waiting for, for the failure messages. */
static const char *const rc_stage[] = {
	[RCS_CONNECT] = "while connecting",
	[RCS_TLS_WRAP] = "during the TLS handshake",
	[RCS_GREETING] = "while receiving the initial server greeting",
	[RCS_EHLO] = "while sending EHLO",
	[RCS_HELO] = "while sending HELO",
	[RCS_STARTTLS] = "while sending STARTTLS",
	[RCS_TLS] = "during the TLS handshake",
	[RCS_AUTH] = "while authenticating",
	[RCS_AUTH_USER] = "while authenticating",
	[RCS_AUTH_PASS] = "while authenticating",
	[RCS_IDLE] = "while idle",
	[RCS_REFUSED] = "while idle",
	[RCS_RSET] = "while sending RSET",
	[RCS_MAIL] = "while sending MAIL FROM",
	[RCS_RCPT] = "while sending RCPT TO",
	[RCS_DATA] = "while sending DATA",
	[RCS_BODY] = "while sending the message body",
	[RCS_DOT] = "while waiting for the reply to the end of data",
	[RCS_QUIT] = "while sending QUIT",
	[RCS_DEAD] = "after the end",
};

struct relay_client {
	struct event_base *base;
	struct dns_target target;
	char		 peer[MAX_HOST + 80];	/* host[addr]:port */
	struct relay_policy pol;
	relay_client_cb	 cb;
	void		*arg;
	struct relay_io	*io;
	enum rc_state	 state;
	struct smtp_reply reply;
	struct smtp_ehlo ehlo;
	int		 tls;		/* TLS is up */
	int		 starttls_refused;
	int		 auth_login;	/* AUTH LOGIN rather than PLAIN */
	int		 nmsgs;		/* transactions begun */
	int		 reusable;
	int		 idle_timeout;
	struct relay_failure fail;
	enum relay_client_event deferred;
	struct event	*ev_defer;

	/* the transaction */
	struct relay_msg *msg;
	int		*sent;		/* indexes of the RCPTs sent */
	int		 nsent;
	int		 nreplied;	/* RCPT replies received */
	int		 pipelined;
	int		 rset_group;	/* MAIL and RCPTs went with the RSET */
	int		 mail_ok;
	int		 naccepted;
	struct relay_data data;

	int		 busy;
	int		 freeme;
};

static void	rc_on_io(struct relay_io *, enum relay_io_event, void *);
static void	rc_lost(struct relay_client *, const char *why, int timeout);
static void	rc_next_step(struct relay_client *);
static void	rc_start_mail(struct relay_client *);

/* Setting the session up (or checking a reused one): replies count. */
static int
rc_in_setup(enum rc_state st)
{
	return (st >= RCS_GREETING && st <= RCS_AUTH_PASS) || st == RCS_RSET;
}

static int
rc_in_txn(enum rc_state st)
{
	return st >= RCS_MAIL && st <= RCS_DOT;
}

static void
rc_really_free(struct relay_client *c)
{
	relay_io_free(c->io);
	if (c->ev_defer != NULL)
		event_free(c->ev_defer);
	free(c->sent);
	free(c);
}

void
relay_client_free(struct relay_client *c)
{
	if (c == NULL)
		return;
	c->cb = NULL;
	c->state = RCS_DEAD;
	if (c->busy) {
		c->freeme = 1;
		return;
	}
	rc_really_free(c);
}

static void
rc_emit(struct relay_client *c, enum relay_client_event ev)
{
	if (c->cb != NULL)
		c->cb(c, ev, c->arg);
}

static void
rc_on_defer(evutil_socket_t fd, short ev, void *arg)
{
	struct relay_client *c = arg;

	c->busy++;
	if (c->state == RCS_REFUSED) {
		c->msg = NULL;
		c->state = c->reusable ? RCS_IDLE : RCS_DEAD;
		relay_io_timeout(c->io, c->reusable ? c->idle_timeout : 0);
	}
	rc_emit(c, c->deferred);
	c->busy--;
	if (c->freeme && c->busy == 0)
		rc_really_free(c);
}

/* Report from the event loop: never inside a call from the owner. */
static void
rc_emit_later(struct relay_client *c, enum relay_client_event ev)
{
	c->deferred = ev;
	event_active(c->ev_defer, 0, 0);
}

static void
rc_send(struct relay_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One command line; CRLF is added here. */
static void
rc_send(struct relay_client *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		/* Addresses are bounded far below this: an invariant. */
		fatalx("relay_client: command too long");
	}
	if (strncmp(line, "AUTH", 4) == 0 || c->state == RCS_AUTH_USER ||
	    c->state == RCS_AUTH_PASS || c->state == RCS_AUTH)
		log_debug("%s > (authentication)", c->peer);
	else
		log_debug("%s > %s", c->peer, line);
	memcpy(line + n, "\r\n", 2);
	if (relay_io_write(c->io, line, n + 2) == -1)
		log_warnx("%s: output buffer full", c->peer);
	relay_io_timeout(c->io, c->pol.to_command);
}

/* The session could not be set up (or reused): tell the owner. */
static void
rc_setup_fail(struct relay_client *c, uint32_t status, uint32_t code,
    const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
rc_setup_fail(struct relay_client *c, uint32_t status, uint32_t code,
    const char *enh, const char *fmt, ...)
{
	va_list ap;

	c->fail.status = status;
	c->fail.code = code;
	strlcpy(c->fail.enhanced, enh, sizeof(c->fail.enhanced));
	va_start(ap, fmt);
	vsnprintf(c->fail.text, sizeof(c->fail.text), fmt, ap);
	va_end(ap);
	c->fail.next = c->state != RCS_RSET;
	c->fail.reuse = c->state == RCS_RSET;
	c->reusable = 0;
	c->state = RCS_DEAD;
	relay_io_timeout(c->io, 0);
	rc_emit(c, RC_EV_FAILED);
}

/* The enhanced code of the current reply, or one made from its class. */
static void
rc_reply_enhanced(struct relay_client *c, char *buf, size_t bufsz)
{
	if (c->reply.enhanced[0] != '\0')
		strlcpy(buf, c->reply.enhanced, bufsz);
	else
		snprintf(buf, bufsz, "%d.0.0", c->reply.code / 100);
}

static uint32_t
rc_reply_status(struct relay_client *c)
{
	switch (c->reply.code / 100) {
	case 2:
		return RELAY_DELIVERED;
	case 5:
		return RELAY_PERMFAIL;
	default:
		return RELAY_TEMPFAIL;
	}
}

/* A reply that failed the set-up: its code, class and text. */
static void
rc_setup_fail_reply(struct relay_client *c)
{
	char enh[16], text[MAX_REPLY];
	enum rc_state st = c->state;

	rc_reply_enhanced(c, enh, sizeof(enh));
	smtp_reply_text(&c->reply, text, sizeof(text));
	rc_setup_fail(c, c->reply.code / 100 == 5 ? RELAY_PERMFAIL :
	    RELAY_TEMPFAIL, c->reply.code, enh, "host %s refused us %s: %d "
	    "%s", c->peer, rc_stage[st], c->reply.code, text);
}

static void
rc_set_rcpt(struct relay_rcpt *r, uint32_t status, uint32_t code,
    const char *enh, const char *text)
{
	r->status = status;
	r->code = code;
	strlcpy(r->enhanced, enh, sizeof(r->enhanced));
	strlcpy(r->text, text, sizeof(r->text));
}

/* Every recipient still without a result gets this one. */
static void
rc_rcpt_rest(struct relay_client *c, uint32_t status, uint32_t code,
    const char *enh, const char *text)
{
	int i;

	for (i = 0; i < c->msg->nrcpt; i++)
		if (c->msg->rcpt[i].status == 0)
			rc_set_rcpt(&c->msg->rcpt[i], status, code, enh,
			    text);
}

/* ... or this reply. */
static void
rc_rcpt_rest_reply(struct relay_client *c)
{
	char enh[16], text[MAX_REPLY];

	rc_reply_enhanced(c, enh, sizeof(enh));
	smtp_reply_text(&c->reply, text, sizeof(text));
	rc_rcpt_rest(c, rc_reply_status(c), c->reply.code, enh, text);
}

static void
rc_txn_done(struct relay_client *c)
{
	c->msg = NULL;
	c->state = c->reusable ? RCS_IDLE : RCS_DEAD;
	relay_io_timeout(c->io, c->reusable ? c->idle_timeout : 0);
	rc_emit(c, RC_EV_DONE);
}

struct relay_client *
relay_client_new(struct event_base *base, const struct dns_target *t,
    const struct relay_policy *pol, relay_client_cb cb, void *arg)
{
	struct relay_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = base;
	c->target = *t;
	c->pol = *pol;
	c->cb = cb;
	c->arg = arg;
	c->reusable = 1;
	c->state = RCS_CONNECT;
	snprintf(c->peer, sizeof(c->peer), "%s[%s]:%d", t->host, t->addr,
	    dns_target_port(t));
	smtp_reply_init(&c->reply);
	if ((c->ev_defer = event_new(base, -1, 0, rc_on_defer, c)) == NULL) {
		free(c);
		return NULL;
	}
	c->io = relay_io_connect(base, (const struct sockaddr *)&t->ss,
	    t->sslen, rc_on_io, c);
	if (c->io == NULL) {
		c->fail.status = RELAY_TEMPFAIL;
		c->fail.next = 1;
		strlcpy(c->fail.enhanced, "4.4.1", sizeof(c->fail.enhanced));
		snprintf(c->fail.text, sizeof(c->fail.text), "connect to "
		    "%s: %s", c->peer, strerror(errno));
		c->state = RCS_DEAD;
		rc_emit_later(c, RC_EV_FAILED);
		return c;
	}
	relay_io_timeout(c->io, pol->to_connect);
	log_debug("%s: connecting", c->peer);
	return c;
}

/* TLS now, either at once (smtps) or after the 220 to STARTTLS. */
static void
rc_start_tls(struct relay_client *c, enum rc_state next)
{
	struct tls_config *cfg;

	cfg = c->pol.verify ? c->pol.tls_verify : c->pol.tls_noverify;
	c->state = next;
	if (cfg == NULL || relay_io_starttls(c->io, cfg, c->target.host) ==
	    -1) {
		c->fail.tls_failed = c->pol.tls == RC_TLS_TRY;
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.7.5", "TLS with %s "
		    "failed: %s", c->peer, cfg == NULL ? "no TLS "
		    "configuration" : relay_io_error(c->io));
		return;
	}
	relay_io_timeout(c->io, c->pol.to_command);
}

static void
rc_on_connected(struct relay_client *c)
{
	log_debug("%s: connected", c->peer);
	if (c->pol.tls == RC_TLS_IMPLICIT) {
		rc_start_tls(c, RCS_TLS_WRAP);
		return;
	}
	c->state = RCS_GREETING;
	relay_io_timeout(c->io, c->pol.to_command);
}

static void
rc_on_tls_done(struct relay_client *c)
{
	c->tls = 1;
	log_debug("%s: %s %s", c->peer, relay_io_tls_version(c->io),
	    relay_io_tls_cipher(c->io) ? relay_io_tls_cipher(c->io) : "");
	if (c->state == RCS_TLS_WRAP) {
		c->state = RCS_GREETING;
		relay_io_timeout(c->io, c->pol.to_command);
		return;
	}
	/* RFC 3207 4.2: forget what was learned before, ask again. */
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	c->state = RCS_EHLO;
	rc_send(c, "EHLO %s", c->pol.helo);
}

static void
rc_auth_start(struct relay_client *c)
{
	unsigned char plain[2 * 256 + 3];
	char b64[BASE64_ENCLEN(sizeof(plain)) + 1];
	size_t ulen = strlen(c->pol.user), plen = strlen(c->pol.pass), n;

	if (c->ehlo.auth & EHLO_AUTH_PLAIN && ulen <= 256 && plen <= 256) {
		/* authzid empty, authcid, password (RFC 4616) */
		plain[0] = '\0';
		memcpy(plain + 1, c->pol.user, ulen);
		plain[1 + ulen] = '\0';
		memcpy(plain + 2 + ulen, c->pol.pass, plen);
		if (base64_encode(plain, 2 + ulen + plen, b64, sizeof(b64),
		    &n) == -1)
			fatalx("relay_client: base64");
		explicit_bzero(plain, sizeof(plain));
		c->state = RCS_AUTH;
		c->auth_login = 0;
		rc_send(c, "AUTH PLAIN %s", b64);
		explicit_bzero(b64, sizeof(b64));
		return;
	}
	c->state = RCS_AUTH;
	c->auth_login = 1;
	rc_send(c, "AUTH LOGIN");
}

/* AUTH LOGIN: the next secret, base64. */
static void
rc_auth_login_step(struct relay_client *c, const char *secret,
    enum rc_state next)
{
	char b64[BASE64_ENCLEN(512) + 1];
	size_t n;

	if (strlen(secret) > 512 || base64_encode(secret, strlen(secret),
	    b64, sizeof(b64), &n) == -1) {
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.7.0", "credentials "
		    "too long for AUTH LOGIN");
		return;
	}
	c->state = next;
	rc_send(c, "%s", b64);
	explicit_bzero(b64, sizeof(b64));
}

/* After EHLO (or HELO): STARTTLS, then AUTH, then ready. */
static void
rc_next_step(struct relay_client *c)
{
	int must_tls = c->pol.tls == RC_TLS_REQUIRE || c->pol.user != NULL;

	if (!c->tls && !c->starttls_refused && c->pol.tls != RC_TLS_NO &&
	    (c->ehlo.flags & EHLO_STARTTLS)) {
		c->state = RCS_STARTTLS;
		rc_send(c, "STARTTLS");
		return;
	}
	if (!c->tls && must_tls) {
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.7.4", "TLS is "
		    "required, but host %s %s", c->peer, c->starttls_refused ?
		    "refused STARTTLS" : "does not offer STARTTLS");
		return;
	}
	if (c->pol.user != NULL && c->state != RCS_AUTH &&
	    c->state != RCS_AUTH_PASS) {
		if (c->ehlo.auth & (EHLO_AUTH_PLAIN | EHLO_AUTH_LOGIN)) {
			rc_auth_start(c);
			return;
		}
		log_warnx("%s offers no AUTH PLAIN or LOGIN: sending "
		    "without authentication", c->peer);
	}
	c->state = RCS_IDLE;
	relay_io_timeout(c->io, 0);
	rc_emit(c, RC_EV_READY);
}

static void
rc_reply_setup(struct relay_client *c)
{
	int class = c->reply.code / 100;

	switch (c->state) {
	case RCS_GREETING:
		if (class != 2) {
			rc_setup_fail_reply(c);
			return;
		}
		c->state = RCS_EHLO;
		rc_send(c, "EHLO %s", c->pol.helo);
		return;
	case RCS_EHLO:
		if (class == 5 && !c->tls) {
			c->state = RCS_HELO;
			rc_send(c, "HELO %s", c->pol.helo);
			return;
		}
		if (class != 2) {
			rc_setup_fail_reply(c);
			return;
		}
		smtp_ehlo_parse(&c->reply, &c->ehlo);
		rc_next_step(c);
		return;
	case RCS_HELO:
		if (class != 2) {
			rc_setup_fail_reply(c);
			return;
		}
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		rc_next_step(c);
		return;
	case RCS_STARTTLS:
		if (class != 2) {
			/* Opportunistic: carry on in the clear. */
			log_info("%s refused STARTTLS: %d", c->peer,
			    c->reply.code);
			c->starttls_refused = 1;
			rc_next_step(c);
			return;
		}
		if (relay_io_inlen(c->io) > 0) {
			rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.7.5", "host %s "
			    "sent data after its reply to STARTTLS (command "
			    "injection?)", c->peer);
			return;
		}
		rc_start_tls(c, RCS_TLS);
		return;
	case RCS_AUTH:
		if (c->auth_login && c->reply.code == 334) {
			rc_auth_login_step(c, c->pol.user, RCS_AUTH_USER);
			return;
		}
		/* FALLTHROUGH */
	case RCS_AUTH_PASS:
		if (class != 2) {
			char text[MAX_REPLY];

			/* The operator's mistake: never a bounce. */
			smtp_reply_text(&c->reply, text, sizeof(text));
			rc_setup_fail(c, RELAY_TEMPFAIL, c->reply.code,
			    "4.7.8", "authentication to %s failed: %d %s",
			    c->peer, c->reply.code, text);
			return;
		}
		rc_next_step(c);
		return;
	case RCS_AUTH_USER:
		if (c->reply.code != 334) {
			c->state = RCS_AUTH_PASS;
			rc_reply_setup(c);
			return;
		}
		rc_auth_login_step(c, c->pol.pass, RCS_AUTH_PASS);
		return;
	case RCS_RSET:
		if (class != 2) {
			c->rset_group = 0;
			rc_setup_fail_reply(c);
			return;
		}
		if (c->rset_group) {
			/* MAIL and the RCPTs are out: their replies follow. */
			c->rset_group = 0;
			c->state = RCS_MAIL;
			return;
		}
		rc_start_mail(c);
		return;
	default:
		fatalx("rc_reply_setup: state %d", c->state);
	}
}

/* Is the message one this hop can take?  Else every recipient fails. */
static int
rc_check_message(struct relay_client *c)
{
	struct relay_msg *m = c->msg;
	char text[MAX_REPLY];
	const char *enh = NULL;

	if ((c->ehlo.flags & EHLO_SIZE) && c->ehlo.size > 0 &&
	    m->size > c->ehlo.size) {
		enh = "5.3.4";
		snprintf(text, sizeof(text), "message size %llu exceeds the "
		    "size limit %llu of host %s", (unsigned long long)m->size,
		    (unsigned long long)c->ehlo.size, c->peer);
	} else if ((m->bodyflags & BODY_SMTPUTF8) &&
	    !(c->ehlo.flags & EHLO_SMTPUTF8)) {
		enh = "5.6.7";
		snprintf(text, sizeof(text), "message needs SMTPUTF8 "
		    "(internationalized addresses or headers), which host %s "
		    "does not support", c->peer);
	} else if ((m->bodyflags & BODY_8BIT) &&
	    !(c->ehlo.flags & EHLO_8BITMIME)) {
		enh = "5.6.3";
		snprintf(text, sizeof(text), "message has 8-bit content, but "
		    "host %s does not support 8BITMIME (the message is signed: "
		    "no conversion)", c->peer);
	}
	if (enh == NULL)
		return 0;
	rc_rcpt_rest(c, RELAY_PERMFAIL, 0, enh, text);
	return -1;
}

static void
rc_send_rcpt(struct relay_client *c, int i)
{
	rc_send(c, "RCPT TO:<%s>", c->msg->rcpt[i].addr);
}

/* MAIL, and the RCPTs too when pipelining: the commands of a transaction. */
static void
rc_send_mail(struct relay_client *c)
{
	struct relay_msg *m = c->msg;
	char params[128];
	int i;

	params[0] = '\0';
	if (c->ehlo.flags & EHLO_SIZE)
		snprintf(params, sizeof(params), " SIZE=%llu",
		    (unsigned long long)m->size);
	if ((m->bodyflags & (BODY_8BIT | BODY_SMTPUTF8)) &&
	    (c->ehlo.flags & EHLO_8BITMIME))
		strlcat(params, " BODY=8BITMIME", sizeof(params));
	if ((m->bodyflags & BODY_SMTPUTF8) && (c->ehlo.flags & EHLO_SMTPUTF8))
		strlcat(params, " SMTPUTF8", sizeof(params));

	free(c->sent);
	if ((c->sent = calloc(m->nrcpt, sizeof(*c->sent))) == NULL)
		fatal("calloc");
	c->nsent = c->nreplied = c->naccepted = c->mail_ok = 0;
	for (i = 0; i < m->nrcpt; i++) {
		m->rcpt[i].accepted = 0;
		if (m->rcpt[i].status == 0)
			c->sent[c->nsent++] = i;
	}
	c->nmsgs++;
	c->pipelined = (c->ehlo.flags & EHLO_PIPELINING) != 0;
	rc_send(c, "MAIL FROM:<%s>%s", m->sender, params);
	if (c->pipelined)
		for (i = 0; i < c->nsent; i++)
			rc_send_rcpt(c, c->sent[i]);
}

/* Is the message one this hop can take?  Else DONE, with every
 * recipient failed, comes from the event loop: -1. */
static int
rc_refuse(struct relay_client *c)
{
	if (rc_check_message(c) == 0)
		return 0;
	c->state = RCS_REFUSED;
	rc_emit_later(c, RC_EV_DONE);
	return -1;
}

static void
rc_start_mail(struct relay_client *c)
{
	if (rc_refuse(c) == -1)
		return;
	c->state = RCS_MAIL;
	rc_send_mail(c);
}

int
relay_client_send(struct relay_client *c, struct relay_msg *m)
{
	int i, pending = 0;

	if (c->state != RCS_IDLE || c->msg != NULL)
		return -1;
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].status == 0)
			pending++;
	if (pending == 0)
		return -1;
	c->msg = m;
	memset(&c->fail, 0, sizeof(c->fail));
	if (c->nmsgs > 0) {
		/*
		 * A reused session: start clean, and see that it lives.  RSET
		 * may lead a pipelined group (RFC 2920 3.1), so with
		 * PIPELINING the MAIL and RCPTs go with it and the
		 * transaction costs no round trip of its own for the RSET.
		 * Until the RSET's reply has come, the session counts as not
		 * set up (a failure there is retried on a fresh one) and
		 * the replies to the rest are read after it.
		 */
		if (!(c->ehlo.flags & EHLO_PIPELINING)) {
			c->state = RCS_RSET;
			rc_send(c, "RSET");
			return 0;
		}
		if (rc_refuse(c) == -1)
			return 0;
		c->state = RCS_RSET;
		c->rset_group = 1;
		rc_send(c, "RSET");
		rc_send_mail(c);
		return 0;
	}
	rc_start_mail(c);
	return 0;
}

static void
rc_body(struct relay_client *c)
{
	unsigned char buf[32768];
	ssize_t n;

	relay_io_timeout(c->io, c->pol.to_data_block);
	while (relay_io_outlen(c->io) < 2 * RELAY_IO_LOWAT) {
		n = relay_data_read(&c->data, buf, sizeof(buf));
		if (n == -1) {
			/* Half a message is out: only a close ends it. */
			log_warn("%s: reading the message %s", c->peer,
			    c->msg->qid);
			rc_rcpt_rest(c, RELAY_TEMPFAIL, 0, "4.3.0", "local "
			    "error reading the queued message");
			c->reusable = 0;
			rc_txn_done(c);
			return;
		}
		if (n == 0) {
			c->state = RCS_DOT;
			log_debug("%s > (message, %llu octets) .", c->peer,
			    (unsigned long long)c->msg->size);
			relay_io_timeout(c->io, c->pol.to_data_end);
			return;
		}
		if (relay_io_write(c->io, buf, n) == -1)
			fatalx("relay_client: output buffer overflow");
	}
}

/* All RCPT replies are in: DATA, or the end of this transaction. */
static void
rc_rcpts_done(struct relay_client *c)
{
	if (!c->mail_ok || c->naccepted == 0) {
		rc_txn_done(c);
		return;
	}
	c->state = RCS_DATA;
	rc_send(c, "DATA");
}

static void
rc_reply_rcpt(struct relay_client *c)
{
	struct relay_rcpt *r;
	char enh[16], text[MAX_REPLY];

	if (c->nreplied >= c->nsent)
		return;
	r = &c->msg->rcpt[c->sent[c->nreplied++]];
	if (c->mail_ok) {
		if (c->reply.code / 100 == 2) {
			r->accepted = 1;
			c->naccepted++;
		} else {
			rc_reply_enhanced(c, enh, sizeof(enh));
			smtp_reply_text(&c->reply, text, sizeof(text));
			rc_set_rcpt(r, rc_reply_status(c), c->reply.code, enh,
			    text);
		}
	}
	if (c->nreplied == c->nsent) {
		rc_rcpts_done(c);
		return;
	}
	if (!c->pipelined)
		rc_send_rcpt(c, c->sent[c->nreplied]);
}

/* The reply to DATA, or a reply during the body, or to the final ".". */
static void
rc_reply_data(struct relay_client *c)
{
	int class = c->reply.code / 100;

	if (c->state == RCS_DATA && c->reply.code == 354) {
		relay_data_init(&c->data, c->msg->fd, c->msg->prefix,
		    c->msg->prefixlen);
		c->state = RCS_BODY;
		rc_body(c);
		return;
	}
	/* Mid-body, the session is out of step whatever was said. */
	if (c->state == RCS_BODY)
		c->reusable = 0;
	if (class < 4 && (c->state != RCS_DOT || class != 2)) {
		/* 2xx to DATA, 3xx to "."...: not SMTP as we know it. */
		c->reusable = 0;
		rc_rcpt_rest(c, RELAY_TEMPFAIL, c->reply.code, "4.5.0",
		    "protocol error: unexpected reply");
		rc_txn_done(c);
		return;
	}
	/* Every recipient still pending was accepted: this is its fate. */
	rc_rcpt_rest_reply(c);
	rc_txn_done(c);
}

static void
rc_reply_txn(struct relay_client *c)
{
	if (c->reply.code == 421) {
		/* RFC 5321 3.8: the server is closing; nothing more. */
		c->reusable = 0;
		rc_rcpt_rest_reply(c);
		rc_txn_done(c);
		return;
	}
	switch (c->state) {
	case RCS_MAIL:
		if (c->reply.code / 100 == 2)
			c->mail_ok = 1;
		else
			rc_rcpt_rest_reply(c);
		if (c->pipelined) {
			c->state = RCS_RCPT;
			if (c->nsent == 0)
				rc_rcpts_done(c);
			return;
		}
		if (!c->mail_ok) {
			rc_txn_done(c);
			return;
		}
		c->state = RCS_RCPT;
		rc_send_rcpt(c, c->sent[0]);
		return;
	case RCS_RCPT:
		rc_reply_rcpt(c);
		return;
	default:
		rc_reply_data(c);
		return;
	}
}

/* An idle session is over (closed, 421, garbage): the owner forgets it. */
static void
rc_idle_closed(struct relay_client *c)
{
	c->state = RCS_DEAD;
	c->reusable = 0;
	relay_io_timeout(c->io, 0);
	rc_emit(c, RC_EV_CLOSED);
}

static void
rc_reply(struct relay_client *c)
{
	char text[120];

	smtp_reply_text(&c->reply, text, sizeof(text));
	log_debug("%s < %d %s%s%s", c->peer, c->reply.code,
	    c->reply.enhanced, c->reply.enhanced[0] ? " " : "", text);
	if (rc_in_setup(c->state)) {
		rc_reply_setup(c);
		return;
	}
	if (rc_in_txn(c->state)) {
		rc_reply_txn(c);
		return;
	}
	switch (c->state) {
	case RCS_IDLE:
		/* Unasked for: a 421 before closing, or garbage. */
		log_info("%s said while idle: %d %s", c->peer,
		    c->reply.code, text);
		rc_idle_closed(c);
		return;
	case RCS_QUIT:
		relay_client_free(c);
		return;
	default:
		/* RCS_REFUSED: the session ends after DONE. */
		c->reusable = 0;
		return;
	}
}

static void
rc_read(struct relay_client *c)
{
	char *line;
	size_t len;
	int r;

	while (!c->freeme && c->state != RCS_DEAD) {
		if ((r = relay_io_getline(c->io, &line, &len)) == 0)
			return;
		if (r == -1) {
			rc_lost(c, "protocol error: reply line too long", 0);
			return;
		}
		switch (smtp_reply_feed_line(&c->reply, line, len)) {
		case SMTP_REPLY_NEED_MORE:
			continue;
		case SMTP_REPLY_ERROR:
			rc_lost(c, c->reply.err, 0);
			return;
		default:
			rc_reply(c);
		}
	}
}

/*
 * The connection broke (closed, I/O error, timeout, garbage): what that
 * means depends on where we were.
 */
static void
rc_lost(struct relay_client *c, const char *why, int timeout)
{
	enum rc_state st = c->state;
	char text[MAX_REPLY];

	c->reusable = 0;
	if (st != RCS_TLS && rc_in_setup(st)) {
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.4.2", "%s with %s %s%s"
		    "%s", timeout ? "conversation timed out" :
		    "lost connection", c->peer, rc_stage[st], timeout ? "" :
		    ": ", timeout ? "" : why);
		return;
	}
	if (rc_in_txn(st)) {
		snprintf(text, sizeof(text), "%s with %s %s%s%s", timeout ?
		    "conversation timed out" : "lost connection", c->peer,
		    rc_stage[st], timeout ? "" : ": ", timeout ? "" : why);
		rc_rcpt_rest(c, RELAY_TEMPFAIL, 0, "4.4.2", text);
		rc_txn_done(c);
		return;
	}
	switch (st) {
	case RCS_CONNECT:
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.4.1", "connect to %s: "
		    "%s", c->peer, timeout ? "timed out" : why);
		return;
	case RCS_TLS_WRAP:
	case RCS_TLS:
		c->fail.tls_failed = c->pol.tls == RC_TLS_TRY;
		rc_setup_fail(c, RELAY_TEMPFAIL, 0, "4.7.5", "TLS with %s "
		    "failed: %s", c->peer, timeout ? "timed out" : why);
		return;
	case RCS_IDLE:
		rc_idle_closed(c);
		return;
	case RCS_QUIT:
		relay_client_free(c);
		return;
	default:
		/* RCS_REFUSED, RCS_DEAD */
		return;
	}
}

static void
rc_on_io(struct relay_io *io, enum relay_io_event ev, void *arg)
{
	struct relay_client *c = arg;

	c->busy++;
	switch (ev) {
	case IO_CONNECTED:
		rc_on_connected(c);
		break;
	case IO_TLS_DONE:
		rc_on_tls_done(c);
		break;
	case IO_INPUT:
		rc_read(c);
		break;
	case IO_LOWAT:
		if (c->state == RCS_BODY)
			rc_body(c);
		break;
	case IO_TIMEOUT:
		if (c->state == RCS_IDLE) {
			/* Idle long enough: let go politely. */
			c->state = RCS_DEAD;
			rc_emit(c, RC_EV_CLOSED);
			if (!c->freeme)
				relay_client_quit(c);
			break;
		}
		rc_lost(c, "timeout", 1);
		break;
	case IO_CLOSED:
	case IO_ERROR:
		rc_lost(c, relay_io_error(io), 0);
		break;
	}
	c->busy--;
	if (c->freeme && c->busy == 0)
		rc_really_free(c);
}

void
relay_client_quit(struct relay_client *c)
{
	c->cb = NULL;
	if (c->io == NULL || c->freeme || (c->state != RCS_IDLE &&
	    c->state != RCS_DEAD) || !c->reusable) {
		relay_client_free(c);
		return;
	}
	c->state = RCS_QUIT;
	rc_send(c, "QUIT");
	relay_io_timeout(c->io, RC_QUIT_TIMEOUT);
}

void
relay_client_idle(struct relay_client *c, int seconds)
{
	c->idle_timeout = seconds;
	if (c->state == RCS_IDLE)
		relay_io_timeout(c->io, seconds);
}

const struct relay_failure *
relay_client_failure(struct relay_client *c)
{
	return &c->fail;
}

int
relay_client_reusable(struct relay_client *c)
{
	return c->reusable && c->state == RCS_IDLE;
}

const char *
relay_client_tls(struct relay_client *c)
{
	return c->tls ? relay_io_tls_version(c->io) : NULL;
}

int
relay_client_nmsgs(struct relay_client *c)
{
	return c->nmsgs;
}

const struct dns_target *
relay_client_target(struct relay_client *c)
{
	return &c->target;
}

void
relay_client_set_arg(struct relay_client *c, void *arg)
{
	c->arg = arg;
}
