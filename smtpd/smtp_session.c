/*
 * smtp_session.c: one SMTP submission session (RFC 5321, RFC 6409), the
 * state machine of smtpd.h's enum smtp_state.
 *
 * The life of a session:
 *
 *	accept ─┬─ (from a proxy-from address) PROXY ─┐
 *	        └─────────────────────────────────────┴─ limits per client
 *	  ─┬─ (implicit TLS) TLS_ACCEPT ─┐
 *	   └─────────────────────────────┴─ "220" greeting ─ COMMAND
 *
 *	COMMAND ── STARTTLS ─ "220" ─ STARTTLS (handshake) ─ COMMAND
 *	        ── AUTH ─ [AUTH_LINE ...] ─ WAIT_AUTHD ─ COMMAND
 *	                                         └─ AUTH_DELAY ─ COMMAND
 *	        ── MAIL ─ WAIT_AUTHD (token still valid?) ─ WAIT_OPEN ─ COMMAND
 *	        ── RCPT ... (no wait: queued answers at commit)
 *	        ── DATA ─ DATA ─ WAIT_COMMIT ─ COMMAND
 *	        ── BDAT ─ BDAT ─ COMMAND (more chunks) | WAIT_COMMIT (LAST)
 *	        ── QUIT, errors over the limit, timeouts ─ CLOSING
 *
 * Input is only ever consumed in COMMAND, AUTH_LINE, DATA and BDAT; in
 * every other state what the client pipelined waits, in order, so replies
 * always come in the order of the commands (RFC 2920).
 *
 * Replies carry RFC 3463 enhanced codes (ENHANCEDSTATUSCODES), except the
 * 220 greeting, the replies to EHLO and HELO, and the 334 challenges, as
 * RFC 2034 section 3 says.  Every reply a client's error caused counts
 * toward "limit errors"; past it the session ends with 421.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "log.h"
#include "smtp_proxy.h"
#include "smtpd.h"

static int
session_cmp(struct smtp_session *a, struct smtp_session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(session_tree, smtp_session);
RB_PROTOTYPE(session_tree, smtp_session, entry, session_cmp);
RB_GENERATE(session_tree, smtp_session, entry, session_cmp);
static struct session_tree sessions = RB_INITIALIZER(&sessions);
static int nsessions;

static void session_command(struct smtp_session *, const char *, size_t);

struct smtp_session *
smtp_session_find(uint64_t id)
{
	struct smtp_session key;

	key.id = id;
	return RB_FIND(session_tree, &sessions, &key);
}

int
smtp_session_count(void)
{
	return nsessions;
}

void
smtp_session_each(void (*fn)(struct smtp_session *))
{
	struct smtp_session *s, *next;

	RB_FOREACH_SAFE(s, session_tree, &sessions, next)
		fn(s);
}

/*
 * The client's address as text, for logs, limits and Received:.  An IPv4
 * client of a dual-stack listener arrives as ::ffff:a.b.c.d; it is taken
 * as the IPv4 address it is, so that it is counted and logged as one.
 */
