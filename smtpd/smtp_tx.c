/*
 * smtp_tx.c: one mail transaction, from MAIL to queued's answer.
 *
 * MAIL.  On a listener that requires AUTH there is no transaction without
 * a login (530 5.7.0).  With a token login the reverse-path must be the
 * token's address (addr_equal: domain without regard to case, local part
 * as "local-part-case" says), never <>; else 553 5.7.1.  Then authd is
 * asked whether the token still stands (MSG_AUTH_CHECK): a token deleted
 * while its session was open takes no new message (421 4.7.0 and the
 * session ends).  Then queued opens a message (MSG_Q_OPEN, with the
 * ticket authd issued at login, which smtpd cannot read or forge) and
 * gives its id.  No-auth listeners (loopback only; the config sees to it)
 * take any sender.
 *
 * RCPT goes to queued as it comes (MSG_Q_RCPT); queued answers for the
 * whole message at commit.
 *
 * The data.  DATA and BDAT bytes go through lib/smtp_data, which undoes
 * dot-stuffing, makes every line end CRLF, refuses what can smuggle a
 * second message (bare CR, bare LF by policy, NUL), and keeps the header
 * section apart.  When the header section is complete this file sends, in
 * MSG_Q_DATA chunks of at most SMTP_QCHUNK bytes: our Received: field,
 * Message-ID: and Date: when the client gave none (RFC 6409 section 8),
 * the client's header section, the empty line, then the body as it comes.
 * smtpd never holds more than one read and the body buffer of a message;
 * when queued's channel backs up, the session stops reading its client
 * (smtp_peer.c).
 *
 * The end.  With a token login the header must hold exactly one From:
 * with exactly one mailbox, the token's address (display name free), and
 * the same for Sender: if there is one; else 550 5.7.1 and MSG_Q_ABORT.
 * Otherwise MSG_Q_COMMIT with the body flags (BODY_8BIT: an octet >= 0x80
 * anywhere; BODY_SMTPUTF8: SMTPUTF8 declared, or UTF-8 in an address or
 * the header) and the size; queued answers only when the message, its
 * signature and its envelope are on disk, and only then does the client
 * hear 250.  A client that goes away before that gets nothing queued:
 * the message is aborted.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "child.h"
#include "clock.h"
#include "log.h"
#include "mailhdr.h"
#include "smtpd.h"

/*
 * Whether local parts of the login's address compare without regard to
 * case: the domain's rule (authd and signd read the same one).
 */
static int
tx_login_nocase(const struct smtp_session *s)
{
	const struct domain *d;
	const char *at;

	if ((at = strrchr(s->login->address, '@')) != NULL &&
	    (d = config_domain(child_conf, at + 1)) != NULL)
		return d->local_nocase;
	return child_conf->local_part_nocase;
}

