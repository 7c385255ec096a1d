/*
 * master_proc.c: starting, feeding and supervising the children.
 *
 * Each child is fork+exec'd from the libexec directory with
 *	fd 0, 1	/dev/null
 *	fd 2	the write end of a pipe the master reads (its log, see log.h)
 *	fd 3	its end of a socketpair with the master
 * and nothing else open.  Once all are running, the master sends each
 * one its configuration text, its peer channels (socketpairs made here,
 * one end to each side), the files it may read (opened here, as root,
 * read-only), its secrets, and MSG_START.
 *
 * Supervision: if any child exits, the master stops the others (SIGTERM,
 * then SIGKILL after a grace period) and exits non-zero, so that the
 * service manager restarts the whole tree.  The master never restarts a
 * single child: a child that died may have died of a peer's lie, and a
 * fresh tree is the only state known to be consistent.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

struct child master_children[PROC_COUNT];

static const int child_procs[] = {
	PROC_AUTHD, PROC_SIGND, PROC_QUEUED, PROC_RELAYD, PROC_SMTPD
};
#define NCHILD (sizeof(child_procs) / sizeof(child_procs[0]))

/* Channels between children: { a, b }. */
static const int peer_pairs[][2] = {
	{ PROC_SMTPD, PROC_AUTHD },
	{ PROC_SMTPD, PROC_QUEUED },
	/* smtpd <-> signd comes with TLS key containment. */
	{ PROC_QUEUED, PROC_SIGND },
	{ PROC_QUEUED, PROC_RELAYD },
};

static void master_child_dispatch(struct ipc *, struct ipc_msg *, void *);
static void master_child_error(struct ipc *, const char *, void *);

static void
master_log_read(evutil_socket_t fd, short ev, void *arg)
{
	struct child *c = arg;
	char *nl;
	ssize_t n;
	size_t used;

	n = read(fd, c->logbuf + c->loglen, sizeof(c->logbuf) - 1 - c->loglen);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (c->loglen > 0) {
			c->logbuf[c->loglen] = '\0';
			log_relay(proc_name(c->proc), c->pid, c->logbuf);
			c->loglen = 0;
		}
		event_del(c->ev_log);
		return;
	}
	c->loglen += n;
	c->logbuf[c->loglen] = '\0';
	used = 0;
	while ((nl = strchr(c->logbuf + used, '\n')) != NULL) {
		*nl = '\0';
		log_relay(proc_name(c->proc), c->pid, c->logbuf + used);
		used = nl + 1 - c->logbuf;
	}
	if (used == 0 && c->loglen == sizeof(c->logbuf) - 1) {
		/* A line longer than the buffer: emit it in pieces. */
		log_relay(proc_name(c->proc), c->pid, c->logbuf);
		used = c->loglen;
	}
	memmove(c->logbuf, c->logbuf + used, c->loglen - used);
	c->loglen -= used;
}

static void
master_exec_child(struct child *c, int chanfd, int logfd, struct config *conf)
{
	char path[PATH_MAX];
	char *argv[8];
	int i = 0, devnull;

	if (snprintf(path, sizeof(path), "%s/%s", conf->libexec_dir,
	    proc_name(c->proc)) >= (int)sizeof(path))
		fatalx("libexec path too long");
	if ((devnull = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	/* Move the two descriptors into place, then close all others. */
	if (dup2(devnull, 0) == -1 || dup2(devnull, 1) == -1 ||
	    dup2(logfd, 2) == -1 || dup2(chanfd, 3) == -1)
		fatal("dup2");
	closefrom(4);
	signal(SIGPIPE, SIG_DFL);
	argv[i++] = (char *)proc_name(c->proc);
	argv[i++] = "-r";
	argv[i++] = c->root;
	argv[i++] = "-u";
	argv[i++] = conf->user[c->proc];
	if (master_verbose)
		argv[i++] = "-v";
	argv[i] = NULL;
	execv(path, argv);
	dprintf(2, "<2>cannot execute %s: %s\n", path, strerror(errno));
	_exit(127);
}

void
master_send_config(struct child *c, struct config *conf)
{
	char *text = NULL;
	size_t len = 0, off, chunk;
	FILE *f;
	struct mw mw;
	int ch;

	if ((f = fopen(conf->file, "re")) == NULL)
		fatal("%s", conf->file);
	{
		FILE *m = open_memstream(&text, &len);

		if (m == NULL)
			fatal("open_memstream");
		while ((ch = getc(f)) != EOF)
			putc(ch, m);
		fclose(m);
	}
	fclose(f);

	mw_init(&mw);
	mw_str(&mw, conf->file);
	ipc_send_mw(c->ipc, MSG_CONF_BEGIN, 0, -1, &mw);
	for (off = 0; off < len; off += chunk) {
		chunk = len - off;
		if (chunk > IPC_MAX_PAYLOAD - 4)
			chunk = IPC_MAX_PAYLOAD - 4;
		mw_init(&mw);
		mw_bytes(&mw, text + off, chunk);
		ipc_send_mw(c->ipc, MSG_CONF_DATA, 0, -1, &mw);
	}
	ipc_send(c->ipc, MSG_CONF_END, 0, -1, NULL, 0);
	free(text);
}

static void
send_file(struct child *c, int kind, const char *name, const char *path,
    int required)
{
	struct mw mw;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (required)
			fatal("%s", path);
		log_warn("%s", path);
		return;
	}
	mw_init(&mw);
	mw_u32(&mw, kind);
	mw_str(&mw, name);
	ipc_send_mw(c->ipc, MSG_FILE, 0, fd, &mw);
}

/* The files a child may read, opened here as root. */
void
master_send_files(struct child *c, struct config *conf)
{
	struct listener *l;
	char idx[16];

	switch (c->proc) {
	case PROC_SMTPD:
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			if (l->mode == LISTEN_PLAIN)
				continue;
			snprintf(idx, sizeof(idx), "%d", l->index);
			send_file(c, FILE_TLS_CERT, idx, l->cert, 1);
			send_file(c, FILE_TLS_KEY, idx, l->key, 1);
		}
		break;
	case PROC_RELAYD:
		if (conf->relay_credentials[0] != '\0')
			send_file(c, FILE_RELAY_CREDENTIALS, "credentials",
			    conf->relay_credentials, 1);
		if (conf->trust_anchor[0] != '\0')
			send_file(c, FILE_TRUST_ANCHOR, "trust-anchor",
			    conf->trust_anchor, 1);
		if (conf->nresolvers == 0)
			send_file(c, FILE_RESOLV_CONF, "resolv.conf",
			    "/etc/resolv.conf", 0);
		break;
	}
}