static void
session_addr(struct smtp_session *s)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->ss;
	struct sockaddr_in sin;

	if (s->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = sin6->sin6_port;
		memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		memset(&s->ss, 0, sizeof(s->ss));
		memcpy(&s->ss, &sin, sizeof(sin));
	}
	if (getnameinfo((struct sockaddr *)&s->ss, s->ss.ss_family ==
	    AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
	    s->client, sizeof(s->client), NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(s->client, "unknown", sizeof(s->client));
}

struct smtp_session *
smtp_session_new(int fd, int lindex, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	const struct listener *l;
	struct smtp_session *s;

	TAILQ_FOREACH(l, &child_conf->listeners, entry)
		if (l->index == lindex)
			break;
	if (l == NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	do {
		arc4random_buf(&s->id, sizeof(s->id));
	} while (s->id == 0 || smtp_session_find(s->id) != NULL);
	(void)snprintf(s->idstr, sizeof(s->idstr), "%016llx",
	    (unsigned long long)s->id);
	s->fd = fd;
	s->lindex = lindex;
	s->mode = l->mode;
	s->auth_listener = l->auth;
	memcpy(&s->ss, ss, sslen < sizeof(s->ss) ? sslen : sizeof(s->ss));
	session_addr(s);
	dbuf_init(&s->in, (size_t)child_conf->max_line + SMTP_READ_CHUNK);
	dbuf_init(&s->out, SMTP_OUT_HIGH + SMTP_READ_CHUNK);
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->why = "unknown";
	smtp_io_init(s);
	RB_INSERT(session_tree, &sessions, s);
	nsessions++;

	/* A connection from a listed balancer must begin with PROXY. */
	s->state = SMTP_S_COMMAND;
	if (smtp_proxy_trusted(l, &s->ss))
		s->state = SMTP_S_PROXY;
	return s;
}

static void
session_greeting(struct smtp_session *s)
{
	smtp_reply(s, "220 %s ESMTP postern", child_conf->hostname);
}

/* The client's address is known: count it, greet or start TLS. */
static void
session_connected(struct smtp_session *s)
{
	log_info("session=%s connect client=%s listener=%d%s", s->idstr,
	    s->client, s->lindex, s->flags & SMTP_F_PROXIED ? " proxy=yes" :
	    "");
	if (smtp_limit_add(s) == -1) {
		log_warnx("session=%s refused client=%s reason=\"limit "
		    "sessions-per-client\"", s->idstr, s->client);
		if (s->mode == LISTEN_TLS) {
			s->flags |= SMTP_F_DEAD;
			s->why = "limit";
			return;
		}
		smtp_reply(s, "421 4.7.0 Too many sessions from your "
		    "address, try again later");
		smtp_session_close(s, "limit");
		return;
	}
	if (s->mode == LISTEN_TLS) {
		s->state = SMTP_S_TLS_ACCEPT;
		smtp_session_timeout_set(s);
		return;
	}
	s->state = SMTP_S_COMMAND;
	session_greeting(s);
	smtp_session_timeout_set(s);
}

void
smtp_session_start(struct smtp_session *s)
{
	if (s->state == SMTP_S_PROXY)
		smtp_session_timeout_set(s);
	else
		session_connected(s);
	smtp_io_run(s);
}

void
smtp_session_proxied(struct smtp_session *s, const struct proxy_info *pi)
{
	if (!pi->local) {
		memset(&s->ss, 0, sizeof(s->ss));
		memcpy(&s->ss, &pi->src, pi->srclen);
		session_addr(s);
		s->flags |= SMTP_F_PROXIED;
	}
	session_connected(s);
}

void
smtp_session_tls_done(struct smtp_session *s)
{
	char desc[128];

	smtp_tls_describe(s, desc, sizeof(desc));
	log_info("session=%s tls %s", s->idstr, desc);
	if (s->state == SMTP_S_TLS_ACCEPT)
		session_greeting(s);
	/* RFC 3207: forget everything the client said before TLS. */
	s->flags &= ~(SMTP_F_HELO | SMTP_F_EHLO);
	s->helo[0] = '\0';
	s->state = SMTP_S_COMMAND;
	smtp_session_timeout_set(s);
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = sizeof(buf) - 3;
	log_debug("session=%s reply \"%.*s\"", s->idstr, n, buf);
	buf[n++] = '\r';
	buf[n++] = '\n';
	if (dbuf_append(&s->out, buf, (size_t)n) == -1) {
		/* The client reads none of its replies: let it go. */
		s->flags |= SMTP_F_DEAD;
		s->why = "output overflow";
	}
}

void
smtp_reply_err(struct smtp_session *s, const struct smtp_err *e)
{
	smtp_reply(s, "%d %s %s", e->code, e->enhanced, e->text);
}

/*
 * Count an error the client made.  Past the limit the session ends:
 * returns 1 then, and the caller must not reply any more.
 */
int
smtp_session_error(struct smtp_session *s)
{
	if (++s->nerrors < child_conf->max_errors)
		return 0;
	smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
	    child_conf->hostname);
	smtp_session_close(s, "errors");
	return 1;
}

void
smtp_session_close(struct smtp_session *s, const char *why)
{
	if (s->tx != NULL)
		smtp_tx_abort(s);
	s->why = why;
	s->state = SMTP_S_CLOSING;
	smtp_session_timeout_set(s);
}

void
smtp_session_timeout(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSING) {
		s->flags |= SMTP_F_DEAD;
		return;
	}
	if (s->state == SMTP_S_PROXY || s->state == SMTP_S_TLS_ACCEPT ||
	    s->state == SMTP_S_STARTTLS) {
		/* Nothing can be said in the middle of a handshake. */
		s->why = "timeout";
		s->flags |= SMTP_F_DEAD;
		return;
	}
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    child_conf->hostname);
	smtp_session_close(s, "timeout");
}

