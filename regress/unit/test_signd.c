/*
 * test_signd: signd's decision on one message (signd_sign_message) and
 * its key table, outside the process: real keys in a temporary key
 * directory, real tickets, a configuration parsed from text.
 *
 * What must hold: a genuine ticket and a single From: equal to its
 * address gets signatures that python3-dkim verifies (dual signing);
 * anything else is refused, permanently (forged ticket, other From:,
 * several From: or mailboxes, unconfigured domain, malformed header) or
 * temporarily (expired ticket, a domain whose key is missing, so that its
 * mail is never sent unsigned), and a reload picks up a key made later.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/dkim_key.h"
#include "lib/log.h"
#include "lib/ticket.h"
#include "signd/signd.h"
#include "dkimtest.h"
#include "unit.h"

static char tmpdir[] = "/tmp/postern-signd-XXXXXX";
static const unsigned char tkey[32] = "0123456789abcdef0123456789abcdef";

static const char conftext[] =
    "domain example.com {\n"
    "\tdkim selector r1 algorithm rsa\n"
    "\tdkim selector e1 algorithm ed25519\n"
    "}\n"
    "domain nokey.example {\n"
    "\tdkim selector s1 algorithm ed25519\n"
    "}\n";

static void
make_key(const char *domain, const char *sel, enum dkim_alg alg)
{
	char path[512], err[256];
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, domain);
	(void)mkdir(path, 0700);
	CHECK(dkim_key_path(path, sizeof(path), tmpdir, domain, sel,
	    alg) == 0);
	CHECK((k = dkim_key_generate(alg, 0, err, sizeof(err))) != NULL);
	CHECK(dkim_key_write(path, k, getuid(), getgid(), err,
	    sizeof(err)) == 0);
	EVP_PKEY_free(k);
}

static size_t
ticket(const char *addr, time_t expiry, unsigned char *t, size_t tsz)
{
	size_t len = 0;

	CHECK(ticket_make(tkey, sizeof(tkey), 7, 9, addr, expiry, t, tsz,
	    &len) == 0);
	return len;
}

static int
msgfd(const char *text)
{
	char path[512];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/msg.eml", tmpdir);
	f = fopen(path, "wb");
	fputs(text, f);
	fclose(f);
	fd = open(path, O_RDONLY);
	CHECK(fd != -1);
	return fd;
}

struct outcome {
	int	res;
	char	out[32768];
	size_t	outlen;
	char	reason[512];
};

static void
sign(const char *msg, const char *addr, time_t expiry, int tamper,
    struct outcome *o)
{
	unsigned char t[MAX_TICKET];
	size_t tlen;
	int fd;

	tlen = ticket(addr, expiry, t, sizeof(t));
	if (tamper)
		t[tlen / 2] ^= 0x20;
	fd = msgfd(msg);
	o->res = signd_sign_message(fd, t, tlen, o->out, sizeof(o->out),
	    &o->outlen, o->reason, sizeof(o->reason));
	close(fd);
}

static int
verify_signed(const struct outcome *o, const char *msg)
{
	const struct signd_key *k;
	char path[512], keys[512], cmd[2048];
	FILE *f;
	int st;

	snprintf(keys, sizeof(keys), "%s/keys.txt", tmpdir);
	f = fopen(keys, "w");
	TAILQ_FOREACH(k, &signd.keys, entry)
		if (k->pkey != NULL)
			fprintf(f, "%s._domainkey.%s %s\n", k->selector,
			    k->domain, k->record);
	fclose(f);
	snprintf(path, sizeof(path), "%s/signed.eml", tmpdir);
	f = fopen(path, "wb");
	fwrite(o->out, 1, o->outlen, f);
	fputs(msg, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s regress/tools/dkimverify.py "
	    "--pubkey %s %s >/dev/null", dkimtest_python(), keys, path);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

#define MSG(from)							\
	"From: " from "\r\n"						\
	"To: someone@example.net\r\n"					\
	"Subject: scan\r\n"						\
	"\r\n"								\
	"body\r\n"

static void
test_setup(void)
{
	CHECK(mkdtemp(tmpdir) != NULL);
	log_init("signd", LOG_TO_STDERR, 0);
	child_conf = config_parse_buf("test", conftext, strlen(conftext),
	    stderr);
	CHECK(child_conf != NULL);
	if (child_conf == NULL)
		exit(1);
	make_key("example.com", "r1", DKIM_RSA);
	make_key("example.com", "e1", DKIM_ED25519);
	memcpy(signd.ticket_key, tkey, sizeof(tkey));
	signd.ticket_keylen = sizeof(tkey);
	(void)strlcpy(signd.keydir, tmpdir, sizeof(signd.keydir));
	TAILQ_INIT(&signd.keys);
	signd_keys_load(child_conf);
	CHECK_INT(signd.nkeys, 2);
	CHECK_INT(signd.nmissing, 1);
}

static void
test_signs_and_verifies(void)
{
	static struct outcome o;
	const char *msg = MSG("Scanner <scans@example.com>");

	sign(msg, "scans@example.com", clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_OK);
	CHECK_STR(o.reason, "signed d=example.com s=r1,e1");
	CHECK(strncmp(o.out, "DKIM-Signature: v=1; a=rsa-sha256;", 34) == 0);
	CHECK(strstr(o.out, "\r\nDKIM-Signature: v=1; a=ed25519-sha256;") !=
	    NULL);
	CHECK_INT(verify_signed(&o, msg), 0);
}

static void
test_local_part_case(void)
{
	static struct outcome o;

	struct domain *d;

	/* local-part-case insensitive is the default */
	sign(MSG("<Scans@EXAMPLE.com>"), "scans@example.com",
	    clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_OK);
	/*
	 * The domain's own setting rules, as in authd, not the global one
	 * (they differ here by hand: the grammar has one setting today).
	 */
	d = config_domain(child_conf, "example.com");
	CHECK(d != NULL);
	if (d == NULL)
		return;
	d->local_nocase = 0;
	sign(MSG("<Scans@EXAMPLE.com>"), "scans@example.com",
	    clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	sign(MSG("<scans@EXAMPLE.com>"), "scans@example.com",
	    clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_OK);
	d->local_nocase = 1;
	child_conf->local_part_nocase = 0;
	sign(MSG("<Scans@EXAMPLE.com>"), "scans@example.com",
	    clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_OK);
	child_conf->local_part_nocase = 1;
}

