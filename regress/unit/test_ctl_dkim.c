/*
 * test_ctl_dkim: posternctl dkim keygen (ctl/ctl_dkim.c) into a temporary
 * dkim-dir: where the key goes, its owner and mode, the record printed,
 * and the requests it refuses; that it follows no link signd could have
 * put in its way, and takes over a domain directory an older postern
 * gave to signd.  Needs root for the chown (the whole suite runs as
 * root); as another user it checks the refusal only.  signd's user is
 * _postern-sign when it exists (postern-setup --users), so that its group
 * differs from root's.
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
static uid_t sign_uid;
static gid_t sign_gid;

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
	struct passwd *pw;

	if ((pw = getpwnam("_postern-sign")) == NULL)
		pw = getpwuid(getuid());
	CHECK(pw != NULL);
	if (pw == NULL)
		exit(1);
	sign_uid = pw->pw_uid;
	sign_gid = pw->pw_gid;
	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(text, sizeof(text),
	    "dkim-dir %s/dkim\n"
	    "user signd %s\n"
	    "domain example.com {\n"
	    "\tdkim selector e1 algorithm ed25519\n"
	    "\tdkim selector r1 algorithm rsa\n"
	    "}\n"
	    "domain bare.example { }\n"
	    "domain link.example {\n"
	    "\tdkim selector s1 algorithm ed25519\n"
	    "}\n"
	    "domain old.example {\n"
	    "\tdkim selector s1 algorithm ed25519\n"
	    "}\n",
	    tmpdir, pw->pw_name);
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
	/*
	 * root's, read through signd's group: signd owns nothing it could
	 * chmod, rewrite or swap for a link
	 */
	snprintf(path, sizeof(path), "%s/dkim", tmpdir);
	CHECK(lstat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, sign_gid);
	snprintf(path, sizeof(path), "%s/dkim/example.com", tmpdir);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, sign_gid);
	snprintf(path, sizeof(path), "%s/dkim/example.com/e1.ed25519.key",
	    tmpdir);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0440);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, sign_gid);
	CHECK_INT(st.st_nlink, 1);	/* the temporary name is gone */
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