/*
 * Arm the timer for the state (capped by the session's own limit).  It is
 * armed again whenever input moves the session on, so a command timeout
 * runs from the last complete command, not from the last octet: a client
 * trickling one octet a second still runs out of time.
 */
void
smtp_session_timeout_set(struct smtp_session *s)
{
	struct timespec now;
	time_t t, left;

	switch (s->state) {
	case SMTP_S_AUTH_DELAY:
		return;		/* the timer is the delay */
	case SMTP_S_PROXY:
	case SMTP_S_TLS_ACCEPT:
		t = child_conf->to_greeting;
		break;
	case SMTP_S_DATA:
	case SMTP_S_BDAT:
		/* The first data, then each piece of it. */
		t = s->tx != NULL && s->tx->data_started && s->tx->data.size > 0 ?
		    child_conf->to_data_block : child_conf->to_data_init;
		break;
	case SMTP_S_WAIT_COMMIT:
		t = child_conf->to_data_end;
		break;
	case SMTP_S_CLOSING:
		t = SMTP_CLOSE_TIMEOUT;
		break;
	default:
		t = child_conf->to_command;
		break;
	}
	/* A handshake is quick or it is an attack on the TLS slots. */
	if ((s->state == SMTP_S_TLS_ACCEPT || s->state == SMTP_S_STARTTLS) &&
	    t > SMTP_TLS_HANDSHAKE_MAX)
		t = SMTP_TLS_HANDSHAKE_MAX;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = child_conf->to_session - (now.tv_sec - s->started.tv_sec);
	if (s->state != SMTP_S_CLOSING && left < t)
		t = left > 0 ? left : 0;
	smtp_io_timer(s, t, 0);
}

void
smtp_session_free(struct smtp_session *s)
{
	struct timespec now;

	if (s->tx != NULL)
		smtp_tx_abort(s);
	smtp_peer_unpause(s);
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_info("session=%s disconnect client=%s reason=%s msgs=%d rcpts=%d "
	    "errors=%d authfail=%d in=%llu duration=%llds", s->idstr, s->client,
	    s->why, s->nmsgs, s->nrcpts, s->nerrors, s->nauthfail,
	    (unsigned long long)s->inbytes,
	    (long long)(now.tv_sec - s->started.tv_sec));
	smtp_auth_reset(s);
	if (s->login != NULL) {
		explicit_bzero(s->login, sizeof(*s->login));
		free(s->login);
	}
	smtp_limit_release(s);
	RB_REMOVE(session_tree, &sessions, s);
	nsessions--;
	smtp_io_free(s);
	dbuf_free(&s->in);
	dbuf_free(&s->out);
	free(s);
}