static void
test_refusals(void)
{
	static struct outcome o;
	time_t later = clock_now() + 60;

	/* another From: address than the login's */
	sign(MSG("<boss@example.com>"), "scans@example.com", later, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	CHECK(strstr(o.reason, "<scans@example.com>") != NULL);
	CHECK_INT(o.outlen, 0);
	/* two From: fields, two mailboxes, none */
	sign("From: scans@example.com\r\n" MSG("scans@example.com"),
	    "scans@example.com", later, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	sign(MSG("scans@example.com, boss@example.com"),
	    "scans@example.com", later, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	sign("To: a@example.net\r\n\r\nbody\r\n", "scans@example.com", later,
	    0, &o);
	CHECK_INT(o.res, RES_FAIL);
	/* a malformed header section */
	sign("From: scans@example.com\r\n folded\r\nbad line\r\n\r\n",
	    "scans@example.com", later, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	/* a forged ticket, an expired one */
	sign(MSG("scans@example.com"), "scans@example.com", later, 1, &o);
	CHECK_INT(o.res, RES_FAIL);
	CHECK_STR(o.reason, "login ticket not genuine");
	sign(MSG("scans@example.com"), "scans@example.com", clock_now() - 1,
	    0, &o);
	CHECK_INT(o.res, RES_TEMPFAIL);
	/* a domain not configured */
	sign(MSG("a@other.example"), "a@other.example", later, 0, &o);
	CHECK_INT(o.res, RES_FAIL);
	CHECK(strstr(o.reason, "not configured") != NULL);
	/* a configured domain without its key: temporary, never unsigned */
	sign(MSG("a@nokey.example"), "a@nokey.example", later, 0, &o);
	CHECK_INT(o.res, RES_TEMPFAIL);
	CHECK_INT(o.outlen, 0);
}

static void
test_reload_picks_up_key(void)
{
	static struct outcome o;
	const char *msg = MSG("a@nokey.example");

	make_key("nokey.example", "s1", DKIM_ED25519);
	signd_keys_load(child_conf);
	CHECK_INT(signd.nkeys, 3);
	CHECK_INT(signd.nmissing, 0);
	sign(msg, "a@nokey.example", clock_now() + 60, 0, &o);
	CHECK_INT(o.res, RES_OK);
	CHECK_STR(o.reason, "signed d=nokey.example s=s1");
	CHECK_INT(verify_signed(&o, msg), 0);
}

static void
test_wrong_algorithm_file(void)
{
	char from[512], to[512];

	/* an RSA key where the ed25519 one should be is not used */
	snprintf(from, sizeof(from), "%s/example.com/r1.rsa.key", tmpdir);
	snprintf(to, sizeof(to), "%s/example.com/e1.ed25519.key", tmpdir);
	CHECK(unlink(to) == 0);
	CHECK(link(from, to) == 0);
	signd_keys_load(child_conf);
	CHECK_INT(signd.nmissing, 1);
}

static void
test_cleanup(void)
{
	char cmd[300];

	signd_keys_free(&signd.keys);
	config_free(child_conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	CHECK(system(cmd) == 0);
}

int
main(void)
{
	RUN(test_setup);
	RUN(test_signs_and_verifies);
	RUN(test_local_part_case);
	RUN(test_refusals);
	RUN(test_reload_picks_up_key);
	RUN(test_wrong_algorithm_file);
	RUN(test_cleanup);
	return unit_done();
}
