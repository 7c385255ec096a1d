/*
 * queue_commit.c: receiving a message from smtpd and making it durable.
 *
 * The commit sequence.  A 250 is an acknowledgement that the message,
 * its DKIM signature and its envelope are on stable storage; every step
 * below exists for that promise.
 *
 *   1. MSG_Q_OPEN (smtpd): queued makes incoming/ID as O_EXCL would,
 *      mode 0600 (a file of a delivered message, from free/, when there
 *      is one: queue_pool.c), and answers MSG_Q_OPEN_RES with the u64 id
 *      (the queue id's value).  smtpd never gets a descriptor of the
 *      file.
 *   2. MSG_Q_RCPT and MSG_Q_DATA are appended: recipients to the envelope
 *      in memory, data chunks to the file.  The first write error (ENOSPC
 *      on a full disk, EIO) is remembered and later chunks are discarded:
 *      the client is still sending and is answered at the end.
 *   3. MSG_Q_COMMIT: the file is cut to the bytes written (one from
 *      free/ may have been longer) and closed.  On a remembered error it
 *      is removed and the answer is RES_TEMPFAIL with the SMTP reply text
 *      as reason ("452 4.3.1 ..." for a full disk, "451 4.3.0 ..."
 *      otherwise).
 *   4. Signing: MSG_SIGN goes to signd with the login ticket and a fresh
 *      read-only descriptor of incoming/ID; MSG_SIGN_RES brings the
 *      DKIM-Signature header text, which goes into the envelope (not
 *      into the message file: relayd and notifications prepend it).  A
 *      session with a token whose signing fails gets a temporary failure.
 *      A session without a token (the no-auth loopback listener) whose
 *      domain signd does not sign (RES_FAIL) is queued unsigned.
 *      Notifications generated here never reach this path.
 *   5. The envelope is written to incoming/ID.env; then incoming/ID is
 *      renamed to queue/ID and incoming/ID.env to queue/ID.env (content
 *      first, so an envelope in queue/ always has its content there).
 *   6. The commit joins the waiting group of the sync thread
 *      (queue_sync.c): one syncfs() of the spool flushes the data of both
 *      files, the new directory entries and the renames of every commit
 *      in the group at once.
 *   7. Only when that sync has returned without error is MSG_Q_COMMIT_RES
 *      RES_OK sent with the queue id, the message logged and scheduled.
 *      A sync error removes both files and answers 451.
 *
 * With -v, a debug line gives the time of each step of the commit:
 * signing (from MSG_Q_COMMIT to signd's answer), writing (the envelope
 * and the renames) and the sync (from the request to its return, the
 * wait for a sync already running included), in milliseconds of the
 * monotonic clock.
 *
 * A crash anywhere before step 7 leaves files that were never
 * acknowledged: incoming/ is emptied at start and a queue/ entry whose
 * envelope is missing, torn or does not match its content is set aside
 * (queue_spool.c).  A crash after step 7 loses nothing.
 *
 * MSG_Q_ABORT drops a transaction: before the commit the file is
 * removed; while signing, it is removed when signd answers; while the
 * sync runs, the files are removed once it returns and nothing is
 * answered, so a message the client did not see acknowledged is not
 * delivered.  An abort for an id queued no longer knows is ignored (it
 * crossed our answer).  Any other message for an unknown id, a second
 * commit, or a malformed payload is a protocol error: smtpd is a peer
 * daemon and the whole tree restarts.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queued.h"

#define SIGN_TIMEOUT	60	/* seconds for signd to answer */

enum tx_state {
	TX_OPEN = 0,	/* receiving recipients and data */
	TX_SIGNING,	/* MSG_SIGN sent, waiting for signd */
	TX_SYNCING,	/* renamed into queue/, waiting for the sync */
};

