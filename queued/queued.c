/*
 * queued: the durable queue and the delivery scheduler.
 *
 * User and chroot: its own user (user queued ... in the config), chrooted
 * to the spool directory (spool-dir), which only it can read.  Secrets:
 * none; it holds the mail itself.  It is the only process that sees the
 * spool: signd and relayd get read-only descriptors of message files.
 *
 * Peers and what it accepts from each (rule tables in lib/proto.c):
 *	master	configuration, peer channels, start, clock (tests),
 *		control requests: queue list|show|flush|delete|hold|release,
 *		show stats (queue_ctl.c)
 *	smtpd	MSG_Q_OPEN, MSG_Q_RCPT, MSG_Q_DATA, MSG_Q_COMMIT,
 *		MSG_Q_ABORT: a message being received (queue_commit.c)
 *	signd	MSG_SIGN_RES: the DKIM header text (queue_commit.c)
 *	relayd	MSG_RELAY_RESULT, MSG_RELAY_DONE (queue_runner.c)
 *
 * A malformed message from any of these is a protocol error and ends the
 * process; the master then restarts the whole tree, and recovery
 * (queue_spool.c) resumes every acknowledged message.
 *
 * Why envelope files and not Berkeley DB: one small file per message
 * beside its content is what Postfix and OpenSMTPD do; it needs no
 * library in the one process that holds the mail, a torn write is caught
 * by a checksum, an operator can see and move files, and group commit
 * comes from one syncfs() for many commits (queue_sync.c).  The price is
 * reading every envelope at start (recovery); the schedule itself is a
 * heap in memory (queue_sched.c), so finding the next due message never
 * scans the queue.  regress/bench/bench_queue.c measures both at
 * 1,000,000 recipients.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "queued.h"

struct ipc	*queue_smtpd, *queue_signd, *queue_relayd;

static void
queued_init(struct config *conf)
{
	sched_init(&queue_sched);
	spool_init();
	qsync_init();
	runner_init();
	/* Before any peer is served: the queue is whole again. */
	spool_recover(clock_now());
}

static void
queued_peer(int proc, int fd)
{
	struct ipc **slot;
	const struct ipc_rule *rules;
	ipc_dispatch_cb cb;

	switch (proc) {
	case PROC_SMTPD:
		slot = &queue_smtpd;
		rules = rules_queued_from_smtpd;
		cb = commit_smtpd_dispatch;
		break;
	case PROC_SIGND:
		slot = &queue_signd;
		rules = rules_queued_from_signd;
		cb = commit_signd_dispatch;
		break;
	case PROC_RELAYD:
		slot = &queue_relayd;
		rules = rules_queued_from_relayd;
		cb = runner_relayd_dispatch;
		break;
	default:
		fatalx("unexpected peer %s", proc_name(proc));
	}
	if (*slot != NULL)
		fatalx("second channel to %s", proc_name(proc));
	*slot = ipc_new(child_base, fd, proc_name(proc), rules, cb,
	    child_peer_error, NULL);
	if (*slot == NULL)
		fatal("channel to %s", proc_name(proc));
}

static void
queued_start(void)
{
	if (queue_smtpd == NULL || queue_signd == NULL || queue_relayd == NULL)
		fatalx("started without all peer channels");
	runner_kick();
}

static void
queued_clock(void)
{
	/* The test clock moved: what is due may have changed. */
	runner_kick();
}

static const struct child_ops queued_ops = {
	.proc = PROC_QUEUED,
	.init = queued_init,
	.peer = queued_peer,
	.start = queued_start,
	.ctl = queue_ctl,
	.clock = queued_clock,
};

int
main(int argc, char **argv)
{
	return child_main(argc, argv, &queued_ops);
}
