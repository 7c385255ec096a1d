/*
 * bench_dkim: DKIM signatures per second, per algorithm, for 2 KB and
 * 100 KB messages, against the floor for the same work measured in the
 * same program: one SHA-256 over the message's size plus one raw
 * signature (RSA-2048 PKCS#1 v1.5 over a SHA-256 digest, or Ed25519 over
 * 32 bytes), which is what `openssl speed' would time.  The figure that
 * matters is the overhead: microseconds per signature beyond that floor
 * (reading the file, canonicalization, header selection and hashing,
 * formatting the field).
 *
 *	bench_dkim [-s seconds per case]
 *
 * Sign and floor are timed in alternating slices of 50 ms and each
 * figure is the median of its slices (see measure()).  One line per case:
 *	alg=rsa-sha256 size=2048 sigs_per_sec=... us_per_sig=...
 *	    floor_us=... overhead_us=...
 * "dual" is both signatures on one body hash, as signd makes them.
 *
 * The bench rule of the Makefile links lib/libpostern.a only, so the two
 * signd modules measured are compiled in here.
 */
#include <sys/types.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "signd/dkim_canon.h"
#include "signd/dkim_sign.h"

static double seconds = 2.0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A message of about size bytes: headers, then 76-byte text lines. */
static char *
make_message(size_t size, size_t *lenp)
{
	static const char words[] = "the printer scanned this page and sent "
	    "it as a PDF attachment to the office mailbox; ";
	char *m = malloc(size + 256);
	size_t o, col = 0, w = 0;

	o = snprintf(m, size + 256,
	    "From: Office Scanner <scans@example.com>\r\n"
	    "To: someone@example.net\r\n"
	    "Subject: Scanned document 0042\r\n"
	    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "Message-ID: <20231114221320.42@scanner.example.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n");
	while (o < size) {
		if (col == 74) {
			m[o++] = '\r';
			m[o++] = '\n';
			col = 0;
			continue;
		}
		m[o++] = words[w++ % (sizeof(words) - 1)];
		col++;
	}
	memcpy(m + o, "\r\n", 2);
	*lenp = o + 2;
	return m;
}

/* One floor operation: SHA-256 over the message, the raw signature(s). */
static void
floor_op(EVP_PKEY *rsa, EVP_PKEY *ed, int which, const char *buf,
    size_t len)
{
	unsigned char d[32], sig[512];
	size_t siglen;
	unsigned int dl;

	EVP_Digest(buf, len, d, &dl, EVP_sha256(), NULL);
	if (which & 1) {
		siglen = sizeof(sig);
		if (dkim_sign_digest(rsa, DKIM_RSA, d, sig, &siglen))
			abort();
	}
	if (which & 2) {
		siglen = sizeof(sig);
		if (dkim_sign_digest(ed, DKIM_ED25519, d, sig, &siglen))
			abort();
	}
}

/* One signing operation as signd does it: read, hash, sign, format. */
static void
sign_op(int fd, const struct dkim_signer *s, size_t ns)
{
	char out[8192], err[128];
	struct dkim_params p;
	struct dkim_msg m;
	size_t outlen;

	memset(&p, 0, sizeof(p));
	p.canon = DKIM_CANON_RELAXED;
	p.now = 1700000000;
	if (dkim_msg_read(&m, fd, 0, err, sizeof(err)) != DKIM_OK ||
	    dkim_sign(&m, &p, s, ns, out, sizeof(out), &outlen, err,
	    sizeof(err)) != DKIM_OK) {
		fprintf(stderr, "bench_dkim: %s\n", err);
		exit(1);
	}
	dkim_msg_free(&m);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The machine may be busy: the two are measured in alternating slices
 * of ROUND_SECONDS and each figure is the median over the slices, so
 * that both see the same conditions.
 */
#define ROUNDS_MAX	200
#define ROUND_SECONDS	0.05

static void
measure(int fd, const struct dkim_signer *s, size_t ns, EVP_PKEY *rsa,
    EVP_PKEY *ed, int which, const char *buf, size_t len, double *us,
    double *floor_us)
{
	double a[ROUNDS_MAX], f[ROUNDS_MAX], t0, t;
	int r, rounds, n;

	rounds = seconds / (2 * ROUND_SECONDS);
	if (rounds < 3)
		rounds = 3;
	if (rounds > ROUNDS_MAX)
		rounds = ROUNDS_MAX;
	for (r = 0; r < rounds; r++) {
		t0 = now();
		n = 0;
		do {
			sign_op(fd, s, ns);
			n++;
		} while ((t = now() - t0) < ROUND_SECONDS);
		a[r] = t / n * 1e6;
		t0 = now();
		n = 0;
		do {
			floor_op(rsa, ed, which, buf, len);
			n++;
		} while ((t = now() - t0) < ROUND_SECONDS);
		f[r] = t / n * 1e6;
	}
	qsort(a, rounds, sizeof(a[0]), cmp_double);
	qsort(f, rounds, sizeof(f[0]), cmp_double);
	*us = a[rounds / 2];
	*floor_us = f[rounds / 2];
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 2048, 100 * 1024 };
	char path[] = "/tmp/bench_dkim.XXXXXX";
	struct dkim_signer s[2];
	EVP_PKEY *rsa, *ed;
	size_t i, len;
	double us, fl;
	char *m;
	int fd, c, which;

	while ((c = getopt(argc, argv, "s:")) != -1) {
		if (c != 's' || (seconds = atof(optarg)) <= 0) {
			fprintf(stderr, "usage: bench_dkim [-s seconds]\n");
			return 2;
		}
	}
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa == NULL || ed == NULL)
		return 1;
	s[0] = (struct dkim_signer){ DKIM_RSA, "example.com", "r1", rsa };
	s[1] = (struct dkim_signer){ DKIM_ED25519, "example.com", "e1", ed };

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		m = make_message(sizes[i], &len);
		if ((fd = mkstemp(path)) == -1 ||
		    write(fd, m, len) != (ssize_t)len)
			return 1;
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
		for (which = 1; which <= 3; which++) {
			measure(fd, which == 2 ? s + 1 : s, which == 3 ? 2 : 1,
			    rsa, ed, which, m, len, &us, &fl);
			printf("alg=%s size=%zu sigs_per_sec=%.0f "
			    "us_per_sig=%.1f floor_us=%.1f overhead_us=%.1f\n",
			    which == 1 ? "rsa-sha256" : which == 2 ?
			    "ed25519-sha256" : "dual", sizes[i], 1e6 / us, us,
			    fl, us - fl);
			fflush(stdout);
		}
		close(fd);
		free(m);
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return 0;
}
