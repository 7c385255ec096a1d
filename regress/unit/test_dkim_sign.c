/*
 * test_dkim_sign: DKIM-Signature fields made by signd/dkim_sign.c.
 *
 * Known answers: RFC 8463 appendix A (ed25519-sha256, relaxed/relaxed,
 * the RFC's key) and the simple/simple example of its drafts, for the
 * body hash, the header hash and the signature bytes.
 *
 * Independent verification: a corpus of awkward messages is signed with
 * an RSA and an Ed25519 key (dual signing) in both canonicalizations, and
 * each signed message is handed to python3-dkim (through
 * regress/tools/dkimverify.py) and to libopendkim (regress/tools/
 * odkim_verify.c, built here), which must both pass it; then a body
 * byte, a signed header or a second From: is changed and both must fail
 * it.  A missing verifier (python3-dkim, libopendkim-dev) is a failure,
 * never a skip.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/dkim_key.h"
#include "signd/dkim_sign.h"
#include "dkimtest.h"
#include "unit.h"

static char tmpdir[] = "/tmp/postern-dkim-XXXXXX";
static char keyfile[256];
static EVP_PKEY *rsa, *ed;

static int
write_file(const char *path, const void *data, size_t len)
{
	FILE *f;
	int rv;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	rv = fwrite(data, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		rv = -1;
	return rv;
}

static int
run(const char *cmd)
{
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * Both verifiers, python3-dkim (dkimverify.py) and libopendkim
 * (odkim_verify), must say the same: their common exit status (0 pass,
 * 1 fail), or 3 when they disagree.
 */
/* Corpus flags: how a message is checked. */
#define F_AS_SENT	0x1	/* verify it as SMTP DATA delivers it */
#define F_PY_ONLY	0x2	/* verifiers differ; dkimpy's reading */

static int
verify(const char *path, int flags)
{
	char cmd[1024];
	int py, od;

	snprintf(cmd, sizeof(cmd), "%s regress/tools/dkimverify.py "
	    "--pubkey %s %s >%s/verify.out 2>&1", dkimtest_python(), keyfile,
	    path, tmpdir);
	py = run(cmd);
	if (flags & F_PY_ONLY)
		return py;
	snprintf(cmd, sizeof(cmd), "%s/odkim_verify %s %s >>%s/verify.out "
	    "2>&1", tmpdir, keyfile, path, tmpdir);
	od = run(cmd);
	return py == od ? py : 3;
}

static void
show_verify_output(void)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/verify.out", tmpdir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		printf("#     %s", line);
	fclose(f);
}

/*
 * Sign msg (len bytes) with the given signers; on success the signed
 * message (fields + msg) is in *signedp (malloc'ed), its length *slenp.
 */
static int
sign_buf(const char *msg, size_t len, enum dkim_canon c,
    const struct dkim_signer *s, size_t ns, char **signedp, size_t *slenp,
    char *err, size_t errsz)
{
	char path[300], out[65536];
	struct dkim_params p;
	struct dkim_msg m;
	size_t outlen;
	int fd, rv;

	snprintf(path, sizeof(path), "%s/in.eml", tmpdir);
	if (write_file(path, msg, len) == -1 ||
	    (fd = open(path, O_RDONLY)) == -1)
		return DKIM_ESYS;
	memset(&p, 0, sizeof(p));
	p.canon = c;
	p.now = 1700000000;
	if ((rv = dkim_msg_read(&m, fd, DKIM_MAX_HEADER, err, errsz)) ==
	    DKIM_OK) {
		rv = dkim_sign(&m, &p, s, ns, out, sizeof(out), &outlen, err,
		    errsz);
		dkim_msg_free(&m);
	}
	close(fd);
	if (rv != DKIM_OK)
		return rv;
	*signedp = malloc(outlen + len);
	memcpy(*signedp, out, outlen);
	memcpy(*signedp + outlen, msg, len);
	*slenp = outlen + len;
	return DKIM_OK;
}