static void
send_secret(struct child *c, int kind, const unsigned char *p, size_t n)
{
	struct mw mw;

	mw_init(&mw);
	mw_u32(&mw, kind);
	mw_bytes(&mw, p, n);
	/* Wiped here and, once written, in the channel's queue too. */
	ipc_send_secret(c->ipc, MSG_SECRET, 0, &mw);
}

void
master_start_children(struct config *conf)
{
	struct child *c;
	unsigned char tokenkey[256], ticketkey[32];
	size_t tokenkeylen, i;
	int sp[2], lp[2];
	struct mw mw;

	master_load_secrets(conf, tokenkey, &tokenkeylen);
	/* A fresh ticket key at every start: tickets live one tree long. */
	arc4random_buf(ticketkey, sizeof(ticketkey));

	for (i = 0; i < NCHILD; i++) {
		c = &master_children[child_procs[i]];
		c->proc = child_procs[i];
		strlcpy(c->root, master_child_root(conf, c->proc),
		    sizeof(c->root));
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sp) == -1)
			fatal("socketpair");
		if (pipe2(lp, O_CLOEXEC) == -1)
			fatal("pipe");
		switch (c->pid = fork()) {
		case -1:
			fatal("fork");
		case 0:
			close(sp[0]);
			close(lp[0]);
			master_exec_child(c, sp[1], lp[1], conf);
			/* NOTREACHED */
		}
		close(sp[1]);
		close(lp[1]);
		c->logfd = lp[0];
		fcntl(c->logfd, F_SETFL, O_NONBLOCK);
		c->ev_log = event_new(master_base, c->logfd,
		    EV_READ | EV_PERSIST, master_log_read, c);
		event_add(c->ev_log, NULL);
		c->ipc = ipc_new(master_base, sp[0], proc_name(c->proc),
		    rules_master_from_child, master_child_dispatch,
		    master_child_error, c);
		if (c->ipc == NULL)
			fatal("ipc_new");
		log_debug("started %s pid %d", proc_name(c->proc),
		    (int)c->pid);
	}

	for (i = 0; i < NCHILD; i++)
		master_send_config(&master_children[child_procs[i]], conf);

	for (i = 0; i < sizeof(peer_pairs) / sizeof(peer_pairs[0]); i++) {
		struct child *a = &master_children[peer_pairs[i][0]];
		struct child *b = &master_children[peer_pairs[i][1]];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sp) == -1)
			fatal("socketpair");
		mw_init(&mw);
		mw_u32(&mw, b->proc);
		ipc_send_mw(a->ipc, MSG_PEER_CHANNEL, 0, sp[0], &mw);
		mw_init(&mw);
		mw_u32(&mw, a->proc);
		ipc_send_mw(b->ipc, MSG_PEER_CHANNEL, 0, sp[1], &mw);
	}

	{
		struct listener *l;

		c = &master_children[PROC_SMTPD];
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			mw_init(&mw);
			mw_u32(&mw, l->index);
			/* The master keeps no listening socket. */
			ipc_send_mw(c->ipc, MSG_LISTENER, 0, l->fd, &mw);
			l->fd = -1;
		}
	}

	for (i = 0; i < NCHILD; i++)
		master_send_files(&master_children[child_procs[i]], conf);

	send_secret(&master_children[PROC_AUTHD], SECRET_TOKEN_KEY, tokenkey,
	    tokenkeylen);
	send_secret(&master_children[PROC_AUTHD], SECRET_TICKET_KEY,
	    ticketkey, sizeof(ticketkey));
	send_secret(&master_children[PROC_SIGND], SECRET_TICKET_KEY,
	    ticketkey, sizeof(ticketkey));
	explicit_bzero(tokenkey, sizeof(tokenkey));
	explicit_bzero(ticketkey, sizeof(ticketkey));

	for (i = 0; i < NCHILD; i++)
		ipc_send(master_children[child_procs[i]].ipc, MSG_START, 0,
		    -1, NULL, 0);
}

