/*
 * authd_login.c: the questions smtpd asks authd.
 *
 * MSG_AUTH_LOGIN (session, username, token, client address): is this
 * token good, and is the username its address?  The answer is RES_OK with
 * the token's id, its address and a login ticket (lib/ticket.h, valid for
 * the longest the session may last, see login_ticket_expiry); RES_FAIL
 * for every kind of wrong login;
 * RES_TEMPFAIL when the store cannot answer (or authd has no keys yet).
 *
 * Wrong logins are told apart only in authd's log, never in the answer or
 * the work done: the token is checked (format, HMAC, look-up by hash) and
 * the username compared with the address of whatever was found, in that
 * order, whether the username exists or not.  Nothing is ever looked up
 * by username, so no answer and no timing depends on whether an address
 * has tokens.  The format check comes first and costs nothing; its
 * outcome depends on the token alone.
 *
 * MSG_AUTH_CHECK (session, token id): does the token still exist?  smtpd
 * asks before every transaction (MAIL FROM), so a deleted token stops
 * working at once, on sessions that logged in before the delete too, and
 * on every node that shares the store.
 *
 * The username, token and client come from the network through smtpd:
 * they are client data (a bad one is a failed login).  Only a payload that
 * breaks the message layout is smtpd's fault, and fatal (lib/log.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "child.h"
#include "clock.h"
#include "log.h"
#include "ticket.h"
#include "token.h"

/* Generous: the rule table bounds the payload, not each field. */
#define LOGIN_FIELD_MAX	(MAX_ADDR + MAX_TOKEN + 64)

/*
 * A username fit for a log line that fail2ban reads: nothing in it may
 * look like another field ("client=" above all) or end the line.
 */
static void
login_log_user(const char *user, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; user[i] != '\0' && i + 1 < outsz && i < 100; i++)
		out[i] = ((unsigned char)user[i] <= ' ' || user[i] == '=' ||
		    user[i] == '"' || user[i] == 0x7f) ? '?' : user[i];
	out[i] = '\0';
}

static int
login_check(const char *user, const unsigned char *tok, size_t toklen,
    struct token_rec *r, const char **why)
{
	unsigned char h[TOKEN_HASH_LEN];
	int res, match;

	memset(r, 0, sizeof(*r));
	if (authd.store == NULL || authd.token_keylen == 0 ||
	    authd.ticket_keylen == 0) {
		*why = "not-ready";
		return RES_TEMPFAIL;
	}
	if (token_check_format((const char *)tok, toklen) == -1) {
		*why = "malformed-token";
		return RES_FAIL;
	}
	token_hash(authd.token_key, authd.token_keylen, (const char *)tok,
	    toklen, h);
	res = authd.store->lookup(authd.store, h, r);
	if (res == STORE_ERROR) {
		*why = "store-error";
		return RES_TEMPFAIL;
	}
	if (res != STORE_OK) {
		/* Compare with something all the same: same work. */
		memset(r, 0, sizeof(*r));
		strlcpy(r->addr, "nobody@invalid", sizeof(r->addr));
	}
	match = authd_user_matches(child_conf, user, r->addr);
	if (res != STORE_OK) {
		*why = "unknown-token";
		return RES_FAIL;
	}
	if (!match) {
		*why = "other-address";
		return RES_FAIL;
	}
	return RES_OK;
}

/*
 * When a ticket made now expires.  signd checks only the ticket, not
 * whether its token still exists: a deleted token's revocation reaches
 * smtpd at the next MAIL FROM, but a compromised smtpd keeping a ticket
 * could have mail signed for as long as the ticket lives.  So it lives no
 * longer than a session can (smtpd ends each at "timeout session") and
 * the signing of its last message.
 */
static time_t
login_ticket_expiry(void)
{
	time_t t = child_conf->to_session;

	if (t <= 0 || t > AUTHD_TICKET_LIFETIME - AUTHD_TICKET_MARGIN)
		t = AUTHD_TICKET_LIFETIME - AUTHD_TICKET_MARGIN;
	return clock_now() + t + AUTHD_TICKET_MARGIN;
}

