/*
 * master_control.c: the control socket that posternctl talks to.
 *
 * Who may connect: root, or a user whose groups include the configured
 * control group (peer credentials, SO_PEERCRED, checked at accept).
 *
 * What the master checks before any child sees a request: the command is
 * known; every key is one that command takes, none twice; every value is
 * printable (no control characters) and within MAX_CTL_VAL.  A request
 * that fails gets MSG_CTL_DONE with status 1 and a message; a client that
 * breaks the framing is disconnected.  Neither touches any daemon.
 *
 * Answers: the owning child sends MSG_CTL_ROW* then MSG_CTL_DONE with the
 * master's request number as peerid; the master passes them on to the
 * client that asked (or drops them if it went away).  The children page
 * long answers, but the master forwards at once, so a client that does
 * not read would make the master hold them all: a client with more than
 * CTL_MAX_BACKLOG bytes of answers waiting, or whose answers take the
 * waiting bytes of all clients past CTL_MAX_BACKLOG_ALL, is disconnected.
 * posternctl reads as fast as it can and never comes near.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "master.h"

#define CTL_MAX_CLIENTS	64
#define CTL_MAX_BACKLOG		(64 * 1024 * 1024)
#define CTL_MAX_BACKLOG_ALL	(256 * 1024 * 1024)

struct ctl_client {
	TAILQ_ENTRY(ctl_client) entry;
	struct ipc	*ipc;
	uid_t		 uid;
	int		 pending;	/* requests not yet answered */
};

struct ctl_pending {
	TAILQ_ENTRY(ctl_pending) entry;
	uint32_t	 reqid;
	int		 proc;
	uint32_t	 clientreq;	/* the client's own peerid */
	struct ctl_client *client;	/* NULL once it left */
};

static TAILQ_HEAD(, ctl_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static TAILQ_HEAD(, ctl_pending) pendings =
    TAILQ_HEAD_INITIALIZER(pendings);
static int	 nclients;
static int	 ctl_fd = -1;
static struct event *ctl_ev;
static uint32_t	 ctl_nextid = 1;
static gid_t	 ctl_gid = (gid_t)-1;

struct ctl_cmd_rule {
	uint32_t	 cmd;
	int		 proc;		/* who answers; PROC_MASTER: here */
	const char	*keys[6];	/* keys it takes */
};

static const struct ctl_cmd_rule cmd_rules[] = {
	{ CTL_TOKEN_ADD, PROC_AUTHD, { "name", "address", "account" } },
	{ CTL_TOKEN_LIST, PROC_AUTHD, { "address", "account" } },
	{ CTL_TOKEN_DELETE, PROC_AUTHD, { "id", "address", "name" } },
	{ CTL_DKIM_DNS, PROC_SIGND, { "domain" } },
	{ CTL_DKIM_RELOAD, PROC_SIGND, { NULL } },
	{ CTL_QUEUE_LIST, PROC_QUEUED, { "token" } },
	{ CTL_QUEUE_SHOW, PROC_QUEUED, { "id" } },
	{ CTL_QUEUE_FLUSH, PROC_QUEUED, { "id" } },
	{ CTL_QUEUE_DELETE, PROC_QUEUED, { "id", "token" } },
	{ CTL_QUEUE_HOLD, PROC_QUEUED, { "id", "token" } },
	{ CTL_QUEUE_RELEASE, PROC_QUEUED, { "id", "token" } },
	{ CTL_SHOW_STATS, PROC_QUEUED, { NULL } },
	{ CTL_LOG_VERBOSE, PROC_MASTER, { NULL } },
	{ CTL_LOG_BRIEF, PROC_MASTER, { NULL } },
	{ CTL_CLOCK_ADVANCE, PROC_MASTER, { "seconds" } },
	{ CTL_RELOAD, PROC_MASTER, { NULL } },
	{ CTL_PING, PROC_MASTER, { NULL } },
};

static void ctl_dispatch(struct ipc *, struct ipc_msg *, void *);
static void ctl_error(struct ipc *, const char *, void *);

static void
ctl_client_free(struct ctl_client *cl)
{
	struct ctl_pending *p;

	TAILQ_FOREACH(p, &pendings, entry)
		if (p->client == cl)
			p->client = NULL;
	TAILQ_REMOVE(&clients, cl, entry);
	ipc_free(cl->ipc);
	free(cl);
	nclients--;
}

static void
ctl_done(struct ctl_client *cl, uint32_t clientreq, int status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
ctl_done(struct ctl_client *cl, uint32_t clientreq, int status,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_done_vsend(cl->ipc, clientreq, status, fmt, ap);
	va_end(ap);
}

static int
peer_allowed(uid_t uid, gid_t gid)
{
	struct passwd *pw;
	gid_t groups[256];
	int i, n = 256;

	if (uid == 0)
		return 1;
	if (ctl_gid == (gid_t)-1)
		return 0;
	if (gid == ctl_gid)
		return 1;
	if ((pw = getpwuid(uid)) == NULL)
		return 0;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == ctl_gid)
			return 1;
	return 0;
}

static void
ctl_accept(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_client *cl;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int s;

	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control accept");
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(s);
		return;
	}
	if (!peer_allowed(cred.uid, cred.gid)) {
		log_warnx("control: refused uid=%u pid=%d (not root, not in "
		    "group %s)", (unsigned)cred.uid, (int)cred.pid,
		    master_conf->control_group);
		close(s);
		return;
	}
	if (nclients >= CTL_MAX_CLIENTS) {
		log_warnx("control: too many clients");
		close(s);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		close(s);
		return;
	}
	cl->uid = cred.uid;
	cl->ipc = ipc_new(master_base, s, "posternctl", rules_master_from_ctl,
	    ctl_dispatch, ctl_error, cl);
	if (cl->ipc == NULL) {
		close(s);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	nclients++;
}

void
master_control_open(struct config *conf)
{
	struct sockaddr_un sun;
	struct group *gr;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->control_socket,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		fatalx("control socket path too long");
	if ((gr = getgrnam(conf->control_group)) != NULL)
		ctl_gid = gr->gr_gid;
	else
		log_warnx("control group %s does not exist: only root may "
		    "use posternctl", conf->control_group);
	if ((ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("control socket");
	if (unlink(conf->control_socket) == -1 && errno != ENOENT)
		fatal("unlink %s", conf->control_socket);
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", conf->control_socket);
	umask(old);
	if (chown(conf->control_socket, 0, ctl_gid) == -1 ||
	    chmod(conf->control_socket, 0660) == -1)
		fatal("%s", conf->control_socket);
	if (listen(ctl_fd, 16) == -1)
		fatal("listen %s", conf->control_socket);
	ctl_ev = event_new(master_base, ctl_fd, EV_READ | EV_PERSIST,
	    ctl_accept, NULL);
	event_add(ctl_ev, NULL);
}

void
master_control_close(void)
{
	if (ctl_fd == -1)
		return;
	event_free(ctl_ev);
	close(ctl_fd);
	ctl_fd = -1;
	if (master_conf != NULL)
		unlink(master_conf->control_socket);
}

static const struct ctl_cmd_rule *
cmd_rule(uint32_t cmd)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_rules) / sizeof(cmd_rules[0]); i++)
		if (cmd_rules[i].cmd == cmd)
			return &cmd_rules[i];
	return NULL;
}