struct qtx {
	RB_ENTRY(qtx)	 entry;
	uint64_t	 id;
	uint64_t	 session;
	uint32_t	 state;		/* enum tx_state */
	int		 fd;		/* incoming/ID, write only; or -1 */
	int		 werr;		/* first write error (errno) */
	int		 aborted;
	uint64_t	 written;
	struct envelope	 env;
	unsigned char	*ticket;
	size_t		 ticketlen;
	struct event	*ev_timeout;
	struct timespec	 t_commit;	/* MSG_Q_COMMIT came */
	struct timespec	 t_signed;	/* MSG_SIGN_RES came */
	struct timespec	 t_stored;	/* renamed, the sync asked for */
};
RB_HEAD(qtx_tree, qtx);

static int
qtx_cmp(struct qtx *a, struct qtx *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}
RB_PROTOTYPE(qtx_tree, qtx, entry, qtx_cmp);
RB_GENERATE(qtx_tree, qtx, entry, qtx_cmp);

static struct qtx_tree	 txs = RB_INITIALIZER(&txs);
static size_t		 ntxs;

size_t
commit_pending(void)
{
	return ntxs;
}

/* Milliseconds from a to b (the step timings of the debug line). */
static double
commit_ms(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

static struct qtx *
tx_find(uint64_t id)
{
	struct qtx key;

	key.id = id;
	return RB_FIND(qtx_tree, &txs, &key);
}

static void
tx_free(struct qtx *tx)
{
	RB_REMOVE(qtx_tree, &txs, tx);
	ntxs--;
	if (tx->fd != -1)
		close(tx->fd);
	if (tx->ev_timeout != NULL)
		event_free(tx->ev_timeout);
	env_free(&tx->env);
	free(tx->ticket);
	free(tx);
}

static void
tx_answer(struct qtx *tx, uint32_t result, const char *reason)
{
	struct mw mw;
	char qid[QID_LEN + 1] = "", text[MAX_REPLY];

	if (result == RES_OK)
		qid_format(tx->id, qid);
	/* Cut to what the channel takes; the code stays in front. */
	strlcpy(text, reason, sizeof(text));
	mw_init(&mw);
	mw_u64(&mw, tx->id);
	mw_u32(&mw, result);
	mw_str(&mw, qid);
	mw_str(&mw, text);
	ipc_send_mw(queue_smtpd, MSG_Q_COMMIT_RES, 0, -1, &mw);
}

/* Give up on a transaction: remove its files, answer (unless aborted). */
static void
tx_fail(struct qtx *tx, int err, const char *why)
{
	char qid[QID_LEN + 1];
	const char *reason;

	qid_format(tx->id, qid);
	if (err == ENOSPC || err == EDQUOT)
		reason = "452 4.3.1 Insufficient system storage";
	else if (why != NULL)
		reason = why;
	else
		reason = "451 4.3.0 Local error in processing";
	log_warnx("queued: id=%s not queued: %s%s%s", qid, reason,
	    err ? ": " : "", err ? strerror(err) : "");
	if (tx->fd != -1) {
		close(tx->fd);
		tx->fd = -1;
	}
	spool_unlink(DIR_INCOMING, tx->id);
	spool_unlink(DIR_QUEUE, tx->id);
	if (!tx->aborted)
		tx_answer(tx, RES_TEMPFAIL, reason);
	tx_free(tx);
}

static void
commit_open(struct ipc_msg *msg)
{
	struct qtx *tx;
	struct mr mr;
	struct mw mw;
	const unsigned char *ticket;
	size_t ticketlen;
	uint64_t session, id = 0;
	uint32_t result = RES_OK;

	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		fatal("commit_open");
	env_init(&tx->env);
	tx->fd = -1;
	mr_init(&mr, msg);
	session = mr_u64(&mr);
	mr_str(&mr, tx->env.sender, sizeof(tx->env.sender));
	tx->env.token = mr_u64(&mr);
	ticket = mr_bytes(&mr, &ticketlen, MAX_TICKET);
	mr_str(&mr, tx->env.client, sizeof(tx->env.client));
	mr_str(&mr, tx->env.helo, sizeof(tx->env.helo));
	if (mr_end(&mr) == -1)
		fatalx("protocol error: smtpd: bad MSG_Q_OPEN");

	if (ntxs >= MAX_OPEN_TX) {
		log_warnx("queued: too many messages being received (%zu)",
		    ntxs);
		result = RES_TEMPFAIL;
	} else if ((tx->fd = spool_open_message(&id, clock_now())) == -1) {
		log_warn("queued: create a spool file");
		result = RES_TEMPFAIL;
	}
	if (result == RES_OK && ticketlen > 0) {
		if ((tx->ticket = malloc(ticketlen)) == NULL)
			fatal("commit_open");
		memcpy(tx->ticket, ticket, ticketlen);
		tx->ticketlen = ticketlen;
	}
	mw_init(&mw);
	mw_u64(&mw, session);
	mw_u32(&mw, result);
	mw_u64(&mw, result == RES_OK ? id : 0);
	ipc_send_mw(queue_smtpd, MSG_Q_OPEN_RES, 0, -1, &mw);
	if (result != RES_OK) {
		env_free(&tx->env);
		free(tx);
		return;
	}
	tx->id = id;
	tx->session = session;
	tx->env.id = id;
	if (RB_INSERT(qtx_tree, &txs, tx) != NULL)
		fatalx("queued: id %016llX given to two messages",
		    (unsigned long long)id);
	ntxs++;
}

static struct qtx *
commit_tx(struct mr *mr, const char *what)
{
	struct qtx *tx;
	uint64_t id;

	id = mr_u64(mr);
	if ((tx = tx_find(id)) == NULL || tx->state != TX_OPEN)
		fatalx("protocol error: smtpd: %s for unknown or committed "
		    "message %016llX", what, (unsigned long long)id);
	return tx;
}

static void
commit_rcpt(struct ipc_msg *msg)
{
	struct qtx *tx;
	struct mr mr;
	char rcpt[MAX_ADDR + 1];

	mr_init(&mr, msg);
	tx = commit_tx(&mr, "MSG_Q_RCPT");
	mr_str(&mr, rcpt, sizeof(rcpt));
	if (mr_end(&mr) == -1 || rcpt[0] == '\0')
		fatalx("protocol error: smtpd: bad MSG_Q_RCPT");
	if (env_add_rcpt(&tx->env, rcpt, 0) == -1 && tx->werr == 0)
		tx->werr = E2BIG;
}

static void
commit_data(struct ipc_msg *msg)
{
	struct qtx *tx;
	struct mr mr;
	const unsigned char *p;
	size_t n;

	mr_init(&mr, msg);
	tx = commit_tx(&mr, "MSG_Q_DATA");
	p = mr_bytes(&mr, &n, IPC_MAX_PAYLOAD);
	if (mr_end(&mr) == -1)
		fatalx("protocol error: smtpd: bad MSG_Q_DATA");
	if (tx->werr != 0 || n == 0)
		return;
	if (spool_write_all(tx->fd, p, n) == -1)
		tx->werr = errno;
	else
		tx->written += n;
}

/* Steps 5 to 7: write the envelope, move both files, wait for the sync. */
static void commit_synced(void *, int);

static void
commit_store(struct qtx *tx)
{
	tx->env.created = clock_now();
	tx->env.size = tx->written;
	if (spool_write_env(DIR_INCOMING, tx->id, &tx->env, 1) == -1) {
		tx_fail(tx, errno, NULL);
		return;
	}
	if (spool_commit_files(tx->id) == -1) {
		tx_fail(tx, errno, NULL);
		return;
	}
	tx->state = TX_SYNCING;
	clock_gettime(CLOCK_MONOTONIC, &tx->t_stored);
	qsync_request(commit_synced, tx);
}

static void
commit_synced(void *arg, int error)
{
	struct qtx *tx = arg;
	struct timespec now;
	char qid[QID_LEN + 1], tok[32] = "none";

	if (error != 0) {
		tx_fail(tx, error == ENOSPC ? ENOSPC : 0, NULL);
		return;
	}
	qid_format(tx->id, qid);
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_debug("queued: id=%s commit took %.1fms: signing %.1f, writing "
	    "%.1f, sync %.1f", qid, commit_ms(&tx->t_commit, &now),
	    commit_ms(&tx->t_commit, &tx->t_signed),
	    commit_ms(&tx->t_signed, &tx->t_stored),
	    commit_ms(&tx->t_stored, &now));
	if (tx->aborted) {
		/* The client left before its 250: nothing was promised. */
		spool_unlink(DIR_QUEUE, tx->id);
		log_info("queued: id=%s dropped: session aborted before the "
		    "acknowledgement", qid);
		tx_free(tx);
		return;
	}
	tx_answer(tx, RES_OK, "");
	if (tx->env.token != 0)
		qtok_format(tx->env.token, tok);
	log_info("queued: id=%s from=<%s> size=%llu nrcpt=%u token=%s "
	    "client=%s signed=%s", qid, tx->env.sender,
	    (unsigned long long)tx->env.size, tx->env.nrcpt, tok,
	    tx->env.client, tx->env.dkimlen > 0 ? "yes" : "no");
	queue_stats.received++;
	if (msg_add(&tx->env, clock_now()) == NULL)
		fatal("commit_synced");
	tx_free(tx);
	runner_kick();
}

static void
commit_sign_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct qtx *tx = arg;

	tx_fail(tx, 0, "451 4.3.0 Signing service did not answer, try "
	    "again later");
}

