/*
 * signd_ctl.c: control requests the master forwards to signd.
 *
 *	CTL_DKIM_RELOAD		read the key files again (after posternctl
 *				dkim keygen); answers with the counts.
 *	CTL_DKIM_DNS		key "domain" (optional: every domain when
 *				absent): one row per configured selector,
 *				   domain, selector, algorithm, active
 *				   (yes|no), name (<sel>._domainkey.<domain>),
 *				   status (ok|unusable: reason), record
 *				   (the TXT text, "" when unusable),
 *				made from the public halves of the keys signd
 *				holds: no other process can read them.
 *
 * Bad content (an unknown domain, a command signd does not serve) gets an
 * error answer, never an exit.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "child.h"
#include "log.h"
#include "signd.h"

static void
ctl_dns_row(uint32_t reqid, const struct signd_key *k)
{
	struct ctl_row row;
	char name[MAX_CTL_VAL], status[MAX_CTL_VAL];

	memset(&row, 0, sizeof(row));
	(void)snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector,
	    k->domain);
	if (k->pkey != NULL)
		(void)strlcpy(status, "ok", sizeof(status));
	else
		(void)snprintf(status, sizeof(status), "unusable: %s",
		    k->why);
	if (ctl_row_add(&row, "domain", k->domain) == -1 ||
	    ctl_row_add(&row, "selector", k->selector) == -1 ||
	    ctl_row_add(&row, "algorithm", dkim_key_alg_word(k->alg)) == -1 ||
	    ctl_row_add(&row, "active", k->active ? "yes" : "no") == -1 ||
	    ctl_row_add(&row, "name", name) == -1 ||
	    ctl_row_add(&row, "status", status) == -1 ||
	    ctl_row_add(&row, "record", k->pkey ? k->record : "") == -1) {
		log_warnx("dkim dns: row for %s does not fit", name);
		return;
	}
	child_ctl_row(reqid, &row);
}

static void
ctl_dns(uint32_t reqid, const struct ctl_req *req)
{
	const struct signd_key *k;
	const char *domain = ctl_req_get(req, "domain");
	int n = 0;

	if (domain != NULL && config_domain(child_conf, domain) == NULL) {
		child_ctl_done(reqid, 1, "domain %s is not configured",
		    domain);
		return;
	}
	TAILQ_FOREACH(k, &signd.keys, entry) {
		if (domain != NULL && strcasecmp(k->domain, domain) != 0)
			continue;
		ctl_dns_row(reqid, k);
		n++;
	}
	if (n == 0 && domain != NULL)
		child_ctl_done(reqid, 1, "no DKIM selector is configured for "
		    "%s", domain);
	else
		child_ctl_done(reqid, 0, "%d selector%s", n, n == 1 ? "" :
		    "s");
}

void
signd_ctl(uint32_t reqid, const struct ctl_req *req)
{
	switch (req->cmd) {
	case CTL_DKIM_RELOAD:
		signd_keys_load(child_conf);
		/* a selector still without a key is no failure of reload */
		child_ctl_done(reqid, 0, "keys loaded: %d, unusable: %d",
		    signd.nkeys, signd.nmissing);
		break;
	case CTL_DKIM_DNS:
		ctl_dns(reqid, req);
		break;
	default:
		child_ctl_done(reqid, 1, "%s: not supported by signd",
		    ctl_cmd_name(req->cmd));
		break;
	}
}