static int
tx_cmp(struct smtp_tx *a, struct smtp_tx *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

RB_HEAD(tx_tree, smtp_tx);
RB_PROTOTYPE(tx_tree, smtp_tx, entry, tx_cmp);
RB_GENERATE(tx_tree, smtp_tx, entry, tx_cmp);
static struct tx_tree txs = RB_INITIALIZER(&txs);

struct smtp_tx *
smtp_tx_find(uint64_t msgid)
{
	struct smtp_tx key;

	key.msgid = msgid;
	return RB_FIND(tx_tree, &txs, &key);
}

static void
tx_free(struct smtp_tx *tx)
{
	if (tx->msgid != 0)
		RB_REMOVE(tx_tree, &txs, tx);
	if (tx->data_started)
		smtp_data_free(&tx->data);
	dbuf_free(&tx->body);
	free(tx);
}

/*
 * The transaction ends without a message: tell queued to forget it.  A
 * message already committed is not ours to abort: it stays in the tree,
 * without its session, until queued's answer is logged.
 */
void
smtp_tx_abort(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct mw *mw;

	if (tx == NULL)
		return;
	s->tx = NULL;
	smtp_peer_unpause(s);
	if (tx->committing) {
		tx->s = NULL;
		return;
	}
	if (tx->msgid != 0) {
		mw = smtp_peer_mw();
		mw_u64(mw, tx->msgid);
		ipc_send_mw(smtpd_queued, MSG_Q_ABORT, 0, -1, mw);
	}
	tx_free(tx);
}

void
smtp_tx_mail(struct smtp_session *s, struct smtp_cmd *cmd)
{
	struct smtp_tx *tx;
	struct mw *mw;

	if (!(s->flags & SMTP_F_HELO)) {
		smtp_reply(s, "503 5.5.1 Send EHLO or HELO first");
		(void)smtp_session_error(s);
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, "503 5.5.1 Nested MAIL command");
		(void)smtp_session_error(s);
		return;
	}
	if (s->auth_listener && s->login == NULL) {
		if (!(s->flags & SMTP_F_TLS))
			smtp_reply(s, "530 5.7.0 Must issue a STARTTLS "
			    "command first");
		else
			smtp_reply(s, "530 5.7.0 Authentication required");
		(void)smtp_session_error(s);
		return;
	}
	if (cmd->has_size && cmd->size > child_conf->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		(void)smtp_session_error(s);
		return;
	}
	if (cmd->body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, "555 5.5.4 BODY=BINARYMIME not supported");
		(void)smtp_session_error(s);
		return;
	}
	if (s->login != NULL) {
		if (cmd->path[0] == '\0') {
			smtp_reply(s, "553 5.7.1 Null sender not allowed "
			    "for this login");
			(void)smtp_session_error(s);
			return;
		}
		if (!addr_equal(cmd->path, s->login->address,
		    tx_login_nocase(s))) {
			log_info("session=%s refused from=<%s> address=%s "
			    "reason=\"not the login's address\"", s->idstr,
			    cmd->path, s->login->address);
			smtp_reply(s, "553 5.7.1 Sender address not "
			    "allowed for this login");
			(void)smtp_session_error(s);
			return;
		}
	}
	if ((tx = calloc(1, sizeof(*tx))) == NULL) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	tx->s = s;
	(void)strlcpy(tx->sender, cmd->path, sizeof(tx->sender));
	tx->smtputf8 = cmd->smtputf8 || cmd->path_utf8;
	tx->body8 = cmd->body == SMTP_BODY_8BITMIME;
	dbuf_init(&tx->body, SMTP_BODY_MAX);
	s->tx = tx;

	if (s->login == NULL) {
		smtp_tx_mail_checked(s);
		return;
	}
	/* Is the token still there?  It may have been deleted since. */
	mw = smtp_peer_mw();
	mw_u64(mw, s->id);
	mw_u64(mw, s->login->token_id);
	ipc_send_mw(smtpd_authd, MSG_AUTH_CHECK, 0, -1, mw);
	s->state = SMTP_S_WAIT_AUTHD;
	s->authd_wait = SMTP_AUTHD_CHECK;
}

/* The sender is acceptable: ask queued for a message. */
void
smtp_tx_mail_checked(struct smtp_session *s)
{
	struct mw *mw;

	if (s->tx == NULL)
		return;
	mw = smtp_peer_mw();
	mw_u64(mw, s->id);
	mw_str(mw, s->tx->sender);
	mw_u64(mw, s->login ? s->login->token_id : 0);
	mw_bytes(mw, s->login ? s->login->ticket : NULL,
	    s->login ? s->login->ticketlen : 0);
	mw_str(mw, s->client);
	mw_str(mw, s->helo);
	ipc_send_mw(smtpd_queued, MSG_Q_OPEN, 0, -1, mw);
	s->state = SMTP_S_WAIT_OPEN;
}

void
smtp_tx_open_res(struct smtp_session *s, uint32_t res, uint64_t msgid)
{
	struct smtp_tx *tx = s->tx;
	struct mw *mw;

	s->state = SMTP_S_COMMAND;
	smtp_io_kick(s);
	if (tx == NULL || res != RES_OK || smtp_tx_find(msgid) != NULL) {
		if (res == RES_OK) {
			/* Ours no longer, or a duplicate id: let it go. */
			mw = smtp_peer_mw();
			mw_u64(mw, msgid);
			ipc_send_mw(smtpd_queued, MSG_Q_ABORT, 0, -1, mw);
		}
		smtp_tx_abort(s);
		if (res == RES_FAIL)
			smtp_reply(s, "554 5.3.0 The queue refused the "
			    "message");
		else
			smtp_reply(s, "451 4.3.0 Queue temporarily "
			    "unavailable, try again later");
		return;
	}
	tx->msgid = msgid;
	RB_INSERT(tx_tree, &txs, tx);
	log_info("session=%s mail from=<%s> msgid=%016llx", s->idstr,
	    tx->sender, (unsigned long long)msgid);
	smtp_reply(s, "250 2.1.0 Ok");
}

