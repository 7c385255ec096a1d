/*
 * signd_sign.c: MSG_SIGN from queued.
 *
 * queued sends MSG_SIGN {u64 request, bytes ticket} with a read-only
 * descriptor of the whole message (CRLF lines, header fields first) and
 * gets back MSG_SIGN_RES {u64 request, u32 result, str reason, bytes
 * fields}, the fields being the DKIM-Signature lines to prepend.
 *
 * signd_sign_message() decides, in this order:
 *	1. the login ticket must be genuine (lib/ticket.h): a forged or
 *	   damaged one is RES_FAIL and logged loudly (only a compromised
 *	   front end makes one); an expired one is RES_TEMPFAIL (the client
 *	   logs in again and gets a new one);
 *	2. the header section must be readable (dkim_msg_read): too big or
 *	   malformed is RES_FAIL, an I/O error RES_TEMPFAIL;
 *	3. there must be exactly one From: holding exactly one mailbox
 *	   (lib/mailhdr.h, the same rule smtpd applies) equal to the
 *	   ticket's address (addr_equal, local parts compared as the
 *	   ticket's domain says, as authd compares them; local-part-case
 *	   for a domain not configured): else RES_FAIL.  This is signd's
 *	   own check on the bytes it signs, so a compromised smtpd or
 *	   queued cannot get mail signed for an address that did not log
 *	   in;
 *	4. the domain must be configured: else RES_FAIL ("a signature is
 *	   made only for a domain configured in postern.conf");
 *	5. it must have at least one active selector whose key loaded: else
 *	   RES_TEMPFAIL.  A temporary failure on purpose: mail of a domain
 *	   whose key is missing is never sent unsigned, and once the
 *	   operator makes the key (posternctl dkim keygen) the client's
 *	   retry goes through;
 *	6. sign with every such key (rsa-sha256 and ed25519-sha256: dual
 *	   signing), one body hash for all.
 *
 * The message is read with pread() from offset 0, only the header section
 * is held (at most DKIM_MAX_HEADER bytes) and the body is hashed in
 * chunks, so a 50 MB message costs what a small one does.  Signing runs in
 * the event loop: a large message holds signd for the time it takes to
 * hash it (about a millisecond per megabyte), which is the time queued
 * would wait anyway.  The descriptor is closed when the answer is sent.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "child.h"
#include "clock.h"
#include "dkim_sign.h"
#include "log.h"
#include "mailhdr.h"
#include "proto.h"
#include "signd.h"

static int refuse(int, char *, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(int res, char *reason, size_t rsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, rsz, fmt, ap);
	va_end(ap);
	return res;
}

int
signd_sign_message(int fd, const unsigned char *ticket, size_t tlen,
    char *out, size_t outsz, size_t *outlen, char *reason, size_t rsz)
{
	const struct signd_key *keys[SIGND_MAX_SIGS];
	struct dkim_signer s[SIGND_MAX_SIGS];
	struct dkim_params p;
	struct dkim_msg m;
	char addr[MAX_ADDR], from[MAX_ADDR], domain[256], err[256];
	const struct domain *d;
	const char *why = NULL;
	uint64_t session, token;
	int rv, n, i;

	*outlen = 0;
	reason[0] = '\0';
	rv = ticket_verify(signd.ticket_key, signd.ticket_keylen, ticket,
	    tlen, clock_now(), &session, &token, addr, sizeof(addr));
	if (rv == TICKET_EXPIRED)
		return refuse(RES_TEMPFAIL, reason, rsz, "%s",
		    "login ticket expired: log in again");
	if (rv != TICKET_OK) {
		log_warnx("sign refused: login ticket not genuine (forged "
		    "or damaged by a peer)");
		return refuse(RES_FAIL, reason, rsz, "%s",
		    "login ticket not genuine");
	}

	if ((rv = dkim_msg_read(&m, fd, DKIM_MAX_HEADER, err,
	    sizeof(err))) != DKIM_OK)
		return refuse(rv == DKIM_EMSG ? RES_FAIL : RES_TEMPFAIL,
		    reason, rsz, "%s", err);

	if (mailhdr_single_mailbox(m.hbuf, m.hblock, "From", from,
	    sizeof(from), &why) != 0) {
		rv = refuse(RES_FAIL, reason, rsz, "%s", why ? why :
		    "no single From: mailbox");
		goto done;
	}
	if (addr_split(addr, NULL, 0, domain, sizeof(domain)) == -1) {
		rv = refuse(RES_FAIL, reason, rsz, "malformed address");
		goto done;
	}
	for (i = 0; domain[i] != '\0'; i++)
		domain[i] = tolower((unsigned char)domain[i]);
	/*
	 * The ticket's domain says how its local parts compare, as it does
	 * for authd's checks: signd must not accept a From: that authd
	 * would hold for another address.
	 */
	d = config_domain(child_conf, domain);
	if (!addr_equal(from, addr, d != NULL ? d->local_nocase :
	    child_conf->local_part_nocase)) {
		log_warnx("sign refused session=%016" PRIx64 " token=%016"
		    PRIx64 " from=<%s> login=<%s>: From: is not the "
		    "address the token is bound to", session, token, from,
		    addr);
		rv = refuse(RES_FAIL, reason, rsz, "From: must be <%s>, the "
		    "address of the login", addr);
		goto done;
	}
	if (d == NULL) {
		rv = refuse(RES_FAIL, reason, rsz, "domain %s is not "
		    "configured for signing", domain);
		goto done;
	}
	if ((n = signd_keys_for(domain, keys, SIGND_MAX_SIGS)) == 0) {
		log_warnx("sign deferred domain=%s: no usable active DKIM "
		    "key", domain);
		rv = refuse(RES_TEMPFAIL, reason, rsz, "no DKIM key for %s "
		    "yet: try again later", domain);
		goto done;
	}
	for (i = 0; i < n; i++) {
		s[i].alg = keys[i]->alg;
		s[i].domain = keys[i]->domain;
		s[i].selector = keys[i]->selector;
		s[i].key = keys[i]->pkey;
	}
	memset(&p, 0, sizeof(p));
	p.canon = child_conf->dkim_simple ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	p.now = clock_now();
	p.expire = child_conf->dkim_expire;
	p.headers = child_conf->dkim_headers;
	p.nheaders = child_conf->ndkim_headers;
	rv = dkim_sign(&m, &p, s, n, out, outsz, outlen, err, sizeof(err));
	if (rv != DKIM_OK) {
		log_warnx("sign failed domain=%s: %s", domain, err);
		rv = refuse(rv == DKIM_EMSG ? RES_FAIL : RES_TEMPFAIL, reason,
		    rsz, "%s", err);
		goto done;
	}
	rv = RES_OK;
	(void)snprintf(reason, rsz, "signed d=%s s=%s%s%s", domain,
	    keys[0]->selector, n > 1 ? "," : "", n > 1 ?
	    keys[1]->selector : "");
