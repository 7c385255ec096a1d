/*
 * child.c: the common start of every chrooted process.  See child.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "privsep.h"

/* The configuration text is small; a bound keeps a broken master honest. */
#define CHILD_CONF_MAX	(4 * 1024 * 1024)

struct event_base	*child_base;
struct config		*child_conf;
struct ipc		*child_master;

static const struct child_ops *ops;
static char	 conf_name[4096];
static char	*conf_text;
static size_t	 conf_len;
static struct config *conf_pending;
static int	 started;

static void
child_usage(const char *prog)
{
	fprintf(stderr, "usage: %s -r chroot -u user [-v]\n", prog);
	exit(2);
}

void
child_peer_error(struct ipc *ipc, const char *why, void *arg)
{
	/*
	 * A peer that closed its channel between messages has exited; the
	 * master sees that too and stops the tree (or is stopping it), so
	 * leave quietly.  Anything else is a lie: say so.
	 */
	if (ipc->eof) {
		log_debug("%s", why);
		exit(0);
	}
	fatalx("protocol error: %s", why);
}

static void
child_master_error(struct ipc *ipc, const char *why, void *arg)
{
	/* The master is gone or broke the protocol: nothing to do alone. */
	fatalx("master channel: %s", why);
}

void
child_ctl_row(uint32_t reqid, const struct ctl_row *row)
{
	struct mw mw;

	mw_init(&mw);
	ctl_row_write(&mw, row);
	if (ipc_send_mw(child_master, MSG_CTL_ROW, reqid, -1, &mw) == -1)
		log_warnx("control answer row too large, dropped");
}

void
child_ctl_done(uint32_t reqid, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_done_vsend(child_master, reqid, status, fmt, ap);
	va_end(ap);
}

static void
child_conf_end(void)
{
	struct config *conf;
	char *errbuf = NULL;
	size_t errlen = 0;
	FILE *errf;

	if ((errf = open_memstream(&errbuf, &errlen)) == NULL)
		fatal("open_memstream");
	conf = config_parse_buf(conf_name, conf_text ? conf_text : "",
	    conf_len, errf);
	fclose(errf);
	if (conf == NULL)
		fatalx("configuration from the master does not parse: %s",
		    errbuf ? errbuf : "");
	free(errbuf);
	free(conf_text);
	conf_text = NULL;
	conf_len = 0;
	if (child_conf == NULL) {
		child_conf = conf;
		if (ops->init != NULL)
			ops->init(conf);
	} else {
		config_free(conf_pending);
		conf_pending = conf;
	}
}

static void
child_reload(void)
{
	struct config *old;

	if (conf_pending == NULL)
		fatalx("reload without a new configuration");
	old = child_conf;
	child_conf = conf_pending;
	conf_pending = NULL;
	if (ops->reload != NULL)
		ops->reload(child_conf, old);
	config_free(old);
	log_info("configuration reloaded");
}

