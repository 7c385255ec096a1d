/*
 * queue_runner.c: handing due messages to relayd and taking the results.
 *
 * One libevent timer is set to the earliest due time in the schedule
 * (clock_now() seconds, so the test clock moves it; ops->clock kicks the
 * runner again).  When it fires, due messages are taken from the
 * schedule while fewer than `concurrency' batches are at relayd.  For
 * each, its envelope is loaded and:
 *
 *   - past its lifetime, every pending recipient fails ("expired");
 *   - past delay-warning, a delay notice goes to the sender, once;
 *   - the due recipients are grouped by domain (case-insensitive), at
 *     most batch-recipients per batch and one IPC message each, as far as
 *     free batch slots allow (concurrency in all, concurrency-per-domain
 *     for one domain); the rest stay due for the next round, and a
 *     message held back by a busy domain waits off the heap (parked)
 *     until a batch of that domain is done.
 *
 * Before the batches leave, the envelope gets the in-flight mark (a
 * chmod, queue_spool.c), so that after a crash of any process recovery
 * knows the message was in flight (back-off, and hold at crash-hold
 * crashes in a row).  The batches leave at once: the mark needs no sync,
 * because a process crash does not lose the page cache, and it is
 * meaningless after a power loss (queue_spool.c says why).  Only when
 * the round also changed the envelope (expiries, a delay warning) is it
 * rewritten first, and the batches wait for that write's sync, so that
 * a warning is not sent twice.
 *
 * MSG_RELAY_BATCH carries the message as a read-only descriptor of
 * queue/ID, never a path, and the DKIM header text to prepend.  Each
 * MSG_RELAY_RESULT updates one recipient in memory; MSG_RELAY_DONE closes
 * the batch, and the batch's results are recorded durably before they
 * are logged (msg_record).  A result for an unknown batch or recipient,
 * or a second result for one recipient, is a protocol error (fatal).
 * A recipient a DONE leaves without a result is deferred.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queued.h"

#define RUNNER_MAX_SLEEP	3600	/* re-check at least hourly */
#define RUNNER_RETRY_IO		60	/* envelope write failed: retry */

struct qbatch {
	TAILQ_ENTRY(qbatch) entry;
	uint64_t	 id;
	struct qmsg	*m;		/* active while a batch is out */
	char		 domain[MAX_HOST];
	size_t		 bytes;		/* payload size so far */
	uint32_t	 n;
	uint32_t	 idx[MAX_BATCH];
	uint8_t		 got[MAX_BATCH];
	int		 sent;
};

static TAILQ_HEAD(, qbatch) batches = TAILQ_HEAD_INITIALIZER(batches);
/* Messages waiting for a slot of a domain at concurrency-per-domain. */
static TAILQ_HEAD(, qmsg) parked = TAILQ_HEAD_INITIALIZER(parked);
static uint32_t		 nbatches;
static uint64_t		 batch_seq;
static struct event	*runner_ev;

static void runner_run(evutil_socket_t, short, void *);

void
runner_init(void)
{
	if ((runner_ev = evtimer_new(child_base, runner_run, NULL)) == NULL)
		fatalx("runner timer");
}

uint32_t
runner_inflight(void)
{
	return nbatches;
}

void
runner_kick(void)
{
	struct timeval tv = { 0, 0 };

	if (runner_ev != NULL)
		evtimer_add(runner_ev, &tv);
}

static void
runner_arm(void)
{
	struct sched_item *it;
	struct timeval tv = { 0, 0 };
	int64_t delay;

	if ((it = sched_peek(&queue_sched)) == NULL)
		delay = RUNNER_MAX_SLEEP;
	else {
		delay = it->due - clock_now();
		if (delay < 0)
			delay = 0;
		if (delay > RUNNER_MAX_SLEEP)
			delay = RUNNER_MAX_SLEEP;
	}
	/* Slots full: a DONE kicks the runner again. */
	if (nbatches >= (uint32_t)child_conf->concurrency &&
	    delay < RUNNER_MAX_SLEEP)
		delay = RUNNER_MAX_SLEEP;
	tv.tv_sec = delay;
	evtimer_add(runner_ev, &tv);
}

