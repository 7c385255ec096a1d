/*
 * queue_ctl.c: `posternctl queue ...' and `posternctl show stats'.
 *
 * Requests arrive checked by the master (keys "id" and "token" only),
 * but their values are still the operator's text: a bad or unknown id
 * gets an error answer, never an exit.  Ids are the 16 hex digits of the
 * queue id (either case); tokens are token ids as `token list' prints.
 *
 *	queue list [token]	one row per message: id, age (seconds),
 *				size, sender, state, token, rcpts, pending,
 *				recipients ("addr state attempts [reply]"
 *				joined by "; ", cut at about 1000 bytes)
 *	queue show id		a row for the message, one per recipient,
 *				then one per header line (key "header")
 *	queue flush [id]	retry now (held messages stay held)
 *	queue delete id|token	remove, without notification
 *	queue hold id|token	stop scheduling; release undoes it
 *	queue release id|token	schedule again, now; clears a crash hold
 *	show stats		counters since start
 *
 * A message that is being delivered is changed when its round ends:
 * delete and hold then take effect before it is scheduled again.
 *
 * A listing reads the envelope of every message it shows from disk: a
 * queue of a million messages is minutes of reads and a gigabyte of rows.
 * So it goes out in pages of LIST_PAGE messages, the next page waiting
 * while more than LIST_HIGH bytes are queued for the master: the event
 * loop keeps serving smtpd, relayd and the master's health checks, and
 * memory stays bounded.
 *
 * flush, delete, hold and release of a token's messages (or flush of the
 * whole queue) go in slices the same way: at most CHANGE_PAGE messages
 * changed (an envelope read and rewritten, or two files removed, each)
 * and CHANGE_LOOK looked at per turn of the event loop, in id order, the
 * answer once the last slice is done.  Hundreds of thousands of messages
 * under one token would otherwise hold the loop long enough for the
 * master's health checks to go unanswered, and it stops the whole tree.
 * As with a listing, a message that comes or goes meanwhile is changed
 * or not, the others exactly once.  Each slice asks for its sync.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queue_dsn.h"
#include "queued.h"

#define RCPTS_MAX	(MAX_CTL_VAL - 24)
#define SHOW_HEADERS	200
#define LIST_PAGE	200
#define LIST_HIGH	(1024 * 1024)
#define LIST_WAIT_MS	10
#define CHANGE_PAGE	100
#define CHANGE_LOOK	4096

struct list_job {
	uint32_t	 reqid;
	uint64_t	 token;		/* 0: every message */
	uint64_t	 next;		/* the smallest id not yet looked at */
	size_t		 n;
	struct event	*ev;
};

static const char *const state_names[] = { "pending", "delivered", "failed" };

static void
row_add(struct ctl_row *row, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
row_add(struct ctl_row *row, const char *key, const char *fmt, ...)
{
	char val[MAX_CTL_VAL];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);	/* cut: display only */
	va_end(ap);
	ctl_row_add(row, key, val);
}

/* The queue id a request names, any case; 0 when it is not one. */
static uint64_t
ctl_id(const struct ctl_req *req)
{
	const char *v;
	char up[QID_LEN + 1];
	size_t i;

	if ((v = ctl_req_get(req, "id")) == NULL || strlen(v) != QID_LEN)
		return 0;
	for (i = 0; i <= QID_LEN; i++)
		up[i] = toupper((unsigned char)v[i]);
	return qid_parse(up);
}

/* The envelope to show: the loaded one, or a copy read from disk. */
static const struct envelope *
ctl_env(struct qmsg *m, struct envelope *tmp)
{
	const char *why;

	if (m->env != NULL)
		return m->env;
	if (spool_read_env(m->id, tmp, &why) == -1)
		return NULL;
	return tmp;
}

