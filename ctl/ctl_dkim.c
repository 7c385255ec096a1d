/*
 * ctl_dkim.c: posternctl dkim keygen, the one DKIM operation that runs in
 * posternctl itself.
 *
 * Keys are made here, by root, and never by signd: signd's key directory
 * is read-only to it, so a compromised signd can use the keys it has but
 * not plant new ones.  ctl_dkim_keygen() checks the request against the
 * configuration, writes the key where signd will find it
 * (<dkim-dir>/<domain>/<selector>.<alg>.key, lib/dkim_key.h), owned by
 * root with signd's group, mode 0440, in a directory that is root's
 * with signd's group, mode 0750, and prints the DNS record to publish.
 * The caller (posternctl.c) then asks the master to have signd reload.
 *
 * The rules, and why:
 *   - the domain must be configured: signd signs for configured domains
 *     only, a key for any other would never be used;
 *   - the selector is --selector, or else the one configured for that
 *     algorithm in the domain (the active one when there are several); a
 *     selector not in the configuration is allowed, for rotation (make
 *     the key and publish it before switching to it), with a note;
 *   - a selector configured with the other algorithm is refused;
 *   - an existing key file is never replaced (its public half may be in
 *     the DNS): rotation uses a new selector;
 *   - RSA keys are 2048 to 4096 bits.  Shorter ones are refused, with no
 *     way around it here: RFC 8301 says signers SHOULD use 2048 bits or
 *     more, large receivers treat 1024-bit signatures as weak, and the
 *     issue this implements asks for 2048 or more.  An operator moving a
 *     legacy 1024-bit key in may copy the PEM file into place: signd
 *     loads keys of 1024 bits and up.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "ctl.h"
#include "dkim_key.h"
#include "privsep.h"

#define KEYGEN_RSA_MIN	2048

static int keygen_err(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static int
keygen_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "posternctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/*
 * Open the directory `name' relative to at (AT_FDCWD for the dkim-dir
 * itself), making it first if it is missing, and make it root's with
 * signd's group, mode 0750: signd reads it through its group and, owning
 * nothing, can neither chmod it nor put anything in it.  An existing one
 * (an older postern made them signd's own, 0500) is taken over the same
 * way.  The directory is made 0700 and opened with O_NOFOLLOW, and owner
 * and mode are set through the descriptor: a link, or a directory
 * swapped for one between the mkdir and the open, is refused, never
 * followed, so root cannot be made to chown or write anywhere else.
 * Returns the descriptor, or -1 with a message on stderr.
 */
