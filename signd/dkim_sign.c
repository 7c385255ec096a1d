/*
 * dkim_sign.c: see dkim_sign.h.
 */
#include <sys/types.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dkim_sign.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

/* One entry of h=: a header name as it will be written. */
struct hname {
	const char	*name;
	size_t		 len;
};

static int seterr(char *, size_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
seterr(char *err, size_t errsz, int rv, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rv;
}

const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/*
 * Reading the header section.
 */

static ssize_t
pread_full(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r;

	for (;;) {
		r = pread(fd, buf, n, off);
		if (r == -1 && errno == EINTR)
			continue;
		return r;
	}
}

/* A header name is printable US-ASCII without ':' (RFC 5322 ftext). */
static int
ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Split hbuf[0..hlen) into fields; continuation lines start with WSP. */
static int
msg_index(struct dkim_msg *m, char *err, size_t errsz)
{
	size_t i = 0, s, e, n, cap = 0;
	struct dkim_field *f, *nf;

	while (i < m->hlen) {
		s = i;
		for (e = s; e < m->hlen; e++) {
			unsigned char c = m->hbuf[e];

			if (c == '\r' && e + 1 < m->hlen &&
			    m->hbuf[e + 1] == '\n')
				break;
			if (c == '\0' || c == '\r' || c == '\n')
				return seterr(err, errsz, DKIM_EMSG,
				    "NUL, lone CR or LF in header section");
		}
		i = e + 2;
		if (IS_WSP(m->hbuf[s])) {
			if (m->nfields == 0)
				return seterr(err, errsz, DKIM_EMSG,
				    "header section starts with a "
				    "continuation line");
			f = &m->fields[m->nfields - 1];
			f->len = e - f->off;
			continue;
		}
		for (n = s; n < e && ftext(m->hbuf[n]); n++)
			;
		if (n == s)
			return seterr(err, errsz, DKIM_EMSG,
			    "malformed header field");
		for (; n < e; n++)
			if (m->hbuf[n] == ':')
				break;
			else if (!IS_WSP(m->hbuf[n]))
				return seterr(err, errsz, DKIM_EMSG,
				    "malformed header field");
		if (n == e)
			return seterr(err, errsz, DKIM_EMSG,
			    "header field without a colon");
		if (m->nfields == DKIM_MAX_FIELDS)
			return seterr(err, errsz, DKIM_EMSG,
			    "more than %d header fields", DKIM_MAX_FIELDS);
		if (m->nfields == cap) {
			cap = cap ? cap * 2 : 32;
			nf = reallocarray(m->fields, cap, sizeof(*nf));
			if (nf == NULL)
				return seterr(err, errsz, DKIM_ESYS,
				    "out of memory");
			m->fields = nf;
		}
		f = &m->fields[m->nfields++];
		f->off = s;
		f->len = e - s;
		f->namelen = n - s;
		while (f->namelen > 0 && IS_WSP(m->hbuf[s + f->namelen - 1]))
			f->namelen--;
	}
	return DKIM_OK;
}

/* Where does the header section end?  Sets hlen and body_off. */
static int
msg_find_end(struct dkim_msg *m, size_t len, size_t from)
{
	size_t i;

	if (len >= 2 && from == 0 && m->hbuf[0] == '\r' &&
	    m->hbuf[1] == '\n') {
		m->hlen = 0;
		m->body_off = 2;
		return 1;
	}
	for (i = from; i + 4 <= len; i++) {
		if (m->hbuf[i] == '\r' && memcmp(m->hbuf + i, "\r\n\r\n",
		    4) == 0) {
			m->hlen = i + 2;
			m->body_off = i + 4;
			return 1;
		}
	}
	return 0;
}

int
dkim_msg_read(struct dkim_msg *m, int fd, size_t maxhdr, char *err,
    size_t errsz)
{
	size_t cap = 0, len = 0, from = 0;
	ssize_t r;
	char *nb;

	memset(m, 0, sizeof(*m));
	m->fd = fd;
	if (maxhdr == 0 || maxhdr > DKIM_MAX_HEADER)
		maxhdr = DKIM_MAX_HEADER;
	for (;;) {
		if (len == cap) {
			if (cap >= maxhdr + 4) {
				dkim_msg_free(m);
				return seterr(err, errsz, DKIM_EMSG,
				    "header section over %zu bytes", maxhdr);
			}
			cap = cap ? cap * 2 : 16384;
			if (cap > maxhdr + 4)
				cap = maxhdr + 4;
			if ((nb = realloc(m->hbuf, cap)) == NULL) {
				dkim_msg_free(m);
				return seterr(err, errsz, DKIM_ESYS,
				    "out of memory");
			}
			m->hbuf = nb;
		}
		r = pread_full(fd, m->hbuf + len, cap - len, len);
		if (r == -1) {
			dkim_msg_free(m);
			return seterr(err, errsz, DKIM_ESYS, "read: %s",
			    strerror(errno));
		}
		if (r == 0) {
			/* no empty line: all header, no body */
			m->hlen = len;
			m->body_off = len;
			break;
		}
		len += r;
		if (msg_find_end(m, len, from))
			break;
		from = len >= 3 ? len - 3 : 0;
	}
	if (m->hlen > maxhdr) {
		dkim_msg_free(m);
		return seterr(err, errsz, DKIM_EMSG,
		    "header section over %zu bytes", maxhdr);
	}
	/* hlen excludes the CRLF of the last field: fields end at a CRLF */
	m->hblock = m->hlen;
	if (m->hlen >= 2 && m->hbuf[m->hlen - 2] == '\r' &&
	    m->hbuf[m->hlen - 1] == '\n')
		m->hlen -= 2;
	if ((r = msg_index(m, err, errsz)) != DKIM_OK) {
		dkim_msg_free(m);
		return r;
	}
	return DKIM_OK;
}

void
dkim_msg_free(struct dkim_msg *m)
{
	free(m->hbuf);
	free(m->fields);
	m->hbuf = NULL;
	m->fields = NULL;
	m->nfields = m->hlen = m->hblock = 0;
}

static int
field_is(const struct dkim_msg *m, size_t i, const char *name, size_t len)
{
	const struct dkim_field *f = &m->fields[i];

	return f->namelen == len &&
	    strncasecmp(m->hbuf + f->off, name, len) == 0;
}

size_t
dkim_msg_count(const struct dkim_msg *m, const char *name, size_t *lastp)
{
	size_t i, n = 0, len = strlen(name);

	for (i = 0; i < m->nfields; i++)
		if (field_is(m, i, name, len)) {
			n++;
			if (lastp != NULL)
				*lastp = i;
		}
	return n;
}

const char *
dkim_msg_value(const struct dkim_msg *m, size_t i, size_t *lenp)
{
	const struct dkim_field *f = &m->fields[i];
	const char *p = m->hbuf + f->off, *c;

	c = memchr(p, ':', f->len);	/* msg_index saw it */
	*lenp = f->len - (c + 1 - p);
	return c + 1;
}

/*
 * Hashing.
 */

/*
 * Feed the fields named in h (in that order) to the digest, each name
 * taking the last instance not yet taken (RFC 6376 5.4.2); a name with
 * no instance left contributes nothing.
 */
static int
hash_fields(const struct dkim_msg *m, enum dkim_canon c,
    const struct hname *h, size_t nh, EVP_MD_CTX *ctx)
{
	unsigned char *used = NULL;
	char *tmp = NULL;
	size_t i, j, k, n;
	int rv = -1;

	if ((used = calloc(m->nfields + 1, 1)) == NULL ||
	    (tmp = malloc(m->hlen + 1)) == NULL)
		goto done;
	for (i = 0; i < nh; i++) {
		for (k = m->nfields; k > 0; k--) {
			j = k - 1;
			if (!used[j] && field_is(m, j, h[i].name, h[i].len))
				break;
		}
		if (k == 0)
			continue;
		used[j] = 1;
		n = dkim_canon_header(c, m->hbuf + m->fields[j].off,
		    m->fields[j].len, tmp, m->hlen + 1);
		if (n == (size_t)-1 ||
		    EVP_DigestUpdate(ctx, tmp, n) != 1 ||
		    EVP_DigestUpdate(ctx, "\r\n", 2) != 1)
			goto done;
	}
	rv = 0;
done:
	free(used);
	free(tmp);
	return rv;
}

/* The signature field itself, canonicalized, without a final CRLF. */
static int
hash_sigfield(enum dkim_canon c, const char *sig, size_t len,
    EVP_MD_CTX *ctx)
{
	char *tmp;
	size_t n;
	int rv = -1;

	if ((tmp = malloc(len + 1)) == NULL)
		return -1;
	n = dkim_canon_header(c, sig, len, tmp, len + 1);
	if (n != (size_t)-1 && EVP_DigestUpdate(ctx, tmp, n) == 1)
		rv = 0;
	free(tmp);
	return rv;
}

static int
header_digest(const struct dkim_msg *m, enum dkim_canon c,
    const struct hname *h, size_t nh, const char *sig, size_t siglen,
    unsigned char digest[32])
{
	EVP_MD_CTX *ctx;
	unsigned int dlen;
	int rv = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    hash_fields(m, c, h, nh, ctx) == 0 &&
	    hash_sigfield(c, sig, siglen, ctx) == 0 &&
	    EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 && dlen == 32)
		rv = 0;
	EVP_MD_CTX_free(ctx);
	return rv;
}

