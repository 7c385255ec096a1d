/*
 * fuzz_smtp_data: the DATA/BDAT machine on any input.
 *
 * The first octet picks the mode and limits, the second where to cut the
 * input; the rest is the data.  Asserted (abort on failure):
 *   - the result is the same fed whole, cut in two, one octet at a time
 *     (short inputs) and through a tiny output buffer;
 *   - in DATA mode the data ends exactly after the first CRLF "." CRLF
 *     (or a "." CRLF at the start), and nowhere if there is none;
 *   - hdr and body hold only CRLF-terminated lines, no bare CR or LF, and
 *     size counts exactly what they hold.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	int		 rc;
	size_t		 used;
	struct dbuf	 hdr, body;
	struct smtp_err	 err;
	uint64_t	 size;
	int		 eightbit, hdr_done, sep;
};

/* Feed p[0..len) in pieces of at most step octets. */
static void
run_data(const uint8_t *p, size_t len, int mode,
    const struct smtp_data_limits *lim, size_t cut, size_t step,
    size_t outmax, struct run *r)
{
	struct smtp_data	d;
	struct dbuf		out;
	size_t			off = 0, n, used;
	int			rc = SMTP_DATA_MORE;

	memset(r, 0, sizeof(*r));
	dbuf_init(&r->hdr, 1 << 24);
	dbuf_init(&r->body, 1 << 24);
	dbuf_init(&out, outmax);
	smtp_data_init(&d, mode, lim);
	while (off < len && rc != SMTP_DATA_END) {
		n = len - off;
		if (off < cut && n > cut - off)
			n = cut - off;
		if (n > step)
			n = step;
		rc = smtp_data_feed(&d, p + off, n, &used, &out);
		if (used > n || (rc != SMTP_DATA_FULL && rc != SMTP_DATA_END &&
		    used != n))
			abort();
		off += used;
		if (dbuf_append(&r->body, out.data, out.len) == -1)
			abort();
		dbuf_reset(&out);
	}
	if (mode == DATA_BDAT) {
		while ((rc = smtp_data_bdat_last(&d, &out)) == SMTP_DATA_FULL) {
			if (out.len == 0 || dbuf_append(&r->body, out.data,
			    out.len) == -1)
				abort();
			dbuf_reset(&out);
		}
		if (dbuf_append(&r->body, out.data, out.len) == -1)
			abort();
	}
	r->rc = rc;
	r->used = off;
	if (dbuf_append(&r->hdr, d.hdr.data, d.hdr.len) == -1)
		abort();
	r->err = d.err;
	r->size = d.size;
	r->eightbit = d.eightbit;
	r->hdr_done = d.hdr_done;
	smtp_data_free(&d);
	dbuf_free(&out);
}

static void
run_free(struct run *r)
{
	dbuf_free(&r->hdr);
	dbuf_free(&r->body);
}

static int
buf_eq(const struct dbuf *a, const struct dbuf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->data, b->data, a->len) == 0);
}

static void
same(const struct run *a, const struct run *b)
{
	if (a->rc != b->rc || a->used != b->used || !buf_eq(&a->hdr, &b->hdr) ||
	    !buf_eq(&a->body, &b->body) || a->err.code != b->err.code ||
	    a->size != b->size || a->eightbit != b->eightbit ||
	    a->hdr_done != b->hdr_done)
		abort();
}

static void
canonical(const struct dbuf *b)
{
	size_t	i;

	if (b->len > 0 && (b->len < 2 || b->data[b->len - 1] != '\n'))
		abort();
	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\0')
			abort();
		if (b->data[i] == '\r' && (i + 1 == b->len ||
		    b->data[i + 1] != '\n'))
			abort();
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
	}
}

static size_t
ref_end(const uint8_t *p, size_t len)
{
	size_t	i;

	if (len >= 3 && memcmp(p, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_limits	 lim = { 0, 998, 0, 65536 };
	struct run		 a, b;
	const uint8_t		*p;
	size_t			 len, cut, e, blank;
	int			 mode;

	if (size < 2)
		return 0;
	mode = (data[0] & 1) ? DATA_BDAT : DATA_DOTTED;
	lim.bare_lf_reject = (data[0] >> 1) & 1;
	if (data[0] & 4)
		lim.max_line = 1 + data[0] % 16;
	if (data[0] & 8)
		lim.max_size = 1 + (uint64_t)data[1] * 4;
	if (data[0] & 16)
		lim.hdr_max = 1 + data[1] % 64;
	p = data + 2;
	len = size - 2;
	cut = len ? data[1] % (len + 1) : 0;

	run_data(p, len, mode, &lim, 0, len, 1 << 20, &a);

	/* where DATA ends */
	if (mode == DATA_DOTTED) {
		e = ref_end(p, len);
		if (e == 0 ? a.rc == SMTP_DATA_END :
		    (a.rc != SMTP_DATA_END || a.used != e))
			abort();
	} else if (a.rc != SMTP_DATA_END || a.used != len)
		abort();

	/* what came out */
	canonical(&a.hdr);
	canonical(&a.body);
	if (a.err.code == 0 && a.rc == SMTP_DATA_END) {
		/* size: hdr + body + the empty line, when there was one */
		blank = a.size - a.hdr.len - a.body.len;
		if (a.size < a.hdr.len + a.body.len || (blank != 0 &&
		    blank != 2) || (a.body.len > 0 && blank != 2))
			abort();
		if (lim.max_size != 0 && a.size > lim.max_size)
			abort();
		if (a.hdr.len > lim.hdr_max)
			abort();
	}
	if (a.err.code != 0 && (a.err.enhanced == NULL || a.err.text == NULL))
		abort();

	/* the same however it is cut */
	run_data(p, len, mode, &lim, cut, len, 1 << 20, &b);
	same(&a, &b);
	run_free(&b);
	if (len <= 2048) {
		run_data(p, len, mode, &lim, 0, 1, 1 << 20, &b);
		same(&a, &b);
		run_free(&b);
	}
	run_data(p, len, mode, &lim, cut, 7, SMTP_DATA_OUT_MIN, &b);
	same(&a, &b);
	run_free(&b);

	run_free(&a);
	return 0;
}
