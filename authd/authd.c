/*
 * authd: the SMTP token store and the login check.
 *
 * What it does.  It keeps the tokens devices log in with (only their
 * HMAC, never the tokens), answers smtpd's "is this login good?" and "does
 * this token still exist?", makes the login tickets that bind a session to
 * its token's address, and carries out posternctl's token add, list and
 * delete.
 *
 * User and chroot.  It runs as its own user ("user authd" in postern.conf,
 * _postern-auth by default), chrooted to auth-dir, which only that user
 * may read: the Berkeley DB environment lives there, so inside authd it is
 * the root directory (store_bdb.c).
 *
 * Secrets.  The token hash key (SECRET_TOKEN_KEY, read by the master from
 * token-key: the same on every node of a cluster) and the login ticket
 * key (SECRET_TICKET_KEY, made by the master at each start and shared
 * with signd alone), both received from the master before MSG_START.
 * Neither is ever written anywhere or sent on.
 *
 * Peers and what it accepts from each.
 *	master	what lib/child.c handles (configuration, the smtpd channel,
 *		the two secrets, start, reload, clock, ping, verbosity) and
 *		control requests CTL_TOKEN_ADD, CTL_TOKEN_LIST,
 *		CTL_TOKEN_DELETE (authd_ctl.c); anything else gets an error
 *		answer.
 *	smtpd	MSG_AUTH_LOGIN, MSG_AUTH_CHECK (rules_authd_from_smtpd),
 *		answered with MSG_AUTH_LOGIN_RES, MSG_AUTH_CHECK_RES
 *		(authd_login.c).
 * It talks to no other process, opens no network socket, and reads no
 * file but its store.
 *
 * Everything runs in one event loop; the store is synchronous and fast
 * (a login is a hash-table look-up), and the slow things are bounded:
 * a "token add" waits for one fsync, a listing goes out in pages, last-use
 * updates are batched (authd_use.c).  On SIGTERM the pending last uses
 * are written and the store is closed cleanly; after kill -9, recovery
 * at the next start restores a consistent store.
 */
#include <string.h>

#include "authd.h"
#include "child.h"
#include "log.h"
#include "ticket.h"

struct authd_state authd;

static void
authd_init(struct config *conf)
{
	/*
	 * Chrooted already, and in "/": the environment is the root
	 * directory.  It is named "." because Berkeley DB drops a home's
	 * trailing slash, and "/" would become "".
	 */
	if ((authd.store = store_bdb_open(".", 0)) == NULL)
		fatalx("cannot open the token store in %s", conf->auth_dir);
	authd_use_init();
}

static void
authd_peer(int proc, int fd)
{
	if (proc != PROC_SMTPD || authd.smtpd != NULL)
		fatalx("unexpected channel to %s", proc_name(proc));
	authd.smtpd = ipc_new(child_base, fd, "smtpd", rules_authd_from_smtpd,
	    authd_login_dispatch, child_peer_error, NULL);
	if (authd.smtpd == NULL)
		fatal("smtpd channel");
}

static void
authd_secret(int kind, const unsigned char *p, size_t n)
{
	switch (kind) {
	case SECRET_TOKEN_KEY:
		if (n < 16 || n > sizeof(authd.token_key))
			fatalx("token key of %zu bytes", n);
		memcpy(authd.token_key, p, n);
		authd.token_keylen = n;
		break;
	case SECRET_TICKET_KEY:
		if (n < TICKET_KEY_MIN || n > sizeof(authd.ticket_key))
			fatalx("ticket key of %zu bytes", n);
		memcpy(authd.ticket_key, p, n);
		authd.ticket_keylen = n;
		break;
	default:
		fatalx("unexpected secret kind %d", kind);
	}
}

static void
authd_start(void)
{
	uint64_t n = 0;

	if (authd.token_keylen == 0 || authd.ticket_keylen == 0)
		fatalx("started without the token and ticket keys");
	if (authd.smtpd == NULL)
		fatalx("started without a channel to smtpd");
	if (authd.store->count(authd.store, NULL, &n) != STORE_OK)
		fatalx("the token store cannot be read");
	log_info("ready store=%s tokens=%llu", authd.store->kind,
	    (unsigned long long)n);
}

static void
authd_shutdown(void)
{
	authd_ctl_shutdown();
	authd_use_shutdown();
	if (authd.store != NULL) {
		authd.store->close(authd.store);
		authd.store = NULL;
	}
	explicit_bzero(authd.token_key, sizeof(authd.token_key));
	explicit_bzero(authd.ticket_key, sizeof(authd.ticket_key));
}

static const struct child_ops authd_ops = {
	.proc = PROC_AUTHD,
	.init = authd_init,
	.peer = authd_peer,
	.secret = authd_secret,
	.start = authd_start,
	.ctl = authd_ctl,
	.shutdown = authd_shutdown,
};

int
main(int argc, char *argv[])
{
	return child_main(argc, argv, &authd_ops);
}
