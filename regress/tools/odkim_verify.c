/*
 * odkim_verify: verify every DKIM-Signature of a message with OpenDKIM's
 * library (libopendkim), the keys read from a file instead of the DNS.
 *
 *	odkim_verify KEYFILE MESSAGE
 *
 * KEYFILE holds lines "<sel>._domainkey.<domain> <TXT record>" (the
 * format of dkimverify.py, and of libopendkim's DKIM_QUERY_FILE).  The
 * message is CRLF text; header fields are given to dkim_header() one by
 * one, the body to dkim_body().  Prints "pass d= s=" or "fail d= s=
 * (reason)" per signature; exits 0 when there is at least one signature
 * and every one passes, 1 otherwise, 2 on a usage or library error.
 *
 * A test tool, built by regress/e2e/test_dkim.py with -lopendkim
 * (libopendkim-dev): opendkim-testmsg cannot take keys from a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <opendkim/dkim.h>

static unsigned char *
slurp(const char *path, size_t *lenp)
{
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0, n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				exit(2);
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	*lenp = len;
	return buf;
}

int
main(int argc, char **argv)
{
	DKIM_LIB *lib;
	DKIM *d;
	DKIM_SIGINFO **sigs;
	DKIM_STAT st;
	unsigned char *m, *p, *end, *e;
	size_t len;
	int qm = DKIM_QUERY_FILE, nsigs = 0, i, bad = 0;

	if (argc != 3 || (m = slurp(argv[2], &len)) == NULL) {
		fprintf(stderr, "usage: odkim_verify keyfile message\n");
		return 2;
	}
	if ((lib = dkim_init(NULL, NULL)) == NULL ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm,
	    sizeof(qm)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, argv[1],
	    strlen(argv[1])) != DKIM_STAT_OK)
		return 2;
	if ((d = dkim_verify(lib, (unsigned char *)"odkim", NULL, &st)) ==
	    NULL)
		return 2;
	p = m;
	end = m + len;
	/* one field at a time: up to a CRLF not followed by WSP */
	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		for (e = p; e + 1 < end; e++)
			if (e[0] == '\r' && e[1] == '\n' && (e + 2 >= end ||
			    (e[2] != ' ' && e[2] != '\t')))
				break;
		if (e + 1 >= end)
			e = end;
		st = dkim_header(d, p, e - p);
		if (st != DKIM_STAT_OK) {
			printf("fail: dkim_header: %s\n",
			    dkim_getresultstr(st));
			return 1;
		}
		p = e + 2;
	}
	st = dkim_eoh(d);
	if (st == DKIM_STAT_NOSIG) {
		printf("fail: no signature\n");
		return 1;
	}
	if (p < end)
		p += 2;
	if (p < end)
		(void)dkim_body(d, p, end - p);
	st = dkim_eom(d, NULL);
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK || nsigs == 0) {
		printf("fail: no signature (%s)\n", dkim_getresultstr(st));
		return 1;
	}
	for (i = 0; i < nsigs; i++) {
		int ok = DKIM_SIG_CHECK(sigs[i]);

		printf("%s d=%s s=%s%s%s\n", ok ? "pass" : "fail",
		    dkim_sig_getdomain(sigs[i]), dkim_sig_getselector(sigs[i]),
		    ok ? "" : " ", ok ? "" :
		    dkim_sig_geterrorstr(dkim_sig_geterror(sigs[i])));
		bad += !ok;
	}
	dkim_free(d);
	dkim_close(lib);
	free(m);
	return bad ? 1 : 0;
}