void
smtp_tx_rcpt(struct smtp_session *s, struct smtp_cmd *cmd)
{
	struct smtp_tx *tx = s->tx;
	char rcpt[MAX_ADDR];
	struct mw *mw;

	if (tx == NULL) {
		smtp_reply(s, "503 5.5.1 Need MAIL command");
		(void)smtp_session_error(s);
		return;
	}
	if (tx->nrcpt >= child_conf->max_recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (cmd->postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> is ours. */
		if (snprintf(rcpt, sizeof(rcpt), "postmaster@%s",
		    child_conf->hostname) >= (int)sizeof(rcpt)) {
			smtp_reply(s, "550 5.1.1 No postmaster here");
			return;
		}
	} else
		(void)strlcpy(rcpt, cmd->path, sizeof(rcpt));
	if (cmd->path_utf8 && !tx->smtputf8) {
		smtp_reply(s, "553 5.6.7 SMTPUTF8 required for this address");
		(void)smtp_session_error(s);
		return;
	}
	mw = smtp_peer_mw();
	mw_u64(mw, tx->msgid);
	mw_str(mw, rcpt);
	ipc_send_mw(smtpd_queued, MSG_Q_RCPT, 0, -1, mw);
	tx->nrcpt++;
	s->nrcpts++;
	smtp_reply(s, "250 2.1.5 Ok");
}

static void
tx_data_begin(struct smtp_tx *tx, int mode)
{
	struct smtp_data_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_size = child_conf->max_message_size;
	lim.max_line = SMTP_DATA_LINE_MAX;
	lim.bare_lf_reject = child_conf->bare_lf_reject;
	lim.hdr_max = SMTP_DATA_HDR_MAX;
	smtp_data_init(&tx->data, mode, &lim);
	tx->data_started = 1;
	tx->bdat = mode == DATA_BDAT;
}

/* Refuse DATA or BDAT: 0 if the transaction may take data. */
static int
tx_data_refused(struct smtp_session *s, struct smtp_err *e)
{
	e->code = 503;
	e->enhanced = "5.5.1";
	if (s->tx == NULL)
		e->text = "Need MAIL command";
	else if (s->tx->nrcpt == 0)
		e->text = "Need RCPT command";
	else
		e->code = 0;
	return e->code != 0;
}

void
smtp_tx_data(struct smtp_session *s)
{
	struct smtp_err e;

	if (tx_data_refused(s, &e)) {
		smtp_reply_err(s, &e);
		(void)smtp_session_error(s);
		return;
	}
	tx_data_begin(s->tx, DATA_DOTTED);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->state = SMTP_S_DATA;
}

static void tx_bdat_end(struct smtp_session *);

void
smtp_tx_bdat(struct smtp_session *s, struct smtp_cmd *cmd)
{
	memset(&s->chunk_err, 0, sizeof(s->chunk_err));
	/* A refused chunk is still read, all of it (RFC 3030). */
	if (!tx_data_refused(s, &s->chunk_err) && !s->tx->bdat)
		tx_data_begin(s->tx, DATA_BDAT);
	s->chunk_left = cmd->chunk;
	s->chunk_size = cmd->chunk;
	s->chunk_last = cmd->last;
	s->state = SMTP_S_BDAT;
	if (s->chunk_left == 0)
		tx_bdat_end(s);
}

/* Send bytes to queued in MSG_Q_DATA chunks. */
static void
tx_queue(struct smtp_tx *tx, const void *p, size_t len)
{
	const unsigned char *b = p;
	struct mw *mw;
	size_t n;

	while (len > 0) {
		n = len < SMTP_QCHUNK ? len : SMTP_QCHUNK;
		mw = smtp_peer_mw();
		mw_u64(mw, tx->msgid);
		mw_bytes(mw, b, n);
		if (ipc_send_mw(smtpd_queued, MSG_Q_DATA, 0, -1, mw) == -1)
			fatalx("queued: cannot send data");
		tx->sent += n;
		b += n;
		len -= n;
	}
}

/* Text from the client inside a header comment: no parentheses. */
static void
tx_comment_safe(char *dst, size_t sz, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < sz; i++)
		dst[i] = (src[i] == '(' || src[i] == ')' || src[i] == '\\' ||
		    (unsigned char)src[i] < 0x20 || src[i] == 0x7f) ?
		    '?' : src[i];
	dst[i] = '\0';
}