static const char *
runner_dsn_code(const struct env_rcpt *r, const char *status)
{
	if (r->enhanced[0] != '\0')
		return r->enhanced;
	if (strcmp(status, "sent") == 0)
		return "2.0.0";
	if (strcmp(status, "deferred") == 0)
		return "4.0.0";
	if (r->flags & RCPT_F_EXPIRED)
		return "4.4.7";
	return "5.0.0";
}

/* The log line of one result, kept until the record is on disk. */
static void
runner_note(struct qmsg *m, const struct env_rcpt *r, const char *relay,
    const char *status, int64_t now)
{
	char qid[QID_LEN + 1], code[16] = "", text[2 * MAX_REPLY];

	qid_format(m->id, qid);
	if (r->code != 0)
		snprintf(code, sizeof(code), "%u ", r->code);
	/* The text is the remote server's: quoted, it stays one field. */
	msg_log(m, "queued: id=%s to=<%s> relay=%s status=%s dsn=%s "
	    "delay=%llds attempts=%u reply=\"%s%s\"", qid, r->addr,
	    relay[0] ? relay : "none", status, runner_dsn_code(r, status),
	    (long long)(now - m->created), r->attempts, code,
	    log_quote(r->text, text, sizeof(text)));
}

static void
runner_expire(struct qmsg *m, struct env_rcpt *r, int64_t now)
{
	char text[MAX_REPLY];

	r->state = RCPT_FAILED;
	r->flags |= RCPT_F_EXPIRED;
	/* Cut if need be: the reason comes first. */
	if (snprintf(text, sizeof(text), "expired after %llds in the queue%s%s",
	    (long long)(now - m->created), r->text[0] ? "; last error: " :
	    "", r->text) < 0)
		text[0] = '\0';
	strlcpy(r->text, text, sizeof(r->text));
	queue_stats.expired++;
	queue_stats.bounced++;
	runner_note(m, r, r->host, "expired", now);
}

/* Apply one result from relayd to its recipient. */
static void
runner_apply(struct qmsg *m, struct env_rcpt *rc,
    const struct relay_result *r, int64_t now)
{
	char relay[MAX_HOST + 80];
	int64_t end;
	time_t wait;

	rc->attempts++;
	rc->last = now;
	rc->code = r->code;
	strlcpy(rc->enhanced, r->enhanced, sizeof(rc->enhanced));
	strlcpy(rc->host, r->host, sizeof(rc->host));
	strlcpy(rc->text, r->text, sizeof(rc->text));
	if (r->addr[0] != '\0')
		snprintf(relay, sizeof(relay), "%s[%s]", r->host, r->addr);
	else
		strlcpy(relay, r->host, sizeof(relay));

	switch (r->status) {
	case RELAY_DELIVERED:
		rc->state = RCPT_DELIVERED;
		queue_stats.delivered++;
		runner_note(m, rc, relay, "sent", now);
		break;
	case RELAY_PERMFAIL:
		rc->state = RCPT_FAILED;
		queue_stats.bounced++;
		runner_note(m, rc, relay, "bounced", now);
		break;
	default:
		end = m->created + child_conf->lifetime;
		if (now >= end) {
			runner_expire(m, rc, now);
			break;
		}
		wait = sched_backoff(rc->attempts, child_conf->retry_initial,
		    child_conf->retry_max, arc4random());
		rc->next = now + wait;
		/* The last try is at the expiry, not after it. */
		if (rc->next > end)
			rc->next = end;
		queue_stats.deferred++;
		runner_note(m, rc, relay, "deferred", now);
		break;
	}
}

