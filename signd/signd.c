/*
 * signd: DKIM signing, the one process that holds private keys.
 *
 * What it does.  It signs each message queued is about to acknowledge:
 * it checks that the message's single From: mailbox is the address the
 * sender logged in with (the login ticket authd issued, which smtpd and
 * queued carry but cannot forge), then makes one DKIM-Signature per
 * active key of the domain (rsa-sha256 and ed25519-sha256 when both are
 * configured) and sends the fields back.  It also answers posternctl's
 * "dkim dns" and "dkim reload" through the master.
 *
 * User and chroot.  It runs as its own user ("user signd",
 * _postern-sign by default), chrooted to the dkim-dir, which it may only
 * read: keys are made by root (posternctl dkim keygen), never here.
 * Inside the chroot a key is "/<domain>/<selector>.<alg>.key".
 *
 * Secrets.  The DKIM private keys, loaded at start, on reload and on
 * CTL_DKIM_RELOAD (signd_keys.c), and the login ticket key
 * (SECRET_TICKET_KEY, made by the master at each start, shared with
 * authd alone).  None is ever written or sent anywhere; only the public
 * halves leave, as DNS records.
 *
 * Peers and what it accepts from each.
 *	master	what lib/child.c handles (configuration, the queued
 *		channel, the ticket key, start, reload, clock, ping,
 *		verbosity) and control requests CTL_DKIM_DNS and
 *		CTL_DKIM_RELOAD (signd_ctl.c); others get an error answer.
 *	queued	MSG_SIGN with a read-only message descriptor
 *		(rules_signd_from_queued), answered with MSG_SIGN_RES
 *		(signd_sign.c).
 * TLS handshake signatures for smtpd (MSG_TLS_SIGN) are for the key
 * containment issue; until then there is no smtpd channel.  signd opens
 * no socket and reads no file but its keys and the descriptors it is
 * handed.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "child.h"
#include "log.h"
#include "signd.h"

static void
signd_init(struct config *conf)
{
	TAILQ_INIT(&signd.keys);
	/* chrooted already: the dkim-dir is "/" */
	signd.keydir[0] = '\0';
	signd_keys_load(conf);
}

static void
signd_peer(int proc, int fd)
{
	if (proc != PROC_QUEUED || signd.queued != NULL)
		fatalx("unexpected channel to %s", proc_name(proc));
	signd.queued = ipc_new(child_base, fd, "queued",
	    rules_signd_from_queued, signd_sign_dispatch, child_peer_error,
	    NULL);
	if (signd.queued == NULL)
		fatal("queued channel");
}

static void
signd_secret(int kind, const unsigned char *p, size_t n)
{
	if (kind != SECRET_TICKET_KEY)
		fatalx("unexpected secret kind %d", kind);
	if (n < TICKET_KEY_MIN || n > sizeof(signd.ticket_key))
		fatalx("ticket key of %zu bytes", n);
	memcpy(signd.ticket_key, p, n);
	signd.ticket_keylen = n;
}

static void
signd_start(void)
{
	if (signd.ticket_keylen == 0)
		fatalx("started without the ticket key");
	if (signd.queued == NULL)
		fatalx("started without a channel to queued");
	log_info("ready keys=%d unusable=%d", signd.nkeys, signd.nmissing);
}

static void
signd_reload(struct config *newconf, struct config *oldconf)
{
	/* domains and selectors may have come and gone */
	signd_keys_load(newconf);
}

static void
signd_shutdown(void)
{
	log_info("exiting signed=%llu refused=%llu",
	    (unsigned long long)signd.nsigned,
	    (unsigned long long)signd.nrefused);
	signd_keys_free(&signd.keys);
	OPENSSL_cleanse(signd.ticket_key, sizeof(signd.ticket_key));
}

static const struct child_ops signd_ops = {
	.proc = PROC_SIGND,
	.init = signd_init,
	.peer = signd_peer,
	.secret = signd_secret,
	.start = signd_start,
	.reload = signd_reload,
	.ctl = signd_ctl,
	.shutdown = signd_shutdown,
};

int
main(int argc, char *argv[])
{
	return child_main(argc, argv, &signd_ops);
}