/*
 * One line in COMMAND or AUTH_LINE.  Returns 1 when a line (or a piece of
 * an over-long one) was consumed, 0 when a complete line is not there yet.
 */
static int
session_line(struct smtp_session *s)
{
	size_t max = (size_t)child_conf->max_line, len, linelen;
	const unsigned char *lf;

	if (s->in.len == 0)
		return 0;
	lf = memchr(s->in.data, '\n', s->in.len);
	if (lf == NULL) {
		if (s->in.len < max)
			return 0;
		/* No end in sight: answer now, skip to the LF. */
		if (!(s->flags & SMTP_F_DISCARD)) {
			s->flags |= SMTP_F_DISCARD;
			smtp_reply(s, "500 5.5.2 Line too long");
			if (s->state == SMTP_S_AUTH_LINE)
				smtp_auth_reset(s);
			(void)smtp_session_error(s);
		}
		dbuf_reset(&s->in);
		return 1;
	}
	len = (size_t)(lf - s->in.data) + 1;
	if (s->flags & SMTP_F_DISCARD) {
		s->flags &= ~SMTP_F_DISCARD;
		dbuf_consume(&s->in, len);
		return 1;
	}
	if (len > max) {
		smtp_reply(s, "500 5.5.2 Line too long");
		if (s->state == SMTP_S_AUTH_LINE)
			smtp_auth_reset(s);
		dbuf_consume(&s->in, len);
		(void)smtp_session_error(s);
		return 1;
	}
	linelen = len - 1;
	if (linelen > 0 && s->in.data[linelen - 1] == '\r')
		linelen--;
	if (s->state == SMTP_S_AUTH_LINE)
		smtp_auth_line(s, (const char *)s->in.data, linelen);
	else
		session_command(s, (const char *)s->in.data, linelen);
	if (s->state == SMTP_S_STARTTLS) {
		/*
		 * Whatever came after STARTTLS in the same read is plain
		 * text the client must not have sent; executing it inside
		 * TLS is the CVE-2011-0411 hole.  It goes.
		 */
		dbuf_free(&s->in);
		return 1;
	}
	dbuf_consume(&s->in, len);
	return 1;
}

/*
 * Consume buffered input as far as the state allows.  Returns 1 if
 * anything happened (input consumed, state changed), 0 if nothing can.
 */
int
smtp_session_input(struct smtp_session *s)
{
	enum smtp_state before = s->state;
	int r, did = 0;

	for (;;) {
		if (s->flags & SMTP_F_DEAD)
			return 1;
		if (s->out.len >= SMTP_OUT_HIGH)
			break;
		switch (s->state) {
		case SMTP_S_COMMAND:
		case SMTP_S_AUTH_LINE:
			r = session_line(s);
			break;
		case SMTP_S_DATA:
		case SMTP_S_BDAT:
			r = smtp_tx_input(s);
			break;
		default:
			r = 0;
			break;
		}
		if (!r)
			break;
		did = 1;
	}
	if (s->in.len == 0)
		dbuf_free(&s->in);
	if (did && s->state != SMTP_S_CLOSING)
		smtp_session_timeout_set(s);
	if (did || s->state != before)
		return 1;

	/* The client closed its side: whatever waits in vain, ends. */
	if ((s->flags & SMTP_F_EOF) && !(s->flags & SMTP_F_PAUSED) &&
	    (s->state == SMTP_S_COMMAND || s->state == SMTP_S_AUTH_LINE ||
	    s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)) {
		if (s->tx != NULL && s->tx->data_started)
			log_info("session=%s lost connection in data, "
			    "nothing queued", s->idstr);
		smtp_session_close(s, "eof");
		return 1;
	}
	return 0;
}