static struct qbatch *
runner_find_batch(uint64_t id)
{
	struct qbatch *b;

	TAILQ_FOREACH(b, &batches, entry)
		if (b->id == id)
			return b;
	return NULL;
}

static size_t
runner_batch_base(const struct envelope *env, const char *domain)
{
	/* u64 batch, str qid, str sender, str domain, u32 body, u64 size,
	 * u32 n, bytes dkim */
	return 8 + 4 + QID_LEN + 4 + strlen(env->sender) + 4 +
	    strlen(domain) + 4 + 8 + 4 + 4 + env->dkimlen;
}

/* A case-insensitive hash of a domain (FNV-1a): a collision only wakes
 * a message too early, which then parks again. */
static uint32_t
runner_domain_hash(const char *d)
{
	uint32_t h = 2166136261U;

	for (; *d != '\0'; d++)
		h = (h ^ (unsigned char)tolower((unsigned char)*d)) * 16777619U;
	return h;
}

static void
runner_park(struct qmsg *m, const char *domain)
{
	m->parked = 1;
	m->park_hash = runner_domain_hash(domain);
	TAILQ_INSERT_TAIL(&parked, m, park_entry);
}

void
runner_unpark(struct qmsg *m)
{
	if (!m->parked)
		return;
	TAILQ_REMOVE(&parked, m, park_entry);
	m->parked = 0;
}

/* A slot of this domain is free: the longest-waiting message may go. */
static void
runner_wake(const char *domain)
{
	struct qmsg *m;
	uint32_t h = runner_domain_hash(domain);

	TAILQ_FOREACH(m, &parked, park_entry) {
		if (m->park_hash == h) {
			runner_unpark(m);
			msg_schedule(m);
			return;
		}
	}
}

/* Batches at relayd (or about to go) for a domain. */
static uint32_t
runner_domain_load(const char *domain)
{
	struct qbatch *b;
	uint32_t n = 0;

	TAILQ_FOREACH(b, &batches, entry)
		if (strcasecmp(b->domain, domain) == 0)
			n++;
	return n;
}

/*
 * Group the due recipients into batches; returns how many were made.
 * blocked gets the first domain whose recipients had to wait because
 * concurrency-per-domain was reached.
 */
static uint32_t
runner_plan(struct qmsg *m, int64_t now, char *blocked, size_t blockedsz)
{
	struct envelope *env = m->env;
	struct env_rcpt *r;
	struct qbatch *b, *found;
	const char *dom;
	uint32_t i, made = 0, max;
	size_t need;

	max = child_conf->batch_recipients > 0 ?
	    (uint32_t)child_conf->batch_recipients : 1;
	if (max > MAX_BATCH)
		max = MAX_BATCH;
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		if (r->state != RCPT_PENDING || (r->next > now && !m->flush))
			continue;
		dom = env_rcpt_domain(r->addr);
		need = 4 + 4 + strlen(r->addr);
		found = NULL;
		TAILQ_FOREACH(b, &batches, entry) {
			if (b->m == m && !b->sent && b->n < max &&
			    b->bytes + need <= IPC_MAX_PAYLOAD &&
			    strcasecmp(b->domain, dom) == 0) {
				found = b;
				break;
			}
		}
		if (found == NULL) {
			if (nbatches >= (uint32_t)child_conf->concurrency)
				continue;
			if (child_conf->concurrency_domain > 0 &&
			    runner_domain_load(dom) >=
			    (uint32_t)child_conf->concurrency_domain) {
				if (blocked[0] == '\0')
					strlcpy(blocked, dom, blockedsz);
				continue;
			}
			if ((found = calloc(1, sizeof(*found))) == NULL)
				fatal("runner_plan");
			found->id = ++batch_seq;
			found->m = m;
			strlcpy(found->domain, dom, sizeof(found->domain));
			found->bytes = runner_batch_base(env, found->domain);
			TAILQ_INSERT_TAIL(&batches, found, entry);
			nbatches++;
			made++;
		}
		found->idx[found->n++] = i;
		found->bytes += need;
	}
	return made;
}