static void
ctl_rcpts(const struct envelope *env, char *buf, size_t bufsz)
{
	const struct env_rcpt *r;
	char one[MAX_ADDR + MAX_REPLY + 64];
	uint32_t i;
	size_t len = 0;

	buf[0] = '\0';
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		if (r->code != 0 || r->text[0] != '\0')
			snprintf(one, sizeof(one), "%s%s %s %u [%u%s%s %s]",
			    i ? "; " : "", r->addr, state_names[r->state],
			    r->attempts, r->code, r->enhanced[0] ? " " : "",
			    r->enhanced, r->text);
		else
			snprintf(one, sizeof(one), "%s%s %s %u", i ? "; " : "",
			    r->addr, state_names[r->state], r->attempts);
		if (len + strlen(one) >= bufsz - 32) {
			snprintf(buf + len, bufsz - len, "; ... %u more",
			    env->nrcpt - i);
			return;
		}
		len += strlcpy(buf + len, one, bufsz - len);
	}
}

static void
ctl_list_one(uint32_t reqid, struct qmsg *m, int64_t now)
{
	struct ctl_row row;
	struct envelope tmp;
	const struct envelope *env;
	char qid[QID_LEN + 1], tok[32] = "-", rcpts[RCPTS_MAX];

	env_init(&tmp);
	memset(&row, 0, sizeof(row));
	qid_format(m->id, qid);
	if (m->token != 0)
		qtok_format(m->token, tok);
	row_add(&row, "id", "%s", qid);
	row_add(&row, "age", "%lld", (long long)(now - m->created));
	row_add(&row, "size", "%llu", (unsigned long long)m->size);
	row_add(&row, "state", "%s", msg_state_name(m));
	row_add(&row, "token", "%s", tok);
	row_add(&row, "rcpts", "%u", m->nrcpt);
	row_add(&row, "pending", "%u", m->npending);
	if ((env = ctl_env(m, &tmp)) != NULL) {
		row_add(&row, "sender", "<%s>", env->sender);
		ctl_rcpts(env, rcpts, sizeof(rcpts));
		row_add(&row, "recipients", "%s", rcpts);
	} else {
		row_add(&row, "sender", "?");
		row_add(&row, "recipients", "(envelope unreadable)");
	}
	child_ctl_row(reqid, &row);
	env_free(&tmp);
}

/*
 * One page of a listing, in id order from job->next: messages that come
 * or go between pages are listed or not, the others exactly once.
 */
static void
ctl_list_step(evutil_socket_t fd, short ev, void *arg)
{
	struct list_job *job = arg;
	struct timeval tv = { 0, 0 };
	struct qmsg key, *m;
	int64_t now = clock_now();
	int i;

	if (ipc_queued(child_master) > LIST_HIGH) {
		tv.tv_usec = LIST_WAIT_MS * 1000;
		evtimer_add(job->ev, &tv);
		return;
	}
	key.id = job->next;
	m = RB_NFIND(qmsg_tree, &queue_msgs, &key);
	for (i = 0; m != NULL && i < LIST_PAGE; i++) {
		if (job->token == 0 || m->token == job->token) {
			ctl_list_one(job->reqid, m, now);
			job->n++;
		}
		/* No wrap: an id of UINT64_MAX has no next. */
		job->next = m->id + 1;
		m = RB_NEXT(qmsg_tree, &queue_msgs, m);
	}
	if (m != NULL) {
		evtimer_add(job->ev, &tv);
		return;
	}
	child_ctl_done(job->reqid, 0, "%zu message(s)", job->n);
	event_free(job->ev);
	free(job);
}

static void
ctl_list(uint32_t reqid, const struct ctl_req *req)
{
	struct list_job *job;
	const char *v;
	uint64_t token = 0;

	if ((v = ctl_req_get(req, "token")) != NULL &&
	    qtok_parse(v, &token) == -1) {
		child_ctl_done(reqid, 1, "bad token id");
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->ev = evtimer_new(child_base, ctl_list_step, job)) == NULL) {
		log_warn("queue list");
		free(job);
		child_ctl_done(reqid, 1, "out of memory");
		return;
	}
	job->reqid = reqid;
	job->token = token;
	ctl_list_step(-1, 0, job);
}