static void
session_ehlo(struct smtp_session *s, struct smtp_cmd *cmd)
{
	int tls_possible, auth_ok;

	if (s->tx != NULL)
		smtp_tx_abort(s);
	(void)strlcpy(s->helo, cmd->domain, sizeof(s->helo));
	s->flags |= SMTP_F_HELO;
	if (cmd->verb == SMTP_HELO) {
		s->flags &= ~SMTP_F_EHLO;
		smtp_reply(s, "250 %s", child_conf->hostname);
		return;
	}
	s->flags |= SMTP_F_EHLO;
	tls_possible = s->mode == LISTEN_STARTTLS && !(s->flags & SMTP_F_TLS);
	auth_ok = s->auth_listener && (s->flags & SMTP_F_TLS);
	smtp_reply(s, "250-%s Hello %s [%s]", child_conf->hostname, s->helo,
	    s->client);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-SIZE %llu",
	    (unsigned long long)child_conf->max_message_size);
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-CHUNKING");
	if (auth_ok)
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	if (tls_possible)
		smtp_reply(s, "250-STARTTLS");
	smtp_reply(s, "250 HELP");
}

static void
session_starttls(struct smtp_session *s)
{
	if (s->mode != LISTEN_STARTTLS) {
		smtp_reply(s, "502 5.5.1 STARTTLS not available here");
		(void)smtp_session_error(s);
		return;
	}
	if (s->flags & SMTP_F_TLS) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		(void)smtp_session_error(s);
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, "503 5.5.1 STARTTLS not allowed in a "
		    "transaction");
		(void)smtp_session_error(s);
		return;
	}
	if (!smtp_tls_available(s->lindex)) {
		smtp_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SMTP_S_STARTTLS;
}

static void
session_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (smtp_cmd_parse(line, len, &cmd) == -1) {
		log_debug("session=%s refused %s: %d %s %s", s->idstr,
		    smtp_verb_name(cmd.verb), cmd.err.code, cmd.err.enhanced,
		    cmd.err.text);
		if (cmd.verb == SMTP_UNKNOWN)
			log_info("session=%s unknown command client=%s",
			    s->idstr, s->client);
		smtp_reply_err(s, &cmd.err);
		(void)smtp_session_error(s);
		return;
	}
	log_debug("session=%s command %s", s->idstr, smtp_verb_name(cmd.verb));

	/* In the middle of BDAT chunks only more of them make sense. */
	if (s->tx != NULL && s->tx->bdat && cmd.verb != SMTP_BDAT &&
	    cmd.verb != SMTP_RSET && cmd.verb != SMTP_QUIT &&
	    cmd.verb != SMTP_NOOP) {
		smtp_reply(s, "503 5.5.1 Only BDAT, RSET, NOOP or QUIT now");
		(void)smtp_session_error(s);
		return;
	}
	switch (cmd.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		session_ehlo(s, &cmd);
		break;
	case SMTP_STARTTLS:
		session_starttls(s);
		break;
	case SMTP_AUTH:
		smtp_auth_cmd(s, &cmd);
		break;
	case SMTP_MAIL:
		smtp_tx_mail(s, &cmd);
		break;
	case SMTP_RCPT:
		smtp_tx_rcpt(s, &cmd);
		break;
	case SMTP_DATA:
		smtp_tx_data(s);
		break;
	case SMTP_BDAT:
		smtp_tx_bdat(s, &cmd);
		break;
	case SMTP_RSET:
		if (s->tx != NULL)
			smtp_tx_abort(s);
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_NOOP:
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_QUIT:
		smtp_reply(s, "221 2.0.0 Bye");
		smtp_session_close(s, "quit");
		break;
	case SMTP_VRFY:
		smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		break;
	case SMTP_EXPN:
		smtp_reply(s, "502 5.5.1 EXPN not available");
		(void)smtp_session_error(s);
		break;
	case SMTP_HELP:
		smtp_reply(s, "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH "
		    "MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
		break;
	default:
		smtp_reply(s, "500 5.5.2 Command unrecognized");
		(void)smtp_session_error(s);
		break;
	}
}