static int
runner_send(struct qbatch *b)
{
	static struct mw mw;
	struct envelope *env = b->m->env;
	char qid[QID_LEN + 1], path[64];
	uint32_t i;
	int fd;

	qid_format(b->m->id, qid);
	spool_path(path, sizeof(path), DIR_QUEUE, b->m->id, "");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("queued: id=%s open %s", qid, path);
		return -1;
	}
	mw_init(&mw);
	mw_u64(&mw, b->id);
	mw_str(&mw, qid);
	mw_str(&mw, env->sender);
	mw_str(&mw, b->domain);
	mw_u32(&mw, env->body);
	mw_u64(&mw, env->size + env->dkimlen);
	mw_u32(&mw, b->n);
	for (i = 0; i < b->n; i++) {
		mw_u32(&mw, b->idx[i]);
		mw_str(&mw, env->rcpt[b->idx[i]].addr);
	}
	mw_bytes(&mw, env->dkim, env->dkimlen);
	if (ipc_send_mw(queue_relayd, MSG_RELAY_BATCH, 0, fd, &mw) == -1)
		fatalx("queued: id=%s batch does not fit a message", qid);
	b->sent = 1;
	log_debug("queued: id=%s batch=%llu domain=%s rcpts=%u", qid,
	    (unsigned long long)b->id, b->domain, b->n);
	return 0;
}

/* Give back the batches planned for m (its mark could not be written). */
static void
runner_unplan(struct qmsg *m)
{
	struct qbatch *b, *tmp;

	TAILQ_FOREACH_SAFE(b, &batches, entry, tmp) {
		if (b->m != m)
			continue;
		TAILQ_REMOVE(&batches, b, entry);
		nbatches--;
		free(b);
	}
	m->nbatches = 0;
}

/*
 * The in-flight mark (or the envelope written with it) could not be
 * made: send nothing, put the due recipients off by RUNNER_RETRY_IO, and
 * end the round.
 */
static void
runner_unmark(struct qmsg *m, int64_t now)
{
	struct envelope *env = m->env;
	uint32_t i;

	runner_unplan(m);
	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_PENDING &&
		    env->rcpt[i].next <= now)
			env->rcpt[i].next = now + RUNNER_RETRY_IO;
	msg_record(m, 1);
}

static void runner_done(struct qbatch *, int64_t now);

/* The message is marked: its batches leave. */
static void
runner_send_all(struct qmsg *m)
{
	struct qbatch *b, *tmp;

	TAILQ_FOREACH_SAFE(b, &batches, entry, tmp) {
		if (b->m != m || b->sent)
			continue;
		/* Unreadable content: every recipient deferred. */
		if (runner_send(b) == -1)
			runner_done(b, clock_now());
	}
}

/* The envelope the round changed is on disk. */
static void
runner_synced(void *arg, int error)
{
	uint64_t *idp = arg;
	struct qmsg *m;

	if ((m = msg_find(*idp)) != NULL && error != 0)
		runner_unmark(m, clock_now());
	else if (m != NULL)
		runner_send_all(m);
	free(idp);
}

