/*
 * smtp_auth.c: AUTH PLAIN (RFC 4616) and AUTH LOGIN, and the exchange
 * with authd (MSG_AUTH_LOGIN, MSG_AUTH_CHECK).
 *
 * Where AUTH is possible: only on listeners that require it (a no-auth
 * listener neither offers nor accepts it), and only under TLS: always on
 * an implicit-TLS listener, after STARTTLS on a starttls one.  Before TLS
 * the answer is 530 5.7.0; a password must never cross the wire in clear.
 *
 * PLAIN comes with an initial response (swaks, msmtp, smtplib, mutt) or
 * after an empty "334 " (curl, PHPMailer, s-nail).  Its message is
 * authzid NUL authcid NUL passwd; the authorization identity may be empty
 * or equal to the username (mutt sends it so), anything else is refused:
 * a token logs in as itself and nobody else.  LOGIN asks "Username:" and
 * "Password:" (base64, as every client expects).  "*" cancels (501).
 *
 * The password is a token.  token_check_format() refuses a mistyped one
 * here, without asking authd; such a refusal takes the same path as one
 * from authd, delay included, so a client cannot tell them apart by the
 * reply or the time it takes.
 *
 * Failures.  Every failed login is logged with the client address (for
 * fail2ban) and answered 535 5.7.8 after a random delay of 250 to 800 ms
 * (a timer: the process serves others meanwhile; longer delays make some
 * clients look hung).  At "limit auth-failures" the session ends with
 * 421 4.7.0 instead.  If authd cannot answer (RES_TEMPFAIL), 454 4.7.0.
 *
 * Decoded credentials live in stack buffers that are wiped before return;
 * the LOGIN username waits in s->auth_user between its two steps.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "child.h"
#include "log.h"
#include "smtpd.h"
#include "token.h"

#define AUTH_STEP_PLAIN		1	/* waiting for the PLAIN response */
#define AUTH_STEP_LOGIN_USER	2
#define AUTH_STEP_LOGIN_PASS	3

/* Decoded SASL responses are small: two addresses and a token. */
#define AUTH_DECODED_MAX	(2 * MAX_ADDR + MAX_TOKEN + 8)

void
smtp_auth_reset(struct smtp_session *s)
{
	if (s->auth_user != NULL) {
		explicit_bzero(s->auth_user, strlen(s->auth_user));
		free(s->auth_user);
		s->auth_user = NULL;
	}
	s->auth_mech = 0;
	s->auth_step = 0;
	if (s->state == SMTP_S_AUTH_LINE)
		s->state = SMTP_S_COMMAND;
}

/* A login name: 1 .. MAX_ADDR - 1 printable octets (UTF-8 allowed). */
static int
auth_user_ok(const unsigned char *u, size_t len)
{
	size_t i;

	if (len == 0 || len >= MAX_ADDR)
		return 0;
	for (i = 0; i < len; i++)
		if (u[i] < 0x21 || u[i] == 0x7f)
			return 0;
	return 1;
}

/* A user name safe for a log line (it came from the network). */
static void
auth_user_log(char *dst, size_t sz, const char *u)
{
	size_t i;

	for (i = 0; u[i] != '\0' && i + 1 < sz; i++)
		dst[i] = (u[i] > 0x20 && u[i] < 0x7f && u[i] != '"') ?
		    u[i] : '?';
	dst[i] = '\0';
}

/* A failed login: log it, then answer after the delay. */
static void
auth_failed(struct smtp_session *s, const char *user, const char *why)
{
	char safe[MAX_ADDR];
	long ms;

	auth_user_log(safe, sizeof(safe), user);
	s->nauthfail++;
	log_info("session=%s auth=failed user=%s client=%s reason=%s",
	    s->idstr, safe[0] ? safe : "-", s->client, why);
	smtp_auth_reset(s);
	s->state = SMTP_S_AUTH_DELAY;
	ms = SMTP_AUTH_DELAY_MIN + (long)arc4random_uniform(
	    SMTP_AUTH_DELAY_MAX - SMTP_AUTH_DELAY_MIN + 1);
	smtp_io_timer(s, 0, ms);
}

void
smtp_auth_delay_done(struct smtp_session *s)
{
	s->state = SMTP_S_COMMAND;
	if (s->nauthfail >= child_conf->max_auth_failures) {
		smtp_reply(s, "421 4.7.0 %s Too many authentication "
		    "failures", child_conf->hostname);
		smtp_session_close(s, "auth failures");
		return;
	}
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
	smtp_session_timeout_set(s);
}