static const struct dkim_signer *
signers(size_t *np)
{
	static struct dkim_signer s[2];

	s[0].alg = DKIM_RSA;
	s[0].domain = "example.com";
	s[0].selector = "r2024";
	s[0].key = rsa;
	s[1].alg = DKIM_ED25519;
	s[1].domain = "example.com";
	s[1].selector = "e2024";
	s[1].key = ed;
	*np = 2;
	return s;
}

/*
 * Sign and verify; returns the verifiers' status (0 pass).  F_AS_SENT:
 * a body without its final CRLF reaches a receiver with one (SMTP DATA
 * ends with CRLF "." CRLF), which is what RFC 6376 3.4.3 and 3.4.4 sign
 * for; libopendkim does not add the CRLF itself in relaxed.
 */
static int
sign_verify(const char *msg, size_t len, enum dkim_canon c, int flags,
    char **signedp, size_t *slenp)
{
	FILE *f;
	const struct dkim_signer *s;
	char err[256], path[300];
	size_t ns;
	int rv;

	s = signers(&ns);
	if ((rv = sign_buf(msg, len, c, s, ns, signedp, slenp, err,
	    sizeof(err))) != DKIM_OK) {
		printf("#   sign failed: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/signed.eml", tmpdir);
	if (write_file(path, *signedp, *slenp) == -1)
		return -1;
	if (flags & F_AS_SENT) {
		if ((f = fopen(path, "ab")) == NULL)
			return -1;
		fputs("\r\n", f);
		fclose(f);
	}
	return verify(path, flags);
}

static int
verify_buf(const char *msg, size_t len)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/tampered.eml", tmpdir);
	if (write_file(path, msg, len) == -1)
		return -1;
	return verify(path, 0);
}

/*
 * Set-up: two keys written and read back through lib/dkim_key.c, their
 * records in the key file the verifier reads.
 */
static EVP_PKEY *
setup_key(enum dkim_alg alg, const char *sel, const char *recstart, FILE *f)
{
	char path[300], rec[DKIM_RECORD_MAX], err[256];
	EVP_PKEY *k, *loaded;

	CHECK((k = dkim_key_generate(alg, 0, err, sizeof(err))) != NULL);
	snprintf(path, sizeof(path), "%s/%s.key", tmpdir, sel);
	CHECK(dkim_key_write(path, k, getuid(), getgid(), err,
	    sizeof(err)) == 0);
	EVP_PKEY_free(k);
	CHECK((loaded = dkim_key_load(path, alg, err, sizeof(err))) != NULL);
	if (loaded == NULL)
		exit(1);
	CHECK(dkim_key_record(loaded, rec, sizeof(rec)) == 0);
	CHECK(strncmp(rec, recstart, strlen(recstart)) == 0);
	fprintf(f, "%s._domainkey.example.com %s\n", sel, rec);
	return loaded;
}

static void
test_setup_keys(void)
{
	FILE *f;

	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(keyfile, sizeof(keyfile), "%s/keys.txt", tmpdir);
	CHECK((f = fopen(keyfile, "w")) != NULL);
	if (f == NULL)
		exit(1);
	rsa = setup_key(DKIM_RSA, "r2024", "v=DKIM1; k=rsa; p=MIIBIjAN", f);
	ed = setup_key(DKIM_ED25519, "e2024", "v=DKIM1; k=ed25519; p=", f);
	fclose(f);
}

/* The verifiers must be there: a test that cannot verify fails. */
static void
test_verifier_present(void)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "cc -O2 -o %s/odkim_verify "
	    "regress/tools/odkim_verify.c -lopendkim", tmpdir);
	st = system(cmd);
	if (st != 0) {
		printf("#   cannot build regress/tools/odkim_verify.c: install "
		    "libopendkim-dev\n");
		CHECK(st == 0);
	}

	snprintf(cmd, sizeof(cmd), "%s -c 'import dkim, nacl.signing'",
	    dkimtest_python());
	st = system(cmd);
	if (st != 0) {
		printf("#   %s cannot import dkim and nacl: install "
		    "python3-dkim and python3-nacl\n", dkimtest_python());
		CHECK(st == 0);
	}
}