static void
tx_date(char *buf, size_t sz)
{
	time_t now = clock_now();
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(buf, sz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		buf[0] = '\0';
}

/* The fields smtpd puts on top, CRLF-terminated, into buf. */
static void
tx_our_fields(struct smtp_session *s, char *buf, size_t sz)
{
	struct smtp_tx *tx = s->tx;
	char helo[MAX_HOST], tls[128], user[MAX_ADDR], date[64], lit[80];
	char with[16], fromfield[MAX_HOST + 128];
	const char *hdr = (const char *)tx->data.hdr.data, *base;
	size_t hlen = tx->data.hdr.len, off;
	uint64_t rnd;
	int n;

	tx_date(date, sizeof(date));
	(void)snprintf(lit, sizeof(lit), "[%s%s]",
	    s->ss.ss_family == AF_INET6 ? "IPv6:" : "", s->client);
	if (addr_domain_valid(s->helo))
		(void)snprintf(fromfield, sizeof(fromfield), "%s (%s)",
		    s->helo, lit);
	else {
		tx_comment_safe(helo, sizeof(helo), s->helo);
		(void)snprintf(fromfield, sizeof(fromfield),
		    "unknown (%s helo=%s)", lit, helo);
	}
	base = tx->smtputf8 ? "UTF8SMTP" : (s->flags & SMTP_F_EHLO) ?
	    "ESMTP" : "SMTP";
	/* RFC 3848 and RFC 6531: S for TLS, A for an authenticated client. */
	(void)snprintf(with, sizeof(with), "%s%s%s", base,
	    strcmp(base, "SMTP") != 0 && (s->flags & SMTP_F_TLS) ? "S" : "",
	    strcmp(base, "SMTP") != 0 && s->login != NULL ? "A" : "");
	off = 0;
	n = snprintf(buf, sz, "Received: from %s\r\n", fromfield);
	off += n > 0 ? (size_t)n : 0;
	if (s->flags & SMTP_F_TLS) {
		smtp_tls_describe(s, tls, sizeof(tls));
		n = snprintf(buf + off, sz - off, "\t(using TLS %s)\r\n", tls);
		off += n > 0 ? (size_t)n : 0;
	}
	if (s->login != NULL && off < sz) {
		tx_comment_safe(user, sizeof(user), s->login->address);
		n = snprintf(buf + off, sz - off, "\t(authenticated user %s)"
		    "\r\n", user);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < sz) {
		n = snprintf(buf + off, sz - off, "\tby %s (postern) with %s "
		    "id %s;\r\n\t%s\r\n", child_conf->hostname, with, s->idstr,
		    date);
		off += n > 0 ? (size_t)n : 0;
	}
	/* RFC 6409 section 8: a submission server adds what is missing. */
	if (off < sz && mailhdr_count(hdr, hlen, "Message-ID") == 0) {
		arc4random_buf(&rnd, sizeof(rnd));
		n = snprintf(buf + off, sz - off, "Message-ID: <%lld.%016llx@%s>"
		    "\r\n", (long long)clock_now(), (unsigned long long)rnd,
		    child_conf->hostname);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < sz && mailhdr_count(hdr, hlen, "Date") == 0)
		(void)snprintf(buf + off, sz - off, "Date: %s\r\n", date);
}

/* Once the header section is complete: our fields, it, the blank line. */
static void
tx_send_header(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char ours[4096];

	if (tx->hdr_sent)
		return;
	tx->hdr_sent = 1;
	tx_our_fields(s, ours, sizeof(ours));
	tx_queue(tx, ours, strlen(ours));
	tx_queue(tx, tx->data.hdr.data, tx->data.hdr.len);
	tx_queue(tx, "\r\n", 2);
}

/* Pass on what smtp_data produced. */
static void
tx_send(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx->data.err.code != 0) {
		/* Refused anyway at the end: queued need not see more. */
		dbuf_reset(&tx->body);
		return;
	}
	if (!tx->data.hdr_done && tx->body.len == 0)
		return;
	tx_send_header(s);
	if (tx->body.len > 0)
		tx_queue(tx, tx->body.data, tx->body.len);
	dbuf_reset(&tx->body);
	if (smtp_peer_congested())
		smtp_peer_pause(s);
}

