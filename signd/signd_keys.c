/*
 * signd_keys.c: the table of DKIM keys signd holds.
 *
 * The table has one entry per selector configured in postern.conf, key
 * or no key.  It is built anew from the files at start, on every
 * configuration reload and on CTL_DKIM_RELOAD (after posternctl dkim
 * keygen): a new table is loaded completely, then it replaces the old one,
 * so a message is always signed with one consistent set of keys.
 *
 * Inside the chroot (the dkim-dir) a key is at "/<domain>/<sel>.<alg>.key"
 * (lib/dkim_key.h).  A missing or unusable key file is logged and leaves
 * its selector without a key: the others still sign.  What happens to a
 * domain left with no key at all is signd_sign.c's business (a temporary
 * failure: mail for it is never sent unsigned).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_key.h"
#include "log.h"
#include "signd.h"

/* The process's state lives here, with the keys, so tests can link it. */
struct signd_state signd;

void
signd_keys_free(struct signd_keys *keys)
{
	struct signd_key *k;

	while ((k = TAILQ_FIRST(keys)) != NULL) {
		TAILQ_REMOVE(keys, k, entry);
		EVP_PKEY_free(k->pkey);
		free(k);
	}
}

static struct signd_key *
key_load(const struct domain *d, const struct dkim_sel *s)
{
	struct signd_key *k;
	char path[PATH_MAX];

	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("calloc");
	(void)strlcpy(k->domain, d->name, sizeof(k->domain));
	(void)strlcpy(k->selector, s->selector, sizeof(k->selector));
	k->alg = s->alg;
	k->active = s->active;
	/* chrooted to the dkim-dir: the key paths start at "/" */
	if (dkim_key_path(path, sizeof(path), signd.keydir, d->name,
	    s->selector, s->alg) == -1) {
		(void)strlcpy(k->why, "invalid domain or selector name",
		    sizeof(k->why));
		return k;
	}
	k->pkey = dkim_key_load(path, s->alg, k->why, sizeof(k->why));
	if (k->pkey != NULL &&
	    dkim_key_record(k->pkey, k->record, sizeof(k->record)) == -1) {
		(void)strlcpy(k->why, "cannot make the DNS record",
		    sizeof(k->why));
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
	}
	return k;
}

void
signd_keys_load(const struct config *conf)
{
	struct signd_keys fresh;
	struct signd_key *k;
	const struct domain *d;
	const struct dkim_sel *s;
	int nkeys = 0, nmissing = 0;

	TAILQ_INIT(&fresh);
	TAILQ_FOREACH(d, &conf->domains, entry) {
		TAILQ_FOREACH(s, &d->sels, entry) {
			k = key_load(d, s);
			TAILQ_INSERT_TAIL(&fresh, k, entry);
			if (k->pkey != NULL) {
				nkeys++;
				continue;
			}
			nmissing++;
			log_warnx("dkim key unusable domain=%s selector=%s "
			    "algorithm=%s%s: %s", k->domain, k->selector,
			    dkim_key_alg_word(k->alg),
			    k->active ? " (active: not signing with it)" : "",
			    k->why);
		}
	}
	signd_keys_free(&signd.keys);
	TAILQ_INIT(&signd.keys);
	TAILQ_CONCAT(&signd.keys, &fresh, entry);
	signd.nkeys = nkeys;
	signd.nmissing = nmissing;

	/* Domains that cannot be signed for: say so once per load. */
	TAILQ_FOREACH(d, &conf->domains, entry) {
		const struct signd_key *use[SIGND_MAX_SIGS];

		if (signd_keys_for(d->name, use, SIGND_MAX_SIGS) == 0)
			log_warnx("dkim domain=%s has no usable active key: "
			    "its mail is refused (temporary failure) until "
			    "one is made (posternctl dkim keygen %s)",
			    d->name, d->name);
	}
	log_info("dkim keys loaded keys=%d unusable=%d", nkeys, nmissing);
}

int
signd_keys_for(const char *domain, const struct signd_key **out, int max)
{
	const struct signd_key *k;
	int n = 0;

	/* RSA first: the order the fields are prepended in */
	TAILQ_FOREACH(k, &signd.keys, entry)
		if (k->active && k->pkey != NULL && k->alg == DKIM_RSA &&
		    strcasecmp(k->domain, domain) == 0 && n < max)
			out[n++] = k;
	TAILQ_FOREACH(k, &signd.keys, entry)
		if (k->active && k->pkey != NULL && k->alg == DKIM_ED25519 &&
		    strcasecmp(k->domain, domain) == 0 && n < max)
			out[n++] = k;
	return n;
}

int
signd_keys_configured(const char *domain)
{
	const struct signd_key *k;
	int n = 0;

	TAILQ_FOREACH(k, &signd.keys, entry)
		if (strcasecmp(k->domain, domain) == 0)
			n++;
	return n;
}
