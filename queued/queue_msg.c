/*
 * queue_msg.c: the table of queued messages and their place in the
 * schedule.
 *
 * Every committed message has a struct qmsg for as long as it is queued:
 * an RB tree by id (for the operator's commands and for recovery) and an
 * item in the schedule heap (queue_sched.c) keyed by the time something
 * is due: the earliest next attempt of a pending recipient, the delay
 * warning, or the expiry.  A held message, or one being worked on, is out
 * of the heap.  The envelope itself stays on disk and is loaded only
 * while the message is active, so memory grows by about 150 bytes per
 * message however many recipients and however long the DKIM text.
 *
 * Recording (msg_record).  A result is durable before it is logged: the
 * envelope is rewritten (ID.env.tmp, rename), a sync is requested, and
 * only when the sync has returned are the result lines logged and, at
 * the end of a round, the message put back in the schedule or removed.
 * When every recipient is final the files are removed (envelope first)
 * instead, and the same sync makes the removal durable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queued.h"

struct qmsg_tree	 queue_msgs = RB_INITIALIZER(&queue_msgs);
struct sched		 queue_sched;
struct queue_stats	 queue_stats;
uint64_t		 queue_nrcpt;
uint64_t		 queue_nmsgs;

static int
qmsg_cmp(struct qmsg *a, struct qmsg *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}
RB_GENERATE(qmsg_tree, qmsg, entry, qmsg_cmp);

struct qmsg *
msg_find(uint64_t id)
{
	struct qmsg key;

	key.id = id;
	return RB_FIND(qmsg_tree, &queue_msgs, &key);
}

/* The time something is due for this message; INT64_MAX when nothing. */
int64_t
msg_due(const struct envelope *env)
{
	const struct env_rcpt *r;
	int64_t due = INT64_MAX, t;
	uint32_t i;
	int pending = 0, unwarned = 0;

	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		if (r->state != RCPT_PENDING)
			continue;
		pending = 1;
		if (!(r->flags & RCPT_F_WARNED))
			unwarned = 1;
		if (r->next < due)
			due = r->next;
	}
	if (!pending)
		return INT64_MAX;
	t = env->created + child_conf->lifetime;
	if (t < due)
		due = t;
	if (unwarned && child_conf->delay_warning > 0 &&
	    env->sender[0] != '\0' && !(env->flags & ENV_F_DSN)) {
		t = env->created + child_conf->delay_warning;
		if (t < due)
			due = t;
	}
	return due;
}

void
msg_summarize(struct qmsg *m, const struct envelope *env)
{
	uint32_t npending;

	npending = env_count(env, RCPT_PENDING);
	queue_nrcpt -= m->npending;
	queue_nrcpt += npending;
	m->npending = npending;
	m->created = env->created;
	m->token = env->token;
	m->size = env->size;
	m->nrcpt = env->nrcpt;
	m->flags = env->flags;
	m->next = msg_due(env);
}

struct qmsg *
msg_add(const struct envelope *env, int64_t now)
{
	struct qmsg *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->id = env->id;
	m->sched.slot = SCHED_NONE;
	m->sched.tie = env->id;
	if (RB_INSERT(qmsg_tree, &queue_msgs, m) != NULL) {
		free(m);
		return NULL;
	}
	queue_nmsgs++;
	msg_summarize(m, env);
	msg_schedule(m);
	return m;
}

/* Put an idle message where it belongs in the schedule (or out of it). */
void
msg_schedule(struct qmsg *m)
{
	if (m->state != QM_IDLE || (m->flags & ENV_F_HOLD) ||
	    m->npending == 0 || m->next == INT64_MAX) {
		sched_remove(&queue_sched, &m->sched);
		return;
	}
	if (m->parked)
		return;		/* the domain's next free slot wakes it */
	if (sched_update(&queue_sched, &m->sched, m->next) == -1)
		fatal("schedule");
}

void
msg_remove(struct qmsg *m)
{
	sched_remove(&queue_sched, &m->sched);
	runner_unpark(m);
	RB_REMOVE(qmsg_tree, &queue_msgs, m);
	queue_nrcpt -= m->npending;
	queue_nmsgs--;
	msg_unload(m);
	free(m);
}

