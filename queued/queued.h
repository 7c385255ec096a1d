/*
 * queued.h: state shared by the files of the queue process.
 *
 *	queued.c	entry, child_ops, peers
 *	queue_spool.c	paths, file writes, recovery at start
 *	queue_pool.c	spool files used again instead of freed
 *	queue_sync.c	the sync thread (group commit)
 *	queue_commit.c	receiving a message from smtpd, signing, commit
 *	queue_msg.c	the table of queued messages and their schedule
 *	queue_runner.c	dispatching due messages to relayd, results
 *	queue_bounce.c	notifications (failures, delays) queued back
 *	queue_ctl.c	posternctl queue commands, stats
 *	queue_env.c, queue_sched.c, queue_dsn.c: the pure parts
 */
#ifndef POSTERN_QUEUED_H
#define POSTERN_QUEUED_H

#include <sys/types.h>
#include <sys/tree.h>
#include <sys/queue.h>

#include <stdint.h>

#include "config.h"
#include "ipc.h"
#include "proto.h"
#include "queue_env.h"
#include "queue_sched.h"

#define DIR_INCOMING	"incoming"
#define DIR_QUEUE	"queue"
#define DIR_CORRUPT	"corrupt"
#define DIR_FREE	"free"

#define SPOOL_MODE_INFLIGHT 0700	/* queue/ID.env during a round */

#define MAX_BATCH	1000	/* recipients per MSG_RELAY_BATCH, at most */
#define MAX_OPEN_TX	4096	/* messages being received at once */

/*
 * One queued message, always in memory (about 150 bytes, so a million
 * fit easily); its envelope is read from disk only while it is being
 * worked on (env != NULL).
 */
enum qmsg_state {
	QM_IDLE = 0,	/* in the schedule, or held, waiting */
	QM_ACTIVE,	/* loaded: dispatching, in flight, or settling */
};

struct qmsg {
	RB_ENTRY(qmsg)	 entry;		/* by id */
	struct sched_item sched;	/* its due time */
	uint64_t	 id;
	int64_t		 created;
	int64_t		 next;		/* due time when not held */
	uint64_t	 token;
	uint64_t	 size;
	uint32_t	 nrcpt;
	uint32_t	 npending;
	uint32_t	 flags;		/* copy of ENV_F_* */
	uint32_t	 state;		/* enum qmsg_state */
	uint32_t	 nbatches;	/* batches at relayd */
	uint32_t	 nrecords;	/* envelope writes awaiting sync */
	int		 delete_req;	/* operator asked for removal */
	int		 flush;		/* operator asked for a retry now */
	int		 parked;	/* waiting for a busy domain */
	uint32_t	 park_hash;	/* of that domain */
	TAILQ_ENTRY(qmsg) park_entry;
	struct envelope	*env;		/* while QM_ACTIVE */
	struct dbuf	*logs;		/* result lines awaiting the sync */
};
RB_HEAD(qmsg_tree, qmsg);
RB_PROTOTYPE(qmsg_tree, qmsg, entry, qmsg_cmp);

struct queue_stats {
	uint64_t	 received;	/* messages committed since start */
	uint64_t	 delivered;	/* recipients */
	uint64_t	 deferred;
	uint64_t	 bounced;
	uint64_t	 expired;
	uint64_t	 dsn_sent;	/* notifications generated */
	uint64_t	 recovered;	/* messages found at start */
};

extern struct qmsg_tree	 queue_msgs;
extern struct sched	 queue_sched;
extern struct queue_stats queue_stats;
extern struct ipc	*queue_smtpd, *queue_signd, *queue_relayd;
extern uint64_t		 queue_nrcpt;	/* recipients not yet final */
extern uint64_t		 queue_nmsgs;	/* messages in the queue */

/* queue_spool.c */
void	spool_init(void);
int	spool_open_message(uint64_t *idp, int64_t now);
void	spool_path(char *buf, size_t bufsz, const char *dir, uint64_t id,
	    const char *suffix);
int	spool_write_env(const char *dir, uint64_t id, const struct envelope *,
	    int excl);
int	spool_read_env(uint64_t id, struct envelope *, const char **why);
int	spool_mark_inflight(uint64_t id);
int	spool_commit_files(uint64_t id);
void	spool_unlink(const char *dir, uint64_t id);
void	spool_remove(uint64_t id, uint64_t pooled[2]);
void	spool_corrupt(uint64_t id, const char *why);
int	spool_write_all(int fd, const void *, size_t);
int	spool_close_file(int fd, uint64_t len);
int	spool_read_headers(uint64_t id, char **bufp, size_t *lenp);
void	spool_recover(int64_t now);

/* queue_pool.c */
void	pool_init(void);
int	pool_create(const char *path);
uint64_t pool_release(const char *path);
void	pool_settle(uint64_t name, int synced);

/* queue_sync.c */
typedef void (*qsync_cb)(void *arg, int error);
void	qsync_init(void);
void	qsync_request(qsync_cb, void *arg);
uint64_t qsync_count(void);

/* queue_commit.c */
void	commit_smtpd_dispatch(struct ipc *, struct ipc_msg *, void *);
void	commit_signd_dispatch(struct ipc *, struct ipc_msg *, void *);
size_t	commit_pending(void);

/* queue_msg.c */
struct qmsg *msg_find(uint64_t id);
struct qmsg *msg_add(const struct envelope *, int64_t now);
void	msg_summarize(struct qmsg *, const struct envelope *);
int64_t	msg_due(const struct envelope *);
void	msg_schedule(struct qmsg *);
void	msg_remove(struct qmsg *);
int	msg_load(struct qmsg *);
void	msg_unload(struct qmsg *);
void	msg_record(struct qmsg *, int final);
void	msg_log(struct qmsg *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const char *msg_state_name(const struct qmsg *);

/* queue_runner.c */
void	runner_init(void);
void	runner_kick(void);
void	runner_relayd_dispatch(struct ipc *, struct ipc_msg *, void *);
uint32_t runner_inflight(void);
void	runner_unpark(struct qmsg *);

/* queue_bounce.c */
void	bounce_failures(struct envelope *, int64_t now);
size_t	bounce_delays(struct envelope *, int64_t now);
int	bounce_inject(const void *data, size_t len, struct envelope *env);

/* queue_ctl.c */
void	queue_ctl(uint32_t reqid, const struct ctl_req *);

#endif
