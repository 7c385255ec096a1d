/*
 * dkim_canon.c: see dkim_canon.h.
 */
#include <string.h>

#include "dkim_canon.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')
/* what relaxed body canonicalization may change or end a line at */
#define IS_SPECIAL(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || \
			 (c) == '\n')

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_SIMPLE ? "simple" : "relaxed";
}

/*
 * Relaxed header canonicalization (RFC 6376 3.4.2): the name in lower
 * case without the whitespace before the colon; the value unfolded (every
 * CRLF deleted), each run of WSP made one SP, WSP at both ends deleted.
 */
static size_t
canon_header_relaxed(const char *f, size_t len, char *out, size_t outsz)
{
	const char *colon;
	size_t namelen, i, o = 0;
	int pend = 0, started = 0;

	if ((colon = memchr(f, ':', len)) == NULL)
		return (size_t)-1;
	namelen = colon - f;
	while (namelen > 0 && IS_WSP(f[namelen - 1]))
		namelen--;
	if (namelen + 1 > outsz)
		return (size_t)-1;
	for (i = 0; i < namelen; i++) {
		char c = f[i];

		out[o++] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
	}
	out[o++] = ':';
	for (i = colon - f + 1; i < len; i++) {
		char c = f[i];

		if (c == '\r' && i + 1 < len && f[i + 1] == '\n') {
			i++;
			continue;
		}
		if (IS_WSP(c)) {
			pend = started;
			continue;
		}
		if (o + pend + 1 > outsz)
			return (size_t)-1;
		if (pend)
			out[o++] = ' ';
		pend = 0;
		out[o++] = c;
		started = 1;
	}
	return o;
}

size_t
dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
    char *out, size_t outsz)
{
	if (c == DKIM_CANON_RELAXED)
		return canon_header_relaxed(field, len, out, outsz);
	if (memchr(field, ':', len) == NULL || len > outsz)
		return (size_t)-1;
	memcpy(out, field, len);
	return len;
}

void
dkim_body_init(struct dkim_body *b, enum dkim_canon c, dkim_body_out fn,
    void *arg)
{
	memset(b, 0, offsetof(struct dkim_body, buf));
	b->canon = c;
	b->out = fn;
	b->arg = arg;
}

static void
body_flush(struct dkim_body *b)
{
	if (b->blen > 0)
		b->out(b->arg, b->buf, b->blen);
	b->blen = 0;
}

static void
body_put(struct dkim_body *b, const unsigned char *p, size_t n)
{
	size_t k;

	b->written += n;
	while (n > 0) {
		if (b->blen == sizeof(b->buf))
			body_flush(b);
		k = sizeof(b->buf) - b->blen;
		if (k > n)
			k = n;
		memcpy(b->buf + b->blen, p, k);
		b->blen += k;
		p += k;
		n -= k;
	}
}

/*
 * Content for the current line: first the empty lines held back (they
 * were not at the end of the body after all), then the one SP that
 * stands for a run of whitespace (relaxed), then the bytes.
 */
static void
body_content(struct dkim_body *b, const unsigned char *p, size_t n)
{
	if (!b->inline_) {
		for (; b->blank > 0; b->blank--)
			body_put(b, (const unsigned char *)"\r\n", 2);
		b->inline_ = 1;
	}
	if (b->wsp) {
		body_put(b, (const unsigned char *)" ", 1);
		b->wsp = 0;
	}
	body_put(b, p, n);
}

/* A CRLF: whitespace before it is dropped; an empty line is held back. */
static void
body_line_end(struct dkim_body *b)
{
	b->wsp = 0;
	if (b->inline_) {
		body_put(b, (const unsigned char *)"\r\n", 2);
		b->inline_ = 0;
	} else
		b->blank++;
}

void
dkim_body_feed(struct dkim_body *b, const void *data, size_t n)
{
	const unsigned char *p = data, *end = p + n, *q;
	int relaxed = b->canon == DKIM_CANON_RELAXED;

	while (p < end) {
		if (b->held_cr) {
			b->held_cr = 0;
			if (*p == '\n') {
				p++;
				body_line_end(b);
				continue;
			}
			/* a lone CR is content; *p is looked at again */
			body_content(b, (const unsigned char *)"\r", 1);
			continue;
		}
		if (*p == '\r') {
			b->held_cr = 1;
			p++;
			continue;
		}
		if (*p == '\n') {
			/* a bare LF ends a line, as receivers read it */
			p++;
			body_line_end(b);
			continue;
		}
		if (relaxed && IS_WSP(*p)) {
			b->wsp = 1;
			p++;
			continue;
		}
		/*
		 * A run of bytes that canonicalization leaves alone goes out
		 * in one piece.  For relaxed that includes a single SP
		 * between two ordinary bytes, so ordinary text is one run a
		 * line rather than one a word.
		 */
		q = p + 1;
		if (relaxed) {
			while (q < end && !IS_SPECIAL(*q))
				q++;
			while (q + 1 < end && *q == ' ' &&
			    !IS_SPECIAL(q[1])) {
				for (q += 2; q < end && !IS_SPECIAL(*q); q++)
					;
			}
		} else {
			while (q < end && *q != '\r' && *q != '\n')
				q++;
		}
		body_content(b, p, q - p);
		p = q;
	}
}

void
dkim_body_end(struct dkim_body *b)
{
	if (b->held_cr) {
		b->held_cr = 0;
		body_content(b, (const unsigned char *)"\r", 1);
	}
	b->wsp = 0;
	if (b->inline_) {
		body_put(b, (const unsigned char *)"\r\n", 2);
		b->inline_ = 0;
	}
	if (b->canon == DKIM_CANON_SIMPLE && b->written == 0)
		body_put(b, (const unsigned char *)"\r\n", 2);
	b->blank = 0;
	body_flush(b);
}
