/*
 * smtpd: the network front end of postern, the mail submission server
 * devices and applications talk to (ports 587 with STARTTLS and 465 with
 * implicit TLS; plain loopback listeners for tests).
 *
 * User and chroot: its own user (user smtpd in postern.conf), chrooted to
 * the empty directory; it opens no file.  The master hands it everything:
 * the listening sockets (MSG_LISTENER), each TLS listener's certificate
 * and key as read-only descriptors (MSG_FILE), and its channels to authd
 * and queued (MSG_PEER_CHANNEL).
 *
 * Secrets: the TLS private keys, in memory, until the containment issue
 * moves every private-key operation to signd.  It never sees a token hash,
 * a DKIM key or the ticket key; the tokens clients send pass through on
 * their way to authd, and the tickets authd gives back are opaque to it.
 *
 * Peers and what it accepts from each (lib/proto.c has the rule tables):
 *	master	configuration, listeners, files, start, reload, ping,
 *		clock (rules_child_from_master, read by lib/child.c)
 *	authd	MSG_AUTH_LOGIN_RES, MSG_AUTH_CHECK_RES
 *	queued	MSG_Q_OPEN_RES, MSG_Q_COMMIT_RES
 * It sends MSG_AUTH_LOGIN and MSG_AUTH_CHECK to authd, MSG_Q_OPEN,
 * MSG_Q_RCPT, MSG_Q_DATA, MSG_Q_COMMIT and MSG_Q_ABORT to queued.
 *
 * Everything a client sends is hostile and becomes, at worst, an SMTP
 * reply and a closed session; a malformed message from authd or queued
 * ends the process (lib/log.h's error rule).
 *
 * Timeouts (postern.conf "timeout NAME"), as this server applies them:
 *	greeting	from connect to the greeting: the PROXY header and
 *			the implicit-TLS handshake
 *	command		waiting for a command line, an AUTH response, the
 *			STARTTLS handshake
 *	data-init	after 354 or BDAT, waiting for the first data
 *	data-block	waiting for each further piece of data
 *	data-end	end of data: waiting for queued to commit
 *	session		the whole session, whatever it does
 * Any of them answers "421 4.4.2 ... timeout" and closes.
 *
 * Memory: an idle session holds about 18 KB, libtls included (measured
 * with 10,000 authenticated STARTTLS sessions); see smtpd.h for how, and
 * smtp_tls.c for why handshakes take turns.
 *
 * This file: the process start, listeners, accepting (with the total
 * session limit), and giving memory back after bursts.  The session
 * itself is in smtp_session.c; smtpd.h lists the other files.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "smtpd.h"

struct smtpd_listen {
	int		 index;
	int		 fd;
	struct event	*ev;
};

static struct smtpd_listen smtpd_listens[CONF_MAX_LISTENERS];
static int	 smtpd_nlistens;
static struct event *smtpd_ev_resume;
static struct event *smtpd_ev_trim;
static unsigned int smtpd_accepted;	/* in this trim interval */
static unsigned int smtpd_accepted_before;	/* in the one before */

/* How often to look whether the heap should be given back. */
#define SMTPD_TRIM_INTERVAL	2
#define SMTPD_TRIM_MIN_ACCEPTS	64

static const struct listener *
smtpd_listener(int index)
{
	const struct listener *l;

	TAILQ_FOREACH(l, &child_conf->listeners, entry)
		if (l->index == index)
			return l;
	return NULL;
}

static void
smtpd_accept_pause(void)
{
	struct timeval tv = { 1, 0 };
	int i;

	/* Out of descriptors: stop accepting for a moment. */
	for (i = 0; i < smtpd_nlistens; i++)
		event_del(smtpd_listens[i].ev);
	evtimer_add(smtpd_ev_resume, &tv);
}

static void
smtpd_accept_resume(evutil_socket_t fd, short ev, void *arg)
{
	int i;

	for (i = 0; i < smtpd_nlistens; i++)
		event_add(smtpd_listens[i].ev, NULL);
}

static void
smtpd_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct smtpd_listen *sl = arg;
	const struct listener *l;
	struct sockaddr_storage ss;
	struct smtp_session *s;
	socklen_t len = sizeof(ss);
	int one = 1;
	static const char busy[] = "421 4.7.0 Too many sessions, "
	    "try again later\r\n";
	int fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept");
			smtpd_accept_pause();
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if ((l = smtpd_listener(sl->index)) == NULL) {
		close(fd);
		return;
	}
	/*
	 * Replies are batched here already (smtp_io.c); Nagle would only hold
	 * a reply back behind the ACK of the last TLS handshake flight.
	 */
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (smtp_session_count() >= child_conf->max_sessions) {
		log_warnx("connection refused: %d sessions (limit sessions)",
		    smtp_session_count());
		/* Only a plain-text greeting can be read before TLS. */
		if (l->mode != LISTEN_TLS && l->nproxy == 0)
			(void)write(fd, busy, sizeof(busy) - 1);
		close(fd);
		return;
	}
	smtpd_accepted++;
	if ((s = smtp_session_new(fd, sl->index, &ss, len)) == NULL) {
		close(fd);
		return;
	}
	smtp_session_start(s);
}