static void
login_reply(struct ipc *ipc, uint32_t peerid, uint64_t session, uint32_t res,
    uint64_t id, const char *addr, const unsigned char *ticket, size_t tlen)
{
	struct mw *mw;

	if ((mw = malloc(sizeof(*mw))) == NULL)
		fatal("malloc");
	mw_init(mw);
	mw_u64(mw, session);
	mw_u32(mw, res);
	mw_u64(mw, id);
	mw_str(mw, addr);
	mw_bytes(mw, ticket, tlen);
	if (ipc_send_mw(ipc, MSG_AUTH_LOGIN_RES, peerid, -1, mw) == -1)
		fatalx("smtpd channel: cannot send a login answer");
	free(mw);
}

static void
login_handle(struct ipc *ipc, struct ipc_msg *msg)
{
	char user[LOGIN_FIELD_MAX], client[LOGIN_FIELD_MAX];
	char logu[128], idhex[TOKEN_ID_HEXLEN + 1];
	unsigned char ticket[MAX_TICKET];
	const unsigned char *tok;
	struct token_rec r;
	const char *why = "";
	uint64_t session;
	size_t toklen, tlen = 0;
	struct mr mr;
	int res;

	mr_init(&mr, msg);
	session = mr_u64(&mr);
	mr_str(&mr, user, sizeof(user));
	tok = mr_bytes(&mr, &toklen, IPC_MAX_PAYLOAD);
	mr_str(&mr, client, sizeof(client));
	if (mr_end(&mr) == -1)
		fatalx("smtpd: malformed %s", proto_name(msg->type));
	if (!authd_client_check(client))
		strlcpy(client, "?", sizeof(client));

	res = login_check(user, tok, toklen, &r, &why);
	/* The token is a password: none of it stays in the read buffer. */
	explicit_bzero((void *)(uintptr_t)tok, toklen);
	if (res == RES_OK && ticket_make(authd.ticket_key,
	    authd.ticket_keylen, session, r.id, r.addr,
	    login_ticket_expiry(), ticket, sizeof(ticket),
	    &tlen) == -1) {
		log_warnx("login session=%016llx: cannot make a ticket for %s",
		    (unsigned long long)session, r.addr);
		res = RES_TEMPFAIL;
		why = "ticket";
	}

	login_log_user(user, logu, sizeof(logu));
	if (res == RES_OK) {
		token_id_format(r.id, idhex, sizeof(idhex));
		log_info("login session=%016llx client=%s token=%s address=%s",
		    (unsigned long long)session, client, idhex, r.addr);
		authd_use_record(r.id, clock_now(), client);
		login_reply(ipc, msg->peerid, session, RES_OK, r.id, r.addr,
		    ticket, tlen);
	} else {
		log_info("login %s session=%016llx client=%s user=%s "
		    "reason=%s", res == RES_FAIL ? "failed" : "deferred",
		    (unsigned long long)session, client, logu, why);
		login_reply(ipc, msg->peerid, session, res, 0, "", ticket, 0);
	}
	explicit_bzero(ticket, sizeof(ticket));
}

static void
check_handle(struct ipc *ipc, struct ipc_msg *msg)
{
	struct token_rec r;
	struct mr mr;
	struct mw *mw;
	uint64_t session, id;
	uint32_t res;

	mr_init(&mr, msg);
	session = mr_u64(&mr);
	id = mr_u64(&mr);
	if (mr_end(&mr) == -1)
		fatalx("smtpd: malformed %s", proto_name(msg->type));

	if (authd.store == NULL)
		res = RES_TEMPFAIL;
	else if (id == 0)
		res = RES_FAIL;
	else {
		switch (authd.store->get(authd.store, id, &r)) {
		case STORE_OK:
			res = RES_OK;
			break;
		case STORE_NOTFOUND:
			res = RES_FAIL;
			log_info("check session=%016llx token=%016llx: revoked",
			    (unsigned long long)session,
			    (unsigned long long)id);
			break;
		default:
			res = RES_TEMPFAIL;
			break;
		}
	}
	if ((mw = malloc(sizeof(*mw))) == NULL)
		fatal("malloc");
	mw_init(mw);
	mw_u64(mw, session);
	mw_u32(mw, res);
	if (ipc_send_mw(ipc, MSG_AUTH_CHECK_RES, msg->peerid, -1, mw) == -1)
		fatalx("smtpd channel: cannot send a check answer");
	free(mw);
}

void
authd_login_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	/* The rule table let through only these two. */
	switch (msg->type) {
	case MSG_AUTH_LOGIN:
		login_handle(ipc, msg);
		break;
	case MSG_AUTH_CHECK:
		check_handle(ipc, msg);
		break;
	default:
		fatalx("smtpd: unexpected %s", proto_name(msg->type));
	}
}