/* With a login: From: (and Sender:, if there) must be its address. */
static int
tx_sender_rule(struct smtp_session *s, const char **why)
{
	struct smtp_tx *tx = s->tx;
	const char *hdr = (const char *)tx->data.hdr.data;
	size_t hlen = tx->data.hdr.len;
	char addr[MAX_ADDR];
	int r;

	if (s->login == NULL)
		return 0;
	r = mailhdr_single_mailbox(hdr, hlen, "From", addr, sizeof(addr), why);
	if (r != 0) {
		if (*why == NULL)
			*why = "From: must hold exactly one mailbox";
		return -1;
	}
	if (!addr_equal(addr, s->login->address,
	    tx_login_nocase(s))) {
		*why = "From: is not the address of this login";
		return -1;
	}
	*why = NULL;
	r = mailhdr_single_mailbox(hdr, hlen, "Sender", addr, sizeof(addr),
	    why);
	if (r == 1)
		return 0;
	if (r == -1) {
		if (*why == NULL)
			*why = "Sender: must hold exactly one mailbox";
		return -1;
	}
	if (!addr_equal(addr, s->login->address,
	    tx_login_nocase(s))) {
		*why = "Sender: is not the address of this login";
		return -1;
	}
	return 0;
}

static int
tx_has_8bit(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] >= 0x80)
			return 1;
	return 0;
}

/* The data ended: refuse it, or commit it. */
static void
tx_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *why = NULL;
	uint32_t flags = 0;
	struct mw *mw;

	s->state = SMTP_S_COMMAND;
	if (tx->data.err.code != 0) {
		log_info("session=%s refused data: %d %s %s", s->idstr,
		    tx->data.err.code, tx->data.err.enhanced,
		    tx->data.err.text);
		smtp_reply_err(s, &tx->data.err);
		smtp_tx_abort(s);
		(void)smtp_session_error(s);
		return;
	}
	tx_send_header(s);
	tx_send(s);
	if (tx_sender_rule(s, &why) == -1) {
		log_info("session=%s refused data address=%s reason=\"%s\"",
		    s->idstr, s->login->address, why);
		smtp_reply(s, "550 5.7.1 %s", why);
		smtp_tx_abort(s);
		(void)smtp_session_error(s);
		return;
	}
	if (tx->data.eightbit)
		flags |= BODY_8BIT;
	if (tx->smtputf8 || tx_has_8bit(tx->data.hdr.data, tx->data.hdr.len))
		flags |= BODY_SMTPUTF8;
	mw = smtp_peer_mw();
	mw_u64(mw, tx->msgid);
	mw_u32(mw, flags);
	mw_u64(mw, tx->sent);
	ipc_send_mw(smtpd_queued, MSG_Q_COMMIT, 0, -1, mw);
	tx->committing = 1;
	smtp_peer_unpause(s);
	s->state = SMTP_S_WAIT_COMMIT;
}