/*
 * RFC 8463 appendix A.
 */
#define RFC8463_MSG							\
	"From: Joe SixPack <joe@football.example.com>\r\n"		\
	"To: Suzie Q <suzie@shopping.example.net>\r\n"			\
	"Subject: Is dinner ready?\r\n"					\
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"		\
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" \
	"\r\n"								\
	"Hi.\r\n"							\
	"\r\n"								\
	"We lost the game.  Are you hungry yet?\r\n"			\
	"\r\n"								\
	"Joe.\r\n"

static EVP_PKEY *
rfc8463_key(void)
{
	static const char seed[] =
	    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
	unsigned char raw[48];

	if (EVP_DecodeBlock(raw, (const unsigned char *)seed, 44) != 33)
		return NULL;
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32);
}

static int
open_msg(const char *text, struct dkim_msg *m)
{
	char path[300], err[128];
	int fd;

	snprintf(path, sizeof(path), "%s/kat.eml", tmpdir);
	if (write_file(path, text, strlen(text)) == -1 ||
	    (fd = open(path, O_RDONLY)) == -1)
		return -1;
	if (dkim_msg_read(m, fd, 0, err, sizeof(err)) != DKIM_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
kat_check(const char *msg, enum dkim_canon c, const char *sigfield,
    const char *want_bh, const char *want_b)
{
	unsigned char d[32], sig[64];
	char b64[128];
	struct dkim_msg m;
	EVP_PKEY *key;
	size_t siglen = sizeof(sig);
	int fd;

	CHECK((key = rfc8463_key()) != NULL);
	CHECK((fd = open_msg(msg, &m)) != -1);
	if (fd == -1 || key == NULL)
		return;
	CHECK(dkim_body_hash(&m, c, d, NULL, 0) == DKIM_OK);
	EVP_EncodeBlock((unsigned char *)b64, d, 32);
	CHECK_STR(b64, want_bh);
	CHECK(dkim_header_hash(&m, c, "from : to : subject : date : "
	    "message-id : from : subject : date", sigfield, strlen(sigfield),
	    d) == 0);
	CHECK(dkim_sign_digest(key, DKIM_ED25519, d, sig, &siglen) == 0);
	CHECK_INT(siglen, 64);
	EVP_EncodeBlock((unsigned char *)b64, sig, 64);
	CHECK_STR(b64, want_b);
	dkim_msg_free(&m);
	close(fd);
	EVP_PKEY_free(key);
}

static void
test_rfc8463_relaxed(void)
{
	kat_check(RFC8463_MSG, DKIM_CANON_RELAXED,
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	    " d=football.example.com; i=@football.example.com;\r\n"
	    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	    " subject : date : message-id : from : subject : date;\r\n"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	    " b=",
	    "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
	    "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
	    "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
}

/* The same message, simple/simple, as in the drafts of RFC 8463. */
static void
test_rfc8463_simple(void)
{
	kat_check(RFC8463_MSG, DKIM_CANON_SIMPLE,
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; \r\n"
	    " d=football.example.com; i=@football.example.com; \r\n"
	    " q=dns/txt; s=brisbane; t=1518460054; h=from : to : \r\n"
	    " subject : date : message-id : from : subject : date; \r\n"
	    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r\n"
	    " b=",
	    "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=",
	    "9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB"
	    "o0wBLR++X5LqmsxXaOYLLJe46l10AQ==");
}

/*
 * The shape of what dkim_sign writes.
 */
static void
test_field_shape(void)
{
	const struct dkim_signer *s;
	char *sm = NULL, err[128], *line, *save, *copy;
	const char *msg = "From: a@example.com\r\nTo: b@example.net\r\n"
	    "To: c@example.net\r\nSubject: x\r\nX-Other: y\r\n\r\nbody\r\n";
	size_t ns, slen;

	s = signers(&ns);
	CHECK(sign_buf(msg, strlen(msg), DKIM_CANON_RELAXED, s, ns, &sm,
	    &slen, err, sizeof(err)) == DKIM_OK);
	if (sm == NULL)
		return;
	copy = strndup(sm, slen - strlen(msg));
	/* two fields, RSA first */
	CHECK(strncmp(copy, "DKIM-Signature: v=1; a=rsa-sha256; "
	    "c=relaxed/relaxed; d=example.com;", 67) == 0);
	CHECK(strstr(copy, "\r\nDKIM-Signature: v=1; a=ed25519-sha256; ") !=
	    NULL);
	CHECK(strstr(copy, "s=r2024;") != NULL);
	CHECK(strstr(copy, "t=1700000000;") != NULL);
	CHECK(strstr(copy, "x=") == NULL);
	/* From over-signed, To twice, X-Other and absent names not listed */
	CHECK(strstr(copy, "h=From:From:Subject:To:To;") != NULL);
	/* every line at most 78 columns (TAB as 8), CRLF everywhere */
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		CHECK(len > 0 && line[len - 1] == '\r');
		if (line[0] == '\t')
			len += 7;
		CHECK(len - 1 <= 78);
	}
	free(copy);
	free(sm);
}

static void
test_expire_and_headers(void)
{
	char out[8192], err[128], path[300];
	char *names[] = { "subject", "FROM", "Subject", "DKIM-Signature",
	    "bad name", "Date" };
	struct dkim_params p;
	struct dkim_msg m;
	size_t ns, outlen;
	const struct dkim_signer *s;
	const char *msg = "From: a@example.com\r\nSubject: x\r\n\r\n";
	int fd;

	s = signers(&ns);
	snprintf(path, sizeof(path), "%s/x.eml", tmpdir);
	CHECK(write_file(path, msg, strlen(msg)) == 0);
	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(dkim_msg_read(&m, fd, 0, err, sizeof(err)) == DKIM_OK);
	memset(&p, 0, sizeof(p));
	p.canon = DKIM_CANON_SIMPLE;
	p.now = 1000;
	p.expire = 86400;
	p.headers = names;
	p.nheaders = sizeof(names) / sizeof(names[0]);
	CHECK(dkim_sign(&m, &p, s + 1, 1, out, sizeof(out), &outlen, err,
	    sizeof(err)) == DKIM_OK);
	CHECK(strstr(out, "c=simple/simple;") != NULL);
	CHECK(strstr(out, "t=1000; x=87400;") != NULL);
	CHECK(strstr(out, "h=From:From:subject;") != NULL);
	/* too small an output buffer is an error, not an overflow */
	CHECK(dkim_sign(&m, &p, s, 2, out, 200, &outlen, err,
	    sizeof(err)) == DKIM_ESYS);
	dkim_msg_free(&m);
	close(fd);
}

/* Header sections dkim_msg_read refuses, and what it accepts. */
static void
test_msg_read(void)
{
	static const struct {
		const char *text;
		int rv;
		size_t nfields;
	} cases[] = {
		{ "From: a@b\r\n\r\nbody\r\n", DKIM_OK, 1 },
		{ "From: a@b\r\n", DKIM_OK, 1 },	/* no body */
		{ "From: a@b", DKIM_OK, 1 },
		{ "\r\nbody only\r\n", DKIM_OK, 0 },
		{ "", DKIM_OK, 0 },
		{ "From : a@b\r\nX: 1\r\n\t2\r\n\r\n", DKIM_OK, 2 },
		{ " folded first\r\nFrom: a@b\r\n\r\n", DKIM_EMSG, 0 },
		{ "From a@b\r\n\r\n", DKIM_EMSG, 0 },
		{ ": a@b\r\n\r\n", DKIM_EMSG, 0 },
		{ "From: a@b\nTo: c@d\r\n\r\n", DKIM_EMSG, 0 },
		{ "From: a\rb\r\n\r\n", DKIM_EMSG, 0 },
		{ "Fr\xc3\xb6m: a@b\r\n\r\n", DKIM_EMSG, 0 },
	};
	char path[300], err[128];
	struct dkim_msg m;
	size_t i, vlen;
	const char *v;
	int fd, rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/r.eml", tmpdir);
		CHECK(write_file(path, cases[i].text,
		    strlen(cases[i].text)) == 0);
		CHECK((fd = open(path, O_RDONLY)) != -1);
		rv = dkim_msg_read(&m, fd, 0, err, sizeof(err));
		if (rv != cases[i].rv)
			printf("#   case %zu: %d (%s)\n", i, rv, err);
		CHECK_INT(rv, cases[i].rv);
		if (rv == DKIM_OK) {
			CHECK_INT(m.nfields, cases[i].nfields);
			dkim_msg_free(&m);
		}
		close(fd);
	}
	/* the value of a folded field, and the count by name */
	snprintf(path, sizeof(path), "%s/r.eml", tmpdir);
	CHECK(write_file(path, "X: 1\r\nfrom: a\r\n b\r\nFROM: c\r\n\r\n",
	    30) == 0);
	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(dkim_msg_read(&m, fd, 0, err, sizeof(err)) == DKIM_OK);
	CHECK_INT(dkim_msg_count(&m, "From", &i), 2);
	CHECK_INT(i, 2);
	v = dkim_msg_value(&m, 1, &vlen);
	CHECK(vlen == 6 && memcmp(v, " a\r\n b", 6) == 0);
	CHECK_INT(m.body_off, 30);
	dkim_msg_free(&m);
	close(fd);
}

/* A header section over the limit is refused, not truncated. */
static void
test_header_limit(void)
{
	char path[300], err[128];
	struct dkim_msg m;
	size_t len = 3 * 1024 * 1024, i;
	char *big = malloc(len);
	int fd;

	memcpy(big, "From: a@b\r\n", 11);
	for (i = 11; i + 100 <= len; i += 100) {
		memcpy(big + i, "X-Pad: ", 7);
		memset(big + i + 7, 'p', 91);
		memcpy(big + i + 98, "\r\n", 2);
	}
	snprintf(path, sizeof(path), "%s/big.eml", tmpdir);
	CHECK(write_file(path, big, i) == 0);
	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(dkim_msg_read(&m, fd, 0, err, sizeof(err)) == DKIM_EMSG);
	CHECK(strstr(err, "header section over") != NULL);
	CHECK(dkim_msg_read(&m, fd, 64 * 1024, err, sizeof(err)) ==
	    DKIM_EMSG);
	close(fd);
	free(big);
}

/*
 * The corpus.
 */
#define HDRS								\
	"From: Scanner <scans@example.com>\r\n"				\
	"To: someone@example.net\r\n"					\
	"Subject: a test\r\n"						\
	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"			\
	"Message-ID: <1@example.com>\r\n"

static const struct corpus {
	const char	*name;
	const char	*text;
	int		 flags;
} corpus[] = {
	{ "plain", HDRS "\r\nHello.\r\n", 0 },
	{ "folded headers",
	  "From: Scanner\r\n <scans@example.com>\r\n"
	  "To: a@example.net,\r\n\tb@example.net,\r\n     c@example.net\r\n"
	  "Subject: folded\r\n over\r\n\tthree lines\r\n"
	  "Message-ID: <2@example.com>\r\n\r\nbody\r\n", 0 },
	{ "trailing whitespace",
	  "From: scans@example.com  \t\r\n"
	  "To:   someone@example.net\t\r\n"
	  "Subject:\tspaces   \t inside  \r\n"
	  "\r\n"
	  "line with trailing spaces   \r\n"
	  "line with trailing tabs\t\t\r\n"
	  "\t leading and   inner\t\tspace\r\n", 0 },
	{ "duplicate headers",
	  "Received: from a by b\r\nReceived: from c by d\r\n"
	  "From: scans@example.com\r\n"
	  "To: one@example.net\r\nTo: two@example.net\r\n"
	  "Subject: first\r\nSubject: second\r\n"
	  "Cc: x@example.net\r\nCC: y@example.net\r\ncc: z@example.net\r\n"
	  "\r\nbody\r\n", 0 },
	{ "empty body", HDRS "\r\n", 0 },
	{ "no body at all", HDRS, 0 },
	{ "body without final CRLF", HDRS "\r\nline 1\r\nlast line",
	  F_AS_SENT },
	{ "trailing blank lines", HDRS "\r\nbody\r\n\r\n\r\n\r\n", 0 },
	{ "only blank lines", HDRS "\r\n\r\n\r\n\r\n", 0 },
	{ "whitespace-only trailing lines",
	  HDRS "\r\nbody\r\n  \r\n\t\r\n", 0 },
	{ "leading blank lines", HDRS "\r\n\r\n\r\nbody\r\n", 0 },
	{ "8-bit and UTF-8 headers",
	  "From: =?utf-8?q?J=C3=BCrgen?= <scans@example.com>\r\n"
	  "To: M\xc3\xbcller <someone@example.net>\r\n"
	  "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x82\xac\r\n"
	  "X-Latin1: caf\xe9\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "\r\n"
	  "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xf0\x9f\x93\xa0\r\n", 0 },
	{ "base64 multipart",
	  "From: scans@example.com\r\n"
	  "To: someone@example.net\r\n"
	  "Subject: scan\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	  "\r\n"
	  "--b1\r\n"
	  "Content-Type: text/plain\r\n\r\nSee attached.\r\n"
	  "--b1\r\n"
	  "Content-Type: application/pdf; name=\"scan.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRl\r\n"
	  "ci9GbGF0ZURlY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMwslAwtTTVMzI2\r\n"
	  "AAD/2Q==\r\n"
	  "--b1--\r\n", 0 },
	/* never in the spool (smtpd ends lines with CRLF): dkimpy's view */
	{ "lone CR and LF in body",
	  HDRS "\r\nbare\nLF and bare\rCR\r\n", F_PY_ONLY },
	{ "mbox From line in body", HDRS "\r\nFrom me\r\n.\r\n..\r\n", 0 },
};

static char *
very_long_header(size_t *lenp)
{
	size_t cap = 64 * 1024, o = 0, i;
	char *m = malloc(cap);

	o += snprintf(m + o, cap - o, "From: scans@example.com\r\n"
	    "Subject:");
	/* 200 folded lines of a subject, and one 990-byte unfolded line */
	for (i = 0; i < 200; i++)
		o += snprintf(m + o, cap - o, " word%zu\r\n", i);
	o += snprintf(m + o, cap - o, "X-Long: ");
	for (i = 0; i < 980; i++)
		m[o++] = 'a' + i % 26;
	o += snprintf(m + o, cap - o, "\r\nTo: someone@example.net\r\n\r\n"
	    "body\r\n");
	*lenp = o;
	return m;
}

static void
check_one(const char *name, const char *msg, size_t len, int flags)
{
	enum dkim_canon c;
	char *sm;
	size_t slen;
	int rv;

	for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
		sm = NULL;
		rv = sign_verify(msg, len, c, flags, &sm, &slen);
		if (rv != 0) {
			printf("#   %s, %s: verifier says %d\n", name,
			    dkim_canon_name(c), rv);
			show_verify_output();
		}
		CHECK_INT(rv, 0);
		free(sm);
	}
}