/* User and token are known: check the format, then ask authd. */
static void
auth_login(struct smtp_session *s, const unsigned char *user, size_t ulen,
    const unsigned char *pass, size_t plen)
{
	char name[MAX_ADDR];
	struct mw *mw;

	if (!auth_user_ok(user, ulen)) {
		auth_failed(s, "", "bad-username");
		return;
	}
	memcpy(name, user, ulen);
	name[ulen] = '\0';
	if (plen > MAX_TOKEN || token_check_format((const char *)pass,
	    plen) == -1) {
		auth_failed(s, name, "malformed-token");
		return;
	}
	mw = smtp_peer_mw();
	mw_u64(mw, s->id);
	mw_str(mw, name);
	mw_bytes(mw, pass, plen);
	mw_str(mw, s->client);
	/* The token must leave no copy in the channel's queue either. */
	if (ipc_send_secret(smtpd_authd, MSG_AUTH_LOGIN, 0, mw) == -1) {
		explicit_bzero(mw->buf, mw->len);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		smtp_auth_reset(s);
		return;
	}
	explicit_bzero(mw->buf, mw->len);
	/* Keep the name for the log line of the answer. */
	free(s->auth_user);
	s->auth_user = strdup(name);
	s->state = SMTP_S_WAIT_AUTHD;
	s->authd_wait = SMTP_AUTHD_LOGIN;
}

/* authzid NUL authcid NUL passwd */
static void
auth_plain(struct smtp_session *s, const unsigned char *m, size_t len)
{
	const unsigned char *nul1, *nul2, *user, *pass;
	size_t zlen, ulen, plen;

	nul1 = memchr(m, '\0', len);
	nul2 = nul1 ? memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - m)) :
	    NULL;
	if (nul1 == NULL || nul2 == NULL ||
	    memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - m)) != NULL) {
		smtp_reply(s, "501 5.5.2 Malformed AUTH PLAIN response");
		smtp_auth_reset(s);
		(void)smtp_session_error(s);
		return;
	}
	zlen = (size_t)(nul1 - m);
	user = nul1 + 1;
	ulen = (size_t)(nul2 - user);
	pass = nul2 + 1;
	plen = len - (size_t)(pass - m);
	/* Acting for someone else is not something a token may do. */
	if (zlen != 0 && (zlen != ulen || memcmp(m, user, ulen) != 0)) {
		char name[MAX_ADDR];

		if (ulen < sizeof(name)) {
			memcpy(name, user, ulen);
			name[ulen] = '\0';
		} else
			name[0] = '\0';
		auth_failed(s, name, "authzid-differs");
		return;
	}
	auth_login(s, user, ulen, pass, plen);
}

/* Decode a base64 response; -1 (and a 501 reply) when malformed. */
static int
auth_decode(struct smtp_session *s, const char *b64, size_t len,
    unsigned char *out, size_t outsz, size_t *outlen)
{
	if (len == 1 && b64[0] == '=') {
		/* RFC 4954: "=" is an empty initial response. */
		*outlen = 0;
		return 0;
	}
	if (base64_decode(b64, len, out, outsz, outlen) == -1) {
		smtp_reply(s, "501 5.5.2 Cannot decode the response");
		smtp_auth_reset(s);
		(void)smtp_session_error(s);
		return -1;
	}
	return 0;
}

void
smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *cmd)
{
	unsigned char dec[AUTH_DECODED_MAX];
	size_t declen;

	if (!s->auth_listener) {
		smtp_reply(s, "503 5.5.1 AUTH not available on this port");
		(void)smtp_session_error(s);
		return;
	}
	if (!(s->flags & SMTP_F_TLS)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		(void)smtp_session_error(s);
		return;
	}
	if (!(s->flags & SMTP_F_EHLO)) {
		smtp_reply(s, "503 5.5.1 Send EHLO first");
		(void)smtp_session_error(s);
		return;
	}
	if (s->login != NULL) {
		smtp_reply(s, "503 5.5.1 Already authenticated");
		(void)smtp_session_error(s);
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, "503 5.5.1 AUTH not allowed in a transaction");
		(void)smtp_session_error(s);
		return;
	}
	if (strcmp(cmd->mech, "PLAIN") == 0)
		s->auth_mech = SMTP_MECH_PLAIN;
	else if (strcmp(cmd->mech, "LOGIN") == 0)
		s->auth_mech = SMTP_MECH_LOGIN;
	else {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		(void)smtp_session_error(s);
		return;
	}

	if (cmd->initial == NULL) {
		if (s->auth_mech == SMTP_MECH_PLAIN) {
			s->auth_step = AUTH_STEP_PLAIN;
			smtp_reply(s, "334 ");
		} else {
			s->auth_step = AUTH_STEP_LOGIN_USER;
			smtp_reply(s, "334 VXNlcm5hbWU6");	/* Username: */
		}
		s->state = SMTP_S_AUTH_LINE;
		return;
	}
	if (auth_decode(s, cmd->initial, cmd->initial_len, dec, sizeof(dec),
	    &declen) == -1)
		return;
	if (s->auth_mech == SMTP_MECH_PLAIN)
		auth_plain(s, dec, declen);
	else {
		/* LOGIN with the username as initial response. */
		s->state = SMTP_S_AUTH_LINE;
		s->auth_step = AUTH_STEP_LOGIN_USER;
		smtp_auth_line(s, cmd->initial, cmd->initial_len);
	}
	explicit_bzero(dec, sizeof(dec));
}