/* Read the envelope of a message; a bad one is moved aside (-1). */
int
msg_load(struct qmsg *m)
{
	const char *why;

	if (m->env != NULL)
		return 0;
	if ((m->env = malloc(sizeof(*m->env))) == NULL)
		fatal("msg_load");
	if (spool_read_env(m->id, m->env, &why) == -1) {
		free(m->env);
		m->env = NULL;
		spool_corrupt(m->id, why);
		msg_remove(m);
		return -1;
	}
	return 0;
}

void
msg_unload(struct qmsg *m)
{
	if (m->env != NULL) {
		env_free(m->env);
		free(m->env);
		m->env = NULL;
	}
	if (m->logs != NULL) {
		dbuf_free(m->logs);
		free(m->logs);
		m->logs = NULL;
	}
}

void
msg_log(struct qmsg *m, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (m->logs == NULL) {
		if ((m->logs = malloc(sizeof(*m->logs))) == NULL)
			fatal("msg_log");
		dbuf_init(m->logs, 4 * 1024 * 1024);
	}
	/* Lines are kept NUL-separated until the sync returns. */
	if (dbuf_append(m->logs, line, n + 1) == -1)
		log_info("%s", line);
}

const char *
msg_state_name(const struct qmsg *m)
{
	if (m->delete_req)
		return "deleting";
	if (m->flags & ENV_F_CRASHHOLD)
		return "crash-held";
	if (m->flags & ENV_F_HOLD)
		return "held";
	if (m->state == QM_ACTIVE)
		return "active";
	return "deferred";
}

struct msg_rec {
	uint64_t	 id;
	int		 final;
	int		 removed;
	uint64_t	 pooled[2];	/* the files, in free/ (queue_pool.c) */
	struct dbuf	*logs;
};

static void
msg_recorded(void *arg, int error)
{
	struct msg_rec *rec = arg;
	struct qmsg *m;
	const char *p, *end;

	/* Their removal is on disk: the files may hold new messages. */
	pool_settle(rec->pooled[0], error == 0);
	pool_settle(rec->pooled[1], error == 0);
	if (rec->logs != NULL) {
		p = (const char *)rec->logs->data;
		end = p + rec->logs->len;
		for (; p < end; p += strlen(p) + 1)
			log_info("%s", p);
		dbuf_free(rec->logs);
		free(rec->logs);
	}
	if ((m = msg_find(rec->id)) != NULL) {
		m->nrecords--;
		if (rec->final) {
			if (rec->removed)
				msg_remove(m);
			else {
				m->state = QM_IDLE;
				msg_unload(m);
				msg_schedule(m);
			}
			runner_kick();
		}
	}
	free(rec);
}

/*
 * Make the in-memory envelope of an active message durable, then log
 * what happened.  final: the round is over (no batch left at relayd):
 * notifications are queued for new failures, and when the sync returns
 * the message goes back to the schedule or, all recipients final,
 * disappears.
 */
void
msg_record(struct qmsg *m, int final)
{
	struct msg_rec *rec;
	char qid[QID_LEN + 1];

	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		fatal("msg_record");
	rec->id = m->id;
	rec->final = final;
	qid_format(m->id, qid);
	if (final) {
		m->env->inflight = 0;
		if (!m->delete_req)
			bounce_failures(m->env, clock_now());
		msg_summarize(m, m->env);
		if (m->delete_req) {
			msg_log(m, "queued: id=%s removed by the operator "
			    "(%u recipient(s) not delivered)", qid,
			    m->npending);
			rec->removed = 1;
		} else if (m->npending == 0) {
			msg_log(m, "queued: id=%s removed: all recipients "
			    "final", qid);
			rec->removed = 1;
		}
	} else
		msg_summarize(m, m->env);
	if (rec->removed)
		spool_remove(m->id, rec->pooled);
	else if (spool_write_env(DIR_QUEUE, m->id, m->env, 0) == -1)
		log_warn("queued: id=%s envelope not recorded", qid);
	else if (!final && spool_mark_inflight(m->id) == -1)
		/* Batches are still out: the new envelope keeps the mark. */
		log_warn("queued: id=%s in-flight mark", qid);
	rec->logs = m->logs;
	m->logs = NULL;
	m->nrecords++;
	qsync_request(msg_recorded, rec);
}