done:
	dkim_msg_free(&m);
	return rv;
}

void
signd_sign_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	static char out[32768];
	char reason[MAX_REPLY];
	const unsigned char *ticket;
	size_t tlen, outlen = 0;
	uint64_t request;
	struct mr mr;
	struct mw mw;
	int res;

	if (msg->type != MSG_SIGN)
		fatalx("unexpected %s from queued", proto_name(msg->type));
	mr_init(&mr, msg);
	request = mr_u64(&mr);
	ticket = mr_bytes(&mr, &tlen, MAX_TICKET);
	if (mr_end(&mr) == -1 || msg->fd == -1)
		fatalx("malformed MSG_SIGN from queued");

	res = signd_sign_message(msg->fd, ticket, tlen, out, sizeof(out),
	    &outlen, reason, sizeof(reason));
	close(msg->fd);
	if (res == RES_OK) {
		signd.nsigned++;
		log_info("%s request=%" PRIu64, reason, request);
	} else {
		signd.nrefused++;
		log_info("sign %s request=%" PRIu64 " reason=\"%s\"",
		    res == RES_FAIL ? "refused" : "deferred", request, reason);
		outlen = 0;
	}

	mw_init(&mw);
	mw_u64(&mw, request);
	mw_u32(&mw, res);
	mw_str(&mw, reason);
	mw_bytes(&mw, out, outlen);
	if (ipc_send_mw(signd.queued, MSG_SIGN_RES, msg->peerid, -1,
	    &mw) == -1)
		fatalx("cannot answer queued");
}
