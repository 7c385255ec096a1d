/*
 * test_dkim_canon: RFC 6376 3.4 canonicalization, known answers from
 * section 3.4.5 and the edge cases around empty lines, and a comparison
 * of the streaming body canonicalizer, fed in random chunks, with a
 * whole-buffer reference written the way the RFC words the steps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signd/dkim_canon.h"
#include "unit.h"

struct sink {
	char	buf[65536];
	size_t	len;
	int	calls;
};

static void
sink_out(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (s->len + n > sizeof(s->buf))
		abort();
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->calls++;
}

/* Canonicalize body (len bytes) fed in pieces of `step' (0: at once). */
static void
canon_body(enum dkim_canon c, const char *body, size_t len, size_t step,
    struct sink *s)
{
	struct dkim_body b;
	size_t off, k;

	memset(s, 0, sizeof(*s));
	dkim_body_init(&b, c, sink_out, s);
	for (off = 0; off < len; off += k) {
		k = step == 0 ? len - off : step;
		if (k > len - off)
			k = len - off;
		dkim_body_feed(&b, body + off, k);
	}
	dkim_body_end(&b);
	s->buf[s->len] = '\0';
}

static const char *
hdr(enum dkim_canon c, const char *field)
{
	static char out[1024];
	size_t n;

	n = dkim_canon_header(c, field, strlen(field), out, sizeof(out) - 1);
	if (n == (size_t)-1)
		return NULL;
	out[n] = '\0';
	return out;
}

/* RFC 6376 3.4.5: the two header fields of the example. */
static void
test_rfc_headers(void)
{
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "A: X"), "a:X");
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  "), "b:Y Z");
	CHECK_STR(hdr(DKIM_CANON_SIMPLE, "A: X"), "A: X");
	CHECK_STR(hdr(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  "),
	    "B : Y\t\r\n\tZ  ");
}

#define RFC_BODY " C \r\nD \t E\r\n\r\n\r\n"

static void
test_rfc_body(void)
{
	struct sink s;

	canon_body(DKIM_CANON_RELAXED, RFC_BODY, strlen(RFC_BODY), 0, &s);
	CHECK_STR(s.buf, " C\r\nD E\r\n");
	canon_body(DKIM_CANON_SIMPLE, RFC_BODY, strlen(RFC_BODY), 0, &s);
	CHECK_STR(s.buf, " C \r\nD \t E\r\n");
	/* and one byte at a time */
	canon_body(DKIM_CANON_RELAXED, RFC_BODY, strlen(RFC_BODY), 1, &s);
	CHECK_STR(s.buf, " C\r\nD E\r\n");
	canon_body(DKIM_CANON_SIMPLE, RFC_BODY, strlen(RFC_BODY), 1, &s);
	CHECK_STR(s.buf, " C \r\nD \t E\r\n");
}

static void
test_header_edges(void)
{
	CHECK(hdr(DKIM_CANON_RELAXED, "no colon here") == NULL);
	CHECK(hdr(DKIM_CANON_SIMPLE, "no colon here") == NULL);
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "Subject:"), "subject:");
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "Subject: \t "), "subject:");
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "SUBJECT\t :\r\n  a  b\r\n c"),
	    "subject:a b c");
	/* a CRLF not followed by WSP is deleted all the same */
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "X-A: a\r\nb"), "x-a:ab");
	/* a lone CR stays */
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "X-A: a\rb"), "x-a:a\rb");
	/* 8-bit bytes pass through untouched */
	CHECK_STR(hdr(DKIM_CANON_RELAXED, "Subject: Gr\xc3\xbc\xc3\x9f"
	    "e  \xe2\x82\xac"), "subject:Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac");
	/* output too small */
	{
		char out[4];

		CHECK(dkim_canon_header(DKIM_CANON_RELAXED, "Subject: x", 10,
		    out, sizeof(out)) == (size_t)-1);
		CHECK(dkim_canon_header(DKIM_CANON_SIMPLE, "Subject: x", 10,
		    out, sizeof(out)) == (size_t)-1);
	}
}