int
master_all_ready(void)
{
	size_t i;

	for (i = 0; i < NCHILD; i++)
		if (!master_children[child_procs[i]].ready)
			return 0;
	return 1;
}

void
master_broadcast(uint32_t type, const void *p, size_t n)
{
	size_t i;
	struct child *c;

	for (i = 0; i < NCHILD; i++) {
		c = &master_children[child_procs[i]];
		if (c->ipc != NULL && c->pid != 0)
			ipc_send(c->ipc, type, 0, -1, p, n);
	}
}

static void
master_child_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct child *c = arg;
	struct mr mr;

	switch (msg->type) {
	case MSG_READY:
		if (msg->len != 0)
			fatalx("%s: bad MSG_READY", proc_name(c->proc));
		c->ready = 1;
		log_debug("%s ready", proc_name(c->proc));
		if (master_all_ready())
			log_info("ready: pid=%d", (int)getpid());
		break;
	case MSG_PONG:
		mr_init(&mr, msg);
		(void)mr_u32(&mr);
		if (mr_end(&mr) == -1)
			fatalx("%s: bad MSG_PONG", proc_name(c->proc));
		c->missed_pongs = 0;
		break;
	case MSG_CTL_ROW:
	case MSG_CTL_DONE:
		master_control_answer(c->proc, msg);
		break;
	}
}

static void
master_child_error(struct ipc *ipc, const char *why, void *arg)
{
	struct child *c = arg;

	log_warnx("channel to %s: %s", proc_name(c->proc), why);
	master_shutdown(1);
}

/*
 * A child exited (or the master was told to stop): stop everything.
 * Children get SIGTERM, then SIGKILL after five seconds; the master exits
 * only when every child is reaped, so no process is left behind.
 */
void
master_shutdown(int status)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	size_t i;
	int alive, waited, ws;
	pid_t pid;
	struct child *c;

	master_control_close();
	for (i = 0; i < NCHILD; i++) {
		c = &master_children[child_procs[i]];
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
	}
	for (waited = 0;; waited++) {
		while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
			master_reaped(pid, ws);
		alive = 0;
		for (i = 0; i < NCHILD; i++)
			if (master_children[child_procs[i]].pid > 0)
				alive++;
		if (alive == 0)
			break;
		if (waited == 250) {	/* 5 seconds */
			for (i = 0; i < NCHILD; i++) {
				c = &master_children[child_procs[i]];
				if (c->pid > 0) {
					log_warnx("%s did not stop, killing it",
					    proc_name(c->proc));
					kill(c->pid, SIGKILL);
				}
			}
		}
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < NCHILD; i++) {
		c = &master_children[child_procs[i]];
		if (c->ev_log != NULL)
			master_log_read(c->logfd, EV_READ, c);
	}
	if (master_conf != NULL)
		unlink(master_conf->pid_file);
	log_info("exiting%s", status ? " on error" : "");
	exit(status);
}

void
master_reaped(pid_t pid, int ws)
{
	size_t i;
	struct child *c;

	for (i = 0; i < NCHILD; i++) {
		c = &master_children[child_procs[i]];
		if (c->pid != pid)
			continue;
		c->pid = 0;
		/* Whatever it wrote last is worth reading. */
		if (c->ev_log != NULL)
			master_log_read(c->logfd, EV_READ, c);
		if (WIFSIGNALED(ws))
			log_warnx("%s terminated by signal %d",
			    proc_name(c->proc), WTERMSIG(ws));
		else if (WEXITSTATUS(ws) != 0)
			log_warnx("%s exited with status %d",
			    proc_name(c->proc), WEXITSTATUS(ws));
		else
			log_debug("%s exited", proc_name(c->proc));
		return;
	}
}