static void
ctl_show_headers(uint32_t reqid, const char *p, size_t len)
{
	struct ctl_row row;
	const char *end = p + len, *nl;
	char line[MAX_CTL_VAL];
	size_t n, i;
	int rows = 0;

	while (p < end && rows < SHOW_HEADERS) {
		nl = memchr(p, '\n', end - p);
		n = (nl ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		for (i = 0; i < n; i++)
			line[i] = p[i] == '\t' ? ' ' : p[i];
		line[n] = '\0';
		memset(&row, 0, sizeof(row));
		ctl_row_add(&row, "header", line);
		child_ctl_row(reqid, &row);
		rows++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static void
ctl_show(uint32_t reqid, const struct ctl_req *req)
{
	struct ctl_row row;
	struct envelope tmp;
	const struct envelope *env;
	const struct env_rcpt *r;
	struct qmsg *m;
	char qid[QID_LEN + 1], tok[32] = "-", date[64], *hdr;
	size_t hlen;
	uint32_t i;

	if ((m = msg_find(ctl_id(req))) == NULL) {
		child_ctl_done(reqid, 1, "no such message");
		return;
	}
	env_init(&tmp);
	if ((env = ctl_env(m, &tmp)) == NULL) {
		child_ctl_done(reqid, 1, "envelope unreadable");
		return;
	}
	qid_format(m->id, qid);
	if (env->token != 0)
		qtok_format(env->token, tok);
	dsn_date(env->created, date, sizeof(date));
	memset(&row, 0, sizeof(row));
	row_add(&row, "id", "%s", qid);
	row_add(&row, "created", "%s", date);
	row_add(&row, "age", "%lld", (long long)(clock_now() - env->created));
	row_add(&row, "size", "%llu", (unsigned long long)env->size);
	row_add(&row, "sender", "<%s>", env->sender);
	row_add(&row, "token", "%s", tok);
	row_add(&row, "client", "%s", env->client);
	row_add(&row, "helo", "%s", env->helo);
	row_add(&row, "body", "%s%s", env->body & BODY_8BIT ? "8bit" : "7bit",
	    env->body & BODY_SMTPUTF8 ? ",smtputf8" : "");
	row_add(&row, "state", "%s", msg_state_name(m));
	row_add(&row, "signed", "%s", env->dkimlen > 0 ? "yes" : "no");
	row_add(&row, "notification", "%s", env->flags & ENV_F_DSN ?
	    "yes" : "no");
	row_add(&row, "crashes", "%u", env->inflight);
	row_add(&row, "rcpts", "%u", env->nrcpt);
	child_ctl_row(reqid, &row);
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		memset(&row, 0, sizeof(row));
		row_add(&row, "rcpt", "%s", r->addr);
		row_add(&row, "state", "%s", state_names[r->state]);
		row_add(&row, "attempts", "%u", r->attempts);
		if (r->state == RCPT_PENDING)
			dsn_date(r->next, date, sizeof(date));
		else
			strlcpy(date, "-", sizeof(date));
		row_add(&row, "next", "%s", date);
		if (r->code != 0)
			row_add(&row, "reply", "%u %s", r->code, r->enhanced);
		else
			row_add(&row, "reply", "-");
		row_add(&row, "text", "%s", r->text);
		row_add(&row, "host", "%s", r->host);
		child_ctl_row(reqid, &row);
	}
	if (env->dkimlen > 0)
		ctl_show_headers(reqid, env->dkim, env->dkimlen);
	if (spool_read_headers(m->id, &hdr, &hlen) == 0) {
		ctl_show_headers(reqid, hdr, hlen);
		free(hdr);
	}
	env_free(&tmp);
	child_ctl_done(reqid, 0, "%s", qid);
}

enum ctl_op {
	OP_FLUSH,
	OP_DELETE,
	OP_HOLD,
	OP_RELEASE,
};

static void
ctl_noop_synced(void *arg, int error)
{
}

/* Change the envelope of an idle message on disk (hold, release). */
static int
ctl_rewrite(struct qmsg *m, enum ctl_op op, int64_t now)
{
	char qid[QID_LEN + 1];
	uint32_t i;

	if (msg_load(m) == -1)
		return -1;
	if (op == OP_HOLD)
		m->env->flags |= ENV_F_HOLD;
	else {
		m->env->flags &= ~(ENV_F_HOLD | ENV_F_CRASHHOLD);
		m->env->inflight = 0;
		for (i = 0; i < m->env->nrcpt; i++)
			if (m->env->rcpt[i].state == RCPT_PENDING)
				m->env->rcpt[i].next = now;
	}
	qid_format(m->id, qid);
	if (spool_write_env(DIR_QUEUE, m->id, m->env, 0) == -1) {
		log_warn("queued: id=%s envelope", qid);
		msg_unload(m);
		return -1;
	}
	msg_summarize(m, m->env);
	msg_unload(m);
	msg_schedule(m);
	return 0;
}

/* Apply one operation to one message: 1 done, 0 not applicable, -1 error. */
static int
ctl_apply(struct qmsg *m, enum ctl_op op, int64_t now)
{
	char qid[QID_LEN + 1];

	qid_format(m->id, qid);
	switch (op) {
	case OP_FLUSH:
		if (m->flags & ENV_F_HOLD || m->npending == 0)
			return 0;
		m->flush = 1;
		if (m->state == QM_IDLE) {
			m->next = now;
			msg_schedule(m);
		}
		return 1;
	case OP_DELETE:
		log_info("queued: id=%s deleted by the operator", qid);
		if (m->state == QM_ACTIVE) {
			m->delete_req = 1;
			return 1;
		}
		spool_unlink(DIR_QUEUE, m->id);
		msg_remove(m);
		return 1;
	case OP_HOLD:
	case OP_RELEASE:
		if ((op == OP_HOLD) == !!(m->flags & ENV_F_HOLD))
			return 0;
		log_info("queued: id=%s %s by the operator", qid,
		    op == OP_HOLD ? "held" : "released");
		if (m->state == QM_ACTIVE) {
			/* Written with the round's final record. */
			if (op == OP_HOLD)
				m->env->flags |= ENV_F_HOLD;
			else
				m->env->flags &= ~(ENV_F_HOLD |
				    ENV_F_CRASHHOLD);
			m->flags = m->env->flags;
			return 1;
		}
		return ctl_rewrite(m, op, now) == 0 ? 1 : -1;
	}
	return 0;
}

struct change_job {
	uint32_t	 reqid;
	enum ctl_op	 op;
	uint64_t	 token;		/* 0: every message */
	uint64_t	 next;		/* the smallest id not yet looked at */
	size_t		 n, nerr;
	struct event	*ev;
};

static void
ctl_change_done(uint32_t reqid, enum ctl_op op, size_t n, size_t nerr)
{
	static const char *const verbs[] = { "scheduled", "deleted", "held",
	    "released" };

	if (nerr > 0)
		child_ctl_done(reqid, 1, "%zu message(s) %s, %zu failed "
		    "(see the log)", n, verbs[op], nerr);
	else
		child_ctl_done(reqid, 0, "%zu message(s) %s", n, verbs[op]);
}

/* One slice of a change by token (or of a flush of every message). */
static void
ctl_change_step(evutil_socket_t fd, short ev, void *arg)
{
	struct change_job *job = arg;
	struct timeval tv = { 0, 0 };
	struct qmsg key, *m, *next;
	int64_t now = clock_now();
	int looked, changed = 0, rv;

	key.id = job->next;
	m = RB_NFIND(qmsg_tree, &queue_msgs, &key);
	for (looked = 0; m != NULL && looked < CHANGE_LOOK &&
	    changed < CHANGE_PAGE; looked++) {
		next = RB_NEXT(qmsg_tree, &queue_msgs, m);
		/* No wrap: an id of UINT64_MAX has no next. */
		job->next = m->id + 1;
		if (job->token == 0 || m->token == job->token) {
			rv = ctl_apply(m, job->op, now);
			job->n += rv > 0;
			job->nerr += rv < 0;
			changed++;
		}
		m = next;
	}
	if (changed > 0 && job->op != OP_FLUSH)
		qsync_request(ctl_noop_synced, NULL);
	if (changed > 0)
		runner_kick();
	if (m != NULL) {
		evtimer_add(job->ev, &tv);
		return;
	}
	ctl_change_done(job->reqid, job->op, job->n, job->nerr);
	event_free(job->ev);
	free(job);
}

static void
ctl_change(uint32_t reqid, const struct ctl_req *req, enum ctl_op op)
{
	struct change_job *job;
	struct qmsg *m;
	const char *v;
	uint64_t id = 0, token = 0;
	int rv;

	if (ctl_req_get(req, "id") != NULL && (id = ctl_id(req)) == 0) {
		child_ctl_done(reqid, 1, "bad queue id");
		return;
	}
	if ((v = ctl_req_get(req, "token")) != NULL &&
	    qtok_parse(v, &token) == -1) {
		child_ctl_done(reqid, 1, "bad token id");
		return;
	}
	if (op != OP_FLUSH && id == 0 && token == 0) {
		child_ctl_done(reqid, 1, "a queue id or --token is needed");
		return;
	}
	if (id != 0) {
		if ((m = msg_find(id)) == NULL) {
			child_ctl_done(reqid, 1, "no such message");
			return;
		}
		rv = ctl_apply(m, op, clock_now());
		if (op != OP_FLUSH)
			qsync_request(ctl_noop_synced, NULL);
		runner_kick();
		ctl_change_done(reqid, op, rv > 0, rv < 0);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->ev = evtimer_new(child_base, ctl_change_step,
	    job)) == NULL) {
		log_warn("queue change");
		free(job);
		child_ctl_done(reqid, 1, "out of memory");
		return;
	}
	job->reqid = reqid;
	job->op = op;
	job->token = token;
	ctl_change_step(-1, 0, job);
}

static void
ctl_stats(uint32_t reqid)
{
	const struct {
		const char	*key;
		uint64_t	 val;
	} c[] = {
		{ "messages", queue_nmsgs },
		{ "recipients", queue_nrcpt },
		{ "scheduled", sched_count(&queue_sched) },
		{ "receiving", commit_pending() },
		{ "batches", runner_inflight() },
		{ "received", queue_stats.received },
		{ "delivered", queue_stats.delivered },
		{ "deferred", queue_stats.deferred },
		{ "bounced", queue_stats.bounced },
		{ "expired", queue_stats.expired },
		{ "notifications", queue_stats.dsn_sent },
		{ "recovered", queue_stats.recovered },
		{ "syncs", qsync_count() },
	};
	struct ctl_row row;
	size_t i;

	memset(&row, 0, sizeof(row));
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		row_add(&row, c[i].key, "%llu", (unsigned long long)c[i].val);
	child_ctl_row(reqid, &row);
	child_ctl_done(reqid, 0, "ok");
}

void
queue_ctl(uint32_t reqid, const struct ctl_req *req)
{
	switch (req->cmd) {
	case CTL_QUEUE_LIST:
		ctl_list(reqid, req);
		break;
	case CTL_QUEUE_SHOW:
		ctl_show(reqid, req);
		break;
	case CTL_QUEUE_FLUSH:
		ctl_change(reqid, req, OP_FLUSH);
		break;
	case CTL_QUEUE_DELETE:
		ctl_change(reqid, req, OP_DELETE);
		break;
	case CTL_QUEUE_HOLD:
		ctl_change(reqid, req, OP_HOLD);
		break;
	case CTL_QUEUE_RELEASE:
		ctl_change(reqid, req, OP_RELEASE);
		break;
	case CTL_SHOW_STATS:
		ctl_stats(reqid);
		break;
	default:
		child_ctl_done(reqid, 1, "%s: not handled by queued",
		    ctl_cmd_name(req->cmd));
	}
}
