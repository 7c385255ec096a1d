/*
 * queue_bounce.c: notifications to the sender, queued like any message.
 *
 * A recipient that failed (5xx, or its lifetime ran out) produces a
 * failure notice; pending recipients still undelivered after
 * delay-warning produce a delay notice, once.  Both are RFC 3464 reports
 * (queue_dsn.c) from the null sender to the original envelope sender,
 * written straight into the queue here (incoming/, then renamed) with
 * ENV_F_DSN: the commit path's signing is skipped (there is no login
 * behind it and the null sender needs no DKIM alignment), and a
 * notification that fails is never bounced in turn (no bounce of a
 * bounce: a null-sender message gets no notice).
 *
 * Durability: the caller (msg_record) records the original's new state
 * and requests the sync after this returns, so the notification and the
 * state that caused it reach the disk in the same sync.  A crash before
 * it may repeat a notification, never lose one silently.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queue_dsn.h"
#include "queued.h"

#define DSN_MAX		(256 * 1024)

int
bounce_inject(const void *data, size_t len, struct envelope *env)
{
	char path[64];
	int fd, saved;
	int64_t now = clock_now();

	if ((fd = spool_open_message(&env->id, now)) == -1)
		return -1;
	spool_path(path, sizeof(path), DIR_INCOMING, env->id, "");
	if (spool_write_all(fd, data, len) == -1) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	if (spool_close_file(fd, len) == -1) {
		saved = errno;
		unlink(path);
		errno = saved;
		return -1;
	}
	env->created = now;
	env->size = len;
	if (spool_write_env(DIR_INCOMING, env->id, env, 1) == -1 ||
	    spool_commit_files(env->id) == -1) {
		saved = errno;
		spool_unlink(DIR_INCOMING, env->id);
		spool_unlink(DIR_QUEUE, env->id);
		errno = saved;
		return -1;
	}
	if (msg_add(env, now) == NULL)
		fatal("bounce_inject");
	queue_stats.dsn_sent++;
	runner_kick();
	return 0;
}

static void
bounce_send(struct envelope *orig, enum dsn_kind kind, uint32_t *idx,
    size_t n, int64_t now)
{
	struct envelope env;
	struct dsn_req q;
	struct dbuf b, hdr;
	char *headers = NULL, oqid[QID_LEN + 1], dqid[QID_LEN + 1];
	size_t hlen = 0;
	uint32_t body;

	qid_format(orig->id, oqid);
	dbuf_init(&hdr, ENV_MAX_DKIM + 65536);
	if (orig->dkimlen > 0)
		dbuf_append(&hdr, orig->dkim, orig->dkimlen);
	if (spool_read_headers(orig->id, &headers, &hlen) == 0) {
		dbuf_append(&hdr, headers, hlen);
		free(headers);
	}
	env_init(&env);
	env.flags = ENV_F_DSN;
	strlcpy(env.client, "localhost", sizeof(env.client));
	strlcpy(env.helo, child_conf->hostname, sizeof(env.helo));
	if (env_add_rcpt(&env, orig->sender, now) == -1)
		fatal("bounce_send");
	/* The id is drawn by bounce_inject; the boundary needs one now. */
	qid_format(qid_new(now), dqid);

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.hostname = child_conf->hostname;
	q.env = orig;
	q.rcpts = idx;
	q.nrcpts = n;
	q.now = now;
	q.retry_until = orig->created + child_conf->lifetime;
	q.headers = (const char *)hdr.data;
	q.headerslen = hdr.len;
	q.dsnid = dqid;
	dbuf_init(&b, DSN_MAX);
	if (dsn_build(&q, &b, &body) == -1) {
		/* Too big with the headers: send it without them. */
		dbuf_reset(&b);
		q.headers = NULL;
		q.headerslen = 0;
		if (dsn_build(&q, &b, &body) == -1) {
			log_warnx("queued: id=%s notification too large", oqid);
			goto done;
		}
	}
	env.body = body;
	if (bounce_inject(b.data, b.len, &env) == -1) {
		log_warn("queued: id=%s %s notice to <%s> NOT queued", oqid,
		    kind == DSN_FAILURE ? "failure" : "delay", orig->sender);
		goto done;
	}
	qid_format(env.id, dqid);
	log_info("queued: id=%s from=<> to=<%s> size=%llu dsn-of=%s kind=%s "
	    "nrcpt=%zu", dqid, orig->sender, (unsigned long long)env.size,
	    oqid, kind == DSN_FAILURE ? "failure" : "delay", n);
 done:
	env_free(&env);
	dbuf_free(&b);
	dbuf_free(&hdr);
}

/* Which recipients to report; marks them so each is reported once. */
static size_t
bounce_select(struct envelope *env, uint32_t state, uint32_t flag,
    uint32_t **idxp)
{
	uint32_t i, *idx;
	size_t n = 0;

	*idxp = NULL;
	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == state && !(env->rcpt[i].flags & flag))
			n++;
	if (n == 0)
		return 0;
	if ((idx = calloc(n, sizeof(*idx))) == NULL)
		fatal("bounce_select");
	n = 0;
	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == state &&
		    !(env->rcpt[i].flags & flag)) {
			env->rcpt[i].flags |= flag;
			idx[n++] = i;
		}
	*idxp = idx;
	return n;
}

static int
bounce_wanted(const struct envelope *env)
{
	return env->sender[0] != '\0' && !(env->flags & ENV_F_DSN);
}

void
bounce_failures(struct envelope *env, int64_t now)
{
	uint32_t *idx;
	size_t n;

	if ((n = bounce_select(env, RCPT_FAILED, RCPT_F_DSN, &idx)) == 0)
		return;
	if (bounce_wanted(env))
		bounce_send(env, DSN_FAILURE, idx, n, now);
	free(idx);
}

/* Returns how many recipients the warning covered (0: nothing done). */
size_t
bounce_delays(struct envelope *env, int64_t now)
{
	uint32_t *idx;
	size_t n;

	if (!bounce_wanted(env))
		return 0;
	if ((n = bounce_select(env, RCPT_PENDING, RCPT_F_WARNED, &idx)) == 0)
		return 0;
	bounce_send(env, DSN_DELAY, idx, n, now);
	free(idx);
	return n;
}