static void
commit_commit(struct ipc_msg *msg)
{
	struct qtx *tx;
	struct mr mr;
	struct mw mw;
	struct timeval tv = { SIGN_TIMEOUT, 0 };
	char path[64], qid[QID_LEN + 1];
	uint64_t size;
	uint32_t body;
	int rfd;

	mr_init(&mr, msg);
	tx = commit_tx(&mr, "MSG_Q_COMMIT");
	body = mr_u32(&mr);
	size = mr_u64(&mr);
	if (mr_end(&mr) == -1 || (body & ~(BODY_8BIT | BODY_SMTPUTF8)) != 0)
		fatalx("protocol error: smtpd: bad MSG_Q_COMMIT");
	if (tx->env.nrcpt == 0)
		fatalx("protocol error: smtpd: commit without recipients");
	tx->env.body = body;
	clock_gettime(CLOCK_MONOTONIC, &tx->t_commit);
	qid_format(tx->id, qid);
	if (tx->werr == 0 && size != tx->written)
		log_warnx("queued: id=%s smtpd counted %llu bytes, %llu "
		    "written", qid, (unsigned long long)size,
		    (unsigned long long)tx->written);
	if (spool_close_file(tx->fd, tx->written) == -1 && tx->werr == 0)
		tx->werr = errno;
	tx->fd = -1;
	if (tx->werr != 0) {
		tx_fail(tx, tx->werr, tx->werr == E2BIG ?
		    "452 4.5.3 Too many recipients" : NULL);
		return;
	}

	/* Step 4: signing, with a read-only descriptor of the content. */
	spool_path(path, sizeof(path), DIR_INCOMING, tx->id, "");
	if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		tx_fail(tx, errno, NULL);
		return;
	}
	mw_init(&mw);
	mw_u64(&mw, tx->id);
	mw_bytes(&mw, tx->ticket, tx->ticketlen);
	if (queue_signd == NULL ||
	    ipc_send_mw(queue_signd, MSG_SIGN, 0, rfd, &mw) == -1) {
		if (queue_signd == NULL)
			close(rfd);
		tx_fail(tx, 0, "451 4.3.0 Signing service unavailable");
		return;
	}
	tx->state = TX_SIGNING;
	if ((tx->ev_timeout = evtimer_new(child_base, commit_sign_timeout,
	    tx)) == NULL || evtimer_add(tx->ev_timeout, &tv) == -1)
		fatalx("sign timer");
}

