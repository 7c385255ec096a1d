/*
 * test_ctl_dkim: posternctl dkim keygen (ctl/ctl_dkim.c) into a temporary
 * dkim-dir: where the key goes, its owner and mode, the record printed,
 * and the requests it refuses.  Needs root for the chown (the whole
 * suite runs as root); as another user it checks the refusal only.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "lib/config.h"
#include "lib/dkim_key.h"
#include "unit.h"

static char tmpdir[] = "/tmp/postern-ctl-XXXXXX";
static struct config *conf;
static char outbuf[8192];

/* Run keygen with stdout and stderr captured into outbuf. */
static int
keygen(const char *domain, const char *sel, const char *alg, int bits,
    int json)
{
	char path[512];
	int fd, save1, save2, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/out.txt", tmpdir);
	fflush(stdout);
	fflush(stderr);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	save1 = dup(1);
	save2 = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	rc = ctl_dkim_keygen(conf, domain, sel, alg, bits, json);
	fflush(stdout);
	fflush(stderr);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save1);
	close(save2);
	n = pread(fd, outbuf, sizeof(outbuf) - 1, 0);
	outbuf[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static void
test_setup(void)
{
	char text[1024];
	struct passwd *pw = getpwuid(getuid());

	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(text, sizeof(text),
	    "dkim-dir %s/dkim\n"
	    "user signd %s\n"
	    "domain example.com {\n"
	    "\tdkim selector e1 algorithm ed25519\n"
	    "\tdkim selector r1 algorithm rsa\n"
	    "}\n"
	    "domain bare.example { }\n", tmpdir, pw ? pw->pw_name : "root");
	conf = config_parse_buf("test", text, strlen(text), stderr);
	CHECK(conf != NULL);
	if (conf == NULL)
		exit(1);
}

static void
test_refusals(void)
{
	if (geteuid() != 0) {
		CHECK_INT(keygen("example.com", NULL, "ed25519", 0, 0), 1);
		CHECK(strstr(outbuf, "root") != NULL);
		return;
	}
	CHECK_INT(keygen("other.example", NULL, "ed25519", 0, 0), 1);
	CHECK(strstr(outbuf, "not configured") != NULL);
	CHECK_INT(keygen("example.com", NULL, "dsa", 0, 0), 1);
	CHECK_INT(keygen("example.com", NULL, "rsa", 1024, 0), 1);
	CHECK(strstr(outbuf, "2048") != NULL);
	CHECK_INT(keygen("example.com", NULL, "rsa", 8192, 0), 1);
	CHECK_INT(keygen("example.com", "e1", "rsa", 2048, 0), 1);
	CHECK(strstr(outbuf, "other algorithm") != NULL);
	CHECK_INT(keygen("bare.example", NULL, "ed25519", 0, 0), 1);
	CHECK(strstr(outbuf, "no ed25519 selector") != NULL);
	CHECK_INT(keygen("example.com", "../x", "ed25519", 0, 0), 1);
}

static void
test_ed25519(void)
{
	char path[512], rec[DKIM_RECORD_MAX], err[256];
	struct stat st;
	EVP_PKEY *k;

	if (geteuid() != 0)
		return;
	CHECK_INT(keygen("example.com", NULL, "ed25519", 2048, 1), 0);
	CHECK(strstr(outbuf, "{\"status\": \"ok\", \"message\": \"key "
	    "written\", \"items\": [{\"domain\":\"example.com\",\"selector\":"
	    "\"e1\",\"algorithm\":\"ed25519\",\"bits\":256,") == outbuf);
	CHECK(strstr(outbuf, "\"name\":\"e1._domainkey.example.com\"") !=
	    NULL);
	snprintf(path, sizeof(path), "%s/dkim/example.com", tmpdir);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0500);
	CHECK_INT(st.st_uid, getuid());
	snprintf(path, sizeof(path), "%s/dkim/example.com/e1.ed25519.key",
	    tmpdir);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0400);
	CHECK((k = dkim_key_load(path, DKIM_ED25519, err, sizeof(err))) !=
	    NULL);
	CHECK(k != NULL && dkim_key_record(k, rec, sizeof(rec)) == 0);
	CHECK(strstr(outbuf, rec) != NULL);
	EVP_PKEY_free(k);
	/* never replaced */
	CHECK_INT(keygen("example.com", NULL, "ed25519", 0, 0), 1);
	CHECK(strstr(outbuf, "exists already") != NULL);
}

static void
test_rsa_zone(void)
{
	if (geteuid() != 0)
		return;
	CHECK_INT(keygen("example.com", NULL, "rsa", 3072, 0), 0);
	CHECK(strstr(outbuf, "key written: ") != NULL);
	/* a 3072-bit record is over 255 bytes: two strings */
	CHECK(strstr(outbuf, "r1._domainkey.example.com. IN TXT ( "
	    "\"v=DKIM1; k=rsa; p=MII") != NULL);
	CHECK(strstr(outbuf, "\" \"") != NULL);
	/* a selector not configured yet: made, with a note */
	CHECK_INT(keygen("example.com", "next", "rsa", 2048, 0), 0);
	CHECK(strstr(outbuf, "note: selector next") != NULL);
}

static void
test_cleanup(void)
{
	char cmd[300];

	config_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	CHECK(system(cmd) == 0);
}

int
main(void)
{
	RUN(test_setup);
	RUN(test_refusals);
	RUN(test_ed25519);
	RUN(test_rsa_zone);
	RUN(test_cleanup);
	return unit_done();
}
