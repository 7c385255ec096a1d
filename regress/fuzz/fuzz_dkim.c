/*
 * fuzz_dkim: signd's readers of a message on hostile bytes.
 *
 * The input is written to a memory file and read by dkim_msg_read()
 * (header section, field index), every field is canonicalized both ways,
 * and the body is canonicalized both ways twice: at once and in pieces
 * whose sizes the first input byte chooses.  Besides memory safety it
 * checks the promises of dkim_canon.h and dkim_sign.h: the two feeds give
 * the same bytes, canonical header output is never longer than its input,
 * field offsets stay inside the header section, and the body hash of
 * dkim_body_hash() equals SHA-256 of what the canonicalizer produced.
 */
#include <sys/mman.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "signd/dkim_canon.h"
#include "signd/dkim_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct acc {
	EVP_MD_CTX	*md;
	unsigned char	*buf;
	size_t		 len, cap;
};

static void
acc_out(void *arg, const void *p, size_t n)
{
	struct acc *a = arg;

	if (a->len + n > a->cap)
		abort();
	memcpy(a->buf + a->len, p, n);
	a->len += n;
	if (a->md != NULL)
		EVP_DigestUpdate(a->md, p, n);
}

static void
body_twice(enum dkim_canon c, const uint8_t *p, size_t n, size_t step,
    const struct dkim_msg *m)
{
	struct dkim_body b;
	struct acc one, two;
	unsigned char d1[32], d2[32];
	unsigned int dl;
	size_t off, k;

	/* output is at most twice the input, plus the CRLF added */
	one.cap = two.cap = 2 * n + 4;
	one.buf = malloc(one.cap);
	two.buf = malloc(two.cap);
	one.len = two.len = 0;
	one.md = EVP_MD_CTX_new();
	two.md = NULL;
	EVP_DigestInit_ex(one.md, EVP_sha256(), NULL);
	dkim_body_init(&b, c, acc_out, &one);
	dkim_body_feed(&b, p, n);
	dkim_body_end(&b);
	dkim_body_init(&b, c, acc_out, &two);
	for (off = 0; off < n; off += k) {
		k = step < n - off ? step : n - off;
		dkim_body_feed(&b, p + off, k);
	}
	dkim_body_end(&b);
	if (one.len != two.len || memcmp(one.buf, two.buf, one.len) != 0)
		abort();
	EVP_DigestFinal_ex(one.md, d1, &dl);
	if (m != NULL && (dkim_body_hash(m, c, d2, NULL, 0) != DKIM_OK ||
	    memcmp(d1, d2, 32) != 0))
		abort();
	EVP_MD_CTX_free(one.md);
	free(one.buf);
	free(two.buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_msg m;
	char err[128], *out;
	size_t i, n, step;
	int fd, c;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 17;
	data++;
	size--;
	if ((fd = memfd_create("fuzz_dkim", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	if (dkim_msg_read(&m, fd, 64 * 1024, err, sizeof(err)) == DKIM_OK) {
		if (m.hlen > m.hblock || (size_t)m.body_off > size)
			abort();
		out = malloc(m.hlen + 1);
		for (i = 0; i < m.nfields; i++) {
			if (m.fields[i].off + m.fields[i].len > m.hlen ||
			    m.fields[i].namelen == 0)
				abort();
			for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED;
			    c++) {
				n = dkim_canon_header(c,
				    m.hbuf + m.fields[i].off, m.fields[i].len,
				    out, m.hlen + 1);
				if (n == (size_t)-1 || n > m.fields[i].len)
					abort();
			}
		}
		free(out);
		for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++)
			body_twice(c, data + m.body_off, size - m.body_off,
			    step, &m);
		dkim_msg_free(&m);
	}
	for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++)
		body_twice(c, data, size, step, NULL);
	close(fd);
	return 0;
}