static void
commit_abort(struct ipc_msg *msg)
{
	struct qtx *tx;
	struct mr mr;
	uint64_t id;

	mr_init(&mr, msg);
	id = mr_u64(&mr);
	if (mr_end(&mr) == -1)
		fatalx("protocol error: smtpd: bad MSG_Q_ABORT");
	if ((tx = tx_find(id)) == NULL) {
		log_debug("queued: abort of %016llX crossed its answer",
		    (unsigned long long)id);
		return;
	}
	tx->aborted = 1;
	if (tx->state == TX_OPEN) {
		close(tx->fd);
		tx->fd = -1;
		spool_unlink(DIR_INCOMING, tx->id);
		tx_free(tx);
	}
	/* Signing or syncing: finished when that answer comes. */
}

void
commit_smtpd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	switch (msg->type) {
	case MSG_Q_OPEN:
		commit_open(msg);
		break;
	case MSG_Q_RCPT:
		commit_rcpt(msg);
		break;
	case MSG_Q_DATA:
		commit_data(msg);
		break;
	case MSG_Q_COMMIT:
		commit_commit(msg);
		break;
	case MSG_Q_ABORT:
		commit_abort(msg);
		break;
	default:
		fatalx("protocol error: smtpd: unexpected %s",
		    proto_name(msg->type));
	}
}