static void
child_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct mr mr;
	struct mw mw;
	struct ctl_req req;
	const unsigned char *p;
	size_t n;
	uint32_t u;
	int64_t off;
	char name[4096];
	char *grown;

	mr_init(&mr, msg);
	switch (msg->type) {
	case MSG_CONF_BEGIN:
		mr_str(&mr, conf_name, sizeof(conf_name));
		if (mr_end(&mr) == -1)
			fatalx("bad MSG_CONF_BEGIN");
		free(conf_text);
		conf_text = NULL;
		conf_len = 0;
		break;
	case MSG_CONF_DATA:
		p = mr_bytes(&mr, &n, IPC_MAX_PAYLOAD);
		if (mr_end(&mr) == -1 || conf_len + n > CHILD_CONF_MAX)
			fatalx("bad MSG_CONF_DATA");
		if ((grown = realloc(conf_text, conf_len + n + 1)) == NULL)
			fatal("realloc");
		conf_text = grown;
		memcpy(conf_text + conf_len, p, n);
		conf_len += n;
		conf_text[conf_len] = '\0';
		break;
	case MSG_CONF_END:
		child_conf_end();
		break;
	case MSG_PEER_CHANNEL:
		u = mr_u32(&mr);
		if (mr_end(&mr) == -1 || u <= PROC_MASTER || u >= PROC_CTL ||
		    ops->peer == NULL || child_conf == NULL)
			fatalx("unexpected peer channel %u", u);
		ops->peer(u, msg->fd);
		break;
	case MSG_LISTENER:
		u = mr_u32(&mr);
		if (mr_end(&mr) == -1 || ops->listener == NULL ||
		    child_conf == NULL)
			fatalx("unexpected listener");
		ops->listener(u, msg->fd);
		break;
	case MSG_FILE:
		u = mr_u32(&mr);
		mr_str(&mr, name, sizeof(name));
		if (mr_end(&mr) == -1 || ops->file == NULL)
			fatalx("unexpected file");
		ops->file(u, name, msg->fd);
		break;
	case MSG_SECRET:
		u = mr_u32(&mr);
		p = mr_bytes(&mr, &n, 256);
		if (mr_end(&mr) == -1 || ops->secret == NULL)
			fatalx("unexpected secret");
		ops->secret(u, p, n);
		break;
	case MSG_START:
		if (started || child_conf == NULL)
			fatalx("unexpected start");
		started = 1;
		if (ops->start != NULL)
			ops->start();
		ipc_send(child_master, MSG_READY, 0, -1, NULL, 0);
		break;
	case MSG_RELOAD:
		child_reload();
		break;
	case MSG_CLOCK:
		off = mr_i64(&mr);
		if (mr_end(&mr) == -1)
			fatalx("bad MSG_CLOCK");
		if (child_conf == NULL || !child_conf->test_clock) {
			log_warnx("clock change refused: test-clock is off");
			break;
		}
		clock_set_offset(off);
		if (ops->clock != NULL)
			ops->clock();
		break;
	case MSG_VERBOSE:
		u = mr_u32(&mr);
		if (mr_end(&mr) == -1)
			fatalx("bad MSG_VERBOSE");
		log_setverbose(u);
		break;
	case MSG_PING:
		u = mr_u32(&mr);
		if (mr_end(&mr) == -1)
			fatalx("bad MSG_PING");
		mw_init(&mw);
		mw_u32(&mw, u);
		ipc_send_mw(child_master, MSG_PONG, 0, -1, &mw);
		break;
	case MSG_CTL_REQ:
		/* The master validated it; still, bad content is an answer. */
		if (ctl_req_read(&mr, &req) == -1) {
			child_ctl_done(msg->peerid, 1, "malformed request");
			break;
		}
		if (ops->ctl == NULL) {
			child_ctl_done(msg->peerid, 1, "%s: not supported "
			    "by %s", ctl_cmd_name(req.cmd),
			    proc_name(ops->proc));
			break;
		}
		ops->ctl(msg->peerid, &req);
		break;
	default:
		fatalx("unexpected %s from the master",
		    proto_name(msg->type));
	}
}

static void
child_on_signal(evutil_socket_t sig, short ev, void *arg)
{
	if (ops->shutdown != NULL)
		ops->shutdown();
	log_debug("exiting on signal %d", (int)sig);
	exit(0);
}

int
child_main(int argc, char **argv, const struct child_ops *o)
{
	struct event *ev_term, *ev_int;
	const char *root = NULL, *user = NULL;
	int ch, verbose = 0;

	ops = o;
	while ((ch = getopt(argc, argv, "r:u:v")) != -1) {
		switch (ch) {
		case 'r':
			root = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			child_usage(argv[0]);
		}
	}
	if (root == NULL || user == NULL || optind != argc)
		child_usage(argv[0]);

	log_init(proc_name(o->proc), LOG_TO_PIPE, verbose);
	if (geteuid() != 0)
		fatalx("must be started as root by posternd");
	privsep_drop(user, root);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if ((child_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ev_term = evsignal_new(child_base, SIGTERM, child_on_signal, NULL);
	ev_int = evsignal_new(child_base, SIGINT, child_on_signal, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	child_master = ipc_new(child_base, 3, "master",
	    rules_child_from_master, child_dispatch, child_master_error, NULL);
	if (child_master == NULL)
		fatal("master channel");
	log_debug("started, chrooted to %s as %s", root, user);

	event_base_dispatch(child_base);
	return 0;
}