/* Full validation; returns NULL or the reason for refusing. */
static const char *
ctl_validate(const struct ctl_req *req, const struct ctl_cmd_rule **rp)
{
	const struct ctl_cmd_rule *r;
	const unsigned char *v;
	uint32_t i, j;
	int k, known;

	if ((r = cmd_rule(req->cmd)) == NULL)
		return "unknown command";
	for (i = 0; i < req->n; i++) {
		known = 0;
		for (k = 0; k < 6 && r->keys[k] != NULL; k++)
			if (strcmp(req->kv[i].key, r->keys[k]) == 0)
				known = 1;
		if (!known)
			return "unknown argument";
		for (j = 0; j < i; j++)
			if (strcmp(req->kv[i].key, req->kv[j].key) == 0)
				return "argument given twice";
		for (v = (const unsigned char *)req->kv[i].val; *v; v++)
			if (*v < 0x20 || *v == 0x7f)
				return "control characters in an argument";
	}
	*rp = r;
	return NULL;
}

static void
ctl_local(struct ctl_client *cl, uint32_t clientreq, const struct ctl_req *req)
{
	const char *s;
	char *end;
	long long secs;
	int64_t off;
	uint32_t v;

	switch (req->cmd) {
	case CTL_PING:
		ctl_done(cl, clientreq, master_all_ready() ? 0 : 1, "%s",
		    master_all_ready() ? "ready" : "starting");
		break;
	case CTL_LOG_VERBOSE:
	case CTL_LOG_BRIEF:
		v = req->cmd == CTL_LOG_VERBOSE ? 1 : 0;
		log_setverbose(v);
		master_broadcast(MSG_VERBOSE, &v, sizeof(v));
		ctl_done(cl, clientreq, 0, "logging %s",
		    v ? "verbose" : "brief");
		break;
	case CTL_RELOAD:
		kill(getpid(), SIGHUP);
		ctl_done(cl, clientreq, 0, "reload requested");
		break;
	case CTL_CLOCK_ADVANCE:
		if (!master_conf->test_clock) {
			ctl_done(cl, clientreq, 1, "the clock can be moved "
			    "only with test-clock yes");
			break;
		}
		if ((s = ctl_req_get(req, "seconds")) == NULL) {
			ctl_done(cl, clientreq, 1, "seconds missing");
			break;
		}
		errno = 0;
		secs = strtoll(s, &end, 10);
		if (errno || *s == '\0' || *end != '\0' || secs < 0 ||
		    secs > 10LL * 365 * 86400) {
			ctl_done(cl, clientreq, 1, "bad number of seconds");
			break;
		}
		off = clock_offset() + secs;
		clock_set_offset(off);
		master_broadcast(MSG_CLOCK, &off, sizeof(off));
		ctl_done(cl, clientreq, 0, "clock offset %lld s",
		    (long long)off);
		break;
	default:
		ctl_done(cl, clientreq, 1, "not supported");
	}
}