/* Header lines to prepend: CRLF-terminated, no NUL, no bare CR or LF. */
static int
commit_headers_ok(const unsigned char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 1;
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '\0')
			return 0;
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

void
commit_signd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct qtx *tx;
	struct mr mr;
	const unsigned char *hdr;
	char reason[MAX_REPLY], why[MAX_REPLY + 64], qid[QID_LEN + 1];
	size_t hdrlen;
	uint64_t id;
	uint32_t result;

	if (msg->type != MSG_SIGN_RES)
		fatalx("protocol error: signd: unexpected %s",
		    proto_name(msg->type));
	mr_init(&mr, msg);
	id = mr_u64(&mr);
	result = mr_u32(&mr);
	mr_str(&mr, reason, sizeof(reason));
	hdr = mr_bytes(&mr, &hdrlen, IPC_MAX_PAYLOAD);
	if (mr_end(&mr) == -1 || result > RES_TEMPFAIL ||
	    !commit_headers_ok(hdr, hdrlen))
		fatalx("protocol error: signd: bad MSG_SIGN_RES");
	if ((tx = tx_find(id)) == NULL) {
		/* It timed out, and the transaction is gone. */
		log_debug("queued: late signature for %016llX",
		    (unsigned long long)id);
		return;
	}
	if (tx->state != TX_SIGNING)
		fatalx("protocol error: signd: answer to a request not made");
	event_free(tx->ev_timeout);
	tx->ev_timeout = NULL;
	clock_gettime(CLOCK_MONOTONIC, &tx->t_signed);
	qid_format(tx->id, qid);
	if (tx->aborted) {
		spool_unlink(DIR_INCOMING, tx->id);
		tx_free(tx);
		return;
	}
	if (result == RES_OK) {
		if (env_set_dkim(&tx->env, hdr, hdrlen) == -1) {
			tx_fail(tx, 0, "451 4.3.0 Signature too large");
			return;
		}
	} else if (result == RES_FAIL && tx->env.token == 0) {
		log_info("queued: id=%s not signed: %s (no-auth session)",
		    qid, reason);
	} else {
		snprintf(why, sizeof(why), "451 4.7.0 Message could not be "
		    "signed: %s", reason);
		tx_fail(tx, 0, why);
		return;
	}
	commit_store(tx);
}