/* The end of a BDAT chunk: refuse it, acknowledge it, or end the data. */
static void
tx_bdat_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	int r;

	s->state = SMTP_S_COMMAND;
	if (s->chunk_err.code != 0) {
		smtp_reply_err(s, &s->chunk_err);
		memset(&s->chunk_err, 0, sizeof(s->chunk_err));
		(void)smtp_session_error(s);
		return;
	}
	if (!s->chunk_last) {
		if (tx->data.err.code != 0) {
			/* The message is lost: say so now, not at LAST. */
			smtp_reply_err(s, &tx->data.err);
			smtp_tx_abort(s);
			(void)smtp_session_error(s);
			return;
		}
		smtp_reply(s, "250 2.0.0 %llu octets received",
		    (unsigned long long)s->chunk_size);
		return;
	}
	while ((r = smtp_data_bdat_last(&tx->data, &tx->body)) ==
	    SMTP_DATA_FULL)
		tx_send(s);
	tx_end(s);
}

/*
 * Feed buffered input to the data machine (DATA or BDAT state).  Returns 1
 * if anything moved, 0 when it must wait (no input, or queued congested).
 */
int
smtp_tx_input(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	size_t n, used;
	int r;

	if (s->flags & SMTP_F_PAUSED)
		return 0;
	if (s->state == SMTP_S_BDAT && s->chunk_left == 0) {
		tx_bdat_end(s);
		return 1;
	}
	if (s->in.len == 0)
		return 0;
	n = s->in.len;
	if (s->state == SMTP_S_BDAT && s->chunk_left < n)
		n = (size_t)s->chunk_left;

	if (s->state == SMTP_S_BDAT && s->chunk_err.code != 0) {
		/* A refused chunk: read and drop. */
		dbuf_consume(&s->in, n);
		s->chunk_left -= n;
		if (s->chunk_left == 0)
			tx_bdat_end(s);
		return 1;
	}
	r = smtp_data_feed(&tx->data, s->in.data, n, &used, &tx->body);
	dbuf_consume(&s->in, used);
	if (s->state == SMTP_S_BDAT)
		s->chunk_left -= used;
	tx_send(s);
	if (r == SMTP_DATA_END) {
		tx_end(s);
		return 1;
	}
	if (s->state == SMTP_S_BDAT && s->chunk_left == 0)
		tx_bdat_end(s);
	return used > 0 || r == SMTP_DATA_FULL;
}

/* Queued's answer to MSG_Q_COMMIT. */
void
smtp_tx_commit_res(struct smtp_tx *tx, uint32_t res, const char *qid,
    const char *reason)
{
	struct smtp_session *s = tx->s;
	char text[MAX_REPLY];
	size_t i;

	if (res == RES_OK)
		log_info("session=%s queued id=%s size=%llu nrcpt=%d",
		    s ? s->idstr : "-", qid, (unsigned long long)tx->sent,
		    tx->nrcpt);
	else
		log_info("session=%s refused by queue: %s", s ? s->idstr :
		    "-", reason);
	if (s == NULL) {
		tx_free(tx);
		return;
	}
	s->tx = NULL;
	tx_free(tx);
	s->state = SMTP_S_COMMAND;
	smtp_session_timeout_set(s);
	smtp_io_kick(s);
	if (res == RES_OK) {
		s->nmsgs++;
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", qid);
		return;
	}
	/* The reason goes to the client: printable text only. */
	for (i = 0; reason[i] != '\0' && i + 1 < sizeof(text); i++)
		text[i] = (reason[i] < 0x20 || reason[i] == 0x7f) ? ' ' :
		    reason[i];
	text[i] = '\0';
	/* A reason that is a whole reply of the right class goes as it is. */
	if (text[0] == (res == RES_TEMPFAIL ? '4' : '5') &&
	    isdigit((unsigned char)text[1]) &&
	    isdigit((unsigned char)text[2]) && text[3] == ' ')
		smtp_reply(s, "%s", text);
	else if (res == RES_TEMPFAIL)
		smtp_reply(s, "451 4.3.0 %s", text[0] ? text :
		    "Temporary failure, try again later");
	else
		smtp_reply(s, "554 5.6.0 %s", text[0] ? text :
		    "Message refused");
}

/* Transactions whose data queued still has to take. */
int
smtp_tx_backlog(void)
{
	struct smtp_tx *tx;
	int n = 0;

	RB_FOREACH(tx, tx_tree, &txs)
		n++;
	return n;
}
