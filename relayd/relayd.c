/*
 * relayd: outbound delivery.  It takes batches (one message, one or more
 * recipients of one domain) from queued, delivers them over SMTP to the
 * domain's mail exchangers, to a per-domain route or to the smarthost,
 * and answers one result per recipient.
 *
 * User and chroot: its own user (user relayd in postern.conf), chrooted
 * to the empty directory; it opens no file.  Before the chroot it loads
 * the system's CA certificates into memory (for destinations configured
 * with "tls verify") and initializes libtls; everything else comes from
 * the master: the configuration, its channel to queued, and as
 * read-only descriptors (MSG_FILE) the smarthost credentials
 * (FILE_RELAY_CREDENTIALS), the DNSSEC trust anchor (FILE_TRUST_ANCHOR)
 * and, when postern.conf names no resolver, the system's resolv.conf
 * (FILE_RESOLV_CONF).  The resolver (libunbound, dns.c) is set up from
 * those before the first lookup and runs as a thread of this process.
 *
 * Secrets: the smarthost credentials, in memory only, never logged, and
 * sent only over TLS.  No key of any kind.
 *
 * Peers and what it accepts from each (lib/proto.c has the rule tables):
 *	master	configuration, files, start, reload, ping, clock
 *		(rules_child_from_master, read by lib/child.c)
 *	queued	MSG_RELAY_BATCH with the message's read-only descriptor
 * It sends MSG_RELAY_RESULT (one per recipient) and then MSG_RELAY_DONE
 * for every batch to queued.  A malformed batch ends the process; a
 * remote server, however hostile, only fails the delivery (temporarily,
 * unless it said 5xx).
 *
 * This file: the process start and the queued channel.  Routing and
 * connections are in relay_sched.c, the SMTP client in relay_client.c,
 * its I/O in relay_io.c, DNS in dns.c.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "child.h"
#include "dns.h"
#include "log.h"
#include "relay_sched.h"

#define RELAYD_FILE_MAX	(1024 * 1024)	/* credentials, anchors, resolv */

static struct ipc	*relayd_queued;
static int		 relayd_started;
static unsigned char	*relayd_ca;
static size_t		 relayd_calen;

static void
relayd_send_result(const struct relay_result *r)
{
	struct mw mw;

	mw_init(&mw);
	relay_result_write(&mw, r);
	if (ipc_send_mw(relayd_queued, MSG_RELAY_RESULT, 0, -1, &mw) == -1)
		fatalx("cannot send a relay result to queued");
}

static void
relayd_send_done(uint64_t batch)
{
	struct mw mw;

	mw_init(&mw);
	mw_u64(&mw, batch);
	if (ipc_send_mw(relayd_queued, MSG_RELAY_DONE, 0, -1, &mw) == -1)
		fatalx("cannot send a relay done to queued");
}

static void
relayd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct relay_batch *b;
	struct mr mr;

	switch (msg->type) {
	case MSG_RELAY_BATCH:
		mr_init(&mr, msg);
		if ((b = relay_batch_read(&mr, msg->fd)) == NULL) {
			close(msg->fd);
			fatalx("malformed MSG_RELAY_BATCH from queued");
		}
		relay_sched_submit(b);
		break;
	default:
		fatalx("unexpected %s from queued", proto_name(msg->type));
	}
}

static void
relayd_peer(int proc, int fd)
{
	if (proc != PROC_QUEUED || relayd_queued != NULL)
		fatalx("unexpected peer channel to %s", proc_name(proc));
	relayd_queued = ipc_new(child_base, fd, "queued",
	    rules_relayd_from_queued, relayd_dispatch, child_peer_error, NULL);
	if (relayd_queued == NULL)
		fatal("queued channel");
}

/* A small file the master opened for us, whole, NUL-terminated. */
static char *
relayd_read_file(int fd, const char *what, size_t *lenp)
{
	char *buf;
	size_t len = 0;
	ssize_t n;

	if ((buf = malloc(RELAYD_FILE_MAX + 1)) == NULL)
		fatal("malloc");
	for (;;) {
		n = read(fd, buf + len, RELAYD_FILE_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("reading %s", what);
		if (n == 0)
			break;
		len += n;
		if (len == RELAYD_FILE_MAX)
			fatalx("%s: larger than %d bytes", what,
			    RELAYD_FILE_MAX);
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * The master sends the files at start, and again before each reload.
 * At start a bad file is fatal; on a reload it is only logged (the old
 * credentials stay), and the resolver, which libunbound freezes at its
 * first query, keeps its first configuration.
 */
static void
relayd_file(int kind, const char *name, int fd)
{
	char *text;
	size_t len;

	text = relayd_read_file(fd, name, &len);
	switch (kind) {
	case FILE_RELAY_CREDENTIALS:
		/* Never say what is in it, not even in part. */
		if (relay_sched_credentials(text, len) == -1) {
			if (!relayd_started)
				fatalx("relay credentials: expected \"user "
				    "password\" or the user and the password "
				    "on two lines");
			log_warnx("relay credentials: not in the expected "
			    "form; the previous ones stay in use");
		}
		break;
	case FILE_TRUST_ANCHOR:
		if (relayd_started)
			log_debug("trust anchor: takes effect at the next "
			    "start");
		else if (dns_trust_anchor(text, len) == -1)
			fatalx("trust anchor %s: not usable", name);
		break;
	case FILE_RESOLV_CONF:
		if (relayd_started || child_conf->nresolvers > 0)
			break;
		if (dns_resolvconf(text, len) == -1)
			log_warnx("%s: some nameservers are not usable",
			    name);
		break;
	default:
		fatalx("unexpected file kind %d", kind);
	}
	explicit_bzero(text, len);
	free(text);
}

static void
relayd_init(struct config *conf)
{
	int i;

	dns_init(child_base);
	for (i = 0; i < conf->nresolvers; i++)
		if (dns_forwarder(conf->resolver[i]) == -1)
			fatalx("resolver %s: not usable", conf->resolver[i]);
	relay_sched_init(child_base, relayd_send_result, relayd_send_done);
	relay_sched_ca(relayd_ca, relayd_calen);
	relay_sched_config(conf);
}

static void
relayd_start(void)
{
	if (relayd_queued == NULL)
		fatalx("started without a channel to queued");
	relayd_started = 1;
	log_debug("ready, relaying %s", child_conf->relay_mode == RELAY_MX ?
	    "via MX" : "via the smarthost");
}

static void
relayd_reload(struct config *newconf, struct config *oldconf)
{
	int i, same = newconf->nresolvers == oldconf->nresolvers;

	for (i = 0; same && i < newconf->nresolvers; i++)
		same = strcmp(newconf->resolver[i], oldconf->resolver[i]) == 0;
	if (!same)
		log_warnx("resolver changes take effect at the next start");
	relay_sched_config(newconf);
}

static const struct child_ops relayd_ops = {
	.proc = PROC_RELAYD,
	.init = relayd_init,
	.peer = relayd_peer,
	.file = relayd_file,
	.start = relayd_start,
	.reload = relayd_reload,
};

int
main(int argc, char **argv)
{
	/*
	 * Before the chroot: libtls (and OpenSSL's configuration) and the
	 * system's CA certificates, which are not there afterwards.
	 */
	if (tls_init() == -1)
		errx(1, "tls_init");
	relayd_ca = tls_load_file(tls_default_ca_cert_file(), &relayd_calen,
	    NULL);
	return child_main(argc, argv, &relayd_ops);
}
