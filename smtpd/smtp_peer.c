/*
 * smtp_peer.c: smtpd's channels to authd and queued.
 *
 * Answers name the session (authd, MSG_Q_OPEN_RES) or the message
 * (MSG_Q_COMMIT_RES) by their 64-bit ids.  Every answer is decoded in full
 * before anything else happens, so a malformed one is a protocol error
 * (fatal, lib/log.h) whether or not its session still exists.  A session
 * may end while its question is out: the answer then finds nobody and is
 * dropped, except a message id nobody wants, which is aborted so that
 * queued can forget it.
 *
 * Back-pressure.  Data travels to queued in MSG_Q_DATA chunks; when more
 * than SMTP_QUEUED_HIGH bytes wait on that channel (queued is slower than
 * the clients), sessions sending data pause: they stop reading their
 * client, whose TCP window then closes.  When the channel has drained to
 * half of that (its drain callback, lib/ipc.h), they resume in the order
 * they paused: at once, not at the next tick of a timer, which made a
 * paused session's last bytes wait for it.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <string.h>

#include "child.h"
#include "log.h"
#include "smtpd.h"

struct ipc	*smtpd_authd;
struct ipc	*smtpd_queued;

static TAILQ_HEAD(, smtp_session) peer_paused =
    TAILQ_HEAD_INITIALIZER(peer_paused);

static uint32_t
peer_result(uint32_t res, const char *what)
{
	if (res != RES_OK && res != RES_FAIL && res != RES_TEMPFAIL)
		fatalx("%s: unknown result %u", what, res);
	return res;
}

static void
peer_authd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct smtp_session *s;
	struct mr mr;
	char address[MAX_ADDR];
	const unsigned char *ticket;
	uint64_t sid, tokid;
	uint32_t res;
	size_t tlen;

	mr_init(&mr, msg);
	switch (msg->type) {
	case MSG_AUTH_LOGIN_RES:
		sid = mr_u64(&mr);
		res = mr_u32(&mr);
		tokid = mr_u64(&mr);
		mr_str(&mr, address, sizeof(address));
		ticket = mr_bytes(&mr, &tlen, MAX_TICKET);
		if (mr_end(&mr) == -1)
			fatalx("authd: malformed %s", proto_name(msg->type));
		peer_result(res, "authd");
		s = smtp_session_find(sid);
		if (s == NULL || s->state != SMTP_S_WAIT_AUTHD ||
		    s->authd_wait != SMTP_AUTHD_LOGIN)
			return;
		smtp_auth_login_res(s, res, tokid, address, ticket, tlen);
		break;
	case MSG_AUTH_CHECK_RES:
		sid = mr_u64(&mr);
		res = mr_u32(&mr);
		if (mr_end(&mr) == -1)
			fatalx("authd: malformed %s", proto_name(msg->type));
		peer_result(res, "authd");
		s = smtp_session_find(sid);
		if (s == NULL || s->state != SMTP_S_WAIT_AUTHD ||
		    s->authd_wait != SMTP_AUTHD_CHECK)
			return;
		smtp_auth_check_res(s, res);
		break;
	default:
		fatalx("authd: unexpected %s", proto_name(msg->type));
	}
}

static void
peer_queued_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct smtp_session *s;
	struct smtp_tx *tx;
	struct mr mr;
	struct mw *mw;
	char qid[MAX_QID], reason[MAX_REPLY];
	uint64_t sid, msgid;
	uint32_t res;

	mr_init(&mr, msg);
	switch (msg->type) {
	case MSG_Q_OPEN_RES:
		sid = mr_u64(&mr);
		res = mr_u32(&mr);
		msgid = mr_u64(&mr);
		if (mr_end(&mr) == -1)
			fatalx("queued: malformed %s", proto_name(msg->type));
		peer_result(res, "queued");
		if (res == RES_OK && msgid == 0)
			fatalx("queued: message id 0");
		s = smtp_session_find(sid);
		if (s != NULL && s->state == SMTP_S_WAIT_OPEN) {
			smtp_tx_open_res(s, res, msgid);
			return;
		}
		if (res == RES_OK) {
			/* The session is gone: queued may drop the message. */
			mw = smtp_peer_mw();
			mw_u64(mw, msgid);
			ipc_send_mw(smtpd_queued, MSG_Q_ABORT, 0, -1, mw);
		}
		break;
	case MSG_Q_COMMIT_RES:
		msgid = mr_u64(&mr);
		res = mr_u32(&mr);
		mr_str(&mr, qid, sizeof(qid));
		mr_str(&mr, reason, sizeof(reason));
		if (mr_end(&mr) == -1)
			fatalx("queued: malformed %s", proto_name(msg->type));
		peer_result(res, "queued");
		if ((tx = smtp_tx_find(msgid)) == NULL) {
			if (res == RES_OK)
				log_info("queued id=%s (session already "
				    "gone)", qid);
			return;
		}
		/*
		 * An answer to a commit that was never asked for would have
		 * smtpd say 250 in the middle of DATA and read the rest of
		 * the body as commands: queued lies.
		 */
		if (!tx->committing)
			fatalx("queued: commit answer for message %016llx "
			    "still receiving data", (unsigned long long)msgid);
		smtp_tx_commit_res(tx, res, qid, reason);
		break;
	default:
		fatalx("queued: unexpected %s", proto_name(msg->type));
	}
}

/*
 * The one marshalling buffer of the process (64 KB: too big for a stack
 * frame); every user fills it and sends it before the next one runs.
 */
struct mw *
smtp_peer_mw(void)
{
	static struct mw mw;

	mw_init(&mw);
	return &mw;
}

/* Queued's channel is down to half the limit: the paused go on. */
static void
peer_queued_drained(struct ipc *ipc, void *arg)
{
	struct smtp_session *s;

	while ((s = TAILQ_FIRST(&peer_paused)) != NULL) {
		smtp_peer_unpause(s);
		smtp_io_kick(s);
	}
}

/* Is queued's channel too full for more data? */
int
smtp_peer_congested(void)
{
	return ipc_queued(smtpd_queued) > SMTP_QUEUED_HIGH;
}

void
smtp_peer_pause(struct smtp_session *s)
{
	if (s->flags & SMTP_F_PAUSED)
		return;
	s->flags |= SMTP_F_PAUSED;
	TAILQ_INSERT_TAIL(&peer_paused, s, pause_entry);
}

void
smtp_peer_unpause(struct smtp_session *s)
{
	if (!(s->flags & SMTP_F_PAUSED))
		return;
	s->flags &= ~SMTP_F_PAUSED;
	TAILQ_REMOVE(&peer_paused, s, pause_entry);
}

void
smtp_peer_authd(int fd)
{
	if (smtpd_authd != NULL)
		fatalx("a second channel to authd");
	smtpd_authd = ipc_new(child_base, fd, "authd", rules_smtpd_from_authd,
	    peer_authd_dispatch, child_peer_error, NULL);
	if (smtpd_authd == NULL)
		fatal("authd channel");
}

void
smtp_peer_queued(int fd)
{
	if (smtpd_queued != NULL)
		fatalx("a second channel to queued");
	smtpd_queued = ipc_new(child_base, fd, "queued",
	    rules_smtpd_from_queued, peer_queued_dispatch, child_peer_error,
	    NULL);
	if (smtpd_queued == NULL)
		fatal("queued channel");
	ipc_set_drain(smtpd_queued, SMTP_QUEUED_HIGH / 2, peer_queued_drained);
}