static void
runner_start(struct qmsg *m, int64_t now)
{
	struct envelope *env;
	uint32_t i, made;
	uint64_t *idp;
	char blocked[MAX_HOST] = "";
	int changed = 0;
	char qid[QID_LEN + 1];

	if (msg_load(m) == -1)
		return;
	m->state = QM_ACTIVE;
	env = m->env;
	qid_format(m->id, qid);
	if (now >= env->created + child_conf->lifetime) {
		for (i = 0; i < env->nrcpt; i++)
			if (env->rcpt[i].state == RCPT_PENDING) {
				runner_expire(m, &env->rcpt[i], now);
				changed = 1;
			}
	}
	if (child_conf->delay_warning > 0 &&
	    now >= env->created + child_conf->delay_warning &&
	    bounce_delays(env, now) > 0)
		changed = 1;

	made = runner_plan(m, now, blocked, sizeof(blocked));
	m->flush = 0;
	if (made == 0 && !changed && blocked[0] != '\0') {
		/* Nothing to write: wait for that domain, off the heap. */
		m->state = QM_IDLE;
		msg_unload(m);
		runner_park(m, blocked);
		return;
	}
	if (made == 0) {
		/* Expiry or a warning only: record it, end the round. */
		msg_record(m, 1);
		return;
	}
	m->nbatches = made;
	if (changed && spool_write_env(DIR_QUEUE, m->id, env, 0) == -1) {
		log_warn("queued: id=%s envelope", qid);
		runner_unmark(m, now);
		return;
	}
	if (spool_mark_inflight(m->id) == -1) {
		log_warn("queued: id=%s in-flight mark", qid);
		/* Never send unmarked: give the batches back, retry later. */
		runner_unmark(m, now);
		return;
	}
	if (!changed) {
		runner_send_all(m);
		return;
	}
	if ((idp = malloc(sizeof(*idp))) == NULL)
		fatal("runner_start");
	*idp = m->id;
	qsync_request(runner_synced, idp);
}

static void
runner_run(evutil_socket_t fd, short ev, void *arg)
{
	struct sched_item *it;
	struct qmsg *m;
	int64_t now = clock_now();

	if (queue_relayd == NULL)
		return;
	while (nbatches < (uint32_t)child_conf->concurrency &&
	    (it = sched_pop_due(&queue_sched, now)) != NULL) {
		m = (struct qmsg *)((char *)it - offsetof(struct qmsg, sched));
		runner_start(m, now);
	}
	runner_arm();
}

static void
runner_done(struct qbatch *b, int64_t now)
{
	struct relay_result r;
	struct qmsg *m = b->m;
	uint32_t i;

	memset(&r, 0, sizeof(r));
	r.status = RELAY_TEMPFAIL;
	strlcpy(r.text, "no result from relayd", sizeof(r.text));
	for (i = 0; i < b->n; i++)
		if (!b->got[i])
			runner_apply(m, &m->env->rcpt[b->idx[i]], &r, now);
	TAILQ_REMOVE(&batches, b, entry);
	nbatches--;
	runner_wake(b->domain);
	free(b);
	m->nbatches--;
	msg_record(m, m->nbatches == 0);
	runner_kick();
}

void
runner_relayd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct relay_result r;
	struct qbatch *b;
	struct mr mr;
	uint64_t id;
	uint32_t i;

	mr_init(&mr, msg);
	switch (msg->type) {
	case MSG_RELAY_RESULT:
		if (relay_result_read(&mr, &r) == -1)
			fatalx("protocol error: relayd: bad MSG_RELAY_RESULT");
		if ((b = runner_find_batch(r.batch)) == NULL || !b->sent)
			fatalx("protocol error: relayd: result for unknown "
			    "batch %llu", (unsigned long long)r.batch);
		for (i = 0; i < b->n; i++)
			if (b->idx[i] == r.index)
				break;
		if (i == b->n || b->got[i])
			fatalx("protocol error: relayd: result for recipient "
			    "%u of batch %llu", r.index,
			    (unsigned long long)r.batch);
		b->got[i] = 1;
		runner_apply(b->m, &b->m->env->rcpt[r.index], &r, clock_now());
		break;
	case MSG_RELAY_DONE:
		id = mr_u64(&mr);
		if (mr_end(&mr) == -1)
			fatalx("protocol error: relayd: bad MSG_RELAY_DONE");
		if ((b = runner_find_batch(id)) == NULL || !b->sent)
			fatalx("protocol error: relayd: done for unknown "
			    "batch %llu", (unsigned long long)id);
		runner_done(b, clock_now());
		break;
	default:
		fatalx("protocol error: relayd: unexpected %s",
		    proto_name(msg->type));
	}
}