static void
test_corpus_verifies(void)
{
	size_t i, len;
	char *m;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		check_one(corpus[i].name, corpus[i].text,
		    strlen(corpus[i].text), corpus[i].flags);
	m = very_long_header(&len);
	check_one("very long headers", m, len, 0);
	free(m);
}

/* A few MB of body, a line pattern that no chunk boundary respects. */
static void
test_large_body_verifies(void)
{
	size_t len = strlen(HDRS "\r\n") + 77 * 68000, i, o;
	char *m = malloc(len + 1);

	o = snprintf(m, len, HDRS "\r\n");
	for (i = 0; o < len; i++, o++)
		m[o] = (i % 77 == 75) ? '\r' : (i % 77 == 76) ? '\n' :
		    (i % 13 == 0) ? ' ' : 'a' + i % 26;
	check_one("5 MB body", m, len, 0);
	free(m);
}

/* Tampering: each change must break every signature. */
static void
test_tampering_fails(void)
{
	enum dkim_canon c;
	char *sm, *t, *p;
	size_t slen, tlen;
	const char *msg = corpus[0].text;

	for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
		sm = NULL;
		CHECK(sign_verify(msg, strlen(msg), c, 0, &sm, &slen) == 0);
		if (sm == NULL)
			continue;
		/* a body byte */
		t = malloc(slen + 64);
		memcpy(t, sm, slen);
		t[slen - 3] ^= 0x01;
		CHECK_INT(verify_buf(t, slen), 1);
		/* a signed header */
		memcpy(t, sm, slen);
		p = strstr(t, "Subject: a test");
		p[10] = 'A';
		CHECK_INT(verify_buf(t, slen), 1);
		/* a From: added, at the top of the message */
		tlen = snprintf(t, slen + 64, "From: evil@example.org\r\n");
		memcpy(t + tlen, sm, slen);
		CHECK_INT(verify_buf(t, tlen + slen), 1);
		/* ... or just above the real one */
		p = strstr(sm, "From: Scanner");
		tlen = p - sm;
		memcpy(t, sm, tlen);
		tlen += snprintf(t + tlen, 64, "From: evil@example.org\r\n");
		memcpy(t + tlen, p, slen - (p - sm));
		CHECK_INT(verify_buf(t, slen + 24), 1);
		/* whitespace changes only matter to simple */
		memcpy(t, sm, slen);
		p = strstr(t, "Subject: a test");
		p[8] = '\t';
		CHECK_INT(verify_buf(t, slen), c == DKIM_CANON_SIMPLE ? 1 : 0);
		free(t);
		free(sm);
	}
}