int
dkim_header_hash(const struct dkim_msg *m, enum dkim_canon c,
    const char *hlist, const char *sig, size_t siglen,
    unsigned char digest[32])
{
	struct hname h[64];
	size_t nh = 0;
	const char *p = hlist, *e;

	while (*p != '\0') {
		while (IS_WSP(*p) || *p == ':')
			p++;
		for (e = p; *e != '\0' && *e != ':' && !IS_WSP(*e); e++)
			;
		if (e == p)
			break;
		if (nh == sizeof(h) / sizeof(h[0]))
			return -1;
		h[nh].name = p;
		h[nh++].len = e - p;
		p = e;
	}
	return header_digest(m, c, h, nh, sig, siglen, digest);
}

static void
body_to_digest(void *arg, const void *p, size_t n)
{
	if (EVP_DigestUpdate(arg, p, n) != 1)
		abort();	/* SHA-256 update cannot fail on valid ctx */
}

int
dkim_body_hash(const struct dkim_msg *m, enum dkim_canon c,
    unsigned char digest[32], char *err, size_t errsz)
{
	struct dkim_body b;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	unsigned int dlen;
	off_t off = m->body_off;
	ssize_t r;
	int rv;

	if ((buf = malloc(DKIM_READ_CHUNK)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rv = seterr(err, errsz, DKIM_ESYS, "out of memory");
		goto done;
	}
	dkim_body_init(&b, c, body_to_digest, ctx);
	while ((r = pread_full(m->fd, buf, DKIM_READ_CHUNK, off)) > 0) {
		dkim_body_feed(&b, buf, r);
		off += r;
	}
	if (r == -1) {
		rv = seterr(err, errsz, DKIM_ESYS, "read: %s",
		    strerror(errno));
		goto done;
	}
	dkim_body_end(&b);
	if (EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 || dlen != 32) {
		rv = seterr(err, errsz, DKIM_ESYS, "sha256 failed");
		goto done;
	}
	rv = DKIM_OK;
done:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rv;
}

int
dkim_sign_digest(EVP_PKEY *key, enum dkim_alg alg,
    const unsigned char digest[32], unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	int rv = -1;

	if (alg == DKIM_ED25519) {
		/* RFC 8463: PureEdDSA over the 32-byte SHA-256 digest */
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
		    (mctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) != 1 ||
		    EVP_DigestSign(mctx, sig, siglen, digest, 32) != 1)
			goto done;
	} else {
		/* PKCS#1 v1.5 over DigestInfo(SHA-256, digest) */
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
		    (pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
		    EVP_PKEY_sign_init(pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_sign(pctx, sig, siglen, digest, 32) != 1)
			goto done;
	}
	rv = 0;
done:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	return rv;
}

/*
 * Folding.  Words are appended to the field; a word that would pass
 * DKIM_LINE_MAX starts a new line (CRLF TAB).  The TAB counts as 8.
 */
struct fold {
	char	*buf;
	size_t	 sz;
	size_t	 len;
	size_t	 col;
	int	 err;
};

static void
fold_raw(struct fold *f, const char *s, size_t n)
{
	if (f->err || n >= f->sz - f->len) {
		f->err = 1;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

static void
fold_break(struct fold *f)
{
	fold_raw(f, "\r\n\t", 3);
	f->col = 8;
}

/* Append s; sp: a space goes before it unless it starts a line. */
static void
fold_word(struct fold *f, const char *s, size_t n, int sp, size_t need)
{
	if (f->col > 8 && f->col + sp + need > DKIM_LINE_MAX)
		fold_break(f);
	else if (sp) {
		fold_raw(f, " ", 1);
		f->col++;
	}
	fold_raw(f, s, n);
	f->col += n;
}

static void fold_tag(struct fold *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fold_tag(struct fold *f, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		f->err = 1;
		return;
	}
	fold_word(f, tmp, n, 1, n);
}

/* A base64 value, broken anywhere to fill the lines. */
static void
fold_b64(struct fold *f, const char *s, size_t n)
{
	size_t k;

	while (n > 0) {
		if (f->col >= DKIM_LINE_MAX)
			fold_break(f);
		k = DKIM_LINE_MAX - f->col;
		if (k > n)
			k = n;
		fold_raw(f, s, k);
		f->col += k;
		s += k;
		n -= k;
	}
}

/*
 * The h= list: From first, then the configured names; each as many times
 * as it occurs, From once more.
 */
static size_t
hlist_build(const struct dkim_msg *m, const struct dkim_params *p,
    struct hname *h, size_t hmax)
{
	static char *const defaults[] = { DKIM_DEFAULT_HEADERS };
	char *const *names = p->headers;
	const char *name;
	size_t nh = 0, i, j, k, len, cnt;
	int nnames = p->nheaders;

	if (names == NULL || nnames == 0) {
		names = defaults;
		nnames = sizeof(defaults) / sizeof(defaults[0]);
	}
	for (i = 0; i <= (size_t)nnames; i++) {
		name = i == 0 ? "From" : names[i - 1];
		len = strlen(name);
		if (len == 0 || strcasecmp(name, "DKIM-Signature") == 0 ||
		    (i > 0 && strcasecmp(name, "From") == 0))
			continue;
		for (k = 0; k < len && ftext(name[k]) && name[k] != ';'; k++)
			;
		if (k != len)
			continue;
		for (j = 0; j < nh; j++)
			if (h[j].len == len &&
			    strncasecmp(h[j].name, name, len) == 0)
				break;
		if (j < nh)
			continue;	/* a repeat in the list */
		cnt = dkim_msg_count(m, name, NULL) + (i == 0);
		for (k = 0; k < cnt && nh < hmax; k++) {
			h[nh].name = name;
			h[nh++].len = len;
		}
	}
	return nh;
}

static int
sign_one(const struct dkim_msg *m, const struct dkim_params *p,
    const struct dkim_signer *s, const struct hname *h, size_t nh,
    const char *bh, struct fold *f, char *err, size_t errsz)
{
	unsigned char digest[32], sig[1024];
	char b64[((sizeof(sig) + 2) / 3) * 4 + 1];
	size_t start = f->len, siglen = sizeof(sig), i;
	const char *sep;

	f->col = 0;
	fold_raw(f, "DKIM-Signature:", 15);
	f->col = 15;
	fold_tag(f, "v=1;");
	fold_tag(f, "a=%s;", dkim_alg_name(s->alg));
	fold_tag(f, "c=%s/%s;", dkim_canon_name(p->canon),
	    dkim_canon_name(p->canon));
	fold_tag(f, "d=%s;", s->domain);
	fold_tag(f, "s=%s;", s->selector);
	fold_tag(f, "t=%lld;", (long long)p->now);
	if (p->expire > 0)
		fold_tag(f, "x=%lld;", (long long)(p->now + p->expire));
	for (i = 0; i < nh; i++) {
		char w[300];
		int n;

		sep = i + 1 == nh ? ";" : ":";
		n = snprintf(w, sizeof(w), "%s%.*s%s", i == 0 ? "h=" : "",
		    (int)h[i].len, h[i].name, sep);
		if (n < 0 || (size_t)n >= sizeof(w)) {
			f->err = 1;
			break;
		}
		fold_word(f, w, n, i == 0, n);
	}
	fold_tag(f, "bh=%s;", bh);
	/* keep a few characters of the value on the line of "b=" */
	fold_word(f, "b=", 2, 1, 2 + 8);
	if (f->err)
		return seterr(err, errsz, DKIM_ESYS, "signature too long");

	if (header_digest(m, p->canon, h, nh, f->buf + start, f->len - start,
	    digest) == -1 ||
	    dkim_sign_digest(s->key, s->alg, digest, sig, &siglen) == -1)
		return seterr(err, errsz, DKIM_ESYS, "%s signing failed "
		    "d=%s s=%s", dkim_alg_name(s->alg), s->domain,
		    s->selector);
	EVP_EncodeBlock((unsigned char *)b64, sig, siglen);
	fold_b64(f, b64, strlen(b64));
	fold_raw(f, "\r\n", 2);
	if (f->err)
		return seterr(err, errsz, DKIM_ESYS, "signature too long");
	return DKIM_OK;
}

int
dkim_sign(const struct dkim_msg *m, const struct dkim_params *p,
    const struct dkim_signer *s, size_t ns, char *out, size_t outsz,
    size_t *outlen, char *err, size_t errsz)
{
	unsigned char bhash[32];
	char bh[48];
	struct hname *h;
	struct fold f;
	size_t nh, hmax, i;
	int rv;

	*outlen = 0;
	if (outsz == 0)
		return seterr(err, errsz, DKIM_ESYS, "no room");
	if ((rv = dkim_body_hash(m, p->canon, bhash, err, errsz)) != DKIM_OK)
		return rv;
	EVP_EncodeBlock((unsigned char *)bh, bhash, sizeof(bhash));

	hmax = m->nfields + 1;
	if ((h = calloc(hmax, sizeof(*h))) == NULL)
		return seterr(err, errsz, DKIM_ESYS, "out of memory");
	nh = hlist_build(m, p, h, hmax);

	memset(&f, 0, sizeof(f));
	f.buf = out;
	f.sz = outsz;
	out[0] = '\0';
	for (i = 0; i < ns; i++)
		if ((rv = sign_one(m, p, &s[i], h, nh, bh, &f, err,
		    errsz)) != DKIM_OK)
			break;
	free(h);
	if (rv != DKIM_OK)
		return rv;
	*outlen = f.len;
	return DKIM_OK;
}