static int
keygen_dir(int at, const char *name, const char *shown, gid_t gid)
{
	int fd;

	if (mkdirat(at, name, 0700) == -1 && errno != EEXIST) {
		keygen_err("%s: %s", shown, strerror(errno));
		return -1;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			keygen_err("%s: not a directory (a link is refused)",
			    shown);
		else
			keygen_err("%s: %s", shown, strerror(errno));
		return -1;
	}
	if (fchown(fd, 0, gid) == -1 || fchmod(fd, 0750) == -1) {
		keygen_err("%s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The selector to use: the given one, or the configured one. */
static const char *
keygen_selector(const struct domain *d, const char *selector,
    enum dkim_alg alg)
{
	const struct dkim_sel *s, *pick = NULL;

	TAILQ_FOREACH(s, &d->sels, entry) {
		if (selector != NULL) {
			if (strcmp(s->selector, selector) != 0)
				continue;
			if (s->alg != alg) {
				keygen_err("selector %s of %s is configured "
				    "for the other algorithm", selector,
				    d->name);
				return NULL;
			}
			return selector;
		}
		if (s->alg == alg && (pick == NULL || s->active))
			pick = s;
	}
	if (selector != NULL) {
		if (!dkim_name_ok(selector)) {
			keygen_err("invalid selector '%s'", selector);
			return NULL;
		}
		fprintf(stderr, "posternctl: note: selector %s is not in the "
		    "configuration of %s: signd uses the key once it is\n",
		    selector, d->name);
		return selector;
	}
	if (pick == NULL) {
		keygen_err("no %s selector is configured for %s: add 'dkim "
		    "selector NAME algorithm ...' to its domain block, or "
		    "give --selector", dkim_key_alg_word(alg), d->name);
		return NULL;
	}
	return pick->selector;
}

/* One "key":"value" member of an object, then a comma unless last. */
static void
json_member(const char *key, const char *val, int last)
{
	ctl_json_str(stdout, key);
	putchar(':');
	ctl_json_str(stdout, val);
	if (!last)
		putchar(',');
}

static void
keygen_print(const char *domain, const char *selector, enum dkim_alg alg,
    int bits, const char *path, const char *record, const char *zone,
    int json)
{
	char name[600];

	(void)snprintf(name, sizeof(name), "%s._domainkey.%s", selector,
	    domain);
	if (json) {
		/* the shape of every posternctl --json answer */
		printf("{\"status\": \"ok\", \"message\": \"key written\", "
		    "\"items\": [{");
		json_member("domain", domain, 0);
		json_member("selector", selector, 0);
		json_member("algorithm", dkim_key_alg_word(alg), 0);
		printf("\"bits\":%d,", bits);
		json_member("path", path, 0);
		json_member("name", name, 0);
		json_member("record", record, 0);
		json_member("zone", zone, 1);
		printf("}]}\n");
		return;
	}
	printf("key written: %s\n", path);
	printf("publish this DNS record, then reload or wait for the "
	    "reload:\n");
	printf("%s. IN TXT ( %s )\n", name, zone);
}

int
ctl_dkim_keygen(const struct config *conf, const char *domain,
    const char *selector, const char *algname, int bits, int json)
{
	char dir[PATH_MAX], path[PATH_MAX], file[NAME_MAX + 1], err[256];
	char record[DKIM_RECORD_MAX], zone[DKIM_RECORD_MAX * 2];
	const struct domain *d;
	struct stat st;
	enum dkim_alg alg;
	EVP_PKEY *key = NULL;
	uid_t uid;
	gid_t gid;
	int n, rc, topfd = -1, dirfd = -1;

	if (geteuid() != 0)
		return keygen_err("dkim keygen must be run as root");
	if ((d = config_domain(conf, domain)) == NULL)
		return keygen_err("domain %s is not configured in %s", domain,
		    conf->file);
	if (algname == NULL || strcmp(algname, "ed25519") == 0)
		alg = DKIM_ED25519;
	else if (strcmp(algname, "rsa") == 0)
		alg = DKIM_RSA;
	else
		return keygen_err("unknown algorithm '%s' (rsa or ed25519)",
		    algname);
	if (alg == DKIM_RSA) {
		if (bits == 0)
			bits = DKIM_RSA_DEF_BITS;
		if (bits < KEYGEN_RSA_MIN || bits > DKIM_RSA_MAX_BITS) {
			fprintf(stderr, "posternctl: RSA keys are %d to %d "
			    "bits (RFC 8301: 2048 or more)\n", KEYGEN_RSA_MIN,
			    DKIM_RSA_MAX_BITS);
			return 1;
		}
	} else
		bits = 256;
	if ((selector = keygen_selector(d, selector, alg)) == NULL)
		return 1;
	if (privsep_user(conf->user[PROC_SIGND], &uid, &gid) == -1)
		return keygen_err("unknown user %s (user signd)",
		    conf->user[PROC_SIGND]);

	n = snprintf(dir, sizeof(dir), "%s/%s", conf->dkim_dir, d->name);
	if (n < 0 || (size_t)n >= sizeof(dir) ||
	    dkim_key_path(path, sizeof(path), conf->dkim_dir, d->name,
	    selector, alg) == -1 ||
	    dkim_key_file(file, sizeof(file), selector, alg) == -1)
		return keygen_err("key path too long or invalid: %s/%s",
		    conf->dkim_dir, d->name);
	/*
	 * Everything below the dkim-dir goes through descriptors that were
	 * opened refusing links: see keygen_dir().  The dkim-dir is set as
	 * the master sets it at every start.
	 */
	rc = 1;
	if ((topfd = keygen_dir(AT_FDCWD, conf->dkim_dir, conf->dkim_dir,
	    gid)) == -1 || (dirfd = keygen_dir(topfd, d->name, dir,
	    gid)) == -1)
		goto done;
	if (fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		keygen_err("%s exists already: a key is never "
		    "replaced; rotate with a new selector", path);
		goto done;
	}
	if (errno != ENOENT) {
		keygen_err("%s: %s", path, strerror(errno));
		goto done;
	}

	if ((key = dkim_key_generate(alg, bits, err, sizeof(err))) == NULL) {
		keygen_err("%s", err);
		goto done;
	}
	if (dkim_key_writeat(dirfd, file, key, 0, gid, err,
	    sizeof(err)) == -1)
		keygen_err("%s/%s", dir, err);
	else if (dkim_key_record(key, record, sizeof(record)) == -1 ||
	    dkim_key_zone(record, zone, sizeof(zone)) == -1)
		keygen_err("cannot make the DNS record for %s", path);
	else {
		keygen_print(d->name, selector, alg, bits, path, record, zone,
		    json);
		rc = 0;
	}
done:
	if (dirfd != -1)
		close(dirfd);
	if (topfd != -1)
		close(topfd);
	EVP_PKEY_free(key);
	return rc;
}