/*
 * 50 MB costs no more memory than 50 KB: the body is never held.
 */
static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
test_memory_bounded(void)
{
	char path[300], buf[65536], out[8192], err[128];
	const struct dkim_signer *s;
	struct dkim_params p;
	struct dkim_msg m;
	size_t ns, outlen, i;
	long before, after;
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/50mb.eml", tmpdir);
	CHECK((f = fopen(path, "wb")) != NULL);
	fputs(HDRS "\r\n", f);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (i % 80 == 79) ? '\n' : (i % 80 == 78) ? '\r' : 'x';
	for (i = 0; i < 50 * 1024 * 1024 / sizeof(buf); i++)
		fwrite(buf, 1, sizeof(buf), f);
	fclose(f);

	s = signers(&ns);
	memset(&p, 0, sizeof(p));
	p.canon = DKIM_CANON_RELAXED;
	p.now = 1;
	before = maxrss_kb();
	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(dkim_msg_read(&m, fd, 0, err, sizeof(err)) == DKIM_OK);
	CHECK(dkim_sign(&m, &p, s, ns, out, sizeof(out), &outlen, err,
	    sizeof(err)) == DKIM_OK);
	dkim_msg_free(&m);
	close(fd);
	unlink(path);
	after = maxrss_kb();
	printf("#   max RSS %ld KB before, %ld KB after signing 50 MB\n",
	    before, after);
	CHECK(after - before < 4096);
}

static void
test_cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	CHECK(system(cmd) == 0);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

int
main(void)
{
	RUN(test_setup_keys);
	RUN(test_verifier_present);
	RUN(test_rfc8463_relaxed);
	RUN(test_rfc8463_simple);
	RUN(test_field_shape);
	RUN(test_expire_and_headers);
	RUN(test_msg_read);
	RUN(test_header_limit);
	RUN(test_memory_bounded);
	RUN(test_corpus_verifies);
	RUN(test_large_body_verifies);
	RUN(test_tampering_fails);
	RUN(test_cleanup);
	return unit_done();
}