static void
ctl_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct ctl_client *cl = arg;
	const struct ctl_cmd_rule *r;
	struct ctl_pending *p;
	struct ctl_req req;
	struct child *c;
	struct mr mr;
	struct mw mw;
	const char *why;

	mr_init(&mr, msg);
	if (ctl_req_read(&mr, &req) == -1) {
		ctl_done(cl, msg->peerid, 1, "malformed request");
		return;
	}
	if ((why = ctl_validate(&req, &r)) != NULL) {
		ctl_done(cl, msg->peerid, 1, "%s: %s", ctl_cmd_name(req.cmd),
		    why);
		return;
	}
	log_info("control: uid=%u %s", (unsigned)cl->uid,
	    ctl_cmd_name(req.cmd));
	if (r->proc == PROC_MASTER) {
		ctl_local(cl, msg->peerid, &req);
		return;
	}
	c = &master_children[r->proc];
	if (c->ipc == NULL || !c->ready) {
		ctl_done(cl, msg->peerid, 1, "%s is not running",
		    proc_name(r->proc));
		return;
	}
	if (cl->pending >= 16) {
		ctl_done(cl, msg->peerid, 1, "too many requests at once");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		ctl_done(cl, msg->peerid, 1, "out of memory");
		return;
	}
	p->reqid = ctl_nextid++;
	if (ctl_nextid == 0)
		ctl_nextid = 1;
	p->proc = r->proc;
	p->clientreq = msg->peerid;
	p->client = cl;
	cl->pending++;
	TAILQ_INSERT_TAIL(&pendings, p, entry);
	mw_init(&mw);
	ctl_req_write(&mw, &req);
	ipc_send_mw(c->ipc, MSG_CTL_REQ, p->reqid, -1, &mw);
}

static void
ctl_error(struct ipc *ipc, const char *why, void *arg)
{
	struct ctl_client *cl = arg;

	/* A client that hangs up is normal; one that lies is only logged. */
	if (strstr(why, "closed the channel") == NULL)
		log_warnx("control: uid=%u: %s", (unsigned)cl->uid, why);
	ctl_client_free(cl);
}

/* Does this client hold more unread answers than it may? */
static int
ctl_backlog_over(struct ctl_client *cl)
{
	struct ctl_client *c;
	size_t all = 0;

	if (ipc_queued(cl->ipc) <= 1024 * 1024)
		return 0;
	if (ipc_queued(cl->ipc) > CTL_MAX_BACKLOG)
		return 1;
	TAILQ_FOREACH(c, &clients, entry)
		all += ipc_queued(c->ipc);
	return all > CTL_MAX_BACKLOG_ALL;
}

/* An answer from a child: check it, pass it on. */
void
master_control_answer(int proc, struct ipc_msg *msg)
{
	struct ctl_pending *p;
	struct ctl_row row;
	struct mr mr;

	TAILQ_FOREACH(p, &pendings, entry)
		if (p->reqid == msg->peerid && p->proc == proc)
			break;
	if (p == NULL)
		fatalx("%s answered control request %u that it was not "
		    "asked", proc_name(proc), msg->peerid);
	mr_init(&mr, msg);
	if (msg->type == MSG_CTL_ROW) {
		if (ctl_row_read(&mr, &row) == -1)
			fatalx("%s: malformed control row", proc_name(proc));
	} else {
		char text[MAX_CTL_VAL];
		uint32_t status;

		if (ctl_done_read(&mr, &status, text, sizeof(text)) == -1)
			fatalx("%s: malformed control answer",
			    proc_name(proc));
	}
	if (p->client != NULL && ctl_backlog_over(p->client)) {
		log_warnx("control: uid=%u does not read its answers: "
		    "disconnected", (unsigned)p->client->uid);
		ctl_client_free(p->client);
	}
	if (p->client != NULL)
		ipc_send(p->client->ipc, msg->type, p->clientreq, -1,
		    msg->data, msg->len);
	if (msg->type == MSG_CTL_DONE) {
		if (p->client != NULL)
			p->client->pending--;
		TAILQ_REMOVE(&pendings, p, entry);
		free(p);
	}
}