/* Count the entries of a directory other than . and .. */
static int
dir_entries(const char *path)
{
	char cmd[600];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/*
 * A domain directory that is a link (what a signd that could write the
 * dkim-dir would plant) is refused: nothing is created, chowned or
 * chmodded where it points.
 */
static void
test_domain_link_refused(void)
{
	char path[512], target[512];
	struct stat st;

	if (geteuid() != 0)
		return;
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	CHECK(mkdir(target, 0755) == 0);
	snprintf(path, sizeof(path), "%s/dkim/link.example", tmpdir);
	CHECK(symlink(target, path) == 0);
	CHECK_INT(keygen("link.example", NULL, "ed25519", 0, 0), 1);
	CHECK(strstr(outbuf, "link") != NULL);
	CHECK(stat(target, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(st.st_gid, 0);
	CHECK_INT(dir_entries(target), 0);
	CHECK(unlink(path) == 0);
}

/*
 * Run keygen for example.com (selector e1, ed25519) with another
 * dkim-dir, signd's user root; -1 if that configuration does not parse.
 */
static int
keygen_in(const char *dkimdir, int json)
{
	char text[1024];
	struct config *save = conf, *c;
	int rc;

	snprintf(text, sizeof(text), "dkim-dir \"%s\"\nuser signd root\n"
	    "domain example.com {\n"
	    "\tdkim selector e1 algorithm ed25519\n"
	    "}\n", dkimdir);
	if ((c = config_parse_buf("test", text, strlen(text), stderr)) == NULL)
		return -1;
	conf = c;
	rc = keygen("example.com", NULL, "ed25519", 0, json);
	conf = save;
	config_free(c);
	return rc;
}

/* A dkim-dir that is a link is refused too, as the master refuses it. */
static void
test_dkim_dir_link_refused(void)
{
	char link[512], target[512];
	struct stat st;

	if (geteuid() != 0)
		return;
	snprintf(target, sizeof(target), "%s/elsewhere2", tmpdir);
	CHECK(mkdir(target, 0755) == 0);
	snprintf(link, sizeof(link), "%s/dkim-link", tmpdir);
	CHECK(symlink(target, link) == 0);
	CHECK_INT(keygen_in(link, 0), 1);
	CHECK(strstr(outbuf, "link") != NULL);
	CHECK(stat(target, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(dir_entries(target), 0);
}

/*
 * A domain directory an older postern made signd's own (0500), with a
 * key in it: taken over (root's, signd's group, 0750), and the new key
 * is root's too.
 */
static void
test_old_domain_dir_taken_over(void)
{
	char path[512];
	struct stat st;

	if (geteuid() != 0)
		return;
	snprintf(path, sizeof(path), "%s/dkim/old.example", tmpdir);
	CHECK(mkdir(path, 0700) == 0);
	CHECK(chown(path, sign_uid, sign_gid) == 0);
	CHECK(chmod(path, 0500) == 0);
	CHECK_INT(keygen("old.example", NULL, "ed25519", 0, 0), 0);
	CHECK(lstat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, sign_gid);
	snprintf(path, sizeof(path), "%s/dkim/old.example/s1.ed25519.key",
	    tmpdir);
	CHECK(lstat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0440);
	CHECK_INT(st.st_uid, 0);
}

/*
 * dkim_key_writeat() replaces nothing, not even a link in the key's
 * place, and leaves no temporary file behind.
 */
static void
test_writeat_no_replace(void)
{
	char dir[512], target[512], name[600], err[256];
	struct stat st;
	EVP_PKEY *k;
	int dfd;

	snprintf(dir, sizeof(dir), "%s/wa", tmpdir);
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(target, sizeof(target), "%s/target", tmpdir);
	CHECK((dfd = open(target, O_WRONLY | O_CREAT, 0600)) != -1);
	close(dfd);
	snprintf(name, sizeof(name), "%s/a.ed25519.key", dir);
	CHECK(symlink(target, name) == 0);
	CHECK((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	k = dkim_key_generate(DKIM_ED25519, 0, err, sizeof(err));
	CHECK(k != NULL);
	CHECK_INT(dkim_key_writeat(dfd, "a.ed25519.key", k, getuid(),
	    getgid(), err, sizeof(err)), -1);
	CHECK(strstr(err, "exists already") != NULL);
	CHECK(stat(target, &st) == 0);
	CHECK_INT(st.st_size, 0);
	CHECK_INT(dkim_key_writeat(dfd, "../b.key", k, getuid(), getgid(),
	    err, sizeof(err)), -1);
	CHECK_INT(dkim_key_writeat(dfd, "b.ed25519.key", k, getuid(),
	    getgid(), err, sizeof(err)), 0);
	CHECK_INT(dkim_key_writeat(dfd, "b.ed25519.key", k, getuid(),
	    getgid(), err, sizeof(err)), -1);
	CHECK_INT(dir_entries(dir), 2);
	EVP_PKEY_free(k);
	close(dfd);
}

/*
 * keygen --json writes its strings with posternctl's one JSON writer: a
 * dkim-dir whose name is not UTF-8 still gives JSON that parses.
 */
static void
test_json_path_not_utf8(void)
{
	char dir[512];

	if (geteuid() != 0)
		return;
	snprintf(dir, sizeof(dir), "%s/k\xff", tmpdir);
	CHECK_INT(keygen_in(dir, 1), 0);
	CHECK(strstr(outbuf, "/k\\ufffd/example.com/e1.ed25519.key"
	    "\"") != NULL);
	CHECK(strchr(outbuf, 0xff) == NULL);
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
	RUN(test_domain_link_refused);
	RUN(test_dkim_dir_link_refused);
	RUN(test_old_domain_dir_taken_over);
	RUN(test_writeat_no_replace);
	RUN(test_json_path_not_utf8);
	RUN(test_cleanup);
	return unit_done();
}
