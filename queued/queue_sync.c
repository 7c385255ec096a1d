/*
 * queue_sync.c: making the spool durable without blocking, in groups.
 *
 * Why syncfs.  A commit must put on stable storage the message file, its
 * envelope, and the two renames that moved them from incoming/ into
 * queue/ (the directory entries).  With per-file fsync that is four
 * flushes (both files and both directories), each a full device cache
 * flush on most disks, per message.  syncfs(2) on the spool's file
 * system writes back every dirty file and directory of that file system
 * and commits the journal, in one go: the data, the new directory entries
 * and the renames of every message waiting.  So however many sessions
 * are committing, one flush serves them all (group commit), and a
 * message costs a fraction of a flush instead of four.  The price is
 * that the spool is best a file system of its own, or at least not one
 * shared with a process that writes a lot (syncfs would flush that too).
 *
 * How.  Callers on the event loop hand a callback to qsync_request().
 * The requests made while the loop handles one event (one read from a
 * channel may carry dozens of commits) are gathered and handed over
 * together once that handler returns, so they share a sync by design
 * rather than by luck of timing; handing over the first alone would
 * start a sync that the others then wait behind.  A single thread waits
 * for requests; it takes every request that is waiting, runs syncfs()
 * once, and passes the whole group back through a pipe that the event
 * loop watches; the callbacks then run on the event loop, in order, with
 * the result (0 or an errno).  Requests that arrive while a sync is
 * running wait for the next one, which starts as soon as that one ends.
 * The event loop never waits for the disk.
 *
 * syncfs returns write-back errors since Linux 5.8; an error fails every
 * request of the group (the commit answers a temporary failure).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "log.h"
#include "queued.h"

struct qsync_req {
	TAILQ_ENTRY(qsync_req) entry;
	qsync_cb	 cb;
	void		*arg;
	int		 error;
};
TAILQ_HEAD(qsync_list, qsync_req);

static pthread_mutex_t	 qs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 qs_cond = PTHREAD_COND_INITIALIZER;
static struct qsync_list qs_gather = TAILQ_HEAD_INITIALIZER(qs_gather);
static struct event	*qs_hand_ev;	/* hands qs_gather over */
static struct qsync_list qs_waiting = TAILQ_HEAD_INITIALIZER(qs_waiting);
static struct qsync_list qs_done = TAILQ_HEAD_INITIALIZER(qs_done);
static int		 qs_dirfd = -1;
static int		 qs_pipe[2] = { -1, -1 };
static struct event	*qs_ev;
static uint64_t		 qs_syncs;

static void *
qsync_thread(void *arg)
{
	struct qsync_list batch;
	struct qsync_req *r;
	int error;
	char c = 0;

	for (;;) {
		pthread_mutex_lock(&qs_lock);
		while (TAILQ_EMPTY(&qs_waiting))
			pthread_cond_wait(&qs_cond, &qs_lock);
		TAILQ_INIT(&batch);
		TAILQ_CONCAT(&batch, &qs_waiting, entry);
		pthread_mutex_unlock(&qs_lock);

		error = syncfs(qs_dirfd) == -1 ? errno : 0;

		pthread_mutex_lock(&qs_lock);
		TAILQ_FOREACH(r, &batch, entry)
			r->error = error;
		TAILQ_CONCAT(&qs_done, &batch, entry);
		qs_syncs++;
		pthread_mutex_unlock(&qs_lock);
		/* A full pipe already holds a wake-up: fine to lose this. */
		(void)write(qs_pipe[1], &c, 1);
	}
	return NULL;
}

static void
qsync_on_done(evutil_socket_t fd, short ev, void *arg)
{
	struct qsync_list done;
	struct qsync_req *r;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&qs_lock);
	TAILQ_CONCAT(&done, &qs_done, entry);
	pthread_mutex_unlock(&qs_lock);
	while ((r = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, r, entry);
		if (r->error != 0) {
			errno = r->error;
			log_warn("queued: syncfs of the spool");
		}
		r->cb(r->arg, r->error);
		free(r);
	}
}

/* After the handler that made them: the gathered requests, to the thread. */
static void
qsync_hand_over(evutil_socket_t fd, short ev, void *arg)
{
	pthread_mutex_lock(&qs_lock);
	TAILQ_CONCAT(&qs_waiting, &qs_gather, entry);
	pthread_cond_signal(&qs_cond);
	pthread_mutex_unlock(&qs_lock);
}

void
qsync_init(void)
{
	pthread_t t;
	int fl;

	if ((qs_dirfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open spool");
	if (pipe2(qs_pipe, O_CLOEXEC) == -1)
		fatal("pipe");
	fl = fcntl(qs_pipe[0], F_GETFL);
	fcntl(qs_pipe[0], F_SETFL, fl | O_NONBLOCK);
	fl = fcntl(qs_pipe[1], F_GETFL);
	fcntl(qs_pipe[1], F_SETFL, fl | O_NONBLOCK);
	qs_ev = event_new(child_base, qs_pipe[0], EV_READ | EV_PERSIST,
	    qsync_on_done, NULL);
	if (qs_ev == NULL || event_add(qs_ev, NULL) == -1)
		fatalx("sync event");
	if ((qs_hand_ev = event_new(child_base, -1, 0, qsync_hand_over,
	    NULL)) == NULL)
		fatalx("sync event");
	if ((errno = pthread_create(&t, NULL, qsync_thread, NULL)) != 0)
		fatal("pthread_create");
	pthread_detach(t);
}

void
qsync_request(qsync_cb cb, void *arg)
{
	struct qsync_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("qsync_request");
	r->cb = cb;
	r->arg = arg;
	if (TAILQ_EMPTY(&qs_gather))
		event_active(qs_hand_ev, 0, 0);
	TAILQ_INSERT_TAIL(&qs_gather, r, entry);
}

uint64_t
qsync_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&qs_lock);
	n = qs_syncs;
	pthread_mutex_unlock(&qs_lock);
	return n;
}