/* A line in AUTH_LINE: the client's response to our 334. */
void
smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	unsigned char dec[AUTH_DECODED_MAX];
	size_t declen;

	if (len == 1 && line[0] == '*') {
		smtp_reply(s, "501 5.0.0 Authentication cancelled");
		smtp_auth_reset(s);
		(void)smtp_session_error(s);
		return;
	}
	if (auth_decode(s, line, len, dec, sizeof(dec), &declen) == -1)
		return;
	switch (s->auth_step) {
	case AUTH_STEP_PLAIN:
		s->state = SMTP_S_COMMAND;
		auth_plain(s, dec, declen);
		break;
	case AUTH_STEP_LOGIN_USER:
		if (!auth_user_ok(dec, declen)) {
			s->state = SMTP_S_COMMAND;
			auth_failed(s, "", "bad-username");
			break;
		}
		free(s->auth_user);
		if ((s->auth_user = malloc(declen + 1)) == NULL) {
			smtp_reply(s, "454 4.7.0 Temporary authentication "
			    "failure");
			smtp_auth_reset(s);
			break;
		}
		memcpy(s->auth_user, dec, declen);
		s->auth_user[declen] = '\0';
		s->auth_step = AUTH_STEP_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6");	/* Password: */
		break;
	case AUTH_STEP_LOGIN_PASS:
		s->state = SMTP_S_COMMAND;
		auth_login(s, (unsigned char *)s->auth_user,
		    strlen(s->auth_user), dec, declen);
		break;
	default:
		smtp_auth_reset(s);
		break;
	}
	explicit_bzero(dec, sizeof(dec));
}

void
smtp_auth_login_res(struct smtp_session *s, uint32_t res, uint64_t tokid,
    const char *address, const unsigned char *ticket, size_t ticketlen)
{
	char user[MAX_ADDR];

	(void)strlcpy(user, s->auth_user ? s->auth_user : "", sizeof(user));
	s->state = SMTP_S_COMMAND;
	s->authd_wait = 0;
	if (res == RES_TEMPFAIL) {
		log_warnx("session=%s auth=tempfail user=%s client=%s",
		    s->idstr, user, s->client);
		smtp_auth_reset(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		smtp_io_kick(s);
		return;
	}
	if (res != RES_OK) {
		auth_failed(s, user, "bad-token");
		return;
	}
	if (address[0] == '\0' || ticketlen == 0)
		fatalx("authd: a login without address or ticket");
	if ((s->login = calloc(1, sizeof(*s->login))) == NULL) {
		smtp_auth_reset(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		smtp_io_kick(s);
		return;
	}
	(void)strlcpy(s->login->user, user, sizeof(s->login->user));
	(void)strlcpy(s->login->address, address,
	    sizeof(s->login->address));
	s->login->token_id = tokid;
	memcpy(s->login->ticket, ticket, ticketlen);
	s->login->ticketlen = ticketlen;
	smtp_auth_reset(s);
	log_info("session=%s auth=ok user=%s address=%s token=%016llx "
	    "client=%s", s->idstr, s->login->user, s->login->address,
	    (unsigned long long)tokid, s->client);
	smtp_reply(s, "235 2.7.0 Authentication successful");
	smtp_io_kick(s);
}

void
smtp_auth_check_res(struct smtp_session *s, uint32_t res)
{
	s->state = SMTP_S_COMMAND;
	s->authd_wait = 0;
	if (res == RES_OK) {
		smtp_tx_mail_checked(s);
	} else if (res == RES_FAIL) {
		log_info("session=%s token=%016llx revoked client=%s",
		    s->idstr, (unsigned long long)s->login->token_id,
		    s->client);
		smtp_reply(s, "421 4.7.0 %s token revoked",
		    child_conf->hostname);
		smtp_session_close(s, "token revoked");
	} else {
		smtp_tx_abort(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
	smtp_io_kick(s);
}
