/*
 * dkim_canon.c: see dkim_canon.h.
 */
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
	if (n >= sizeof(b->buf)) {
		/* a long clean stretch goes to the hash where it lies */
		body_flush(b);
		b->out(b->arg, p, n);
		return;
	}
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

/*
 * The fast path.  Most bodies are long stretches that canonicalization
 * leaves exactly as they are: CRLF lines of text with single spaces
 * between words.  clean_run() measures such a stretch at p, 16 bytes at
 * a time, looking one byte ahead of each byte i (so it stops 17 bytes
 * before end).  Byte i spoils the stretch if
 *	- i is CR and i+1 is not LF, or i+1 is LF and i is not CR (a lone
 *	  CR, a bare LF);
 *	- i is LF and i+1 is CR (an empty line may follow: held back);
 *	- relaxed: i is a TAB, or i is SP and i+1 is SP, TAB, CR or LF (a run
 *	  of whitespace, whitespace at the end of a line).
 * Each rule looks only forward, so the byte before the stretch is the
 * caller's to vouch for: see dkim_body_feed().  Returns the length of
 * the clean stretch, a multiple of 16 unless a spoiling byte was found.
 */
#if defined(__SSE2__)
static size_t
clean_run(const unsigned char *p, const unsigned char *end, int relaxed)
{
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	const unsigned char *s = p;
	__m128i a, n, acr, nlf, ncr, bad, nsp;
	int m;

	while (end - p >= 17) {
		a = _mm_loadu_si128((const __m128i *)p);
		n = _mm_loadu_si128((const __m128i *)(p + 1));
		acr = _mm_cmpeq_epi8(a, cr);
		ncr = _mm_cmpeq_epi8(n, cr);
		nlf = _mm_cmpeq_epi8(n, lf);
		bad = _mm_xor_si128(acr, nlf);
		bad = _mm_or_si128(bad,
		    _mm_and_si128(_mm_cmpeq_epi8(a, lf), ncr));
		if (relaxed) {
			nsp = _mm_or_si128(_mm_or_si128(ncr, nlf),
			    _mm_or_si128(_mm_cmpeq_epi8(n, sp),
			    _mm_cmpeq_epi8(n, tab)));
			bad = _mm_or_si128(bad, _mm_cmpeq_epi8(a, tab));
			bad = _mm_or_si128(bad,
			    _mm_and_si128(_mm_cmpeq_epi8(a, sp), nsp));
		}
		if ((m = _mm_movemask_epi8(bad)) != 0)
			return p - s + __builtin_ctz(m);
		p += 16;
	}
	return p - s;
}
#else
static size_t
clean_run(const unsigned char *p, const unsigned char *end, int relaxed)
{
	const unsigned char *s = p;

	for (; end - p >= 17; p++) {
		if ((p[0] == '\r') != (p[1] == '\n') ||
		    (p[0] == '\n' && p[1] == '\r') ||
		    (relaxed && (p[0] == '\t' ||
		    (p[0] == ' ' && IS_SPECIAL(p[1])))))
			break;
	}
	return p - s;
}
#endif

/*
 * A clean stretch may start only where the state holds nothing back (no
 * CR, no whitespace) and p[0] needs no look behind: not an LF (was a CR
 * before it?), and not a CR at the start of a line (an empty line?).  It
 * must not end between the CR and the LF of a line end.  Its bytes go
 * out as they are; afterwards the line has content unless it ended with
 * the stretch's last LF.
 */
static size_t
body_fast(struct dkim_body *b, const unsigned char *p,
    const unsigned char *end, int relaxed)
{
	size_t k;

	if (b->held_cr || b->wsp || *p == '\n' ||
	    (*p == '\r' && !b->inline_))
		return 0;
	if ((k = clean_run(p, end, relaxed)) > 0 && p[k - 1] == '\r')
		k--;
	if (k == 0)
		return 0;
	body_content(b, p, k);
	b->inline_ = p[k - 1] != '\n';
	return k;
}

void
dkim_body_feed(struct dkim_body *b, const void *data, size_t n)
{
	const unsigned char *p = data, *end = p + n, *q;
	int relaxed = b->canon == DKIM_CANON_RELAXED;
	size_t k;

	while (p < end) {
		if (end - p >= 64 && (k = body_fast(b, p, end, relaxed)) > 0) {
			p += k;
			continue;
		}
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