static void
test_body_edges(void)
{
	struct sink s;

#define B(c, in, want) do {						\
	canon_body(c, in, sizeof(in) - 1, 0, &s);			\
	CHECK_INT(s.len, sizeof(want) - 1);				\
	CHECK(memcmp(s.buf, want, sizeof(want) - 1) == 0);		\
} while (0)
	/* empty bodies: simple is one CRLF, relaxed is nothing */
	B(DKIM_CANON_SIMPLE, "", "\r\n");
	B(DKIM_CANON_RELAXED, "", "");
	B(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	B(DKIM_CANON_RELAXED, "\r\n\r\n\r\n", "");
	/* whitespace-only trailing lines are empty for relaxed only */
	B(DKIM_CANON_RELAXED, "a\r\n \t\r\n  \r\n", "a\r\n");
	B(DKIM_CANON_SIMPLE, "a\r\n \t\r\n\r\n", "a\r\n \t\r\n");
	/* no final CRLF: one is added */
	B(DKIM_CANON_SIMPLE, "a\r\nb", "a\r\nb\r\n");
	B(DKIM_CANON_RELAXED, "a\r\nb", "a\r\nb\r\n");
	B(DKIM_CANON_SIMPLE, "a\r\n\r\nb  ", "a\r\n\r\nb  \r\n");
	B(DKIM_CANON_RELAXED, "a\r\n\r\nb  ", "a\r\n\r\nb\r\n");
	/* empty lines inside the body stay */
	B(DKIM_CANON_RELAXED, "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n");
	B(DKIM_CANON_SIMPLE, "\r\n\r\nb\r\n", "\r\n\r\nb\r\n");
	/* a lone CR is an ordinary byte, a CR at the very end too */
	B(DKIM_CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n");
	B(DKIM_CANON_RELAXED, "a \r b\r\n", "a \r b\r\n");
	/* a bare LF ends a line */
	B(DKIM_CANON_SIMPLE, "a\nb \n\n", "a\r\nb \r\n");
	B(DKIM_CANON_RELAXED, "a\nb \n\n", "a\r\nb\r\n");
	B(DKIM_CANON_RELAXED, "a\r\r\n\n\r\n", "a\r\r\n");
	B(DKIM_CANON_SIMPLE, "a\r", "a\r\r\n");
	B(DKIM_CANON_RELAXED, "\r\n\r", "\r\n\r\r\n");
	B(DKIM_CANON_RELAXED, "a\r\r\n", "a\r\r\n");
	/* leading whitespace of a line becomes one SP */
	B(DKIM_CANON_RELAXED, "\t\t x\r\n", " x\r\n");
#undef B
}

/*
 * The reference: split into lines at CRLF, apply the per-line rules,
 * drop trailing empty lines, join -- the RFC's wording, on a whole buffer.
 */
static size_t
ref_body(enum dkim_canon c, const char *in, size_t len, char *out)
{
	size_t o = 0, i = 0, lastnonempty = 0, start, end, lo, j;
	int pend;

	while (i < len) {
		start = i;
		while (i < len && in[i] != '\n' && !(in[i] == '\r' &&
		    i + 1 < len && in[i + 1] == '\n'))
			i++;
		end = i;
		if (i < len)
			i += in[i] == '\n' ? 1 : 2;
		lo = o;
		if (c == DKIM_CANON_RELAXED) {
			while (end > start && (in[end - 1] == ' ' ||
			    in[end - 1] == '\t'))
				end--;
			pend = 0;
			for (j = start; j < end; j++) {
				if (in[j] == ' ' || in[j] == '\t') {
					pend = 1;
					continue;
				}
				if (pend)
					out[o++] = ' ';
				pend = 0;
				out[o++] = in[j];
			}
		} else {
			memcpy(out + o, in + start, end - start);
			o += end - start;
		}
		out[o++] = '\r';
		out[o++] = '\n';
		if (o - 2 > lo)
			lastnonempty = o;
	}
	if (lastnonempty == 0 && c == DKIM_CANON_SIMPLE) {
		memcpy(out, "\r\n", 2);
		return 2;
	}
	return lastnonempty;
}

static void
test_body_random(void)
{
	static const char alphabet[] = "ab \t\r\n\r\n\r\n\xff";
	static char in[2048], want[8192];
	struct sink s;
	size_t len, wlen, i, step;
	int round, c;

	srandom(6376);
	for (round = 0; round < 20000; round++) {
		len = random() % 64;
		for (i = 0; i < len; i++)
			in[i] = alphabet[random() % (sizeof(alphabet) - 1)];
		for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
			wlen = ref_body(c, in, len, want);
			step = 1 + random() % 7;
			canon_body(c, in, len, round & 1 ? step : 0, &s);
			if (s.len != wlen || memcmp(s.buf, want, wlen) != 0) {
				CHECK(0);
				printf("#   round %d canon %d len %zu\n",
				    round, c, len);
				return;
			}
		}
	}
}

/*
 * Text-like bodies, long enough for the 16-byte fast path, with the odd
 * byte that spoils a stretch (runs of spaces, tabs, trailing space, bare
 * LF, lone CR, empty lines) placed anywhere, often a long tail of empty
 * lines, fed in chunks of any size.
 */
static void
test_body_text_random(void)
{
	static const char odd[] = "  \t\r\n \r\n\r\n\n\r";
	static char in[4096], want[16384];
	static struct sink s;
	size_t len, wlen, i, step, col;
	int round, c, rate;

	srandom(8463);
	for (round = 0; round < 4000; round++) {
		len = random() % sizeof(in);
		rate = 1 + random() % 400;	/* odd bytes per 10,000 */
		for (i = 0, col = 0; i < len; i++, col++) {
			if (random() % 10000 < rate)
				in[i] = odd[random() % (sizeof(odd) - 1)];
			else if (col >= 60 + (size_t)random() % 16 &&
			    i + 1 < len) {
				in[i++] = '\r';
				in[i] = '\n';
				col = 0;
			} else
				in[i] = random() % 6 == 0 ? ' ' :
				    'a' + random() % 26;
		}
		/* often a tail of empty lines, long enough to be scanned */
		if (round % 2 == 0)
			for (i = random() % 40; i > 0 && len + 2 <= sizeof(in);
			    i--, len += 2)
				memcpy(in + len, "\r\n", 2);
		for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
			wlen = ref_body(c, in, len, want);
			step = round % 3 == 0 ? 0 : 1 + random() % 700;
			canon_body(c, in, len, step, &s);
			if (s.len != wlen || memcmp(s.buf, want, wlen) != 0) {
				CHECK(0);
				printf("#   round %d canon %d len %zu\n",
				    round, c, len);
				return;
			}
		}
	}
}

/* Output arrives in buffer-sized pieces, not one call per run. */
static void
test_body_batched(void)
{
	static char in[20000];
	struct sink s;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (i % 10 == 9) ? ' ' : 'x';
	canon_body(DKIM_CANON_RELAXED, in, sizeof(in), 0, &s);
	CHECK_INT(s.len, sizeof(in) - 1 + 2);	/* last space dropped */
	CHECK(s.calls <= 3);
}

int
main(void)
{
	RUN(test_rfc_headers);
	RUN(test_rfc_body);
	RUN(test_header_edges);
	RUN(test_body_edges);
	RUN(test_body_random);
	RUN(test_body_text_random);
	RUN(test_body_batched);
	return unit_done();
}