/*
 * A burst of handshakes leaves the heap full of holes: every TLS handshake
 * allocates and frees tens of kilobytes (records, certificates, key
 * shares) between the small blocks that idle sessions keep.  glibc keeps
 * those freed pages; malloc_trim() hands whole free pages back to the
 * kernel, which is what keeps thousands of idle sessions small.  It walks
 * the heap, so it runs once when a burst of new sessions is over (many
 * accepts in one interval, few in the next), not all the time under load.
 */
static void
smtpd_trim(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval tv = { SMTPD_TRIM_INTERVAL, 0 };

	if (smtpd_accepted_before >= SMTPD_TRIM_MIN_ACCEPTS &&
	    smtpd_accepted < SMTPD_TRIM_MIN_ACCEPTS / 4)
		(void)malloc_trim(0);
	smtpd_accepted_before = smtpd_accepted;
	smtpd_accepted = 0;
	evtimer_add(smtpd_ev_trim, &tv);
}

static void
smtpd_init(struct config *conf)
{
	struct timeval tv = { SMTPD_TRIM_INTERVAL, 0 };

	if ((smtpd_ev_resume = evtimer_new(child_base, smtpd_accept_resume,
	    NULL)) == NULL ||
	    (smtpd_ev_trim = evtimer_new(child_base, smtpd_trim, NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(smtpd_ev_trim, &tv);
}

static void
smtpd_peer(int proc, int fd)
{
	switch (proc) {
	case PROC_AUTHD:
		smtp_peer_authd(fd);
		break;
	case PROC_QUEUED:
		smtp_peer_queued(fd);
		break;
	default:
		fatalx("unexpected channel to %s", proc_name(proc));
	}
}

static void
smtpd_listener_add(int index, int fd)
{
	struct smtpd_listen *sl;

	if (smtpd_nlistens >= CONF_MAX_LISTENERS || index < 0 ||
	    index >= CONF_MAX_LISTENERS || smtpd_listener(index) == NULL)
		fatalx("unexpected listener %d", index);
	sl = &smtpd_listens[smtpd_nlistens++];
	sl->index = index;
	sl->fd = fd;
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("listener %d: non-blocking", index);
	sl->ev = event_new(child_base, fd, EV_READ | EV_PERSIST,
	    smtpd_accept, sl);
	if (sl->ev == NULL)
		fatalx("event_new");
}

static void
smtpd_start(void)
{
	const struct listener *l;
	int i;

	if (smtpd_authd == NULL || smtpd_queued == NULL)
		fatalx("started without the channels to authd and queued");
	smtp_tls_setup(1);
	TAILQ_FOREACH(l, &child_conf->listeners, entry)
		if (l->mode != LISTEN_PLAIN && !smtp_tls_available(l->index))
			fatalx("listener %s port %u: no certificate", l->addr,
			    l->port);
	for (i = 0; i < smtpd_nlistens; i++)
		if (event_add(smtpd_listens[i].ev, NULL) == -1)
			fatalx("event_add");
	log_info("ready, %d listeners", smtpd_nlistens);
}

static void
smtpd_reload(struct config *newconf, struct config *oldconf)
{
	/* New certificates came before MSG_RELOAD: new sessions use them. */
	smtp_tls_setup(0);
}

static void
smtpd_shutdown_one(struct smtp_session *s)
{
	/* Nothing half-received may stay in the queue. */
	if (s->tx != NULL)
		smtp_tx_abort(s);
}

static void
smtpd_shutdown(void)
{
	smtp_session_each(smtpd_shutdown_one);
	if (smtpd_queued != NULL)
		ipc_flush(smtpd_queued);
}

static const struct child_ops smtpd_ops = {
	.proc = PROC_SMTPD,
	.init = smtpd_init,
	.peer = smtpd_peer,
	.listener = smtpd_listener_add,
	.file = smtp_tls_file,
	.start = smtpd_start,
	.reload = smtpd_reload,
	.shutdown = smtpd_shutdown,
};

int
main(int argc, char **argv)
{
	return child_main(argc, argv, &smtpd_ops);
}
